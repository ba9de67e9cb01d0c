"""Domain randomisation: a batch of ``mjx.Model`` s made by ``vmap`` over a task's model fields.

A task implements ``randomize_model(model, rng) -> model`` for one environment and lists the fields it
changes in ``randomized_fields``. :func:`randomize_models` vmaps it over keys; only the listed fields get a
batch axis (:func:`model_axes`), so every other field stays shared and the batched step vmaps over
``(model, state, action)`` with those ``in_axes``. Only jax-array fields may change (friction, mass, sizes,
colours): numpy fields of ``mjx.Model`` are static and changing them recompiles.

Design after MuJoCo Playground's ``randomize`` functions (e.g. ``mujoco_playground/_src/manipulation/
franka_emika_panda/randomize_vision.py``), which return the batched model and its ``in_axes``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

from jaxrobot.sim.env import Env


def model_axes(env: Env) -> Any:
    """``in_axes`` tree for a randomised model batch: 0 on ``env.randomized_fields``, None elsewhere."""
    fields = getattr(env, "randomized_fields", ())
    if not fields:
        raise NotImplementedError(f"{type(env).__name__} defines no randomized_fields")
    axes = jax.tree.map(lambda _: None, env.mjx_model)
    return axes.tree_replace({name: 0 for name in fields})


@functools.lru_cache(maxsize=8)
def _batched_randomizer(env: Env):
    axes = model_axes(env)
    return jax.jit(jax.vmap(env.randomize_model, in_axes=(None, 0), out_axes=axes))


def randomize_models(env: Env, keys: jax.Array) -> Any:
    """One randomised model per key (batched along ``model_axes(env)``), deterministic given the keys."""
    return _batched_randomizer(env)(env.mjx_model, keys)
