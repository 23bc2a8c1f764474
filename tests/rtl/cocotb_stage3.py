"""cocotb bench of dse/rtl/zy_stage3_lane.v (one stage-3 lane) against zynqyolo.model.fixed:
``SigmoidLut.apply`` for the YOLO lanes, ``maxpool`` for the 2x2 max-pool at strides 2 and 1
(tests/rtl/zy_rtl_ref.py), the code itself for bypass, upsample and the raw YOLO lanes (tw, th).

Pipeline (read from the Verilog): rom_addr and hmax_wr are registers (the ROM and the row buffer
are outside the lane), res is one register later: at the falling edge after the rising edge that
samples vector c the bench reads rom_addr and hmax_wr of c and res of c - 1, answers rom_data =
T[rom_addr] (an asynchronous ROM holding fixed.sigmoid_lut(bits).table()) and stores hmax_wr in
its row buffer. ``mode`` is a call register (the output select reads it one stage later than the
sigmoid flag): each segment keeps one mode and drains for two cycles.

Max-pool driving follows zy_stage3.h. Stride 2 (maxpool2_fold): odd_x = x & 1, odd_y = y & 1; at
a complete horizontal window the first row of a window pair writes the row buffer, the second
emits. Stride 1 (maxpool1_fold, (h + 1) x (w + 1) slots): odd_x = x >= 1, odd_y = y >= 1, the row
buffer at x - 1; the lane has no in_row/in_col inputs, so the flush row and column present the
minimum code, which never wins (as fixed.maxpool's padding).
"""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import FallingEdge

from zy_rtl_ref import code_format, maxpool_expected, pool_images, sigmoid_vectors, to_unsigned
from zy_rtl_sim import Tally, read, s, settings, start_clock, u

MODE_BYPASS, MODE_MAXPOOL, MODE_UPSAMPLE, MODE_YOLO = 0, 1, 2, 3
POOL_SHAPES = {2: [(2, 2), (4, 4), (1, 1), (1, 5), (3, 1), (5, 7), (8, 9), (13, 13), (26, 26), (6, 2), (2, 6)],
               1: [(13, 13), (1, 1), (2, 3), (5, 4), (7, 7), (3, 8)]}


class Lane:
    def __init__(self, dut, bits: int, table: np.ndarray, tally: Tally):
        self.dut, self.bits, self.table, self.tally = dut, bits, table, tally
        self.rowbuf: dict[int, int] = {}

    async def run(self, mode: int, cycles: list[dict]) -> None:
        """cycles: per vector its inputs (cur, and optionally odd_x, odd_y, raw, yshift, rowbuf index
        to read, 'write' index to store hmax_wr) and 'expect' (res) or None."""
        dut, bits = self.dut, self.bits
        dut.mode.value = mode
        prev = None
        for c in cycles + [None, None]:  # two drain cycles in the same mode
            if c is not None:
                dut.cur.value = u(c["cur"], bits)
                dut.odd_x.value = int(c.get("odd_x", 0))
                dut.odd_y.value = int(c.get("odd_y", 0))
                dut.raw.value = int(c.get("raw", 0))
                dut.yshift.value = u(c.get("yshift", 0), 6)
                if "read" in c:
                    dut.rowbuf_rd.value = u(self.rowbuf.get(c["read"], 0), bits)
                self.tally.vectors += 1
            await FallingEdge(dut.clk)
            if c is not None:
                addr = read(dut.rom_addr)
                if addr is None or addr >= len(self.table):
                    self.tally.check(f"{c['what']}: rom_addr in range", addr, len(self.table) - 1)
                    addr = len(self.table) - 1
                dut.rom_data.value = int(self.table[addr])
                if "write" in c:
                    hmax = s(read(dut.hmax_wr), bits)
                    self.tally.check(f"{c['what']}: hmax_wr resolvable", hmax is None, False)
                    self.rowbuf[c["write"]] = 0 if hmax is None else hmax
            if prev is not None and prev.get("expect") is not None:
                got = read(dut.res)
                self.tally.check(prev["what"], got, int(prev["expect"]) & ((1 << bits) - 1))
            prev = c


