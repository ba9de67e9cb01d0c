"""``jaxrobot eval``: score a checkpoint's policy closed loop in MJX."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint closed loop in simulation")
    p.add_argument("--workdir", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--envs", type=int, default=64, help="parallel environments")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--videos", type=int, default=0, help="record this many episodes as GIFs")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=run_eval)


def run_eval(args) -> int:
    from jaxrobot.policies.evaluation import evaluate_checkpoint

    video_dir = f"{args.workdir}/videos" if args.videos else None
    res = evaluate_checkpoint(args.workdir, args.task, args.episodes, n_envs=args.envs, seed=args.seed,
                              step=args.step, videos=args.videos, video_dir=video_dir)
    out = {"success_rate": float(res["success_rate"]), "episodes": int(res["episodes"]),
           "ci95": [float(res["ci95"][0]), float(res["ci95"][1])]}
    if args.json:
        print(json.dumps(out))
    else:
        lo, hi = out["ci95"]
        print(f"{args.task}: success {out['success_rate']:.1%} over {out['episodes']} episodes "
              f"(95% CI {lo:.1%}-{hi:.1%}), checkpoint step {res['step']}")
    return 0
