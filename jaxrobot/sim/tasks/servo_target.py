"""``servo_target``: drive an eye-in-hand camera to a goal view of a four-marker planar target.

Scene: ``jaxrobot/sim/assets/servo_target/servo_target.xml``: a camera (``eye``, fovy 70°) on a free-joint
body whose frame is the OpenCV camera frame (x right, y down, z along the optical axis), above a grey plate
with four 25 mm square markers (red, green, blue, yellow at (±5, ±5) cm; tops at z = 0.011 m). The goal view
looks straight down from ``goal_height`` above the marker tops. The camera moves *kinematically*: servoing
is about the control law, so each control step integrates the commanded twist
(``T ← T · exp(ξ · ctrl_dt)``, :func:`jaxrobot.vision.ibvs.integrate_camera`) and sets the free joint's
``qpos``; it is never simulated: no contacts, no dynamics, only kinematics and camera poses.

Observation:

- ``state`` (float32[7]): camera position (world, m) and orientation quaternion (w, x, y, z) of the OpenCV
  camera frame;
- ``image_eye`` (uint8 [S, S, 3]) and ``depth_eye`` (float32 [S, S], z-depth in m), S = ``image_size``
  (64 by default), rendered with ``mjx.ray`` (:mod:`jaxrobot.sim.render`).

``info`` also carries the goal: ``goal_image`` / ``goal_depth`` (rendered once at reset from the goal pose)
and ``goal_pos`` / ``goal_quat`` (for labels and metrics; controllers should not need them).

Action (float32[6]): camera twist (vx, vy, vz, ωx, ωy, ωz) in the camera frame (what IBVS outputs), m/s and
rad/s, clipped to ``±max_linear`` / ``±max_angular``, held for ``ctrl_dt``.

Reset: the goal pose is the nominal view perturbed by ``goal_translation`` / ``goal_rotation`` (0 by
default: one fixed goal); the start is the goal perturbed in the goal camera's frame by a translation
uniform in ``±start_translation`` per axis and a rotation vector uniform in ``±start_rotation`` per axis.

Metrics: ``pixel_error``, the mean distance (px at ``image_size``) between the four marker centres
projected from the current and from the goal pose (geometric truth, independent of feature extraction).
Success: ``pixel_error < success_px``. Done at ``episode_steps`` only (servoing keeps regulating).

Also here: :func:`marker_features` (colour-segmentation feature extractor: marker centroids and depths from
an RGB-D image) and :func:`servo_pairs` (rendered (current, goal) pairs with twist labels for deep servoing).
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
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.geometry import perturb, pose_matrix, quat_mul, rotvec_to_quat
from jaxrobot.vision.camera import project_points, quat_to_mat
from jaxrobot.vision.ibvs import pbvs_velocity, se3_exp

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "servo_target" / "servo_target.xml"

#: World positions of the marker centres' top faces (red, green, blue, yellow), from the asset.
MARKERS = np.array([[0.05, 0.05, 0.011], [-0.05, 0.05, 0.011], [-0.05, -0.05, 0.011], [0.05, -0.05, 0.011]],
                   np.float32)
#: Pure colours of the markers, same order.
MARKER_RGB = ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0))
MARKER_TOP = 0.011
#: Orientation (w, x, y, z) of a camera looking straight down: OpenCV frame = 180° about world x.
DOWN_QUAT = (0.0, 1.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class ServoTargetConfig(EnvConfig):
    """servo_target task.

    goal_height: height of the nominal goal camera above the marker tops (m).
    goal_translation / goal_rotation: goal pose perturbation (per axis, m / rad) around the nominal view.
    start_translation / start_rotation: start perturbation around the goal (per axis, m / rad, goal frame).
    max_linear / max_angular: action bounds (m/s, rad/s per component).
    success_px: success when the mean marker error is below this many pixels (at ``image_size``).
    """

    kind: ClassVar[str] = "sim.servo_target"
    ctrl_dt: float = 0.1
    sim_dt: float = 0.1
    episode_steps: int = 60
    image_size: int = 64
    cameras: tuple[str, ...] = ("eye",)
    goal_height: float = 0.25
    goal_translation: float = 0.0
    goal_rotation: float = 0.0
    start_translation: float = 0.03
    start_rotation: float = math.radians(10.0)
    max_linear: float = 0.2
    max_angular: float = 1.0
    success_px: float = 2.0

    def check(self) -> None:
        super().check()
        require(self.image_size >= 16, "image_size", f"must be >= 16, got {self.image_size}")
        require(self.cameras == ("eye",), "cameras", f"must be ('eye',), got {self.cameras}")
        require(0.1 <= self.goal_height <= 0.5, "goal_height",
                f"must be in [0.1, 0.5], got {self.goal_height}")
        for name in ("goal_translation", "start_translation"):
            v = getattr(self, name)
            require(0 <= v <= 0.06, name, f"must be in [0, 0.06] (markers stay in view), got {v}")
        for name in ("goal_rotation", "start_rotation"):
            v = getattr(self, name)
            require(0 <= v <= math.radians(20), name, f"must be in [0, 20°] (markers stay in view), got {v}")
        require(self.max_linear > 0 and self.max_angular > 0, "max_linear", "bounds must be > 0")
        require(self.success_px > 0, "success_px", f"must be > 0, got {self.success_px}")


# ---------------------------------------------------------------- features


def marker_masks(rgb: jax.Array) -> jax.Array:
    """[4, H, W] boolean masks of the red, green, blue and yellow markers in a uint8 image [H, W, 3].

    Chroma thresholds (the plate and floor are grey, so their channels are equal; the headlight shading
    only scales colours): a channel must exceed the others by 60 levels (yellow: red and green both exceed
    blue by 60 and agree within 60).
    """
    c = rgb.astype(jnp.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    red = (r - jnp.maximum(g, b)) > 60
    green = (g - jnp.maximum(r, b)) > 60
    blue = (b - jnp.maximum(r, g)) > 60
    yellow = ((jnp.minimum(r, g) - b) > 60) & (jnp.abs(r - g) < 60)
    return jnp.stack([red, green, blue, yellow])


def marker_features(rgb: jax.Array, depth: jax.Array, k: np.ndarray
                    ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Marker features of one RGB-D image: (normalised points [4, 2], depths [4], pixel counts [4]).

    A marker's point is the centroid of its colour mask (pixel centres at index + 0.5, as
    :mod:`jaxrobot.sim.render`), normalised with intrinsics ``k`` to OpenCV (x right, y down); its depth is
    the mean z-depth over the mask. A marker with no pixels gets (0, 0) and depth 0: check ``counts``.
    """
    h, w = depth.shape
    masks = marker_masks(rgb).astype(jnp.float32)
    counts = masks.sum((1, 2))
    safe = jnp.maximum(counts, 1.0)
    v, u = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) + 0.5, jnp.arange(w, dtype=jnp.float32) + 0.5,
                        indexing="ij")
    uc = (masks * u).sum((1, 2)) / safe
    vc = (masks * v).sum((1, 2)) / safe
    z = (masks * depth).sum((1, 2)) / safe
    x = (uc - k[0, 2]) / k[0, 0]
    y = (vc - k[1, 2]) / k[1, 1]
    return jnp.stack([x, y], -1), z, counts


