"""Pinhole camera: projection round trips, conventions, and agreement with a hand-written K matrix."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.vision import camera as C


def _cam():
    pose = C.look_at(eye=(0.3, -0.2, 0.8), target=(0.0, 0.05, 0.0), up=(0.0, 1.0, 0.0))
    return C.make_camera(120.0, 110.0, 31.5, 29.0, pose, width=64, height=60)


def test_pixel_depth_world_round_trip():
    cam = _cam()
    rng = np.random.default_rng(0)
    uv = jnp.asarray(rng.uniform(0, 63, (50, 2)), jnp.float32)
    depth = jnp.asarray(rng.uniform(0.3, 2.0, (50,)), jnp.float32)
    p = C.pixel_to_world(cam, uv, depth)
    uv2, z2 = C.world_to_pixel(cam, p)
    np.testing.assert_allclose(uv2, uv, atol=2e-3)
    np.testing.assert_allclose(z2, depth, rtol=1e-5)


def test_matches_intrinsic_matrix_and_conventions():
    cam = C.make_camera(100.0, 100.0, 50.0, 40.0)
    p = jnp.array([0.1, -0.2, 2.0])
    uv, z = C.camera_to_pixel(cam, p)
    h = np.asarray(cam.K) @ np.asarray(p)
    np.testing.assert_allclose(uv, h[:2] / h[2], rtol=1e-6)
    assert float(z) == 2.0
    # x right, y down: a point right of and above the axis lands right of and above the centre.
    assert uv[0] > 50 and uv[1] < 40


def test_look_at_is_rotation_looking_at_target():
    T = C.look_at((1.0, 2.0, 3.0), (0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0))
    R = np.asarray(T[:3, :3])
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-6)
    cam = C.make_camera(100.0, 100.0, 32.0, 32.0, T)
    uv, z = C.world_to_pixel(cam, jnp.zeros(3))
    np.testing.assert_allclose(uv, [32.0, 32.0], atol=1e-4)
    np.testing.assert_allclose(z, np.sqrt(14.0), rtol=1e-6)
    # world up appears up in the image (smaller v)
    uv_up, _ = C.world_to_pixel(cam, jnp.array([0.0, 0.0, 0.1]))
    assert uv_up[1] < 32.0


def test_fovy_camera_edges_and_ray_distance():
    cam = C.camera_from_fovy(90.0, 64, 64)
    # with fovy = 90°, the top image edge (v = -0.5) is at 45°: y/z = -1
    xy = C.pixel_to_normalized(cam, jnp.array([31.5, -0.5]))
    np.testing.assert_allclose(xy, [0.0, -1.0], atol=1e-6)
    uv = jnp.array([10.0, 50.0])
    p = C.pixel_to_camera(cam, uv, jnp.float32(1.5))
    np.testing.assert_allclose(C.ray_distance_to_depth(cam, uv, jnp.linalg.norm(p)), 1.5, rtol=1e-6)


def test_opengl_flip_and_inverse_pose():
    gl = C.make_pose(jnp.eye(3), jnp.array([0.0, 0.0, 1.0]))  # GL camera at z=1 looking down -z
    cv = C.opengl_to_opencv(gl)
    cam = C.make_camera(50.0, 50.0, 16.0, 16.0, cv)
    _, z = C.world_to_pixel(cam, jnp.zeros(3))
    assert float(z) == 1.0
    np.testing.assert_allclose(C.invert_pose(cv) @ cv, np.eye(4), atol=1e-6)


def test_vmap_over_cameras_and_depth_to_points():
    poses = jnp.stack([C.look_at((0.0, 0.0, d), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)) for d in (0.5, 1.0)])
    cams = jax.vmap(lambda T: C.make_camera(60.0, 60.0, 7.5, 7.5, T))(poses)
    depth = jnp.stack([jnp.full((16, 16), 0.5), jnp.full((16, 16), 1.0)])
    pts = jax.jit(jax.vmap(lambda c, d: C.depth_to_points(c, d, frame="world")))(cams, depth)
    np.testing.assert_allclose(pts[..., 2], 0.0, atol=1e-5)  # both see the z = 0 plane
