"""``zynqyolo quantize``: calibrate fixed-point formats and write the quantised-model artifact."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ZynqyoloError


def register(sub) -> None:
    from ..model.quantize import DEFAULT_METHOD, METHODS, SUPPORTED_BITS

    p = sub.add_parser("quantize", help="calibrate fixed-point formats, write a quantised model (.npz)",
                       description="Fold batch-norm, calibrate per-layer fixed-point formats on images with the "
                                   "numpy float reference, quantise weights and biases, and write one hashed .npz "
                                   "that the integer reference, the HLS header generator and the host driver read.")
    p.add_argument("--bits", type=int, choices=SUPPORTED_BITS, default=16,
                   help="datapath width: 16 (default) or 8 (weights and activations; wider accumulators)")
    p.add_argument("--calib", nargs="+", type=Path, metavar="IMAGE",
                   help="calibration images (default: the fetched test photos)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="output .npz file")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help=f"frac selection: mse (least squared error) or maxabs (default: {DEFAULT_METHOD})")
    p.add_argument("--per-layer", action="store_true",
                   help="one weight format per layer instead of one per output channel")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg)")
    p.add_argument("--weights", type=Path, help="darknet weights (default: the fetched yolov3-tiny.weights)")
    p.add_argument("--width", type=int, help="network input width, a multiple of 32 (default: the cfg's)")
    p.add_argument("--height", type=int, help="network input height, a multiple of 32 (default: the cfg's)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fetch import model_paths, photo_paths
    from ..model.cfg import load_cfg
    from ..model.preprocess import check_image
    from ..model.quantize import calibrate, save_model
    from ..model.weights import load_weights

    from ..outputs import file_destination

    out = args.output
    if out.is_dir():
        example = out / f"yolov3-tiny-q{args.bits}.npz"
        raise ZynqyoloError(f"-o {out} is a directory; give a file name such as {example}")
    inputs = [p for p in (args.cfg, args.weights, *(args.calib or ())) if p is not None]
    file_destination(out, "-o", inputs=inputs)  # writable, and none of the inputs: checked before calibrating
    cfg, weights = args.cfg, args.weights
    if cfg is None or weights is None:
        default_cfg, default_weights, _ = model_paths()
        cfg, weights = cfg or default_cfg, weights or default_weights
    network = load_cfg(cfg, width=args.width, height=args.height)
    params = load_weights(weights, network)
    images = list(args.calib) if args.calib else photo_paths()
    for image in images:  # every calibration image readable before the first pass starts
        check_image(image)
    model = calibrate(network, params, images, bits=args.bits, method=args.method, per_channel=not args.per_layer,
                      log=lambda msg: print(msg, file=sys.stderr))
    print(model.summary())
    save_model(model, out)
    print(f"wrote {out} ({model.bits}-bit, {len(images)} calibration images, content hash {model.content_hash[:16]})")
    return 0
