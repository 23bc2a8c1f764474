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
    # the comparison: the board's figures modelled or sourced, this machine's apart and labelled as such
    board_part, _, here_part = out.partition("Measured on this machine")
    assert here_part and "not the board" in here_part
    for row in ("zynqyolo accelerator", "end-to-end frame", "reference design", "darknet, bare metal",
                "NEON peak bound"):
        assert row in board_part, row
    assert "modelled" in board_part and "measured by the authors" in board_part
    assert "numpy" not in board_part and "numpy float32" in here_part and "emulated board" in here_part
    assert "x" in out.split("speed-up on the board (modelled)")[1].splitlines()[0]
    with Image.open(tmp_path / "demo_bus.png") as im:
        assert im.size == (image.shape[1], image.shape[0])
    # the design point it wrote is a Zedboard design that fits the explorer's 90 % cap
    config = HwConfig.load(tmp_path / "design-zedboard.json")
    assert config.part.startswith("xc7z020")
    assert perf.estimate(config, model.network, devices.get_board("zedboard")).fits(0.9)


def test_bench_json(capsys):
    """bench labels every figure: the stages measured here (this machine, emulated board), the board's
    accelerator and end-to-end frame modelled, the CPU baseline measured here and said to be this
    machine's, and no speed-up computed from this machine's CPU figures."""
    from zynqyolo.dse import arm

    assert main(["bench", "--backend", "emu", "--frames", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    measured = report["measured"]
    for key in ("letterbox_ms", "pack_ms", "accelerator_ms", "unpack_ms", "decode_ms", "host_python_ms"):
        assert measured[key] >= 0
    assert "this machine" in measured["kind"] and report["machine"] in measured["kind"]
    board = report["modelled_board"]
    assert board["kind"] == "modelled" and board["accelerator_ms"] > 0
    e2e = board["end_to_end"]
    assert e2e["kind"] == "modelled" and e2e["latency_ms"] > board["accelerator_ms"] + e2e["arm_ms"] * 0.999
    assert e2e["throughput_fps"] >= 1e3 / e2e["latency_ms"]  # pipelining never slows the rate down
    assert board["arm_only"]["darknet_baremetal"]["ms"] == arm.DARKNET_BAREMETAL_MS
    base = report["cpu_baseline_measured"]
    assert base["float32"]["frame_ms"] > 0 and len(base["integer"]["per_layer_ms"]) == 24
    assert not base["on_board"] and "not the board" in base["kind"]
    assert "speedup_measured_on_board" not in report
    assert not any("speedup" in k and "float32" in k for k in report)
    assert main(["bench", "--frames", "0"]) == 2
