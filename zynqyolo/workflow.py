"""The steps a user strings together (demo, bench, notebooks), as plain functions.

- ``default_model``: the 16- or 8-bit quantised YOLOv3-tiny, calibrated on the fetched photos
  once and cached (hash-checked) under ``$ZYNQYOLO_HOME/models``;
- ``time_board``: frames through the host driver, split into preprocess / accelerator /
  postprocess, plus the share of the accelerator time spent inside the emulator's C
  simulation (what remains is the host Python that will run on the board's ARM);
- ``time_baseline``: the ARM-only baseline (numpy float32 and the integer reference), per
  frame and per layer, measured wherever it runs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from zynqyolo.errors import ZynqyoloError


def default_model(bits: int = 16, log: Callable[[str], None] = lambda msg: None):
    """The quantised default model, calibrated on every fetched photo; cached after the first call."""
    from zynqyolo.fetch import home, model_paths, photo_paths
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.quantize import calibrate, load_model, save_model

    cfg, weights_path, _ = model_paths()
    network = load_cfg(cfg)
    path = home() / "models" / f"yolov3-tiny-{network.width}-{bits}bit-{network.content_hash[:12]}.npz"
    if path.is_file():
        try:
            return load_model(path, network=network, bits=bits)
        except ZynqyoloError as exc:
            log(f"{path.name}: {exc}; quantising again")
    log(f"quantising YOLOv3-tiny to {bits} bits (calibration on the fetched photos, once)")
    model = calibrate(network, load_weights(weights_path, network), photo_paths(), bits=bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, path)
    return model


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3 if values else float("nan")


def time_board(driver, images: list[np.ndarray], conf: float = 0.25, nms: float = 0.45, names=None) -> dict:
    """Run ``images`` (uint8 RGB) through the driver with CPU/accelerator overlap; medians in ms."""
    from zynqyolo.host.driver import detect_stream

    board = driver.board
    kernel_before = getattr(board, "kernel_s", None)
    stages: dict[str, list[float]] = {"preprocess": [], "accelerator": [], "postprocess": []}
    detections = []
    wall = time.perf_counter()
    for dets, timing in detect_stream(driver, images, conf, nms, names):
        detections.append(dets)
        stages["preprocess"].append(timing.preprocess_s)
        stages["accelerator"].append(timing.accelerator_s)
        stages["postprocess"].append(timing.postprocess_s)
    wall = time.perf_counter() - wall
    result = {f"{k}_ms": _median_ms(v) for k, v in stages.items()}
    result["frames"] = len(images)
    result["wall_per_frame_ms"] = wall / max(len(images), 1) * 1e3
    result["calls_per_frame"] = len(driver.plan.calls)
    result["dma_transfers_per_frame"] = driver.plan.n_transfers
    if kernel_before is not None:
        emulator_ms = (board.kernel_s - kernel_before) / max(len(images), 1) * 1e3
        result["emulator_ms"] = emulator_ms
        result["host_python_ms"] = sum(stages["accelerator"]) / max(len(images), 1) * 1e3 - emulator_ms
    return {"timing": result, "detections": detections}


def time_baseline(network, weights, model, xs: list[np.ndarray]) -> dict:
    """ARM-only baseline on letterboxed inputs: numpy float32 and integer reference, medians in ms."""
    from zynqyolo.model.float_ref import FloatReference
    from zynqyolo.model.intref import IntegerReference

    out = {}
    for name, ref in (("float32", FloatReference(network, weights)), ("integer", IntegerReference(model))):
        frames, layers = [], np.zeros(len(network.layers))
        for x in xs:
            start = time.perf_counter()
            ref.forward(x)
            frames.append(time.perf_counter() - start)
            layers += np.asarray(ref.layer_seconds)
        per_layer = {f"{layer.index}:{layer.kind}": round(float(s) / len(xs) * 1e3, 3)
                     for layer, s in zip(network.layers, layers)}
        out[name] = {"frame_ms": _median_ms(frames), "per_layer_ms": per_layer}
    return out


def load_images(paths: list[Path]) -> list[np.ndarray]:
    from zynqyolo.model.preprocess import load_image

    return [load_image(p) for p in paths]


def pick_board(bitstream_root: Path | str | None) -> tuple[str, Path | None, str]:
    """("pynq", folder, why) when pynq imports and a built bitstream is under ``bitstream_root``;
    else ("emu", None, why): notebooks fall back to the emulated board and say so."""
    import importlib.util
    import json

    if importlib.util.find_spec("pynq") is None:
        return "emu", None, "pynq is not installed (not a PYNQ board): using the emulated board"
    root = Path(bitstream_root) if bitstream_root else None
    built = []
    for manifest in sorted(root.rglob("manifest.json")) if root and root.is_dir() else []:
        try:
            if json.loads(manifest.read_text()).get("built"):
                built.append(manifest.parent)
        except (OSError, ValueError):
            continue
    if not built:
        return "emu", None, f"no built bitstream under {root}: using the emulated board"
    return "pynq", built[0], f"PYNQ board with bitstream {built[0]}"
