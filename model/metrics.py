"""Accuracy metrics: mAP@0.5, fidelity of a quantised model to the float model, per-layer SQNR,
and a COCO evaluator built on pycocotools.

mAP@0.5 (``mean_average_precision``), written down once:

- Boxes are (x1, y1, x2, y2) in continuous pixel coordinates; area = (x2 - x1) * (y2 - y1) (no
  +1); IoU = intersection / union, 0 when the union is 0.
- Per class, the predictions of all images are sorted by score, highest first (a stable sort:
  ties keep image order, then the order given). Each prediction is matched to the not yet
  matched ground-truth box of its class in its image with the highest IoU; it is a true
  positive when that IoU >= 0.5, else a false positive (a duplicate of a matched box is a false
  positive).
- After prediction i: recall r_i = TP_i / n_gt, precision p_i = TP_i / i. The precision
  envelope p*(r_i) = max_{j >= i} p_j makes the curve monotone; AP = sum_i (r_i - r_{i-1}) *
  p*(r_i) with r_0 = 0 (all-point interpolation, as PASCAL VOC 2010+).
- mAP = mean of AP over the classes that have at least one ground-truth box (a class with ground
  truth and no prediction has AP 0; predictions of classes without ground truth do not count).

Fidelity (``fidelity``): the float model's detections with score >= 0.25 after NMS are the ground
truth, the quantised model's detections at score >= 0.005 (after the same NMS) the predictions;
fidelity = mAP@0.5 of the latter against the former. 1.0 means the quantised model finds every
float detection, ranked above its own spurious ones.

SQNR of a layer: 10 log10(sum f^2 / sum (f - q)^2) summed over the given images, f the float
activation, q the dequantised integer one (YOLO layers in darknet's convention).
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from zynqyolo import validate
from zynqyolo.errors import ZynqyoloError

IOU_THRESHOLD = 0.5
FIDELITY_GT_CONF = 0.25
FIDELITY_PRED_CONF = 0.005
COCO_EVAL_CONF = 0.005

# darknet's 80 COCO class ids (coco.names order) -> COCO category ids (1..90, 11 ids unused).
COCO80_TO_91 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
                32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
                58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87,
                88, 89, 90)


# ----------------------------------------------------------------------------------------------
# mAP@0.5
# ----------------------------------------------------------------------------------------------


def box_iou(box: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box against (N, 4) boxes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = (float(v) for v in box)
    iw = np.clip(np.minimum(x2, boxes[:, 2]) - np.maximum(x1, boxes[:, 0]), 0.0, None)
    ih = np.clip(np.minimum(y2, boxes[:, 3]) - np.maximum(y1, boxes[:, 1]), 0.0, None)
    inter = iw * ih
    union = (x2 - x1) * (y2 - y1) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def average_precision(is_tp: Sequence[bool], n_gt: int) -> float:
    """All-point interpolated AP from the TP/FP flags of score-sorted predictions."""
    if n_gt <= 0:
        raise ZynqyoloError("average precision needs at least one ground-truth box")
    tp = np.cumsum(np.asarray(is_tp, dtype=np.float64))
    if tp.size == 0:
        return 0.0
    recall = tp / n_gt
    precision = tp / np.arange(1, tp.size + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


@dataclass(frozen=True)
class MapResult:
    map50: float
    ap_per_class: dict[int, float]
    n_gt: int
    n_pred: int
    n_images: int


def mean_average_precision(ground_truth: Sequence[Sequence], predictions: Sequence[Sequence],
                           iou_threshold: float = IOU_THRESHOLD) -> MapResult:
    """mAP over images: ``ground_truth[i]`` and ``predictions[i]`` are sequences of objects with
    ``class_id``, ``box`` (x1, y1, x2, y2) and, for predictions, ``score`` (e.g. ``Detection``)."""
    if len(ground_truth) != len(predictions):
        raise ZynqyoloError(f"{len(ground_truth)} ground-truth lists for {len(predictions)} prediction lists")
    gt_by: dict[tuple[int, int], np.ndarray] = {}
    n_gt_class: dict[int, int] = {}
    for img, objs in enumerate(ground_truth):
        per: dict[int, list] = {}
        for o in objs:
            per.setdefault(int(o.class_id), []).append(o.box)
        for k, boxes in per.items():
            gt_by[(img, k)] = np.asarray(boxes, dtype=np.float64)
            n_gt_class[k] = n_gt_class.get(k, 0) + len(boxes)
    preds: dict[int, list[tuple[float, int, int, tuple]]] = {}
    n_pred = 0
    for img, objs in enumerate(predictions):
        for order, o in enumerate(objs):
            preds.setdefault(int(o.class_id), []).append((float(o.score), img, order, tuple(o.box)))
            n_pred += 1
    ap: dict[int, float] = {}
    for k in sorted(n_gt_class):
        items = sorted(preds.get(k, []), key=lambda t: -t[0])  # stable: ties keep (image, order)
        matched = {key: np.zeros(len(b), dtype=bool) for key, b in gt_by.items() if key[1] == k}
        flags = []
        for _, img, _, box in items:
            gts = gt_by.get((img, k))
            if gts is None:
                flags.append(False)
                continue
            ious = np.where(matched[(img, k)], -1.0, box_iou(box, gts))
            best = int(np.argmax(ious))
            hit = ious[best] >= iou_threshold
            if hit:
                matched[(img, k)][best] = True
            flags.append(bool(hit))
        ap[k] = average_precision(flags, n_gt_class[k])
    m = float(np.mean(list(ap.values()))) if ap else float("nan")
    return MapResult(m, ap, sum(n_gt_class.values()), n_pred, len(ground_truth))


# ----------------------------------------------------------------------------------------------
# Fidelity and SQNR
# ----------------------------------------------------------------------------------------------


def sqnr_db(signal_energy: float, noise_energy: float) -> float:
    if noise_energy == 0.0:
        return math.inf
    if signal_energy == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal_energy / noise_energy)


@dataclass
class FidelityReport:
    map50: float
    images: int
    bits: int | None
    n_gt: int
    n_pred: int
    sqnr_db: dict[int, float] = field(default_factory=dict)  # layer index -> dB

    def to_json(self) -> dict:
        finite = [v for v in self.sqnr_db.values() if math.isfinite(v)]
        return {"map50": self.map50, "images": self.images, "bits": self.bits, "ground_truth_boxes": self.n_gt,
                "predictions": self.n_pred,
                "sqnr_db": {str(k): (round(v, 3) if math.isfinite(v) else None) for k, v in self.sqnr_db.items()},
                "sqnr_db_min": min(finite) if finite else None, "sqnr_db_max": max(finite) if finite else None}


def fidelity(float_backend, quant_backend, images: Sequence, sqnr: bool = False,
             log: Callable[[str], None] = lambda msg: None) -> FidelityReport:
    """mAP@0.5 of ``quant_backend`` against ``float_backend``'s detections (module docstring) on
    ``images`` (paths or uint8 (H, W, 3) arrays). With ``sqnr``, both backends must offer
    ``activations(x)`` (``FloatReference``, ``IntegerReference``): per-layer SQNR is added."""
    from .postprocess import decode
    from .preprocess import letterbox, load_image

    images = list(images)
    if not images:
        raise ZynqyoloError("fidelity needs at least one image")
    net = float_backend.network
    if quant_backend.network.content_hash != net.content_hash:
        raise ZynqyoloError("the float and quantised backends run different networks")
    gts, preds = [], []
    signal: dict[int, float] = {}
    noise: dict[int, float] = {}
    for n, item in enumerate(images, 1):
        image = load_image(item) if not isinstance(item, np.ndarray) else item
        x = letterbox(image, net.width, net.height)
        wh = (image.shape[1], image.shape[0])
        if sqnr:
            f_acts = float_backend.activations(x)
            q_codes = quant_backend.activations(x)
            f_out = [f_acts[y.index] for y in net.yolos]
            q_out = [quant_backend.dequantize_layer(y.index, q_codes[y.index]) for y in net.yolos]
            for layer in net.layers:
                if layer.kind not in ("convolutional", "yolo"):
                    continue
                f = f_acts[layer.index].astype(np.float64)
                q = quant_backend.dequantize_layer(layer.index, q_codes[layer.index])
                signal[layer.index] = signal.get(layer.index, 0.0) + float(np.sum(f * f))
                noise[layer.index] = noise.get(layer.index, 0.0) + float(np.sum((f - q) ** 2))
        else:
            f_out = float_backend.forward(x)
            q_out = quant_backend.forward(x)
        gts.append(decode(f_out, net, wh, conf=FIDELITY_GT_CONF))
        preds.append(decode(q_out, net, wh, conf=FIDELITY_PRED_CONF))
        name = item.name if isinstance(item, Path) else f"image {n}"
        log(f"{name} ({n}/{len(images)}): {len(gts[-1])} float detections, {len(preds[-1])} quantised")
    result = mean_average_precision(gts, preds)
    if result.n_gt == 0:
        raise ZynqyoloError(f"the float model detects nothing (score >= {FIDELITY_GT_CONF}) in these {len(images)} "
                            "images, so fidelity is undefined; use images with objects in them")
    bits = getattr(getattr(quant_backend, "model", None), "bits", None)
    db = {k: sqnr_db(signal[k], noise[k]) for k in signal}
    return FidelityReport(result.map50, len(images), bits, result.n_gt, result.n_pred, db)


# ----------------------------------------------------------------------------------------------
# COCO
# ----------------------------------------------------------------------------------------------

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
                   "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


def coco_category_ids(classes: int) -> tuple[int, ...]:
    if classes != 80:
        raise ZynqyoloError(f"the standard COCO id table covers 80 classes; this network has {classes}: "
                            "pass category_ids explicitly")
    return COCO80_TO_91


def coco_results(detections: dict[int, Sequence], category_ids: Sequence[int] = COCO80_TO_91) -> list[dict]:
    """{image_id: detections} -> COCO result records ([x, y, w, h] boxes, category ids)."""
    out = []
    for image_id, dets in detections.items():
        for d in dets:
            if not 0 <= int(d.class_id) < len(category_ids):
                raise ZynqyoloError(f"class id {d.class_id} has no COCO category (table of {len(category_ids)})")
            x1, y1, x2, y2 = (float(v) for v in d.box)
            out.append({"image_id": int(image_id), "category_id": int(category_ids[int(d.class_id)]),
                        "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(d.score)})
    return out


def _load_annotations(annotations) -> dict:
    """COCO instances annotations (a path or the parsed dict), checked as far as this code reads
    them: an object with the ``images``, ``annotations`` and ``categories`` lists, every image an
    object with an integer ``id`` and a string ``file_name``."""
    if isinstance(annotations, dict):
        data, where = annotations, "COCO annotations"
    else:
        path = Path(annotations)
        if not path.exists():
            raise ZynqyoloError(f"annotations file not found: {path}")
        data, where = validate.json_file(path, "COCO annotations"), f"COCO annotations {path}"
    validate.mapping(data, where, required=("images", "annotations", "categories"))
    for key in ("images", "annotations", "categories"):
        validate.sequence(data[key], f"{where}: '{key}'")
    for n, entry in enumerate(data["images"]):
        validate.mapping(entry, f"{where}: image {n}", required=("id", "file_name"))
        validate.integer(entry["id"], f"{where}: image {n} id")
        validate.text(entry["file_name"], f"{where}: image {n} file_name")
    return data


def coco_evaluate(annotations, results: list[dict], image_ids: Sequence[int] | None = None) -> dict[str, float]:
    """pycocotools bbox evaluation. ``annotations``: a COCO json path or dict. Returns the 12
    standard statistics by name (AP = mAP@[.5:.95], AP50 = mAP@0.5, ...)."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ZynqyoloError("COCO evaluation needs pycocotools: pip install pycocotools") from None
    data = _load_annotations(annotations)
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ZynqyoloError(f"COCO annotations lack the '{key}' list")
    if not results:
        return {name: 0.0 for name in COCO_STAT_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(COCO_STAT_NAMES, ev.stats)}


