"""The policy at run time: raw observations in, raw actions out, one control step at a time.

One wrapper for every model (BC, ACT, Diffusion Policy), used by closed-loop evaluation, by the trainer's
periodic evaluation, and mirrored action for action by the robot-side export runtime:

1. observation history of ``n_obs_steps`` frames (the first frame repeated at an episode start, with
   ``pad_mask`` False for the repeats, exactly as training windows are padded);
2. state (assembled from observation slices when the data spec has ``state_keys``, e.g. proprioception
   only) normalised with the dataset statistics the model was trained with;
3. the model's ``predict`` gives a normalised action chunk [B, horizon, A] (Diffusion Policy runs its DDIM
   loop inside ``predict``); the chunk is unnormalised;
4. either an action-chunk queue (execute ``n_action_steps`` actions from ``action_offset``, the chunk index of
   the current step, then re-plan) or, for ACT, temporal
   ensembling: re-plan every step and average all predictions for the current step with weights
   ``exp(-m * i)``, ``i = 0`` the oldest (Zhao et al. 2023, m = 0.01), as an online update.

Host-side numpy state, a jitted model call in between: environments are batched along axis 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxrobot.data.datasets import parse_key
from jaxrobot.data.normalize import normalize, unnormalize

StateSlice = tuple[str, "int | None", "int | None"]


def state_slices(state_keys) -> list[StateSlice] | None:
    """The data spec's ``state_keys`` (flat RLDS keys, ``steps/observation/<name>[lo:hi]``) as
    ``(observation name, lo, hi)`` triples: how to assemble ``state`` from live observations."""
    if not state_keys:
        return None
    out = []
    for key in state_keys:
        name, sl = parse_key(key)
        out.append((name.removeprefix("steps/observation/"), sl.start, sl.stop))
    return out


def assemble_state(obs: dict[str, Any], slices: list[StateSlice] | None) -> dict[str, Any]:
    """``obs`` with ``state`` rebuilt from ``slices`` (as training did), or unchanged when there are none."""
    if not slices:
        return obs
    missing = sorted({n for n, _, _ in slices} - set(obs))
    if missing:
        raise KeyError(f"the policy builds its state from observation keys {missing}, which are missing "
                       f"(observations have {sorted(obs)})")
    out = dict(obs)
    out["state"] = np.concatenate([np.asarray(obs[n])[..., lo:hi] for n, lo, hi in slices], axis=-1)
    return out


def ensemble_weight_sum(m: float, n: Any, xp: Any = np) -> Any:
    """``W(n) = sum_{i<n} exp(-m i)`` in closed form (``m = 0`` gives ``n``), for numpy or ``xp=jax.numpy``
    (the rollout's in-graph ensembling, :mod:`jaxrobot.rl.base_policy`); ``n`` already in the wanted float type."""
    if m == 0:
        return n
    return (1.0 - xp.exp(-m * n)) / (1.0 - np.exp(-m))


class TemporalEnsembler:
    """Online weighted average of overlapping action chunks (ACT's temporal ensembling).

    Position ``k`` of the buffer holds the running average of every prediction made so far for the
    step ``k`` steps ahead, and how many there were. A new chunk's element for a step that already has
    ``n`` predictions gets weight ``exp(-m n)``; the older ones keep theirs, so
    ``avg' = (avg * W(n) + new * exp(-m n)) / W(n + 1)`` with ``W(n) = sum_{i<n} exp(-m i)``.
    """

    def __init__(self, coeff: float, horizon: int):
        self.m, self.horizon = coeff, horizon
        self.avg: np.ndarray | None = None
        self.count: np.ndarray | None = None

    def reset(self) -> None:
        self.avg = self.count = None

    def _w(self, n: np.ndarray) -> np.ndarray:
        return ensemble_weight_sum(self.m, n.astype(np.float64))

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Add a chunk [B, H, A] predicted at this step; return the action [B, A] to execute now."""
        chunk = chunk.astype(np.float64)
        if self.avg is None:
            self.avg, self.count = chunk.copy(), np.ones(self.horizon, np.int64)
        else:
            n = self.count
            weight_new = np.exp(-self.m * n)[None, :, None]
            self.avg = (self.avg * self._w(n)[None, :, None] + chunk * weight_new) / self._w(n + 1)[None, :, None]
            self.count = n + 1
        action = self.avg[:, 0].copy()
        # Shift one step: the last slot has no prediction yet; the next chunk fills it with count 0.
        self.avg = np.concatenate([self.avg[:, 1:], np.zeros_like(self.avg[:, :1])], axis=1)
        self.count = np.concatenate([self.count[1:], np.zeros(1, np.int64)])
        return action.astype(np.float32)


class PolicyRunner:
    """Stateful wrapper around a pure ``predict(params, observation, rng)``; call :meth:`reset` per episode."""

    def __init__(self, predict: Callable, params: Any, stats: dict[str, Any], *, n_obs_steps: int,
                 horizon: int, n_action_steps: int, temporal_ensemble: float | None = None,
                 state_dim: int | None = None, state_keys=None, seed: int = 0, action_offset: int = 0):
        if not 1 <= n_action_steps <= horizon - action_offset or action_offset < 0:
            raise ValueError(f"n_action_steps must be in [1, horizon - action_offset = {horizon - action_offset}] "
                             f"with action_offset >= 0, got {n_action_steps} and {action_offset}")
        self.predict = jax.jit(predict)
        self.params, self.stats = params, stats
        self.mode = stats.get("mode", "mean_std")
        self.n_obs_steps, self.horizon, self.n_action_steps = n_obs_steps, horizon, n_action_steps
        self.action_offset = action_offset
        self.state_dim = state_dim
        self.state_slices = state_slices(state_keys)
        self.ensembler = TemporalEnsembler(temporal_ensemble, horizon) if temporal_ensemble is not None else None
        self.rng = jax.random.PRNGKey(seed)
        self.reset()

    def reset(self, n_envs: int | None = None) -> None:
        """Forget history, queued actions and ensembles (between episodes; the batch size may change)."""
        self.history: dict[str, list[np.ndarray]] = {}
        self.queue: list[np.ndarray] = []
        self.steps = 0
        if self.ensembler is not None:
            self.ensembler.reset()

    def _observation(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch: dict[str, np.ndarray] = {}
        for key, value in assemble_state(obs, self.state_slices).items():
            value = np.asarray(value)
            if key == "state":
                value = normalize(value.astype(np.float32), self.stats["state"], self.mode).astype(np.float32)
                if self.state_dim is not None and value.shape[-1] < self.state_dim:  # padded like training
                    value = np.pad(value, [(0, 0)] * (value.ndim - 1) + [(0, self.state_dim - value.shape[-1])])
            hist = self.history.setdefault(key, [value] * self.n_obs_steps)
            hist.append(value)
            del hist[0]
            batch[f"observation/{key}"] = np.stack(hist, axis=1)
        b = next(iter(batch.values())).shape[0]
        valid = min(self.steps + 1, self.n_obs_steps)
        mask = np.zeros((b, self.n_obs_steps), bool)
        mask[:, self.n_obs_steps - valid:] = True
        batch["observation/pad_mask"] = mask
        return batch

    def _plan(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        self.rng, key = jax.random.split(self.rng)
        chunk = np.asarray(self.predict(self.params, observation, key))
        return np.asarray(unnormalize(chunk, self.stats["action"], self.mode), np.float32)

    def __call__(self, obs: dict[str, np.ndarray], rng: Any = None) -> np.ndarray:
        """Action [B, A] for the current observations ``{"state": [B, S], "image_<cam>": [B, H, W, 3]}``.

        ``rng`` is accepted for the ``policy_fn(obs, rng)`` signature of ``sim.evaluate``; the runner keeps
        its own key stream (seeded at construction) so an episode is reproducible on its own.
        """
        observation = self._observation(obs)
        self.steps += 1
        if self.ensembler is not None:
            return self.ensembler.update(self._plan(observation))
        if not self.queue:
            chunk = self._plan(observation)
            self.queue = [chunk[:, self.action_offset + i] for i in range(self.n_action_steps)]
        return self.queue.pop(0)
