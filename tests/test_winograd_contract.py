"""The Winograd path's contract on the Python side (the design note of hls/include/zy_winograd.h): the
design point's conv_engine, the ``winograd`` register (last field, its checks, the plan's value per
call), the header's Winograd parameters and the winograd weight-block order of the parameter stream."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from zynqyolo.dse import blocks
from zynqyolo.dse.hwconfig import ACC_BITS, WINO_MIN_WIDTH, HwConfig
from zynqyolo.dse.packing import pack_params, unpack_lanes, unpack_params
from zynqyolo.dse.plan import make_plan
from zynqyolo.dse.registers import Stage3Mode, check_registers, winograd_call
from zynqyolo.errors import ZynqyoloError
from zynqyolo.hls import HLS_DIR
from zynqyolo.hls.header import render_header
from zynqyolo.model import winograd

WINO = HwConfig(conv_engine="winograd")


# -- the design point ------------------------------------------------------------------------------


def test_conv_engine_is_validated_and_part_of_the_design_point(tmp_path):
    assert HwConfig().conv_engine == "direct" and not HwConfig().winograd_engine
    assert WINO.winograd_engine
    for bad in ("Winograd", "fast", "", 1, None):
        with pytest.raises(ValueError, match="conv_engine"):
            HwConfig(conv_engine=bad)
    assert WINO.to_dict()["conv_engine"] == "winograd"
    assert WINO.content_hash != HwConfig().content_hash
    assert WINO.name != HwConfig().name and WINO.name.startswith("oc24ic8b16w-")
    assert HwConfig().name.startswith("oc24ic8b16-")
    path = WINO.save(tmp_path / "w.json")
    assert HwConfig.load(path) == WINO
    assert HwConfig.load(HwConfig().save(tmp_path / "d.json")).conv_engine == "direct"


def test_a_design_file_without_conv_engine_is_refused(tmp_path):
    body = HwConfig().to_dict()
    del body["conv_engine"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"hwconfig": body}))
    with pytest.raises(ZynqyoloError, match="conv_engine"):
        HwConfig.load(path)


def test_the_winograd_and_out_group_registers_come_last():
    for cfg in (HwConfig(), WINO):
        fields = cfg.register_fields()
        assert list(fields)[-2:] == ["winograd", "out_group"] and fields["winograd"] == 2
        assert fields["out_group"] == fields["out_folds"]
        assert cfg.register_range("winograd") == (0, 3)
    # the older fields keep their AXI-Lite offsets
    offsets = HwConfig().register_offsets()
    assert offsets["yolo_shift"] == 0x10 + 8 * 14 and offsets["winograd"] == 0x10 + 8 * 15
    assert offsets["out_group"] == 0x10 + 8 * 16
    assert WINO_MIN_WIDTH == 7


# -- the generated header --------------------------------------------------------------------------


def _constexpr(text: str, name: str) -> str:
    match = re.search(rf"static constexpr (?:int|bool) {name} = ([^;]+);", text)
    assert match, name
    return match.group(1)


def _typedefs(text: str, flavour: str) -> dict[str, str]:
    struct = text[text.index("struct config {"):text.index("\n};")]
    native, ap = re.search(r"#ifdef ZYNQYOLO_NATIVE_TYPES\n(.*?)#else\n(.*?)#endif", struct, re.S).groups()
    body = native if flavour == "native" else ap
    return {m.group(2): m.group(1) for m in re.finditer(r"typedef (.+?) (\w+);", body)}


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("engine", ["direct", "winograd", "winograd-paired"])
def test_header_winograd_parameters(bits, engine):
    cfg = HwConfig(bits=bits, conv_engine=engine)
    text = render_header(cfg)
    widths = winograd.transform_bits(bits)  # from the exact ranges of the transforms
    assert _constexpr(text, "winograd_engine") == ("false" if engine == "direct" else "true")
    assert _constexpr(text, "wino_pair") == ("true" if engine == "winograd-paired" else "false")
    assert int(_constexpr(text, "wino_min_width")) == WINO_MIN_WIDTH
    assert int(_constexpr(text, "wu_bits")) == bits + 4 == widths["u"]
    assert int(_constexpr(text, "wv_bits")) == bits + 2 == widths["v"]
    assert int(_constexpr(text, "line_rows")) == (3 if engine == "direct" else 6)
    ap, native = _typedefs(text, "ap"), _typedefs(text, "native")
    assert ap["wu_t"] == f"ap_int<{bits + 4}>" and ap["wv_t"] == f"ap_int<{bits + 2}>"
    assert ap["wprod_t"] == f"ap_int<{2 * bits + 6}>" and widths["product"] <= 2 * bits + 6
    assert (native["wu_t"], native["wv_t"], native["wprod_t"]) == ("int32_t", "int32_t", "int64_t")
    weight_entry = "weight_t" if engine == "direct" else "wu_t"
    assert ap["wb_t"] == native["wb_t"] == weight_entry
    assert "X(winograd, 2, 0)" in text and "reg_winograd_t winograd;" in text


# -- the register checks ---------------------------------------------------------------------------


def wregs(**change):
    """A wide 3x3 conv call (52x52, 2 input folds, 5 bands of 12 rows, 2x2/2 pool) on the Winograd path."""
    base = dict(conv_enable=1, leaky=1, ksize=3, stage3=1, pool_stride=2, height=52, width=52, in_channels_a=48,
                in_channels_b=0, out_channels=48, out_folds=2, bands=5, band_rows=12, yolo_period=0, yolo_shift=0,
                winograd=1, out_group=1)
    return {**base, **change}


def test_winograd_register_accepted_where_the_path_runs():
    assert check_registers(WINO, wregs())["winograd"] == 1
    assert check_registers(WINO, wregs(width=WINO_MIN_WIDTH))["winograd"] == 1
    assert check_registers(WINO, wregs(band_rows=13, bands=4, stage3=0))["winograd"] == 1  # odd rows: only pool2 needs even
    assert check_registers(WINO, wregs(band_rows=13, bands=4, pool_stride=1))["winograd"] == 1
    assert check_registers(WINO, wregs(in_channels_a=24, band_rows=51, bands=1, height=51))["band_rows"] == 51  # one band: odd rows
    assert check_registers(WINO, wregs(winograd=0))["winograd"] == 0
    assert check_registers(HwConfig(), wregs(winograd=0))["winograd"] == 0


@pytest.mark.parametrize("cfg, change, why", [
    (HwConfig(), {}, "no Winograd path"),
    (WINO, dict(conv_enable=0, in_channels_b=0, ksize=1), "conv_enable"),
    (WINO, dict(ksize=1), "ksize=3"),
    (WINO, dict(width=WINO_MIN_WIDTH - 1), "WINO_MIN_WIDTH"),
    (WINO, dict(winograd=4), "2-bit field"),
    (WINO, dict(winograd=3), "0 (direct path), 1 (Winograd) or 2"),
    (WINO, dict(winograd=2), "paired positions need a winograd-paired design"),
    (HwConfig(conv_engine="winograd-paired"), dict(winograd=2), "at most p_ic / 2 = 4 channels"),
])
def test_winograd_register_refused(cfg, change, why):
    with pytest.raises(ValueError, match=rf"register winograd=.*{re.escape(why)}"):
        check_registers(cfg, wregs(**change))


def test_winograd_pool2_bands_need_even_band_rows():
    with pytest.raises(ValueError, match=r"register band_rows=13: .*even"):
        check_registers(WINO, wregs(band_rows=13, bands=4))
    assert check_registers(WINO, wregs(band_rows=13, bands=4, winograd=0))["band_rows"] == 13  # the direct path pools any band


def test_winograd_call_rule():
    assert winograd_call(WINO, 1, 3, WINO_MIN_WIDTH)
    assert not winograd_call(WINO, 1, 3, WINO_MIN_WIDTH - 1)
    assert not winograd_call(WINO, 1, 1, 416)
    assert not winograd_call(WINO, 0, 3, 416)
    assert not winograd_call(HwConfig(), 1, 3, 416)


# -- the plan --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yolo_tiny(model_files):
    from zynqyolo.model import load_cfg
    from zynqyolo.model.quantize import HardwareFormats

    out = {}
    for size in (416, 224):
        net = load_cfg(model_files[0], width=size, height=size)
        out[size] = (net, HardwareFormats.neutral(net, bits=16, acc_bits=ACC_BITS))
    return out


# tile depths that give odd band_rows at several widths of YOLOv3-tiny (e.g. 704 // 52 = 13, 300 // 26 = 11)
@pytest.mark.parametrize("size, tile_pixels", [(416, 704), (416, 300), (416, 999), (224, 333), (224, 128)])
def test_plan_sets_the_winograd_register_and_even_bands(yolo_tiny, size, tile_pixels):
    net, formats = yolo_tiny[size]
    direct = make_plan(net, formats, HwConfig(tile_pixels=tile_pixels))
    wino = make_plan(net, formats, HwConfig(tile_pixels=tile_pixels, conv_engine="winograd"))
    assert [c.layers for c in wino.calls] == [c.layers for c in direct.calls]
    seen_odd = False
    for d, c in zip(direct.calls, wino.calls):
        r, rd = c.regs, d.regs
        expect = r["conv_enable"] == 1 and r["ksize"] == 3 and r["width"] >= WINO_MIN_WIDTH
        one_row = rd["bands"] > 1 and rd["band_rows"] == 1  # the tile holds one row of this map
        pooled = r["stage3"] == Stage3Mode.MAXPOOL and r["pool_stride"] == 2
        assert r["winograd"] == int(expect and not (one_row and pooled)), c.layers
        assert rd["winograd"] == 0
        h = r["height"]
        assert (r["bands"] - 1) * r["band_rows"] < h <= r["bands"] * r["band_rows"]
        assert r["band_rows"] * r["width"] <= tile_pixels or r["bands"] == 1
        if r["winograd"] and r["bands"] > 1 and not one_row:
            assert r["band_rows"] % 2 == 0 and r["band_rows"] >= 2, (c.layers, r["band_rows"])
            assert r["band_rows"] in (rd["band_rows"], rd["band_rows"] - 1)  # rounded down, no further
            seen_odd |= rd["band_rows"] % 2 == 1
        else:  # direct calls (and single-band winograd calls) keep the direct plan's bands
            assert (r["bands"], r["band_rows"]) == (rd["bands"], rd["band_rows"]), c.layers
        check_registers(wino.config, r)
    if (size, tile_pixels) in ((416, 704), (416, 300)):
        assert seen_odd  # these tiles do exercise the rounding
    assert any(c.regs["winograd"] for c in wino.calls)


def test_a_tile_of_one_row_keeps_winograd_but_under_a_stride_2_pool(yolo_tiny):
    """150 // 104 = 1 row per band at 104x104: a pooled call there takes the direct path (its 2x2
    windows would straddle bands), an unpooled one keeps one-row Winograd bands."""
    net, formats = yolo_tiny[416]
    plan = make_plan(net, formats, HwConfig(tile_pixels=150, conv_engine="winograd"))
    by_width = {}
    for c in plan.calls:
        r = c.regs
        if r["conv_enable"] and r["ksize"] == 3 and r["bands"] > 1 and r["band_rows"] == 1:
            pooled = r["stage3"] == Stage3Mode.MAXPOOL and r["pool_stride"] == 2
            by_width[r["width"], pooled] = r["winograd"]
        check_registers(plan.config, r)
    assert by_width[104, True] == 0  # conv4 + maxpool5
    assert all(v == (not pooled) for (w, pooled), v in by_width.items())


# -- the parameter stream --------------------------------------------------------------------------


def _blocks_of(words: np.ndarray, cfg: HwConfig, n_out: int, lanes: list[int], bands: int):
    """Split a parameter stream (uint64 words) into its weight blocks by the layout's own arithmetic
    (bus words of bus_bits // 64 uint64s): yields (slice of uint64 words, S) per block, in stream order."""
    per_bus = cfg.bus_bits // 64
    out_folds = -(-n_out // cfg.p_oc)
    pos = -(-out_folds * cfg.p_oc // per_bus) * per_bus  # the preamble, whole bus words
    for _o in range(out_folds):
        for _b in range(bands):
            for n in lanes:
                s = -(-n // cfg.p_ic)
                size = 9 * s * cfg.p_oc * cfg.p_ic * cfg.bits // 64
                yield slice(pos, pos + size), s
                pos += size
    assert pos == words.size


WINO_DESIGNS = [
    HwConfig(conv_engine="winograd"),  # 4 lanes per word, WPS 48
    HwConfig(p_oc=16, p_ic=4, bits=8, conv_engine="winograd"),  # 8 lanes per word
    HwConfig(p_oc=8, p_ic=4, bus_bits=128, requant_lanes=4, stage3_lanes=4, conv_engine="winograd"),  # 2 u64 a word
    HwConfig(p_oc=16, p_ic=1, bits=8, bus_bits=128, conv_engine="winograd"),  # 16 lanes a word, WPS 1
]


@pytest.mark.parametrize("cfg", WINO_DESIGNS, ids=lambda c: c.name)
@pytest.mark.parametrize("segments, n_out, bands", [((5,), 3, 1), ((40,), 30, 2), ((13, 21), 9, 3)])
def test_winograd_weight_order_is_the_direct_words_permuted(cfg, segments, n_out, bands):
    rng = np.random.default_rng(hash((cfg.name, segments)) % 2**32)
    lim = 1 << (cfg.bits - 1)
    w = rng.integers(-lim, lim, size=(n_out, sum(segments), 3, 3))
    bias = rng.integers(-(1 << 40), 1 << 40, size=n_out)
    shifts = rng.integers(0, 40, size=n_out)
    direct = pack_params(w, bias, shifts, segments, bands, cfg, winograd=False)
    wino = pack_params(w, bias, shifts, segments, bands, cfg, winograd=True)
    assert wino.size == direct.size and not np.array_equal(wino, direct)
    per_bus = cfg.bus_bits // 64
    wps = cfg.p_oc * cfg.p_ic // cfg.lanes_per_word
    lanes = [n for seg in segments for n in cfg.fold_lanes(seg)]
    blocks = list(_blocks_of(direct, cfg, n_out, lanes, bands))
    preamble = blocks[0][0].start
    assert np.array_equal(wino[:preamble], direct[:preamble])
    for where, s_count in blocks:
        d = direct[where].reshape(-1, per_bus)  # bus words
        g = wino[where].reshape(-1, per_bus)
        assert d.shape[0] == 9 * s_count * wps
        for s in range(s_count):
            for j in range(wps):
                for t in range(9):
                    assert np.array_equal(g[(s * wps + j) * 9 + t], d[(t * s_count + s) * wps + j]), (s, j, t)
    back = unpack_params(wino, n_out, segments, 3, bands, cfg, winograd=True)
    for got, want in zip(back, (w, bias, shifts)):
        assert np.array_equal(got, want)


def test_winograd_order_by_hand():
    """p_oc 16, p_ic 1, 8-bit on a 128-bit bus: 16 lanes a word, one word per (t, s) slice (WPS 1), and
    16 sub-folds of one input lane each (8 channels, 8 padding lanes): direct bus words (t, s) =
    (0,0) (0,1) .. (0,15) (1,0) ..; winograd bus words (s, t) = (0,0) (0,1) .. (0,8) (1,0) .. (15,8)."""
    cfg = WINO_DESIGNS[3]
    w = np.zeros((16, 8, 3, 3), dtype=np.int64)
    for ic in range(8):
        w[:, ic] = (np.arange(9) + 10 * ic).reshape(3, 3)  # every code of sub-fold s = ic, tap t is t + 10 s
    zero = np.zeros(16, dtype=np.int64)
    words = pack_params(w, zero, zero, (8,), 1, cfg, winograd=True)
    weights = words[16:].reshape(-1, 2)  # 16 preamble entries = 8 bus words; then 9 x 16 bus words
    assert weights.shape == (144, 2)
    for k in range(144):
        s, t = divmod(k, 9)
        assert set(unpack_lanes(weights[k], 8).tolist()) == ({t + 10 * s} if s < 8 else {0}), k
    direct = pack_params(w, zero, zero, (8,), 1, cfg, winograd=False)[16:].reshape(-1, 2)
    for k in range(144):
        t, s = divmod(k, 16)
        assert set(unpack_lanes(direct[k], 8).tolist()) == ({t + 10 * s} if s < 8 else {0}), k


def test_winograd_order_argument_is_required_where_it_matters():
    w = np.ones((2, 3, 3, 3), dtype=np.int64)
    z = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="pass winograd="):
        pack_params(w, z, z, (3,), 1, WINO)
    with pytest.raises(ValueError, match="pass winograd="):
        unpack_params(pack_params(w, z, z, (3,), 1, WINO, winograd=False), 2, (3,), 3, 1, WINO)
    with pytest.raises(ValueError, match="winograd"):
        pack_params(w, z, z, (3,), 1, HwConfig(), winograd=True)  # a direct design has no winograd order
    with pytest.raises(ValueError, match="ksize=1"):
        pack_params(np.ones((2, 3, 1, 1), dtype=np.int64), z, z, (3,), 1, WINO, winograd=True)
    one = pack_params(np.ones((2, 3, 1, 1), dtype=np.int64), z, z, (3,), 1, WINO)  # 1x1: always the direct order
    assert np.array_equal(one, pack_params(np.ones((2, 3, 1, 1), dtype=np.int64), z, z, (3,), 1, HwConfig()))
    assert np.array_equal(pack_params(w, z, z, (3,), 1, HwConfig()),
                          pack_params(w, z, z, (3,), 1, HwConfig(), winograd=False))


@pytest.mark.parametrize("engine", ["direct", "winograd"])
def test_header_detile_storage_and_raster_fifo(engine):
    """Every design has the detile process: its row buffer's storage and the raster FIFO (dse.blocks)."""
    text = render_header(HwConfig(conv_engine=engine))
    assert re.search(r"^#define ZY_IMPL_DETILE \w+$", text, re.M)
    assert re.search(r"^#define ZY_DEPTH_RASTER 2$", text, re.M)
    assert "X(raster, ZY_DEPTH_RASTER)" in text


# -- paired positions (zy_winograd.h, "Paired positions") ------------------------------------------

PAIRED = HwConfig(conv_engine="winograd-paired")
SIGMA = list(winograd.SIGMA)  # swaps rows (columns) 0 and 3
# the schedule (model.winograd): (low position, whether the high lanes compute sigma of it)
PAIR_SCHEDULE = [(e, k < winograd.PAIR_SINGLES) for k, e in enumerate(winograd.PAIR_POSITIONS)]


def test_the_kernels_paired_constants_are_the_models():
    """zy_winograd.h's PAIR_STEPS and PAIR_SINGLES, and pair_position's table in its comment, are
    model.winograd's schedule (the csim tests check the kernel's arithmetic against it)."""
    text = (HLS_DIR / "include" / "zy_winograd.h").read_text()
    assert int(re.search(r"static const int PAIR_STEPS = (\d+);", text).group(1)) == winograd.PAIR_STEPS
    assert int(re.search(r"static const int PAIR_SINGLES = (\d+);", text).group(1)) == winograd.PAIR_SINGLES
    table = re.search(r"// (\(\d,\d\)(?: \|? ?\(\d,\d\))+)\n", text).group(1)
    pos = [4 * int(i) + int(j) for i, j in re.findall(r"\((\d),(\d)\)", table)]
    assert tuple(pos) == winograd.PAIR_POSITIONS
    assert blocks.WinogradEngine.PAIR_STEPS == winograd.PAIR_STEPS


def test_a_rotated_filter_transforms_to_u_with_rows_and_columns_0_and_3_swapped():
    rng = np.random.default_rng(7)
    g = rng.integers(-2**15, 2**15, size=(5, 3, 3, 3))
    u = winograd.filter_transform(g)
    u_rot = winograd.filter_transform(g[:, :, ::-1, ::-1])
    assert np.array_equal(u_rot, u[:, :, SIGMA][:, :, :, SIGMA])


def test_the_paired_schedule_covers_every_position_once_and_each_pixel_takes_one_half():
    """Ten steps: the low positions and the high lanes' sigma of the paired ones are the 16 positions
    once each, and in a paired step no output pixel has a non-zero A^T coefficient from both halves;
    summed the way the kernel does, the steps give A^T (U . V) A exactly."""
    covered = [e for e, paired in PAIR_SCHEDULE for e in ([e, 4 * SIGMA[e // 4] + SIGMA[e % 4]] if paired else [e])]
    assert sorted(covered) == list(range(16))

    def coef(e):  # (2, 2): the A^T coefficients of position e on the four output pixels
        return np.outer(winograd.A_T[:, e // 4], winograd.A_T[:, e % 4])

    rng = np.random.default_rng(11)
    u, v = rng.integers(-500, 500, size=(2, 4, 4))
    y = np.zeros((2, 2), dtype=np.int64)
    for e, paired in PAIR_SCHEDULE:
        lo = u.flat[e] * v.flat[e]
        if paired:
            h = 4 * SIGMA[e // 4] + SIGMA[e % 4]
            assert not np.any((coef(e) != 0) & (coef(h) != 0)), e
            hi = u.flat[h] * v.flat[h]
            y += np.where(coef(e) != 0, coef(e) * lo, coef(h) * hi)
        else:
            y += coef(e) * lo
    assert np.array_equal(y, winograd.A_T @ (u * v) @ winograd.A_T.T)


def test_paired_weight_blocks_give_the_high_lanes_the_rotated_filters():
    rng = np.random.default_rng(3)
    w = rng.integers(-2**15, 2**15, size=(30, 3, 3, 3))
    bias, shifts = np.zeros(30, dtype=np.int64), np.zeros(30, dtype=np.int64)
    plain = pack_params(w, bias, shifts, (3,), 2, PAIRED, winograd=True)
    paired = pack_params(w, bias, shifts, (3,), 2, PAIRED, winograd=2)
    assert paired.size == plain.size
    # the same weights with the rotated copies as channels 4..6 of a 7-channel layer, in the unpaired order
    w7 = np.concatenate([w, np.zeros((30, 1, 3, 3), dtype=w.dtype), w[:, :, ::-1, ::-1]], axis=1)
    assert np.array_equal(paired, pack_params(w7, bias, shifts, (7,), 2, PAIRED, winograd=True))
    back = unpack_params(paired, 30, (3,), 3, 2, PAIRED, winograd=2)
    assert np.array_equal(back[0], w)
    tampered = pack_params(w7 + (np.arange(7) == 5)[None, :, None, None], bias, shifts, (7,), 2, PAIRED, winograd=True)
    with pytest.raises(ValueError, match="not its low lanes' filters rotated"):
        unpack_params(tampered, 30, (3,), 3, 2, PAIRED, winograd=2)
    for cfg, segs in ((WINO, (3,)), (PAIRED, (5,)), (PAIRED, (2, 1))):
        with pytest.raises(ValueError, match="paired positions need"):
            pack_params(rng.integers(-9, 9, size=(4, sum(segs), 3, 3)), np.zeros(4, dtype=np.int64),
                        np.zeros(4, dtype=np.int64), segs, 1, cfg, winograd=2)


def test_the_plan_pairs_only_the_narrow_calls(yolo_tiny):
    net, formats = yolo_tiny[416]
    plain = make_plan(net, formats, WINO)
    paired = make_plan(net, formats, PAIRED)
    for a, b in zip(plain.calls, paired.calls):
        r = b.regs
        narrow = r["in_channels_a"] <= PAIRED.p_ic // 2 and not r["in_channels_b"]
        assert r["winograd"] == (2 if a.regs["winograd"] and narrow else a.regs["winograd"]), b.layers
        assert {k: v for k, v in r.items() if k != "winograd"} == {k: v for k, v in a.regs.items() if k != "winograd"}
    assert [c.regs["winograd"] for c in paired.calls].count(2) == 1  # layer 0, 3 channels
