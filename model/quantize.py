"""Calibrated fixed-point quantisation and the quantised-model artifact.

Design note:

- Batch-norm is folded in float64 with darknet's formula (``ConvParams.folded``), then weights
  and biases are rounded once (round half up, saturating).
- Every tensor gets a ``FixedFormat`` of ``bits`` width; only ``frac`` is calibrated.
  Formats are chosen per *format group*: a conv output together with the max-pool / upsample
  layers that copy it and every tensor a route joins. One group = one format, so a route is
  pointer arithmetic on the host and never touches data (route 20 makes conv 8 and conv 18
  share their output format; the integer reference would align differing formats, but the
  quantiser never produces them).
- Two rules pick ``frac``: ``maxabs`` (largest frac that represents the largest magnitude seen)
  and ``mse`` (the frac among ``maxabs .. maxabs + 6`` that minimises the summed squared error,
  clipping included, over all calibration values; ties go to the wider range). Activations are
  calibrated on the float reference's activations; weights on the folded weights themselves.
- Headroom: 16-bit conv activations get one integer bit more than the rule picks
  (``DEFAULT_HEADROOM_BITS``). Without it a photo outside a small calibration set (160x160, four
  calibration photos, then the coffee photo) clipped conv 12: peak 39 against a range of 32, SQNR
  67 -> 34 dB. With it the rounding noise rises ~6 dB; conv SQNR stays >= 52 dB.
  At 8 bits headroom costs more than clipping (held-out conv SQNR min 13.5 -> 8.9 dB, mAP 1.000 ->
  0.982), so none. The input has no headroom: letterboxed pixels are in [0, 1].
- Accumulator: frac ``f_in + f_w`` (exact products), width from the structural bound
  (``fixed.accumulator_width``) plus the aligned bias. Bias: width ``2 * bits``, frac
  ``min(maxabs frac, smallest accumulator frac)``, so alignment is always a left shift.
- The output frac of a conv is capped at its smallest accumulator frac (requantisation is a
  right shift or none; never a left shift).

Measured choice (416x416, the 12 fetched photos; fidelity = mAP@0.5 against the float model's
17 detections at score >= 0.25, see ``metrics``; held-out = calibrate on 6 photos, evaluate on the
other 6, both halves; SQNR over the 13 conv layers, min..max (mean); 16-bit rows with the default
1-bit headroom; without it every 16-bit row gains 3..6 dB and still finds every detection):

  ======  =======  ===========  ========  ================  ========================
  bits    rule     weights      fidelity  held-out          conv SQNR dB
  ======  =======  ===========  ========  ================  ========================
  16      maxabs   per layer    1.000     1.000 / 1.000     50.9..65.8 (56.0)
  16      maxabs   per channel  1.000     1.000 / 1.000     52.7..66.4 (57.6)
  16      mse      per layer    1.000     1.000 / 1.000     50.9..65.9 (56.0)
  16      mse      per channel  1.000     1.000 / 1.000     52.8..66.6 (57.7)
  8       maxabs   per layer    0.990     0.983 / 1.000     7.9..21.1 (12.4)
  8       maxabs   per channel  0.990     0.983 / 1.000     11.7..22.3 (15.0)
  8       mse      per layer    0.965     0.873 / 1.000     11.6..21.5 (15.1)
  8       mse      per channel  1.000     1.000 / 1.000     13.5..24.4 (17.1)
  ======  =======  ===========  ========  ================  ========================

Kept: ``mse`` with per-output-channel weight formats at both widths. At 8 bits it is the only
combination without a lost detection (in and out of sample) and gains 2..6 dB over the others;
per-channel weights pay off because the folded weights' per-channel peaks differ by 4..10x within
a layer (batch-norm scales). At 16 bits every choice finds all detections; per channel still adds
1.6 dB on average and 1.9 dB at the worst layer, mse over maxabs only 0.1 dB (at 16 bits the
rounding error is tiny, so mse rarely trades range for precision). Hardware cost: one shift
amount per output channel in stage 2 (bias alignment and requantisation shifts exist anyway), the
same datapath for both widths.

Artifact: one ``.npz`` with integer weights ``w<i>`` (F, C, k, k) and biases ``b<i>`` per conv,
the sigmoid table, and ``meta`` (JSON: format version, bits, method, headroom, every format, the
leaky constant, the network IR via ``Network.to_dict`` and its hash, the calibration images with
their sha256). ``content_hash`` = sha256 over the canonical meta JSON and every array (name,
dtype, shape, bytes). Loading refuses a file whose hash does not match, a file for another
network, or another bit width. Writes go to a temporary file renamed into place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from zynqyolo import validate
from zynqyolo.atomic import atomic_writer
from zynqyolo.errors import ZynqyoloError

from .fixed import (FLOAT64_EXACT_BITS, LEAKY_MUL, LEAKY_SHIFT, FixedFormat, SigmoidLut, accumulator_width,
                    frac_for_max_abs, product_bound, quantize, sigmoid_lut)
from .float_ref import FloatReference
from .ir import INPUT, Conv, MaxPool, Network, Route, Upsample, Yolo
from .weights import Weights

FORMAT_VERSION = 1
SUPPORTED_BITS = (16, 8)
METHODS = ("mse", "maxabs")
DEFAULT_METHOD = "mse"
MSE_SEARCH_BITS = 6  # candidates maxabs .. maxabs + 6
DEFAULT_HEADROOM_BITS = {16: 1, 8: 0}  # extra integer bits for conv activations beyond calibration
CALIBRATION_CACHE_BYTES = 2 << 30  # keep pass-1 activations in memory up to this size


@dataclass(frozen=True)
class ConvQuant:
    """Formats of one conv layer's datapath."""

    index: int
    input: FixedFormat
    weight_width: int
    weight_fracs: tuple[int, ...]  # one per output channel (all equal when per layer)
    bias: FixedFormat
    output: FixedFormat
    acc_width: int

    @property
    def acc_fracs(self) -> np.ndarray:
        return self.input.frac + np.asarray(self.weight_fracs, dtype=np.int64)

    @property
    def per_channel(self) -> bool:
        return len(set(self.weight_fracs)) > 1

    def to_dict(self) -> dict:
        return {"index": self.index, "input": self.input.to_dict(), "weight_width": self.weight_width,
                "weight_fracs": list(self.weight_fracs), "bias": self.bias.to_dict(),
                "output": self.output.to_dict(), "acc_width": self.acc_width}

    @classmethod
    def from_dict(cls, d: dict) -> "ConvQuant":
        d = validate.mapping(d, "conv format", required=("index", "input", "weight_width", "weight_fracs", "bias",
                                                          "output", "acc_width"))
        where = f"conv {d['index']!r}"
        return cls(validate.integer(d["index"], "conv index", lo=0), FixedFormat.from_dict(d["input"]),
                   validate.integer(d["weight_width"], f"{where} weight_width", lo=1, hi=64),
                   tuple(validate.integer(f, f"{where} weight_fracs[{i}]")
                         for i, f in enumerate(validate.sequence(d["weight_fracs"], f"{where} weight_fracs"))),
                   FixedFormat.from_dict(d["bias"]), FixedFormat.from_dict(d["output"]),
                   validate.integer(d["acc_width"], f"{where} acc_width", lo=1, hi=64))


