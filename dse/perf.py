"""The frame latency model of our architecture: the block models of ``blocks.py`` composed over the
plan's calls, plus the memory system and the host. Every figure it produces is *modelled*.

Inputs: the plan (``make_plan``: calls, registers, Blocks, DMA transfers, buffers), the design
point (``HwConfig``) and the board (``devices.Board``: DDR, CPU). The plan is the only
description of the network used here.

Compute time of one call (the dataflow region of zy_accel.h)
    Each of the six processes (stream reader, conv stage, accumulate stage, detile, stage 3, stream
    writer; ``PROCESS_LOOPS``) is busy for as many cycles as its pipelined loops iterate (II 1; stream words at the
    DMAs' measured efficiencies, ``MM2S_EFFICIENCY``/``S2MM_EFFICIENCY``). The iteration counts come
    from the plan's Blocks and registers (``loop_counts``, exact: the tests hold them to the C
    simulation's counters for every call). A call's **compute** time is its slowest process plus
    fill/drain (pipeline entry and depth of the loops each block restarts, and the drain of
    stages 2-3 and detile; estimates, blocks.py): ``compute_cycles`` is a function of the loop counts, so
    the same function applied to the C simulation's counts gives the figure the model is
    checked against.

    The FIFOs between the processes are two deep, so the processes run in lockstep: where the
    slowest process changes from block to block (stage 3 and the writer work only in a band's
    last input fold; the engine waits for the reader while a block's line buffer fills; weight
    words that do not fit under a block's MACs stall the reader) the others wait. The model walks
    the call's Blocks in the kernels' order (out fold, band, input fold) and charges each block

        LINE_FILL pixels at the reader's pace
      + max(CONV_MAC, remaining CONV_READ words, ACC iterations, STAGE3 slots and OUT_WRITE words of
            the band (last input fold only))
      + weight words of the next block that do not fit under this block's CONV_MAC
      + pipeline entry/depth of the block's loops

    plus the preamble, the first block's weights and the drain once per call (a bypass call is
    charged per fold). A winograd block (a call with the ``winograd`` register set) is charged

        LINE_FILL pixels (its 4-row window) at the reader's pace
      + max(CONV_WINO + the stalls of its 4-pixel bursts (blocks.WinogradEngine.burst_stall: a tile
            reads 4 pixels from ``pix`` and writes the previous tile's 4 to ``psum`` at its iterations
            0, 4, 8, 12; F(4x2): 8 and 8, blocks.WinogradEngine.burst_times), remaining CONV_READ words,
            ACC iterations)
        and in the last input fold + the stall of detile's stored rows (blocks.Detile.row_stall:
            DETILE_ROW takes nothing from stage 2), against stage 3, detile and the writer of the band
      + WINO_PRELOAD, WINO_DRAIN and the next block's loader steps that do not fit under CONV_WINO
      + pipeline entry/depth of its loops (and detile's, per tile row)

    The excess of this over the compute time is the call's **stall** time:
    modelled only, the C simulation runs the processes one after the other and cannot show it.

Memory and DMA
    The streams are the DMAs: at most one bus word per cycle per channel, which the compute time
    already charges. That is also each HP port's peak at the PL clock (a bus_bits-wide port at
    the PL clock, ``Board.hp_port_bytes_per_s``; dma0's read and write channels share HP0 but use
    its separate AXI read and write channels, dma1 has HP1), so the HP ports add no limit of their
    own; a design wider than the board's HP ports is refused, as the build flow refuses it. The
    DDR is shared by all three channels: a call's DMA busy time is its bytes over the board's
    effective DDR bandwidth (``DDR_EFFICIENCY`` x the peak of ``devices.py``), and only the part
    not hidden under the call's work on the PL, plus the DMA start latency, adds to the frame
    (``dma_ms``): streaming DMA runs concurrently with compute.

Host
    Per call: MMIO accesses (``dse.mmio.call_mmio``: the changed registers as one block write and
    one block read-back, ap_start, the input chain's tail-descriptor write, ap_done; the parameter
    and output chains are armed per frame and the DMAs' status is read only in a poll that does not
    see ap_done) at a measured per-access cost from Python on the board's ARM, plus the blocks'
    register words at an estimated bus cost each (``MMIO_WORD_US``); per frame: the restart of the
    three descriptor chains and the arming of the parameter and output chains, the flush of the
    input image and the invalidation of the YOLO outputs at the reference's measured 0.9 ns/byte.
    All serial with the PL (the driver issues one call at a time).

For the search, a plan made for one (p_oc, bits, tile_pixels) serves every p_ic, stage3_lanes and
requant_lanes: the model reads only each Block's lanes, pixels, rows, band and kernel, and
recomputes sub-folds from the lanes and the evaluated p_ic (``CallShape``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from zynqyolo.model.fixed import sigmoid_lut
from zynqyolo.model.ir import Network
from zynqyolo.model.quantize import HardwareFormats

from . import mmio
from .blocks import (DETILE_DEPTH, FIFO_DEPTHS, LEAKY_MUL_IMPL, LOOP_ENTRY_CYCLES, OUT_WRITE_DEPTH, STAGE2_DEPTH, STAGE3_DEPTH,
                     AccumulateTile, ConvEngine, Detile, LineBuffer, Resources, Stage3, StreamIO, WeightBuffer,
                     WinogradEngine, ceil_div, design_resources)
from .devices import Board, Device
from .hwconfig import HwConfig
from .packing import param_stream_nbytes
from .plan import Call, Channel, Plan, make_plan
from .registers import Stage3Mode, pairs_positions, winograd_call

KIND = "modelled"
LOOP_LABELS = ("CONV_READ", "PREAMBLE", "WEIGHT_LOAD", "LINE_FILL", "CONV_MAC", "CONV_BYPASS", "WINO_LOAD",
               "WINO_PRELOAD", "CONV_WINO", "WINO_DRAIN", "BIAS_LOAD", "ACC", "ACC_BYPASS", "DETILE", "DETILE_ROW",
               "YOLO_PHASE", "STAGE3", "OUT_WRITE")
# Loops only a Winograd design has: a direct design's kernels compile the Winograd path away.
WINOGRAD_ONLY_LOOPS = ("WINO_LOAD", "WINO_PRELOAD", "CONV_WINO", "WINO_DRAIN", "DETILE_ROW")


def design_loop_labels(config: HwConfig) -> tuple[str, ...]:
    """The labelled loops the kernels of ``config`` have (what synthesis must report at II 1)."""
    return LOOP_LABELS if config.winograd_engine else tuple(x for x in LOOP_LABELS if x not in WINOGRAD_ONLY_LOOPS)


# The dataflow processes and the loops each runs (the dataflow region of hls/include/zy_accel.h).
PROCESS_LOOPS = {
    "read": ("CONV_READ",),
    "conv": ("PREAMBLE", "WEIGHT_LOAD", "LINE_FILL", "CONV_MAC", "CONV_BYPASS", "WINO_LOAD", "WINO_PRELOAD",
             "CONV_WINO", "WINO_DRAIN"),
    "stage2": ("BIAS_LOAD", "ACC", "ACC_BYPASS"),
    "detile": ("DETILE", "DETILE_ROW"),
    "stage3": ("YOLO_PHASE", "STAGE3"),
    "write": ("OUT_WRITE",),
}
PROCESSES = tuple(PROCESS_LOOPS)

# ---------------------------------------------------------------------------- memory system ----
# PG021 (AXI DMA v7.1), "Performance": 10,000-byte transfers at 100 MHz reach 99.76 % (MM2S) and
# 74.64 % (S2MM) of the theoretical stream throughput.
MM2S_EFFICIENCY = 0.9976
S2MM_EFFICIENCY = 0.7464
# PG021 "Latency": m_axi_mm2s_arvalid to m_axis_mm2s_tvalid 6 clocks; plus the PS DDR read latency,
# for which we have no measured figure: 100 PL cycles is an estimate (it is paid once per call).
DMA_START_CYCLES = 6 + 100
# Effective share of the PS DDR peak the PL can use: ~3.5 GB/s measured through all HP and ACP
# ports of a Zynq-7000 (rsoc-framework.com, "How fast are DMA transfers on Xilinx Zynq?") against
# a 32-bit DDR3-1066's 4.26 GB/s peak = 0.82; 0.8 is applied to every board (an estimate elsewhere).
DDR_EFFICIENCY = 0.8

# ------------------------------------------------------------------------------------ host ----
# Python MMIO through PYNQ on a PYNQ-Z1 (XC7Z020, Cortex-A9 at 650 MHz): 5,600 MMIO.write calls took
# 150-200 ms (27-36 us each, https://discuss.pynq.io/t/mmio-write-is-too-slow/389), and four
# ip.write calls plus a start took 120-130 us on a PYNQ-Z2 (KastnerRG/Read_the_docs issue #25).
# We take 30 us per access, reads as writes (reads were not measured separately), at 650 MHz, and
# scale it by CPU clock for other boards (an estimate: same interpreter work per access).
MMIO_ACCESS_US = 30.0
MMIO_MEASURED_CPU_MHZ = 650.0
# A vectorised access (the driver's register block: a numpy fancy-index store into, or load from,
# PYNQ's MMIO.array) is one such Python-level access plus one single-beat AXI-Lite transaction per
# 32-bit word through M_AXI_GP0 and the interconnect to the IP at the PL clock. No figure measured on
# this path: UG585 (Zynq-7000 TRM, table 22-8) gives CPU programmed I/O through the GP masters
# < 25 MB/s, >= 0.16 us per word at best, and a Zynq UltraScale+ R5 measured ~0.3 us per AXI-Lite
# read or write at 250 MHz through an interconnect (Xilinx forum, "Strategy for lowest latency to
# access AXI register"). We take 0.5 us per word, reads (blocking round trips) as writes: an estimate,
# chosen conservatively for a 100 MHz PL clock, and not scaled (it is bus time, not CPU time). It
# is charged for every word of a block, the first too (conservative: a scalar access's one beat is
# inside MMIO_ACCESS_US).
MMIO_WORD_US = 0.5
# reference-model.md "Host terms": cache flush + invalidate at 0.9 ns/byte, measured by the reference
# on the Zedboard's Cortex-A9 (666.7 MHz); scaled by CPU clock for other boards (estimate).
CACHE_NS_PER_BYTE = 0.9
CACHE_MEASURED_CPU_MHZ = 666.7


@dataclass(frozen=True)
class HostModel:
    """What the host adds per call and per frame (modelled)."""

    mmio_access_us: float
    cache_ns_per_byte: float
    verify_registers: bool = True  # host/driver.py Driver(verify_registers=True) reads every register back
    mmio_word_us: float = MMIO_WORD_US  # per register word of a block access (bus time)

    @classmethod
    def for_board(cls, board: Board, verify_registers: bool = True) -> "HostModel":
        return cls(MMIO_ACCESS_US * MMIO_MEASURED_CPU_MHZ / board.cpu_clock_mhz,
                   CACHE_NS_PER_BYTE * CACHE_MEASURED_CPU_MHZ / board.cpu_clock_mhz, verify_registers)

    def mmio_ms(self, count: mmio.MmioCount) -> float:
        """The host time of ``count`` (``dse.mmio``): its accesses, plus the words its blocks move."""
        return (count.accesses * self.mmio_access_us + count.words * self.mmio_word_us) * 1e-3

    def to_dict(self) -> dict:
        return {"mmio_access_us": self.mmio_access_us, "mmio_word_us": self.mmio_word_us,
                "cache_ns_per_byte": self.cache_ns_per_byte, "verify_registers": self.verify_registers}


@dataclass(frozen=True)
class MemoryModel:
    """The board's DDR as the PL sees it."""

    ddr_bytes_per_s: float  # effective

    @classmethod
    def for_board(cls, board: Board) -> "MemoryModel":
        return cls(board.ddr_peak_bytes_per_s * DDR_EFFICIENCY)