def project_markers(pos: jax.Array, quat: jax.Array, k: np.ndarray) -> jax.Array:
    """Pixel coordinates [4, 2] of the marker centres from the eye at ``pos`` / ``quat``."""
    return project_points(pos, quat_to_mat(quat), jnp.asarray(MARKERS), k)


# ---------------------------------------------------------------- environment


class ServoTarget(Env):
    """Servo the eye-in-hand camera to the goal view; see the module docstring."""

    language_instruction = "move the camera to the goal view of the target"
    state_dim = 7
    depth_observation = True

    def __init__(self, config: ServoTargetConfig):
        super().__init__(config)
        self._k = self.camera_intrinsics("eye")

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(ASSET))

    @property
    def action_high(self) -> np.ndarray:
        c: ServoTargetConfig = self.config
        return np.array([c.max_linear] * 3 + [c.max_angular] * 3, np.float32)

    @property
    def action_low(self) -> np.ndarray:
        return -self.action_high

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 intrinsics of the eye camera at ``image_size`` (pixel-edge origin, :mod:`render`)."""
        return self._k

    def nominal_goal(self) -> tuple[jax.Array, jax.Array]:
        """(position, quaternion) of the nominal goal view."""
        c: ServoTargetConfig = self.config
        return jnp.array([0.0, 0.0, MARKER_TOP + c.goal_height]), jnp.asarray(DOWN_QUAT, jnp.float32)

    def sample_poses(self, rng: jax.Array, scale: jax.Array | float = 1.0
                     ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """(start pos, start quat, goal pos, goal quat) drawn as in the module docstring; ``scale`` (<= 1)
        shrinks the start ranges (denser samples near the goal for training pairs)."""
        c: ServoTargetConfig = self.config
        kgt, kgr, kst, ksr = jax.random.split(rng, 4)
        u = lambda key, r: jax.random.uniform(key, (3,), minval=-r, maxval=r)  # noqa: E731
        gpos, gquat = perturb(*self.nominal_goal(), u(kgt, c.goal_translation), u(kgr, c.goal_rotation))
        spos, squat = perturb(gpos, gquat, u(kst, c.start_translation) * scale,
                              u(ksr, c.start_rotation) * scale)
        return spos, squat, gpos, gquat

    def place(self, model, data, pos: jax.Array, quat: jax.Array):
        """Data with the camera at (pos, quat) and kinematics / camera poses recomputed."""
        data = data.replace(qpos=jnp.concatenate([pos, quat]).astype(jnp.float32))
        return mjx.camlight(model, mjx.kinematics(model, data))

    def render_eye(self, model, data) -> tuple[jax.Array, jax.Array]:
        """(rgb uint8 [S, S, 3], depth float32 [S, S]) seen by the eye camera."""
        s = self.config.image_size
        depth, rgb = render.render_rgbd(model, data, render.camera_id(self.mj_model, "eye"), self._k, s, s)
        return rgb, depth

    def reset_with(self, model, rng: jax.Array) -> State:
        spos, squat, gpos, gquat = self.sample_poses(rng)
        goal_data = self.place(model, self._data0, gpos, gquat)
        goal_rgb, goal_depth = self.render_eye(model, goal_data)
        data = self.place(model, self._data0, spos, squat)
        info = {"step": jnp.int32(0), "pos": spos, "quat": squat, "goal_pos": gpos, "goal_quat": gquat,
                "goal_image": goal_rgb, "goal_depth": goal_depth}
        return self._state(model, data, info)

    def step_with(self, model, state: State, action: jax.Array) -> State:
        twist = self.clip_action(action) * self.config.ctrl_dt
        inc = se3_exp(twist)  # camera motion in its own frame: T ← T · exp(ξ dt)
        pos = state.info["pos"] + quat_to_mat(state.info["quat"]) @ inc[:3, 3]
        quat = quat_mul(state.info["quat"], rotvec_to_quat(twist[3:]))
        quat = quat / jnp.linalg.norm(quat)
        data = self.place(model, state.data, pos, quat)
        info = dict(state.info, step=state.info["step"] + 1, pos=pos, quat=quat)
        return self._state(model, data, info)

    def pixel_error(self, info) -> jax.Array:
        """Mean distance (px) between the marker centres projected from the current and the goal pose."""
        cur = project_markers(info["pos"], info["quat"], self._k)
        goal = project_markers(info["goal_pos"], info["goal_quat"], self._k)
        return jnp.mean(jnp.linalg.norm(cur - goal, axis=-1))

    def _state(self, model, data, info) -> State:
        err = self.pixel_error(info)
        success = err < self.config.success_px
        obs = {"state": jnp.concatenate([info["pos"], info["quat"]]).astype(jnp.float32),
               **self.render_observation(model, data)}
        done = info["step"] >= self.config.episode_steps
        return State(data=data, obs=obs, reward=-err, done=done, success=success,
                     metrics={"pixel_error": err}, info=info)

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Pose-based servoing on the true relative pose (λ = 1/s): the deep-servo label."""
        twist = pbvs_velocity(pose_matrix(state.info["pos"], state.info["quat"]),
                              pose_matrix(state.info["goal_pos"], state.info["goal_quat"]), lam=1.0)
        twist = self.clip_action(twist)
        return twist, twist


