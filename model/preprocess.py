"""Image loading and darknet-exact preprocessing (letterbox to the network size).

Darknet's pipeline, reproduced in float32 numpy:

1. load as 8-bit RGB, scaled by 1/255 (``load_image_color``);
2. ``letterbox_image``: keep the aspect ratio, new size by integer division
   (``new_h = h * net_w / w`` when the width limits), resize with darknet's own
   two-pass bilinear ``resize_image`` (corner-aligned: scale = (in - 1) / (out - 1)),
   fill the rest with 0.5 grey and embed at ((net_w - new_w) / 2, (net_h - new_h) / 2)
   with integer division.

Image modes a user will throw at it are handled, not rejected: grayscale is replicated
to three channels, 16-bit samples keep their high byte (what stb_image gives darknet),
alpha is dropped, palette images are expanded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zynqyolo import validate
from zynqyolo.errors import ZynqyoloError


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 (H, W, 3) RGB. Raises ZynqyoloError for anything unreadable."""
    return _read_image(path, decode=True)


def check_image(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file, read without decoding its pixels: a missing file, a file
    that is no image, and a picture too large to decode are refused as ``load_image`` refuses them
    (what a command checks before its work; truncated pixel data shows only when decoded)."""
    return _read_image(path, decode=False)


def _read_image(path: str | Path, decode: bool):
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ZynqyoloError(f"image not found: {path}")
    if not path.is_file():
        raise ZynqyoloError(f"not a file: {path}")
    try:
        with warnings.catch_warnings():  # Pillow's DecompressionBombWarning: validate.image_size decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                validate.image_size(im.width, im.height, str(path))  # before decoding: a bomb is refused unread
                if not decode:
                    return im.width, im.height
                im.load()
                return to_rgb8(im, str(path))
    except Image.DecompressionBombError:  # Pillow refuses the largest while opening, before our check
        raise ZynqyoloError(f"{path}: the image has more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} Mpx, too large "
                            f"to decode safely (the limit is {validate.MAX_IMAGE_PIXELS / 1e6:.0f} Mpx); scale the "
                            "picture down (the network sees 416x416)") from None
    except UnidentifiedImageError:
        raise ZynqyoloError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ZynqyoloError(f"{path}: cannot decode image: {exc}") from None


def to_rgb8(im, source: str = "<image>") -> np.ndarray:
    """Convert a PIL image of any common mode to uint8 (H, W, 3) RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        wide = np.asarray(im, dtype=np.int64)
        # 16-bit samples: keep the high byte, as stb_image does when darknet asks for 8 bits.
        # Mode "I" may hold 16-bit data (PNG) or 32-bit data: scale by the container's range.
        shift = 8 if mode != "I" or wide.max(initial=0) <= 0xFFFF else 24
        gray = np.clip(wide >> shift, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":  # float samples: [0, 1] or [0, 255]
        f = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 255.0 if f.max(initial=0.0) <= 1.0 else 1.0
        gray = np.clip(np.round(f * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")  # alpha dropped below, as stb_image does with 3 requested channels
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ZynqyoloError(f"{source}: unsupported image layout {rgb.shape} (mode {mode})")
    return rgb


def resize_darknet(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """darknet ``resize_image`` on a float32 (C, H, W) image: horizontal pass, then vertical."""
    c, ih, iw = image.shape
    img = image.astype(np.float32, copy=False)
    # Horizontal pass into (C, ih, width).
    if iw == 1 or width == 1:
        part = np.repeat(img[:, :, -1:], width, axis=2)
    else:
        w_scale = np.float32(iw - 1) / np.float32(width - 1)
        sx = np.arange(width, dtype=np.float32) * w_scale
        ix = np.minimum(sx.astype(np.int64), iw - 2)
        dx = (sx - ix.astype(np.float32)).astype(np.float32)
        part = (np.float32(1) - dx) * img[:, :, ix] + dx * img[:, :, ix + 1]
        part[:, :, width - 1] = img[:, :, iw - 1]  # darknet takes the last column as is
    part = part.astype(np.float32, copy=False)
    # Vertical pass into (C, height, width).
    if ih == 1 or height == 1:
        return np.repeat(part[:, -1:, :] if ih == 1 else part[:, :1, :], height, axis=1)
    h_scale = np.float32(ih - 1) / np.float32(height - 1)
    sy = np.arange(height, dtype=np.float32) * h_scale
    iy = sy.astype(np.int64)
    dy = (sy - iy.astype(np.float32)).astype(np.float32)
    out = (np.float32(1) - dy)[None, :, None] * part[:, np.minimum(iy, ih - 1), :]
    # darknet adds the lower neighbour for every row but the last one.
    rows = np.arange(height - 1)
    out[:, rows, :] += dy[rows][None, :, None] * part[:, np.minimum(iy[rows] + 1, ih - 1), :]
    return out.astype(np.float32, copy=False)


def letterbox_size(image_w: int, image_h: int, net_w: int, net_h: int) -> tuple[int, int]:
    """(new_w, new_h) of the resized image inside the letterbox, darknet's integer arithmetic."""
    if net_w / image_w < net_h / image_h:
        return net_w, (image_h * net_w) // image_w
    return (image_w * net_h) // image_h, net_h


# The two ways to letterbox (``letterbox(..., resize=...)``):
# - "darknet": darknet's own two-pass bilinear resize, bit for bit (the default; what every test and
#   the fidelity figures use);
# - "opencv": OpenCV's ``cv2.resize(INTER_LINEAR)`` on the 8-bit image (NEON-vectorised on the
#   board's ARM, several times cheaper), then the same embedding. Its pixels differ from darknet's
#   (half-pixel centres instead of corner alignment, 11-bit fixed-point weights, rounding to 8 bits),
#   so detections can move a little: ``benchmarks/bench_letterbox.py`` measures the cost as the
#   mAP@0.5 of its detections against darknet-letterboxed ones on the fetched photos.
RESIZE_METHODS = ("darknet", "opencv")

# f32(u8) / f32(255) for every 8-bit value: the table equals darknet's per-pixel division exactly.
_U8_TO_F32 = (np.arange(256, dtype=np.float32) / np.float32(255.0)).astype(np.float32)


class _ResizePlan:
    """Index maps and weights of darknet's resize from (iw, ih) to (new_w, new_h), computed once
    per image size (a video's frames share one): which source rows the vertical pass reads (only
    those are resized horizontally), the two source columns and the weight of every output column,
    and the two rows and weight of every output row, as ``resize_darknet`` computes them."""

    def __init__(self, iw: int, ih: int, new_w: int, new_h: int):
        f32 = np.float32
        w_scale = f32(iw - 1) / f32(new_w - 1)
        sx = np.arange(new_w, dtype=np.float32) * w_scale
        self.ix = np.minimum(sx.astype(np.intp), iw - 2)
        dx = (sx - self.ix.astype(np.float32)).astype(np.float32)
        self.ax = (f32(1) - dx)[None, :, None]
        self.dx = dx[None, :, None]
        self.last_col = iw - 1
        h_scale = f32(ih - 1) / f32(new_h - 1)
        sy = np.arange(new_h, dtype=np.float32) * h_scale
        iy = sy.astype(np.int64)
        dy = (sy - iy.astype(np.float32)).astype(np.float32)
        top, bottom = np.minimum(iy, ih - 1), np.minimum(iy[:-1] + 1, ih - 1)
        self.rows = np.unique(np.concatenate([top, bottom]))
        self.all_rows = self.rows.size == ih
        self.rows_col = self.rows[:, None]
        self.top = np.searchsorted(self.rows, top)
        self.bottom = np.searchsorted(self.rows, bottom)
        self.ay = (f32(1) - dy)[:, None, None]
        self.dy = dy[:-1, None, None]

    def resize(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 (ih, iw, 3) -> float32 (new_h, new_w, 3), equal to ``resize_darknet`` of image / 255;
        written into ``out`` (any (new_h, new_w, 3) float32 view, e.g. the letterbox's region) if given."""
        # Only the rows the vertical pass reads are resized horizontally.
        rows = slice(None) if self.all_rows else self.rows_col
        part = _U8_TO_F32[image[rows, self.ix]]
        part *= self.ax
        right = _U8_TO_F32[image[rows, self.ix + 1]]
        right *= self.dx
        part += right
        part[:, -1] = _U8_TO_F32[image[self.rows, self.last_col]]  # darknet takes the last column as is
        if out is None:
            out = np.empty((self.top.size, self.ix.size, 3), dtype=np.float32)
        np.multiply(part[self.top], self.ay, out=out)
        below = part[self.bottom]
        below *= self.dy
        np.add(out[:-1], below, out=out[:-1])  # every row but the last one adds its lower neighbour
        return out


_PLANS: dict[tuple[int, int, int, int], _ResizePlan] = {}


def _resize_plan(iw: int, ih: int, new_w: int, new_h: int) -> _ResizePlan:
    key = (iw, ih, new_w, new_h)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 32:
            _PLANS.clear()
        plan = _PLANS[key] = _ResizePlan(iw, ih, new_w, new_h)
    return plan


def darknet_resize_rows(iw: int, ih: int, new_w: int, new_h: int) -> int:
    """How many source rows ``letterbox`` resizes horizontally (those the vertical pass reads)."""
    if min(iw, ih, new_w, new_h) < 2:
        return ih
    return int(_resize_plan(iw, ih, new_w, new_h).rows.size)


def _import_cv2():
    try:
        import cv2
    except ImportError:
        raise ZynqyoloError("resize='opencv' needs OpenCV: pip install 'zynqyolo[video]' "
                            "(opencv-python-headless<5)") from None
    return cv2


def letterbox(image: np.ndarray, width: int, height: int, resize: str = "darknet") -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float32 (3, height, width) in [0, 1], darknet ``letterbox_image``.

    ``resize="darknet"`` is bit-exact with darknet (``resize_darknet``); ``"opencv"`` resizes with
    OpenCV instead (cheaper, not exact: see ``RESIZE_METHODS``)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ZynqyoloError(f"letterbox expects a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    if resize not in RESIZE_METHODS:
        raise ZynqyoloError(f"resize={resize!r}: choose one of {', '.join(RESIZE_METHODS)}")
    ih, iw = image.shape[:2]
    new_w, new_h = letterbox_size(iw, ih, width, height)
    dx, dy = (width - new_w) // 2, (height - new_h) // 2
    boxed = np.empty((3, height, width), dtype=np.float32)
    rows = slice(dy, dy + new_h)
    for band in (boxed[:, :dy], boxed[:, dy + new_h:], boxed[:, rows, :dx], boxed[:, rows, dx + new_w:]):
        band.fill(0.5)  # the grey border only: the resized image fills the rest
    region = boxed[:, dy:dy + new_h, dx:dx + new_w]
    if resize == "opencv":
        cv2 = _import_cv2()
        small = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        resized = _U8_TO_F32[small]
    elif min(iw, ih, new_w, new_h) < 2:  # degenerate sizes: the general two-pass code
        chw = np.transpose(image, (2, 0, 1)).astype(np.float32) / np.float32(255.0)
        region[...] = resize_darknet(chw, new_w, new_h)
        return boxed
    else:
        resized = _resize_plan(iw, ih, new_w, new_h).resize(image)
    region[...] = resized.transpose(2, 0, 1)  # one transposing copy (the passes above stay contiguous)
    return boxed


def preprocess(path: str | Path, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Load and letterbox one image: (float32 (3, height, width), the uint8 original)."""
    image = load_image(path)
    return letterbox(image, width, height), image