def pool_cycles(img: np.ndarray, stride: int, bits: int, tag: str) -> list[dict]:
    expected = maxpool_expected(img, stride)[0]
    _, h, w = img.shape
    cycles = []
    if stride == 2:
        for y in range(h):
            for x in range(w):
                c = {"cur": int(img[0, y, x]), "odd_x": x & 1, "odd_y": y & 1, "read": x >> 1, "expect": None}
                if (x & 1) or x == w - 1:
                    if not (y & 1) and y != h - 1:
                        c["write"] = x >> 1
                    else:
                        c["expect"] = int(expected[y >> 1, x >> 1])
                c["what"] = f"{tag} max-pool/2 {h}x{w} at ({y}, {x})"
                cycles.append(c)
    else:
        low = code_format(bits).min_code
        for y in range(h + 1):
            for x in range(w + 1):
                inside = y < h and x < w
                c = {"cur": int(img[0, y, x]) if inside else low, "odd_x": int(x >= 1), "odd_y": int(y >= 1),
                     "expect": None, "what": f"{tag} max-pool/1 {h}x{w} at ({y}, {x})"}
                if x >= 1:
                    c["read"] = x - 1
                    if y < h:
                        c["write"] = x - 1
                    if y >= 1:
                        c["expect"] = int(expected[y - 1, x - 1])
                cycles.append(c)
    return cycles


@cocotb.test()
async def stage3_lane_matches_fixed(dut):
    cfg = settings()
    bits = cfg["BITS"]
    seed = cfg["seed"]
    vec = sigmoid_vectors(seed, cfg["vectors"], bits)
    assert cfg["ENTRIES"] == int(vec["entries"]) and cfg["OUT_FRAC"] == int(vec["out_frac"]), \
        "the lane must be built with fixed.sigmoid_lut(bits)'s entries and output frac"
    tally = Tally(f"zy_stage3_lane BITS={bits} ENTRIES={cfg['ENTRIES']} OUT_FRAC={cfg['OUT_FRAC']}")
    lane = Lane(dut, bits, vec["table"], tally)
    await start_clock(dut)
    counts = {}
    # YOLO: sigmoid lanes and raw (tw, th) lanes
    cycles = [{"cur": int(x), "yshift": int(sh), "raw": bool(r), "expect": int(e),
               "what": f"yolo x={int(x)} yolo_shift={int(sh)} raw={bool(r)}"}
              for x, sh, r, e in zip(vec["x"], vec["shift"], vec["raw"], vec["expected"])]
    await lane.run(MODE_YOLO, cycles)
    counts["sigmoid"] = len(cycles)
    # max-pool, strides 2 and 1
    for stride in (2, 1):
        n = 0
        for i, img in enumerate(pool_images(seed + stride, bits, POOL_SHAPES[stride])):
            cyc = pool_cycles(img, stride, bits, f"image {i}")
            lane.rowbuf = {k: int(v) for k, v in enumerate(np.random.default_rng(seed + i).integers(-99, 99, 64))}
            await lane.run(MODE_MAXPOOL, cyc)
            n += len(cyc)
        counts[f"maxpool{stride}"] = n
    # bypass and upsample: the code passes (with the max-pool/YOLO inputs toggling)
    rng = np.random.default_rng(seed + 3)
    fmt = code_format(bits)
    for mode in (MODE_BYPASS, MODE_UPSAMPLE):
        xs = np.concatenate([rng.integers(fmt.min_code, fmt.max_code + 1, 300), [fmt.min_code, fmt.max_code, 0, -1]])
        cycles = [{"cur": int(x), "odd_x": int(rng.integers(0, 2)), "odd_y": int(rng.integers(0, 2)),
                   "raw": int(rng.integers(0, 2)), "yshift": int(rng.integers(-32, 32)), "read": 0,
                   "expect": int(to_unsigned(x, bits)), "what": f"mode {mode} x={int(x)}"} for x in xs]
        await lane.run(mode, cycles)
        counts[f"mode{mode}"] = len(cycles)
    tally.extra["per_path"] = counts
    tally.extra["corner_vectors"] = int(vec["n_corner"])
    tally.finish()
