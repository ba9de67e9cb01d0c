"""Peg insertion by visual servoing in MJX (``peg_servo``): IBVS or the deep servo net aligns the held peg
over the hole from the eye-in-hand image, then a scripted straight descent inserts it.

A visual controller never sees the ground truth: :func:`rollout` hands it only :func:`visual_obs`
(``proprio`` = ``state[0:5]``: tcp position, yaw, finger opening; ``image_eye``, ``depth_eye``; no ``state``
key, so reading the peg or hole state fails at trace time) and the taught goal view (``image``, ``depth``).
Only the ground-truth reference ``oracle`` gets the full observation (``privileged=True``).

A *pose-error estimator* maps one environment's visual observation and goal view to the camera twist that
would reach the goal view in one second (λ = 1/s, i.e. an estimate of the pose error) and a validity flag::

    estimator(obs: dict, goal: dict) -> (twist4 [vx, vy, vz, ωz] camera frame, valid)

Both estimators are valid only while at least three of the four markers are visible (``min_pixels`` each)
in the current and the goal image, found by the same colour segmentation; otherwise the twist is zero and
the policy holds (and aborts at the end of its budget) instead of converging on a guess.

The gripper has four DoF (x, y, z, yaw), so only the translation and the rotation about the optical axis
(parallel to the yaw axis) are commanded; roll and pitch never change. :func:`servo_insert_policy` wraps an
estimator into a ``peg_insertion`` action (absolute tcp / yaw / finger targets) with a latched phase:

1. servo: the twist is mapped to the gripper motion that moves the camera by it (:func:`camera_to_base`);
   tcp and yaw targets = measured + ``gain`` · that motion · ``ctrl_dt``. Only proprioception (``proprio``:
   tcp, yaw) and the images are used, never the hole or peg state;
2. insert, once converged: the estimated *gripper* correction (tcp xy and yaw, not camera pixels: the camera
   sits 6 cm from the peg, so a small image rotation is a large peg offset) has stayed below ``switch_m`` and
   ``switch_rad`` for ``switch_streak`` steps; then x, y and yaw are held where servoing ended and the z
   target steps down at ``expert_insert_speed`` (the scripted expert's insertion speed);
3. abort: not converged after ``servo_steps`` steps (e.g. markers out of view: the estimate is invalid,
   the twist zero): the gripper holds still and never descends: a no-success episode, counted in ``aborted``.

:func:`peg_eval` runs ``n`` seeded episodes under one ``jit`` (vmapped envs, ``lax.scan`` over steps) and
reports insertion success with a Wilson 95% interval. References with ground-truth state:
``oracle`` (:func:`~jaxrobot.sim.tasks.peg_servo.oracle_action`, same starts) and ``expert``
(``peg_insertion``'s scripted pick-and-insert expert on its own task).

    python -m jaxrobot.servoing.peg --episodes 100 [--deep] [--no-ibvs] [--references] [--set F=V] --json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Estimator = Callable[[dict, dict], Any]

#: ``state[0:PROPRIO_DIM]`` is the gripper's own state (tcp position, yaw, finger opening); the rest
#: (peg pose, hole position, peg bottom) is ground truth, for references and metrics only.
PROPRIO_DIM = 5


def visual_obs(obs: dict) -> dict:
    """What a visual controller may see of a ``peg_servo`` observation: ``proprio`` (``state[..., 0:5]``)
    and the eye images. There is deliberately no ``state`` key."""
    return {"proprio": obs["state"][..., :PROPRIO_DIM], "image_eye": obs["image_eye"],
            "depth_eye": obs["depth_eye"]}


def markers_visible(obs: dict, goal: dict, min_pixels: int = 4):
    """(per-marker visibility [4], valid): a marker counts if its colour mask
    (:func:`~jaxrobot.sim.tasks.servo_target.marker_masks`) has ``min_pixels`` or more pixels in both the
    current and the goal image; the view is usable with three or more."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_masks

    ok = ((marker_masks(obs["image_eye"]).sum((1, 2)) >= min_pixels)
          & (marker_masks(goal["image"]).sum((1, 2)) >= min_pixels))
    return ok, jnp.sum(ok) >= 3


# ---------------------------------------------------------------- estimators


