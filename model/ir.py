"""Typed, frozen network IR for darknet YOLO networks.

Every layer knows its absolute index, the absolute indices of the layers it reads
(``-1`` is the network input), and its inferred output shape. Everything downstream
(float model, quantiser, integer reference, plan, DSE, host) derives from this one
description, so nothing about the network is written twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Union

INPUT = -1  # index used for "the network input image"


@dataclass(frozen=True)
class Shape:
    """Tensor shape in channels x height x width."""

    c: int
    h: int
    w: int

    @property
    def numel(self) -> int:
        return self.c * self.h * self.w

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.c, self.h, self.w)


@dataclass(frozen=True)
class Conv:
    """Convolution, optionally followed by darknet batch-norm, then an activation."""

    index: int
    inputs: tuple[int, ...]
    in_shape: Shape
    out_shape: Shape
    filters: int
    size: int
    stride: int
    padding: int
    batch_normalize: bool
    activation: str  # "leaky" (slope 0.1) or "linear"

    kind = "convolutional"

    @property
    def n_weights(self) -> int:
        return self.filters * self.in_shape.c * self.size * self.size

    @property
    def n_params(self) -> int:
        """Float count this layer reads from a darknet weights file."""
        per_filter = 4 if self.batch_normalize else 1  # bias, scale, mean, variance
        return self.n_weights + per_filter * self.filters

    @property
    def macs(self) -> int:
        return self.out_shape.numel * self.in_shape.c * self.size * self.size


@dataclass(frozen=True)
class MaxPool:
    """Darknet max-pool: window ``size``, ``stride``, ``padding`` total (darknet default size-1).

    Darknet offsets the window by ``-padding // 2`` (C division, i.e. 0 for padding 1),
    so the padding lands on the right and bottom; padded cells never win the max.
    """

    index: int
    inputs: tuple[int, ...]
    in_shape: Shape
    out_shape: Shape
    size: int
    stride: int
    padding: int

    kind = "maxpool"

    @property
    def offset(self) -> int:
        # C integer division truncates toward zero: -(padding // 2) for padding >= 0.
        return -(self.padding // 2)


@dataclass(frozen=True)
class Route:
    """Channel concatenation of earlier layers' outputs (absolute indices in ``inputs``)."""

    index: int
    inputs: tuple[int, ...]
    out_shape: Shape

    kind = "route"


@dataclass(frozen=True)
class Upsample:
    """Nearest-neighbour upsample by an integer ``stride``."""

    index: int
    inputs: tuple[int, ...]
    in_shape: Shape
    out_shape: Shape
    stride: int

    kind = "upsample"


@dataclass(frozen=True)
class Yolo:
    """YOLO detection head: sigmoid on x, y, objectness, classes; exp on w, h."""

    index: int
    inputs: tuple[int, ...]
    in_shape: Shape
    out_shape: Shape
    classes: int
    mask: tuple[int, ...]
    anchors: tuple[tuple[int, int], ...]  # all anchors of the cfg, in pixels (w, h)

    kind = "yolo"

    @property
    def masked_anchors(self) -> tuple[tuple[int, int], ...]:
        return tuple(self.anchors[m] for m in self.mask)

    @property
    def n_anchors(self) -> int:
        return len(self.mask)


Layer = Union[Conv, MaxPool, Route, Upsample, Yolo]


@dataclass(frozen=True)
class Network:
    """A whole network: input geometry and the ordered layers."""

    width: int
    height: int
    channels: int
    layers: tuple[Layer, ...]

    @property
    def input_shape(self) -> Shape:
        return Shape(self.channels, self.height, self.width)

    def shape_of(self, index: int) -> Shape:
        return self.input_shape if index == INPUT else self.layers[index].out_shape

    @property
    def convs(self) -> tuple[Conv, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, Conv))

    @property
    def yolos(self) -> tuple[Yolo, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, Yolo))

    @property
    def n_params(self) -> int:
        return sum(c.n_params for c in self.convs)

    @property
    def macs(self) -> int:
        return sum(c.macs for c in self.convs)

    def consumers(self, index: int) -> tuple[int, ...]:
        return tuple(layer.index for layer in self.layers if index in layer.inputs)

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "channels": self.channels,
            "layers": [dict(kind=layer.kind, **dataclasses.asdict(layer)) for layer in self.layers],
        }

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON form: identifies the network across artifacts."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def from_dict(cls, data: dict) -> "Network":
        """The inverse of ``to_dict``; every field type-checked (``zynqyolo.validate``), so a
        hand-edited or foreign description is an ``InvalidInput`` naming the field."""
        from zynqyolo import validate

        kinds = {k.kind: k for k in (Conv, MaxPool, Route, Upsample, Yolo)}
        data = validate.mapping(data, "network", required=("width", "height", "channels", "layers"))
        layers = []
        for n, item in enumerate(validate.sequence(data["layers"], "network layers")):
            where = f"network layer {n}"
            item = validate.mapping(item, where, required=("kind",))
            kind = validate.text(item["kind"], f"{where} kind", choices=kinds)
            layer_cls = kinds[kind]
            names = {f.name: f.type for f in dataclasses.fields(layer_cls)}
            given = {k: v for k, v in item.items() if k != "kind"}
            if set(given) != set(names):
                raise validate.InvalidInput(f"{where} ({kind}): fields {sorted(given)}, expected {sorted(names)}")
            layers.append(layer_cls(**{k: _typed(v, names[k], f"{where} {k}") for k, v in given.items()}))
        return cls(validate.integer(data["width"], "network width", lo=1),
                   validate.integer(data["height"], "network height", lo=1),
                   validate.integer(data["channels"], "network channels", lo=1), tuple(layers))

    def summary(self) -> str:
        lines = [f"{'#':>3} {'layer':<14} {'input':>16} {'output':>16} {'MMAC':>8}"]
        for layer in self.layers:
            ins = getattr(layer, "in_shape", None)
            ins_s = f"{ins.c}x{ins.h}x{ins.w}" if ins else ",".join(map(str, layer.inputs))
            o = layer.out_shape
            macs = f"{layer.macs / 1e6:8.1f}" if isinstance(layer, Conv) else ""
            lines.append(f"{layer.index:>3} {layer.kind:<14} {ins_s:>16} {o.c}x{o.h}x{o.w:<8} {macs}")
        lines.append(f"total {self.macs / 1e9:.4f} GMAC, {self.n_params} parameters")
        return "\n".join(lines)


def _typed(value, annotation: str, what: str):
    """``value`` (from JSON) as the IR field type ``annotation`` (the dataclasses' annotations)."""
    from zynqyolo import validate

    if annotation == "int":
        return validate.integer(value, what)
    if annotation == "bool":
        return validate.boolean(value, what)
    if annotation == "str":
        return validate.text(value, what)
    if annotation == "Shape":
        shape = validate.mapping(value, what, required=("c", "h", "w"))
        return Shape(*(validate.integer(shape[k], f"{what}.{k}", lo=0) for k in ("c", "h", "w")))
    if annotation == "tuple[int, ...]":
        return tuple(validate.integer(v, f"{what}[{i}]") for i, v in enumerate(validate.sequence(value, what)))
    if annotation == "tuple[tuple[int, int], ...]":
        return tuple(tuple(validate.integer(x, f"{what}[{i}]") for x in validate.sequence(pair, f"{what}[{i}]", 2))
                     for i, pair in enumerate(validate.sequence(value, what)))
    raise TypeError(f"no JSON reading for IR field type {annotation!r}")  # a new IR field type: add it here
