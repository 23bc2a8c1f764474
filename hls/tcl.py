"""The HLS project: from a ``HwConfig`` to a Vitis HLS project folder and its Tcl.

``write_hls_project`` writes a self-contained project folder (a sibling temporary folder renamed
into place, so a failure leaves nothing half-written)::

    <out>/run_hls.tcl        generated: the design point's settings + the body in hls/tcl/run_hls.tcl
    <out>/build/             the generated configuration header (zynqyolo.hls.header)
    <out>/src/include, top/  copies of the kernel sources, plus the top's declaration for the testbench
    <out>/tb/                the C testbench (hls/tb) and vectors.txt, the calls it replays (zynqyolo.hls.vectors)
    <out>/project.json       what was generated, from which design point, with sha256 of every file

This module also holds the names the flows share: the top and its files, the project layout, the
HLS steps and tools, the top's AXI4-Stream arguments and their RTL port names, and the exported
IP's VLNV (``ip_vlnv``, which carries the design hash). Running the tool and reading its reports
is ``zynqyolo.hls.tools``; the Vivado flow that instantiates the exported IP
(``<out>/hls_prj/sol/impl/ip``) is ``zynqyolo.hls.bitstream``.

The supported tool is Vitis HLS 2022.2 or later, run as ``vitis_hls -f`` (UG1399 2022.2 "vitis_hls
Command"), with the Vivado of the same release for the bitstream (``SUPPORTED_TOOLS``). Vivado HLS
(2020.1 and earlier) is refused: its csim compiler (gcc 4.6) takes at most ``-std=c++0x`` while
the kernels and testbench need C++14, it has no BIND_OP/BIND_STORAGE pragmas, and it maps the
fields of a user-defined stream struct to side channels by name, which Vitis HLS does not (the top
uses ``ap_axiu``, UG1399 "AXI4-Stream Interfaces").

Tool facts this relies on (UG1399): ``open_project``/``open_solution -reset -flow_target vivado``,
``add_files [-tb] -cflags``, ``set_part``, ``create_clock -period <ns>``, ``csim_design -argv``,
``cosim_design -rtl verilog -argv`` (it runs the testbench twice: in C to record the transactions,
then against the RTL, and ends with "C/RTL co-simulation finished: PASS" or FAIL), ``export_design
-format ip_catalog -vendor -library -ipname -version -display_name -description``; ports whose C
name is an HDL keyword get ``_r`` (``in`` -> ``in_r``, ``out`` -> ``out_r``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from zynqyolo.atomic import write_bytes_atomic, write_text_atomic
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

from . import HLS_DIR
from .vectors import TestVector, default_vectors, render_vectors

TOP = "yolo_accel"
TOP_FILE = f"{TOP}.cpp"
TB_FILE = "tb_yolo_accel.cpp"
DECL_FILE = f"{TOP}_decl.h"  # the top's declaration, for the testbench
HEADER_FILE = "zynqyolo_config.h"
VECTORS_FILE = "vectors.txt"
PROJECT_FILE = "project.json"
PROJECT_FORMAT = "zynqyolo-hls-project"
PROJECT_NAME = "hls_prj"
SOLUTION = "sol"

HLS_TOOLS = ("vitis_hls",)  # the one supported HLS tool (module docstring)
HLS_TOOL = HLS_TOOLS[0]
MIN_TOOL_VERSION = (2022, 2)  # Vitis HLS and Vivado of one release, 2022.2 or later
SUPPORTED_TOOLS = "Vitis HLS 2022.2 or later with the Vivado of the same release (e.g. Vitis HLS + Vivado 2022.2)"
REFUSED_TOOLS = {"vivado_hls": "Vivado HLS (2020.1 and earlier) is not supported: its csim takes at most C++0x and it "
                               "lacks BIND_OP/BIND_STORAGE; use Vitis HLS 2022.2 or later (--tool vitis_hls)"}
STEPS = ("csim", "csynth", "cosim", "export")
# C/RTL co-simulation of the test vectors (an upsample, a conv + pool and a YOLO call, kept small) is
# part of every run: the calls take seconds of RTL simulation after the simulator compiles the RTL.
DEFAULT_STEPS = STEPS
CXX_STD = "-std=c++14"  # the kernels and the testbench need C++14 (Vitis HLS's default front end takes it)
ENV_STEPS = "ZYNQYOLO_HLS_STEPS"

IP_VENDOR = "zynqyolo"
IP_LIBRARY = "hls"
IP_VERSION = "1.0"  # VLNV versions are numeric major.minor; the design hash lives in the IP name

# The top's AXI4-Stream arguments (C names) and what feeds them.
STREAMS = {"in": "DMA0 MM2S (feature maps)", "wts": "DMA1 MM2S (parameters)", "out": "DMA0 S2MM (results)"}
CONTROL_BUNDLE = "control"  # s_axilite bundle: the RTL interface is s_axi_control
# Argument names HLS renames for the RTL because they are HDL keywords: it appends "_r" (exported
# IP shows in -> in_r, out -> out_r). Only these two matter here; the Vivado script checks that the
# exported IP has every interface it wires and names the ones it has if not.
_HDL_KEYWORDS = frozenset({"in", "out", "inout", "input", "output", "signal", "port", "range", "type"})


def rtl_port(c_name: str) -> str:
    """The RTL port name HLS gives to a top-level argument."""
    return f"{c_name}_r" if c_name in _HDL_KEYWORDS else c_name


def ip_name(config: HwConfig) -> str:
    return f"{TOP}_{config.content_hash[:8]}"


def ip_vlnv(config: HwConfig) -> str:
    """The accelerator IP's vendor:library:name:version; the name carries the design hash."""
    return f"{IP_VENDOR}:{IP_LIBRARY}:{ip_name(config)}:{IP_VERSION}"