def evaluate_coco(backend, images_dir: str | Path, annotations, conf: float = COCO_EVAL_CONF, nms: float = 0.45,
                  limit: int | None = None, category_ids: Sequence[int] | None = None,
                  log: Callable[[str], None] = lambda msg: None) -> dict[str, float]:
    """Run ``backend`` on the annotated images found in ``images_dir`` and evaluate with pycocotools."""
    from .postprocess import decode
    from .preprocess import letterbox, load_image

    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise ZynqyoloError(f"images directory not found: {images_dir}")
    data = _load_annotations(annotations)
    net = backend.network
    ids = category_ids or coco_category_ids(net.yolos[0].classes)
    entries = sorted(data.get("images", []), key=lambda e: e["id"])
    if limit is not None:
        entries = entries[:limit]
    if not entries:
        raise ZynqyoloError("the annotations list no images")
    detections: dict[int, list] = {}
    for n, entry in enumerate(entries, 1):
        path = images_dir / entry["file_name"]
        if not path.is_file():
            raise ZynqyoloError(f"annotated image {entry['file_name']} (id {entry['id']}) not found in {images_dir}")
        image = load_image(path)
        outs = backend.forward(letterbox(image, net.width, net.height))
        detections[int(entry["id"])] = decode(outs, net, (image.shape[1], image.shape[0]), conf=conf, nms=nms)
        if n % 50 == 0 or n == len(entries):
            log(f"{n}/{len(entries)} images")
    stats = coco_evaluate(data, coco_results(detections, ids), [e["id"] for e in entries])
    stats["images"] = len(entries)
    return stats
