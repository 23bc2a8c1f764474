"""The host driver on the emulated board, at 16 and at 8 bits: bit-exact frames, the plan's
transfers as the executed scatter-gather descriptors, the exact MMIO sequence and count of a frame
(every register field read back as its bit pattern, signed ones in two's complement), the memory
barrier between the descriptors' STATUS clear and the first TAILDESC, and recovery from injected
faults: a fault in the middle of a call leaves the IP stuck until the hardware reset."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.mmio import frame_mmio_accesses, registers_written
from zynqyolo.dse.plan import make_plan
from zynqyolo.host import sgdma
from zynqyolo.host.driver import AcceleratorError, Driver
from zynqyolo.model import load_cfg

pytestmark = pytest.mark.csim

SIZE = 128  # reduced input: the plan, the kernels and the driver are size-generic


@pytest.fixture(scope="module", params=[16, 8], ids=["16bit", "8bit"])
def setup(request, model_files, photos, require_csim):
    from zynqyolo.hls.csim import CsimAccelerator
    from zynqyolo.model import load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    bits = request.param
    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=bits)
    config = HwConfig(p_oc=16, p_ic=8, tile_pixels=256, bits=bits)
    xs = [letterbox(load_image(photos[n]), SIZE, SIZE) for n in ("zidane", "bus", "astronaut")]
    return net, model, config, make_plan(net, model.hardware_formats(), config), IntegerReference(model), xs, CsimAccelerator(config)


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
        # the IP took exactly the words the frame's chains delivered: nothing is left for the next frame
        assert board.queued("dma0.mm2s") == board.queued("dma1.mm2s") == 0
    assert board.accel.calls == 3 * len(driver.plan.calls)


def test_signed_registers_read_back_as_their_bit_patterns(setup):
    """Every signed field the plan sets negative is written as its two's complement in the field's
    width and read back as exactly those bits (the 8-bit model's YOLO calls shift by a negative
    amount); the kernels see the signed value."""
    from zynqyolo.dse.hwconfig import SIGNED_REGISTERS

    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)
    driver.forward(xs[0])
    offsets, fields = config.register_offsets(), config.register_fields()
    reads = {(offset, word) for e in board.log if e[:2] == ("accel", "read_block") for offset, word in zip(e[2], e[3])}
    negative = [(c, name, v) for c in plan.calls for name, v in c.registers if name in SIGNED_REGISTERS and v < 0]
    if config.bits == 8:
        assert negative, "the 8-bit plan should shift a YOLO head by a negative amount"
    for call, name, value in negative:
        pattern = value + (1 << fields[name])  # two's complement, computed here, not by the driver's helper
        assert (offsets[name], pattern) in reads
    held = {name: board.accel.signed(name) for name in SIGNED_REGISTERS}
    assert held == {name: dict(plan.calls[-1].registers)[name] for name in SIGNED_REGISTERS}


def test_register_encoding_round_trips_every_field():
    """``encode_register``/``decode_register`` over every field's whole range, both precisions:
    the pattern fits the field, decodes back, and a value one beyond either end is refused."""
    from zynqyolo.dse.hwconfig import SIGNED_REGISTERS
    from zynqyolo.dse.registers import decode_register, encode_register

    for config in (HwConfig(), HwConfig(bits=8), HwConfig(p_oc=16, p_ic=8, tile_pixels=256)):
        for name, width in config.register_fields().items():
            lo, hi = config.register_range(name)
            assert (lo < 0) == (name in SIGNED_REGISTERS) and hi - lo == (1 << width) - 1
            for value in sorted({lo, lo + 1, -1 if lo < 0 else 0, 0, 1 if hi > 0 else 0, hi - 1, hi} & set(
                    range(lo, hi + 1))):
                bits = encode_register(config, name, value)
                assert 0 <= bits < 1 << width and decode_register(config, name, bits) == value
            for bad in (lo - 1, hi + 1, True, 1.0):
                with pytest.raises(ValueError, match=name):
                    encode_register(config, name, bad)
        assert encode_register(config, "yolo_shift", -3) == 61  # the 6-bit field of the example


CHANNEL_NAMES = {"fmap_in": "dma0.mm2s", "params": "dma1.mm2s", "fmap_out": "dma0.s2mm"}
EXECUTIONS = tuple(CHANNEL_NAMES.values())
MMIO = ("accel", "dma0", "dma1")


def _frame_log(board, driver, x, fresh: bool):
    """The board's log of one frame; ``fresh``: as for a new driver (every register of call 0 written)."""
    board.log.clear()
    if fresh:
        driver._shadow.clear()
    driver.forward(x)
    return list(board.log)


