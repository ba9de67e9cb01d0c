"""Held-out evaluation of a trained pose model: ADD / ADD-S accuracy and picking by pose in MJX.

:func:`evaluate_pose` renders ``test`` scenes (a key stream disjoint from the training scenes, same
config), estimates every object's pose in the camera frame (:meth:`PoseModel.predict
<jaxrobot.models.pose.PoseModel.predict>`), and scores it against the truth with ADD and ADD-S at 10% of
the object diameter (:mod:`jaxrobot.vision.pose_metrics`; averaged over 500 model points, closed under the
block's symmetries; ADD-S searches a dense set on the ball, :func:`jaxrobot.skills.pose.objects.search_points`,
so an estimate right up to a symmetry scores ~0 rather than the spacing of the points). A wrongly
classified or unseen object counts as a miss. ``add_or_add_s`` uses ADD-S for the symmetric objects and
ADD for the others (the convention of PoseCNN's tables). :func:`score` does the bookkeeping.

Picking: the estimated pose is moved to the world with the scene's camera extrinsics, the object's
pre-defined grasp (:func:`jaxrobot.skills.pose.objects.object_grasps`, object frame) is placed by it
(:func:`~jaxrobot.skills.pose.objects.plan_from_pose`), and the grasp runs in MJX on the true object
(:func:`jaxrobot.skills.grasping.label.execute_plans`: approach, close, lift, hold). The same grasp placed by the
true pose is the reference. Rates come with Wilson 95% intervals.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.skills.pose import objects
from jaxrobot.vision import pose_metrics as pm


@dataclasses.dataclass
class PosePredictor:
    """A trained pose model restored from a workdir."""

    model: Any
    params: Any
    config: Any  # ExperimentConfig
    step: int

    def predict(self, rgb: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray, chunk: int = 32
                ) -> dict[str, np.ndarray]:
        """Estimates for images rgb [N, H, W, 3], depth [N, H, W] (m) with intrinsics [3, 3] (pixel-centre
        convention), in chunks of ``chunk`` (one compiled function)."""
        n = rgb.shape[0]
        if depth.shape != rgb.shape[:3]:
            raise ValueError(f"rgb {rgb.shape} and depth {depth.shape} do not match")
        chunk = min(chunk, n)
        fn = _predict_fn(self.model)
        parts = []
        for lo in range(0, n, chunk):
            idx = np.arange(lo, lo + chunk).clip(max=n - 1)
            obs = {"observation/rgb": jnp.asarray(rgb[idx]),
                   "observation/depth": jnp.asarray(depth[idx][..., None], jnp.float32),
                   "observation/intrinsics": jnp.broadcast_to(jnp.asarray(intrinsics, jnp.float32), (chunk, 3, 3))}
            out = jax.device_get(fn(self.params, obs))
            parts.append({k: v[: min(chunk, n - lo)] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


_FNS: dict[int, Any] = {}


def _predict_fn(model):
    key = id(model)
    if key not in _FNS:
        _FNS[key] = jax.jit(lambda params, obs: model.predict(params, obs))
    return _FNS[key]


def load_predictor(workdir: str | pathlib.Path, step: int | None = None, use_ema: bool = True) -> PosePredictor:
    """The pose model of the latest (or ``step``) checkpoint in ``workdir``."""
    import jaxrobot.skills.pose.dataset  # noqa: F401  (registers the data config kind for from_dict)
    from jaxrobot.train.checkpoint import load_model_checkpoint

    m = load_model_checkpoint(workdir, step, kind="pose", use_ema=use_ema)
    return PosePredictor(m.model, m.params, m.config, m.step)


def _wilson(k: int, n: int) -> list[float]:
    from jaxrobot.sim.evaluate import wilson_interval

    lo, hi = wilson_interval(int(k), int(n))
    return [round(lo, 4), round(hi, 4)]


#: averaged x searched point pairs per compiled call of :func:`_metrics` (bounds its distance array)
PAIRS_PER_CALL = 1 << 24


@jax.jit
def _metrics(points, search, rot_est, t_est, rot_gt, t_gt):
    """ADD, ADD-S [c] of c poses of one object (model points [N, 3], ADD-S searched points [M, 3])."""
    one = lambda re, te, rg, tg: (pm.add(points, re, te, rg, tg), pm.add_s(points, re, te, rg, tg, search))  # noqa: E731
    return jax.vmap(one)(rot_est, t_est, rot_gt, t_gt)


def pose_errors(est: dict[str, np.ndarray], sc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-scene ADD, ADD-S (m; inf when the object is missed or misclassified), translation error (m) and
    rotation error (deg) of estimates ``est`` against scenes ``sc`` (camera frame; ``object``,
    ``rotation``, ``translation``).

    ADD averages over the 500 model points of the true object; ADD-S searches
    :func:`~jaxrobot.skills.pose.objects.search_points` (dense for the ball). Scenes go by object, in chunks of at
    most :data:`PAIRS_PER_CALL` point pairs.
    """
    obj = np.asarray(sc["object"])
    n = obj.shape[0]
    pts, search = objects.model_points(), objects.search_points()
    a, s = np.full(n, np.inf, np.float32), np.full(n, np.inf, np.float32)
    for k in range(objects.NUM_OBJECTS):
        idx = np.flatnonzero(obj == k)
        if not idx.size:
            continue
        chunk = int(np.clip(PAIRS_PER_CALL // (pts.shape[1] * search[k].shape[0]), 1, idx.size))
        for lo in range(0, idx.size, chunk):
            sel = idx[np.arange(lo, lo + chunk).clip(max=idx.size - 1)]  # static shape: repeat the last scene
            ra, rs = _metrics(pts[k], search[k], est["rotation"][sel], est["translation"][sel],
                              sc["rotation"][sel], sc["translation"][sel])
            m = min(chunk, idx.size - lo)
            a[sel[:m]], s[sel[:m]] = np.asarray(ra)[:m], np.asarray(rs)[:m]
    ok = (est["object"] == obj) & est["found"]
    return {
        "add": np.where(ok, a, np.inf),
        "add_s": np.where(ok, s, np.inf),
        "translation_error": np.linalg.norm(est["translation"] - sc["translation"], axis=-1),
        "rotation_error_deg": np.asarray(pm.rotation_error_deg(est["rotation"], sc["rotation"])),
        "classified": ok,
    }


def score(err: dict[str, np.ndarray], obj: np.ndarray, fraction: float = 0.1) -> dict[str, Any]:
    """Accuracies of :func:`pose_errors` ``err`` for scenes of objects ``obj`` [N]: ADD, ADD-S and
    ``add_or_add_s`` (ADD-S for the symmetric objects, ADD for the others) below ``fraction`` of the
    diameter with Wilson intervals, ADD-S and ``add_or_add_s`` also at 2%, 5% and 10%, the classification
    rate, and the same per object (``per_object``, only objects that occur)."""
    obj = np.asarray(obj)
    diam = objects.diameters()[obj]
    sym = objects.SYMMETRIC[obj]

    def correct(f):
        ok_add, ok_adds = pm.within(err["add"], diam, f), pm.within(err["add_s"], diam, f)
        return ok_add, ok_adds, np.where(sym, ok_adds, ok_add)

    ok_add, ok_adds, ok_either = correct(fraction)
    at = {f"{f:g}": correct(f) for f in (0.02, 0.05, 0.1)}
    n = int(obj.shape[0])
    res: dict[str, Any] = {
        "scenes": n,
        "add_accuracy": float(ok_add.mean()), "add_ci95": _wilson(ok_add.sum(), n),
        "add_s_accuracy": float(ok_adds.mean()), "add_s_ci95": _wilson(ok_adds.sum(), n),
        "add_or_add_s_accuracy": float(ok_either.mean()), "add_or_add_s_ci95": _wilson(ok_either.sum(), n),
        "classification_accuracy": float(err["classified"].mean()),
        # stricter thresholds than the standard 10%: where the estimates start to fail
        "add_s_accuracy_at": {f: float(c[1].mean()) for f, c in at.items()},
        "add_or_add_s_accuracy_at": {f: float(c[2].mean()) for f, c in at.items()},
        "threshold_fraction": fraction,
    }
    per = {}
    for k, name in enumerate(objects.NAMES):
        m = obj == k
        nk = int(m.sum())
        if nk:
            per[name] = {"scenes": nk, "symmetric": bool(objects.SYMMETRIC[k]),
                         "diameter_m": round(float(objects.diameters()[k]), 4),
                         "add_accuracy": float(ok_add[m].mean()), "add_ci95": _wilson(ok_add[m].sum(), nk),
                         "add_s_accuracy": float(ok_adds[m].mean()), "add_s_ci95": _wilson(ok_adds[m].sum(), nk),
                         "add_or_add_s_accuracy": float(ok_either[m].mean()),
                         "add_s_accuracy_at": {f: float(c[1][m].mean()) for f, c in at.items()},
                         "add_or_add_s_accuracy_at": {f: float(c[2][m].mean()) for f, c in at.items()}}
    res["per_object"] = per
    return res


def world_pose(camera_pose: np.ndarray, rot: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-from-object (R [N, 3, 3], t [N, 3]) of camera-frame poses with world-from-camera [N, 4, 4]."""
    rc, pc = camera_pose[:, :3, :3], camera_pose[:, :3, 3]
    return np.einsum("nij,njk->nik", rc, rot), np.einsum("nij,nj->ni", rc, t) + pc


def pick_plans(est: dict[str, np.ndarray], sc: dict[str, np.ndarray], grasps: np.ndarray) -> np.ndarray:
    """Top-down plans [N, 2, 5]: the estimated object's grasp at the estimated pose, and the true object's
    grasp at the true pose."""
    r_e, t_e = world_pose(sc["camera_pose"], est["rotation"], est["translation"])
    r_g, t_g = world_pose(sc["camera_pose"], sc["rotation"], sc["translation"])
    place = jax.jit(jax.vmap(objects.plan_from_pose))
    p_est = np.asarray(place(jnp.asarray(grasps[est["object"]]), r_e, t_e))
    p_gt = np.asarray(place(jnp.asarray(grasps[sc["object"]]), r_g, t_g))
    return np.stack([p_est, p_gt], 1)


def evaluate_pose(predictor: PosePredictor, scenes: int, *, seed: int | None = None, pick: bool = True,
                  fraction: float = 0.1, chunk: int = 32, log=None) -> dict[str, Any]:
    """ADD / ADD-S accuracy (and pick success) on ``scenes`` held-out ``test`` scenes; the result dict of
    ``jaxrobot pose eval``."""
    from jaxrobot.skills.pose import dataset
    from jaxrobot.skills.pose import scenes as scene_lib

    if scenes < 1:
        raise ValueError(f"scenes must be >= 1, got {scenes}")
    pm.within(np.zeros(0), np.zeros(0), fraction)  # rejects a bad fraction before any rendering
    dcfg = predictor.config.data
    if seed is not None:
        dcfg = dcfg.replace(data_seed=seed)
    sc = dataset.render(dcfg, "test", 0, scenes)
    est = predictor.predict(sc["rgb"], sc["depth"], sc["intrinsics"], chunk=chunk)
    err = pose_errors(est, sc)
    res = score(err, sc["object"], fraction)
    success = None
    if pick:
        from jaxrobot.skills.grasping import label as gl

        env = scene_lib.scene_env(dcfg.xy_range)
        plans = pick_plans(est, sc, objects.object_grasps(env))
        if log:
            log(f"executing {plans.shape[0] * 2} picks in MJX")
        insts = jax.tree.map(lambda x: x[sc["object"]], objects.instances())
        success, _ = gl.execute_plans(env, insts, sc["qpos"], plans, chunk=min(256, 2 * scenes))
        res.update(pick_success_rate=float(success[:, 0].mean()), pick_ci95=_wilson(success[:, 0].sum(), scenes),
                   pick_success_rate_gt_pose=float(success[:, 1].mean()),
                   pick_gt_pose_ci95=_wilson(success[:, 1].sum(), scenes))
    for name, e in res["per_object"].items():
        m = sc["object"] == objects.object_index(name)
        e.update(median_translation_error_mm=round(float(np.median(err["translation_error"][m])) * 1000, 2),
                 median_rotation_error_deg=round(float(np.median(err["rotation_error_deg"][m])), 2))
        if success is not None:
            e.update(pick_success_rate=float(success[m, 0].mean()),
                     pick_ci95=_wilson(success[m, 0].sum(), int(m.sum())),
                     pick_success_rate_gt_pose=float(success[m, 1].mean()))
    res["median_translation_error_mm"] = round(float(np.median(err["translation_error"])) * 1000, 2)
    res["step"] = predictor.step
    res["seed"] = int(dcfg.data_seed)
    return res
