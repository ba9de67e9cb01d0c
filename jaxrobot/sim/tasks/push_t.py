"""``push_t``: push a T-shaped block onto a fixed goal pose with a point (sphere) pusher.

After diffusion_policy's PushT (real-stanford/diffusion_policy ``diffusion_policy/env/pusht/pusht_env.py``),
scaled 1 px = 1 mm: the T is a 120 x 30 mm bar under a 30 x 90 mm stem (area 6300 mm^2), the pusher is a
15 mm radius disc, the goal is the workspace centre rotated pi/4, and the score is the *coverage*: the
area of (block T intersect goal T) divided by the goal T's area. Success is coverage > 0.95 and the
reward is ``clip(coverage / 0.95, 0, 1)``, both as in PushT.

Scene: ``jaxrobot/sim/assets/push_t/push_t.xml``. The block moves on slide x / slide y / hinge z joints
whose origin is the T's area centroid (40.714 mm above the bar's bottom edge, on the axis of symmetry);
table friction is joint damping (viscous drag, an ellipsoidal limit surface) plus a little dry
friction, so the only contacts are pusher-bar and pusher-stem.

Observation ``state`` (float32[5], metres/radians, as PushT's ``agent_pos + block pose``)::

    [0:2] pusher x, y     [2:4] block centroid x, y     [4] block yaw wrapped to [-pi, pi)

Block yaw 0 means the stem points along +y (the goal has yaw pi/4). Action (float32[2]): **absolute**
pusher target x, y in ``[-0.25, 0.25]`` m (PushT's action is the agent's target position too).

Coverage is computed exactly: each T is two interior-disjoint rectangles, so the overlap is the sum of four
rectangle-rectangle intersections, each a convex polygon clipping (:func:`convex_overlap`). The only error
is float32 rounding (< 1e-5 in coverage; tests compare with a float64 grid rasterisation).
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
from jaxrobot.sim.env import Env, EnvConfig, State
from jaxrobot.sim.expert_noise import check_expert_noise, noise_segment
from jaxrobot.sim.geometry import wrap_angle
from jaxrobot.sim.randomize import (
    CAMERA_FIELDS,
    CameraJitter,
    check_scale_ranges,
    jitter_cameras,
    observation_camera_ids,
)

ASSET = pathlib.Path(__file__).resolve().parents[1] / "assets" / "push_t" / "push_t.xml"

# T geometry in the block frame (origin = area centroid), metres. PushT: scale 30, length 4.
BAR_HALF = (0.06, 0.015)
STEM_HALF = (0.015, 0.045)
CENTROID = (0.0036 * 0.015 + 0.0027 * 0.075) / 0.0063  # centroid height above the bar's bottom edge
BAR_Y = 0.015 - CENTROID
STEM_Y = 0.075 - CENTROID
T_AREA = 0.0063
PUSHER_RADIUS = 0.015
GOAL = (0.0, 0.0, math.pi / 4)  # x, y, yaw of the goal T (PushT: centre of the workspace, pi/4)
SUCCESS_COVERAGE = 0.95  # PushT's success_threshold
WORKSPACE = 0.25


# ---------------------------------------------------------------------- exact coverage


def _rot(yaw: jax.Array) -> jax.Array:
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    return jnp.array([[c, -s], [s, c]])


def _cross(a: jax.Array, b: jax.Array) -> jax.Array:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _rect_corners(centre: jax.Array, half: tuple[float, float], rot: jax.Array) -> jax.Array:
    """Counter-clockwise corners [4, 2] of a rectangle (local centre, half sizes) under ``rot``."""
    hx, hy = half
    local = jnp.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]]) + centre
    return local @ rot.T


def _clip_half_plane(poly: jax.Array, q0: jax.Array, q1: jax.Array) -> jax.Array:
    """Clip closed polygon ``poly`` [N, 2] to the left of the line q0 -> q1; returns [2N, 2].

    Fixed-size variant of Sutherland-Hodgman: every edge a -> b emits two points (its clipped ends), and
    an end that lies outside is replaced by the crossing point or, for an edge wholly outside, by its
    projection onto the clip line. The extra points lie on the clip line, where they only add zero-area
    spikes, so the shoelace area of the output is exactly the clipped area (for any closed polygon).
    """
    e = q1 - q0
    perp = jnp.array([-e[1], e[0]])
    a = poly
    b = jnp.roll(poly, -1, axis=0)
    sa = _cross(e, a - q0)
    sb = _cross(e, b - q0)
    denom = sa - sb
    t = sa / jnp.where(denom == 0, 1.0, denom)
    crossing = a + t[:, None] * (b - a)
    ee = jnp.dot(e, e)
    proj_a = a - (sa / ee)[:, None] * perp
    proj_b = b - (sb / ee)[:, None] * perp
    a_in, b_in = (sa >= 0)[:, None], (sb >= 0)[:, None]
    a_out = jnp.where(a_in, a, jnp.where(b_in, crossing, proj_a))
    b_out = jnp.where(b_in, b, jnp.where(a_in, crossing, proj_b))
    return jnp.stack([a_out, b_out], axis=1).reshape(-1, 2)


def _shoelace(poly: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum(_cross(poly, jnp.roll(poly, -1, axis=0)))


def convex_overlap(p: jax.Array, q: jax.Array) -> jax.Array:
    """Area of the intersection of convex counter-clockwise quadrilaterals ``p`` and ``q`` (each [4, 2])."""
    poly = p
    for k in range(4):
        poly = _clip_half_plane(poly, q[k], q[(k + 1) % 4])
    return jnp.maximum(_shoelace(poly), 0.0)


def t_rectangles(pose: jax.Array) -> jax.Array:
    """The T at ``pose`` = (x, y, yaw) as two counter-clockwise rectangles [2, 4, 2] (bar, stem)."""
    rot = _rot(pose[2])
    bar = _rect_corners(jnp.array([0.0, BAR_Y]), BAR_HALF, rot)
    stem = _rect_corners(jnp.array([0.0, STEM_Y]), STEM_HALF, rot)
    return jnp.stack([bar, stem]) + pose[:2]


def coverage(pose: jax.Array, goal: jax.Array = jnp.array(GOAL)) -> jax.Array:
    """Overlap area of the T at ``pose`` and the T at ``goal``, divided by the T's area (PushT's score).

    Computed in the goal's frame (small coordinates keep float32 rounding < 1e-5 in coverage).
    """
    pose = jnp.asarray(pose, jnp.float32)
    goal = jnp.asarray(goal, jnp.float32)
    rel_xy = _rot(-goal[2]) @ (pose[:2] - goal[:2])
    rel = jnp.concatenate([rel_xy, (pose[2] - goal[2])[None]])
    a = t_rectangles(rel)
    b = t_rectangles(jnp.zeros(3))
    area = sum(convex_overlap(a[i], b[j]) for i in range(2) for j in range(2))
    return (area / T_AREA).astype(jnp.float32)


def t_distance(points: jax.Array) -> jax.Array:
    """Signed distance of block-frame points [..., 2] to the T (negative inside)."""

    def box(centre, half):
        d = jnp.abs(points - jnp.asarray(centre)) - jnp.asarray(half)
        outside = jnp.linalg.norm(jnp.maximum(d, 0.0), axis=-1)
        return outside + jnp.minimum(jnp.max(d, axis=-1), 0.0)

    return jnp.minimum(box((0.0, BAR_Y), BAR_HALF), box((0.0, STEM_Y), STEM_HALF))


def _contact_candidates() -> tuple[np.ndarray, np.ndarray]:
    """Block-frame push points on the T's outline and their outward normals (pusher-reachable ones)."""
    r = PUSHER_RADIUS
    yb0, yb1, ys1 = -CENTROID, 0.03 - CENTROID, 0.12 - CENTROID
    pts, nrm = [], []

    def edge(xs, ys, n):
        for x, y in zip(*np.broadcast_arrays(np.atleast_1d(xs), np.atleast_1d(ys)), strict=True):
            pts.append((x, y))
            nrm.append(n)

    edge(np.linspace(-0.055, 0.055, 12), yb0, (0.0, -1.0))  # bar bottom
    for sx in (-1.0, 1.0):
        edge(sx * 0.06, np.linspace(yb0 + 0.006, yb1 - 0.006, 3), (sx, 0.0))  # bar ends
        edge(sx * np.linspace(0.015 + r + 0.003, 0.056, 3), yb1, (0.0, 1.0))  # bar top beside the stem
        edge(sx * 0.015, np.linspace(yb1 + r + 0.003, ys1 - 0.005, 6), (sx, 0.0))  # stem sides
    edge(np.linspace(-0.01, 0.01, 3), ys1, (0.0, 1.0))  # stem top
    return np.asarray(pts, np.float32), np.asarray(nrm, np.float32)


