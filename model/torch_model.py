"""Float32 PyTorch model built from the network IR, computing exactly what darknet computes.

The module walks ``network.layers`` in order; nothing about YOLOv3-tiny is written here, so
any network the cfg parser accepts (conv / maxpool / route / upsample / yolo) is supported.

Darknet semantics reproduced:

- convolution with the IR's zero padding; batch-norm as ``scale * (x - mean) / sqrt(var + 1e-6)
  + bias`` (a ``BatchNorm2d`` in eval mode, or the folded weights with ``fold_bn=True``);
  activations ``leaky`` (slope 0.1) and ``linear``;
- max-pool with darknet's padding: the window starts at ``MaxPool.offset`` and cells outside
  the input never win the max (darknet reads them as ``-FLT_MAX``);
- nearest upsample by an integer stride; route = channel concatenation;
- yolo: sigmoid on tx, ty, objectness and the class scores of every anchor, tw/th left raw
  (the host decoder applies ``exp`` and the anchors).

This is the only module of the package that imports torch (``onnx_backend`` imports it
lazily, for export only); ``zynqyolo`` and ``zynqyolo.model`` import without it.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zynqyolo.errors import ZynqyoloError

from .ir import INPUT, Conv, MaxPool, Network, Route, Upsample, Yolo
from .weights import BN_EPSILON, Weights

# darknet pads max-pool windows with -FLT_MAX, not -inf
_POOL_PAD_VALUE = float(np.finfo(np.float32).min)


def yolo_sigmoid_mask(layer: Yolo) -> np.ndarray:
    """Boolean mask over the yolo layer's channels: True where darknet applies the logistic.

    Per anchor ``a`` the channels are ``a*(5+classes) + [tx, ty, tw, th, obj, cls...]``;
    everything but tw and th (entries 2 and 3) goes through the sigmoid.
    """
    per_anchor = 5 + layer.classes
    mask = np.ones(layer.n_anchors * per_anchor, dtype=bool)
    for a in range(layer.n_anchors):
        mask[a * per_anchor + 2] = False
        mask[a * per_anchor + 3] = False
    return mask


class _ConvBlock(nn.Module):
    """Conv, optional darknet batch-norm, activation."""

    def __init__(self, layer: Conv, params, fold_bn: bool):
        super().__init__()
        self.leaky = layer.activation == "leaky"
        bn = layer.batch_normalize and not fold_bn
        self.conv = nn.Conv2d(layer.in_shape.c, layer.filters, layer.size, layer.stride, layer.padding,
                              bias=not bn)
        with torch.no_grad():
            if bn:
                self.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(params.weights, np.float32)))
                self.bn = nn.BatchNorm2d(layer.filters, eps=BN_EPSILON)
                self.bn.weight.copy_(torch.from_numpy(params.scales))
                self.bn.bias.copy_(torch.from_numpy(params.biases))
                self.bn.running_mean.copy_(torch.from_numpy(params.mean))
                self.bn.running_var.copy_(torch.from_numpy(params.variance))
            else:
                w, b = params.folded()  # identity when the layer has no batch-norm
                self.conv.weight.copy_(torch.from_numpy(w.astype(np.float32)))
                self.conv.bias.copy_(torch.from_numpy(b.astype(np.float32)))
                self.bn = None

    def forward(self, x):
        y = self.conv(x)
        if self.bn is not None:
            y = self.bn(y)
        return F.leaky_relu(y, 0.1) if self.leaky else y


class _MaxPool(nn.Module):
    """Darknet max-pool: output cell i takes the max over input cells ``i*stride + offset + [0, size)``;
    cells outside the input never win (darknet uses -FLT_MAX for them).

    With darknet's default padding (size - 1, offset 0) the extra cells are on the right and
    bottom only. When possible this is computed as a symmetric-padding ``max_pool2d`` followed by
    a crop (one MaxPool + Slice in ONNX); otherwise the input is padded explicitly first.
    """

    def __init__(self, layer: MaxPool):
        super().__init__()
        self.size, self.stride = layer.size, layer.stride
        self.out_hw = (layer.out_shape.h, layer.out_shape.w)
        before_h, after_h = self._pads(layer, layer.in_shape.h, layer.out_shape.h)
        before_w, after_w = self._pads(layer, layer.in_shape.w, layer.out_shape.w)
        self.pads = (before_w, after_w, before_h, after_h)  # F.pad order: left, right, top, bottom
        self.symmetric = None  # (pad_h, pad_w, skip_h, skip_w) for the max_pool2d + crop form
        self.crop = True
        sym_h = self._symmetric(layer, layer.in_shape.h, layer.out_shape.h, before_h, after_h)
        sym_w = self._symmetric(layer, layer.in_shape.w, layer.out_shape.w, before_w, after_w)
        if sym_h is not None and sym_w is not None:
            self.symmetric = (sym_h[0], sym_w[0], sym_h[1], sym_w[1])
            self.crop = not (sym_h[2] and sym_w[2])

    @staticmethod
    def _pads(layer: MaxPool, n_in: int, n_out: int) -> tuple[int, int]:
        before = -layer.offset
        if before < 0:  # only reachable with a negative cfg padding
            raise ZynqyoloError(f"layer {layer.index}: max-pool padding {layer.padding} would shift the window "
                                "into the input; only padding >= 0 is supported")
        # input cells the last window reaches past the end (negative: trailing cells unused)
        after = max(0, (n_out - 1) * layer.stride - before + layer.size - n_in)
        return before, after

    @staticmethod
    def _symmetric(layer: MaxPool, n_in: int, n_out: int, before: int, after: int):
        """(pad, skip, exact) if max_pool2d with ``pad`` on both sides, skipping ``skip`` outputs,
        gives darknet's windows (``exact``: nothing to crop), else None."""
        pad = max(before, after)
        if pad > layer.size // 2 or (pad - before) % layer.stride:
            return None
        skip = (pad - before) // layer.stride
        produced = (n_in + 2 * pad - layer.size) // layer.stride + 1
        if skip + n_out > produced:
            return None
        return pad, skip, skip == 0 and produced == n_out

    def forward(self, x):
        out_h, out_w = self.out_hw
        if self.symmetric is not None:
            pad_h, pad_w, skip_h, skip_w = self.symmetric
            y = F.max_pool2d(x, self.size, self.stride, padding=(pad_h, pad_w))
            return y[:, :, skip_h:skip_h + out_h, skip_w:skip_w + out_w] if self.crop else y
        x = F.pad(x, self.pads, mode="constant", value=_POOL_PAD_VALUE)
        return F.max_pool2d(x, self.size, self.stride)[:, :, :out_h, :out_w]


