"""Rendered pose scenes: one known object (:mod:`jaxrobot.skills.pose.objects`) resting on the ``grasp_objects``
table at a random position and yaw, seen by the top-down ``grasp_cam`` with a jittered pose, rendered at
``image_size`` x ``image_size`` RGB-D by ``mjx.ray`` with the robot hidden, with the ground truth:

- ``segmentation`` uint8 [H, W]: 0 background, ``1 + object id`` where a ray hit the object;
- ``rotation`` [3, 3] / ``translation`` [3]: the object pose in the (OpenCV) camera frame, camera from object;
- ``center`` [2]: the projection (u, v) of the object origin (pixel-centre coordinates, as
  :mod:`jaxrobot.vision.camera`); ``translation[2]`` is its depth;
- ``camera_pose`` [4, 4]: world from OpenCV camera (jittered per scene); ``qpos`` [7]: the object's free joint.

Scenes come from seeded, disjoint key streams per split (``train`` / ``test``) and are rendered in chunks
by one ``jit(vmap(...))``; the object of scene ``i`` is ``i mod K`` (balanced). Deterministic given
(config, split, index range).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.sim import render
from jaxrobot.sim.randomize import CameraJitter, jitter_cameras
from jaxrobot.sim.tasks import grasp_objects as go
from jaxrobot.skills.pose import objects

#: Per-scene pose jitter of the top-down camera (±1 cm, 2°).
DEFAULT_JITTER = CameraJitter(position=0.01, rotation=math.radians(2.0))

SPLITS = ("train", "test")
_FLIP = np.diag([1.0, -1.0, -1.0]).astype(np.float32)  # MuJoCo (GL) camera axes -> OpenCV


def scene_env(xy_range: float) -> go.GraspObjects:
    """The shared ``grasp_objects`` env with objects within ``xy_range`` of the table centre."""
    return _env(round(float(xy_range), 6))


@functools.lru_cache(maxsize=4)
def _env(xy_range: float) -> go.GraspObjects:
    from jaxrobot.skills.grasping import label as gl

    return gl.default_env(go.GraspObjectsConfig(object_xy_range=xy_range))


def intrinsics(env: go.GraspObjects, size: int) -> np.ndarray:
    """3x3 intrinsics of the scene camera at ``size`` px in the pixel-centre convention (cx = (W-1)/2)."""
    k = render.intrinsics(env.mj_model, env.camera_id, size, size).copy()
    k[0, 2] -= 0.5
    k[1, 2] -= 0.5
    return k


def scene_keys(split: str, seed: int, start: int, n: int) -> jax.Array:
    """Keys of scenes ``start .. start+n-1`` of ``split`` (disjoint random streams per split)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if start < 0 or n < 0:
        raise ValueError(f"start and n must be >= 0, got {start}, {n}")
    base = jax.random.fold_in(jax.random.key(seed), 0x905E + SPLITS.index(split))
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + n, dtype=jnp.uint32))


def scene_objects(start: int, n: int) -> np.ndarray:
    """Object id of scenes ``start .. start+n-1`` (round-robin)."""
    return ((start + np.arange(n)) % objects.NUM_OBJECTS).astype(np.int32)


@functools.lru_cache(maxsize=8)
def _render_fn(env: go.GraspObjects, size: int, jitter: CameraJitter):
    k = render.intrinsics(env.mj_model, env.camera_id, size, size)
    k_cv = jnp.asarray(intrinsics(env, size))
    slots = jnp.asarray(env.slots)

    def one(inst, obj, key):
        k_pose, k_cam = jax.random.split(key)
        model = env.apply_instance(env.mjx_model, inst)
        model = jitter_cameras(model, (env.camera_id,), jitter, k_cam)
        qpos = env.object_qpos(model, k_pose)
        data = env.init_data(model, env._home_qpos.at[0:7].set(qpos))
        depth, rgb, geom = render.render_rgbd_geoms(model, data, env.camera_id, k, size, size,
                                                    geomgroup=go.ROBOT_HIDDEN)
        hit = jnp.any(geom[..., None] == slots, -1)
        seg = jnp.where(hit, obj + 1, 0).astype(jnp.uint8)
        cam_pos = data.cam_xpos[env.camera_id]
        r_cv = data.cam_xmat[env.camera_id].reshape(3, 3) @ _FLIP
        r_wo = data.xmat[env.body].reshape(3, 3)
        rot = r_cv.T @ r_wo
        t = r_cv.T @ (data.xpos[env.body] - cam_pos)
        uvw = k_cv @ t
        pose = jnp.eye(4).at[:3, :3].set(r_cv).at[:3, 3].set(cam_pos)
        return {"rgb": rgb, "depth": depth, "segmentation": seg, "rotation": rot, "translation": t,
                "center": uvw[:2] / uvw[2], "camera_pose": pose, "qpos": qpos}

    return jax.jit(jax.vmap(one))


def render_scenes(split: str, start: int, n: int, *, seed: int = 0, size: int = 64, xy_range: float = 0.07,
                  jitter: CameraJitter | None = None, chunk: int = 256) -> dict[str, Any]:
    """Scenes ``start .. start+n-1`` of ``split`` as numpy arrays (keys in the module docstring, plus
    ``object`` [n] and ``intrinsics`` [3, 3]). ``jitter``: the camera pose jitter, by default the one of
    :data:`DEFAULT_JITTER` (±1 cm, 2°; also the default of the ``pose_scenes`` data config)."""
    if jitter is None:
        jitter = DEFAULT_JITTER
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    chunk = min(chunk, n)
    env = scene_env(xy_range)
    fn = _render_fn(env, size, jitter)
    obj = scene_objects(start, n)
    keys = scene_keys(split, seed, start, n)
    insts = objects.instances()
    parts = []
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        idx = np.arange(lo, lo + chunk).clip(max=hi - 1)  # static chunk shape: repeat the last scene
        inst = jax.tree.map(lambda x, idx=idx: x[obj[idx]], insts)
        out = jax.device_get(fn(inst, jnp.asarray(obj[idx]), keys[idx]))
        parts.append({k: v[: hi - lo] for k, v in out.items()})
    res = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    res["object"] = obj
    res["intrinsics"] = intrinsics(env, size)
    return res
