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

F(4x2, 3x3) (the section at the end, for zy_wino4_*.v): the same calls with tile_w = 4
(``data_transform(., 4)``, ``filter_transform(., 4)``, ``output_transform(., 4)``), positions
column-major (e = 4 j + i). Its output transform wraps at the kernel's wy_bits and divides by 3 with
the inverse of 3 modulo 2^(wy_bits - 4); ``output4_kernel`` is that arithmetic (the only expected
value not a model.winograd call: for random sums that are no real tile), and output4_tiles checks it
equals winograd.output_transform(M, 4) on every real tile.
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


# ============================================================ F(4x2, 3x3) (zy_wino4_*.v) ============
# A tile 4 columns by 2 rows from a 4 x 6 window (model.winograd with tile_w = 4: B4_T, G4_24, A4_T,
# scale 48); positions column-major, e = 4 j + i (i the row 0..3, j the column 0..5), as the kernel's
# (hls/include/zy_winograd.h "F(4x2) tiles"). 8 bits only.
TILE_W4 = 4
POS4 = winograd.positions(TILE_W4)  # 24
COLS4 = TILE_W4 + 2  # window columns
P_IC4 = 8  # input lanes of a sub-fold in the output benches' tiles
P_OC4 = 24  # ... and the fold width of dse.hwconfig.wino_y_bits(8, 24, 4) = 29: at most 24 channels a fold
SLOTS4 = 2 * TILE_W4  # output pixels of a tile


def position4(e: int) -> tuple[int, int]:
    """(i, j) of position e = 4 j + i."""
    return e % 4, e // 4


# The previous tile's pixel (r, c) that leaves at iteration e of the span after its last (zy_winograd.h
# wino4_across_step; WINO_DRAIN: e < 12): F(2x2)'s tile order over the two 2 x 2 sub-tiles.
EMIT4 = {0: (0, 0), 1: (0, 1), 4: (1, 0), 5: (1, 1), 6: (0, 2), 7: (0, 3), 10: (1, 2), 11: (1, 3)}
DRAIN4 = 12  # WINO_DRAIN's iterations

assert sorted(EMIT4.values()) == [(r, c) for r in range(2) for c in range(4)] and max(EMIT4) < DRAIN4
assert list(EMIT4.values()) == [(r, 2 * st + c) for st in range(2) for r in range(2) for c in range(2)]


def _exact_range(coeffs: np.ndarray, bits: int) -> tuple[int, int]:
    """The least and greatest sum(coeffs * x) over codes x of ``bits`` bits."""
    lo, hi = code_range(bits)
    top = int(np.where(coeffs > 0, coeffs * hi, coeffs * lo).sum())
    bottom = int(np.where(coeffs > 0, coeffs * lo, coeffs * hi).sum())
    return bottom, top


def _alternating(shape: tuple[int, ...], bits: int, phase: int) -> np.ndarray:
    """The extremes in a checkerboard over the last two axes (the most negative code where the
    indices' sum has parity ``phase``, the largest elsewhere)."""
    lo, hi = code_range(bits)
    a, b = np.indices(shape[-2:])
    board = np.where((a + b) % 2 == phase, lo, hi).astype(np.int64)
    return np.broadcast_to(board, shape).copy()


