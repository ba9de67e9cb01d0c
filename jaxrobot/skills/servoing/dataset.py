"""Data sources ``servo_target_pairs`` and ``peg_servo_pairs``: (current, goal) images rendered in MJX in the
``servo_target`` / ``peg_servo`` scenes with pose-based twist labels, for training the deep servo net through
``jaxrobot train``.

A fixed, seeded pool drawn once at start-up by the task's pair generator
(:func:`jaxrobot.sim.tasks.servo_target.servo_pairs` / :func:`jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`)
through :func:`render_pool` (chunks of 256 pairs, one ``jit``), sampled by
:class:`~jaxrobot.data.sources.pool.PoolSource` (resumable global shuffle). Batch layout of
:class:`~jaxrobot.models.servo.ServoModel`.

The image size and the start / goal ranges are the *task's* config fields: a data config carries them under
the task's field names (listed in ``task_fields``), their defaults are the task config's defaults and they
are validated by the task config's own checks, so the ranges have one definition (in the task).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from jaxrobot.config import Config, require, validate
from jaxrobot.data.base import DataSource
from jaxrobot.data.sources.pool import PoolSource
from jaxrobot.sim.env import EnvConfig
from jaxrobot.sim.tasks.peg_servo import PegServoConfig, peg_servo_pairs
from jaxrobot.sim.tasks.servo_target import ServoTargetConfig, servo_pairs

CHUNK = 256


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


def pool_source(pool_fn: Callable[[Config], dict[str, np.ndarray]]) -> Callable[..., PoolSource]:
    """A data-source factory ``(cfg, **kw) -> PoolSource`` over ``pool_fn(cfg)``, with the twist statistics."""

    def make(cfg: Config, **kw) -> PoolSource:
        pool = pool_fn(cfg)
        twist = pool["servo/twist"]
        stats = {"pairs": int(len(twist)),
                 "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
        return PoolSource(cfg, pool, stats, **kw)

    return make


@dataclasses.dataclass(frozen=True)
class _TaskPairsConfig(Config):
    """Base of the rendered-pair data configs (subclasses add ``num_pairs``, the task fields and ``data_seed``).

    ``task`` / ``task_config``: the task's registry name and config class; ``task_fields``: the fields that are
    the task config's (same names, defaults and checks); ``pairs``: the task's pair generator ``(env, rng, n)``.
    """

    task: ClassVar[str]
    task_config: ClassVar[type[EnvConfig]]
    task_fields: ClassVar[tuple[str, ...]]
    pairs: ClassVar[Callable]

    def task_overrides(self) -> dict[str, object]:
        """The task config fields this data config sets (``registry.load`` overrides)."""
        return {name: getattr(self, name) for name in self.task_fields}

    def check(self) -> None:
        require(self.num_pairs >= 1, "num_pairs", f"must be >= 1, got {self.num_pairs}")
        validate(dataclasses.replace(self.task_config(), **self.task_overrides()))

    def pool(self) -> dict[str, np.ndarray]:
        """The pool of rendered pairs (numpy), deterministic in this config."""
        return render_pool(self.task, self.pairs, self.task_overrides(), self.num_pairs, self.data_seed)

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return pool_source(type(self).pool)(self, **kw)


@dataclasses.dataclass(frozen=True)
class ServoTargetPairsConfig(_TaskPairsConfig):
    """Fields:
    num_pairs: pairs in the pool (rounded up to a multiple of 256).
    image_size, start_translation / start_rotation, goal_translation / goal_rotation: the ``servo_target``
      task's fields (:class:`~jaxrobot.sim.tasks.servo_target.ServoTargetConfig`: image side, start ranges
      around the goal, goal-view ranges around the nominal view), with its defaults and checks.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "servo_target_pairs"
    task: ClassVar[str] = "servo_target"
    task_config: ClassVar[type[EnvConfig]] = ServoTargetConfig
    pairs: ClassVar[Callable] = staticmethod(servo_pairs)
    task_fields: ClassVar[tuple[str, ...]] = ("image_size", "start_translation", "start_rotation",
                                              "goal_translation", "goal_rotation")
    num_pairs: int = 2048
    image_size: int = ServoTargetConfig.image_size
    start_translation: float = ServoTargetConfig.start_translation
    start_rotation: float = ServoTargetConfig.start_rotation
    goal_translation: float = ServoTargetConfig.goal_translation
    goal_rotation: float = ServoTargetConfig.goal_rotation
    data_seed: int = 0


@dataclasses.dataclass(frozen=True)
class PegServoPairsConfig(_TaskPairsConfig):
    """Data source ``peg_servo_pairs``: (current, goal) eye images of the ``peg_servo`` scene with pose-based
    twist labels (:func:`jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`), for the deep servo net that
    inserts the peg (``jaxrobot servo peg``).

    Fields:
    num_pairs: pairs in the pool (rounded up to a multiple of 256).
    image_size, start_xy / start_z / start_yaw: the ``peg_servo`` task's fields
      (:class:`~jaxrobot.sim.tasks.peg_servo.PegServoConfig`: image side, start ranges around the goal in
      m, m up, rad), with its defaults and checks.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "peg_servo_pairs"
    task: ClassVar[str] = "peg_servo"
    task_config: ClassVar[type[EnvConfig]] = PegServoConfig
    pairs: ClassVar[Callable] = staticmethod(peg_servo_pairs)
    task_fields: ClassVar[tuple[str, ...]] = ("image_size", "start_xy", "start_z", "start_yaw")
    num_pairs: int = 4096
    image_size: int = PegServoConfig.image_size
    start_xy: float = PegServoConfig.start_xy
    start_z: float = PegServoConfig.start_z
    start_yaw: float = PegServoConfig.start_yaw
    data_seed: int = 0


#: The pools by their former function names.
servo_target_pool = ServoTargetPairsConfig.pool
peg_servo_pool = PegServoPairsConfig.pool
