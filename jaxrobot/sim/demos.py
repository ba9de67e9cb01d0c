"""Scripted-expert demonstrations written as an RLDS dataset.

:func:`generate` rolls the task's scripted expert out in chunks of ``batch_size`` environments (one
compiled batched step, :mod:`jaxrobot.sim.batch`), keeps the successful episodes in episode-index order
until it has ``episodes`` of them, and writes them with the data layer's RLDS writer as dataset
``jaxrobot_sim_<task>``, ``train`` split.

Episode layout (flat keys, T = steps until the episode ended)::

    steps/observation/<key>     every key of State.obs (``state`` float32 [T, S]; ``image_<cam>`` uint8)
    steps/action                float32 [T, A]   the expert's *label* (intended target) at each step;
                                                 with ``action_label="executed"`` the noisy executed one
    steps/reward                float32 [T]      reward after the step's action
    steps/discount              float32 [T]      1, 0 on a terminal step
    steps/is_first / is_last / is_terminal  bool [T]
    steps/language_instruction  bytes   [T]
    episode_metadata/success    bool, always True here
    episode_metadata/seed       int64  run seed;  episode_metadata/episode_index int64
                                (``jaxrobot.sim.batch.episode_keys(seed, index, 1)`` replays the episode)

Each step holds the observation *before* the action; the episode ends on the step whose action made the
task succeed (``is_last`` and ``is_terminal`` there), as ACT/LeRobot sim datasets end at success.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import jax
import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.sim.batch import BatchedEnv, batched, episode_keys
from jaxrobot.sim.env import Env

MAX_BATCH = 512  # per-call batch cap on CPU (shared/FACTS.md: batched MJX calls, throughput saturates)


def dataset_name(task: str) -> str:
    return f"jaxrobot_sim_{task}"


def choose_batch_size(episodes: int, batch_size: int = 256) -> int:
    """Power of two >= ~1.1 x episodes, capped by ``batch_size``: few distinct compiled shapes."""
    want = int(math.ceil(episodes * 1.1)) + 1
    return max(1, min(batch_size, MAX_BATCH, 1 << (want - 1).bit_length()))


def rollout_expert(benv: BatchedEnv, seed: int, start: int, n: int,
                   stop_fraction: float = 1.0) -> dict[str, np.ndarray]:
    """Run the expert on episodes ``start .. start+n-1`` until all are done; host arrays [n, T, ...].

    ``stop_fraction < 1`` stops the batch once that fraction of episodes is done: for demo generation
    the stragglers are failing episodes that would otherwise keep the whole batch running to the time
    limit (they are cut and discarded as failures; which ones depends on the batch, deterministically).

    Returns ``obs/<key>``, ``label``, ``executed``, ``reward``, ``success``, ``done`` (per step, after the
    step's action), ``qpos0`` (initial joint positions [n, nq]) and ``ctrl_steps`` (control steps run).
    """
    env = benv.env
    k_reset, k_policy, k_model = episode_keys(seed, start, n)
    models = benv.models(k_model)
    state = benv.reset(models, k_reset)
    qpos0 = state.data.qpos
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
    out["qpos0"] = np.asarray(qpos0)
    out["ctrl_steps"] = np.int64(len(rec["done"]))
    return out


def split_episodes(roll: dict[str, np.ndarray], env: Env, seed: int, start: int,
                   action_label: str = "clean") -> list[tuple[bool, dict[str, Any]]]:
    """Cut a batch rollout into RLDS episodes at each env's first ``done``: [(success, episode), ...]."""
    n, t_max = roll["done"].shape
    actions = roll["label" if action_label == "clean" else "executed"]
    instruction = env.language_instruction.encode()
    out = []
    for b in range(n):
        done = np.flatnonzero(roll["done"][b])
        last = int(done[0]) if done.size else t_max - 1
        length = last + 1
        success = bool(roll["success"][b, last])
        terminal = np.zeros(length, bool)
        terminal[-1] = success
        ep = {f"steps/observation/{k[4:]}": roll[k][b, :length] for k in roll if k.startswith("obs/")}
        ep.update({
            "steps/action": actions[b, :length].astype(np.float32),
            "steps/reward": roll["reward"][b, :length].astype(np.float32),
            "steps/discount": (~terminal).astype(np.float32),
            "steps/is_first": np.arange(length) == 0,
            "steps/is_last": np.arange(length) == length - 1,
            "steps/is_terminal": terminal,
            "steps/language_instruction": np.array([instruction] * length, dtype=object),
            "episode_metadata/success": success,
            "episode_metadata/seed": np.int64(seed),
            "episode_metadata/episode_index": np.int64(start + b),
        })
        out.append((success, ep))
    return out


def features(env: Env) -> dict[str, dict[str, Any]]:
    """Flat feature spec of :func:`split_episodes` episodes (shapes without the leading T)."""
    spec: dict[str, dict[str, Any]] = {}
    for key, (shape, dtype) in env.observation_spec().items():
        f = {"shape": tuple(shape), "dtype": dtype}
        if dtype == "uint8" and len(shape) == 3:
            f["encoding"] = "jpeg"
        spec[f"steps/observation/{key}"] = f
    spec.update({
        "steps/action": {"shape": (env.action_size,), "dtype": "float32"},
        "steps/reward": {"shape": (), "dtype": "float32"},
        "steps/discount": {"shape": (), "dtype": "float32"},
        "steps/is_first": {"shape": (), "dtype": "bool"},
        "steps/is_last": {"shape": (), "dtype": "bool"},
        "steps/is_terminal": {"shape": (), "dtype": "bool"},
        "steps/language_instruction": {"shape": (), "dtype": "string"},
        "episode_metadata/success": {"shape": (), "dtype": "bool"},
        "episode_metadata/seed": {"shape": (), "dtype": "int64"},
        "episode_metadata/episode_index": {"shape": (), "dtype": "int64"},
    })
    return spec


def collect(env: Env, episodes: int, *, seed: int = 0, batch_size: int = 256, randomize: bool = False,
            action_label: str = "clean", max_attempts: int | None = None, stop_fraction: float = 0.97,
            progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Roll out the expert until ``episodes`` successful episodes exist; returns (episodes, stats)."""
    if episodes < 1:
        raise DataError(f"episodes must be >= 1, got {episodes}")
    benv = batched(env, randomize)
    batch = choose_batch_size(episodes, batch_size)
    max_attempts = max_attempts or max(4 * episodes, 2 * batch)
    kept: list[dict[str, Any]] = []
    attempts = 0
    successes = 0
    env_steps = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=episodes, desc=f"demos {env.__class__.__name__}", unit="demo", file=sys.stderr)
    t0 = time.perf_counter()
    while len(kept) < episodes:
        if attempts >= max_attempts:
            raise DataError(f"only {len(kept)} of {episodes} demos succeeded after {attempts} attempts "
                            f"(expert success {successes / max(attempts, 1):.1%})")
        roll = rollout_expert(benv, seed, attempts, batch, stop_fraction)
        env_steps += int(roll["ctrl_steps"]) * batch * env.n_substeps
        for success, ep in split_episodes(roll, env, seed, attempts, action_label):
            successes += success
            if success and len(kept) < episodes:
                kept.append(ep)
                if bar is not None:
                    bar.update(1)
        attempts += batch
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    stats = {"episodes": len(kept), "attempts": attempts, "batch_size": batch,
             "expert_success_rate": successes / attempts,
             "rollout_seconds": seconds, "physics_steps_per_s": env_steps / max(seconds, 1e-9)}
    return kept, stats


def generate(env: Env, task: str, out_dir: str, episodes: int, *, seed: int = 0, batch_size: int = 256,
             randomize: bool = False, action_label: str = "clean", progress: bool = True,
             overwrite: bool = False) -> dict[str, Any]:
    """Collect ``episodes`` successful expert demos and write them as RLDS; returns stats incl. ``path``.

    ``path`` is the directory ``tfds.builder_from_directory`` takes; ``demos_per_hour`` counts writing.
    """
    from jaxrobot.data.rlds.writer import write_rlds

    t0 = time.perf_counter()
    kept, stats = collect(env, episodes, seed=seed, batch_size=batch_size, randomize=randomize,
                          action_label=action_label, progress=progress)
    path = write_rlds(out_dir, dataset_name(task), kept, features=features(env), split="train",
                      description=(f"jaxrobot scripted-expert demonstrations of {task}: seed {seed}, "
                                   f"expert success {stats['expert_success_rate']:.3f}, noise injection on, "
                                   f"actions are the expert's {action_label} targets"),
                      progress=progress, overwrite=overwrite)
    seconds = time.perf_counter() - t0
    stats.update(path=str(path), seconds=seconds, demos_per_hour=episodes / max(seconds, 1e-9) * 3600)
    return stats
