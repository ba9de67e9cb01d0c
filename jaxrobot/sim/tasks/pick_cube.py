"""``pick_cube``: a Cartesian parallel gripper lifts a 4 cm cube from a table.

Scene: ``jaxrobot/sim/assets/gripper_cube/gripper_cube.xml`` (slide x/y/z + yaw hinge, two coupled finger
slides, position actuators; cube on a table whose top is at z = 0.40 m).

Observation ``state`` (float32[12], world frame, metres/radians)::

    [0:3]  tcp position (site ``tcp`` between the finger tips)
    [3]    gripper yaw
    [4]    finger opening (one finger's slide, 0 = closed, 0.04 = open)
    [5:8]  cube position
    [8:12] cube orientation quaternion (w, x, y, z)

Action (float32[5]): **absolute** targets in the same frame as the observation,
``[tcp_x, tcp_y, tcp_z, yaw, finger_opening]``; bounds are :attr:`PickCube.action_low/high` (the actuator
ranges moved into the world frame). Absolute targets make the action a function of the scene, not of
the previous action, which is what chunked imitation policies (ACT, Diffusion Policy) predict; the
dataset statistics normalise them.

Success: the cube is at least ``lift_height`` above its resting height, within ``hold_radius`` of the tcp
(so it is held, not thrown), for ``hold_steps`` consecutive control steps. Failure: the cube falls off the
table. The episode is done at success, failure or ``episode_steps``.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco

from jaxrobot.config import Config, require
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.expert_noise import check_expert_noise, noise_segment
from jaxrobot.sim.gantry import BASE_POS, GRIPPER_CTRL_OFFSET, OPEN, PAD_INNER, TABLE_TOP
from jaxrobot.sim.geometry import quat_yaw, wrap_quarter, yaw_quat
from jaxrobot.sim.randomize import (
    CAMERA_FIELDS,
    CameraJitter,
    check_scale_ranges,
    jitter_cameras,
    observation_camera_ids,
)

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "gripper_cube" / "gripper_cube.xml"


@dataclasses.dataclass(frozen=True)
class PickCubeRandomization(Config):
    """Domain randomisation of model fields (applied per environment by :mod:`jaxrobot.sim.randomize`).

    Each ``*_scale`` is a multiplicative range (lo, hi) sampled uniformly; ``rgba_jitter`` is added to the
    cube and table colours (clipped to [0, 1]); ``camera`` jitters the pose of the observation cameras
    (``config.cameras``; about one pixel at 32 x 32 by default).
    """

    kind: ClassVar[str] = "sim.pick_cube.randomization"
    friction_scale: tuple[float, float] = (0.6, 1.4)
    mass_scale: tuple[float, float] = (0.5, 2.0)
    size_scale: tuple[float, float] = (0.8, 1.2)
    rgba_jitter: float = 0.2
    camera: CameraJitter = CameraJitter(position=0.01, rotation=0.03)

    def check(self) -> None:
        check_scale_ranges(self)
        lo, hi = self.size_scale
        require(hi * 0.02 - PAD_INNER < OPEN, "size_scale", f"cube of scale {hi} no longer fits the open gripper")
        require(self.rgba_jitter >= 0, "rgba_jitter", f"must be >= 0, got {self.rgba_jitter}")


@dataclasses.dataclass(frozen=True)
class PickCubeConfig(EnvConfig):
    """pick_cube task.

    cube_xy_range: cube x and y are uniform in +-range (metres) around the table centre (0.5, 0).
    cube_yaw_range: cube yaw uniform in +-range (radians); the expert aligns with the cube modulo pi/2.
    gripper_xy_range: initial gripper x,y jitter (metres).
    lift_height / hold_radius / hold_steps: the success predicate (see module docstring).
    expert_noise: std (metres) of the expert's injected position noise; yaw noise is 5x this in radians.
    expert_noise_prob: probability that a noise segment is active.
    expert_noise_hold: control steps a noise sample is held (piecewise constant, so it moves the gripper).
    expert_speed: expert's tcp speed limit (m/s).
    randomization: ranges used by ``jaxrobot.sim.randomize`` (only when randomisation is requested).

    ``sim_dt`` stays 0.005 s (10 physics substeps per control step). ``sim_dt=0.01`` halves the physics
    cost and the expert still succeeds (98-100%), but the grasp is then under-resolved: a finger pad
    briefly loses the cube now and then, and MJX (float32) and MuJoCo C (float64) take those slips at
    different moments (up to 3-8 mm apart), so MJX stops matching the C oracle; 0.0125 s broke grasps
    (40% success). See the comments in ``gripper_cube.xml``.
    """

    kind: ClassVar[str] = "sim.pick_cube"
    episode_steps: int = 80
    cameras: tuple[str, ...] = ("front",)
    cube_xy_range: float = 0.1
    cube_yaw_range: float = math.pi / 4
    gripper_xy_range: float = 0.02
    lift_height: float = 0.05
    hold_radius: float = 0.03
    hold_steps: int = 5
    expert_noise: float = 0.01
    expert_noise_prob: float = 0.3
    expert_noise_hold: int = 4
    expert_speed: float = 0.4
    randomization: PickCubeRandomization = PickCubeRandomization()

    def check(self) -> None:
        super().check()
        require(0 <= self.cube_xy_range <= 0.2, "cube_xy_range", f"must be in [0, 0.2], got {self.cube_xy_range}")
        require(0 <= self.cube_yaw_range <= math.pi, "cube_yaw_range",
                f"must be in [0, pi], got {self.cube_yaw_range}")
        require(self.lift_height > 0, "lift_height", f"must be > 0, got {self.lift_height}")
        require(self.hold_steps >= 1, "hold_steps", f"must be >= 1, got {self.hold_steps}")
        check_expert_noise(self)
        require(self.expert_speed > 0, "expert_speed", "must be > 0")


class PickCube(Env):
    """Pick up the cube; see the module docstring for observation, action and success."""

    language_instruction = "pick up the cube"
    state_dim = 12
    ctrl_offset = GRIPPER_CTRL_OFFSET
    randomized_fields = ("geom_friction", "body_mass", "body_inertia", "geom_size", "geom_rbound",
                         "geom_aabb", "geom_rgba", *CAMERA_FIELDS)

    def __init__(self, config: PickCubeConfig):
        super().__init__(config)
        m = self.mj_model
        self._cube_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "cube")
        self._cube_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "cube")
        self._table_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "table")
        self._tcp_site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "tcp")
        key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
        self._home_qpos = jnp.asarray(m.key_qpos[key], jnp.float32)
        self._home_ctrl = jnp.asarray(m.key_ctrl[key], jnp.float32)

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(ASSET))

    # ------------------------------------------------------------------ dynamics

    def cube_half_size(self, model) -> jax.Array:
        return model.geom_size[self._cube_geom, 0]

    def reset_with(self, model, rng: jax.Array) -> State:
        cfg: PickCubeConfig = self.config
        k_xy, k_yaw, k_grip = jax.random.split(rng, 3)
        xy = jax.random.uniform(k_xy, (2,), minval=-cfg.cube_xy_range, maxval=cfg.cube_xy_range)
        yaw = jax.random.uniform(k_yaw, (), minval=-cfg.cube_yaw_range, maxval=cfg.cube_yaw_range)
        grip_xy = jax.random.uniform(k_grip, (2,), minval=-cfg.gripper_xy_range, maxval=cfg.gripper_xy_range)
        half = self.cube_half_size(model)
        cube_pos = jnp.array([BASE_POS[0] + xy[0], xy[1], TABLE_TOP + half])
        cube_quat = yaw_quat(yaw)
        qpos = self._home_qpos.at[0:3].set(cube_pos).at[3:7].set(cube_quat).at[7:9].set(grip_xy)
        ctrl = self._home_ctrl.at[0:2].set(grip_xy)
        data = self.init_data(model, qpos, ctrl=ctrl)
        info = {"step": jnp.int32(0), "hold": jnp.int32(0), "cube_rest_z": cube_pos[2], "cube_half": half}
        obs = self._obs(model, data)
        reward, success, failure, metrics, info = self._evaluate(model, data, info)
        zero = jnp.float32(0.0)
        return State(data=data, obs=obs, reward=zero, done=jnp.bool_(False), success=jnp.bool_(False),
                     metrics=metrics, info=info)

    def step_with(self, model, state: State, action: jax.Array) -> State:
        action = self.clip_action(action)
        data = self.physics(model, state.data, action - self._ctrl_offset)
        info = dict(state.info, step=state.info["step"] + 1)
        reward, success, failure, metrics, info = self._evaluate(model, data, info)
        done = success | failure | (info["step"] >= self.config.episode_steps)
        return State(data=data, obs=self._obs(model, data), reward=reward, done=done, success=success,
                     metrics=metrics, info=info)

    def _obs(self, model, data) -> dict[str, jax.Array]:
        tcp = data.site_xpos[self._tcp_site]
        state = jnp.concatenate([
            tcp, data.qpos[10:11], data.qpos[11:12], data.xpos[self._cube_body], data.xquat[self._cube_body],
        ]).astype(jnp.float32)
        return {"state": state, **self.render_observation(model, data)}

    def _evaluate(self, model, data, info):
        cfg: PickCubeConfig = self.config
        tcp = data.site_xpos[self._tcp_site]
        cube = data.xpos[self._cube_body]
        dist = jnp.linalg.norm(cube - tcp)
        height = cube[2] - info["cube_rest_z"]
        held = (height >= cfg.lift_height) & (dist <= cfg.hold_radius)
        hold = jnp.where(held, info["hold"] + 1, 0).astype(jnp.int32)
        success = hold >= cfg.hold_steps
        failure = cube[2] < TABLE_TOP - 0.05
        # Dense shaping in [0, 3]: reach the cube, lift it while holding it, bonus on success
        # (the staged reach/lift structure of Playground's PandaPickCube, simplified).
        reach = 1.0 - jnp.tanh(10.0 * dist)
        lift = jnp.clip(height / cfg.lift_height, 0.0, 1.0) * (dist <= cfg.hold_radius)
        reward = (reach + lift + success).astype(jnp.float32)
        metrics = {"tcp_cube_dist": dist.astype(jnp.float32), "cube_height": height.astype(jnp.float32)}
        return reward, success, failure, metrics, dict(info, hold=hold)

    def randomize_model(self, model, rng: jax.Array):
        """One environment's model with cube friction, mass, size, cube/table colours and camera poses
        resampled."""
        r: PickCubeRandomization = self.config.randomization
        k_f, k_m, k_s, k_c = jax.random.split(rng, 4)
        g, b, t = self._cube_geom, self._cube_body, self._table_geom

        def scale(key, rng_range):
            return jax.random.uniform(key, (), minval=rng_range[0], maxval=rng_range[1])

        friction = model.geom_friction.at[g, 0].multiply(scale(k_f, r.friction_scale))
        m = scale(k_m, r.mass_scale)
        s = scale(k_s, r.size_scale)
        # A box's inertia scales with mass * size^2.
        mass = model.body_mass.at[b].multiply(m)
        inertia = model.body_inertia.at[b].multiply(m * s * s)
        size = model.geom_size.at[g].multiply(s)
        rbound = model.geom_rbound.at[g].multiply(s)
        aabb = model.geom_aabb.at[g].multiply(s)
        jitter = jax.random.uniform(k_c, (2, 3), minval=-r.rgba_jitter, maxval=r.rgba_jitter)
        rgba = model.geom_rgba.at[jnp.array([g, t]), :3].add(jitter)
        rgba = jnp.clip(rgba, 0.0, 1.0)
        model = model.tree_replace({
            "geom_friction": friction, "body_mass": mass, "body_inertia": inertia, "geom_size": size,
            "geom_rbound": rbound, "geom_aabb": aabb, "geom_rgba": rgba,
        })
        # A key of its own (fold_in): the other draws stay what they were before cameras were jittered.
        return jitter_cameras(model, observation_camera_ids(self), r.camera, jax.random.fold_in(rng, 0xCA))

    # ------------------------------------------------------------------ scripted expert

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Reactive pick: hover over the cube, descend, close, lift; re-grasps if the cube slips.

        A pure function of the observation (phase is read from the state, not from a clock, so it recovers
        from perturbations and failed grasps). ``rng`` is the *per-episode* key: noise is folded in per
        segment of ``expert_noise_hold`` control steps, so the injected perturbation is piecewise constant
        and actually displaces the gripper (white noise at 20 Hz would be filtered out by the actuators).
        Returns ``(label, executed)``: record ``label`` (the expert's intended target), execute
        ``executed = label + noise`` (noise injection as in DART, Laskey et al. 2017).
        """
        cfg: PickCubeConfig = self.config
        s = state.obs["state"]
        tcp, yaw, opening, cube, quat = s[0:3], s[3], s[4], s[5:8], s[8:12]
        half = state.info["cube_half"]
        grasp_opening = half - PAD_INNER
        cube_yaw = wrap_quarter(quat_yaw(quat))
        # Choose the gripper yaw closest to the current one among the cube's symmetric yaws.
        target_yaw = yaw + wrap_quarter(cube_yaw - yaw)

        xy_err = jnp.linalg.norm(cube[:2] - tcp[:2])
        yaw_err = jnp.abs(target_yaw - yaw)
        grasp_z = cube[2] - 0.005
        hover_z = cube[2] + 0.10
        # Over the cube (coarsely): descend while still correcting x, y and yaw.
        over = (xy_err < 0.02) & (yaw_err < 0.15)
        at_height = tcp[2] < grasp_z + 0.008
        near = (xy_err < 0.015) & (jnp.abs(tcp[2] - cube[2]) < 0.02)
        # Fingers closed on nothing (joint near its closed limit): open and retry. The closing fingers
        # overshoot the cube's width by ~4 mm for a few substeps (measured), so "missed" must not be a
        # small margin below the grasp width.
        missed = opening < 0.003
        holding = near & ~missed & (opening < grasp_opening + 0.004)
        closing = near & (xy_err < 0.01) & (yaw_err < 0.05) & at_height & ~missed

        step = cfg.expert_speed * cfg.ctrl_dt
        # Far from the cube and low: rise before moving sideways, so the fingers do not sweep the cube.
        rise_first = ~over & ~holding & (tcp[2] < hover_z - 0.03)
        xy_goal = jnp.where(rise_first, tcp[:2], cube[:2])
        z_goal = jnp.where(holding, state.info["cube_rest_z"] + cfg.lift_height + 0.05,
                           jnp.where((over | closing) & ~missed, grasp_z, hover_z))
        # Close at a limited rate (0.12 m/s) and squeeze 6 mm past the current opening: a gentle impact
        # keeps the grasp repeatable (MJX and MuJoCo C then agree to < 1 mm through the grasp).
        grip = jnp.where(holding | closing, jnp.maximum(opening - 0.006, 0.0), OPEN)
        goal = jnp.concatenate([xy_goal, z_goal[None]])
        pos = tcp + jnp.clip(goal - tcp, -step, step)
        label = jnp.concatenate([pos, target_yaw[None], grip[None]]).astype(jnp.float32)

        on, n = noise_segment(cfg, state.info["step"], rng, (4,))
        n = n * jnp.array([1.0, 1.0, 1.0, 5.0])
        # No noise while the fingers are on the cube: perturbing a grasp only makes failures, not recoveries.
        noise = jnp.where(on & ~holding & ~closing, n, 0.0)
        executed = label + jnp.concatenate([noise, jnp.zeros(1)])
        return self.clip_action(label), self.clip_action(executed)
