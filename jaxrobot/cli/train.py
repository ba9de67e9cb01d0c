"""``jaxrobot train`` and ``jaxrobot ckpt``: argument parsing only; the work is in the library."""

from __future__ import annotations

import argparse
import sys

from jaxrobot.cli import ckpt


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an experiment; resumes when the workdir holds a checkpoint")
    p.add_argument("--config", required=True, help="experiments/<name>.py[:variant]")
    p.add_argument("--workdir", required=True)
    p.add_argument("--steps", type=int, default=None, help="override train.steps")
    p.add_argument("--checkpoint-every", type=int, default=None, help="override train.checkpoint_every")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--coordinator", default=None, help="multi-host: coordinator host:port")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--local-device-ids", default=None, help="comma list of local accelerator ids")
    p.set_defaults(func=run_train)

    c = sub.add_parser("ckpt", help="inspect checkpoints")
    csub = c.add_subparsers(dest="ckpt_command", required=True)
    d = csub.add_parser("digest", help="print step=<N> sha256=<hex> over the saved train state")
    d.add_argument("--workdir", required=True)
    d.add_argument("--step", type=int, default=None)
    d.set_defaults(func=run_digest)
    ckpt.register(csub)  # import-lerobot


def run_train(args) -> int:
    from jaxrobot.train import distributed

    ids = tuple(int(x) for x in args.local_device_ids.split(",")) if args.local_device_ids else None
    distributed.initialize(distributed.DistributedArgs(args.coordinator, args.num_processes, args.process_id, ids))

    import jaxrobot.catalog  # noqa: F401  (every config kind; only now: its modules may start the XLA backend)
    from jaxrobot.config import load_experiment
    from jaxrobot.train.loop import TrainingDiverged, train

    cfg = load_experiment(args.config, args.set)
    evaluator = None
    if cfg.train.eval_every:
        from jaxrobot.policies.evaluation import make_evaluator

        evaluator = make_evaluator(cfg)
    try:
        train(cfg, args.workdir, steps=args.steps, checkpoint_every=args.checkpoint_every,
              progress=not args.no_progress, evaluator=evaluator)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0


def run_digest(args) -> int:
    from jaxrobot.train.checkpoint import digest, restore_arrays

    step, tree = restore_arrays(args.workdir, args.step, item="state")
    print(f"step={step} sha256={digest(tree)}")
    return 0
