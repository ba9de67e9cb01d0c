"""Recording loop timing and demonstrations per hour: ``jaxrobot record``'s code path with the ``sim`` leader.

Usage: ``.venv/bin/python bench/record_loop.py [--episodes 20] [--task panda_pick_cube] [--out DIR]
[--set episode_steps=300]``; prints ONE JSON line:

- ``jitter_p50_ms`` / ``_p99`` / ``_max``: |measured - nominal| control period of the real-time (x1) loop at the
  task's rate (50 Hz on panda_pick_cube), over every tick of every take (accepted or not);
- ``latency_p50_ms`` / ``_p99`` / ``_max``: from the start of a tick (leader read) to the command applied in the
  follower (after the task's control law: IK and gravity feed-forward);
- ``overruns``: ticks that started more than a period late; ``tick_work_p50_ms``: leader + follower per tick;
- ``demos_per_hour``: accepted episodes per wall-clock hour, real time, saving and media (MP4 + contact sheet)
  included; ``accepted`` / ``discarded``;
- baseline, same process, same leader and follower: a naive loop that sleeps ``period - work`` after each tick
  (``naive_jitter_p99_ms``); ``jitter_p99_ratio_naive_over_ours``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxrobot import platform  # noqa: E402

platform.configure()

import numpy as np  # noqa: E402

from jaxrobot.record.follower import SimFollower  # noqa: E402
from jaxrobot.record.leaders.scripted import ScriptedOperator  # noqa: E402
from jaxrobot.record.loop import timing_stats  # noqa: E402
from jaxrobot.record.recorder import Recorder  # noqa: E402
from jaxrobot.sim import registry  # noqa: E402


def naive_loop(env, ticks: int) -> tuple[list[float], list[float]]:
    """The loop people write first: do the work, then ``sleep(period - work)``; returns (periods, work)."""
    follower, leader = SimFollower(env, view=False), ScriptedOperator(env, seed=123)
    period = follower.control_dt
    state = follower.reset(123, 0)
    leader.begin(state, 0)
    starts, work = [], []
    for i in range(ticks):
        t0 = time.perf_counter()
        starts.append(t0)
        state = follower.step(leader.read(state).action)
        if bool(state.done):
            state = follower.reset(123, i + 1)
            leader.begin(state, i + 1)
        w = time.perf_counter() - t0
        work.append(w)
        time.sleep(max(0.0, period - w))
    return list(np.diff(starts)), work


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="panda_pick_cube")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--no-media", action="store_true")
    args = ap.parse_args()
    env = registry.load(args.task, overrides=args.set)
    out = args.out or tempfile.mkdtemp(prefix="bench_record_")
    # Warm-up take (compilation) outside the measurement.
    with Recorder(env, args.task, ScriptedOperator(env, seed=999), SimFollower(env, view=False),
                  tempfile.mkdtemp(prefix="bench_record_warm_"), media=False, progress=False) as rec:
        rec.take()
    with Recorder(env, args.task, ScriptedOperator(env, seed=0), SimFollower(env, view=False), out,
                  media=not args.no_media, progress=False) as rec:
        res = rec.run(args.episodes)
    periods, work = naive_loop(env, 500)
    naive = timing_stats(periods, work, env.config.ctrl_dt)
    t = res.timing
    print(json.dumps({
        "task": args.task, "rate_hz": t["rate_hz"], "episodes": args.episodes, "accepted": res.accepted,
        "discarded": res.discarded, "demos_per_hour": round(res.demos_per_hour, 1), "seconds": round(res.seconds, 1),
        **{k: round(v, 3) for k, v in t.items() if k.startswith(("jitter", "latency"))},
        "overruns": t["overruns"], "ticks": t["ticks"], "tick_work_p50_ms": round(float(np.median(work)) * 1e3, 3),
        "naive_jitter_p99_ms": round(naive["jitter_p99_ms"], 3),
        "jitter_p99_ratio_naive_over_ours": round(naive["jitter_p99_ms"] / max(t["jitter_p99_ms"], 1e-9), 2),
        "media": not args.no_media, "path": res.path}))


if __name__ == "__main__":
    main()
