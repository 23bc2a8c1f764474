"""Running the HLS tool over a project ``zynqyolo.hls.tcl`` wrote, reading its reports, and gating on them.

``run_hls`` runs Vitis HLS once over the selected steps (csim, csynth, cosim, export), logs to
``<out>/hls.log`` and names the step that failed from the markers ``run_hls.tcl`` writes in the log.
Then it checks what the run must show, and fails (``ZynqyoloError``, exit status 2) unless:

- csim and cosim passed every test vector: the testbench prints ``PASS <call>`` per call (cosim
  prints it from its post-check, after the RTL ran) and cosim ends with "C/RTL co-simulation
  finished: PASS" (``check_simulation_log``);
- every loop the latency model times at II 1 (``dse.perf.LOOP_LABELS``) is in the synthesis
  report and reports II 1, and the synthesised DSP, BRAM18, LUT and FF fit the design point's
  budget: the device's resources under the explorer's cap (``dse.explore.DEFAULT_CAP``)
  (``gate``).

The C-synthesis reports (``<solution>/syn/report``: ``<top>_csynth.xml`` for the top, and one
``<module>_csynth.xml`` per synthesised module, whose loops the top's report does not list) become
``<out>/report.json`` (``synthesis_report``), written before the gate so a failing run leaves its
figures to read. ``model_vs_report`` lines the resource model's blocks up against the report's
modules for ``zynqyolo hls``.

Loop names in the report carry what synthesis did to the code: a pipelined loop outlined into its
own module (``conv_stage_config_Pipeline_CONV_MAC``), a loop inlined twice (``CONV_READ_1``), a
dataflow loop process (``Loop_STAGE3_proc``). A report loop belongs to the label that occurs in its
own name (not its parents') delimited by a non-alphanumeric character, an underscore or the end;
the longest label wins (``ACC_BYPASS`` is not ``ACC``). Labels are matched case-sensitively: the
labels are upper case, the functions holding them lower case (``stage3`` is not ``STAGE3``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from zynqyolo.atomic import write_text_atomic
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

from .tcl import ENV_STEPS, HLS_TOOLS, TOP, HlsProject, check_tool, check_tool_version, normalize_steps


def find_tool(preferred: str | None = None) -> str | None:
    """The supported HLS tool (``vitis_hls``) if it is on PATH, else None. ``preferred`` must name it
    (Vivado HLS is refused with a ZynqyoloError saying why)."""
    for tool in ((preferred,) if preferred else HLS_TOOLS):
        if shutil.which(check_tool(tool)):
            return tool
    return None


def tool_version(tool: str) -> str | None:
    """What ``<tool> -version`` prints (Vitis HLS: "... v2022.2 (64-bit) ..."), or None if it says nothing."""
    try:
        done = subprocess.run([tool, "-version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"\bv(20\d\d\.\d)\b", (done.stdout or "") + (done.stderr or ""))  # not a copyright year
    return m.group(1) if m else None


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


def step_sections(log_text: str) -> dict[str, str]:
    """The log text of each step, between its begin marker and the next marker."""
    marks = list(_STEP_MARK.finditer(log_text))
    out: dict[str, str] = {}
    for i, m in enumerate(marks):
        if m.group(2) == "begin":
            end = marks[i + 1].start() if i + 1 < len(marks) else len(log_text)
            out[m.group(1)] = log_text[m.end():end]
    return out


COSIM_PASS = "C/RTL co-simulation finished: PASS"  # Vitis HLS's verdict line (INFO: [COSIM 212-1000] *** ... ***)


def check_simulation_log(log_text: str, steps: Sequence[str], vectors: Sequence[str]) -> list[str]:
    """Problems with csim/cosim in the log: a vector without its PASS line or with a FAIL line, a
    cosim without the tool's PASS verdict. [] when all is well (or neither step ran)."""
    sections = step_sections(log_text)
    problems = []
    for step in ("csim", "cosim"):
        if step not in steps:
            continue
        text = sections.get(step, "")
        failed = sorted(set(re.findall(r"^\s*FAIL (\S+)", text, re.M)))
        if failed:
            problems.append(f"{step}: test vector(s) {', '.join(failed)} FAILED")
        missing = [v for v in vectors if v not in failed
                   and not re.search(rf"^\s*PASS {re.escape(v)}(\s|$)", text, re.M)]
        if missing:
            problems.append(f"{step}: no PASS line for test vector(s) {', '.join(missing)} (the testbench did not "
                            "replay them)")
        if step == "cosim" and COSIM_PASS not in text:
            problems.append(f"cosim: the log lacks Vitis HLS's verdict '{COSIM_PASS}'")
    return problems


