"""One model per hardware block of our accelerator: resources as a function of the ``HwConfig``,
work (loop iterations, words, cycles) as a function of the design point and one step of a call.

Each class below describes one block of the kernels in ``hls/include`` (or of the block design
around them) and is the only place its numbers are written down (block: source; loop labels):

- ``ConvEngine``: zy_conv.h ``conv_stage``/``mac_step``; CONV_MAC, PREAMBLE, CONV_BYPASS.
- ``LineBuffer``: zy_conv.h ``line``; LINE_FILL.
- ``WeightBuffer``: zy_conv.h ``wbuf``/``weight_loader``; WEIGHT_LOAD (first block, leftovers).
- ``AccumulateTile``: zy_accumulate.h ``accumulate_stage``; BIAS_LOAD, ACC, ACC_BYPASS.
- ``Stage3``: zy_stage3.h ``stage3``; STAGE3, YOLO_PHASE.
- ``StreamIO``: zy_stream_io.h, the FIFOs of zy_accel.h, the AXI DMAs and interconnects of the block
  design (hls/bitstream.py); CONV_READ, OUT_WRITE.
- ``Control``: the s_axilite registers of the top. The MMIO accesses a call costs the host driver
  are ``dse.mmio`` (the driver's own count); their cost and cache maintenance are ``perf.HostModel``.

Everything here is *modelled*: no synthesis or board run backs the resource figures, and the
cycle composition (``zynqyolo.dse.perf``) is a model of the dataflow region. The loop iteration
counts are exact: the tests hold them to the C simulation's counters.

Conventions and the rules this file applies everywhere:

- **DSP.** One DSP48 per MAC at both precisions: a 16x16 (or 8x8) product fits one DSP48E1 25x18
  multiplier (UG479) / DSP48E2 27x18 (UG579), the p_ic-term sum and the 48-bit accumulation go
  to its post-adder and cascade. The kernels do not pack two 8-bit products into one DSP
  (``mac_step`` multiplies ``weight_t`` by ``data_t`` one product per term), so 8-bit is also one
  DSP per MAC. Stage 2's leaky-ReLU product ``acc_b * 0xCCCD`` (48 x 17 bits, ``requantize`` in
  zy_accumulate.h, one per requantiser at II 1) would need two or three DSP48s per lane: the 48-bit operand is split
  over two 25x18 multipliers (UG479 "multiplier cascade"; yosys uses three). The default
  ``LEAKY_MUL_IMPL`` = "fabric" matches ``#pragma HLS BIND_OP op=mul impl=fabric`` on that product
  in zy_accumulate.h (UG1399); "dsp" models the product left to the tool.
- **BRAM18.** A memory (an array after ``ARRAY_PARTITION``/``ARRAY_RESHAPE``) of ``depth`` words of
  ``width`` bits takes the cheapest BRAM18 aspect ratio (UG473, RAMB18E1: 16Kx1, 8Kx2, 4Kx4, 2Kx9,
  1Kx18, and 512x36 in simple dual port), ceil(depth/d) * ceil(width/w) blocks; UltraScale+'s
  RAMB18E2 has the same ratios (UG573). The kernels bind nothing to URAM.
- **LUTRAM, BRAM or registers (a rule the kernels follow).** A memory whose depth is at most
  ``LUTRAM_MAX_DEPTH`` = 64 goes to distributed RAM (one RAM64M covers 64 words, UG474), a fully
  partitioned array (``complete`` on every dimension: ``acc``, ``xin``, ``raw``) is registers,
  anything deeper is BRAM. The kernels bind every small array by this rule (``BIND_STORAGE`` with
  the impl of ``storage_plan``, emitted into the generated header), so the model charges what the
  pragmas ask for. Distributed RAM in simple dual port costs 4 LUTs per RAM32M (32 x 6 bits) or
  RAM64M (64 x 3 bits) (UG474 "distributed RAM"). The FIFOs of zy_accel.h (``FIFO_DEPTHS``) are
  shift registers (UG1399 ``config_storage fifo -auto_srl_max_depth``); an SRL costs one LUT per bit
  per 32 items (UG474 SRLC32E).
- **LUT, FF and DSP of the MAC array and of the stage-2/3 lanes are measured** by synthesising our own
  RTL models of those structures (dse/rtl/*.v, faithful to the C++ widths) with yosys 0.23
  ``synth_xilinx -family xc7`` and fitting per MAC / per row / per lane (``MAC_ARRAY_FIT``,
  ``STAGE2_ACC_LANE``, ``STAGE2_REQUANT``, ``STAGE3_LANE``; dse/rtl/calibrate.py reproduces them, tests/test_dse_rtl.py
  checks them). Yosys is not Vivado: it does no retiming and no cross-boundary optimisation and maps
  with ABC, and our RTL is not the HLS tool's RTL (it leaves out loop control, the weight loader's
  demux and stream handshakes). We expect Vivado-on-HLS to land above our RTL for the MAC array and
  near it for the lanes, hence the margins ``HLS_ARRAY_MARGIN`` = 1.5 and ``HLS_LANE_MARGIN`` = 1.2 on
  LUT/FF (judgement, see the constants). The platform (DMAs, interconnects, PS glue) stays anchored
  on the reference design: measured total 25.9k LUT / 46.7k FF minus its conv IP (16.8k / 34.8k).
  Distributed RAM and SRL FIFOs are added on top by the memory rule. No Vivado run backs any of
  this: these remain the least certain figures of the model.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

from zynqyolo.model import winograd

from .hwconfig import ACC_BITS, MAX_WEIGHT_GROUP, HwConfig, wino_bits, wino_div3_bits, wino_y_bits
from .packing import PARAM_ENTRY_BYTES
from .registers import Stage3Mode

# ------------------------------------------------------------------ memory geometry and the rule ----
# UG473 (7 Series Memory Resources), RAMB18E1 port aspect ratios (depth, width); 512x36 is the
# simple-dual-port width. UltraScale+ RAMB18E2 (UG573) offers the same ratios.
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
LUTRAM_MAX_DEPTH = 64  # rule (see module docstring): RAM64M depth, UG474
RAM32M_BITS = 6  # UG474: RAM32M as simple dual port = 32 words x 6 bits in 4 LUTs
RAM64M_BITS = 3  # UG474: RAM64M as simple dual port = 64 words x 3 bits in 4 LUTs
LUTS_PER_RAMXM = 4

# ------------------------------------------------------------------------- anchors and choices ----
# reference-model.md "One measured point": conv IP alone 16.8k LUT, 34.8k FF; architecture.md: 144 MAC/cycle.
REF_CONV_IP_LUT = 16_800
REF_CONV_IP_FF = 34_800
REF_CONV_IP_MACS = 144
LUT_PER_MAC = REF_CONV_IP_LUT / REF_CONV_IP_MACS  # 116.7
FF_PER_MAC = REF_CONV_IP_FF / REF_CONV_IP_MACS  # 241.7
# reference-model.md: measured design 25.9k LUT / 46.7k FF; minus the conv IP = DMAs, interconnects, small stages.
PLATFORM_LUT = 25_900 - REF_CONV_IP_LUT  # 9,100
PLATFORM_FF = 46_700 - REF_CONV_IP_FF  # 11,900
# reference-model.md "Resources": 27 BRAM18 for the two AXI DMAs' FIFOs (same IP, same family).
DMA_FIFO_BRAM18 = 27
# --- MAC array and stage-2/3 lanes: measured by synthesis of our own RTL models -----------------
# dse/rtl/fit.json, written by dse/rtl/fit.py (scipy lsq_linear, non-negative) from Yosys 0.23
# syntheses of dse/rtl/*.v (synth_xilinx -family xc7 -noiopad -noclkbuf; the scripts, the
# cell-to-resource rules and the points are in the file; re-run dse/rtl/calibrate.py). The circuits
# are simulated bit for bit against model.fixed by the rtl tier (tests/test_rtl_*.py, cocotb and
# Icarus); tests/test_rtl_fit.py re-fits the stored points, tests/test_dse_rtl.py re-synthesises.
# - MAC array (zy_mac_array.v) over p_oc x p_ic in {8x4, 16x4, 24x4, 8x8, 16x8, 24x8, 16x16} at 16
#   and 8 bits: lut/ff = per_mac * p_oc * p_ic + per_row * p_oc + fixed (max residual 9 % LUT, 2 %
#   FF); the weight banks' LUTRAM is left to the memory rule (WeightBuffer), the deep-bank read-mux
#   term of the fit is dropped because the rule puts deeper banks in BRAM. DSP48E1: 1 per MAC.
# - one stage-2 accumulate lane (zy_stage2_acc.v, p_oc of them): the tile add and the held sum, at the
#   precision's accumulator width (hwconfig.acc_bits: 48 at 16 bits, 32 at 8).
# - one requantiser (zy_stage2_requant.v, requant_lanes of them) per precision and leaky flavour, at
#   that width:
#   "dsp" = the product written as a multiply (yosys splits 48 x 17 bits over 3 DSP48E1; 2 is the
#   UG479 minimum), "fabric" = shift-adds. The 64-bit variable round-half-up shift is most of it.
#   Its select of the lane's sum, bias and shift costs per_group LUTs per extra group (p_oc /
#   requant_lanes groups; fitted from a second synthesis serving 4 lanes).
# - one stage-3 lane (zy_stage3_lane.v: max-pool compares, sigmoid index shift/clamp, select).
RTL_FIT_JSON = Path(__file__).resolve().parent / "rtl" / "fit.json"


def load_rtl_fit(path: Path = RTL_FIT_JSON):
    """(MAC_ARRAY_FIT, STAGE2_ACC_LANE, STAGE2_REQUANT, STAGE2_SELECT_LUT_PER_GROUP, STAGE3_LANE) from fit.json."""
    coef = json.loads(path.read_text())["coefficients"]
    mac, acc, requant, select, stage3 = {}, {}, {}, {}, {}
    for key, c in coef.items():
        bits = int(key)
        m = c["mac_array"]
        mac[bits] = tuple(m[q][t] for q in ("lut", "ff") for t in ("per_mac", "per_row", "fixed"))
        acc[bits] = tuple(round(c["stage2_acc"][q]["fixed"]) for q in ("lut", "ff"))
        requant[bits] = {impl: tuple(round(c[f"stage2_requant_{impl}"][q]["fixed"]) for q in ("lut", "ff", "dsp"))
                         for impl in ("dsp", "fabric")}
        select[bits] = c["stage2_requant_fabric"]["lut"]["per_group"]
        stage3[bits] = tuple(round(c["stage3_lane"][q]["fixed"]) for q in ("lut", "ff"))
    return mac, acc, requant, select, stage3


# bits -> (lut_per_mac, lut_per_row, lut_fixed, ff_per_mac, ff_per_row, ff_fixed); bits -> (LUT, FF);
# bits -> impl -> (lut, ff, dsp); bits -> LUT per extra group; bits -> (lut, ff)
MAC_ARRAY_FIT, STAGE2_ACC_LANE, STAGE2_REQUANT, STAGE2_SELECT_LUT_PER_GROUP, STAGE3_LANE = load_rtl_fit()

# The Winograd path's circuits (dse/rtl/zy_wino_*.v) as fit.json fits them, when it does (dse/rtl/fit.py
# fit_winograd, the same yosys flow): one top-level entry per circuit and precision, "<block>_<bits>"
# (wino_data_16, ...), with coefficients q = per_lane * LANES + fixed for q in lut, ff: the data transform
# ("wino_data", LANES = p_ic), the output transform ("wino_output", p_oc) and the filter transform
# ("wino_filter", lanes_per_word pairs). The Winograd design's MAC array is coefficients[bits]
# ["mac_array_wino"] of the mac_array form (WINO_MAC_ARRAY_FIT): zy_mac_array.v at U x V = wino_bits(bits)
# (20 x 18, 12 x 10), 16 positions a sub-fold, the data transform's V lanes as operands (no line-word
# select: WinogradWindow and LoopLogic.selects charge those), over the mac_array points (max residual
# 10 % LUT, 1 % FF; DSP48E1: 1 per MAC measured, DSP_PER_MAC); the deep-bank term dropped as for the
# mac_array. Where a fit is absent the blocks below count UG474 primitives instead (x HLS_ARRAY_MARGIN,
# like LoopLogic), and mac_array_logic interpolates the direct fits (mac_array_fit_at).
WINO_FIT_KEYS = ("wino_data", "wino_output", "wino_filter", "wino_data_paired", "wino_output_paired",
                 "wino4_data", "wino4_output", "wino4_filter")


def load_wino_fit(path: Path = RTL_FIT_JSON):
    """(bits -> MAC-array coefficients, bits -> block -> (lut_per_lane, lut_fixed, ff_per_lane, ff_fixed),
    (bits, block) -> the ACC width a circuit was synthesised at) for the Winograd circuits fit.json has
    (any may be empty)."""
    doc = json.loads(path.read_text())
    mac, lanes, widths = {}, {}, {}
    for key, c in doc["coefficients"].items():
        m = c.get("mac_array_wino")
        if m is not None:
            mac[int(key)] = tuple(m[q][t] for q in ("lut", "ff") for t in ("per_mac", "per_row", "fixed"))
    for entry in doc.values():
        if isinstance(entry, dict) and entry.get("block") in WINO_FIT_KEYS:
            c, bits = entry["coefficients"], int(entry["bits"])
            lanes.setdefault(bits, {})[entry["block"]] = tuple(
                c[q].get(t, 0.0) for q in ("lut", "ff") for t in ("per_lane", "fixed"))
            acc = {r["params"].get("ACC") for r in entry.get("inputs", [])} - {None}
            if len(acc) == 1:  # the accumulator width the circuit was synthesised at
                widths[(bits, entry["block"])] = acc.pop()
    return mac, lanes, widths


# bits -> MAC-array coefficients; bits -> block -> (lut/lane, lut, ff/lane, ff); (bits, block) -> ACC width
WINO_MAC_ARRAY_FIT, WINO_LANE_FIT, WINO_FIT_WIDTH = load_wino_fit()
# Margins from our hand RTL to what the HLS tool builds, placed by Vivado (judgement, not measured):
# the MAC-array RTL leaves out the weight loader's lane demux and counters, the line-buffer
# addressing and the loop control of conv_stage, and HLS pipelines conservatively: x1.5 on its
# LUT/FF. The lane RTL is the whole per-lane datapath; HLS vs hand RTL: x1.2. yosys itself does no
# retiming and no cross-boundary optimisation and maps with ABC rather than Vivado's mapper; for
# this kind of datapath it usually lands within +-20 % of Vivado, more often above it (Vivado packs
# more into DSP48 registers and SRLs), so the margins are not reduced on that account.
HLS_ARRAY_MARGIN = 1.5
HLS_LANE_MARGIN = 1.2
DSP_PER_MAC = 1  # measured (zy_mac_array.v): one DSP48E1 per MAC at 16 and 8 bits, adds in the cascade
LEAKY_DSP_PER_LANE = STAGE2_REQUANT[16]["dsp"][2]
# Default: fabric, since a lane pays about 180 LUTs (x1.2) for it against 3 DSP48s; on XC7Z020 (220
# DSP, 53.2k LUT) the DSPs bind first. zy_accumulate.h binds the product to the fabric (BIND_OP).
LEAKY_MUL_IMPL = "fabric"
# s_axilite adapter of the top (HLS-generated): a register per argument bit, plus ap_ctrl; the read
# mux about one LUT per register bit and ~150 LUTs of decode and handshake (estimate).
CONTROL_BASE_LUT = 150
AP_CTRL_BITS = 32
# Pipeline depths (cycles) of the loops: estimates, not checkable in C simulation.
# CONV_MAC: BRAM read 1 (UG1399: block RAM latency 1) + DSP48 A/B, M, P registers 3 (UG479) + the
# adder tree over p_ic terms (log2 levels) + 1 to hand the sums to stage 2.
CONV_MAC_BASE_DEPTH = 5
LOOP_ENTRY_CYCLES = 2  # entering/leaving a pipelined loop inside a sequential loop (estimate)
STAGE2_DEPTH = 8  # tile read, adds, leaky product, shift, saturate (estimate)
STAGE3_DEPTH = 4  # sigmoid table read, select (estimate)
DETILE_DEPTH = 2  # row-buffer read, pool compare or select (estimate)
# CONV_WINO adds to CONV_MAC's depth the data transform (row combination T, then column combination V,
# one adder and one register each) and the output transform's add into Y (estimate).
WINO_TRANSFORM_DEPTH = 3
OUT_WRITE_DEPTH = 2  # pack and TLAST (estimate)


@dataclass(frozen=True)
class Resources:
    """DSP48s, 18 Kb block RAMs, LUTs and flip-flops: all modelled."""

    dsp: int = 0
    bram18: int = 0
    lut: int = 0
    ff: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.dsp + other.dsp, self.bram18 + other.bram18, self.lut + other.lut, self.ff + other.ff)

    def to_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    def fractions(self, device) -> dict[str, float]:
        """Each resource as a fraction of the device's."""
        return {f.name: getattr(self, f.name) / getattr(device, f.name) for f in fields(self)}

    def fits(self, device, cap: float) -> bool:
        return (self.dsp <= cap * device.dsp and self.bram18 <= cap * device.bram18 and self.lut <= cap * device.lut
                and self.ff <= cap * device.ff)


