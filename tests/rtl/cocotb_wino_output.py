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

PAIRED = 1 (the circuit of a winograd-paired design): half the tiles (at random) are a paired call's:
steps k = 0..9 (16 on some tiles: a tile row's last), the low half carrying M at the step's position
and the high half M at its sigma (zero from k = 6 on, every sum zero past k = 9), e and e_hi the two
positions (zy_rtl_wino_ref.paired_step); the others are unpaired, M[e] split at random into two
48-bit halves whose sum wraps to it, e_hi random (the circuit must ignore it). tile_end marks each
tile's last step. The expected outputs are the same Y / 4: how the positions arrive does not change
the transform.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import ACC_BITS, PAIR_LONG_STEPS, PAIR_STEPS, output_tiles, paired_step, wrap
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

    paired_variant = bool(cfg.get("PAIRED", 0))
    paired_tiles = 0

    def rand_sums():
        return pack(rng.integers(-(1 << 47), 1 << 47, size=lanes).tolist(), ACC_BITS)

    def steps(t):
        """(e, e_hi, low sums, high sums, tile_end) of tile t's steps; and whether it is paired."""
        mt = m[t].reshape(lanes, 16)
        zeros = np.zeros(lanes, dtype=np.int64)
        if paired_variant and rng.random() < 0.5:
            n = PAIR_LONG_STEPS if rng.random() < 0.3 else PAIR_STEPS
            out = []
            for k in range(n):
                e, e_hi, zero_lo, zero_hi = paired_step(k)
                out.append((e, e_hi, zeros if zero_lo else mt[:, e], zeros if zero_hi else mt[:, e_hi], k == n - 1))
            return out, True
        order = list(range(1, 15))
        if rng.random() < 0.25:
            order = [int(x) for x in rng.permutation(order)]
        out = []
        for e in [0] + order + [15]:
            if paired_variant:  # two random halves whose 48-bit sum is M[e]
                lo = rng.integers(-(1 << 47), 1 << 47, size=lanes)
                hi = wrap(mt[:, e] - lo, ACC_BITS)
            else:
                lo, hi = mt[:, e], zeros
            out.append((e, int(rng.integers(0, 16)), lo, hi, e == 15))
        return out, False

    dut.valid.value = 0
    if paired_variant:
        dut.pair.value = 0
        dut.tile_end.value = 0
    await start_clock(dut)
    for t in range(len(kinds)):
        tile, paired = steps(t)
        paired_tiles += paired
        for e, e_hi, lo, hi, end in tile:
            while rng.random() < 0.2:
                dut.valid.value = 0
                dut.e.value = int(rng.integers(0, 16))
                dut.acc.value = rand_sums()
                if paired_variant:
                    dut.e_hi.value = int(rng.integers(0, 16))
                    dut.acc_hi.value = rand_sums()
                    dut.pair.value = int(rng.integers(0, 2))
                    dut.tile_end.value = int(rng.integers(0, 2))
                await FallingEdge(dut.clk)
                idle += 1
                check(f"idle cycle {idle} in tile {t}")
            dut.valid.value = 1
            dut.e.value = e
            dut.acc.value = pack([int(x) for x in lo], ACC_BITS)
            if paired_variant:
                dut.e_hi.value = e_hi
                dut.acc_hi.value = pack([int(x) for x in hi], ACC_BITS)
                dut.pair.value = int(paired)
                dut.tile_end.value = int(end)
            tally.vectors += 1
            await FallingEdge(dut.clk)
            if end:
                latched = t
            check(f"tile {t} ({kinds[t]}, {'paired' if paired else 'unpaired'}) after position {e}")
    tally.extra["tiles"] = len(kinds)
    tally.extra["paired_tiles"] = paired_tiles
    tally.extra["kinds"] = {k: kinds.count(k) for k in sorted(set(kinds))}
    tally.extra["idle_cycles"] = idle
    tally.extra["y_max"] = int(y.max())
    tally.finish()