def ibvs_estimator(env, min_pixels: int = 4) -> Estimator:
    """4-DoF IBVS (Chaumette & Hutchinson 2006, :mod:`jaxrobot.vision.ibvs`) on the marker centroids.

    Features: colour-mask centroids and mean depths of the four markers
    (:func:`~jaxrobot.sim.tasks.servo_target.marker_features`) in the current and goal RGB-D images; the
    interaction matrix at the current features and depths keeps the columns of (vx, vy, vz, ωz), and the
    twist is ``-L̂⁺ e`` (λ = 1). A marker with fewer than ``min_pixels`` pixels in either image is dropped
    from the law; with fewer than three left the estimate is invalid and the twist zero.
    """
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_features
    from jaxrobot.vision.ibvs import interaction_matrix

    k = env.intrinsics
    cols = jnp.array([0, 1, 2, 5])

    def estimator(obs, goal):
        s, z, n = marker_features(obs["image_eye"], obs["depth_eye"], k)
        s_star, _, n_star = marker_features(goal["image"], goal["depth"], k)
        ok = (n >= min_pixels) & (n_star >= min_pixels)
        valid = jnp.sum(ok) >= 3
        lhat = interaction_matrix(s, jnp.where(ok, z, 1.0))[:, cols]
        w = jnp.repeat(ok.astype(jnp.float32), 2)
        e = (s - s_star).reshape(-1) * w
        return jnp.where(valid, -jnp.linalg.pinv(lhat * w[:, None]) @ e, 0.0), valid

    return estimator


def deep_estimator(model, params, min_pixels: int = 4) -> Estimator:
    """The deep servo net (:class:`~jaxrobot.models.servo.ServoModel`) on (current, goal) eye images; trained
    on pose-based labels ``log(T_cur⁻¹ T_goal)`` (λ = 1/s), its twist estimates the pose error itself.

    The net always outputs *some* twist, so validity comes from the images: as for IBVS, at least three
    markers must be visible (``min_pixels`` each) in both the current and the goal image
    (:func:`markers_visible`); otherwise the estimate is invalid and the twist zero, so the policy never
    converges and descends on a view without markers.
    """
    import jax.numpy as jnp

    def estimator(obs, goal):
        batch = {"observation/image": obs["image_eye"][None], "observation/goal_image": goal["image"][None]}
        t = model.predict(params, batch)[0][jnp.array([0, 1, 2, 5])]
        _, valid = markers_visible(obs, goal, min_pixels)
        return jnp.where(valid, t, 0.0), valid

    return estimator


# ---------------------------------------------------------------- policy


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
    ``obs`` as :func:`visual_obs`).

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


# ---------------------------------------------------------------- evaluation


def make_env(overrides=None, **fields):
    """The ``peg_servo`` env with config ``fields`` (field -> value) or ``overrides`` (``"field=value"``
    strings, as ``--set``)."""
    from jaxrobot.sim import registry

    if overrides and fields:
        raise ValueError("pass either override strings or field values, not both")
    return registry.load("peg_servo", overrides=overrides or fields or None)


def rollout_fn(env, init_carry, policy, n: int, steps: int | None = None, *, privileged: bool = False):
    """The un-jitted ``run(keys [n, 2]) -> per-episode results`` of :func:`rollout`.

    Each step the policy gets ``visual_obs(obs)`` (proprioception and images only) unless ``privileged``
    (ground-truth references such as :func:`oracle_policy`), and the goal view ``{"image", "depth"}``.
    """
    import jax
    import jax.numpy as jnp

    steps = env.config.episode_steps if steps is None else steps
    seen = (lambda o: o) if privileged else visual_obs

    def run(keys):
        state = jax.vmap(env.reset)(keys)
        carry = jax.vmap(lambda _: init_carry())(keys)
        nan = jnp.full((n,), jnp.nan, jnp.float32)
        acc = {"success": jnp.zeros(n, bool), "done": jnp.zeros(n, bool), "switch_px": nan, "switch_dist": nan}

        def body(x, _):
            st, cr, acc = x
            goal = {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}
            action, cr2 = jax.vmap(policy)(seen(st.obs), goal, cr)
            started = (cr2.get("phase", 0) == 1) & (cr.get("phase", 0) == 0)
            acc = {"success": acc["success"] | (st.success & ~acc["done"]), "done": acc["done"] | st.done,
                   "switch_px": jnp.where(started, st.metrics["pixel_error"], acc["switch_px"]),
                   "switch_dist": jnp.where(started, st.metrics["peg_hole_dist"], acc["switch_dist"])}
            st = jax.vmap(env.step)(st, action)
            return (st, cr2, acc), None

        (st, cr, acc), _ = jax.lax.scan(body, (state, carry, acc), None, length=steps)
        acc["success"] = acc["success"] | (st.success & ~acc["done"])
        out = dict(acc, initial_px=state.metrics["pixel_error"], final_bottom=st.metrics["peg_bottom"],
                   final_dist=st.metrics["peg_hole_dist"])
        out["phase"] = cr.get("phase", jnp.zeros(n, jnp.int32))
        out["switch_step"] = cr.get("switch_step", jnp.full(n, -1, jnp.int32))
        return out

    return run


