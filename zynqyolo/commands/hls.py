"""``zynqyolo hls``: write the Vitis HLS project of a design point, run it, and set the resource model
beside the synthesis report."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    from ..hls.tcl import DEFAULT_STEPS, HLS_TOOL, STEPS, SUPPORTED_TOOLS

    p = sub.add_parser("hls", help="write (and run) the HLS project of a design point; model vs synthesis resources",
                       description="Write the Vitis HLS project of a design point (generated header, kernel sources, "
                                   "C testbench with test vectors, run_hls.tcl) and run the selected steps with "
                                   f"{SUPPORTED_TOOLS}. The run fails (exit status 2) unless csim and C/RTL "
                                   "co-simulation pass every test vector, every loop the latency model times at II 1 "
                                   "reports II 1, and the synthesised DSP/BRAM18/LUT/FF fit the design point's "
                                   "budget (the device under --cap). Prints the resource model's estimate per block "
                                   "beside the synthesis report's per module; without the tool, the model's side and "
                                   "the command to run. The synthesis report becomes report.json.")
    p.add_argument("--design", required=True, type=Path, metavar="FILE", help="design point JSON (HwConfig.save)")
    p.add_argument("--out", type=Path, metavar="DIR", help="project folder (default: build/hls/<design name>)")
    p.add_argument("--steps", default=",".join(DEFAULT_STEPS), metavar="LIST",
                   help=f"comma-separated, from {','.join(STEPS)} (default: {','.join(DEFAULT_STEPS)})")
    p.add_argument("--tool", default=HLS_TOOL, metavar="TOOL",
                   help=f"HLS tool: {HLS_TOOL}, the only supported one (Vivado HLS is refused)")
    p.add_argument("--cap", type=float, default=None, metavar="FRACTION",
                   help="the resource budget as a fraction of the device (default: the explorer's cap, 0.9)")
    p.add_argument("--dry-run", action="store_true",
                   help="write and check the project, print the model's estimate and the command; run no tool")
    p.add_argument("--cosim-rtl", action="store_true",
                   help="after the export, run the exported Verilog of yolo_accel on one conv and one YOLO call "
                        "under Icarus Verilog with the cocotb testbench (cocotbext-axi; zynqyolo.hls.cosim_rtl) "
                        "and compare its output words with the integer reference")
    p.set_defaults(func=run)


def format_comparison(rows: list[dict], source: str | None) -> str:
    """The model-vs-report table: one row per dataflow process, the rest and the total."""
    keys = (("DSP", "DSP"), ("BRAM_18K", "BRAM18"), ("LUT", "LUT"), ("FF", "FF"))
    width = max(len(r["what"]) for r in rows) + 2
    title = ("resources: the model (dse.blocks, modelled)" + (f" beside the synthesis report ({source})" if source
                                                               else "; no synthesis report yet"))
    head = " " * width + "".join(f"{label:>18}" for _, label in keys)
    sub = " " * width + "".join(f"{'model':>9}{'report':>9}" if source else f"{'model':>18}" for _ in keys)
    lines = [title, head, sub]

    def cell(v) -> str:
        return "-" if v is None else f"{v:,}"

    for r in rows:
        line = f"{r['what']:<{width}}"
        for key, _ in keys:
            m = r["model"][key]
            if source:
                line += f"{cell(m):>9}{cell(None if r['report'] is None else r['report'][key]):>9}"
            else:
                line += f"{cell(m):>18}"
        lines.append(line)
    if source:
        total = rows[-1]
        ratios = ", ".join(f"{label} {total['report'][k] / total['model'][k]:.2f}" for k, label in keys
                           if total["report"] and total["report"].get(k) is not None and total["model"][k])
        lines.append(f"report / model, totals: {ratios}")
        lines.append("report modules: " + "; ".join(f"{r['what']}: {', '.join(r['modules']) or 'not found'}"
                                                    for r in rows[:-2]))
    lines.append("model blocks: " + "; ".join(f"{r['what']}: {', '.join(r['blocks']) or '-'}" for r in rows[:-1]))
    return "\n".join(lines)


def run(args) -> int:
    from ..dse.hwconfig import HwConfig
    from ..errors import ZynqyoloError
    from ..hls import tcl, tclcheck, tools, vectors

    config = HwConfig.load(args.design)
    steps = tcl.normalize_steps(args.steps)
    tool = tcl.check_tool(args.tool)
    if args.cap is not None:
        from ..dse.explore import check_cap

        check_cap(args.cap)
    have_tool = tools.find_tool(tool) is not None
    run_tool = have_tool and not args.dry_run
    out = args.out if args.out is not None else Path("build") / "hls" / config.name
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.dry_run and tclcheck.tclsh() is None:
        raise ZynqyoloError("--dry-run checks the generated Tcl with tclsh, which is not on PATH "
                            "(Debian/Ubuntu: apt-get install tcl)")
    if getattr(args, "cosim_rtl", False):
        if not run_tool:
            raise ZynqyoloError(f"--cosim-rtl tests the Verilog that {tool} exports, and "
                                + ("--dry-run runs no tool" if args.dry_run else f"{tool} is not on PATH")
                                + ": there is no exported Verilog to test (source the settings64.sh of "
                                f"{tcl.SUPPORTED_TOOLS}, or run without --cosim-rtl)")
        if "export" not in steps:
            raise ZynqyoloError("--cosim-rtl runs after the HLS export: add export to --steps")
        from ..hls.cosim_rtl import check_tools

        check_tools()  # before hours of synthesis: iverilog, cocotb and cocotbext-axi are there
    from ..outputs import dir_destination

    dir_destination(out, "--out")  # before the vectors: a file there, or a folder we cannot write
    # A run of the tool co-simulates a conv and a YOLO call: their vectors must exist.
    calls = vectors.default_vectors(config, say, require_computed=run_tool)
    project = tcl.write_hls_project(config, out, tool, steps=steps, vectors=calls, log=say)
    if tclcheck.tclsh() is not None:
        tclcheck.check_hls_script(project.script)
        say("checked: run_hls.tcl parses (tclsh) and runs against stubs of the HLS commands; every file, "
            "include folder and vectors file it names exists")
    else:
        say("note: tclsh not on PATH, the generated run_hls.tcl was not checked before running the tool")
    print(f"wrote HLS project {project.root} for {config.name} ({project.tool}; IP {project.vlnv}; test vectors "
          f"{', '.join(project.vectors)})")
    if not run_tool:
        print(format_comparison(tools.model_vs_report(config, None), None))
        print(f"to synthesise ({tcl.SUPPORTED_TOOLS}): {project.shell_command(steps)}")
        if args.dry_run:
            return 0
        raise ZynqyoloError(f"{tool} is not on PATH: the project and the model's estimate are written above; source "
                            f"the settings64.sh of {tcl.SUPPORTED_TOOLS} and run the command above, or this command "
                            "again (--dry-run writes the project without this error)")
    try:
        report = tools.run_hls(project, steps, log=say, cap=args.cap)
    except tools.GateFailure as exc:
        if exc.report is not None:
            print(format_comparison(tools.model_vs_report(config, exc.report), _source(exc.report)))
        raise
    if report is not None:
        lat = report["latency_cycles"]
        print(f"csynth: latency {lat['best']}..{lat['worst']} cycles, estimated clock "
              f"{report.get('estimated_clock_ns')} ns (target {report.get('target_clock_ns')} ns) -> "
              f"{project.report_json}")
        print(format_comparison(tools.model_vs_report(config, report), _source(report)))
    if "export" in steps:
        print(f"IP repository: {project.ip_repo}")
    if getattr(args, "cosim_rtl", False):
        from ..hls.cosim_rtl import rtl_cosim_calls, run_rtl_cosim

        res = run_rtl_cosim(project, config, rtl_cosim_calls(config), work=project.root / "cosim_rtl", log=say)
        print(f"RTL co-simulation (cocotb, icarus) PASS: {res.summary()}")
    return 0


def _source(report: dict) -> str:
    return f"{report.get('tool', 'vitis_hls')} {report.get('tool_version') or ''}".strip() + " csynth estimate"
