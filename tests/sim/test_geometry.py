"""jaxrobot.sim.geometry against MuJoCo's own quaternion routines (a second implementation) and round trips."""

from __future__ import annotations

import math

import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from jaxrobot.sim import geometry as g
from jaxrobot.vision.camera import quat_to_mat

RNG = np.random.default_rng(0)


def _unit_quats(n):
    q = RNG.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _mj_mat(q):
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, np.float64))
    return m.reshape(3, 3)


def test_quat_mul_matches_mujoco():
    a, b = _unit_quats(5), _unit_quats(5)
    got = np.asarray(g.quat_mul(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)))  # broadcasting
    for i in range(5):
        want = np.zeros(4)
        mujoco.mju_mulQuat(want, a[i], b[i])
        np.testing.assert_allclose(got[i], want, atol=1e-6)


def test_rotation_conversions_round_trip():
    for q in _unit_quats(8):
        rot = _mj_mat(q)
        got = np.asarray(g.matrix_to_quat(jnp.asarray(rot, jnp.float32)))
        np.testing.assert_allclose(got, q * np.sign(q[0]), atol=1e-5)  # w >= 0
        ypr = np.asarray(g.matrix_to_euler(jnp.asarray(rot, jnp.float32)))
        np.testing.assert_allclose(np.asarray(g.euler_to_matrix(*(jnp.float32(a) for a in ypr))), rot, atol=1e-5)
    for axis_angle in RNG.normal(size=(4, 3)):
        want = np.zeros(4)
        angle = float(np.linalg.norm(axis_angle))
        mujoco.mju_axisAngle2Quat(want, axis_angle / angle, angle)
        np.testing.assert_allclose(np.asarray(g.rotvec_to_quat(jnp.asarray(axis_angle, jnp.float32))), want,
                                   atol=1e-6)
    np.testing.assert_allclose(np.asarray(g.rotvec_to_quat(jnp.zeros(3))), [1, 0, 0, 0])


@pytest.mark.parametrize("yaw", [-3.0, -0.7, 0.0, 0.4, 2.9])
def test_yaw_helpers(yaw):
    y = jnp.float32(yaw)
    q = g.yaw_quat(y)
    assert float(g.quat_yaw(q)) == pytest.approx(yaw, abs=1e-6)
    np.testing.assert_allclose(np.asarray(g.yaw_matrix(y)), _mj_mat(np.asarray(q)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(g.euler_to_matrix(y, 0.0, 0.0)), np.asarray(g.yaw_matrix(y)), atol=1e-6)
    wrapped = float(g.wrap_angle(y + 4 * math.pi))
    assert -math.pi <= wrapped < math.pi and wrapped == pytest.approx(yaw, abs=1e-5)
    quarter = float(g.wrap_quarter(y))
    assert -math.pi / 4 <= quarter < math.pi / 4
    assert (yaw - quarter) / (math.pi / 2) == pytest.approx(round((yaw - quarter) / (math.pi / 2)), abs=1e-5)


def test_pose_matrix_and_perturb():
    q = jnp.asarray(_unit_quats(1)[0], jnp.float32)
    pos = jnp.array([0.1, -0.2, 0.3])
    t = np.asarray(g.pose_matrix(pos, q))
    np.testing.assert_allclose(t[:3, :3], np.asarray(quat_to_mat(q)))
    np.testing.assert_allclose(t[:3, 3], pos)
    np.testing.assert_array_equal(t[3], [0, 0, 0, 1])
    # moving by (dt, dr) in the pose's own frame composes on the right: T' = T [R(dr), dt]
    dt, dr = jnp.array([0.01, 0.02, -0.03]), jnp.array([0.1, -0.05, 0.2])
    p2, q2 = g.perturb(pos, q, dt, dr)
    want = t @ np.asarray(g.pose_matrix(dt, g.rotvec_to_quat(dr)))
    np.testing.assert_allclose(np.asarray(g.pose_matrix(p2, q2)), want, atol=1e-6)
