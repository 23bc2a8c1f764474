"""The board's ARM side of a frame, and the whole frame end to end. Every figure here is *modelled*.

A frame on the board is more than the accelerator: the host's Python on the Cortex-A9 letterboxes
the image (``model.preprocess.letterbox``), quantises and packs it into the input DMA buffer
(``host.frame.FrameIO.write_input``), and after the hardware calls unpacks and dequantises the
two YOLO tensors (``FrameIO.read_outputs``), decodes them and runs NMS (``model.postprocess``). This
module costs those steps from what the code does, pass by pass: for each numpy operation the bytes
it reads and writes (``Pass``), and the number of numpy calls (each a Python-level dispatch). The
cache flush of the input and the invalidation of the outputs are *not* here: ``perf.HostModel``
charges them in the accelerator's figure, with the driver's MMIO accesses.

Cost of a step = traffic / ``ARM_TRAFFIC_BYTES_PER_S`` + calls x ``ARM_CALL_US``, both scaled from
the CPU clock they were measured at to the board's (``Board.cpu_clock_mhz``). numpy's elementwise
loops on the A9 are bound by memory traffic (the data of a 416x416 frame never fits the 512 KB L2
cache), and a fancy-index gather pays for its index array (8 bytes an element), so the traffic is
counted with the index arrays. The arithmetic itself (a few cycles an element next to tens of
cycles of traffic) is not charged separately.

Calibration, published measurements on Zynq-7000 boards (650-667 MHz Cortex-A9, PYNQ Linux):

- ``ARM_TRAFFIC_BYTES_PER_S``: FINN's generated PYNQ driver, ``throughput_test`` on a PYNQ-Z2
  (650 MHz), copied a 784,000-byte input into a PYNQ buffer (``copy_input_data_to_device``, a numpy
  copy plus the buffer's flush) in 5.48 ms (github.com/integratedintegral21/finn-convolution,
  ``nw_metrics_w8a3``; 5.50 ms in ``nw_metrics_w4a3``). Less the flush at the reference design's
  0.9 ns/byte (``perf.CACHE_NS_PER_BYTE``, 0.71 ms), 1,568,000 bytes of traffic in 4.77 ms: 329 MB/s.
  Consistent with rsoc-framework.com ("How fast are DMA transfers on Xilinx Zynq?"), where Linux
  reads on a Zynq top out at about 160 MB/s, "highly limited by the memcpy operation" (160 MB/s
  copied is 320 MB/s of traffic).
- ``ARM_CALL_US``: one Python-level call into numpy on small arrays costs about what one PYNQ
  ``MMIO.write`` does, 27-36 us on a PYNQ-Z1 at 650 MHz (discuss.pynq.io "MMIO write is too slow",
  the same figure ``perf.MMIO_ACCESS_US`` uses); FINN's ``fold_input`` (one reshape, timed with two
  ``time.time()`` calls) took 0.13-0.15 ms in the same PYNQ-Z2 runs as above, so 30 us is if anything
  optimistic.

These two constants make every step's cost; the code's own passes and calls are counted below,
function by function, from the code as written (tests/test_arm_model.py holds the byte counts to the
arrays the code touches). ``benchmarks/bench_arm_steps.py`` prints each step measured on the machine
it runs on beside the model; on a board, ``zynqyolo bench --backend pynq`` measures the stages there.

The ARM-only baseline on the board (``arm_only_baselines``): the reference design's bare-metal
darknet build, about 154 s per frame on the Zedboard's A9 at 667 MHz (Yu & Bouganis, ARC 2020,
measured), and a bound no CPU implementation can beat: the network's 2 x MACs FLOPs at NEON's peak
of 2 single-precision FLOPs per cycle per core (4-lane VMLA.F32 on a Q register every 2 cycles:
Cortex-A9 NEON MPE TRM, as quoted in Xilinx XAPP1206 "NEON Performance Limit") on both cores, about
2.1 s; tuned NEON code reaches a fraction of it, so 2.5-4 s. For scale on a faster core: darknet with
NNPACK ran YOLOv3-tiny in about 1 s on a Raspberry Pi 3 (4 x Cortex-A53 at 1.2 GHz;
github.com/shizukachan/darknet-nnpack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zynqyolo.model.ir import INPUT, Network
from zynqyolo.model.preprocess import darknet_resize_rows, letterbox_size

from .plan import Plan

KIND = "modelled"

# FINN throughput_test on a PYNQ-Z2, 650 MHz (module docstring): 2 x 784,000 bytes in 5.48 ms less a
# 784,000-byte flush at 0.9 ns/byte.
_FINN_COPY_NBYTES = 784_000
_FINN_COPY_S = 5.48e-3
_FLUSH_NS_PER_BYTE = 0.9
ARM_TRAFFIC_BYTES_PER_S = 2 * _FINN_COPY_NBYTES / (_FINN_COPY_S - _FINN_COPY_NBYTES * _FLUSH_NS_PER_BYTE * 1e-9)
ARM_TRAFFIC_MEASURED_CPU_MHZ = 650.0
# PYNQ MMIO.write on a PYNQ-Z1 at 650 MHz, 27-36 us (module docstring).
ARM_CALL_US = 30.0
ARM_CALL_MEASURED_CPU_MHZ = 650.0

# NEON peak: 2 single-precision FLOPs per cycle per Cortex-A9 core (XAPP1206, "NEON Performance Limit").
NEON_FLOPS_PER_CYCLE = 2.0
# Yu & Bouganis, ARC 2020: the ARM-only darknet build (bare metal, no optimisation) on the Zedboard.
DARKNET_BAREMETAL_MS = 154_000.0
# Candidates (cells x anchors with objectness > 0.25) and the classes among them: 0-8 candidates (median 2)
# and 0-2 classes per fetched photo with the 16-bit default model (benchmarks/bench_arm_steps.py prints
# them); the defaults take the most of both. NMS costs calls per candidate, so the figure moves with the scene.
DEFAULT_CANDIDATES = 8
DEFAULT_CANDIDATE_CLASSES = 2

F32, F64, U8, IDX = 4, 8, 1, 8  # bytes per element: float32, float64, uint8, an index (intp)


@dataclass(frozen=True)
class Pass:
    """One numpy operation: ``nbytes`` read and written (index arrays included)."""

    what: str
    nbytes: int


@dataclass(frozen=True)
class ArmStep:
    """One ARM-side step of a frame: its passes over memory and its numpy calls (modelled cost)."""

    name: str
    passes: tuple[Pass, ...]
    calls: int

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.passes)

    def ms(self, cpu_clock_mhz: float) -> float:
        traffic = ARM_TRAFFIC_BYTES_PER_S * cpu_clock_mhz / ARM_TRAFFIC_MEASURED_CPU_MHZ
        call_us = ARM_CALL_US * ARM_CALL_MEASURED_CPU_MHZ / cpu_clock_mhz
        return self.nbytes / traffic * 1e3 + self.calls * call_us * 1e-3

    def to_dict(self, cpu_clock_mhz: float) -> dict:
        return {"ms": self.ms(cpu_clock_mhz), "nbytes": self.nbytes, "calls": self.calls}


# --------------------------------------------------------------------------- the steps, as coded ----
def letterbox_step(image_w: int, image_h: int, network: Network, resize: str = "darknet") -> ArmStep:
    """``model.preprocess.letterbox`` of a (image_h, image_w, 3) uint8 frame."""
    net_w, net_h = network.width, network.height
    new_w, new_h = letterbox_size(image_w, image_h, net_w, net_h)
    e2 = new_h * new_w * 3  # resized pixels
    n = net_w * net_h * 3
    border = Pass("grey border = 0.5", (n - e2) * F32)
    if resize == "opencv":
        # cv2.resize (NEON) reads the two source rows of every output row, writes 8-bit pixels; then the table.
        passes = (Pass("cv2.resize", 2 * min(image_h, 2 * new_h) * image_w * 3 * U8 // 2 + e2 * U8),
                  Pass("table[small]", e2 * (U8 + F32)), border,
                  Pass("region[...] = resized.transpose", e2 * (F32 + F32)))
        return ArmStep("letterbox", passes, calls=12)
    rows = darknet_resize_rows(image_w, image_h, new_w, new_h)
    e1 = rows * new_w * 3  # horizontally resized pixels (only the rows the vertical pass reads)
    gather = Pass("image[rows, ix] (8-bit gather)", e1 * (U8 + U8) + (new_w + rows) * IDX)
    table = Pass("table[...] (to float32)", e1 * (U8 + F32))
    passes = (
        gather, table, Pass("part *= ax", e1 * 2 * F32),
        gather, table, Pass("right *= dx", e1 * 2 * F32),
        Pass("part += right", e1 * 3 * F32),
        Pass("part[top]", e2 * 2 * F32 + new_h * IDX), Pass("out = top * ay", e2 * 2 * F32),
        Pass("part[bottom]", e2 * 2 * F32 + new_h * IDX),
        Pass("below *= dy", e2 * 2 * F32), Pass("out[:-1] += below", e2 * 3 * F32),
        border, Pass("region[...] = out.transpose", e2 * 2 * F32),
    )
    return ArmStep("letterbox", passes, calls=26)


def pack_step(plan: Plan) -> ArmStep:
    """``FrameIO.write_input``: quantise in float32 and cast into the input buffer's lane views."""
    t = plan.tensors[INPUT]
    n = t.channels * t.height * t.width
    lane_bytes = plan.config.bits // 8
    padded = sum(plan.config.fold_lanes(t.channels)) * t.height * t.width
    passes = (
        Pass("min(x)", n * F32),
        Pass("v = x * 2**frac", n * 2 * F32),
        Pass("v == 1/2 - 2**-25 (fix-up)", n * (F32 + 1)),
        Pass("v += 0.5", n * 2 * F32), Pass("minimum(v, max code)", n * 2 * F32),
        Pass("lanes[...] = v (truncating cast)", n * (F32 + lane_bytes)),
        Pass("padding lanes = 0", (padded - n) * lane_bytes),
    )
    folds = len(plan.config.fold_lanes(t.channels))
    return ArmStep("pack", passes, calls=14 + 4 * folds)


