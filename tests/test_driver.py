"""The host driver on the emulated board: bit-exact frames, the plan's exact register/DMA
sequence, and recovery from injected faults."""

from __future__ import annotations

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.plan import make_plan
from zynqyolo.host.driver import AcceleratorError, Driver
from zynqyolo.model import load_cfg

pytestmark = pytest.mark.csim

SIZE = 128  # reduced input: the plan, the kernels and the driver are size-generic


@pytest.fixture(scope="module")
def setup(model_files, photos, require_csim):
    from zynqyolo.hls.csim import CsimAccelerator
    from zynqyolo.model import load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=16)
    config = HwConfig(p_oc=16, p_ic=8, tile_pixels=256)
    xs = [letterbox(load_image(photos[n]), SIZE, SIZE) for n in ("zidane", "bus", "astronaut")]
    return net, model, config, make_plan(net, model, config), IntegerReference(model), xs, CsimAccelerator(config)


def _driver(setup, **kw):
    from zynqyolo.host.emu import EmulatedBoard

    net, model, config, plan, ref, xs, accel = setup
    board = EmulatedBoard(config, accel=accel)
    return board, Driver(board, plan, model, **kw)


def test_frames_equal_integer_reference(setup):
    *_, ref, xs, _ = setup
    board, driver = _driver(setup)
    for x in xs:  # also shows the buffers are reused frame after frame
        for got, want in zip(driver.forward(x), ref.forward(x)):
            assert np.array_equal(got, want)
    assert board.accel.calls == 3 * len(driver.plan.calls)


def test_recorded_sequence_is_the_plan(setup):
    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)
    address = {name: buf.physical_address for name, buf in driver.buffers.items()}
    driver.forward(xs[0])  # a frame's register writes leave the registers of its last call behind
    board.log.clear()
    driver._shadow.clear()  # as for a fresh driver: every register of the first call is written
    driver.forward(xs[0])
    offsets = config.register_offsets()
    channel = {"fmap_in": "dma0.mm2s", "params": "dma1.mm2s", "fmap_out": "dma0.s2mm"}
    expected = [("flush", address["input"], driver.buffers["input"].nbytes)]
    held: dict = {}  # the IP keeps register values between calls; only changes are written
    for call in plan.calls:
        expected += [("write", offsets[name], value & 0xFFFFFFFF) for name, value in call.registers
                     if held.get(name) != value]
        held.update(call.registers)
        for t in call.param_transfers + (call.out_transfer,):
            expected.append((channel[t.channel], address[t.buffer] + t.offset, t.nbytes))
        expected.append(("write", 0, 1))
        for t in call.in_transfers:
            expected.append((channel[t.channel], address[t.buffer] + t.offset, t.nbytes))
            if t.buffer == "input":  # PYNQ's send channel flushes a cacheable source on each transfer
                expected.append(("flush", address["input"], driver.buffers["input"].nbytes))
    expected.append(("invalidate", address["output"], driver.buffers["output"].nbytes))
    assert board.log == expected
    # only the buffers the CPU touches cross the cache
    assert {e[1] for e in board.log if e[0] in ("flush", "invalidate")} == {address["input"], address["output"]}


@pytest.mark.parametrize("fault, key, message", [
    ("dma_error", "dma0.mm2s", "DMA fmap_in .* reported an error, status 0x"),
    ("dma_error", "dma1.mm2s", "DMA params .* reported an error"),
    ("dma_hang", "dma0.s2mm", "timeout after 0.2 s waiting for DMA fmap_out"),
    ("dma_hang", "dma0.mm2s", "timeout after 0.2 s waiting for DMA fmap_in"),
    ("register_corrupt", "height", "register height reads back"),
])
def test_faults_reported_and_recovered(setup, fault, key, message):
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    if fault == "register_corrupt":
        board.faults.register_corrupt[key] = 1
    else:
        getattr(board.faults, fault)[key] = 2  # the third transfer on that channel fails
    with pytest.raises(AcceleratorError, match=message) as info:
        driver.forward(xs[0])
    assert "call " in str(info.value) and "layers" in str(info.value)
    board.faults.register_corrupt.clear()
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):  # the next frame is fine
        assert np.array_equal(got, want)


def test_misaligned_or_oversized_transfers_are_the_dmas_errors(setup):
    from zynqyolo.host.emu import EmulatedBoard

    net, model, config, plan, ref, xs, accel = setup
    board = EmulatedBoard(config, length_bits=14, accel=accel)  # Vivado's default 16 KiB length register
    driver = Driver(board, plan, model, timeout_s=0.2)
    with pytest.raises(AcceleratorError, match="refused a .* 14-bit length register"):
        driver.forward(xs[0])
    ch = board.dma0.sendchannel
    ch.reset()
    buf = board.allocate(64)
    ch.transfer(buf, 4, 16)  # not 8-byte aligned: DMAIntErr, halted
    assert ch.error and not ch.running


def test_dse_choice_at_416_matches_reference_detections(model_files, photos, require_csim):
    """At full size, with the explorer's design point for the Zedboard: detections on three photos
    equal the integer reference's."""
    from zynqyolo.dse import explore
    from zynqyolo.host.driver import DriverBackend, open_driver
    from zynqyolo.model import load_weights
    from zynqyolo.model.detector import detect
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import load_image
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0])
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"], photos["zidane"]], bits=16)
    config = explore.search(net, "xc7z020", clock_mhz=100, bits=16, board="zedboard").best.config
    board = DriverBackend(open_driver("emu", model, config), "emu")
    ref = IntegerReference(model)
    for name in ("bus", "zidane", "grace_hopper"):
        image = load_image(photos[name])
        got = detect(board, image)
        assert got == detect(ref, image) and got  # identical, and not trivially empty
