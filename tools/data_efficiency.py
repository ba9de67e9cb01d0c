"""Success against the number of demonstrations: generate, train and evaluate one policy per demo count.

    .venv/bin/python tools/data_efficiency.py --out /tmp/eff [--sizes 25,50,100,200] \\
        [--config experiments/act_panda_pick_cube_image.py] [--task panda_pick_cube] [--image-size 64] \\
        [--demo-seed 41] [--episodes 200] [--eval-seed 99] [--set key=value ...] [--label "ACT, images"]

For each N: ``jaxrobot sim gen-demos --episodes N --seed S`` (the N-demo set is the first N episodes of any
larger one with the same seed), ``jaxrobot train --config C --set data.path=...`` and ``jaxrobot eval --episodes
E --seed 99 --json`` on episodes no policy trained on. Each stage is skipped when its output exists, so an
interrupted study resumes where it stopped and one size can be added later. Writes ``OUT/data_efficiency.json``
(rows, and the series in the ``jaxrobot plot points`` format), ``OUT/data_efficiency.png`` (success with Wilson
intervals against N, log scale), and prints one JSON line of the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _jaxrobot(*args: str, log: pathlib.Path) -> str:
    """Run one CLI command (stderr to ``log``); its stdout. A failure stops the study naming the log."""
    exe = pathlib.Path(sys.executable).with_name("jaxrobot")
    cmd = [str(exe) if exe.exists() else "jaxrobot", *args]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    with open(log, "a") as err:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(f"error: {' '.join(cmd[:3])} failed (exit {proc.returncode}); see {log}")
    return proc.stdout


def run_size(n: int, args, out: pathlib.Path) -> dict:
    demos, work = out / f"demos{n}", out / f"run{n}"
    log = out / f"n{n}.log"
    data = demos / f"jaxrobot_sim_{args.task}" / "1.0.0"
    if not (data / "dataset_info.json").exists():
        _jaxrobot("sim", "gen-demos", "--task", args.task, "--episodes", str(n), "--image-size",
                  str(args.image_size), "--seed", str(args.demo_seed), "--out", str(demos), log=log)
    summary = work / "train_summary.json"
    if not summary.exists():
        sets = [x for s in args.set for x in ("--set", s)]
        stdout = _jaxrobot("train", "--config", args.config, "--workdir", str(work), "--set", f"data.path={data}",
                           *sets, log=log)
        line = next((ln for ln in stdout.splitlines() if ln.startswith("TRAIN_SUMMARY ")), None)
        summary.write_text(line.split(" ", 1)[1] if line else "{}")
    result = work / f"eval_{args.episodes}_seed{args.eval_seed}.json"
    if not result.exists():
        stdout = _jaxrobot("eval", "--workdir", str(work), "--task", args.task, "--episodes", str(args.episodes),
                           "--seed", str(args.eval_seed), "--json", log=log)
        result.write_text(stdout.strip().splitlines()[-1])
    res, train = json.loads(result.read_text()), json.loads(summary.read_text())
    return {"demos": n, "success_rate": res["success_rate"], "ci95": res["ci95"], "episodes": res["episodes"],
            "train_wall_s": train.get("wall_s"), "steps": train.get("step")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--sizes", default="25,50,100,200")
    p.add_argument("--config", default="experiments/act_panda_pick_cube_image.py")
    p.add_argument("--task", default="panda_pick_cube")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--demo-seed", type=int, default=41)
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--eval-seed", type=int, default=99)
    p.add_argument("--set", action="append", default=[], help="training override (repeatable)")
    p.add_argument("--label", default="ACT from images")
    p.add_argument("--goal", type=float, default=0.8, help="dashed goal line on the plot")
    args = p.parse_args()
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
    except ValueError:
        sys.exit(f"error: --sizes must be comma-separated integers, got {args.sizes!r}")
    if not sizes or sizes[0] < 1:
        sys.exit("error: --sizes must be positive")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [run_size(n, args, out) for n in sizes]

    from jaxrobot.plots import Series, save_line_plot

    series = Series(args.label, [r["demos"] for r in rows], [r["success_rate"] for r in rows],
                    [r["ci95"][0] for r in rows], [r["ci95"][1] for r in rows])
    table = {"xlabel": "demonstrations", "ylabel": f"success ({args.episodes} episodes, seed {args.eval_seed})",
             "title": f"{args.task}: {os.path.basename(args.config)}", "logx": True, "goal": args.goal,
             "ylim": [0, 1.02], "series": [series.__dict__ | {"x": list(series.x), "y": list(series.y)}],
             "rows": rows}
    (out / "data_efficiency.json").write_text(json.dumps(table, indent=1))
    save_line_plot(out / "data_efficiency.png", [series], xlabel=table["xlabel"], ylabel=table["ylabel"],
                   title=table["title"], logx=True, hline=args.goal, ylim=(0, 1.02))
    print(json.dumps({"rows": rows, "png": str(out / "data_efficiency.png")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
