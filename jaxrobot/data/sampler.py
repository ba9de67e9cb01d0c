"""A deterministic global shuffle with no shuffle buffer, resumable from a few integers.

The example at global position ``p`` is ``perm(seed, epoch)[p % n]`` with ``epoch = p // n``: a pure
function of (seed, epoch, position), so the iterator state saved in a checkpoint is just ``position``
and resume is exact. Each host takes a disjoint, contiguous slice of every global batch.

``perm`` is a stored numpy permutation for ``n <= 2**24`` examples (64 MB at most), and above that a
keyed Feistel bijection evaluated per index (cycle-walking onto ``[0, n)``), so memory is O(batch)
whatever the dataset size. :class:`StepIndex` maps a flat step number to (episode, step);
:class:`MixtureSampler` draws weighted mixtures of several datasets with the same guarantees.
"""

from __future__ import annotations

import functools

import numpy as np

ARRAY_PERMUTATION_LIMIT = 1 << 24
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@functools.lru_cache(maxsize=4)
def _permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (Steele et al. 2014): a fast, well-mixed 64-bit hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def feistel_permute(idx: np.ndarray, n: int, seed: int, epoch: int, rounds: int = 6) -> np.ndarray:
    """A bijection of ``[0, n)`` keyed by (seed, epoch), evaluated only at ``idx``."""
    half = max(1, (int(n - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    x = np.asarray(idx, np.uint64)
    todo = np.ones(x.shape, bool)
    with np.errstate(over="ignore"):
        base = np.uint64(((seed & 0xFFFFFFFF) << 32) | (epoch & 0xFFFFFFFF))
        keys = _mix64((np.arange(rounds, dtype=np.uint64) + base) * np.uint64(0x9E3779B97F4A7C15))
        while True:
            left, right = x >> np.uint64(half), x & mask
            for k in keys:
                left, right = right, left ^ (_mix64(right ^ k) & mask)
            y = (left << np.uint64(half)) | right
            x = np.where(todo, y, x)
            todo = x >= np.uint64(n)  # cycle-walk until inside [0, n)
            if not todo.any():
                return x.astype(np.int64)


def permuted(offsets: np.ndarray, n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """``perm(seed, epoch)[offsets]`` for either permutation kind."""
    if not shuffle:
        return offsets
    if n <= ARRAY_PERMUTATION_LIMIT:
        return _permutation(n, seed, epoch)[offsets]
    return feistel_permute(offsets, n, seed, epoch)


def positions_to_indices(position: int, count: int, n: int, seed: int, shuffle: bool = True) -> np.ndarray:
    """Example indices at global positions ``position .. position + count - 1``."""
    pos = position + np.arange(count)
    epochs, offsets = np.divmod(pos, n)
    out = np.empty_like(pos)
    for e in np.unique(epochs):
        sel = epochs == e
        out[sel] = permuted(offsets[sel], n, seed, int(e), shuffle)
    return out


class IndexSampler:
    """Yields, per global batch, this host's example indices in ``[0, n)``."""

    def __init__(self, n: int, global_batch_size: int, *, seed: int = 0, process_index: int = 0,
                 process_count: int = 1, shuffle: bool = True):
        if n <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if global_batch_size % process_count:
            raise ValueError(f"global batch {global_batch_size} not divisible by {process_count} processes")
        self.n, self.global_batch_size, self.seed = n, global_batch_size, seed
        self.process_index, self.process_count, self.shuffle = process_index, process_count, shuffle
        self.local_batch_size = global_batch_size // process_count
        self.position = 0  # global examples consumed so far

    def indices_at(self, position: int) -> np.ndarray:
        """Global example indices for positions ``position .. position + global_batch - 1``."""
        return positions_to_indices(position, self.global_batch_size, self.n, self.seed, self.shuffle)

    def local_slice(self) -> slice:
        lo = self.process_index * self.local_batch_size
        return slice(lo, lo + self.local_batch_size)

    def next_local(self) -> np.ndarray:
        idx = self.indices_at(self.position)
        self.position += self.global_batch_size
        return idx[self.local_slice()]

    def get_state(self) -> dict[str, int]:
        return {"position": int(self.position)}

    def set_state(self, state: dict[str, int]) -> None:
        self.position = int(state["position"])


class StepIndex:
    """Flat step number <-> (episode, step) over episodes of the given lengths."""

    def __init__(self, lengths):
        self.lengths = np.asarray(lengths, np.int64)
        if len(self.lengths) == 0 or self.lengths.min(initial=1) <= 0:
            raise ValueError("episodes must be non-empty")
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.total = int(self.lengths.sum())

    def __len__(self) -> int:
        return self.total

    def locate(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = np.asarray(flat, np.int64)
        ep = np.searchsorted(self.starts, flat, side="right") - 1
        return ep, flat - self.starts[ep]


def mixture_counts(global_batch_size: int, weights, seed: int, batch: int) -> np.ndarray:
    """How many of a global batch come from each dataset: systematic rounding of ``B * w``.

    ``E[count_i] = B * w_i`` exactly and counts always sum to ``B``; deterministic per (seed, batch).
    """
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    u = np.random.default_rng([seed, batch, 0x5EED]).uniform()
    edges = np.floor(np.concatenate([[0.0], np.cumsum(w * global_batch_size)]) + u).astype(np.int64)
    edges[-1] = global_batch_size  # floor(B + u) == B; guard against cumsum rounding noise
    return np.diff(edges)


class MixtureSampler:
    """Weighted mixture of datasets of sizes ``sizes``: per global batch, ``(dataset, index)`` pairs.

    Each dataset keeps its own global shuffle stream (:func:`positions_to_indices`); the per-batch
    composition comes from :func:`mixture_counts` and is shuffled within the batch so every host's
    slice is mixed. State: the batch number and one position per dataset.
    """

    def __init__(self, sizes, weights, global_batch_size: int, *, seed: int = 0, process_index: int = 0,
                 process_count: int = 1):
        if len(sizes) != len(weights) or not len(sizes):
            raise ValueError("need one weight per dataset")
        if min(sizes) <= 0 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"bad sizes {sizes} or weights {weights}")
        if global_batch_size % process_count:
            raise ValueError(f"global batch {global_batch_size} not divisible by {process_count} processes")
        self.sizes, self.weights = [int(s) for s in sizes], [float(w) for w in weights]
        self.global_batch_size, self.seed = global_batch_size, seed
        self.process_index, self.process_count = process_index, process_count
        self.local_batch_size = global_batch_size // process_count
        self.batch = 0
        self.positions = [0] * len(sizes)

    def global_batch(self, batch: int, positions: list[int]) -> tuple[np.ndarray, np.ndarray, list[int]]:
        counts = mixture_counts(self.global_batch_size, self.weights, self.seed, batch)
        ds, idx, new_pos = [], [], list(positions)
        for d, c in enumerate(counts):
            if c:
                idx.append(positions_to_indices(positions[d], int(c), self.sizes[d], self.seed * 7919 + d))
                ds.append(np.full(c, d))
                new_pos[d] += int(c)
        order = np.random.default_rng([self.seed, batch, 0xB17]).permutation(self.global_batch_size)
        return np.concatenate(ds)[order], np.concatenate(idx)[order], new_pos

    def next_local(self) -> tuple[np.ndarray, np.ndarray]:
        ds, idx, self.positions = self.global_batch(self.batch, self.positions)
        self.batch += 1
        lo = self.process_index * self.local_batch_size
        return ds[lo:lo + self.local_batch_size], idx[lo:lo + self.local_batch_size]

    def get_state(self) -> dict[str, int]:
        return {"batch": self.batch, **{f"position_{i}": p for i, p in enumerate(self.positions)}}

    def set_state(self, state: dict[str, int]) -> None:
        self.batch = int(state["batch"])
        self.positions = [int(state[f"position_{i}"]) for i in range(len(self.sizes))]


class SamplerState:
    """Mixin for a data source whose whole iterator state is its ``sampler``'s.

    ``sampler`` is an :class:`IndexSampler` or :class:`MixtureSampler`; when every batch is a pure function
    of the sampler's position (and the source keeps no other mutable state), ``get_state()`` is just the
    sampler's few integers and resume is exact. The source is its own iterator. Sources that build batches
    ahead (``jaxrobot.data.sources.prefetch.PrefetchingSource``) override the two state methods.
    """

    sampler: IndexSampler | MixtureSampler

    def __iter__(self):
        return self

    def get_state(self) -> dict[str, int]:
        return self.sampler.get_state()

    def set_state(self, state: dict[str, int]) -> None:
        self.sampler.set_state(state)