CONTACT_POINTS, CONTACT_NORMALS = _contact_candidates()


# ---------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class PushTRandomization(Config):
    """Domain randomisation: the block's table drag and dry friction (one scale for all three block
    dofs), the block colour and the pose of the observation cameras (``camera``)."""

    kind: ClassVar[str] = "sim.push_t.randomization"
    friction_scale: tuple[float, float] = (0.7, 1.4)
    rgba_jitter: float = 0.15
    camera: CameraJitter = CameraJitter(position=0.01, rotation=0.03)

    def check(self) -> None:
        check_scale_ranges(self, ("friction_scale",))
        require(self.rgba_jitter >= 0, "rgba_jitter", f"must be >= 0, got {self.rgba_jitter}")


@dataclasses.dataclass(frozen=True)
class PushTConfig(EnvConfig):
    """push_t task.

    block_xy_range: initial block centroid uniform in the square +-range (metres) around the goal.
    block_yaw_range: initial block yaw = goal yaw + uniform(+-range) radians.
    min_start_offset: initial poses closer than this to the goal (coverage above ``1 - offset``) are pushed
        out along their offset, so no episode starts solved.
    pusher_distance: the pusher starts this far from the block centroid (metres, random direction).
    expert_*: scripted expert gains (see :meth:`PushT.expert`); ``expert_noise`` is the std (metres) of the
        DART-style injected pusher-target noise, active with ``expert_noise_prob`` per segment of
        ``expert_noise_hold`` control steps, and off once coverage exceeds ``expert_quiet_coverage``.
        ``expert_side_bonus``: how much the episode's strategy (push the T's left or right half, drawn at reset)
        adds to a push point's score on that half; 0 makes the expert unimodal.
    """

    kind: ClassVar[str] = "sim.push_t"
    ctrl_dt: float = 0.1  # 10 Hz as PushT
    sim_dt: float = 0.01
    episode_steps: int = 300  # PushT's evaluation limit
    cameras: tuple[str, ...] = ("top",)
    block_xy_range: float = 0.1
    block_yaw_range: float = math.pi
    pusher_distance: float = 0.13
    expert_free_speed: float = 0.25
    expert_push_speed: float = 0.08
    expert_noise: float = 0.006
    expert_noise_prob: float = 0.3
    expert_noise_hold: int = 3
    expert_quiet_coverage: float = 0.85
    expert_side_bonus: float = 0.5
    randomization: PushTRandomization = PushTRandomization()

    def check(self) -> None:
        super().check()
        require(0 <= self.block_xy_range <= 0.12, "block_xy_range", f"must be in [0, 0.12], got {self.block_xy_range}")
        require(0 <= self.block_yaw_range <= math.pi, "block_yaw_range",
                f"must be in [0, pi], got {self.block_yaw_range}")
        require(0.1 <= self.pusher_distance <= 0.2, "pusher_distance", "must be in [0.1, 0.2] (clear of the T)")
        require(self.expert_free_speed > 0, "expert_free_speed", "must be > 0")
        require(self.expert_push_speed > 0, "expert_push_speed", "must be > 0")
        require(self.expert_side_bonus >= 0, "expert_side_bonus", f"must be >= 0, got {self.expert_side_bonus}")
        check_expert_noise(self)


