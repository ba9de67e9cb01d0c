"""In-graph augmentation: DrQ random shift keeps the size, shifts every frame of a sample alike, and covers the
offsets +-pad; crops are checked in tests/models/test_diffusion.py."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.nn.augment import random_shift


def _offsets(images, out, pad):
    """The (dy, dx) in [0, 2 pad] with out[b, t] == edge-padded images[b, t][dy:dy+H, dx:dx+W], per b (and
    asserted equal for every t of b)."""
    b, t, h, w, _ = images.shape
    padded = np.pad(np.asarray(images), ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    found = []
    for i in range(b):
        hits = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                if all(np.array_equal(padded[i, j, dy:dy + h, dx:dx + w], out[i, j]) for j in range(t))]
        assert hits, f"sample {i}: not a shifted copy of its frames"
        found.append(hits[0])
    return found


def test_random_shift_is_a_shared_per_sample_shift():
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.integers(0, 256, (64, 2, 12, 10, 3), dtype=np.uint8))
    out = np.asarray(jax.jit(random_shift, static_argnums=1)(images, 3, jax.random.PRNGKey(1)))
    assert out.shape == images.shape and out.dtype == np.uint8
    offsets = _offsets(np.asarray(images), out, 3)
    dys, dxs = zip(*offsets, strict=True)
    assert set(dys) == set(range(7)) and set(dxs) == set(range(7))  # every offset of +-3 px drawn
    assert np.mean([o == (3, 3) for o in offsets]) < 0.2  # mostly really shifted


def test_zero_pad_is_the_identity():
    images = jnp.ones((2, 1, 8, 8, 3), jnp.uint8)
    assert random_shift(images, 0, jax.random.PRNGKey(0)) is images
