"""How multimodal is ``push_t``'s expert: which half of the T its first push lands on, per episode strategy.

Usage: ``.venv/bin/python bench/push_t_strategies.py [--episodes 128] [--seed 21] [--bonus 0.5]``; prints ONE JSON
line. The same seeded scenes are run with the strategy bonus (``expert_side_bonus``) and without it (the baseline,
a unimodal expert, in the same process): for each strategy the share of episodes whose pusher is on that half of
the T (block frame, along the bar) when the block first moves, the expert's success rate and mean episode length.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxrobot import platform  # noqa: E402

platform.configure()

import numpy as np  # noqa: E402

import jaxrobot.catalog  # noqa: E402,F401
from jaxrobot.sim import registry  # noqa: E402
from jaxrobot.sim.batch import batched  # noqa: E402
from jaxrobot.sim.demos import rollout_expert  # noqa: E402


def measure(bonus: float, episodes: int, seed: int) -> dict:
    env = registry.load("push_t", overrides={"expert_side_bonus": bonus})
    r = rollout_expert(batched(env), seed, 0, episodes)
    st, strategy, done = r["obs/state"], r["strategy"][:, 0], r["done"]
    first_done = done.argmax(axis=1)
    ok = r["success"][np.arange(episodes), first_done] & done.any(axis=1)
    moved = np.linalg.norm(st[:, :, 2:4] - st[:, :1, 2:4], axis=-1) > 0.002
    p = st[np.arange(episodes), moved.argmax(axis=1)]
    d = p[:, 0:2] - p[:, 2:4]
    x_block = np.cos(p[:, 4]) * d[:, 0] + np.sin(p[:, 4]) * d[:, 1]
    out = {"success_rate": float(ok.mean()), "mean_length": float((first_done[ok] + 1).mean())}
    for k, (name, side) in enumerate(zip(env.expert_strategies, (-1.0, 1.0), strict=True)):
        mine = strategy == k
        out[f"share_{name}"] = float(mine.mean())
        out[f"first_push_on_{name}"] = float((x_block[mine] * side > 0).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=128)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--bonus", type=float, default=0.5)
    args = ap.parse_args()
    base = measure(0.0, args.episodes, args.seed)
    strat = measure(args.bonus, args.episodes, args.seed)
    out = {"bench": "push_t_strategies", "episodes": args.episodes, "seed": args.seed, "bonus": args.bonus,
           **{f"strategies_{k}": v for k, v in strat.items()}, **{f"unimodal_{k}": v for k, v in base.items()},
           "length_ratio": strat["mean_length"] / base["mean_length"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