# ------------------------------------------------------------------ plans without calibration ----
def network_maxima(network: Network) -> dict[str, int]:
    """The HwConfig maxima this network needs (as plan._check_capacity checks them)."""
    widths = [network.width] + [layer.out_shape.w for layer in network.layers]
    heights = [network.height] + [layer.out_shape.h for layer in network.layers]
    return {"max_width": max(widths), "max_height": max(heights),
            "max_in_channels": max(c.in_shape.c for c in network.convs),
            "max_out_channels": max(c.filters for c in network.convs)}


def plan_for(network: Network, config: HwConfig, network_hash: Optional[str] = None) -> Plan:
    """The plan of ``network`` on ``config`` with stand-in formats (for modelling only)."""
    return make_plan(network, HardwareFormats.neutral(network, config.bits, config.acc_bits, network_hash), config)


# ---------------------------------------------------------------------------- call shapes ----
@dataclass(frozen=True)
class BlockClass:
    """``count`` identical consecutive-block situations of one call (same lanes, geometry, next lanes)."""

    count: int
    lanes: int  # input lanes of the block's fold
    next_lanes: int  # input lanes of the next block (0: last block of the call)
    out_pixels: int
    read_pixels: int  # input pixels streamed (band rows plus halo)
    fill: int  # LINE_FILL iterations (winograd: less the rows the previous block streamed in)
    last_fold: bool  # stage 2 hands this block's pixels to stage 3
    out_lanes: int  # lanes of the output fold
    s3_slots: int  # stage-3 slots of the band (last fold only)
    out_written: float  # output pixels the writer emits for the band (last fold only; share of the fold)
    tile_rows: int = 0  # winograd blocks: tile rows TY of the band (0: a direct block)
    drain: int = 0  # winograd blocks: WINO_DRAIN pixels
    stored_rows: int = 0  # winograd DETILE mode, last fold only: tile rows through the detile row buffer
    streamed: bool = True  # the block streams its input (False: its fold is in stage 1's store)
    prefill: int = 0  # winograd: pixels of this block's first rows the previous block streamed in
    prefill_next: int = 0  # winograd: pixels of the next block's first rows this block streams in
    prefetch: int = 0  # 1x1 out-group: pixels of the next sequence's fold it streams into the store
    prefetch_lanes: int = 0  # ... that fold's lanes
    prefetch_every: int = 0  # ... one pixel every this many output pixels


