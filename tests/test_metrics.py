"""mAP@0.5 on hand-built cases with hand-computed answers, the COCO evaluator on a synthetic
COCO-format set, and the COCO id table."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.metrics import (COCO80_TO_91, average_precision, box_iou, coco_evaluate, coco_results,
                                    evaluate_coco, mean_average_precision)


@dataclass(frozen=True)
class Box:
    class_id: int
    box: tuple
    score: float = 1.0


def test_iou_by_hand():
    assert box_iou((0, 0, 10, 10), np.array([[0, 0, 10, 10]]))[0] == 1.0
    assert box_iou((0, 0, 10, 10), np.array([[5, 0, 15, 10]]))[0] == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), np.array([[20, 20, 30, 30]]))[0] == 0.0
    assert box_iou((0, 0, 0, 0), np.array([[0, 0, 0, 0]]))[0] == 0.0


def test_perfect_predictions_give_one():
    gt = [[Box(0, (0, 0, 10, 10)), Box(1, (20, 20, 40, 40))], [Box(0, (5, 5, 15, 15))]]
    pred = [[Box(0, (0, 0, 10, 10), 0.9), Box(1, (20, 20, 40, 40), 0.8)], [Box(0, (5, 5, 15, 15), 0.7)]]
    r = mean_average_precision(gt, pred)
    assert r.map50 == 1.0 and r.ap_per_class == {0: 1.0, 1: 1.0} and r.n_gt == 3 and r.n_pred == 3


def test_interpolated_ap_by_hand():
    # 2 GT; ranked TP, FP, TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    # envelope 1, 2/3, 2/3 -> AP = 1/2 * 1 + 0 + 1/2 * 2/3 = 5/6
    gt = [[Box(0, (0, 0, 10, 10)), Box(0, (50, 50, 60, 60))]]
    pred = [[Box(0, (0, 0, 10, 10), 0.9), Box(0, (100, 100, 110, 110), 0.8), Box(0, (50, 50, 60, 60), 0.7)]]
    assert mean_average_precision(gt, pred).map50 == pytest.approx(5 / 6)
    assert average_precision([True, False, True], 2) == pytest.approx(5 / 6)
    # envelope matters: FP first then TP with 1 GT -> precision 1/2 at recall 1 -> AP 1/2
    assert average_precision([False, True], 1) == pytest.approx(0.5)
    # missed ground truth caps recall: 1 TP of 3 GT -> AP 1/3
    assert average_precision([True], 3) == pytest.approx(1 / 3)
    assert average_precision([], 2) == 0.0


def test_mean_over_classes_present_in_ground_truth():
    # class 0: AP 1; class 1 (1 GT): FP ranked above TP -> AP 1/2; class 2 has no GT -> ignored
    gt = [[Box(0, (0, 0, 10, 10)), Box(1, (20, 20, 30, 30))]]
    pred = [[Box(0, (0, 0, 10, 10), 0.9), Box(1, (60, 60, 70, 70), 0.95), Box(1, (20, 20, 30, 30), 0.5),
             Box(2, (0, 0, 5, 5), 0.99)]]
    r = mean_average_precision(gt, pred)
    assert r.ap_per_class == pytest.approx({0: 1.0, 1: 0.5})
    assert r.map50 == pytest.approx(0.75)


def test_class_without_predictions_counts_zero():
    gt = [[Box(0, (0, 0, 10, 10)), Box(3, (20, 20, 30, 30))]]
    pred = [[Box(0, (0, 0, 10, 10), 0.9)]]
    assert mean_average_precision(gt, pred).map50 == pytest.approx(0.5)


def test_duplicates_and_wrong_image_are_false_positives():
    # image 0 has the GT; a duplicate on it and a box on image 1 are FPs ranked below the TP
    gt = [[Box(0, (0, 0, 10, 10))], []]
    pred = [[Box(0, (0, 0, 10, 10), 0.9), Box(0, (0, 0, 10, 10), 0.8)], [Box(0, (0, 0, 10, 10), 0.85)]]
    assert mean_average_precision(gt, pred).map50 == 1.0
    # the same FP ranked first: precision 1/2 at recall 1 -> AP 1/2
    pred = [[Box(0, (0, 0, 10, 10), 0.5)], [Box(0, (0, 0, 10, 10), 0.85)]]
    assert mean_average_precision(gt, pred).map50 == pytest.approx(0.5)


def test_iou_threshold_is_inclusive():
    gt = [[Box(0, (0, 0, 10, 10))]]
    assert mean_average_precision(gt, [[Box(0, (0, 0, 10, 5), 0.9)]]).map50 == 1.0  # IoU exactly 0.5
    assert mean_average_precision(gt, [[Box(0, (0, 0, 10, 4.9), 0.9)]]).map50 == 0.0


def test_matching_prefers_the_best_unmatched_box():
    # two GT boxes; the higher-scored prediction overlaps both but best the second one
    gt = [[Box(0, (0, 0, 10, 10)), Box(0, (2, 0, 12, 10))]]
    pred = [[Box(0, (2, 0, 12, 10), 0.9), Box(0, (0, 0, 10, 10), 0.8)]]
    assert mean_average_precision(gt, pred).map50 == 1.0


def test_mismatched_lists_are_refused():
    with pytest.raises(ZynqyoloError):
        mean_average_precision([[]], [[], []])


# ---- COCO -----------------------------------------------------------------------------------------


def test_coco_id_table():
    assert len(COCO80_TO_91) == 80 and list(COCO80_TO_91) == sorted(set(COCO80_TO_91))
    assert set(range(1, 91)) - set(COCO80_TO_91) == {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
    # coco.names order: person, bicycle, car, ... toothbrush
    assert [COCO80_TO_91[i] for i in range(3)] == [1, 2, 3] and COCO80_TO_91[79] == 90


def synthetic_coco():
    """3 images, 5 objects of COCO categories 1 (person) and 3 (car)."""
    images = [{"id": i, "file_name": f"im{i}.png", "width": 200, "height": 150} for i in (1, 2, 3)]
    boxes = [(1, 1, [10, 20, 50, 80]), (1, 3, [100, 30, 60, 40]), (2, 1, [30, 30, 90, 100]),
             (3, 3, [5, 5, 120, 60]), (3, 1, [140, 40, 40, 90])]
    anns = [{"id": n, "image_id": img, "category_id": cat, "bbox": bb, "area": bb[2] * bb[3], "iscrowd": 0}
            for n, (img, cat, bb) in enumerate(boxes, 1)]
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    return {"images": images, "annotations": anns, "categories": cats}


def _as_detections(data, shift_px=0.0, scale=1.0):
    inverse = {cat: k for k, cat in enumerate(COCO80_TO_91)}
    dets: dict[int, list] = {}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        x += shift_px
        dets.setdefault(a["image_id"], []).append(
            Box(inverse[a["category_id"]], (x, y, x + w * scale, y + h * scale), 0.9))
    return dets


def test_coco_results_format():
    res = coco_results({7: [Box(2, (10.0, 20.0, 40.0, 60.0), 0.5)]})
    assert res == [{"image_id": 7, "category_id": 3, "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.5}]
    with pytest.raises(ZynqyoloError, match="class id 80"):
        coco_results({1: [Box(80, (0, 0, 1, 1), 0.5)]})


def test_coco_perfect_predictions_score_one(tmp_path):
    data = synthetic_coco()
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    stats = coco_evaluate(path, coco_results(_as_detections(data)))
    assert stats["AP"] == pytest.approx(1.0) and stats["AP50"] == pytest.approx(1.0)


def test_coco_shifted_boxes_score_lower():
    data = synthetic_coco()
    perfect = coco_evaluate(data, coco_results(_as_detections(data)))
    # shifting every box right by 15 px lowers the IoU to between 0.25 and 0.8 (widths 40..120 px)
    shifted = coco_evaluate(data, coco_results(_as_detections(data, shift_px=15.0)))
    assert shifted["AP"] < perfect["AP"]
    assert shifted["AP75"] < 1.0
    far = coco_evaluate(data, coco_results(_as_detections(data, shift_px=500.0)))
    assert far["AP"] == pytest.approx(0.0) and far["AP50"] == pytest.approx(0.0)
    assert coco_evaluate(data, [])["AP"] == 0.0


def test_coco_evaluator_end_to_end(tmp_path, photos, model_files):
    """evaluate_coco on real photos with annotations made from the float model's own detections
    (score >= 0.25): the float backend must then reproduce them (AP50 = 1)."""
    from PIL import Image

    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.float_ref import FloatReference
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox, load_image

    net = load_cfg(model_files[0])
    backend = FloatReference(net, load_weights(model_files[1], net))
    images, anns = [], []
    for i, name in enumerate(("bus", "zidane"), 1):
        image = load_image(photos[name])
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        images.append({"id": i, "file_name": f"{name}.png", "width": image.shape[1], "height": image.shape[0]})
        for d in decode(backend.forward(letterbox(image, net.width, net.height)), net,
                        (image.shape[1], image.shape[0]), conf=0.25):
            x1, y1, x2, y2 = d.box
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": COCO80_TO_91[d.class_id],
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    assert len(anns) >= 3
    cats = [{"id": c, "name": str(c)} for c in sorted({a["category_id"] for a in anns})]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    stats = evaluate_coco(backend, tmp_path, path)
    assert stats["images"] == 2
    assert stats["AP50"] == pytest.approx(1.0)
    with pytest.raises(ZynqyoloError, match="not found"):
        evaluate_coco(backend, tmp_path / "nowhere", path)


def test_eval_coco_command_with_the_integer_reference(tmp_path, photos, model_files, capsys):
    import argparse
    import importlib

    from PIL import Image

    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.preprocess import load_image
    from zynqyolo.model.quantize import calibrate, save_model

    net = load_cfg(model_files[0], width=128, height=128)
    model_path = save_model(calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=8),
                            tmp_path / "q8.npz")
    image = load_image(photos["bus"])
    Image.fromarray(image).save(tmp_path / "bus.png")
    data = {"images": [{"id": 1, "file_name": "bus.png", "width": image.shape[1], "height": image.shape[0]}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [50, 400, 160, 490],
                             "area": 160 * 490, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    parser = argparse.ArgumentParser(prog="zynqyolo")
    sub = parser.add_subparsers(dest="command", required=True)
    importlib.import_module("zynqyolo.commands.eval_coco").register(sub)
    args = parser.parse_args(["eval-coco", "--images", str(tmp_path), "--annotations", str(tmp_path / "ann.json"),
                              "--backend", "ref", "--model", str(model_path), "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["backend"] == "ref" and out["images"] == 1 and 0.0 <= out["AP50"] <= 1.0
