"""Weighted mixtures of RLDS datasets (kind ``"mixture"``), e.g. Bridge with simulated demonstrations.

Each global batch takes ``B * w_i`` examples from dataset ``i`` on average
(:class:`~jaxrobot.data.sampler.MixtureSampler`: systematic rounding, one resumable shuffle per dataset).
Every dataset is read by its own :class:`~jaxrobot.data.sources.rlds.DatasetReader` and normalised with its
own statistics; cameras are the union (missing ones are black frames), state and action are zero-padded to
the largest size, and ``dataset_index`` says where each row came from.

A mixture is either listed (``datasets`` + ``weights``) or named: ``mixture="oxe_magic_soup"`` with a
``data_dir`` laid out like TFDS's (``<data_dir>/<name>/<version>/dataset_info.json``) takes the members and
weights of that mixture (:mod:`jaxrobot.data.datasets.mixtures`) from whichever of them the folder holds, each
read with its Octo-standardised entry. From the command line::

    jaxrobot train --config experiments/act_bridge.py:mixture --set data.mixture=oxe_magic_soup \
        --set data.data_dir=/data/oxe [--set data.skip_missing=true]

Missing members are a :class:`~jaxrobot.data.base.DataError` listing them, or with ``skip_missing`` one warning
line naming them (the others keep their weights).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
import sys
from typing import Any, ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataError, DataSource
from jaxrobot.data.datasets import MIXTURES, mixture_entry_name, mixture_weights
from jaxrobot.data.rlds import fs
from jaxrobot.data.sampler import MixtureSampler
from jaxrobot.data.sources.prefetch import PrefetchingSource
from jaxrobot.data.sources.rlds import (
    BatchFiller,
    DatasetReader,
    FillerRecipe,
    RldsDataConfig,
    batch_spec,
    merge_bad_frames,
    split_by_episode,
)


@dataclasses.dataclass(frozen=True)
class MixtureDataConfig(Config):
    """A weighted mixture of RLDS datasets; each is normalised with its own statistics.

    ``n_obs_steps``, ``horizon``, ``image_size``, ``workers`` and ``prefetch`` come from the first
    dataset and must agree; cameras are the union (missing ones are black); state and action are
    zero-padded to the largest size.

    Fields:
      datasets, weights: the listed members and their relative sampling weights.
      mixture: a named mixture (``jaxrobot data datasets`` lists them); when set, its members and weights
        replace ``datasets``/``weights``, every member taking the settings (windows, image size, cameras,
        normalisation, caches) of ``datasets[0]`` if there is one (its path and dataset are not used), the
        defaults of :class:`RldsDataConfig` otherwise.
      data_dir: with ``mixture``: the folder holding ``<name>/<version>/dataset_info.json`` per member (a TFDS
        data_dir; local or ``gs://``). The newest version of each member is read.
      skip_missing: with ``mixture``: leave out the members ``data_dir`` lacks (one warning naming them)
        instead of failing.
    """

    kind: ClassVar[str] = "mixture"

    datasets: tuple[RldsDataConfig, ...] = ()
    weights: tuple[float, ...] = ()
    mixture: str = ""
    data_dir: str = ""
    skip_missing: bool = False

    def check(self) -> None:
        if self.mixture:
            require(self.mixture in MIXTURES, "mixture",
                    f"unknown mixture {self.mixture!r}; known: {sorted(MIXTURES)}")
            require(bool(self.data_dir), "data_dir", f"set it to the folder holding the datasets of mixture "
                    f"{self.mixture!r} (<data_dir>/<name>/<version>/dataset_info.json)")
        else:
            require(len(self.datasets) >= 1, "datasets", "needs at least one dataset (or set mixture)")
            require(len(self.weights) == len(self.datasets), "weights", "needs one weight per dataset")
            require(all(w >= 0 for w in self.weights) and sum(self.weights) > 0, "weights",
                    "must be >= 0 with a positive sum")
        if not self.datasets:
            return
        first = self.datasets[0]
        for i, d in enumerate(self.datasets):
            for f in ("n_obs_steps", "horizon", "image_size"):
                require(getattr(d, f) == getattr(first, f), f"datasets[{i}].{f}",
                        f"must equal datasets[0].{f} ({getattr(first, f)})")

    @classmethod
    def named(cls, cfg: RldsDataConfig) -> MixtureDataConfig:
        """The named mixture an RLDS config stands for (``data.mixture`` set on a single-dataset experiment),
        each member read with that config's settings (windows, image size, cameras, normalisation)."""
        template = dataclasses.replace(cfg, mixture="", data_dir="", skip_missing=False, path=cfg.path or "-")
        return cls(datasets=(template,), mixture=cfg.mixture, data_dir=cfg.data_dir, skip_missing=cfg.skip_missing)

    def resolve(self) -> MixtureDataConfig:
        """This config with a named ``mixture`` turned into its listed members (itself if none is named)."""
        if not self.mixture:
            return self
        template = self.datasets[0] if self.datasets else RldsDataConfig(path=self.data_dir)
        found, missing = {}, []
        for name, weight in mixture_weights(self.mixture).items():
            path = find_dataset(self.data_dir, name)
            if path is None:
                missing.append(name)
            else:
                found[name] = (path, weight)
        where = f"mixture {self.mixture!r} in data_dir {self.data_dir}"
        if missing and not self.skip_missing:
            raise DataError(f"{where}: {len(missing)} of {len(missing) + len(found)} member datasets are missing: "
                            f"{', '.join(missing)} (each is <data_dir>/<name>/<version>/dataset_info.json; set "
                            "data.skip_missing=true to train on the others)")
        if not found:
            raise DataError(f"{where}: none of its member datasets is there: {', '.join(missing)}")
        if missing:
            print(f"warning: {where}: skipping {len(missing)} missing member dataset(s): {', '.join(missing)}",
                  file=sys.stderr, flush=True)
        members = tuple(dataclasses.replace(template, path=path, dataset=mixture_entry_name(name))
                        for name, (path, _) in found.items())
        return dataclasses.replace(self, mixture="", data_dir="", skip_missing=False, datasets=members,
                                   weights=tuple(w for _, w in found.values()))

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return MixtureSource(self.resolve(), **kw)


_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def find_dataset(data_dir: str, name: str) -> str | None:
    """``<data_dir>/<name>/<version>`` of the newest version holding a ``dataset_info.json``, or None."""
    folder = fs.join(data_dir, name)
    try:
        if not fs.isdir(folder):
            return None
        versions = [v for v in fs.listdir(folder) if _VERSION.match(v)]
    except OSError:
        return None
    for v in sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True):
        if fs.exists(fs.join(folder, v, "dataset_info.json")):
            return fs.join(folder, v)
    return None


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
        super().__init__(first.workers, first.prefetch, first.processes)

    def _plan(self):
        s = self.sampler
        first = s.batch * s.global_batch_size + s.process_index * s.local_batch_size
        ds, idx = s.next_local()
        return ds, idx, first + np.arange(len(ds)), np.arange(len(ds))

    def _keys(self) -> dict[str, dict]:
        keys = batch_spec(self.cfg.datasets[0], self.sampler.local_batch_size, self.cameras, self.image_size,
                          self.state_dim, self.action_dim, self.embedding_dim, {})["keys"]
        return {**keys, "dataset_index": {"shape": [self.sampler.local_batch_size], "dtype": "int32"}}

    def _fill(self, work, out: dict[str, np.ndarray]) -> list:
        return BatchFiller(self.readers, self.state_dim, self.action_dim)(work, out, pool=self._pool)

    def _recipe(self) -> FillerRecipe:
        n = self.cfg.datasets[0].processes
        return FillerRecipe(tuple(r.recipe(n) for r in self.readers),
                            self.state_dim, self.action_dim)

    def _split(self, work, parts: int) -> list:
        return split_by_episode(self.readers, work, parts)

    def _merge(self, info: list) -> None:
        merge_bad_frames(self.readers, info)

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
