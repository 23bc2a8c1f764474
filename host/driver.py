"""The host driver: executes the plan on a board (PYNQ or emulated) through two AXI DMAs in
scatter-gather mode.

One driver, two boards behind one narrow seam. A board offers:

- ``allocate(nbytes, cacheable)`` -> a uint8 DMA buffer with ``physical_address``, ``flush()``,
  ``invalidate()`` (no-ops when not cacheable);
- ``dma0`` (feature maps: MM2S in, S2MM out) and ``dma1`` (parameters: MM2S): the AXI DMA
  register spaces, ``read(offset)``/``write(offset, value)`` (a ``pynq.MMIO``, or the emulated
  DMA); ``dma_length_bits``, the DMAs' buffer length register width;
- ``accel``: ``write_registers(offsets, words)`` and ``read_registers(offsets) -> words``, a block
  of argument registers (byte offsets, ``HwConfig.register_offsets``) in one MMIO access each way,
  whatever its size (on PYNQ a numpy store into, or load from, the mapped registers);
  ``read(offset)``/``write(offset, value)`` for ``ap_ctrl`` at 0x00;
- ``reset()``: bring DMAs and IP back to a clean idle state after a fault (DMAs left halted):
  the hardware reset path, an AXI GPIO pulsing the accelerator's and both DMAs' resets
  (``host.reset``), since a fault in the middle of a call leaves the IP stuck on its streams;
- ``barrier()``: make the CPU's stores to DMA memory visible before the next MMIO write (on ARM a
  DSB; the descriptors are non-cacheable, but uncached stores may still sit in the write buffer).

Built once: the buffers (``input`` and ``output`` cacheable: the only ones the CPU writes or
reads per frame; ``arena``, ``params`` and the descriptors not), the parameter stream, and the
descriptor ring (``sgdma.DescriptorRing``): every transfer of the frame as a descriptor, one
chain per DMA channel, checked against the DMAs' length register and alignment before anything
is started.

Per frame: the image codes go into the ``input`` buffer (flushed), every descriptor's STATUS is
cleared, a barrier orders those stores before the register writes that follow, each used channel
is restarted at its chain's first descriptor (DMACR.RS off, wait Halted, CURDESC, RS on), and the
parameter and output channels' TAILDESC go to their chains' last descriptors, armed once for the
frame: the IP reads exactly its call's parameter words (the next call's wait in the stream FIFO,
the DMA held back by it), and the S2MM engine writes only what the IP sends, one packet (TLAST)
per descriptor.
Per call: the registers that differ from what the IP already holds, as their fields' bit patterns
(``dse.registers.encode_register``: two's complement for signed fields), are written in one
vectorised access (``write_registers``), then (``verify_registers``, the default) read back in one
(``read_registers``) and compared with those bits, the first mismatch an ``AcceleratorError``
naming the register (nothing is accessed when no register changes); ap_start; TAILDESC of the
feature-map input channel (it reads what the previous call wrote, so it is released only now).
Then ap_ctrl is polled until ap_done, each poll that does not see it also reading the used
channels' DMASR for an error; and the call's last descriptor on each used channel is waited for
in memory (STATUS Cmplt, no MMIO: the output channel may still be writing the packet's last beats
when ap_done rises), the output descriptor's STATUS also showing that the packet started and
ended in it with exactly the planned bytes (RXSOF, RXEOF, the byte count), so that an IP that
does not follow the plan cannot spill into the next call's output unnoticed. A DMA error
therefore costs no access while all goes well. Every wait is bounded by a timeout; an
error bit in DMASR or in a descriptor's STATUS, or a timeout, raises an ``AcceleratorError`` naming
the DMA, the call and the DMASR value (a timeout names the first channel whose part of the call is
unfinished), after which the board is reset and the next frame starts afresh. The YOLO tensors are
then invalidated (the only buffer the CPU reads) and decoded. ``dse.mmio.frame_mmio_accesses``
counts the MMIO accesses of a frame.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from zynqyolo import validate
from zynqyolo.dse.mmio import changed_registers
from zynqyolo.dse.plan import Call, Channel, Plan
from zynqyolo.dse.registers import AP_CTRL, AP_DONE, AP_IDLE, AP_START, decode_register, encode_register
from zynqyolo.errors import AcceleratorError, ZynqyoloError

from . import sgdma
from .frame import FrameIO, build_params

CPU_BUFFERS = ("input", "output")  # the only buffers the CPU writes or reads per frame

__all__ = ["AcceleratorError", "Driver", "DriverBackend", "FrameTiming", "detect_stream", "open_driver"]


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
        # The CPU writes the input and reads the output; the arena, the parameters (written once, here)
        # and the descriptors are the PL's: non-cacheable, never flushed nor invalidated.
        self.buffers = {name: board.allocate(max(n, 64), cacheable=name in CPU_BUFFERS)
                        for name, n in plan.buffer_nbytes.items()}
        self.buffers["params"][:plan.buffer_nbytes["params"]] = build_params(plan, model)
        self.ring = sgdma.DescriptorRing(plan, self.buffers, board.allocate, board.dma_length_bits)
        self.buffers["descriptors"] = self.ring.memory
        self.channels = {spec.name: sgdma.SgChannel(spec, getattr(board, spec.dma)) for spec in sgdma.CHANNELS
                         if self.ring.first[spec.name] is not None}
        self.timing = FrameTiming()
        self._shadow: dict[str, int] = {}  # register values the IP holds (forgotten after a fault)
        self._offsets = plan.config.register_offsets()  # the argument registers' byte offsets
        self._fields = plan.config.register_fields()  # and their widths

    # -- waits -----------------------------------------------------------------------------------------

    @staticmethod
    def _where(call: Call) -> str:
        return f"call {call.index} (layers {', '.join(map(str, call.layers))})"

    def _wait(self, test, describe, where: str) -> None:
        """Poll ``test`` (True: done; a string: an error) until done, an error, or the timeout."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            state = test()
            if state is True:
                return
            if isinstance(state, str):
                raise AcceleratorError(f"{state} during {where}")
            if time.monotonic() > deadline:
                raise AcceleratorError(f"timeout after {self.timeout_s:g} s waiting for {describe()} during {where}")
            time.sleep(0)

    def _dma_error(self, channel: sgdma.SgChannel, dmasr: int) -> str:
        current = self.ring.index_of(channel.curdesc())  # the descriptor the error belongs to
        return (f"DMA {channel.name} ({channel.label}) reported {sgdma.error_names(dmasr)}, DMASR "
                f"{sgdma.describe_dmasr(dmasr)}, at {self.ring.describe(current)}")

    def _wait_halted(self, channel: sgdma.SgChannel, where: str) -> None:
        seen = [0]

        def test():
            dmasr = seen[0] = channel.dmasr()
            return bool(dmasr & sgdma.SR_HALTED)

        self._wait(test, lambda: f"DMA {channel.name} ({channel.label}) to halt, DMASR {sgdma.describe_dmasr(seen[0])}",
                   where)

    # -- one frame -------------------------------------------------------------------------------------

    def start_frame(self) -> None:
        """Clear the descriptors' status, restart every channel at the first descriptor of its chain and
        arm the output chain to its end."""
        where = "the start of a frame (descriptor ring restart)"
        for channel in self.channels.values():
            channel.stop()
            self._wait_halted(channel, where)
        self.ring.clear_status()
        self.board.barrier()  # the cleared STATUS words reach memory before any TAILDESC lets a DMA fetch them
        for name, channel in self.channels.items():
            channel.start(self.ring.address(self.ring.first[name]))  # a channel that cannot run shows it at its wait
        # The whole frame's parameter and output chains, armed once: the IP reads only its own call's
        # parameter words (the rest wait in the stream), and each call's packet fills its output descriptor.
        for name in (Channel.PARAMS, Channel.FMAP_OUT):
            if name in self.channels:
                self.channels[name].tail(self.ring.address(self.ring.frame_tail(name)))

    def run_call(self, call: Call) -> None:
        accel = self.board.accel
        where = self._where(call)
        config = self.plan.config
        changed = changed_registers(self._shadow, call.registers)  # the IP keeps its registers
        if changed:
            offsets = [self._offsets[name] for name, _ in changed]
            words = [encode_register(config, name, value) for name, value in changed]  # signed: two's complement
            accel.write_registers(offsets, words)  # one vectorised access, whatever the count
            self._shadow.update(changed)
            if self.verify_registers:
                back = accel.read_registers(offsets)  # one vectorised access
                if len(back) != len(words):
                    raise AcceleratorError(f"the register block read back {len(back)} words for {len(words)} "
                                           f"registers during {where}")
                for (name, value), word, got in zip(changed, words, back):
                    if got != word:
                        raise AcceleratorError(
                            f"register {name} reads back {got:#x} (= {decode_register(config, name, got)}) after "
                            f"writing {value} ({word:#x} in its {self._fields[name]}-bit field at offset "
                            f"{self._offsets[name]:#x}) during {where}: wrong bitstream, or a bus problem")
        tails = self.ring.tails[call.index]
        accel.write(AP_CTRL, AP_START)
        if tails[Channel.FMAP_IN] is not None:  # per call: it reads what the previous call wrote
            self.channels[Channel.FMAP_IN].tail(self.ring.address(tails[Channel.FMAP_IN]))
        used = [name for name in Channel if tails[name] is not None]  # input, parameters, output
        self._wait_done(tails, used, where)
        self._wait_descriptors(tails, used, where)

    def _wait_done(self, tails: dict, used: list, where: str) -> None:
        """Until ap_done: one ap_ctrl read per poll. A poll that does not see it also reads the DMASR
        of every channel the call uses, so that a DMA error (which wedges the IP) is reported at
        once, not at the timeout; a call done at its first poll costs the one read."""
        seen = [0]

        def test():
            ctrl = seen[0] = self.board.accel.read(AP_CTRL)
            if ctrl & AP_DONE or (ctrl & AP_IDLE and not ctrl & AP_START):
                return True
            for name in used:
                channel = self.channels[name]
                dmasr = channel.dmasr()
                if dmasr & sgdma.SR_ERRORS:
                    return self._dma_error(channel, dmasr)
            return False

        self._wait(test, lambda: self._unfinished(tails, used) or f"the accelerator's ap_done (ap_ctrl {seen[0]:#x})", where)

    def _wait_descriptors(self, tails: dict, used: list, where: str) -> None:
        """Until the call's last descriptor on every channel it uses shows Cmplt in memory (no MMIO):
        after ap_done the output channel may still be writing the packet's last beats to DDR, and
        the next call reads them. A descriptor's STATUS error bits are reported with its channel, and
        an output packet that does not fill exactly its descriptor (``DescriptorRing.packet_problem``)
        as the IP not doing what the plan's registers say."""

        def test():
            for name in used:
                status = self.ring.status(tails[name])
                if status & sgdma.ST_ERRORS:
                    channel = self.channels[name]
                    return self._dma_error(channel, channel.dmasr())
                if not status & sgdma.ST_CMPLT:
                    return False
            if Channel.FMAP_OUT in used:
                problem = self.ring.packet_problem(tails[Channel.FMAP_OUT])
                if problem:
                    return (f"the accelerator's output packet does not match the plan: {problem}; a bitstream "
                            "built for another design point, or a kernel fault")
            return True

        self._wait(test, lambda: self._unfinished(tails, used), where)

    def _unfinished(self, tails: dict, used: list) -> str | None:
        """What a timed-out call waits on: the first channel (input, parameters, output) whose last
        descriptor of the call is not complete, with its DMASR; None if all are."""
        for name in used:
            if not self.ring.completed(tails[name]):
                channel = self.channels[name]
                return (f"DMA {channel.name} ({channel.label}) to finish {self.ring.describe(tails[name])}, DMASR "
                        f"{sgdma.describe_dmasr(channel.dmasr())}")
        return None

    def run_codes(self) -> None:
        """Run every call of the plan on what is in the input buffer; recover the board on failure."""
        try:
            self.start_frame()
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
        net = self.model.network
        try:
            validate.float_array(x, "the driver's input", lo=0.0, hi=1.0, shape=(net.channels, net.height, net.width))
        except validate.InvalidInput as exc:
            raise validate.InvalidInput(f"{exc}: it takes a letterboxed image, float (3, {net.height}, {net.width}) in "
                                        "[0, 1] (zynqyolo.model.preprocess.letterbox of the uint8 picture)") from None
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


