"""Fixed-point primitives against an independent pure-Python integer model of the contract, and
extreme images (all zero, all white, saturated) through the integer reference."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.fixed import (FixedFormat, SigmoidLut, align, dequantize, frac_for_max_abs, maxpool, quantize,
                                  requantize, round_shift, saturate, sigmoid_lut, upsample)

# ---- the contract, written again with Python integers and Fractions ---------------------------


def py_round_shift(x: int, shift: int, rounding: str = "rnd") -> int:
    if shift <= 0:
        return x * 2 ** (-shift)
    exact = Fraction(x, 2**shift)
    return math.floor(exact + Fraction(1, 2)) if rounding == "rnd" else math.floor(exact)


def py_range(width: int, signed: bool) -> tuple[int, int]:
    return (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)


def py_saturate(x: int, width: int, signed: bool, overflow: str = "sat") -> int:
    lo, hi = py_range(width, signed)
    if overflow == "sat":
        return min(max(x, lo), hi)
    bits = x & (2**width - 1)  # two's complement wrap by masking
    return bits - 2**width if signed and bits >= 2 ** (width - 1) else bits


def py_quantize(x: float, width: int, frac: int, signed: bool = True, rounding: str = "rnd") -> int:
    scaled = Fraction(x) * Fraction(2) ** frac
    code = math.floor(scaled + Fraction(1, 2)) if rounding == "rnd" else math.floor(scaled)
    return py_saturate(code, width, signed)


def py_requantize(acc: int, acc_frac: int, out_width: int, out_frac: int, leaky: bool) -> int:
    s = acc_frac - out_frac
    if leaky and acc < 0:
        value = py_round_shift(acc * 0xCCCD, s + 19)
    else:
        value = py_round_shift(acc, s)
    return py_saturate(value, out_width, True)


formats = st.builds(FixedFormat, width=st.integers(1, 40), frac=st.integers(-20, 60), signed=st.booleans(),
                    rounding=st.sampled_from(["rnd", "trn"]), overflow=st.sampled_from(["sat", "wrap"]))
ints48 = st.integers(-(2**47), 2**47 - 1)


@given(x=ints48, shift=st.integers(-14, 40), rounding=st.sampled_from(["rnd", "trn"]))
def test_round_shift_matches_python(x, shift, rounding):
    assert int(round_shift(np.int64(x), shift, rounding)) == py_round_shift(x, shift, rounding)


@given(xs=st.lists(ints48, min_size=1, max_size=8), shifts=st.lists(st.integers(-10, 40), min_size=8, max_size=8),
       rounding=st.sampled_from(["rnd", "trn"]))
def test_round_shift_per_element_shift(xs, shifts, rounding):
    shifts = shifts[:len(xs)]
    got = round_shift(np.array(xs, dtype=np.int64), np.array(shifts), rounding)
    assert got.tolist() == [py_round_shift(x, s, rounding) for x, s in zip(xs, shifts)]


def test_round_half_up_ties():
    # round half towards +inf: -2.5 -> -2, -1.5 -> -1, 1.5 -> 2, 2.5 -> 3
    assert round_shift(np.array([-5, -3, -1, 1, 3, 5]), 1).tolist() == [-2, -1, 0, 1, 2, 3]
    assert round_shift(np.array([-5, -3, 3, 5]), 1, "trn").tolist() == [-3, -2, 1, 2]


@given(x=st.integers(-(2**61), 2**61), fmt=formats)
def test_saturate_and_wrap_match_python(x, fmt):
    assert int(saturate(np.int64(x), fmt)) == py_saturate(x, fmt.width, fmt.signed, fmt.overflow)


@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64), width=st.integers(2, 40),
       frac=st.integers(-20, 40), signed=st.booleans(), rounding=st.sampled_from(["rnd", "trn"]))
@example(x=-5e-324, width=2, frac=-1, signed=True, rounding="trn")  # ldexp underflows to -0.0
def test_quantize_matches_exact_rounding(x, width, frac, signed, rounding):
    fmt = FixedFormat(width, frac, signed, rounding)
    assert int(quantize(x, fmt)) == py_quantize(x, width, frac, signed, rounding)


def test_quantize_extremes():
    f = FixedFormat(16, 15)
    assert quantize([np.inf, -np.inf, 1e300, -1e300], f).tolist() == [32767, -32768, 32767, -32768]
    assert quantize([1.0, -1.0, 0.0, 5e-324], f).tolist() == [32767, -32768, 0, 0]
    # the largest double below 1/2 LSB must round down (naive x*2^f + 0.5 in float rounds it up)
    assert int(quantize(np.nextafter(0.5, 0.0) * 2.0**-15, f)) == 0
    assert int(quantize(0.5 * 2.0**-15, f)) == 1
    assert int(quantize(-0.5 * 2.0**-15, f)) == 0
    with pytest.raises(ZynqyoloError, match="NaN"):
        quantize([np.nan], f)


@given(x=ints48, src=st.builds(FixedFormat, width=st.integers(8, 48), frac=st.integers(-8, 40)),
       dst=formats)
def test_align_matches_python(x, src, dst):
    x = py_saturate(x, src.width, True)
    expected = py_saturate(py_round_shift(x, src.frac - dst.frac, dst.rounding), dst.width, dst.signed, dst.overflow)
    assume(dst.frac - src.frac < 14)  # left shifts stay inside int64
    assert int(align(np.int64(x), src, dst)) == expected
    # value preserved exactly when the destination is finer and wide enough
    if dst.frac >= src.frac and dst.signed and dst.width >= src.width + dst.frac - src.frac:
        assert dequantize(align(np.int64(x), src, dst), dst) == dequantize(np.int64(x), src)


@given(acc=st.integers(-(2**44), 2**44), acc_frac=st.integers(0, 34), out_frac=st.integers(-4, 34),
       width=st.sampled_from([8, 16]), leaky=st.booleans())
def test_requantize_matches_python(acc, acc_frac, out_frac, width, leaky):
    assume(out_frac <= acc_frac)
    got = int(requantize(np.int64(acc), acc_frac, FixedFormat(width, out_frac), leaky))
    assert got == py_requantize(acc, acc_frac, width, out_frac, leaky)


@given(accs=st.lists(st.integers(-(2**40), 2**40), min_size=4, max_size=4),
       fracs=st.lists(st.integers(10, 30), min_size=4, max_size=4), leaky=st.booleans())
def test_requantize_per_channel(accs, fracs, leaky):
    out = FixedFormat(16, 9)
    got = requantize(np.array(accs)[:, None], np.array(fracs)[:, None], out, leaky)[:, 0].tolist()
    assert got == [py_requantize(a, f, 16, 9, leaky) for a, f in zip(accs, fracs)]


def test_requantize_refuses_left_shift():
    with pytest.raises(ZynqyoloError, match="exceeds the accumulator frac"):
        requantize(np.int64(5), 8, FixedFormat(16, 9), leaky=False)


def test_leaky_constant_error_is_as_documented():
    # 0xCCCD / 2^19 - 0.1 = 3.8147e-7; over the 16-bit output range the constant costs <= 1/8 LSB
    slope = 0xCCCD / 2**19
    assert abs(slope - 0.1) < 3.82e-7
    assert abs(slope - 0.1) * 10 * 2**15 <= 0.125


@given(max_abs=st.floats(min_value=1e-6, max_value=1e6), width=st.sampled_from([8, 16]))
def test_frac_for_max_abs_is_the_largest_without_saturation(max_abs, width):
    f = frac_for_max_abs(max_abs, width)
    hi = 2 ** (width - 1) - 1
    assert math.floor(Fraction(max_abs) * Fraction(2) ** f + Fraction(1, 2)) <= hi
    assert math.floor(Fraction(max_abs) * Fraction(2) ** (f + 1) + Fraction(1, 2)) > hi


def test_format_validation_names_the_field():
    with pytest.raises(ZynqyoloError, match="width"):
        FixedFormat(0, 3)
    with pytest.raises(ZynqyoloError, match="rounding"):
        FixedFormat(16, 3, rounding="nearest")
    with pytest.raises(ZynqyoloError, match="overflow"):
        FixedFormat(16, 3, overflow="clip")
    assert FixedFormat(16, 10).ap_type == "ap_fixed<16,6,AP_RND,AP_SAT>"
    assert FixedFormat(16, 16, signed=False).ap_type == "ap_ufixed<16,0,AP_RND,AP_SAT>"
    assert FixedFormat.from_dict(FixedFormat(8, -2, False, "trn", "wrap").to_dict()) == FixedFormat(8, -2, False,
                                                                                                  "trn", "wrap")


# ---- max-pool, upsample, sigmoid table ---------------------------------------------------------


def py_maxpool(x, size, stride, offset, oh, ow):
    """darknet forward_maxpool_layer: cells outside the input are skipped."""
    c, h, w = x.shape
    out = np.zeros((c, oh, ow), dtype=np.int64)
    for k in range(c):
        for i in range(oh):
            for j in range(ow):
                best = None
                for n in range(size):
                    for m in range(size):
                        yy, xx = offset + i * stride + n, offset + j * stride + m
                        if 0 <= yy < h and 0 <= xx < w:
                            best = x[k, yy, xx] if best is None else max(best, x[k, yy, xx])
                out[k, i, j] = best
    return out


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), hw=st.integers(2, 9), case=st.sampled_from([(2, 2, 1), (2, 1, 1), (3, 2, 2)]))
def test_maxpool_matches_darknet_loops(seed, hw, case):
    size, stride, padding = case
    x = np.random.default_rng(seed).integers(-(2**15), 2**15, size=(2, hw, hw))
    oh = (hw + padding - size) // stride + 1
    offset = -(padding // 2)
    assert np.array_equal(maxpool(x, size, stride, offset, (oh, oh)), py_maxpool(x, size, stride, offset, oh, oh))


def test_maxpool_padding_never_wins():
    x = np.full((1, 3, 3), -(2**15), dtype=np.int32)  # every cell at the minimum code
    y = maxpool(x, 2, 1, 0, (3, 3))
    assert np.all(y == -(2**15))


def test_upsample_nearest():
    x = np.arange(6).reshape(1, 2, 3)
    y = upsample(x, 2)
    assert y.shape == (1, 4, 6)
    for i in range(4):
        for j in range(6):
            assert y[0, i, j] == x[0, i // 2, j // 2]


def py_sigmoid_code(x: int, x_frac: int, lut: SigmoidLut) -> int:
    a = abs(x)
    index = min(py_round_shift(a, x_frac - lut.in_frac), lut.entries - 1)
    t = index / 2**lut.in_frac
    entry = min(math.floor(Fraction(1.0 / (1.0 + math.exp(-t))) * 2**lut.out.frac + Fraction(1, 2)),
                2**lut.out.frac - 1)
    return entry if x >= 0 else 2**lut.out.frac - entry


@pytest.mark.parametrize("bits", [16, 8])
@given(xs=st.lists(st.integers(-(2**15), 2**15 - 1), min_size=1, max_size=16), x_frac=st.integers(0, 15))
def test_sigmoid_lut_matches_python(bits, xs, x_frac):
    lut = sigmoid_lut(bits)
    if bits == 8:
        xs = [py_saturate(x, 8, True) for x in xs]
    got = lut.apply(np.array(xs), x_frac).tolist()
    assert got == [py_sigmoid_code(x, x_frac, lut) for x in xs]


# ---- extreme images through the integer reference (reduced size) ----------------------------------


@pytest.fixture(scope="module")
def small_refs(model_files):
    """Integer references at 128x128, 16- and 8-bit, calibrated on two photos."""
    from zynqyolo.fetch import photo
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0], width=128, height=128)
    weights = load_weights(model_files[1], net)
    calib = [photo("bus"), photo("astronaut")]
    refs = {bits: IntegerReference(calibrate(net, weights, calib, bits=bits)) for bits in (16, 8)}
    # 16-bit default formats keep one bit of headroom, so conv 0 cannot be driven to saturation by
    # [0, 1] inputs; the saturation test uses formats without it.
    refs["16-no-headroom"] = IntegerReference(calibrate(net, weights, calib, bits=16, headroom_bits=0))
    return refs, weights


def _check_ranges(ref, acts):
    for layer in ref.network.layers:
        codes = acts[layer.index]
        fmt = ref.model.sigmoid.out if layer.kind == "yolo" else ref.model.formats[layer.index]
        lo = min(fmt.min_code, ref.model.formats[layer.index].min_code)
        hi = max(fmt.max_code, ref.model.formats[layer.index].max_code)
        assert codes.min() >= lo and codes.max() <= hi, f"layer {layer.index} outside {fmt}"


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("value", [0.0, 1.0, 4.0, -4.0])
def test_extreme_images_stay_in_range(small_refs, bits, value):
    ref = small_refs[0][bits]
    x = np.full(ref.network.input_shape.as_tuple(), value, dtype=np.float32)
    codes = ref.quantize_input(x)
    fin = ref.model.input_format
    expected = py_quantize(value, fin.width, fin.frac)
    assert np.all(codes == expected)
    acts = ref.run(codes, keep_all=True)[1]
    _check_ranges(ref, acts)
    outs = ref.forward(x)
    assert all(np.all(np.isfinite(o)) for o in outs)


def test_white_saturates_input_when_one_is_not_representable(small_refs):
    ref = small_refs[0][16]
    fin = ref.model.input_format
    x = np.ones(ref.network.input_shape.as_tuple(), dtype=np.float32)
    expected = fin.max_code if 2**fin.frac > fin.max_code else 2**fin.frac
    assert np.all(ref.quantize_input(x) == expected)


@pytest.mark.parametrize("bits", [16, 8])
def test_zero_image_gives_requantised_bias(small_refs, bits):
    """All-zero input: every accumulator of conv 0 is 0, so each output channel is the requantised
    bias, computed here with Python integers."""
    ref = small_refs[0][bits]
    q = ref.model.convs[0]
    zeros = np.zeros(ref.network.input_shape.as_tuple(), dtype=np.int32)
    out = ref.run(zeros, keep_all=True)[1][0]
    for o, b in enumerate(ref.model.biases[0].tolist()):
        acc_frac = q.input.frac + q.weight_fracs[o]
        acc = b * 2 ** (acc_frac - q.bias.frac)
        assert np.all(out[o] == py_requantize(acc, acc_frac, bits, q.output.frac, leaky=True))


@pytest.mark.parametrize("bits", ["16-no-headroom", 8])
def test_saturated_image_saturates_where_the_float_math_overflows(small_refs, bits):
    """An image that drives one conv-0 channel to its maximum: pixel (c, y, x) is 1 where that
    channel's weight w[c, y % 3, x % 3] is positive, else 0. Where the window is aligned with the
    pattern the float pre-activation is sum(max(w, 0)) + b; beyond the output range (by a margin)
    the integer reference must give exactly the maximum code, and stay in range everywhere."""
    refs, weights = small_refs
    ref = refs[bits]
    w, b = weights.convs[0].folded()
    q = ref.model.convs[0]
    peak = np.clip(w, 0, None).sum(axis=(1, 2, 3)) + b
    o = int(np.argmax(peak))
    assert peak[o] > q.output.max_value * 1.05, "the saturation case is not exercised"
    _, h, wd = ref.network.input_shape.as_tuple()
    yy, xx = np.meshgrid(np.arange(h) % 3, np.arange(wd) % 3, indexing="ij")
    x = (w[o][:, yy, xx] > 0).astype(np.float32)
    codes = ref.quantize_input(x)
    acts = ref.run(codes, keep_all=True)[1]
    _check_ranges(ref, acts)
    aligned = acts[0][o, 1:-1:3, 1:-1:3]  # output (i, j) reads rows i-1..i+1: aligned when (i-1) % 3 == 0
    assert np.all(aligned == q.output.max_code)


def test_round_shift_mixed_shifts_up_to_63():
    """Per-element shifts that mix 0 with 63 (no 1 << 63 overflow in the rounding half)."""
    from zynqyolo.model.fixed import round_shift

    got = round_shift(np.array([5, 5, -7, 2**62]), np.array([63, 0, 63, 62]))
    assert got.tolist() == [0, 5, 0, 1]  # floor(x / 2**63 + 1/2) for small x is 0; 2**62 / 2**62 = 1
