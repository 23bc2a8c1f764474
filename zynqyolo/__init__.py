"""zynqyolo: YOLOv3-tiny on Xilinx Zynq FPGAs.

Layers, each importing only from those below it (pyproject.toml's import-linter contract):

- application: ``zynqyolo.cli``, ``zynqyolo.commands``, ``zynqyolo.detector`` (``Detector``: one
  object for every backend), ``zynqyolo.video`` (video files and cameras through OpenCV),
  ``zynqyolo.backends`` (the detection backends by name), ``zynqyolo.workflow`` (the steps demo,
  bench and the notebooks string together);
- ``zynqyolo.host``: the driver, the DMA descriptor rings, the emulated and PYNQ boards;
- ``zynqyolo.hls``: kernels, header generation, C simulation, HLS and Vivado flows, bitstream manifest;
- ``zynqyolo.dse``: the contract (design point, stream layout, registers, plan, MMIO count), then the
  block models and the design-space explorer;
- ``zynqyolo.model``: network IR, arithmetic contract, quantiser, references, post-processing;
- ``zynqyolo.fetch``, ``zynqyolo.atomic``, ``zynqyolo.errors``: leaf utilities.

The public API of the application is re-exported here lazily, so that importing a lower layer
(``import zynqyolo.model``) never imports the application.
"""

from .errors import ZynqyoloError

__version__ = "0.1.0"

# name -> the module that defines it (imported on first access)
_LAZY = {"open_backend": "zynqyolo.backends", "detect": "zynqyolo.backends", "BACKENDS": "zynqyolo.backends",
         "Detector": "zynqyolo.detector", "Detection": "zynqyolo.detector"}

__all__ = ["ZynqyoloError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zynqyolo' has no attribute {name!r}")
