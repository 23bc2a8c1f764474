"""The PYNQ board: the overlay built by ``zynqyolo build``, seen through PYNQ.

- ``pynq.Overlay`` loads the bitstream; the accelerator is bound to ``YoloAccel``, a
  ``DefaultIP`` subclass registered with ``bindto`` on the IP's VLNV, and its registers are
  written by name through ``register_map`` (PYNQ builds it from the .hwh);
- ``pynq.allocate`` gives the DMA buffers; the ones only the PL touches (the arena, the
  parameters and the DMA descriptors) are allocated non-cacheable, so ``flush``/``invalidate``
  only ever act on the input image and the YOLO outputs;
- the two AXI DMAs run in scatter-gather mode, driven by ``host.sgdma`` through their register
  spaces, each mapped with ``pynq.MMIO`` at the address and range the overlay's ``ip_dict``
  gives. PYNQ's own DMA driver is never instantiated (the overlay's DMA attributes are not
  touched): depending on the release it either refuses a scatter-gather IP or builds, starts
  and frees a descriptor list on every transfer, the per-transfer MMIO cost the descriptor
  ring avoids.

Before loading, the bitstream's ``manifest.json`` is checked against the design point and the
quantised model: a bitstream built for another design or model, or with its DMAs in simple mode
(an older zynqyolo), is refused.

``pynq`` is imported only here and only when a board is opened, so ``zynqyolo.host`` imports
and is fully testable on a machine without it.
"""

from __future__ import annotations

from pathlib import Path

from zynqyolo.errors import ZynqyoloError

from . import sgdma


def _import_pynq():
    try:
        import pynq
    except ImportError:
        raise ZynqyoloError("the pynq backend needs the pynq package on a PYNQ board "
                            "(pip install 'zynqyolo[pynq]' on the board image); elsewhere use --backend emu") from None
    return pynq


def _accel_driver_class(pynq, vlnv: str):
    class YoloAccel(pynq.DefaultIP):
        """The accelerator IP: registers by name via ``register_map``, ap_ctrl at offset 0."""

        bindto = [vlnv]

        def __init__(self, description):
            super().__init__(description=description)

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
        self.dma_length_bits = int(dma["buffer_length_width"])
        _accel_driver_class(pynq, ip["vlnv"])  # registers the driver before the overlay is parsed
        self.overlay = pynq.Overlay(str(bitstream_dir / files["bit"]))
        ip_dict = self.overlay.ip_dict
        missing = [cell for cell in (dma["fmap"], dma["params"], ip["cell"]) if cell not in ip_dict]
        if missing:
            raise ZynqyoloError(f"{files['bit']}: the overlay lacks the block(s) {', '.join(missing)} the manifest "
                                f"names (it has: {', '.join(sorted(ip_dict))})")
        # The DMAs' register spaces (not overlay.<dma>, which would instantiate PYNQ's DMA driver).
        self.dma0 = pynq.MMIO(ip_dict[dma["fmap"]]["phys_addr"], ip_dict[dma["fmap"]]["addr_range"])
        self.dma1 = pynq.MMIO(ip_dict[dma["params"]]["phys_addr"], ip_dict[dma["params"]]["addr_range"])
        self.accel = getattr(self.overlay, ip["cell"])

    def allocate(self, nbytes: int, cacheable: bool = True):
        import numpy as np

        return self._pynq.allocate(shape=(nbytes,), dtype=np.uint8, cacheable=cacheable)

    def reset(self) -> None:
        """Soft-reset both DMAs (DMACR.Reset, waiting for it to clear) and leave them halted: the
        driver restarts the descriptor rings at the next frame. The IP returns to idle by itself."""
        sgdma.reset_dma(self.dma0, "dma0")
        sgdma.reset_dma(self.dma1, "dma1")
