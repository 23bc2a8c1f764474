"""The emulated board: the objects the driver uses on a PYNQ board, without the board.

It offers what ``pynq`` offers the driver, with the semantics of the real IP:

- ``allocate(nbytes, cacheable)``: DMA-able buffers with physical addresses (a fake contiguous
  pool, 4 KiB aligned); ``flush()``/``invalidate()`` of a cacheable buffer are recorded so tests
  can check cache traffic, and are no-ops on a non-cacheable one, as with ``pynq.allocate``;
- the accelerator: an AXI-Lite register file decoded like the HLS-generated IP
  (``ap_ctrl`` at 0x00, arguments from 0x10 every 8 bytes, ``HwConfig.register_offsets``),
  ``register_map`` by name, ``ap_start``/``ap_done``/``ap_idle`` bits;
- AXI DMA channels with the Xilinx IP's simple-mode rules: a transfer needs an idle channel,
  its length must be non-zero and fit the length register (``length_bits``), the address must
  be word aligned unless the data-realignment engine is on, and the status register carries
  the Halted/Idle/DMAIntErr/DMASlvErr/DMADecErr bits. A stream-to-memory transfer completes
  on the IP's TLAST and reports the received length.

The accelerator runs every hardware call through the C-simulated kernels when the IP has been
started and its output channel is armed: the words already pushed on its input streams are the
call's streams (the emulated stream FIFOs are unbounded, so memory-to-stream transfers finish
as soon as they are issued, as they would with a deep enough FIFO).

Faults can be injected (``inject``) to exercise the driver's error paths: a DMA that reports
an error, a transfer that never completes, a register that reads back a wrong value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# AXI DMA status register bits (Xilinx PG021, DMASR)
HALTED = 1 << 0
IDLE = 1 << 1
DMA_INT_ERR = 1 << 4
DMA_SLV_ERR = 1 << 5
DMA_DEC_ERR = 1 << 6
IOC_IRQ = 1 << 12
ERR_IRQ = 1 << 14

# HLS ap_ctrl bits
AP_START, AP_DONE, AP_IDLE, AP_READY = 1, 2, 4, 8


class EmuBuffer(np.ndarray):
    """A uint8 array with a physical address, like ``pynq.allocate``'s PynqBuffer."""

    physical_address: int
    board: "EmulatedBoard"
    cacheable: bool

    def flush(self) -> None:
        if self.cacheable:
            self.board.log.append(("flush", self.physical_address, self.nbytes))

    def invalidate(self) -> None:
        if self.cacheable:
            self.board.log.append(("invalidate", self.physical_address, self.nbytes))


@dataclass
class Faults:
    """Faults to inject; each fires once (counts down) unless set to a negative count."""

    dma_error: dict[str, int] = field(default_factory=dict)  # channel -> transfers until an error
    dma_hang: dict[str, int] = field(default_factory=dict)  # channel -> transfers until one never ends
    register_corrupt: dict[str, int] = field(default_factory=dict)  # register -> value XOR-ed on readback


