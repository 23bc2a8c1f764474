"""``zynqyolo demo``: the README's main job, end to end on the emulated board.

fetch what is missing -> quantise to 16 bits (once, cached) -> DSE for the Zedboard (xc7z020,
100 MHz) -> a photo through the PYNQ host driver on the emulated board (every call in C
simulation of the HLS kernels) -> annotated picture -> two tables: the board (the accelerator
and the end-to-end frame modelled, the reference design and the ARM-only baseline as their
authors measured them, the NEON bound modelled) and, apart, the figures measured on this
machine, labelled as this machine's (never the board's).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="the main job: DSE, emulated board, detections, comparison table",
                       description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out"), help="where results go (default: out/)")
    p.add_argument("--photo", default="bus", help="test photo by name (default: bus)")
    p.add_argument("--board", default="zedboard", help="board to design for (default: zedboard)")
    p.add_argument("--clock-mhz", type=float, default=100.0, help="PL clock (default: 100)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from .. import Detector
    from ..dse import explore
    from ..dse.devices import get_board
    from ..errors import ZynqyoloError
    from ..fetch import fetch, model_paths, photo
    from ..model import load_weights
    from ..model.draw import save_image_atomic
    from ..model.intref import IntegerReference
    from ..model.preprocess import letterbox, load_image
    from ..outputs import dir_destination, make_dir
    from ..workflow import default_model, machine, modelled_board, time_baseline

    def say(msg: str) -> None:
        print(f"[demo] {msg}", file=sys.stderr)

    try:
        board = get_board(args.board)
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None
    dir_destination(args.output_dir, "-o")  # before any work: a file there, or a folder we cannot write, is refused
    fetch(log=say)
    image_path = photo(args.photo)
    image = load_image(image_path)
    model = default_model(16, log=say)
    network = model.network

    say(f"design-space exploration for {board.name} ({board.part}) at {args.clock_mhz:g} MHz, 16-bit")
    result = explore.search(network, board.part, clock_mhz=args.clock_mhz, bits=16, board=board.name)
    config = result.best.config

    say(f"running {image_path.name} through the host driver on the emulated board ({config.name})")
    detector = Detector("emu", model=model, design=config)
    start = time.perf_counter()
    dets = detector.detect(image)
    emu_s = time.perf_counter() - start
    make_dir(args.output_dir, "-o directory")  # the outputs once the work that makes them has succeeded
    out = save_image_atomic(detector.draw(image, dets), args.output_dir / f"demo_{image_path.stem}.png")
    design_path = config.save(args.output_dir / f"design-{board.name}.json")

    x = letterbox(image, network.width, network.height)
    ref_outs = IntegerReference(model).forward(x)
    exact = all(np.array_equal(a, b) for a, b in zip(detector.backend.forward(x), ref_outs))
    here = machine()
    say(f"timing the CPU-only baseline on this machine ({here})")
    baseline = time_baseline(network, load_weights(model_paths()[1], network), model, [x])
    mb = modelled_board(config, network, board, plan=detector.driver.plan, frame_wh=image.shape[1::-1])
    estimate, e2e, arm_only = mb["estimate"], mb["end_to_end"], mb["arm_only"]

    console = Console(width=None if sys.stdout.isatty() else 110)
    det_table = Table(title=f"Detections in {image_path.name} (emulated board, bit-exact with the integer "
                            f"reference: {'yes' if exact else 'NO'})")
    for col in ("class", "score", "box (x1, y1, x2, y2)"):
        det_table.add_column(col)
    for d in dets:
        det_table.add_row(d.class_name, f"{d.score:.3f}", ", ".join(f"{v:.0f}" for v in d.box))
    console.print(det_table)

    res = estimate.to_dict()["resources"]
    cmp = Table(title=f"YOLOv3-tiny 416x416 on the {board.name} ({board.cpu}, {board.cpu_clock_mhz:g} MHz)")
    for col in ("", "ms/frame", "DSP", "BRAM18", "LUT", "FF", "how"):
        cmp.add_column(col, justify="left" if col in ("", "how") else "right")
    cmp.add_row("zynqyolo accelerator", f"{estimate.latency_ms:.0f}", str(res["dsp"]), str(res["bram18"]),
                f"{res['lut'] / 1e3:.1f}k", f"{res['ff'] / 1e3:.1f}k", f"modelled, {config.clock_mhz:g} MHz")
    cmp.add_row(f"zynqyolo end-to-end frame ({image.shape[1]}x{image.shape[0]} photo) [2]", f"{e2e['latency_ms']:.0f}",
                "", "", "", "", f"modelled: ARM {e2e['arm_ms']:.0f} ms ({e2e['arm_share']:.0%}); "
                f"{e2e['throughput_fps']:.1f} fps pipelined")
    cmp.add_row("reference design [1]", "532", "160", "185", "25.9k", "46.7k", "measured by its authors, 100 MHz")
    cmp.add_row("ARM-only: darknet, bare metal [1]", f"{arm_only['darknet_baremetal']['ms']:,.0f}", "", "", "", "",
                "measured by the authors of [1]")
    cmp.add_row("ARM-only: NEON peak bound [3]", f"{arm_only['neon_peak_bound']['ms']:,.0f}", "", "", "", "",
                "modelled (best case for any CPU code)")
    console.print(cmp)
    here_table = Table(title=f"Measured on this machine ({here}): not the board")
    for col in ("", "ms/frame", "how"):
        here_table.add_column(col, justify="right" if col == "ms/frame" else "left")
    for key, label in (("float32", "numpy float32"), ("integer", "numpy integer reference"),
                       ("opencv_dnn", "OpenCV DNN (darknet importer)")):
        if key in baseline:
            here_table.add_row(f"CPU only: {label}", f"{baseline[key]['frame_ms']:.0f}", f"measured, {here}")
    here_table.add_row("emulated board [4]", f"{emu_s * 1e3:.0f}", f"measured, {here}")
    console.print(here_table)
    print("[1] Yu & Bouganis, ARC 2020, Zedboard measurements. [2] dse/arm.py: letterbox, packing, unpacking, "
          "decode and NMS on the board's ARM, costed from the code and calibrated on published PYNQ-board "
          "figures, around the accelerator. [3] 2 x MACs FLOPs at NEON's 2 FLOP/cycle on both cores (Xilinx "
          "XAPP1206); tuned NEON code would take 2.5-4 s. [4] the host driver with every hardware call in C "
          "simulation of the HLS kernels.")
    print(f"speed-up on the board (modelled): end-to-end frame vs the ARM-only NEON bound "
          f"{arm_only['neon_peak_bound']['ms'] / e2e['latency_ms']:.1f}x, accelerator vs darknet bare metal "
          f"{arm_only['darknet_baremetal']['ms'] / estimate.latency_ms:.0f}x")
    print(f"annotated picture: {out}\ndesign point: {design_path}\n"
          f"MAC-array efficiency (modelled): {estimate.mac_efficiency:.1%}; DSE evaluated {len(result.points):,} "
          f"points in {result.wall_s:.1f} s")
    return 0 if exact else 1
