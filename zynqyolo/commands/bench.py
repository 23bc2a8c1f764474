"""``zynqyolo bench``: per-stage timings on a board (emulated or real) and the ARM-only baseline."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("bench", help="time frames on a board and compare with the ARM-only baseline",
                       description="Run frames through the host driver (emu: emulated board; pynq: a PYNQ board) "
                                   "or the CPU-only baseline alone (cpu); print per-stage timings (measured where "
                                   "this runs, labelled with the machine), the board's accelerator and end-to-end "
                                   "frame (modelled) and the ARM-only baseline: measured on a board (numpy, OpenCV "
                                   "DNN), else the board's figure modelled with its source.")
    p.add_argument("--backend", choices=("emu", "pynq", "cpu"), default="emu")
    p.add_argument("--design", type=Path, help="design point JSON (default: HwConfig defaults)")
    p.add_argument("--model", type=Path, help="quantised model (default: the cached 16-bit default model)")
    p.add_argument("--bitstream", type=Path, help="bitstream folder (pynq backend)")
    p.add_argument("--board", help="board the modelled latency is for (default: zedboard; emu and pynq backends)")
    p.add_argument("--frames", type=int, default=3, help="frames to time (default: 3)")
    p.add_argument("--resize", choices=("darknet", "opencv"), default="darknet",
                   help="letterbox resize: darknet (bit-exact, default) or opencv")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ZynqyoloError
    from ..fetch import model_paths, photo_paths
    from ..workflow import default_model, load_images, machine, modelled_board, on_board, time_baseline, time_board
    from ..model import load_cfg, load_weights
    from ..model.preprocess import letterbox
    from ..model.quantize import load_model

    if args.frames < 1:
        raise ZynqyoloError(f"--frames must be at least 1, got {args.frames}")
    if args.backend == "cpu":  # options that only a board run uses are refused, not ignored
        unused = [o for o, v in (("--design", args.design), ("--bitstream", args.bitstream), ("--board", args.board))
                  if v is not None]
        if unused:
            raise ZynqyoloError(f"{', '.join(unused)}: for --backend emu or pynq; --backend cpu times the CPU-only "
                                "baseline, which runs no design on no board")
    else:
        from ..dse.devices import get_board

        from ..dse.hwconfig import HwConfig

        try:
            board = get_board(args.board or "zedboard")  # checked before any work, with the design point
        except ValueError as exc:
            raise ZynqyoloError(str(exc)) from None
        design = HwConfig.load(args.design) if args.design else None
    cfg, weights_path, _ = model_paths()
    network = load_cfg(cfg)
    model = load_model(args.model, network=network) if args.model else default_model(
        16, log=lambda m: print(m, file=sys.stderr))
    images = load_images(photo_paths()[:args.frames] * (args.frames // len(photo_paths()) + 1))[:args.frames]
    here = machine()
    board_run = args.backend == "pynq"
    report: dict = {"backend": args.backend, "frames": args.frames, "machine": here,
                    "cpu_figures_are_the_boards": on_board()}

    if args.backend in ("emu", "pynq"):
        from ..host.driver import open_driver

        config = design or HwConfig(bits=model.bits)
        driver = open_driver(args.backend, model, config, bitstream=args.bitstream)
        measured = time_board(driver, images, resize=args.resize)["timing"]
        measured["kind"] = ("measured on the PYNQ board" if board_run
                            else f"measured on this machine ({here}), emulated board: not the board's figures")
        report["design"] = config.name
        report["measured"] = measured
        frame = images[0].shape[1::-1]
        mb = modelled_board(config, network, board, plan=driver.plan, frame_wh=frame, resize=args.resize)
        mb.pop("estimate")
        report["modelled_board"] = mb
    xs = [letterbox(im, network.width, network.height) for im in images]
    baseline = time_baseline(network, load_weights(weights_path, network), model, xs)
    baseline["kind"] = ("measured on the board's ARM: the ARM-only baseline" if baseline["on_board"]
                        else f"measured on this machine ({here}): not the board's ARM")
    report["cpu_baseline_measured"] = baseline
    if "modelled_board" in report:
        mb = report["modelled_board"]
        bound = mb["arm_only"]["neon_peak_bound"]["ms"]
        e2e = mb["end_to_end"]["latency_ms"]
        report["speedup_modelled"] = {
            "end_to_end_vs_arm_neon_bound": bound / e2e,
            "accelerator_vs_darknet_baremetal": mb["arm_only"]["darknet_baremetal"]["ms"] / mb["accelerator_ms"],
            "kind": "modelled over modelled (NEON bound) or measured by Yu & Bouganis (darknet bare metal)"}
        if baseline["on_board"] and board_run:
            best = min(v["frame_ms"] for k, v in baseline.items() if isinstance(v, dict) and "frame_ms" in v)
            report["speedup_measured_on_board"] = best / measured["wall_per_frame_ms"]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print(report)
    return 0


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    mb = report.get("modelled_board")
    if mb:
        t = Table(title=f"On the board ({mb['board']}, {mb['clock_mhz']:g} MHz, design {mb['design']}): modelled")
        for col in ("what", "ms / frame", "how"):
            t.add_column(col, justify="right" if col == "ms / frame" else "left")
        e2e = mb["end_to_end"]
        t.add_row("accelerator (hardware calls, driver's MMIO and cache maintenance)", f"{mb['accelerator_ms']:.1f}",
                  "modelled (dse/perf.py)")
        for name, step in e2e["arm"]["steps"].items():
            t.add_row(f"  ARM: {name}", f"{step['ms']:.1f}", "modelled (dse/arm.py)")
        t.add_row("end-to-end frame", f"{e2e['latency_ms']:.1f}",
                  f"modelled; pipelined {e2e['throughput_fps']:.2f} fps, ARM share {e2e['arm_share']:.0%}")
        for key, label in (("neon_peak_bound", "ARM-only, NEON peak bound (best case)"),
                           ("darknet_baremetal", "ARM-only, darknet bare metal")):
            t.add_row(label, f"{mb['arm_only'][key]['ms']:,.0f}", mb["arm_only"][key]["kind"])
        console.print(t)
        sp = report["speedup_modelled"]
        console.print(f"speed-up on the board (modelled): end-to-end frame vs the ARM-only NEON bound "
                      f"{sp['end_to_end_vs_arm_neon_bound']:.1f}x; accelerator vs darknet bare metal "
                      f"{sp['accelerator_vs_darknet_baremetal']:.0f}x")
    m = report.get("measured")
    if m:
        t = Table(title=f"Measured: {m['kind']}")
        t.add_column("stage")
        t.add_column("ms / frame (median)", justify="right")
        for key in ("letterbox_ms", "pack_ms", "accelerator_ms", "unpack_ms", "decode_ms"):
            t.add_row(key[:-3], f"{m[key]:.1f}")
        if "host_python_ms" in m:
            t.add_row("  of which host Python (driver, excluding the C simulation)", f"{m['host_python_ms']:.1f}")
        t.add_row("wall per frame, pipelined", f"{m['wall_per_frame_ms']:.1f}")
        console.print(t)
    base = report["cpu_baseline_measured"]
    t = Table(title=f"CPU-only baseline: {base['kind']}")
    t.add_column("implementation")
    t.add_column("ms / frame (median)", justify="right")
    for name, label in (("float32", "numpy float32"), ("integer", "numpy integer reference"),
                        ("opencv_dnn", "OpenCV DNN (darknet importer)")):
        if name in base:
            t.add_row(label, f"{base[name]['frame_ms']:.1f}")
    console.print(t)
    if "speedup_measured_on_board" in report:
        console.print(f"speed-up measured on the board over the fastest ARM-only implementation: "
                      f"{report['speedup_measured_on_board']:.1f}x")
    elif not base["on_board"]:
        console.print(f"(the CPU figures are this machine's, {report['machine']}: they are not the board's and no "
                      "speed-up is computed from them)")
