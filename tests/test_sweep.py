"""The bad-input and fault sweep of issue 15, kept as regression tests.

Every case in ``CASES`` runs the command line (``zynqyolo.cli.main``, in this process) on a bad
input, a bad destination or a damaged artifact and checks the promise the README makes: exit
status 2, exactly one line on stderr (``zynqyolo <command>: error: ...``) naming the problem, no
traceback, and nothing left behind: every file under the case's folder is as it was (inputs
unchanged, no output, no hidden ``.part`` file). The other tests check what a user expects where
an error would be wrong: two inputs with one name get two outputs, an 8-bit model runs through the
driver on the emulated board, a read-only but complete cache works, an interrupt or SIGTERM leaves
nothing half-written.

The inputs are small (a 64x64 network quantised once per module, header-only pictures), so the
whole sweep runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from zynqyolo.cli import main
from zynqyolo.dse.hwconfig import HwConfig

SIZE = 64  # the network side of the sweep's models: every case that loads one stays fast
CHATTR = shutil.which("chattr")  # found before any test narrows PATH


# ------------------------------------------------------------------------------------------------
# Fixtures: small models, pictures, folders
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assets(tmp_path_factory, model_files, photos):
    """Files every case may read (never written by a case): models, a design point, pictures."""
    from PIL import Image

    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.quantize import calibrate, save_model

    root = tmp_path_factory.mktemp("assets")
    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16)
    cfg = root / "small.cfg"
    cfg.write_text("\n".join(f"width={SIZE}" if line.startswith("width=") else
                             f"height={SIZE}" if line.startswith("height=") else line
                             for line in model_files[0].read_text().splitlines()) + "\n")
    picture = root / "bus.png"
    with Image.open(photos["bus"]) as im:
        im.convert("RGB").resize((160, 120)).save(picture)
    return {"model": save_model(model, root / "m16.npz"), "design": HwConfig().save(root / "design.json"),
            "picture": picture, "cfg": cfg, "root": root}


@dataclass
class Case:
    """One sweep case: its folder (``dir``), and what it was given (``inputs``, never changed)."""

    dir: Path
    assets: dict
    inputs: list[Path] = field(default_factory=list)

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def json(self, name: str, value) -> Path:
        return self.file(name, json.dumps(value))

    def design(self, name: str = "d.json", **edits) -> Path:
        data = json.loads(Path(self.assets["design"]).read_text())
        data["hwconfig"].update(edits)
        data.pop("hash")
        return self.json(name, data)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones included) and its sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run(argv: list, capsys) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def expect_one_error(status: int, err: str, command: str, words: tuple[str, ...]) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert "Traceback" not in err, err
    assert len(lines) == 1, err  # one line: what is wrong and what to do
    assert lines[0].startswith(f"zynqyolo {command}: error: "), err
    for word in words:
        assert word in lines[0], lines[0]


def header_only_png(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` 8-bit gray pixels (and holds none): what a
    decompression bomb looks like to a reader before it decodes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def rewrite_model(src: Path, dst: Path, edit: Callable) -> Path:
    """A copy of a quantised model with ``edit(meta, arrays)`` applied and its content hash
    recomputed: what a careless (or adversarial) tool would write, past the hash check."""
    from zynqyolo.model.quantize import _content_hash

    with np.load(src) as npz:
        files = {k: npz[k] for k in npz.files}
    meta = json.loads(str(files.pop("meta")))
    files.pop("content_hash")
    meta = edit(meta, files) or meta
    with open(dst, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), content_hash=np.array(_content_hash(meta, files)), **files)
    return dst


def _writable(directory: Path) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.fixture
def read_only(tmp_path):
    """``read_only(path)``: make a folder read-only for whoever runs the tests (root included: the
    folder is made immutable); skips when this file system allows neither."""
    made = []

    def make(directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o555)
        made.append(directory)
        if _writable(directory) and CHATTR:
            subprocess.run([CHATTR, "+i", str(directory)], capture_output=True)
        if _writable(directory):
            pytest.skip("cannot make a read-only folder here (root on a file system without chattr +i)")
        return directory

    yield make
    for directory in made:
        if CHATTR:
            subprocess.run([CHATTR, "-i", str(directory)], capture_output=True)
        directory.chmod(0o755)


# ------------------------------------------------------------------------------------------------
# The cases: (argv builder, words the error line must contain)
# ------------------------------------------------------------------------------------------------

CASES: dict[str, tuple[Callable[[Case], list], tuple[str, ...]]] = {}


def case(name: str, *words: str):
    def register(build):
        assert name not in CASES
        CASES[name] = (build, words)
        return build

    return register


def _detect(c: Case, *extra, image=None) -> list:
    return ["detect", image or c.assets["picture"], "--backend", "ref", "--model", c.assets["model"], *extra]


# -- pictures ------------------------------------------------------------------------------------

case("image-decompression-bomb-20000x20000", "too large", "scale")(
    lambda c: _detect(c, "-o", c.dir / "out.png", image=c.file("bomb.png", header_only_png(20000, 20000))))
case("image-100-megapixels", "10000x10000", "Mpx")(
    lambda c: _detect(c, image=c.file("huge.png", header_only_png(10000, 10000))))
case("image-empty-file", "not an image")(lambda c: _detect(c, image=c.file("empty.jpg", b"")))
case("image-text-file", "not an image")(lambda c: _detect(c, image=c.file("notes.jpg", "hello")))
case("image-truncated", "cannot decode")(
    lambda c: _detect(c, image=c.file("cut.png", Path(c.assets["picture"]).read_bytes()[:2000])))
case("image-is-a-directory", "not a file")(lambda c: _detect(c, image=(c.dir / "photos").mkdir() or c.dir / "photos"))
case("image-missing", "not found")(lambda c: _detect(c, image=c.dir / "missing.jpg"))
case("image-second-of-two-bad", "not an image")(
    lambda c: ["detect", c.assets["picture"], c.file("b.jpg", "text"), "--backend", "ref", "--model",
               c.assets["model"], "-o", c.dir / "pics"])

# -- destinations (detect) -----------------------------------------------------------------------


@case("detect-output-is-the-input", "also an input")
def _(c):
    photo = c.file("photo.png", Path(c.assets["picture"]).read_bytes())
    return _detect(c, "-o", photo, image=photo)


@case("detect-output-is-the-input-through-a-symlink", "also an input")
def _(c):
    photo = c.file("photo.png", Path(c.assets["picture"]).read_bytes())
    (c.dir / "link.png").symlink_to(photo)
    return _detect(c, "-o", c.dir / "link.png", image=photo)


case("detect-output-suffix", "unsupported")(lambda c: _detect(c, "-o", c.dir / "out.txt"))
case("detect-output-folder-missing", "does not exist")(lambda c: _detect(c, "-o", c.dir / "no" / "out.png"))
case("detect-several-inputs-output-is-a-file", "must be a directory")(
    lambda c: ["detect", c.assets["picture"], c.assets["picture"], "--backend", "ref", "--model", c.assets["model"],
               "-o", c.file("taken.png", b"mine")])
case("detect-conf-out-of-range", "--conf")(lambda c: _detect(c, "--conf", "2"))
case("detect-conf-nan", "--conf")(lambda c: _detect(c, "--conf", "nan"))
case("detect-nms-zero", "--nms")(lambda c: _detect(c, "--nms", "0"))

# -- class names ---------------------------------------------------------------------------------

case("names-binary-file", "binary")(lambda c: _detect(c, "--names", c.file("names.bin", bytes(range(256)))))
case("names-not-utf8", "UTF-8")(lambda c: _detect(c, "--names", c.file("names.txt", "caf\xe9\n".encode("latin-1"))))
case("names-wrong-count", "3 names", "80 classes")(
    lambda c: _detect(c, "-o", c.dir / "out.png", "--names", c.file("names.txt", "a\nb\nc\n")))
case("names-empty", "no names")(lambda c: _detect(c, "--names", c.file("names.txt", "\n\n")))
case("names-blank-line", "line 2 is empty")(
    lambda c: _detect(c, "--names", c.file("names.txt", "person\n\n" + "x\n" * 78)))
case("names-missing", "not found")(lambda c: _detect(c, "--names", c.dir / "none.names"))
case("names-directory", "directory")(lambda c: _detect(c, "--names", (c.dir / "n").mkdir() or c.dir / "n"))

# -- quantised models ----------------------------------------------------------------------------


def _model_case(c: Case, edit) -> list:
    bad = rewrite_model(Path(c.assets["model"]), c.dir / "bad.npz", edit)
    return ["detect", c.assets["picture"], "--backend", "ref", "--model", bad]


def _set_meta(key, value):
    def edit(meta, files):
        meta[key] = value
    return edit


def _set_array(name, make):
    def edit(meta, files):
        files[name] = make(files[name])
    return edit


case("model-random-bytes", "not a zip archive")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model",
               c.file("random.npz", np.random.default_rng(0).bytes(4096))])
case("model-empty-file", "not a zip archive")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model", c.file("empty.npz", b"")])
case("model-truncated", "not a zynqyolo quantised model")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model",
               c.file("cut.npz", Path(c.assets["model"]).read_bytes()[:100_000])])
case("model-npz-without-metadata", "no meta")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model",
               (np.savez(c.dir / "plain.npz", x=np.zeros(3)) or c.dir / "plain.npz")])
case("model-metadata-is-a-list", "expected a JSON object", "got a list")(
    lambda c: _model_case(c, lambda meta, files: [meta]))
case("model-weights-strings", "array w0", "strings")(
    lambda c: _model_case(c, _set_array("w0", lambda a: a.astype(str))))
case("model-weights-fractional", "array w0", "floats")(
    lambda c: _model_case(c, _set_array("w0", lambda a: a + 0.5)))
case("model-weights-nan", "array b0", "floats")(
    lambda c: _model_case(c, _set_array("b0", lambda a: np.full(a.shape, np.nan))))
case("model-weights-bool", "array w0", "booleans")(
    lambda c: _model_case(c, _set_array("w0", lambda a: a > 0)))
case("model-bits-boolean", "bits=True")(lambda c: _model_case(c, _set_meta("bits", True)))
case("model-bits-string", "bits='16'")(lambda c: _model_case(c, _set_meta("bits", "16")))
case("model-format-width-fractional", "width=16.5")(
    lambda c: _model_case(c, lambda meta, files: meta["input_format"].update(width=16.5)))
case("model-network-layer-not-an-object", "network layer 0")(
    lambda c: _model_case(c, lambda meta, files: meta["network"]["layers"].__setitem__(0, 7)))
case("model-convs-not-a-list", "convs", "expected a list")(lambda c: _model_case(c, _set_meta("convs", {"a": 1})))
case("model-edited-without-its-hash", "content hash")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model",
               _edited_without_hash(Path(c.assets["model"]), c.dir / "edited.npz")])
case("model-is-a-directory", "is a directory")(
    lambda c: ["detect", c.assets["picture"], "--backend", "ref", "--model", (c.dir / "m").mkdir() or c.dir / "m"])


def _edited_without_hash(src: Path, dst: Path) -> Path:
    with np.load(src) as npz:
        files = {k: npz[k] for k in npz.files}
    files["w0"] = files["w0"] // 2
    np.savez(dst, **files)
    return dst


# -- darknet weights -----------------------------------------------------------------------------


@case("weights-nan", "NaN")
def _(c):
    from zynqyolo.fetch import model_paths

    raw = bytearray(model_paths()[1].read_bytes())
    raw[20 + 4 * 100:20 + 4 * 101] = struct.pack("<f", float("nan"))  # one float of the first conv
    weights = c.file("nan.weights", bytes(raw))
    return ["quantize", "--cfg", c.assets["cfg"], "--weights", weights, "--calib", c.assets["picture"],
            "-o", c.dir / "q.npz"]


case("weights-truncated", "truncated")(
    lambda c: ["quantize", "--cfg", c.assets["cfg"], "--calib", c.assets["picture"], "-o", c.dir / "q.npz",
               "--weights", c.file("cut.weights", b"\0" * 4096)])

# -- design points -------------------------------------------------------------------------------


def _estimate(design) -> list:
    return ["estimate", "--design", design]


case("design-empty-object", "lacks p_oc")(lambda c: _estimate(c.json("d.json", {})))
case("design-empty-hwconfig", "lacks p_oc")(lambda c: _estimate(c.json("d.json", {"hwconfig": {}})))
case("design-a-list", "not a design file")(lambda c: _estimate(c.json("d.json", [1, 2])))
case("design-clock-a-word", "clock_mhz='fast'", "must be a number")(lambda c: _estimate(c.design(clock_mhz="fast")))
case("design-clock-nan", "clock_mhz=nan", "finite")(lambda c: _estimate(c.file("d.json", c.design().read_text()
                                                                               .replace('"clock_mhz": 100.0',
                                                                                        '"clock_mhz": NaN'))))
case("design-boolean-as-integer", "p_oc=True", "integer")(lambda c: _estimate(c.design(p_oc=True)))
case("design-float-as-integer", "p_ic=8.0", "integer")(lambda c: _estimate(c.design(p_ic=8.0)))
case("design-negative", "p_ic=-8")(lambda c: _estimate(c.design(p_ic=-8)))
case("design-unsupported-bits", "bits=12")(lambda c: _estimate(c.design(bits=12)))
case("design-part-a-number", "part=7020", "string")(lambda c: _estimate(c.design(part=7020)))
case("design-unknown-field", "unknown field")(lambda c: _estimate(c.design(turbo=1)))
case("design-not-json", "not valid JSON")(lambda c: _estimate(c.file("d.json", "{hwconfig: ")))
case("design-binary", "binary")(lambda c: _estimate(c.file("d.json", bytes(range(256)))))
case("design-hash-mismatch", "hash")(
    lambda c: _estimate(c.file("d.json", Path(c.assets["design"]).read_text().replace('"p_ic": 8', '"p_ic": 4'))))
case("design-missing", "not found")(lambda c: _estimate(c.dir / "none.json"))
case("design-empty-through-detect", "lacks p_oc")(
    lambda c: ["detect", c.assets["picture"], "--backend", "emu", "--model", c.assets["model"], "--design",
               c.json("d.json", {})])
case("design-empty-through-hls", "lacks p_oc")(
    lambda c: ["hls", "--design", c.json("d.json", {}), "--dry-run", "--out", c.dir / "prj"])
case("design-empty-through-build", "lacks p_oc")(
    lambda c: ["build", "--design", c.json("d.json", {}), "--board", "zedboard", "--dry-run", "--out", c.dir / "bs"])
case("design-empty-through-bench", "lacks p_oc")(
    lambda c: ["bench", "--backend", "emu", "--model", c.assets["model"], "--design", c.json("d.json", {})])
case("design-reference-architecture-as-ours", "reference architecture")(
    lambda c: ["hls", "--design", c.json("d.json", {"arch": "yu2020", "params": {}}), "--dry-run",
               "--out", c.dir / "prj"])

# -- estimate ------------------------------------------------------------------------------------

case("estimate-yu2020-with-our-design", "not a design of the reference architecture", "--param")(
    lambda c: ["estimate", "--arch", "yu2020", "--design", c.assets["design"]])
case("estimate-yu2020-parameter-boolean", "n_max=True")(
    lambda c: ["estimate", "--design", c.json("y.json", {"arch": "yu2020", "params": {"n_max": True}})])
case("estimate-yu2020-parameter-unknown", "unknown yu2020 parameter", "turbo")(
    lambda c: ["estimate", "--design", c.json("y.json", {"arch": "yu2020", "params": {"turbo": 2}})])
case("estimate-yu2020-params-a-list", "params", "expected a JSON object")(
    lambda c: ["estimate", "--design", c.json("y.json", {"arch": "yu2020", "params": [1]})])
case("estimate-param-syntax", "NAME=VALUE")(lambda c: ["estimate", "--arch", "yu2020", "--param", "N_max"])

# -- bench ---------------------------------------------------------------------------------------

case("bench-cpu-with-a-board", "--board", "--backend cpu")(lambda c: ["bench", "--backend", "cpu", "--board", "foo"])
case("bench-cpu-with-a-design", "--design")(lambda c: ["bench", "--backend", "cpu", "--design", c.assets["design"]])
case("bench-unknown-board", "foo")(lambda c: ["bench", "--backend", "emu", "--board", "foo"])
case("bench-no-frames", "--frames")(lambda c: ["bench", "--frames", "0"])

# -- COCO annotations ----------------------------------------------------------------------------


def _coco(c: Case, annotations: Path) -> list:
    (c.dir / "val").mkdir(exist_ok=True)
    return ["eval-coco", "--images", c.dir / "val", "--annotations", annotations, "--backend", "ref", "--model",
            c.assets["model"]]


case("coco-annotations-a-list", "expected a JSON object", "got a list")(lambda c: _coco(c, c.json("a.json", [])))
case("coco-annotations-not-json", "not valid JSON")(lambda c: _coco(c, c.file("a.json", "{")))
case("coco-annotations-binary", "binary")(lambda c: _coco(c, c.file("a.json", b"\x89PNG\0\0")))
case("coco-annotations-lack-categories", "missing 'categories'")(
    lambda c: _coco(c, c.json("a.json", {"images": [], "annotations": []})))
case("coco-images-not-a-list", "'images'", "expected a list")(
    lambda c: _coco(c, c.json("a.json", {"images": {}, "annotations": [], "categories": []})))
case("coco-image-not-an-object", "image 0")(
    lambda c: _coco(c, c.json("a.json", {"images": [3], "annotations": [], "categories": []})))
case("coco-image-id-a-string", "image 0 id")(
    lambda c: _coco(c, c.json("a.json", {"images": [{"id": "1", "file_name": "a.jpg"}], "annotations": [],
                                         "categories": []})))

# -- dse -----------------------------------------------------------------------------------------


def _dse(c: Case, *extra) -> list:
    return ["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--cfg", c.assets["cfg"], *extra]


case("dse-plot-format-matplotlib-cannot-write", "cannot write .xyz")(
    lambda c: _dse(c, "-o", c.dir / "design.json", "--plot", c.dir / "plot.xyz"))
case("dse-plot-folder-missing", "does not exist")(
    lambda c: _dse(c, "-o", c.dir / "design.json", "--plot", c.dir / "no" / "plot.png"))
case("dse-output-is-the-cfg", "also an input")(
    lambda c: _dse(c, "-o", c.assets["cfg"]))
case("dse-plot-is-the-output", "same file")(
    lambda c: _dse(c, "-o", c.dir / "x.png", "--plot", c.dir / "x.png"))

# -- quantize / export-onnx ----------------------------------------------------------------------

case("quantize-output-is-the-cfg", "also an input")(
    lambda c: ["quantize", "--cfg", c.assets["cfg"], "--calib", c.assets["picture"], "-o", c.assets["cfg"]])
case("quantize-output-is-a-calibration-image", "also an input")(
    lambda c: ["quantize", "--cfg", c.assets["cfg"], "--calib", c.assets["picture"], "-o", c.assets["picture"]])
case("quantize-output-is-a-directory", "is a directory")(
    lambda c: ["quantize", "--cfg", c.assets["cfg"], "-o", c.dir])
case("quantize-calibration-image-not-an-image", "not an image")(
    lambda c: ["quantize", "--cfg", c.assets["cfg"], "--calib", c.file("x.jpg", "text"), "-o", c.dir / "q.npz"])
case("export-onnx-output-is-the-cfg", "also an input")(
    lambda c: ["export-onnx", "--cfg", c.assets["cfg"], "--weights", c.file("w.weights", b""), "-o", c.assets["cfg"]])

# -- demo, fetch, ZYNQYOLO_HOME ------------------------------------------------------------------

case("demo-output-onto-an-existing-file", "exists and is not a directory")(
    lambda c: ["demo", "-o", c.file("out", b"a file, not a folder")])
case("demo-unknown-board", "foo")(lambda c: ["demo", "--board", "foo", "-o", c.dir / "out"])
case("fetch-unknown-group", "unknown fetch group")(lambda c: ["fetch", "weights-of-another-network"])


@case("home-is-a-file", "not a directory", "ZYNQYOLO_HOME")
def _(c):
    os.environ["ZYNQYOLO_HOME"] = str(c.file("home", b"not a folder"))
    return ["fetch", "model"]


@case("home-is-a-file-through-detect", "not a directory", "ZYNQYOLO_HOME")
def _(c):
    os.environ["ZYNQYOLO_HOME"] = str(c.file("home", b"not a folder"))
    return ["detect", c.assets["picture"], "--backend", "cpu"]


# -- build --dry-run into a folder that holds the user's files -----------------------------------


def _build(c: Case, *extra) -> list:
    return ["build", "--design", c.assets["design"], "--board", "zedboard", "--dry-run", "--out", c.dir / "bs", *extra]


def _built_folder(c: Case) -> Path:
    """A bitstream folder as a previous dry run left it (made here, outside the case's check)."""
    assert main([str(a) for a in _build(c)]) == 0
    return c.dir / "bs" / "zedboard" / HwConfig().name


@case("build-dry-run-over-a-users-file", "did not write", "notes.txt", "--force")
def _(c):
    folder = _built_folder(c)
    (folder / "notes.txt").write_text("my measurements")
    return _build(c)


@case("build-dry-run-over-a-hand-copied-bitstream", "did not write", ".bit", "--force")
def _(c):
    folder = _built_folder(c)
    (folder / f"{HwConfig().name}.bit").write_bytes(b"a bitstream built elsewhere")
    (folder / f"{HwConfig().name}.hwh").write_bytes(b"<hwh/>")
    return _build(c)


@case("build-dry-run-over-an-edited-script", "changed since", "build_bitstream.tcl")
def _(c):
    folder = _built_folder(c)
    with open(folder / "build_bitstream.tcl", "a") as fh:
        fh.write("# my edit\n")
    return _build(c)


NEEDS_TCLSH = {"build-dry-run-over-a-users-file", "build-dry-run-over-a-hand-copied-bitstream",
               "build-dry-run-over-an-edited-script"}


@pytest.fixture
def bare_path(tmp_path, monkeypatch):
    """PATH with tclsh only (no Xilinx tools, no g++: the build writes no csim-computed vectors)."""
    from zynqyolo.hls import tclcheck

    if tclcheck.tclsh() is None:
        pytest.skip("tclsh not on PATH (apt-get install tcl): build --dry-run checks its Tcl with it")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tclsh").symlink_to(tclcheck.tclsh())
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_one_line_exit_2_nothing_left(name, assets, tmp_path, capsys, monkeypatch, request):
    """See the module docstring; the case's folder is snapshot after its inputs are made."""
    build, words = CASES[name]
    if name in NEEDS_TCLSH:
        request.getfixturevalue("bare_path")
    monkeypatch.setenv("ZYNQYOLO_HOME", os.environ.get("ZYNQYOLO_HOME", str(Path.home() / ".cache" / "zynqyolo")))
    c = Case(tmp_path / "case", assets)
    c.dir.mkdir()
    argv = build(c)
    capsys.readouterr()
    before, assets_before = snapshot(tmp_path), snapshot(assets["root"])
    status, out, err = run(argv, capsys)
    expect_one_error(status, err, argv[0], words)
    assert snapshot(tmp_path) == before  # nothing written, nothing changed, no temporary file
    assert snapshot(assets["root"]) == assets_before


# ------------------------------------------------------------------------------------------------
# Read-only destinations (made read-only for root too)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["detect", "detect-several", "quantize", "dse", "demo", "export-onnx", "hls",
                                     "build"])
