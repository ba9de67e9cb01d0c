"""The 1-D UNet's pieces (``jaxrobot.nn.unet1d``): step embedding, matmul convolutions, sub-pixel upsampling,
FiLM variants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.nn.unet1d import (
    ConditionalResidualBlock1d,
    ConditionalUnet1d,
    Upsample1d,
    conv1d,
    mish,
    sinusoidal_step_embedding,
)


def test_step_embedding_closed_form():
    e = sinusoidal_step_embedding(jnp.array([7]), 8)
    freq = np.exp(-np.log(10000) * np.arange(4) / 3)
    np.testing.assert_allclose(e[0], np.concatenate([np.sin(7 * freq), np.cos(7 * freq)]), rtol=1e-5)


def test_mish_closed_form():
    x = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(mish(jnp.asarray(x)), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("length,kernel,stride,pad", [(4, 5, 1, 2), (9, 3, 2, 1), (8, 3, 2, 1), (6, 1, 1, 0)])
def test_conv1d_matches_lax_convolution(length, kernel, stride, pad):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, length, 3)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(kernel, 3, 4)), jnp.float32)
    want = jax.lax.conv_general_dilated(
        x, k, (stride,), [(pad, pad)], dimension_numbers=("NWC", "WIO", "NWC")
    )
    np.testing.assert_allclose(conv1d(x, k, stride, pad), want, rtol=1e-5, atol=1e-5)


def test_upsample_matches_torch_conv_transpose_formula():
    """torch ConvTranspose1d(k=4, s=2, p=1): y[o] = b + sum of x[i] W[:, :, k] over o = 2i - 1 + k."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    w = rng.normal(size=(3, 4, 4)).astype(np.float32)  # torch layout [Cin, Cout, K]
    b = rng.normal(size=4).astype(np.float32)
    want = np.tile(b, (2, 10, 1)).astype(np.float64)
    for i in range(5):
        for k in range(4):
            o = 2 * i - 1 + k
            if 0 <= o < 10:
                want[:, o] += x[:, i] @ w[:, :, k]
    params = {"params": {"kernel": jnp.asarray(w.transpose(2, 0, 1)), "bias": jnp.asarray(b)}}
    np.testing.assert_allclose(Upsample1d(4).apply(params, jnp.asarray(x)), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("film_scale", [True, False])
def test_film_projection_width_and_bias_only_variant(film_scale):
    x, cond = jnp.ones((2, 4, 8)), jnp.ones((2, 6))
    block = ConditionalResidualBlock1d(16, kernel_size=3, n_groups=4, film_scale=film_scale)
    v = jax.eval_shape(block.init, jax.random.PRNGKey(0), x, cond)
    assert v["params"]["cond_encoder"]["kernel"].shape == (6, 32 if film_scale else 16)
    assert v["params"]["residual_conv"]["kernel"].shape == (1, 8, 16)  # width change: 1x1 on the residual


def test_unet_maps_a_sequence_to_out_dim():
    unet = ConditionalUnet1d(out_dim=3, down_dims=(8, 16), kernel_size=3, n_groups=4, step_embed_dim=8)
    x, t, cond = jnp.ones((2, 4, 3)), jnp.zeros((2,), jnp.int32), jnp.ones((2, 5))
    v = jax.eval_shape(unet.init, jax.random.PRNGKey(0), x, t, cond)
    assert jax.eval_shape(unet.apply, v, x, t, cond).shape == (2, 4, 3)
    assert sorted(v["params"]) == sorted(
        ["diffusion_step_encoder_1", "diffusion_step_encoder_3", "down_0_0", "down_0_1", "down_0_2", "down_1_0",
         "down_1_1", "mid_0", "mid_1", "up_0_0", "up_0_1", "up_0_2", "final_conv_0", "final_conv_1"]
    )


def _group_norm(x, groups, eps=1e-5):
    """torch GroupNorm (unit scale, zero bias) over [B, T, C]: statistics per (sample, group of C/groups)."""
    b, t, c = x.shape
    g = x.reshape(b, t, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(b, t, c)


def test_final_conv_block_keeps_8_groups_whatever_n_groups():
    """LeRobot's `final_conv` block is a DiffusionConv1dBlock at its default 8 groups; `n_groups` sets only the
    residual blocks'."""
    from jaxrobot.nn.unet1d import FINAL_CONV_GROUPS

    assert FINAL_CONV_GROUPS == 8
    unet = ConditionalUnet1d(out_dim=3, down_dims=(16, 20), kernel_size=3, n_groups=4, step_embed_dim=8)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 4, 3)), jnp.float32)
    t, cond = jnp.array([3, 40]), jnp.asarray(rng.normal(size=(2, 5)), jnp.float32)
    v = unet.init(jax.random.PRNGKey(0), x, t, cond)
    _, state = unet.apply(v, x, t, cond, capture_intermediates=True)
    inter = state["intermediates"]

    def norm_in_out(path):
        block = inter
        for key in path:
            block = block[key]
        return np.asarray(block["conv"]["__call__"][0], np.float64), np.asarray(block["norm"]["__call__"][0])

    final_in, final_out = norm_in_out(["final_conv_0"])
    np.testing.assert_allclose(final_out, _group_norm(final_in, 8), rtol=1e-4, atol=1e-4)
    assert np.abs(final_out - _group_norm(final_in, 4)).max() > 1e-2
    block_in, block_out = norm_in_out(["mid_0", "conv1"])  # 20 channels: 8 does not divide them, 4 does
    np.testing.assert_allclose(block_out, _group_norm(block_in, 4), rtol=1e-4, atol=1e-4)
