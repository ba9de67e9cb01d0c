"""Deep visual servoing: a CNN maps (current image, goal image) to the camera twist that reduces their
difference, trained by regression on velocity labels.

Labels come from simulation: the IBVS law on known features and depths
(:func:`jaxrobot.vision.ibvs.ibvs_velocity`) or a pose-based law on the known relative pose; at run
time the network needs neither features nor depth. The design is early fusion (current, goal and
their difference stacked as channels), as in Saxena et al., "Exploring convolutional networks for
end-to-end visual servoing" (ICRA 2017) and Bateux et al. (ICRA 2018), which regress relative motion
from a stacked image pair.

Batch layout (kind ``servo``):
  ``observation/image``       uint8 [B, H, W, C]  current camera image.
  ``observation/goal_image``  uint8 [B, H, W, C]  image at the goal pose (same camera).
  ``servo/twist``             float32 [B, 6]      label: camera twist (vx, vy, vz, ωx, ωy, ωz) in the
                                                 camera frame (OpenCV axes), m/s and rad/s.
``predict`` returns the twist [B, 6] in physical units (the network itself regresses
``twist / twist_scale``). Exportable: strided convs and a flatten, no pooling means.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrobot.config import Config, ConfigError, require
from jaxrobot.models.export_plan import ExportFunction, ExportPlan, as_obs, observation_inputs, observation_specs


@dataclasses.dataclass(frozen=True)
class ServoConfig(Config):
    """Fields:
      conv_features: channels of the stride-2 3×3 convs (each halves H and W).
      hidden: widths of the MLP after flattening.
      twist_scale: per-component scale of the labels (6 numbers); the network regresses twist / scale,
        so set it to the labels' standard deviation to balance the six losses.
      loss: ``mse`` or ``huber`` (δ = 1 in scaled units).
      dropout: dropout rate in the MLP during training.
    """

    kind: ClassVar[str] = "servo"
    conv_features: tuple[int, ...] = (16, 32, 64)
    hidden: tuple[int, ...] = (128,)
    twist_scale: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    loss: Literal["mse", "huber"] = "mse"
    dropout: float = 0.0

    def check(self) -> None:
        require(len(self.conv_features) >= 1 and all(f >= 1 for f in self.conv_features), "conv_features",
                "need widths >= 1")
        require(all(h >= 1 for h in self.hidden), "hidden", "need widths >= 1")
        require(len(self.twist_scale) == 6 and all(s > 0 for s in self.twist_scale), "twist_scale",
                "need 6 positive numbers")
        require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")


class ServoNet(nn.Module):
    """(current, goal) uint8 images [B, H, W, C] → scaled twist [B, 6]."""

    cfg: ServoConfig

    @nn.compact
    def __call__(self, image: jax.Array, goal: jax.Array, train: bool = False) -> jax.Array:
        cur = image.astype(jnp.float32) / 255.0
        tgt = goal.astype(jnp.float32) / 255.0
        x = jnp.concatenate([cur, tgt, cur - tgt], axis=-1)
        for i, f in enumerate(self.cfg.conv_features):
            x = nn.relu(nn.Conv(f, (3, 3), strides=(2, 2), name=f"conv{i + 1}")(x))
        x = x.reshape(-1, x.shape[1] * x.shape[2] * x.shape[3])
        for i, h in enumerate(self.cfg.hidden):
            x = nn.relu(nn.Dense(h, name=f"mlp{i + 1}")(x))
            x = nn.Dropout(self.cfg.dropout, deterministic=not train)(x)
        return nn.Dense(6, name="twist")(x)


class ServoModel:
    """Deep visual servoing behind the model protocol (batch layout in the module docstring)."""

    def __init__(self, config: ServoConfig):
        self.config = config
        self.net = ServoNet(config)
        self.scale = jnp.asarray(config.twist_scale, jnp.float32)

    def init(self, rng, batch):
        img, goal = batch.get("observation/image"), batch.get("observation/goal_image")
        if img is None or goal is None or img.shape != goal.shape or img.ndim != 4:
            raise ConfigError("config field 'model': servo needs 'observation/image' and "
                              "'observation/goal_image' of equal shape [B, H, W, C]")
        return self.net.init({"params": rng}, img, goal)

    def loss(self, params, batch, rng):
        pred = self.net.apply(params, batch["observation/image"], batch["observation/goal_image"], train=True,
                              rngs={"dropout": rng})
        target = batch["servo/twist"].astype(jnp.float32) / self.scale
        if self.config.loss == "mse":
            err = jnp.square(pred - target)
        else:
            err = optax.huber_loss(pred, target, delta=1.0)
        loss = jnp.mean(err)
        return loss, {"loss": loss, "twist_rmse": jnp.sqrt(jnp.mean(jnp.square((pred - target) * self.scale)))}

    def predict(self, params, observation, rng=None):
        """Camera twist [B, 6] in m/s and rad/s."""
        pred = self.net.apply(params, observation["observation/image"], observation["observation/goal_image"])
        return pred * self.scale

    def export_plan(self, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
        """Deep visual servo: ``servo(image, goal_image) -> twist [B, 6], twist_normalized [B, 6]``.

        ``twist`` is in m/s and rad/s (camera frame, OpenCV axes); ``twist_normalized`` (= twist /
        twist_scale, the network's regression target, O(1)) is the output the parity tolerances are meant
        for: the physical twist is a few cm/s, where an absolute tolerance says little.
        """
        specs = observation_specs(example_batch)
        scale = np.asarray(self.config.twist_scale, np.float32)

        def servo(*obs):
            o = as_obs(specs, obs)
            normalized = self.net.apply(params, o["observation/image"], o["observation/goal_image"])
            return normalized * scale, normalized

        def sample(batch, rng):
            return {"servo": observation_inputs(batch, specs)}

        runtime = {"kind": "servo", "twist_scale": [float(s) for s in self.config.twist_scale],
                   "twist": "camera twist (vx, vy, vz, wx, wy, wz), camera frame with OpenCV axes, m/s and rad/s"}
        return ExportPlan([ExportFunction("servo", servo, specs, ("twist", "twist_normalized"))], runtime, sample)
