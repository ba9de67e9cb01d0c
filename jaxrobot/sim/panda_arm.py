"""What every Franka Panda task shares: action spaces, the joint controller, the arm's observation.

:class:`PandaTask` is the base of the arm tasks (``panda_pick_cube``, ``panda_peg_insertion``); a task adds
its scene, objects, success predicate and expert. Robot constants live in :mod:`jaxrobot.sim.panda`.

Action spaces (``config.action_space``; bounds :attr:`PandaTask.action_low` / ``action_high``, all finite):

- ``ee_pose`` (float32[10]): absolute TCP target ``[x, y, z, r6(6), width]``: position (world, metres),
  orientation as the first two columns of the TCP rotation matrix (the 6-D representation of Zhou et al.
  2019, "On the Continuity of Rotation Representations in Neural Networks": continuous, every entry in
  [-1, 1]; turned back into a rotation by Gram-Schmidt) and the gripper width target. Solved to joint
  targets by damped-least-squares IK (:mod:`jaxrobot.sim.ik`) inside the step.
- ``ee_delta`` (float32[7]): relative motion ``[dx, dy, dz, rx, ry, rz, width]`` of the TCP target from the
  previous command's pose (forward kinematics of the last joint command): translation (world, metres) and
  rotation vector (world frame, radians, ``R = exp(r) R_prev``), bounded by ``ee_delta_max``; the width is
  absolute.
- ``joint_pos`` (float32[8]): absolute joint targets ``[q1 .. q7, width]``, bounds the joint ranges.

Every action space ends in joint targets inside the joint ranges. The step adds a gravity feed-forward
``gravity / kp`` to the joint targets (the Panda's own controller compensates gravity; the model stays
Menagerie's), so a joint target is where the joint settles.

The arm part of ``obs["state"]`` (:meth:`PandaTask.arm_state`, float32[22], world frame)::

    [0:7]    arm joint positions q (joint1 .. joint7)
    [7:14]   arm joint velocities
    [14:17]  TCP position (site ``gripper``, between the finger tips)
    [17:21]  TCP orientation quaternion (w, x, y, z): the ``hand`` body's ``xquat``
    [21]     gripper width (distance between the finger pads; 0 closed, 0.08 open)

Cameras (:meth:`PandaTask.camera_observation`, with ``image_size > 0``): ``image_<c>``, ``intrinsics_<c>``
(float32 [3, 3], constant) and ``extrinsics_<c>`` (float32 [4, 4], world from camera, MuJoCo's camera frame).

Task configs provide (duck-typed, as :class:`jaxrobot.sim.tasks.panda_pick_cube.PandaPickCubeConfig` does):
``action_space``, ``workspace_low`` / ``workspace_high``, ``ee_delta_max`` and ``ik``
(:func:`check_arm_config` validates them).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.config import require
from jaxrobot.sim import panda
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.geometry import matrix_to_quat, rotvec_to_quat
from jaxrobot.sim.ik import ArmKinematics, IKConfig, rotation_log
from jaxrobot.vision.camera import make_pose, quat_to_mat

ActionSpace = Literal["joint_pos", "ee_pose", "ee_delta"]
ACTION_SPACES = ("joint_pos", "ee_pose", "ee_delta")
#: Length of the arm part of ``obs["state"]`` (layout in the module docstring).
ARM_STATE_DIM = 22


def check_arm_config(cfg) -> None:
    """Validate the arm fields every Panda task config has (names the field on failure)."""
    require(cfg.action_space in ACTION_SPACES, "action_space",
            f"must be one of {ACTION_SPACES}, got {cfg.action_space!r}")
    require(all(lo < hi for lo, hi in zip(cfg.workspace_low, cfg.workspace_high, strict=True)),
            "workspace_high", "must exceed workspace_low in x, y and z")
    require(cfg.ee_delta_max[0] > 0 and cfg.ee_delta_max[1] > 0, "ee_delta_max", "must be > 0")


@dataclasses.dataclass(frozen=True)
class PandaArmConfig(EnvConfig):
    """The fields every Panda task config has; tasks subclass it (and set their own ``kind``).

    Timing: ``ctrl_dt`` 0.02 s (50 Hz) with 4 physics substeps of the scene's 0.005 s, 150 control steps: at most
    600 physics steps per episode, as MuJoCo Playground's ``PandaPickCube``.
    action_space: ``ee_pose`` (default), ``ee_delta`` or ``joint_pos`` (layouts in :class:`PandaTask`).
    workspace_low / workspace_high: bounds of the ``ee_pose`` position (metres, world).
    ee_delta_max: bounds of the ``ee_delta`` translation (metres per step) and rotation (radians per step).
    ik: the IK solving ``ee_*`` actions in the step and the expert's ``joint_pos`` labels (warm-started from the
      previous joint command, so few iterations suffice for one control step's motion).
    """

    ctrl_dt: float = 0.02
    sim_dt: float = 0.005
    episode_steps: int = 150
    cameras: tuple[str, ...] = panda.CAMERAS
    action_space: ActionSpace = "ee_pose"
    workspace_low: tuple[float, float, float] = (0.15, -0.45, 0.0)
    workspace_high: tuple[float, float, float] = (0.85, 0.45, 0.7)
    ee_delta_max: tuple[float, float] = (0.08, 0.3)
    ik: IKConfig = IKConfig(iterations=10)

    def check(self) -> None:
        super().check()
        check_arm_config(self)


# ---------------------------------------------------------------- rotations


def rot6d(rot: jax.Array) -> jax.Array:
    """6-D representation [6] of a rotation matrix: its first two columns, concatenated."""
    return jnp.concatenate([rot[:, 0], rot[:, 1]])


def rot6d_to_matrix(r6: jax.Array) -> jax.Array:
    """Rotation matrix [3, 3] from a 6-D representation (Gram-Schmidt on the two columns)."""
    a, b = r6[0:3], r6[3:6]
    x = a / jnp.maximum(jnp.linalg.norm(a), 1e-9)
    b = b - jnp.dot(x, b) * x
    y = b / jnp.maximum(jnp.linalg.norm(b), 1e-9)
    return jnp.stack([x, y, jnp.cross(x, y)], axis=1)


def down_rotation(yaw: jax.Array) -> jax.Array:
    """TCP rotation [3, 3] pointing straight down (hand z = world -z) with the hand's x axis at ``yaw``."""
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    zero = jnp.zeros_like(c)
    x = jnp.stack([c, s, zero])
    y = jnp.stack([s, -c, zero])
    z = jnp.array([0.0, 0.0, -1.0])
    return jnp.stack([x, y, z], axis=1)