@dataclass(frozen=True)
class CallShape:
    """What the model needs of one planned call, independent of p_ic, stage3_lanes and requant_lanes."""

    index: int
    layers: tuple[int, ...]
    name: str
    conv: bool
    ksize: int
    mode: int
    pool_stride: int
    height: int
    width: int
    out_height: int
    out_width: int
    in_channels: int
    out_channels: int
    out_folds: int
    in_folds: int
    bands: int
    in_fold_lanes: tuple[int, ...]  # lanes of each input fold (segment A then B)
    out_fold_lanes: tuple[int, ...]
    classes: tuple[BlockClass, ...]
    first_lanes: int
    in_nbytes: int
    out_nbytes: int
    registers: tuple[tuple[str, int], ...]
    n_transfers: int  # DMA transfers (descriptors) of the call
    useful_macs: int  # direct-convolution MACs the layer asks for
    writes_output_buffer: bool
    winograd: bool = False  # the call's ``winograd`` register: its blocks run the F(2x2, 3x3) path
    useful_mults: int = 0  # multiplications its algorithm needs (winograd: 16 per tile and pair; direct: MACs)

    @property
    def pool2_tiles(self) -> bool:
        """A winograd call with a stride-2 max-pool: detile pools each tile, stage 3 bypasses."""
        return self.winograd and self.mode == Stage3Mode.MAXPOOL and self.pool_stride == 2

    @property
    def engine(self) -> str:
        """How stage 1 runs the call: 'winograd', 'direct' or 'bypass' (conv_enable = 0)."""
        return "winograd" if self.winograd else "direct" if self.conv else "bypass"


_SHORT = {"convolutional": "conv"}


def _name(call: Call, network: Network) -> str:
    """'conv12', 'conv0+maxpool1', 'maxpool9' (the reference model's names)."""
    return "+".join(f"{_SHORT.get(network.layers[i].kind, network.layers[i].kind)}{i}" for i in call.layers)


