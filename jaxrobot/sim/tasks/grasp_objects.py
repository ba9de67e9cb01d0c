"""``grasp_objects``: category-level grasping of procedurally generated objects on a table.

Scene: ``jaxrobot/sim/assets/grasp_objects/grasp_objects.xml``, the Cartesian parallel gripper of
``pick_cube`` over a table with ONE free ``object`` body made of fixed geom *slots* (a box, five capsules,
a sphere). An object *instance* (:class:`ObjectInstance`) sets the slots' sizes, poses and colours and the
body's mass and inertia; the slots a category does not use shrink to 1 mm inside the body. Geom types
never change, so every instance of every category is the same compiled ``mjx.Model`` with different
jax-array fields (:func:`apply_instance`, vmapped over a batch): no recompiles (shared/FACTS.md).

Categories (:data:`CATEGORIES`), sizes in metres, all fitting the 9.6 cm open gripper along some axis:

- ``box``: one box, half-sizes x 1.2-3.2 cm, y 1.2-5 cm, z 1.2-4 cm.
- ``mug``: an upright capsule body (radius 2.4-3.4 cm) standing on a thin square base box, plus a handle
  of three capsules (top strut, vertical bar, bottom strut) on the body's +x side with random reach,
  thickness, height and vertical placement.
- ``bottle``: lying down: a capsule body along x (radius 2.2-3.3 cm) and a narrower capsule neck.
- ``sphere``: one sphere, radius 2-3.4 cm.

Every instance gets a random yaw and table position at reset. Splits (:func:`scene_keys`): ``train`` and
``novel_instances`` draw instances of the *seen* categories from disjoint random streams (category-level
generalisation); ``novel_categories`` draws the *unseen* ones (default: ``sphere``).

Camera ``grasp_cam``: top-down, 0.5 m above the table, fovy 30° (2.8 mm per pixel at 96 x 96);
:func:`grasp_camera` gives it as a :class:`jaxrobot.vision.camera.Camera` (OpenCV frame, intrinsics +
extrinsics) and :func:`render_scene` renders depth + RGB with ``mjx.ray``, the robot hidden (geom group 2).

Grasps are executed by a fixed schedule of absolute gripper targets (:func:`schedule_action`) from a grasp
*plan* ``[tcp_x, tcp_y, tcp_z, yaw, opening]``: start at the pre-grasp pose above the plan (approach),
descend, settle, close at a limited rate, lift, hold. Success: the object's origin is at least
``lift_height`` above its resting height for the last ``hold_steps`` control steps.

6-DoF variant (:class:`GraspObjects6Dof`, ``grasp_objects_6dof.xml``, not registered as a task): the same
scene with pitch and roll hinges about the tcp after yaw, so grasps can approach tilted from vertical; plans
and actions gain pitch and roll (``[x, y, z, yaw, pitch, roll, opening]``), the schedule approaches along
the tilted axis. Used by 6-DoF grasp labelling (:mod:`jaxrobot.skills.grasping.label`).

Env API (registry): action and observation as ``pick_cube`` (absolute ``[tcp_x, tcp_y, tcp_z, yaw,
finger_opening]``; ``state`` = tcp, yaw, opening, object position, object quaternion). ``randomize_model``
draws a seen-category instance; the scripted ``expert`` moves to the pre-grasp pose of a grasp across the
object's narrow horizontal extent at its origin and runs the same schedule.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import ClassVar

import flax.struct
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.config import require
from jaxrobot.sim import render
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.gantry import (
    GRIPPER_CTRL_OFFSET,
    HOME_TCP,
    OPEN,
    PAD_BELOW_TCP,
    PAD_CENTRE_Z,
    PAD_HALF,
    PAD_INNER,
    TABLE_CENTER,
    TABLE_TOP,
)
from jaxrobot.sim.geometry import (
    euler_to_matrix,
    matrix_to_euler,
    matrix_to_quat,  # noqa: F401  (kept as go.matrix_to_quat for grasp labelling)
    quat_yaw,
    yaw_quat,
)
from jaxrobot.sim.randomize import CAMERA_FIELDS, CameraJitter, jitter_cameras, observation_camera_ids

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "grasp_objects" / "grasp_objects.xml"
ASSET_6DOF = ASSET.with_name("grasp_objects_6dof.xml")

CATEGORIES = ("box", "mug", "bottle", "sphere")
SLOTS = ("slot_box", "slot_cap0", "slot_cap1", "slot_cap2", "slot_cap3", "slot_cap4", "slot_sphere")
N_SLOTS = len(SLOTS)
# Slot roles: 0 box body / mug base; 1-3 mug handle (top strut, bar, bottom strut); 4 mug or bottle body;
# 5 bottle neck; 6 sphere.
_TYPE = np.array([6, 3, 3, 3, 3, 3, 2])  # mjtGeom: box = 6, capsule = 3, sphere = 2
HIDDEN = 0.001  # size of an unused slot (sits at the body origin, inside the object)

# Scene constants (grasp_objects.xml); the gripper and table are the gantry's (jaxrobot.sim.gantry).
CAMERA = "grasp_cam"
ROBOT_HIDDEN = (1, 1, 0, 0, 0, 0)  # geom groups seen by the scene camera: the robot is group 2

_Q_X = np.array([math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0], np.float32)  # capsule axis -> +x
_Q_ID = np.array([1.0, 0.0, 0.0, 0.0], np.float32)


@dataclasses.dataclass(frozen=True)
class GraspObjectsConfig(EnvConfig):
    """grasp_objects task.

    seen_categories / unseen_categories: category names (of :data:`CATEGORIES`) for the train and
      ``novel_instances`` splits, and for the ``novel_categories`` split.
    object_xy_range: object x, y uniform in +-range around the table centre (metres).
    grasp_image_size: side of the top-down grasp camera images (labelling, evaluation).
    pregrasp_height: tcp height above the table where a grasp starts (above the tallest object).
    descend_steps, settle_steps, close_steps, lift_steps, hold_steps: schedule phases (control steps).
    lift_distance: how far the schedule lifts (metres); lift_height: the success threshold.
    grasp_depth: tcp goes this far below the highest surface between the fingers (metres).
    min_tcp_height: lowest tcp height above the table (the pad tips are 1 cm below the tcp).
    finger_margin: clearance added on each side of the grasp width when opening (metres).
    expert_steps: control steps the expert has to reach the pre-grasp pose from home.
    camera_jitter: pose jitter of the observation cameras under domain randomisation (``randomize_model``;
      off by default: grasp labels are rendered with the nominal camera, :func:`grasp_camera`).
    """

    kind: ClassVar[str] = "sim.grasp_objects"
    episode_steps: int = 40
    cameras: tuple[str, ...] = (CAMERA,)
    seen_categories: tuple[str, ...] = ("box", "mug", "bottle")
    unseen_categories: tuple[str, ...] = ("sphere",)
    object_xy_range: float = 0.04
    grasp_image_size: int = 96
    pregrasp_height: float = 0.16
    descend_steps: int = 5
    settle_steps: int = 1
    close_steps: int = 4
    lift_steps: int = 5
    hold_steps: int = 4
    lift_distance: float = 0.12
    lift_height: float = 0.05
    grasp_depth: float = 0.03
    min_tcp_height: float = 0.012
    finger_margin: float = 0.012
    expert_steps: int = 10
    camera_jitter: CameraJitter = CameraJitter()

    def check(self) -> None:
        super().check()
        for name in ("seen_categories", "unseen_categories"):
            cats = getattr(self, name)
            require(len(cats) >= 1, name, "needs at least one category")
            bad = [c for c in cats if c not in CATEGORIES]
            require(not bad, name, f"unknown categories {bad}; known: {list(CATEGORIES)}")
        require(0 <= self.object_xy_range <= 0.1, "object_xy_range", "must be in [0, 0.1]")
        require(
            self.grasp_image_size >= 16 and self.grasp_image_size % 4 == 0,
            "grasp_image_size",
            f"must be a multiple of 4 >= 16, got {self.grasp_image_size}",
        )
        for name in ("descend_steps", "close_steps", "lift_steps", "hold_steps"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.settle_steps >= 0, "settle_steps", "must be >= 0")
        require(0 < self.lift_height < self.lift_distance, "lift_height", "must be in (0, lift_distance)")
        require(self.pregrasp_height >= 0.14, "pregrasp_height", "must clear the tallest object (>= 0.14)")
        require(
            self.grasp_steps <= self.episode_steps,
            "episode_steps",
            f"must be >= the grasp schedule's {self.grasp_steps} steps",
        )

    @property
    def grasp_steps(self) -> int:
        """Control steps of one executed grasp, pre-grasp pose to end of hold."""
        return self.descend_steps + self.settle_steps + self.close_steps + self.lift_steps + self.hold_steps


# ------------------------------------------------------------------------------------------ instances


@flax.struct.dataclass
class ObjectInstance:
    """One object's shape (batch it with leading axes). Body frame: origin inside the main geom.

    category: int32 index into :data:`CATEGORIES`; size/pos/quat/rgba: per slot [7, 3|3|4|4];
    mass (kg); inertia [3] (diagonal, body frame); rest_z: height of the body origin above the table at
    rest; body_radius: horizontal half-width of the main body (mugs: handle vs body test).
    """

    category: jax.Array
    size: jax.Array
    pos: jax.Array
    quat: jax.Array
    rgba: jax.Array
    mass: jax.Array
    inertia: jax.Array
    rest_z: jax.Array
    body_radius: jax.Array


def _u(key, lo, hi, shape=()):
    return jax.random.uniform(key, shape, minval=lo, maxval=hi)


def _empty():
    size = jnp.full((N_SLOTS, 3), HIDDEN)
    pos = jnp.zeros((N_SLOTS, 3))
    quat = jnp.tile(jnp.asarray(_Q_ID), (N_SLOTS, 1))
    return size, pos, quat


def _box(key):
    k = jax.random.split(key, 3)
    hx, hy, hz = _u(k[0], 0.012, 0.032), _u(k[1], 0.012, 0.05), _u(k[2], 0.012, 0.04)
    size, pos, quat = _empty()
    size = size.at[0].set(jnp.stack([hx, hy, hz]))
    return size, pos, quat, hz, jnp.minimum(hx, hy), jnp.stack([hx, hy, hz])


def _mug(key):
    k = jax.random.split(key, 6)
    r = _u(k[0], 0.024, 0.034)  # body radius
    hl = _u(k[1], 0.012, 0.028)  # half-length of the body's cylindrical part
    reach = _u(k[2], 0.018, 0.03)  # handle bar distance beyond the body surface
    t = _u(k[3], 0.004, 0.006)  # handle tube radius
    span = hl + 0.3 * r
    hh = _u(k[4], 0.6, 1.0) * span - t  # handle half-height (strut axis to strut axis)
    zc = _u(k[5], -1.0, 1.0) * jnp.maximum(span - hh - t, 0.0)
    size, pos, quat = _empty()
    base_h = 0.005
    bottom = hl + r + 0.004  # body origin above the base box's bottom
    size = size.at[0].set(jnp.stack([0.7 * r, 0.7 * r, base_h]))
    pos = pos.at[0].set(jnp.stack([0.0, 0.0, -bottom + base_h]))
    x_in, x_out = 0.6 * r, r + reach
    strut = jnp.stack([t, (x_out - x_in) / 2, HIDDEN])
    for slot, z in ((1, zc + hh), (3, zc - hh)):
        size = size.at[slot].set(strut)
        pos = pos.at[slot].set(jnp.stack([(x_in + x_out) / 2, 0.0, z]))
        quat = quat.at[slot].set(jnp.asarray(_Q_X))
    size = size.at[2].set(jnp.stack([t, hh, HIDDEN]))
    pos = pos.at[2].set(jnp.stack([x_out, 0.0, zc]))
    size = size.at[4].set(jnp.stack([r, hl, HIDDEN]))
    return size, pos, quat, bottom, r, jnp.stack([r, r, hl + r])


def _bottle(key):
    k = jax.random.split(key, 4)
    big = _u(k[0], 0.022, 0.033)
    half = _u(k[1], 0.025, 0.045)
    neck = _u(k[2], 0.35, 0.55) * big
    neck_half = _u(k[3], 0.012, 0.025)
    size, pos, quat = _empty()
    size = size.at[4].set(jnp.stack([big, half, HIDDEN]))
    quat = quat.at[4].set(jnp.asarray(_Q_X))
    size = size.at[5].set(jnp.stack([neck, neck_half, HIDDEN]))
    pos = pos.at[5].set(jnp.stack([half + 0.6 * big + neck_half, 0.0, 0.0]))
    quat = quat.at[5].set(jnp.asarray(_Q_X))
    return size, pos, quat, big, big, jnp.stack([half + big, big, big])


def _sphere(key):
    r = _u(key, 0.02, 0.034)
    size, pos, quat = _empty()
    size = size.at[6].set(jnp.stack([r, r, r]))
    return size, pos, quat, r, r, jnp.stack([r, r, r])


_BASE_RGB = np.array([[0.8, 0.25, 0.2], [0.2, 0.35, 0.8], [0.2, 0.7, 0.3], [0.85, 0.75, 0.2]], np.float32)


def sample_instance(key: jax.Array, category: jax.Array) -> ObjectInstance:
    """A random instance of ``category`` (int, may be traced: ``vmap`` over keys and categories)."""
    k_shape, k_mass, k_col = jax.random.split(key, 3)
    branches = [lambda k, f=f: f(k) for f in (_box, _mug, _bottle, _sphere)]
    category = jnp.asarray(category, jnp.int32)
    size, pos, quat, rest, radius, half = jax.lax.switch(category, branches, k_shape)
    mass = _u(k_mass, 0.05, 0.15)
    # Solid-box inertia of the main body's half extents (the handle and neck are light).
    sq = half**2
    inertia = mass / 3.0 * jnp.stack([sq[1] + sq[2], sq[0] + sq[2], sq[0] + sq[1]])
    rgb = jnp.clip(jnp.asarray(_BASE_RGB)[category] + _u(k_col, -0.15, 0.15, (3,)), 0.0, 1.0)
    rgba = jnp.tile(jnp.concatenate([rgb, jnp.ones(1)])[None], (N_SLOTS, 1))
    return ObjectInstance(
        category=category,
        size=size,
        pos=pos,
        quat=quat,
        rgba=rgba,
        mass=mass,
        inertia=inertia,
        rest_z=rest,
        body_radius=radius,
    )


def _rbound_aabb(size: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Bounding-sphere radius [7] and local AABB [7, 6] (centre, half extents) of each slot."""
    t = jnp.asarray(_TYPE)
    box = (t == 6)[:, None]
    cap = (t == 3)[:, None]
    r, h = size[:, 0:1], size[:, 1:2]
    half = jnp.where(box, size, jnp.where(cap, jnp.concatenate([r, r, r + h], -1), jnp.repeat(r, 3, -1)))
    rbound = jnp.where(
        t == 6, jnp.linalg.norm(size, axis=-1), jnp.where(t == 3, size[:, 0] + size[:, 1], size[:, 0])
    )
    return rbound, jnp.concatenate([jnp.zeros_like(half), half], -1)