class _Upsample(nn.Module):
    """Nearest-neighbour upsample by an integer stride: out[y*s + i, x*s + j] = in[y, x]."""

    def __init__(self, layer: Upsample):
        super().__init__()
        self.stride = layer.stride

    def forward(self, x):
        # integer factor, nearest: exact (a single Resize in ONNX)
        return F.interpolate(x, scale_factor=float(self.stride), mode="nearest")


class _Yolo(nn.Module):
    """Sigmoid on tx, ty, objectness and class scores; tw, th pass through raw."""

    def __init__(self, layer: Yolo):
        super().__init__()
        mask = torch.from_numpy(yolo_sigmoid_mask(layer)).view(1, -1, 1, 1)
        self.register_buffer("sigmoid_mask", mask, persistent=False)

    def forward(self, x):
        return torch.where(self.sigmoid_mask, torch.sigmoid(x), x)


class DarknetModel(nn.Module):
    """The whole network as a torch module; see :func:`build_torch_model`."""

    def __init__(self, network: Network, weights: Weights, fold_bn: bool = False):
        super().__init__()
        self.network = network
        _check_weights(network, weights)
        blocks = []
        for layer in network.layers:
            if isinstance(layer, Conv):
                blocks.append(_ConvBlock(layer, weights.convs[layer.index], fold_bn))
            elif isinstance(layer, MaxPool):
                blocks.append(_MaxPool(layer))
            elif isinstance(layer, Upsample):
                blocks.append(_Upsample(layer))
            elif isinstance(layer, Yolo):
                blocks.append(_Yolo(layer))
            elif isinstance(layer, Route):
                blocks.append(nn.Identity())  # concatenation is done in forward()
            else:  # pragma: no cover - the IR has no other layer kinds
                raise ZynqyoloError(f"layer {layer.index}: unsupported layer kind {layer.kind!r}")
        self.blocks = nn.ModuleList(blocks)
        self.yolo_indices = tuple(y.index for y in network.yolos)
        self.head_indices = tuple(y.inputs[0] for y in network.yolos)
        # Layer after which each output is no longer read, so forward() can drop it early.
        keep = set(self.yolo_indices) | set(self.head_indices)
        last_use: dict[int, int] = {}
        for layer in network.layers:
            for i in layer.inputs:
                if i != INPUT and i not in keep:
                    last_use[i] = layer.index
        self._free_after = {k: tuple(i for i, last in last_use.items() if last == k) for k in range(len(blocks))}
        self.eval()

    def _check_input(self, x) -> None:
        net = self.network
        expected = (net.channels, net.height, net.width)
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ZynqyoloError(
                f"model input must be a float32 tensor (N, {expected[0]}, {expected[1]}, {expected[2]}), got {got}; "
                "for another input size rebuild the network with load_cfg(path, width=..., height=...)")
        if x.dtype != torch.float32:
            raise ZynqyoloError(f"model input must be float32, got {x.dtype}")

    def forward(self, x, raw: bool = False, return_all: bool = False):
        """Run the network on ``x`` float32 (N, C, H, W) in [0, 1].

        Returns the yolo-layer outputs (one (N, C, h, w) tensor per yolo layer, in IR order);
        with ``raw=True`` the raw conv outputs that feed each yolo layer instead; with
        ``return_all=True`` every layer's output, a list indexed like ``network.layers``.
        """
        if not torch.jit.is_tracing():
            self._check_input(x)
        outs: list = [None] * len(self.blocks)

        def value(i: int):
            return x if i == INPUT else outs[i]

        for layer, block in zip(self.network.layers, self.blocks):
            if isinstance(layer, Route):
                srcs = [value(i) for i in layer.inputs]
                y = srcs[0] if len(srcs) == 1 else torch.cat(srcs, dim=1)
            else:
                y = block(value(layer.inputs[0]))
            outs[layer.index] = y
            if not return_all:
                for i in self._free_after[layer.index]:
                    outs[i] = None
        if return_all:
            return outs
        picks = self.head_indices if raw else self.yolo_indices
        return [outs[i] for i in picks]

    def heads(self, x):
        """The raw conv outputs feeding each yolo layer (before the sigmoid), in IR order."""
        return self.forward(x, raw=True)

    def predict(self, x: np.ndarray, raw: bool = False) -> list[np.ndarray]:
        """NumPy in, NumPy out, without autograd: ``x`` float32 (N, C, H, W) in [0, 1]."""
        if not isinstance(x, np.ndarray):
            raise ZynqyoloError(f"predict() takes a numpy array, got {type(x).__name__}")
        with torch.inference_mode():
            return [t.numpy() for t in self.forward(torch.from_numpy(np.ascontiguousarray(x)), raw=raw)]


