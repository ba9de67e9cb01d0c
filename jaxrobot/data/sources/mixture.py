"""Weighted mixtures of RLDS datasets (kind ``"mixture"``), e.g. Bridge with simulated demonstrations.

Each global batch takes ``B * w_i`` examples from dataset ``i`` on average
(:class:`~jaxrobot.data.sampler.MixtureSampler`: systematic rounding, one resumable shuffle per dataset).
Every dataset is read by its own :class:`~jaxrobot.data.sources.rlds.DatasetReader` and normalised with its
own statistics; cameras are the union (missing ones are black frames), state and action are zero-padded to
the largest size, and ``dataset_index`` says where each row came from.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import Batch, DataError, DataSource
from jaxrobot.data.sampler import MixtureSampler
from jaxrobot.data.sources.prefetch import PrefetchingSource
from jaxrobot.data.sources.rlds import DatasetReader, RldsDataConfig, allocate, batch_spec


@dataclasses.dataclass(frozen=True)
class MixtureDataConfig(Config):
    """A weighted mixture of RLDS datasets; each is normalised with its own statistics.

    ``n_obs_steps``, ``horizon``, ``image_size``, ``workers`` and ``prefetch`` come from the first
    dataset and must agree; cameras are the union (missing ones are black); state and action are
    zero-padded to the largest size.
    """

    kind: ClassVar[str] = "mixture"

    datasets: tuple[RldsDataConfig, ...] = ()
    weights: tuple[float, ...] = ()

    def check(self) -> None:
        require(len(self.datasets) >= 1, "datasets", "needs at least one dataset")
        require(len(self.weights) == len(self.datasets), "weights", "needs one weight per dataset")
        require(all(w >= 0 for w in self.weights) and sum(self.weights) > 0, "weights",
                "must be >= 0 with a positive sum")
        first = self.datasets[0]
        for i, d in enumerate(self.datasets):
            for f in ("n_obs_steps", "horizon", "image_size"):
                require(getattr(d, f) == getattr(first, f), f"datasets[{i}].{f}",
                        f"must equal datasets[0].{f} ({getattr(first, f)})")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return MixtureSource(self, **kw)


class MixtureSource(PrefetchingSource):
    """Weighted mixture of RLDS datasets (each normalised with its own statistics)."""

    def __init__(self, cfg: MixtureDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        first = cfg.datasets[0]
        per = (sum(d.memory_mb for d in cfg.datasets) << 20) // len(cfg.datasets)
        readers = [DatasetReader(d, seed=seed * 1009 + i, memory_bytes=per) for i, d in enumerate(cfg.datasets)]
        cams = list(dict.fromkeys(c for r in readers for c in r.cameras))
        size = readers[0].image_size
        self.readers = [DatasetReader(d, cameras=cams, seed=seed * 1009 + i, memory_bytes=per)
                        if r.cameras != cams or r.image_size != size else r
                        for i, (d, r) in enumerate(zip(cfg.datasets, readers, strict=True))]
        for r in self.readers:
            if r.image_size != size:
                r.image_size = size
                r.load_size = size if r.cfg.random_crop >= 1 else tuple(
                    int(math.ceil(s / r.cfg.random_crop)) for s in size)
        self.cameras, self.image_size = cams, size
        self.state_dim = max(r.state_dim for r in self.readers)
        self.action_dim = max(r.action_dim for r in self.readers)
        emb = {r.embedding_dim for r in self.readers}
        if len(emb) > 1:
            raise DataError(f"mixture: language embedding sizes differ across datasets: {sorted(emb)}")
        self.embedding_dim = emb.pop()
        self.sampler = MixtureSampler([r.total_steps for r in self.readers], list(cfg.weights), global_batch_size,
                                      seed=seed, process_index=process_index, process_count=process_count)
        super().__init__(first.workers, first.prefetch)

    def _plan(self):
        s = self.sampler
        first = s.batch * s.global_batch_size + s.process_index * s.local_batch_size
        ds, idx = s.next_local()
        return ds, idx, first

    def _assemble(self, work) -> Batch:
        ds, idx, first = work
        n = len(ds)
        keys = batch_spec(self.cfg.datasets[0], n, self.cameras, self.image_size, self.state_dim, self.action_dim,
                          self.embedding_dim, {})["keys"]
        out = allocate(keys)
        positions = first + np.arange(n)
        for d, reader in enumerate(self.readers):
            rows = np.flatnonzero(ds == d)
            if len(rows):
                reader.fill(idx[rows], positions[rows], out, rows, pool=self._pool, state_dim=self.state_dim,
                            action_dim=self.action_dim)
        out["dataset_index"] = ds.astype(np.int32)
        return out

    @property
    def skipped_frames(self) -> int:
        """Corrupt frames skipped so far over all datasets (``skip_bad``)."""
        return sum(len(r.bad_frames) for r in self.readers)

    def stats(self) -> dict[str, Any]:
        """Per-dataset statistics keyed by dataset name (``name#i`` where a name repeats)."""
        names = collections.Counter(r.entry.name for r in self.readers)
        return {"mode": self.cfg.datasets[0].normalization, "weights": list(self.cfg.weights),
                "datasets": {r.entry.name if names[r.entry.name] == 1 else f"{r.entry.name}#{i}": r.stats()
                             for i, r in enumerate(self.readers)}}

    def spec(self) -> dict[str, Any]:
        spec = batch_spec(self.cfg.datasets[0], self.sampler.local_batch_size, self.cameras, self.image_size,
                          self.state_dim, self.action_dim, self.embedding_dim,
                          {"datasets": [r.entry.name for r in self.readers], "weights": list(self.cfg.weights)})
        spec["keys"]["dataset_index"] = {"shape": [self.sampler.local_batch_size], "dtype": "int32"}
        return spec
