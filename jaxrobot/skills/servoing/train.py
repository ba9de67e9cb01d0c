"""The deep servo net for the closed loops: a quick trainer on MJX-rendered pairs (``jaxrobot servo target|peg
--deep``), and loading a net trained by ``jaxrobot train`` (``experiments/servo.py:target`` / ``:peg``).

The trainer draws a fixed pool of pairs with the task's pair generator
(:func:`~jaxrobot.sim.tasks.servo_target.servo_pairs`, :func:`~jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`),
regresses the pose-based twist label (λ = 1/s) and reports the held-out error on fresh pairs.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np


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


def train_peg_servo_net(env, pairs: int = 4096, steps: int = 3000, seed: int = 0,
                        log: Callable[[str], None] = print):
    """Train the deep servo net on the servo task's pairs (:func:`~jaxrobot.sim.tasks.peg_servo.peg_servo_pairs`:
    ``peg_servo`` or, on the arm, ``panda_peg_servo``) with :func:`train_deep_servo`. Returns (model, params,
    info)."""
    from jaxrobot.sim.tasks.peg_servo import peg_servo_pairs

    return train_deep_servo(env, pairs=pairs, steps=steps, seed=seed, log=log, pairs_fn=peg_servo_pairs)


def load_servo_checkpoint(workdir: str, step: int | None = None, use_ema: bool = True):
    """(model, params) of the servo net in a ``jaxrobot train`` workdir (``experiments/servo.py:target``)."""
    import jaxrobot.skills.servoing.dataset  # noqa: F401  (registers the data config kind for from_dict)
    from jaxrobot.train.checkpoint import load_model_checkpoint

    m = load_model_checkpoint(workdir, step, kind="servo", use_ema=use_ema)
    return m.model, m.params