@dataclass(frozen=True)
class HardwareFormats:
    """What the hardware plan (``dse.plan.make_plan``) reads of a quantised model: the formats that set
    registers (the sigmoid index alignment of each YOLO input) and those the kernels' fixed widths
    must hold (accumulator width, requantisation shift range, per conv). No weights."""

    network_hash: str
    bits: int
    model_hash: str  # the quantised model's content hash (a plan names the model it was made for)
    sigmoid_in_frac: int
    tensor_fracs: dict[int, int]  # INPUT and every layer -> frac of its output format
    acc_widths: dict[int, int]  # conv -> accumulator width
    shift_ranges: dict[int, tuple[int, int]]  # conv -> (min, max) of acc_frac - out_frac over its channels

    def frac_of(self, index: int) -> int:
        return self.tensor_fracs[index]

    @classmethod
    def neutral(cls, network: Network, bits: int, acc_bits: int, network_hash: str | None = None) -> "HardwareFormats":
        """Formats for modelling a network without calibrating it: every tensor at the sigmoid
        table's input frac (so every yolo_shift is 0), every conv an ``acc_bits`` accumulator with
        shift 0. Neither changes a loop count or a byte count. Its model hash names it, so a plan made
        with it can never drive a board or the C simulation of a real model (``host.frame`` refuses it)."""
        network_hash = network_hash or network.content_hash
        frac = sigmoid_lut(bits).in_frac
        return cls(network_hash, bits, f"formats-stand-in-{bits}bit-{network_hash[:16]}", frac,
                   {i: frac for i in [INPUT] + [layer.index for layer in network.layers]},
                   {c.index: acc_bits for c in network.convs}, {c.index: (0, 0) for c in network.convs})


