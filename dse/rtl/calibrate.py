"""Re-run the yosys syntheses behind the MAC-array and stage-2/3 constants of dse/blocks.py (fit.py fits them).

Usage: ``python dse/rtl/calibrate.py [--quick] [--jobs N] [--json] [--winograd | --winograd-array |
--winograd4]``
(from the repository root or anywhere: the Verilog files are found next to this script). Needs
``yosys`` on PATH (Debian's ``apt-get install yosys``; the committed constants came from Yosys 0.23
(git sha1 7ce5011c24b)).

Each synthesis is ``read_verilog <file>.v; chparam -set ... <top>; synth_xilinx -family xc7 -top
<top> -noiopad -noclkbuf; stat``: the modules are sub-blocks of one HLS IP, so no I/O buffers or
clock buffers. Cells are counted as (yosys cell names):

- ``lut``: LUT1..LUT6, INV (a LUT1 after mapping) and SRL16E/SRLC32E (shift registers live in LUTs);
- ``lutram_lut``: RAM32M/RAM64M (4 LUTs each), RAM32X1D/RAM64X1D (2), RAM32X1S/RAM64X1S/RAM128X1S (1),
  kept apart because the model charges memories by its own rule (blocks.memory);
- ``ff``: FDRE/FDSE/FDCE/FDPE; ``dsp``: DSP48E1; ``bram18``: RAMB18E1 + 2 x RAMB36E1.

Fits (bounded least squares, scipy.optimize.lsq_linear with every coefficient >= 0, in fit.py;
``python dse/rtl/fit.py`` runs this calibration and writes the fit to dse/rtl/fit.json, which
dse/blocks.py reads), per precision:

- MAC array (zy_mac_array.v): lut, ff = a * (p_oc * p_ic) + b * p_oc + c; dsp per MAC; lutram LUTs
  per weight bank against the model's rule;
- the Winograd design's MAC array ("array_wino", the same ARRAY_POINTS and fit form, coefficient
  "mac_array_wino"): zy_mac_array.v at (W_BITS, X_BITS) = WINO_ARRAY_BITS[bits] (U x V, 20 x 18 at
  16 bits, 12 x 10 at 8), POSITIONS = 16 (the weight buffer's 16 transformed positions per sub-fold)
  and X_SELECT = 0 (the operands are the data transform's registered V lanes: no line-word select,
  which the window owns; see the Verilog header); ``--winograd-array`` runs only these;
- stage-2 accumulate lane (zy_stage2_acc.v), stage-2 requantiser (zy_stage2_requant.v) in both leaky
  flavours, and stage-3 lane (zy_stage3_lane.v): one synthesis each (a lane is a fixed circuit), per
  precision; the requantiser's lane select is fitted from a second synthesis serving SELECT_GROUPS
  lanes: lut/ff = fixed + per_group * (groups - 1). The stage-3 lane is built with the sigmoid
  table of its precision (SIGMOID_TABLE: entries and output frac of model.fixed.sigmoid_lut).

The circuits compute what the kernels compute: tests/test_rtl_*.py simulate them (cocotb, Icarus
Verilog) against model.fixed bit for bit.

The Winograd F(2x2,3x3) path (the design note of hls/include/zy_winograd.h, issue 12) has three more
circuits, synthesised apart by ``calibrate_winograd`` (``--winograd``) at each precision over
WINO_LANES lane counts (LANES):

- data transform (zy_wino_data.v, p_ic lanes): V[e] = B^T d B at position e of the 4x4 window;
- output transform (zy_wino_output.v, p_oc lanes): the four 48-bit Y accumulators and the latched
  Y / 4 (the same circuit at both precisions, like the stage-2 accumulate lane);
- filter transform (zy_wino_filter.v, lanes_per_word pairs): the 16 U values of 9 taps;
- a winograd-paired design's data and output transforms ("wino_data_paired", "wino_output_paired":
  the same files at PAIRED = 1, WINO_PAIRED_LANES): the high lanes' own position and zeroing, and
  the output's split row sums (the full-sum adder and the per-pixel operand select);
- the F(4x2, 3x3) path's (a "winograd-4x2" design, zy_winograd.h "F(4x2) tiles"), at WINO4_BITS (8)
  only, over WINO4_LANES: data transform ("wino4_data", zy_wino4_data.v: V = B^T d B4 at position
  e = 4 j + i of the 4 x 6 window), output transform ("wino4_output", zy_wino4_output.v: the column
  sums in rings of 6, the rotating chains of the pixels' sums and the pixel out, Y / 16, at ACC = WINO4_ACC,
  the header's wy_bits at p_oc = 24, recorded in the params so dse.blocks rescales by wy_bits / ACC)
  and filter transform ("wino4_filter", zy_wino4_filter.v: the 24 U = (2G) g (24 G4)^T values);
  ``calibrate_winograd4`` (``--winograd4``) runs only these.

fit.py fits each per precision as ``q = per_lane * LANES + fixed``; tests/test_rtl_winograd.py
simulates them against model.winograd. Its MAC array (U x V) is the "array_wino" calibration above
(``calibrate_winograd_array``, ``--winograd-array``); tests/test_rtl_mac_array.py simulates it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


RTL_DIR = Path(__file__).resolve().parent
FIT_BITS = (16, 8)
# (p_oc, p_ic) points of the MAC-array fit (p_oc a multiple of p_ic, as HwConfig requires).
ARRAY_POINTS = ((8, 4), (16, 4), (24, 4), (8, 8), (16, 8), (24, 8), (16, 16))
QUICK_ARRAY_POINTS = ((8, 4), (8, 8), (16, 8))
# The Winograd design's array (block "array_wino"): the same points (about 5-20 s each with Yosys 0.23);
# per design precision the (W_BITS, X_BITS) = (wu_bits, wv_bits) of dse.hwconfig.wino_bits (U x V;
# tests/test_rtl_fit.py checks them against it), 16 positions a sub-fold, V lanes in (X_SELECT 0).
WINO_ARRAY_POINTS = ARRAY_POINTS
QUICK_WINO_ARRAY_POINTS = ((8, 4),)  # the default test run re-synthesises this one (16-bit)
WINO_ARRAY_BITS = {16: (20, 18), 8: (12, 10)}
WINO_POSITIONS = 16
SELECT_GROUPS = 4  # requantiser fit: one lane (GROUPS=1) and one serving four lanes in turn
# The stage-2 lanes' accumulator width by precision: dse.hwconfig.ACC_BITS_BY_PRECISION, the kernels'
# acc_bits (tests/test_rtl_fit.py checks them against it)
STAGE2_ACC = {16: 48, 8: 32}
# model.fixed.sigmoid_lut(bits): (entries, out.frac) of the table the stage-3 lane indexes
# (tests/test_rtl_fit.py checks them against model.fixed)
SIGMOID_TABLE = {16: (2048, 16), 8: (256, 8)}
# Winograd circuits: block -> (file, top); their lane counts (LANES) of the fit; the accumulator width
WINO_BLOCKS = {"wino_data": ("zy_wino_data.v", "zy_wino_data"),
               "wino_output": ("zy_wino_output.v", "zy_wino_output"),
               "wino_filter": ("zy_wino_filter.v", "zy_wino_filter"),
               # a winograd-paired design's data and output transforms: the same files at PAIRED = 1
               "wino_data_paired": ("zy_wino_data.v", "zy_wino_data"),
               "wino_output_paired": ("zy_wino_output.v", "zy_wino_output"),
               # F(4x2, 3x3): 8 bits only (WINO4_BITS)
               "wino4_data": ("zy_wino4_data.v", "zy_wino4_data"),
               "wino4_output": ("zy_wino4_output.v", "zy_wino4_output"),
               "wino4_filter": ("zy_wino4_filter.v", "zy_wino4_filter")}
WINO_PAIRED_BLOCKS = ("wino_data_paired", "wino_output_paired")
WINO4_BLOCKS = ("wino4_data", "wino4_output", "wino4_filter")
WINO_LANES = (1, 2, 4, 8, 16)
WINO_PAIRED_LANES = (2, 4, 8, 16)  # paired lanes split in two halves: an even count
WINO4_LANES = (2, 4, 8, 16)
WINO4_BITS = (8,)  # F(4x2) is an 8-bit engine (U x V = 15 x 13 bits; at 16 bits V needs 21 > 18)
QUICK_WINO_LANES = (2,)  # the default test run re-synthesises these (16-bit)
WINO_ACC = 48
# The F(4x2) output circuit's accumulators: dse.hwconfig.wino_y_bits(8, 24, 4), the kernel's wy_bits at
# p_oc = 24 (tests/test_rtl_winograd.py checks it against hwconfig)
WINO4_ACC = 29

LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV", "SRL16E", "SRLC32E")
LUTRAM_CELLS = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM32X1S": 1, "RAM64X1S": 1,
                "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


def yosys_version() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise FileNotFoundError("yosys is not on PATH (Debian: apt-get install yosys)")
    return subprocess.run([exe, "-V"], check=True, capture_output=True, text=True).stdout.strip()


def script(verilog: str, top: str, params: dict[str, int]) -> str:
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    return (f"read_verilog {RTL_DIR / verilog}; chparam {chparam} {top}; "
            f"synth_xilinx -family xc7 -top {top} -noiopad -noclkbuf; stat")


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` in a yosys log, summed into lut/lutram_lut/ff/dsp/bram18."""
    cells: dict[str, int] = {}
    block = text[text.rfind("Number of cells:"):]
    for name, count in re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+(\d+)\s*$", block, flags=re.M):
        cells[name] = cells.get(name, 0) + int(count)
    return {
        "lut": sum(cells.get(c, 0) for c in LUT_CELLS),
        "lutram_lut": sum(cells.get(c, 0) * n for c, n in LUTRAM_CELLS.items()),
        "ff": sum(cells.get(c, 0) for c in FF_CELLS),
        "dsp": cells.get("DSP48E1", 0),
        "bram18": cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0),
        "cells": cells,
    }


