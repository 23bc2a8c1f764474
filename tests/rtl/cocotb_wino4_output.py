"""cocotb bench of dse/rtl/zy_wino4_output.v (the output transform of the Winograd F(4x2) path: per
lane the two column sums in rings of 6, then per row a rotating chain of the four pixels' sums taking
each completed column from the ring's tail, Y / 16 = 3 x the pixel) against zynqyolo.model.winograd
with tile_w = 4 (tests/rtl/zy_rtl_wino_ref.py output4_tiles: real channel sums of U x V over S = 1..3
sub-folds, the 24-channel extremes, sub-fold sums that wrap, and random sums checked against the
kernel's wrapping arithmetic, output4_kernel).

Schedule (the kernel's loop CONV_WINO, hls/include/zy_winograd.h wino4_across_step): a tile of S
sub-folds takes 24 S iterations k, s = k / 24, position e = k % 24 = 4 jp + i; ``sum`` the row sums of
(s, i, jp), ``restart`` = (s == 0 && i == 0), ``last`` = (s == S - 1), ``after`` = (s == 0 and a tile
before it). The previous tile's pixels leave in its span s == 0 at e in EMIT4; after the last tile the
12 iterations of loop WINO_DRAIN (``after`` set, ``last`` clear, the down half's inputs random).
Between iterations, idle cycles (``valid`` = 0, every other input random: nothing may change).

Pipeline (read from the Verilog): the registers update on the rising edge that samples ``valid``; the
pixel register takes the pixel of an EMIT4 iteration. The bench checks ``y`` on every cycle from the
first pixel on: the pixel of the last emitting iteration, every lane.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import DRAIN4, EMIT4, POS4, SLOTS4, output4_tiles, position4
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def output4_transform_matches_winograd(dut):
    cfg = settings()
    lanes, acc, bits = cfg["LANES"], cfg["ACC"], cfg["bits"]
    wq = acc - 4
    vec = output4_tiles(cfg["seed"], cfg["tiles"], bits, lanes, acc)
    tiles = vec["tiles"]
    rng = np.random.default_rng(cfg["seed"] + 5)
    tally = Tally(f"zy_wino4_output LANES={lanes} ACC={acc} ({bits}-bit codes)")
    idle = 0
    pixels = 0
    want = None  # the pixel register's value (lanes), once a pixel has been made

    def rand_sums():
        return pack(rng.integers(-(1 << (acc - 1)), 1 << (acc - 1), size=lanes).tolist(), acc)

    def check(where):
        if want is not None:
            tally.check(where, unpack(read_bus(dut.y), wq, lanes), want)

    def drive_random(valid):
        dut.valid.value = valid
        dut.i.value = int(rng.integers(0, 4))
        dut.jp.value = int(rng.integers(0, 8))
        dut.restart.value = int(rng.integers(0, 2))
        dut.last.value = int(rng.integers(0, 2))
        dut.after.value = int(rng.integers(0, 2))
        dut.sum.value = rand_sums()

    async def idle_cycles(where):
        nonlocal idle
        while rng.random() < 0.15:
            drive_random(0)
            await FallingEdge(dut.clk)
            idle += 1
            check(f"idle cycle {idle} {where}")

    async def iteration(e, prev, down):
        """Iteration e of a span (down: (s, i, jp, sums, last) of a tile's span, or None in the drain);
        ``prev``: the tile whose pixels leave in this span (its span s == 0, or the drain), else None."""
        nonlocal want, pixels
        i, jp = position4(e)
        if down is None:
            drive_random(1)
            dut.last.value = 0
        else:
            s, _, _, sums, last = down
            dut.valid.value = 1
            dut.restart.value = int(s == 0 and i == 0)
            dut.last.value = int(last)
            dut.sum.value = pack([int(x) for x in sums], acc)
        dut.i.value = i
        dut.jp.value = jp
        dut.after.value = int(prev is not None)
        tally.vectors += 1
        await FallingEdge(dut.clk)
        if prev is not None and e in EMIT4:
            r, c = EMIT4[e]
            want = [int(x) for x in tiles[prev]["q"][:, r, c]]
            pixels += 1
        where = "drain" if down is None else f"tile iteration {e}"
        check(f"{where} (pixel {EMIT4.get(e, '-')} of tile {prev} ({tiles[prev]['kind'] if prev is not None else '-'}))")

    await start_clock(dut)
    drive_random(0)
    prev = None
    for n, tile in enumerate(tiles):
        m = tile["m"]  # (S, lanes, 4, 6)
        n_sub = len(m)
        for k in range(POS4 * n_sub):
            await idle_cycles(f"in tile {n}")
            s, e = divmod(k, POS4)
            i, jp = position4(e)
            await iteration(e, prev if s == 0 else None, (s, i, jp, m[s, :, i, jp], s == n_sub - 1))
        prev = n
    for e in range(DRAIN4):  # WINO_DRAIN: the last tile's pixels
        await idle_cycles("in the drain")
        await iteration(e, prev, None)
    assert pixels == SLOTS4 * len(tiles)
    kinds = vec["kinds"]
    tally.extra["tiles"] = len(tiles)
    tally.extra["pixels"] = pixels
    tally.extra["kinds"] = {k: kinds.count(k) for k in sorted(set(kinds))}
    tally.extra["subfolds"] = {str(s): sum(len(t["m"]) == s for t in tiles) for s in (1, 2, 3)}
    tally.extra["idle_cycles"] = idle
    real = [t["y"] for t in tiles if t["kind"] != "junk"]  # the pixels of real sums
    tally.extra["y_range"] = [int(min(y.min() for y in real)), int(max(y.max() for y in real))]
    tally.finish()
