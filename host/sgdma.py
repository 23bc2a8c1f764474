"""AXI DMA in scatter-gather mode: the register and descriptor facts and a plan's descriptor ring. The only module that knows the AXI DMA's registers and descriptors
(Xilinx PG021, AXI DMA v7.1, scatter-gather mode, 32-bit addresses, no status/control stream).

Registers (per DMA; the MM2S channel at 0x00, the S2MM channel at 0x30): DMACR +0x00 (RS bit 0,
Reset bit 2), DMASR +0x04 (Halted 0, Idle 1, SGIncld 3, DMAIntErr 4, DMASlvErr 5, DMADecErr 6,
SGIntErr 8, SGSlvErr 9, SGDecErr 10, IOC_Irq 12, Dly_Irq 13, Err_Irq 14), CURDESC +0x08 (writable
only while halted), TAILDESC +0x10 (writing it while running makes the engine process descriptors
up to and including that one, then set Idle; written while halted it does nothing).

Descriptors are 0x40 bytes, 64-byte aligned: NXTDESC 0x00, BUFFER_ADDRESS 0x08 (their MSB words at
0x04 and 0x0C stay 0), CONTROL 0x18 (bits 25:0 buffer length, bit 27 SOF, bit 26 EOF), STATUS 0x1C
(bits 25:0 bytes transferred, 26 RXEOF and 27 RXSOF on S2MM, 28 DMAIntErr, 29 DMASlvErr,
30 DMADecErr, 31 Cmplt). A descriptor fetched with Cmplt already set is a stale one: SGIntErr.

``DescriptorRing`` is built once per plan: for each channel ("fmap_in" = dma0 MM2S, "params" = dma1
MM2S, "fmap_out" = dma0 S2MM) one chain holding every transfer of that channel for the whole frame,
in plan order, one packet per transfer (SOF|EOF), the last descriptor linking back to the first. It
lives in one non-cacheable DMA buffer and records, per call and channel, the index of the call's
last descriptor (its tail), or None. Per frame the host clears every STATUS word (one numpy
assignment), issues a memory barrier (the board's ``barrier()``: on ARM a DSB, so the cleared words
are in DDR before any TAILDESC lets a DMA fetch the descriptors; non-cacheable stores can still
wait in the CPU's write buffer), restarts each used channel at its chain's first descriptor and
moves the parameter and output channels' TAILDESC to their chains' last descriptors (``frame_tail``:
the IP reads only its own call's parameter words, and the S2MM engine only writes what the IP sends,
so both chains can be armed for the whole frame at once); per call it writes the input channel's
TAILDESC (the input is what the previous call wrote). ``packet_problem`` checks that an output
descriptor holds exactly its call's packet (RXSOF, RXEOF, the byte count in STATUS).
``dse.mmio.frame_mmio_accesses`` counts the resulting MMIO accesses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from zynqyolo.dse.plan import Channel
from zynqyolo.errors import AcceleratorError

if TYPE_CHECKING:
    from zynqyolo.dse.plan import Plan, Transfer

# -- registers ---------------------------------------------------------------------------------------

MM2S, S2MM = 0x00, 0x30  # channel register blocks
DMACR, DMASR, CURDESC, CURDESC_MSB, TAILDESC, TAILDESC_MSB = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14

DMACR_RS = 1 << 0
DMACR_RESET = 1 << 2
DMACR_DEFAULT = 0x0001_0002  # IRQThreshold = 1, bit 1 reserved (reads 1)

SR_HALTED = 1 << 0
SR_IDLE = 1 << 1
SR_SG_INCLD = 1 << 3
SR_DMA_INT_ERR = 1 << 4
SR_DMA_SLV_ERR = 1 << 5
SR_DMA_DEC_ERR = 1 << 6
SR_SG_INT_ERR = 1 << 8
SR_SG_SLV_ERR = 1 << 9
SR_SG_DEC_ERR = 1 << 10
SR_IOC_IRQ = 1 << 12
SR_DLY_IRQ = 1 << 13
SR_ERR_IRQ = 1 << 14
SR_IRQS = SR_IOC_IRQ | SR_DLY_IRQ | SR_ERR_IRQ  # write 1 to clear
SR_ERROR_NAMES = {SR_DMA_INT_ERR: "DMAIntErr", SR_DMA_SLV_ERR: "DMASlvErr", SR_DMA_DEC_ERR: "DMADecErr",
                  SR_SG_INT_ERR: "SGIntErr", SR_SG_SLV_ERR: "SGSlvErr", SR_SG_DEC_ERR: "SGDecErr"}
SR_ERRORS = sum(SR_ERROR_NAMES)

# -- descriptors --------------------------------------------------------------------------------------

DESC_BYTES = 0x40  # and the alignment of every descriptor
DESC_WORDS = DESC_BYTES // 4
NXTDESC, NXTDESC_MSB, BUFFER_ADDRESS, BUFFER_ADDRESS_MSB, CONTROL, STATUS = 0x00, 0x04, 0x08, 0x0C, 0x18, 0x1C
LENGTH_MASK = (1 << 26) - 1  # CONTROL buffer length / STATUS transferred bytes, bits 25:0
CTRL_EOF = 1 << 26  # TXEOF (MM2S); on S2MM the IP ignores it outside micro mode
CTRL_SOF = 1 << 27  # TXSOF
ST_RXEOF = 1 << 26
ST_RXSOF = 1 << 27
ST_DMA_INT_ERR = 1 << 28
ST_DMA_SLV_ERR = 1 << 29
ST_DMA_DEC_ERR = 1 << 30
ST_CMPLT = 1 << 31
ST_ERRORS = ST_DMA_INT_ERR | ST_DMA_SLV_ERR | ST_DMA_DEC_ERR

ADDRESS_LIMIT = 1 << 32  # the DMAs are built with 32-bit addresses (c_addr_width, the default)


@dataclass(frozen=True)
class ChannelSpec:
    """One DMA channel the plan uses: which DMA (a board attribute) and which register block."""

    name: Channel
    dma: str  # "dma0" or "dma1"
    base: int  # MM2S or S2MM

    @property
    def label(self) -> str:
        return f"{self.dma} {'MM2S' if self.base == MM2S else 'S2MM'}"


CHANNELS = (ChannelSpec(Channel.FMAP_IN, "dma0", MM2S), ChannelSpec(Channel.PARAMS, "dma1", MM2S),
            ChannelSpec(Channel.FMAP_OUT, "dma0", S2MM))
CHANNEL = {spec.name: spec for spec in CHANNELS}


def describe_dmasr(value: int) -> str:
    """``0x00010021 (halted, DMASlvErr)``: a DMASR value and what it says."""
    flags = [name for bit, name in ((SR_HALTED, "halted"), (SR_IDLE, "idle")) if value & bit]
    flags += [name for bit, name in SR_ERROR_NAMES.items() if value & bit]
    return f"{value:#010x} ({', '.join(flags) or 'running'})"


def error_names(value: int) -> str:
    return "+".join(name for bit, name in SR_ERROR_NAMES.items() if value & bit)


# -- the descriptor ring of a plan ---------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What one descriptor of the ring carries out."""

    channel: str
    call: int
    transfer: "Transfer"
    address: int  # physical address of the data