class EmuDmaChannel:
    """One AXI DMA channel (MM2S "send" or S2MM "recv"), simple mode."""

    def __init__(self, board: "EmulatedBoard", name: str, direction: str, length_bits: int, word_bytes: int):
        self.board = board
        self.name = name
        self.direction = direction  # "mm2s" or "s2mm"
        self.length_bits = length_bits
        self.word_bytes = word_bytes
        self.status = HALTED
        self.started = False
        self._pending: tuple[EmuBuffer, int, int] | None = None
        self._hung = False
        self.received_nbytes = 0

    # -- pynq _SDMAChannel-like interface ---------------------------------------------------------

    def start(self) -> None:
        self.status = IDLE
        self.started = True

    @property
    def running(self) -> bool:
        return not self.status & HALTED

    @property
    def idle(self) -> bool:
        if self.direction == "s2mm" and self._pending is not None and not self._hung:
            self.board.run_if_ready()
        return bool(self.status & IDLE)

    @property
    def error(self) -> bool:
        return bool(self.status & (DMA_INT_ERR | DMA_SLV_ERR | DMA_DEC_ERR))

    def transfer(self, buffer: EmuBuffer, start: int = 0, nbytes: int = 0) -> None:
        if not self.running:
            raise RuntimeError(f"DMA channel {self.name} is not running (halted)")
        if not self.status & IDLE:
            raise RuntimeError(f"DMA channel {self.name} is busy: a simple-mode channel takes one transfer at a time")
        nbytes = nbytes or buffer.nbytes - start
        if start < 0 or start + nbytes > buffer.nbytes:
            raise ValueError(f"DMA channel {self.name}: transfer [{start}, {start + nbytes}) outside the "
                             f"{buffer.nbytes}-byte buffer")
        if nbytes >= 1 << self.length_bits:
            raise ValueError(f"DMA channel {self.name}: {nbytes} bytes exceed the {self.length_bits}-bit length "
                             "register; rebuild with a wider buffer length register")
        address = buffer.physical_address + start
        self.board.log.append((self.name, address, nbytes))
        if address % self.word_bytes or nbytes % self.word_bytes:
            # No data-realignment engine: the IP flags an internal error and halts.
            self.status = HALTED | DMA_INT_ERR | ERR_IRQ
            return
        if self.board.fire("dma_error", self.name):
            self.status = HALTED | DMA_SLV_ERR | ERR_IRQ
            return
        self.status &= ~IDLE
        self._hung = self.board.fire("dma_hang", self.name)
        if self._hung:
            return
        if self.direction == "mm2s":
            buffer.flush()  # PYNQ's send channel flushes the source buffer on every transfer
            data = np.asarray(buffer[start:start + nbytes]).tobytes()
            self.board.push(self.name, np.frombuffer(data, dtype=np.uint64))
            self.status |= IDLE | IOC_IRQ
        else:
            self._pending = (buffer, start, nbytes)

    def complete(self, words: np.ndarray) -> None:
        """The IP's output for an armed stream-to-memory transfer (ends on TLAST)."""
        buffer, start, nbytes = self._pending
        raw = words.view(np.uint8)
        self._pending = None
        if raw.size > nbytes:
            self.status = HALTED | DMA_INT_ERR | ERR_IRQ  # packet longer than the buffer
            return
        buffer[start:start + raw.size] = raw
        self.received_nbytes = raw.size
        self.status |= IDLE | IOC_IRQ

    def reset(self) -> None:
        self.status = HALTED
        self._pending = None
        self._hung = False
        self.start()

    def wait(self) -> None:  # pynq's wait() has no timeout; the driver never calls it
        raise RuntimeError("use the driver's bounded waits on EmuDmaChannel.idle")


class EmuDma:
    """An AXI DMA IP with its two channels (``sendchannel`` MM2S, ``recvchannel`` S2MM)."""

    def __init__(self, board: "EmulatedBoard", name: str, length_bits: int, word_bytes: int, has_s2mm: bool = True):
        self.name = name
        self.sendchannel = EmuDmaChannel(board, f"{name}.mm2s", "mm2s", length_bits, word_bytes)
        self.sendchannel.start()
        self.recvchannel = None
        if has_s2mm:
            self.recvchannel = EmuDmaChannel(board, f"{name}.s2mm", "s2mm", length_bits, word_bytes)
            self.recvchannel.start()


class RegisterMap:
    """``ip.register_map.NAME = value`` by name, as PYNQ generates it from the .hwh."""

    def __init__(self, ip: "EmuAccelerator"):
        object.__setattr__(self, "_ip", ip)

    def __setattr__(self, name: str, value: int) -> None:
        self._ip.write(self._ip.offsets[name], int(value))

    def __getattr__(self, name: str) -> int:
        if name not in self._ip.offsets:
            raise AttributeError(f"the accelerator has no register {name!r}")
        return self._ip.read(self._ip.offsets[name])


