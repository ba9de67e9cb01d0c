"""Where the time of an RL fine-tuning iteration goes: env steps/s of its parts, measured in one process.

Usage: ``.venv/bin/python bench/rl_loop.py --base BASE_WORKDIR [--envs 256] [--rounds 3]``; prints ONE JSON line.
Each part is one jitted ``lax.scan`` over a whole ``panda_peg_insertion`` episode of ``--envs`` environments (as
the iteration runs them), timed after compilation, best of ``--rounds``:

- ``env_only``: the MJX step with the base's start actions held (physics, IK, observation);
- ``env_base``: the frozen ACT base choosing every action (its temporal ensembling included);
- ``rollout``: base + the residual network's sampled correction (the whole data collection);
- ``iteration``: ``rollout`` plus GAE and PPO's epochs of minibatch updates (what ``jaxrobot rl finetune`` runs);

all as env (control) steps per second, and ``share_*``: each part's time as a fraction of the iteration (the
baseline run in the same process): physics, base policy, residual, PPO update.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxrobot import platform  # noqa: E402

platform.reexec_with_fast_allocator()
platform.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxrobot.catalog  # noqa: E402,F401
from jaxrobot.policies.evaluation import task_env  # noqa: E402
from jaxrobot.rl import brax_parts, ppo  # noqa: E402
from jaxrobot.rl.base_policy import load_base_policy  # noqa: E402
from jaxrobot.rl.config import PPOConfig, RLConfig  # noqa: E402


def best_time(fn, args, rounds: int) -> float:
    out = fn(*args)
    jax.block_until_ready(out)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--envs", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cfg = RLConfig(name="bench", task="panda_peg_insertion", ppo=PPOConfig(n_envs=args.envs))
    base = load_base_policy(args.base)
    env = task_env(cfg.task, base.meta["data_spec"], base.action_dim, "bench")
    sp = ppo.spaces(cfg, env, base)
    nets = brax_parts.make_networks(cfg.ppo, sp.obs_size, sp.action_size)
    tx = ppo.make_optimizer(cfg)
    run = ppo.init_run_state(cfg, sp, nets, tx)
    n, t_ep = args.envs, env.config.episode_steps
    keys = ppo.train_reset_keys(cfg.seed, jnp.int32(0), n)
    reset = jax.vmap(env.reset_with, in_axes=(None, 0))
    step = jax.vmap(env.step_with, in_axes=(None, 0, 0))
    model = env.mjx_model

    @jax.jit
    def env_only(keys):
        state = reset(model, keys)
        _, a0 = base.act(base.params, base.init(state.obs, jax.random.PRNGKey(0)), state.obs)
        final, _ = jax.lax.scan(lambda s, _: (step(model, s, a0), None), state, None, length=t_ep)
        return final.reward

    @jax.jit
    def env_base(params, keys):
        state = reset(model, keys)
        carry = base.init(state.obs, jax.random.PRNGKey(0))

        def body(c, _):
            s, bc = c
            bc, a = base.act(params, bc, s.obs)
            return (step(model, s, a), bc), None

        (final, _), _ = jax.lax.scan(body, (state, carry), None, length=t_ep)
        return final.reward

    @jax.jit
    def rollout(run, params, keys):
        traj, _ = ppo.rollout(cfg, env, base, sp, nets, run.params, run.normalizer, params, keys,
                              jax.random.PRNGKey(1))
        return traj["reward"]

    iteration = jax.jit(ppo.make_iteration(cfg, env, base, sp, nets, tx))
    t_env = best_time(env_only, (keys,), args.rounds)
    t_base = best_time(env_base, (base.params, keys), args.rounds)
    t_roll = best_time(rollout, (run, base.params, keys), args.rounds)
    t_iter = best_time(iteration, (run, base.params), args.rounds)
    steps = n * t_ep
    out = {
        "bench": "rl_loop", "task": cfg.task, "envs": n, "episode_steps": t_ep, "backend": jax.default_backend(),
        "allocator": platform.allocator(),
        "env_only_steps_per_s": round(steps / t_env, 1), "env_base_steps_per_s": round(steps / t_base, 1),
        "rollout_steps_per_s": round(steps / t_roll, 1), "iteration_steps_per_s": round(steps / t_iter, 1),
        "iteration_seconds": round(t_iter, 2),
        "share_physics": round(t_env / t_iter, 3), "share_base_policy": round((t_base - t_env) / t_iter, 3),
        "share_residual": round((t_roll - t_base) / t_iter, 3),
        "share_ppo_update": round((t_iter - t_roll) / t_iter, 3),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
