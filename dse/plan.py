"""The plan: a pure function from (network IR, quantised formats, HwConfig) to everything a frame needs.

The plan is the one place where the network meets the hardware. The C-simulation frame
runner, the latency model and the host driver all consume it; none of them knows anything
about YOLOv3-tiny that is not in here.

- **Layer batches.** Each hardware call runs one batch: a conv fused with the following
  max-pool, upsample or YOLO layer when that layer is the conv's only consumer, or a
  conv-bypassed call for a pool/upsample/YOLO whose input is shared (YOLOv3-tiny's layer 9:
  layer 8's output also feeds a route). Route layers never become calls.
- **Tensors.** Feature maps live fold-major (``HwConfig`` docstring) in three DMA buffers:
  ``input`` (the image, the only tensor the CPU writes: flushed), ``output`` (the YOLO
  tensors, the only ones the CPU reads: invalidated) and ``arena`` (everything only the PL
  touches: never flushed nor invalidated). Tensors joined by a route are allocated back to
  back in route order, so the concatenation is the contiguous region from the first to the
  last: resolved by pointer arithmetic, no copy. A single-input route is an alias of its input.
- **Calls.** Register values, band tiling, and the DMA transfers (buffer, byte offset, byte
  length) of the feature-map input, the parameter stream and the output, in issue order.
- **Parameters.** Each conv call's parameter stream (bias/shift preamble and weight blocks,
  see ``host.packing``) has a fixed place in a second buffer; the plan records offsets and
  sizes, the host fills it once per model.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from zynqyolo.model.ir import INPUT, Conv, MaxPool, Network, Route, Upsample, Yolo
from zynqyolo.model.quantize import HardwareFormats

from .hwconfig import HwConfig
from .packing import WORD_BYTES, conv_block_reads, conv_input_slices, param_stream_nbytes, store_double_buffered
from .registers import WINO_PAIRED, Stage3Mode, check_registers, out_group, pairs_positions, winograd_call

MIN_BAND_PIXELS = 3


class Channel(str, enum.Enum):
    """The three DMA channels a frame's transfers use (the value is the name plans and JSON carry)."""

    FMAP_IN = "fmap_in"  # DMA0 MM2S: feature maps into the ``in`` stream
    PARAMS = "params"  # DMA1 MM2S: the parameter stream ``wts``
    FMAP_OUT = "fmap_out"  # DMA0 S2MM: the ``out`` stream back to DDR

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Tensor:
    """A fold-major feature map in one of the DMA buffers."""

    layer: int  # IR index of the layer that produces it (INPUT for the image)
    buffer: str  # "input" (CPU writes), "output" (CPU reads: the YOLO tensors) or "arena" (PL only)
    channels: int
    height: int
    width: int
    offset: int  # bytes from the start of its buffer
    fold_lanes: tuple[int, ...]
    bytes_per_value: int

    @property
    def nbytes(self) -> int:
        return sum(self.fold_lanes) * self.height * self.width * self.bytes_per_value

    def fold_offset(self, fold: int) -> int:
        return self.offset + sum(self.fold_lanes[:fold]) * self.height * self.width * self.bytes_per_value

    def rows(self, fold: int, first: int, stop: int) -> tuple[int, int]:
        """(byte offset, byte length) of rows [first, stop) of one fold."""
        row_bytes = self.width * self.fold_lanes[fold] * self.bytes_per_value
        return self.fold_offset(fold) + first * row_bytes, (stop - first) * row_bytes


@dataclass(frozen=True)
class Transfer:
    """One DMA transfer: which DMA channel, which buffer, where and how much (bytes)."""

    channel: Channel
    buffer: str  # "input", "arena", "output" or "params"
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Block:
    """One (output fold, band, input fold) step of a conv call: what the latency model counts."""

    out_fold: int
    band: int
    in_fold: int
    in_lanes: int
    subfolds: int
    out_pixels: int  # conv output pixels of the band
    in_rows: int  # input rows streamed (band plus halo)
    width: int
    ksize: int
    streamed: bool = True  # the block streams its input rows (False: they are in stage 1's store)
    prefetch: int = 0  # pixels of the next sequence's fold it streams into the store (packing.conv_block_reads)
    prefetch_every: int = 0  # ... one every this many output pixels
    prefetch_lanes: int = 0  # ... that fold's lanes


