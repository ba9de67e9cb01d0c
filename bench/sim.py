"""Simulation throughput: MJX vs MuJoCo C on the same model in the same run, and demos/hour.

Usage: ``.venv/bin/python bench/sim.py [--batch 256] [--steps 20] [--demos 256]``; prints ONE JSON line:

- ``mjx_env_steps_per_s``: physics steps x environments per second of the batched, jitted pick_cube
  ``step`` (``n_substeps`` mjx.step in a lax.scan per call, Python loop over control steps, as demos and
  evaluation run it), after compilation.
- ``c_env_steps_per_s_1t`` / ``_2t``: MuJoCo C ``mujoco.rollout`` on the same MjModel, same batch and
  number of physics steps with the same held controls, on 1 and 2 threads.
- ``mjx_over_c``: MJX / C (both cores).
- ``render_rgbd_frames_per_s``: depth + RGB frames/s from ``mjx.ray`` (64 envs, front camera).
- ``demos_per_hour``: end-to-end ``jaxrobot.sim.demos.generate`` (expert rollouts + RLDS writing), state
  observations, measured on a second call so compilation is excluded; ``demos_per_hour_cold`` includes it.
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
from jaxrobot.sim.batch import batched, episode_keys  # noqa: E402


def bench_mjx(env, batch: int, steps: int) -> tuple[float, np.ndarray, np.ndarray]:
    benv = batched(env)
    k_reset, _, _ = episode_keys(0, 0, batch)
    state = benv.reset(env.mjx_model, k_reset)
    action = np.asarray(state.obs["state"][:, :5])  # hold still: pure physics + contacts cost
    state = benv.step(env.mjx_model, state, action)  # compile
    jax.block_until_ready(state)
    qpos0 = np.asarray(state.data.qpos)
    t0 = time.perf_counter()
    for _ in range(steps):
        state = benv.step(env.mjx_model, state, action)
    jax.block_until_ready(state)
    dt = time.perf_counter() - t0
    return batch * steps * env.n_substeps / dt, qpos0, action


def bench_c(env, qpos0: np.ndarray, action: np.ndarray, steps: int, threads: int) -> float:
    m = env.mj_model
    batch = qpos0.shape[0]
    data = [mujoco.MjData(m) for _ in range(threads)]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    init = np.zeros((batch, mujoco.mj_stateSize(m, spec)))
    d = data[0]
    for b in range(batch):
        mujoco.mj_resetData(m, d)
        d.qpos[:] = qpos0[b]
        mujoco.mj_getState(m, d, init[b], spec)
    nstep = steps * env.n_substeps
    ctrl = np.clip(action, env.action_low, env.action_high) - np.asarray(env._ctrl_offset)
    control = np.repeat(ctrl[:, None, :].astype(np.float64), nstep, axis=1)
    rollout.rollout(m, data, init[:2], control[:2, :10], nstep=10)  # warm the thread pool
    t0 = time.perf_counter()
    rollout.rollout(m, data, init, control, nstep=nstep)
    dt = time.perf_counter() - t0
    return batch * nstep / dt


def bench_render(env, batch: int, size: int) -> float:
    """RGB-D frames/s of ``mjx.ray`` rendering (front camera, ``size`` x ``size``), batched over envs."""
    from jaxrobot.sim import render

    cam = render.camera_id(env.mj_model, "front")
    k = render.intrinsics(env.mj_model, "front", size, size)
    k_reset, _, _ = episode_keys(0, 0, batch)
    data = batched(env).reset(env.mjx_model, k_reset).data
    fn = jax.jit(jax.vmap(lambda d: render.render_rgbd(env.mjx_model, d, cam, k, size, size)))
    jax.block_until_ready(fn(data))
    t0 = time.perf_counter()
    for _ in range(5):
        out = fn(data)
    jax.block_until_ready(out)
    return 5 * batch / (time.perf_counter() - t0)


def bench_demos(env, n: int, batch_size: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cold = demos.generate(env, "pick_cube", os.path.join(tmp, "a"), n, batch_size=batch_size, progress=False)
        warm = demos.generate(env, "pick_cube", os.path.join(tmp, "b"), n, seed=1, batch_size=batch_size,
                              progress=False)
    return warm["demos_per_hour"], cold["demos_per_hour"], warm["expert_success_rate"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20, help="control steps timed (x n_substeps physics steps)")
    ap.add_argument("--demos", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=64)
    args = ap.parse_args()
    env = registry.load("pick_cube")
    mjx_rate, qpos0, action = bench_mjx(env, args.batch, args.steps)
    c1 = bench_c(env, qpos0, action, args.steps, 1)
    c2 = bench_c(env, qpos0, action, args.steps, 2)
    frames = bench_render(env, 64, args.image_size)
    dph, dph_cold, rate = bench_demos(env, args.demos, args.batch)
    print(json.dumps({
        "task": "pick_cube", "batch": args.batch, "physics_dt": env.config.sim_dt, "n_substeps": env.n_substeps,
        "mjx_env_steps_per_s": round(mjx_rate), "c_env_steps_per_s_1t": round(c1),
        "c_env_steps_per_s_2t": round(c2), "mjx_over_c": round(mjx_rate / c2, 3),
        "render_rgbd_frames_per_s": round(frames), "render_size": args.image_size, "render_batch": 64,
        "demos": args.demos, "demos_per_hour": round(dph), "demos_per_hour_cold": round(dph_cold),
        "expert_success_rate": round(rate, 4), "load_avg_1m": round(os.getloadavg()[0], 2),
        "jax": jax.__version__, "mujoco": mujoco.__version__,
    }))


if __name__ == "__main__":
    main()
