"""Simulation throughput: MJX vs MuJoCo C on the same model in the same run, and demos/hour.

Usage: ``.venv/bin/python bench/sim.py [--batch 256] [--steps 20] [--demos 256] [--baseline]``; prints ONE
JSON line:

- ``mjx_env_steps_per_s``: physics steps x environments per second of the batched, jitted pick_cube
  ``step`` (``n_substeps`` mjx.step in a lax.scan per call, Python loop over control steps, as evaluation
  runs it), after compilation. ``mjx_ctrl_steps_per_s`` counts control steps (``ctrl_dt`` = 0.05 s of
  simulated time each), the unit that stays comparable when ``sim_dt`` changes; ``mjx_expert_ctrl_steps_per_s``
  is the fused expert + step chunk that demo generation runs (``BatchedEnv.expert_steps``).
- ``c_env_steps_per_s_1t`` / ``_2t``: MuJoCo C ``mujoco.rollout`` on the same MjModel, same batch and
  number of physics steps with the same held controls, on 1 and 2 threads.
- ``mjx_over_c``: MJX / C (both cores).
- ``render_rgbd_frames_per_s``: depth + RGB frames/s from ``mjx.ray`` (64 envs, front camera).
- ``demos_per_hour``: end-to-end ``jaxrobot.sim.demos.generate`` (expert rollouts + RLDS writing), state
  observations, measured on a second call so compilation is excluded; ``demos_per_hour_cold`` includes it.

``--baseline`` also measures, in the same process and in interleaved rounds (so machine load hits both
alike), the configuration before the MJX tuning of issue 4: the scene with every contact pair,
``ls_iterations`` 8 and ``sim_dt`` 0.005 (rebuilt with ``mujoco.MjSpec``), run by the previous demo loop
(a Python loop of jitted ``expert`` + ``step`` per control step, a host sync per step, fixed batches
stopped when 97% of their episodes are done; :func:`baseline_collect`, kept here as it was). It adds
``baseline`` (the old figures) and ``speedup`` (median per-round ratios, new / old).
"""

from __future__ import annotations

import argparse
import functools
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
from jaxrobot.sim.tasks.pick_cube import ASSET, PickCube  # noqa: E402


def mjx_state(env, batch: int):
    """A batch 1.2 s into expert episodes (fingers on the cube: contacts active) and a hold action."""
    benv = batched(env)
    k_reset, k_policy, _ = episode_keys(0, 0, batch)
    state = benv.reset(env.mjx_model, k_reset)
    for _ in range(int(round(1.2 / env.dt))):
        _, executed = benv.expert(state, k_policy)
        state = benv.step(env.mjx_model, state, executed)
    jax.block_until_ready(state)
    return state, k_policy


def time_step(env, state, steps: int) -> float:
    """Seconds per control step of the batched ``step`` (hold the current tcp pose)."""
    benv = batched(env)
    action = np.asarray(state.obs["state"][:, :5])
    jax.block_until_ready(benv.step(env.mjx_model, state, action))
    t0 = time.perf_counter()
    for _ in range(steps):
        state = benv.step(env.mjx_model, state, action)
    jax.block_until_ready(state)
    return (time.perf_counter() - t0) / steps