@dataclass(frozen=True)
class Call:
    """One hardware call (one layer batch)."""

    index: int
    layers: tuple[int, ...]  # IR layers this call computes, conv (if any) first
    registers: tuple[tuple[str, int], ...]
    input_tensors: tuple[int, ...]  # producing layers of the input segments (A, B)
    output_layer: int  # the layer whose output tensor this call writes
    in_transfers: tuple[Transfer, ...]
    param_transfers: tuple[Transfer, ...]
    out_transfer: Transfer
    blocks: tuple[Block, ...] = field(repr=False)

    @property
    def regs(self) -> dict[str, int]:
        return dict(self.registers)

    @property
    def conv_layer(self) -> int | None:
        return self.layers[0] if self.regs["conv_enable"] else None

    @property
    def transfers(self) -> tuple[Transfer, ...]:
        """All transfers in issue order: parameters, feature-map input, then output."""
        return self.param_transfers + self.in_transfers + (self.out_transfer,)


@dataclass(frozen=True)
class Plan:
    config: HwConfig
    network_hash: str
    model_hash: str
    tensors: dict[int, Tensor]  # producing layer -> tensor (INPUT for the image)
    routes: dict[int, tuple[int, ...]]  # route layer -> the tensors it concatenates, in order
    calls: tuple[Call, ...]
    buffer_nbytes: dict[str, int]  # "input", "arena", "output", "params"
    param_offsets: dict[int, tuple[int, int]]  # conv layer -> (offset, nbytes) in the params buffer
    outputs: tuple[int, ...]  # YOLO layers, in IR order

    @property
    def input_tensor(self) -> Tensor:
        return self.tensors[INPUT]

    def dma_bytes(self) -> dict[str, int]:
        """Bytes moved per frame by kind."""
        kinds = dict.fromkeys(Channel, 0)
        for call in self.calls:
            for t in call.transfers:
                kinds[t.channel] += t.nbytes
        return kinds

    @property
    def n_transfers(self) -> int:
        return sum(len(c.transfers) for c in self.calls)

    def largest_transfer(self) -> int:
        return max(t.nbytes for c in self.calls for t in c.transfers)


def _bad(config: HwConfig, name: str, why: str) -> ValueError:
    return ValueError(f"HwConfig.{name}={getattr(config, name)!r} is too small for this network: {why}")


def _check_capacity(network: Network, config: HwConfig) -> None:
    widths = [network.width] + [layer.out_shape.w for layer in network.layers]
    heights = [network.height] + [layer.out_shape.h for layer in network.layers]
    if max(widths) > config.max_width:
        raise _bad(config, "max_width", f"a feature map is {max(widths)} pixels wide")
    if max(heights) > config.max_height:
        raise _bad(config, "max_height", f"a feature map is {max(heights)} rows high")
    for conv in network.convs:
        if conv.in_shape.c > config.max_in_channels:
            raise _bad(config, "max_in_channels", f"layer {conv.index} reads {conv.in_shape.c} channels")
        if conv.filters > config.max_out_channels:
            raise _bad(config, "max_out_channels", f"layer {conv.index} writes {conv.filters} channels")
        if conv.size not in (1, 3) or conv.stride != 1 or conv.padding != conv.size // 2:
            raise ValueError(f"layer {conv.index}: the kernels support 1x1 and 3x3 'same' convolutions at "
                             f"stride 1, not size {conv.size} stride {conv.stride} padding {conv.padding}")


# Requantisation shifts: the leaky path shifts by s + LEAKY_SHIFT (19), which must stay below 63
# for the numpy contract (int64) and the 6-bit preamble field.
MAX_REQUANT_SHIFT = 44


def _check_formats(network: Network, formats: HardwareFormats, config: HwConfig) -> None:
    """The kernels' fixed widths: accumulators of config.acc_bits (48 at 16 bits, 32 at 8),
    requantisation shifts 0..MAX_REQUANT_SHIFT."""
    for conv in network.convs:
        width = formats.acc_widths[conv.index]
        if width > config.acc_bits:
            raise ValueError(f"layer {conv.index}: the quantised model needs a {width}-bit accumulator; "
                             f"the {config.bits}-bit kernels have {config.acc_bits} bits")
        lo, hi = formats.shift_ranges[conv.index]
        if lo < 0 or hi > MAX_REQUANT_SHIFT:
            raise ValueError(f"layer {conv.index}: requantisation shifts {lo}..{hi} are outside "
                             f"0..{MAX_REQUANT_SHIFT}; quantise with coarser weight formats")


