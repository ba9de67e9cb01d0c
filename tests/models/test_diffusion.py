"""Diffusion Policy: LeRobot parameter parity, noise schedule and sampler closed forms, the sampling loop."""

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.cli.model import run_params
from jaxrobot.config import ConfigError, load_experiment, validate
from jaxrobot.models.diffusion import DiffusionConfig, DiffusionModel
from jaxrobot.models.diffusion_schedule import (
    add_noise,
    ddim_step,
    ddpm_step,
    inference_timesteps,
    make_alphas_cumprod,
    make_betas,
)
from jaxrobot.models.params import count_params
from jaxrobot.nn.augment import crop_images
from jaxrobot.nn.spatial_softmax import SpatialSoftmax
from jaxrobot.train.config import TrainConfig
from jaxrobot.train.step import ema_decay_at
from tests.helpers.model_fixtures import count, pusht_batch, small_dp, synthetic_batch


def _abstract(cfg, batch):
    return jax.eval_shape(DiffusionModel(cfg).init, jax.random.PRNGKey(0), batch)


@pytest.mark.parametrize(
    "down_dims,total,unet",
    [
        ((512, 1024, 2048), 262_709_026, 251_511_938),
        ((256, 512, 1024), 76_070_434, 64_873_346),
    ],
)
def test_counts_match_lerobot_pusht(down_dims, total, unet):
    p = _abstract(DiffusionConfig(down_dims=down_dims), pusht_batch())["params"]
    assert count(p) == total
    assert count(p["unet"]) == unet
    assert count(p["obs_encoder"]) == 11_197_088  # ResNet-18 with GroupNorm + spatial softmax + Linear


def test_cli_prints_reference_count(capsys):
    assert count_params(load_experiment("experiments/diffusion_pusht_defaults.py")) == 262_709_026
    run_params(
        argparse.Namespace(
            config="experiments/diffusion_pusht_defaults.py", set=["model.down_dims=256,512,1024"]
        )
    )
    assert capsys.readouterr().out.strip() == "params=76070434"


def test_config_validation_names_fields():
    with pytest.raises(ConfigError, match="horizon"):
        validate(DiffusionConfig(horizon=10))
    with pytest.raises(ConfigError, match="n_action_steps"):
        validate(DiffusionConfig(n_action_steps=16))
    with pytest.raises(ConfigError, match="backbone_output_stride"):
        validate(DiffusionConfig(backbone="mobilenet_v3_small", backbone_output_stride=8))
    with pytest.raises(ConfigError, match="config field 'backbone_width': must be >= 1, got 0"):
        validate(DiffusionConfig(backbone_width=0))
    with pytest.raises(ConfigError, match="crop_shape"):
        _abstract(DiffusionConfig(crop_shape=(100, 100)), pusht_batch())
    with pytest.raises(ConfigError, match="n_obs_steps"):
        _abstract(DiffusionConfig(n_obs_steps=1, n_action_steps=8), pusht_batch())


# ------------------------------------------------------------------ schedule


def test_squaredcos_alpha_bar_closed_form():
    t_max = 100
    ac = make_alphas_cumprod(t_max, "squaredcos_cap_v2")
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    want = np.array([f((t + 1) / t_max) / f(0.0) for t in range(t_max)])
    # Every beta but the last is below the 0.999 cap, so the product telescopes to f((t+1)/T) / f(0).
    np.testing.assert_allclose(ac[:-1], want[:-1], rtol=2e-5, atol=1e-7)
    betas = make_betas(t_max, "squaredcos_cap_v2")
    assert betas[-1] == pytest.approx(0.999) and np.all(betas[:-1] < 0.999) and np.all(np.diff(betas) > 0)
    assert ac.dtype == np.float32


def test_linear_schedule():
    ac = make_alphas_cumprod(10, "linear", 1e-4, 0.02)
    np.testing.assert_allclose(ac, np.cumprod(1 - np.linspace(1e-4, 0.02, 10)), rtol=1e-6)


def test_inference_timesteps_leading_spacing():
    np.testing.assert_array_equal(inference_timesteps(100, 10), np.arange(90, -1, -10))
    np.testing.assert_array_equal(inference_timesteps(100, 100), np.arange(99, -1, -1))


