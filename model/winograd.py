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

F(4x2, 3x3) (``TILE_W = 4``: a tile 4 columns wide and 2 rows high, from a 4 x 6 input window) runs
F(4, 3) across and F(2, 3) down: 24 multiplications for 8 outputs (3 a pixel, against 4 for F(2x2)
and 9 direct), with the same 4-row window, so the line buffer does not change. F(4, 3) takes the
points 0, 1, -1, 2, -2 and infinity; its G has sixths and twenty-fourths, so the across filter
transform is scaled by 24 (G24 = 24 G, integer) and the down one by 2 as above:

    U = (2G) g (24 G4)^T,  V = B^T d B4,  A^T [ sum_c U_c (.) V_c ] A4 = 48 * (the direct sum)

exactly. Widths: the rows of 24 G4 have L1 norm at most 24 and those of B4^T at most 10, so with
8-bit weights and codes |U| <= 72 * 128 (15 bits signed) and |V| <= 20 * 128 (13 bits): one
DSP48E1 (25 x 18) multiplication. With 16-bit codes V needs 21 bits, more than the DSP's 18-bit
port, which is why F(4x2) is an 8-bit engine. Dividing by 48 is a shift by 4 (the sum is a multiple
of 16) and an exact division by 3 (``exact_div3``: a multiplication by the inverse of 3 modulo a
power of two, additions and shifts in hardware).
"""

from __future__ import annotations

import numpy as np

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.int64)
G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], dtype=np.int64)  # 2 G
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.int64)
TILE = 2  # output tile side m of F(m x m, 3 x 3)
IN_TILE = TILE + 2  # input tile side m + r - 1
SCALE = 4  # A^T [sum U (.) V] A = SCALE * direct

# F(4, 3) across (points 0, 1, -1, 2, -2, infinity), for F(4x2, 3x3): B4^T, 24 G4 and A4^T.
B4_T = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=np.int64)
G4_24 = np.array([[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]], dtype=np.int64)
A4_T = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                dtype=np.int64)
TILE_WIDTHS = (2, 4)  # F(2x2, 3x3) and F(4x2, 3x3): the tile's columns; its rows are always TILE


def across(tile_w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(B^T, scaled G, A^T, scale) of the across (column) transform of a tile ``tile_w`` wide."""
    if tile_w == 2:
        return B_T, G2, A_T, 2
    if tile_w == 4:
        return B4_T, G4_24, A4_T, 24
    raise ValueError(f"winograd: tile width must be one of {TILE_WIDTHS}, got {tile_w!r}")


def scale(tile_w: int = TILE) -> int:
    """A^T [sum U (.) V] A4 = scale * direct: 4 for F(2x2), 48 for F(4x2)."""
    return 2 * across(tile_w)[3]


def positions(tile_w: int = TILE) -> int:
    """Transformed positions (multiplications per tile and channel pair): 16 or 24."""
    return IN_TILE * (tile_w + 2)


def exact_div3(x: np.ndarray, bits: int) -> np.ndarray:
    """x / 3 for x an exact multiple of 3 with |x / 3| < 2^(bits-1), the way the kernels divide: the
    product with the inverse of 3 modulo 2^bits, wrapped to ``bits`` signed (no divider)."""
    x = np.asarray(x, dtype=np.int64)
    inv = pow(3, -1, 1 << bits)
    q = (x.astype(object) * inv) % (1 << bits)
    q = np.where(q >= (1 << (bits - 1)), q - (1 << bits), q).astype(np.int64)
    if np.any(q * 3 != x):
        raise ArithmeticError("exact_div3: not a multiple of 3 within the width")
    return q

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


def filter_transform(w: np.ndarray, tile_w: int = TILE) -> np.ndarray:
    """Integer weights (F, C, 3, 3) -> U = (2G) w (G')^T, (F, C, 4, tile_w + 2) int64, G' the across
    transform's scaled G (2G for F(2x2), 24 G4 for F(4x2))."""
    w = np.asarray(w, dtype=np.int64)
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"filter_transform: weights must be (F, C, 3, 3), got {w.shape}")
    return np.einsum("ik,fckl,jl->fcij", G2, w, across(tile_w)[1])


