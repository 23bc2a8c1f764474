"""The HLS flow: from a ``HwConfig`` to a Vivado/Vitis HLS project, and running it.

``write_hls_project`` writes a self-contained project folder (a sibling temporary folder renamed
into place, so a failure leaves nothing half-written)::

    <out>/run_hls.tcl        generated: the design point's settings + the body in hls/tcl/run_hls.tcl
    <out>/build/             the generated configuration header (zynqyolo.hls.header)
    <out>/src/include, top/  copies of the kernel sources, plus the top's declaration for the testbench
    <out>/tb/                the C testbench (hls/tb) and vectors.txt, the calls it replays
    <out>/project.json       what was generated, from which design point, with sha256 of every file

``run_hls`` runs the tool once over the selected steps (csim, csynth, cosim, export), logs to
``<out>/hls.log`` and turns the C-synthesis report into ``<out>/report.json``. The exported IP
(``<out>/hls_prj/sol/impl/ip``) is what the Vivado flow (``zynqyolo.hls.bitstream``) instantiates;
its VLNV carries the design hash (``ip_vlnv``).

Tool facts this relies on (Vivado HLS UG902, Vitis HLS UG1399): ``open_project``/``open_solution``
``-reset``, ``add_files [-tb] -cflags``, ``set_part``, ``create_clock -period <ns>``,
``csim_design -argv``, ``cosim_design -rtl verilog -argv``, ``export_design -format ip_catalog
-vendor -library -ipname -version -display_name -description``; the report is
``<solution>/syn/report/<top>_csynth.xml``; ports whose C name is an HDL keyword get ``_r``
(``in`` -> ``in_r``, ``out`` -> ``out_r``). Vitis HLS takes C++14; Vivado HLS (gcc 4.6 in csim)
only ``-std=c++0x``, so kernels that need C++14 build with Vitis HLS only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from zynqyolo.atomic import write_bytes_atomic, write_text_atomic
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

HLS_DIR = Path(__file__).resolve().parent  # the kernel sources: include/, top/, tb/, tcl/
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

HLS_TOOLS = ("vitis_hls", "vivado_hls")  # preference order of find_tool
STEPS = ("csim", "csynth", "cosim", "export")
DEFAULT_STEPS = ("csim", "csynth", "export")  # cosim is optional: minutes to hours
CXX_STD = {"vitis_hls": "-std=c++14", "vivado_hls": "-std=c++0x"}
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


def tcl_word(value) -> str:
    """A Tcl word in braces; refuses what braces cannot carry verbatim."""
    text = str(value)
    if any(c in text for c in "{}\\\n\r"):
        raise ValueError(f"cannot quote {text!r} as a Tcl word")
    return "{" + text + "}"


def tcl_list(values: Iterable) -> str:
    return "{" + " ".join(tcl_word(v) for v in values) + "}"


# ------------------------------------------------------------------------------------------------
# Test vectors: calls the testbench replays
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestVector:
    """One call of the top: register values, input/parameter stream words and the expected output.

    Words are bus words stored as uint64 chunks, low chunk first (``bus_bits // 64`` per word)."""

    __test__ = False  # not a pytest class

    name: str
    registers: dict
    in_words: np.ndarray
    wts_words: np.ndarray
    out_words: np.ndarray
    source: str  # how the expected output was obtained


def _random_words(rng, n: int) -> np.ndarray:
    """``n`` uniformly random 64-bit words."""
    return rng.integers(0, 1 << 32, size=(n, 2), dtype=np.uint64) @ np.array([1 << 32, 1], dtype=np.uint64)


def _chunks(config: HwConfig) -> int:
    if config.bus_bits % 64:
        raise ValueError(f"HwConfig.bus_bits={config.bus_bits}: the vectors store 64-bit chunks")
    return config.bus_bits // 64


def stage3_registers(config: HwConfig, stage3: int, height: int, width: int, channels: int,
                     pool_stride: int = 1) -> dict:
    """Registers of a conv-bypassed call (stage 3 only), as ``dse.plan.make_plan`` sets them."""
    regs = {"conv_enable": 0, "leaky": 0, "ksize": 1, "stage3": stage3, "pool_stride": pool_stride,
            "height": height, "width": width, "in_channels_a": channels, "in_channels_b": 0,
            "out_channels": channels, "out_folds": config.folds(channels), "bands": 1, "band_rows": height,
            "yolo_period": 0, "yolo_shift": 0}
    fields = config.register_fields()
    if set(regs) != set(fields):
        raise ValueError(f"register fields changed: HwConfig has {sorted(fields)}, vectors set {sorted(regs)}")
    for name, value in regs.items():
        if not 0 <= value < 1 << fields[name]:
            raise ValueError(f"register {name}={value} does not fit its {fields[name]}-bit field")
    return {name: regs[name] for name in fields}


def upsample_vector(config: HwConfig, height: int = 3, width: int = 5, channels: int | None = None,
                    seed: int = 0) -> TestVector:
    """A conv-bypassed x2 upsample call on random words; its output follows from the DDR layout
    alone (``HwConfig``: fold-major ``[fold][row][col][lanes]``), so no kernel code computes it.

    Default channels: one full fold plus one bus word, so the call has a narrower last fold."""
    if channels is None:
        channels = config.p_oc + config.lanes_per_word
    channels = min(channels, config.max_in_channels, config.max_out_channels)
    if 2 * height > config.max_height or 2 * width > config.max_width:
        raise ValueError(f"upsample vector {height}x{width} exceeds the design's maxima")
    chunks = _chunks(config)
    rng = np.random.default_rng(seed)
    ins, outs = [], []
    for lanes in config.fold_lanes(channels):
        words_per_pixel = lanes * config.bits // config.bus_bits
        x = _random_words(rng, height * width * words_per_pixel * chunks).reshape(height, width, -1)
        ins.append(x.ravel())
        outs.append(np.repeat(np.repeat(x, 2, axis=0), 2, axis=1).ravel())
    regs = stage3_registers(config, stage3=2, height=height, width=width, channels=channels)
    return TestVector(f"upsample_{channels}x{height}x{width}", regs, np.concatenate(ins),
                      np.zeros(0, dtype=np.uint64), np.concatenate(outs), "DDR layout (word replication)")


def vector_from_csim(config: HwConfig, name: str, registers: dict, in_words: np.ndarray,
                     wts_words: np.ndarray) -> TestVector:
    """A vector whose expected output comes from the project's C simulation (zynqyolo.hls.csim) in
    its ``ap_int`` flavour, the arithmetic the HLS tools compile."""
    try:
        from .csim import CsimAccelerator
    except ImportError as exc:
        raise ZynqyoloError(f"the Python C simulation (zynqyolo.hls.csim) is not available: {exc}") from None
    in_words, wts_words = np.asarray(in_words, np.uint64), np.asarray(wts_words, np.uint64)
    result = CsimAccelerator(config, native=False).call(dict(registers), in_words, wts_words)
    return TestVector(name, dict(registers), in_words, wts_words, np.asarray(result.out_words, np.uint64).ravel(),
                      "zynqyolo.hls.csim (ap_int flavour)")


def conv_vector(config: HwConfig, height: int = 4, width: int = 6, seed: int = 1) -> TestVector:
    """A 3x3 conv + leaky + 2x2/2 max-pool call over two input and two output folds on random
    activations and weights, expected output from the C simulation in its ``ap_int`` flavour (what
    the HLS tools compile). The parameter stream starts with ``out_folds * p_oc`` preamble entries,
    one 64-bit word each (bias in bits [0, 48), requantisation shift in [48, 54), zynqyolo.hls.header);
    they get small biases and shifts so the outputs spread over the code range."""
    from .registers import call_words

    if config.bus_bits != 64:
        raise ZynqyoloError("conv_vector packs one 64-bit preamble entry per bus word: bus_bits must be 64")
    channels = min(config.p_oc + config.lanes_per_word, config.max_in_channels, config.max_out_channels)
    band_rows = min(height, max(1, config.tile_pixels // width))
    band_rows -= band_rows % 2 if band_rows < height else 0
    regs = {**stage3_registers(config, stage3=1, height=height, width=width, channels=channels, pool_stride=2),
            "conv_enable": 1, "leaky": 1, "ksize": 3, "bands": -(-height // band_rows), "band_rows": band_rows}
    lengths = call_words(config, regs)
    rng = np.random.default_rng(seed)
    in_words = _random_words(rng, lengths.in_words)
    wts_words = _random_words(rng, lengths.wts_words)
    n_entries = config.folds(channels) * config.p_oc
    bias = rng.integers(-(1 << 20), 1 << 20, size=n_entries, dtype=np.int64).astype(np.uint64)
    bias &= np.uint64((1 << 48) - 1)
    # A 3x3 sum over 28 channels of random 16-bit products has a standard deviation near 2**32 (8-bit:
    # 2**16): shifts of 19..22 (10..13) bring it into the output code range, with a little saturation.
    shift = rng.integers(19 if config.bits == 16 else 10, 23 if config.bits == 16 else 14, size=n_entries,
                         dtype=np.uint64)
    wts_words[:n_entries] = bias | (shift << np.uint64(48))
    name = f"conv3x3_pool2_{channels}x{height}x{width}"
    return vector_from_csim(config, name, {n: regs[n] for n in config.register_fields()}, in_words, wts_words)


def default_vectors(config: HwConfig, log: Callable[[str], None] | None = None) -> list[TestVector]:
    """The upsample call (always), and a conv call when the Python C simulation can build."""
    vectors = [upsample_vector(config)]
    try:
        vectors.append(conv_vector(config))
    except (ZynqyoloError, ValueError) as exc:
        if log is not None:
            log(f"note: no conv test vector ({exc}); the testbench replays the upsample call only")
    return vectors


def render_vectors(config: HwConfig, vectors: Sequence[TestVector]) -> str:
    """The vectors file the testbench reads (see hls/tb/tb_yolo_accel.cpp)."""
    chunks = _chunks(config)
    fields = config.register_fields()
    lines = ["zynqyolo-vectors 1", f"design {config.content_hash}"]
    for v in vectors:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", v.name):
            raise ValueError(f"vector name {v.name!r}: use letters, digits, '_', '.', '-'")
        if set(v.registers) != set(fields):
            raise ValueError(f"vector {v.name}: registers {sorted(v.registers)} != fields {sorted(fields)}")
        lines.append(f"call {v.name}")
        lines += [f"reg {n} {int(v.registers[n])}" for n in fields]
        lines.append("words")
        for kind, words in (("in", v.in_words), ("wts", v.wts_words), ("out", v.out_words)):
            words = np.asarray(words, dtype=np.uint64).ravel()
            if words.size % chunks:
                raise ValueError(f"vector {v.name}: {kind} has {words.size} chunks, "
                                 f"not whole {config.bus_bits}-bit words")
            lines.append(f"{kind} {words.size // chunks}")
            lines += [" ".join(f"{int(w):016x}" for w in words[i:i + 8]) for i in range(0, words.size, 8)]
    return "\n".join(lines) + "\n"


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
    return "\n".join([f"// {DECL_FILE}: GENERATED by zynqyolo.hls.flow from {TOP_FILE}. Do not edit.",
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
        return self.solution_dir / "syn" / "report" / f"{TOP}_csynth.xml"

    @property
    def report_json(self) -> Path:
        return self.root / "report.json"

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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        "zy_std": CXX_STD[tool],
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
        f"# run_hls.tcl: GENERATED by zynqyolo.hls.flow for design {config.name}. Do not edit; regenerate "
        "with 'zynqyolo hls'.",
        f"# design point: {json.dumps(config.to_dict(), sort_keys=True)}",
        f"# run in this folder:  {ENV_STEPS}=\"{' '.join(default_steps)}\" {tool} -f run_hls.tcl",
        "",
        *(f"set {k:<{width}}{tcl_word(v)}" for k, v in settings.items()),
        f"set {'zy_default_steps':<{width}}{tcl_list(default_steps)}",
        "",
    ]
    return "\n".join(lines) + "\n" + body


def write_hls_project(config: HwConfig, out_dir, tool: str = "vitis_hls", *,
                      steps: Sequence[str] = DEFAULT_STEPS, src_root: Path | None = None,
                      render_header: Callable[[HwConfig], str] | None = None,
                      vectors: Sequence[TestVector] | None = None,
                      log: Callable[[str], None] | None = None) -> HlsProject:
    """Write the HLS project for ``config`` into ``out_dir`` (replacing a previous one).

    ``vectors``: the calls the testbench replays (default: ``default_vectors``)."""
    if tool not in CXX_STD:
        raise ZynqyoloError(f"unknown HLS tool {tool!r}; choose from {', '.join(HLS_TOOLS)}")
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
    return HlsProject(out_dir, tool, config, steps, files)


def load_project(root) -> HlsProject:
    """The project in ``root`` as ``write_hls_project`` wrote it."""
    root = Path(root).resolve()
    try:
        meta = json.loads((root / PROJECT_FILE).read_text())
        if meta.get("format") != PROJECT_FORMAT:
            raise ValueError("not a zynqyolo HLS project")
        config = HwConfig.from_dict(meta["design"])
        return HlsProject(root, meta["tool"], config, tuple(meta["default_steps"]), meta["files"])
    except FileNotFoundError:
        raise ZynqyoloError(f"{root}: no {PROJECT_FILE}; write the project with 'zynqyolo hls' first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ZynqyoloError(f"{root / PROJECT_FILE}: unreadable HLS project description: {exc}") from None


# ------------------------------------------------------------------------------------------------
# Running the tool
# ------------------------------------------------------------------------------------------------


def find_tool(preferred: str | None = None) -> str | None:
    """``vitis_hls`` or ``vivado_hls`` if on PATH (``preferred`` only, if given), else None."""
    for tool in ((preferred,) if preferred else HLS_TOOLS):
        if tool not in CXX_STD:
            raise ZynqyoloError(f"unknown HLS tool {tool!r}; choose from {', '.join(HLS_TOOLS)}")
        if shutil.which(tool):
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


__all__ = ["DEFAULT_STEPS", "HLS_TOOLS", "HlsProject", "STEPS", "TestVector", "conv_vector", "default_vectors",
           "find_tool", "ip_vlnv", "load_project", "normalize_steps", "parse_csynth_report", "render_run_hls",
           "render_vectors", "rtl_port", "run_hls", "staged_dir", "top_declaration", "upsample_vector",
           "vector_from_csim", "write_hls_project"]
