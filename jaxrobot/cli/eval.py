"""``jaxrobot eval``: score a checkpoint's policy closed loop in MJX, or an export bundle through the runtime.

    jaxrobot eval --workdir DIR --task TASK --episodes N [--json]
    jaxrobot eval --bundle BUNDLE --task TASK --episodes N [--backend onnx|tflite] [--precision fp32] [--json]
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint closed loop in simulation")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--workdir", help="training run folder: the JAX policy of its (latest) checkpoint")
    src.add_argument("--bundle", help="export bundle: the robot-side runtime drives the policy (no JAX in it)")
    p.add_argument("--backend", default="onnx", choices=("onnx", "tflite"), help="runtime backend (--bundle)")
    p.add_argument("--precision", default="fp32", help="artifact precision to run (--bundle): fp32, fp16, int8")
    p.add_argument("--task", required=True)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--envs", type=int, default=64, help="parallel environments")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--videos", type=int, default=0,
                   help="record the first N episodes as videos (MP4 when PyAV is installed, else GIF) plus a "
                        "grid.png of their last frames framed green/red by success")
    p.add_argument("--video-dir", default=None, help="where videos go (default: WORKDIR/videos)")
    p.add_argument("--video-format", default=None, choices=("mp4", "gif"),
                   help="video container (default: mp4 when PyAV is installed, else gif)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=run_eval)


def run_eval(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.policies.evaluation import evaluate_bundle, evaluate_checkpoint
    from jaxrobot.sim.evaluate import eval_scalars

    if args.videos < 0:
        raise CliError(f"--videos must be >= 0, got {args.videos}")
    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    if args.bundle:
        if args.videos:
            raise CliError("--videos records checkpoint evaluations; use --workdir")
        res = evaluate_bundle(args.bundle, args.task, args.episodes, backend=args.backend,
                              precision=args.precision, n_envs=args.envs, seed=args.seed)
    else:
        from jaxrobot.rl.finetuned import evaluate_finetuned, is_rl_run

        video_dir = (args.video_dir or f"{args.workdir}/videos") if args.videos else None
        # an RL fine-tuning run (jaxrobot rl finetune): its base policy plus the trained residual
        evaluate = evaluate_finetuned if is_rl_run(args.workdir) else evaluate_checkpoint
        res = evaluate(args.workdir, args.task, args.episodes, n_envs=args.envs, seed=args.seed, step=args.step,
                       videos=args.videos, video_dir=video_dir, video_format=args.video_format)
    scalars = eval_scalars(res)
    out = {"success_rate": scalars["eval/success_rate"], "episodes": int(res["episodes"]),
           "ci95": [scalars["eval/ci95_lo"], scalars["eval/ci95_hi"]]}
    if "eval/mean_max_coverage" in scalars:  # PushT's second figure: the best coverage each episode reached
        out["mean_max_coverage"] = scalars["eval/mean_max_coverage"]
    if args.videos:
        out.update(videos=[str(v) for v in res.get("videos", [])], grid=res.get("grid"))
    if args.json:
        print(json.dumps(out))
    else:
        lo, hi = out["ci95"]
        which = (f"bundle via {args.backend} {args.precision}" if args.bundle
                 else f"checkpoint step {res['step']}")
        cov = f", mean max coverage {out['mean_max_coverage']:.3f}" if "mean_max_coverage" in out else ""
        print(f"{args.task}: success {out['success_rate']:.1%} over {out['episodes']} episodes "
              f"(95% CI {lo:.1%}-{hi:.1%}){cov}, {which}")
        if args.videos:
            print(f"videos: {', '.join(out['videos'])}; grid: {out['grid']}")
    return 0
