"""grasp_objects: procedural instances, rendered depth, physics grasp labels, RLDS round trip.

Every MJX call here goes through the same compiled functions (scenes rendered in chunks of 32, grasps
executed in chunks of ``CHUNK``), so the module compiles three functions once (~1-3 min on a loaded
2-core box; seconds with the persistent compilation cache).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxrobot.sim.gantry import TABLE_TOP

CHUNK = 32


@pytest.fixture(scope="module")
def env():
    from jaxrobot.skills.grasping import label as gl

    return gl.default_env()


@pytest.fixture(scope="module")
def scenes(env):
    """Scenes 0..3 of the train split: box, mug, bottle, box (round-robin categories)."""
    from jaxrobot.skills.grasping import label as gl

    return gl.render_scenes(env, "train", 0, 0, 4)


def test_registered_and_config_checks():
    from jaxrobot.config import ConfigError, validate
    from jaxrobot.sim import registry
    from jaxrobot.sim.tasks import grasp_objects as go

    assert "grasp_objects" in registry.tasks()
    with pytest.raises(ConfigError, match="seen_categories"):
        validate(go.GraspObjectsConfig(seen_categories=("teapot",)))
    with pytest.raises(ConfigError, match="grasp_image_size"):
        validate(go.GraspObjectsConfig(grasp_image_size=30))


def test_instances_every_category(env):
    """Instances rest on their lowest point, fit the open gripper across, hide unused slots."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.sim.tasks import grasp_objects as go

    n = 16
    keys = jax.random.split(jax.random.key(3), 4 * n)
    cats = jnp.repeat(jnp.arange(4), n)
    insts = jax.vmap(go.sample_instance)(keys, cats)
    models = jax.vmap(env.apply_instance, in_axes=(None, 0))(env.mjx_model, insts)
    rest = np.asarray(jax.vmap(env.rest_height)(models))
    np.testing.assert_allclose(rest, np.asarray(insts.rest_z), atol=1e-6)
    assert (rest > 0.0115).all() and (rest < 0.09).all()
    size = np.asarray(insts.size)
    used = size.max(-1) > go.HIDDEN
    expect_used = {0: [0], 1: [0, 1, 2, 3, 4], 2: [4, 5], 3: [6]}
    for c, slots in expect_used.items():
        got = used[np.asarray(cats) == c]
        assert (got[:, slots]).all() and not np.delete(got, slots, axis=1).any(), go.CATEGORIES[c]
    # narrow horizontal extent fits between the open fingers (9.6 cm) with a margin
    narrow = 2 * np.asarray(insts.body_radius)
    assert (narrow <= 0.07).all()
    # only the object's instance fields change
    m0 = jax.tree.map(lambda x: x[0], models)
    others = np.setdiff1d(np.arange(env.mj_model.ngeom), env.slots)
    np.testing.assert_array_equal(
        np.asarray(m0.geom_size)[others], np.asarray(env.mjx_model.geom_size)[others]
    )
    np.testing.assert_array_equal(np.asarray(m0.geom_friction), np.asarray(env.mjx_model.geom_friction))


def test_splits_are_disjoint():
    import jax

    from jaxrobot.sim.tasks import grasp_objects as go

    cfg = go.GraspObjectsConfig()
    a = jax.random.key_data(go.scene_keys("train", 0, 0, 8))
    b = jax.random.key_data(go.scene_keys("novel_instances", 0, 0, 8))
    assert not (np.asarray(a)[:, None] == np.asarray(b)[None]).all(-1).any()
    assert set(go.scene_categories(cfg, "novel_categories", 0, 5)) == {go.CATEGORIES.index("sphere")}
    assert set(go.scene_categories(cfg, "train", 0, 6)) == {0, 1, 2}


def test_rendered_depth_matches_box_top(env, scenes):
    """z-depth at the box centre = camera height - box top (analytic), the table elsewhere."""
    from jaxrobot.sim.tasks import grasp_objects as go
    from jaxrobot.vision import camera as cam_lib

    cam = go.grasp_camera(env)
    i = 0
    assert scenes["categories"][i] == 0
    pos = scenes["qpos"][i, :3]
    hz = float(scenes["instances"].size[i, 0, 2])
    uv, z = cam_lib.world_to_pixel(cam, pos)
    u, v = (int(round(float(x))) for x in uv)
    top = pos[2] + hz
    cam_z = float(cam.world_from_camera[2, 3])
    assert scenes["depth"][i, v, u] == pytest.approx(cam_z - top, abs=5e-4)
    assert scenes["depth"][i, 0, 0] == pytest.approx(cam_z - TABLE_TOP, abs=5e-4)


