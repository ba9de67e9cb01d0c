"""Synthetic vision sources: batch layouts the models accept, labels that mean what they say, exact resume."""

import subprocess
import sys

import numpy as np
import pytest

from jaxrobot import config as C
from jaxrobot.data.sources import make_source
from jaxrobot.skills.grasping import synthetic as sv
from jaxrobot.skills.servoing import synthetic as servo_synth


@pytest.mark.parametrize("cfg, keys", [
    (sv.SyntheticGraspMapsConfig(num_scenes=8), {"observation/depth", "grasp/quality", "grasp/cos2",
                                                 "grasp/sin2", "grasp/width"}),
    (sv.SyntheticGraspCandidatesConfig(num_examples=8), {"observation/depth", "grasp/center", "grasp/angle",
                                                         "grasp/depth", "grasp/success"}),
    (servo_synth.SyntheticServoConfig(num_pairs=8), {"observation/image", "observation/goal_image", "servo/twist"}),
], ids=["grasp_maps", "grasp_candidates", "servo"])
def test_sources_are_deterministic_and_resume_exactly(cfg, keys):
    src = make_source(cfg, global_batch_size=4, seed=3)
    assert set(next(src)) == keys
    state = src.get_state()
    b2 = next(src)
    again = make_source(cfg, global_batch_size=4, seed=3)
    again.set_state(state)
    b2_again = next(again)
    for k in keys:
        np.testing.assert_array_equal(b2[k], b2_again[k])
    spec = src.spec()
    assert set(spec["features"]) == keys and spec["dataset"] == type(cfg).kind


def test_grasp_map_targets_sit_on_the_box():
    pool = sv.grasp_map_pool(sv.SyntheticGraspMapsConfig(num_scenes=16, max_width=20.0))
    depth = pool["observation/depth"][..., 0]
    q = pool["grasp/quality"]
    assert np.all(q.reshape(16, -1).max(1) == 1.0)  # every scene has a painted grasp
    on_box = depth < depth.max(axis=(1, 2), keepdims=True) - 1e-3
    assert np.all(on_box[q > 0])  # painted pixels are on the box (the centre third of the closing axis)
    np.testing.assert_allclose(pool["grasp/cos2"][q > 0] ** 2 + pool["grasp/sin2"][q > 0] ** 2, 1.0, atol=1e-5)


def test_candidate_labels_follow_the_geometry():
    """Success iff on the box's middle and closing across the short side; both classes are present."""
    from jaxrobot.skills.grasping.synthetic import box_scene

    d, g = box_scene(np.random.default_rng(0), 32, 32, 1)
    c0, a0 = np.asarray(g.center[0]), float(g.angle[0])
    hs, hl = float(g.width[0]) / 2 - 2.0, 1.5 * float(g.jaw[0]) / 2
    assert sv._on_box_and_across(c0, a0, c0, a0, hl, hs, 0.4)
    assert sv._on_box_and_across(c0, a0 + np.pi, c0, a0, hl, hs, 0.4)  # θ and θ + π are the same grasp
    assert not sv._on_box_and_across(c0, a0 + np.pi / 2, c0, a0, hl, hs, 0.4)  # along the long side
    far = c0 + 2 * hl * np.array([np.sin(a0), -np.cos(a0)])  # off the end of the box
    assert not sv._on_box_and_across(far, a0, c0, a0, hl, hs, 0.4)

    pool = sv.grasp_candidate_pool(sv.SyntheticGraspCandidatesConfig(num_examples=200))
    rate = pool["grasp/success"].mean()
    assert 0.1 < rate < 0.5
    u, v = np.clip(np.rint(pool["grasp/center"]).astype(int), 0, 31).T
    seen = pool["observation/depth"][np.arange(200), v, u, 0]
    np.testing.assert_allclose(pool["grasp/depth"], seen + 0.01, atol=1e-6)


def test_servo_pairs_with_no_displacement_have_zero_twist():
    pool = servo_synth.servo_pool(servo_synth.SyntheticServoConfig(num_pairs=4, max_translation=0.0, max_rotation=0.0))
    np.testing.assert_array_equal(pool["observation/image"], pool["observation/goal_image"])
    np.testing.assert_allclose(pool["servo/twist"], 0.0, atol=1e-6)


def test_configs_and_sources_rebuild_in_a_fresh_process():
    """A checkpoint's config (and its data source) rebuilds from jaxrobot.catalog alone."""
    cfg = C.to_json(servo_synth.SyntheticServoConfig(num_pairs=4))
    code = ("import sys, jaxrobot.catalog, jaxrobot.config as C; from jaxrobot.data.sources import make_source; "
            "cfg = C.from_json(sys.argv[1]); print(type(cfg).__name__, len(next(make_source(cfg, "
            "global_batch_size=2))['servo/twist']))")
    proc = subprocess.run([sys.executable, "-c", code, cfg], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["SyntheticServoConfig", "2"]
