"""panda_pick_cube: observation layout against MuJoCo C, MJX against MuJoCo C on the expert's episodes, the
action spaces, the expert's success rate and joint limits, the cameras.

Every fast test shares one batch of ``N`` seeded episodes (one compilation of the batched reset and expert
chunk, ~40 s cold, seconds with the persistent compilation cache). The oracle is MuJoCo C (float64) on the
same model: forward kinematics for the observation, ``mj_step`` for the trajectories.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.config import ConfigError, from_json, to_json
from jaxrobot.sim import panda, registry
from jaxrobot.sim.batch import batched, episode_keys
from jaxrobot.sim.demos import rollout_expert
from jaxrobot.sim.evaluate import wilson_interval
from jaxrobot.sim.geometry import matrix_to_quat
from jaxrobot.sim.tasks.panda_pick_cube import down_rotation, rot6d, rot6d_to_matrix
from tests.helpers.sim import check_expert_in_action_space, episode_success, ik_replay, panda_gravity_c

N = 64  # seeded episodes for the success rate (the issue asks for >= 64)
SEED = 0


@pytest.fixture(scope="module")
def penv():
    return registry.load("panda_pick_cube")


@pytest.fixture(scope="module")
def pbenv(penv):
    return batched(penv)


@pytest.fixture(scope="module")
def roll(pbenv):
    """The expert (noise on, default ``ee_pose`` actions) on episodes 0..N-1 of seed SEED."""
    return rollout_expert(pbenv, SEED, 0, N)


# ---------------------------------------------------------------- observation layout


def test_observation_layout_matches_mujoco(penv, pbenv):
    k_reset, _, _ = episode_keys(SEED, 0, N)
    state = pbenv.reset(penv.mjx_model, k_reset)
    s = np.asarray(state.obs["state"])
    qpos = np.asarray(state.data.qpos)
    assert s.shape == (N, 29) and s.dtype == np.float32
    m = penv.mj_model
    d = mujoco.MjData(m)
    site, box = m.site(panda.TCP_SITE).id, m.body("box").id
    for b in range(4):
        d.qpos[:] = qpos[b]
        mujoco.mj_forward(m, d)
        np.testing.assert_allclose(s[b, 0:7], d.qpos[0:7], atol=1e-6)
        np.testing.assert_allclose(s[b, 14:17], d.site_xpos[site], atol=1e-5)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, s[b, 17:21].astype(np.float64))
        np.testing.assert_allclose(rot, d.site_xmat[site], atol=1e-5)  # TCP quaternion = site orientation
        np.testing.assert_allclose(s[b, 21], d.qpos[7] + d.qpos[8], atol=1e-6)
        np.testing.assert_allclose(s[b, 22:25], d.xpos[box], atol=1e-6)
        np.testing.assert_allclose(s[b, 25:29], d.xquat[box], atol=1e-6)
        # Gravity feed-forward: the arm's gravity torques are MuJoCo's bias forces at rest.
        d.qvel[:] = 0
        mujoco.mj_forward(m, d)
        np.testing.assert_allclose(panda_gravity_c(m, d), d.qfrc_bias[0:7], atol=1e-6)
    # Reset distribution: cube on the floor inside the configured square, arm inside its limits, at rest.
    cfg = penv.config
    cube = s[:, 22:25]
    assert np.all(np.abs(cube[:, 0:2] - np.asarray(cfg.cube_center)) <= cfg.cube_xy_range + 1e-6)
    np.testing.assert_allclose(cube[:, 2], 0.03, atol=1e-5)
    assert np.std(cube[:, 0]) > cfg.cube_xy_range / 4
    lo, hi = np.asarray(penv.kin.lower), np.asarray(penv.kin.upper)
    np.testing.assert_allclose(lo, m.jnt_range[:7, 0], atol=1e-6)
    np.testing.assert_allclose(hi, m.jnt_range[:7, 1], atol=1e-6)
    assert np.all(s[:, 0:7] >= lo) and np.all(s[:, 0:7] <= hi)
    np.testing.assert_allclose(s[:, 21], panda.WIDTH_OPEN, atol=1e-6)
    assert np.all(s[:, 7:14] == 0) and not np.asarray(state.done).any()


def test_action_bounds_config_and_rotation_encoding():
    for space, size in (("ee_pose", 10), ("ee_delta", 7), ("joint_pos", 8)):
        env = registry.load("panda_pick_cube", overrides={"action_space": space})
        assert env.action_size == size
        assert np.all(np.isfinite(env.action_low)) and np.all(env.action_low < env.action_high)
        assert from_json(to_json(env.config)) == env.config  # saved with checkpoints, rebuilt without code
    with pytest.raises(ConfigError, match="action_space"):
        registry.load("panda_pick_cube", overrides=["action_space=cartesian"])
    # The scene keeps Menagerie's solver options; an episode is at most 600 physics steps.
    env = registry.load("panda_pick_cube")
    opt = env.mj_model.opt
    assert (opt.timestep, opt.iterations, opt.ls_iterations) == (0.005, 5, 8)
    assert opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert env.config.episode_steps * env.n_substeps <= 600
    env = registry.load("panda_pick_cube", overrides={"action_space": "joint_pos"})
    np.testing.assert_allclose(env.action_low[:7], env.mj_model.jnt_range[:7, 0], atol=1e-6)
    np.testing.assert_allclose(env.action_high[:7], env.mj_model.jnt_range[:7, 1], atol=1e-6)
    # 6-D rotations round-trip, and a perturbed 6-D vector still decodes to a rotation.
    rot = np.asarray(down_rotation(jnp.float32(0.7)))
    np.testing.assert_allclose(np.asarray(rot6d_to_matrix(rot6d(jnp.asarray(rot)))), rot, atol=1e-6)
    r = np.asarray(rot6d_to_matrix(jnp.asarray(rot6d(jnp.asarray(rot))) + 0.1))
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-5)
    assert np.linalg.det(r) > 0.99


# ---------------------------------------------------------------- expert


def test_expert_success_rate_and_joint_limits(penv, roll):
    """>= 97% of N seeded episodes succeed (noise injection on); the reported Wilson interval is the 95% one."""
    success = episode_success(roll)
    k = int(success.sum())
    lo, hi = wilson_interval(k, N)
    print(f"panda_pick_cube expert: {k}/{N} = {k / N:.1%} (Wilson 95% [{lo:.3f}, {hi:.3f}]); "
          f"mean length {np.mean(roll['done'].argmax(axis=1) + 1):.1f} steps")
    assert k / N >= 0.97, np.flatnonzero(~success)
    # Noise was injected, and labels / executed actions stay inside the action bounds.
    assert np.abs(roll["executed"] - roll["label"]).max() > 1e-3
    for key in ("label", "executed"):
        assert np.all(roll[key] >= penv.action_low - 1e-6) and np.all(roll[key] <= penv.action_high + 1e-6)
    # Measured joints inside the ranges (commanded joints are checked in the MJX vs C test, which solves them).
    q = roll["obs/state"][..., 0:7]
    lo_q, hi_q = np.asarray(penv.kin.lower), np.asarray(penv.kin.upper)
    assert np.all(q >= lo_q - 1e-3) and np.all(q <= hi_q + 1e-3)


def test_mjx_matches_mujoco_c(penv, roll):
    """MJX (float32) against MuJoCo C (float64) on the expert's executed episodes, same controls.

    The C side runs the same controller: joint targets from the same (jitted) IK on the recorded actions,
    plus the gravity feed-forward computed from C's own state. Tolerance 2 mm on the TCP and the cube
    over whole episodes (approach, grasp, lift)."""
    m = penv.mj_model
    d = mujoco.MjData(m)
    kp = m.actuator_gainprm[:7, 0]
    site, box = m.site(panda.TCP_SITE).id, m.body("box").id
    lo_q, hi_q = np.asarray(penv.kin.lower), np.asarray(penv.kin.upper)
    success = episode_success(roll)
    worst = 0.0
    for b in np.flatnonzero(success)[:3]:
        done = roll["done"][b]
        steps = int(done.argmax()) + 1
        actions = roll["executed"][b, :steps]
        q_cmd = np.asarray(ik_replay(penv)(jnp.asarray(roll["qpos0"][b:b + 1, 0:7]), jnp.asarray(actions[None])))[0]
        # The joint commands of the IK inside the step never leave the joint ranges.
        assert np.all(q_cmd >= lo_q - 1e-6) and np.all(q_cmd <= hi_q + 1e-6)
        mujoco.mj_resetData(m, d)
        d.qpos[:] = roll["qpos0"][b]
        mujoco.mj_forward(m, d)
        states = roll["obs/state"][b]
        for t in range(steps):
            if t > 0:  # obs/state[t] is the observation before action t
                worst = max(worst, np.abs(d.site_xpos[site] - states[t, 14:17]).max(),
                            np.abs(d.xpos[box] - states[t, 22:25]).max())
            d.ctrl[0:7] = q_cmd[t] + panda_gravity_c(m, d) / kp
            d.ctrl[7] = 0.5 * np.clip(actions[t, -1], 0.0, panda.WIDTH_OPEN)
            for _ in range(penv.n_substeps):
                mujoco.mj_step(m, d)
        # The C replay lifts the cube too (the grasp is not an MJX artefact).
        assert d.xpos[box][2] > 0.03 + 0.9 * penv.config.lift_height
    print(f"MJX vs MuJoCo C: max TCP / cube position difference {worst * 1e3:.3f} mm")
    assert worst < 2e-3, f"max MJX vs C position difference {worst * 1e3:.3f} mm"


# ---------------------------------------------------------------- action spaces


def test_ee_pose_target_reached(penv, pbenv):
    """Held ee_pose targets (~20 cm above each cube, pointing down, yaw within 90° of home) are reached within
    3 mm and 1° after 1 s, at rest."""
    k_reset, _, _ = episode_keys(SEED + 7, 0, N)
    state = pbenv.reset(penv.mjx_model, k_reset)
    rng = np.random.default_rng(0)
    cube = np.asarray(state.obs["state"][:, 22:25])
    pos = cube + np.array([0.0, 0.0, 0.2]) + rng.uniform(-0.05, 0.05, (N, 3))
    yaw = rng.uniform(0.0, np.pi, N).astype(np.float32)  # home: hand x along world +y (yaw pi/2)
    rots = np.stack([np.asarray(down_rotation(jnp.float32(y))) for y in yaw])
    actions = np.concatenate([pos, rots[:, :, 0], rots[:, :, 1], np.full((N, 1), 0.08)], axis=1)
    actions = actions.astype(np.float32)
    for _ in range(int(round(1.0 / penv.dt))):
        state = pbenv.step(penv.mjx_model, state, actions)
    s = np.asarray(state.obs["state"])
    pos_err = np.linalg.norm(s[:, 14:17] - pos, axis=1)
    rot_err = []
    for b in range(N):
        r = np.zeros(9)
        mujoco.mju_quat2Mat(r, s[b, 17:21].astype(np.float64))
        cos = (np.trace(rots[b].T @ r.reshape(3, 3)) - 1) / 2
        rot_err.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    print(f"ee_pose reach: max {pos_err.max() * 1e3:.2f} mm, {max(rot_err):.3f} deg")
    assert pos_err.max() < 3e-3, pos_err
    assert max(rot_err) < 1.0, rot_err
    assert np.abs(s[:, 7:14]).max() < 0.05  # settled


def _hold(env, targets: np.ndarray, seconds: float, seed: int = 3):
    benv = batched(env)
    k_reset, _, _ = episode_keys(seed, 0, len(targets))
    state = benv.reset(env.mjx_model, k_reset)
    for _ in range(int(round(seconds / env.dt))):
        state = benv.step(env.mjx_model, state, targets)
    return state


@pytest.mark.slow
def test_fine_noise_offsets_only_the_hover_and_descent():
    """``expert_noise_fine`` moves the executed TCP target in x/y only, only over the cube with the fingertips
    >= 5 mm above its top, and the expert still succeeds (it re-centres before closing)."""
    env = registry.load("panda_pick_cube", overrides={"expert_noise": 0.0, "expert_noise_fine": 0.006})
    roll = rollout_expert(batched(env), SEED, 0, 16)
    diff = roll["executed"] - roll["label"]
    assert np.all(diff[..., 2:] == 0)  # height, rotation, gripper untouched
    moved = np.linalg.norm(diff[..., 0:2], axis=-1) > 1e-6
    assert moved.mean() > 0.02 and np.abs(diff[..., 0:2]).max() > 0.004
    s = roll["obs/state"]
    tcp, cube = s[..., 14:17], s[..., 22:25]
    assert np.all(tcp[moved][:, 2] > cube[moved][:, 2] + 0.03 + 0.017 - 1e-4)  # half height 3 cm
    assert np.all(np.linalg.norm(tcp[moved][:, 0:2] - cube[moved][:, 0:2], axis=-1) < 0.05)
    assert episode_success(roll).sum() >= 15


@pytest.mark.slow
def test_joint_pos_tracked():
    """Joint targets (random, inside the ranges around home) are tracked within 0.01 rad after 1 s."""
    env = registry.load("panda_pick_cube", overrides={"action_space": "joint_pos"})
    rng = np.random.default_rng(1)
    q = np.clip(panda.HOME_Q + rng.uniform(-0.4, 0.4, (8, 7)), env.action_low[:7] + 0.05,
                env.action_high[:7] - 0.05)
    targets = np.concatenate([q, np.full((8, 1), 0.06)], axis=1).astype(np.float32)
    state = _hold(env, targets, 1.0)
    s = np.asarray(state.obs["state"])
    assert np.abs(s[:, 0:7] - q).max() < 0.01, np.abs(s[:, 0:7] - q).max(axis=1)
    np.testing.assert_allclose(s[:, 21], 0.06, atol=2e-3)


@pytest.mark.slow
def test_ee_delta_moves_relative():
    """20 steps of a constant ee_delta (-1 cm in x, -1 cm in z, +0.01 rad about world z), then zero deltas:
    the deltas integrate into the target, so the TCP comes to rest 20 cm back, 20 cm down and turned by 0.2 rad
    (within 3 mm and 1°)."""
    env = registry.load("panda_pick_cube", overrides={"action_space": "ee_delta"})
    benv = batched(env)
    k_reset, _, _ = episode_keys(5, 0, 8)
    state = benv.reset(env.mjx_model, k_reset)
    s0 = np.asarray(state.obs["state"])
    delta = np.tile(np.array([-0.01, 0.0, -0.01, 0.0, 0.0, 0.01, 0.08], np.float32), (8, 1))
    hold = delta * np.array([0, 0, 0, 0, 0, 0, 1], np.float32)
    for t in range(20 + 30):
        state = benv.step(env.mjx_model, state, delta if t < 20 else hold)
    s = np.asarray(state.obs["state"])
    moved = s[:, 14:17] - s0[:, 14:17]
    np.testing.assert_allclose(moved, np.tile([-0.2, 0.0, -0.2], (8, 1)), atol=3e-3)
    turn = np.array([[np.cos(0.2), -np.sin(0.2), 0], [np.sin(0.2), np.cos(0.2), 0], [0, 0, 1]])
    for b in range(8):
        r0, r1 = np.zeros(9), np.zeros(9)
        mujoco.mju_quat2Mat(r0, s0[b, 17:21].astype(np.float64))
        mujoco.mju_quat2Mat(r1, s[b, 17:21].astype(np.float64))
        err = turn @ r0.reshape(3, 3) @ r1.reshape(3, 3).T
        assert np.degrees(np.arccos(np.clip((np.trace(err) - 1) / 2, -1, 1))) < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("space", ["joint_pos", "ee_delta"])
def test_expert_in_other_action_spaces(space):
    """The expert drives every action space; joint_pos labels stay inside the joint ranges."""
    check_expert_in_action_space("panda_pick_cube", space, SEED, N)


# ---------------------------------------------------------------- cameras


def test_cameras_render_and_wrist_sees_cube():
    """Both cameras render non-trivial images; with the hand 15 cm above the cube, pointing down, the wrist
    camera sees the (green) cube near the image centre; intrinsics/extrinsics are in the observation."""
    size = 48
    env = registry.load("panda_pick_cube", overrides={"image_size": size})
    spec = env.observation_spec()
    for cam in panda.CAMERAS:
        assert spec[f"image_{cam}"] == ((size, size, 3), "uint8")
        assert spec[f"intrinsics_{cam}"] == ((3, 3), "float32")
        assert spec[f"extrinsics_{cam}"] == ((4, 4), "float32")
    m = env.mj_model
    cube = np.array([0.55, 0.05, 0.03])
    down = matrix_to_quat(down_rotation(jnp.float32(np.pi / 2)))  # hand z down, x along world +y (home)
    res = env.kin.solve(jnp.asarray(panda.HOME_Q), jnp.asarray(cube + [0, 0, 0.15]), down)
    assert bool(res.converged)
    qpos = np.array(m.key_qpos[m.key("home").id])
    qpos[0:7] = np.asarray(res.q)
    qpos[9:12] = cube

    @jax.jit
    def observe(qpos):
        data = env.init_data(env.mjx_model, qpos)
        return env._obs(env.mjx_model, data)

    obs = jax.device_get(observe(jnp.asarray(qpos, jnp.float32)))
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    for cam in panda.CAMERAS:
        img = obs[f"image_{cam}"]
        assert img.shape == (size, size, 3) and img.dtype == np.uint8
        assert img.std() > 10  # not a blank frame
        cid = m.camera(cam).id
        np.testing.assert_allclose(obs[f"intrinsics_{cam}"], env.camera_intrinsics(cam), atol=1e-6)
        np.testing.assert_allclose(obs[f"extrinsics_{cam}"][:3, 3], d.cam_xpos[cid], atol=1e-5)
        np.testing.assert_allclose(obs[f"extrinsics_{cam}"][:3, :3], d.cam_xmat[cid].reshape(3, 3), atol=1e-5)
    green = lambda im: (im[..., 1] > 100) & (im[..., 0] < 60) & (im[..., 2] < 60)  # noqa: E731
    wrist = green(obs["image_wrist"])
    assert wrist.sum() > 20, wrist.sum()
    rows, cols = np.nonzero(wrist)
    # The cube is where the pinhole model projects its top face (within a few pixels).
    k = env.camera_intrinsics("wrist")
    cid = m.camera("wrist").id
    p_cam = d.cam_xmat[cid].reshape(3, 3).T @ (cube + [0, 0, 0.03] - d.cam_xpos[cid])
    u = k[0, 0] * p_cam[0] / -p_cam[2] + k[0, 2]
    v = -k[1, 1] * p_cam[1] / -p_cam[2] + k[1, 2]
    assert abs(cols.mean() + 0.5 - u) < 4 and abs(rows.mean() + 0.5 - v) < 4, (cols.mean(), rows.mean(), u, v)
    assert green(obs["image_scene"]).sum() > 2  # the scene camera sees the cube too


# ---------------------------------------------------------------- command line


def test_cli_lists_the_task(capsys):
    from jaxrobot.cli import main

    assert main(["sim", "tasks"]) == 0
    assert "panda_pick_cube" in capsys.readouterr().out.split()


@pytest.mark.slow
def test_cli_gen_demos_with_images(tmp_path, capsys):
    """``jaxrobot sim gen-demos --task panda_pick_cube --image-size 32``: the last stdout line is the dataset,
    whose episodes are successful, end at success, and carry both cameras with their intrinsics/extrinsics."""
    import tensorflow_datasets as tfds

    from jaxrobot.cli import main

    n = 4
    assert main(["sim", "gen-demos", "--task", "panda_pick_cube", "--episodes", str(n), "--out", str(tmp_path),
                 "--seed", "2", "--image-size", "32", "--no-progress"]) == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    builder = tfds.builder_from_directory(path)
    assert builder.name == "jaxrobot_sim_panda_pick_cube"
    episodes = list(tfds.as_numpy(builder.as_dataset(split="train")))
    assert len(episodes) == n
    for ep in episodes:
        assert bool(ep["episode_metadata"]["success"])
        per_step = list(ep["steps"])  # the nested steps dataset -> one dict per step
        steps = {k: np.stack([s[k] for s in per_step]) for k in per_step[0] if k != "observation"}
        steps["observation"] = {k: np.stack([s["observation"][k] for s in per_step])
                                for k in per_step[0]["observation"]}
        t = len(steps["action"])
        assert t <= 150 and steps["is_terminal"][-1] and steps["action"].shape == (t, 10)
        obs = steps["observation"]
        assert obs["state"].shape == (t, 29)
        for cam in panda.CAMERAS:
            assert obs[f"image_{cam}"].shape == (t, 32, 32, 3)
            assert obs[f"intrinsics_{cam}"].shape == (t, 3, 3) and obs[f"extrinsics_{cam}"].shape == (t, 4, 4)
        # The wrist camera moves with the hand; the scene camera does not.
        assert np.ptp(obs["extrinsics_wrist"][:, :3, 3], axis=0).max() > 0.05
        assert np.ptp(obs["extrinsics_scene"][:, :3, 3], axis=0).max() < 1e-6
