"""dse/rtl/zy_mac_array.v simulated against exact integer dot products (cocotb + Icarus Verilog):
BITS x BITS products and the 48-bit row accumulators (zynqyolo.model.fixed: the wrap of
accumulator_width's bound, reached by 4608-term corner pixels of the extreme codes), the operand
select (line word / newest pixel, lane group, outside the image) and the double-buffered weight
banks. Small arrays (P_OC=4, P_IC=2) at 16 and 8 bits, and the default 16 x 8 at 16 bits. Bench:
tests/rtl/cocotb_mac_array.py.
"""

import pytest

from rtl.zy_rtl_harness import RTL_DIR, report, require_tools, run_bench

pytestmark = pytest.mark.rtl

SEED = 1310


@pytest.mark.parametrize("p_oc,p_ic,bits,pixels", [(4, 2, 16, 300), (4, 2, 8, 300), (16, 8, 16, 100)],
                         ids=["4x2-16bit", "4x2-8bit", "16x8-16bit"])
def test_mac_array(tmp_path, record_property, p_oc, p_ic, bits, pixels):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_mac_array.v", "zy_mac_array", "cocotb_mac_array",
                    {"P_OC": p_oc, "P_IC": p_ic, "BITS": bits}, {"seed": SEED + p_oc + bits, "pixels": pixels})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.record["pixels"] == pixels + 2 and res.vectors >= pixels
