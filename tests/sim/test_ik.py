"""Inverse kinematics of the Panda (jaxrobot.sim.ik), checked against MuJoCo C itself.

Every reference pose comes from ``mujoco.mj_kinematics`` on an ``MjData`` (float64, the other joints at
``qpos0``) through the helpers below, never from the module's own forward kinematics.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.config import ConfigError, validate
from jaxrobot.sim import panda
from jaxrobot.sim.ik import ArmKinematics, IKConfig, IKResult, pick_best, solve_batch

MM, DEG = 1e-3, math.radians(1.0)


@pytest.fixture(scope="module")
def model():
    return mujoco.MjModel.from_xml_path(str(panda.ARM_XML))


@pytest.fixture(scope="module")
def arm(model):
    return ArmKinematics(model, home=panda.HOME_Q)


def c_kinematics(model, qs):
    """(site_xpos [N, 3], site_xmat [N, 3, 3], data list) of the TCP by MuJoCo C at arm configurations qs."""
    data = mujoco.MjData(model)
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, panda.TCP_SITE)
    pos, rot = [], []
    for q in np.asarray(qs, np.float64):
        data.qpos[:] = model.qpos0
        data.qpos[:7] = q
        mujoco.mj_kinematics(model, data)
        pos.append(data.site_xpos[sid].copy())
        rot.append(data.site_xmat[sid].reshape(3, 3).copy())
    return np.array(pos), np.array(rot)


def quat_mat(quats):
    out = np.empty((len(quats), 9))
    for i, q in enumerate(np.asarray(quats, np.float64)):
        mujoco.mju_quat2Mat(out[i], q / np.linalg.norm(q))
    return out.reshape(-1, 3, 3)


def c_errors(model, qs, target_pos, target_quat=None):
    """Position error (m) and rotation angle (rad) MuJoCo C measures at qs."""
    pos, rot = c_kinematics(model, qs)
    pos_err = np.linalg.norm(pos - np.asarray(target_pos), axis=1)
    if target_quat is None:
        return pos_err, np.zeros_like(pos_err)
    rel = np.einsum("nij,nkj->nik", quat_mat(target_quat), rot)
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)
    return pos_err, np.arccos(cos)


def inside(arm, q, tol=1e-6):
    q = np.asarray(q)
    return bool(np.all(q >= np.asarray(arm.lower) - tol) and np.all(q <= np.asarray(arm.upper) + tol))


def random_q(arm, n, seed):
    return np.random.default_rng(seed).uniform(np.asarray(arm.lower), np.asarray(arm.upper), (n, 7))


def c_targets(model, qs):
    pos, rot = c_kinematics(model, qs)
    quat = np.empty((len(rot), 4))
    for i, r in enumerate(rot):
        mujoco.mju_mat2Quat(quat[i], r.reshape(9))
    return pos, quat


# ---------------------------------------------------------------------------- kinematics


def test_chain_reads_the_model(arm, model):
    np.testing.assert_allclose(arm.lower, model.jnt_range[:7, 0], atol=1e-6)
    np.testing.assert_allclose(arm.upper, model.jnt_range[:7, 1], atol=1e-6)
    np.testing.assert_allclose(arm.home, panda.HOME_Q)
    assert list(arm.qpos_adr) == list(range(7))
    with pytest.raises(ValueError, match="site"):
        ArmKinematics(model, site="nope")
    with pytest.raises(ValueError, match="joint"):
        ArmKinematics(model, joints=("joint1", "nope"))


def test_fk_matches_mj_kinematics(arm, model):
    qs = np.concatenate([random_q(arm, 256, 0), [np.asarray(arm.lower), np.asarray(arm.upper), panda.HOME_Q]])
    pos, quat = jax.jit(jax.vmap(arm.fk))(jnp.asarray(qs, jnp.float32))
    _, rot = jax.jit(jax.vmap(arm.fk_matrix))(jnp.asarray(qs, jnp.float32))
    c_pos, c_rot = c_kinematics(model, np.asarray(qs, np.float32))
    # float32 against MuJoCo's float64: ~3e-7 over 10,000 configurations (mjx.kinematics in float32: ~8e-7).
    np.testing.assert_allclose(pos, c_pos, atol=1e-6)
    np.testing.assert_allclose(rot, c_rot, atol=1e-6)
    np.testing.assert_allclose(quat_mat(np.asarray(quat)), c_rot, atol=2e-6)
    assert np.all(np.asarray(quat)[:, 0] >= 0)


def test_jacobian_matches_mj_jac_site(arm, model):
    data = mujoco.MjData(model)
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, panda.TCP_SITE)
    qs = random_q(arm, 32, 1).astype(np.float32)
    jac = jax.jit(jax.vmap(arm.jacobian))(qs)
    for q, j in zip(qs, np.asarray(jac), strict=True):
        data.qpos[:] = model.qpos0
        data.qpos[:7] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        jp, jr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jp, jr, sid)
        np.testing.assert_allclose(j, np.vstack([jp, jr])[:, :7], atol=1e-6)


GENERIC_ARM = """
<mujoco>
  <worldbody>
    <body name="base" pos="0.1 -0.2 0.3" quat="0.9 0.1 0.3 -0.2">
      <inertial pos="0 0 0" mass="1" diaginertia="0.01 0.01 0.01"/>
      <joint name="a" type="hinge" axis="0 0 1" ref="0.3"/>
      <body name="l1" pos="0 0.1 0.4" quat="1 1 0 0">
        <inertial pos="0 0 0" mass="1" diaginertia="0.01 0.01 0.01"/>
        <joint name="b" type="hinge" axis="1 2 0.5" pos="0.05 0 -0.1" range="-1 1"/>
        <joint name="c" type="slide" axis="0 1 0" range="-0.2 0.3"/>
        <joint name="held" type="hinge" axis="1 0 0" ref="-0.4"/>
        <body name="l2" pos="0.3 0 0">
          <joint name="d" type="hinge" axis="0 1 0" pos="0 0 0.02" range="-2 0.5"/>
          <geom size="0.02"/>
          <site name="tip" pos="0.1 0.05 -0.02" quat="0.7 0 0.7 0.1"/>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