def check_tool(tool: str) -> str:
    """``tool`` if it is the supported HLS tool, else a ZynqyoloError saying what to use."""
    if tool in REFUSED_TOOLS:
        raise ZynqyoloError(REFUSED_TOOLS[tool])
    if tool not in HLS_TOOLS:
        raise ZynqyoloError(f"unknown HLS tool {tool!r}; the supported one is {HLS_TOOL} ({SUPPORTED_TOOLS})")
    return tool


def parse_tool_version(text: str | None) -> tuple[int, int] | None:
    """(year, release) of a version string such as "2022.2" or "v2023.1 (64-bit)", else None."""
    m = re.search(r"(20\d\d)\.(\d)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_tool_version(tool: str, version: str | None) -> None:
    """Refuse a tool older than MIN_TOOL_VERSION (an unknown version passes: the report says later)."""
    got = parse_tool_version(version)
    if got is not None and got < MIN_TOOL_VERSION:
        raise ZynqyoloError(f"{tool} {got[0]}.{got[1]} is older than the supported "
                            f"{MIN_TOOL_VERSION[0]}.{MIN_TOOL_VERSION[1]}: {SUPPORTED_TOOLS}")


def tcl_word(value) -> str:
    """A Tcl word in braces; refuses what braces cannot carry verbatim."""
    text = str(value)
    if any(c in text for c in "{}\\\n\r"):
        raise ValueError(f"cannot quote {text!r} as a Tcl word")
    return "{" + text + "}"


def tcl_list(values: Iterable) -> str:
    return "{" + " ".join(tcl_word(v) for v in values) + "}"


# ------------------------------------------------------------------------------------------------
# The top's declaration
# ------------------------------------------------------------------------------------------------


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group()), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def top_declaration(top_source: str, top: str = TOP) -> str:
    """A header declaring the top function, extracted from its definition (the includes it needs
    and its signature), for a testbench that must not include the definition."""
    code = _strip_comments(top_source)
    match = re.search(rf"\bvoid\s+{re.escape(top)}\s*\(", code)
    if match is None:
        raise ZynqyoloError(f"{TOP_FILE}: no definition 'void {top}(...)' found")
    depth, i = 1, match.end()
    while depth and i < len(code):
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        i += 1
    if depth:
        raise ZynqyoloError(f"{TOP_FILE}: unbalanced parentheses in the signature of {top}")
    params = " ".join(code[match.end():i - 1].split())
    includes = [line.strip() for line in code.splitlines() if line.strip().startswith("#include")]
    return "\n".join([f"// {DECL_FILE}: GENERATED by zynqyolo.hls.tcl from {TOP_FILE}. Do not edit.",
                      "#pragma once", *includes, "", f"void {top}({params});", ""])


def top_stream_args(top_source: str, top: str = TOP) -> list[str]:
    """Names of the top's ``hls::stream`` arguments, in order."""
    decl = top_declaration(top_source, top)
    params = decl[decl.index(f"void {top}(") + len(top) + 6:decl.rindex(");")]
    names, depth, current = [], 0, ""
    for ch in params + ",":
        if ch == "," and depth == 0:
            if "stream" in current:
                names.append(re.findall(r"[A-Za-z_]\w*", current)[-1])
            current = ""
            continue
        depth += {"<": 1, ">": -1, "(": 1, ")": -1}.get(ch, 0)
        current += ch
    return names


