"""Compiled, batched env functions shared by demo generation, evaluation, tests and benchmarks.

Compiling ``jit(vmap(step))`` for the gripper scene takes 12-60 s on this CPU, so each (env, randomised)
pair is compiled once per process and reused (:func:`batched`), and the persistent compilation cache
(``jaxrobot.platform.configure``) makes the next process start in seconds. The per-call batch should stay
<= 512 on CPU (throughput saturates by 64-512 worlds; see shared/FACTS.md): callers loop over chunks.

Two ways to run episodes:

- ``step`` (and ``expert``): one control step per call, so a host-side (stateful, chunked) policy can act
  between calls (evaluation).
- ``expert_steps``: the scripted expert and the env step fused in one ``lax.scan`` of ``length`` control
  steps per call (demo generation): one dispatch and one host sync per chunk instead of two dispatches and
  a sync per step. ``restart`` resets chosen environments of a batch in place, so demo generation can
  start the next episode in a slot whose episode ended (continuous batching, :mod:`jaxrobot.sim.demos`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.sim import randomize as _randomize
from jaxrobot.sim.env import Env, State


@dataclasses.dataclass(frozen=True, eq=False)
class BatchedEnv:
    """Batched env functions, all jitted; ``models`` is ``env.mjx_model`` (shared) or a batch from
    :meth:`models` when ``randomized``.

    - ``reset(models, keys) -> states``
    - ``step(models, states, actions) -> states``
    - ``expert(states, keys) -> (label, executed)``
    - ``expert_steps(models, states, keys, length) -> (states, record)``: ``length`` control steps of the
      expert (policy keys ``keys``) in one call; ``record`` holds, per environment and step ([B, length,
      ...]), ``obs`` (the observation *before* the step's action), ``label``, ``executed``, and ``reward``,
      ``success``, ``done`` *after* it, exactly what a Python loop of ``expert`` + ``step`` records.
      ``length`` is static (one compilation per value).
    - ``restart(models, states, keys, mask) -> states``: environments where ``mask`` is true are reset
      with their ``keys``; the others are returned unchanged.
    """

    env: Env
    randomized: bool
    reset: Callable[[Any, jax.Array], State]
    step: Callable[[Any, State, jax.Array], State]
    expert: Callable[[State, jax.Array], tuple[jax.Array, jax.Array]]
    expert_steps: Callable[[Any, State, jax.Array, int], tuple[State, dict[str, Any]]]
    restart: Callable[[Any, State, jax.Array, jax.Array], State]

    def models(self, keys: jax.Array) -> Any:
        """Models for a batch: one randomised model per key when ``randomized``, else the shared model."""
        if self.randomized:
            return _randomize.randomize_models(self.env, keys)
        return self.env.mjx_model


_CACHE: dict[tuple, BatchedEnv] = {}


def batched(env: Env, randomized: bool = False) -> BatchedEnv:
    """The batched functions of ``env``, cached per (task class, config, randomized) in this process.

    Two envs with equal configs share one ``BatchedEnv`` (whose ``env`` is the first of them), so jax
    traces and compiles once per batch size however often a task is loaded (tracing MJX alone takes
    10-20 s here).
    """
    key = (type(env), env.config, randomized)
    if key not in _CACHE:
        _CACHE[key] = _make(env, randomized)
    return _CACHE[key]


def _expert_steps(env: Env, length: int, model: Any, state: State, key: jax.Array):
    """``length`` control steps of one environment driven by its scripted expert (a ``lax.scan``)."""

    def body(s: State, _):
        label, executed = env.expert(s, key)
        nxt = env.step_with(model, s, executed)
        rec = {"obs": s.obs, "label": label, "executed": executed, "reward": nxt.reward,
               "success": nxt.success, "done": nxt.done}
        if env.expert_strategies:
            rec["strategy"] = s.info["strategy"]
        return nxt, rec

    return jax.lax.scan(body, state, None, length=length)


def _make(env: Env, randomized: bool) -> BatchedEnv:
    axes = _randomize.model_axes(env) if randomized else None
    reset = jax.vmap(env.reset_with, in_axes=(axes, 0))

    def expert_steps(models, states, keys, length):
        one = functools.partial(_expert_steps, env, length)
        return jax.vmap(one, in_axes=(axes, 0, 0))(models, states, keys)

    def restart(models, states, keys, mask):
        fresh = reset(models, keys)
        return jax.tree.map(lambda a, b: jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b),
                            fresh, states)

    return BatchedEnv(
        env=env,
        randomized=randomized,
        reset=jax.jit(reset),
        step=jax.jit(jax.vmap(env.step_with, in_axes=(axes, 0, 0))),
        expert=jax.jit(jax.vmap(env.expert)),
        expert_steps=jax.jit(expert_steps, static_argnums=3),
        restart=jax.jit(restart),
    )


@jax.jit
def _keys_at(seed, indices):
    base = jax.random.key(seed)
    ek = jax.vmap(lambda i: jax.random.fold_in(base, i))(indices)
    sub = jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(jnp.arange(3, dtype=jnp.uint32)))(ek)
    return sub[:, 0], sub[:, 1], sub[:, 2]


def episode_keys(seed: int, start: int, n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(reset, policy, model) keys of episodes ``start .. start+n-1`` of a run seeded ``seed``.

    Episode ``i``'s keys are ``fold_in(fold_in(key(seed), i), j)`` for j = 0, 1, 2, so any episode can be
    replayed from (seed, index) alone, whatever the batch size was.
    """
    return episode_keys_at(seed, np.arange(start, start + n, dtype=np.int64))


def episode_keys_at(seed: int, indices: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """:func:`episode_keys` of arbitrary episode indices (an int array): the same keys per index."""
    return _keys_at(jnp.uint32(seed), jnp.asarray(np.asarray(indices) % 2**32, jnp.uint32))