@dataclass(frozen=True)
class QuantizedModel:
    """A quantised network: integer parameters and every format; what ``intref`` runs."""

    network: Network
    bits: int
    method: str
    headroom_bits: int
    input_format: FixedFormat
    formats: tuple[FixedFormat, ...]  # output format of every layer (YOLO: its tw/th raw channels)
    convs: dict[int, ConvQuant]
    weights: dict[int, np.ndarray] = field(repr=False)  # int (F, C, k, k) codes
    biases: dict[int, np.ndarray] = field(repr=False)  # int (F,) codes
    sigmoid: SigmoidLut
    sigmoid_table: np.ndarray = field(repr=False)
    calibration: tuple[dict, ...] = ()  # {"name", "sha256"} per image
    content_hash: str = ""

    def format_of(self, index: int) -> FixedFormat:
        return self.input_format if index == INPUT else self.formats[index]

    def hardware_formats(self) -> HardwareFormats:
        """What the hardware plan reads of this model (``HardwareFormats``)."""
        fracs = {INPUT: self.input_format.frac}
        fracs.update({layer.index: self.formats[layer.index].frac for layer in self.network.layers})
        shifts = {i: q.acc_fracs - q.output.frac for i, q in self.convs.items()}
        return HardwareFormats(self.network.content_hash, self.bits, self.content_hash, self.sigmoid.in_frac, fracs,
                               {i: q.acc_width for i, q in self.convs.items()},
                               {i: (int(v.min()), int(v.max())) for i, v in shifts.items()})

    def _meta(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "bits": self.bits,
            "method": self.method,
            "headroom_bits": self.headroom_bits,
            "network": self.network.to_dict(),
            "network_hash": self.network.content_hash,
            "input_format": self.input_format.to_dict(),
            "formats": [f.to_dict() for f in self.formats],
            "convs": [self.convs[i].to_dict() for i in sorted(self.convs)],
            "sigmoid": self.sigmoid.to_dict(),
            "leaky": {"mul": LEAKY_MUL, "shift": LEAKY_SHIFT},
            "calibration": list(self.calibration),
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        wdt = np.int16 if self.bits == 16 else np.int8
        bdt = np.int32 if self.bits == 16 else np.int16
        arrays = {"sigmoid_table": np.asarray(self.sigmoid_table, dtype=np.int32)}
        for i in sorted(self.convs):
            arrays[f"w{i}"] = np.asarray(self.weights[i]).astype(wdt)
            arrays[f"b{i}"] = np.asarray(self.biases[i]).astype(bdt)
        return arrays

    def compute_hash(self) -> str:
        return _content_hash(self._meta(), self._arrays())

    def summary(self) -> str:
        """Per-layer table of the chosen formats."""
        lines = [f"{self.bits}-bit model, method {self.method}, headroom {self.headroom_bits} bit, "
                 f"input {self.input_format}, "
                 f"{len(self.calibration)} calibration images",
                 f"{'#':>3} {'layer':<14} {'in':>7} {'weights (frac range)':>21} {'bias':>7} {'acc':>5} {'out':>7}"]
        for layer in self.network.layers:
            out = self.formats[layer.index]
            if isinstance(layer, Conv):
                q = self.convs[layer.index]
                lo, hi = min(q.weight_fracs), max(q.weight_fracs)
                wf = f"s{q.weight_width}.{lo}" + (f"..{hi}" if hi != lo else "")
                lines.append(f"{layer.index:>3} {layer.kind:<14} {str(q.input):>7} {wf:>21} {str(q.bias):>7} "
                             f"{q.acc_width:>5} {str(out):>7}")
            elif isinstance(layer, Yolo):
                lines.append(f"{layer.index:>3} {layer.kind:<14} {str(out):>7} {'':>21} {'':>7} {'':>5} "
                             f"{str(self.sigmoid.out):>7}  (tw,th stay {out}; sigmoid table "
                             f"{self.sigmoid.entries} x {self.sigmoid.out}, in frac {self.sigmoid.in_frac})")
            else:
                lines.append(f"{layer.index:>3} {layer.kind:<14} {'':>7} {'':>21} {'':>7} {'':>5} {str(out):>7}")
        return "\n".join(lines)


def _content_hash(meta: dict, arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"\n{name}:{a.dtype.str}:{a.shape}\n".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Format groups and frac selection
# ----------------------------------------------------------------------------------------------


def format_groups(network: Network) -> dict[int, int]:
    """Layer index (and INPUT) -> group id: tensors that must share one format.

    Max-pool and upsample copy codes, so they join their input; a route joins all its inputs;
    a YOLO layer's raw channels are its input conv's codes.
    """
    parent = {INPUT: INPUT, **{layer.index: layer.index for layer in network.layers}}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for layer in network.layers:
        if isinstance(layer, (MaxPool, Upsample, Route, Yolo)):
            for i in layer.inputs:
                union(layer.index, i)
    return {i: find(i) for i in parent}


def _sse(values: np.ndarray, fmt: FixedFormat) -> float:
    """Summed squared quantisation error (rounding and clipping) of ``values`` in ``fmt``.

    A statistic for choosing formats, computed in float32 (power-of-two scaling is exact; the
    sum carries about 1e-5 relative error, far below the factor ~4 between candidates).
    """
    v = np.asarray(values, dtype=np.float32) * np.float32(2.0**fmt.frac)
    q = np.floor(v + np.float32(0.5))
    np.clip(q, fmt.min_code, fmt.max_code, out=q)
    v -= q
    return float(np.dot(v.ravel(), v.ravel())) * 4.0 ** -fmt.frac


def choose_frac(values: np.ndarray | None, width: int, method: str, max_abs: float | None = None,
                sse: Callable[[int], float] | None = None) -> int:
    """``frac`` for a tensor by ``method`` ("maxabs" or "mse"); ``values`` or (``max_abs``, ``sse``)."""
    if max_abs is None:
        max_abs = float(np.max(np.abs(values))) if values.size else 0.0
    base = frac_for_max_abs(max_abs, width)
    if method == "maxabs" or max_abs == 0.0:
        return base
    if sse is None:
        sse = lambda f: _sse(values, FixedFormat(width, f))  # noqa: E731
    errors = [(sse(f), f) for f in range(base, base + MSE_SEARCH_BITS + 1)]
    best = min(e for e, _ in errors)
    return min(f for e, f in errors if e == best)


def choose_row_fracs(rows: np.ndarray, width: int, method: str) -> np.ndarray:
    """``choose_frac`` for every row of a 2-D array at once (per-output-channel weights)."""
    rows = np.asarray(rows, dtype=np.float64)
    max_abs = np.max(np.abs(rows), axis=1)
    base = np.array([frac_for_max_abs(float(m), width) for m in max_abs], dtype=np.int64)
    if method == "maxabs":
        return base
    fmt = FixedFormat(width, 0)
    errors = []
    for d in range(MSE_SEARCH_BITS + 1):
        frac = (base + d)[:, None]
        v = np.ldexp(rows, frac)
        q = np.clip(np.floor(v + 0.5), fmt.min_code, fmt.max_code)
        errors.append(np.sum(np.square(v - q), axis=1) * np.ldexp(1.0, -2 * (base + d)))
    errors = np.stack(errors)  # (candidates, rows); argmin takes the first (widest range) on ties
    best = np.argmin(errors, axis=0)
    return np.where(max_abs == 0.0, base, base + best)


class _GroupStats:
    """Streaming statistics of one format group over the calibration images (two passes)."""

    def __init__(self):
        self.max_abs = 0.0
        self.sse: dict[int, float] = {}


def _image_source(item, network: Network) -> tuple[Callable[[], np.ndarray], dict]:
    if isinstance(item, np.ndarray):
        arr = np.ascontiguousarray(item, dtype=np.float32)
        if arr.shape != network.input_shape.as_tuple():
            raise ZynqyoloError(f"calibration array of shape {arr.shape}; expected the letterboxed "
                                f"{network.input_shape.as_tuple()} float32 input")
        return (lambda: arr), {"name": "<array>", "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    path = Path(item)
    from .preprocess import letterbox, load_image

    if not path.is_file():
        raise ZynqyoloError(f"calibration image not found: {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return (lambda: letterbox(load_image(path), network.width, network.height)), {"name": path.name, "sha256": digest}


def calibrate(network: Network, weights: Weights, images: Sequence, bits: int = 16, method: str = DEFAULT_METHOD,
              per_channel: bool = True, headroom_bits: int | None = None,
              log: Callable[[str], None] = lambda msg: None) -> QuantizedModel:
    """Choose every format from ``images`` (paths or letterboxed float32 (3, H, W) arrays) and
    quantise ``weights``. Returns a hashed ``QuantizedModel``."""
    if bits not in SUPPORTED_BITS:
        raise ZynqyoloError(f"bits={bits}: supported precisions are {SUPPORTED_BITS}")
    if method not in METHODS:
        raise ZynqyoloError(f"method={method!r}: choose from {METHODS}")
    if headroom_bits is None:
        headroom_bits = DEFAULT_HEADROOM_BITS[bits]
    if not isinstance(headroom_bits, int) or not 0 <= headroom_bits < bits:
        raise ZynqyoloError(f"headroom_bits={headroom_bits!r} must be an integer in 0..{bits - 1}")
    images = list(images)
    if not images:
        raise ZynqyoloError("calibration needs at least one image (got none); pass image files, or run "
                            "'zynqyolo fetch' to get the default photos")
    sources = [_image_source(item, network) for item in images]
    float_model = FloatReference(network, weights)
    groups = format_groups(network)
    members: dict[int, list[int]] = {}
    for conv in network.convs:  # conv outputs carry all values of their group (pool/upsample copy them)
        members.setdefault(groups[conv.index], []).append(conv.index)
    members.setdefault(groups[INPUT], []).append(INPUT)
    stats = {g: _GroupStats() for g in members}

    cache: list[list[tuple[int, list[np.ndarray]]]] = []  # pass-1 activations, kept while they fit
    cached_bytes = 0

    def tensors(load):
        x = load()
        acts = float_model.activations(x)
        return [(g, [x if i == INPUT else acts[i] for i in idxs]) for g, idxs in members.items()]

    log(f"calibration pass 1/2 (ranges) on {len(sources)} images")
    for load, _ in sources:
        per_image = tensors(load)
        for g, ts in per_image:
            stats[g].max_abs = max(stats[g].max_abs, *(float(np.max(np.abs(t))) for t in ts))
        if method == "mse" and cache is not None:
            cached_bytes += sum(t.nbytes for _, ts in per_image for t in ts)
            if cached_bytes <= CALIBRATION_CACHE_BYTES:
                cache.append(per_image)
            else:
                cache = None
    candidates = {g: range(frac_for_max_abs(s.max_abs, bits), frac_for_max_abs(s.max_abs, bits) + MSE_SEARCH_BITS + 1)
                  for g, s in stats.items()}
    if method == "mse":
        log("calibration pass 2/2 (squared errors)")
        for n, (load, _) in enumerate(sources):
            for g, ts in (cache[n] if cache is not None else tensors(load)):
                for f in candidates[g]:
                    fmt = FixedFormat(bits, f)
                    stats[g].sse[f] = stats[g].sse.get(f, 0.0) + sum(_sse(t, fmt) for t in ts)
    # Headroom widens the conv activations' range for images beyond the calibration set; the
    # input needs none (letterboxed pixels are in [0, 1] by construction).
    group_frac = {g: choose_frac(None, bits, method, s.max_abs, s.sse.__getitem__)
                  - (0 if g == groups[INPUT] else headroom_bits) for g, s in stats.items()}

    # Parameters: folded float64 weights and biases.
    folded = {c.index: weights.convs[c.index].folded() for c in network.convs}
    w_fracs: dict[int, tuple[int, ...]] = {}
    for conv in network.convs:
        w = folded[conv.index][0].reshape(conv.filters, -1)
        if per_channel:
            w_fracs[conv.index] = tuple(int(f) for f in choose_row_fracs(w, bits, method))
        else:
            w_fracs[conv.index] = (choose_frac(w, bits, method),) * conv.filters

    # Cap every output frac at its conv's smallest accumulator frac (repeat: groups span convs).
    def frac_of(i: int) -> int:
        return group_frac[groups[i]]

    changed, rounds = True, 0
    while changed:
        changed, rounds = False, rounds + 1
        if rounds > 4 * len(network.layers):
            raise ZynqyoloError("cannot choose output formats: the accumulator-frac caps do not settle "
                                "(a route joins a conv's input and output with weights >= 1?)")
        for conv in network.convs:
            cap = frac_of(conv.inputs[0]) + min(w_fracs[conv.index])
            if frac_of(conv.index) > cap:
                group_frac[groups[conv.index]] = cap
                changed = True

    fmt = lambda i: FixedFormat(bits, frac_of(i))  # noqa: E731
    convs: dict[int, ConvQuant] = {}
    qweights: dict[int, np.ndarray] = {}
    qbiases: dict[int, np.ndarray] = {}
    for conv in network.convs:
        w, b = folded[conv.index]
        in_fmt = fmt(conv.inputs[0])
        fr = np.asarray(w_fracs[conv.index], dtype=np.int64)
        qw = np.empty(w.shape, dtype=np.int64)
        for f in np.unique(fr):
            sel = fr == f
            qw[sel] = quantize(w[sel], FixedFormat(bits, int(f)))
        acc_fracs = in_fmt.frac + fr
        b_frac = min(frac_for_max_abs(float(np.max(np.abs(b))), 2 * bits), int(acc_fracs.min()))
        b_fmt = FixedFormat(2 * bits, b_frac)
        qb = quantize(b, b_fmt)
        aligned = int(np.max(np.abs(qb) << (acc_fracs - b_frac))) if qb.size else 0
        k = conv.in_shape.c * conv.size * conv.size
        acc_width = accumulator_width(k, in_fmt, FixedFormat(bits, 0), aligned)
        convs[conv.index] = ConvQuant(conv.index, in_fmt, bits, tuple(int(f) for f in fr), b_fmt, fmt(conv.index),
                                      acc_width)
        qweights[conv.index] = qw
        qbiases[conv.index] = qb
    lut = sigmoid_lut(bits)
    model = QuantizedModel(network, bits, method, headroom_bits, fmt(INPUT),
                           tuple(fmt(layer.index) for layer in network.layers), convs, qweights, qbiases, lut,
                           lut.table(), tuple(rec for _, rec in sources))
    check_model(model)
    return _with_hash(model)


def _with_hash(model: QuantizedModel) -> QuantizedModel:
    # Normalise array dtypes to what the artifact stores, so a loaded model hashes the same.
    arrays = model._arrays()
    model = dataclasses.replace(model, weights={i: arrays[f"w{i}"] for i in model.convs},
                                biases={i: arrays[f"b{i}"] for i in model.convs},
                                sigmoid_table=arrays["sigmoid_table"], calibration=tuple(model.calibration))
    return dataclasses.replace(model, content_hash=model.compute_hash())


# ----------------------------------------------------------------------------------------------
# Structural checks (run at calibration and at load)
# ----------------------------------------------------------------------------------------------


def check_model(model: QuantizedModel) -> None:
    """Formats consistent with the network and with the contract; parameters inside their formats."""
    net = model.network
    if model.bits not in SUPPORTED_BITS:
        raise ZynqyoloError(f"bits={model.bits}: supported precisions are {SUPPORTED_BITS}")
    if len(model.formats) != len(net.layers):
        raise ZynqyoloError(f"model has {len(model.formats)} layer formats, the network {len(net.layers)} layers")
    for name, f in [("input", model.input_format), ("sigmoid output", model.sigmoid.out)] + \
            [(f"layer {i}", f) for i, f in enumerate(model.formats)]:
        if f.width != model.bits:
            raise ZynqyoloError(f"{name} format {f} is not {model.bits} bits wide")
    for layer in net.layers:
        out = model.formats[layer.index]
        if isinstance(layer, (MaxPool, Upsample)) and out != model.format_of(layer.inputs[0]):
            raise ZynqyoloError(f"layer {layer.index} ({layer.kind}) must keep its input format")
        if isinstance(layer, Yolo) and out != model.format_of(layer.inputs[0]):
            raise ZynqyoloError(f"yolo layer {layer.index}: raw channels must keep the head conv's format")
    if set(model.convs) != {c.index for c in net.convs}:
        raise ZynqyoloError("model conv formats do not match the network's conv layers")
    for conv in net.convs:
        q = model.convs[conv.index]
        w, b = model.weights[conv.index], model.biases[conv.index]
        where = f"layer {conv.index}"
        if q.input != model.format_of(conv.inputs[0]) or q.output != model.formats[conv.index]:
            raise ZynqyoloError(f"{where}: conv formats disagree with the layer formats")
        if tuple(w.shape) != (conv.filters, conv.in_shape.c, conv.size, conv.size) or tuple(b.shape) != (conv.filters,):
            raise ZynqyoloError(f"{where}: parameter shapes {w.shape}, {b.shape} do not fit the network")
        if len(q.weight_fracs) != conv.filters:
            raise ZynqyoloError(f"{where}: {len(q.weight_fracs)} weight fracs for {conv.filters} channels")
        if q.weight_width != model.bits or q.bias.width != 2 * model.bits:
            raise ZynqyoloError(f"{where}: weights must be {model.bits} and biases {2 * model.bits} bits wide")
        wf = FixedFormat(q.weight_width, 0)
        if w.size and (w.min() < wf.min_code or w.max() > wf.max_code):
            raise ZynqyoloError(f"{where}: weight codes outside {q.weight_width} bits")
        if b.size and (b.min() < q.bias.min_code or b.max() > q.bias.max_code):
            raise ZynqyoloError(f"{where}: bias codes outside {q.bias}")
        acc_fracs = q.acc_fracs
        if np.any(acc_fracs < q.bias.frac):
            raise ZynqyoloError(f"{where}: bias frac {q.bias.frac} exceeds an accumulator frac")
        if np.any(acc_fracs < q.output.frac):
            raise ZynqyoloError(f"{where}: output frac {q.output.frac} exceeds an accumulator frac")
        k = conv.in_shape.c * conv.size * conv.size
        bound = product_bound(k, q.input, wf)
        aligned = int(np.max(np.abs(b.astype(np.int64)) << (acc_fracs - q.bias.frac))) if b.size else 0
        needed = accumulator_width(k, q.input, wf, aligned)
        if needed > q.acc_width:
            raise ZynqyoloError(f"{where}: accumulator width {q.acc_width} is below the bound {needed}")
        if (bound + aligned) * LEAKY_MUL >= 2**63:
            raise ZynqyoloError(f"{where}: accumulator bound 2^{(bound + aligned).bit_length()} too wide for the "
                                "int64 leaky path of the integer reference")
    lut_table = model.sigmoid.table()
    if not np.array_equal(np.asarray(model.sigmoid_table, dtype=np.int64), lut_table):
        raise ZynqyoloError("the sigmoid table does not match its specification")


def float64_exact(model: QuantizedModel, conv: Conv) -> bool:
    """True when float64 BLAS computes this conv's accumulator exactly (every partial sum < 2^53)."""
    q = model.convs[conv.index]
    k = conv.in_shape.c * conv.size * conv.size
    return product_bound(k, q.input, FixedFormat(q.weight_width, 0)) < 2**FLOAT64_EXACT_BITS


# ----------------------------------------------------------------------------------------------
# Artifact
# ----------------------------------------------------------------------------------------------


def save_model(model: QuantizedModel, path: str | Path) -> Path:
    """Write ``model`` as one ``.npz`` atomically (``atomic.atomic_writer``: temporary file, then rename)."""
    path = Path(path)
    if path.is_dir():
        raise ZynqyoloError(f"output {path} is a directory; give a file name such as {path / 'model-q16.npz'}")
    if not path.parent.is_dir():
        raise ZynqyoloError(f"output directory {path.parent} does not exist")
    meta = model._meta()
    arrays = model._arrays()
    digest = _content_hash(meta, arrays)
    with atomic_writer(path) as fh:
        np.savez(fh, meta=np.array(json.dumps(meta, sort_keys=True)), content_hash=np.array(digest), **arrays)
    return path


def load_model(path: str | Path, network: Network | None = None, bits: int | None = None) -> QuantizedModel:
    """Read and verify a quantised model. ``network``: refuse a file made for another network;
    ``bits``: refuse another precision."""
    path = Path(path)
    if path.is_dir():
        raise ZynqyoloError(f"quantised model {path} is a directory; give the .npz file 'zynqyolo quantize' wrote")
    if not path.is_file():
        raise ZynqyoloError(f"quantised model not found: {path} (make one with 'zynqyolo quantize')")
    remake = "make it with 'zynqyolo quantize'"
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ZynqyoloError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic != b"PK\x03\x04":  # an .npz is a zip archive; anything else is not ours (and is never unpickled)
        raise ZynqyoloError(f"{path}: not a zynqyolo quantised model (.npz): not a zip archive; {remake}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            files = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ZynqyoloError(f"{path}: not a zynqyolo quantised model (.npz): {str(exc).split('. ')[0]}; "
                            f"{remake}") from None
    if "meta" not in files or "content_hash" not in files:
        raise ZynqyoloError(f"{path}: not a zynqyolo quantised model (no meta/content_hash)")
    try:
        meta = json.loads(str(files.pop("meta")))
        stored_hash = str(files.pop("content_hash"))
    except (ValueError, TypeError) as exc:
        raise ZynqyoloError(f"{path}: unreadable metadata: {exc}") from None
    try:
        validate.mapping(meta, "metadata")
        for name, array in files.items():  # every array holds integer codes: no floats, booleans or strings
            validate.int_array(array, f"array {name}")
    except validate.InvalidInput as exc:
        raise ZynqyoloError(f"{path}: malformed quantised model: {exc}; {remake}") from None
    if _content_hash(meta, files) != stored_hash:
        raise ZynqyoloError(f"{path}: content hash mismatch: the file was modified or damaged after it was "
                            "written; make it again with 'zynqyolo quantize'")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ZynqyoloError(f"{path}: artifact format version {meta.get('format_version')}, this zynqyolo reads "
                            f"version {FORMAT_VERSION}")
    if meta.get("leaky") != {"mul": LEAKY_MUL, "shift": LEAKY_SHIFT}:
        raise ZynqyoloError(f"{path}: made for leaky constant {meta.get('leaky')}, this zynqyolo computes "
                            f"{LEAKY_MUL}/2^{LEAKY_SHIFT}; quantise again")
    try:
        stored_net = Network.from_dict(meta["network"])
        convs = {c.index: c for c in (ConvQuant.from_dict(c) for c in validate.sequence(meta["convs"], "convs"))}
        model = QuantizedModel(
            network=stored_net, bits=validate.integer(meta["bits"], "bits"),
            method=validate.text(meta["method"], "method"),
            headroom_bits=validate.integer(meta["headroom_bits"], "headroom_bits", lo=0),
            input_format=FixedFormat.from_dict(meta["input_format"]),
            formats=tuple(FixedFormat.from_dict(f) for f in validate.sequence(meta["formats"], "formats")),
            convs=convs,
            weights={i: files[f"w{i}"] for i in convs},
            biases={i: files[f"b{i}"] for i in convs},
            sigmoid=SigmoidLut.from_dict(meta["sigmoid"]), sigmoid_table=files["sigmoid_table"],
            calibration=tuple(validate.mapping(c, "calibration image", required=("name", "sha256")) for c in
                              validate.sequence(meta["calibration"], "calibration")),
            content_hash=stored_hash)
    except validate.InvalidInput as exc:
        raise ZynqyoloError(f"{path}: malformed quantised model: {exc}; {remake}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ZynqyoloError(f"{path}: malformed quantised model: missing or bad {exc}; {remake}") from None
    if stored_net.content_hash != meta.get("network_hash"):
        raise ZynqyoloError(f"{path}: the stored network does not match its recorded hash")
    if network is not None and network.content_hash != stored_net.content_hash:
        raise ZynqyoloError(
            f"{path}: made for another network ({stored_net.width}x{stored_net.height}, {len(stored_net.layers)} "
            f"layers, hash {stored_net.content_hash[:12]}) than the one requested ({network.width}x{network.height}, "
            f"{len(network.layers)} layers, hash {network.content_hash[:12]}); quantise this cfg/size again")
    if bits is not None and model.bits != bits:
        raise ZynqyoloError(f"{path}: a {model.bits}-bit model, but {bits}-bit was requested")
    check_model(model)
    return model
