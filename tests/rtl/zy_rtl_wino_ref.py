"""Stimulus and expected values for the Winograd RTL benches (dse/rtl/zy_wino_*.v), from
zynqyolo.model.winograd and nothing else.

Every expected value is a call into ``zynqyolo.model.winograd`` (the exact integer transforms of the
F(2x2, 3x3) path): ``data_transform`` (V = B^T d B), ``filter_transform`` (U = (2G) g (2G)^T),
``output_transform`` (Y = A^T M A / 4, exact), ``conv3x3`` and ``transform_bits``; the only other
arithmetic is the two's complement wrap of the 48-bit accumulators (``wrap``). The generators check
their corner vectors reach the ends of the transforms' ranges (the widths of transform_bits are
needed), and the output tiles' M are real channel sums of U x V products: their Y / 4 equals the
direct 3x3 convolution of the tile (checked here against a sum written out without the transforms).
Nothing here reads the Verilog.
"""

from __future__ import annotations

import numpy as np

from zynqyolo.model import winograd

ACC_BITS = 48  # the kernels' accumulator (dse.hwconfig.ACC_BITS)
LONG_CHANNELS = 512  # YOLOv3-tiny's largest 3x3 layer: 512 input channels (K = 4608)

# A paired call's steps: model.winograd's schedule; a tile takes PAIR_STEPS of them, PAIR_LONG_STEPS
# on its tile row's last tile (past the schedule the loop's position is 10 and every V zero).
PAIR_STEPS = winograd.PAIR_STEPS
PAIR_LONG_STEPS = winograd.IN_TILE ** 2


def paired_step(k: int) -> tuple[int, int, bool, bool]:
    """Step k of a paired tile: (low position, high position, low zero, high zero)."""
    e = winograd.PAIR_POSITIONS[k] if k < PAIR_STEPS else winograd.PAIR_POSITIONS[-1]
    return e, winograd.sigma(e), k >= PAIR_STEPS, k >= winograd.PAIR_SINGLES


# the schedule computes every position exactly once
_covered = [p for k in range(PAIR_STEPS) for p, z in zip(paired_step(k)[:2], paired_step(k)[2:]) if not z]
assert sorted(_covered) == list(range(16)), _covered


def code_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def wrap(x, width: int) -> np.ndarray:
    """``width``-bit two's complement wrap of int64 values."""
    x = np.asarray(x, dtype=np.int64)
    half = np.int64(1 << (width - 1))
    return ((x + half) & np.int64((1 << width) - 1)) - half


def special_codes(bits: int) -> np.ndarray:
    lo, hi = code_range(bits)
    return np.array([lo, hi, lo + 1, hi - 1, 0, -1, 1], dtype=np.int64)


def _extreme_inputs(coeffs: np.ndarray, rng: np.random.Generator, bits: int, n: int, sign: int) -> np.ndarray:
    """n inputs maximising (sign = 1) or minimising (sign = -1) sum(coeffs * x): the maximum code where
    the coefficient has the sign, the minimum where it has the other, a random code where it is 0."""
    lo, hi = code_range(bits)
    x = rng.integers(lo, hi + 1, size=(n,) + coeffs.shape, dtype=np.int64)
    c = coeffs * sign
    x[:, c > 0] = hi
    x[:, c < 0] = lo
    return x


