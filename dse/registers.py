"""The AXI-Lite registers of one hardware call: validation and the stream lengths they imply.

``check_registers`` refuses, with a ValueError naming the field, every register set the kernels
do not define (a value outside its field width, a shape beyond the design's maxima, a tile
overflow, inconsistent fold counts). On hardware such a call would hang or corrupt memory; in
the C simulation it would read past a buffer, so the csim bridge never sees one.

The ``winograd`` register (1: the call runs the Winograd F(2x2,3x3) path, ``winograd_call``; 2,
WINO_PAIRED: with paired positions, ``pairs_positions``) is accepted only for a 3x3 conv call at least
WINO_MIN_WIDTH wide in a winograd design, with even band_rows when it pools 2x2/2 over several
bands; WINO_PAIRED only in a "winograd-paired" design for a call of one tensor of at most p_ic / 2
channels.

``call_words`` gives the lengths of the three streams of a valid call, in uint64 words (a
128-bit bus word is two of them): what the DMA must send and what the kernel sends back.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .hwconfig import MAX_KSIZE, SIGNED_REGISTERS, WINO_MIN_WIDTH, HwConfig


class Stage3Mode(enum.IntEnum):
    """The ``stage3`` register: what stage 3 does to a call's output (emitted into the generated header
    as ``zy::STAGE3_<NAME>``)."""

    BYPASS = 0
    MAXPOOL = 1
    UPSAMPLE = 2
    YOLO = 3


# ap_ctrl, the block-level control register of the top (UG1399 "Block-Level Control Protocols",
# ap_ctrl_hs at offset 0x00 of s_axi_control).
AP_CTRL = 0x00
AP_START = 1 << 0
AP_DONE = 1 << 1
AP_IDLE = 1 << 2
AP_READY = 1 << 3


def stage3_shape(stage3: int, pool_stride: int, height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of a call's output: darknet 2x2 max-pool (``(h - 1) // stride + 1``), x2
    upsample, or unchanged."""
    if stage3 == Stage3Mode.MAXPOOL:
        return (height - 1) // pool_stride + 1, (width - 1) // pool_stride + 1
    if stage3 == Stage3Mode.UPSAMPLE:
        return 2 * height, 2 * width
    return height, width


def winograd_call(cfg: HwConfig, conv_enable: int, ksize: int, width: int) -> bool:
    """Whether a call runs on the Winograd path (its ``winograd`` register): a 3x3 convolution at least
    ``cfg.wino_min_width`` (WINO_MIN_WIDTH, or WINO_4X2_MIN_WIDTH for F(4x2)) wide in a winograd
    design. Every other call of such a design (1x1, narrow 3x3,
    conv-bypassed) and every call of a direct design runs the direct path."""
    return bool(cfg.winograd_engine and conv_enable and ksize == 3 and width >= cfg.wino_min_width)


WINO_PAIRED = 2  # the ``winograd`` register of a call with paired positions (zy_winograd.h WINO_PAIRED)


def pairs_positions(cfg: HwConfig, in_channels_a: int, in_channels_b: int) -> bool:
    """Whether a Winograd call of a "winograd-paired" design pairs positions: its one input tensor has
    at most p_ic / 2 channels, so the MAC rows' high lanes can compute a second position."""
    return cfg.wino_pair and not in_channels_b and in_channels_a <= cfg.p_ic // 2


def encode_register(cfg: HwConfig, name: str, value: int) -> int:
    """The bit pattern of ``value`` in register field ``name`` (two's complement in the field's
    width for ``SIGNED_REGISTERS``): what is written over AXI-Lite and what the IP reads back.
    The one place a register value becomes bits (the driver's register blocks, on the emulated IP
    and on PYNQ, all go through it); a value the field cannot hold is a ValueError."""
    width = cfg.register_fields()[name]
    lo, hi = cfg.register_range(name)
    if isinstance(value, bool) or not hasattr(value, "__index__") or not lo <= int(value) <= hi:
        raise ValueError(f"register {name}={value!r} does not fit its {width}-bit field ({lo}..{hi})")
    return int(value) & ((1 << width) - 1)


def decode_register(cfg: HwConfig, name: str, word: int) -> int:
    """The value a register field holds, from the 32-bit word read back (bits above the field's
    width are ignored, as the HLS control interface returns them as 0): ``encode_register``'s inverse."""
    width = cfg.register_fields()[name]
    bits = int(word) & ((1 << width) - 1)
    if name in SIGNED_REGISTERS and bits >> (width - 1):
        return bits - (1 << width)
    return bits


