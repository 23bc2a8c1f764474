"""Video files and cameras through OpenCV (the optional extra ``zynqyolo[video]``:
``opencv-python-headless<5``, which ships FFmpeg's codecs in its wheel on x86 and armhf alike).

- ``VideoSource``: ``cv2.VideoCapture`` on a file or a camera index; iterating gives RGB uint8
  frames (OpenCV decodes to BGR; the rest of zynqyolo speaks RGB);
- ``VideoSink``: ``cv2.VideoWriter`` into a temporary file beside the target, renamed over it only
  when every frame is written (a failed or interrupted run leaves no partial video); the codec
  follows the suffix (``CODECS``): ``.mkv`` is FFV1, lossless, so frames read back bit-identical;
- ``is_video``: by suffix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from zynqyolo.errors import ZynqyoloError

# suffix -> fourcc. FFV1 is lossless; mp4v (MPEG-4 part 2) and MJPG are what every OpenCV build writes.
CODECS = {".mkv": "FFV1", ".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}
VIDEO_SUFFIXES = frozenset(CODECS) | {".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}


def is_video(path) -> bool:
    return Path(str(path)).suffix.lower() in VIDEO_SUFFIXES


def import_cv2():
    try:
        import cv2
    except ImportError:
        raise ZynqyoloError("video and camera input need OpenCV: pip install 'zynqyolo[video]' "
                            "(opencv-python-headless<5)") from None
    try:  # a missing camera is reported by VideoSource in one line; OpenCV's own warnings add nothing
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass
    return cv2


class VideoSource:
    """Frames of a video file or a camera (``camera=N``), as uint8 (H, W, 3) RGB."""

    def __init__(self, path=None, *, camera: int | None = None, max_frames: int | None = None):
        cv2 = import_cv2()
        if (path is None) == (camera is None):
            raise ZynqyoloError("give a video file or a camera index, not both")
        if path is not None:
            path = Path(path)
            if not path.is_file():
                raise ZynqyoloError(f"video not found: {path}")
            self.name = str(path)
            self._cap = cv2.VideoCapture(str(path))
        else:
            self.name = f"camera:{camera}"
            self._cap = cv2.VideoCapture(int(camera))
        if not self._cap.isOpened():
            what = f"camera {camera} (is a camera attached, and /dev/video{camera} readable?)" if path is None \
                else f"{path}: not a video OpenCV can decode"
            raise ZynqyoloError(f"cannot open {what}")
        self.is_camera = path is None
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 25.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = None if self.is_camera or count <= 0 else count
        if max_frames is not None:
            self.frame_count = max_frames if self.frame_count is None else min(self.frame_count, max_frames)
        self.max_frames = max_frames
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._cv2 = cv2

    def __iter__(self) -> Iterator[np.ndarray]:
        n = 0
        while self.max_frames is None or n < self.max_frames:
            ok, frame = self._cap.read()
            if not ok:
                if self.is_camera and n == 0:
                    raise ZynqyoloError(f"{self.name}: the camera gave no frame")
                return
            n += 1
            yield self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoSink:
    """Writes RGB frames to ``path`` (codec by suffix, ``CODECS``); the file appears only on ``close``
    after a clean run (use it as a context manager)."""

    def __init__(self, path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CODECS:
            raise ZynqyoloError(f"output video {self.path}: unsupported suffix {suffix!r}; use one of "
                                f"{', '.join(sorted(CODECS))} (.mkv is lossless FFV1)")
        cv2 = import_cv2()
        self._cv2 = cv2
        self.size = tuple(int(v) for v in size)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{suffix}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*CODECS[suffix]), float(fps), self.size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise ZynqyoloError(f"OpenCV cannot write {CODECS[suffix]} video to {self.path}")
        self.frames = 0

    def write(self, image) -> None:
        frame = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
        if frame.shape[1::-1] != self.size:
            raise ZynqyoloError(f"frame of {frame.shape[1]}x{frame.shape[0]} for a {self.size[0]}x{self.size[1]} video")
        self._writer.write(self._cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), self._cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self, keep: bool = True) -> None:
        self._writer.release()
        if keep and self.frames:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(keep=exc_type is None)


def write_video(path, frames, fps: float = 5.0) -> Path:
    """Write RGB uint8 frames (all one size) to ``path``; ``.mkv`` is lossless."""
    frames = list(frames)
    if not frames:
        raise ZynqyoloError("no frames to write")
    with VideoSink(path, fps, frames[0].shape[1::-1]) as sink:
        for frame in frames:
            sink.write(frame)
    return Path(path)
