"""Fixed-point number formats and integer primitives: the arithmetic contract of zynqyolo.

Everything the integer reference (``intref``) and the HLS kernels compute is defined here, in
integers, so that numpy and C++ (``ap_int``/``ap_fixed``) agree bit for bit. No division and no
float appear in the datapath; floats are used only offline (quantising weights, building the
sigmoid table) and at the two host boundaries (quantising the input image, dequantising the
YOLO outputs).

Formats
-------
A ``FixedFormat(width, frac, signed, rounding, overflow)`` holds a value ``q * 2**-frac`` with
the integer code ``q`` in ``[-2**(width-1), 2**(width-1) - 1]`` (signed) or ``[0, 2**width - 1]``.
``frac`` may be negative or exceed ``width``. C++ mirror: ``ap_fixed<width, width - frac, AP_RND,
AP_SAT>`` (``FixedFormat.ap_type``); the kernels do the arithmetic on the raw ``ap_int`` codes with
the shifts below, so only the integer semantics matter.

- Rounding ``"rnd"`` (default) = round half up, towards +inf, = AP_RND: a right shift by ``s > 0``
  is ``(q + 2**(s-1)) >> s`` with an arithmetic (flooring) shift; -2.5 -> -2, 2.5 -> 3.
  ``"trn"`` = floor = AP_TRN (``q >> s``). A shift by ``s <= 0`` is an exact left shift.
- Overflow ``"sat"`` (default) = clamp to the code range (AP_SAT); ``"wrap"`` = two's complement
  wrap (AP_WRAP), available but used by no tensor of the network.
- Quantising a float: ``q = saturate(floor(x * 2**frac + 1/2))`` computed exactly (the fraction is
  compared with 1/2, never added in floating point). Used for weights, biases and the input.
- Aligning a code between formats (``align``): round-shift by ``src.frac - dst.frac`` with the
  destination's rounding, then the destination's saturation.

Convolution layer (stage 1 conv, stage 2 accumulate), for output channel ``o``:

1. ``acc = sum_i a_i * w_{o,i}`` exactly: activations in format A (frac ``fa``), weights of output
   channel ``o`` in format W (frac ``fw[o]``, one per output channel); the accumulator has frac
   ``f_acc[o] = fa + fw[o]`` and no rounding, ever. Width bound (``accumulator_width``):
   ``|acc| <= K * 2**(Wa-1) * 2**(Ww-1)`` for ``K = C_in * k * k`` terms. YOLOv3-tiny has
   ``K <= 4608 < 2**13``: 16x16-bit needs a 44-bit signed accumulator, 8x8-bit a 28-bit one
   (before the bias; the quantiser stores the exact width per layer with the bias: 36..44 bits at
   16 bits, 20..28 bits at 8 bits for the calibrated YOLOv3-tiny).
   This is also why float64 BLAS is exact: every partial sum, in any order, is bounded by
   ``sum |a_i w_i| < 2**53``, checked from the formats when a model is loaded.
2. Bias alignment: ``acc_b = acc + (b << (f_acc[o] - fb))``; the bias (width ``2 * bits``, frac
   ``fb <= f_acc[o]``, one per layer) is shifted left, exactly.
3. Activation and requantisation in one rounding, ``s = f_acc[o] - f_out >= 0``:
   linear or ``acc_b >= 0``: ``y = (acc_b + 2**(s-1)) >> s``;
   leaky and ``acc_b < 0``: ``y = (acc_b * LEAKY_MUL + 2**(s+LEAKY_SHIFT-1)) >> (s + LEAKY_SHIFT)``
   with ``LEAKY_MUL / 2**LEAKY_SHIFT = 0xCCCD / 2**19 = 0.100000381...`` (the 16-bit unsigned
   reciprocal-of-ten constant; absolute error 3.81e-7, relative 3.8e-6). Leaky is applied on the
   wide accumulator, before saturation, so negative pre-activations ten times the output range are
   still represented, and there is a single rounding. Error against the exact ``0.1 * acc_b``:
   at most 0.5 LSB + 3.81e-7 * |acc_b / 2**s|, i.e. <= 0.625 LSB over the 16-bit output range
   (|y| <= 2**15 LSB) and <= 0.5005 LSB over the 8-bit range.
   For ``s = 0`` the positive path is the identity. Hardware cost: one 44 x 17-bit constant
   multiply per accumulate lane (about two DSP48E1) or 9 adders (0xCCCD has nine set bits).
4. Saturation to the output format: ``y = clamp(y, OUT_MIN, OUT_MAX)``.

Other layers
------------
- Max-pool: exact on codes, same format in and out. Darknet padding: the window of output ``i``
  starts at ``i * stride + offset`` (``offset = -(padding // 2)``, so the padding lies right and
  bottom); padded cells hold the minimum code and never win (``maxpool``).
- Upsample: nearest neighbour, exact (``upsample``).
- Route: channel concatenation. The quantiser gives every tensor joined by a route one shared
  format, so the route is pointer arithmetic on the host and never touches data; the integer
  reference still aligns any input whose format differs (``align``), which is then the identity.
- YOLO: tw, th pass through as codes in the head conv's output format (the host applies exp);
  tx, ty, objectness and classes go through ``SigmoidLut``: ``a = |x|``, index = ``a`` aligned from
  the input frac to ``in_frac`` with round-half-up, clamped to ``entries - 1``; ``s = TABLE[index]``
  with ``TABLE[k] = min(round_half_up(sigmoid(k / 2**in_frac) * 2**out.frac), out max)``; output
  ``s`` for ``x >= 0`` and ``2**out.frac - s`` for ``x < 0`` (sigmoid(-x) = 1 - sigmoid(x)). The
  output is unsigned with ``frac == width`` (values in [0, 1)).

  =====  =======  =======  ===================  =====================  ==================
  bits   in_frac  entries  domain of |x|        table                  max error (bound)
  =====  =======  =======  ===================  =====================  ==================
  16     8        2048     [0, 8), step 2**-8   2048 x u16 (2 BRAM18)  4.95e-4 (5.04e-4)
  8      5        256      [0, 8), step 2**-5   256 x u8               5.44e-3 (7.81e-3)
  =====  =======  =======  ===================  =====================  ==================

  Max error = max over every input code (16-bit codes for the 16-bit table, 8-bit codes for the
  8-bit one; input frac 0..15) of ``|sigmoid(x) - y * 2**-out.frac|``, measured by
  ``SigmoidLut.max_error`` and again in test_intref. The bound (``SigmoidLut.error_bound``) is
  ``max(2**-(in_frac+3), 1 - sigmoid(8 - 2**-in_frac)) + 2**-out.frac``: index rounding (half a
  step) times the largest slope 1/4, or the clamped tail, plus table rounding and top saturation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from zynqyolo.errors import ZynqyoloError

ROUNDING_MODES = {"rnd": "AP_RND", "trn": "AP_TRN"}  # round half up (to +inf) | floor
OVERFLOW_MODES = {"sat": "AP_SAT", "wrap": "AP_WRAP"}
MAX_WIDTH = 62  # codes and their shifted sums must stay inside int64

# leaky ReLU slope 0.1 as a multiply-shift: 0xCCCD / 2**19 = 0.10000038146972656
LEAKY_MUL = 0xCCCD
LEAKY_SHIFT = 19
LEAKY_SLOPE = 0.1
LEAKY_CONST_ERROR = LEAKY_MUL / 2**LEAKY_SHIFT - LEAKY_SLOPE  # +3.8147e-7

FLOAT64_EXACT_BITS = 53  # integers up to 2**53 are exact in float64


@dataclass(frozen=True)
class FixedFormat:
    """One fixed-point number format: ``code * 2**-frac`` with ``code`` of ``width`` bits."""

    width: int
    frac: int
    signed: bool = True
    rounding: str = "rnd"
    overflow: str = "sat"

    def __post_init__(self):
        for name in ("width", "frac"):  # accept numpy integers, store Python ints
            value = getattr(self, name)
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                object.__setattr__(self, name, int(value))
        if not isinstance(self.width, int) or not 1 <= self.width <= MAX_WIDTH:
            raise ZynqyoloError(f"fixed-point width={self.width!r} must be an integer in 1..{MAX_WIDTH}")
        if not isinstance(self.frac, int) or abs(self.frac) > 256:
            raise ZynqyoloError(f"fixed-point frac={self.frac!r} must be an integer in -256..256")
        if self.rounding not in ROUNDING_MODES:
            raise ZynqyoloError(f"fixed-point rounding={self.rounding!r}; choose from {sorted(ROUNDING_MODES)}")
        if self.overflow not in OVERFLOW_MODES:
            raise ZynqyoloError(f"fixed-point overflow={self.overflow!r}; choose from {sorted(OVERFLOW_MODES)}")

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def int_bits(self) -> int:
        """ap_fixed's I: integer bits including the sign bit."""
        return self.width - self.frac

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def min_value(self) -> float:
        return self.min_code * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_code * self.lsb

    @property
    def ap_type(self) -> str:
        """The C++ mirror type, e.g. ``ap_fixed<16,6,AP_RND,AP_SAT>``."""
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{kind}<{self.width},{self.int_bits},{ROUNDING_MODES[self.rounding]},{OVERFLOW_MODES[self.overflow]}>"

    def with_frac(self, frac: int) -> "FixedFormat":
        return FixedFormat(self.width, frac, self.signed, self.rounding, self.overflow)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FixedFormat":
        from zynqyolo import validate

        what = "fixed-point format"
        data = validate.mapping(data, what, required=("width", "frac", "signed", "rounding", "overflow"))
        try:
            return cls(validate.integer(data["width"], f"{what} width", lo=1, hi=64),
                       validate.integer(data["frac"], f"{what} frac"),
                       validate.boolean(data["signed"], f"{what} signed"),
                       validate.text(data["rounding"], f"{what} rounding"),
                       validate.text(data["overflow"], f"{what} overflow"))
        except (TypeError, ValueError) as exc:
            raise ZynqyoloError(f"malformed fixed-point format {data!r}: {exc}") from None

    def __str__(self) -> str:
        sign = "s" if self.signed else "u"
        return f"{sign}{self.width}.{self.frac}"


