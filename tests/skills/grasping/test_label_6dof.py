"""6-DoF grasp labelling: gripper geometry against MuJoCo C, candidate sampling, physics labels, RLDS rows.

The MJX tests share the compiled functions of tests/sim/test_grasp_objects.py (scenes rendered in chunks of
32, grasps executed in chunks of ``CHUNK``) plus one execution function for the 6-DoF scene.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.sim.tasks import grasp_objects as go
from jaxrobot.skills.grasping import label as gl

CHUNK = 32


@pytest.fixture(scope="module")
def c_model():
    return mujoco.MjModel.from_xml_path(str(go.ASSET_6DOF))


def _pad_corners_z(m, d):
    low = []
    for pad in ("left_pad", "right_pad"):
        g = m.geom(pad).id
        rot = d.geom_xmat[g].reshape(3, 3)
        for s in np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T:
            low.append((d.geom_xpos[g] + rot @ (m.geom_size[g] * s))[2])
    return min(low)


def test_gripper_geometry_matches_mujoco_c(c_model):
    """Hinges yaw, pitch, roll make Rz Ry Rx about the tcp (which stays put); Euler angles, quaternions and
    the lowest pad corner agree with MuJoCo C's kinematics."""
    m = c_model
    d = mujoco.MjData(m)
    base = m.body("base").id
    rng = np.random.default_rng(0)
    for _ in range(8):
        ypr = rng.uniform([-3.0, -0.7, -0.7], [3.0, 0.7, 0.7])
        opening = rng.uniform(0.0, go.OPEN)
        d.qpos[:] = m.key_qpos[0]
        d.qpos[7:10] = rng.uniform(-0.1, 0.1, 3)
        d.qpos[10:13] = ypr
        d.qpos[13:15] = opening
        mujoco.mj_forward(m, d)
        rot = np.asarray(go.euler_to_matrix(*(jnp.float32(a) for a in ypr)))
        np.testing.assert_allclose(rot, d.xmat[base].reshape(3, 3), atol=1e-6)
        np.testing.assert_allclose(np.asarray(go.matrix_to_euler(jnp.asarray(rot))), ypr, atol=1e-5)
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, d.xmat[base])
        quat = np.asarray(go.matrix_to_quat(jnp.asarray(rot)))
        np.testing.assert_allclose(quat, q * np.sign(q[0]), atol=1e-6)
        tcp = d.site("tcp").xpos
        np.testing.assert_allclose(tcp, go.HOME_TCP + d.qpos[7:10], atol=1e-6)
        low = float(go.lowest_pad_offset(jnp.asarray(rot), jnp.float32(opening)))
        assert low == pytest.approx(_pad_corners_z(m, d) - tcp[2], abs=1e-6)
    # quaternions of near-180-degree rotations take the other branches of Shepperd's method
    for axis in np.eye(3):
        r = np.zeros(9)
        ref = np.concatenate([[0.01], axis]) / np.sqrt(1.0001)
        mujoco.mju_quat2Mat(r, ref)
        q = np.asarray(go.matrix_to_quat(jnp.asarray(r.reshape(3, 3), jnp.float32)))
        np.testing.assert_allclose(q, ref, atol=1e-5)


