"""Object-centre Hough voting and rotation parameterisation for PoseCNN-style pose estimation.

PoseCNN (Xiang et al., RSS 2018, Sec. IV-B) predicts, for every pixel of an object, the unit vector in the
image pointing to the object's centre; every pixel votes along its ray, and the centre is the location
with most votes (a vote counts when the direction from the pixel to the candidate agrees with the
predicted one to within a threshold). Here the candidates are a regular grid of pixel locations
(``stride``), and the winner is refined to sub-pixel precision by the least-squares intersection of the
inlier pixels' lines. Everything is dense ``jnp`` (no data-dependent shapes), so it ``jit``s and ``vmap``s.

Rotation: the continuous 6-D representation of Zhou et al. (CVPR 2019): two 3-vectors, Gram-Schmidt
orthonormalised into the first two columns of the rotation matrix.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def direction_field(mask: jax.Array, center: jax.Array) -> jax.Array:
    """Unit vectors [H, W, 2] (du, dv) from every pixel to ``center`` (u, v), zero outside ``mask``: the
    voting target of a single object (pixel (u, v) at column u, row v, pixel-centre coordinates)."""
    h, w = mask.shape
    v, u = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
    d = jnp.stack([center[0] - u, center[1] - v], -1)
    n = jnp.linalg.norm(d, axis=-1, keepdims=True)
    return jnp.where(mask[..., None] & (n > 1e-6), d / jnp.maximum(n, 1e-6), 0.0)


def hough_vote(directions: jax.Array, mask: jax.Array, *, stride: int = 1, cos_threshold: float = 0.97,
               refine: bool = True) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Object centre (u, v) [2] from per-pixel directions [H, W, 2] over ``mask`` [H, W] (bool or weights).

    Returns ``(center, votes, inliers)``: the votes of the winning candidate and the [H, W] inlier mask
    (pixels whose ray points at the centre within ``arccos(cos_threshold)``). ``stride``: spacing of the
    candidate grid in pixels (the refinement recovers sub-pixel centres). With an empty mask the centre is
    the image centre and ``votes`` is 0.
    """
    if directions.ndim != 3 or directions.shape[-1] != 2 or mask.shape != directions.shape[:2]:
        raise ValueError(f"expected directions [H, W, 2] and mask [H, W], got {directions.shape}, {mask.shape}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    h, w = mask.shape
    weight = mask.astype(jnp.float32).reshape(-1)
    d = directions.reshape(-1, 2)
    d = d / jnp.maximum(jnp.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    v, u = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
    pix = jnp.stack([u, v], -1).reshape(-1, 2)
    off = (stride - 1) / 2.0
    cv, cu = jnp.meshgrid(jnp.arange(0, h, stride, dtype=jnp.float32) + off,
                          jnp.arange(0, w, stride, dtype=jnp.float32) + off, indexing="ij")
    cand = jnp.stack([cu, cv], -1).reshape(-1, 2)

    def agree(c):  # [P] 1 where pixel rays point at candidate c
        to = c[None, :] - pix
        n = jnp.linalg.norm(to, axis=-1)
        cos = jnp.sum(to * d, -1) / jnp.maximum(n, 1e-6)
        return (cos >= cos_threshold) | (n < 0.5 * stride + 0.5)

    votes = jax.lax.map(lambda c: jnp.sum(agree(c) * weight), cand, batch_size=256)
    best = jnp.argmax(votes)
    c0 = cand[best]
    inl = agree(c0) * weight
    center = c0
    if refine:
        # argmin_c sum_i w_i |(I - d_i d_i^T)(c - q_i)|^2 (lines through q_i along d_i), pulled weakly to c0.
        proj = jnp.eye(2)[None] - d[:, :, None] * d[:, None, :]
        a = jnp.sum(inl[:, None, None] * proj, 0) + 1e-3 * jnp.eye(2)
        b = jnp.einsum("p,pij,pj->i", inl, proj, pix) + 1e-3 * c0
        center = jnp.linalg.solve(a, b)
        center = jnp.where(jnp.all(jnp.isfinite(center)), center, c0)
    empty = jnp.sum(weight) <= 0
    center = jnp.where(empty, jnp.array([(w - 1) / 2.0, (h - 1) / 2.0]), center)
    return center, votes[best], inl.reshape(h, w) > 0


def rotation_from_6d(x: jax.Array) -> jax.Array:
    """Rotation matrices [..., 3, 3] from 6-D vectors [..., 6] (Zhou et al. 2019: Gram-Schmidt on two
    columns, the third their cross product)."""
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = a1 / jnp.maximum(jnp.linalg.norm(a1, axis=-1, keepdims=True), 1e-8)
    a2 = a2 - jnp.sum(b1 * a2, -1, keepdims=True) * b1
    b2 = a2 / jnp.maximum(jnp.linalg.norm(a2, axis=-1, keepdims=True), 1e-8)
    b3 = jnp.cross(b1, b2)
    return jnp.stack([b1, b2, b3], axis=-1)


def rotation_to_6d(rot: jax.Array) -> jax.Array:
    """The 6-D representation [..., 6] (first two columns) of rotations [..., 3, 3]."""
    return jnp.concatenate([rot[..., :, 0], rot[..., :, 1]], -1)
