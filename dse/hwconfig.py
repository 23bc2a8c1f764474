"""``HwConfig``: the design point, i.e. every compile-time parameter of the accelerator.

One typed, frozen, validated description from which everything else is derived: the
generated HLS header, the layer-batch plan, the resource/latency models, the host driver and
the bitstream manifest. Its ``content_hash`` identifies the design across those artifacts.

Run-time values (layer shapes, fold counts, shifts) are AXI-Lite registers; their widths are
derived here from the maxima, never typed by hand (``register_fields``).

Architecture in one paragraph (the kernels' headers carry the detail):
feature maps live in DDR fold-major, ``[fold][row][col][lanes]`` with ``p_oc`` channels per
fold (the last fold narrower, rounded up to whole bus words). One hardware call runs one layer
batch: stage 1 convolves one input fold at a time with a ``p_oc x p_ic`` MAC array at II 1
(3x3 taps and ``p_ic``-lane sub-folds serialised, so 1x1 needs no padding); stage 2 keeps the
partial sums of a band of output pixels on chip across input folds, then adds the bias and
requantises (leaky or linear) ``requant_lanes`` lanes per cycle; stage 3 is max-pool, upsample,
YOLO sigmoid or bypass. With ``conv_engine="winograd"`` stage 1 also has a Winograd F(2x2,3x3)
path, which the 3x3 calls at least ``WINO_MIN_WIDTH`` wide take (the ``winograd`` register, set by
the plan); the other calls run the direct path of the same kernel, and the result is bit-exact to
the direct integer convolution either way (model/winograd.py; the design note of hls/include/zy_winograd.h).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

SUPPORTED_BITS = (16, 8)
# The kernels' accumulator width (acc_t) by precision: 48 at 16 bits (the DSP48 post-adder; 16 x 16 bits
# over 4608 terms need 44), 32 at 8 bits (8 x 8 over 9216 terms need 29, the 8-bit YOLOv3-tiny 28 with its
# biases). The plan refuses a quantised model whose accumulators need more (plan._check_formats).
ACC_BITS_BY_PRECISION = {16: 48, 8: 32}
ACC_BITS = max(ACC_BITS_BY_PRECISION.values())  # the widest: the stage-2 circuits' default in dse/rtl


def acc_bits(bits: int) -> int:
    """The kernels' accumulator width at a precision (ACC_BITS_BY_PRECISION)."""
    try:
        return ACC_BITS_BY_PRECISION[bits]
    except KeyError:
        raise ValueError(f"no accumulator width for {bits}-bit codes; supported: {sorted(ACC_BITS_BY_PRECISION)}") from None


MAX_KSIZE = 3  # the largest convolution kernel (1 and 3 are supported)
MAX_WEIGHT_GROUP = 4  # weight-buffer bank words a memory word may hold: bounds the loaders' registers
SIGNED_REGISTERS = frozenset({"yolo_shift"})  # every other register field is unsigned
SUPPORTED_BUS_BITS = (64, 128)
# HwConfig.conv_engine: how stage 1 computes a 3x3 convolution. "winograd-paired" is the Winograd path
# whose MAC rows also sum their two lane halves apart, so that a call of at most p_ic / 2 input lanes
# (layer 0's 3 channels) computes two transform positions a step (zy_winograd.h, "Paired positions").
# "winograd-4x2" runs F(4x2, 3x3) (tiles 4 columns wide, 3 multiplications a pixel against F(2x2)'s 4;
# model/winograd.py): at 8 bits only, where U x V (15 x 13 bits) fits one DSP48E1.
CONV_ENGINES = ("direct", "winograd", "winograd-paired", "winograd-4x2")
WINO_4X2_BITS = (8,)
# Narrowest feature map a winograd design convolves on the Winograd path (a 3x3 call narrower than this,
# and every 1x1 call, runs the direct path of the same kernel): the contract of the plan's ``winograd``
# register, the register checks and the kernels (hls/include/zy_winograd.h).
WINO_MIN_WIDTH = 7
# ... and F(4x2)'s (zy_winograd.h, hazard distance: the last tile of a row reads pixel w + 4 of the two
# rows streaming in, which must have come in an earlier tile: floor((w + 4) / 8) < ceil(w / 4) - 1).
WINO_4X2_MIN_WIDTH = 13


