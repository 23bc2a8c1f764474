"""The float models against an independent darknet implementation, and the ONNX export.

Reference: OpenCV's own darknet importer (``cv2.dnn.readNetFromDarknet``), which parses the
same cfg/weights with its own code and runs its own kernels. Both nets get the identical
float32 letterboxed tensor, so the comparison checks the network computation (conv, darknet
batch-norm, leaky, max-pool padding, route, upsample, yolo activations) independently of
preprocessing.

Then onnxruntime on the exported ONNX file against the torch model, the network-hash check
of the ONNX metadata, and the ``export-onnx`` command's error handling.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest

from zynqyolo.errors import ZynqyoloError
from zynqyolo.model import load_cfg, load_weights
from zynqyolo.model.preprocess import letterbox, load_image

torch = pytest.importorskip("torch", reason="the float model needs PyTorch (pip install torch==2.13.0)")

from zynqyolo.model.torch_model import build_torch_model  # noqa: E402  (after the torch skip)

# Photos with objects in them (so the detection comparison is never vacuous), of varied aspect.
PHOTOS = ("bus", "zidane", "grace_hopper", "coffee")
HEAD_TOL = 1e-3  # torch vs OpenCV: two float32 implementations with different conv kernels
ONNX_TOL = 1e-4  # onnxruntime vs torch on the same graph


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def torch_model(network, weights):
    return build_torch_model(network, weights)


@pytest.fixture(scope="session")
def images(photos):
    """name -> uint8 (H, W, 3) RGB original."""
    return {name: load_image(photos[name]) for name in PHOTOS}


@pytest.fixture(scope="session")
def batch(images, network):
    """float32 (N, 3, 416, 416): the letterboxed photos in PHOTOS order, fed to every net."""
    return np.stack([letterbox(images[name], network.width, network.height) for name in PHOTOS])


@pytest.fixture(scope="session")
def torch_out(torch_model, batch):
    """(raw heads, yolo outputs) of the torch model, whole batch in one forward."""
    return torch_model.predict(batch, raw=True), torch_model.predict(batch)


def _opencv_names(network):
    """OpenCV's darknet importer names layers '<kind>_<darknet layer index>'."""
    convs = [f"conv_{y.inputs[0]}" for y in network.yolos]
    yolos = [f"yolo_{y.index}" for y in network.yolos]
    return convs, yolos


def _opencv_net(model_files, network):
    cv2 = pytest.importorskip("cv2", reason="the independent reference is OpenCV's darknet importer "
                                            "(pip install 'opencv-python-headless<5')")
    net = cv2.dnn.readNetFromDarknet(str(model_files[0]), str(model_files[1]))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    have = set(net.getLayerNames())
    convs, yolos = _opencv_names(network)
    missing = [n for n in convs + yolos if n not in have]
    assert not missing, f"OpenCV layer names changed: {missing} not in {sorted(have)}"
    return net


def _opencv_forward(net, network, x):
    """OpenCV on one image x (3, H, W): (raw conv heads (C, h, w), yolo-layer rows (h*w*A, 5+classes))."""
    convs, yolos = _opencv_names(network)
    net.setInput(np.ascontiguousarray(x[None]))
    outs = net.forward(convs + yolos)
    heads = [np.array(o[0]) for o in outs[:len(convs)]]
    return heads, [np.array(o) for o in outs[len(convs):]]


@pytest.fixture(scope="session")
def opencv_out(model_files, network, batch):
    """name -> (heads, yolo rows) from OpenCV, one image at a time."""
    net = _opencv_net(model_files, network)
    return {name: _opencv_forward(net, network, batch[i]) for i, name in enumerate(PHOTOS)}


# ----------------------------------------------------------------------------- helpers (independent of the model code)

def _sigmoid_channels(layer) -> np.ndarray:
    """Channels darknet passes through the logistic: all but tw, th (entries 2, 3) of each anchor."""
    per = layer.classes + 5
    return np.array([(c % per) not in (2, 3) for c in range(layer.n_anchors * per)])


