"""YOLO decoding and non-maximum suppression with darknet's semantics.

Input: the YOLO layers' outputs, one float array (C, h, w) per ``Yolo`` layer in IR order,
in darknet's convention: sigmoid already applied to tx, ty, objectness and the class
scores, tw and th raw. For anchor ``a`` the channels are ``a*(5+classes) + [tx, ty, tw, th,
obj, cls0, ...]``.

Darknet (``get_yolo_detections``, ``correct_yolo_boxes``, ``do_nms_sort``):

- a cell/anchor is a candidate when objectness > conf; its class probabilities are
  objectness * class score, zeroed when not > conf;
- box centre (col + x) / w, (row + y) / h; size exp(tw) * anchor_w / net_w, exp(th) * anchor_h / net_h;
- letterbox correction back to the original image, with the centring offset
  (net - new) / 2 in floating point;
- NMS per class: candidates sorted by that class's probability, a box suppresses later
  ones whose IoU exceeds the threshold by zeroing their probability for that class;
- one labelled detection per (box, class) whose probability survives (> conf), box corners
  clipped to the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zynqyolo import validate
from zynqyolo.errors import ZynqyoloError

from .ir import Network
from .preprocess import letterbox_size

# darknet's defaults: "-thresh" 0.25 as documented for YOLOv3 (its 'detect' help and the
# project page: objects with confidence .25 or higher are shown), NMS IoU 0.45 in test_detector.
DEFAULT_CONF = 0.25
DEFAULT_NMS = 0.45


@dataclass(frozen=True)
class Detection:
    class_id: int
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original-image pixels
    class_name: str = ""

    def to_json(self) -> dict:
        return {"class": self.class_name, "class_id": self.class_id, "score": round(float(self.score), 6),
                "box": [round(float(v), 2) for v in self.box]}


def load_names(path: str | Path, classes: int | None = None) -> list[str]:
    """Class names, one per line (darknet's .names). ``classes``: the network's class count, which
    the file must match (a names file for another network would label every box wrongly)."""
    names = [line.strip() for line in validate.text_file(path, "class names").splitlines()]
    while names and not names[-1]:
        names.pop()
    return validate.class_names(names, classes, str(path))


def _candidates(outputs: list[np.ndarray], network: Network, conf: float):
    """Darknet get_yolo_detections + get_yolo_box, in network-relative coordinates.

    Returns boxes (N, 4) as centre x, y, w, h relative to the network input, objectness (N,)
    and class probabilities (N, classes) already thresholded.
    """
    yolos = network.yolos
    if len(outputs) != len(yolos):
        raise ZynqyoloError(f"expected {len(yolos)} YOLO outputs, got {len(outputs)}")
    boxes, objs, probs = [], [], []
    for out, layer in zip(outputs, yolos):
        out = np.asarray(out, dtype=np.float32)
        if out.shape != layer.out_shape.as_tuple():
            raise ZynqyoloError(f"YOLO layer {layer.index}: output shape {out.shape}, expected "
                                f"{layer.out_shape.as_tuple()}")
        n, per = layer.n_anchors, layer.classes + 5
        _, lh, lw = out.shape
        # (h*w, anchors, per): darknet enumerates cell i = row*w + col, then anchor n.
        pred = out.reshape(n, per, lh * lw).transpose(2, 0, 1)
        obj = pred[:, :, 4]
        keep = obj > conf
        if not keep.any():
            continue
        cell, anchor = np.nonzero(keep)
        row, col = cell // lw, cell % lw
        p = pred[cell, anchor]
        aw = np.array([a[0] for a in layer.masked_anchors], dtype=np.float64)[anchor]
        ah = np.array([a[1] for a in layer.masked_anchors], dtype=np.float64)[anchor]
        bx = (col + p[:, 0].astype(np.float64)) / lw
        by = (row + p[:, 1].astype(np.float64)) / lh
        bw = np.exp(p[:, 2].astype(np.float64)) * aw / network.width
        bh = np.exp(p[:, 3].astype(np.float64)) * ah / network.height
        o = p[:, 4].astype(np.float64)
        cls = o[:, None] * p[:, 5:].astype(np.float64)
        cls[cls <= conf] = 0.0
        boxes.append(np.stack([bx, by, bw, bh], axis=1))
        objs.append(o)
        probs.append(cls)
    if not boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, yolos[0].classes))
    return np.concatenate(boxes), np.concatenate(objs), np.concatenate(probs)


def _correct(boxes: np.ndarray, network: Network, image_w: int, image_h: int) -> np.ndarray:
    """darknet correct_yolo_boxes: undo the letterbox, relative to the original image."""
    new_w, new_h = letterbox_size(image_w, image_h, network.width, network.height)
    nw, nh = network.width, network.height
    out = boxes.copy()
    out[:, 0] = (boxes[:, 0] - (nw - new_w) / 2.0 / nw) / (new_w / nw)
    out[:, 1] = (boxes[:, 1] - (nh - new_h) / 2.0 / nh) / (new_h / nh)
    out[:, 2] = boxes[:, 2] * nw / new_w
    out[:, 3] = boxes[:, 3] * nh / new_h
    return out


def iou_cxcywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one centre-format box ``a`` (4,) against many ``b`` (N, 4), darknet box_iou."""
    ix = np.minimum(a[0] + a[2] / 2, b[:, 0] + b[:, 2] / 2) - np.maximum(a[0] - a[2] / 2, b[:, 0] - b[:, 2] / 2)
    iy = np.minimum(a[1] + a[3] / 2, b[:, 1] + b[:, 3] / 2) - np.maximum(a[1] - a[3] / 2, b[:, 1] - b[:, 3] / 2)
    inter = np.where((ix > 0) & (iy > 0), ix * iy, 0.0)
    union = a[2] * a[3] + b[:, 2] * b[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``iou_cxcywh`` of every box of ``a`` (M, 4) against every box of ``b`` (N, 4): (M, N), the same
    float64 arithmetic element for element."""
    a, b = a[:, None, :], b[None, :, :]
    ix = (np.minimum(a[..., 0] + a[..., 2] / 2, b[..., 0] + b[..., 2] / 2)
          - np.maximum(a[..., 0] - a[..., 2] / 2, b[..., 0] - b[..., 2] / 2))
    iy = (np.minimum(a[..., 1] + a[..., 3] / 2, b[..., 1] + b[..., 3] / 2)
          - np.maximum(a[..., 1] - a[..., 3] / 2, b[..., 1] - b[..., 3] / 2))
    inter = np.where((ix > 0) & (iy > 0), ix * iy, 0.0)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


NMS_MATRIX_MAX = 512  # candidates of one class up to which NMS computes all IoUs at once


def nms_per_class(boxes: np.ndarray, probs: np.ndarray, threshold: float) -> np.ndarray:
    """darknet do_nms_sort on (N, 4) centre boxes and (N, classes) probabilities; returns new probs.

    Per class: candidates by decreasing probability; each one still alive suppresses the later ones
    whose IoU with it exceeds the threshold. The IoUs of a class's candidates are computed at once
    (a few numpy calls per class instead of about twenty per candidate: this runs on the board's ARM)."""
    probs = probs.copy()
    for k in np.nonzero(probs.any(axis=0))[0]:
        order = np.argsort(-probs[:, k], kind="stable")
        order = order[probs[order, k] > 0]
        if order.size > NMS_MATRIX_MAX:
            for pos, i in enumerate(order):
                if probs[i, k] == 0:
                    continue
                rest = order[pos + 1:]
                if rest.size:
                    suppressed = rest[iou_cxcywh(boxes[i], boxes[rest]) > threshold]
                    probs[suppressed, k] = 0.0
            continue
        over = _iou_matrix(boxes[order], boxes[order]) > threshold
        alive = np.ones(order.size, dtype=bool)
        for pos in range(order.size - 1):
            if alive[pos]:
                alive[pos + 1:] &= ~over[pos, pos + 1:]
        probs[order[~alive], k] = 0.0
    return probs


def decode(outputs: list[np.ndarray], network: Network, image_wh: tuple[int, int],
           conf: float = DEFAULT_CONF, nms: float = DEFAULT_NMS, names: list[str] | None = None) -> list[Detection]:
    """YOLO outputs -> labelled detections in original-image pixels, highest score first."""
    if not 0.0 <= conf < 1.0:
        raise ZynqyoloError(f"--conf must be in [0, 1), got {conf}")
    if not 0.0 < nms <= 1.0:
        raise ZynqyoloError(f"--nms must be in (0, 1], got {nms}")
    image_w, image_h = image_wh
    boxes, _, probs = _candidates(outputs, network, conf)
    if len(boxes) == 0:
        return []
    boxes = _correct(boxes, network, image_w, image_h)
    if nms > 0:
        probs = nms_per_class(boxes, probs, nms)
    dets = []
    for i, k in zip(*np.nonzero(probs > conf)):
        x, y, w, h = boxes[i]
        x1 = min(max((x - w / 2) * image_w, 0.0), image_w - 1.0)
        x2 = min(max((x + w / 2) * image_w, 0.0), image_w - 1.0)
        y1 = min(max((y - h / 2) * image_h, 0.0), image_h - 1.0)
        y2 = min(max((y + h / 2) * image_h, 0.0), image_h - 1.0)
        name = names[k] if names is not None and k < len(names) else str(k)
        dets.append(Detection(int(k), float(probs[i, k]), (x1, y1, x2, y2), name))
    dets.sort(key=lambda d: -d.score)
    return dets
