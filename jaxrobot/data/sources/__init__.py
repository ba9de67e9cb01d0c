"""Data sources: a data config builds its own stream, so the trainer needs no table of kinds.

Every data config (``experiments/*.py`` put one in ``cfg.data``) has a ``kind`` and a
``build_source(**kw)`` method returning a :class:`~jaxrobot.data.base.DataSource`; :func:`make_source`
checks the batch split and calls it. The sources that ship with the data layer live here:

- :mod:`~jaxrobot.data.sources.rlds`: one RLDS / Open X-Embodiment dataset (and its per-dataset reader);
- :mod:`~jaxrobot.data.sources.lerobot`: one LeRobot dataset (v3.0 / v2.x), read directly (kind ``lerobot``);
- :mod:`~jaxrobot.data.sources.mixture`: weighted mixtures of RLDS datasets;
- :mod:`~jaxrobot.data.sources.synthetic`: the synthetic BC data;
- :mod:`~jaxrobot.data.sources.pool`: a fixed in-memory pool of examples (the base of the skills' generated
  data: ``jaxrobot.skills.<skill>.dataset`` / ``synthetic``).

and the parts the RLDS sources are built from: :mod:`~jaxrobot.data.sources.cache` (byte-bounded LRU caches)
and :mod:`~jaxrobot.data.sources.prefetch` (batches built ahead on a thread, with exact resume). Sources whose
whole state is their sampler's share ``get_state``/``set_state`` through
:class:`~jaxrobot.data.sampler.SamplerState`.

A new source is a config class with ``build_source`` in its own module; ``jaxrobot.catalog`` imports it so a
saved config rebuilds by kind.
"""

from __future__ import annotations

from jaxrobot.config import Config, ConfigError
from jaxrobot.data.base import DataSource
from jaxrobot.data.sources import lerobot  # noqa: F401  (kind "lerobot": known wherever sources are loaded)
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.sources.rlds import RldsDataConfig


def make_source(cfg: Config, *, global_batch_size: int, process_index: int = 0, process_count: int = 1,
                seed: int = 0) -> DataSource:
    """Build the host-local stream for ``cfg``: this host's slice of every global batch."""
    if isinstance(cfg, RldsDataConfig) and cfg.mixture:  # `--set data.mixture=NAME` on a one-dataset experiment
        cfg = MixtureDataConfig.named(cfg)
    build = getattr(cfg, "build_source", None)
    if not callable(build):
        raise ConfigError(f"config field 'data': {type(cfg).__name__} (kind {type(cfg).kind!r}) is not a data "
                          "source config (it has no build_source method)")
    if global_batch_size % process_count:
        raise ConfigError(f"config field 'train.batch_size': {global_batch_size} is not divisible by the "
                          f"{process_count} processes")
    return build(global_batch_size=global_batch_size, process_index=process_index, process_count=process_count,
                 seed=seed)
