"""Image-based visual servoing (IBVS) for point features, plus a kinematic camera simulator.

Control law (Chaumette & Hutchinson, "Visual servo control, Part I", IEEE RAM 2006, eqs. 1-12):
``e = s - s*`` with s the stacked normalised image points (x, y) = ((u-cx)/fx, (v-cy)/fy), and the
camera twist ``v = -λ L̂⁺ e``, where the interaction matrix of one point at depth Z is

    L = [[-1/Z,    0, x/Z,     x·y, -(1+x²),  y],
         [   0, -1/Z, y/Z,  1 + y²,    -x·y, -x]]

so that ``ṡ = L v`` for the camera's twist v = (vx, vy, vz, ωx, ωy, ωz) expressed in the camera frame
(OpenCV axes, see :mod:`jaxrobot.vision.camera`). L̂ is L at the current features and depths
(``current``), at the desired ones (``desired``), or their mean (``mean``, Malis 2004), the choice
that trades global behaviour against needing the current depth.

With L̂ = L and L square and invertible (three points), ``ė = -λ e`` exactly: ‖e‖ decays as
exp(-λ t). Everything here is pure ``jnp``, so the law ``jit``s and ``vmap``s over many cameras.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

Mode = Literal["current", "desired", "mean"]


def interaction_matrix_point(x: jax.Array, y: jax.Array, z: jax.Array) -> jax.Array:
    """[..., 2, 6] interaction matrix of normalised points (x, y) at depth Z (all [...])."""
    iz = 1.0 / z
    zero = jnp.zeros_like(x)
    row1 = jnp.stack([-iz, zero, x * iz, x * y, -(1 + x * x), y], -1)
    row2 = jnp.stack([zero, -iz, y * iz, 1 + y * y, -x * y, -x], -1)
    return jnp.stack([row1, row2], -2)


def interaction_matrix(s: jax.Array, z: jax.Array) -> jax.Array:
    """[2N, 6] stacked interaction matrix of N points s [N, 2] at depths z [N] (rows x1, y1, x2, ...)."""
    return interaction_matrix_point(s[:, 0], s[:, 1], z).reshape(-1, 6)


def ibvs_velocity(s: jax.Array, s_star: jax.Array, z: jax.Array | None = None, z_star: jax.Array | None = None,
                  lam: float = 0.5, mode: Mode = "current") -> tuple[jax.Array, jax.Array]:
    """Camera twist [6] = -λ L̂⁺ (s - s*) for features s, s* [N, 2] (normalised coordinates).

    ``z`` are the current depths [N] (needed for ``current`` and ``mean``), ``z_star`` the desired
    ones (for ``desired`` and ``mean``). Returns (twist, error [2N]).
    """
    e = (s - s_star).reshape(-1)
    if mode == "current":
        lhat = interaction_matrix(s, z)
    elif mode == "desired":
        lhat = interaction_matrix(s_star, z_star)
    elif mode == "mean":
        lhat = 0.5 * (interaction_matrix(s, z) + interaction_matrix(s_star, z_star))
    else:
        raise ValueError(f"mode must be 'current', 'desired' or 'mean', got {mode!r}")
    return -lam * jnp.linalg.pinv(lhat) @ e, e


# ---------------------------------------------------------------- kinematics


def hat(w: jax.Array) -> jax.Array:
    """Skew-symmetric [3, 3] matrix of w [3]."""
    z = jnp.zeros_like(w[0])
    return jnp.array([[z, -w[2], w[1]], [w[2], z, -w[0]], [-w[1], w[0], z]])


def se3_exp(twist: jax.Array) -> jax.Array:
    """[4, 4] exponential of a twist (v, ω) [6] (Rodrigues; series near ω = 0)."""
    v, w = twist[:3], twist[3:]
    th2 = jnp.dot(w, w)
    small = th2 < 1e-8
    th2s = jnp.where(small, 1.0, th2)
    th = jnp.sqrt(th2s)
    a = jnp.where(small, 1.0 - th2 / 6.0, jnp.sin(th) / th)
    b = jnp.where(small, 0.5 - th2 / 24.0, (1.0 - jnp.cos(th)) / th2s)
    c = jnp.where(small, 1.0 / 6.0 - th2 / 120.0, (th - jnp.sin(th)) / (th2s * th))
    W = hat(w)
    W2 = W @ W
    eye = jnp.eye(3, dtype=twist.dtype)
    R = eye + a * W + b * W2
    t = (eye + b * W + c * W2) @ v
    top = jnp.concatenate([R, t[:, None]], 1)
    return jnp.concatenate([top, jnp.array([[0.0, 0.0, 0.0, 1.0]], twist.dtype)], 0)


def so3_log(R: jax.Array) -> jax.Array:
    """Rotation vector θu [3] of a rotation matrix [3, 3] (valid for θ < π)."""
    cos = jnp.clip((jnp.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    th = jnp.arccos(cos)
    vee = jnp.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    small = th < 1e-4
    factor = jnp.where(small, 0.5 + th**2 / 12.0, th / (2.0 * jnp.sin(jnp.where(small, 1.0, th))))
    return factor * vee


def se3_log(T: jax.Array) -> jax.Array:  # noqa: N803
    """Twist (v, ω) [6] with ``se3_exp(twist) == T`` for a rigid transform [4, 4] (rotation < π)."""
    w = so3_log(T[:3, :3])
    th2 = jnp.dot(w, w)
    small = th2 < 1e-8
    th2s = jnp.where(small, 1.0, th2)
    th = jnp.sqrt(th2s)
    # V^-1 = I - W/2 + (1/θ² - (1 + cos θ) / (2 θ sin θ)) W²
    c = jnp.where(small, 1.0 / 12.0, 1.0 / th2s - (1.0 + jnp.cos(th)) / (2.0 * th * jnp.sin(th)))
    W = hat(w)
    v = (jnp.eye(3, dtype=T.dtype) - 0.5 * W + c * (W @ W)) @ T[:3, 3]
    return jnp.concatenate([v, w])


def pbvs_velocity(world_from_camera: jax.Array, goal_pose: jax.Array, lam: float = 0.5) -> jax.Array:
    """Pose-based servoing twist [6] (camera frame): ``λ · log(T_cur⁻¹ · T_goal)``.

    Held constant, this twist moves the camera along the SE(3) geodesic to the goal; under the law
    the pose error decays as exp(-λ t). It needs the relative pose, which simulation knows, so it
    doubles as a label for deep visual servoing.
    """
    R, t = world_from_camera[:3, :3], world_from_camera[:3, 3]
    inv = jnp.concatenate([jnp.concatenate([R.T, (-R.T @ t)[:, None]], 1),
                           jnp.array([[0.0, 0.0, 0.0, 1.0]], world_from_camera.dtype)], 0)
    return lam * se3_log(inv @ goal_pose)


def integrate_camera(world_from_camera: jax.Array, twist: jax.Array, dt: float) -> jax.Array:
    """Move a camera by its body-frame twist held for ``dt`` seconds: T ← T · exp(ξ dt)."""
    return world_from_camera @ se3_exp(twist * dt)


def project_normalized(world_from_camera: jax.Array, points: jax.Array) -> tuple[jax.Array, jax.Array]:
    """World points [N, 3] → normalised image points [N, 2] and depths [N] for a camera pose [4, 4]."""
    R, t = world_from_camera[:3, :3], world_from_camera[:3, 3]
    p = (points - t) @ R  # R^T (p - t), row-wise
    return p[:, :2] / p[:, 2:3], p[:, 2]


def simulate_ibvs(world_from_camera: jax.Array, points: jax.Array, goal_pose: jax.Array, lam: float = 0.5,
                  dt: float = 0.05, steps: int = 200, mode: Mode = "current", depth_known: bool = True
                  ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Close the IBVS loop kinematically: project, apply the law, integrate the twist, repeat.

    The goal features and depths come from projecting ``points`` [N, 3] from ``goal_pose``. With
    ``depth_known=False`` the current mode uses the desired depths in place of the true ones (the
    usual approximation without a depth sensor). Returns (final pose [4, 4], error norms [steps + 1],
    twists [steps, 6]). ``jit`` and ``vmap`` (over starts) friendly.
    """
    s_star, z_star = project_normalized(goal_pose, points)

    def step(T, _):
        s, z = project_normalized(T, points)
        v, e = ibvs_velocity(s, s_star, z if depth_known else z_star, z_star, lam, mode)
        return integrate_camera(T, v, dt), (jnp.linalg.norm(e), v)

    T, (errs, twists) = jax.lax.scan(step, world_from_camera, None, length=steps)
    s, _ = project_normalized(T, points)
    final = jnp.linalg.norm((s - s_star).reshape(-1))
    return T, jnp.concatenate([errs, final[None]]), twists
