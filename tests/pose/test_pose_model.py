"""The PoseCNN-style model: a tiny training run through the trainer lowers the loss; prediction, the
evaluation and ``jaxrobot pose eval`` run on its checkpoint; config errors are clear."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout

import jax
import numpy as np
import pytest

from jaxrobot.config import ConfigError, validate
from jaxrobot.models.pose import PoseConfig, PoseModel
from jaxrobot.pose.dataset import PoseScenesConfig

TINY = PoseConfig(num_objects=4, features=(8, 8, 16, 16), rot_features=(8, 8), rot_hidden=32, crop=8)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig
    from jaxrobot.train.loop import train

    wd = tmp_path_factory.mktemp("pose_wd")
    cfg = ExperimentConfig(
        name="pose_tiny", model=TINY, data=PoseScenesConfig(num_scenes=32, image_size=32),
        optimizer=OptimizerConfig(lr=3e-3, warmup_steps=0, schedule="constant"),
        train=TrainConfig(steps=30, batch_size=8, log_every=5, checkpoint_every=30),
    )
    train(cfg, wd, progress=False, log=lambda m: None, async_checkpoints=False)
    return wd


def test_loss_falls(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) >= 6
    assert np.mean(losses[-2:]) < 0.6 * np.mean(losses[:2]), losses


def test_predict_and_evaluate(workdir):
    from jaxrobot.pose import evaluate

    pred = evaluate.load_predictor(workdir)
    assert pred.step == 30
    res = evaluate.evaluate_pose(pred, 8, pick=False, chunk=8)
    assert res["scenes"] == 8 and 0.0 <= res["add_s_accuracy"] <= 1.0
    assert res["add_accuracy"] <= res["add_s_accuracy"]  # ADD-S <= ADD scene by scene
    assert set(res["per_object"]) == {"block", "mug", "bottle", "ball"}


def test_cli_json(workdir):
    from jaxrobot.pose import commands

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["pose", "eval", "--workdir", str(workdir), "--scenes", "8", "--no-pick", "--json"])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    res = json.loads(out.getvalue().strip().splitlines()[-1])
    assert res["scenes"] == 8 and "add_s_ci95" in res


def test_bad_inputs():
    with pytest.raises(ConfigError, match="features"):
        validate(PoseConfig(features=(8, 8)))
    with pytest.raises(ConfigError, match="image_size"):
        validate(PoseScenesConfig(image_size=60))
    model = PoseModel(TINY)
    with pytest.raises(ConfigError, match="observation/depth"):
        model.init(jax.random.PRNGKey(0), {"observation/rgb": np.zeros((1, 64, 64, 3), np.uint8)})


@pytest.mark.slow
def test_full_pipeline_with_picks(workdir):
    """Train → restore → estimate on held-out scenes → place the grasps → pick in MJX: every stage runs and
    the true-pose reference picks succeed (the tiny model's own numbers are not meaningful)."""
    from jaxrobot.pose import evaluate

    res = evaluate.evaluate_pose(evaluate.load_predictor(workdir), 8, pick=True, chunk=8)
    assert res["pick_success_rate_gt_pose"] == 1.0, res
    assert 0.0 <= res["pick_success_rate"] <= 1.0
    assert all("pick_success_rate" in e for e in res["per_object"].values())
