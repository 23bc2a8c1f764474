"""Check generated Tcl without Vivado: syntax with ``tclsh``, and a run with stubbed tool commands.

``check_syntax`` asks tclsh's own parser (``info complete``) about the whole script and every
command in it. ``run_stubbed`` sources the script under ``hls/tcl/check_harness.tcl``: each tool
command is a stub that records the call and checks names against tables of the Vivado/HLS commands,
IP parameters and IP pins this project uses (the harness lists where each was checked); Tcl 8.6-only
commands are removed, as Vivado and the HLS tools embed Tcl 8.5. What only a real tool can tell
(IP parameter value ranges, timing, the kernels' synthesis) stays for the ``vivado`` test tier.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zynqyolo.errors import ZynqyoloError

from .tcl import HLS_DIR

HARNESS = HLS_DIR / "tcl" / "check_harness.tcl"

# Subcommands and options that exist only from Tcl 8.6 on (Vivado/HLS run Tcl 8.5).
_TCL86_ONLY = (r"\bstring\s+cat\b", r"\bfile\s+tempfile\b", r"\blsort\b[^\n]*-stride\b", r"\bdict\s+map\b",
               r"\binfo\s+coroutine\b", r"\bchan\s+pipe\b", r"\bbinary\s+(en|de)code\s+base64\b")

_SYNTAX_SCRIPT = r"""
set fh [open [lindex $argv 0]]
set text [read $fh]
close $fh
if {![info complete $text]} {
    puts "the script as a whole is incomplete (unbalanced braces, brackets or quotes)"
    exit 1
}
set cmd ""
set line_no 0
set start 0
foreach line [split $text "\n"] {
    incr line_no
    if {$cmd eq ""} { set start $line_no }
    append cmd $line "\n"
    if {[info complete $cmd]} {
        set cmd ""
    }
}
if {$cmd ne ""} {
    puts "line $start: command never completes"
    exit 1
}
puts ok
"""


def tclsh() -> str | None:
    return shutil.which("tclsh") or shutil.which("tclsh8.6") or shutil.which("tclsh8.5")


def _require_tclsh() -> str:
    exe = tclsh()
    if exe is None:
        raise ZynqyoloError("tclsh is not on PATH (Debian: apt-get install tcl); it checks the generated Tcl")
    return exe


def check_syntax(script) -> None:
    """Raise ZynqyoloError unless tclsh's parser accepts ``script`` and it avoids Tcl 8.6-only features."""
    script = Path(script)
    exe = _require_tclsh()
    with tempfile.TemporaryDirectory(prefix="zy-tclsyntax-") as tmp:
        checker = Path(tmp) / "syntax.tcl"
        checker.write_text(_SYNTAX_SCRIPT)
        proc = subprocess.run([exe, str(checker), str(script)], capture_output=True, text=True)
    if proc.returncode != 0 or proc.stdout.strip() != "ok":
        raise ZynqyoloError(f"{script}: Tcl syntax: {(proc.stdout + proc.stderr).strip()}")
    text = script.read_text()
    for pattern in _TCL86_ONLY:
        m = re.search(pattern, text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            raise ZynqyoloError(f"{script}:{line}: '{m.group()}' needs Tcl 8.6; Vivado and the HLS tools run Tcl 8.5")


@dataclass
class StubRun:
    """What the stubbed run did: exit status and the tool commands called, in order."""

    status: int
    calls: list[dict]
    stderr: str

    def commands(self, name: str) -> list[list[str]]:
        return [c["args"] for c in self.calls if c["cmd"] == name]

    @property
    def errors(self) -> list[str]:
        return [c["args"][0] for c in self.calls if c["cmd"] == "zyh_error"]

    def ok(self) -> bool:
        return self.status == 0 and not self.errors


def run_stubbed(script, mode: str, accel_vlnv: str = "", accel_pins=((), ()), env: dict | None = None,
                fake_outputs: bool = False) -> StubRun:
    """Source ``script`` in tclsh with the tool commands of ``mode`` ('vivado' or 'hls') stubbed."""
    if mode not in ("vivado", "hls"):
        raise ValueError(f"mode must be 'vivado' or 'hls', got {mode!r}")
    exe = _require_tclsh()
    script = Path(script).resolve()
    with tempfile.TemporaryDirectory(prefix="zy-tclcheck-") as tmp:
        log = Path(tmp) / "calls.jsonl"
        run_env = {k: v for k, v in os.environ.items() if not k.startswith(("ZY_", "ZYNQYOLO_"))}
        run_env.update(env or {})
        if fake_outputs:
            run_env["ZY_FAKE_OUTPUTS"] = "1"
        pins, intf = accel_pins
        args = [exe, str(HARNESS), mode, str(script), str(log), accel_vlnv, " ".join(pins), " ".join(intf)]
        proc = subprocess.run(args, cwd=script.parent, env=run_env, capture_output=True, text=True)
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    return StubRun(proc.returncode, calls, proc.stderr)


def check_hls_script(script) -> StubRun:
    """Syntax and a stubbed HLS run (in place: the stubs write nothing)."""
    check_syntax(script)
    run = run_stubbed(script, "hls")
    if not run.ok():
        raise ZynqyoloError(f"{script}: stubbed HLS run failed (status {run.status}): "
                            + "; ".join(run.errors or [run.stderr.strip()]))
    return run


def check_vivado_script(script, accel_vlnv: str, accel_pins) -> StubRun:
    """Syntax and a stubbed Vivado run on a copy of the script in a scratch folder (the stubs make
    dummy outputs there so the script runs to its end)."""
    check_syntax(script)
    with tempfile.TemporaryDirectory(prefix="zy-vivado-check-") as tmp:
        copy = Path(tmp) / Path(script).name
        shutil.copyfile(script, copy)
        run = run_stubbed(copy, "vivado", accel_vlnv, accel_pins, fake_outputs=True)
    if not run.ok():
        raise ZynqyoloError(f"{script}: stubbed Vivado run failed (status {run.status}): "
                            + "; ".join(run.errors or [run.stderr.strip()]))
    return run