def call_shape(call: Call, config: HwConfig, network: Network) -> CallShape:
    """Group a call's Blocks into classes (exact: every block is in exactly one class)."""
    r = call.regs
    h, w = r["height"], r["width"]
    mode, stride = r["stage3"], r["pool_stride"]
    if mode == Stage3Mode.MAXPOOL:
        oh, ow = (h - 1) // stride + 1, (w - 1) // stride + 1
    elif mode == Stage3Mode.UPSAMPLE:
        oh, ow = 2 * h, 2 * w
    else:
        oh, ow = h, w
    segs = [c for c in (r["in_channels_a"], r["in_channels_b"]) if c]
    in_fold_lanes = tuple(n for c in segs for n in config.fold_lanes(c))
    out_fold_lanes = config.fold_lanes(r["out_channels"])
    classes: dict[tuple, int] = {}
    useful = mults = 0
    first_lanes = 0
    wino = bool(r["winograd"])
    tw = config.wino_tile_w
    pool2_tiles = wino and mode == Stage3Mode.MAXPOOL and stride == 2
    if r["conv_enable"]:
        blocks = call.blocks
        in_folds = len(in_fold_lanes)
        k = r["ksize"]
        extra = Stage3.slots(mode, stride, h, w) - h * w  # pool stride 1: the flush row and column
        fills: dict[tuple[int, int], tuple[int, ...]] = {}
        def geometry_of(b):
            """(LINE_FILL of the block's whole window, tile rows, drain) of block ``b``."""
            geometry = fills.get((b.band, b.out_pixels))
            if geometry is None:
                rows = b.out_pixels // w
                if wino:
                    geometry = (WinogradEngine.fill_pixels(b.band, r["band_rows"], h, w),
                                WinogradEngine.tiles(rows, w)[0], WinogradEngine.drain_pixels(rows, w, tw))
                else:
                    geometry = (LineBuffer.fill_pixels(b.band, r["band_rows"], h, w, k, b.out_pixels), 0, 0)
                fills[(b.band, b.out_pixels)] = geometry
            return geometry

        for n, b in enumerate(blocks):
            nxt = blocks[n + 1].in_lanes if n + 1 < len(blocks) else 0
            last = b.in_fold == in_folds - 1
            rows = b.out_pixels // w
            geometry = geometry_of(b)
            pre = WinogradEngine.prefill_pixels(geometry[0], w) if wino and n > 0 else 0
            pre_next = WinogradEngine.prefill_pixels(geometry_of(blocks[n + 1])[0], w) if wino and nxt else 0
            slots = written = stored = 0
            if last:
                if pool2_tiles:  # stage 3 bypasses the pooled band: ceil(rows / 2) rows of ow pixels
                    slots = WinogradEngine.tiles(rows, w)[0] * ow
                else:
                    slots = (4 if mode == Stage3Mode.UPSAMPLE else 1) * b.out_pixels
                    if b.band == r["bands"] - 1:
                        slots += extra
                    stored = Detile.stored_rows(rows) if wino else 0
                written = oh * ow * b.out_pixels / (h * w)
            key = (b.in_lanes, nxt, b.out_pixels, b.in_rows * b.width, geometry[0] - pre, last, out_fold_lanes[b.out_fold],
                   slots, written, geometry[1], geometry[2], stored, b.streamed, pre, pre_next, b.prefetch,
                   b.prefetch_lanes, b.prefetch_every)
            classes[key] = classes.get(key, 0) + 1
        first_lanes = blocks[0].in_lanes
        conv = network.layers[call.layers[0]]
        useful = ConvEngine.useful_macs(conv.in_shape.c, conv.filters, h * w, k)
        mults = WinogradEngine.useful_multiplications(h, w, conv.in_shape.c, conv.filters, tw) if wino else useful
    classes_t = tuple(BlockClass(count, *key) for key, count in classes.items())
    in_nbytes = sum(t.nbytes for t in call.in_transfers)
    return CallShape(
        index=call.index, layers=call.layers, name=_name(call, network), conv=bool(r["conv_enable"]),
        ksize=r["ksize"], mode=mode, pool_stride=stride, height=h, width=w, out_height=oh, out_width=ow,
        in_channels=sum(segs), out_channels=r["out_channels"], out_folds=r["out_folds"], in_folds=len(in_fold_lanes),
        bands=r["bands"], in_fold_lanes=in_fold_lanes, out_fold_lanes=out_fold_lanes, classes=classes_t,
        first_lanes=first_lanes, in_nbytes=in_nbytes, out_nbytes=call.out_transfer.nbytes,
        registers=call.registers, n_transfers=len(call.transfers),
        useful_macs=useful, writes_output_buffer=call.out_transfer.buffer == "output", winograd=wino,
        useful_mults=mults)


def plan_shapes(plan: Plan, network: Network, network_hash: Optional[str] = None) -> tuple[CallShape, ...]:
    if plan.network_hash != (network_hash or network.content_hash):
        raise ValueError("the plan was made for another network (content hashes differ)")
    return tuple(call_shape(c, plan.config, network) for c in plan.calls)


def check_shape_config(shape: CallShape, config: HwConfig) -> None:
    """A shape serves configs with its plan's p_oc, bits (fold lanes) and conv engine whose tile holds
    its bands."""
    if config.fold_lanes(shape.out_channels) != shape.out_fold_lanes:
        raise ValueError(f"call {shape.index}: planned for another p_oc or bits than {config.name}")
    if shape.winograd != winograd_call(config, shape.conv, shape.ksize, shape.width):
        raise ValueError(f"call {shape.index}: planned for another conv_engine than {config.name}'s "
                         f"{config.conv_engine!r}")
    regs = dict(shape.registers)
    if shape.conv and shape.in_folds > 1 and regs["band_rows"] * shape.width > config.tile_pixels:
        raise ValueError(f"call {shape.index}: its bands of {regs['band_rows']} rows do not fit "
                         f"tile_pixels={config.tile_pixels}")


