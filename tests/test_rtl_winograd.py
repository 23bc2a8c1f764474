"""The Winograd F(2x2,3x3) circuits of dse/rtl (zy_wino_data.v, zy_wino_output.v, zy_wino_filter.v)
against zynqyolo.model.winograd, and their resource fit in dse/rtl/fit.json.

Simulation (cocotb + Icarus Verilog; benches tests/rtl/cocotb_wino_*.py, stimulus and expected values
tests/rtl/zy_rtl_wino_ref.py): the data transform V[e] = B^T d B at every position, the filter
transform U = (2G) g (2G)^T and the output transform's +-acc accumulators with the latched Y / 4, on
corner vectors (the windows and filters at both ends of every entry's range, -2^(bits-1) included,
512-channel sums of extreme codes, 48-bit-wrapping tiles) and random ones, at 16 and 8 bits; and the
data and output transforms of a winograd-paired design (PAIRED = 1) on paired steps and unpaired
ones. The default run simulates two lanes; ``-m slow`` adds wider lane groups and more vectors.

Fit (no yosys): every fit.json Winograd entry is reproduced by a refit of its inputs with
dse/rtl/fit.py, is the non-negative least-squares optimum by the KKT conditions (design matrix written
out here), states its residuals, and the inputs are the full calibrate.py Winograd calibration; the
entries beside them (which dse/blocks.load_rtl_fit reads) are untouched by them. Synthesis (yosys): a
quick 16-bit re-synthesis equals the stored inputs with the same yosys, or is within 10 % of the fit
(``-m slow``: every point at both precisions).

F(4x2, 3x3) (hls/include/zy_winograd.h "F(4x2) tiles", 8 bits; zy_wino4_data.v, zy_wino4_output.v,
zy_wino4_filter.v; benches tests/rtl/cocotb_wino4_*.py, stimulus zy_rtl_wino_ref.py data4_vectors,
filter4_vectors, output4_tiles): V = B^T d B4 at every one of the 24 column-major positions, U = (2G) g
(24 G4)^T, and the two-half output transform (column sums in rings; each completed column into the
rotating chains of the four pixels' sums, Y / 16, 3 x the pixel) over tiles of S = 1..3 sub-folds
with idle cycles, against model.winograd with tile_w = 4 (random sums: against the kernel's wrapping
arithmetic), at two lane counts; ``-m slow`` adds 16 lanes and more vectors. Their fit entries
(wino4_data_8, wino4_output_8, wino4_filter_8: calibrate.WINO4_BITS, WINO4_LANES, the output at
WINO4_ACC = wino_y_bits(8, 24, 4)) pass the same fit checks; ``-m slow`` re-synthesises them.
"""

import json
import shutil

import numpy as np
import pytest
from rtl.zy_rtl_harness import RTL_DIR, load_script, report, require_tools, run_bench

pytestmark = pytest.mark.rtl

SEED = 1420
DATA_VECTORS = 3000  # random windows at random positions, plus 1568 corner vectors
FILTER_VECTORS = 2000  # random filters, plus 234 corner filters
OUTPUT_TILES = 200  # tiles of 16 positions (real sums, 512-channel extremes, 48-bit wraps)
FIT_JSON = RTL_DIR / "fit.json"
BLOCKS = ("wino_data", "wino_output", "wino_filter", "wino_data_paired", "wino_output_paired",
          "wino4_data", "wino4_output", "wino4_filter")
WINO4_BLOCKS = ("wino4_data", "wino4_output", "wino4_filter")
WINO4_BITS = 8
DATA4_VECTORS = 1500  # random windows at random positions, plus 2400 corner vectors
FILTER4_VECTORS = 1000  # random filters, plus 302 corner filters
OUTPUT4_TILES = 60  # tiles of S = 1..3 sub-folds of 24 iterations (real, extreme, wrapping, random sums)
REL_TOL = 0.10
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None,
                                 reason="yosys not on PATH (Debian: apt-get install yosys)")


def _data(tmp_path, record_property, bits, lanes, vectors, paired=0):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data",
                    {"BITS": bits, "LANES": lanes, "PAIRED": paired}, {"seed": SEED + bits + lanes, "vectors": vectors})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.record.get("paired_vectors", 0) == (vectors if paired else 0)
    assert res.vectors == (2 if paired else 1) * vectors + res.record["corner_vectors"]
    assert res.record["corner_vectors"] >= 1500
    assert res.record["v_range"] == [-(1 << (bits + 1)), (1 << (bits + 1)) - 2]


