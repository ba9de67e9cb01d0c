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


def camera_to_base(twist4, yaw):
    """(tcp velocity [3] world, yaw rate) that moves the eye camera by ``twist4`` = (vx, vy, vz, ωz), camera
    frame: v_eye = R_wc v; ω = R_wc ω ẑ (= -ωz about world z); v_base = v_eye - ω × (R_z(yaw) EYE_OFFSET)."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.peg_servo import EYE_OFFSET, eye_pose

    _, r_wc = eye_pose(jnp.zeros(3), yaw)
    v_eye = r_wc @ twist4[:3]
    w = -twist4[3]
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    r = jnp.array([c * EYE_OFFSET[0] - s * EYE_OFFSET[1], s * EYE_OFFSET[0] + c * EYE_OFFSET[1]])
    return v_eye - w * jnp.array([-r[1], r[0], 0.0]), w


def servo_insert_policy(env, estimator: Estimator, gain: float = 10.0, servo_steps: int | None = None,
                        switch_m: float = 0.0005, switch_rad: float = 0.01, switch_streak: int = 2,
                        max_step: float = 0.01, max_yaw_step: float = 0.1):
    """``(init_carry, policy)`` with ``policy(obs, goal, carry) -> (action, carry)`` (one environment;
    ``obs`` as :func:`~jaxrobot.skills.servoing.evaluate_peg.visual_obs`).

    ``gain`` (1/s) scales the estimated correction into a velocity; per-step target changes are clipped to
    ``max_step`` metres and ``max_yaw_step`` radians. Insertion starts once the estimated tcp xy correction
    is below ``switch_m`` and the yaw correction below ``switch_rad`` for ``switch_streak`` consecutive steps.
    ``servo_steps`` (default: ``episode_steps - 20``) is the servo budget before aborting. Carry: ``phase``
    (0 servo, 1 insert, 2 aborted), the held x, y, z, yaw, the step count, the streak and ``switch_step``.
    """
    import jax.numpy as jnp

    c = env.config
    budget = c.episode_steps - 20 if servo_steps is None else servo_steps
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
        v, w = camera_to_base(twist, yaw)
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
        insert = jnp.concatenate([hold[0:2], (tcp[2] - descend)[None], hold[3:4]])
        target = jnp.where(phase == 0, servo, jnp.where(phase == 1, insert, hold))
        action = jnp.concatenate([target, jnp.zeros(1)])  # fingers stay squeezed shut on the peg
        switch = jnp.where(start_insert, carry["t"], carry["switch_step"])
        return env.clip_action(action), {"phase": phase, "hold": hold, "t": carry["t"] + 1, "streak": streak,
                                         "switch_step": switch}

    return init_carry, policy


def oracle_policy(env):
    """``(init_carry, policy)`` of the ground-truth reference (:func:`~jaxrobot.sim.tasks.peg_servo.oracle_action`);
    it reads the full ``obs["state"]``, so it runs only with ``rollout(..., privileged=True)``."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.peg_servo import oracle_action

    def init_carry():
        return {"t": jnp.int32(0)}

    def policy(obs, goal, carry):
        s = obs["state"]
        return oracle_action(env, s, env.goal_tcp(env.mjx_model, s[12:14])), {"t": carry["t"] + 1}

    return init_carry, policy
