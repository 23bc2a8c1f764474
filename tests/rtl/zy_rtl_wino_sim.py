"""Simulator-side helper of the Winograd benches (tests/rtl/cocotb_wino_*.py): ``read_bus``, the
value of a wide port as an unsigned int, or None when any bit is X or Z, like zy_rtl_sim.read but
from the value's text (zy_rtl_sim.read resolves the value bit by bit: ~1 ms for a 640-bit port).
"""

from __future__ import annotations

BINARY = frozenset("01")


def read_bus(handle) -> int | None:
    text = str(handle.value)
    if not BINARY.issuperset(text):
        return None
    return int(text, 2)
