"""Closed-loop evaluation of peg insertion by visual servoing in MJX (``peg_servo``): IBVS or the deep servo
net aligns the held peg over the hole from the eye-in-hand image, then a scripted straight descent inserts it
(:mod:`~jaxrobot.skills.servoing.estimators`, :mod:`~jaxrobot.skills.servoing.policies`).

A visual controller never sees the ground truth: :func:`rollout` hands it only :func:`visual_obs`
(``proprio`` = ``state[0:5]``: tcp position, yaw, finger opening; ``image_eye``, ``depth_eye``; no ``state``
key, so reading the peg or hole state fails at trace time) and the taught goal view (``image``, ``depth``).
Only the ground-truth reference ``oracle`` gets the full observation (``privileged=True``).

:func:`peg_eval` runs ``n`` seeded episodes under one ``jit`` (vmapped envs, ``lax.scan`` over steps) and
reports insertion success with a Wilson 95% interval. References with ground-truth state:
``oracle`` (:func:`~jaxrobot.sim.tasks.peg_servo.oracle_action`, same starts) and ``expert``
(``peg_insertion``'s scripted pick-and-insert expert on its own task, :func:`expert_eval`).

    jaxrobot servo peg --episodes 100 [--deep] [--no-ibvs] [--references] [--set F=V] --json
"""

from __future__ import annotations

import time

import numpy as np

from jaxrobot.skills.servoing.estimators import ibvs_estimator
from jaxrobot.skills.servoing.policies import oracle_policy, servo_insert_policy

#: ``state[0:PROPRIO_DIM]`` is the gripper's own state (tcp position, yaw, finger opening); the rest
#: (peg pose, hole position, peg bottom) is ground truth, for references and metrics only.
PROPRIO_DIM = 5


def visual_obs(obs: dict) -> dict:
    """What a visual controller may see of a ``peg_servo`` / ``panda_peg_servo`` observation: ``proprio``
    (tcp position, yaw, finger opening: the gantry's ``state[..., 0:5]``, the arm's ``proprio``) and the eye
    images. There is deliberately no ``state`` key."""
    proprio = obs["proprio"] if "proprio" in obs else obs["state"][..., :PROPRIO_DIM]
    return {"proprio": proprio, "image_eye": obs["image_eye"], "depth_eye": obs["depth_eye"]}


#: The servo tasks: the gantry's and the arm's.
TASKS = ("peg_servo", "panda_peg_servo")


def make_env(overrides=None, task: str = "peg_servo", **fields):
    """The ``peg_servo`` (gantry) or ``panda_peg_servo`` (Franka Panda) env with config ``fields`` (field ->
    value) or ``overrides`` (``"field=value"`` strings, as ``--set``)."""
    from jaxrobot.sim import registry

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if overrides and fields:
        raise ValueError("pass either override strings or field values, not both")
    return registry.load(task, overrides=overrides or fields or None)


def rollout_fn(env, init_carry, policy, n: int, steps: int | None = None, *, privileged: bool = False):
    """The un-jitted ``run(keys [n, 2]) -> per-episode results`` of :func:`rollout`.

    Each step the policy gets ``visual_obs(obs)`` (proprioception and images only), or the whole env ``State``
    if ``privileged`` (ground-truth references such as :func:`~jaxrobot.skills.servoing.policies.oracle_policy`),
    and the goal view ``{"image", "depth"}``.
    """
    import jax
    import jax.numpy as jnp

    steps = env.config.episode_steps if steps is None else steps
    seen = (lambda st: st) if privileged else (lambda st: visual_obs(st.obs))

    def run(keys):
        state = jax.vmap(env.reset)(keys)
        carry = jax.vmap(lambda _: init_carry())(keys)
        nan = jnp.full((n,), jnp.nan, jnp.float32)
        acc = {"success": jnp.zeros(n, bool), "done": jnp.zeros(n, bool), "switch_px": nan, "switch_dist": nan}

        def body(x, _):
            st, cr, acc = x
            goal = {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}
            action, cr2 = jax.vmap(policy)(seen(st), goal, cr)
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

    ``controller``: ``"ibvs"`` (:func:`~jaxrobot.skills.servoing.estimators.ibvs_estimator` in
    :func:`~jaxrobot.skills.servoing.policies.servo_insert_policy`), ``"oracle"`` (ground-truth reference,
    the only one given the full state), or an ``(init_carry, policy)`` pair (a visual controller: it sees
    :func:`visual_obs` only). ``policy_kw`` go to ``servo_insert_policy`` and are accepted only for
    ``"ibvs"`` (build a pair with ``servo_insert_policy`` for other estimators).
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


def expert_eval(n: int = 100, seed: int = 0, task: str = "peg_insertion") -> dict:
    """A scripted expert (ground-truth state, noise-free labels) on its own task: ``peg_insertion``'s (pick the
    peg off the table and insert it, ``episode_steps`` 200) or ``panda_peg_insertion``'s (the arm, from its
    start pose): the reference insertion rate."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.sim import registry
    from jaxrobot.sim.evaluate import wilson_interval

    env = registry.load(task)

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