def _yolo_activation(head: np.ndarray, layer) -> np.ndarray:
    """Darknet's yolo layer on a raw head (C, h, w), in float64 numpy."""
    out = head.astype(np.float64).copy()
    idx = _sigmoid_channels(layer)
    out[idx] = 1.0 / (1.0 + np.exp(-out[idx]))
    return out


def _opencv_rows(yolo_out: np.ndarray, layer, network) -> np.ndarray:
    """A yolo-layer output (C, h, w) in OpenCV's region-layer row format, rows ordered (row, col, anchor):
    [cx, cy, w, h] relative to the input, objectness, objectness * class score per class."""
    a, per = layer.n_anchors, layer.classes + 5
    _, h, w = yolo_out.shape
    t = yolo_out.astype(np.float64).reshape(a, per, h, w).transpose(2, 3, 0, 1)  # (h, w, A, per)
    rows, cols = np.mgrid[0:h, 0:w]
    anchors = np.array(layer.masked_anchors, dtype=np.float64)
    cx = (cols[:, :, None] + t[..., 0]) / w
    cy = (rows[:, :, None] + t[..., 1]) / h
    bw = np.exp(t[..., 2]) * anchors[:, 0] / network.width
    bh = np.exp(t[..., 3]) * anchors[:, 1] / network.height
    obj = t[..., 4]
    cls = obj[..., None] * t[..., 5:]
    return np.concatenate([np.stack([cx, cy, bw, bh, obj], axis=-1), cls], axis=-1).reshape(-1, per)


def _maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# ----------------------------------------------------------------------------- torch vs OpenCV

@pytest.mark.parametrize("index,name", list(enumerate(PHOTOS)))
def test_raw_heads_match_opencv(network, torch_out, opencv_out, index, name):
    heads, _ = torch_out
    cv_heads, _ = opencv_out[name]
    assert len(heads) == len(cv_heads) == len(network.yolos)
    for layer, ours, ref in zip(network.yolos, heads, cv_heads):
        assert ours[index].shape == ref.shape == layer.in_shape.as_tuple()
        assert np.abs(ref).max() > 1.0  # a real activation map, not an all-zero comparison
        diff = _maxdiff(ours[index], ref)
        assert diff <= HEAD_TOL, f"{name}: head feeding yolo layer {layer.index} differs by {diff:.3g}"


@pytest.mark.parametrize("index,name", list(enumerate(PHOTOS)))
def test_yolo_layers_match_opencv(network, torch_out, opencv_out, index, name):
    """OpenCV's yolo layers decode the boxes (rows of cx, cy, w, h, objectness, objectness * class,
    the class term zeroed below OpenCV's threshold); put ours in the same form and compare.
    This checks the sigmoid/raw channel layout of our yolo outputs against a second implementation."""
    _, yolos = torch_out
    _, cv_rows = opencv_out[name]
    for layer, ours, ref in zip(network.yolos, yolos, cv_rows):
        mine = _opencv_rows(ours[index], layer, network)
        assert mine.shape == ref.shape
        diff = _maxdiff(mine[:, :5], ref[:, :5])
        assert diff <= HEAD_TOL, f"{name}: yolo layer {layer.index} box/objectness differ by {diff:.3g}"
        kept = ref[:, 5:] > 0
        if kept.any():
            diff = _maxdiff(mine[:, 5:][kept], ref[:, 5:][kept])
            assert diff <= HEAD_TOL, f"{name}: yolo layer {layer.index} class scores differ by {diff:.3g}"
            # what OpenCV zeroed is below what it kept (its threshold lies in between)
            assert mine[:, 5:][~kept].max() < ref[:, 5:][kept].min() + HEAD_TOL


