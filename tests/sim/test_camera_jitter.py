"""Camera pose jitter (domain randomisation): seeded, bounded, consistent between image and extrinsics.

One compiled function renders the ``front`` camera's depth (16 x 16) and returns its extrinsics for a batch
of (randomised) pick_cube models; MuJoCo C's ``mj_forward`` is the oracle for the jittered extrinsics.
"""

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.config import ConfigError, validate
from jaxrobot.sim import registry, render
from jaxrobot.sim.geometry import quat_mul
from jaxrobot.sim.randomize import CameraJitter, model_axes, randomize_models
from jaxrobot.sim.tasks.pick_cube import ASSET

S = 16
N = 4
TABLE_Z = 0.40
NOMINAL = ["randomization.friction_scale=(1.0, 1.0)", "randomization.mass_scale=(1.0, 1.0)",
           "randomization.size_scale=(1.0, 1.0)", "randomization.rgba_jitter=0.0",
           "randomization.camera.position=0.0", "randomization.camera.rotation=0.0"]


@pytest.fixture(scope="module")
def render_fn(env):
    """models (batched along model_axes) -> (depth [N, S, S], cam pos [N, 3], cam rot [N, 3, 3])."""
    cam = render.camera_id(env.mj_model, "front")
    k = env.camera_intrinsics("front", size=S)
    qpos = np.array(env.mj_model.key_qpos[0], np.float32)
    qpos[7:10] = [-0.25, -0.3, 0.1]  # gripper parked in a corner

    def one(model):
        data = env.init_data(model, jnp.asarray(qpos))
        depth, _ = render.render_rgbd(model, data, cam, k, S, S)
        pos, rot = render.extrinsics(data, cam)
        return depth, pos, rot

    fn = jax.jit(jax.vmap(one, in_axes=(model_axes(env),)))
    return lambda models: [np.asarray(x) for x in fn(models)]


def _nominal_batch(env):
    m = env.mjx_model
    return m.tree_replace({f: jnp.stack([getattr(m, f)] * N) for f in env.randomized_fields})


def _keys(seed):
    return jax.random.split(jax.random.key(seed), N)


def _angle(q0, q1):
    return 2 * np.arccos(np.clip(np.abs(np.sum(q0 * q1, axis=-1)), 0.0, 1.0))


def test_jitter_seeded_bounded_and_only_listed_cameras(env):
    cfg = env.config.randomization.camera
    assert cfg.position > 0 and cfg.rotation > 0 and env.config.cameras == ("front",)
    a, b = randomize_models(env, _keys(0)), randomize_models(env, _keys(0))
    c = randomize_models(env, _keys(1))
    np.testing.assert_array_equal(np.asarray(a.cam_pos), np.asarray(b.cam_pos))
    np.testing.assert_array_equal(np.asarray(a.cam_quat), np.asarray(b.cam_quat))
    assert not np.allclose(np.asarray(a.cam_pos), np.asarray(c.cam_pos))
    front, top = (render.camera_id(env.mj_model, n) for n in ("front", "top"))
    dpos = np.asarray(a.cam_pos[:, front]) - env.mj_model.cam_pos[front]
    assert np.all(np.abs(dpos) <= cfg.position + 1e-6) and np.abs(dpos).max() > cfg.position / 10
    q = np.asarray(a.cam_quat[:, front])
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-6)
    angle = _angle(q, env.mj_model.cam_quat[front])
    assert np.all(angle <= cfg.rotation + 1e-3) and angle.max() > cfg.rotation / 10
    # The camera that is not an observation camera keeps its pose.
    for f in ("cam_pos", "cam_quat"):
        nominal = np.asarray(getattr(env.mjx_model, f)[top])
        batch = np.broadcast_to(nominal, (N, nominal.size))
        np.testing.assert_array_equal(np.asarray(getattr(a, f)[:, top]), batch)


def test_extrinsics_follow_the_jittered_pose(env, render_fn):
    """MJX's forward kinematics turns the jittered cam_pos/cam_quat into the extrinsics MuJoCo C computes."""
    models = randomize_models(env, _keys(0))
    _, pos, rot = render_fn(models)
    front = render.camera_id(env.mj_model, "front")
    m = mujoco.MjModel.from_xml_path(str(ASSET))
    d = mujoco.MjData(m)
    for i in range(N):
        m.cam_pos[front] = np.asarray(models.cam_pos[i, front])
        m.cam_quat[front] = np.asarray(models.cam_quat[i, front])
        mujoco.mj_forward(m, d)
        np.testing.assert_allclose(pos[i], d.cam_xpos[front], atol=1e-6)
        np.testing.assert_allclose(rot[i], d.cam_xmat[front].reshape(3, 3), atol=1e-6)
    nominal_rot = env.mj_model.cam_mat0[front].reshape(3, 3)
    assert np.abs(rot - nominal_rot).max() > 1e-3


def test_jittered_depth_changes_and_matches_its_extrinsics(env, render_fn):
    """The image moves with the camera: back-projected with the env's own (jittered) extrinsics, table
    pixels land on the table plane; with the nominal extrinsics they do not."""
    d_nom, pos_nom, rot_nom = render_fn(_nominal_batch(env))
    depth, pos, rot = render_fn(randomize_models(env, _keys(0)))
    assert np.abs(depth - d_nom).max() > 5e-3
    np.testing.assert_array_equal(render_fn(randomize_models(env, _keys(0)))[0], depth)  # deterministic
    k = env.camera_intrinsics("front", size=S)
    rays = render.pixel_directions(k, S, S)
    nominal_world = rays * d_nom[0][..., None] @ rot_nom[0].T + pos_nom[0]
    table = (d_nom[0] > 0) & (np.abs(nominal_world[..., 2] - TABLE_Z) < 1e-3)
    assert table.sum() > 60
    for i in range(N):
        own = rays * depth[i][..., None] @ rot[i].T + pos[i]
        on_plane = np.abs(own[..., 2] - TABLE_Z) < 5e-4
        assert (on_plane & table).sum() >= table.sum() - 12  # edges may move off the table / onto the cube
        wrong = rays * depth[i][..., None] @ rot_nom[0].T + pos_nom[0]
        assert np.median(np.abs(wrong[..., 2] - TABLE_Z)[table & on_plane]) > 1e-3


def test_zero_jitter_reproduces_the_nominal_camera(render_fn):
    """With every range collapsed to its nominal value, the randomised models render bit-identically."""
    flat = registry.load("pick_cube", overrides=NOMINAL)
    models = randomize_models(flat, _keys(0))
    for f in ("cam_pos", "cam_quat"):
        np.testing.assert_array_equal(np.asarray(getattr(models, f)),
                                      np.stack([np.asarray(getattr(flat.mjx_model, f))] * N))
    got = render_fn(models)
    ref = render_fn(_nominal_batch(flat))
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_quat_mul_and_config_checks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat_mul(jnp.asarray(a), jnp.asarray(b)), np.float64))
    qa, qb = np.zeros(9), np.zeros(9)
    mujoco.mju_quat2Mat(qa, a)
    mujoco.mju_quat2Mat(qb, b)
    ref = qa.reshape(3, 3) @ qb.reshape(3, 3)
    np.testing.assert_allclose(mat.reshape(3, 3), ref, atol=1e-6)
    with pytest.raises(ConfigError, match="position"):
        validate(CameraJitter(position=-0.1))
    with pytest.raises(ConfigError, match="rotation"):
        validate(CameraJitter(rotation=1.0))
    env = registry.load("pick_cube", overrides=["randomization.camera.position=0.03"])
    assert env.config.randomization.camera.position == 0.03