# ---------------------------------------------------------------- deep-servo training pairs


def servo_pairs(env: ServoTarget, rng: jax.Array, n: int, lam: float = 1.0) -> dict[str, jax.Array]:
    """``n`` rendered (current, goal) pairs with twist labels, in :class:`~jaxrobot.models.servo.ServoModel`'s
    batch layout.

    Poses are drawn like ``env.reset``, every other pair with the start ranges shrunk by a uniform factor
    in [0, 1] (the network must be accurate near the goal, where the loop ends up); a config with
    ``goal_translation`` / ``goal_rotation`` > 0 varies the goal view too. The label is the pose-based
    twist ``λ · log(T_cur⁻¹ T_goal)`` (:func:`~jaxrobot.vision.ibvs.pbvs_velocity`), which exists whatever
    the features and is what the network regresses. ``jit`` it with ``env`` and ``n`` static (e.g.
    ``functools.partial``).
    """
    model = env.mjx_model

    def one(key, near):
        kpose, kscale = jax.random.split(key)
        scale = jnp.where(near, jax.random.uniform(kscale), 1.0)
        spos, squat, gpos, gquat = env.sample_poses(kpose, scale)
        goal_rgb, _ = env.render_eye(model, env.place(model, env._data0, gpos, gquat))
        rgb, _ = env.render_eye(model, env.place(model, env._data0, spos, squat))
        twist = pbvs_velocity(pose_matrix(spos, squat), pose_matrix(gpos, gquat), lam=lam)
        return rgb, goal_rgb, twist

    rgb, goal, twist = jax.vmap(one)(jax.random.split(rng, n), jnp.arange(n) % 2 == 1)
    return {"observation/image": rgb, "observation/goal_image": goal, "servo/twist": twist}
