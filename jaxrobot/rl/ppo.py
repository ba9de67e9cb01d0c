"""PPO over batched MJX episodes, with an optional frozen base policy under a residual: pure functions for ``jit``.

One *iteration* (:func:`make_iteration`) is one jitted call: reset ``n_envs`` environments on fresh training seeds,
run one whole episode of each in a ``lax.scan`` (the base policy, the residual's sampled correction, the env step),
compute advantages, then ``epochs`` x ``minibatches`` Adam updates. All environments start together and every
episode ends by the task's ``episode_steps``, so an iteration has a static shape; steps after an episode's end are
simulated but masked out of the statistics and the loss.

Taken from brax 0.14.2 (``brax.training``, the PPO behind MuJoCo Playground), not rewritten: the policy and value
MLPs and the Gaussian (``agents.ppo.networks.make_ppo_networks``, ``distribution``), GAE (``agents.ppo.losses.
compute_gae``) and the running observation statistics (``acme.running_statistics``). Written here: the rollout
(a base policy inside it; brax's rollout has none), the loss with a validity mask (brax's ``compute_ppo_loss`` has
no mask for the steps after an episode ended inside a fixed-length rollout, so they would dilute its means) and the
loop around it (:mod:`jaxrobot.rl.loop`: our checkpoints, exact resume, metrics; brax's ``ppo.train`` owns its
own loop and checkpoint format).

Actions: ``residual`` mode executes ``clip(base + clip(u, -1, 1) * scale)`` where ``u`` is the Gaussian sample and
``scale`` is ``residual_scale x`` the action's half range; ``scratch`` mode executes ``centre + clip(u, -1, 1) x
half range``. PPO's ratios use the log-probability of ``u`` itself (the clip is part of the environment).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrobot.rl import brax_parts
from jaxrobot.rl.base_policy import BasePolicy
from jaxrobot.rl.config import RLConfig

#: Folded into the run's seed for the training episodes' reset keys: ``jaxrobot eval`` draws episode ``i`` of seed
#: ``s`` as ``fold_in(key(s), i)``; training draws ``fold_in(fold_in(key(seed), TRAIN_STREAM), i)``.
TRAIN_STREAM = 0x7241


@struct.dataclass
class PPOParams:
    policy: Any
    value: Any


@struct.dataclass
class RunState:
    """Everything a run carries from one iteration to the next (what a checkpoint saves; resume is exact)."""

    params: PPOParams
    opt_state: Any
    normalizer: Any  # brax running statistics of the policy's observation
    rng: jax.Array
    iteration: jax.Array  # int32
    episodes: jax.Array  # int32: training episodes started so far (the next iteration's reset keys)


@dataclasses.dataclass(frozen=True)
class Spaces:
    """How a network output becomes an env action: ``action = clip(offset + clip(u, -1, 1) * scale)``."""

    obs_size: int
    action_size: int
    scale: np.ndarray  # [A]
    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray


def spaces(cfg: RLConfig, env, base: BasePolicy | None) -> Spaces:
    low, high = np.asarray(env.action_low, np.float32), np.asarray(env.action_high, np.float32)
    half = (high - low) / 2
    scale = half * (cfg.residual_scale if base is not None else 1.0)
    obs = env.state_dim + (env.action_size if base is not None else 0)
    return Spaces(obs_size=int(obs), action_size=int(env.action_size), scale=scale.astype(np.float32), low=low,
                  high=high, centre=((low + high) / 2).astype(np.float32))


def policy_observation(state_obs: jax.Array, base_action: jax.Array | None) -> jax.Array:
    """What the residual sees: the env's state, then the base policy's action for it (ResiP's input)."""
    if base_action is None:
        return state_obs.astype(jnp.float32)
    return jnp.concatenate([state_obs.astype(jnp.float32), base_action.astype(jnp.float32)], axis=-1)


def compose_action(sp: Spaces, base_action: jax.Array | None, u: jax.Array) -> jax.Array:
    """The env action of a network sample ``u`` (see the module docstring)."""
    offset = sp.centre if base_action is None else base_action
    return jnp.clip(offset + jnp.clip(u, -1.0, 1.0) * sp.scale, sp.low, sp.high)


def init_run_state(cfg: RLConfig, sp: Spaces, nets, tx) -> RunState:
    key = jax.random.PRNGKey(cfg.seed)
    k_pol, k_val, k_run = jax.random.split(key, 3)
    params = PPOParams(policy=nets.policy_network.init(k_pol), value=nets.value_network.init(k_val))
    # brax's log-std parameter starts weakly typed; strong dtypes keep the iteration's input and output types equal
    # (otherwise the second call compiles the iteration again).
    params = jax.tree.map(lambda x: jnp.asarray(x, x.dtype), params)
    normalizer = brax_parts.running_statistics.init_state(jax.ShapeDtypeStruct((sp.obs_size,), jnp.float32))
    return RunState(params=params, opt_state=tx.init(params), normalizer=normalizer, rng=k_run,
                    iteration=jnp.int32(0), episodes=jnp.int32(0))


def make_optimizer(cfg: RLConfig) -> optax.GradientTransformation:
    parts = [optax.clip_by_global_norm(cfg.ppo.grad_clip)] if cfg.ppo.grad_clip > 0 else []
    return optax.chain(*parts, optax.adam(cfg.ppo.lr))


def train_reset_keys(seed: int, first: jax.Array, n: int) -> jax.Array:
    """Reset keys of training episodes ``first .. first + n - 1`` (a stream evaluation never draws from)."""
    stream = jax.random.fold_in(jax.random.PRNGKey(seed), TRAIN_STREAM)
    return jax.vmap(lambda i: jax.random.fold_in(stream, i))(first + jnp.arange(n, dtype=jnp.int32))


def reward_of(cfg: RLConfig, potential: jax.Array, next_potential: jax.Array, success: jax.Array,
              u: jax.Array) -> jax.Array:
    """The step's reward (:class:`jaxrobot.rl.config.RewardConfig`); ``potential`` is the task's dense reward
    before the step, ``next_potential`` after it (a reset state's is 0: MJX tasks start with reward 0)."""
    r = cfg.reward
    residual = jnp.clip(u, -1.0, 1.0)
    shaping = cfg.ppo.discount * next_potential - potential
    return (r.success * success.astype(jnp.float32) + r.shaping * shaping
            - r.residual_penalty * jnp.mean(residual * residual, axis=-1))


def rollout(cfg: RLConfig, env, base: BasePolicy | None, sp: Spaces, nets, params: PPOParams, normalizer,
            base_params, reset_keys: jax.Array, rng: jax.Array) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """One episode of every environment: transitions ``[T, B, ...]`` and per-episode results ``[B]``."""
    dist = nets.parametric_action_distribution
    reset = jax.vmap(env.reset_with, in_axes=(None, 0))
    step = jax.vmap(env.step_with, in_axes=(None, 0, 0))
    model = env.mjx_model
    state = reset(model, reset_keys)
    k_base, k_act = jax.random.split(rng)
    carry0 = base.init(state.obs, k_base) if base is not None else None
    n = reset_keys.shape[0]

    def body(c, key):
        state, carry, alive, ret, length, success, unstable = c
        if base is not None:
            carry, a_base = base.act(base_params, carry, state.obs)
        else:
            a_base = None
        obs = policy_observation(state.obs["state"], a_base)
        # An environment whose simulation went non-finite (MJX's soft contacts can blow up under a hard push) ends
        # there: its numbers are zeroed before they reach the networks, the statistics or the loss (NaN x 0 is
        # still NaN in a masked mean), and it is counted (``train/unstable_episodes``).
        ok = jnp.all(jnp.isfinite(obs), axis=-1)
        obs = jnp.where(ok[:, None], obs, 0.0)
        logits = nets.policy_network.apply(normalizer, params.policy, obs)
        u = dist.sample_no_postprocessing(logits, key)
        logp = dist.log_prob(logits, u)
        nxt = step(model, state, compose_action(sp, a_base, u))
        next_ok = jnp.all(jnp.isfinite(nxt.obs["state"]), axis=-1) & jnp.isfinite(nxt.reward)
        live = alive & ok
        reward = jnp.where(live & next_ok, reward_of(cfg, state.reward, nxt.reward, nxt.success, u), 0.0)
        # The time limit truncates (bootstrapped); success, a task's failure predicate or a blow-up terminates.
        timeout = nxt.done & ~nxt.success & (nxt.info["step"] >= env.config.episode_steps) & next_ok
        rec = {"obs": obs, "u": u, "logp": logp, "reward": reward, "valid": live,
               "terminal": (nxt.done | ~next_ok) & ~timeout & live, "timeout": timeout & live,
               "residual": jnp.clip(u, -1.0, 1.0)}
        ret = ret + reward
        length = length + live.astype(jnp.int32)
        success = success | (nxt.success & live & next_ok)
        unstable = unstable | (alive & ~(ok & next_ok))
        alive = live & next_ok & ~nxt.done
        return (nxt, carry, alive, ret, length, success, unstable), rec

    keys = jax.random.split(k_act, env.config.episode_steps)
    c0 = (state, carry0, jnp.ones(n, bool), jnp.zeros(n, jnp.float32), jnp.zeros(n, jnp.int32), jnp.zeros(n, bool),
          jnp.zeros(n, bool))
    (_, _, _, ret, length, success, unstable), traj = jax.lax.scan(body, c0, keys)
    return traj, {"return": ret, "length": length, "success": success, "unstable": unstable}


def advantages(cfg: RLConfig, traj: dict[str, jax.Array], values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lambda-return targets and GAE advantages ``[T, B]`` (Schulman et al. 2016): success (or a task's failure)
    terminates (no bootstrap); a time-out and the steps after an episode's end are truncations, masked out (the
    step before a time-out bootstraps from the value of the time-out's state).

    The targets are brax's ``compute_gae``; the advantages are ``target - value``, the standard GAE (brax's own
    advantage output is ``r + gamma x target(t+1) - value``, which applies lambda one step later).
    """
    truncation = (traj["timeout"] | ~traj["valid"]).astype(jnp.float32)
    termination = traj["terminal"].astype(jnp.float32)
    target, _ = brax_parts.compute_gae(truncation=truncation, termination=termination, rewards=traj["reward"],
                                       values=values, bootstrap_value=jnp.zeros_like(values[0]),
                                       lambda_=cfg.ppo.gae_lambda, discount=cfg.ppo.discount)
    return target, (target - values) * (1.0 - truncation)


def _masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def ppo_loss(cfg: RLConfig, nets, params: PPOParams, normalizer, batch: dict[str, jax.Array], key: jax.Array):
    """Clipped surrogate + value + entropy over a minibatch's valid transitions (``batch["mask"]``)."""
    p = cfg.ppo
    dist = nets.parametric_action_distribution
    mask = batch["mask"]
    logits = nets.policy_network.apply(normalizer, params.policy, batch["obs"])
    logp = dist.log_prob(logits, batch["u"])
    ratio = jnp.exp(logp - batch["logp"])
    adv = batch["adv"]
    if p.normalize_advantage:
        mean = _masked_mean(adv, mask)
        std = jnp.sqrt(_masked_mean((adv - mean) ** 2, mask))
        adv = (adv - mean) / (std + 1e-8)
    surrogate = jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - p.clip_epsilon, 1 + p.clip_epsilon) * adv)
    policy_loss = -_masked_mean(surrogate, mask)
    value = nets.value_network.apply(normalizer, params.value, batch["obs"])
    value_loss = 0.5 * _masked_mean((value - batch["target"]) ** 2, mask)
    entropy = _masked_mean(dist.entropy(logits, key), mask)
    loss = policy_loss + p.value_coef * value_loss - p.entropy_coef * entropy
    metrics = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
               "approx_kl": _masked_mean(batch["logp"] - logp, mask),
               "clip_fraction": _masked_mean((jnp.abs(ratio - 1) > p.clip_epsilon).astype(jnp.float32), mask)}
    return loss, metrics


