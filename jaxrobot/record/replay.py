"""Replay a recorded episode's actions in simulation and measure how far the replay drifts from the recording.

The start state is rebuilt from the episode's ``(seed, episode_index)`` (the recorder started it there), then
the recorded actions are applied open loop. Drift is the distance between recorded and replayed states at
each step: TCP position (mm), arm joints (rad), and the manipulated object's position (mm) when the task's
state has one. ``engine="c"`` replays through the recorder's own follower (MuJoCo C, deterministic: drift
should be ~0 and shows the recording is self-consistent); ``engine="mjx"`` through the MJX environment that
training evaluates in (drift then measures the C-vs-MJX physics difference, which open loop accumulates).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.sim.batch import episode_keys

#: obs["state"] slices compared (Panda tasks, jaxrobot.sim.panda_arm): joints, TCP, then the task's object.
JOINTS, TCP, OBJECT = slice(0, 7), slice(14, 17), slice(22, 25)


def replay_episode(env: Any, episode: dict[str, Any], engine: str = "mjx") -> dict[str, Any]:
    """Replay ``episode`` (as :class:`~jaxrobot.data.rlds.reader.RldsDataset` returns it) in ``env``."""
    if engine not in ("mjx", "c"):
        raise ValueError(f"engine must be 'mjx' or 'c', got {engine!r}")
    try:
        actions = np.asarray(episode["steps/action"], np.float32)
        recorded = np.asarray(episode["steps/observation/state"], np.float32)
        seed = int(episode["episode_metadata/seed"])
        index = int(episode["episode_metadata/episode_index"])
    except KeyError as e:
        raise DataError(f"episode has no {e}: only episodes jaxrobot recorded (record, gen-demos) replay") from None
    if actions.shape[1] != env.action_size:
        raise DataError(f"episode actions have {actions.shape[1]} numbers, task {type(env).__name__} "
                        f"({env.config.action_space}) takes {env.action_size}: replay with the task config it was "
                        "recorded with")
    if engine == "c":
        from jaxrobot.record.follower import SimFollower

        follower = SimFollower(env, view=False)
        state = follower.reset(seed, index)
        step = follower.step
    else:
        state = jax.jit(env.reset)(episode_keys(seed, index, 1)[0][0])
        jstep = jax.jit(env.step)

        def step(a):
            nonlocal state
            state = jstep(state, a)
            return state
    states = [np.asarray(state.obs["state"])]
    success = False
    for a in actions[:-1]:
        state = step(a)
        states.append(np.asarray(state.obs["state"]))
    state = step(actions[-1])
    success = bool(state.success)
    replayed = np.stack(states)
    out = {"engine": engine, "steps": int(len(actions)), "replay_success": success,
           "recorded_success": bool(episode.get("episode_metadata/success", False)),
           "start_error_mm": float(np.linalg.norm(replayed[0, TCP] - recorded[0, TCP]) * 1e3)}
    parts = {"tcp_mm": (TCP, 1e3), "joints_rad": (JOINTS, 1.0)}
    if recorded.shape[1] >= OBJECT.stop:
        parts["object_mm"] = (OBJECT, 1e3)
    for name, (sl, scale) in parts.items():
        d = np.linalg.norm(replayed[:, sl] - recorded[:, sl], axis=-1) * scale
        out[f"{name}_max"] = float(d.max())
        out[f"{name}_final"] = float(d[-1])
        out[f"{name}_mean"] = float(d.mean())
    return out