# ------------------------------------------------------------------ loop counts and lockstep ----
def _walk(shape: CallShape, config: HwConfig) -> tuple[dict[str, int], float]:
    """One pass over a call's block classes: the iterations of every labelled loop (what the C
    simulation counts) and the lockstep composition (see the module docstring)."""
    n = dict.fromkeys(LOOP_LABELS, 0)
    p_ic, lpw, p_oc = config.p_ic, config.lanes_per_word, config.p_oc
    c_in, c_out = 1 / MM2S_EFFICIENCY, 1 / S2MM_EFFICIENCY
    s3l, rl = config.stage3_lanes, config.requant_lanes
    yolo = shape.mode == Stage3Mode.YOLO
    w, px = shape.width, shape.height * shape.width
    if shape.pool2_tiles:  # stage 3 bypasses the map detile has pooled
        slots = Stage3.slots(Stage3Mode.BYPASS, 1, shape.out_height, shape.out_width)
    else:
        slots = Stage3.slots(shape.mode, shape.pool_stride, shape.height, w)
    out_px = shape.out_height * shape.out_width
    for lanes in shape.out_fold_lanes:
        n["STAGE3"] += slots * Stage3.groups(s3l, lanes)
        n["OUT_WRITE"] += StreamIO.write_words(config, lanes, out_px)
    if yolo:
        n["YOLO_PHASE"] = shape.out_folds * p_oc

    if not shape.conv:
        lockstep = 0.0
        for lanes in shape.in_fold_lanes:
            read = StreamIO.read_words(config, lanes, px)
            n["CONV_READ"] += read
            lockstep += max(read * c_in, px, slots * Stage3.groups(s3l, lanes),
                            StreamIO.write_words(config, lanes, out_px) * c_out)
            lockstep += (p_oc if yolo else 0) + 3 * LOOP_ENTRY_CYCLES
        n["CONV_BYPASS"] = n["ACC_BYPASS"] = n["DETILE"] = len(shape.in_fold_lanes) * px
        return n, lockstep + DETILE_DEPTH + STAGE3_DEPTH + OUT_WRITE_DEPTH

    k, wino = shape.ksize, shape.winograd
    regs = dict(shape.registers)
    # paired positions: derived from the config (one plan serves every p_ic), as the plan sets the register
    paired = wino and pairs_positions(config, regs["in_channels_a"], regs["in_channels_b"])
    tw = config.wino_tile_w
    burst = WinogradEngine.burst(tw)
    n["PREAMBLE"] = ConvEngine.preamble_words(config, shape.out_folds)
    n["BIAS_LOAD"] = AccumulateTile.bias_load_iterations(config, shape.out_folds)
    n["DETILE"] = shape.out_folds * px
    if wino:
        first = WinogradEngine.load_steps(config, p_ic, shape.first_lanes)
        n["WINO_LOAD"] = first
        per_block = WinogradEngine.LOOPS_PER_BLOCK * LOOP_ENTRY_CYCLES + WinogradEngine.depth(p_ic)
        # the loader takes a step per cycle and reads 9 stream words per 16 steps
        lockstep = n["PREAMBLE"] * c_in + max(first, WinogradEngine.load_words(config, p_ic, shape.first_lanes) * c_in)
    else:
        first = WeightBuffer.words(config, p_ic, shape.first_lanes, k)
        n["WEIGHT_LOAD"] = first
        per_block = ConvEngine.LOOPS_PER_BLOCK * LOOP_ENTRY_CYCLES + ConvEngine.mac_depth(p_ic)
        lockstep = (n["PREAMBLE"] + first) * c_in
    read_words = line_fill = work_total = leftover = acc = drain = detile_rows = blocks_n = 0
    for c in shape.classes:
        count = c.count
        blocks_n += count
        # The block's loop iterations (blocks.py) ...
        if wino:
            work = WinogradEngine.conv_iterations(p_ic, c.lanes, c.tile_rows, w, paired, tw)
            nxt = WinogradEngine.load_steps(config, p_ic, c.next_lanes) if c.next_lanes else 0
        else:
            work = ConvEngine.mac_iterations(p_ic, c.lanes, c.out_pixels, k)
            nxt = WeightBuffer.words(config, p_ic, c.next_lanes, k) if c.next_lanes else 0
        left = nxt - work if nxt > work else 0
        words = StreamIO.read_words(config, c.lanes, c.read_pixels) if c.streamed else 0
        read_words += count * (words + StreamIO.read_words(config, c.prefetch_lanes, c.prefetch))
        line_fill += count * c.fill
        work_total += count * work
        leftover += count * left
        drain += count * c.drain
        detile_rows += count * c.stored_rows * w
        acc_iterations = c.out_pixels * (AccumulateTile.requant_groups(rl, c.out_lanes) if c.last_fold else 1)
        acc += count * acc_iterations
        # ... and the pace of its body in lockstep: the slowest process.
        # cycles per input pixel at the stream's pace (none: an out_group's later blocks read the store)
        wpp = c.lanes / lpw * c_in if c.streamed else 0.0
        streamed = c.read_pixels - c.fill - c.prefill  # its own pixels read under the block's MACs
        stream_cycles = streamed * wpp
        if wino:
            # a tile reads up to 4 pixels, and sends the previous tile's 4 to stage 2, at its iterations
            # 0, 4, 8, 12 (paired: 0, 2, 4, 6; F(4x2): 8 read one every 3, 8 sent at EMIT4): through the
            # FIFOs (FIFO_DEPTHS) a partner slower than that stretches the tile; the last tile row reads
            # the next block's first rows (at that block's pace)
            wpp_next = c.next_lanes / lpw * c_in
            stream_cycles += c.prefill_next * wpp_next
            g2 = AccumulateTile.requant_groups(rl, c.out_lanes) if c.last_fold else 1
            tile_cycles = WinogradEngine.tile_iterations(p_ic, c.lanes, paired, tw)
            work += (ceil_div(streamed, burst) * WinogradEngine.burst_stall(wpp, FIFO_DEPTHS["pix"], paired, tw)
                     + ceil_div(c.prefill_next, burst)
                     * WinogradEngine.burst_stall(wpp_next, FIFO_DEPTHS["pix"], paired, tw)
                     + c.tile_rows * ceil_div(w, tw)
                     * WinogradEngine.burst_stall(g2, FIFO_DEPTHS["psum"], paired, tw, out=True))
        if c.prefetch:
            # a pixel of the next fold every prefetch_every output pixels (S_f iterations each): the
            # reader's pace beyond that stalls the read (1x1 out-group, double-buffered store)
            gap = c.prefetch_every * ceil_div(c.lanes, p_ic)
            work += c.prefetch * max(0.0, c.prefetch_lanes / lpw * c_in - gap)
        body = max(work, stream_cycles, acc_iterations)
        if c.last_fold:
            g3 = Stage3.groups(s3l, c.out_lanes)
            out_wpp = c.out_lanes / lpw * c_out  # writer cycles per output pixel
            downstream = max(c.s3_slots * g3, c.out_written * out_wpp, c.out_pixels + c.stored_rows * w)
            # while detile emits a stored row it takes nothing from stage 2, which stops stage 1 once
            # it has computed the next tile (blocks.Detile.row_stall)
            stall = c.stored_rows * Detile.row_stall(w, max(g3, out_wpp), tile_cycles) if wino else 0.0
            body = max(body + stall, downstream)
        # serial: the prefetch and the last tile's pixels (winograd), the next block's weights that
        # did not fit under this block's work (the direct loader is stream-paced, the winograd one
        # step-paced), loop entries and depths
        serial = (WinogradEngine.positions(tw) + c.drain + left) if wino else left * c_in
        if wino and c.last_fold:  # detile enters DETILE per tile row and DETILE_ROW per stored row
            serial += (c.tile_rows + c.stored_rows) * LOOP_ENTRY_CYCLES
        lockstep += count * (c.fill * (wpp if wpp > 1.0 else 1.0) + body + serial + per_block)
    n["CONV_READ"] = read_words
    n["LINE_FILL"] = line_fill
    if wino:
        n["CONV_WINO"] = work_total
        n["WINO_LOAD"] += leftover
        n["WINO_PRELOAD"] = blocks_n * WinogradEngine.positions(tw)
        n["WINO_DRAIN"] = drain
        n["DETILE_ROW"] = detile_rows
    else:
        n["CONV_MAC"] = work_total
        n["WEIGHT_LOAD"] += leftover
    n["ACC"] = acc
    if yolo and shape.in_folds == 1:  # YOLO_PHASE cannot hide behind earlier input folds
        lockstep += shape.out_folds * p_oc
    return n, lockstep + STAGE2_DEPTH + DETILE_DEPTH + STAGE3_DEPTH + OUT_WRITE_DEPTH