def test_gripper_tracks_a_tilted_plan_in_mujoco_c(c_model):
    """The 6-DoF schedule is executable: from its pre-grasp pose the actuators hold a 25-degree tilt and the
    tcp descends along the approach line to the plan (MuJoCo C, no object in reach)."""
    env6 = gl.default_env_6dof()
    m = c_model
    d = mujoco.MjData(m)
    rot = gl.tilted_rotation(jnp.array([[0.0, 1.0, 0.0]]), jnp.array([0.45]), jnp.array([0.3]))[0]
    target = jnp.array([0.62, 0.15, go.TABLE_TOP + 0.08])  # away from the object at the table centre
    plan = go.plan_from_pose(target, rot, jnp.float32(0.03), env6.config.min_tcp_height)
    pre = np.asarray(env6.pregrasp(plan))
    offset = np.asarray(env6._ctrl_offset)
    d.qpos[:] = m.key_qpos[0]
    d.qpos[7:13] = (pre - offset)[:6]
    d.qpos[13:15] = pre[6]
    a = np.asarray(go.approach_direction(rot))
    substeps = env6.n_substeps
    for t in range(env6.config.descend_steps + env6.config.settle_steps):
        d.ctrl[:] = np.asarray(env6.schedule_action(plan, jnp.int32(t))) - offset
        for _ in range(substeps):
            mujoco.mj_step(m, d)
        off_line = np.linalg.norm(np.cross(d.site("tcp").xpos - np.asarray(plan[:3]), a))
        assert off_line < 0.003, (t, off_line)
    for _ in range(10 * substeps):  # the position actuators lag ~1 cm behind the 0.25 s descent: settle
        mujoco.mj_step(m, d)
    np.testing.assert_allclose(d.site("tcp").xpos, np.asarray(plan[:3]), atol=0.002)
    err = np.asarray(rot).T @ d.xmat[m.body("base").id].reshape(3, 3)
    assert math.acos(np.clip((np.trace(err) - 1) / 2, -1, 1)) < 0.02
    assert _pad_corners_z(m, d) > go.TABLE_TOP


def test_tilted_rotation_and_plan_from_pose():
    closing = jnp.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.3], [0.5, -0.5, 0.0]])
    tilt = jnp.array([0.0, 0.3, 0.5])
    rot = np.asarray(gl.tilted_rotation(closing, tilt, jnp.array([0.4, -2.0, 1.0])))
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-6)
    a = np.asarray(go.approach_direction(jnp.asarray(rot)))
    np.testing.assert_allclose(np.arccos(-a[:, 2]), tilt, atol=1e-3)
    # the fingers close along the seed's axis, made perpendicular to the approach
    c = np.asarray(closing)
    c = c - np.sum(c * a, -1, keepdims=True) * a
    np.testing.assert_allclose(rot[:, :, 1], c / np.linalg.norm(c, axis=-1, keepdims=True), atol=1e-6)
    # Plans into the table back off along the approach until the pads clear it; top-down that is
    # the planar rule tcp z >= table + min_tcp_height.
    cfg = go.GraspObjectsConfig()
    pos = jnp.array([[0.5, 0.0, go.TABLE_TOP]] * 3)
    opening = jnp.full(3, 0.02)
    plan = np.asarray(go.plan_from_pose(pos, jnp.asarray(rot), opening, cfg.min_tcp_height))
    assert plan[0, 2] == pytest.approx(go.TABLE_TOP + cfg.min_tcp_height, abs=1e-6)
    low = plan[:, 2] + np.asarray(go.lowest_pad_offset(jnp.asarray(rot), opening))
    np.testing.assert_allclose(low, go.TABLE_TOP + cfg.min_tcp_height - go.PAD_BELOW_TCP, atol=1e-6)
    np.testing.assert_allclose(np.cross(plan[:, :3] - np.asarray(pos), a), 0.0, atol=1e-6)  # on the approach
    high = np.asarray(go.plan_from_pose(pos + 0.1, jnp.asarray(rot), opening, cfg.min_tcp_height))
    np.testing.assert_allclose(high[:, :3], np.asarray(pos) + 0.1, atol=1e-7)  # clear already: unchanged


