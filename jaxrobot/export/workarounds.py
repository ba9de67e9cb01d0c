"""Work-arounds for jax2onnx 0.17.1 bugs, applied only while a function is traced for ONNX.

Each patch is exact at inference, so the graph computes what ``jax.jit`` computes (the parity check
proves it on every export):

- ``jax.lax.stop_gradient`` on a constant (frozen BatchNorm statistics once the params are closed over, as
  in ACT's ResNet backbone) is emitted with a dangling input ``stop_out_0`` that ONNX Runtime rejects; at
  inference ``stop_gradient`` is the identity, so it is traced as one.
- ``flax.linen.max_pool`` with explicit padding pairs (ResNet's stem: 3x3, stride 2, padding 1) loses its
  padding (an 8x8 output becomes 7x7); the input is padded with the dtype's lowest value first and pooled
  with ``VALID`` padding, which is the definition of max pooling with padding.
- ``flax.linen.ConvTranspose`` with explicit padding pairs (Diffusion Policy's UNet upsampler,
  ``padding=[(2, 2)]``) fails: jax2onnx binds Flax's canonical padding, a list, as an equation parameter,
  which JAX >= 0.7 requires to be hashable; the canonical padding is returned as a tuple instead.

Known bugs avoided elsewhere (see /work/shared/FACTS.md): a ``fori_loop`` body capturing traced values
(models carry them), ``nn.max_pool`` with a positional window (models pass ``window_shape=``),
``jnp.mean`` at opset 17, fp16 Linen convs (graphs are exported in fp32).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def _padded_max_pool(original):
    def max_pool(inputs, window_shape, strides=None, padding="VALID"):
        import jax.numpy as jnp

        if isinstance(padding, str) or not any(lo or hi for lo, hi in padding):
            return original(inputs, window_shape=window_shape, strides=strides, padding=padding)
        lead = inputs.ndim - len(window_shape) - 1
        pads = [(0, 0)] * lead + [tuple(p) for p in padding] + [(0, 0)]
        low = jnp.finfo(inputs.dtype).min if jnp.issubdtype(inputs.dtype, jnp.floating) else jnp.iinfo(inputs.dtype).min
        x = jnp.pad(inputs, pads, constant_values=low)
        return original(x, window_shape=window_shape, strides=strides, padding="VALID")

    return max_pool


def _hashable_padding(original):
    def canonicalize_padding(padding, rank):
        out = original(padding, rank)
        return tuple(tuple(int(v) for v in p) for p in out) if isinstance(out, list) else out

    return canonicalize_padding


def for_jax2onnx(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the patches applied while it is traced.

    The patches are installed inside the call, i.e. after jax2onnx has installed its own ``flax.linen``
    patches for the conversion (its ``max_pool`` accepts only string padding), so ours wrap theirs.
    """
    import flax.linen as nn
    import jax
    from flax.linen import linear

    @functools.wraps(fn)
    def traced(*args):
        saved = [(jax.lax, "stop_gradient", jax.lax.stop_gradient), (nn, "max_pool", nn.max_pool),
                 (linear, "canonicalize_padding", linear.canonicalize_padding)]
        jax.lax.stop_gradient = lambda x: x
        nn.max_pool = _padded_max_pool(nn.max_pool)
        linear.canonicalize_padding = _hashable_padding(linear.canonicalize_padding)
        try:
            return fn(*args)
        finally:
            for module, name, value in saved:
                setattr(module, name, value)

    return traced
