"""The RTL benches can fail: one-character mutants of the calibration circuits' arithmetic, copied to a
tmp dir, must each be caught by the same cocotb bench that passes on the real circuit.

Each mutant changes exactly one character of one line (checked), e.g. the ``+`` of the
requantiser's round-half-up turned into ``-``, or the sigmoid index's rounding bit taken one
position off.
"""

import shutil

import pytest

from rtl.zy_rtl_harness import RTL_DIR, require_tools, run_bench
from zynqyolo.model import fixed

pytestmark = pytest.mark.rtl

SEED = 1399
LUT16 = fixed.sigmoid_lut(16)
STAGE3 = {"BITS": 16, "IDX_BITS": (LUT16.entries - 1).bit_length(), "ENTRIES": LUT16.entries,
          "OUT_FRAC": LUT16.out.frac}
REQUANT = {"BITS": 16, "LEAKY_IMPL": 1, "GROUPS": 1}

# (id, file, top, bench, HDL parameters, bench settings, original text, mutant text)
MUTANTS = [
    ("requant-round-plus-to-minus", "zy_stage2_requant.v", "zy_stage2_requant", "cocotb_stage2_requant", REQUANT,
     {"vectors": 400}, "(v_rr >>> hi) + ((v_rr >>> lo) & 64'sd1)", "(v_rr >>> hi) - ((v_rr >>> lo) & 64'sd1)"),
    ("requant-round-bit-off-by-one", "zy_stage2_requant.v", "zy_stage2_requant", "cocotb_stage2_requant", REQUANT,
     {"vectors": 400}, "(r_rrr - 1) > 63 ? 7'd63 : r_rrr - 1;", "(r_rrr - 1) > 63 ? 7'd63 : r_rrr - 2;"),
    ("requant-saturation-compare", "zy_stage2_requant.v", "zy_stage2_requant", "cocotb_stage2_requant", REQUANT,
     {"vectors": 400}, "(y_r < MINC) ? MINC[BITS-1:0]", "(y_r > MINC) ? MINC[BITS-1:0]"),
    ("stage3-index-round-bit-off-by-one", "zy_stage3_lane.v", "zy_stage3_lane", "cocotb_stage3", STAGE3,
     {"vectors": 400}, "((ax >> (sh - 1)) & 1)", "((ax >> (sh - 2)) & 1)"),
    ("stage3-maxpool-compare", "zy_stage3_lane.v", "zy_stage3_lane", "cocotb_stage3", STAGE3,
     {"vectors": 400}, "(odd_y && rowbuf_rd > hmax)", "(odd_y && rowbuf_rd < hmax)"),
    ("acc-lane-add-to-subtract", "zy_stage2_acc.v", "zy_stage2_acc", "cocotb_stage2_acc", {"ACC": 48},
     {"bands": 60}, "tile_rd + ps", "tile_rd - ps"),
    ("mac-chain-add-to-subtract", "zy_mac_array.v", "zy_mac_array", "cocotb_mac_array",
     {"P_OC": 4, "P_IC": 2, "BITS": 16}, {"pixels": 40}, "p_r <= chain[gi] + m_r;", "p_r <= chain[gi] - m_r;"),
]


def one_char_mutant(text: str, original: str, mutant: str) -> str:
    assert text.count(original) == 1, f"{original!r} must occur exactly once"
    assert len(original) == len(mutant) and sum(a != b for a, b in zip(original, mutant)) == 1
    return text.replace(original, mutant)


@pytest.mark.parametrize("name,verilog,top,bench,params,settings,original,mutant", MUTANTS,
                         ids=[m[0] for m in MUTANTS])
def test_mutant_is_caught(tmp_path, name, verilog, top, bench, params, settings, original, mutant):
    require_tools()
    src = tmp_path / "src" / verilog
    src.parent.mkdir()
    src.write_text(one_char_mutant((RTL_DIR / verilog).read_text(), original, mutant))
    res = run_bench(tmp_path / "sim", src, top, bench, params, {"seed": SEED, **settings})
    print(f"mutant {name}: {original!r} -> {mutant!r}: "
          f"{'PASSED (not caught)' if res.passed else 'FAILED (caught)'}; {res.summary()}")
    for line in res.record.get("first", [])[:3]:
        print("   ", line)
    assert not res.passed, f"mutant {name} survived the bench: {res.summary()}"
    assert res.record.get("mismatches", 0) > 0, "the mutant must fail on a compare, not on a crash"


def test_unmutated_copy_passes(tmp_path):
    """The control: the same copy-and-run path with the text unchanged passes (so a mutant fails for
    its mutation, not for being copied)."""
    require_tools()
    src = tmp_path / "src" / "zy_stage2_requant.v"
    src.parent.mkdir()
    shutil.copy(RTL_DIR / "zy_stage2_requant.v", src)
    res = run_bench(tmp_path / "sim", src, "zy_stage2_requant", "cocotb_stage2_requant", REQUANT,
                    {"seed": SEED, "vectors": 400})
    assert res.passed, res.failure()
