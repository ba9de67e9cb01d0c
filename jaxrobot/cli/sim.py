"""``jaxrobot sim ...``: list tasks, generate scripted demonstrations, check the arm's inverse kinematics.

Fixed interface (scripts rely on it): ``jaxrobot sim gen-demos --task TASK --episodes N --out DIR [--seed S]``
prints, as its *last stdout line*, the directory ``tfds.builder_from_directory`` takes; that dataset's
``train`` split holds exactly N successful episodes. Everything else (progress, statistics) goes to
stderr, and mjx's import-time warp messages are kept off stdout (``jaxrobot.sim._mjx``).

``jaxrobot sim ik-check --targets N --seed S --out FILE.npz [--json]`` (fixed too): N random Panda
configurations inside the joint ranges give N TCP targets (MuJoCo C ``mj_kinematics``); IK solves them from
``panda.HOME_Q`` (random restarts for the ones that do not converge) and ``FILE.npz`` gets ``q`` [N, 7],
``target_pos`` [N, 3] (metres, world) and ``target_quat`` [N, 4] (w x y z), besides the errors MuJoCo C
measures at the solutions. With ``--json`` one JSON line on stdout (``model_xml``, ``site``, ``targets``,
``converged``, ``pos_err_mm`` / ``rot_err_deg`` with ``p50`` / ``p99`` / ``max``, ``seconds``,
``solves_per_sec``, ...), else a short summary.
Heavy imports happen inside the handlers so ``jaxrobot --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    sim = subparsers.add_parser("sim", help="MJX simulation: tasks, scripted demonstrations, IK check")
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

    p = sub.add_parser("ik-check", help="solve IK for random reachable Panda TCP poses, checked by MuJoCo C")
    p.add_argument("--targets", type=int, required=True, help="number of random targets (N)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .npz (q, target_pos, target_quat, errors)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of a summary")
    p.add_argument("--iterations", type=int, default=None, help="IK iterations per start (default: IKConfig's)")
    p.add_argument("--restart-rounds", type=int, default=6,
                   help="rounds of random restarts for unconverged targets (0: home start only)")
    p.set_defaults(func=_ik_check)


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
    import faulthandler

    from jaxrobot.sim import demos

    env = load_task(args.task, args.set, args.image_size)
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


def load_task(task: str, sets: list[str], image_size: int):
    """The task's env with ``--set`` overrides and ``--image-size`` (checked), as gen-demos and record take them."""
    from jaxrobot.cli.errors import CliError
    from jaxrobot.sim import registry

    if image_size < 0:
        raise CliError(f"--image-size must be >= 0, got {image_size}")
    env = registry.load(task, overrides=list(sets) + ([f"image_size={image_size}"] if image_size else []))
    if image_size and not env.config.cameras:
        raise CliError(f"task {task!r} renders no cameras; set cameras=... with --set")
    return env


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


def _ik_check(args: argparse.Namespace) -> int:
    import pathlib

    from jaxrobot.cli.errors import CliError

    if args.targets < 1:
        raise CliError(f"--targets must be >= 1, got {args.targets}")
    if args.iterations is not None and args.iterations < 1:
        raise CliError(f"--iterations must be >= 1, got {args.iterations}")
    if args.restart_rounds < 0:
        raise CliError(f"--restart-rounds must be >= 0, got {args.restart_rounds}")
    out = pathlib.Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out} is a directory; give a file name such as {out / 'ik.npz'}")
    existed = out.exists()
    try:  # fail before the solve, not after it
        out.open("ab").close()
    except OSError as e:
        raise CliError(f"cannot write --out {out}: {e.strerror or e}") from None

    import numpy as np

    from jaxrobot.sim import ik

    try:
        arrays, report = ik.random_target_check(args.targets, args.seed, iterations=args.iterations,
                                                restart_rounds=args.restart_rounds)
        with out.open("wb") as f:  # a file object: np.savez would append ".npz" to a bare name
            np.savez(f, **arrays)
    except BaseException:
        if not existed:
            out.unlink(missing_ok=True)
        raise
    if args.json:
        print(json.dumps(report))
    else:
        pe, re = report["pos_err_mm"], report["rot_err_deg"]
        print(f"{report['converged']}/{report['targets']} targets within 1 mm and 1 deg under mujoco.mj_kinematics "
              f"({report['converged_frac']:.2%}); position error p50 {pe['p50']:.4f} / p99 {pe['p99']:.4f} / max "
              f"{pe['max']:.4f} mm, rotation p50 {re['p50']:.4f} / p99 {re['p99']:.4f} / max {re['max']:.4f} deg; "
              f"inside joint ranges: {report['within_limits']}")
        print(f"{report['seconds']:.2f} s solving ({report['solves_per_sec']:.0f} targets/s, "
              f"{report['restarts']} restarts), compile {report['compile_seconds']:.1f} s; wrote {out}")
    return 0
