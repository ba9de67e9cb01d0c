"""mjx.ray rendering: depth against analytic distances to the table and cube boxes; back-projection."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.sim import registry, render

H = W = 24
CUBE = np.array([0.6, 0.1, 0.42])


@pytest.fixture(scope="module")
def scene():
    env = registry.load("pick_cube", overrides={"image_size": H, "cameras": ("front", "top")})
    qpos = np.array(env.mj_model.key_qpos[0], np.float32)
    qpos[0:3] = CUBE
    qpos[7:10] = [-0.25, -0.3, 0.1]  # gripper parked in a corner, above the table
    data = jax.jit(env.init_data)(env.mjx_model, jnp.asarray(qpos))

    @jax.jit
    def both(data):
        return [render.render_rgbd(env.mjx_model, data, render.camera_id(env.mj_model, c),
                                   env.camera_intrinsics(c), H, W) for c in ("top", "front")]

    return env, data, both(data)


def _backproject(env, data, camera, depth):
    cam = render.camera_id(env.mj_model, camera)
    k = env.camera_intrinsics(camera)
    pos, rot = (np.asarray(x) for x in render.extrinsics(data, cam))
    p_cam = render.pixel_directions(k, H, W) * depth[..., None]
    return p_cam @ rot.T + pos


def test_top_depth_matches_analytic_boxes(scene):
    env, data, ((depth, rgb), _) = scene
    depth = np.asarray(depth)
    world = _backproject(env, data, "top", np.ones((H, W)))  # points at unit z-depth on each pixel ray
    cam = np.array([0.5, 0.0, 1.2])
    ray = world - cam  # z component is -1 for the top camera looking straight down

    def hits(z, x0, x1, y0, y1, margin):
        t = cam[2] - z  # z-depth of the horizontal plane
        p = cam + ray * t
        inside = (p[..., 0] > x0 + margin) & (p[..., 0] < x1 - margin)
        inside &= (p[..., 1] > y0 + margin) & (p[..., 1] < y1 - margin)
        return inside, t

    on_cube, t_cube = hits(0.44, CUBE[0] - 0.02, CUBE[0] + 0.02, CUBE[1] - 0.02, CUBE[1] + 0.02, 0.004)
    near_cube, _ = hits(0.44, CUBE[0] - 0.02, CUBE[0] + 0.02, CUBE[1] - 0.02, CUBE[1] + 0.02, -0.01)
    on_table, t_table = hits(0.40, 0.2, 0.8, -0.4, 0.4, 0.01)
    gripper_zone = (ray[..., 0] * 0.8 + cam[0] < 0.35) & (ray[..., 1] * 0.8 + cam[1] < -0.2)
    table_only = on_table & ~near_cube & ~gripper_zone
    assert on_cube.sum() >= 1 and table_only.sum() > 100
    np.testing.assert_allclose(depth[on_cube], t_cube, atol=2e-4)
    np.testing.assert_allclose(depth[table_only], t_table, atol=2e-4)
    # Colour comes from the hit geom: the cube is green, the table brown.
    c = np.asarray(rgb)[on_cube][0]
    assert c[1] > 2 * c[0] and c[1] > 2 * c[2]


def test_front_backprojection_lands_on_table(scene):
    """Oblique camera: pixels back-projected with their depth land on the table top plane z = 0.40."""
    env, data, (_, (depth, _)) = scene
    depth = np.asarray(depth)
    p = _backproject(env, data, "front", depth)
    table = (depth > 0) & (np.abs(p[..., 2] - 0.40) < 0.005) & (np.abs(p[..., 0] - 0.5) < 0.28)
    assert table.sum() > 50
    np.testing.assert_allclose(p[table][:, 2], 0.40, atol=2e-4)
    assert np.all(np.abs(p[table][:, 1]) < 0.4 + 1e-3)
    # Misses report depth 0 (invalid), and the intrinsics are a proper pinhole matrix.
    k = env.camera_intrinsics("front")
    assert k[0, 0] == k[1, 1] and k[0, 2] == W / 2 and k[2, 2] == 1


def test_image_observations(scene):
    env = scene[0]
    spec = env.observation_spec()
    assert spec["image_front"] == ((H, W, 3), "uint8") and spec["image_top"] == ((H, W, 3), "uint8")
    state = jax.eval_shape(env.reset, jax.random.key(0))
    assert state.obs["image_top"].shape == (H, W, 3) and state.obs["image_top"].dtype == jnp.uint8
