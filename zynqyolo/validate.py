"""One validation layer for what users hand us: values read from JSON, arrays read from a model
file, text files, images. Every check raises ``InvalidInput`` (a ``ZynqyoloError`` and a
``ValueError``) whose message names the thing checked, the value, and what it must be, so the CLI
prints one line and exits with status 2, and library callers that catch ``ValueError`` still do.

The checks are strict where Python is lax: ``True`` is not an integer, ``16.0`` is not an integer
either, ``"fast"`` is not a number, NaN is not a number a user meant, an array of strings or of
booleans is not an array of codes. Loaders call these instead of ``int(...)``/``float(...)``,
which would accept (and silently convert) all of those.

Users: ``HwConfig`` (dse/hwconfig.py), the quantised-model loader and its metadata
(model/quantize.py, model/fixed.py), class names (model/postprocess.py), images
(model/preprocess.py), COCO annotations (model/metrics.py), the driver's input (host/driver.py).
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any, Iterable

from .errors import InvalidInput

# Pillow refuses images above twice its MAX_IMAGE_PIXELS (about 179 million pixels) with a
# DecompressionBombError; we refuse anything above this, with a message a user can act on.
MAX_IMAGE_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS (its warning threshold)


def _bad(what: str, value: Any, must: str) -> InvalidInput:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidInput(f"{what}={shown}: {must}")


# -- scalars ------------------------------------------------------------------------------------------


def integer(value: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (a Python or numpy integer; not a bool, a float or a string) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _bad(what, value, "must be an integer" + _range(lo, hi))
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _bad(what, value, "must be an integer" + _range(lo, hi))
    return value


def number(value: Any, what: str, lo: float | None = None, hi: float | None = None) -> float:
    """A finite real number (an int or a float; not a bool or a string) in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(what, value, "must be a number" + _range(lo, hi))
    value = float(value)
    if not math.isfinite(value):
        raise _bad(what, value, "must be a finite number" + _range(lo, hi))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _bad(what, value, "must be a number" + _range(lo, hi))
    return value


def boolean(value: Any, what: str) -> bool:
    """``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise _bad(what, value, "must be true or false")
    return value


def text(value: Any, what: str, choices: Iterable[str] | None = None) -> str:
    """A string, optionally one of ``choices``."""
    if not isinstance(value, str):
        raise _bad(what, value, "must be a string")
    if choices is not None:
        choices = tuple(choices)
        if value not in choices:
            raise _bad(what, value, f"must be one of {', '.join(choices)}")
    return value


def mapping(value: Any, what: str, required: Iterable[str] = ()) -> dict:
    """A JSON object (dict) holding every key of ``required``."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{what}: expected a JSON object, got {_kind(value)}")
    missing = [k for k in required if k not in value]
    if missing:
        raise InvalidInput(f"{what}: missing {', '.join(map(repr, missing))}")
    return value


def sequence(value: Any, what: str, length: int | None = None) -> list:
    """A JSON list (list or tuple), optionally of exactly ``length`` items."""
    if not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{what}: expected a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise InvalidInput(f"{what}: expected {length} items, got {len(value)}")
    return list(value)


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", tuple: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# -- arrays -------------------------------------------------------------------------------------------


def int_array(value: Any, what: str, lo: int | None = None, hi: int | None = None,
              shape: tuple[int, ...] | None = None):
    """A numpy array of integers (dtype kind i or u: not bool, float, string or object) with every
    element in ``lo..hi`` and, optionally, exactly ``shape``."""
    import numpy as np

    if not isinstance(value, np.ndarray):
        raise InvalidInput(f"{what}: expected an array, got {_kind(value)}")
    if value.dtype.kind not in "iu":
        raise InvalidInput(f"{what}: an array of {_dtype_name(value.dtype)}; integer codes were expected")
    _check_shape(value, what, shape)
    if value.size and ((lo is not None and value.min() < lo) or (hi is not None and value.max() > hi)):
        raise InvalidInput(f"{what}: values {value.min()}..{value.max()} outside {lo}..{hi}")
    return value


def float_array(value: Any, what: str, lo: float | None = None, hi: float | None = None,
                shape: tuple[int, ...] | None = None):
    """A numpy array of finite floating-point numbers in ``lo..hi`` (an array of integers is refused:
    where floats are expected, integers are almost always pixels or codes in another scale)."""
    import numpy as np

    if not isinstance(value, np.ndarray):
        raise InvalidInput(f"{what}: expected an array, got {_kind(value)}")
    if value.dtype.kind != "f":
        raise InvalidInput(f"{what}: an array of {_dtype_name(value.dtype)}; floating-point numbers were expected")
    _check_shape(value, what, shape)
    if value.size:
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise InvalidInput(f"{what}: holds NaN or infinite values")
        if (lo is not None and value.min() < lo) or (hi is not None and value.max() > hi):
            raise InvalidInput(f"{what}: values {value.min():g}..{value.max():g} outside {lo}..{hi}")
    return value


def _check_shape(value, what: str, shape) -> None:
    if shape is None:
        return
    if value.ndim != len(shape) or any(want is not None and got != want for got, want in zip(value.shape, shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise InvalidInput(f"{what}: shape {tuple(value.shape)}, expected {want}")


def _dtype_name(dtype) -> str:
    if dtype.kind in "iu":
        return f"integers ({dtype})"
    return {"b": "booleans", "f": "floats", "c": "complex numbers", "U": "strings", "S": "bytes",
            "O": "Python objects", "V": "raw records", "M": "dates", "m": "time spans"}.get(dtype.kind, str(dtype))


# -- files --------------------------------------------------------------------------------------------


def text_file(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file; a binary file (NUL bytes, not UTF-8) or an unreadable one is refused."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path}: file not found") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what} {path}: is a directory, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot read it: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise InvalidInput(f"{what} {path}: a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def json_file(path: str | Path, what: str) -> Any:
    """A JSON document (any top-level type: the caller checks it with ``mapping``/``sequence``)."""
    body = text_file(path, what)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"{what} {path}: not valid JSON: {exc}") from None


def class_names(names: list[str], classes: int | None, source: str) -> list[str]:
    """Class names, one per line: non-empty, and exactly ``classes`` of them when the network says."""
    if not names:
        raise InvalidInput(f"class names {source}: the file lists no names")
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise InvalidInput(f"class names {source}: line {blank[0]} is empty; give one name per line")
    if classes is not None and len(names) != classes:
        raise InvalidInput(f"class names {source}: {len(names)} names, but the network detects {classes} classes; "
                           f"give a names file with one line per class")
    return names


def image_size(width: int, height: int, source: str, limit: int = MAX_IMAGE_PIXELS) -> None:
    """Refuse an image too large to decode safely (a decompression bomb, or just too big)."""
    if width * height > limit:
        raise InvalidInput(f"{source}: {width}x{height} pixels ({width * height / 1e6:.0f} Mpx) exceeds the "
                           f"{limit / 1e6:.0f} Mpx limit; scale the picture down (the network sees 416x416)")


__all__ = ["InvalidInput", "MAX_IMAGE_PIXELS", "boolean", "class_names", "float_array", "image_size", "int_array", "integer",
           "json_file", "mapping", "number", "sequence", "text", "text_file"]
