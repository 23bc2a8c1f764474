"""The pynq backend, driven through a fake ``pynq`` module whose overlay objects are the emulated
board's: it issues exactly the sequence the emulated board records for the plan, gives the same
bit-exact frame, and refuses a bitstream built for another design point or model."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from zynqyolo.cli import main
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.plan import make_plan
from zynqyolo.errors import ZynqyoloError
from zynqyolo.fetch import sha256_file
from zynqyolo.host.driver import Driver
from zynqyolo.model import load_cfg

pytestmark = [pytest.mark.csim, pytest.mark.usefixtures("require_csim")]
SIZE = 128


@pytest.fixture(scope="module")
def small(model_files, photos, tmp_path_factory):
    from zynqyolo.model import load_weights
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate, save_model

    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16)
    root = tmp_path_factory.mktemp("pynq")
    config = HwConfig(p_oc=16, p_ic=8, tile_pixels=256)
    design = config.save(root / "design.json")
    qpath = save_model(model, root / "model.npz")
    x = letterbox(load_image(photos["zidane"]), SIZE, SIZE)
    return model, config, design, qpath, root, x


def _built_bitstream(small, tmp_path, capsys):
    """A bitstream folder as 'zynqyolo build' leaves it, with stand-in .bit/.hwh (no Vivado here)."""
    model, config, design, qpath, root, x = small
    assert main(["build", "--design", str(design), "--board", "zedboard", "--model", str(qpath), "--dry-run",
                 "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    [folder] = [p.parent for p in tmp_path.rglob("manifest.json")]
    manifest = json.loads((folder / "manifest.json").read_text())
    for kind in ("bit", "hwh"):
        (folder / f"{config.name}.{kind}").write_bytes(f"stand-in {kind}".encode())
        manifest["files"][f"{config.name}.{kind}"] = sha256_file(folder / f"{config.name}.{kind}")
    manifest["bitstream"] = {"bit": f"{config.name}.bit", "hwh": f"{config.name}.hwh"}
    manifest["built"] = True
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder, manifest


def _fake_pynq(board, loaded: list):
    """A stand-in for the pynq package: Overlay's blocks are the emulated board's objects."""
    fake = types.ModuleType("pynq")

    class DefaultIP:
        bindto: list = []
        registered: list = []

        def __init_subclass__(cls, **kw):
            super().__init_subclass__(**kw)
            DefaultIP.registered.extend(cls.bindto)

        def __init__(self, description):
            self.description = description

    class Overlay:
        def __init__(self, bitfile):
            loaded.append(bitfile)
            self.dma0, self.dma1, self.accel = board.dma0, board.dma1, board.accel

    fake.DefaultIP = DefaultIP
    fake.Overlay = Overlay
    fake.allocate = lambda shape, dtype, cacheable=True: board.allocate(shape[0], cacheable)
    return fake


def test_pynq_backend_issues_the_emulated_sequence(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard
    from zynqyolo.model.intref import IntegerReference

    model, config, design, qpath, root, x = small
    plan = make_plan(model.network, model, config)
    folder, manifest = _built_bitstream(small, tmp_path, capsys)

    emu = EmulatedBoard(config)
    emu_driver = Driver(emu, plan, model)
    emu_out = emu_driver.forward(x)

    board_behind = EmulatedBoard(config)
    loaded: list = []
    fake = _fake_pynq(board_behind, loaded)
    monkeypatch.setitem(sys.modules, "pynq", fake)
    pynq_board = PynqBoard(folder, plan, model.content_hash)
    pynq_driver = Driver(pynq_board, plan, model)
    pynq_out = pynq_driver.forward(x)

    assert loaded == [str(folder / f"{config.name}.bit")]
    assert manifest["ip"]["vlnv"] in fake.DefaultIP.registered  # bound with bindto on the IP's VLNV
    assert board_behind.log == emu.log  # same register writes, DMA transfers, flushes and invalidates
    want = IntegerReference(model).forward(x)
    for a, b, c in zip(pynq_out, emu_out, want):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_pynq_backend_refuses_another_design_or_model(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard

    model, config, design, qpath, root, x = small
    folder, _ = _built_bitstream(small, tmp_path, capsys)
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq(EmulatedBoard(config), []))
    other = HwConfig(p_oc=16, p_ic=4, tile_pixels=256)
    with pytest.raises(ZynqyoloError, match="design point differs.*p_ic"):
        PynqBoard(folder, make_plan(model.network, model, other), model.content_hash)
    with pytest.raises(ZynqyoloError, match="quantised model differs"):
        PynqBoard(folder, make_plan(model.network, model, config), "0" * 64)
    (folder / f"{config.name}.bit").write_bytes(b"tampered")
    with pytest.raises(ZynqyoloError, match="sha256"):
        PynqBoard(folder, make_plan(model.network, model, config), model.content_hash)


def test_pynq_missing_is_a_clear_error(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.pynq_board import PynqBoard

    model, config, *_ = small
    folder, _ = _built_bitstream(small, tmp_path, capsys)
    monkeypatch.setitem(sys.modules, "pynq", None)  # import pynq raises ImportError
    with pytest.raises(ZynqyoloError, match="pynq package"):
        PynqBoard(folder, make_plan(model.network, model, config), model.content_hash)
