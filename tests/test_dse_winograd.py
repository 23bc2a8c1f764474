"""The latency and resource model of the Winograd path (issue 12; the design note of hls/include/zy_winograd.h).

- The model's loop counts of every winograd call against a re-derivation written here from the
  spec's table, from the registers alone (the kernel's block order (o, b, f), band rows, fold lanes):
  no Block, CallShape or blocks.WinogradEngine in the way, so a slip in either is caught.
- The same counts against the C simulation's counters (``_check_against_csim`` of tests/test_dse.py)
  on winograd designs: a 96x96 network in the default tier (its 6- and 3-wide maps take the direct
  path), the real 416 network in the slow tier.
- Resource figures of a winograd design by hand, and what the engine changes in a direct design.
The floors of the issue on xc7z020 and two UltraScale+ parts are in tests/test_dse.py (they share its
searches).
"""

from __future__ import annotations

import json
import math

import pytest

from zynqyolo.dse import blocks, perf
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.model import load_cfg

STAGE3_BYPASS, STAGE3_MAXPOOL, STAGE3_UPSAMPLE, STAGE3_YOLO = 0, 1, 2, 3  # the stage3 register's codes

# Winograd designs: bands (small tiles, even band rows), partial folds, sub-folds S from 1 to 4, 8-bit.
WINO_CONFIGS = {
    "oc16ic8w-t2048": HwConfig(p_oc=16, p_ic=8, tile_pixels=2048, stage3_lanes=4, requant_lanes=4,
                               conv_engine="winograd"),
    "oc24ic8w-t1000": HwConfig(p_oc=24, p_ic=8, tile_pixels=1000, conv_engine="winograd"),
    "oc12ic3w-t900": HwConfig(p_oc=12, p_ic=3, stage3_lanes=6, requant_lanes=3, tile_pixels=900,
                              conv_engine="winograd"),
    "oc16ic16w-b8-t4096": HwConfig(p_oc=16, p_ic=16, bits=8, stage3_lanes=2, requant_lanes=16, tile_pixels=4096,
                                   conv_engine="winograd"),
    "oc32ic8w-b8-t1024": HwConfig(p_oc=32, p_ic=8, bits=8, stage3_lanes=8, requant_lanes=2, tile_pixels=1024,
                                  conv_engine="winograd"),
}
# For the C simulation at 96x96 (bands of a few rows: tiles of 100 to 300 pixels).
CSIM_WINO_CONFIGS = {
    "oc16ic8w-t200": HwConfig(p_oc=16, p_ic=8, tile_pixels=200, stage3_lanes=4, requant_lanes=4,
                              conv_engine="winograd"),
    "oc12ic3w-t300": HwConfig(p_oc=12, p_ic=3, stage3_lanes=6, requant_lanes=3, tile_pixels=300,
                              conv_engine="winograd"),
    "oc8ic8w-t128": HwConfig(p_oc=8, p_ic=8, tile_pixels=128, stage3_lanes=4, requant_lanes=1,
                             conv_engine="winograd"),
    "oc16ic8w-b8-t200": HwConfig(p_oc=16, p_ic=8, bits=8, stage3_lanes=2, tile_pixels=200, conv_engine="winograd"),
    # paired positions (layer 0's 3 channels in two halves of 8 or 6 lanes)
    "oc16ic8wp-b8-t200": HwConfig(p_oc=16, p_ic=8, bits=8, stage3_lanes=8, tile_pixels=200,
                                  conv_engine="winograd-paired"),
    "oc12ic6wp-t300": HwConfig(p_oc=12, p_ic=6, stage3_lanes=2, requant_lanes=2, tile_pixels=300,
                               conv_engine="winograd-paired"),
    # F(4x2) (8 bits): at 96x96 the 96-, 48- and 24-wide 3x3 layers take it, the narrower ones direct
    "oc16ic8w4-b8-t200": HwConfig(p_oc=16, p_ic=8, bits=8, stage3_lanes=4, requant_lanes=4, tile_pixels=200,
                                  conv_engine="winograd-4x2"),
    "oc24ic6w4-b8-t300": HwConfig(p_oc=24, p_ic=6, bits=8, stage3_lanes=6, requant_lanes=6, tile_pixels=300,
                                  conv_engine="winograd-4x2"),
}


