"""The rendered-pair data configs take their ranges from the task configs: same defaults, the task's checks,
and exactly those fields passed to the task (no rendering here)."""

from __future__ import annotations

import dataclasses

import pytest

from jaxrobot.config import ConfigError, from_json, to_json, validate
from jaxrobot.sim import registry
from jaxrobot.skills.servoing.dataset import PegServoPairsConfig, ServoTargetPairsConfig

CASES = ((ServoTargetPairsConfig, "servo_target", "start_translation", 0.1),
         (PegServoPairsConfig, "peg_servo", "start_yaw", 1.0))


@pytest.mark.parametrize("cls,task,field,bad", CASES)
def test_ranges_come_from_the_task(cls, task, field, bad):
    cfg = validate(cls())
    task_cfg = registry.get_default_config(task)
    overrides = cfg.task_overrides()
    assert set(overrides) == set(cls.task_fields) and "image_size" in overrides
    assert overrides == {k: getattr(task_cfg, k) for k in cls.task_fields}  # the task's defaults
    assert set(cls.task_fields) < {f.name for f in dataclasses.fields(task_cfg)}
    with pytest.raises(ConfigError, match=f"config field '{field}'"):  # the task's check
        validate(cls(**{field: bad}))
    with pytest.raises(ConfigError, match="num_pairs"):
        validate(cls(num_pairs=0))
    assert from_json(to_json(cfg)) == cfg  # saved data configs keep their fields


def test_image_size_limits_are_the_tasks():
    validate(ServoTargetPairsConfig(image_size=16))
    with pytest.raises(ConfigError, match="image_size"):
        validate(ServoTargetPairsConfig(image_size=8))
    with pytest.raises(ConfigError, match="image_size"):
        validate(PegServoPairsConfig(image_size=16))
