"""Physics-labelled planar and 6-DoF grasps on ``grasp_objects``: render, sample, execute in MJX, write RLDS.

Pipeline (:func:`label_grasps`), per chunk of scenes of one split (:mod:`jaxrobot.sim.tasks.grasp_objects`):

1. :func:`render_scenes`: an object instance per scene (its category round-robin, its shape from the
   split's random stream), a random resting pose, and the top-down depth + RGB image (robot hidden).
2. :func:`sample_candidates`: K planar grasps (pixel centre, angle, width in px) per image: antipodal
   pairs of depth-edge pixels (:func:`jaxrobot.vision.grasp_candidates.sample_antipodal`) and a share of
   random grasps around object pixels (mostly negatives).
3. :func:`planar_to_plans`: every planar grasp becomes a top-down gripper plan with the camera
   (:func:`jaxrobot.vision.grasp_decode.lift_grasps`): the tcp goes ``grasp_depth`` below the highest surface
   between the fingers (never below ``min_tcp_height`` above the table), yawed along the closing axis,
   opened to the grasp width plus ``finger_margin`` per side.
4. :func:`execute_plans`: all S x K plans run in parallel, vmapped over candidates and scenes in fixed-size
   chunks (one compiled function): approach, close, lift, hold; success = object lifted >= ``lift_height``
   and held for ``hold_steps`` control steps.
5. Optionally (``candidates_6dof`` = K6 > 0), 6-DoF candidates (:func:`sample_6dof`): K6 of the planar
   candidates (evenly spread over antipodal and random ones) are lifted to 3-D at their pixel (position from
   the depth image) with their closing axis, then the approach is tilted from vertical by up to
   ``max_tilt`` in a random direction (the closing axis kept perpendicular to it). They run in the 6-DoF
   scene variant (:class:`~jaxrobot.sim.tasks.grasp_objects.GraspObjects6Dof`: pitch and roll hinges about
   the tcp), approaching along the tilted axis, by the same vmapped execution.
6. :func:`write_dataset`: one RLDS episode per scene (one step holding the image and all K candidates).

Dataset ``jaxrobot_grasp_labels`` (split = the scenes' split), per episode (K candidates, H = W = size)::

    steps/observation/depth   float32 [1, H, W, 1]  z-depth (m), zlib-compressed tensor
    steps/observation/rgb     uint8   [1, H, W, 3]  PNG
    steps/grasp/center        float32 [1, K, 2]     (u, v) px;  steps/grasp/angle [1, K] rad
    steps/grasp/width         float32 [1, K]        px;  steps/grasp/plan [1, K, 5] executed gripper plan
    steps/grasp/success       bool    [1, K];  steps/grasp/height [1, K] final lift of the object (m)
    steps/grasp/source        int32   [1, K]        0 antipodal, 1 random
    steps/grasp/on_handle     bool    [1, K]        mugs: the grasp centre is on the handle side
    with K6 > 0 also (tcp position and gripper orientation in the world; fingers close along the gripper's y
    axis and approach along its -z axis; plan = [x, y, z, yaw, pitch, roll, opening] of the 6-DoF scene):
    steps/grasp_6dof/position [1, K6, 3] m;  steps/grasp_6dof/quaternion [1, K6, 4] (w, x, y, z)
    steps/grasp_6dof/opening  [1, K6] finger opening (m);  steps/grasp_6dof/tilt [1, K6] rad from vertical
    steps/grasp_6dof/center   [1, K6, 2] seed pixel (u, v);  steps/grasp_6dof/plan [1, K6, 7]
    steps/grasp_6dof/success  bool [1, K6];  steps/grasp_6dof/height [1, K6]
    steps/is_first, is_last, is_terminal  bool [1]
    episode_metadata/category (text), category_id, instance_id, seed (int64), split (text)
    episode_metadata/camera_intrinsics float32 [3, 3]; camera_pose float32 [4, 4] (world from OpenCV camera)
    episode_metadata/object_pose float32 [7]; success_rate float32

``jaxrobot sim label-grasps --scenes N --candidates K --out DIR`` (parser in :mod:`jaxrobot.cli.sim`) prints, as
its last stdout line, the dataset folder (for ``RldsDataset`` / ``tfds.builder_from_directory``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.sim.tasks import grasp_objects as go
from jaxrobot.vision import camera as cam_lib
from jaxrobot.vision.grasp_candidates import sample_antipodal
from jaxrobot.vision.grasp_decode import lift_grasps
from jaxrobot.vision.grasp_repr import PlanarGrasps, grasp_axes, wrap_angle

DATASET_NAME = "jaxrobot_grasp_labels"
MAX_CHUNK = 512  # per-call batch cap on CPU (shared/FACTS.md)


@dataclasses.dataclass(frozen=True)
class GraspLabelConfig(Config):
    """Grasp labelling.

    scenes: scenes to label; candidates: K grasps per scene; random_fraction: share of random candidates
    (the rest antipodal; unfilled antipodal slots become random too).
    split / seed: which random stream of object instances (``train``, ``novel_instances``,
      ``novel_categories``; see ``grasp_objects.scene_keys``).
    min_width_px / max_width_px: antipodal width range in pixels (default max: the widest grasp the open
      gripper takes with ``finger_margin``); edge_threshold: depth-edge gradient (m per px).
    exec_chunk: candidates per compiled MJX call; scene_chunk: scenes rendered per call.
    candidates_6dof: K6 tilted 6-DoF grasps per scene (0: planar only), executed in the 6-DoF scene.
    max_tilt: largest angle (rad) between a 6-DoF approach and the vertical (uniform in [0, max_tilt]).
    """

    kind: ClassVar[str] = "sim.grasp_label"
    scenes: int = 256
    candidates: int = 64
    random_fraction: float = 0.25
    split: str = "train"
    seed: int = 0
    min_width_px: float = 2.0
    max_width_px: float = 0.0
    edge_threshold: float = 0.004
    exec_chunk: int = 256
    scene_chunk: int = 32
    candidates_6dof: int = 0
    max_tilt: float = math.radians(30)

    def check(self) -> None:
        require(self.scenes >= 1, "scenes", f"must be >= 1, got {self.scenes}")
        require(self.candidates >= 2, "candidates", f"must be >= 2, got {self.candidates}")
        require(0.0 <= self.random_fraction <= 1.0, "random_fraction", "must be in [0, 1]")
        require(self.split in go.SPLITS, "split", f"must be one of {go.SPLITS}, got {self.split!r}")
        require(1 <= self.exec_chunk <= MAX_CHUNK, "exec_chunk", f"must be in [1, {MAX_CHUNK}]")
        require(1 <= self.scene_chunk <= MAX_CHUNK, "scene_chunk", f"must be in [1, {MAX_CHUNK}]")
        require(self.min_width_px > 0, "min_width_px", "must be > 0")
        require(self.candidates_6dof >= 0, "candidates_6dof", f"must be >= 0, got {self.candidates_6dof}")
        require(0 <= self.max_tilt <= 0.6, "max_tilt", f"must be in [0, 0.6] rad (pitch/roll limits 0.8), "
                f"got {self.max_tilt}")


def default_env(config: go.GraspObjectsConfig | None = None) -> go.GraspObjects:
    """The shared ``grasp_objects`` env for ``config`` (one per config per process: the compiled functions
    below are cached per env object)."""
    return _env_for(config or go.GraspObjectsConfig())


@functools.lru_cache(maxsize=4)
def _env_for(config: go.GraspObjectsConfig) -> go.GraspObjects:
    return go.GraspObjects(config)


def default_env_6dof(config: go.GraspObjectsConfig | None = None) -> go.GraspObjects6Dof:
    """The shared 6-DoF scene env for ``config`` (one per config per process, as :func:`default_env`)."""
    return _env6_for(config or go.GraspObjectsConfig())


@functools.lru_cache(maxsize=4)
def _env6_for(config: go.GraspObjectsConfig) -> go.GraspObjects6Dof:
    return go.GraspObjects6Dof(config)


def max_width_px(env: go.GraspObjects, camera: cam_lib.Camera) -> float:
    """Widest grasp (px at table depth) the open gripper takes with its finger margin."""
    width_m = 2 * (go.OPEN + go.PAD_INNER - env.config.finger_margin)
    table_depth = float(camera.world_from_camera[2, 3]) - go.TABLE_TOP
    return float(width_m * float(camera.fx) / table_depth)


# ------------------------------------------------------------------------------------------ scenes


@functools.lru_cache(maxsize=8)
def _scene_fn(env: go.GraspObjects, size: int):
    def one(inst, key):
        model = env.apply_instance(env.mjx_model, inst)
        qpos = env.object_qpos(model, key)
        data = env.init_data(model, env._home_qpos.at[0:7].set(qpos))
        depth, rgb = go.render_scene(env, model, data, size)
        return qpos, depth, rgb

    return jax.jit(jax.vmap(one))


def _pad(tree, n: int):
    """Pad every leaf's leading axis to ``n`` by repeating its first row (static chunk shapes)."""

    def fix(x):
        x = jnp.asarray(x)
        if x.shape[0] == n:
            return x
        return jnp.concatenate([x, jnp.repeat(x[:1], n - x.shape[0], axis=0)], 0)

    return jax.tree.map(fix, tree)


