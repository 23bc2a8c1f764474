"""HLS kernels, the generated configuration header, their C simulation and the Vivado/Vitis HLS Tcl flow."""
