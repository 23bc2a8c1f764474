"""``zynqyolo export-onnx``: export the float model of a darknet cfg/weights pair to ONNX."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("export-onnx", help="export the float model (darknet cfg + weights) to ONNX",
                       description="Build the float32 model from a darknet cfg and weights and export it to ONNX "
                                   "(input 'image' float32 (N, 3, H, W) in [0, 1]; one output per yolo layer, named "
                                   "yolo_<layer index>). The network's hash is stored in the file so that loading "
                                   "it for another network fails. Default model: the fetched yolov3-tiny.")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    p.add_argument("--cfg", metavar="CFG", help="darknet cfg (default: the fetched yolov3-tiny.cfg)")
    p.add_argument("--weights", metavar="W", help="darknet weights matching --cfg (default: the fetched weights)")
    p.add_argument("--width", type=int, metavar="PX", help="input width, a multiple of 32 (default: from the cfg)")
    p.add_argument("--height", type=int, metavar="PX", help="input height, a multiple of 32 (default: from the cfg)")
    p.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset version (default: 17)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import ZynqyoloError
    from ..model import load_cfg, load_weights
    from ..model.onnx_backend import DEFAULT_OPSET, export_onnx

    if (args.cfg is None) != (args.weights is None):
        raise ZynqyoloError("give --cfg and --weights together (or neither, for the fetched yolov3-tiny)")
    output = Path(args.output)
    if output.is_dir():
        raise ZynqyoloError(f"--output {output} is a directory; give a file name such as {output / 'model.onnx'}")
    from ..outputs import file_destination

    file_destination(output, "--output", inputs=[p for p in (args.cfg, args.weights) if p is not None])
    if args.cfg is None:
        from ..fetch import model_paths

        cfg_path, weights_path, _ = model_paths()
    else:
        cfg_path, weights_path = Path(args.cfg), Path(args.weights)
    network = load_cfg(cfg_path, width=args.width, height=args.height)
    weights = load_weights(weights_path, network)
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    export_onnx(network, weights, output, opset=opset)
    outputs = ", ".join(f"yolo_{y.index} {y.out_shape.c}x{y.out_shape.h}x{y.out_shape.w}" for y in network.yolos)
    print(f"wrote {output} ({output.stat().st_size:,} bytes): input image Nx{network.channels}x{network.height}x"
          f"{network.width}, outputs {outputs}, opset {opset}, network {network.content_hash[:12]}")
    print(f"cfg {cfg_path}, weights {weights_path}", file=sys.stderr)
    return 0