# ------------------------------------------------------------------------------ data transform ----
def data_vectors(seed: int, n_random: int, bits: int, lanes: int) -> dict[str, np.ndarray]:
    """Windows (N, lanes, 4, 4), positions e = 4 i + j (N,) and V[i][j] (N, lanes) =
    winograd.data_transform(window)[i, j]. Corners first: for every position the windows that
    maximise and minimise its V (each swept over all 16 positions), the all-minimum and all-maximum
    windows, windows of the special codes (extremes, +-1, 0); then n_random random windows at
    random positions."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    wins, pos = [], []

    def sweep(w):  # one window (lanes, 4, 4) at all 16 positions
        wins.extend([w] * 16)
        pos.extend(range(16))

    for e in range(16):
        coeffs = np.outer(winograd.B_T[e // 4], winograd.B_T[e % 4])  # V[i][j] = sum coeffs * d
        for sign in (1, -1):
            sweep(_extreme_inputs(coeffs, rng, bits, lanes, sign))
    sweep(np.full((lanes, 4, 4), lo, dtype=np.int64))
    sweep(np.full((lanes, 4, 4), hi, dtype=np.int64))
    for _ in range(64):
        sweep(rng.choice(special_codes(bits), size=(lanes, 4, 4)))
    n_corner = len(pos)
    wins.extend(rng.integers(lo, hi + 1, size=(n_random, lanes, 4, 4), dtype=np.int64))
    pos.extend(rng.integers(0, 16, size=n_random).tolist())
    windows = np.array(wins, dtype=np.int64)
    e = np.array(pos, dtype=np.int64)
    v = winograd.data_transform(windows)  # (N, lanes, 4, 4)
    expected = v[np.arange(len(e)), :, e // 4, e % 4]
    # the corners reach both ends of V's range: -2^(bits+1) needs the top bit of bits + 2
    wv = winograd.transform_bits(bits)["v"]
    assert wv == bits + 2
    assert int(expected.min()) == -(1 << (wv - 1)) and int(expected.max()) == (1 << (wv - 1)) - 2
    return {"windows": windows, "e": e, "expected": expected, "n_corner": n_corner}


# ---------------------------------------------------------------------------- filter transform ----
def filter_vectors(seed: int, n_random: int, bits: int, lanes: int) -> dict[str, np.ndarray]:
    """Taps (N, lanes, 3, 3) and U (N, lanes, 4, 4) = winograd.filter_transform(taps). Corners
    first: for each of the 16 U entries the filters maximising and minimising it, the all-minimum
    and all-maximum filters, filters of the special codes; then n_random random filters."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    taps = []
    for e in range(16):
        coeffs = np.outer(winograd.G2[e // 4], winograd.G2[e % 4])  # U[i][j] = sum coeffs * g
        for sign in (1, -1):
            taps.append(_extreme_inputs(coeffs, rng, bits, lanes, sign))
    taps.append(np.full((lanes, 3, 3), lo, dtype=np.int64))
    taps.append(np.full((lanes, 3, 3), hi, dtype=np.int64))
    for _ in range(200):
        taps.append(rng.choice(special_codes(bits), size=(lanes, 3, 3)))
    n_corner = len(taps)
    taps.extend(rng.integers(lo, hi + 1, size=(n_random, lanes, 3, 3), dtype=np.int64))
    g = np.array(taps, dtype=np.int64)
    u = winograd.filter_transform(g)  # (N, lanes, 4, 4)
    # the corners need all of U's bits + 4: -9 * 2^(bits-1) (all minimum) and beyond +2^(bits+2)
    wu = winograd.transform_bits(bits)["u"]
    assert wu == bits + 4
    assert int(u.min()) == 9 * lo and int(u.max()) >= 1 << (wu - 2)
    return {"taps": g, "expected": u, "n_corner": n_corner}


# ---------------------------------------------------------------------------- output transform ----
def _direct_tile(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The 2x2 outputs of a 3x3 convolution of the 4x4 tiles d (..., C, 4, 4) with g (..., C, 3, 3),
    written out without the transforms."""
    out = np.zeros(g.shape[:-3] + (2, 2), dtype=np.int64)
    for qy in range(2):
        for qx in range(2):
            out[..., qy, qx] = np.einsum("...ckl,...ckl->...", g, d[..., qy:qy + 3, qx:qx + 3])
    return out


def _products(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """M = sum_c U_c (.) V_c (..., 4, 4) of filters g (..., C, 3, 3) and tiles d (..., C, 4, 4)."""
    lead = g.shape[:-3]
    c = g.shape[-3]
    u = winograd.filter_transform(g.reshape(-1, c, 3, 3)).reshape(lead + (c, 4, 4))
    v = winograd.data_transform(d)
    return np.einsum("...cij,...cij->...ij", u, v)


def output_tiles(seed: int, n_tiles: int, bits: int, lanes: int) -> dict:
    """Tiles of M (T, lanes, 4, 4) (the MAC array's 48-bit sums of positions e = 4 i + j) and the
    latched outputs Y / 4 (T, lanes, 2, 2).

    Kinds: "real" (random filters and tiles over 1..16 channels: M a real channel sum of U x V, Y / 4
    = winograd.output_transform(M) = the direct convolution of the tile); "long" (LONG_CHANNELS
    channels of extreme codes: the largest sums the layers make); "wrap" (M random 48-bit multiples
    of 4: Y is a multiple of 4 but leaves 48 bits, so the latched value is the 48-bit wrap of Y,
    shifted: wrap(output_transform(M), 46)). The kinds are interleaved."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    kinds = ["long"] * 8 + ["wrap"] * max(1, n_tiles // 8)
    kinds += ["real"] * max(1, n_tiles - len(kinds))
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    m = np.zeros((len(kinds), lanes, 4, 4), dtype=np.int64)
    y = np.zeros((len(kinds), lanes, 2, 2), dtype=np.int64)
    long_done = 0
    for t, kind in enumerate(kinds):
        if kind == "wrap":
            m[t] = 4 * rng.integers(-(1 << (ACC_BITS - 3)), 1 << (ACC_BITS - 3), size=(lanes, 4, 4), dtype=np.int64)
            y[t] = wrap(winograd.output_transform(m[t]), ACC_BITS - 2)
            continue
        if kind == "real":
            c = int(rng.integers(1, 17))
            g = rng.integers(lo, hi + 1, size=(lanes, c, 3, 3), dtype=np.int64)
            d = rng.integers(lo, hi + 1, size=(lanes, c, 4, 4), dtype=np.int64)
        else:  # long: all minimum (the largest positive sum), all maximum against minimum, random extremes
            c = LONG_CHANNELS
            g = np.full((lanes, c, 3, 3), lo, dtype=np.int64)
            d = np.full((lanes, c, 4, 4), lo, dtype=np.int64)
            if long_done % 4 == 1:
                d[:] = hi
            elif long_done % 4 >= 2:
                g = rng.choice(np.array([lo, hi]), size=(lanes, c, 3, 3))
                d = rng.choice(np.array([lo, hi]), size=(lanes, c, 4, 4))
            long_done += 1
        m[t] = _products(g, d)
        y[t] = winograd.output_transform(m[t])
        assert np.array_equal(y[t], _direct_tile(g, d))
        assert np.all(np.abs(m[t]) < 1 << (ACC_BITS - 1))  # the MAC array's 48-bit sums hold M
    # the long corner reaches the direct sum's bound: K * 2^(2 bits - 2) at K = 9 * LONG_CHANNELS
    real = np.array([k != "wrap" for k in kinds])
    assert int(y[real].max()) == 9 * LONG_CHANNELS * lo * lo
    return {"m": m, "y": y, "kinds": kinds}
