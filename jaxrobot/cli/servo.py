"""``jaxrobot servo``: closed-loop visual servoing in MJX (IBVS and the deep servo net), one JSON line per result.

- ``jaxrobot servo target``: servo the eye-in-hand camera to a goal view of four markers (task ``servo_target``).
- ``jaxrobot servo peg``: align a held peg over a hole by servoing, then insert (task ``peg_servo``).

``--workdir`` evaluates the servo net of a ``jaxrobot train`` workdir (``experiments/servo.py:target``,
``experiments/servo.py:peg``); ``--deep`` trains one with the skill's own small trainer first.
"""

from __future__ import annotations

import argparse
import json
import math

from jaxrobot.cli.errors import CliError


def register(subparsers) -> None:
    g = subparsers.add_parser("servo", help="visual servoing in MJX: IBVS and the deep servo net, closed loop")
    sub = g.add_subparsers(dest="servo_command", required=True)
    p = sub.add_parser("target", help="servo the eye-in-hand camera to the goal view (task servo_target)")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--deep", action="store_true", help="also train and evaluate the deep servo net")
    p.add_argument("--no-ibvs", action="store_true")
    p.add_argument("--pairs", type=int, default=2048)
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--goal-translation", type=float, default=0.0, help="goal pose range per axis (m)")
    p.add_argument("--goal-rotation-deg", type=float, default=0.0, help="goal rotation range per axis (deg)")
    p.add_argument("--workdir", default=None, help="evaluate the servo net of this `jaxrobot train` workdir")
    p.set_defaults(func=run_target)
    p = sub.add_parser("peg", help="peg insertion by visual servoing (task peg_servo, or panda_peg_servo on the arm)")
    p.add_argument("--task", choices=("peg_servo", "panda_peg_servo"), default="peg_servo",
                   help="the gantry's task (default) or the Franka Panda's (eye-in-hand camera on the hand)")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deep", action="store_true", help="also train the deep servo net on peg_servo pairs and "
                   "evaluate it (fresh episodes: seed + 1000)")
    p.add_argument("--workdir", default=None, help="evaluate the servo net of this `jaxrobot train` workdir")
    p.add_argument("--no-ibvs", action="store_true")
    p.add_argument("--references", action="store_true",
                   help="also run the ground-truth references (oracle servo; the scripted expert of "
                   "peg_insertion, or of panda_peg_insertion on the arm)")
    p.add_argument("--pairs", type=int, default=4096)
    p.add_argument("--train-steps", type=int, default=3000)
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a task config field, e.g. start_xy=0.03 (repeatable; --deep trains on it too)")
    p.add_argument("--json", action="store_true", help="one JSON object per line (the output is always JSON)")
    p.set_defaults(func=run_peg)


def run_target(args: argparse.Namespace) -> int:
    from jaxrobot.skills.servoing.controllers import deep_controller
    from jaxrobot.skills.servoing.evaluate import make_env, servo_eval
    from jaxrobot.skills.servoing.train import load_servo_checkpoint, train_deep_servo

    if args.n < 1:
        raise CliError(f"--n must be >= 1, got {args.n}")
    env = make_env(goal_translation=args.goal_translation, goal_rotation=math.radians(args.goal_rotation_deg))
    if not args.no_ibvs:
        print(json.dumps({"controller": "ibvs", **servo_eval("ibvs", args.n, args.seed, env=env,
                                                            steps=args.steps)}), flush=True)
    if args.workdir:
        model, params = load_servo_checkpoint(args.workdir)
        res = servo_eval(deep_controller(model, params), args.n, args.seed + 1000, env=env, steps=args.steps)
        print(json.dumps({"controller": "deep", "workdir": args.workdir, **res}), flush=True)
    if args.deep:
        model, params, info = train_deep_servo(env, pairs=args.pairs, steps=args.train_steps, seed=args.seed)
        print(json.dumps({"training": info}), flush=True)
        res = servo_eval(deep_controller(model, params), args.n, args.seed + 1000, env=env, steps=args.steps)
        print(json.dumps({"controller": "deep", **res}), flush=True)
    return 0


def run_peg(args: argparse.Namespace) -> int:
    from jaxrobot.skills.servoing.estimators import deep_estimator
    from jaxrobot.skills.servoing.evaluate_peg import expert_eval, make_env, peg_eval
    from jaxrobot.skills.servoing.policies import servo_insert_policy
    from jaxrobot.skills.servoing.train import load_servo_checkpoint, train_peg_servo_net

    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    env = make_env(args.set, task=args.task)

    def emit(obj):
        print(json.dumps(obj), flush=True)

    if not args.no_ibvs:
        emit({"controller": "ibvs", **peg_eval("ibvs", args.episodes, args.seed, env=env)})
    if args.workdir:
        model, params = load_servo_checkpoint(args.workdir)
        pol = servo_insert_policy(env, deep_estimator(model, params))
        emit({"controller": "deep", "workdir": args.workdir,
              **peg_eval(pol, args.episodes, args.seed + 1000, env=env)})
    if args.deep:
        model, params, info = train_peg_servo_net(env, pairs=args.pairs, steps=args.train_steps, seed=args.seed,
                                                  log=lambda m: print(m, flush=True))
        emit({"training": info})
        pol = servo_insert_policy(env, deep_estimator(model, params))
        emit({"controller": "deep", **peg_eval(pol, args.episodes, args.seed + 1000, env=env)})
    if args.references:
        emit({"controller": "oracle", **peg_eval("oracle", args.episodes, args.seed, env=env)})
        expert_task = "panda_peg_insertion" if args.task == "panda_peg_servo" else "peg_insertion"
        emit({"controller": f"expert_{expert_task}", **expert_eval(args.episodes, args.seed, task=expert_task)})
    return 0
