"""dse/rtl stage-2 circuits simulated against zynqyolo.model.fixed (cocotb + Icarus Verilog).

zy_stage2_acc.v: the accumulate lane's tile read-modify-write and held sum, wrapping at the
precision's accumulator width (dse.hwconfig.acc_bits: 48 at 16 bits, 32 at 8).
zy_stage2_requant.v: bias add with that wrap, leaky multiply (both LEAKY_IMPL flavours), round-half-up
shift over 0..63, saturation, the GROUPS:1 lane select; 16 bits at ACC 48 and 8 bits at ACC 32. Benches:
tests/rtl/cocotb_stage2_*.py; stimulus and expected values: tests/rtl/zy_rtl_ref.py.
"""

import pytest

from rtl.zy_rtl_harness import RTL_DIR, report, require_tools, run_bench

from zynqyolo.dse.hwconfig import acc_bits

pytestmark = pytest.mark.rtl

SEED = 1300
REQUANT_VECTORS = 3000  # random vectors per configuration, plus ~1.7k corner vectors
ACC_BANDS = 500  # ~5k psums


@pytest.mark.parametrize("bits", [16, 8])
def test_accumulate_lane(tmp_path, record_property, bits):
    require_tools()
    res = run_bench(tmp_path, RTL_DIR / "zy_stage2_acc.v", "zy_stage2_acc", "cocotb_stage2_acc",
                    {"ACC": acc_bits(bits)}, {"seed": SEED + bits, "bands": ACC_BANDS})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.vectors >= 4000


@pytest.mark.parametrize("groups", [1, 4])
@pytest.mark.parametrize("leaky_impl", [0, 1], ids=["dsp", "fabric"])
@pytest.mark.parametrize("bits", [16, 8])
def test_requantiser(tmp_path, record_property, bits, leaky_impl, groups):
    require_tools()
    params = {"BITS": bits, "ACC": acc_bits(bits), "LEAKY_IMPL": leaky_impl, "GROUPS": groups}
    res = run_bench(tmp_path, RTL_DIR / "zy_stage2_requant.v", "zy_stage2_requant", "cocotb_stage2_requant",
                    params, {"seed": SEED + 10 * bits + 2 * leaky_impl + groups, "vectors": REQUANT_VECTORS})
    report(record_property, res)
    assert res.passed, res.failure()
    assert res.vectors >= REQUANT_VECTORS + 1000
