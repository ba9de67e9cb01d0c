"""Closed-loop visual servoing in MJX on the ``servo_target`` task: batched evaluation of a camera-twist
controller (:mod:`~jaxrobot.skills.servoing.controllers`).

:func:`servo_eval` resets ``n`` environments, runs the whole loop (render → features / network → law →
integrate) under one ``jit`` with ``lax.scan``, and reports the final mean marker error in pixels at the image
size (geometric: marker centres projected from the final and the goal pose) and the convergence rate (final
error < ``success_px``, 2 px by default) with a Wilson 95% interval.

``jaxrobot servo target`` prints the IBVS numbers and, with ``--deep``, trains the deep servo net on rendered
pairs (:mod:`~jaxrobot.skills.servoing.train`) and evaluates it in the same loop (fresh starts: seed + 1000).
With the default fixed goal the network could ignore its goal image; ``--goal-translation 0.02
--goal-rotation-deg 5`` varies the goal view per episode (training pairs and evaluation alike), which it
cannot.
"""

from __future__ import annotations

import time

import numpy as np

from jaxrobot.skills.servoing.controllers import Controller, ibvs_controller


def make_env(**overrides):
    """The ``servo_target`` env with config ``overrides`` (field -> value)."""
    from jaxrobot.sim import registry

    return registry.load("servo_target", overrides=overrides or None)


def rollout(env, controller: Controller, n: int, seed: int, steps: int | None = None):
    """Run ``n`` environments for ``steps`` control steps; returns pixel errors [steps + 1, n] (numpy)."""
    import jax

    steps = env.config.episode_steps if steps is None else steps

    @jax.jit
    def run(keys):
        state = jax.vmap(env.reset)(keys)

        def body(st, _):
            goal = {"image": st.info["goal_image"], "depth": st.info["goal_depth"]}
            twist = jax.vmap(controller)(st.obs, goal)
            st = jax.vmap(env.step)(st, twist)
            return st, st.metrics["pixel_error"]

        _, errs = jax.lax.scan(body, state, None, length=steps)
        return jax.numpy.concatenate([state.metrics["pixel_error"][None], errs])

    return np.asarray(run(jax.random.split(jax.random.PRNGKey(seed), n)))


def servo_eval(controller: Controller | str = "ibvs", n: int = 100, seed: int = 0, *, env=None,
               steps: int | None = None) -> dict:
    """Closed-loop servoing from ``n`` random starts: final pixel error and convergence rate.

    ``controller`` is a controller function or ``"ibvs"`` (:func:`ibvs_controller` with defaults). Returns
    ``{"n", "steps", "initial_px_mean", "final_px_mean", "final_px_median", "final_px_p90",
    "convergence_rate", "ci95", "seconds"}`` (pixel errors at ``image_size``; convergence: final error
    < ``success_px``).
    """
    from jaxrobot.sim.evaluate import wilson_interval

    env = make_env() if env is None else env
    if controller == "ibvs":
        controller = ibvs_controller(env)
    t0 = time.perf_counter()
    errs = rollout(env, controller, n, seed, steps)
    seconds = time.perf_counter() - t0
    final = errs[-1]
    ok = int(np.sum(final < env.config.success_px))
    lo, hi = wilson_interval(ok, n)
    return {"n": n, "steps": int(errs.shape[0] - 1), "initial_px_mean": float(errs[0].mean()),
            "final_px_mean": float(final.mean()), "final_px_median": float(np.median(final)),
            "final_px_p90": float(np.quantile(final, 0.9)), "convergence_rate": ok / n,
            "ci95": [lo, hi], "seconds": round(seconds, 1)}
