"""Integer-only reference of the whole network: the definition of what the hardware computes.

Every operation is the contract of ``fixed`` applied to integer codes; the HLS kernels are
tested against ``IntegerReference.run`` layer by layer, bit for bit.

- Conv: im2col of the input codes, one float64 GEMM with the integer weight codes. float64 is
  exact here because every partial sum, in any summation order, is bounded by
  ``K * max|a| * max|w| < 2**53`` (``quantize.float64_exact``, checked per layer from the
  formats when the reference is built; a layer that fails the check runs an exact int64 GEMM
  instead, slowly). Then, in int64: bias alignment, fixed-point leaky, one round-half-up
  shift, saturation (``fixed.requantize``).
- Max-pool (darknet padding), upsample, route (with ``fixed.align``, the identity for models
  from ``quantize.calibrate``), YOLO with ``SigmoidLut`` on tx, ty, objectness and classes and
  the raw codes for tw, th.
- Codes are stored as int32 (every format is at most 16 bits wide; YOLO sigmoid outputs are
  unsigned 16-bit).

``IntegerReference`` is also a detection backend: ``forward(x)`` quantises the float input,
runs the integers and dequantises the YOLO outputs into darknet's float convention.
"""

from __future__ import annotations

import numpy as np

from zynqyolo.errors import ZynqyoloError

from .fixed import FixedFormat, align, align_bias, dequantize, quantize, requantize
from .float_ref import LayerWalker, im2col, last_uses, yolo_sigmoid_channels
from .ir import Conv, Route, Yolo
from .quantize import QuantizedModel, check_model, float64_exact


class IntegerReference(LayerWalker):
    """Bit-exact integer forward pass of a ``QuantizedModel``: ``run(codes)`` on input codes (see
    ``LayerWalker.run``), ``forward(x)`` on a letterboxed float image."""

    name = "ref"

    def __init__(self, model: QuantizedModel):
        check_model(model)
        self.model = model
        self.network = model.network
        self._convs = {}
        for conv in self.network.convs:
            q = model.convs[conv.index]
            w = np.asarray(model.weights[conv.index], dtype=np.int64).reshape(conv.filters, -1)
            exact = float64_exact(model, conv)
            acc_fracs = q.acc_fracs[:, None]
            bias = align_bias(np.asarray(model.biases[conv.index], dtype=np.int64), q.bias.frac, q.acc_fracs)[:, None]
            gemm_w = np.ascontiguousarray(w, dtype=np.float64) if exact else w
            self._convs[conv.index] = (gemm_w, exact, bias, acc_fracs, q.output)
        self._yolo_masks = {y.index: yolo_sigmoid_channels(y) for y in self.network.yolos}
        self._table = np.asarray(model.sigmoid_table, dtype=np.int64)
        self._free_after = last_uses(self.network, {y.index for y in self.network.yolos})

    # -- layers ---------------------------------------------------------------------------------

    def conv(self, layer: Conv, x: np.ndarray) -> np.ndarray:
        """One conv layer on input codes (C, H, W) -> output codes (F, OH, OW), int32."""
        w, exact, bias, acc_fracs, out_fmt = self._convs[layer.index]
        if exact:
            cols = im2col(x, layer.size, layer.stride, layer.padding, np.float64)
            acc = (w @ cols).astype(np.int64)
        else:
            cols = im2col(x, layer.size, layer.stride, layer.padding, np.int64)
            acc = w @ cols
        y = requantize(acc + bias, acc_fracs, out_fmt, leaky=layer.activation == "leaky")
        return y.astype(np.int32).reshape(layer.out_shape.as_tuple())

    def yolo(self, layer: Yolo, x: np.ndarray) -> np.ndarray:
        """YOLO layer on the head conv's codes: sigmoid table on the masked channels, raw elsewhere."""
        mask = self._yolo_masks[layer.index]
        x_fmt = self.model.format_of(layer.inputs[0])
        y = x.astype(np.int32, copy=True)
        y[mask] = self.model.sigmoid.apply(x[mask], x_fmt.frac, self._table).astype(np.int32)
        return y

    # -- whole network --------------------------------------------------------------------------

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        net = self.network
        x = np.asarray(x)
        if x.shape != net.input_shape.as_tuple():
            raise ZynqyoloError(f"input must be (3, {net.height}, {net.width}) float32 in [0, 1], got {x.shape}; "
                                "letterbox the image to the network size first")
        return quantize(x, self.model.input_format).astype(np.int32)

    def check_input(self, codes: np.ndarray) -> np.ndarray:
        net, model = self.network, self.model
        codes = np.asarray(codes)
        if codes.shape != net.input_shape.as_tuple() or codes.dtype.kind not in "iu":
            raise ZynqyoloError(f"integer input must be int codes of shape {net.input_shape.as_tuple()}, "
                                f"got {codes.dtype} {codes.shape}")
        fin = model.input_format
        if codes.size and (codes.min() < fin.min_code or codes.max() > fin.max_code):
            raise ZynqyoloError(f"input codes outside the input format {fin}")
        return codes.astype(np.int32, copy=False)

    def route(self, layer: Route, srcs: list[np.ndarray]) -> np.ndarray:
        """Concatenation with format alignment (the identity: the quantiser gives joined tensors one format)."""
        model = self.model
        dst = model.formats[layer.index]
        srcs = [s if model.format_of(i) == dst else align(s, model.format_of(i), dst).astype(np.int32)
                for i, s in zip(layer.inputs, srcs)]
        return super().route(layer, srcs)

    def dequantize_yolo(self, layer: Yolo, codes: np.ndarray) -> np.ndarray:
        """YOLO output codes -> float32 in darknet's convention (sigmoid values, raw tw/th)."""
        mask = self._yolo_masks[layer.index]
        raw = dequantize(codes, self.model.formats[layer.index])
        sig = dequantize(codes, self.model.sigmoid.out)
        return np.where(mask[:, None, None], sig, raw).astype(np.float32)

    def dequantize_layer(self, index: int, codes: np.ndarray) -> np.ndarray:
        """Any layer's codes -> float64 values (YOLO layers in darknet's convention)."""
        layer = self.network.layers[index]
        if isinstance(layer, Yolo):
            return self.dequantize_yolo(layer, codes).astype(np.float64)
        return dequantize(codes, self.model.formats[index])

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """float32 (3, H, W) in [0, 1] -> dequantised YOLO outputs (C, h, w), darknet semantics."""
        outs, _ = self.run(self.quantize_input(x))
        return [self.dequantize_yolo(layer, o) for layer, o in zip(self.network.yolos, outs)]

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's integer codes for a float input, indexed like ``network.layers``."""
        return self.run(self.quantize_input(x), keep_all=True)[1]

    def format_of(self, index: int) -> FixedFormat:
        return self.model.format_of(index)
