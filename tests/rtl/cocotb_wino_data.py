"""cocotb bench of dse/rtl/zy_wino_data.v (the data transform of the Winograd path: V[i][j] of
B^T d B for LANES lanes, position e = 4 i + j per cycle) against zynqyolo.model.winograd
(tests/rtl/zy_rtl_wino_ref.py data_vectors: corner windows swept over all 16 positions, then random
windows at random positions).

Pipeline (read from the Verilog): the row and column combinations are combinational, V is
registered: ``v`` shows the vector driven before a rising edge at the falling edge after it. A new
window and position every cycle (II 1), as loop CONV_WINO runs.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
from zy_rtl_wino_ref import data_vectors
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def data_transform_matches_winograd(dut):
    cfg = settings()
    bits, lanes = cfg["BITS"], cfg["LANES"]
    wv = bits + 2
    vec = data_vectors(cfg["seed"], cfg["vectors"], bits, lanes)
    tally = Tally(f"zy_wino_data BITS={bits} LANES={lanes}")
    windows, e, expected = vec["windows"], vec["e"], vec["expected"]
    await start_clock(dut)
    for k in range(len(e)):
        # bus order: entry (r, c) of lane l at ((r*4 + c)*LANES + l)*BITS
        dut.win.value = pack(windows[k].transpose(1, 2, 0).reshape(-1).tolist(), bits)
        dut.e.value = int(e[k])
        tally.vectors += 1
        await FallingEdge(dut.clk)
        got = unpack(read_bus(dut.v), wv, lanes)
        tally.check(f"vector {k} (e={int(e[k])}, lane 0 window {windows[k][0].tolist()})", got,
                    [int(x) for x in expected[k]])
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.extra["v_range"] = [int(expected.min()), int(expected.max())]
    tally.finish()
