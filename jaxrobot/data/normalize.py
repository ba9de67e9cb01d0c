"""Normalisation statistics (one streaming pass) and the normalise / unnormalise maps.

Statistics per dimension: mean, std, min, max, q01, q99 and the count. Mean/std use a float64
Welford-style merge of per-episode moments. Quantiles are exact while the data fits in
``exact_limit`` rows; past that, each dimension switches to a fixed-size histogram (``bins`` bins)
whose range doubles (merging bin pairs) whenever a value falls outside it, so the pass stays single and
memory stays ``O(bins x dims)``. The reported ``q01``/``q99`` are then within one bin width of the exact
values; that width is stored per dimension as ``q_error`` (0 when exact).

- ``std`` is floored at ``STD_FLOOR = 1e-2`` (ACT, Zhao et al. 2023, ``utils.py`` clips the action std
  to 1e-2) so near-constant dims are not blown up.
- ``MIN_MAX`` maps [min, max] to [-1, 1] (Diffusion Policy clips to that range); a dimension with
  ``max - min < 1e-8`` maps to 0 and back to ``min``, never dividing by zero.

The maps work on numpy arrays and on jax arrays (they use only arithmetic and ``where`` from the
array's own namespace), so a policy can unnormalise inside ``jit``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

STD_FLOOR = 1e-2
RANGE_EPS = 1e-8
Mode = Literal["mean_std", "min_max", "none"]
STATS_VERSION = 1


class _StreamingHistogram:
    """Per-dimension histograms on ``[lo, lo + bins * w)`` that double their width to cover new values."""

    def __init__(self, data: np.ndarray, bins: int):
        self.bins = bins
        lo, hi = data.min(0).astype(np.float64), data.max(0).astype(np.float64)
        self.w = np.maximum((hi - lo) / bins * (1 + 1e-6), 1e-12)
        self.lo = lo
        self.counts = np.zeros((data.shape[1], bins), np.int64)
        self.add(data)

    def add(self, data: np.ndarray) -> None:
        data = data.astype(np.float64)
        half = self.bins // 2
        for d in range(data.shape[1]):
            x = data[:, d]
            while x.min() < self.lo[d] or x.max() >= self.lo[d] + self.bins * self.w[d]:
                merged = self.counts[d].reshape(half, 2).sum(1)
                if x.min() < self.lo[d]:
                    self.counts[d] = np.concatenate([np.zeros(half, np.int64), merged])
                    self.lo[d] -= self.bins * self.w[d]
                else:
                    self.counts[d] = np.concatenate([merged, np.zeros(half, np.int64)])
                self.w[d] *= 2
            idx = np.clip(((x - self.lo[d]) / self.w[d]).astype(np.int64), 0, self.bins - 1)
            self.counts[d] += np.bincount(idx, minlength=self.bins)

    def quantile(self, q: float) -> np.ndarray:
        out = np.empty(len(self.lo))
        for d in range(len(self.lo)):
            c = np.cumsum(self.counts[d])
            target = q * c[-1]
            b = int(np.searchsorted(c, target, side="left"))
            prev = c[b - 1] if b else 0
            frac = (target - prev) / max(self.counts[d, b], 1)
            out[d] = self.lo[d] + (b + frac) * self.w[d]
        return out


class StatsAccumulator:
    """One-pass statistics of a stream of ``[n, D]`` float blocks (e.g. one episode's actions)."""

    def __init__(self, exact_limit: int = 1_000_000, bins: int = 4096):
        self.exact_limit, self.bins = exact_limit, bins
        self.n = 0
        self.mean = self.m2 = self.min = self.max = None
        self._buffer: list[np.ndarray] | None = []
        self._hist: _StreamingHistogram | None = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or not len(x):
            return
        n_b, mean_b = len(x), x.mean(0)
        m2_b = ((x - mean_b) ** 2).sum(0)
        if self.n == 0:
            self.mean, self.m2, self.min, self.max = mean_b, m2_b, x.min(0), x.max(0)
        else:
            if x.shape[1] != len(self.mean):
                raise ValueError(f"dimension changed from {len(self.mean)} to {x.shape[1]}")
            n = self.n + n_b
            delta = mean_b - self.mean
            self.mean = self.mean + delta * n_b / n
            self.m2 = self.m2 + m2_b + delta**2 * self.n * n_b / n
            self.min, self.max = np.minimum(self.min, x.min(0)), np.maximum(self.max, x.max(0))
        self.n += n_b
        if self._buffer is not None:
            self._buffer.append(x)
            if self.n > self.exact_limit:
                self._hist = _StreamingHistogram(np.concatenate(self._buffer), self.bins)
                self._buffer = None
        else:
            self._hist.add(x)

    def result(self) -> dict[str, list[float]]:
        if self.n == 0:
            return {}
        std = np.sqrt(self.m2 / self.n)
        if self._buffer is not None:
            data = np.concatenate(self._buffer)
            q01, q99 = np.quantile(data, [0.01, 0.99], axis=0)
            err = np.zeros_like(q01)
        else:
            q01, q99 = self._hist.quantile(0.01), self._hist.quantile(0.99)
            err = self._hist.w.copy()
        return {"mean": self.mean.tolist(), "std": np.maximum(std, STD_FLOOR).tolist(),
                "std_raw": std.tolist(), "min": self.min.tolist(), "max": self.max.tolist(),
                "q01": q01.tolist(), "q99": q99.tolist(), "q_error": err.tolist(), "count": int(self.n)}


def compute_stats(episodes: Iterable[dict[str, Any]], **kwargs) -> dict[str, Any]:
    """Statistics of ``action`` and ``state`` over standardised episodes (one pass)."""
    acts, states = StatsAccumulator(**kwargs), StatsAccumulator(**kwargs)
    n_ep = 0
    for ep in episodes:
        acts.add(ep["action"])
        states.add(ep["state"])
        n_ep += 1
    return {"action": acts.result(), "state": states.result(), "episodes": n_ep, "steps": acts.n}


# ---------------------------------------------------------------- caching


def stats_cache_path(fingerprint: Any, config: Any, name: str = "stats") -> str:
    """``cache_dir()/stats/<name>-<sha>.json`` keyed by the shard fingerprint and the config."""
    from jaxrobot.platform import cache_dir

    key = json.dumps({"v": STATS_VERSION, "fp": fingerprint, "cfg": config}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    folder = cache_dir() / "stats"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}-{digest}.json")


def cached_stats(fingerprint: Any, config: Any, compute, *, name: str = "stats", use_cache: bool = True):
    """Load stats from the cache or ``compute()`` and store them (atomically)."""
    path = stats_cache_path(fingerprint, config, name)
    if use_cache and os.path.exists(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):  # JSONDecodeError, UnicodeDecodeError
            pass  # a damaged cache entry is recomputed
    stats = compute()
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, path)
    return stats