def test_generic_chain_matches_mujoco():
    """Hinge refs (qpos0 != 0), a slide, two joints in one body, offset anchors, tilted axes, a joint held at
    qpos0, an unlimited hinge: FK and Jacobian still match MuJoCo C."""
    model = mujoco.MjModel.from_xml_string(GENERIC_ARM)
    arm = ArmKinematics(model, site="tip", joints=("a", "b", "c", "d"))
    assert np.isclose(float(arm.lower[0]), -2 * math.pi) and np.isclose(float(arm.upper[2]), 0.3)
    data = mujoco.MjData(model)
    sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "tip")
    for q in np.random.default_rng(0).uniform(arm.lower, arm.upper, (20, 4)).astype(np.float32):
        data.qpos[:] = model.qpos0
        data.qpos[arm.qpos_adr] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        pos, rot = arm.fk_matrix(q)
        np.testing.assert_allclose(pos, data.site_xpos[sid], atol=1e-5)
        np.testing.assert_allclose(rot, data.site_xmat[sid].reshape(3, 3), atol=1e-5)
        jp, jr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
        mujoco.mj_jacSite(model, data, jp, jr, sid)
        cols = [model.jnt_dofadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in "abcd"]
        np.testing.assert_allclose(arm.jacobian(q), np.vstack([jp, jr])[:, cols], atol=1e-5)


# ---------------------------------------------------------------------------- solving


