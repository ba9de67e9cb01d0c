"""Data sources ``servo_target_pairs`` and ``peg_servo_pairs``: (current, goal) images rendered in MJX in the
``servo_target`` / ``peg_servo`` scenes with pose-based twist labels, for training the deep servo net through
``jaxrobot train``.

A fixed, seeded pool drawn once at start-up by the task's pair generator
(:func:`jaxrobot.sim.tasks.servo_target.servo_pairs` / :func:`jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`)
through :func:`render_pool` (chunks of 256 pairs, one ``jit``), sampled by
:class:`~jaxrobot.data.synthetic_vision.PoolSource` (resumable global shuffle). Batch layout of
:class:`~jaxrobot.models.servo.ServoModel`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
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


def render_pool(task: str, pairs_fn: Callable, overrides: dict, num_pairs: int, data_seed: int
                ) -> dict[str, np.ndarray]:
    """``num_pairs`` (rounded up to a multiple of :data:`CHUNK`) pairs from ``pairs_fn(env, rng, n)`` on the
    task ``task`` loaded with config ``overrides`` (numpy), in ``jit``-ed chunks; deterministic in the
    arguments."""
    import functools

    import jax

    from jaxrobot.sim import registry

    env = registry.load(task, overrides=overrides)
    gen = jax.jit(functools.partial(pairs_fn, env, n=CHUNK))
    keys = jax.random.split(jax.random.PRNGKey(data_seed), -(-num_pairs // CHUNK))
    chunks = [jax.device_get(gen(k)) for k in keys]
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def servo_target_pool(cfg: ServoTargetPairsConfig) -> dict[str, np.ndarray]:
    """The pool of rendered ``servo_target`` pairs (numpy), deterministic in ``cfg``."""
    from jaxrobot.sim.tasks.servo_target import servo_pairs

    return render_pool("servo_target", servo_pairs, {
        "image_size": cfg.image_size, "start_translation": cfg.start_translation,
        "start_rotation": cfg.start_rotation, "goal_translation": cfg.goal_translation,
        "goal_rotation": cfg.goal_rotation}, cfg.num_pairs, cfg.data_seed)


def pool_source(pool_fn: Callable[[Config], dict[str, np.ndarray]]) -> Callable[..., PoolSource]:
    """A data-source factory ``(cfg, **kw) -> PoolSource`` over ``pool_fn(cfg)``, with the twist statistics."""

    def make(cfg: Config, **kw) -> PoolSource:
        pool = pool_fn(cfg)
        twist = pool["servo/twist"]
        stats = {"pairs": int(len(twist)),
                 "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
        return PoolSource(cfg, pool, stats, **kw)

    return make


register_source("servo_target_pairs", pool_source(servo_target_pool))


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
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    return render_pool("peg_servo", peg_servo_pairs, {
        "image_size": cfg.image_size, "start_xy": cfg.start_xy, "start_z": cfg.start_z,
        "start_yaw": cfg.start_yaw}, cfg.num_pairs, cfg.data_seed)


register_source("peg_servo_pairs", pool_source(peg_servo_pool))
