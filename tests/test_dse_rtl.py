"""The MAC-array and stage-2/3 constants of dse/blocks.py against a fresh yosys synthesis of dse/rtl.

Tolerance: 10 % on each fitted LUT/FF figure (yosys's ABC mapping moves a few percent between
versions), exact on DSP48E1 counts. Runs the quick calibration (16-bit, three small arrays, the
lanes): about a minute on two cores.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

from zynqyolo.dse import blocks

pytestmark = [
    pytest.mark.rtl,
    pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not on PATH (Debian: apt-get install yosys)"),
]

CALIBRATE = Path(__file__).resolve().parents[1] / "dse" / "rtl" / "calibrate.py"
REL_TOL = 0.10


@pytest.fixture(scope="module")
def fresh():
    spec = importlib.util.spec_from_file_location("zy_rtl_calibrate", CALIBRATE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, mod.calibrate(quick=True)


def test_mac_array_matches_the_committed_fit(fresh):
    mod, res = fresh
    lm, lr, l0, fm, fr, f0 = blocks.MAC_ARRAY_FIT[16]
    for p in res["points"]:
        if p["key"][0] != "array":
            continue
        _, bits, p_oc, p_ic = p["key"]
        macs = p_oc * p_ic
        assert p["dsp"] == macs * blocks.DSP_PER_MAC
        lut = lm * macs + lr * p_oc + l0  # the deep-bank term is not in the quick points
        ff = fm * macs + fr * p_oc + f0
        assert mod.deep_bank_extra(p_oc, p_ic) == 0
        assert p["lut"] == pytest.approx(lut, rel=REL_TOL), p["key"]
        assert p["ff"] == pytest.approx(ff, rel=REL_TOL), p["key"]
        # the weight banks' LUTRAM agrees with the model's memory rule
        assert p["lutram_lut"] == macs * blocks.lutram_luts(2 * 9 * p_oc // p_ic, bits)


@pytest.mark.parametrize("impl", ["dsp", "fabric"])
def test_stage2_requantiser_matches(fresh, impl):
    _, res = fresh
    lut, ff, dsp = blocks.STAGE2_REQUANT[16][impl]
    got = res["fits"]["16"][f"stage2_{impl}"]
    assert got["dsp"] == dsp
    assert got["lut"] == pytest.approx(lut, rel=REL_TOL) and got["ff"] == pytest.approx(ff, rel=REL_TOL)


def test_stage2_accumulate_lane_and_select_match(fresh):
    mod, res = fresh
    fits = res["fits"]["16"]
    lut, ff = blocks.STAGE2_ACC_LANE
    assert fits["stage2_acc"]["lut"] == pytest.approx(lut, rel=REL_TOL)
    assert fits["stage2_acc"]["ff"] == pytest.approx(ff, rel=REL_TOL)
    per_group = (fits["stage2_fabric_select"]["lut"] - fits["stage2_fabric"]["lut"]) / (mod.SELECT_GROUPS - 1)
    # a few LUTs either way on a small difference: absolute tolerance
    assert per_group == pytest.approx(blocks.STAGE2_SELECT_LUT_PER_GROUP[16], abs=6)
    assert fits["stage2_fabric_select"]["ff"] == fits["stage2_fabric"]["ff"]


def test_stage3_lane_matches(fresh):
    _, res = fresh
    lut, ff = blocks.STAGE3_LANE[16]
    got = res["fits"]["16"]["stage3"]
    assert got["lut"] == pytest.approx(lut, rel=REL_TOL) and got["ff"] == pytest.approx(ff, rel=REL_TOL)
