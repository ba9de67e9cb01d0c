"""Inverse kinematics throughput: batched JAX solves vs a per-target MuJoCo C loop, in the same process.

Usage: ``.venv/bin/python bench/ik.py [--batches 1,64,1024] [--c-targets 200] [--rounds 3]``; prints ONE JSON line:

- ``jax_solves_per_s``: {batch: solves/s} of ``jit(vmap(ArmKinematics.solve))`` with the default
  :class:`~jaxrobot.sim.ik.IKConfig` (position + orientation, 30 iterations), from ``panda.HOME_Q``, on TCP
  poses of configurations drawn uniformly inside the joint ranges; compiled and warmed up first (warm), medians
  over ``--rounds`` rounds interleaved with the baseline so machine load hits both alike.
  ``jax_converged`` is the share converged from the single home start (~0.84: a local method; restarts are
  ``solve_batch``'s job) and ``jax_warm_solves_per_s`` the env.step case (5 iterations from a start 0.1 rad
  away, batch = the largest).
- ``c_solves_per_s``: the same algorithm (damped least squares with the same damping, limit freezing, posture
  pull, step clamp and best-iterate rule) in float64 numpy over MuJoCo C (``mj_kinematics``, ``mj_comPos``,
  ``mj_jacSite``), one target at a time in a Python loop: what IK without JAX costs per target.
  ``c_converged`` should match ``jax_converged_on_c_targets`` (the first ``--c-targets`` of the same targets).
- ``jax_over_c``: the largest batch's rate over the C loop's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxrobot import platform  # noqa: E402

platform.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from jaxrobot.sim import panda  # noqa: E402
from jaxrobot.sim.ik import ArmKinematics, IKConfig, matrices_to_quats, mujoco_site_poses  # noqa: E402


def targets(model, arm, n: int, seed: int):
    q = np.random.default_rng(seed).uniform(np.asarray(arm.lower), np.asarray(arm.upper), (n, 7))
    pos, rot = mujoco_site_poses(model, q)
    return q, pos, matrices_to_quats(rot)


def log_rot(r: np.ndarray) -> np.ndarray:
    """Rotation vector of a rotation matrix (float64)."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(r).reshape(9))
    if quat[0] < 0:
        quat = -quat
    s = np.linalg.norm(quat[1:])
    return quat[1:] * (2 * math.atan2(s, quat[0]) / s) if s > 1e-15 else 2 * quat[1:]


class CSolver:
    """The module's DLS algorithm, one target at a time, over MuJoCo C kinematics (float64)."""

    def __init__(self, model, cfg: IKConfig):
        self.m, self.d, self.cfg = model, mujoco.MjData(model), cfg
        self.sid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, panda.TCP_SITE)
        self.lo, self.hi = model.jnt_range[:7, 0].copy(), model.jnt_range[:7, 1].copy()
        self.jp, self.jr = np.zeros((3, model.nv)), np.zeros((3, model.nv))

    def residual(self, q, tpos, trot):
        m, d, cfg = self.m, self.d, self.cfg
        d.qpos[:7] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_jacSite(m, d, self.jp, self.jr, self.sid)
        e_pos = tpos - d.site_xpos[self.sid]
        e_rot = log_rot(trot @ d.site_xmat[self.sid].reshape(3, 3).T)
        e = np.concatenate([e_pos, cfg.rot_weight * e_rot])
        jw = np.vstack([self.jp[:, :7], cfg.rot_weight * self.jr[:, :7]])
        return e, jw, np.linalg.norm(e_pos), np.linalg.norm(e_rot)

    def step(self, q, e, jw, q_post):
        cfg = self.cfg
        lam2 = cfg.damping ** 2 + cfg.error_damping * e @ e

        def dls(free):
            jf = jw * free
            v = free * cfg.posture_gain * (q_post - q)
            return v + jf.T @ np.linalg.solve(jf @ jf.T + lam2 * np.eye(6), e - jf @ v)

        dq = dls(np.ones(7))
        blocked = ((q <= self.lo + 1e-6) & (dq < 0)) | ((q >= self.hi - 1e-6) & (dq > 0))
        if blocked.any():
            dq = dls(np.where(blocked, 0.0, 1.0))
        dq *= min(1.0, cfg.max_step / (np.abs(dq).max() + 1e-12))
        return np.clip(q + dq, self.lo, self.hi)

    def solve(self, q0, tpos, tquat):
        cfg = self.cfg
        trot = np.empty(9)
        mujoco.mju_quat2Mat(trot, tquat)
        trot = trot.reshape(3, 3)
        self.d.qpos[:] = self.m.qpos0
        q, best = np.clip(q0, self.lo, self.hi), None
        for it in range(cfg.iterations + 1):
            e, jw, pe, re = self.residual(q, tpos, trot)
            conv = pe <= cfg.pos_tol and re <= cfg.rot_tol
            err = pe ** 2 + (cfg.rot_weight * re) ** 2
            if best is None or (conv and not best[1]) or (conv == best[1] and err < best[2]):
                best = (q, conv, err)
            if it < cfg.iterations:
                q = self.step(q, e, jw, panda.HOME_Q)
        return best


