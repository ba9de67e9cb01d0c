"""Task registry: ``register``, ``get_default_config``, ``load``, ``tasks``.

Same three verbs as MuJoCo Playground's ``registry`` (mujoco_playground/_src/registry.py). Built-in tasks
register themselves when :mod:`jaxrobot.sim.tasks` is imported, which the lookups below do lazily.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from jaxrobot.config import ConfigError, override, validate
from jaxrobot.sim.env import Env, EnvConfig

_TASKS: dict[str, tuple[type[Env], EnvConfig]] = {}


def register(name: str, env_cls: type[Env], default_config: EnvConfig) -> None:
    """Register ``env_cls`` under ``name`` with its default config (re-registering replaces it)."""
    if not isinstance(default_config, EnvConfig):
        raise TypeError(f"default_config of {name!r} must be an EnvConfig, got {type(default_config).__name__}")
    _TASKS[name] = (env_cls, default_config)


def _builtins() -> None:
    import jaxrobot.sim.tasks  # noqa: F401  (registers the built-in tasks)
    import jaxrobot.sim.tasks.peg_servo  # noqa: F401  (registers peg_servo)
    import jaxrobot.sim.tasks.servo_target  # noqa: F401  (registers servo_target)


def tasks() -> list[str]:
    """Names of the registered tasks, sorted."""
    _builtins()
    return sorted(_TASKS)


def _entry(name: str) -> tuple[type[Env], EnvConfig]:
    _builtins()
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