def wino_bits(bits: int, tile_w: int = 2) -> tuple[int, int]:
    """(wu_bits, wv_bits): signed widths of the Winograd transformed filter U and transformed data V
    of ``bits``-bit codes. F(2x2): U = (2G) g (2G)^T (each row of 2G has L1 norm 3 at most: 9x, 4 bits
    more), V = B^T d B (rows of B^T have L1 norm 2: 4x, 2 bits more). F(4x2) (``tile_w`` 4): U = (2G) g
    (24 G4)^T (3 x 24 = 72x, 7 bits more), V = B^T d B4 (2 x 10 = 20x, 5 bits more).
    model.winograd.transform_bits derives the same from the exact ranges."""
    if tile_w == 4:
        return bits + 7, bits + 5
    return bits + 4, bits + 2


def wino_y_bits(bits: int, p_oc: int, tile_w: int = 2) -> int:
    """Signed width of the Winograd output transform's accumulators (zy_winograd.h).
    F(2x2), Y = A^T M A: a partial Y sums at most 9 positions (a row of A^T has 3 non-zeros, so 3 x 3
    of the 16) of products over a fold's at most p_oc lanes, each |U V| <= 9 * 2^(bits-1) * 4 *
    2^(bits-1). 44 bits for 16-bit codes and p_oc = 24, 28 for 8-bit: narrower than the 48-bit
    accumulator, which the adders need not carry.
    F(4x2): its column sums and Y = A^T M A4 wrap at this width (two's complement: only the final Y
    must fit), and Y is 48 times a fold's direct partial sum, |.| <= 9 p_oc 2^(2 bits - 2): 29 bits
    for 8-bit codes and p_oc = 24."""
    if tile_w == 4:
        return (48 * 9 * p_oc << (2 * bits - 2)).bit_length() + 1
    bound = 9 * p_oc * (9 << (bits - 1)) * (4 << (bits - 1))
    return bound.bit_length() + 1


def wino_div3_bits(bits: int, max_in_channels: int) -> int:
    """F(4x2): signed width at which stage 2 divides a pixel's sum over every input fold by 3
    (zy_accumulate.h; stage 1 sends Y / 16 = 3 x each fold's direct partial sum). The product with
    3's inverse modulo 2^n recovers the quotient exactly when the quotient, the direct sum of a whole
    call, fits n bits signed: |.| <= 9 max_in_channels 2^(2 bits - 2), 29 bits at 8 bits and 1024
    channels."""
    return (9 * max_in_channels << (2 * bits - 2)).bit_length() + 1


