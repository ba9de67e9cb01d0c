"""``jaxrobot rl finetune``: RL fine-tuning of an imitation policy (argument parsing only).

    jaxrobot rl finetune --base BASE_WORKDIR --task TASK --workdir DIR [--config FILE] [--steps N]
        [--set key=value ...]

Without ``--config`` the recipe of the reported result for the task (``experiments/rl_<task>.py``); ``--steps``
is environment steps (rounded up to whole iterations); running it again on the same ``DIR`` resumes.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository (jaxrobot/cli/rl.py)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rl", help="reinforcement learning: fine-tune an imitation policy with PPO in MJX")
    rsub = p.add_subparsers(dest="rl_command", required=True)
    f = rsub.add_parser("finetune", help="PPO fine-tuning (a residual over a frozen base policy, or from scratch)")
    f.add_argument("--base", required=True, help="workdir of the `jaxrobot train` run whose policy is fine-tuned")
    f.add_argument("--task", required=True, help="MJX task (`jaxrobot sim tasks`)")
    f.add_argument("--workdir", required=True, help="run folder; an existing one is resumed")
    f.add_argument("--config", default=None, help="RL recipe (default: experiments/rl_<task>.py)")
    f.add_argument("--steps", type=int, default=None, help="environment steps in total (config: env_steps)")
    f.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    f.set_defaults(func=run_finetune)


def run_finetune(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.config import ConfigError, load_experiment, override
    from jaxrobot.rl.loop import finetune
    from jaxrobot.train.loop import TrainingDiverged

    path = args.config
    if path is None:
        path = ROOT / "experiments" / f"rl_{args.task}.py"
        if not path.is_file():
            known = sorted(q.stem.removeprefix("rl_") for q in (ROOT / "experiments").glob("rl_*.py"))
            raise CliError(f"no RL recipe for task {args.task!r} (experiments/rl_{args.task}.py); recipes exist for: "
                           f"{', '.join(known) or 'none'}; pass --config FILE")
    cfg = load_experiment(path, args.set)
    if getattr(cfg, "kind", None) != "rl":
        raise ConfigError(f"{path} is not an RL recipe (its get_config() returned a {type(cfg).__name__})")
    if cfg.task != args.task:
        raise ConfigError(f"config field 'task': {path} is a recipe for {cfg.task!r}, not --task {args.task!r}")
    if args.steps is not None:
        if args.steps < 1:
            raise CliError(f"--steps must be >= 1, got {args.steps}")
        cfg = override(cfg, f"env_steps={args.steps}")
    try:
        finetune(cfg, args.base, args.workdir, progress=not args.no_progress)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0

