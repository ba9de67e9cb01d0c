"""Per-camera image normalisation from dataset statistics, for the image policies (ACT, Diffusion Policy).

jaxrobot's own policies normalise images with one fixed rule (``image_norm``: ImageNet mean/std or [0, 1]).
A LeRobot checkpoint normalises each camera with its dataset's statistics instead (LeRobot 0.4.4
``processor/normalize_processor.py``: ``(x - mean) / (std + eps)`` on pixels in [0, 1], per camera and
channel), so a policy config may carry those numbers: ``image_norm="stats"`` with ``image_stats``, one
``(camera, mean[3], std[3])`` entry per camera. Any per-channel affine map fits this form (LeRobot's MIN_MAX
is ``mean = (min + max) / 2``, ``std = (max - min) / 2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import ConfigError, require
from jaxrobot.nn.backbones import preprocess_image

ImageNorm = Literal["imagenet", "unit", "stats"]
#: (camera name, mean per channel, std per channel), pixels in [0, 1]
CameraStats = tuple[str, tuple[float, float, float], tuple[float, float, float]]
CAMERA_PREFIX = "observation/image_"


def check_image_stats(image_norm: str, image_stats: Sequence[CameraStats]) -> None:
    """Validate a config's ``image_norm`` / ``image_stats`` pair (from the config's ``check()``)."""
    if image_norm != "stats":
        require(not image_stats, "image_stats", f"is used only with image_norm='stats' (image_norm is {image_norm!r})")
        return
    require(len(image_stats) > 0, "image_stats", "image_norm='stats' needs one (camera, mean, std) entry per camera")
    names = [entry[0] for entry in image_stats]
    require(len(set(names)) == len(names), "image_stats", f"cameras listed twice: {names}")
    for name, _mean, std in image_stats:
        require(all(s > 0 for s in std), "image_stats", f"camera {name!r}: std must be > 0, got {list(std)}")


def normalize_camera_image(image: jax.Array, camera_key: str, image_norm: str,
                           image_stats: Sequence[CameraStats]) -> jax.Array:
    """uint8 ``[..., H, W, 3]`` of camera ``observation/image_<name>`` → float32 network input.

    ``image_norm`` "imagenet" / "unit" as :func:`jaxrobot.nn.backbones.preprocess_image`; "stats" applies the
    camera's own ``(x / 255 - mean) / std``.
    """
    if image_norm != "stats":
        return preprocess_image(image, image_norm)
    name = camera_key.removeprefix(CAMERA_PREFIX)
    table = {entry[0]: entry for entry in image_stats}
    if name not in table:
        raise ConfigError(f"config field 'model.image_stats': no statistics for camera {name!r} "
                          f"(listed: {sorted(table)})")
    _, mean, std = table[name]
    x = image.astype(jnp.float32) / 255.0
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
