"""HwConfig and the layer-batch plan: structure, register fields, DMA transfers, capacity errors."""

from __future__ import annotations

import json

import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.plan import make_plan
from zynqyolo.dse.registers import Stage3Mode
from zynqyolo.errors import ZynqyoloError
from zynqyolo.model import INPUT, load_cfg


@pytest.fixture(scope="module")
def quantised(model_files, photos):
    """(network at 416, a 16-bit model for it) and the same at 128x128."""
    from zynqyolo.model import load_weights
    from zynqyolo.model.quantize import calibrate

    out = {}
    for size in (416, 128):
        net = load_cfg(model_files[0], width=size, height=size)
        out[size] = (net, calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16))
    return out


def test_hwconfig_validation_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="p_oc"):
        HwConfig(p_oc=20, p_ic=8)
    with pytest.raises(ValueError, match="bits"):
        HwConfig(bits=12)
    with pytest.raises(ValueError, match="stage3_lanes"):
        HwConfig(stage3_lanes=5)
    # weight_group: 0 (the block-RAM rule) or a divisor of the slice's p_oc p_ic / lanes_per_word bank
    # words (24 x 8 at 16 bits: 48) up to 4
    for bad in (5, 8, -1):
        with pytest.raises(ValueError, match="weight_group"):
            HwConfig(weight_group=bad)
    with pytest.raises(ValueError, match="weight_group"):
        HwConfig(p_oc=8, p_ic=4, weight_group=3)  # 8 bank words
    assert HwConfig(weight_group=3).weight_group == 3
    cfg = HwConfig(p_oc=16, p_ic=4, tile_pixels=512)
    path = cfg.save(tmp_path / "d.json")
    assert HwConfig.load(path) == cfg
    data = json.loads(path.read_text())
    data["hwconfig"]["p_ic"] = 8
    path.write_text(json.dumps(data))
    with pytest.raises(ZynqyoloError, match="hash"):
        HwConfig.load(path)
    assert cfg.fold_lanes(255) == (16,) * 15 + (16,) and cfg.fold_lanes(3) == (4,)
    assert HwConfig(bits=8).fold_lanes(3) == (8,)  # 8 lanes per 64-bit word at 8-bit


def test_yolov3_tiny_batches(quantised):
    net, model = quantised[416]
    plan = make_plan(net, model.hardware_formats(), HwConfig())
    # architecture.md: 14 layer batches; the pool after layer 8 runs alone (its input feeds a route)
    assert [c.layers for c in plan.calls] == [
        (0, 1), (2, 3), (4, 5), (6, 7), (8,), (9,), (10, 11), (12,), (13,), (14,), (15, 16), (18, 19), (21,), (22, 23)]
    regs = {c.layers: c.regs for c in plan.calls}
    assert regs[(9,)]["conv_enable"] == 0 and regs[(9,)]["stage3"] == Stage3Mode.MAXPOOL
    assert regs[(10, 11)]["pool_stride"] == 1 and regs[(18, 19)]["stage3"] == Stage3Mode.UPSAMPLE
    assert regs[(21,)]["in_channels_a"] == 128 and regs[(21,)]["in_channels_b"] == 256
    assert regs[(13,)]["ksize"] == 1 and regs[(15, 16)]["leaky"] == 0 and regs[(15, 16)]["yolo_period"] == 85
    # route 20 = [layer 19, layer 8]: allocated back to back, no copy
    t19, t8 = plan.tensors[19], plan.tensors[8]
    assert t19.buffer == t8.buffer == "arena" and t19.offset + t19.nbytes == t8.offset
    assert plan.routes[17] == (13,) and plan.routes[20] == (19, 8)
    assert plan.tensors[INPUT].buffer == "input"
    assert {plan.tensors[i].buffer for i in plan.outputs} == {"output"}


