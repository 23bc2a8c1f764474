"""Run whole frames through the C-simulated accelerator, driven by the plan.

This is the plan executed directly: for each call, the bytes of its planned input and
parameter transfers are concatenated into the two input streams, the call runs in the
csim library, and the output stream lands at its planned place in the arena. The host
driver does the same through (emulated or real) AXI DMA; this runner is the short path
behind ``zynqyolo detect --backend csim`` and the layer-by-layer tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.dse.plan import Call, Plan, make_plan

from .frame import FrameIO, build_params


@dataclass
class CallRecord:
    call: Call
    counts: dict[str, int]


def _gather(buffers: dict[str, np.ndarray], transfers) -> np.ndarray:
    if not transfers:
        return np.zeros(0, dtype=np.uint64)
    parts = [buffers[t.buffer][t.offset:t.offset + t.nbytes] for t in transfers]
    return np.frombuffer(np.concatenate(parts).tobytes(), dtype=np.uint64)


class CsimBackend:
    """Detection backend: the HLS kernels in C simulation, one plan-driven call per layer batch."""

    name = "csim"

    def __init__(self, model, config: HwConfig, native: bool = True):
        from zynqyolo.hls.csim import CsimAccelerator

        self.model = model
        self.network = model.network
        self.config = config
        self.plan: Plan = make_plan(model.network, model.hardware_formats(), config)
        self.io = FrameIO(self.plan, model)
        self.accel = CsimAccelerator(config, native=native)
        self.buffers = {name: np.zeros(n, dtype=np.uint8) for name, n in self.plan.buffer_nbytes.items()}
        self.buffers["params"][:] = build_params(self.plan, model)
        self.records: list[CallRecord] = []

    def run_calls(self) -> list[CallRecord]:
        buffers = self.buffers
        records = []
        for call in self.plan.calls:
            result = self.accel.call(call.regs, _gather(buffers, call.in_transfers),
                                     _gather(buffers, call.param_transfers))
            out = result.out_words.view(np.uint8)
            t = call.out_transfer
            if out.size != t.nbytes:
                raise RuntimeError(f"call {call.index} (layers {call.layers}) wrote {out.size} bytes, "
                                   f"the plan expects {t.nbytes}")
            buffers[t.buffer][t.offset:t.offset + t.nbytes] = out
            records.append(CallRecord(call, dict(result.counts)))
        self.records = records
        return records

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        self.io.write_input(self.buffers, x)
        self.run_calls()
        return self.io.read_outputs(self.buffers)

    def forward_codes(self, codes: np.ndarray) -> list[np.ndarray]:
        """Integer input codes -> YOLO output codes (for bit-exact comparison with the reference)."""
        from zynqyolo.model.ir import INPUT

        from .frame import write_tensor

        write_tensor(self.buffers, self.plan.tensors[INPUT], codes, self.plan)
        self.run_calls()
        return self.io.output_codes(self.buffers)
