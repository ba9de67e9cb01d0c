"""Synthetic data sources for the vision models, so each trains end to end through ``jaxrobot train``.

Three kinds, each a fixed, seeded pool of examples drawn once at start-up from the numpy scene
generators of :mod:`jaxrobot.vision.synthetic`, then sampled by the data layer's resumable global
shuffle (:class:`~jaxrobot.data.sampler.IndexSampler`, exact resume from ``get_state()``):

- ``synthetic_grasp_maps``: top-down depth scenes of boxes with GG-CNN map targets painted from each
  box's analytic grasp (:func:`~jaxrobot.vision.grasp_repr.encode_grasp_maps`); batch layout of
  :class:`~jaxrobot.models.grasp.GraspMapModel`.
- ``synthetic_grasp_candidates``: one scene and one grasp candidate per example, half jittered around
  the analytic grasp and half uniform; labelled by geometry (success iff the centre is on the box's
  middle and the gripper closes across the short side); batch layout of
  :class:`~jaxrobot.models.grasp.GraspCandidateModel`.
- ``synthetic_servo``: (current, goal) image pairs of a 4-point target with IBVS twist labels
  (:func:`~jaxrobot.vision.synthetic.servo_pairs`); batch layout of :class:`~jaxrobot.models.servo.ServoModel`.

These labels are analytic, not physics: they exist to train and export the networks cheaply (tests,
benchmarks, smoke runs); ``experiments/grasp_maps.py`` trains on MJX-labelled grasps.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.sampler import IndexSampler
from jaxrobot.data.sources import register_source


@dataclasses.dataclass(frozen=True)
class SyntheticGraspMapsConfig(Config):
    """Fields:
    num_scenes: scenes in the pool.
    image_size: side of the square depth image (a multiple of 4, as the map networks need).
    num_boxes: boxes per scene (placed in non-overlapping vertical strips).
    max_width: opening in pixels that the width map's 1.0 stands for (= the model's ``max_width``).
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "synthetic_grasp_maps"
    num_scenes: int = 256
    image_size: int = 32
    num_boxes: int = 1
    max_width: float = 20.0
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_scenes >= 1, "num_scenes", "must be >= 1")
        require(self.image_size >= 16 and self.image_size % 4 == 0, "image_size", "must be a multiple of 4 >= 16")
        require(self.num_boxes >= 1, "num_boxes", "must be >= 1")
        require(self.max_width > 0, "max_width", "must be > 0")


@dataclasses.dataclass(frozen=True)
class SyntheticGraspCandidatesConfig(Config):
    """Fields:
    num_examples: (scene, candidate) examples in the pool; one box per scene.
    image_size: side of the square depth image.
    positive_fraction: share of candidates jittered around the analytic grasp (the rest are uniform);
      the label is decided by geometry either way.
    center_jitter: std (px) of the jitter of those candidates' centres.
    angle_jitter: std (rad) of the jitter of their angles.
    angle_tolerance: a grasp succeeds only if its closing axis is within this many radians (mod π) of
      the box's short axis.
    grip_offset: the gripper depth is the depth seen at the candidate's centre plus this many metres.
    data_seed: seed of the pool.
    """

    kind: ClassVar[str] = "synthetic_grasp_candidates"
    num_examples: int = 512
    image_size: int = 32
    positive_fraction: float = 0.5
    center_jitter: float = 1.5
    angle_jitter: float = 0.3
    angle_tolerance: float = 0.4
    grip_offset: float = 0.01
    data_seed: int = 0

    def check(self) -> None:
        require(self.num_examples >= 1, "num_examples", "must be >= 1")
        require(self.image_size >= 16, "image_size", "must be >= 16")
        require(0 <= self.positive_fraction <= 1, "positive_fraction", "must be in [0, 1]")
        require(self.center_jitter >= 0, "center_jitter", "must be >= 0")
        require(self.angle_jitter >= 0, "angle_jitter", "must be >= 0")
        require(0 < self.angle_tolerance <= np.pi / 2, "angle_tolerance", "must be in (0, π/2]")