INSTANCE_FIELDS = (
    "geom_size",
    "geom_pos",
    "geom_quat",
    "geom_rgba",
    "geom_rbound",
    "geom_aabb",
    "body_mass",
    "body_inertia",
)


class GraspObjects(Env):
    """Grasp one procedural object; see the module docstring."""

    language_instruction = "pick up the object"
    randomized_fields = (*INSTANCE_FIELDS, *CAMERA_FIELDS)
    state_dim = 12
    ctrl_offset = GRIPPER_CTRL_OFFSET
    depth_observation = True
    render_geomgroup = ROBOT_HIDDEN
    #: Gripper hinges after the x, y, z slides (their angles follow the tcp in plans, actions and state).
    rotation_joints: tuple[str, ...] = ("yaw",)
    asset = ASSET

    def __init__(self, config: GraspObjectsConfig):
        super().__init__(config)
        m = self.mj_model
        self.body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "object")
        self.slots = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, s) for s in SLOTS])
        self.camera_id = render.camera_id(m, CAMERA)
        self._tcp_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "tcp")
        key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
        self._home_qpos = jnp.asarray(m.key_qpos[key], jnp.float32)
        self._home_ctrl = jnp.asarray(m.key_ctrl[key], jnp.float32)
        # qpos slices of the arm joints (x, y, z, rotation hinges: contiguous) and of the two fingers.
        arm = ("x", "y", "z", *self.rotation_joints)
        adr = [int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j)]) for j in arm]
        fingers = [int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j)])
                   for j in ("left_finger", "right_finger")]
        if adr != list(range(adr[0], adr[0] + len(arm))) or fingers != [adr[-1] + 1, adr[-1] + 2]:
            raise ValueError(f"{self.asset.name}: arm joints {arm} and the fingers must be contiguous in qpos")
        self._arm_q = slice(adr[0], adr[-1] + 1)
        self._rot_q = slice(adr[3], adr[-1] + 1)
        self._finger_q = slice(fingers[0], fingers[1] + 1)
        self._seen = jnp.asarray([CATEGORIES.index(c) for c in config.seen_categories], jnp.int32)

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(self.asset))

    # ------------------------------------------------------------------ instances and cameras

    def apply_instance(self, model, inst: ObjectInstance):
        """``model`` with the object slots set to ``inst`` (vmap over instances for a model batch)."""
        g, b = jnp.asarray(self.slots), self.body
        rbound, aabb = _rbound_aabb(inst.size)
        return model.tree_replace(
            {
                "geom_size": model.geom_size.at[g].set(inst.size),
                "geom_pos": model.geom_pos.at[g].set(inst.pos),
                "geom_quat": model.geom_quat.at[g].set(inst.quat),
                "geom_rgba": model.geom_rgba.at[g].set(inst.rgba),
                "geom_rbound": model.geom_rbound.at[g].set(rbound),
                "geom_aabb": model.geom_aabb.at[g].set(aabb),
                "body_mass": model.body_mass.at[b].set(inst.mass),
                "body_inertia": model.body_inertia.at[b].set(inst.inertia),
            }
        )

    def randomize_model(self, model, rng: jax.Array):
        """A random instance of a random seen category and jittered cameras (the registry's domain
        randomisation)."""
        k_cat, k_inst = jax.random.split(rng)
        cat = self._seen[jax.random.randint(k_cat, (), 0, self._seen.shape[0])]
        model = self.apply_instance(model, sample_instance(k_inst, cat))
        cams = observation_camera_ids(self)
        return jitter_cameras(model, cams, self.config.camera_jitter, jax.random.fold_in(rng, 0xCA))

    def _extents(self, model) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Per-slot half extents along the body x, y, z axes [7] each (slots are rotated about y only)."""
        g = jnp.asarray(self.slots)
        _, aabb = _rbound_aabb(model.geom_size[g])
        half = aabb[:, 3:]
        w, x, y, z = (model.geom_quat[g, i] for i in range(4))
        r0 = jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1)
        r2 = jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)
        return jnp.sum(jnp.abs(r0) * half, -1), half[:, 1], jnp.sum(jnp.abs(r2) * half, -1)

    def rest_height(self, model) -> jax.Array:
        """Height of the object origin above the table when resting upright (from the model's slots)."""
        _, _, ez = self._extents(model)
        return jnp.max(ez - model.geom_pos[jnp.asarray(self.slots), 2])

    # ------------------------------------------------------------------ dynamics

    def object_qpos(self, model, rng: jax.Array) -> jax.Array:
        """Random resting pose [7] (position, quaternion) of the object: table position and yaw."""
        cfg: GraspObjectsConfig = self.config
        k_xy, k_yaw = jax.random.split(rng)
        xy = jax.random.uniform(k_xy, (2,), minval=-cfg.object_xy_range, maxval=cfg.object_xy_range)
        yaw = jax.random.uniform(k_yaw, (), minval=-math.pi, maxval=math.pi)
        pos = jnp.array(
            [TABLE_CENTER[0] + xy[0], TABLE_CENTER[1] + xy[1], TABLE_TOP + self.rest_height(model) + 0.001]
        )
        return jnp.concatenate([pos, yaw_quat(yaw)])

    def reset_with(self, model, rng: jax.Array) -> State:
        k_obj, _ = jax.random.split(rng)
        return self.reset_at(model, self.object_qpos(model, k_obj))

    def reset_at(self, model, obj_qpos: jax.Array, plan: jax.Array | None = None) -> State:
        """Reset with the object at ``obj_qpos``; with a grasp ``plan`` the gripper starts at its pre-grasp
        pose (opened, yawed) and ``info['t0']`` = 0, else at home with the expert's plan (``t0`` =
        ``expert_steps``: the schedule starts after the move to the pre-grasp pose)."""
        cfg: GraspObjectsConfig = self.config
        qpos = self._home_qpos.at[0:7].set(obj_qpos)
        ctrl = self._home_ctrl
        t0 = jnp.int32(cfg.expert_steps)
        if plan is not None:
            pre = self.pregrasp(plan)
            rel = pre - self._ctrl_offset
            qpos = qpos.at[self._arm_q].set(rel[:-1]).at[self._finger_q].set(rel[-1])
            ctrl = rel
            t0 = jnp.int32(0)
        data = self.init_data(model, qpos, ctrl=ctrl)
        if plan is None:
            plan = self.expert_plan(model, data)
        info = {"step": jnp.int32(0), "hold": jnp.int32(0), "rest_z": obj_qpos[2], "plan": plan, "t0": t0}
        reward, success, _, metrics, info = self._evaluate(model, data, info)
        return State(
            data=data,
            obs=self._obs(model, data),
            reward=jnp.float32(0.0),
            done=jnp.bool_(False),
            success=jnp.bool_(False),
            metrics=metrics,
            info=info,
        )

    def step_with(self, model, state: State, action: jax.Array) -> State:
        action = self.clip_action(action)
        data = self.physics(model, state.data, action - self._ctrl_offset)
        info = dict(state.info, step=state.info["step"] + 1)
        reward, success, failure, metrics, info = self._evaluate(model, data, info)
        done = success | failure | (info["step"] >= self.config.episode_steps)
        return State(
            data=data,
            obs=self._obs(model, data),
            reward=reward,
            done=done,
            success=success,
            metrics=metrics,
            info=info,
        )

    def _obs(self, model, data) -> dict[str, jax.Array]:
        tcp = data.site_xpos[self._tcp_site]
        opening = data.qpos[self._finger_q.start : self._finger_q.start + 1]
        state = jnp.concatenate(
            [tcp, data.qpos[self._rot_q], opening, data.xpos[self.body], data.xquat[self.body]]
        ).astype(jnp.float32)
        return {"state": state, **self.render_observation(model, data)}

    def _evaluate(self, model, data, info):
        cfg: GraspObjectsConfig = self.config
        obj = data.xpos[self.body]
        tcp = data.site_xpos[self._tcp_site]
        height = obj[2] - info["rest_z"]
        held = height >= cfg.lift_height
        hold = jnp.where(held, info["hold"] + 1, 0).astype(jnp.int32)
        success = hold >= cfg.hold_steps
        failure = obj[2] < TABLE_TOP - 0.05
        dist = jnp.linalg.norm(obj - tcp)
        reward = (
            (1.0 - jnp.tanh(10.0 * dist)) + jnp.clip(height / cfg.lift_height, 0.0, 1.0) + success
        ).astype(jnp.float32)
        metrics = {"object_height": height.astype(jnp.float32), "tcp_object_dist": dist.astype(jnp.float32)}
        return reward, success, failure, metrics, dict(info, hold=hold)

    # ------------------------------------------------------------------ grasp schedule

    def pregrasp(self, plan: jax.Array) -> jax.Array:
        """Absolute action [5] at the pre-grasp pose of ``plan``: above it, yawed, opened."""
        cfg: GraspObjectsConfig = self.config
        return plan.at[2].set(TABLE_TOP + cfg.pregrasp_height)

    def schedule_action(self, plan: jax.Array, t: jax.Array) -> jax.Array:
        """Absolute action at control step ``t`` of the grasp schedule (t = 0: at the pre-grasp pose)."""
        cfg: GraspObjectsConfig = self.config
        d, s, c, lift = cfg.descend_steps, cfg.settle_steps, cfg.close_steps, cfg.lift_steps
        z_pre = TABLE_TOP + cfg.pregrasp_height
        t = t.astype(jnp.float32)
        down = jnp.clip((t + 1) / d, 0.0, 1.0)
        z = z_pre + (plan[2] - z_pre) * down
        t_close = t - (d + s)
        opening = jnp.where(t_close < 0, plan[4], jnp.clip(plan[4] * (1 - (t_close + 1) / c), 0.0, OPEN))
        t_lift = t - (d + s + c)
        z = z + cfg.lift_distance * jnp.clip((t_lift + 1) / lift, 0.0, 1.0)
        return jnp.stack([plan[0], plan[1], z, plan[3], opening]).astype(jnp.float32)

    def expert_plan(self, model, data) -> jax.Array:
        """Grasp at the object origin across its narrower horizontal extent (used by :meth:`expert`)."""
        cfg: GraspObjectsConfig = self.config
        ex, ey, ez = self._extents(model)
        p = model.geom_pos[jnp.asarray(self.slots)]
        ext_x = jnp.max(jnp.abs(p[:, 0]) + ex)
        ext_y = jnp.max(jnp.abs(p[:, 1]) + ey)
        top = jnp.max(p[:, 2] + ez)
        obj = data.qpos[0:3]
        obj_yaw = quat_yaw(data.qpos[3:7])
        # The fingers close along the gripper's y axis: yaw the gripper so it is along the narrow body axis.
        narrow_is_x = ext_x <= ext_y
        yaw = obj_yaw + jnp.where(narrow_is_x, -math.pi / 2, 0.0)
        yaw = (yaw + math.pi / 2) % math.pi - math.pi / 2
        width = 2 * jnp.minimum(ext_x, ext_y)
        tcp_z = jnp.maximum(obj[2] + top - cfg.grasp_depth, TABLE_TOP + cfg.min_tcp_height)
        return jnp.stack([obj[0], obj[1], tcp_z, yaw, finger_opening(width, cfg.finger_margin)])

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Move to the plan's pre-grasp pose (``expert_steps``), then run the grasp schedule. No noise."""
        cfg: GraspObjectsConfig = self.config
        plan = state.info["plan"]
        t = state.info["step"] - state.info["t0"]
        frac = jnp.clip((state.info["step"] + 1) / jnp.maximum(cfg.expert_steps - 2, 1), 0.0, 1.0)
        n_rot = len(self.rotation_joints)
        start = jnp.concatenate([jnp.asarray(HOME_TCP), jnp.zeros(n_rot), jnp.full((1,), OPEN)])
        move = start + (self.pregrasp(plan) - start) * frac
        action = jnp.where(t < 0, move, self.schedule_action(plan, jnp.maximum(t, 0)))
        action = self.clip_action(action)
        return action, action

    # ------------------------------------------------------------------ batched grasp execution

    def execute(self, model, obj_qpos: jax.Array, plan: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Run one grasp ``plan`` on the object at ``obj_qpos``: (success, final object height above rest).

        Pure and ``vmap``-able (vmap over candidates and scenes, with ``model`` batched by
        :meth:`apply_instance`): one ``lax.scan`` over the schedule's control steps.
        """
        state = self.reset_at(model, obj_qpos, plan)

        def body(st, t):
            st = self.step_with(model, st, self.schedule_action(plan, t))
            return st, st.success

        steps = jnp.arange(self.config.grasp_steps, dtype=jnp.int32)
        state, succ = jax.lax.scan(body, state, steps)
        return succ.any(), state.metrics["object_height"]


def finger_opening(width_m: jax.Array, margin: float) -> jax.Array:
    """Finger joint opening for a grasp ``width_m`` wide plus ``margin`` clearance on each side."""
    return jnp.clip(width_m / 2 + margin - PAD_INNER, 0.004, OPEN)


# ------------------------------------------------------------------------------------------ 6-DoF grasps
# (finger pads relative to the tcp: the gantry's PAD_HALF / PAD_CENTRE_Z; rotations: jaxrobot.sim.geometry)


def approach_direction(rot: jax.Array) -> jax.Array:
    """Unit vector [..., 3] along which the fingers approach: the gripper's -z axis in the world."""
    return -rot[..., :, 2]


def lowest_pad_offset(rot: jax.Array, opening: jax.Array) -> jax.Array:
    """Height of the lowest finger-pad corner relative to the tcp for a gripper at ``rot``, open ``opening``.

    A pad corner is ``(±hx, k y ± hy, PAD_CENTRE_Z ± hz)`` in the gripper frame (k = ±1 for the two pads,
    ``y`` the pad centre's distance from the axis); its world height offset is that point dotted with the
    world z row of ``rot``, whose minimum over signs is ``PAD_CENTRE_Z r_z - y |r_y| - sum_i h_i |r_i|``.
    """
    r = rot[..., 2, :]
    y = PAD_INNER + PAD_HALF[1] + opening
    return PAD_CENTRE_Z * r[..., 2] - y * jnp.abs(r[..., 1]) - jnp.sum(jnp.asarray(PAD_HALF) * jnp.abs(r), -1)


class GraspObjects6Dof(GraspObjects):
    """``grasp_objects`` with a 6-DoF gripper (``grasp_objects_6dof.xml``: pitch and roll hinges about the
    tcp after yaw), for tilted grasps.

    Plans and actions are ``[tcp_x, tcp_y, tcp_z, yaw, pitch, roll, finger_opening]`` (the gripper
    orientation is ``Rz(yaw) Ry(pitch) Rx(roll)``, see :func:`euler_to_matrix`); ``state`` is tcp, yaw,
    pitch, roll, opening, object position and quaternion (float32[14]). The grasp schedule starts at a
    pre-grasp pose backed off along the approach direction to ``pregrasp_height`` above the table,
    moves along the approach to the plan, closes, lifts straight up and holds (for an untilted plan this is
    exactly :class:`GraspObjects`' schedule). Same config (:class:`GraspObjectsConfig`).
    """

    rotation_joints = ("yaw", "pitch", "roll")
    asset = ASSET_6DOF
    state_dim = 14
    ctrl_offset = (*GRIPPER_CTRL_OFFSET[:4], 0.0, 0.0, 0.0)

    def pregrasp(self, plan: jax.Array) -> jax.Array:
        """Absolute action [7]: the plan's orientation and opening at its pre-grasp point (approach line)."""
        cfg: GraspObjectsConfig = self.config
        a = approach_direction(euler_to_matrix(plan[3], plan[4], plan[5]))
        standoff = (TABLE_TOP + cfg.pregrasp_height - plan[2]) / jnp.maximum(-a[2], 0.5)
        return plan.at[0:3].set(plan[0:3] - a * standoff)

    def schedule_action(self, plan: jax.Array, t: jax.Array) -> jax.Array:
        """Absolute action [7] at control step ``t`` of the grasp schedule (t = 0: at the pre-grasp pose)."""
        cfg: GraspObjectsConfig = self.config
        d, s, c, lift = cfg.descend_steps, cfg.settle_steps, cfg.close_steps, cfg.lift_steps
        pre = self.pregrasp(plan)[0:3]
        t = t.astype(jnp.float32)
        pos = pre + (plan[0:3] - pre) * jnp.clip((t + 1) / d, 0.0, 1.0)
        t_close = t - (d + s)
        opening = jnp.where(t_close < 0, plan[6], jnp.clip(plan[6] * (1 - (t_close + 1) / c), 0.0, OPEN))
        t_lift = t - (d + s + c)
        pos = pos.at[2].add(cfg.lift_distance * jnp.clip((t_lift + 1) / lift, 0.0, 1.0))
        return jnp.concatenate([pos, plan[3:6], opening[None]]).astype(jnp.float32)

    def expert_plan(self, model, data) -> jax.Array:
        """The planar expert's top-down grasp (pitch = roll = 0)."""
        return planar_to_6dof(super().expert_plan(model, data))


def planar_to_6dof(plan: jax.Array) -> jax.Array:
    """A top-down plan [..., 5] ``(x, y, z, yaw, opening)`` as a 6-DoF plan [..., 7] with pitch = roll = 0."""
    zero = jnp.zeros_like(plan[..., :1])
    return jnp.concatenate([plan[..., :4], zero, zero, plan[..., 4:5]], -1)


def plan_from_pose(position: jax.Array, rot: jax.Array, opening: jax.Array,
                   min_tcp_height: float) -> jax.Array:
    """6-DoF plan [..., 7] for the tcp at ``position`` with orientation ``rot``, moved back along the approach
    until the lowest pad corner is ``min_tcp_height - PAD_BELOW_TCP`` above the table (for a vertical
    gripper: the tcp at least ``min_tcp_height`` above it, as the planar plans)."""
    a = approach_direction(rot)
    low = position[..., 2] + lowest_pad_offset(rot, opening)
    need = TABLE_TOP + (min_tcp_height - PAD_BELOW_TCP) - low
    back = jnp.maximum(need, 0.0) / jnp.maximum(-a[..., 2], 1e-3)
    position = position - a * back[..., None]
    return jnp.concatenate([position, matrix_to_euler(rot), opening[..., None]], -1)


# ------------------------------------------------------------------------------------------ camera


def grasp_camera(env: GraspObjects, size: int | None = None):
    """The top-down camera as a :class:`jaxrobot.vision.camera.Camera` at ``size`` x ``size`` pixels."""
    from jaxrobot.vision.camera import camera_from_fovy, make_pose, opengl_to_opencv

    size = size or env.config.grasp_image_size
    m = env.mj_model
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    pose = make_pose(
        jnp.asarray(d.cam_xmat[env.camera_id].reshape(3, 3), jnp.float32),
        jnp.asarray(d.cam_xpos[env.camera_id], jnp.float32),
    )
    return camera_from_fovy(float(m.cam_fovy[env.camera_id]), size, size, opengl_to_opencv(pose))


def render_scene(env: GraspObjects, model, data, size: int) -> tuple[jax.Array, jax.Array]:
    """(depth [H, W] float32 metres, rgb [H, W, 3] uint8) from the grasp camera, robot hidden.

    :func:`jaxrobot.sim.render.render_rgbd` with ``mjx.ray`` restricted to geom groups 0 and 1 (the robot
    is group 2), so the gripper never occludes the scene.
    """
    k = render.intrinsics(env.mj_model, env.camera_id, size, size)
    return render.render_rgbd(model, data, env.camera_id, k, size, size, geomgroup=ROBOT_HIDDEN)


# ------------------------------------------------------------------------------------------ splits

SPLITS = ("train", "novel_instances", "novel_categories")


def scene_categories(config: GraspObjectsConfig, split: str, start: int, n: int) -> np.ndarray:
    """Category index of scenes ``start .. start+n-1`` of ``split`` (round-robin: balanced)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    cats = config.unseen_categories if split == "novel_categories" else config.seen_categories
    idx = np.array([CATEGORIES.index(c) for c in cats], np.int32)
    return idx[(start + np.arange(n)) % len(idx)]


def scene_keys(split: str, seed: int, start: int, n: int) -> jax.Array:
    """Keys of scenes ``start .. start+n-1``: disjoint random streams per split (novel = never trained on)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = jax.random.fold_in(jax.random.key(seed), SPLITS.index(split) + 1)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + n, dtype=jnp.uint32))