def test_executed_descriptors_are_the_plans_transfers(setup):
    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)
    address = {name: buf.physical_address for name, buf in driver.buffers.items()}
    for frame in range(2):  # the second frame runs the same chains again (statuses cleared, rings restarted)
        log = _frame_log(board, driver, xs[frame], fresh=False)

        def execution(t):
            return CHANNEL_NAMES[t.channel], address[t.buffer] + t.offset, t.nbytes

        # the parameter and output chains are armed at the start of the frame: the emulated
        # parameter FIFO takes the whole chain at once (on the board the DMA runs ahead only as far
        # as the FIFO has room), S2MM takes up call 0's descriptor and each call's next when the
        # previous packet lands; per call the input goes after ap_start
        outs = [execution(call.out_transfer) for call in plan.calls]
        expected = [execution(t) for call in plan.calls for t in call.param_transfers] + outs[:1]
        for call, next_out in zip(plan.calls, outs[1:] + [None]):
            expected += [execution(t) for t in call.in_transfers]
            expected += [next_out] if next_out else []
        assert [e for e in log if e[0] in EXECUTIONS] == expected
        # every descriptor completed, its STATUS written back with the bytes moved
        ring = driver.ring
        for i, e in enumerate(ring.entries):
            rx = sgdma.ST_RXSOF | sgdma.ST_RXEOF if e.channel == "fmap_out" else 0
            assert ring.status(i) == sgdma.ST_CMPLT | rx | e.transfer.nbytes, ring.describe(i)
        # only the buffers the CPU touches cross the cache: one flush and one invalidate per frame
        assert [e for e in log if e[0] in ("flush", "invalidate")] == [
            ("flush", address["input"], driver.buffers["input"].nbytes),
            ("invalidate", address["output"], driver.buffers["output"].nbytes)]


def _descriptor(board, address):
    words = board.read_words(address, 16)
    return int(words[2]), int(words[6]) & sgdma.LENGTH_MASK


def test_register_sequence_of_a_frame(setup):
    """The MMIO accesses of a frame, in order: the ring restart and the parameter and output chains'
    tails at the frame's last parameter and output transfers, then per call the changed registers
    (one block write of all of them, one block read-back), ap_start, the input tail, one ap_ctrl read
    (done at once on the emulated board, so no DMASR poll). TAILDESC/CURDESC values are checked by
    what they point at."""
    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)
    address = {name: buf.physical_address for name, buf in driver.buffers.items()}
    driver.forward(xs[0])  # a frame's register writes leave the registers of its last call behind
    log = [e for e in _frame_log(board, driver, xs[0], fresh=True) if e[0] in MMIO]
    offsets = config.register_offsets()
    where = {"fmap_in": ("dma0", 0x00), "params": ("dma1", 0x00), "fmap_out": ("dma0", 0x30)}

    def first_transfer(name):
        return next(t for c in plan.calls for t in c.transfers if t.channel == name)

    def data(t):
        return address[t.buffer] + t.offset, t.nbytes

    expected = []
    for name in ("fmap_in", "params", "fmap_out"):
        dma, base = where[name]
        expected += [(dma, "write", base, 0), (dma, "read", base + 4)]
    for name in ("fmap_in", "params", "fmap_out"):
        dma, base = where[name]
        expected += [(dma, "write", base + 8, data(first_transfer(name))), (dma, "write", base, 1)]
    for name in ("params", "fmap_out"):
        dma, base = where[name]
        last_transfer = [t for c in plan.calls for t in c.transfers if t.channel == name][-1]
        expected.append((dma, "write", base + 0x10, data(last_transfer)))
    fields = config.register_fields()
    held: dict = {}
    for call in plan.calls:
        # the field's bit pattern (two's complement in its width), computed here, not by the driver's helper
        changed = [(offsets[name], value % (1 << fields[name])) for name, value in call.registers
                   if held.get(name) != value]
        assert changed  # every call of a fresh frame changes something
        expected += [("accel", "write_block", tuple(o for o, _ in changed), tuple(w for _, w in changed)),
                     ("accel", "read_block", tuple(o for o, _ in changed))]
        held.update(call.registers)
        last = {t.channel: t for t in call.transfers}
        expected.append(("accel", "write", 0, 1))
        expected.append(("dma0", "write", 0x10, data(last["fmap_in"])))
        expected.append(("accel", "read", 0))

    got = []
    for device, op, offset, value in log:
        if op in ("read", "read_block"):
            got.append((device, op, offset))
        elif device != "accel" and offset % 0x30 in (0x08, 0x10):  # CURDESC/TAILDESC: the descriptor's transfer
            got.append((device, op, offset, _descriptor(board, value)))
        else:
            got.append((device, op, offset, value))
    assert got == expected
    # DMASR reads: only the restart's, which saw Halted and no error
    polls = [v for d, op, off, v in log if d != "accel" and op == "read"]
    assert len(polls) == 3 and all(v & sgdma.SR_HALTED and not v & sgdma.SR_ERRORS for v in polls)


