"""Synthetic visual-servoing pairs (image pairs of a 4-point target with IBVS twist labels) and their source.

Analytic labels, not physics: they exist to train and export the deep servo net cheaply (tests, benchmarks,
smoke runs); ``experiments/servo.py:target`` and ``:peg`` train on MJX-rendered pairs.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataSource
from jaxrobot.data.sources.pool import PoolSource


@dataclasses.dataclass(frozen=True)
class SyntheticServoConfig(Config):
    """Fields (see :func:`~jaxrobot.skills.servoing.synthetic.servo_pairs`):
    num_pairs: image pairs in the pool.
    image_size: side of the square images.
    max_translation: per-axis bound (m) of the current camera's displacement from the goal.
    max_rotation: per-axis bound (rad) of its rotation.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "synthetic_servo"
    num_pairs: int = 1024
    image_size: int = 32
    max_translation: float = 0.04
    max_rotation: float = 0.25
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_pairs >= 1, "num_pairs", "must be >= 1")
        require(self.image_size >= 8, "image_size", "must be >= 8")
        require(self.max_translation >= 0, "max_translation", "must be >= 0")
        require(self.max_rotation >= 0, "max_rotation", "must be >= 0")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return _servo_source(self, **kw)


# ---------------------------------------------------------------- visual-servoing pairs

# Four coloured target points (red, green, blue, white) so the image pair has no symmetry ambiguity.
POINT_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.float32)


def render_points(uv: np.ndarray, height: int, width: int, sigma: float = 0.8,
                  colours: np.ndarray = POINT_COLOURS) -> np.ndarray:
    """uint8 [..., H, W, 3] images of points uv [..., N, 2] drawn as Gaussian dots of the given colours."""
    uv = np.asarray(uv, np.float32)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    du = u - uv[..., 0, None, None]  # [..., N, H, W]
    dv = v - uv[..., 1, None, None]
    dots = np.exp(-(du**2 + dv**2) / (2 * sigma**2))
    img = np.einsum("...nhw,nc->...hwc", dots, colours[: uv.shape[-2]])
    return np.clip(img, 0, 255).astype(np.uint8)


def servo_pairs(rng: np.random.Generator, n: int, size: int = 32, focal: float = 40.0, half_side: float = 0.1,
                distance: float = 0.5, max_translation: float = 0.04, max_rotation: float = 0.25,
                lam: float = 1.0, mode: str = "mean") -> dict[str, np.ndarray]:
    """``n`` (current, goal) image pairs of a 4-point planar target with IBVS twist labels.

    The goal camera looks at the target from ``distance`` m with a random roll; the current camera is
    the goal displaced by a uniform random body twist (translation ≤ ``max_translation`` m, rotation
    ≤ ``max_rotation`` rad per axis). The label is ``ibvs_velocity`` with true depths in ``mode``.
    Returns the servo batch layout of :mod:`jaxrobot.models.servo` (numpy).
    """
    import jax
    import jax.numpy as jnp

    from jaxrobot.vision import camera as cam_lib
    from jaxrobot.vision.ibvs import ibvs_velocity, project_normalized, se3_exp

    cam = cam_lib.make_camera(focal, focal, (size - 1) / 2, (size - 1) / 2)
    pts = jnp.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], jnp.float32) * half_side
    base = cam_lib.look_at((0.0, 0.0, distance), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    roll = rng.uniform(-np.pi / 4, np.pi / 4, n)
    xi = np.concatenate([rng.uniform(-max_translation, max_translation, (n, 3)),
                         rng.uniform(-max_rotation, max_rotation, (n, 3))], 1)

    def one(roll, xi):
        goal = base @ se3_exp(jnp.zeros(6).at[5].set(roll))
        cur = goal @ se3_exp(xi)
        s, z = project_normalized(cur, pts)
        s_star, z_star = project_normalized(goal, pts)
        v, _ = ibvs_velocity(s, s_star, z, z_star, lam, mode)
        return cam_lib.normalized_to_pixel(cam, s), cam_lib.normalized_to_pixel(cam, s_star), v

    uv, uv_star, twist = jax.jit(jax.vmap(one))(jnp.asarray(roll, jnp.float32), jnp.asarray(xi, jnp.float32))
    uv, uv_star = np.asarray(uv), np.asarray(uv_star)
    return {"observation/image": render_points(uv, size, size),
            "observation/goal_image": render_points(uv_star, size, size),
            "servo/twist": np.asarray(twist, np.float32)}


def servo_pool(cfg: SyntheticServoConfig) -> dict[str, np.ndarray]:
    return servo_pairs(np.random.default_rng(cfg.data_seed), cfg.num_pairs, cfg.image_size,
                       max_translation=cfg.max_translation, max_rotation=cfg.max_rotation)


def _servo_source(cfg: SyntheticServoConfig, **kw) -> PoolSource:
    pool = servo_pool(cfg)
    twist = pool["servo/twist"]
    stats = {"pairs": cfg.num_pairs, "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
    return PoolSource(cfg, pool, stats, **kw)
