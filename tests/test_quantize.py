"""Calibration, formats and the quantised-model artifact (reduced input size: 128x128)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model import load_cfg, load_weights
from zynqyolo.model.fixed import FixedFormat
from zynqyolo.model.float_ref import FloatReference
from zynqyolo.model.intref import IntegerReference
from zynqyolo.model.ir import MaxPool, Route, Upsample, Yolo
from zynqyolo.model.preprocess import letterbox, load_image
from zynqyolo.model.quantize import calibrate, format_groups, load_model, save_model

SIZE = 128


@pytest.fixture(scope="module")
def small(model_files, photos):
    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    weights = load_weights(model_files[1], net)
    calib = [photos["bus"], photos["zidane"], photos["coffee"]]
    return net, weights, calib


@pytest.fixture(scope="module")
def models(small):
    net, weights, calib = small
    return {bits: calibrate(net, weights, calib, bits=bits) for bits in (16, 8)}


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("qmodels")
    return {bits: save_model(m, folder / f"q{bits}.npz") for bits, m in models.items()}


def test_round_trip_is_identical(models, saved, small):
    net = small[0]
    for bits, model in models.items():
        loaded = load_model(saved[bits], network=net, bits=bits)
        assert loaded.content_hash == model.content_hash
        assert loaded.formats == model.formats and loaded.input_format == model.input_format
        assert loaded.convs == model.convs
        for i in model.convs:
            assert np.array_equal(loaded.weights[i], model.weights[i])
            assert np.array_equal(loaded.biases[i], model.biases[i])
        assert [c["name"] for c in loaded.calibration] == ["bus.jpg", "zidane.jpg", "coffee.png"]
        assert all(len(c["sha256"]) == 64 for c in loaded.calibration)
        x = np.random.default_rng(1).random(net.input_shape.as_tuple(), dtype=np.float32)
        a = IntegerReference(model).run(IntegerReference(model).quantize_input(x))[0]
        b = IntegerReference(loaded).run(IntegerReference(loaded).quantize_input(x))[0]
        assert all(np.array_equal(p, q) for p, q in zip(a, b))


def _rewrite(src, dst, change):
    """Copy an .npz, letting ``change(name, array)`` replace arrays (the stored hash is kept)."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {name: change(name, npz[name]) for name in npz.files}
    np.savez(dst, **arrays)


def test_tampered_weights_are_refused(saved, tmp_path):
    bad = tmp_path / "tampered.npz"

    def flip(name, a):
        if name == "w2":
            a = a.copy()
            a.flat[0] += 1
        return a

    _rewrite(saved[16], bad, flip)
    with pytest.raises(ZynqyoloError, match="content hash mismatch"):
        load_model(bad)


def test_tampered_formats_are_refused(saved, tmp_path):
    bad = tmp_path / "tampered-meta.npz"

    def edit(name, a):
        if name == "meta":
            meta = json.loads(str(a))
            meta["formats"][0]["frac"] += 1
            return np.array(json.dumps(meta))
        return a

    _rewrite(saved[16], bad, edit)
    with pytest.raises(ZynqyoloError, match="content hash mismatch"):
        load_model(bad)


def test_wrong_network_is_refused(saved, model_files):
    other = load_cfg(model_files[0], width=SIZE + 32, height=SIZE)
    with pytest.raises(ZynqyoloError, match="another network"):
        load_model(saved[16], network=other)


def test_wrong_bits_is_refused(saved):
    with pytest.raises(ZynqyoloError, match="16-bit model, but 8-bit"):
        load_model(saved[16], bits=8)
    with pytest.raises(ZynqyoloError, match="8-bit model, but 16-bit"):
        load_model(saved[8], bits=16)


def test_not_a_model_is_refused(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ZynqyoloError, match="not a zynqyolo quantised model"):
        load_model(junk)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(ZynqyoloError, match="no meta"):
        load_model(plain)
    with pytest.raises(ZynqyoloError, match="not found"):
        load_model(tmp_path / "missing.npz")


def test_zero_calibration_images_is_an_error(small):
    net, weights, _ = small
    with pytest.raises(ZynqyoloError, match="at least one image"):
        calibrate(net, weights, [], bits=16)


def test_bad_calibration_arguments(small, tmp_path):
    net, weights, _ = small
    with pytest.raises(ZynqyoloError, match="bits=12"):
        calibrate(net, weights, [np.zeros((3, SIZE, SIZE), np.float32)], bits=12)
    with pytest.raises(ZynqyoloError, match="shape"):
        calibrate(net, weights, [np.zeros((3, 64, 64), np.float32)], bits=16)
    with pytest.raises(ZynqyoloError, match="not found"):
        calibrate(net, weights, [tmp_path / "nope.jpg"], bits=16)


def test_save_is_atomic(models, tmp_path, monkeypatch):
    target = tmp_path / "model.npz"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(ZynqyoloError, match="cannot write .*model.npz: disk full"):
        save_model(models[16], target)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary left behind