def check_registers(cfg: HwConfig, registers: dict[str, int]) -> dict[str, int]:
    """Validate one call's registers against ``cfg``; return them as plain ints in field order."""
    fields = cfg.register_fields()
    unknown = sorted(set(registers) - set(fields))
    if unknown:
        raise ValueError(f"registers: unknown field(s) {unknown}; fields are {list(fields)}")
    missing = [n for n in fields if n not in registers]
    if missing:
        raise ValueError(f"registers: missing field(s) {missing}")
    regs: dict[str, int] = {}
    for name in fields:
        value = registers[name]
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise ValueError(f"register {name}={value!r} must be an integer")
        value = int(value.__index__())
        lo, hi = cfg.register_range(name)
        if not lo <= value <= hi:
            raise ValueError(f"register {name}={value} does not fit its {fields[name]}-bit field ({lo}..{hi})")
        regs[name] = value

    def bad(name: str, why: str):
        raise ValueError(f"register {name}={regs[name]}: {why}")

    if regs["ksize"] not in (1, MAX_KSIZE):
        bad("ksize", "must be 1 or 3")
    if regs["stage3"] not in set(Stage3Mode):
        bad("stage3", "must be one of " + ", ".join(f"{m.value} ({m.name.lower()})" for m in Stage3Mode))
    if regs["pool_stride"] not in (1, 2):
        bad("pool_stride", "must be 1 or 2")
    if not 1 <= regs["height"] <= cfg.max_height:
        bad("height", f"must be in 1..{cfg.max_height}")
    if not 1 <= regs["width"] <= cfg.max_width:
        bad("width", f"must be in 1..{cfg.max_width}")
    if not 1 <= regs["in_channels_a"] <= cfg.max_in_channels:
        bad("in_channels_a", f"must be in 1..{cfg.max_in_channels}")
    if regs["in_channels_a"] + regs["in_channels_b"] > cfg.max_in_channels:
        bad("in_channels_b", f"in_channels_a + in_channels_b must not exceed {cfg.max_in_channels}")
    if not 1 <= regs["out_channels"] <= cfg.max_out_channels:
        bad("out_channels", f"must be in 1..{cfg.max_out_channels}")
    if regs["out_folds"] != cfg.folds(regs["out_channels"]):
        bad("out_folds", f"must be ceil(out_channels / p_oc) = {cfg.folds(regs['out_channels'])}")
    if regs["stage3"] == Stage3Mode.YOLO and regs["yolo_period"] < 1:
        bad("yolo_period", "must be positive for a YOLO call")
    if regs["conv_enable"]:
        bands, rows, h = regs["bands"], regs["band_rows"], regs["height"]
        if bands < 1:
            bad("bands", "must be positive")
        if rows < 1:
            bad("band_rows", "must be positive")
        if (bands - 1) * rows >= h or bands * rows < h:
            bad("bands", f"bands x band_rows = {bands} x {rows} must cover height={h} with a non-empty last band")
        in_folds = cfg.folds(regs["in_channels_a"]) + (cfg.folds(regs["in_channels_b"]) if regs["in_channels_b"] else 0)
        if in_folds > 1 and rows * regs["width"] > cfg.tile_pixels:
            bad("band_rows", f"band_rows x width = {rows * regs['width']} exceeds tile_pixels={cfg.tile_pixels} "
                             f"with {in_folds} input folds")
    else:
        if regs["in_channels_b"]:
            bad("in_channels_b", "a bypass call (conv_enable=0) reads one tensor: must be 0")
        if regs["out_channels"] != regs["in_channels_a"]:
            bad("out_channels", f"a bypass call keeps its channels: must equal in_channels_a={regs['in_channels_a']}")
    if regs["winograd"] not in (0, 1, WINO_PAIRED):
        bad("winograd", f"0 (direct path), 1 (Winograd) or {WINO_PAIRED} (Winograd, paired positions) expected")
    if regs["winograd"]:
        if not cfg.winograd_engine:
            bad("winograd", f"design {cfg.name} has conv_engine={cfg.conv_engine!r}: no Winograd path")
        if not regs["conv_enable"]:
            bad("winograd", "the Winograd path convolves: needs conv_enable=1")
        if regs["ksize"] != 3:
            bad("winograd", f"the Winograd path is a 3x3 filter's: needs ksize=3, not {regs['ksize']}")
        if regs["winograd"] == WINO_PAIRED and not pairs_positions(cfg, regs["in_channels_a"], regs["in_channels_b"]):
            bad("winograd", f"paired positions need a winograd-paired design and one input tensor of at most "
                            f"p_ic / 2 = {cfg.p_ic // 2} channels (design {cfg.conv_engine}, "
                            f"in_channels {regs['in_channels_a']} + {regs['in_channels_b']})")
        if regs["width"] < cfg.wino_min_width:
            name = "WINO_MIN_WIDTH" if cfg.wino_min_width == WINO_MIN_WIDTH else "WINO_4X2_MIN_WIDTH"
            bad("winograd", f"needs width >= {name}={cfg.wino_min_width} (width={regs['width']})")
        if regs["stage3"] == Stage3Mode.MAXPOOL and regs["pool_stride"] == 2 and regs["bands"] > 1 \
                and regs["band_rows"] % 2:
            bad("band_rows", "a Winograd call pooling 2x2/2 over several bands needs even band_rows "
                             "(each band a whole number of 2-row tiles)")
    group = regs["out_group"]
    if group < 1:
        bad("out_group", "must be at least 1")
    if group > 1:
        if not regs["conv_enable"] or regs["ksize"] != 1:
            bad("out_group", "only a 1x1 conv call reuses an input fold over several out folds: must be 1")
        if regs["bands"] != 1:
            bad("out_group", f"needs a single band (bands={regs['bands']}): must be 1")
        if group > regs["out_folds"]:
            bad("out_group", f"must not exceed out_folds={regs['out_folds']}")
        pixels = regs["height"] * regs["width"]
        if pixels > cfg.line_rows * cfg.max_width:
            bad("out_group", f"the {pixels}-pixel map does not fit stage 1's store of line_rows x max_width = "
                             f"{cfg.line_rows * cfg.max_width} pixels: must be 1")
        in_folds = cfg.folds(regs["in_channels_a"]) + (cfg.folds(regs["in_channels_b"]) if regs["in_channels_b"] else 0)
        if in_folds > 1 and group * pixels > cfg.tile_pixels:
            bad("out_group", f"{group} out folds x {pixels} pixels exceed tile_pixels={cfg.tile_pixels}")
    return regs


