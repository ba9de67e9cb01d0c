"""Spatial soft-argmax keypoints (Levine, Finn et al. 2016), as robomimic / Diffusion Policy use it.

A 1x1 convolution maps the feature map to K channels; a softmax over each channel's h*w positions gives
the expected (x, y) in [-1, 1] image coordinates (x along the width). Output ``[N, K, 2]``, flattened by
callers to ``[N, 2K]`` in (x0, y0, x1, y1, ...) order like LeRobot's ``SpatialSoftmax``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.nn.initializers import torch_default


def keypoint_grid(h: int, w: int) -> np.ndarray:
    """[h*w, 2] (x, y) coordinates, row-major over (h, w), each axis linspace(-1, 1)."""
    x, y = np.meshgrid(np.linspace(-1.0, 1.0, w), np.linspace(-1.0, 1.0, h))
    return np.stack([x.reshape(-1), y.reshape(-1)], axis=1).astype(np.float32)


class SpatialSoftmax(nn.Module):
    """Feature map [N, h, w, C] → keypoints [N, K, 2] (K = C when ``num_keypoints`` is None)."""

    num_keypoints: int | None = 32

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        if self.num_keypoints is not None:
            # The reference's 1x1 conv, with torch's default init.
            features = nn.Dense(self.num_keypoints, kernel_init=torch_default, name="nets")(features)
        n, h, w, k = features.shape
        logits = jnp.transpose(features.reshape(n, h * w, k), (0, 2, 1))  # [N, K, h*w]
        attention = jax.nn.softmax(logits, axis=-1)
        grid = jnp.asarray(keypoint_grid(h, w), attention.dtype)
        return jnp.einsum("nkp,pc->nkc", attention, grid)
