"""Grasp networks: parameter counts against the references, shapes, loss masking, and overfitting."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrobot import config as C
from jaxrobot.models.grasp import GraspMapConfig, GraspMapModel
from jaxrobot.skills.grasping.synthetic import box_scene
from jaxrobot.vision.camera import look_at, make_camera
from jaxrobot.vision.grasp_repr import angle_difference, encode_grasp_maps


def _count(params):
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


def _batch(n=4, size=32, seed=0, max_width=32.0, rgb=False):
    rng = np.random.default_rng(seed)
    depths, maps = [], []
    for _ in range(n):
        d, g = box_scene(rng, size, size)
        depths.append(d)
        maps.append(encode_grasp_maps(g, size, size, max_width))
    batch = {"observation/depth": jnp.asarray(np.stack(depths))[..., None]}
    for k in ("quality", "cos2", "sin2", "width"):
        batch[f"grasp/{k}"] = jnp.stack([m[k] for m in maps])
    if rgb:
        batch["observation/rgb"] = jnp.asarray(rng.integers(0, 255, (n, size, size, 3)), jnp.uint8)
    return batch


def test_ggcnn2_param_count_matches_reference():
    # GG-CNN2 (dougsm/ggcnn models/ggcnn2.py) on depth: 11x11 16, 5x5 16, 5x5 16, 5x5 16, dilated
    # 5x5 32 x2, 3x3 16 x2, four 1x1 heads: 1952 + 3*6416 + 12832 + 25632 + 4624 + 2320 + 4*17
    model = GraspMapModel(GraspMapConfig())
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), _batch(1))
    assert _count(shapes) == 66_676


def test_grconvnet_param_count_and_shapes():
    cfg = GraspMapConfig(arch="grconvnet", use_rgb=True)
    model = GraspMapModel(cfg)
    batch = _batch(2, rgb=True)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), batch)
    n = _count(shapes)
    assert 1.85e6 < n < 1.95e6, n  # GR-ConvNet reports ~1.9M parameters
    out = jax.eval_shape(model.predict, shapes, batch)
    assert out.shape == (2, 32, 32, 4)


def test_config_validation_names_field():
    with pytest.raises(C.ConfigError, match="ggcnn2_filters"):
        C.validate(GraspMapConfig(ggcnn2_filters=(16, 16)))
    assert C.from_json(C.to_json(GraspMapConfig(arch="grconvnet"))) == GraspMapConfig(arch="grconvnet")
    with pytest.raises(C.ConfigError, match="divisible by 4"):
        GraspMapModel(GraspMapConfig()).init(jax.random.PRNGKey(0), _batch(1, size=30))


def test_positive_mask_ignores_angle_width_off_grasp():
    batch = _batch(2)
    model = GraspMapModel(GraspMapConfig(angle_width_mask="positive", ggcnn2_filters=(4, 4, 4, 4)))
    params = model.init(jax.random.PRNGKey(0), batch)
    pred = model.predict(params, batch)
    # perturbing targets off the grasps changes the quality loss only
    off = batch["grasp/quality"] == 0
    changed = dict(batch, **{"grasp/cos2": jnp.where(off, 5.0, batch["grasp/cos2"])})
    _, m1 = model.loss(params, batch, jax.random.PRNGKey(1))
    _, m2 = model.loss(params, changed, jax.random.PRNGKey(1))
    assert float(m1["loss_cos2"]) == pytest.approx(float(m2["loss_cos2"]))
    pos = batch["grasp/quality"] > 0
    expect = jnp.sum(jnp.where(pos, (pred[..., 1] - batch["grasp/cos2"]) ** 2, 0)) / jnp.sum(pos)
    assert float(m1["loss_cos2"]) == pytest.approx(float(expect), rel=1e-5)


def _fit(cfg, steps, lr=3e-3):
    batch = _batch(4, max_width=32.0)
    model = GraspMapModel(cfg)
    params = model.init(jax.random.PRNGKey(0), batch)
    opt = optax.adam(lr)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        (loss, _), grads = jax.value_and_grad(model.loss, has_aux=True)(params, batch, jax.random.PRNGKey(0))
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    return model, params, batch, losses


def test_ggcnn2_overfits_synthetic_maps():
    model, params, batch, losses = _fit(GraspMapConfig(), 200)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
    # the trained maps decode to the labelled grasp: top-1 near the box centre, angle across it
    rng = np.random.default_rng(0)
    labels = [box_scene(rng, 32, 32)[1] for _ in range(4)]
    grasps = model.predict_grasps(params, batch, k=1, min_distance=8, threshold=0.1)
    for i, g in enumerate(labels):
        assert bool(grasps.valid[i, 0])
        assert float(jnp.linalg.norm(grasps.center[i, 0] - g.center[0])) <= 2.0
        assert float(angle_difference(grasps.angle[i, 0], g.angle[0])) < np.deg2rad(20)
    # lifted with a top-down camera, the pose sits on the box top under the grasp centre
    cam = make_camera(40.0, 40.0, 15.5, 15.5, look_at((0.0, 0.0, 0.6), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0)))
    poses = model.predict_poses(params, batch, cam, k=1, min_distance=8, threshold=0.1)
    box_top = 0.6 - batch["observation/depth"].min(axis=(1, 2, 3))
    np.testing.assert_allclose(poses.position[:, 0, 2], box_top, atol=1e-5)
    assert poses.width.shape == (4, 1) and bool(poses.valid.all())


def test_grconvnet_trains():
    cfg = GraspMapConfig(arch="grconvnet", grconvnet_channels=8, grconvnet_res_blocks=1, grconvnet_groups=4,
                         loss="smooth_l1")
    _, _, _, losses = _fit(cfg, 20)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