def run_hls(project: HlsProject, steps: Sequence[str] | None = None,
            log: Callable[[str], None] = print, cap: float | None = None) -> dict | None:
    """Run the HLS tool over ``steps`` (default: the project's), check the simulations and, after
    csynth, write ``report.json`` and gate on it (module docstring). Returns the report (None
    without csynth); raises ZynqyoloError on any failure."""
    steps = normalize_steps(project.default_steps if steps is None else steps)
    check_tool(project.tool)
    if shutil.which(project.tool) is None:
        raise ZynqyoloError(f"{project.tool} is not on PATH (source the Xilinx settings64.sh first)")
    version = tool_version(project.tool)
    check_tool_version(project.tool, version)
    env = dict(os.environ, **{ENV_STEPS: " ".join(steps)})
    log(f"[hls] {project.shell_command(steps)}" + (f"  ({project.tool} {version})" if version else ""))
    try:
        with open(project.log, "wb") as fh:
            subprocess.run(project.command(), cwd=project.root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                           check=True)
    except subprocess.CalledProcessError as exc:
        step, detail = _failed_step(project.log.read_text(errors="replace"))
        where = f"step {step}" + (f" ({detail})" if detail else "") if step else "setup"
        raise ZynqyoloError(f"{project.tool} failed at {where}, exit status {exc.returncode}; see {project.log}"
                            ) from None
    except OSError as exc:
        raise ZynqyoloError(f"cannot run {project.tool}: {exc.strerror or exc}") from None
    log_text = project.log.read_text(errors="replace")
    step, detail = _failed_step(log_text)
    if step is not None:
        raise ZynqyoloError(f"{project.tool} reported a failure at step {step} ({detail}); see {project.log}")
    problems = check_simulation_log(log_text, steps, project.vectors)
    if problems:
        raise ZynqyoloError("; ".join(problems) + f"; see {project.log}")
    for s in steps:
        log(f"[hls] step {s}: done" + (f" ({len(project.vectors)} test vectors passed)"
                                      if s in ("csim", "cosim") else ""))
    if "csynth" not in steps:
        return None
    report = synthesis_report(project.report_dir)
    report["design_hash"] = project.config.content_hash
    report["steps"] = list(steps)
    report["tool"] = project.tool
    check_tool_version(project.tool, report.get("tool_version"))
    result = gate(report, project.config, cap=cap)
    report["gate"] = result.to_dict()
    write_text_atomic(project.report_json, json.dumps(report, indent=2) + "\n")
    log(f"[hls] report: {project.report_json}")
    result.check(project.report_json, report)
    log(f"[hls] gate: {len(result.loops)} latency-model loops at II 1; "
        + ", ".join(f"{k} {result.used[k]:,}/{result.budget[k]:,}" for k in result.budget) + " within the budget")
    return report


# ------------------------------------------------------------------------------------------------
# The C-synthesis reports
# ------------------------------------------------------------------------------------------------

_RESOURCE_KEYS = {"BRAM_18K": "BRAM_18K", "DSP48E": "DSP", "DSP": "DSP", "FF": "FF", "LUT": "LUT", "URAM": "URAM"}
_LOOP_FIELDS = ("TripCount", "Latency", "IterationLatency", "PipelineII", "PipelineDepth")
# Children of a loop entry that are facts about it, not nested loops (Vitis HLS 2022.x adds these).
_LOOP_FACTS = frozenset(_LOOP_FIELDS + ("Name", "Slack", "AbsoluteTimeLatency", "isPerfectNested", "PipelineType",
                                       "InstanceList", "AchievedII", "TargetII"))


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
        if child.tag in _LOOP_FACTS:
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


def _read_xml(path: Path):
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ZynqyoloError(f"{path}: unreadable C-synthesis report: {exc}") from None
    except OSError as exc:
        raise ZynqyoloError(f"{path}: cannot read the C-synthesis report: {exc.strerror or exc}") from None


def parse_csynth_report(path) -> dict:
    """Latency, interval, loops and resources (used and available) of one ``*_csynth.xml`` report.

    Vivado HLS named the DSP count ``DSP48E``, Vitis HLS ``DSP``; both become ``DSP``. Values the
    tool reports as undefined (data-dependent trip counts) are None."""
    path = Path(path)
    if not path.is_file():
        alt = path.with_name("csynth.xml")
        if not alt.is_file():
            raise ZynqyoloError(f"C-synthesis report not found: {path} (did csynth run?)")
        path = alt
    root = _read_xml(path)

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


def _module_information(root) -> dict[str, dict]:
    """Modules listed inside csynth.xml (``ModuleInformation/Module``), when the tool writes them."""
    out = {}
    for mod in root.iter("Module"):
        name_el = mod.find("Name")
        if name_el is None or not name_el.text:
            continue
        out[name_el.text.strip()] = {
            "resources": _resources(mod.find("AreaEstimates/Resources")),
            "loops": _loops(mod.find("PerformanceEstimates/SummaryOfLoopLatency")),
        }
    return out