def test_read_only_destination(command, assets, tmp_path, capsys, read_only, request):
    if command in ("hls", "build"):
        request.getfixturevalue("bare_path")
    ro = read_only(tmp_path / "ro")
    argv = {
        "detect": _detect(Case(tmp_path, assets), "-o", ro / "out.png"),
        "detect-several": ["detect", assets["picture"], assets["picture"], "--backend", "ref", "--model",
                           assets["model"], "-o", ro / "pics"],
        "quantize": ["quantize", "--cfg", assets["cfg"], "--calib", assets["picture"], "-o", ro / "q.npz"],
        "dse": ["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--cfg", assets["cfg"], "-o",
                tmp_path / "design.json", "--plot", ro / "plot.png"],
        "demo": ["demo", "-o", ro / "out"],
        "export-onnx": ["export-onnx", "-o", ro / "m.onnx"],
        "hls": ["hls", "--design", assets["design"], "--dry-run", "--out", ro / "prj"],
        "build": ["build", "--design", assets["design"], "--board", "zedboard", "--dry-run", "--out", ro / "bs"],
    }[command]
    before = snapshot(tmp_path)
    status, out, err = run(argv, capsys)
    expect_one_error(status, err, argv[0], ("cannot write into",))
    assert snapshot(tmp_path) == before


