"""peg_servo: marker features from the rendered eye image match the projected ground-truth markers, the
camera-twist-to-gripper mapping moves the eye as commanded, the visual controllers never see the ground truth
(structurally: scrambling it changes nothing) and the goal view does not depend on the true hole, lost
markers give a clean abort (no crash, no descent) for IBVS and the deep net, bad inputs fail clearly, and
IBVS inserts the peg on a small seeded batch (closed loop in MJX)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.sim import registry
from jaxrobot.sim.env import State
from jaxrobot.sim.tasks.peg_servo import eye_pose, marker_world
from jaxrobot.sim.tasks.servo_target import marker_features
from jaxrobot.skills.servoing.estimators import deep_estimator, ibvs_estimator
from jaxrobot.skills.servoing.evaluate_peg import peg_eval, rollout_fn, visual_obs
from jaxrobot.skills.servoing.policies import camera_to_base, oracle_policy, servo_insert_policy
from jaxrobot.vision.camera import project_points


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
    v, w = camera_to_base(twist, yaw)
    p0, r0 = eye_pose(tcp, yaw)
    p1, r1 = eye_pose(tcp + v * dt, yaw + w * dt)
    np.testing.assert_allclose(r0.T @ (p1 - p0) / dt, twist[:3], atol=2e-4)
    rel = r0.T @ r1  # rotation about the optical axis only
    np.testing.assert_allclose(math.atan2(float(rel[1, 0]), float(rel[0, 0])) / dt, twist[3], atol=1e-3)


@pytest.fixture(scope="module")
def deep_net(states):
    """A small, randomly initialised servo net (its outputs are nonzero garbage: what matters is plumbing)."""
    from jaxrobot.models.servo import ServoConfig, ServoModel

    model = ServoModel(ServoConfig(conv_features=(4, 8), hidden=(8,)))
    st = _one(states, 0)
    params = model.init(jax.random.PRNGKey(0), {"observation/image": st.obs["image_eye"][None],
                                                "observation/goal_image": st.info["goal_image"][None]})
    return model, params


def _goal(st):
    return {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}


def _blank(image):
    return jnp.full_like(image, 120)  # grey: no marker colour anywhere


def _run_policy(policy, init, obs, goal, steps):
    carry = init()
    for _ in range(steps):
        action, carry = policy(obs, goal, carry)
        assert np.all(np.isfinite(action))
    return action, carry


def test_markers_out_of_view_abort(env, states, deep_net):
    """A goal or current view without markers: IBVS and the deep estimator both report not visible (zero
    twist, not converged) and the policy holds, then aborts after its budget instead of descending; no NaNs.
    (The deep net alone would output a twist for any image and could "converge" on a guess.)"""
    st = _one(states, 0)
    obs = visual_obs(st.obs)
    goal = _goal(st)
    blank_goal = dict(goal, image=_blank(goal["image"]))
    blank_obs = dict(obs, image_eye=_blank(obs["image_eye"]))
    for est in (ibvs_estimator(env), deep_estimator(*deep_net)):
        twist, valid = jax.jit(est)(obs, goal)
        assert bool(valid)  # markers in view: a real estimate
        for o, g in ((obs, blank_goal), (blank_obs, goal)):
            twist, valid = jax.jit(est)(o, g)
            assert not bool(valid)
            np.testing.assert_array_equal(twist, 0.0)
            init, policy = servo_insert_policy(env, est, servo_steps=2)
            action, carry = _run_policy(jax.jit(policy), init, o, g, 3)
            assert int(carry["phase"]) == 2 and int(carry["switch_step"]) == -1  # aborted, never inserted
            np.testing.assert_allclose(action[:4], st.obs["state"][:4], atol=1e-6)  # holds still


def test_deep_estimator_plumbing(states, deep_net):
    """The deep estimator runs the servo net on the eye and goal images and returns a 4-DoF twist."""
    st = _one(states, 0)
    twist, valid = deep_estimator(*deep_net)(visual_obs(st.obs), _goal(st))
    assert twist.shape == (4,) and bool(valid) and np.all(np.isfinite(twist)) and np.any(twist != 0)


def test_visual_controllers_ignore_ground_truth(env, states, deep_net):
    """Scrambling the ground truth ``state[5:]`` (peg pose, hole, peg bottom) leaves the IBVS and deep actions
    unchanged: the policies get :func:`visual_obs`, which has no ``state`` key at all."""
    scrambled = jax.random.normal(jax.random.PRNGKey(7), (10,)) * 0.1
    for est in (ibvs_estimator(env), deep_estimator(*deep_net)):
        init, policy = servo_insert_policy(env, est)
        step = jax.jit(policy)
        for i in range(3):
            st = _one(states, i)
            bad = dict(st.obs, state=st.obs["state"].at[5:].set(scrambled))
            a_true, c_true = _run_policy(step, init, visual_obs(st.obs), _goal(st), 2)
            a_bad, c_bad = _run_policy(step, init, visual_obs(bad), _goal(st), 2)
            np.testing.assert_array_equal(a_true, a_bad)
            jax.tree.map(np.testing.assert_array_equal, c_true, c_bad)
            assert np.any(np.asarray(a_true[:4]) != np.asarray(st.obs["state"][:4]))  # it does move
        with pytest.raises(KeyError, match="proprio"):
            policy(st.obs, _goal(st), init())  # it reads no `state`: a full observation is not its input


def test_rollout_hands_visual_obs_only():
    """:func:`rollout_fn` gives a policy only the proprioception and images (and the goal view), unless
    it is a privileged reference: checked at trace time with a spy policy (no compilation)."""
    env0 = registry.load("peg_servo", overrides={"settle_steps": 0})
    seen = {}

    def spy(obs, goal, carry):
        seen.update(obs=obs, goal=set(goal))
        return jnp.zeros(5), carry

    keys = jax.random.split(jax.random.PRNGKey(0), 1)
    jax.eval_shape(rollout_fn(env0, lambda: {}, spy, 1, steps=1), keys)
    assert {k: v.shape for k, v in seen["obs"].items()} == {"proprio": (5,), "image_eye": (64, 64, 3),
                                                            "depth_eye": (64, 64)}
    assert seen["goal"] == {"image", "depth"}
    jax.eval_shape(rollout_fn(env0, lambda: {}, spy, 1, steps=1, privileged=True), keys)
    assert isinstance(seen["obs"], State) and seen["obs"].obs["state"].shape == (15,)  # the whole env state


def test_goal_view_independent_of_hole(env, states):
    """The taught goal view is the same image for every reset, whatever the hole position, and it is the view
    at the goal pose over the *true* hole too (uniform table, hole never rotates): rendering it at the nominal
    hole loses nothing and reads nothing of the true hole."""
    holes = np.asarray(states.info["hole"])[:, :2]
    assert np.min(np.abs(holes[1:] - holes[0])) > 1e-3  # the holes really differ
    for i in range(1, 3):
        np.testing.assert_array_equal(states.info["goal_image"][i], states.info["goal_image"][0])
        np.testing.assert_array_equal(states.info["goal_depth"][i], states.info["goal_depth"][0])

    @jax.jit
    def at_true_hole(hole, goal_tcp):
        d0 = env._data0.replace(mocap_pos=jnp.asarray(env._hole0).at[0].set(hole))
        return env.render_eye(env.mjx_model, env.place(env.mjx_model, d0,
                                                       env.held_qpos(env.mjx_model, goal_tcp, jnp.float32(0.0))))

    for i in range(3):
        rgb, depth = at_true_hole(states.info["hole"][i], states.info["goal_tcp"][i])
        np.testing.assert_array_equal(rgb, states.info["goal_image"][i])
        np.testing.assert_allclose(depth, states.info["goal_depth"][i], atol=1e-6)  # float rounding only


def test_bad_inputs(env):
    with pytest.raises(ConfigError, match="start_xy"):
        registry.load("peg_servo", overrides={"start_xy": 0.1})
    with pytest.raises(ValueError, match="servo_steps"):
        servo_insert_policy(env, ibvs_estimator(env), servo_steps=0)
    with pytest.raises(ValueError, match="switch_streak"):
        servo_insert_policy(env, ibvs_estimator(env), switch_streak=0)
    with pytest.raises(ValueError, match="controller"):
        peg_eval("pbvs", n=1, env=env)
    with pytest.raises(TypeError, match="gain.*only to controller 'ibvs'"):
        peg_eval("oracle", n=1, env=env, gain=5.0)
    with pytest.raises(TypeError, match="only to controller 'ibvs'.*pair"):
        peg_eval(oracle_policy(env), n=1, env=env, servo_steps=10)
    with pytest.raises(NotImplementedError, match="randomisation"):
        env.randomize_model(env.mjx_model, jax.random.PRNGKey(0))


@pytest.mark.slow
def test_ibvs_inserts_closed_loop(env):
    """IBVS on rendered features aligns and inserts every peg of a seeded batch; servoing with the
    sign-flipped law never converges and never inserts."""
    res = peg_eval("ibvs", n=4, seed=0, env=env)
    assert res["success_rate"] == 1.0, res
    assert res["switch_dist_mm_max"] < 1.5, res
    est = ibvs_estimator(env)

    def flipped_law(obs, goal):
        twist, valid = est(obs, goal)
        return -twist, valid

    flipped = servo_insert_policy(env, flipped_law)
    bad = peg_eval(flipped, n=4, seed=0, env=env)
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
            v, _ = camera_to_base(jnp.asarray(tw[i, [0, 1, 2, 5]]), yaw)
            d = np.asarray(goal - start)
            assert float(np.dot(np.asarray(v), d)) > 0.8 * float(np.dot(d, d)), (v, d)
