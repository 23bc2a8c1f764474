"""Fit the resource coefficients of dse/blocks.py to the yosys synthesis points of calibrate.py.

Usage: ``python dse/rtl/fit.py [--quick] [--jobs N] [--out PATH] [--points FILE] [--winograd |
--winograd-array | --winograd4]`` runs the calibration syntheses
(calibrate.calibrate, needs yosys) and writes the fit, by default to dse/rtl/fit.json next to this
script; ``--points FILE`` refits the ``inputs`` of an existing fit file instead (no yosys);
``--winograd`` re-synthesises only the Winograd transforms, ``--winograd-array`` only the Winograd
design's MAC array (the "array_wino" inputs; the other inputs of --out are kept and everything refitted),
``--winograd4`` only the F(4x2) transforms (wino4_data_8, wino4_output_8, wino4_filter_8: those entries
of --out are replaced or added, every other key is kept as it is).

Every coefficient is fitted by ``scipy.optimize.lsq_linear`` (method ``bvls``: an exact
bounded least-squares solve, so a refit of the stored inputs reproduces the stored coefficients),
each bounded to ``>= 0`` (all of them are costs: cells per MAC, per row, per group, fixed cells):

- MAC array (zy_mac_array.v), per precision: ``q = per_mac * p_oc * p_ic + per_row * p_oc + fixed
  + per_deep_bank * p_oc * p_ic * calibrate.deep_bank(p_oc, p_ic, POSITIONS)`` for q in lut, ff
  over the ARRAY_POINTS; ``dsp = per_mac * macs`` and ``lutram_lut = per_mac * macs``: model
  "mac_array" over the direct arrays (block "array", BITS x BITS, 9 positions), model
  "mac_array_wino" over the Winograd design's arrays (block "array_wino": U x V at
  calibrate.WINO_ARRAY_BITS[bits], 16 positions, the V lanes as operands; ``bits`` is the design's
  precision), both in ``coefficients[bits]``;
- stage-2 accumulate lane, requantiser (product as a multiply, "dsp"), stage-3 lane: one synthesis
  each, ``q = fixed``;
- requantiser with the product in the fabric: ``q = fixed + per_group * (groups - 1)`` over the
  one-lane synthesis and the one serving calibrate.SELECT_GROUPS lanes.

fit.json: ``yosys`` (version), ``script`` (the synthesis command of each point is in its input),
``inputs`` (every synthesis point: block, bits, params, cells), ``coefficients``
(bits -> model -> quantity -> term -> value), ``residuals`` (per point and quantity: measured,
fitted, relative = |fitted - measured| / max(measured, 1); per model and quantity the max relative,
and the overall max). dse/blocks.py reads its constants from the coefficients.

The Winograd circuits (calibrate.calibrate_winograd: data, output and filter transforms over
calibrate.WINO_LANES lane counts, and a winograd-paired design's data and output transforms,
wino_data_paired and wino_output_paired, over WINO_PAIRED_LANES, and the F(4x2) path's wino4_data,
wino4_output and wino4_filter at calibrate.WINO4_BITS = 8 only, over WINO4_LANES, the output circuit at
ACC = calibrate.WINO4_ACC, recorded in each input's params) are fitted per precision as
``q = per_lane * LANES + fixed`` for q in lut, ff (``fit_winograd``) and stored beside those, one
top-level key per circuit and precision, ``<block>_<bits>`` (wino_data_16, wino_output_16,
wino_filter_16, wino_data_8, ..., wino4_data_8):
``block``, ``bits``, ``verilog``, ``top``, ``lanes`` (what LANES counts), ``equation``, ``yosys``,
``inputs`` (the records of ``inputs`` above), ``coefficients`` (quantity -> {"per_lane", "fixed"}),
``residuals`` (``points``: params, quantity, measured, fitted, relative, absolute; ``max_relative``
and ``max_absolute`` per quantity; ``max_relative_all``). The keys above them are unchanged.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import lsq_linear

RTL_DIR = Path(__file__).resolve().parent
FIT_JSON = RTL_DIR / "fit.json"
QUANTITIES = ("lut", "ff", "dsp", "lutram_lut", "bram18")


def _calibrate():
    """calibrate.py by path (dse/rtl is not a package)."""
    name = "zy_rtl_calibrate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, RTL_DIR / "calibrate.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def nonneg_lsq(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min ||a x - y|| subject to x >= 0 (scipy.optimize.lsq_linear, bounded-variable least squares)."""
    a = np.asarray(a, dtype=float)
    y = np.asarray(y, dtype=float)
    res = lsq_linear(a, y, bounds=(0.0, np.inf), method="bvls", tol=1e-12)
    if not res.success:
        raise RuntimeError(f"lsq_linear did not converge: {res.message}")
    return res.x


