"""Synthetic data sources for the vision models, so each trains end to end through ``jaxrobot train``.

Three kinds, each a fixed, seeded pool of examples drawn once at start-up from the numpy scene
generators of :mod:`jaxrobot.skills.servoing.synthetic`, then sampled by the data layer's resumable global
shuffle (:class:`~jaxrobot.data.sampler.IndexSampler`, exact resume from ``get_state()``):

- ``synthetic_grasp_maps``: top-down depth scenes of boxes with GG-CNN map targets painted from each
  box's analytic grasp (:func:`~jaxrobot.vision.grasp_repr.encode_grasp_maps`); batch layout of
  :class:`~jaxrobot.models.grasp.GraspMapModel`.
- ``synthetic_grasp_candidates``: one scene and one grasp candidate per example, half jittered around
  the analytic grasp and half uniform; labelled by geometry (success iff the centre is on the box's
  middle and the gripper closes across the short side); batch layout of
  :class:`~jaxrobot.models.grasp.GraspCandidateModel`.
- ``synthetic_servo``: (current, goal) image pairs of a 4-point target with IBVS twist labels
  (:func:`~jaxrobot.skills.servoing.synthetic.servo_pairs`); batch layout of :class:`~jaxrobot.models.servo.ServoModel`.

These labels are analytic, not physics: they exist to train and export the networks cheaply (tests,
benchmarks, smoke runs); ``experiments/grasp_maps.py`` trains on MJX-labelled grasps.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataSource
from jaxrobot.data.sources.pool import PoolSource
from jaxrobot.vision.grasp_repr import PlanarGrasps, make_grasps, pad_grasps


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

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return _grasp_maps_source(self, **kw)


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

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return _grasp_candidates_source(self, **kw)


# ---------------------------------------------------------------- scenes and pools


def box_scene(rng: np.random.Generator, height: int = 32, width: int = 32, num_boxes: int = 1,
              table_depth: float = 0.6, size_range: tuple[float, float] = (4.0, 10.0),
              box_height: tuple[float, float] = (0.03, 0.08), margin: float = 2.0,
              max_grasps: int | None = None) -> tuple[np.ndarray, PlanarGrasps]:
    """One scene: depth [H, W] float32 (m) and its grasps [max_grasps or num_boxes] (padded).

    Boxes are placed left to right in equal vertical strips, so they do not overlap.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = np.full((height, width), table_depth, np.float32)
    centers, angles, widths, jaws = [], [], [], []
    strip = width / num_boxes
    for i in range(num_boxes):
        half_long = rng.uniform(*size_range)
        half_short = rng.uniform(size_range[0] * 0.5, min(half_long, size_range[0] * 0.5 + 3))
        yaw = rng.uniform(-np.pi / 2, np.pi / 2)
        reach = half_long + 1
        cu = rng.uniform(i * strip + min(reach, strip / 2), (i + 1) * strip - min(reach, strip / 2))
        cv = rng.uniform(min(reach, height / 2), height - min(reach, height / 2))
        du, dv = u - cu, v - cv
        long_axis = np.array([np.cos(yaw), np.sin(yaw)])
        a = du * long_axis[0] + dv * long_axis[1]
        b = -du * long_axis[1] + dv * long_axis[0]
        inside = (np.abs(a) <= half_long) & (np.abs(b) <= half_short)
        depth[inside] = table_depth - rng.uniform(*box_height)
        centers.append([cu, cv])
        angles.append(yaw + np.pi / 2)  # close across the short side
        widths.append(2 * half_short + 2 * margin)
        jaws.append(2 * half_long / 3)
    grasps = make_grasps(np.array(centers, np.float32), np.array(angles, np.float32),
                         np.array(widths, np.float32), np.array(jaws, np.float32))
    if max_grasps is not None:
        grasps = pad_grasps(grasps, max_grasps)
    return depth, grasps




def grasp_map_pool(cfg: SyntheticGraspMapsConfig) -> dict[str, np.ndarray]:
    """Every scene of the pool: ``observation/depth`` [N, H, W, 1] and ``grasp/*`` [N, H, W] targets."""
    import jax

    from jaxrobot.vision.grasp_repr import encode_grasp_maps

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


# ---------------------------------------------------------------- the sources


def _grasp_maps_source(cfg: SyntheticGraspMapsConfig, **kw) -> PoolSource:
    pool = grasp_map_pool(cfg)
    stats = {"scenes": cfg.num_scenes, "positive_pixel_fraction": float((pool["grasp/quality"] > 0).mean())}
    return PoolSource(cfg, pool, stats, **kw)


def _grasp_candidates_source(cfg: SyntheticGraspCandidatesConfig, **kw) -> PoolSource:
    pool = grasp_candidate_pool(cfg)
    return PoolSource(cfg, pool, {"examples": cfg.num_examples, "success_rate": float(pool["grasp/success"].mean())},
                      **kw)


