"""Grasp success executed in MJX for a trained dense grasp-map model, against a height heuristic.

:func:`evaluate_grasping` renders held-out ``grasp_objects`` scenes (``novel_instances``: new instances of
the training categories; ``novel_categories``: the unseen categories), decodes the model's top-1 grasp per
scene (GG-CNN post-processing, :func:`~jaxrobot.vision.grasp_decode.decode_grasp_maps`), lifts it to a
top-down gripper plan with the camera (:func:`jaxrobot.skills.grasping.label.planar_to_plans`, the same code
that labelled the training grasps) and executes it in MJX. On the same scenes it executes the baseline:
a top-down grasp at the highest point of the object (the centroid of the pixels within ``band`` of the
nearest surface), closing along the image's u axis, gripper fully open: no learned orientation or width.

Reported: success rates with Wilson 95% intervals, per category, and for mugs the share of successful
grasps on the handle versus the body.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.vision import camera as cam_lib
from jaxrobot.vision.grasp_decode import decode_grasp_maps
from jaxrobot.vision.grasp_repr import PlanarGrasps

MAP_KEYS = ("quality", "cos2", "sin2", "width")


@dataclasses.dataclass
class GraspPredictor:
    """A trained grasp-map model restored from a workdir: ``maps(depth)`` and ``grasps(depth, k)``."""

    model: Any
    params: Any
    config: Any  # ExperimentConfig
    meta: dict
    step: int

    @property
    def camera(self) -> cam_lib.Camera | None:
        """The training data's camera (intrinsics + pose), when the checkpoint recorded it."""
        spec = self.meta.get("data_spec", {})
        if "camera_intrinsics" not in spec:
            return None
        k = np.asarray(spec["camera_intrinsics"], np.float32)
        h, w = spec.get("image_size", [0, 0])
        return cam_lib.make_camera(
            k[0, 0], k[1, 1], k[0, 2], k[1, 2], np.asarray(spec["camera_pose"]), width=int(w), height=int(h)
        )

    def maps(self, depth: np.ndarray) -> np.ndarray:
        """Raw maps [B, H, W, 4] (quality, cos2, sin2, width) for depth [B, H, W]."""
        return np.asarray(_predict(self.model)(self.params, jnp.asarray(depth, jnp.float32)))

    def grasps(self, depth: np.ndarray, k: int = 1, threshold: float = -1e9) -> PlanarGrasps:
        """Top-``k`` planar grasps [B, k] (with ``threshold=-inf`` every image gets at least one)."""
        cfg = self.config.model
        return _decode(k, float(cfg.max_width), int(cfg.min_distance), float(threshold))(
            jnp.asarray(self.maps(depth))
        )


def _predict(model):
    return jax.jit(lambda params, depth: model.predict(params, {"observation/depth": depth[..., None]}))


def _decode(k: int, max_width: float, min_distance: int, threshold: float):
    def one(m):
        return decode_grasp_maps(
            {key: m[..., i] for i, key in enumerate(MAP_KEYS)},
            k=k,
            max_width=max_width,
            min_distance=min_distance,
            threshold=threshold,
        )

    return jax.jit(jax.vmap(one))


def load_predictor(
    workdir: str | pathlib.Path, step: int | None = None, use_ema: bool = True
) -> GraspPredictor:
    """The grasp-map model of the latest (or ``step``) checkpoint in ``workdir``."""
    import jaxrobot.skills.grasping.dataset  # noqa: F401  (registers the data config kind for from_dict)
    from jaxrobot.train.checkpoint import load_model_checkpoint

    m = load_model_checkpoint(workdir, step, kind="grasp_maps", use_ema=use_ema)
    return GraspPredictor(m.model, m.params, m.config, m.meta, m.step)


# ------------------------------------------------------------------------------------------ baseline


def highest_point_grasps(depth: jax.Array, width_px: float, band: float = 0.01) -> PlanarGrasps:
    """Baseline [B]: centre = centroid of the pixels within ``band`` m of the nearest surface, angle 0, width
    ``width_px`` (the fully opened gripper)."""

    def one(d):
        valid = d > 0
        top = jnp.min(jnp.where(valid, d, jnp.inf))
        sel = valid & (d <= top + band)
        v, u = jnp.mgrid[0 : d.shape[0], 0 : d.shape[1]]
        n = jnp.maximum(sel.sum(), 1)
        return jnp.stack([jnp.sum(u * sel) / n, jnp.sum(v * sel) / n]).astype(jnp.float32)

    center = jax.vmap(one)(depth)
    b = depth.shape[0]
    w = jnp.full((b,), width_px, jnp.float32)
    return PlanarGrasps(
        center=center, angle=jnp.zeros(b), width=w, jaw=w / 2, quality=jnp.ones(b), valid=jnp.ones(b, bool)
    )


# ------------------------------------------------------------------------------------------ evaluation


def wilson(successes: int, n: int) -> list[float]:
    from jaxrobot.sim.evaluate import wilson_interval

    lo, hi = wilson_interval(int(successes), int(n))
    return [round(lo, 4), round(hi, 4)]