@dataclass(frozen=True)
class HwConfig:
    """A design point. All sizes are compile-time maxima; see the module docstring."""

    p_oc: int = 24  # output channels per fold = MAC array rows = DDR fold width
    p_ic: int = 8  # input lanes per cycle = MAC array columns (divides p_oc)
    bits: int = 16  # activation and weight width
    bus_bits: int = 64  # AXI4-Stream data width (the Zynq-7000 HP port width)
    max_width: int = 416  # line-buffer width: widest feature map
    max_height: int = 416
    max_in_channels: int = 1024
    max_out_channels: int = 1024
    tile_pixels: int = 704  # stage-2 partial-sum tile depth (pixels of a band when input folds > 1)
    stage3_lanes: int = 8  # lanes stage 3 (pool, upsample, sigmoid) handles per cycle
    requant_lanes: int = 8  # lanes stage 2 requantises per cycle (bias, leaky, rounding shift, saturation)
    clock_mhz: float = 100.0
    part: str = "xc7z020clg484-1"
    conv_engine: str = "direct"  # "direct" (one MAC per tap), "winograd" (F(2x2,3x3) for wide 3x3 calls), "winograd-paired", "winograd-4x2"
    # weight-buffer bank words per memory word (dse.blocks.WeightBuffer.group): 0 = the block-RAM rule's
    # choice (fewest BRAM18); 1..MAX_WEIGHT_GROUP dividing the slice's bank words (fewer loader LUTs)
    weight_group: int = 0

    def __post_init__(self):
        def bad(name: str, why: str):
            raise ValueError(f"HwConfig.{name}={getattr(self, name)!r}: {why}")

        from zynqyolo import validate

        for f in fields(self):  # types first (True is no integer, "fast" no clock), then the relations
            value, what = getattr(self, f.name), f"HwConfig.{f.name}"
            if f.type in ("int", int):
                validate.integer(value, what, lo=0 if f.name == "weight_group" else 1)
            elif f.type in ("float", float):
                object.__setattr__(self, f.name, validate.number(value, what))  # 100 and 100.0: one hash
            elif f.type in ("str", str):
                validate.text(value, what)
        if self.bits not in SUPPORTED_BITS:
            bad("bits", f"supported widths are {SUPPORTED_BITS}")
        if self.bus_bits not in SUPPORTED_BUS_BITS:
            bad("bus_bits", f"supported stream widths are {SUPPORTED_BUS_BITS}")
        if self.p_oc % self.p_ic:
            bad("p_oc", f"must be a multiple of p_ic={self.p_ic} (input sub-folds tile a fold exactly)")
        if self.p_oc % self.lanes_per_word:
            bad("p_oc", f"must be a multiple of {self.lanes_per_word} lanes per {self.bus_bits}-bit word")
        if self.p_ic > self.p_oc:
            bad("p_ic", f"must not exceed p_oc={self.p_oc}")
        if self.stage3_lanes > self.p_oc or self.p_oc % self.stage3_lanes:
            bad("stage3_lanes", f"must divide p_oc={self.p_oc}")
        if self.requant_lanes > self.p_oc or self.p_oc % self.requant_lanes:
            bad("requant_lanes", f"must divide p_oc={self.p_oc}")
        if self.max_width < 3 or self.max_height < 3:
            bad("max_width", "must be at least 3")
        if not 1.0 <= self.clock_mhz <= 1000.0:
            bad("clock_mhz", "must be in 1..1000 MHz")
        if self.conv_engine not in CONV_ENGINES:
            bad("conv_engine", f"must be one of {', '.join(CONV_ENGINES)}")
        if self.conv_engine == "winograd-4x2" and self.bits not in WINO_4X2_BITS:
            bad("conv_engine", f"F(4x2, 3x3) is an 8-bit engine: its V = B^T d B4 of {self.bits}-bit codes needs "
                               f"{wino_bits(self.bits, 4)[1]} bits, more than the DSP48E1's 18-bit port")
        elif self.conv_engine == "winograd-4x2" and wino_div3_bits(self.bits, self.max_in_channels) > 32:
            bad("max_in_channels", f"F(4x2)'s stage-2 division by 3 works modulo 2^32: a call's sum of "
                                   f"{self.max_in_channels} channels needs "
                                   f"{wino_div3_bits(self.bits, self.max_in_channels)} bits")
        banks = self.p_oc * self.p_ic // self.lanes_per_word
        if self.weight_group > MAX_WEIGHT_GROUP or (self.weight_group and banks % self.weight_group):
            bad("weight_group", f"must be 0 (the block-RAM rule) or a divisor of the slice's {banks} bank words "
                                f"up to {MAX_WEIGHT_GROUP}")
        if self.wino_pair and self.p_ic % 2:
            bad("conv_engine", f"pairs the two halves of the p_ic lanes: needs an even p_ic (p_ic={self.p_ic})")

    # -- derived quantities ----------------------------------------------------------------------

    @property
    def lanes_per_word(self) -> int:
        return self.bus_bits // self.bits

    @property
    def acc_bits(self) -> int:
        """The kernels' accumulator width (hwconfig.acc_bits of the precision)."""
        return acc_bits(self.bits)

    @property
    def winograd_engine(self) -> bool:
        """Whether stage 1 has a Winograd path, F(2x2,3x3) or F(4x2,3x3) (3x3 calls at least
        ``wino_min_width`` wide use it)."""
        return self.conv_engine != "direct"

    @property
    def wino_pair(self) -> bool:
        """Whether the Winograd path can pair positions (a call of at most p_ic / 2 lanes: the plan's
        ``winograd`` register WINO_PAIRED)."""
        return self.conv_engine == "winograd-paired"

    @property
    def wino_tile_w(self) -> int:
        """Columns of a Winograd output tile: 4 for "winograd-4x2", else 2 (tiles are 2 rows high)."""
        return 4 if self.conv_engine == "winograd-4x2" else 2

    @property
    def wino_min_width(self) -> int:
        """Narrowest map this design's Winograd path convolves (WINO_MIN_WIDTH, WINO_4X2_MIN_WIDTH)."""
        return WINO_4X2_MIN_WIDTH if self.wino_tile_w == 4 else WINO_MIN_WIDTH

    @property
    def line_rows(self) -> int:
        """Rows of the stage-1 line buffer: 3 (the 3x3 window), 6 with the Winograd path (a 4-row
        window of a 2-row tile step plus the 2 rows being filled)."""
        return 6 if self.winograd_engine else 3

    @property
    def macs(self) -> int:
        """MAC units of the conv engine."""
        return self.p_oc * self.p_ic

    @property
    def subfolds(self) -> int:
        """Sub-folds of p_ic lanes in a full fold."""
        return self.p_oc // self.p_ic

    def folds(self, channels: int) -> int:
        return math.ceil(channels / self.p_oc)

    def padded(self, channels: int) -> int:
        """Channels stored in DDR: rounded up to whole bus words."""
        return math.ceil(channels / self.lanes_per_word) * self.lanes_per_word

    def fold_lanes(self, channels: int) -> tuple[int, ...]:
        """Lanes of each DDR fold of a tensor with ``channels`` channels."""
        total = self.padded(channels)
        n = self.folds(channels)
        return tuple(min(self.p_oc, total - f * self.p_oc) for f in range(n))

    def register_fields(self) -> dict[str, int]:
        """AXI-Lite register fields and their bit widths, derived from the maxima."""
        def width(max_value: int) -> int:
            return max(1, int(max_value).bit_length())

        max_folds = self.folds(self.max_out_channels)
        return {
            "conv_enable": 1,
            "leaky": 1,
            "ksize": width(3),
            "stage3": 2,  # 0 bypass, 1 max-pool, 2 upsample, 3 yolo
            "pool_stride": width(2),
            "height": width(self.max_height),
            "width": width(self.max_width),
            "in_channels_a": width(self.max_in_channels),
            "in_channels_b": width(self.max_in_channels),
            "out_channels": width(self.max_out_channels),
            "out_folds": width(max_folds),
            "bands": width(self.max_height),
            "band_rows": width(self.max_height),
            "yolo_period": width(self.max_out_channels),
            "yolo_shift": 6,  # signed alignment of head codes to the sigmoid table index
            "winograd": 2,  # 1: this conv call runs the Winograd path, 2: with paired positions (WINO_PAIRED)
            "out_group": width(max_folds),  # out folds that share one streamed input fold (1x1 calls; spec/out_group.md)
        }

    def register_range(self, name: str) -> tuple[int, int]:
        """Inclusive (min, max) a register field holds (two's complement for SIGNED_REGISTERS)."""
        width = self.register_fields()[name]
        if name in SIGNED_REGISTERS:
            return -(1 << (width - 1)), (1 << (width - 1)) - 1
        return 0, (1 << width) - 1

    def register_offsets(self) -> dict[str, int]:
        """AXI-Lite byte offsets, as the HLS tools lay out the control interface: ap_ctrl at 0x00,
        then one 32-bit argument every 8 bytes from 0x10, in the top function's argument order
        (which is ``register_fields`` order)."""
        return {name: 0x10 + 8 * i for i, name in enumerate(self.register_fields())}

    # -- identity and serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def content_hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def name(self) -> str:
        engine = {"direct": "", "winograd": "w", "winograd-paired": "wp", "winograd-4x2": "w4"}[self.conv_engine]
        return f"oc{self.p_oc}ic{self.p_ic}b{self.bits}{engine}-{self.content_hash[:8]}"

    @classmethod
    def from_dict(cls, data: dict) -> "HwConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"HwConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        """The design file's text (what ``save`` writes and ``load`` reads)."""
        return json.dumps({"hwconfig": self.to_dict(), "hash": self.content_hash}, indent=2)

    def save(self, path: str | Path) -> Path:
        from zynqyolo.atomic import write_text_atomic

        return write_text_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "HwConfig":
        from zynqyolo.errors import ZynqyoloError

        from zynqyolo import validate

        if not Path(path).exists():
            raise ZynqyoloError(f"design file not found: {path}")
        data = validate.json_file(path, "design file")
        body = data.get("hwconfig", data) if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise ZynqyoloError(f"{path}: not a design file (expected a JSON object with 'hwconfig')")
        if isinstance(data, dict) and data.get("arch") == "yu2020":
            raise ZynqyoloError(f"{path}: a design of the reference architecture (yu2020), not of ours; use it with "
                                "'zynqyolo estimate --design' (or write ours with 'zynqyolo dse -o')")
        missing = [f.name for f in fields(cls) if f.name not in body]
        if missing:  # a design point is written out whole: defaults must never fill in a hand-made one
            raise ZynqyoloError(f"{path}: the design point lacks {', '.join(missing)}; write design files with "
                                "'zynqyolo dse -o FILE' (or HwConfig.save), which list every field")
        try:
            config = cls.from_dict(body)
        except (TypeError, ValueError) as exc:
            raise ZynqyoloError(f"{path}: {exc}") from None
        if "hash" in data and data["hash"] != config.content_hash:
            raise ZynqyoloError(f"{path}: content hash does not match the design point (edited by hand?)")
        return config
