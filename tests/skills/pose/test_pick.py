"""Picking by pose in MJX: the pre-defined grasps placed by the true pose lift every known object, and a
badly wrong pose does not (slow: compiles the batched grasp execution)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrobot.skills.grasping import label as gl
from jaxrobot.skills.pose import evaluate, objects, scenes


@pytest.mark.slow
def test_pick_with_true_pose_succeeds():
    sc = scenes.render_scenes("test", 0, 8, chunk=8)
    env = scenes.scene_env(0.07)
    gt = {"object": sc["object"], "rotation": sc["rotation"], "translation": sc["translation"]}
    wrong = dict(gt, translation=sc["translation"] + np.array([0.12, 0.0, 0.0], np.float32))
    plans = evaluate.pick_plans(wrong, sc, objects.object_grasps(env))  # [S, 2, 5]: wrong pose, true pose
    insts = jax.tree.map(lambda x: x[sc["object"]], objects.instances())
    success, _ = gl.execute_plans(env, insts, sc["qpos"], plans, chunk=16)
    assert success[:, 1].all(), success
    assert not success[:, 0].any(), success
