"""Rendered pose scenes: ground truth consistent with the images, deterministic, disjoint splits; the known
objects' model points and grasps."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.skills.pose import objects, scenes
from jaxrobot.vision import camera as cam_lib

N = 16


@pytest.fixture(scope="module")
def sc():
    return scenes.render_scenes("train", 0, N, chunk=N)


def test_shapes_and_balance(sc):
    assert sc["rgb"].shape == (N, 64, 64, 3) and sc["rgb"].dtype == np.uint8
    assert sc["depth"].shape == (N, 64, 64) and sc["segmentation"].dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(sc["object"], minlength=4), [N // 4] * 4)
    # every object is in view and segmented with its own label only
    for i in range(N):
        labels = set(np.unique(sc["segmentation"][i]).tolist())
        assert labels == {0, int(sc["object"][i]) + 1}


def test_projected_centre_lands_on_the_mask(sc):
    for i in range(N):
        u, v = np.round(sc["center"][i]).astype(int)
        assert sc["segmentation"][i, v, u] == sc["object"][i] + 1, i
        # the visible surface at the centre pixel is in front of the centre, within the object's size
        z = sc["depth"][i, v, u]
        assert 0 < sc["translation"][i, 2] - z < objects.diameters()[sc["object"][i]]


def test_pose_agrees_with_qpos_and_camera(sc):
    """camera_pose @ (R, t) is the object's free-joint pose; depth pixels back-project onto the object."""
    for i in range(N):
        pose = sc["camera_pose"][i]
        t_w = pose[:3, :3] @ sc["translation"][i] + pose[:3, 3]
        np.testing.assert_allclose(t_w, sc["qpos"][i, :3], atol=1e-5)
        k = sc["intrinsics"]
        cam = cam_lib.make_camera(k[0, 0], k[1, 1], k[0, 2], k[1, 2], pose, 64, 64)
        mask = sc["segmentation"][i] > 0
        pts = np.asarray(cam_lib.depth_to_points(cam, jnp.asarray(sc["depth"][i]), frame="world"))[mask]
        dist = np.linalg.norm(pts - sc["qpos"][i, :3], axis=-1)
        reach = np.linalg.norm(objects.model_points()[sc["object"][i]], axis=-1).max()  # origin to farthest point
        assert dist.max() < reach + 0.005  # + a pixel's footprint


def test_deterministic_and_disjoint_splits(sc):
    again = scenes.render_scenes("train", 4, N, chunk=N)  # same chunk shape: no recompilation
    np.testing.assert_array_equal(again["rgb"][: N - 4], sc["rgb"][4:])
    np.testing.assert_array_equal(again["qpos"][: N - 4], sc["qpos"][4:])
    test = scenes.render_scenes("test", 0, N, chunk=N)
    # no test scene repeats a training scene: every (test, train) pair of object poses differs
    gap = np.linalg.norm(test["qpos"][:, None] - sc["qpos"][None], axis=-1)
    assert gap.min() > 1e-3, gap.min()
    with pytest.raises(ValueError, match="split"):
        scenes.scene_keys("val", 0, 0, 1)


def _rot(axis, angle):
    return np.asarray(cam_lib.quat_to_mat(np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])),
                      np.float32)


def test_exact_up_to_a_symmetry_scores_add_s_zero():
    """An estimate that differs from the truth by a symmetry of the object (the block's half turns, any
    rotation of the ball) scores ADD-S below 0.5% of the diameter in the evaluation (not the ~3% that the
    spacing of 500 independent points gives), while ADD still sees the rotation."""
    from jaxrobot.skills.pose import evaluate

    rng = np.random.default_rng(0)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    block, ball = objects.object_index("block"), objects.object_index("ball")
    cases = [(block, _rot(np.eye(3)[i], np.pi)) for i in range(3)]  # the box is axis-aligned at the origin
    cases += [(ball, _rot(unit(rng.normal(size=3)), rng.uniform(1.0, np.pi))) for _ in range(4)]
    obj = np.array([k for k, _ in cases], np.int32)
    r_gt = np.stack([_rot(unit(rng.normal(size=3)), rng.uniform(0, np.pi)) for _ in cases])
    t_gt = (rng.normal(size=(len(cases), 3)) * 0.05 + [0, 0, 0.45]).astype(np.float32)
    r_est = np.stack([r @ g for r, (_, g) in zip(r_gt, cases, strict=True)])
    est = {"object": obj, "rotation": r_est, "translation": t_gt, "found": np.ones(len(obj), bool)}
    err = evaluate.pose_errors(est, {"object": obj, "rotation": r_gt, "translation": t_gt})
    d = objects.diameters()[obj]
    assert np.all(err["add_s"] < 0.005 * d), err["add_s"] / d
    assert np.all(err["add"] > 0.1 * d)


def test_model_points_and_grasps():
    pts = objects.model_points()
    assert pts.shape == (objects.NUM_OBJECTS, 500, 3)
    block = pts[objects.object_index("block")]
    for g in objects.symmetry_group(objects.object_index("block")):  # the block's points: closed under its group
        d = np.linalg.norm((block @ g.T)[:, None] - block[None], axis=-1)
        assert d.min(1).max() < 1e-6
    assert len(objects.symmetry_group(objects.object_index("block"))) == objects.POINTS_MULTIPLE == 4
    with pytest.raises(ValueError, match="multiple of 4"):
        objects.model_points(10)
    d = objects.diameters()
    assert np.all((d > 0.04) & (d < 0.16))
    # the ball's points are on its sphere
    r = objects.instances().size[objects.object_index("ball"), 6, 0]
    np.testing.assert_allclose(np.linalg.norm(pts[objects.object_index("ball")], axis=-1), r, rtol=1e-5)
    env = scenes.scene_env(0.07)
    g = objects.object_grasps(env)
    assert g.shape == (objects.NUM_OBJECTS, 5)
    # at the identity pose at the table centre, the plan is the grasp shifted there
    t = np.array([0.5, 0.0, 0.45], np.float32)
    plan = np.asarray(objects.plan_from_pose(jnp.asarray(g[0]), jnp.eye(3), jnp.asarray(t)))
    np.testing.assert_allclose(plan[:3], g[0, :3] + t, atol=1e-6)
