"""6-DoF object pose metrics: ADD, ADD-S and their accuracy at a fraction of the object diameter.

Definitions (Hinterstoisser et al., ACCV 2012; as used by PoseCNN, Xiang et al., RSS 2018, Sec. V-B):

- ADD: mean distance between the model points moved by the estimated pose and by the true pose,
  ``mean_i |(R p_i + t) - (R' p_i + t')|`` (point-to-same-point).
- ADD-S: for symmetric objects, the mean distance from each estimated point to the *closest* true point,
  ``mean_i min_j |(R' p_i + t') - (R p_j + t)|``, so poses equal up to a symmetry score 0.
- An estimate is correct when the distance is below ``fraction * diameter`` (10% in both papers).

Pure ``jnp`` on trailing axes (points [..., N, 3], rotations [..., 3, 3], translations [..., 3]); vmap for
batches. ADD-S is O(N^2) per pose: use a few hundred model points.
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


def closest_point_distance(a: jax.Array, b: jax.Array) -> jax.Array:
    """For each point of ``a`` [..., N, 3], the distance to the closest point of ``b`` [..., M, 3]: [..., N]."""
    d2 = jnp.sum(jnp.square(a[..., :, None, :] - b[..., None, :, :]), axis=-1)
    return jnp.sqrt(jnp.maximum(jnp.min(d2, axis=-1), 0.0))


def add_s(points: jax.Array, rot_est: jax.Array, t_est: jax.Array, rot_gt: jax.Array,
          t_gt: jax.Array) -> jax.Array:
    """ADD-S [...]: mean closest-point distance from the estimated model points to the true ones (metres)."""
    _check(points, rot_est, t_est)
    _check(points, rot_gt, t_gt)
    return jnp.mean(closest_point_distance(transform(points, rot_est, t_est), transform(points, rot_gt, t_gt)),
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
