"""Terminal tables (rich) of explorations and estimates. Every title says *modelled*: no figure here
was measured on a board."""

from __future__ import annotations

from typing import Optional

RESOURCE_NAMES = (("dsp", "DSP48"), ("bram18", "BRAM18"), ("lut", "LUT"), ("ff", "FF"))


def _table(title: str, *columns: tuple[str, str], wrap: Optional[str] = None):
    """A table whose columns never wrap, except the one named ``wrap``."""
    from rich import box
    from rich.table import Table

    t = Table(title=title, title_justify="left", title_style="bold", header_style="bold cyan", box=box.SIMPLE_HEAD,
              pad_edge=False, padding=(0, 1))
    for name, justify in columns:
        t.add_column(name, justify=justify, no_wrap=name != wrap)
    return t


def _ms(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:,.2f}"


def design_table(d: dict):
    """Key figures of one design point (``DesignEstimate.to_dict`` or a yu2020 estimate dict)."""
    t = _table(f"Design point ({d['arch']}), modelled", ("figure", "left"), ("value", "right"), wrap="value")
    if d["arch"] == "zynqyolo":
        p = d["params"]
        t.add_row("design", f"{d['design_name']}")
        t.add_row("conv engine", p.get("conv_engine", "direct"))
        t.add_row("MAC array p_oc x p_ic", f"{p['p_oc']} x {p['p_ic']} = {d['mac_units']} MACs")
        t.add_row("tile_pixels", f"{p['tile_pixels']}")
        t.add_row("requant_lanes / stage3_lanes", f"{p['requant_lanes']} / {p['stage3_lanes']}")
        t.add_row("bits / bus_bits", f"{p['bits']} / {p['bus_bits']}")
        t.add_row("board, clock", f"{d['board']} ({d['device']}), {p['clock_mhz']:g} MHz")
    else:
        p = d["params"]
        t.add_row("parameters", ", ".join(f"{k}={v}" for k, v in p.items()))
    t.add_row("frame latency (modelled)", f"[bold]{d['latency_ms']:,.1f} ms[/bold]  ({1e3 / d['latency_ms']:.2f} fps)")
    if d["arch"] == "zynqyolo":
        t.add_row("  compute / stalls", f"{d['compute_ms']:,.1f} / {d['stall_ms']:,.1f} ms")
        t.add_row("  DMA not hidden / host", f"{d['dma_ms']:,.2f} / {d['host_ms']:,.1f} ms")
        t.add_row("MAC-array efficiency", f"{d['mac_efficiency']:.1%} (direct-equivalent MACs)")
        if "multiplier_efficiency" in d:
            t.add_row("multiplier efficiency", f"{d['multiplier_efficiency']:.1%} (multiplications the algorithms need)")
        t.add_row("calls per frame", f"{d['calls_per_frame']}")
        h = d["host"]
        word = f"{h['mmio_word_us']:.2f} us per register word, " if "mmio_word_us" in h else ""  # older JSON: none
        t.add_row("host model", f"{h['mmio_access_us']:.1f} us per MMIO access, {word}"
                                f"{h['cache_ns_per_byte']:.2f} ns/byte cache, "
                                f"verify registers {'on' if h['verify_registers'] else 'off'}")
        t.add_row("stage-2 leaky multiplier", d["leaky_mul_impl"])
    else:
        t.add_row("  hardware / cache / calls",
                  f"{d['hardware_ms']:,.1f} / {d['cache_ms']:,.1f} / {d['call_ms']:,.1f} ms")
        t.add_row("calls per frame", f"{d['calls_per_frame']:,}")
    return t


def resources_table(d: dict, device: dict, cap: Optional[float]):
    """Resources against the device (and the cap, when searching)."""
    title = "Resources, modelled" + (f" (cap {cap:g})" if cap is not None else "")
    t = _table(title, ("resource", "left"), ("used", "right"), ("device", "right"), ("of device", "right"))
    for key, label in RESOURCE_NAMES:
        used = d["resources"].get(key)
        if used is None:
            t.add_row(label, "not modelled", f"{device[key]:,}", "-")
            continue
        frac = used / device[key]
        style = "red" if frac > 1 or (cap is not None and frac > cap) else ""
        t.add_row(label, f"{used:,}", f"{device[key]:,}", f"[{style}]{frac:.0%}[/{style}]" if style else f"{frac:.0%}")
    return t


def blocks_table(d: dict):
    """Resources of each hardware block."""
    t = _table("Resources by block, modelled", ("block", "left"), *[(label, "right") for _, label in RESOURCE_NAMES])
    for name, r in (d.get("resources_by_block") or {}).items():
        t.add_row(name.replace("_", " "), *["-" if r.get(k) is None else f"{r[k]:,}" for k, _ in RESOURCE_NAMES])
    return t


