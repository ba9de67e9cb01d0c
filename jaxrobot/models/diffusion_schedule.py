"""DDPM noise schedules and the DDPM / DDIM update rules, as pure functions.

Semantics follow ``diffusers`` 0.3x's ``DDPMScheduler`` / ``DDIMScheduler`` as LeRobot 0.4.4's Diffusion
Policy configures them (``policies/diffusion/modeling_diffusion.py``): betas ``squaredcos_cap_v2``
(Nichol & Dhariwal 2021, max beta 0.999) or ``linear``; epsilon (or sample) prediction; the predicted
clean sample clipped to ``[-clip_range, clip_range]``; DDIM with eta = 0, "leading" timestep spacing and
``set_alpha_to_one`` (the step past t = 0 uses alpha-bar = 1); DDPM with the "fixed_small" variance.
The schedule is a numpy array built once on the host; the steps are jittable.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def cosine_alpha_bar(t: np.ndarray | float) -> np.ndarray:
    """The continuous squaredcos_cap_v2 signal level: cos((t + 0.008) / 1.008 * pi / 2)^2, t in [0, 1]."""
    return np.cos((np.asarray(t, np.float64) + 0.008) / 1.008 * math.pi / 2) ** 2


def make_betas(
    num_train_timesteps: int,
    beta_schedule: str = "squaredcos_cap_v2",
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
) -> np.ndarray:
    """float64 betas [T]."""
    n = num_train_timesteps
    if beta_schedule == "squaredcos_cap_v2":
        i = np.arange(n, dtype=np.float64)
        return np.minimum(1.0 - cosine_alpha_bar((i + 1) / n) / cosine_alpha_bar(i / n), 0.999)
    if beta_schedule == "linear":
        return np.linspace(beta_start, beta_end, n, dtype=np.float64)
    raise ValueError(f"unknown beta_schedule {beta_schedule!r}; known: squaredcos_cap_v2, linear")


def make_alphas_cumprod(
    num_train_timesteps: int,
    beta_schedule: str = "squaredcos_cap_v2",
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
) -> np.ndarray:
    """alpha-bar_t = prod_{s <= t} (1 - beta_s), float32 [T] (diffusers keeps it in float32 too)."""
    betas = make_betas(num_train_timesteps, beta_schedule, beta_start, beta_end).astype(np.float32)
    return np.cumprod(1.0 - betas, dtype=np.float32)


def add_noise(alphas_cumprod: jax.Array, x0: jax.Array, noise: jax.Array, t: jax.Array) -> jax.Array:
    """Forward process q(x_t | x_0): sqrt(a_t) x0 + sqrt(1 - a_t) noise; ``t`` [B] int, x [B, ...]."""
    a = jnp.asarray(alphas_cumprod)[t].reshape(-1, *([1] * (x0.ndim - 1))).astype(x0.dtype)
    return jnp.sqrt(a) * x0 + jnp.sqrt(1.0 - a) * noise


def inference_timesteps(num_train_timesteps: int, num_inference_steps: int) -> np.ndarray:
    """diffusers' "leading" spacing: (arange(n) * (T // n))[::-1], e.g. 90, 80, ..., 0 for T=100, n=10."""
    if not 1 <= num_inference_steps <= num_train_timesteps:
        raise ValueError(f"num_inference_steps {num_inference_steps} must be in [1, {num_train_timesteps}]")
    ratio = num_train_timesteps // num_inference_steps
    return (np.arange(num_inference_steps) * ratio)[::-1].astype(np.int32)


def _alpha_at(alphas_cumprod, t):
    """alpha-bar at ``t`` with alpha-bar = 1 for t < 0 (``set_alpha_to_one`` / DDPM's "one")."""
    ac = jnp.asarray(alphas_cumprod)
    return jnp.where(t >= 0, ac[jnp.maximum(t, 0)], 1.0)


def predicted_x0(model_output, sample, alpha_t, prediction_type: str):
    if prediction_type == "epsilon":
        return (sample - jnp.sqrt(1.0 - alpha_t) * model_output) / jnp.sqrt(alpha_t)
    if prediction_type == "sample":
        return model_output
    raise ValueError(f"unknown prediction_type {prediction_type!r}; known: epsilon, sample")


def _step_terms(alphas_cumprod, model_output, t, prev_t, sample, prediction_type: str):
    """(alpha-bar at t, alpha-bar at prev_t, the predicted clean sample before clipping): what both samplers need."""
    a_t = _alpha_at(alphas_cumprod, t).astype(sample.dtype)
    a_prev = _alpha_at(alphas_cumprod, prev_t).astype(sample.dtype)
    return a_t, a_prev, predicted_x0(model_output, sample, a_t, prediction_type)


def ddim_step(
    alphas_cumprod,
    model_output: jax.Array,
    t: jax.Array,
    prev_t: jax.Array,
    sample: jax.Array,
    *,
    prediction_type: str = "epsilon",
    clip_sample: bool = True,
    clip_range: float = 1.0,
) -> jax.Array:
    """One deterministic DDIM update (eta = 0) from timestep ``t`` to ``prev_t`` (scalars; prev_t < 0 = end).

    x0 = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), clipped; eps is kept as predicted (diffusers'
    ``use_clipped_model_output=False``); x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps.
    """
    a_t, a_prev, x0 = _step_terms(alphas_cumprod, model_output, t, prev_t, sample, prediction_type)
    if prediction_type == "epsilon":
        eps = model_output
    else:
        eps = (sample - jnp.sqrt(a_t) * x0) / jnp.sqrt(1.0 - a_t)
    if clip_sample:
        x0 = jnp.clip(x0, -clip_range, clip_range)
    return jnp.sqrt(a_prev) * x0 + jnp.sqrt(1.0 - a_prev) * eps


def ddpm_step(
    alphas_cumprod,
    model_output: jax.Array,
    t: jax.Array,
    prev_t: jax.Array,
    sample: jax.Array,
    noise: jax.Array,
    *,
    prediction_type: str = "epsilon",
    clip_sample: bool = True,
    clip_range: float = 1.0,
) -> jax.Array:
    """One ancestral DDPM update (posterior mean + "fixed_small" noise, none at the last step)."""
    a_t, a_prev, x0 = _step_terms(alphas_cumprod, model_output, t, prev_t, sample, prediction_type)
    cur_alpha = a_t / a_prev
    cur_beta = 1.0 - cur_alpha
    if clip_sample:
        x0 = jnp.clip(x0, -clip_range, clip_range)
    coef_x0 = jnp.sqrt(a_prev) * cur_beta / (1.0 - a_t)
    coef_xt = jnp.sqrt(cur_alpha) * (1.0 - a_prev) / (1.0 - a_t)
    mean = coef_x0 * x0 + coef_xt * sample
    var = jnp.maximum((1.0 - a_prev) / (1.0 - a_t) * cur_beta, 1e-20)
    return mean + jnp.where(t > 0, jnp.sqrt(var), 0.0) * noise
