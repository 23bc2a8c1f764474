"""The network in numpy float32 alone: darknet semantics, no torch.

It is the float truth the quantiser calibrates on (every layer's activation on request), the
float side of the per-layer SQNR and of the fidelity metric, and the ARM-only baseline on the
board (numpy is all a PYNQ image needs). Generic over the IR: it walks ``network.layers``.

Darknet order is kept: convolution with the raw weights (im2col + one float32 GEMM, zero
padding), then batch-norm ``(x - mean) / sqrtf(var + 1e-6) * scale + bias`` in float32, or
``+ bias`` without batch-norm, then leaky ``x > 0 ? x : 0.1f * x`` or linear. Max-pool pads
with -FLT_MAX (darknet's value) right/bottom; upsample is nearest; route concatenates; the
YOLO layer applies the logistic to tx, ty, objectness and classes and leaves tw, th raw.
"""

from __future__ import annotations

import time

import numpy as np

from zynqyolo.errors import ZynqyoloError

from .fixed import maxpool, upsample
from .ir import INPUT, Conv, MaxPool, Network, Route, Upsample, Yolo
from .weights import BN_EPSILON, Weights


def im2col(x: np.ndarray, size: int, stride: int, padding: int, dtype=None) -> np.ndarray:
    """(C, H, W) -> (C*size*size, OH*OW) columns in (c, ky, kx) order, zero padded, so that
    ``weights.reshape(F, -1) @ cols`` is the convolution. 1x1/stride-1 is a free reshape."""
    c, h, w = x.shape
    dtype = dtype or x.dtype
    if size == 1 and stride == 1 and padding == 0:
        return x.reshape(c, h * w).astype(dtype, copy=False)
    if padding:
        xp = np.zeros((c, h + 2 * padding, w + 2 * padding), dtype=dtype)
        xp[:, padding:padding + h, padding:padding + w] = x
    else:
        xp = x.astype(dtype, copy=False)
    oh = (h + 2 * padding - size) // stride + 1
    ow = (w + 2 * padding - size) // stride + 1
    cols = np.empty((c, size, size, oh, ow), dtype=dtype)
    for ky in range(size):
        for kx in range(size):
            cols[:, ky, kx] = xp[:, ky:ky + (oh - 1) * stride + 1:stride, kx:kx + (ow - 1) * stride + 1:stride]
    return cols.reshape(c * size * size, oh * ow)


def yolo_sigmoid_channels(layer: Yolo) -> np.ndarray:
    """Boolean mask over a YOLO layer's channels: True where darknet applies the logistic
    (everything except tw, th = entries 2 and 3 of each anchor's ``5 + classes`` block)."""
    per = 5 + layer.classes
    mask = np.ones(layer.n_anchors * per, dtype=bool)
    for a in range(layer.n_anchors):
        mask[a * per + 2: a * per + 4] = False
    return mask


def last_uses(network: Network, keep: set[int]) -> dict[int, tuple[int, ...]]:
    """Layer index -> outputs no longer needed after it runs (so forward passes can free them)."""
    last: dict[int, int] = {}
    for layer in network.layers:
        for i in layer.inputs:
            if i != INPUT and i not in keep:
                last[i] = layer.index
    return {k: tuple(i for i, at in last.items() if at == k) for k in range(len(network.layers))}


def check_weights(network: Network, weights: Weights) -> None:
    """One parameter set of the right shape per conv layer, else a ZynqyoloError."""
    if set(weights.convs) != {c.index for c in network.convs}:
        raise ZynqyoloError(f"weights hold conv layers {sorted(weights.convs)}, the network has "
                            f"{[c.index for c in network.convs]}; they were loaded for another network")
    for conv in network.convs:
        expected = (conv.filters, conv.in_shape.c, conv.size, conv.size)
        if tuple(weights.convs[conv.index].weights.shape) != expected:
            raise ZynqyoloError(f"layer {conv.index}: weights of shape {weights.convs[conv.index].weights.shape}, "
                                f"the network needs {expected}")