def test_read_only_home_empty_is_one_line(tmp_path, capsys, monkeypatch, read_only):
    monkeypatch.setenv("ZYNQYOLO_HOME", str(read_only(tmp_path / "home")))
    status, out, err = run(["fetch", "model"], capsys)
    expect_one_error(status, err, "fetch", ("cannot write into", "ZYNQYOLO_HOME"))
    assert not any((tmp_path / "home").iterdir())


def test_read_only_home_with_a_complete_cache_works(tmp_path, capsys, monkeypatch, read_only, model_files):
    """A read-only cache that holds everything is fine: nothing needs writing."""
    home = tmp_path / "home"
    home.mkdir()
    for path in model_files:
        shutil.copy(path, home / path.name)
    monkeypatch.setenv("ZYNQYOLO_HOME", str(read_only(home)))
    status, out, err = run(["fetch", "model"], capsys)
    assert status == 0, err
    assert "3 files verified" in out


# ------------------------------------------------------------------------------------------------
# What a user expects where an error would be wrong
# ------------------------------------------------------------------------------------------------


def test_two_inputs_with_one_name_get_two_outputs(assets, tmp_path, capsys):
    """a/x.png and b/x.png into one -o folder: two pictures, neither overwritten; and an input that
    already has the name an output would take keeps it."""
    from PIL import Image

    a, b = tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"
    for path, size in ((a, (160, 120)), (b, (90, 120))):
        path.parent.mkdir()
        with Image.open(assets["picture"]) as im:
            im.resize(size).save(path)
    out = tmp_path / "pics"
    out.mkdir()
    taken = out / "y_det.png"  # an input whose name is the output another input would get
    shutil.copy(assets["picture"], taken)
    y = tmp_path / "y.png"
    shutil.copy(assets["picture"], y)
    before = taken.read_bytes()
    status, stdout, err = run(["detect", a, b, y, taken, "--backend", "ref", "--model", assets["model"], "-o", out,
                               "--json"], capsys)
    assert status == 0, err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["x_det-2.png", "x_det.png", "y_det-2.png", "y_det.png", "y_det_det.png"]
    assert taken.read_bytes() == before  # the input was not drawn over
    sizes = {}
    for name in ("x_det.png", "x_det-2.png"):
        with Image.open(out / name) as im:
            sizes[name] = im.size
    assert sizes == {"x_det.png": (160, 120), "x_det-2.png": (90, 120)}  # each input's own picture
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(a), str(b), str(y), str(taken)]