def data4_vectors(seed: int, n_random: int, bits: int, lanes: int) -> dict[str, np.ndarray]:
    """Windows (N, lanes, 4, 6), positions e = 4 j + i (N,) and V[i][j] (N, lanes) =
    winograd.data_transform(window, 4)[i, j]. Corners first: for every position the windows that
    maximise and minimise its V (each swept over all 24 positions), the all-minimum and all-maximum
    windows, the two checkerboards of the extremes, windows of random extremes and of the special
    codes; then n_random random windows at random positions."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    wins, pos = [], []

    def sweep(w):  # one window (lanes, 4, 6) at all 24 positions
        wins.extend([w] * POS4)
        pos.extend(range(POS4))

    for e in range(POS4):
        i, j = position4(e)
        coeffs = np.outer(winograd.B_T[i], winograd.B4_T[j])  # V[i][j] = sum coeffs * d
        for sign in (1, -1):
            sweep(_extreme_inputs(coeffs, rng, bits, lanes, sign))
    sweep(np.full((lanes, 4, COLS4), lo, dtype=np.int64))
    sweep(np.full((lanes, 4, COLS4), hi, dtype=np.int64))
    for phase in (0, 1):
        sweep(_alternating((lanes, 4, COLS4), bits, phase))
    for _ in range(16):
        sweep(rng.choice(np.array([lo, hi]), size=(lanes, 4, COLS4)))
    for _ in range(32):
        sweep(rng.choice(special_codes(bits), size=(lanes, 4, COLS4)))
    n_corner = len(pos)
    wins.extend(rng.integers(lo, hi + 1, size=(n_random, lanes, 4, COLS4), dtype=np.int64))
    pos.extend(rng.integers(0, POS4, size=n_random).tolist())
    windows = np.array(wins, dtype=np.int64)
    e = np.array(pos, dtype=np.int64)
    v = winograd.data_transform(windows, TILE_W4)  # (N, lanes, 4, 6)
    expected = v[np.arange(len(e)), :, e % 4, e // 4]
    # the corners reach both ends of V's range, which needs all of bits + 5 (|V| up to 20 * 2^(bits-1))
    wv = winograd.transform_bits(bits, TILE_W4)["v"]
    assert wv == bits + 5
    ends = [_exact_range(np.outer(winograd.B_T[i], winograd.B4_T[j]), bits) for j in range(COLS4) for i in range(4)]
    v_lo, v_hi = min(a for a, _ in ends), max(b for _, b in ends)
    assert int(expected.min()) == v_lo and int(expected.max()) == v_hi
    assert v_lo < -(1 << (wv - 2)) and v_hi >= 1 << (wv - 2)
    return {"windows": windows, "e": e, "expected": expected, "n_corner": n_corner, "range": (v_lo, v_hi)}


def filter4_vectors(seed: int, n_random: int, bits: int, lanes: int) -> dict[str, np.ndarray]:
    """Taps (N, lanes, 3, 3) and U (N, lanes, 4, 6) = winograd.filter_transform(taps, 4). Corners
    first: for each of the 24 U entries the filters maximising and minimising it, the all-minimum
    and all-maximum filters, the two checkerboards of the extremes, random extremes, special codes;
    then n_random random filters."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    taps = []
    for e in range(POS4):
        i, j = position4(e)
        coeffs = np.outer(winograd.G2[i], winograd.G4_24[j])  # U[i][j] = sum coeffs * g
        for sign in (1, -1):
            taps.append(_extreme_inputs(coeffs, rng, bits, lanes, sign))
    taps.append(np.full((lanes, 3, 3), lo, dtype=np.int64))
    taps.append(np.full((lanes, 3, 3), hi, dtype=np.int64))
    for phase in (0, 1):
        taps.append(_alternating((lanes, 3, 3), bits, phase))
    for _ in range(50):
        taps.append(rng.choice(np.array([lo, hi]), size=(lanes, 3, 3)))
    for _ in range(200):
        taps.append(rng.choice(special_codes(bits), size=(lanes, 3, 3)))
    n_corner = len(taps)
    taps.extend(rng.integers(lo, hi + 1, size=(n_random, lanes, 3, 3), dtype=np.int64))
    g = np.array(taps, dtype=np.int64)
    u = winograd.filter_transform(g, TILE_W4)  # (N, lanes, 4, 6)
    # the corners reach both ends of U's range, which needs all of bits + 7 (|U| up to 72 * 2^(bits-1))
    wu = winograd.transform_bits(bits, TILE_W4)["u"]
    assert wu == bits + 7
    ends = [_exact_range(np.outer(winograd.G2[i], winograd.G4_24[j]), bits) for j in range(COLS4) for i in range(4)]
    u_lo, u_hi = min(a for a, _ in ends), max(b for _, b in ends)
    assert int(u.min()) == u_lo == 72 * lo and int(u.max()) == u_hi
    assert u_lo < -(1 << (wu - 2))
    return {"taps": g, "expected": u, "n_corner": n_corner, "range": (u_lo, u_hi)}


def output4_kernel(m: np.ndarray, acc: int) -> np.ndarray:
    """The F(4x2) output transform as the kernel computes it, in ``acc``-bit two's complement (the
    circuit's ACC, the kernel's wy_bits): the row sums m (S, lanes, 4, 6) of a tile's S sub-folds (as
    the MAC array hands them over, cut to acc bits) -> the 8 psum lanes (lanes, 2, 4). Column sums z =
    A^T M and Y = z A4^T wrap at acc bits, then q = Y >> 4 at acc - 4 bits: 3 x the pixel (stage 2
    divides a call's sum by 3, zy_accumulate.h). For a tile whose M is a real sum of U x V products and
    whose Y fits acc bits, this is 3 x winograd.output_transform(M, 4) (output4_tiles checks it); for
    any other sums it is what the kernel's wrapping arithmetic makes."""
    m = wrap(m, acc)
    z = wrap(np.einsum("ri,slij->lrj", winograd.A_T, m), acc)
    y = wrap(np.einsum("lrj,cj->lrc", z, winograd.A4_T), acc)
    return wrap(y >> 4, acc - 4)


