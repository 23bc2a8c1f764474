"""``zynqyolo estimate``: the modelled latency and resources of one design point."""

from __future__ import annotations

import json
import math
import sys
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
    p.add_argument("--clock-mhz", type=float, metavar="F",
                   help="clock to model (default: the design's; yu2020: 100 MHz); the board's PS makes the fastest "
                        "clock not above it (150 on a Zynq-7000 board gives 142.857), which is what is modelled")
    p.add_argument("--board", help="board whose DDR and CPU enter the model (default: from the design's part)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg at its 416x416)")
    p.add_argument("--leaky-mul", choices=("dsp", "fabric"), default="fabric",
                   help="stage 2's leaky multiplier: fabric (as written: BIND_OP impl=fabric) or dsp (what-if)")
    p.add_argument("--no-verify-registers", action="store_true",
                   help="model a host that does not read every register back")
    p.add_argument("--frame", default="640x480", metavar="WxH",
                   help="camera/video frame size for the end-to-end frame's ARM steps (default 640x480)")
    p.add_argument("--resize", choices=("darknet", "opencv"), default="darknet",
                   help="the letterbox the end-to-end frame assumes (default darknet: bit-exact)")
    p.set_defaults(func=run)


def _frame_size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    try:
        size = (int(w), int(h))
    except ValueError:
        size = None
    if not sep or size is None or min(size) < 2:
        raise ZynqyoloError(f"--frame {text!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    return size


def _board_clock(config, board, requested_mhz):
    """``config`` at the clock ``board``'s PS makes for ``requested_mhz`` (default: the design's own
    clock, which a design from 'zynqyolo dse' already is), and how the PS makes it."""
    import dataclasses

    from ..dse import explore

    from ..dse.devices import CLOCK_TOLERANCE

    requested = config.clock_mhz if requested_mhz is None else requested_mhz
    clock = explore.pl_clock_mhz(board, requested)
    if math.isclose(clock, config.clock_mhz, rel_tol=CLOCK_TOLERANCE):
        clock = config.clock_mhz  # the design's own clock, to its digits: the design hash stays
    else:
        config = dataclasses.replace(config, clock_mhz=clock)
    return config, explore.clock_note(board, requested, clock)


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
    clock = None
    if args.clock_mhz is not None:  # the reference ran on a Zedboard: its PS makes the clock
        board = explore.resolve_board("zedboard")
        clock = explore.clock_note(board, args.clock_mhz, explore.pl_clock_mhz(board, args.clock_mhz))
        try:
            params = yu2020.Yu2020Params(**{**params.to_dict(), "clock_mhz": clock["achieved_mhz"]})
        except ValueError as exc:
            raise ZynqyoloError(f"inconsistent yu2020 parameters: {exc}") from None
    d = yu2020.evaluate(params, network).to_dict()
    if clock is not None:
        d["requested_clock_mhz"], d["pl_clock"] = clock["requested_mhz"], clock
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
        from .. import validate

        if not args.design.exists():
            raise ZynqyoloError(f"design file not found: {args.design}")
        design_json = validate.json_file(args.design, "design file")
    arch = args.arch or ("yu2020" if isinstance(design_json, dict) and design_json.get("arch") == "yu2020"
                         else "zynqyolo")
    if arch == "yu2020":
        overrides = {}
        if design_json is not None:
            if not isinstance(design_json, dict) or design_json.get("arch") != "yu2020":
                raise ZynqyoloError(f"--design {args.design} is not a design of the reference architecture (no "
                                    "\"arch\": \"yu2020\"): --arch yu2020 takes its parameters with --param, or a "
                                    "file from 'zynqyolo dse --arch yu2020 -o FILE'")
            params = validate.mapping(design_json.get("params", {}), f"{args.design} params")
            names = {"n_max": "N_max", "p_mem": "P_mem", "oitr": "OITR", "p_acc": "P_acc", "p_pool": "P_pool",
                     "p_up": "P_up", "p_yolo": "P_yolo"}
            unknown = sorted(set(params) - set(names) - {"clock_mhz"})
            if unknown:
                raise ZynqyoloError(f"{args.design}: unknown yu2020 parameter(s) {unknown}; known: "
                                    f"{sorted(names) + ['clock_mhz']}")
            if "clock_mhz" in params and args.clock_mhz is None:  # the file's clock, unless --clock-mhz overrides
                args.clock_mhz = validate.number(params["clock_mhz"], f"{args.design} params.clock_mhz", lo=1.0)
            overrides = {names[k]: str(validate.integer(v, f"{args.design} params.{k}", lo=1))
                         for k, v in params.items() if k in names}
        overrides.update(_parse_params(args.param))
        d = _yu2020(args, network, overrides)
        device = devices.get_device("xc7z020")
    else:
        if args.param:
            raise ZynqyoloError("--param applies to --arch yu2020")
        if args.design is None:
            raise ZynqyoloError("give --design FILE (from 'zynqyolo dse -o FILE'), or --arch yu2020")
        from ..dse import arm

        frame = _frame_size(args.frame)
        config = HwConfig.load(args.design)
        board = explore.resolve_board(config.part, args.board)
        config, clock = _board_clock(config, board, args.clock_mhz)
        host = perf.HostModel.for_board(board, verify_registers=not args.no_verify_registers)
        try:
            plan = perf.plan_for(network, config)
            e = perf.estimate(config, network, board, host=host, leaky_mul_impl=args.leaky_mul, plan=plan)
        except ValueError as exc:
            raise ZynqyoloError(f"{args.design}: cannot model this design here: {exc}") from None
        d = e.to_dict()
        d["requested_clock_mhz"], d["pl_clock"] = clock["requested_mhz"], clock
        # The whole frame on the board: the ARM's letterbox, packing, unpacking, decode and NMS around
        # the accelerator, and the frame rate of the pipelined detect_stream (all modelled, dse/arm.py).
        d["end_to_end"] = arm.end_to_end(e, plan, network, frame, args.resize).to_dict()
        device = e.device
    dev = {"dsp": device.dsp, "bram18": device.bram18, "lut": device.lut, "ff": device.ff}
    note = explore.clock_message(d["pl_clock"]) if d.get("pl_clock") else None
    if note:
        print(note, file=sys.stderr)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    console = Console()
    report.print_estimate(d, dev, console)
    if "end_to_end" in d:
        e2e = d["end_to_end"]
        steps = ", ".join(f"{k} {v['ms']:.1f}" for k, v in e2e["arm"]["steps"].items())
        console.print(f"end to end on {d['board']} (modelled, a {args.frame} frame, {args.resize} letterbox): "
                      f"{e2e['latency_ms']:.0f} ms per frame, {e2e['throughput_fps']:.2f} fps pipelined; ARM side "
                      f"{e2e['arm_ms']:.0f} ms ({e2e['arm_share']:.0%} of the latency: {steps} ms)")
    if arch == "zynqyolo" and not d["fits_device"]:
        console.print(f"[red]this design point does not fit {d['device']}[/red]")
    return 0
