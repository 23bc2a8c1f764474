"""What the host puts into DDR and takes out of it for one frame, derived from the plan.

Pure numpy over the plan's byte buffers (``input``, ``arena``, ``output``, ``params``), so the
C-simulation runner, the emulated board and the PYNQ board
share it. Number conversions reuse the integer reference's (``IntegerReference``), so the
host's arithmetic is the contract's by construction.
"""

from __future__ import annotations

import numpy as np

from zynqyolo.dse.packing import pack_fmap, pack_params, unpack_fmap
from zynqyolo.dse.plan import Plan, Tensor
from zynqyolo.model.fixed import align_bias
from zynqyolo.model.float_ref import yolo_sigmoid_channels
from zynqyolo.model.intref import IntegerReference
from zynqyolo.model.ir import INPUT


def check_model(plan: Plan, model) -> None:
    if model.content_hash != plan.model_hash:
        raise ValueError("this plan was made for another quantised model (content hashes differ)")


def build_params(plan: Plan, model) -> np.ndarray:
    """The parameter buffer: every conv call's stream at its planned offset. Built once per model."""
    check_model(plan, model)
    buf = np.zeros(plan.buffer_nbytes["params"], dtype=np.uint8)
    for call in plan.calls:
        conv_index = call.conv_layer
        if conv_index is None:
            continue
        q = model.convs[conv_index]
        acc_fracs = q.acc_fracs
        entries = align_bias(np.asarray(model.biases[conv_index], dtype=np.int64), q.bias.frac, acc_fracs)
        shifts = acc_fracs - q.output.frac
        segments = tuple(plan.tensors[s].channels for s in call.input_tensors)
        words = pack_params(np.asarray(model.weights[conv_index]), entries, shifts, segments,
                            call.regs["bands"], plan.config)
        offset, nbytes = plan.param_offsets[conv_index]
        raw = words.view(np.uint8)
        if raw.size != nbytes:
            raise AssertionError(f"layer {conv_index}: packed {raw.size} parameter bytes, the plan expects {nbytes}")
        buf[offset:offset + nbytes] = raw
    return buf


def write_tensor(buffers: dict[str, np.ndarray], tensor: Tensor, codes: np.ndarray, plan: Plan) -> None:
    words = pack_fmap(codes, plan.config)
    raw = words.view(np.uint8)
    if raw.size != tensor.nbytes:
        raise AssertionError(f"tensor of layer {tensor.layer}: packed {raw.size} bytes, planned {tensor.nbytes}")
    buffers[tensor.buffer][tensor.offset:tensor.offset + tensor.nbytes] = raw


def read_tensor(buffers: dict[str, np.ndarray], tensor: Tensor, plan: Plan, signed: bool = True) -> np.ndarray:
    raw = buffers[tensor.buffer][tensor.offset:tensor.offset + tensor.nbytes]
    words = np.frombuffer(raw.tobytes(), dtype=np.uint64)
    return unpack_fmap(words, tensor.channels, tensor.height, tensor.width, plan.config, signed=signed)


class FrameIO:
    """Input packing and output unpacking for one plan and quantised model."""

    def __init__(self, plan: Plan, model):
        check_model(plan, model)
        self.plan = plan
        self.model = model
        self.ref = IntegerReference(model)
        self._sigmoid = {y.index: yolo_sigmoid_channels(y) for y in model.network.yolos}

    def write_input(self, buffers: dict[str, np.ndarray], x: np.ndarray) -> None:
        """Letterboxed float32 (3, H, W) -> input codes packed into the input buffer."""
        write_tensor(buffers, self.plan.tensors[INPUT], self.ref.quantize_input(x), self.plan)

    def output_codes(self, buffers: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The YOLO tensors' codes as the integer reference represents them (sigmoid lanes unsigned)."""
        bits = self.plan.config.bits
        outs = []
        for index in self.plan.outputs:
            codes = read_tensor(buffers, self.plan.tensors[index], self.plan, signed=False)
            raw = ~self._sigmoid[index]
            signed = np.where(codes >= 1 << (bits - 1), codes - (1 << bits), codes)
            outs.append(np.where(raw[:, None, None], signed, codes).astype(np.int32))
        return outs

    def read_outputs(self, buffers: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Dequantised YOLO outputs, darknet's convention, ready for ``postprocess.decode``."""
        layers = self.model.network.yolos
        return [self.ref.dequantize_yolo(layer, codes) for layer, codes in zip(layers, self.output_codes(buffers))]
