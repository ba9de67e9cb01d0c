"""Closed-loop visual servoing in MJX on the ``servo_target`` task: IBVS and deep-servo controllers,
batched evaluation, and a quick trainer for the deep-servo network on rendered pairs.

A *controller* maps one environment's observation and goal to a camera twist [6] (camera frame)::

    controller(obs: dict, goal: dict) -> twist      # goal = {"image": uint8 [S,S,3], "depth": [S,S]}

and is vmapped over environments. :func:`servo_eval` resets ``n`` environments, runs the whole loop
(render → features / network → law → integrate) under one ``jit`` with ``lax.scan``, and reports the final
mean marker error in pixels at the image size (geometric: marker centres projected from the final and the
goal pose) and the convergence rate (final error < ``success_px``, 2 px by default) with a Wilson 95%
interval.

Run ``python -m jaxrobot.servoing.evaluate`` for the IBVS numbers and, with ``--deep``, train the deep
servo net on rendered pairs and evaluate it in the same loop (fresh starts: seed + 1000). With the default
fixed goal the network could ignore its goal image; ``--goal-translation 0.02 --goal-rotation-deg 5``
varies the goal view per episode (training pairs and evaluation alike), which it cannot.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Controller = Callable[[dict, dict], Any]


def ibvs_controller(env, lam: float = 1.0, mode: str = "current") -> Controller:
    """IBVS on the four colour-marker centroids (:func:`~jaxrobot.sim.tasks.servo_target.marker_features`).

    Depths come from the depth image (mean over each marker's mask); the goal features and depths from the
    goal image. A marker missing from either image is dropped from the law (its rows zeroed).
    """
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_features
    from jaxrobot.vision.ibvs import interaction_matrix

    k = env.intrinsics

    def controller(obs, goal):
        s, z, n = marker_features(obs["image_eye"], obs["depth_eye"], k)
        s_star, z_star, n_star = marker_features(goal["image"], goal["depth"], k)
        ok = (n > 0) & (n_star > 0)
        z = jnp.where(ok, z, 1.0)
        z_star = jnp.where(ok, z_star, 1.0)
        if mode == "current":
            lhat = interaction_matrix(s, z)
        elif mode == "desired":
            lhat = interaction_matrix(s_star, z_star)
        else:
            lhat = 0.5 * (interaction_matrix(s, z) + interaction_matrix(s_star, z_star))
        w = jnp.repeat(ok.astype(jnp.float32), 2)
        e = (s - s_star).reshape(-1) * w
        return -lam * jnp.linalg.pinv(lhat * w[:, None]) @ e

    return controller


def deep_controller(model, params) -> Controller:
    """The deep servo network (:class:`~jaxrobot.models.servo.ServoModel`) on (current, goal) images."""

    def controller(obs, goal):
        batch = {"observation/image": obs["image_eye"][None], "observation/goal_image": goal["image"][None]}
        return model.predict(params, batch)[0]

    return controller


def load_servo_checkpoint(workdir: str, step: int | None = None, use_ema: bool = True):
    """(model, params) of the servo net in a ``jaxrobot train`` workdir (``experiments/servo_target.py``)."""
    import jaxrobot.servoing.dataset  # noqa: F401  (registers the data config kind for from_dict)
    from jaxrobot.train.checkpoint import load_model_checkpoint

    m = load_model_checkpoint(workdir, step, kind="servo", use_ema=use_ema)
    return m.model, m.params


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


def train_deep_servo(env, pairs: int = 2048, steps: int = 1500, batch: int = 64, seed: int = 0,
                     lr: float = 1e-3, log: Callable[[str], None] = print, pairs_fn: Callable | None = None):
    """Train :class:`~jaxrobot.models.servo.ServoModel` on ``pairs`` rendered pairs (a fixed pool).

    Labels: ``pairs_fn(env, rng, n)`` (default :func:`~jaxrobot.sim.tasks.servo_target.servo_pairs`:
    pose-based twist, λ = 1/s). The twist scale is the labels' per-component standard deviation. Returns
    (model, params, info dict).
    """
    import jax
    import jax.numpy as jnp
    import optax

    from jaxrobot.models.servo import ServoConfig, ServoModel
    from jaxrobot.sim.tasks.servo_target import servo_pairs

    t0 = time.perf_counter()
    gen = jax.jit(functools.partial(pairs_fn or servo_pairs, env, n=256))
    chunks = [gen(k) for k in jax.random.split(jax.random.PRNGKey(seed + 1), max(1, pairs // 256))]
    data = {key: jnp.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    n = data["servo/twist"].shape[0]
    scale = tuple(float(s) for s in np.maximum(np.asarray(data["servo/twist"]).std(0), 1e-3))
    t_data = time.perf_counter() - t0
    model = ServoModel(ServoConfig(conv_features=(16, 32, 64), hidden=(128,), twist_scale=scale))
    params = model.init(jax.random.PRNGKey(seed), {k: v[:2] for k, v in data.items()})
    opt = optax.adamw(optax.cosine_decay_schedule(lr, steps), weight_decay=1e-4)
    opt_state = opt.init(params)

    @jax.jit
    def train_step(params, opt_state, key):
        kb, kd = jax.random.split(key)
        idx = jax.random.randint(kb, (batch,), 0, n)
        b = {k: v[idx] for k, v in data.items()}
        (loss, aux), grads = jax.value_and_grad(model.loss, has_aux=True)(params, b, kd)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, aux

    key = jax.random.PRNGKey(seed + 2)
    for i in range(steps):
        key, sub = jax.random.split(key)
        params, opt_state, aux = train_step(params, opt_state, sub)
        if i % 250 == 0 or i == steps - 1:
            log(f"step {i} loss {float(aux['loss']):.4f} twist_rmse {float(aux['twist_rmse']):.4f}")
    val = gen(jax.random.PRNGKey(seed + 3))  # fresh pairs: held-out error of the regressed twist
    pred = model.predict(params, val)
    val_rmse = float(jnp.sqrt(jnp.mean(jnp.square(pred - val["servo/twist"]))))
    val_rel = float(jnp.sqrt(jnp.mean(jnp.square((pred - val["servo/twist"]) / model.scale))))
    info = {"pairs": int(n), "train_steps": steps, "data_seconds": round(t_data, 1),
            "val_twist_rmse": val_rmse, "val_scaled_rmse": val_rel,
            "train_seconds": round(time.perf_counter() - t0 - t_data, 1), "twist_scale": scale,
            "final_loss": float(aux["loss"])}
    return model, params, info


def main(argv=None) -> int:
    from jaxrobot import platform

    platform.configure()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--deep", action="store_true", help="also train and evaluate the deep servo net")
    p.add_argument("--no-ibvs", action="store_true")
    p.add_argument("--pairs", type=int, default=2048)
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--goal-translation", type=float, default=0.0, help="goal pose range per axis (m)")
    p.add_argument("--goal-rotation-deg", type=float, default=0.0, help="goal rotation range per axis (deg)")
    p.add_argument("--workdir", default=None, help="evaluate the servo net of this `jaxrobot train` workdir")
    args = p.parse_args(argv)
    env = make_env(goal_translation=args.goal_translation, goal_rotation=math.radians(args.goal_rotation_deg))
    if not args.no_ibvs:
        print(json.dumps({"controller": "ibvs", **servo_eval("ibvs", args.n, args.seed, env=env,
                                                            steps=args.steps)}), flush=True)
    if args.workdir:
        model, params = load_servo_checkpoint(args.workdir)
        res = servo_eval(deep_controller(model, params), args.n, args.seed + 1000, env=env, steps=args.steps)
        print(json.dumps({"controller": "deep", "workdir": args.workdir, **res}), flush=True)
    if args.deep:
        model, params, info = train_deep_servo(env, pairs=args.pairs, steps=args.train_steps, seed=args.seed)
        print(json.dumps({"training": info}), flush=True)
        res = servo_eval(deep_controller(model, params), args.n, args.seed + 1000, env=env, steps=args.steps)
        print(json.dumps({"controller": "deep", **res}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