@pytest.fixture(scope="module")
def nets(model_files):
    return {size: load_cfg(model_files[0], width=size, height=size) for size in (96, 128, 416)}


# ------------------------------------------------------------------ the spec's table, re-derived ----
def _lanes(cfg: HwConfig, channels: int) -> list[int]:
    """Lanes of each DDR fold: p_oc each, the last one the rest, rounded up to whole bus words."""
    lpw = cfg.bus_bits // cfg.bits
    padded = -(-channels // lpw) * lpw
    return [min(cfg.p_oc, padded - f * cfg.p_oc) for f in range(-(-channels // cfg.p_oc))]


def spec_counts(cfg: HwConfig, r: dict) -> dict[str, int]:
    """The exact iteration counts of every loop of a call with winograd = 1, from the design note of
    hls/include/zy_winograd.h, counted here independently of dse.perf."""
    assert r["winograd"] == 1 and r["conv_enable"] == 1 and r["ksize"] == 3
    lpw = cfg.bus_bits // cfg.bits
    h, w, band_rows = r["height"], r["width"], r["band_rows"]
    in_lanes = _lanes(cfg, r["in_channels_a"]) + (_lanes(cfg, r["in_channels_b"]) if r["in_channels_b"] else [])
    out_lanes = _lanes(cfg, r["out_channels"])
    wps = cfg.p_oc * cfg.p_ic // lpw
    pool2 = r["stage3"] == STAGE3_MAXPOOL and r["pool_stride"] == 2
    n = dict.fromkeys(perf.LOOP_LABELS, 0)
    n["PREAMBLE"] = r["out_folds"] * cfg.p_oc * 64 // cfg.bus_bits  # 64-bit bias/shift entries
    n["BIAS_LOAD"] = r["out_folds"] * cfg.p_oc
    steps, conv_wino = [], []
    for o in range(r["out_folds"]):
        for b in range(r["bands"]):
            r0 = b * band_rows
            r1 = min(h, r0 + band_rows)
            read0, read1 = max(0, r0 - 1), min(h, r1 + 1)
            ty, tx = math.ceil((r1 - r0) / 2), math.ceil(w / 2)
            for f, lanes in enumerate(in_lanes):
                s = math.ceil(lanes / cfg.p_ic)
                n["CONV_READ"] += (read1 - read0) * w * lanes // lpw
                fill = (min(r0 + 3, read1) - read0) * w
                # every block but the call's first finds its first two rows streamed in by the previous one
                n["LINE_FILL"] += fill - (min(fill, 2 * w) if (o, b, f) != (0, 0, 0) else 0)
                n["WINO_PRELOAD"] += 16  # the first span's 4 x 4 window
                conv_wino.append(ty * tx * 16 * s)
                n["WINO_DRAIN"] += min(2, r1 - (r0 + 2 * (ty - 1))) * min(2, w - 2 * (tx - 1))
                # loader: 9 G + 7 steps per memory word of G groups, + lanes_per_word + 9 (the last group's
                # pairs transformed one a step, the last word's writes)
                g = blocks.WeightBuffer.group(cfg)
                steps.append((9 * g + 7) * s * wps // g + lpw + 9)
                last = f == len(in_lanes) - 1
                n["ACC"] += (r1 - r0) * w * (math.ceil(out_lanes[o] / cfg.requant_lanes) if last else 1)
            if not pool2:
                n["DETILE_ROW"] += (r1 - r0) // 2 * w
    n["CONV_WINO"] = sum(conv_wino)
    n["WINO_LOAD"] = steps[0] + sum(max(0, steps[i + 1] - conv_wino[i]) for i in range(len(steps) - 1))
    n["DETILE"] = r["out_folds"] * h * w
    if r["stage3"] == STAGE3_MAXPOOL:
        oh, ow = (h - 1) // r["pool_stride"] + 1, (w - 1) // r["pool_stride"] + 1
    elif r["stage3"] == STAGE3_UPSAMPLE:
        oh, ow = 2 * h, 2 * w
    else:
        oh, ow = h, w
    if pool2:
        slots = oh * ow  # a bypass of the pooled map
    elif r["stage3"] == STAGE3_MAXPOOL:
        slots = (h + 1) * (w + 1)
    elif r["stage3"] == STAGE3_UPSAMPLE:
        slots = 4 * h * w
    else:
        slots = h * w
    for lanes in out_lanes:
        n["STAGE3"] += slots * math.ceil(lanes / cfg.stage3_lanes)
        n["OUT_WRITE"] += oh * ow * lanes // lpw
    if r["stage3"] == STAGE3_YOLO:
        n["YOLO_PHASE"] = r["out_folds"] * cfg.p_oc
    return n


@pytest.mark.parametrize("size", [416, 128, 96])
@pytest.mark.parametrize("name", list(WINO_CONFIGS))
def test_winograd_loop_counts_equal_the_spec(name, size, nets):
    cfg = WINO_CONFIGS[name]
    net = nets[size]
    plan = perf.plan_for(net, cfg)
    winograd_calls = 0
    for call, shape in zip(plan.calls, perf.plan_shapes(plan, net)):
        r = call.regs
        model = perf.loop_counts(shape, cfg)
        assert set(model) == set(perf.LOOP_LABELS)
        if r["winograd"]:
            winograd_calls += 1
            assert shape.winograd and shape.engine == "winograd"
            assert model == spec_counts(cfg, r), f"{name} at {size}: {shape.name}"
        else:  # the direct path and bypass calls: no winograd loop runs; detile passes every pixel
            assert not any(model[k] for k in ("WINO_LOAD", "WINO_PRELOAD", "CONV_WINO", "WINO_DRAIN", "DETILE_ROW"))
            folds = r["out_folds"] if r["conv_enable"] else len(_lanes(cfg, r["in_channels_a"]))
            assert model["DETILE"] == folds * r["height"] * r["width"]
    # every 3x3 layer at least WINO_MIN_WIDTH (7) wide: all nine at 416; at 128 the 4-wide ones
    # (layers 10, 12, 14) and at 96 also the 6-wide ones (8, 21) take the direct path
    wide = [c.index for c in net.convs if c.size == 3 and c.in_shape.w >= 7]
    assert winograd_calls == len(wide) == {416: 9, 128: 6, 96: 4}[size]


def test_one_winograd_block_by_hand(nets):
    """Layer 12 (13x13, 512 -> 1024) on 16 x 8: a 7 x 7 grid of tiles (the 14th row and column dropped)."""
    cfg = WINO_CONFIGS["oc16ic8w-t2048"]
    plan = perf.plan_for(nets[416], cfg)
    shape = next(s for s in perf.plan_shapes(plan, nets[416]) if s.layers == (12,))
    n = perf.loop_counts(shape, cfg)
    blocks_n = (512 // 16) * (1024 // 16)
    assert n["CONV_WINO"] == 7 * 7 * 16 * 2 * blocks_n == 3_211_264  # 1568 per block, S = 2
    # rows 0..2 (no row above the image); rows 0 and 1 of every block but the first were streamed in
    # during the previous block's last tile row, which reads nothing of its own (row 12 is its last)
    assert n["LINE_FILL"] == 3 * 13 + 13 * (blocks_n - 1)
    assert n["WINO_DRAIN"] == 1 * blocks_n  # the corner tile holds one real pixel
    # loader: the buffer is distributed RAM (64 words deep), so one bank word per memory word (G = 1):
    # 16 x 2 x 32 + 4 + 9 = 1037 steps a block (4 lanes a 64-bit word at 16 bits), all under the
    # previous block's 1568 iterations
    assert blocks.WeightBuffer.group(cfg) == 1 and n["WINO_LOAD"] == 1037
    assert n["DETILE_ROW"] == 64 * 6 * 13  # 6 tile rows of two rows each, per output fold
    # the algorithm's multiplications (16 per tile of the 7 x 7 grid) against the direct MACs
    assert shape.useful_mults == 16 * 49 * 512 * 1024 and shape.useful_macs == 9 * 169 * 512 * 1024


def test_burst_stall_and_detile_row_stall_by_hand():
    """A tile takes its 4 pixels at iterations 0, 4, 8, 12 through a 2-deep FIFO: the partner holds 3
    (2 queued, 1 in hand), the 4th arrives one pace after the tile starts and is needed at 12."""
    for pace, stall in ((3.0, 0.0), (6.0, 0.0), (12.0, 0.0), (15.0, 3.0)):
        assert blocks.WinogradEngine.burst_stall(pace, 2) == stall
    assert blocks.WinogradEngine.burst_stall(40.0, 3) == 0.0  # 3 deep: the burst is buffered whole
    # F(4x2)'s psum burst: 8 pixels at iterations 0, 1, 4, 5, 6, 7, 10, 11; against 4 cycles a pixel a
    # 2-deep FIFO makes the last (pixel 7, there (7 - 2) x 4 = 20 cycles in) wait 9; 8 deep holds it whole
    assert blocks.WinogradEngine.burst_stall(4.0, 2, tw=4, out=True) == 9.0
    assert blocks.WinogradEngine.burst_stall(4.0, 8, tw=4, out=True) == 0.0
    assert blocks.WinogradEngine.burst_stall(1.0, 2, tw=4, out=True) == 0.0
    assert blocks.WinogradEngine.burst_stall(4.0, 2, tw=4) == 0.0  # its pix reads: one every 3 iterations
    assert blocks.FIFO_DEPTHS["psum"] >= blocks.WinogradEngine.burst(4)
    # a stored row of 26 pixels at stage 3's 3 cycles each, against a tile of 48 cycles: 30 cycles lost
    assert blocks.Detile.row_stall(26, 3.0, 48) == 30.0 and blocks.Detile.row_stall(13, 3.0, 48) == 0.0


def test_the_engine_is_part_of_every_memo_key(nets):
    """One cache serving both engines gives each its own figures (the shapes of a 1x1 call are equal in
    both plans, and one object in the search)."""
    from zynqyolo.dse import devices, explore

    board = devices.get_board("zedboard")
    cache = explore.SearchCache()
    net = nets[416]
    memory, host = perf.MemoryModel.for_board(board), perf.HostModel.for_board(board)
    figures = {}
    for engine in ("direct", "winograd", "direct"):
        cfg = HwConfig(p_oc=16, p_ic=8, tile_pixels=2048, stage3_lanes=4, requant_lanes=4, conv_engine=engine)
        shapes, io, err = cache.shapes(net, net.content_hash, board, 100.0, 16, 16, 2048, engine)
        assert not err
        frame = perf.frame_latency(shapes, cfg, memory, host, io, cache.cycles)
        alone = perf.estimate(cfg, net, board)
        assert frame.latency_ms == pytest.approx(alone.latency_ms, rel=1e-12)
        figures.setdefault(engine, frame.latency_ms)
        assert figures[engine] == frame.latency_ms
    assert figures["winograd"] < figures["direct"]
    # a shape of one engine's plan is refused by the other engine's design
    direct_cfg = HwConfig(p_oc=16, p_ic=8, tile_pixels=2048)
    wino_shapes = perf.plan_shapes(perf.plan_for(net, WINO_CONFIGS["oc16ic8w-t2048"]), net)
    with pytest.raises(ValueError, match="conv_engine"):
        perf.call_terms(next(s for s in wino_shapes if s.winograd), direct_cfg)


# ------------------------------------------------------------------------- resources by hand ----
def test_winograd_primitive_counts_without_a_fit(monkeypatch):
    """Without fit.json's wino_* entries the transforms are counted from UG474 primitives (x 1.5)."""
    monkeypatch.setattr(blocks, "WINO_LANE_FIT", {})
    cfg = HwConfig(p_oc=16, p_ic=8, conv_engine="winograd")
    # data: per lane 4 row adders (17 bits) with two 4:1 operand muxes (16 bits) each, one column adder
    # (18 bits) with two 4:1 muxes (17 bits), V registered (18 FF)
    assert blocks.WinogradDataTransform.resources(cfg) == blocks.Resources(
        lut=round(1.5 * 8 * (4 * (16 + 16 + 17) + 17 + 17 + 18)), ff=round(1.5 * 8 * 18))
    # output: 4 +-accumulators and 8 registers per row of wy = 44 bits (a partial Y: 9 positions x 16
    # lanes x 9 * 2^15 x 4 * 2^15 = 5184 * 2^30 < 2^43, signed); the emit select on top
    wy = (9 * 16 * 9 * 4 << 30).bit_length() + 1
    assert wy == 44
    assert blocks.WinogradOutputTransform.resources(cfg) == blocks.Resources(
        lut=round(1.5 * 16 * 4 * wy) + round(1.5 * 16 * wy), ff=round(1.5 * 16 * 8 * wy))
    # filter: one pair a step, so one circuit: 9 adders of 18 bits and 12 of 20, 16 U registers of 20
    # bits; around it the 4:1 lane select of the 9 staged taps (16 bits), the 16 x 4 write enables
    # (LUT6_2), the 16:1 (+ half) select of the U-word (4 pairs of 20 bits: 5 LUTs a bit) and the
    # loader's 2:1 select; the staging words twice, the U of a memory word in two halves (less the
    # circuit's own 16)
    word = 4 * 20
    assert blocks.WeightBuffer.group(cfg) == 1
    assert blocks.FilterTransform.resources(cfg) == blocks.Resources(
        lut=round(1.5 * (9 * 18 + 12 * 20)) + round(1.5 * (9 * 16 + 16 * 4 // 2 + 5 * word + word // 2)),
        ff=round(1.5 * 16 * 20) + round(1.5 * (18 * 64 + 2 * 16 * word - 16 * 20)))
    # F(4x2) (8 bits, p_oc 24): the output transform's rows: down 2 +-accumulators and 2 head selects
    # (two rings of 6 registers), across per column sum a 4:1 shift select and an adder
    # into a rotating chain of 4 (no / 3: stage 2's), and the pixel out: a 2:1 select (LUT6_2) of 25
    # bits and its register; wy = 29 (48 x 9 x 24 x 2^14 < 2^28, signed)
    f4 = HwConfig(p_oc=24, p_ic=8, bits=8, requant_lanes=6, stage3_lanes=6, conv_engine="winograd-4x2")
    wy4 = 29
    assert blocks.WinogradOutputTransform.resources(f4) == blocks.Resources(
        lut=round(1.5 * 24 * (2 * wy4 + 2 * wy4 + 2 * (wy4 + wy4) + 25 / 2)),
        ff=round(1.5 * 24 * (2 * 6 * wy4 + 2 * 4 * wy4 + 25)))
    # stage 2's / 3 on the 6 requant lanes: -x, three shift-adds of 29 bits, 13 bits of the fourth
    # (t3 << 16), a select of quotient or sum at the 8-bit accumulator's 32 bits, x HLS_LANE_MARGIN (1.2)
    assert blocks.AccumulateTile.div3_lanes(f4) == blocks.Resources(lut=round(1.2 * 6 * (29 + 3 * 29 + 13 + 32)))


def test_winograd_resources_by_hand():
    cfg = HwConfig(p_oc=16, p_ic=8, tile_pixels=2048, stage3_lanes=4, requant_lanes=4, conv_engine="winograd")
    direct = HwConfig(p_oc=16, p_ic=8, tile_pixels=2048, stage3_lanes=4, requant_lanes=4)
    by, by_d = blocks.design_resources(cfg, 2048), blocks.design_resources(direct, 2048)
    # one DSP48 per multiplier, U (20 bits) x V (18 bits) fits the DSP48E1's 25 x 18
    assert by["conv_engine"].dsp == by_d["conv_engine"].dsp == 128
    # line buffer: 6 rows x 416 pixels of 16 x 16 bits, 512x36 -> ceil(2496/512) x ceil(256/36) = 5 x 8
    assert by["line_buffer"].bram18 == 40 and by_d["line_buffer"].bram18 == 24
    # weights: 32 banks (slice words) of 2 x 16 x 2 = 64 words of four 20-bit U entries -> RAM64M,
    # 4 x ceil(80/3) LUTs each, plus the write-enable decode of the 32 banks
    assert by["weight_buffer"] == blocks.Resources(lut=32 * 4 * 27 + 32)
    # three sub-folds: 96 words deep, block RAM. 48 bank words of four 20-bit U entries (80 bits) a
    # slice; one memory each would take 512x36 x 3 = 144; four a memory word make 12 memories of 320
    # bits, 512x36 x 9 = 108 (two: 24 x 5 = 120; three: 16 x 7 = 112), plus the write-enable decode of the 12 memories and the direct loader's gather register of
    # three bank words (3 x 4 x 20 FF, x 1.5)
    deep = HwConfig(p_oc=24, p_ic=8, conv_engine="winograd")
    assert blocks.WeightBuffer.group(deep) == 4
    assert blocks.WeightBuffer.resources(deep) == blocks.Resources(bram18=12 * 9, lut=12, ff=round(1.5 * 3 * 4 * 20))
    # detile's row buffer: 416 pixels of 256 bits, block RAM by the rule: 512x36 -> 1 x 8 blocks
    assert by["detile"].bram18 == blocks.bram18_blocks(416, 256) == 8
    assert by_d["detile"].bram18 == 0 and by_d["detile"].lut == 0
    # the window: two 4 x 4 windows (the span's and the next) of p_ic = 8 lanes x 16 bits, x 1.5; LUTs: the
    # fetch's 2:1 sub-fold select (8 x 16 LUT6), 16 write enables, the operand select of 8 V (18-bit) lanes
    # (2:1, LUT6_2), x 1.5
    assert by["wino_window"] == blocks.Resources(lut=round(1.5 * (8 * 16 + 16 + 8 * 18 // 2)), ff=round(1.5 * 32 * 8 * 16))
    # output transform: per row 4 accumulators + 4 emit registers of wy = 44 bits, from the yosys fit of
    # dse/rtl/zy_wino_output.v at its 48-bit ACC scaled per bit (x 1.2) when fit.json has it, else the
    # primitive count (x 1.5); plus the 4:1 select of the pixel emitted (16 x 44 LUT6, x 1.5)
    fit = json.loads(blocks.RTL_FIT_JSON.read_text()).get("wino_output_16")
    if fit is not None:
        c = fit["coefficients"]
        assert {r["params"]["ACC"] for r in fit["inputs"]} == {48}
        assert by["wino_output_transform"] == blocks.Resources(
            lut=round(1.2 * (44 / 48 * c["lut"]["per_lane"] * 16 + c["lut"]["fixed"])) + round(1.5 * 16 * 44),
            ff=round(1.2 * (44 / 48 * c["ff"]["per_lane"] * 16 + c["ff"]["fixed"])))
    else:
        assert by["wino_output_transform"] == blocks.Resources(lut=round(1.5 * 16 * 4 * 44) + round(1.5 * 16 * 44),
                                                               ff=round(1.5 * 16 * 8 * 44))
    # the winograd blocks exist only in winograd designs; the rest is the same design
    extra = set(by) - set(by_d)
    assert extra == {"wino_window", "wino_data_transform", "wino_output_transform", "filter_transform"}
    for name in ("accumulate_tile", "stage3", "stream_io_dma"):
        assert by[name] == by_d[name]
    assert blocks.total_resources(cfg, 2048).lut > blocks.total_resources(direct, 2048).lut
    # the header's storage plan follows the same rule
    assert blocks.storage_plan(cfg, 2048)["WEIGHTS"] == "lutram" and blocks.storage_plan(deep, 2048)["WEIGHTS"] == "bram"


def test_multiplier_efficiency_counts_the_algorithm(nets):
    from zynqyolo.dse import devices

    zed = devices.get_board("zedboard")
    wino = perf.estimate(WINO_CONFIGS["oc16ic8w-t2048"], nets[416], zed)
    direct = perf.estimate(HwConfig(p_oc=16, p_ic=8, tile_pixels=2048, stage3_lanes=4, requant_lanes=4),
                           nets[416], zed)
    assert wino.useful_macs == direct.useful_macs == nets[416].macs
    assert direct.useful_mults == direct.useful_macs and direct.multiplier_efficiency == direct.mac_efficiency
    # 9 3x3 layers at 16/36 the multiplications (13x13 on a 7 x 7 tile grid) plus the 1x1 layers' MACs
    expected = 0
    for conv in nets[416].convs:
        h, w = conv.in_shape.h, conv.in_shape.w
        if conv.size == 3:
            expected += 16 * math.ceil(h / 2) * math.ceil(w / 2) * conv.in_shape.c * conv.filters
        else:
            expected += h * w * conv.in_shape.c * conv.filters
    assert wino.useful_mults == expected
    assert wino.multiplier_efficiency == pytest.approx(expected / (128 * wino.pl_cycles))
    assert wino.mac_efficiency > 1.0 > wino.multiplier_efficiency > 0.5
    d = wino.to_dict()
    assert d["conv_engine"] == "winograd" and d["multiplier_efficiency"] == wino.multiplier_efficiency
    engines = [b["engine"] for b in d["batches"]]
    assert engines.count("winograd") == 9 and engines.count("bypass") == 1
    assert all(0 < b["multiplier_efficiency"] <= 1.0 for b in d["batches"] if b["engine"] != "bypass")


# ------------------------------------------------------------------------ against the C simulation ----
@pytest.mark.csim
@pytest.mark.parametrize("name", list(CSIM_WINO_CONFIGS))
def test_winograd_model_matches_csim_counts_96(name, nets, toolchain, capsys):
    from test_dse import _check_against_csim

    worst = _check_against_csim(nets[96], CSIM_WINO_CONFIGS[name])
    with capsys.disabled():
        print(f"\n{name} at 96x96: max loop-count error {worst['counts']:.1%}, max compute-cycle error "
              f"{worst['compute']:.2%}")


@pytest.mark.csim
@pytest.mark.slow
@pytest.mark.parametrize("config", [WINO_CONFIGS["oc16ic8w-t2048"], WINO_CONFIGS["oc12ic3w-t900"],
                                    WINO_CONFIGS["oc16ic16w-b8-t4096"]], ids=lambda c: c.name)
def test_winograd_model_matches_csim_counts_416(config, nets, toolchain):
    from test_dse import _check_against_csim

    _check_against_csim(nets[416], config)


@pytest.mark.parametrize("bits", [16, 8])
def test_pairing_costs_luts_only_in_the_blocks_it_changes(bits):
    """A winograd-paired design is the winograd one plus selects and one adder a row: the same DSPs,
    block RAM and registers, more LUTs in exactly the four blocks that change (zy_winograd.h: the
    window's high-lane fetch, the data transform's high-lane position, the output transform's split
    sums, the loop's step compares); the output transform's cost is the PAIRED = 1 circuit's fit."""
    plain = blocks.design_resources(HwConfig(bits=bits, conv_engine="winograd"), 256)
    paired = blocks.design_resources(HwConfig(bits=bits, conv_engine="winograd-paired"), 256)
    changed = {name for name in plain if plain[name] != paired[name]}
    assert changed == {"wino_window", "wino_data_transform", "wino_output_transform", "loop_logic"}
    assert {"wino_data_paired", "wino_output_paired"} <= set(blocks.WINO_LANE_FIT[bits])
    # the split sums: the fit's extra LUTs a row, at wy bits, are what the circuit measured (> 4 a bit)
    lpl_plain = blocks.WINO_LANE_FIT[bits]["wino_output"][0]
    lpl_paired = blocks.WINO_LANE_FIT[bits]["wino_output_paired"][0]
    assert lpl_paired - lpl_plain > 4 * blocks.ACC_BITS
    for name in changed:
        a, b = plain[name], paired[name]
        assert (b.dsp, b.bram18, b.ff) == (a.dsp, a.bram18, a.ff) and b.lut > a.lut, name


def test_f4x2_stage2_division_by_3():
    """An F(4x2) design's stage 2 divides a call's sum by 3 at wino_div3_bits (29 at 8 bits and 1024
    channels): the product with 3's inverse modulo 2^n (model.winograd.exact_div3) recovers the
    largest direct sums a call of max_in_channels channels makes, and one bit fewer does not; a
    design whose sums would need more than the 32 bits of the kernel's shift-adds is refused; only
    F(4x2) designs pay for the dividers, on their requant lanes."""
    import numpy as np

    from zynqyolo.dse.hwconfig import wino_div3_bits
    from zynqyolo.model import winograd

    lo = -(1 << 7)
    for channels in (1024, 256, 3000):
        n = wino_div3_bits(8, channels)
        ends = np.array([9 * channels * lo * lo, 9 * channels * lo * (-lo - 1)])  # the largest, the most negative
        assert np.array_equal(winograd.exact_div3(3 * ends, n), ends)
        with pytest.raises(ArithmeticError):
            winograd.exact_div3(3 * ends, n - 1)
    assert wino_div3_bits(8, 1024) == 29
    with pytest.raises(ValueError, match="max_in_channels"):
        HwConfig(bits=8, conv_engine="winograd-4x2", max_in_channels=1 << 15)
    f4 = HwConfig(p_oc=24, p_ic=8, bits=8, requant_lanes=6, conv_engine="winograd-4x2")
    assert blocks.AccumulateTile.div3_lanes(f4).lut > 0
    for engine in ("direct", "winograd", "winograd-paired"):
        assert blocks.AccumulateTile.div3_lanes(HwConfig(bits=8, conv_engine=engine)).lut == 0
    wider = blocks.AccumulateTile.div3_lanes(HwConfig(p_oc=24, p_ic=8, bits=8, requant_lanes=8,
                                                        conv_engine="winograd-4x2"))
    assert wider.lut > blocks.AccumulateTile.div3_lanes(f4).lut


def test_f4x2_is_searched_at_8_bits_only(nets):
    """The explorer searches winograd-4x2 where it can run (8 bits: U x V = 15 x 13 fits a DSP48), drops
    it from a 16-bit search and refuses a 16-bit search of it alone."""
    from zynqyolo.dse import explore
    from zynqyolo.errors import ZynqyoloError

    assert "winograd-4x2" in explore.search_space(8, nets[416]).engines
    assert "winograd-4x2" not in explore.search_space(16, nets[416]).engines
    with pytest.raises(ZynqyoloError, match="8-bit engine"):
        explore.search_space(16, nets[416], engines=("winograd-4x2",))
