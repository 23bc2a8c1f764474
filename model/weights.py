"""Darknet ``.weights`` loader.

Layout: int32 major, minor, revision; ``seen`` as uint64 when major*10+minor >= 2 (else
uint32); then per convolutional layer, in cfg order: biases[n], and when batch-normalised
scales[n], rolling_mean[n], rolling_variance[n]; then weights[n][c][k][k], all float32.
The float count must match the cfg exactly, neither fewer (truncated) nor more (another cfg).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zynqyolo.errors import ZynqyoloError

from .ir import Network

# darknet normalize_cpu(): (x - mean) / sqrt(variance + .000001f)
BN_EPSILON = 1e-6


@dataclass(frozen=True)
class ConvParams:
    """Float parameters of one conv layer as darknet stores them."""

    weights: np.ndarray  # (filters, c, k, k) float32
    biases: np.ndarray  # (filters,)
    scales: np.ndarray | None = None  # batch-norm gamma
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """Batch-norm folded into (weights, bias), float64, darknet's formula:
        y = scale * (conv - mean) / sqrt(var + eps) + bias."""
        w = self.weights.astype(np.float64)
        b = self.biases.astype(np.float64)
        if self.scales is None:
            return w, b
        # darknet computes sqrt in float32: sqrtf(variance + .000001f)
        std = np.sqrt(self.variance.astype(np.float32) + np.float32(BN_EPSILON)).astype(np.float64)
        k = self.scales.astype(np.float64) / std
        return w * k[:, None, None, None], b - self.mean.astype(np.float64) * k


@dataclass(frozen=True)
class Weights:
    header: tuple[int, int, int, int]  # major, minor, revision, seen
    convs: dict[int, ConvParams]  # keyed by layer index


def _header(data: bytes, source: str) -> tuple[tuple[int, int, int, int], int]:
    if len(data) < 12:
        raise ZynqyoloError(f"{source}: {len(data)} bytes is too short for a darknet weights header")
    major, minor, revision = np.frombuffer(data, dtype="<i4", count=3)
    if not (0 <= major < 100 and 0 <= minor < 1000):
        raise ZynqyoloError(f"{source}: not a darknet weights file (header {major}.{minor}.{revision})")
    wide = major * 10 + minor >= 2
    end = 12 + (8 if wide else 4)
    if len(data) < end:
        raise ZynqyoloError(f"{source}: truncated inside the header")
    seen = int(np.frombuffer(data, dtype="<u8" if wide else "<u4", count=1, offset=12)[0])
    return (int(major), int(minor), int(revision), seen), end


def parse_weights(data: bytes, network: Network, source: str = "<weights>") -> Weights:
    header, offset = _header(data, source)
    payload = len(data) - offset
    if payload % 4:
        raise ZynqyoloError(f"{source}: payload of {payload} bytes is not a whole number of float32 values")
    floats = np.frombuffer(data, dtype="<f4", offset=offset)
    expected = network.n_params
    if floats.size != expected:
        what = "truncated" if floats.size < expected else "too long"
        raise ZynqyoloError(
            f"{source}: {what}: the cfg needs {expected:,} floats, the file holds {floats.size:,}. "
            "The weights are for another cfg, or the file is damaged (re-run 'zynqyolo fetch')."
        )
    if not np.all(np.isfinite(floats)):
        raise ZynqyoloError(f"{source}: contains NaN or infinite values")
    convs: dict[int, ConvParams] = {}
    pos = 0

    def take(n: int) -> np.ndarray:
        nonlocal pos
        out = floats[pos:pos + n].astype(np.float32)
        pos += n
        return out

    for conv in network.convs:
        n = conv.filters
        biases = take(n)
        scales = mean = variance = None
        if conv.batch_normalize:
            scales, mean, variance = take(n), take(n), take(n)
            if np.any(variance < 0):
                raise ZynqyoloError(f"{source}: layer {conv.index} has a negative batch-norm variance")
        w = take(conv.n_weights).reshape(n, conv.in_shape.c, conv.size, conv.size)
        convs[conv.index] = ConvParams(w, biases, scales, mean, variance)
    return Weights(header, convs)


def load_weights(path: str | Path, network: Network) -> Weights:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ZynqyoloError(f"weights file not found: {path} (run 'zynqyolo fetch' for the default model)") from None
    except OSError as exc:
        raise ZynqyoloError(f"cannot read weights file {path}: {exc}") from None
    return parse_weights(data, network, str(path))
