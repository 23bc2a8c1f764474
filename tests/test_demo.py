"""The README's main job, as a user runs it: ``zynqyolo demo`` and ``zynqyolo bench``."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from zynqyolo.cli import main

pytestmark = [pytest.mark.csim, pytest.mark.usefixtures("require_csim")]


def test_demo_end_to_end(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0  # exit 1 would mean: not bit-exact with the reference
    out = capsys.readouterr().out
    assert "bus" in out and out.count("person") >= 3
    assert "532" in out and "modelled" in out and "measured on this machine" in out
    with Image.open(tmp_path / "demo_bus.png") as im:
        assert im.size == (810, 1080)
    design = json.loads((tmp_path / "design-zedboard.json").read_text())
    assert design["hwconfig"]["part"].startswith("xc7z020")


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
