"""Figures of a design-space exploration (matplotlib, Agg backend): one PNG with

- latency vs DSP and latency vs BRAM18: every evaluated point (feasible or over the cap), the
  Pareto fronts, the chosen point, the device's capacity and cap, and the reference design's
  final point in its own model;
- the chosen point's latency per layer batch, stacked: compute, pipeline stalls, exposed DMA,
  host (per-call MMIO and cache maintenance); [W] marks the batches on the Winograd path.

Feasible points of the two conv engines have their own markers (direct: dots, winograd: triangles).

Input is the architecture-neutral view of ``explore.view`` (plain dicts and lists), so both
``--arch zynqyolo`` and ``--arch yu2020`` draw the same way. Every figure is labelled modelled.
"""

from __future__ import annotations

from pathlib import Path

# Colours: a colour-blind-safe set (Okabe & Ito).
C_FEASIBLE = "#0072B2"
C_INFEASIBLE = "#BBBBBB"
C_PARETO = "#D55E00"
C_CHOSEN = "#E69F00"
C_REFERENCE = "#009E73"
C_WINOGRAD = "#CC79A7"
XLIM_DEVICES = 2.5
STACK = (("compute_ms", "compute", "#0072B2"), ("stall_ms", "pipeline stalls", "#56B4E9"),
         ("dma_ms", "DMA (not hidden)", "#E69F00"), ("host_ms", "host (calls, cache)", "#CC79A7"))