def unpack_step(plan: Plan) -> ArmStep:
    """``FrameIO.read_outputs``: each YOLO tensor's codes as unsigned lanes times a per-channel scale,
    written transposed (one pass for its whole folds, one for the last), then the signed tw/th fixed."""
    passes, calls = [], 0
    lane_bytes = plan.config.bits // 8
    for index in plan.outputs:
        t = plan.tensors[index]
        n = t.channels * t.height * t.width
        raw = 4 * (t.channels // 85 if t.channels % 85 == 0 else 1) * t.height * t.width  # tw, th per anchor
        passes += [Pass(f"codes * scale -> (C, H, W), layer {index}", n * (lane_bytes + F32)),
                   Pass(f"tw, th sign fix-up, layer {index}", raw * (3 * F32 + 1) * 2)]
        calls += 16
    return ArmStep("unpack", tuple(passes), calls)


def decode_step(network: Network, candidates: int = DEFAULT_CANDIDATES) -> ArmStep:
    """``postprocess._candidates`` and the letterbox correction: a threshold pass over each YOLO
    tensor's objectness, then work on the candidates only."""
    passes, calls = [], 0
    for y in network.yolos:
        cells = y.out_shape.h * y.out_shape.w
        per = 5 + y.classes
        passes += [Pass(f"obj > conf layer {y.index}", cells * y.n_anchors * (F32 + 1)),
                   Pass(f"nonzero layer {y.index}", cells * y.n_anchors)]
        calls += 8
    classes = network.yolos[0].classes
    passes.append(Pass("candidates' boxes and class probabilities", candidates * (5 + classes) * (F32 + 3 * F64)))
    calls += 20 * len(network.yolos) + 12  # per layer: the candidates' box arithmetic; then the correction
    return ArmStep("decode", tuple(passes), calls)


def nms_step(candidates: int = DEFAULT_CANDIDATES, classes: int = DEFAULT_CANDIDATE_CLASSES,
             per_class: int | None = None) -> ArmStep:
    """``postprocess.nms_per_class`` and the final labelling: per class with candidates an argsort,
    the IoU matrix of its candidates (about 25 numpy calls) and three per candidate kept, then one
    Python iteration per detection."""
    per_class = candidates if per_class is None else per_class  # candidates carrying each class
    calls = classes * (31 + 3 * per_class) + 4 + 2 * classes
    return ArmStep("nms", (Pass("probabilities copy", candidates * 80 * F64 * 2),), calls)


# ------------------------------------------------------------------------------ the whole frame ----
@dataclass(frozen=True)
class ArmFrame:
    """The ARM-side steps of one frame on one board (modelled)."""

    steps: tuple[ArmStep, ...]
    cpu_clock_mhz: float
    frame_wh: tuple[int, int]
    resize: str
    candidates: int

    @property
    def pre_ms(self) -> float:
        return sum(s.ms(self.cpu_clock_mhz) for s in self.steps if s.name in ("letterbox", "pack"))

    @property
    def post_ms(self) -> float:
        return sum(s.ms(self.cpu_clock_mhz) for s in self.steps if s.name not in ("letterbox", "pack"))

    @property
    def ms(self) -> float:
        return self.pre_ms + self.post_ms

    def to_dict(self) -> dict:
        return {"kind": KIND, "cpu_clock_mhz": self.cpu_clock_mhz, "frame": list(self.frame_wh),
                "resize": self.resize, "candidates": self.candidates, "arm_ms": self.ms,
                "steps": {s.name: s.to_dict(self.cpu_clock_mhz) for s in self.steps}}


def arm_frame(plan: Plan, network: Network, cpu_clock_mhz: float, frame_wh: tuple[int, int] = (640, 480),
              resize: str = "darknet", candidates: int = DEFAULT_CANDIDATES,
              candidate_classes: int = DEFAULT_CANDIDATE_CLASSES) -> ArmFrame:
    w, h = frame_wh
    if w < 2 or h < 2:
        raise ValueError(f"frame {w}x{h}: at least 2x2 pixels")
    if cpu_clock_mhz <= 0:
        raise ValueError(f"cpu_clock_mhz must be positive, got {cpu_clock_mhz}")
    classes = min(candidate_classes, candidates)
    per_class = math.ceil(candidates / classes) if classes else 0
    steps = (letterbox_step(w, h, network, resize), pack_step(plan), unpack_step(plan),
             decode_step(network, candidates), nms_step(candidates, classes, per_class))
    return ArmFrame(steps, cpu_clock_mhz, (w, h), resize, candidates)


@dataclass(frozen=True)
class EndToEnd:
    """A frame on the board, modelled: ARM steps + the accelerator (its host work included).

    Latency: letterbox + pack, then the hardware calls (``DesignEstimate.latency_ms``: PL work, the
    driver's MMIO and cache maintenance), then unpack + decode + NMS.
    Throughput of ``detect_stream``: the letterbox and decode of neighbouring frames run on a worker
    thread while the driver runs this frame's calls. The PL works ``pl_ms`` (the accelerator figure
    less its host part) and waits for the driver's ``host_ms``; the interpreter does the driver's
    ``host_ms`` and the ARM steps (one interpreter: Python holds one lock, so the two threads share
    it, though numpy's large passes release it). Per frame, period = host_ms + max(pl_ms, arm_ms)."""

    accelerator_ms: float
    host_ms: float
    arm: ArmFrame

    @property
    def arm_ms(self) -> float:
        return self.arm.ms

    @property
    def latency_ms(self) -> float:
        return self.arm.pre_ms + self.accelerator_ms + self.arm.post_ms

    @property
    def period_ms(self) -> float:
        return self.host_ms + max(self.accelerator_ms - self.host_ms, self.arm_ms)

    @property
    def throughput_fps(self) -> float:
        return 1e3 / self.period_ms

    @property
    def arm_share(self) -> float:
        """Share of the ARM steps in the frame's latency."""
        return self.arm_ms / self.latency_ms

    def to_dict(self) -> dict:
        return {"kind": KIND, "latency_ms": self.latency_ms, "throughput_fps": self.throughput_fps,
                "arm_ms": self.arm_ms, "arm_share": self.arm_share, "accelerator_ms": self.accelerator_ms,
                "host_ms": self.host_ms, "period_ms": self.period_ms, "arm": self.arm.to_dict()}


def end_to_end(estimate, plan: Plan, network: Network, frame_wh: tuple[int, int] = (640, 480),
               resize: str = "darknet", candidates: int = DEFAULT_CANDIDATES) -> EndToEnd:
    """The end-to-end frame of a ``perf.DesignEstimate`` on its board."""
    arm = arm_frame(plan, network, estimate.board.cpu_clock_mhz, frame_wh, resize, candidates)
    return EndToEnd(estimate.latency_ms, estimate.host_ms, arm)


def arm_only_baselines(network: Network, cpu_clock_mhz: float, cores: int = 2) -> dict:
    """The ARM-only baseline on the board's CPU (module docstring): measured by the reference design's
    authors, and the NEON-peak bound (modelled)."""
    flops = 2 * network.macs
    bound_ms = flops / (NEON_FLOPS_PER_CYCLE * cores * cpu_clock_mhz * 1e6) * 1e3
    return {
        "darknet_baremetal": {"ms": DARKNET_BAREMETAL_MS, "kind": "measured (Yu & Bouganis, ARC 2020, Zedboard)"},
        "neon_peak_bound": {"ms": bound_ms, "kind": f"modelled ({NEON_FLOPS_PER_CYCLE:g} FLOP/cycle/core NEON peak, "
                                                     f"{cores} cores at {cpu_clock_mhz:g} MHz; XAPP1206)"},
    }
