"""Running the HLS tool over a project ``zynqyolo.hls.tcl`` wrote, and reading its reports.

``run_hls`` runs the tool once over the selected steps (csim, csynth, cosim, export), logs to
``<out>/hls.log``, names the step that failed from the markers ``run_hls.tcl`` writes in the log,
and turns the C-synthesis report (``<solution>/syn/report/<top>_csynth.xml``) into
``<out>/report.json`` (``parse_csynth_report``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable, Sequence

from zynqyolo.atomic import write_text_atomic
from zynqyolo.errors import ZynqyoloError

from .tcl import ENV_STEPS, HLS_TOOLS, HlsProject, check_tool, normalize_steps


def find_tool(preferred: str | None = None) -> str | None:
    """``vitis_hls`` or ``vivado_hls`` if on PATH (``preferred`` only, if given), else None."""
    for tool in ((preferred,) if preferred else HLS_TOOLS):
        if shutil.which(check_tool(tool)):
            return tool
    return None


_STEP_MARK = re.compile(r"^zynqyolo: step (\w+): (begin|done|FAILED)(.*)$", re.M)


def _failed_step(log_text: str) -> tuple[str | None, str]:
    state: dict[str, str] = {}
    detail = ""
    for step, what, rest in _STEP_MARK.findall(log_text):
        state[step] = what
        if what == "FAILED":
            detail = rest.lstrip(": ").strip()
    for step, what in state.items():
        if what != "done":
            return step, detail
    return None, ""


def run_hls(project: HlsProject, steps: Sequence[str] | None = None,
            log: Callable[[str], None] = print) -> dict | None:
    """Run the HLS tool over ``steps`` (default: the project's) and, after csynth, write
    ``report.json``. Returns the parsed report (None without csynth)."""
    steps = normalize_steps(project.default_steps if steps is None else steps)
    if shutil.which(project.tool) is None:
        raise ZynqyoloError(f"{project.tool} is not on PATH (source the Xilinx settings64.sh first)")
    env = dict(os.environ, **{ENV_STEPS: " ".join(steps)})
    log(f"[hls] {project.shell_command(steps)}")
    try:
        with open(project.log, "wb") as fh:
            subprocess.run(project.command(), cwd=project.root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                           check=True)
    except subprocess.CalledProcessError as exc:
        step, detail = _failed_step(project.log.read_text(errors="replace"))
        where = f"step {step}" + (f" ({detail})" if detail else "") if step else "setup"
        raise ZynqyoloError(f"{project.tool} failed at {where}, exit status {exc.returncode}; see {project.log}"
                            + ("; export_design failing on a date-derived revision is Xilinx's 2022 IP-packager "
                               "bug in tools up to 2021.2: apply Xilinx's y2k22 patch" if step == "export" else "")
                            ) from None
    except OSError as exc:
        raise ZynqyoloError(f"cannot run {project.tool}: {exc.strerror or exc}") from None
    step, detail = _failed_step(project.log.read_text(errors="replace"))
    if step is not None:
        raise ZynqyoloError(f"{project.tool} reported a failure at step {step} ({detail}); see {project.log}")
    for s in steps:
        log(f"[hls] step {s}: done")
    if "csynth" not in steps:
        return None
    report = parse_csynth_report(project.report_xml)
    report["design_hash"] = project.config.content_hash
    report["steps"] = list(steps)
    write_text_atomic(project.report_json, json.dumps(report, indent=2) + "\n")
    log(f"[hls] report: {project.report_json}")
    return report


# ------------------------------------------------------------------------------------------------
# The C-synthesis report
# ------------------------------------------------------------------------------------------------

_RESOURCE_KEYS = {"BRAM_18K": "BRAM_18K", "DSP48E": "DSP", "DSP": "DSP", "FF": "FF", "LUT": "LUT", "URAM": "URAM"}
_LOOP_FIELDS = ("TripCount", "Latency", "IterationLatency", "PipelineII", "PipelineDepth")


def _number(text: str | None):
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return None  # "undef", "-", "" (data-dependent bounds)
    return int(value) if value.is_integer() and "." not in text else value


def _resources(node) -> dict:
    out = {}
    if node is not None:
        for child in node:
            key = _RESOURCE_KEYS.get(child.tag)
            if key is not None:
                out[key] = _number(child.text)
    return out


def _loops(node, prefix: str = "") -> list[dict]:
    loops = []
    if node is None:
        return loops
    for child in node:
        if child.tag in _LOOP_FIELDS or child.tag == "Name":
            continue
        name_el = child.find("Name")
        name = (name_el.text.strip() if name_el is not None and name_el.text else child.tag)
        entry = {"name": prefix + name}
        for f in _LOOP_FIELDS:
            el = child.find(f)
            if el is not None:
                entry[f] = _number(el.text)
        if len(entry) > 1:
            loops.append(entry)
        loops += _loops(child, prefix + name + "/")
    return loops


def parse_csynth_report(path) -> dict:
    """Latency, interval, loops and resources (used and available) of a ``*_csynth.xml`` report.

    Vivado HLS names the DSP count ``DSP48E``, Vitis HLS ``DSP``; both become ``DSP``. Values the
    tool reports as undefined (data-dependent trip counts) are None."""
    path = Path(path)
    if not path.is_file():
        alt = path.with_name("csynth.xml")
        if not alt.is_file():
            raise ZynqyoloError(f"C-synthesis report not found: {path} (did csynth run?)")
        path = alt
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ZynqyoloError(f"{path}: unreadable C-synthesis report: {exc}") from None

    def text(xpath: str):
        el = root.find(xpath)
        return el.text.strip() if el is not None and el.text else None

    perf = "PerformanceEstimates"
    lat = f"{perf}/SummaryOfOverallLatency"
    used = _resources(root.find("AreaEstimates/Resources"))
    available = _resources(root.find("AreaEstimates/AvailableResources"))
    return {
        "report": str(path),
        "tool_version": text("ReportVersion/Version"),
        "top": text("UserAssignments/TopModelName"),
        "part": text("UserAssignments/Part"),
        "target_clock_ns": _number(text("UserAssignments/TargetClockPeriod")),
        "estimated_clock_ns": _number(text(f"{perf}/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        "latency_cycles": {"best": _number(text(f"{lat}/Best-caseLatency")),
                           "worst": _number(text(f"{lat}/Worst-caseLatency"))},
        "interval_cycles": {"min": _number(text(f"{lat}/Interval-min")), "max": _number(text(f"{lat}/Interval-max"))},
        "loops": _loops(root.find(f"{perf}/SummaryOfLoopLatency")),
        "resources": used,
        "available": available,
        "utilisation": {k: (round(v / available[k], 4) if isinstance(v, (int, float)) and available.get(k) else None)
                        for k, v in used.items()},
    }


__all__ = ["find_tool", "parse_csynth_report", "run_hls"]
