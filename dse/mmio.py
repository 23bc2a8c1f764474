"""The host's MMIO accesses per call and per frame: one count for the driver and the latency model.

An MMIO access is one Python-level read or write of the accelerator's ``s_axi_control`` or of a
DMA's registers (in Python on the board, about 30 us each: ``dse.perf.MMIO_ACCESS_US``). Most are
one 32-bit AXI-Lite transaction; the accelerator's argument registers are moved as a block, one
vectorised access for any number of registers (on PYNQ a numpy fancy-index store into, or load
from, ``MMIO.array``: one AXI-Lite transaction per word, ``dse.perf.MMIO_WORD_US`` each). The
driver (host/driver.py) makes exactly these accesses when every wait is satisfied by its first
poll; tests/test_driver.py counts the emulated board's accesses against ``frame_mmio_accesses``.

Per frame: ``RESTART_ACCESSES`` for each DMA channel the plan uses (the restart of its descriptor
chain at its head: DMACR = 0, a DMASR read that shows Halted, CURDESC, DMACR = RS), and one TAILDESC
write arming each of the parameter and output chains whole (``ARMED_CHAINS``).

Per call (``call_mmio``): the registers whose value differs from what the IP holds
(``changed_registers``) in one block write, and one block read-back when the driver verifies
registers (none when nothing changed); ap_start; the input chain's TAILDESC (every call reads an
input); one ap_ctrl read (ap_done). No DMASR read: the
driver reads them only in a poll that does not see ap_done, and waits for the descriptors in memory.
The register words the blocks move are counted apart (``MmioCount.words``): they cost bus time,
not interpreter time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .plan import Channel

if TYPE_CHECKING:
    from .plan import Plan

RESTART_ACCESSES = 4  # per used channel and frame: DMACR=0, DMASR read (halted), CURDESC, DMACR=RS
ARMED_CHAINS = (Channel.PARAMS, Channel.FMAP_OUT)  # per frame, one TAILDESC each at its chain's last descriptor
FRAME_ACCESSES = (RESTART_ACCESSES + 1) * len(Channel) - 1  # a plan with conv calls uses all three channels
CALL_FIXED_ACCESSES = 3  # per call: ap_start, the input chain's TAILDESC, the ap_ctrl read that sees ap_done


def changed_registers(held: Mapping[str, int], registers: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The (name, value) pairs of ``registers`` that differ from what the IP holds (``held``; a name
    it does not hold counts as changed): what the driver writes for a call."""
    return [(name, value) for name, value in registers if held.get(name) != value]


def steady_registers(calls: Sequence) -> dict[str, int]:
    """What the IP holds at the start of a frame that follows another frame of ``calls`` (anything
    with ``.registers``: the plan's calls, the latency model's call shapes)."""
    held: dict[str, int] = {}
    for call in calls:
        held.update(call.registers)
    return held


def registers_written(calls: Sequence, steady: bool = True) -> list[int]:
    """Registers written per call of a frame. ``steady``: the IP holds the registers the previous
    frame left (every frame but the first, and the first after a fault); else it holds none."""
    held = steady_registers(calls) if steady else {}
    written = []
    for call in calls:
        changed = changed_registers(held, call.registers)
        held.update(changed)
        written.append(len(changed))
    return written


@dataclass(frozen=True)
class MmioCount:
    """MMIO of a call or a frame: ``accesses`` (Python-level reads and writes, a register block one
    each) and ``words``, the register words the blocks move (written, plus read back)."""

    accesses: int
    words: int


def call_mmio(changed: int, verify_registers: bool = True) -> MmioCount:
    """One call's MMIO: the ``changed`` registers in one block write (and one block read-back when
    ``verify_registers``), none if nothing changed; ap_start, the input chain's TAILDESC, ap_done."""
    passes = 2 if verify_registers else 1  # the block write, and its read-back
    blocks = passes if changed else 0
    return MmioCount(accesses=blocks + CALL_FIXED_ACCESSES, words=changed * passes)


def frame_mmio(plan: "Plan", verify_registers: bool = True, steady: bool = True) -> MmioCount:
    """MMIO of one frame of ``plan`` (the module docstring)."""
    used = {t.channel for call in plan.calls for t in call.transfers}
    accesses, words = RESTART_ACCESSES * len(used) + len(used & set(ARMED_CHAINS)), 0
    for call, n in zip(plan.calls, registers_written(plan.calls, steady)):
        count = call_mmio(n, verify_registers)
        accesses, words = accesses + count.accesses, words + count.words
    return MmioCount(accesses, words)


def frame_mmio_accesses(plan: "Plan", verify_registers: bool = True, steady: bool = True) -> int:
    """MMIO accesses of one frame of ``plan`` (``frame_mmio``)."""
    return frame_mmio(plan, verify_registers, steady).accesses
