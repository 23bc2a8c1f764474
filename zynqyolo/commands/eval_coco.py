"""``zynqyolo eval-coco``: COCO bbox evaluation (pycocotools) of a backend on a local COCO set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import ZynqyoloError


def register(sub) -> None:
    from ..backends import BACKENDS
    from ..model.metrics import COCO_EVAL_CONF

    p = sub.add_parser("eval-coco", help="COCO mAP of a backend on local COCO images and annotations",
                       description="Run a backend on every image listed in a COCO annotations file, map darknet's "
                                   "80 class ids to COCO category ids and evaluate with pycocotools "
                                   "(AP@[.5:.95], AP50, ...).")
    p.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder with the annotated images")
    p.add_argument("--annotations", type=Path, required=True, metavar="FILE", help="COCO instances JSON")
    p.add_argument("--backend", default="torch", choices=list(BACKENDS),
                   help="torch: PyTorch float (default); onnx: onnxruntime; ref: bit-exact integer reference "
                        "(needs --model)")
    p.add_argument("--model", type=Path, help="quantised model (ref backend) or .onnx file (onnx backend)")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg)")
    p.add_argument("--weights", type=Path, help="darknet weights (default: the fetched yolov3-tiny.weights)")
    p.add_argument("--conf", type=float, default=COCO_EVAL_CONF, help=f"score threshold (default {COCO_EVAL_CONF})")
    p.add_argument("--limit", type=int, help="evaluate only the first N images (by id)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes to spread the images over (default: the CPU count); each opens its own backend")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=run)


def open_backend(name: str, args):
    """Backend factory: the project's registry (``model.detector``) for torch / onnx / ref."""
    from ..backends import open_backend as registry

    return registry(name, cfg=args.cfg, weights=args.weights, model=args.model)


_WORKER = {}  # in each worker process: the Detector it opened


def _worker_init(options: dict) -> None:
    from .. import Detector

    _WORKER["detector"] = Detector(**options)


def _worker_detect(item: tuple[int, str]):
    image_id, path = item
    return image_id, _WORKER["detector"].detect(path)


def detect_all(entries: list[dict], images_dir: Path, options: dict, jobs: int, progress=None) -> dict[int, list]:
    """Detections of every annotated image, ``jobs`` processes at a time (each with its own Detector built
    from ``options``; one process: in this one). ``progress(done, total)`` after each image."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    items = []
    for entry in entries:
        path = images_dir / entry["file_name"]
        if not path.is_file():
            raise ZynqyoloError(f"annotated image {entry['file_name']} (id {entry['id']}) not found in {images_dir}")
        items.append((int(entry["id"]), str(path)))
    detections: dict[int, list] = {}
    if jobs <= 1 or len(items) <= 1:
        _worker_init(options)
        results = map(_worker_detect, items)
        pool = None
    else:
        # spawn: the workers start clean (no copy of this process's threads or open C-simulation handles)
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(options,))
        results = pool.map(_worker_detect, items, chunksize=max(1, min(16, len(items) // (4 * jobs))))
    try:
        for image_id, dets in results:
            detections[image_id] = dets
            if progress is not None:
                progress(len(detections), len(items))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return detections


def _classes(args) -> int:
    """The class count of the network the backend runs (the quantised model's, else the cfg's)."""
    from ..fetch import model_paths
    from ..model.cfg import load_cfg

    if args.model is not None and args.backend in ("ref", "csim", "emu", "pynq"):
        from ..model.quantize import load_model

        return load_model(args.model).network.yolos[0].classes
    return load_cfg(args.cfg or model_paths()[0]).yolos[0].classes


def run(args) -> int:
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..model.metrics import _load_annotations, coco_category_ids, coco_evaluate, coco_results

    if not 0.0 <= args.conf < 1.0:
        raise ZynqyoloError(f"--conf must be in [0, 1), got {args.conf}")
    if args.limit is not None and args.limit < 1:
        raise ZynqyoloError(f"--limit must be >= 1, got {args.limit}")
    jobs = os.cpu_count() or 1 if args.jobs is None else args.jobs
    if jobs < 1:
        raise ZynqyoloError(f"--jobs must be >= 1, got {args.jobs}")
    if not args.images.is_dir():
        raise ZynqyoloError(f"--images {args.images}: not a directory")
    if not args.annotations.is_file():
        raise ZynqyoloError(f"--annotations {args.annotations}: file not found")
    data = _load_annotations(args.annotations)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ZynqyoloError(f"COCO annotations lack the '{key}' list")
    entries = sorted(data["images"], key=lambda e: e["id"])[:args.limit]
    if not entries:
        raise ZynqyoloError("the annotations list no images")
    options = {"backend": args.backend, "model": args.model, "cfg": args.cfg, "weights": args.weights,
               "conf": args.conf, "nms": 0.45}
    with Progress(TextColumn("eval-coco"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("images", total=len(entries), rate="")
        import time

        start = time.perf_counter()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, rate=f"{done / max(time.perf_counter() - start, 1e-9):.2f} img/s")

        detections = detect_all(entries, args.images, options, jobs, progress)
    ids = coco_category_ids(_classes(args))
    stats = coco_evaluate(data, coco_results(detections, ids), [e["id"] for e in entries])
    stats["images"] = len(entries)
    stats["jobs"] = min(jobs, len(entries))
    if args.json:
        print(json.dumps({"backend": args.backend, **stats}))
        return 0
    print(f"COCO bbox evaluation, backend {args.backend}, {stats['images']} images, {stats['jobs']} processes")
    for name, value in stats.items():
        if name not in ("images", "jobs"):
            print(f"  {name:<10} {value:.4f}")
    return 0
