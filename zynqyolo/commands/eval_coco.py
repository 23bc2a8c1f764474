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
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=run)


def open_backend(name: str, args):
    """Backend factory: the project's registry (``model.detector``) for torch / onnx / ref."""
    from ..backends import open_backend as registry

    return registry(name, cfg=args.cfg, weights=args.weights, model=args.model)


def run(args) -> int:
    from ..model.metrics import evaluate_coco

    if not 0.0 <= args.conf < 1.0:
        raise ZynqyoloError(f"--conf must be in [0, 1), got {args.conf}")
    if args.limit is not None and args.limit < 1:
        raise ZynqyoloError(f"--limit must be >= 1, got {args.limit}")
    if not args.images.is_dir():
        raise ZynqyoloError(f"--images {args.images}: not a directory")
    if not args.annotations.is_file():
        raise ZynqyoloError(f"--annotations {args.annotations}: file not found")
    backend = open_backend(args.backend, args)
    stats = evaluate_coco(backend, args.images, args.annotations, conf=args.conf, limit=args.limit,
                          log=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print(json.dumps({"backend": args.backend, **stats}))
        return 0
    print(f"COCO bbox evaluation, backend {args.backend}, {stats['images']} images")
    for name, value in stats.items():
        if name != "images":
            print(f"  {name:<10} {value:.4f}")
    return 0
