"""The emulated board: the objects the driver uses on a PYNQ board, without the board.

It offers what the PYNQ board offers the driver, with the semantics of the real IP:

- ``allocate(nbytes, cacheable)``: DMA-able buffers with physical addresses (a fake contiguous
  pool, 4 KiB aligned); ``flush()``/``invalidate()`` of a cacheable buffer are recorded so tests
  can check cache traffic, and are no-ops on a non-cacheable one, as with ``pynq.allocate``. The
  board resolves a physical address to the buffer holding it, as the DMAs' AXI masters would;
- the accelerator: an AXI-Lite register file decoded like the HLS-generated IP
  (``ap_ctrl`` at 0x00, arguments from 0x10 every 8 bytes, ``HwConfig.register_offsets``),
  ``read``/``write`` of one register, ``write_registers``/``read_registers`` of a block of argument
  registers in one access (what the PYNQ board does with one numpy store into, or load from, the
  mapped registers), ``register_map`` by name, ``ap_start``/``ap_done``/``ap_idle`` bits;
- two AXI DMAs in scatter-gather mode, at register level (``read``/``write`` of their register
  space, ``host.sgdma`` has the offsets and bits), with PG021's rules: DMACR.RS starts and stops
  a channel (Halted follows at once unless a descriptor is in flight), DMACR.Reset resets the
  whole DMA; CURDESC is writable only while halted; TAILDESC written while running makes the
  channel fetch and process descriptors from the current one up to and including the tail, then
  set Idle (a later TAILDESC resumes after the previous tail); written while halted it does
  nothing. A descriptor fetched with Cmplt set is stale (SGIntErr); a descriptor address outside
  every buffer is SGDecErr, a data address outside every buffer DMADecErr; a zero length, or an
  address or length not in whole bus words (no data-realignment engine), DMAIntErr. Any error
  latches in DMASR (until a reset), clears RS and halts the channel. Each processed descriptor
  gets its STATUS written back (Cmplt and the bytes moved; RXSOF|RXEOF on S2MM). A
  memory-to-stream descriptor pushes its bytes on the stream at once (the emulated stream FIFOs
  are unbounded, as with a deep enough FIFO); a stream-to-memory descriptor is armed and
  completed by the IP's output packet (ending on TLAST), which the engine writes as PG021's S2MM
  does: into the armed descriptor's buffer and, while the packet is longer, on into the next
  descriptors of the chain, each completed with the bytes it took (RXSOF on the packet's first,
  RXEOF on the one it ends in); a packet still unfinished at the tail stalls the stream (the IP
  is wedged). A slave error on S2MM comes with the packet's writes, after the IP has sent it.

The accelerator runs every hardware call through the C-simulated kernels when the IP has been
started, the output channel has a descriptor armed and its input streams hold the words the call's
registers make it read (the kernels' ``call_words``): it takes exactly those, and what follows
stays queued for the next calls, as in the IP's stream FIFOs. A memory-to-stream channel stopped by
a fault delivers nothing more: the call that needs the missing words never runs and the IP is
wedged, while the calls before it complete. The call runs when the host next reads the output
channel's DMASR or ap_ctrl.

- the reset path (``host.reset``): an AXI GPIO (``reset_gpio``) whose bit 0 holds the accelerator
  and both DMAs in reset (``hardware_reset``), as the block design's proc_sys_reset does.

``log`` records, in order: every MMIO access the host makes (``("accel"|"dma0"|"dma1"|"reset_gpio",
"read"|"write", offset, value)``; a register block is one ``("accel", "write_block"|"read_block",
offsets, words)``), every descriptor a DMA carries out (``("dma0.mm2s"|"dma1.mm2s"|
"dma0.s2mm", data address, bytes)``; S2MM when the descriptor is armed), cache maintenance
(``("flush"|"invalidate", address, bytes)``) and the host's memory barriers (``("barrier",)``).

Faults can be injected (``faults``) to exercise the driver's error paths: a DMA that reports
an error, a descriptor that never completes, a register that reads back a wrong value, an output
packet of the wrong length. A DMA fault in the middle of a frame wedges the IP, as on the
hardware (at once on the output channel, at the first call that needs the missing words on an
input channel): it waits on a stream that will never deliver or drain and never reports ap_done
(a later ap_start finds it busy), and what is in its stream FIFOs stays there, whatever the DMAs
do, until the hardware reset (``reset``: the GPIO pulse). A soft reset of the DMAs alone
(``soft_reset_dmas``) leaves it stuck. (The FIFOs being unbounded, the memory-to-stream descriptors of later calls still complete; on a board they would
stall once the FIFOs are full.)
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

import numpy as np

from zynqyolo.dse.registers import AP_CTRL, AP_DONE, AP_IDLE, AP_START, decode_register
from zynqyolo.hls.manifest import RESET_GPIO_MASK

from . import reset as hw_reset
from . import sgdma
from .sgdma import (CURDESC, CURDESC_MSB, DMACR, DMACR_DEFAULT, DMACR_RESET, DMACR_RS, DMASR, MM2S, S2MM, TAILDESC,
                    TAILDESC_MSB)


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
    """Faults to inject. A count n >= 0 lets n descriptors (or reads) pass, fires on the next one,
    then the fault is gone; a negative count fires on every one until it is removed."""

    dma_error: dict[str, int] = field(default_factory=dict)  # channel -> descriptors until a slave error
    dma_hang: dict[str, int] = field(default_factory=dict)  # channel -> descriptors until one never ends
    register_corrupt: dict[str, int] = field(default_factory=dict)  # register -> value XOR-ed on readback
    # "short" | "long" -> output packets until the IP sends one a bus word shorter (its TLAST early) or
    # longer than its call's: what a bitstream that does not follow the plan's registers would do
    out_packet: dict[str, int] = field(default_factory=dict)


@dataclass
class _Descriptor:
    address: int
    next: int
    buffer_address: int
    length: int
    status: int


class EmuSgChannel:
    """One AXI DMA channel (MM2S or S2MM) in scatter-gather mode (see the module docstring)."""

    def __init__(self, board: "EmulatedBoard", name: str, direction: str, length_bits: int, word_bytes: int):
        self.board = board
        self.name = name  # "dma0.mm2s", ...
        self.direction = direction  # "mm2s" or "s2mm"
        self.length_bits = length_bits
        self.word_bytes = word_bytes
        self.reset()

    def reset(self) -> None:
        self.dmacr = DMACR_DEFAULT
        self.halted = True
        self.idle = False
        self.errors = 0  # latched DMASR error bits
        self.irqs = 0
        self.curdesc = 0
        self.curdesc_msb = 0
        self.taildesc = 0
        self.taildesc_msb = 0
        self._next: int | None = None  # the descriptor to fetch next (None: CURDESC)
        self.pending: _Descriptor | None = None  # an armed S2MM descriptor waiting for the IP's packet
        self.hung = False  # a descriptor that never completes (injected)

    # -- registers --------------------------------------------------------------------------------

    @property
    def dmasr(self) -> int:
        value = sgdma.SR_SG_INCLD | self.errors | self.irqs
        if self.halted:
            value |= sgdma.SR_HALTED
        elif self.idle:
            value |= sgdma.SR_IDLE
        return value

    @property
    def in_flight(self) -> bool:
        return self.pending is not None or self.hung

    def read(self, reg: int) -> int:
        if reg == DMACR:
            return self.dmacr
        if reg == DMASR:
            return self.dmasr
        if reg == CURDESC:
            return self.curdesc
        if reg == CURDESC_MSB:
            return self.curdesc_msb
        if reg == TAILDESC:
            return self.taildesc
        if reg == TAILDESC_MSB:
            return self.taildesc_msb
        raise ValueError(f"{self.name}: no register at channel offset {reg:#x} in scatter-gather mode")

    def write(self, reg: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if reg == DMACR:
            self._write_dmacr(value)
        elif reg == DMASR:
            self.irqs &= ~(value & sgdma.SR_IRQS)  # interrupt bits are write-1-to-clear; the rest read-only
        elif reg in (CURDESC, CURDESC_MSB):
            if not (self.halted and not self.dmacr & DMACR_RS):
                return  # read-only unless halted (PG021): the write is ignored
            if reg == CURDESC:
                self.curdesc = value & ~0x3F  # bits 5:0 reserved
                self._next = None
            else:
                self.curdesc_msb = value
        elif reg == TAILDESC_MSB:
            self.taildesc_msb = value
        elif reg == TAILDESC:
            self.taildesc = value & ~0x3F
            if self.halted or not self.dmacr & DMACR_RS:
                return  # no effect while halted
            self.idle = False
            self._run()
        else:
            raise ValueError(f"{self.name}: no register at channel offset {reg:#x} in scatter-gather mode")

    def _write_dmacr(self, value: int) -> None:
        self.dmacr = (value & ~DMACR_RESET) | 0x2  # bit 1 reserved, reads 1
        if value & DMACR_RS:
            if self.halted and not self.errors:  # a channel halted by an error needs a reset first
                self.halted = False
                self.idle = False
                self._next = None  # fetch from CURDESC
        elif not self.in_flight:
            self.halted = True
            self.idle = False

    # -- the engine ---------------------------------------------------------------------------------

    def _fail(self, dma_bits: int, descriptor: _Descriptor | None = None, status_bits: int = 0) -> None:
        """An error: latch it, write it into the descriptor's STATUS (DMA errors), clear RS, halt."""
        self.errors |= dma_bits
        self.irqs |= sgdma.SR_ERR_IRQ
        self._stop_data(f"{self.name} {sgdma.error_names(dma_bits)}")
        if descriptor is not None and status_bits:
            self.board.write_word(descriptor.address + sgdma.STATUS, descriptor.status | status_bits)
        self.dmacr &= ~DMACR_RS
        self.halted = True
        self.idle = False
        self.pending = None

    def _fetch(self, address: int) -> _Descriptor | None:
        words = self.board.read_words(address, sgdma.DESC_BYTES // 4)
        if words is None:
            self._fail(sgdma.SR_SG_DEC_ERR)
            return None
        desc = _Descriptor(address, (int(words[1]) << 32 | int(words[0])) & ~0x3F, int(words[3]) << 32 | int(words[2]),
                           int(words[6]) & ((1 << self.length_bits) - 1), int(words[7]))
        if desc.status & sgdma.ST_CMPLT:
            self._fail(sgdma.SR_SG_INT_ERR)  # a stale descriptor: halts without updating it
            return None
        return desc

    def _run(self) -> None:
        """Process descriptors until the tail, an error, or one left in flight."""
        tail = self.taildesc_msb << 32 | self.taildesc
        while not self.halted and not self.in_flight and not self.idle:
            address = (self.curdesc_msb << 32 | self.curdesc) if self._next is None else self._next
            desc = self._fetch(address)
            if desc is None:
                return
            self.curdesc, self.curdesc_msb = address & 0xFFFFFFFF, address >> 32
            self._next = desc.next
            if not self._execute(desc):
                return
            if address == tail:
                self.idle = True

    def _execute(self, desc: _Descriptor) -> bool:
        """Carry out one descriptor; False if it failed or is left in flight."""
        if desc.length == 0 or desc.buffer_address % self.word_bytes or desc.length % self.word_bytes:
            self._fail(sgdma.SR_DMA_INT_ERR, desc, sgdma.ST_DMA_INT_ERR)
            return False
        where = self.board.resolve(desc.buffer_address, desc.length)
        if where is None:
            self._fail(sgdma.SR_DMA_DEC_ERR, desc, sgdma.ST_DMA_DEC_ERR)
            return False
        self.board.log.append((self.name, desc.buffer_address, desc.length))
        if self.direction == "mm2s" and self.board.fire("dma_error", self.name):  # S2MM's: at its writes
            self._fail(sgdma.SR_DMA_SLV_ERR, desc, sgdma.ST_DMA_SLV_ERR)
            return False
        if self.board.fire("dma_hang", self.name):
            self.hung = True
            self._stop_data(f"{self.name} descriptor never completed")
            return False
        buffer, start = where
        if self.direction == "mm2s":
            data = np.asarray(buffer[start:start + desc.length]).tobytes()
            self.board.push(self.name, np.frombuffer(data, dtype=np.uint64))
            self._complete(desc, desc.length)
            return True
        self.pending = desc
        return False

    def _stop_data(self, why: str) -> None:
        """A fault ends this channel's data: the output can no longer drain (the IP is wedged now); an
        input stream delivers nothing more (the IP is wedged by the first call that needs more)."""
        if self.direction == "s2mm":
            self.board.wedge(why)
        else:
            self.board.stop_stream(self.name, why)

    def _complete(self, desc: _Descriptor, nbytes: int, flags: int = 0) -> None:
        self.board.write_word(desc.address + sgdma.STATUS, sgdma.ST_CMPLT | flags | nbytes)
        self.irqs |= sgdma.SR_IOC_IRQ

    def receive(self, words: np.ndarray) -> None:
        """The IP's output packet (ending on TLAST), from the armed stream-to-memory descriptor on
        through the chain while it is longer (the module docstring)."""
        raw = words.view(np.uint8)
        first = True
        while True:
            desc, self.pending = self.pending, None
            if self.board.fire("dma_error", self.name):  # a slave error on the packet's writes
                self._fail(sgdma.SR_DMA_SLV_ERR, desc, sgdma.ST_DMA_SLV_ERR)
                return
            taken = min(raw.size, desc.length)
            buffer, start = self.board.resolve(desc.buffer_address, desc.length)
            buffer[start:start + taken] = raw[:taken]
            raw = raw[taken:]
            self._complete(desc, taken, (sgdma.ST_RXSOF if first else 0) | (0 if raw.size else sgdma.ST_RXEOF))
            first = False
            if not self.dmacr & DMACR_RS:
                self.halted = True  # RS was cleared while the descriptor was in flight
            elif desc.address == (self.taildesc_msb << 32 | self.taildesc):
                self.idle = True
            else:
                self._run()  # the next descriptor, armed
            if not raw.size:
                return
            if self.pending is None:
                self.board.wedge(f"{self.name}: {raw.size} bytes of the output packet left past the armed descriptors")
                return


class EmuDma:
    """An AXI DMA IP in scatter-gather mode: its register space (``read``/``write``) and channels
    (``mm2s``, ``s2mm``: None when built without one)."""

    def __init__(self, board: "EmulatedBoard", name: str, length_bits: int, word_bytes: int, has_s2mm: bool = True):
        self.board = board
        self.name = name
        self.mm2s = EmuSgChannel(board, f"{name}.mm2s", "mm2s", length_bits, word_bytes)
        self.s2mm = EmuSgChannel(board, f"{name}.s2mm", "s2mm", length_bits, word_bytes) if has_s2mm else None

    def _channel(self, offset: int) -> tuple[EmuSgChannel, int]:
        base = S2MM if offset >= S2MM else MM2S
        channel = self.s2mm if base == S2MM else self.mm2s
        if channel is None or offset < 0 or offset - base >= S2MM:
            raise ValueError(f"{self.name}: no register at offset {offset:#x} (built without S2MM?)")
        return channel, offset - base

    def read(self, offset: int) -> int:
        channel, reg = self._channel(offset)
        if channel.direction == "s2mm" and reg == DMASR:
            self.board.run_if_ready()
        value = channel.read(reg)
        self.board.log.append((self.name, "read", offset, value))
        return value

    def write(self, offset: int, value: int) -> None:
        self.board.log.append((self.name, "write", offset, value))
        channel, reg = self._channel(offset)
        if reg == DMACR and value & DMACR_RESET:
            self.reset()  # the soft reset resets the whole IP, both channels
            return
        channel.write(reg, value)

    def reset(self) -> None:
        for channel in (self.mm2s, self.s2mm):
            if channel is not None:
                channel.reset()

    def channels(self):
        return [c for c in (self.mm2s, self.s2mm) if c is not None]


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
        self.board.log.append(("accel", "write", offset, value))
        if offset == AP_CTRL:
            if value & AP_START:
                self.ctrl = (self.ctrl & ~(AP_IDLE | AP_DONE)) | AP_START
            return
        name = self.names.get(offset)
        if name is None:
            raise ValueError(f"write to unmapped accelerator register offset {offset:#x}")
        self._store(name, value)

    def read(self, offset: int) -> int:
        if offset == AP_CTRL:
            self.board.run_if_ready()
            value = self.ctrl
            self.ctrl &= ~AP_DONE  # ap_done clears on read (COR), as in the HLS control interface
        else:
            value = self._load(self.names[offset])
        self.board.log.append(("accel", "read", offset, value))
        return value

    # -- argument registers as one block (the driver's vectorised access) ---------------------------

    def _store(self, name: str, value: int) -> None:
        bits = self.config.register_fields()[name]
        self.regs[name] = value & ((1 << bits) - 1)  # the field's bits; the rest of the word reads 0

    def _load(self, name: str) -> int:
        corrupt = self.board.faults.register_corrupt.get(name)
        return self.regs[name] ^ corrupt if corrupt else self.regs[name]

    def _block_names(self, offsets: tuple, what: str) -> list[str]:
        """The argument registers at ``offsets``, all checked before any is touched."""
        names = []
        for offset in offsets:
            integer = isinstance(offset, (int, np.integer)) and not isinstance(offset, bool)
            name = self.names.get(int(offset)) if integer else None
            if name is None:
                shown = f"{int(offset):#x}" if integer else repr(offset)
                raise ValueError(f"{what} at accelerator offset {shown}: not an argument register (those are "
                                 f"{min(self.names):#x}..{max(self.names):#x} every 8 bytes; ap_ctrl is not "
                                 "part of a block)")
            names.append(name)
        return names

    def write_registers(self, offsets, words) -> None:
        """One MMIO access: store ``words`` (32-bit) into the argument registers at ``offsets``, in
        order, each masked to its field as ``write`` does. Logged as one ``("accel", "write_block",
        offsets, words)`` entry. Every offset and word is checked before anything is stored."""
        offsets, words = tuple(offsets), tuple(int(w) for w in words)
        if len(offsets) != len(words):
            raise ValueError(f"register block write: {len(offsets)} offsets but {len(words)} words")
        names = self._block_names(offsets, "register block write")
        bad = [w for w in words if not 0 <= w <= 0xFFFFFFFF]
        if bad:
            raise ValueError(f"register block write: {bad[0]:#x} is not a 32-bit word")
        offsets = tuple(int(o) for o in offsets)
        self.board.log.append(("accel", "write_block", offsets, words))
        for name, word in zip(names, words):
            self._store(name, word)

    def read_registers(self, offsets) -> list[int]:
        """One MMIO access: the argument registers at ``offsets``, in order (with the injected
        ``register_corrupt`` faults, as ``read``). Logged as one ``("accel", "read_block", offsets,
        words)`` entry."""
        offsets = tuple(offsets)
        names = self._block_names(offsets, "register block read")
        words = [self._load(name) for name in names]
        self.board.log.append(("accel", "read_block", tuple(int(o) for o in offsets), tuple(words)))
        return words

    def signed(self, name: str) -> int:
        """The value the kernels see in register ``name`` (``decode_register`` of the bits held)."""
        return decode_register(self.config, name, self.regs[name])

    def hardware_reset(self) -> None:
        """ap_rst_n: every argument register to 0, the block idle."""
        self.regs = {name: 0 for name in self.offsets}
        self.ctrl = AP_IDLE


class EmuResetGpio:
    """The AXI GPIO of the reset path (``host.reset``): bit 0 of GPIO_DATA holds the accelerator and
    both DMAs in reset while set; everything else reads back what was written."""

    def __init__(self, board: "EmulatedBoard"):
        self.board = board
        self.data = 0
        self.tri = 0xFFFFFFFF  # the IP's default (all inputs) until written; the reset bit is an output

    def read(self, offset: int) -> int:
        if offset not in (hw_reset.GPIO_DATA, hw_reset.GPIO_TRI):
            raise ValueError(f"reset_gpio: no register at offset {offset:#x}")
        value = self.data if offset == hw_reset.GPIO_DATA else self.tri
        self.board.log.append(("reset_gpio", "read", offset, value))
        return value

    def write(self, offset: int, value: int) -> None:
        self.board.log.append(("reset_gpio", "write", offset, value))
        if offset == hw_reset.GPIO_TRI:
            self.tri = value & 0xFFFFFFFF
            return
        if offset != hw_reset.GPIO_DATA:
            raise ValueError(f"reset_gpio: no register at offset {offset:#x}")
        self.data = value & 0xFFFFFFFF
        if self.data & RESET_GPIO_MASK:
            self.board.hardware_reset()


class EmulatedBoard:
    """A Zynq board with the accelerator overlay, emulated. See the module docstring."""

    name = "emu"

    def __init__(self, config, length_bits: int = 26, accel=None):
        self.config = config
        self.faults = Faults()
        self.log: list[tuple] = []
        self._next_address = 0x1000_0000
        self._buffers: list[EmuBuffer] = []  # by physical address
        self.dma_length_bits = length_bits
        word_bytes = config.bus_bits // 8
        self.dma0 = EmuDma(self, "dma0", length_bits, word_bytes)
        self.dma1 = EmuDma(self, "dma1", length_bits, word_bytes, has_s2mm=False)
        self.accel = EmuAccelerator(self, config)
        if accel is None:
            from zynqyolo.hls.csim import CsimAccelerator

            accel = CsimAccelerator(config)
        self.kernels = accel
        self.streams: dict[str, list[np.ndarray]] = {"dma0.mm2s": [], "dma1.mm2s": []}
        self.stopped: dict[str, str] = {}  # input streams a fault has ended, and why
        self.kernel_s = 0.0  # wall time spent inside the simulated kernels (not host work)
        self.reset_gpio = EmuResetGpio(self)
        self.wedged: str | None = None  # why the IP's streams are wedged (a DMA fault), until a hardware reset

    # -- memory ----------------------------------------------------------------------------------------

    def allocate(self, nbytes: int, cacheable: bool = True) -> EmuBuffer:
        buf = np.zeros(nbytes, dtype=np.uint8).view(EmuBuffer)
        buf.physical_address = self._next_address
        buf.board = self
        buf.cacheable = cacheable
        self._next_address += (nbytes + 0xFFF) // 0x1000 * 0x1000
        self._buffers.append(buf)
        return buf

    def resolve(self, address: int, nbytes: int) -> tuple[EmuBuffer, int] | None:
        """(buffer, offset) holding ``nbytes`` from physical ``address``, or None (a decode error)."""
        i = bisect.bisect_right([b.physical_address for b in self._buffers], address) - 1
        if i < 0:
            return None
        buf = self._buffers[i]
        offset = address - buf.physical_address
        return (buf, offset) if offset + nbytes <= buf.nbytes else None

    def read_words(self, address: int, count: int) -> np.ndarray | None:
        where = self.resolve(address, 4 * count)
        if where is None:
            return None
        buf, offset = where
        return np.asarray(buf)[offset:offset + 4 * count].view("<u4").copy()

    def write_word(self, address: int, value: int) -> None:
        buf, offset = self.resolve(address, 4)
        np.asarray(buf)[offset:offset + 4].view("<u4")[0] = value & 0xFFFFFFFF

    # -- streams and the IP ----------------------------------------------------------------------------

    def push(self, channel: str, words: np.ndarray) -> None:
        self.streams[channel].append(words)

    def stop_stream(self, channel: str, why: str) -> None:
        self.stopped.setdefault(channel, why)

    def queued(self, channel: str) -> int:
        """Words waiting on an input stream."""
        return sum(a.size for a in self.streams[channel])

    def _take(self, channel: str, count: int) -> np.ndarray:
        """The first ``count`` (at most ``queued``) words of an input stream, taken off it."""
        queue, parts, left = self.streams[channel], [], count
        while left:  # whole transfers off the front; the last one split
            head = queue[0]
            if head.size > left:
                parts.append(head[:left])
                queue[0] = head[left:]
                break
            parts.append(queue.pop(0))
            left -= head.size
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)

    def fire(self, kind: str, key: str) -> bool:
        """Whether the fault ``kind`` fires now on ``key`` (``Faults``: counted down, or persistent)."""
        table = getattr(self.faults, kind)
        if key not in table:
            return False
        count = table[key]
        if count < 0:
            return True
        if count == 0:
            del table[key]
            return True
        table[key] = count - 1
        return False

    def run_if_ready(self) -> None:
        """Run the started call once the output channel has a descriptor armed and its input streams
        hold the words it reads (the module docstring)."""
        recv = self.dma0.s2mm
        if not self.accel.ctrl & AP_START or recv.pending is None or self.wedged is not None:
            return  # a wedged IP never finishes: ap_ctrl shows it started, never done, until a hardware reset
        regs = {name: self.accel.signed(name) for name in self.accel.regs}
        lengths = self.kernels.call_words(regs)
        need = {"dma0.mm2s": lengths.in_words, "dma1.mm2s": lengths.wts_words}
        for channel, count in need.items():
            if self.queued(channel) < count:
                if channel in self.stopped:  # the rest of the call's words will never come
                    self.wedge(self.stopped[channel])
                return  # the IP is still reading
        take = {channel: self._take(channel, count) for channel, count in need.items()}
        start = time.perf_counter()
        result = self.kernels.call(regs, take["dma0.mm2s"], take["dma1.mm2s"])
        self.kernel_s += time.perf_counter() - start
        self.accel.calls += 1
        self.accel.counts.append(dict(result.counts))
        out = result.out_words
        if self.fire("out_packet", "short"):
            out = out[:-1]
        elif self.fire("out_packet", "long"):
            out = np.append(out, out[-1:])
        recv.receive(out)
        self.accel.ctrl = (self.accel.ctrl & ~AP_START) | AP_DONE | AP_IDLE

    # -- faults and the reset path --------------------------------------------------------------------

    def wedge(self, why: str) -> None:
        """A DMA fault in the middle of a frame: the IP is left waiting on a stream that will not
        deliver (or drain). It never reports ap_done, and its FIFOs keep what they hold, until
        ``hardware_reset``; the DMAs' soft reset does not reach it."""
        if self.wedged is None:
            self.wedged = why

    @property
    def stuck(self) -> bool:
        """The IP has been started and cannot finish (what ap_ctrl shows: ap_start, never ap_done)."""
        return self.wedged is not None and bool(self.accel.ctrl & AP_START)

    def hardware_reset(self) -> None:
        """proc_sys_reset's peripheral_aresetn: the accelerator and both DMAs back to their reset state,
        the streams empty, nothing wedged."""
        self.dma0.reset()
        self.dma1.reset()
        self.accel.hardware_reset()
        self.streams = {k: [] for k in self.streams}
        self.stopped = {}
        self.wedged = None

    def soft_reset_dmas(self) -> None:
        """Only the DMAs' soft reset (DMACR.Reset), left halted: all a bitstream without the reset
        path allows. It does not unwedge the IP."""
        sgdma.reset_dma(self.dma0, "dma0")
        sgdma.reset_dma(self.dma1, "dma1")

    def reset(self) -> None:
        """What the driver does after a fault (the board seam): pulse the reset GPIO, as on PYNQ
        (``host.reset.pulse``); the DMAs come back halted, the IP idle with its registers cleared."""
        hw_reset.pulse(self.reset_gpio, {"dma0": self.dma0, "dma1": self.dma1})

    def barrier(self) -> None:
        """Order the CPU's stores to DMA memory before the next MMIO write (PYNQ: a DSB). Recorded in
        the log, so a test sees where the driver puts it."""
        self.log.append(("barrier",))