def test_random_reachable_targets_converge_with_restarts(arm, model):
    """Uniformly random configurations: the home start alone converges for ~85% (the rest sit in other
    branches behind joint limits); solve_batch's random restarts bring it to >= 99%, checked by MuJoCo C."""
    tp, tq = c_targets(model, random_q(arm, 300, 2))
    res, stats = solve_batch(arm, tp, tq, seed=3, config=IKConfig(pos_tol=0.25 * MM, rot_tol=0.25 * DEG))
    pos_err, rot_err = c_errors(model, res.q, tp, tq)
    ok = (pos_err <= MM) & (rot_err <= DEG)
    assert ok.mean() >= 0.99, (ok.mean(), stats)
    assert stats["converged_first"] >= 0.75 * len(tp), stats
    assert inside(arm, res.q) and np.isfinite(res.q).all()
    # The reported errors are what MuJoCo C measures (float32 kinematics: ~1e-6).
    np.testing.assert_allclose(res.pos_err, pos_err, atol=2e-6)
    np.testing.assert_allclose(res.rot_err, rot_err, atol=2e-5)


def test_solve_starts_picks_the_best_start(arm, model):
    tp, tq = c_targets(model, random_q(arm, 32, 8))
    starts = jnp.concatenate([jnp.asarray(panda.HOME_Q)[None], arm.sample(jax.random.key(1), (7,))])
    multi = jax.jit(jax.vmap(lambda p, o: arm.solve_starts(starts, p, o)))(tp, tq)
    pos_err, rot_err = c_errors(model, multi.q, tp, tq)
    ok = (pos_err <= MM) & (rot_err <= DEG)
    assert ok.mean() >= 0.9 and inside(arm, multi.q)
    np.testing.assert_array_equal(np.asarray(multi.converged), ok)


def test_pick_best_prefers_the_first_converged_then_the_lowest_error():
    res = IKResult(q=jnp.arange(4.0)[:, None] * jnp.ones((4, 7)), pos_err=jnp.array([0.5, 1e-4, 2e-4, 0.1]),
                   rot_err=jnp.zeros(4), converged=jnp.array([False, False, True, True]))
    assert float(pick_best(res, 0.2).q[0]) == 2.0  # converged beats a lower unconverged error; first of them
    res = res.replace(converged=jnp.zeros(4, bool))
    assert float(pick_best(res, 0.2).q[0]) == 1.0


def test_workspace_targets_converge_from_home_and_warm_start(arm, model):
    """Targets around home (as the tasks use) converge from HOME_Q in the default iterations; a warm start
    from a nearby configuration needs only a few iterations (the env.step case)."""
    rng = np.random.default_rng(4)
    q_true = np.clip(panda.HOME_Q + rng.uniform(-0.5, 0.5, (256, 7)), arm.lower, arm.upper)
    tp, tq = c_targets(model, q_true)
    solve = jax.jit(jax.vmap(lambda q0, p, o: arm.solve(q0, p, o)))
    res = solve(jnp.broadcast_to(jnp.asarray(panda.HOME_Q), (256, 7)), tp, tq)
    pos_err, rot_err = c_errors(model, res.q, tp, tq)
    assert ((pos_err <= MM) & (rot_err <= DEG)).mean() >= 0.99
    assert inside(arm, res.q)

    warm = jax.jit(jax.vmap(lambda q0, p, o: arm.solve(q0, p, o, config=IKConfig(iterations=5))))
    q0 = np.clip(q_true + rng.uniform(-0.1, 0.1, q_true.shape), arm.lower, arm.upper)
    res = warm(q0, tp, tq)
    pos_err, rot_err = c_errors(model, res.q, tp, tq)
    assert ((pos_err <= MM) & (rot_err <= DEG)).mean() >= 0.99
    np.testing.assert_array_equal(np.asarray(res.converged), (pos_err <= MM) & (rot_err <= DEG))


