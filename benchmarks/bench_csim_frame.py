"""Benchmark: one 416x416 frame through the plan and the C-simulated kernels.

Prints the wall time per frame (median of --runs), hardware calls and DMA transfers per frame,
DMA bytes per frame by kind, and the MAC-array utilisation implied by the kernels' own loop
counts: direct-convolution MACs / (p_oc * p_ic * (CONV_MAC + CONV_WINO) iterations). Checks bit-exactness against the
integer reference on the way.

    python benchmarks/bench_csim_frame.py [--design FILE] [--bits 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> int:
    from zynqyolo.dse.hwconfig import HwConfig
    from zynqyolo.fetch import model_paths, photo
    from zynqyolo.host.runner import CsimBackend
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", help="design point JSON (default: HwConfig defaults)")
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    cfg_path, weights_path, _ = model_paths()
    net = load_cfg(cfg_path)
    model = calibrate(net, load_weights(weights_path, net), [photo("bus"), photo("zidane")], bits=args.bits)
    config = HwConfig.load(args.design) if args.design else HwConfig(bits=args.bits)
    backend = CsimBackend(model, config)
    ref = IntegerReference(model)
    codes = ref.quantize_input(letterbox(load_image(photo("bus")), net.width, net.height))

    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        outs = backend.forward_codes(codes)
        times.append(time.perf_counter() - start)
    want, _ = ref.run(codes)
    exact = all(np.array_equal(a, b) for a, b in zip(outs, want))

    plan = backend.plan
    counts: dict[str, int] = {}
    for record in backend.records:
        for name, n in record.counts.items():
            counts[name] = counts.get(name, 0) + n
    useful = net.macs
    iterations = counts["CONV_MAC"] + counts.get("CONV_WINO", 0)  # the MAC array's multiply slots
    util = useful / (config.macs * iterations)
    dma = plan.dma_bytes()
    print(f"design {config.name}: p_oc {config.p_oc} x p_ic {config.p_ic} = {config.macs} MACs, "
          f"{config.bits}-bit, tile {config.tile_pixels} px")
    print(f"csim frame 416x416 (native build, this machine): median {statistics.median(times):.2f} s "
          f"over {args.runs} runs (min {min(times):.2f} s); bit-exact vs integer reference: {exact}")
    print(f"hardware calls per frame: {len(plan.calls)}; DMA transfers per frame: {plan.n_transfers}; "
          f"largest transfer {plan.largest_transfer():,} bytes")
    print(f"DMA bytes per frame: weights/params {dma['params']:,}, feature maps in {dma['fmap_in']:,}, "
          f"feature maps out {dma['fmap_out']:,}, total {sum(dma.values()):,}")
    print(f"MAC-array iterations {iterations:,} (CONV_MAC {counts['CONV_MAC']:,}, CONV_WINO "
          f"{counts.get('CONV_WINO', 0):,}) for {useful:,} direct-convolution MACs: {util:.1%} of the array's "
          f"multiplications in direct-MAC terms (above 100 % where Winograd saves; from the csim loop counts)")
    print("loop counts: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
