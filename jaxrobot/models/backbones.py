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

Normalisation layers (``norm``):
  - ``"frozen_bn"``: BatchNorm with fixed statistics *and* affine terms, as torchvision's
    ``FrozenBatchNorm2d`` used by ACT (LeRobot ``policies/act/modeling_act.py``). All four tensors live in
    the ``"frozen"`` variables collection, so they are not trainable parameters (LeRobot counts them as
    buffers). A model's ``loss`` passes its variables through :func:`stop_gradient_frozen` so their
    gradients are exactly zero (not inside the layer: jax2onnx 0.17.1 emits a dangling node for a
    ``stop_gradient`` of a constant, which breaks export of ``predict``).
  - ``"group_norm"``: GroupNorm with ``C // 16`` groups in place of every BatchNorm, as Diffusion Policy
    (LeRobot ``policies/diffusion/modeling_diffusion.py``, ``use_group_norm``); affine terms trainable.

Module names mirror torchvision's (``conv1``, ``bn1``, ``layer1_0/conv1``, ``layer2_0/downsample_0``, ...;
``.`` becomes ``_``) so a torchvision ``state_dict`` converts by renaming (``resnet_convert.py``).
Convolutions are bias-free and use explicit symmetric padding, exactly as PyTorch pads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

BackboneName = Literal["resnet18", "mobilenet_v3_small"]
NormName = Literal["frozen_bn", "group_norm"]
BACKBONES: tuple[str, ...] = ("resnet18", "mobilenet_v3_small")
NORMS: tuple[str, ...] = ("frozen_bn", "group_norm")
OUTPUT_STRIDES: tuple[int, ...] = (8, 16, 32)

# ImageNet statistics (torchvision's weights expect them).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

# torchvision ResNet init: kaiming_normal_(mode="fan_out", nonlinearity="relu"), untruncated.
_resnet_conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def preprocess_image(image: jax.Array, mode: Literal["imagenet", "unit"] = "imagenet") -> jax.Array:
    """uint8 ``[..., H, W, 3]`` (or floats in 0..255) → float32, "unit" [0, 1] or "imagenet"-standardised."""
    x = image.astype(jnp.float32) / 255.0
    if mode == "imagenet":
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return x


def group_count(channels: int) -> int:
    """Groups for GroupNorm: ``C // 16`` as Diffusion Policy, else the largest divisor of C below that."""
    target = max(1, channels // 16)
    for g in range(target, 0, -1):
        if channels % g == 0:
            return g
    return 1


class FrozenBatchNorm(nn.Module):
    """``y = (x - mean) / sqrt(var + eps) * scale + bias``, all four tensors fixed (collection "frozen")."""

    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        scale = self.variable("frozen", "scale", lambda: jnp.ones((c,), jnp.float32)).value
        bias = self.variable("frozen", "bias", lambda: jnp.zeros((c,), jnp.float32)).value
        mean = self.variable("frozen", "mean", lambda: jnp.zeros((c,), jnp.float32)).value
        var = self.variable("frozen", "var", lambda: jnp.ones((c,), jnp.float32)).value
        mul = scale * jax.lax.rsqrt(var + self.epsilon)
        return x * mul.astype(x.dtype) + (bias - mean * mul).astype(x.dtype)


def stop_gradient_frozen(variables):
    """``variables`` with every non-"params" collection (frozen statistics) behind ``stop_gradient``."""
    if not isinstance(variables, dict):
        return variables
    return {k: (v if k == "params" else jax.lax.stop_gradient(v)) for k, v in variables.items()}


def make_norm(norm: str, epsilon: float = 1e-5) -> Callable[..., nn.Module]:
    """Factory ``f(channels, name=...) -> module`` for the chosen normalisation."""
    if norm == "frozen_bn":
        return lambda channels, name: FrozenBatchNorm(epsilon=epsilon, name=name)
    if norm == "group_norm":
        return lambda channels, name: nn.GroupNorm(num_groups=group_count(channels), epsilon=1e-5, name=name)
    raise ValueError(f"unknown backbone norm {norm!r}; known: {NORMS}")


def _pad(k: int, dilation: int = 1) -> tuple[tuple[int, int], tuple[int, int]]:
    p = (k - 1) // 2 * dilation
    return ((p, p), (p, p))


class BasicBlock(nn.Module):
    """ResNet-18/34 block: 3x3 conv → norm → ReLU → 3x3 conv → norm, plus (projected) identity, ReLU."""

    features: int
    stride: int
    norm: str

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        norm = make_norm(self.norm)
        s = (self.stride, self.stride)
        y = nn.Conv(
            self.features,
            (3, 3),
            s,
            padding=_pad(3),
            use_bias=False,
            kernel_init=_resnet_conv_init,
            name="conv1",
        )(x)
        y = nn.relu(norm(self.features, name="bn1")(y))
        y = nn.Conv(
            self.features,
            (3, 3),
            padding=_pad(3),
            use_bias=False,
            kernel_init=_resnet_conv_init,
            name="conv2",
        )(y)
        y = norm(self.features, name="bn2")(y)
        if self.stride != 1 or x.shape[-1] != self.features:
            x = nn.Conv(
                self.features,
                (1, 1),
                s,
                padding="VALID",
                use_bias=False,
                kernel_init=_resnet_conv_init,
                name="downsample_0",
            )(x)
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
        x = nn.Conv(
            self.width,
            (7, 7),
            (2, 2),
            padding=_pad(7),
            use_bias=False,
            kernel_init=_resnet_conv_init,
            name="conv1",
        )(x)
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
        x = nn.Conv(
            self.features,
            (self.kernel, self.kernel),
            (self.stride, self.stride),
            padding=_pad(self.kernel),
            feature_group_count=self.groups,
            use_bias=False,
            kernel_init=nn.initializers.variance_scaling(2.0, "fan_out", "normal"),
            name="0",
        )(x)
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
