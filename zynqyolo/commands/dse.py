"""``zynqyolo dse``: search the design space of our accelerator (or the reference's) for a device."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..dse.hwconfig import CONV_ENGINES
from ..errors import ZynqyoloError

# --engine: the conv engines (HwConfig.conv_engine) the search tries; auto searches them all.
ENGINE_CHOICES = {"auto": CONV_ENGINES, **{engine: (engine,) for engine in CONV_ENGINES}}


def register(sub) -> None:
    p = sub.add_parser("dse", help="design-space exploration: the fastest design point that fits a device (modelled)",
                       description="Evaluate every point of the design grid with the resource and latency models "
                                   "(all figures modelled, none measured), pick the least frame latency whose DSP, "
                                   "BRAM18, LUT and FF stay under the cap, report the Pareto fronts and write the "
                                   "chosen design point (HwConfig JSON) for the HLS, build and host steps.")
    p.add_argument("--device", required=True, metavar="PART",
                   help="part (xc7z020, xczu5ev, ...), full ordering code, or board name (zedboard, kv260, ...)")
    p.add_argument("--board", help="board whose DDR and CPU enter the model (default: the part's usual board)")
    p.add_argument("--clock-mhz", type=float, required=True, metavar="F",
                   help="PL clock in MHz; the board's PS makes the fastest clock not above it (its PLL divided by "
                        "two 6-bit divisors: 150 on a Zynq-7000 board gives 1000/7 = 142.857), which the design "
                        "point carries")
    p.add_argument("--bits", type=int, choices=(16, 8), required=True, help="datapath precision")
    p.add_argument("--arch", choices=("zynqyolo", "yu2020"), default="zynqyolo",
                   help="zynqyolo (ours, default) or yu2020 (the reference design's own model and grid)")
    p.add_argument("--engine", choices=tuple(ENGINE_CHOICES), default="auto",
                   help="stage 1's convolution engine (HwConfig.conv_engine): direct, winograd (F(2x2,3x3) for the "
                        "3x3 layers at least 7 wide), winograd-paired (also two positions a step for layer 0), "
                        "winograd-4x2 (F(4x2,3x3) for the 3x3 layers at least 13 wide; 8-bit only) or auto "
                        "(default: search every engine the precision allows, keep the fastest)")
    p.add_argument("--cap", type=float, default=0.9, help="largest fraction of each device resource to use (0.9)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the chosen design point (JSON)")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="write the design-space and breakdown figure")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg at its 416x416)")
    p.add_argument("--leaky-mul", choices=("dsp", "fabric"), default="fabric",
                   help="stage 2's leaky multiplier: fabric (the kernels as written: BIND_OP impl=fabric) or dsp "
                        "(what-if: DSP48 multipliers)")
    p.add_argument("--no-verify-registers", action="store_true",
                   help="model a host that does not read every register back (the driver's default does)")
    p.set_defaults(func=run)


def load_network(cfg: Path | None):
    from ..fetch import model_paths
    from ..model.cfg import load_cfg

    if cfg is None:
        cfg = model_paths()[0]
    try:
        return load_cfg(cfg)
    except FileNotFoundError:
        raise ZynqyoloError(f"cfg file not found: {cfg}") from None


def check_output_path(path: Path | None, what: str, inputs=()) -> None:
    """Before the search: ``path`` can be written and is none of ``inputs`` (``zynqyolo.outputs``)."""
    from ..outputs import file_destination

    if path is not None:
        file_destination(path, what, inputs=[i for i in inputs if i is not None])


class LazyProgress:
    """A rich progress bar on stderr that appears only once the work has taken more than a second."""

    def __init__(self, description: str, delay_s: float = 1.0):
        self.description = description
        self.delay_s = delay_s
        self.t0 = time.perf_counter()
        self.progress = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.t0 < self.delay_s:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run(args) -> int:
    from rich.console import Console

    from ..dse import explore, perf, plots, report
    from ..outputs import OutputSet

    if args.output is not None and args.plot is not None and args.output.absolute() == args.plot.absolute():
        raise ZynqyoloError(f"-o and --plot name the same file {args.output}; give the figure another name")
    check_output_path(args.output, "-o", inputs=[args.cfg])
    check_output_path(args.plot, "--plot", inputs=[args.cfg, args.output])
    if args.plot is not None:
        plots.plot_format(args.plot)
    network = load_network(args.cfg)
    explore.check_cap(args.cap)
    if args.arch == "yu2020":
        if args.board or args.leaky_mul != "fabric" or args.no_verify_registers or args.engine != "auto":
            raise ZynqyoloError("--board, --engine, --leaky-mul and --no-verify-registers apply to --arch zynqyolo "
                                "only")
        result = explore.search_yu2020(network, args.device, clock_mhz=args.clock_mhz, cap=args.cap, bits=args.bits)
        device = result.device
    else:
        board = explore.resolve_board(args.device, args.board)
        host = perf.HostModel.for_board(board, verify_registers=not args.no_verify_registers)
        progress = LazyProgress(f"searching {board.part} at {args.clock_mhz:g} MHz")
        try:
            result = explore.search(network, args.device, board=args.board, clock_mhz=args.clock_mhz, bits=args.bits,
                                    cap=args.cap, host=host, leaky_mul_impl=args.leaky_mul, progress=progress,
                                    engines=ENGINE_CHOICES[args.engine])
        finally:
            progress.close()
        device = result.device
    d = result.to_dict()
    dev = {"dsp": device.dsp, "bram18": device.bram18, "lut": device.lut, "ff": device.ff}
    note = explore.clock_message(d["pl_clock"]) if d.get("pl_clock") else None
    if note:
        print(note, file=sys.stderr)
    with OutputSet() as outputs:  # the design and the figure appear together, or neither does
        if args.output is not None:
            if args.arch == "zynqyolo":
                outputs.write_text(args.output, result.best.config.to_json())
            else:
                outputs.write_text(args.output, json.dumps({"arch": "yu2020", "kind": perf.KIND, "params": d["params"],
                                                            "device": d["device"]}, indent=2))
            d["design_file"] = str(args.output)
        if args.plot is not None:
            with outputs.open(args.plot) as fh:
                plots.write_exploration(explore.view(result), fh, plots.plot_format(args.plot))
            d["plot_file"] = str(args.plot)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    console = Console()
    report.print_exploration(d, dev, console)
    for key, what in (("design_file", "design point"), ("plot_file", "figure")):
        if key in d:
            console.print(f"wrote {what}: {d[key]}")
    return 0