# ---------------------------------------------------------------------- env


class PushT(Env):
    """Push the T onto the goal; see the module docstring for observation, action and scoring."""

    language_instruction = "push the T-shaped block onto the target"
    #: The expert's two ways to push (drawn per episode): from the T's left or right half (block frame, bar along
    #: x), wherever a push there moves the block well enough; see :func:`push_t_expert_action`.
    expert_strategies = ("left_half", "right_half")
    state_dim = 5  # actions: the pusher's position-actuator targets, bounded by their ctrlrange (+-WORKSPACE)
    randomized_fields = ("dof_damping", "dof_frictionloss", "geom_rgba", *CAMERA_FIELDS)

    def __init__(self, config: PushTConfig):
        super().__init__(config)
        m = self.mj_model
        self._block_geoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n) for n in ("bar", "stem")]

    def _build_mj_model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(ASSET))

    def reset_with(self, model, rng: jax.Array) -> State:
        cfg: PushTConfig = self.config
        k_xy, k_yaw, k_push = jax.random.split(rng, 3)
        xy = jax.random.uniform(k_xy, (2,), minval=-cfg.block_xy_range, maxval=cfg.block_xy_range)
        yaw = GOAL[2] + jax.random.uniform(k_yaw, (), minval=-cfg.block_yaw_range, maxval=cfg.block_yaw_range)
        block = jnp.array([GOAL[0], GOAL[1]]) + xy
        angle = jax.random.uniform(k_push, (), minval=-math.pi, maxval=math.pi)
        pusher = block + cfg.pusher_distance * jnp.array([jnp.cos(angle), jnp.sin(angle)])
        pusher = jnp.clip(pusher, -WORKSPACE + 0.02, WORKSPACE - 0.02)
        qpos = jnp.concatenate([block, yaw[None], pusher])
        data = self.init_data(model, qpos, ctrl=pusher)
        # drawn from a folded key, so the scenes of every seed are those of a one-strategy expert
        strategy = jax.random.bernoulli(jax.random.fold_in(rng, 0x57A7)).astype(jnp.int32)
        info = {"step": jnp.int32(0), "strategy": strategy}
        reward, success, failure, metrics = self._evaluate(data)
        return State(data=data, obs=self._obs(model, data), reward=jnp.float32(0.0), done=jnp.bool_(False),
                     success=jnp.bool_(False), metrics=metrics, info=info)

    def step_with(self, model, state: State, action: jax.Array) -> State:
        action = self.clip_action(action)
        data = self.physics(model, state.data, action)
        info = dict(state.info, step=state.info["step"] + 1)
        reward, success, failure, metrics = self._evaluate(data)
        done = success | failure | (info["step"] >= self.config.episode_steps)
        return State(data=data, obs=self._obs(model, data), reward=reward, done=done, success=success,
                     metrics=metrics, info=info)

    @staticmethod
    def block_pose(data) -> jax.Array:
        return jnp.concatenate([data.qpos[0:2], wrap_angle(data.qpos[2:3])])

    def _obs(self, model, data) -> dict[str, jax.Array]:
        state = jnp.concatenate([data.qpos[3:5], self.block_pose(data)]).astype(jnp.float32)
        return {"state": state, **self.render_observation(model, data)}

    def _evaluate(self, data):
        pose = self.block_pose(data)
        cov = coverage(pose)
        success = cov > SUCCESS_COVERAGE
        failure = jnp.any(jnp.abs(pose[:2]) > WORKSPACE)  # pushed out of the workspace
        reward = jnp.clip(cov / SUCCESS_COVERAGE, 0.0, 1.0).astype(jnp.float32)
        metrics = {
            "coverage": cov,
            "position_error": jnp.linalg.norm(pose[:2] - jnp.array(GOAL[:2])).astype(jnp.float32),
            "yaw_error": jnp.abs(wrap_angle(GOAL[2] - pose[2])).astype(jnp.float32),
        }
        return reward, success, failure, metrics

    def randomize_model(self, model, rng: jax.Array):
        """One environment's model with the block's table drag scaled, its colour and the cameras jittered."""
        r: PushTRandomization = self.config.randomization
        k_f, k_c = jax.random.split(rng)
        scale = jax.random.uniform(k_f, (), minval=r.friction_scale[0], maxval=r.friction_scale[1])
        damping = model.dof_damping.at[0:3].multiply(scale)
        friction = model.dof_frictionloss.at[0:3].multiply(scale)
        jitter = jax.random.uniform(k_c, (3,), minval=-r.rgba_jitter, maxval=r.rgba_jitter)
        rgba = model.geom_rgba.at[jnp.array(self._block_geoms), :3].add(jitter)
        model = model.tree_replace({"dof_damping": damping, "dof_frictionloss": friction,
                                    "geom_rgba": jnp.clip(rgba, 0.0, 1.0)})
        return jitter_cameras(model, observation_camera_ids(self), r.camera, jax.random.fold_in(rng, 0xCA))

    # ------------------------------------------------------------------ scripted expert

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Reactive pushing expert; ``(label, executed)`` as pick_cube's (DART-style noise injection).

        Every step it scores 39 candidate push points on the T's outline by how well the block motion
        that a push there produces (ellipsoidal limit surface: twist proportional to (force, torque /
        c^2)) aligns with the pose error (translation and ``L`` x yaw error), minus a travel cost from
        the pusher, so it keeps pushing where it is unless another point is clearly better. Then:

        - pusher at the chosen point: push into the block along the inward normal, a step proportional to
          the pose error (rotation by off-centre pushes and translation come out of the same rule);
        - on the approach line outside the point: move in to it;
        - elsewhere: go straight to the approach point when the path is clear of the T, otherwise orbit
          the block on a circle until it is.

        A pure function of the observation and the episode's strategy (``info["strategy"]``: prefer push points
        on the T's left or right half), so it recovers from the injected perturbations; two episodes from the
        same scene can take different ways, as human PushT demonstrations do.
        """
        cfg: PushTConfig = self.config
        label, near_goal = push_t_expert_action(state.obs["state"], cfg, state.info["strategy"])
        on, n = noise_segment(cfg, state.info["step"], rng, (2,))
        noise = jnp.where(on & ~near_goal, n, 0.0)
        return self.clip_action(label), self.clip_action(label + noise)


# Expert constants: limit-surface ratio c (twist = (f, tau / c^2)) of the block's table drag (the T's polar
# radius of gyration, see the asset) and the length that weighs yaw error against position error.
LIMIT_C = 0.044
YAW_WEIGHT = 0.06
MIN_ALIGN = 0.6
TRAVEL_COST = 2.0  # score per metre between the pusher and a candidate's contact position
PUSH_LEAD = 0.0005
ORBIT_RADIUS = 0.105  # circle around the centroid clear of the T (farthest corner 81 mm) plus the pusher


def push_t_expert_action(obs: jax.Array, cfg: PushTConfig, strategy: jax.Array | int = 0
                         ) -> tuple[jax.Array, jax.Array]:
    """The expert's clean pusher target [2] from the observation [5] and the episode's strategy (0: prefer the
    T's left half, 1: its right half, by ``cfg.expert_side_bonus``); also whether it is near the goal."""
    dt = cfg.ctrl_dt
    pusher, centre, yaw = obs[0:2], obs[2:4], obs[4]
    rot = _rot(yaw)
    goal = jnp.asarray(GOAL, jnp.float32)
    e_xy = goal[:2] - centre
    e_yaw = wrap_angle(goal[2] - yaw)
    cov = coverage(jnp.concatenate([centre, yaw[None]]))

    pts = jnp.asarray(CONTACT_POINTS) @ rot.T  # world offsets from the centroid
    nrm = jnp.asarray(CONTACT_NORMALS) @ rot.T
    contact = centre + pts + PUSHER_RADIUS * nrm  # pusher centre touching the point
    force = -nrm
    torque = _cross(pts, force)
    twist = jnp.concatenate([force, (YAW_WEIGHT * torque / LIMIT_C**2)[:, None]], axis=1)
    want = jnp.concatenate([e_xy, (YAW_WEIGHT * e_yaw)[None]])
    want_norm = jnp.linalg.norm(want)
    align = twist @ want / (jnp.linalg.norm(twist, axis=1) * want_norm + 1e-9)
    # Travel as the orbiting pusher goes (arc about the centroid + radial), so the cost of the chosen point
    # only falls while the pusher moves to it (a straight-line cost made it flip between sides).
    d = pusher - centre
    rho = jnp.linalg.norm(d)
    alpha = jnp.arctan2(d[1], d[0])
    rel_c = contact - centre
    arc = jnp.abs(wrap_angle(jnp.arctan2(rel_c[:, 1], rel_c[:, 0]) - alpha))
    travel = ORBIT_RADIUS * arc + jnp.abs(jnp.linalg.norm(rel_c, axis=1) - rho)
    # Points whose push moves the block less than ~50 degrees off the error are never worth pushing.
    # The strategy's half of the T (points on the stem's axis belong to neither) scores a bonus: where pushes on
    # both halves move the block well, the episode's strategy decides which; where only one does, it is taken.
    side = jnp.where(jnp.asarray(strategy) > 0, 1.0, -1.0)
    preferred = (jnp.asarray(CONTACT_POINTS)[:, 0] * side) > 0.005
    i = jnp.argmax(align - TRAVEL_COST * travel - 2.0 * (align < MIN_ALIGN) + cfg.expert_side_bonus * preferred)
    c, n, f = contact[i], nrm[i], force[i]

    rel = pusher - c
    normal_off = jnp.dot(rel, n)  # > 0: outside the block
    tangent_off = jnp.abs(_cross(n, rel))
    free_step = cfg.expert_free_speed * dt
    # Push depth: under the limit-surface model a push of depth delta at the point moves the block by
    # k (f, tau / c^2) with k = delta / (1 + tau^2 / c^2); choose delta so the motion's component along
    # the error is half the error (no overshoot), plus a small lead that beats the dry friction.
    tau = torque[i]
    gain = align[i] * jnp.linalg.norm(twist[i])
    delta = 0.5 * want_norm / jnp.maximum(gain, 0.05) * (1.0 + tau**2 / LIMIT_C**2)
    push_step = PUSH_LEAD + jnp.clip(delta, 0.0005, cfg.expert_push_speed * dt)

    def toward(goal_xy, step):
        d = goal_xy - pusher
        dist = jnp.linalg.norm(d)
        return pusher + d * jnp.minimum(1.0, step / (dist + 1e-9))

    # 1. At the contact point: push through it.
    at_contact = (tangent_off < 0.004) & (normal_off < 0.004) & (normal_off > -0.008)
    push_target = c + f * push_step
    # 2. On the approach line (outside, within 3 cm): move in to the contact point.
    on_line = (tangent_off < 0.006) & (normal_off < 0.035) & (normal_off > 0.0)
    approach = c + n * 0.02
    line_target = toward(c + f * 0.001, 0.5 * free_step)
    # 3. Path to the approach point clear of the T (pusher radius + 4 mm)? Go straight, else orbit.
    s = jnp.linspace(0.0, 1.0, 12)[:, None]
    path = pusher + s * (approach - pusher)
    clear = jnp.min(t_distance((path - centre) @ rot)) > PUSHER_RADIUS + 0.004
    straight_target = toward(approach, free_step)
    da = approach - centre
    beta = jnp.arctan2(da[1], da[0])
    turn = jnp.clip(wrap_angle(beta - alpha), -free_step / ORBIT_RADIUS, free_step / ORBIT_RADIUS)
    on_circle = centre + ORBIT_RADIUS * jnp.array([jnp.cos(alpha + turn), jnp.sin(alpha + turn)])
    out_target = centre + ORBIT_RADIUS * d / (rho + 1e-9)
    orbit_target = jnp.where(rho < ORBIT_RADIUS - 0.01, toward(out_target, free_step), toward(on_circle, free_step))

    # Close in angle: the straight path only grazes the outline, go (a deadlock otherwise: the orbit has
    # nowhere left to turn).
    clear = clear | (jnp.abs(wrap_angle(beta - alpha)) < 0.2)
    target = jnp.where(at_contact, push_target,
                       jnp.where(on_line, line_target, jnp.where(clear, straight_target, orbit_target)))
    target = jnp.clip(target, -WORKSPACE, WORKSPACE).astype(jnp.float32)
    return target, cov > cfg.expert_quiet_coverage
