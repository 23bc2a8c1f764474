"""The host's MMIO accesses per call and per frame: one count for the driver and the latency model.

An MMIO access is one AXI-Lite read or write of the accelerator's ``s_axi_control`` or of a DMA's
registers (in Python on the board, about 30 us each: ``dse.perf.MMIO_ACCESS_US``). The driver
(host/driver.py) makes exactly these accesses when every wait is satisfied by its first poll;
tests/test_driver.py counts the emulated board's accesses against ``frame_mmio_accesses``.

Per frame: ``RESTART_ACCESSES`` for each DMA channel the plan uses (the restart of its descriptor
chain at its head: DMACR = 0, a DMASR read that shows Halted, CURDESC, DMACR = RS).

Per call (``call_mmio_accesses``): each register whose value differs from what the IP holds
(``changed_registers``) is written by name, and read back when the driver verifies registers; one
TAILDESC write per channel the call uses; ap_start; one DMASR read per channel the call uses (its
wait); one ap_ctrl read (ap_done).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .plan import Channel

if TYPE_CHECKING:
    from .plan import Plan

RESTART_ACCESSES = 4  # per used channel and frame: DMACR=0, DMASR read (halted), CURDESC, DMACR=RS
FRAME_ACCESSES = RESTART_ACCESSES * len(Channel)  # a plan with conv calls uses all three channels


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


def call_channels(call) -> int:
    """DMA channels a call uses."""
    return len({t.channel for t in call.transfers})


def call_mmio_accesses(changed: int, channels: int, verify_registers: bool = True) -> int:
    """One call's MMIO accesses: ``changed`` registers written (and read back when
    ``verify_registers``), a TAILDESC write and a DMASR poll per channel used, ap_start, ap_done."""
    return changed * (2 if verify_registers else 1) + channels * 2 + 2


def frame_mmio_accesses(plan: "Plan", verify_registers: bool = True, steady: bool = True) -> int:
    """MMIO accesses of one frame of ``plan`` (the module docstring)."""
    used = {t.channel for call in plan.calls for t in call.transfers}
    total = RESTART_ACCESSES * len(used)
    for call, n in zip(plan.calls, registers_written(plan.calls, steady)):
        total += call_mmio_accesses(n, call_channels(call), verify_registers)
    return total
