"""cocotb bench of dse/rtl/zy_wino_filter.v (the filter transform of the Winograd path: the 16
values of U = (2G) g (2G)^T for LANES (oc, ic) pairs) and, with the setting ``tile_w`` 4, of
dse/rtl/zy_wino4_filter.v (F(4x2): the 24 values of U = (2G) g (24 G4)^T, column-major) against
zynqyolo.model.winograd (tests/rtl/zy_rtl_wino_ref.py filter_vectors / filter4_vectors: the filters
at both ends of every U entry's range, special codes (F(4x2) also the extremes' checkerboards),
then random filters).

Pipeline (read from the Verilog): the two passes are combinational, the U registers load on a
rising edge with ``load`` set: ``u`` shows the taps driven before that edge at the falling edge
after it, and holds while ``load`` is clear. The bench clears ``load`` on random cycles (with random
taps on the bus) and checks the held U.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import code_range, filter4_vectors, filter_vectors
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def filter_transform_matches_winograd(dut):
    cfg = settings()
    bits, lanes = cfg["BITS"], cfg["LANES"]
    f4 = cfg.get("tile_w", 2) == 4
    wu = bits + (7 if f4 else 4)
    vec = (filter4_vectors if f4 else filter_vectors)(cfg["seed"], cfg["vectors"], bits, lanes)
    positions = 24 if f4 else 16
    rng = np.random.default_rng(cfg["seed"] + 3)
    lo, hi = code_range(bits)
    tally = Tally(f"zy_wino{'4' if f4 else ''}_filter BITS={bits} LANES={lanes}")
    taps, expected = vec["taps"], vec["expected"]

    def bus_taps(g):  # tap (k, l) of pair p at ((3k + l)*LANES + p)*BITS
        return pack(g.transpose(1, 2, 0).reshape(-1).tolist(), bits)

    def want(k):  # U[i][j] of pair p at ((4i + j)*LANES + p)*WU (F(4x2): ((4j + i)*LANES + p)*WU)
        return [int(x) for x in expected[k].transpose((2, 1, 0) if f4 else (1, 2, 0)).reshape(-1)]

    held = None
    holds = 0
    await start_clock(dut)
    for k in range(len(taps)):
        while held is not None and rng.random() < 0.2:  # a loader step that does not load
            dut.load.value = 0
            dut.taps.value = bus_taps(rng.integers(lo, hi + 1, size=(lanes, 3, 3)))
            await FallingEdge(dut.clk)
            holds += 1
            tally.check(f"hold after vector {held}", unpack(read_bus(dut.u), wu, positions * lanes), want(held))
        dut.load.value = 1
        dut.taps.value = bus_taps(taps[k])
        tally.vectors += 1
        await FallingEdge(dut.clk)
        got = unpack(read_bus(dut.u), wu, positions * lanes)
        tally.check(f"vector {k} (pair 0 taps {taps[k][0].tolist()})", got, want(k))
        held = k
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.extra["hold_cycles"] = holds
    tally.extra["u_range"] = [int(expected.min()), int(expected.max())]
    tally.finish()