def out_group(cfg: HwConfig, conv_enable: int, ksize: int, height: int, width: int, in_folds: int, out_folds: int,
              bands: int) -> int:
    """The plan's ``out_group`` of a call: the most out folds one streamed input fold can serve (a 1x1
    call of one band whose map fits stage 1's store and, with several input folds, whose out folds'
    partial sums fit the tile together); 1 for every other call."""
    pixels = height * width
    if not conv_enable or ksize != 1 or bands != 1 or pixels > cfg.line_rows * cfg.max_width:
        return 1
    fit = cfg.tile_pixels // pixels if in_folds > 1 else out_folds
    return max(1, min(out_folds, fit))


@dataclass(frozen=True)
class CallWords:
    """uint64-word lengths of a call's streams."""

    in_words: int
    wts_words: int
    out_words: int


def call_words(cfg: HwConfig, registers: dict[str, int]) -> CallWords:
    """Stream lengths of a valid call (``check_registers`` first)."""
    r = check_registers(cfg, registers)
    h, w = r["height"], r["width"]
    per_word = 64 // cfg.bits
    segs = [c for c in (r["in_channels_a"], r["in_channels_b"]) if c]
    in_lanes = [n for c in segs for n in cfg.fold_lanes(c)]
    if r["conv_enable"]:
        k = r["ksize"]
        pad = k // 2
        rows_read = 0
        for b in range(r["bands"]):
            r0 = b * r["band_rows"]
            r1 = min(h, r0 + r["band_rows"])
            rows_read += min(h, r1 + pad) - max(0, r0 - pad)
        groups = math.ceil(r["out_folds"] / r["out_group"])  # each group streams its input once
        in_words = groups * rows_read * w * sum(in_lanes) // per_word
        weights = sum(k * k * math.ceil(n / cfg.p_ic) * cfg.p_oc * cfg.p_ic for n in in_lanes)
        wts_words = r["out_folds"] * cfg.p_oc + r["out_folds"] * r["bands"] * weights // per_word
    else:
        in_words = cfg.padded(r["in_channels_a"]) * h * w // per_word
        wts_words = 0
    oh, ow = stage3_shape(r["stage3"], r["pool_stride"], h, w)
    out_words = cfg.padded(r["out_channels"]) * oh * ow // per_word
    return CallWords(in_words, wts_words, out_words)
