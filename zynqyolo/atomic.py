"""Atomic file writes: write to a temporary file in the target folder, then rename, so an
error or an interruption never leaves a half-written artifact behind. Every way out of the
``with`` block but success removes the temporary file: an exception, Ctrl-C, and SIGTERM (the CLI
turns it into ``errors.Terminated``, which unwinds like KeyboardInterrupt). Several files that
must appear together: ``zynqyolo.outputs.OutputSet``.

The temporary file is opened with mode 0o666 so the user's umask applies (mkstemp's fixed
0600 would not). OS errors become ``ZynqyoloError`` naming the path.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import ZynqyoloError


@contextlib.contextmanager
def atomic_writer(path: str | Path, make_parents: bool = False) -> Iterator[BinaryIO]:
    """``with atomic_writer(p) as fh: fh.write(...)``: ``p`` appears only when the block succeeds."""
    path = Path(path)
    if make_parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZynqyoloError(f"cannot write {path}: cannot create {path.parent}: {exc.strerror or exc}") from None
    elif not path.parent.is_dir():
        raise ZynqyoloError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise ZynqyoloError(f"cannot write {path}: it is a directory")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:  # one try from the file's creation on: a signal between two statements still removes it
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ZynqyoloError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, make_parents: bool = False) -> Path:
    with atomic_writer(path, make_parents) as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, make_parents: bool = False) -> Path:
    return write_bytes_atomic(path, text.encode(), make_parents)
