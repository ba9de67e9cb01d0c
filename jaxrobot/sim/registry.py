"""Task registry: ``register``, ``get_default_config``, ``load``, ``tasks``.

Same three verbs as MuJoCo Playground's ``registry`` (mujoco_playground/_src/registry.py), over one explicit
table of the built-in tasks (as Playground's ``manipulation/__init__.py``): a new task is its module under
``sim/tasks/``, its asset under ``sim/assets/`` and one entry in :data:`_TASKS`. Tasks never import this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from jaxrobot.config import ConfigError, override, validate
from jaxrobot.sim.env import Env, EnvConfig
from jaxrobot.sim.tasks.grasp_objects import GraspObjects, GraspObjectsConfig
from jaxrobot.sim.tasks.panda_peg_insertion import PandaPegInsertion, PandaPegInsertionConfig
from jaxrobot.sim.tasks.panda_peg_servo import PandaPegServo, PandaPegServoConfig
from jaxrobot.sim.tasks.panda_pick_cube import PandaPickCube, PandaPickCubeConfig
from jaxrobot.sim.tasks.peg_insertion import PegInsertion, PegInsertionConfig
from jaxrobot.sim.tasks.peg_servo import PegServo, PegServoConfig
from jaxrobot.sim.tasks.pick_cube import PickCube, PickCubeConfig
from jaxrobot.sim.tasks.push_t import PushT, PushTConfig
from jaxrobot.sim.tasks.servo_target import ServoTarget, ServoTargetConfig

# name -> (env class, default config)
_TASKS: dict[str, tuple[type[Env], EnvConfig]] = {
    "pick_cube": (PickCube, PickCubeConfig()),
    "push_t": (PushT, PushTConfig()),
    "peg_insertion": (PegInsertion, PegInsertionConfig()),
    "grasp_objects": (GraspObjects, GraspObjectsConfig()),
    "servo_target": (ServoTarget, ServoTargetConfig()),
    "peg_servo": (PegServo, PegServoConfig()),
    "panda_pick_cube": (PandaPickCube, PandaPickCubeConfig()),
    "panda_peg_insertion": (PandaPegInsertion, PandaPegInsertionConfig()),
    "panda_peg_servo": (PandaPegServo, PandaPegServoConfig()),
}


def register(name: str, env_cls: type[Env], default_config: EnvConfig) -> None:
    """Add a task at run time (a user's own task; the built-in ones are in :data:`_TASKS`)."""
    if not isinstance(default_config, EnvConfig):
        raise TypeError(f"default_config of {name!r} must be an EnvConfig, got {type(default_config).__name__}")
    _TASKS[name] = (env_cls, default_config)


def tasks() -> list[str]:
    """Names of the registered tasks, sorted."""
    return sorted(_TASKS)


def _entry(name: str) -> tuple[type[Env], EnvConfig]:
    if name not in _TASKS:
        raise ConfigError(f"unknown task {name!r}; registered tasks: {sorted(_TASKS)}")
    return _TASKS[name]


def get_default_config(name: str) -> EnvConfig:
    """The task's default config (a frozen dataclass; derive variants with ``.replace``)."""
    return _entry(name)[1]


def load(name: str, config: EnvConfig | None = None,
         overrides: Mapping[str, object] | Sequence[str] | None = None) -> Env:
    """Build the task's env from ``config`` (default: its default config) plus ``overrides``.

    ``overrides`` is either a mapping ``field -> value`` (typed values, as in Playground) or a sequence of
    ``"dotted.field=value"`` strings parsed against the field types (as ``--set`` on the command line).
    """
    env_cls, default = _entry(name)
    cfg = default if config is None else config
    if overrides:
        if isinstance(overrides, Mapping):
            names = {f.name for f in dataclasses.fields(cfg)}
            unknown = sorted(set(overrides) - names)
            if unknown:
                raise ConfigError(f"config field '{unknown[0]}': {type(cfg).__name__} has no such field; "
                                  f"fields: {sorted(names)}")
            cfg = dataclasses.replace(cfg, **overrides)
        else:
            for assignment in overrides:
                cfg = override(cfg, assignment)
    return env_cls(validate(cfg))
