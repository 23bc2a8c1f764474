"""The ARM-side steps of a frame (letterbox, pack, unpack, decode, NMS), measured on this machine and
modelled for the board's Cortex-A9 (dse/arm.py), per fetched photo, plus the candidates (cells x
anchors with objectness > 0.25) and the classes among them that NMS works on.

Run: python benchmarks/bench_arm_steps.py [--runs N] [--board zedboard]

The measured column is this machine's (named in the header), never the board's; the modelled one is
what dse/arm.py predicts for the board from the code's passes and calls. On a board,
``zynqyolo bench --backend pynq`` measures the same stages there.
"""

from __future__ import annotations

import argparse
import platform
import statistics

from timing import median_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--board", default="zedboard")
    args = parser.parse_args()

    import numpy as np

    from zynqyolo.detector import explorer_design
    from zynqyolo.dse import arm, devices
    from zynqyolo.dse.plan import make_plan
    from zynqyolo.fetch import photo_paths
    from zynqyolo.host.frame import FrameIO
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.postprocess import _candidates, _correct, decode, nms_per_class
    from zynqyolo.model.preprocess import letterbox, load_image
    from zynqyolo.workflow import default_model, machine

    board = devices.get_board(args.board)
    model = default_model(16)
    net = model.network
    config = explorer_design(net, 16, board.name)
    plan = make_plan(net, model.hardware_formats(), config)
    io = FrameIO(plan, model)
    ref = IntegerReference(model)
    buffers = {k: np.zeros(max(v, 64), dtype=np.uint8) for k, v in plan.buffer_nbytes.items()}
    mhz = board.cpu_clock_mhz
    print(f"design {config.name}; measured: this machine ({machine()}, {platform.processor() or 'cpu'}); "
          f"modelled: {board.name} Cortex-A9 at {mhz:g} MHz (dse/arm.py)")
    print(f"{'photo':<20} {'step':<10} {'measured ms':>12} {'modelled ms':>12}")
    counts = []
    for path in photo_paths():
        image = load_image(path)
        h, w = image.shape[:2]
        x = letterbox(image, net.width, net.height)
        outs = ref.forward(x)
        boxes, _, probs = _candidates(outs, net, 0.25)
        classes = int(np.count_nonzero(probs.any(axis=0))) if len(probs) else 0
        counts.append((len(boxes), classes))
        corrected = _correct(boxes, net, w, h) if len(boxes) else boxes
        frame = arm.arm_frame(plan, net, mhz, (w, h), candidates=max(len(boxes), 0), candidate_classes=classes)
        modelled = {s.name: s.ms(mhz) for s in frame.steps}
        measured = {
            "letterbox": median_ms(lambda: letterbox(image, net.width, net.height), args.runs),
            "pack": median_ms(lambda: io.write_input(buffers, x), args.runs),
            "unpack": median_ms(lambda: io.read_outputs(buffers), args.runs),
            "decode": median_ms(lambda: decode(outs, net, (w, h), nms=1.0), args.runs),
            "nms": median_ms(lambda: nms_per_class(corrected, probs, 0.45), args.runs) if len(boxes) else 0.0,
        }
        for step in measured:
            print(f"{path.name:<20} {step:<10} {measured[step]:>12.2f} {modelled[step]:>12.2f}")
    # The definitions the fast paths are held to (tests/test_driver.py and the packing tests), for scale.
    from zynqyolo.host.frame import write_tensor
    from zynqyolo.model.ir import INPUT

    image = load_image(photo_paths()[0])
    x = letterbox(image, net.width, net.height)
    slow_pack = median_ms(lambda: write_tensor(buffers, plan.tensors[INPUT], ref.quantize_input(x), plan), args.runs)
    slow_unpack = median_ms(lambda: [ref.dequantize_yolo(y, c) for y, c in zip(net.yolos, io.output_codes(buffers))],
                            args.runs)
    print(f"{photo_paths()[0].name:<20} {'pack via pack_fmap':<10} {slow_pack:>12.2f}  (the definition)")
    print(f"{photo_paths()[0].name:<20} {'unpack via unpack_fmap':<10} {slow_unpack:>12.2f}  (the definition)")
    cand = [c for c, _ in counts]
    cls = [k for _, k in counts]
    print(f"candidates per photo: {min(cand)}-{max(cand)} (median {statistics.median(cand):g}); classes among them: "
          f"{min(cls)}-{max(cls)} (median {statistics.median(cls):g}); the model's defaults: "
          f"{arm.DEFAULT_CANDIDATES} and {arm.DEFAULT_CANDIDATE_CLASSES}")


if __name__ == "__main__":
    main()
