"""dse/rtl/fit.json: the committed resource fit is reproducible from its own inputs and optimal.

No yosys needed: the synthesis points are stored in fit.json (``inputs``). Checks: a refit of the
inputs by dse/rtl/fit.py reproduces the stored coefficients and residuals; every point's residual
is within the stated maximum; the coefficients are the non-negative least-squares optimum by the
KKT conditions, checked here with numpy on a design matrix written out independently of fit.py;
the inputs are the full calibration (every array point, direct and Winograd, and lane at both
precisions) with the stage-3 lane built for model.fixed's sigmoid tables and the Winograd array at
dse.hwconfig.wino_bits; dse.blocks charges the Winograd design's array from the stored
mac_array_wino coefficients (not the interpolation of the direct fits) and the measured DSP48E1s.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from rtl.zy_rtl_harness import load_script as load

from zynqyolo.dse import blocks, hwconfig
from zynqyolo.dse.hwconfig import wino_bits
from zynqyolo.model import fixed

pytestmark = pytest.mark.rtl

RTL_DIR = Path(__file__).resolve().parents[1] / "dse" / "rtl"
FIT_JSON = RTL_DIR / "fit.json"


@pytest.fixture(scope="module")
def doc():
    return json.loads(FIT_JSON.read_text())


@pytest.fixture(scope="module")
def fitmod():
    pytest.importorskip("scipy", reason="dse/rtl/fit.py needs scipy (pip install scipy)")
    return load("fit")


def test_refit_reproduces_the_stored_coefficients(doc, fitmod):
    coefficients, residuals = fitmod.fit(doc["inputs"])
    assert coefficients.keys() == doc["coefficients"].keys()
    for bits, models in doc["coefficients"].items():
        assert models.keys() == coefficients[bits].keys()
        for model, quantities in models.items():
            for q, terms in quantities.items():
                for t, v in terms.items():
                    assert coefficients[bits][model][q][t] == pytest.approx(v, rel=1e-9, abs=1e-6), (bits, model, q, t)
    assert residuals["max_relative"] == pytest.approx(doc["residuals"]["max_relative"], rel=1e-9, abs=1e-9)
    assert len(residuals["points"]) == len(doc["residuals"]["points"])


def test_every_residual_is_within_the_stated_maximum(doc):
    res = doc["residuals"]
    assert res["points"]
    for p in res["points"]:
        key = f"{p['model']}.{p['quantity']}"
        rel = abs(p["fitted"] - p["measured"]) / max(p["measured"], 1)
        assert rel == pytest.approx(p["relative"], abs=1e-12)
        assert rel <= res["max_relative"][key] + 1e-12, (key, p["params"])
        assert rel <= res["max_relative_all"] + 1e-12
    # the one-point lane fits are exact, the array fits stay inside a few tens of percent
    for model in ("mac_array", "mac_array_wino"):
        assert res["max_relative"][f"{model}.lut"] < 0.2 and res["max_relative"][f"{model}.ff"] < 0.1, model
    for model in ("stage2_acc", "stage2_requant_dsp", "stage2_requant_fabric", "stage3_lane"):
        for key, v in res["max_relative"].items():
            if key.startswith(model + "."):
                assert v < 1e-9, key


def _design(model: str, params: dict) -> list[float]:
    """Written out here, not taken from fit.py: the model equations of the fit.json docstring."""
    if model in ("mac_array", "mac_array_wino"):
        p_oc, p_ic = params["P_OC"], params["P_IC"]
        macs = p_oc * p_ic
        words = 2 * params.get("POSITIONS", 9) * (p_oc // p_ic)  # the bank: 9 taps or 16 positions a sub-fold
        deep = 1.0 if words > 64 else 0.0  # more than one 64-word LUTRAM slice: a read mux
        return [macs, p_oc, 1.0, macs * deep]
    if model == "stage2_requant_fabric":
        return [1.0, params["GROUPS"] - 1.0]
    return [1.0]


BLOCKS = {"mac_array": ("array",), "mac_array_wino": ("array_wino",), "stage2_acc": ("stage2_acc",),
          "stage2_requant_dsp": ("stage2_dsp",),
          "stage2_requant_fabric": ("stage2_fabric", "stage2_fabric_select"), "stage3_lane": ("stage3",)}


def test_coefficients_are_the_nonnegative_least_squares_optimum(doc):
    """KKT conditions of min ||A x - y||^2, x >= 0: x >= 0, gradient g = A^T (A x - y) >= 0, x_i g_i = 0."""
    for bits, models in doc["coefficients"].items():
        for model, quantities in models.items():
            pts = [r for r in doc["inputs"] if r["bits"] == int(bits) and r["block"] in BLOCKS[model]]
            assert pts, (bits, model)
            for q, terms in quantities.items():
                n = len(terms)
                a = np.array([_design(model, r["params"])[:n] for r in pts])
                y = np.array([r["cells"][q] for r in pts], dtype=float)
                x = np.array(list(terms.values()))
                g = a.T @ (a @ x - y)
                scale = max(1.0, float(np.abs(a.T @ y).max()))
                assert np.all(x >= 0), (bits, model, q, x)
                assert np.all(g >= -1e-7 * scale), (bits, model, q, g)
                assert np.all(np.abs(x * g) <= 1e-7 * scale * max(1.0, float(np.abs(x).max()))), (bits, model, q)


def test_inputs_are_the_full_calibration(doc):
    cal = load("calibrate")
    want = set()
    for bits in cal.FIT_BITS:
        for p_oc, p_ic in cal.ARRAY_POINTS:
            _, _, params = cal.array_job(p_oc, p_ic, bits)
            want.add(("array", bits, json.dumps(params, sort_keys=True)))
        for p_oc, p_ic in cal.WINO_ARRAY_POINTS:
            _, _, params = cal.wino_array_job(p_oc, p_ic, bits)
            want.add(("array_wino", bits, json.dumps(params, sort_keys=True)))
        for name, (_, _, params) in cal.lane_jobs(bits).items():
            want.add((name, bits, json.dumps(params, sort_keys=True)))
    got = {(r["block"], r["bits"], json.dumps(r["params"], sort_keys=True)) for r in doc["inputs"]}
    assert got == want
    assert doc["yosys"].startswith("Yosys")


def test_stage2_lanes_are_calibrated_at_the_kernels_accumulator_width(doc):
    """The stage-2 lanes (accumulate lane, requantisers) are synthesised at each precision's acc_bits,
    what the generated header gives the kernels (48 at 16 bits, 32 at 8)."""
    cal = load("calibrate")
    assert cal.STAGE2_ACC == hwconfig.ACC_BITS_BY_PRECISION
    for r in doc["inputs"]:
        if r["block"].startswith("stage2_"):
            assert r["params"]["ACC"] == hwconfig.acc_bits(r["bits"]), r


@pytest.mark.parametrize("bits", [16, 8])
def test_stage3_lane_is_calibrated_with_the_fixed_sigmoid_table(bits):
    cal = load("calibrate")
    lut = fixed.sigmoid_lut(bits)
    assert cal.SIGMOID_TABLE[bits] == (lut.entries, lut.out.frac)
    assert 2 ** cal.stage3_params(bits)["IDX_BITS"] >= lut.entries


@pytest.mark.parametrize("bits", [16, 8])
def test_wino_array_is_calibrated_at_u_by_v(doc, bits):
    """U x V = dse.hwconfig.wino_bits(bits), 16 positions a sub-fold, V lanes in; every array point of
    the direct fit is a Winograd point too."""
    cal = load("calibrate")
    assert cal.WINO_ARRAY_BITS[bits] == wino_bits(bits)
    assert set(cal.WINO_ARRAY_POINTS) == set(cal.ARRAY_POINTS)
    pts = [r for r in doc["inputs"] if r["block"] == "array_wino" and r["bits"] == bits]
    assert len(pts) == len(cal.WINO_ARRAY_POINTS)
    wu, wv = wino_bits(bits)
    for r in pts:
        p = r["params"]
        assert (p["W_BITS"], p["X_BITS"], p["POSITIONS"], p["X_SELECT"], p["BITS"]) == (wu, wv, 16, 0, bits), p
        assert f"-set W_BITS {wu} -set X_BITS {wv}" in r["script"]


@pytest.mark.parametrize("bits", [16, 8])
def test_wino_array_dsp_per_mac_is_what_the_model_charges(doc, bits):
    """Measured DSP48E1s of a U x V product (20 x 18 at 16 bits fits one 25 x 18 multiplier), point by
    point, against blocks.DSP_PER_MAC, which ConvEngine charges on both paths."""
    for r in doc["inputs"]:
        if r["block"] in ("array", "array_wino") and r["bits"] == bits:
            assert r["cells"]["dsp"] == blocks.DSP_PER_MAC * r["params"]["P_OC"] * r["params"]["P_IC"], r["params"]
    assert doc["coefficients"][str(bits)]["mac_array_wino"]["dsp"]["per_mac"] == pytest.approx(blocks.DSP_PER_MAC)


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("p_oc,p_ic", [(8, 4), (16, 8), (24, 8), (16, 16)])
def test_winograd_mac_array_logic_uses_the_fit(doc, bits, p_oc, p_ic):
    """blocks.mac_array_logic(winograd=True) = the stored mac_array_wino coefficients (per MAC, per row,
    fixed; the deep-bank read mux dropped) x 1.5, computed here from fit.json, not the interpolation."""
    c = doc["coefficients"][str(bits)]["mac_array_wino"]
    macs = p_oc * p_ic
    want = {q: round(1.5 * (c[q]["per_mac"] * macs + c[q]["per_row"] * p_oc + c[q]["fixed"])) for q in ("lut", "ff")}
    got = blocks.mac_array_logic(p_oc, p_ic, bits, winograd=True)
    assert (got.lut, got.ff) == (want["lut"], want["ff"])
    assert got.dsp == 0  # ConvEngine adds the DSP48s
    interp = blocks.mac_array_fit_at(sum(wino_bits(bits)) / 2)
    assert got.lut != round(1.5 * (interp[0] * macs + interp[1] * p_oc + interp[2]))
