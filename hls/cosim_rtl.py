"""RTL co-simulation of the exported yolo_accel Verilog with cocotb and cocotbext-axi.

``run_rtl_cosim`` builds every Verilog file of an HLS export (``<solution>/impl/verilog``, or
``syn/verilog`` after csynth alone) with cocotb's Python runner under Icarus Verilog or Verilator,
runs the testbench ``hls/cocotb/tb_yolo_accel.py`` on it (an AXI4-Lite master writing the registers
by name, AXI4-Stream sources for ``in`` and ``wts``, a sink on ``out``) over the given calls, and
compares the output words and TLAST with the calls' expected words. ``rtl_cosim_calls`` are the
calls ``zynqyolo hls --cosim-rtl`` runs: one conv call and one YOLO call (``zynqyolo.hls.vectors``),
whose expected words come from the Python C simulation, bit-exact with the integer reference.

cocotb and cocotbext-axi are optional (the ``test`` extra): they are imported only here, inside the
functions, and a missing one is a ZynqyoloError saying what to install.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

TB_DIR = Path(__file__).resolve().parent / "cocotb"
TB_MODULE = "tb_yolo_accel"
TOPLEVEL = "yolo_accel"
SIMULATORS = ("icarus", "verilator")
ENV_CALLS = "ZY_RTL_CALLS"
CONTROL_PREFIX = "s_axi_control"
HDL_SUFFIXES = (".v", ".sv")


@dataclass
class RtlCosimResult:
    passed: bool
    calls: list = field(default_factory=list)  # per call: name, expected/received words, mismatches, first
    log: str = ""
    work: Path | None = None

    def summary(self) -> str:
        parts = [f"{c['name']}: {c['received_words']}/{c['expected_words']} words, {c['mismatches']} mismatches"
                 for c in self.calls]
        return "; ".join(parts) or "no call ran"

    def failure(self) -> str:
        first = [line for c in self.calls for line in c.get("first", [])]
        text = "\n  ".join(first) if first else "the simulation produced no result (see the log)"
        return f"RTL co-simulation FAILED ({self.summary()}):\n  {text}"


def rtl_cosim_calls(config: HwConfig) -> list:
    """One conv call and one YOLO call of the test vectors (expected words: the Python C simulation)."""
    from .vectors import conv_vector, yolo_vector

    return [conv_vector(config), yolo_vector(config)]


def verilog_dir(project_or_dir) -> Path:
    """The folder of the exported Verilog: ``project_or_dir`` itself when it holds .v files, else
    the HLS project's ``<solution>/impl/verilog`` or ``<solution>/syn/verilog`` (an ``HlsProject``,
    its root, or the solution folder)."""
    root = Path(getattr(project_or_dir, "solution_dir", project_or_dir))
    from .tcl import PROJECT_NAME, SOLUTION

    candidates = [root, root / "impl" / "verilog", root / "syn" / "verilog",
                  root / PROJECT_NAME / SOLUTION / "impl" / "verilog", root / PROJECT_NAME / SOLUTION / "syn" / "verilog"]
    for c in candidates:
        if c.is_dir() and any(p.suffix in HDL_SUFFIXES for p in c.iterdir()):
            return c
    raise ZynqyoloError(f"no exported Verilog under {root} (looked in {', '.join(str(c) for c in candidates)}): "
                        "run the HLS csynth and export steps first (zynqyolo hls --design D --steps csynth,export)")


def _hex_chunks(words) -> list[str]:
    return [f"{int(w):016x}" for w in np.asarray(words, dtype=np.uint64).ravel()]


def write_calls(path: Path, config: HwConfig, calls: Sequence, result_file: Path, *,
                ports: dict | None = None, timeout_cycles: int | None = None) -> Path:
    """The calls file the testbench reads: design point, RTL port names, per call its registers
    (decoded values, by name) and stream words (hex 64-bit chunks, low chunk first)."""
    from .tcl import STREAMS, rtl_port

    fields = config.register_fields()
    records = []
    for v in calls:
        if set(v.registers) != set(fields):
            raise ZynqyoloError(f"call {v.name}: registers {sorted(v.registers)} != fields {sorted(fields)}")
        n = len(v.in_words) + len(v.wts_words) + len(v.out_words)
        records.append({"name": v.name, "registers": {k: int(v.registers[k]) for k in fields},
                        "in": _hex_chunks(v.in_words), "wts": _hex_chunks(v.wts_words), "out": _hex_chunks(v.out_words),
                        "timeout_cycles": timeout_cycles or 200_000 + 200 * n})
    spec = {"format": "zynqyolo-rtl-calls 1", "config": config.to_dict(), "control": CONTROL_PREFIX,
            "ports": ports or {p: rtl_port(p) for p in STREAMS}, "clock_ns": round(1000.0 / config.clock_mhz, 3),
            "result_file": str(result_file), "calls": records}
    path.write_text(json.dumps(spec))
    return path


def check_tools(simulator: str = "icarus") -> None:
    """ZynqyoloError unless the simulator, cocotb and cocotbext-axi are there."""
    if simulator not in SIMULATORS:
        raise ZynqyoloError(f"simulator {simulator!r}: use one of {', '.join(SIMULATORS)}")
    exe = {"icarus": "iverilog", "verilator": "verilator"}[simulator]
    if shutil.which(exe) is None:
        raise ZynqyoloError(f"{exe} is not on PATH: the RTL co-simulation needs {simulator}")
    try:
        import cocotb  # noqa: F401
        import cocotb_tools.runner  # noqa: F401
        import cocotbext.axi  # noqa: F401
    except ImportError as exc:
        raise ZynqyoloError(f"the RTL co-simulation needs cocotb and cocotbext-axi ({exc}): "
                            "pip install 'cocotb==2.1.0' 'cocotbext-axi==0.1.28' (or the test extra)") from None


def run_rtl_cosim(project_or_verilog_dir, config: HwConfig, calls: Sequence, simulator: str = "icarus", *,
                  work: Path | None = None, parameters: dict | None = None, ports: dict | None = None,
                  timeout_cycles: int | None = None, check: bool = True,
                  log: Callable[[str], None] | None = None) -> RtlCosimResult:
    """Build the exported Verilog (toplevel yolo_accel) and run ``calls`` through the testbench.

    ``work``: the build and run folder (default: a fresh temporary folder, removed unless the run
    fails). ``parameters``: HDL parameters of the top (none for an HLS export). ``check``: raise a
    ZynqyoloError with the first mismatches when the run fails (else return the failed result)."""
    check_tools(simulator)
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    vdir = verilog_dir(project_or_verilog_dir)
    sources = sorted(p for p in vdir.iterdir() if p.suffix in HDL_SUFFIXES)
    keep = work is not None
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="zy_rtl_cosim_"))
    work.mkdir(parents=True, exist_ok=True)
    for dat in vdir.glob("*.dat"):  # ROM images the exported Verilog reads with $readmemh (relative to the run dir)
        shutil.copy2(dat, work / dat.name)
    result_file, results_xml, log_file = work / "rtl_cosim_result.json", work / "results.xml", work / "sim.log"
    for f in (result_file, results_xml):
        f.unlink(missing_ok=True)
    calls_file = write_calls(work / "rtl_calls.json", config, calls, result_file, ports=ports,
                             timeout_cycles=timeout_cycles)
    if log is not None:
        log(f"RTL co-simulation ({simulator}): {len(sources)} Verilog files of {vdir}, calls "
            f"{', '.join(v.name for v in calls)}")
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if simulator == "verilator" else []
    added = str(TB_DIR) not in sys.path
    if added:  # the runner hands sys.path to the simulator's Python as PYTHONPATH
        sys.path.insert(0, str(TB_DIR))
    try:
        try:
            runner.build(sources=sources, hdl_toplevel=TOPLEVEL, parameters=parameters or {}, build_args=build_args,
                         build_dir=work / "build", always=True, timescale=("1ns", "1ps"),
                         log_file=work / "build.log")
        except (SystemExit, RuntimeError, Exception) as exc:  # noqa: BLE001 - the simulator's compile failing
            text = (work / "build.log").read_text(errors="replace")[-3000:] if (work / "build.log").exists() else ""
            raise ZynqyoloError(f"building the exported Verilog with {simulator} failed ({exc}):\n{text}") from None
        try:
            runner.test(test_module=TB_MODULE, hdl_toplevel=TOPLEVEL, build_dir=work / "build", test_dir=work,
                        results_xml=str(results_xml), log_file=log_file,
                        extra_env={ENV_CALLS: str(calls_file)})
            sim_ok = True
        except (SystemExit, RuntimeError):
            sim_ok = False
    finally:
        if added and str(TB_DIR) in sys.path:
            sys.path.remove(str(TB_DIR))
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    record = json.loads(result_file.read_text()) if result_file.exists() else {}
    n_tests, n_failed = get_results(results_xml) if results_xml.exists() else (0, 1)
    passed = sim_ok and n_tests > 0 and n_failed == 0 and record.get("mismatches", 1) == 0
    result = RtlCosimResult(passed=passed, calls=record.get("calls", []), log=text, work=work)
    if log is not None:
        log(f"RTL co-simulation {'PASS' if passed else 'FAIL'}: {result.summary()}")
    if not passed and check:
        raise ZynqyoloError(f"{result.failure()}\n(run folder {work}; log {log_file})\n--- log tail ---\n"
                            f"{text[-2000:]}")
    if passed and not keep:
        shutil.rmtree(work, ignore_errors=True)
        result.work = None
    return result


__all__ = ["RtlCosimResult", "SIMULATORS", "check_tools", "rtl_cosim_calls", "run_rtl_cosim", "verilog_dir", "write_calls"]
