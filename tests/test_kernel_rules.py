"""Rules the HLS kernels keep so that synthesis meets the latency model's II 1 at its modelled cost.

- No run-time division or modulo (a pipelined divider is about 1k LUT and tens of cycles of
  latency inside an II-1 loop): every ``/`` and ``%`` in kernel code divides by a compile-time
  constant (a literal, a ``C::`` parameter of the design point, or an ALL_CAPS constant), which
  synthesis folds into shifts or a constant multiplier.
- Every pipelined loop that reads and writes one array says so with a DEPENDENCE pragma.
- Every array is declared where a pragma can place it: each local array has an ARRAY_PARTITION,
  ARRAY_RESHAPE or storage binding naming it, and no struct has an array member but the stream
  payloads (whose lanes are indexed by unrolled constants) and the csim-only counters. An array in
  a struct has no name a pragma can take, and what Vitis HLS makes of it is then its own choice.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HLS = Path(__file__).resolve().parents[1] / "hls"
KERNELS = sorted((HLS / "include").glob("*.h")) + [HLS / "top" / "yolo_accel.cpp"]
CONSTANT = re.compile(r"^(\d+|C::\w+|[A-Z][A-Z0-9_]*)$")


def _code(text: str) -> list[tuple[int, str]]:
    """(line number, code) without comments, string literals and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"//.*", "", line)
        line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        if line.lstrip().startswith("#") or "static_assert" in line:
            continue
        out.append((n, line))
    return out


def runtime_divisions(text: str) -> list[str]:
    """``line: expression`` for every ``/`` or ``%`` whose divisor is not a compile-time constant."""
    found = []
    for n, line in _code(text):
        for m in re.finditer(r"(?<![/*])([/%])(?![/*=])\s*(\(?)\s*([\w:]+)", line):
            op, paren, divisor = m.groups()
            if paren or not CONSTANT.match(divisor):
                found.append(f"{n}: {line.strip()}")
    return found


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: p.name)
def test_no_run_time_division_or_modulo(path):
    assert runtime_divisions(path.read_text()) == []


@pytest.mark.parametrize("snippet, flagged", [
    ("line[wr.row % ksize][wr.col][j] = v;", True),
    ("const int slot = inside ? iy % k : 0;", True),
    ("const int q = a / (b + 1);", True),
    ("const int n = (lanes + C::p_ic - 1) / C::p_ic;", False),
    ("get_lane<C>(words[e / C::lanes_per_word], e % C::lanes_per_word);", False),
    ("const int groups = (c.lanes + SL - 1) / SL;", False),
    ("x = y / 2; // a / b in a comment", False),
])
def test_the_rule_catches_run_time_divisors(snippet, flagged):
    assert bool(runtime_divisions(snippet)) == flagged


def _pipelined_loops(text: str) -> list[tuple[str, str]]:
    """(label, body) of every loop labelled LABEL: whose body starts with a PIPELINE pragma."""
    loops = []
    for m in re.finditer(r"\n\s*([A-Z][A-Z0-9_]+):\s*\n\s*for\s*\(", text):
        start = text.index("{", m.end())
        depth, i = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        body = text[start:i]
        if "#pragma HLS PIPELINE" in body.split("\n", 3)[1] + body.split("\n", 3)[2]:
            loops.append((m.group(1), body))
    return loops


def _arrays_read_and_written(body: str, arrays: list[str]) -> list[str]:
    both = []
    for name in arrays:
        writes = re.search(rf"\b{name}\s*(\[[^\]]*\])+\s*=(?!=)", body)
        reads = re.search(rf"\b{name}\s*(\[[^\]]*\])+(?!\s*(\[|=(?!=)))", body)
        if writes and reads:
            both.append(name)
    return both


def test_pipelined_loops_declare_their_buffer_dependences():
    text = "\n".join(p.read_text() for p in KERNELS)
    buffers = ["line", "wbuf", "tile", "rowbuf", "buf"]
    loops = _pipelined_loops(text)
    assert {"CONV_MAC", "ACC", "STAGE3", "WEIGHT_LOAD", "CONV_READ", "OUT_WRITE"} <= {label for label, _ in loops}
    missing = [(label, name) for label, body in loops for name in _arrays_read_and_written(body, buffers)
               if not re.search(rf"#pragma HLS DEPENDENCE variable={name}\b", body)]
    assert missing == []


DECLARATION = re.compile(r"^\s+(?:const\s+)?(?:typename\s+)?[\w:<>]+(?:\s*<[^;()]*>)?(?:::\w+)?\s+"
                         r"(\w+\s*(?:\[[^\]]+\])+(?:\s*,\s*\w+\s*(?:\[[^\]]+\])+)*)\s*;")
# Array members allowed in structs: the stream payloads (lanes indexed by unrolled constants only) and the
# counters of the C simulation (zy_counters.h, compiled out of synthesis).
PAYLOAD_MEMBERS = {("pixel_t", "lane"), ("psum_t", "lane"), ("counter_state", "value")}


def array_declarations(text: str) -> list[tuple[int, str, str | None]]:
    """(line, array name, enclosing struct or None) of every array declaration (not parameters)."""
    found, structs, depth = [], [], 0
    for n, line in _code(text):
        m = re.match(r"\s*struct\s+(\w+)[^;]*\{", line)
        if m:
            structs.append((m.group(1), depth))
        d = DECLARATION.match(line)
        if d:
            owner = structs[-1][0] if structs and structs[-1][1] == depth - 1 else None
            for name in re.findall(r"(\w+)\s*(?:\[[^\]]+\])+", d.group(1)):
                found.append((n, name, owner))
        depth += line.count("{") - line.count("}")
        while structs and depth <= structs[-1][1]:
            structs.pop()
    return found


def unplaced_arrays(text: str) -> list[str]:
    bad = []
    for n, name, owner in array_declarations(text):
        if owner is not None:
            if (owner, name) not in PAYLOAD_MEMBERS:
                bad.append(f"{n}: {owner}::{name} (an array member)")
        elif not re.search(rf"(#pragma HLS (ARRAY_PARTITION|ARRAY_RESHAPE) variable={name}\b|"
                           rf"ZY_BIND_STORAGE\({name}\b)", text):
            bad.append(f"{n}: {name} (no partition, reshape or storage binding)")
    return bad


@pytest.mark.parametrize("path", KERNELS, ids=lambda p: p.name)
def test_every_array_is_declared_where_a_pragma_places_it(path):
    assert unplaced_arrays(path.read_text()) == []


def test_the_array_rule_sees_struct_members_and_bare_locals():
    text = """
template <class C>
struct loader {
    int slot;
    typename C::wb_t hold[4];
};
void f() {
    int a[3], b[2][2];
#pragma HLS ARRAY_PARTITION variable=a complete
    data_t line[6][C::max_width];
    ZY_BIND_STORAGE(line, ram_s2p, ZY_IMPL_LINE)
}
"""
    assert [d[1:] for d in array_declarations(text)] == [("hold", "loader"), ("a", None), ("b", None),
                                                          ("line", None)]
    assert unplaced_arrays(text) == ["5: loader::hold (an array member)", "8: b (no partition, reshape or storage binding)"]