def _array_row(params: dict) -> list[float]:
    p_oc, p_ic = params["P_OC"], params["P_IC"]
    macs = p_oc * p_ic
    return [macs, p_oc, 1.0, macs * _calibrate().deep_bank(p_oc, p_ic, params.get("POSITIONS", 9))]


# model -> the calibrate.py blocks (point keys) it is fitted over, and per group of quantities its
# terms and the design row of a point's params (the module docstring's equations)
ARRAY_FITS = {
    ("lut", "ff"): (("per_mac", "per_row", "fixed", "per_deep_bank"), _array_row),
    ("dsp", "lutram_lut"): (("per_mac",), lambda p: [p["P_OC"] * p["P_IC"]])}
MODELS = {
    "mac_array": {"blocks": ("array",), "fits": ARRAY_FITS},
    "mac_array_wino": {"blocks": ("array_wino",), "fits": ARRAY_FITS},
    "stage2_acc": {"blocks": ("stage2_acc",), "fits": {
        ("lut", "ff", "dsp"): (("fixed",), lambda p: [1.0])}},
    "stage2_requant_dsp": {"blocks": ("stage2_dsp",), "fits": {
        ("lut", "ff", "dsp"): (("fixed",), lambda p: [1.0])}},
    "stage2_requant_fabric": {"blocks": ("stage2_fabric", "stage2_fabric_select"), "fits": {
        ("lut", "ff", "dsp"): (("fixed", "per_group"), lambda p: [1.0, p["GROUPS"] - 1.0])}},
    "stage3_lane": {"blocks": ("stage3",), "fits": {
        ("lut", "ff"): (("fixed",), lambda p: [1.0])}},
}


# Winograd circuits: block -> what LANES counts (the fit is q = per_lane * LANES + fixed)
WINO_MODELS = {
    "wino_data": "p_ic lanes: the data transform V[e] = B^T d B of one position per lane",
    "wino_output": "p_oc lanes: four 48-bit Y accumulators (+-acc by A^T) and the latched Y / 4 per lane",
    "wino_filter": "lanes_per_word (oc, ic) pairs: the 16 U = (2G) g (2G)^T values of 9 taps per pair",
    "wino_data_paired": "p_ic lanes: wino_data of a winograd-paired design (the high half's position and zeroing)",
    "wino_output_paired": "p_oc lanes: wino_output of a winograd-paired design (split row sums: the full-sum "
                          "adder and the per-pixel select of the high half, the low half or the full sum)",
    "wino4_data": "p_ic lanes: the F(4x2) data transform V[e] = B^T d B4 of one position (e = 4 j + i) per lane",
    "wino4_output": "p_oc lanes: the F(4x2) output transform per lane: two ACC-bit column sums (+-sum by A^T) in "
                    "rings of 6; per column sum a rotating chain of the four pixels' sums taking the A4^T terms "
                    "of each completed column from the ring's tail; the pixel out, Y / 16 (stage 2 divides by 3)",
    "wino4_filter": "lanes_per_word (oc, ic) pairs: the 24 U = (2G) g (24 G4)^T values of 9 taps per pair",
}
WINO_TERMS = ("per_lane", "fixed")
WINO_QUANTITIES = ("lut", "ff")


def wino_key(block: str, bits: int) -> str:
    """The fit.json key of a Winograd circuit's fit at a precision, e.g. wino_data_16."""
    return f"{block}_{bits}"


def wino_keys(doc: dict) -> list[str]:
    """The Winograd entries of a fit.json document, in their order."""
    return [k for k, v in doc.items() if isinstance(v, dict) and v.get("block") in WINO_MODELS]


