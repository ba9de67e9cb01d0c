"""Vision backbones behind one interface: ResNet-18 and MobileNetV3-small, picked by a config string.

Every backbone maps a normalised float image batch ``[N, H, W, 3]`` to a stride-32 (or ``output_stride``) feature map
``[N, h, w, C]``; :func:`make_backbone` builds one from ``(name, norm, width)`` and
:func:`backbone_channels` gives ``C`` without running it. Policies take the values from their own
config fields (``backbone``, ``backbone_norm``, ``backbone_width``, ``backbone_output_stride``).

``output_stride`` (ResNet-18 only) keeps ``layer4`` (16) or ``layer3`` and ``layer4`` (8) at stride 1 for
small images: a 56x56 crop gives a 2x2 map at stride 32, too coarse for a spatial soft-argmax to say where a 3-pixel
object is, and a 7x7 map at stride 8. (torchvision's ``replace_stride_with_dilation`` does this for
Bottleneck ResNets; its BasicBlock refuses dilation, so here the stride is simply dropped; the weights
and their names are unchanged, so torchvision weights still load.)

Normalisation layers (``norm``, see :mod:`jaxrobot.nn.norms`): ``"frozen_bn"``, BatchNorm with fixed statistics
and affine terms (the ``"frozen"`` collection), as ACT's torchvision backbone; ``"group_norm"``, GroupNorm with
``C // 16`` groups in place of every BatchNorm, as Diffusion Policy (LeRobot
``policies/diffusion/modeling_diffusion.py``, ``use_group_norm``); affine terms trainable.

Configs that pick a backbone (ACT, Diffusion Policy) name the same four fields and validate them with
:func:`check_backbone_fields`.

Module names mirror torchvision's (``conv1``, ``bn1``, ``layer1_0/conv1``, ``layer2_0/downsample_0``, ...;
``.`` becomes ``_``) so a torchvision ``state_dict`` converts by renaming (``resnet_convert.py``).
Convolutions are bias-free and use explicit symmetric padding, exactly as PyTorch pads.
"""

from __future__ import annotations

from typing import Any, Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import require
from jaxrobot.nn.norms import NORMS, make_norm

BackboneName = Literal["resnet18", "mobilenet_v3_small"]
BACKBONES: tuple[str, ...] = ("resnet18", "mobilenet_v3_small")
OUTPUT_STRIDES: tuple[int, ...] = (8, 16, 32)

# ImageNet statistics (torchvision's weights expect them).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

# torchvision ResNet and MobileNetV3 conv init: kaiming_normal_(mode="fan_out", nonlinearity="relu"), untruncated.
_resnet_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def preprocess_image(image: jax.Array, mode: Literal["imagenet", "unit"] = "imagenet") -> jax.Array:
    """uint8 ``[..., H, W, 3]`` (or floats in 0..255) → float32, "unit" [0, 1] or "imagenet"-standardised."""
    x = image.astype(jnp.float32) / 255.0
    if mode == "imagenet":
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return x


def _pad(k: int, dilation: int = 1) -> tuple[tuple[int, int], tuple[int, int]]:
    p = (k - 1) // 2 * dilation
    return ((p, p), (p, p))


def _conv(features: int, kernel: int, stride: int = 1, *, groups: int = 1, name: str) -> nn.Conv:
    """torchvision's convolution: square kernel, no bias, PyTorch's symmetric padding, kaiming-normal init."""
    return nn.Conv(
        features,
        (kernel, kernel),
        (stride, stride),
        padding=_pad(kernel),
        feature_group_count=groups,
        use_bias=False,
        kernel_init=_resnet_conv_init,
        name=name,
    )


class BasicBlock(nn.Module):
    """ResNet-18/34 block: 3x3 conv → norm → ReLU → 3x3 conv → norm, plus (projected) identity, ReLU."""

    features: int
    stride: int
    norm: str

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        norm = make_norm(self.norm)
        y = _conv(self.features, 3, self.stride, name="conv1")(x)
        y = nn.relu(norm(self.features, name="bn1")(y))
        y = _conv(self.features, 3, name="conv2")(y)
        y = norm(self.features, name="bn2")(y)
        if self.stride != 1 or x.shape[-1] != self.features:
            x = _conv(self.features, 1, self.stride, name="downsample_0")(x)
            x = norm(self.features, name="downsample_1")(x)
        return nn.relu(x + y)


class ResNet18(nn.Module):
    """ResNet-18 up to ``layer4`` (no pooling, no fc): stride 32, ``8 * width`` output channels.

    ``width`` 64 is the standard network (11,166,912 conv weights; LeRobot's ACT backbone count);
    smaller widths give cheap CPU variants with the same topology.
    """

    norm: str = "frozen_bn"
    width: int = 64
    output_stride: int = 32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got {self.output_stride}")
        norm = make_norm(self.norm)
        x = _conv(self.width, 7, 2, name="conv1")(x)
        x = nn.relu(norm(self.width, name="bn1")(x))
        # Max-pool 3x3/2 with padding 1. Padding with zeros by hand equals -inf padding here (the input is
        # post-ReLU, >= 0) and avoids jax2onnx 0.17.1 dropping a padded max_pool's padding.
        x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        x = nn.max_pool(x, window_shape=(3, 3), strides=(2, 2), padding="VALID")
        current = 4
        for layer in range(4):
            features = self.width * 2**layer
            down = layer > 0 and current < self.output_stride
            current *= 2 if down else 1
            for i in range(2):
                stride = 2 if (down and i == 0) else 1
                x = BasicBlock(features, stride, self.norm, name=f"layer{layer + 1}_{i}")(x)
        return x


