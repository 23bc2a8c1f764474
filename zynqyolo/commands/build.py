"""``zynqyolo build``: a PYNQ overlay (.bit + .hwh + manifest.json) for a design point on a board."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    from ..hls.bitstream import BOARDS
    from ..hls.tcl import HLS_TOOL, SUPPORTED_TOOLS

    p = sub.add_parser("build", help="build the bitstream of a design point for a board (HLS + Vivado)",
                       description="Write bitstreams/<board>/<design name>/ with the Vivado script, the HLS project "
                                   f"and manifest.json; with {SUPPORTED_TOOLS} on PATH, run HLS (csim, csynth, "
                                   "C/RTL co-simulation, gated on II 1 and the resource budget, IP export) then "
                                   "Vivado, and hand off <name>.bit and <name>.hwh for PYNQ. --dry-run writes and "
                                   "checks everything that can be checked without the tools and prints the commands.")
    p.add_argument("--design", required=True, type=Path, metavar="FILE", help="design point JSON (HwConfig.save)")
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--model", type=Path, metavar="QUANT.npz",
                   help="quantised model: sizes the DMA length registers from its plan and is recorded in the "
                        "manifest (without it: the widest registers, and any model is accepted)")
    p.add_argument("--out", type=Path, default=Path("bitstreams"), metavar="DIR",
                   help="root of the bitstream folders (default: bitstreams/)")
    p.add_argument("--hls-tool", default=HLS_TOOL, metavar="TOOL",
                   help=f"HLS tool: {HLS_TOOL}, the only supported one (Vivado HLS is refused)")
    p.add_argument("--force", action="store_true", help="replace a folder that already holds a built bitstream")
    p.add_argument("--dry-run", action="store_true", help="write and check, print the commands, run no tool")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..dse.hwconfig import HwConfig
    from ..errors import ZynqyoloError
    from ..hls import bitstream, tcl, tclcheck, tools, vectors

    config = HwConfig.load(args.design)
    bitstream.check_board(config, args.board)
    tool = tcl.check_tool(args.hls_tool)
    hls_tool = tools.find_tool(tool)
    vivado = bitstream.find_vivado()
    if not args.dry_run and (hls_tool is None or vivado is None):
        missing = " and ".join(n for n, t in (("vivado", vivado), (tool, hls_tool)) if t is None)
        raise ZynqyoloError(f"{missing} not on PATH: source the settings64.sh of {tcl.SUPPORTED_TOOLS} first, "
                            "or use --dry-run to write and check the build without the tools")
    if args.dry_run and tclcheck.tclsh() is None:
        raise ZynqyoloError("--dry-run checks the generated Tcl with tclsh, which is not on PATH "
                            "(Debian/Ubuntu: apt-get install tcl)")
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    bitstream.check_build_dir(config, args.board, args.out, replace_built=args.force)  # before the vectors
    # The HLS run co-simulates a conv and a YOLO call: a real build needs their vectors.
    calls = vectors.default_vectors(config, say, require_computed=not args.dry_run)
    build = bitstream.write_build(config, args.board, args.out, model_path=args.model, hls_tool=tool,
                                  replace_built=args.force, vectors=calls, log=say)
    if tclcheck.tclsh() is not None:
        tclcheck.check_hls_script(build.hls.script)
        tclcheck.check_vivado_script(build.script, tcl.ip_vlnv(config), bitstream.accel_pins())
        say(f"checked: the design point's part {config.part} is the {args.board}'s; both scripts parse (tclsh) and "
            "run against stubs of the Vivado/HLS commands, IP parameters and pins they use")
    else:
        say("note: tclsh not on PATH, the generated scripts were not checked before running the tools")
    plan = build.plan_summary
    say(f"DMA buffer length width {build.length_width} bits"
        + (f" (largest transfer {plan['largest_transfer_bytes']:,} bytes over {plan['calls']} calls)" if plan
           else " (no --model: the widest, fits any plan)"))
    if args.dry_run:
        manifest = bitstream.write_manifest(build)
        print(f"wrote {build.root} (manifest {len(manifest['files'])} files, not built)")
        for line in build.shell_commands():
            print(line)
        return 0
    manifest = bitstream.run_build(build, log=say)
    print(f"built {build.root}/{manifest['bitstream']['bit']} and {manifest['bitstream']['hwh']} "
          f"(Vivado {manifest['tools']['vivado']}, FCLK0 {manifest['vivado_result'].get('fclk0_mhz')} MHz, "
          f"WNS {manifest['vivado_result'].get('wns_ns')} ns)")
    return 0
