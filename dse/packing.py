"""The accelerator's data layout as pure numpy functions: feature maps and parameter streams.

The driver, the emulated board and the tests all use these; nothing here does I/O.

Words
-----
Arrays of ``uint64``: for a 64-bit bus one array element is one bus word; for a 128-bit bus a
bus word is two consecutive elements, low half first. Lane ``j`` of a word sits in bits
``[j*bits, (j+1)*bits)``, two's complement, lane 0 lowest (so the lanes of a stream are simply
its codes in order, packed little-endian).

Feature maps (DDR and the ``in``/``out`` streams)
------------------------------------------------
Fold-major ``[fold][row][col][lanes]``. A tensor of ``C`` channels has ``ceil(C / p_oc)`` folds;
fold ``f`` has ``HwConfig.fold_lanes(C)[f]`` lanes (``p_oc``, the last fold rounded up to whole bus
words); lane ``l`` of fold ``f`` is channel ``f * p_oc + l``; padding lanes are 0. A route input
is its segments' tensors back to back, each folded on its own (``in_fold_channels``).

Parameter stream (``wts``) of a conv call
----------------------------------------
1. Preamble: ``out_folds * p_oc`` 64-bit entries, one per MAC row of each output fold (rows past
   the real output channels are 0): bits ``[0, 48)`` the bias aligned to the channel's
   accumulator frac (``fixed.align_bias``), bits ``[48, 54)`` the requantisation shift
   ``acc_frac - out_frac``; ``bus_bits / 64`` entries per bus word, entry 0 lowest.
2. Weight blocks in the order (out fold ``o``, band ``b``, input fold ``f``): for tap
   ``t = ky * k + kx``, sub-fold ``s < ceil(L_f / p_ic)``, row ``oc < p_oc``, column ``ic < p_ic``:
   the weight code of output channel ``o * p_oc + oc`` and of the network input channel held by
   lane ``s * p_ic + ic`` of input fold ``f`` (0 for padding lanes and padding rows). The blocks
   of one out fold are sent again for every band.
3. Winograd order (a call whose ``winograd`` register is 1; the design note of
   hls/include/zy_winograd.h): the same bus words as 2., permuted inside each block. A (t, s) slice of ``p_oc * p_ic`` entries (entry
   ``e = oc * p_ic + ic``) is ``WPS = p_oc * p_ic / lanes_per_word`` bus words, word ``j`` holding
   entries ``j * lpw .. j * lpw + lpw - 1``. The winograd block sends, for each sub-fold ``s``
   (outer), each word position ``j``, the 9 tap words ``t = 0..8`` of position ``j`` of slice
   ``(t, s)``: bus word ``(s * WPS + j) * 9 + t`` is direct bus word ``(t * S + s) * WPS + j``, so
   the PL's filter transform sees the 3x3 taps of ``lpw`` (oc, ic) pairs together. Same length.

The conv ``in`` stream is slices of the packed input tensor: for ``o``, ``b``, ``f`` the rows
``[r0 - pad, r1 + pad)`` of fold ``f`` clipped to the image (``conv_input_slices``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .hwconfig import HwConfig
from .registers import WINO_PAIRED, pairs_positions

WORD_BYTES = 8  # packed streams are uint64 words (a 128-bit bus word is two of them)
PARAM_ENTRY_BYTES = 8  # one 64-bit preamble entry (bias, shift) per MAC row of each output fold

ENTRY_BITS = 64
BIAS_BITS = 48
SHIFT_BITS = 6
MAX_SHIFT = (1 << SHIFT_BITS) - 1


# ----------------------------------------------------------------------------------------------
# lanes <-> uint64 words
# ----------------------------------------------------------------------------------------------


def _lanes_per_u64(bits: int) -> int:
    return 64 // bits


def pack_lanes(lanes, bits: int) -> np.ndarray:
    """Integer codes (any shape, read in C order) -> uint64 words, ``64 // bits`` lanes each.

    Codes may be signed (``-2**(bits-1) <= q``) or unsigned (``q < 2**bits``); only their low
    ``bits`` bits are stored."""
    flat = np.asarray(lanes)
    if flat.dtype.kind not in "iub":
        raise ValueError(f"lanes: integer codes expected, got {flat.dtype}")
    flat = flat.astype(np.int64, copy=False).reshape(-1)
    per = _lanes_per_u64(bits)
    if flat.size % per:
        raise ValueError(f"lanes: {flat.size} lanes is not a whole number of {per}-lane words")
    if flat.size and (flat.min() < -(1 << (bits - 1)) or flat.max() >= (1 << bits)):
        raise ValueError(f"lanes: codes outside {bits} bits (range {flat.min()}..{flat.max()})")
    u = (flat.astype(np.uint64) & np.uint64((1 << bits) - 1)).reshape(-1, per)
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(bits))
    return np.bitwise_or.reduce(u << shifts, axis=1).astype(np.uint64)


def unpack_lanes(words, bits: int, signed: bool = True) -> np.ndarray:
    """uint64 words -> int64 codes, ``64 // bits`` per word, lane 0 first."""
    w = np.asarray(words)
    if w.dtype != np.uint64:
        raise ValueError(f"words: uint64 array expected, got {w.dtype}")
    per = _lanes_per_u64(bits)
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(bits))
    u = ((w.reshape(-1, 1) >> shifts) & np.uint64((1 << bits) - 1)).astype(np.int64).reshape(-1)
    if signed:
        u = np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)
    return u


