"""The HLS kernels in C simulation, one hardware call at a time, bit for bit against numpy.

- Every layer batch of YOLOv3-tiny (conv + pool/upsample/yolo, 1x1 and 3x3, the two-segment
  route input of layer 21, and stage-3-only bypass calls) at 96x96, fed with the integer
  reference's own tensors of a quantised model, must reproduce the reference's output exactly,
  for 16- and 8-bit models and several design points (one with a tile small enough to force
  bands), in the fast native build and in the ap_int build.
- Random tensors with saturating values, odd shapes and extreme registers against a reference
  assembled here from the model.fixed primitives.
- Loop counts against the analytic counts of the architecture.
- The build and call machinery: missing compiler, compile errors, concurrent builds, register
  validation, and the stream-consistency guard.

Expected values come from model.intref / model.fixed, never from the code under test.
"""

from __future__ import annotations

import math
import stat
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from zynqyolo.dse import blocks
from zynqyolo.dse.hwconfig import WINO_MIN_WIDTH, HwConfig
from zynqyolo.dse.registers import out_group as plan_out_group
from zynqyolo.errors import ZynqyoloError
from zynqyolo.dse.packing import (conv_input_slices, gather_words, pack_fmap, pack_params, unpack_fmap)
from zynqyolo.model.fixed import FixedFormat, align_bias, maxpool, requantize, sigmoid_lut, upsample
from zynqyolo.model.float_ref import im2col, yolo_sigmoid_channels
from zynqyolo.model.ir import Conv, MaxPool, Route, Upsample, Yolo

pytestmark = pytest.mark.csim

SIZE = 96  # network input for the layer tests: 96 -> 3x3 at the last scale

# Native designs: three (p_oc, p_ic) points per precision; "t64"/"t128" tiles force several bands.
NATIVE = {
    "oc24ic8-b16-t64": HwConfig(p_oc=24, p_ic=8, bits=16, tile_pixels=64),
    "oc16ic4-b16": HwConfig(p_oc=16, p_ic=4, bits=16, stage3_lanes=16, requant_lanes=2),
    "oc8ic8-b16-t128": HwConfig(p_oc=8, p_ic=8, bits=16, tile_pixels=128, stage3_lanes=4),
    "oc24ic8-b8-t64": HwConfig(p_oc=24, p_ic=8, bits=8, tile_pixels=64, requant_lanes=6),
    "oc16ic4-b8": HwConfig(p_oc=16, p_ic=4, bits=8, requant_lanes=16),
    "oc8ic8-b8-t128": HwConfig(p_oc=8, p_ic=8, bits=8, tile_pixels=128),
    # Winograd designs: 3x3 calls at least WINO_MIN_WIDTH wide take the Winograd path, the rest direct.
    "w-oc24ic8-b16-t64": HwConfig(p_oc=24, p_ic=8, bits=16, tile_pixels=64, conv_engine="winograd"),
    "w-oc16ic4-b8": HwConfig(p_oc=16, p_ic=4, bits=8, requant_lanes=4, conv_engine="winograd"),
    "w-oc8ic8-b16-t128": HwConfig(p_oc=8, p_ic=8, bits=16, tile_pixels=128, stage3_lanes=4, conv_engine="winograd"),
    "w-oc24ic8-b8-t64": HwConfig(p_oc=24, p_ic=8, bits=8, tile_pixels=64, requant_lanes=6, conv_engine="winograd"),
    # Paired positions: layer 0 (3 channels) computes two positions a step in the two lane halves.
    "wp-oc24ic8-b16-t64": HwConfig(p_oc=24, p_ic=8, bits=16, tile_pixels=64, conv_engine="winograd-paired"),
    "wp-oc16ic8-b8": HwConfig(p_oc=16, p_ic=8, bits=8, requant_lanes=8, conv_engine="winograd-paired"),
    # F(4x2, 3x3) (8 bits): 3x3 calls at least WINO_4X2_MIN_WIDTH wide.
    "w4-oc24ic8-b8-t64": HwConfig(p_oc=24, p_ic=8, bits=8, tile_pixels=64, requant_lanes=6, conv_engine="winograd-4x2"),
}
# ap_int builds (Xilinx's arbitrary-precision emulation, as synthesis sees the code): reduced maxima.
AP = {
    "ap-oc24ic8-b16-t64": HwConfig(p_oc=24, p_ic=8, bits=16, tile_pixels=64, max_width=96, max_height=96),
    "ap-oc8ic8-b8-t128": HwConfig(p_oc=8, p_ic=8, bits=8, tile_pixels=128, stage3_lanes=2, requant_lanes=4, max_width=96,
                                  max_height=96),
    "ap-w-oc8ic4-b16-t128": HwConfig(p_oc=8, p_ic=4, bits=16, tile_pixels=128, max_width=96, max_height=96,
                                     conv_engine="winograd"),
    "ap-w-oc16ic8-b8-t64": HwConfig(p_oc=16, p_ic=8, bits=8, tile_pixels=64, stage3_lanes=8, requant_lanes=4,
                                    max_width=96, max_height=96, conv_engine="winograd"),
    "ap-wp-oc24ic6-b16-t128": HwConfig(p_oc=24, p_ic=6, bits=16, tile_pixels=128, max_width=96, max_height=96,
                                       conv_engine="winograd-paired"),
    "ap-w4-oc16ic8-b8-t64": HwConfig(p_oc=16, p_ic=8, bits=8, tile_pixels=64, stage3_lanes=8, requant_lanes=4,
                                     max_width=96, max_height=96, conv_engine="winograd-4x2"),
}
DESIGNS = {**{k: (v, True) for k, v in NATIVE.items()}, **{k: (v, False) for k, v in AP.items()}}

