"""DART-style noise injection for the scripted experts (Laskey et al. 2017): one config check and one draw.

A task config with an injecting expert has three flat fields (flat so that saved configs and ``--set
expert_noise=...`` stay as they are; each task picks its own defaults):

- ``expert_noise``: standard deviation of the injected target noise (metres; tasks may scale components);
- ``expert_noise_prob``: probability that a noise segment is active;
- ``expert_noise_hold``: control steps a noise sample is held (piecewise constant, so it actually moves the
  gripper or pusher: white noise at the control rate would be filtered out by the actuators).

The task's ``check()`` calls :func:`check_expert_noise`; its ``expert`` calls :func:`noise_segment` and
decides itself where the noise is switched off (e.g. while grasping).
"""

from __future__ import annotations

from typing import Protocol

import jax

from jaxrobot.config import require


class ExpertNoiseFields(Protocol):
    """The three noise fields a task config carries."""

    expert_noise: float
    expert_noise_prob: float
    expert_noise_hold: int


def check_expert_noise(cfg: ExpertNoiseFields) -> None:
    """Validate the noise fields; a ``ConfigError`` names the offending field."""
    require(cfg.expert_noise >= 0, "expert_noise", f"must be >= 0, got {cfg.expert_noise}")
    require(0 <= cfg.expert_noise_prob <= 1, "expert_noise_prob", "must be in [0, 1]")
    require(cfg.expert_noise_hold >= 1, "expert_noise_hold", "must be >= 1")


def noise_segment(cfg: ExpertNoiseFields, step: jax.Array, rng: jax.Array, shape: tuple[int, ...],
                  scale: float | None = None) -> tuple[jax.Array, jax.Array]:
    """(active, sample) of the noise segment holding control step ``step``.

    ``rng`` is the *per-episode* key; the segment index ``step // expert_noise_hold`` is folded into it, so
    every step of a segment gets the same draw. ``active`` is Bernoulli(``expert_noise_prob``); ``sample`` is
    ``normal(shape) * expert_noise`` (or ``* scale``; the caller masks it with ``active`` and its own conditions).
    """
    seg = step // cfg.expert_noise_hold
    k_on, k_n = jax.random.split(jax.random.fold_in(rng, seg))
    on = jax.random.bernoulli(k_on, cfg.expert_noise_prob)
    return on, jax.random.normal(k_n, shape) * (cfg.expert_noise if scale is None else scale)
