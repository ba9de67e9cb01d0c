"""Shared batches and configs for the model tests (plain functions: importable from any test module)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.data.sources.synthetic import SyntheticDataConfig, SyntheticSource
from jaxrobot.models.act import ACTConfig, small_act_config
from jaxrobot.models.diffusion import DiffusionConfig, small_diffusion_config


def default_act_config(**overrides) -> ACTConfig:
    return ACTConfig(**{"action_dim": 14, "chunk_size": 100, "n_action_steps": 100, **overrides})


def act_batch(
    image: bool = True,
    state_dim: int = 14,
    action_dim: int = 14,
    chunk: int = 100,
    image_hw: tuple[int, int] = (480, 640),
):
    """Abstract batch of one (ShapeDtypeStructs) shaped like ALOHA: for jax.eval_shape only."""
    s = jax.ShapeDtypeStruct
    batch = {
        "observation/state": s((1, 1, state_dim), jnp.float32),
        "observation/pad_mask": s((1, 1), jnp.bool_),
        "action": s((1, chunk, action_dim), jnp.float32),
        "action_pad_mask": s((1, chunk), jnp.bool_),
    }
    if image:
        batch["observation/image_top"] = s((1, 1, *image_hw, 3), jnp.uint8)
    return batch


def pusht_batch(state_dim: int = 2, action_dim: int = 2):
    """Abstract PushT-shaped batch: 2 observation frames of state and a 96x96 camera, horizon 16."""
    s = jax.ShapeDtypeStruct
    return {
        "observation/state": s((1, 2, state_dim), jnp.float32),
        "observation/image_main": s((1, 2, 96, 96, 3), jnp.uint8),
        "observation/pad_mask": s((1, 2), jnp.bool_),
        "action": s((1, 16, action_dim), jnp.float32),
        "action_pad_mask": s((1, 16), jnp.bool_),
    }


def synthetic_batch(
    n_obs_steps: int,
    horizon: int,
    image_size: int = 48,
    batch_size: int = 8,
    state_dim: int = 8,
    action_dim: int = 4,
) -> dict[str, jax.Array]:
    """A real, deterministic batch from the synthetic source (episodes of 12 steps, so some padding)."""
    cfg = SyntheticDataConfig(
        num_episodes=8,
        episode_length=12,
        state_dim=state_dim,
        action_dim=action_dim,
        n_obs_steps=n_obs_steps,
        horizon=horizon,
        image_size=image_size,
    )
    src = SyntheticSource(cfg, global_batch_size=batch_size, seed=0)
    idx = np.arange(batch_size) * 11 + 3  # fixed, spans episode ends (padding) and starts
    return {k: jnp.asarray(v) for k, v in src.batch_for(idx % (8 * 12)).items()}


def small_act(**overrides) -> ACTConfig:
    return small_act_config(**overrides)


def small_dp(**overrides) -> DiffusionConfig:
    return small_diffusion_config(**overrides)


def count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))
