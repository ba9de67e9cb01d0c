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
    episode_metadata/expert_strategy  int64  tasks whose expert has several strategies only (push_t): the
                                index into ``Env.expert_strategies`` the episode used

``metadata.json`` (dataset level) records ``jaxrobot_sim``: the task, its whole config (action space, control
rate, cameras), seed and flags, so a policy trained on the data is evaluated in the env that made it; for a
multimodal expert also its ``expert_strategies`` and each one's share of the kept episodes.

Each step holds the observation *before* the action; the episode ends on the step whose action made the
task succeed (``is_last`` and ``is_terminal`` there), as ACT/LeRobot sim datasets end at success.

Speed (demo generation is physics bound): the expert and the env step run fused, ``chunk`` control steps
per jitted call (``BatchedEnv.expert_steps``), and :func:`collect` batches continuously: a slot whose
episode ended is reset to the next episode index at the next chunk boundary, so no environment keeps
simulating a finished episode until the slowest one of its batch is done. Every episode runs to its own
first ``done`` (success, failure or the time limit) and depends only on (seed, episode index), so the kept
episodes are the first ``episodes`` successful indices whatever ``batch_size`` and ``chunk`` are.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.sim.batch import BatchedEnv, batched, episode_keys, episode_keys_at
from jaxrobot.sim.env import Env

MAX_BATCH = 512  # per-call batch cap on CPU (shared/FACTS.md: batched MJX calls, throughput saturates)
#: Control steps per jitted call. Demo collection restarts finished slots only at chunk boundaries, so a
#: finished episode idles (chunk - 1) / 2 steps on average (~3% of a 45-step pick at 4), while every
#: call costs a dispatch, a host sync and one batched reset.
CHUNK = 4


def dataset_name(task: str) -> str:
    return f"jaxrobot_sim_{task}"


def choose_batch_size(episodes: int, batch_size: int = 256) -> int:
    """Power of two >= ~1.1 x episodes, capped by ``batch_size``: few distinct compiled shapes."""
    want = int(math.ceil(episodes * 1.1)) + 1
    return max(1, min(batch_size, MAX_BATCH, 1 << (want - 1).bit_length()))


def rollout_expert(benv: BatchedEnv, seed: int, start: int, n: int,
                   stop_fraction: float = 1.0, chunk: int = CHUNK) -> dict[str, np.ndarray]:
    """Run the expert on episodes ``start .. start+n-1`` until all are done; host arrays [n, T, ...].

    ``stop_fraction < 1`` stops the batch once that fraction of episodes is done: the stragglers are cut
    (and count as failures; which ones depends on the batch, deterministically).

    Runs ``chunk`` control steps per call (``BatchedEnv.expert_steps``) and checks the stop rule per step
    on the host between chunks: the steps a chunk ran past the stopping step are dropped, so the result
    is that of stepping one control step at a time and stopping at the first step where the fraction of
    ``done`` environments reaches ``stop_fraction`` (or at the time limit).

    Returns ``obs/<key>``, ``label``, ``executed``, ``reward``, ``success``, ``done`` (per step, after the
    step's action), ``qpos0`` (initial joint positions [n, nq]) and ``ctrl_steps`` (control steps kept).
    """
    env = benv.env
    limit = env.config.episode_steps
    k_reset, k_policy, k_model = episode_keys(seed, start, n)
    models = benv.models(k_model)
    state = benv.reset(models, k_reset)
    qpos0 = np.asarray(state.data.qpos)
    pieces: list[dict[str, np.ndarray]] = []
    steps = 0
    while steps < limit:
        state, rec = benv.expert_steps(models, state, k_policy, chunk)
        rec = _flat_record(rec)
        take = min(chunk, limit - steps)
        done_frac = rec["done"][:, :take].mean(axis=0)
        hit = np.flatnonzero(done_frac >= stop_fraction)
        if hit.size:
            take = int(hit[0]) + 1
        pieces.append({k: v[:, :take] for k, v in rec.items()})
        steps += take
        if hit.size:
            break
    out = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    out["qpos0"] = qpos0
    out["ctrl_steps"] = np.int64(steps)
    return out


def _flat_record(rec: dict[str, Any]) -> dict[str, np.ndarray]:
    """``expert_steps``' record on the host with the observation keys flattened to ``obs/<key>``."""
    rec = jax.device_get(rec)
    out = {f"obs/{k}": np.asarray(v) for k, v in rec.pop("obs").items()}
    out.update({k: np.asarray(v) for k, v in rec.items()})
    return out


