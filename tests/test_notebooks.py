"""Both notebooks run headless (nbclient) on this machine: the PYNQ one on the emulated board."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
pytestmark = [pytest.mark.csim, pytest.mark.usefixtures("require_csim")]


def _run(name: str) -> list[str]:
    nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat")
    nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient and ipykernel")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{name}: {out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream":
                texts.append(out.text)
            images += "image/png" in out.get("data", {})
    return ["".join(texts), images]


def _zynqyolo_imports(name: str) -> set[str]:
    """The names a notebook imports from zynqyolo (``from zynqyolo.x import a, b`` counts a and b)."""
    import re

    nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"\s*from (zynqyolo[\w.]*) import (.+)", line)
            if m:
                names |= {f"{m.group(1)}.{n.strip()}" for n in m.group(2).split(",")}
            elif re.match(r"\s*import zynqyolo", line):
                names.add(line.strip())
    return names


@pytest.mark.parametrize("name", ["yolov3_tiny_pynq.ipynb", "design_space.ipynb"])
def test_notebooks_need_at_most_three_zynqyolo_imports(name):
    names = _zynqyolo_imports(name)
    assert 1 <= len(names) <= 3, names


def test_pynq_notebook_falls_back_to_the_emulator(model_files):
    """Off the board the notebook runs the Detector on the emulated board: its detections are the
    integer reference's, computed here without it; every comparison row is labelled."""
    from zynqyolo.fetch import photo
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.postprocess import decode, load_names
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.workflow import default_model

    assert "zynqyolo.Detector" in _zynqyolo_imports("yolov3_tiny_pynq.ipynb")
    text, images = _run("yolov3_tiny_pynq.ipynb")
    assert "using the emulated board" in text
    model = default_model(16)
    image = load_image(photo("bus"))
    outs = IntegerReference(model).forward(letterbox(image, 416, 416))
    expected = decode(outs, model.network, image.shape[1::-1], names=load_names(model_files[2]))
    assert len(expected) >= 3
    for d in expected:
        assert f"{d.class_name:<10} {d.score:.2f}  {[round(v) for v in d.box]}" in text, d
    assert "frame 0:" in text and "frame 1:" in text and "fps pipelined" in text
    rows = [line for line in text.splitlines() if " ms  (" in line]
    assert len(rows) >= 7 and all(line.rstrip().endswith(")") for line in rows)
    assert any("modelled" in r and "end-to-end" in r for r in rows)
    assert all("this machine" in r for r in rows if "CPU only" in r)
    assert images >= 1


def test_design_space_notebook():
    text, images = _run("design_space.ipynb")
    assert "modelled" in text and images >= 1
