"""What the host puts into DDR and takes out of it for one frame, derived from the plan.

Pure numpy over the plan's byte buffers (``input``, ``arena``, ``output``, ``params``), so the
C-simulation runner, the emulated board and the PYNQ board
share it. Number conversions reuse the integer reference's (``IntegerReference``), so the
host's arithmetic is the contract's by construction.

Per frame the board's ARM runs ``FrameIO.write_input`` and ``FrameIO.read_outputs``, so both
are written for it (``dse.arm`` models their cost from what they do): on a little-endian host a
packed tensor is, byte for byte, an int16 (or int8) array ``[fold][row][col][lane]`` (lane ``j``
of a word sits at bits ``[j*bits, (j+1)*bits)``, little-endian), so the input is quantised
straight into a view of the DMA buffer (two float64 passes: scale by ``2**frac`` and add 1/2,
floor, saturate, one cast into the view), and each YOLO tensor is read through int16 and uint16
views of its folds, dequantised by a per-channel power-of-two scale in float32 (exact for codes of
at most 16 bits). ``pack_fmap``/``unpack_fmap`` and ``IntegerReference`` remain the definition; the
tests hold the fast paths equal to them.
"""

from __future__ import annotations

import sys

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
                            call.regs["bands"], plan.config, winograd=call.regs["winograd"],
                            out_group=call.regs["out_group"])
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


_LANE_DTYPES = {8: (np.int8, np.uint8), 16: (np.int16, np.uint16)}
_BELOW_HALF = np.float32(0.5) - np.float32(2.0 ** -25)  # the one float32 v >= 0 whose fl(v + 1/2) misrounds


def fold_views(raw: np.ndarray, tensor: Tensor, plan: Plan, dtype) -> list[np.ndarray]:
    """(height, width, lanes) views of each fold of a packed tensor's bytes ``raw`` as ``dtype`` lanes
    (little-endian hosts only: lane j of a word is then element j of the word's bytes)."""
    cfg = plan.config
    views, start = [], 0
    per_lane = np.dtype(dtype).itemsize
    for lanes in cfg.fold_lanes(tensor.channels):
        n = lanes * tensor.height * tensor.width * per_lane
        views.append(raw[start:start + n].view(dtype).reshape(tensor.height, tensor.width, lanes))
        start += n
    return views


