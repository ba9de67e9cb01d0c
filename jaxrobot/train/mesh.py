"""The device mesh and the rules that turn parameter paths into shardings.

Sharding is data in the config (big_vision style): ``(regex over the '/'-joined param path, spec)``
pairs. The batch is split over both mesh axes (``data`` and ``fsdp``), so FSDP is also data parallel.
"""

from __future__ import annotations

import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrobot.config import ConfigError
from jaxrobot.train.config import MeshConfig

BATCH_AXES = ("data", "fsdp")


def make_mesh(cfg: MeshConfig, devices=None) -> Mesh:
    devices = list(jax.devices()) if devices is None else list(devices)
    n = len(devices)
    data = cfg.data if cfg.data != -1 else n // cfg.fsdp
    if data < 1 or data * cfg.fsdp != n:
        raise ConfigError(f"config field 'mesh': data={cfg.data} x fsdp={cfg.fsdp} does not cover the {n} "
                          f"devices of this run (use data=-1 to take all devices)")
    grid = np.asarray(devices, dtype=object).reshape(data, cfg.fsdp)
    return Mesh(grid, BATCH_AXES)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def path_str(path) -> str:
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def _spec_for(shape: tuple[int, ...], rule: str, mesh: Mesh, min_size: int) -> P:
    if rule == "replicate" or not shape:
        return P()
    if rule == "fsdp":
        n = mesh.shape["fsdp"]
        if n == 1 or int(np.prod(shape)) < min_size:
            return P()
        # Shard the largest dimension that the fsdp axis divides (big_vision's fsdp rule).
        for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
            if shape[dim] % n == 0:
                spec = [None] * len(shape)
                spec[dim] = "fsdp"
                return P(*spec)
        return P()
    axes = [None if a.strip() in ("None", "") else a.strip() for a in rule.split(",")]
    if len(axes) != len(shape):
        raise ConfigError(f"config field 'mesh.rules': spec {rule!r} has {len(axes)} dims, param has {shape}")
    for a, d in zip(axes, shape, strict=True):
        if a is not None and d % mesh.shape[a]:
            raise ConfigError(f"config field 'mesh.rules': dim {d} not divisible by mesh axis {a!r}")
    return P(*axes)


def param_specs(abstract_params, cfg: MeshConfig, mesh: Mesh):
    """PartitionSpec tree for a (possibly abstract) param tree, from the first matching rule."""
    rules = [(re.compile(p), r) for p, r in cfg.rules]

    def one(path, leaf):
        name = path_str(path)
        for pattern, rule in rules:
            if pattern.search(name):
                return _spec_for(tuple(leaf.shape), rule, mesh, cfg.min_fsdp_size)
        return P()

    return jax.tree_util.tree_map_with_path(one, abstract_params)


def shardings_of(specs, mesh: Mesh):
    return jax.tree.map(lambda s: NamedSharding(mesh, s), specs, is_leaf=lambda x: isinstance(x, P))
