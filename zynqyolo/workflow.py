"""The steps a user strings together (demo, bench, notebooks), as plain functions.

- ``default_model``: the 16- or 8-bit quantised YOLOv3-tiny, calibrated on the fetched photos
  once and cached (hash-checked) under ``$ZYNQYOLO_HOME/models``;
- ``time_board``: frames through the host driver (pipelined, ``detect_stream``), split into
  letterbox / pack / accelerator / unpack / decode, plus the share of the accelerator time spent
  inside the emulator's C simulation (what remains is the host Python that will run on the board's ARM);
- ``time_baseline``: the CPU-only baseline (numpy float32, the integer reference and, when OpenCV is
  installed, OpenCV's DNN module on the darknet files), per frame, measured wherever it runs:
  on a board that is the ARM-only baseline, elsewhere it is *this machine's* figure (``machine()``
  names it) and never the board's;
- ``modelled_board``: what the models say of the board for a design point (accelerator, end-to-end
  frame, ARM-only baselines), all labelled modelled or with their source.
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
    from zynqyolo.outputs import make_dir

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
    try:  # a cache we cannot write costs the next run the calibration again, nothing else
        make_dir(path.parent, "model cache")
        save_model(model, path)
    except ZynqyoloError as exc:
        log(f"not cached: {exc}")
    return model


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3 if values else float("nan")


def machine() -> str:
    """This machine, as figures measured on it are labelled: 'x86_64, 2 cores' (or the board's ARM)."""
    import os
    import platform

    return f"{platform.machine() or 'unknown CPU'}, {os.cpu_count() or '?'} cores"


def on_board() -> bool:
    """True on a PYNQ board (an ARM CPU with pynq installed): only there are CPU figures the board's."""
    import importlib.util
    import platform

    return platform.machine().lower().startswith(("arm", "aarch64")) and importlib.util.find_spec("pynq") is not None


def time_board(driver, images: list[np.ndarray], conf: float = 0.25, nms: float = 0.45, names=None,
               resize: str = "darknet") -> dict:
    """Run ``images`` (uint8 RGB) through the driver with CPU/accelerator overlap; medians in ms."""
    from zynqyolo.host.driver import detect_stream
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox

    net = driver.model.network
    board = driver.board
    kernel_before = getattr(board, "kernel_s", None)
    stages: dict[str, list[float]] = {k: [] for k in ("letterbox", "pack", "accelerator", "unpack", "decode")}

    def prepare(image):
        t0 = time.perf_counter()
        x = letterbox(image, net.width, net.height, resize)
        stages["letterbox"].append(time.perf_counter() - t0)
        return x, image

    def finish(outs, image):
        t0 = time.perf_counter()
        dets = decode(outs, net, (image.shape[1], image.shape[0]), conf=conf, nms=nms, names=names)
        stages["decode"].append(time.perf_counter() - t0)
        return dets

    detections = []
    wall = time.perf_counter()
    for dets, timing in detect_stream(driver, images, conf, nms, names, prepare=prepare, finish=finish):
        detections.append(dets)
        stages["pack"].append(timing.preprocess_s)
        stages["accelerator"].append(timing.accelerator_s)
        stages["unpack"].append(timing.postprocess_s)
    wall = time.perf_counter() - wall
    result = {f"{k}_ms": _median_ms(v) for k, v in stages.items()}
    result["frames"] = len(images)
    result["wall_per_frame_ms"] = wall / max(len(images), 1) * 1e3
    result["pipelined_fps"] = len(images) / wall if wall > 0 else float("inf")
    result["calls_per_frame"] = len(driver.plan.calls)
    result["dma_transfers_per_frame"] = driver.plan.n_transfers
    if kernel_before is not None:
        emulator_ms = (board.kernel_s - kernel_before) / max(len(images), 1) * 1e3
        result["emulator_ms"] = emulator_ms
        result["host_python_ms"] = sum(stages["accelerator"]) / max(len(images), 1) * 1e3 - emulator_ms
    return {"timing": result, "detections": detections}


def time_baseline(network, weights, model, xs: list[np.ndarray], opencv_dnn: bool = True) -> dict:
    """CPU-only baseline on letterboxed inputs, medians in ms: numpy float32, the integer reference,
    and OpenCV's DNN module on the darknet cfg and weights (the strongest CPU path on a PYNQ image's
    armhf OpenCV) when ``cv2`` imports. ``where`` says which CPU ran it (``machine()``)."""
    from zynqyolo.model.float_ref import FloatReference
    from zynqyolo.model.intref import IntegerReference

    out = {"where": machine(), "on_board": on_board()}
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
    if opencv_dnn:
        dnn = time_opencv_dnn(network, xs)
        if dnn is not None:
            out["opencv_dnn"] = dnn
    return out


def time_opencv_dnn(network, xs: list[np.ndarray]) -> dict | None:
    """OpenCV's darknet importer (``cv2.dnn.readNetFromDarknet``) on the fetched cfg and weights, run on
    the same letterboxed inputs; None without OpenCV (or with OpenCV 5, which dropped the importer)."""
    try:
        import cv2
    except ImportError:
        return None
    if not hasattr(cv2.dnn, "readNetFromDarknet") or (network.width, network.height) != (416, 416):
        return None
    from zynqyolo.fetch import model_paths

    cfg, weights, _ = model_paths()
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    names = net.getUnconnectedOutLayersNames()
    frames = []
    for x in [xs[0], *xs]:  # the first run builds the network's buffers: not timed
        start = time.perf_counter()
        net.setInput(np.ascontiguousarray(x[None], dtype=np.float32))
        net.forward(names)
        frames.append(time.perf_counter() - start)
    return {"frame_ms": _median_ms(frames[1:]), "threads": cv2.getNumThreads()}


def modelled_board(config, network, board, plan=None, frame_wh: tuple[int, int] = (640, 480),
                   resize: str = "darknet") -> dict:
    """The board as the models see it, for ``config``: the accelerator's frame, the end-to-end frame
    (the ARM's steps around it, ``dse.arm``) and the ARM-only baselines. All modelled or sourced."""
    from zynqyolo.dse import arm, perf

    plan = plan or perf.plan_for(network, config)
    e = perf.estimate(config, network, board, plan=plan)
    return {"board": board.name, "clock_mhz": config.clock_mhz, "design": config.name,
            "accelerator_ms": e.latency_ms, "kind": "modelled", "estimate": e,
            "end_to_end": arm.end_to_end(e, plan, network, frame_wh, resize).to_dict(),
            "arm_only": arm.arm_only_baselines(network, board.cpu_clock_mhz)}


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


def default_network(size: int | None = None):
    """The fetched darknet YOLOv3-tiny as a network IR (at its cfg's 416x416, or ``size``)."""
    from zynqyolo.fetch import model_paths
    from zynqyolo.model import load_cfg

    return load_cfg(model_paths()[0], width=size, height=size)


def comparison(detector, image, board_name: str = "zedboard") -> list[tuple[str, float, str]]:
    """Rows (what, ms per frame, how) comparing ``detector`` (a ``zynqyolo.Detector`` on a board
    backend, just run on ``image``) with the ARM-only baseline, each labelled. On a board: its own
    measurements (the last frame's stages, numpy and OpenCV DNN on its ARM). Elsewhere: the board's
    figures modelled (with their sources) and, apart, this machine's measurements, labelled as such."""
    from zynqyolo.dse.devices import get_board
    from zynqyolo.fetch import model_paths
    from zynqyolo.model import load_weights
    from zynqyolo.model.preprocess import letterbox

    net = detector.network
    here = machine()
    board = get_board(board_name)
    rows: list[tuple[str, float, str]] = []
    t = detector.timings
    real = detector.name == "pynq"
    where = "measured on the board" if real else f"measured on this machine ({here}), emulated board"
    rows.append(("accelerator (detector.timings)", t["accelerator_ms"], where))
    rows.append(("whole frame, letterbox to NMS (detector.timings)", t["total_ms"], where))
    if detector.config is not None:
        mb = modelled_board(detector.config, net, board, plan=detector.driver.plan, frame_wh=image.shape[1::-1],
                            resize=detector.resize)
        rows.append((f"accelerator on the {board.name}", mb["accelerator_ms"], "modelled"))
        e2e = mb["end_to_end"]
        rows.append((f"end-to-end frame on the {board.name} ({e2e['throughput_fps']:.1f} fps pipelined)",
                     e2e["latency_ms"], f"modelled, ARM share {e2e['arm_share']:.0%}"))
        for key, label in (("neon_peak_bound", "ARM-only, NEON peak bound"),
                           ("darknet_baremetal", "ARM-only, darknet bare metal")):
            rows.append((label, mb["arm_only"][key]["ms"], mb["arm_only"][key]["kind"]))
    x = letterbox(image, net.width, net.height)
    base = time_baseline(net, load_weights(model_paths()[1], net), detector.model, [x])
    who = "measured on the board's ARM" if base["on_board"] else f"measured on this machine ({here}), not the board"
    for key, label in (("float32", "CPU only: numpy float32"), ("integer", "CPU only: numpy integer reference"),
                       ("opencv_dnn", "CPU only: OpenCV DNN")):
        if key in base:
            rows.append((label, base[key]["frame_ms"], who))
    return rows
