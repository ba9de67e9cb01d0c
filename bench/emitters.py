"""Should an experiment set ``train.cpu_fusion_emitters``? Its train step's time with XLA:CPU's newer fusion
emitters off and on, in one process.

    .venv/bin/python bench/emitters.py --config experiments/diffusion_panda_pick_cube.py:image \
        [--set data.path=D ...] [--steps 15]

Builds the experiment's real jitted step (its data source gives the batch) twice, once per setting, and
prints one JSON line: the median ms of ``--steps`` steps after the first for each, and their ratio. The answer
depends on the model (bench/RESULTS.md, "Performance"): convolution-heavy Diffusion Policy steps gain,
transformer (ACT) and state-only steps lose. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

os.environ.setdefault("JAXROBOT_NO_COMPILATION_CACHE", "1")

from jaxrobot import platform  # noqa: E402

platform.reexec_with_fast_allocator()  # as `jaxrobot train` runs (see platform.py)
platform.configure()

from measure import build_train_step, median_ms  # noqa: E402  (bench/ is this script's folder)

import jaxrobot.catalog  # noqa: E402, F401  (every config kind)
from jaxrobot import config as C  # noqa: E402
from jaxrobot.data.sources import make_source  # noqa: E402


def step_ms(cfg, steps: int) -> float:
    batch = next(make_source(cfg.data, global_batch_size=cfg.train.batch_size, seed=0))
    built = build_train_step(cfg, batch)
    state = built.state

    def run(batch):
        nonlocal state
        state, metrics = built.step(state, batch)  # the state is donated: carry it
        return metrics

    return round(median_ms(run, built.batch, reps=steps), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="experiment file[:variant]")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    cfg = C.load_experiment(args.config, args.set)
    out = {"bench": "emitters", "config": args.config, "batch": cfg.train.batch_size,
           "configured": cfg.train.cpu_fusion_emitters}
    for on in (False, True):
        out[f"step_ms_{'on' if on else 'off'}"] = step_ms(
            dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, cpu_fusion_emitters=on)), args.steps)
    out["on_over_off"] = round(out["step_ms_on"] / out["step_ms_off"], 3)
    out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