# Layer batches of YOLOv3-tiny: (conv, fused stage-3 layer) and stage-3-only bypass calls.
CONV_BATCHES = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, None), (13, None), (14, None), (15, 16),
                (18, 19), (21, None), (22, 23)]
BYPASS_BATCHES = [(None, 1), (None, 11), (None, 16), (None, 19), (None, 13)]  # (None, 13): plain copy of 13
BATCHES = CONV_BATCHES + BYPASS_BATCHES


def batch_id(batch) -> str:
    conv, post = batch
    if conv is None:
        return f"bypass{post}"
    return f"conv{conv}" + (f"+{post}" if post is not None else "")


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def accelerators(toolchain):
    """Every design of DESIGNS, built two at a time (cached under $ZYNQYOLO_HOME/csim)."""
    from zynqyolo.hls.csim import CsimAccelerator, build_library

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda item: build_library(*item), DESIGNS.values()))
    return {name: CsimAccelerator(cfg, native) for name, (cfg, native) in DESIGNS.items()}


@pytest.fixture(scope="session")
def network96(model_files):
    from zynqyolo.model import load_cfg

    return load_cfg(model_files[0], width=SIZE, height=SIZE)


@pytest.fixture(scope="session")
def references(network96, model_files, photos):
    """bits -> (quantised model, every layer's integer codes, input codes) at 96x96.

    Calibrated on one photo, run on another, so some activations saturate."""
    from zynqyolo.model import load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    weights = load_weights(model_files[1], network96)
    out = {}
    for bits in (16, 8):
        model = calibrate(network96, weights, [photos["bus"]], bits=bits)
        ref = IntegerReference(model)
        codes = ref.quantize_input(letterbox(load_image(photos["zidane"]), SIZE, SIZE))
        _, layers = ref.run(codes, keep_all=True)
        out[bits] = (model, layers, codes)
    return out


# ----------------------------------------------------------------------------- helpers

