"""peg_servo: marker features from the rendered eye image match the projected ground-truth markers, the
camera-twist-to-gripper mapping moves the eye as commanded, lost markers give a clean abort (no crash, no
descent), bad inputs fail clearly, and IBVS inserts the peg on a small seeded batch (closed loop in MJX)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.servoing import peg
from jaxrobot.sim import registry
from jaxrobot.sim.tasks.peg_servo import eye_pose, marker_world, project_points
from jaxrobot.sim.tasks.servo_target import marker_features

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def env():
    return registry.load("peg_servo")


@pytest.fixture(scope="module")
def states():
    """Three seeded resets without the settling physics (features and geometry only; compiles faster)."""
    env0 = registry.load("peg_servo", overrides={"settle_steps": 0})
    return jax.jit(jax.vmap(env0.reset))(jax.random.split(jax.random.PRNGKey(3), 3))


def _one(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def test_registered():
    assert "peg_servo" in registry.tasks()


def test_features_match_projection(env, states):
    """Colour-mask centroids (current and goal view) are within 0.5 px of the projected marker centres, and
    the eye camera in the physics data sits where :func:`eye_pose` says."""
    k = env.intrinsics
    for i in range(3):
        st = _one(states, i)
        tcp, yaw = st.data.site_xpos[env._tcp_site], st.data.qpos[10]
        pos, rot = eye_pose(tcp, yaw)
        np.testing.assert_allclose(st.data.cam_xpos[env._eye], pos, atol=1e-5)
        np.testing.assert_allclose(st.data.cam_xmat[env._eye], rot @ np.diag([1.0, -1.0, -1.0]), atol=1e-5)
        pts = marker_world(st.info["hole"])
        views = ((st.obs["image_eye"], st.obs["depth_eye"], pos, rot),
                 (st.info["goal_image"], st.info["goal_depth"], *eye_pose(st.info["goal_tcp"], jnp.float32(0))))
        for img, dep, p, r in views:
            s, z, n = marker_features(img, dep, k)
            assert np.all(np.asarray(n) >= 9), n  # every marker in view, several pixels
            uv = np.stack([s[:, 0] * k[0, 0] + k[0, 2], s[:, 1] * k[1, 1] + k[1, 2]], -1)
            np.testing.assert_allclose(uv, project_points(p, r, pts, k), atol=0.5)
            np.testing.assert_allclose(z, ((pts - p) @ r)[:, 2], atol=0.003)
        # the peg starts held and the start is displaced from the goal view
        assert float(st.metrics["pixel_error"]) > 0.5
        np.testing.assert_allclose(st.obs["state"][5:7], tcp[:2], atol=0.002)


def test_camera_to_base_moves_the_eye():
    """The base velocity from :func:`camera_to_base` moves the eye camera by the commanded camera twist."""
    tcp, yaw, dt = jnp.array([0.5, 0.1, 0.5]), jnp.float32(0.3), 1e-3
    twist = jnp.array([0.02, -0.01, 0.03, 0.2])
    v, w = peg.camera_to_base(twist, yaw)
    p0, r0 = eye_pose(tcp, yaw)
    p1, r1 = eye_pose(tcp + v * dt, yaw + w * dt)
    np.testing.assert_allclose(r0.T @ (p1 - p0) / dt, twist[:3], atol=2e-4)
    rel = r0.T @ r1  # rotation about the optical axis only
    np.testing.assert_allclose(math.atan2(float(rel[1, 0]), float(rel[0, 0])) / dt, twist[3], atol=1e-3)


def test_markers_out_of_view_abort(env, states):
    """A goal view without markers: the estimator reports not visible (zero twist, not converged) and the
    policy holds, then aborts after its budget instead of descending; no NaNs."""
    est = peg.ibvs_estimator(env)
    st = _one(states, 0)
    blank = {"image": jnp.full_like(st.info["goal_image"], 120), "depth": st.info["goal_depth"]}
    twist, valid = jax.jit(est)(st.obs, blank)
    assert not bool(valid)
    np.testing.assert_array_equal(twist, 0.0)
    init, policy = peg.servo_insert_policy(env, est, servo_steps=2)
    carry = init()
    for _ in range(3):
        action, carry = policy(st.obs, blank, carry)
        assert np.all(np.isfinite(action))
    assert int(carry["phase"]) == 2  # aborted
    np.testing.assert_allclose(action[:4], st.obs["state"][:4], atol=1e-6)  # holds still


def test_deep_estimator_plumbing(env, states):
    """The deep estimator runs the servo net on the eye and goal images and returns a 4-DoF twist."""
    from jaxrobot.models.servo import ServoConfig, ServoModel

    model = ServoModel(ServoConfig(conv_features=(4, 8), hidden=(8,)))
    st = _one(states, 0)
    params = model.init(jax.random.PRNGKey(0), {"observation/image": st.obs["image_eye"][None],
                                                "observation/goal_image": st.info["goal_image"][None]})
    goal = {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}
    twist, valid = peg.deep_estimator(model, params)(st.obs, goal)
    assert twist.shape == (4,) and bool(valid) and np.all(np.isfinite(twist))


def test_bad_inputs(env):
    with pytest.raises(ConfigError, match="start_xy"):
        registry.load("peg_servo", overrides={"start_xy": 0.1})
    with pytest.raises(ValueError, match="servo_steps"):
        peg.servo_insert_policy(env, peg.ibvs_estimator(env), servo_steps=0)
    with pytest.raises(ValueError, match="switch_streak"):
        peg.servo_insert_policy(env, peg.ibvs_estimator(env), switch_streak=0)
    with pytest.raises(ValueError, match="controller"):
        peg.peg_eval("pbvs", n=1, env=env)
    with pytest.raises(NotImplementedError, match="randomisation"):
        env.randomize_model(env.mjx_model, jax.random.PRNGKey(0))


@pytest.mark.slow
def test_ibvs_inserts_closed_loop(env):
    """IBVS on rendered features aligns and inserts every peg of a seeded batch; servoing with the
    sign-flipped law never converges and never inserts."""
    res = peg.peg_eval("ibvs", n=4, seed=0, env=env)
    assert res["success_rate"] == 1.0, res
    assert res["switch_dist_mm_max"] < 1.5, res
    est = peg.ibvs_estimator(env)

    def flipped_law(obs, goal):
        twist, valid = est(obs, goal)
        return -twist, valid

    flipped = peg.servo_insert_policy(env, flipped_law)
    bad = peg.peg_eval(flipped, n=4, seed=0, env=env)
    assert bad["success_rate"] == 0.0 and bad["inserting"] == 0, bad


@pytest.mark.slow
def test_pairs_labels(env):
    """Deep-servo training pairs: the goal image is the taught view, the label's rotation is about the
    optical axis only and undoes the start yaw, and its gripper motion points from the start to the goal."""
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    batch = jax.jit(lambda key: peg_servo_pairs(env, key, 4))(jax.random.PRNGKey(1))
    assert batch["observation/image"].shape == (4, 64, 64, 3) == batch["observation/goal_image"].shape
    tw = np.asarray(batch["servo/twist"])
    np.testing.assert_allclose(tw[:, 3:5], 0.0, atol=1e-5)
    for i in range(4):
        k_pose, _ = jax.random.split(jax.random.split(jax.random.PRNGKey(1), 4)[i])  # as peg_servo_pairs
        _, goal, start, yaw = env.sample_start(env.mjx_model, k_pose, 1.0)
        if i % 2 == 0:  # unshrunk pairs: the start is known
            np.testing.assert_allclose(tw[i, 5], yaw, atol=1e-4)  # camera z = -world z: ωz = +yaw undoes it
            v, _ = peg.camera_to_base(jnp.asarray(tw[i, [0, 1, 2, 5]]), yaw)
            d = np.asarray(goal - start)
            assert float(np.dot(np.asarray(v), d)) > 0.8 * float(np.dot(d, d)), (v, d)
