"""A NumPy re-implementation of torchvision's ResNet-18 forward pass (NCHW, OIHW weights, eval mode).

Written from torchvision's documented architecture, independently of ``jaxrobot.nn.backbones``, so
tests can check the Flax backbone and the state_dict converter against it. Also builds random
state_dicts with torchvision's names and shapes (torch is not installed here).
"""

from __future__ import annotations

import numpy as np


def resnet18_state_dict(rng: np.random.Generator, num_classes: int = 1000) -> dict[str, np.ndarray]:
    """Random arrays under every name torchvision's ``resnet18().state_dict()`` has, with its shapes."""
    sd: dict[str, np.ndarray] = {}

    def conv(name, o, i, k):
        sd[f"{name}.weight"] = (rng.normal(size=(o, i, k, k)) * np.sqrt(2.0 / (i * k * k))).astype(np.float32)

    def bn(name, c):
        sd[f"{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        sd[f"{name}.bias"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[f"{name}.running_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
        sd[f"{name}.running_var"] = rng.uniform(0.5, 2.0, c).astype(np.float32)
        sd[f"{name}.num_batches_tracked"] = np.array(1000, np.int64)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for li, c in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            p = f"layer{li}.{b}"
            conv(f"{p}.conv1", c, cin if b == 0 else c, 3)
            bn(f"{p}.bn1", c)
            conv(f"{p}.conv2", c, c, 3)
            bn(f"{p}.bn2", c)
            if b == 0 and li > 1:
                conv(f"{p}.downsample.0", c, cin, 1)
                bn(f"{p}.downsample.1", c)
        cin = c
    sd["fc.weight"] = rng.normal(size=(num_classes, 512)).astype(np.float32) * 0.01
    sd["fc.bias"] = np.zeros(num_classes, np.float32)
    return sd


def conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """x [N, C, H, W], w [O, C, k, k] → [N, O, H', W'] (cross-correlation, zero padding, like torch)."""
    k = w.shape[-1]
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True)


def batchnorm(x, sd, name, eps=1e-5):
    s = sd[f"{name}.weight"] / np.sqrt(sd[f"{name}.running_var"] + eps)
    return (
        x * s[None, :, None, None]
        + (sd[f"{name}.bias"] - sd[f"{name}.running_mean"] * s)[None, :, None, None]
    )


def maxpool3x3s2(x):
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    return win.max(axis=(-2, -1))


def resnet18_features(sd: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """``layer4`` output [N, 512, h, w] of torchvision's ResNet-18 in eval mode for NCHW input ``x``."""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(batchnorm(conv2d(x, sd["conv1.weight"], 2, 3), sd, "bn1"))
    x = maxpool3x3s2(x)
    for li in range(1, 5):
        for b in range(2):
            p = f"layer{li}.{b}"
            stride = 2 if (li > 1 and b == 0) else 1
            y = relu(batchnorm(conv2d(x, sd[f"{p}.conv1.weight"], stride, 1), sd, f"{p}.bn1"))
            y = batchnorm(conv2d(y, sd[f"{p}.conv2.weight"], 1, 1), sd, f"{p}.bn2")
            if f"{p}.downsample.0.weight" in sd:
                x = batchnorm(conv2d(x, sd[f"{p}.downsample.0.weight"], stride, 0), sd, f"{p}.downsample.1")
            x = relu(x + y)
    return x