def synthesize(verilog: str, top: str, params: dict[str, int]) -> dict:
    """One yosys run; the cell counts plus the script that produced them."""
    cmd = script(verilog, top, params)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "yosys.log"
        subprocess.run(["yosys", "-q", "-l", str(log), "-p", cmd], check=True, capture_output=True, text=True)
        stats = parse_stat(log.read_text())
    stats.update(script=cmd, params=params)
    return stats


def array_job(p_oc: int, p_ic: int, bits: int) -> tuple[str, str, dict[str, int]]:
    return "zy_mac_array.v", "zy_mac_array", {"P_OC": p_oc, "P_IC": p_ic, "BITS": bits}


def wino_array_job(p_oc: int, p_ic: int, bits: int) -> tuple[str, str, dict[str, int]]:
    """The Winograd design's array at design precision ``bits``: U (wu_bits) x V (wv_bits) products, 16
    positions a sub-fold, the V lanes as operands (X_SELECT 0)."""
    wu, wv = WINO_ARRAY_BITS[bits]
    return "zy_mac_array.v", "zy_mac_array", {"P_OC": p_oc, "P_IC": p_ic, "BITS": bits, "W_BITS": wu,
                                              "X_BITS": wv, "POSITIONS": WINO_POSITIONS, "X_SELECT": 0}


