"""The PYNQ board: the overlay built by ``zynqyolo build``, seen through PYNQ.

- ``pynq.Overlay`` loads the bitstream; the accelerator is bound to ``YoloAccel``, a
  ``DefaultIP`` subclass registered with ``bindto`` on the IP's VLNV. A call's changed argument
  registers are written in one vectorised access and read back in another: a numpy fancy-index
  store into, and load from, ``mmio.array`` (``pynq.MMIO``'s uint32 view of the mapped register
  space), one Python-level access for the whole block where ``register_map`` by name would make
  one per register; ap_ctrl goes through ``mmio`` at offset 0;
- ``pynq.allocate`` gives the DMA buffers; the ones only the PL touches (the arena, the
  parameters and the DMA descriptors) are allocated non-cacheable, so ``flush``/``invalidate``
  only ever act on the input image and the YOLO outputs;
- the two AXI DMAs run in scatter-gather mode, driven by ``host.sgdma`` through their register
  spaces, each mapped with ``pynq.MMIO`` at the address and range the overlay's ``ip_dict``
  gives. PYNQ's own DMA driver is never instantiated (the overlay's DMA attributes are not
  touched): depending on the release it either refuses a scatter-gather IP or builds, starts
  and frees a descriptor list on every transfer, the per-transfer MMIO cost the descriptor
  ring avoids.

- the accelerator's registers are written as their fields' bit patterns (the driver encodes them
  with ``dse.registers.encode_register``: a signed field in two's complement, never a negative
  Python int, which a uint32 store would refuse or wrap);
- ``reset()`` after a fault pulses the hardware reset path the manifest names (``"reset"``: an AXI
  GPIO into the proc_sys_reset of the accelerator and both DMAs, ``host.reset``), mapped with
  ``pynq.MMIO``. A bitstream built before the reset path has no such entry: it is reset by
  reloading the bitstream (``Overlay.download``), the only other way to unwedge the IP;
- ``barrier()`` is a DSB: the flush of a one-line cacheable buffer (the kernel's cache clean ends
  with ``dsb``, which drains the CPU's write buffer, so the descriptors' cleared STATUS words are in
  DDR before the TAILDESC write that lets a DMA fetch them).

Before loading, the bitstream's ``manifest.json`` is checked against the design point and the
quantised model: a bitstream built for another design or model, or with its DMAs in simple mode
(an older zynqyolo), is refused.

``pynq`` is imported only here and only when a board is opened, so ``zynqyolo.host`` imports
and is fully testable on a machine without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zynqyolo.dse.devices import CLOCK_TOLERANCE
from zynqyolo.errors import ZynqyoloError

from . import reset as hw_reset


def _import_pynq():
    try:
        import pynq
    except ImportError:
        raise ZynqyoloError("the pynq backend needs the pynq package on a PYNQ board "
                            "(pip install 'zynqyolo[pynq]' on the board image); elsewhere use --backend emu") from None
    return pynq


def _register_indices(array, offsets, what: str):
    """``offsets`` (bytes) as word indices into ``array`` (the mapped register space), each checked:
    a whole number, 4-byte aligned, within the mapped range (a ValueError otherwise)."""
    raw = list(offsets)
    span = array.size * 4
    for offset in raw:
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise ValueError(f"{what}: offset {offset!r} is not an integer")
        if offset % 4 or not 0 <= offset < span:
            raise ValueError(f"{what}: offset {int(offset):#x} is not a 4-byte aligned offset within the "
                             f"accelerator's mapped {span:#x} bytes")
    return np.array(raw, dtype=np.intp) // 4


def _accel_driver_class(pynq, vlnv: str):
    class YoloAccel(pynq.DefaultIP):
        """The accelerator IP: ap_ctrl at offset 0 (``read``/``write``, through ``mmio``); its argument
        registers as a block, one vectorised access each way (``write_registers``/``read_registers``,
        through ``mmio.array``); ``register_map`` by name, as PYNQ builds it from the .hwh."""

        bindto = [vlnv]

        def __init__(self, description):
            super().__init__(description=description)
            if not isinstance(self.mmio.array, np.ndarray):
                raise ZynqyoloError(f"{type(self.mmio.array).__name__}: the accelerator's registers are not "
                                    "memory-mapped as a numpy array (pynq.MMIO on a Zynq board maps them so)")

        def write_registers(self, offsets, words) -> None:
            """One vectorised store: ``words`` into the 32-bit registers at byte ``offsets``, a numpy
            fancy-index assignment into the mapped registers (one 32-bit store per word, in order).
            Every offset and word is checked before anything is stored."""
            index = _register_indices(self.mmio.array, offsets, "register block write")
            values = [int(w) for w in words]
            if len(values) != len(index):
                raise ValueError(f"register block write: {len(index)} offsets but {len(values)} words")
            bad = [w for w in values if not 0 <= w <= 0xFFFFFFFF]
            if bad:
                raise ValueError(f"register block write: {bad[0]:#x} is not a 32-bit word")
            self.mmio.array[index] = np.array(values, dtype=np.uint32)

        def read_registers(self, offsets) -> list[int]:
            """One vectorised load: the 32-bit registers at byte ``offsets``, in order (a numpy fancy
            index of the mapped registers, which copies)."""
            index = _register_indices(self.mmio.array, offsets, "register block read")
            return [int(w) for w in self.mmio.array[index]]

    return YoloAccel


class PynqBoard:
    """A PYNQ board running the zynqyolo overlay in ``bitstream_dir`` (the output of ``zynqyolo build``)."""

    name = "pynq"

    def __init__(self, bitstream_dir: str | Path, plan, model_hash: str):
        from zynqyolo.hls.manifest import check_manifest, load_manifest

        bitstream_dir = Path(bitstream_dir)
        manifest = load_manifest(bitstream_dir)  # verifies the .bit/.hwh sha256s it lists
        check_manifest(manifest, plan.config, model_hash, plan=plan)
        files = manifest.get("bitstream") or {}
        if "bit" not in files or "hwh" not in files:
            raise ZynqyoloError(f"{bitstream_dir}: the manifest lists no built .bit/.hwh (built without Vivado?); "
                                "run 'zynqyolo build' where Vivado is installed, then copy the folder to the board")
        pynq = _import_pynq()
        self._pynq = pynq
        ip, dma = manifest["ip"], manifest["dma"]
        reset_cell = (manifest.get("reset") or {}).get("gpio")
        self.dma_length_bits = int(dma["buffer_length_width"])
        _accel_driver_class(pynq, ip["vlnv"])  # registers the driver before the overlay is parsed
        self.overlay = pynq.Overlay(str(bitstream_dir / files["bit"]))
        # Overlay's download sets the PS's FCLK0 divisors from the .hwh; the design's clock is one the
        # PS makes exactly (the explorer and the build refuse others), so this only guards a stale .hwh.
        clock_mhz = float(manifest["clock_mhz"])
        if abs(pynq.ps.Clocks.fclk0_mhz - clock_mhz) > CLOCK_TOLERANCE * clock_mhz:
            pynq.ps.Clocks.fclk0_mhz = clock_mhz
        ip_dict = self.overlay.ip_dict
        cells = (dma["fmap"], dma["params"], ip["cell"]) + ((reset_cell,) if reset_cell else ())
        missing = [cell for cell in cells if cell not in ip_dict]
        if missing:
            raise ZynqyoloError(f"{files['bit']}: the overlay lacks the block(s) {', '.join(missing)} the manifest "
                                f"names (it has: {', '.join(sorted(ip_dict))})")
        # The DMAs' register spaces (not overlay.<dma>, which would instantiate PYNQ's DMA driver).
        self.dma0 = pynq.MMIO(ip_dict[dma["fmap"]]["phys_addr"], ip_dict[dma["fmap"]]["addr_range"])
        self.dma1 = pynq.MMIO(ip_dict[dma["params"]]["phys_addr"], ip_dict[dma["params"]]["addr_range"])
        self.reset_gpio = (pynq.MMIO(ip_dict[reset_cell]["phys_addr"], ip_dict[reset_cell]["addr_range"])
                           if reset_cell else None)
        self.accel = getattr(self.overlay, ip["cell"])
        self._barrier_buffer = None  # allocated at the first barrier, after the driver's buffers

    def allocate(self, nbytes: int, cacheable: bool = True):
        return self._pynq.allocate(shape=(nbytes,), dtype=np.uint8, cacheable=cacheable)

    def reset(self) -> None:
        """The hardware reset of the accelerator and both DMAs (module docstring); the DMAs are left
        halted and the driver restarts the descriptor rings at the next frame."""
        dmas = {"dma0": self.dma0, "dma1": self.dma1}
        if self.reset_gpio is not None:
            hw_reset.pulse(self.reset_gpio, dmas)
            return
        self.overlay.download()  # no reset path in this bitstream: reprogramming the PL is the reset
        for name, regs in dmas.items():
            hw_reset.wait_reset_state(regs, name)

    def barrier(self) -> None:
        """A DSB (module docstring): flush a cacheable line; the kernel's cache clean ends with one."""
        if self._barrier_buffer is None:
            self._barrier_buffer = self.allocate(64, cacheable=True)
        self._barrier_buffer.flush()
