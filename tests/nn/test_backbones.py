"""Backbones: torchvision parameter counts (from shapes only), output shapes and strides, the shared config check."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.nn.backbones import backbone_channels, check_backbone_fields, make_backbone, preprocess_image


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


@dataclasses.dataclass(frozen=True)
class _Fields:
    backbone: str = "resnet18"
    backbone_norm: str = "frozen_bn"
    backbone_width: int = 64
    backbone_output_stride: int = 32


@pytest.mark.parametrize(
    "change,field",
    [
        ({"backbone": "vgg"}, "backbone"),
        ({"backbone_norm": "batch_norm"}, "backbone_norm"),
        ({"backbone_width": 0}, "backbone_width"),
        ({"backbone_output_stride": 4}, "backbone_output_stride"),
        ({"backbone": "mobilenet_v3_small", "backbone_output_stride": 16}, "backbone_output_stride"),
    ],
)
def test_check_backbone_fields_names_the_field(change, field):
    check_backbone_fields(_Fields())  # the defaults pass
    check_backbone_fields(_Fields(backbone_output_stride=8))  # ResNet-18 may go below 32
    with pytest.raises(ConfigError, match=f"config field '{field}'"):
        check_backbone_fields(_Fields(**change))