def split_episodes(roll: dict[str, np.ndarray], env: Env, seed: int, start: int,
                   action_label: str = "clean") -> list[tuple[bool, dict[str, Any]]]:
    """Cut a batch rollout into RLDS episodes at each env's first ``done``: [(success, episode), ...]."""
    n, t_max = roll["done"].shape
    out = []
    for b in range(n):
        done = np.flatnonzero(roll["done"][b])
        length = int(done[0]) + 1 if done.size else t_max
        steps = {k: v[b, :length] for k, v in roll.items() if k.startswith("obs/") or k in _STEP_KEYS}
        out.append(make_episode(steps, env, seed, start + b, action_label))
    return out


_STEP_KEYS = ("label", "executed", "reward", "success", "done", "strategy")


def make_episode(steps: dict[str, np.ndarray], env: Env, seed: int, index: int,
                 action_label: str = "clean") -> tuple[bool, dict[str, Any]]:
    """One RLDS episode from its per-step arrays (``obs/<key>``, ``label``, ``executed``, ``reward``,
    ``success``, cut after its first ``done`` or at the time limit): ``(success, episode)``."""
    length = len(steps["reward"])
    success = bool(steps["success"][-1])
    terminal = np.zeros(length, bool)
    terminal[-1] = success
    actions = steps["label" if action_label == "clean" else "executed"]
    ep = {f"steps/observation/{k[4:]}": v for k, v in steps.items() if k.startswith("obs/")}
    ep.update({
        "steps/action": actions.astype(np.float32),
        "steps/reward": steps["reward"].astype(np.float32),
        "steps/discount": (~terminal).astype(np.float32),
        "steps/is_first": np.arange(length) == 0,
        "steps/is_last": np.arange(length) == length - 1,
        "steps/is_terminal": terminal,
        "steps/language_instruction": np.array([env.language_instruction.encode()] * length, dtype=object),
        "episode_metadata/success": success,
        "episode_metadata/seed": np.int64(seed),
        "episode_metadata/episode_index": np.int64(index),
    })
    if env.expert_strategies:
        ep["episode_metadata/expert_strategy"] = np.int64(steps["strategy"][0])
    return success, ep


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
    if env.expert_strategies:  # index into the task's ``expert_strategies`` (names in metadata.json)
        spec["episode_metadata/expert_strategy"] = {"shape": (), "dtype": "int64"}
    return spec


class _Slots:
    """Host bookkeeping of continuous batching: which episode runs in each slot and its steps so far."""

    def __init__(self, n: int):
        self.index = np.full(n, -1, np.int64)  # episode index per slot, -1: idle
        self.pieces: list[list[dict[str, np.ndarray]]] = [[] for _ in range(n)]

    def absorb(self, rec: dict[str, np.ndarray]) -> list[tuple[int, dict[str, np.ndarray]]]:
        """Append a chunk's record; return ``(index, steps)`` of every episode that ended in it."""
        ended = []
        done = rec["done"]
        for b in np.flatnonzero(self.index >= 0):
            hit = np.flatnonzero(done[b])
            stop = int(hit[0]) + 1 if hit.size else done.shape[1]
            # Copies, so a finished chunk's (possibly image-sized) arrays are not kept alive by slices.
            self.pieces[b].append({k: v[b, :stop].copy() for k, v in rec.items()})
            if hit.size:
                parts = self.pieces[b]
                ended.append((int(self.index[b]),
                              {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}))
                self.pieces[b] = []
                self.index[b] = -1
        return ended