@dataclasses.dataclass(frozen=True)
class SyntheticServoConfig(Config):
    """Fields (see :func:`~jaxrobot.vision.synthetic.servo_pairs`):
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


# ---------------------------------------------------------------- pools


def grasp_map_pool(cfg: SyntheticGraspMapsConfig) -> dict[str, np.ndarray]:
    """Every scene of the pool: ``observation/depth`` [N, H, W, 1] and ``grasp/*`` [N, H, W] targets."""
    import jax

    from jaxrobot.vision.grasp_repr import encode_grasp_maps
    from jaxrobot.vision.synthetic import box_scene

    rng = np.random.default_rng(cfg.data_seed)
    s = cfg.image_size
    scenes = [box_scene(rng, s, s, cfg.num_boxes) for _ in range(cfg.num_scenes)]
    depth = np.stack([d for d, _ in scenes])
    grasps = jax.tree.map(lambda *xs: np.stack(xs), *[g for _, g in scenes])
    maps = jax.jit(jax.vmap(lambda g: encode_grasp_maps(g, s, s, cfg.max_width)))(grasps)
    out = {"observation/depth": depth[..., None].astype(np.float32)}
    out.update({f"grasp/{k}": np.asarray(v, np.float32) for k, v in maps.items()})
    return out


def _on_box_and_across(center, angle, label_center, label_angle, half_long, half_short, tolerance) -> bool:
    """The candidate's geometric label: centre in the box's middle region and closing across its short side."""
    long_axis = np.array([np.sin(label_angle), -np.cos(label_angle)])  # label angle = yaw + π/2
    d = np.asarray(center) - np.asarray(label_center)
    along = abs(float(d @ long_axis))
    across = abs(float(d @ np.array([-long_axis[1], long_axis[0]])))
    diff = (angle - label_angle + np.pi / 2) % np.pi - np.pi / 2
    return along <= 0.6 * half_long and across <= 0.5 * half_short and abs(diff) <= tolerance


def grasp_candidate_pool(cfg: SyntheticGraspCandidatesConfig) -> dict[str, np.ndarray]:
    """Every example of the pool: depth [N, H, W, 1], ``grasp/center`` [N, 2], ``angle``, ``depth``,
    ``success`` [N]."""
    from jaxrobot.vision.synthetic import box_scene

    margin = 2.0  # box_scene's default: label width = 2 * half_short + 2 * margin
    rng = np.random.default_rng(cfg.data_seed)
    s = cfg.image_size
    depth, center, angle, grip, success = [], [], [], [], []
    for _ in range(cfg.num_examples):
        d, g = box_scene(rng, s, s, 1, margin=margin)
        c0, a0 = np.asarray(g.center[0], np.float64), float(g.angle[0])
        half_short, half_long = float(g.width[0]) / 2 - margin, 1.5 * float(g.jaw[0]) / 2
        if rng.uniform() < cfg.positive_fraction:
            c = c0 + rng.normal(0.0, cfg.center_jitter, 2)
            a = a0 + rng.normal(0.0, cfg.angle_jitter)
        else:
            c = rng.uniform(0, s - 1, 2)
            a = rng.uniform(-np.pi / 2, np.pi / 2)
        a = (a + np.pi / 2) % np.pi - np.pi / 2
        u, v = np.clip(np.rint(c).astype(int), 0, s - 1)
        depth.append(d)
        center.append(c)
        angle.append(a)
        grip.append(d[v, u] + cfg.grip_offset)
        success.append(_on_box_and_across(c, a, c0, a0, half_long, half_short, cfg.angle_tolerance))
    return {"observation/depth": np.stack(depth)[..., None].astype(np.float32),
            "grasp/center": np.asarray(center, np.float32), "grasp/angle": np.asarray(angle, np.float32),
            "grasp/depth": np.asarray(grip, np.float32), "grasp/success": np.asarray(success, np.float32)}


def servo_pool(cfg: SyntheticServoConfig) -> dict[str, np.ndarray]:
    from jaxrobot.vision.synthetic import servo_pairs

    return servo_pairs(np.random.default_rng(cfg.data_seed), cfg.num_pairs, cfg.image_size,
                       max_translation=cfg.max_translation, max_rotation=cfg.max_rotation)


# ---------------------------------------------------------------- the source


class PoolSource:
    """DataSource over a fixed pool of examples (a dict of arrays with a shared leading dimension)."""

    def __init__(self, cfg: Config, pool: dict[str, np.ndarray], stats: dict[str, Any], *, global_batch_size: int,
                 process_index: int = 0, process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.pool = pool
        self._stats = stats
        n = len(next(iter(pool.values())))
        self.sampler = IndexSampler(n, global_batch_size, seed=seed, process_index=process_index,
                                    process_count=process_count)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return self.sampler.n

    def __next__(self) -> dict[str, np.ndarray]:
        return self.batch_for(self.sampler.next_local())

    def batch_for(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.pool.items()}

    def get_state(self) -> dict[str, int]:
        return self.sampler.get_state()

    def set_state(self, state: dict[str, int]) -> None:
        self.sampler.set_state(state)

    def stats(self) -> dict[str, Any]:
        return self._stats

    def spec(self) -> dict[str, Any]:
        example = self.batch_for(np.zeros(1, np.int64))
        return {"dataset": type(self.cfg).kind, "examples": len(self), "cameras": [],
                "features": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype)} for k, v in example.items()}}


def _grasp_maps_source(cfg: SyntheticGraspMapsConfig, **kw) -> PoolSource:
    pool = grasp_map_pool(cfg)
    stats = {"scenes": cfg.num_scenes, "positive_pixel_fraction": float((pool["grasp/quality"] > 0).mean())}
    return PoolSource(cfg, pool, stats, **kw)


def _grasp_candidates_source(cfg: SyntheticGraspCandidatesConfig, **kw) -> PoolSource:
    pool = grasp_candidate_pool(cfg)
    return PoolSource(cfg, pool, {"examples": cfg.num_examples, "success_rate": float(pool["grasp/success"].mean())},
                      **kw)


def _servo_source(cfg: SyntheticServoConfig, **kw) -> PoolSource:
    pool = servo_pool(cfg)
    twist = pool["servo/twist"]
    stats = {"pairs": cfg.num_pairs, "twist": {"mean": twist.mean(0).tolist(), "std": twist.std(0).tolist()}}
    return PoolSource(cfg, pool, stats, **kw)


register_source("synthetic_grasp_maps", _grasp_maps_source)
register_source("synthetic_grasp_candidates", _grasp_candidates_source)
register_source("synthetic_servo", _servo_source)
