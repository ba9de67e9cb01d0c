"""Data sources ``servo_target_pairs`` and ``peg_servo_pairs``: (current, goal) images rendered in MJX in the
``servo_target`` / ``peg_servo`` scenes with pose-based twist labels, for training the deep servo net through
``jaxrobot train``.

A fixed, seeded pool drawn once at start-up by :func:`jaxrobot.sim.tasks.servo_target.servo_pairs` (chunks of
256 pairs, one ``jit``), sampled by :class:`~jaxrobot.data.synthetic_vision.PoolSource` (resumable global
shuffle). Batch layout of :class:`~jaxrobot.models.servo.ServoModel`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.sources import register_source
from jaxrobot.data.synthetic_vision import PoolSource

CHUNK = 256


@dataclasses.dataclass(frozen=True)
class ServoTargetPairsConfig(Config):
    """Fields:
    num_pairs: pairs in the pool (rounded up to a multiple of 256).
    image_size: side of the rendered images (the task's ``image_size``).
    start_translation / start_rotation: start ranges around the goal (m / rad per axis), as the task's.
    goal_translation / goal_rotation: goal-view ranges around the nominal view, as the task's.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "servo_target_pairs"
    num_pairs: int = 2048
    image_size: int = 64
    start_translation: float = 0.03
    start_rotation: float = math.radians(10.0)
    goal_translation: float = 0.0
    goal_rotation: float = 0.0
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_pairs >= 1, "num_pairs", f"must be >= 1, got {self.num_pairs}")
        require(self.image_size >= 16, "image_size", f"must be >= 16, got {self.image_size}")


def servo_target_pool(cfg: ServoTargetPairsConfig) -> dict[str, np.ndarray]:
    """The pool of rendered pairs (numpy), deterministic in ``cfg``."""
    import functools

    import jax

    from jaxrobot.sim import registry
    from jaxrobot.sim.tasks.servo_target import servo_pairs

    env = registry.load("servo_target", overrides={
        "image_size": cfg.image_size, "start_translation": cfg.start_translation,
        "start_rotation": cfg.start_rotation, "goal_translation": cfg.goal_translation,
        "goal_rotation": cfg.goal_rotation})
    gen = jax.jit(functools.partial(servo_pairs, env, n=CHUNK))
    keys = jax.random.split(jax.random.PRNGKey(cfg.data_seed), -(-cfg.num_pairs // CHUNK))
    chunks = [jax.device_get(gen(k)) for k in keys]
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _source(cfg: ServoTargetPairsConfig, **kw) -> PoolSource:
    pool = servo_target_pool(cfg)
    twist = pool["servo/twist"]
    stats = {"pairs": int(len(twist)),
             "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
    return PoolSource(cfg, pool, stats, **kw)


register_source("servo_target_pairs", _source)


@dataclasses.dataclass(frozen=True)
class PegServoPairsConfig(Config):
    """Data source ``peg_servo_pairs``: (current, goal) eye images of the ``peg_servo`` scene with pose-based
    twist labels (:func:`jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`), for the deep servo net that
    inserts the peg (``python -m jaxrobot.servoing.peg``).

    Fields:
    num_pairs: pairs in the pool (rounded up to a multiple of 256).
    image_size: side of the rendered images (the task's ``image_size``).
    start_xy / start_z / start_yaw: start ranges around the goal (m, m up, rad), as the task's.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "peg_servo_pairs"
    num_pairs: int = 4096
    image_size: int = 64
    start_xy: float = 0.02
    start_z: float = 0.02
    start_yaw: float = math.radians(10.0)
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_pairs >= 1, "num_pairs", f"must be >= 1, got {self.num_pairs}")
        require(self.image_size >= 32, "image_size", f"must be >= 32, got {self.image_size}")


def peg_servo_pool(cfg: PegServoPairsConfig) -> dict[str, np.ndarray]:
    """The pool of rendered ``peg_servo`` pairs (numpy), deterministic in ``cfg``."""
    import functools

    import jax

    from jaxrobot.sim import registry
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    env = registry.load("peg_servo", overrides={"image_size": cfg.image_size, "start_xy": cfg.start_xy,
                                                "start_z": cfg.start_z, "start_yaw": cfg.start_yaw})
    gen = jax.jit(functools.partial(peg_servo_pairs, env, n=CHUNK))
    keys = jax.random.split(jax.random.PRNGKey(cfg.data_seed), -(-cfg.num_pairs // CHUNK))
    chunks = [jax.device_get(gen(k)) for k in keys]
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _peg_source(cfg: PegServoPairsConfig, **kw) -> PoolSource:
    pool = peg_servo_pool(cfg)
    twist = pool["servo/twist"]
    stats = {"pairs": int(len(twist)),
             "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
    return PoolSource(cfg, pool, stats, **kw)


register_source("peg_servo_pairs", _peg_source)