def test_untilted_6dof_candidates_are_the_planar_plans():
    """With max_tilt = 0 a 6-DoF candidate is its planar seed's plan with pitch = roll = 0."""
    from jaxrobot.vision.grasp_repr import make_grasps

    env = gl.default_env()
    cam = go.grasp_camera(env, 32)
    table = float(cam.world_from_camera[2, 3]) - go.TABLE_TOP
    depth = np.full((32, 32), table, np.float32)
    depth[12:20, 10:22] = table - 0.04
    g = make_grasps(jnp.array([[16.0, 16.0], [14.0, 15.0], [4.0, 4.0], [20.0, 18.0]]),
                    jnp.array([0.0, 1.2, -0.5, 2.0]), jnp.array([8.0, 10.0, 6.0, 14.0]))
    planar = np.asarray(gl.planar_to_plans(env, g, jnp.asarray(depth), cam))
    six = gl.sample_6dof(jax.random.key(0), env, g, jnp.asarray(depth), cam, 4, 0.0)
    expect = np.asarray(go.planar_to_6dof(jnp.asarray(planar)))
    got = np.asarray(six["plan"])
    np.testing.assert_allclose(got[:, [0, 1, 2, 4, 5, 6]], expect[:, [0, 1, 2, 4, 5, 6]], atol=1e-5)
    np.testing.assert_allclose(np.cos(2 * (got[:, 3] - expect[:, 3])), 1.0, atol=1e-5)  # yaw mod pi
    six = gl.sample_6dof(jax.random.key(1), env, g, jnp.asarray(depth), cam, 3, 0.5)
    assert np.all(np.asarray(six["tilt"]) <= 0.5) and six["plan"].shape == (3, 7)
    np.testing.assert_array_equal(np.asarray(six["seed"]), [0, 2, 3])  # evenly spread over the seeds
    np.testing.assert_allclose(np.linalg.norm(np.asarray(six["quaternion"]), axis=-1), 1.0, atol=1e-6)


def test_config_checks():
    from jaxrobot.config import ConfigError, validate

    with pytest.raises(ConfigError, match="max_tilt"):
        validate(gl.GraspLabelConfig(candidates_6dof=4, max_tilt=1.0))
    with pytest.raises(ConfigError, match="candidates_6dof"):
        validate(gl.GraspLabelConfig(candidates_6dof=-1))


# ------------------------------------------------------------------------------------------ physics


@pytest.fixture(scope="module")
def scenes():
    """Scenes 0..3 of the train split (scene 3 is a box), rendered as in tests/sim/test_grasp_objects.py."""
    return gl.render_scenes(gl.default_env(), "train", 0, 0, 4)


def test_6dof_grasp_labels_sane(scenes):
    """In the 6-DoF scene a centred top-down grasp on a box succeeds, the same grasp tilted 20 degrees about
    its closing axis succeeds, and one in empty space fails."""
    env, env6 = gl.default_env(), gl.default_env_6dof()
    i = 3
    assert scenes["categories"][i] == 0
    q = scenes["qpos"][i]
    hx, hy, hz = (float(x) for x in scenes["instances"].size[i, 0])
    yaw = 2 * math.atan2(q[6], q[3])
    close_axis = yaw if hx <= hy else yaw + math.pi / 2
    closing = jnp.array([[math.cos(close_axis), math.sin(close_axis), 0.0]])
    width = 2 * min(hx, hy)
    opening = go.finger_opening(jnp.array([width]), env.config.finger_margin)
    surface = jnp.array([[q[0], q[1], q[2] + hz]])
    plans = []
    for tilt, dx in ((0.0, 0.0), (0.35, 0.0), (0.0, 0.15)):
        az = close_axis + math.pi / 2  # tilt in the plane perpendicular to the closing axis
        rot = gl.tilted_rotation(closing, jnp.array([tilt]), jnp.array([az]))
        tcp = surface + go.approach_direction(rot) * env.config.grasp_depth + jnp.array([dx, 0.0, 0.0])
        plans.append(np.asarray(go.plan_from_pose(tcp, rot, opening, env.config.min_tcp_height))[0])
    plans = np.stack(plans)
    assert abs(plans[1, 4]) + abs(plans[1, 5]) > 0.3  # the tilted one really uses pitch / roll
    insts = jax.tree.map(lambda x: x[i : i + 1], scenes["instances"])
    success, height = gl.execute_plans(env6, insts, scenes["qpos"][i : i + 1], plans[None], chunk=CHUNK)
    assert success.tolist() == [[True, True, False]], height
    assert height[0, 0] > env.config.lift_height and abs(height[0, 2]) < 0.01


