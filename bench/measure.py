"""Pieces the benchmarks share: the real train step built from a config, step timing, and FLOP figures (XLA's
count for a compiled step, this machine's matmul peak). Import after ``platform.configure()``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.models.registry import build_model
from jaxrobot.train.mesh import batch_sharding, make_mesh
from jaxrobot.train.optimizer import lr_schedule, make_optimizer
from jaxrobot.train.state import create_train_state
from jaxrobot.train.step import make_jit_step


@dataclasses.dataclass
class TrainStep:
    """An experiment's jitted train step (``make_jit_step``: the whole update, state donated), what built it,
    its initial state and a batch placed on the mesh: what ``jaxrobot train`` runs, without the loop."""

    cfg: Any
    model: Any
    tx: Any
    schedule: Any
    mesh: Any
    state: Any
    batch: dict
    step: Any


def build_train_step(cfg, batch: dict, total_steps: int = 100) -> TrainStep:
    """``cfg`` (a validated experiment config) and a host batch (numpy arrays) → :class:`TrainStep`."""
    mesh = make_mesh(cfg.mesh)
    model, tx = build_model(cfg.model), make_optimizer(cfg.optimizer, total_steps)
    schedule = lr_schedule(cfg.optimizer, cfg.optimizer.lr, total_steps)
    batch = jax.device_put(batch, batch_sharding(mesh))
    state, shardings = create_train_state(model, tx, jax.random.PRNGKey(0), batch, mesh, cfg.mesh,
                                          cfg.train.ema_decay > 0)
    step = make_jit_step(model, tx, cfg.train, schedule, mesh, shardings)
    return TrainStep(cfg, model, tx, schedule, mesh, state, batch, step)


def median_ms(fn, *args, reps: int = 5) -> float:
    """Median wall time of ``fn(*args)`` in ms over ``reps`` calls after one untimed call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def compiled_flops(compiled) -> float:
    """FLOPs of one call of a compiled function, from XLA's cost analysis (0 when XLA gives none)."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float((cost or {}).get("flops", 0.0))


def peak_matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    """The best single ``n x n`` f32 ``jnp.dot`` of ``reps``, in GFLOP/s: the ceiling a step is compared with."""
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(jnp.dot)
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9