def bram18_blocks(depth: int, width: int) -> int:
    """BRAM18 blocks for one memory of ``depth`` x ``width`` bits: the cheapest aspect ratio."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_SHAPES)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a simple-dual-port distributed RAM of ``depth`` <= 64 words x ``width`` bits."""
    if depth <= 32:
        return math.ceil(width / RAM32M_BITS) * LUTS_PER_RAMXM
    return math.ceil(depth / 64) * math.ceil(width / RAM64M_BITS) * LUTS_PER_RAMXM


def storage_impl(depth: int) -> str:
    """The memory rule as a BIND_STORAGE implementation: ``lutram`` up to LUTRAM_MAX_DEPTH words, else ``bram``."""
    return "lutram" if depth <= LUTRAM_MAX_DEPTH else "bram"


def memory(depth: int, width: int, banks: int = 1) -> Resources:
    """``banks`` identical memories of ``depth`` x ``width`` bits, placed by the module's rule."""
    if storage_impl(depth) == "lutram":
        return Resources(lut=banks * lutram_luts(depth, width))
    return Resources(bram18=banks * bram18_blocks(depth, width))


# Depths, in items, of the internal FIFOs of the DATAFLOW region (hls/include/zy_accel.h), by channel
# name; the generated header carries them (ZY_DEPTH_<NAME>) to the STREAM pragmas and the threaded C
# simulation. 2 for every channel but psum (hls::stream's default): each stage moves at most one item
# per cycle, and two slots let the writer fill one while the reader drains the other; no process needs
# more for freedom from deadlock (stage 2 reads the whole `params` preamble before its first partial
# sum; tests/test_threaded_csim.py runs whole frames at depth 1). psum holds a tile's 8 pixels: an
# F(4x2) tile sends the previous tile's in bursts (WinogradEngine.EMIT4: 8 in 12 iterations), which a
# 2-deep FIFO turns into stage-1 stalls wherever stage 2 takes more than a cycle a pixel; as SRLs (the
# kernel binds every channel to them) depth 8 costs what depth 2 does.
# ``raster`` (detile -> stage 3, every design) carries pixels in raster order like ``acc_out``.
FIFO_DEPTHS = {"pix": 2, "psum": 8, "params": 2, "acc_out": 2, "raster": 2, "s3_out": 2}
SRL_MAX_DEPTH = 32  # UG474: one SRLC32E holds 32 bits of a shift register


