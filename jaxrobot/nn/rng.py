"""Cheap-to-compile random keys for parameter init and dropout.

XLA:CPU compiles every threefry draw into its own large fusion: initialising a ResNet-18 from a threefry
key took 79 s to compile here and 7 s from an "rbg" key (XLA's RngBitGenerator); a small ACT's training
step with dropout compiled in 58 s against 15 s. The models therefore re-key the init and dropout streams
with :func:`fast_key`. The values differ from threefry's but are as random; like all "rbg" draws they may
change with the XLA version or the sharding, so reproducibility is per pinned version and mesh.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def fast_key(rng: jax.Array) -> jax.Array:
    """A typed "rbg" key derived from any key (raw uint32[2] or typed)."""
    return jax.random.wrap_key_data(jax.random.bits(rng, (4,), jnp.uint32), impl="rbg")