def time_jax(fn, args, min_seconds=1.0):
    jax.block_until_ready(fn(*args))  # warm
    n, t0 = 0, time.perf_counter()
    while True:
        jax.block_until_ready(fn(*args))
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return dt / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,64,1024")
    ap.add_argument("--c-targets", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    model = mujoco.MjModel.from_xml_path(str(panda.ARM_XML))
    arm = ArmKinematics(model, home=panda.HOME_Q)
    cfg = IKConfig()
    solve = jax.jit(jax.vmap(lambda q0, p, o: arm.solve(q0, p, o, config=cfg)))
    warm_cfg = IKConfig(iterations=5)
    solve_warm = jax.jit(jax.vmap(lambda q0, p, o: arm.solve(q0, p, o, config=warm_cfg)))
    big = max(batches)
    q_true, tpos, tquat = targets(model, arm, max(big, args.c_targets), 0)
    home = np.broadcast_to(panda.HOME_Q, (big, 7)).astype(np.float32)
    data = {b: (jnp.asarray(home[:b]), jnp.asarray(tpos[:b], jnp.float32), jnp.asarray(tquat[:b], jnp.float32))
            for b in batches}
    q_near = np.clip(q_true[:big] + np.random.default_rng(1).uniform(-0.1, 0.1, (big, 7)), arm.lower, arm.upper)
    warm_args = (jnp.asarray(q_near, jnp.float32), *data[big][1:])
    csolver = CSolver(model, cfg)
    ctp, ctq = tpos[:args.c_targets], tquat[:args.c_targets]  # the same targets as the JAX batches

    rates = {b: [] for b in batches}
    warm_rates, c_rates = [], []
    c_conv = None
    for _ in range(args.rounds):
        for b in batches:
            rates[b].append(b / time_jax(solve, data[b]))
        warm_rates.append(big / time_jax(solve_warm, warm_args))
        t0 = time.perf_counter()
        res = [csolver.solve(panda.HOME_Q.astype(np.float64), p, o) for p, o in zip(ctp, ctq, strict=True)]
        c_rates.append(args.c_targets / (time.perf_counter() - t0))
        c_conv = float(np.mean([r[1] for r in res]))
    jax_conv = float(np.mean(np.asarray(solve(*data[big]).converged)))
    c_set = (jnp.asarray(home[:1].repeat(args.c_targets, 0)), jnp.asarray(ctp, jnp.float32),
             jnp.asarray(ctq, jnp.float32))
    jax_conv_c = float(np.mean(np.asarray(solve(*c_set).converged)))
    warm_conv = float(np.mean(np.asarray(solve_warm(*warm_args).converged)))
    med = {b: float(np.median(r)) for b, r in rates.items()}
    c_med = float(np.median(c_rates))
    out = {
        "bench": "ik", "robot": "panda", "site": panda.TCP_SITE, "iterations": cfg.iterations,
        "targets": "uniform random configurations (position + orientation)",
        "jax_solves_per_s": {str(b): round(v) for b, v in med.items()},
        "jax_us_per_solve_iteration": {str(b): round(1e6 / v / (cfg.iterations + 1), 3) for b, v in med.items()},
        "jax_converged": round(jax_conv, 4),
        "jax_warm_solves_per_s": round(float(np.median(warm_rates))), "warm_iterations": warm_cfg.iterations,
        "warm_batch": big, "jax_warm_converged": round(warm_conv, 4),
        "c_solves_per_s": round(c_med, 1), "c_targets": args.c_targets, "c_converged": round(c_conv, 4),
        "jax_converged_on_c_targets": round(jax_conv_c, 4),
        "jax_over_c": round(med[big] / c_med, 1), "rounds": args.rounds,
        "load_avg_1m": round(os.getloadavg()[0], 2), "jax": jax.__version__, "mujoco": mujoco.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
