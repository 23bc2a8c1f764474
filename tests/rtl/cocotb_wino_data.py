"""cocotb bench of dse/rtl/zy_wino_data.v (the data transform of the Winograd path: V[i][j] of
B^T d B for LANES lanes, position e = 4 i + j per cycle) against zynqyolo.model.winograd
(tests/rtl/zy_rtl_wino_ref.py data_vectors: corner windows swept over all 16 positions, then random
windows at random positions).

Pipeline (read from the Verilog): the row and column combinations are combinational, V is
registered: ``v`` shows the vector driven before a rising edge at the falling edge after it. A new
window and position every cycle (II 1), as loop CONV_WINO runs.

PAIRED = 1 (the circuit of a winograd-paired design): the vectors above as an unpaired call drives them
(e_hi = e, no zeroing), then as many again of a paired call's steps: random windows at random steps
k = 0..15 (zy_rtl_wino_ref.paired_step: the low lanes at the step's position, the high lanes at its
sigma, zero where the step says), V from the same model.winograd.data_transform.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_sim import Tally, pack, settings, start_clock, unpack
import numpy as np
from zy_rtl_wino_ref import code_range, data_vectors, paired_step

from zynqyolo.model import winograd
from zy_rtl_wino_sim import read_bus


@cocotb.test()
async def data_transform_matches_winograd(dut):
    cfg = settings()
    bits, lanes = cfg["BITS"], cfg["LANES"]
    wv = bits + 2
    vec = data_vectors(cfg["seed"], cfg["vectors"], bits, lanes)
    tally = Tally(f"zy_wino_data BITS={bits} LANES={lanes}")
    windows, e, expected = vec["windows"], vec["e"], vec["expected"]
    paired_variant = bool(cfg.get("PAIRED", 0))
    await start_clock(dut)
    for k in range(len(e)):
        # bus order: entry (r, c) of lane l at ((r*4 + c)*LANES + l)*BITS
        dut.win.value = pack(windows[k].transpose(1, 2, 0).reshape(-1).tolist(), bits)
        dut.e.value = int(e[k])
        if paired_variant:
            dut.e_hi.value = int(e[k])
            dut.zero_lo.value = 0
            dut.zero_hi.value = 0
        tally.vectors += 1
        await FallingEdge(dut.clk)
        got = unpack(read_bus(dut.v), wv, lanes)
        tally.check(f"vector {k} (e={int(e[k])}, lane 0 window {windows[k][0].tolist()})", got,
                    [int(x) for x in expected[k]])
    if paired_variant:
        rng = np.random.default_rng(cfg["seed"] + 7)
        lo, hi = code_range(bits)
        half = lanes // 2
        pw = rng.integers(lo, hi + 1, size=(cfg["vectors"], lanes, 4, 4), dtype=np.int64)
        pv = winograd.data_transform(pw).reshape(len(pw), lanes, 16)
        for n in range(len(pw)):
            step = int(rng.integers(0, 16))
            e_lo, e_hi, zero_lo, zero_hi = paired_step(step)
            want = [0 if zero_lo else int(pv[n, l, e_lo]) for l in range(half)]
            want += [0 if zero_hi else int(pv[n, l, e_hi]) for l in range(half, lanes)]
            dut.win.value = pack(pw[n].transpose(1, 2, 0).reshape(-1).tolist(), bits)
            dut.e.value = e_lo
            dut.e_hi.value = e_hi
            dut.zero_lo.value = int(zero_lo)
            dut.zero_hi.value = int(zero_hi)
            tally.vectors += 1
            await FallingEdge(dut.clk)
            tally.check(f"paired vector {n} (step {step})", unpack(read_bus(dut.v), wv, lanes), want)
        tally.extra["paired_vectors"] = len(pw)
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.extra["v_range"] = [int(expected.min()), int(expected.max())]
    tally.finish()