def _filter(tmp_path, record_property, bits, lanes, vectors):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_wino_filter.v", "zy_wino_filter", "cocotb_wino_filter",
                    {"BITS": bits, "LANES": lanes}, {"seed": SEED + 2 * bits + lanes, "vectors": vectors})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.vectors == vectors + res.record["corner_vectors"] and res.record["hold_cycles"] > 0
    assert res.record["u_range"][0] == -9 << (bits - 1) and res.record["u_range"][1] >= 1 << (bits + 2)


def _output(tmp_path, record_property, bits, lanes, tiles, paired=0):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output",
                    {"LANES": lanes, "ACC": 48, "PAIRED": paired},
                    {"seed": SEED + 3 * bits + lanes, "tiles": tiles, "bits": bits})
    report(record_property, res)
    assert res.passed, res.failure()
    n_paired = res.record["paired_tiles"]
    assert (n_paired > tiles // 4) if paired else n_paired == 0
    # unpaired tiles take 16 steps, paired ones 10 or 16
    assert 16 * res.record["tiles"] - 6 * n_paired <= res.vectors <= 16 * res.record["tiles"]
    assert res.vectors < 16 * res.record["tiles"] or not paired
    assert res.record["idle_cycles"] > 0
    assert all(res.record["kinds"].get(k, 0) > 0 for k in ("real", "long", "wrap"))


def _data4(tmp_path, record_property, lanes, vectors):
    require_tools()
    bits = WINO4_BITS
    res = run_bench(tmp_path, RTL_DIR / "zy_wino4_data.v", "zy_wino4_data", "cocotb_wino4_data",
                    {"BITS": bits, "LANES": lanes}, {"seed": SEED + 4 * bits + lanes, "vectors": vectors})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.vectors == vectors + res.record["corner_vectors"] and res.record["corner_vectors"] >= 2000
    assert res.record["positions"] == list(range(24))
    # both ends of V's range (|V| <= 20 * 2^(bits-1)), beyond bits + 4
    assert res.record["v_range"] == [-2550, 2556]


def _filter4(tmp_path, record_property, lanes, vectors):
    require_tools()
    bits = WINO4_BITS
    res = run_bench(tmp_path, RTL_DIR / "zy_wino4_filter.v", "zy_wino4_filter", "cocotb_wino_filter",
                    {"BITS": bits, "LANES": lanes}, {"seed": SEED + 5 * bits + lanes, "vectors": vectors, "tile_w": 4})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.vectors == vectors + res.record["corner_vectors"] and res.record["hold_cycles"] > 0
    assert res.record["u_range"] == [-72 << (bits - 1), 9168]  # -9216: U[i][5] of the all-minimum filter


def _output4(tmp_path, record_property, lanes, tiles):
    require_tools()
    cal = load_script("calibrate")
    acc = cal.WINO4_ACC
    res = run_bench(tmp_path, RTL_DIR / "zy_wino4_output.v", "zy_wino4_output", "cocotb_wino4_output",
                    {"LANES": lanes, "ACC": acc},
                    {"seed": SEED + 6 * WINO4_BITS + lanes, "tiles": tiles, "bits": WINO4_BITS})
    report(record_property, res)
    assert res.passed, res.failure()
    rec = res.record
    assert rec["pixels"] == 8 * rec["tiles"] and rec["tiles"] >= tiles
    assert all(rec["kinds"].get(k, 0) > 0 for k in ("real", "extreme", "wrap", "junk"))
    assert rec["subfolds"]["2"] > 0 and rec["subfolds"]["3"] > 0 and rec["subfolds"]["1"] > 0
    assert rec["idle_cycles"] > 0
    # iterations: 24 S a tile and the 12 of the drain
    assert res.vectors == 24 * (rec["subfolds"]["1"] + 2 * rec["subfolds"]["2"] + 3 * rec["subfolds"]["3"]) + 12
    # the largest pixel: 24 channels of 9 products (-2^(bits-1))^2, 48 x it just inside ACC bits
    assert rec["y_range"][1] == 24 * 9 << (2 * WINO4_BITS - 2)
    assert 48 * rec["y_range"][1] < 1 << (acc - 1) <= 2 * 48 * rec["y_range"][1]


@pytest.mark.parametrize("lanes", [2, 3])
def test_wino4_data_transform(tmp_path, record_property, lanes):
    """F(4x2): V = B^T d B4 at the 24 positions e = 4 j + i, the kernel's b4_combine."""
    _data4(tmp_path, record_property, lanes, DATA4_VECTORS)


@pytest.mark.parametrize("lanes", [2, 3])
def test_wino4_filter_transform(tmp_path, record_property, lanes):
    """F(4x2): U = (2G) g (24 G4)^T, the kernel's filter_transform4, column-major."""
    _filter4(tmp_path, record_property, lanes, FILTER4_VECTORS)


@pytest.mark.parametrize("lanes", [2, 3])
def test_wino4_output_transform(tmp_path, record_property, lanes):
    """F(4x2): the column-sum rings and the rotating pixel chains (Y / 16 = 3 x the pixel)."""
    _output4(tmp_path, record_property, lanes, OUTPUT4_TILES)


@pytest.mark.slow
def test_wino4_transforms_wide(tmp_path, record_property):
    _data4(tmp_path / "data", record_property, 16, 4 * DATA4_VECTORS)
    _filter4(tmp_path / "filter", record_property, 16, 2 * FILTER4_VECTORS)
    _output4(tmp_path / "output", record_property, 16, 4 * OUTPUT4_TILES)


@pytest.mark.parametrize("bits", [16, 8])
def test_data_transform(tmp_path, record_property, bits):
    _data(tmp_path, record_property, bits, 2, DATA_VECTORS)


@pytest.mark.parametrize("bits", [16, 8])
def test_filter_transform(tmp_path, record_property, bits):
    _filter(tmp_path, record_property, bits, 2, FILTER_VECTORS)


@pytest.mark.parametrize("bits", [16, 8])
def test_output_transform(tmp_path, record_property, bits):
    _output(tmp_path, record_property, bits, 2, OUTPUT_TILES)


@pytest.mark.parametrize("bits", [16, 8])
def test_paired_data_transform(tmp_path, record_property, bits):
    """A winograd-paired design's data transform: unpaired calls as above, paired steps (the high lanes
    at the sigma of the low lanes' position, zero on the single steps and past the tenth)."""
    _data(tmp_path, record_property, bits, 2, DATA_VECTORS, paired=1)


@pytest.mark.parametrize("bits", [16, 8])
def test_paired_output_transform(tmp_path, record_property, bits):
    """A winograd-paired design's output transform: paired tiles (10 or 16 steps, each pixel adding the
    half whose position touches it) and unpaired ones (the full sum of two random halves)."""
    _output(tmp_path, record_property, bits, 2, OUTPUT_TILES, paired=1)


@pytest.mark.slow
@pytest.mark.parametrize("bits,lanes", [(16, 4), (8, 8)])
def test_paired_transforms_wide(tmp_path, record_property, bits, lanes):
    _data(tmp_path / "data", record_property, bits, lanes, 2 * DATA_VECTORS, paired=1)
    _output(tmp_path / "output", record_property, bits, lanes, 2 * OUTPUT_TILES, paired=1)


@pytest.mark.slow
@pytest.mark.parametrize("bits,lanes", [(16, 8), (8, 16)])
def test_data_transform_wide(tmp_path, record_property, bits, lanes):
    _data(tmp_path, record_property, bits, lanes, 4 * DATA_VECTORS)


@pytest.mark.slow
@pytest.mark.parametrize("bits,lanes", [(16, 4), (8, 8)])
def test_filter_transform_wide(tmp_path, record_property, bits, lanes):
    _filter(tmp_path, record_property, bits, lanes, 4 * FILTER_VECTORS)


@pytest.mark.slow
@pytest.mark.parametrize("bits,lanes", [(16, 8), (8, 8)])
def test_output_transform_wide(tmp_path, record_property, bits, lanes):
    _output(tmp_path, record_property, bits, lanes, 4 * OUTPUT_TILES)


# ------------------------------------------------------------------------------------- the fit ----
@pytest.fixture(scope="module")
def doc():
    return json.loads(FIT_JSON.read_text())


@pytest.fixture(scope="module")
def fitmod():
    pytest.importorskip("scipy", reason="dse/rtl/fit.py needs scipy (pip install scipy)")
    return load_script("fit")


def _entries(doc):
    return {k: v for k, v in doc.items() if isinstance(v, dict) and v.get("block") in BLOCKS}


def test_fit_json_has_every_winograd_entry(doc):
    cal = load_script("calibrate")
    entries = _entries(doc)
    assert sorted(entries) == sorted({f"{b}_{bits}" for b, bits, _ in cal.wino_points()})
    assert sorted(entries) == sorted([f"{b}_{bits}" for b in BLOCKS if b not in WINO4_BLOCKS for bits in cal.FIT_BITS]
                                     + [f"{b}_{WINO4_BITS}" for b in WINO4_BLOCKS])
    for key, e in entries.items():
        assert key == f"{e['block']}_{e['bits']}"
        verilog, top = cal.WINO_BLOCKS[e["block"]]
        assert (e["verilog"], e["top"]) == (f"dse/rtl/{verilog}", top)
        assert set(e["coefficients"]) == {"lut", "ff"}
        for q in ("lut", "ff"):
            assert set(e["coefficients"][q]) == {"per_lane", "fixed"}
        assert e["yosys"].startswith("Yosys")


def test_entries_beside_the_winograd_ones_are_unchanged(doc, fitmod):
    """The Winograd entries are top-level keys of their own: load_rtl_fit's coefficients, inputs and
    residuals hold none of them, and dse.blocks still loads its constants."""
    from zynqyolo.dse import blocks

    assert list(doc)[:6] == ["yosys", "script", "cells", "inputs", "coefficients", "residuals"]
    assert not [r for r in doc["inputs"] if r["block"] in BLOCKS]
    assert all(not set(models) & set(BLOCKS) for models in doc["coefficients"].values())
    assert blocks.load_rtl_fit(FIT_JSON)[0] == blocks.MAC_ARRAY_FIT
    # the stored text is fit.py's own rendering of the document
    assert json.dumps(doc, indent=1) + "\n" == FIT_JSON.read_text()


def test_refit_reproduces_the_winograd_entries(doc, fitmod):
    entries = _entries(doc)
    inputs = [r for e in entries.values() for r in e["inputs"]]
    refit = fitmod.fit_winograd(inputs, doc["yosys"])
    assert refit.keys() == entries.keys()
    for key, e in entries.items():
        got = refit[key]
        for q, terms in e["coefficients"].items():
            for t, v in terms.items():
                assert got["coefficients"][q][t] == pytest.approx(v, rel=1e-9, abs=1e-6), (key, q, t)
        assert got["residuals"]["max_relative"] == pytest.approx(e["residuals"]["max_relative"], rel=1e-9, abs=1e-9)
        assert len(got["residuals"]["points"]) == len(e["residuals"]["points"])
        assert {k: v for k, v in got.items() if k not in ("coefficients", "residuals", "yosys")} == \
               {k: v for k, v in e.items() if k not in ("coefficients", "residuals", "yosys")}


def test_winograd_coefficients_are_the_nonnegative_least_squares_optimum(doc):
    """KKT conditions of min ||A x - y||^2, x >= 0 with A = [LANES, 1] written out here."""
    for key, e in _entries(doc).items():
        a = np.array([[r["params"]["LANES"], 1.0] for r in e["inputs"]])
        assert len(a) >= 3, key
        for q, terms in e["coefficients"].items():
            y = np.array([r["cells"][q] for r in e["inputs"]], dtype=float)
            x = np.array([terms["per_lane"], terms["fixed"]])
            g = a.T @ (a @ x - y)
            scale = max(1.0, float(np.abs(a.T @ y).max()))
            assert np.all(x >= 0), (key, q, x)
            assert np.all(g >= -1e-7 * scale), (key, q, g)
            assert np.all(np.abs(x * g) <= 1e-7 * scale * max(1.0, float(np.abs(x).max()))), (key, q)


def test_winograd_residuals_are_stated(doc):
    for key, e in _entries(doc).items():
        res = e["residuals"]
        assert len(res["points"]) == 2 * len(e["inputs"])
        for p in res["points"]:
            c = e["coefficients"][p["quantity"]]
            fitted = c["per_lane"] * p["params"]["LANES"] + c["fixed"]
            assert fitted == pytest.approx(p["fitted"], rel=1e-12, abs=1e-9)
            assert abs(fitted - p["measured"]) == pytest.approx(p["absolute"], abs=1e-9)
            assert p["relative"] == pytest.approx(p["absolute"] / max(p["measured"], 1), abs=1e-12)
            assert p["relative"] <= res["max_relative"][p["quantity"]] + 1e-12
            assert p["absolute"] <= res["max_absolute"][p["quantity"]] + 1e-9
        assert res["max_relative_all"] == max(res["max_relative"].values())
        # the circuits are lanes side by side: the line fits within a few percent
        assert res["max_relative_all"] < 0.05, key
        # pure fabric: no DSP, no memory
        for r in e["inputs"]:
            assert r["cells"]["dsp"] == r["cells"]["lutram_lut"] == r["cells"]["bram18"] == 0, (key, r["params"])


def test_winograd_inputs_are_the_full_calibration(doc):
    cal = load_script("calibrate")
    want = set()
    for block, bits, lanes in cal.wino_points():
        verilog, top, params = cal.wino_job(block, bits, lanes)
        want.add((block, bits, json.dumps(params, sort_keys=True)))
    got = set()
    for e in _entries(doc).values():
        for r in e["inputs"]:
            assert (r["block"], r["bits"]) == (e["block"], e["bits"])
            assert r["script"].startswith(f"read_verilog {e['verilog']}; chparam ")
            got.add((r["block"], r["bits"], json.dumps(r["params"], sort_keys=True)))
    assert got == want
    assert len(cal.WINO_LANES) >= 3


def test_winograd_widths_are_the_transform_widths():
    """The circuits' U and V widths are model.winograd's (the header's wu_bits, wv_bits)."""
    from zynqyolo.model import winograd

    for bits in (16, 8):
        w = winograd.transform_bits(bits)
        assert (w["u"], w["v"]) == (bits + 4, bits + 2)
    assert "BITS + 4" in (RTL_DIR / "zy_wino_filter.v").read_text()
    assert "BITS + 2" in (RTL_DIR / "zy_wino_data.v").read_text()


def test_wino4_widths_and_accumulator_are_the_kernels():
    """F(4x2): U, V = dse.hwconfig.wino_bits(8, 4) = model.winograd.transform_bits(8, 4) (15 x 13), the
    output circuit's ACC the header's wy_bits at p_oc = 24 (wino_y_bits(8, 24, 4) = 29), and its fit
    entry records that ACC (dse.blocks.load_wino_fit reads it to rescale)."""
    from zynqyolo.dse import blocks
    from zynqyolo.dse.hwconfig import wino_bits, wino_y_bits
    from zynqyolo.model import winograd

    cal = load_script("calibrate")
    w = winograd.transform_bits(WINO4_BITS, 4)
    assert (w["u"], w["v"]) == wino_bits(WINO4_BITS, 4) == (WINO4_BITS + 7, WINO4_BITS + 5)
    assert "BITS + 7" in (RTL_DIR / "zy_wino4_filter.v").read_text()
    assert "BITS + 5" in (RTL_DIR / "zy_wino4_data.v").read_text()
    assert cal.WINO4_ACC == wino_y_bits(WINO4_BITS, 24, 4) == 29
    assert cal.WINO4_BITS == (WINO4_BITS,) and set(WINO4_BLOCKS) <= set(blocks.WINO_FIT_KEYS)
    _, lanes, widths = blocks.load_wino_fit(FIT_JSON)
    assert set(WINO4_BLOCKS) <= set(lanes[WINO4_BITS])
    assert widths[(WINO4_BITS, "wino4_output")] == cal.WINO4_ACC


# ---------------------------------------------------------------------------- fresh syntheses ----
def _check_fresh(res, doc):
    entries = _entries(doc)
    same = res["yosys"] == doc["yosys"]
    for p in res["points"]:
        block, bits, lanes = p["key"]
        e = entries[f"{block}_{bits}"]
        stored = [r for r in e["inputs"] if r["params"] == p["params"]]
        assert len(stored) == 1, p["key"]
        if same:
            assert {q: p[q] for q in stored[0]["cells"]} == stored[0]["cells"], p["key"]
        for q in ("lut", "ff"):
            c = e["coefficients"][q]
            assert p[q] == pytest.approx(c["per_lane"] * lanes + c["fixed"], rel=REL_TOL), (p["key"], q)
        assert p["dsp"] == 0


@needs_yosys
def test_fresh_winograd_synthesis_matches_the_fit(doc):
    """Quick: 16-bit, calibrate.QUICK_WINO_LANES."""
    cal = load_script("calibrate")
    res = cal.calibrate_winograd(quick=True)
    assert {tuple(p["key"]) for p in res["points"]} == set(cal.wino_points(quick=True))
    _check_fresh(res, doc)


@pytest.mark.slow
@needs_yosys
def test_wino4_synthesis_matches_the_fit(doc):
    """F(4x2): the wino4_* points alone (calibrate.calibrate_winograd4, what ``fit.py --winograd4`` runs)."""
    cal = load_script("calibrate")
    res = cal.calibrate_winograd4()
    assert {tuple(p["key"]) for p in res["points"]} == set(cal.wino4_points())
    _check_fresh(res, doc)


@pytest.mark.slow
@needs_yosys
def test_full_winograd_synthesis_matches_the_fit(doc):
    cal = load_script("calibrate")
    res = cal.calibrate_winograd()
    _check_fresh(res, doc)
