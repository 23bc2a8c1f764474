"""dse/rtl/zy_mac_array.v simulated against exact integer dot products (cocotb + Icarus Verilog):
BITS x BITS products and the 48-bit row accumulators (zynqyolo.model.fixed: the wrap of
accumulator_width's bound, reached by 4608-term corner pixels of the extreme codes), the operand
select (line word / newest pixel, lane group, outside the image) and the double-buffered weight
banks. Small arrays (P_OC=4, P_IC=2) at 16 and 8 bits, the default 16 x 8 at 16 bits, and the
Winograd design's array at 16 bits (4 x 2, dse/rtl/calibrate.py wino_array_job: U x V = 20 x 18-bit
products, 16 positions a sub-fold, the V lanes on x_in without a select). Bench:
tests/rtl/cocotb_mac_array.py.
"""

import pytest

from rtl.zy_rtl_harness import RTL_DIR, report, require_tools, run_bench

pytestmark = pytest.mark.rtl

SEED = 1310


WINO_16 = {"W_BITS": 20, "X_BITS": 18, "POSITIONS": 16, "X_SELECT": 0}  # calibrate.wino_array_job(4, 2, 16)


@pytest.mark.parametrize("p_oc,p_ic,bits,pixels,extra", [(4, 2, 16, 300, {}), (4, 2, 8, 300, {}), (16, 8, 16, 100, {}),
                                                         (4, 2, 16, 300, WINO_16)],
                         ids=["4x2-16bit", "4x2-8bit", "16x8-16bit", "4x2-wino-20x18bit"])
def test_mac_array(tmp_path, record_property, p_oc, p_ic, bits, pixels, extra):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_mac_array.v", "zy_mac_array", "cocotb_mac_array",
                    {"P_OC": p_oc, "P_IC": p_ic, "BITS": bits, **extra}, {"seed": SEED + p_oc + bits, "pixels": pixels})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.record["pixels"] == pixels + 2 and res.vectors >= pixels


def test_wino_bench_parameters_are_the_calibrated_ones():
    """The Winograd parametrisation above is the circuit dse/rtl/calibrate.py synthesises."""
    from rtl.zy_rtl_harness import load_script

    _, _, params = load_script("calibrate").wino_array_job(4, 2, 16)
    assert params == {"P_OC": 4, "P_IC": 2, "BITS": 16, **WINO_16}
