"""IBVS: the interaction matrix against the formula and against differentiated projection; closed-loop
kinematic simulation with exponential error decay and four-point convergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.vision import camera as C
from jaxrobot.vision.ibvs import (
    ibvs_velocity,
    integrate_camera,
    interaction_matrix,
    interaction_matrix_point,
    pbvs_velocity,
    project_normalized,
    se3_exp,
    se3_log,
    simulate_ibvs,
)

SQUARE = jnp.array([[-0.05, -0.05, 0.0], [0.05, -0.05, 0.0], [0.05, 0.05, 0.0], [-0.05, 0.05, 0.0]])
GOAL = C.look_at((0.0, 0.0, 0.5), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))


def _displaced(dx=(0.04, -0.03, 0.12), rot=(0.1, -0.05, 0.4)):
    return GOAL @ se3_exp(jnp.array([*dx, *rot], jnp.float32))


def test_matrix_matches_formula():
    x, y, z = 0.3, -0.2, 1.5
    expect = np.array([[-1 / z, 0, x / z, x * y, -(1 + x * x), y],
                       [0, -1 / z, y / z, 1 + y * y, -x * y, -x]])
    np.testing.assert_allclose(interaction_matrix_point(jnp.float32(x), jnp.float32(y), jnp.float32(z)), expect,
                               rtol=1e-6)


def test_matrix_is_derivative_of_projection():
    """ṡ = L v: differentiate the projection along the camera twist (second implementation)."""
    T = _displaced()
    pts = SQUARE + jnp.array([0.0, 0.0, 0.03]) * jnp.arange(4)[:, None]
    s, z = project_normalized(T, pts)
    L = interaction_matrix(s, z)
    for i, v in enumerate(jnp.eye(6)):
        _, ds = jax.jvp(lambda t, v=v: project_normalized(integrate_camera(T, v, t), pts)[0], (0.0,), (1.0,))
        np.testing.assert_allclose(ds.reshape(-1), L[:, i], rtol=1e-3, atol=1e-4, err_msg=f"column {i}")


def test_se3_exp_is_rigid_and_inverts():
    xi = jnp.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6])
    T = se3_exp(xi)
    np.testing.assert_allclose(T[:3, :3].T @ T[:3, :3], np.eye(3), atol=1e-6)
    np.testing.assert_allclose(T @ se3_exp(-xi), np.eye(4), atol=1e-6)
    np.testing.assert_allclose(se3_exp(jnp.array([1.0, 2, 3, 0, 0, 0]))[:3, 3], [1, 2, 3])


def test_error_decays_exponentially_at_rate_lambda():
    """Three points: L is square and invertible, so with L̂ = L the error obeys ė = -λ e."""
    pts = SQUARE[:3]
    lam, dt, steps = 1.0, 0.005, 600
    _, errs, _ = jax.jit(lambda T: simulate_ibvs(T, pts, GOAL, lam, dt, steps, "current"))(
        _displaced((0.01, -0.01, 0.02), (0.02, 0.01, 0.05)))
    t = np.arange(steps + 1) * dt
    ratio = np.asarray(errs) / float(errs[0])
    for k in (100, 200, 400, 600):
        assert ratio[k] == pytest.approx(np.exp(-lam * t[k]), rel=0.02), k
    slope = np.polyfit(t, np.log(ratio), 1)[0]
    assert slope == pytest.approx(-lam, rel=0.01)


@pytest.mark.parametrize("mode", ["current", "desired", "mean"])
def test_four_point_target_converges(mode):
    starts = jnp.stack([_displaced(), _displaced((-0.05, 0.04, 0.1), (-0.1, 0.08, -0.5))])
    sim = jax.jit(jax.vmap(lambda T: simulate_ibvs(T, SQUARE, GOAL, 0.8, 0.05, 250, mode)))
    final, errs, _ = sim(starts)
    cam = C.make_camera(500.0, 500.0, 320.0, 240.0)
    for b in range(2):
        s, _ = project_normalized(final[b], SQUARE)
        s_star, _ = project_normalized(GOAL, SQUARE)
        px = np.linalg.norm((s - s_star) * np.array([cam.fx, cam.fy]), axis=-1)
        assert px.max() < 0.05, (mode, px)
        np.testing.assert_allclose(final[b], GOAL, atol=1e-3)
        assert float(errs[b, -1]) < 1e-3 * float(errs[b, 0])


def test_law_zero_at_goal_and_vmaps():
    s_star, z_star = project_normalized(GOAL, SQUARE)
    v, e = ibvs_velocity(s_star, s_star, z_star, z_star)
    np.testing.assert_allclose(v, 0.0, atol=1e-7)
    batch = jax.vmap(lambda s: ibvs_velocity(s, s_star, z_star, z_star, 0.5, "mean")[0])(
        jnp.stack([s_star + 0.01, s_star - 0.01]))
    assert batch.shape == (2, 6)


def test_se3_log_inverts_exp_and_pbvs_converges():
    for xi in (jnp.array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]), jnp.array([0.1, 0.0, 0.0, 1e-6, 0.0, 0.0])):
        np.testing.assert_allclose(se3_log(se3_exp(xi)), xi, atol=1e-5)
    T = _displaced()
    lam, dt = 1.0, 0.01

    def step(T, _):
        return integrate_camera(T, pbvs_velocity(T, GOAL, lam), dt), None

    final, _ = jax.lax.scan(step, T, None, length=300)
    # geodesic law: the relative twist shrinks by exp(-λ t) exactly per step
    err0 = np.linalg.norm(se3_log(jnp.linalg.inv(T) @ GOAL))
    err = np.linalg.norm(se3_log(jnp.linalg.inv(final) @ GOAL))
    assert err / err0 == pytest.approx((1 - lam * dt) ** 300, rel=1e-2)
