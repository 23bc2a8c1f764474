"""The design-space explorer: every design point of a grid, its modelled frame latency and resources,
the best one under a resource cap, and the Pareto fronts. Two architectures behind one interface:

- ``zynqyolo``: our accelerator (``HwConfig``), modelled by ``blocks`` + ``perf`` over the plan;
- ``yu2020``: the reference design's own model and grid (``yu2020.py``), for comparison.

The grid of our architecture (``search_space``): the conv engine (``HwConfig.conv_engine``: direct,
winograd, whose F(2x2, 3x3) path runs the 3x3 calls at least WINO_MIN_WIDTH wide, or winograd-paired,
which also computes two positions a step for the calls of at most p_ic / 2 input channels; ``engines``
of ``search``, all by default, ``zynqyolo dse --engine``) jointly with p_oc every multiple of the lanes
per bus word from 8 to 64, then 80..256 in steps of 16 or 32 (the MAC array's rows and the DDR fold
width); p_ic and stage3_lanes every divisor of p_oc (winograd-paired: the even ones whose half holds
the network's narrowest 3x3 input), requant_lanes equal to stage3_lanes (both stages after the
MAC array take a pixel's lanes at the same pace, and searching them apart would multiply the grid
for a few hundred LUTs), then, for the best point of each engine, every other divisor of p_oc as
requant_lanes (``refine_requant``: where stage 2 alone paces a call, e.g. layer 0 of a paired design); tile_pixels a power of two from 512 to 16384 words
(each fills its BRAM18 depth: a tile of 600 costs what 1024 costs); bus_bits 64 (the C simulation
supports only a 64-bit bus so far, ``hls/csim.py``, so 128-bit UltraScale+ HP ports are not
searched); maxima from the network; precision from the request; the clock is the one the board's PS
makes for the requested clock (``devices.achieved_clock_mhz``: the fastest PLL / (d0 x d1) not above
it, so 150 MHz on a Zynq-7000 board is 142.857143 MHz), and every point and the design file carry
it. All points are evaluated, feasible or not, so the plots show the whole space.

Besides the MAC efficiency (direct-convolution MACs / (MAC units x PL cycles), above 1 where Winograd
saves), every point and batch carries its *multiplier efficiency*: the multiplications its algorithms
need (16 per 2x2 tile and channel pair for winograd calls, the MACs for direct ones) / (multipliers x
PL cycles).

Speed: one plan per (conv_engine, p_oc, tile_pixels) serves every p_ic and lane count (``perf.CallShape``), a
plan is reused for larger tiles once no call is split into bands, per-call cycles are memoised
(``SearchCache``, shared by the searches of a caller that passes one), and the per-point latency is
``perf.frame_latency``; the full per-batch estimate (resources by block) is built for the chosen point only.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.ir import Conv, Network

from . import devices, perf
from .blocks import LEAKY_MUL_IMPL, Resources, WeightBuffer
from .hwconfig import CONV_ENGINES, MAX_WEIGHT_GROUP, WINO_4X2_BITS, HwConfig

ARCHS = ("zynqyolo", "yu2020")
DEFAULT_CAP = 0.9
BUS_BITS = 64  # hls/csim.py builds 64-bit designs only; see the module docstring
TILE_CANDIDATES = (512, 1024, 2048, 4096, 8192, 16384)
LARGE_P_OC = (80, 96, 112, 128, 160, 192, 224, 256)
MIN_P_OC = 8  # below this the layer-12 call alone has tens of thousands of blocks and ~100 transfers

# The board a part is modelled on when only a part is given (its DDR and CPU enter the model).
DEFAULT_BOARD = {"xc7z010": "zybo-z7-10", "xc7z020": "zedboard", "xc7z045": "zc706", "xczu3eg": "ultra96v2",
                 "xczu5ev": "kv260", "xczu7ev": "zcu104", "xczu9eg": "zcu102"}


class NoFeasibleDesign(ZynqyoloError):
    """No design point of the grid fits the device under the cap."""


def resolve_board(device: str, board: Optional[str] = None) -> devices.Board:
    """The board for ``--device`` (a board name, a part or a full ordering code) and ``--board``."""
    try:
        if board is not None:
            b = devices.get_board(board)
            if device and devices.get_device(device).part != b.part:
                raise ZynqyoloError(f"board {b.name} carries {b.part}, not {device}")
            return b
        key = str(device).strip().lower()
        if key in devices.known_boards():
            return devices.get_board(key)
        part = devices.get_device(key).part
        for b in devices.BOARDS:  # a full ordering code names its board exactly
            if b.ordering_code.lower() == key:
                return b
        return devices.get_board(DEFAULT_BOARD[part])
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None


def pl_clock_mhz(board: devices.Board, requested_mhz: float) -> float:
    """The PL clock ``board``'s PS makes for ``requested_mhz`` (``devices.achieved_clock_mhz``), after
    checking the request is a clock this tool handles (1..1000 MHz)."""
    if isinstance(requested_mhz, bool) or not isinstance(requested_mhz, (int, float)) \
            or not math.isfinite(requested_mhz) or not 1.0 <= requested_mhz <= 1000.0:
        raise ZynqyoloError(f"--clock-mhz must be in 1..1000, got {requested_mhz!r}")
    return devices.achieved_clock_mhz(board, float(requested_mhz))


def clock_note(board: devices.Board, requested_mhz: Optional[float], achieved_mhz: float) -> dict:
    """How the PS makes ``achieved_mhz`` (for JSON output and the note the CLI prints)."""
    src = board.pl_clock
    return {"requested_mhz": requested_mhz, "achieved_mhz": achieved_mhz, "source": src.pll, "source_mhz": src.mhz,
            "divisor": src.divisor(achieved_mhz), "board": board.name}


def clock_message(note: dict) -> Optional[str]:
    """A one-line note when the PS makes a clock other than the requested one, else None."""
    req, got = note.get("requested_mhz"), note["achieved_mhz"]
    if req is None or math.isclose(req, got, rel_tol=devices.CLOCK_TOLERANCE):
        return None
    return (f"note: {note['board']}'s PS cannot make {req:g} MHz: its PL clock is the {note['source']} "
            f"({note['source_mhz']:g} MHz) / {note['divisor']} = {got:g} MHz, the fastest not above the request; "
            f"the design point and the model use {got:g} MHz")


def check_cap(cap: float) -> float:
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not math.isfinite(cap) or not 0 < cap <= 1:
        raise ZynqyoloError(f"--cap must be a fraction of the device in (0, 1], got {cap!r}")
    return float(cap)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class SearchSpace:
    p_oc: tuple[int, ...]
    tile_pixels: tuple[int, ...]
    bits: int
    bus_bits: int = BUS_BITS
    engines: tuple[str, ...] = CONV_ENGINES  # HwConfig.conv_engine values searched
    pair_channels: int = 1  # the fewest input channels of the network's 3x3 convs (paired positions)

    def p_ic(self, p_oc: int, engine: str = "direct") -> list[int]:
        """The p_ic searched with ``p_oc``: its divisors; a winograd-paired design only where half of
        p_ic holds the network's narrowest 3x3 input (else pairing never runs and only costs LUTs)."""
        if engine == "winograd-paired":
            return [p for p in divisors(p_oc) if p % 2 == 0 and p // 2 >= self.pair_channels]
        return divisors(p_oc)

    def stage3_lanes(self, p_oc: int) -> list[int]:
        return divisors(p_oc)

    @property
    def size(self) -> int:
        return sum(len(self.p_ic(p, e)) * len(self.stage3_lanes(p)) for e in self.engines for p in self.p_oc) \
            * len(self.tile_pixels)

    def to_dict(self) -> dict:
        return {"conv_engine": list(self.engines), "p_oc": list(self.p_oc),
                "p_ic": f"divisors of p_oc (winograd-paired: even, half at least {self.pair_channels})",
                "stage3_lanes": "divisors of p_oc",
                "requant_lanes": "stage3_lanes; then every divisor of p_oc at each engine's best point",
                "weight_group": "0 (the block-RAM rule); then, at each engine's best point, every other divisor "
                                "of its bank words up to 4 with every stage-2/3 lane count",
                "tile_pixels": list(self.tile_pixels), "bits": self.bits, "bus_bits": self.bus_bits,
                "points": self.size}


def check_engines(engines) -> tuple[str, ...]:
    """The conv engines to search (``--engine``): a non-empty selection of HwConfig's, in its order."""
    chosen = (engines,) if isinstance(engines, str) else tuple(engines)
    unknown = [e for e in chosen if e not in CONV_ENGINES]
    if unknown or not chosen:
        raise ZynqyoloError(f"--engine must be one of {', '.join(CONV_ENGINES)} (or several), got "
                            f"{', '.join(map(repr, unknown)) or 'none'}")
    return tuple(e for e in CONV_ENGINES if e in chosen)


def search_space(bits: int, network: Network, engines=CONV_ENGINES) -> SearchSpace:
    lpw = BUS_BITS // bits
    limit = perf.network_maxima(network)["max_out_channels"]
    small = [p for p in range(MIN_P_OC, 65) if p % lpw == 0]
    large = [p for p in LARGE_P_OC if p % lpw == 0]
    narrowest = min((layer.in_shape.c for layer in network.layers if isinstance(layer, Conv) and layer.size == 3),
                    default=1)
    chosen = check_engines(engines)
    usable = tuple(e for e in chosen if e != "winograd-4x2" or bits in WINO_4X2_BITS)
    if not usable:
        raise ZynqyoloError(f"--engine winograd-4x2 is an 8-bit engine (F(4x2)'s V of {bits}-bit codes is wider "
                            f"than the DSP48's 18-bit port): use --bits 8, or another engine")
    return SearchSpace(tuple(p for p in small + large if p <= limit), TILE_CANDIDATES, bits,
                       engines=usable, pair_channels=narrowest)


# ----------------------------------------------------------------------------------- results ----
@dataclass(frozen=True)
class Point:
    """One evaluated design point (all figures modelled)."""

    config: HwConfig
    latency_ms: Optional[float]  # None when the plan refuses the point (e.g. a tile too small)
    resources: Resources
    feasible: bool
    reason: str  # why infeasible ("" when feasible)
    pl_cycles: float = 0.0  # compute + stalls
    useful_macs: int = 0
    useful_mults: int = 0

    @property
    def mac_efficiency(self) -> Optional[float]:
        """Direct-convolution MACs / (MAC units x PL cycles): above 1 where Winograd saves."""
        if not self.pl_cycles:
            return None
        return self.useful_macs / (self.config.macs * self.pl_cycles)

    @property
    def multiplier_efficiency(self) -> Optional[float]:
        """Multiplications the algorithms need / (multipliers x PL cycles)."""
        if not self.pl_cycles:
            return None
        return self.useful_mults / (self.config.macs * self.pl_cycles)

    def utilisation(self, device) -> float:
        return sum(self.resources.fractions(device).values())

    def to_dict(self) -> dict:
        c = self.config
        return {"conv_engine": c.conv_engine, "p_oc": c.p_oc, "p_ic": c.p_ic, "tile_pixels": c.tile_pixels,
                "stage3_lanes": c.stage3_lanes, "requant_lanes": c.requant_lanes,
                "latency_ms": self.latency_ms, "feasible": self.feasible, "reason": self.reason,
                "resources": self.resources.to_dict(), "mac_efficiency": self.mac_efficiency,
                "multiplier_efficiency": self.multiplier_efficiency}


def _rank(point: Point, device) -> tuple:
    c = point.config
    # least modelled latency; ties (to 1 ns) go to fewer resources (summed device fractions), then to
    # the smaller parameter tuple so the choice is deterministic.
    return (round(point.latency_ms, 6), point.utilisation(device), c.p_oc * c.p_ic, c.p_oc, c.tile_pixels,
            c.stage3_lanes, c.requant_lanes, CONV_ENGINES.index(c.conv_engine))


def pareto(points: list[Point], key: Callable[[Point], float]) -> list[Point]:
    """Feasible points not dominated in (key, latency), by increasing key."""
    front: list[Point] = []
    for p in sorted((p for p in points if p.feasible), key=lambda p: (key(p), p.latency_ms)):
        if not front or p.latency_ms < front[-1].latency_ms:
            front.append(p)
    return front


@dataclass
class SearchResult:
    arch: str
    network: Network
    device: devices.Device
    board: devices.Board
    cap: float
    clock_mhz: float
    bits: int
    space: SearchSpace
    points: list[Point]
    best: Point
    best_estimate: perf.DesignEstimate
    wall_s: float
    host: perf.HostModel
    leaky_mul_impl: str
    reference: Optional[dict] = field(default=None)  # the yu2020 final point, for comparison
    requested_clock_mhz: Optional[float] = None  # what was asked; clock_mhz is what the PS makes

    @property
    def feasible_points(self) -> list[Point]:
        return [p for p in self.points if p.feasible]

    def pareto_dsp(self) -> list[Point]:
        return pareto(self.points, lambda p: p.resources.dsp)

    def pareto_bram18(self) -> list[Point]:
        return pareto(self.points, lambda p: p.resources.bram18)

    def best_by_engine(self) -> dict[str, Point]:
        """The best feasible point of each conv engine searched (by the same ranking as ``best``)."""
        out = {}
        for engine in self.space.engines:
            pool = [p for p in self.feasible_points if p.config.conv_engine == engine]
            if pool:
                out[engine] = min(pool, key=lambda p: _rank(p, self.device))
        return out

    def to_dict(self, *, include_points: bool = False) -> dict:
        best = self.best_estimate.to_dict()
        d = {
            "kind": perf.KIND,
            "arch": self.arch,
            "device": self.device.part,
            "board": self.board.name,
            "cap": self.cap,
            "clock_mhz": self.clock_mhz,
            "requested_clock_mhz": self.requested_clock_mhz,
            "pl_clock": clock_note(self.board, self.requested_clock_mhz, self.clock_mhz),
            "bits": self.bits,
            "latency_ms": best["latency_ms"],
            "resources": best["resources"],
            "params": best["params"],
            "conv_engine": best["conv_engine"],
            "mac_efficiency": best["mac_efficiency"],
            "multiplier_efficiency": best["multiplier_efficiency"],
            "batches": best["batches"],
            "best": {k: v for k, v in best.items() if k != "batches"},
            "search": {"points_evaluated": len(self.points), "feasible": len(self.feasible_points),
                       "wall_s": self.wall_s, "space": self.space.to_dict()},
            "pareto": {"dsp": [p.to_dict() for p in self.pareto_dsp()],
                       "bram18": [p.to_dict() for p in self.pareto_bram18()]},
            "best_by_engine": {e: p.to_dict() for e, p in self.best_by_engine().items()},
            "reference": self.reference,
        }
        if include_points:
            d["points"] = [p.to_dict() for p in self.points]
        return d


# ------------------------------------------------------------------------------------ search ----
def weight_groups(cfg: HwConfig) -> list[int]:
    """The weight groups (HwConfig.weight_group) the refinement tries on ``cfg``: every divisor of its
    slice's bank words up to MAX_WEIGHT_GROUP but the one the block-RAM rule picks."""
    auto = WeightBuffer.group(dataclasses.replace(cfg, weight_group=0))
    banks = WeightBuffer.banks(cfg)
    return [g for g in range(1, MAX_WEIGHT_GROUP + 1) if banks % g == 0 and g != auto]


def _config(network: Network, board: devices.Board, clock_mhz: float, bits: int, p_oc: int, p_ic: int,
            tile: int, stage3_lanes: int, conv_engine: str, maxima: Optional[dict] = None) -> HwConfig:
    return HwConfig(p_oc=p_oc, p_ic=p_ic, bits=bits, bus_bits=BUS_BITS, tile_pixels=tile,
                    stage3_lanes=stage3_lanes, requant_lanes=stage3_lanes, clock_mhz=float(clock_mhz),
                    part=board.ordering_code, conv_engine=conv_engine, **(maxima or perf.network_maxima(network)))


def search(network: Network, device: str, *, clock_mhz: float, bits: int = 16, cap: float = DEFAULT_CAP,
           board: Optional[str] = None, host: Optional[perf.HostModel] = None,
           leaky_mul_impl: str = LEAKY_MUL_IMPL, space: Optional[SearchSpace] = None,
           progress: Optional[Callable[[int, int], None]] = None,
           cache: Optional["SearchCache"] = None, engines=CONV_ENGINES) -> SearchResult:
    """Evaluate the grid for our architecture, the conv engines ``engines`` (HwConfig.conv_engine; all
    by default) jointly with the array and the tile; the best point has the least modelled frame
    latency among those whose DSP, BRAM18, LUT and FF are each at most ``cap`` of the device's.
    ``cache`` shares plans and per-call cycles between searches (of any clock, board and cap; a few
    tens of MB for YOLOv3-tiny at both precisions); by default each search has its own. A given
    ``space`` brings its own engines."""
    from zynqyolo.model.fixed import sigmoid_lut

    t0 = time.perf_counter()
    cap = check_cap(cap)
    b = resolve_board(device, board)
    dev = b.device
    if bits not in (16, 8):
        raise ZynqyoloError(f"--bits must be 16 or 8, got {bits}")
    requested = float(clock_mhz)
    clock_mhz = pl_clock_mhz(b, clock_mhz)
    space = space or search_space(bits, network, engines)
    host = host or perf.HostModel.for_board(b)
    memory = perf.MemoryModel.for_board(b)
    resources = _ResourceCache(sigmoid_lut(bits).entries, leaky_mul_impl)
    cache = cache if cache is not None else SearchCache()
    network_hash = network.content_hash
    maxima = perf.network_maxima(network)
    total = space.size
    points: list[Point] = []

    def evaluate(cfg: HwConfig, shapes, io, plan_error: str) -> Point:
        res = resources(cfg)
        if shapes is None:
            return Point(cfg, None, res, False, plan_error)
        frame = perf.frame_latency(shapes, cfg, memory, host, io, cache.cycles)
        fits = res.fits(dev, cap)
        return Point(cfg, frame.latency_ms, res, fits, "" if fits else _over(res, dev, cap), frame.pl_cycles,
                     frame.useful_macs, frame.useful_mults)

    for engine in space.engines:
        for p_oc in space.p_oc:
            for tile in space.tile_pixels:
                shapes, io, plan_error = cache.shapes(network, network_hash, b, clock_mhz, bits, p_oc, tile, engine)
                for p_ic in space.p_ic(p_oc, engine):
                    for s3 in space.stage3_lanes(p_oc):
                        cfg = _config(network, b, clock_mhz, bits, p_oc, p_ic, tile, s3, engine, maxima)
                        points.append(evaluate(cfg, shapes, io, plan_error))
                if progress is not None:
                    progress(len(points), total)
    feasible = [p for p in points if p.feasible]
    if not feasible:
        raise NoFeasibleDesign(_nothing_fits(points, dev, b, cap))
    # refine: each engine's best point with the other requantiser counts, and with each other weight
    # group jointly with every stage-2/3 lane count (a smaller G trades block RAM for the Winograd
    # loader's LUTs, which may pay for more lanes); its plan is cached
    for engine in space.engines:
        pool = [p for p in feasible if p.config.conv_engine == engine]
        if not pool:
            continue
        c = min(pool, key=lambda p: _rank(p, dev)).config
        shapes, io, plan_error = cache.shapes(network, network_hash, b, clock_mhz, bits, c.p_oc, c.tile_pixels, engine)
        variants = [dataclasses.replace(c, requant_lanes=rl) for rl in divisors(c.p_oc) if rl != c.requant_lanes]
        variants += [dataclasses.replace(c, weight_group=g, stage3_lanes=s3, requant_lanes=rl)
                     for g in weight_groups(c) for s3 in space.stage3_lanes(c.p_oc) for rl in divisors(c.p_oc)]
        for cfg in variants:
            point = evaluate(cfg, shapes, io, plan_error)
            points.append(point)
            if point.feasible:
                feasible.append(point)
    best = min(feasible, key=lambda p: _rank(p, dev))
    best_estimate = perf.estimate(best.config, network, b, host=host, leaky_mul_impl=leaky_mul_impl)
    return SearchResult("zynqyolo", network, dev, b, cap, clock_mhz, bits, space, points, best,
                        best_estimate, time.perf_counter() - t0, host, leaky_mul_impl,
                        reference=reference_point(network, dev), requested_clock_mhz=requested)


class SearchCache:
    """Call shapes of the plans and per-call cycles, shared by searches: neither depends on the
    clock, the board or the cap (plans depend on the network, bits, conv_engine, p_oc and tile_pixels)."""

    def __init__(self):
        self._plans: dict[tuple, tuple] = {}
        self._canonical: dict[perf.CallShape, perf.CallShape] = {}  # equal shapes -> one object
        self.cycles: dict = {}  # perf.call_terms's memo, keyed on the canonical shapes

    def shapes(self, network: Network, network_hash: str, board, clock_mhz: float, bits: int, p_oc: int,
               tile: int, conv_engine: str = "direct") -> tuple[Optional[tuple], Optional[tuple], str]:
        """(shapes, (input, output) nbytes, plan error) of the plan for (conv_engine, p_oc, bits, tile)."""
        key = (network_hash, bits, conv_engine, p_oc, tile)
        hit = self._plans.get(key)
        if hit is not None:
            return hit
        smaller = [k[-1] for k in self._plans if k[:-1] == key[:-1] and k[-1] < tile]
        if smaller:  # once no call is split into bands, larger tiles plan identically
            prev = self._plans[key[:-1] + (max(smaller),)]
            if prev[0] is not None and all(s.bands == 1 for s in prev[0]):
                self._plans[key] = prev
                return prev
        skeleton = _config(network, board, clock_mhz, bits, p_oc, p_oc, tile, p_oc, conv_engine)
        try:
            plan = perf.plan_for(network, skeleton, network_hash)
            shapes = tuple(self._canonical.setdefault(s, s) for s in perf.plan_shapes(plan, network, network_hash))
            out = (shapes, (plan.buffer_nbytes["input"], plan.buffer_nbytes["output"]), "")
        except ValueError as exc:
            out = (None, None, f"plan: {exc}")
        self._plans[key] = out
        return out


class _ResourceCache:
    """``blocks.design_resources`` summed, each block memoised on the parameters it depends on."""

    def __init__(self, sigmoid_entries: int, leaky_mul_impl: str):
        from . import blocks

        def winograd_only(block):
            return lambda c: block.resources(c) if c.winograd_engine else Resources()

        self._parts = (
            (blocks.ConvEngine.resources, lambda c: (c.conv_engine, c.p_oc, c.p_ic, c.bits)),
            (blocks.LineBuffer.resources, lambda c: (c.conv_engine, c.p_oc, c.bits, c.max_width)),
            (blocks.WeightBuffer.resources, lambda c: (c.conv_engine, c.p_oc, c.p_ic, c.bits, c.bus_bits,
                                                       c.weight_group)),
            (winograd_only(blocks.WinogradWindow), lambda c: (c.conv_engine, c.p_oc, c.p_ic, c.bits)),
            (winograd_only(blocks.WinogradDataTransform), lambda c: (c.conv_engine, c.p_ic, c.bits)),
            (winograd_only(blocks.WinogradOutputTransform), lambda c: (c.conv_engine, c.p_oc, c.bits)),
            (winograd_only(blocks.FilterTransform), lambda c: (c.conv_engine, c.p_oc, c.p_ic, c.bits, c.bus_bits,
                                                               c.weight_group)),
            (lambda c: blocks.AccumulateTile.resources(c, leaky_mul_impl),  # F(4x2): the / 3 of max_in_channels
             lambda c: (c.conv_engine, c.p_oc, c.requant_lanes, c.bits, c.tile_pixels, c.max_in_channels,
                        c.max_out_channels)),
            (blocks.Detile.resources, lambda c: (c.conv_engine, c.p_oc, c.bits, c.max_width)),
            (lambda c: blocks.Stage3.resources(c, sigmoid_entries),
             lambda c: (c.p_oc, c.stage3_lanes, c.bits, c.max_width)),
            (blocks.StreamIO.resources, lambda c: (c.p_oc, c.bits)),
            (blocks.Control.resources, lambda c: (c.max_width, c.max_height, c.max_in_channels, c.max_out_channels,
                                                  c.p_oc)),
            (blocks.LoopLogic.resources, lambda c: (c.conv_engine, c.p_oc, c.p_ic, c.bits, c.bus_bits, c.weight_group,
                                                    c.stage3_lanes, c.requant_lanes, c.tile_pixels, c.max_width,
                                                    c.max_height, c.max_in_channels, c.max_out_channels)),
        )
        self._memo: list[dict] = [{} for _ in self._parts]

    def __call__(self, cfg: HwConfig) -> Resources:
        total = Resources()
        for (fn, key), memo in zip(self._parts, self._memo):
            k = key(cfg)
            part = memo.get(k)
            if part is None:
                part = memo[k] = fn(cfg)
            total = total + part
        return total


def _over(res: Resources, dev, cap: float) -> str:
    over = [f"{k} {v:,} > {cap:g} x {getattr(dev, k):,}" for k, v in res.to_dict().items() if v > cap * getattr(dev, k)]
    return "; ".join(over)


def _nothing_fits(points: list[Point], dev, board, cap: float) -> str:
    planned = [p for p in points if p.latency_ms is not None]
    pool = planned or points
    smallest = min(pool, key=lambda p: max(p.resources.fractions(dev).values()))
    r = smallest.resources
    need = ", ".join(f"{k} {v:,} ({v / getattr(dev, k):.0%})" for k, v in r.to_dict().items())
    return (f"no design point fits {dev.part} ({board.name}) under a cap of {cap:g}: the smallest of "
            f"{len(points):,} points ({smallest.config.p_oc}x{smallest.config.p_ic} MACs, tile "
            f"{smallest.config.tile_pixels}) needs {need} of the device. Use a larger part or raise --cap.")


# ------------------------------------------------------------------------ the reference design ----
def reference_point(network: Network, device) -> dict:
    """The reference's final design point in its own model (for plots and tables)."""
    from . import yu2020

    e = yu2020.evaluate(yu2020.REFERENCE_POINT, network)
    return {"arch": "yu2020", "kind": perf.KIND, "params": e.params.to_dict(), "latency_ms": e.latency_ms,
            "resources": e.resources, "measured_latency_ms": yu2020.PUBLISHED["measured_latency_ms"]}


def yu2020_params(overrides: dict[str, str]):
    """Reference-model parameters from ``NAME=VALUE`` pairs (reference-model.md symbols), the
    reference's final point for the rest."""
    from . import yu2020

    names = {"N_max": "n_max", "P_mem": "p_mem", "OITR": "oitr", "P_acc": "p_acc", "P_pool": "p_pool",
             "P_up": "p_up", "P_yolo": "p_yolo"}
    values = yu2020.REFERENCE_POINT.to_dict()
    for key, raw in overrides.items():
        if key not in names:
            raise ZynqyoloError(f"unknown yu2020 parameter {key!r}; known: {', '.join(names)}")
        try:
            values[names[key]] = int(raw)
        except ValueError:
            raise ZynqyoloError(f"yu2020 parameter {key}={raw!r} must be an integer") from None
    try:
        return yu2020.Yu2020Params(**values)
    except ValueError as exc:
        raise ZynqyoloError(f"inconsistent yu2020 parameters: {exc}") from None


# ------------------------------------------------------------------------ the reference's search ----
@dataclass
class Yu2020Exploration:
    """``--arch yu2020``: the reference's own grid and model (``yu2020.search``) in this tool's terms."""

    network: Network
    device: devices.Device
    cap: float
    clock_mhz: float  # what the board's PS makes for the request
    result: object  # yu2020.SearchResult
    wall_s: float
    board: Optional[devices.Board] = None  # whose PS makes the clock
    requested_clock_mhz: Optional[float] = None

    @property
    def best(self):
        return self.result.best

    def _pareto(self, resource: str) -> list:
        front = []
        for p in sorted(self.result.feasible_points, key=lambda p: (p.estimate.resources[resource], p.latency_ms)):
            if not front or p.latency_ms < front[-1].latency_ms:
                front.append(p)
        return front

    @staticmethod
    def _point(p) -> dict:
        return {"params": p.params.to_dict(), "latency_ms": p.latency_ms, "feasible": p.feasible,
                "resources": p.estimate.resources}

    def to_dict(self, *, include_points: bool = False) -> dict:
        best = self.best.estimate.to_dict()
        d = {"kind": perf.KIND, "arch": "yu2020", "device": self.device.part, "board": None, "cap": self.cap,
             "clock_mhz": self.clock_mhz, "requested_clock_mhz": self.requested_clock_mhz,
             "pl_clock": (clock_note(self.board, self.requested_clock_mhz, self.clock_mhz) if self.board else None),
             "bits": 16, "latency_ms": best["latency_ms"],
             "resources": best["resources"], "params": best["params"], "batches": best["batches"],
             "best": {k: v for k, v in best.items() if k != "batches"},
             "search": {"points_evaluated": len(self.result.points), "feasible": len(self.result.feasible_points),
                        "wall_s": self.wall_s, "space": "reference-model.md 'DSE' grid"},
             "pareto": {r: [self._point(p) for p in self._pareto(r)] for r in ("dsp", "bram18")},
             "reference": reference_point(self.network, self.device)}
        for b in d["batches"]:
            b.setdefault("stall_ms", 0.0)
        if include_points:
            d["points"] = [self._point(p) for p in self.result.points]
        return d


def search_yu2020(network: Network, device: str, *, clock_mhz: float, cap: float = DEFAULT_CAP,
                  bits: int = 16) -> Yu2020Exploration:
    """The reference's brute-force search (its grid, its model, DSP and BRAM18 under the cap)."""
    from . import yu2020

    t0 = time.perf_counter()
    cap = check_cap(cap)
    if bits != 16:
        raise ZynqyoloError(f"--arch yu2020 models the reference's 16-bit (Q8.8) datapath only, not {bits}-bit")
    board = resolve_board(device)
    requested, clock_mhz = float(clock_mhz), pl_clock_mhz(board, clock_mhz)
    try:
        dev = devices.get_device(device)
        params_clock = yu2020.Yu2020Params(**{**yu2020.REFERENCE_POINT.to_dict(), "clock_mhz": float(clock_mhz)})
        result = yu2020.search(network, dev, cap, clock_mhz=params_clock.clock_mhz)
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None
    if result.best is None:
        smallest = min(result.points, key=lambda p: max(p.dsp_fraction, p.bram18_fraction))
        e = smallest.estimate
        raise NoFeasibleDesign(
            f"no point of the reference's grid fits {dev.part} under a cap of {cap:g}: the smallest needs "
            f"{e.dsp} DSP ({e.dsp / dev.dsp:.0%}) and {e.bram18} BRAM18 ({e.bram18 / dev.bram18:.0%}). "
            "Use a larger part or raise --cap.")
    return Yu2020Exploration(network, dev, cap, float(clock_mhz), result, time.perf_counter() - t0, board, requested)


# ---------------------------------------------------------------------- a view for plots and tables ----
def view(exploration) -> dict:
    """Architecture-neutral plain data of a search, for ``plots`` and the terminal tables."""
    d = exploration.to_dict(include_points=True)
    dev = exploration.device
    ref = d.get("reference") or {}

    def flat(p: dict) -> dict:
        r = p["resources"]
        return {"dsp": r["dsp"], "bram18": r["bram18"], "latency_ms": p["latency_ms"], "feasible": p["feasible"],
                "engine": p.get("conv_engine")}

    if d["arch"] == "zynqyolo":
        c = exploration.best.config
        label = (f"{c.conv_engine} p_oc {c.p_oc} x p_ic {c.p_ic}, tile {c.tile_pixels}, stage 2/3 lanes "
                 f"{c.requant_lanes}/{c.stage3_lanes} ({c.macs} MACs)")
        board = exploration.board.name
    else:
        prm = d["params"]
        label = (f"N_max {prm['n_max']}, P_mem {prm['p_mem']}, OITR {prm['oitr']}, P_acc {prm['p_acc']}, "
                 f"P_pool {prm['p_pool']}, P_up {prm['p_up']}, P_yolo {prm['p_yolo']}")
        board = "reference model"
    return {
        "arch": d["arch"], "device": dev.part, "board": board, "clock_mhz": d["clock_mhz"], "bits": d["bits"],
        "cap": d["cap"], "points_evaluated": d["search"]["points_evaluated"], "feasible": d["search"]["feasible"],
        "device_resources": {"dsp": dev.dsp, "bram18": dev.bram18, "lut": dev.lut, "ff": dev.ff},
        "points": [flat(p) for p in d["points"]],
        "pareto": {r: [flat(p) for p in d["pareto"][r]] for r in ("dsp", "bram18")},
        "chosen": {"dsp": d["resources"]["dsp"], "bram18": d["resources"]["bram18"], "latency_ms": d["latency_ms"],
                   "label": label},
        "reference": ({"dsp": ref["resources"]["dsp"], "bram18": ref["resources"]["bram18"],
                       "latency_ms": ref["latency_ms"]} if ref else None),
        "batches": [{"name": b["name"], "compute_ms": b["compute_ms"], "stall_ms": b.get("stall_ms", 0.0),
                     "dma_ms": b["dma_ms"], "host_ms": b["host_ms"], "dma_busy_ms": b.get("dma_busy_ms"),
                     "bound": b.get("bound"), "transfers": b.get("transfers", b.get("calls")),
                     "engine": b.get("engine")}
                    for b in d["batches"]],
    }
