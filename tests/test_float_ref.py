"""The numpy float32 reference against the PyTorch float model (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from zynqyolo.model import load_cfg, load_weights
from zynqyolo.model.float_ref import FloatReference, im2col
from zynqyolo.model.preprocess import letterbox, load_image


def test_im2col_matches_direct_convolution():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    for stride, padding in ((1, 1), (2, 1), (1, 0), (2, 0)):
        cols = im2col(x, 3, stride, padding)
        oh = (7 + 2 * padding - 3) // stride + 1
        ow = (9 + 2 * padding - 3) // stride + 1
        got = (w.reshape(4, -1) @ cols).reshape(4, oh, ow)
        xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
        for o in range(4):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[:, i * stride:i * stride + 3, j * stride:j * stride + 3]
                    assert got[o, i, j] == pytest.approx(float(np.sum(patch * w[o])), abs=1e-12)


@pytest.mark.parametrize("size,photo", [(416, "bus"), (160, "zidane")])
def test_float_reference_matches_torch(model_files, photos, size, photo):
    torch = pytest.importorskip("torch")
    from zynqyolo.model.torch_model import build_torch_model

    net = load_cfg(model_files[0], width=size, height=size)
    weights = load_weights(model_files[1], net)
    x = letterbox(load_image(photos[photo]), size, size)
    ref = FloatReference(net, weights)
    outs, acts = ref.run(x, keep_all=True)
    with torch.no_grad():
        expected = build_torch_model(net, weights)(torch.from_numpy(x)[None], return_all=True)
    assert all(a is not None for a in acts) and len(acts) == len(net.layers)
    for layer, got, want in zip(net.layers, acts, expected):
        want = want[0].numpy()
        assert got.shape == want.shape and got.dtype == np.float32
        scale = max(float(np.abs(want).max()), 1.0)
        # float32 with a different summation order: relative error ~1e-6 of the layer's range
        assert float(np.abs(got - want).max()) <= 2e-5 * scale, f"layer {layer.index}"
    for got, y in zip(outs, net.yolos):
        assert got is acts[y.index]


def test_forward_refuses_a_wrong_size(model_files):
    from zynqyolo.errors import ZynqyoloError

    net = load_cfg(model_files[0], width=64, height=64)
    ref = FloatReference(net, load_weights(model_files[1], net))
    with pytest.raises(ZynqyoloError, match="letterbox"):
        ref.forward(np.zeros((3, 32, 32), np.float32))
