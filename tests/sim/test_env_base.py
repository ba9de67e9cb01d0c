"""The shared parts of ``Env``: action bounds from actuator ranges, observation spec, camera intrinsics.

Nothing here compiles: the observation spec is checked against ``jax.eval_shape`` of ``reset``.
"""

import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.sim import registry, render
from jaxrobot.sim.env import Env, EnvConfig

GRIPPER_TASKS = ("pick_cube", "peg_insertion", "grasp_objects")
# World-frame tcp target bounds of the Cartesian gripper: joint ranges (x +-0.25, y +-0.3, z -0.35..0.1,
# yaw +-3.1416, finger 0..0.04) around the tcp's home position (0.5, 0, 0.75 - 0.075).
GRIPPER_LOW = np.array([0.25, -0.3, 0.325, -3.1416, 0.0], np.float32)
GRIPPER_HIGH = np.array([0.75, 0.3, 0.775, 3.1416, 0.04], np.float32)


@pytest.mark.parametrize("task", GRIPPER_TASKS)
def test_gripper_action_bounds(task):
    env = registry.load(task)
    np.testing.assert_allclose(env.action_low, GRIPPER_LOW, atol=1e-6)
    np.testing.assert_allclose(env.action_high, GRIPPER_HIGH, atol=1e-6)
    assert env.action_low.dtype == np.float32 and env.action_size == 5
    # action = ctrl + offset: the home keyframe's controls are the tcp at home, open.
    home = env.mj_model.key_ctrl[0] + np.asarray(env._ctrl_offset)
    np.testing.assert_allclose(home[[0, 1, 2, 4]], [0.5, 0.0, 0.675, 0.04], atol=1e-6)


def test_push_t_bounds_are_the_workspace():
    from jaxrobot.sim.tasks.push_t import WORKSPACE

    env = registry.load("push_t")
    np.testing.assert_array_equal(env.action_low, np.full(2, -WORKSPACE, np.float32))
    np.testing.assert_array_equal(env.action_high, np.full(2, WORKSPACE, np.float32))
    np.testing.assert_array_equal(np.asarray(env._ctrl_offset), np.zeros(2, np.float32))
    clipped = np.asarray(env.clip_action(jnp.array([1.0, -1.0])))
    np.testing.assert_array_equal(clipped, [WORKSPACE, -WORKSPACE])


@pytest.mark.parametrize(
    ("task", "cameras", "state_dim", "depth"),
    [
        ("pick_cube", ("front", "top"), 12, False),
        ("push_t", ("top",), 5, False),
        ("peg_insertion", ("front",), 15, False),
        ("grasp_objects", ("grasp_cam",), 12, True),
    ],
)
def test_observation_spec_matches_reset(task, cameras, state_dim, depth):
    """The spec names exactly the observation's keys, shapes and dtypes (state, images, depth)."""
    env = registry.load(task, overrides={"image_size": 8, "cameras": cameras})
    spec = env.observation_spec()
    expect = {"state": ((state_dim,), "float32")}
    for c in cameras:
        expect[f"image_{c}"] = ((8, 8, 3), "uint8")
        if depth:
            expect[f"depth_{c}"] = ((8, 8), "float32")
    assert spec == expect
    obs = jax.eval_shape(env.reset, jax.random.key(0)).obs
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in obs.items()} == spec
    # Without images only the state remains.
    assert registry.load(task).observation_spec() == {"state": ((state_dim,), "float32")}


def test_camera_intrinsics_pinhole(env):
    """fx = fy = (size / 2) / tan(fovy / 2), principal point at the image centre; any size on request."""
    for cam in ("front", "top"):
        fovy = env.mj_model.cam_fovy[render.camera_id(env.mj_model, cam)]
        k = env.camera_intrinsics(cam, size=40)
        f = 20 / math.tan(math.radians(fovy) / 2)
        np.testing.assert_allclose(k, [[f, 0, 20], [0, f, 20], [0, 0, 1]], rtol=1e-6)
    k_default = registry.load("pick_cube", overrides={"image_size": 16}).camera_intrinsics("top")
    assert k_default[0, 2] == 8


class _Bare(Env):
    """A minimal task over a one-slider model, to test the base class defaults."""

    XML = """<mujoco><worldbody><body><joint name="s" type="slide"/><geom size="0.1"/></body></worldbody>
             <actuator><position joint="s" ctrlrange="-1 2"/></actuator></mujoco>"""

    def _build_mj_model(self):
        return mujoco.MjModel.from_xml_string(self.XML)

    def reset_with(self, model, rng):
        raise NotImplementedError

    def step_with(self, model, state, action):
        raise NotImplementedError


def test_base_defaults_and_errors():
    env = _Bare(EnvConfig())
    np.testing.assert_array_equal(env.action_low, [-1.0])
    np.testing.assert_array_equal(env.action_high, [2.0])
    with pytest.raises(NotImplementedError, match="state_dim"):
        env.observation_spec()

    class WithState(_Bare):
        state_dim = 3
        ctrl_offset = (0.5,)

    env = WithState(EnvConfig())
    assert env.observation_spec() == {"state": ((3,), "float32")}
    np.testing.assert_array_equal(env.action_low, [-0.5])

    class BadOffset(_Bare):
        ctrl_offset = (0.0, 1.0)

    with pytest.raises(ValueError, match="ctrl_offset"):
        BadOffset(EnvConfig())

    class Unlimited(_Bare):
        XML = _Bare.XML.replace(' ctrlrange="-1 2"', "")

    with pytest.raises(NotImplementedError, match="ctrlrange"):
        _ = Unlimited(EnvConfig()).action_low