def synthesis_report(report_dir, top: str = TOP) -> dict:
    """The top's report (``parse_csynth_report``) plus ``modules``: every ``<module>_csynth.xml`` in
    ``report_dir`` (and ``ModuleInformation`` of ``csynth.xml`` if it lists modules), each with its
    resources and loops; ``all_loops`` holds every loop with the module it sits in."""
    report_dir = Path(report_dir)
    report = parse_csynth_report(report_dir / f"{top}_csynth.xml")
    modules: dict[str, dict] = {}
    for path in sorted(report_dir.glob("*_csynth.xml")):
        name = path.name[:-len("_csynth.xml")]
        if name == top or path.name == "csynth.xml":
            continue
        sub = parse_csynth_report(path)
        modules[name] = {"resources": sub["resources"], "loops": sub["loops"]}
    summary = report_dir / "csynth.xml"
    if summary.is_file():
        for name, mod in _module_information(_read_xml(summary)).items():
            if name != top:
                modules.setdefault(name, mod)
    report["modules"] = modules
    loops = [dict(lp, module=top) for lp in report["loops"]]
    for name, mod in modules.items():
        loops += [dict(lp, module=name) for lp in mod["loops"]]
    report["all_loops"] = loops
    return report


# ------------------------------------------------------------------------------------------------
# The gate: the latency model's loops at II 1, the resources within the budget
# ------------------------------------------------------------------------------------------------

GATED_RESOURCES = {"DSP": "dsp", "BRAM_18K": "bram18", "LUT": "lut", "FF": "ff"}  # report key -> dse.devices field


def loop_label(name: str, labels: Iterable[str]) -> str | None:
    """The latency-model label a report loop's own name carries (module docstring), or None."""
    own = name.rsplit("/", 1)[-1]
    spans = []
    for label in labels:
        for m in re.finditer(rf"(?<![A-Za-z0-9]){re.escape(label)}(?![A-Za-z0-9])", own):
            spans.append((m.start(), m.end(), label))
    # drop a match inside a longer one (ACC inside ACC_BYPASS)
    kept = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0])
                                        for o in spans)]
    return max(kept, key=lambda s: s[1] - s[0])[2] if kept else None


@dataclass
class GateResult:
    """What the gate found: per label the report loops it matched, the budget and the failures."""

    loops: dict[str, list[dict]]
    used: dict[str, int | None]
    budget: dict[str, int]
    failures: list[str]
    device: str
    cap: float

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {"ok": self.ok, "failures": list(self.failures), "device": self.device, "cap": self.cap,
                "budget": dict(self.budget), "used": dict(self.used),
                "loops": {k: [{"module": lp["module"], "name": lp["name"], "PipelineII": lp.get("PipelineII")}
                              for lp in v] for k, v in self.loops.items()}}

    def check(self, report_path=None, report: dict | None = None) -> None:
        """Raise GateFailure naming every failure."""
        if self.failures:
            where = f" (figures in {report_path})" if report_path else ""
            raise GateFailure("the synthesised design does not hold what the models assume" + where + ": "
                              + "; ".join(self.failures), report)


