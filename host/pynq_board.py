"""The PYNQ board: the overlay built by ``zynqyolo build``, seen through PYNQ's own drivers.

- ``pynq.Overlay`` loads the bitstream; the accelerator is bound to ``YoloAccel``, a
  ``DefaultIP`` subclass registered with ``bindto`` on the IP's VLNV, and its registers are
  written by name through ``register_map`` (PYNQ builds it from the .hwh);
- ``pynq.allocate`` gives the DMA buffers; the ones only the PL touches are allocated
  non-cacheable, because PYNQ's send channel flushes the whole source buffer on every
  transfer (a no-op on a non-cacheable buffer); ``flush``/``invalidate`` then only ever act on
  the input image and the YOLO outputs;
- the two AXI DMAs are PYNQ's ``DMA`` driver (simple mode); the driver never calls their
  unbounded ``wait()``: it polls ``idle``/``error`` with a deadline.

Before loading, the bitstream's ``manifest.json`` is checked against the design point and the
quantised model: a bitstream built for another design or model is refused.

``pynq`` is imported only here and only when a board is opened, so ``zynqyolo.host`` imports
and is fully testable on a machine without it.
"""

from __future__ import annotations

from pathlib import Path

from zynqyolo.errors import ZynqyoloError

DMACR_RESET = 1 << 2
DMACR_RUN = 1 << 0


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
        from zynqyolo.hls.bitstream import check_manifest, load_manifest

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
        _accel_driver_class(pynq, ip["vlnv"])  # registers the driver before the overlay is parsed
        self.overlay = pynq.Overlay(str(bitstream_dir / files["bit"]))
        try:
            self.dma0 = getattr(self.overlay, dma["fmap"])
            self.dma1 = getattr(self.overlay, dma["params"])
            self.accel = getattr(self.overlay, ip["cell"])
        except AttributeError as exc:
            raise ZynqyoloError(f"{files['bit']}: the overlay lacks a block the manifest names ({exc})") from None

    def allocate(self, nbytes: int, cacheable: bool = True):
        import numpy as np

        return self._pynq.allocate(shape=(nbytes,), dtype=np.uint8, cacheable=cacheable)

    def reset(self) -> None:
        """Soft-reset both DMAs (DMACR.Reset) and start them again; the IP returns to idle by itself."""
        for dma in (self.dma0, self.dma1):
            for channel in (dma.sendchannel, getattr(dma, "recvchannel", None)):
                if channel is None:
                    continue
                channel._mmio.write(channel._offset, DMACR_RESET)
                channel._mmio.write(channel._offset, DMACR_RUN)
