"""The batch layout the action-chunk policies (BC, ACT, Diffusion Policy) share, read in one place.

A policy batch holds ``observation/*`` arrays ``[B, n_obs_steps, ...]`` (``observation/state``, cameras
``observation/image_<name>`` as uint8 ``[B, T, H, W, 3]``, and ``observation/pad_mask``), the action chunk
``action`` [B, horizon, A] and ``action_pad_mask`` [B, horizon] (False past an episode's end); see
``jaxrobot/data/windows.py``. ACT and Diffusion Policy also read an optional ``observation/environment_state``
[B, n_obs_steps, E] (LeRobot's ``observation.environment_state``, e.g. object poses; not normalised).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrobot.config import ConfigError

ENV_STATE_KEY = "observation/environment_state"


def model_inputs(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The network's inputs: every ``observation/*`` array except the pad mask."""
    return {k: v for k, v in batch.items() if k.startswith("observation/") and k != "observation/pad_mask"}


def camera_keys(obs: dict[str, jax.Array]) -> list[str]:
    """The camera keys (``observation/image_*``), sorted, so parameters and outputs do not depend on dict order."""
    return sorted(k for k in obs if k.startswith("observation/image_"))


def check_action_shape(batch: dict[str, jax.Array], length_field: str, length: int, action_dim: int) -> None:
    """Raise ``ConfigError`` naming ``model.<length_field>`` / ``model.action_dim`` unless the batch's action
    chunk is ``[B, length, action_dim]``."""
    shape = tuple(batch["action"].shape[1:])
    if shape != (length, action_dim):
        raise ConfigError(
            f"config field 'model.{length_field}'/'model.action_dim': the model predicts "
            f"{(length, action_dim)} but the data's action chunk is {shape}"
        )


def masked_action_mean(err: jax.Array, action_pad_mask: jax.Array) -> jax.Array:
    """Mean of a per-element loss ``err`` [B, T, A] over the valid (unpadded) steps of ``action_pad_mask`` [B, T].

    (LeRobot divides the masked sum by all elements instead.)
    """
    mask = action_pad_mask.astype(err.dtype)[..., None]
    return (err * mask).sum() / jnp.maximum(mask.sum() * err.shape[-1], 1.0)