class GateFailure(ZynqyoloError):
    """The gate failed; ``report`` is the synthesis report it judged (written to report.json)."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


def gate(report: dict, config: HwConfig, *, cap: float | None = None, labels: Sequence[str] | None = None
         ) -> GateResult:
    """Check a ``synthesis_report`` against the latency model's loops and the design point's budget."""
    from zynqyolo.dse import devices, explore, perf

    cap = explore.DEFAULT_CAP if cap is None else explore.check_cap(cap)
    labels = tuple(perf.design_loop_labels(config) if labels is None else labels)
    failures: list[str] = []
    found: dict[str, list[dict]] = {label: [] for label in labels}
    for lp in report.get("all_loops", [dict(lp, module=report.get("top")) for lp in report.get("loops", [])]):
        label = loop_label(lp["name"], labels)
        if label is not None:
            found[label].append(lp)
    for label in labels:
        matches = found[label]
        if not matches:
            failures.append(f"loop {label} is missing from the synthesis report (renamed, merged, flattened or "
                            "unrolled away?); the latency model times it at II 1")
            continue
        seen = set()
        for lp in matches:
            ii = lp.get("PipelineII")
            if ii == 1:
                continue
            what = "is not pipelined (no II)" if ii is None else f"has II {ii}"
            msg = f"loop {label} ({lp['module']}: {lp['name']}) {what}; the latency model assumes II 1"
            if msg not in seen:
                seen.add(msg)
                failures.append(msg)
    try:
        device = devices.get_device(config.part)
    except ValueError as exc:
        raise ZynqyoloError(f"the design point's part: {exc}") from None
    used = {k: report.get("resources", {}).get(k) for k in GATED_RESOURCES}
    budget = {k: math.floor(cap * getattr(device, f)) for k, f in GATED_RESOURCES.items()}
    for k, f in GATED_RESOURCES.items():
        v = used[k]
        if not isinstance(v, (int, float)):
            failures.append(f"the synthesis report gives no {k} figure")
        elif v > budget[k]:
            failures.append(f"{k} {v:,} exceeds the budget of {budget[k]:,} ({cap:g} x {getattr(device, f):,} on "
                            f"{device.part})")
    return GateResult(found, used, budget, failures, device.part, cap)


# ------------------------------------------------------------------------------------------------
# The resource model beside the report
# ------------------------------------------------------------------------------------------------

# Which of the model's blocks (dse.blocks.design_resources) sit in which dataflow process of the
# kernels (hls/include/zy_accel.h); the report's module of a process is the shortest module name
# that is the process's name or starts with it and "_" (Vitis HLS appends the template arguments).
# Blocks in no row (control, loop logic: they are spread over every process) go to the last row,
# whose report side is the top's total less the process modules.
PROCESS_BLOCKS = (
    ("stage 1 (conv_stage)", ("conv_stage",), ("conv_engine", "line_buffer", "weight_buffer", "wino_window",
                                               "wino_data_transform", "wino_output_transform", "filter_transform")),
    ("stage 2 (accumulate_stage)", ("accumulate_stage",), ("accumulate_tile",)),
    ("detile (detile)", ("detile",), ("detile",)),
    ("stage 3 (stage3)", ("stage3",), ("stage3",)),
    ("stream I/O (read_input_stream, write_output)", ("read_input_stream", "write_output"), ("stream_io_dma",)),
)
REST_ROW = "control, loop logic, AXI-Lite, FIFOs (the rest)"
_MODEL_KEYS = {"DSP": "dsp", "BRAM_18K": "bram18", "LUT": "lut", "FF": "ff"}


def model_resources(config: HwConfig) -> dict[str, dict[str, int]]:
    """The resource model's estimate per block (``dse.blocks.design_resources``), as plain dicts."""
    from zynqyolo.dse.blocks import design_resources
    from zynqyolo.model.fixed import sigmoid_lut

    return {k: v.to_dict() for k, v in design_resources(config, sigmoid_lut(config.bits).entries).items()}


def _process_module(modules: dict, process: str) -> str | None:
    names = [m for m in modules if m == process or m.startswith(process + "_")]
    names = [m for m in names if "_Pipeline_" not in m[len(process):]] or names
    return min(names, key=len) if names else None


def model_vs_report(config: HwConfig, report: dict | None) -> list[dict]:
    """Rows of (what, model blocks, model resources, report modules, report resources), per dataflow
    process, the rest and the total. Without a report the report side is None."""
    model = model_resources(config)
    keys = list(_MODEL_KEYS)
    modules = (report or {}).get("modules", {})

    def msum(blocks) -> dict:
        return {k: sum(model[b][_MODEL_KEYS[k]] for b in blocks) for k in keys}

    def rsum(names) -> dict | None:
        if report is None or not names or any(n is None for n in names):
            return None
        return {k: sum((modules[n]["resources"].get(k) or 0) for n in names) for k in keys}

    rows, assigned, matched = [], set(), []
    for what, processes, blocks in PROCESS_BLOCKS:
        blocks = [b for b in blocks if b in model]
        assigned.update(blocks)
        names = [_process_module(modules, p) for p in processes] if report is not None else []
        matched += [n for n in names if n]
        rows.append({"what": what, "blocks": blocks, "model": msum(blocks),
                     "modules": [n for n in names if n], "report": rsum(names)})
    rest = [b for b in model if b not in assigned]
    top = (report or {}).get("resources")
    rest_report = None
    if report is not None and top and all(r["report"] is not None for r in rows):
        rest_report = {k: (top.get(k) or 0) - sum(r["report"][k] for r in rows) for k in keys}
    rows.append({"what": REST_ROW, "blocks": rest, "model": msum(rest), "modules": [TOP], "report": rest_report})
    rows.append({"what": "total", "blocks": list(model), "model": msum(model), "modules": [TOP],
                 "report": ({k: top.get(k) for k in keys} if top else None)})
    return rows


__all__ = ["COSIM_PASS", "GATED_RESOURCES", "GateFailure", "GateResult", "PROCESS_BLOCKS", "check_simulation_log", "find_tool",
           "gate", "loop_label", "model_resources", "model_vs_report", "parse_csynth_report", "run_hls",
           "step_sections", "synthesis_report", "tool_version"]