def loop_counts(shape: CallShape, config: HwConfig) -> dict[str, int]:
    """Iterations of every labelled loop of the kernels in this call (what the C simulation counts)."""
    return _walk(shape, config)[0]


def process_cycles(counts: dict[str, int]) -> dict[str, float]:
    """Busy cycles of each dataflow process from its loops' iteration counts (II 1 each; stream
    words at the DMA's efficiency)."""
    busy = {name: float(sum(counts[label] for label in loops)) for name, loops in PROCESS_LOOPS.items()}
    busy["read"] /= MM2S_EFFICIENCY
    busy["write"] /= S2MM_EFFICIENCY
    return busy


def blocks_per_call(config: HwConfig, registers: dict[str, int]) -> int:
    """Blocks (out fold, band, input fold) of a conv call, or folds of a bypass call: the number
    of times the loops restart (zy_common.h make_block; zy_stream_io.h)."""
    r = registers
    in_folds = config.folds(r["in_channels_a"]) + (config.folds(r["in_channels_b"]) if r["in_channels_b"] else 0)
    return r["out_folds"] * r["bands"] * in_folds if r["conv_enable"] else config.folds(r["in_channels_a"])


def fill_drain_cycles(config: HwConfig, registers: dict[str, int]) -> float:
    """Pipeline entry/depth per block (and per DETILE_ROW pass of a winograd call) plus the drain
    of stages 2, 3, detile and the writer (estimates)."""
    r = registers
    n = blocks_per_call(config, r)
    if not r["conv_enable"]:
        per_block, rows = ConvEngine.LOOPS_PER_BLOCK * LOOP_ENTRY_CYCLES, 0
    elif r["winograd"]:
        per_block = WinogradEngine.LOOPS_PER_BLOCK * LOOP_ENTRY_CYCLES + WinogradEngine.depth(config.p_ic)
        pooled = r["stage3"] == Stage3Mode.MAXPOOL and r["pool_stride"] == 2
        band_rows = [min(r["height"], (b + 1) * r["band_rows"]) - b * r["band_rows"] for b in range(r["bands"])]
        # detile's loops restart per tile row: DETILE, and DETILE_ROW unless it pools
        rows = r["out_folds"] * sum(WinogradEngine.tiles(n, 1)[0] + (0 if pooled else Detile.stored_rows(n))
                                    for n in band_rows)
    else:
        per_block, rows = ConvEngine.LOOPS_PER_BLOCK * LOOP_ENTRY_CYCLES + ConvEngine.mac_depth(config.p_ic), 0
    drain = (STAGE2_DEPTH if r["conv_enable"] else 0) + DETILE_DEPTH + STAGE3_DEPTH + OUT_WRITE_DEPTH
    return n * per_block + rows * LOOP_ENTRY_CYCLES + drain


def compute_cycles(counts: dict[str, int], config: HwConfig, registers: dict[str, int]) -> float:
    """A call's compute time: its slowest process plus fill/drain. A function of loop counts and
    registers only, so it applies alike to the model's counts and to the C simulation's."""
    return max(process_cycles(counts).values()) + fill_drain_cycles(config, registers)


@dataclass(frozen=True)
class CallCycles:
    compute: float  # slowest process + fill/drain
    lockstep: float  # the block-by-block lockstep composition (>= compute up to rounding)
    mac_iterations: int  # iterations of the multiplier array: CONV_MAC + CONV_WINO
    busy: dict[str, float]  # busy cycles of each process
    counts: dict[str, int]

    @property
    def stall(self) -> float:
        return max(0.0, self.lockstep - self.compute)

    @property
    def bound(self) -> str:
        return max(self.busy, key=self.busy.get)


def call_cycles(shape: CallShape, config: HwConfig) -> CallCycles:
    """Modelled compute and lockstep cycles of one call on ``config``."""
    counts, lockstep = _walk(shape, config)
    busy = process_cycles(counts)
    compute = max(busy.values()) + fill_drain_cycles(config, dict(shape.registers))
    return CallCycles(compute, lockstep, counts["CONV_MAC"] + counts["CONV_WINO"], busy, counts)


def params_nbytes(shape: CallShape, config: HwConfig) -> int:
    if not shape.conv:
        return 0
    return param_stream_nbytes(config, shape.ksize, shape.out_channels, list(shape.in_fold_lanes), shape.bands)


