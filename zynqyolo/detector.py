"""``zynqyolo.Detector``: one object that detects objects with any backend the CLI has.

    from zynqyolo import Detector
    det = Detector(backend="emu")                 # the emulated board, the explorer's Zedboard design
    det = Detector(backend="pynq", bitstream=FOLDER)  # a PYNQ board: pynq.Overlay of the built bitstream
    det = Detector(backend="ref", model="yolo16.npz")
    det = Detector(backend="torch")               # the float truth
    for d in det.detect("photo.jpg"):             # a path, a PIL image or an (H, W, 3) uint8 RGB array
        print(d.class_name, d.score, d.box)       # box: x1, y1, x2, y2 in the original image's pixels
    det.timings                                   # ms per stage of the last frame
    det.draw(image, detections)                   # a PIL image with labelled boxes
    for image, dets in det.detect_stream(frames, with_images=True): ...

Defaults follow the CLI: the fetched darknet model (float backends), the quantised default model
(``workflow.default_model``, calibrated once on the fetched photos and cached) for ref/csim/emu/pynq,
and the design point the explorer picks for ``board`` (Zedboard, 100 MHz) on the emulated board and
in C simulation; on PYNQ the design the bitstream was built for (its ``manifest.json``).

On PYNQ the board is opened the way PYNQ intends (``host/pynq_board.py``): ``pynq.Overlay`` loads
the bitstream, the accelerator is a ``DefaultIP`` driver bound with ``bindto`` whose argument
registers are written as one block through ``mmio.array``, buffers come from ``pynq.allocate``;
``Detector.overlay`` is that overlay.

Stages (``Detector.timings``, ms): ``letterbox`` (ARM), then for the board backends ``pack`` (the
input quantised into the DMA buffer and flushed), ``accelerator`` (every hardware call), ``unpack``
(the YOLO tensors invalidated and dequantised), for the others ``network``; then ``decode`` (YOLO
decoding and NMS), and ``total``. ``detect_stream`` runs the letterbox of frame n+1 and the decode
of frame n-1 on a worker thread while the accelerator works on frame n (``host.driver.detect_stream``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.postprocess import DEFAULT_CONF, DEFAULT_NMS, Detection, decode

FLOAT_BACKENDS = ("torch", "onnx", "cpu")
QUANTISED_BACKENDS = ("ref", "csim", "emu", "pynq")
BOARD_BACKENDS = ("emu", "pynq")

__all__ = ["Detection", "Detector", "as_rgb"]

_DESIGNS: dict[tuple, object] = {}  # (network hash, board, clock, bits) -> the explorer's pick


def as_rgb(image) -> np.ndarray:
    """A path, a PIL image or an (H, W, 3) uint8 array -> (H, W, 3) uint8 RGB (arrays as they are)."""
    from zynqyolo.model.preprocess import load_image, to_rgb8

    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
            raise ZynqyoloError(f"an image array must be (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}")
        return image
    if hasattr(image, "mode") and hasattr(image, "convert"):  # a PIL image
        return to_rgb8(image)
    raise ZynqyoloError(f"cannot read an image from {type(image).__name__}: give a path, a PIL image or an "
                        "(H, W, 3) uint8 array")


def explorer_version() -> str:
    """sha256 of what the explorer's choice depends on besides its arguments: the sources of
    ``zynqyolo.dse`` and its RTL calibration (``dse/rtl/fit.json``). A cached choice is reused only while
    they are unchanged."""
    import hashlib

    from zynqyolo import dse

    root = Path(dse.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.glob("*.py")) + [root / "rtl" / "fit.json"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def explorer_design(network, bits: int, board: str = "zedboard", clock_mhz: float = 100.0):
    """The design point the explorer picks for ``board`` at ``clock_mhz``: memoised per process and
    cached on disk (``$ZYNQYOLO_HOME/designs``, keyed by the network, the arguments and
    ``explorer_version``), since a search takes about 10 s here and longer on a board's ARM."""
    import hashlib
    import json

    from zynqyolo.dse import devices, explore
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.fetch import home

    key = (network.content_hash, board, float(clock_mhz), bits)
    if key not in _DESIGNS:
        try:
            b = devices.get_board(board)
        except ValueError as exc:
            raise ZynqyoloError(str(exc)) from None
        tag = hashlib.sha256(json.dumps([*key, explorer_version()]).encode()).hexdigest()[:16]
        path = home() / "designs" / f"{b.name}-{bits}bit-{tag}.json"
        config = None
        if path.is_file():
            try:
                config = HwConfig.load(path)
            except ZynqyoloError:  # a damaged entry: search again and replace it
                config = None
        if config is None:
            config = explore.search(network, b.part, clock_mhz=clock_mhz, bits=bits, board=b.name).best.config
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                config.save(path)
            except OSError:  # a cache that cannot be written only costs the next search
                pass
        _DESIGNS[key] = config
    return _DESIGNS[key]