def test_mmio_accesses_per_frame_match_the_formula(setup):
    """Counted on the board's log and by ``dse.mmio.frame_mmio_accesses`` (what the latency model charges): equal."""
    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)

    first = sum(1 for e in _frame_log(board, driver, xs[0], fresh=False) if e[0] in MMIO)
    steady = sum(1 for e in _frame_log(board, driver, xs[1], fresh=False) if e[0] in MMIO)
    assert first == frame_mmio_accesses(plan, steady=False)
    assert steady == frame_mmio_accesses(plan)
    assert steady < plan.n_transfers + 10 * len(plan.calls)  # a handful per call, not ~7 per transfer
    # the registers are one block write and one block read-back per call that changes any, whatever
    # their number (the first frame writes every register, a steady one only those that change)
    for frame, fresh in ((1, True), (2, False)):
        log = _frame_log(board, driver, xs[frame], fresh=fresh)
        blocks = [e for e in log if e[:2] == ("accel", "write_block")]
        written = registers_written(plan.calls, steady=not fresh)
        assert [len(e[2]) for e in blocks] == [n for n in written if n]
        assert [e[2] for e in log if e[:2] == ("accel", "read_block")] == [e[2] for e in blocks]
        assert not [e for e in log if e[0] == "accel" and e[1] in ("read", "write") and e[2] != 0]  # ap_ctrl only
        assert sum(1 for e in log if e[0] in MMIO) == frame_mmio_accesses(plan, steady=not fresh)
    assert max(registers_written(plan.calls, steady=False)) > 1  # blocks of several registers were exercised
    quiet_board, quiet = _driver(setup, verify_registers=False)
    for frame, steady in ((0, False), (1, True)):
        log = _frame_log(quiet_board, quiet, xs[frame], fresh=False)
        assert sum(1 for e in log if e[0] in MMIO) == frame_mmio_accesses(plan, verify_registers=False, steady=steady)
        assert not [e for e in log if e[:2] == ("accel", "read_block")]  # nothing read back


@pytest.mark.parametrize("fault, key, message", [
    ("dma_error", "dma0.mm2s", r"DMA fmap_in \(dma0 MM2S\) reported DMASlvErr, DMASR 0x[0-9a-f]{8} \(halted, "
                               r"DMASlvErr\), at descriptor \d+ \((input|arena)\+0x[0-9a-f]+, [\d,]+ bytes, call \d+; "
                               r"STATUS 0x20000000\)"),
    ("dma_error", "dma1.mm2s", r"DMA params \(dma1 MM2S\) reported DMASlvErr.* at descriptor \d+ \(params\+0x"),
    ("dma_error", "dma0.s2mm", r"DMA fmap_out \(dma0 S2MM\) reported DMASlvErr"),
    ("dma_hang", "dma0.s2mm", r"timeout after 0.2 s waiting for DMA fmap_out \(dma0 S2MM\) to finish descriptor "
                              r"\d+ .*DMASR 0x[0-9a-f]{8} \(running\)"),
    ("dma_hang", "dma0.mm2s", r"timeout after 0.2 s waiting for DMA fmap_in \(dma0 MM2S\)"),
    ("dma_hang", "dma1.mm2s", r"timeout after 0.2 s waiting for DMA params \(dma1 MM2S\)"),
    ("register_corrupt", "height", r"register height reads back 0x[0-9a-f]+ \(= \d+\) after writing \d+ "
                                   r"\(0x[0-9a-f]+ in its \d+-bit field at offset 0x[0-9a-f]+\)"),
])
def test_faults_reported_and_recovered(setup, fault, key, message):
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    if fault == "register_corrupt":
        board.faults.register_corrupt[key] = 1
    else:
        getattr(board.faults, fault)[key] = 2  # the third descriptor on that channel fails
    with pytest.raises(AcceleratorError, match=message) as info:
        driver.forward(xs[0])
    assert re.search(r"during call \d+ \(layers \d+", str(info.value)), str(info.value)
    if fault == "register_corrupt":  # found in the call's one block read-back, before the IP was started
        [block] = [e for e in board.log if e[:2] == ("accel", "read_block")]
        assert board.accel.offsets[key] in block[2] and len(block[2]) > 1
        assert ("accel", "write", 0, 1) not in board.log
    assert ("dma0", "write", 0, sgdma.DMACR_RESET) in board.log  # the board was reset: DMAs, then the GPIO
    gpio = [e for e in board.log if e[0] == "reset_gpio" and e[1] == "write"]
    assert gpio == [("reset_gpio", "write", 0, 1), ("reset_gpio", "write", 0, 0)]
    assert not board.stuck and board.wedged is None
    board.faults.register_corrupt.clear()
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):  # the next frame is fine
        assert np.array_equal(got, want)


