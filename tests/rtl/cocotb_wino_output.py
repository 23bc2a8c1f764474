"""cocotb bench of dse/rtl/zy_wino_output.v (the output transform of the Winograd path: four 48-bit
accumulators per lane adding +-M[e] by A^T, Y / 4 latched at the tile's end) against
zynqyolo.model.winograd (tests/rtl/zy_rtl_wino_ref.py output_tiles: real channel sums of U x V over
1..16 channels, 512-channel sums of extreme codes, and 48-bit-wrapping tiles).

Pipeline (read from the Verilog): the accumulators and the emit registers update on the rising edge
that samples ``valid``; position 0 of a tile restarts the sums, position 15 latches Y / 4. Per
tile, the positions 0..15 in order (on some tiles 1..14 shuffled: the transform does not depend on
the order between the first and the last), with idle cycles (valid = 0, random position and acc)
between them. The emit registers are checked on every cycle: the previous tile's outputs until the
tile's last position, then the tile's own.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import ACC_BITS, output_tiles
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def output_transform_matches_winograd(dut):
    cfg = settings()
    lanes = cfg["LANES"]
    bits = cfg["bits"]
    vec = output_tiles(cfg["seed"], cfg["tiles"], bits, lanes)
    rng = np.random.default_rng(cfg["seed"] + 5)
    tally = Tally(f"zy_wino_output LANES={lanes} ACC=48 ({bits}-bit codes)")
    m, y, kinds = vec["m"], vec["y"], vec["kinds"]
    idle = 0
    latched = None  # the outputs the emit registers must hold

    def check(where):
        if latched is None:
            return
        got = unpack(read_bus(dut.y), ACC_BITS, 4 * lanes)  # Y[q] of lane l at (q*LANES + l)*ACC
        tally.check(where, got, [int(x) for x in y[latched].reshape(lanes, 4).T.reshape(-1)])

    dut.valid.value = 0
    await start_clock(dut)
    for t in range(len(kinds)):
        order = list(range(1, 15))
        if rng.random() < 0.25:
            order = [int(x) for x in rng.permutation(order)]
        for e in [0] + order + [15]:
            while rng.random() < 0.2:
                dut.valid.value = 0
                dut.e.value = int(rng.integers(0, 16))
                dut.acc.value = pack(rng.integers(-(1 << 47), 1 << 47, size=lanes).tolist(), ACC_BITS)
                await FallingEdge(dut.clk)
                idle += 1
                check(f"idle cycle {idle} in tile {t}")
            dut.valid.value = 1
            dut.e.value = e
            dut.acc.value = pack(m[t, :, e // 4, e % 4].tolist(), ACC_BITS)
            tally.vectors += 1
            await FallingEdge(dut.clk)
            if e == 15:
                latched = t
            check(f"tile {t} ({kinds[t]}) after position {e}")
    tally.extra["tiles"] = len(kinds)
    tally.extra["kinds"] = {k: kinds.count(k) for k in sorted(set(kinds))}
    tally.extra["idle_cycles"] = idle
    tally.extra["y_max"] = int(y.max())
    tally.finish()