def fifo(width: int, depth: int) -> Resources:
    """An ``hls::stream`` of ``depth`` items of ``width`` bits as a shift-register FIFO (zy_accel.h binds
    each to SRLs, BIND_STORAGE type=fifo impl=srl, UG1399): one LUT per bit per 32 items, plus
    read/write pointers and flags (a few FFs)."""
    return Resources(lut=width * ceil_div(depth, SRL_MAX_DEPTH), ff=2 * 8)


def mac_array_fit_at(operand_bits: float) -> tuple[float, ...]:
    """MAC_ARRAY_FIT's six coefficients for products of ``operand_bits``-bit operands (their mean width):
    the 8- and 16-bit syntheses, each coefficient linear in the width between and beyond them (the
    fallback estimate for the Winograd array's 20 x 18 and 12 x 10 products when a fit.json has no
    synthesis of them; the committed one has, ``WINO_MAC_ARRAY_FIT``)."""
    lo, hi = MAC_ARRAY_FIT[8], MAC_ARRAY_FIT[16]
    t = (operand_bits - 8) / 8
    return tuple(a + (b - a) * t for a, b in zip(lo, hi))


def mac_array_logic(p_oc: int, p_ic: int, bits: int, winograd: bool = False, tile_w: int = 2) -> Resources:
    """LUT/FF of the p_oc x p_ic MAC array (MAC_ARRAY_FIT, x HLS_ARRAY_MARGIN); memories excluded. With
    the Winograd path the array multiplies U (wu_bits) by V (wv_bits), and its direct calls use the same
    multipliers: WINO_MAC_ARRAY_FIT (fit.json's mac_array_wino, a yosys synthesis of that array), else
    ``mac_array_fit_at`` the mean width. F(4x2)'s 15 x 13 products have no synthesis: each coefficient
    linear in the mean width between the two mac_array_wino syntheses (12 x 10 and 20 x 18)."""
    if winograd and tile_w == 4:
        lo, hi = WINO_MAC_ARRAY_FIT.get(8), WINO_MAC_ARRAY_FIT.get(16)
        mean = sum(wino_bits(bits, 4)) / 2
        if lo is None or hi is None:
            lm, lr, l0, fm, fr, f0 = mac_array_fit_at(mean)
        else:
            t = (mean - sum(wino_bits(8)) / 2) / (sum(wino_bits(16)) / 2 - sum(wino_bits(8)) / 2)
            lm, lr, l0, fm, fr, f0 = (a + (b - a) * t for a, b in zip(lo, hi))
    elif winograd:
        fit = WINO_MAC_ARRAY_FIT.get(bits)
        lm, lr, l0, fm, fr, f0 = fit if fit is not None else mac_array_fit_at(sum(wino_bits(bits)) / 2)
    else:
        lm, lr, l0, fm, fr, f0 = MAC_ARRAY_FIT[bits if bits in MAC_ARRAY_FIT else 16]
    macs = p_oc * p_ic
    return Resources(lut=round(HLS_ARRAY_MARGIN * (lm * macs + lr * p_oc + l0)),
                     ff=round(HLS_ARRAY_MARGIN * (fm * macs + fr * p_oc + f0)))