def test_the_first_mismatching_register_of_a_block_is_reported(setup):
    """Two registers of call 0 read back wrong: the error names the first in the block's order, with
    the value written, the bits read back and decoded, the field's width and the register's offset."""
    net, model, config, plan, ref, xs, _ = setup
    board, driver = _driver(setup)
    fields, offsets = config.register_fields(), config.register_offsets()
    names = [name for name, _ in plan.calls[0].registers if fields[name] >= 2]
    first, later = names[0], names[-1]
    board.faults.register_corrupt.update({later: 1, first: 2})
    with pytest.raises(AcceleratorError) as info:
        driver.forward(xs[0])
    value = dict(plan.calls[0].registers)[first]
    pattern = value % (1 << fields[first])
    message = str(info.value)
    assert message.startswith(f"register {first} reads back {pattern ^ 2:#x} (= "), message
    assert (f"after writing {value} ({pattern:#x} in its {fields[first]}-bit field at offset {offsets[first]:#x}) "
            "during call 0 (layers ") in message, message
    board.faults.register_corrupt.clear()
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


def test_a_dma_that_does_not_halt_is_a_clear_error_at_the_next_frame(setup):
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    board.faults.dma_hang["dma0.s2mm"] = 0
    board.reset = lambda: None  # as if the soft reset were lost: the hung descriptor stays in flight
    with pytest.raises(AcceleratorError, match="waiting for DMA fmap_out"):
        driver.forward(xs[0])
    with pytest.raises(AcceleratorError, match=r"waiting for DMA fmap_out \(dma0 S2MM\) to halt, DMASR 0x[0-9a-f]{8} "
                                               r"\(running\) during the start of a frame"):
        driver.forward(xs[0])
    del board.reset  # the real reset again
    board.reset()
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


def test_transfers_the_dmas_cannot_carry_are_refused_before_anything_starts(setup):
    from zynqyolo.host.emu import EmulatedBoard

    net, model, config, plan, ref, xs, accel = setup
    board = EmulatedBoard(config, length_bits=14, accel=accel)  # Vivado's default 16 KiB length register
    with pytest.raises(AcceleratorError, match=r"call \d+ \(layers [\d, ]+\): the \w+ \(dma\d \w+\) transfer of "
                                               r"[\d,]+ bytes at \w+\+0x[0-9a-f]+ cannot be a DMA descriptor: it "
                                               r"exceeds the 14-bit DMA buffer length register"):
        Driver(board, plan, model)
    call = plan.calls[3]
    bad = dataclasses.replace(call.in_transfers[0], offset=call.in_transfers[0].offset + 4)
    shifted = dataclasses.replace(plan, calls=plan.calls[:3] + (
        dataclasses.replace(call, in_transfers=(bad,) + call.in_transfers[1:]),) + plan.calls[4:])
    board = EmulatedBoard(config, accel=accel)
    with pytest.raises(AcceleratorError, match=r"call 3 .*the fmap_in \(dma0 MM2S\) .*not in whole 8-byte bus words"):
        Driver(board, shifted, model)
    assert not [e for e in board.log if e[0] in MMIO]  # nothing was started


def test_dse_choice_at_416_matches_reference_detections(model_files, photos, require_csim):
    """At full size, with the explorer's design point for the Zedboard: detections on three photos
    equal the integer reference's."""
    from zynqyolo.dse import explore
    from zynqyolo.host.driver import DriverBackend, open_driver
    from zynqyolo.model import load_weights
    from zynqyolo.backends import detect
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


