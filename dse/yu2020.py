"""The reference design's own model (Yu & Bouganis, ARC 2020, its thesis and DSE code), as restated
in shared/docs/reference-model.md: parameters, initiation intervals, layer batches derived from the
network IR, per-batch cycles, host cache-maintenance and call terms, DSP/BRAM18 resources, and the
reference's brute-force grid search.

Every constant below cites reference-model.md ("RM", with its section); the formulas are the
reference's, not ours, including its simplifications (no weight-load cycles, no DMA term) and its
batch-table quirk (see ``published_pool_channels``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields
from typing import Iterator, Optional, Union

from zynqyolo.model.ir import Conv, MaxPool, Network, Route, Upsample, Yolo
from .devices import Device, get_device

# ---------------------------------------------------------------- constants (all from RM) ----
REFERENCE_CLOCK_MHZ = 100.0  # RM "Layer batches and folds": clock 100 MHz
CHANNEL_GROUP = 4  # RM "Layer batches": channels padded to a multiple of 4; conv reads C_in/4 groups
CONV_EXTRA_ROWS = 3  # RM: (H+3) = padding ring plus one row to flush the window
CONV_EXTRA_COLS = 2  # RM: (W+2) = padding ring
II_CONV_FLOOR = 6  # RM "Initiation intervals": II_conv = max(2*N_max/P_mem, OITR + 2, 6)
II_STAGE_CYCLES = 4  # RM: acc 4/P_acc, pool 4/P_pool, upsample 4/P_up, yolo 4/P_yolo
KERNEL_WORDS = 12  # RM "Host terms": 12*f*h weight words per call (3x3 kernel padded to 12 words)
BYTES_PER_ELEMENT = 2  # RM "Host terms": 1.8 ns per element = 2 bytes (Q8.8) at 0.9 ns/byte
CACHE_NS_PER_BYTE = 0.9  # RM "Host terms"
CACHE_NS_PER_ELEMENT = BYTES_PER_ELEMENT * CACHE_NS_PER_BYTE  # = 1.8 ns
CALL_OVERHEAD_US = 9.0  # RM "Host terms": 9 us per hardware call (registers + IP start)
DMA_FIFO_BRAM18 = 27  # RM "Resources": the two DMAs' FIFOs
DMA_NOTE = ("the reference model has no separate DMA term: transfers are inside the conv cycle count "
            "and the cache terms, so dma_ms is reported as 0.0")

# RM "DSE": the reference's grid (1,296 points) and resource cap.
GRID_N_MAX = (4, 8, 16, 32, 64, 128)
GRID_OITR = (1, 2, 3, 4)
GRID_P_ACC = (2, 4)
GRID_P_POOL = (1, 2)
GRID_P_UP = (4,)
GRID_P_YOLO = (1, 2, 4)
DEFAULT_CAP = 0.9

# RM "One measured point": the reference's published figures for its final design on the Zedboard.
PUBLISHED = {
    "model_latency_ms": 481.0,
    "model_hardware_ms": 340.0,
    "model_cache_ms": 128.0,
    "model_call_ms": 13.0,
    "model_bram18": 184,
    "model_dsp": 161,
    "measured_latency_ms": 532.0,
    "measured_bram18": 185,
    "measured_dsp": 160,
    "measured_lut": 25_900,
    "measured_ff": 46_700,
    "hardware_calls_per_frame": 1396,  # architecture.md section 1 (ARC 2020)
}


# ------------------------------------------------------------------------- parameters ----
@dataclass(frozen=True)
class Yu2020Params:
    """One design point of the reference architecture (RM symbols in brackets).

    n_max [N_max]: channels per call, input and output; p_mem [P_mem]: weight-memory partition;
    oitr [OITR]: output/input transfer ratio; p_acc, p_pool, p_up, p_yolo: stage unit counts.
    """

    n_max: int
    p_mem: int
    oitr: int
    p_acc: int
    p_pool: int
    p_up: int
    p_yolo: int
    clock_mhz: float = REFERENCE_CLOCK_MHZ

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "clock_mhz":
                continue
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        if not (isinstance(self.clock_mhz, (int, float)) and not isinstance(self.clock_mhz, bool)
                and math.isfinite(self.clock_mhz) and self.clock_mhz > 0):
            raise ValueError(f"clock_mhz must be a positive number, got {self.clock_mhz!r}")
        if self.n_max % CHANNEL_GROUP:
            raise ValueError(f"n_max must be a multiple of {CHANNEL_GROUP} (channels move in groups of "
                             f"{CHANNEL_GROUP}), got {self.n_max}")
        if self.n_max % self.p_mem:
            raise ValueError(f"p_mem must divide n_max={self.n_max}, got {self.p_mem}")
        if self.p_mem > self.n_max // 2:
            raise ValueError(f"p_mem must be <= n_max/2 = {self.n_max // 2}, got {self.p_mem}")
        for name in ("p_acc", "p_pool", "p_up", "p_yolo"):
            value = getattr(self, name)
            if II_STAGE_CYCLES % value:
                raise ValueError(f"{name} must divide {II_STAGE_CYCLES} (its II is {II_STAGE_CYCLES}/{name} "
                                 f"cycles), got {value}")

    # RM "Initiation intervals (cycles)"
    @property
    def ii_conv(self) -> int:
        return max(2 * self.n_max // self.p_mem, self.oitr + 2, II_CONV_FLOOR)

    @property
    def ii_acc(self) -> int:
        return II_STAGE_CYCLES // self.p_acc

    @property
    def ii_pool(self) -> int:
        return II_STAGE_CYCLES // self.p_pool

    @property
    def ii_upsample(self) -> int:
        return II_STAGE_CYCLES // self.p_up

    @property
    def ii_yolo(self) -> int:
        return II_STAGE_CYCLES // self.p_yolo

    @property
    def ii_sys(self) -> int:
        """Max over the blocks of the design (all five are always built)."""
        return max(self.ii_conv, self.ii_acc, self.ii_pool, self.ii_upsample, self.ii_yolo)

    def as_tuple(self) -> tuple:
        return (self.n_max, self.p_mem, self.oitr, self.p_acc, self.p_pool, self.p_up, self.p_yolo,
                self.clock_mhz)

    def to_dict(self) -> dict:
        return asdict(self)


# RM "One measured point": the final design.
REFERENCE_POINT = Yu2020Params(n_max=32, p_mem=8, oitr=4, p_acc=2, p_pool=2, p_up=4, p_yolo=1,
                               clock_mhz=REFERENCE_CLOCK_MHZ)


# -------------------------------------------------------------------------- resources ----
def resources_by_block(params: Yu2020Params) -> dict[str, dict[str, int]]:
    """DSP and BRAM18 per block, RM "Resources"."""
    n, p = params.n_max, params.p_mem
    return {
        "conv": {"dsp": math.ceil(4 * n / params.ii_conv) * 9 + 3,
                 "bram18": math.ceil(n / 8) * 12 + math.ceil(n * n / (1024 * p)) * p * 9},
        "acc": {"dsp": params.p_acc + 1, "bram18": math.ceil(params.p_acc / 2)},
        "pool": {"dsp": 2, "bram18": math.ceil(n / 8) * 8},
        "upsample": {"dsp": 2, "bram18": 4},
        "yolo": {"dsp": 6 * params.p_yolo + 1, "bram18": 0},
        "dma": {"dsp": 0, "bram18": DMA_FIFO_BRAM18},
    }


def resources(params: Yu2020Params) -> dict[str, Optional[int]]:
    """Totals; LUT and FF are not modelled by the reference (None)."""
    blocks = resources_by_block(params).values()
    return {"dsp": sum(b["dsp"] for b in blocks), "bram18": sum(b["bram18"] for b in blocks),
            "lut": None, "ff": None}


# ----------------------------------------------------------------------------- batches ----
@dataclass(frozen=True)
class Yu2020Batch:
    """One hardware layer batch: a conv with its optional max-pool / yolo / upsample, or a pool-only
    batch (conv bypassed). Shapes are the network's, channels before padding.

    ``c_in``/``c_out`` are the counts the model uses; ``ir_c_in``/``ir_c_out`` the network's. They
    differ only for the pool-only batch under ``published_pool_channels`` (see ``derive_batches``).
    """

    index: int
    kind: str  # "conv" or "pool"
    layers: tuple[int, ...]  # IR layer indices executed by this batch
    post: Optional[str]  # "maxpool", "yolo", "upsample" or None
    kernel: int  # conv kernel size (1x1 runs padded to 3x3 in the reference); 0 for pool-only
    in_h: int
    in_w: int
    out_h: int  # after the post-op
    out_w: int
    c_in: int
    c_out: int
    ir_c_in: int
    ir_c_out: int

    @property
    def name(self) -> str:
        if self.kind == "pool":
            return f"maxpool{self.layers[0]}"
        head = f"conv{self.layers[0]}"
        return head if self.post is None else f"{head}+{self.post}{self.layers[1]}"

    def to_dict(self) -> dict:
        return dict(asdict(self), name=self.name)


_POST_KINDS = {MaxPool: "maxpool", Yolo: "yolo", Upsample: "upsample"}


def derive_batches(network: Network, *, published_pool_channels: bool = True) -> tuple[Yu2020Batch, ...]:
    """The reference's layer batches, derived from the IR (RM "Layer batches and folds").

    Each conv takes the max-pool / yolo / upsample that directly and only consumes it. A max-pool
    whose conv output is also read elsewhere (YOLOv3-tiny: the 26x26x256 conv 8, reused by route 20)
    cannot be fused, because the route needs the un-pooled tensor: the conv runs alone and the pool
    runs as its own conv-bypassed batch. Routes are host pointer work, not batches.

    ``published_pool_channels`` (default True) reproduces the reference's own batch table, which lists
    128 input channels for that pool-only batch. The real count is 256 (conv 8 outputs 256 channels);
    128 is the input-channel count of the conv that produced the tensor, which is how we reproduce the
    table's figure. Pass False to model the real 256 channels.
    """
    layers = network.layers
    batches: list[Yu2020Batch] = []
    fused: set[int] = set()

    def pool_only(layer: MaxPool) -> Yu2020Batch:
        channels = layer.in_shape.c
        src = layer.inputs[0]
        if published_pool_channels and src >= 0 and isinstance(layers[src], Conv):
            # The reference table's figure (128 for YOLOv3-tiny); the real count is 256.
            channels = layers[src].in_shape.c
        return Yu2020Batch(len(batches), "pool", (layer.index,), "maxpool", 0,
                           layer.in_shape.h, layer.in_shape.w, layer.out_shape.h, layer.out_shape.w,
                           channels, channels, layer.in_shape.c, layer.out_shape.c)

    for layer in layers:
        if isinstance(layer, Conv):
            if layer.stride != 1 or layer.size not in (1, 3):
                raise ValueError(f"layer {layer.index}: the reference architecture runs 3x3 and 1x1 "
                                 f"stride-1 convolutions only, got size {layer.size} stride {layer.stride}")
            nxt = layers[layer.index + 1] if layer.index + 1 < len(layers) else None
            post_layer = None
            if nxt is not None and type(nxt) in _POST_KINDS and nxt.inputs == (layer.index,):
                others = set(network.consumers(layer.index)) - {nxt.index}
                if not others:
                    post_layer = nxt
                elif not isinstance(nxt, MaxPool):
                    raise ValueError(f"layer {nxt.index} ({nxt.kind}) follows conv {layer.index} whose "
                                     f"output is also read by {sorted(others)}: the reference runs only a "
                                     "max-pool as a separate batch")
            out = post_layer.out_shape if post_layer is not None else layer.out_shape
            ids = (layer.index,) if post_layer is None else (layer.index, post_layer.index)
            if post_layer is not None:
                fused.add(post_layer.index)
            batches.append(Yu2020Batch(
                len(batches), "conv", ids, None if post_layer is None else _POST_KINDS[type(post_layer)],
                layer.size, layer.in_shape.h, layer.in_shape.w, out.h, out.w,
                layer.in_shape.c, layer.out_shape.c, layer.in_shape.c, layer.out_shape.c))
        elif isinstance(layer, MaxPool) and layer.index not in fused:
            batches.append(pool_only(layer))
        elif isinstance(layer, (Yolo, Upsample)) and layer.index not in fused:
            raise ValueError(f"layer {layer.index} ({layer.kind}) does not directly follow a conv: the "
                             "reference architecture runs it only behind a conv in the same batch")
        elif not isinstance(layer, (Route, MaxPool, Yolo, Upsample)):
            raise ValueError(f"layer {layer.index}: {layer.kind} is not supported by the reference model")
    return tuple(batches)


def pad_channels(c_in: int, c_out: int, oitr: int) -> tuple[int, int]:
    """RM "Layer batches": pad both to a multiple of 4, then add 4 to C_in while C_out/C_in > OITR."""
    c_in = -(-c_in // CHANNEL_GROUP) * CHANNEL_GROUP
    c_out = -(-c_out // CHANNEL_GROUP) * CHANNEL_GROUP
    while c_out > oitr * c_in:
        c_in += CHANNEL_GROUP
    return c_in, c_out


# -------------------------------------------------------------------------- estimates ----
@dataclass(frozen=True)
class Yu2020BatchEstimate:
    """The model's figures for one batch."""

    batch: Yu2020Batch
    c_in: int  # padded (OITR rule applied)
    c_out: int  # padded
    f_in: int  # input folds
    f_out: int  # output folds
    f_call: int  # input channels per call (RM f)
    h_call: int  # output channels per call (RM h)
    calls: int
    cycles: int
    cache_elements: int
    compute_ms: float
    cache_ms: float
    call_ms: float

    @property
    def host_ms(self) -> float:
        return self.cache_ms + self.call_ms

    @property
    def dma_ms(self) -> float:
        return 0.0  # see DMA_NOTE

    @property
    def latency_ms(self) -> float:
        return self.compute_ms + self.host_ms

    def to_dict(self) -> dict:
        d = self.batch.to_dict()
        d["c_in_raw"], d["c_out_raw"] = d.pop("c_in"), d.pop("c_out")  # before padding
        d.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "batch"})
        d.update(host_ms=self.host_ms, dma_ms=self.dma_ms, latency_ms=self.latency_ms)
        return d


