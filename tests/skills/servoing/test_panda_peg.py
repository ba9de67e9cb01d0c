"""panda_peg_servo (the servoing controllers on the Franka Panda): the eye camera MuJoCo places on the hand is where
:func:`eye_pose` says (so the twist-to-TCP mapping holds on the arm), marker features match the projected markers,
the taught goal view is the view at the goal pose over any hole pose, the policies see proprioception and images
only, bad configs fail clearly, and (slow) IBVS inserts the peg closed loop in MJX."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.sim import registry
from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.env import State
from jaxrobot.sim.geometry import yaw_matrix, yaw_quat
from jaxrobot.sim.tasks.panda_peg_servo import EYE_OFFSET, MARKER_OFFSETS, eye_pose
from jaxrobot.sim.tasks.servo_target import marker_features
from jaxrobot.skills.servoing.estimators import ibvs_estimator
from jaxrobot.skills.servoing.evaluate_peg import make_env, peg_eval, rollout_fn, visual_obs
from jaxrobot.skills.servoing.policies import camera_to_base, servo_insert_policy
from jaxrobot.vision.camera import project_points

OPENCV = np.diag([1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def env():
    return make_env(task="panda_peg_servo")


@pytest.fixture(scope="module")
def states(env):
    return jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(3), 3))


def _one(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def _markers(st):
    hole_yaw = 2 * math.atan2(float(st.data.mocap_quat[0, 3]), float(st.data.mocap_quat[0, 0]))
    return np.asarray(st.data.mocap_pos[0]) + MARKER_OFFSETS @ np.asarray(yaw_matrix(hole_yaw)).T


def test_eye_camera_and_features(env, states):
    """MuJoCo's eye camera sits where :func:`eye_pose` puts it for the measured TCP and hand yaw; the colour
    centroids of every marker are within 0.5 px of its projection and its depth within 3 mm."""
    k = env.intrinsics
    for i in range(3):
        st = _one(states, i)
        assert float(st.info["ik_pos_err"]) < 1e-4
        proprio = np.asarray(st.obs["proprio"])
        np.testing.assert_allclose(proprio[0:3], st.obs["state"][14:17], atol=1e-6)
        pos, rot = eye_pose(jnp.asarray(proprio[0:3]), jnp.float32(proprio[3]))
        np.testing.assert_allclose(st.data.cam_xpos[env._eye], pos, atol=1e-4)
        np.testing.assert_allclose(st.data.cam_xmat[env._eye].reshape(3, 3) @ OPENCV, rot, atol=1e-3)
        s, z, n = marker_features(st.obs["image_eye"], st.obs["depth_eye"], k)
        assert np.all(np.asarray(n) >= 6), n
        pts = _markers(st)
        uv = np.stack([s[:, 0] * k[0, 0] + k[0, 2], s[:, 1] * k[1, 1] + k[1, 2]], -1)
        np.testing.assert_allclose(uv, project_points(pos, rot, pts, k), atol=0.5)
        np.testing.assert_allclose(z, ((pts - np.asarray(pos)) @ np.asarray(rot))[:, 2], atol=0.003)
        assert float(st.metrics["pixel_error"]) > 0.5  # the start is displaced from the goal view


def test_goal_view_holds_at_every_hole_pose(env, states):
    """With the arm at the goal pose over the episode's true (moved and turned) hole, the eye sees the taught
    goal view (up to a few edge pixels: the IK pose is exact to ~1e-5 m) and the geometric pixel error is 0."""
    model = env.mjx_model

    @jax.jit
    def at_goal(st):
        q = env.arm_at(st.info["goal_tcp"], st.info["goal_yaw"]).q
        data = st.data.replace(qpos=st.data.qpos.at[0:7].set(q))
        data = mjx.camlight(model, mjx.kinematics(model, data))
        rgb, depth = env.render_eye(model, data)
        return rgb, depth, env.pixel_error(data, st.info)

    yaws = [float(2 * jnp.arctan2(states.data.mocap_quat[i, 0, 3], states.data.mocap_quat[i, 0, 0])) for i in range(3)]
    assert max(yaws) - min(yaws) > 0.05  # the holes really turn
    for i in range(3):
        st = _one(states, i)
        rgb, depth, err = at_goal(st)
        assert float(err) < 0.02
        differ = np.any(np.asarray(rgb) != np.asarray(st.info["goal_image"]), axis=-1)
        assert differ.mean() < 0.01, differ.mean()
        k = env.intrinsics
        s, _, _ = marker_features(rgb, depth, k)
        s_goal, _, _ = marker_features(st.info["goal_image"], st.info["goal_depth"], k)
        np.testing.assert_allclose(np.asarray(s) * k[0, 0], np.asarray(s_goal) * k[0, 0], atol=0.1)


def test_camera_to_base_moves_the_arm_eye():
    """With the arm's eye offset, the TCP velocity from :func:`camera_to_base` moves the eye by the twist."""
    tcp, yaw, dt = jnp.array([0.5, 0.1, 0.2]), jnp.float32(1.7), 1e-3
    twist = jnp.array([0.02, -0.01, 0.03, 0.2])
    v, w = camera_to_base(twist, yaw, EYE_OFFSET)
    p0, r0 = eye_pose(tcp, yaw)
    p1, r1 = eye_pose(tcp + v * dt, yaw + w * dt)
    np.testing.assert_allclose(r0.T @ (p1 - p0) / dt, twist[:3], atol=2e-4)
    rel = r0.T @ r1
    np.testing.assert_allclose(math.atan2(float(rel[1, 0]), float(rel[0, 0])) / dt, twist[3], atol=1e-3)


