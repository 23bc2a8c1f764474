"""cocotb bench of dse/rtl/zy_wino4_output.v (the output transform of the Winograd F(4x2) path: per
lane the two column sums in rings of 6, latched at a tile's end, then the latched tile's 8 pixels,
one an output slot of three iterations, Y / 16 = 3 x the pixel) against zynqyolo.model.winograd
with tile_w = 4 (tests/rtl/zy_rtl_wino_ref.py output4_tiles: real channel sums of U x V over S = 1..3
sub-folds, the 24-channel extremes, sub-fold sums that wrap, and random sums checked against the
kernel's wrapping arithmetic, output4_kernel).

Schedule (the kernel's loop CONV_WINO, hls/include/zy_winograd.h): a tile of S sub-folds takes 24 S
iterations k, s = k / 24, position e = k % 24 = 4 j + i; ``sum`` the row sums of (s, i, j), ``restart``
= (s == 0 && i == 0), ``tile_done`` at k = 24 S - 1. The previous tile's pixels come out during its
first 24 iterations: ``slot`` while k < 24 (and a tile is latched), t = k / 3, ph = k % 3 (random t and
ph when ``slot`` is clear: the circuit must ignore them); after the last tile the 24 iterations of loop
WINO_DRAIN (slot set, the down half's inputs random, tile_done clear). Between iterations, idle
cycles (``valid`` = 0, every other input random: nothing may change).

Pipeline (read from the Verilog): the registers update on the rising edge that samples ``valid``; the
pixel register takes slot t's pixel at its ph = 2 iteration. The bench checks ``y`` on every cycle
from the first pixel on: the pixel of the last slot completed, every lane.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import POS4, SLOT_GAP4, SLOTS4, output4_tiles, position4, slot_pixel4
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
        dut.restart.value = int(rng.integers(0, 2))
        dut.tile_done.value = int(rng.integers(0, 2)) if not valid else 0
        dut.slot.value = int(rng.integers(0, 2))
        dut.t.value = int(rng.integers(0, 8))
        dut.ph.value = int(rng.integers(0, 4))
        dut.sum.value = rand_sums()

    async def idle_cycles(where):
        nonlocal idle
        while rng.random() < 0.15:
            drive_random(0)
            await FallingEdge(dut.clk)
            idle += 1
            check(f"idle cycle {idle} {where}")

    async def iteration(k, latched, down):
        """Iteration k of a tile (down: (s, i, j, sums, last) of the down half, or None in the drain);
        the across half emits tile ``latched``'s slot k / 3 when k < 24."""
        nonlocal want, pixels
        if down is None:
            drive_random(1)
        else:
            s, i, j, sums, last = down
            dut.valid.value = 1
            dut.i.value = i
            dut.restart.value = int(s == 0 and i == 0)
            dut.tile_done.value = int(last)
            dut.sum.value = pack([int(x) for x in sums], acc)
        emit = latched is not None and k < POS4
        t, ph = (k // SLOT_GAP4, k % SLOT_GAP4) if emit else (int(rng.integers(0, 8)), int(rng.integers(0, 4)))
        dut.slot.value = int(emit)
        dut.t.value = t
        dut.ph.value = ph
        tally.vectors += 1
        await FallingEdge(dut.clk)
        if emit and ph == SLOT_GAP4 - 1:
            r, c = slot_pixel4(t)
            want = [int(x) for x in tiles[latched]["q"][:, r, c]]
            pixels += 1
        where = "drain" if down is None else f"tile iteration {k}"
        check(f"{where} (slot {t} ph {ph} of tile {latched} ({tiles[latched]['kind'] if emit else '-'}))")

    await start_clock(dut)
    drive_random(0)
    latched = None
    for n, tile in enumerate(tiles):
        m = tile["m"]  # (S, lanes, 4, 6)
        n_iter = POS4 * len(m)
        for k in range(n_iter):
            await idle_cycles(f"in tile {n}")
            s, e = divmod(k, POS4)
            i, j = position4(e)
            await iteration(k, latched, (s, i, j, m[s, :, i, j], k == n_iter - 1))
        latched = n
    for k in range(POS4):  # WINO_DRAIN: the last tile's slots
        await idle_cycles("in the drain")
        await iteration(k, latched, None)
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
