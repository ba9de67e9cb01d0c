"""Registry verbs and config validation (no physics compiled)."""

import dataclasses
from typing import ClassVar

import pytest

from jaxrobot.config import ConfigError
from jaxrobot.sim import registry
from jaxrobot.sim.env import EnvConfig
from jaxrobot.sim.tasks.pick_cube import PickCube, PickCubeConfig


def test_tasks_lists_pick_cube():
    assert "pick_cube" in registry.tasks()


def test_default_config_and_load_with_overrides():
    cfg = registry.get_default_config("pick_cube")
    assert isinstance(cfg, PickCubeConfig)
    env = registry.load("pick_cube", overrides={"cube_xy_range": 0.05})
    assert env.config.cube_xy_range == 0.05
    env = registry.load("pick_cube", overrides=["episode_steps=40", "randomization.mass_scale=(1.0, 1.5)"])
    assert env.config.episode_steps == 40 and env.config.randomization.mass_scale == (1.0, 1.5)
    assert env.n_substeps == 10 and env.action_size == 5


def test_errors_name_the_field():
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        registry.load("nope")
    with pytest.raises(ConfigError, match="ctrl_dt"):
        registry.load("pick_cube", overrides={"ctrl_dt": 0.0123})
    with pytest.raises(ConfigError, match="no_such_field"):
        registry.load("pick_cube", overrides={"no_such_field": 1})
    with pytest.raises(ConfigError, match="randomization.size_scale"):
        registry.load("pick_cube", overrides=["randomization.size_scale=(1.0, 5.0)"])


def test_register_a_new_task():
    @dataclasses.dataclass(frozen=True)
    class DummyConfig(EnvConfig):
        kind: ClassVar[str] = "sim.test_dummy"
        episode_steps: int = 7

    class Dummy(PickCube):
        pass

    registry.register("test_dummy", Dummy, DummyConfig())
    try:
        assert "test_dummy" in registry.tasks()
        assert registry.get_default_config("test_dummy").episode_steps == 7
    finally:
        registry._TASKS.pop("test_dummy")
    with pytest.raises(TypeError):
        registry.register("bad", Dummy, object())
