"""Closed-loop evaluation of any policy in batched MJX environments.

``evaluate(policy_fn, task, n_envs, episodes, seed)`` runs rounds of ``n_envs`` environments. Each round is
a Python loop over control steps: ``action = policy_fn(obs, rng)`` (host side, so the policy may keep
state between calls, e.g. an action-chunk queue), then one call of the jitted batched ``step``. A policy
can be a jitted function or a host wrapper around one; it receives the batched observation dict and a
per-step key and returns actions ``[n_envs, A]``. A policy object with ``reset(n_envs)`` is reset at the
start of every round; one with ``wants_state = True`` receives the full batched :class:`State` instead of
the observation dict (used for the scripted expert baseline, :func:`expert_policy`).

Episodes are the environments' first episodes (no auto-reset): an episode ends at its first ``done``;
the success rate comes with a Wilson 95% interval. Videos: the ``qpos`` of the first ``videos`` episodes
are recorded and rendered afterwards with one ``mujoco.Renderer`` per process (a second renderer in one
process rendered garbage here) into GIFs.
"""

from __future__ import annotations

import math
import os
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxrobot.sim import registry
from jaxrobot.sim.batch import batched, episode_keys
from jaxrobot.sim.env import Env

PolicyFn = Callable[[Any, jax.Array], Any]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95% for z = 1.96); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def expert_policy(env: Env, noise: bool = False) -> PolicyFn:
    """The task's scripted expert as an evaluation policy (reads the full state; noise off by default)."""
    benv = batched(env)

    def policy(state, rng):
        keys = jax.random.split(rng, state.reward.shape[0])
        label, executed = benv.expert(state, keys)
        return executed if noise else label

    policy.wants_state = True
    return policy


def evaluate(policy_fn: PolicyFn, task: str | Env, n_envs: int = 64, episodes: int = 100, seed: int = 0, *,
             config=None, overrides=None, randomize: bool = False, videos: int = 0,
             video_dir: str | os.PathLike | None = None, video_size: tuple[int, int] = (240, 320),
             camera: str | int = -1) -> dict[str, Any]:
    """Run ``episodes`` episodes of ``policy_fn`` closed loop; returns success rate, CI, lengths, metrics.

    Returns ``{"success_rate", "ci95": (lo, hi), "successes", "episodes", "episode_lengths": list[int],
    "mean_return", "metrics": {name: mean at episode end}, "videos": [paths]}``.
    """
    env = task if isinstance(task, Env) else registry.load(task, config, overrides)
    if n_envs < 1 or episodes < 1:
        raise ValueError(f"n_envs and episodes must be >= 1, got {n_envs}, {episodes}")
    benv = batched(env, randomize)
    wants_state = getattr(policy_fn, "wants_state", False)
    rounds = math.ceil(episodes / n_envs)
    success: list[bool] = []
    lengths: list[int] = []
    returns: list[float] = []
    metrics: dict[str, list[float]] = {}
    video_qpos: list[list[np.ndarray]] = []
    policy_key = jax.random.fold_in(jax.random.key(seed), 0x5EED)
    for r in range(rounds):
        start = r * n_envs
        k_reset, _, k_model = episode_keys(seed, start, n_envs)
        models = benv.models(k_model)
        state = benv.reset(models, k_reset)
        if hasattr(policy_fn, "reset"):
            policy_fn.reset(n_envs)
        done = np.zeros(n_envs, bool)
        ret = np.zeros(n_envs)
        length = np.full(n_envs, env.config.episode_steps)
        ok = np.zeros(n_envs, bool)
        final_metrics: dict[str, np.ndarray] = {}
        n_video = max(0, min(videos - start, n_envs)) if video_dir else 0
        frames = [[np.asarray(state.data.qpos[i])] for i in range(n_video)]
        for t in range(env.config.episode_steps):
            key = jax.random.fold_in(jax.random.fold_in(policy_key, r), t)
            action = policy_fn(state if wants_state else state.obs, key)
            state = benv.step(models, state, action)
            step_done = np.asarray(state.done)
            ret += np.where(done, 0.0, np.asarray(state.reward))
            newly = step_done & ~done
            if newly.any():
                length[newly] = t + 1
                ok[newly] = np.asarray(state.success)[newly]
                for k, v in state.metrics.items():
                    final_metrics.setdefault(k, np.zeros(n_envs))[newly] = np.asarray(v)[newly]
            qpos = np.asarray(state.data.qpos[:n_video]) if n_video else None
            for i in range(n_video):
                if not done[i]:
                    frames[i].append(qpos[i])
            done |= step_done
            if done.all():
                break
        take = min(n_envs, episodes - start)
        success += ok[:take].tolist()
        lengths += length[:take].tolist()
        returns += ret[:take].tolist()
        for k, v in final_metrics.items():
            metrics.setdefault(k, []).extend(v[:take].tolist())
        video_qpos += frames
    n_ok = int(sum(success))
    result = {
        "success_rate": n_ok / len(success),
        "ci95": wilson_interval(n_ok, len(success)),
        "successes": n_ok,
        "episodes": len(success),
        "episode_lengths": [int(x) for x in lengths],
        "mean_return": float(np.mean(returns)),
        "metrics": {k: float(np.mean(v)) for k, v in metrics.items()},
        "videos": [],
    }
    if video_dir and video_qpos:
        result["videos"] = write_videos(env, video_qpos, video_dir, video_size, camera)
    return result


