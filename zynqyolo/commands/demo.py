"""``zynqyolo demo``: the README's main job.

Today: fetch what is missing, run the float model on the bus photo, write the annotated
picture and print the detections. The emulated-board flow (quantise, DSE, driver) extends it.
"""

from __future__ import annotations

import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="the main job: detect objects in a test photo end to end",
                       description="Fetch the model and photos if missing, run detection on the bus photo "
                                   "and write an annotated picture.")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("out"), help="where pictures go (default: out/)")
    p.add_argument("--photo", default="bus", help="test photo by name (default: bus)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fetch import fetch, photo
    from ..model.detector import detect, open_backend
    from ..model.draw import draw_detections, save_image_atomic
    from ..model.postprocess import load_names
    from ..model.preprocess import load_image

    paths = fetch()
    names = load_names(paths["coco.names"])
    image_path = photo(args.photo)
    image = load_image(image_path)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    backend = open_backend("torch")
    start = time.perf_counter()
    dets = detect(backend, image, names=names)
    elapsed_ms = (time.perf_counter() - start) * 1e3
    out = save_image_atomic(draw_detections(image, dets), args.output_dir / f"demo_{image_path.stem}.png")
    print(f"{image_path.name}: {len(dets)} detections with the float model "
          f"({elapsed_ms:.0f} ms measured on this machine) -> {out}")
    for d in dets:
        print(f"  {d.class_name:<12} {d.score:5.3f}  box [{', '.join(f'{v:.0f}' for v in d.box)}]")
    return 0
