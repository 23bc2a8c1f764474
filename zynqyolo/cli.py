"""The ``zynqyolo`` command line. Each subcommand lives in ``zynqyolo/commands/<name>.py`` and
provides ``register(subparsers)`` (adds its parser, sets ``func``) so the heavy imports of one
command never slow down another."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading

from . import __version__
from .errors import Terminated, ZynqyoloError

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


@contextlib.contextmanager
def _sigterm_unwinds():
    """While a command runs, SIGTERM raises ``Terminated`` in the main thread, so every ``with``
    block unwinds (atomic writers and staged folders remove their temporary files) and the command
    exits cleanly with status 143. A second SIGTERM during that clean-up is ignored, so the clean-up
    finishes. Outside the main thread (signals cannot be handled there) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_unwinds():
            return int(args.func(args) or 0)
    except ZynqyoloError as exc:
        print(f"zynqyolo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"zynqyolo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"zynqyolo {args.command}: terminated (SIGTERM); nothing was left half-written", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # the reader of stdout went away (`zynqyolo estimate --json | head`): stop quietly, as a
        # pipeline's writer does, and keep the interpreter's final flush from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    raise SystemExit(main())
