"""Data source ``pose_scenes``: known-object RGB-D scenes rendered in MJX with ground-truth poses
(:mod:`jaxrobot.skills.pose.scenes`), for training the PoseCNN-style net (:mod:`jaxrobot.models.pose`) through
``jaxrobot train``.

A fixed, seeded pool of ``num_scenes`` ``train`` scenes rendered once at start-up (chunks of 256 in one
``jit``), sampled by :class:`~jaxrobot.skills.grasping.synthetic.PoolSource` (resumable global shuffle). Held-out
evaluation renders the ``test`` split with the same config (:mod:`jaxrobot.skills.pose.evaluate`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataSource
from jaxrobot.data.sources.pool import PoolSource
from jaxrobot.sim.randomize import CameraJitter
from jaxrobot.skills.pose import scenes


@dataclasses.dataclass(frozen=True)
class PoseScenesConfig(Config):
    """Fields:
    num_scenes: training scenes in the pool (each object equally often).
    image_size: side of the rendered RGB-D images.
    xy_range: object x, y uniform within +-range of the table centre (metres); yaw is uniform.
    camera_jitter: per-scene pose jitter of the top-down camera.
    loss_points: model points per example for the rotation loss (``pose/model_points``); a multiple of 4,
      so the block's points can be closed under its symmetries (:func:`jaxrobot.skills.pose.objects.model_points`).
    data_seed: seed of the scene stream (training uses split ``train``, evaluation ``test``).
    """

    kind: ClassVar[str] = "pose_scenes"
    num_scenes: int = 4096
    image_size: int = 64
    xy_range: float = 0.07
    camera_jitter: CameraJitter = scenes.DEFAULT_JITTER
    loss_points: int = 128
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_scenes >= 1, "num_scenes", f"must be >= 1, got {self.num_scenes}")
        require(self.image_size >= 16 and self.image_size % 8 == 0, "image_size",
                f"must be a multiple of 8 >= 16, got {self.image_size}")
        require(0 <= self.xy_range <= 0.1, "xy_range", f"must be in [0, 0.1] m, got {self.xy_range}")
        require(self.loss_points >= 8 and self.loss_points % 4 == 0, "loss_points",
                f"must be a multiple of 4 >= 8, got {self.loss_points}")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return _source(self, **kw)


def render(cfg: PoseScenesConfig, split: str, start: int, n: int) -> dict[str, np.ndarray]:
    """Scenes of ``split`` rendered with ``cfg`` (:func:`jaxrobot.skills.pose.scenes.render_scenes`)."""
    return scenes.render_scenes(split, start, n, seed=cfg.data_seed, size=cfg.image_size, xy_range=cfg.xy_range,
                                jitter=cfg.camera_jitter)


def to_batch(cfg: PoseScenesConfig, sc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rendered scenes as the batch layout of :class:`~jaxrobot.models.pose.PoseModel`."""
    from jaxrobot.skills.pose import objects

    pts = objects.model_points(cfg.loss_points, seed=1)
    obj = sc["object"]
    return {
        "observation/rgb": sc["rgb"],
        "observation/depth": sc["depth"][..., None].astype(np.float32),
        "pose/segmentation": sc["segmentation"],
        "pose/center": sc["center"].astype(np.float32),
        "pose/rotation": sc["rotation"].astype(np.float32),
        "pose/translation": sc["translation"].astype(np.float32),
        "pose/object": obj.astype(np.int32),
        "pose/model_points": pts[obj],
        "pose/symmetric": objects.SYMMETRIC[obj],
    }


class _PoseSource(PoolSource):
    """The pool source; its spec also records the camera intrinsics (pixel-centre convention)."""

    def __init__(self, cfg: PoseScenesConfig, pool, stats, intrinsics: np.ndarray, **kw):
        super().__init__(cfg, pool, stats, **kw)
        self.intrinsics = intrinsics

    def spec(self):
        from jaxrobot.skills.pose import objects

        return dict(super().spec(), camera_intrinsics=self.intrinsics.tolist(),
                    image_size=[self.cfg.image_size, self.cfg.image_size], objects=list(objects.NAMES))


def _source(cfg: PoseScenesConfig, **kw) -> PoolSource:
    from jaxrobot.skills.pose import objects

    sc = render(cfg, "train", 0, cfg.num_scenes)
    pool = to_batch(cfg, sc)
    depth = pool["observation/depth"]
    stats = {"scenes": int(cfg.num_scenes), "objects": list(objects.NAMES),
             "object_pixel_fraction": float((pool["pose/segmentation"] > 0).mean()),
             "depth": {"mean": float(depth[depth > 0].mean()), "std": float(depth[depth > 0].std())}}
    return _PoseSource(cfg, pool, stats, sc["intrinsics"], **kw)


