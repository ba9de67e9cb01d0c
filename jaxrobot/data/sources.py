"""Registry of data sources: a data config's ``kind`` → the function that builds its DataSource.

The trainer calls :func:`make_source` and knows nothing else about datasets. Modules that define a
source register it at import; ``_SOURCE_MODULES`` lists where each kind lives so importing is lazy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from jaxrobot.config import Config, ConfigError
from jaxrobot.data.base import DataSource

SourceBuilder = Callable[..., DataSource]
_BUILDERS: dict[str, SourceBuilder] = {}
# kind -> module that registers it (imported on first use).
_SOURCE_MODULES = {
    "synthetic": "jaxrobot.data.synthetic",
    "rlds": "jaxrobot.data.rlds_source",
    "mixture": "jaxrobot.data.rlds_source",
    "grasp_rlds": "jaxrobot.grasping.dataset",
    "synthetic_grasp_maps": "jaxrobot.data.synthetic_vision",
    "synthetic_grasp_candidates": "jaxrobot.data.synthetic_vision",
    "synthetic_servo": "jaxrobot.data.synthetic_vision",
    "servo_target_pairs": "jaxrobot.servoing.dataset",
    "peg_servo_pairs": "jaxrobot.servoing.dataset",
    "pose_scenes": "jaxrobot.pose.dataset",
}


def register_source(kind: str, builder: SourceBuilder) -> None:
    _BUILDERS[kind] = builder


def make_source(cfg: Config, *, global_batch_size: int, process_index: int = 0, process_count: int = 1,
                seed: int = 0) -> DataSource:
    """Build the host-local stream for ``cfg``: this host's slice of every global batch."""
    kind = type(cfg).kind
    if kind not in _BUILDERS and kind in _SOURCE_MODULES:
        importlib.import_module(_SOURCE_MODULES[kind])
    if kind not in _BUILDERS:
        raise ConfigError(f"config field 'data': no data source for kind {kind!r}; known: {sorted(_SOURCE_MODULES)}")
    if global_batch_size % process_count:
        raise ConfigError(f"config field 'train.batch_size': {global_batch_size} is not divisible by the "
                          f"{process_count} processes")
    return _BUILDERS[kind](cfg, global_batch_size=global_batch_size, process_index=process_index,
                           process_count=process_count, seed=seed)
