"""Simulator-side helpers shared by the cocotb benches (imported inside the simulator process).

A bench reads its settings from the JSON in ``ZY_RTL_BENCH`` (written by zy_rtl_harness.run_bench),
drives the circuit on the falling clock edge (inputs are sampled by the next rising edge; outputs
of a rising edge are read at the falling edge after it, when they have settled), and records what
it checked in ``Tally``: the vector count and the first mismatches, written to the result file the
harness reads back.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

MAX_REPORTED = 8


def settings() -> dict:
    return json.loads(os.environ["ZY_RTL_BENCH"])


def u(value: int, width: int) -> int:
    """A signed Python int as the unsigned bit pattern of a ``width``-bit port."""
    return int(value) & ((1 << width) - 1)


def s(value: int | None, width: int) -> int | None:
    """The unsigned bit pattern of a ``width``-bit port as a signed Python int (None stays None)."""
    if value is None:
        return None
    value = int(value)
    return value - (1 << width) if value >> (width - 1) & 1 else value


def read(handle) -> int | None:
    """A port's value as an unsigned int, or None when any bit is X or Z (a mismatch, not a crash)."""
    v = handle.value
    if not v.is_resolvable:
        return None
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


def pack(values, width: int) -> int:
    """Lanes (lane 0 in the low bits) packed into one bus value."""
    word = 0
    for i, v in enumerate(values):
        word |= u(v, width) << (i * width)
    return word


def unpack(word: int | None, width: int, lanes: int, signed: bool = True) -> list[int] | None:
    if word is None:
        return None
    mask = (1 << width) - 1
    vals = [(word >> (i * width)) & mask for i in range(lanes)]
    return [s(v, width) for v in vals] if signed else vals


async def start_clock(dut) -> None:
    Clock(dut.clk, 10, unit="ns").start()
    await FallingEdge(dut.clk)


class Tally:
    """Vectors checked and mismatches found by one bench; ``finish`` writes them and fails the test."""

    def __init__(self, name: str):
        self.name = name
        self.vectors = 0
        self.checks = 0
        self.mismatches = 0
        self.first: list[str] = []
        self.extra: dict = {}

    def check(self, what: str, got, expected) -> bool:
        self.checks += 1
        if got == expected:
            return True
        self.mismatches += 1
        if len(self.first) < MAX_REPORTED:
            self.first.append(f"{what}: got {got}, expected {expected}")
        return False

    def finish(self) -> None:
        cfg = settings()
        record = {"name": self.name, "vectors": self.vectors, "checks": self.checks,
                  "mismatches": self.mismatches, "first": self.first, **self.extra}
        with open(cfg["result_file"], "w") as f:
            json.dump(record, f, indent=1)
        cocotb.log.info("%s: %d vectors, %d checks, %d mismatches", self.name, self.vectors, self.checks,
                        self.mismatches)
        assert self.mismatches == 0, (f"{self.name}: {self.mismatches} of {self.checks} checks differ from "
                                      "zynqyolo.model.fixed:\n  " + "\n  ".join(self.first))
