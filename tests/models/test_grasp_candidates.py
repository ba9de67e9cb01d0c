"""GQ-CNN-style candidates: rotation-correct crops, antipodal sampling, CEM, and the scorer's training."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrobot.models.grasp import GraspCandidateConfig, GraspCandidateModel
from jaxrobot.skills.grasping.synthetic import box_scene
from jaxrobot.vision.grasp_candidates import best_of_n, crop_aligned, cross_entropy_method, sample_antipodal
from jaxrobot.vision.grasp_repr import angle_difference, make_grasps


def _l_shape(center, phi, size=64):
    """Smooth asymmetric 'L' (a bar along phi plus a blob on its +end, +normal side), analytic."""
    v, u = jnp.mgrid[0:size, 0:size].astype(jnp.float32)
    du, dv = u - center[0], v - center[1]
    a = du * jnp.cos(phi) + dv * jnp.sin(phi)
    b = -du * jnp.sin(phi) + dv * jnp.cos(phi)
    bar = jnp.exp(-(a / 8.0) ** 4 - (b / 2.0) ** 2)
    blob = jnp.exp(-((a - 6.0) ** 2 + (b - 5.0) ** 2) / 4.0)
    return bar + blob


def test_crop_of_rotated_bar_equals_unrotated_crop():
    c = jnp.array([30.3, 33.7])
    ref = crop_aligned(_l_shape(c, 0.0), c, jnp.float32(0.0), 24)
    for phi in (0.4, -1.1, 2.5):
        crop = crop_aligned(_l_shape(c, phi), c, jnp.float32(phi), 24)
        np.testing.assert_allclose(crop, ref, atol=0.05)  # bilinear interpolation error
    # the wrong direction of rotation (a mirrored crop) is detected
    wrong = crop_aligned(_l_shape(c, 0.7), c, jnp.float32(-0.7), 24)
    assert float(jnp.abs(wrong - ref).max()) > 0.3


def test_antipodal_sampler_grasps_across_box():
    rng = np.random.default_rng(3)
    depth, label = box_scene(rng, 48, 48, size_range=(6.0, 12.0))
    grasps, grip_depth = jax.jit(lambda k, d: sample_antipodal(k, d, 16, num_edge_points=96, max_width=30.0))(
        jax.random.PRNGKey(0), jnp.asarray(depth))
    assert int(grasps.valid.sum()) >= 8
    v = np.asarray(grasps.valid)
    # every candidate closes on the box: centre inside it, gripper at the box top (+ offset)
    top = float(depth.min())
    np.testing.assert_allclose(np.asarray(grip_depth)[v], top + 0.01, atol=1e-5)
    d = np.linalg.norm(np.asarray(grasps.center)[v] - np.asarray(label.center[0]), axis=-1)
    assert np.all(d < 13.0)
    # widths lie in range; the short-side grasp (the label) is among the sampled directions
    assert np.all(np.asarray(grasps.width)[v] <= 30.0)
    assert float(jnp.min(jnp.where(grasps.valid, angle_difference(grasps.angle, label.angle[0]), 9.0))) < 0.2


def test_flat_image_gives_no_candidates():
    grasps, _ = jax.jit(lambda k, d: sample_antipodal(k, d, 4, num_edge_points=8))(
        jax.random.PRNGKey(0), jnp.full((16, 16), 0.6))
    assert not bool(grasps.valid.any())


def test_cem_improves_on_best_of_n():
    target = jnp.array([20.0, 12.0])

    def score(g, z):  # best grasp: centre at target, angle 0.5, depth 0.55
        return (-jnp.sum((g.center - target) ** 2, -1) - 100 * angle_difference(g.angle, 0.5) ** 2
                - 1e4 * (z - 0.55) ** 2)

    k = jax.random.PRNGKey(1)
    n = 32
    g0 = make_grasps(jax.random.uniform(k, (n, 2), minval=0, maxval=32),
                     jax.random.uniform(jax.random.PRNGKey(2), (n,), minval=-1.5, maxval=1.5), jnp.full((n,), 10.0))
    z0 = jax.random.uniform(jax.random.PRNGKey(3), (n,), minval=0.5, maxval=0.6)
    s0 = score(g0, z0)
    first = s0[best_of_n(s0, g0.valid)]
    g, z, s = jax.jit(lambda r: cross_entropy_method(r, score, g0, z0, iterations=10, num_elite=6, pos_std_min=0.25))(
        jax.random.PRNGKey(4))
    assert float(s) > float(first) and float(s) > -1.0
    assert float(jnp.linalg.norm(g.center - target)) < 1.5


def test_candidate_model_learns_centred_grasps():
    """Label: success iff the candidate's centre lies on the box and it closes across the short side."""
    rng = np.random.default_rng(0)
    n = 64
    depths, centers, angles, success = [], [], [], []
    for i in range(n):
        depth, label = box_scene(rng, 32, 32)
        good = i % 2 == 0
        off = rng.normal(0, 0.5, 2) if good else rng.uniform(6, 9, 2) * rng.choice([-1, 1], 2)
        depths.append(depth)
        centers.append(np.asarray(label.center[0]) + off)
        angles.append(float(label.angle[0]) + (0.0 if good else rng.choice([0.0, np.pi / 2])))
        success.append(float(good))
    batch = {"observation/depth": jnp.asarray(np.stack(depths))[..., None],
             "grasp/center": jnp.asarray(np.stack(centers), jnp.float32),
             "grasp/angle": jnp.asarray(angles, jnp.float32),
             "grasp/depth": jnp.asarray(np.stack(depths).min(axis=(1, 2)) + 0.01, jnp.float32),
             "grasp/success": jnp.asarray(success)}
    model = GraspCandidateModel(GraspCandidateConfig(crop_size=16, conv_features=(8, 8, 8, 8), image_hidden=32,
                                                     merge_hidden=32))
    params = model.init(jax.random.PRNGKey(0), batch)
    opt = optax.adam(3e-3)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        (loss, m), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, jax.random.PRNGKey(0))
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, m

    for _ in range(60):
        params, state, m = step(params, state)
    assert float(m["accuracy"]) >= 0.95 and float(m["bce"]) < 0.2
    assert model.predict(params, batch).shape == (n,)
