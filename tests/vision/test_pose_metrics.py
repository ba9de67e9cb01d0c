"""ADD / ADD-S closed forms, rotation parameterisation and the rotation losses on hand-computed cases."""

from __future__ import annotations

import itertools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.models.pose import rotation_loss
from jaxrobot.vision import pose_metrics as pm
from jaxrobot.vision.pose_voting import rotation_from_6d, rotation_to_6d

HALF = np.array([0.05, 0.1, 0.15], np.float32)
CORNERS = np.array(list(itertools.product(*[(-h, h) for h in HALF])), np.float32)  # a box's 8 corners
EYE = np.eye(3, dtype=np.float32)
ZERO = np.zeros(3, np.float32)


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float32)


def test_identity_is_zero():
    assert float(pm.add(CORNERS, EYE, ZERO, EYE, ZERO)) == 0.0
    assert float(pm.add_s(CORNERS, EYE, ZERO, EYE, ZERO)) == 0.0


def test_translation_gives_its_norm():
    t = np.array([0.003, 0.004, 0.0], np.float32)  # norm 5 mm, far below the corner spacing
    t_gt = np.array([0.1, -0.2, 0.5], np.float32)
    np.testing.assert_allclose(pm.add(CORNERS, EYE, t_gt + t, EYE, t_gt), 0.005, rtol=1e-4)
    np.testing.assert_allclose(pm.add_s(CORNERS, EYE, t_gt + t, EYE, t_gt), 0.005, rtol=1e-4)


def test_symmetric_rotation_add_s_zero_add_positive():
    """A half turn about z maps the box onto itself: ADD-S 0, ADD = mean corner displacement 2 |(x, y)|."""
    r = rot_z(math.pi)
    assert float(pm.add_s(CORNERS, r, ZERO, EYE, ZERO)) < 1e-6
    np.testing.assert_allclose(pm.add(CORNERS, r, ZERO, EYE, ZERO), 2 * np.hypot(HALF[0], HALF[1]), rtol=1e-5)
    # a quarter turn is not a symmetry of this box: both positive
    assert float(pm.add_s(CORNERS, rot_z(math.pi / 2), ZERO, EYE, ZERO)) > 0.01


def test_add_s_averages_over_the_true_points():
    """ADD-S is BOP's ``adi``: for each truly posed point the nearest estimated point, averaged over the
    true points; ``search_points`` replaces the estimated set only."""
    rng = np.random.default_rng(0)
    pts = (rng.normal(size=(40, 3)) * [0.05, 0.02, 0.01]).astype(np.float32)  # no symmetry
    r_e, t_e = rot_z(0.4), np.array([0.01, 0.0, 0.5], np.float32)
    r_g, t_g = rot_z(-0.2), np.array([0.0, 0.004, 0.5], np.float32)
    gt, est = pts @ r_g.T + t_g, pts @ r_e.T + t_e
    d = np.linalg.norm(gt[:, None] - est[None], axis=-1)
    truth_to_est, est_to_truth = d.min(1).mean(), d.min(0).mean()
    assert abs(truth_to_est - est_to_truth) > 1e-4  # the case tells the two directions apart
    np.testing.assert_allclose(pm.add_s(pts, r_e, t_e, r_g, t_g), truth_to_est, rtol=1e-5)
    # a denser estimated set: nearest among its points, still averaged over the 40 true ones
    dense = np.concatenate([pts, (rng.normal(size=(200, 3)) * 0.03).astype(np.float32)])
    d = np.linalg.norm(gt[:, None] - (dense @ r_e.T + t_e)[None], axis=-1)
    np.testing.assert_allclose(pm.add_s(pts, r_e, t_e, r_g, t_g, dense), d.min(1).mean(), rtol=1e-5)


def test_diameter_threshold_and_rotation_error():
    np.testing.assert_allclose(pm.diameter(CORNERS), 2 * np.linalg.norm(HALF), rtol=1e-6)
    d = pm.diameter(CORNERS)
    assert bool(pm.within(0.099 * d, d)) and not bool(pm.within(0.101 * d, d))
    np.testing.assert_allclose(pm.rotation_error_deg(rot_z(0.3), EYE), math.degrees(0.3), rtol=1e-4)


def test_batched_and_bad_shapes():
    r = np.stack([EYE, rot_z(math.pi)])
    out = pm.add_s(np.stack([CORNERS] * 2), r, np.zeros((2, 3)), np.stack([EYE] * 2), np.zeros((2, 3)))
    assert out.shape == (2,) and float(out.max()) < 1e-6
    with pytest.raises(ValueError, match="points"):
        pm.add(CORNERS[:, :2], EYE, ZERO, EYE, ZERO)


def test_rotation_6d_round_trip():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(16, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q.T
    r = np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2).astype(np.float32)
    np.testing.assert_allclose(rotation_from_6d(rotation_to_6d(jnp.asarray(r))), r, atol=1e-5)
    # any 6-vector (not degenerate) gives a proper rotation
    m = np.asarray(rotation_from_6d(jnp.asarray(rng.normal(size=(16, 6)), jnp.float32)))
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(EYE, m.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-5)


def test_shapematch_loss_ignores_symmetry_ploss_does_not():
    r = jnp.asarray(rot_z(math.pi))[None]
    pts = jnp.asarray(CORNERS)[None]
    sym = rotation_loss(r, jnp.asarray(EYE)[None], pts, jnp.array([True]))
    non = rotation_loss(r, jnp.asarray(EYE)[None], pts, jnp.array([False]))
    assert float(sym[0]) < 1e-5
    np.testing.assert_allclose(non, 2 * np.hypot(HALF[0], HALF[1]), rtol=1e-4)