def test_unreachable_target_gives_closest_pose(arm, model):
    target = jnp.array([2.0, 0.0, 0.5])  # ~1.1 m beyond the Panda's reach
    home = jnp.asarray(panda.HOME_Q)
    errs = []
    for it in (1, 5, 30):  # more iterations never give a worse answer: the best iterate is kept
        res = jax.jit(lambda t, it=it: arm.solve(home, t, config=IKConfig(iterations=it)))(target)
        assert not bool(res.converged)
        assert np.isfinite(np.asarray(res.q)).all() and inside(arm, res.q)
        errs.append(float(res.pos_err))
    assert all(b <= a + 1e-7 for a, b in zip(errs, errs[1:], strict=False)), errs
    c_err, _ = c_errors(model, [np.asarray(res.q)], [np.asarray(target)])
    np.testing.assert_allclose(errs[-1], c_err[0], atol=1e-5)
    start_err = np.linalg.norm(c_kinematics(model, [panda.HOME_Q])[0][0] - np.asarray(target))
    assert errs[-1] < start_err - 0.2
    # The closest reachable point: no sampled configuration gets nearer than the solution (within 5 mm).
    samples = arm.sample(jax.random.key(0), (20000,))
    sample_pos = jax.jit(jax.vmap(lambda q: arm.fk(q)[0]))(samples)
    brute = float(jnp.min(jnp.linalg.norm(sample_pos - target, axis=1)))
    assert errs[-1] <= brute + 5e-3, (errs[-1], brute)
    # With an orientation target as well: still finite, inside, unconverged.
    res = jax.jit(lambda t, o: arm.solve(home, t, o))(target, jnp.array([0.0, 1.0, 0.0, 0.0]))
    assert not bool(res.converged) and np.isfinite([res.pos_err, res.rot_err]).all() and inside(arm, res.q)


def test_near_singularity_steps_stay_bounded(arm):
    """Arm stretched towards a target far above (the position Jacobian loses rank there); a target 5 cm
    beyond reach: every step stays within max_step, finite and inside the limits; the solve stops 5 cm away."""
    cfg = IKConfig()
    stretched = arm.solve(jnp.asarray(panda.HOME_Q), jnp.array([0.0, 0.0, 3.0]), config=IKConfig(iterations=100)).q
    jac = np.asarray(arm.jacobian(stretched))
    assert np.linalg.svd(jac[:3], compute_uv=False)[-1] < 0.02  # really near a singularity
    pos, quat = arm.fk(stretched)
    out = (pos - jnp.array([0.0, 0.0, 0.333])) / jnp.linalg.norm(pos - jnp.array([0.0, 0.0, 0.333]))
    step = jax.jit(lambda q, p, o: arm.step(q, p, o, config=cfg))
    for target in (pos + 0.05 * out, pos - 0.01 * out):
        q = stretched
        for _ in range(30):
            q_next = step(q, target, quat)
            assert np.isfinite(np.asarray(q_next)).all() and inside(arm, q_next)
            assert float(jnp.max(jnp.abs(q_next - q))) <= cfg.max_step + 1e-5
            q = q_next
    res = arm.solve(stretched, pos + 0.05 * out, quat)
    assert not bool(res.converged) and abs(float(res.pos_err) - 0.05) < 2e-3
    res = arm.solve(stretched, pos - 0.01 * out, quat)  # just inside the reach: solvable
    assert bool(res.converged)


def test_position_only_target(arm, model):
    rng = np.random.default_rng(5)
    q_true = np.clip(panda.HOME_Q + rng.uniform(-0.6, 0.6, (64, 7)), arm.lower, arm.upper)
    tp, _ = c_targets(model, q_true)
    res = jax.jit(jax.vmap(lambda q0, p: arm.solve(q0, p)))(jnp.broadcast_to(jnp.asarray(panda.HOME_Q), (64, 7)),
                                                           tp)
    pos_err, _ = c_errors(model, res.q, tp)
    assert (pos_err <= MM).mean() >= 0.99 and inside(arm, res.q)
    assert np.all(np.asarray(res.rot_err) == 0)