def batches_table(d: dict):
    t = _table("Per-batch latency, modelled (ms; DMA busy overlaps the PL's work; [W] the Winograd path; eff: "
               "multiplier efficiency)", ("batch", "left"), ("compute", "right"), ("stall", "right"), ("DMA", "right"),
               ("busy", "right"), ("host", "right"), ("total", "right"), ("eff", "right"), ("xfers", "right"),
               ("bound", "left"), wrap="bound")
    keys = ("compute_ms", "stall_ms", "dma_ms", "host_ms", "latency_ms")
    tot = dict.fromkeys(keys, 0.0)

    def f1(v):
        return "-" if v is None else f"{v:,.1f}"

    for b in d["batches"]:
        for k in tot:
            tot[k] += b.get(k, 0.0) or 0.0
        eff = b.get("multiplier_efficiency")
        name = b["name"] + (" [W]" if b.get("engine") == "winograd" else "")
        t.add_row(name, f1(b["compute_ms"]), f1(b.get("stall_ms", 0.0)), _ms(b["dma_ms"]),
                  f1(b.get("dma_busy_ms")), f1(b["host_ms"]), f1(b["latency_ms"]),
                  "-" if eff is None or b.get("engine") == "bypass" else f"{eff:.0%}",
                  str(b.get("transfers", b.get("calls", "-"))), str(b.get("bound", "-")))
    t.add_row("[bold]frame[/bold]", *[f"[bold]{f1(tot[k])}[/bold]" for k in ("compute_ms", "stall_ms")],
              f"[bold]{_ms(tot['dma_ms'])}[/bold]", "", f"[bold]{f1(tot['host_ms'])}[/bold]",
              f"[bold]{f1(tot['latency_ms'])}[/bold]",
              f"[bold]{d['multiplier_efficiency']:.0%}[/bold]" if "multiplier_efficiency" in d else "", "", "")
    return t


def search_table(d: dict):
    s = d["search"]
    t = _table("Search, modelled", ("figure", "left"), ("value", "right"), wrap="value")
    t.add_row("architecture", d["arch"])
    t.add_row("device / board", f"{d['device']} / {d['board'] or '-'}")
    t.add_row("clock, precision, cap", f"{d['clock_mhz']:g} MHz, {d['bits']}-bit, {d['cap']:g}")
    t.add_row("points evaluated", f"{s['points_evaluated']:,}")
    t.add_row("feasible under the cap", f"{s['feasible']:,}")
    t.add_row("wall time", f"{s['wall_s']:.2f} s")
    for engine, p in (d.get("best_by_engine") or {}).items():
        t.add_row(f"best {engine}", f"{p['p_oc']}x{p['p_ic']} tile {p['tile_pixels']}: {p['latency_ms']:,.1f} ms, "
                                    f"multiplier efficiency {p['multiplier_efficiency']:.0%}")
    ref = d.get("reference")
    if ref:
        t.add_row("reference final point (its model)",
                  f"{ref['latency_ms']:.0f} ms, {ref['resources']['dsp']} DSP, {ref['resources']['bram18']} BRAM18 "
                  f"(measured {ref['measured_latency_ms']:.0f} ms)")
    return t


def pareto_table(d: dict, resource: str, limit: int = 12):
    label = dict(RESOURCE_NAMES)[resource]
    front = d["pareto"][resource]
    t = _table(f"Pareto front, latency vs {label}, modelled ({len(front)} points"
               + (f", the {limit} fastest shown" if len(front) > limit else "") + ")",
               ("design", "left"), ("DSP48", "right"), ("BRAM18", "right"), ("LUT", "right"), ("latency ms", "right"),
               wrap="design")
    for p in front[-limit:]:
        if d["arch"] == "zynqyolo":
            name = (f"{p.get('conv_engine', 'direct')} {p['p_oc']}x{p['p_ic']} tile {p['tile_pixels']} lanes "
                    f"{p['requant_lanes']}/{p['stage3_lanes']}")
        else:
            prm = p["params"]
            name = f"N_max {prm['n_max']} P_mem {prm['p_mem']} OITR {prm['oitr']}"
        r = p["resources"]
        t.add_row(name, f"{r['dsp']:,}", f"{r['bram18']:,}", "-" if r.get("lut") is None else f"{r['lut']:,}",
                  f"{p['latency_ms']:,.1f}")
    return t


def print_exploration(d: dict, device: dict, console) -> None:
    console.print(search_table(d))
    console.print(design_table(d["best"] | {"batches": d["batches"]}))
    console.print(resources_table(d["best"], device, d["cap"]))
    console.print(blocks_table(d["best"]))
    console.print(batches_table(d))
    console.print(pareto_table(d, "dsp"))
    console.print(pareto_table(d, "bram18"))


def print_estimate(d: dict, device: dict, console) -> None:
    console.print(design_table(d))
    console.print(resources_table(d, device, None))
    console.print(blocks_table(d))
    console.print(batches_table(d))