def lane_jobs(bits: int) -> dict[str, tuple[str, str, dict[str, int]]]:
    acc = STAGE2_ACC[bits]
    return {
        "stage2_acc": ("zy_stage2_acc.v", "zy_stage2_acc", {"ACC": acc}),
        "stage2_dsp": ("zy_stage2_requant.v", "zy_stage2_requant",
                       {"BITS": bits, "ACC": acc, "LEAKY_IMPL": 0, "GROUPS": 1}),
        "stage2_fabric": ("zy_stage2_requant.v", "zy_stage2_requant",
                          {"BITS": bits, "ACC": acc, "LEAKY_IMPL": 1, "GROUPS": 1}),
        # the same requantiser serving SELECT_GROUPS lanes in turn: the select's cost per extra group
        "stage2_fabric_select": ("zy_stage2_requant.v", "zy_stage2_requant",
                                 {"BITS": bits, "ACC": acc, "LEAKY_IMPL": 1, "GROUPS": SELECT_GROUPS}),
        "stage3": ("zy_stage3_lane.v", "zy_stage3_lane", stage3_params(bits)),
    }


def stage3_params(bits: int) -> dict[str, int]:
    entries, out_frac = SIGMOID_TABLE[bits]
    return {"BITS": bits, "IDX_BITS": max(1, (entries - 1).bit_length()), "ENTRIES": entries, "OUT_FRAC": out_frac}