def test_write_dataset_6dof_rows(tmp_path):
    """The 6-DoF rows (position, quaternion, plan, labels) round-trip through RLDS next to the planar ones
    (hand-made planar labels, 6-DoF candidates sampled on their depth images; no physics)."""
    from jaxrobot.data.rlds.reader import RldsDataset
    from jaxrobot.vision.grasp_repr import make_grasps
    from tests.helpers.grasp_labels import synthetic_labels

    labels = synthetic_labels(n=3, k=4)
    env = gl.default_env()
    six = []
    for i in range(3):
        grasps = make_grasps(*(jnp.asarray(labels[k][i]) for k in ("center", "angle", "width")))
        six.append(gl.sample_6dof(jax.random.key(i), env, grasps, jnp.asarray(labels["depth"][i]),
                                  labels["camera"], 5, 0.5))
    six = {k: np.stack([np.asarray(x[k]) for x in six]) for k in six[0]}
    six["success"] = np.arange(15).reshape(3, 5) % 3 == 0
    six["height"] = np.linspace(0, 0.1, 15, dtype=np.float32).reshape(3, 5)
    labels.update(grasp_6dof=six)
    labels["stats"].update(max_tilt=0.5, success_rate_6dof=float(six["success"].mean()))
    ds = RldsDataset(gl.write_dataset(labels, str(tmp_path)), "train")
    for i in range(3):
        ep = ds.episode(i)
        for key in ("position", "quaternion", "opening", "tilt", "center", "plan", "height", "success"):
            np.testing.assert_allclose(ep[f"steps/grasp_6dof/{key}"][0], six[key][i], atol=1e-7, err_msg=key)
        np.testing.assert_array_equal(ep["steps/grasp/success"][0], labels["success"][i])


@pytest.mark.slow
def test_label_grasps_cli_writes_6dof_rows(tmp_path, capsys):
    """`jaxrobot sim label-grasps --candidates-6dof K6`: position + quaternion rows with physics labels
    (compiles the 6-DoF candidate sampler: ~40 s on a loaded box)."""
    import argparse

    from jaxrobot.cli import sim as commands
    from jaxrobot.data.rlds.reader import RldsDataset

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", "label-grasps", "--scenes", "3", "--candidates", "4", "--out",
                              str(tmp_path), "--chunk", str(CHUNK), "--candidates-6dof", "6",
                              "--max-tilt-deg", "25", "--no-progress"])
    assert args.func(args) == 0
    out = capsys.readouterr()
    path = out.out.strip().splitlines()[-1]
    ds = RldsDataset(path, "train")
    assert len(ds) == 3
    for i in range(3):
        ep = ds.episode(i)
        pos = ep["steps/grasp_6dof/position"][0]
        quat = ep["steps/grasp_6dof/quaternion"][0]
        plan = ep["steps/grasp_6dof/plan"][0]
        assert pos.shape == (6, 3) and quat.shape == (6, 4) and ep["steps/grasp_6dof/success"].shape == (1, 6)
        np.testing.assert_allclose(pos, plan[:, :3], atol=1e-6)
        rot = np.asarray(go.euler_to_matrix(*(jnp.asarray(plan[:, j]) for j in (3, 4, 5))))
        np.testing.assert_allclose(quat, np.asarray(go.matrix_to_quat(jnp.asarray(rot))), atol=1e-5)
        tilt = ep["steps/grasp_6dof/tilt"][0]
        assert np.all(tilt <= math.radians(25) + 1e-6)
        np.testing.assert_allclose(np.arccos(np.clip(rot[:, 2, 2], -1, 1)), tilt, atol=1e-4)
        assert ep["steps/grasp/success"].shape == (1, 4)  # the planar rows are still there
    assert '"success_rate_6dof"' in out.err