def fit_winograd(inputs: list[dict], yosys: str = "") -> dict:
    """key -> entry (the module docstring's form) of the Winograd circuits over their inputs."""
    cal = _calibrate()
    out: dict = {}
    for bits in sorted({r["bits"] for r in inputs}, reverse=True):
        for block, lanes in WINO_MODELS.items():
            pts = sorted((r for r in inputs if r["bits"] == bits and r["block"] == block),
                         key=lambda r: r["params"]["LANES"])
            if not pts:
                continue
            a = np.array([[r["params"]["LANES"], 1.0] for r in pts], dtype=float)
            coefficients: dict = {}
            points: list[dict] = []
            max_rel: dict = {}
            max_abs: dict = {}
            for q in WINO_QUANTITIES:
                y = np.array([r["cells"][q] for r in pts], dtype=float)
                x = nonneg_lsq(a, y)
                coefficients[q] = {t: float(v) for t, v in zip(WINO_TERMS, x)}
                for r, f, m in zip(pts, a @ x, y):
                    rel = abs(f - m) / max(m, 1.0)
                    points.append({"params": r["params"], "quantity": q, "measured": int(m), "fitted": float(f),
                                   "relative": float(rel), "absolute": float(abs(f - m))})
                    max_rel[q] = max(max_rel.get(q, 0.0), float(rel))
                    max_abs[q] = max(max_abs.get(q, 0.0), float(abs(f - m)))
            verilog, top = cal.WINO_BLOCKS[block]
            out[wino_key(block, bits)] = {
                "block": block, "bits": bits, "verilog": f"dse/rtl/{verilog}", "top": top, "lanes": lanes,
                "equation": "q = per_lane * LANES + fixed (q: lut, ff; scipy lsq_linear, bounds >= 0)",
                "yosys": yosys, "inputs": pts, "coefficients": coefficients,
                "residuals": {"points": points, "max_relative": max_rel, "max_absolute": max_abs,
                              "max_relative_all": max(max_rel.values())}}
    return out


def wino_inputs(doc: dict) -> list[dict]:
    """Every Winograd synthesis record of a fit.json document."""
    return [r for k in wino_keys(doc) for r in doc[k]["inputs"]]


def relative_script(script: str) -> str:
    """The yosys command with the Verilog path relative to the repository (dse/rtl/<file>.v)."""
    return script.replace(str(RTL_DIR) + "/", "dse/rtl/")


def inputs_from_calibration(res: dict) -> list[dict]:
    """calibrate.calibrate() output -> the fit inputs: one record per synthesis point."""
    out = []
    for p in res["points"]:
        block, bits = p["key"][0], int(p["key"][1])
        out.append({"block": block, "bits": bits, "params": dict(p["params"]),
                    "cells": {q: int(p[q]) for q in QUANTITIES}, "script": relative_script(p.get("script", ""))})
    return sorted(out, key=lambda r: (-r["bits"], r["block"], sorted(r["params"].items())))


def fit(inputs: list[dict]) -> tuple[dict, dict]:
    """(coefficients, residuals) of the MODELS over the fit inputs."""
    coefficients: dict = {}
    per_point: list[dict] = []
    max_rel: dict = {}
    for bits in sorted({r["bits"] for r in inputs}, reverse=True):
        coef_bits: dict = {}
        for model, spec in MODELS.items():
            pts = [r for r in inputs if r["bits"] == bits and r["block"] in spec["blocks"]]
            if not pts:
                continue
            coef_model: dict = {}
            for quantities, (terms, row) in spec["fits"].items():
                a = np.array([row(r["params"]) for r in pts], dtype=float)
                for q in quantities:
                    y = np.array([r["cells"][q] for r in pts], dtype=float)
                    x = nonneg_lsq(a, y)
                    coef_model[q] = {t: float(v) for t, v in zip(terms, x)}
                    pred = a @ x
                    for r, f, m in zip(pts, pred, y):
                        rel = abs(f - m) / max(m, 1.0)
                        per_point.append({"model": model, "block": r["block"], "bits": bits, "params": r["params"],
                                          "quantity": q, "measured": int(m), "fitted": float(f), "relative": float(rel)})
                        key = f"{model}.{q}"
                        max_rel[key] = max(max_rel.get(key, 0.0), float(rel))
            coef_bits[model] = coef_model
        coefficients[str(bits)] = coef_bits
    residuals = {"points": per_point, "max_relative": max_rel,
                 "max_relative_all": max(max_rel.values()) if max_rel else 0.0}
    return coefficients, residuals


def build(res: dict, wino: dict | None = None) -> dict:
    """The fit.json document from a calibrate.calibrate() result (and a calibrate.calibrate_winograd()
    result: its entries follow the others)."""
    inputs = inputs_from_calibration(res)
    coefficients, residuals = fit(inputs)
    doc = {"yosys": res.get("yosys", ""),
            "script": "read_verilog; chparam; synth_xilinx -family xc7 -top <top> -noiopad -noclkbuf; stat",
            "cells": "lut: LUT1-6, INV, SRL16E, SRLC32E; lutram_lut: LUTs of the distributed RAMs "
                     "(calibrate.LUTRAM_CELLS: RAM32M/RAM64M 4 each, ...); ff: FDRE/FDSE/FDCE/FDPE; "
                     "dsp: DSP48E1; bram18: RAMB18E1 + 2 x RAMB36E1",
            "inputs": inputs, "coefficients": coefficients, "residuals": residuals}
    if wino is not None:
        doc.update(fit_winograd(inputs_from_calibration(wino), wino.get("yosys", "")))
    return doc


