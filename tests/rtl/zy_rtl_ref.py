"""Expected values for the RTL benches of dse/rtl, from zynqyolo.model.fixed and nothing else.

The benches (tests/rtl/cocotb_*.py) build their stimulus here and compare the circuits' outputs
bit for bit with what these functions return. Every expected value is a call into
``zynqyolo.model.fixed`` (the arithmetic contract the HLS kernels and the integer reference
implement): ``requantize``, ``round_shift``, ``saturate`` (also as the 48-bit two's complement wrap
of the kernels' ``wrap_acc``: ``saturate`` with an ``overflow="wrap"`` format), ``align_bias``,
``maxpool``, ``upsample``, ``SigmoidLut.apply``. Nothing here reads the Verilog.

The reference's own domain: ``fixed.round_shift`` works in int64 and its caller keeps
``|x| + 2**(shift-1)`` inside int64. For the leaky branch of ``requantize`` (``acc_b * LEAKY_MUL``
shifted by ``shift + LEAKY_SHIFT``) that bounds the shift to ``63 - LEAKY_SHIFT = 44``; the
generators keep every negative leaky vector inside it (``requant_expected`` refuses the others),
and shifts up to the register maximum 63 are used on every other path.
"""

from __future__ import annotations

import numpy as np

from zynqyolo.model import fixed

ACC_BITS = 48  # the 16-bit kernels' accumulator (zy_common.h acc_bits, dse.hwconfig.ACC_BITS); 32 at 8 bits
MAX_SHIFT = 63  # 6-bit shift field of the parameter entry
LEAKY_MAX_SHIFT = 63 - fixed.LEAKY_SHIFT  # largest shift the reference's int64 leaky branch defines
YOLO_SHIFT_RANGE = (-32, 31)  # the signed 6-bit yolo_shift register


def code_format(bits: int) -> fixed.FixedFormat:
    """Signed activation codes of a precision (frac 0: the benches work on integer codes)."""
    return fixed.FixedFormat(bits, 0)


def acc_format(acc: int = ACC_BITS) -> fixed.FixedFormat:
    """The ``acc``-bit accumulator as a wrapping format (the kernels' acc_t: 48 bits at 16, 32 at 8)."""
    return fixed.FixedFormat(acc, 0, signed=True, overflow="wrap")


def wrap_acc(x, acc: int = ACC_BITS) -> np.ndarray:
    """``acc``-bit two's complement wrap (zy_common.h wrap_acc) = fixed.saturate with a wrap format."""
    return fixed.saturate(np.asarray(x, dtype=np.int64), acc_format(acc))


def to_unsigned(x, width: int) -> np.ndarray:
    """Two's complement bit pattern of signed int64 values (what is driven onto a port)."""
    return np.asarray(x, dtype=np.int64) & np.int64((1 << width) - 1) if width < 64 else np.asarray(x)