def test_barrier_between_status_clear_and_taildesc(setup):
    """Per frame: the descriptors' STATUS words are cleared, then one memory barrier, then the
    channel restarts and the first TAILDESC write; never a TAILDESC before the barrier."""
    *_, ref, xs, _ = setup
    board, driver = _driver(setup)
    clear = driver.ring.clear_status

    def logged_clear():
        clear()
        board.log.append(("clear_status",))

    driver.ring.clear_status = logged_clear
    for frame in range(2):
        log = _frame_log(board, driver, xs[frame], fresh=False)
        marks = [i for i, e in enumerate(log) if e in (("clear_status",), ("barrier",))]
        assert [log[i] for i in marks] == [("clear_status",), ("barrier",)]
        tails = [i for i, e in enumerate(log) if e[0] in ("dma0", "dma1") and e[1] == "write" and e[2] % 0x30 == 0x10]
        assert tails and marks[1] < tails[0]


def _ap_ctrl(board) -> int:
    return board.accel.ctrl


def test_fault_mid_call_leaves_the_ip_stuck_until_the_hardware_reset(setup):
    """A DMA error in the middle of a call (the IP already started) wedges the IP: when the driver
    resets the board, ap_ctrl shows it started and not done; the reset (the GPIO pulse) brings it
    back, and the next frame is bit-exact."""
    from zynqyolo.dse.registers import AP_DONE, AP_START

    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    seen = []
    real_reset = board.reset

    def reset():
        seen.append((board.stuck, _ap_ctrl(board)))
        real_reset()
        seen.append((board.stuck, _ap_ctrl(board)))

    board.reset = reset
    board.faults.dma_error["dma0.mm2s"] = 4  # the fifth input descriptor: the IP is running that call
    with pytest.raises(AcceleratorError, match=r"DMA fmap_in .* reported DMASlvErr.* during call \d+"):
        driver.forward(xs[0])
    (stuck_before, ctrl_before), (stuck_after, ctrl_after) = seen
    assert stuck_before and ctrl_before & AP_START and not ctrl_before & AP_DONE
    assert not stuck_after and not ctrl_after & AP_START
    calls = board.accel.calls
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)
    assert board.accel.calls == calls + len(driver.plan.calls)


def test_without_the_hardware_reset_the_ip_stays_stuck(setup):
    """With only the DMAs' soft reset (all a bitstream without the reset path allows), the wedged IP
    never runs another call: frame after frame times out and ap_start finds it busy. The hardware
    reset then brings it back."""
    from zynqyolo.host.emu import EmulatedBoard

    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    board.reset = board.soft_reset_dmas
    board.faults.dma_error["dma0.s2mm"] = 1
    with pytest.raises(AcceleratorError, match="DMA fmap_out .* reported DMASlvErr"):
        driver.forward(xs[0])
    calls = board.accel.calls
    for _ in range(2):
        with pytest.raises(AcceleratorError, match="timeout after 0.2 s waiting for DMA fmap_out"):
            driver.forward(xs[1])
        assert board.stuck and board.accel.calls == calls  # no kernel ran: the IP is still busy
    EmulatedBoard.reset(board)  # the hardware reset path
    assert not board.stuck
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


def test_fault_counts_once_or_persistent(setup):
    """A fault count n >= 0 fires once (after n descriptors); a negative one fires every time."""
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    board.faults.dma_error["dma1.mm2s"] = -1
    for _ in range(2):
        with pytest.raises(AcceleratorError, match="DMA params"):
            driver.forward(xs[0])
    assert board.faults.dma_error == {"dma1.mm2s": -1}
    board.faults.dma_error["dma1.mm2s"] = 0
    with pytest.raises(AcceleratorError, match="DMA params"):
        driver.forward(xs[0])
    assert board.faults.dma_error == {}
    for got, want in zip(driver.forward(xs[0]), ref.forward(xs[0])):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("kind", ["short", "long"])
