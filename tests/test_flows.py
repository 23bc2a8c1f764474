"""The HLS and Vivado flows: generated projects and scripts, their checks, the CLI, the manifest.

Without Vivado, the generated Tcl runs under tclsh against stubs of the tool commands
(``zynqyolo.hls.tclcheck``); ``vitis_hls`` and ``vivado`` are replaced by fake executables that run
the real generated scripts through the same stubs, so the orchestration (steps, logs, reports,
hand-off, manifest) runs end to end. The ``csim`` tests compile the generated testbench with g++
and Xilinx's ap_types headers; the ``vivado`` test runs the real HLS tool when it is on PATH.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zynqyolo import cli
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError
from zynqyolo.fetch import sha256_file
from zynqyolo.hls import bitstream, tcl, tclcheck, tools, vectors
from zynqyolo.hls.manifest import check_manifest, load_manifest

pytestmark = pytest.mark.skipif(tclcheck.tclsh() is None, reason="tclsh not on PATH (apt-get install tcl)")

DEFAULT = HwConfig()
PYNQ_Z2 = HwConfig(part="xc7z020clg400-1")


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``zynqyolo ...`` with the hls and build subcommands registered; returns (status, out, err)."""
    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys(cli.COMMANDS + ("hls", "build"))))

    def run(*argv):
        status = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """PATH with tclsh only: no Xilinx tools (and no g++, so no csim-computed vectors)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tclsh").symlink_to(tclcheck.tclsh())
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def _mock_top(config: HwConfig, kind: str) -> str:
    """A stand-in top that implements only the x2 upsample, in one of several signatures."""
    if kind == "struct":
        signature = ("hls::stream<ap_uint<64> >& in, hls::stream<ap_uint<64> >& wts, "
                     "hls::stream<ap_uint<64> >& out, zy::registers r")
        read, word, last = "in.read()", "ap_uint<64> w; w = x[i];", ""
        regs = "r."
    else:
        params = ", ".join(f"zy::reg_{n}_t {n}" for n in config.register_fields())
        signature = ("hls::stream<zy::mock_word>& in, hls::stream<zy::mock_word>& wts, "
                     f"hls::stream<zy::mock_word>& out, {params}")
        read, word = "in.read().data", "zy::mock_word w; w.data = x[i]; w.keep = -1;"
        last = {"scalar": "w.last = (i + 1 == x.size());", "no_tlast_end": "w.last = 0;",
                "bad_word": "w.last = (i + 1 == x.size()); if (i == 7) w.data = w.data ^ 1;"}[kind]
        regs = ""
    return textwrap.dedent(f"""\
        // mock top: x2 upsample of a bypass call, fold-major [fold][row][col][lanes]
        #include "hls_stream.h"
        #include "zynqyolo_config.h"
        #include "mock_word.h"
        #include <vector>
        void yolo_accel(/* the streams */ {signature}) {{
        #pragma HLS INTERFACE axis port=in
            const int lpw = zy::config::lanes_per_word, P = zy::config::p_oc;
            int C = (int){regs}in_channels_a, H = (int){regs}height, W = (int){regs}width;
            int padded = (C + lpw - 1) / lpw * lpw;
            std::vector<ap_uint<64> > x;
            for (int f = 0; f * P < padded; ++f) {{
                int lanes = padded - f * P < P ? padded - f * P : P, wpp = lanes / lpw;
                std::vector<ap_uint<64> > px(H * W * wpp);
                for (size_t i = 0; i < px.size(); ++i) px[i] = {read};
                for (int r = 0; r < 2 * H; ++r)
                    for (int c = 0; c < 2 * W; ++c)
                        for (int k = 0; k < wpp; ++k) x.push_back(px[((r / 2) * W + c / 2) * wpp + k]);
            }}
            for (size_t i = 0; i < x.size(); ++i) {{ {word} {last} out.write(w); }}
        }}
        """)


@pytest.fixture
def mock_src(tmp_path):
    """A kernel source tree with a mock top (upsample only); ``mock_src(kind)`` picks the signature."""

    def make(kind: str = "scalar", config: HwConfig = DEFAULT) -> Path:
        root = tmp_path / (f"src_{kind}" if config == DEFAULT else f"src_{kind}_{config.content_hash[:8]}")
        if root.is_dir():
            return root
        (root / "include").mkdir(parents=True)
        (root / "top").mkdir()
        (root / "include" / "mock_word.h").write_text(
            "#pragma once\n#include <ap_int.h>\n"
            "namespace zy { struct mock_word { ap_uint<64> data; ap_uint<8> keep; ap_uint<1> last; }; }\n")
        (root / "top" / tcl.TOP_FILE).write_text(_mock_top(config, kind))
        return root

    return make


@pytest.fixture(scope="session")
def quant_model(tmp_path_factory, model_files):
    """A 16-bit quantised YOLOv3-tiny at 64x64 (fast to calibrate and plan), saved to a file."""
    from zynqyolo.fetch import photo
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.quantize import calibrate, save_model

    network = load_cfg(model_files[0], width=64, height=64)
    model = calibrate(network, load_weights(model_files[1], network), [photo("bus")], bits=16)
    return save_model(model, tmp_path_factory.mktemp("model") / "yolo64-q16.npz"), model


@pytest.fixture
def design_file(tmp_path):
    def make(config: HwConfig = DEFAULT) -> Path:
        return config.save(tmp_path / f"design-{config.content_hash[:8]}.json")

    return make


def _upsample_only(config: HwConfig = DEFAULT):
    return [vectors.upsample_vector(config)]


# ------------------------------------------------------------------------------------------------
# HLS project
# ------------------------------------------------------------------------------------------------


def test_hls_project_files_and_hashes(tmp_path, mock_src):
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(),
                                    vectors=_upsample_only())
    meta = json.loads((project.root / tcl.PROJECT_FILE).read_text())
    assert meta["design_hash"] == DEFAULT.content_hash and meta["ip_vlnv"] == tcl.ip_vlnv(DEFAULT)
    for rel, sha in meta["files"].items():
        assert sha256_file(project.root / rel) == sha, rel
    assert {"run_hls.tcl", "build/zynqyolo_config.h", "tb/tb_yolo_accel.cpp", "tb/vectors.txt",
            "src/top/yolo_accel.cpp", "src/top/yolo_accel_decl.h", "src/include/mock_word.h"} <= set(meta["files"])
    from zynqyolo.hls.header import render_header

    assert (project.root / "build/zynqyolo_config.h").read_text() == render_header(DEFAULT)
    assert tcl.load_project(project.root) == project


def _calls(run, name):
    return run.commands(name)


def test_hls_tcl_follows_the_design_point(tmp_path, mock_src):
    config = HwConfig(clock_mhz=142.857143, part="xc7z020clg400-1")
    project = tcl.write_hls_project(config, tmp_path / "prj", "vitis_hls", src_root=mock_src(config=config),
                                    vectors=_upsample_only(config))
    run = tclcheck.check_hls_script(project.script)  # syntax, stubs, every file and -I folder exists
    assert _calls(run, "set_top") == [["yolo_accel"]]
    assert _calls(run, "set_part") == [["xc7z020clg400-1"]]
    assert _calls(run, "create_clock") == [["-period", "7.000", "-name", "default"]]
    src, tb = _calls(run, "add_files")
    assert src[0] == str(project.root / "src/top/yolo_accel.cpp") and tb[:2] == ["-tb", str(project.root / "tb" /
                                                                                             tcl.TB_FILE)]
    cflags = src[src.index("-cflags") + 1].split()
    assert cflags[0] == "-std=c++14" and f"-I{project.root / 'build'}" in cflags  # the generated header
    assert _calls(run, "open_solution") == [["-reset", "-flow_target", "vivado", "sol"]]
    vectors_file = str(project.root / "tb" / tcl.VECTORS_FILE)
    assert _calls(run, "csim_design") == [["-argv", vectors_file]]
    assert _calls(run, "cosim_design") == [["-rtl", "verilog", "-argv", vectors_file]]  # cosim is a default step
    order = [c["cmd"] for c in run.calls if c["cmd"].endswith("_design")]
    assert order == ["csim_design", "csynth_design", "cosim_design", "export_design"]
    [export] = _calls(run, "export_design")
    opts = dict(zip(export[::2], export[1::2]))
    assert opts["-format"] == "ip_catalog"
    assert f"{opts['-vendor']}:{opts['-library']}:{opts['-ipname']}:{opts['-version']}" == tcl.ip_vlnv(config)
    assert config.content_hash[:8] in opts["-ipname"] and config.content_hash in opts["-description"]
    assert _calls(run, "exit") == [["0"]]


def test_vitis_hls_is_the_one_supported_tool(tmp_path, mock_src):
    """Vitis HLS 2022.2 or later; Vivado HLS (C++0x csim, no BIND_OP) is refused with the reason."""
    assert tcl.HLS_TOOLS == ("vitis_hls",) and tcl.MIN_TOOL_VERSION == (2022, 2) and tcl.CXX_STD == "-std=c++14"
    with pytest.raises(ZynqyoloError, match=r"Vivado HLS .* not supported.*C\+\+0x.*Vitis HLS 2022.2"):
        tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vivado_hls", src_root=mock_src(), vectors=_upsample_only())
    assert not (tmp_path / "prj").exists()
    with pytest.raises(ZynqyoloError, match="unknown HLS tool 'vitis'"):
        tools.find_tool("vitis")
    assert [tcl.parse_tool_version(t) for t in ("2022.2", "v2023.1 (64-bit)", "", None)] == [
        (2022, 2), (2023, 1), None, None]
    tcl.check_tool_version("vitis_hls", "2022.2")
    tcl.check_tool_version("vitis_hls", "2024.1")
    tcl.check_tool_version("vitis_hls", None)  # unknown: the report's version is checked after the run
    for old in ("2020.2", "2022.1"):
        with pytest.raises(ZynqyoloError, match=f"vitis_hls {old} is older than the supported 2022.2"):
            tcl.check_tool_version("vitis_hls", old)
    bitstream.check_tool_pair("2022.2", "2022.2")
    bitstream.check_tool_pair("2022.2", None)
    with pytest.raises(ZynqyoloError, match="Vitis HLS 2022.2 exported the IP but vivado is 2023.1"):
        bitstream.check_tool_pair("2022.2", "2023.1")


def test_hls_steps_are_selectable(tmp_path, mock_src):
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(),
                                    steps=("csynth", "cosim"), vectors=_upsample_only())
    run = tclcheck.run_stubbed(project.script, "hls")
    assert run.ok() and [c["cmd"] for c in run.calls if c["cmd"].endswith("_design")] == ["csynth_design",
                                                                                            "cosim_design"]
    run = tclcheck.run_stubbed(project.script, "hls", env={tcl.ENV_STEPS: "csim"})
    assert run.ok() and [c["cmd"] for c in run.calls if c["cmd"].endswith("_design")] == ["csim_design"]
    run = tclcheck.run_stubbed(project.script, "hls", env={tcl.ENV_STEPS: "export"})
    assert run.status == 1 and not [c for c in run.calls if c["cmd"].endswith("_design")]
    run = tclcheck.run_stubbed(project.script, "hls", env={tcl.ENV_STEPS: "csim bogus"})
    assert run.status == 1
    assert tcl.normalize_steps("export,csim,csynth") == ("csim", "csynth", "export")
    for bad in ("cosim", "csim,synth", ""):
        with pytest.raises(ZynqyoloError):
            tcl.normalize_steps(bad)


def test_top_declaration_and_stream_ports():
    source = textwrap.dedent("""\
        #include "a.h"  // first
        /* void yolo_accel(int commented_out); */
        #include <vector>
        template <int N> void helper(int (&x)[N]) {}
        void yolo_accel(hls::stream<word_t>& in,   // feature maps
                        hls::stream<std::pair<int, int> >& wts,
                        hls::stream<word_t>& out, ap_uint<9> height, zy::reg_width_t width) {
            helper(x);
        }
        """)
    decl = tcl.top_declaration(source)
    assert '#include "a.h"' in decl and "#include <vector>" in decl and "commented_out" not in decl
    assert decl.rstrip().endswith("void yolo_accel(hls::stream<word_t>& in, hls::stream<std::pair<int, int> >& wts, "
                                  "hls::stream<word_t>& out, ap_uint<9> height, zy::reg_width_t width);")
    assert tcl.top_stream_args(source) == ["in", "wts", "out"]
    assert [tcl.rtl_port(n) for n in ("in", "wts", "out")] == ["in_r", "wts", "out_r"]
    with pytest.raises(ZynqyoloError, match="no definition"):
        tcl.top_declaration("void other(int x) {}")


def test_real_top_has_the_ports_the_block_design_wires():
    source = (tcl.HLS_DIR / "top" / tcl.TOP_FILE).read_text()
    assert tcl.top_stream_args(source) == list(tcl.STREAMS)
    decl = tcl.top_declaration(source)
    assert decl.count("zy::reg_") == len(DEFAULT.register_fields())
    for name in DEFAULT.register_fields():  # each register is its own AXI-Lite port of the control bundle
        assert re.search(rf"INTERFACE s_axilite port={name} bundle={tcl.CONTROL_BUNDLE}\b", source), name
    assert re.search(rf"INTERFACE s_axilite port=return bundle={tcl.CONTROL_BUNDLE}\b", source)
    for port in tcl.STREAMS:
        assert re.search(rf"INTERFACE axis port={port}\b", source), port


def test_vectors_file_and_upsample_vector():
    v = vectors.upsample_vector(DEFAULT, height=2, width=3)
    lanes = DEFAULT.fold_lanes(DEFAULT.p_oc + DEFAULT.lanes_per_word)
    assert lanes == (24, 4) and v.registers["stage3"] == 2 and v.registers["out_folds"] == 2
    words = [n * DEFAULT.bits // 64 for n in lanes]  # words per pixel of each fold
    assert v.in_words.size == 2 * 3 * sum(words) and v.out_words.size == 4 * v.in_words.size
    fold1 = v.in_words[:2 * 3 * words[0]].reshape(2, 3, words[0])
    out1 = v.out_words[:4 * 6 * words[0]].reshape(4, 6, words[0])
    assert np.array_equal(out1[3, 5], fold1[1, 2]) and np.array_equal(out1[2, 0], fold1[1, 0])
    text = vectors.render_vectors(DEFAULT, [v])
    lines = text.splitlines()
    assert lines[:3] == ["zynqyolo-vectors 1", f"design {DEFAULT.content_hash}", f"call {v.name}"]
    assert [ln.split()[1] for ln in lines if ln.startswith("reg ")] == list(DEFAULT.register_fields())
    with pytest.raises(ValueError):
        vectors.render_vectors(DEFAULT, [vectors.TestVector("x y", v.registers, v.in_words, v.wts_words,
                                                            v.out_words, "")])


@pytest.fixture(scope="module")
def ap_types():
    from zynqyolo.fetch import GROUPS, fetch

    if shutil.which("g++") is None:
        pytest.skip("g++ not on PATH")
    paths = fetch(("hls",))
    return paths[GROUPS["hls"][0].name].parent


@pytest.fixture(scope="module")
def object_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("objects")


def _compile_tb(project: tcl.HlsProject, ap_dir: Path, exe: Path, cache: Path, opt: str = "-O1"):
    """Build the testbench and the top as csim_design does (ap_int types, the project's -I paths).
    Objects are cached by content: the testbench object is shared by tops with the same signature."""
    import hashlib

    r = project.root
    from zynqyolo.hls.csim import system_includes

    flags = ["g++", "-std=c++14", opt, "-Wall", "-Wno-unknown-pragmas", *system_includes(ap_dir), f"-I{r}/build",
             f"-I{r}/src/include", f"-I{r}/src/top"]
    objects = []
    for src in (r / "tb" / tcl.TB_FILE, r / "src/top" / tcl.TOP_FILE):
        key = hashlib.sha256(" ".join(flags).encode() + b"".join(
            p.read_bytes() for p in sorted((r / "build").glob("*.h")) + sorted((r / "src").rglob("*.h")) + [src]))
        obj = cache / f"{key.hexdigest()[:16]}.o"
        if not obj.is_file():
            done = subprocess.run(flags + ["-c", str(src), "-o", str(obj)], capture_output=True, text=True)
            if done.returncode:
                return done
        objects.append(str(obj))
    return subprocess.run(["g++", *objects, "-o", str(exe)], capture_output=True, text=True)


@pytest.mark.csim
def test_testbench_refuses_a_top_without_tlast(tmp_path, mock_src, ap_types, object_cache):
    """An output port of plain words (no TKEEP/TLAST, what a user struct becomes in Vitis HLS) does not compile."""
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src("struct"),
                                    vectors=[vectors.upsample_vector(DEFAULT)])
    build = _compile_tb(project, ap_types, tmp_path / "tb", object_cache)
    assert build.returncode != 0
    assert "must carry TKEEP and TLAST" in build.stderr


@pytest.mark.csim
@pytest.mark.parametrize("kind, passes", [("scalar", True), ("no_tlast_end", False), ("bad_word", False)])
def test_testbench_replays_vectors(tmp_path, mock_src, ap_types, object_cache, kind, passes):
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(kind),
                                    vectors=[vectors.upsample_vector(DEFAULT),
                                             vectors.upsample_vector(DEFAULT, 2, 2, 4)])
    build = _compile_tb(project, ap_types, tmp_path / "tb", object_cache)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(tmp_path / "tb"), str(project.root / "tb" / tcl.VECTORS_FILE)], capture_output=True,
                         text=True)
    if passes:
        assert run.returncode == 0 and run.stdout.count("PASS") == 2, run.stdout
    else:
        assert run.returncode == 1 and "FAIL" in run.stdout, run.stdout
        assert ("TLAST" in run.stdout) == (kind == "no_tlast_end")


@pytest.mark.csim
def test_testbench_refuses_vectors_of_another_design(tmp_path, mock_src, ap_types, object_cache):
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(),
                                    vectors=_upsample_only())
    assert _compile_tb(project, ap_types, tmp_path / "tb", object_cache).returncode == 0
    other = HwConfig(clock_mhz=125.0)
    vec = tmp_path / "other.txt"
    vec.write_text(vectors.render_vectors(other, [vectors.upsample_vector(other)]))
    run = subprocess.run([str(tmp_path / "tb"), str(vec)], capture_output=True, text=True)
    assert run.returncode == 2 and "vectors are for design" in run.stdout


@pytest.mark.csim
def test_testbench_passes_on_the_real_kernels(tmp_path, ap_types, object_cache):
    """The generated project of the real kernels, compiled as csim_design would: the three default
    vectors (upsample from the DDR layout; conv + pool and YOLO from the Python csim) must pass."""
    notes = []
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", log=notes.append)
    meta = json.loads((project.root / tcl.PROJECT_FILE).read_text())
    assert [v["name"].split("_")[0] for v in meta["vectors"]] == ["upsample", "conv3x3", "yolo7"], notes
    assert project.vectors == tuple(v["name"] for v in meta["vectors"])
    tclcheck.check_hls_script(project.script)
    build = _compile_tb(project, ap_types, tmp_path / "tb", object_cache)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(tmp_path / "tb"), str(project.root / "tb" / tcl.VECTORS_FILE)], capture_output=True,
                         text=True)
    assert run.returncode == 0 and run.stdout.count("PASS") == 3, run.stdout
    problems = tools.check_simulation_log("zynqyolo: step csim: begin\n" + run.stdout + "zynqyolo: step csim: done\n",
                                          ("csim",), project.vectors)
    assert problems == []  # the log check reads the real testbench's output


@pytest.mark.csim
@pytest.mark.parametrize("config", [DEFAULT, HwConfig(bits=8, p_oc=32)], ids=["16bit", "8bit"])
def test_yolo_vector_agrees_with_the_integer_reference(config):
    """The YOLO vector's expected output (from the C simulation) equals model.fixed's sigmoid table on
    the masked channels and the raw codes on tw/th, channel c's head slot being c mod yolo_period."""
    from zynqyolo.dse.packing import unpack_fmap
    from zynqyolo.model.fixed import sigmoid_lut

    v = vectors.yolo_vector(config)
    r = v.registers
    c, h, w = r["in_channels_a"], r["height"], r["width"]
    assert r["stage3"] == 3 and r["conv_enable"] == 0 and c > config.p_oc and config.p_oc % r["yolo_period"]
    x = unpack_fmap(v.in_words, c, h, w, config)
    lut = sigmoid_lut(config.bits)
    raw = np.isin(np.arange(c) % r["yolo_period"], (2, 3))
    want = lut.apply(x, lut.in_frac + r["yolo_shift"])
    got_raw = unpack_fmap(v.out_words, c, h, w, config)
    got_sig = unpack_fmap(v.out_words, c, h, w, config, signed=False)
    assert np.array_equal(got_raw[raw], x[raw]) and np.array_equal(got_sig[~raw], want[~raw])
    index = np.abs(x[~raw].astype(np.int64))
    if config.bits == 16:  # the shift sends some codes past the table's end, and keeps some inside
        assert (index >> r["yolo_shift"]).max() >= lut.entries and (index >> r["yolo_shift"]).min() < lut.entries
    else:
        assert r["yolo_shift"] < 0  # the left-shift branch


@pytest.mark.csim
def test_upsample_vector_agrees_with_the_csim():
    pytest.importorskip("zynqyolo.hls.csim")
    from zynqyolo.hls.csim import CsimAccelerator

    v = vectors.upsample_vector(DEFAULT)
    got = CsimAccelerator(DEFAULT).call(v.registers, v.in_words, v.wts_words).out_words
    assert np.array_equal(got, v.out_words)


def test_no_partial_hls_project_on_failure(tmp_path, mock_src):
    out = tmp_path / "prj"

    def broken_header(config):
        raise ValueError("header generation failed")

    with pytest.raises(ValueError, match="header generation failed"):
        tcl.write_hls_project(DEFAULT, out, "vitis_hls", src_root=mock_src(), render_header=broken_header,
                              vectors=_upsample_only())
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["src_scalar"]

    good = tcl.write_hls_project(DEFAULT, out, "vitis_hls", src_root=mock_src("struct"), vectors=_upsample_only())
    before = {p: p.read_bytes() for p in good.root.rglob("*") if p.is_file()}
    with pytest.raises(ZynqyoloError, match="kernel sources not found"):
        tcl.write_hls_project(DEFAULT, out, "vitis_hls", src_root=tmp_path / "nowhere", vectors=_upsample_only())
    with pytest.raises(ValueError):
        tcl.write_hls_project(DEFAULT, out, "vitis_hls", src_root=mock_src("scalar"), render_header=broken_header,
                              vectors=_upsample_only())
    assert {p: p.read_bytes() for p in good.root.rglob("*") if p.is_file()} == before  # the old one is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj", "src_scalar", "src_struct"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ZynqyoloError, match="not a HLS project made by zynqyolo"):
        tcl.write_hls_project(DEFAULT, mine, "vitis_hls", src_root=mock_src("struct"), vectors=_upsample_only())
    assert (mine / "notes.txt").read_text() == "keep me"


# ------------------------------------------------------------------------------------------------
# The C-synthesis report
# ------------------------------------------------------------------------------------------------

VIVADO_HLS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<profile>
  <ReportVersion><Version>2019.1</Version></ReportVersion>
  <UserAssignments><Part>xc7z020clg484-1</Part><TopModelName>yolo_accel</TopModelName>
    <TargetClockPeriod>10.00</TargetClockPeriod></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><EstimatedClockPeriod>8.510</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency>
      <Best-caseLatency>12</Best-caseLatency><Worst-caseLatency>undef</Worst-caseLatency>
      <Interval-min>13</Interval-min><Interval-max>undef</Interval-max>
    </SummaryOfOverallLatency>
    <SummaryOfLoopLatency>
      <CONV_READ><TripCount><range><min>1</min><max>173056</max></range></TripCount>
        <Latency>undef</Latency><PipelineII>1</PipelineII><PipelineDepth>3</PipelineDepth>
        <CONV_INNER><TripCount>9</TripCount><PipelineII>1</PipelineII></CONV_INNER>
      </CONV_READ>
    </SummaryOfLoopLatency>
  </PerformanceEstimates>
  <AreaEstimates>
    <Resources><BRAM_18K>120</BRAM_18K><DSP48E>196</DSP48E><FF>41000</FF><LUT>30500</LUT></Resources>
    <AvailableResources><BRAM_18K>280</BRAM_18K><DSP48E>220</DSP48E><FF>106400</FF><LUT>53200</LUT>
    </AvailableResources>
  </AreaEstimates>
</profile>
"""

VITIS_HLS_XML = """<profile>
  <ReportVersion><Version>2022.2</Version></ReportVersion>
  <UserAssignments><TopModelName>yolo_accel</TopModelName></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfOverallLatency><Best-caseLatency>100</Best-caseLatency><Worst-caseLatency>140</Worst-caseLatency>
      <Interval-min>101</Interval-min><Interval-max>141</Interval-max></SummaryOfOverallLatency>
    <SummaryOfLoopLatency><Loop><Name>OUT_WRITE</Name><TripCount>64</TripCount><PipelineII>1</PipelineII></Loop>
    </SummaryOfLoopLatency>
  </PerformanceEstimates>
  <AreaEstimates><Resources><BRAM_18K>4</BRAM_18K><DSP>8</DSP><FF>1024</FF><LUT>2048</LUT><URAM>0</URAM>
  </Resources><AvailableResources><BRAM_18K>280</BRAM_18K><DSP>220</DSP><FF>106400</FF><LUT>53200</LUT>
  <URAM>0</URAM></AvailableResources></AreaEstimates>
</profile>
"""


def test_parse_csynth_report(tmp_path):
    path = tmp_path / "yolo_accel_csynth.xml"
    path.write_text(VIVADO_HLS_XML)
    r = tools.parse_csynth_report(path)
    assert r["tool_version"] == "2019.1" and r["part"] == "xc7z020clg484-1" and r["target_clock_ns"] == 10.0
    assert r["estimated_clock_ns"] == 8.51
    assert r["latency_cycles"] == {"best": 12, "worst": None} and r["interval_cycles"] == {"min": 13, "max": None}
    assert r["resources"] == {"BRAM_18K": 120, "DSP": 196, "FF": 41000, "LUT": 30500}
    assert r["available"]["DSP"] == 220 and r["utilisation"]["DSP"] == round(196 / 220, 4)
    assert [(lp["name"], lp.get("PipelineII")) for lp in r["loops"]] == [("CONV_READ", 1),
                                                                         ("CONV_READ/CONV_INNER", 1)]
    path.write_text(VITIS_HLS_XML)
    r = tools.parse_csynth_report(path)
    assert r["resources"]["DSP"] == 8 and r["latency_cycles"]["worst"] == 140
    assert r["loops"] == [{"name": "OUT_WRITE", "TripCount": 64, "PipelineII": 1}]
    path.write_text("<profile><unclosed>")
    with pytest.raises(ZynqyoloError, match="unreadable"):
        tools.parse_csynth_report(path)
    with pytest.raises(ZynqyoloError, match="did csynth run"):
        tools.parse_csynth_report(tmp_path / "missing" / "yolo_accel_csynth.xml")


# ------------------------------------------------------------------------------------------------
# Fake tools: the real generated scripts under the stub harness
# ------------------------------------------------------------------------------------------------


def _fake_tool(bin_dir: Path, name: str, body: str) -> Path:
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


# A Vitis HLS 2022.2 report set as the tool writes it in <solution>/syn/report: the top's report
# (a DATAFLOW top: no loops of its own), one report per dataflow process, and the pipelined loops
# outlined into "<process>_Pipeline_<LABEL>" modules; two loops carry inlining suffixes and one
# loop is a dataflow loop process. Resources within the Zedboard budget (0.9 x 220/280/53,200/106,400).
PROCESS_LOOPS = {"read_input_stream_config_s": ("CONV_READ_1",),
                 "conv_stage_config_s": ("PREAMBLE", "WEIGHT_LOAD", "LINE_FILL", "CONV_MAC", "CONV_BYPASS"),
                 "accumulate_stage_config_s": ("BIAS_LOAD", "ACC", "ACC_BYPASS"),
                 "detile_config_s": ("DETILE",),
                 "stage3_config_s": ("YOLO_PHASE", "Loop_STAGE3_proc"),
                 "write_output_config_s": ("OUT_WRITE",)}
PROCESS_RESOURCES = {"read_input_stream_config_s": (0, 0, 900, 1200), "conv_stage_config_s": (192, 150, 21000, 15000),
                     "accumulate_stage_config_s": (2, 80, 9000, 7000),
                     "detile_config_s": (0, 0, 300, 400), "stage3_config_s": (0, 16, 3000, 2500),
                     "write_output_config_s": (0, 0, 700, 900)}
TOP_RESOURCES = (196, 252, 36900, 29000)


def _resources_xml(dsp, bram, lut, ff):
    return f"<BRAM_18K>{bram}</BRAM_18K><DSP>{dsp}</DSP><FF>{ff}</FF><LUT>{lut}</LUT><URAM>0</URAM>"


def _csynth_xml(top: str, loops=(), resources=(0, 0, 10, 10), ii: dict | None = None) -> str:
    ii = ii or {}
    body = "".join(f"<{n}><Name>{n}</Name><Slack>0.91</Slack><TripCount>64</TripCount><isPerfectNested>0"
                   f"</isPerfectNested><Latency>66</Latency>"
                   + ("" if ii.get(n, 1) is None else f"<PipelineII>{ii.get(n, 1)}</PipelineII>")
                   + f"<PipelineDepth>4</PipelineDepth><PipelineType>yes</PipelineType><InstanceList/></{n}>"
                   for n in loops)
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<profile><ReportVersion><Version>2022.2</Version>"
            f"</ReportVersion><UserAssignments><unit>ns</unit><ProductFamily>zynq</ProductFamily><Part>"
            f"xc7z020-clg484-1</Part><TopModelName>{top}</TopModelName><TargetClockPeriod>10.00</TargetClockPeriod>"
            f"</UserAssignments><PerformanceEstimates><SummaryOfTimingAnalysis><EstimatedClockPeriod>7.300"
            f"</EstimatedClockPeriod></SummaryOfTimingAnalysis><SummaryOfOverallLatency><Best-caseLatency>12"
            f"</Best-caseLatency><Worst-caseLatency>undef</Worst-caseLatency><Interval-min>13</Interval-min>"
            f"<Interval-max>undef</Interval-max></SummaryOfOverallLatency><SummaryOfLoopLatency>{body}"
            f"</SummaryOfLoopLatency></PerformanceEstimates><AreaEstimates><Resources>{_resources_xml(*resources)}"
            f"</Resources><AvailableResources>{_resources_xml(220, 280, 53200, 106400)}</AvailableResources>"
            f"</AreaEstimates></profile>\n")


def fake_reports(ii: dict | None = None, top=TOP_RESOURCES, drop=()) -> dict[str, str]:
    """File name -> XML of a report set; ``ii`` overrides a loop's II (None: not pipelined); ``drop``
    leaves loops out."""
    files = {"yolo_accel_csynth.xml": _csynth_xml("yolo_accel", (), top),
             "csynth.xml": _csynth_xml("yolo_accel", (), top)}
    for module, loops in PROCESS_LOOPS.items():
        files[f"{module}_csynth.xml"] = _csynth_xml(module, (), PROCESS_RESOURCES[module])
        for loop in loops:
            if loop in drop:
                continue
            label = loop.replace("_1", "").replace("Loop_", "").replace("_proc", "")
            name = f"{module[:-2]}_Pipeline_{label}"
            files[f"{name}_csynth.xml"] = _csynth_xml(name, (loop,), (0, 0, 100, 100), ii)
    return files


def _report_set(tmp_path, **kwargs) -> Path:
    folder = tmp_path / "report"
    folder.mkdir(parents=True)
    for name, text in fake_reports(**kwargs).items():
        (folder / name).write_text(text)
    return folder


def test_synthesis_report_reads_every_module_report(tmp_path):
    report = tools.synthesis_report(_report_set(tmp_path))
    assert report["tool_version"] == "2022.2" and report["top"] == "yolo_accel" and report["loops"] == []
    assert report["resources"] == {"BRAM_18K": 252, "DSP": 196, "FF": 29000, "LUT": 36900, "URAM": 0}
    assert set(PROCESS_LOOPS) <= set(report["modules"])
    assert report["modules"]["conv_stage_config_s"]["resources"]["DSP"] == 192
    loops = {lp["name"]: lp for lp in report["all_loops"]}
    assert loops["CONV_MAC"]["module"] == "conv_stage_config_Pipeline_CONV_MAC" and loops["CONV_MAC"]["PipelineII"] == 1
    assert "Slack" not in loops and "InstanceList" not in loops  # facts about a loop are not loops


def test_loop_labels_are_matched_through_synthesis_names():
    from zynqyolo.dse.perf import LOOP_LABELS

    labels = tools.loop_label

    cases = {"CONV_MAC": "CONV_MAC", "CONV_READ_1": "CONV_READ", "Loop_STAGE3_proc": "STAGE3",
             "ACC_BYPASS": "ACC_BYPASS", "ACC": "ACC", "ACC_2": "ACC", "acc_Pipeline_ACC": "ACC",
             "CONV_READ/CONV_INNER": None, "stage3_loop": None, "VITIS_LOOP_31_1": None, "CONV_MACS": None,
             "xCONV_MAC": None}
    assert {name: labels(name, LOOP_LABELS) for name in cases} == cases


def test_gate_passes_and_fails_where_the_models_disagree(tmp_path):
    ok = tools.gate(tools.synthesis_report(_report_set(tmp_path)), DEFAULT)
    assert ok.ok and ok.failures == [] and ok.budget == {"DSP": 198, "BRAM_18K": 252, "LUT": 47880, "FF": 95760}
    assert {k: [lp["name"] for lp in v] for k, v in ok.loops.items()}["STAGE3"] == ["Loop_STAGE3_proc"]

    runs = iter(range(100))

    def failures(**kwargs):
        return tools.gate(tools.synthesis_report(_report_set(tmp_path / f"run{next(runs)}", **kwargs)),
                          DEFAULT).failures

    [f] = failures(ii={"CONV_MAC": 2})
    assert "loop CONV_MAC (conv_stage_config_Pipeline_CONV_MAC: CONV_MAC) has II 2" in f and "assumes II 1" in f
    [f] = failures(ii={"ACC_BYPASS": None})
    assert "loop ACC_BYPASS" in f and "not pipelined" in f
    [f] = failures(drop=("YOLO_PHASE",))
    assert "loop YOLO_PHASE is missing from the synthesis report" in f
    [f] = failures(top=(196, 252, 47881, 29000))
    assert f == "LUT 47,881 exceeds the budget of 47,880 (0.9 x 53,200 on xc7z020)"
    fs = failures(top=(199, 253, 1, 1), ii={"CONV_READ_1": 3})
    assert len(fs) == 3 and any("DSP 199" in f for f in fs) and any("BRAM_18K 253" in f for f in fs)
    assert any("CONV_READ" in f and "II 3" in f for f in fs)
    loose = tools.gate(tools.synthesis_report(_report_set(tmp_path / "loose", top=(199, 1, 1, 1))), DEFAULT, cap=1.0)
    assert loose.ok  # the budget follows the cap
    with pytest.raises(tools.GateFailure, match="does not hold what the models assume.*LUT 47,881"):
        tools.gate(tools.synthesis_report(_report_set(tmp_path / "x", top=(1, 1, 47881, 1))), DEFAULT).check()


def test_model_beside_the_report(tmp_path):
    report = tools.synthesis_report(_report_set(tmp_path))
    rows = tools.model_vs_report(DEFAULT, report)
    model = tools.model_resources(DEFAULT)
    by = {r["what"]: r for r in rows}
    stage1 = by["stage 1 (conv_stage)"]
    assert stage1["modules"] == ["conv_stage_config_s"] and stage1["report"]["DSP"] == 192
    assert stage1["model"]["DSP"] == sum(model[b]["dsp"] for b in ("conv_engine", "line_buffer", "weight_buffer"))
    io = by["stream I/O (read_input_stream, write_output)"]
    assert io["modules"] == ["read_input_stream_config_s", "write_output_config_s"] and io["report"]["LUT"] == 1600
    total = by["total"]
    assert total["report"] == {"DSP": 196, "BRAM_18K": 252, "LUT": 36900, "FF": 29000}
    assert total["model"]["LUT"] == sum(b["lut"] for b in model.values())
    assert sum(r["report"]["LUT"] for r in rows[:-1]) == 36900  # the rest row closes the sum
    assert sum(r["model"]["FF"] for r in rows[:-1]) == total["model"]["FF"]
    assert "control" in by[tools.REST_ROW]["blocks"]
    from zynqyolo.commands.hls import format_comparison

    text = format_comparison(rows, "vitis_hls 2022.2 csynth estimate")
    assert "beside the synthesis report (vitis_hls 2022.2" in text and "report / model, totals: DSP" in text
    assert "conv_stage_config_s" in text
    alone = format_comparison(tools.model_vs_report(DEFAULT, None), None)
    assert "no synthesis report yet" in alone and f"{total['model']['LUT']:,}" in alone


FAKE_HLS = """\
import json, os, subprocess, sys
from pathlib import Path
if "-version" in sys.argv:
    print("****** Vitis HLS - High-Level Synthesis from C, C++ and OpenCL v2022.2 (64-bit)")
    sys.exit(0)
script = Path(sys.argv[sys.argv.index("-f") + 1]).resolve()
log = script.parent / ".fake_calls.jsonl"
env = dict(os.environ)
env.setdefault("ZY_FAKE_TB", "1")  # the stubs print the testbench's PASS lines
if env["ZY_FAKE_TB"] == "0":
    del env["ZY_FAKE_TB"]
proc = subprocess.run([{tclsh!r}, {harness!r}, "hls", str(script), str(log), "", "", ""], cwd=script.parent, env=env)
calls = [json.loads(line)["cmd"] for line in log.read_text().splitlines()]
sol = script.parent / "hls_prj" / "sol"
if "csynth_design" in calls:
    (sol / "syn" / "report").mkdir(parents=True, exist_ok=True)
    reports = json.loads(Path(os.environ["ZY_FAKE_REPORTS"]).read_text()) if "ZY_FAKE_REPORTS" in os.environ else json.loads({reports!r})
    for name, text in reports.items():
        (sol / "syn" / "report" / name).write_text(text)
if "export_design" in calls:
    (sol / "impl" / "ip").mkdir(parents=True, exist_ok=True)
    (sol / "impl" / "ip" / "component.xml").write_text("<fake/>")
sys.exit(proc.returncode)
"""

FAKE_VIVADO = """\
import os, re, subprocess, sys
from pathlib import Path
args = sys.argv[1:]
if "-version" in args:
    print("Vivado " + os.environ.get("ZY_FAKE_VIVADO_VERSION", "v2022.2") + " (64-bit)")
    sys.exit(0)
script = Path(args[args.index("-source") + 1]).resolve()
vlnv = re.search(r"set zy_ip_vlnv +[{{]([^}}]*)[}}]", script.read_text()).group(1)
log = Path(args[args.index("-log") + 1])
proc = subprocess.run([{tclsh!r}, {harness!r}, "vivado", str(script), str(log) + ".calls", vlnv, {pins!r}, {intf!r}],
                      cwd=script.parent, env={{"ZY_FAKE_OUTPUTS": "1", "PATH": ""}})
log.write_text("fake vivado log")
sys.exit(proc.returncode)
"""


@pytest.fixture
def fake_tools(bare_path):
    fmt = dict(tclsh=tclcheck.tclsh(), harness=str(tclcheck.HARNESS), reports=json.dumps(fake_reports()))
    _fake_tool(bare_path, "vitis_hls", FAKE_HLS.format(**fmt))
    pins, intf = bitstream.accel_pins()
    _fake_tool(bare_path, "vivado", FAKE_VIVADO.format(**fmt, pins=" ".join(pins), intf=" ".join(intf)))
    return bare_path


def test_run_hls_steps_logs_and_report(tmp_path, mock_src, fake_tools, monkeypatch):
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(),
                                    vectors=_upsample_only())
    messages = []
    report = tools.run_hls(project, ("csim", "csynth"), log=messages.append)
    log = project.log.read_text()
    assert "zynqyolo: step csim: done" in log and "zynqyolo: step csynth: done" in log and "step export" not in log
    assert report["resources"]["DSP"] == 196 and report["steps"] == ["csim", "csynth"]
    assert report["gate"]["ok"] and report["gate"]["budget"]["LUT"] == 47880
    assert json.loads(project.report_json.read_text()) == report
    assert any("ZYNQYOLO_HLS_STEPS='csim csynth' vitis_hls -f run_hls.tcl" in m and "2022.2" in m for m in messages)
    assert any("gate: 13 latency-model loops at II 1" in m for m in messages)  # a direct design: no Winograd loops

    assert tools.run_hls(project, ("csim",), log=messages.append) is None
    monkeypatch.setenv("ZY_FAIL_COMMAND", "csynth_design")
    with pytest.raises(ZynqyoloError, match=r"failed at step csynth \(.*simulated failure.*\).*hls.log"):
        tools.run_hls(project, ("csim", "csynth", "export"), log=messages.append)
    monkeypatch.setenv("ZY_FAIL_COMMAND", "export_design")
    with pytest.raises(ZynqyoloError, match=r"failed at step export \(.*simulated failure"):
        tools.run_hls(project, ("csynth", "export"), log=messages.append)
    monkeypatch.delenv("ZY_FAIL_COMMAND")


def test_run_hls_fails_unless_every_vector_passes(tmp_path, mock_src, fake_tools, monkeypatch):
    calls = [vectors.upsample_vector(DEFAULT), vectors.upsample_vector(DEFAULT, 2, 2, 4)]
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(), vectors=calls)
    report = tools.run_hls(project, log=lambda m: None)  # csim, csynth, cosim, export
    assert report["steps"] == ["csim", "csynth", "cosim", "export"]
    assert tools.COSIM_PASS in tools.step_sections(project.log.read_text())["cosim"]
    monkeypatch.setenv("ZY_FAKE_TB_FAIL", calls[1].name)
    with pytest.raises(ZynqyoloError, match=rf"csim: test vector\(s\) {calls[1].name} FAILED.*cosim: test vector"):
        tools.run_hls(project, log=lambda m: None)
    monkeypatch.delenv("ZY_FAKE_TB_FAIL")
    monkeypatch.setenv("ZY_FAKE_TB", "0")  # a testbench that replays nothing
    with pytest.raises(ZynqyoloError, match=r"csim: no PASS line for test vector\(s\) upsample.*lacks Vitis HLS's "
                                            r"verdict"):
        tools.run_hls(project, ("csim", "csynth", "cosim"), log=lambda m: None)


@pytest.mark.parametrize("kwargs, message", [
    (dict(ii={"CONV_MAC": 2}), r"loop CONV_MAC \(conv_stage_config_Pipeline_CONV_MAC: CONV_MAC\) has II 2"),
    (dict(top=(196, 252, 50000, 29000)), r"LUT 50,000 exceeds the budget of 47,880"),
    (dict(drop=("OUT_WRITE",)), r"loop OUT_WRITE is missing from the synthesis report"),
])
def test_run_hls_gates_on_ii_and_resources(tmp_path, mock_src, fake_tools, monkeypatch, run_cli, design_file,
                                           kwargs, message):
    """The generated flow stops, exit status 2, when the synthesised design breaks what the models
    assume; report.json is written with the failures, the table of model vs report is printed."""
    reports = tmp_path / "reports.json"
    reports.write_text(json.dumps(fake_reports(**kwargs)))
    monkeypatch.setenv("ZY_FAKE_REPORTS", str(reports))
    project = tcl.write_hls_project(DEFAULT, tmp_path / "prj", "vitis_hls", src_root=mock_src(),
                                    vectors=_upsample_only())
    with pytest.raises(tools.GateFailure, match=message):
        tools.run_hls(project, ("csim", "csynth", "cosim", "export"), log=lambda m: None)
    saved = json.loads(project.report_json.read_text())
    assert not saved["gate"]["ok"] and re.search(message, " ".join(saved["gate"]["failures"]))
    monkeypatch.setattr(vectors, "default_vectors", lambda config, log, require_computed: _upsample_only())
    status, stdout, stderr = run_cli("hls", "--design", design_file(), "--out", tmp_path / "cli")
    assert status == 2 and re.search(message, stderr) and "beside the synthesis report" in stdout


# ------------------------------------------------------------------------------------------------
# Vivado script
# ------------------------------------------------------------------------------------------------


def _stub_vivado(tmp_path, config=DEFAULT, board="zedboard", width=24, env=None, text=None):
    script = tmp_path / "build_bitstream.tcl"
    script.write_text(text if text is not None else
                      bitstream.render_build_tcl(config, board, width, "hls/hls_prj/sol/impl/ip"))
    tclcheck.check_syntax(script)
    return tclcheck.run_stubbed(script, "vivado", tcl.ip_vlnv(config), bitstream.accel_pins(), env=env,
                                fake_outputs=True)


def _props(run, cell):
    out = {}
    for args in run.commands("set_property"):
        if args[0] == "-dict" and args[-1] == f"/{cell}":
            items = re.findall(r"\{([^}]*)\}", args[1]) or args[1].split()
            out.update(zip(items[::2], items[1::2]))
    return out


@pytest.mark.parametrize("config, board, part_pattern", [
    (DEFAULT, "zedboard", "digilentinc.com:zedboard:part0:*"),
    (HwConfig(part="xc7z020clg400-1", clock_mhz=125.0), "pynq-z2", "tul.com.tw:pynq-z2:part0:*")])
def test_vivado_tcl_follows_the_design_point(tmp_path, config, board, part_pattern):
    run = _stub_vivado(tmp_path, config, board, width=21)
    assert run.ok(), run.errors or run.stderr
    assert run.commands("create_project")[0][-2:] == ["-part", config.part]
    assert run.commands("get_board_parts")[0][-1] == part_pattern
    ps7, dma0, dma1 = _props(run, "ps7"), _props(run, "dma0"), _props(run, "dma1")
    assert ps7["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == f"{config.clock_mhz:.6f}"
    assert ps7["CONFIG.PCW_FCLK0_PERIPHERAL_CLKSRC"] == "IO PLL"  # the PLL the explorer's clock model divides
    assert ps7["CONFIG.PCW_S_AXI_HP0_DATA_WIDTH"] == ps7["CONFIG.PCW_S_AXI_HP1_DATA_WIDTH"] == str(config.bus_bits)
    for dma in (dma0, dma1):  # scatter-gather mode, no status/control stream
        assert dma["CONFIG.c_include_sg"] == "1" and dma["CONFIG.c_sg_include_stscntrl_strm"] == "0"
        assert dma["CONFIG.c_sg_length_width"] == "21"
        assert dma["CONFIG.c_m_axi_mm2s_data_width"] == dma["CONFIG.c_m_axis_mm2s_tdata_width"] == "64"
    assert dma0["CONFIG.c_include_s2mm"] == "1" and dma1["CONFIG.c_include_s2mm"] == "0"
    nets = {tuple(a) for a in run.commands("connect_bd_intf_net")}
    assert {("/dma0/M_AXIS_MM2S", "/accel/in_r"), ("/dma1/M_AXIS_MM2S", "/accel/wts"),
            ("/accel/out_r", "/dma0/S_AXIS_S2MM"), ("/hp0_ic/M00_AXI", "/ps7/S_AXI_HP0"),
            ("/hp1_ic/M00_AXI", "/ps7/S_AXI_HP1"), ("/ctrl_ic/M00_AXI", "/accel/s_axi_control")} <= nets
    # the descriptor fetch/update ports reach DDR through the HP port of their DMA's data, clocked
    assert {("/dma0/M_AXI_SG", "/hp0_ic/S02_AXI"), ("/dma1/M_AXI_SG", "/hp1_ic/S01_AXI")} <= nets
    clocked = {a[-1] for a in run.commands("connect_bd_net") if a[0] == "/ps7/FCLK_CLK0"}
    assert {"/dma0/m_axi_sg_aclk", "/dma1/m_axi_sg_aclk", "/hp0_ic/S02_ACLK", "/hp1_ic/S01_ACLK"} <= clocked
    assert "assign_bd_address" in [c["cmd"] for c in run.calls]  # every master, M_AXI_SG too, gets its segment
    order = [c["cmd"] for c in run.calls]
    assert order.index("validate_bd_design") < order.index("make_wrapper") < order.index("launch_runs")
    assert ["impl_1", "-to_step", "write_bitstream", "-jobs", "4"] in run.commands("launch_runs")
    export = tmp_path / "vivado" / "export"
    assert sorted(p.name for p in export.iterdir()) == sorted([f"{config.name}.bit", f"{config.name}.hwh",
                                                               "result.json"])
    result = json.loads((export / "result.json").read_text())
    assert result["fclk0_mhz"] == config.clock_mhz and result["wns_ns"] > 0


def test_vivado_tcl_checks_the_stream_links(tmp_path):
    """After connecting, every DMA <-> accelerator AXI4-Stream link must carry TLAST at both ends and
    TDATA of the design's bus width; the stub IP's interface parameters say otherwise here."""
    run = _stub_vivado(tmp_path)
    assert run.ok(), run.errors or run.stderr
    asked = {(a[0], a[1]) for a in run.commands("get_property") if a[0].startswith("CONFIG.") and a[1].count("/") == 2}
    for pin in ("/dma0/M_AXIS_MM2S", "/accel/in_r", "/dma1/M_AXIS_MM2S", "/accel/wts", "/accel/out_r",
                "/dma0/S_AXIS_S2MM"):
        assert {("CONFIG.HAS_TLAST", pin), ("CONFIG.TDATA_NUM_BYTES", pin)} <= asked, pin
    order = [c["cmd"] for c in run.calls]
    assert order.index("connect_bd_intf_net") < order.index("validate_bd_design") < max(
        i for i, c in enumerate(run.calls) if c["cmd"] == "get_property" and c["args"][0] == "CONFIG.HAS_TLAST")
    assert order.index("save_bd_design") > order.index("validate_bd_design")

    run = _stub_vivado(tmp_path, env={"ZY_ACCEL_AXIS": "out_r=8:0"})  # a top whose output lost TLAST
    assert not run.ok() and "accel/out_r -> dma0/S_AXIS_S2MM: accel/out_r has no TLAST" in run.errors[-1]
    assert "launch_runs" not in [c["cmd"] for c in run.calls]
    run = _stub_vivado(tmp_path, env={"ZY_ACCEL_AXIS": "in_r=4:1"})  # a 32-bit input port
    assert not run.ok() and "dma0/M_AXIS_MM2S -> accel/in_r: TDATA is 8 and 4 bytes" in run.errors[-1]
    text = bitstream.render_build_tcl(DEFAULT, "zedboard", 24, "hls/hls_prj/sol/impl/ip")
    narrow = text.replace("{CONFIG.c_m_axis_mm2s_tdata_width} {64}", "{CONFIG.c_m_axis_mm2s_tdata_width} {32}", 1)
    assert narrow != text
    run = _stub_vivado(tmp_path, text=narrow)  # the DMA narrower than the design's bus
    assert not run.ok() and "dma0/M_AXIS_MM2S -> accel/in_r: TDATA is 4 and 8 bytes" in run.errors[-1]


def test_vivado_tcl_and_board_check_refuse_a_clock_the_ps_cannot_make(tmp_path):
    with pytest.raises(ZynqyoloError, match=r"zedboard's PS cannot make the design point's 150 MHz.*fastest not "
                                            r"above is 142.857 MHz"):
        bitstream.check_board(HwConfig(clock_mhz=150.0), "zedboard")
    assert bitstream.check_board(HwConfig(clock_mhz=142.857143), "zedboard").name == "zedboard"
    assert bitstream.fclk0(HwConfig(clock_mhz=142.857143), "zedboard")["divisor"] == 7
    # the script itself errs when the PS makes another FCLK0 than the design's (the stub PS divides 1000 MHz)
    text = bitstream.render_build_tcl(HwConfig(clock_mhz=150.0), "zedboard", 24, "hls/hls_prj/sol/impl/ip")
    run = _stub_vivado(tmp_path, config=HwConfig(clock_mhz=150.0), text=text)
    assert not run.ok() and "the PS makes FCLK0 = 142.857143 MHz, not the design point's 150.000000 MHz" in \
        run.errors[-1]
    run = _stub_vivado(tmp_path, config=HwConfig(clock_mhz=142.857143))
    assert run.ok(), run.errors


def test_vivado_tcl_every_cell_clocked_and_reset():
    bd = bitstream.block_design(DEFAULT, 20)
    pins = bitstream.accel_pins()
    clocked = {p.split("/")[0] for p in bd.clock_pins}
    assert clocked == {c for c, _ in bd.ip_cells} - {"ps7"} | {"ps7", "accel"}
    assert f"accel/{pins[0][0]}" in bd.clock_pins
    system = bd.driven_by("rst/peripheral_aresetn")
    for ic in ("ctrl_ic", "hp0_ic", "hp1_ic"):
        cfg = bd.config_of(ic)
        n = int(cfg["CONFIG.NUM_SI"]) + int(cfg["CONFIG.NUM_MI"])
        assert len([p for p in bd.clock_pins if p.startswith(ic + "/")]) == n + 1
        assert len([p for p in system if p.startswith(ic + "/")]) == n
        assert f"{ic}/ARESETN" in bd.driven_by("rst/interconnect_aresetn")
    driven = [p for _, sinks in bd.reset_nets for p in sinks]
    assert len(driven) == len(set(driven))  # every reset input has one driver
    # every cell but the PS has its reset input driven
    assert {p.split("/")[0] for p in driven} == {c for c, _ in bd.ip_cells} - {"ps7"} | {"accel"}


def test_vivado_tcl_reset_path():
    """The hardware reset path: the AXI GPIO on the control interconnect drives the accelerator
    domain's proc_sys_reset (active high), whose peripheral reset is the accelerator's and both DMAs'
    and nothing else; the PS reset drives both proc_sys_resets; the GPIO itself and the interconnects
    stay in the PS's domain (a GPIO write never resets the path it travels on)."""
    bd = bitstream.block_design(DEFAULT, 20)
    gpio = bd.reset_gpio_cell
    assert ("ctrl_ic/M03_AXI", f"{gpio}/S_AXI") in bd.intf_nets and bd.config_of("ctrl_ic")["CONFIG.NUM_MI"] == "4"
    assert bd.config_of(gpio) == {"CONFIG.C_GPIO_WIDTH": "1", "CONFIG.C_ALL_OUTPUTS": "1",
                                  "CONFIG.C_DOUT_DEFAULT": "0x00000000"}
    assert bd.config_of("accel_rst")["CONFIG.C_AUX_RESET_HIGH"] == "1"
    assert bd.driven_by(f"{gpio}/gpio_io_o") == ("accel_rst/aux_reset_in",)
    assert set(bd.driven_by("accel_rst/peripheral_aresetn")) == {"accel/ap_rst_n", "dma0/axi_resetn",
                                                                  "dma1/axi_resetn"}
    assert {p.split("/")[0] for p in bd.driven_by("accel_rst/peripheral_aresetn")} == set(bd.reset_domain)
    assert set(bd.driven_by("ps7/FCLK_RESET0_N")) == {"rst/ext_reset_in", "accel_rst/ext_reset_in"}
    assert f"{gpio}/s_axi_aresetn" in bd.driven_by("rst/peripheral_aresetn")
    assert not any(p.startswith(("ctrl_ic/", "hp0_ic/", "hp1_ic/", f"{gpio}/"))
                   for p in bd.driven_by("accel_rst/peripheral_aresetn"))
    from zynqyolo.hls.manifest import RESET_GPIO_CELL

    assert bd.reset_gpio_cell == RESET_GPIO_CELL  # the name the host looks up in the manifest


def test_vivado_tcl_wires_the_reset_path(tmp_path):
    """The generated script, run against the stubs, makes exactly these reset connections."""
    run = _stub_vivado(tmp_path)
    assert run.ok(), run.errors or run.stderr
    nets = [tuple(a) for a in run.commands("connect_bd_net")]
    assert ("/reset_gpio/gpio_io_o", "/accel_rst/aux_reset_in") in nets
    for pin in ("/accel/ap_rst_n", "/dma0/axi_resetn", "/dma1/axi_resetn"):
        assert [n for n in nets if n[1] == pin] == [("/accel_rst/peripheral_aresetn", pin)]
    assert ("/rst/peripheral_aresetn", "/reset_gpio/s_axi_aresetn") in nets
    assert _props(run, "reset_gpio")["CONFIG.C_ALL_OUTPUTS"] == "1"
    assert ("/ctrl_ic/M03_AXI", "/reset_gpio/S_AXI") in {tuple(a) for a in run.commands("connect_bd_intf_net")}


@pytest.mark.parametrize("edit, message", [
    (("dma1/S_AXI_LITE", "dma1/M_AXI_S2MM"), "configured without its S2MM channel"),
    (("{CONFIG.c_include_sg} {1}", "{CONFIG.c_include_sg} {0}"), "dma0 is configured without scatter-gather"),
    (("CONFIG.c_mm2s_burst_size", "CONFIG.c_mm2s_burst_length"), "axi_dma has no parameter c_mm2s_burst_length"),
    (("validate_bd_design\n", "validate_bd_designs\n"), "'validate_bd_designs' is not a vivado command"),
    (("{ctrl_ic/M00_AXI}", "{ctrl_ic/M04_AXI}"), "ctrl_ic has only 4 Mxx ports"),
    (("{CONFIG.C_ALL_OUTPUTS} {1}", "{CONFIG.C_ALL_INPUTS} {1}"), "reset_gpio is configured all-inputs"),
    (("{reset_gpio/gpio_io_o}", "{reset_gpio/gpio_out}"), "axi_gpio has no 'gpio_out'"),
    (("{CONFIG.C_AUX_RESET_HIGH}", "{CONFIG.C_AUX_RESET_POLARITY}"), "proc_sys_reset has no parameter C_AUX_RESET_POL"),
    (("{dma0/axi_resetn}", "{dma0/aresetn}"), "axi_dma has no 'aresetn'"),
    (("{CONFIG.PCW_USE_S_AXI_HP1} {1}", "{CONFIG.PCW_USE_S_AXI_HP1} {0}"), "HP1 is not enabled"),
    (("assign_bd_address\n", "try {assign_bd_address} on error e {}\n"), "'try' is not a vivado command"),
])
def test_stub_harness_catches_mistakes(tmp_path, edit, message):
    text = bitstream.render_build_tcl(DEFAULT, "zedboard", 24, "hls/hls_prj/sol/impl/ip")
    assert edit[0] in text
    run = _stub_vivado(tmp_path, text=text.replace(edit[0], edit[1], 1))
    assert not run.ok() and any(message in e for e in run.errors), run.errors or run.stderr


def test_syntax_check_catches_broken_tcl(tmp_path):
    script = tmp_path / "bad.tcl"
    script.write_text("set a {unbalanced\nputs $a\n")
    with pytest.raises(ZynqyoloError, match="incomplete"):
        tclcheck.check_syntax(script)
    script.write_text("set a [string cat x y]\n")
    with pytest.raises(ZynqyoloError, match="needs Tcl 8.6"):
        tclcheck.check_syntax(script)


def test_vivado_tcl_names_missing_accelerator_ports(tmp_path):
    script = tmp_path / "build_bitstream.tcl"
    script.write_text(bitstream.render_build_tcl(DEFAULT, "zedboard", 24, "hls/hls_prj/sol/impl/ip"))
    ports = (bitstream.accel_pins()[0], ("s_axi_control", "in", "wts", "out"))  # an IP without HLS's renaming
    run = tclcheck.run_stubbed(script, "vivado", tcl.ip_vlnv(DEFAULT), ports, fake_outputs=True)
    assert not run.ok() and "has no interface in_r (it has: /accel/s_axi_control /accel/in" in run.errors[-1]


def test_vivado_tcl_refuses_missing_board_files_and_ip(tmp_path):
    run = _stub_vivado(tmp_path, env={"ZY_NO_BOARD_PARTS": "1"})
    assert not run.ok() and "no board files for zedboard" in run.errors[-1]
    run = _stub_vivado(tmp_path, env={"ZY_NO_BOARD_PARTS": "1", "ZYNQYOLO_BOARD_PART": "my.org:zed:part0:2.0"})
    assert run.ok() and ["board_part", "my.org:zed:part0:2.0", "zynqyolo"] in run.commands("set_property")
    run = _stub_vivado(tmp_path, env={"ZY_MISSING_IP": "zynqyolo:*"})
    assert not run.ok() and "run the HLS export first" in run.errors[-1]


# ------------------------------------------------------------------------------------------------
# Design checks: board, DMA length register
# ------------------------------------------------------------------------------------------------


def test_board_checks():
    assert bitstream.check_board(DEFAULT, "zedboard").name == "zedboard"
    assert bitstream.check_board(PYNQ_Z2, "pynq-z2").name == "pynq-z2"
    with pytest.raises(ZynqyoloError, match=r"part is xc7z020clg484-1 but pynq-z2 carries xc7z020clg400-1"):
        bitstream.check_board(DEFAULT, "pynq-z2")
    with pytest.raises(ZynqyoloError, match="HP ports are 64-bit"):
        bitstream.check_board(HwConfig(bus_bits=128, p_oc=24), "zedboard")
    with pytest.raises(ZynqyoloError, match="supports zedboard, pynq-z2"):
        bitstream.check_board(DEFAULT, "zcu104")


def test_dma_length_width():
    assert bitstream.dma_length_width(None) == 26
    assert bitstream.dma_length_width(100) == 14  # PG021's default width is the floor
    assert bitstream.dma_length_width((1 << 14) - 1) == 14 and bitstream.dma_length_width(1 << 14) == 15
    assert bitstream.dma_length_width(9_519_168) == 24
    assert bitstream.dma_length_width((1 << 26) - 1) == 26
    with pytest.raises(ZynqyoloError, match="at most 67,108,863 bytes"):
        bitstream.dma_length_width(1 << 26)


def test_dma_length_width_follows_the_plan(quant_model):
    path, model = quant_model
    plan = bitstream.load_plan(DEFAULT, path)
    width = bitstream.dma_length_width(plan.largest_transfer())
    assert width == max(14, plan.largest_transfer().bit_length()) and (1 << width) > plan.largest_transfer()
    summary = bitstream.check_plan(plan, width)
    assert summary["calls"] == len(plan.calls) and summary["largest_transfer_bytes"] == plan.largest_transfer()
    with pytest.raises(ZynqyoloError, match="does not fit the .*-bit DMA length register"):
        bitstream.check_plan(plan, width - 1)
    with pytest.raises(ZynqyoloError, match="16-bit"):
        bitstream.load_plan(HwConfig(bits=8, p_oc=32), path)


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------


def test_cli_hls_dry_run(run_cli, design_file, tmp_path, bare_path):
    out = tmp_path / "hlsprj"
    status, stdout, stderr = run_cli("hls", "--design", design_file(), "--out", out, "--steps", "csynth,csim",
                                     "--dry-run")
    assert status == 0, stderr
    assert f"cd {out} && ZYNQYOLO_HLS_STEPS='csim csynth' vitis_hls -f run_hls.tcl > hls.log 2>&1" in stdout
    assert (out / "run_hls.tcl").is_file() and (out / tcl.PROJECT_FILE).is_file()
    assert "no conv or YOLO test vector" in stderr  # no g++ on this PATH: the upsample vector only
    assert "resources: the model (dse.blocks, modelled); no synthesis report yet" in stdout  # the model's side
    model = tools.model_resources(DEFAULT)
    assert f"{sum(b['lut'] for b in model.values()):,}" in stdout
    status, stdout, stderr = run_cli("hls", "--design", design_file(), "--out", tmp_path / "other", "--tool",
                                     "vivado_hls", "--dry-run")
    assert status == 2 and "Vivado HLS (2020.1 and earlier) is not supported" in stderr
    assert not (tmp_path / "other").exists()


def test_cli_hls_without_tool_or_with_bad_steps(run_cli, design_file, tmp_path, bare_path):
    out = tmp_path / "hlsprj"
    status, stdout, stderr = run_cli("hls", "--design", design_file(), "--out", out)
    assert status == 2 and "vitis_hls is not on PATH" in stderr and "--dry-run" in stderr
    assert (out / "run_hls.tcl").is_file()  # the project is written, and the way to run it printed
    assert "no synthesis report yet" in stdout and f"cd {out} && ZYNQYOLO_HLS_STEPS='csim csynth cosim export'" \
        " vitis_hls -f run_hls.tcl" in stdout
    other = tmp_path / "other"
    status, _, stderr = run_cli("hls", "--design", design_file(), "--out", other, "--steps", "cosim", "--dry-run")
    assert status == 2 and "needs csynth" in stderr and not other.exists()
    status, _, stderr = run_cli("hls", "--design", tmp_path / "missing.json", "--dry-run")
    assert status == 2 and "design file not found" in stderr


def test_cli_build_dry_run(run_cli, design_file, tmp_path, bare_path, quant_model):
    model_path, model = quant_model
    status, stdout, stderr = run_cli("build", "--design", design_file(), "--board", "zedboard", "--model", model_path,
                                     "--out", tmp_path / "bitstreams", "--dry-run")
    assert status == 0, stderr
    root = tmp_path / "bitstreams" / "zedboard" / DEFAULT.name
    manifest = load_manifest(root)
    plan = bitstream.load_plan(DEFAULT, model_path)
    assert manifest["built"] is False and manifest["bitstream"] is None
    assert manifest["design_hash"] == DEFAULT.content_hash and manifest["model_hash"] == model.content_hash
    assert manifest["dma"]["buffer_length_width"] == max(14, plan.largest_transfer().bit_length())
    assert manifest["plan"]["calls"] == len(plan.calls)
    assert manifest["tools"] == {"hls": None, "vivado": None}
    assert (manifest["board"], manifest["part"], manifest["clock_mhz"]) == ("zedboard", DEFAULT.part, 100.0)
    for rel, sha in manifest["files"].items():
        assert sha256_file(root / rel) == sha, rel
    assert {"build_bitstream.tcl", "hls/run_hls.tcl", "hls/build/zynqyolo_config.h"} <= set(manifest["files"])
    script = (root / "build_bitstream.tcl").read_text()
    ip_repo = re.search(r"set zy_ip_repo +\{([^}]*)\}", script).group(1)
    assert root / ip_repo == tcl.load_project(root / "hls").ip_repo  # where export_design puts the IP
    assert re.search(r"set zy_dma_length_width +\{(\d+)\}", script).group(1) == str(
        manifest["dma"]["buffer_length_width"])
    assert manifest["reset"] == {"gpio": "reset_gpio", "mask": 1, "active": "high",
                                 "resets": ["accel", "dma0", "dma1"]}  # the PYNQ board finds the reset path here
    assert "vivado -mode batch -notrace -source build_bitstream.tcl" in stdout
    assert "vitis_hls -f run_hls.tcl" in stdout and "DMA buffer length width" in stderr

    # again: the dry-run folder is replaced; a built one is not, unless --force
    assert run_cli("build", "--design", design_file(), "--board", "zedboard", "--out", tmp_path / "bitstreams",
                   "--dry-run")[0] == 0
    assert load_manifest(root)["model_hash"] is None
    data = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**data, "built": True}))
    status, _, stderr = run_cli("build", "--design", design_file(), "--board", "zedboard", "--out",
                                tmp_path / "bitstreams", "--dry-run")
    assert status == 2 and "--force" in stderr
    assert run_cli("build", "--design", design_file(), "--board", "zedboard", "--out", tmp_path / "bitstreams",
                   "--dry-run", "--force")[0] == 0