class FrameIO:
    """Input packing and output unpacking for one plan and quantised model."""

    def __init__(self, plan: Plan, model):
        check_model(plan, model)
        self.plan = plan
        self.model = model
        self.ref = IntegerReference(model)
        self._sigmoid = {y.index: yolo_sigmoid_channels(y) for y in model.network.yolos}
        bits = plan.config.bits
        # The fast paths need lanes that are whole bytes of a little-endian word.
        self.fast = sys.byteorder == "little" and bits in _LANE_DTYPES
        fin = model.input_format
        self._in_scale = float(2.0 ** fin.frac)
        self._in_range = (float(fin.min_code), float(fin.max_code))
        self._in_ok = fin.overflow == "sat" and fin.rounding == "rnd" and fin.width == bits
        self._scratch: np.ndarray | None = None
        self._out_scales = {}
        for y in model.network.yolos:
            raw, sig = model.formats[y.index], model.sigmoid.out
            scale = np.where(self._sigmoid[y.index], 2.0 ** -sig.frac, 2.0 ** -raw.frac).astype(np.float32)
            self._out_scales[y.index] = scale
        self._raw_channels = {i: np.nonzero(~m)[0] for i, m in self._sigmoid.items()}
        self._raw_threshold = {i: (self._out_scales[i][c] * 2.0 ** (bits - 1)).astype(np.float32)[:, None, None]
                               for i, c in self._raw_channels.items()}
        self._raw_offset = {i: (self._out_scales[i][c] * 2.0 ** bits).astype(np.float32)[:, None, None]
                            for i, c in self._raw_channels.items()}

    def write_input(self, buffers: dict[str, np.ndarray], x: np.ndarray) -> None:
        """Letterboxed float32 (3, H, W) -> input codes packed into the input buffer."""
        tensor = self.plan.tensors[INPUT]
        x = np.asarray(x)
        if not (self.fast and self._in_ok) or x.dtype != np.float32 or x.shape != self.model.network.input_shape.as_tuple():
            write_tensor(buffers, tensor, self.ref.quantize_input(x), self.plan)
            return
        low = np.min(x)
        if np.isnan(low) or low < 0:  # NaN: the contract's error; negative pixels: the general path
            write_tensor(buffers, tensor, self.ref.quantize_input(x), self.plan)
            return
        # quantize(): floor(x * 2**frac + 1/2), saturated. For x >= 0 in float32: x * 2**frac is exact,
        # and fl(v + 1/2) truncated equals floor(v + 1/2) for every float32 v >= 0 except
        # v = 1/2 - 2**-25, whose sum rounds up to 1 (the fix-up below); min() with the maximum code
        # saturates before the truncating cast.
        hwc = x.transpose(1, 2, 0)
        if self._scratch is None or self._scratch.shape != hwc.shape:
            self._scratch = np.empty(hwc.shape, dtype=np.float32)
        v = self._scratch
        np.multiply(hwc, np.float32(self._in_scale), out=v)
        if low < 2.0 ** -self.model.input_format.frac:  # only then can v hold 1/2 - 2**-25
            v[v == _BELOW_HALF] = 0.0
        v += np.float32(0.5)
        np.minimum(v, np.float32(self._in_range[1]), out=v)
        raw = buffers[tensor.buffer][tensor.offset:tensor.offset + tensor.nbytes]
        signed = _LANE_DTYPES[self.plan.config.bits][0]
        start = 0
        for view in fold_views(raw, tensor, self.plan, signed):
            lanes = view.shape[2]
            real = max(0, min(lanes, tensor.channels - start))
            view[:, :, :real] = v[:, :, start:start + real]  # the cast truncates: floor for v >= 0
            view[:, :, real:] = 0
            start += lanes

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
        if not self.fast:
            return [self.ref.dequantize_yolo(layer, codes)
                    for layer, codes in zip(layers, self.output_codes(buffers))]
        bits = self.plan.config.bits
        unsigned_t = _LANE_DTYPES[bits][1]
        outs = []
        for layer, index in zip(layers, self.plan.outputs):
            tensor = self.plan.tensors[index]
            raw = buffers[tensor.buffer][tensor.offset:tensor.offset + tensor.nbytes]
            scale = self._out_scales[index]
            out = np.empty((tensor.channels, tensor.height, tensor.width), dtype=np.float32)
            h, w, p_oc = tensor.height, tensor.width, self.plan.config.p_oc
            full = tensor.channels // p_oc  # folds of p_oc lanes, all real channels
            # Every code as unsigned, times its channel's power-of-two scale, written transposed into
            # (C, H, W): one pass for the whole folds, one for the last.
            if full:
                codes = raw[:full * p_oc * h * w * bits // 8].view(unsigned_t).reshape(full, h, w, p_oc)
                np.multiply(codes, scale[:full * p_oc].reshape(full, 1, 1, p_oc),
                            out=out[:full * p_oc].reshape(full, p_oc, h, w).transpose(0, 2, 3, 1))
            rest = tensor.channels - full * p_oc
            if rest:
                last = raw[full * p_oc * h * w * bits // 8:].view(unsigned_t).reshape(h, w, -1)[:, :, :rest]
                np.multiply(last, scale[full * p_oc:], out=out[full * p_oc:].transpose(1, 2, 0))
            # tw, th are signed: codes at or above 2**(bits-1) stand for code - 2**bits (exact in float32).
            raw_channels = self._raw_channels[index]
            sub = out[raw_channels]
            sub -= (sub >= self._raw_threshold[index]) * self._raw_offset[index]
            out[raw_channels] = sub
            outs.append(out)
        return outs