def test_add_noise_closed_form():
    ac = make_alphas_cumprod(100)
    x0, eps = jnp.ones((2, 3)), jnp.full((2, 3), 2.0)
    t = jnp.array([0, 50])
    got = add_noise(ac, x0, eps, t)
    for i in range(2):
        a = ac[int(t[i])]
        np.testing.assert_allclose(got[i], np.sqrt(a) + np.sqrt(1 - a) * 2.0, rtol=1e-6)


def test_ddim_step_closed_form():
    ac = make_alphas_cumprod(100)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-0.9, 0.9, (4, 3)).astype(np.float32)
    eps = rng.normal(size=(4, 3)).astype(np.float32)
    t, prev = 70, 60
    xt = np.sqrt(ac[t]) * x0 + np.sqrt(1 - ac[t]) * eps
    # With the true noise the update lands exactly on q(x_prev | x0) with the same noise.
    got = ddim_step(ac, jnp.asarray(eps), jnp.asarray(t), jnp.asarray(prev), jnp.asarray(xt))
    np.testing.assert_allclose(
        got, np.sqrt(ac[prev]) * x0 + np.sqrt(1 - ac[prev]) * eps, rtol=1e-4, atol=1e-5
    )
    # The last step (prev < 0 uses alpha-bar 1) returns the predicted clean sample.
    got = ddim_step(
        ac,
        jnp.asarray(eps),
        jnp.asarray(0),
        jnp.asarray(-10),
        jnp.asarray(np.sqrt(ac[0]) * x0 + np.sqrt(1 - ac[0]) * eps),
    )
    np.testing.assert_allclose(got, x0, rtol=1e-4, atol=1e-5)
    # Clipping: x0 is clipped, eps kept as predicted (diffusers' use_clipped_model_output=False).
    big = 3.0 * np.ones((1, 2), np.float32)
    xt = np.sqrt(ac[t]) * big + np.sqrt(1 - ac[t]) * eps[:1, :2]
    got = ddim_step(ac, jnp.asarray(eps[:1, :2]), jnp.asarray(t), jnp.asarray(prev), jnp.asarray(xt))
    np.testing.assert_allclose(got, np.sqrt(ac[prev]) * 1.0 + np.sqrt(1 - ac[prev]) * eps[:1, :2], rtol=1e-4)


def test_ddpm_step_matches_ho_et_al_mean_and_variance():
    ac = make_alphas_cumprod(100).astype(np.float64)
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-0.5, 0.5, (3, 2))
    eps = rng.normal(size=(3, 2))
    t = 40
    xt = np.sqrt(ac[t]) * x0 + np.sqrt(1 - ac[t]) * eps
    alpha, beta = ac[t] / ac[t - 1], 1 - ac[t] / ac[t - 1]
    mean = (xt - beta / np.sqrt(1 - ac[t]) * eps) / np.sqrt(alpha)  # DDPM eq. 11
    var = (1 - ac[t - 1]) / (1 - ac[t]) * beta  # beta-tilde, "fixed_small"
    args = (
        make_alphas_cumprod(100),
        jnp.asarray(eps, jnp.float32),
        jnp.asarray(t),
        jnp.asarray(t - 1),
        jnp.asarray(xt, jnp.float32),
    )
    np.testing.assert_allclose(ddpm_step(*args, jnp.zeros((3, 2))), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ddpm_step(*args, jnp.ones((3, 2))), mean + np.sqrt(var), rtol=1e-4, atol=1e-5)
    last = ddpm_step(
        make_alphas_cumprod(100),
        jnp.asarray(eps, jnp.float32),
        jnp.asarray(0),
        jnp.asarray(-1),
        jnp.asarray(np.sqrt(ac[0]) * x0 + np.sqrt(1 - ac[0]) * eps, jnp.float32),
        jnp.ones((3, 2)),
    )
    np.testing.assert_allclose(last, x0, rtol=1e-4, atol=1e-5)  # no noise at t = 0


