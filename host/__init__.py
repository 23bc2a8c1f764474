"""Host driver: executes the plan over AXI DMA on a PYNQ board or on the emulated board."""