# ------------------------------------------------------------------------------------------------
# The project
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HlsProject:
    root: Path
    tool: str
    config: HwConfig
    default_steps: tuple[str, ...]
    files: dict = field(default_factory=dict, compare=False)  # relative path -> sha256
    vectors: tuple[str, ...] = field(default=(), compare=False)  # names of the calls the testbench replays

    top = TOP

    @property
    def script(self) -> Path:
        return self.root / "run_hls.tcl"

    @property
    def solution_dir(self) -> Path:
        return self.root / PROJECT_NAME / SOLUTION

    @property
    def ip_repo(self) -> Path:
        """Where export_design puts the packaged IP (a Vivado IP repository)."""
        return self.solution_dir / "impl" / "ip"

    @property
    def report_xml(self) -> Path:
        return self.report_dir / f"{TOP}_csynth.xml"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

    @property
    def report_dir(self) -> Path:
        """The C-synthesis reports: the top's, csynth.xml and one <module>_csynth.xml per module."""
        return self.solution_dir / "syn" / "report"

    @property
    def log(self) -> Path:
        return self.root / "hls.log"

    @property
    def vlnv(self) -> str:
        return ip_vlnv(self.config)

    def command(self) -> list[str]:
        return [self.tool, "-f", self.script.name]

    def shell_command(self, steps: Sequence[str]) -> str:
        """The exact command ``run_hls`` runs, as a shell line."""
        import shlex

        return (f"cd {shlex.quote(str(self.root))} && {ENV_STEPS}={shlex.quote(' '.join(steps))} "
                f"{shlex.join(self.command())} > {self.log.name} 2>&1")


def normalize_steps(steps: Iterable[str] | str) -> tuple[str, ...]:
    """Steps in run order; unknown names and cosim/export without csynth are refused."""
    if isinstance(steps, str):
        steps = [s for s in re.split(r"[,\s]+", steps) if s]
    steps = list(steps)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ZynqyoloError(f"unknown HLS step(s) {unknown}; choose from {', '.join(STEPS)}")
    if not steps:
        raise ZynqyoloError(f"no HLS steps given; choose from {', '.join(STEPS)}")
    for s in ("cosim", "export"):
        if s in steps and "csynth" not in steps:
            raise ZynqyoloError(f"HLS step {s} needs csynth in the same run (add csynth to the steps)")
    return tuple(s for s in STEPS if s in steps)


@contextmanager
def staged_dir(out_dir: Path, marker: str, what: str) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``out_dir``; on success it replaces ``out_dir``.

    An existing ``out_dir`` is replaced only if it holds ``marker`` (i.e. we made it); on any
    error the temporary folder is removed and ``out_dir`` is untouched."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not (out_dir / marker).is_file():
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        else:
            raise ZynqyoloError(f"{out_dir} exists and is not a {what} made by zynqyolo; choose another --out "
                                "or remove it")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=out_dir.parent))
    except OSError as exc:
        raise ZynqyoloError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    try:
        yield tmp
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _kernel_sources(src_root: Path) -> list[tuple[Path, str]]:
    """(source file, path inside the project) of the kernel headers and the top."""
    top = src_root / "top" / TOP_FILE
    if not top.is_file():
        raise ZynqyoloError(f"kernel sources not found: {top} (the accelerator top function {TOP}) is missing")
    files = [(top, f"src/top/{TOP_FILE}")]
    for extra in (src_root / "top" / f"{TOP}.h", src_root / "top" / f"{TOP}.hpp"):
        if extra.is_file():
            files.append((extra, f"src/top/{extra.name}"))
    include = src_root / "include"
    if include.is_dir():
        for header in sorted(include.rglob("*")):
            if header.is_file() and header.suffix in (".h", ".hpp"):
                files.append((header, f"src/include/{header.relative_to(include).as_posix()}"))
    return files


def render_run_hls(config: HwConfig, tool: str, default_steps: Sequence[str]) -> str:
    """The complete run_hls.tcl: settings of this design point, then the body (hls/tcl/run_hls.tcl)."""
    body = (HLS_DIR / "tcl" / "run_hls.tcl").read_text()
    settings = {
        "zy_design_hash": config.content_hash,
        "zy_top": TOP,
        "zy_top_file": TOP_FILE,
        "zy_tb_file": TB_FILE,
        "zy_part": config.part,
        "zy_period_ns": f"{1000.0 / config.clock_mhz:.3f}",
        "zy_std": CXX_STD,
        "zy_project": PROJECT_NAME,
        "zy_solution": SOLUTION,
        "zy_ip_vendor": IP_VENDOR,
        "zy_ip_library": IP_LIBRARY,
        "zy_ip_name": ip_name(config),
        "zy_ip_version": IP_VERSION,
        "zy_ip_display_name": f"zynqyolo accelerator {config.name}",
        "zy_ip_description": f"YOLOv3-tiny accelerator, design point {config.content_hash}",
    }
    width = max(map(len, settings)) + 1
    lines = [
        f"# run_hls.tcl: GENERATED by zynqyolo.hls.tcl for design {config.name}. Do not edit; regenerate "
        "with 'zynqyolo hls'.",
        f"# design point: {json.dumps(config.to_dict(), sort_keys=True)}",
        f"# run in this folder:  {ENV_STEPS}=\"{' '.join(default_steps)}\" {tool} -f run_hls.tcl",
        "",
        *(f"set {k:<{width}}{tcl_word(v)}" for k, v in settings.items()),
        f"set {'zy_default_steps':<{width}}{tcl_list(default_steps)}",
        "",
    ]
    return "\n".join(lines) + "\n" + body


