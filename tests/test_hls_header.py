"""The generated HLS configuration header and the register checks (no compiler needed)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.hls.header import HEADER_NAME, render_header, write_header
from zynqyolo.dse.registers import call_words, check_registers
from zynqyolo.model.fixed import sigmoid_lut


@pytest.mark.parametrize("cfg", [HwConfig(), HwConfig(p_oc=16, p_ic=4, bits=8, tile_pixels=99)])
def test_header_carries_the_design_point(cfg):
    text = render_header(cfg)
    assert text == render_header(cfg)  # deterministic
    assert f'#define ZYNQYOLO_HW_HASH "{cfg.content_hash}"' in text
    for name, value in (("p_oc", cfg.p_oc), ("p_ic", cfg.p_ic), ("bits", cfg.bits), ("tile_pixels", cfg.tile_pixels),
                        ("max_width", cfg.max_width), ("lanes_per_word", cfg.lanes_per_word)):
        assert re.search(rf"static constexpr int {name} = {value};", text), name
    for name, width in cfg.register_fields().items():
        assert re.search(rf"X\({name}, {width}, [01]\)", text), name
        assert f"reg_{name}_t {name};" in text
    assert "X(yolo_shift, 6, 1)" in text  # the one signed field


@pytest.mark.parametrize("bits", [16, 8])
def test_header_sigmoid_table_is_the_model_table(bits):
    text = render_header(HwConfig(bits=bits, p_oc=24, p_ic=8))
    body = re.search(r"#define ZY_SIGMOID_VALUES \\\n(.*?)\n\n", text, re.S).group(1)
    values = np.array([int(v) for v in body.replace("\\", " ").split(",")])
    assert np.array_equal(values, sigmoid_lut(bits).table())
    entries = int(re.search(r"SIGMOID_ROM\[\d+\]\[(\d+)\]", text).group(1))
    assert entries == values.size


def test_header_content_hash_line(tmp_path):
    cfg = HwConfig()
    path = write_header(cfg, tmp_path)
    assert path.name == HEADER_NAME
    text = path.read_text()
    first, second, third, rest = text.split("\n", 3)
    digest = third.rsplit(" ", 1)[1]
    assert hashlib.sha256(rest.encode()).hexdigest() == digest
    assert render_header(HwConfig(tile_pixels=703)) != text


def regs(**change):
    base = dict(conv_enable=1, leaky=1, ksize=3, stage3=0, pool_stride=1, height=13, width=13, in_channels_a=512,
                in_channels_b=0, out_channels=1024, out_folds=43, bands=1, band_rows=13, yolo_period=0, yolo_shift=0,
                winograd=0, out_group=1)
    return {**base, **change}


def test_register_ranges_and_checks():
    cfg = HwConfig()
    assert cfg.register_range("yolo_shift") == (-32, 31)
    assert cfg.register_range("height") == (0, 511)
    assert check_registers(cfg, regs())["out_folds"] == 43
    with pytest.raises(ValueError, match="yolo_shift"):
        check_registers(cfg, regs(yolo_shift=-33))
    with pytest.raises(ValueError, match="conv_enable"):
        check_registers(cfg, regs(conv_enable=2))
    with pytest.raises(ValueError, match="height"):
        check_registers(cfg, regs(height=1.5))
    with pytest.raises(ValueError, match="in_channels_b"):
        check_registers(cfg, regs(in_channels_b=600))
    with pytest.raises(ValueError, match="band_rows"):
        check_registers(cfg, regs(height=104, width=104, band_rows=7, bands=15))  # 728 pixels > 704
    with pytest.raises(ValueError, match="yolo_period"):
        check_registers(cfg, regs(stage3=3))


def test_call_words_by_hand():
    cfg = HwConfig()  # 24 lanes per fold, 4 lanes per word, p_ic 8
    # layer 12 at 13x13: 22 input folds (21 x 24 + 8 lanes), 43 output folds (42 x 24 + 16 lanes)
    w = call_words(cfg, regs())
    assert w.in_words == 43 * 13 * 13 * 512 // 4
    s_f = 21 * 3 + 1
    assert w.wts_words == 43 * 24 + 43 * 9 * s_f * 24 * 8 // 4
    assert w.out_words == 1024 * 169 // 4
    # layer 0 at 416 with a 2x2/2 pool, as 2 bands of 208 rows: halo rows read twice
    w0 = call_words(cfg, regs(height=416, width=416, in_channels_a=3, out_channels=16, out_folds=1, stage3=1,
                              pool_stride=2, bands=2, band_rows=208))
    assert w0.in_words == (209 + 209) * 416 * 1
    assert w0.out_words == 208 * 208 * 16 // 4
    wb = call_words(cfg, regs(conv_enable=0, in_channels_a=30, out_channels=30, out_folds=2, stage3=2))
    assert (wb.in_words, wb.wts_words, wb.out_words) == (32 * 169 // 4, 0, 32 * 26 * 26 // 4)
