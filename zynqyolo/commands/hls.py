"""``zynqyolo hls``: write the Vivado/Vitis HLS project of a design point, and run it."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    from ..hls.tcl import DEFAULT_STEPS, HLS_TOOLS, STEPS

    p = sub.add_parser("hls", help="write (and run) the HLS project of a design point",
                       description="Write the Vivado/Vitis HLS project of a design point (generated header, kernel "
                                   "sources, C testbench with test vectors, run_hls.tcl) and run the selected steps "
                                   "with the HLS tool; after csynth, the synthesis report becomes report.json. "
                                   "Without the tool, --dry-run writes and checks the project and prints the "
                                   "commands.")
    p.add_argument("--design", required=True, type=Path, metavar="FILE", help="design point JSON (HwConfig.save)")
    p.add_argument("--out", type=Path, metavar="DIR", help="project folder (default: build/hls/<design name>)")
    p.add_argument("--steps", default=",".join(DEFAULT_STEPS), metavar="LIST",
                   help=f"comma-separated, from {','.join(STEPS)} (default: {','.join(DEFAULT_STEPS)})")
    p.add_argument("--tool", choices=HLS_TOOLS, help="HLS tool (default: the first of vitis_hls, vivado_hls on PATH)")
    p.add_argument("--dry-run", action="store_true",
                   help="write and check the project, print the commands, do not run the tool")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..dse.hwconfig import HwConfig
    from ..errors import ZynqyoloError
    from ..hls import tcl, tclcheck, tools

    config = HwConfig.load(args.design)
    steps = tcl.normalize_steps(args.steps)
    tool = tools.find_tool(args.tool)
    if tool is None and not args.dry_run:
        wanted = args.tool or " or ".join(tcl.HLS_TOOLS)
        raise ZynqyoloError(f"{wanted} is not on PATH: source the Xilinx settings64.sh of Vivado/Vitis HLS "
                            "2019.1-2023.x first, or use --dry-run to write and check the project without it")
    out = args.out if args.out is not None else Path("build") / "hls" / config.name
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.dry_run and tclcheck.tclsh() is None:
        raise ZynqyoloError("--dry-run checks the generated Tcl with tclsh, which is not on PATH "
                            "(Debian/Ubuntu: apt-get install tcl)")
    project = tcl.write_hls_project(config, out, tool or args.tool or tcl.HLS_TOOLS[0], steps=steps, log=say)
    if tclcheck.tclsh() is not None:
        tclcheck.check_hls_script(project.script)
        say("checked: run_hls.tcl parses (tclsh) and runs against stubs of the HLS commands; every file, "
            "include folder and vectors file it names exists")
    else:
        say("note: tclsh not on PATH, the generated run_hls.tcl was not checked before running the tool")
    print(f"wrote HLS project {project.root} for {config.name} ({project.tool}; IP {project.vlnv})")
    if args.dry_run:
        print(project.shell_command(steps))
        return 0
    report = tools.run_hls(project, steps, log=say)
    if report is not None:
        lat = report["latency_cycles"]
        res = report["resources"]
        print(f"csynth: latency {lat['best']}..{lat['worst']} cycles, "
              + ", ".join(f"{k} {v}/{report['available'].get(k)}" for k, v in res.items())
              + f" -> {project.report_json}")
    if "export" in steps:
        print(f"IP repository: {project.ip_repo}")
    return 0
