"""One output discipline for every command that writes files.

1. **Check destinations before doing the work** (``file_destination``, ``dir_destination``): a
   destination that is a directory (or, for a folder, a file), whose folder does not exist or cannot
   be written, or that is one of the command's inputs, is refused with one line before anything
   is computed. Writability is probed by creating (and removing) a file, so read-only mounts,
   immutable folders and permissions all count, whoever runs the command.
2. **Never write over an input**: ``file_destination(..., inputs=...)`` compares with the inputs as
   files (same inode, so a symlink or a hard link to an input counts as the input).
3. **Colliding outputs get distinct names** (``distinct_names``): two inputs ``a/x.jpg`` and
   ``b/x.jpg`` written into one folder become ``x_det.png`` and ``x_det-2.png``; no output takes the
   name of another or of an input.
4. **Finish or remove every write, on every way out** (``OutputSet``): a command that writes several
   files stages each one as a temporary file beside its destination and renames them all into place
   only when the command has succeeded; an error, Ctrl-C or SIGTERM (the CLI turns it into
   ``errors.Terminated``) removes them all. Single files use ``atomic.atomic_writer``, which follows
   the same rule.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence

from .errors import ZynqyoloError


def _probe(directory: Path, what: str, target: Path) -> None:
    """Create and remove a file in ``directory``: the only test of writability that every kind of
    refusal (permissions, read-only mount, immutable folder, a full quota) answers truthfully."""
    probe = directory / f".zynqyolo-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ZynqyoloError(f"{what} {target}: cannot write into {directory} ({exc.strerror or exc}); "
                            "choose a folder you can write to") from None
    os.close(fd)
    probe.unlink(missing_ok=True)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def file_destination(path: str | Path, what: str = "output", inputs: Iterable[str | Path] = (),
                     suffixes: Sequence[str] | None = None, make_parents: bool = False) -> Path:
    """Check that ``path`` can receive a new file (module docstring, 1 and 2); return it.

    ``suffixes``: the accepted file name endings (lower case, with the dot); ``make_parents``: the
    folder may be missing (it is created when the file is written) if it can be created."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ZynqyoloError(f"{what} {path}: unsupported file type {path.suffix or '(none)'!r}; use "
                            f"{', '.join(suffixes)}")
    if path.is_dir():
        raise ZynqyoloError(f"{what} {path} is a directory; give a file name")
    for source in inputs:
        source = Path(source)
        if _same_file(path, source) or path.absolute() == source.absolute():
            raise ZynqyoloError(f"{what} {path} is also an input of this command; writing it would destroy the "
                                "input: choose another output name")
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            raise ZynqyoloError(f"{what} {path}: {parent} is not a directory")
        if not make_parents:
            raise ZynqyoloError(f"{what} {path}: directory {parent} does not exist")
        ancestor = _existing_ancestor(parent)
        if not ancestor.is_dir():
            raise ZynqyoloError(f"{what} {path}: {ancestor} is not a directory")
        _probe(ancestor, what, path)
        return path
    _probe(parent, what, path)
    return path


def dir_destination(path: str | Path, what: str = "output directory") -> Path:
    """Check that ``path`` is, or can become, a folder we can write into; nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ZynqyoloError(f"{what} {path} exists and is not a directory; give a directory (or remove the file)")
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise ZynqyoloError(f"{what} {path}: {ancestor} is not a directory")
    _probe(ancestor, what, path)
    return path


def make_dir(path: str | Path, what: str = "output directory") -> Path:
    """``mkdir -p`` with the failure as one line."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZynqyoloError(f"cannot create {what} {path}: {exc.strerror or exc}") from None
    return path


def distinct_names(directory: str | Path, stems: Sequence[str], suffix: str | Sequence[str],
                   inputs: Iterable[str | Path] = ()) -> list[Path]:
    """``directory / (stem + suffix)`` for each stem (``suffix``: one for all, or one per stem), made
    distinct: a name already given to an earlier stem, or naming one of ``inputs``, becomes
    ``<stem>-2<suffix>``, ``-3``, ... (never the name another stem gets on its own). Names are
    compared case-insensitively, so the result holds on case-insensitive file systems too."""
    directory = Path(directory)
    inputs = [Path(p) for p in inputs]
    suffixes = [suffix] * len(stems) if isinstance(suffix, str) else list(suffix)
    wanted = [directory / f"{stem}{sfx}" for stem, sfx in zip(stems, suffixes)]
    natural = {str(p).lower() for p in wanted}
    taken: set[str] = set()

    def free(p: Path) -> bool:
        return str(p).lower() not in taken and not any(_same_file(p, i) or p.absolute() == i.absolute()
                                                       for i in inputs)

    out = []
    for stem, sfx, first in zip(stems, suffixes, wanted):
        path, k = first, 1
        while not free(path) or (k > 1 and str(path).lower() in natural):
            k += 1
            path = directory / f"{stem}-{k}{sfx}"
        taken.add(str(path).lower())
        out.append(path)
    return out


class OutputSet:
    """Several files that appear together or not at all (module docstring, 4).

    ::

        with OutputSet() as outputs:
            with outputs.open(design_path) as fh: ...
            outputs.write_bytes(plot_path, data)
        # here both exist; after an exception neither does (nor any temporary file)

    Each file is written to ``.<name>.<pid>.<random>.part`` beside its destination; the renames
    happen when the ``with`` block ends without an exception."""

    def __init__(self):
        self._staged: list[tuple[Path, Path]] = []  # (temporary, destination)
        self._committed = False

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, kind, value, tb) -> bool:
        if kind is None:
            self.commit()
        else:
            self.discard()
        return False

    @contextlib.contextmanager
    def open(self, path: str | Path, make_parents: bool = False) -> Iterator[BinaryIO]:
        """A binary file handle for ``path``'s staged content."""
        path = Path(path)
        if make_parents:
            make_dir(path.parent, "folder")
        if any(dest == path for _, dest in self._staged):
            raise ZynqyoloError(f"{path} is written twice by one command")
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
        self._staged.append((tmp, path))  # first: however the block ends, discard() finds the file
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as fh:
                yield fh
        except OSError as exc:
            raise ZynqyoloError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write_bytes(self, path: str | Path, data: bytes, make_parents: bool = False) -> Path:
        with self.open(path, make_parents) as fh:
            fh.write(data)
        return Path(path)

    def write_text(self, path: str | Path, body: str, make_parents: bool = False) -> Path:
        return self.write_bytes(path, body.encode(), make_parents)

    def commit(self) -> list[Path]:
        done = []
        try:
            for tmp, dest in self._staged:
                os.replace(tmp, dest)
                done.append(dest)
        except OSError as exc:
            self.discard()
            raise ZynqyoloError(f"cannot write {dest}: {exc.strerror or exc}") from None
        except BaseException:
            self.discard()
            raise
        self._committed = True
        self._staged = []
        return done

    def discard(self) -> None:
        for tmp, _ in self._staged:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
        self._staged = []


__all__ = ["OutputSet", "dir_destination", "distinct_names", "file_destination", "make_dir"]
