"""``panda_peg_insertion``: the Franka Panda inserts a square peg it holds into a hole with 0.8 mm clearance.

Scene: ``jaxrobot/sim/assets/franka_panda/scene_peg_insertion.xml``: the mesh-free Menagerie Panda
(``panda_primitive.xml``, unchanged; Menagerie's solver options: implicitfast, 5 iterations, 8 line-search
iterations, ``sim_dt`` 0.005 s) and a hole fixture on the floor: a mocap body ``hole`` (a base plate and four
40 mm walls) around a square hole of inner half width :data:`HOLE_HALF` = 12.8 mm, placed per environment
(x, y uniform in ``hole_center +- hole_xy_range``, yaw uniform in ``+-hole_yaw_range``). The peg, a
24 x 24 x 90 mm box (half width :data:`PEG_HALF` = 12 mm: **0.8 mm radial clearance per side**), is added
to the ``hand`` body by ``mujoco.MjSpec`` between the fingers, its bottom face 60 mm beyond the TCP (48 mm
beyond the fingertips, so the fingers stay above the walls at full depth). Cameras ``scene`` and ``wrist``
as ``panda_pick_cube`` (:func:`jaxrobot.sim.panda.add_cameras`).

Why the peg is attached to the hand rather than held by friction: grasping is ``panda_pick_cube``'s skill;
here the point is the sub-millimetre alignment of an arm under IK and position servos. A friction-held peg
adds a free body (6 DoF), up to 8 pad contacts and a slip / rotate-in-grasp failure mode whose rate depends
on MJX's soft contacts more than on the policy, and every pad contact costs time on the 2-core CPU. The
attached peg is rigid in the hand (its mass counts in the arm's gravity feed-forward); the fingers are
commanded closed on it (width 24 mm) but do not collide with it, so the gripper action has no effect on the
peg (it stays in the action for the shared action spaces). Contacts: only peg <-> fixture (five box-box
pairs; the floor and the arm's own collision geoms collide with nothing here), which MJX's JAX backend
supports (shared/FACTS.md: cylinder-box is not, hence a square peg).

Timing: ``ctrl_dt`` 0.02 s (50 Hz) with 4 physics substeps; 150 control steps, so an episode is at most
600 physics steps (3 s). Start: the ``start`` keyframe (TCP 0.2 m above (0.5, 0), pointing down) plus
``joint_jitter``.

Observation ``state`` (float32[37], world frame, metres / radians)::

    [0:22]   the arm (:mod:`jaxrobot.sim.panda_arm`): q [0:7], joint velocities [7:14], TCP position
             [14:17], TCP quaternion (w, x, y, z) [17:21], gripper width [21]
    [22:25]  peg position (the peg body's centre)
    [25:29]  peg orientation quaternion (w, x, y, z; the peg's axes are the hand's: z along the fingers)
    [29:32]  hole position: the centre of the hole's opening (site ``hole_top``, at the top of the walls)
    [32:36]  hole orientation quaternion (w, x, y, z; a rotation about world z by the hole's yaw)
    [36]     insertion depth: height of the opening minus the height of the peg's lowest corner (negative
             while the peg is above the hole)

With ``image_size > 0``, per camera ``c`` in ``cameras``: ``image_<c>``, ``intrinsics_<c>`` and
``extrinsics_<c>`` as ``panda_pick_cube``.

Actions: ``ee_pose`` (default, float32[10]), ``ee_delta`` (float32[7]) or ``joint_pos`` (float32[8]), exactly
as ``panda_pick_cube`` (:mod:`jaxrobot.sim.panda_arm`: IK inside the step, gravity feed-forward, every command
inside the joint ranges).

Success: insertion depth >= ``success_depth`` (20 mm of the 40 mm hole) with the peg's section inside the
opening: its centre within the clearance + 1 mm (contact softness) of the hole's axis, in the hole's frame.
There is no failure predicate (the peg cannot be dropped); done at success or ``episode_steps``.

Expert (:meth:`PandaPegInsertion.expert`): 64/64 and 256/256 seeded episodes (noise on) in every action space,
90 control steps on average, at most ~115 (``tests/sim/test_panda_peg_insertion.py``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.sim import panda
from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.env import State
from jaxrobot.sim.expert_noise import check_expert_noise, noise_segment
from jaxrobot.sim.geometry import quat_yaw, wrap_quarter, yaw_quat
from jaxrobot.sim.ik import rotation_log
from jaxrobot.sim.panda_arm import (
    ARM_STATE_DIM,
    PandaArmConfig,
    PandaTask,
    clip_norm,
    down_rotation,
    rotvec_matrix,
)
from jaxrobot.sim.randomize import CAMERA_FIELDS, CameraJitter, jitter_cameras, observation_camera_ids
from jaxrobot.vision.camera import quat_to_mat

SCENE_XML = panda.SCENE_PEG_INSERTION_XML
#: Length of ``obs["state"]`` (layout in the module docstring).
STATE_DIM = ARM_STATE_DIM + 15
#: Peg half sizes (x, y: the square section; z: along the hand's z axis), metres.
PEG_HALF = (0.012, 0.012, 0.045)
#: Peg centre in the hand frame: its top face at 70 mm (inside the hand), bottom face at 160 mm (the TCP is at
#: 100 mm, the fingertips reach 112 mm).
PEG_POS_IN_HAND = (0.0, 0.0, 0.115)
#: Inner half width of the square hole (as built in the scene XML; the tests read it from the model).
HOLE_HALF = 0.0128
#: Depth of the hole (wall height above the base plate).
HOLE_DEPTH = 0.04
#: The ``start`` keyframe's arm configuration (TCP 0.2 m above (0.5, 0), pointing down; IK from home).
START_Q = (0.0, 0.05253, 0.0, -2.37842, 0.0, 2.43095, -0.7854)
#: Gripper width commanded while holding the peg (the fingers rest on its faces).
HOLD_WIDTH = 2 * PEG_HALF[0]


@dataclasses.dataclass(frozen=True)
class PandaPegInsertionRandomization(Config):
    """Domain randomisation of model fields (per environment): peg and fixture colours, camera poses.

    Sizes stay fixed: the clearance is the task.
    """

    kind: ClassVar[str] = "sim.panda_peg_insertion.randomization"
    rgba_jitter: float = 0.2
    camera: CameraJitter = CameraJitter(position=0.01, rotation=0.03)

    def check(self) -> None:
        require(self.rgba_jitter >= 0, "rgba_jitter", f"must be >= 0, got {self.rgba_jitter}")


@dataclasses.dataclass(frozen=True)
class PandaPegInsertionConfig(PandaArmConfig):
    """panda_peg_insertion task (see the module docstring for observations, actions and success).

    action_space / workspace_low / workspace_high / ee_delta_max / ik: the arm's (:mod:`jaxrobot.sim.panda_arm`).
    hole_center: nominal hole x, y; hole_xy_range / hole_yaw_range: uniform +-range (metres / radians).
    joint_jitter: initial arm joints uniform in ``start +- joint_jitter`` (radians).
    success_depth: insertion depth of the peg's lowest corner for success (metres, < the hole's 40 mm).
    expert_speed / expert_turn_rate: the expert's free-space speed (m/s, rad/s).
    expert_insert_speed: its descent speed through the opening (from 3 mm above to 5 mm deep, m/s); twice that
      for the rest of the descent.
    expert_gain: fraction of the measured peg-tip error (and rotation error) the expert corrects per step near
      the hole (an integrator on the command: it removes the servos' and the IK's static error).
    expert_align_tol: the peg tip's lateral error (metres) below which the expert starts the insertion.
    expert_max_lead: how far (metres) the command may lead the measured TCP (bounds the push on a jam).
    expert_noise / expert_noise_prob / expert_noise_hold: DART-style noise (:mod:`jaxrobot.sim.expert_noise`)
      on the command, away from the hole only.
    randomization: ranges for ``jaxrobot.sim.randomize`` (only when randomisation is requested).
    """

    kind: ClassVar[str] = "sim.panda_peg_insertion"
    hole_center: tuple[float, float] = (0.5, 0.0)
    hole_xy_range: float = 0.06
    hole_yaw_range: float = math.pi / 4
    joint_jitter: float = 0.05
    success_depth: float = 0.02
    expert_speed: float = 0.4
    expert_turn_rate: float = 2.0
    expert_insert_speed: float = 0.015
    expert_gain: float = 0.15
    expert_align_tol: float = 0.0004
    expert_max_lead: float = 0.05
    expert_noise: float = 0.01
    expert_noise_prob: float = 0.3
    expert_noise_hold: int = 10
    randomization: PandaPegInsertionRandomization = PandaPegInsertionRandomization()

    def check(self) -> None:
        super().check()
        require(0 <= self.hole_xy_range <= 0.12, "hole_xy_range", f"must be in [0, 0.12], got {self.hole_xy_range}")
        require(0 <= self.hole_yaw_range <= math.pi, "hole_yaw_range",
                f"must be in [0, pi], got {self.hole_yaw_range}")
        require(0 <= self.joint_jitter <= 0.2, "joint_jitter", f"must be in [0, 0.2], got {self.joint_jitter}")
        require(0 < self.success_depth < HOLE_DEPTH - 0.005, "success_depth",
                f"must be in (0, {HOLE_DEPTH - 0.005}), got {self.success_depth}")
        require(self.expert_speed > 0 and self.expert_turn_rate > 0 and self.expert_insert_speed > 0,
                "expert_speed", "expert_speed, expert_turn_rate and expert_insert_speed must be > 0")
        require(0 < self.expert_gain <= 1, "expert_gain", f"must be in (0, 1], got {self.expert_gain}")
        require(self.expert_align_tol > 0, "expert_align_tol", f"must be > 0, got {self.expert_align_tol}")
        require(0 < self.expert_max_lead <= self.ee_delta_max[0], "expert_max_lead",
                f"must be in (0, ee_delta_max[0]={self.ee_delta_max[0]}] (the expert's ee_delta stays in bounds)")
        require(self.expert_turn_rate * self.ctrl_dt <= self.ee_delta_max[1], "expert_turn_rate",
                "one step's turn must stay inside ee_delta_max[1]")
        check_expert_noise(self)


class PandaPegInsertion(PandaTask):
    """Insert the held peg into the hole with the Panda; see the module docstring."""

    language_instruction = "insert the peg into the hole"
    state_dim = STATE_DIM
    randomized_fields = ("geom_rgba", *CAMERA_FIELDS)
    #: The ``start`` keyframe's arm (the IK's null-space pull keeps the elbow where the episode starts).
    ik_posture = START_Q

    def __init__(self, config: PandaPegInsertionConfig):
        super().__init__(config)
        m = self.mj_model
        self._peg_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "peg")
        self._peg_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "peg")
        self._hole_top = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "hole_top")
        self._coloured_geoms = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in
                                         ("peg", "hole_base", "wall_px", "wall_nx", "wall_py", "wall_ny")])
        key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "start")
        self._start_qpos = jnp.asarray(m.key_qpos[key], jnp.float32)
        self._hole_pos0 = np.asarray(m.key_mpos[key], np.float32).reshape(-1, 3)

    def _build_mj_model(self) -> mujoco.MjModel:
        return self._build_spec().compile()

    def _build_spec(self) -> mujoco.MjSpec:
        """The scene's spec: the Panda, the hole fixture, the peg on the hand, the cameras (tasks add to it)."""
        spec = mujoco.MjSpec.from_file(str(SCENE_XML))
        peg = spec.body("hand").add_body(name="peg", pos=list(PEG_POS_IN_HAND))
        peg.add_geom(name="peg", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(PEG_HALF), mass=0.1,
                     contype=4, conaffinity=4, condim=3, friction=[0.3, 0.005, 0.0001], solref=[0.01, 1.0],
                     solimp=[0.95, 0.99, 0.001, 0.5, 2.0], rgba=[0.85, 0.45, 0.1, 1.0])
        panda.add_cameras(spec)
        return spec

    # ------------------------------------------------------------------ geometry

    def peg_bottom_z(self, model, data) -> jax.Array:
        """Height of the peg's lowest corner (exact for any orientation)."""
        rot = data.xmat[self._peg_body]
        half = model.geom_size[self._peg_geom]
        return data.xpos[self._peg_body, 2] - jnp.sum(jnp.abs(rot[2, :]) * half)

    # ------------------------------------------------------------------ dynamics

    def reset_with(self, model, rng: jax.Array) -> State:
        cfg: PandaPegInsertionConfig = self.config
        k_xy, k_yaw, k_q = jax.random.split(rng, 3)
        xy = jax.random.uniform(k_xy, (2,), minval=-cfg.hole_xy_range, maxval=cfg.hole_xy_range)
        yaw = jax.random.uniform(k_yaw, (), minval=-cfg.hole_yaw_range, maxval=cfg.hole_yaw_range)
        dq = jax.random.uniform(k_q, (7,), minval=-cfg.joint_jitter, maxval=cfg.joint_jitter)
        q0 = self.kin.clip(self._start_qpos[0:7] + dq)
        hole = jnp.array([cfg.hole_center[0] + xy[0], cfg.hole_center[1] + xy[1], 0.0])
        return self.start_state(model, q0, hole, yaw, {"ik_pos_err": jnp.float32(0.0)})

    def start_state(self, model, q0: jax.Array, hole: jax.Array, hole_yaw: jax.Array, info: dict) -> State:
        """The episode's first State: the arm at rest at joints ``q0`` holding the peg (commanded there, gravity
        fed forward), the hole body at ``hole`` [3] turned by ``hole_yaw``; ``info`` adds to the step count and
        joint command."""
        qpos = self._start_qpos.at[0:7].set(q0)
        data = self._data0.replace(qpos=qpos, qvel=jnp.zeros(self.mj_model.nv, jnp.float32),
                                   ctrl=jnp.zeros(self.mj_model.nu, jnp.float32), mocap_pos=hole[None],
                                   mocap_quat=yaw_quat(hole_yaw)[None])
        data = mjx.forward(model, data)
        data = data.replace(ctrl=self.controls(data, q0, jnp.float32(HOLD_WIDTH)))
        info = {"step": jnp.int32(0), "q_cmd": q0, **info}
        _, _, metrics = self._evaluate(model, data, info)
        return State(data=data, obs=self._obs(model, data), reward=jnp.float32(0.0), done=jnp.bool_(False),
                     success=jnp.bool_(False), metrics=metrics, info=info)

    def settle(self, model, data, info) -> State:
        reward, success, metrics = self._evaluate(model, data, info)
        done = success | (info["step"] >= self.config.episode_steps)
        return State(data=data, obs=self._obs(model, data), reward=reward, done=done, success=success,
                     metrics=metrics, info=info)

    def _obs(self, model, data) -> dict[str, jax.Array]:
        top = data.site_xpos[self._hole_top]
        depth = top[2] - self.peg_bottom_z(model, data)
        state = jnp.concatenate([
            self.arm_state(data), data.xpos[self._peg_body], data.xquat[self._peg_body], top,
            data.mocap_quat[0], depth[None],
        ]).astype(jnp.float32)
        return {"state": state, **self.camera_observation(model, data)}

    def peg_offset_in_hole(self, data) -> jax.Array:
        """The peg centre's (x, y) in the hole's frame, relative to the hole's axis."""
        rot = quat_to_mat(data.mocap_quat[0])
        return (rot.T @ (data.xpos[self._peg_body] - data.site_xpos[self._hole_top]))[0:2]

    def _evaluate(self, model, data, info):
        cfg: PandaPegInsertionConfig = self.config
        top = data.site_xpos[self._hole_top]
        depth = top[2] - self.peg_bottom_z(model, data)
        offset = self.peg_offset_in_hole(data)
        # The peg's whole section over the opening: centre within the clearance (+ 1 mm for the soft contacts)
        # of the hole's axis, in the hole's frame.
        inside = jnp.max(jnp.abs(offset)) < HOLE_HALF - model.geom_size[self._peg_geom, 0] + 0.001
        success = inside & (depth >= cfg.success_depth)
        # Dense shaping in [0, 3]: peg over the hole, depth in the hole, bonus on success.
        dist = jnp.linalg.norm(offset)
        align = 1.0 - jnp.tanh(50.0 * dist)
        deep = jnp.clip(depth / cfg.success_depth, 0.0, 1.0) * inside
        reward = (align + deep + success).astype(jnp.float32)
        metrics = {"peg_hole_dist": dist.astype(jnp.float32), "insertion_depth": depth.astype(jnp.float32),
                   "ik_pos_err": jnp.asarray(info["ik_pos_err"], jnp.float32)}
        return reward, success, metrics

    def randomize_model(self, model, rng: jax.Array):
        """One environment's model with the peg and fixture colours and the camera poses resampled."""
        r: PandaPegInsertionRandomization = self.config.randomization
        k_c, k_cam = jax.random.split(rng)
        jitter = jax.random.uniform(k_c, (len(self._coloured_geoms), 3), minval=-r.rgba_jitter,
                                    maxval=r.rgba_jitter)
        rgba = model.geom_rgba.at[jnp.asarray(self._coloured_geoms), :3].add(jitter)
        model = model.tree_replace({"geom_rgba": jnp.clip(rgba, 0.0, 1.0)})
        return jitter_cameras(model, observation_camera_ids(self), r.camera, k_cam)

    # ------------------------------------------------------------------ scripted expert

    def expert_plan(self, state: State) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """The expert's next TCP target: (position [3], rotation [3, 3], gripper width, no-noise flag).

        Align above the hole, descend, insert, in end-effector space, reading the measured state only:

        - Goal orientation: pointing straight down with the peg's faces parallel to the hole's walls (the
          hand yaw nearest the current one among the hole's yaw + k pi/2).
        - Goal position of the peg *tip* (the centre of its bottom face, measured): over the hole's axis,
          ``hover`` = 5 mm above the opening; once the tip is within ``expert_align_tol`` of the axis with
          yaw and tilt under 1.5 degrees, down to 27 mm deep (success needs 20 mm): ``expert_insert_speed``
          through the opening, twice that above and below it. Once the *command* went below the hover height
          it keeps descending with looser tolerances (1.5 mm, 2.3 degrees: hysteresis, so the plan does not
          flip between hovering and descending while the servos settle), and inside the hole it always does.
        - Far from the goal (> 5 mm laterally) the command advances from the previous command's pose
          (``fk(info["q_cmd"])``) at ``expert_speed`` / ``expert_turn_rate`` (a straight reference path, as
          ``panda_pick_cube``'s expert). Near it, the command integrates ``expert_gain`` x the measured tip
          error and rotation error per step, which removes the static error of the servos and the IK: the
          sub-millimetre alignment comes from this feedback on the measured peg, not from open-loop accuracy.
        - The command stays within ``expert_max_lead`` of the measured TCP, and while inserting at most 3 mm
          below it (a peg on the rim pushes with a bounded force while the lateral feedback slides it over).
        """
        cfg: PandaPegInsertionConfig = self.config
        s = state.obs["state"]
        tcp, peg, peg_quat, top, hole_quat = s[14:17], s[22:25], s[25:29], s[29:32], s[32:36]
        rot = quat_to_mat(s[17:21])
        peg_rot = quat_to_mat(peg_quat)
        half_z = PEG_HALF[2]
        tip = peg + peg_rot[:, 2] * half_z
        ref_pos, ref_rot = self.kin.fk_matrix(state.info["q_cmd"])

        hand_yaw = jnp.arctan2(rot[1, 0], rot[0, 0])
        target_yaw = hand_yaw + wrap_quarter(quat_yaw(hole_quat) - hand_yaw)
        goal_rot = down_rotation(target_yaw)
        tilt = jnp.arccos(jnp.clip(-rot[2, 2], -1.0, 1.0))
        yaw_err = jnp.abs(wrap_quarter(target_yaw - hand_yaw))

        xy_err = jnp.linalg.norm(top[0:2] - tip[0:2])
        hover_z = top[2] + 0.005
        insert_z = top[2] - 0.027
        in_hole = (tip[2] < top[2] - 0.002) & (xy_err < HOLE_HALF)
        aligned = (xy_err < cfg.expert_align_tol) & (tilt < 0.026) & (yaw_err < 0.026)
        # TCP goal: a tip goal minus the tip's offset from the TCP, as the goal orientation carries it.
        tip_in_hand = rot.T @ (tip - tcp)
        tip_offset = goal_rot @ tip_in_hand
        # Hysteresis read from the previous *command* (the only memory): once it went below the hover height
        # the descent goes on with looser tolerances. The command sits exactly at the hover height while
        # hovering (the vertical path has no feedback), unlike the measured height, which wavers.
        committed = ref_pos[2] + tip_offset[2] < hover_z - 0.0002
        keep = committed & (xy_err < 0.0015) & (tilt < 0.04) & (yaw_err < 0.04)
        insert = aligned | keep | in_hole
        tip_goal = jnp.concatenate([top[0:2], jnp.where(insert, insert_z, hover_z)[None]])
        goal = tip_goal - tip_offset

        dt = cfg.ctrl_dt
        near = jnp.linalg.norm(goal[0:2] - tcp[0:2]) < 0.005
        # Lateral: reference path when far, integrator on the measured tip error when near.
        xy_ref = ref_pos[0:2] + clip_norm(goal[0:2] - ref_pos[0:2], cfg.expert_speed * dt)
        xy_int = ref_pos[0:2] + clip_norm(cfg.expert_gain * (tip_goal[0:2] - tip[0:2]), 0.1 * cfg.expert_speed * dt)
        xy = jnp.where(near, xy_int, xy_ref)
        # Vertical: reference path at the free or the insertion speed.
        # Through the opening (from 3 mm above to 5 mm deep) at expert_insert_speed, elsewhere faster.
        entry = (tip[2] < top[2] + 0.003) & (tip[2] > top[2] - 0.005)
        vz = jnp.where(insert, jnp.where(entry, 1.0, 2.0) * cfg.expert_insert_speed, cfg.expert_speed) * dt
        z = ref_pos[2] + jnp.clip(goal[2] - ref_pos[2], -vz, vz)
        # Inserting, the command leads the measured TCP by at most 3 mm downwards: a peg that lands on the
        # rim presses with a bounded force while the lateral feedback slides it over the opening.
        z = jnp.where(insert, jnp.maximum(z, tcp[2] - 0.003), z)
        pos = jnp.concatenate([xy, z[None]])
        pos = tcp + clip_norm(pos - tcp, cfg.expert_max_lead)
        # Rotation: reference path when far (> 3 degrees), integrator on the measured error when near.
        r_meas = rotation_log(goal_rot @ rot.T)
        r_far = rotation_log(goal_rot @ ref_rot.T)
        r = jnp.where(jnp.linalg.norm(r_meas) < 0.05, cfg.expert_gain * r_meas, r_far)
        target_rot = rotvec_matrix(clip_norm(r, cfg.expert_turn_rate * dt)) @ ref_rot
        quiet = near | insert | (tip[2] < top[2] + 0.03)
        return pos, target_rot, jnp.float32(HOLD_WIDTH), quiet

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(label, executed)`` actions of the scripted expert (:meth:`expert_plan`) in the configured space.

        ``executed`` adds DART-style noise (Laskey et al. 2017) to the TCP target as ``panda_pick_cube``'s
        expert: each active segment of ``expert_noise_hold`` steps displaces the path by std ``expert_noise``
        (and the hand's yaw by 5x that, radians) in total; off near the hole (within 3 cm above it, over it,
        or inserting). ``joint_pos`` actions are IK solutions, so they lie inside the joint limits.
        """
        cfg: PandaPegInsertionConfig = self.config
        pos, rot, width, quiet = self.expert_plan(state)
        on, n = noise_segment(cfg, state.info["step"], rng, (4,))
        n = jnp.where(on & ~quiet, n, 0.0) / cfg.expert_noise_hold
        noisy_rot = rotvec_matrix(jnp.array([0.0, 0.0, 5.0 * n[3]])) @ rot
        label = self.action_for(state, pos, rot, width)
        executed = self.action_for(state, pos + n[0:3], noisy_rot, width)
        return self.clip_action(label), self.clip_action(executed)
