"""The ARM side of a frame on the board (dse/arm.py): its calibration reproduces the published
figures it comes from, its byte counts are those of the arrays the code touches, the end-to-end
frame is composed as documented, and ``estimate --json`` carries it. The board tier measures it."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from zynqyolo.cli import main
from zynqyolo.dse import arm


@pytest.fixture(scope="module")
def plan(network):
    from zynqyolo.dse import perf
    from zynqyolo.dse.hwconfig import HwConfig

    return perf.plan_for(network, HwConfig(bits=16))


def test_calibration_reproduces_its_sources():
    # FINN's throughput_test on a PYNQ-Z2 (650 MHz): a 784,000-byte copy plus its flush took 5.48 ms.
    copy = arm.ArmStep("copy", (arm.Pass("read + write", 2 * 784_000),), calls=0)
    flush_ms = 784_000 * 0.9e-6
    assert copy.ms(650.0) + flush_ms == pytest.approx(5.48, rel=1e-9)
    # one numpy call costs what a PYNQ MMIO.write does at 650 MHz, 30 us; a faster clock costs less
    call = arm.ArmStep("call", (), calls=1)
    assert call.ms(650.0) == pytest.approx(0.030) and call.ms(1300.0) == pytest.approx(0.015)


def test_arm_only_baselines(network):
    base = arm.arm_only_baselines(network, 666.7)
    assert base["darknet_baremetal"]["ms"] == 154_000 and "Yu & Bouganis" in base["darknet_baremetal"]["kind"]
    # 5.565 GOP at 2 FLOP/cycle on each of two 666.7 MHz cores
    assert base["neon_peak_bound"]["ms"] == pytest.approx(5.565e9 / (2 * 2 * 666.7e6) * 1e3, rel=2e-3)
    assert "modelled" in base["neon_peak_bound"]["kind"]


@pytest.mark.parametrize("size", [(640, 480), (810, 1080), (1920, 1080), (300, 300)])
def test_letterbox_reads_only_the_rows_it_is_charged_for(network, size):
    """Garbage in every source row the model does not charge leaves the letterbox unchanged; the
    charged rows and the resized region are those the code fills."""
    from zynqyolo.model.preprocess import darknet_resize_rows, letterbox, letterbox_size

    w, h = size
    rng = np.random.default_rng(w + h)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    new_w, new_h = letterbox_size(w, h, network.width, network.height)
    rows = darknet_resize_rows(w, h, new_w, new_h)
    step = arm.letterbox_step(w, h, network)
    assert rows <= min(h, 2 * new_h)
    reference = letterbox(image, network.width, network.height)
    from zynqyolo.model.preprocess import _resize_plan

    charged = set(_resize_plan(w, h, new_w, new_h).rows.tolist())
    assert len(charged) == rows
    spoiled = image.copy()
    others = [r for r in range(h) if r not in charged]
    spoiled[others] = 255 - spoiled[others]
    assert np.array_equal(letterbox(spoiled, network.width, network.height), reference)
    region = ~np.all(reference == np.float32(0.5), axis=0)
    assert np.count_nonzero(region) <= new_w * new_h
    n, e2 = network.width * network.height * 3, new_w * new_h * 3
    passes = {p.what: p.nbytes for p in step.passes}
    assert passes["grey border = 0.5"] == (n - e2) * 4  # the border the code fills; the region is the resize's
    assert passes["region[...] = out.transpose"] == e2 * 8  # read the resized pixels, write the input's region
    cheap = arm.letterbox_step(w, h, network, "opencv")
    assert cheap.ms(666.7) < step.ms(666.7)


def test_pack_and_unpack_bytes_match_the_dma_tensors(plan):
    from zynqyolo.model.ir import INPUT

    t = plan.tensors[INPUT]
    lane = plan.config.bits // 8
    real = t.channels * t.height * t.width
    pack = {p.what: p.nbytes for p in arm.pack_step(plan).passes}
    # what the cast writes plus the padding lanes is exactly the packed input tensor in the DMA buffer
    assert pack["lanes[...] = v (truncating cast)"] - real * 4 + pack["padding lanes = 0"] == t.nbytes
    unpack = arm.unpack_step(plan)
    codes_read = sum(p.nbytes for p in unpack.passes if p.what.startswith("codes * scale"))
    outputs = [plan.tensors[i] for i in plan.outputs]
    assert codes_read == sum(o.channels * o.height * o.width * (lane + 4) for o in outputs)
    assert all(o.channels * o.height * o.width * lane <= o.nbytes for o in outputs)


def test_end_to_end_composition(network, plan):
    from zynqyolo.dse import devices, perf

    board = devices.get_board("zedboard")
    e = perf.estimate(plan.config, network, board, plan=plan)
    e2e = arm.end_to_end(e, plan, network, (640, 480))
    a = e2e.arm
    assert e2e.latency_ms == pytest.approx(a.pre_ms + e.latency_ms + a.post_ms)
    assert a.ms == pytest.approx(sum(s.ms(board.cpu_clock_mhz) for s in a.steps))
    assert e2e.period_ms == pytest.approx(e.host_ms + max(e.latency_ms - e.host_ms, a.ms))
    assert e2e.latency_ms >= e2e.period_ms >= max(e.latency_ms, e.host_ms + a.ms) - 1e-9
    assert e2e.throughput_fps == pytest.approx(1e3 / e2e.period_ms)
    assert 0 < e2e.arm_share < 1
    d = e2e.to_dict()
    assert d["kind"] == "modelled" and set(d["arm"]["steps"]) == {"letterbox", "pack", "unpack", "decode", "nms"}
    # the ARM share grows with the frame's pixels and shrinks with OpenCV's resize
    big = arm.end_to_end(e, plan, network, (1920, 1440))
    cheap = arm.end_to_end(e, plan, network, (640, 480), resize="opencv")
    assert big.arm_ms > e2e.arm_ms > cheap.arm_ms
    with pytest.raises(ValueError, match="at least"):
        arm.arm_frame(plan, network, 666.7, (1, 480))


def test_estimate_json_has_the_end_to_end_frame(tmp_path, capsys):
    from zynqyolo.dse.hwconfig import HwConfig

    design = HwConfig(bits=16).save(tmp_path / "design.json")
    assert main(["estimate", "--design", str(design), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    e2e = d["end_to_end"]
    assert {"latency_ms", "throughput_fps", "arm_ms"} <= set(e2e) and e2e["kind"] == "modelled"
    assert e2e["latency_ms"] == pytest.approx(d["latency_ms"] + e2e["arm_ms"])
    assert e2e["arm"]["frame"] == [640, 480]
    assert main(["estimate", "--design", str(design), "--json", "--frame", "1920x1080", "--resize", "opencv"]) == 0
    hd = json.loads(capsys.readouterr().out)["end_to_end"]
    assert hd["arm"]["frame"] == [1920, 1080] and hd["arm"]["resize"] == "opencv"
    assert hd["arm"]["steps"]["letterbox"]["ms"] < e2e["arm"]["steps"]["letterbox"]["ms"]
    assert main(["estimate", "--design", str(design), "--frame", "big"]) == 2
    assert "--frame" in capsys.readouterr().err


@pytest.mark.board
def test_bench_measures_the_frame_on_the_board(capsys):
    """On a PYNQ board with a built bitstream (ZYNQYOLO_BITSTREAMS): bench measures every stage there,
    with the ARM-only baseline on the board's own CPU, and computes the measured speed-up."""
    from zynqyolo.workflow import on_board, pick_board

    name, folder, why = pick_board(os.environ.get("ZYNQYOLO_BITSTREAMS"))
    if not on_board() or name != "pynq":
        pytest.skip(f"needs a PYNQ board with a built bitstream: {why}")
    design = folder / "design.json"
    from zynqyolo.dse.hwconfig import HwConfig

    HwConfig.from_dict(json.loads((folder / "manifest.json").read_text())["design"]).save(design)
    assert main(["bench", "--backend", "pynq", "--design", str(design), "--bitstream", str(folder), "--frames", "3",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["measured"]["kind"] == "measured on the PYNQ board"
    assert report["cpu_baseline_measured"]["on_board"] and report["speedup_measured_on_board"] > 0