class LayerWalker:
    """Runs a network layer by layer; subclasses say how a conv, a YOLO layer and a route compute.

    ``run(x, keep_all)`` returns (YOLO outputs in IR order, every layer's output indexed like
    ``network.layers``; only what was still needed unless ``keep_all``). After each run,
    ``layer_seconds[i]`` holds the wall time of layer ``i``. Max-pool and upsample are the
    contract's (``fixed.maxpool``, ``fixed.upsample``) for floats and integer codes alike.
    """

    network: Network
    _free_after: dict[int, tuple[int, ...]]

    def check_input(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def conv(self, layer: Conv, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def yolo(self, layer: Yolo, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def route(self, layer: Route, srcs: list[np.ndarray]) -> np.ndarray:
        return srcs[0] if len(srcs) == 1 else np.concatenate(srcs, axis=0)

    def run(self, x: np.ndarray, keep_all: bool = False) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        net = self.network
        x = self.check_input(x)
        outs: list[np.ndarray | None] = [None] * len(net.layers)
        value = lambda i: x if i == INPUT else outs[i]  # noqa: E731
        self.layer_seconds = [0.0] * len(net.layers)
        for layer in net.layers:
            start = time.perf_counter()
            if isinstance(layer, Conv):
                y = self.conv(layer, value(layer.inputs[0]))
            elif isinstance(layer, MaxPool):
                y = maxpool(value(layer.inputs[0]), layer.size, layer.stride, layer.offset,
                            (layer.out_shape.h, layer.out_shape.w))
            elif isinstance(layer, Upsample):
                y = upsample(value(layer.inputs[0]), layer.stride)
            elif isinstance(layer, Route):
                y = self.route(layer, [value(i) for i in layer.inputs])
            elif isinstance(layer, Yolo):
                y = self.yolo(layer, value(layer.inputs[0]))
            else:  # pragma: no cover - the IR has no other kinds
                raise ZynqyoloError(f"layer {layer.index}: unsupported kind {layer.kind}")
            outs[layer.index] = y
            self.layer_seconds[layer.index] = time.perf_counter() - start
            if not keep_all:
                for i in self._free_after[layer.index]:
                    outs[i] = None
        return [outs[y.index] for y in net.yolos], outs


class FloatReference(LayerWalker):
    """numpy float32 forward pass of ``network``; a detection backend (``.network``, ``.forward``).

    It is also the ARM-only baseline (``--backend cpu``): numpy alone, no torch."""

    name = "cpu"

    def __init__(self, network: Network, weights: Weights):
        check_weights(network, weights)
        self.network = network
        self._convs = {}
        for conv in network.convs:
            p = weights.convs[conv.index]
            w = np.ascontiguousarray(p.weights.reshape(conv.filters, -1), dtype=np.float32)
            if p.scales is not None:
                std = np.sqrt(p.variance.astype(np.float32) + np.float32(BN_EPSILON))  # darknet sqrtf
                bn = (p.mean.astype(np.float32), std, p.scales.astype(np.float32))
            else:
                bn = None
            self._convs[conv.index] = (w, bn, p.biases.astype(np.float32))
        self._yolo_masks = {y.index: yolo_sigmoid_channels(y) for y in network.yolos}
        self._free_after = last_uses(network, {y.index for y in network.yolos})

    def conv(self, layer: Conv, x: np.ndarray) -> np.ndarray:
        w, bn, bias = self._convs[layer.index]
        cols = im2col(x, layer.size, layer.stride, layer.padding, np.float32)
        y = (w @ cols).reshape(layer.out_shape.as_tuple())
        if bn is not None:
            mean, std, scale = bn
            y = (y - mean[:, None, None]) / std[:, None, None]
            y *= scale[:, None, None]
        y += bias[:, None, None]
        if layer.activation == "leaky":
            y = np.where(y > 0, y, np.float32(0.1) * y)
        return y

    def yolo(self, layer: Yolo, x: np.ndarray) -> np.ndarray:
        mask = self._yolo_masks[layer.index]
        y = x.copy()
        y[mask] = np.float32(1) / (np.float32(1) + np.exp(-x[mask]))
        return y

    def check_input(self, x: np.ndarray) -> np.ndarray:
        net = self.network
        x = np.asarray(x)
        if x.shape != net.input_shape.as_tuple():
            raise ZynqyoloError(f"input must be (3, {net.height}, {net.width}) float32 in [0, 1], got {x.shape}; "
                                "letterbox the image to the network size first")
        return x.astype(np.float32, copy=False)

    def run(self, x: np.ndarray, keep_all: bool = False) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        with np.errstate(over="ignore"):  # exp overflow of very negative logits gives sigmoid 0, as in C
            return super().run(x, keep_all)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """float32 (3, H, W) in [0, 1] -> YOLO outputs (C, h, w), darknet semantics."""
        return self.run(x)[0]

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's float32 output, indexed like ``network.layers``."""
        return self.run(x, keep_all=True)[1]