def test_an_output_packet_of_the_wrong_length_is_caught(setup, kind):
    """The IP's third output packet is a bus word short (TLAST early) or long: the call's output
    descriptor shows it (RXEOF with fewer bytes; or all its bytes and no RXEOF, the rest written on
    into the next call's descriptor, as PG021's S2MM engine does), the driver refuses the call, and
    the next frame is bit-exact again."""
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    board.faults.out_packet[kind] = 2
    tail = driver.ring.tails[2]["fmap_out"]
    planned = driver.ring.entries[tail].transfer.nbytes
    if kind == "short":
        message = rf"it ended \(TLAST\) after {planned - 8:,} of the planned {planned:,} bytes, in descriptor {tail} "
    else:
        message = rf"it did not end in descriptor {tail} .*: longer than the planned {planned:,} bytes"
    with pytest.raises(AcceleratorError, match=r"the accelerator's output packet does not match the plan: " + message) as info:
        driver.forward(xs[0])
    assert "during call 2 (layers" in str(info.value)
    if kind == "long":  # the packet's last word went on into call 3's descriptor: its end, not a start
        spill = driver.ring.status(tail + 1)
        assert spill & sgdma.ST_CMPLT and spill & sgdma.ST_RXEOF and not spill & sgdma.ST_RXSOF
        assert spill & sgdma.LENGTH_MASK == 8
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


def test_an_output_write_error_after_ap_done_is_found_in_the_descriptor(setup):
    """A slave error on the output channel's writes of the second packet, after the IP has sent it:
    ap_done is seen, and the error is read from the descriptor's STATUS in memory."""
    from zynqyolo.dse.registers import AP_DONE

    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    board.faults.dma_error["dma0.s2mm"] = 1
    with pytest.raises(AcceleratorError, match=r"DMA fmap_out \(dma0 S2MM\) reported DMASlvErr.* at descriptor "
                                               r"\d+ \(arena\+0x[0-9a-f]+, [\d,]+ bytes, call 1; STATUS 0x2[0-9a-f]{7}\) "
                                               r"during call 1 "):
        driver.forward(xs[0])
    ctrl = [e[3] for e in board.log if e[:3] == ("accel", "read", 0)]
    assert ctrl[-1] & AP_DONE  # the call's one ap_ctrl read saw it done
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


def test_a_parameter_fault_stops_the_call_that_needs_the_words(setup):
    """The parameter chain is armed for the whole frame: an error on its third descriptor leaves the
    calls before the one that needs those words to complete, and is reported during that call."""
    *_, ref, xs, _ = setup
    board, driver = _driver(setup, timeout_s=0.2)
    owner = driver.ring.entries[driver.ring.first["params"] + 2].call
    assert owner > 0
    board.faults.dma_error["dma1.mm2s"] = 2
    with pytest.raises(AcceleratorError, match=rf"DMA params \(dma1 MM2S\) reported DMASlvErr.* during call {owner} "):
        driver.forward(xs[0])
    assert board.accel.calls == owner  # calls 0 .. owner - 1 ran
    for got, want in zip(driver.forward(xs[1]), ref.forward(xs[1])):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("make, words", [
    (lambda x: (x * 255).astype(np.uint8), "integers"),  # a picture's pixels, not the letterboxed input
    (lambda x: x * 255, "outside 0.0..1.0"),
    (lambda x: np.where(x > 0.5, np.nan, x), "NaN"),
    (lambda x: x[:, :64], "shape"),
    (lambda x: x.transpose(1, 2, 0).copy(), "shape"),
])
def test_forward_refuses_input_it_cannot_mean(setup, make, words):
    from zynqyolo.errors import ZynqyoloError

    *_, ref, xs, _ = setup
    board, driver = _driver(setup)
    with pytest.raises(ZynqyoloError, match="letterbox") as info:
        driver.forward(make(xs[0]))
    assert words in str(info.value)
    assert not [e for e in board.log if e[0] in MMIO]  # refused before anything reached the board


@pytest.mark.parametrize("bits, photo", [(16, "bus"), pytest.param(8, "zidane", marks=pytest.mark.slow)])
def test_winograd_design_frames_at_416_equal_the_integer_reference(bits, photo, model_files, photos, require_csim):
    """Whole 416 frames on a Winograd design through the driver and the emulated board: every output
    code equals the integer reference's, and the board really ran the Winograd path."""
    from zynqyolo.host.emu import EmulatedBoard
    from zynqyolo.hls.csim import CsimAccelerator
    from zynqyolo.model import load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0])
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"]], bits=bits)
    config = HwConfig(bits=bits, conv_engine="winograd")
    plan = make_plan(net, model.hardware_formats(), config)
    assert sum(c.regs["winograd"] for c in plan.calls) == 9  # the nine 3x3 convolutions
    board = EmulatedBoard(config, accel=CsimAccelerator(config))
    driver = Driver(board, plan, model)
    x = letterbox(load_image(photos[photo]), net.width, net.height)
    for got, want in zip(driver.forward(x), IntegerReference(model).forward(x)):
        assert np.array_equal(got, want)
