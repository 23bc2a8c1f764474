"""HLS kernels, the generated configuration header, their C simulation and the Vivado/Vitis HLS Tcl flow."""

from pathlib import Path

HLS_DIR = Path(__file__).resolve().parent  # the kernel sources: include/, top/, tb/, tcl/
