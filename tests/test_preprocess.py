"""Darknet-exact preprocessing, checked against a literal loop port of darknet's C code."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model.preprocess import letterbox, letterbox_size, load_image, resize_darknet


def _resize_loops(im, w, h):
    """darknet image.c resize_image, transcribed loop for loop with float32 arithmetic."""
    f = np.float32
    c_, ih, iw = im.shape
    part = np.zeros((c_, ih, w), np.float32)
    w_scale = f(iw - 1) / f(w - 1)
    h_scale = f(ih - 1) / f(h - 1)
    for k in range(c_):
        for r in range(ih):
            for c in range(w):
                if c == w - 1 or iw == 1:
                    val = im[k, r, iw - 1]
                else:
                    sx = f(c) * w_scale
                    ix = int(sx)
                    dx = f(sx - f(ix))
                    val = f(f(1) - dx) * im[k, r, ix] + dx * im[k, r, ix + 1]
                part[k, r, c] = val
    out = np.zeros((c_, h, w), np.float32)
    for k in range(c_):
        for r in range(h):
            sy = f(r) * h_scale
            iy = int(sy)
            dy = f(sy - f(iy))
            for c in range(w):
                out[k, r, c] = f(f(1) - dy) * part[k, iy, c]
            if r == h - 1 or ih == 1:
                continue
            for c in range(w):
                out[k, r, c] += dy * part[k, iy + 1, c]
    return out


@pytest.mark.parametrize("src, dst", [((9, 13), (5, 7)), ((6, 4), (11, 9)), ((17, 10), (16, 10))])
def test_resize_matches_darknet_loops(src, dst):
    rng = np.random.default_rng(sum(src) + sum(dst))
    im = rng.random((3, *src), dtype=np.float32)
    expected = _resize_loops(im, dst[1], dst[0])
    assert np.allclose(resize_darknet(im, dst[1], dst[0]), expected, rtol=0, atol=2e-7)


def test_letterbox_geometry():
    # darknet: landscape 640x480 into 416: new 416x312, placed at y = (416-312)/2 = 52
    assert letterbox_size(640, 480, 416, 416) == (416, 312)
    assert letterbox_size(810, 1080, 416, 416) == (312, 416)
    img = np.full((480, 640, 3), 255, np.uint8)
    x = letterbox(img, 416, 416)
    assert x.shape == (3, 416, 416) and x.dtype == np.float32
    assert np.all(x[:, :52] == 0.5) and np.all(x[:, 52 + 312:] == 0.5)
    assert np.allclose(x[:, 52:52 + 312], 1.0)


def _save(tmp_path, name, array, mode=None):
    path = tmp_path / name
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def test_image_modes_handled(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    gray = rgb[:, :, 0]
    assert np.array_equal(load_image(_save(tmp_path, "rgb.png", rgb)), rgb)
    g = load_image(_save(tmp_path, "gray.png", gray))
    assert g.shape == (20, 30, 3) and all(np.array_equal(g[:, :, i], gray) for i in range(3))
    rgba = np.dstack([rgb, np.full((20, 30), 7, np.uint8)])
    assert np.array_equal(load_image(_save(tmp_path, "rgba.png", rgba)), rgb)
    wide = gray.astype(np.uint16) * 256 + 171  # 16-bit: the high byte is the 8-bit value
    path16 = tmp_path / "gray16.png"
    Image.fromarray(wide).save(path16)
    assert Image.open(path16).mode.startswith("I")
    assert np.array_equal(load_image(path16)[:, :, 1], gray)
    pal = Image.fromarray(rgb).convert("P")
    pal.save(tmp_path / "pal.png")
    assert np.array_equal(load_image(tmp_path / "pal.png"), np.asarray(pal.convert("RGB")))


def test_bad_image_files(tmp_path):
    with pytest.raises(ZynqyoloError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "notes.jpg").write_text("not a picture")
    with pytest.raises(ZynqyoloError, match="not an image"):
        load_image(tmp_path / "notes.jpg")
    good = _save(tmp_path, "cut.png", np.zeros((64, 64, 3), np.uint8) + 9)
    (tmp_path / "cut2.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(ZynqyoloError):
        load_image(tmp_path / "cut2.png")
    with pytest.raises(ZynqyoloError, match="not a file"):
        load_image(tmp_path)
