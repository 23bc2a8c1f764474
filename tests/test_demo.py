"""The README's main job, as a user runs it: ``zynqyolo demo`` and ``zynqyolo bench``."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zynqyolo.cli import main

pytestmark = [pytest.mark.csim, pytest.mark.usefixtures("require_csim")]


def test_demo_end_to_end(tmp_path, capsys, model_files):
    from zynqyolo.backends import detect
    from zynqyolo.dse import devices, perf
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.fetch import photo
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.postprocess import load_names
    from zynqyolo.model.preprocess import load_image
    from zynqyolo.workflow import default_model

    assert main(["demo", "-o", str(tmp_path)]) == 0  # exit 1 would mean: not bit-exact with the reference
    out = capsys.readouterr().out
    # the detections it prints are the integer reference's on the same photo, computed here
    model = default_model(16)
    image = load_image(photo("bus"))
    expected = detect(IntegerReference(model), image, names=load_names(model_files[2]))
    assert len(expected) >= 3
    lines = out.splitlines()
    for d in expected:
        box = ", ".join(f"{v:.0f}" for v in d.box)
        assert any(d.class_name in line and f"{d.score:.3f}" in line and box in line for line in lines), d
    with Image.open(tmp_path / "demo_bus.png") as im:
        assert im.size == (image.shape[1], image.shape[0])
    # the design point it wrote is a Zedboard design that fits the explorer's 90 % cap
    config = HwConfig.load(tmp_path / "design-zedboard.json")
    assert config.part.startswith("xc7z020")
    assert perf.estimate(config, model.network, devices.get_board("zedboard")).fits(0.9)


def test_bench_json(capsys):
    assert main(["bench", "--backend", "emu", "--frames", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    acc = report["accelerator"]
    assert acc["modelled"]["kind"] == "modelled" and acc["modelled"]["latency_ms"] > 0
    for key in ("preprocess_ms", "accelerator_ms", "postprocess_ms", "host_python_ms"):
        assert acc["measured_here"][key] >= 0
    assert report["baseline_measured_here"]["float32"]["frame_ms"] > 0
    assert len(report["baseline_measured_here"]["integer"]["per_layer_ms"]) == 24
    assert main(["bench", "--frames", "0"]) == 2
