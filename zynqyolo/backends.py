"""Backends behind one narrow protocol, and the image -> detections pipeline.

A backend has ``.name``, ``.network`` (the IR it runs) and ``.forward(x)``: float32
(3, H, W) letterboxed input in [0, 1] -> list of YOLO-layer outputs (C, h, w), one per
``Yolo`` layer, in darknet's convention (see ``postprocess``). The pipeline around it
(letterbox, decode, NMS) is the same for every backend, so their detections are
comparable one to one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.ir import Network
from zynqyolo.model.postprocess import DEFAULT_CONF, DEFAULT_NMS, Detection, decode
from zynqyolo.model.preprocess import letterbox


class Backend(Protocol):
    name: str
    network: Network

    def forward(self, x: np.ndarray) -> list[np.ndarray]: ...


class TorchBackend:
    """PyTorch float model (the float truth)."""

    name = "torch"

    def __init__(self, network: Network, weights):
        import torch

        from zynqyolo.model.torch_model import build_torch_model

        self.network = network
        self._torch = torch
        self.model = build_torch_model(network, weights).eval()

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        with self._torch.no_grad():
            outs = self.model(self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None])
        return [o[0].numpy() for o in outs]


class OnnxBackend:
    """onnxruntime on an exported ONNX file (exported on first use into the cache)."""

    name = "onnx"

    def __init__(self, network: Network, weights, path: Path | None = None):
        from zynqyolo.fetch import home
        from zynqyolo.model.onnx_backend import OnnxModel, export_onnx

        self.network = network
        if path is None:
            path = home() / "onnx" / f"yolo-{network.width}x{network.height}-{network.content_hash[:16]}.onnx"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                export_onnx(network, weights, path)
        self.model = OnnxModel(path, network)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        return [o[0] for o in self.model.forward(np.ascontiguousarray(x, dtype=np.float32)[None])]


def _load_float(cfg: Path | None, weights: Path | None, size: int | None):
    from zynqyolo.fetch import model_paths
    from zynqyolo.model.cfg import load_cfg
    from zynqyolo.model.weights import load_weights

    if cfg is None or weights is None:
        default_cfg, default_weights, _ = model_paths()
        cfg = cfg or default_cfg
        weights = weights or default_weights
    network = load_cfg(cfg, width=size, height=size)
    return network, load_weights(weights, network)


def _torch(opts: dict) -> Backend:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise ZynqyoloError("the torch backend needs PyTorch: pip install torch==2.13.0 "
                            "(or use --backend onnx / ref)")
    return TorchBackend(*_load_float(opts.get("cfg"), opts.get("weights"), opts.get("size")))


def _onnx(opts: dict) -> Backend:
    network, weights = _load_float(opts.get("cfg"), opts.get("weights"), opts.get("size"))
    return OnnxBackend(network, weights, opts.get("model"))


def _cpu(opts: dict) -> Backend:
    from zynqyolo.model.float_ref import FloatReference

    return FloatReference(*_load_float(opts.get("cfg"), opts.get("weights"), opts.get("size")))


def _quantised(opts: dict):
    from zynqyolo.model.quantize import load_model

    path = opts.get("model")
    if path is None:
        raise ZynqyoloError("this backend runs a quantised model: pass --model FILE "
                            "(make one with 'zynqyolo quantize --bits 16 -o FILE')")
    network = None
    if opts.get("cfg") is not None:  # refuse a model made for another cfg
        from zynqyolo.model.cfg import load_cfg

        network = load_cfg(opts["cfg"], width=opts.get("size"), height=opts.get("size"))
    return load_model(path, network=network)


def _ref(opts: dict) -> Backend:
    from zynqyolo.model.intref import IntegerReference

    return IntegerReference(_quantised(opts))


def _design(opts: dict, model):
    """The design point: --design FILE, else the default for the model's precision."""
    from zynqyolo.dse.hwconfig import HwConfig

    design = opts.get("design")
    config = HwConfig.load(design) if design else HwConfig(bits=model.bits)
    if config.bits != model.bits:
        raise ZynqyoloError(f"the design point is {config.bits}-bit but the model is {model.bits}-bit")
    return config


def _csim(opts: dict) -> Backend:
    from zynqyolo.host.runner import CsimBackend

    model = _quantised(opts)
    try:
        return CsimBackend(model, _design(opts, model))
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None


def _board(name: str):
    def factory(opts: dict) -> Backend:
        from zynqyolo.host.driver import DriverBackend, open_driver

        model = _quantised(opts)
        driver = open_driver(name, model, _design(opts, model), bitstream=opts.get("bitstream"))
        return DriverBackend(driver, name)

    return factory


# name -> factory(options). Options: cfg, weights, model (a file), size (input side), design.
BACKENDS: dict[str, Callable[[dict], Backend]] = {
    "torch": _torch,
    "onnx": _onnx,
    "cpu": _cpu,
    "ref": _ref,
    "csim": _csim,
    "emu": _board("emu"),
    "pynq": _board("pynq"),
}


def open_backend(name: str, **options) -> Backend:
    if name not in BACKENDS:
        raise ZynqyoloError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[name](options)


def detect(backend: Backend, image: np.ndarray, conf: float = DEFAULT_CONF, nms: float = DEFAULT_NMS,
           names: list[str] | None = None) -> list[Detection]:
    """uint8 (H, W, 3) RGB image -> detections in image pixels."""
    net = backend.network
    x = letterbox(image, net.width, net.height)
    outputs = backend.forward(x)
    return decode(outputs, net, (image.shape[1], image.shape[0]), conf=conf, nms=nms, names=names)
