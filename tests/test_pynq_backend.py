"""The pynq backend, driven through a fake ``pynq`` module whose ``MMIO`` mappings are the emulated
board's register spaces (the accelerator's ``MMIO.array`` a real array in front of the emulated IP):
it issues exactly the sequence the emulated board records for the plan (the DMAs through
``pynq.MMIO``, never PYNQ's DMA driver; each call's registers as one numpy store into the mapped
array and one load from it), gives the same bit-exact frame, recovers from a fault, and refuses a
bitstream built for another design point or model or with its DMAs in simple mode."""

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
from zynqyolo.host import sgdma
from zynqyolo.dse.mmio import frame_mmio_accesses
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


DMA_ADDRESSES = {"dma0": 0x4040_0000, "dma1": 0x4041_0000}
GPIO_ADDRESS = 0x4120_0000  # the reset path's AXI GPIO
ACCEL_ADDRESS = 0x43C0_0000  # the accelerator's s_axi_control
ACCEL_RANGE = 0x10000


def _mapped_registers(accel, nbytes: int, stores: list):
    """``pynq.MMIO.array`` of the accelerator: a real uint32 array of the mapped range (what the host
    stores lands in it), whose store into or load from an array of word indices is also carried to
    the emulated IP behind it as one block access (one log entry), as the bus would carry it. Each such
    store is recorded in ``stores`` as (word indices, the words now in the array at them)."""

    class MappedRegisters(np.ndarray):
        def __setitem__(self, index, value):
            super().__setitem__(index, value)
            index = np.asarray(index)
            assert index.dtype.kind in "iu" and index.ndim == 1, f"expected a store by word indices, got {index!r}"
            landed = np.asarray(self)[index].copy()
            stores.append((index.copy(), landed))
            accel.write_registers([int(i) * 4 for i in index], [int(w) for w in landed])

        def __getitem__(self, index):
            if isinstance(index, np.ndarray) and index.dtype.kind in "iu":
                return np.array(accel.read_registers([int(i) * 4 for i in index]), dtype=np.uint32)
            return super().__getitem__(index)

    return np.zeros(nbytes // 4, dtype=np.uint32).view(MappedRegisters)


def _fake_pynq(board, loaded: list, mapped: list | None = None, stores: list | None = None):
    """A stand-in for the pynq package: ``MMIO`` maps the emulated DMAs', reset GPIO's and
    accelerator's register spaces by physical address (the accelerator's ``array`` as
    ``_mapped_registers``); the overlay's ``accel`` is the ``DefaultIP`` driver registered for its
    VLNV, on an ``MMIO`` of its address range, as PYNQ binds it; touching ``overlay.dma0``/``dma1``
    (which would instantiate PYNQ's own DMA driver) fails."""
    from zynqyolo.hls.tcl import ip_vlnv

    fake = types.ModuleType("pynq")
    mapped = [] if mapped is None else mapped
    stores = [] if stores is None else stores
    vlnv = ip_vlnv(board.config)

    class MMIO:
        def __init__(self, base_addr, length=4):
            mapped.append((base_addr, length))
            self._regs = {**{DMA_ADDRESSES[n]: getattr(board, n) for n in DMA_ADDRESSES},
                          GPIO_ADDRESS: board.reset_gpio, ACCEL_ADDRESS: board.accel}[base_addr]
            self.length = length
            if base_addr == ACCEL_ADDRESS:
                self.array = _mapped_registers(board.accel, length, stores)

        def read(self, offset=0, length=4):
            assert 0 <= offset < self.length and length == 4
            return self._regs.read(offset)

        def write(self, offset, value):
            assert 0 <= offset < self.length
            self._regs.write(offset, value)

    class DefaultIP:
        bindto: list = []
        registered: list = []
        drivers: dict = {}

        def __init_subclass__(cls, **kw):
            super().__init_subclass__(**kw)
            DefaultIP.registered.extend(cls.bindto)
            DefaultIP.drivers.update({v: cls for v in cls.bindto})

        def __init__(self, description):
            self.description = description
            self.mmio = MMIO(description["phys_addr"], description["addr_range"])

        def read(self, offset=0):
            return self.mmio.read(offset)

        def write(self, offset, value):
            self.mmio.write(offset, value)

    class Overlay:
        def __init__(self, bitfile):
            loaded.append(bitfile)
            self.bitfile = bitfile
            self.ip_dict = {name: {"phys_addr": address, "addr_range": 0x10000, "type": "xilinx.com:ip:axi_dma:7.1"}
                            for name, address in DMA_ADDRESSES.items()}
            self.ip_dict["accel"] = {"phys_addr": ACCEL_ADDRESS, "addr_range": ACCEL_RANGE, "type": vlnv}
            self.ip_dict["reset_gpio"] = {"phys_addr": GPIO_ADDRESS, "addr_range": 0x10000,
                                          "type": "xilinx.com:ip:axi_gpio:2.0"}
            self.accel = DefaultIP.drivers.get(vlnv, DefaultIP)(self.ip_dict["accel"])

        def download(self):  # reprogramming the PL resets everything in it
            loaded.append(self.bitfile)
            board.hardware_reset()

        def __getattr__(self, name):
            if name in DMA_ADDRESSES:
                raise AssertionError(f"overlay.{name} would bind PYNQ's DMA driver to a scatter-gather DMA")
            raise AttributeError(name)

    class Clocks:  # pynq.ps.Clocks: FCLK0 as PYNQ's Overlay download left it (from the .hwh)
        fclk0_mhz = board.config.clock_mhz

    fake.ps = types.SimpleNamespace(Clocks=Clocks)
    fake.DefaultIP = DefaultIP
    fake.MMIO = MMIO
    fake.Overlay = Overlay
    fake.allocate = lambda shape, dtype, cacheable=True: board.allocate(shape[0], cacheable)
    return fake


def _as_emulated(log: list, pynq_board) -> list:
    """The PYNQ board's log with its barrier (the flush of its one-line barrier buffer) written as the
    emulated board records one."""
    line = pynq_board._barrier_buffer
    return [("barrier",) if line is not None and e == ("flush", line.physical_address, line.nbytes) else e
            for e in log]


def test_pynq_backend_issues_the_emulated_sequence(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard
    from zynqyolo.model.intref import IntegerReference

    model, config, design, qpath, root, x = small
    plan = make_plan(model.network, model.hardware_formats(), config)
    folder, manifest = _built_bitstream(small, tmp_path, capsys)

    emu = EmulatedBoard(config)
    emu_driver = Driver(emu, plan, model)
    emu_out = emu_driver.forward(x)

    board_behind = EmulatedBoard(config)
    loaded: list = []
    mapped: list = []
    fake = _fake_pynq(board_behind, loaded, mapped)
    monkeypatch.setitem(sys.modules, "pynq", fake)
    fake.ps.Clocks.fclk0_mhz = 50.0  # a stale FCLK0: the board sets the design's clock
    pynq_board = PynqBoard(folder, plan, model.content_hash)
    assert fake.ps.Clocks.fclk0_mhz == config.clock_mhz == manifest["clock_mhz"]
    pynq_driver = Driver(pynq_board, plan, model)
    pynq_out = pynq_driver.forward(x)

    assert loaded == [str(folder / f"{config.name}.bit")]
    assert manifest["ip"]["vlnv"] in fake.DefaultIP.registered  # bound with bindto on the IP's VLNV
    assert manifest["dma"]["mode"] == "sg" and pynq_board.dma_length_bits == manifest["dma"]["buffer_length_width"]
    # the DMAs, the reset GPIO and (by DefaultIP) the accelerator via pynq.MMIO, from ip_dict
    assert sorted(mapped) == sorted((a, 0x10000) for a in (*DMA_ADDRESSES.values(), GPIO_ADDRESS, ACCEL_ADDRESS))
    assert type(pynq_board.accel).__name__ == "YoloAccel"
    # same MMIO accesses, descriptor executions, flushes and invalidates; the barrier is a real flush
    assert ("barrier",) in emu.log and ("barrier",) not in board_behind.log
    assert _as_emulated(board_behind.log, pynq_board) == emu.log
    assert sum(1 for e in emu.log if e[0] in ("accel", "dma0", "dma1")) == frame_mmio_accesses(plan, steady=False)
    assert [e for e in emu.log if e[0] == "dma0.s2mm"] == [
        ("dma0.s2mm", emu_driver.buffers[c.out_transfer.buffer].physical_address + c.out_transfer.offset,
         c.out_transfer.nbytes) for c in plan.calls]
    want = IntegerReference(model).forward(x)
    for a, b, c in zip(pynq_out, emu_out, want):
        assert np.array_equal(a, b) and np.array_equal(a, c)

    # after a fault the PYNQ board soft-resets both DMAs through their registers, then pulses the reset
    # GPIO the manifest names (the IP and both DMAs); the next frame restarts the rings and runs
    board_behind.faults.register_corrupt["width"] = 2
    board_behind.log.clear()
    pynq_driver._shadow.clear()
    with pytest.raises(ZynqyoloError, match="register width reads back"):
        pynq_driver.forward(x)
    board_behind.faults.register_corrupt.clear()
    resets = [e for e in board_behind.log if e[1] == "write" and e[0] != "accel"
              and (e[0] == "reset_gpio" or e[3] == sgdma.DMACR_RESET)]
    assert resets == [("dma0", "write", 0, sgdma.DMACR_RESET), ("dma1", "write", 0, sgdma.DMACR_RESET),
                      ("reset_gpio", "write", 0, 1), ("reset_gpio", "write", 0, 0)]
    for a, c in zip(pynq_driver.forward(x), want):
        assert np.array_equal(a, c)

    # a DMA fault in the middle of a call wedges the IP; the GPIO pulse brings it back
    board_behind.faults.dma_error["dma0.s2mm"] = 1
    with pytest.raises(ZynqyoloError, match="DMASlvErr"):
        pynq_driver.forward(x)
    assert board_behind.wedged is None  # reset by the driver, through the GPIO
    for a, c in zip(pynq_driver.forward(x), want):
        assert np.array_equal(a, c)


def test_pynq_register_blocks_land_in_the_mapped_array(small, tmp_path, capsys, monkeypatch):
    """Each call's changed registers are one numpy store into ``mmio.array``: exactly their encoded
    words at offset // 4 (computed here from ``encode_register`` and ``register_offsets``), in the
    plan's order; a bad offset is refused before anything is stored."""
    from zynqyolo.dse.registers import encode_register
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard

    model, config, design, qpath, root, x = small
    plan = make_plan(model.network, model.hardware_formats(), config)
    folder, _ = _built_bitstream(small, tmp_path, capsys)
    behind, stores = EmulatedBoard(config), []
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq(behind, [], stores=stores))
    board = PynqBoard(folder, plan, model.content_hash)
    driver = Driver(board, plan, model)
    offsets = config.register_offsets()

    def expected(held):
        out = []
        for call in plan.calls:
            changed = [(name, value) for name, value in call.registers if held.get(name) != value]
            held.update(changed)
            if changed:
                out.append(([offsets[name] // 4 for name, _ in changed],
                            [encode_register(config, name, value) for name, value in changed]))
        return out

    driver.forward(x)  # the first frame: every register of call 0, then those that change
    first = [(list(map(int, i)), list(map(int, w))) for i, w in stores]
    assert first == expected({})
    assert sum(len(i) for i, _ in first) > len(plan.calls)  # blocks of several registers
    held = dict(plan.calls[-1].registers)
    array = np.asarray(board.accel.mmio.array)
    for name, value in held.items():  # the array holds the last word stored at each register
        assert array[offsets[name] // 4] == encode_register(config, name, value), name
    assert not array[0] and not array[1:4].any()  # ap_ctrl and the words below the arguments: untouched
    stores.clear()
    driver.forward(x)  # a steady frame: only what differs from what the IP holds
    assert [(list(map(int, i)), list(map(int, w))) for i, w in stores] == expected(held)

    stores.clear()
    before = array.copy()
    for bad, message in ((offsets["height"] + 2, "4-byte aligned"), (ACCEL_RANGE, "within the accelerator's mapped"),
                         (-8, "4-byte aligned"), (16.0, "not an integer")):
        with pytest.raises(ValueError, match=message):
            board.accel.write_registers([offsets["width"], bad], [1, 2])
        with pytest.raises(ValueError, match=message):
            board.accel.read_registers([bad])
    with pytest.raises(ValueError, match="not a 32-bit word"):
        board.accel.write_registers([offsets["width"]], [-1])
    with pytest.raises(ValueError, match="2 offsets but 1 words"):
        board.accel.write_registers([offsets["width"], offsets["height"]], [1])
    assert not stores and np.array_equal(array, before)  # nothing was stored
    assert board.accel.read_registers([offsets["height"], offsets["width"]]) == [
        behind.accel.regs["height"], behind.accel.regs["width"]]


def test_pynq_bitstream_without_reset_path_is_reset_by_reloading(small, tmp_path, capsys, monkeypatch):
    """A bitstream built before the reset path existed (no "reset" in its manifest): after a fault
    mid-call the board reloads the bitstream, the only other way to unwedge the IP."""
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard
    from zynqyolo.model.intref import IntegerReference

    model, config, design, qpath, root, x = small
    folder, manifest = _built_bitstream(small, tmp_path, capsys)
    del manifest["reset"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    behind = EmulatedBoard(config)
    loaded: list = []
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq(behind, loaded))
    plan = make_plan(model.network, model.hardware_formats(), config)
    board = PynqBoard(folder, plan, model.content_hash)
    assert board.reset_gpio is None
    driver = Driver(board, plan, model, timeout_s=0.2)
    behind.faults.dma_error["dma1.mm2s"] = 3
    with pytest.raises(ZynqyoloError, match="DMASlvErr"):
        driver.forward(x)
    assert len(loaded) == 2 and behind.wedged is None  # loaded, then reloaded as the reset
    for a, c in zip(driver.forward(x), IntegerReference(model).forward(x)):
        assert np.array_equal(a, c)


def test_pynq_backend_refuses_another_design_or_model(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.host.pynq_board import PynqBoard

    model, config, design, qpath, root, x = small
    folder, _ = _built_bitstream(small, tmp_path, capsys)
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq(EmulatedBoard(config), []))
    other = HwConfig(p_oc=16, p_ic=4, tile_pixels=256)
    with pytest.raises(ZynqyoloError, match="design point differs.*p_ic"):
        PynqBoard(folder, make_plan(model.network, model.hardware_formats(), other), model.content_hash)
    with pytest.raises(ZynqyoloError, match="quantised model differs"):
        PynqBoard(folder, make_plan(model.network, model.hardware_formats(), config), "0" * 64)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["dma"]["mode"]  # a bitstream with its DMAs in simple mode, from an older zynqyolo
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ZynqyoloError, match="simple .* mode .* scatter-gather"):
        PynqBoard(folder, make_plan(model.network, model.hardware_formats(), config), model.content_hash)
    (folder / f"{config.name}.bit").write_bytes(b"tampered")
    with pytest.raises(ZynqyoloError, match="sha256"):
        PynqBoard(folder, make_plan(model.network, model.hardware_formats(), config), model.content_hash)


def test_pynq_missing_is_a_clear_error(small, tmp_path, capsys, monkeypatch):
    from zynqyolo.host.pynq_board import PynqBoard

    model, config, *_ = small
    folder, _ = _built_bitstream(small, tmp_path, capsys)
    monkeypatch.setitem(sys.modules, "pynq", None)  # import pynq raises ImportError
    with pytest.raises(ZynqyoloError, match="pynq package"):
        PynqBoard(folder, make_plan(model.network, model.hardware_formats(), config), model.content_hash)