def test_distinct_names_never_collide():
    from zynqyolo.outputs import distinct_names

    names = distinct_names("o", ["x", "x", "x-2", "X", "y"], ".png", inputs=["o/y.png"])
    assert len({str(n).lower() for n in names}) == 5
    assert names[0] == Path("o/x.png") and names[2] == Path("o/x-2.png")  # a stem's own name goes to it first
    assert Path("o/y.png") not in names


def test_eight_bit_model_runs_through_the_driver(model_files, photos, tmp_path, capsys, require_csim):
    """``detect --backend emu --model <8-bit>``: the case that failed on yolo_shift's read-back;
    its detections equal the integer reference's."""
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.quantize import calibrate, save_model

    net = load_cfg(model_files[0], width=128, height=128)
    model = save_model(calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=8),
                       tmp_path / "yolo8.npz")
    design = HwConfig(p_oc=16, p_ic=8, tile_pixels=256, bits=8).save(tmp_path / "d8.json")  # test_driver's point
    results = {}
    for backend in ("emu", "ref"):
        status, out, err = run(["detect", photos["bus"], "--backend", backend, "--model", model, "--design", design,
                                "--json", "--conf", "0.1"], capsys)
        assert status == 0, err
        results[backend] = json.loads(out)["detections"]
    assert results["emu"] == results["ref"] and results["emu"]