def render_scenes(
    env: go.GraspObjects, split: str, seed: int, start: int, n: int, chunk: int = 32, size: int | None = None
) -> dict[str, Any]:
    """Scenes ``start .. start+n-1`` of ``split``: instances, object poses, depth [n, H, W], rgb."""
    size = size or env.config.grasp_image_size
    cats = go.scene_categories(env.config, split, start, n)
    keys = go.scene_keys(split, seed, start, n)
    pair = jax.vmap(jax.random.split)(keys)
    k_inst, k_pose = pair[:, 0], pair[:, 1]
    insts = jax.vmap(go.sample_instance)(k_inst, jnp.asarray(cats))
    fn = _scene_fn(env, size)
    out = {"qpos": [], "depth": [], "rgb": []}
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        sl = slice(lo, hi)
        part = _pad((jax.tree.map(lambda x, sl=sl: x[sl], insts), k_pose[sl]), chunk)
        qpos, depth, rgb = fn(*part)
        for key, v in (("qpos", qpos), ("depth", depth), ("rgb", rgb)):
            out[key].append(np.asarray(v)[: hi - lo])
    res = {k: np.concatenate(v) for k, v in out.items()}
    res.update(
        instances=jax.tree.map(np.asarray, insts),
        categories=cats,
        instance_ids=np.arange(start, start + n, dtype=np.int64),
    )
    return res