def stage2_lanes(p_oc: int, requant_lanes: int, bits: int, leaky_mul_impl: str) -> Resources:
    """p_oc accumulate lanes and ``requant_lanes`` requantisers, each serving p_oc / requant_lanes lanes
    in turn (STAGE2_ACC_LANE, STAGE2_REQUANT, STAGE2_SELECT_LUT_PER_GROUP, x HLS_LANE_MARGIN on LUT/FF);
    memories excluded."""
    if leaky_mul_impl not in ("dsp", "fabric"):
        raise ValueError(f"leaky_mul_impl must be 'dsp' or 'fabric', got {leaky_mul_impl!r}")
    b = bits if bits in STAGE2_REQUANT else 16
    lut, ff, dsp = STAGE2_REQUANT[b][leaky_mul_impl]
    lut += STAGE2_SELECT_LUT_PER_GROUP[b] * (p_oc // requant_lanes - 1)
    acc_lut, acc_ff = STAGE2_ACC_LANE[b]
    return Resources(dsp=requant_lanes * dsp,
                     lut=round(HLS_LANE_MARGIN * (p_oc * acc_lut + requant_lanes * lut)),
                     ff=round(HLS_LANE_MARGIN * (p_oc * acc_ff + requant_lanes * ff)))


def stage3_lanes(lanes: int, bits: int) -> Resources:
    """``lanes`` stage-3 lanes (STAGE3_LANE, x HLS_LANE_MARGIN); memories excluded."""
    lut, ff = STAGE3_LANE[bits if bits in STAGE3_LANE else 16]
    return Resources(lut=round(lanes * HLS_LANE_MARGIN * lut), ff=round(lanes * HLS_LANE_MARGIN * ff))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ======================================================================= stage 1: conv engine ====
class ConvEngine:
    """The p_oc x p_ic MAC array of ``conv_stage`` (zy_conv.h) and its parameter preamble.

    CONV_MAC iterates (output pixel, tap, sub-fold) at II 1: a block of P output pixels with L input
    lanes and a k x k kernel takes P * k^2 * ceil(L / p_ic) iterations (1x1 is native, no padding).
    PREAMBLE forwards ``out_folds * p_oc`` bias/shift entries, ``bus_bits / 64`` per word.
    """

    LOOPS_PER_BLOCK = 3  # pipelined loops a direct block (re)enters: LINE_FILL, CONV_MAC, ACC

    @staticmethod
    def resources(cfg: HwConfig, leaky_mul_impl: str = LEAKY_MUL_IMPL) -> Resources:
        """One DSP48 per MAC at both precisions and on both paths (a 20 x 18 U x V product fits the
        DSP48E1's 25 x 18 multiplier, UG479, and the DSP48E2's 27 x 18, UG579), plus the array's logic."""
        del leaky_mul_impl  # the MAC array does not depend on it
        return Resources(dsp=cfg.macs * DSP_PER_MAC) + mac_array_logic(cfg.p_oc, cfg.p_ic, cfg.bits,
                                                                       cfg.winograd_engine, cfg.wino_tile_w)

    @staticmethod
    def subfolds(p_ic: int, lanes: int) -> int:
        return ceil_div(lanes, p_ic)

    @staticmethod
    def mac_iterations(p_ic: int, lanes: int, out_pixels: int, ksize: int) -> int:
        """CONV_MAC of one block."""
        return out_pixels * ksize * ksize * ceil_div(lanes, p_ic)

    @staticmethod
    def useful_macs(in_channels: int, out_channels: int, out_pixels: int, ksize: int) -> int:
        """Multiply-accumulates the network asks for (no padding lanes)."""
        return in_channels * out_channels * out_pixels * ksize * ksize

    @staticmethod
    def preamble_words(cfg: HwConfig, out_folds: int) -> int:
        """PREAMBLE iterations (= parameter words) of a conv call."""
        return out_folds * cfg.p_oc * PARAM_ENTRY_BYTES * 8 // cfg.bus_bits

    @staticmethod
    def mac_depth(p_ic: int) -> int:
        """Pipeline depth of CONV_MAC (estimate, see CONV_MAC_BASE_DEPTH)."""
        return CONV_MAC_BASE_DEPTH + math.ceil(math.log2(p_ic))


# ======================================================================= stage 1: line buffer ====
class LineBuffer:
    """``line[line_rows][max_width][p_oc]`` reshaped on lanes: one memory of line_rows * max_width words
    of p_oc * bits (one write per input pixel, one read per tap or window pixel), plus the
    newest-pixel register. line_rows is 3, or 6 with the Winograd path (HwConfig.line_rows: the 4
    window rows of a tile row and the 2 being filled).

    LINE_FILL reads the first output pixel's window before the block's MACs: from the band's first
    streamed row up to row min(row0 + pad, read1 - 1), column min(pad, width - 1).
    """

    @staticmethod
    def depth(cfg: HwConfig) -> int:
        return cfg.line_rows * cfg.max_width

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        return memory(LineBuffer.depth(cfg), cfg.p_oc * cfg.bits) + Resources(ff=cfg.p_oc * cfg.bits)

    @staticmethod
    def fill_pixels(band: int, band_rows: int, height: int, width: int, ksize: int, out_pixels: int) -> int:
        """LINE_FILL iterations of one block (band ``band`` of ``out_pixels // width`` output rows)."""
        pad = ksize // 2
        row0 = band * band_rows
        row1 = row0 + out_pixels // width
        read0, read1 = max(0, row0 - pad), min(height, row1 + pad)
        return (min(row0 + pad, read1 - 1) - read0) * width + min(pad, width - 1) + 1


# ================================================================= stage 1: the Winograd path ====
class WinogradEngine:
    """The F(2x2, 3x3) and F(4x2, 3x3) loops of ``conv_stage`` in a winograd design (zy_winograd.h and
    its design note); ``tw`` below is the tile's columns (HwConfig.wino_tile_w: 2, or 4 for F(4x2),
    whose counts put TW = ceil(width / 4), 24 positions, a 24-pixel WINO_PRELOAD, a 12-iteration
    WINO_DRAIN (the across half's first 12 of a span), and 8 pixels a tile in, one every 3 iterations,
    and out, at iterations 0, 1, 4..7, 10 and 11, ``EMIT4``):
    a call with the ``winograd`` register set convolves each block tile by tile on the same p_oc x
    p_ic array. Per block (o, b, f) of band rows [r0, r1), input fold lanes L, S = ceil(L / p_ic):

    - LINE_FILL: the first tile row's 4-row window, (min(r0 + 3, read1) - read0) * width pixels, less
      its first two rows (``prefill_pixels``) for every block but the call's first: the previous block
      streams those in during its last tile row, which reads nothing of its own;
    - WINO_PRELOAD: the first span's 4 x 4 window (16);
    - CONV_WINO: TY * TX tiles (TY = ceil((r1 - r0) / 2), TX = ceil(width / 2)) x 16 positions x S; a
      paired call (``winograd`` register WINO_PAIRED: S = 1, the row sums split in two lane halves)
      takes PAIR_STEPS iterations a tile, 16 for a tile row's last (it fetches the next row's window);
    - WINO_DRAIN: the last tile's pixels inside the band and image, emitted after the loop;
    - WINO_LOAD: the loader's steps, (9 G + 7) * S * WPS / G + 10 per block (9 stream words per bank
      word of lanes_per_word (oc, ic) pairs, 16 writes per weight-buffer memory word of G banks);
      block n + 1's steps run under block n's CONV_WINO, the first block's and whatever does not fit
      run in WINO_LOAD.
    """

    POSITIONS = 16  # F(2x2)'s 4 x 4 transformed-tile entries: multiplications per tile and lane pair
    # WINO_PRELOAD: the first span's window, one pixel an iteration (``positions``); a tile reads
    # ``burst`` pixels from ``pix`` (and writes as many to ``psum``), one every ``burst_spacing``
    # iterations: at k = 0, 4, 8, 12 (F(4x2): 0, 3, .., 21)
    PAIR_STEPS = winograd.PAIR_STEPS  # a paired tile: 6 steps of two positions, 4 of one (zy_winograd.h PAIR_STEPS)
    PAIR_SPACING = 2  # a paired tile's burst: k = 0, 2, 4, 6
    # F(4x2): the iterations of a tile at which the previous tile's 8 pixels leave (zy_winograd.h
    # wino4_across_step: each once it is complete, before the tile's last span restarts it)
    EMIT4 = (0, 1, 4, 5, 6, 7, 10, 11)
    DRAIN4 = EMIT4[-1] + 1  # WINO_DRAIN of an F(4x2) block: the across half's iterations that emit them
    LOOPS_PER_BLOCK = 5  # pipelined loops a winograd block enters: LINE_FILL, WINO_PRELOAD, CONV_WINO, WINO_DRAIN, ACC

    @staticmethod
    def positions(tw: int = 2) -> int:
        """Transformed positions of a span (multiplications per tile and lane pair): 16 or 24."""
        return winograd.positions(tw)

    @staticmethod
    def burst(tw: int = 2) -> int:
        """Pixels a tile reads from ``pix`` and writes to ``psum``: 4, or 8 for F(4x2)."""
        return 2 * tw

    @staticmethod
    def depth(p_ic: int) -> int:
        """Pipeline depth of CONV_WINO (estimate: CONV_MAC's plus WINO_TRANSFORM_DEPTH)."""
        return ConvEngine.mac_depth(p_ic) + WINO_TRANSFORM_DEPTH

    @staticmethod
    def burst_spacing(paired: bool, tw: int = 2) -> int:
        """Iterations between a tile's burst pixels: 4 (paired 2), 3 for F(4x2)."""
        if paired:
            return WinogradEngine.PAIR_SPACING
        return WinogradEngine.positions(tw) // WinogradEngine.burst(tw)

    @staticmethod
    def burst_times(paired: bool = False, tw: int = 2, out: bool = False) -> tuple[int, ...]:
        """Iterations of a tile at which its burst pixels are read from ``pix`` (one every
        ``burst_spacing``) or, ``out``, written to ``psum`` (the same, but F(4x2): ``EMIT4``)."""
        if out and tw == 4:
            return WinogradEngine.EMIT4
        spacing = WinogradEngine.burst_spacing(paired, tw)
        return tuple(j * spacing for j in range(WinogradEngine.burst(tw)))

    @staticmethod
    def burst_stall(pace: float, fifo_depth: int, paired: bool = False, tw: int = 2, out: bool = False) -> float:
        """Cycles CONV_WINO waits in a tile whose burst pixels go through a FIFO of ``fifo_depth`` to or
        from a process taking ``pace`` cycles a pixel: that process holds one pixel besides the FIFO's
        (a pipelined loop blocked on its stream keeps its data), so pixel j >= depth + 1 of the burst,
        needed at iteration t_j (``burst_times``), is there (j - depth) * pace cycles after the tile
        starts (lockstep model; a partner slower than the tile on average is charged by the block's max)."""
        times = WinogradEngine.burst_times(paired, tw, out)
        return max(0.0, max((j - fifo_depth) * pace - t for j, t in enumerate(times)))

    @staticmethod
    def tiles(rows: int, width: int, tw: int = 2) -> tuple[int, int]:
        """(TY, TX): tile rows of a band of ``rows`` rows and tiles per tile row."""
        return ceil_div(rows, 2), ceil_div(width, tw)

    @staticmethod
    def conv_iterations(p_ic: int, lanes: int, tile_rows: int, width: int, paired: bool = False, tw: int = 2) -> int:
        """CONV_WINO of one block."""
        tx = ceil_div(width, tw)
        if paired:
            return tile_rows * ((tx - 1) * WinogradEngine.PAIR_STEPS + WinogradEngine.POSITIONS)
        return tile_rows * tx * WinogradEngine.positions(tw) * ceil_div(lanes, p_ic)

    @staticmethod
    def tile_iterations(p_ic: int, lanes: int, paired: bool = False, tw: int = 2) -> int:
        """CONV_WINO iterations of a tile that is not its row's last."""
        return WinogradEngine.PAIR_STEPS if paired else WinogradEngine.positions(tw) * ceil_div(lanes, p_ic)

    @staticmethod
    def drain_pixels(rows: int, width: int, tw: int = 2) -> int:
        """WINO_DRAIN of one block: the pixels of its last tile inside the band and the image (F(4x2):
        the 12 iterations of the across half that emit them, whichever are real)."""
        if tw == 4:
            return WinogradEngine.DRAIN4
        ty, tx = WinogradEngine.tiles(rows, width)
        return min(2, rows - 2 * (ty - 1)) * min(2, width - 2 * (tx - 1))

    @staticmethod
    def fill_pixels(band: int, band_rows: int, height: int, width: int) -> int:
        """LINE_FILL of one block: rows read0 .. min(r0 + 3, read1) - 1, whole."""
        r0 = band * band_rows
        r1 = min(height, r0 + band_rows)
        read0, read1 = max(0, r0 - 1), min(height, r1 + 1)
        return (min(r0 + 3, read1) - read0) * width

    @staticmethod
    def prefill_pixels(fill: int, width: int) -> int:
        """Pixels of a block's first rows that the previous block of the call streams in during its last
        tile row (rows read0, read0 + 1 of the block's LINE_FILL of ``fill`` pixels, into the two ring
        slots that tile row's window leaves free); its LINE_FILL reads the rest."""
        return min(fill, 2 * width)

    @staticmethod
    def load_steps(cfg: HwConfig, p_ic: int, lanes: int) -> int:
        """Weight-loader steps of one block of ``lanes`` input lanes: a period of 9 G + 7 steps (9 G + 15
        for F(4x2): 24 writes) per weight-buffer memory word of G banks (S * WPS / G of them, WPS =
        p_oc * p_ic / lanes_per_word), and lanes_per_word + 9 more for the last group's transforms (one
        (oc, ic) pair a step) and the last word's writes."""
        g = WeightBuffer.group(cfg)
        words = ceil_div(lanes, p_ic) * (cfg.p_oc * p_ic // cfg.lanes_per_word) // g
        return words * WinogradEngine.load_period(cfg) + cfg.lanes_per_word + 9

    @staticmethod
    def load_period(cfg: HwConfig) -> int:
        """Loader steps per weight-buffer memory word: 9 G reads, the last group's transform and the
        positions' writes overlapping the next period's first 9 steps."""
        return 9 * WeightBuffer.group(cfg) + WinogradEngine.positions(cfg.wino_tile_w) - 9

    @staticmethod
    def load_words(cfg: HwConfig, p_ic: int, lanes: int) -> int:
        """Parameter-stream words of one block: the direct block's 9 taps (the PL transforms them)."""
        return WeightBuffer.words(cfg, p_ic, lanes, 3)

    @staticmethod
    def useful_multiplications(height: int, width: int, in_channels: int, out_channels: int, tw: int = 2) -> int:
        """The algorithm's own count for a 3x3 call: 16 per 2 x 2 tile (24 per 4 x 2 tile) of the padded
        tile grid and (input, output) channel pair (the direct count is 9 per output pixel and pair)."""
        return (WinogradEngine.positions(tw) * ceil_div(height, 2) * ceil_div(width, tw)
                * in_channels * out_channels)


# ============================================================================ detile ====
class Detile:
    """``detile`` (between stage 2 and stage 3, every design): passes raster pixels through (direct
    and conv-bypassed calls), reorders a winograd call's tile-order pixels into raster order through
    one row buffer ``[max_width][p_oc]`` (the second row of each tile row, emitted after it: loop
    DETILE_ROW), or, for a winograd call with a stride-2 max-pool, takes the max over each tile's
    pixels (POOL2; stage 3 then bypasses the pooled map).

    DETILE = one iteration per pixel received (conv calls out_folds * h * w, bypass calls folds * h * w);
    DETILE_ROW = width per tile row of two rows, per output fold and band (DETILE mode only).
    """

    @staticmethod
    def stored_rows(rows: int) -> int:
        """Tile rows of a band of ``rows`` rows whose second row goes through the row buffer."""
        return rows // 2

    @staticmethod
    def row_stall(width: int, pace: float, tile_cycles: int) -> float:
        """Cycles stage 1 waits per stored row: DETILE_ROW sends ``width`` pixels at ``pace`` cycles each
        (stage 3's or the writer's) and takes nothing from stage 2 meanwhile; stage 1 goes on for one
        tile (``tile_cycles``) before its next pixels block (lockstep model)."""
        return max(0.0, width * pace - tile_cycles)

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        """Every design: the output pixel register (p_oc x bits FF). With the Winograd path also the row
        buffer (max_width words of p_oc x bits, by the memory rule: ZY_IMPL_DETILE), p_oc max
        comparators (a bits-wide magnitude compare, one LUT per two bits on the carry chain, and the
        2:1 select of the larger, LUT6_2: UG474) with their running-max register, and the 3:1 select
        of the pixel to send (first row, stored row or maximum: one LUT6 per bit); x HLS_ARRAY_MARGIN."""
        lanes = cfg.p_oc * cfg.bits
        if not cfg.winograd_engine:  # the kernel keeps only the pass-through loop
            return Resources(ff=round(HLS_ARRAY_MARGIN * lanes))
        compare = cfg.p_oc * 2 * ceil_div(cfg.bits, 2)
        return memory(cfg.max_width, lanes) + Resources(lut=round(HLS_ARRAY_MARGIN * (compare + lanes)),
                                                        ff=round(HLS_ARRAY_MARGIN * 2 * lanes))


# ======================================================== the Winograd path's datapath: resources ====
# Primitive counts (UG474, 7 Series CLB; UltraScale+ UG574 is the same for these): an n-bit adder or
# subtractor, add/subtract chosen at run time included, is n LUT6 in front of the carry chain; a 4:1
# multiplexer is one LUT6 per bit, an N:1 one ceil(N / 4) LUTs per bit (with the F7/F8 muxes), two 2:1
# multiplexers with a shared select one LUT6_2; a register is one FF per bit, its enable and synchronous
# clear free (CE, SR pins). Not synthesised: x HLS_ARRAY_MARGIN, as LoopLogic. When dse/rtl/fit.json
# has a fit of the circuit (WINO_LANE_FIT, yosys on dse/rtl/zy_wino_*.v) it replaces the count, with
# HLS_LANE_MARGIN as the other lanes.
def _wino_lanes(name: str, bits: int, lanes: int, lut_per_lane: float, ff_per_lane: float) -> Resources:
    fit = WINO_LANE_FIT.get(bits, {}).get(name)
    if fit is not None:
        lpl, l0, fpl, f0 = fit
        return Resources(lut=round(HLS_LANE_MARGIN * (lpl * lanes + l0)), ff=round(HLS_LANE_MARGIN * (fpl * lanes + f0)))
    return Resources(lut=round(HLS_ARRAY_MARGIN * lanes * lut_per_lane), ff=round(HLS_ARRAY_MARGIN * lanes * ff_per_lane))


class WinogradWindow:
    """The span's 4 x 4 window of p_ic lanes and the next span's, filling (zy_winograd.h ``win``/``nw``:
    32 x p_ic x bits registers); the fetch, one line-buffer pixel an iteration, selects the next
    sub-fold's p_ic lanes of the p_oc-lane word (S:1, one LUT6 per bit up to 4:1, the zero of a pad
    pixel on the register's synchronous reset) into the register its position decodes (16 write
    enables, a LUT6 each); ``win`` loads ``nw`` whole at a span's start (clock enable, no LUT); the
    MAC array's operand select (V, or a direct call's code) of p_ic lanes (2:1, LUT6_2). With paired
    positions (``wino_pair``) the high lanes' select has one input more (the low lanes' channels: a
    LUT6 per bit where that passes 4:1) and ``nw``'s columns 0, 1 load either the fetched pixel or
    columns 2, 3 (2:1, LUT6_2). F(4x2): 4 x 6 windows (48 x p_ic x bits registers, 24 enables)."""

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        tw = cfg.wino_tile_w
        bits, wv = cfg.bits, wino_bits(cfg.bits, tw)[1]
        positions = WinogradEngine.positions(tw)
        ff = 2 * positions * cfg.p_ic * bits
        sub = cfg.subfolds
        select = cfg.p_ic * bits * (ceil_div(sub, 4) if sub > 1 else 0)
        enables = positions
        operand = ceil_div(cfg.p_ic * wv, 2)
        paired = 0
        if cfg.wino_pair:
            high = cfg.p_ic // 2 * bits * (ceil_div(sub + 1, 4) - (ceil_div(sub, 4) if sub > 1 else 0))
            paired = high + ceil_div(8 * cfg.p_ic * bits, 2)
        return Resources(lut=round(HLS_ARRAY_MARGIN * (select + enables + operand + paired)),
                         ff=round(HLS_ARRAY_MARGIN * ff))


class WinogradDataTransform:
    """V = B^T d B of one position per iteration for p_ic lanes (zy_winograd.h; dse/rtl/zy_wino_data.v):
    per lane the row combination T (4 adders of bits + 1, each operand a 4:1 mux of bits by the row
    index) and the column combination V (one adder of bits + 2, operands 4:1 muxes of bits + 1 by the
    column index), V registered: 15 * bits + 8 LUT and bits + 2 FF per lane. A winograd-paired design
    (``wino_pair``) has the circuit at PAIRED = 1 (its fit "wino_data_paired"): the high lanes select
    by their own position (decoded once, outside) and zero V on the register's reset.
    F(4x2) (its fit "wino4_data", dse/rtl/zy_wino4_data.v): the row combination over 6 columns, then
    B4^T's row as x +- y (zy_winograd.h b4_combine: two adders of bits + 4 whose operands are 3:1 and
    2:1 selects by the column index, a LUT6 per bit each, and the final add or subtract of bits + 5),
    V registered: 6 (3 bits + 1) + 6 (bits + 4) + bits + 5 LUT and bits + 5 FF per lane."""

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        b = cfg.bits
        if cfg.wino_tile_w == 4:
            per_lane = 6 * (2 * b + (b + 1)) + 6 * (b + 4) + (b + 5)
            return _wino_lanes("wino4_data", b, cfg.p_ic, per_lane, b + 5)
        per_lane = 4 * (2 * b + (b + 1)) + 2 * (b + 1) + (b + 2)
        return _wino_lanes("wino_data_paired" if cfg.wino_pair else "wino_data", b, cfg.p_ic, per_lane, b + 2)


class WinogradOutputTransform:
    """Y = A^T M A / 4 (zy_winograd.h; dse/rtl/zy_wino_output.v): per MAC-array row, 4 output
    accumulators of wy_bits (``hwconfig.wino_y_bits``: +sum, -sum or hold each iteration; cleared at a
    tile's first position: one LUT6 per bit on the carry chain) and 4 emit registers latching Y / 4
    (a shift) at the tile's end: 4 * wy_bits LUT and 8 * wy_bits FF per row; plus the 4:1 select of
    the pixel emitted (one LUT6 per bit of p_oc x wy_bits; outside the RTL model). The yosys fit is of
    the circuit at its ACC width (48): every term is per bit, so it scales by wy_bits / ACC. Paired
    positions (``wino_pair``): each row's sum splits at lane p_ic / 2, the full sum one more adder, and
    each accumulator adds the low half, the high half or the full sum: the circuit at PAIRED = 1 (its
    fit "wino_output_paired"; without a fit, the count: the adder of the product width and a 3:1
    select per accumulator bit, a LUT6_2 per two bits).
    F(4x2) (its fit "wino4_output", dse/rtl/zy_wino4_output.v; zy_winograd.h "F(4x2) tiles",
    wino4_across_step): per row, down, two column sums (+sum, -sum or hold, 2 wy_bits LUT) in rings of
    6 whose heads have a 2:1 select (2 wy_bits), 12 ring registers; across, per column sum a chain of
    the four pixels' sums rotating every iteration (8 registers, no select), the term from the ring's
    tail (a 4:1 shift select, one LUT6 a bit) and one adder into the chain's head (2 x 2 wy_bits); the
    pixel out, a 2:1 select of the two heads (LUT6_2) of Y / 16 (wq = wy_bits - 4 bits: 3 x the pixel,
    stage 2 divides by 3, ``AccumulateTile``) into its register: 8 wy_bits + wq / 2 LUT and 20 wy_bits
    + wq FF a row."""

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        wy = wino_y_bits(cfg.bits, cfg.p_oc, cfg.wino_tile_w)
        if cfg.wino_tile_w == 4:
            fit = WINO_LANE_FIT.get(cfg.bits, {}).get("wino4_output")
            if fit is not None:
                scale = wy / WINO_FIT_WIDTH.get((cfg.bits, "wino4_output"), wy)
                lpl, l0, fpl, f0 = fit
                return Resources(lut=round(HLS_LANE_MARGIN * (scale * lpl * cfg.p_oc + l0)),
                                 ff=round(HLS_LANE_MARGIN * (scale * fpl * cfg.p_oc + f0)))
            return _wino_lanes("wino4_output", cfg.bits, cfg.p_oc, 8 * wy + (wy - 4) / 2, 20 * wy + wy - 4)
        name = "wino_output_paired" if cfg.wino_pair else "wino_output"
        fit = WINO_LANE_FIT.get(cfg.bits, {}).get(name)
        if fit is not None:
            scale = wy / WINO_FIT_WIDTH.get((cfg.bits, name), ACC_BITS)
            lpl, l0, fpl, f0 = fit
            lanes = Resources(lut=round(HLS_LANE_MARGIN * (scale * lpl * cfg.p_oc + l0)),
                              ff=round(HLS_LANE_MARGIN * (scale * fpl * cfg.p_oc + f0)))
        else:
            paired = 0
            if cfg.wino_pair:
                wu, wv = wino_bits(cfg.bits)
                paired = wu + wv + math.ceil(math.log2(cfg.p_ic)) + ceil_div(4 * wy, 2)
            lanes = _wino_lanes(name, cfg.bits, cfg.p_oc, 4 * wy + paired, 8 * wy)
        return lanes + Resources(lut=round(HLS_ARRAY_MARGIN * cfg.p_oc * wy))


class FilterTransform:
    """U = (2G) g (2G)^T (F(4x2): (2G) g (24 G4)^T) in the PL as the weight words arrive (zy_winograd.h
    wino_loader; dse/rtl/zy_wino_filter.v, zy_wino4_filter.v): one (oc, ic) pair a step, so one
    transform circuit (its fit at one lane: per pair 21 adders for F(2x2), 9 of bits + 2 for the
    columns and 12 of bits + 4 for the rows, g0 + g2 shared; F(4x2) the same 9 and 8 a row of
    bits + 7) with its lane select, a LPW:1 select of the 9 staged taps (ceil(LPW / 4) LUT6 a bit);
    the staging words twice (the group being read and the one being transformed: 18 x bus_bits FF);
    the U of a memory word's G bank words in two halves (the memory word being written and the next:
    2 x positions x G x lanes_per_word x wu_bits FF, a write enable per pair and position), the
    positions:1 select of the U-word the loader writes (ceil(positions / 4) LUTs per bit of G x
    lanes_per_word x wu_bits, one more for the half) and the loader's 2:1 select of that or a direct
    call's word."""

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        b, lpw, tw = cfg.bits, cfg.lanes_per_word, cfg.wino_tile_w
        wu = wino_bits(b, tw)[0]
        positions = WinogradEngine.positions(tw)
        word = WeightBuffer.group(cfg) * lpw * wu
        if tw == 4:
            pair = _wino_lanes("wino4_filter", b, 1, 9 * (b + 2) + 32 * (b + 7), positions * wu)
        else:
            pair = _wino_lanes("wino_filter", b, 1, 9 * (b + 2) + 12 * (b + 4), positions * wu)
        tap_select = 9 * b * ceil_div(lpw, 4)
        enables = positions * WeightBuffer.group(cfg) * lpw // 2
        around = Resources(lut=round(HLS_ARRAY_MARGIN * (tap_select + enables + (ceil_div(positions, 4) + 1) * word
                                                         + ceil_div(word, 2))),
                           ff=round(HLS_ARRAY_MARGIN * (18 * cfg.bus_bits + 2 * positions * word - positions * wu)))
        return pair + around


# ================================================================ stage 1: weight double buffer ====
class WeightBuffer:
    """``wbuf[MEMS][G * lanes_per_word][2 * SLICES]`` of ``wb_t`` entries (zy_stage1.h), the first dimension
    partitioned and the second reshaped: the WPS words of a slice (bank word j holds lanes_per_word
    (oc, ic) pairs) go G at a time into MEMS = WPS / G memories (``group``), memory word j / G, of
    G * lanes_per_word entries a word and 2 * 9 * (p_oc/p_ic) words (2 * 16 * (p_oc/p_ic) with the
    Winograd path: 16 transformed positions per sub-fold), one write port (the loader) and one read
    port (the MAC array). An entry is a weight code (``bits``), or U (wu_bits) in a winograd design.

    The MAC array reads every memory at one address, so no read mux. The loader writes one memory
    word per write: a direct block's loader gathers the G stream words of a memory word in a register
    ((G - 1) x lanes_per_word entries) and writes at the G-th; the Winograd loader writes the U-words
    of G banks at once (``FilterTransform``). The write data fans out, only the write enable is
    decoded, one equality compare of the log2(MEMS)-bit counter per memory (one LUT6 for up to 6
    bits, UG474 "CLB overview").

    A block's weights are ``k^2 * S * p_oc * p_ic / lanes_per_word`` words. The next block's words
    load one per CONV_MAC iteration; the first block's, and whatever does not fit under the
    previous block's MACs, load in WEIGHT_LOAD (not overlapped).
    """

    MAX_GROUP = MAX_WEIGHT_GROUP  # banks a memory word may hold: bounds the loaders' registers

    @staticmethod
    def banks(cfg: HwConfig) -> int:
        """Words of a slice (WPS), each lanes_per_word entries."""
        return cfg.macs // cfg.lanes_per_word

    @staticmethod
    def depth(cfg: HwConfig) -> int:
        return 2 * (winograd.positions(cfg.wino_tile_w) if cfg.winograd_engine else 9) * cfg.subfolds

    @staticmethod
    def entry_bits(cfg: HwConfig) -> int:
        return wino_bits(cfg.bits, cfg.wino_tile_w)[0] if cfg.winograd_engine else cfg.bits

    @staticmethod
    def group(cfg: HwConfig) -> int:
        """G, the banks of a memory word: the design's ``weight_group`` when it sets one (the explorer
        tries them: a larger G saves block RAM, a smaller one the Winograd loader's U staging and its
        select), else the block-RAM rule: 1 in distributed RAM (its LUTs do not depend on the shape),
        else the divisor of WPS up to MAX_GROUP with the fewest BRAM18 (block RAM is at most 36 bits
        wide, so a 4 x 20-bit U-word fills 3 of them; 4 such words fill 9), the smallest on a tie."""
        if cfg.weight_group:
            return cfg.weight_group
        depth, wps = WeightBuffer.depth(cfg), WeightBuffer.banks(cfg)
        if storage_impl(depth) == "lutram":
            return 1
        word = cfg.lanes_per_word * WeightBuffer.entry_bits(cfg)
        return min((g for g in range(1, WeightBuffer.MAX_GROUP + 1) if wps % g == 0),
                   key=lambda g: (wps // g * bram18_blocks(depth, g * word), g))

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        g = WeightBuffer.group(cfg)
        mems = WeightBuffer.banks(cfg) // g
        select_bits = max(1, math.ceil(math.log2(mems)))
        write_enable = Resources(lut=mems * ceil_div(select_bits, 6))
        eb = WeightBuffer.entry_bits(cfg)
        width = g * cfg.lanes_per_word * eb
        gather = Resources(ff=round(HLS_ARRAY_MARGIN * (g - 1) * cfg.lanes_per_word * eb))
        return memory(WeightBuffer.depth(cfg), width, banks=mems) + write_enable + gather

    @staticmethod
    def words(cfg: HwConfig, p_ic: int, lanes: int, ksize: int) -> int:
        return ksize * ksize * ceil_div(lanes, p_ic) * cfg.p_oc * p_ic // cfg.lanes_per_word


# ============================================================ stage 2: accumulate tile + requant ====
class AccumulateTile:
    """``accumulate_stage`` (zy_accumulate.h): the partial-sum tile ``[tile_pixels][p_oc]`` of 48-bit
    sums (lanes reshaped: one memory of p_oc x 48-bit words, every access a whole pixel), p_oc accumulate lanes, bias/shift tables ``[max_out_folds][p_oc]`` (lanes
    partitioned) and ``requant_lanes`` requantisers, each selecting its lane of the group.

    An F(4x2) design (``wino_tile_w`` 4) divides its Winograd calls' sums by 3 in front of the
    requantisers (zy_common.h div3_exact at ``hwconfig.wino_div3_bits``, about 29 bits): per
    requantiser the negation and three full shift-adds of that width, the fourth's top 13 bits, and
    the 2:1 select of the quotient or the sum over it (primitive counts, ``div3_lanes``).

    BIAS_LOAD takes ``out_folds * p_oc`` entries; ACC one psum per output pixel and input fold, and
    in the last input fold ceil(L_o / requant_lanes) cycles per pixel (L_o = the output fold's lanes).
    """

    @staticmethod
    def resources(cfg: HwConfig, leaky_mul_impl: str = LEAKY_MUL_IMPL) -> Resources:
        max_out_folds = cfg.folds(cfg.max_out_channels)
        rl = cfg.requant_lanes
        tile = memory(cfg.tile_pixels, cfg.p_oc * cfg.acc_bits)
        bias = memory(max_out_folds, cfg.acc_bits, banks=cfg.p_oc)
        shift = memory(max_out_folds, 6, banks=cfg.p_oc)
        return (tile + bias + shift + stage2_lanes(cfg.p_oc, rl, cfg.bits, leaky_mul_impl)
                + AccumulateTile.div3_lanes(cfg))

    @staticmethod
    def div3_lanes(cfg: HwConfig) -> Resources:
        """The F(4x2) design's exact / 3 of requant_lanes lanes (nothing in any other design)."""
        if cfg.wino_tile_w != 4:
            return Resources()
        n = wino_div3_bits(cfg.bits, cfg.max_in_channels)
        per_lane = n + 3 * n + max(n - 16, 0) + cfg.acc_bits  # -x, three shift-adds, t3 << 16's part, select
        return Resources(lut=round(HLS_LANE_MARGIN * cfg.requant_lanes * per_lane))

    @staticmethod
    def bias_load_iterations(cfg: HwConfig, out_folds: int) -> int:
        return out_folds * cfg.p_oc

    @staticmethod
    def requant_groups(requant_lanes: int, fold_lanes: int) -> int:
        """Cycles the last input fold spends on one pixel of an output fold of ``fold_lanes`` lanes."""
        return ceil_div(fold_lanes, requant_lanes)


# ============================================================================ stage 3 ====
class Stage3:
    """``stage3`` (zy_stage3.h): max-pool 2x2 (stride 2 or 1), upsample x2, YOLO sigmoid or bypass,
    ``stage3_lanes`` lanes per cycle. One row buffer (max-pool, upsample) partitioned cyclic by stage3_lanes; the
    sigmoid table is a ROM read stage3_lanes times per cycle (dual-port copies).

    STAGE3 = slots * ceil(L_o / stage3_lanes) per output fold of L_o lanes; slots are h*w (bypass,
    YOLO, pool stride 2), (h+1)(w+1) (pool stride 1) or 4*h*w (upsample). YOLO_PHASE = p_oc per fold.
    """

    @staticmethod
    def row_buffer_depth(cfg: HwConfig) -> int:
        """Words per bank of the row buffer (``stage3_lanes`` banks, lanes cyclic) that max-pool and
        upsample share (a call runs one mode)."""
        return cfg.max_width * (cfg.p_oc // cfg.stage3_lanes)

    @staticmethod
    def sigmoid_copies(cfg: HwConfig) -> int:
        """Dual-port copies of the sigmoid ROM: one per two lanes."""
        return ceil_div(cfg.stage3_lanes, 2)

    @staticmethod
    def resources(cfg: HwConfig, sigmoid_entries: int) -> Resources:
        sl = cfg.stage3_lanes
        rows = memory(Stage3.row_buffer_depth(cfg), cfg.bits, banks=sl)
        rom = memory(sigmoid_entries, cfg.bits, banks=Stage3.sigmoid_copies(cfg))
        return rows + rom + stage3_lanes(sl, cfg.bits)

    @staticmethod
    def slots(mode: int, pool_stride: int, height: int, width: int) -> int:
        """Pixel slots of one output fold."""
        if mode == Stage3Mode.MAXPOOL and pool_stride == 1:
            return (height + 1) * (width + 1)
        if mode == Stage3Mode.UPSAMPLE:
            return 4 * height * width
        return height * width

    @staticmethod
    def groups(stage3_lanes: int, fold_lanes: int) -> int:
        return ceil_div(fold_lanes, stage3_lanes)


# ===================================================================== stream I/O, DMA, DDR ====
class StreamIO:
    """``read_input_stream``/``write_output`` (zy_stream_io.h, one bus word per cycle), the six
    FIFOs of the dataflow region (``FIFO_DEPTHS``) (zy_accel.h), and the platform around the IP: two AXI DMAs
    (dma0 MM2S + S2MM on HP0, dma1 MM2S on HP1, hls/bitstream.py) and three AXI interconnects.

    CONV_READ = streamed input words; OUT_WRITE = output words (padded channels / lanes_per_word).
    """

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        lanes = cfg.p_oc * cfg.bits
        widths = {"pix": lanes, "psum": cfg.p_oc * cfg.acc_bits, "params": cfg.acc_bits + 6, "acc_out": lanes,
                  "raster": lanes, "s3_out": lanes}
        fifos = Resources()
        for name, depth in FIFO_DEPTHS.items():
            fifos = fifos + fifo(widths[name], depth)
        platform = Resources(bram18=DMA_FIFO_BRAM18, lut=PLATFORM_LUT, ff=PLATFORM_FF)
        return fifos + platform

    @staticmethod
    def read_words(cfg: HwConfig, lanes: int, pixels: int) -> int:
        return pixels * lanes // cfg.lanes_per_word

    @staticmethod
    def write_words(cfg: HwConfig, fold_lanes: int, pixels: int) -> int:
        return pixels * fold_lanes // cfg.lanes_per_word


# ================================================================ AXI-Lite control and the host ====
class Control:
    """The s_axilite control interface of the top: one register per ``register_fields`` entry plus
    ap_ctrl. What a call costs the host that drives it (MMIO accesses) is ``dse.mmio``."""

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        bits = sum(cfg.register_fields().values()) + AP_CTRL_BITS
        return Resources(lut=CONTROL_BASE_LUT + bits, ff=bits)


# ========================================================== loop control and lane selects ====
# Modelled from CLB primitives (UG474, 7 Series CLB User Guide; UltraScale+ UG574 is the same for
# these): an n-bit counter with a clear is n LUTs in front of a carry chain and n flip-flops; an
# equality or magnitude compare of two n-bit run-time values is ceil(n / 3) LUT6 feeding the carry
# chain; a LUT6 is one 4:1 multiplexer per bit (wider selects add a LUT per 4 inputs, with the
# F7/F8 muxes), or two 2:1 multiplexers with a shared select (LUT6_2). Each pipelined loop also
# has its pipeline's valid/stall logic: LOOP_FSM_LUT LUTs and one flip-flop per stage (estimate).
# Not synthesised: the least certain term after the platform; HLS_ARRAY_MARGIN applies on top.
LOOP_FSM_LUT = 12
LOOP_DEPTH_FF = 6


def _bits(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


@functools.lru_cache(maxsize=4096)
def _loop_cost(counters: tuple[int, ...], compares: tuple[int, ...]) -> tuple[int, int]:
    """(LUT, FF) of one pipelined loop's control, before the margin (see the primitive counts above)."""
    counter_bits = sum(_bits(c) for c in counters)
    return (counter_bits + sum(ceil_div(_bits(c), 3) for c in compares) + LOOP_FSM_LUT,
            counter_bits + LOOP_DEPTH_FF)


class LoopLogic:
    """The control of the kernels' pipelined loops (counters, exit and position compares) and the
    lane selects the datapath blocks above do not contain. Counted per loop from the code
    (zy_conv.h, zy_stream_io.h, zy_accumulate.h, zy_stage3.h), widths from the design point's maxima.
    """

    @staticmethod
    def loops(cfg: HwConfig) -> dict[str, tuple[list[int], list[int]]]:
        """label -> (counter maxima, compared-value maxima) of each pipelined loop (several STAGE3 variants)."""
        w, h, sub = cfg.max_width, cfg.max_height, cfg.subfolds
        slices2 = WeightBuffer.depth(cfg)
        banks = WeightBuffer.banks(cfg)
        g = WeightBuffer.group(cfg)
        mems = banks // g
        block_words = 9 * sub * banks
        groups3 = ceil_div(cfg.p_oc, cfg.stage3_lanes)
        wpp = cfg.p_oc // cfg.lanes_per_word
        in_folds = cfg.folds(cfg.max_in_channels) + 1
        writer = [h, w, cfg.line_rows, cfg.line_rows, w]  # line writer row, column, slot; 1x1 store row, column
        out_folds = cfg.folds(cfg.max_out_channels)
        # a 1x1 out-group's prefetch: store row and column, raster column and row, pixel tick
        prefetch = ([cfg.line_rows, w, w, h, out_folds], [w, w, h, out_folds])
        loops = {
            # ... the loader's words, its bank word of the memory word and memory, its address
            "CONV_MAC": ([sub, 9, 3, 3, w, h, w, h, slices2, 3, block_words, g, mems, slices2] + writer + prefetch[0],
                         [sub, 9, 3, w, h, h, w, h, w, h, h, w, h, w, 3, block_words, g, mems] + prefetch[1]),
            "LINE_FILL": (writer, [h, w]),
            "WEIGHT_LOAD": ([block_words], [block_words]),
            "PREAMBLE": ([cfg.p_oc], [cfg.p_oc]),
            "CONV_READ": ([wpp, w, h], [wpp, w, h]),
            "CONV_BYPASS": ([w, h], [w, h]),
            "BIAS_LOAD": ([cfg.p_oc, cfg.folds(cfg.max_out_channels)], [cfg.p_oc]),
            "ACC": ([in_folds, cfg.p_oc // cfg.requant_lanes, cfg.tile_pixels, w, h, cfg.folds(cfg.max_out_channels)],
                    [in_folds, cfg.p_oc // cfg.requant_lanes, w, h, cfg.folds(cfg.max_out_channels)]),
            "ACC_BYPASS": ([w, h], [w, h]),
            "YOLO_PHASE": ([cfg.p_oc, 255], [255]),
            "STAGE3": ([groups3, w, h], [groups3, w, h]),
            "STAGE3_MAXPOOL2": ([groups3, w, h], [groups3, w, h, w]),
            "STAGE3_MAXPOOL1": ([groups3, w + 1, h + 1], [groups3, w, h, w, h]),
            "STAGE3_UPSAMPLE": ([groups3, 2 * w, 2 * h], [groups3, 2 * w, 2 * h]),
            "OUT_WRITE": ([wpp, w, h], [wpp, w, h, cfg.max_out_channels]),
            "DETILE": ([w, h, cfg.folds(cfg.max_in_channels)], [w, h]),  # pass-through
        }
        if cfg.winograd_engine:
            p = WinogradEngine.positions(cfg.wino_tile_w)
            steps = WinogradEngine.load_steps(cfg, cfg.p_ic, cfg.p_oc)
            # steps, step of the period, tap word, bank word of the memory word, memory, sub-fold, U-word
            loader = [steps, WinogradEngine.load_period(cfg), 9, g, mems, sub, p]
            tiles = [ceil_div(w, cfg.wino_tile_w), ceil_div(h, 2)]
            # paired positions: the step's compares with PAIR_STEPS, PAIR_SINGLES and the fetch's 8
            paired = [p, p, p] if cfg.wino_pair else []
            # F(4x2): the input pixel slot and its phase (8 x 3), and WINO_DRAIN's 12 iterations
            slots = [8, 3] if cfg.wino_tile_w == 4 else []
            drain = WinogradEngine.DRAIN4 if cfg.wino_tile_w == 4 else 4
            tiles = tiles + slots
            loops.update({
                # sub-fold, position, tile column/row, window load, emit, line writer, loader
                "CONV_WINO": ([sub, p] + tiles + [12, 4] + writer + loader,
                              [sub, p] + tiles + [12, 4, w, h, w, h] + loader + paired),
                "WINO_LOAD": (loader, loader),
                "WINO_PRELOAD": ([p], [p, w, h]),
                "WINO_DRAIN": ([drain], [drain, w, h]),
                "DETILE": ([w, h, 2, 2, cfg.folds(cfg.max_in_channels)], [w, h, w, h]),  # pass, pool, detile
                "DETILE_ROW": ([w], [w]),
            })
        return loops

    @staticmethod
    def selects(cfg: HwConfig) -> int:
        """LUTs of the run-time lane selects: in a winograd design the direct calls' p_ic lanes of
        sub-fold s out of a pixel and the newest-pixel bypass of the line buffer (a direct design's
        MAC-array fit, zy_mac_array.v with X_SELECT = 1, already holds that select; the Winograd
        array's, X_SELECT = 0, does not), stage 3's lane group out of a pixel, the output word's
        lanes out of a pixel (each a ceil(N / 4)-LUT mux per bit; 2:1 muxes two bits a LUT), and
        CONV_MAC's line-buffer addresses (read: store or tap position, 2:1; write: prefetch, store or
        ring position, 3:1)."""
        bits = cfg.bits
        sub = cfg.subfolds
        addr = (cfg.line_rows - 1).bit_length() + (cfg.max_width - 1).bit_length()
        conv = ceil_div(addr, 2) + addr
        if cfg.winograd_engine:
            conv += cfg.p_ic * bits * (ceil_div(sub, 4) if sub > 1 else 0) + ceil_div(cfg.p_oc * bits, 2)
        stage3 = cfg.stage3_lanes * bits * ceil_div(ceil_div(cfg.p_oc, cfg.stage3_lanes), 4)
        out = cfg.lanes_per_word * bits * ceil_div(cfg.p_oc // cfg.lanes_per_word, 4)
        return conv + stage3 + out

    @staticmethod
    def resources(cfg: HwConfig) -> Resources:
        lut = ff = 0
        for counters, compares in LoopLogic.loops(cfg).values():
            loop_lut, loop_ff = _loop_cost(tuple(counters), tuple(compares))
            lut += loop_lut
            ff += loop_ff
        return Resources(lut=round(HLS_ARRAY_MARGIN * (lut + LoopLogic.selects(cfg))), ff=round(HLS_ARRAY_MARGIN * ff))


BLOCKS = (ConvEngine, LineBuffer, WeightBuffer, WinogradWindow, WinogradDataTransform, WinogradOutputTransform,
          FilterTransform, AccumulateTile, Detile, Stage3, StreamIO, Control, LoopLogic)
WINOGRAD_BLOCKS = {"wino_window": WinogradWindow, "wino_data_transform": WinogradDataTransform,
                   "wino_output_transform": WinogradOutputTransform, "filter_transform": FilterTransform}


def design_resources(cfg: HwConfig, sigmoid_entries: int, leaky_mul_impl: str = LEAKY_MUL_IMPL) -> dict[str, Resources]:
    """Resources of every block of the design point (all modelled); the Winograd path's blocks only in a
    winograd design."""
    out = {
        "conv_engine": ConvEngine.resources(cfg),
        "line_buffer": LineBuffer.resources(cfg),
        "weight_buffer": WeightBuffer.resources(cfg),
    }
    if cfg.winograd_engine:
        out.update({name: block.resources(cfg) for name, block in WINOGRAD_BLOCKS.items()})
    out.update({
        "accumulate_tile": AccumulateTile.resources(cfg, leaky_mul_impl),
        "detile": Detile.resources(cfg),
        "stage3": Stage3.resources(cfg, sigmoid_entries),
        "stream_io_dma": StreamIO.resources(cfg),
        "control": Control.resources(cfg),
        "loop_logic": LoopLogic.resources(cfg),
    })
    return out


def storage_plan(cfg: HwConfig, sigmoid_entries: int) -> dict[str, str]:
    """The BIND_STORAGE implementation of every kernel array, by the memory rule the resource
    functions above charge (the generated header's ZY_IMPL_<NAME>, zynqyolo.hls.header)."""
    depths = {"WEIGHTS": WeightBuffer.depth(cfg), "LINE": LineBuffer.depth(cfg), "TILE": cfg.tile_pixels,
              "BIAS": cfg.folds(cfg.max_out_channels), "ROWS": Stage3.row_buffer_depth(cfg), "SIGMOID": sigmoid_entries,
              "DETILE": cfg.max_width}  # the detile row buffer [max_width][p_oc] (lanes reshaped into a word)
    return {name: storage_impl(depth) for name, depth in depths.items()}


def total_resources(cfg: HwConfig, sigmoid_entries: int, leaky_mul_impl: str = LEAKY_MUL_IMPL) -> Resources:
    out = Resources()
    for r in design_resources(cfg, sigmoid_entries, leaky_mul_impl).values():
        out = out + r
    return out