# ------------------------------------------------------------------ MobileNetV3-small (Jetson-class)


def hard_sigmoid(x: jax.Array) -> jax.Array:
    return jnp.clip(x + 3.0, 0.0, 6.0) / 6.0


def hard_swish(x: jax.Array) -> jax.Array:
    return x * hard_sigmoid(x)


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's channel rounding (``_make_divisible``)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# (kernel, expanded, out, use_se, activation, stride): torchvision ``mobilenet_v3_small`` (width 1.0).
_MBV3_SMALL = (
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
)


class _ConvNormAct(nn.Module):
    features: int
    kernel: int
    stride: int
    norm: str
    act: str | None
    groups: int = 1

    @nn.compact
    def __call__(self, x):
        x = _conv(self.features, self.kernel, self.stride, groups=self.groups, name="0")(x)
        x = make_norm(self.norm, epsilon=1e-3)(self.features, name="1")(x)
        if self.act == "RE":
            x = nn.relu(x)
        elif self.act == "HS":
            x = hard_swish(x)
        return x


class _SqueezeExcite(nn.Module):
    squeeze: int

    @nn.compact
    def __call__(self, x):
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        s = nn.relu(nn.Conv(self.squeeze, (1, 1), name="fc1")(s))
        s = hard_sigmoid(nn.Conv(x.shape[-1], (1, 1), name="fc2")(s))
        return x * s


class _InvertedResidual(nn.Module):
    kernel: int
    expanded: int
    out: int
    use_se: bool
    act: str
    stride: int
    norm: str

    @nn.compact
    def __call__(self, x):
        y = x
        i = 0
        if self.expanded != x.shape[-1]:
            y = _ConvNormAct(self.expanded, 1, 1, self.norm, self.act, name=f"block_{i}")(y)
            i += 1
        y = _ConvNormAct(
            self.expanded,
            self.kernel,
            self.stride,
            self.norm,
            self.act,
            groups=self.expanded,
            name=f"block_{i}",
        )(y)
        i += 1
        if self.use_se:
            y = _SqueezeExcite(_make_divisible(self.expanded // 4, 8), name=f"block_{i}")(y)
            i += 1
        y = _ConvNormAct(self.out, 1, 1, self.norm, None, name=f"block_{i}")(y)
        if self.stride == 1 and x.shape[-1] == self.out:
            y = y + x
        return y


class MobileNetV3Small(nn.Module):
    """torchvision ``mobilenet_v3_small().features``: stride 32, 576 output channels, ~0.93 M weights.

    The Jetson-class option: ~0.06 GFLOPs at 224x224 against ResNet-18's 1.8. ``width`` is ignored.
    """

    norm: str = "frozen_bn"
    width: int = 64

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = _ConvNormAct(16, 3, 2, self.norm, "HS", name="features_0")(x)
        for i, (k, exp, out, se, act, stride) in enumerate(_MBV3_SMALL):
            x = _InvertedResidual(k, exp, out, se, act, stride, self.norm, name=f"features_{i + 1}")(x)
        return _ConvNormAct(576, 1, 1, self.norm, "HS", name=f"features_{len(_MBV3_SMALL) + 1}")(x)


def check_output_stride(name: str, output_stride: int) -> None:
    """Raise ``ValueError`` unless ``name`` supports ``output_stride`` (only ResNet-18 goes below 32)."""
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"backbone output_stride must be one of {OUTPUT_STRIDES}, got {output_stride}")
    if output_stride != 32 and name != "resnet18":
        raise ValueError(f"backbone {name!r} supports output_stride 32 only, got {output_stride}")


def check_backbone_fields(cfg: Any) -> None:
    """Validate a config's backbone fields (``backbone``, ``backbone_norm``, ``backbone_width``,
    ``backbone_output_stride``) from its ``check()``; a ``ConfigError`` names the offending field."""
    require(cfg.backbone in BACKBONES, "backbone", f"{cfg.backbone!r} is not one of {BACKBONES}")
    require(cfg.backbone_norm in NORMS, "backbone_norm", f"{cfg.backbone_norm!r} is not one of {NORMS}")
    require(cfg.backbone_width >= 1, "backbone_width", f"must be >= 1, got {cfg.backbone_width}")
    require(
        cfg.backbone_output_stride in OUTPUT_STRIDES
        and (cfg.backbone_output_stride == 32 or cfg.backbone == "resnet18"),
        "backbone_output_stride",
        f"must be one of {OUTPUT_STRIDES} (below 32 for resnet18 only), got {cfg.backbone_output_stride}",
    )


def backbone_channels(name: str, width: int = 64) -> int:
    """Channels of the feature map that :func:`make_backbone` returns."""
    if name == "resnet18":
        return 8 * width
    if name == "mobilenet_v3_small":
        return 576
    raise ValueError(f"unknown backbone {name!r}; known: {BACKBONES}")


def make_backbone(
    name: str, norm: str = "frozen_bn", width: int = 64, *, output_stride: int = 32,
    module_name: str = "backbone",
) -> nn.Module:
    """The backbone module for a config string; ``module_name`` is its name in the parent's params."""
    if norm not in NORMS:
        raise ValueError(f"unknown backbone norm {norm!r}; known: {NORMS}")
    check_output_stride(name, output_stride)
    if name == "resnet18":
        return ResNet18(norm=norm, width=width, output_stride=output_stride, name=module_name)
    if name == "mobilenet_v3_small":
        return MobileNetV3Small(norm=norm, width=width, name=module_name)
    raise ValueError(f"unknown backbone {name!r}; known: {BACKBONES}")
