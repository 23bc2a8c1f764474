"""``zynqyolo estimate``: the modelled latency and resources of one design point."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ZynqyoloError


def register(sub) -> None:
    p = sub.add_parser("estimate", help="modelled frame latency and resources of one design point",
                       description="Evaluate one design point with the resource and latency models (all figures "
                                   "modelled): a design file written by 'zynqyolo dse -o' (our architecture), or the "
                                   "reference design's parameters with --arch yu2020.")
    p.add_argument("--design", type=Path, metavar="FILE", help="design point JSON (HwConfig.save or dse -o)")
    p.add_argument("--arch", choices=("zynqyolo", "yu2020"), default=None,
                   help="yu2020: evaluate the reference's model at --param values (default: its final point)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="yu2020 parameter (N_max, P_mem, OITR, P_acc, P_pool, P_up, P_yolo); repeatable")
    p.add_argument("--clock-mhz", type=float, metavar="F", help="yu2020 only: clock (default 100 MHz)")
    p.add_argument("--board", help="board whose DDR and CPU enter the model (default: from the design's part)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg at its 416x416)")
    p.add_argument("--leaky-mul", choices=("dsp", "fabric"), default="fabric",
                   help="stage 2's leaky multiplier: fabric (as written: BIND_OP impl=fabric) or dsp (what-if)")
    p.add_argument("--no-verify-registers", action="store_true",
                   help="model a host that does not read every register back")
    p.set_defaults(func=run)


def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ZynqyoloError(f"--param {pair!r}: expected NAME=VALUE, e.g. N_max=32")
        out[name.strip()] = value.strip()
    return out


def _yu2020(args, network, params_overrides: dict[str, str]) -> dict:
    from ..dse import devices, explore, yu2020

    params = explore.yu2020_params(params_overrides)
    if args.clock_mhz is not None:
        try:
            params = yu2020.Yu2020Params(**{**params.to_dict(), "clock_mhz": args.clock_mhz})
        except ValueError as exc:
            raise ZynqyoloError(f"inconsistent yu2020 parameters: {exc}") from None
    d = yu2020.evaluate(params, network).to_dict()
    d["kind"] = "modelled"
    d["device"] = "xc7z020"
    for b in d["batches"]:
        b.setdefault("stall_ms", 0.0)
    dev = devices.get_device("xc7z020")
    d["resource_fractions"] = {k: (None if v is None else v / getattr(dev, k)) for k, v in d["resources"].items()}
    return d


def run(args) -> int:
    from rich.console import Console

    from ..dse import devices, explore, perf, report
    from ..dse.hwconfig import HwConfig
    from .dse import load_network

    network = load_network(args.cfg)
    design_json = None
    if args.design is not None:
        try:
            design_json = json.loads(args.design.read_text())
        except FileNotFoundError:
            raise ZynqyoloError(f"design file not found: {args.design}") from None
        except (OSError, ValueError) as exc:
            raise ZynqyoloError(f"cannot read design file {args.design}: {exc}") from None
    arch = args.arch or ("yu2020" if isinstance(design_json, dict) and design_json.get("arch") == "yu2020"
                         else "zynqyolo")
    if arch == "yu2020":
        overrides = {}
        if design_json is not None:
            names = {"n_max": "N_max", "p_mem": "P_mem", "oitr": "OITR", "p_acc": "P_acc", "p_pool": "P_pool",
                     "p_up": "P_up", "p_yolo": "P_yolo"}
            overrides = {names[k]: str(v) for k, v in design_json.get("params", {}).items() if k in names}
        overrides.update(_parse_params(args.param))
        d = _yu2020(args, network, overrides)
        device = devices.get_device("xc7z020")
    else:
        if args.param or args.clock_mhz is not None:
            raise ZynqyoloError("--param and --clock-mhz apply to --arch yu2020; our design file carries its clock")
        if args.design is None:
            raise ZynqyoloError("give --design FILE (from 'zynqyolo dse -o FILE'), or --arch yu2020")
        config = HwConfig.load(args.design)
        board = explore.resolve_board(config.part, args.board)
        host = perf.HostModel.for_board(board, verify_registers=not args.no_verify_registers)
        try:
            e = perf.estimate(config, network, board, host=host, leaky_mul_impl=args.leaky_mul)
        except ValueError as exc:
            raise ZynqyoloError(f"{args.design}: cannot model this design here: {exc}") from None
        d = e.to_dict()
        device = e.device
    dev = {"dsp": device.dsp, "bram18": device.bram18, "lut": device.lut, "ff": device.ff}
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    console = Console()
    report.print_estimate(d, dev, console)
    if arch == "zynqyolo" and not d["fits_device"]:
        console.print(f"[red]this design point does not fit {d['device']}[/red]")
    return 0
