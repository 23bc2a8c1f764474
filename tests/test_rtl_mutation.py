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
REQUANT = {"BITS": 16, "ACC": 48, "LEAKY_IMPL": 1, "GROUPS": 1}

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


# ---- the Winograd path (dse/rtl/zy_wino_*.v, benches tests/rtl/cocotb_wino_*.py) ----
# The filter's width mutant is caught by the corner filters only (no random filter reaches
# |U| >= 2^(bits+2)): the register keeps bits + 3 bits, sign-extended to the port.
WINO_DATA = {"BITS": 16, "LANES": 2}
WINO_DATA8 = {"BITS": 8, "LANES": 2}
WINO_FILTER = {"BITS": 16, "LANES": 2}
WINO_OUTPUT = {"LANES": 2, "ACC": 48}
WINO_DATA_PAIRED = {"BITS": 16, "LANES": 2, "PAIRED": 1}
WINO_OUTPUT_PAIRED = {"LANES": 2, "ACC": 48, "PAIRED": 1}
WINO_TILES = {"tiles": 40, "bits": 16}

WINO_MUTANTS = [
    ("wino-data-row-sign", "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data", WINO_DATA, {"vectors": 400},
     "wire sub_i = (i != 2'd1);", "wire sub_i = (i != 2'd2);"),
    ("wino-data-row-operand", "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data", WINO_DATA, {"vectors": 400},
     "2'd2:    begin ra = row2; rb = row1;", "2'd2:    begin ra = row2; rb = row3;"),
    ("wino-data-column-operand", "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data", WINO_DATA,
     {"vectors": 400}, "tb = t[3];", "tb = t[2];"),
    ("wino-data-row-width-8bit", "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data", WINO_DATA8,
     {"vectors": 400}, "localparam integer WT = BITS + 1;", "localparam integer WT = BITS + 0;"),
    ("wino-output-sign-mask", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output", WINO_OUTPUT, WINO_TILES,
     "AT1_NEG = 4'b1100;", "AT1_NEG = 4'b1000;"),
    ("wino-output-nonzero-mask", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output", WINO_OUTPUT,
     WINO_TILES, "AT0_NZ = 4'b0111;", "AT0_NZ = 4'b0011;"),
    ("wino-output-latch-position", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output", WINO_OUTPUT,
     WINO_TILES, ": (e == 4'd15);", ": (e == 4'd14);"),
    ("wino-output-start-position", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output", WINO_OUTPUT,
     WINO_TILES, "assign start = (e == 4'd0);", "assign start = (e == 4'd1);"),
    ("wino-output-paired-low-flag", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output",
     WINO_OUTPUT_PAIRED, WINO_TILES, "assign f_lo[gq] = paired & nz_lo;", "assign f_lo[gq] = paired | nz_lo;"),
    ("wino-data-paired-high-zero", "zy_wino_data.v", "zy_wino_data", "cocotb_wino_data", WINO_DATA_PAIRED,
     {"vectors": 400}, "(gl >= LANES / 2);", "(gl >= LANES / 4);"),
    ("wino-output-divide-by-2", "zy_wino_output.v", "zy_wino_output", "cocotb_wino_output", WINO_OUTPUT,
     WINO_TILES, "$signed(sum) >>> 2;", "$signed(sum) >>> 1;"),
    ("wino-filter-column-sign", "zy_wino_filter.v", "zy_wino_filter", "cocotb_wino_filter", WINO_FILTER,
     {"vectors": 400}, "= s02 - g1;", "= s02 + g1;"),
    ("wino-filter-row-sign", "zy_wino_filter.v", "zy_wino_filter", "cocotb_wino_filter", WINO_FILTER,
     {"vectors": 400}, "<= r02 - h1;", "<= r02 + h1;"),
    ("wino-filter-tap-row", "zy_wino_filter.v", "zy_wino_filter", "cocotb_wino_filter", WINO_FILTER,
     {"vectors": 400}, "g2 = $signed(taps[((2*3 + gk)", "g2 = $signed(taps[((1*3 + gk)"),
    ("wino-filter-width-corner", "zy_wino_filter.v", "zy_wino_filter", "cocotb_wino_filter", WINO_FILTER,
     {"vectors": 400}, "localparam integer WU = BITS + 4;", "localparam integer WU = BITS + 3;"),
]


@pytest.mark.parametrize("name,verilog,top,bench,params,settings,original,mutant", WINO_MUTANTS,
                         ids=[m[0] for m in WINO_MUTANTS])
def test_winograd_mutant_is_caught(tmp_path, name, verilog, top, bench, params, settings, original, mutant):
    test_mutant_is_caught(tmp_path, name, verilog, top, bench, params, settings, original, mutant)
