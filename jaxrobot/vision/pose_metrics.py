"""6-DoF object pose metrics: ADD, ADD-S and their accuracy at a fraction of the object diameter.

Definitions (Hinterstoisser et al., ACCV 2012; as used by PoseCNN, Xiang et al., RSS 2018, Sec. V-B):

- ADD: mean distance between the model points moved by the estimated pose and by the true pose,
  ``mean_i |(R p_i + t) - (R' p_i + t')|`` (point-to-same-point).
- ADD-S: for symmetric objects, the mean over the *true* model points of the distance to the *closest*
  estimated point, ``mean_i min_j |(R p_i + t) - (R' q_j + t')|`` (true pose R, t; estimate R', t'), the
  direction of Hinterstoisser et al. and of the BOP toolkit (``pose_error.adi``: nearest neighbours of
  the ground-truth points among the estimated ones). The ``q_j`` are the model points again, or a
  denser set that contains them (``search_points``). Poses equal up to a symmetry score exactly 0 only
  when the searched set is closed under that symmetry (a finite set can be, e.g. the orbit of sampled
  points under a box's half turns, :func:`jaxrobot.skills.pose.objects.model_points`); under a continuous
  symmetry the score is the mean gap between the searched points (:func:`jaxrobot.skills.pose.objects.search_points`).
- An estimate is correct when the distance is below ``fraction * diameter`` (10% in both papers).

Pure ``jnp`` on trailing axes (points [..., N, 3], rotations [..., 3, 3], translations [..., 3]); vmap for
batches. ADD-S is O(N M) per pose (N averaged, M searched points).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check(points, rot, t):
    if points.shape[-1] != 3 or rot.shape[-2:] != (3, 3) or t.shape[-1] != 3:
        raise ValueError(f"expected points [..., N, 3], rotations [..., 3, 3], translations [..., 3]; got "
                         f"{points.shape}, {rot.shape}, {t.shape}")


def transform(points: jax.Array, rot: jax.Array, t: jax.Array) -> jax.Array:
    """``R p + t`` for points [..., N, 3]."""
    return jnp.einsum("...ij,...nj->...ni", rot, points) + t[..., None, :]


def add(points: jax.Array, rot_est: jax.Array, t_est: jax.Array, rot_gt: jax.Array, t_gt: jax.Array) -> jax.Array:
    """ADD [...]: mean distance between corresponding model points under the two poses (metres)."""
    _check(points, rot_est, t_est)
    _check(points, rot_gt, t_gt)
    d = transform(points, rot_est, t_est) - transform(points, rot_gt, t_gt)
    return jnp.mean(jnp.linalg.norm(d, axis=-1), axis=-1)


def closest_point_distance(a: jax.Array, b: jax.Array, eps: float = 0.0) -> jax.Array:
    """For each point of ``a`` [..., N, 3], the distance to the closest point of ``b`` [..., M, 3]: [..., N].

    ``eps`` is added under the square root: ``eps > 0`` keeps the gradient finite at zero distance (losses).
    """
    d2 = jnp.sum(jnp.square(a[..., :, None, :] - b[..., None, :, :]), axis=-1)
    return jnp.sqrt(jnp.maximum(jnp.min(d2, axis=-1), 0.0) + eps)


def add_s(points: jax.Array, rot_est: jax.Array, t_est: jax.Array, rot_gt: jax.Array,
          t_gt: jax.Array, search_points: jax.Array | None = None) -> jax.Array:
    """ADD-S [...]: mean over the truly posed ``points`` of the distance to the closest estimated point
    (metres). The estimate moves ``search_points`` [..., M, 3] (default ``points``; a denser set that
    contains ``points`` lowers the floor under a continuous symmetry)."""
    search = points if search_points is None else search_points
    _check(points, rot_gt, t_gt)
    _check(search, rot_est, t_est)
    return jnp.mean(closest_point_distance(transform(points, rot_gt, t_gt), transform(search, rot_est, t_est)),
                    axis=-1)


def diameter(points: jax.Array) -> jax.Array:
    """Largest distance between two model points [..., N, 3] -> [...] (the object diameter of the metrics)."""
    d2 = jnp.sum(jnp.square(points[..., :, None, :] - points[..., None, :, :]), axis=-1)
    return jnp.sqrt(jnp.max(d2, axis=(-2, -1)))


def within(distance: jax.Array, diam: jax.Array, fraction: float = 0.1) -> jax.Array:
    """Correct estimates (bool [...]): ``distance < fraction * diameter``."""
    if not 0 < fraction:
        raise ValueError(f"fraction must be > 0, got {fraction}")
    return distance < fraction * diam


def rotation_error_deg(rot_est: jax.Array, rot_gt: jax.Array) -> jax.Array:
    """Geodesic angle between two rotations [...] in degrees (ignores symmetries)."""
    c = (jnp.trace(jnp.swapaxes(rot_est, -1, -2) @ rot_gt, axis1=-2, axis2=-1) - 1.0) / 2.0
    return jnp.degrees(jnp.arccos(jnp.clip(c, -1.0, 1.0)))
