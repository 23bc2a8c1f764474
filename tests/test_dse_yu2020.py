"""The reference design's model (``--arch yu2020``) against its published figures, and the device library."""

from __future__ import annotations

import json
import time

import pytest

from zynqyolo.dse import devices
from zynqyolo.dse.yu2020 import (
    PUBLISHED,
    REFERENCE_POINT,
    Yu2020Params,
    derive_batches,
    evaluate,
    grid,
    pad_channels,
    search,
)


@pytest.fixture(scope="module")
def network():
    from zynqyolo.fetch import model_paths
    from zynqyolo.model import load_cfg

    cfg, _weights, _names = model_paths()
    return load_cfg(cfg)


@pytest.fixture(scope="module")
def reference(network):
    return evaluate(REFERENCE_POINT, network)


# ------------------------------------------------------------------ final design point ----
def test_reference_point_resources(reference):
    assert reference.dsp == 161 and reference.bram18 == 184
    assert reference.resources == {"dsp": 161, "bram18": 184, "lut": None, "ff": None}
    # The conv block alone: 147 DSP and 120 BRAM18, which is also what the board measured for the conv IP.
    assert reference.resources_by_block["conv"] == {"dsp": 147, "bram18": 120}


def test_reference_point_latency_breakdown(reference):
    e = reference
    print(f"\nyu2020 model at the final point: {e.latency_ms:.2f} ms = {e.hardware_ms:.2f} hardware "
          f"+ {e.cache_ms:.2f} cache + {e.call_ms:.2f} calls ({e.calls_per_frame} calls, "
          f"{e.cache_nbytes / 1e6:.1f} MB flushed); measured 532 ms")
    # Within 10 % of the 532 ms measured on the board (the thesis reports 9.8 %).
    assert abs(e.latency_ms - PUBLISHED["measured_latency_ms"]) / PUBLISHED["measured_latency_ms"] < 0.10
    # Each part within a few % of the reference's own model (481 = 340 + 128 + 13 ms) ...
    assert e.latency_ms == pytest.approx(481.0, rel=0.01)
    assert e.hardware_ms == pytest.approx(340.0, rel=0.01)
    assert e.cache_ms == pytest.approx(128.0, rel=0.01)
    assert e.call_ms == pytest.approx(13.0, rel=0.05)
    # ... and in fact equal to the published whole milliseconds.
    assert [round(x) for x in (e.latency_ms, e.hardware_ms, e.cache_ms, e.call_ms)] == [481, 340, 128, 13]
    # 128 ms at 0.9 ns/byte is the "142 MB flushed per frame" of architecture.md.
    assert e.cache_nbytes / 1e6 == pytest.approx(142, abs=1)
    assert e.dma_ms == 0.0 and all(b.dma_ms == 0.0 for b in e.batches)


def test_call_count_vs_paper(network, reference):
    # The paper counts 1,396 hardware calls per frame. The model with the reference's own batch table
    # gives 1,392: the table lists 128 channels for the pool-only batch (maxpool 9), i.e. 128/32 = 4
    # calls, where the real tensor has 256 channels and needs 256/32 = 8. Modelling the real channel
    # count gives exactly the paper's 1,396, so the paper's count was made on the real network and the
    # table's 128 is a slip in the table only. Both variants round to the published 481/340/128/13 ms.
    assert reference.calls_per_frame == 1392
    real = evaluate(REFERENCE_POINT, network, published_pool_channels=False)
    assert real.calls_per_frame == PUBLISHED["hardware_calls_per_frame"] == 1396
    assert [round(x) for x in (real.latency_ms, real.hardware_ms, real.cache_ms, real.call_ms)] == \
        [481, 340, 128, 13]


