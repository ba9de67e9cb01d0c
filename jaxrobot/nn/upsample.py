"""2x spatial upsampling of feature maps ``[B, H, W, C]``, written with ops every exporter converts.

``jax.image.resize`` fails with a symbolic batch dimension in jax2onnx 0.17.1, so the bilinear form is spelled
out with slices, stacks and a reshape whose batch dimension is -1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _upsample_axis(x: jax.Array, axis: int) -> jax.Array:
    """2× bilinear upsampling along one axis (half-pixel centres, edge clamp) = jax.image.resize."""
    n = x.shape[axis]
    first = jax.lax.slice_in_dim(x, 0, 1, axis=axis)
    last = jax.lax.slice_in_dim(x, n - 1, n, axis=axis)
    prev = jnp.concatenate([first, jax.lax.slice_in_dim(x, 0, n - 1, axis=axis)], axis)
    nxt = jnp.concatenate([jax.lax.slice_in_dim(x, 1, n, axis=axis), last], axis)
    y = jnp.stack([0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt], axis + 1)
    shape = list(x.shape)
    shape[axis] = 2 * n
    shape[0] = -1  # symbolic batch under export
    return y.reshape(shape)


def upsample2x(x: jax.Array) -> jax.Array:
    """[B, H, W, C] → [B, 2H, 2W, C], bilinear (half-pixel centres, edges clamped): ``jax.image.resize``'s
    "bilinear" at exactly twice the size."""
    return _upsample_axis(_upsample_axis(x, 1), 2)


def upsample2x_nearest(x: jax.Array) -> jax.Array:
    """[B, H, W, C] → [B, 2H, 2W, C], each value repeated into a 2x2 block (nearest neighbour)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