def data_transform(tiles: np.ndarray, tile_w: int = TILE) -> np.ndarray:
    """Input tiles (..., 4, tile_w + 2) -> V = B^T d B' (same shape) int64, additions only."""
    d = np.asarray(tiles, dtype=np.int64)
    return np.einsum("ik,...kl,jl->...ij", B_T, d, across(tile_w)[0])


def output_transform(m: np.ndarray, tile_w: int = TILE) -> np.ndarray:
    """M (..., 4, tile_w + 2) -> A^T M A' / scale (..., 2, tile_w), checking the division is exact."""
    y = np.einsum("ik,...kl,jl->...ij", A_T, np.asarray(m, dtype=np.int64), across(tile_w)[2])
    if np.any(y % scale(tile_w)):
        raise ArithmeticError(f"A^T M A is not a multiple of {scale(tile_w)}: M is not a sum of transformed products")
    return y // scale(tile_w)


def input_tiles(x: np.ndarray, tile_w: int = TILE) -> np.ndarray:
    """Codes (C, H, W) -> overlapping 4 x (tile_w + 2) tiles (C, th, tw, 4, tile_w + 2) of the
    zero-padded map, tile (i, j) covering padded rows 2i..2i+3 and columns tile_w j .. tile_w j +
    tile_w + 1; th = ceil(H / 2), tw = ceil(W / tile_w)."""
    x = np.asarray(x, dtype=np.int64)
    across(tile_w)
    c, h, w = x.shape
    th, tw = -(-h // TILE), -(-w // tile_w)
    padded = np.zeros((c, TILE * th + 2, tile_w * tw + 2), dtype=np.int64)
    padded[:, 1:h + 1, 1:w + 1] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, (IN_TILE, tile_w + 2), axis=(1, 2))
    return view[:, ::TILE, ::tile_w]


def conv3x3(x: np.ndarray, w: np.ndarray, tile_w: int = TILE) -> np.ndarray:
    """Exact 3x3, stride-1, pad-1 convolution sums (F, H, W) int64 of codes x (C, H, W) and integer
    weights w (F, C, 3, 3), computed the Winograd way (tiles, transforms, channel sums of products)
    with tiles 2 rows by ``tile_w`` columns."""
    x = np.asarray(x, dtype=np.int64)
    c, h, width = x.shape
    if np.asarray(w).shape[1] != c:
        raise ValueError(f"conv3x3: {c} input channels but weights for {np.asarray(w).shape[1]}")
    u = filter_transform(w, tile_w)  # (F, C, 4, tile_w + 2)
    v = data_transform(input_tiles(x, tile_w), tile_w)  # (C, th, tw, 4, tile_w + 2)
    m = np.einsum("fcij,cstij->fstij", u, v)  # the channel sum of elementwise products
    y = output_transform(m, tile_w)  # (F, th, tw, 2, tile_w)
    f, th, tw = y.shape[:3]
    out = y.transpose(0, 1, 3, 2, 4).reshape(f, TILE * th, tile_w * tw)
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


def transform_bits(bits: int, tile_w: int = TILE) -> dict[str, int]:
    """Signed widths of U (filter transform of ``bits``-bit weights), V (data transform of
    ``bits``-bit codes) and of one U x V product, from the exact ranges of the transforms."""
    bt, g, _, _ = across(tile_w)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    u_lo, u_hi = _transform_range(G2, g, lo, hi)
    v_lo, v_hi = _transform_range(B_T, bt, lo, hi)
    products = [u_lo * v_lo, u_lo * v_hi, u_hi * v_lo, u_hi * v_hi]
    return {"u": _signed_width(u_lo, u_hi), "v": _signed_width(v_lo, v_hi),
            "product": _signed_width(min(products), max(products))}