def _as_int64(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise ZynqyoloError(f"integer primitive called on {arr.dtype} data; quantise floats first")
    return arr.astype(np.int64, copy=False)


def round_shift(x, shift, rounding: str = "rnd") -> np.ndarray:
    """``x * 2**-shift`` rounded to an integer: right shift with rounding for ``shift > 0``, exact left
    shift for ``shift <= 0``. ``shift`` may be an integer array broadcast against ``x`` (per channel).

    ``"rnd"``: ``(x + 2**(shift-1)) >> shift`` (round half up); ``"trn"``: ``x >> shift`` (floor).
    The caller keeps ``|x| + 2**(shift-1)`` and ``|x| << -shift`` inside int64.
    """
    if rounding not in ROUNDING_MODES:
        raise ZynqyoloError(f"rounding={rounding!r}; choose from {sorted(ROUNDING_MODES)}")
    x = _as_int64(x)
    shift = np.asarray(shift, dtype=np.int64)
    if shift.ndim == 0:
        s = int(shift)
        if s <= 0:
            return np.left_shift(x, -s)
        if rounding == "rnd":
            return np.right_shift(x + (1 << (s - 1)), s)
        return np.right_shift(x, s)
    if np.all(shift > 0):  # the common per-channel case, without per-element selects
        half = np.left_shift(np.int64(1), shift - 1) if rounding == "rnd" else np.int64(0)
        return np.right_shift(x + half, shift)
    right = np.maximum(shift, 0)
    left = np.maximum(-shift, 0)
    half = (np.where(right > 0, np.left_shift(np.int64(1), np.maximum(right - 1, 0)), 0) if rounding == "rnd"
            else np.int64(0))  # 2**(right - 1), never 1 << 63
    return np.left_shift(np.right_shift(x + half, right), left)


def saturate(x, fmt: FixedFormat) -> np.ndarray:
    """Bring integer codes into ``fmt``'s range: clamp (``sat``) or two's complement wrap (``wrap``)."""
    x = _as_int64(x)
    if fmt.overflow == "sat":
        return np.clip(x, fmt.min_code, fmt.max_code)
    span = np.int64(1) << fmt.width if fmt.width < 63 else None
    return (x - fmt.min_code) % span + fmt.min_code


def quantize(x, fmt: FixedFormat) -> np.ndarray:
    """Float values -> int64 codes: exact ``floor(x * 2**frac + 1/2)`` (or floor for ``trn``), then
    saturation. NaN is refused; +-inf saturate."""
    x = np.asarray(x, dtype=np.float64)
    if np.isnan(x).any():
        raise ZynqyoloError("cannot quantise NaN values")
    with np.errstate(over="ignore"):
        v = np.ldexp(x, fmt.frac)  # exact scaling by a power of two (overflow -> inf -> saturates)
    lo, hi = float(fmt.min_code), float(fmt.max_code)
    if fmt.overflow == "sat":
        v = np.clip(v, lo - 1.0, hi + 1.0)  # beyond this the result saturates anyway
    elif np.any(np.abs(v) >= 2.0**62):
        raise ZynqyoloError(f"value too large to wrap into {fmt}")
    floor = np.floor(v)
    if fmt.rounding == "rnd":
        floor = floor + ((v - floor) >= 0.5)  # v - floor is exact: no double rounding
    else:
        # ldexp is exact but where it underflows to a signed zero (a subnormal x, frac < 0): the
        # exact floor of a negative value that small is -1
        floor = np.where((v == 0) & (x < 0), -1.0, floor)
    return saturate(floor.astype(np.int64), fmt)


def dequantize(q, fmt: FixedFormat) -> np.ndarray:
    """Codes -> float64 values (exact for codes below 2**53)."""
    return np.ldexp(np.asarray(q, dtype=np.float64), -fmt.frac)


def align(q, src: FixedFormat, dst: FixedFormat) -> np.ndarray:
    """Codes of ``src`` re-expressed in ``dst``: round-shift by ``src.frac - dst.frac`` with the
    destination's rounding, then its saturation. Identity when the formats are equal."""
    return saturate(round_shift(q, src.frac - dst.frac, dst.rounding), dst)


def frac_for_max_abs(max_abs: float, width: int, signed: bool = True) -> int:
    """Largest ``frac`` for which ``max_abs`` quantises (round half up) without saturating.

    The "max-abs" calibration rule. ``max_abs == 0`` (a dead tensor) gives ``width - 1``.
    """
    if not math.isfinite(max_abs) or max_abs < 0:
        raise ZynqyoloError(f"max_abs={max_abs!r} must be a finite value >= 0")
    max_code = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    if max_abs == 0.0:
        return width - 1
    frac = int(math.floor(math.log2(max_code / max_abs)))

    def code(f: int) -> float:  # exact round-half-up of max_abs * 2**f
        v = math.ldexp(max_abs, f)
        return math.floor(v) + (v - math.floor(v) >= 0.5)

    # log2 is not exact: settle the boundary on the exact rounding.
    while code(frac + 1) <= max_code:
        frac += 1
    while code(frac) > max_code:
        frac -= 1
    return frac


# ----------------------------------------------------------------------------------------------
# Accumulate stage
# ----------------------------------------------------------------------------------------------


def product_bound(n_terms: int, in_fmt: FixedFormat, weight_fmt: FixedFormat) -> int:
    """Largest possible ``sum |a_i * w_i|`` over ``n_terms`` products of codes (exact integer)."""
    a = max(abs(in_fmt.min_code), abs(in_fmt.max_code))
    w = max(abs(weight_fmt.min_code), abs(weight_fmt.max_code))
    return int(n_terms) * a * w


def accumulator_width(n_terms: int, in_fmt: FixedFormat, weight_fmt: FixedFormat, bias_bound: int = 0) -> int:
    """Signed width that holds any ``sum a_i w_i + bias`` of ``n_terms`` products, ``bias_bound``
    being the largest magnitude of the aligned bias code.

    16 x 16 bit over 4608 terms: 44; 8 x 8 bit over 4608 terms: 28 (without bias).
    """
    return (product_bound(n_terms, in_fmt, weight_fmt) + int(bias_bound)).bit_length() + 1


def align_bias(bias, bias_frac, acc_frac) -> np.ndarray:
    """Bias codes in the accumulator's frac: an exact left shift by ``acc_frac - bias_frac >= 0``."""
    shift = np.asarray(acc_frac, dtype=np.int64) - np.asarray(bias_frac, dtype=np.int64)
    if np.any(shift < 0):
        raise ZynqyoloError("bias frac exceeds the accumulator frac; the bias would need rounding")
    return np.left_shift(_as_int64(bias), shift)


def requantize(acc, acc_frac, out_fmt: FixedFormat, leaky: bool) -> np.ndarray:
    """Stage-2 output from the biased accumulator ``acc`` (int64, frac ``acc_frac``, scalar or per
    channel, broadcast against ``acc``): fixed-point leaky (if ``leaky``), one round-half-up shift,
    saturation. See the module docstring, steps 3 and 4."""
    acc = _as_int64(acc)
    shift = np.asarray(acc_frac, dtype=np.int64) - out_fmt.frac
    if np.any(shift < 0):
        raise ZynqyoloError(f"output frac {out_fmt.frac} exceeds the accumulator frac; the quantiser "
                            "must keep f_out <= f_acc")
    y = round_shift(acc, shift, out_fmt.rounding)
    if leaky:
        neg = acc < 0
        y = np.where(neg, round_shift(acc * LEAKY_MUL, shift + LEAKY_SHIFT, out_fmt.rounding), y)
    return saturate(y, out_fmt)


# ----------------------------------------------------------------------------------------------
# Max-pool, upsample
# ----------------------------------------------------------------------------------------------


def maxpool(x, size: int, stride: int, offset: int, out_hw: tuple[int, int]) -> np.ndarray:
    """Darknet max-pool on integer codes (C, H, W): window of output (i, j) covers rows
    ``i*stride + offset ..+size``; cells outside the input never win (padded with the int64 minimum)."""
    x = np.asarray(x)
    c, h, w = x.shape
    oh, ow = out_hw
    before = -offset
    after_h = (oh - 1) * stride + offset + size - h
    after_w = (ow - 1) * stride + offset + size - w
    if before < 0 or after_h < 0 or after_w < 0:
        raise ZynqyoloError(f"max-pool geometry size={size} stride={stride} offset={offset} would crop the input")
    pad_value = np.iinfo(x.dtype).min if x.dtype.kind == "i" else -np.inf
    if before or after_h or after_w:
        xp = np.full((c, h + before + after_h, w + before + after_w), pad_value, dtype=x.dtype)
        xp[:, before:before + h, before:before + w] = x
    else:
        xp = x
    out = None
    for dy in range(size):
        for dx in range(size):
            tap = xp[:, dy:dy + (oh - 1) * stride + 1:stride, dx:dx + (ow - 1) * stride + 1:stride]
            out = tap.copy() if out is None else np.maximum(out, tap)
    return out


def upsample(x, stride: int) -> np.ndarray:
    """Nearest-neighbour upsample of (C, H, W) by an integer stride: out[y*s+i, x*s+j] = in[y, x]."""
    return np.repeat(np.repeat(np.asarray(x), stride, axis=1), stride, axis=2)


# ----------------------------------------------------------------------------------------------
# YOLO sigmoid
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigmoidLut:
    """sigmoid by a symmetric lookup table; see the module docstring for the exact contract."""

    in_frac: int  # entry k holds sigmoid(k * 2**-in_frac)
    entries: int  # covers |x| < entries * 2**-in_frac
    out: FixedFormat  # unsigned, frac == width

    def __post_init__(self):
        if self.out.signed or self.out.frac != self.out.width:
            raise ZynqyoloError(f"sigmoid output format must be unsigned with frac == width, got {self.out}")
        if self.entries < 1 or self.in_frac < 0:
            raise ZynqyoloError(f"sigmoid table needs entries >= 1 and in_frac >= 0, got entries={self.entries}, "
                                f"in_frac={self.in_frac}")

    @property
    def x_max(self) -> float:
        return self.entries * 2.0 ** -self.in_frac

    def table(self) -> np.ndarray:
        """The table codes (int64), built in float64 offline; the artifact stores them."""
        t = np.arange(self.entries, dtype=np.float64) * 2.0 ** -self.in_frac
        return quantize(1.0 / (1.0 + np.exp(-t)), self.out)

    def apply(self, x, x_frac: int, table: np.ndarray | None = None) -> np.ndarray:
        """Integer codes ``x`` (frac ``x_frac``) -> sigmoid codes in ``self.out``."""
        x = _as_int64(x)
        table = self.table() if table is None else _as_int64(table)
        if table.shape != (self.entries,):
            raise ZynqyoloError(f"sigmoid table has shape {table.shape}, expected ({self.entries},)")
        index = np.minimum(round_shift(np.abs(x), x_frac - self.in_frac, "rnd"), self.entries - 1)
        s = table[index]
        return np.where(x >= 0, s, (1 << self.out.frac) - s)

    def error_bound(self) -> float:
        """Analytical bound on |sigmoid(x) - output| for any input code (see module docstring)."""
        step = 2.0 ** -self.in_frac
        tail = 1.0 - 1.0 / (1.0 + math.exp(-(self.x_max - step)))
        return max(step / 8.0, tail) + 2.0 ** -self.out.frac

    def max_error(self, x_fracs=range(0, 16), x_width: int = 16) -> float:
        """Measured max |sigmoid(x) - output| over every ``x_width``-bit input code and ``x_fracs``."""
        table = self.table()
        codes = np.arange(-(1 << (x_width - 1)), 1 << (x_width - 1), dtype=np.int64)
        worst = 0.0
        for f in x_fracs:
            y = dequantize(self.apply(codes, f, table), self.out)
            with np.errstate(over="ignore"):
                exact = 1.0 / (1.0 + np.exp(-dequantize(codes, FixedFormat(x_width, f))))
            worst = max(worst, float(np.max(np.abs(exact - y))))
        return worst

    def to_dict(self) -> dict:
        return {"in_frac": self.in_frac, "entries": self.entries, "out": self.out.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "SigmoidLut":
        from zynqyolo import validate

        data = validate.mapping(data, "sigmoid table spec", required=("in_frac", "entries", "out"))
        try:
            return cls(validate.integer(data["in_frac"], "sigmoid in_frac"),
                       validate.integer(data["entries"], "sigmoid entries", lo=1, hi=1 << 20),
                       FixedFormat.from_dict(data["out"]))
        except (TypeError, ValueError) as exc:
            raise ZynqyoloError(f"malformed sigmoid table spec {data!r}: {exc}") from None


def sigmoid_lut(bits: int) -> SigmoidLut:
    """The sigmoid table of a precision: 16-bit and 8-bit designs (module docstring table)."""
    if bits == 16:
        return SigmoidLut(in_frac=8, entries=2048, out=FixedFormat(16, 16, signed=False))
    if bits == 8:
        return SigmoidLut(in_frac=5, entries=256, out=FixedFormat(8, 8, signed=False))
    raise ZynqyoloError(f"bits={bits}: supported precisions are 16 and 8")
