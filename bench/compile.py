"""Cold compile against a warm start from the persistent compilation cache: ACT's and Diffusion Policy's train
steps at the reference defaults, and the MJX demo step (``panda_pick_cube``'s fused expert chunk).

    .venv/bin/python bench/compile.py [--targets act,diffusion,mjx_demo]

Each target runs twice, each time in a fresh process sharing one new, empty cache folder: the first process
compiles cold and fills the cache, the second is what a user's next ``jaxrobot train`` / ``jaxrobot sim`` run
pays. Each process splits the start-up into ``trace_s`` (Python tracing to a jaxpr), ``lower_s`` (to StableHLO)
and ``compile_s`` (XLA compile, or the cache lookup and load), then runs the step once (``first_run_s``).
The goal is ``warm compile_s <= 0.1 x cold compile_s``; tracing is reported apart, since no cache removes it.

Prints one JSON line: per target both processes' figures, ``warm_over_cold_compile``, and the 1-minute load
average at start and end. ~3 min on a quiet 2-core box.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGETS = ("act", "diffusion", "mjx_demo")


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 3)


def _train_step(policy: str):
    """The jitted train step of the bench-peers config of ``policy`` and its arguments."""
    sys.path.insert(0, str(ROOT / "bench"))
    import peers
    from measure import build_train_step

    bc = peers.default_bench_config(policy)
    built = build_train_step(peers.our_config(bc), peers.our_batch(bc))
    return built.step, (built.state, built.batch)


def _mjx_demo_step():
    """``jaxrobot sim gen-demos``' jitted chunk of expert control steps on a batch of ``panda_pick_cube`` envs."""
    from jaxrobot.sim import demos, registry
    from jaxrobot.sim.batch import batched, episode_keys

    env = registry.load("panda_pick_cube")
    benv = batched(env)
    k_reset, k_policy, _ = episode_keys(0, 0, 64)
    state = benv.reset(env.mjx_model, k_reset)
    return benv.expert_steps, (env.mjx_model, state, k_policy, demos.CHUNK)


def child(target: str) -> None:
    from jaxrobot import platform

    platform.configure()
    import jax

    fn, args = _mjx_demo_step() if target == "mjx_demo" else _train_step(target)
    traced, trace_s = _timed(lambda: fn.trace(*args))
    lowered, lower_s = _timed(traced.lower)
    compiled, compile_s = _timed(lowered.compile)
    call_args = args[:-1] if target == "mjx_demo" else args  # the chunk length is static
    _, run_s = _timed(lambda: jax.block_until_ready(compiled(*call_args)))
    print(json.dumps({"trace_s": trace_s, "lower_s": lower_s, "compile_s": compile_s, "first_run_s": run_s}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    from jaxrobot import platform

    load_start = os.getloadavg()[0]
    out: dict = {"bench": "compile"}
    for target in args.targets.split(","):
        if target not in TARGETS:
            raise SystemExit(f"error: unknown target {target!r}; known: {', '.join(TARGETS)}")
        with tempfile.TemporaryDirectory(prefix="jaxrobot-compile-bench-") as cache:
            env = dict(os.environ, JAXROBOT_CACHE=cache, JAXROBOT_NO_COMPILATION_CACHE="0")
            runs = []
            for _ in ("cold", "warm"):
                proc = subprocess.run([sys.executable, __file__, "--child", target], env=env, text=True,
                                      stdout=subprocess.PIPE, check=True)
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            cache_mb = sum(f.stat().st_size for f in pathlib.Path(cache).rglob("*") if f.is_file()) / 2**20
        cold, warm = runs
        out[target] = {"cold": cold, "warm": warm, "cache_mb": round(cache_mb, 1),
                       "warm_over_cold_compile": round(warm["compile_s"] / cold["compile_s"], 3)}
    out["loadavg_1min"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    out["allocator"] = platform.allocator()
    out["huge_pages_tunable"] = platform.HUGE_PAGE_TUNABLE in os.environ.get("GLIBC_TUNABLES", "")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
