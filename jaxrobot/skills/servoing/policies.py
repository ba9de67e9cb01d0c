"""Peg-insertion policies for ``peg_servo``: an estimator wrapped into servo-then-insert actions, and the
ground-truth reference.

A policy is ``(init_carry, policy)`` with ``policy(obs, goal, carry) -> (action, carry)`` for one environment;
the action is a ``peg_insertion`` action (absolute tcp / yaw / finger targets).
:func:`servo_insert_policy` wraps a pose-error estimator (:mod:`jaxrobot.skills.servoing.estimators`) with a
latched phase:

1. servo: the twist is mapped to the gripper motion that moves the camera by it (:func:`camera_to_base`);
   tcp and yaw targets = measured + ``gain`` · that motion · ``ctrl_dt``. Only proprioception (``proprio``:
   tcp, yaw) and the images are used, never the hole or peg state;
2. insert, once converged: the estimated *gripper* correction (tcp xy and yaw, not camera pixels: the camera
   sits 6 cm from the peg, so a small image rotation is a large peg offset) has stayed below ``switch_m`` and
   ``switch_rad`` for ``switch_streak`` steps; then x, y and yaw are held where servoing ended and the z
   target steps down at ``expert_insert_speed`` (the scripted expert's insertion speed);
3. abort: not converged after ``servo_steps`` steps (e.g. markers out of view: the estimate is invalid,
   the twist zero): the gripper holds still and never descends: a no-success episode, counted in ``aborted``.

:func:`oracle_policy` is the ground-truth reference (:func:`~jaxrobot.sim.tasks.peg_servo.oracle_action`); it
alone reads the full ``state``.
"""

from __future__ import annotations

from jaxrobot.skills.servoing.estimators import Estimator


def camera_to_base(twist4, yaw, eye_offset=None):
    """(tcp velocity [3] world, yaw rate) that moves the eye camera by ``twist4`` = (vx, vy, vz, ωz), camera
    frame: v_eye = R_wc v; ω = R_wc ω ẑ (= -ωz about world z); v_tcp = v_eye - ω × (R_z(yaw) eye_offset).

    ``eye_offset``: the eye's position relative to the tcp in the yaw frame (only x, y matter: the lever arm of
    a yaw rotation); default ``peg_servo``'s :data:`~jaxrobot.sim.tasks.peg_servo.EYE_OFFSET`. The eye looks
    straight down with OpenCV axes x = the yaw frame's x, y = -y on both the gantry and the arm."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.peg_servo import EYE_OFFSET, eye_pose

    off = EYE_OFFSET if eye_offset is None else eye_offset
    _, r_wc = eye_pose(jnp.zeros(3), yaw)
    v_eye = r_wc @ twist4[:3]
    w = -twist4[3]
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    r = jnp.array([c * off[0] - s * off[1], s * off[0] + c * off[1]])
    return v_eye - w * jnp.array([-r[1], r[0], 0.0]), w


def servo_insert_policy(env, estimator: Estimator, gain: float = 10.0, servo_steps: int | None = None,
                        switch_m: float = 0.0005, switch_rad: float = 0.01, switch_streak: int = 2,
                        max_step: float = 0.01, max_yaw_step: float = 0.1):
    """``(init_carry, policy)`` with ``policy(obs, goal, carry) -> (action, carry)`` (one environment;
    ``obs`` as :func:`~jaxrobot.skills.servoing.evaluate_peg.visual_obs`).

    ``gain`` (1/s) scales the estimated correction into a velocity; per-step target changes are clipped to
    ``max_step`` metres and ``max_yaw_step`` radians. Insertion starts once the estimated tcp xy correction
    is below ``switch_m`` and the yaw correction below ``switch_rad`` for ``switch_streak`` consecutive steps.
    ``servo_steps`` (default: ``episode_steps - env.descent_steps``) is the servo budget before aborting.
    Carry: ``phase`` (0 servo, 1 insert, 2 aborted), the held x, y, z, yaw, the step count, the streak and
    ``switch_step``.
    """
    import jax.numpy as jnp

    c = env.config
    budget = c.episode_steps - env.descent_steps if servo_steps is None else servo_steps
    if budget < 1:
        raise ValueError(f"servo_steps must be >= 1, got {budget} (episode_steps {c.episode_steps})")
    if switch_streak < 1:
        raise ValueError(f"switch_streak must be >= 1, got {switch_streak}")
    dt = c.ctrl_dt
    descend = c.expert_insert_speed * dt

    def init_carry():
        return {"phase": jnp.int32(0), "hold": jnp.zeros(4, jnp.float32), "t": jnp.int32(0),
                "streak": jnp.int32(0), "switch_step": jnp.int32(-1)}

    def policy(obs, goal, carry):
        s = obs["proprio"]
        tcp, yaw = s[0:3], s[3]
        twist, valid = estimator(obs, goal)
        v, w = camera_to_base(twist, yaw, env.eye_offset)
        small = valid & (jnp.linalg.norm(v[0:2]) < switch_m) & (jnp.abs(w) < switch_rad)
        streak = jnp.where(small, carry["streak"] + 1, 0)
        servo_xyz = tcp + jnp.clip(gain * v * dt, -max_step, max_step)
        servo_yaw = yaw + jnp.clip(gain * w * dt, -max_yaw_step, max_yaw_step)
        phase = carry["phase"]
        start_insert = (phase == 0) & (streak >= switch_streak)
        abort = (phase == 0) & ~start_insert & (carry["t"] >= budget)
        here = jnp.concatenate([tcp, yaw[None]])
        hold = jnp.where(start_insert | abort, here, carry["hold"])
        phase = jnp.where(start_insert, 1, jnp.where(abort, 2, phase))
        servo = jnp.concatenate([servo_xyz, servo_yaw[None]])
        # The descent integrates the command (an arm's position servos lag it; a target set a fixed step below
        # the *measured* height would creep), leading the measured height by at most 3 mm (a jam pushes with a
        # bounded force).
        z_cmd = jnp.where(start_insert, tcp[2], carry["hold"][2]) - descend
        hold = hold.at[2].set(jnp.where(phase == 1, jnp.maximum(z_cmd, tcp[2] - 0.003), hold[2]))
        insert = jnp.concatenate([hold[0:2], hold[2:3], hold[3:4]])
        target = jnp.where(phase == 0, servo, jnp.where(phase == 1, insert, hold))
        switch = jnp.where(start_insert, carry["t"], carry["switch_step"])
        return env.servo_action(target), {"phase": phase, "hold": hold, "t": carry["t"] + 1, "streak": streak,
                                         "switch_step": switch}

    return init_carry, policy


def oracle_policy(env):
    """``(init_carry, policy)`` of the ground-truth reference; it reads the whole env ``State`` (``rollout(...,
    privileged=True)`` hands it over): ``peg_servo``'s :func:`~jaxrobot.sim.tasks.peg_servo.oracle_action`, or on
    the arm (``panda_peg_servo``) ``panda_peg_insertion``'s scripted expert (noise-free label) from the same start."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.peg_servo import PegServo, oracle_action

    def init_carry():
        return {"t": jnp.int32(0)}

    if isinstance(env, PegServo):
        def policy(state, goal, carry):
            s = state.obs["state"]
            return oracle_action(env, s, env.goal_tcp(env.mjx_model, s[12:14])), {"t": carry["t"] + 1}
    else:
        def policy(state, goal, carry):
            label, _ = env.expert(state, jax.random.PRNGKey(0))
            return label, {"t": carry["t"] + 1}

    return init_carry, policy
