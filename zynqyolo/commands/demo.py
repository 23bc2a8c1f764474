"""``zynqyolo demo``: the README's main job, end to end on the emulated board.

fetch what is missing -> quantise to 16 bits (once, cached) -> DSE for the Zedboard (xc7z020,
100 MHz) -> a photo through the PYNQ host driver on the emulated board (every call in C
simulation of the HLS kernels) -> annotated picture -> a short table: the detections, the
chosen design's modelled Zedboard latency and resources next to the reference design's
measured 532 ms, and the ARM-only baseline measured on this machine.
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

    from ..dse import explore
    from ..dse.devices import get_board
    from ..errors import ZynqyoloError
    from ..fetch import fetch, photo
    from ..host.driver import DriverBackend, open_driver
    from ..workflow import default_model, time_baseline
    from ..backends import detect
    from ..model.draw import draw_detections, save_image_atomic
    from ..model.intref import IntegerReference
    from ..model.postprocess import load_names
    from ..model.preprocess import letterbox, load_image

    def say(msg: str) -> None:
        print(f"[demo] {msg}", file=sys.stderr)

    try:
        board = get_board(args.board)
    except ValueError as exc:
        raise ZynqyoloError(str(exc)) from None
    paths = fetch(log=say)
    names = load_names(paths["coco.names"])
    image_path = photo(args.photo)
    image = load_image(image_path)
    model = default_model(16, log=say)
    network = model.network

    say(f"design-space exploration for {board.name} ({board.part}) at {args.clock_mhz:g} MHz, 16-bit")
    result = explore.search(network, board.part, clock_mhz=args.clock_mhz, bits=16, board=board.name)
    config = result.best.config
    estimate = result.best_estimate
    args.output_dir.mkdir(parents=True, exist_ok=True)
    design_path = config.save(args.output_dir / f"design-{board.name}.json")

    say(f"running {image_path.name} through the host driver on the emulated board ({config.name})")
    driver = open_driver("emu", model, config)
    start = time.perf_counter()
    dets = detect(DriverBackend(driver, "emu"), image, names=names)
    emu_s = time.perf_counter() - start
    out = save_image_atomic(draw_detections(image, dets), args.output_dir / f"demo_{image_path.stem}.png")

    x = letterbox(image, network.width, network.height)
    ref_outs = IntegerReference(model).forward(x)
    exact = all(np.array_equal(a, b) for a, b in zip(driver.forward(x), ref_outs))
    say("timing the ARM-only baseline (numpy) on this machine")
    from ..fetch import model_paths
    from ..model import load_weights

    baseline = time_baseline(network, load_weights(model_paths()[1], network), model, [x])

    console = Console(width=None if sys.stdout.isatty() else 110)
    det_table = Table(title=f"Detections in {image_path.name} (emulated board, bit-exact with the integer "
                            f"reference: {'yes' if exact else 'NO'})")
    for col in ("class", "score", "box (x1, y1, x2, y2)"):
        det_table.add_column(col)
    for d in dets:
        det_table.add_row(d.class_name, f"{d.score:.3f}", ", ".join(f"{v:.0f}" for v in d.box))
    console.print(det_table)

    res = estimate.to_dict()["resources"]
    cmp = Table(title=f"YOLOv3-tiny 416x416 on {board.name}")
    for col in ("", "ms/frame", "DSP", "BRAM18", "LUT", "FF", "how"):
        cmp.add_column(col, justify="left" if col in ("", "how") else "right")
    cmp.add_row("zynqyolo (ours)", f"{estimate.latency_ms:.0f}", str(res["dsp"]), str(res["bram18"]),
                f"{res['lut'] / 1e3:.1f}k", f"{res['ff'] / 1e3:.1f}k", f"modelled, {config.clock_mhz:g} MHz")
    cmp.add_row("reference design [1]", "532", "160", "185", "25.9k", "46.7k", "measured, 100 MHz")
    cmp.add_row("ARM-only, numpy float32", f"{baseline['float32']['frame_ms']:.0f}", "", "", "", "",
                "measured on this machine")
    cmp.add_row("ARM-only, integer ref.", f"{baseline['integer']['frame_ms']:.0f}", "", "", "", "",
                "measured on this machine")
    cmp.add_row("emulated board [2]", f"{emu_s * 1e3:.0f}", "", "", "", "", "measured on this machine")
    console.print(cmp)
    print("[1] Yu & Bouganis, ARC 2020, Zedboard measurement. [2] the host driver with every hardware call in "
          "C simulation of the HLS kernels.")
    print(f"annotated picture: {out}\ndesign point: {design_path}\n"
          f"MAC-array efficiency (modelled): {estimate.mac_efficiency:.1%}; DSE evaluated {len(result.points):,} "
          f"points in {result.wall_s:.1f} s")
    return 0 if exact else 1
