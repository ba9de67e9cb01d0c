"""Decode dense grasp maps to top-k planar grasps and lift them to 3-D gripper poses.

Decoding follows GG-CNN's post-processing (Morrison et al. 2018, ``models/common.py`` and
``utils/dataset_processing/grasp.py``): Gaussian smoothing (σ = 2 px for quality and angle, 1 px for
width), θ = atan2(sin 2θ, cos 2θ) / 2, width × max_width, then local maxima of the quality map
(skimage ``peak_local_max`` with ``min_distance`` and ``threshold_abs``). Two deliberate differences:
we smooth cos 2θ and sin 2θ *before* atan2 (smoothing θ itself is wrong across the ±π/2 wrap), and
everything is pure ``jnp`` with static shapes (top-k with a ``valid`` mask), so it ``jit``s and
``vmap``s over a batch.

Lifting (:func:`lift_grasps`) turns a planar grasp into a parallel-jaw gripper pose in the world using
the depth image and :class:`~jaxrobot.vision.camera.Camera`. Gripper frame convention: z = approach
direction (pointing from the gripper into the object), x = closing axis (finger to finger), y = z × x.
"""

from __future__ import annotations

from typing import Literal

import flax.struct
import jax
import jax.numpy as jnp
from jax import lax

from jaxrobot.vision import camera as cam_lib
from jaxrobot.vision.grasp_repr import PlanarGrasps, grasp_axes


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> jax.Array:
    """Normalised 1-D Gaussian taps of radius ``int(truncate * sigma + 0.5)`` (scipy's default)."""
    radius = int(truncate * sigma + 0.5)
    x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    k = jnp.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(img: jax.Array, sigma: float) -> jax.Array:
    """Separable Gaussian blur of [..., H, W] with edge ('nearest') padding; σ <= 0 is the identity."""
    if sigma <= 0:
        return img
    k = gaussian_kernel1d(sigma)
    r = (k.shape[0] - 1) // 2
    h, w = img.shape[-2:]
    pad = [(0, 0)] * (img.ndim - 2)
    x = jnp.pad(img, pad + [(r, r), (0, 0)], mode="edge")
    x = sum(k[i] * x[..., i:i + h, :] for i in range(2 * r + 1))
    x = jnp.pad(x, pad + [(0, 0), (r, r)], mode="edge")
    return sum(k[i] * x[..., :, i:i + w] for i in range(2 * r + 1))


def smooth_maps(maps: dict[str, jax.Array], sigma_quality: float = 2.0, sigma_angle: float = 2.0,
                sigma_width: float = 1.0) -> dict[str, jax.Array]:
    """GG-CNN's smoothing of raw network maps [..., H, W] (σ in pixels)."""
    return {"quality": gaussian_blur(maps["quality"], sigma_quality),
            "cos2": gaussian_blur(maps["cos2"], sigma_angle),
            "sin2": gaussian_blur(maps["sin2"], sigma_angle),
            "width": gaussian_blur(maps["width"], sigma_width)}


def angle_map(cos2: jax.Array, sin2: jax.Array) -> jax.Array:
    """θ = atan2(sin 2θ, cos 2θ) / 2, in [-π/2, π/2]."""
    return jnp.arctan2(sin2, cos2) / 2


def local_maxima(q: jax.Array, min_distance: int, threshold: float, exclude_border: int = 0) -> jax.Array:
    """[H, W] bool: pixels that are the maximum of their (2·min_distance+1)² window and >= threshold.

    A plateau of equal maxima inside one window keeps only its first pixel (row-major), so one object
    gives one peak, as skimage's ``peak_local_max`` does.
    """
    h, w = q.shape
    win = (2 * min_distance + 1, 2 * min_distance + 1)
    mx = lax.reduce_window(q, -jnp.inf, lax.max, win, (1, 1), "SAME")
    cand = (q >= mx) & (q >= threshold)
    idx = jnp.arange(h * w, dtype=jnp.int32).reshape(h, w)
    big = jnp.int32(h * w)
    first = lax.reduce_window(jnp.where(cand, idx, big), big, lax.min, win, (1, 1), "SAME")
    peaks = cand & (idx == first)
    if exclude_border > 0:
        rows = jnp.arange(h)[:, None]
        cols = jnp.arange(w)[None, :]
        inner = ((rows >= exclude_border) & (rows < h - exclude_border)
                 & (cols >= exclude_border) & (cols < w - exclude_border))
        peaks = peaks & inner
    return peaks


