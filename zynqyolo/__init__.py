"""zynqyolo: YOLOv3-tiny on Xilinx Zynq FPGAs.

Subpackages: ``zynqyolo.model`` (network IR, float model, quantiser, integer reference),
``zynqyolo.hls`` (kernels and their C simulation), ``zynqyolo.dse`` (design-space
exploration), ``zynqyolo.host`` (board driver and emulated board).
"""

from .errors import ZynqyoloError

__version__ = "0.1.0"
__all__ = ["ZynqyoloError", "__version__"]
