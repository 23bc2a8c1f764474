"""Winograd F(2x2, 3x3) in integers (model/winograd.py) equals the direct integer convolution bit for
bit, on random and extreme codes, odd and small maps, at 16 and 8 bits; the transform widths hold."""

from __future__ import annotations

import numpy as np
import pytest

from zynqyolo.model import winograd


def direct_conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact 3x3, stride-1, pad-1 convolution sums by shifted windows (Python ints via int64, no transform)."""
    c, h, width = x.shape
    padded = np.zeros((c, h + 2, width + 2), dtype=np.int64)
    padded[:, 1:-1, 1:-1] = x
    out = np.zeros((w.shape[0], h, width), dtype=np.int64)
    for ky in range(3):
        for kx in range(3):
            window = padded[:, ky:ky + h, kx:kx + width]  # (C, H, W)
            out += np.einsum("fc,chw->fhw", w[:, :, ky, kx].astype(np.int64), window)
    return out


def codes(rng, shape, bits):
    return rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=shape, dtype=np.int64)


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("shape", [(3, 13, 13), (16, 26, 26), (5, 7, 5), (4, 1, 1), (2, 2, 3), (8, 3, 4)])
def test_winograd_equals_the_direct_convolution(bits, shape):
    rng = np.random.default_rng(sum(shape) * bits)
    x = codes(rng, shape, bits)
    w = codes(rng, (6, shape[0], 3, 3), bits)
    assert np.array_equal(winograd.conv3x3(x, w), direct_conv3x3(x, w))


@pytest.mark.parametrize("bits", [16, 8])
def test_extreme_codes_and_the_transform_widths(bits):
    """All-minimum and alternating extreme codes: still exact, and U, V and U x V stay inside the
    widths transform_bits gives (the DSP48E1 multiplier is 25 x 18)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    sign = np.where((np.indices((4, 6, 6)).sum(axis=0) % 2) == 0, hi, lo)
    for x, w in ((np.full((4, 6, 6), lo), np.full((3, 4, 3, 3), lo)),
                 (sign, np.where(np.indices((3, 4, 3, 3)).sum(axis=0) % 2 == 0, lo, hi))):
        assert np.array_equal(winograd.conv3x3(x, w), direct_conv3x3(x, w))
    widths = winograd.transform_bits(bits)
    rng = np.random.default_rng(bits)
    u = winograd.filter_transform(np.concatenate([codes(rng, (64, 1, 3, 3), bits), np.full((1, 1, 3, 3), lo)]))
    v = winograd.data_transform(winograd.input_tiles(np.concatenate([codes(rng, (64, 8, 8), bits),
                                                                     np.full((1, 8, 8), lo)])))
    for name, arr in (("u", u), ("v", v)):
        assert -(1 << (widths[name] - 1)) <= arr.min() and arr.max() < 1 << (widths[name] - 1), name
    assert widths["u"] <= 25 and widths["v"] <= 18  # one DSP48E1 per product at 16 bits
    assert (widths["u"], widths["v"]) == ((20, 18) if bits == 16 else (12, 10))


def test_the_output_transform_refuses_an_inexact_division():
    m = np.zeros((4, 4), dtype=np.int64)
    m[0, 0] = 1  # not a sum of transformed products: A^T M A is not a multiple of 4
    with pytest.raises(ArithmeticError):
        winograd.output_transform(m)


def test_sixteen_multiplications_per_tile():
    """A 4x4 tile and a 3x3 filter: 16 elementwise products give the 2x2 outputs (36 direct)."""
    rng = np.random.default_rng(7)
    x, w = codes(rng, (1, 2, 2), 16), codes(rng, (1, 1, 3, 3), 16)
    u, v = winograd.filter_transform(w), winograd.data_transform(winograd.input_tiles(x))
    assert u.shape[-2:] == v.shape[-2:] == (4, 4) and v.shape[1:3] == (1, 1)
    assert np.array_equal(winograd.output_transform(u[0, 0] * v[0, 0, 0]), direct_conv3x3(x, w)[0])