class DescriptorRing:
    """Every DMA transfer of a plan's frame as scatter-gather descriptors, built once (module docstring).

    ``buffers`` maps the plan's buffer names to DMA buffers (``physical_address``, ``nbytes``);
    ``allocate(nbytes, cacheable)`` gives the descriptor memory; ``length_bits`` is the DMAs'
    buffer length register width. A transfer the DMAs cannot carry out (too long, not in whole bus
    words, outside its buffer, beyond 32-bit addresses) is an ``AcceleratorError`` naming the call,
    the channel and the transfer, raised before anything is written to the board."""

    def __init__(self, plan: "Plan", buffers: dict, allocate: Callable, length_bits: int):
        word = plan.config.bus_bits // 8
        limit = (1 << length_bits) - 1
        chains: dict[str, list[Entry]] = {spec.name: [] for spec in CHANNELS}
        for call in plan.calls:
            for t in call.transfers:
                if t.channel not in chains:
                    raise AcceleratorError(f"call {call.index}: unknown DMA channel {t.channel!r}")
                buf = buffers[t.buffer]
                address = int(buf.physical_address) + t.offset
                why = None
                if t.nbytes <= 0:
                    why = "a zero-length transfer is a DMA internal error"
                elif t.nbytes > limit:
                    why = (f"it exceeds the {length_bits}-bit DMA buffer length register (at most {limit:,} bytes); "
                           "rebuild the bitstream with a wider length register, or make smaller calls")
                elif address % word or t.nbytes % word:
                    why = (f"it is not in whole {word}-byte bus words; the DMAs are built without the "
                           "data-realignment engine")
                elif t.offset < 0 or t.offset + t.nbytes > buf.nbytes:
                    why = f"it lies outside the {buf.nbytes}-byte {t.buffer} buffer"
                elif address + t.nbytes > ADDRESS_LIMIT:
                    why = "it lies above 4 GiB; the DMAs are built with 32-bit addresses"
                if why:
                    raise AcceleratorError(
                        f"call {call.index} (layers {', '.join(map(str, call.layers))}): the {t.channel} "
                        f"({CHANNEL[t.channel].label}) transfer of {t.nbytes:,} bytes at {t.buffer}+{t.offset:#x} "
                        f"cannot be a DMA descriptor: {why}")
                chains[t.channel].append(Entry(t.channel, call.index, t, address))

        self.entries: list[Entry] = [e for spec in CHANNELS for e in chains[spec.name]]
        n = len(self.entries)
        self.memory = allocate(max(n, 1) * DESC_BYTES, cacheable=False)
        self.base = int(self.memory.physical_address)
        if self.base % DESC_BYTES or self.base + n * DESC_BYTES > ADDRESS_LIMIT:
            raise AcceleratorError(f"the descriptor buffer at {self.base:#x} is not 64-byte aligned below 4 GiB")
        self.words = np.asarray(self.memory)[:n * DESC_BYTES].view("<u4").reshape(n, DESC_WORDS)

        self.first: dict[str, int | None] = {}
        self.count: dict[str, int] = {}
        tails: list[dict[str, int | None]] = [dict.fromkeys(CHANNEL) for _ in plan.calls]
        index = 0
        for spec in CHANNELS:
            chain = chains[spec.name]
            self.first[spec.name] = index if chain else None
            self.count[spec.name] = len(chain)
            for k, entry in enumerate(chain):
                i = index + k
                nxt = index + (k + 1) % len(chain)  # the last descriptor links back to the first
                self.words[i, NXTDESC // 4] = self.address(nxt)
                self.words[i, BUFFER_ADDRESS // 4] = entry.address
                self.words[i, CONTROL // 4] = entry.transfer.nbytes | CTRL_SOF | CTRL_EOF
                tails[entry.call][spec.name] = i  # plan order: the call's last one wins
            index += len(chain)
        self.tails = tuple(tails)

    def __len__(self) -> int:
        return len(self.entries)

    def frame_tail(self, channel: str) -> int | None:
        """The last descriptor of ``channel``'s chain (the frame's last transfer on it), or None."""
        first = self.first[channel]
        return None if first is None else first + self.count[channel] - 1

    def address(self, index: int) -> int:
        return self.base + index * DESC_BYTES

    def index_of(self, address: int) -> int | None:
        offset = address - self.base
        if offset < 0 or offset % DESC_BYTES or offset // DESC_BYTES >= len(self.entries):
            return None
        return offset // DESC_BYTES

    def clear_status(self) -> None:
        """Zero every STATUS word (Cmplt, byte count, errors) so the chains can run again."""
        self.words[:, STATUS // 4] = 0

    def status(self, index: int) -> int:
        return int(self.words[index, STATUS // 4])

    def completed(self, index: int) -> bool:
        return bool(self.words[index, STATUS // 4] & ST_CMPLT)

    def packet_problem(self, index: int) -> str | None:
        """What is wrong with the output packet of completed S2MM descriptor ``index`` (one packet per
        descriptor: it must start and end there, RXSOF and RXEOF, and fill exactly the planned
        bytes), or None."""
        status, want = self.status(index), self.entries[index].transfer.nbytes
        got = status & LENGTH_MASK
        if not status & ST_RXEOF:
            return (f"it did not end in {self.describe(index)}: longer than the planned {want:,} bytes, it ran on "
                    "into the next descriptor")
        if not status & ST_RXSOF:
            return f"{self.describe(index)} holds the end of an earlier packet, not the start of its own"
        if got != want:
            return f"it ended (TLAST) after {got:,} of the planned {want:,} bytes, in {self.describe(index)}"
        return None

    def describe(self, index: int | None) -> str:
        if index is None:
            return "a descriptor outside the ring"
        e = self.entries[index]
        return (f"descriptor {index} ({e.transfer.buffer}+{e.transfer.offset:#x}, {e.transfer.nbytes:,} bytes, "
                f"call {e.call}; STATUS {self.status(index):#010x})")


class SgChannel:
    """The host's handle on one channel: its register block in a DMA's register space (any object
    with ``read(offset)``/``write(offset, value)``: ``pynq.MMIO``, a ``DefaultIP``, the emulated DMA)."""

    def __init__(self, spec: ChannelSpec, regs):
        self.spec = spec
        self.regs = regs

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        return self.spec.label

    def dmasr(self) -> int:
        return int(self.regs.read(self.spec.base + DMASR))

    def curdesc(self) -> int:
        return int(self.regs.read(self.spec.base + CURDESC))

    def stop(self) -> None:
        self.regs.write(self.spec.base + DMACR, 0)

    def start(self, first_descriptor: int) -> None:
        """CURDESC (the channel must be halted), then RS."""
        self.regs.write(self.spec.base + CURDESC, first_descriptor)
        self.regs.write(self.spec.base + DMACR, DMACR_RS)

    def tail(self, descriptor: int) -> None:
        self.regs.write(self.spec.base + TAILDESC, descriptor)


def reset_dma(regs, name: str, timeout_s: float = 1.0) -> None:
    """Soft-reset a whole AXI DMA (DMACR.Reset resets both channels) and wait for the bit to clear;
    the channels are left halted with every register at its default."""
    regs.write(MM2S + DMACR, DMACR_RESET)
    deadline = time.monotonic() + timeout_s
    while regs.read(MM2S + DMACR) & DMACR_RESET:
        if time.monotonic() > deadline:
            raise AcceleratorError(f"DMA {name}: the soft reset (DMACR.Reset) did not complete within {timeout_s:g} s")
        time.sleep(0)
