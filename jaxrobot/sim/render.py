"""RGB-D images rendered inside JAX with ``mjx.ray`` (vmapped over pixels; vmap over envs outside).

Pinhole camera model of a MuJoCo camera (looks along its local -z, y up, x right):

- intrinsics ``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` with ``f = (H/2) / tan(fovy/2)`` (square pixels;
  pixel (u, v) has its centre at (u + 0.5, v + 0.5), v grows downwards as in images);
- extrinsics: camera position ``data.cam_xpos[cam]`` and rotation ``data.cam_xmat[cam]`` (world from
  camera, columns = camera x, y, z axes in world coordinates). A pixel with depth ``z`` back-projects to
  ``p_cam = z * ((u + 0.5 - cx) / f, -(v + 0.5 - cy) / f, -1)`` and ``p_world = pos + R @ p_cam``.

``depth`` is the z-depth along the optical axis in metres (``0`` where a ray hits nothing, as depth
cameras report invalid pixels); ``rgb`` is the flat colour of the hit geom (its material's colour if it has
one) times a simple headlight shade ``0.5 + 0.5 * cos`` of the ray's incidence computed from the depth
image, over a grey background. Good enough for policies and grasp sampling, not for pictures (use
``mujoco.Renderer`` for those, see :mod:`jaxrobot.sim.evaluate`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.sim._mjx import mjx

BACKGROUND = (0.35, 0.4, 0.45)


def camera_id(mj_model: mujoco.MjModel, camera: str | int) -> int:
    cam = camera if isinstance(camera, int) else mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if not 0 <= cam < mj_model.ncam:
        raise ValueError(f"camera {camera!r} not in the model (cameras: "
                         f"{[mj_model.camera(i).name for i in range(mj_model.ncam)]})")
    return int(cam)


def intrinsics(mj_model: mujoco.MjModel, camera: str | int, height: int, width: int) -> np.ndarray:
    """3x3 pinhole matrix of ``camera`` rendered at ``height x width`` (see the module docstring)."""
    fovy = math.radians(float(mj_model.cam_fovy[camera_id(mj_model, camera)]))
    f = (height / 2) / math.tan(fovy / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float32)


def extrinsics(data, cam: int) -> tuple[jax.Array, jax.Array]:
    """(position [3], world-from-camera rotation [3, 3]) of camera ``cam`` in ``data`` (jax, vmappable)."""
    return data.cam_xpos[cam], data.cam_xmat[cam]


def pixel_directions(k: np.ndarray, height: int, width: int) -> np.ndarray:
    """Camera-frame ray directions with z = -1 for every pixel, [H, W, 3] (row-major, v down)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    x = (u + 0.5 - k[0, 2]) / k[0, 0]
    y = -(v + 0.5 - k[1, 2]) / k[1, 1]
    return np.stack([x, y, -np.ones_like(x)], axis=-1)


def _geom_colors(model) -> jax.Array:
    """RGB per geom: the material colour when the geom has a material, else the geom colour."""
    matid = jnp.asarray(model.geom_matid)
    rgb = model.geom_rgba[:, :3]
    if model.mat_rgba.shape[0]:
        rgb = jnp.where((matid >= 0)[:, None], model.mat_rgba[jnp.maximum(matid, 0), :3], rgb)
    return rgb


def render_rgbd(model, data, cam: int, k: np.ndarray, height: int, width: int,
                geomgroup: tuple[int, ...] | None = None) -> tuple[jax.Array, jax.Array]:
    """(depth float32 [H, W] in metres, rgb uint8 [H, W, 3]) seen by camera ``cam`` of one environment.

    ``geomgroup``: six 0/1 flags, the geom groups the rays see (``mjx.ray``'s filter; None: all), e.g. to
    hide the robot from a scene camera.
    """
    depth, rgb, _ = render_rgbd_geoms(model, data, cam, k, height, width, geomgroup)
    return depth, rgb


def render_rgbd_geoms(model, data, cam: int, k: np.ndarray, height: int, width: int,
                      geomgroup: tuple[int, ...] | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """:func:`render_rgbd` plus the id of the geom each pixel's ray hit (int32 [H, W], -1: none): the
    ground-truth segmentation of rendered scenes."""
    dirs = jnp.asarray(pixel_directions(k, height, width).reshape(-1, 3))
    pos, rot = extrinsics(data, cam)
    norm = jnp.linalg.norm(dirs, axis=-1)
    world = (dirs / norm[:, None]) @ rot.T
    dist, geom = jax.vmap(lambda v: mjx.ray(model, data, pos, v, geomgroup=geomgroup or ()))(world)
    hit = geom >= 0
    depth = jnp.where(hit, dist / norm, 0.0).reshape(height, width).astype(jnp.float32)
    color = jnp.where(hit[:, None], _geom_colors(model)[jnp.maximum(geom, 0)], jnp.asarray(BACKGROUND))
    shade = _headlight(depth, k).reshape(-1, 1)
    rgb = jnp.where(hit[:, None], color * shade, color)
    rgb = jnp.clip(rgb * 255.0 + 0.5, 0, 255).astype(jnp.uint8).reshape(height, width, 3)
    return depth, rgb, geom.reshape(height, width).astype(jnp.int32)


def _headlight(depth: jax.Array, k: np.ndarray) -> jax.Array:
    """0.5 + 0.5 cos(angle between the surface normal, from depth gradients, and the optical axis)."""
    h, w = depth.shape
    p = jnp.asarray(pixel_directions(k, h, w)) * depth[..., None]
    dx = jnp.gradient(p, axis=1)
    dy = jnp.gradient(p, axis=0)
    n = jnp.cross(dx, dy)
    n = n / (jnp.linalg.norm(n, axis=-1, keepdims=True) + 1e-9)
    cos = jnp.abs(n[..., 2])
    return 0.5 + 0.5 * cos
