"""``zynqyolo bench``: per-stage timings on a board (emulated or real) and the ARM-only baseline."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("bench", help="time frames on a board and compare with the ARM-only baseline",
                       description="Run frames through the host driver (emu: emulated board; pynq: a PYNQ board) "
                                   "or the ARM-only baseline alone (cpu), print per-stage timings, the "
                                   "accelerator latency (modelled for the target board; measured on a board) and "
                                   "the baseline measured where this runs.")
    p.add_argument("--backend", choices=("emu", "pynq", "cpu"), default="emu")
    p.add_argument("--design", type=Path, help="design point JSON (default: HwConfig defaults)")
    p.add_argument("--model", type=Path, help="quantised model (default: the cached 16-bit default model)")
    p.add_argument("--bitstream", type=Path, help="bitstream folder (pynq backend)")
    p.add_argument("--board", default="zedboard", help="board the modelled latency is for (default: zedboard)")
    p.add_argument("--frames", type=int, default=3, help="frames to time (default: 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ZynqyoloError
    from ..fetch import model_paths, photo_paths
    from ..workflow import default_model, load_images, time_baseline, time_board
    from ..model import load_cfg, load_weights
    from ..model.preprocess import letterbox
    from ..model.quantize import load_model

    if args.frames < 1:
        raise ZynqyoloError(f"--frames must be at least 1, got {args.frames}")
    cfg, weights_path, _ = model_paths()
    network = load_cfg(cfg)
    model = load_model(args.model, network=network) if args.model else default_model(
        16, log=lambda m: print(m, file=sys.stderr))
    images = load_images(photo_paths()[:args.frames] * (args.frames // len(photo_paths()) + 1))[:args.frames]
    report: dict = {"backend": args.backend, "frames": args.frames}

    config = None
    if args.backend in ("emu", "pynq"):
        from ..dse.devices import get_board
        from ..dse.hwconfig import HwConfig
        from ..dse.perf import estimate
        from ..host.driver import open_driver

        config = HwConfig.load(args.design) if args.design else HwConfig(bits=model.bits)
        driver = open_driver(args.backend, model, config, bitstream=args.bitstream)
        measured = time_board(driver, images)["timing"]
        try:
            board = get_board(args.board)
        except ValueError as exc:
            raise ZynqyoloError(str(exc)) from None
        modelled = estimate(config, network, board, plan=driver.plan)
        report["design"] = config.name
        report["accelerator"] = {
            "measured_here": measured,
            "modelled": {"board": board.name, "clock_mhz": config.clock_mhz, "latency_ms": modelled.latency_ms,
                         "kind": "modelled"},
        }
    xs = [letterbox(im, network.width, network.height) for im in images]
    baseline = time_baseline(network, load_weights(weights_path, network), model, xs)
    report["baseline_measured_here"] = baseline
    if config is not None:
        acc_ms = report["accelerator"]["modelled"]["latency_ms"]
        report["speedup_vs_float32_baseline"] = baseline["float32"]["frame_ms"] / acc_ms
        report["speedup_vs_integer_baseline"] = baseline["integer"]["frame_ms"] / acc_ms
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print(report)
    return 0


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"zynqyolo bench ({report['backend']}, {report['frames']} frames)")
    table.add_column("what")
    table.add_column("ms / frame", justify="right")
    table.add_column("how")
    acc = report.get("accelerator")
    if acc:
        m = acc["measured_here"]
        where = "emulated board, this machine" if report["backend"] == "emu" else "PYNQ board"
        for key in ("preprocess_ms", "accelerator_ms", "postprocess_ms"):
            table.add_row(key[:-3], f"{m[key]:.1f}", f"measured, {where}")
        if "host_python_ms" in m:
            table.add_row("  of which host Python (driver)", f"{m['host_python_ms']:.1f}",
                          "measured, excludes the C simulation")
        mod = acc["modelled"]
        table.add_row(f"accelerator on {mod['board']} @ {mod['clock_mhz']:g} MHz", f"{mod['latency_ms']:.1f}",
                      "modelled")
    for name, base in report["baseline_measured_here"].items():
        table.add_row(f"ARM-only baseline, numpy {name}", f"{base['frame_ms']:.1f}", "measured, this machine")
    Console().print(table)
    if acc:
        print(f"speed-up of the modelled accelerator over the numpy float32 baseline measured here: "
              f"{report['speedup_vs_float32_baseline']:.1f}x (the board's ARM is slower than this machine, so "
              f"on the board the speed-up is larger)")