# ------------------------------------------------------------------------------------------ candidates


def random_grasps(
    rng: jax.Array,
    depth: jax.Array,
    n: int,
    min_width: float,
    max_width: float,
    table_depth: float,
    jitter: float = 4.0,
) -> PlanarGrasps:
    """``n`` random grasps centred near random object pixels (depth above the table), any angle/width."""
    h, w = depth.shape
    k_pix, k_jit, k_ang, k_w = jax.random.split(rng, 4)
    obj = (depth > 0) & (depth < table_depth - 0.004)
    logits = jnp.where(obj.reshape(-1), 0.0, -jnp.inf)
    logits = jnp.where(obj.any(), logits, 0.0)
    flat = jax.random.categorical(k_pix, logits, shape=(n,))
    center = jnp.stack([flat % w, flat // w], -1).astype(jnp.float32)
    center = jnp.clip(center + jitter * jax.random.normal(k_jit, (n, 2)), 0, jnp.array([w - 1, h - 1]))
    angle = jax.random.uniform(k_ang, (n,), minval=-math.pi / 2, maxval=math.pi / 2)
    width = jax.random.uniform(k_w, (n,), minval=min_width, maxval=max_width)
    return PlanarGrasps(
        center=center, angle=angle, width=width, jaw=width / 2, quality=jnp.zeros(n), valid=jnp.ones(n, bool)
    )


def sample_candidates(
    rng: jax.Array,
    depth: jax.Array,
    k: int,
    n_random: int,
    min_width: float,
    max_width: float,
    table_depth: float,
    edge_threshold: float = 0.004,
) -> tuple[PlanarGrasps, jax.Array]:
    """K candidates for one depth image: ``k - n_random`` antipodal (invalid slots refilled with random
    grasps) then ``n_random`` random ones. Returns the grasps [K] and their source [K] (0 antipodal,
    1 random).
    """
    k_a, k_r = jax.random.split(rng)
    n_anti = k - n_random
    rand = random_grasps(k_r, depth, k, min_width, max_width, table_depth)
    if n_anti == 0:
        return rand, jnp.ones(k, jnp.int32)
    anti, _ = sample_antipodal(
        k_a,
        depth,
        n_anti,
        num_edge_points=128,
        min_width=min_width,
        max_width=max_width,
        edge_threshold=edge_threshold,
    )
    use = jnp.concatenate([anti.valid, jnp.zeros(n_random, bool)])

    def pick(a, r):
        a = jnp.concatenate([a, r[n_anti:]], 0)
        return jnp.where(use.reshape((-1,) + (1,) * (a.ndim - 1)), a, r)

    grasps = jax.tree.map(pick, anti, rand)
    grasps = grasps.replace(valid=jnp.ones(k, bool), quality=jnp.zeros(k))
    return grasps, jnp.where(use, 0, 1).astype(jnp.int32)


def line_min_depth(depth: jax.Array, grasps: PlanarGrasps, samples: int = 16) -> jax.Array:
    """Nearest valid surface (min z-depth) on the segment between each grasp's fingers [S]; table if none."""
    h, w = depth.shape
    axis, _ = grasp_axes(grasps.angle)
    t = jnp.linspace(-0.5, 0.5, samples)
    pts = grasps.center[..., None, :] + (t[:, None] * grasps.width[..., None, None]) * axis[..., None, :]
    col = jnp.clip(jnp.round(pts[..., 0]).astype(jnp.int32), 0, w - 1)
    row = jnp.clip(jnp.round(pts[..., 1]).astype(jnp.int32), 0, h - 1)
    d = depth[row, col]
    return jnp.min(jnp.where(d > 0, d, jnp.inf), axis=-1)


def planar_to_plans(
    env: go.GraspObjects, grasps: PlanarGrasps, depth: jax.Array, camera: cam_lib.Camera
) -> jax.Array:
    """Planar grasps [S] on one depth image [H, W] → gripper plans [S, 5] (tcp x, y, z, yaw, opening)."""
    cfg = env.config
    table_depth = camera.world_from_camera[2, 3] - go.TABLE_TOP
    top = line_min_depth(depth, grasps)
    top = jnp.where(jnp.isfinite(top), top, table_depth)
    poses = lift_grasps(grasps, depth, camera, approach="top_down", grasp_depth=top)
    z = jnp.maximum(poses.position[..., 2] - cfg.grasp_depth, go.TABLE_TOP + cfg.min_tcp_height)
    yaw = wrap_angle(poses.yaw - math.pi / 2)  # the fingers close along the gripper's y axis
    opening = go.finger_opening(poses.width, cfg.finger_margin)
    return jnp.stack([poses.position[..., 0], poses.position[..., 1], z, yaw, opening], -1)


def tilted_rotation(closing: jax.Array, tilt: jax.Array, azimuth: jax.Array) -> jax.Array:
    """Gripper orientations [S, 3, 3] approaching ``tilt`` rad off vertical towards ``azimuth`` (the approach
    a = (sin t cos az, sin t sin az, -cos t)), fingers closing along ``closing`` [S, 3] made perpendicular to
    the approach. Columns: gripper x, y (closing), z (= -approach)."""
    st = jnp.sin(tilt)
    a = jnp.stack([st * jnp.cos(azimuth), st * jnp.sin(azimuth), -jnp.cos(tilt)], -1)
    y = closing - jnp.sum(closing * a, -1, keepdims=True) * a
    y = y / jnp.maximum(jnp.linalg.norm(y, axis=-1, keepdims=True), 1e-9)
    z = -a
    return jnp.stack([jnp.cross(y, z), y, z], -1)


def sample_6dof(
    rng: jax.Array,
    env: go.GraspObjects,
    grasps: PlanarGrasps,
    depth: jax.Array,
    camera: cam_lib.Camera,
    k6: int,
    max_tilt: float,
) -> dict[str, jax.Array]:
    """``k6`` tilted 6-DoF candidates on one depth image, seeded by planar candidates [K] (evenly spread).

    Each keeps its seed's pixel, closing axis and width: the position is the pixel lifted to 3-D at the
    highest surface between the fingers (as :func:`planar_to_plans`), the approach is tilted by
    uniform(0, ``max_tilt``) towards a uniform azimuth, the tcp goes ``grasp_depth`` past the surface along
    the approach and backs off until the pads clear the table (:func:`~jaxrobot.sim.tasks.grasp_objects.
    plan_from_pose`). Returns ``plan`` [k6, 7], ``position`` [k6, 3], ``quaternion`` [k6, 4], ``opening``,
    ``tilt`` [k6], ``center`` [k6, 2] (seed pixel) and ``seed`` [k6] (index of the planar seed).
    """
    cfg = env.config
    k = grasps.center.shape[0]
    idx = np.round(np.linspace(0, k - 1, k6)).astype(np.int32)
    seed = jax.tree.map(lambda x: x[idx], grasps)
    table_depth = camera.world_from_camera[2, 3] - go.TABLE_TOP
    top = line_min_depth(depth, seed)
    top = jnp.where(jnp.isfinite(top), top, table_depth)
    poses = lift_grasps(seed, depth, camera, approach="top_down", grasp_depth=top)
    k_tilt, k_az = jax.random.split(rng)
    tilt = jax.random.uniform(k_tilt, (k6,), minval=0.0, maxval=max_tilt)
    azimuth = jax.random.uniform(k_az, (k6,), minval=-math.pi, maxval=math.pi)
    rot = tilted_rotation(poses.rotation[..., 0], tilt, azimuth)
    opening = go.finger_opening(poses.width, cfg.finger_margin)
    tcp = poses.position + go.approach_direction(rot) * cfg.grasp_depth
    plan = go.plan_from_pose(tcp, rot, opening, cfg.min_tcp_height)
    return {
        "plan": plan,
        "position": plan[:, 0:3],
        "quaternion": go.matrix_to_quat(rot),
        "opening": opening,
        "tilt": tilt,
        "center": seed.center,
        "seed": jnp.asarray(idx),
    }


def on_handle(inst: go.ObjectInstance, obj_qpos: jax.Array, plan: jax.Array) -> jax.Array:
    """Where a grasp's tcp (x, y) is on a mug's handle side, beyond the body (one scene, plans [K, 5])."""
    q = obj_qpos[3:7]
    yaw = jnp.arctan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
    d = plan[:, :2] - obj_qpos[None, :2]
    x_local = jnp.cos(yaw) * d[:, 0] + jnp.sin(yaw) * d[:, 1]
    return (inst.category == go.CATEGORIES.index("mug")) & (x_local > inst.body_radius + 0.004)


# ------------------------------------------------------------------------------------------ execution


@functools.lru_cache(maxsize=8)
def _exec_fn(env: go.GraspObjects):
    def one(inst, qpos, plan):
        model = env.apply_instance(env.mjx_model, inst)
        return env.execute(model, qpos, plan)

    return jax.jit(jax.vmap(one))


def execute_plans(
    env: go.GraspObjects,
    instances: go.ObjectInstance,
    obj_qpos: np.ndarray,
    plans: np.ndarray,
    chunk: int = 256,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Execute plans [S, K, P] on scenes [S] in MJX; (success bool [S, K], object lift height [S, K]).

    ``P`` = 5 for :class:`GraspObjects` plans, 7 for :class:`GraspObjects6Dof` ones.

    Flattens to S*K grasps and runs them in chunks of ``chunk`` (the last one padded) through one compiled
    ``jit(vmap(execute))``: every candidate gets its scene's instance model and object pose.
    """
    s, k, dim = plans.shape
    scene = np.repeat(np.arange(s), k)
    flat_plans = np.asarray(plans, np.float32).reshape(s * k, dim)
    fn = _exec_fn(env)
    succ, height = [], []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=s * k, desc="execute grasps", unit="grasp", file=sys.stderr, leave=False)
    for lo in range(0, s * k, chunk):
        hi = min(lo + chunk, s * k)
        idx = scene[lo:hi]
        inst = jax.tree.map(lambda x, idx=idx: np.asarray(x)[idx], instances)
        part = (inst, np.asarray(obj_qpos)[idx], flat_plans[lo:hi])
        ok, h = fn(*_pad(part, chunk))
        succ.append(np.asarray(ok)[: hi - lo])
        height.append(np.asarray(h)[: hi - lo])
        if bar is not None:
            bar.update(hi - lo)
    if bar is not None:
        bar.close()
    return np.concatenate(succ).reshape(s, k), np.concatenate(height).reshape(s, k)


@functools.lru_cache(maxsize=8)
def _candidate_fn(
    env: go.GraspObjects, k: int, n_random: int, min_w: float, max_w: float, edge: float, size: int,
    k6: int = 0, max_tilt: float = 0.0,
):
    camera = go.grasp_camera(env, size)
    table_depth = float(camera.world_from_camera[2, 3]) - go.TABLE_TOP

    def one(key, depth):
        grasps, source = sample_candidates(key, depth, k, n_random, min_w, max_w, table_depth, edge)
        out = (grasps, source, planar_to_plans(env, grasps, depth, camera))
        if k6:
            out += (sample_6dof(jax.random.fold_in(key, 6), env, grasps, depth, camera, k6, max_tilt),)
        return out

    return jax.jit(jax.vmap(one))


def label_grasps(
    cfg: GraspLabelConfig, env: go.GraspObjects | None = None, progress: bool = False, log=None
) -> dict[str, Any]:
    """Render, sample and execute ``cfg.candidates`` grasps on each of ``cfg.scenes`` scenes.

    Returns host arrays: ``depth`` [S, H, W], ``rgb`` [S, H, W, 3], ``qpos`` [S, 7], ``categories`` [S],
    ``instance_ids`` [S], ``instances`` (ObjectInstance of numpy [S, ...]), ``center`` [S, K, 2],
    ``angle``/``width`` [S, K], ``plans`` [S, K, 5], ``source``/``success``/``height``/``on_handle`` [S, K],
    ``camera`` (Camera), plus ``stats`` (timings, success rates); with ``cfg.candidates_6dof`` also
    ``grasp_6dof`` (:func:`sample_6dof`'s arrays [S, K6, ...] plus ``success`` and ``height`` [S, K6]).
    """
    env = env or default_env()
    size = env.config.grasp_image_size
    camera = go.grasp_camera(env, size)
    t0 = time.perf_counter()
    scenes = render_scenes(env, cfg.split, cfg.seed, 0, cfg.scenes, cfg.scene_chunk, size)
    t_render = time.perf_counter() - t0
    max_w = cfg.max_width_px or max_width_px(env, camera)
    n_random = int(round(cfg.random_fraction * cfg.candidates))
    k6 = cfg.candidates_6dof
    fn = _candidate_fn(
        env, cfg.candidates, n_random, float(cfg.min_width_px), float(max_w), float(cfg.edge_threshold), size,
        *((k6, float(cfg.max_tilt)) if k6 else ()),
    )
    keys = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 7919), cfg.scenes)
    parts = []
    for lo in range(0, cfg.scenes, cfg.scene_chunk):
        hi = min(lo + cfg.scene_chunk, cfg.scenes)
        out = fn(*_pad((keys[lo:hi], jnp.asarray(scenes["depth"][lo:hi])), cfg.scene_chunk))
        parts.append(jax.tree.map(lambda x, n=hi - lo: np.asarray(x)[:n], out))
    grasps, source, plans, *six = jax.tree.map(lambda *x: np.concatenate(x), *parts)
    t1 = time.perf_counter()
    if log:
        log(f"rendered {cfg.scenes} scenes and sampled {cfg.candidates} candidates each in {t1 - t0:.1f} s")
    success, height = execute_plans(env, scenes["instances"], scenes["qpos"], plans, cfg.exec_chunk, progress)
    t_exec = time.perf_counter() - t1
    handle = np.asarray(
        jax.vmap(on_handle)(scenes["instances"], jnp.asarray(scenes["qpos"]), jnp.asarray(plans))
    )
    n = cfg.scenes * cfg.candidates
    stats = {
        "scenes": cfg.scenes,
        "candidates": cfg.candidates,
        "grasps": n,
        "success_rate": float(success.mean()),
        "antipodal_success_rate": float(success[source == 0].mean()) if (source == 0).any() else None,
        "random_success_rate": float(success[source == 1].mean()) if (source == 1).any() else None,
        "scenes_with_a_success": float(success.any(1).mean()),
        "render_sample_seconds": round(t1 - t0, 2),
        "render_seconds": round(t_render, 2),
        "execute_seconds": round(t_exec, 2),
        "grasps_per_second": round(n / max(t_exec, 1e-9), 1),
    }
    extra = {}
    if k6:
        t2 = time.perf_counter()
        g6 = six[0]
        env6 = default_env_6dof(env.config)
        ok6, h6 = execute_plans(env6, scenes["instances"], scenes["qpos"], g6["plan"], cfg.exec_chunk,
                                progress)
        extra["grasp_6dof"] = dict(g6, success=ok6, height=h6)
        t_exec6 = time.perf_counter() - t2
        stats.update(
            candidates_6dof=k6,
            max_tilt=cfg.max_tilt,
            success_rate_6dof=float(ok6.mean()),
            scenes_with_a_success_6dof=float(ok6.any(1).mean()),
            execute_6dof_seconds=round(t_exec6, 2),
        )
    return dict(
        scenes,
        **extra,
        center=grasps.center,
        angle=grasps.angle,
        width=grasps.width,
        plans=plans,
        source=source,
        success=success,
        height=height,
        on_handle=handle,
        camera=camera,
        stats=stats,
        split=cfg.split,
        seed=cfg.seed,
    )


# ------------------------------------------------------------------------------------------ RLDS


def dataset_features(size: int, k: int, k6: int = 0) -> dict[str, dict[str, Any]]:
    """Flat RLDS feature spec of :func:`write_dataset` (per-step shapes without the leading T)."""
    six = {} if not k6 else {
        "steps/grasp_6dof/position": {"shape": (k6, 3), "dtype": "float32"},
        "steps/grasp_6dof/quaternion": {"shape": (k6, 4), "dtype": "float32"},
        "steps/grasp_6dof/opening": {"shape": (k6,), "dtype": "float32"},
        "steps/grasp_6dof/tilt": {"shape": (k6,), "dtype": "float32"},
        "steps/grasp_6dof/center": {"shape": (k6, 2), "dtype": "float32"},
        "steps/grasp_6dof/plan": {"shape": (k6, 7), "dtype": "float32"},
        "steps/grasp_6dof/success": {"shape": (k6,), "dtype": "bool"},
        "steps/grasp_6dof/height": {"shape": (k6,), "dtype": "float32"},
    }
    return six | {
        "steps/observation/depth": {"shape": (size, size, 1), "dtype": "float32", "encoding": "tensor_zlib"},
        "steps/observation/rgb": {"shape": (size, size, 3), "dtype": "uint8", "encoding": "png"},
        "steps/grasp/center": {"shape": (k, 2), "dtype": "float32"},
        "steps/grasp/angle": {"shape": (k,), "dtype": "float32"},
        "steps/grasp/width": {"shape": (k,), "dtype": "float32"},
        "steps/grasp/plan": {"shape": (k, 5), "dtype": "float32"},
        "steps/grasp/success": {"shape": (k,), "dtype": "bool"},
        "steps/grasp/height": {"shape": (k,), "dtype": "float32"},
        "steps/grasp/source": {"shape": (k,), "dtype": "int32"},
        "steps/grasp/on_handle": {"shape": (k,), "dtype": "bool"},
        "steps/is_first": {"shape": (), "dtype": "bool"},
        "steps/is_last": {"shape": (), "dtype": "bool"},
        "steps/is_terminal": {"shape": (), "dtype": "bool"},
        "episode_metadata/category": {"shape": (), "dtype": "string"},
        "episode_metadata/category_id": {"shape": (), "dtype": "int64"},
        "episode_metadata/instance_id": {"shape": (), "dtype": "int64"},
        "episode_metadata/seed": {"shape": (), "dtype": "int64"},
        "episode_metadata/split": {"shape": (), "dtype": "string"},
        "episode_metadata/camera_intrinsics": {"shape": (3, 3), "dtype": "float32"},
        "episode_metadata/camera_pose": {"shape": (4, 4), "dtype": "float32"},
        "episode_metadata/object_pose": {"shape": (7,), "dtype": "float32"},
        "episode_metadata/success_rate": {"shape": (), "dtype": "float32"},
    }


def episodes(labels: dict[str, Any]):
    """One RLDS episode dict per scene of :func:`label_grasps`'s output."""
    cam = labels["camera"]
    intr = np.asarray(cam.K, np.float32)
    pose = np.asarray(cam.world_from_camera, np.float32)
    for i in range(labels["depth"].shape[0]):
        cat = int(labels["categories"][i])
        yield {
            "steps/observation/depth": labels["depth"][i][None, ..., None].astype(np.float32),
            "steps/observation/rgb": labels["rgb"][i][None],
            "steps/grasp/center": labels["center"][i][None].astype(np.float32),
            "steps/grasp/angle": labels["angle"][i][None].astype(np.float32),
            "steps/grasp/width": labels["width"][i][None].astype(np.float32),
            "steps/grasp/plan": labels["plans"][i][None].astype(np.float32),
            "steps/grasp/success": labels["success"][i][None],
            "steps/grasp/height": labels["height"][i][None].astype(np.float32),
            "steps/grasp/source": labels["source"][i][None].astype(np.int32),
            "steps/grasp/on_handle": labels["on_handle"][i][None],
            "steps/is_first": np.array([True]),
            "steps/is_last": np.array([True]),
            "steps/is_terminal": np.array([True]),
            "episode_metadata/category": go.CATEGORIES[cat],
            "episode_metadata/category_id": np.int64(cat),
            "episode_metadata/instance_id": np.int64(labels["instance_ids"][i]),
            "episode_metadata/seed": np.int64(labels["seed"]),
            "episode_metadata/split": labels["split"],
            "episode_metadata/camera_intrinsics": intr,
            "episode_metadata/camera_pose": pose,
            "episode_metadata/object_pose": labels["qpos"][i].astype(np.float32),
            "episode_metadata/success_rate": np.float32(labels["success"][i].mean()),
            **_episode_6dof(labels, i),
        }


def _episode_6dof(labels: dict[str, Any], i: int) -> dict[str, np.ndarray]:
    """Scene ``i``'s 6-DoF candidate rows (empty without them)."""
    six = labels.get("grasp_6dof")
    if six is None:
        return {}
    out = {}
    for key in ("position", "quaternion", "opening", "tilt", "center", "plan", "height"):
        out[f"steps/grasp_6dof/{key}"] = np.asarray(six[key][i], np.float32)[None]
    out["steps/grasp_6dof/success"] = np.asarray(six["success"][i], bool)[None]
    return out


def write_dataset(
    labels: dict[str, Any], out_dir: str, overwrite: bool = False, progress: bool = False
) -> str:
    """Write :func:`label_grasps`'s output as RLDS ``<out_dir>/jaxrobot_grasp_labels/1.0.0``; returns it."""
    from jaxrobot.data.rlds.writer import write_rlds

    size = labels["depth"].shape[1]
    k = labels["center"].shape[1]
    k6 = labels["grasp_6dof"]["plan"].shape[1] if "grasp_6dof" in labels else 0
    st = labels["stats"]
    six = ""
    if k6:
        six = (f"; {k6} 6-DoF candidates per scene (tilt <= {math.degrees(st.get('max_tilt', 0.0)):.0f} deg), "
               f"success rate {st['success_rate_6dof']:.3f}")
    return write_rlds(
        out_dir,
        DATASET_NAME,
        list(episodes(labels)),
        features=dataset_features(size, k, k6),
        split=labels["split"],
        overwrite=overwrite,
        progress=progress,
        description=(
            f"jaxrobot physics-labelled planar grasps on grasp_objects, split "
            f"{labels['split']}, seed {labels['seed']}: {st['scenes']} scenes x "
            f"{st['candidates']} candidates, success rate {st['success_rate']:.3f}{six}"
        ),
    )
