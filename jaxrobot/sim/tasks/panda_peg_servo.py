"""``panda_peg_servo``: the Franka Panda aligns the peg it holds over the hole from an eye-in-hand camera, then
inserts it: ``peg_servo`` (the gantry's visual-servoing task) on a real kinematic chain.

Scene: ``panda_peg_insertion``'s (the Panda, the peg attached to the hand with 0.8 mm radial clearance, the
hole fixture, the same physics and success predicate) with, added by ``mujoco.MjSpec``:

- an eye-in-hand camera ``eye`` on the hand (:data:`EYE_POS_IN_HAND`, 7 cm to the side of the TCP along the
  hand's x axis and 6 cm above it, looking along the hand's z axis, i.e. straight down when the hand points
  down; field of view ``eye_fovy``), so the optical axis is parallel to the hand's yaw axis, as the gantry's ``eye``;
- four coloured 14 mm markers on the floor beside the fixture, fixed to the hole body (:data:`MARKER_OFFSETS`),
  and the peg and fixture made achromatic, so colour segmentation finds only the markers.

Reset: the hole as ``panda_peg_insertion`` (x, y uniform in ``hole_center +- hole_xy_range``, yaw uniform in
``+-hole_yaw_range``). The *goal* (pre-insertion) pose puts the TCP over the hole's axis, the hand pointing down
at yaw ``hole yaw +`` :data:`GOAL_YAW_OFFSET` (the ``start`` keyframe's hand yaw, so the markers lie under the
camera) and the peg's bottom ``goal_clearance`` above the opening. The arm starts at rest at the goal displaced
by ``+-start_xy`` (x, y in the goal's yaw frame), ``[0, start_z]`` (up) and ``+-start_yaw``, its joints solved by
IK from the ``start`` keyframe.

Observation: ``panda_peg_insertion``'s ``state`` (ground truth for references and metrics), ``proprio``
(float32[5]: TCP position, hand yaw, gripper width: all a visual controller may read of the robot), and
``image_eye`` / ``depth_eye`` / ``intrinsics_eye`` / ``extrinsics_eye``. ``info`` carries the taught goal view
``goal_image`` / ``goal_depth``: the eye image with the arm at the goal pose over the hole at its *nominal* pose
(``hole_center``, yaw 0); the markers and walls move with the hole and the floor is uniform, so it is the goal
view for every hole pose and reads nothing of the episode's true hole. ``info["hole"]``, ``goal_tcp`` and
``goal_yaw`` are for metrics and references only.

Actions: ``ee_pose`` only (a servo controller commands TCP targets: :meth:`PandaPegServo.servo_action` turns
(x, y, z, yaw) into one); episodes of ``episode_steps`` = 300 control steps (6 s: the 35 mm descent at the
expert's 15 mm/s insertion speed alone takes 2.3 s).

Metrics: ``pixel_error`` (mean distance in px at ``image_size`` between the markers projected from the current
and from the goal eye pose: geometric truth, independent of the feature extraction), ``peg_bottom`` (height of
the peg's lowest corner, metres) and ``panda_peg_insertion``'s.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.config import require
from jaxrobot.sim import render
from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.env import State
from jaxrobot.sim.geometry import matrix_to_quat, quat_yaw, yaw_matrix, yaw_quat
from jaxrobot.sim.ik import IKConfig
from jaxrobot.sim.panda_arm import down_rotation, rot6d
from jaxrobot.sim.tasks.panda_peg_insertion import (
    HOLD_WIDTH,
    PEG_HALF,
    PEG_POS_IN_HAND,
    PandaPegInsertion,
    PandaPegInsertionConfig,
    PandaPegInsertionRandomization,  # noqa: F401  (resolves the inherited field's type hint in this module)
)
from jaxrobot.sim.tasks.peg_servo import check_servo_fields
from jaxrobot.vision.camera import make_pose, project_points

#: Eye camera position in the hand frame (the TCP is at (0, 0, 0.1), the fingers point along +z).
EYE_POS_IN_HAND = (0.07, 0.0, 0.04)
#: Eye position relative to the TCP in the hand's yaw frame (x along the hand's x, z up): what
#: :func:`jaxrobot.skills.servoing.policies.camera_to_base` needs for the lever arm of a yaw rotation.
EYE_OFFSET = np.array([EYE_POS_IN_HAND[0], -EYE_POS_IN_HAND[1], 0.1 - EYE_POS_IN_HAND[2]], np.float32)
#: Goal hand yaw minus the hole's yaw: the ``start`` keyframe's hand x points along world +y.
GOAL_YAW_OFFSET = math.pi / 2
#: Marker centres in the goal's yaw frame (x along the hand's x at the goal), on the floor: red, green, blue,
#: yellow (the order of :func:`jaxrobot.sim.tasks.servo_target.marker_masks`). Under the eye at the goal pose.
MARKERS_IN_GOAL_FRAME = np.array([[0.095, 0.025, 0.0005], [0.045, 0.025, 0.0005], [0.045, -0.025, 0.0005],
                                  [0.095, -0.025, 0.0005]], np.float32)
#: The same in the hole's frame (the goal frame turned by :data:`GOAL_YAW_OFFSET`).
MARKER_OFFSETS = (np.asarray(yaw_matrix(GOAL_YAW_OFFSET)) @ MARKERS_IN_GOAL_FRAME.T).T.astype(np.float32)
_MARKER_RGBA = ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0), (1.0, 1.0, 0.0, 1.0))
#: Peg bottom below the TCP along the hand's z (metres).
PEG_BOTTOM_BELOW_TCP = PEG_POS_IN_HAND[2] + PEG_HALF[2] - 0.1
#: Reset IK: from the ``start`` keyframe to a pose a few centimetres away, many iterations (once per episode).
RESET_IK = IKConfig(iterations=40)
_OPENCV = np.diag([1.0, -1.0, -1.0]).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class PandaPegServoConfig(PandaPegInsertionConfig):
    """panda_peg_servo task (``panda_peg_insertion``'s fields, plus):

    start_xy / start_z / start_yaw: start displacement of the TCP from the goal pose (m, m up, rad).
    goal_clearance: peg bottom above the opening at the goal (pre-insertion) pose (m).
    eye_fovy: the eye camera's vertical field of view (degrees): narrower gives more pixels per millimetre at
      the markers, as long as they stay in view from every start.
    """

    kind: ClassVar[str] = "sim.panda_peg_servo"
    episode_steps: int = 300
    image_size: int = 64
    cameras: tuple[str, ...] = ("eye",)
    start_xy: float = 0.02
    start_z: float = 0.02
    start_yaw: float = math.radians(10.0)
    goal_clearance: float = 0.015
    eye_fovy: float = 70.0

    def check(self) -> None:
        super().check()
        require(30.0 <= self.eye_fovy <= 90.0, "eye_fovy", f"must be in [30, 90] degrees, got {self.eye_fovy}")
        require(self.action_space == "ee_pose", "action_space",
                f"must be 'ee_pose' (servo controllers command TCP targets), got {self.action_space!r}")
        check_servo_fields(self)


def eye_pose(tcp: jax.Array, yaw: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(position [3], world-from-OpenCV-camera rotation [3, 3]) of the eye for a TCP position and hand yaw with
    the hand pointing straight down (OpenCV axes: x = the yaw frame's x, y = -y, z = down)."""
    rz = yaw_matrix(yaw)
    return tcp + rz @ jnp.asarray(EYE_OFFSET), rz @ jnp.asarray(_OPENCV)


class PandaPegServo(PandaPegInsertion):
    """Servo the held peg over the hole with the Panda's eye-in-hand camera, then insert; see the module
    docstring."""

    language_instruction = "insert the held peg into the hole"
    depth_observation = True
    randomized_fields = ()
    #: The eye sees geom group 0 only (floor, fixture, peg, markers): not the arm's links, which never enter its
    #: view, and which would double the cost of every ray. (A ``scene`` / ``wrist`` camera added to this task
    #: would not see the arm either.)
    render_geomgroup = (1, 0, 0, 0, 0, 0)
    eye_offset = EYE_OFFSET
    #: Control steps a visual controller keeps for the descent (its servo budget is the rest).
    descent_steps = 150

    def __init__(self, config: PandaPegServoConfig):
        super().__init__(config)
        self._eye = render.camera_id(self.mj_model, "eye")
        self._k = render.intrinsics(self.mj_model, "eye", config.image_size, config.image_size)
        self._hole_top_local = np.asarray(self.mj_model.site_pos[self._hole_top], np.float32)

    def _build_spec(self) -> mujoco.MjSpec:
        spec = super()._build_spec()
        spec.body("hand").add_camera(name="eye", pos=list(EYE_POS_IN_HAND), fovy=self.config.eye_fovy,
                                     quat=[0.0, 1.0, 0.0, 0.0])  # 180° about x: looks along the hand's +z
        hole = spec.body("hole")
        for i, (pos, rgba) in enumerate(zip(MARKER_OFFSETS, _MARKER_RGBA, strict=True)):
            hole.add_geom(name=f"marker_{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.007, 0.007, 0.0005],
                          pos=[float(x) for x in pos], rgba=list(rgba), contype=0, conaffinity=0, mass=0)
        for name in ("peg", "hole_base", "wall_px", "wall_nx", "wall_py", "wall_ny"):
            spec.geom(name).rgba = [0.55, 0.55, 0.55, 1.0]
            spec.geom(name).material = ""
        return spec

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 intrinsics of the eye camera at ``image_size`` (pixel-edge origin, :mod:`jaxrobot.sim.render`)."""
        return self._k

    # ------------------------------------------------------------------ geometry

    def goal_pose(self, hole: jax.Array, hole_yaw: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(TCP position [3], hand yaw) of the pre-insertion pose over a hole body at ``hole`` [3] turned by
        ``hole_yaw``: TCP on the hole's axis, peg bottom ``goal_clearance`` above the opening."""
        top = hole[2] + self._hole_top_local[2]
        z = top + self.config.goal_clearance + PEG_BOTTOM_BELOW_TCP
        return jnp.stack([hole[0], hole[1], z]), hole_yaw + GOAL_YAW_OFFSET

    def arm_at(self, pos: jax.Array, yaw: jax.Array):
        """IK (:data:`RESET_IK`, from the ``start`` keyframe) for the TCP at ``pos`` pointing down at ``yaw``."""
        return self.kin.solve(self._start_qpos[0:7], pos, matrix_to_quat(down_rotation(yaw)),
                              q_posture=jnp.asarray(self.ik_posture, jnp.float32), config=RESET_IK)

    def render_eye(self, model, data) -> tuple[jax.Array, jax.Array]:
        """(rgb uint8 [S, S, 3], depth float32 [S, S]) seen by the eye camera."""
        s = self.config.image_size
        depth, rgb = render.render_rgbd(model, data, self._eye, self._k, s, s, geomgroup=self.render_geomgroup)
        return rgb, depth

    def goal_view(self, model) -> tuple[jax.Array, jax.Array]:
        """The taught goal view (rgb, depth): the arm at the goal pose over the hole at its nominal pose."""
        c: PandaPegServoConfig = self.config
        hole = jnp.array([c.hole_center[0], c.hole_center[1], 0.0], jnp.float32)
        pos, yaw = self.goal_pose(hole, jnp.float32(0.0))
        q = self.arm_at(pos, yaw).q
        data = self._data0.replace(qpos=self._start_qpos.at[0:7].set(q), mocap_pos=hole[None],
                                   mocap_quat=yaw_quat(jnp.float32(0.0))[None])
        return self.render_eye(model, mjx.camlight(model, mjx.kinematics(model, data)))

    def sample_start(self, rng: jax.Array, scale: jax.Array | float = 1.0):
        """(hole [3], hole yaw, goal TCP [3], goal yaw, start TCP [3], start yaw) drawn as in the module
        docstring; ``scale`` (<= 1) shrinks the start displacement."""
        c: PandaPegServoConfig = self.config
        k_hole, k_hyaw, k_xy, k_z, k_yaw = jax.random.split(rng, 5)
        xy = jax.random.uniform(k_hole, (2,), minval=-c.hole_xy_range, maxval=c.hole_xy_range)
        hole_yaw = jax.random.uniform(k_hyaw, (), minval=-c.hole_yaw_range, maxval=c.hole_yaw_range)
        hole = jnp.array([c.hole_center[0] + xy[0], c.hole_center[1] + xy[1], 0.0])
        goal, goal_yaw = self.goal_pose(hole, hole_yaw)
        dxy = jax.random.uniform(k_xy, (2,), minval=-c.start_xy, maxval=c.start_xy)
        dz = jax.random.uniform(k_z, (), minval=0.0, maxval=c.start_z)
        dyaw = jax.random.uniform(k_yaw, (), minval=-c.start_yaw, maxval=c.start_yaw)
        start = goal + scale * (yaw_matrix(goal_yaw) @ jnp.concatenate([dxy, jnp.zeros(1)])
                                + jnp.array([0.0, 0.0, 1.0]) * dz)
        return hole, hole_yaw, goal, goal_yaw, start, goal_yaw + scale * dyaw

    # ------------------------------------------------------------------ dynamics

    def reset_with(self, model, rng: jax.Array) -> State:
        hole, hole_yaw, goal, goal_yaw, start, start_yaw = self.sample_start(rng)
        ik = self.arm_at(start, start_yaw)
        goal_rgb, goal_depth = self.goal_view(model)
        return self.start_state(model, ik.q, hole, hole_yaw, {
            "ik_pos_err": ik.pos_err, "hole": hole, "goal_tcp": goal, "goal_yaw": goal_yaw, "goal_image": goal_rgb,
            "goal_depth": goal_depth})

    def _obs(self, model, data) -> dict[str, jax.Array]:
        obs = super()._obs(model, data)
        s = obs["state"]
        rot = data.site_xmat[self._tcp_site].reshape(3, 3)
        yaw = jnp.arctan2(rot[1, 0], rot[0, 0])
        obs["proprio"] = jnp.concatenate([s[14:17], yaw[None], s[21:22]]).astype(jnp.float32)
        return obs

    def observation_spec(self) -> dict[str, tuple[tuple[int, ...], str]]:
        return {**super().observation_spec(), "proprio": ((5,), "float32")}

    def _evaluate(self, model, data, info):
        reward, success, metrics = super()._evaluate(model, data, info)
        metrics = dict(metrics, pixel_error=self.pixel_error(data, info).astype(jnp.float32),
                       peg_bottom=self.peg_bottom_z(model, data).astype(jnp.float32))
        return reward, success, metrics

    def pixel_error(self, data, info) -> jax.Array:
        """Mean distance (px) between the markers seen from the current and from the goal eye pose."""
        hole_rot = yaw_matrix(quat_yaw(data.mocap_quat[0]))
        pts = data.mocap_pos[0][None, :] + (hole_rot @ jnp.asarray(MARKER_OFFSETS).T).T
        cur = project_points(data.cam_xpos[self._eye], data.cam_xmat[self._eye].reshape(3, 3) @ _OPENCV, pts,
                             self._k)
        goal = project_points(*eye_pose(info["goal_tcp"], info["goal_yaw"]), pts, self._k)
        return jnp.mean(jnp.linalg.norm(cur - goal, axis=-1))

    def servo_pair_view(self, rng: jax.Array, scale: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """For :func:`~jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`: (eye rgb with the arm placed by IK at a start
        drawn as ``reset`` with the displacement scaled by ``scale``, the eye's pose there, the eye's pose at the
        goal) as 4x4 world-from-camera matrices."""
        model = self.mjx_model
        hole, hole_yaw, goal, goal_yaw, start, start_yaw = self.sample_start(rng, scale)
        q = self.arm_at(start, start_yaw).q
        data = self._data0.replace(qpos=self._start_qpos.at[0:7].set(q), mocap_pos=hole[None],
                                   mocap_quat=yaw_quat(hole_yaw)[None])
        rgb, _ = self.render_eye(model, mjx.camlight(model, mjx.kinematics(model, data)))
        cur, tgt = eye_pose(start, start_yaw), eye_pose(goal, goal_yaw)
        return rgb, make_pose(cur[1], cur[0]), make_pose(tgt[1], tgt[0])

    def servo_action(self, target: jax.Array) -> jax.Array:
        """The ``ee_pose`` action for a servo target (x, y, z, hand yaw): the hand pointing straight down, the
        gripper closed on the peg."""
        pos, yaw = target[0:3], target[3]
        return self.clip_action(jnp.concatenate([pos, rot6d(down_rotation(yaw)), jnp.full((1,), HOLD_WIDTH)]))

    def randomize_model(self, model, rng: jax.Array):
        raise NotImplementedError("panda_peg_servo has no domain randomisation (colour jitter would break the "
                                  "marker segmentation)")


