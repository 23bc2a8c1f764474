"""Annotated pictures: labelled boxes drawn on the original image."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from zynqyolo.atomic import atomic_writer
from zynqyolo.errors import ZynqyoloError

from .postprocess import Detection


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated colour per class (golden-ratio hue walk)."""
    hue = (class_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_detections(image: np.ndarray, detections: list[Detection]):
    """Return a PIL image of ``image`` (uint8 H x W x 3) with a box and a 'name 0.87' label per detection."""
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    h, w = image.shape[:2]
    line = max(2, round(min(w, h) / 250))
    font_px = max(12, round(min(w, h) / 40))
    try:
        font = ImageFont.load_default(size=font_px)
    except TypeError:  # Pillow < 10.1: bitmap font only
        font = ImageFont.load_default()
    # Draw the weakest first so the strongest detection's label ends up on top.
    for det in sorted(detections, key=lambda d: d.score):
        colour = class_colour(det.class_id)
        x1, y1, x2, y2 = det.box
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=line)
        label = f"{det.class_name or det.class_id} {det.score:.2f}"
        tx1, ty1, tx2, ty2 = draw.textbbox((0, 0), label, font=font)
        tw, th = tx2 - tx1, ty2 - ty1
        top = y1 - th - 2 * line if y1 - th - 2 * line >= 0 else y1
        left = min(max(x1, 0), max(w - tw - 2 * line, 0))
        draw.rectangle([left, top, left + tw + 2 * line, top + th + 2 * line], fill=colour)
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        draw.text((left + line - tx1, top + line - ty1), label, fill=(0, 0, 0) if luminance > 140 else (255, 255, 255),
                  font=font)
    return canvas


def save_image_atomic(picture, path: str | Path) -> Path:
    """Save a PIL image; the format follows the suffix. Written to a temp file and renamed: no partial file."""
    path = Path(path)
    suffix = path.suffix.lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}
    if suffix not in formats:
        raise ZynqyoloError(f"output {path}: unsupported suffix {suffix!r}; use one of {', '.join(formats)}")
    with atomic_writer(path) as fh:
        picture.save(fh, format=formats[suffix])
    return path
