"""``zynqyolo detect``: run a backend on images, draw labelled boxes, print detections."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ZynqyoloError


def register(sub) -> None:
    from ..backends import BACKENDS
    from ..model.postprocess import DEFAULT_CONF, DEFAULT_NMS

    p = sub.add_parser("detect", help="detect objects in images",
                       description="Run YOLOv3-tiny on images with the chosen backend; draw and/or print detections.")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--backend", default="torch", choices=list(BACKENDS),
                   help="torch: PyTorch float; onnx: onnxruntime; ref: bit-exact integer reference "
                        "(needs --model); csim: the HLS kernels in C simulation; emu: the host driver on the emulated "
                        "board; pynq: the host driver on a PYNQ board (needs --bitstream); cpu: numpy float32 only "
                        "(default: torch)")
    p.add_argument("-o", "--output", type=Path,
                   help="annotated picture (.png/.jpg); a directory when several images are given")
    p.add_argument("--json", action="store_true", help="print one JSON list of detections per image (JSON Lines)")
    p.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"score threshold (darknet: {DEFAULT_CONF})")
    p.add_argument("--nms", type=float, default=DEFAULT_NMS, help=f"NMS IoU threshold (darknet: {DEFAULT_NMS})")
    p.add_argument("--model", type=Path, help="quantised model file (ref/csim backends) or an .onnx file (onnx)")
    p.add_argument("--design", type=Path, help="design point JSON (csim/emu/pynq backends)")
    p.add_argument("--bitstream", type=Path, help="bitstream folder written by 'zynqyolo build' (pynq backend)")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg)")
    p.add_argument("--weights", type=Path, help="darknet weights (default: the fetched yolov3-tiny.weights)")
    p.add_argument("--names", type=Path, help="class names file (default: the fetched coco.names)")
    p.set_defaults(func=run)


def _outputs(images: list[Path], output: Path | None) -> list[Path | None]:
    if output is None:
        return [None] * len(images)
    if len(images) == 1 and not output.is_dir():
        return [output]
    if output.exists() and not output.is_dir():
        raise ZynqyoloError(f"-o {output}: with several images, -o must be a directory")
    return [output / f"{img.stem}_det.png" for img in images]


def run(args) -> int:
    from ..fetch import model_paths
    from ..backends import detect, open_backend
    from ..model.draw import draw_detections, save_image_atomic
    from ..model.postprocess import load_names
    from ..model.preprocess import load_image

    # Validate everything before any work so a bad argument leaves no output behind.
    if not 0.0 <= args.conf < 1.0:
        raise ZynqyoloError(f"--conf must be in [0, 1), got {args.conf}")
    if not 0.0 < args.nms <= 1.0:
        raise ZynqyoloError(f"--nms must be in (0, 1], got {args.nms}")
    outputs = _outputs(args.images, args.output)
    for out in outputs:
        if out is not None and out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".webp"):
            raise ZynqyoloError(f"output {out}: unsupported suffix; use .png or .jpg")
    images = [load_image(path) for path in args.images]
    names = load_names(args.names or model_paths()[2])
    backend = open_backend(args.backend, cfg=args.cfg, weights=args.weights, model=args.model, design=args.design,
                           bitstream=args.bitstream)

    if args.output is not None and len(args.images) > 1:
        args.output.mkdir(parents=True, exist_ok=True)
    for path, image, out in zip(args.images, images, outputs):
        start = time.perf_counter()
        dets = detect(backend, image, conf=args.conf, nms=args.nms, names=names)
        elapsed_ms = (time.perf_counter() - start) * 1e3
        if out is not None:
            save_image_atomic(draw_detections(image, dets), out)
        if args.json:
            print(json.dumps([d.to_json() for d in dets]))
        else:
            print(f"{path}: {len(dets)} detections ({backend.name}, {elapsed_ms:.0f} ms)"
                  + (f" -> {out}" if out else ""))
            for d in dets:
                x1, y1, x2, y2 = d.box
                print(f"  {d.class_name:<16} {d.score:5.3f}  [{x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}]")
    return 0
