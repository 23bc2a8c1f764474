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


def test_pynq_notebook_falls_back_to_the_emulator():
    text, images = _run("yolov3_tiny_pynq.ipynb")
    assert "using the emulated board" in text
    assert "bus " in text and text.count("person") >= 3  # the detections printed
    assert "(modelled)" in text and images >= 1


def test_design_space_notebook():
    text, images = _run("design_space.ipynb")
    assert "modelled" in text and images >= 1
