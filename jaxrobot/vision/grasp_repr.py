"""Planar (image-space) grasp representation and its encoding to dense training maps.

A planar grasp is a rectangle in the image (Jiang et al. 2011, the Cornell grasp format):
- ``center`` (u, v) in pixels (pixel-centre convention of :mod:`jaxrobot.vision.camera`),
- ``angle`` θ of the gripper's closing axis (the line between the fingers), measured in the image from
  the +u axis towards +v (image y points down, so positive θ turns clockwise on screen); antipodal
  symmetry makes θ and θ + π the same grasp, so θ is kept in [-π/2, π/2),
- ``width``: the gripper opening along the closing axis, in pixels,
- ``jaw``: the extent of the fingers across the closing axis, in pixels,
- ``quality`` in [0, 1] (1 for a positive label) and ``valid`` (padding mask for static shapes).

Rectangle corners follow the Cornell order: edge 0→1 runs along the closing axis (its length is
``width``), edge 1→2 along the jaw.

Dense maps (GG-CNN, Morrison et al. RSS 2018, ``utils/dataset_processing/grasp.py``): for every
grasp the *centre third* of the rectangle along the closing axis, full jaw extent, is painted with
quality, cos 2θ, sin 2θ (the doubled angle is continuous across the θ ≡ θ + π wrap) and the width
divided by ``max_width`` (GG-CNN clips to 150 px and divides by 150). Unpainted pixels are 0.
Later grasps overwrite earlier ones where they overlap, as GG-CNN's sequential painting does.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.vision.camera import pixel_grid


@flax.struct.dataclass
class PlanarGrasps:
    """A batch of planar grasps with arbitrary leading shape ``S`` (static, padded by ``valid``).

    Fields: center [S, 2] (u, v) px; angle [S] rad in [-π/2, π/2); width [S] px (opening);
    jaw [S] px (finger extent); quality [S]; valid [S] bool.
    """

    center: jax.Array
    angle: jax.Array
    width: jax.Array
    jaw: jax.Array
    quality: jax.Array
    valid: jax.Array


def wrap_angle(theta: jax.Array) -> jax.Array:
    """Map an antipodal grasp angle to [-π/2, π/2) (θ and θ + π are the same grasp)."""
    return (theta + jnp.pi / 2) % jnp.pi - jnp.pi / 2


def angle_difference(a, b):
    """Absolute difference of two grasp angles modulo π, in [0, π/2]."""
    d = jnp.abs(wrap_angle(jnp.asarray(a) - jnp.asarray(b)))
    return jnp.minimum(d, jnp.pi - d)


def make_grasps(center, angle, width, jaw=None, quality=None, valid=None) -> PlanarGrasps:
    """Build :class:`PlanarGrasps` with defaults: jaw = width / 2 (GG-CNN's convention for predicted
    grasps), quality = 1, valid = True. The angle is wrapped to [-π/2, π/2)."""
    center = jnp.asarray(center, jnp.float32)
    angle = wrap_angle(jnp.asarray(angle, jnp.float32))
    width = jnp.asarray(width, jnp.float32)
    shape = angle.shape
    jaw = width / 2 if jaw is None else jnp.asarray(jaw, jnp.float32)
    quality = jnp.ones(shape, jnp.float32) if quality is None else jnp.asarray(quality, jnp.float32)
    valid = jnp.ones(shape, bool) if valid is None else jnp.asarray(valid, bool)
    return PlanarGrasps(center, angle, width, jnp.broadcast_to(jaw, shape), jnp.broadcast_to(quality, shape),
                        jnp.broadcast_to(valid, shape))


def grasp_axes(angle: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Unit closing-axis direction and jaw direction [..., 2] in (u, v) for angles [...]."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c, s], -1), jnp.stack([-s, c], -1)


def grasp_corners(grasps: PlanarGrasps) -> jax.Array:
    """Rectangle corners [..., 4, 2] (u, v) in Cornell order (edge 0→1 along the closing axis)."""
    a, j = grasp_axes(grasps.angle)
    hw = (grasps.width / 2)[..., None] * a
    hj = (grasps.jaw / 2)[..., None] * j
    c = grasps.center
    return jnp.stack([c - hw - hj, c + hw - hj, c + hw + hj, c - hw + hj], -2)


def grasps_from_corners(corners, quality=None, valid=None) -> PlanarGrasps:
    """Inverse of :func:`grasp_corners` for rectangles [..., 4, 2] in Cornell order (u, v)."""
    corners = jnp.asarray(corners, jnp.float32)
    center = corners.mean(axis=-2)
    e01 = corners[..., 1, :] - corners[..., 0, :]
    e12 = corners[..., 2, :] - corners[..., 1, :]
    angle = jnp.arctan2(e01[..., 1], e01[..., 0])
    return make_grasps(center, angle, jnp.linalg.norm(e01, axis=-1), jnp.linalg.norm(e12, axis=-1),
                       quality, valid)


def cornell_rows_cols_to_uv(points_rc) -> np.ndarray:
    """Cornell/GG-CNN files store corners as (row, col) = (y, x); swap to (u, v)."""
    return np.asarray(points_rc, np.float32)[..., ::-1]


def paint_mask(grasps: PlanarGrasps, height: int, width: int, fraction: float = 1.0 / 3.0) -> jax.Array:
    """[N, H, W] bool: pixel centres inside the centre ``fraction`` (along the closing axis) of each
    grasp rectangle, full jaw extent. Invalid grasps paint nothing."""
    p = pixel_grid(height, width)  # [H, W, 2]
    a, j = grasp_axes(grasps.angle)  # [N, 2]
    d = p[None] - grasps.center[:, None, None, :]  # [N, H, W, 2]
    along = jnp.einsum("nhwc,nc->nhw", d, a)
    across = jnp.einsum("nhwc,nc->nhw", d, j)
    eps = 1e-4  # pixel centres exactly on an edge count as inside
    inside = (jnp.abs(along) <= (fraction * grasps.width / 2)[:, None, None] + eps) & (
        jnp.abs(across) <= (grasps.jaw / 2)[:, None, None] + eps)
    return inside & grasps.valid[:, None, None]


def encode_grasp_maps(grasps: PlanarGrasps, height: int, width: int, max_width: float,
                      fraction: float = 1.0 / 3.0) -> dict[str, jax.Array]:
    """Training targets [H, W] (``quality``, ``cos2``, ``sin2``, ``width``) from grasps [N].

    Pure ``jnp`` with static shapes, so it runs under ``jit`` and ``vmap`` (over images with padded
    grasp lists). Where grasps overlap the last valid one wins. ``width`` is ``clip(w, 0, max_width) /
    max_width``; ``quality`` paints each grasp's quality (1 for positive labels).
    """
    inside = paint_mask(grasps, height, width, fraction)  # [N, H, W]
    n = inside.shape[0]
    order = jnp.where(inside, jnp.arange(n)[:, None, None], -1)
    last = jnp.max(order, axis=0)  # [H, W], -1 where nothing is painted
    hit = last >= 0
    idx = jnp.maximum(last, 0)

    def take(values):
        return jnp.where(hit, values[idx], 0.0)

    return {
        "quality": take(grasps.quality),
        "cos2": take(jnp.cos(2 * grasps.angle)),
        "sin2": take(jnp.sin(2 * grasps.angle)),
        "width": take(jnp.clip(grasps.width, 0.0, max_width) / max_width),
    }


def stack_maps(maps: dict[str, jax.Array]) -> jax.Array:
    """[..., H, W, 4] array in the channel order quality, cos2, sin2, width (the networks' output)."""
    return jnp.stack([maps["quality"], maps["cos2"], maps["sin2"], maps["width"]], -1)


def unstack_maps(x: jax.Array) -> dict[str, jax.Array]:
    return {"quality": x[..., 0], "cos2": x[..., 1], "sin2": x[..., 2], "width": x[..., 3]}


def pad_grasps(grasps: PlanarGrasps, n: int) -> PlanarGrasps:
    """Pad (or truncate) a 1-D :class:`PlanarGrasps` to exactly ``n`` entries (static shapes for jit)."""
    def fix(x, fill):
        x = x[:n]
        pad = n - x.shape[0]
        if pad <= 0:
            return x
        return jnp.concatenate([x, jnp.full((pad,) + x.shape[1:], fill, x.dtype)], 0)

    return PlanarGrasps(fix(grasps.center, 0.0), fix(grasps.angle, 0.0), fix(grasps.width, 0.0),
                        fix(grasps.jaw, 0.0), fix(grasps.quality, 0.0), fix(grasps.valid, False))
