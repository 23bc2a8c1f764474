"""The hardware reset of the accelerator and both DMAs: an AXI GPIO into a proc_sys_reset.

A DMA fault in the middle of a call leaves the HLS IP waiting on a stream that will never deliver
(or never drain): its ``ap_ctrl`` never shows ap_done, and neither the DMAs' soft reset
(DMACR.Reset resets the DMA, not the IP) nor anything else in the IP's register space brings it
back. The block design (``zynqyolo.hls.bitstream``) therefore puts the accelerator and both DMAs
in their own reset domain: an AXI GPIO (one output bit, ``reset_gpio``) drives the ``aux_reset_in``
of a second proc_sys_reset (``accel_rst``, active high), whose ``peripheral_aresetn`` is the
accelerator's ``ap_rst_n`` and the DMAs' ``axi_resetn``. The interconnects and the GPIO itself stay
on the PS's reset, so the PS's AXI transactions are never cut. The bitstream manifest records the
GPIO (``"reset"``), and the PYNQ board maps it from there.

``pulse`` is the host's side, the same on the PYNQ board and the emulated one: soft-reset both DMAs
first (PG021: DMACR.Reset completes or flushes their outstanding AXI transactions, so the hardware
reset never cuts a burst on the HP ports' interconnects, which stay in the PS's domain), write the bit,
read it back (the read completes only after the write has reached the GPIO, so the reset is
asserted for the round trip of an AXI-Lite read, tens of PL clock cycles, against the 4 cycles
proc_sys_reset's ``C_AUX_RST_WIDTH`` asks for), clear it, read it back ``SETTLE_READS`` times
(proc_sys_reset keeps ``peripheral_aresetn`` low 16 cycles after its input is released), then wait
until every DMA shows its reset state (DMACR.Reset clear, DMASR Halted).

Register map of the AXI GPIO (Xilinx PG144, AXI GPIO v2.0): GPIO_DATA at 0x0, GPIO_TRI at 0x4
(the GPIO is built all-outputs, so TRI is not used).
"""

from __future__ import annotations

import time

from zynqyolo.errors import AcceleratorError
from zynqyolo.hls.manifest import RESET_GPIO_CELL, RESET_GPIO_MASK

from . import sgdma

GPIO_DATA = 0x0
GPIO_TRI = 0x4
SETTLE_READS = 4  # GPIO read-backs after the release, before the DMAs' registers are touched
SOFT_RESET_S = 0.1  # how long the DMAs' graceful soft reset may take before the hardware reset goes ahead


def pulse(gpio, dmas: dict, timeout_s: float = 1.0) -> None:
    """Soft-reset each of ``dmas`` (name -> register space) so their memory transactions complete,
    assert and release the hardware reset through ``gpio`` (``read``/``write`` of the AXI GPIO's
    register space), then wait for the DMAs to show their reset state."""
    for name, regs in dmas.items():
        try:
            sgdma.reset_dma(regs, name, timeout_s=SOFT_RESET_S)
        except AcceleratorError:
            pass  # a DMA too wedged for its soft reset: the hardware reset below takes it regardless
    gpio.write(GPIO_DATA, RESET_GPIO_MASK)
    if gpio.read(GPIO_DATA) & RESET_GPIO_MASK != RESET_GPIO_MASK:
        raise AcceleratorError(f"the reset GPIO ({RESET_GPIO_CELL}) does not hold the reset bit it was written: wrong "
                               "bitstream (built without the reset path?), or a bus problem")
    gpio.write(GPIO_DATA, 0)
    for _ in range(SETTLE_READS):
        gpio.read(GPIO_DATA)
    for name, regs in dmas.items():
        wait_reset_state(regs, name, timeout_s)


def wait_reset_state(regs, name: str, timeout_s: float = 1.0) -> None:
    """Until the DMA shows its state after a reset: DMACR.Reset clear and the MM2S channel halted."""
    deadline = time.monotonic() + timeout_s
    while True:
        dmacr = regs.read(sgdma.MM2S + sgdma.DMACR)
        dmasr = regs.read(sgdma.MM2S + sgdma.DMASR)
        if not dmacr & sgdma.DMACR_RESET and dmasr & sgdma.SR_HALTED:
            return
        if time.monotonic() > deadline:
            raise AcceleratorError(f"DMA {name} did not come out of the hardware reset within {timeout_s:g} s "
                                   f"(DMACR {dmacr:#010x}, DMASR {sgdma.describe_dmasr(dmasr)})")
        time.sleep(0)
