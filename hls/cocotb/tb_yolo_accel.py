"""cocotb testbench of the exported yolo_accel IP (Vitis HLS Verilog) on cocotbext-axi.

Run by ``zynqyolo.hls.cosim_rtl.run_rtl_cosim`` inside the simulator (Icarus or Verilator): it reads
the calls file named by the environment variable ``ZY_RTL_CALLS`` (JSON: the design point, the RTL
port names, the calls with their registers and stream words as hex 64-bit chunks, low chunk first)
and for each call

- holds ``ap_rst_n`` low for a few cycles,
- writes every register by name with an ``AxiLiteMaster`` on ``s_axi_control`` at
  ``HwConfig.register_offsets()``, the value through ``dse.registers.encode_register``,
- queues the ``in`` and ``wts`` words on ``AxiStreamSource``s (TKEEP all ones, TLAST on the last
  word; TSTRB, which cocotbext-axi does not drive, is tied to all ones), with an ``AxiStreamSink``
  on ``out`` (which holds TREADY) and a beat recorder beside it (TDATA and TLAST of every accepted
  beat, so a missing TLAST is a mismatch rather than a hang),
- writes ``AP_START`` to ``ap_ctrl`` and polls it for ``AP_DONE`` within a cycle budget,
- compares the received words with the expected ones, and TLAST (set on the last word only).

It writes a result record (per call: words expected, received, mismatches, the first mismatches) to
``result_file`` of the calls file; the cocotb test fails when any call mismatches. Port names
follow Vitis HLS: ``<port>_TDATA/_TVALID/_TREADY/_TKEEP/_TSTRB/_TLAST`` (``in`` and ``out`` are HDL
keywords, so the RTL names them ``in_r`` and ``out_r``: the calls file carries the names),
``s_axi_control_*``, ``ap_clk``, ``ap_rst_n``.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

MAX_REPORTED = 8


def _load() -> dict:
    with open(os.environ["ZY_RTL_CALLS"]) as f:
        return json.load(f)


def _bus_words(chunks_hex: list[str], chunks: int) -> list[int]:
    """Bus words from 64-bit chunks (low chunk first)."""
    vals = [int(h, 16) for h in chunks_hex]
    return [sum(vals[i + j] << (64 * j) for j in range(chunks)) for i in range(0, len(vals), chunks)]


def _to_bytes(words: list[int], width_bytes: int) -> bytes:
    return b"".join(w.to_bytes(width_bytes, "little") for w in words)


def _read(handle) -> int | None:
    v = handle.value
    if not v.is_resolvable:
        return None
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


async def _record_beats(dut, port: str, beats: list) -> None:
    """Every accepted beat of ``port`` (TVALID and TREADY high at a rising edge): (TDATA, TLAST)."""
    data, valid, ready = (getattr(dut, f"{port}_{s}") for s in ("TDATA", "TVALID", "TREADY"))
    last = getattr(dut, f"{port}_TLAST", None)
    while True:
        await RisingEdge(dut.ap_clk)
        if _read(valid) == 1 and _read(ready) == 1:
            beats.append((_read(data), None if last is None else _read(last)))


def _compare(name: str, expected: list[int], beats: list, width: int) -> dict:
    first: list[str] = []
    mismatches = 0
    digits = width // 4

    def bad(msg: str) -> None:
        nonlocal mismatches
        mismatches += 1
        if len(first) < MAX_REPORTED:
            first.append(f"{name}: {msg}")

    if len(beats) != len(expected):
        bad(f"out: received {len(beats)} words, expected {len(expected)}")
    for i, want in enumerate(expected):
        if i >= len(beats):
            break
        got, last = beats[i]
        if got != want:
            shown = "X" if got is None else f"{got:0{digits}x}"
            bad(f"out word {i}: got {shown}, expected {want:0{digits}x}")
        want_last = int(i == len(expected) - 1)
        if last != want_last:
            bad(f"out word {i}: TLAST {last}, expected {want_last}"
                + (" (the last word)" if want_last else ""))
    return {"name": name, "expected_words": len(expected), "received_words": len(beats),
            "mismatches": mismatches, "first": first}


@cocotb.test()
async def yolo_accel_calls(dut):
    """Every call of the calls file through the IP's AXI interfaces."""
    from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                               AxiStreamSource)

    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.dse.registers import AP_CTRL, AP_DONE, AP_START, encode_register

    spec = _load()
    config = HwConfig.from_dict(spec["config"])
    offsets = config.register_offsets()
    ports = spec["ports"]
    width = config.bus_bits
    chunks = width // 64
    period_ns = spec.get("clock_ns", 10)

    cocotb.start_soon(Clock(dut.ap_clk, period_ns, unit="ns").start())
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, spec.get("control", "s_axi_control")), dut.ap_clk,
                         dut.ap_rst_n, reset_active_level=False)
    src_in = AxiStreamSource(AxiStreamBus.from_prefix(dut, ports["in"]), dut.ap_clk, dut.ap_rst_n,
                             reset_active_level=False)
    src_wts = AxiStreamSource(AxiStreamBus.from_prefix(dut, ports["wts"]), dut.ap_clk, dut.ap_rst_n,
                              reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, ports["out"]), dut.ap_clk, dut.ap_rst_n,
                         reset_active_level=False)
    for p in (ports["in"], ports["wts"]):
        strb = getattr(dut, f"{p}_TSTRB", None)
        if strb is not None:
            strb.value = (1 << (width // 8)) - 1
    beats: list = []
    cocotb.start_soon(_record_beats(dut, ports["out"], beats))

    records = []
    for call in spec["calls"]:
        name = call["name"]
        dut.ap_rst_n.value = 0
        await ClockCycles(dut.ap_clk, 8)
        dut.ap_rst_n.value = 1
        await ClockCycles(dut.ap_clk, 4)
        beats.clear()
        sink.clear()
        for reg, value in call["registers"].items():
            await axil.write_dword(offsets[reg], encode_register(config, reg, int(value)))
        in_words = _bus_words(call["in"], chunks)
        wts_words = _bus_words(call["wts"], chunks)
        expected = _bus_words(call["out"], chunks)
        if in_words:
            await src_in.send(AxiStreamFrame(_to_bytes(in_words, width // 8)))
        if wts_words:
            await src_wts.send(AxiStreamFrame(_to_bytes(wts_words, width // 8)))
        await axil.write_dword(AP_CTRL, AP_START)
        budget = int(call.get("timeout_cycles", spec.get("timeout_cycles", 100000)))
        poll = 16
        done, waited = False, 0
        while waited < budget:
            await ClockCycles(dut.ap_clk, poll)
            waited += poll
            ctrl = await axil.read_dword(AP_CTRL)
            if ctrl & AP_DONE:
                done = True
                break
        await ClockCycles(dut.ap_clk, 8)  # the last beats settle
        rec = _compare(name, expected, beats, width)
        rec["cycles"] = waited
        rec["done"] = done
        if not done:
            rec["mismatches"] += 1
            rec["first"].insert(0, f"{name}: no ap_done within {budget} cycles "
                                   f"(received {len(beats)} of {len(expected)} words)")
        rec["frames"] = sink.count()
        records.append(rec)
        dut._log.info("call %s: %d words, %d mismatches, %d cycles", name, len(expected), rec["mismatches"],
                      waited)
        for line in rec["first"]:
            dut._log.error(line)
    total = sum(r["mismatches"] for r in records)
    with open(spec["result_file"], "w") as f:
        json.dump({"calls": records, "mismatches": total}, f, indent=1)
    assert total == 0, "; ".join(line for r in records for line in r["first"])