def write_hls_project(config: HwConfig, out_dir, tool: str = HLS_TOOL, *,
                      steps: Sequence[str] = DEFAULT_STEPS, src_root: Path | None = None,
                      render_header: Callable[[HwConfig], str] | None = None,
                      vectors: Sequence[TestVector] | None = None,
                      log: Callable[[str], None] | None = None) -> HlsProject:
    """Write the HLS project for ``config`` into ``out_dir`` (replacing a previous one).

    ``vectors``: the calls the testbench replays (default: ``default_vectors``)."""
    check_tool(tool)
    steps = normalize_steps(steps)
    src_root = Path(src_root) if src_root is not None else HLS_DIR
    out_dir = Path(out_dir).resolve()
    if re.search(r"\s", str(out_dir)):
        raise ZynqyoloError(f"{out_dir}: the HLS tools do not handle paths with spaces; choose another --out")
    if render_header is None:
        from .header import render_header
    sources = _kernel_sources(src_root)
    top_text = sources[0][0].read_text()
    decl_headers = [rel for _, rel in sources if rel in (f"src/top/{TOP}.h", f"src/top/{TOP}.hpp")]
    if vectors is None:
        vectors = default_vectors(config, log)

    generated: dict[str, bytes] = {
        "run_hls.tcl": render_run_hls(config, tool, steps).encode(),
        f"build/{HEADER_FILE}": render_header(config).encode(),
        f"tb/{TB_FILE}": (HLS_DIR / "tb" / TB_FILE).read_bytes(),
        f"tb/{VECTORS_FILE}": render_vectors(config, vectors).encode(),
    }
    if decl_headers:
        name = decl_headers[0].rsplit("/", 1)[1]
        generated[f"src/top/{DECL_FILE}"] = f'#pragma once\n#include "{name}"\n'.encode()
    else:
        generated[f"src/top/{DECL_FILE}"] = top_declaration(top_text).encode()
    for path, rel in sources:
        generated[rel] = path.read_bytes()

    with staged_dir(out_dir, PROJECT_FILE, "HLS project") as tmp:
        for rel, data in generated.items():
            write_bytes_atomic(tmp / rel, data, make_parents=True)
        files = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(generated.items())}
        meta = {"format": PROJECT_FORMAT, "format_version": 1, "tool": tool, "top": TOP,
                "design": config.to_dict(), "design_hash": config.content_hash, "ip_vlnv": ip_vlnv(config),
                "default_steps": list(steps), "vectors": [{"name": v.name, "source": v.source} for v in vectors],
                "files": files}
        write_text_atomic(tmp / PROJECT_FILE, json.dumps(meta, indent=2) + "\n")
    return HlsProject(out_dir, tool, config, steps, files, tuple(v.name for v in vectors))


def load_project(root) -> HlsProject:
    """The project in ``root`` as ``write_hls_project`` wrote it."""
    root = Path(root).resolve()
    try:
        meta = json.loads((root / PROJECT_FILE).read_text())
        if meta.get("format") != PROJECT_FORMAT:
            raise ValueError("not a zynqyolo HLS project")
        config = HwConfig.from_dict(meta["design"])
        return HlsProject(root, check_tool(meta["tool"]), config, tuple(meta["default_steps"]), meta["files"],
                          tuple(v["name"] for v in meta.get("vectors", ())))
    except FileNotFoundError:
        raise ZynqyoloError(f"{root}: no {PROJECT_FILE}; write the project with 'zynqyolo hls' first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ZynqyoloError(f"{root / PROJECT_FILE}: unreadable HLS project description: {exc}") from None


__all__ = ["CONTROL_BUNDLE", "CXX_STD", "DEFAULT_STEPS", "ENV_STEPS", "HLS_DIR", "HLS_TOOL", "HLS_TOOLS", "HlsProject",
           "MIN_TOOL_VERSION", "STEPS", "STREAMS", "SUPPORTED_TOOLS", "TOP", "check_tool", "check_tool_version",
           "ip_name", "ip_vlnv", "load_project", "normalize_steps", "parse_tool_version", "render_run_hls", "rtl_port",
           "staged_dir", "tcl_list", "tcl_word", "top_declaration", "top_stream_args", "write_hls_project"]
