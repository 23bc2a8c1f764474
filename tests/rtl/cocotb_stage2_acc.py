"""cocotb bench of dse/rtl/zy_stage2_acc.v (one accumulate lane of loop ACC) against the ACC-bit
running sums of zynqyolo.model.fixed (tests/rtl/zy_rtl_ref.py: wrap_acc = fixed.saturate with a
wrap format).

Pipeline (read from the Verilog): one register; tile_wr, tile_we and sum_hold show the psum of a
cycle after the next rising edge. The bench is the tile memory: it answers tile_rd for the pixel
being read and stores tile_wr when tile_we is set, so later folds add what the circuit wrote.
Loop order of zy_accumulate.h: per band, fold-major over its pixels; idle cycles (read = 0, random
data) in between must not write the tile nor change the held sum.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_ref import acc_lane_vectors
from zy_rtl_sim import Tally, read, s, settings, start_clock, u


@cocotb.test()
async def accumulate_lane_matches_fixed(dut):
    cfg = settings()
    acc = cfg["ACC"]
    bands = acc_lane_vectors(cfg["seed"], cfg["bands"], acc)
    rng = np.random.default_rng(cfg["seed"] + 7)
    tally = Tally(f"zy_stage2_acc ACC={acc}")
    lo, hi = -(1 << (acc - 1)), 1 << (acc - 1)
    mem = [int(v) for v in rng.integers(lo, hi, size=8)]  # the tile: stale data at start
    held = None
    idle = 0
    await start_clock(dut)
    for b, band in enumerate(bands):
        ps, running, total = band["ps"], band["running"], band["total"]
        folds, pixels = ps.shape
        for f in range(folds):
            for p in range(pixels):
                while rng.random() < 0.15:  # idle cycle: no psum this cycle
                    dut.read.value = 0
                    dut.first.value = int(rng.integers(0, 2))
                    dut.last.value = int(rng.integers(0, 2))
                    dut.ps.value = u(int(rng.integers(lo, hi)), acc)
                    dut.tile_rd.value = u(int(rng.integers(lo, hi)), acc)
                    await FallingEdge(dut.clk)
                    idle += 1
                    tally.check(f"idle cycle {idle}: tile_we", read(dut.tile_we), 0)
                    if held is not None:
                        tally.check(f"idle cycle {idle}: sum_hold", s(read(dut.sum_hold), acc), held)
                first, last = f == 0, f == folds - 1
                dut.read.value = 1
                dut.first.value = int(first)
                dut.last.value = int(last)
                dut.ps.value = u(int(ps[f, p]), acc)
                dut.tile_rd.value = u(mem[p], acc)
                await FallingEdge(dut.clk)
                tally.vectors += 1
                where = f"band {b} fold {f}/{folds} pixel {p} (ps={int(ps[f, p])})"
                we = read(dut.tile_we)
                tally.check(f"{where}: tile_we", we, int(not last))
                if not last:
                    got = s(read(dut.tile_wr), acc)
                    tally.check(f"{where}: tile_wr", got, int(running[f, p]))
                    mem[p] = 0 if got is None else got
                else:
                    held = int(total[p])
                    tally.check(f"{where}: sum_hold", s(read(dut.sum_hold), acc), held)
    tally.extra["idle_cycles"] = idle
    tally.finish()