def test_cli_build_refusals_leave_nothing(run_cli, design_file, tmp_path, bare_path):
    out = tmp_path / "bitstreams"
    status, _, stderr = run_cli("build", "--design", design_file(), "--board", "pynq-z2", "--out", out, "--dry-run")
    assert status == 2 and "xc7z020clg400-1" in stderr and "pynq-z2" in stderr
    status, _, stderr = run_cli("build", "--design", design_file(), "--board", "zedboard", "--out", out)
    assert status == 2 and "vivado" in stderr and "not on PATH" in stderr and "--dry-run" in stderr
    status, _, stderr = run_cli("build", "--design", design_file(HwConfig(bits=8, p_oc=32)), "--board", "zedboard",
                                "--out", out, "--model", tmp_path / "missing.npz", "--dry-run")
    assert status == 2 and "quantised model not found" in stderr
    assert not out.exists()


def test_cli_build_with_fake_tools(run_cli, design_file, tmp_path, fake_tools, quant_model, monkeypatch):
    """The whole non-dry-run path: HLS (csim, csynth, cosim, gate, export) and Vivado (fakes running
    the real scripts under the stubs), hand-off of <name>.bit/<name>.hwh, manifest with their sha256,
    the tool versions and the PL clock."""
    model_path, model = quant_model
    status, _, stderr = run_cli("build", "--design", design_file(), "--board", "zedboard", "--model", model_path,
                                "--out", tmp_path / "bitstreams")
    assert status == 2 and "cannot compute the conv and YOLO test vectors" in stderr  # no g++ here: cosim needs them
    monkeypatch.setattr(vectors, "default_vectors", lambda config, log, require_computed: _upsample_only())
    status, stdout, stderr = run_cli("build", "--design", design_file(), "--board", "zedboard", "--model", model_path,
                                     "--out", tmp_path / "bitstreams")
    assert status == 0, stderr
    assert "cosim" in load_manifest(tmp_path / "bitstreams" / "zedboard" / DEFAULT.name)["hls_report"]["steps"]
    root = tmp_path / "bitstreams" / "zedboard" / DEFAULT.name
    manifest = load_manifest(root)
    assert manifest["built"] is True
    assert manifest["bitstream"] == {"bit": f"{DEFAULT.name}.bit", "hwh": f"{DEFAULT.name}.hwh"}
    assert manifest["tools"] == {"hls": "vitis_hls 2022.2", "vivado": "2022.2"}
    assert manifest["hls_report"]["resources"]["DSP"] == 196 and manifest["vivado_result"]["wns_ns"] > 0
    assert manifest["hls_report"]["gate"]["ok"] and manifest["clock_mhz"] == 100.0
    assert manifest["fclk0"] == {"mhz": 100.0, "source": "IO PLL", "source_mhz": 1000.0, "divisor": 10}
    assert (root / f"{DEFAULT.name}.bit").read_text() == "fake bitstream\n"
    check_manifest(manifest, DEFAULT, model.content_hash)
    (root / f"{DEFAULT.name}.bit").write_text("another bitstream\n")
    with pytest.raises(ZynqyoloError, match="does not match its sha256"):
        load_manifest(root)