def test_vmap_matches_single_and_runs_in_scan(arm, model):
    tp, tq = c_targets(model, random_q(arm, 4, 6))
    home = jnp.asarray(panda.HOME_Q)
    batched = jax.jit(jax.vmap(lambda p, o: arm.solve(home, p, o)))(tp, tq)
    one = jax.jit(lambda p, o: arm.solve(home, p, o))
    for i in range(4):
        single = one(tp[i], tq[i])  # fused differently from the vmapped program: float32 rounding differs
        assert bool(batched.converged[i]) == bool(single.converged)
        if bool(single.converged):  # same solution up to where in the tolerance ball the best iterate stopped
            np.testing.assert_allclose(batched.q[i], single.q, atol=0.05)
    # Tracking a moving target inside lax.scan, warm-started from the previous solution (the env.step case).
    t = jnp.linspace(0.0, 2 * math.pi, 40)
    p0, o0 = arm.fk(home)
    path = p0 + 0.1 * jnp.stack([jnp.cos(t) - 1, jnp.sin(t), 0.5 * jnp.sin(2 * t)], axis=1)

    def track(q, p):
        r = arm.solve(q, p, o0, config=IKConfig(iterations=5))
        return r.q, r

    _, traj = jax.jit(lambda: jax.lax.scan(track, home, path))()
    pos_err, rot_err = c_errors(model, traj.q, path, np.broadcast_to(np.asarray(o0), (40, 4)))
    assert np.all(pos_err <= MM) and np.all(rot_err <= DEG) and bool(jnp.all(traj.converged))
    assert float(jnp.max(jnp.abs(jnp.diff(traj.q, axis=0)))) < 0.2  # a smooth joint path, no branch flips


def test_config_is_validated():
    assert validate(IKConfig()) == IKConfig()
    for field, bad in (("iterations", 0), ("damping", 0.0), ("max_step", -1.0), ("rot_tol", 0.0),
                       ("posture_gain", 2.0)):
        with pytest.raises(ConfigError, match=field):
            validate(IKConfig(**{field: bad}))


# ---------------------------------------------------------------------------- command line


def test_ik_check_cli_end_to_end(tmp_path, model, arm):
    out = tmp_path / "ik.npz"
    cmd = [sys.executable, "-m", "jaxrobot.cli", "sim", "ik-check", "--targets", "200", "--seed", "7",
           "--out", str(out), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("model_xml", "site", "targets", "converged", "pos_err_mm", "rot_err_deg", "seconds",
                "solves_per_sec"):
        assert key in report, key
    for key in ("pos_err_mm", "rot_err_deg"):
        assert set(report[key]) >= {"p50", "p99", "max"}
    assert report["site"] == panda.TCP_SITE and report["targets"] == 200
    # The pass criterion, measured here from the files alone.
    m = mujoco.MjModel.from_xml_path(report["model_xml"])
    with np.load(out) as f:
        q, tp, tq = f["q"], f["target_pos"], f["target_quat"]
    assert q.shape == (200, 7) and tp.shape == (200, 3) and tq.shape == (200, 4)
    pos_err, rot_err = c_errors(m, q, tp, tq)
    ok = (pos_err <= MM) & (rot_err <= DEG)
    assert ok.mean() >= 0.99 and report["converged"] == int(ok.sum())
    assert np.all(q >= m.jnt_range[:7, 0] - 1e-6) and np.all(q <= m.jnt_range[:7, 1] + 1e-6)
    # The targets are poses of configurations inside the limits (MuJoCo C agrees with the file).
    np.testing.assert_allclose(np.linalg.norm(tq, axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("args, message", [
    (["--targets", "0"], "--targets must be >= 1"),
    (["--targets", "5", "--out", "/nonexistent-dir/x.npz"], "cannot write --out"),
])
def test_ik_check_cli_bad_arguments(tmp_path, capsys, args, message):
    from jaxrobot.cli import main

    argv = ["sim", "ik-check", "--out", str(tmp_path / "x.npz"), *args]
    code = main(argv)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
    assert "Traceback" not in err