# ------------------------------------------------------------------------------ stage 2 ----
def requant_expected(sums, bias, shift, leaky, bits: int, acc: int = ACC_BITS) -> np.ndarray:
    """The requantiser's output code for each vector: acc_b = wrap_acc(sum + bias) at ``acc`` bits,
    then ``fixed.requantize(acc_b, acc_frac=shift, out=s<bits>.0, leaky)``."""
    sums = np.asarray(sums, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    leaky = np.asarray(leaky, dtype=bool)
    acc_b = wrap_acc(sums + bias, acc)  # both are acc-bit codes: the int64 sum is exact
    neg_leaky = leaky & (acc_b < 0)
    if np.any(shift[neg_leaky] > LEAKY_MAX_SHIFT):
        raise ValueError(f"a negative leaky vector has shift > {LEAKY_MAX_SHIFT}, outside the reference's domain")
    out = code_format(bits)
    y = np.empty(len(acc_b), dtype=np.int64)
    # One call per shift value with a scalar acc_frac (acc_frac - out.frac = shift): fixed.round_shift's
    # per-element path overflows (1 << 63) when an array of shifts holds both 63 and 0, its scalar path
    # is exact there. Leaky vectors with acc_b >= 0 go through leaky=False: requantize gives them the
    # linear result by definition, but evaluates its leaky branch on every element, which leaves int64
    # for shifts above LEAKY_MAX_SHIFT.
    for sh in np.unique(shift):
        for lk in (False, True):
            sel = (shift == sh) & (neg_leaky == lk)
            if sel.any():
                y[sel] = fixed.requantize(acc_b[sel], int(sh), out, leaky=lk)
    return y


def _random_acc(rng: np.random.Generator, n: int, acc: int = ACC_BITS) -> np.ndarray:
    """Signed ``acc``-bit values with a uniformly drawn bit length (every magnitude scale equally)."""
    length = rng.integers(0, acc, size=n)  # magnitude < 2**length, length 0..acc-1
    mag = (rng.integers(0, 1 << 62, size=n, dtype=np.int64) >> (62 - length)).astype(np.int64)
    sign = rng.integers(0, 2, size=n).astype(bool)
    v = np.where(sign, -mag, mag)
    fmt = acc_format(acc)
    return np.clip(v, fmt.min_code, fmt.max_code)


def aligned_bias(rng: np.random.Generator, n: int, bits: int, acc: int = ACC_BITS) -> np.ndarray:
    """Biases as the accumulate stage receives them: a 2*bits-bit bias code (frac fb) aligned to the
    accumulator frac by ``fixed.align_bias`` (an exact left shift), kept inside ``acc`` bits."""
    bias_fmt = fixed.FixedFormat(2 * bits, 0)
    b = rng.integers(bias_fmt.min_code, bias_fmt.max_code + 1, size=n, dtype=np.int64)
    max_left = acc - bias_fmt.width  # (2*bits-bit code) << left stays an acc-bit signed code
    fb = rng.integers(0, 8, size=n)
    f_acc = fb + rng.integers(0, max_left + 1, size=n)
    return fixed.align_bias(b, fb, f_acc)


def _shift_for(rng: np.random.Generator, acc_b: np.ndarray, bits: int) -> np.ndarray:
    """Shifts that bring |acc_b| near the output range (so most results are not saturated), with
    some spread either way; 0..63."""
    length = np.array([int(abs(int(v))).bit_length() for v in acc_b])
    s = length - (bits - 1) + rng.integers(-3, 4, size=len(acc_b))
    return np.clip(s, 0, MAX_SHIFT)


def requant_vectors(seed: int, n_random: int, bits: int, groups: int, acc: int = ACC_BITS) -> dict[str, np.ndarray]:
    """Stimulus for zy_stage2_requant at ``acc``-bit accumulators: per vector the group g, each group's
    held sum, aligned bias and shift, and leaky. Random vectors (realistic biased sums, full-range
    acc-bit sums that wrap, random shifts over 0..63) and the corner cases below; expected codes from
    requant_expected."""
    rng = np.random.default_rng(seed)
    fmt = acc_format(acc)
    acc_min, acc_max = fmt.min_code, fmt.max_code
    out = code_format(bits)
    targets: list[tuple[int, int, bool]] = []  # corner cases as (acc_b, shift, leaky)
    for s in (0, 1, 2, 5, 17, 31, LEAKY_MAX_SHIFT, MAX_SHIFT):
        half = (1 << (s - 1)) if s else 0
        for leaky in (False, True):
            for a in (0, 1, -1, 2, -2, 3, -3, acc_max, acc_min, acc_max - 1, acc_min + 1):
                targets.append((a, s, leaky))
            if s <= acc - 2 - bits:
                # saturation boundaries on both sides, and round-half-up ties at them
                for code in (out.max_code, out.max_code + 1, out.min_code, out.min_code - 1, 0):
                    base = code << s
                    for d in (0, half - 1, half, -half, -half - 1, 1, -1):
                        targets.append((base + d, s, leaky))
            if 1 <= s <= acc - 4:
                # ties k * 2**s + 2**(s-1): 2.5 -> 3, -2.5 -> -2 (half up, towards +inf)
                for k in range(-4, 4):
                    targets.append(((k << s) + half, s, leaky))
                    targets.append(((k << s) + half - 1, s, leaky))
                    targets.append(((k << s) + half + 1, s, leaky))
    for s in range(0, LEAKY_MAX_SHIFT + 1):
        # leaky ties: acc_b * LEAKY_MUL == 2**(r-1) mod 2**r, r = s + LEAKY_SHIFT; LEAKY_MUL is odd,
        # so acc_b = -2**(r-1) - j * 2**r are exact halves after the multiply
        r = s + fixed.LEAKY_SHIFT
        if r - 1 <= acc - 1:
            for j in (0, 1, 2):
                a = -(1 << (r - 1)) - j * (1 << r)
                if a >= acc_min:
                    targets.append((a, s, True))
                    targets.append((a + 1, s, True))
                    targets.append((a - 1, s, True))
        # negative pre-activations well past the output range: leaky keeps them, then saturation
        for m in (1, 10, 11, 100, 1000):
            a = -(m << (s + bits - 1)) if s + bits - 1 + m.bit_length() < acc else acc_min
            targets.append((max(a, acc_min), s, True))
    n_corner = len(targets)
    n = n_random + n_corner
    g = rng.integers(0, groups, size=n)
    bias = aligned_bias(rng, n * groups, bits, acc).reshape(n, groups)
    sums = _random_acc(rng, n * groups, acc).reshape(n, groups)
    leaky = rng.integers(0, 2, size=n).astype(bool)
    idx = np.arange(n)
    # random part: a third with full-range acc-bit sums and biases (wrapping), the rest realistic
    wide = rng.random(n_random) < 0.33
    wide_rows = np.nonzero(wide)[0]
    sums[wide_rows] = rng.integers(acc_min, acc_max + 1, size=(len(wide_rows), groups), dtype=np.int64)
    bias[wide_rows] = rng.integers(acc_min, acc_max + 1, size=(len(wide_rows), groups), dtype=np.int64)
    acc_b = wrap_acc(sums[idx, g] + bias[idx, g], acc)
    shift = rng.integers(0, MAX_SHIFT + 1, size=(n, groups))
    near = rng.random(n) < 0.7
    shift[idx[near], g[near]] = _shift_for(rng, acc_b[near], bits)
    # corner part: the selected lane's sum is built so that sum + bias wraps to the target acc_b
    for k, (a, s, lk) in enumerate(targets):
        row = n_random + k
        sums[row, g[row]] = wrap_acc(a - bias[row, g[row]], acc)
        shift[row, g[row]] = s
        leaky[row] = lk
    # the acc-bit wrap of the bias add itself, on both sides
    wraps = [(acc_max, 1), (acc_min, -1), (acc_max, acc_max), (acc_min, acc_min), (acc_max, acc_min)]
    extra = len(wraps) * 2 * 3
    sums = np.concatenate([sums, rng.integers(acc_min, acc_max + 1, size=(extra, groups), dtype=np.int64)])
    bias = np.concatenate([bias, rng.integers(acc_min, acc_max + 1, size=(extra, groups), dtype=np.int64)])
    g = np.concatenate([g, rng.integers(0, groups, size=extra)])
    shift = np.concatenate([shift, rng.integers(0, MAX_SHIFT + 1, size=(extra, groups))])
    leaky = np.concatenate([leaky, np.zeros(extra, dtype=bool)])
    row = n
    for sm, bs in wraps:
        for lk in (False, True):
            for s in (0, 1, 20):
                sums[row, g[row]], bias[row, g[row]], shift[row, g[row]], leaky[row] = sm, bs, s, lk
                row += 1
    n = len(g)
    idx = np.arange(n)
    acc_b = wrap_acc(sums[idx, g] + bias[idx, g], acc)
    # keep every negative leaky vector inside the reference's domain (module docstring)
    bad = leaky & (acc_b < 0) & (shift[idx, g] > LEAKY_MAX_SHIFT)
    shift[idx[bad], g[bad]] = rng.integers(0, LEAKY_MAX_SHIFT + 1, size=int(bad.sum()))
    # shuffle so that corner vectors sit between random ones in the II-1 stream
    perm = rng.permutation(n)
    sums, bias, shift, g, leaky = sums[perm], bias[perm], shift[perm], g[perm], leaky[perm]
    expected = requant_expected(sums[idx, g], bias[idx, g], shift[idx, g], leaky, bits, acc)
    return {"g": g, "sums": sums, "bias": bias, "shift": shift, "leaky": leaky, "expected": expected,
            "n_corner": np.int64(n_corner + extra)}


def acc_lane_vectors(seed: int, n_bands: int, acc: int = ACC_BITS) -> list[dict]:
    """Stimulus for zy_stage2_acc at ``acc`` bits (48: the 16-bit kernels, 32: the 8-bit ones): bands
    of ``pixels`` pixels over ``folds`` input folds, in the order of loop ACC (fold-major,
    pixel-minor), with idle cycles (no psum read) in between. Per consumed psum the expected tile
    write (wrap_acc of the running sum) or, on the last fold, the held sum; psums realistic (sums of
    products of the precision's codes) or full-range acc-bit (wrapping)."""
    rng = np.random.default_rng(seed)
    bits = 16 if acc == ACC_BITS else 8
    fmt = code_format(bits)
    bound = fixed.product_bound(4608 if bits == 16 else 9216, fmt, fmt)  # YOLOv3-tiny's largest K
    acc_min, acc_max = acc_format(acc).min_code, acc_format(acc).max_code
    bands = []
    for b in range(n_bands):
        pixels = int(rng.integers(2, 7))
        folds = int(rng.integers(1, 5))
        kind = b % 4
        if kind == 0:  # full-range acc-bit psums: the tile add wraps
            ps = rng.integers(acc_min, acc_max + 1, size=(folds, pixels), dtype=np.int64)
        elif kind == 1:  # the extremes
            ps = rng.choice(np.array([acc_min, acc_max, -1, 1, 0, acc_max - 1, acc_min + 1], dtype=np.int64),
                            size=(folds, pixels))
        else:  # realistic: a fold's partial dot product stays within the conv's product bound
            ps = _random_acc(rng, folds * pixels, acc).reshape(folds, pixels)
            ps = np.clip(ps, -bound // folds, bound // folds)
        running = wrap_acc(np.cumsum(ps, axis=0), acc)  # wrap(sum) == the wrapped running sum: mod 2**acc
        bands.append({"ps": ps, "running": running, "total": running[-1]})
    return bands


# ------------------------------------------------------------------------------ stage 3 ----
def sigmoid_vectors(seed: int, n_random: int, bits: int) -> dict[str, np.ndarray]:
    """Stimulus for the YOLO path of zy_stage3_lane: codes x, yolo_shift = x_frac - lut.in_frac over
    the register's range, raw (tw/th) lanes; expected = x for raw lanes, else
    ``fixed.sigmoid_lut(bits).apply(x, x_frac, table)`` as an unsigned ``bits``-bit code."""
    rng = np.random.default_rng(seed)
    lut = fixed.sigmoid_lut(bits)
    table = lut.table()
    fmt = code_format(bits)
    lo, hi = YOLO_SHIFT_RANGE
    x = rng.integers(fmt.min_code, fmt.max_code + 1, size=n_random, dtype=np.int64)
    shift = rng.integers(lo, hi + 1, size=n_random)
    typical = rng.random(n_random) < 0.6  # the heads' real range: x_frac 0..15
    shift[typical] = rng.integers(0, 16, size=int(typical.sum())) - lut.in_frac
    corners_x, corners_s = [], []
    special = [0, 1, -1, 2, -2, fmt.max_code, fmt.min_code, fmt.max_code - 1, fmt.min_code + 1]
    for s in sorted({lo, lo + 1, -17, -16, -1, 0, 1, 2, bits - 2, bits - 1, bits, hi - 1, hi}):
        cand = list(special)
        if s > 0:
            # index ties |x| = k * 2**s + 2**(s-1) round up; around the clamp at entries - 1
            for k in (0, 1, 2, lut.entries - 2, lut.entries - 1, lut.entries):
                t = (k << s) + (1 << (s - 1))
                cand += [t, t - 1, -t, -t + 1]
        else:
            for k in (lut.entries - 1, lut.entries):
                t = k >> -s
                cand += [t, t + 1, -t, -t - 1]
        for v in cand:
            if fmt.min_code <= v <= fmt.max_code:
                corners_x.append(v)
                corners_s.append(s)
    x = np.concatenate([x, np.array(corners_x, dtype=np.int64)])
    shift = np.concatenate([shift, np.array(corners_s, dtype=np.int64)])
    raw = rng.random(len(x)) < 0.2
    perm = rng.permutation(len(x))
    x, shift, raw = x[perm], shift[perm], raw[perm]
    expected = np.empty(len(x), dtype=np.int64)
    for s in np.unique(shift):
        sel = shift == s
        expected[sel] = lut.apply(x[sel], int(s) + lut.in_frac, table)
    expected = np.where(raw, to_unsigned(x, bits), expected)
    return {"x": x, "shift": shift, "raw": raw, "expected": expected, "table": table,
            "n_corner": np.int64(len(corners_x)), "entries": np.int64(lut.entries),
            "out_frac": np.int64(lut.out.frac)}


def pool_images(seed: int, bits: int, shapes) -> list[np.ndarray]:
    """(1, h, w) code images for the max-pool benches: random codes, runs of equal codes, the
    extreme codes (the minimum code must still win when it is the real maximum)."""
    rng = np.random.default_rng(seed)
    fmt = code_format(bits)
    images = []
    for i, (h, w) in enumerate(shapes):
        kind = i % 3
        if kind == 0:
            img = rng.integers(fmt.min_code, fmt.max_code + 1, size=(1, h, w), dtype=np.int64)
        elif kind == 1:
            img = rng.choice(np.array([fmt.min_code, fmt.min_code + 1, -1, 0, 1, fmt.max_code], dtype=np.int64),
                             size=(1, h, w))
        else:
            img = np.full((1, h, w), fmt.min_code, dtype=np.int64)
            img[0, rng.integers(0, h), rng.integers(0, w)] = fmt.min_code + 1
        images.append(img)
    return images


def maxpool_expected(img: np.ndarray, stride: int) -> np.ndarray:
    """Darknet 2x2 max-pool (padding size-1 = 1, offset 0: pad right/bottom) by fixed.maxpool."""
    _, h, w = img.shape
    out_hw = ((h - 1) // stride + 1, (w - 1) // stride + 1) if stride == 2 else (h, w)
    return fixed.maxpool(img, 2, stride, 0, out_hw)


def upsample_expected(img: np.ndarray) -> np.ndarray:
    return fixed.upsample(img, 2)


# ------------------------------------------------------------------------------ MAC array ----
def mac_weights(rng: np.random.Generator, depth: int, p_oc: int, p_ic: int, bits: int) -> np.ndarray:
    fmt = code_format(bits)
    return rng.integers(fmt.min_code, fmt.max_code + 1, size=(depth, p_oc, p_ic), dtype=np.int64)


def mac_expected(weights_at: np.ndarray, xin: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Running accumulators after each cycle: acc[oc] = (clear ? 0 : acc[oc]) + sum_ic w[oc][ic] *
    x[ic], exact products of two codes summed exactly (int64), then the 48-bit accumulator
    (wrap_acc; the conv bound keeps real sums far inside it). weights_at: (cycles, p_oc, p_ic) the
    weights read each cycle; xin: (cycles, p_ic) the selected operands; clear: (cycles,)."""
    terms = np.einsum("coi,ci->co", weights_at, xin)  # exact: |term| <= p_ic * 2**30
    acc = np.zeros(terms.shape[1], dtype=np.int64)
    out = np.empty_like(terms)
    for c in range(len(terms)):
        acc = wrap_acc((0 if clear[c] else acc) + terms[c])
        out[c] = acc
    return out