def _scatter_panel(ax, view: dict, resource: str, label: str):
    pts = view["points"]
    device_cap = view["device_resources"][resource]
    cap = view["cap"]
    # Points far beyond the device say nothing about it: the axis stops at XLIM_DEVICES x its capacity.
    xmax = XLIM_DEVICES * device_cap
    bad = [(p[resource], p["latency_ms"]) for p in pts if not p["feasible"] and p["latency_ms"] is not None]
    good = [(p[resource], p["latency_ms"]) for p in pts if p["feasible"] and p.get("engine") != "winograd"]
    good_w = [(p[resource], p["latency_ms"]) for p in pts if p["feasible"] and p.get("engine") == "winograd"]
    beyond = sum(1 for x, _ in bad if x > xmax)
    bad = [(x, y) for x, y in bad if x <= xmax]
    if bad or beyond:
        extra = f", {beyond:,} beyond the axis" if beyond else ""
        ax.scatter(*zip(*bad), s=7, c=C_INFEASIBLE, alpha=0.5, linewidths=0,
                   label=f"over the cap ({len(bad) + beyond:,}{extra})", rasterized=True)
    if good:
        which = "feasible, direct" if good_w else "feasible"
        ax.scatter(*zip(*good), s=9, c=C_FEASIBLE, alpha=0.45, linewidths=0, label=f"{which} ({len(good):,})",
                   rasterized=True)
    if good_w:
        ax.scatter(*zip(*good_w), s=14, marker="^", c=C_WINOGRAD, alpha=0.45, linewidths=0,
                   label=f"feasible, winograd ({len(good_w):,})", rasterized=True)
    front = view["pareto"][resource]
    if front:
        xs = [p[resource] for p in front]
        ys = [p["latency_ms"] for p in front]
        ax.step(xs, ys, where="post", color=C_PARETO, lw=1.8, label="Pareto front", zorder=4)
        ax.scatter(xs, ys, s=18, c=C_PARETO, zorder=5)
    ch = view["chosen"]
    ax.scatter([ch[resource]], [ch["latency_ms"]], marker="*", s=320, c=C_CHOSEN, edgecolors="black",
               linewidths=0.8, zorder=6, label=f"chosen: {ch['latency_ms']:.1f} ms")
    ref = view.get("reference")
    if ref and ref.get(resource) is not None:
        ax.scatter([ref[resource]], [ref["latency_ms"]], marker="D", s=70, c=C_REFERENCE, edgecolors="black",
                   linewidths=0.8, zorder=6,
                   label=f"reference design's final point (xc7z020, its model): {ref['latency_ms']:.0f} ms")
    ax.axvline(device_cap, color="black", lw=1.0, ls="-", alpha=0.6)
    ax.axvline(cap * device_cap, color="black", lw=1.0, ls="--", alpha=0.6)
    ax.set_yscale("log")
    ymin = ax.get_ylim()[0]
    ax.text(device_cap, ymin, f" {view['device']}: {device_cap:,}", va="bottom", ha="left", fontsize=8, alpha=0.8)
    ax.text(cap * device_cap, ymin, f"cap {cap:g} ", va="bottom", ha="right", fontsize=8, alpha=0.8)
    ax.set_xlim(0, xmax)
    ax.set_xlabel(label)
    ax.set_ylabel("frame latency, ms (modelled, log scale)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)


def _breakdown_panel(ax, view: dict):
    batches = view["batches"]
    names = [b["name"] + (" [W]" if b.get("engine") == "winograd" else "") for b in batches]
    y = list(range(len(batches)))[::-1]
    left = [0.0] * len(batches)
    for key, label, colour in STACK:
        vals = [float(b.get(key, 0.0) or 0.0) for b in batches]
        if not any(vals):
            continue
        ax.barh(y, vals, left=left, color=colour, label=label, height=0.72, edgecolor="white", linewidth=0.4)
        left = [a + v for a, v in zip(left, vals)]
    for yi, total, b in zip(y, left, batches):
        note = f"   [{b['bound']}-bound, {b['transfers']} DMA transfers]" if b.get("bound") else ""
        ax.text(total, yi, f" {total:.1f}{note}", va="center", fontsize=8)
    busy = [b.get("dma_busy_ms") for b in batches]
    if any(v for v in busy if v):
        ax.scatter(busy, y, marker="|", s=160, c="black", zorder=5, label="DMA busy (overlapped)")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("ms per frame (modelled)")
    ax.set_xlim(0, max(left) * 1.3 if left else 1)
    ax.grid(True, axis="x", alpha=0.25)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(f"Chosen point, latency per layer batch (modelled): {view['chosen']['latency_ms']:.1f} ms per frame",
                 fontsize=10, loc="left")


def plot_format(path: str | Path) -> str:
    """The figure format ``path``'s suffix names (no suffix: PNG), or a ZynqyoloError listing the
    formats matplotlib writes: checked before the exploration runs."""
    from matplotlib.backend_bases import FigureCanvasBase

    from zynqyolo.errors import ZynqyoloError

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise ZynqyoloError(f"--plot {path}: matplotlib cannot write .{fmt} figures; use one of "
                            f"{', '.join('.' + k for k in sorted(supported))}")
    return fmt


def plot_exploration(view: dict, path: str | Path) -> Path:
    """Write the design-space and breakdown figure of ``view`` (``explore.view``) to ``path`` (atomically)."""
    from zynqyolo.atomic import atomic_writer

    path = Path(path)
    fmt = plot_format(path)
    with atomic_writer(path) as fh:
        write_exploration(view, fh, fmt)
    return path


def write_exploration(view: dict, fh, fmt: str = "png") -> None:
    """The figure of ``plot_exploration`` into the binary file ``fh``, in format ``fmt``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(15, 11), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=(1.0, 0.95))
    ax_dsp = fig.add_subplot(grid[0, 0])
    ax_bram = fig.add_subplot(grid[0, 1], sharey=ax_dsp)
    ax_bars = fig.add_subplot(grid[1, :])
    _scatter_panel(ax_dsp, view, "dsp", "DSP48 (modelled)")
    _scatter_panel(ax_bram, view, "bram18", "BRAM18 (modelled)")
    ax_bram.set_ylabel("")
    _breakdown_panel(ax_bars, view)
    c = view["chosen"]
    fig.suptitle(
        f"Design space of {view['arch']} on {view['device']} ({view['board']}), {view['clock_mhz']:g} MHz, "
        f"{view['bits']}-bit, cap {view['cap']:g} (modelled)\n"
        f"{view['points_evaluated']:,} points, {view['feasible']:,} feasible; chosen {c['label']}",
        fontsize=12)
    try:
        fig.savefig(fh, dpi=110, format=fmt)
    finally:
        plt.close(fig)