def _fusions(network: Network) -> dict[int, int]:
    """conv index -> the pool/upsample/yolo fused into its call (when it is the conv's only consumer)."""
    fused = {}
    for conv in network.convs:
        consumers = network.consumers(conv.index)
        if len(consumers) == 1:
            nxt = network.layers[consumers[0]]
            if isinstance(nxt, (MaxPool, Upsample, Yolo)) and nxt.index == conv.index + 1:
                fused[conv.index] = nxt.index
    return fused


def _stage3(layer) -> tuple[int, int]:
    """(stage3 code, pool stride) of a pool/upsample/yolo layer."""
    if isinstance(layer, MaxPool):
        if layer.size != 2 or layer.stride not in (1, 2) or layer.padding != 1:
            raise ValueError(f"layer {layer.index}: only 2x2 max-pool with stride 1 or 2 and darknet's default "
                             f"padding is supported (got size {layer.size}, stride {layer.stride})")
        return Stage3Mode.MAXPOOL, layer.stride
    if isinstance(layer, Upsample):
        if layer.stride != 2:
            raise ValueError(f"layer {layer.index}: only x2 upsampling is supported (got x{layer.stride})")
        return Stage3Mode.UPSAMPLE, 1
    if isinstance(layer, Yolo):
        return Stage3Mode.YOLO, 1
    raise ValueError(f"layer {layer.index} ({layer.kind}) cannot run in stage 3")


def _allocate(network: Network, config: HwConfig, stored: list[int]) -> tuple[dict[int, Tensor], dict[str, int]]:
    """Place every stored tensor in its buffer; tensors a route joins sit back to back in route order."""
    nxt: dict[int, int] = {}
    prev: dict[int, int] = {}
    for layer in network.layers:
        if isinstance(layer, Route) and len(layer.inputs) > 1:
            for a, b in zip(layer.inputs, layer.inputs[1:]):
                if nxt.get(a, b) != b or prev.get(b, a) != a:
                    raise ValueError(f"route {layer.index}: layer {a} or {b} is already placed next to "
                                     "another tensor by an earlier route; such networks are not supported")
                nxt[a], prev[b] = b, a
    yolos = {y.index for y in network.yolos}

    def home(index: int) -> str:
        return "input" if index == INPUT else "output" if index in yolos else "arena"

    bpv = config.bits // 8
    tensors: dict[int, Tensor] = {}
    used = {"input": 0, "arena": 0, "output": 0}
    align = 64  # bytes: cache-line and burst aligned starts
    for head in stored:
        if head in prev:
            continue
        index, buffer = head, home(head)
        while True:
            if home(index) != buffer:
                raise ValueError(f"layer {index}: a route joins it to a tensor in the {buffer} buffer; "
                                 "routes over the network input or a YOLO output are not supported")
            c, h, w = network.shape_of(index).as_tuple()
            t = Tensor(index, buffer, c, h, w, used[buffer], config.fold_lanes(c), bpv)
            tensors[index] = t
            used[buffer] += t.nbytes
            if index not in nxt:
                break
            index = nxt[index]
        used[buffer] = math.ceil(used[buffer] / align) * align
    return tensors, used


def _resolve(network: Network, index: int) -> tuple[int, ...]:
    """The stored tensors a layer's output consists of (routes expand to their inputs)."""
    if index == INPUT:
        return (INPUT,)
    layer = network.layers[index]
    if isinstance(layer, Route):
        out: tuple[int, ...] = ()
        for src in layer.inputs:
            out += _resolve(network, src)
        return out
    return (index,)


