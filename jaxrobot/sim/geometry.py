"""Rotation and pose maths shared by the sim tasks: quaternions (w, x, y, z, MuJoCo's order), Euler angles,
rotation vectors, yaw angles and 4 x 4 poses. Pure ``jax.numpy`` functions, ``jit``/``vmap``-able.

One home for what the tasks and domain randomisation used to define in their own files; the camera-model
helpers it builds on (``quat_to_mat``, ``make_pose``) are :mod:`jaxrobot.vision.camera`'s.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxrobot.vision.camera import make_pose, quat_to_mat

# ---------------------------------------------------------------- quaternions


def quat_mul(a: jax.Array, b: jax.Array) -> jax.Array:
    """Hamilton product of (w, x, y, z) quaternions (broadcasting): the rotation ``b`` then ``a``."""
    aw, ax, ay, az = (a[..., i] for i in range(4))
    bw, bx, by, bz = (b[..., i] for i in range(4))
    return jnp.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def yaw_quat(yaw: jax.Array) -> jax.Array:
    """Quaternion [4] of a rotation by ``yaw`` (scalar) about world z."""
    return jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])


def quat_yaw(q: jax.Array) -> jax.Array:
    """Yaw (rotation about world z) of a (w, x, y, z) quaternion."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return jnp.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def rotvec_to_quat(r: jax.Array) -> jax.Array:
    """Quaternion (w, x, y, z) of a rotation vector [3]."""
    th = jnp.linalg.norm(r)
    small = th < 1e-8
    s = jnp.where(small, 0.5, jnp.sin(0.5 * th) / jnp.where(small, 1.0, th))
    return jnp.concatenate([jnp.cos(0.5 * th)[None], s * r])


# ---------------------------------------------------------------- rotation matrices


def euler_to_matrix(yaw: jax.Array, pitch: jax.Array, roll: jax.Array) -> jax.Array:
    """``Rz(yaw) Ry(pitch) Rx(roll)`` [..., 3, 3]: the gripper orientation the 6-DoF scene's hinges make."""
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (jnp.cos, jnp.sin))
    return jnp.stack([
        jnp.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
        jnp.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
        jnp.stack([-sp, cp * sr, cp * cr], -1),
    ], -2)


def matrix_to_euler(rot: jax.Array) -> jax.Array:
    """(yaw, pitch, roll) [..., 3] with ``rot = Rz(yaw) Ry(pitch) Rx(roll)`` (pitch in [-pi/2, pi/2])."""
    pitch = jnp.arcsin(jnp.clip(-rot[..., 2, 0], -1.0, 1.0))
    roll = jnp.arctan2(rot[..., 2, 1], rot[..., 2, 2])
    yaw = jnp.arctan2(rot[..., 1, 0], rot[..., 0, 0])
    return jnp.stack([yaw, pitch, roll], -1)


def matrix_to_quat(rot: jax.Array) -> jax.Array:
    """Unit quaternion (w, x, y, z) [..., 4] of rotation matrices [..., 3, 3] (w >= 0).

    Shepperd's method: every branch is computed and the numerically largest of (w, x, y, z) picks one.
    """
    m = rot
    xx, yy, zz = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    t = jnp.stack([1 + xx + yy + zz, 1 + xx - yy - zz, 1 - xx + yy - zz, 1 - xx - yy + zz], -1)
    a, b, c = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    d, e, f = m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2]
    cands = jnp.stack([
        jnp.stack([t[..., 0], a, b, c], -1),
        jnp.stack([a, t[..., 1], d, e], -1),
        jnp.stack([b, d, t[..., 2], f], -1),
        jnp.stack([c, e, f, t[..., 3]], -1),
    ], -2)
    i = jnp.argmax(t, axis=-1)
    q = jnp.take_along_axis(cands, i[..., None, None], axis=-2)[..., 0, :]
    q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
    return q * jnp.where(q[..., :1] < 0, -1.0, 1.0)


def yaw_matrix(yaw: jax.Array) -> jax.Array:
    """[3, 3] rotation by ``yaw`` (scalar) about z."""
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    return jnp.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


# ---------------------------------------------------------------- poses


def pose_matrix(pos: jax.Array, quat: jax.Array) -> jax.Array:
    """[4, 4] world-from-body transform of a position [3] and quaternion [4]."""
    return make_pose(quat_to_mat(quat), pos)


def perturb(pos: jax.Array, quat: jax.Array, dt: jax.Array, dr: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Pose moved by translation ``dt`` and rotation vector ``dr``, both in its own frame."""
    return pos + quat_to_mat(quat) @ dt, quat_mul(quat, rotvec_to_quat(dr))


# ---------------------------------------------------------------- angles


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Angle into [-pi, pi)."""
    return jnp.mod(angle + math.pi, 2 * math.pi) - math.pi


def wrap_quarter(angle: jax.Array) -> jax.Array:
    """Angle modulo pi/2 into [-pi/4, pi/4): a square (cube, peg, hole) looks the same after a quarter turn."""
    return jnp.mod(angle + math.pi / 4, math.pi / 2) - math.pi / 4