def _direct_tile4(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The 2 x 4 outputs of a 3x3 convolution of the 4 x 6 tile d (C, 4, 6) with filters g (lanes, C,
    3, 3), written out without the transforms."""
    out = np.zeros((g.shape[0], 2, TILE_W4), dtype=np.int64)
    for r in range(2):
        for c in range(TILE_W4):
            out[:, r, c] = np.einsum("lckm,ckm->l", g, d[:, r:r + 3, c:c + 3])
    return out


def output4_tiles(seed: int, n_tiles: int, bits: int, lanes: int, acc: int) -> dict:
    """Tiles of row sums for the F(4x2) output transform: per tile ``m`` (S, lanes, 4, 6), the MAC
    array's sums of its S sub-folds at positions (i, j) cut to ``acc`` bits, ``y`` (lanes, 2, 4), the
    tile's pixels (real kinds), and ``q`` (lanes, 2, 4), the psum lanes the circuit must emit: 3 y.

    Kinds: "real" (S = 1..3 sub-folds of 1..P_IC4 channels each: random filters g (lanes rows) and a
    random 4 x 6 input window shared by the rows; M_s = sum over the sub-fold's channels of U (.) V with
    U = winograd.filter_transform(g, 4), V = winograd.data_transform(d, 4); y =
    winograd.output_transform(sum_s M_s, 4), checked against the direct convolution of the tile);
    "extreme" (S = 3 sub-folds of 8 channels, the P_OC4 = 24 channels that bound wino_y_bits: all
    codes and weights most negative, the largest sum; most negative weights against the largest
    codes; the checkerboards of the extremes; random extremes); "wrap" (a real tile of S >= 2 whose
    sub-folds 0 and 1 carry +K and -K, K random acc-bit: the sums fed wrap, their total does not
    change); "junk" (random acc-bit sums: no real tile; y = output4_kernel, the kernel's wrapping
    arithmetic, and no y). For every kind but junk, q =
    output4_kernel(m) equals 3 y (checked here). Every kind has
    tiles with S > 1."""
    rng = np.random.default_rng(seed)
    lo, hi = code_range(bits)
    kinds = ["extreme"] * 8 + ["wrap"] * max(2, n_tiles // 8) + ["junk"] * max(2, n_tiles // 8)
    kinds += ["real"] * max(4, n_tiles - len(kinds))
    kinds = [kinds[k] for k in rng.permutation(len(kinds))]
    tiles = []
    extreme_done = 0
    count = {k: 0 for k in set(kinds)}
    for kind in kinds:
        n = count[kind]  # the sub-fold counts cycle, so every kind has tiles with S = 1 (but wrap), 2 and 3
        count[kind] += 1
        if kind == "junk":
            s = 1 + n % 3
            m = rng.integers(-(1 << (acc - 1)), 1 << (acc - 1), size=(s, lanes, 4, COLS4), dtype=np.int64)
            tiles.append({"kind": kind, "m": m, "q": output4_kernel(m, acc)})
            continue
        if kind == "extreme":
            s, per = 3, [P_IC4] * 3
        else:
            s = 2 + n % 2 if kind == "wrap" else 1 + n % 3
            per = [int(rng.integers(1, P_IC4 + 1)) for _ in range(s)]
        c = sum(per)
        g = rng.integers(lo, hi + 1, size=(lanes, c, 3, 3), dtype=np.int64)
        d = rng.integers(lo, hi + 1, size=(c, 4, COLS4), dtype=np.int64)
        if kind == "extreme":
            variant = extreme_done % 4
            extreme_done += 1
            if variant == 0:  # the largest sum: every product (-2^(bits-1))^2
                g[:] = lo
                d[:] = lo
            elif variant == 1:  # the most negative one
                g[:] = lo
                d[:] = hi
            elif variant == 2:  # alternating extremes
                g = _alternating(g.shape, bits, 0)
                d = _alternating(d.shape, bits, 1)
            else:
                g = rng.choice(np.array([lo, hi]), size=g.shape)
                d = rng.choice(np.array([lo, hi]), size=d.shape)
        u = winograd.filter_transform(g, TILE_W4)  # (lanes, C, 4, 6)
        v = winograd.data_transform(d, TILE_W4)  # (C, 4, 6)
        bounds = np.cumsum([0] + per)
        m = np.stack([np.einsum("lcij,cij->lij", u[:, a:b], v[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
        y = winograd.output_transform(m.sum(axis=0), TILE_W4)
        assert np.array_equal(y, _direct_tile4(g, d))
        assert np.all(np.abs(winograd.scale(TILE_W4) * y) < 1 << (acc - 1))  # Y fits the accumulators
        if kind == "wrap":
            k = rng.integers(-(1 << (acc - 1)), 1 << (acc - 1), size=m.shape[1:], dtype=np.int64)
            m[0] += k
            m[1] -= k
        m = wrap(m, acc)
        assert np.array_equal(output4_kernel(m, acc), 3 * y)
        tiles.append({"kind": kind, "m": m, "y": y, "q": 3 * y})
    # the extreme corner reaches the bound of wino_y_bits: 24 channels x 9 products of 2^(2 bits - 2)
    assert max(int(t["y"].max()) for t in tiles if t["kind"] == "extreme") == P_OC4 * 9 * lo * lo
    assert all(any(len(t["m"]) > 1 for t in tiles if t["kind"] == k) for k in ("real", "extreme", "wrap", "junk"))
    return {"tiles": tiles, "kinds": kinds}