def time_expert_steps(env, state, keys, steps: int, chunk: int = demos.CHUNK) -> float:
    """Seconds per control step of the fused expert + step chunks demo generation runs."""
    benv = batched(env)
    jax.block_until_ready(benv.expert_steps(env.mjx_model, state, keys, chunk))
    t0 = time.perf_counter()
    for _ in range(max(1, steps // chunk)):
        state, rec = benv.expert_steps(env.mjx_model, state, keys, chunk)
        jax.device_get(rec["done"])
    return (time.perf_counter() - t0) / (max(1, steps // chunk) * chunk)


def bench_mjx(env, batch: int, steps: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    state, keys = mjx_state(env, batch)
    per_step = time_step(env, state, steps)
    per_expert_step = time_expert_steps(env, state, keys, steps)
    return per_step, per_expert_step, np.asarray(state.data.qpos), np.asarray(state.obs["state"][:, :5])


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


# ----------------------------------------------------------------------------- the pre-tuning baseline


def baseline_env() -> PickCube:
    """pick_cube as before the MJX tuning: every contact pair, ls_iterations 8, sim_dt 0.005."""
    spec = mujoco.MjSpec.from_file(str(ASSET))
    spec.option.ls_iterations = 8
    for name, contype, conaffinity in (("floor", 1, 1), ("table", 1, 1), ("palm", 2, 1), ("left_pad", 2, 1),
                                       ("right_pad", 2, 1)):
        geom = spec.geom(name)
        geom.contype, geom.conaffinity = contype, conaffinity
    model = spec.compile()

    class BaselinePickCube(PickCube):
        def _build_mj_model(self):
            return model

    return BaselinePickCube(registry.get_default_config("pick_cube").replace(sim_dt=0.005))


def baseline_rollout(benv, seed: int, start: int, n: int, stop_fraction: float) -> dict[str, np.ndarray]:
    """The previous ``demos.rollout_expert``: one jitted expert + one jitted step call per control step."""
    env = benv.env
    k_reset, k_policy, k_model = episode_keys(seed, start, n)
    models = benv.models(k_model)
    state = benv.reset(models, k_reset)
    rec: dict[str, list] = {"label": [], "executed": [], "reward": [], "success": [], "done": []}
    obs_rec: dict[str, list] = {k: [] for k in state.obs}
    for _ in range(env.config.episode_steps):
        label, executed = benv.expert(state, k_policy)
        for k, v in state.obs.items():
            obs_rec[k].append(v)
        rec["label"].append(label)
        rec["executed"].append(executed)
        state = benv.step(models, state, executed)
        rec["reward"].append(state.reward)
        rec["success"].append(state.success)
        rec["done"].append(state.done)
        if np.asarray(state.done).mean() >= stop_fraction:
            break
    out = {key: np.stack(jax.device_get(v), axis=1) for key, v in rec.items()}
    out.update({f"obs/{k}": np.stack(jax.device_get(v), axis=1) for k, v in obs_rec.items()})
    out["ctrl_steps"] = np.int64(len(rec["done"]))
    return out


def baseline_collect(env, episodes: int, seed: int, batch_size: int) -> tuple[list, dict]:
    """The previous ``demos.collect``: fixed batches of episode indices, each run until 97% are done."""
    benv = batched(env)
    batch = demos.choose_batch_size(episodes, batch_size)
    kept, attempts, successes = [], 0, 0
    while len(kept) < episodes:
        roll = baseline_rollout(benv, seed, attempts, batch, 0.97)
        for success, ep in demos.split_episodes(roll, env, seed, attempts):
            successes += success
            if success and len(kept) < episodes:
                kept.append(ep)
        attempts += batch
    return kept, {"expert_success_rate": successes / attempts}


def generate_with(collect, env, out_dir: str, n: int, seed: int, batch_size: int) -> dict:
    """``demos.generate`` with a given collect function: (demos/hour incl. writing, expert success)."""
    from jaxrobot.data.rlds.writer import write_rlds

    t0 = time.perf_counter()
    kept, stats = collect(env, n, seed=seed, batch_size=batch_size)
    write_rlds(out_dir, demos.dataset_name("pick_cube"), kept, features=demos.features(env), split="train",
               description="bench", progress=False)
    return {"demos_per_hour": n / (time.perf_counter() - t0) * 3600,
            "expert_success_rate": stats["expert_success_rate"]}


def bench_baseline(env, batch: int, steps: int, n_demos: int, rounds: int) -> dict:
    """Old vs new in interleaved rounds: per-control-step times and demos/hour, medians and ratios."""
    old_env = baseline_env()
    states = {"new": mjx_state(env, batch)[0], "old": mjx_state(old_env, batch)[0]}
    envs = {"new": env, "old": old_env}
    collects = {"new": functools.partial(demos.collect, progress=False), "old": baseline_collect}
    res: dict[str, dict[str, list]] = {k: {"step_s": [], "dph": [], "success": []} for k in envs}
    with tempfile.TemporaryDirectory() as tmp:
        for k in envs:  # compile (and warm) the demo path of both
            generate_with(collects[k], envs[k], os.path.join(tmp, f"warm_{k}"), 8, 99, batch)
        for r in range(rounds):
            for k in envs:
                res[k]["step_s"].append(time_step(envs[k], states[k], steps))
                out = generate_with(collects[k], envs[k], os.path.join(tmp, f"{k}{r}"), n_demos, r + 1, batch)
                res[k]["dph"].append(out["demos_per_hour"])
                res[k]["success"].append(out["expert_success_rate"])
    old, new = res["old"], res["new"]
    step_ratio = [o / n for o, n in zip(old["step_s"], new["step_s"], strict=True)]
    dph_ratio = [n / o for o, n in zip(old["dph"], new["dph"], strict=True)]
    return {
        "baseline": {
            "physics_dt": old_env.config.sim_dt, "n_substeps": old_env.n_substeps,
            "mjx_env_steps_per_s": round(batch * old_env.n_substeps / float(np.median(old["step_s"]))),
            "mjx_ctrl_steps_per_s": round(batch / float(np.median(old["step_s"]))),
            "demos_per_hour": round(float(np.median(old["dph"]))),
            "expert_success_rate": round(float(np.mean(old["success"])), 4),
        },
        "speedup": {
            "ctrl_step": round(float(np.median(step_ratio)), 2),
            "ctrl_step_rounds": [round(x, 2) for x in step_ratio],
            "demos_per_hour": round(float(np.median(dph_ratio)), 2),
            "demos_per_hour_rounds": [round(x, 2) for x in dph_ratio],
        },
        "rounds": rounds, "round_demos": n_demos,
        "new_demos_per_hour_median": round(float(np.median(new["dph"]))),
        "new_expert_success_rate": round(float(np.mean(new["success"])), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20, help="control steps timed (x n_substeps physics steps)")
    ap.add_argument("--demos", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--baseline", action="store_true", help="also measure the pre-tuning setup (interleaved)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of --baseline")
    args = ap.parse_args()
    env = registry.load("pick_cube")
    per_step, per_expert_step, qpos0, action = bench_mjx(env, args.batch, args.steps)
    mjx_rate = args.batch * env.n_substeps / per_step
    c1 = bench_c(env, qpos0, action, args.steps, 1)
    c2 = bench_c(env, qpos0, action, args.steps, 2)
    frames = bench_render(env, 64, args.image_size)
    dph, dph_cold, rate = bench_demos(env, args.demos, args.batch)
    opt = env.mj_model.opt
    out = {
        "task": "pick_cube", "batch": args.batch, "physics_dt": env.config.sim_dt, "n_substeps": env.n_substeps,
        "solver_iterations": int(opt.iterations), "ls_iterations": int(opt.ls_iterations),
        "contacts": int(env._data0._impl.ncon), "constraint_rows": int(env._data0._impl.nefc),
        "mjx_env_steps_per_s": round(mjx_rate), "mjx_ctrl_steps_per_s": round(args.batch / per_step),
        "mjx_expert_ctrl_steps_per_s": round(args.batch / per_expert_step),
        "c_env_steps_per_s_1t": round(c1), "c_env_steps_per_s_2t": round(c2),
        "mjx_over_c": round(mjx_rate / c2, 3),
        "render_rgbd_frames_per_s": round(frames), "render_size": args.image_size, "render_batch": 64,
        "demos": args.demos, "demos_per_hour": round(dph), "demos_per_hour_cold": round(dph_cold),
        "expert_success_rate": round(rate, 4),
    }
    if args.baseline:
        out.update(bench_baseline(env, args.batch, args.steps, args.demos, args.rounds))
    out.update({"load_avg_1m": round(os.getloadavg()[0], 2), "jax": jax.__version__,
                "mujoco": mujoco.__version__})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
