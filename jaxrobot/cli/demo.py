"""``make demo``: the main job end to end on the embedded default, ending with one ``DEMO_SUMMARY`` line.

MJX ``panda_pick_cube`` (the Franka Panda arm, IK in the step) → scripted-expert demos written as RLDS → train
ACT on them → closed-loop evaluation in MJX, with MP4s of the first episodes next to the bundle → ONNX + TFLite
export with parity checks → the robot-side runtime checks the bundle and drives the same closed-loop evaluation
itself (numpy + ONNX Runtime, no JAX in the policy). ``--task pick_cube --config
experiments/act_pick_cube_state.py`` runs the earlier gantry demo.
Each stage prints where its output went; rerunning reuses finished stages (demos are kept, training
resumes from its checkpoint, the bundle is rewritten).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from jaxrobot import platform

ROOT = pathlib.Path(__file__).resolve().parents[2]  # the repository (jaxrobot/cli/demo.py)


def _stage(i: int, n: int, text: str) -> None:
    print(f"[demo {i}/{n}] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jaxrobot.cli.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/demo", help="output folder (reused: finished stages are kept)")
    ap.add_argument("--task", default="panda_pick_cube")
    ap.add_argument("--config", default=str(ROOT / "experiments" / "act_panda_pick_cube.py") + ":state")
    ap.add_argument("--demos", type=int, default=200, help="expert demonstrations to generate")
    ap.add_argument("--steps", type=int, default=None, help="override the training steps")
    ap.add_argument("--episodes", type=int, default=100, help="closed-loop evaluation episodes")
    ap.add_argument("--videos", type=int, default=6, help="MP4s of the first evaluation episodes (0: none)")
    args = ap.parse_args(argv)
    platform.configure()

    from jaxrobot.config import load_experiment
    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.policies.evaluation import evaluate_bundle, evaluate_checkpoint
    from jaxrobot.sim import registry
    from jaxrobot.sim.demos import dataset_name, generate
    from jaxrobot.train.loop import train

    out = pathlib.Path(args.out).absolute()
    t0 = time.time()
    n = 7 if args.videos else 6

    data_path = out / "demos" / dataset_name(args.task) / "1.0.0"
    env = registry.load(args.task)  # an unknown task or a bad config fails here, before any work
    cfg = load_experiment(args.config, [f"data.path={data_path}"])
    out.mkdir(parents=True, exist_ok=True)
    if (data_path / "dataset_info.json").exists():
        _stage(1, n, f"reusing {args.task} demos in {data_path}")
    else:
        _stage(1, n, f"generating {args.demos} scripted {args.task} demos in MJX → {out / 'demos'}")
        stats = generate(env, args.task, str(out / "demos"), args.demos, seed=0)
        data_path = pathlib.Path(stats["path"])
        print(f"  {args.demos} demos at {stats['demos_per_hour']:.0f} demos/hour incl. compile, "
              f"{stats['demos_per_hour_after_compile']:.0f} after it "
              f"(expert success {stats['expert_success_rate']:.1%})", flush=True)

    workdir = out / cfg.name
    _stage(2, n, f"training {type(cfg.model).kind} ({cfg.name}) → {workdir}")
    res = train(cfg, workdir, steps=args.steps)

    _stage(3, n, f"evaluating closed loop in MJX: {args.episodes} episodes of {args.task}")
    ev = evaluate_checkpoint(workdir, args.task, args.episodes, seed=1)
    lo, hi = ev["ci95"]
    print(f"  success {ev['success_rate']:.1%} (95% CI {lo:.1%}-{hi:.1%})", flush=True)

    bundle = out / "bundle"
    _stage(4, n, f"exporting ONNX + TFLite with parity checks → {bundle}")
    report = export_checkpoint(workdir, bundle, formats=("onnx", "tflite"), precisions=("fp32",), overwrite=True,
                               log=lambda s: print("  " + s, flush=True))
    onnx_err = max(v["max_abs_err"] for v in report.values() if v["format"] == "onnx" and v["precision"] == "fp32")

    _stage(5, n, "robot-side runtime (numpy + ONNX Runtime / LiteRT) checks every artifact of the bundle")
    sys.path.insert(0, str(ROOT / "export" / "runtime"))
    from jaxrobot_runtime.check import check_bundle

    check = check_bundle(str(bundle))
    if not check["ok"]:
        print(f"error: runtime check failed: {json.dumps(check, default=str)[:2000]}", file=sys.stderr)
        return 1
    print(f"  runtime check ok: {len(check['artifacts'])} artifacts match the stored JAX outputs", flush=True)

    _stage(6, n, f"the runtime drives the policy closed loop: {args.episodes} episodes of {args.task} (ONNX)")
    rt = evaluate_bundle(bundle, args.task, args.episodes, backend="onnx", seed=1, threads=1)
    print(f"  runtime success {rt['success_rate']:.1%} (JAX policy {ev['success_rate']:.1%}, same scenes)",
          flush=True)

    videos: list[str] = []
    if args.videos:
        # Last: rendering opens an EGL context, after which a TFLite conversion in the same process has been
        # seen to segfault (TF 2.21 + MuJoCo EGL). Same seed, so the same episodes as stage 3.
        video_dir = out / "videos"
        _stage(7, n, f"recording {args.videos} of those episodes (failures first if any) → {video_dir}")
        rec = evaluate_checkpoint(workdir, args.task, args.episodes, seed=1, videos=args.videos,
                                  video_dir=video_dir, video_pick="mixed")
        videos = [str(v) for v in rec["videos"]]
        print(f"  episodes {rec['video_episodes']}; grid framed green/red by success: {rec['grid']}", flush=True)

    summary = {
        "task": args.task, "policy": type(cfg.model).kind, "demos": args.demos, "train_steps": res.step,
        "final_loss": res.metrics.get("loss"), "episodes": int(ev["episodes"]),
        "success_rate": float(ev["success_rate"]), "ci95": [float(lo), float(hi)],
        "export_max_abs_err": float(onnx_err), "runtime_success_rate": float(rt["success_rate"]),
        "bundle": str(bundle), "videos": videos,
        "wall_s": round(time.time() - t0, 1),
    }
    print("DEMO_SUMMARY " + json.dumps(summary), flush=True)
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main` with the ``jaxrobot`` command's error reporting (a short message; ``--debug`` for tracebacks)."""
    import os

    from jaxrobot.cli import errors

    if argv is None:  # started as a program: the allocator setting needs a fresh start (as `jaxrobot`)
        platform.reexec_with_fast_allocator()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("JAXROBOT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        return main(argv)
    except BaseException as e:  # noqa: BLE001 - as jaxrobot.cli.main
        if debug or isinstance(e, SystemExit):
            raise
        message, code = errors.describe(e)
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(run())