# ---------------------------------------------------------------- maps


def _ns(x):
    if type(x).__module__.startswith("jax"):
        import jax.numpy as jnp

        return jnp
    return np


def exempt_dims(stats: dict[str, Any], mask) -> dict[str, Any]:
    """``stats`` with the dims where ``mask`` is False made the identity of every mode (mean 0, std 1, min -1,
    max 1): those dims pass through :func:`normalize` and :func:`unnormalize` unchanged, wherever the stats
    travel (checkpoints, export bundles, the robot runtime). Octo's ``action_normalization_mask`` leaves absolute
    gripper dims raw this way. ``mask`` empty = every dim normalised; the raw values stay under ``"raw"``."""
    mask = np.asarray(mask, bool)
    if mask.size == 0 or mask.all():
        return stats
    dims = len(np.asarray(stats["mean"]))
    if mask.size != dims:
        raise ValueError(f"normalisation mask has {mask.size} entries for {dims} dims")
    out = dict(stats, norm_mask=mask.tolist(), raw={k: stats[k] for k in ("mean", "std", "min", "max")})
    for key, ident in (("mean", 0.0), ("std", 1.0), ("min", -1.0), ("max", 1.0)):
        out[key] = np.where(mask, np.asarray(stats[key], np.float64), ident).tolist()
    return out


def normalize(x, stats: dict[str, Any], mode: Mode):
    """Map raw values to normalised ones (``stats`` is one entry, e.g. ``stats["action"]``)."""
    if mode == "none":
        return x
    xp = _ns(x)
    if mode == "mean_std":
        mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
        return (x - mean) / np.maximum(std, STD_FLOOR)
    if mode == "min_max":
        lo, hi = np.asarray(stats["min"], np.float32), np.asarray(stats["max"], np.float32)
        rng = hi - lo
        ok = rng > RANGE_EPS
        return xp.where(ok, 2.0 * (x - lo) / np.where(ok, rng, 1.0) - 1.0, 0.0).astype(np.float32)
    raise ValueError(f"unknown normalisation mode {mode!r}")


def unnormalize(y, stats: dict[str, Any], mode: Mode):
    """Inverse of :func:`normalize` (a ``min == max`` dim comes back as ``min``)."""
    if mode == "none":
        return y
    xp = _ns(y)
    if mode == "mean_std":
        mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
        return y * np.maximum(std, STD_FLOOR) + mean
    if mode == "min_max":
        lo, hi = np.asarray(stats["min"], np.float32), np.asarray(stats["max"], np.float32)
        rng = hi - lo
        return xp.where(rng > RANGE_EPS, (y + 1.0) / 2.0 * rng + lo, lo).astype(np.float32)
    raise ValueError(f"unknown normalisation mode {mode!r}")
