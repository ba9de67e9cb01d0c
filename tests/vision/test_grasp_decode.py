"""Grasp maps: encode → decode round trips on synthetic grasps, and 3-D lifting round trips."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.vision import camera as C
from jaxrobot.vision.grasp_decode import decode_grasp_maps, gaussian_blur, lift_grasps, local_maxima
from jaxrobot.vision.grasp_repr import (
    angle_difference,
    encode_grasp_maps,
    grasp_corners,
    grasps_from_corners,
    make_grasps,
    pad_grasps,
    stack_maps,
    wrap_angle,
)

MAXW = 60.0


def _scene():
    return make_grasps(center=[[16.0, 16.0], [46.0, 20.0], [30.0, 48.0]],
                       angle=[0.3, -1.45, 1.5], width=[30.0, 24.0, 36.0], jaw=[14.0, 12.0, 10.0])


def test_encode_paints_centre_third_with_targets():
    g = make_grasps([[20.0, 20.0]], [0.0], [30.0], jaw=[8.0])
    m = encode_grasp_maps(g, 40, 40, MAXW)
    q = np.asarray(m["quality"])
    rows, cols = np.nonzero(q)
    assert cols.min() == 15 and cols.max() == 25  # |u - 20| <= 30/6
    assert rows.min() == 16 and rows.max() == 24  # |v - 20| <= 4
    np.testing.assert_allclose(m["cos2"][20, 20], 1.0)
    np.testing.assert_allclose(m["width"][20, 20], 0.5)
    assert float(m["sin2"].sum()) == 0.0


def test_corners_round_trip():
    g = _scene()
    g2 = grasps_from_corners(grasp_corners(g))
    np.testing.assert_allclose(g2.center, g.center, atol=1e-4)
    np.testing.assert_allclose(angle_difference(g2.angle, g.angle), 0.0, atol=1e-5)
    np.testing.assert_allclose(g2.width, g.width, rtol=1e-5)
    np.testing.assert_allclose(g2.jaw, g.jaw, rtol=1e-5)


def test_encode_decode_round_trip_batched_jit():
    g = _scene()
    batch = jax.tree.map(lambda *x: jnp.stack(x), g, pad_grasps(g, 3))

    @jax.jit
    def roundtrip(gs):
        maps = jax.vmap(lambda x: encode_grasp_maps(x, 64, 64, MAXW))(gs)
        return jax.vmap(lambda m: decode_grasp_maps(m, k=5, max_width=MAXW, min_distance=4))(maps)

    out = roundtrip(batch)
    for b in range(2):
        assert int(out.valid[b].sum()) == 3
        for i in range(3):
            d = np.linalg.norm(np.asarray(out.center[b]) - np.asarray(g.center[i]), axis=-1)
            j = int(np.argmin(np.where(out.valid[b], d, 1e9)))
            assert d[j] <= 1.0
            assert float(angle_difference(out.angle[b, j], g.angle[i])) < np.deg2rad(2.0)
            np.testing.assert_allclose(out.width[b, j], g.width[i], atol=0.5)
        assert not bool(out.valid[b, 3:].any())
        assert np.all(np.diff(np.asarray(out.quality[b, :3])) <= 0)


def test_angle_wraps_modulo_pi():
    assert abs(float(wrap_angle(jnp.pi / 2 + 0.1)) - (-jnp.pi / 2 + 0.1)) < 1e-6
    np.testing.assert_allclose(angle_difference(1.5, -1.5), np.pi - 3.0, atol=1e-6)


def test_blur_preserves_constant_and_plateau_gives_one_peak():
    np.testing.assert_allclose(gaussian_blur(jnp.full((9, 12), 3.0), 2.0), 3.0, rtol=1e-5)
    q = jnp.zeros((10, 10)).at[3:5, 3:5].set(1.0)
    assert int(local_maxima(q, 2, 0.5).sum()) == 1


def _cam_top_down():
    # camera 0.6 m above the table, looking straight down; image up = world +y
    return C.make_camera(80.0, 80.0, 31.5, 31.5, C.look_at((0.1, 0.0, 0.6), (0.1, 0.0, 0.0), up=(0.0, 1.0, 0.0)))


def test_lift_round_trips_with_projection():
    cam = C.make_camera(90.0, 85.0, 31.5, 30.0, C.look_at((0.4, -0.3, 0.7), (0.0, 0.0, 0.0),
                                                         up=(0.0, 0.0, 1.0)))
    rng = np.random.default_rng(1)
    n = 6
    uv = jnp.asarray(rng.uniform(10, 50, (n, 2)), jnp.float32)
    z = jnp.asarray(rng.uniform(0.6, 1.0, n), jnp.float32)
    width_m = jnp.asarray(rng.uniform(0.02, 0.08, n), jnp.float32)
    axis_cam = np.stack([np.cos(t := rng.uniform(-1.5, 1.5, n)), np.sin(t), np.zeros(n)], -1)
    p_cam = C.pixel_to_camera(cam, uv, z)
    f1 = p_cam - 0.5 * width_m[:, None] * axis_cam
    f2 = p_cam + 0.5 * width_m[:, None] * axis_cam
    (uv1, _), (uv2, _) = C.camera_to_pixel(cam, f1), C.camera_to_pixel(cam, f2)
    d = uv2 - uv1
    g = make_grasps(uv, jnp.arctan2(d[:, 1], d[:, 0]), jnp.linalg.norm(d, axis=-1))
    poses = lift_grasps(g, jnp.zeros((64, 64)), cam, grasp_depth=z)
    np.testing.assert_allclose(poses.position, C.camera_to_world(cam, p_cam), atol=1e-5)
    np.testing.assert_allclose(poses.width, width_m, rtol=1e-4)
    closing_world = np.asarray(C.camera_to_world(cam, f2) - C.camera_to_world(cam, f1))
    # x axis = closing axis made orthogonal to the camera ray
    ray = np.asarray(poses.rotation[:, :, 2])
    proj = closing_world - np.sum(closing_world * ray, -1, keepdims=True) * ray
    proj /= np.linalg.norm(proj, axis=-1, keepdims=True)
    np.testing.assert_allclose(poses.rotation[:, :, 0], proj, atol=1e-5)
    R = np.asarray(poses.rotation)
    np.testing.assert_allclose(np.einsum("nji,njk->nik", R, R), np.broadcast_to(np.eye(3), R.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-5)


def test_lift_top_down_yaw_position_from_depth_image():
    cam = _cam_top_down()
    g = make_grasps([[31.5, 31.5], [40.0, 20.0]], [0.0, 0.7], [16.0, 16.0])
    depth = jnp.full((64, 64), 0.5)  # a box top 0.1 m above the table
    poses = lift_grasps(g, depth, cam, approach="top_down", depth_offset=0.02)
    np.testing.assert_allclose(poses.position[0], [0.1, 0.0, 0.1 - 0.02], atol=1e-6)
    np.testing.assert_allclose(poses.rotation[:, :, 2], [[0, 0, -1], [0, 0, -1]], atol=1e-6)
    # image u = world +x, image v = world -y (image up = +y): θ in the image is -yaw in the world
    np.testing.assert_allclose(poses.yaw, [0.0, -0.7], atol=1e-5)
    np.testing.assert_allclose(poses.width, 16.0 * 0.5 / 80.0, rtol=1e-5)
    # decoded world grasp points project back onto the planar grasp centre
    uv, _ = C.world_to_pixel(cam, poses.position - 0.02 * poses.rotation[:, :, 2])
    np.testing.assert_allclose(uv, g.center, atol=1e-3)


def test_stack_maps_channel_order():
    m = encode_grasp_maps(_scene(), 32, 32, MAXW)
    s = stack_maps(m)
    assert s.shape == (32, 32, 4)
    np.testing.assert_array_equal(s[..., 3], m["width"])