def write(doc: dict, path: Path = FIT_JSON) -> Path:
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="16-bit only, three small arrays (calibrate --quick)")
    ap.add_argument("--jobs", type=int, default=None, help="parallel yosys runs")
    ap.add_argument("--out", type=Path, default=FIT_JSON, help="where to write the fit (default dse/rtl/fit.json)")
    ap.add_argument("--points", type=Path, default=None, help="refit the inputs of this fit file (no yosys)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--winograd", action="store_true",
                      help="re-synthesise only the Winograd circuits; the other entries of --out are kept as they are")
    mode.add_argument("--winograd-array", action="store_true",
                      help="re-synthesise only the Winograd design's MAC array (array_wino inputs) and refit")
    mode.add_argument("--winograd4", action="store_true",
                      help="re-synthesise only the F(4x2) circuits (wino4_*); the other entries of --out are kept")
    mode.add_argument("--lanes", action="store_true",
                      help="re-synthesise only the stage-2/3 lanes (both precisions) and refit")
    args = ap.parse_args(argv)
    if (args.lanes or args.winograd_array) and args.points is None:
        cal = _calibrate()
        kwargs = {} if args.jobs is None else {"jobs": args.jobs}
        old = json.loads(args.out.read_text())
        if args.lanes:
            fresh = cal.calibrate_lanes(**kwargs)
        else:
            fresh = cal.calibrate_winograd_array(quick=args.quick, **kwargs)
        redone = {p["key"][0] for p in fresh["points"]}
        inputs = [r for r in old["inputs"] if r["block"] not in redone] + inputs_from_calibration(fresh)
        inputs.sort(key=lambda r: (-r["bits"], r["block"], sorted(r["params"].items())))
        coefficients, residuals = fit(inputs)
        doc = {**old, "inputs": inputs, "coefficients": coefficients, "residuals": residuals}
    elif args.winograd4 and args.points is None:
        cal = _calibrate()
        kwargs = {} if args.jobs is None else {"jobs": args.jobs}
        doc = json.loads(args.out.read_text())
        wino4 = cal.calibrate_winograd4(**kwargs)
        for key in wino_keys(doc):
            if doc[key]["block"] in cal.WINO4_BLOCKS:
                del doc[key]
        doc.update(fit_winograd(inputs_from_calibration(wino4), wino4["yosys"]))
    elif args.points is not None:
        old = json.loads(args.points.read_text())
        for r in old["inputs"]:
            r["script"] = relative_script(r.get("script", ""))
        coefficients, residuals = fit(old["inputs"])
        doc = {**build({"yosys": old["yosys"], "points": []}), **{k: old[k] for k in ("yosys", "inputs")},
               "coefficients": coefficients, "residuals": residuals}
        for key in wino_keys(old):
            doc.update(fit_winograd(old[key]["inputs"], old[key].get("yosys", "")))
    else:
        cal = _calibrate()
        kwargs = {} if args.jobs is None else {"jobs": args.jobs}
        wino = cal.calibrate_winograd(quick=args.quick, **kwargs)
        if args.winograd:
            doc = json.loads(args.out.read_text())
            for key in wino_keys(doc):
                del doc[key]
            doc.update(fit_winograd(inputs_from_calibration(wino), wino["yosys"]))
        else:
            doc = build(cal.calibrate(quick=args.quick, **kwargs), wino)
    write(doc, args.out)
    for bits, models in doc["coefficients"].items():
        print(f"-- {bits}-bit")
        for model, qs in models.items():
            print(f"{model:22s} " + "; ".join(f"{q}: " + " ".join(f"{t} {v:.3f}" for t, v in terms.items())
                                              for q, terms in qs.items()))
    print("max relative residual:", " ".join(f"{k} {v:.3f}" for k, v in doc["residuals"]["max_relative"].items()))
    for key in wino_keys(doc):
        entry = doc[key]
        print(f"{key:22s} " + "; ".join(f"{q}: " + " ".join(f"{t} {v:.3f}" for t, v in terms.items())
                                        for q, terms in entry["coefficients"].items())
              + " (max residual " + " ".join(f"{q} {v:.3f}" for q, v in entry["residuals"]["max_relative"].items())
              + ")")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
