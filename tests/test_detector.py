"""``zynqyolo.Detector`` and video input, checked against independent paths: the integer
reference's forward pass decoded directly, and the same frames saved as photos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zynqyolo.cli import main

FRAME_WH = (320, 240)


def _reference_detections(model, image, names):
    """The integer reference's detections, straight from the model layer (no Detector)."""
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox

    net = model.network
    outs = IntegerReference(model).forward(letterbox(image, net.width, net.height))
    return decode(outs, net, (image.shape[1], image.shape[0]), names=names)


@pytest.fixture(scope="module")
def model16():
    from zynqyolo.workflow import default_model

    return default_model(16)


@pytest.fixture(scope="module")
def frames(photos):
    """Three photos as frames of one size (what a video of them holds)."""
    out = []
    for name in ("bus", "zidane", "astronaut"):
        with Image.open(photos[name]) as im:
            out.append(np.asarray(im.convert("RGB").resize(FRAME_WH, Image.BILINEAR)))
    return out


def test_detector_takes_paths_pil_and_arrays(model16, photos, model_files):
    from zynqyolo import Detector
    from zynqyolo.model.postprocess import load_names
    from zynqyolo.model.preprocess import load_image

    det = Detector("ref", model=model16)
    image = load_image(photos["bus"])
    expected = _reference_detections(model16, image, load_names(model_files[2]))
    assert len(expected) >= 3
    assert det.detect(photos["bus"]) == expected
    assert det.detect(Image.open(photos["bus"])) == expected
    assert det.detect(image) == expected
    assert {"letterbox_ms", "network_ms", "decode_ms", "total_ms"} <= set(det.timings)
    assert all(v >= 0 for v in det.timings.values())
    picture = det.draw(image, expected)
    assert picture.size == (image.shape[1], image.shape[0])
    assert list(det.detect_stream([photos["bus"], image])) == [expected, expected]
    from zynqyolo.errors import ZynqyoloError

    with pytest.raises(ZynqyoloError, match="uint8"):
        det.detect(image.astype(np.float32))
    with pytest.raises(ZynqyoloError, match="unknown backend"):
        Detector("gpu")


def test_lossless_video_gives_the_photos_detections(tmp_path, capsys, frames, model16):
    """A video written losslessly (FFV1) from photos gives, frame by frame, the detections of
    those frames saved as photos; the annotated video has every frame."""
    from zynqyolo.model.quantize import save_model
    from zynqyolo.video import VideoSource, write_video

    video = write_video(tmp_path / "clip.mkv", frames)
    with VideoSource(video) as source:
        back = list(source)
    assert len(back) == len(frames) and all(np.array_equal(a, b) for a, b in zip(back, frames))  # lossless
    stills = []
    for k, frame in enumerate(frames):
        stills.append(tmp_path / f"frame{k}.png")
        Image.fromarray(frame).save(stills[-1])
    qpath = save_model(model16, tmp_path / "model.npz")
    common = ["--backend", "ref", "--model", str(qpath), "--json"]
    assert main(["detect", str(video), "-o", str(tmp_path / "annotated.mkv"), *common]) == 0
    per_frame = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["detect", *map(str, stills), *common]) == 0
    per_photo = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in per_frame] == list(range(len(frames)))
    assert all(r["image"] == str(video) for r in per_frame)
    assert [r["image"] for r in per_photo] == [str(p) for p in stills]
    assert [r["detections"] for r in per_frame] == [r["detections"] for r in per_photo]
    assert sum(len(r["detections"]) for r in per_frame) >= 3
    with VideoSource(tmp_path / "annotated.mkv") as source:
        annotated = list(source)
    assert len(annotated) == len(frames) and not np.array_equal(annotated[0], frames[0])  # boxes drawn
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left