class Detector:
    """YOLOv3-tiny detections from one backend (see the module docstring)."""

    def __init__(self, backend: str = "emu", *, model=None, design=None, bitstream=None, board: str = "zedboard",
                 clock_mhz: float = 100.0, bits: int = 16, cfg=None, weights=None, names=None,
                 conf: float = DEFAULT_CONF, nms: float = DEFAULT_NMS, resize: str = "darknet", log=None):
        from zynqyolo.backends import BACKENDS
        from zynqyolo.fetch import model_paths
        from zynqyolo.model.postprocess import load_names
        from zynqyolo.model.preprocess import RESIZE_METHODS

        if backend not in BACKENDS:
            raise ZynqyoloError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        if not 0.0 <= conf < 1.0:
            raise ZynqyoloError(f"conf must be in [0, 1), got {conf}")
        if not 0.0 < nms <= 1.0:
            raise ZynqyoloError(f"nms must be in (0, 1], got {nms}")
        if resize not in RESIZE_METHODS:
            raise ZynqyoloError(f"resize={resize!r}: choose one of {', '.join(RESIZE_METHODS)}")
        self.name = backend
        self.conf, self.nms, self.resize = conf, nms, resize
        self._log = log or (lambda msg: None)
        self.names = names if isinstance(names, list) else load_names(names or model_paths()[2])
        self.model = None  # the quantised model (quantised backends)
        self.config = None  # the design point (csim, emu, pynq)
        self.driver = None  # the host driver (emu, pynq)
        self.timings: dict[str, float] = {}
        self.why = f"backend {backend}"
        if backend in FLOAT_BACKENDS:
            self.backend = BACKENDS[backend]({"cfg": cfg, "weights": weights, "model": model})
        else:
            self._open_quantised(backend, model, design, bitstream, board, clock_mhz, bits, cfg)
        self.network = self.backend.network
        if self.network.yolos:  # a names file for another network would label every box wrongly
            from zynqyolo import validate

            validate.class_names(self.names, self.network.yolos[0].classes, str(names or model_paths()[2]))

    # -- opening ---------------------------------------------------------------------------------

    def _open_quantised(self, backend, model, design, bitstream, board, clock_mhz, bits, cfg) -> None:
        from zynqyolo.dse.hwconfig import HwConfig

        if backend == "pynq" and bitstream is None:
            raise ZynqyoloError("the pynq backend needs bitstream=FOLDER (a folder written by 'zynqyolo build')")
        if isinstance(design, (str, Path)):
            design = HwConfig.load(design)
        if design is None and backend == "pynq":
            design = self._bitstream_design(Path(bitstream))
        if design is not None:
            bits = design.bits
        self.model = self._load_model(model, bits, cfg)
        if backend == "ref":
            from zynqyolo.model.intref import IntegerReference

            self.backend = IntegerReference(self.model)
            return
        if design is None:
            self._log(f"design point: the explorer's pick for {board} at {clock_mhz:g} MHz, {self.model.bits}-bit")
            design = explorer_design(self.model.network, self.model.bits, board, clock_mhz)
        if design.bits != self.model.bits:
            raise ZynqyoloError(f"the design point is {design.bits}-bit but the model is {self.model.bits}-bit")
        self.config = design
        if backend == "csim":
            from zynqyolo.host.runner import CsimBackend

            try:
                self.backend = CsimBackend(self.model, design)
            except ValueError as exc:
                raise ZynqyoloError(str(exc)) from None
            return
        from zynqyolo.host.driver import DriverBackend, open_driver

        self.driver = open_driver(backend, self.model, design, bitstream=bitstream)
        self.backend = DriverBackend(self.driver, backend)

    @staticmethod
    def _bitstream_design(folder: Path):
        import json

        from zynqyolo.dse.hwconfig import HwConfig

        manifest = folder / "manifest.json"
        try:
            return HwConfig.from_dict(json.loads(manifest.read_text())["design"])
        except FileNotFoundError:
            raise ZynqyoloError(f"{folder}: no manifest.json (a folder written by 'zynqyolo build' expected)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ZynqyoloError(f"{manifest}: cannot read the design point: {exc}") from None

    def _load_model(self, model, bits: int, cfg):
        from zynqyolo.model.quantize import QuantizedModel, load_model

        if isinstance(model, QuantizedModel):
            return model
        if model is None:
            from zynqyolo.workflow import default_model

            return default_model(bits, log=self._log)
        network = None
        if cfg is not None:  # refuse a model made for another cfg
            from zynqyolo.model.cfg import load_cfg

            network = load_cfg(cfg)
        return load_model(model, network=network)

    @classmethod
    def auto(cls, bitstreams=None, **options) -> "Detector":
        """The PYNQ board when pynq imports and a built bitstream is under ``bitstreams``, else the
        emulated board (``workflow.pick_board``); ``Detector.why`` says which and why."""
        from zynqyolo.workflow import pick_board

        name, folder, why = pick_board(bitstreams)
        detector = cls(name, bitstream=folder, **options)
        detector.why = why
        return detector

    @property
    def overlay(self):
        """The ``pynq.Overlay`` (pynq backend), else None."""
        return getattr(getattr(self.driver, "board", None), "overlay", None)

    # -- detecting --------------------------------------------------------------------------------

    def _prepare(self, item):
        from zynqyolo.model.preprocess import letterbox

        t0 = time.perf_counter()
        image = as_rgb(item)
        x = letterbox(image, self.network.width, self.network.height, self.resize)
        return x, {"image": image, "letterbox_s": time.perf_counter() - t0}

    def _finish(self, outs, context: dict):
        t0 = time.perf_counter()
        image = context["image"]
        dets = decode(outs, self.network, (image.shape[1], image.shape[0]), conf=self.conf, nms=self.nms,
                      names=self.names)
        context["decode_s"] = time.perf_counter() - t0
        return dets, context

    def _forward(self, x) -> tuple[list[np.ndarray], dict[str, float]]:
        t0 = time.perf_counter()
        outs = self.backend.forward(x)
        return outs, self._forward_stages(time.perf_counter() - t0)

    def _forward_stages(self, seconds: float, timing=None) -> dict[str, float]:
        """The forward pass's stages: the driver's split on a board backend, else one ``network`` stage
        (``timing``: what ``detect_stream`` measured for this frame)."""
        if self.driver is not None:
            timing = timing if timing is not None else self.driver.timing
            return {"pack": timing.preprocess_s, "accelerator": timing.accelerator_s, "unpack": timing.postprocess_s}
        return {"network": timing.accelerator_s if timing is not None else seconds}

    def _record(self, context: dict, stages: dict[str, float]) -> None:
        ms = {"letterbox": context["letterbox_s"], **stages, "decode": context["decode_s"]}
        self.timings = {f"{k}_ms": v * 1e3 for k, v in ms.items()}
        self.timings["total_ms"] = sum(ms.values()) * 1e3

    def detect(self, image) -> list[Detection]:
        """Detections in one image (a path, a PIL image or an (H, W, 3) uint8 RGB array), best first."""
        x, context = self._prepare(image)
        outs, stages = self._forward(x)
        dets, context = self._finish(outs, context)
        self._record(context, stages)
        return dets

    def detect_stream(self, frames: Iterable, with_images: bool = False) -> Iterator:
        """Detections for each of ``frames`` (read lazily, so a camera works), in order, overlapping the
        letterbox of the next frame and the decode of the previous one with this frame's accelerator work.
        Yields the detections, or (RGB image, detections) with ``with_images``. After the stream,
        ``timings`` also holds ``wall_per_frame_ms`` and ``fps`` (the pipelined rate)."""
        from zynqyolo.host.driver import detect_stream

        target = self.driver if self.driver is not None else self.backend
        n, start = 0, time.perf_counter()
        for (dets, context), timing in detect_stream(target, frames, self.conf, self.nms, self.names,
                                                     prepare=self._prepare, finish=self._finish):
            self._record(context, self._forward_stages(0.0, timing))
            n += 1
            yield (context["image"], dets) if with_images else dets
        if n:
            wall = (time.perf_counter() - start) / n
            self.timings.update({"wall_per_frame_ms": wall * 1e3, "fps": 1.0 / wall if wall > 0 else float("inf")})

    def draw(self, image, detections: list[Detection]):
        """A PIL image of ``image`` with a labelled box per detection."""
        from zynqyolo.model.draw import draw_detections

        return draw_detections(as_rgb(image), detections)

    def __repr__(self) -> str:
        design = f", design {self.config.name}" if self.config is not None else ""
        return f"Detector(backend={self.name!r}{design}, {self.network.width}x{self.network.height})"
