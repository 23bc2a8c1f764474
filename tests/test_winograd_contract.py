"""The Winograd path's contract on the Python side (spec/winograd.md): the design point's conv_engine,
the ``winograd`` register (last field, its checks, the plan's value per call), the header's Winograd
parameters and the winograd weight-block order of the parameter stream."""

from __future__ import annotations

import json
import re

import pytest

from zynqyolo.dse.hwconfig import WINO_MIN_WIDTH, HwConfig
from zynqyolo.errors import ZynqyoloError
from zynqyolo.hls.header import render_header
from zynqyolo.model import winograd

WINO = HwConfig(conv_engine="winograd")


# -- the design point ------------------------------------------------------------------------------


def test_conv_engine_is_validated_and_part_of_the_design_point(tmp_path):
    assert HwConfig().conv_engine == "direct" and not HwConfig().winograd_engine
    assert WINO.winograd_engine
    for bad in ("Winograd", "fast", "", 1, None):
        with pytest.raises(ValueError, match="conv_engine"):
            HwConfig(conv_engine=bad)
    assert WINO.to_dict()["conv_engine"] == "winograd"
    assert WINO.content_hash != HwConfig().content_hash
    assert WINO.name != HwConfig().name and WINO.name.startswith("oc24ic8b16w-")
    assert HwConfig().name.startswith("oc24ic8b16-")
    path = WINO.save(tmp_path / "w.json")
    assert HwConfig.load(path) == WINO
    assert HwConfig.load(HwConfig().save(tmp_path / "d.json")).conv_engine == "direct"


def test_a_design_file_without_conv_engine_is_refused(tmp_path):
    body = HwConfig().to_dict()
    del body["conv_engine"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"hwconfig": body}))
    with pytest.raises(ZynqyoloError, match="conv_engine"):
        HwConfig.load(path)


def test_the_winograd_register_is_the_last_one_bit_field():
    for cfg in (HwConfig(), WINO):
        fields = cfg.register_fields()
        assert list(fields)[-1] == "winograd" and fields["winograd"] == 1
        assert cfg.register_range("winograd") == (0, 1)
    # the older fields keep their AXI-Lite offsets
    offsets = HwConfig().register_offsets()
    assert offsets["yolo_shift"] == 0x10 + 8 * 14 and offsets["winograd"] == 0x10 + 8 * 15
    assert WINO_MIN_WIDTH == 7


# -- the generated header --------------------------------------------------------------------------


def _constexpr(text: str, name: str) -> str:
    match = re.search(rf"static constexpr (?:int|bool) {name} = ([^;]+);", text)
    assert match, name
    return match.group(1)


def _typedefs(text: str, flavour: str) -> dict[str, str]:
    struct = text[text.index("struct config {"):text.index("\n};")]
    native, ap = re.search(r"#ifdef ZYNQYOLO_NATIVE_TYPES\n(.*?)#else\n(.*?)#endif", struct, re.S).groups()
    body = native if flavour == "native" else ap
    return {m.group(2): m.group(1) for m in re.finditer(r"typedef (.+?) (\w+);", body)}


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("engine", ["direct", "winograd"])
def test_header_winograd_parameters(bits, engine):
    cfg = HwConfig(bits=bits, conv_engine=engine)
    text = render_header(cfg)
    widths = winograd.transform_bits(bits)  # from the exact ranges of the transforms
    assert _constexpr(text, "winograd_engine") == ("true" if engine == "winograd" else "false")
    assert int(_constexpr(text, "wino_min_width")) == WINO_MIN_WIDTH
    assert int(_constexpr(text, "wu_bits")) == bits + 4 == widths["u"]
    assert int(_constexpr(text, "wv_bits")) == bits + 2 == widths["v"]
    assert int(_constexpr(text, "line_rows")) == (6 if engine == "winograd" else 3)
    ap, native = _typedefs(text, "ap"), _typedefs(text, "native")
    assert ap["wu_t"] == f"ap_int<{bits + 4}>" and ap["wv_t"] == f"ap_int<{bits + 2}>"
    assert ap["wprod_t"] == f"ap_int<{2 * bits + 6}>" and widths["product"] <= 2 * bits + 6
    assert (native["wu_t"], native["wv_t"], native["wprod_t"]) == ("int32_t", "int32_t", "int64_t")
    weight_entry = "wu_t" if engine == "winograd" else "weight_t"
    assert ap["wb_t"] == native["wb_t"] == weight_entry
    assert "X(winograd, 1, 0)" in text and "reg_winograd_t winograd;" in text