def decode_grasp_maps(maps: dict[str, jax.Array], k: int, max_width: float, min_distance: int = 2,
                      threshold: float = 0.2, sigma_quality: float = 2.0, sigma_angle: float = 2.0,
                      sigma_width: float = 1.0, exclude_border: int = 0, jaw_ratio: float = 0.5
                      ) -> PlanarGrasps:
    """Top-``k`` grasps (sorted by quality, padded with ``valid=False``) from maps [H, W] each.

    ``maps`` has ``quality``, ``cos2``, ``sin2``, ``width`` (width normalised by ``max_width`` px).
    GG-CNN uses min_distance=20 at 300×300; scale it with the image. ``jaw`` is ``jaw_ratio`` × width
    (GG-CNN draws predicted rectangles with jaw = width/2). ``vmap`` over a batch of maps.
    """
    s = smooth_maps(maps, sigma_quality, sigma_angle, sigma_width)
    q = s["quality"]
    h, w = q.shape
    peaks = local_maxima(q, min_distance, threshold, exclude_border)
    score = jnp.where(peaks, q, -jnp.inf).reshape(-1)
    kk = min(k, h * w)
    top, flat = lax.top_k(score, kk)
    if kk < k:  # static padding when k exceeds the number of pixels
        top = jnp.concatenate([top, jnp.full((k - kk,), -jnp.inf)])
        flat = jnp.concatenate([flat, jnp.zeros((k - kk,), flat.dtype)])
    row, col = flat // w, flat % w
    angle = angle_map(s["cos2"], s["sin2"])[row, col]
    width = s["width"][row, col] * max_width
    valid = jnp.isfinite(top)
    center = jnp.stack([col, row], -1).astype(jnp.float32)
    return PlanarGrasps(center=center, angle=angle, width=width, jaw=jaw_ratio * width,
                        quality=jnp.where(valid, top, 0.0), valid=valid)


# ---------------------------------------------------------------- 3-D lifting


@flax.struct.dataclass
class GripperPoses:
    """Parallel-jaw gripper poses in the world, leading shape ``S``.

    Fields: position [S, 3] (m); rotation [S, 3, 3] world-from-gripper (columns x = closing axis,
    y = z × x, z = approach); width [S] opening in metres; yaw [S] angle of the closing axis about the
    world z axis, in [-π/2, π/2) (antipodal); quality [S]; valid [S].
    """

    position: jax.Array
    rotation: jax.Array
    width: jax.Array
    yaw: jax.Array
    quality: jax.Array
    valid: jax.Array

    def matrix(self) -> jax.Array:
        """[S, 4, 4] homogeneous world-from-gripper transforms."""
        top = jnp.concatenate([self.rotation, self.position[..., None]], -1)
        bottom = jnp.broadcast_to(jnp.array([0.0, 0.0, 0.0, 1.0]), top.shape[:-2] + (1, 4))
        return jnp.concatenate([top, bottom], -2)


def sample_depth(depth: jax.Array, uv: jax.Array, window: int = 1) -> jax.Array:
    """Depth [H, W] at the nearest pixel of uv [..., 2]; with ``window`` > 1 the minimum (nearest
    surface) over a window×window neighbourhood, which is robust to holes and edges."""
    h, w = depth.shape
    if window > 1:
        depth = lax.reduce_window(depth, jnp.inf, lax.min, (window, window), (1, 1), "SAME")
    col = jnp.clip(jnp.round(uv[..., 0]).astype(jnp.int32), 0, w - 1)
    row = jnp.clip(jnp.round(uv[..., 1]).astype(jnp.int32), 0, h - 1)
    return depth[row, col]


def _normalize(v: jax.Array) -> jax.Array:
    return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def lift_grasps(grasps: PlanarGrasps, depth: jax.Array, cam: cam_lib.Camera,
                approach: Literal["camera_ray", "top_down"] = "camera_ray", depth_offset: float = 0.0,
                depth_window: int = 1, grasp_depth: jax.Array | None = None) -> GripperPoses:
    """Planar grasps [S] + depth image [H, W] → gripper poses in the world.

    - position: the back-projected grasp centre (z-depth from ``depth`` at the centre pixel, or
      ``grasp_depth`` [S] if given), then moved ``depth_offset`` metres along the approach direction
      (positive = deeper into the object).
    - approach ``camera_ray``: along the viewing ray through the centre; ``top_down``: world -z.
    - closing axis: the two finger points ``center ± width/2 · (cos θ, sin θ)`` back-projected at the
      centre's depth, made orthogonal to the approach; width in metres is their distance.
    """
    z = sample_depth(depth, grasps.center, depth_window) if grasp_depth is None else grasp_depth
    axis_px, _ = grasp_axes(grasps.angle)
    half = (grasps.width / 2)[..., None] * axis_px
    p_c = cam_lib.pixel_to_camera(cam, grasps.center, z)
    f1 = cam_lib.pixel_to_camera(cam, grasps.center - half, z)
    f2 = cam_lib.pixel_to_camera(cam, grasps.center + half, z)
    width_m = jnp.linalg.norm(f2 - f1, axis=-1)
    rot_wc = cam.world_from_camera[:3, :3]
    closing = jnp.einsum("ij,...j->...i", rot_wc, f2 - f1)
    if approach == "camera_ray":
        app = jnp.einsum("ij,...j->...i", rot_wc, _normalize(p_c))
    elif approach == "top_down":
        app = jnp.broadcast_to(jnp.array([0.0, 0.0, -1.0], jnp.float32), closing.shape)
    else:
        raise ValueError(f"approach must be 'camera_ray' or 'top_down', got {approach!r}")
    x = _normalize(closing - jnp.sum(closing * app, -1, keepdims=True) * app)
    y = jnp.cross(app, x)
    rotation = jnp.stack([x, y, app], -1)
    position = cam_lib.camera_to_world(cam, p_c) + depth_offset * app
    yaw = (jnp.arctan2(x[..., 1], x[..., 0]) + jnp.pi / 2) % jnp.pi - jnp.pi / 2
    return GripperPoses(position=position, rotation=rotation, width=width_m, yaw=yaw,
                        quality=grasps.quality, valid=grasps.valid & (z > 0))