@pytest.mark.parametrize("index,name", list(enumerate(PHOTOS)))
def test_detections_identical_after_nms(network, images, torch_out, opencv_out, index, name):
    """One shared decoder (zynqyolo.model.postprocess) on both nets' outputs; OpenCV's raw heads get
    darknet's yolo activation from the numpy helper above, independently of the torch code."""
    postprocess = pytest.importorskip("zynqyolo.model.postprocess",
                                      reason="zynqyolo.model.postprocess (decode/NMS) is not written yet")
    image = images[name]
    wh = (image.shape[1], image.shape[0])
    _, yolos = torch_out
    cv_heads, _ = opencv_out[name]
    ours = postprocess.decode([y[index] for y in yolos], network, wh)
    theirs = postprocess.decode([_yolo_activation(h, layer).astype(np.float32)
                                 for h, layer in zip(cv_heads, network.yolos)], network, wh)
    assert ours, f"{name}: no detections at all; the comparison would be vacuous"

    def key(d):
        return (d.class_id, d.box[0], d.box[1])

    ours, theirs = sorted(ours, key=key), sorted(theirs, key=key)
    assert [d.class_id for d in ours] == [d.class_id for d in theirs], f"{name}: different detections"
    for a, b in zip(ours, theirs):
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert a.box == pytest.approx(b.box, abs=0.1)  # pixels of the original photo


def test_other_input_size_matches_opencv(model_files, images):
    """A non-square size (width 320, height 256): the IR is rebuilt, the model follows it."""
    net = load_cfg(model_files[0], width=320, height=256)
    model = build_torch_model(net, load_weights(model_files[1], net))
    x = letterbox(images["zidane"], net.width, net.height)
    heads = model.heads(torch.from_numpy(x[None]))
    cv_heads, _ = _opencv_forward(_opencv_net(model_files, net), net, x)
    for layer, ours, ref in zip(net.yolos, heads, cv_heads):
        ours = ours.detach().numpy()[0]
        assert ours.shape == ref.shape == layer.in_shape.as_tuple()
        assert _maxdiff(ours, ref) <= HEAD_TOL


# ----------------------------------------------------------------------------- torch model internals

def test_layer_outputs_follow_the_ir(network, torch_model, batch, torch_out):
    x = torch.from_numpy(batch[:1])
    with torch.no_grad():
        every = torch_model(x, return_all=True)
    assert len(every) == len(network.layers)
    for layer, out in zip(network.layers, every):
        assert tuple(out.shape) == (1, *layer.out_shape.as_tuple()), f"layer {layer.index} ({layer.kind})"
    heads, yolos = torch_out
    for k, layer in enumerate(network.yolos):
        raw = every[layer.inputs[0]][0].numpy()
        act = every[layer.index][0].numpy()
        # batch 1 here, batch 4 in torch_out: the conv kernels may block differently
        assert _maxdiff(raw, heads[k][0]) <= 1e-5 and _maxdiff(act, yolos[k][0]) <= 1e-5
        sig = _sigmoid_channels(layer)
        assert np.array_equal(act[~sig], raw[~sig])  # tw, th raw
        np.testing.assert_allclose(act[sig], 1 / (1 + np.exp(-raw[sig].astype(np.float64))), atol=1e-6)


def test_darknet_maxpool_and_upsample(network, torch_model):
    """The stride-1 max-pool pads right/bottom only (darknet offset 0), with values that never win;
    upsample repeats each cell. Checked against a direct loop on an all-negative input."""
    pool = next(l for l in network.layers if l.kind == "maxpool" and l.stride == 1)
    up = next(l for l in network.layers if l.kind == "upsample")
    rng = np.random.default_rng(0)
    x = -rng.random((1, 2, 5, 5)).astype(np.float32) - 1.0
    got = torch_model.blocks[pool.index](torch.from_numpy(x)).numpy()
    for i in range(5):
        for j in range(5):
            window = x[0, :, i:min(i + pool.size, 5), j:min(j + pool.size, 5)]
            assert np.array_equal(got[0, :, i, j], window.max(axis=(1, 2)))
    small = rng.random((1, up.in_shape.c, up.in_shape.h, up.in_shape.w)).astype(np.float32)
    big = torch_model.blocks[up.index](torch.from_numpy(small)).numpy()
    s = up.stride
    assert np.array_equal(big, np.repeat(np.repeat(small, s, axis=2), s, axis=3))


