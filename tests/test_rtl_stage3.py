"""dse/rtl/zy_stage3_lane.v simulated against zynqyolo.model.fixed (cocotb + Icarus Verilog): the
YOLO sigmoid path (fixed.sigmoid_lut(bits).apply over the whole yolo_shift register range, index
ties and the clamp, raw tw/th lanes), the 2x2 max-pool at strides 2 and 1 (fixed.maxpool, odd
sizes, the minimum code), bypass and upsample; 16 and 8 bits. Bench: tests/rtl/cocotb_stage3.py.
"""

import pytest

from rtl.zy_rtl_harness import RTL_DIR, report, require_tools, run_bench
from zynqyolo.model import fixed

pytestmark = pytest.mark.rtl

SEED = 1330
SIGMOID_VECTORS = 3000  # random YOLO vectors, plus the corner codes and the pool/bypass streams


def stage3_params(bits: int) -> dict:
    lut = fixed.sigmoid_lut(bits)
    return {"BITS": bits, "IDX_BITS": (lut.entries - 1).bit_length(), "ENTRIES": lut.entries,
            "OUT_FRAC": lut.out.frac}


@pytest.mark.parametrize("bits", [16, 8])
def test_stage3_lane(tmp_path, record_property, bits):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_stage3_lane.v", "zy_stage3_lane", "cocotb_stage3", stage3_params(bits),
                    {"seed": SEED + bits, "vectors": SIGMOID_VECTORS})
    report(record_property, res)
    print("per path:", res.record.get("per_path"))
    assert res.passed, res.failure()
    assert res.vectors >= SIGMOID_VECTORS + 1500