def test_interrupt_while_plotting_leaves_neither_design_nor_plot(assets, tmp_path, capsys, monkeypatch):
    from zynqyolo.dse import plots

    def interrupted(view, fh, fmt="png"):
        fh.write(b"half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "write_exploration", interrupted)
    status, out, err = run(["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--arch", "yu2020",
                            "--cfg", assets["cfg"], "-o", tmp_path / "design.json", "--plot", tmp_path / "ds.png"],
                           capsys)
    assert status == 130 and err.strip().splitlines()[-1] == "zynqyolo dse: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_dse_writes_design_and_plot_together(assets, tmp_path, capsys):
    status, out, err = run(["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--arch", "yu2020",
                            "--cfg", assets["cfg"], "-o", tmp_path / "design.json", "--plot", tmp_path / "ds.svg"],
                           capsys)
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json", "ds.svg"]
    assert (tmp_path / "ds.svg").read_text().lstrip().startswith("<?xml")


def test_sigterm_while_writing_the_model_leaves_nothing(assets, tmp_path, capsys, monkeypatch):
    """A real SIGTERM, delivered while quantize writes its .npz: the handler the CLI installs turns
    it into a clean exit (143) that removes the temporary file; nothing appears."""
    real_savez = np.savez

    def savez_then_sigterm(fh, **arrays):
        fh.write(b"PK\x03\x04 the first bytes")
        os.kill(os.getpid(), signal.SIGTERM)
        real_savez(fh, **arrays)  # not reached: the handler raises first

    monkeypatch.setattr(np, "savez", savez_then_sigterm)
    previous = signal.getsignal(signal.SIGTERM)
    status, out, err = run(["quantize", "--cfg", assets["cfg"], "--calib", assets["picture"], "-o",
                            tmp_path / "q.npz"], capsys)
    assert status == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1].startswith("zynqyolo quantize: terminated (SIGTERM)")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no q.npz, no .q.npz.*.part
    assert signal.getsignal(signal.SIGTERM) == previous  # the CLI put the previous handler back


