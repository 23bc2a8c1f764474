"""Darknet cfg parser producing the typed network IR with every shape inferred.

Only what YOLOv3-tiny-style networks use is accepted; any other section or any option
that would change inference is rejected with its name, its line and what is supported.
Options that only matter for training are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zynqyolo.errors import ZynqyoloError

from .ir import INPUT, Conv, Layer, MaxPool, Network, Route, Shape, Upsample, Yolo

# Options darknet reads only while training (or that never change the inference result).
_TRAINING_ONLY = {
    "net": {
        "batch", "subdivisions", "momentum", "decay", "angle", "saturation", "exposure", "hue",
        "learning_rate", "burn_in", "max_batches", "policy", "steps", "scales", "mosaic",
        "flip", "jitter", "max_crop", "min_crop", "aspect", "letter_box", "power",
    },
    "convolutional": set(),
    "maxpool": set(),
    "route": set(),
    "upsample": set(),
    "yolo": {"num", "jitter", "ignore_thresh", "truth_thresh", "random", "max", "counters_per_class",
             "label_smooth_eps", "iou_loss", "iou_normalizer", "cls_normalizer", "obj_normalizer",
             "iou_thresh"},
}
_SUPPORTED = {
    "net": {"width", "height", "channels"},
    "convolutional": {"batch_normalize", "filters", "size", "stride", "pad", "padding", "activation"},
    "maxpool": {"size", "stride", "padding"},
    "route": {"layers"},
    "upsample": {"stride"},
    "yolo": {"mask", "anchors", "classes"},
}
# Options accepted only at the value that leaves inference as plain darknet YOLOv3 computes it.
_NEUTRAL_VALUES = {
    ("yolo", "scale_x_y"): "1",
    ("yolo", "new_coords"): "0",
    ("convolutional", "groups"): "1",
    ("convolutional", "dilation"): "1",
    ("route", "groups"): "1",
}
_ACTIVATIONS = ("leaky", "linear")


@dataclass
class Section:
    name: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)


def parse_sections(text: str, source: str = "<cfg>") -> list[Section]:
    sections: list[Section] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ZynqyoloError(f"{source}:{lineno}: malformed section header {raw.strip()!r}")
            sections.append(Section(line[1:-1].strip().lower(), lineno))
            continue
        if "=" not in line:
            raise ZynqyoloError(f"{source}:{lineno}: expected 'key=value', got {raw.strip()!r}")
        if not sections:
            raise ZynqyoloError(f"{source}:{lineno}: option before the first [section]")
        key, value = (part.strip() for part in line.split("=", 1))
        sections[-1].options[key] = value
        sections[-1].option_lines[key] = lineno
    if not sections or sections[0].name not in ("net", "network"):
        raise ZynqyoloError(f"{source}: a darknet cfg must start with a [net] section")
    sections[0].name = "net"
    return sections


class _Reader:
    """Typed access to one section's options, with errors that point at the cfg line."""

    def __init__(self, section: Section, source: str):
        self.s = section
        self.source = source
        self._check_options()

    def where(self, key: str | None = None) -> str:
        line = self.s.option_lines.get(key, self.s.line) if key else self.s.line
        return f"{self.source}:{line}: [{self.s.name}]"

    def _check_options(self) -> None:
        name = self.s.name
        for key, value in self.s.options.items():
            if key in _SUPPORTED[name] or key in _TRAINING_ONLY[name]:
                continue
            neutral = _NEUTRAL_VALUES.get((name, key))
            if neutral is not None and value.replace(" ", "") == neutral:
                continue
            hint = f" (only {key}={neutral} is supported)" if neutral is not None else ""
            raise ZynqyoloError(
                f"{self.where(key)} unsupported option {key}={value}{hint}; "
                f"supported options: {', '.join(sorted(_SUPPORTED[name]))}"
            )

    def int(self, key: str, default: int | None = None) -> int:
        if key not in self.s.options:
            if default is None:
                raise ZynqyoloError(f"{self.where()} missing required option '{key}'")
            return default
        try:
            return int(self.s.options[key])
        except ValueError:
            raise ZynqyoloError(f"{self.where(key)} option {key}={self.s.options[key]!r} is not an integer") from None

    def ints(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        if key not in self.s.options:
            if default is None:
                raise ZynqyoloError(f"{self.where()} missing required option '{key}'")
            return default
        try:
            return tuple(int(v) for v in self.s.options[key].split(",") if v.strip())
        except ValueError:
            raise ZynqyoloError(f"{self.where(key)} option {key}={self.s.options[key]!r} is not a list of integers") from None

    def str(self, key: str, default: str) -> str:
        return self.s.options.get(key, default).strip()

    def positive(self, key: str, value: int) -> int:
        if value <= 0:
            raise ZynqyoloError(f"{self.where(key)} option {key} must be positive, got {value}")
        return value


def build_network(sections: list[Section], source: str = "<cfg>", width: int | None = None,
                  height: int | None = None) -> Network:
    """Build the IR from parsed sections; ``width``/``height`` override the cfg's input size."""
    net = _Reader(sections[0], source)
    width = width if width is not None else net.int("width")
    height = height if height is not None else net.int("height")
    channels = net.positive("channels", net.int("channels", 3))
    if width <= 0 or height <= 0 or width % 32 or height % 32:
        raise ZynqyoloError(f"{source}: input size {width}x{height} must be a positive multiple of 32")

    layers: list[Layer] = []

    def shape(index: int) -> Shape:
        return Shape(channels, height, width) if index == INPUT else layers[index].out_shape

    for section in sections[1:]:
        index = len(layers)
        prev = index - 1 if index > 0 else INPUT
        if section.name not in _SUPPORTED or section.name == "net":
            raise ZynqyoloError(
                f"{source}:{section.line}: unsupported layer [{section.name}]; supported layers: "
                "[convolutional], [maxpool], [route], [upsample], [yolo]"
            )
        r = _Reader(section, source)
        ins = shape(prev)
        if section.name == "convolutional":
            filters = r.positive("filters", r.int("filters"))
            size = r.positive("size", r.int("size", 1))
            stride = r.positive("stride", r.int("stride", 1))
            pad = r.int("pad", 0)
            padding = size // 2 if pad else r.int("padding", 0)
            act = r.str("activation", "logistic")
            if act not in _ACTIVATIONS:
                raise ZynqyoloError(f"{r.where('activation')} unsupported activation '{act}'; supported: leaky, linear")
            oh = (ins.h + 2 * padding - size) // stride + 1
            ow = (ins.w + 2 * padding - size) // stride + 1
            layers.append(Conv(index, (prev,), ins, Shape(filters, oh, ow), filters, size, stride, padding,
                               bool(r.int("batch_normalize", 0)), act))
        elif section.name == "maxpool":
            size = r.positive("size", r.int("size", 2))
            stride = r.positive("stride", r.int("stride", size))
            padding = r.int("padding", size - 1)
            if padding < 0:
                raise ZynqyoloError(f"{r.where('padding')} max-pool padding must not be negative, got {padding}")
            oh = (ins.h + padding - size) // stride + 1
            ow = (ins.w + padding - size) // stride + 1
            layers.append(MaxPool(index, (prev,), ins, Shape(ins.c, oh, ow), size, stride, padding))
        elif section.name == "upsample":
            stride = r.positive("stride", r.int("stride", 2))
            layers.append(Upsample(index, (prev,), ins, Shape(ins.c, ins.h * stride, ins.w * stride), stride))
        elif section.name == "route":
            srcs = []
            for rel in r.ints("layers"):
                src = index + rel if rel < 0 else rel
                if not 0 <= src < index:
                    raise ZynqyoloError(f"{r.where('layers')} route to layer {rel} is outside 0..{index - 1}")
                srcs.append(src)
            first = shape(srcs[0])
            for src in srcs[1:]:
                if (shape(src).h, shape(src).w) != (first.h, first.w):
                    raise ZynqyoloError(f"{r.where('layers')} route joins layers of different sizes: "
                                        f"{srcs[0]} is {first.h}x{first.w}, {src} is {shape(src).h}x{shape(src).w}")
            c = sum(shape(src).c for src in srcs)
            layers.append(Route(index, tuple(srcs), Shape(c, first.h, first.w)))
        elif section.name == "yolo":
            classes = r.positive("classes", r.int("classes", 20))
            flat = r.ints("anchors")
            if len(flat) % 2:
                raise ZynqyoloError(f"{r.where('anchors')} anchors must be (w, h) pairs, got {len(flat)} numbers")
            anchors = tuple(zip(flat[0::2], flat[1::2]))
            mask = r.ints("mask", tuple(range(len(anchors))))
            if any(not 0 <= m < len(anchors) for m in mask):
                raise ZynqyoloError(f"{r.where('mask')} mask {mask} indexes outside the {len(anchors)} anchors")
            if ins.c != len(mask) * (classes + 5):
                raise ZynqyoloError(f"{r.where()} expects {len(mask)} x ({classes} + 5) = "
                                    f"{len(mask) * (classes + 5)} input channels, got {ins.c}")
            layers.append(Yolo(index, (prev,), ins, ins, classes, mask, anchors))
    if not any(isinstance(layer, Yolo) for layer in layers):
        raise ZynqyoloError(f"{source}: the network has no [yolo] layer")
    return Network(width, height, channels, tuple(layers))


def parse_cfg(text: str, source: str = "<cfg>", width: int | None = None, height: int | None = None) -> Network:
    return build_network(parse_sections(text, source), source, width, height)


def load_cfg(path: str | Path, width: int | None = None, height: int | None = None) -> Network:
    """Parse a darknet cfg file. ``width``/``height`` override the input size (multiples of 32)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ZynqyoloError(f"cfg file not found: {path} (run 'zynqyolo fetch' for the default model)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ZynqyoloError(f"cannot read cfg file {path}: {exc}") from None
    return parse_cfg(text, str(path), width, height)
