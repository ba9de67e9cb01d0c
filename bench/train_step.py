"""Train-step throughput: samples/s and achieved FLOP/s as a share of this machine's peak matmul rate.

    python bench/train_step.py [--batch 256] [--hidden 1024] [--steps 50]

Prints one JSON line. FLOPs per step come from XLA's cost analysis of the compiled step; the peak is a
jitted 2048x2048 f32 matmul measured in the same run (so the ratio is machine-independent-ish).
"""

from __future__ import annotations

import argparse
import json
import time

from jaxrobot import platform

platform.reexec_with_fast_allocator()  # as `jaxrobot train` runs (see platform.py)
platform.configure()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxrobot import config as C  # noqa: E402
from jaxrobot.data.sources import make_source  # noqa: E402
from jaxrobot.data.sources.synthetic import SyntheticDataConfig  # noqa: E402
from jaxrobot.models.bc import BCConfig  # noqa: E402
from jaxrobot.models.registry import build_model  # noqa: E402
from jaxrobot.train.config import ExperimentConfig, MeshConfig, OptimizerConfig, TrainConfig  # noqa: E402
from jaxrobot.train.loop import _to_global  # noqa: E402
from jaxrobot.train.mesh import batch_sharding, make_mesh  # noqa: E402
from jaxrobot.train.optimizer import lr_schedule, make_optimizer  # noqa: E402
from jaxrobot.train.state import create_train_state  # noqa: E402
from jaxrobot.train.step import make_jit_step  # noqa: E402


def peak_matmul_flops(n: int = 2048, reps: int = 20) -> float:
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(reps):
        out = f(a)
    out.block_until_ready()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--compute-dtype", default="float32")
    args = ap.parse_args()

    cfg = C.validate(ExperimentConfig(
        name="bench", model=BCConfig(action_dim=7, horizon=16, hidden=(args.hidden,) * 3),
        data=SyntheticDataConfig(num_episodes=64, episode_length=100, state_dim=32, action_dim=7,
                                 n_obs_steps=2, horizon=16),
        optimizer=OptimizerConfig(lr=1e-4), mesh=MeshConfig(),
        train=TrainConfig(steps=args.steps, batch_size=args.batch, compute_dtype=args.compute_dtype)))
    mesh = make_mesh(cfg.mesh)
    model, tx = build_model(cfg.model), make_optimizer(cfg.optimizer, args.steps)
    source = make_source(cfg.data, global_batch_size=args.batch)
    batches = [_to_global(next(source), batch_sharding(mesh)) for _ in range(4)]
    state, shardings = create_train_state(model, tx, jax.random.PRNGKey(0), batches[0], mesh, cfg.mesh, False)
    step = make_jit_step(model, tx, cfg.train, lr_schedule(cfg.optimizer, 1e-4, args.steps), mesh, shardings)
    compiled = step.lower(state, batches[0]).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    flops = float(cost.get("flops", 0.0))
    state, m = step(state, batches[0])
    jax.block_until_ready(m)
    t0 = time.perf_counter()
    for i in range(args.steps):
        state, m = step(state, batches[i % len(batches)])
    jax.block_until_ready(m)
    dt = time.perf_counter() - t0
    peak = peak_matmul_flops()
    achieved = flops * args.steps / dt
    print(json.dumps({
        "bench": "train_step", "model": "bc_mlp", "hidden": args.hidden, "batch": args.batch,
        "devices": jax.device_count(), "compute_dtype": args.compute_dtype,
        "steps_per_sec": round(args.steps / dt, 2), "samples_per_sec": round(args.batch * args.steps / dt, 1),
        "step_gflops": round(flops / 1e9, 3), "achieved_gflops_per_sec": round(achieved / 1e9, 2),
        "peak_matmul_gflops_per_sec": round(peak / 1e9, 2), "flops_utilisation": round(achieved / peak, 3),
    }))


if __name__ == "__main__":
    main()