def band_split(cfg: HwConfig, in_folds: int, height: int, width: int, pool_stride: int | None) -> tuple[int, int]:
    """(bands, band_rows): whole image when the input has one fold, else the largest band that fits
    the tile (even rows under a stride-2 pool)."""
    if in_folds == 1:
        return 1, height
    rows = min(height, cfg.tile_pixels // width)
    if pool_stride == 2 and rows < height:
        rows -= rows % 2
    assert rows >= 1, "test design too small for this layer"
    return math.ceil(height / rows), rows


def conv_registers(cfg: HwConfig, segments, height: int, width: int, ksize: int, out_channels: int, leaky: bool,
                   stage3: int = 0, pool_stride: int = 1, yolo_period: int = 0, yolo_shift: int = 0,
                   band_rows: int | None = None, out_group: int | None = None) -> dict:
    """A conv call's registers; ``out_group`` None: the plan's rule (as many out folds per streamed
    input fold as the store and the tile hold)."""
    in_folds = sum(cfg.folds(s) for s in segments)
    if band_rows is None:
        bands, band_rows = band_split(cfg, in_folds, height, width, pool_stride if stage3 == 1 else None)
    else:
        bands = math.ceil(height / band_rows)
    if out_group is None:
        out_group = plan_out_group(cfg, 1, ksize, height, width, in_folds, cfg.folds(out_channels), bands)
    winograd = int(cfg.winograd_engine and ksize == 3 and width >= cfg.wino_min_width)
    if winograd and cfg.wino_pair and len(segments) == 1 and segments[0] <= cfg.p_ic // 2:
        winograd = 2  # paired positions: one input of at most half the lanes
    return dict(conv_enable=1, leaky=int(leaky), ksize=ksize, stage3=stage3, pool_stride=pool_stride,
                height=height, width=width, in_channels_a=segments[0],
                in_channels_b=segments[1] if len(segments) > 1 else 0, out_channels=out_channels,
                out_folds=cfg.folds(out_channels), bands=bands, band_rows=band_rows, yolo_period=yolo_period,
                yolo_shift=yolo_shift, winograd=winograd, out_group=out_group)


def bypass_registers(cfg: HwConfig, channels: int, height: int, width: int, stage3: int, pool_stride: int = 1,
                     yolo_period: int = 0, yolo_shift: int = 0) -> dict:
    return dict(conv_enable=0, leaky=0, ksize=1, stage3=stage3, pool_stride=pool_stride, height=height, width=width,
                in_channels_a=channels, in_channels_b=0, out_channels=channels, out_folds=cfg.folds(channels),
                bands=1, band_rows=height, yolo_period=yolo_period, yolo_shift=yolo_shift, winograd=0, out_group=1)


def run_conv(acc, regs: dict, inputs: list[np.ndarray], weights, bias_entries, shifts):
    """One conv call: pack the input segments and parameters, stream the band rows, run it."""
    cfg = acc.config
    segments = tuple(x.shape[0] for x in inputs)
    words = np.concatenate([pack_fmap(x, cfg) for x in inputs])
    slices = conv_input_slices(segments, regs["height"], regs["width"], regs["ksize"], regs["out_folds"],
                               regs["bands"], regs["band_rows"], cfg, regs["out_group"])
    params = pack_params(weights, bias_entries, shifts, segments, regs["bands"], cfg, winograd=regs["winograd"],
                         out_group=regs["out_group"])
    return acc.call(regs, gather_words(words, slices), params)


def check_output(result, expected: np.ndarray, cfg: HwConfig, unsigned_channels=None) -> None:
    """The out stream must be exactly the packed expected tensor (padding lanes 0 included)."""
    c, h, w = expected.shape
    got = unpack_fmap(result.out_words, c, h, w, cfg, signed=True)
    if unsigned_channels is not None:
        got[unsigned_channels] &= (1 << cfg.bits) - 1
    if not np.array_equal(got, expected):
        bad = np.argwhere(got != expected)
        ch, y, x = bad[0]
        raise AssertionError(f"{len(bad)} of {expected.size} codes differ; first at channel {ch}, row {y}, col {x}: "
                             f"csim {got[ch, y, x]}, reference {expected[ch, y, x]}")
    assert np.array_equal(result.out_words, pack_fmap(expected, cfg)), "padding lanes of the output are not zero"


def yolo_expected_mask(layer: Yolo) -> np.ndarray:
    return yolo_sigmoid_channels(layer)


def expected_counts(cfg: HwConfig, r: dict) -> dict[str, int]:
    """Iterations of every pipelined loop, from the architecture's analytic model (direct and Winograd
    paths as the kernels' design notes describe them)."""
    per_word = cfg.lanes_per_word
    wps = cfg.p_oc * cfg.p_ic // per_word  # bus words of a (tap, sub-fold) slice
    h, w = r["height"], r["width"]
    segs = [s for s in (r["in_channels_a"], r["in_channels_b"]) if s]
    lanes_in = [n for s in segs for n in cfg.fold_lanes(s)]
    n = dict.fromkeys(("CONV_READ", "PREAMBLE", "WEIGHT_LOAD", "LINE_FILL", "CONV_MAC", "WINO_LOAD", "WINO_PRELOAD",
                       "CONV_WINO", "WINO_DRAIN", "CONV_BYPASS", "BIAS_LOAD", "ACC", "ACC_BYPASS", "DETILE",
                       "DETILE_ROW", "YOLO_PHASE", "STAGE3", "OUT_WRITE"), 0)
    mode, stride = r["stage3"], r["pool_stride"]
    wino = bool(r["conv_enable"] and r["winograd"])
    tile_pool = wino and mode == 1 and stride == 2
    if r["conv_enable"]:
        k, pad = r["ksize"], r["ksize"] // 2
        macs, words = [], []
        out_lanes = cfg.fold_lanes(r["out_channels"])
        for o in range(r["out_folds"]):
            groups = math.ceil(out_lanes[o] / cfg.requant_lanes)  # the last fold requantises in groups
            for b in range(r["bands"]):
                r0 = b * r["band_rows"]
                r1 = min(h, r0 + r["band_rows"])
                n["ACC"] += (len(lanes_in) - 1 + groups) * (r1 - r0) * w
                if wino and not tile_pool:
                    n["DETILE_ROW"] += (r1 - r0) // 2 * w  # the second row of every two-row tile row
        # Blocks in order: out folds in groups of out_group; in a group band, input fold, out fold.
        group = r["out_group"]
        order = [(o0 + oi, b, lanes, oi == 0) for o0 in range(0, r["out_folds"], group) for b in range(r["bands"])
                 for lanes in lanes_in for oi in range(min(group, r["out_folds"] - o0))]
        for i, (_o, b, lanes, streamed) in enumerate(order):
            r0 = b * r["band_rows"]
            r1 = min(h, r0 + r["band_rows"])
            a0, a1 = max(0, r0 - pad), min(h, r1 + pad)
            s_f = math.ceil(lanes / cfg.p_ic)
            n["CONV_READ"] += (a1 - a0) * w * lanes // per_word if streamed else 0
            if wino:
                tw = cfg.wino_tile_w  # F(2x2) or F(4x2): tiles 2 rows by tw columns, from 4 x (tw + 2) windows
                npos = 4 * (tw + 2)
                tiles_y, tiles_x = math.ceil((r1 - r0) / 2), math.ceil(w / tw)
                fill = (min(r0 + 3, a1) - a0) * w
                # every block but the first finds its first two rows streamed in by the previous one
                n["LINE_FILL"] += fill - (min(fill, 2 * w) if i else 0)
                n["WINO_PRELOAD"] += npos  # the first span's window
                if tw == 4:  # the across half's first half span, which emits the last tile's pixels
                    n["WINO_DRAIN"] += npos // 2
                else:  # the last tile's real pixels
                    n["WINO_DRAIN"] += min(2, r1 - r0 - 2 * (tiles_y - 1)) * min(2, w - 2 * (tiles_x - 1))
                if r["winograd"] == 2:  # paired: 10 steps a tile, 16 for a tile row's last
                    macs.append(tiles_y * ((tiles_x - 1) * 10 + 16))
                else:
                    macs.append(tiles_y * tiles_x * npos * s_f)
                # loader steps: 9 G + npos - 9 per memory word of G (sub-fold, bank word) groups, and the
                # last group's transforms (a pair a step) and the last word's writes: lanes_per_word + 9
                g = blocks.WeightBuffer.group(cfg)
                words.append((9 * g + npos - 9) * s_f * wps // g + per_word + 9)
            else:
                n["LINE_FILL"] += (min(r0 + pad, a1 - 1) - a0) * w + min(pad, w - 1) + 1
                macs.append((r1 - r0) * w * k * k * s_f)
                words.append(k * k * s_f * wps)
        # The first block's weights load alone; each later block's load hides under the previous compute.
        load = words[0] + sum(max(0, words[i + 1] - macs[i]) for i in range(len(macs) - 1))
        n["WINO_LOAD" if wino else "WEIGHT_LOAD"] = load
        n["CONV_WINO" if wino else "CONV_MAC"] = sum(macs)
        n["PREAMBLE"] = n["BIAS_LOAD"] = r["out_folds"] * cfg.p_oc
        n["DETILE"] = r["out_folds"] * h * w
    else:
        n["CONV_READ"] = cfg.padded(r["in_channels_a"]) * h * w // per_word
        n["CONV_BYPASS"] = n["ACC_BYPASS"] = n["DETILE"] = cfg.folds(r["in_channels_a"]) * h * w
    oh, ow = ((h - 1) // stride + 1, (w - 1) // stride + 1) if mode == 1 else (2 * h, 2 * w) if mode == 2 else (h, w)
    slots = {0: h * w, 3: h * w, 2: 4 * h * w, 1: h * w if stride == 2 else (h + 1) * (w + 1)}[mode]
    if tile_pool:  # pooled by detile; stage 3 bypasses the pooled map
        slots = oh * ow
    for lanes in cfg.fold_lanes(r["out_channels"]):
        n["STAGE3"] += slots * math.ceil(lanes / cfg.stage3_lanes)
    if mode == 3:
        n["YOLO_PHASE"] = r["out_folds"] * cfg.p_oc
    n["OUT_WRITE"] = cfg.padded(r["out_channels"]) * oh * ow // per_word
    return n


# ----------------------------------------------------------------------------- YOLOv3-tiny layer batches

def test_batches_cover_the_network(network96):
    """Every layer of the IR is exercised by some call (routes are host pointer work)."""
    covered = {i for batch in BATCHES for i in batch if i is not None}
    for layer in network96.layers:
        assert isinstance(layer, Route) or layer.index in covered, f"layer {layer.index} ({layer.kind}) untested"
    for conv, post in CONV_BATCHES:
        assert isinstance(network96.layers[conv], Conv)
        if post is not None:
            assert network96.layers[post].inputs == (conv,)
            assert isinstance(network96.layers[post], (MaxPool, Upsample, Yolo))


@pytest.mark.parametrize("design", list(DESIGNS))
@pytest.mark.parametrize("batch", BATCHES, ids=batch_id)
def test_layer_batch_bit_exact(design, batch, accelerators, references, network96):
    acc = accelerators[design]
    model, layers, codes = references[acc.config.bits]
    run_batch(acc, network96, model, layers, codes, batch)


def run_batch(acc, net, model, layers, codes, batch) -> None:
    """One layer batch as one call, fed with the reference's tensors, checked against its output."""
    cfg = acc.config
    conv_i, post_i = batch

    def value(i):
        return codes if i == -1 else layers[i]

    post = net.layers[post_i] if post_i is not None else None
    stage3 = {MaxPool: 1, Upsample: 2, Yolo: 3}.get(type(post), 0)
    head = conv_i if conv_i is not None else (post.inputs[0] if stage3 else post_i)
    pool_stride = post.stride if stage3 == 1 else 1
    period, yolo_shift = (post.classes + 5, model.formats[head].frac - model.sigmoid.in_frac) if stage3 == 3 else (0, 0)
    if stage3 == 1:
        assert post.size == 2 and post.offset == 0, "the kernels implement darknet's 2x2 max-pool"

    if conv_i is not None:
        conv = net.layers[conv_i]
        src = net.layers[conv.inputs[0]] if conv.inputs[0] >= 0 else None
        inputs = [value(i) for i in src.inputs] if isinstance(src, Route) else [value(conv.inputs[0])]
        segments = tuple(x.shape[0] for x in inputs)
        _, h, w = inputs[0].shape
        regs = conv_registers(cfg, segments, h, w, conv.size, conv.filters, conv.activation == "leaky", stage3,
                              pool_stride, period, yolo_shift)
        q = model.convs[conv_i]
        bias = align_bias(np.asarray(model.biases[conv_i], dtype=np.int64), q.bias.frac, q.acc_fracs)
        result = run_conv(acc, regs, inputs, model.weights[conv_i], bias, q.acc_fracs - q.output.frac)
    else:
        x = value(head)
        regs = bypass_registers(cfg, x.shape[0], x.shape[1], x.shape[2], stage3, pool_stride, period, yolo_shift)
        result = acc.call(regs, pack_fmap(x, cfg), np.zeros(0, dtype=np.uint64))

    expected = value(post_i if post_i is not None else conv_i).astype(np.int64)
    unsigned = yolo_expected_mask(post) if stage3 == 3 else None
    check_output(result, expected, cfg, unsigned)
    assert result.counts == expected_counts(cfg, regs)


# Designs with an explicit weight group (HwConfig.weight_group, which the explorer tries) other than the
# block-RAM rule's: the direct loader gathering 4 bank words a memory word, and the F(4x2) loader writing
# one at a time.
WEIGHT_GROUP_DESIGNS = {
    "g4-oc24ic8-b16-t64": HwConfig(p_oc=24, p_ic=8, bits=16, tile_pixels=64, weight_group=4),
    "w4-g1-oc24ic8-b8-t64": HwConfig(p_oc=24, p_ic=8, bits=8, tile_pixels=64, requant_lanes=6,
                                     conv_engine="winograd-4x2", weight_group=1),
}


@pytest.mark.parametrize("design", list(WEIGHT_GROUP_DESIGNS))
@pytest.mark.parametrize("batch", [(0, 1), (4, 5), (13, None), (22, 23)], ids=batch_id)
def test_weight_group_designs_bit_exact(design, batch, toolchain, references, network96):
    from zynqyolo.hls.csim import CsimAccelerator

    cfg = WEIGHT_GROUP_DESIGNS[design]
    rule = blocks.WeightBuffer.group(HwConfig(**{**cfg.to_dict(), "weight_group": 0}))
    assert blocks.WeightBuffer.group(cfg) == cfg.weight_group != rule
    acc = CsimAccelerator(cfg, True)
    model, layers, codes = references[cfg.bits]
    run_batch(acc, network96, model, layers, codes, batch)


@pytest.mark.parametrize("bits", [16, pytest.param(8, marks=pytest.mark.slow)])
def test_full_size_network_bit_exact(bits, toolchain, model_files, photos):
    """Every layer batch at 416x416 on the default design point (about 10 s per precision)."""
    from zynqyolo.hls.csim import CsimAccelerator
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0])
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=bits)
    ref = IntegerReference(model)
    codes = ref.quantize_input(letterbox(load_image(photos["zidane"]), net.width, net.height))
    _, layers = ref.run(codes, keep_all=True)
    acc = CsimAccelerator(HwConfig(bits=bits))
    for batch in BATCHES:
        run_batch(acc, net, model, layers, codes, batch)


