"""Grasp candidates for a GQ-CNN-style scorer: axis-aligned depth crops, antipodal sampling, selection.

Follows Dex-Net 2.0 (Mahler et al., RSS 2017) and its ``gqcnn`` package in spirit:
- :func:`crop_aligned` cuts a square depth patch centred on the grasp and rotated so the closing axis
  is horizontal (GQ-CNN's input image); bilinear sampling keeps it differentiable and ``jit``-able.
- :func:`sample_antipodal` finds pairs of depth-edge pixels whose surface normals (depth gradients)
  lie inside the friction cone of the line joining them (the antipodal condition), as Dex-Net's
  ``AntipodalDepthImageGraspSampler`` does, with static shapes (``valid`` masks) for ``jit``.
- :func:`best_of_n` and :func:`cross_entropy_method` select a grasp given any batched score function;
  the CEM resamples around the elite set (a mixture of Gaussians centred on the elites with a diagonal
  covariance from their spread, a simplification of Dex-Net's GMM refit).

Planar conventions are those of :mod:`jaxrobot.vision.grasp_repr`; ``depth`` images are [H, W] metres.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

from jaxrobot.vision.grasp_repr import PlanarGrasps, grasp_axes, wrap_angle


def crop_aligned(image: jax.Array, center: jax.Array, angle: jax.Array, size: int,
                 scale: float = 1.0) -> jax.Array:
    """[size, size] patch of ``image`` [H, W] centred on ``center`` (u, v), rotated by ``angle``.

    Crop pixel (row i, col j) samples the image at ``center + a·d + b·n`` with d = (cos θ, sin θ) the
    closing axis, n = (-sin θ, cos θ), a = (j - (size-1)/2)·scale and b = (i - (size-1)/2)·scale: the
    grasp axis runs along the crop's rows (left to right), the crop's centre is the grasp centre.
    Bilinear interpolation, edge values outside the image. ``vmap`` over candidates.
    """
    off = (jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2) * scale
    b, a = jnp.meshgrid(off, off, indexing="ij")
    d, n = grasp_axes(angle)
    u = center[0] + a * d[0] + b * n[0]
    v = center[1] + a * d[1] + b * n[1]
    return map_coordinates(image, [v, u], order=1, mode="nearest")


def crop_candidates(depth: jax.Array, grasps: PlanarGrasps, size: int, scale: float = 1.0) -> jax.Array:
    """Crops [N, size, size] for grasps [N] from one depth image [H, W]."""
    return jax.vmap(lambda c, t: crop_aligned(depth, c, t, size, scale))(grasps.center, grasps.angle)


def depth_gradients(depth: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Central-difference gradients (d/du, d/dv) of a depth image [H, W]."""
    gv, gu = jnp.gradient(depth)
    return gu, gv