def evaluate_grasping(
    predictor: GraspPredictor | None,
    split: str,
    scenes: int,
    *,
    seed: int = 0,
    chunk: int = 256,
    env=None,
    log=None,
) -> dict[str, Any]:
    """Execute the model's top-1 grasp and the baseline on ``scenes`` scenes of ``split``; returns the
    result dict of ``jaxrobot grasp eval`` (``predictor=None`` runs the baseline only)."""
    from jaxrobot.sim.tasks import grasp_objects as go
    from jaxrobot.skills.grasping import label as gl

    env = env or gl.default_env()
    size = env.config.grasp_image_size
    camera = go.grasp_camera(env, size)
    sc = gl.render_scenes(env, split, seed, 0, scenes, size=size)
    depth = jnp.asarray(sc["depth"])
    base = highest_point_grasps(depth, gl.max_width_px(env, camera))
    planars = [base]
    if predictor is not None:
        g = predictor.grasps(sc["depth"], k=1)
        planars.insert(0, jax.tree.map(lambda x: x[:, 0], g))
    to_plans = jax.jit(jax.vmap(lambda g, d: gl.planar_to_plans(env, g, d, camera)))
    plans = np.stack([np.asarray(to_plans(p, depth)) for p in planars], axis=1)  # [S, M, 5]
    if log:
        log(f"executing {plans.shape[0] * plans.shape[1]} grasps on {scenes} {split} scenes")
    success, _ = gl.execute_plans(env, sc["instances"], sc["qpos"], plans, chunk)
    handle = np.asarray(jax.vmap(gl.on_handle)(sc["instances"], jnp.asarray(sc["qpos"]), jnp.asarray(plans)))
    model_ok = success[:, 0]
    base_ok = success[:, -1]
    cats = np.asarray(sc["categories"])
    per_cat: dict[str, Any] = {}
    for c in sorted(set(cats.tolist())):
        m = cats == c
        name = go.CATEGORIES[c]
        entry = {
            "scenes": int(m.sum()),
            "success_rate": float(model_ok[m].mean()),
            "ci95": wilson(model_ok[m].sum(), m.sum()),
            "baseline_success_rate": float(base_ok[m].mean()),
        }
        if name == "mug":
            ok = model_ok[m]
            on = handle[m, 0]
            n_ok = max(int(ok.sum()), 1)
            entry["handle_share"] = float((ok & on).sum() / n_ok)
            entry["body_share"] = float((ok & ~on).sum() / n_ok)
            entry["grasps_on_handle"] = float(on.mean())
            entry["baseline_handle_share"] = float(
                (base_ok[m] & handle[m, -1]).sum() / max(int(base_ok[m].sum()), 1)
            )
        per_cat[name] = entry
    return {
        "success_rate": float(model_ok.mean()),
        "baseline_success_rate": float(base_ok.mean()),
        "scenes": int(scenes),
        "ci95": wilson(model_ok.sum(), scenes),
        "baseline_ci95": wilson(base_ok.sum(), scenes),
        "per_category": per_cat,
        "split": split,
        "seed": seed,
        "step": None if predictor is None else predictor.step,
    }


# ------------------------------------------------------------------------------------------ predict


def grasps_to_json(grasps: PlanarGrasps, depth: np.ndarray, camera: cam_lib.Camera | None) -> list[dict]:
    """Valid grasps of one image [k] as JSON-able dicts (pixels, angle, width, quality, 3-D pose if known)."""
    from jaxrobot.vision.grasp_decode import lift_grasps

    g = jax.tree.map(np.asarray, grasps)
    poses = None
    if camera is not None:
        poses = jax.tree.map(np.asarray, lift_grasps(grasps, jnp.asarray(depth), camera, approach="top_down"))
    out = []
    for i in range(g.angle.shape[0]):
        if not g.valid[i]:
            continue
        item = {
            "center_px": [float(g.center[i, 0]), float(g.center[i, 1])],
            "angle_rad": float(g.angle[i]),
            "width_px": float(g.width[i]),
            "quality": float(g.quality[i]),
        }
        if poses is not None:
            item.update(
                position_m=[float(x) for x in poses.position[i]],
                yaw_rad=float(poses.yaw[i]),
                width_m=float(poses.width[i]),
            )
        out.append(item)
    return out


def draw_grasps(image: np.ndarray, grasps: PlanarGrasps, scale: int = 4):
    """PIL image: ``image`` (uint8 [H, W, 3]) upscaled, grasp rectangles drawn (best in red, others green)."""
    from PIL import Image, ImageDraw

    from jaxrobot.vision.grasp_repr import grasp_corners

    img = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(img)
    corners = np.asarray(grasp_corners(grasps))
    valid = np.asarray(grasps.valid)
    for i in reversed(range(corners.shape[0])):
        if not valid[i]:
            continue
        pts = [((u + 0.5) * scale, (v + 0.5) * scale) for u, v in corners[i]]
        color = (255, 40, 40) if i == 0 else (40, 220, 40)
        draw.line(pts + [pts[0]], fill=color, width=2)
        # the jaw edges (where the fingers are) thicker
        draw.line([pts[1], pts[2]], fill=color, width=4)
        draw.line([pts[3], pts[0]], fill=color, width=4)
    return img


def depth_to_image(depth: np.ndarray) -> np.ndarray:
    """Grey uint8 [H, W, 3] of a depth image: near is bright."""
    d = np.asarray(depth, np.float32)
    valid = d > 0
    if not valid.any():
        return np.zeros(d.shape + (3,), np.uint8)
    lo, hi = d[valid].min(), d[valid].max()
    g = np.where(valid, 1.0 - (d - lo) / max(hi - lo, 1e-6), 0.0)
    return np.repeat((g * 220 + 35).astype(np.uint8)[..., None], 3, -1)
