"""dse/rtl/fit.json: the committed resource fit is reproducible from its own inputs and optimal.

No yosys needed: the synthesis points are stored in fit.json (``inputs``). Checks: a refit of the
inputs by dse/rtl/fit.py reproduces the stored coefficients and residuals; every point's residual
is within the stated maximum; the coefficients are the non-negative least-squares optimum by the
KKT conditions, checked here with numpy on a design matrix written out independently of fit.py;
the inputs are the full calibration (every array point and lane at both precisions) with the
stage-3 lane built for model.fixed's sigmoid tables.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from rtl.zy_rtl_harness import load_script as load

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
    # the one-point lane fits are exact, the array fit stays inside a few tens of percent
    assert res["max_relative"]["mac_array.lut"] < 0.2 and res["max_relative"]["mac_array.ff"] < 0.1
    for model in ("stage2_acc", "stage2_requant_dsp", "stage2_requant_fabric", "stage3_lane"):
        for key, v in res["max_relative"].items():
            if key.startswith(model + "."):
                assert v < 1e-9, key


def _design(model: str, params: dict) -> list[float]:
    """Written out here, not taken from fit.py: the model equations of the fit.json docstring."""
    if model == "mac_array":
        p_oc, p_ic = params["P_OC"], params["P_IC"]
        macs = p_oc * p_ic
        deep = -(-2 * 9 * (p_oc // p_ic) // 64) - 1  # 64-word LUTRAM slices beyond the first per bank
        return [macs, p_oc, 1.0, macs * deep]
    if model == "stage2_requant_fabric":
        return [1.0, params["GROUPS"] - 1.0]
    return [1.0]


BLOCKS = {"mac_array": ("array",), "stage2_acc": ("stage2_acc",), "stage2_requant_dsp": ("stage2_dsp",),
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
        for name, (_, _, params) in cal.lane_jobs(bits).items():
            want.add((name, bits, json.dumps(params, sort_keys=True)))
    got = {(r["block"], r["bits"], json.dumps(r["params"], sort_keys=True)) for r in doc["inputs"]}
    assert got == want
    assert doc["yosys"].startswith("Yosys")


@pytest.mark.parametrize("bits", [16, 8])
def test_stage3_lane_is_calibrated_with_the_fixed_sigmoid_table(bits):
    cal = load("calibrate")
    lut = fixed.sigmoid_lut(bits)
    assert cal.SIGMOID_TABLE[bits] == (lut.entries, lut.out.frac)
    assert 2 ** cal.stage3_params(bits)["IDX_BITS"] >= lut.entries
