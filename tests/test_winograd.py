"""Winograd F(2x2, 3x3) and F(4x2, 3x3) in integers (model/winograd.py) equal the direct integer
convolution bit for bit, on random and extreme codes, odd and small maps, at 16 and 8 bits; the
transform widths hold, and the exact division by 3 of F(4x2)'s scale of 48 is exact."""

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


@pytest.mark.parametrize("tile_w", winograd.TILE_WIDTHS)
@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("shape", [(3, 13, 13), (16, 26, 26), (5, 7, 5), (4, 1, 1), (2, 2, 3), (8, 3, 4),
                                   (3, 6, 9), (2, 5, 14)])
def test_winograd_equals_the_direct_convolution(bits, shape, tile_w):
    rng = np.random.default_rng(sum(shape) * bits + tile_w)
    x = codes(rng, shape, bits)
    w = codes(rng, (6, shape[0], 3, 3), bits)
    assert np.array_equal(winograd.conv3x3(x, w, tile_w), direct_conv3x3(x, w))


# (U, V) widths by hand from the L1 norms of the rows: F(2x2) 9x and 4x (module docstring); F(4x2)
# 3 * 24 = 72x (15 bits at 8) and 2 * 10 = 20x (13 bits at 8, 21 at 16: over the DSP's 18-bit port).
HAND_WIDTHS = {(2, 16): (20, 18), (2, 8): (12, 10), (4, 16): (23, 21), (4, 8): (15, 13)}


@pytest.mark.parametrize("tile_w", winograd.TILE_WIDTHS)
@pytest.mark.parametrize("bits", [16, 8])
def test_extreme_codes_and_the_transform_widths(bits, tile_w):
    """All-minimum and alternating extreme codes: still exact, and U, V and U x V stay inside the
    widths transform_bits gives (the DSP48E1 multiplier is 25 x 18)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    sign = np.where((np.indices((4, 6, 6)).sum(axis=0) % 2) == 0, hi, lo)
    for x, w in ((np.full((4, 6, 6), lo), np.full((3, 4, 3, 3), lo)),
                 (sign, np.where(np.indices((3, 4, 3, 3)).sum(axis=0) % 2 == 0, lo, hi))):
        assert np.array_equal(winograd.conv3x3(x, w, tile_w), direct_conv3x3(x, w))
    widths = winograd.transform_bits(bits, tile_w)
    rng = np.random.default_rng(bits)
    u = winograd.filter_transform(np.concatenate([codes(rng, (64, 1, 3, 3), bits), np.full((1, 1, 3, 3), lo)]),
                                  tile_w)
    v = winograd.data_transform(winograd.input_tiles(np.concatenate([codes(rng, (64, 8, 8), bits),
                                                                     np.full((1, 8, 8), lo)]), tile_w), tile_w)
    for name, arr in (("u", u), ("v", v)):
        assert -(1 << (widths[name] - 1)) <= arr.min() and arr.max() < 1 << (widths[name] - 1), name
    assert (widths["u"], widths["v"]) == HAND_WIDTHS[tile_w, bits]
    # one DSP48E1 (25 x 18) per product: F(2x2) at both precisions, F(4x2) at 8 bits only
    assert (widths["u"] <= 25 and widths["v"] <= 18) == (tile_w == 2 or bits == 8)


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


def test_twenty_four_multiplications_per_f4x2_tile():
    """A 4 x 6 window and a 3x3 filter: 24 elementwise products give the 2 x 4 outputs (72 direct),
    and A^T M A4 is 48 times the direct sums."""
    rng = np.random.default_rng(8)
    x, w = codes(rng, (1, 2, 4), 8), codes(rng, (1, 1, 3, 3), 8)
    u, v = winograd.filter_transform(w, 4), winograd.data_transform(winograd.input_tiles(x, 4), 4)
    assert u.shape[-2:] == v.shape[-2:] == (4, 6) and v.shape[1:3] == (1, 1)
    assert winograd.positions(4) == 24 and winograd.scale(4) == 48
    assert np.array_equal(winograd.output_transform(u[0, 0] * v[0, 0, 0], 4), direct_conv3x3(x, w)[0])


def test_exact_division_by_three():
    """The kernels' /3 (a product with 3's inverse modulo 2^bits, wrapped) is exact on multiples of 3
    across the width, the extremes included, and refuses what is not a multiple."""
    bits = 28
    q = np.array([0, 1, -1, 7, -123456, (1 << (bits - 1)) - 1, -(1 << (bits - 1))], dtype=np.int64)
    assert np.array_equal(winograd.exact_div3(3 * q, bits), q)
    with pytest.raises(ArithmeticError):
        winograd.exact_div3(np.array([4]), bits)
    with pytest.raises(ValueError, match="tile width"):
        winograd.conv3x3(np.zeros((1, 4, 4)), np.zeros((1, 1, 3, 3)), 3)
