"""cocotb bench of dse/rtl/zy_mac_array.v (the P_OC x P_IC MAC array of conv_stage with its weight
banks and operand select) against exact integer dot products (tests/rtl/zy_rtl_ref.py mac_expected:
products of two codes, summed exactly, in the 48-bit accumulator of zynqyolo.model.fixed's wrap).

Pipeline (read from the Verilog): the operand select (line word or newest pixel, lane group
``sub``, zero outside the image) is registered; chain position ic takes its operand and its weight
address ic cycles later (systolic), then the DSP A/B, M and P registers; the row accumulator adds
the end of the chain, cleared by ``acc_clear`` given with the pixel's first operands. So: operands,
sub, fresh, inside and acc_clear of vector c at one cycle, its weight address w_raddr one cycle
later, and acc_out includes vector c LATENCY = P_IC + 3 rising edges after the edge that samples
the operands. acc_out is checked every cycle against the running sum.

Weights: both halves of every bank loaded first (bank (oc, ic) word a = W[a][oc][ic]), then the
array reads one half while random words are written into the other (the double buffer of
wbuf[2]); halves swap between phases, with no writes until the previous half's reads have left
the chain. Corner pixels: 4608 terms (YOLOv3-tiny's largest K) of the extreme codes, the largest
magnitudes the accumulator must hold (fixed.accumulator_width: 44 bits at 16 bits).

Operand widths W_BITS (weights) and X_BITS (operands), both BITS unless set; POSITIONS slices per
sub-fold (9, or 16 for the Winograd array). With X_SELECT = 0 (the Winograd array) the operands are
the P_IC lanes of x_in, which is not registered in the circuit (no select): the weight address
comes with the operands and LATENCY = P_IC + 2; the corner pixels are then as long as the 48-bit
accumulator holds at those widths (4608 terms halved until fixed.accumulator_width fits: 1152 at
20 x 18 bits).
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_ref import ACC_BITS, code_format, mac_expected, mac_weights
from zy_rtl_sim import Tally, read, pack, settings, start_clock, unpack
from zynqyolo.model import fixed

LONG_K = 4608


@cocotb.test()
async def mac_array_matches_fixed(dut):
    cfg = settings()
    p_oc, p_ic, bits = cfg["P_OC"], cfg["P_IC"], cfg["BITS"]
    wbits, xbits = cfg.get("W_BITS", bits), cfg.get("X_BITS", bits)
    select = bool(cfg.get("X_SELECT", 1))
    groups = p_oc // p_ic
    slices = cfg.get("POSITIONS", 9) * groups
    depth = 2 * slices
    latency = p_ic + 3 if select else p_ic + 2
    raddr_lag = 1 if select else 0  # cycles from the operands to their weight address
    fmt, wfmt = code_format(xbits), code_format(wbits)
    rng = np.random.default_rng(cfg["seed"])
    tally = Tally(f"zy_mac_array P_OC={p_oc} P_IC={p_ic} BITS={bits} W_BITS={wbits} X_BITS={xbits} "
                  f"X_SELECT={int(select)}")
    w = mac_weights(rng, depth, p_oc, p_ic, wbits)
    w[0] = wfmt.min_code  # address 0 of half 0: every bank the minimum code (long corner pixels)
    w[1] = wfmt.max_code
    dut.w_we_any.value = 0
    dut.w_we.value = 0
    dut.acc_clear.value = 0
    dut.inside.value = 0
    await start_clock(dut)
    # ---- load both halves
    for a in range(depth):
        for oc in range(p_oc):
            for ic in range(p_ic):
                dut.w_we_any.value = 1
                dut.w_we.value = 1 << (oc * p_ic + ic)
                dut.w_waddr.value = a
                dut.w_wdata.value = int(w[a, oc, ic]) & ((1 << wbits) - 1)
                await FallingEdge(dut.clk)
    dut.w_we_any.value = 0
    dut.w_we.value = 0

    # ---- the compute stream: pixels of random length, phases alternating the read half
    def operands(kind: int) -> np.ndarray:
        if kind == 0:
            return rng.integers(fmt.min_code, fmt.max_code + 1, size=(2, p_oc), dtype=np.int64)
        return rng.choice(np.array([fmt.min_code, fmt.max_code, 0, -1, 1], dtype=np.int64), size=(2, p_oc))

    # per cycle: line, newest, sub, fresh, inside, clear, raddr, write (addr, oc, ic, value) or None
    stream = []
    model = w.copy()  # the banks as the reads of each phase see them
    weights_at = []

    def add(line, newest, sub, fresh, inside, clear, raddr, phase_cycle, half):
        write = None
        # a random word into the half not being read, once the previous half has left the chain;
        # addresses 0 and 1 keep the extreme weights of the corner pixels
        if phase_cycle > p_ic + 2 and rng.random() < 0.5:
            a = (1 - half) * slices + int(rng.integers(2, slices))
            write = (a, int(rng.integers(0, p_oc)), int(rng.integers(0, p_ic)),
                     int(rng.integers(wfmt.min_code, wfmt.max_code + 1)))
        weights_at.append(model[raddr].copy())  # the read half is not written during the phase
        if write is not None:
            model[write[0], write[1], write[2]] = write[3]
        stream.append((line, newest, sub, fresh, inside, clear, raddr, write))

    phase_cycle, half = 0, 0
    for px in range(cfg["pixels"]):
        if px and px % 40 == 0:
            phase_cycle, half = 0, 1 - half
        n = int(rng.integers(1, 13))
        for t in range(n):
            line, newest = operands(int(rng.random() < 0.15))
            add(line, newest, int(rng.integers(0, groups)), int(rng.random() < 0.5), int(rng.random() < 0.9),
                t == 0, half * slices + int(rng.integers(0, slices)), phase_cycle, half)
            phase_cycle += 1
    # the corner pixels, reading half 0: LONG_K terms of min x min (the largest positive sum), then
    # of min x max (the most negative); the accumulator must hold fixed.accumulator_width's bound
    long_k = LONG_K
    while fixed.accumulator_width(long_k, fmt, wfmt) > ACC_BITS:
        long_k //= 2
    assert long_k == LONG_K or not select  # the direct formats hold the network's largest K
    if half != 0:
        phase_cycle, half = 0, 0
    low = np.full(p_oc, fmt.min_code, dtype=np.int64)
    long_ends = []
    for addr in (0, 1):
        for t in range(long_k // p_ic):
            add(low, low, t % groups, 1, 1, t == 0, addr, phase_cycle, half)
            phase_cycle += 1
        long_ends.append(len(stream) - 1)
    # ---- expected running sums
    xin = np.zeros((len(stream), p_ic), dtype=np.int64)
    for c, (line, newest, sub, fresh, inside, *_rest) in enumerate(stream):
        if not select:  # x_in: the operands themselves (the first p_ic lanes of `line`)
            xin[c] = line[:p_ic]
        elif inside:
            xin[c] = (newest if fresh else line)[sub * p_ic:(sub + 1) * p_ic]
    raddr = np.array([c[6] for c in stream])
    clear = np.array([c[5] for c in stream])
    expected = mac_expected(np.array(weights_at), xin, clear)
    bound = fixed.product_bound(long_k, fmt, wfmt)
    assert int(expected[long_ends[0]].max()) == bound  # the corner really reaches the bound
    # ---- drive
    for i in range(len(stream) + latency):
        if i < len(stream):
            line, newest, sub, fresh, inside, clr, _, write = stream[i]
            if select:
                dut.line_word.value = pack(line, xbits)
                dut.newest_word.value = pack(newest, xbits)
                dut.sub.value = sub
                dut.fresh.value = fresh
                dut.inside.value = inside
            else:
                dut.x_in.value = pack(line[:p_ic], xbits)
            dut.acc_clear.value = int(clr)
            tally.vectors += 1
            if write is not None:
                a, oc, ic, value = write
                dut.w_we_any.value = 1
                dut.w_we.value = 1 << (oc * p_ic + ic)
                dut.w_waddr.value = a
                dut.w_wdata.value = value & ((1 << wbits) - 1)
            else:
                dut.w_we_any.value = int(rng.random() < 0.2)  # the enable alone writes nothing
                dut.w_we.value = 0
        else:
            dut.w_we_any.value = 0
        if raddr_lag <= i < len(stream) + raddr_lag:
            dut.w_raddr.value = int(raddr[i - raddr_lag])
        await FallingEdge(dut.clk)
        c = i - latency
        if c >= 0:
            got = unpack(read(dut.acc_out), ACC_BITS, p_oc)
            tally.check(f"cycle {c} (clear={bool(clear[c])}, raddr={raddr[c]})", got, [int(v) for v in expected[c]])
    tally.extra["long_pixel_terms"] = long_k
    tally.extra["long_pixel_sums"] = [int(expected[e][0]) for e in long_ends]
    tally.extra["pixels"] = cfg["pixels"] + 2
    tally.finish()
