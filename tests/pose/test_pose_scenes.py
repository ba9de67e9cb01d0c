"""Rendered pose scenes: ground truth consistent with the images, deterministic, disjoint splits; the known
objects' model points and grasps."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.pose import objects, scenes
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
    assert not np.allclose(test["qpos"][:, :3], sc["qpos"][:, :3])
    with pytest.raises(ValueError, match="split"):
        scenes.scene_keys("val", 0, 0, 1)


def test_model_points_and_grasps():
    pts = objects.model_points()
    assert pts.shape == (objects.NUM_OBJECTS, 500, 3)
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
