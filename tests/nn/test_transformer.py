"""Transformer blocks (``jaxrobot.nn.transformer``): position tables in closed form, and the encoder and
decoder layers against a numpy transcription of torch's post-norm / pre-norm layers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.nn.transformer import DecoderLayer, EncoderLayer, TransformerSpec, sinusoid_1d, sinusoid_2d


def test_sinusoid_1d_closed_form():
    pe = sinusoid_1d(5, 8)
    assert pe[3, 4] == pytest.approx(np.sin(3 / 10000 ** (4 / 8)), rel=1e-6)
    assert pe[3, 5] == pytest.approx(np.cos(3 / 10000 ** (4 / 8)), rel=1e-6)


def test_sinusoid_2d_closed_form():
    h, w, d = 3, 4, 16
    pe = sinusoid_2d(h, w, d)
    i, j, half = 1, 2, d // 2
    y = (i + 1) / (h + 1e-6) * 2 * np.pi
    x = (j + 1) / (w + 1e-6) * 2 * np.pi
    np.testing.assert_allclose(
        pe[i, j, :half:2], np.sin(y / 10000 ** (np.arange(0, half, 2) / half)), rtol=1e-5
    )
    np.testing.assert_allclose(
        pe[i, j, 1:half:2], np.cos(y / 10000 ** (np.arange(0, half, 2) / half)), rtol=1e-5
    )
    np.testing.assert_allclose(
        pe[i, j, half::2], np.sin(x / 10000 ** (np.arange(0, half, 2) / half)), rtol=1e-5
    )


# ------------------------------------------------------------------ numpy reference (torch semantics)


def _dense(p, x):
    return x @ np.asarray(p["kernel"], np.float64) + np.asarray(p["bias"], np.float64)


def _ln(p, x):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * np.asarray(p["scale"]) + np.asarray(p["bias"])


def _mha(p, q, k, v, heads, key_mask=None):
    b, lq, d = q.shape
    hd = d // heads
    q = _dense(p["query"], q).reshape(b, lq, heads, hd)
    k = _dense(p["key"], k).reshape(b, -1, heads, hd)
    v = _dense(p["value"], v).reshape(b, -1, heads, hd)
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(hd)
    if key_mask is not None:
        logits = np.where(key_mask[:, None, None, :], logits, -1e30)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return _dense(p["out"], np.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, lq, d))


def _ffn(p, x):
    return _dense(p["linear2"], np.maximum(_dense(p["linear1"], x), 0.0))


def _sublayer(p, x, f, norm, pre_norm):
    """torch: pre-norm x + f(LN(x)); post-norm LN(x + f(x))."""
    return x + f(_ln(p[norm], x)) if pre_norm else _ln(p[norm], x + f(x))


def _encoder_layer(p, x, pos, mask, heads, pre_norm):
    attn = lambda h: _mha(p["self_attn"], h + pos, h + pos, h, heads, mask)  # noqa: E731
    x = _sublayer(p, x, attn, "norm1", pre_norm)
    return _sublayer(p, x, lambda h: _ffn(p, h), "norm2", pre_norm)


def _decoder_layer(p, x, mem, qpos, mpos, heads, pre_norm):
    x = _sublayer(p, x, lambda h: _mha(p["self_attn"], h + qpos, h + qpos, h, heads), "norm1", pre_norm)
    x = _sublayer(p, x, lambda h: _mha(p["cross_attn"], h + qpos, mem + mpos, mem, heads), "norm2", pre_norm)
    return _sublayer(p, x, lambda h: _ffn(p, h), "norm3", pre_norm)


def _randomised(variables, seed):
    """Every parameter (LayerNorm scale and bias too) replaced by noise, so each one matters."""
    leaves, tree = jax.tree.flatten(variables)
    rng = np.random.default_rng(seed)
    return jax.tree.unflatten(tree, [jnp.asarray(rng.normal(0, 0.5, x.shape), jnp.float32) for x in leaves])


@pytest.mark.parametrize("pre_norm", [False, True])
def test_encoder_and_decoder_layers_match_torch_semantics(pre_norm):
    spec = TransformerSpec(dim=8, heads=2, dim_feedforward=16, dropout=0.1, pre_norm=pre_norm)
    rng = np.random.default_rng(0)
    x, pos = rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 5, 8))
    mem, mpos = rng.normal(size=(2, 7, 8)), rng.normal(size=(2, 7, 8))
    mask = np.ones((2, 5), bool)
    mask[0, 3:] = False
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731

    enc = EncoderLayer(spec)
    v = _randomised(enc.init(jax.random.PRNGKey(0), f32(x), f32(pos), mask, train=False), 1)
    got = enc.apply(v, f32(x), f32(pos), mask, train=False)  # train=False: dropout off
    np.testing.assert_allclose(got, _encoder_layer(v["params"], x, pos, mask, 2, pre_norm), rtol=2e-4, atol=2e-4)

    dec = DecoderLayer(spec)
    v = _randomised(dec.init(jax.random.PRNGKey(0), f32(x), f32(mem), f32(pos), f32(mpos), train=False), 2)
    got = dec.apply(v, f32(x), f32(mem), f32(pos), f32(mpos), train=False)
    want = _decoder_layer(v["params"], x, mem, pos, mpos, 2, pre_norm)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
