"""Wall time of the largest single hardware calls of YOLOv3-tiny in the native C simulation.

- layer 12-like: 13x13x512 -> 1024, 3x3, leaky (the biggest conv: 29 % of the network's MACs)
- layer 0-like: 416x416x3 -> 16, 3x3, leaky, then 2x2 max-pool stride 2 (the biggest tensors)

Random codes over the full 16-bit range (the arithmetic, not the values, sets the time), the
default design point (HwConfig()). Build time is reported separately (cached after the first run).

    python benchmarks/bench_csim_call.py
"""

from __future__ import annotations

import time

import numpy as np

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.hls.csim import CsimAccelerator
from zynqyolo.dse.packing import conv_input_slices, gather_words, pack_fmap, pack_params


def conv_call(acc: CsimAccelerator, rng, c_in: int, c_out: int, size: int, ksize: int, stage3: int, stride: int):
    cfg = acc.config
    x = rng.integers(-(1 << 15), 1 << 15, size=(c_in, size, size))
    w = rng.integers(-(1 << 15), 1 << 15, size=(c_out, c_in, ksize, ksize))
    bias = rng.integers(-(1 << 40), 1 << 40, size=c_out)
    shifts = np.full(c_out, 24)
    folds_in = cfg.folds(c_in)
    band_rows = size if folds_in == 1 else min(size, cfg.tile_pixels // size)
    bands = -(-size // band_rows)
    regs = dict(conv_enable=1, leaky=1, ksize=ksize, stage3=stage3, pool_stride=stride, height=size, width=size,
                in_channels_a=c_in, in_channels_b=0, out_channels=c_out, out_folds=cfg.folds(c_out), bands=bands,
                band_rows=band_rows, yolo_period=0, yolo_shift=0, winograd=0, out_group=1)
    words = gather_words(pack_fmap(x, cfg), conv_input_slices((c_in,), size, size, ksize, regs["out_folds"], bands,
                                                              band_rows, cfg))
    params = pack_params(w, bias, shifts, (c_in,), bands, cfg)
    t0 = time.perf_counter()
    result = acc.call(regs, words, params)
    return time.perf_counter() - t0, result


def main() -> None:
    cfg = HwConfig()
    t0 = time.perf_counter()
    acc = CsimAccelerator(cfg, native=True)
    print(f"design {cfg.name}: library ready in {time.perf_counter() - t0:.2f} s ({acc.library_path})")
    rng = np.random.default_rng(0)
    for name, args in (("layer 12-like 13x13x512->1024 3x3", (512, 1024, 13, 3, 0, 1)),
                       ("layer 0-like 416x416x3->16 3x3 + maxpool/2", (3, 16, 416, 3, 1, 2))):
        seconds, result = conv_call(acc, rng, *args)
        mac_cycles = result.counts["CONV_MAC"]
        print(f"{name}: {seconds:.3f} s wall, CONV_MAC {mac_cycles:,} iterations "
              f"({mac_cycles * cfg.macs / seconds / 1e9:.2f} G MAC-slots/s), out {result.out_words.size:,} words")


if __name__ == "__main__":
    main()
