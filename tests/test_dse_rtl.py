"""The committed resource fit (dse/rtl/fit.json, which dse/blocks.py reads) against a fresh yosys
synthesis of dse/rtl.

Tolerance: 10 % on each LUT/FF figure (yosys's ABC mapping moves a few percent between versions),
exact on DSP48E1 counts; with the same yosys version as fit.json the fresh cell counts must equal
the stored inputs exactly. Runs the quick calibration (16-bit, three small arrays, one small
Winograd array (8 x 4, U x V = 20 x 18 bits), the lanes): about a minute on two cores.
"""

import json
import shutil
from pathlib import Path

import pytest
from rtl.zy_rtl_harness import load_script as load

from zynqyolo.dse import blocks

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not on PATH (Debian: apt-get install yosys)"),
]

RTL_DIR = Path(__file__).resolve().parents[1] / "dse" / "rtl"
REL_TOL = 0.10


@pytest.fixture(scope="module")
def stored():
    return json.loads((RTL_DIR / "fit.json").read_text())


@pytest.fixture(scope="module")
def fresh():
    mod = load("calibrate")
    return mod, mod.calibrate(quick=True)


def test_fresh_points_equal_the_stored_inputs_with_the_same_yosys(fresh, stored):
    mod, res = fresh
    if res["yosys"] != stored["yosys"]:
        pytest.skip(f"{res['yosys']} is not fit.json's {stored['yosys']}: cell counts may move (tolerances below)")
    inputs = {(r["block"], r["bits"], json.dumps(r["params"], sort_keys=True)): r["cells"] for r in stored["inputs"]}
    for p in res["points"]:
        key = (p["key"][0], p["key"][1], json.dumps(p["params"], sort_keys=True))
        assert key in inputs, key
        assert {q: p[q] for q in inputs[key]} == inputs[key], key


@pytest.mark.parametrize("block,model", [("array", "mac_array"), ("array_wino", "mac_array_wino")])
def test_mac_array_matches_the_fit(fresh, stored, block, model):
    mod, res = fresh
    fit = stored["coefficients"]["16"][model]
    points = [p for p in res["points"] if p["key"][0] == block]
    assert points
    for p in points:
        _, bits, p_oc, p_ic = p["key"]
        macs = p_oc * p_ic
        positions = p["params"].get("POSITIONS", 9)
        extra = macs * mod.deep_bank(p_oc, p_ic, positions)
        assert p["dsp"] == round(fit["dsp"]["per_mac"] * macs) == blocks.DSP_PER_MAC * macs
        for q in ("lut", "ff"):
            c = fit[q]
            want = c["per_mac"] * macs + c["per_row"] * p_oc + c["fixed"] + c["per_deep_bank"] * extra
            assert p[q] == pytest.approx(want, rel=REL_TOL), (p["key"], q)
        # the weight banks' LUTRAM agrees with the model's memory rule (entries of W_BITS: U in a
        # Winograd design)
        width = p["params"].get("W_BITS", bits)
        assert p["lutram_lut"] == macs * blocks.lutram_luts(2 * positions * p_oc // p_ic, width)


@pytest.mark.parametrize("name,model", [("stage2_acc", "stage2_acc"), ("stage2_dsp", "stage2_requant_dsp"),
                                        ("stage2_fabric", "stage2_requant_fabric"), ("stage3", "stage3_lane")])
def test_lane_matches_the_fit(fresh, stored, name, model):
    _, res = fresh
    got = res["lanes"]["16"][name]
    fit = stored["coefficients"]["16"][model]
    for q in ("lut", "ff"):
        assert got[q] == pytest.approx(fit[q]["fixed"], rel=REL_TOL), q
    if "dsp" in fit:
        assert got["dsp"] == round(fit["dsp"]["fixed"])


def test_requantiser_select_matches_the_fit(fresh, stored):
    mod, res = fresh
    fits = res["lanes"]["16"]
    fit = stored["coefficients"]["16"]["stage2_requant_fabric"]
    per_group = (fits["stage2_fabric_select"]["lut"] - fits["stage2_fabric"]["lut"]) / (mod.SELECT_GROUPS - 1)
    # a few LUTs either way on a small difference: absolute tolerance
    assert per_group == pytest.approx(fit["lut"]["per_group"], abs=6)
    assert fits["stage2_fabric_select"]["ff"] == fits["stage2_fabric"]["ff"]