def test_ibvs_step_points_to_the_goal(env, states):
    """One IBVS servo step from the start moves the TCP target towards the goal (ground truth kept out of the
    policy's input) and the target is an ``ee_pose`` action with the hand pointing down."""
    init, policy = servo_insert_policy(env, ibvs_estimator(env))
    step = jax.jit(policy)
    for i in range(3):
        st = _one(states, i)
        goal = {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}
        action, carry = step(visual_obs(st.obs), goal, init())
        tcp = np.asarray(st.obs["proprio"][0:3])
        to_goal = np.asarray(st.info["goal_tcp"]) - tcp
        move = np.asarray(action[0:3]) - tcp
        assert np.dot(move[:2], to_goal[:2]) > 0.5 * np.linalg.norm(move[:2]) * np.linalg.norm(to_goal[:2])
        assert action.shape == (10,) and float(action[9]) == pytest.approx(0.024)
        # pointing down: the hand's x and y axes (the 6-D rotation's two columns) are horizontal
        np.testing.assert_allclose(action[5], 0.0, atol=1e-6)
        np.testing.assert_allclose(action[8], 0.0, atol=1e-6)


def test_servo_net_pairs_on_the_arm(env):
    """Training pairs for the deep servo net: at zero displacement the eye sees the goal view and the label is
    zero; displaced pairs have nonzero twists whose translation points from the eye towards its goal pose."""
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    rgb, cur, goal = jax.jit(env.servo_pair_view)(jax.random.PRNGKey(1), jnp.float32(0.0))
    np.testing.assert_allclose(cur, goal, atol=1e-6)
    differ = np.any(np.asarray(rgb) != np.asarray(env.goal_view(env.mjx_model)[0]), axis=-1)
    assert differ.mean() < 0.01
    batch = jax.jit(peg_servo_pairs, static_argnums=(0, 2))(env, jax.random.PRNGKey(2), 8)
    assert batch["observation/image"].shape == (8, 64, 64, 3) and batch["servo/twist"].shape == (8, 6)
    twist = np.asarray(batch["servo/twist"])
    assert np.all(np.linalg.norm(twist[0::2, :3], axis=1) > 1e-3)  # full displacements
    np.testing.assert_allclose(twist[:, 3:5], 0.0, atol=2e-3)  # the hand points down: no roll or pitch


def test_rollout_hands_visual_obs_only(env):
    """A visual controller on the arm gets ``proprio`` (5-D), the eye image and depth, and the goal view."""
    seen = {}

    def spy(obs, goal, carry):
        seen.update(obs=obs, goal=set(goal))
        return jnp.zeros(10), carry

    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    jax.eval_shape(rollout_fn(env, lambda: {}, spy, 1, steps=1), keys)
    assert {k: v.shape for k, v in seen["obs"].items()} == {"proprio": (5,), "image_eye": (64, 64, 3),
                                                            "depth_eye": (64, 64)}
    jax.eval_shape(rollout_fn(env, lambda: {}, spy, 1, steps=1, privileged=True), keys)
    assert isinstance(seen["obs"], State)


def test_bad_inputs(env):
    with pytest.raises(ConfigError, match="action_space"):
        registry.load("panda_peg_servo", overrides={"action_space": "joint_pos"})
    with pytest.raises(ConfigError, match="start_xy"):
        registry.load("panda_peg_servo", overrides={"start_xy": 0.1})
    with pytest.raises(ConfigError, match="cameras"):
        registry.load("panda_peg_servo", overrides={"cameras": ("wrist",)})
    with pytest.raises(ValueError, match="task must be one of"):
        make_env(task="panda_pick_cube")
    with pytest.raises(NotImplementedError, match="randomisation"):
        env.randomize_model(env.mjx_model, jax.random.PRNGKey(0))
    assert yaw_quat(jnp.float32(0.0)).shape == (4,)


@pytest.mark.slow
def test_ibvs_inserts_on_the_arm(env):
    """IBVS from the eye-in-hand image aligns the peg within the clearance and inserts it on a seeded batch."""
    res = peg_eval("ibvs", n=4, seed=0, env=env)
    assert res["success_rate"] >= 0.75, res
    assert res["switch_dist_mm_max"] < 1.0, res