# ------------------------------------------------------------------------------------------------
# Manifest
# ------------------------------------------------------------------------------------------------


def test_manifest_round_trip_and_refusals(tmp_path, mock_src, quant_model):
    model_path, model = quant_model
    build = bitstream.write_build(DEFAULT, "zedboard", tmp_path, model_path=model_path, src_root=mock_src(),
                                  vectors=_upsample_only())
    written = bitstream.write_manifest(build)
    manifest = load_manifest(build.root)
    assert manifest == written
    check_manifest(manifest, DEFAULT, model.content_hash)
    plan = bitstream.load_plan(DEFAULT, model_path)
    check_manifest(manifest, DEFAULT, model.content_hash, plan=plan)

    with pytest.raises(ZynqyoloError, match=r"design point differs .*p_oc: bitstream 24 vs requested 32"):
        check_manifest(manifest, HwConfig(p_oc=32), model.content_hash)
    with pytest.raises(ZynqyoloError, match="quantised model differs"):
        check_manifest(manifest, DEFAULT, "0" * 64)
    with pytest.raises(ZynqyoloError, match="quantised model differs"):
        check_manifest(manifest, DEFAULT, None)
    narrow = {**manifest, "dma": {**manifest["dma"], "buffer_length_width": 14}}
    with pytest.raises(ZynqyoloError, match="exceeds the bitstream's 14-bit DMA length register"):
        check_manifest(narrow, DEFAULT, model.content_hash, plan=plan)
    check_manifest({**manifest, "model_hash": None}, DEFAULT, "f" * 64)  # not tied to a model
    assert manifest["dma"]["mode"] == "sg"
    simple = {**manifest, "dma": {k: v for k, v in manifest["dma"].items() if k != "mode"}}  # an older bitstream
    with pytest.raises(ZynqyoloError, match=r"DMAs in simple \(direct register\) mode .*Rebuild the bitstream"):
        check_manifest(simple, DEFAULT, model.content_hash)
    with pytest.raises(ZynqyoloError, match="'simple' mode"):
        check_manifest({**manifest, "dma": {**manifest["dma"], "mode": "simple"}}, DEFAULT, model.content_hash)

    (build.root / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ZynqyoloError, match="format version 99"):
        load_manifest(build.root)
    (build.root / "manifest.json").write_text("{not json")
    with pytest.raises(ZynqyoloError, match="unreadable manifest"):
        load_manifest(build.root)
    with pytest.raises(ZynqyoloError, match="no bitstream manifest"):
        load_manifest(tmp_path / "nowhere")