# ------------------------------------------------------------------------------ estimates ----
@dataclass(frozen=True)
class BatchEstimate:
    """One call (layer batch): all figures modelled."""

    index: int
    name: str
    layers: tuple[int, ...]
    compute_cycles: float
    stall_cycles: float
    compute_ms: float  # slowest process + fill/drain
    stall_ms: float  # lockstep stalls beyond that
    dma_busy_ms: float  # DDR time of the call's bytes (overlapped with the PL's work)
    dma_ms: float  # the part not hidden under the PL's work, plus the DMA start latency
    host_call_ms: float
    cache_ms: float
    useful_macs: int
    mac_iterations: int
    bound: str  # the process with the most busy cycles
    busy_cycles: dict[str, float]
    nbytes: dict[str, int]
    transfers: int
    mmio_accesses: int
    engine: str  # 'winograd', 'direct' or 'bypass' (CallShape.engine)
    useful_mults: int  # multiplications the call's algorithm needs (CallShape.useful_mults)
    multipliers: int  # of the MAC array (p_oc x p_ic)
    counts: dict[str, int] = field(repr=False)

    @property
    def host_ms(self) -> float:
        return self.host_call_ms + self.cache_ms

    @property
    def mac_efficiency(self) -> float:
        """Direct-convolution MACs / (MAC units x the call's PL cycles): above 1 where Winograd saves."""
        return self.useful_macs / (self.multipliers * self.pl_cycles) if self.pl_cycles else 0.0

    @property
    def multiplier_efficiency(self) -> float:
        """Multiplications the call's algorithm needs / (multipliers x the call's PL cycles)."""
        return self.useful_mults / (self.multipliers * self.pl_cycles) if self.pl_cycles else 0.0

    @property
    def pl_cycles(self) -> float:
        return self.compute_cycles + self.stall_cycles

    @property
    def latency_ms(self) -> float:
        return self.compute_ms + self.stall_ms + self.dma_ms + self.host_ms

    def to_dict(self) -> dict:
        return {"index": self.index, "name": self.name, "layers": list(self.layers),
                "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
                "compute_ms": self.compute_ms, "stall_ms": self.stall_ms, "dma_ms": self.dma_ms,
                "dma_busy_ms": self.dma_busy_ms, "host_ms": self.host_ms, "host_call_ms": self.host_call_ms,
                "cache_ms": self.cache_ms, "latency_ms": self.latency_ms, "useful_macs": self.useful_macs,
                "mac_iterations": self.mac_iterations, "bound": self.bound, "busy_cycles": dict(self.busy_cycles),
                "nbytes": dict(self.nbytes), "transfers": self.transfers, "mmio_accesses": self.mmio_accesses,
                "engine": self.engine, "useful_mults": self.useful_mults, "mac_efficiency": self.mac_efficiency,
                "multiplier_efficiency": self.multiplier_efficiency, "loop_counts": dict(self.counts)}


@dataclass(frozen=True)
class DesignEstimate:
    """A design point on a board: frame latency, its parts per batch, resources. All modelled."""

    config: HwConfig
    board: Board
    device: Device
    batches: tuple[BatchEstimate, ...]
    resources: Resources
    resources_by_block: dict[str, Resources]
    host: HostModel
    leaky_mul_impl: str

    @property
    def latency_ms(self) -> float:
        return sum(b.latency_ms for b in self.batches)

    @property
    def compute_ms(self) -> float:
        return sum(b.compute_ms for b in self.batches)

    @property
    def stall_ms(self) -> float:
        return sum(b.stall_ms for b in self.batches)

    @property
    def dma_ms(self) -> float:
        return sum(b.dma_ms for b in self.batches)

    @property
    def host_ms(self) -> float:
        return sum(b.host_ms for b in self.batches)

    @property
    def pl_cycles(self) -> float:
        """Cycles the PL works on the frame (compute + stalls)."""
        return sum(b.pl_cycles for b in self.batches)

    @property
    def useful_macs(self) -> int:
        return sum(b.useful_macs for b in self.batches)

    @property
    def useful_mults(self) -> int:
        return sum(b.useful_mults for b in self.batches)

    @property
    def mac_efficiency(self) -> float:
        """Direct-convolution MACs / (MAC units x the frame's PL cycles, stalls included): may exceed 1
        in a winograd design (fewer multiplications than MACs)."""
        return self.useful_macs / (self.config.macs * self.pl_cycles)

    @property
    def multiplier_efficiency(self) -> float:
        """Multiplications the algorithms need (Winograd's 16 per tile and channel pair for winograd
        calls, the MACs for direct ones) / (multipliers x the frame's PL cycles, stalls included)."""
        return self.useful_mults / (self.config.macs * self.pl_cycles)

    @property
    def fps(self) -> float:
        return 1e3 / self.latency_ms

    def fits(self, cap: float = 1.0) -> bool:
        return self.resources.fits(self.device, cap)

    def to_dict(self, *, per_batch: bool = True) -> dict:
        d = {
            "kind": KIND,
            "arch": "zynqyolo",
            "params": self.config.to_dict(),
            "design_name": self.config.name,
            "design_hash": self.config.content_hash,
            "device": self.device.part,
            "board": self.board.name,
            "clock_mhz": self.config.clock_mhz,
            "bits": self.config.bits,
            "latency_ms": self.latency_ms,
            "fps": self.fps,
            "compute_ms": self.compute_ms,
            "stall_ms": self.stall_ms,
            "dma_ms": self.dma_ms,
            "host_ms": self.host_ms,
            "pl_cycles": self.pl_cycles,
            "mac_units": self.config.macs,
            "useful_macs": self.useful_macs,
            "mac_efficiency": self.mac_efficiency,
            "useful_mults": self.useful_mults,
            "multiplier_efficiency": self.multiplier_efficiency,
            "conv_engine": self.config.conv_engine,
            "resources": self.resources.to_dict(),
            "resource_fractions": self.resources.fractions(self.device),
            "fits_device": self.fits(1.0),
            "resources_by_block": {k: v.to_dict() for k, v in self.resources_by_block.items()},
            "calls_per_frame": len(self.batches),
            "host": self.host.to_dict(),
            "leaky_mul_impl": self.leaky_mul_impl,
        }
        if per_batch:
            d["batches"] = [b.to_dict() for b in self.batches]
        return d


@dataclass(frozen=True)
class CallTerms:
    """What one call costs the PL and the DDR, wherever it sits in the frame (the search memoises it)."""

    cycles: CallCycles
    nbytes: dict[str, int]  # by DMA channel


def call_terms(shape: CallShape, config: HwConfig, cache: Optional[dict] = None) -> CallTerms:
    """One call's cycles and bytes on ``config``. ``cache`` (a dict the caller keeps; ``batch_estimates``
    keeps each frame's register writes and its batches in it too) memoises by (call shape, conv_engine,
    p_oc, p_ic, stage3_lanes, requant_lanes, weight_group), which several tiles share (and several p_oc: equal shapes of plans
    for different p_oc are one object, but their cycles differ); it keys on the shape object's
    identity, so the caller keeps equal shapes as one object (``explore`` does) and the dict no
    longer than the shapes."""
    key = (id(shape), config.conv_engine, config.p_oc, config.p_ic, config.stage3_lanes, config.requant_lanes,
           config.weight_group)
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        check_shape_config(shape, config)
        hit = CallTerms(call_cycles(shape, config), {Channel.FMAP_IN: shape.in_nbytes,
                                                     Channel.PARAMS: params_nbytes(shape, config),
                                                     Channel.FMAP_OUT: shape.out_nbytes})
        if cache is not None:
            cache[key] = hit
    return hit


