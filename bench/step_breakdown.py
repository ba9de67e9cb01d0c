"""Where a train step's time goes: forward, forward + backward, and the optimiser update, each compiled alone.

    .venv/bin/python bench/step_breakdown.py act|diffusion [--dp-batch 64] [--fusion-emitters on|off|config]

The configs are ``make bench-peers``' (ACT defaults at batch 8 with one 96x96 camera; Diffusion Policy's PushT
defaults at batch 64). Prints one JSON line: the median ms of 5 calls and XLA's GFLOP count of ``fwd`` (the
loss), ``grads`` (loss and gradients), ``apply`` (clip + AdamW + EMA on given gradients, state donated) and the
real jitted ``full`` step, plus ``apply_passes``: the bytes XLA's cost analysis says the update moves, in units
of one pass over the parameters (an update that reads and writes each array once would be ~10 with EMA).
``--fusion-emitters`` compiles all four with XLA:CPU's newer fusion emitters on or off (default: what the
experiment's ``train.cpu_fusion_emitters`` says). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("JAXROBOT_NO_COMPILATION_CACHE", "1")
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from jaxrobot import platform  # noqa: E402

platform.reexec_with_fast_allocator()  # as `jaxrobot train` runs (see platform.py)
platform.configure()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402
from measure import build_train_step, compiled_flops, median_ms  # noqa: E402

from jaxrobot.train import step as S  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("policy", choices=("act", "diffusion"))
    ap.add_argument("--dp-batch", type=int, default=64)
    ap.add_argument("--fusion-emitters", choices=("on", "off", "config"), default="config")
    args = ap.parse_args()
    bc = peers.default_bench_config(args.policy, args.dp_batch)
    cfg = peers.our_config(bc)
    if args.fusion_emitters != "config":
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, cpu_fusion_emitters=args.fusion_emitters == "on"))
    built = build_train_step(cfg, peers.our_batch(bc))
    model, tx, state, batch = built.model, built.tx, built.state, built.batch
    options = S.compiler_options(cfg.train, built.mesh)
    rng = jax.random.PRNGKey(0)

    def fwd(state, batch):
        return S._loss_fn(model, cfg.train)(state.params, batch, rng)[0]

    def grads(state, batch):
        loss, _, g = S._grads(model, cfg.train, state, batch, rng)
        return loss, g

    def apply(state, g):
        return S._apply(state, g, tx, cfg.train, built.schedule, 0.0, {})[0]

    compiled = {name: jax.jit(fn, compiler_options=options).lower(state, batch).compile()
                for name, fn in (("fwd", fwd), ("grads", grads))}
    g = compiled["grads"](state, batch)[1]
    compiled["apply"] = jax.jit(apply, donate_argnums=(0,), compiler_options=options).lower(state, g).compile()
    full = built.step.lower(state, batch).compile()
    out = {"bench": "step_breakdown", "policy": args.policy, "batch": cfg.train.batch_size,
           "cpu_fusion_emitters": cfg.train.cpu_fusion_emitters,
           "allocator": platform.allocator(),
           "huge_pages_tunable": platform.HUGE_PAGE_TUNABLE in os.environ.get("GLIBC_TUNABLES", "")}
    for name in ("fwd", "grads"):
        out[f"{name}_ms"] = round(median_ms(compiled[name], state, batch), 1)
        out[f"{name}_gflop"] = round(compiled_flops(compiled[name]) / 1e9, 2)
    cost = compiled["apply"].cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    out["apply_passes"] = round(float(cost.get("bytes accessed", 0.0)) / 4 / n_params, 1)
    # apply and the full step donate their state, so each is timed on a chain of its own outputs
    spare = jax.tree.map(lambda x: x.copy(), state)
    t_apply = []
    for _ in range(6):
        t0 = time.perf_counter()
        spare = compiled["apply"](spare, g)
        jax.block_until_ready(spare)
        t_apply.append(time.perf_counter() - t0)
    out["apply_ms"] = round(float(np.median(t_apply[1:])) * 1e3, 1)
    t_full = []
    for _ in range(6):
        t0 = time.perf_counter()
        state, m = full(state, batch)
        jax.block_until_ready(m)
        t_full.append(time.perf_counter() - t0)
    out["full_ms"] = round(float(np.median(t_full[1:])) * 1e3, 1)
    out["full_gflop"] = round(compiled_flops(full) / 1e9, 2)
    out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
