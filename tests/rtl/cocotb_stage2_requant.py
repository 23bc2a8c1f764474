"""cocotb bench of dse/rtl/zy_stage2_requant.v (one stage-2 requantiser, both leaky flavours, GROUPS
lanes served in turn) against zynqyolo.model.fixed.requantize (tests/rtl/zy_rtl_ref.py).

Pipeline (read from the Verilog): the group select, the bias add, two leaky levels and the leaky
mux, the round-half-up shift and the saturation are each a register: ``code`` shows vector ``c``
STAGES = 6 rising edges after the edge that samples it. A new vector every cycle (II 1), as loop
ACC runs. ``leaky`` is a call register of the kernel, constant for a call: the bench runs blocks of
vectors with one leaky value each and lets the pipeline drain (STAGES idle cycles) between blocks.
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_ref import requant_vectors
from zy_rtl_sim import Tally, read, pack, s, settings, start_clock

STAGES = 6
SHIFT_BITS = 6
BLOCK = 400  # vectors per leaky block


def schedule(leaky: np.ndarray, rng: np.random.Generator) -> list[tuple[int | None, bool]]:
    """(vector index or None for an idle cycle, leaky input) per cycle."""
    blocks = []
    for value in (False, True):
        idx = np.nonzero(leaky == value)[0]
        blocks += [(value, idx[i:i + BLOCK]) for i in range(0, len(idx), BLOCK)]
    order = rng.permutation(len(blocks))
    cycles: list[tuple[int | None, bool]] = []
    for b in order:
        value, idx = blocks[b]
        cycles += [(int(i), bool(value)) for i in idx]
        cycles += [(None, bool(value))] * STAGES  # drain before the next call's leaky value
    return cycles


@cocotb.test()
async def requantiser_matches_fixed(dut):
    cfg = settings()
    bits, groups, acc = cfg["BITS"], cfg["GROUPS"], cfg["ACC"]
    vec = requant_vectors(cfg["seed"], cfg["vectors"], bits, groups, acc)
    rng = np.random.default_rng(cfg["seed"] + 1)
    cycles = schedule(vec["leaky"], rng)
    tally = Tally(f"zy_stage2_requant BITS={bits} ACC={acc} LEAKY_IMPL={cfg['LEAKY_IMPL']} GROUPS={groups}")
    sums = [pack(row, acc) for row in vec["sums"]]
    bias = [pack(row, acc) for row in vec["bias"]]
    shift = [pack(row, SHIFT_BITS) for row in vec["shift"]]
    g, expected = vec["g"], vec["expected"]
    await start_clock(dut)
    for i in range(len(cycles) + STAGES):
        k, leaky = cycles[i] if i < len(cycles) else (None, False)
        if k is not None:
            dut.sums.value = sums[k]
            dut.bias.value = bias[k]
            dut.shift.value = shift[k]
            dut.g.value = int(g[k])
            tally.vectors += 1
        dut.leaky.value = int(leaky)
        await FallingEdge(dut.clk)
        j = i - STAGES
        if j >= 0 and cycles[j][0] is not None:
            c = cycles[j][0]
            got = s(read(dut.code), bits)
            tally.check(f"vector {c} (g={g[c]}, sum={vec['sums'][c][g[c]]}, bias={vec['bias'][c][g[c]]}, "
                        f"shift={vec['shift'][c][g[c]]}, leaky={vec['leaky'][c]})", got, int(expected[c]))
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.finish()