def batch_estimates(shapes: tuple[CallShape, ...], config: HwConfig, memory: MemoryModel, host: HostModel,
                    io_nbytes: tuple[int, int], cache: Optional[dict] = None) -> tuple[BatchEstimate, ...]:
    """Every call of a frame, in order: the one place the frame's latency terms are composed.

    Per call: compute and stall cycles at the clock; the DDR time of its bytes not hidden under its
    PL work, plus the DMA start latency; its MMIO accesses (``dse.mmio``: the registers that differ
    from the previous call's, the IP holding the last call's registers from the previous frame);
    the flush of the input image (first call) and the invalidation of the YOLO outputs (the last call
    that writes the output buffer); the restart of the descriptor chains (first call)."""
    mhz_k = config.clock_mhz * 1e3
    flush_nbytes, invalidate_nbytes = io_nbytes
    last_output = max((s.index for s in shapes if s.writes_output_buffer), default=shapes[-1].index)
    frame_host_ms = mmio.FRAME_ACCESSES * host.mmio_access_us * 1e-3
    written = cache.get(("written", id(shapes))) if cache is not None else None
    if written is None:
        written = mmio.registers_written(shapes)
        if cache is not None:
            cache[("written", id(shapes))] = written
    out = []
    # the batches of this frame's terms, memoised by (call shape, its place in the frame)
    frame_key = ("batches", config.conv_engine, config.p_oc, config.p_ic, config.stage3_lanes, config.requant_lanes,
                 config.weight_group, mhz_k, io_nbytes, host, memory)
    memo = cache.setdefault(frame_key, {}) if cache is not None else None
    for n, (s, n_written) in enumerate(zip(shapes, written)):
        first, last = n == 0, s.index == last_output
        key = (id(s), first, last, n_written)
        batch = memo.get(key) if memo is not None else None
        if batch is None:
            terms = call_terms(s, config, cache)
            cc = terms.cycles
            compute_ms, stall_ms = cc.compute / mhz_k, cc.stall / mhz_k
            busy_ms = sum(terms.nbytes.values()) / memory.ddr_bytes_per_s * 1e3
            dma_ms = max(0.0, busy_ms - compute_ms - stall_ms) + DMA_START_CYCLES / mhz_k
            call_mmio = mmio.call_mmio(n_written, host.verify_registers)
            cache_bytes = (flush_nbytes if first else 0) + (invalidate_nbytes if last else 0)
            batch = BatchEstimate(
                index=s.index, name=s.name, layers=s.layers, compute_cycles=cc.compute, stall_cycles=cc.stall,
                compute_ms=compute_ms, stall_ms=stall_ms, dma_busy_ms=busy_ms, dma_ms=dma_ms,
                host_call_ms=host.mmio_ms(call_mmio) + (frame_host_ms if first else 0.0),
                cache_ms=cache_bytes * host.cache_ns_per_byte * 1e-6, useful_macs=s.useful_macs,
                mac_iterations=cc.mac_iterations, bound=cc.bound, busy_cycles=cc.busy, nbytes=terms.nbytes,
                transfers=s.n_transfers, mmio_accesses=call_mmio.accesses, engine=s.engine, useful_mults=s.useful_mults,
                multipliers=config.macs, counts=cc.counts)
            if memo is not None:
                memo[key] = batch
        out.append(batch)
    return tuple(out)


@dataclass(frozen=True)
class FrameLatency:
    """A frame's modelled latency and PL work: the sums of ``batch_estimates`` (what the search ranks by)."""

    latency_ms: float
    pl_cycles: float
    mac_iterations: int
    useful_macs: int
    useful_mults: int

    @classmethod
    def of(cls, batches: tuple[BatchEstimate, ...]) -> "FrameLatency":
        return cls(sum(b.latency_ms for b in batches), sum(b.pl_cycles for b in batches),
                   sum(b.mac_iterations for b in batches), sum(b.useful_macs for b in batches),
                   sum(b.useful_mults for b in batches))


def frame_latency(shapes: tuple[CallShape, ...], config: HwConfig, memory: MemoryModel, host: HostModel,
                  io_nbytes: tuple[int, int], cache: Optional[dict] = None) -> FrameLatency:
    return FrameLatency.of(batch_estimates(shapes, config, memory, host, io_nbytes, cache))


def estimate_shapes(shapes: tuple[CallShape, ...], config: HwConfig, board: Board, host: HostModel,
                    io_nbytes: tuple[int, int], leaky_mul_impl: str = LEAKY_MUL_IMPL) -> DesignEstimate:
    """The full estimate (per batch) of ``config`` from call shapes of a compatible plan."""
    if config.bus_bits > board.hp_port_bits:
        raise ValueError(f"the design streams {config.bus_bits}-bit words but {board.name}'s HP ports are "
                         f"{board.hp_port_bits}-bit (hls/bitstream.py refuses to build it)")
    batches = batch_estimates(shapes, config, MemoryModel.for_board(board), host, io_nbytes)
    by_block = design_resources(config, sigmoid_lut(config.bits).entries, leaky_mul_impl)
    total = Resources()
    for r in by_block.values():
        total = total + r
    return DesignEstimate(config, board, board.device, batches, total, by_block, host, leaky_mul_impl)


def estimate(config: HwConfig, network: Network, board: Board, *, plan: Optional[Plan] = None,
             host: Optional[HostModel] = None, leaky_mul_impl: str = LEAKY_MUL_IMPL) -> DesignEstimate:
    """Modelled frame latency and resources of one design point on one board.

    ``plan`` defaults to the plan of ``network`` on ``config`` with stand-in formats; pass the real
    plan (of a quantised model) to model exactly what a frame would run.
    """
    if plan is None:
        plan = plan_for(network, config)
    shapes = plan_shapes(plan, network)
    host = host or HostModel.for_board(board)
    io = (plan.buffer_nbytes["input"], plan.buffer_nbytes["output"])
    return estimate_shapes(shapes, config, board, host, io, leaky_mul_impl)
