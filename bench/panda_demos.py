"""panda_pick_cube throughput: demonstrations per hour and env-steps/s of the arm scene, MJX vs MuJoCo C.

Usage: ``.venv/bin/python bench/panda_demos.py [--demos 1024] [--batch 256] [--steps 20] [--action-space ee_pose]``;
prints ONE JSON line:

- ``demos_per_hour``: end-to-end ``jaxrobot.sim.demos.generate`` (the code path of ``jaxrobot sim gen-demos``:
  continuous-batched expert rollouts + RLDS writing), state observations, on a second call so the compiled
  functions are warm (``demos_per_hour_cold``: the first call, compilation included, or served by the
  persistent compilation cache). ``expert_success_rate``, ``attempts``, ``mean_ctrl_steps`` (control steps of
  the kept episodes) and ``physics_steps_per_demo`` describe the warm run.
- ``mjx_env_steps_per_s_<B>``: physics steps x environments per second of the task's batched, jitted ``step``
  (``n_substeps`` ``mjx.step`` in a ``lax.scan`` plus, for ``ee_*`` actions, the IK), at batch B = 512 and 2048,
  from states ~1.2 s into expert episodes (fingers at the cube: contacts active), holding the current command.
  ``mjx_physics_steps_per_s_<B>``: the same without the task (bare ``mjx.step``, same states and controls).
- ``c_env_steps_per_s_1t`` / ``_2t``: MuJoCo C ``mujoco.rollout`` on the same MjModel from the same 512 states
  with the same held controls, on 1 and 2 threads (same run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxrobot import platform  # noqa: E402

platform.configure()

import jax  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from mujoco import rollout  # noqa: E402

from jaxrobot.sim import demos, registry  # noqa: E402
from jaxrobot.sim._mjx import mjx  # noqa: E402
from jaxrobot.sim.batch import batched, episode_keys  # noqa: E402

TASK = "panda_pick_cube"


def grasp_states(env, batch: int):
    """A batch ~1.2 s into expert episodes (fingers at or on the cube) and the command that holds it."""
    benv = batched(env)
    k_reset, k_policy, _ = episode_keys(0, 0, batch)
    state = benv.reset(env.mjx_model, k_reset)
    chunk = demos.CHUNK
    for _ in range(int(round(1.2 / env.dt)) // chunk):
        state, _ = benv.expert_steps(env.mjx_model, state, k_policy, chunk)
    label, _ = benv.expert(state, k_policy)
    jax.block_until_ready(label)
    return state, np.asarray(label)


def tile(tree, reps: int):
    return jax.tree.map(lambda x: np.tile(np.asarray(x), (reps,) + (1,) * (np.ndim(x) - 1)), tree)


def time_env_step(env, state, action, steps: int) -> float:
    """Physics steps x environments per second of the batched task step."""
    benv = batched(env)
    for _ in range(2):  # compiles for the (host) input and, if its avals differ (weak types), for the output
        state = benv.step(env.mjx_model, state, action)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        state = benv.step(env.mjx_model, state, action)
    jax.block_until_ready(state)
    return len(action) * steps * env.n_substeps / (time.perf_counter() - t0)


def time_physics(env, data, steps: int) -> float:
    """The same for bare ``mjx.step`` (``n_substeps`` per call, controls held)."""
    model = env.mjx_model

    def substeps(d):
        return jax.lax.scan(lambda d, _: (mjx.step(model, d), None), d, None, length=env.n_substeps)[0]

    fn = jax.jit(jax.vmap(substeps))
    for _ in range(2):
        data = fn(data)
    jax.block_until_ready(data)
    t0 = time.perf_counter()
    for _ in range(steps):
        data = fn(data)
    jax.block_until_ready(data)
    return data.qpos.shape[0] * steps * env.n_substeps / (time.perf_counter() - t0)


def time_c(env, data, steps: int, threads: int) -> float:
    """MuJoCo C ``mujoco.rollout`` from the same states with the same held controls."""
    m = env.mj_model
    qpos, qvel, ctrl = (np.asarray(x, np.float64) for x in (data.qpos, data.qvel, data.ctrl))
    batch = qpos.shape[0]
    pool = [mujoco.MjData(m) for _ in range(threads)]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    init = np.zeros((batch, mujoco.mj_stateSize(m, spec)))
    d = pool[0]
    for b in range(batch):
        mujoco.mj_resetData(m, d)
        d.qpos[:], d.qvel[:] = qpos[b], qvel[b]
        mujoco.mj_getState(m, d, init[b], spec)
    nstep = steps * env.n_substeps
    control = np.repeat(ctrl[:, None, :], nstep, axis=1)
    rollout.rollout(m, pool, init[:2], control[:2, :10], nstep=10)  # warm the thread pool
    t0 = time.perf_counter()
    rollout.rollout(m, pool, init, control, nstep=nstep)
    return batch * nstep / (time.perf_counter() - t0)


def bench_demos(env, n: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cold = demos.generate(env, TASK, os.path.join(tmp, "a"), min(n, 256), batch_size=batch, progress=False)
        warm = demos.generate(env, TASK, os.path.join(tmp, "b"), n, seed=1, batch_size=batch, progress=False)
    return {"cold": cold, "warm": warm}


def episode_lengths(env, n: int, seed: int) -> np.ndarray:
    """Control steps of the first ``n`` kept episodes of a run (the same episodes generate keeps)."""
    kept, _ = demos.collect(env, n, seed=seed, progress=False)
    return np.array([len(ep["steps/reward"]) for ep in kept])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demos", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256, help="environments per call in demo generation")
    ap.add_argument("--steps", type=int, default=20, help="control steps timed per env-steps/s figure")
    ap.add_argument("--action-space", default="ee_pose", choices=("ee_pose", "ee_delta", "joint_pos"))
    args = ap.parse_args()
    env = registry.load(TASK, overrides={"action_space": args.action_space})
    out: dict = {"task": TASK, "action_space": args.action_space, "physics_dt": env.config.sim_dt,
                 "n_substeps": env.n_substeps, "episode_steps": env.config.episode_steps,
                 "ik_iterations": env.config.ik.iterations}

    res = bench_demos(env, args.demos, args.batch)
    warm, cold = res["warm"], res["cold"]
    lengths = episode_lengths(env, min(args.demos, 256), 1)
    out.update({"demos": args.demos, "demo_batch": warm["batch_size"],
                "demos_per_hour": round(warm["demos_per_hour"]),
                "demos_per_hour_cold": round(cold["demos_per_hour"]),
                "expert_success_rate": round(warm["expert_success_rate"], 4), "attempts": warm["attempts"],
                "mean_ctrl_steps": round(float(lengths.mean()), 1),
                "physics_steps_per_demo": round(float(lengths.mean()) * env.n_substeps)})

    state512, action512 = grasp_states(env, 512)
    for batch in (512, 2048):
        reps = batch // 512
        state, action = tile(state512, reps), np.tile(action512, (reps, 1))
        out[f"mjx_env_steps_per_s_{batch}"] = round(time_env_step(env, state, action, args.steps))
        out[f"mjx_physics_steps_per_s_{batch}"] = round(time_physics(env, state.data, args.steps))
    out["c_env_steps_per_s_1t"] = round(time_c(env, state512.data, args.steps, 1))
    out["c_env_steps_per_s_2t"] = round(time_c(env, state512.data, args.steps, 2))
    out.update({"load_avg_1m": round(os.getloadavg()[0], 2), "jax": jax.__version__, "mujoco": mujoco.__version__})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
