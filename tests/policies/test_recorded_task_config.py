"""Demonstrations record the sim task config that made them; evaluation rebuilds that env from the data spec.

A policy trained on ``joint_pos`` demos must be scored in a ``joint_pos`` env without the user repeating the
action space: the dataset's ``metadata.json`` carries the config, the data spec (and so the checkpoint and the
export bundle) carries it on, and :func:`task_env` builds the env from it.
"""

import json
import pathlib

import pytest

from jaxrobot.config import ConfigError
from jaxrobot.data.rlds.reader import RldsDataset
from jaxrobot.data.sources.rlds import DatasetReader, RldsDataConfig
from jaxrobot.policies.evaluation import task_env


@pytest.fixture(scope="module")
def joint_pos_demos(tmp_path_factory):
    from jaxrobot.cli import main

    out = tmp_path_factory.mktemp("demos")
    assert main(["sim", "gen-demos", "--task", "panda_pick_cube", "--episodes", "2", "--batch-size", "2",
                 "--out", str(out), "--seed", "5", "--set", "action_space=joint_pos", "--no-progress"]) == 0
    return str(out / "jaxrobot_sim_panda_pick_cube" / "1.0.0")


def test_dataset_records_the_task_config(joint_pos_demos):
    made = json.loads((pathlib.Path(joint_pos_demos) / "metadata.json").read_text())["jaxrobot_sim"]
    assert made["task"] == "panda_pick_cube" and made["seed"] == 5 and made["episodes"] == 2
    assert made["config"]["action_space"] == "joint_pos" and made["config"]["kind"] == "sim.panda_pick_cube"
    assert RldsDataset(joint_pos_demos).metadata["jaxrobot_sim"] == made
    # tfds itself still reads the folder (metadata.json is where tfds keeps a builder's MetadataDict).
    import tensorflow_datasets as tfds

    assert tfds.builder_from_directory(joint_pos_demos).info.splits["train"].num_examples == 2


def test_evaluation_env_follows_the_recorded_action_space(joint_pos_demos):
    reader = DatasetReader(RldsDataConfig(path=joint_pos_demos, cameras=None, n_obs_steps=1, horizon=4))
    assert reader.action_dim == 8
    spec = {"cameras": [], "image_size": [], "action_dim": 8, **reader.sim_task()}
    env = task_env("panda_pick_cube", spec, 8, "the policy")
    assert env.config.action_space == "joint_pos" and env.action_size == 8
    assert env.config.image_size == 0
    # Without the record, the task's default (ee_pose, 10-D) refuses an 8-D policy instead of running it.
    with pytest.raises(ConfigError, match="8-D actions.*'ee_pose'.*10-D"):
        task_env("panda_pick_cube", {"cameras": [], "image_size": []}, 8, "the policy")
    # A record of another task is not applied to this one.
    with pytest.raises(ConfigError, match="8-D actions"):
        task_env("panda_pick_cube", dict(spec, sim_task=dict(spec["sim_task"], task="pick_cube")), 8, "the policy")


def test_an_image_policy_gets_its_cameras_on_the_recorded_config(joint_pos_demos):
    spec = {"cameras": ["wrist"], "image_size": [32, 32], "action_dim": 8,
            **DatasetReader(RldsDataConfig(path=joint_pos_demos, cameras=None)).sim_task()}
    env = task_env("panda_pick_cube", spec, 8, "the policy")
    assert env.config.cameras == ("wrist",) and env.config.image_size == 32
    assert env.config.action_space == "joint_pos"


def test_an_unloadable_record_is_a_clear_error():
    spec = {"cameras": [], "image_size": [], "sim_task": {"task": "panda_pick_cube",
                                                          "config": {"kind": "sim.panda_pick_cube", "bogus": 1}}}
    with pytest.raises(ConfigError, match="recorded with its demonstrations does not load"):
        task_env("panda_pick_cube", spec, 10, "the policy")
