"""Wall time of the design-space search (``zynqyolo dse``) for our architecture.

- cold: xc7z020 (Zedboard) at 100 MHz, 16-bit, cap 0.9, nothing cached: every plan is built;
- warm: the same network at 150 MHz and on two UltraScale+ parts, reusing the plans and per-call
  cycles the first search cached (they depend on neither the clock, the board nor the cap);
- cold 8-bit: xc7z020 at 100 MHz, 8-bit (other plans: 8 lanes per bus word).

Every search covers the three conv engines (direct, winograd, winograd-paired) jointly with the array and the tile.
Prints the points evaluated, the feasible ones, the chosen design (and the best of each engine) and
the wall time of each search (all figures modelled). The target is a cold search under 10 s per engine.

    python benchmarks/bench_dse.py
"""

from __future__ import annotations

import time

from zynqyolo.dse import explore
from zynqyolo.fetch import model_paths
from zynqyolo.model import load_cfg


def main() -> None:
    network = load_cfg(model_paths()[0])
    cache = explore.SearchCache()
    for label, device, mhz, bits in (("cold", "xc7z020", 100, 16), ("warm", "xc7z020", 150, 16),
                                     ("warm", "xczu5ev", 150, 16), ("warm", "xczu7ev", 150, 16),
                                     ("cold", "xc7z020", 100, 8)):
        t0 = time.perf_counter()
        r = explore.search(network, device, clock_mhz=mhz, bits=bits, cap=0.9, cache=cache)
        wall_s = time.perf_counter() - t0
        e, c = r.best_estimate, r.best.config
        engines = "; ".join(f"{k} {p.config.p_oc}x{p.config.p_ic} {p.latency_ms:.1f} ms"
                            for k, p in r.best_by_engine().items())
        print(f"{label:4s} {device} ({r.board.name}) {mhz} MHz {bits}-bit: {len(r.points):,} points evaluated, "
              f"{len(r.feasible_points):,} feasible, {wall_s:.2f} s wall; chosen {c.conv_engine} {c.p_oc}x{c.p_ic} "
              f"tile {c.tile_pixels} lanes {c.requant_lanes}/{c.stage3_lanes}: {e.latency_ms:.1f} ms modelled, "
              f"multiplier efficiency {e.multiplier_efficiency:.1%} (best per engine: {engines})")


if __name__ == "__main__":
    main()
