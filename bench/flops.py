"""FLOP figures shared by the benchmarks: XLA's count for a compiled step, and this machine's matmul peak."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


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
