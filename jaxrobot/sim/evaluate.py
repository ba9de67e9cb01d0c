"""Closed-loop evaluation of any policy in batched MJX environments.

``evaluate(policy_fn, task, n_envs, episodes, seed)`` runs rounds of ``n_envs`` environments. Each round is
a Python loop over control steps: ``action = policy_fn(obs, rng)`` (host side, so the policy may keep
state between calls, e.g. an action-chunk queue), then one call of the jitted batched ``step``. A policy
can be a jitted function or a host wrapper around one; it receives the batched observation dict and a
per-step key and returns actions ``[n_envs, A]``. A policy object with ``reset(n_envs)`` is reset at the
start of every round; one with ``wants_state = True`` receives the full batched :class:`State` instead of
the observation dict (used for the scripted expert baseline, :func:`expert_policy`).

Episodes are the environments' first episodes (no auto-reset): an episode ends at its first ``done``;
the success rate comes with a Wilson 95% interval.

Videos: the ``qpos`` of the first ``videos`` episodes are recorded and rendered afterwards with one
``mujoco.Renderer`` per process (a second renderer in one process rendered garbage here; in a process that
imported TensorFlow all episodes render in ONE spawned child), then written as H.264 MP4 (PyAV, when
installed) or GIF, at the control rate. A grid image (``grid.png``) tiles keyframes of every recorded
episode, each framed green (success) or red (failure), for a glance at what the policy does.
"""

from __future__ import annotations

import fractions
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


def eval_scalars(result: dict[str, Any]) -> dict[str, float]:
    """The scalars a training loop logs from an :func:`evaluate` result: success rate and its Wilson interval, and
    for tasks scored by coverage (push_t) the mean of each episode's best coverage."""
    out = {"eval/success_rate": float(result["success_rate"]), "eval/ci95_lo": float(result["ci95"][0]),
           "eval/ci95_hi": float(result["ci95"][1])}
    if "coverage" in result.get("metrics_max", {}):
        out["eval/mean_max_coverage"] = float(result["metrics_max"]["coverage"])
    return out


def evaluate(policy_fn: PolicyFn, task: str | Env, n_envs: int = 64, episodes: int = 100, seed: int = 0, *,
             config=None, overrides=None, randomize: bool = False, videos: int = 0,
             video_dir: str | os.PathLike | None = None, video_size: tuple[int, int] = (240, 320),
             camera: str | int = -1, video_format: str | None = None,
             grid_keyframes: int = 1, video_pick: str = "first") -> dict[str, Any]:
    """Run ``episodes`` episodes of ``policy_fn`` closed loop; returns success rate, CI, lengths, metrics.

    Returns ``{"success_rate", "ci95": (lo, hi), "successes", "episodes", "episode_success": list[bool],
    "episode_lengths": list[int], "mean_return", "metrics": {name: mean at episode end},
    "metrics_max": {name: mean over episodes of the metric's maximum within the episode} (PushT's mean maximum
    coverage), "videos": [paths], "grid": path or None}``.

    With ``videos > 0`` and a ``video_dir``, the first ``videos`` episodes are rendered from ``camera`` at
    ``video_size`` (H, W) into ``video_dir/episode_<i>.<video_format>`` (``"mp4"`` or ``"gif"``; default
    mp4 when an encoder is installed, see :func:`mp4_codec`) and ``video_dir/grid.png`` (``grid_keyframes``
    evenly spaced frames per episode, ending with the last one; see :func:`grid_image`).
    ``video_pick="mixed"`` records every episode and renders up to ``videos // 2`` failures and successes for the
    rest (the first ones of each, in episode order; ``result["video_episodes"]`` lists which), so a short reel
    shows how the policy fails as well as how it succeeds.
    """
    if video_pick not in ("first", "mixed"):
        raise ValueError(f"video_pick must be 'first' or 'mixed', got {video_pick!r}")
    env = task if isinstance(task, Env) else registry.load(task, config, overrides)
    if n_envs < 1 or episodes < 1:
        raise ValueError(f"n_envs and episodes must be >= 1, got {n_envs}, {episodes}")
    if videos and video_dir:
        video_format = resolve_video_format(video_format)
        if grid_keyframes < 1:
            raise ValueError(f"grid_keyframes must be >= 1, got {grid_keyframes}")
    benv = batched(env, randomize)
    wants_state = getattr(policy_fn, "wants_state", False)
    rounds = math.ceil(episodes / n_envs)
    success: list[bool] = []
    lengths: list[int] = []
    returns: list[float] = []
    metrics: dict[str, list[float]] = {}
    maxima: dict[str, list[float]] = {}
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
        best: dict[str, np.ndarray] = {}  # each metric's maximum over the episode's steps (PushT's max coverage)
        if not (videos and video_dir):
            n_video = 0
        elif video_pick == "mixed":
            n_video = min(n_envs, episodes - start)
        else:
            n_video = max(0, min(videos - start, n_envs, episodes - start))
        frames = [[np.asarray(state.data.qpos[i])] for i in range(n_video)]
        for t in range(env.config.episode_steps):
            key = jax.random.fold_in(jax.random.fold_in(policy_key, r), t)
            action = policy_fn(state if wants_state else state.obs, key)
            state = benv.step(models, state, action)
            step_done = np.asarray(state.done)
            ret += np.where(done, 0.0, np.asarray(state.reward))
            step_metrics = {k: np.asarray(v, np.float64) for k, v in jax.device_get(state.metrics).items()}
            for k, v in step_metrics.items():
                best[k] = np.where(done, best.get(k, v), np.maximum(best.get(k, v), v))
            newly = step_done & ~done
            if newly.any():
                length[newly] = t + 1
                ok[newly] = np.asarray(state.success)[newly]
                for k, v in step_metrics.items():
                    final_metrics.setdefault(k, np.zeros(n_envs))[newly] = v[newly]
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
        for k, v in best.items():
            maxima.setdefault(k, []).extend(v[:take].tolist())
        video_qpos += frames
    n_ok = int(sum(success))
    result = {
        "success_rate": n_ok / len(success),
        "ci95": wilson_interval(n_ok, len(success)),
        "successes": n_ok,
        "episodes": len(success),
        "episode_success": [bool(x) for x in success],
        "episode_lengths": [int(x) for x in lengths],
        "mean_return": float(np.mean(returns)),
        "metrics": {k: float(np.mean(v)) for k, v in metrics.items()},
        "metrics_max": {k: float(np.mean(v)) for k, v in maxima.items()},
        "videos": [],
        "grid": None,
    }
    if video_dir and video_qpos:
        picked = _pick_videos(success[:len(video_qpos)], videos, video_pick)
        written = write_videos(env, [video_qpos[i] for i in picked], video_dir, video_size, camera,
                               video_format=video_format, success=[success[i] for i in picked],
                               grid_keyframes=grid_keyframes, episode_ids=picked)
        result.update(videos=written["videos"], grid=written["grid"], video_episodes=picked)
    return result