def collect(env: Env, episodes: int, *, seed: int = 0, batch_size: int = 256, randomize: bool = False,
            action_label: str = "clean", max_attempts: int | None = None, chunk: int = CHUNK,
            progress: bool = True) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Roll out the expert until ``episodes`` successful episodes exist; returns (episodes, stats).

    Continuous batching over ``batch_size`` slots: each slot runs episode indices 0, 1, 2, ... as they
    are handed out; after every ``chunk`` control steps, slots whose episode ended start the next index.
    Collection stops as soon as every index up to the ``episodes``-th success has ended; the episodes
    kept are exactly those successes, in index order. ``stats``: ``attempts`` (episodes that ended),
    ``expert_success_rate`` (their success rate), ``physics_steps_per_s`` (physics steps x environments
    per second, idle slots included), ``rollout_seconds``, ``first_call_seconds`` (up to the first chunk's
    record on the host: the compilation), ``batch_size``.
    """
    if episodes < 1:
        raise DataError(f"episodes must be >= 1, got {episodes}")
    benv = batched(env, randomize)
    batch = choose_batch_size(episodes, batch_size)
    max_attempts = max_attempts or max(4 * episodes, 2 * batch)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=episodes, desc=f"demos {env.__class__.__name__}", unit="demo", file=sys.stderr)
    t0 = time.perf_counter()
    slots = _Slots(batch)
    issued = min(batch, max_attempts)
    slots.index[:issued] = np.arange(issued)
    k_reset, k_policy, k_model = episode_keys_at(seed, np.maximum(slots.index, 0))
    models = benv.models(k_model)
    # Every episode starts through ``restart`` (one compiled reset for all), so an episode's numbers do not
    # depend on whether it started first or in a recycled slot.
    blank = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), jax.eval_shape(benv.reset, models, k_reset))
    state = benv.restart(models, blank, k_reset, np.ones(batch, bool))
    pending: dict[int, tuple[bool, dict[str, Any]]] = {}  # ended episodes at or after ``prefix``
    prefix = 0  # every index below ``prefix`` has ended
    ended = successes = env_steps = 0
    kept: list[dict[str, Any]] = []
    first_call = None
    while True:
        state, rec = benv.expert_steps(models, state, k_policy, chunk)
        env_steps += chunk * batch * env.n_substeps
        rec = _flat_record(rec)
        if first_call is None:  # compiles reset, restart and the chunk unless the cache has them
            first_call = time.perf_counter() - t0
        for index, steps in slots.absorb(rec):
            pending[index] = make_episode(steps, env, seed, index, action_label)
            ended += 1
            successes += pending[index][0]
        while prefix in pending and len(kept) < episodes:
            success, ep = pending.pop(prefix)
            if success:
                kept.append(ep)
                if bar is not None:
                    bar.update(1)
            prefix += 1
        if len(kept) >= episodes:
            break
        idle = np.flatnonzero(slots.index < 0)
        if idle.size == batch and issued >= max_attempts:
            raise DataError(f"only {len(kept)} of {episodes} demos succeeded after {ended} attempts "
                            f"(expert success {successes / max(ended, 1):.1%})")
        new = idle[:max(0, max_attempts - issued)]
        if new.size:
            # Idle slots would simulate anyway: start the next indices there, needed or not yet.
            slots.index[new] = issued + np.arange(new.size)
            issued += new.size
            k_reset, k_policy, k_model = episode_keys_at(seed, np.maximum(slots.index, 0))
            if benv.randomized:
                models = benv.models(k_model)
            restart = np.zeros(batch, bool)
            restart[new] = True
            state = benv.restart(models, state, k_reset, restart)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    stats = {"episodes": len(kept), "attempts": ended, "batch_size": batch,
             "expert_success_rate": successes / max(ended, 1),
             "rollout_seconds": seconds, "first_call_seconds": first_call,
             "physics_steps_per_s": env_steps / max(seconds, 1e-9)}
    if env.expert_strategies:
        taken = np.bincount([int(ep["episode_metadata/expert_strategy"]) for ep in kept],
                            minlength=len(env.expert_strategies))
        stats["expert_strategy_shares"] = {name: float(c) / max(len(kept), 1)
                                           for name, c in zip(env.expert_strategies, taken, strict=True)}
    return kept, stats


def generate(env: Env, task: str, out_dir: str, episodes: int, *, seed: int = 0, batch_size: int = 256,
             randomize: bool = False, action_label: str = "clean", progress: bool = True,
             overwrite: bool = False) -> dict[str, Any]:
    """Collect ``episodes`` successful expert demos and write them as RLDS; returns stats incl. ``path``.

    ``path`` is the directory ``tfds.builder_from_directory`` takes; ``demos_per_hour`` counts writing and
    compilation; ``demos_per_hour_after_compile`` leaves out the first (compiling) call, the figure for a
    long run or a warm process.
    """
    from jaxrobot import config as config_lib
    from jaxrobot.data.rlds.writer import write_rlds

    t0 = time.perf_counter()
    kept, stats = collect(env, episodes, seed=seed, batch_size=batch_size, randomize=randomize,
                          action_label=action_label, progress=progress)
    made = {"task": task, "config": config_lib.to_dict(env.config), "seed": seed, "episodes": episodes,
            "randomize": randomize, "action_label": action_label}
    if env.expert_strategies:
        made.update(expert_strategies=list(env.expert_strategies),
                    expert_strategy_shares=stats["expert_strategy_shares"])
    path = write_rlds(out_dir, dataset_name(task), kept, features=features(env), split="train",
                      metadata={"jaxrobot_sim": made},
                      description=(f"jaxrobot scripted-expert demonstrations of {task}: seed {seed}, "
                                   f"expert success {stats['expert_success_rate']:.3f}, noise injection on, "
                                   f"actions are the expert's {action_label} targets"),
                      progress=progress, overwrite=overwrite)
    seconds = time.perf_counter() - t0
    stats.update(path=str(path), seconds=seconds, demos_per_hour=episodes / max(seconds, 1e-9) * 3600,
                 demos_per_hour_after_compile=episodes / max(seconds - stats["first_call_seconds"], 1e-9) * 3600)
    return stats
