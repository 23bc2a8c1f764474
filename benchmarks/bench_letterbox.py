"""The letterbox on every fetched photo: darknet's exact resize against OpenCV's, in time (measured on
this machine, and modelled for the board's Cortex-A9 by dse/arm.py) and in fidelity (what the cheaper
resize costs in detections).

Run: python benchmarks/bench_letterbox.py [--runs N] [--backend cpu|ref]

Fidelity: mAP@0.5 of the detections of the network on OpenCV-letterboxed input, with the detections
on darknet-letterboxed input as ground truth (``model.metrics.fidelity``'s rule: ground truth at score
0.25, predictions from 0.005), over all fetched photos; plus the largest input-pixel difference.
"""

from __future__ import annotations

import argparse
import platform

from timing import median_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("cpu", "ref"), default="cpu",
                        help="cpu: numpy float32 network (default); ref: the 16-bit integer reference")
    args = parser.parse_args()

    import numpy as np

    from zynqyolo.dse import arm, devices
    from zynqyolo.fetch import model_paths, photo_paths
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.metrics import FIDELITY_GT_CONF, FIDELITY_PRED_CONF, mean_average_precision
    from zynqyolo.model.postprocess import decode
    from zynqyolo.model.preprocess import letterbox, load_image

    cfg, weights_path, _ = model_paths()
    network = load_cfg(cfg)
    if args.backend == "cpu":
        from zynqyolo.model.float_ref import FloatReference

        backend = FloatReference(network, load_weights(weights_path, network))
    else:
        from zynqyolo.model.intref import IntegerReference
        from zynqyolo.workflow import default_model

        backend = IntegerReference(default_model(16))
    cpu_mhz = devices.get_board("zedboard").cpu_clock_mhz
    print(f"letterbox to {network.width}x{network.height}: measured on this machine ({platform.machine()}), "
          f"modelled for the Zedboard's Cortex-A9 ({cpu_mhz:g} MHz, dse/arm.py)")
    print(f"{'photo':<20} {'size':>10} {'darknet ms':>11} {'opencv ms':>10} {'A9 darknet':>11} {'A9 opencv':>10}"
          f" {'max |dx|':>9}")
    gts, preds = [], []
    for path in photo_paths():
        image = load_image(path)
        h, w = image.shape[:2]
        exact = letterbox(image, network.width, network.height)
        cheap = letterbox(image, network.width, network.height, resize="opencv")
        t_exact = median_ms(lambda: letterbox(image, network.width, network.height), args.runs)
        t_cheap = median_ms(lambda: letterbox(image, network.width, network.height, resize="opencv"), args.runs)
        m_exact = arm.letterbox_step(w, h, network, "darknet").ms(cpu_mhz)
        m_cheap = arm.letterbox_step(w, h, network, "opencv").ms(cpu_mhz)
        print(f"{path.name:<20} {w:>4}x{h:<5} {t_exact:>11.1f} {t_cheap:>10.1f} {m_exact:>11.1f} {m_cheap:>10.1f}"
              f" {float(np.abs(exact - cheap).max()):>9.4f}")
        gts.append(decode(backend.forward(exact), network, (w, h), conf=FIDELITY_GT_CONF))
        preds.append(decode(backend.forward(cheap), network, (w, h), conf=FIDELITY_PRED_CONF))
    result = mean_average_precision(gts, preds)
    print(f"fidelity of resize='opencv' ({args.backend} backend, {len(gts)} photos, {result.n_gt} reference "
          f"detections): mAP@0.5 {result.map50:.3f} against the darknet-letterboxed detections (1.000: no loss)")


if __name__ == "__main__":
    main()