def _darknet_conv_layer(layer, params, x: np.ndarray) -> np.ndarray:
    """darknet forward_convolutional_layer in float64 on x (C, H, W): conv, then
    scale * (v - mean) / sqrt(variance + .000001) + bias when batch-normalised, then the activation."""
    k, s, pad = layer.size, layer.stride, layer.padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad)))
    oh = (x.shape[1] + 2 * pad - k) // s + 1
    ow = (x.shape[2] + 2 * pad - k) // s + 1
    w = params.weights.astype(np.float64)
    out = np.zeros((layer.filters, oh, ow))
    for dy in range(k):
        for dx in range(k):
            out += np.einsum("nc,chw->nhw", w[:, :, dy, dx], xp[:, dy:dy + s * oh:s, dx:dx + s * ow:s])
    col = (slice(None), None, None)
    if layer.batch_normalize:
        out = (out - params.mean[col]) / np.sqrt(params.variance.astype(np.float64)[col] + 1e-6)
        out = out * params.scales[col]
    out = out + params.biases[col]
    return np.where(out > 0, out, 0.1 * out) if layer.activation == "leaky" else out


def test_each_conv_layer_against_darknet_formula(network, weights, torch_model):
    """Tighter than the whole-network comparison: each conv block alone against darknet's formula
    in float64 (this resolves e.g. the batch-norm epsilon, 1e-6 in darknet, 1e-5 in torch's default)."""
    rng = np.random.default_rng(3)
    for conv in network.convs:
        x = (rng.random((conv.in_shape.c, 9, 11)) * 3 - 1).astype(np.float32)
        got = torch_model.blocks[conv.index](torch.from_numpy(x[None])).detach().numpy()[0]
        want = _darknet_conv_layer(conv, weights.convs[conv.index], x)
        rel = _maxdiff(got, want) / np.abs(want).max()
        assert rel <= 2e-5, f"conv layer {conv.index}: relative error {rel:.3g}"


def _darknet_maxpool_1d_windows(n: int, size: int, stride: int, padding: int) -> list[list[int]]:
    """Input cells of each output cell along one axis, from darknet's forward_maxpool_layer:
    out = (n + padding - size) / stride + 1, cell i reads i*stride + (-padding/2) + k, k < size,
    skipping cells outside [0, n) (C integer division truncates toward zero)."""
    out = (n + padding - size) // stride + 1
    offset = -int(padding / 2)
    return [[c for c in range(i * stride + offset, i * stride + offset + size) if 0 <= c < n] for i in range(out)]