def make_plan(network: Network, formats: HardwareFormats, config: HwConfig) -> Plan:
    """Build the plan from a quantised model's formats (``QuantizedModel.hardware_formats()``, or
    ``HardwareFormats.neutral`` for modelling)."""
    if not isinstance(formats, HardwareFormats):
        raise TypeError(f"make_plan needs HardwareFormats (QuantizedModel.hardware_formats()), not "
                        f"{type(formats).__name__}")
    if formats.network_hash != network.content_hash:
        raise ValueError("the quantised model was made for another network (content hashes differ)")
    if formats.bits != config.bits:
        raise ValueError(f"HwConfig.bits={config.bits} but the quantised model is {formats.bits}-bit")
    _check_capacity(network, config)
    _check_formats(network, formats, config)
    fused = _fusions(network)
    fused_into = {v: k for k, v in fused.items()}

    # Which layers run as calls, and which tensors are stored.
    batches: list[tuple[int, ...]] = []
    for layer in network.layers:
        if isinstance(layer, Conv):
            batches.append((layer.index, fused[layer.index]) if layer.index in fused else (layer.index,))
        elif isinstance(layer, (MaxPool, Upsample, Yolo)) and layer.index not in fused_into:
            batches.append((layer.index,))
        elif isinstance(layer, Route) and len(layer.inputs) > 2:
            raise ValueError(f"route {layer.index} joins {len(layer.inputs)} tensors; the kernels take at most 2")
    stored = [INPUT] + [b[-1] for b in batches]
    tensors, buffer_nbytes = _allocate(network, config, stored)

    sigmoid_in_frac = formats.sigmoid_in_frac
    calls: list[Call] = []
    param_offsets: dict[int, tuple[int, int]] = {}
    params_nbytes = 0
    for batch in batches:
        first = network.layers[batch[0]]
        last = network.layers[batch[-1]]
        segments = _resolve(network, first.inputs[0])
        if len(segments) > 2:
            raise ValueError(f"layer {first.index} reads {len(segments)} concatenated tensors; at most 2 are supported")
        seg_tensors = [tensors[s] for s in segments]
        c_in, h, w = network.shape_of(first.inputs[0]).as_tuple()
        conv = first if isinstance(first, Conv) else None
        stage3_layer = last if (conv is None or len(batch) == 2) else None
        stage3, pool_stride = _stage3(stage3_layer) if stage3_layer is not None else (Stage3Mode.BYPASS, 1)
        out_channels = conv.filters if conv else c_in
        in_folds = [(ti, f) for ti, t in enumerate(seg_tensors) for f in range(len(t.fold_lanes))]
        if conv is not None and conv.in_shape.c != sum(t.channels for t in seg_tensors):
            raise ValueError(f"layer {conv.index}: input channels do not match the route segments")

        # Band tiling: partial sums of a band must fit the tile when there is more than one input fold.
        band_rows = h
        if conv is not None and len(in_folds) > 1:
            band_rows = config.tile_pixels // w
            if band_rows < 1:
                raise _bad(config, "tile_pixels", f"layer {conv.index} needs at least one {w}-pixel row per band")
            # The tile's accumulate loop assumes no dependence between neighbouring pixels of a band,
            # which the pipeline honours only for bands of at least MIN_BAND_PIXELS pixels.
            band_rows = min(max(band_rows, math.ceil(MIN_BAND_PIXELS / w)), h)
            if band_rows * w > config.tile_pixels:
                raise _bad(config, "tile_pixels", f"layer {conv.index}: a band needs at least "
                                                  f"{MIN_BAND_PIXELS} pixels")
        wino = winograd_call(config, conv is not None, conv.size if conv else 1, w)
        if wino and band_rows < h:
            # A Winograd band is best a whole number of 2-row tiles (the last band may be odd). Where
            # the tile holds a single row, a band of one row still runs (half of each tile row is
            # padding, 8 S cycles a pixel against the direct path's 9 S), except under a 2x2/2 pool,
            # whose windows would straddle bands: that call takes the direct path.
            even = band_rows - band_rows % 2
            if even >= 2:
                band_rows = even
            elif stage3 == Stage3Mode.MAXPOOL and pool_stride == 2:
                wino = False
        bands = math.ceil(h / band_rows)

        yolo_shift = 0
        if stage3 == Stage3Mode.YOLO:
            yolo_shift = formats.frac_of(stage3_layer.inputs[0]) - sigmoid_in_frac
        registers = {
            "conv_enable": int(conv is not None),
            "leaky": int(conv is not None and conv.activation == "leaky"),
            "ksize": conv.size if conv else 1,
            "stage3": stage3,
            "pool_stride": pool_stride,
            "height": h,
            "width": w,
            "in_channels_a": seg_tensors[0].channels,
            "in_channels_b": seg_tensors[1].channels if len(seg_tensors) > 1 else 0,
            "out_channels": out_channels,
            "out_folds": config.folds(out_channels),
            "bands": bands,
            "band_rows": band_rows,
            "yolo_period": stage3_layer.classes + 5 if stage3 == Stage3Mode.YOLO else 0,
            "yolo_shift": yolo_shift,
            "winograd": (WINO_PAIRED if pairs_positions(config, seg_tensors[0].channels,
                                                        seg_tensors[1].channels if len(seg_tensors) > 1 else 0)
                         else 1) if wino else 0,
            "out_group": out_group(config, conv is not None, conv.size if conv else 1, h, w, len(in_folds),
                                   config.folds(out_channels), bands),
        }
        try:
            check_registers(config, registers)
        except ValueError as exc:
            raise ValueError(f"call for layers {batch}: {exc}") from None

        # Transfers and blocks.
        pad = conv.size // 2 if conv else 0
        in_transfers: list[Transfer] = []
        blocks: list[Block] = []

        def add_in(buffer: str, offset: int, nbytes: int) -> None:
            last = in_transfers[-1] if in_transfers else None
            if last is not None and last.buffer == buffer and last.offset + last.nbytes == offset:
                in_transfers[-1] = Transfer(Channel.FMAP_IN, buffer, last.offset, last.nbytes + nbytes)
            else:
                in_transfers.append(Transfer(Channel.FMAP_IN, buffer, offset, nbytes))

        param_transfers: tuple[Transfer, ...] = ()
        if conv is None:
            for t in seg_tensors:
                add_in(t.buffer, t.offset, t.nbytes)
        else:
            # The segments of a route sit back to back from the first one (see _allocate), so the
            # stream is slices of one contiguous region, in the kernels' (o, b, f) order.
            base = seg_tensors[0]
            for prev_t, t in zip(seg_tensors, seg_tensors[1:]):
                if (t.buffer, t.offset) != (prev_t.buffer, prev_t.offset + prev_t.nbytes):
                    raise ValueError(f"layer {conv.index}: its route segments are not contiguous in memory")
            seg_channels = tuple(t.channels for t in seg_tensors)
            group = registers["out_group"]
            for offset, words in conv_input_slices(seg_channels, h, w, conv.size, config.folds(out_channels), bands,
                                                   band_rows, config, group):
                add_in(base.buffer, base.offset + offset * WORD_BYTES, words * WORD_BYTES)
            double = store_double_buffered(config, group, h, w)
            def fold_lanes(fi: int) -> int:
                ti, f = in_folds[fi]
                return seg_tensors[ti].fold_lanes[f]

            for o, b, fi, streamed, prefetch, every, next_fi in conv_block_reads(
                    config.folds(out_channels), bands, len(in_folds), group, h * w, double):
                r0, r1 = b * band_rows, min(h, (b + 1) * band_rows)
                first_row, stop_row = max(0, r0 - pad), min(h, r1 + pad)
                lanes = fold_lanes(fi)
                blocks.append(Block(o, b, fi, lanes, math.ceil(lanes / config.p_ic), (r1 - r0) * w,
                                    stop_row - first_row, w, conv.size, streamed, prefetch, every,
                                    fold_lanes(next_fi) if prefetch else 0))
            in_lanes = [seg_tensors[ti].fold_lanes[f] for ti, f in in_folds]
            nbytes = param_stream_nbytes(config, conv.size, out_channels, in_lanes, bands)
            param_offsets[conv.index] = (params_nbytes, nbytes)
            param_transfers = (Transfer(Channel.PARAMS, "params", params_nbytes, nbytes),)
            params_nbytes += math.ceil(nbytes / 64) * 64
        out_t = tensors[batch[-1]]
        out_transfer = Transfer(Channel.FMAP_OUT, out_t.buffer, out_t.offset, out_t.nbytes)
        calls.append(Call(len(calls), batch, tuple(registers.items()), segments, batch[-1], tuple(in_transfers),
                          param_transfers, out_transfer, tuple(blocks)))

    routes = {layer.index: _resolve(network, layer.index) for layer in network.layers if isinstance(layer, Route)}
    buffer_nbytes["params"] = params_nbytes
    return Plan(config, network.content_hash, formats.model_hash, tensors, routes, tuple(calls), buffer_nbytes,
                param_offsets, tuple(y.index for y in network.yolos))
