"""pytest side of the RTL benches: build a dse/rtl circuit with Icarus Verilog through cocotb's
Python runner and run one cocotb bench on it, in a pytest tmp dir (never inside the repository).

``run_bench`` returns the bench's record (vectors, checks, mismatches, the first mismatches) and
whether the simulation passed; ``require_tools`` skips with the reason when iverilog or cocotb is
missing.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

RTL_TESTS = Path(__file__).resolve().parent
RTL_DIR = RTL_TESTS.parents[1] / "dse" / "rtl"
if str(RTL_TESTS) not in sys.path:  # the runner hands sys.path to the simulator's Python
    sys.path.insert(0, str(RTL_TESTS))


def load_script(name: str):
    """A dse/rtl script (calibrate, fit) as a module, loaded by path once (dse/rtl is not a package)."""
    import importlib.util
    import sys

    key = f"zy_rtl_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, RTL_DIR / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


def require_tools() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("iverilog not on PATH: the rtl benches need Icarus Verilog (Debian: apt-get install iverilog)")
    try:
        import cocotb  # noqa: F401
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        pytest.skip("cocotb is not installed: the rtl benches need cocotb 2.1 (pip install cocotb==2.1.0)")


@dataclass
class BenchResult:
    passed: bool
    record: dict
    log: str

    @property
    def vectors(self) -> int:
        return int(self.record.get("vectors", 0))

    def summary(self) -> str:
        r = self.record
        return (f"{r.get('name', '?')}: {r.get('vectors', 0)} vectors, {r.get('checks', 0)} checks, "
                f"{r.get('mismatches', '?')} mismatches")

    def failure(self) -> str:
        first = "\n  ".join(self.record.get("first", []))
        return f"{self.summary()}\n  {first}\n--- log tail ---\n{self.log[-3000:]}"


def run_bench(work: Path, verilog: Path, toplevel: str, module: str, parameters: dict, bench: dict) -> BenchResult:
    """Build ``verilog`` (top ``toplevel``, ``parameters``) in ``work`` and run cocotb bench ``module``
    with settings ``bench`` (plus the HDL parameters, which the bench needs to know too)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    work.mkdir(parents=True, exist_ok=True)
    result_file = work / "bench_result.json"
    results_xml = work / "results.xml"
    log_file = work / "sim.log"
    for f in (result_file, results_xml):
        f.unlink(missing_ok=True)
    runner = get_runner("icarus")
    # -g2005 after the runner's -g2012: the circuits are Verilog-2005, as yosys's read_verilog reads
    # them (zy_mac_array has a port named ``inside``, a SystemVerilog keyword)
    runner.build(sources=[verilog], hdl_toplevel=toplevel, parameters=parameters,
                 build_args=["-g2005"], build_dir=work / "build", always=True, timescale=("1ns", "1ps"),
                 log_file=work / "build.log")
    settings = {**parameters, **bench, "result_file": str(result_file)}
    try:
        runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=work / "build", test_dir=work,
                    results_xml=str(results_xml), log_file=log_file,
                    extra_env={"ZY_RTL_BENCH": json.dumps(settings)})
        sim_ok = True
    except (SystemExit, RuntimeError):  # a failing cocotb test, or the simulator failing
        sim_ok = False
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    record = json.loads(result_file.read_text()) if result_file.exists() else {}
    n_tests, n_failed = get_results(results_xml) if results_xml.exists() else (0, 1)
    passed = sim_ok and n_tests > 0 and n_failed == 0 and record.get("mismatches", 1) == 0
    return BenchResult(passed=passed, record=record, log=log)


def report(record_property, result: BenchResult) -> None:
    """Print the vector count and keep it in the JUnit report (record_property)."""
    print(result.summary())
    record_property("rtl_bench", result.record.get("name", ""))
    record_property("rtl_vectors", result.vectors)