def test_transfers_cover_the_tensors(quantised):
    net, model = quantised[416]
    cfg = HwConfig()
    plan = make_plan(net, model.hardware_formats(), cfg)
    for call in plan.calls:
        for t in call.transfers:
            assert 0 <= t.offset and t.offset + t.nbytes <= plan.buffer_nbytes[t.buffer]
            assert t.offset % 8 == 0 and t.nbytes % 8 == 0 and t.nbytes > 0  # whole 64-bit words
        r = call.regs
        inputs = [plan.tensors[i] for i in call.input_tensors]
        whole = sum(t.nbytes for t in inputs)
        if not r["conv_enable"]:
            assert sum(t.nbytes for t in call.in_transfers) == whole
        elif r["bands"] == 1:  # the input is streamed once per group of out_group output folds
            groups = -(-r["out_folds"] // r["out_group"])
            assert sum(t.nbytes for t in call.in_transfers) == whole * groups
            assert len(call.in_transfers) == groups  # route segments are contiguous: one transfer
        else:  # bands re-read a halo of ksize // 2 rows on each inner band edge
            halo_rows = 2 * (call.regs["ksize"] // 2) * (r["bands"] - 1)
            extra = sum(t.nbytes // t.height * halo_rows for t in inputs)
            assert sum(t.nbytes for t in call.in_transfers) == (whole + extra) * r["out_folds"]
        out = plan.tensors[call.output_layer]
        assert (call.out_transfer.buffer, call.out_transfer.offset, call.out_transfer.nbytes) == (
            out.buffer, out.offset, out.nbytes)


def test_1x1_calls_reuse_each_input_fold_over_several_out_folds(quantised):
    """The plan's out_group: the most out folds whose partial sums fit the tile together (the map fits
    stage 1's store), on every 1x1 call of the 416 network; 3x3 and bypass calls stream per out fold."""
    net, model = quantised[416]
    cfg = HwConfig()
    plan = make_plan(net, model.hardware_formats(), cfg)
    grouped = 0
    for call in plan.calls:
        r = call.regs
        pixels = r["height"] * r["width"]
        if r["conv_enable"] and r["ksize"] == 1:
            assert r["bands"] == 1
            assert r["out_group"] == min(r["out_folds"], cfg.tile_pixels // pixels)
            grouped += r["out_group"] > 1
            # each sequence (group, input fold) takes its fold's pixels from the stream exactly once:
            # its first block, or the previous sequence's later blocks into the store's other half
            sequences = -(-r["out_folds"] // r["out_group"]) * (len(call.blocks) // r["out_folds"])
            taken = sum(b.in_rows * b.width for b in call.blocks if b.streamed) + sum(b.prefetch for b in call.blocks)
            assert taken == sequences * pixels
            double = r["out_group"] > 1 and 2 * pixels <= cfg.line_rows * cfg.max_width
            assert any(b.prefetch for b in call.blocks) == (double and sequences > 1)
        else:
            assert r["out_group"] == 1 and all(b.streamed for b in call.blocks)
    assert grouped == 3  # conv13, conv15, conv18 at 13x13 (conv22's 26x26 fold fills the default 704-pixel tile alone)


@pytest.mark.parametrize("field, value", [("max_width", 208), ("max_height", 400), ("max_in_channels", 512),
                                          ("max_out_channels", 512), ("tile_pixels", 12), ("tile_pixels", 60)])
def test_too_small_config_names_the_parameter(quantised, field, value):
    net, model = quantised[416]
    with pytest.raises(ValueError, match=f"HwConfig.{field}"):
        make_plan(net, model.hardware_formats(), HwConfig(**{field: value}))


def test_plan_refuses_mismatched_model(quantised):
    net416, model416 = quantised[416]
    net128, model128 = quantised[128]
    with pytest.raises(ValueError, match="another network"):
        make_plan(net416, model128.hardware_formats(), HwConfig())
    with pytest.raises(ValueError, match="bits"):
        make_plan(net128, model128.hardware_formats(), HwConfig(bits=8))