def estimate_batch(params: Yu2020Params, batch: Yu2020Batch) -> Yu2020BatchEstimate:
    """Cycles, calls and cache-maintenance elements of one batch (RM "Layer batches" and "Host")."""
    n = params.n_max
    if batch.kind == "pool":
        c = -(-batch.c_out // CHANNEL_GROUP) * CHANNEL_GROUP
        c_in = c_out = c
    else:
        c_in, c_out = pad_channels(batch.c_in, batch.c_out, params.oitr)
    f_in, f_out = -(-c_in // n), -(-c_out // n)
    f = n if f_in > 1 else c_in
    h = n if f_out > 1 else c_out
    hw_in = batch.in_h * batch.in_w
    s_in, s_acc, s_out = hw_in * f, hw_in * h, batch.out_h * batch.out_w * h
    if batch.kind == "pool":
        cycles = hw_in * (c_out // CHANNEL_GROUP) * params.ii_pool
        calls = f_out
        cache = (s_in + 2 * s_out) * f_out
    else:
        cycles = ((batch.in_h + CONV_EXTRA_ROWS) * (batch.in_w + CONV_EXTRA_COLS)
                  * (c_in // CHANNEL_GROUP) * params.ii_sys * f_out)
        calls = f_in * f_out
        cache = (KERNEL_WORDS * f * h * f_in * f_out + h * f_out
                 + (s_in + 3 * s_acc) * (f_in - 1) * f_out
                 + (s_in + s_acc + 2 * s_out) * f_out)
    return Yu2020BatchEstimate(
        batch, c_in, c_out, f_in, f_out, f, h, calls, cycles, cache,
        compute_ms=cycles / (params.clock_mhz * 1e3),
        cache_ms=cache * CACHE_NS_PER_ELEMENT * 1e-6,
        call_ms=calls * CALL_OVERHEAD_US * 1e-3)


@dataclass(frozen=True)
class Yu2020Estimate:
    """Frame latency (hardware + cache maintenance + call overhead) and resources of one design point."""

    params: Yu2020Params
    batches: tuple[Yu2020BatchEstimate, ...]
    dsp: int
    bram18: int
    published_pool_channels: bool

    @property
    def hardware_ms(self) -> float:
        return sum(b.compute_ms for b in self.batches)

    @property
    def cache_ms(self) -> float:
        return sum(b.cache_ms for b in self.batches)

    @property
    def call_ms(self) -> float:
        return sum(b.call_ms for b in self.batches)

    @property
    def host_ms(self) -> float:
        return self.cache_ms + self.call_ms

    @property
    def dma_ms(self) -> float:
        return 0.0  # see DMA_NOTE

    @property
    def latency_ms(self) -> float:
        return self.hardware_ms + self.cache_ms + self.call_ms

    @property
    def calls_per_frame(self) -> int:
        return sum(b.calls for b in self.batches)

    @property
    def cycles(self) -> int:
        return sum(b.cycles for b in self.batches)

    @property
    def cache_nbytes(self) -> int:
        """Bytes flushed or invalidated per frame."""
        return sum(b.cache_elements for b in self.batches) * BYTES_PER_ELEMENT

    @property
    def resources(self) -> dict[str, Optional[int]]:
        return {"dsp": self.dsp, "bram18": self.bram18, "lut": None, "ff": None}

    @property
    def resources_by_block(self) -> dict[str, dict[str, int]]:
        return resources_by_block(self.params)

    def to_dict(self, *, per_batch: bool = True) -> dict:
        d = {
            "arch": "yu2020",
            "params": self.params.to_dict(),
            "ii": {"conv": self.params.ii_conv, "acc": self.params.ii_acc, "pool": self.params.ii_pool,
                   "upsample": self.params.ii_upsample, "yolo": self.params.ii_yolo,
                   "sys": self.params.ii_sys},
            "latency_ms": self.latency_ms,
            "hardware_ms": self.hardware_ms,
            "cache_ms": self.cache_ms,
            "call_ms": self.call_ms,
            "dma_ms": self.dma_ms,
            "calls_per_frame": self.calls_per_frame,
            "cycles": self.cycles,
            "cache_nbytes": self.cache_nbytes,
            "resources": self.resources,
            "resources_by_block": self.resources_by_block,
            "published_pool_channels": self.published_pool_channels,
            "notes": [DMA_NOTE, "lut and ff are not modelled by the reference"],
        }
        if per_batch:
            d["batches"] = [b.to_dict() for b in self.batches]
        return d


def evaluate(params: Yu2020Params, network: Network, *, published_pool_channels: bool = True,
             batches: Optional[tuple[Yu2020Batch, ...]] = None) -> Yu2020Estimate:
    """The reference model at one design point. ``batches`` (from ``derive_batches``) may be passed
    to skip re-deriving them, e.g. in a search."""
    if batches is None:
        batches = derive_batches(network, published_pool_channels=published_pool_channels)
    res = resources(params)
    return Yu2020Estimate(params, tuple(estimate_batch(params, b) for b in batches),
                          res["dsp"], res["bram18"], published_pool_channels)


# ------------------------------------------------------------------------------ search ----
def grid(clock_mhz: float = REFERENCE_CLOCK_MHZ) -> Iterator[Yu2020Params]:
    """The reference's DSE grid (RM "DSE"): 1,296 points."""
    for n_max in GRID_N_MAX:
        p_mems = [p for p in range(1, n_max // 2 + 1) if n_max % p == 0]
        for p_mem, oitr, p_acc, p_pool, p_up, p_yolo in itertools.product(
                p_mems, GRID_OITR, GRID_P_ACC, GRID_P_POOL, GRID_P_UP, GRID_P_YOLO):
            yield Yu2020Params(n_max, p_mem, oitr, p_acc, p_pool, p_up, p_yolo, clock_mhz)


@dataclass(frozen=True)
class SearchPoint:
    """One evaluated grid point and whether it fits under the cap."""

    estimate: Yu2020Estimate
    feasible: bool
    dsp_fraction: float  # of the device's DSPs
    bram18_fraction: float

    @property
    def params(self) -> Yu2020Params:
        return self.estimate.params

    @property
    def latency_ms(self) -> float:
        return self.estimate.latency_ms

    @property
    def utilisation(self) -> float:
        """The binding resource's fraction of the device (the x axis of a Pareto plot)."""
        return max(self.dsp_fraction, self.bram18_fraction)

    def to_dict(self) -> dict:
        e = self.estimate
        return {"params": e.params.to_dict(), "feasible": self.feasible, "latency_ms": e.latency_ms,
                "hardware_ms": e.hardware_ms, "cache_ms": e.cache_ms, "call_ms": e.call_ms,
                "calls_per_frame": e.calls_per_frame, "resources": e.resources,
                "dsp_fraction": self.dsp_fraction, "bram18_fraction": self.bram18_fraction}


def _rank(point: SearchPoint) -> tuple:
    # RM "DSE": least modelled latency; ties go to fewer resources (summed device fractions), then to
    # the smaller parameter tuple so the result is deterministic.
    return (point.latency_ms, point.dsp_fraction + point.bram18_fraction, point.params.as_tuple())


@dataclass(frozen=True)
class SearchResult:
    """All evaluated points (feasible or not) and the best feasible one (None if nothing fits)."""

    device: Device
    cap: float
    clock_mhz: float
    points: tuple[SearchPoint, ...]
    best: Optional[SearchPoint]

    @property
    def feasible_points(self) -> tuple[SearchPoint, ...]:
        return tuple(p for p in self.points if p.feasible)

    def pareto_front(self) -> tuple[SearchPoint, ...]:
        """Feasible points not dominated in (latency_ms, utilisation), by increasing utilisation."""
        front: list[SearchPoint] = []
        for p in sorted(self.feasible_points, key=lambda p: (p.utilisation, p.latency_ms)):
            if not front or p.latency_ms < front[-1].latency_ms:
                front.append(p)
        return tuple(front)

    def to_dict(self, *, include_points: bool = True) -> dict:
        d = {"arch": "yu2020", "device": self.device.to_dict(), "cap": self.cap,
             "clock_mhz": self.clock_mhz, "n_points": len(self.points),
             "n_feasible": len(self.feasible_points),
             "best": None if self.best is None else self.best.estimate.to_dict()}
        if include_points:
            d["points"] = [p.to_dict() for p in self.points]
        return d


def search(network: Network, device: Union[Device, str], cap: float = DEFAULT_CAP, *,
           clock_mhz: float = REFERENCE_CLOCK_MHZ, published_pool_channels: bool = True) -> SearchResult:
    """The reference's brute-force DSE: every grid point, feasible when its DSP and BRAM18 are each
    at most ``cap`` times the device's; best = least modelled latency, ties to fewer resources."""
    if isinstance(device, str):
        device = get_device(device)
    if not (isinstance(cap, (int, float)) and 0 < cap <= 1):
        raise ValueError(f"cap must be a fraction in (0, 1], got {cap!r}")
    batches = derive_batches(network, published_pool_channels=published_pool_channels)
    points = []
    for params in grid(clock_mhz):
        est = evaluate(params, network, published_pool_channels=published_pool_channels, batches=batches)
        feasible = est.dsp <= cap * device.dsp and est.bram18 <= cap * device.bram18
        points.append(SearchPoint(est, feasible, est.dsp / device.dsp, est.bram18 / device.bram18))
    feasible = [p for p in points if p.feasible]
    best = min(feasible, key=_rank) if feasible else None
    return SearchResult(device, cap, clock_mhz, tuple(points), best)
