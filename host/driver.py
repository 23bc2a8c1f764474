"""The host driver: executes the plan on a board (PYNQ or emulated) through AXI DMA.

One driver, two boards behind one narrow seam. A board offers:

- ``allocate(nbytes, cacheable)`` -> a uint8 DMA buffer with ``physical_address``, ``flush()``,
  ``invalidate()`` (no-ops when not cacheable);
- ``dma0.sendchannel`` (feature maps in), ``dma0.recvchannel`` (feature maps out),
  ``dma1.sendchannel`` (parameters): ``transfer(buffer, start, nbytes)``, ``idle``, ``error``;
- ``accel``: ``register_map`` (registers by name), ``read(offset)``/``write(offset, value)``
  for ``ap_ctrl`` at 0x00;
- ``reset()``: bring DMAs and IP back to a clean idle state after a fault.

Per frame: the image codes go into the ``input`` buffer (flushed: the only buffer the CPU
writes), each call's registers are written by name (only those that differ from what the IP
already holds) and read back, the parameter and output
transfers are armed, the IP is started, the feature-map input transfers are issued in plan
order (simple-mode DMA: one at a time), and every wait is bounded by a timeout that raises
an error naming the DMA, the call and the status register. The YOLO tensors are then
invalidated (the only buffer the CPU reads) and decoded. Buffers are allocated once and
reused for every frame.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from zynqyolo.dse.plan import Call, Plan
from zynqyolo.errors import ZynqyoloError

from .frame import FrameIO, build_params

AP_START, AP_DONE = 1, 2
CPU_BUFFERS = ("input", "output")  # the only buffers the CPU writes or reads per frame


class AcceleratorError(ZynqyoloError):
    """The board did not do what the plan asked: a DMA error, a timeout, a register mismatch."""


@dataclass
class FrameTiming:
    """Wall-clock split of one frame on the host (seconds)."""

    preprocess_s: float = 0.0
    accelerator_s: float = 0.0
    postprocess_s: float = 0.0
    calls: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"preprocess_ms": self.preprocess_s * 1e3, "accelerator_ms": self.accelerator_s * 1e3,
                "postprocess_ms": self.postprocess_s * 1e3}


class Driver:
    """Runs frames of one quantised model on one board with one plan."""

    def __init__(self, board, plan: Plan, model, timeout_s: float = 5.0, verify_registers: bool = True):
        self.board = board
        self.plan = plan
        self.model = model
        self.timeout_s = timeout_s
        self.verify_registers = verify_registers
        self.io = FrameIO(plan, model)
        # Only the CPU-touched buffers are cacheable: the arena and the parameters are written by the
        # PL or once at start-up, and PYNQ's send channel flushes its whole source buffer per transfer.
        self.buffers = {name: board.allocate(max(n, 64), cacheable=name in CPU_BUFFERS)
                        for name, n in plan.buffer_nbytes.items()}
        self.buffers["params"][:plan.buffer_nbytes["params"]] = build_params(plan, model)
        self.channels = {"fmap_in": board.dma0.sendchannel, "params": board.dma1.sendchannel,
                         "fmap_out": board.dma0.recvchannel}
        self.timing = FrameTiming()
        self._shadow: dict[str, int] = {}  # register values the IP holds (forgotten after a fault)

    # -- one call ------------------------------------------------------------------------------------

    def _where(self, call: Call) -> str:
        return f"call {call.index} (layers {', '.join(map(str, call.layers))})"

    def _wait(self, test, describe, call: Call) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            state = test()
            if state is True:
                return
            if isinstance(state, str):
                raise AcceleratorError(f"{state} during {self._where(call)}")
            if time.monotonic() > deadline:
                raise AcceleratorError(f"timeout after {self.timeout_s:g} s waiting for {describe()} during "
                                       f"{self._where(call)}")
            time.sleep(0)

    def _channel_ready(self, name: str):
        channel = self.channels[name]

        def test():
            if channel.error:
                return f"DMA {name} ({_channel_label(channel)}) reported an error, status {_status(channel)}"
            return bool(channel.idle)

        def describe():
            return f"DMA {name} ({_channel_label(channel)}) to go idle, status {_status(channel)}"

        return test, describe

    def _transfer(self, transfer, call: Call) -> None:
        try:
            self.channels[transfer.channel].transfer(self.buffers[transfer.buffer], transfer.offset, transfer.nbytes)
        except (ValueError, RuntimeError) as exc:
            raise AcceleratorError(f"DMA {transfer.channel} refused a {transfer.nbytes}-byte transfer at "
                                   f"{transfer.buffer}+{transfer.offset} in {self._where(call)}: {exc}") from None

    def run_call(self, call: Call) -> None:
        accel = self.board.accel
        for name, value in call.registers:
            if self._shadow.get(name) == value:
                continue  # the IP keeps its registers between calls: write only what changes
            setattr(accel.register_map, name, value & 0xFFFFFFFF)
            self._shadow[name] = value
            if self.verify_registers:
                got = getattr(accel.register_map, name)
                if got != value & 0xFFFFFFFF:
                    raise AcceleratorError(f"register {name} reads back {got} after writing {value} in "
                                           f"{self._where(call)}: wrong bitstream, or a bus problem")
        for t in call.param_transfers:
            self._transfer(t, call)
        self._transfer(call.out_transfer, call)
        accel.write(0x00, AP_START)
        for t in call.in_transfers:
            self._transfer(t, call)
            self._wait(*self._channel_ready("fmap_in"), call)
        for name in ("params", "fmap_out") if call.param_transfers else ("fmap_out",):
            self._wait(*self._channel_ready(name), call)
        seen_done = []

        def done():
            ctrl = accel.read(0x00)
            seen_done.append(ctrl)
            return bool(ctrl & AP_DONE) or bool(ctrl & 4 and not ctrl & AP_START)

        self._wait(done, lambda: f"the accelerator's ap_done (ap_ctrl {seen_done[-1]:#x})", call)

    # -- frames ------------------------------------------------------------------------------------------

    def run_codes(self) -> None:
        """Run every call of the plan on what is in the input buffer; recover the board on failure."""
        try:
            for call in self.plan.calls:
                start = time.perf_counter()
                self.run_call(call)
                self.timing.calls.append(time.perf_counter() - start)
        except AcceleratorError:
            self._shadow.clear()
            self.board.reset()
            raise

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Letterboxed float32 (3, H, W) -> dequantised YOLO outputs (the detection backend protocol)."""
        self.timing = FrameTiming()
        t0 = time.perf_counter()
        self.io.write_input(self.buffers, x)
        self.buffers["input"].flush()
        t1 = time.perf_counter()
        self.run_codes()
        t2 = time.perf_counter()
        self.buffers["output"].invalidate()
        outs = self.io.read_outputs(self.buffers)
        t3 = time.perf_counter()
        self.timing.preprocess_s, self.timing.accelerator_s, self.timing.postprocess_s = t1 - t0, t2 - t1, t3 - t2
        return outs


