"""``panda_pick_cube``: a Franka Emika Panda lifts a 4 x 4 x 6 cm cube off the floor.

The ``pick_cube`` skill on a real 7-joint arm. Scene: ``jaxrobot/sim/assets/franka_panda/scene_pick_cube.xml``
(Menagerie's MJX Panda and single-cube scene: floor, arm, cube ``box``; solver options unchanged: implicitfast,
5 iterations, 8 line-search iterations, ``sim_dt`` 0.005 s) with two cameras added by ``mujoco.MjSpec``
(:func:`jaxrobot.sim.panda.add_cameras`): ``scene`` (fixed, in front of the robot, looking at the table area)
and ``wrist`` (on the hand, looking along the gripper). Robot constants: :mod:`jaxrobot.sim.panda`; what
every arm task shares (action spaces, IK in the step, gravity feed-forward, the arm's observation, cameras):
:class:`jaxrobot.sim.panda_arm.PandaTask`, whose names (``rot6d``, ``down_rotation``, ...) this module
re-exports.

Timing: ``ctrl_dt`` 0.02 s (50 Hz) with 4 physics substeps; 150 control steps, so an episode is at most
600 physics steps (3 s), as MuJoCo Playground's ``PandaPickCube`` (ctrl_dt 0.02, sim_dt 0.005, 150 steps).

Observation ``state`` (float32[29], world frame, metres / radians)::

    [0:7]    arm joint positions q (joint1 .. joint7)
    [7:14]   arm joint velocities
    [14:17]  TCP position (site ``gripper``, between the finger tips)
    [17:21]  TCP orientation quaternion (w, x, y, z): the ``hand`` body's ``xquat`` (the site is not rotated
             in the hand), continuous along a trajectory (not sign-canonicalised)
    [21]     gripper width (distance between the finger pads; 0 closed, 0.08 open)
    [22:25]  cube position (centre)
    [25:29]  cube orientation quaternion (w, x, y, z)

With ``image_size > 0``, per camera ``c`` in ``cameras``: ``image_<c>`` (uint8 [S, S, 3], ``mjx.ray``,
:mod:`jaxrobot.sim.render`), ``intrinsics_<c>`` (float32 [3, 3], pixel-edge origin as :func:`render.intrinsics`,
constant) and ``extrinsics_<c>`` (float32 [4, 4], world from camera in MuJoCo's camera frame: looks along -z,
y up; ``data.cam_xpos`` / ``cam_xmat``, so the wrist camera's follows the hand and jittered cameras report
their jittered pose).

Actions (``config.action_space``; bounds :attr:`PandaPickCube.action_low` / ``action_high``, all finite):

- ``ee_pose`` (default, float32[10]): absolute TCP target ``[x, y, z, r6(6), width]``: position (world,
  metres), orientation as the first two columns of the TCP rotation matrix (the 6-D representation of
  Zhou et al. 2019, "On the Continuity of Rotation Representations in Neural Networks": continuous, every
  entry in [-1, 1]; turned back into a rotation by Gram-Schmidt, so any 6 numbers with independent columns
  are valid) and the gripper width target. Solved to joint targets by damped-least-squares IK
  (:mod:`jaxrobot.sim.ik`) inside the step, warm-started from the measured joints.
- ``ee_delta`` (float32[7]): relative motion ``[dx, dy, dz, rx, ry, rz, width]`` of the TCP target from the
  previous command's pose (the forward kinematics of the last joint command, which the servos track):
  translation (world, metres) and rotation vector (world frame, radians, applied as ``R = exp(r) R_prev``),
  bounded by ``ee_delta_max``; the width is absolute (as most OXE datasets). Increments integrate into the
  target as in MuJoCo Playground's ``PandaPickCubeCartesian`` (its ``current_pos``), so a sum of deltas is
  where the TCP comes to rest; taken from the measured pose instead, a constant delta would move the arm by
  a lag-dependent fraction of its size per step (~1/3 here).
- ``joint_pos`` (float32[8]): absolute joint targets ``[q1 .. q7, width]`` (as ACT / ALOHA record), bounds
  the joint ranges.

Every action space ends in joint targets inside the joint ranges. The arm's position servos sag under
gravity (kp 300-1000 N m/rad: ~4 cm at the TCP in the ``home`` pose), so the step adds a gravity feed-forward
``qfrc_bias / kp`` to the joint targets, as the Panda's own joint controller compensates gravity (the model
and its physics stay Menagerie's; only the controller adds the term). A joint target is then where the joint
settles, and an ``ee_pose`` target is reached within a few millimetres.

Why ``ee_pose`` is the default: the scripted expert plans in end-effector space, so its ``ee_pose`` labels are
its plan itself (no IK approximation between plan and label); in the approach and grasp phases the target is
close to a linear function of the cube pose, which imitation policies learn from few demonstrations (Chi et
al. 2023, Diffusion Policy, found absolute position actions better than velocity / delta actions); absolute
targets are what chunked policies (ACT, Diffusion Policy) predict; and the IK in the step keeps every
command inside the joint limits. ``joint_pos`` is available for ACT/ALOHA-style joint-space learning.

Success: the cube is at least ``lift_height`` above its resting height, within ``hold_radius`` of the TCP,
for ``hold_steps`` consecutive control steps. Failure: the cube leaves the reachable area (more than
``out_of_reach`` from ``cube_center`` in x/y). The episode is done at success, failure or ``episode_steps``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco

from jaxrobot.config import Config, require
from jaxrobot.sim import panda
from jaxrobot.sim.env import State
from jaxrobot.sim.expert_noise import check_expert_noise, noise_segment
from jaxrobot.sim.geometry import wrap_angle, wrap_quarter
from jaxrobot.sim.ik import rotation_log
from jaxrobot.sim.panda_arm import (  # noqa: F401  (re-exported: the arm's shared names)
    ACTION_SPACES,
    ActionSpace,
    PandaArmConfig,
    PandaTask,
    check_arm_config,
    clip_norm,
    down_rotation,
    rot6d,
    rot6d_to_matrix,
    rotvec_matrix,
)
from jaxrobot.sim.randomize import (
    CAMERA_FIELDS,
    CameraJitter,
    check_scale_ranges,
    jitter_cameras,
    observation_camera_ids,
)
from jaxrobot.vision.camera import quat_to_mat

#: Length of ``obs["state"]`` (layout in the module docstring).
STATE_DIM = 29


@dataclasses.dataclass(frozen=True)
class PandaPickCubeRandomization(Config):
    """Domain randomisation of model fields (per environment, :mod:`jaxrobot.sim.randomize`).

    ``*_scale``: multiplicative ranges (lo, hi) of the cube's friction, mass and size; ``rgba_jitter`` is added
    to the cube's colour; ``camera`` jitters the observation cameras' poses.
    """

    kind: ClassVar[str] = "sim.panda_pick_cube.randomization"
    friction_scale: tuple[float, float] = (0.6, 1.4)
    mass_scale: tuple[float, float] = (0.5, 2.0)
    size_scale: tuple[float, float] = (0.85, 1.15)
    rgba_jitter: float = 0.2
    camera: CameraJitter = CameraJitter(position=0.01, rotation=0.03)

    def check(self) -> None:
        check_scale_ranges(self)
        require(self.size_scale[1] * 0.04 < panda.WIDTH_OPEN - 0.02, "size_scale",
                f"a cube of scale {self.size_scale[1]} leaves < 1 cm per side in the open gripper")
        require(self.rgba_jitter >= 0, "rgba_jitter", f"must be >= 0, got {self.rgba_jitter}")


@dataclasses.dataclass(frozen=True)
class PandaPickCubeConfig(PandaArmConfig):
    """panda_pick_cube task (see the module docstring for observations, actions and success).

    cube_center: nominal cube x, y (Menagerie's cube sits at x 0.5 in its ``mjx_single_cube.xml``).
    cube_xy_range: cube x and y uniform in +-range (metres) around ``cube_center``.
    cube_yaw_range: cube yaw uniform in +-range (radians); the expert aligns with it modulo pi/2.
    joint_jitter: initial arm joints uniform in ``home +- joint_jitter`` (radians).
    lift_height / hold_radius / hold_steps: the success predicate; ``out_of_reach``: the failure predicate.
    timing, action_space, workspace_low / workspace_high, ee_delta_max, ik: the arm's
      (:class:`jaxrobot.sim.panda_arm.PandaArmConfig`).
    expert_noise: std (metres) of the displacement one noise segment adds to the expert's path (spread over
      the segment); its yaw is 5x this (radians). See :meth:`PandaPickCube.expert`.
    expert_noise_fine: std (metres) of the x/y noise over the cube and in the descent, where ``expert_noise`` is
      off (see :meth:`PandaPickCube.expert`); 0 is off.
    expert_noise_prob / expert_noise_hold: :mod:`jaxrobot.sim.expert_noise` (hold 10 steps = 0.2 s, as
      ``pick_cube``'s 4 steps at 20 Hz).
    expert_speed / expert_turn_rate: speed (m/s, rad/s) of the expert's reference trajectory.
    expert_max_lead / expert_max_turn: how far (metres / radians) the reference may lead the measured TCP.
    randomization: ranges for ``jaxrobot.sim.randomize`` (only when randomisation is requested).
    """

    kind: ClassVar[str] = "sim.panda_pick_cube"
    cube_center: tuple[float, float] = (0.5, 0.0)
    cube_xy_range: float = 0.1
    cube_yaw_range: float = math.pi / 4
    joint_jitter: float = 0.05
    lift_height: float = 0.05
    hold_radius: float = 0.03
    hold_steps: int = 10
    out_of_reach: float = 0.35
    expert_noise: float = 0.02
    expert_noise_prob: float = 0.3
    expert_noise_hold: int = 10
    expert_noise_fine: float = 0.0
    expert_speed: float = 0.5
    expert_turn_rate: float = 2.0
    expert_max_lead: float = 0.06
    expert_max_turn: float = 0.25
    randomization: PandaPickCubeRandomization = PandaPickCubeRandomization()

    def check(self) -> None:
        super().check()
        require(0 <= self.cube_xy_range <= 0.2, "cube_xy_range", f"must be in [0, 0.2], got {self.cube_xy_range}")
        require(0 <= self.cube_yaw_range <= math.pi, "cube_yaw_range",
                f"must be in [0, pi], got {self.cube_yaw_range}")
        require(0 <= self.joint_jitter <= 0.3, "joint_jitter", f"must be in [0, 0.3], got {self.joint_jitter}")
        require(self.lift_height > 0, "lift_height", f"must be > 0, got {self.lift_height}")
        require(self.hold_radius > 0, "hold_radius", f"must be > 0, got {self.hold_radius}")
        require(self.hold_steps >= 1, "hold_steps", f"must be >= 1, got {self.hold_steps}")
        require(self.out_of_reach > self.cube_xy_range * math.sqrt(2), "out_of_reach",
                "must exceed the cube's initial distance from cube_center")
        require(self.expert_speed > 0 and self.expert_turn_rate > 0, "expert_speed",
                "expert_speed and expert_turn_rate must be > 0")
        require(0 < self.expert_max_lead <= self.ee_delta_max[0], "expert_max_lead",
                f"must be in (0, ee_delta_max[0]={self.ee_delta_max[0]}] (the expert's ee_delta stays in bounds)")
        require(0 < self.expert_max_turn <= self.ee_delta_max[1], "expert_max_turn",
                f"must be in (0, ee_delta_max[1]={self.ee_delta_max[1]}]")
        check_expert_noise(self)
        require(self.expert_noise_fine >= 0, "expert_noise_fine", f"must be >= 0, got {self.expert_noise_fine}")


# ---------------------------------------------------------------- grasp geometry


def grasp_axis(cube_quat: jax.Array, half: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(yaw of the horizontal direction the fingers should close along, the cube's half size along it,
    whether the two horizontal sizes are equal) for a box at ``cube_quat`` with half sizes ``half`` [3].

    The box axis closest to vertical is left out; of the other two the one with the smaller half size is
    the grasp axis, so a cube lying on its side is grasped across its narrow faces. Works for any box pose
    (``quat_yaw`` of a toppled cube is ill-conditioned and flips from step to step).
    """
    rot = quat_to_mat(cube_quat)
    vertical = jnp.argmax(jnp.abs(rot[2]))
    sizes = jnp.where(jnp.arange(3) == vertical, jnp.inf, half)
    axis = jnp.argmin(sizes)
    other = 3 - vertical - axis
    d = rot[:, axis]
    return jnp.arctan2(d[1], d[0]), half[axis], jnp.abs(half[axis] - half[other]) < 0.002


class PandaPickCube(PandaTask):
    """Pick up the cube with the Panda; see the module docstring."""

    language_instruction = "pick up the cube"
    state_dim = STATE_DIM
    randomized_fields = ("geom_friction", "body_mass", "body_inertia", "geom_size", "geom_rbound",
                         "geom_aabb", "geom_rgba", *CAMERA_FIELDS)

    def __init__(self, config: PandaPickCubeConfig):
        super().__init__(config)
        m = self.mj_model
        self._box_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "box")
        self._box_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "box")
        key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
        self._home_qpos = jnp.asarray(m.key_qpos[key], jnp.float32)

    def _build_mj_model(self) -> mujoco.MjModel:
        spec = mujoco.MjSpec.from_file(str(panda.SCENE_PICK_CUBE_XML))
        panda.add_cameras(spec)
        panda.hide_markers(spec)
        return spec.compile()

    # ------------------------------------------------------------------ dynamics

    def cube_half_size(self, model) -> jax.Array:
        """Half sizes [3] of the cube (randomised models may scale it)."""
        return model.geom_size[self._box_geom]

    def reset_with(self, model, rng: jax.Array) -> State:
        cfg: PandaPickCubeConfig = self.config
        k_xy, k_yaw, k_q = jax.random.split(rng, 3)
        xy = jax.random.uniform(k_xy, (2,), minval=-cfg.cube_xy_range, maxval=cfg.cube_xy_range)
        yaw = jax.random.uniform(k_yaw, (), minval=-cfg.cube_yaw_range, maxval=cfg.cube_yaw_range)
        dq = jax.random.uniform(k_q, (7,), minval=-cfg.joint_jitter, maxval=cfg.joint_jitter)
        half = self.cube_half_size(model)
        cube_pos = jnp.array([cfg.cube_center[0] + xy[0], cfg.cube_center[1] + xy[1], half[2]])
        cube_quat = jnp.array([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])
        q0 = self.kin.clip(jnp.asarray(panda.HOME_Q) + dq)
        qpos = self._home_qpos.at[0:7].set(q0).at[7:9].set(panda.OPEN).at[9:12].set(cube_pos)
        qpos = qpos.at[12:16].set(cube_quat)
        data = self.init_data(model, qpos)
        # Hold the start pose (gravity feed-forward from the forward pass) with the gripper open.
        data = data.replace(ctrl=self.controls(data, q0, jnp.float32(panda.WIDTH_OPEN)))
        info = {"step": jnp.int32(0), "hold": jnp.int32(0), "cube_rest_z": cube_pos[2], "cube_half": half,
                "q_cmd": q0, "ik_pos_err": jnp.float32(0.0)}
        reward, success, failure, metrics, info = self._evaluate(data, info)
        return State(data=data, obs=self._obs(model, data), reward=jnp.float32(0.0), done=jnp.bool_(False),
                     success=jnp.bool_(False), metrics=metrics, info=info)

    def settle(self, model, data, info) -> State:
        reward, success, failure, metrics, info = self._evaluate(data, info)
        done = success | failure | (info["step"] >= self.config.episode_steps)
        return State(data=data, obs=self._obs(model, data), reward=reward, done=done, success=success,
                     metrics=metrics, info=info)

    def _obs(self, model, data) -> dict[str, jax.Array]:
        state = jnp.concatenate([self.arm_state(data), data.xpos[self._box_body], data.xquat[self._box_body]])
        return {"state": state.astype(jnp.float32), **self.camera_observation(model, data)}

    def _evaluate(self, data, info):
        cfg: PandaPickCubeConfig = self.config
        tcp = data.site_xpos[self._tcp_site]
        cube = data.xpos[self._box_body]
        dist = jnp.linalg.norm(cube - tcp)
        height = cube[2] - info["cube_rest_z"]
        held = (height >= cfg.lift_height) & (dist <= cfg.hold_radius)
        hold = jnp.where(held, info["hold"] + 1, 0).astype(jnp.int32)
        success = hold >= cfg.hold_steps
        failure = jnp.linalg.norm(cube[0:2] - jnp.asarray(cfg.cube_center)) > cfg.out_of_reach
        # Dense shaping in [0, 3] as pick_cube: reach, lift while held, bonus on success.
        reach = 1.0 - jnp.tanh(10.0 * dist)
        lift = jnp.clip(height / cfg.lift_height, 0.0, 1.0) * (dist <= cfg.hold_radius)
        reward = (reach + lift + success).astype(jnp.float32)
        metrics = {"tcp_cube_dist": dist.astype(jnp.float32), "cube_height": height.astype(jnp.float32),
                   "ik_pos_err": jnp.asarray(info["ik_pos_err"], jnp.float32)}
        return reward, success, failure, metrics, dict(info, hold=hold)

    def randomize_model(self, model, rng: jax.Array):
        """One environment's model with the cube's friction, mass, size and colour and the camera poses
        resampled."""
        r: PandaPickCubeRandomization = self.config.randomization
        k_f, k_m, k_s, k_c = jax.random.split(rng, 4)
        g, b = self._box_geom, self._box_body

        def scale(key, lo_hi):
            return jax.random.uniform(key, (), minval=lo_hi[0], maxval=lo_hi[1])

        m, s = scale(k_m, r.mass_scale), scale(k_s, r.size_scale)
        rgba = model.geom_rgba.at[g, :3].add(jax.random.uniform(k_c, (3,), minval=-r.rgba_jitter,
                                                                maxval=r.rgba_jitter))
        model = model.tree_replace({
            "geom_friction": model.geom_friction.at[g, 0].multiply(scale(k_f, r.friction_scale)),
            "body_mass": model.body_mass.at[b].multiply(m),
            "body_inertia": model.body_inertia.at[b].multiply(m * s * s),  # a box: mass x size^2
            "geom_size": model.geom_size.at[g].multiply(s),
            "geom_rbound": model.geom_rbound.at[g].multiply(s),
            "geom_aabb": model.geom_aabb.at[g].multiply(s),
            "geom_rgba": jnp.clip(rgba, 0.0, 1.0),
        })
        return jitter_cameras(model, observation_camera_ids(self), r.camera, jax.random.fold_in(rng, 0xCA))

    # ------------------------------------------------------------------ scripted expert

    def expert_plan(self, state: State) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """The expert's next TCP target: (position [3], rotation [3, 3], gripper width, no-noise flag), the
        protocol of the Panda tasks' plans (the recorder's scripted leader reads it too)."""
        return self._expert_plan(state)[:4]

    def _expert_plan(self, state: State) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
        """:meth:`expert_plan` plus the flag of where ``expert_noise_fine`` acts.

        Reactive pick in end-effector space: turn the hand straight down with its fingers across the cube (yaw
        aligned modulo pi/2, the symmetric yaw closest to the current one), move over the cube at hover height
        (rising first when low and away from it), descend, close, lift. Decisions read the measured state (the
        observation), so a slipped or missed grasp is retried. The target itself is a reference trajectory:
        it advances from the previous command's pose (``fk(info["q_cmd"])``) towards the phase's goal at
        ``expert_speed`` / ``expert_turn_rate`` and stays within ``expert_max_lead`` of the measured TCP. Advancing
        the command rather than re-basing on the lagging measurement keeps the path straight (the servos lag
        every joint differently, which re-basing turned into sideways drift of up to 1.5 cm).
        """
        cfg: PandaPickCubeConfig = self.config
        s = state.obs["state"]
        tcp, width, cube, cube_quat = s[14:17], s[21], s[22:25], s[25:29]
        rot = quat_to_mat(s[17:21])
        ref_pos, ref_rot = self.kin.fk_matrix(state.info["q_cmd"])
        hand_yaw = jnp.arctan2(rot[1, 0], rot[0, 0])
        finger_yaw, grasp_half, square = grasp_axis(cube_quat, state.info["cube_half"])
        # Hand yaw puts the fingers (hand y) along the grasp axis; the closest of the symmetric choices.
        yaw_goal = finger_yaw + 0.5 * math.pi
        target_yaw = hand_yaw + jnp.where(square, wrap_quarter(yaw_goal - hand_yaw),
                                          wrap_angle(2.0 * (yaw_goal - hand_yaw)) / 2.0)
        goal_rot = down_rotation(target_yaw)
        tilt = jnp.arccos(jnp.clip(-rot[2, 2], -1.0, 1.0))  # hand z from straight down
        yaw_err = jnp.abs(wrap_angle(target_yaw - hand_yaw))

        xy_err = jnp.linalg.norm(cube[0:2] - tcp[0:2])
        grasp_z = cube[2] + 0.005
        hover_z = cube[2] + 0.10
        # Start the descent when over the cube and aligned; once below the hover height keep descending
        # with looser tolerances (hysteresis read from the height, so the plan does not flip between
        # descending and hovering while the servos settle).
        descending = tcp[2] < hover_z - 0.01
        over = (((xy_err < 0.012) & (tilt < 0.06) & (yaw_err < 0.06))
                | (descending & (xy_err < 0.025) & (tilt < 0.15) & (yaw_err < 0.15)))
        at_height = tcp[2] < grasp_z + 0.008
        near = (xy_err < 0.02) & (jnp.abs(tcp[2] - cube[2]) < 0.025)
        grasp_width = 2.0 * grasp_half
        # Fingers closed on nothing: open and retry.
        missed = width < 0.5 * grasp_width
        holding = near & ~missed & (width < grasp_width + 0.004)
        closing = near & (xy_err < 0.01) & (tilt < 0.1) & (yaw_err < 0.1) & at_height & ~missed
        # Away from the cube and low: rise before moving sideways so the fingers do not sweep it.
        rise_first = ~over & ~holding & ~closing & (tcp[2] < hover_z - 0.03)
        # Lifting or rising: straight up from the reference.
        xy_goal = jnp.where(rise_first | holding, ref_pos[0:2], cube[0:2])
        z_goal = jnp.where(holding, state.info["cube_rest_z"] + cfg.lift_height + 0.05,
                           jnp.where((over | closing) & ~missed, grasp_z, hover_z))
        goal = jnp.concatenate([xy_goal, z_goal[None]])
        pos = ref_pos + clip_norm(goal - ref_pos, cfg.expert_speed * cfg.ctrl_dt)
        pos = tcp + clip_norm(pos - tcp, cfg.expert_max_lead)
        r = rotation_log(goal_rot @ ref_rot.T)
        target_rot = rotvec_matrix(clip_norm(r, cfg.expert_turn_rate * cfg.ctrl_dt)) @ ref_rot
        lead = rotation_log(target_rot @ rot.T)
        target_rot = rotvec_matrix(clip_norm(lead, cfg.expert_max_turn)) @ rot
        # Close by squeezing 3 cm below the measured width: a moderate, repeatable impact and ~5 N per pad.
        grip = jnp.where(holding | closing, jnp.maximum(width - 0.03, 0.0), panda.WIDTH_OPEN)
        # Noise only where it cannot knock the cube: fingertips (1.2 cm below the TCP) above its top.
        quiet = holding | closing | over | (tcp[2] < cube[2] + 0.06)
        # Fine noise (expert_noise_fine): over the cube or descending, fingertips still >= 5 mm above its top.
        fine = quiet & ~holding & ~closing & (tcp[2] > cube[2] + state.info["cube_half"][2] + 0.017)
        return pos, target_rot, grip, quiet, fine

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(label, executed)`` actions of the scripted expert (:meth:`expert_plan`) in the configured space.

        ``executed`` is the plan with DART-style noise (Laskey et al. 2017) on the TCP target. The expert's
        reference advances from the previous *executed* command, so noise accumulates: each active segment of
        ``expert_noise_hold`` steps adds ``1 / hold`` of one draw per step, displacing the path by a total of
        std ``expert_noise`` (metres) and turning the hand about world z by 5x that (radians); the expert then
        steers back from wherever that left it. ``rng`` is the per-episode key. The noise is off when the
        fingertips are within ~5 cm of the cube's top, over it, or grasping. There ``expert_noise_fine`` (metres,
        x and y only; 0 by default) offsets the target for a segment over the cube and in the descent, until the
        fingertips are 5 mm above the cube's top (the open fingers clear a 4 cm cube by 2 cm a side): the expert
        re-centres every step, so a held offset, not an accumulated drift, is what displaces the hand, and the
        demonstrations show how to re-centre from what the wrist camera sees. ``joint_pos`` actions are the IK
        solutions of the (noisy) targets, so they lie inside the joint limits.
        """
        cfg: PandaPickCubeConfig = self.config
        pos, rot, width, quiet, fine = self._expert_plan(state)
        on, n = noise_segment(cfg, state.info["step"], rng, (4,))
        _, n_fine = noise_segment(cfg, state.info["step"], rng, (2,), scale=cfg.expert_noise_fine)  # same segments
        n = jnp.where(on & ~quiet, n, 0.0) / cfg.expert_noise_hold
        n = n.at[0:2].add(jnp.where(on & fine, n_fine, 0.0))  # an offset held for the segment, not accumulated
        noisy_rot = rotvec_matrix(jnp.array([0.0, 0.0, 5.0 * n[3]])) @ rot
        label = self.action_for(state, pos, rot, width)
        executed = self.action_for(state, pos + n[0:3], noisy_rot, width)
        return self.clip_action(label), self.clip_action(executed)
