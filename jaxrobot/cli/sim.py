"""``jaxrobot sim ...``: list tasks, generate scripted demonstrations.

Fixed interface (scripts rely on it): ``jaxrobot sim gen-demos --task TASK --episodes N --out DIR [--seed S]``
prints, as its *last stdout line*, the directory ``tfds.builder_from_directory`` takes; that dataset's
``train`` split holds exactly N successful episodes. Everything else (progress, statistics) goes to
stderr, and mjx's import-time warp messages are kept off stdout (``jaxrobot.sim._mjx``).
Heavy imports happen inside the handlers so ``jaxrobot --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    sim = subparsers.add_parser("sim", help="MJX simulation: tasks, scripted demonstrations")
    sub = sim.add_subparsers(dest="sim_command", required=True)
    _register_label_grasps(sub)

    p = sub.add_parser("tasks", help="list the registered tasks")
    p.set_defaults(func=_tasks)

    p = sub.add_parser("gen-demos", help="write successful scripted-expert episodes as an RLDS dataset")
    p.add_argument("--task", required=True)
    p.add_argument("--episodes", type=int, required=True, help="number of successful episodes to write")
    p.add_argument("--out", required=True, help="output directory (parent of the dataset folder)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=0,
                   help="render camera images of this side into the observations (0: state only)")
    p.add_argument("--batch-size", type=int, default=256, help="environments per batched call (<= 512)")
    p.add_argument("--randomize", action="store_true", help="domain-randomise friction, mass, size, colours")
    p.add_argument("--action-label", choices=("clean", "executed"), default="clean",
                   help="record the expert's clean target (default, DART-style) or the noisy executed action")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a task config field (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset of that name")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_gen_demos)


def _tasks(args: argparse.Namespace) -> int:
    from jaxrobot.sim import registry

    for name in registry.tasks():
        print(name)
    return 0


def _gen_demos(args: argparse.Namespace) -> int:
    from jaxrobot.cli.errors import CliError

    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    if not 1 <= args.batch_size <= 512:
        raise CliError(f"--batch-size must be in [1, 512] on CPU, got {args.batch_size}")
    if args.image_size < 0:
        raise CliError(f"--image-size must be >= 0, got {args.image_size}")
    import faulthandler

    from jaxrobot.sim import demos, registry

    overrides = list(args.set)
    if args.image_size:
        overrides.append(f"image_size={args.image_size}")
    env = registry.load(args.task, overrides=overrides)
    if args.image_size and not env.config.cameras:
        raise CliError(f"task {args.task!r} renders no cameras; set cameras=... with --set")
    # A hung XLA call fails loudly instead of stalling a pipeline (shared/FACTS.md: MJX deadlocks seen
    # with other jax versions). Generous: scales with the requested work.
    try:
        faulthandler.dump_traceback_later(600 + 2 * args.episodes, exit=True, file=sys.__stderr__)
    except (AttributeError, ValueError, OSError):  # no real stderr (embedded / captured): no watchdog
        pass
    try:
        stats = demos.generate(env, args.task, args.out, args.episodes, seed=args.seed,
                               batch_size=args.batch_size, randomize=args.randomize,
                               action_label=args.action_label, progress=not args.no_progress,
                               overwrite=args.overwrite)
    finally:
        faulthandler.cancel_dump_traceback_later()
    print(f"{stats['episodes']} demos in {stats['seconds']:.1f} s ({stats['demos_per_hour']:.0f} demos/hour "
          f"incl. compile and writing, {stats['demos_per_hour_after_compile']:.0f} after the first (compiling) "
          f"call; expert success {stats['expert_success_rate']:.1%})", file=sys.stderr)
    print(json.dumps({k: v for k, v in stats.items() if k != "path"}), file=sys.stderr)
    print(stats["path"])
    return 0


def _register_label_grasps(sub) -> None:
    """``jaxrobot sim label-grasps``; the MJX grasping code is imported only when it runs, so building the
    parser never starts the JAX backend (``jax.distributed.initialize`` must come first in ``train``)."""
    p = sub.add_parser("label-grasps",
                       help="physics-labelled planar (and 6-DoF) grasps on grasp_objects, as RLDS")
    p.add_argument("--scenes", type=int, required=True)
    p.add_argument("--candidates", type=int, default=64, help="grasp candidates per scene (K)")
    p.add_argument("--out", required=True, help="output directory (parent of the dataset folder)")
    p.add_argument("--split", choices=("train", "novel_instances", "novel_categories"), default="train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--random-fraction", type=float, default=0.25, help="share of random (mostly negative) grasps")
    p.add_argument("--chunk", type=int, default=256, help="grasps per compiled MJX call (<= 512)")
    p.add_argument("--candidates-6dof", type=int, default=0,
                   help="also K6 tilted 6-DoF grasps per scene, executed in the 6-DoF gripper scene")
    p.add_argument("--max-tilt-deg", type=float, default=30.0,
                   help="largest 6-DoF approach tilt from vertical (degrees)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_label_grasps)


def _label_grasps(args) -> int:
    import faulthandler
    import json
    import math
    import sys

    from jaxrobot.config import validate
    from jaxrobot.skills.grasping.label import GraspLabelConfig, label_grasps, write_dataset

    cfg = validate(GraspLabelConfig(
        scenes=args.scenes, candidates=args.candidates, split=args.split, seed=args.seed,
        random_fraction=args.random_fraction, exec_chunk=args.chunk,
        candidates_6dof=getattr(args, "candidates_6dof", 0),
        max_tilt=math.radians(getattr(args, "max_tilt_deg", 30.0))))
    try:
        faulthandler.dump_traceback_later(900 + args.scenes * args.candidates // 10, exit=True, file=sys.__stderr__)
    except (AttributeError, ValueError, OSError):
        pass
    try:
        labels = label_grasps(cfg, progress=not args.no_progress, log=lambda m: print(m, file=sys.stderr))
        path = write_dataset(labels, args.out, overwrite=args.overwrite, progress=not args.no_progress)
    finally:
        faulthandler.cancel_dump_traceback_later()
    print(json.dumps(labels["stats"]), file=sys.stderr)
    print(path)
    return 0