def detect_stream(driver, images, conf: float, nms: float, names=None, prepare=None, finish=None):
    """Detections for many images, overlapping the CPU's letterbox of image n+1 and decode of
    image n-1 (on a worker thread) with the accelerator's work on image n. Yields (result,
    FrameTiming) in order.

    ``images`` is read lazily, one ahead (a camera or a video works). ``driver``: a ``Driver`` (its
    per-frame ``timing`` is yielded) or any detection backend (``forward``; the timing then holds the
    forward pass as ``accelerator_s``). ``prepare(image) -> (x, context)`` and ``finish(outputs,
    context) -> result`` replace the default letterbox and decode (context: the image; result: its
    detections)."""
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox

    net = driver.model.network if isinstance(driver, Driver) else driver.network

    if prepare is None:
        def prepare(image):
            return letterbox(image, net.width, net.height), image

    if finish is None:
        def finish(outs, image):
            return decode(outs, net, (image.shape[1], image.shape[0]), conf=conf, nms=nms, names=names)

    frames = iter(images)
    done = object()

    def read_and_prepare():
        image = next(frames, done)
        return done if image is done else prepare(image)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending_x = pool.submit(read_and_prepare)
        pending_result = None
        while True:
            prepared = pending_x.result()
            if prepared is done:
                break
            x, context = prepared
            pending_x = pool.submit(read_and_prepare)  # the next frame, while the accelerator runs this one
            start = time.perf_counter()
            outs = driver.forward(x)
            timing = getattr(driver, "timing", None) or FrameTiming(accelerator_s=time.perf_counter() - start)
            if pending_result is not None:
                yield pending_result.result()
            pending_result = pool.submit(lambda o=outs, c=context, t=timing: (finish(o, c), t))
        if pending_result is not None:
            yield pending_result.result()


def open_driver(board: str, model, config, bitstream=None, timeout_s: float = 5.0) -> Driver:
    """A driver for ``model`` on design point ``config``: board "emu" (the emulated board) or "pynq"
    (the overlay in ``bitstream``, a folder written by ``zynqyolo build``)."""
    from zynqyolo.dse.plan import make_plan

    try:
        plan = make_plan(model.network, model.hardware_formats(), config)
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
