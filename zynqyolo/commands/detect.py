"""``zynqyolo detect``: run a backend on images, videos or a camera, draw labelled boxes, print
detections (``--json``: one JSON object per line, naming its input:
``{"image": PATH, "detections": [...]}`` per image, ``{"image": PATH, "frame": K, "detections":
[...]}`` per video or camera frame, K from 0; a camera's PATH is ``camera:N``).

Every input goes through one ``zynqyolo.Detector``; videos and cameras are read with OpenCV
(``zynqyolo[video]``) and run through ``Detector.detect_stream`` (the letterbox and decode of
neighbouring frames overlap the accelerator's work), with a progress bar and the frame rate on
stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import ZynqyoloError


def register(sub) -> None:
    from ..backends import BACKENDS
    from ..model.postprocess import DEFAULT_CONF, DEFAULT_NMS

    p = sub.add_parser("detect", help="detect objects in images, videos or a camera",
                       description="Run YOLOv3-tiny on images, video files or a camera with the chosen backend; "
                                   "draw and/or print detections.")
    p.add_argument("images", nargs="*", type=Path, metavar="INPUT",
                   help="images, and video files (.mp4, .avi, .mkv, ...: read with OpenCV)")
    p.add_argument("--camera", type=int, metavar="N", help="read camera N (OpenCV VideoCapture(N)) instead")
    p.add_argument("--frames", type=int, metavar="K", help="stop after K frames of each video or of the camera")
    p.add_argument("--backend", default="torch", choices=list(BACKENDS),
                   help="torch: PyTorch float; onnx: onnxruntime; ref: bit-exact integer reference "
                        "(needs --model); csim: the HLS kernels in C simulation; emu: the host driver on the emulated "
                        "board; pynq: the host driver on a PYNQ board (needs --bitstream); cpu: numpy float32 only "
                        "(default: torch)")
    p.add_argument("-o", "--output", type=Path,
                   help="annotated picture (.png/.jpg) or video (.mp4/.avi, or .mkv: lossless); a directory when "
                        "several inputs are given")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image or frame: {\"image\": PATH, [\"frame\": K,] \"detections\": "
                        "[...]} (JSON Lines)")
    p.add_argument("--resize", choices=("darknet", "opencv"), default="darknet",
                   help="letterbox resize: darknet (bit-exact, default) or opencv (cheaper on the board's ARM, "
                        "not exact)")
    p.add_argument("--conf", type=float, default=DEFAULT_CONF, help=f"score threshold (darknet: {DEFAULT_CONF})")
    p.add_argument("--nms", type=float, default=DEFAULT_NMS, help=f"NMS IoU threshold (darknet: {DEFAULT_NMS})")
    p.add_argument("--model", type=Path, help="quantised model file (ref/csim backends) or an .onnx file (onnx)")
    p.add_argument("--design", type=Path, help="design point JSON (csim/emu/pynq backends)")
    p.add_argument("--bitstream", type=Path, help="bitstream folder written by 'zynqyolo build' (pynq backend)")
    p.add_argument("--cfg", type=Path, help="darknet cfg (default: the fetched yolov3-tiny.cfg)")
    p.add_argument("--weights", type=Path, help="darknet weights (default: the fetched yolov3-tiny.weights)")
    p.add_argument("--names", type=Path, help="class names file (default: the fetched coco.names)")
    p.set_defaults(func=run)


def _outputs(inputs: list[Path], output: Path | None) -> list[Path | None]:
    """The annotated copies' paths, checked before any work (``zynqyolo.outputs``): writable, never
    an input, distinct when two inputs share a name."""
    from ..outputs import dir_destination, distinct_names, file_destination
    from ..video import is_video

    if output is None:
        return [None] * len(inputs)
    if len(inputs) == 1 and not output.is_dir():
        return [file_destination(output, "-o", inputs=inputs)]
    if output.exists() and not output.is_dir():
        raise ZynqyoloError(f"-o {output}: with several inputs, -o must be a directory")
    dir_destination(output, "-o")
    suffixes = [(p.suffix.lower() if p.suffix.lower() in (".mp4", ".avi", ".mkv") else ".mp4") if is_video(p)
                else ".png" for p in inputs]
    return distinct_names(output, [f"{p.stem}_det" for p in inputs], suffixes, inputs=inputs)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _print_detections(name: str, dets, how: str, out=None) -> None:
    print(f"{name}: {len(dets)} detections ({how})" + (f" -> {out}" if out else ""))
    for d in dets:
        x1, y1, x2, y2 = d.box
        print(f"  {d.class_name:<16} {d.score:5.3f}  [{x1:7.1f} {y1:7.1f} {x2:7.1f} {y2:7.1f}]")


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[fps]:5.1f} fps"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)


def _run_stream(detector, source, out: Path | None, as_json: bool) -> int:
    """One video or the camera through ``detect_stream``: a JSON line per frame, an annotated video."""
    import time

    from ..video import VideoSink

    sink = VideoSink(out, source.fps, source.size) if out is not None else None
    n, start = 0, time.perf_counter()
    try:
        with _progress() as progress:
            task = progress.add_task(Path(source.name).name, total=source.frame_count, fps=0.0)
            for image, dets in detector.detect_stream(source, with_images=True):
                if sink is not None:
                    sink.write(detector.draw(image, dets))
                if as_json:
                    print(json.dumps({"image": source.name, "frame": n, "detections": [d.to_json() for d in dets]}),
                          flush=True)
                n += 1
                progress.update(task, advance=1, fps=n / max(time.perf_counter() - start, 1e-9))
    except BaseException:
        if sink is not None:
            sink.close(keep=False)
        raise
    finally:
        source.close()
    if sink is not None:
        sink.close()
    if not as_json:
        fps = n / max(time.perf_counter() - start, 1e-9)
        print(f"{source.name}: {n} frames, {fps:.1f} fps ({detector.name}, measured on this machine)"
              + (f" -> {out}" if out else ""))
    return n


def run(args) -> int:
    from .. import Detector
    from ..video import VideoSource, is_video

    # Validate everything before any work so a bad argument leaves no output behind.
    if not 0.0 <= args.conf < 1.0:
        raise ZynqyoloError(f"--conf must be in [0, 1), got {args.conf}")
    if not 0.0 < args.nms <= 1.0:
        raise ZynqyoloError(f"--nms must be in (0, 1], got {args.nms}")
    if args.frames is not None and args.frames < 1:
        raise ZynqyoloError(f"--frames must be at least 1, got {args.frames}")
    if (args.camera is None) == (not args.images):
        raise ZynqyoloError("give images or videos to detect in, or --camera N (not both)")
    inputs = list(args.images) if args.camera is None else [Path(f"camera:{args.camera}")]
    outputs = _outputs(inputs, args.output)
    videos = [args.camera is not None or is_video(p) for p in inputs]
    for out, video in zip(outputs, videos):
        if out is None:
            continue
        if video and out.suffix.lower() not in (".mp4", ".avi", ".mkv", ".m4v", ".mov"):
            raise ZynqyoloError(f"output {out}: a video's annotated copy is a video; use .mp4, .avi or .mkv")
        if not video and out.suffix.lower() not in IMAGE_SUFFIXES:
            raise ZynqyoloError(f"output {out}: unsupported suffix; use .png or .jpg")
    images = {}
    sources = {}
    for k, (path, video) in enumerate(zip(inputs, videos)):
        if not video:
            from ..model.preprocess import load_image

            images[k] = load_image(path)
    for k, (path, video) in enumerate(zip(inputs, videos)):  # opened last: a camera is not held during the checks
        if video:
            sources[k] = (VideoSource(camera=args.camera, max_frames=args.frames) if args.camera is not None
                          else VideoSource(path, max_frames=args.frames))
    try:
        detector = Detector(args.backend, model=args.model, design=args.design, bitstream=args.bitstream,
                            cfg=args.cfg, weights=args.weights, names=args.names, conf=args.conf, nms=args.nms,
                            resize=args.resize, log=lambda msg: print(msg, file=sys.stderr))
        from ..model.draw import save_image_atomic

        if args.output is not None and len(inputs) > 1:
            from ..outputs import make_dir

            make_dir(args.output, "-o directory")
        for k, (path, out) in enumerate(zip(inputs, outputs)):
            if k in sources:
                _run_stream(detector, sources.pop(k), out, args.json)
                continue
            image = images.pop(k)
            dets = detector.detect(image)
            if out is not None:
                save_image_atomic(detector.draw(image, dets), out)
            if args.json:
                print(json.dumps({"image": str(path), "detections": [d.to_json() for d in dets]}))
            else:
                _print_detections(str(path), dets, f"{detector.name}, {detector.timings['total_ms']:.0f} ms", out)
    finally:
        for source in sources.values():
            source.close()
    return 0