def make_iteration(cfg: RLConfig, env, base: BasePolicy | None, sp: Spaces, nets, tx,
                   env_sharding=None) -> Callable[[RunState, Any], tuple[RunState, dict[str, jax.Array]]]:
    """``iteration(run_state, base_params) -> (run_state, metrics)``: one episode per env, then PPO's updates.

    ``env_sharding``: a ``NamedSharding`` splitting the environment axis over a mesh (None: one device).
    """
    p = cfg.ppo
    n = p.n_envs
    t = env.config.episode_steps

    def constrain(x):
        return x if env_sharding is None else jax.lax.with_sharding_constraint(x, env_sharding)

    def iteration(run: RunState, base_params) -> tuple[RunState, dict[str, jax.Array]]:
        rng, k_roll, k_sgd = jax.random.split(run.rng, 3)
        keys = constrain(train_reset_keys(cfg.seed, run.episodes, n))
        traj, episodes = rollout(cfg, env, base, sp, nets, run.params, run.normalizer, base_params, keys, k_roll)
        valid = traj["valid"].astype(jnp.float32)
        # Observation statistics first (as brax does): this iteration's valid observations.
        normalizer = brax_parts.running_statistics.update(run.normalizer, traj["obs"], weights=valid)
        values = nets.value_network.apply(normalizer, run.params.value, traj["obs"])
        target, adv = advantages(cfg, traj, values)
        mask = valid * (1.0 - traj["timeout"].astype(jnp.float32))
        data = {"obs": traj["obs"], "u": traj["u"], "logp": traj["logp"], "adv": adv, "target": target,
                "mask": mask}
        total = t * n
        per = total // p.minibatches
        flat = jax.tree.map(lambda x: x.reshape((total,) + x.shape[2:]), data)
        grad_fn = jax.value_and_grad(lambda prm, b, k: ppo_loss(cfg, nets, prm, normalizer, b, k), has_aux=True)

        def minibatch(c, b):
            params, opt_state, key = c
            key, sub = jax.random.split(key)
            (_, m), grads = grad_fn(params, b, sub)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            m["grad_norm"] = optax.tree.norm(grads)
            return (params, opt_state, key), m

        def epoch(c, key):
            perm = jax.random.permutation(key, total)[: per * p.minibatches]
            batches = jax.tree.map(lambda x: x[perm].reshape((p.minibatches, per) + x.shape[1:]), flat)
            return jax.lax.scan(minibatch, c, batches)

        (params, opt_state, _), ms = jax.lax.scan(epoch, (run.params, run.opt_state, k_sgd),
                                                  jax.random.split(k_sgd, p.epochs))
        metrics = {k: jnp.mean(v) for k, v in ms.items()}
        n_valid = jnp.sum(valid)
        metrics.update({
            "train/success_rate": jnp.mean(episodes["success"].astype(jnp.float32)),
            "train/return": jnp.mean(episodes["return"]),
            "train/episode_length": jnp.mean(episodes["length"].astype(jnp.float32)),
            "train/residual_abs": jnp.sum(jnp.mean(jnp.abs(traj["residual"]), -1) * valid) / n_valid,
            "train/valid_fraction": n_valid / total,
            "train/unstable_episodes": jnp.sum(episodes["unstable"].astype(jnp.float32)),
            "value_mean": _masked_mean(values, mask),
        })
        run = RunState(params=params, opt_state=opt_state, normalizer=normalizer, rng=rng,
                       iteration=run.iteration + 1, episodes=run.episodes + n)
        return run, metrics

    return iteration


def deterministic_residual(nets, params: PPOParams, normalizer, obs: jax.Array) -> jax.Array:
    """The residual policy's mean action ``u`` (what evaluation runs with ``sample_actions=False``)."""
    logits = nets.policy_network.apply(normalizer, params.policy, obs)
    return nets.parametric_action_distribution.mode(logits)
