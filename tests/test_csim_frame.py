"""Whole frames through the plan and the C-simulated kernels equal the integer reference, bit
for bit, at 16 and 8 bits, for several design points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.model import load_cfg

pytestmark = pytest.mark.csim

CONFIGS = [HwConfig(), HwConfig(p_oc=16, p_ic=4, tile_pixels=128, stage3_lanes=4, requant_lanes=4), HwConfig(p_oc=8, p_ic=8),
           HwConfig(conv_engine="winograd"),
           HwConfig(p_oc=16, p_ic=4, tile_pixels=128, stage3_lanes=4, requant_lanes=4, conv_engine="winograd"),
           HwConfig(conv_engine="winograd-paired")]


@pytest.fixture(scope="module")
def models(model_files, photos, require_csim):
    from zynqyolo.model import load_weights
    from zynqyolo.model.quantize import calibrate

    out = {}
    for size in (96, 416):
        net = load_cfg(model_files[0], width=size, height=size)
        w = load_weights(model_files[1], net)
        for bits in (16, 8):
            out[size, bits] = calibrate(net, w, [photos["bus"], photos["zidane"]], bits=bits)
    return out


def _frame(model, config, photo):
    from zynqyolo.host.runner import CsimBackend
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image

    net = model.network
    ref = IntegerReference(model)
    codes = ref.quantize_input(letterbox(load_image(photo), net.width, net.height))
    backend = CsimBackend(model, config)
    got = backend.forward_codes(codes)
    want, _ = ref.run(codes)
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.array_equal(g, w)
    return backend


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_reduced_frame_bit_exact(models, photos, bits, index):
    config = HwConfig(**{**CONFIGS[index].to_dict(), "bits": bits})
    backend = _frame(models[96, bits], config, photos["astronaut"])
    assert len(backend.records) == len(backend.plan.calls)


def test_full_frame_bit_exact_16(models, photos):
    backend = _frame(models[416, 16], HwConfig(), photos["bus"])
    # the loop counts are the hardware's: CONV_MAC adds up the plan's blocks
    mac = sum(r.counts.get("CONV_MAC", 0) for r in backend.records)
    assert mac == sum(b.out_pixels * b.ksize ** 2 * b.subfolds for c in backend.plan.calls for b in c.blocks)


def test_full_frame_winograd_bit_exact_16(models, photos):
    """A whole 416 frame on a Winograd design: every 3x3 call on the Winograd path, 16 of its
    iterations per 2x2 tile and sub-fold (the tile grid padded at 13x13), the 1x1 calls direct."""
    backend = _frame(models[416, 16], HwConfig(conv_engine="winograd"), photos["bus"])
    calls = backend.plan.calls
    assert all(bool(c.regs["winograd"]) == (c.regs["conv_enable"] and c.regs["ksize"] == 3) for c in calls)
    tiles = sum(math.ceil(b.out_pixels // b.width / 2) * math.ceil(b.width / 2) * 16 * b.subfolds
                for c in calls if c.regs["winograd"] for b in c.blocks)
    assert sum(r.counts.get("CONV_WINO", 0) for r in backend.records) == tiles
    assert sum(r.counts.get("CONV_MAC", 0) for r in backend.records) == sum(
        b.out_pixels * b.subfolds for c in calls if not c.regs["winograd"] and c.regs["conv_enable"] for b in c.blocks)


@pytest.mark.slow
@pytest.mark.parametrize("bits, config, photo", [(16, CONFIGS[1], "zidane"), (8, HwConfig(bits=8), "bus"),
                                                 (8, HwConfig(p_oc=16, p_ic=8, bits=8), "grace_hopper"),
                                                 (8, HwConfig(bits=8, conv_engine="winograd"), "bus"),
                                                 (8, HwConfig(p_oc=16, p_ic=8, bits=8, conv_engine="winograd"), "zidane"),
                                                 (16, CONFIGS[4], "grace_hopper"),
                                                 (8, HwConfig(bits=8, tile_pixels=1024, requant_lanes=8,
                                                              conv_engine="winograd-paired"), "bus")])
def test_full_frame_bit_exact_slow(models, photos, bits, config, photo):
    _frame(models[416, bits], config, photos[photo])