def test_manifest_lists_the_hand_off(tmp_path, mock_src):
    build = bitstream.write_build(PYNQ_Z2, "pynq-z2", tmp_path, src_root=mock_src(config=PYNQ_Z2),
                                  vectors=_upsample_only(PYNQ_Z2))
    assert build.length_width == 26 and build.plan_summary is None  # no model: any plan fits
    build.export_dir.mkdir(parents=True)
    for kind in ("bit", "hwh"):
        (build.export_dir / f"{PYNQ_Z2.name}.{kind}").write_text(kind)
    names = bitstream.hand_off(build)
    manifest = bitstream.write_manifest(build, bitstream=names)
    assert manifest["files"][f"{PYNQ_Z2.name}.bit"] == sha256_file(build.root / f"{PYNQ_Z2.name}.bit")
    assert not any(k.startswith("vivado/") for k in manifest["files"])
    (build.root / f"{PYNQ_Z2.name}.hwh").unlink()
    with pytest.raises(ZynqyoloError, match="hwh file .* is missing"):
        load_manifest(build.root)


# ------------------------------------------------------------------------------------------------
# The real tool
# ------------------------------------------------------------------------------------------------


@pytest.mark.vivado
@pytest.mark.skipif(tools.find_tool() is None, reason="Vitis HLS (vitis_hls, 2022.2 or later) not on PATH")
def test_real_hls_flow_passes_its_gate(tmp_path):
    """The real tool on a small design point: csim and C/RTL co-simulation of the upsample, conv +
    pool and YOLO vectors, synthesis with every latency-model loop at II 1 within the budget."""
    config = HwConfig(p_oc=8, p_ic=4, stage3_lanes=4, requant_lanes=4, max_width=32, max_height=32,
                      max_in_channels=64, max_out_channels=64, tile_pixels=64)
    calls = vectors.default_vectors(config, require_computed=True)
    project = tcl.write_hls_project(config, tmp_path / "hls", tools.find_tool(), steps=("csim", "csynth", "cosim"),
                                    vectors=calls)
    report = tools.run_hls(project)  # raises unless every vector passes both simulations and the gate holds
    log = project.log.read_text()
    assert tools.check_simulation_log(log, ("csim", "cosim"), project.vectors) == [] and len(project.vectors) == 3
    assert report["top"] == tcl.TOP and report["part"].startswith("xc7z020") and report["gate"]["ok"]
    assert tcl.parse_tool_version(report["tool_version"]) >= tcl.MIN_TOOL_VERSION
    assert report["available"]["DSP"] == 220 and report["resources"]["DSP"] > 0 and report["modules"]
    rows = tools.model_vs_report(config, report)
    assert all(r["report"] is not None for r in rows), [r["what"] for r in rows if r["report"] is None]
