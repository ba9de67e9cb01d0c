"""Normalisation layers: frozen BatchNorm, an exportable GroupNorm, and the by-name choice backbones use.

- :class:`FrozenBatchNorm`: BatchNorm with fixed statistics *and* affine terms, as torchvision's
  ``FrozenBatchNorm2d`` that ACT uses (LeRobot ``policies/act/modeling_act.py``). All four tensors live in the
  ``"frozen"`` variables collection, so they are not trainable parameters (LeRobot counts them as buffers). A
  model's ``loss`` passes its variables through :func:`stop_gradient_frozen` so their gradients are exactly
  zero (not inside the layer: jax2onnx 0.17.1 emits a dangling node for a ``stop_gradient`` of a constant,
  which breaks export of ``predict``).
- :class:`GroupNorm`: group normalisation over ``[B, H, W, C]`` computed with sums / counts, because
  ``flax.linen.GroupNorm`` calls ``jnp.mean``, which breaks the ONNX graph at opset 17 (see shared/FACTS.md
  "Export"). Used where a model must export through every opset (the grasp networks).
- :func:`make_norm`: ``"frozen_bn"`` or ``"group_norm"`` (Flax's GroupNorm with :func:`group_count` groups,
  as Diffusion Policy's ``use_group_norm``): the normalisation a backbone config names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp

NormName = Literal["frozen_bn", "group_norm"]
NORMS: tuple[str, ...] = ("frozen_bn", "group_norm")


class FrozenBatchNorm(nn.Module):
    """``y = (x - mean) / sqrt(var + eps) * scale + bias``, all four tensors fixed (collection "frozen")."""

    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        scale = self.variable("frozen", "scale", lambda: jnp.ones((c,), jnp.float32)).value
        bias = self.variable("frozen", "bias", lambda: jnp.zeros((c,), jnp.float32)).value
        mean = self.variable("frozen", "mean", lambda: jnp.zeros((c,), jnp.float32)).value
        var = self.variable("frozen", "var", lambda: jnp.ones((c,), jnp.float32)).value
        mul = scale * jax.lax.rsqrt(var + self.epsilon)
        return x * mul.astype(x.dtype) + (bias - mean * mul).astype(x.dtype)


def stop_gradient_frozen(variables):
    """``variables`` with every non-"params" collection (frozen statistics) behind ``stop_gradient``."""
    if not isinstance(variables, dict):
        return variables
    return {k: (v if k == "params" else jax.lax.stop_gradient(v)) for k, v in variables.items()}


class GroupNorm(nn.Module):
    """Group normalisation of ``[B, H, W, C]`` with sum/count statistics (exports at every ONNX opset).

    Parameters ``scale`` and ``bias`` [C], as ``flax.linen.GroupNorm``; ``groups`` must divide C.
    """

    groups: int
    eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        g = x.reshape(-1, h, w, self.groups, c // self.groups)
        n = h * w * (c // self.groups)
        mean = jnp.sum(g, axis=(1, 2, 4), keepdims=True) / n
        var = jnp.sum(jnp.square(g - mean), axis=(1, 2, 4), keepdims=True) / n
        g = (g - mean) * jax.lax.rsqrt(var + self.eps)
        x = g.reshape(-1, h, w, c)
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        return x * scale + bias


def group_count(channels: int) -> int:
    """Groups for GroupNorm: ``C // 16`` as Diffusion Policy, else the largest divisor of C below that."""
    target = max(1, channels // 16)
    for g in range(target, 0, -1):
        if channels % g == 0:
            return g
    return 1


def make_norm(norm: str, epsilon: float = 1e-5) -> Callable[..., nn.Module]:
    """Factory ``f(channels, name=...) -> module`` for the normalisation named ``norm`` (one of :data:`NORMS`)."""
    if norm == "frozen_bn":
        return lambda channels, name: FrozenBatchNorm(epsilon=epsilon, name=name)
    if norm == "group_norm":
        return lambda channels, name: nn.GroupNorm(num_groups=group_count(channels), epsilon=1e-5, name=name)
    raise ValueError(f"unknown backbone norm {norm!r}; known: {NORMS}")
