"""Pinhole camera model: pixels + depth <-> 3-D points in the camera and world frames.

Conventions (OpenCV):
- Camera frame: x right, y down, z forward (along the optical axis). MuJoCo/OpenGL cameras look along
  -z with y up; :func:`opengl_to_opencv` converts their pose.
- Pixel coordinates ``(u, v)``: u along image columns (x), v along rows (y); integer values are pixel
  *centres*, so a centred principal point of a W x H image is ``((W-1)/2, (H-1)/2)``.
- ``depth`` is the z coordinate in the camera frame (distance along the optical axis), not the length
  of the ray; :func:`ray_distance_to_depth` converts the output of a ray caster.
- Extrinsics ``world_from_camera`` is the 4x4 homogeneous pose of the camera in the world:
  ``p_world = R @ p_cam + t``.

Everything is pure ``jnp`` on trailing axes, so it broadcasts over leading batch axes and ``vmap``s;
:class:`Camera` is a pytree (``flax.struct.dataclass``), so a batch of cameras ``vmap``s too.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np


@flax.struct.dataclass
class Camera:
    """Pinhole intrinsics (pixels) and extrinsics.

    Fields:
      fx, fy: focal lengths in pixels.
      cx, cy: principal point in pixels (pixel-centre convention, see the module docstring).
      world_from_camera: [4, 4] pose of the OpenCV camera frame in the world.
      width, height: image size in pixels (static metadata, not traced).
    """

    fx: jax.Array
    fy: jax.Array
    cx: jax.Array
    cy: jax.Array
    world_from_camera: jax.Array
    width: int = flax.struct.field(pytree_node=False, default=0)
    height: int = flax.struct.field(pytree_node=False, default=0)

    @property
    def K(self) -> jax.Array:  # noqa: N802 (the standard name of the intrinsic matrix)
        """[3, 3] intrinsic matrix."""
        z, o = jnp.zeros_like(self.fx), jnp.ones_like(self.fx)
        return jnp.stack([jnp.stack([self.fx, z, self.cx], -1),
                          jnp.stack([z, self.fy, self.cy], -1),
                          jnp.stack([z, z, o], -1)], -2)

    @property
    def camera_from_world(self) -> jax.Array:
        return invert_pose(self.world_from_camera)


def make_camera(fx: float, fy: float, cx: float, cy: float, world_from_camera=None,
                width: int = 0, height: int = 0) -> Camera:
    """Build a :class:`Camera`; ``world_from_camera`` defaults to the identity."""
    pose = jnp.eye(4, dtype=jnp.float32) if world_from_camera is None else jnp.asarray(world_from_camera,
                                                                                        jnp.float32)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Camera(f32(fx), f32(fy), f32(cx), f32(cy), pose, width=width, height=height)


def camera_from_fovy(fovy_deg: float, width: int, height: int, world_from_camera=None) -> Camera:
    """Square-pixel camera from a vertical field of view (MuJoCo's ``fovy``), centred principal point.

    The image plane spans the full frustum: ``fy = (H/2) / tan(fovy/2)`` (MuJoCo renders pixel edges
    at the frustum boundary, so the principal point in pixel-centre coordinates is ``(W-1)/2``).
    """
    f = (height / 2.0) / jnp.tan(jnp.deg2rad(fovy_deg) / 2.0)
    return make_camera(f, f, (width - 1) / 2.0, (height - 1) / 2.0, world_from_camera, width, height)


# ---------------------------------------------------------------- rigid transforms


def invert_pose(T: jax.Array) -> jax.Array:  # noqa: N803
    """Inverse of a [..., 4, 4] rigid transform (R^T, -R^T t)."""
    R, t = T[..., :3, :3], T[..., :3, 3]
    Rt = jnp.swapaxes(R, -1, -2)
    ti = -jnp.einsum("...ij,...j->...i", Rt, t)
    bottom = jnp.broadcast_to(jnp.array([0.0, 0.0, 0.0, 1.0], T.dtype), T.shape[:-2] + (1, 4))
    return jnp.concatenate([jnp.concatenate([Rt, ti[..., None]], -1), bottom], -2)


def transform_points(T: jax.Array, p: jax.Array) -> jax.Array:  # noqa: N803
    """Apply a [4, 4] transform to points [..., 3]."""
    return jnp.einsum("ij,...j->...i", T[:3, :3], p) + T[:3, 3]


def quat_to_mat(q: jax.Array) -> jax.Array:
    """Rotation matrix [3, 3] of a unit quaternion (w, x, y, z) (MuJoCo's order)."""
    w, x, y, z = q[0], q[1], q[2], q[3]
    return jnp.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def make_pose(R: jax.Array, t: jax.Array) -> jax.Array:  # noqa: N803
    """[4, 4] homogeneous transform from rotation [3, 3] and translation [3]."""
    top = jnp.concatenate([R, t[:, None]], axis=1)
    return jnp.concatenate([top, jnp.array([[0.0, 0.0, 0.0, 1.0]], R.dtype)], axis=0)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> jax.Array:
    """World-from-camera pose (OpenCV frame) of a camera at ``eye`` looking at ``target``.

    ``up`` is the world direction that appears upwards in the image (image y points away from it);
    it must not be parallel to the viewing direction.
    """
    eye, target, up = (jnp.asarray(a, jnp.float32) for a in (eye, target, up))
    z = target - eye
    z = z / jnp.linalg.norm(z)
    x = jnp.cross(z, up)  # y down = -up, so x = y cross z = z cross up
    x = x / jnp.linalg.norm(x)
    y = jnp.cross(z, x)
    return make_pose(jnp.stack([x, y, z], axis=1), eye)


def opengl_to_opencv(world_from_gl_camera: jax.Array) -> jax.Array:
    """Convert a MuJoCo/OpenGL camera pose (looks along -z, y up) to the OpenCV frame used here."""
    flip = jnp.diag(jnp.array([1.0, -1.0, -1.0, 1.0], world_from_gl_camera.dtype))
    return world_from_gl_camera @ flip


# ---------------------------------------------------------------- projection


def pixel_to_normalized(cam: Camera, uv: jax.Array) -> jax.Array:
    """Normalised image coordinates ``(x, y) = ((u - cx)/fx, (v - cy)/fy)`` of pixels [..., 2]."""
    return jnp.stack([(uv[..., 0] - cam.cx) / cam.fx, (uv[..., 1] - cam.cy) / cam.fy], -1)


def normalized_to_pixel(cam: Camera, xy: jax.Array) -> jax.Array:
    return jnp.stack([xy[..., 0] * cam.fx + cam.cx, xy[..., 1] * cam.fy + cam.cy], -1)


def pixel_to_camera(cam: Camera, uv: jax.Array, depth: jax.Array) -> jax.Array:
    """Back-project pixels [..., 2] at z-depth [...] to camera-frame points [..., 3]."""
    xy = pixel_to_normalized(cam, uv)
    return jnp.concatenate([xy * depth[..., None], depth[..., None]], -1)


def camera_to_pixel(cam: Camera, p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Project camera-frame points [..., 3] to pixels [..., 2]; also returns their depth [...]."""
    z = p[..., 2]
    return normalized_to_pixel(cam, p[..., :2] / z[..., None]), z


def camera_to_world(cam: Camera, p: jax.Array) -> jax.Array:
    return transform_points(cam.world_from_camera, p)


def world_to_camera(cam: Camera, p: jax.Array) -> jax.Array:
    return transform_points(cam.camera_from_world, p)


def pixel_to_world(cam: Camera, uv: jax.Array, depth: jax.Array) -> jax.Array:
    """Pixels [..., 2] at z-depth [...] → world points [..., 3]."""
    return camera_to_world(cam, pixel_to_camera(cam, uv, depth))


def world_to_pixel(cam: Camera, p: jax.Array) -> tuple[jax.Array, jax.Array]:
    """World points [..., 3] → (pixels [..., 2], z-depth [...]); depth <= 0 means behind the camera."""
    return camera_to_pixel(cam, world_to_camera(cam, p))


def pixel_ray(cam: Camera, uv: jax.Array, frame: str = "camera") -> jax.Array:
    """Unit viewing ray through pixels [..., 2], in the camera (default) or world frame."""
    ray = pixel_to_camera(cam, uv, jnp.ones(uv.shape[:-1], uv.dtype))
    ray = ray / jnp.linalg.norm(ray, axis=-1, keepdims=True)
    if frame == "world":
        ray = jnp.einsum("ij,...j->...i", cam.world_from_camera[:3, :3], ray)
    return ray


def ray_distance_to_depth(cam: Camera, uv: jax.Array, distance: jax.Array) -> jax.Array:
    """Convert distance along the viewing ray (what a ray caster returns) to z-depth."""
    return distance * pixel_ray(cam, uv)[..., 2]


def pixel_grid(height: int, width: int) -> jax.Array:
    """[H, W, 2] pixel coordinates (u, v) of every pixel centre."""
    v, u = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32),
                        indexing="ij")
    return jnp.stack([u, v], -1)


def depth_to_points(cam: Camera, depth: jax.Array, frame: str = "camera") -> jax.Array:
    """Point cloud [H, W, 3] of a depth image [H, W] (camera or world frame)."""
    p = pixel_to_camera(cam, pixel_grid(*depth.shape), depth)
    return camera_to_world(cam, p) if frame == "world" else p


def project_points(pos: jax.Array, rot: jax.Array, points: jax.Array, k: np.ndarray) -> jax.Array:
    """Pixel coordinates [N, 2] (continuous, pixel-edge origin like ``k``) of world ``points`` [N, 3] seen
    from an OpenCV camera at ``pos`` with world-from-camera rotation ``rot`` [3, 3]."""
    p = (points - pos) @ rot
    return jnp.stack([p[:, 0] / p[:, 2] * k[0, 0] + k[0, 2], p[:, 1] / p[:, 2] * k[1, 1] + k[1, 2]], -1)
