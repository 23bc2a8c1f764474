"""Darknet cfg parsing and weights loading, checked against the published layer table."""

from __future__ import annotations

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model import Conv, MaxPool, Network, Route, Upsample, Yolo, load_cfg, parse_cfg, parse_weights

# architecture.md section 6 (an independent source): layer, C_in, C_out, K, output H.
TABLE = [
    (0, 3, 16, 3, 416), (2, 16, 32, 3, 208), (4, 32, 64, 3, 104), (6, 64, 128, 3, 52), (8, 128, 256, 3, 26),
    (10, 256, 512, 3, 13), (12, 512, 1024, 3, 13), (13, 1024, 256, 1, 13), (14, 256, 512, 3, 13),
    (15, 512, 255, 1, 13), (18, 256, 128, 1, 13), (21, 384, 256, 3, 26), (22, 256, 255, 1, 26),
]


def test_yolov3_tiny_matches_published_table(network):
    assert len(network.layers) == 24
    for index, cin, cout, k, h in TABLE:
        conv = network.layers[index]
        assert isinstance(conv, Conv)
        assert (conv.in_shape.c, conv.out_shape.c, conv.size, conv.out_shape.h) == (cin, cout, k, h)
    assert [type(network.layers[i]) for i in (1, 11, 16, 17, 19, 20, 23)] == [
        MaxPool, MaxPool, Yolo, Route, Upsample, Route, Yolo]
    assert network.layers[11].out_shape.as_tuple() == (512, 13, 13)  # stride-1 pool keeps 13x13
    assert network.layers[20].inputs == (19, 8) and network.layers[20].out_shape.c == 384
    assert network.layers[17].inputs == (13,)
    assert network.n_params == 8_858_734
    assert round(network.macs / 1e9, 4) == 2.7825
    assert network.layers[16].masked_anchors == ((81, 82), (135, 169), (344, 319))
    assert network.layers[23].masked_anchors == ((10, 14), (23, 27), (37, 58))
    assert [c.activation for c in network.convs if not c.batch_normalize] == ["linear", "linear"]


def test_ir_round_trip_and_hash(network, model_files):
    again = Network.from_dict(network.to_dict())
    assert again == network and again.content_hash == network.content_hash
    small = load_cfg(model_files[0], width=160, height=160)
    assert small.content_hash != network.content_hash
    assert small.layers[15].out_shape.as_tuple() == (255, 5, 5)


def test_weights_header_and_folding(weights, network):
    assert weights.header[:3] == (0, 2, 0)
    p = weights.convs[0]
    w, b = p.folded()
    # darknet: scale * (x - mean) / sqrt(var + 1e-6) + bias, written out for one output channel
    k = p.scales[3] / np.sqrt(p.variance[3] + 1e-6)
    assert np.allclose(w[3], p.weights[3] * k, rtol=1e-6)
    assert np.isclose(b[3], p.biases[3] - p.mean[3] * k, rtol=1e-6, atol=1e-9)
    w15, b15 = weights.convs[15].folded()  # no batch-norm: untouched
    assert np.array_equal(w15, weights.convs[15].weights) and np.array_equal(b15, weights.convs[15].biases)


def test_truncated_weights_rejected(model_files, network):
    data = model_files[1].read_bytes()
    with pytest.raises(ZynqyoloError, match="truncated"):
        parse_weights(data[:-4000], network, "cut.weights")
    with pytest.raises(ZynqyoloError, match="too short"):
        parse_weights(data[:6], network, "cut.weights")


def test_weights_for_another_cfg_rejected(model_files):
    other = parse_cfg(model_files[0].read_text().replace("filters=1024", "filters=512"))
    with pytest.raises(ZynqyoloError, match="another cfg"):
        parse_weights(model_files[1].read_bytes(), other, "yolov3-tiny.weights")


@pytest.mark.parametrize("edit, message", [
    (("[upsample]", "[shortcut]"), r"unsupported layer \[shortcut\]"),
    (("activation=leaky", "activation=mish"), "unsupported activation 'mish'"),
    (("size=3\nstride=1", "size=3\ngroups=2\nstride=1"), "unsupported option groups=2"),
    (("classes=80", "classes=80\nscale_x_y=1.05"), "scale_x_y=1.05"),
    (("filters=16", "filters=sixteen"), "not an integer"),
    (("layers = -1, 8", "layers = -1, 30"), "outside"),
])
def test_unsupported_cfg_named(model_files, edit, message):
    text = model_files[0].read_text().replace(*edit, 1)
    with pytest.raises(ZynqyoloError, match=message):
        parse_cfg(text, "edited.cfg")


def test_cfg_error_points_at_line(model_files):
    text = model_files[0].read_text().replace("activation=leaky", "activation=swish", 1)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "swish" in s)
    with pytest.raises(ZynqyoloError, match=f"edited.cfg:{line}:"):
        parse_cfg(text, "edited.cfg")


def test_neutral_options_accepted(model_files):
    text = model_files[0].read_text().replace("classes=80", "classes=80\nscale_x_y = 1", 1)
    assert parse_cfg(text).content_hash == parse_cfg(model_files[0].read_text()).content_hash
