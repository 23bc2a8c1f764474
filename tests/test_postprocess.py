"""YOLO decoding and NMS with darknet semantics, on hand-built outputs with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.postprocess import decode, iou_cxcywh, nms_per_class


def _empty(network):
    return [np.zeros(y.out_shape.as_tuple(), np.float32) for y in network.yolos]


def _put(out, anchor, row, col, tx, ty, tw, th, obj, cls, score, classes=80):
    base = anchor * (classes + 5)
    out[base:base + 5, row, col] = [tx, ty, tw, th, obj]
    out[base + 5 + cls, row, col] = score


def test_single_box_decoded_by_hand(network):
    outs = _empty(network)
    _put(outs[0], anchor=1, row=6, col=4, tx=0.5, ty=0.25, tw=math.log(0.5), th=0.0, obj=0.9, cls=2, score=0.8)
    dets = decode(outs, network, (832, 416), conf=0.25)
    assert len(dets) == 1 and dets[0].class_id == 2
    assert dets[0].score == pytest.approx(0.72, rel=1e-6)
    # layer 16 is 13x13 with anchors (81,82) (135,169) (344,319); anchor 1 = (135, 169).
    # 832x416 letterboxed into 416x416: new 416x208, vertical offset (416-208)/2/416 = 0.25.
    x = 4.5 / 13
    y = (6.25 / 13 - 0.25) / 0.5
    w = 0.5 * 135 / 416
    h = 169 / 416 * 2
    expected = ((x - w / 2) * 832, (y - h / 2) * 416, (x + w / 2) * 832, (y + h / 2) * 416)
    assert dets[0].box == pytest.approx(expected, abs=1e-3)


def test_threshold_and_clipping(network):
    outs = _empty(network)
    _put(outs[1], anchor=0, row=0, col=0, tx=0.1, ty=0.1, tw=3.0, th=3.0, obj=0.6, cls=0, score=0.5)  # 0.30
    _put(outs[1], anchor=2, row=10, col=10, tx=0.5, ty=0.5, tw=0.0, th=0.0, obj=0.5, cls=1, score=0.4)  # 0.20
    dets = decode(outs, network, (416, 416), conf=0.25)
    assert [d.class_id for d in dets] == [0]
    x1, y1, x2, y2 = dets[0].box
    assert x1 == 0.0 and y1 == 0.0 and x2 <= 415 and y2 <= 415  # clipped to the image
    assert len(decode(outs, network, (416, 416), conf=0.1)) == 2
    with pytest.raises(ZynqyoloError):
        decode(outs, network, (416, 416), conf=1.5)
    with pytest.raises(ZynqyoloError, match="expected 2 YOLO outputs"):
        decode(outs[:1], network, (416, 416))


def test_nms_per_class_by_hand():
    boxes = np.array([[0.5, 0.5, 0.2, 0.2],    # A
                      [0.52, 0.5, 0.2, 0.2],   # B: IoU(A,B) = 0.18*0.2 / (0.08 - 0.036) = 0.818
                      [0.58, 0.5, 0.2, 0.2],   # C: IoU(A,C) = 0.12*0.2/(0.08-0.024) = 0.4286, IoU(B,C) = 0.538
                      [0.1, 0.1, 0.1, 0.1]])   # D: far away
    assert iou_cxcywh(boxes[0], boxes[1:2])[0] == pytest.approx(0.036 / 0.044)
    probs = np.array([[0.9, 0.0], [0.8, 0.7], [0.7, 0.0], [0.6, 0.0]])
    out = nms_per_class(boxes, probs, 0.45)
    # class 0: A keeps; B suppressed by A; C survives A (0.43 <= 0.45) and B is already gone; D keeps.
    assert out[:, 0].tolist() == [0.9, 0.0, 0.7, 0.6]
    assert out[:, 1].tolist() == [0.0, 0.7, 0.0, 0.0]  # class 1 is independent


def test_same_class_duplicates_merged(network):
    outs = _empty(network)
    _put(outs[1], anchor=0, row=5, col=5, tx=0.5, ty=0.5, tw=1.0, th=1.0, obj=0.9, cls=7, score=0.9)
    _put(outs[1], anchor=0, row=5, col=6, tx=0.1, ty=0.5, tw=1.0, th=1.0, obj=0.8, cls=7, score=0.9)
    dets = decode(outs, network, (416, 416))
    assert len(dets) == 1 and dets[0].score == pytest.approx(0.81)
