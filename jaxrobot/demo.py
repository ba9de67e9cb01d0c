"""``make demo``: the main job end to end on the embedded defaults, with a one-line summary.

Stages run in order and each prints where its output went. Today: train the BC baseline on the
synthetic dataset and on the real Bridge sample (when the RLDS reader is present). The simulation,
policy and export issues extend this to MJX demos → RLDS → train → closed-loop evaluation → export.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from jaxrobot import platform


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jaxrobot.demo")
    ap.add_argument("--out", default="out/demo", help="output folder (reused: training resumes)")
    ap.add_argument("--steps", type=int, default=None, help="override the training steps")
    args = ap.parse_args(argv)
    platform.configure()

    from jaxrobot.config import load_experiment
    from jaxrobot.train.loop import train

    root = pathlib.Path(__file__).resolve().parents[1]
    out = pathlib.Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    summary: dict = {}

    cfg = load_experiment(root / "experiments" / "bc_synthetic.py")
    print(f"[demo] training the BC baseline on synthetic data → {out / 'bc_synthetic'}", flush=True)
    res = train(cfg, out / "bc_synthetic", steps=args.steps)
    summary.update(task="synthetic", policy="bc", train_steps=res.step, final_loss=res.metrics.get("loss"),
                   samples_per_sec=round(res.samples_per_second, 1))
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["out"] = str(out)
    print("DEMO_SUMMARY " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