def deep_bank(p_oc: int, p_ic: int, positions: int = 9) -> int:
    """1 when a weight bank's 2 * positions * p_oc / p_ic words exceed one 64-word LUTRAM slice, else 0:
    yosys then builds the bank from 2 to 4 slices (RAM64M/RAM32M) and a read mux of one LUT per bit
    (2:1 to 4:1, a LUT3 to LUT6), logic the model drops because its rule puts such banks in BRAM.
    positions: 9 taps, WINO_POSITIONS for the Winograd array (the direct points have at most 2 slices,
    the Winograd ones up to 3)."""
    return int(2 * positions * (p_oc // p_ic) > 64)


def wino_array_work(quick: bool = False) -> dict[tuple, tuple[str, str, dict[str, int]]]:
    """("array_wino", bits, p_oc, p_ic) -> job of the Winograd array calibration (quick: 16-bit,
    QUICK_WINO_ARRAY_POINTS)."""
    points = QUICK_WINO_ARRAY_POINTS if quick else WINO_ARRAY_POINTS
    bits_list = FIT_BITS[:1] if quick else FIT_BITS
    return {("array_wino", bits, p_oc, p_ic): wino_array_job(p_oc, p_ic, bits)
            for bits in bits_list for p_oc, p_ic in points}


def _run(work: dict, jobs: int) -> dict:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {key: pool.submit(synthesize, *job) for key, job in work.items()}
        return {key: f.result() for key, f in futures.items()}


def _points(results: dict) -> list[dict]:
    return [{"key": list(key), **{k: v for k, v in r.items() if k != "cells"}} for key, r in results.items()]


def calibrate(quick: bool = False, jobs: int = os.cpu_count() or 1) -> dict:
    """The syntheses of the MAC arrays (direct and Winograd) and the stage-2/3 lanes: {"yosys",
    "points": [{"key": [block, bits, ...], "params", "script", lut, lutram_lut, ff, dsp, bram18}],
    "lanes": bits -> lane -> figures}."""
    points = QUICK_ARRAY_POINTS if quick else ARRAY_POINTS
    bits_list = FIT_BITS[:1] if quick else FIT_BITS
    work: dict[tuple, tuple[str, str, dict[str, int]]] = {}
    for bits in bits_list:
        for p_oc, p_ic in points:
            work[("array", bits, p_oc, p_ic)] = array_job(p_oc, p_ic, bits)
        for name, job in lane_jobs(bits).items():
            work[(name, bits)] = job
    work.update(wino_array_work(quick))
    results = _run(work, jobs)
    return {"yosys": yosys_version(), "points": _points(results), "lanes": _lane_figures(results, bits_list)}


def _lane_figures(results: dict, bits_list) -> dict:
    """bits -> lane -> figures: each lane is one synthesis, its cell counts are its figures."""
    return {str(bits): {name: {k: results[(name, bits)][k] for k in ("lut", "lutram_lut", "ff", "dsp", "bram18")}
                        for name in lane_jobs(bits)} for bits in bits_list}


def calibrate_lanes(jobs: int = os.cpu_count() or 1) -> dict:
    """Only the stage-2/3 lanes' syntheses (the lane jobs of calibrate, both precisions), in its form."""
    work = {(name, bits): job for bits in FIT_BITS for name, job in lane_jobs(bits).items()}
    results = _run(work, jobs)
    return {"yosys": yosys_version(), "points": _points(results), "lanes": _lane_figures(results, FIT_BITS)}


def calibrate_winograd_array(quick: bool = False, jobs: int = os.cpu_count() or 1) -> dict:
    """Only the Winograd array's syntheses (the "array_wino" points of calibrate): {"yosys", "points"}."""
    return {"yosys": yosys_version(), "points": _points(_run(wino_array_work(quick), jobs))}


def wino_job(block: str, bits: int, lanes: int) -> tuple[str, str, dict[str, int]]:
    verilog, top = WINO_BLOCKS[block]
    paired = {"PAIRED": 1} if block in WINO_PAIRED_BLOCKS else {}
    if top == "zy_wino_output":  # 48-bit accumulators whatever the precision of the codes
        return verilog, top, {"LANES": lanes, "ACC": WINO_ACC, **paired}
    if top == "zy_wino4_output":  # the F(4x2) design's wy_bits (8 bits, p_oc = 24)
        return verilog, top, {"LANES": lanes, "ACC": WINO4_ACC}
    return verilog, top, {"BITS": bits, "LANES": lanes, **paired}


def wino_points(quick: bool = False) -> list[tuple[str, int, int]]:
    """(block, bits, lanes) of the Winograd calibration (quick: 16-bit, QUICK_WINO_LANES, so no F(4x2)
    circuit); the F(4x2) ones at WINO4_BITS only, over WINO4_LANES."""
    bits_list = FIT_BITS[:1] if quick else FIT_BITS

    def lanes(block):
        if quick:
            return QUICK_WINO_LANES
        if block in WINO4_BLOCKS:
            return WINO4_LANES
        return WINO_PAIRED_LANES if block in WINO_PAIRED_BLOCKS else WINO_LANES
    return [(block, bits, n) for bits in bits_list for block in WINO_BLOCKS
            if bits in (WINO4_BITS if block in WINO4_BLOCKS else FIT_BITS) for n in lanes(block)]


def wino4_points() -> list[tuple[str, int, int]]:
    """(block, bits, lanes) of the F(4x2) circuits alone: the wino4_* points of wino_points()."""
    return [p for p in wino_points() if p[0] in WINO4_BLOCKS]


def calibrate_winograd(quick: bool = False, jobs: int = os.cpu_count() or 1) -> dict:
    """The syntheses of the Winograd circuits: {"yosys", "points": [{"key": [block, bits, lanes],
    "params", "script", lut, lutram_lut, ff, dsp, bram18}]} (the form of calibrate's points)."""
    work = {key: wino_job(*key) for key in wino_points(quick)}
    return {"yosys": yosys_version(), "points": _points(_run(work, jobs))}


def calibrate_winograd4(jobs: int = os.cpu_count() or 1) -> dict:
    """Only the F(4x2) circuits' syntheses (the wino4_* points of calibrate_winograd), in its form."""
    work = {key: wino_job(*key) for key in wino4_points()}
    return {"yosys": yosys_version(), "points": _points(_run(work, jobs))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="16-bit only, three small arrays and QUICK_WINO_ARRAY_POINTS (with --winograd: "
                         "QUICK_WINO_LANES)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel yosys runs")
    ap.add_argument("--json", action="store_true", help="print the raw points as JSON")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--winograd", action="store_true", help="the Winograd circuits (zy_wino_*.v) instead")
    mode.add_argument("--winograd-array", action="store_true",
                      help="only the Winograd design's MAC array (zy_mac_array.v at U x V, the array_wino points)")
    mode.add_argument("--winograd4", action="store_true",
                      help="only the F(4x2) circuits (zy_wino4_*.v, 8 bits, WINO4_LANES; --quick has no effect)")
    mode.add_argument("--lanes", action="store_true",
                      help="only the stage-2/3 lanes (zy_stage2_*.v, zy_stage3_lane.v), both precisions")
    args = ap.parse_args(argv)
    if args.lanes:
        res = calibrate_lanes(args.jobs)
    elif args.winograd:
        res = calibrate_winograd(args.quick, args.jobs)
    elif args.winograd4:
        res = calibrate_winograd4(args.jobs)
    elif args.winograd_array:
        res = calibrate_winograd_array(args.quick, args.jobs)
    else:
        res = calibrate(args.quick, args.jobs)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(res["yosys"])
    for p in sorted(res["points"], key=lambda p: [str(k) for k in p["key"]]):
        print(f"{str(p['key']):32s} lut {p['lut']:6d} lutram_lut {p['lutram_lut']:6d} ff {p['ff']:6d} "
              f"dsp {p['dsp']:4d} bram18 {p['bram18']:3d}")
    print("fit the points with dse/rtl/fit.py (it runs this calibration, or refits fit.json's points)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