def test_maxpool_against_darknet_loops():
    """Every small (size, stride, padding, input size): the torch pool equals darknet's loops."""
    from zynqyolo.model.ir import MaxPool, Shape
    from zynqyolo.model.torch_model import _MaxPool

    rng = np.random.default_rng(2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ~700 tiny tensors: thread hand-off would dominate on a busy machine
    try:
        checked = 0
        for size in (1, 2, 3, 4):
            for stride in (1, 2, 3):
                for padding in range(0, size + 1):
                    for n in range(max(1, size - padding), 10):
                        for m in (n, n + 1):  # non-square
                            rows = _darknet_maxpool_1d_windows(n, size, stride, padding)
                            cols = _darknet_maxpool_1d_windows(m, size, stride, padding)
                            out = Shape(2, len(rows), len(cols))
                            layer = MaxPool(0, (-1,), Shape(2, n, m), out, size, stride, padding)
                            x = -rng.random((1, 2, n, m)).astype(np.float32) - 1.0  # a zero pad would win
                            got = _MaxPool(layer)(torch.from_numpy(x)).numpy()
                            assert got.shape == (1, 2, len(rows), len(cols)), (size, stride, padding, n, m)
                            want = np.full(got.shape, np.finfo(np.float32).min, np.float32)
                            for i, rr in enumerate(rows):
                                for j, cc in enumerate(cols):
                                    if rr and cc:
                                        want[0, :, i, j] = x[0][:, rr][:, :, cc].max(axis=(1, 2))
                            assert np.array_equal(got, want), (size, stride, padding, n, m)
                            checked += 1
    finally:
        torch.set_num_threads(threads)
    assert checked > 300


def test_folded_batchnorm_matches(network, weights, batch, torch_out):
    folded = build_torch_model(network, weights, fold_bn=True)
    heads = folded.predict(batch[:2], raw=True)
    for ours, ref in zip(heads, torch_out[0]):
        assert _maxdiff(ours, ref[:2]) <= 1e-4


def test_model_rejects_wrong_input(torch_model):
    with pytest.raises(ZynqyoloError, match="rebuild the network"):
        torch_model(torch.zeros(1, 3, 320, 320))
    with pytest.raises(ZynqyoloError, match="float32"):
        torch_model(torch.zeros(1, 3, 416, 416, dtype=torch.float64))


def test_weights_for_another_network_rejected(model_files, network, weights):
    from zynqyolo.model import parse_cfg

    text = Path(model_files[0]).read_text().replace("filters=1024", "filters=512", 1)
    other = parse_cfg(text)
    with pytest.raises(ZynqyoloError, match="another network"):
        build_torch_model(other, weights)


# ----------------------------------------------------------------------------- ONNX

@pytest.fixture(scope="session")
def onnx_file(network, weights, tmp_path_factory):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
    pytest.importorskip("onnxruntime", reason="running the ONNX model needs onnxruntime")
    from zynqyolo.model.onnx_backend import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "yolov3-tiny.onnx"
    export_onnx(network, weights, path)
    return path


def _edited_copy(src: Path, dst: Path, edit) -> Path:
    import onnx

    proto = onnx.load(str(src))
    meta = {p.key: p.value for p in proto.metadata_props}
    meta = edit(meta)
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(dst))
    return dst


def test_onnxruntime_matches_torch(onnx_file, network, batch, torch_out):
    from zynqyolo.model.onnx_backend import OnnxModel

    model = OnnxModel(onnx_file, network)
    outs = model.forward(batch)
    _, yolos = torch_out
    assert [o.shape for o in outs] == [y.shape for y in yolos]
    for layer, ours, ref in zip(network.yolos, outs, yolos):
        diff = _maxdiff(ours, ref)
        assert diff <= ONNX_TOL, f"yolo layer {layer.index}: onnxruntime vs torch {diff:.3g}"
    names = [o.name for o in model.session.get_outputs()]
    assert names == [f"yolo_{y.index}" for y in network.yolos]
    assert OnnxModel(onnx_file).network == network  # the stored IR, without being told


def test_onnx_refuses_other_network(onnx_file, model_files, tmp_path):
    from zynqyolo.model.onnx_backend import HASH_KEY, NETWORK_KEY, OnnxModel

    other = load_cfg(model_files[0], width=320, height=320)
    with pytest.raises(ZynqyoloError, match="another network"):
        OnnxModel(onnx_file, other)

    import json

    def swap_ir_keep_hash(meta):  # the IR edited, the hash left alone
        return {**meta, NETWORK_KEY: json.dumps(other.to_dict())}

    with pytest.raises(ZynqyoloError, match="edited"):
        OnnxModel(_edited_copy(onnx_file, tmp_path / "a.onnx", swap_ir_keep_hash))

    def no_meta(meta):
        return {k: v for k, v in meta.items() if k not in (HASH_KEY, NETWORK_KEY)}

    with pytest.raises(ZynqyoloError, match="metadata"):
        OnnxModel(_edited_copy(onnx_file, tmp_path / "b.onnx", no_meta))


