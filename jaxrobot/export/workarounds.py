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

One rewrite for speed, also exact up to float rounding: the Diffusion Policy UNet's 1-D convolutions, an
im2col matmul in training (``unet1d.conv1d``; XLA:CPU's own convolution is slow on some of its shapes), are
traced as ``lax.conv_general_dilated``, i.e. one ONNX ``Conv`` node instead of a pad, k slices, a concat and
an Einsum: ONNX Runtime runs a small config's ``denoise_step`` ~20% faster (bench/RESULTS.md, "Performance").

For TFLite (:func:`for_jax2tf`, applied while ``jax2tf`` traces a function): with a symbolic batch
dimension, jax lowers static integer indexing such as ``x[:, -1]`` or ``x[:, 0]`` to a gather whose slice
sizes hold the batch size (``dynamic_gather`` in StableHLO), which TFLiteConverter cannot lower; the
export then falls back to a batch-1 model. Such indices are traced as ``lax.slice`` + ``lax.squeeze``
instead, which is what jax emits for them when every dimension is known.

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


def _native_conv1d(x: Any, kernel: Any, stride: int = 1, padding: int = 0) -> Any:
    """``unet1d.conv1d`` as one ``lax.conv_general_dilated`` (an ONNX ``Conv``) instead of its im2col matmul."""
    import jax

    return jax.lax.conv_general_dilated(x, kernel, (stride,), [(padding, padding)],
                                        dimension_numbers=("NWC", "WIO", "NWC"))


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
        from jaxrobot.nn import unet1d

        saved = [(jax.lax, "stop_gradient", jax.lax.stop_gradient), (nn, "max_pool", nn.max_pool),
                 (linear, "canonicalize_padding", linear.canonicalize_padding), (unet1d, "conv1d", unet1d.conv1d)]
        unet1d.conv1d = _native_conv1d
        jax.lax.stop_gradient = lambda x: x
        nn.max_pool = _padded_max_pool(nn.max_pool)
        linear.canonicalize_padding = _hashable_padding(linear.canonicalize_padding)
        try:
            return fn(*args)
        finally:
            for module, name, value in saved:
                setattr(module, name, value)

    return traced


def _is_static_int(i: Any) -> bool:
    import numpy as np

    return isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_)


def take_by_slicing(arr: Any, idx: Any) -> Any:
    """``arr[idx]`` as ``lax.slice`` + ``lax.squeeze`` when ``arr`` has a symbolic dimension and ``idx`` holds
    only static integers and static forward slices (``:`` on the symbolic dimensions); else ``None``.

    Out-of-range integers, negative steps, ``None`` (new axes), arrays and booleans return ``None`` so the
    caller falls back to jax's own indexing (and its errors).
    """
    from jax import core, lax

    shape = getattr(arr, "shape", None)
    if shape is None or all(core.is_constant_dim(d) for d in shape):
        return None
    items = idx if isinstance(idx, tuple) else (idx,)
    n_ellipsis = sum(i is Ellipsis for i in items)
    n_real = len(items) - n_ellipsis
    if n_ellipsis > 1 or n_real > len(shape):
        return None
    if n_ellipsis:
        pos = next(k for k, i in enumerate(items) if i is Ellipsis)
        items = items[:pos] + (slice(None),) * (len(shape) - n_real) + items[pos + 1:]
    else:
        items = items + (slice(None),) * (len(shape) - n_real)
    starts, limits, strides, squeeze = [], [], [], []
    for axis, (i, d) in enumerate(zip(items, shape, strict=True)):
        if isinstance(i, slice) and i.start is None and i.stop is None and i.step in (None, 1):
            starts.append(0)
            limits.append(d)
            strides.append(1)
        elif not core.is_constant_dim(d):
            return None
        elif _is_static_int(i):
            j = int(i) + d if i < 0 else int(i)
            if not 0 <= j < d:
                return None
            starts.append(j)
            limits.append(j + 1)
            strides.append(1)
            squeeze.append(axis)
        elif isinstance(i, slice) and all(v is None or _is_static_int(v) for v in (i.start, i.stop, i.step)):
            lo, hi, step = i.indices(d)
            if step <= 0 or hi <= lo:
                return None
            starts.append(lo)
            limits.append(hi)
            strides.append(step)
        else:
            return None
    out = lax.slice(arr, starts, limits, strides if any(s != 1 for s in strides) else None)
    return lax.squeeze(out, squeeze) if squeeze else out


def _sliced_take(original):
    def rewriting_take(arr, idx, *args, **kwargs):
        out = take_by_slicing(arr, idx)
        return original(arr, idx, *args, **kwargs) if out is None else out

    return rewriting_take


def for_jax2tf(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with static integer indexing traced as slices while it runs (see the module docstring), so a
    dynamic-batch model lowers to TFLite builtins. Exact: the same elements are selected."""
    from jax._src.numpy import indexing

    @functools.wraps(fn)
    def traced(*args):
        saved = indexing.rewriting_take
        indexing.rewriting_take = _sliced_take(saved)
        try:
            return fn(*args)
        finally:
            indexing.rewriting_take = saved

    return traced
