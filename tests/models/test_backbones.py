"""Backbones: torchvision parameter counts (from shapes only), frozen BatchNorm semantics, output shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.models.backbones import (
    FrozenBatchNorm,
    backbone_channels,
    group_count,
    make_backbone,
    preprocess_image,
    stop_gradient_frozen,
)


def _count(tree) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def _shapes(name, norm, width=64, size=224):
    m = make_backbone(name, norm, width)
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    v = jax.eval_shape(m.init, jax.random.PRNGKey(0), x)
    return v, jax.eval_shape(m.apply, v, x)


@pytest.mark.parametrize(
    "name,norm,params,frozen",
    [
        # torchvision resnet18 without fc: 11,176,512 = 11,166,912 conv weights + 9,600 BN affine terms.
        ("resnet18", "frozen_bn", 11_166_912, 4 * 4_800),
        ("resnet18", "group_norm", 11_176_512, 0),
        # torchvision mobilenet_v3_small().features: 927,008 parameters (12,112 of them BN affine terms).
        ("mobilenet_v3_small", "group_norm", 927_008, 0),
        ("mobilenet_v3_small", "frozen_bn", 927_008 - 12_112, 4 * 12_112 // 2),
    ],
)
def test_parameter_counts_match_torchvision(name, norm, params, frozen):
    v, out = _shapes(name, norm)
    assert _count(v["params"]) == params
    assert _count(v.get("frozen", {})) == frozen
    assert out.shape == (1, 7, 7, backbone_channels(name))


def test_small_width_keeps_stride_32():
    _, out = _shapes("resnet18", "group_norm", width=8, size=64)
    assert out.shape == (1, 2, 2, 64)


@pytest.mark.parametrize("stride,side", [(32, 2), (16, 4), (8, 7)])
def test_output_stride_keeps_a_finer_map_with_the_same_weights(stride, side):
    """56x56 (DP's crop of 64x64): stem 14x14, then layer2..4 halve it only while the stride is below
    ``output_stride``: 2x2 at 32, 4x4 at 16, 7x7 at 8. The parameter tree is the same at every stride."""
    x = jax.ShapeDtypeStruct((2, 56, 56, 3), jnp.float32)
    m = make_backbone("resnet18", "group_norm", 8, output_stride=stride)
    v = jax.eval_shape(m.init, jax.random.PRNGKey(0), x)
    ref = jax.eval_shape(make_backbone("resnet18", "group_norm", 8).init, jax.random.PRNGKey(0), x)
    assert jax.tree.map(lambda a: a.shape, v) == jax.tree.map(lambda a: a.shape, ref)
    assert jax.eval_shape(m.apply, v, x).shape == (2, side, side, 64)


def test_output_stride_errors():
    with pytest.raises(ValueError, match="one of"):
        make_backbone("resnet18", "group_norm", 8, output_stride=4)
    with pytest.raises(ValueError, match="output_stride 32 only"):
        make_backbone("mobilenet_v3_small", "group_norm", output_stride=8)


def test_frozen_batchnorm_formula_and_zero_gradient():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 3, 3, 4)), jnp.float32)
    m = FrozenBatchNorm()
    v = m.init(jax.random.PRNGKey(0), x)
    assert set(v) == {"frozen"}
    stats = {k: jnp.asarray(rng.uniform(0.5, 2.0, 4), jnp.float32) for k in ("scale", "bias", "mean", "var")}
    v = {"frozen": stats}
    want = (x - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-5) * stats["scale"] + stats["bias"]
    np.testing.assert_allclose(m.apply(v, x), want, rtol=1e-5, atol=1e-6)
    g = jax.grad(lambda v: jnp.sum(m.apply(stop_gradient_frozen(v), x) ** 2))(v)
    assert all(float(jnp.abs(leaf).max()) == 0.0 for leaf in jax.tree.leaves(g))


def test_group_count_is_c_over_16_for_resnet_channels():
    assert [group_count(c) for c in (64, 128, 256, 512)] == [4, 8, 16, 32]
    assert group_count(88) == 4 and 88 % group_count(88) == 0  # MobileNet's odd widths still divide
    assert group_count(8) == 1


def test_preprocess_image():
    img = jnp.full((1, 2, 2, 3), 255, jnp.uint8)
    np.testing.assert_allclose(preprocess_image(img, "unit"), 1.0)
    want = (1.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(preprocess_image(img, "imagenet")[0, 0, 0], want, rtol=1e-6)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown backbone"):
        make_backbone("vgg", "frozen_bn")
    with pytest.raises(ValueError, match="unknown backbone norm"):
        make_backbone("resnet18", "batch_norm")