def test_non_onnx_files_rejected(tmp_path, network, model_files):
    pytest.importorskip("onnxruntime", reason="running the ONNX model needs onnxruntime")
    from zynqyolo.model.onnx_backend import OnnxModel

    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    noise = tmp_path / "noise.onnx"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    for path in (text, noise, empty, Path(model_files[0]), tmp_path / "missing.onnx", tmp_path):
        with pytest.raises(ZynqyoloError):
            OnnxModel(path, network)


def test_export_failure_leaves_no_file(tmp_path, network, weights, monkeypatch):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
    from zynqyolo.atomic import write_bytes_atomic
    from zynqyolo.model import onnx_backend

    with pytest.raises(ZynqyoloError, match="does not exist"):
        onnx_backend.export_onnx(network, weights, tmp_path / "nowhere" / "m.onnx")
    target = tmp_path / "m.onnx"
    with pytest.raises(ZynqyoloError, match="opset"):
        onnx_backend.export_onnx(network, weights, target, opset=99)
    assert list(tmp_path.iterdir()) == []
    # A failure while writing: the old file stays as it was and no temporary file is left.
    target.write_bytes(b"previous export")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ZynqyoloError, match="No space left"):
        write_bytes_atomic(target, b"new model bytes")
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"previous export"


# ----------------------------------------------------------------------------- export-onnx command

def _cli(argv: list[str]) -> tuple[int, str]:
    """Run 'zynqyolo ...' in process: (exit status, stderr)."""
    from zynqyolo import cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        return cli.main(argv), err.getvalue()


def test_cli_bad_paths(tmp_path, model_files):
    out = tmp_path / "m.onnx"
    cfg, wts = str(model_files[0]), str(model_files[1])
    truncated = tmp_path / "short.weights"
    truncated.write_bytes(Path(wts).read_bytes()[:100_000])
    cases = [
        (["--cfg", str(tmp_path / "no.cfg"), "--weights", wts], "cfg file not found"),
        (["--cfg", cfg, "--weights", str(tmp_path / "no.weights")], "weights file not found"),
        (["--cfg", cfg, "--weights", str(truncated)], "truncated"),
        (["--cfg", cfg], "together"),
        (["--cfg", wts, "--weights", wts], "cfg"),
    ]
    for extra, message in cases:
        code, err = _cli(["export-onnx", "-o", str(out), *extra])
        assert code == 2 and message in err, (extra, err)
    code, err = _cli(["export-onnx", "-o", str(tmp_path / "nowhere" / "m.onnx")])
    assert code == 2 and "does not exist" in err
    code, err = _cli(["export-onnx", "-o", str(tmp_path)])
    assert code == 2 and "directory" in err
    assert list(tmp_path.iterdir()) == [truncated]  # no output, no temporary file


def test_cli_exports_for_the_requested_size(tmp_path, network):
    pytest.importorskip("onnxruntime", reason="running the ONNX model needs onnxruntime")
    from zynqyolo.model.onnx_backend import OnnxModel

    out = tmp_path / "small.onnx"
    code, err = _cli(["export-onnx", "-o", str(out), "--width", "320", "--height", "320"])
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["small.onnx"]
    model = OnnxModel(out)
    assert (model.network.width, model.network.height) == (320, 320)
    with pytest.raises(ZynqyoloError, match="another network"):
        OnnxModel(out, network)  # the 416x416 network
    outs = model.forward(np.full((1, 3, 320, 320), 0.5, np.float32))
    assert [o.shape[1:] for o in outs] == [y.out_shape.as_tuple() for y in model.network.yolos]