class EmuAccelerator:
    """The accelerator IP's AXI-Lite side, decoded like the HLS-generated control interface."""

    def __init__(self, board: "EmulatedBoard", config):
        self.board = board
        self.config = config
        self.offsets = dict(config.register_offsets())
        self.names = {v: k for k, v in self.offsets.items()}
        self.regs = {name: 0 for name in self.offsets}
        self.ctrl = AP_IDLE
        self.register_map = RegisterMap(self)
        self.calls = 0
        self.counts: list[dict[str, int]] = []

    def write(self, offset: int, value: int) -> None:
        self.board.log.append(("write", offset, value))
        if offset == 0:
            if value & AP_START:
                self.ctrl = (self.ctrl & ~(AP_IDLE | AP_DONE)) | AP_START
            return
        name = self.names.get(offset)
        if name is None:
            raise ValueError(f"write to unmapped accelerator register offset {offset:#x}")
        bits = self.config.register_fields()[name]
        self.regs[name] = value & ((1 << bits) - 1)

    def read(self, offset: int) -> int:
        if offset == 0:
            self.board.run_if_ready()
            value = self.ctrl
            self.ctrl &= ~AP_DONE  # ap_done clears on read (COR), as in the HLS control interface
            return value
        name = self.names[offset]
        value = self.regs[name]
        corrupt = self.board.faults.register_corrupt.get(name)
        return value ^ corrupt if corrupt else value

    def signed(self, name: str) -> int:
        bits = self.config.register_fields()[name]
        value = self.regs[name]
        return value - (1 << bits) if name == "yolo_shift" and value >> (bits - 1) else value


class EmulatedBoard:
    """A Zynq board with the accelerator overlay, emulated. See the module docstring."""

    name = "emu"

    def __init__(self, config, length_bits: int = 26, accel=None):
        from zynqyolo.hls.csim import CsimAccelerator

        self.config = config
        self.faults = Faults()
        self.log: list[tuple] = []
        self._next_address = 0x1000_0000
        word_bytes = config.bus_bits // 8
        self.dma0 = EmuDma(self, "dma0", length_bits, word_bytes)
        self.dma1 = EmuDma(self, "dma1", length_bits, word_bytes, has_s2mm=False)
        self.accel = EmuAccelerator(self, config)
        self.kernels = accel if accel is not None else CsimAccelerator(config)
        self.streams: dict[str, list[np.ndarray]] = {"dma0.mm2s": [], "dma1.mm2s": []}
        self.kernel_s = 0.0  # wall time spent inside the simulated kernels (not host work)

    def allocate(self, nbytes: int, cacheable: bool = True) -> EmuBuffer:
        buf = np.zeros(nbytes, dtype=np.uint8).view(EmuBuffer)
        buf.physical_address = self._next_address
        buf.board = self
        buf.cacheable = cacheable
        self._next_address += (nbytes + 0xFFF) // 0x1000 * 0x1000
        return buf

    def push(self, channel: str, words: np.ndarray) -> None:
        self.streams[channel].append(words)

    def fire(self, kind: str, key: str) -> bool:
        table = getattr(self.faults, kind)
        if key not in table:
            return False
        table[key] -= 1
        if table[key] < 0:
            del table[key]
            return True
        return False

    def run_if_ready(self) -> None:
        """Run the started call once its output channel is armed (the IP would be streaming by then)."""
        recv = self.dma0.recvchannel
        if not self.accel.ctrl & AP_START or recv._pending is None or recv._hung:
            return
        regs = {name: self.accel.signed(name) for name in self.accel.regs}
        take = {k: (np.concatenate(v) if v else np.zeros(0, np.uint64)) for k, v in self.streams.items()}
        self.streams = {k: [] for k in self.streams}
        start = time.perf_counter()
        result = self.kernels.call(regs, take["dma0.mm2s"], take["dma1.mm2s"])
        self.kernel_s += time.perf_counter() - start
        self.accel.calls += 1
        self.accel.counts.append(dict(result.counts))
        recv.complete(result.out_words)
        self.accel.ctrl = (self.accel.ctrl & ~AP_START) | AP_DONE | AP_IDLE

    def reset(self) -> None:
        """What the driver does after a fault: reset the DMAs, drop stream contents, idle the IP."""
        for ch in (self.dma0.sendchannel, self.dma0.recvchannel, self.dma1.sendchannel):
            ch.reset()
        self.streams = {k: [] for k in self.streams}
        self.accel.ctrl = AP_IDLE