def test_some_layer_runs_several_bands(accelerators, network96):
    """At least one layer call of the band-forcing designs really splits into bands."""
    cfg = NATIVE["oc24ic8-b16-t64"]
    conv = network96.layers[4]
    regs = conv_registers(cfg, (conv.in_shape.c,), conv.in_shape.h, conv.in_shape.w, 3, conv.filters, True, 1, 2)
    assert regs["bands"] > 1


# ----------------------------------------------------------------------------- random tensors

def reference_conv(inputs, weights, bias, shifts, regs, bits):
    """Stage 1-3 of one call from the model.fixed primitives (independent of the kernels)."""
    x = np.concatenate(inputs).astype(np.int64)
    k = weights.shape[2]
    acc = weights.reshape(weights.shape[0], -1).astype(np.int64) @ im2col(x, k, 1, k // 2, np.int64)
    acc = acc.reshape(weights.shape[0], x.shape[1], x.shape[2])
    y = requantize(acc + bias[:, None, None], shifts[:, None, None], FixedFormat(bits, 0), bool(regs["leaky"]))
    return reference_stage3(y, regs, bits)


def reference_stage3(y, regs, bits):
    mode = regs["stage3"]
    c, h, w = y.shape
    if mode == 1:
        s = regs["pool_stride"]
        return maxpool(y, 2, s, 0, ((h - 1) // s + 1, (w - 1) // s + 1))
    if mode == 2:
        return upsample(y, 2)
    if mode == 3:
        lut = sigmoid_lut(bits)
        k = np.arange(c) % regs["yolo_period"]
        sig = ~np.isin(k, (2, 3))
        out = y.astype(np.int64).copy()
        out[sig] = lut.apply(y[sig], regs["yolo_shift"] + lut.in_frac)
        return out
    return y


RANDOM_CASES = {
    # name: (segments, height, width, ksize, out_channels, leaky, stage3, pool_stride, band_rows, period, yshift)
    "3x3-pool2-odd": ((13,), 7, 5, 3, 30, True, 1, 2, None, 0, 0),
    "3x3-pool1-bands1": ((40,), 5, 4, 3, 17, True, 1, 1, None, 0, 0),
    "1x1-route-bands": ((19, 21), 9, 6, 1, 33, False, 0, 1, 2, 0, 0),
    "3x3-route-bands-odd-last": ((10, 7), 7, 4, 3, 12, True, 0, 1, 3, 0, 0),
    "3x3-upsample-bands": ((33,), 6, 3, 3, 9, False, 2, 1, 4, 0, 0),
    "3x3-width1": ((5,), 5, 1, 3, 8, True, 0, 1, None, 0, 0),
    "3x3-width2-pool1": ((20,), 2, 2, 3, 8, True, 1, 1, None, 0, 0),
    "3x3-height1": ((9,), 1, 6, 3, 5, True, 1, 2, None, 0, 0),
    "1x1-yolo-period7-left": ((24,), 3, 3, 1, 50, False, 3, 1, None, 7, -3),
    "3x3-yolo-period85-right": ((16,), 4, 3, 3, 255, False, 3, 1, None, 85, 4),
    # widths the Winograd path takes (>= WINO_MIN_WIDTH): odd, even, odd band heights, a single row
    "3x3-w9-odd-bands": ((13,), 11, 9, 3, 30, True, 0, 1, 3, 0, 0),
    "3x3-w7-pool2-bands": ((40,), 8, 7, 3, 26, True, 1, 2, 2, 0, 0),
    "3x3-w13-pool1": ((27,), 13, 13, 3, 17, True, 1, 1, None, 0, 0),
    "3x3-w8-upsample-route": ((10, 7), 5, 8, 3, 12, False, 2, 1, 2, 0, 0),
    "3x3-w7-yolo-height1": ((9,), 1, 7, 3, 16, False, 3, 1, None, 8, 1),
    "3x3-w10-pool2-odd-height": ((33,), 9, 10, 3, 40, True, 1, 2, None, 0, 0),
    "3x3-w16-bands-of-one": ((50,), 5, 16, 3, 9, True, 0, 1, 1, 0, 0),
}
# F(4x2) designs' Winograd widths (>= WINO_4X2_MIN_WIDTH = 13): tiles 4 columns wide, so widths of
# every residue mod 4, odd band heights, bands of one row, a 2x2/2 pool over bands, an upsample after a
# route, a YOLO head of one row, and a 3-channel input (one sub-fold: a tile is 24 cycles for 8 pixels).
WINO4_CASES = {
    "w13-odd-bands": ((13,), 11, 13, 3, 30, True, 0, 1, 3, 0, 0),
    "w14-pool2-bands": ((40,), 8, 14, 3, 26, True, 1, 2, 2, 0, 0),
    "w15-pool1": ((27,), 9, 15, 3, 17, True, 1, 1, None, 0, 0),
    "w17-upsample-route": ((10, 7), 5, 17, 3, 12, False, 2, 1, 2, 0, 0),
    "w18-yolo-height1": ((9,), 1, 18, 3, 16, False, 3, 1, None, 8, 1),
    "w21-pool2-odd-height": ((33,), 9, 21, 3, 40, True, 1, 2, None, 0, 0),
    "w26-bands-of-one": ((50,), 5, 26, 3, 9, True, 0, 1, 1, 0, 0),
    "w20-three-channels": ((3,), 12, 20, 3, 50, True, 1, 2, None, 0, 0),
}
RANDOM_DESIGNS = ["oc24ic8-b16-t64", "oc8ic8-b16-t128", "oc16ic4-b8", "oc24ic8-b8-t64", "ap-oc24ic8-b16-t64",
                  "ap-oc8ic8-b8-t128", "w-oc24ic8-b16-t64", "w-oc16ic4-b8", "w-oc8ic8-b16-t128", "w-oc24ic8-b8-t64",
                  "ap-w-oc8ic4-b16-t128", "ap-w-oc16ic8-b8-t64"]


@pytest.mark.parametrize("design", RANDOM_DESIGNS)
@pytest.mark.parametrize("case", list(RANDOM_CASES))
def test_random_conv_saturating(design, case, accelerators):
    random_conv(accelerators[design], design, RANDOM_CASES[case], case)


def random_conv(acc, design: str, spec: tuple, case: str) -> None:
    """One random conv call of ``spec`` (a RANDOM_CASES entry) on ``acc``: bit-exact against the
    reference, and the loop counts are the analytic model's (expected_counts)."""
    cfg = acc.config
    bits = cfg.bits
    segs, h, w, k, n_out, leaky, stage3, stride, band_rows, period, yshift = spec
    rng = np.random.default_rng(zlib.crc32(f"{design}/{case}".encode()))
    lim = 1 << (bits - 1)
    # Extreme codes are frequent: many saturate in and out.
    inputs = [rng.choice([-lim, lim - 1, 0, -1, 1], size=(s, h, w)) * (rng.random((s, h, w)) < 0.3)
              + rng.integers(-lim, lim, size=(s, h, w)) * (rng.random((s, h, w)) >= 0.3) for s in segs]
    inputs = [np.clip(x, -lim, lim - 1) for x in inputs]
    weights = rng.integers(-lim, lim, size=(n_out, sum(segs), k, k))
    bias = rng.integers(-(1 << (2 * bits + 8)), 1 << (2 * bits + 8), size=n_out)
    shifts = rng.integers(0, 2 * bits + 6, size=n_out)
    shifts[:3] = (0, 1, 40)[:min(3, n_out)]
    regs = conv_registers(cfg, segs, h, w, k, n_out, leaky, stage3, stride, period, yshift, band_rows)
    result = run_conv(acc, regs, inputs, weights, bias, shifts)
    expected = reference_conv(inputs, weights, bias, shifts, regs, bits)
    unsigned = None
    if stage3 == 3:
        unsigned = ~np.isin(np.arange(n_out) % period, (2, 3))
    check_output(result, expected, cfg, unsigned)
    assert result.counts == expected_counts(cfg, regs)


WINO4_DESIGNS = ["w4-oc24ic8-b8-t64", "ap-w4-oc16ic8-b8-t64"]


@pytest.mark.parametrize("design", WINO4_DESIGNS)
@pytest.mark.parametrize("case", list(WINO4_CASES))
def test_random_conv_f4x2(design, case, accelerators):
    """F(4x2) designs on the widths their Winograd path takes: bit-exact, and the loop counts are the
    analytic model's (expected_counts)."""
    assert conv_registers(accelerators[design].config, *WINO4_CASES[case][:6])["winograd"] == 1
    random_conv(accelerators[design], design, WINO4_CASES[case], case)


@pytest.mark.parametrize("design", ["ap-w-oc16ic8-b8-t64", "ap-w-oc8ic4-b16-t128", "w-oc24ic8-b16-t64",
                                    *WINO4_DESIGNS])
@pytest.mark.parametrize("sign", [-1, 1])
def test_winograd_accumulators_at_the_extreme_codes(design, sign, accelerators):
    """Every input code and weight at the most negative (or, sign 1, alternating extreme) value: |U|
    and |V| reach 9 and 4 times the largest code (F(4x2): 72 and 20 times), the largest the output
    transform ever adds (dse.hwconfig.wino_y_bits); the ap_int build holds them exactly."""
    acc = accelerators[design]
    cfg = acc.config
    lo, hi = -(1 << (cfg.bits - 1)), (1 << (cfg.bits - 1)) - 1
    c = cfg.p_oc  # one full input fold
    width = max(10, cfg.wino_min_width + 1)
    x = np.full((c, 9, width), lo)
    w = np.full((c, c, 3, 3), lo)
    if sign > 0:
        x[:, :, 1::2] = hi
        w[:, ::2] = hi
    bias = np.zeros(c, dtype=np.int64)
    shifts = np.full(c, 2 * cfg.bits + 6)
    regs = conv_registers(cfg, (c,), 9, width, 3, c, False)
    assert regs["winograd"] == 1
    result = run_conv(acc, regs, [x], w, bias, shifts)
    check_output(result, reference_conv([x], w, bias, shifts, regs, cfg.bits), cfg)


# 1x1 calls that stream each input fold once for out_group out folds: (segments, h, w, out_channels,
# out_group, stage3, yolo_period); a partial last group, one input fold, a route, a YOLO head.
GROUP_CASES = {
    "g3-of-5-partial": ((40,), 3, 4, 70, 3, 0, 0),
    "g2-one-infold": ((8,), 5, 3, 40, 2, 0, 0),
    "g4-route": ((12, 20), 2, 3, 64, 4, 0, 0),
    "g-all-yolo": ((30,), 3, 3, 50, None, 3, 10),
}


@pytest.mark.parametrize("design", ["oc8ic8-b16-t128", "w-oc8ic8-b16-t128", "oc16ic4-b8", "ap-oc8ic8-b8-t128",
                                    "w-oc24ic8-b8-t64"])
@pytest.mark.parametrize("case", list(GROUP_CASES))
def test_random_1x1_out_groups(design, case, accelerators):
    """A streamed input fold serves several out folds: outputs as the reference, input words cut by
    the group size, loop counts as the analytic model."""
    acc = accelerators[design]
    cfg = acc.config
    segs, h, w, n_out, group, stage3, period = GROUP_CASES[case]
    if group is None:
        group = cfg.folds(n_out)
    group = min(group, cfg.folds(n_out))
    in_folds = sum(cfg.folds(x) for x in segs)
    if in_folds > 1 and group * h * w > cfg.tile_pixels:
        pytest.skip(f"{design}: the tile holds fewer than {group} out folds of {h}x{w}")
    rng = np.random.default_rng(zlib.crc32(f"{design}/{case}".encode()))
    lim = 1 << (cfg.bits - 1)
    inputs = [rng.integers(-lim, lim, size=(x, h, w)) for x in segs]
    weights = rng.integers(-lim, lim, size=(n_out, sum(segs), 1, 1))
    bias = rng.integers(-(1 << (2 * cfg.bits)), 1 << (2 * cfg.bits), size=n_out)
    shifts = rng.integers(cfg.bits, 2 * cfg.bits, size=n_out)
    regs = conv_registers(cfg, segs, h, w, 1, n_out, True, stage3, 1, period, 0, h, out_group=group)
    result = run_conv(acc, regs, inputs, weights, bias, shifts)
    expected = reference_conv(inputs, weights, bias, shifts, regs, cfg.bits)
    unsigned = ~np.isin(np.arange(n_out) % period, (2, 3)) if stage3 == 3 else None
    check_output(result, expected, cfg, unsigned)
    counts = expected_counts(cfg, regs)
    assert result.counts == counts
    ungrouped = expected_counts(cfg, {**regs, "out_group": 1})
    assert counts["CONV_READ"] * group >= ungrouped["CONV_READ"] > counts["CONV_READ"] * (group - 1) or group == 1


def test_out_group_refusals(accelerators):
    acc = accelerators["oc8ic8-b16-t128"]
    cfg = acc.config
    base = conv_registers(cfg, (16,), 4, 4, 1, 40, True, band_rows=4, out_group=1)
    for regs, message in (({**base, "out_group": 0}, "at least 1"),
                          ({**base, "ksize": 3, "out_group": 2}, "1x1"),
                          ({**base, "bands": 2, "band_rows": 2, "out_group": 2}, "single band"),
                          ({**base, "out_group": 6}, "out_folds"),
                          ({**base, "out_group": 9}, "out_folds"),
                          ({**conv_registers(cfg, (16,), 8, 8, 1, 40, True, band_rows=8, out_group=1), "out_group": 3},
                           "tile_pixels")):
        with pytest.raises(ValueError, match=f"out_group.*{message}"):
            acc.call(regs, np.zeros(1, np.uint64), np.zeros(1, np.uint64))


@pytest.mark.parametrize("design", ["oc24ic8-b16-t64", "oc8ic8-b8-t128", "ap-oc8ic8-b8-t128"])
@pytest.mark.parametrize("stage3,stride", [(0, 1), (1, 2), (1, 1), (2, 1), (3, 1)], ids=["copy", "pool2", "pool1",
                                                                                        "upsample", "yolo"])
@pytest.mark.parametrize("shape", [(37, 5, 7), (3, 1, 1), (8, 2, 3)], ids=lambda s: "x".join(map(str, s)))
def test_random_bypass(design, stage3, stride, shape, accelerators):
    acc = accelerators[design]
    cfg = acc.config
    lim = 1 << (cfg.bits - 1)
    rng = np.random.default_rng(7)
    x = rng.integers(-lim, lim, size=shape)
    x[0, 0, 0] = -lim
    period, yshift = (11, -2) if stage3 == 3 else (0, 0)
    regs = bypass_registers(cfg, shape[0], shape[1], shape[2], stage3, stride, period, yshift)
    result = acc.call(regs, pack_fmap(x, cfg), np.zeros(0, dtype=np.uint64))
    expected = reference_stage3(x, regs, cfg.bits)
    unsigned = ~np.isin(np.arange(shape[0]) % period, (2, 3)) if stage3 == 3 else None
    check_output(result, expected, cfg, unsigned)
    assert result.counts == expected_counts(cfg, regs)


def test_sigmoid_index_shift_extremes(accelerators):
    """Every 16-bit code through the YOLO path at the extreme shifts of the 6-bit register."""
    acc = accelerators["oc16ic4-b16"]
    cfg = acc.config
    codes = np.arange(-(1 << 15), 1 << 15).reshape(16, 64, 64)
    for yshift in (-32, -8, 0, 1, 15, 31):
        regs = bypass_registers(cfg, 16, 64, 64, 3, yolo_period=16, yolo_shift=yshift)
        result = acc.call(regs, pack_fmap(codes, cfg), np.zeros(0, dtype=np.uint64))
        expected = reference_stage3(codes, regs, 16)
        check_output(result, expected, cfg, ~np.isin(np.arange(16), (2, 3)))


def test_weight_load_outlasts_compute(accelerators):
    """Tiny images: each block's weights take longer to load than to compute (1x1 at 1x1 pixels)."""
    acc = accelerators["oc24ic8-b16-t64"]
    cfg = acc.config
    rng = np.random.default_rng(5)
    x = rng.integers(-300, 300, size=(60, 1, 1))
    wts = rng.integers(-300, 300, size=(50, 60, 1, 1))
    regs = conv_registers(cfg, (60,), 1, 1, 1, 50, True)
    result = run_conv(acc, regs, [x], wts, np.zeros(50, dtype=np.int64), np.full(50, 3))
    counts = expected_counts(cfg, regs)
    assert counts["WEIGHT_LOAD"] > counts["CONV_MAC"]  # the case this test is about
    assert result.counts == counts
    check_output(result, reference_conv([x], wts, np.zeros(50, dtype=np.int64), np.full(50, 3), regs, 16), cfg)


def test_counts_of_a_layer12_call_match_the_formula(accelerators):
    """CONV_MAC of a 13x13x512 -> 1024 3x3 call is pixels * 9 * S_f summed over all blocks."""
    acc = accelerators["oc16ic4-b16"]
    cfg = acc.config
    rng = np.random.default_rng(9)
    x = rng.integers(-50, 50, size=(512, 13, 13))
    w = rng.integers(-50, 50, size=(1024, 512, 3, 3))
    regs = conv_registers(cfg, (512,), 13, 13, 3, 1024, True)
    result = run_conv(acc, regs, [x], w, np.zeros(1024, dtype=np.int64), np.full(1024, 12))
    assert result.counts["CONV_MAC"] == 169 * 9 * (16 // 4) * (512 // 16) * (1024 // 16)
    # 32 input folds; the last one requantises 16 lanes two at a time (requant_lanes=2): 8 cycles a pixel
    assert cfg.requant_lanes == 2
    assert result.counts["ACC"] == 169 * (512 // 16 - 1 + 16 // 2) * (1024 // 16)
    assert result.counts["OUT_WRITE"] == 1024 * 169 // 4


# ----------------------------------------------------------------------------- the call machinery

def test_register_validation_names_the_field(accelerators):
    acc = accelerators["oc24ic8-b16-t64"]
    cfg = acc.config
    good = conv_registers(cfg, (30,), 8, 8, 3, 30, True)
    cases = {
        "height": dict(height=cfg.max_height + 1),
        "ksize": dict(ksize=2),
        "out_folds": dict(out_folds=1),
        "band_rows": dict(band_rows=9, bands=1),  # 72 pixels > tile 64 with two input folds
        "bands": dict(bands=3, band_rows=4),
        "yolo_shift": dict(yolo_shift=32),
        "pool_stride": dict(pool_stride=3),
        "stage3": dict(stage3=4),
    }
    for field, change in cases.items():
        with pytest.raises(ValueError, match=field):
            acc.call({**good, **change}, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
    with pytest.raises(ValueError, match="unknown"):
        acc.call({**good, "gain": 1}, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
    missing = dict(good)
    del missing["leaky"]
    with pytest.raises(ValueError, match="leaky"):
        acc.call(missing, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
    with pytest.raises(ValueError, match="in_words"):
        acc.call(good, np.zeros(5, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
    bypass = bypass_registers(cfg, 8, 2, 2, 0)
    with pytest.raises(ValueError, match="out_channels"):
        acc.call({**bypass, "out_channels": 9, "out_folds": 1}, np.zeros(8, dtype=np.uint64),
                 np.zeros(0, dtype=np.uint64))
    with pytest.raises(ValueError, match="in_words"):
        acc.call(bypass, np.zeros(8, dtype=np.int64), np.zeros(0, dtype=np.uint64))


def test_stream_mismatch_is_an_error(accelerators, monkeypatch):
    """If the host's stream lengths and the kernel disagree, the call fails loudly (it would hang)."""
    from zynqyolo.hls import csim
    from zynqyolo.dse.registers import CallWords

    acc = accelerators["oc24ic8-b16-t64"]
    cfg = acc.config
    regs = conv_registers(cfg, (8,), 4, 4, 3, 8, True)
    real = csim.call_words(cfg, regs)
    monkeypatch.setattr(csim, "call_words", lambda c, r: CallWords(real.in_words, real.wts_words - 3, real.out_words))
    x = pack_fmap(np.ones((8, 4, 4), dtype=np.int64), cfg)
    params = pack_params(np.ones((8, 8, 3, 3), dtype=np.int64), np.zeros(8, dtype=np.int64),
                         np.zeros(8, dtype=np.int64), (8,), 1, cfg)
    with pytest.raises(ZynqyoloError, match="empty stream"):
        acc.call(regs, x, params[:-3])


def test_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    from zynqyolo.hls.csim import CsimAccelerator

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(ZynqyoloError, match="g\\+\\+"):
        CsimAccelerator(HwConfig())


def test_bus_128_is_refused():
    from zynqyolo.hls.csim import CsimAccelerator

    with pytest.raises(ZynqyoloError, match="64-bit bus"):
        CsimAccelerator(HwConfig(bus_bits=128, p_oc=24, p_ic=8))


def test_compile_error_shows_the_compiler_output(monkeypatch, tmp_path, toolchain):
    from zynqyolo.hls import csim

    fake = tmp_path / "fake-g++"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'fake 1.0'; exit 0; fi\n"
                    "echo 'yolo_accel.cpp:1:1: error: something exploded' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CXX", str(fake))
    monkeypatch.setattr(csim, "_cache_root", lambda: cache)
    with pytest.raises(ZynqyoloError, match="something exploded"):
        csim.build_library(HwConfig())
    assert not [p for p in cache.iterdir()], "a failed build left files in the cache"


def test_concurrent_builds_share_one_cache_entry(monkeypatch, tmp_path, toolchain):
    from zynqyolo.hls import csim

    monkeypatch.setattr(csim, "_cache_root", lambda: tmp_path)
    cfg = HwConfig(p_oc=8, p_ic=4, bits=16, max_width=16, max_height=16, max_in_channels=64, max_out_channels=64)
    barrier = threading.Barrier(2)

    def build(_):
        barrier.wait()
        return csim.build_library(cfg)

    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(build, range(2)))
    assert paths[0] == paths[1] and paths[0].is_file()
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].parent.name]  # no temporary folder left
    acc = csim.CsimAccelerator(cfg)
    x = np.arange(8 * 2 * 2).reshape(8, 2, 2) - 10
    result = acc.call(bypass_registers(cfg, 8, 2, 2, 1, 2), pack_fmap(x, cfg), np.zeros(0, dtype=np.uint64))
    check_output(result, maxpool(x, 2, 2, 0, (1, 1)), cfg)