def test_sigterm_to_the_process_leaves_nothing(assets, tmp_path):
    """The same from outside: ``kill -TERM`` on a ``zynqyolo quantize`` process while its .part file
    exists (the write is held open by a stand-in savez that waits)."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time, numpy as np\n"
        "def slow(fh, **arrays):\n"
        "    fh.write(b'PK\\x03\\x04'); fh.flush(); time.sleep(60)\n"
        "np.savez = slow\n"
        "from zynqyolo.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), "quantize", "--cfg", str(assets["cfg"]), "--calib",
                             str(assets["picture"]), "-o", str(out / "q.npz")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import time

        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".part") for p in out.iterdir()):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "quantize never started writing"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "terminated (SIGTERM)" in err.strip().splitlines()[-1]
    assert list(out.iterdir()) == []


def test_build_dry_run_with_force_replaces_the_users_files(assets, tmp_path, capsys, bare_path):
    c = Case(tmp_path, assets)
    folder = _built_folder(c)
    (folder / "notes.txt").write_text("mine")
    status, out, err = run(_build(c, "--force"), capsys)
    assert status == 0, err
    assert not (folder / "notes.txt").exists() and (folder / "manifest.json").is_file()
    status, out, err = run(_build(c), capsys)  # the folder it made itself is replaced without --force
    assert status == 0, err
