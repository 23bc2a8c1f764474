"""``zynqyolo fidelity``: how closely the integer reference of a quantised model follows the float model."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("fidelity", help="mAP@0.5 of a quantised model against the float model, per-layer SQNR",
                       description="Run the numpy float reference and the bit-exact integer reference on images. "
                                   "The float detections (score >= 0.25, after NMS) are the ground truth, the "
                                   "integer reference's detections (score >= 0.005) the predictions; prints "
                                   "mAP@0.5 and the SQNR of every conv and YOLO layer.")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--model", type=Path, required=True, help="quantised model (.npz from 'zynqyolo quantize')")
    p.add_argument("--json", action="store_true", help='print {"map50", "images", "bits", ...} as JSON')
    p.add_argument("--cfg", type=Path, help="darknet cfg the model was made from (default: the fetched one)")
    p.add_argument("--weights", type=Path, help="darknet weights (default: the fetched yolov3-tiny.weights)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fetch import model_paths
    from ..model.cfg import load_cfg
    from ..model.float_ref import FloatReference
    from ..model.intref import IntegerReference
    from ..model.metrics import fidelity
    from ..model.preprocess import load_image
    from ..model.quantize import load_model
    from ..model.weights import load_weights

    images = [load_image(path) for path in args.images]  # fail early on a bad image
    cfg, weights = args.cfg, args.weights
    if cfg is None or weights is None:
        default_cfg, default_weights, _ = model_paths()
        cfg, weights = cfg or default_cfg, weights or default_weights
    stored = load_model(args.model)
    network = load_cfg(cfg, width=stored.network.width, height=stored.network.height)
    model = load_model(args.model, network=network)  # refuses a model made from another cfg
    report = fidelity(FloatReference(network, load_weights(weights, network)), IntegerReference(model), images,
                      sqnr=True, log=lambda msg: print(msg, file=sys.stderr))
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    print(f"{model.bits}-bit model {args.model} on {report.images} images: fidelity mAP@0.5 {report.map50:.4f} "
          f"({report.n_gt} float detections as ground truth, {report.n_pred} quantised predictions)")
    print(f"{'layer':>5} {'kind':<14} {'SQNR dB':>8}")
    for index, db in report.sqnr_db.items():
        kind = network.layers[index].kind
        print(f"{index:>5} {kind:<14} {db:8.2f}" if math.isfinite(db) else f"{index:>5} {kind:<14} {'exact':>8}")
    return 0
