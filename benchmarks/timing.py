"""Shared by the benchmarks (run as scripts: this folder is on sys.path): the median of timed runs."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, runs: int) -> float:
    """Median wall time of ``fn()`` over ``runs`` calls, in ms, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