def rollout(env, init_carry, policy, n: int, seed: int, steps: int | None = None, *,
            privileged: bool = False) -> dict[str, np.ndarray]:
    """Run ``n`` seeded episodes (:func:`rollout_fn`, jitted); per-episode numpy results: ``success`` (ever,
    before the episode ends), ``phase`` (final), ``switch_step``, ``switch_px`` / ``switch_dist`` (geometric
    marker error in px and peg-to-hole distance in m when the insertion started; NaN if it never did),
    ``initial_px``, ``final_bottom``."""
    import jax

    run = jax.jit(rollout_fn(env, init_carry, policy, n, steps, privileged=privileged))
    return jax.tree.map(np.asarray, run(jax.random.split(jax.random.PRNGKey(seed), n)))


def summarize(res: dict[str, np.ndarray], seconds: float) -> dict:
    """Success rate with a Wilson 95% interval and the servo statistics of one :func:`rollout`."""
    from jaxrobot.sim.evaluate import wilson_interval

    n = int(res["success"].shape[0])
    ok = int(res["success"].sum())
    lo, hi = wilson_interval(ok, n)
    started = ~np.isnan(res["switch_px"])
    out = {"n": n, "success_rate": ok / n, "ci95": [round(lo, 4), round(hi, 4)],
           "initial_px_mean": float(res["initial_px"].mean()), "inserting": int(started.sum()),
           "aborted": int(np.sum(res["phase"] == 2)), "seconds": round(seconds, 1)}
    if started.any():
        out.update(switch_px_mean=float(res["switch_px"][started].mean()),
                   switch_px_max=float(res["switch_px"][started].max()),
                   switch_dist_mm_mean=float(1e3 * res["switch_dist"][started].mean()),
                   switch_dist_mm_max=float(1e3 * res["switch_dist"][started].max()),
                   switch_step_mean=float(res["switch_step"][started].mean()))
    return out


def peg_eval(controller: str | tuple = "ibvs", n: int = 100, seed: int = 0, *, env=None,
             steps: int | None = None, **policy_kw) -> dict:
    """Insertion success over ``n`` seeded episodes of ``peg_servo``.

    ``controller``: ``"ibvs"`` (:func:`ibvs_estimator` in :func:`servo_insert_policy`), ``"oracle"``
    (ground-truth reference, the only one given the full state), or an ``(init_carry, policy)`` pair (a
    visual controller: it sees :func:`visual_obs` only). ``policy_kw`` go to :func:`servo_insert_policy`
    and are accepted only for ``"ibvs"`` (build a pair with :func:`servo_insert_policy` for other estimators).
    """
    if isinstance(controller, str) and controller not in ("ibvs", "oracle"):
        raise ValueError(f"controller must be 'ibvs', 'oracle' or an (init_carry, policy) pair, got {controller!r}")
    if policy_kw and controller != "ibvs":
        kind = controller if isinstance(controller, str) else "an (init_carry, policy) pair"
        raise TypeError(f"policy keyword arguments {sorted(policy_kw)} apply only to controller 'ibvs', not "
                        f"{kind}: pass them to servo_insert_policy when building the pair")
    env = make_env() if env is None else env
    privileged = controller == "oracle"
    if controller == "ibvs":
        controller = servo_insert_policy(env, ibvs_estimator(env), **policy_kw)
    elif controller == "oracle":
        controller = oracle_policy(env)
    t0 = time.perf_counter()
    res = rollout(env, *controller, n=n, seed=seed, steps=steps, privileged=privileged)
    return summarize(res, time.perf_counter() - t0)


