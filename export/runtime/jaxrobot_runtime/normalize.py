"""Normalise / unnormalise with a bundle's statistics: the same float32 arithmetic as the training side.

``mean_std``: ``(x - mean) / max(std, 1e-2)``; ``min_max``: ``[min, max] -> [-1, 1]`` with a constant
dimension (``max - min < 1e-8``) mapped to 0 and back to ``min``; ``none``: identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STD_FLOOR = 1e-2
RANGE_EPS = 1e-8


def normalize(x: np.ndarray, stats: dict[str, Any], mode: str) -> np.ndarray:
    if mode == "none":
        return x
    if mode == "mean_std":
        mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
        return (x - mean) / np.maximum(std, STD_FLOOR)
    if mode == "min_max":
        lo, hi = np.asarray(stats["min"], np.float32), np.asarray(stats["max"], np.float32)
        rng = hi - lo
        ok = rng > RANGE_EPS
        return np.where(ok, 2.0 * (x - lo) / np.where(ok, rng, 1.0) - 1.0, 0.0).astype(np.float32)
    raise ValueError(f"unknown normalisation mode {mode!r}")


def unnormalize(y: np.ndarray, stats: dict[str, Any], mode: str) -> np.ndarray:
    if mode == "none":
        return y
    if mode == "mean_std":
        mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
        return y * np.maximum(std, STD_FLOOR) + mean
    if mode == "min_max":
        lo, hi = np.asarray(stats["min"], np.float32), np.asarray(stats["max"], np.float32)
        rng = hi - lo
        return np.where(rng > RANGE_EPS, (y + 1.0) / 2.0 * rng + lo, lo).astype(np.float32)
    raise ValueError(f"unknown normalisation mode {mode!r}")
