"""Compiled, batched env functions shared by demo generation, evaluation, tests and benchmarks.

Compiling ``jit(vmap(step))`` for the gripper scene takes 12-60 s on this CPU, so each (env, randomised)
pair is compiled once per process and reused (:func:`batched`), and the persistent compilation cache
(``jaxrobot.platform.configure``) makes the next process start in seconds. The per-call batch should stay
<= 512 on CPU (throughput saturates by 64-512 worlds; see shared/FACTS.md): callers loop over chunks.

The episode loop is a Python loop over control steps calling the jitted batched ``step``, with the policy
called in between. One compiled physics function then serves both a jitted expert and a host-side
(stateful, chunked) policy; the per-call overhead is small against ``n_substeps`` physics steps x batch.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxrobot.sim import randomize as _randomize
from jaxrobot.sim.env import Env, State


@dataclasses.dataclass(frozen=True, eq=False)
class BatchedEnv:
    """``reset(models, keys)``, ``step(models, states, actions)``, ``expert(states, keys)``, all jitted.

    ``models`` is ``env.mjx_model`` (shared) or a batch from :meth:`models` when ``randomized``.
    """

    env: Env
    randomized: bool
    reset: Callable[[Any, jax.Array], State]
    step: Callable[[Any, State, jax.Array], State]
    expert: Callable[[State, jax.Array], tuple[jax.Array, jax.Array]]

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


def _make(env: Env, randomized: bool) -> BatchedEnv:
    axes = _randomize.model_axes(env) if randomized else None
    return BatchedEnv(
        env=env,
        randomized=randomized,
        reset=jax.jit(jax.vmap(env.reset_with, in_axes=(axes, 0))),
        step=jax.jit(jax.vmap(env.step_with, in_axes=(axes, 0, 0))),
        expert=jax.jit(jax.vmap(env.expert)),
    )


@functools.partial(jax.jit, static_argnums=(2,))
def _episode_keys(seed, start, n):
    base = jax.random.key(seed)
    ek = jax.vmap(lambda i: jax.random.fold_in(base, i))(start + jnp.arange(n, dtype=jnp.uint32))
    sub = jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(jnp.arange(3, dtype=jnp.uint32)))(ek)
    return sub[:, 0], sub[:, 1], sub[:, 2]


def episode_keys(seed: int, start: int, n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(reset, policy, model) keys of episodes ``start .. start+n-1`` of a run seeded ``seed``.

    Episode ``i``'s keys are ``fold_in(fold_in(key(seed), i), j)`` for j = 0, 1, 2, so any episode can be
    replayed from (seed, index) alone, whatever the batch size was.
    """
    return _episode_keys(jnp.uint32(seed), jnp.uint32(start), n)
