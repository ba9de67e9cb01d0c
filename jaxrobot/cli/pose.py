"""``jaxrobot pose eval``: argument parsing; the work is in :mod:`jaxrobot.skills.pose.evaluate`.

``jaxrobot pose eval --workdir DIR --scenes N [--seed S] [--step K] [--no-pick] --json`` prints ONE JSON
object on one stdout line: ``add_accuracy``, ``add_s_accuracy``, ``add_or_add_s_accuracy`` (each with a
``*_ci95`` Wilson interval), ``pick_success_rate`` (estimated pose) and ``pick_success_rate_gt_pose``,
``per_object``, ``scenes``, ``step``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    g = subparsers.add_parser("pose", help="6-DoF object pose: evaluate a trained pose model in MJX")
    sub = g.add_subparsers(dest="pose_command", required=True)
    p = sub.add_parser("eval", help="ADD / ADD-S accuracy and pick success on held-out rendered scenes")
    p.add_argument("--workdir", required=True, help="training workdir with a pose checkpoint")
    p.add_argument("--scenes", type=int, default=200)
    p.add_argument("--seed", type=int, default=None, help="data seed of the test scenes (default: the config's)")
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--no-pick", action="store_true", help="skip picking in MJX")
    p.add_argument("--json", action="store_true", help="print one JSON line (else a readable summary)")
    p.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from jaxrobot.cli.errors import CliError

    if args.scenes < 1:
        raise CliError(f"--scenes must be >= 1, got {args.scenes}")
    from jaxrobot.skills.pose import evaluate

    predictor = evaluate.load_predictor(args.workdir, args.step)
    res = evaluate.evaluate_pose(predictor, args.scenes, seed=args.seed, pick=not args.no_pick,
                                 log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"{res['scenes']} test scenes, step {res['step']}: ADD {res['add_accuracy']:.1%}  "
          f"ADD-S {res['add_s_accuracy']:.1%}  ADD(-S) {res['add_or_add_s_accuracy']:.1%}")
    if "pick_success_rate" in res:
        print(f"pick: estimated pose {res['pick_success_rate']:.1%}, true pose {res['pick_success_rate_gt_pose']:.1%}")
    for name, e in res["per_object"].items():
        print(f"  {name}: ADD {e['add_accuracy']:.1%}  ADD-S {e['add_s_accuracy']:.1%}  "
              f"t err {e['median_translation_error_mm']} mm  R err {e['median_rotation_error_deg']} deg")
    return 0