def _box_plans(env, scenes, i):
    """(direct centred plan, planar-grasp plan through the camera, plan in empty space) for box scene i."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks import grasp_objects as go
    from jaxrobot.skills.grasping import label as gl
    from jaxrobot.vision import camera as cam_lib
    from jaxrobot.vision.grasp_repr import make_grasps

    cfg = env.config
    q = scenes["qpos"][i]
    hx, hy, hz = (float(x) for x in scenes["instances"].size[i, 0])
    yaw = 2 * math.atan2(q[6], q[3])
    # close across the narrow side: the fingers close along the gripper's y axis
    close_axis = yaw if hx <= hy else yaw + math.pi / 2
    grip_yaw = (close_axis - math.pi / 2 + math.pi / 2) % math.pi - math.pi / 2
    width = 2 * min(hx, hy)
    z = max(q[2] + hz - cfg.grasp_depth, TABLE_TOP + cfg.min_tcp_height)
    opening = float(go.finger_opening(jnp.float32(width), cfg.finger_margin))
    direct = np.array([q[0], q[1], z, grip_yaw, opening], np.float32)
    empty = direct.copy()
    empty[0] += 0.15
    # the same grasp as a planar image grasp, lifted by the labeller's camera code
    cam = go.grasp_camera(env)
    uv, _ = cam_lib.world_to_pixel(cam, jnp.asarray(q[:3]))
    tip, _ = cam_lib.world_to_pixel(
        cam, jnp.asarray(q[:3]) + 0.02 * jnp.array([math.cos(close_axis), math.sin(close_axis), 0.0])
    )
    d = np.asarray(tip - uv)
    width_px = width * float(cam.fx) / (float(cam.world_from_camera[2, 3]) - (q[2] + hz))
    g = make_grasps(uv[None], jnp.array([math.atan2(d[1], d[0])]), jnp.array([width_px]))
    planar = np.asarray(gl.planar_to_plans(env, g, jnp.asarray(scenes["depth"][i]), cam))[0]
    return direct, planar, empty


def test_grasp_labels_sane(env, scenes):
    """A centred top-down grasp on a box succeeds (as a plan and as an image grasp); empty space fails."""
    from jaxrobot.skills.grasping import label as gl

    i = 3  # a box
    assert scenes["categories"][i] == 0
    direct, planar, empty = _box_plans(env, scenes, i)
    np.testing.assert_allclose(planar[:2], direct[:2], atol=0.004)  # camera lifting ~1 px
    plans = np.stack([direct, planar, empty])[None]
    insts = __import__("jax").tree.map(lambda x: x[i : i + 1], scenes["instances"])
    success, height = gl.execute_plans(env, insts, scenes["qpos"][i : i + 1], plans, chunk=CHUNK)
    assert success.tolist() == [[True, True, False]], height
    assert height[0, 0] > env.config.lift_height and abs(height[0, 2]) < 0.01


def test_label_grasps_writes_rlds(env, tmp_path):
    """End to end: K candidates per scene executed in MJX, written as RLDS, read back unchanged."""
    from jaxrobot.data.rlds.reader import RldsDataset
    from jaxrobot.skills.grasping import label as gl

    cfg = gl.GraspLabelConfig(scenes=4, candidates=8, random_fraction=0.25, exec_chunk=CHUNK, scene_chunk=32)
    labels = gl.label_grasps(cfg, env)
    st = labels["stats"]
    assert labels["success"].shape == (4, 8) and labels["plans"].shape == (4, 8, 5)
    assert (labels["source"][:, -2:] == 1).all()
    assert st["scenes_with_a_success"] >= 0.5
    # every executed plan is inside the gripper's reach
    assert np.all(np.abs(labels["plans"][..., 0] - 0.5) < 0.25) and np.all(
        np.abs(labels["plans"][..., 1]) < 0.3
    )
    path = gl.write_dataset(labels, str(tmp_path))
    ds = RldsDataset(path, "train")
    assert len(ds) == 4
    ep = ds.episode(2)
    np.testing.assert_array_equal(ep["steps/grasp/success"][0], labels["success"][2])
    np.testing.assert_array_equal(ep["steps/observation/depth"][0, ..., 0], labels["depth"][2])
    assert ep["episode_metadata/category"].item() in (b"bottle", "bottle")
    np.testing.assert_allclose(
        ep["episode_metadata/camera_intrinsics"], np.asarray(labels["camera"].K), atol=1e-5
    )


def test_label_grasps_cli_prints_dataset_path(tmp_path, capsys):
    """`jaxrobot sim label-grasps`: the last stdout line is the folder tfds/RldsDataset open."""
    import argparse

    from jaxrobot.cli import sim as commands
    from jaxrobot.data.rlds.reader import RldsDataset

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", "label-grasps", "--scenes", "2", "--candidates", "4", "--out", str(tmp_path),
                              "--chunk", str(CHUNK), "--no-progress"])
    assert args.func(args) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    ds = RldsDataset(path, "train")
    assert len(ds) == 2 and ds.episode(0)["steps/grasp/success"].shape == (1, 4)