def _pick_videos(success: list[bool], videos: int, how: str) -> list[int]:
    """Episode indices to render: the first ``videos``, or (``"mixed"``) up to half failures, the rest successes."""
    if how == "first":
        return list(range(min(videos, len(success))))
    fails = [i for i, ok in enumerate(success) if not ok]
    oks = [i for i, ok in enumerate(success) if ok]
    n_fail = min(len(fails), max(videos // 2, videos - len(oks)))
    return sorted(fails[:n_fail] + oks[: videos - n_fail])


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
    """RGB frames uint8 [T, H, W, 3] of a qpos trajectory, rendered with MuJoCo (MUJOCO_GL=egl)."""
    return render_episodes(env, [qpos_seq], size, camera)[0]


def render_episodes(env: Env, qpos_episodes, size: tuple[int, int] = (240, 320),
                    camera: str | int = -1) -> list[np.ndarray]:
    """RGB frames uint8 [T_i, H, W, 3] of each qpos trajectory, all through the process's one renderer.

    Importing TensorFlow makes every later ``mujoco.Renderer.render`` segfault under EGL (measured here,
    also for a renderer created before the import), so in a process that has TensorFlow loaded (a trainer
    with a tf.data pipeline) every episode is rendered in one fresh spawned process instead.
    """
    episodes = [np.asarray(q) for q in qpos_episodes]
    if "tensorflow" in sys.modules:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_render_all, (env.mj_model, episodes, size, camera))
    return _render_all(env.mj_model, episodes, size, camera)


def _render_all(m, episodes, size, camera) -> list[np.ndarray]:
    return [_render_frames(m, q, size, camera) for q in episodes]


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
        # Shadow maps cost ~100 ms a frame in software GL (EGL on llvmpipe, no GPU) and ~9 ms without them at
        # 240x320 (measured here); without them the floor's checker also stays visible instead of washing out.
        r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        frames.append(r.render().copy())
    return np.stack(frames)


VIDEO_FORMATS = ("mp4", "gif")
SUCCESS_RGB = (40, 190, 70)
FAILURE_RGB = (220, 45, 45)


def mp4_codec() -> str | None:
    """The H.264 encoder PyAV offers (``libx264``; ``mpeg4`` as a fallback), or None without PyAV."""
    try:
        import av
    except ImportError:
        return None
    for name in ("libx264", "h264", "mpeg4"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # listed but built without an encoder
                continue
            return name
    return None


def resolve_video_format(video_format: str | None) -> str:
    """``video_format`` checked; None means mp4 when an encoder is installed, else gif."""
    if video_format is None:
        return "mp4" if mp4_codec() else "gif"
    if video_format not in VIDEO_FORMATS:
        raise ValueError(f"video_format must be one of {VIDEO_FORMATS}, got {video_format!r}")
    if video_format == "mp4" and mp4_codec() is None:
        raise ValueError("video_format 'mp4' needs PyAV (pip install av); use 'gif' or install it")
    return video_format


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: float) -> str:
    """Encode RGB frames [T, H, W, 3] as MP4 (H.264, yuv420p; odd sides padded by one edge row/column)."""
    import av

    frames = np.asarray(frames, np.uint8)
    t, h, w = frames.shape[:3]
    pad_h, pad_w = h % 2, w % 2  # yuv420p needs even sides
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    rate = fractions.Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(mp4_codec(), rate=rate)
        stream.width, stream.height = w + pad_w, h + pad_h
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def write_gif(frames: np.ndarray, path: str | os.PathLike, fps: float) -> str:
    """RGB frames [T, H, W, 3] as a looping GIF (PIL; frame duration rounded to milliseconds)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in np.asarray(frames, np.uint8)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return str(path)


def keyframe_indices(length: int, k: int) -> np.ndarray:
    """``k`` evenly spaced frame indices of an episode of ``length`` frames, the last one always included."""
    if k == 1:
        return np.array([length - 1])
    return np.unique(np.round(np.linspace(0, length - 1, k)).astype(int))


def grid_image(episodes: list[np.ndarray], success: list[bool], keyframes: int = 1, border: int = 3,
               gap: int = 2) -> np.ndarray:
    """One RGB image tiling ``keyframes`` frames of each episode, framed by success (green) or failure (red).

    A tile is an episode's keyframes side by side (see :func:`keyframe_indices`) inside a ``border``-px
    frame; tiles fill rows of ``ceil(sqrt(n / keyframes))`` columns (about square), ``gap`` px apart on
    white, in episode order.
    """
    if not episodes or len(episodes) != len(success):
        raise ValueError(f"need one success flag per episode, got {len(episodes)} episodes, "
                         f"{len(success)} flags")
    h, w = episodes[0].shape[1:3]
    tiles = []
    for frames, ok in zip(episodes, success, strict=True):
        idx = keyframe_indices(len(frames), keyframes)
        strip = np.concatenate([frames[i] for i in idx], axis=1)
        strip = np.pad(strip, ((0, 0), (0, keyframes * w - strip.shape[1]), (0, 0)))  # short episodes
        tile = np.empty((h + 2 * border, keyframes * w + 2 * border, 3), np.uint8)
        tile[:] = SUCCESS_RGB if ok else FAILURE_RGB
        tile[border:border + h, border:border + keyframes * w] = strip
        tiles.append(tile)
    n = len(tiles)
    cols = math.ceil(math.sqrt(n / keyframes))
    rows = math.ceil(n / cols)
    th, tw = tiles[0].shape[:2]
    grid = np.full((rows * th + (rows + 1) * gap, cols * tw + (cols + 1) * gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (th + gap), gap + c * (tw + gap)
        grid[y:y + th, x:x + tw] = tile
    return grid


def write_videos(env: Env, qpos_episodes, video_dir, size=(240, 320), camera: str | int = -1, *,
                 video_format: str | None = None, success: list[bool] | None = None,
                 grid_keyframes: int = 1, episode_ids: list[int] | None = None) -> dict[str, Any]:
    """Render the episodes once; write one video each (frame rate = control rate) and, given the episodes'
    ``success`` flags, ``grid.png``. Returns ``{"videos": [paths], "grid": path or None}``. Files are named
    ``episode_<id>`` by ``episode_ids`` (default 0, 1, ...)."""
    from PIL import Image

    video_format = resolve_video_format(video_format)
    out = pathlib.Path(video_dir)
    out.mkdir(parents=True, exist_ok=True)
    episodes = render_episodes(env, qpos_episodes, size, camera)
    fps = 1.0 / env.dt
    write = write_mp4 if video_format == "mp4" else write_gif
    ids = list(range(len(episodes))) if episode_ids is None else list(episode_ids)
    paths = [write(frames, out / f"episode_{i:03d}.{video_format}", fps) for i, frames in zip(ids, episodes,
                                                                                              strict=True)]
    grid = None
    if success is not None:
        grid = str(out / "grid.png")
        Image.fromarray(grid_image(episodes, list(success), grid_keyframes)).save(grid)
    return {"videos": paths, "grid": grid}