def test_diffusion_policy_ema_decay():
    """diffusion_policy's EMAModel (power 0.75, inv_gamma 1, max 0.9999), step k = k-th ema.step() call.

    Its get_decay(k) uses max(0, k - 1): 0 for the first two updates, then 1 - k^-0.75.
    """
    cfg = TrainConfig(ema_decay=0.9999, ema_power=0.75)

    def reference(k):
        step = max(0, k - 1)
        return 0.0 if step <= 0 else min(1 - (1 + step) ** -0.75, 0.9999)

    got = [float(ema_decay_at(cfg, jnp.asarray(k))) for k in range(6)]
    want = [reference(k) for k in range(6)]
    np.testing.assert_allclose(got, want, atol=1e-6)


# ------------------------------------------------------------------ pieces of the network


def test_center_and_random_crop():
    img = jnp.arange(2 * 96 * 96 * 3).reshape(2, 96, 96, 3)
    centre = crop_images(img, (84, 84), None)
    np.testing.assert_array_equal(centre, img[:, 6:90, 6:90])
    crops = crop_images(jnp.broadcast_to(img[:1], (64, 96, 96, 3)), (84, 84), jax.random.PRNGKey(0))
    assert crops.shape == (64, 84, 84, 3)
    tops = np.asarray(crops[:, 0, 0, 0]) // (96 * 3)
    lefts = np.asarray(crops[:, 0, 0, 0]) % (96 * 3) // 3
    assert tops.min() >= 0 and tops.max() <= 12 and lefts.max() <= 12
    assert len(set(zip(tops.tolist(), lefts.tolist(), strict=True))) > 10  # independent per image


def test_spatial_softmax_finds_the_peak():
    feat = np.zeros((1, 3, 5, 2), np.float32)
    feat[0, 2, 4, 0] = 50.0  # bottom-right for keypoint 0
    feat[0, 0, 0, 1] = 50.0  # top-left for keypoint 1
    m = SpatialSoftmax(None)
    kp = m.apply({}, jnp.asarray(feat))
    np.testing.assert_allclose(kp[0], [[1.0, 1.0], [-1.0, -1.0]], atol=1e-4)


# ------------------------------------------------------------------ the small model


@pytest.fixture(scope="module")
def small():
    cfg = small_dp()
    model = DiffusionModel(cfg)
    batch = synthetic_batch(n_obs_steps=cfg.n_obs_steps, horizon=cfg.horizon)
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), batch)
    return model, batch, variables


def test_small_loss_is_finite_with_gradients(small):
    model, batch, variables = small
    (loss, metrics), grads = jax.jit(jax.value_and_grad(model.loss, has_aux=True))(
        variables, batch, jax.random.PRNGKey(1)
    )
    assert np.isfinite(float(loss)) and 0.1 < float(loss) < 10
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))
    assert (
        float(jnp.abs(grads["params"]["obs_encoder"]["rgb_encoder"]["backbone"]["conv1"]["kernel"]).max()) > 0
    )


def test_predict_equals_a_python_ddim_loop(small):
    model, batch, variables = small
    c = model.config
    obs = {k: v for k, v in batch.items() if k.startswith("observation/")}
    rng = jax.random.PRNGKey(3)
    got = jax.jit(model.predict)(variables, obs, rng)
    assert got.shape == (batch["action"].shape[0], c.horizon, c.action_dim)
    assert float(jnp.abs(got).max()) <= 1.0 + 1e-5  # clipped x0 at the last step

    # Second implementation: an explicit Python loop over the leading timesteps.
    from jaxrobot.models.diffusion import DiffusionNet

    cond = model.net.apply(variables, obs, train=False, method=DiffusionNet.encode)
    x = jax.random.normal(jax.random.split(rng)[0], got.shape)
    ac = make_alphas_cumprod(c.num_train_timesteps)
    denoise = jax.jit(lambda x, t: model.net.apply(variables, x, t, cond, method=DiffusionNet.denoise))
    for t in range(90, -1, -10):
        eps = denoise(x, jnp.full((x.shape[0],), t, jnp.int32))
        x = ddim_step(ac, eps, jnp.asarray(t), jnp.asarray(t - 10), x)
    np.testing.assert_allclose(got, x, rtol=1e-4, atol=1e-5)
    other = jax.jit(model.predict)(variables, obs, jax.random.PRNGKey(4))
    assert float(jnp.abs(other - got).max()) > 1e-3  # the noise comes from rng
