"""``peg_servo``: insert a held peg into a randomly placed hole, guided by an eye-in-hand camera.

The visual-servoing variant of ``peg_insertion`` (same gripper, peg, hole, physics, action, observation
``state`` and success predicate; :mod:`jaxrobot.sim.tasks.peg_insertion`). Scene
``jaxrobot/sim/assets/peg_servo/peg_servo.xml`` adds an eye-in-hand camera ``eye`` on the gripper base
(offset :data:`EYE_OFFSET` in the base frame, looking straight down, fovy 70°) and four coloured 14 mm markers
on the hole body beside the hole (:data:`MARKER_OFFSETS`), and makes the peg and walls achromatic so colour
segmentation (:func:`jaxrobot.sim.tasks.servo_target.marker_features`) finds only the markers.

Reset: the hole is placed uniformly in ``±hole_xy_range`` around (0.55, 0.1) (as ``peg_insertion``); the peg
starts *held* (centred between closed fingers, tcp ``GRASP_BELOW_TOP`` below its top, faces aligned with the
fingers); the gripper starts at the goal pose displaced by ``±start_xy`` (x, y), ``[0, start_z]`` (up) and
``±start_yaw``. The goal pose puts the tcp over the hole centre, yaw 0, peg bottom ``goal_clearance`` above
the wall tops: a pre-insertion pose from which a straight descent inserts.

Observation: ``state`` as ``peg_insertion`` (controllers may use only the proprioceptive part ``[0:5]``:
tcp position, yaw, finger opening; ``[5:15]`` is ground truth for references and metrics) plus
``image_eye`` / ``depth_eye`` (``image_size``, 64 by default, :mod:`jaxrobot.sim.render`). ``info`` carries
the taught goal view ``goal_image`` / ``goal_depth`` (:meth:`PegServo.goal_view`: rendered with the hole at its
nominal position and the gripper at the goal pose over it, so it never depends on the true hole; the table is
uniform and the hole never rotates, so the view at any hole position is the same image) and, for metrics and
labels only, ``hole`` and ``goal_tcp``.

Metrics: ``pixel_error``: mean distance (px at ``image_size``) between the marker centres projected from
the current and from the goal camera pose (geometric truth, independent of feature extraction), plus
``peg_insertion``'s ``peg_hole_dist`` and ``peg_bottom``.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from jaxrobot.config import require
from jaxrobot.sim import render
from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.env import State
from jaxrobot.sim.gantry import GRIPPER_CTRL_OFFSET, PAD_INNER, TABLE_TOP, TCP_BELOW_BASE
from jaxrobot.sim.geometry import quat_yaw, wrap_quarter, yaw_matrix, yaw_quat
from jaxrobot.sim.tasks.peg_insertion import (
    GRASP_BELOW_TOP,
    WALL_HEIGHT,
    PegInsertion,
    PegInsertionConfig,
    PegInsertionRandomization,  # noqa: F401  (resolves the inherited field's type hint in this module)
)
from jaxrobot.vision.camera import make_pose, project_points

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "peg_servo" / "peg_servo.xml"

#: Marker centres (top faces) in the hole frame (red, green, blue, yellow), from the asset.
MARKER_OFFSETS = np.array([[0.085, 0.025, 0.001], [0.035, 0.025, 0.001], [0.035, -0.025, 0.001],
                           [0.085, -0.025, 0.001]], np.float32)
#: Eye camera position in the gripper base frame (the base rotates with the yaw joint), from the asset.
EYE_OFFSET = np.array([0.06, 0.0, -0.06], np.float32)
# qpos layout (peg_insertion): peg free joint [0:7], gripper x, y, z, yaw [7:11], fingers [11:13].
_GRIP = slice(7, 11)


@dataclasses.dataclass(frozen=True)
class PegServoConfig(PegInsertionConfig):
    """peg_servo task (``peg_insertion``'s fields, plus):

    start_xy / start_z / start_yaw: start displacement of the gripper from the goal pose (m, m up, rad).
    goal_clearance: peg bottom above the wall tops at the goal (pre-insertion) pose (m).
    settle_steps: control steps simulated at reset, holding the start pose, so the grasp is at rest.
    """

    kind: ClassVar[str] = "sim.peg_servo"
    episode_steps: int = 80
    image_size: int = 64
    cameras: tuple[str, ...] = ("eye",)
    start_xy: float = 0.02
    start_z: float = 0.02
    start_yaw: float = math.radians(10.0)
    goal_clearance: float = 0.015
    settle_steps: int = 2

    def check(self) -> None:
        super().check()
        check_servo_fields(self)
        require(self.settle_steps >= 0, "settle_steps", f"must be >= 0, got {self.settle_steps}")


def check_servo_fields(cfg) -> None:
    """The eye camera and start-displacement fields every peg-servo task config has (gantry and arm)."""
    require(cfg.image_size >= 32, "image_size", f"must be >= 32 (features need pixels), got {cfg.image_size}")
    require("eye" in cfg.cameras, "cameras", f"must include 'eye', got {cfg.cameras}")
    require(0 <= cfg.start_xy <= 0.03, "start_xy", f"must be in [0, 0.03] (markers stay in view), got "
            f"{cfg.start_xy}")
    require(0 <= cfg.start_z <= 0.04, "start_z", f"must be in [0, 0.04], got {cfg.start_z}")
    require(0 <= cfg.start_yaw <= math.radians(20), "start_yaw",
            f"must be in [0, 20°] (markers stay in view), got {cfg.start_yaw}")
    require(0.005 <= cfg.goal_clearance <= 0.05, "goal_clearance",
            f"must be in [0.005, 0.05], got {cfg.goal_clearance}")


def marker_world(hole: jax.Array) -> jax.Array:
    """World positions [4, 3] of the marker centres for a hole body at ``hole`` [3] (world-aligned)."""
    return hole[None, :] + jnp.asarray(MARKER_OFFSETS)


def eye_pose(tcp: jax.Array, yaw: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(position [3], world-from-OpenCV-camera rotation [3, 3]) of the eye for a tcp position and yaw.

    OpenCV camera axes in the base frame: x = base x, y = -base y, z = -base z (looking down).
    """
    rz = yaw_matrix(yaw)
    base = tcp + jnp.array([0.0, 0.0, TCP_BELOW_BASE])
    return base + rz @ jnp.asarray(EYE_OFFSET), rz @ jnp.diag(jnp.array([1.0, -1.0, -1.0]))


class PegServo(PegInsertion):
    """Servo a held peg over the hole with the eye-in-hand camera, then insert; see the module docstring."""

    language_instruction = "insert the held peg into the hole"
    depth_observation = True
    randomized_fields = ()
    #: Eye position relative to the tcp in the yaw frame (x, y: the lever arm of a yaw rotation).
    eye_offset = EYE_OFFSET
    #: Control steps a visual controller keeps for the descent (its servo budget is the rest).
    descent_steps = 20

    def __init__(self, config: PegServoConfig):
        super().__init__(config)
        self._k = self.camera_intrinsics("eye")
        self._eye = render.camera_id(self.mj_model, "eye")

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(ASSET))

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 intrinsics of the eye camera at ``image_size`` (pixel-edge origin, :mod:`render`)."""
        return self._k

    def goal_tcp(self, model, hole_xy: jax.Array) -> jax.Array:
        """Pre-insertion tcp position [3] over a hole at ``hole_xy``: peg bottom ``goal_clearance`` above the
        wall tops."""
        half = self.peg_half(model)
        bottom = TABLE_TOP + WALL_HEIGHT + self.config.goal_clearance
        return jnp.concatenate([hole_xy, (bottom + 2 * half[2] - GRASP_BELOW_TOP)[None]])

    def held_qpos(self, model, tcp: jax.Array, yaw: jax.Array) -> jax.Array:
        """qpos with the gripper at (tcp, yaw) and the peg centred between fingers closed on it."""
        half = self.peg_half(model)
        joints = jnp.concatenate([tcp - jnp.asarray(GRIPPER_CTRL_OFFSET[:3]), yaw[None]])
        peg = tcp - jnp.array([0.0, 0.0, half[2] - GRASP_BELOW_TOP])
        quat = yaw_quat(yaw)
        opening = half[0] - PAD_INNER
        return jnp.concatenate([peg, quat, joints, jnp.stack([opening, opening])]).astype(jnp.float32)

    def place(self, model, data, qpos: jax.Array):
        """Data at ``qpos`` with kinematics and camera poses recomputed (no dynamics; for rendering)."""
        return mjx.camlight(model, mjx.kinematics(model, data.replace(qpos=qpos)))

    def render_eye(self, model, data) -> tuple[jax.Array, jax.Array]:
        """(rgb uint8 [S, S, 3], depth float32 [S, S]) seen by the eye camera."""
        s = self.config.image_size
        depth, rgb = render.render_rgbd(model, data, self._eye, self._k, s, s)
        return rgb, depth

    def goal_view(self, model) -> tuple[jax.Array, jax.Array]:
        """The taught goal view (rgb, depth): the eye image with the held peg at the pre-insertion pose, yaw 0,
        over the hole at its *nominal* position. It is the goal view for every hole position (the hole only
        translates, markers and walls move with it, the table under the camera is uniform and the shading
        depends only on depth), and it reads nothing of the episode's true hole."""
        hole = jnp.asarray(self._hole0)
        data = self._data0.replace(mocap_pos=hole)
        qpos = self.held_qpos(model, self.goal_tcp(model, hole[0, 0:2]), jnp.float32(0.0))
        return self.render_eye(model, self.place(model, data, qpos))

    def sample_start(self, model, rng: jax.Array, scale: jax.Array | float = 1.0
                     ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """(hole [3], goal tcp [3], start tcp [3], start yaw) drawn as in the module docstring; ``scale``
        (<= 1) shrinks the start displacement (denser training pairs near the goal)."""
        c: PegServoConfig = self.config
        k_hole, k_xy, k_z, k_yaw = jax.random.split(rng, 4)
        hole_xy = jax.random.uniform(k_hole, (2,), minval=-c.hole_xy_range, maxval=c.hole_xy_range)
        hole = jnp.asarray(self._hole0[0]).at[0:2].add(hole_xy)
        goal = self.goal_tcp(model, hole[0:2])
        dxy = jax.random.uniform(k_xy, (2,), minval=-c.start_xy, maxval=c.start_xy)
        dz = jax.random.uniform(k_z, (), minval=0.0, maxval=c.start_z)
        yaw = jax.random.uniform(k_yaw, (), minval=-c.start_yaw, maxval=c.start_yaw)
        start = goal + scale * jnp.concatenate([dxy, dz[None]])
        return hole, goal, start, scale * yaw

    def reset_with(self, model, rng: jax.Array) -> State:
        hole, goal, start, yaw = self.sample_start(model, rng)
        mocap = jnp.asarray(self._hole0).at[0].set(hole)
        d0 = self._data0.replace(mocap_pos=mocap)
        goal_rgb, goal_depth = self.goal_view(model)
        qpos = self.held_qpos(model, start, yaw)
        ctrl = jnp.concatenate([qpos[_GRIP], jnp.zeros(1)])  # hold the pose, squeeze the fingers shut
        data = d0.replace(qpos=qpos, qvel=jnp.zeros(self.mj_model.nv, jnp.float32), ctrl=ctrl)
        data = mjx.forward(model, data)
        if self.config.settle_steps:
            data = jax.lax.fori_loop(0, self.config.settle_steps, lambda _, d: self.physics(model, d, ctrl), data)
        info = {"step": jnp.int32(0), "peg_half": self.peg_half(model), "hole": hole, "goal_tcp": goal,
                "goal_image": goal_rgb, "goal_depth": goal_depth}
        _, _, _, metrics = self._evaluate(model, data)
        return self._make_state(model, data, info, jnp.float32(0.0), jnp.bool_(False), jnp.bool_(False), metrics)

    def pixel_error(self, data, info) -> jax.Array:
        """Mean distance (px) between the marker centres seen from the current and from the goal eye pose."""
        pts = marker_world(info["hole"])
        cur = project_points(*eye_pose(data.site_xpos[self._tcp_site], data.qpos[10]), pts, self._k)
        goal = project_points(*eye_pose(info["goal_tcp"], jnp.float32(0.0)), pts, self._k)
        return jnp.mean(jnp.linalg.norm(cur - goal, axis=-1))

    def _make_state(self, model, data, info, reward, success, done, metrics) -> State:
        metrics = dict(metrics, pixel_error=self.pixel_error(data, info).astype(jnp.float32))
        return super()._make_state(model, data, info, reward, success, done, metrics)

    def servo_pair_view(self, rng: jax.Array, scale: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """For :func:`peg_servo_pairs`: (eye rgb at a start drawn as ``reset`` with the displacement scaled by
        ``scale``, the eye's pose there, the eye's pose at the goal) as 4x4 world-from-camera matrices."""
        model = self.mjx_model
        hole, goal, start, yaw = self.sample_start(model, rng, scale)
        d0 = self._data0.replace(mocap_pos=jnp.asarray(self._hole0).at[0].set(hole))
        rgb, _ = self.render_eye(model, self.place(model, d0, self.held_qpos(model, start, yaw)))
        cur, tgt = eye_pose(start, yaw), eye_pose(goal, jnp.float32(0.0))
        return rgb, make_pose(cur[1], cur[0]), make_pose(tgt[1], tgt[0])

    def servo_action(self, target: jax.Array) -> jax.Array:
        """The action for a servo target (x, y, z, yaw), the fingers squeezed shut on the peg."""
        return self.clip_action(jnp.concatenate([target, jnp.zeros(1)]))

    def randomize_model(self, model, rng: jax.Array):
        raise NotImplementedError("peg_servo has no domain randomisation (colour jitter would break the "
                                  "marker segmentation)")

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Ground-truth reference, not a visual controller: move the peg over the true hole, yaw 0, then
        descend (the :class:`PegInsertion` expert's carry-and-insert phase)."""
        label = oracle_action(self, state.obs["state"], state.info["goal_tcp"])
        return label, label


def oracle_action(env: PegServo, s: jax.Array, goal_tcp: jax.Array) -> jax.Array:
    """Ground-truth pre-insertion servo then descent, from the true state (a reference for the visual
    controllers): xy and yaw errors of the *peg* to the hole, descend once within 1 mm and 0.02 rad."""
    c: PegServoConfig = env.config
    tcp, yaw, peg, quat, hole = s[0:3], s[3], s[5:8], s[8:12], s[12:14]
    err = hole - peg[0:2]
    peg_yaw = wrap_quarter(quat_yaw(quat))
    aligned = (jnp.linalg.norm(err) < 0.001) & (jnp.abs(peg_yaw) < 0.02)
    below = tcp[2] < goal_tcp[2] - 0.003
    descend = aligned | below
    step = c.expert_speed * c.ctrl_dt
    xy = tcp[0:2] + jnp.clip(err, -step, step)
    z = jnp.where(descend, tcp[2] - c.expert_insert_speed * c.ctrl_dt,
                  tcp[2] + jnp.clip(goal_tcp[2] - tcp[2], -step, step))
    return env.clip_action(jnp.concatenate([xy, z[None], (yaw - peg_yaw)[None], jnp.zeros(1)]))


def peg_servo_pairs(env, rng: jax.Array, n: int, lam: float = 1.0) -> dict[str, jax.Array]:
    """``n`` rendered (current, goal) eye images with twist labels, in
    :class:`~jaxrobot.models.servo.ServoModel`'s batch layout (as :func:`~jaxrobot.sim.tasks.servo_target.servo_pairs`),
    for ``peg_servo`` or the arm's ``panda_peg_servo`` (any env with ``servo_pair_view`` and ``goal_view``).

    Hole and start drawn like ``env.reset`` (every other pair with the start displacement shrunk by a uniform
    factor in [0, 1], so the net is accurate near the goal where the loop ends); the peg (or the arm, by IK) is
    placed kinematically (no physics); the goal image is the taught view ``env.goal_view``. Label: the
    pose-based twist ``λ · log(T_cur⁻¹ T_goal)`` of the eye camera (:func:`~jaxrobot.vision.ibvs.pbvs_velocity`;
    ωx = ωy = 0 since the gripper cannot roll or pitch).
    ``jit`` with ``env`` and ``n`` static.
    """
    from jaxrobot.vision.ibvs import pbvs_velocity

    def one(key, shrink):
        k_pose, k_scale = jax.random.split(key)
        scale = jnp.where(shrink, jax.random.uniform(k_scale, ()), 1.0)
        rgb, cur, goal = env.servo_pair_view(k_pose, scale)
        return rgb, pbvs_velocity(cur, goal, lam=lam)

    rgb, twist = jax.vmap(one)(jax.random.split(rng, n), jnp.arange(n) % 2 == 1)
    goal = jnp.broadcast_to(env.goal_view(env.mjx_model)[0], rgb.shape)
    return {"observation/image": rgb, "observation/goal_image": goal, "servo/twist": twist}
