"""The integer reference: bit-exact against a pure-Python rendering of the contract on a tiny
network, layer-local error bounds against float64 math, end-to-end bounds against the float
reference, the sigmoid table's error bound, and the backend protocol."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model import load_cfg, load_weights, parse_cfg
from zynqyolo.model.fixed import LEAKY_CONST_ERROR, FixedFormat, dequantize, sigmoid_lut
from zynqyolo.model.float_ref import FloatReference, im2col
from zynqyolo.model.intref import IntegerReference
from zynqyolo.model.ir import INPUT, Conv, MaxPool, Route, Upsample, Yolo
from zynqyolo.model.preprocess import letterbox, load_image
from zynqyolo.model.quantize import calibrate, check_model
from zynqyolo.model.weights import ConvParams, Weights

TINY_CFG = """
[net]
width=32
height=32
channels=3

# 0: 8x32x32, 1: 8x16x16
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

# 2: stride-2 conv 8x8x8, 3: darknet-padded 2x2/1 pool
[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=2
stride=1

# 4, 5: head
[convolutional]
size=1
stride=1
pad=1
filters=18
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=1

# 6..8: route, upsample, two-way route
[route]
layers=-4

[upsample]
stride=2

[route]
layers=-1, 1

# 9, 10
[convolutional]
size=1
stride=1
pad=1
filters=18
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=1
"""


def tiny_weights(network, seed: int) -> Weights:
    rng = np.random.default_rng(seed)
    convs = {}
    for conv in network.convs:
        shape = (conv.filters, conv.in_shape.c, conv.size, conv.size)
        w = (rng.standard_normal(shape) * 0.4).astype(np.float32)
        b = (rng.standard_normal(conv.filters) * 0.5).astype(np.float32)
        if conv.batch_normalize:
            convs[conv.index] = ConvParams(w, b, rng.uniform(0.5, 2.0, conv.filters).astype(np.float32),
                                           (rng.standard_normal(conv.filters) * 0.2).astype(np.float32),
                                           rng.uniform(0.2, 3.0, conv.filters).astype(np.float32))
        else:
            convs[conv.index] = ConvParams(w, b)
    return Weights((0, 2, 0, 0), convs)


# ---- the whole contract in pure Python (ints, lists, loops) -----------------------------------


def _rshift(x: int, s: int) -> int:
    return x if s == 0 else (x + (1 << (s - 1))) >> s  # Python >> floors: round half up


def _sat(x: int, fmt: FixedFormat) -> int:
    return min(max(x, fmt.min_code), fmt.max_code)


def py_conv(layer: Conv, x, q, w, b):
    c_in, h, wd = len(x), len(x[0]), len(x[0][0])
    oh, ow = layer.out_shape.h, layer.out_shape.w
    out = []
    for o in range(layer.filters):
        acc_frac = q.input.frac + q.weight_fracs[o]
        bias = int(b[o]) << (acc_frac - q.bias.frac)
        s = acc_frac - q.output.frac
        plane = []
        for i in range(oh):
            row = []
            for j in range(ow):
                acc = 0
                for c in range(c_in):
                    for ky in range(layer.size):
                        for kx in range(layer.size):
                            yy = i * layer.stride + ky - layer.padding
                            xx = j * layer.stride + kx - layer.padding
                            if 0 <= yy < h and 0 <= xx < wd:
                                acc += x[c][yy][xx] * int(w[o, c, ky, kx])
                acc += bias
                if layer.activation == "leaky" and acc < 0:
                    y = _rshift(acc * 52429, s + 19)
                else:
                    y = _rshift(acc, s)
                row.append(_sat(y, q.output))
            plane.append(row)
        out.append(plane)
    return out


def py_maxpool(layer: MaxPool, x):
    h, wd = len(x[0]), len(x[0][0])
    out = []
    for plane in x:
        rows = []
        for i in range(layer.out_shape.h):
            row = []
            for j in range(layer.out_shape.w):
                cells = [plane[yy][xx] for n in range(layer.size) for m in range(layer.size)
                         for yy, xx in [(layer.offset + i * layer.stride + n, layer.offset + j * layer.stride + m)]
                         if 0 <= yy < h and 0 <= xx < wd]
                row.append(max(cells))
            rows.append(row)
        out.append(rows)
    return out


def py_sigmoid(x: int, x_frac: int, lut) -> int:
    d = x_frac - lut.in_frac
    a = abs(x)
    index = min(_rshift(a, d) if d > 0 else a << -d, lut.entries - 1)
    t = index / 2**lut.in_frac
    entry = min(math.floor((1.0 / (1.0 + math.exp(-t))) * 2**lut.out.frac + 0.5), 2**lut.out.frac - 1)
    return entry if x >= 0 else 2**lut.out.frac - entry


def py_network(model, codes):
    net = model.network
    x = codes.tolist()
    outs = {}
    val = lambda i: x if i == INPUT else outs[i]  # noqa: E731
    for layer in net.layers:
        src = val(layer.inputs[0])
        if isinstance(layer, Conv):
            outs[layer.index] = py_conv(layer, src, model.convs[layer.index], model.weights[layer.index],
                                        model.biases[layer.index])
        elif isinstance(layer, MaxPool):
            outs[layer.index] = py_maxpool(layer, src)
        elif isinstance(layer, Upsample):
            s = layer.stride
            outs[layer.index] = [[[p[i // s][j // s] for j in range(len(p[0]) * s)] for i in range(len(p) * s)]
                                 for p in src]
        elif isinstance(layer, Route):
            outs[layer.index] = [p for i in layer.inputs for p in val(i)]
        elif isinstance(layer, Yolo):
            fi = model.formats[layer.inputs[0]].frac
            per = 5 + layer.classes
            outs[layer.index] = [[[v if c % per in (2, 3) else py_sigmoid(v, fi, model.sigmoid) for v in row]
                                  for row in plane] for c, plane in enumerate(src)]
    return outs


@pytest.fixture(scope="module")
def tiny():
    net = parse_cfg(TINY_CFG)
    weights = tiny_weights(net, seed=7)
    rng = np.random.default_rng(3)
    calib = [rng.random((3, 32, 32), dtype=np.float32) for _ in range(2)]
    return net, weights, calib


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("per_channel", [True, False])
def test_tiny_network_bit_exact_against_python(tiny, bits, per_channel):
    net, weights, calib = tiny
    model = calibrate(net, weights, calib, bits=bits, per_channel=per_channel)
    ref = IntegerReference(model)
    x = np.random.default_rng(11).random((3, 32, 32), dtype=np.float32) * 1.2  # a little beyond calibration
    codes = ref.quantize_input(x)
    got = ref.run(codes, keep_all=True)[1]
    expected = py_network(model, codes)
    for layer in net.layers:
        assert np.array_equal(got[layer.index], np.array(expected[layer.index])), f"layer {layer.index}"


def test_int64_fallback_matches_float64_gemm(tiny, monkeypatch):
    import zynqyolo.model.intref as intref

    net, weights, calib = tiny
    model = calibrate(net, weights, calib, bits=16)
    x = IntegerReference(model).quantize_input(calib[0])
    fast = IntegerReference(model).run(x, keep_all=True)[1]
    monkeypatch.setattr(intref, "float64_exact", lambda model, conv: False)
    slow_ref = IntegerReference(model)
    assert all(not entry[1] for entry in slow_ref._convs.values())
    slow = slow_ref.run(x, keep_all=True)[1]
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow))


def test_structural_checks_refuse_a_narrow_accumulator(tiny):
    net, weights, calib = tiny
    model = calibrate(net, weights, calib, bits=16)
    q = model.convs[0]
    bad = dataclasses.replace(model, convs={**model.convs, 0: dataclasses.replace(q, acc_width=q.acc_width - 1)})
    with pytest.raises(ZynqyoloError, match="accumulator width"):
        check_model(bad)
    bad = dataclasses.replace(model, convs={**model.convs, 0: dataclasses.replace(q, output=q.output.with_frac(40))})
    with pytest.raises(ZynqyoloError):
        IntegerReference(bad)


# ---- the real network at reduced size -------------------------------------------------------------

SIZE = 160


@pytest.fixture(scope="module")
def real(model_files, photos):
    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    weights = load_weights(model_files[1], net)
    calib = [photos["bus"], photos["zidane"], photos["astronaut"], photos["chelsea"]]
    refs = {bits: IntegerReference(calibrate(net, weights, calib, bits=bits)) for bits in (16, 8)}
    test_images = [letterbox(load_image(photos[n]), SIZE, SIZE) for n in ("coffee", "grace_hopper")]
    return net, weights, refs, FloatReference(net, weights), test_images


@pytest.mark.parametrize("bits", [16, 8])
def test_each_conv_is_within_its_rounding_bound(real, bits):
    """Layer-local bound. Feed a conv its integer input, compute the exact real result in float64
    from the dequantised input, weights and bias (exact 0.1 slope), and scale it to output LSBs
    (r). The integer output may differ from clamp(r) only by the requantisation rounding (0.5 LSB)
    plus, for negative pre-activations, the leaky constant's error |z| * 3.8147e-7 (<= 0.125 LSB in
    range at 16 bits). Clamping is 1-Lipschitz, so the bound survives saturation."""
    net, weights, refs, _, images = real
    ref = refs[bits]
    acts = ref.activations(images[0])
    for conv in net.convs:
        q = ref.model.convs[conv.index]
        a = acts[conv.inputs[0]] if conv.inputs[0] != INPUT else ref.quantize_input(images[0])
        w = ref.model.weights[conv.index].astype(np.float64) * 2.0 ** -np.array(q.weight_fracs)[:, None, None, None]
        b = dequantize(ref.model.biases[conv.index], q.bias)
        z = w.reshape(conv.filters, -1) @ im2col(dequantize(a, q.input), conv.size, conv.stride, conv.padding)
        z = z.reshape(conv.out_shape.as_tuple()) + b[:, None, None]
        act = np.where(z < 0, 0.1 * z, z) if conv.activation == "leaky" else z
        r = np.clip(act * 2.0**q.output.frac, q.output.min_code, q.output.max_code)
        leaky_err = np.where(z < 0, np.abs(z) * abs(LEAKY_CONST_ERROR) * 2.0**q.output.frac, 0.0) \
            if conv.activation == "leaky" else 0.0
        err = np.abs(acts[conv.index] - r)
        assert np.all(err <= 0.5 + leaky_err + 1e-6), f"layer {conv.index}: max {err.max():.4f} LSB"


# End-to-end bounds (integer reference vs numpy float reference, two photos not used for
# calibration, 160x160, default formats). Errors compound through 13 convs and the formats come
# from calibration, so no tight analytic bound exists end to end (the rigorous part is the
# layer-local bound above); these are the measured worst values with a margin of about 2x
# (about 6 dB), so a regression beyond them is a bug:
#   16-bit: per-layer SQNR measured 55.6..72.2 dB (bound >= 48 dB); YOLO sigmoid outputs max
#           |error| 2.2e-3 (bound 5e-3); tw/th raw max |error| 2.0e-3 (bound 5e-3).
#   8-bit:  per-layer SQNR measured 14.7..26.2 dB (bound >= 11 dB); max |error| is not bounded
#           usefully at 8 bits (sigmoid 0.26 measured), fidelity is checked in test_fidelity.
E2E_BOUNDS = {16: dict(sqnr_db=48.0, sigmoid=5e-3, raw=5e-3), 8: dict(sqnr_db=11.0)}


@pytest.mark.parametrize("bits", [16, 8])
def test_end_to_end_error_against_float_reference(real, bits):
    net, _, refs, float_ref, images = real
    ref = refs[bits]
    bound = E2E_BOUNDS[bits]
    signal, noise = {}, {}
    worst_sig = worst_raw = 0.0
    for x in images:
        f = float_ref.activations(x)
        q = ref.activations(x)
        for layer in net.layers:
            if isinstance(layer, (Conv, Yolo)):
                fv = f[layer.index].astype(np.float64)
                qv = ref.dequantize_layer(layer.index, q[layer.index])
                signal[layer.index] = signal.get(layer.index, 0.0) + float(np.sum(fv**2))
                noise[layer.index] = noise.get(layer.index, 0.0) + float(np.sum((fv - qv) ** 2))
            if isinstance(layer, Yolo):
                per = 5 + layer.classes
                raw = np.isin(np.arange(layer.out_shape.c) % per, (2, 3))
                diff = np.abs(f[layer.index].astype(np.float64) - ref.dequantize_layer(layer.index, q[layer.index]))
                worst_sig = max(worst_sig, float(diff[~raw].max()))
                worst_raw = max(worst_raw, float(diff[raw].max()))
    for index in signal:
        db = 10 * math.log10(signal[index] / noise[index])
        assert db >= bound["sqnr_db"], f"layer {index}: SQNR {db:.1f} dB"
    if bits == 16:
        assert worst_sig <= bound["sigmoid"]
        assert worst_raw <= bound["raw"]


@pytest.mark.parametrize("bits,documented", [(16, 5.1e-4), (8, 7.9e-3)])
def test_sigmoid_table_error_bound(bits, documented):
    """Measured here over every 16-bit input code and input frac 0..15 (8-bit: every 8-bit code),
    against the bound written in fixed.py (16-bit: 5.04e-4, 8-bit: 7.81e-3)."""
    lut = sigmoid_lut(bits)
    width = 16 if bits == 16 else 8
    codes = np.arange(-(2 ** (width - 1)), 2 ** (width - 1))
    worst = 0.0
    for frac in range(16):
        x = codes * 2.0**-frac
        with np.errstate(over="ignore"):
            exact = 1.0 / (1.0 + np.exp(-x))
        got = lut.apply(codes, frac) * 2.0**-lut.out.frac
        worst = max(worst, float(np.max(np.abs(got - exact))))
    assert worst <= lut.error_bound() <= documented
    assert worst > lut.error_bound() / 2  # the bound is not loose by more than 2x


def test_backend_protocol(real):
    net, _, refs, _, images = real
    ref = refs[16]
    assert ref.name == "ref" and ref.network is net
    outs = ref.forward(images[0])
    assert [o.shape for o in outs] == [y.out_shape.as_tuple() for y in net.yolos]
    assert all(o.dtype == np.float32 for o in outs)
    sig = outs[0][4]  # objectness of anchor 0: in [0, 1)
    assert sig.min() >= 0.0 and sig.max() < 1.0
    with pytest.raises(ZynqyoloError, match="letterbox"):
        ref.forward(np.zeros((3, 32, 32), np.float32))