# ----------------------------------------------------------------------------------------------
# feature maps
# ----------------------------------------------------------------------------------------------


def fmap_words(channels: int, height: int, width: int, cfg: HwConfig) -> int:
    """uint64 words of a packed (channels, height, width) tensor."""
    return cfg.padded(channels) * height * width * cfg.bits // 64


def fold_offsets(channels: int, height: int, width: int, cfg: HwConfig) -> list[int]:
    """uint64 word offset of each fold inside a packed tensor (plus the total at the end)."""
    offsets = [0]
    for lanes in cfg.fold_lanes(channels):
        offsets.append(offsets[-1] + lanes * height * width * cfg.bits // 64)
    return offsets


def _check_codes(codes, name: str) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.ndim != 3:
        raise ValueError(f"{name}: (C, H, W) codes expected, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: integer codes expected, got {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def pack_fmap(codes, cfg: HwConfig) -> np.ndarray:
    """(C, H, W) integer codes -> uint64 words, fold-major (module docstring)."""
    x = _check_codes(codes, "codes")
    c, h, w = x.shape
    if c < 1 or h < 1 or w < 1:
        raise ValueError(f"codes: empty tensor of shape {x.shape}")
    lo, hi = -(1 << (cfg.bits - 1)), (1 << cfg.bits) - 1
    if x.min() < lo or x.max() > hi:
        raise ValueError(f"codes: values {x.min()}..{x.max()} do not fit {cfg.bits}-bit lanes")
    padded = np.zeros((cfg.padded(c), h, w), dtype=np.int64)
    padded[:c] = x
    parts = []
    start = 0
    for lanes in cfg.fold_lanes(c):
        parts.append(padded[start:start + lanes].transpose(1, 2, 0).reshape(-1))
        start += lanes
    return pack_lanes(np.concatenate(parts), cfg.bits)


def unpack_fmap(words, channels: int, height: int, width: int, cfg: HwConfig, signed: bool = True) -> np.ndarray:
    """uint64 words of a packed tensor -> int64 (channels, height, width) codes."""
    for name, v in (("channels", channels), ("height", height), ("width", width)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    w = np.asarray(words)
    expected = fmap_words(channels, height, width, cfg)
    if w.ndim != 1 or w.size != expected:
        raise ValueError(f"words: {w.size} words for a {channels}x{height}x{width} tensor, expected {expected}")
    lanes = unpack_lanes(w, cfg.bits, signed)
    out = np.empty((cfg.padded(channels), height, width), dtype=np.int64)
    start = 0
    pos = 0
    for n in cfg.fold_lanes(channels):
        size = n * height * width
        out[start:start + n] = lanes[pos:pos + size].reshape(height, width, n).transpose(2, 0, 1)
        start += n
        pos += size
    return out[:channels]


def _check_segments(segments, cfg: HwConfig) -> tuple[int, ...]:
    segs = tuple(segments)
    if not segs or any(not isinstance(s, (int, np.integer)) or s < 1 for s in segs):
        raise ValueError(f"segments={segments!r}: a tuple of positive channel counts expected")
    return tuple(int(s) for s in segs)


def in_fold_channels(segments: Sequence[int], cfg: HwConfig) -> list[list[int | None]]:
    """Per input fold of a (route) input, the network channel of every lane (None: padding).

    Each segment is folded on its own; the folds of the segments follow each other."""
    segs = _check_segments(segments, cfg)
    folds: list[list[int | None]] = []
    base = 0
    for seg in segs:
        for f, lanes in enumerate(cfg.fold_lanes(seg)):
            folds.append([base + f * cfg.p_oc + lane if f * cfg.p_oc + lane < seg else None
                          for lane in range(lanes)])
        base += seg
    return folds


def conv_blocks(out_folds: int, bands: int, in_folds: int, out_group: int = 1):
    """The blocks of a conv call in the kernels' order (zy_common.h block_walker): groups of
    ``out_group`` out folds, in a group for band b, input fold f, out fold o of the group. Yields
    (o, b, f, streamed): ``streamed`` for the group's first out fold, whose block streams the input
    rows the group's other out folds reuse. ``out_group`` 1 gives (o, b, f), every block streamed."""
    for name, v in (("out_folds", out_folds), ("bands", bands), ("in_folds", in_folds), ("out_group", out_group)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    for o0 in range(0, out_folds, out_group):
        n = min(out_group, out_folds - o0)
        for b in range(bands):
            for f in range(in_folds):
                for oi in range(n):
                    yield o0 + oi, b, f, oi == 0


def store_double_buffered(cfg: HwConfig, out_group: int, height: int, width: int) -> bool:
    """Whether stage 1's store double-buffers a 1x1 out-group's folds (zy_common.h block_walker
    ``dbl``): an out_group above 1 and a map that fits half the store (line_rows x max_width pixels)."""
    return out_group > 1 and height * width <= cfg.line_rows * cfg.max_width // 2


def conv_block_reads(out_folds: int, bands: int, in_folds: int, out_group: int, pixels: int, double: bool):
    """Who reads which input pixels from the stream, block by block (``conv_blocks`` order; the
    kernels' block_walker and CONV_MAC): yields (o, b, f, own, prefetch, every, next_fold). ``own``:
    the block streams its own fold (a group's first out fold, unless the previous sequence prefetched
    it); ``prefetch``: pixels of the next sequence's fold (input fold ``next_fold``) the block streams
    into the store's other half while it computes, one every ``every`` output pixels (``double``
    only: blocks 1 .. n - 1 of every sequence but the last, the fold spread over them)."""
    blocks = list(conv_blocks(out_folds, bands, in_folds, out_group))
    seq_start = [i for i, (_o, _b, _f, first) in enumerate(blocks) if first] + [len(blocks)]
    pre = False
    for i0, i1 in zip(seq_start, seq_start[1:]):
        n = i1 - i0
        next_fold = blocks[i1][2] if i1 < len(blocks) else None
        for oi in range(n):
            o, b, f, _first = blocks[i0 + oi]
            pf = every = 0
            if double and oi > 0 and next_fold is not None:
                every = n - 1  # reads at ticks 0, n - 1, 2 (n - 1) .. of the sequence's (n - 1) pixels
                pf = -(-(oi * pixels) // every) - (-(-((oi - 1) * pixels) // every))
            yield o, b, f, oi == 0 and not pre, pf, every, next_fold if pf else None
        pre = double and n > 1


def conv_input_slices(segments: Sequence[int], height: int, width: int, ksize: int, out_folds: int, bands: int,
                      band_rows: int, cfg: HwConfig, out_group: int = 1) -> list[tuple[int, int]]:
    """(offset, count) uint64-word slices of the packed input (segments back to back) that make
    up a conv call's ``in`` stream, in stream order: the streamed blocks of ``conv_blocks``."""
    segs = _check_segments(segments, cfg)
    if ksize not in (1, 3):
        raise ValueError(f"ksize={ksize!r} must be 1 or 3")
    for name, v in (("height", height), ("width", width), ("out_folds", out_folds), ("bands", bands),
                    ("band_rows", band_rows)):
        if v < 1:
            raise ValueError(f"{name}={v!r} must be positive")
    if (bands - 1) * band_rows >= height or bands * band_rows < height:
        raise ValueError(f"bands={bands} x band_rows={band_rows} does not cover height={height}")
    fold_starts: list[tuple[int, int]] = []  # (word offset of the fold, words per pixel row-pixel)
    base = 0
    for seg in segs:
        offs = fold_offsets(seg, height, width, cfg)
        for f, lanes in enumerate(cfg.fold_lanes(seg)):
            fold_starts.append((base + offs[f], lanes * cfg.bits // 64))
        base += offs[-1]
    pad = ksize // 2
    slices = []
    for _o, b, f, streamed in conv_blocks(out_folds, bands, len(fold_starts), out_group):
        if streamed:
            start, per_pixel = fold_starts[f]
            r0 = b * band_rows
            r1 = min(height, r0 + band_rows)
            a0, a1 = max(0, r0 - pad), min(height, r1 + pad)
            slices.append((start + a0 * width * per_pixel, (a1 - a0) * width * per_pixel))
    return slices


def gather_words(words, slices: Sequence[tuple[int, int]]) -> np.ndarray:
    """Concatenate ``words[offset:offset+count]`` for every slice (what a DMA descriptor list sends)."""
    w = np.asarray(words, dtype=np.uint64)
    for off, n in slices:
        if off < 0 or n < 0 or off + n > w.size:
            raise ValueError(f"slice ({off}, {n}) is outside the {w.size}-word buffer")
    if not slices:
        return np.zeros(0, dtype=np.uint64)
    return np.concatenate([w[off:off + n] for off, n in slices])


# ----------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------


def param_stream_nbytes(config: HwConfig, ksize: int, out_channels: int, in_fold_lanes: Sequence[int],
                        bands: int) -> int:
    """Bytes of one conv call's parameter stream: the preamble (one 64-bit entry per MAC row of each
    output fold, padded to whole bus words) and the weight blocks, resent for every band."""
    out_folds = config.folds(out_channels)
    word = config.bus_bits // 8
    preamble = math.ceil(out_folds * config.p_oc * PARAM_ENTRY_BYTES / word) * word
    per_block = [ksize * ksize * math.ceil(lanes / config.p_ic) * config.p_oc * config.p_ic for lanes in in_fold_lanes]
    return preamble + out_folds * bands * sum(per_block) * config.bits // 8


def param_words(out_channels: int, segments: Sequence[int], ksize: int, bands: int, cfg: HwConfig) -> int:
    """uint64 words of a conv call's parameter stream."""
    segs = _check_segments(segments, cfg)
    lanes = [n for seg in segs for n in cfg.fold_lanes(seg)]
    return param_stream_nbytes(cfg, ksize, out_channels, lanes, bands) // WORD_BYTES


def _block_channel_index(segments: tuple[int, ...], cfg: HwConfig) -> list[np.ndarray]:
    """Per input fold, the network channel of each of the S_f * p_ic MAC lanes (-1: zero)."""
    out = []
    for lanes in in_fold_channels(segments, cfg):
        s_f = math.ceil(len(lanes) / cfg.p_ic)
        idx = np.full(s_f * cfg.p_ic, -1, dtype=np.int64)
        for i, ch in enumerate(lanes):
            if ch is not None:
                idx[i] = ch
        out.append(idx)
    return out


def _winograd_order(cfg: HwConfig, ksize: int, winograd: int | bool | None, segments: tuple[int, ...]) -> int:
    """How a call's weight blocks are ordered: its ``winograd`` register (0 direct order, 1 the winograd
    order, WINO_PAIRED the winograd order with the high lanes' filters, ``_pair_lanes``). ``None`` (not
    given) is accepted only where the answer cannot be 1: a direct design, or a 1x1 call."""
    if winograd is None:
        if cfg.winograd_engine and ksize == 3:
            raise ValueError(f"winograd: design {cfg.name} has the Winograd path; a 3x3 call's parameter stream "
                             "depends on its 'winograd' register: pass winograd=registers['winograd']")
        return 0
    if not isinstance(winograd, (bool, np.bool_)) and winograd not in (0, 1, WINO_PAIRED):
        raise ValueError(f"winograd={winograd!r}: the call's 'winograd' register (0, 1 or {WINO_PAIRED}) expected")
    if winograd and (ksize != 3 or not cfg.winograd_engine):
        raise ValueError(f"winograd={winograd!r}: the winograd order needs a 3x3 call (ksize={ksize}) in a "
                         f"winograd design (conv_engine={cfg.conv_engine!r})")
    if winograd == WINO_PAIRED and not pairs_positions(cfg, segments[0], segments[1] if len(segments) > 1 else 0):
        raise ValueError(f"winograd={winograd}: paired positions need a winograd-paired design and one input of at "
                         f"most p_ic / 2 = {cfg.p_ic // 2} channels (conv_engine={cfg.conv_engine!r}, "
                         f"segments {segments})")
    return int(winograd)


def _pair_lanes(blk: np.ndarray, cfg: HwConfig) -> np.ndarray:
    """A paired call's block (oc, s, ic, t) with the high lanes ic >= p_ic / 2 holding the low lanes'
    filters rotated by 180 degrees (tap t -> 8 - t): their U is the low lanes' U with rows 0 and 3 and
    columns 0 and 3 swapped, the second position of each step (zy_winograd.h, "Paired positions")."""
    h = cfg.p_ic // 2
    if np.any(blk[:, :, h:]):
        raise AssertionError("a paired call's high lanes hold no channel of their own")
    out = blk.copy()
    out[:, :, h:] = blk[:, :, :h, ::-1]
    return out


def _block_order(lanes: np.ndarray, s_f: int, cfg: HwConfig, winograd: bool) -> np.ndarray:
    """One weight block's lanes, given in the direct order (t, s, oc, ic) of a 3x3 call, in the stream
    order: unchanged for a direct call, the winograd order (s, j, t) of bus words otherwise."""
    if not winograd:
        return lanes
    lpw = cfg.lanes_per_word
    wps = cfg.p_oc * cfg.p_ic // lpw
    return lanes.reshape(9, s_f, wps, lpw).transpose(1, 2, 0, 3).reshape(-1)


def _block_order_inverse(lanes: np.ndarray, s_f: int, cfg: HwConfig, winograd: bool) -> np.ndarray:
    """``_block_order``'s inverse: a block's stream lanes back in the direct order (t, s, oc, ic)."""
    if not winograd:
        return lanes
    lpw = cfg.lanes_per_word
    wps = cfg.p_oc * cfg.p_ic // lpw
    return lanes.reshape(s_f, wps, 9, lpw).transpose(2, 0, 1, 3).reshape(-1)


def pack_params(weights, bias_entries, shifts, segments: Sequence[int], bands: int, cfg: HwConfig, *,
                winograd: bool | None = None, out_group: int = 1) -> np.ndarray:
    """A conv call's parameter stream (module docstring) as uint64 words.

    weights: (F, C, k, k) weight codes, C = sum(segments); bias_entries: (F,) biases aligned to each
    channel's accumulator frac (48-bit two's complement); shifts: (F,) requantisation shifts;
    winograd: the call's ``winograd`` register (the weight blocks' order); it may be left out only
    in a direct design or for a 1x1 call, where it is 0."""
    w = np.asarray(weights)
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] not in (1, 3):
        raise ValueError(f"weights: (F, C, k, k) with k 1 or 3 expected, got shape {w.shape}")
    if w.dtype.kind not in "iu":
        raise ValueError(f"weights: integer codes expected, got {w.dtype}")
    segs = _check_segments(segments, cfg)
    n_out, n_in, k, _ = w.shape
    if n_in != sum(segs):
        raise ValueError(f"weights: {n_in} input channels, but segments {segs} hold {sum(segs)}")
    w = w.astype(np.int64)
    if w.size and (w.min() < -(1 << (cfg.bits - 1)) or w.max() >= (1 << (cfg.bits - 1))):
        raise ValueError(f"weights: codes {w.min()}..{w.max()} do not fit {cfg.bits} bits signed")
    bias = np.asarray(bias_entries)
    sh = np.asarray(shifts)
    if bias.shape != (n_out,) or bias.dtype.kind not in "iu":
        raise ValueError(f"bias_entries: ({n_out},) integers expected, got {bias.dtype} {bias.shape}")
    if sh.shape != (n_out,) or sh.dtype.kind not in "iu":
        raise ValueError(f"shifts: ({n_out},) integers expected, got {sh.dtype} {sh.shape}")
    bias = bias.astype(np.int64)
    sh = sh.astype(np.int64)
    if bias.size and (bias.min() < -(1 << (BIAS_BITS - 1)) or bias.max() >= (1 << (BIAS_BITS - 1))):
        raise ValueError(f"bias_entries: values do not fit {BIAS_BITS} bits signed")
    if sh.size and (sh.min() < 0 or sh.max() > MAX_SHIFT):
        raise ValueError(f"shifts: values {sh.min()}..{sh.max()} outside 0..{MAX_SHIFT}")
    if not isinstance(bands, (int, np.integer)) or bands < 1:
        raise ValueError(f"bands={bands!r} must be a positive integer")
    wino = _winograd_order(cfg, k, winograd, segs)

    out_folds = cfg.folds(n_out)
    rows = out_folds * cfg.p_oc
    entries = np.zeros(rows, dtype=np.uint64)
    entries[:n_out] = ((bias.astype(np.uint64) & np.uint64((1 << BIAS_BITS) - 1))
                       | (sh.astype(np.uint64) << np.uint64(BIAS_BITS)))

    # Weights with a zero row block past the real outputs and a zero channel at index n_in.
    wext = np.zeros((rows, n_in + 1, k * k), dtype=np.int64)
    wext[:n_out, :n_in] = w.reshape(n_out, n_in, k * k)
    chan = [np.where(idx < 0, n_in, idx) for idx in _block_channel_index(segs, cfg)]
    blocks = []  # [o][f]: the lanes of block (o, f), whatever the band
    for o in range(out_folds):
        rows_o = wext[o * cfg.p_oc:(o + 1) * cfg.p_oc]  # (p_oc, n_in + 1, kk)
        blocks.append([])
        for idx in chan:
            s_f = idx.size // cfg.p_ic
            blk = rows_o[:, idx, :].reshape(cfg.p_oc, s_f, cfg.p_ic, k * k)  # oc, s, ic, t
            if wino == WINO_PAIRED:
                blk = _pair_lanes(blk, cfg)
            blocks[o].append(_block_order(blk.transpose(3, 1, 0, 2).reshape(-1), s_f, cfg, wino))  # t, s, oc, ic
    lanes = np.concatenate([blocks[o][f] for o, _b, f, _s in conv_blocks(out_folds, bands, len(chan), out_group)])
    return np.concatenate([entries, pack_lanes(lanes, cfg.bits)])


def unpack_params(words, out_channels: int, segments: Sequence[int], ksize: int, bands: int,
                  cfg: HwConfig, *, winograd: bool | None = None,
                  out_group: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of ``pack_params`` (``winograd`` and ``out_group`` as there): (weights (F, C, k, k),
    bias_entries (F,), shifts (F,)), int64.

    Refuses a stream whose bands disagree or whose padding rows, lanes or bits are not zero."""
    segs = _check_segments(segments, cfg)
    wino = _winograd_order(cfg, ksize, winograd, segs)
    w = np.asarray(words)
    expected = param_words(out_channels, segs, ksize, bands, cfg)
    if w.dtype != np.uint64 or w.ndim != 1 or w.size != expected:
        raise ValueError(f"words: {w.size} uint64 words, expected {expected} for this call")
    out_folds = cfg.folds(out_channels)
    rows = out_folds * cfg.p_oc
    entries = w[:rows]
    if np.any(entries >> np.uint64(BIAS_BITS + SHIFT_BITS)):
        raise ValueError("preamble: bits above the shift field are not zero")
    raw_bias = (entries & np.uint64((1 << BIAS_BITS) - 1)).astype(np.int64)
    bias = np.where(raw_bias >= (1 << (BIAS_BITS - 1)), raw_bias - (1 << BIAS_BITS), raw_bias)
    shifts = ((entries >> np.uint64(BIAS_BITS)) & np.uint64(MAX_SHIFT)).astype(np.int64)
    if np.any(bias[out_channels:]) or np.any(shifts[out_channels:]):
        raise ValueError("preamble: entries past the output channels are not zero")
    lanes = unpack_lanes(w[rows:], cfg.bits, signed=True)
    n_in = sum(segs)
    kk = ksize * ksize
    idx_list = _block_channel_index(segs, cfg)
    sizes = [idx.size * kk * cfg.p_oc for idx in idx_list]  # lanes of a block of input fold f
    weights = np.zeros((rows, n_in, kk), dtype=np.int64)
    first: dict[tuple[int, int], np.ndarray] = {}  # (o, f) -> the block's lanes in band 0
    pos = 0
    for o, b, f, _streamed in conv_blocks(out_folds, bands, len(idx_list), out_group):
        blk_lanes = lanes[pos:pos + sizes[f]]
        pos += sizes[f]
        if b:
            if not np.array_equal(blk_lanes, first[o, f]):
                raise ValueError(f"weight blocks of band {b} differ from band 0 (out fold {o})")
            continue
        first[o, f] = blk_lanes
        idx = idx_list[f]
        s_f = idx.size // cfg.p_ic
        blk = _block_order_inverse(blk_lanes, s_f, cfg, wino)
        blk = blk.reshape(kk, s_f, cfg.p_oc, cfg.p_ic).transpose(2, 1, 3, 0)  # oc, s, ic, t
        if wino == WINO_PAIRED:
            h = cfg.p_ic // 2
            if not np.array_equal(blk[:, :, h:], blk[:, :, :h, ::-1]):
                raise ValueError("weight blocks: a paired call's high lanes are not its low lanes' filters rotated")
            blk = blk.copy()
            blk[:, :, h:] = 0
        blk = blk.reshape(cfg.p_oc, s_f * cfg.p_ic, kk)
        if np.any(blk[:, idx < 0]):
            raise ValueError("weight blocks: padding lanes are not zero")
        weights[o * cfg.p_oc:(o + 1) * cfg.p_oc, idx[idx >= 0]] = blk[:, idx >= 0]
    if np.any(weights[out_channels:]):
        raise ValueError("weight blocks: rows past the output channels are not zero")
    return (weights[:out_channels].reshape(out_channels, n_in, ksize, ksize), bias[:out_channels],
            shifts[:out_channels])