def rotvec_matrix(r: jax.Array) -> jax.Array:
    """Rotation matrix [3, 3] of a rotation vector [3] (radians)."""
    return quat_to_mat(rotvec_to_quat(r))


def clip_norm(v: jax.Array, max_norm: float) -> jax.Array:
    """``v`` scaled down to length ``max_norm`` if longer."""
    return v * jnp.minimum(1.0, max_norm / jnp.maximum(jnp.linalg.norm(v), 1e-9))


# ---------------------------------------------------------------- the arm task base


class PandaTask(Env):
    """Base of the Panda tasks: action bounds and spaces, IK, gravity feed-forward controls, arm observation.

    Subclasses build the scene (:meth:`_build_mj_model`; it must contain ``panda_primitive.xml``'s arm with
    a ``hand`` body and the TCP site) and call ``super().__init__(config)`` first.
    """

    render_geomgroup = panda.RENDER_GEOMGROUP
    #: Arm configuration the IK's null-space term pulls towards (the redundant degree of freedom).
    ik_posture: ClassVar[tuple[float, ...]] = tuple(float(x) for x in panda.HOME_Q)

    def __init__(self, config):
        super().__init__(config)
        m = self.mj_model
        self._hand_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "hand")
        self._tcp_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, panda.TCP_SITE)
        #: Kinematics of the arm in this very model (same chain as ``panda.ARM_XML``).
        self.kin = ArmKinematics(m, site=panda.TCP_SITE, joints=panda.JOINTS, home=panda.HOME_Q)
        # Position servo gains of the 7 arm actuators (force = kp (ctrl - q) - kv qdot).
        self._kp = jnp.asarray(m.actuator_gainprm[:7, 0], jnp.float32)
        # Gravity of the subtree below each arm joint (free objects are other trees: a held one is not
        # counted; bodies fixed to the hand are).
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in panda.JOINTS]
        self._jnt_body = np.asarray(m.jnt_bodyid[jids])
        self._jnt_ids = np.asarray(jids)
        self._subtree_weight = jnp.asarray(m.body_subtreemass[self._jnt_body, None] * m.opt.gravity[None, :],
                                           jnp.float32)
        self._cam_ids = {name: cid for name, cid, _ in self._cams}
        self._cam_k = {name: jnp.asarray(k) for name, _, k in self._cams}
        cfg = self.config
        jl, jh = np.asarray(self.kin.lower), np.asarray(self.kin.upper)
        w = panda.WIDTH_OPEN
        if cfg.action_space == "joint_pos":
            low, high = np.append(jl, 0.0), np.append(jh, w)
        elif cfg.action_space == "ee_pose":
            low = np.concatenate([cfg.workspace_low, -np.ones(6), [0.0]])
            high = np.concatenate([cfg.workspace_high, np.ones(6), [w]])
        else:
            dp, dr = cfg.ee_delta_max
            low = np.array([-dp] * 3 + [-dr] * 3 + [0.0])
            high = np.array([dp] * 3 + [dr] * 3 + [w])
        self._act_low = low.astype(np.float32)
        self._act_high = high.astype(np.float32)

    # ------------------------------------------------------------------ spaces

    @property
    def action_low(self) -> np.ndarray:
        return self._act_low

    @property
    def action_high(self) -> np.ndarray:
        return self._act_high

    def observation_spec(self) -> dict[str, tuple[tuple[int, ...], str]]:
        spec = {"state": ((self.state_dim,), "float32"), **self.image_spec()}
        for name in self._cam_ids:
            spec[f"intrinsics_{name}"] = ((3, 3), "float32")
            spec[f"extrinsics_{name}"] = ((4, 4), "float32")
        return spec

    # ------------------------------------------------------------------ control

    def tcp_pose(self, data) -> tuple[jax.Array, jax.Array]:
        """Measured TCP position [3] and rotation matrix [3, 3] (MuJoCo's site pose)."""
        return data.site_xpos[self._tcp_site], data.site_xmat[self._tcp_site].reshape(3, 3)

    def solve_ik(self, q0: jax.Array, pos: jax.Array, rot: jax.Array):
        """:class:`jaxrobot.sim.ik.IKResult` for a TCP target (position [3], rotation [3, 3]), from ``q0``."""
        return self.kin.solve(q0, pos, matrix_to_quat(rot), q_posture=jnp.asarray(self.ik_posture, jnp.float32),
                              config=self.config.ik)

    def target_pose(self, q_cmd: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        """TCP target (position [3], rotation [3, 3]) of an ``ee_pose`` / ``ee_delta`` action (clipped);
        ``ee_delta`` moves from the pose of the previous joint command ``q_cmd``."""
        if self.config.action_space == "ee_pose":
            return action[0:3], rot6d_to_matrix(action[3:9])
        pos, rot = self.kin.fk_matrix(q_cmd)
        return pos + action[0:3], rotvec_matrix(action[3:6]) @ rot

    def joint_targets(self, data, q_cmd: jax.Array, action: jax.Array
                      ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(joint targets [7] inside the limits, gripper width, IK position error) of a clipped action.

        End-effector actions are solved by IK warm-started from ``q_cmd``, the previous joint command (not the
        measured joints: the lightly damped wrist servos ring for a few substeps after a step, and restarting
        from the measured joints fed that ringing back into the targets). Successive steps continue the same
        iteration, so a held ``ee_pose`` target converges well below the per-step iteration count's accuracy.
        """
        if self.config.action_space == "joint_pos":
            return self.kin.clip(action[0:7]), action[7], jnp.float32(0.0)
        pos, rot = self.target_pose(q_cmd, action)
        res = self.solve_ik(q_cmd, pos, rot)
        return res.q, action[-1], res.pos_err

    def gravity_torque(self, data) -> jax.Array:
        """Joint torques [7] that hold the arm against gravity at its current configuration (the gravity part
        of ``qfrc_bias``: for each joint, its axis . (subtree COM - anchor) x subtree weight)."""
        arm = self._jnt_ids
        lever = data.subtree_com[self._jnt_body] - data.xanchor[arm]
        return -jnp.sum(data.xaxis[arm] * jnp.cross(lever, self._subtree_weight), axis=-1)

    def controls(self, data, q_target: jax.Array, width: jax.Array) -> jax.Array:
        """Actuator controls [8]: joint targets plus the gravity feed-forward ``gravity / kp``, and one
        finger's slide (``width / 2``)."""
        ff = self.gravity_torque(data) / self._kp
        return jnp.concatenate([q_target + ff, (0.5 * width)[None]]).astype(jnp.float32)

    def command(self, state: State, action: jax.Array) -> tuple[jax.Array, dict[str, Any]]:
        """The control law of one step, before any physics: (actuator controls [nu], the next ``info``).

        ``step_with`` is ``command``, ``n_substeps`` physics steps, then :meth:`settle`; the real-time
        recorder (:mod:`jaxrobot.record.follower`) runs the same two halves around MuJoCo's C stepping.
        """
        action = self.clip_action(action)
        q_target, width, ik_err = self.joint_targets(state.data, state.info["q_cmd"], action)
        info = dict(state.info, step=state.info["step"] + 1, q_cmd=q_target, ik_pos_err=ik_err)
        return self.controls(state.data, q_target, width), info

    def settle(self, model, data, info: dict[str, Any]) -> State:
        """The State after a step's physics: reward, success, done, observation from ``data``."""
        raise NotImplementedError

    def step_with(self, model, state: State, action: jax.Array) -> State:
        ctrl, info = self.command(state, action)
        return self.settle(model, self.physics(model, state.data, ctrl), info)

    def action_for(self, state: State, pos: jax.Array, rot: jax.Array, width: jax.Array) -> jax.Array:
        """The action (in ``config.action_space``) that commands TCP target (pos, rot) and gripper ``width``."""
        space = self.config.action_space
        if space == "ee_pose":
            return jnp.concatenate([pos, rot6d(rot), width[None]])
        if space == "ee_delta":
            ref_pos, ref_rot = self.kin.fk_matrix(state.info["q_cmd"])
            return jnp.concatenate([pos - ref_pos, rotation_log(rot @ ref_rot.T), width[None]])
        res = self.solve_ik(state.info["q_cmd"], pos, rot)
        return jnp.concatenate([res.q, width[None]])

    # ------------------------------------------------------------------ observation

    def arm_state(self, data) -> jax.Array:
        """The arm part of ``obs["state"]`` (float32[22], layout in the module docstring)."""
        return jnp.concatenate([
            data.qpos[0:7], data.qvel[0:7], data.site_xpos[self._tcp_site], data.xquat[self._hand_body],
            (data.qpos[7] + data.qpos[8])[None],
        ]).astype(jnp.float32)

    def camera_observation(self, model, data) -> dict[str, jax.Array]:
        """Rendered images plus each observation camera's intrinsics and extrinsics (empty without images)."""
        obs = self.render_observation(model, data)
        for name, cid in self._cam_ids.items():
            obs[f"intrinsics_{name}"] = self._cam_k[name]
            obs[f"extrinsics_{name}"] = make_pose(data.cam_xmat[cid].reshape(3, 3),
                                                  data.cam_xpos[cid]).astype(jnp.float32)
        return obs
