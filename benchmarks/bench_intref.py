"""Median wall time per 416x416 frame: integer reference (16- and 8-bit) and numpy float reference.

Run: python benchmarks/bench_intref.py [--runs N] [--calib K]
Calibrates on the first K fetched photos (not timed), then times ``forward`` on the bus photo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def median_ms(fn, runs: int) -> tuple[float, float]:
    fn()  # warm-up: first BLAS call, page faults
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calib", type=int, default=4, help="calibration photos (default 4)")
    args = parser.parse_args()

    from zynqyolo.fetch import model_paths, photo, photo_paths
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.float_ref import FloatReference
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import preprocess
    from zynqyolo.model.quantize import calibrate

    cfg, weights_path, _ = model_paths()
    network = load_cfg(cfg)
    weights = load_weights(weights_path, network)
    x, _ = preprocess(photo("bus"), network.width, network.height)
    print(f"{network.width}x{network.height}, {network.macs / 1e9:.3f} GMAC, {os.cpu_count()} CPUs, "
          f"median of {args.runs} runs")
    rows = [("numpy float32 reference", FloatReference(network, weights))]
    for bits in (16, 8):
        model = calibrate(network, weights, photo_paths()[:args.calib], bits=bits)
        rows.append((f"integer reference {bits}-bit", IntegerReference(model)))
    for label, backend in rows:
        med, best = median_ms(lambda: backend.forward(x), args.runs)
        print(f"{label:<28} median {med:7.1f} ms/frame   (best {best:7.1f} ms)")


if __name__ == "__main__":
    main()