def test_video_errors_leave_nothing(tmp_path, capsys, frames):
    from zynqyolo.video import write_video

    video = write_video(tmp_path / "clip.mkv", frames[:1])
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    for argv, word in ((["detect", str(bad), "--backend", "cpu"], "cannot open"),
                       (["detect", str(video), "-o", str(tmp_path / "out.png"), "--backend", "cpu"], "is a video"),
                       (["detect", "--backend", "cpu"], "--camera"),
                       (["detect", str(video), "--frames", "0", "--backend", "cpu"], "--frames")):
        assert main(argv) == 2
        assert word in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "notes.mp4"]


@pytest.mark.csim
@pytest.mark.usefixtures("require_csim")
def test_detector_on_the_emulated_board_is_the_integer_reference(model_files, photos):
    """Small network (128x128) and design point, so the C simulation is quick: ``detect`` and the
    pipelined ``detect_stream`` both give the integer reference's detections."""
    from zynqyolo import Detector
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.postprocess import load_names
    from zynqyolo.model.preprocess import load_image
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0], width=128, height=128)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16)
    det = Detector("emu", model=model, design=HwConfig(p_oc=16, p_ic=8, tile_pixels=256))
    names = load_names(model_files[2])
    images = [load_image(photos[n]) for n in ("bus", "zidane", "astronaut")]
    expected = [_reference_detections(model, im, names) for im in images]
    assert any(expected)
    assert det.detect(images[0]) == expected[0]
    assert {"letterbox_ms", "pack_ms", "accelerator_ms", "unpack_ms", "decode_ms"} <= set(det.timings)
    streamed = list(det.detect_stream(iter(images), with_images=True))
    assert [d for _, d in streamed] == expected
    assert all(a is b for (a, _), b in zip(streamed, images))
    assert det.timings["fps"] > 0


