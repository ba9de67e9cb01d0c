"""A trained imitation policy as a pure function of a carry, to run inside a jitted RL rollout.

:class:`jaxrobot.policies.runner.PolicyRunner` drives a policy from the host, one ``jit`` call per step, with
numpy state in between. A PPO rollout is one ``lax.scan`` over an episode, so the same run-time logic is written
here over device arrays, per environment:

- observation history of ``n_obs_steps`` frames (the first frame repeated after a reset, ``pad_mask`` False for
  the repeats); the state assembled from the data spec's ``state_keys`` and normalised with the policy's own
  statistics, as in training;
- ACT's temporal ensembling (re-plan every step; an online weighted average with weights ``exp(-m i)``) or an
  action-chunk queue (re-plan every ``n_action_steps``; the model runs only on steps where some environment
  needs a new chunk).

The numbers equal :class:`PolicyRunner`'s (tests/rl/test_base_policy.py compares them step by step); the base
policy's parameters are frozen and identified by the sha256 digest of its checkpoint's params.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrobot.config import ConfigError
from jaxrobot.data.normalize import normalize, unnormalize
from jaxrobot.models.registry import build_model
from jaxrobot.policies.runner import ensemble_weight_sum, state_slices
from jaxrobot.train import checkpoint as ckpt_lib


@struct.dataclass
class BaseCarry:
    """Per-environment run-time state of the base policy (leading axis: environments)."""

    history: dict[str, jax.Array]  # "observation/<key>" -> [B, n_obs_steps, ...], normalised
    steps: jax.Array  # [B] int32: steps since the episode started
    avg: jax.Array  # [B, H, A] ensembled actions (temporal ensembling) or the current chunk (queue)
    count: jax.Array  # [B, H] int32: predictions averaged into avg (ensembling) / [B, 1] queue index
    rng: jax.Array


@dataclasses.dataclass(frozen=True)
class BasePolicy:
    """A frozen policy from a ``jaxrobot train`` checkpoint, as pure ``init`` / ``act`` functions.

    Attributes: ``params`` (EMA params when the run kept them), ``digest`` (sha256 of those params),
    ``meta`` (the checkpoint's metadata, with ``step``), ``workdir``, ``action_dim``.
    """

    model: Any
    params: Any
    meta: dict[str, Any]
    workdir: str
    digest: str
    n_obs_steps: int
    horizon: int
    n_action_steps: int
    action_offset: int
    temporal_ensemble: float | None
    state_dim: int | None
    slices: Any
    stats: dict[str, Any]
    mode: str

    @property
    def action_dim(self) -> int:
        return int(self.meta["data_spec"]["action_dim"])

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    # ------------------------------------------------------------------ run time

    def init(self, obs: dict[str, jax.Array], rng: jax.Array) -> BaseCarry:
        """A carry for the environments of ``obs`` (batched first observations), all at an episode start."""
        n_envs = obs["state"].shape[0]
        width = self.horizon if self.temporal_ensemble is not None else 1
        carry = BaseCarry(history={}, steps=jnp.zeros(n_envs, jnp.int32),
                          avg=jnp.zeros((n_envs, self.horizon, self.action_dim), jnp.float32),
                          count=jnp.zeros((n_envs, width), jnp.int32), rng=rng)
        _, history = self._observation(carry, obs)
        return carry.replace(history=history)

    def _observation(self, carry: BaseCarry, obs: dict[str, jax.Array]) -> tuple[dict, dict]:
        if self.slices:
            obs = dict(obs, state=jnp.concatenate([obs[n][..., lo:hi] for n, lo, hi in self.slices], axis=-1))
        state = normalize(obs["state"].astype(jnp.float32), self.stats["state"], self.mode).astype(jnp.float32)
        if self.state_dim is not None and state.shape[-1] < self.state_dim:
            state = jnp.pad(state, [(0, 0), (0, self.state_dim - state.shape[-1])])
        fresh = carry.steps == 0
        key = "observation/state"
        if key in carry.history:
            old = carry.history[key]
            rolled = jnp.concatenate([old[:, 1:], state[:, None]], axis=1)
            repeated = jnp.repeat(state[:, None], self.n_obs_steps, axis=1)
            hist = jnp.where(fresh[:, None, None], repeated, rolled)
        else:
            hist = jnp.repeat(state[:, None], self.n_obs_steps, axis=1)
        valid = jnp.minimum(carry.steps + 1, self.n_obs_steps)
        mask = jnp.arange(self.n_obs_steps)[None, :] >= (self.n_obs_steps - valid)[:, None]
        return {key: hist, "observation/pad_mask": mask}, {key: hist}

    def _plan(self, params: Any, observation: dict, rng: jax.Array) -> jax.Array:
        chunk = self.model.predict(params, observation, rng)
        return unnormalize(chunk, self.stats["action"], self.mode).astype(jnp.float32)

    def act(self, params: Any, carry: BaseCarry, obs: dict[str, jax.Array]) -> tuple[BaseCarry, jax.Array]:
        """The actions [B, A] for observations ``obs`` (``{"state": [B, S], ...}``, raw units).

        ``params``: :attr:`params`, passed in so that a jitted caller takes them as an argument rather than
        baking them into the program as constants. Environments whose ``carry.steps`` is 0 start an episode here
        (see :meth:`restart`).
        """
        observation, history = self._observation(carry, obs)
        rng, key = jax.random.split(carry.rng)
        fresh = carry.steps == 0
        if self.temporal_ensemble is not None:
            m = self.temporal_ensemble
            chunk = self._plan(params, observation, key)
            n = jnp.where(fresh[:, None], 0, carry.count)
            avg = jnp.where(fresh[:, None, None], 0.0, carry.avg)
            w_new = jnp.exp(-m * n.astype(jnp.float32))[..., None]
            nf = n.astype(jnp.float32)
            w_old, w_all = ensemble_weight_sum(m, nf, jnp), ensemble_weight_sum(m, nf + 1.0, jnp)
            avg = (avg * w_old[..., None] + chunk * w_new) / w_all[..., None]
            action = avg[:, 0]
            avg = jnp.concatenate([avg[:, 1:], jnp.zeros_like(avg[:, :1])], axis=1)
            count = jnp.concatenate([n[:, 1:] + 1, jnp.zeros_like(n[:, :1])], axis=1)
        else:
            index = jnp.where(fresh, self.n_action_steps, carry.count[:, 0])
            need = index >= self.n_action_steps
            chunk = jax.lax.cond(jnp.any(need), lambda: self._plan(params, observation, key), lambda: carry.avg)
            avg = jnp.where(need[:, None, None], chunk, carry.avg)
            index = jnp.where(need, 0, index)
            action = jnp.take_along_axis(avg, (self.action_offset + index)[:, None, None], axis=1)[:, 0]
            count = (index + 1)[:, None]
        carry = BaseCarry(history=history, steps=carry.steps + 1, avg=avg, count=count, rng=rng)
        return carry, action

    @staticmethod
    def restart(carry: BaseCarry, mask: jax.Array) -> BaseCarry:
        """``carry`` with the environments where ``mask`` is true back at an episode start."""
        return carry.replace(steps=jnp.where(mask, 0, carry.steps))


def load_base_policy(workdir: str | pathlib.Path, step: int | None = None, *, use_ema: bool = True) -> BasePolicy:
    """The policy of a ``jaxrobot train`` run as a :class:`BasePolicy` (refused, naming why, when RL cannot run it).

    Only state-observation policies run inside the rollout: an image policy would need every environment rendered
    at every step (``mjx.ray``), hours per iteration on this CPU.
    """
    workdir = pathlib.Path(workdir)
    if not (workdir / "checkpoints").is_dir():
        raise ConfigError(f"--base {workdir}: no checkpoints folder; pass the --workdir of a `jaxrobot train` run")
    step, meta = ckpt_lib.read_meta(workdir, step)
    if "data_spec" not in meta or "model" not in meta or meta.get("rl"):
        raise ConfigError(f"--base {workdir}: step {step} is not a supervised policy checkpoint "
                          f"(an RL run's workdir cannot be a base)")
    spec = meta["data_spec"]
    if spec.get("cameras"):
        raise ConfigError(f"--base {workdir}: the policy reads cameras {list(spec['cameras'])}; RL fine-tuning runs "
                          f"state-observation base policies only (rendering every environment at every step would "
                          f"dominate the rollout)")
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    params = state[ckpt_lib.params_key(state, use_ema)]
    cfg = ckpt_lib.config_from_meta(meta)
    model = build_model(cfg.model)
    stats = meta["stats"]
    horizon = int(spec["horizon"])
    te = getattr(cfg.model, "temporal_ensemble_coeff", None)
    return BasePolicy(
        model=model, params=jax.tree.map(jnp.asarray, params), meta=dict(meta, step=step), workdir=str(workdir),
        digest=ckpt_lib.digest(params), n_obs_steps=int(spec["n_obs_steps"]), horizon=horizon,
        n_action_steps=int(getattr(cfg.model, "n_action_steps", horizon)),
        action_offset=int(getattr(cfg.model, "action_offset", 0)), temporal_ensemble=te,
        state_dim=spec.get("state_dim"), slices=state_slices(spec.get("state_keys")), stats=stats,
        mode=stats.get("mode", "mean_std"))