class DriverBackend:
    """The driver as a detection backend (``zynqyolo detect --backend emu|pynq``)."""

    def __init__(self, driver: Driver, name: str):
        self.driver = driver
        self.name = name
        self.network = driver.model.network

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        return self.driver.forward(x)


def detect_stream(driver: Driver, images, conf: float, nms: float, names=None):
    """Detections for many images, overlapping the CPU's letterbox of image n+1 and decode of
    image n-1 with the accelerator's work on image n. Yields (detections, FrameTiming)."""
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox

    net = driver.model.network

    def prepare(image):
        return letterbox(image, net.width, net.height)

    images = list(images)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending_x = pool.submit(prepare, images[0]) if images else None
        pending_decode = None
        for i, image in enumerate(images):
            x = pending_x.result()
            if i + 1 < len(images):
                pending_x = pool.submit(prepare, images[i + 1])
            outs = driver.forward(x)
            timing = driver.timing
            if pending_decode is not None:
                yield pending_decode.result()
            pending_decode = pool.submit(lambda o=outs, im=image, t=timing: (
                decode(o, net, (im.shape[1], im.shape[0]), conf=conf, nms=nms, names=names), t))
        if pending_decode is not None:
            yield pending_decode.result()


def _channel_label(channel) -> str:
    return getattr(channel, "name", type(channel).__name__)


def _status(channel) -> str:
    status = getattr(channel, "status", None)
    if status is None and hasattr(channel, "_mmio"):
        status = channel._mmio.read(channel._offset + 4)
    return f"{status:#06x}" if isinstance(status, int) else "unknown"


def open_driver(board: str, model, config, bitstream=None, timeout_s: float = 5.0) -> Driver:
    """A driver for ``model`` on design point ``config``: board "emu" (the emulated board) or "pynq"
    (the overlay in ``bitstream``, a folder written by ``zynqyolo build``)."""
    from zynqyolo.dse.plan import make_plan

    try:
        plan = make_plan(model.network, model, config)
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None
    if board == "emu":
        from .emu import EmulatedBoard

        return Driver(EmulatedBoard(config), plan, model, timeout_s=timeout_s)
    if board == "pynq":
        from .pynq_board import PynqBoard

        if bitstream is None:
            raise ZynqyoloError("the pynq board needs --bitstream DIR (a folder written by 'zynqyolo build')")
        return Driver(PynqBoard(bitstream, plan, model.content_hash), plan, model, timeout_s=timeout_s)
    raise ZynqyoloError(f"unknown board {board!r}; choose emu or pynq")