def test_eval_coco_spreads_images_over_processes(tmp_path, photos, model_files, capsys):
    """eval-coco --jobs 2 gives the statistics of model.metrics.evaluate_coco run in this process."""
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.metrics import evaluate_coco
    from zynqyolo.model.preprocess import load_image
    from zynqyolo.model.quantize import calibrate, save_model

    net = load_cfg(model_files[0], width=128, height=128)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=8)
    model_path = save_model(model, tmp_path / "q8.npz")
    images, annotations = [], []
    for n, (name, box) in enumerate((("bus", [50, 400, 160, 490]), ("zidane", [700, 40, 450, 670]),
                                     ("astronaut", [120, 20, 300, 480])), 1):
        image = load_image(photos[name])
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        images.append({"id": n, "file_name": f"{name}.png", "width": image.shape[1], "height": image.shape[0]})
        annotations.append({"id": n, "image_id": n, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                            "iscrowd": 0})
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    expected = evaluate_coco(IntegerReference(model), tmp_path, data)
    assert main(["eval-coco", "--images", str(tmp_path), "--annotations", str(tmp_path / "ann.json"), "--backend",
                 "ref", "--model", str(model_path), "--jobs", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert got["jobs"] == 2 and got["images"] == 3
    assert {k: got[k] for k in expected} == expected and expected["AP50"] > 0


def test_camera_frames_through_detect(tmp_path, capsys, frames, monkeypatch):
    """--camera N reads VideoCapture(N) (here a stand-in that plays a lossless clip), stops after
    --frames, and names each JSON line camera:N with its frame number."""
    import cv2

    from zynqyolo.video import write_video

    clip = write_video(tmp_path / "clip.mkv", frames)
    real = cv2.VideoCapture
    opened = []

    def capture(source, *args):
        opened.append(source)
        return real(str(clip)) if isinstance(source, int) else real(source, *args)

    monkeypatch.setattr(cv2, "VideoCapture", capture)
    assert main(["detect", "--camera", "3", "--frames", "2", "--backend", "cpu", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert opened == [3]
    assert [(r["image"], r["frame"]) for r in lines] == [("camera:3", 0), ("camera:3", 1)]
    assert main(["detect", str(clip), "--backend", "cpu", "--json"]) == 0
    from_file = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["detections"] for r in lines] == [r["detections"] for r in from_file[:2]]


@pytest.mark.csim
@pytest.mark.usefixtures("require_csim")
def test_detector_on_pynq_through_a_fake_pynq(model_files, photos, tmp_path, capsys, monkeypatch):
    """Detector(backend="pynq", bitstream=FOLDER) opens the bitstream with pynq.Overlay (the fake pynq
    of test_pynq_backend, whose blocks are an emulated board), takes its design point from the
    bitstream's manifest, and gives the integer reference's detections."""
    import sys

    from test_pynq_backend import SIZE, _built_bitstream, _fake_pynq

    from zynqyolo import Detector
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.postprocess import load_names
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate, save_model

    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16)
    config = HwConfig(p_oc=16, p_ic=8, tile_pixels=256)
    design = config.save(tmp_path / "design.json")
    qpath = save_model(model, tmp_path / "model.npz")
    image = load_image(photos["zidane"])
    small = (model, config, design, qpath, tmp_path, letterbox(image, SIZE, SIZE))
    folder, _ = _built_bitstream(small, tmp_path / "out", capsys)
    loaded: list = []
    fake = _fake_pynq(EmulatedBoard(config), loaded)
    monkeypatch.setitem(sys.modules, "pynq", fake)
    det = Detector("pynq", bitstream=folder, model=qpath)
    assert det.config == config and isinstance(det.overlay, fake.Overlay)
    assert loaded == [str(folder / f"{config.name}.bit")]
    expected = _reference_detections(model, image, load_names(model_files[2]))
    assert expected and det.detect(image) == expected
    assert list(det.detect_stream([image, photos["zidane"]])) == [expected, expected]


def test_the_explorers_choice_is_cached_on_disk(tmp_path, monkeypatch, model_files):
    """A second process reuses the choice without searching; another explorer version or a damaged
    entry searches again (and rewrites the entry)."""
    from zynqyolo import detector
    from zynqyolo.dse import explore
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.model import load_cfg

    monkeypatch.setenv("ZYNQYOLO_HOME", str(tmp_path))
    net = load_cfg(model_files[0])
    chosen = HwConfig(p_oc=16, p_ic=8, conv_engine="winograd")
    searches = []

    class Result:
        class best:
            config = chosen

    def fake_search(*args, **kwargs):
        searches.append(kwargs)
        return Result

    monkeypatch.setattr(explore, "search", fake_search)

    def fresh_process():
        monkeypatch.setattr(detector, "_DESIGNS", {})
        return detector.explorer_design(net, 16, "zedboard", 100.0)

    assert fresh_process() == chosen and len(searches) == 1
    [entry] = (tmp_path / "designs").glob("*.json")
    assert HwConfig.load(entry) == chosen
    assert fresh_process() == chosen and len(searches) == 1  # from the disk, no search
    assert detector.explorer_design(net, 16, "zedboard", 100.0) == chosen and len(searches) == 1
    entry.write_text("{ not json")
    assert fresh_process() == chosen and len(searches) == 2
    assert HwConfig.load(entry) == chosen  # rewritten
    monkeypatch.setattr(detector, "explorer_version", lambda: "another explorer")
    assert fresh_process() == chosen and len(searches) == 3
    assert len(list((tmp_path / "designs").glob("*.json"))) == 2


def test_explorer_version_follows_the_dse_sources(tmp_path, monkeypatch):
    """The version changes with a model source or the RTL calibration, and with nothing else."""
    import shutil
    from pathlib import Path

    from zynqyolo import detector, dse

    copy = tmp_path / "dse"
    shutil.copytree(Path(dse.__file__).resolve().parent, copy)
    monkeypatch.setattr(dse, "__file__", str(copy / "__init__.py"))
    v0 = detector.explorer_version()
    assert len(v0) == 64 and v0 == detector.explorer_version()
    (copy / "notes.txt").write_text("not a source")
    assert detector.explorer_version() == v0
    fit = copy / "rtl" / "fit.json"
    fit.write_text(fit.read_text() + " ")
    v1 = detector.explorer_version()
    assert v1 != v0
    blocks = copy / "blocks.py"
    blocks.write_text(blocks.read_text() + "\n# a changed model\n")
    assert detector.explorer_version() not in (v0, v1)
