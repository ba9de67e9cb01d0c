"""A data source over a fixed in-memory pool of examples, sampled by the resumable global shuffle.

Used by every source whose examples are generated once at start-up (synthetic vision pools, rendered
servo pairs, pose scenes): exact resume comes from :class:`~jaxrobot.data.sampler.IndexSampler`'s state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxrobot.config import Config
from jaxrobot.data.sampler import IndexSampler, SamplerState


class PoolSource(SamplerState):
    """DataSource over a fixed pool of examples (a dict of arrays with a shared leading dimension)."""

    def __init__(self, cfg: Config, pool: dict[str, np.ndarray], stats: dict[str, Any], *, global_batch_size: int,
                 process_index: int = 0, process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.pool = pool
        self._stats = stats
        n = len(next(iter(pool.values())))
        self.sampler = IndexSampler(n, global_batch_size, seed=seed, process_index=process_index,
                                    process_count=process_count)

    def __len__(self) -> int:
        return self.sampler.n

    def __next__(self) -> dict[str, np.ndarray]:
        return self.batch_for(self.sampler.next_local())

    def batch_for(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.pool.items()}

    def stats(self) -> dict[str, Any]:
        return self._stats

    def spec(self) -> dict[str, Any]:
        example = self.batch_for(np.zeros(1, np.int64))
        return {"dataset": type(self.cfg).kind, "examples": len(self), "cameras": [],
                "features": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype)} for k, v in example.items()}}
