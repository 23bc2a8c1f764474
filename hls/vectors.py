"""Test vectors: the calls of the HLS top that the C testbench replays in C and RTL co-simulation.

A ``TestVector`` is one call: register values, the words of the input and parameter streams and
the expected output stream. ``upsample_vector`` derives its expected output from the DDR layout
alone (no kernel code); ``conv_vector`` (3x3 conv + leaky + 2x2/2 max-pool) and ``yolo_vector``
(a conv-bypassed YOLO call: sigmoid table, raw tw/th lanes, a head period that crosses the fold
boundary) take it from the Python C simulation in its ``ap_int`` flavour (``zynqyolo.hls.csim``),
the arithmetic the HLS tools compile. All are a few hundred words, so C and C/RTL co-simulation
of them take seconds once the simulator has compiled the RTL. ``render_vectors`` writes the
vectors file (``tb/vectors.txt`` of the project ``zynqyolo.hls.tcl`` writes) that
``hls/tb/tb_yolo_accel.cpp`` reads in ``csim_design`` and ``cosim_design``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError


@dataclass(frozen=True)
class TestVector:
    """One call of the top: register values, input/parameter stream words and the expected output.

    Words are bus words stored as uint64 chunks, low chunk first (``bus_bits // 64`` per word)."""

    __test__ = False  # not a pytest class

    name: str
    registers: dict
    in_words: np.ndarray
    wts_words: np.ndarray
    out_words: np.ndarray
    source: str  # how the expected output was obtained


def _random_words(rng, n: int) -> np.ndarray:
    """``n`` uniformly random 64-bit words."""
    return rng.integers(0, 1 << 32, size=(n, 2), dtype=np.uint64) @ np.array([1 << 32, 1], dtype=np.uint64)


def _chunks(config: HwConfig) -> int:
    if config.bus_bits % 64:
        raise ValueError(f"HwConfig.bus_bits={config.bus_bits}: the vectors store 64-bit chunks")
    return config.bus_bits // 64


def stage3_registers(config: HwConfig, stage3: int, height: int, width: int, channels: int,
                     pool_stride: int = 1) -> dict:
    """Registers of a conv-bypassed call (stage 3 only), as ``dse.plan.make_plan`` sets them."""
    regs = {"conv_enable": 0, "leaky": 0, "ksize": 1, "stage3": stage3, "pool_stride": pool_stride,
            "height": height, "width": width, "in_channels_a": channels, "in_channels_b": 0,
            "out_channels": channels, "out_folds": config.folds(channels), "bands": 1, "band_rows": height,
            "yolo_period": 0, "yolo_shift": 0, "winograd": 0, "out_group": 1}
    fields = config.register_fields()
    if set(regs) != set(fields):
        raise ValueError(f"register fields changed: HwConfig has {sorted(fields)}, vectors set {sorted(regs)}")
    for name, value in regs.items():
        if not 0 <= value < 1 << fields[name]:
            raise ValueError(f"register {name}={value} does not fit its {fields[name]}-bit field")
    return {name: regs[name] for name in fields}


def upsample_vector(config: HwConfig, height: int = 3, width: int = 5, channels: int | None = None,
                    seed: int = 0) -> TestVector:
    """A conv-bypassed x2 upsample call on random words; its output follows from the DDR layout
    alone (``HwConfig``: fold-major ``[fold][row][col][lanes]``), so no kernel code computes it.

    Default channels: one full fold plus one bus word, so the call has a narrower last fold."""
    if channels is None:
        channels = config.p_oc + config.lanes_per_word
    channels = min(channels, config.max_in_channels, config.max_out_channels)
    if 2 * height > config.max_height or 2 * width > config.max_width:
        raise ValueError(f"upsample vector {height}x{width} exceeds the design's maxima")
    chunks = _chunks(config)
    rng = np.random.default_rng(seed)
    ins, outs = [], []
    for lanes in config.fold_lanes(channels):
        words_per_pixel = lanes * config.bits // config.bus_bits
        x = _random_words(rng, height * width * words_per_pixel * chunks).reshape(height, width, -1)
        ins.append(x.ravel())
        outs.append(np.repeat(np.repeat(x, 2, axis=0), 2, axis=1).ravel())
    regs = stage3_registers(config, stage3=2, height=height, width=width, channels=channels)
    return TestVector(f"upsample_{channels}x{height}x{width}", regs, np.concatenate(ins),
                      np.zeros(0, dtype=np.uint64), np.concatenate(outs), "DDR layout (word replication)")


def vector_from_csim(config: HwConfig, name: str, registers: dict, in_words: np.ndarray,
                     wts_words: np.ndarray) -> TestVector:
    """A vector whose expected output comes from the project's C simulation (zynqyolo.hls.csim) in
    its ``ap_int`` flavour, the arithmetic the HLS tools compile."""
    try:
        from .csim import CsimAccelerator
    except ImportError as exc:
        raise ZynqyoloError(f"the Python C simulation (zynqyolo.hls.csim) is not available: {exc}") from None
    in_words, wts_words = np.asarray(in_words, np.uint64), np.asarray(wts_words, np.uint64)
    result = CsimAccelerator(config, native=False).call(dict(registers), in_words, wts_words)
    return TestVector(name, dict(registers), in_words, wts_words, np.asarray(result.out_words, np.uint64).ravel(),
                      "zynqyolo.hls.csim (ap_int flavour)")


def conv_vector(config: HwConfig, height: int = 4, width: int = 6, seed: int = 1) -> TestVector:
    """A 3x3 conv + leaky + 2x2/2 max-pool call over two input and two output folds on random
    activations and weights, expected output from the C simulation in its ``ap_int`` flavour (what
    the HLS tools compile). The parameter stream starts with ``out_folds * p_oc`` preamble entries,
    one 64-bit word each (bias in bits [0, 48), requantisation shift in [48, 54), zynqyolo.hls.header);
    they get small biases and shifts so the outputs spread over the code range."""
    from zynqyolo.dse.registers import call_words, winograd_call

    if config.bus_bits != 64:
        raise ZynqyoloError("conv_vector packs one 64-bit preamble entry per bus word: bus_bits must be 64")
    channels = min(config.p_oc + config.lanes_per_word, config.max_in_channels, config.max_out_channels)
    band_rows = min(height, max(1, config.tile_pixels // width))
    band_rows -= band_rows % 2 if band_rows < height else 0
    regs = {**stage3_registers(config, stage3=1, height=height, width=width, channels=channels, pool_stride=2),
            "conv_enable": 1, "leaky": 1, "ksize": 3, "bands": -(-height // band_rows), "band_rows": band_rows,
            "winograd": int(winograd_call(config, 1, 3, width))}
    lengths = call_words(config, regs)
    rng = np.random.default_rng(seed)
    in_words = _random_words(rng, lengths.in_words)
    wts_words = _random_words(rng, lengths.wts_words)
    n_entries = config.folds(channels) * config.p_oc
    bias = rng.integers(-(1 << 20), 1 << 20, size=n_entries, dtype=np.int64).astype(np.uint64)
    bias &= np.uint64((1 << 48) - 1)
    # A 3x3 sum over 28 channels of random 16-bit products has a standard deviation near 2**32 (8-bit:
    # 2**16): shifts of 19..22 (10..13) bring it into the output code range, with a little saturation.
    shift = rng.integers(19 if config.bits == 16 else 10, 23 if config.bits == 16 else 14, size=n_entries,
                         dtype=np.uint64)
    wts_words[:n_entries] = bias | (shift << np.uint64(48))
    name = f"conv3x3_pool2_{channels}x{height}x{width}"
    return vector_from_csim(config, name, {n: regs[n] for n in config.register_fields()}, in_words, wts_words)


def yolo_vector(config: HwConfig, height: int = 3, width: int = 4, period: int = 7, seed: int = 2) -> TestVector:
    """A conv-bypassed YOLO call on random codes, expected output from the C simulation (``ap_int``
    flavour). ``period`` 7 (two classes + 5) does not divide p_oc, so the head phase carries across
    the fold boundary (loop YOLO_PHASE); one full fold plus one bus word of channels. The shift
    sends part of the 16-bit codes past the table's end (saturated index); at 8 bits it is -1, the
    left-shift branch the plan uses when a head's frac is below the table's."""
    from zynqyolo.dse.registers import Stage3Mode, call_words

    channels = min(config.p_oc + config.lanes_per_word, config.max_in_channels, config.max_out_channels)
    if height > config.max_height or width > config.max_width:
        raise ValueError(f"YOLO vector {height}x{width} exceeds the design's maxima")
    regs = {**stage3_registers(config, stage3=int(Stage3Mode.YOLO), height=height, width=width, channels=channels),
            "yolo_period": period, "yolo_shift": 3 if config.bits == 16 else -1}
    rng = np.random.default_rng(seed)
    in_words = _random_words(rng, call_words(config, regs).in_words)
    name = f"yolo{period}_{channels}x{height}x{width}"
    return vector_from_csim(config, name, {n: regs[n] for n in config.register_fields()}, in_words,
                            np.zeros(0, dtype=np.uint64))


COMPUTED_KINDS = ("conv", "yolo")  # the vectors only the Python C simulation can compute


def default_vectors(config: HwConfig, log: Callable[[str], None] | None = None, *,
                    require_computed: bool = False) -> list[TestVector]:
    """The upsample call (always), then a conv + pool call and a YOLO call when the Python C
    simulation can build. ``require_computed``: refuse (ZynqyoloError) instead of leaving them out,
    for a run of the real tool, whose co-simulation must cover a conv and a YOLO call."""
    vectors = [upsample_vector(config)]
    try:
        vectors += [conv_vector(config), yolo_vector(config)]
    except (ZynqyoloError, ValueError) as exc:
        if require_computed:
            raise ZynqyoloError(f"cannot compute the conv and YOLO test vectors ({exc}); the HLS run co-simulates "
                                "them, so it needs the C simulation (g++ and the fetched HLS headers: "
                                "'zynqyolo fetch')") from None
        if log is not None:
            log(f"note: no conv or YOLO test vector ({exc}); the testbench replays the upsample call only")
    return vectors


def render_vectors(config: HwConfig, vectors: Sequence[TestVector]) -> str:
    """The vectors file the testbench reads (see hls/tb/tb_yolo_accel.cpp)."""
    chunks = _chunks(config)
    fields = config.register_fields()
    lines = ["zynqyolo-vectors 1", f"design {config.content_hash}"]
    for v in vectors:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v.name):
            raise ValueError(f"vector name {v.name!r}: use letters, digits, '_', '.', '-'")
        if set(v.registers) != set(fields):
            raise ValueError(f"vector {v.name}: registers {sorted(v.registers)} != fields {sorted(fields)}")
        lines.append(f"call {v.name}")
        lines += [f"reg {n} {int(v.registers[n])}" for n in fields]
        lines.append("words")
        for kind, words in (("in", v.in_words), ("wts", v.wts_words), ("out", v.out_words)):
            words = np.asarray(words, dtype=np.uint64).ravel()
            if words.size % chunks:
                raise ValueError(f"vector {v.name}: {kind} has {words.size} chunks, "
                                 f"not whole {config.bus_bits}-bit words")
            lines.append(f"{kind} {words.size // chunks}")
            lines += [" ".join(f"{int(w):016x}" for w in words[i:i + 8]) for i in range(0, words.size, 8)]
    return "\n".join(lines) + "\n"


__all__ = ["COMPUTED_KINDS", "TestVector", "conv_vector", "default_vectors", "render_vectors", "stage3_registers",
           "upsample_vector", "vector_from_csim", "yolo_vector"]
