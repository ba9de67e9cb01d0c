"""The known objects of the pose task: fixed ``grasp_objects`` instances, their model points and grasps.

Each known object is one instance of a ``grasp_objects`` category (:mod:`jaxrobot.sim.tasks.grasp_objects`)
drawn with a fixed key and given a fixed colour, so it is the same shape in every scene and the scene
model stays the one compiled ``mjx.Model`` (only jax-array geom fields change):

====== ========== ============================================== ==========
name   category   shape                                          symmetric
====== ========== ============================================== ==========
block  box        4.4 x 8.6 x 3.6 cm box                         yes (180° about z and x, y)
mug    mug        capsule body r 2.7 cm, base, handle on +x      no
bottle bottle     lying capsule r 2.5 cm along x, neck on +x     no (yaw); rotation about its axis: yes
ball   sphere     r 3 cm                                         yes (continuous)
====== ========== ============================================== ==========

"Symmetric" chooses the ShapeMatch loss and ADD-S (PoseCNN, Xiang et al. RSS 2018) over the
point-matching loss and ADD. The bottle is kept non-symmetric: with the object resting on the table the
pose only varies by yaw, and its neck makes yaw unambiguous.

Model points (:func:`model_points`) are sampled uniformly (area-weighted) on the surfaces of the geoms an
object uses, in the object body frame, with a fixed numpy seed, and made closed under the object's finite
symmetry group: for the block, ``n / 4`` points are sampled and joined by their images under the box's
three half turns (:func:`symmetry_group`), so an estimate that differs from the truth by one of them scores
ADD-S exactly 0 (with 500 independent samples instead, the spacing of the points alone gave 2.9 mm), and
the ShapeMatch loss (same construction, 128 points) has its minima exactly at the symmetric poses.

No finite set is closed under the ball's continuous symmetry (every rotation about its centre), so ADD-S
(which averages over the true points and takes the nearest estimated one) searches a denser estimated set
there: :func:`search_points`, the model points plus a Fibonacci lattice of :data:`DENSE_POINTS` points on
the sphere. An estimate right up to a rotation then scores the mean distance from a sphere point to the
nearest lattice point, 0.16 mm (0.27% of the 6 cm diameter; 2.5 mm with the 500 points alone; checked in
``tests/pose/test_pose_scenes.py``). The averaged set stays the 500 model points (cost N x M per pose).

A *grasp* (:func:`object_grasps`) is the top-down grasp the ``grasp_objects`` expert would plan for the
object at the identity pose, expressed in the object frame: tcp position, gripper yaw and finger opening;
:func:`plan_from_pose` places it by a pose.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.sim.tasks import grasp_objects as go
from jaxrobot.vision import pose_metrics as pm
from jaxrobot.vision.camera import quat_to_mat

#: (name, grasp_objects category, key of the instance drawn, rgb, symmetry): symmetry ``None``, ``"box"``
#: (finite: the half turns about the axes of its one box geom) or ``"sphere"`` (continuous: every rotation
#: about the centre of its one sphere geom)
KNOWN_OBJECTS = (
    ("block", "box", 1, (0.85, 0.2, 0.15), "box"),
    ("mug", "mug", 0, (0.15, 0.3, 0.85), None),
    ("bottle", "bottle", 0, (0.15, 0.75, 0.3), None),
    ("ball", "sphere", 1, (0.9, 0.8, 0.15), "sphere"),
)
NAMES = tuple(o[0] for o in KNOWN_OBJECTS)
NUM_OBJECTS = len(KNOWN_OBJECTS)
SYMMETRY = tuple(o[4] for o in KNOWN_OBJECTS)
SYMMETRIC = np.array([sym is not None for sym in SYMMETRY], bool)
#: model point counts must be multiples of this (the order of the box's symmetry group)
POINTS_MULTIPLE = 4
#: points of the dense set ADD-S searches for an object with a continuous symmetry (:func:`search_points`)
DENSE_POINTS = 65536


def object_index(name: str) -> int:
    if name not in NAMES:
        raise ValueError(f"unknown object {name!r}; known: {list(NAMES)}")
    return NAMES.index(name)


@functools.lru_cache(maxsize=1)
def instances() -> go.ObjectInstance:
    """The known objects as a batch of :class:`~jaxrobot.sim.tasks.grasp_objects.ObjectInstance` [K]
    (numpy leaves; index with the object id)."""
    out = []
    for _, cat, seed, rgb, _ in KNOWN_OBJECTS:
        inst = go.sample_instance(jax.random.key(seed), go.CATEGORIES.index(cat))
        rgba = jnp.tile(jnp.asarray([*rgb, 1.0], jnp.float32)[None], (go.N_SLOTS, 1))
        out.append(inst.replace(rgba=rgba))
    return jax.tree.map(lambda *x: np.stack([np.asarray(a) for a in x]), *out)


def instance(i: int) -> go.ObjectInstance:
    return jax.tree.map(lambda x: x[i], instances())


def _rot(q: np.ndarray) -> np.ndarray:
    return np.asarray(quat_to_mat(np.asarray(q)), np.float64)


def _used_slots(k: int) -> list[int]:
    """Geom slots object ``k`` uses (unused slots are shrunk to 1 mm)."""
    return [s for s in range(go.N_SLOTS) if instances().size[k][s, 0] > 1.5 * go.HIDDEN]


def _single_geom(k: int, kind: int) -> int:
    """The one geom slot of a symmetric object, checked to be of mjtGeom ``kind`` and centred on its origin."""
    used = _used_slots(k)
    if len(used) != 1 or int(go._TYPE[used[0]]) != kind or np.abs(instances().pos[k][used[0]]).max() > 1e-6:
        raise ValueError(f"{NAMES[k]}: symmetry {SYMMETRY[k]!r} needs one geom of type {kind} at the origin")
    return used[0]


def symmetry_group(k: int) -> np.ndarray:
    """The finite rotations [G, 3, 3] (object frame) that map object ``k`` onto itself, identity first.

    A box with three different sides: the identity and the half turns about its three axes (``Q D Q^T``
    with ``D`` = diag(1, -1, -1) and permutations, ``Q`` the geom's orientation). Objects without a finite
    group, including the continuously symmetric ball, get the identity alone.
    """
    if SYMMETRY[k] != "box":
        return np.eye(3)[None]
    q = _rot(instances().quat[k][_single_geom(k, 6)])
    signs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], np.float64)
    return np.einsum("ij,gj,kj->gik", q, signs, q)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _surface(kind: int, size: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points uniform on the surface of one geom (mjtGeom box 6, capsule 3, sphere 2) in its frame."""
    if kind == 2:
        return size[0] * _unit(rng, n)
    if kind == 3:
        r, h = size[0], size[1]
        side = 2 * math.pi * r * 2 * h
        on_side = rng.random(n) < side / (side + 4 * math.pi * r * r)
        ang = rng.uniform(0, 2 * math.pi, n)
        cyl = np.stack([r * np.cos(ang), r * np.sin(ang), rng.uniform(-h, h, n)], -1)
        cap = r * _unit(rng, n)
        cap[:, 2] += np.sign(cap[:, 2]) * h
        return np.where(on_side[:, None], cyl, cap)
    if kind == 6:
        a = size
        areas = np.array([a[1] * a[2], a[0] * a[2], a[0] * a[1]])
        axis = rng.choice(3, n, p=areas / areas.sum())
        p = rng.uniform(-1, 1, (n, 3)) * a
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        p[np.arange(n), axis] = sign * a[axis]
        return p
    raise ValueError(f"unsupported geom type {kind}")


def _area(kind: int, size: np.ndarray) -> float:
    if kind == 2:
        return 4 * math.pi * size[0] ** 2
    if kind == 3:
        return 2 * math.pi * size[0] * 2 * size[1] + 4 * math.pi * size[0] ** 2
    return 8 * (size[0] * size[1] + size[0] * size[2] + size[1] * size[2])


@functools.lru_cache(maxsize=8)
def model_points(n: int = 500, seed: int = 0) -> np.ndarray:
    """Model points [K, n, 3] (object frame, metres) of every known object, area-weighted over its geoms and
    closed under its finite symmetry group (:func:`symmetry_group`; ``n / G`` samples and their images).

    ``n`` must be a multiple of :data:`POINTS_MULTIPLE`. Unused geom slots (shrunk to 1 mm) are skipped;
    points on one geom inside another are kept (a small bias of ADD towards the overlapping parts, the same
    for every method compared).
    """
    if n < 1 or n % POINTS_MULTIPLE:
        raise ValueError(f"n must be a positive multiple of {POINTS_MULTIPLE} (the block's symmetry group "
                         f"order, so its points can be closed under it), got {n}")
    inst = instances()
    rng = np.random.default_rng(seed)
    out = np.zeros((NUM_OBJECTS, n, 3), np.float32)
    for k in range(NUM_OBJECTS):
        size, pos, quat = inst.size[k], inst.pos[k], inst.quat[k]
        used = _used_slots(k)
        group = symmetry_group(k)
        areas = np.array([_area(int(go._TYPE[s]), size[s]) for s in used])
        counts = rng.multinomial(n // len(group), areas / areas.sum())
        pts = np.concatenate([_surface(int(go._TYPE[s]), size[s], rng, c) @ _rot(quat[s]).T + pos[s]
                              for s, c in zip(used, counts, strict=True) if c])
        out[k] = np.concatenate([pts @ g.T for g in group])
    return out


def _fibonacci_sphere(m: int) -> np.ndarray:
    """``m`` quasi-uniform unit vectors (the spherical Fibonacci lattice)."""
    i = np.arange(m) + 0.5
    z = 1.0 - 2.0 * i / m
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


@functools.lru_cache(maxsize=4)
def search_points(n: int = 500, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Per object, the points [M_k, 3] ADD-S searches for the nearest estimated point
    (:func:`jaxrobot.vision.pose_metrics.add_s`): the model points ``model_points(n, seed)[k]``, and for a
    continuously symmetric object (the ball) also :data:`DENSE_POINTS` Fibonacci-lattice points on its
    sphere. The model points are a subset, so an exact estimate still scores 0."""
    pts = model_points(n, seed)
    out = []
    for k in range(NUM_OBJECTS):
        if SYMMETRY[k] == "sphere":
            s = _single_geom(k, 2)
            r, c = instances().size[k][s, 0], instances().pos[k][s]
            dense = (r * _fibonacci_sphere(DENSE_POINTS) + c).astype(np.float32)
            out.append(np.concatenate([pts[k], dense]))
        else:
            out.append(pts[k])
    return tuple(out)


@functools.lru_cache(maxsize=1)
def diameters() -> np.ndarray:
    """Object diameters [K] (metres): :func:`jaxrobot.vision.pose_metrics.diameter` of the 500 model points."""
    return np.asarray(pm.diameter(jnp.asarray(model_points())), np.float32)


@functools.lru_cache(maxsize=4)
def object_grasps(env: go.GraspObjects) -> np.ndarray:
    """Pre-defined grasps [K, 5] in the object frame: ``(x, y, z, yaw, opening)`` of the tcp.

    The ``grasp_objects`` expert's plan (across the narrow horizontal extent, at the origin, ``grasp_depth``
    below the top) for each object resting at the table centre with zero yaw, moved into the object frame.
    """

    def one(inst):
        model = env.apply_instance(env.mjx_model, inst)
        origin = jnp.array([go.TABLE_CENTER[0], go.TABLE_CENTER[1], go.TABLE_TOP + env.rest_height(model)])
        qpos = env._home_qpos.at[0:3].set(origin).at[3:7].set(jnp.array([1.0, 0.0, 0.0, 0.0]))
        plan = env.expert_plan(model, env._data0.replace(qpos=qpos))  # reads only the object's qpos
        return plan.at[0:3].add(-origin)

    return np.asarray(jax.jit(jax.vmap(one))(instances()), np.float32)


def plan_from_pose(grasp: jax.Array, rot: jax.Array, t: jax.Array) -> jax.Array:
    """World top-down plan [5] for an object at pose (``rot`` [3, 3], ``t`` [3], world from object) and a
    grasp [5] in its frame.

    Objects rest upright on the table, so only the yaw of ``rot`` (its x axis projected on the table) is
    used: the grasp's horizontal offset turns with it, its height offset stays vertical, and the gripper
    yaw adds (wrapped to [-pi/2, pi/2): the two-finger gripper is symmetric under a half turn). A symmetric
    object's estimate may be any of its equivalent rotations (the block upside down, the ball tilted); with
    the full rotation those would move the grasp into the table or beside the object.
    """
    yaw = jnp.arctan2(rot[1, 0], rot[0, 0])
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    pos = t + jnp.stack([c * grasp[0] - s * grasp[1], s * grasp[0] + c * grasp[1], grasp[2]])
    gyaw = yaw + grasp[3]
    gyaw = (gyaw + math.pi / 2) % math.pi - math.pi / 2
    return jnp.concatenate([pos, gyaw[None], grasp[4:5]]).astype(jnp.float32)