def _check_weights(network: Network, weights: Weights) -> None:
    """The weights must hold exactly one parameter set per conv layer, with matching shapes."""
    conv_indices = {c.index for c in network.convs}
    if set(weights.convs) != conv_indices:
        raise ZynqyoloError(
            f"weights hold conv layers {sorted(weights.convs)}, the network has {sorted(conv_indices)}; "
            "they were loaded for another network")
    for conv in network.convs:
        p = weights.convs[conv.index]
        expected = (conv.filters, conv.in_shape.c, conv.size, conv.size)
        if tuple(p.weights.shape) != expected or p.biases.shape != (conv.filters,):
            raise ZynqyoloError(f"layer {conv.index}: weights of shape {tuple(p.weights.shape)}, "
                                f"the network needs {expected}; they were loaded for another network")
        if conv.batch_normalize and p.scales is None:
            raise ZynqyoloError(f"layer {conv.index}: the network batch-normalises but the weights hold no "
                                "batch-norm parameters")


def build_torch_model(network: Network, weights: Weights, fold_bn: bool = False) -> DarknetModel:
    """Build the float32 torch model of ``network`` with darknet ``weights``, in eval mode.

    ``fold_bn=True`` folds batch-norm into the conv weights (float64 fold, then float32)
    instead of keeping a separate ``BatchNorm2d``; both match darknet to float32 rounding.
    """
    return DarknetModel(network, weights, fold_bn)


class _YoloOutputs(nn.Module):
    """``forward(x)`` only, returning a tuple: what the ONNX tracer should see (the legacy exporter
    would otherwise turn the ``raw``/``return_all`` defaults into graph inputs)."""

    def __init__(self, model: DarknetModel):
        super().__init__()
        self.model = model

    def forward(self, x):
        return tuple(self.model(x))


def max_onnx_opset() -> int:
    """Highest opset of torch's TorchScript-based exporter (a private torch constant; 20 in torch 2.13)."""
    constants = getattr(torch.onnx, "_constants", None)
    return int(getattr(constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def onnx_bytes(network: Network, weights: Weights, opset: int, input_name: str,
               output_names: list[str]) -> bytes:
    """Trace the float model with the TorchScript-based exporter (``dynamo=False``): a static
    (H, W) graph of plain ops with a dynamic batch axis. Returns the serialised ONNX model."""
    wrapper = _YoloOutputs(build_torch_model(network, weights)).eval()
    dummy = torch.zeros(1, network.channels, network.height, network.width, dtype=torch.float32)
    axes = {name: {0: "batch"} for name in [input_name, *output_names]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy exporter is chosen on purpose; silence only its deprecation notices.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(wrapper, (dummy,), buffer, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=list(output_names), dynamic_axes=axes,
                          do_constant_folding=True)
    return buffer.getvalue()
