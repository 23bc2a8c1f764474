"""The ``zynqyolo`` command line. Each subcommand lives in ``zynqyolo/commands/<name>.py`` and
provides ``register(subparsers)`` (adds its parser, sets ``func``) so the heavy imports of one
command never slow down another."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import ZynqyoloError

# Module names under zynqyolo.commands, in the order shown by --help.
COMMANDS = ("fetch", "detect", "export_onnx", "quantize", "fidelity", "eval_coco", "dse", "estimate", "hls", "build",
            "bench", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zynqyolo",
        description="YOLOv3-tiny on Xilinx Zynq FPGAs: models, HLS kernels, design-space explorer, host driver.",
    )
    parser.add_argument("--version", action="version", version=f"zynqyolo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"zynqyolo.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ZynqyoloError as exc:
        print(f"zynqyolo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zynqyolo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