def test_formats_are_sane(models, small):
    net, weights, calib = small
    groups = format_groups(net)
    for bits, model in models.items():
        assert model.input_format.width == bits
        for layer in net.layers:
            fmt = model.formats[layer.index]
            assert fmt.width == bits and fmt.signed and fmt.rounding == "rnd" and fmt.overflow == "sat"
            if isinstance(layer, (MaxPool, Upsample, Yolo)):
                assert fmt == model.format_of(layer.inputs[0])
            if isinstance(layer, Route):
                assert all(model.format_of(i) == fmt for i in layer.inputs)  # routes never realign
        for conv in net.convs:
            q = model.convs[conv.index]
            assert q.input == model.format_of(conv.inputs[0])
            assert q.bias.width == 2 * bits
            acc = q.input.frac + np.array(q.weight_fracs)
            assert q.bias.frac <= acc.min() and q.output.frac <= acc.min()
            # accumulator: sum of K products of bits x bits codes, plus the bias; 44 / 28 bits for K = 4608
            k = conv.in_shape.c * conv.size ** 2
            assert q.acc_width <= 2 * bits + (k - 1).bit_length() + 2
            w = model.weights[conv.index]
            assert w.min() >= -(2 ** (bits - 1)) and w.max() <= 2 ** (bits - 1) - 1
            # each channel's weight format covers the largest folded weight of that channel
            folded = weights.convs[conv.index].folded()[0].reshape(conv.filters, -1)
            hi = (2 ** (bits - 1) - 1) * 2.0 ** -np.array(q.weight_fracs, dtype=float) + 2.0 ** -(
                np.array(q.weight_fracs, dtype=float) + 1)
            if model.method == "maxabs":
                assert np.all(np.abs(folded).max(axis=1) <= hi)
    # conv 8 and conv 18 meet in route 20: one shared group and format
    route = next(layer for layer in net.layers if isinstance(layer, Route) and len(layer.inputs) == 2)
    producers = {groups[i] for i in route.inputs}
    assert len(producers) == 1
    assert models[16].formats[8] == models[16].formats[18]


def _group_members(net):
    groups = format_groups(net)
    members: dict[int, list[int]] = {}
    for conv in net.convs:
        members.setdefault(groups[conv.index], []).append(conv.index)
    return members.values()


def test_maxabs_formats_cover_the_calibration_range(small):
    """With the max-abs rule no calibration activation is clipped, and one more fractional bit
    would clip (float reference activations recomputed here, the bound derived by hand:
    frac f is the largest with peak * 2^f + 1/2 < max_code + 1)."""
    net, weights, calib = small
    model = calibrate(net, weights, calib[:1], bits=16, method="maxabs", per_channel=False, headroom_bits=0)
    guarded = calibrate(net, weights, calib[:1], bits=16, method="maxabs", per_channel=False)  # default: 1 bit
    acts = FloatReference(net, weights).activations(letterbox(load_image(calib[0]), SIZE, SIZE))
    for members in _group_members(net):
        fmt = model.formats[members[0]]
        peak = max(float(np.max(np.abs(acts[i]))) for i in members)
        assert peak < fmt.max_value + fmt.lsb / 2
        assert peak >= (fmt.max_value + fmt.lsb / 2) / 2
        assert guarded.formats[members[0]].frac == fmt.frac - 1


def test_mse_is_no_worse_than_maxabs_on_calibration_error(small):
    """The MSE rule never gives a larger summed squared error than max-abs on its calibration
    image (errors recomputed here in float64, per format group)."""
    net, weights, calib = small
    a = calibrate(net, weights, calib[:1], bits=8, method="maxabs")
    m = calibrate(net, weights, calib[:1], bits=8, method="mse")
    acts = FloatReference(net, weights).activations(letterbox(load_image(calib[0]), SIZE, SIZE))

    def sse(values, fmt: FixedFormat):
        v = values.astype(np.float64) * 2.0**fmt.frac
        return float(np.sum((v - np.clip(np.floor(v + 0.5), fmt.min_code, fmt.max_code)) ** 2)) * 4.0**-fmt.frac

    differ = 0
    for members in _group_members(net):
        ea = sum(sse(acts[i], a.formats[i]) for i in members)
        em = sum(sse(acts[i], m.formats[i]) for i in members)
        assert em <= ea * (1 + 1e-4), f"group of layers {members}"
        differ += a.formats[members[0]] != m.formats[members[0]]
    assert differ > 0  # the two rules really differ at 8 bits


# ---- the commands -------------------------------------------------------------------------------


def _cli(module, argv):
    import importlib

    parser = argparse.ArgumentParser(prog="zynqyolo")
    sub = parser.add_subparsers(dest="command", required=True)
    importlib.import_module(f"zynqyolo.commands.{module}").register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_quantize_and_fidelity_commands(small, tmp_path, capsys):
    net, _, calib = small
    out = tmp_path / "q8.npz"
    assert _cli("quantize", ["quantize", "--bits", "8", "--calib", str(calib[0]), "--width", str(SIZE),
                             "--height", str(SIZE), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "8-bit model" in text and "s8." in text and str(out) in text
    assert load_model(out, network=net, bits=8).bits == 8
    assert _cli("fidelity", ["fidelity", str(calib[1]), "--model", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bits"] == 8 and report["images"] == 1 and 0.0 <= report["map50"] <= 1.0
    assert set(report["sqnr_db"]) == {str(c.index) for c in net.convs} | {str(y.index) for y in net.yolos}


def test_quantize_command_refuses_a_directory(tmp_path):
    with pytest.raises(ZynqyoloError, match="is a directory"):
        _cli("quantize", ["quantize", "-o", str(tmp_path)])