def test_hand_computed_cycles_and_cache(reference):
    by_name = {b.batch.name: b for b in reference.batches}
    # conv12: 13x13, 512 -> 1024 channels, N_max 32 so F_in 16, F_out 32; II_sys 8 (= 2*32/8).
    # Cycles = (H+3)(W+2) * C_in/4 * II * F_out.
    b = by_name["conv12"]
    assert b.cycles == (13 + 3) * (13 + 2) * (512 // 4) * 8 * 32 == 7_864_320
    assert b.calls == 16 * 32 == 512
    assert b.compute_ms == pytest.approx(78.6432)
    # conv0 + maxpool1: 3 -> 4 channels (padding), 16 out, no fold, II 8.
    b = by_name["conv0+maxpool1"]
    assert b.cycles == 419 * 418 * 1 * 8 * 1 == 1_401_136
    # Its cache elements: 12 f h F_in F_out + h F_out + (S_in + 3 S_acc)(F_in - 1) F_out
    # + (S_in + S_acc + 2 S_out) F_out, with f 4, h 16, F_in = F_out = 1,
    # S_in = 416*416*4, S_acc = 416*416*16, S_out = 208*208*16.
    elements = 12 * 4 * 16 + 16 + 0 + (692_224 + 2_768_896 + 2 * 692_224)
    assert b.cache_elements == elements == 4_846_352
    assert b.cache_ms == pytest.approx(elements * 1.8e-6)
    # The pool-only batch: H*W*(C/4)*(4/P_pool) with the table's 128 channels, 4 calls.
    b = by_name["maxpool9"]
    assert b.cycles == 26 * 26 * (128 // 4) * (4 // 2) == 43_264
    assert b.calls == 4
    assert b.host_ms == pytest.approx(b.cache_ms + b.call_ms)


def test_channel_padding_and_oitr_rule(network):
    assert pad_channels(3, 16, 4) == (4, 16)
    assert pad_channels(3, 16, 3) == (8, 16)  # 16/4 > 3: add 4 to C_in
    assert pad_channels(3, 16, 1) == (16, 16)
    assert pad_channels(512, 255, 4) == (512, 256)
    # With OITR 3 the first conv reads 8 channels: twice the cycles of the OITR 4 design.
    p = Yu2020Params(32, 8, 3, 2, 2, 4, 1)
    b = evaluate(p, network).batches[0]
    assert (b.c_in, b.c_out) == (8, 16)
    assert b.cycles == 419 * 418 * (8 // 4) * 8 * 1


def test_initiation_intervals():
    p = REFERENCE_POINT
    assert (p.ii_conv, p.ii_acc, p.ii_pool, p.ii_upsample, p.ii_yolo, p.ii_sys) == (8, 2, 2, 1, 4, 8)
    assert Yu2020Params(32, 16, 4, 2, 2, 4, 1).ii_conv == 6  # floor of 6
    assert Yu2020Params(8, 4, 4, 2, 2, 4, 1).ii_conv == 6  # OITR + 2


# ---------------------------------------------------------------------------- batches ----
def test_batches_derived_from_ir(network):
    batches = derive_batches(network)
    assert len(batches) == 14
    assert [b.name for b in batches] == [
        "conv0+maxpool1", "conv2+maxpool3", "conv4+maxpool5", "conv6+maxpool7", "conv8", "maxpool9",
        "conv10+maxpool11", "conv12", "conv13", "conv14", "conv15+yolo16", "conv18+upsample19",
        "conv21", "conv22+yolo23"]
    pool = batches[5]
    assert pool.kind == "pool" and (pool.in_h, pool.out_h) == (26, 13)
    assert (pool.c_in, pool.c_out, pool.ir_c_in, pool.ir_c_out) == (128, 128, 256, 256)
    real = derive_batches(network, published_pool_channels=False)[5]
    assert (real.c_in, real.c_out) == (256, 256)
    assert batches[11].out_h == 26  # upsample doubles
    assert batches[10].out_h == 13 and batches[6].out_h == 13  # yolo keeps, stride-1 pool keeps


# ----------------------------------------------------------------------------- search ----
def test_search_finds_the_reference_point(network):
    t0 = time.perf_counter()
    result = search(network, "xc7z020", cap=0.9)
    elapsed_s = time.perf_counter() - t0
    print(f"\nyu2020 search on xc7z020: {len(result.points)} points, {len(result.feasible_points)} "
          f"feasible, {elapsed_s:.2f} s; best {result.best.params}")
    assert len(result.points) == len(list(grid())) == 1296
    assert result.best is not None and result.best.feasible
    assert result.best.params == REFERENCE_POINT
    assert all(p.estimate.dsp <= 0.9 * 220 and p.estimate.bram18 <= 0.9 * 280
               for p in result.feasible_points)
    assert any(not p.feasible for p in result.points)
    assert result.best.latency_ms == min(p.latency_ms for p in result.feasible_points)
    front = result.pareto_front()
    assert result.best in front
    assert all(a.latency_ms > b.latency_ms for a, b in zip(front, front[1:]))
    json.dumps(result.to_dict())


def test_estimate_to_dict_is_json(reference):
    d = json.loads(json.dumps(reference.to_dict()))
    assert d["resources"] == {"dsp": 161, "bram18": 184, "lut": None, "ff": None}
    assert len(d["batches"]) == 14
    assert {"compute_ms", "host_ms", "dma_ms", "calls", "cycles"} <= set(d["batches"][0])
    assert d["latency_ms"] == pytest.approx(d["hardware_ms"] + d["cache_ms"] + d["call_ms"])


# ------------------------------------------------------------------------- validation ----
@pytest.mark.parametrize("kwargs, name", [
    (dict(p_mem=5), "p_mem"),  # does not divide 32
    (dict(p_mem=32), "p_mem"),  # > n_max/2
    (dict(n_max=30, p_mem=5), "n_max"),  # not a multiple of 4
    (dict(oitr=0), "oitr"),
    (dict(p_acc=3), "p_acc"),
    (dict(p_pool=0), "p_pool"),
    (dict(p_up=8), "p_up"),
    (dict(p_yolo=True), "p_yolo"),
    (dict(n_max=32.0), "n_max"),
    (dict(clock_mhz=0), "clock_mhz"),
    (dict(clock_mhz=float("nan")), "clock_mhz"),
])
def test_parameter_validation(kwargs, name):
    base = REFERENCE_POINT.to_dict()
    base.update(kwargs)
    with pytest.raises(ValueError, match=name):
        Yu2020Params(**base)


def test_search_rejects_bad_cap_and_device(network):
    with pytest.raises(ValueError, match="cap"):
        search(network, "xc7z020", cap=1.5)
    with pytest.raises(ValueError, match="xc7z999"):
        search(network, "xc7z999")


# ---------------------------------------------------------------------------- devices ----
def test_zedboard_and_xc7z020_figures():
    d = devices.get_device("xc7z020")
    assert (d.dsp, d.bram18, d.lut, d.ff, d.uram) == (220, 280, 53_200, 106_400, 0)
    z = devices.get_board("zedboard")
    assert z.device is d and devices.get_device("zedboard") is d
    assert round(z.ddr_peak_bytes_per_s / 1e9, 2) == 4.26
    assert z.hp_port_bits == 64 and z.hp_ports == 4 and z.cpu_clock_mhz == 666.7
    assert z.hp_port_bytes_per_s(100) == 0.8e9  # architecture.md: 0.8 GB/s per HP port at 100 MHz
    assert devices.get_device("xc7z020clg484-1") is d
    assert devices.get_device("XCK26-SFVC784-2LV-C") is devices.get_device("xczu5ev")


def test_pynq_z2_has_half_the_zedboard_ddr_bandwidth():
    z, p = devices.get_board("zedboard"), devices.get_board("pynq-z2")
    assert p.device is z.device
    assert p.ddr_width_bits == 16 and z.ddr_width_bits == 32
    assert p.ddr_peak_bytes_per_s == pytest.approx(2.1e9)
    assert 0.45 < p.ddr_peak_bytes_per_s / z.ddr_peak_bytes_per_s < 0.5


def test_device_table_is_complete():
    for part in ("xc7z010", "xc7z020", "xc7z045", "xczu3eg", "xczu5ev", "xczu7ev", "xczu9eg"):
        d = devices.get_device(part)
        assert d.bram18 % 2 == 0 and d.source
    for board, part in [("zedboard", "xc7z020"), ("pynq-z2", "xc7z020"), ("zc706", "xc7z045"),
                        ("ultra96v2", "xczu3eg"), ("kv260", "xczu5ev"), ("zcu104", "xczu7ev"),
                        ("zcu102", "xczu9eg")]:
        b = devices.get_board(board)
        assert b.part == part and b.source and b.ddr_peak_bytes_per_s > 0
        json.dumps(b.to_dict())


@pytest.mark.parametrize("lookup", [devices.get_device, devices.get_board])
def test_unknown_names_are_clear_errors(lookup):
    with pytest.raises(ValueError) as err:
        lookup("zedbaord")
    message = str(err.value)
    assert "'zedbaord'" in message and "xc7z020" in message and "zedboard" in message
