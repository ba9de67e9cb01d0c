"""``peg_insertion``: pick a square peg off the table and insert it into a hole with 2 mm clearance per side.

Scene: ``jaxrobot/sim/assets/peg_insertion/peg_insertion.xml``: the Cartesian parallel gripper of the
gripper_cube scene (slide x/y/z + yaw hinge, coupled fingers, position actuators; table top at z = 0.40 m),
a 22 x 22 x 80 mm peg, and a 26 mm square hole walled by four 30 mm boxes on a mocap body (placed per
environment). Peg pose and hole position are randomised at reset.

Observation ``state`` (float32[15], world frame, metres/radians)::

    [0:3]   tcp position          [3] gripper yaw       [4] finger opening (0 closed, 0.04 open)
    [5:8]   peg centre position   [8:12] peg orientation quaternion (w, x, y, z)
    [12:14] hole centre x, y      [14] peg bottom height above the table top

Action (float32[5]): absolute targets ``[tcp_x, tcp_y, tcp_z, yaw, finger_opening]`` as in ``pick_cube``.

Domain randomisation (``randomize_model``, :class:`PegInsertionRandomization`): peg friction, mass and size
(the expert and the success predicate read the peg's size from the model), peg / wall / table colours, and
the observation cameras' poses.

Success: the peg's lowest point is at most ``success_height`` above the table (so at least 30 - 12 = 18 mm
deep in the 30 mm hole at the default) with its centre inside the hole's opening. Failure: the peg leaves
the table. Done at success, failure or ``episode_steps``.
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

from jaxrobot.config import Config, require
from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.expert_noise import check_expert_noise, noise_segment
from jaxrobot.sim.gantry import GRIPPER_CTRL_OFFSET, OPEN, PAD_INNER, TABLE_TOP
from jaxrobot.sim.geometry import quat_yaw, wrap_quarter, yaw_quat
from jaxrobot.sim.randomize import (
    CAMERA_FIELDS,
    CameraJitter,
    check_scale_ranges,
    jitter_cameras,
    observation_camera_ids,
)

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "peg_insertion" / "peg_insertion.xml"

PEG_HALF = (0.011, 0.011, 0.04)  # from the asset
HOLE_HALF = 0.013  # inner half width of the hole (2 mm clearance per side)
WALL_HEIGHT = 0.03
GRASP_BELOW_TOP = 0.02  # tcp this far below the peg's top face when grasping (pads stay above the walls)


@dataclasses.dataclass(frozen=True)
class PegInsertionRandomization(Config):
    """Domain randomisation of model fields (per environment, :mod:`jaxrobot.sim.randomize`), as pick_cube's.

    friction_scale / mass_scale: multiplicative ranges for the peg's sliding friction and mass.
    size_scale: multiplicative range for all three peg half-sizes (inertia follows mass * size^2); the
      upper end must leave >= 0.5 mm clearance per side in the 26 mm hole, the lower end a peg the fingers
      still grip.
    rgba_jitter: added to the peg, wall and table colours (clipped to [0, 1]).
    camera: pose jitter of the observation cameras.
    """

    kind: ClassVar[str] = "sim.peg_insertion.randomization"
    friction_scale: tuple[float, float] = (0.6, 1.4)
    mass_scale: tuple[float, float] = (0.5, 2.0)
    size_scale: tuple[float, float] = (0.92, 1.05)
    rgba_jitter: float = 0.2
    camera: CameraJitter = CameraJitter(position=0.01, rotation=0.03)

    def check(self) -> None:
        check_scale_ranges(self)
        lo, hi = self.size_scale
        require(hi * PEG_HALF[0] <= HOLE_HALF - 0.0005, "size_scale",
                f"a peg of scale {hi} leaves < 0.5 mm clearance in the hole")
        require(lo * PEG_HALF[0] - PAD_INNER >= 0.0015, "size_scale",
                f"a peg of scale {lo} is too thin for the fingers to grip")
        require(self.rgba_jitter >= 0, "rgba_jitter", f"must be >= 0, got {self.rgba_jitter}")


@dataclasses.dataclass(frozen=True)
class PegInsertionConfig(EnvConfig):
    """peg_insertion task.

    peg_xy_range / peg_yaw_range: peg start uniform around (0.45, -0.1) in +-range (metres / radians).
    hole_xy_range: hole centre uniform around (0.55, 0.1) in +-range.
    success_height: success when the peg's bottom is at most this high above the table (inside the hole).
    expert_speed / expert_insert_speed: expert tcp speed limits in free space and while inserting (m/s).
    expert_noise / expert_noise_prob / expert_noise_hold: DART-style piecewise-constant target noise (as
        pick_cube's), injected while reaching for the peg and while carrying it far from the hole.
    randomization: ranges used by ``jaxrobot.sim.randomize`` (only when randomisation is requested).
    """

    kind: ClassVar[str] = "sim.peg_insertion"
    episode_steps: int = 200
    cameras: tuple[str, ...] = ("front",)
    peg_xy_range: float = 0.05
    peg_yaw_range: float = math.pi / 4
    hole_xy_range: float = 0.05
    gripper_xy_range: float = 0.02
    success_height: float = 0.012
    expert_speed: float = 0.3
    expert_insert_speed: float = 0.06
    expert_noise: float = 0.008
    expert_noise_prob: float = 0.3
    expert_noise_hold: int = 4
    randomization: PegInsertionRandomization = PegInsertionRandomization()

    def check(self) -> None:
        super().check()
        require(0 <= self.peg_xy_range <= 0.08, "peg_xy_range", f"must be in [0, 0.08], got {self.peg_xy_range}")
        require(0 <= self.peg_yaw_range <= math.pi, "peg_yaw_range", "must be in [0, pi]")
        require(0 <= self.hole_xy_range <= 0.08, "hole_xy_range", f"must be in [0, 0.08], got {self.hole_xy_range}")
        require(0 < self.success_height < WALL_HEIGHT, "success_height",
                f"must be in (0, {WALL_HEIGHT}) (inside the hole), got {self.success_height}")
        require(self.expert_speed > 0 and self.expert_insert_speed > 0, "expert_speed", "must be > 0")
        check_expert_noise(self)


class PegInsertion(Env):
    """Insert the peg into the hole; see the module docstring for observation, action and success."""

    language_instruction = "insert the peg into the hole"
    state_dim = 15
    ctrl_offset = GRIPPER_CTRL_OFFSET
    randomized_fields = ("geom_friction", "body_mass", "body_inertia", "geom_size", "geom_rbound", "geom_aabb",
                         "geom_rgba", *CAMERA_FIELDS)

    def __init__(self, config: PegInsertionConfig):
        super().__init__(config)
        m = self.mj_model
        self._peg_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "peg")
        self._peg_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "peg")
        self._coloured_geoms = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in
                                         ("peg", "wall_px", "wall_nx", "wall_py", "wall_ny", "table")])
        self._tcp_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "tcp")
        key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
        self._home_qpos = jnp.asarray(m.key_qpos[key], jnp.float32)
        self._home_ctrl = jnp.asarray(m.key_ctrl[key], jnp.float32)
        self._hole0 = np.asarray(m.key_mpos[key], np.float32).reshape(-1, 3)

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(ASSET))

    # ------------------------------------------------------------------ dynamics

    def reset_with(self, model, rng: jax.Array) -> State:
        cfg: PegInsertionConfig = self.config
        k_peg, k_yaw, k_hole, k_grip = jax.random.split(rng, 4)
        peg_xy = jax.random.uniform(k_peg, (2,), minval=-cfg.peg_xy_range, maxval=cfg.peg_xy_range)
        yaw = jax.random.uniform(k_yaw, (), minval=-cfg.peg_yaw_range, maxval=cfg.peg_yaw_range)
        hole_xy = jax.random.uniform(k_hole, (2,), minval=-cfg.hole_xy_range, maxval=cfg.hole_xy_range)
        grip_xy = jax.random.uniform(k_grip, (2,), minval=-cfg.gripper_xy_range, maxval=cfg.gripper_xy_range)
        half = self.peg_half(model)
        peg_pos = self._home_qpos[0:3].at[0:2].add(peg_xy).at[2].set(TABLE_TOP + half[2])
        peg_quat = yaw_quat(yaw)
        qpos = self._home_qpos.at[0:3].set(peg_pos).at[3:7].set(peg_quat).at[7:9].set(grip_xy)
        hole = jnp.asarray(self._hole0).at[0, 0:2].add(hole_xy)
        data = self._data0.replace(qpos=qpos, qvel=jnp.zeros(self.mj_model.nv, jnp.float32),
                                   ctrl=self._home_ctrl.at[0:2].set(grip_xy), mocap_pos=hole)
        data = mjx.forward(model, data)
        info = {"step": jnp.int32(0), "peg_half": half}
        _, _, _, metrics = self._evaluate(model, data)
        return self._make_state(model, data, info, jnp.float32(0.0), jnp.bool_(False), jnp.bool_(False), metrics)

    def step_with(self, model, state: State, action: jax.Array) -> State:
        action = self.clip_action(action)
        data = self.physics(model, state.data, action - self._ctrl_offset)
        info = dict(state.info, step=state.info["step"] + 1)
        reward, success, failure, metrics = self._evaluate(model, data)
        done = success | failure | (info["step"] >= self.config.episode_steps)
        return self._make_state(model, data, info, reward, success, done, metrics)

    def _make_state(self, model, data, info, reward, success, done, metrics) -> State:
        """The :class:`State` after reset or a step (a hook for variants that add observations or metrics)."""
        return State(data=data, obs=self._obs(model, data), reward=jnp.asarray(reward, jnp.float32), done=done,
                     success=success, metrics=metrics, info=info)

    def peg_half(self, model) -> jax.Array:
        """The peg's half-sizes [3] in ``model`` (``PEG_HALF`` unless randomised)."""
        return model.geom_size[self._peg_geom]

    def peg_bottom(self, model, data) -> jax.Array:
        """Height of the peg's lowest corner above the table top (exact for any orientation)."""
        rot = data.xmat[self._peg_body]
        half = self.peg_half(model)
        return data.xpos[self._peg_body, 2] - jnp.sum(jnp.abs(rot[2, :]) * half) - TABLE_TOP

    def _obs(self, model, data) -> dict[str, jax.Array]:
        state = jnp.concatenate([
            data.site_xpos[self._tcp_site], data.qpos[10:11], data.qpos[11:12], data.xpos[self._peg_body],
            data.xquat[self._peg_body], data.mocap_pos[0, 0:2], self.peg_bottom(model, data)[None],
        ]).astype(jnp.float32)
        return {"state": state, **self.render_observation(model, data)}

    def _evaluate(self, model, data):
        cfg: PegInsertionConfig = self.config
        peg = data.xpos[self._peg_body]
        hole = data.mocap_pos[0, 0:2]
        bottom = self.peg_bottom(model, data)
        offset = jnp.max(jnp.abs(peg[:2] - hole))
        inside = offset < HOLE_HALF
        success = inside & (bottom <= cfg.success_height)
        failure = peg[2] < TABLE_TOP - 0.05
        # Dense shaping in [0, 3]: peg over the hole, depth in the hole, bonus on success.
        align = 1.0 - jnp.tanh(20.0 * jnp.linalg.norm(peg[:2] - hole))
        depth = jnp.clip((WALL_HEIGHT - bottom) / (WALL_HEIGHT - cfg.success_height), 0.0, 1.0) * inside
        reward = (align + depth + success).astype(jnp.float32)
        metrics = {"peg_hole_dist": jnp.linalg.norm(peg[:2] - hole).astype(jnp.float32),
                   "peg_bottom": bottom.astype(jnp.float32)}
        return reward, success, failure, metrics

    def randomize_model(self, model, rng: jax.Array):
        """One environment's model with peg friction, mass, size, peg/wall/table colours and camera poses
        resampled (pick_cube's recipe; ranges in ``config.randomization``)."""
        r: PegInsertionRandomization = self.config.randomization
        k_f, k_m, k_s, k_c, k_cam = jax.random.split(rng, 5)
        g, b = self._peg_geom, self._peg_body

        def scale(key, rng_range):
            return jax.random.uniform(key, (), minval=rng_range[0], maxval=rng_range[1])

        m = scale(k_m, r.mass_scale)
        s = scale(k_s, r.size_scale)
        jitter = jax.random.uniform(k_c, (len(self._coloured_geoms), 3), minval=-r.rgba_jitter,
                                    maxval=r.rgba_jitter)
        rgba = model.geom_rgba.at[jnp.asarray(self._coloured_geoms), :3].add(jitter)
        model = model.tree_replace({
            "geom_friction": model.geom_friction.at[g, 0].multiply(scale(k_f, r.friction_scale)),
            "body_mass": model.body_mass.at[b].multiply(m),
            "body_inertia": model.body_inertia.at[b].multiply(m * s * s),  # a box: mass * size^2
            "geom_size": model.geom_size.at[g].multiply(s),
            "geom_rbound": model.geom_rbound.at[g].multiply(s),
            "geom_aabb": model.geom_aabb.at[g].multiply(s),
            "geom_rgba": jnp.clip(rgba, 0.0, 1.0),
        })
        return jitter_cameras(model, observation_camera_ids(self), r.camera, k_cam)

    # ------------------------------------------------------------------ scripted expert

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Reactive pick-and-insert; ``(label, executed)`` with DART-style noise as pick_cube's expert.

        Phase comes from the observation, not a clock: not holding the peg -> hover over it, descend with
        yaw aligned to its faces, close, lift (re-grasps after a miss); holding it -> carry it above the
        wall tops, servo the *peg's* xy (not the tcp's) over the hole and its yaw to the hole's (modulo a
        quarter turn), then descend slowly while still correcting xy.
        """
        cfg: PegInsertionConfig = self.config
        s = state.obs["state"]
        tcp, yaw, opening, peg, quat, hole = s[0:3], s[3], s[4], s[5:8], s[8:12], s[12:14]
        bottom = s[14]
        peg_yaw = wrap_quarter(quat_yaw(quat))
        half = state.info["peg_half"]
        grasp_opening = half[0] - PAD_INNER
        grasp_z = peg[2] + half[2] - GRASP_BELOW_TOP

        # --- reach and grasp (as long as the peg is not held)
        target_yaw = yaw + wrap_quarter(peg_yaw - yaw)
        xy_err = jnp.linalg.norm(peg[:2] - tcp[:2])
        yaw_err = jnp.abs(target_yaw - yaw)
        over = (xy_err < 0.015) & (yaw_err < 0.15)
        at_height = tcp[2] < grasp_z + 0.006
        near = (xy_err < 0.012) & (jnp.abs(tcp[2] - grasp_z) < 0.015)
        missed = opening < 0.0008
        holding = near & ~missed & (opening < grasp_opening + 0.003)
        closing = near & (xy_err < 0.008) & (yaw_err < 0.05) & at_height & ~missed
        hover_z = grasp_z + 0.08
        rise_first = ~over & ~holding & (tcp[2] < hover_z - 0.03)
        reach_xy = jnp.where(rise_first, tcp[:2], peg[:2])
        reach_z = jnp.where((over | closing) & ~missed, grasp_z, hover_z)
        reach = jnp.concatenate([reach_xy, reach_z[None]])

        # --- carry and insert (while held)
        hole_err = hole - peg[:2]
        hole_dist = jnp.linalg.norm(hole_err)
        insert_yaw = yaw + wrap_quarter(-peg_yaw)  # hole walls are world-aligned
        aligned = (hole_dist < 0.0025) & (jnp.abs(wrap_quarter(peg_yaw)) < 0.04)
        in_hole = (bottom < WALL_HEIGHT - 0.002) & (hole_dist < HOLE_HALF)
        carry_bottom = WALL_HEIGHT + 0.015
        descend = aligned | in_hole
        z_goal = jnp.where(descend, tcp[2] - 0.05, tcp[2] + carry_bottom - bottom)
        insert = jnp.concatenate([tcp[:2] + hole_err, z_goal[None]])

        goal = jnp.where(holding, insert, reach)
        speed = jnp.where(holding & descend, cfg.expert_insert_speed, cfg.expert_speed)
        step = speed * cfg.ctrl_dt
        pos = tcp + jnp.clip(goal - tcp, -step, step)
        # While carrying far from the hole, move sideways only once the peg clears the walls.
        low = holding & ~descend & (bottom < WALL_HEIGHT + 0.005) & (hole_dist > 0.01)
        pos = jnp.where(low, jnp.concatenate([tcp[:2], pos[2:3]]), pos)
        yaw_goal = jnp.where(holding, insert_yaw, target_yaw)
        grip = jnp.where(holding | closing, jnp.maximum(opening - 0.006, 0.0), OPEN)
        label = jnp.concatenate([pos, yaw_goal[None], grip[None]]).astype(jnp.float32)

        on, n = noise_segment(cfg, state.info["step"], rng, (4,))
        n = n * jnp.array([1.0, 1.0, 1.0, 5.0])
        quiet = closing | (holding & (hole_dist < 0.02)) | (near & ~missed)
        noise = jnp.where(on & ~quiet, n, 0.0)
        executed = label + jnp.concatenate([noise, jnp.zeros(1)])
        return self.clip_action(label), self.clip_action(executed)
