"""Hough voting recovers object centres from synthetic direction fields; the RoI crop samples bilinearly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.models.pose import crop_features
from jaxrobot.vision.pose_voting import direction_field, hough_vote

H = W = 64


def disk(center, radius):
    v, u = np.mgrid[0:H, 0:W]
    return (u - center[0]) ** 2 + (v - center[1]) ** 2 <= radius**2


@pytest.fixture(scope="module")
def vote():
    return jax.jit(jax.vmap(lambda d, m: hough_vote(d, m, stride=2)))


def test_exact_field_recovers_subpixel_centre(vote):
    centres = np.array([[20.3, 41.7], [40.0, 12.5], [31.6, 30.2]], np.float32)
    masks = np.stack([disk(c + np.array([3.0, -2.0]), 9) for c in centres])  # centre off the mask's middle
    fields = jax.vmap(direction_field)(jnp.asarray(masks), jnp.asarray(centres))
    got, votes, inl = vote(fields, jnp.asarray(masks))
    np.testing.assert_allclose(got, centres, atol=0.05)
    assert np.all(np.asarray(votes) >= 0.9 * masks.sum((1, 2)))
    assert np.asarray(inl).sum() > 0


def test_noisy_field_with_outliers(vote):
    rng = np.random.default_rng(0)
    c = np.array([33.4, 27.8], np.float32)
    mask = disk(c, 11) & ~disk(c, 2)
    f = np.asarray(direction_field(jnp.asarray(mask), jnp.asarray(c)))
    ang = np.arctan2(f[..., 1], f[..., 0]) + rng.normal(0, np.radians(4), mask.shape)
    out = rng.random(mask.shape) < 0.2
    ang = np.where(out, rng.uniform(-np.pi, np.pi, mask.shape), ang)  # 20% random votes
    noisy = np.stack([np.cos(ang), np.sin(ang)], -1) * mask[..., None]
    got, _, _ = vote(jnp.asarray(noisy[None], jnp.float32), jnp.asarray(mask[None]))
    assert np.linalg.norm(np.asarray(got[0]) - c) < 0.5


def test_empty_mask_and_bad_input():
    center, votes, _ = hough_vote(jnp.zeros((H, W, 2)), jnp.zeros((H, W), bool))
    np.testing.assert_allclose(center, [(W - 1) / 2, (H - 1) / 2])
    assert float(votes) == 0
    with pytest.raises(ValueError, match="directions"):
        hough_vote(jnp.zeros((H, W, 3)), jnp.zeros((H, W), bool))


def test_crop_features_bilinear():
    v, u = np.mgrid[0:32, 0:32].astype(np.float32)
    feat = jnp.asarray(np.stack([u, v], -1))
    crop = np.asarray(crop_features(feat, jnp.array([10.25, 20.5]), 4))
    # cell (i, j) of the window samples (u, v) = centre + (j - 1.5, i - 1.5)
    np.testing.assert_allclose(crop[0, 0], [10.25 - 1.5, 20.5 - 1.5], atol=1e-5)
    np.testing.assert_allclose(crop[3, 2], [10.25 + 0.5, 20.5 + 1.5], atol=1e-5)
    edge = np.asarray(crop_features(feat, jnp.array([-5.0, -5.0]), 4))
    assert np.all(edge == 0)  # outside the map
