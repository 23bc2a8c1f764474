"""The cocotb testbench of the exported IP (hls/cocotb/tb_yolo_accel.py, run by zynqyolo.hls.cosim_rtl).

rtl tier: the real testbench runs under Icarus Verilog against tests/rtl/mock_yolo_accel.v, a
hand-written stand-in of the IP with its port names, AXI4-Lite register file (ap_ctrl at 0x00, the
registers at HwConfig.register_offsets) and an x2 upsample datapath of a bypass call: the
upsample vectors (expected words from the DDR layout) pass, and one-character mutants of the mock
(TLAST inverted, a row index off, ap_done never set) fail with the mismatch named.

vivado tier: Vitis HLS exports the real IP and the testbench runs one conv call and one YOLO call
of the test vectors (expected words: the Python C simulation) on its Verilog.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

MOCK = Path(__file__).resolve().parent / "rtl" / "mock_yolo_accel.v"


def require_tools() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("iverilog not on PATH: the IP testbench runs under Icarus Verilog (apt-get install iverilog)")
    pytest.importorskip("cocotb_tools.runner", reason="cocotb 2.1 is not installed")
    pytest.importorskip("cocotbext.axi", reason="cocotbext-axi is not installed (pip install cocotbext-axi==0.1.28)")


def mock_dir(tmp_path: Path, mutation: tuple[str, str] | None = None) -> Path:
    """A folder holding the mock IP, optionally with one text substitution (a mutant)."""
    text = MOCK.read_text()
    if mutation is not None:
        old, new = mutation
        assert text.count(old) == 1, f"mutation anchor {old!r} not unique in the mock"
        text = text.replace(old, new)
    d = tmp_path / "verilog"
    d.mkdir()
    (d / "yolo_accel.v").write_text(text)
    return d


def upsample_calls(config: HwConfig) -> list:
    from zynqyolo.hls.vectors import upsample_vector

    # the default call (one full fold plus one word: a narrower last fold) and a one-fold call,
    # so the reset and the register writes between calls are exercised too
    return [upsample_vector(config), upsample_vector(config, height=2, width=3, channels=8, seed=5)]


@pytest.mark.rtl
def test_testbench_passes_on_the_mock_ip(tmp_path, record_property):
    require_tools()
    from zynqyolo.hls.cosim_rtl import run_rtl_cosim

    config = HwConfig()
    calls = upsample_calls(config)
    res = run_rtl_cosim(mock_dir(tmp_path), config, calls, "icarus", work=tmp_path / "run",
                        parameters={"FOLD_WORDS": config.p_oc // config.lanes_per_word,
                                    "LANES_PER_WORD": config.lanes_per_word})
    print(res.summary())
    assert res.passed, res.failure()
    assert [c["name"] for c in res.calls] == [v.name for v in calls]
    for rec, v in zip(res.calls, calls):
        assert rec["received_words"] == rec["expected_words"] == len(v.out_words) > 0
        assert rec["mismatches"] == 0 and rec["done"] and rec["frames"] == 1
    record_property("rtl_vectors", sum(c["expected_words"] for c in res.calls))


MUTANTS = {
    # one character each
    "tlast_inverted": (("assign out_r_TLAST  = wr_last;", "assign out_r_TLAST  = !wr_last;"),
                       r"out word 0: TLAST 1, expected 0"),
    "row_index": (("((oy >> 1) * width", "((oy >> 2) * width"), r"out word \d+: got [0-9a-f]{16}, expected [0-9a-f]{16}"),
    "no_ap_done": (("ap_done <= 1; ap_idle <= 1;", "ap_done <= 0; ap_idle <= 1;"), r"no ap_done within 3000 cycles"),
}


@pytest.mark.rtl
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_mutant_mock_fails_with_the_mismatch(tmp_path, mutant):
    require_tools()
    from zynqyolo.hls.cosim_rtl import run_rtl_cosim
    from zynqyolo.hls.vectors import upsample_vector

    mutation, message = MUTANTS[mutant]
    config = HwConfig()
    with pytest.raises(ZynqyoloError, match="RTL co-simulation FAILED") as info:
        run_rtl_cosim(mock_dir(tmp_path, mutation), config, [upsample_vector(config)], "icarus",
                      work=tmp_path / "run", timeout_cycles=3000)
    print(str(info.value).split("\n(run folder")[0])
    assert info.match(message)


def test_the_calls_file_and_the_verilog_folder(tmp_path):
    """No simulator: the calls file carries the RTL port names and every register; the export folder
    is found under an HLS project's solution; a folder without Verilog is a clear error."""
    import json

    from zynqyolo.hls.cosim_rtl import verilog_dir, write_calls
    from zynqyolo.hls.vectors import upsample_vector

    config = HwConfig()
    v = upsample_vector(config)
    spec = json.loads(write_calls(tmp_path / "calls.json", config, [v], tmp_path / "r.json").read_text())
    assert spec["ports"] == {"in": "in_r", "wts": "wts", "out": "out_r"} and spec["control"] == "s_axi_control"
    assert list(spec["calls"][0]["registers"]) == list(config.register_fields())
    assert len(spec["calls"][0]["in"]) == len(v.in_words) and len(spec["calls"][0]["out"]) == len(v.out_words)
    export = tmp_path / "prj" / "hls_prj" / "sol" / "impl" / "verilog"
    export.mkdir(parents=True)
    (export / "yolo_accel.v").write_text("module yolo_accel; endmodule\n")
    assert verilog_dir(tmp_path / "prj") == export
    with pytest.raises(ZynqyoloError, match="no exported Verilog"):
        verilog_dir(tmp_path / "empty")


def test_cosim_rtl_without_vitis_hls_fails_clearly(tmp_path, monkeypatch, capsys):
    """``zynqyolo hls --cosim-rtl`` without the HLS tool: no export to test, said so."""
    from zynqyolo import cli
    from zynqyolo.hls import tools

    monkeypatch.setattr(cli, "COMMANDS", tuple(dict.fromkeys(cli.COMMANDS + ("hls",))))
    monkeypatch.setattr(tools, "find_tool", lambda preferred=None: None)
    design = HwConfig().save(tmp_path / "design.json")
    status = cli.main(["hls", "--design", str(design), "--out", str(tmp_path / "prj"), "--cosim-rtl"])
    err = capsys.readouterr().err
    assert status != 0
    assert "--cosim-rtl" in err and "no exported Verilog to test" in err


@pytest.mark.vivado
def test_exported_ip_runs_a_conv_and_a_yolo_call(tmp_path):
    """Vitis HLS exports the real IP; the testbench runs one conv and one YOLO call on its Verilog."""
    from zynqyolo.hls import tcl, tools, vectors
    from zynqyolo.hls.cosim_rtl import rtl_cosim_calls, run_rtl_cosim

    if tools.find_tool("vitis_hls") is None:
        pytest.skip("vitis_hls not on PATH (source the settings64.sh of Vitis HLS 2022.2 or later)")
    require_tools()
    config = HwConfig()
    calls = vectors.default_vectors(config, require_computed=True)
    project = tcl.write_hls_project(config, tmp_path / "prj", "vitis_hls", steps=("csynth", "export"), vectors=calls)
    tools.run_hls(project, ("csynth", "export"))
    res = run_rtl_cosim(project, config, rtl_cosim_calls(config), "icarus", work=tmp_path / "rtl")
    assert res.passed, res.failure()
    assert [c["name"].split("_")[0] for c in res.calls] == ["conv3x3", "yolo7"]
