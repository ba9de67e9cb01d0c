"""Behavioural-cloning baseline: an MLP over the state history (plus a small CNN per camera).

Predicts the whole normalised action chunk in one shot and trains with a masked MSE; the simplest
policy that shares the interface of ACT and Diffusion Policy, so it doubles as the trainer's test model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrobot.config import Config, require
from jaxrobot.models.export_plan import ExportPlan, chunk_policy_plan
from jaxrobot.models.policy_batch import camera_keys, check_action_shape, masked_action_mean, model_inputs


@dataclasses.dataclass(frozen=True)
class BCConfig(Config):
    """Fields:
      action_dim, horizon: size of the predicted chunk (must match the data's ``action``).
      hidden: MLP widths.
      cnn_features: channels of the per-camera CNN (used only when the batch has images).
      dropout: dropout rate in the MLP during training.
    """

    kind: ClassVar[str] = "bc"
    action_dim: int = 4
    horizon: int = 4
    hidden: tuple[int, ...] = (256, 256)
    cnn_features: tuple[int, ...] = (16, 32)
    dropout: float = 0.0

    def check(self) -> None:
        require(self.action_dim >= 1, "action_dim", "must be >= 1")
        require(self.horizon >= 1, "horizon", "must be >= 1")
        require(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), "hidden", "need widths >= 1")
        require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")


class ImageEncoder(nn.Module):
    features: tuple[int, ...]

    @nn.compact
    def __call__(self, img: jax.Array) -> jax.Array:
        x = img.astype(jnp.float32) / 255.0
        for f in self.features:
            x = nn.relu(nn.Conv(f, (3, 3), strides=(2, 2))(x))
        return jnp.mean(x, axis=(-3, -2))


class BCNet(nn.Module):
    cfg: BCConfig

    @nn.compact
    def __call__(self, obs: dict[str, jax.Array], train: bool = False) -> jax.Array:
        b = obs["observation/state"].shape[0]
        parts = [obs["observation/state"].reshape(b, -1)]
        for key in camera_keys(obs):
            img = obs[key]  # [B, T, H, W, 3]
            feats = ImageEncoder(self.cfg.cnn_features, name=f"encoder_{key.split('/')[-1]}")(
                img.reshape(-1, *img.shape[-3:]))
            parts.append(feats.reshape(b, -1))
        x = jnp.concatenate(parts, axis=-1)
        for i, h in enumerate(self.cfg.hidden):
            x = nn.relu(nn.Dense(h, name=f"mlp_{i}")(x))
            x = nn.Dropout(self.cfg.dropout, deterministic=not train)(x)
        out = nn.Dense(self.cfg.horizon * self.cfg.action_dim, name="head")(x)
        return out.reshape(b, self.cfg.horizon, self.cfg.action_dim)


class BCModel:
    """The BC policy behind the trainer's model protocol (see ``models/base.py``)."""

    def __init__(self, config: BCConfig):
        self.config = config
        self.net = BCNet(config)

    def init(self, rng: jax.Array, batch: dict[str, jax.Array]):
        check_action_shape(batch, "horizon", self.config.horizon, self.config.action_dim)
        return self.net.init({"params": rng}, model_inputs(batch))

    def loss(self, params, batch, rng):
        pred = self.net.apply(params, model_inputs(batch), train=True, rngs={"dropout": rng})
        loss = masked_action_mean(jnp.square(pred - batch["action"].astype(pred.dtype)), batch["action_pad_mask"])
        return loss, {"mse": loss}

    def predict(self, params, observation, rng=None):
        return self.net.apply(params, model_inputs(observation), train=False)

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """One ``policy(observation arrays) -> normalised chunk`` graph (see :func:`chunk_policy_plan`)."""
        return chunk_policy_plan(self, params, meta, example_batch)