def expert_eval(n: int = 100, seed: int = 0) -> dict:
    """``peg_insertion``'s scripted expert (ground-truth state, noise-free labels) on its own task: pick
    the peg off the table and insert it (``episode_steps`` 200): the reference insertion rate."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.sim import registry
    from jaxrobot.sim.evaluate import wilson_interval

    env = registry.load("peg_insertion")

    @jax.jit
    def run(keys):
        state = jax.vmap(env.reset)(keys)

        def body(x, key):
            st, ok, done = x
            label, _ = jax.vmap(env.expert)(st, jax.random.split(key, keys.shape[0]))
            ok = ok | (st.success & ~done)
            done = done | st.done
            return (jax.vmap(env.step)(st, label), ok, done), None

        zeros = jnp.zeros(keys.shape[0], bool)
        (st, ok, done), _ = jax.lax.scan(body, (state, zeros, zeros),
                                         jax.random.split(keys[0], env.config.episode_steps))
        return ok | (st.success & ~done)

    t0 = time.perf_counter()
    ok = np.asarray(run(jax.random.split(jax.random.PRNGKey(seed), n)))
    lo, hi = wilson_interval(int(ok.sum()), n)
    return {"n": n, "success_rate": float(ok.mean()), "ci95": [round(lo, 4), round(hi, 4)],
            "seconds": round(time.perf_counter() - t0, 1)}


def train_peg_servo_net(env, pairs: int = 4096, steps: int = 3000, seed: int = 0,
                        log: Callable[[str], None] = print):
    """Train the deep servo net on ``peg_servo`` pairs (:func:`~jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`)
    with :func:`jaxrobot.servoing.evaluate.train_deep_servo`'s trainer. Returns (model, params, info)."""
    from jaxrobot.servoing.evaluate import train_deep_servo
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    return train_deep_servo(env, pairs=pairs, steps=steps, seed=seed, log=log, pairs_fn=peg_servo_pairs)


def main(argv=None) -> int:
    from jaxrobot import platform

    platform.configure()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deep", action="store_true", help="also train the deep servo net on peg_servo pairs and "
                   "evaluate it (fresh episodes: seed + 1000)")
    p.add_argument("--workdir", default=None, help="evaluate the servo net of this `jaxrobot train` workdir")
    p.add_argument("--no-ibvs", action="store_true")
    p.add_argument("--references", action="store_true",
                   help="also run the ground-truth references (oracle servo, peg_insertion expert)")
    p.add_argument("--pairs", type=int, default=4096)
    p.add_argument("--train-steps", type=int, default=3000)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a peg_servo config field, e.g. start_xy=0.03 (repeatable; --deep trains on it too)")
    p.add_argument("--json", action="store_true", help="one JSON object per line (the output is always JSON)")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error(f"--episodes must be >= 1, got {args.episodes}")
    env = make_env(args.set)

    def emit(obj):
        print(json.dumps(obj), flush=True)

    if not args.no_ibvs:
        emit({"controller": "ibvs", **peg_eval("ibvs", args.episodes, args.seed, env=env)})
    if args.workdir:
        from jaxrobot.servoing.evaluate import load_servo_checkpoint

        model, params = load_servo_checkpoint(args.workdir)
        pol = servo_insert_policy(env, deep_estimator(model, params))
        emit({"controller": "deep", "workdir": args.workdir,
              **peg_eval(pol, args.episodes, args.seed + 1000, env=env)})
    if args.deep:
        model, params, info = train_peg_servo_net(env, pairs=args.pairs, steps=args.train_steps, seed=args.seed,
                                                  log=lambda m: print(m, flush=True))
        emit({"training": info})
        pol = servo_insert_policy(env, deep_estimator(model, params))
        emit({"controller": "deep", **peg_eval(pol, args.episodes, args.seed + 1000, env=env)})
    if args.references:
        emit({"controller": "oracle", **peg_eval("oracle", args.episodes, args.seed, env=env)})
        emit({"controller": "expert_peg_insertion", **expert_eval(args.episodes, args.seed)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