def sample_antipodal(rng: jax.Array, depth: jax.Array, num_grasps: int, num_edge_points: int = 128,
                     min_width: float = 4.0, max_width: float = 40.0, friction_coef: float = 0.5,
                     edge_threshold: float = 0.005, depth_offset: float = 0.01,
                     line_samples: int = 16) -> tuple[PlanarGrasps, jax.Array]:
    """Up to ``num_grasps`` antipodal candidates from one depth image [H, W]; static shapes.

    1. Edge pixels: depth-gradient magnitude > ``edge_threshold`` (metres per pixel).
    2. ``num_edge_points`` edge pixels drawn uniformly; every pair (i < j) with width in
       [min_width, max_width] px whose gradient directions (outward surface normals seen in the image:
       depth grows away from a raised object) lie inside the friction cone, half-angle
       arctan(``friction_coef``), around the outward directions of the grasp line, is antipodal.
    3. ``num_grasps`` antipodal pairs drawn uniformly without replacement (Gumbel top-k).
    Returns the grasps (centre = midpoint, angle along the pair, width = their distance, quality 0)
    and the gripper depth [N]: the nearest surface along the grasp line plus ``depth_offset``.
    """
    h, w = depth.shape
    k_pts, k_pairs = jax.random.split(rng)
    gu, gv = depth_gradients(depth)
    mag = jnp.hypot(gu, gv)
    edge = (mag > edge_threshold).reshape(-1)
    logits = jnp.where(edge, 0.0, -jnp.inf)
    safe = jnp.where(edge.any(), logits, 0.0)
    flat = jax.random.categorical(k_pts, safe, shape=(num_edge_points,))
    pts = jnp.stack([flat % w, flat // w], -1).astype(jnp.float32)  # (u, v)
    normals = jnp.stack([gu.reshape(-1)[flat], gv.reshape(-1)[flat]], -1)
    normals = normals / jnp.maximum(jnp.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)

    diff = pts[None, :, :] - pts[:, None, :]  # [i, j] = p_j - p_i
    dist = jnp.linalg.norm(diff, axis=-1)
    line = diff / jnp.maximum(dist, 1e-6)[..., None]
    cos_cone = 1.0 / jnp.sqrt(1.0 + friction_coef ** 2)  # cos(arctan(mu))
    n_i_out = -jnp.einsum("ic,ijc->ij", normals, line)  # n_i · (p_i - p_j)/|.|
    n_j_out = jnp.einsum("jc,ijc->ij", normals, line)
    upper = jnp.arange(num_edge_points)[:, None] < jnp.arange(num_edge_points)[None, :]
    ok = (upper & (dist >= min_width) & (dist <= max_width) & (n_i_out >= cos_cone)
          & (n_j_out >= cos_cone) & edge.any())
    gumbel = jax.random.gumbel(k_pairs, ok.shape)
    score = jnp.where(ok, gumbel, -jnp.inf).reshape(-1)
    top, idx = jax.lax.top_k(score, num_grasps)
    i, j = idx // num_edge_points, idx % num_edge_points
    valid = jnp.isfinite(top)
    p_i, p_j = pts[i], pts[j]
    center = (p_i + p_j) / 2
    d = p_j - p_i
    angle = wrap_angle(jnp.arctan2(d[:, 1], d[:, 0]))
    width = jnp.linalg.norm(d, axis=-1)
    t = jnp.linspace(0.0, 1.0, line_samples)
    along = p_i[:, None, :] + t[None, :, None] * d[:, None, :]  # [N, L, 2]
    col = jnp.clip(jnp.round(along[..., 0]).astype(jnp.int32), 0, w - 1)
    row = jnp.clip(jnp.round(along[..., 1]).astype(jnp.int32), 0, h - 1)
    grip_depth = depth[row, col].min(axis=-1) + depth_offset
    grasps = PlanarGrasps(center=center, angle=angle, width=width, jaw=width / 2,
                          quality=jnp.zeros_like(width), valid=valid)
    return grasps, grip_depth


ScoreFn = Callable[[PlanarGrasps, jax.Array], jax.Array]


def best_of_n(scores: jax.Array, valid: jax.Array) -> jax.Array:
    """Index of the highest-scoring valid candidate (0 if none is valid)."""
    return jnp.argmax(jnp.where(valid, scores, -jnp.inf))


def cross_entropy_method(rng: jax.Array, score_fn: ScoreFn, grasps: PlanarGrasps, grip_depth: jax.Array,
                         iterations: int = 3, num_elite: int = 8, pos_std_min: float = 1.0,
                         angle_std_min: float = 0.05, depth_std_min: float = 0.002
                         ) -> tuple[PlanarGrasps, jax.Array, jax.Array]:
    """Refine candidates [N] by CEM under ``score_fn(grasps [N], grip_depth [N]) -> scores [N]``.

    Each iteration keeps the ``num_elite`` best valid candidates, and draws N new ones, each from a
    randomly chosen elite plus Gaussian noise with the elites' per-dimension spread (centre u, v;
    angle via the spread of the doubled angle, which respects the π-periodicity; gripper depth);
    widths are inherited from the parent elite. Returns the best grasp seen (a scalar-shaped
    :class:`PlanarGrasps`), its gripper depth and its score. Static shapes: ``jit``-able.
    """
    n = grasps.angle.shape[0]

    def select(g, z, s):
        i = best_of_n(s, g.valid)
        return jax.tree.map(lambda x: x[i], g), z[i], jnp.where(g.valid[i], s[i], -jnp.inf)

    scores = score_fn(grasps, grip_depth)
    best = select(grasps, grip_depth, scores)

    def step(carry, key):
        g, z, s, best = carry
        masked = jnp.where(g.valid, s, -jnp.inf)
        top, elite = jax.lax.top_k(masked, num_elite)
        elite_ok = jnp.isfinite(top)
        m = jnp.maximum(elite_ok.sum(), 1)

        def spread(x):
            mean = jnp.sum(jnp.where(elite_ok, x, 0.0)) / m
            return jnp.sqrt(jnp.sum(jnp.where(elite_ok, (x - mean) ** 2, 0.0)) / m)

        ec, ea, ez = g.center[elite], g.angle[elite], z[elite]
        std_u = jnp.maximum(spread(ec[:, 0]), pos_std_min)
        std_v = jnp.maximum(spread(ec[:, 1]), pos_std_min)
        # the elites' spread of 2θ on the unit circle -> angular std, halved back to θ
        c2, s2 = jnp.cos(2 * ea), jnp.sin(2 * ea)
        r = jnp.hypot(jnp.sum(jnp.where(elite_ok, c2, 0.0)), jnp.sum(jnp.where(elite_ok, s2, 0.0))) / m
        std_a = jnp.maximum(jnp.sqrt(-2.0 * jnp.log(jnp.clip(r, 1e-6, 1.0))) / 2, angle_std_min)
        std_z = jnp.maximum(spread(ez), depth_std_min)
        k_pick, k_noise = jax.random.split(key)
        logits = jnp.where(elite_ok, 0.0, -jnp.inf)
        parent = jax.random.categorical(k_pick, logits, shape=(n,))
        noise = jax.random.normal(k_noise, (n, 4))
        center = ec[parent] + noise[:, :2] * jnp.stack([std_u, std_v])
        angle = wrap_angle(ea[parent] + noise[:, 2] * std_a)
        depth = ez[parent] + noise[:, 3] * std_z
        width = g.width[elite][parent]
        new = PlanarGrasps(center=center, angle=angle, width=width, jaw=g.jaw[elite][parent],
                           quality=jnp.zeros_like(angle), valid=jnp.broadcast_to(elite_ok.any(), (n,)))
        new_s = score_fn(new, depth)
        cand = select(new, depth, new_s)
        better = cand[2] > best[2]
        best = jax.tree.map(lambda a, b: jnp.where(better, a, b), cand, best)
        return (new, depth, new_s, best), None

    (_, _, _, best), _ = jax.lax.scan(step, (grasps, grip_depth, scores, best),
                                      jax.random.split(rng, iterations))
    g, z, s = best
    return g.replace(quality=s), z, s