# ---------------------------------------------------------------------------------------------- videos

_RENDERER: dict[str, Any] = {}


def renderer(model, height: int, width: int):
    """The process's single ``mujoco.Renderer`` (rebuilt only when the model or size changes)."""
    import mujoco

    key = (id(model), height, width)  # a pickled copy in a spawned child is a new model: fine
    if _RENDERER.get("key") != key:
        if "renderer" in _RENDERER:
            _RENDERER["renderer"].close()
        _RENDERER.update(key=key, renderer=mujoco.Renderer(model, height, width))
    return _RENDERER["renderer"]


def render_qpos(env: Env, qpos_seq, size: tuple[int, int] = (240, 320), camera: str | int = -1) -> np.ndarray:
    """RGB frames uint8 [T, H, W, 3] of a qpos trajectory, rendered with MuJoCo (MUJOCO_GL=egl).

    Importing TensorFlow makes every later ``mujoco.Renderer.render`` segfault under EGL (measured here,
    also for a renderer created before the import), so in a process that has TensorFlow loaded (a trainer
    with a tf.data pipeline) the frames are rendered in a fresh spawned process instead.
    """
    if "tensorflow" in sys.modules:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_render_frames, (env.mj_model, np.asarray(qpos_seq), size, camera))
    return _render_frames(env.mj_model, qpos_seq, size, camera)


def _render_frames(m, qpos_seq, size, camera) -> np.ndarray:
    import mujoco

    os.environ.setdefault("MUJOCO_GL", "egl")
    d = mujoco.MjData(m)
    r = renderer(m, *size)
    frames = []
    for q in qpos_seq:
        d.qpos[:] = q
        mujoco.mj_forward(m, d)
        r.update_scene(d, camera=camera)
        frames.append(r.render().copy())
    return np.stack(frames)


def write_videos(env: Env, qpos_episodes, video_dir, size=(240, 320), camera: str | int = -1) -> list[str]:
    """One GIF per episode (frame duration = control period); returns the paths."""
    from PIL import Image

    out = pathlib.Path(video_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, qs in enumerate(qpos_episodes):
        frames = render_qpos(env, qs, size, camera)
        images = [Image.fromarray(f) for f in frames]
        path = out / f"episode_{i:03d}.gif"
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(env.dt * 1000), loop=0)
        paths.append(str(path))
    return paths
