"""The AXI DMA in scatter-gather mode: the emulated engine alone (PG021's rules at register level),
the descriptor ring built from a plan, the MMIO count formula, and the emulated accelerator's
register block (one access for many registers). No C simulation: the accelerator's kernels are a
stand-in that echoes a fixed packet."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.mmio import MmioCount, call_mmio, frame_mmio, frame_mmio_accesses
from zynqyolo.dse.plan import Transfer
from zynqyolo.dse.registers import AP_CTRL, AP_START, CallWords
from zynqyolo.errors import AcceleratorError
from zynqyolo.host import sgdma
from zynqyolo.host.emu import EmulatedBoard
from zynqyolo.host.sgdma import (CURDESC, DMACR, DMACR_RESET, DMACR_RS, DMASR, MM2S, S2MM, SR_DMA_DEC_ERR,
                                 SR_DMA_INT_ERR, SR_ERR_IRQ, SR_ERRORS, SR_HALTED, SR_IDLE, SR_IOC_IRQ, SR_SG_DEC_ERR,
                                 SR_SG_INT_ERR, ST_CMPLT, ST_DMA_DEC_ERR, ST_DMA_INT_ERR, ST_RXEOF, ST_RXSOF, TAILDESC)

CONFIG = HwConfig(p_oc=16, p_ic=8, tile_pixels=256)


class EchoKernels:
    """Stands in for the C-simulated kernels: every call reads nothing and outputs ``out_words``."""

    def __init__(self, out_words: int = 4):
        self.out = np.arange(1, out_words + 1, dtype=np.uint64)
        self.calls = []

    def call_words(self, regs):
        return CallWords(0, 0, self.out.size)

    def call(self, regs, in_words, wts_words):
        self.calls.append((in_words.copy(), wts_words.copy()))
        return types.SimpleNamespace(out_words=self.out, counts={})


def _board(out_words: int = 4, length_bits: int = 26):
    return EmulatedBoard(CONFIG, length_bits=length_bits, accel=EchoKernels(out_words))


def _chain(board, specs, cacheable=False):
    """Descriptors (buffer address, length, status) linked in order, the last back to the first."""
    mem = board.allocate(len(specs) * 64, cacheable=cacheable)
    words = np.asarray(mem).view("<u4").reshape(len(specs), 16)
    for i, (address, length, *status) in enumerate(specs):
        words[i, 0] = mem.physical_address + 64 * ((i + 1) % len(specs))
        words[i, 2] = address
        words[i, 6] = length | sgdma.CTRL_SOF | sgdma.CTRL_EOF
        words[i, 7] = status[0] if status else 0
    return mem, words


def _desc(mem, i):
    return mem.physical_address + 64 * i


def _start(dma, base, first):
    dma.write(base + CURDESC, first)
    dma.write(base + DMACR, DMACR_RS)


def _executed(board):
    return [e for e in board.log if e[0] in ("dma0.mm2s", "dma1.mm2s", "dma0.s2mm")]


def test_chain_runs_to_the_tail_and_resumes_after_it():
    board = _board()
    data = board.allocate(4096)
    data[:] = np.arange(4096) % 251
    mem, words = _chain(board, [(data.physical_address + 64 * i, 64) for i in range(5)])
    dma = board.dma0
    assert dma.read(MM2S + DMASR) & SR_HALTED and not dma.read(MM2S + DMASR) & SR_IDLE  # reset state
    _start(dma, MM2S, _desc(mem, 0))
    assert not dma.read(MM2S + DMASR) & SR_HALTED
    assert not _executed(board)  # nothing is fetched before a tail is written
    dma.write(MM2S + TAILDESC, _desc(mem, 2))
    assert _executed(board) == [("dma0.mm2s", data.physical_address + 64 * i, 64) for i in range(3)]
    assert dma.read(MM2S + DMASR) & SR_IDLE and dma.read(MM2S + CURDESC) == _desc(mem, 2)
    # STATUS written back: Cmplt and the bytes moved, only for what ran
    assert list(words[:, 7]) == [ST_CMPLT | 64] * 3 + [0, 0]
    pushed = np.concatenate(board.streams["dma0.mm2s"]).view(np.uint8)
    assert np.array_equal(pushed, data[:192])
    # a later tail resumes after the previous one
    dma.write(MM2S + TAILDESC, _desc(mem, 4))
    assert [e[1] for e in _executed(board)][3:] == [data.physical_address + 64 * 3, data.physical_address + 256]
    assert list(words[:, 7]) == [ST_CMPLT | 64] * 5
    assert dma.read(MM2S + DMASR) & SR_IOC_IRQ
    dma.write(MM2S + DMASR, SR_IOC_IRQ)  # interrupt bits are write-1-to-clear
    assert not dma.read(MM2S + DMASR) & SR_IOC_IRQ


def test_curdesc_is_writable_only_while_halted_and_taildesc_does_nothing_while_halted():
    board = _board()
    data = board.allocate(4096)
    mem, words = _chain(board, [(data.physical_address, 64), (data.physical_address + 64, 64)])
    dma = board.dma0
    dma.write(MM2S + TAILDESC, _desc(mem, 1))  # halted: no effect
    assert not _executed(board) and dma.read(MM2S + DMASR) & SR_HALTED
    _start(dma, MM2S, _desc(mem, 0))
    dma.write(MM2S + CURDESC, _desc(mem, 1))  # running: CURDESC is read-only, the write is ignored
    assert dma.read(MM2S + CURDESC) == _desc(mem, 0)
    dma.write(MM2S + TAILDESC, _desc(mem, 0))
    assert _executed(board) == [("dma0.mm2s", data.physical_address, 64)]
    # stop (halts at once: nothing in flight), then CURDESC takes a new start
    dma.write(MM2S + DMACR, 0)
    assert dma.read(MM2S + DMASR) & SR_HALTED
    words[:, 7] = 0
    _start(dma, MM2S, _desc(mem, 1))
    assert dma.read(MM2S + CURDESC) == _desc(mem, 1)
    dma.write(MM2S + TAILDESC, _desc(mem, 1))
    assert _executed(board)[-1] == ("dma0.mm2s", data.physical_address + 64, 64)


def test_a_completed_descriptor_fetched_again_is_an_sg_internal_error():
    board = _board()
    data = board.allocate(4096)
    mem, words = _chain(board, [(data.physical_address, 64), (data.physical_address + 64, 64)])
    dma = board.dma0
    _start(dma, MM2S, _desc(mem, 0))
    dma.write(MM2S + TAILDESC, _desc(mem, 1))
    dma.write(MM2S + DMACR, 0)
    _start(dma, MM2S, _desc(mem, 0))  # restarted without clearing the STATUS words
    dma.write(MM2S + TAILDESC, _desc(mem, 1))
    sr = dma.read(MM2S + DMASR)
    assert sr & SR_SG_INT_ERR and sr & SR_HALTED and sr & SR_ERR_IRQ and not sr & SR_IDLE
    assert not dma.read(MM2S + DMACR) & DMACR_RS  # the error clears RS
    assert len(_executed(board)) == 2 and list(words[:, 7]) == [ST_CMPLT | 64] * 2  # not updated
    # the error latches: RS does not restart the channel, a soft reset does
    words[:, 7] = 0
    _start(dma, MM2S, _desc(mem, 0))
    assert dma.read(MM2S + DMASR) & SR_HALTED
    dma.write(MM2S + DMACR, DMACR_RESET)
    assert dma.read(MM2S + DMACR) == sgdma.DMACR_DEFAULT and dma.read(MM2S + DMASR) == SR_HALTED | sgdma.SR_SG_INCLD
    _start(dma, MM2S, _desc(mem, 0))
    dma.write(MM2S + TAILDESC, _desc(mem, 1))
    assert dma.read(MM2S + DMASR) & SR_IDLE


@pytest.mark.parametrize("case, dmasr_bit, status_bit", [
    ("descriptor outside memory", SR_SG_DEC_ERR, 0),
    ("data outside memory", SR_DMA_DEC_ERR, ST_DMA_DEC_ERR),
    ("data past the end of its buffer", SR_DMA_DEC_ERR, ST_DMA_DEC_ERR),
    ("misaligned address", SR_DMA_INT_ERR, ST_DMA_INT_ERR),
    ("misaligned length", SR_DMA_INT_ERR, ST_DMA_INT_ERR),
    ("zero length", SR_DMA_INT_ERR, ST_DMA_INT_ERR),
])
def test_descriptor_errors_halt_the_channel(case, dmasr_bit, status_bit):
    board = _board()
    data = board.allocate(4096)
    spec = {"data outside memory": (0x0800_0000, 64), "data past the end of its buffer": (data.physical_address, 8192),
            "misaligned address": (data.physical_address + 4, 64), "misaligned length": (data.physical_address, 60),
            "zero length": (data.physical_address, 0)}.get(case, (data.physical_address, 64))
    mem, words = _chain(board, [(data.physical_address, 64), spec])
    dma = board.dma1
    _start(dma, MM2S, _desc(mem, 0))
    if case == "descriptor outside memory":
        words[0, 0] = 0x0900_0000  # the first descriptor links to nowhere
    dma.write(MM2S + TAILDESC, _desc(mem, 1))
    sr = dma.read(MM2S + DMASR)
    assert sr & dmasr_bit and sr & SR_HALTED and not sr & SR_IDLE
    assert sr & sgdma.SR_ERRORS == dmasr_bit  # only that error
    assert words[0, 7] == ST_CMPLT | 64  # the good one before it completed
    assert words[1, 7] == status_bit  # the failing one carries the DMA error (not Cmplt)
    assert len(_executed(board)) == 1  # the failing descriptor moved nothing


def test_stream_to_memory_descriptors_are_completed_by_the_ips_packet():
    board = _board(out_words=4)
    out = board.allocate(4096)
    mem, words = _chain(board, [(out.physical_address, 64), (out.physical_address + 64, 16),
                                (out.physical_address + 80, 64)])
    dma = board.dma0
    _start(dma, S2MM, _desc(mem, 0))
    dma.write(S2MM + TAILDESC, _desc(mem, 0))
    assert _executed(board) == [("dma0.s2mm", out.physical_address, 64)]  # armed
    assert not dma.read(S2MM + DMASR) & SR_IDLE  # the IP has not started: nothing arrives
    board.accel.write(AP_CTRL, AP_START)
    sr = dma.read(S2MM + DMASR)  # the IP runs: its 32-byte packet fills the armed descriptor
    assert sr & SR_IDLE and board.accel.read(0) & 2
    assert words[0, 7] == ST_CMPLT | ST_RXSOF | ST_RXEOF | 32
    assert np.array_equal(np.asarray(out[:32]).view(np.uint64), np.arange(1, 5))
    # the next call's packet (32 bytes) is longer than the 16-byte descriptor: it goes on into the
    # next one (PG021), which holds its end
    dma.write(S2MM + TAILDESC, _desc(mem, 2))
    board.accel.write(AP_CTRL, AP_START)
    sr = dma.read(S2MM + DMASR)
    assert sr & SR_IDLE and not sr & SR_ERRORS
    assert words[1, 7] == ST_CMPLT | ST_RXSOF | 16 and words[2, 7] == ST_CMPLT | ST_RXEOF | 16
    assert np.array_equal(np.asarray(out[64:96]).view(np.uint64), np.arange(1, 5))
    assert board.wedged is None


def test_a_packet_longer_than_the_armed_descriptors_wedges_the_ip():
    """The packet runs past the tail descriptor: the S2MM engine waits for more descriptors, the
    stream stalls, the IP cannot finish."""
    board = _board(out_words=4)
    out = board.allocate(4096)
    mem, words = _chain(board, [(out.physical_address, 16)])
    dma = board.dma0
    _start(dma, S2MM, _desc(mem, 0))
    dma.write(S2MM + TAILDESC, _desc(mem, 0))
    board.accel.write(AP_CTRL, AP_START)
    assert dma.read(S2MM + DMASR) & SR_IDLE
    assert words[0, 7] == ST_CMPLT | ST_RXSOF | 16  # no RXEOF: the packet did not end there
    assert "16 bytes of the output packet left" in board.wedged


def test_stopping_with_a_descriptor_in_flight_halts_only_when_it_completes():
    board = _board()
    out = board.allocate(4096)
    mem, words = _chain(board, [(out.physical_address, 64)])
    dma = board.dma0
    _start(dma, S2MM, _desc(mem, 0))
    dma.write(S2MM + TAILDESC, _desc(mem, 0))
    dma.write(S2MM + DMACR, 0)
    assert not dma.read(S2MM + DMASR) & SR_HALTED  # the armed descriptor is still in flight
    board.accel.write(AP_CTRL, AP_START)
    assert dma.read(S2MM + DMASR) & SR_HALTED and words[0, 7] & ST_CMPLT


def test_dma_without_s2mm_has_no_s2mm_registers():
    board = _board()
    with pytest.raises(ValueError, match="no register"):
        board.dma1.read(S2MM + DMASR)
    with pytest.raises(ValueError, match="no register"):
        board.dma0.write(MM2S + 0x18, 0)  # simple mode's source address register does not exist in SG mode


# ------------------------------------------------------------------------------------------------
# The descriptor ring of a plan
# ------------------------------------------------------------------------------------------------


def _plan(calls, bus_bits=64):
    """A stand-in plan: calls of (registers, param transfers, in transfers, out transfer)."""
    out = []
    for i, (regs, params, ins, o) in enumerate(calls):
        out.append(types.SimpleNamespace(index=i, layers=(i,), registers=tuple(regs.items()), param_transfers=params,
                                         in_transfers=ins, out_transfer=o, transfers=params + ins + (o,)))
    return types.SimpleNamespace(calls=tuple(out), config=types.SimpleNamespace(bus_bits=bus_bits))


def _t(channel, buffer, offset, nbytes):
    return Transfer(channel, buffer, offset, nbytes)


PLAN = _plan([
    ({"a": 1, "b": 2}, (_t("params", "params", 0, 128),),
     (_t("fmap_in", "input", 0, 256), _t("fmap_in", "input", 256, 64)), _t("fmap_out", "arena", 0, 512)),
    ({"a": 1, "b": 3}, (), (_t("fmap_in", "arena", 0, 512),), _t("fmap_out", "output", 0, 64)),
    ({"a": 4, "b": 3}, (_t("params", "params", 128, 64),), (_t("fmap_in", "arena", 0, 512),) * 3,
     _t("fmap_out", "output", 64, 64)),
])


def _buffers(board):
    return {name: board.allocate(4096, cacheable=name in ("input", "output"))
            for name in ("input", "arena", "output", "params")}


def test_ring_holds_each_channels_transfers_in_plan_order():
    board = _board()
    buffers = _buffers(board)
    ring = sgdma.DescriptorRing(PLAN, buffers, board.allocate, 26)
    assert not ring.memory.cacheable and ring.base % 64 == 0 and len(ring) == 11
    for spec in sgdma.CHANNELS:
        want = [(buffers[t.buffer].physical_address + t.offset, t.nbytes) for c in PLAN.calls for t in c.transfers
                if t.channel == spec.name]
        first = ring.address(ring.first[spec.name])
        address, got = first, []
        for _ in want:  # follow NXTDESC from the chain's first descriptor
            words = board.read_words(address, 16)
            assert words[6] == want[len(got)][1] | sgdma.CTRL_SOF | sgdma.CTRL_EOF and words[7] == 0
            assert words[1] == words[3] == 0  # 32-bit addresses
            got.append((int(words[2]), int(words[6]) & sgdma.LENGTH_MASK))
            address = int(words[0])
        assert got == want and address == first  # and the last links back to the first
    # each call's tail is its last descriptor on the channel; None where it has none
    for call, tails in zip(PLAN.calls, ring.tails):
        for spec in sgdma.CHANNELS:
            mine = [t for t in call.transfers if t.channel == spec.name]
            if not mine:
                assert tails[spec.name] is None
                continue
            e = ring.entries[tails[spec.name]]
            assert (e.call, e.transfer) == (call.index, mine[-1])
    ring.words[:, 7] = 0xDEAD
    ring.clear_status()
    assert not ring.words[:, 7].any() and ring.words[:, 6].all()


@pytest.mark.parametrize("status, problem", [
    (ST_CMPLT | ST_RXSOF | ST_RXEOF | 512, None),  # the call's 512-byte packet, whole
    (ST_CMPLT | ST_RXSOF | 512, r"did not end in descriptor \d+ .*: longer than the planned 512 bytes"),
    (ST_CMPLT | ST_RXEOF | 8, r"holds the end of an earlier packet"),
    (ST_CMPLT | ST_RXSOF | ST_RXEOF | 504, r"ended \(TLAST\) after 504 of the planned 512 bytes"),
])
def test_an_output_descriptor_must_hold_exactly_its_packet(status, problem):
    board = _board()
    ring = sgdma.DescriptorRing(PLAN, _buffers(board), board.allocate, 26)
    out = ring.tails[0]["fmap_out"]  # call 0 writes 512 bytes to the arena
    ring.words[out, 7] = status
    got = ring.packet_problem(out)
    assert got is None if problem is None else re.search(problem, got), got


@pytest.mark.parametrize("bad, message", [
    (_t("fmap_in", "input", 4, 64), r"call 1 \(layers 1\): the fmap_in \(dma0 MM2S\) transfer of 64 bytes at "
                                    r"input\+0x4 .*not in whole 8-byte bus words"),
    (_t("fmap_in", "input", 0, 60), "not in whole 8-byte bus words"),
    (_t("fmap_in", "input", 0, 1 << 14), "exceeds the 14-bit DMA buffer length register"),
    (_t("fmap_in", "input", 4032, 128), "outside the 4096-byte input buffer"),
    (_t("fmap_in", "input", 0, 0), "zero-length"),
])
def test_ring_refuses_transfers_the_dmas_cannot_carry(bad, message):
    board = _board()
    plan = _plan([({"a": 1}, (), (_t("fmap_in", "input", 0, 64),), _t("fmap_out", "output", 0, 64)),
                  ({"a": 1}, (), (bad,), _t("fmap_out", "output", 0, 64))])
    with pytest.raises(AcceleratorError, match=message):
        sgdma.DescriptorRing(plan, _buffers(board), board.allocate, 14)
    assert not [e for e in board.log if e[0] in ("accel", "dma0", "dma1")]  # nothing touched


def test_frame_mmio_accesses_formula():
    # restart: 4 accesses x 3 channels, and one tail each arming the parameter and output chains.
    # Calls (the changed registers as one block write + one block read-back, ap_start, the input
    # tail, ap_done): first frame: call 0 writes a, b (2) + 1 + 1 + 1 = 5; call 1 writes b: 5;
    # call 2 writes a: 5. Steady: call 0 rewrites a, b (the last call left a=4, b=3).
    assert frame_mmio_accesses(PLAN, steady=False) == 14 + 5 + 5 + 5
    assert frame_mmio_accesses(PLAN) == 14 + 5 + 5 + 5
    assert frame_mmio_accesses(PLAN, verify_registers=False) == 14 + 4 + 4 + 4
    # the words the blocks move: 2 + 1 + 1 registers, each written and read back
    assert frame_mmio(PLAN) == MmioCount(29, 8) and frame_mmio(PLAN, verify_registers=False) == MmioCount(26, 4)
    same = _plan([({"a": 1}, (), (_t("fmap_in", "input", 0, 64),), _t("fmap_out", "output", 0, 64))] * 2)
    # the second call changes nothing: no register access at all
    assert frame_mmio_accesses(same, steady=False) == 9 + (2 + 1 + 1 + 1) + (1 + 1 + 1)
    assert frame_mmio_accesses(same) == 9 + 2 * (1 + 1 + 1)  # fmap_in + fmap_out only: 2 restarts, 1 armed chain
    assert frame_mmio(same).words == 0 and frame_mmio(same, steady=False).words == 2


def test_a_register_block_is_one_access_whatever_its_size():
    for changed in (1, 2, 7, 30):
        assert call_mmio(changed) == MmioCount(2 + 1 + 1 + 1, 2 * changed)
        assert call_mmio(changed, verify_registers=False) == MmioCount(1 + 1 + 1 + 1, changed)
    assert call_mmio(0) == call_mmio(0, verify_registers=False) == MmioCount(1 + 1 + 1, 0)


def test_soft_reset_helper_resets_the_whole_dma():
    board = _board()
    data = board.allocate(4096)
    mem, _ = _chain(board, [(data.physical_address + 4, 64)])
    _start(board.dma0, MM2S, _desc(mem, 0))
    board.dma0.write(MM2S + TAILDESC, _desc(mem, 0))
    _start(board.dma0, S2MM, _desc(mem, 0))
    assert board.dma0.read(MM2S + DMASR) & SR_DMA_INT_ERR
    sgdma.reset_dma(board.dma0, "dma0")
    for base in (MM2S, S2MM):
        assert board.dma0.read(base + DMASR) == SR_HALTED | sgdma.SR_SG_INCLD
        assert board.dma0.read(base + DMACR) == sgdma.DMACR_DEFAULT
    assert ("dma0", "write", MM2S + DMACR, DMACR_RESET) in board.log


def test_emulated_register_block_is_one_access_masked_and_checked():
    board = _board()
    accel, fields, offsets = board.accel, CONFIG.register_fields(), CONFIG.register_offsets()
    names = ["height", "width", "leaky", "yolo_shift"]
    words = [5, 7, 0x3, 0xFFFFFFFF]  # leaky is 1 bit wide, yolo_shift a few: the IP keeps the field's bits
    accel.write_registers([offsets[n] for n in names], words)
    assert board.log == [("accel", "write_block", tuple(offsets[n] for n in names), tuple(words))]
    want = [w & ((1 << fields[n]) - 1) for n, w in zip(names, words)]
    assert [accel.regs[n] for n in names] == want and want[2] == 1
    board.faults.register_corrupt["width"] = 4
    assert accel.read_registers([offsets[n] for n in names]) == [want[0], want[1] ^ 4, want[2], want[3]]
    assert len(board.log) == 2 and board.log[1][:3] == ("accel", "read_block", tuple(offsets[n] for n in names))
    # every offset is checked before anything is stored: unaligned, ap_ctrl, beyond the registers, not an int
    for bad in (offsets["width"] + 2, AP_CTRL, max(offsets.values()) + 8, 0x18 + 0.0):
        with pytest.raises(ValueError, match="not an argument register"):
            accel.write_registers([offsets["height"], bad], [9, 9])
        with pytest.raises(ValueError, match="not an argument register"):
            accel.read_registers([bad])
    with pytest.raises(ValueError, match="2 offsets but 1 words"):
        accel.write_registers([offsets["height"], offsets["width"]], [1])
    with pytest.raises(ValueError, match="not a 32-bit word"):
        accel.write_registers([offsets["height"]], [1 << 32])
    assert accel.regs["height"] == want[0] and len(board.log) == 2  # nothing stored, nothing logged
