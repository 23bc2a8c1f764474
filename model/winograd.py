"""Winograd minimal filtering F(2x2, 3x3) in exact integers: the arithmetic a Winograd conv engine
computes, as a numpy reference for its transforms (issue: beyond one multiplication per DSP).

A 2x2 output tile of a 3x3, stride-1 convolution from a 4x4 input tile d and a filter g:

    Y = A^T [ (G g G^T) (.) (B^T d B) ] A        (16 multiplications instead of 36)

G has halves, so the filter transform is scaled by 2 on both sides: U = (2G) g (2G)^T = 4 G g G^T is
an integer matrix, V = B^T d B needs additions only, and

    A^T [ sum_c U_c (.) V_c ] A = 4 * (the direct convolution sum)

exactly, so the division by 4 is exact and the result equals the direct integer convolution bit for
bit: the arithmetic contract (model/fixed.py) does not change, only how the sum is computed.

Widths (``transform_bits``): every row of 2G has L1 norm at most 3, so |U| <= 9 max|g| (20 bits
signed for 16-bit weights, 12 for 8-bit); every row of B^T has L1 norm 2, so |V| <= 4 max|d| (18 bits
signed for 16-bit codes, 10 for 8-bit). A 20 x 18 signed product fits one DSP48E1 (25 x 18).

Feature maps whose size is not a multiple of the tile are handled by padding the tile grid (zeros,
like the convolution's own padding) and dropping the extra outputs.
"""

from __future__ import annotations

import numpy as np

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.int64)
G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], dtype=np.int64)  # 2 G
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.int64)
TILE = 2  # output tile side m of F(m x m, 3 x 3)
IN_TILE = TILE + 2  # input tile side m + r - 1
SCALE = 4  # A^T [sum U (.) V] A = SCALE * direct

# Paired positions (a winograd-paired design, hls/include/zy_winograd.h "Paired positions"): the high
# lanes hold the 180-degree-rotated filters, whose U is U with rows and columns 0 and 3 swapped
# (SIGMA). Step k of a paired tile computes the low lanes' position PAIR_POSITIONS[k] and, for
# k < PAIR_SINGLES, the high lanes' sigma of it; a tile takes PAIR_STEPS steps.
SIGMA = (3, 1, 2, 0)
PAIR_POSITIONS = (0, 1, 2, 3, 4, 8, 5, 6, 9, 10)
PAIR_SINGLES = 6
PAIR_STEPS = len(PAIR_POSITIONS)


def sigma(e: int) -> int:
    """Position e = 4 i + j of the transformed tile with SIGMA on both indices."""
    return IN_TILE * SIGMA[e // IN_TILE] + SIGMA[e % IN_TILE]


def filter_transform(w: np.ndarray) -> np.ndarray:
    """Integer weights (F, C, 3, 3) -> U = (2G) w (2G)^T, (F, C, 4, 4) int64."""
    w = np.asarray(w, dtype=np.int64)
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"filter_transform: weights must be (F, C, 3, 3), got {w.shape}")
    return np.einsum("ik,fckl,jl->fcij", G2, w, G2)


def data_transform(tiles: np.ndarray) -> np.ndarray:
    """Input tiles (..., 4, 4) -> V = B^T d B (..., 4, 4) int64, additions only."""
    d = np.asarray(tiles, dtype=np.int64)
    return np.einsum("ik,...kl,jl->...ij", B_T, d, B_T)


def output_transform(m: np.ndarray) -> np.ndarray:
    """M (..., 4, 4) -> A^T M A / SCALE (..., 2, 2), checking the division is exact."""
    y4 = np.einsum("ik,...kl,jl->...ij", A_T, np.asarray(m, dtype=np.int64), A_T)
    if np.any(y4 % SCALE):
        raise ArithmeticError("A^T M A is not a multiple of 4: M is not a sum of transformed products")
    return y4 // SCALE


def input_tiles(x: np.ndarray) -> np.ndarray:
    """Codes (C, H, W) -> overlapping 4x4 tiles (C, th, tw, 4, 4) of the zero-padded map, tile (i, j)
    covering padded rows 2i..2i+3 and columns 2j..2j+3; th = ceil(H / 2), tw = ceil(W / 2)."""
    x = np.asarray(x, dtype=np.int64)
    c, h, w = x.shape
    th, tw = -(-h // TILE), -(-w // TILE)
    padded = np.zeros((c, TILE * th + 2, TILE * tw + 2), dtype=np.int64)
    padded[:, 1:h + 1, 1:w + 1] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, (IN_TILE, IN_TILE), axis=(1, 2))
    return view[:, ::TILE, ::TILE]


def conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact 3x3, stride-1, pad-1 convolution sums (F, H, W) int64 of codes x (C, H, W) and integer
    weights w (F, C, 3, 3), computed the Winograd way (tiles, transforms, channel sums of 16 products)."""
    x = np.asarray(x, dtype=np.int64)
    c, h, width = x.shape
    if np.asarray(w).shape[1] != c:
        raise ValueError(f"conv3x3: {c} input channels but weights for {np.asarray(w).shape[1]}")
    u = filter_transform(w)  # (F, C, 4, 4)
    v = data_transform(input_tiles(x))  # (C, th, tw, 4, 4)
    m = np.einsum("fcij,cstij->fstij", u, v)  # the channel sum of elementwise products
    y = output_transform(m)  # (F, th, tw, 2, 2)
    f, th, tw = y.shape[:3]
    out = y.transpose(0, 1, 3, 2, 4).reshape(f, TILE * th, TILE * tw)
    return out[:, :h, :width]


def _signed_width(lo: int, hi: int) -> int:
    """The fewest bits of two's complement holding every value in lo..hi."""
    w = 1
    while not -(1 << (w - 1)) <= lo <= hi <= (1 << (w - 1)) - 1:
        w += 1
    return w


def _transform_range(left: np.ndarray, right: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Exact range of every entry of left @ X @ right^T over X with entries in lo..hi."""
    coeffs = np.einsum("ik,jl->ijkl", left, right).reshape(left.shape[0] * right.shape[0], -1)
    highs = np.where(coeffs > 0, coeffs * hi, coeffs * lo).sum(axis=1)
    lows = np.where(coeffs > 0, coeffs * lo, coeffs * hi).sum(axis=1)
    return int(lows.min()), int(highs.max())


def transform_bits(bits: int) -> dict[str, int]:
    """Signed widths of U (filter transform of ``bits``-bit weights), V (data transform of
    ``bits``-bit codes) and of one U x V product, from the exact ranges of the transforms."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    u_lo, u_hi = _transform_range(G2, G2, lo, hi)
    v_lo, v_hi = _transform_range(B_T, B_T, lo, hi)
    products = [u_lo * v_lo, u_lo * v_hi, u_hi * v_lo, u_hi * v_hi]
    return {"u": _signed_width(u_lo, u_hi), "v": _signed_width(v_lo, v_hi),
            "product": _signed_width(min(products), max(products))}
