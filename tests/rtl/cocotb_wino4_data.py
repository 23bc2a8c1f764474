"""cocotb bench of dse/rtl/zy_wino4_data.v (the data transform of the Winograd F(4x2) path: V[i][j] of
B^T d B4 for LANES lanes, position e = 4 j + i per cycle) against zynqyolo.model.winograd with tile_w
= 4 (tests/rtl/zy_rtl_wino_ref.py data4_vectors: corner windows swept over all 24 positions, the
extremes, their checkerboards, then random windows at random positions).

Pipeline (read from the Verilog): the row and column combinations are combinational, V is
registered: ``v`` shows the vector driven before a rising edge at the falling edge after it. A new
window and position every cycle (II 1), as loop CONV_WINO runs.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import data4_vectors, position4
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def data4_transform_matches_winograd(dut):
    cfg = settings()
    bits, lanes = cfg["BITS"], cfg["LANES"]
    wv = bits + 5
    vec = data4_vectors(cfg["seed"], cfg["vectors"], bits, lanes)
    tally = Tally(f"zy_wino4_data BITS={bits} LANES={lanes}")
    windows, e, expected = vec["windows"], vec["e"], vec["expected"]
    await start_clock(dut)
    for k in range(len(e)):
        # bus order: entry (r, c) of lane l at ((r*6 + c)*LANES + l)*BITS
        dut.win.value = pack(windows[k].transpose(1, 2, 0).reshape(-1).tolist(), bits)
        dut.e.value = int(e[k])
        tally.vectors += 1
        await FallingEdge(dut.clk)
        got = unpack(read_bus(dut.v), wv, lanes)
        tally.check(f"vector {k} (e={int(e[k])}, (i, j)={position4(int(e[k]))}, lane 0 window "
                    f"{windows[k][0].tolist()})", got, [int(x) for x in expected[k]])
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.extra["v_range"] = [int(expected.min()), int(expected.max())]
    tally.extra["positions"] = sorted({int(x) for x in e})
    tally.finish()
