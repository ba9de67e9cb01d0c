"""Side by side with LeRobot: training samples/s of ACT and Diffusion Policy, ours against LeRobot 0.4.4's.

    make bench-peers                                   # builds .venv-peers, then runs this
    .venv/bin/python bench/peers.py [--policies act,diffusion] [--rounds 5] [--act-image 96] ...

Takes 7-9 min on a quiet 2-core box, ~20 min when other work loads it (Diffusion Policy at batch 64 is
~20 s/step ours, ~35-50 s theirs). ``JAXROBOT_NO_COMPILATION_CACHE=0`` reuses the persistent compilation
cache instead of compiling cold. Oversubscribed cores slow torch's OpenMP far more than XLA (LeRobot's ACT
step went from ~1.2 s to ~20 s at load 8 on 2 cores, ours from ~1.2 s to ~5 s): compare on a quiet machine.

Prints one JSON line per policy (``policy``, ``ours_samples_per_s``, ``lerobot_samples_per_s``, ``ratio``,
``achieved_gflops_per_s``: XLA's cost analysis of our step over its median time, ``peak_matmul_gflops_per_s``:
the best 2048x2048 f32 ``jnp.dot`` in this process, ``loadavg_1min`` [at start, at end]), then one JSON line
with everything: both frameworks' samples/s per round, their ratio, both trainable-parameter counts, and the
first step's time (for us: XLA compile, measured with the persistent compilation cache off, plus the first
execution). Quote figures only from runs whose 1-minute load average starts below 1.

The two frameworks cannot share an interpreter (ours: numpy 2.4, no torch), so this driver runs ours
in-process and LeRobot in ``bench/peers_lerobot.py`` under ``.venv-peers/bin/python``, kept alive for the
whole policy and driven over stdin: rounds alternate (ours N steps, theirs N steps, ...) so load from
other work on the shared cores hits both sides alike. Each side's rate is the median over rounds;
the ratio is the median of the rounds' ratios.

Both sides train on the same arrays (``peers_lerobot.synthetic_arrays``, one seed) with the policy's own
optimiser recipe: ours from ``experiments/act_aloha_defaults.py`` / ``diffusion_pusht_defaults.py`` (AdamW,
clip 10; Diffusion Policy also keeps an EMA of the params, which LeRobot 0.4.4 does not), LeRobot's from
the policy config's presets (ACT AdamW; Diffusion Policy Adam + diffusers cosine schedule). Excluded on
both sides: data loading and normalisation. Threads: XLA uses the process's cores (2 here); torch gets
``torch.set_num_threads(--threads)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

# A cold compile is what a new user (or a changed config) pays; the cache would hide it.
os.environ.setdefault("JAXROBOT_NO_COMPILATION_CACHE", "1")

from jaxrobot import platform  # noqa: E402

platform.reexec_with_fast_allocator()  # as `jaxrobot train` runs (see platform.py)
platform.configure()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxrobot import config as C  # noqa: E402
from jaxrobot.models.params import trainable_count  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from measure import build_train_step, compiled_flops, peak_matmul_gflops  # noqa: E402
from peers_lerobot import synthetic_arrays  # noqa: E402  (numpy only; shared so inputs are identical)

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = {"act": ROOT / "experiments/act_aloha_defaults.py",
               "diffusion": ROOT / "experiments/diffusion_pusht_defaults.py"}


def bench_configs(args) -> dict[str, dict]:
    """The shared configs: architecture fields under names both frameworks' configs use, plus shapes.

    ACT: LeRobot's / the original's defaults (dim 512, 8 heads, FFN 3200, 4+1 layers, CVAE 4 layers,
    latent 32, chunk 100, batch 8), 14-D state and action, one square camera. Diffusion Policy: the PushT
    defaults (2-D state and action, 96x96 camera cropped to 84x84, horizon 16, 2 observation frames,
    32 keypoints, kernel 5, 8 groups, step embedding 128) with ``down_dims`` and batch from the flags.
    """
    act_model = dict(chunk_size=100, n_action_steps=100, dim_model=512, n_heads=8, dim_feedforward=3200,
                     n_encoder_layers=4, n_decoder_layers=1, n_vae_encoder_layers=4, latent_dim=32,
                     dropout=0.1, kl_weight=10.0, use_vae=True, pre_norm=False,
                     feedforward_activation="relu")
    dp_model = dict(horizon=16, n_obs_steps=2, n_action_steps=8, crop_shape=[84, 84], crop_is_random=True,
                    down_dims=list(args.dp_down_dims), kernel_size=5, n_groups=8,
                    diffusion_step_embed_dim=128, spatial_softmax_num_keypoints=32,
                    use_film_scale_modulation=True, num_train_timesteps=100,
                    beta_schedule="squaredcos_cap_v2", prediction_type="epsilon")
    common = dict(seed=0, threads=args.threads, pad=0)
    return {
        "act": dict(policy="act", batch=args.act_batch, n_obs_steps=1, horizon=100, state_dim=14,
                    action_dim=14, image_size=args.act_image, model=act_model, **common),
        "diffusion": dict(policy="diffusion", batch=args.dp_batch, n_obs_steps=2, horizon=16, state_dim=2,
                          action_dim=2, image_size=96, model=dp_model, **common),
    }


def default_bench_config(policy: str, dp_batch: int = 64) -> dict:
    """``bench_configs`` at this script's default flags (for the other benchmarks that reuse its configs)."""
    args = argparse.Namespace(act_batch=8, act_image=96, dp_batch=dp_batch, dp_down_dims=[512, 1024, 2048],
                              threads=2)
    return bench_configs(args)[policy]


def our_config(bc: dict):
    """Our experiment config of that policy with the benchmark's architecture fields and batch."""
    cfg = C.load_experiment(EXPERIMENTS[bc["policy"]])
    fields = dict(bc["model"])
    if "crop_shape" in fields:
        fields["crop_shape"] = tuple(fields["crop_shape"])
    if "down_dims" in fields:
        fields["down_dims"] = tuple(fields["down_dims"])
    model = dataclasses.replace(cfg.model, action_dim=bc["action_dim"], **fields)
    train = dataclasses.replace(cfg.train, batch_size=bc["batch"])
    return C.validate(dataclasses.replace(cfg, model=model, train=train))


def our_batch(bc: dict) -> dict[str, np.ndarray]:
    state, image, action, is_pad = synthetic_arrays(bc)
    return {"observation/state": state, "observation/image_main": image,
            "observation/pad_mask": np.ones(state.shape[:2], bool), "action": action,
            "action_pad_mask": ~is_pad}


class Ours:
    """jaxrobot's real train step (``make_jit_step``: jit of the whole update, state donated)."""

    def __init__(self, bc: dict, total_steps: int):
        cfg = our_config(bc)
        self.cfg = cfg
        built = build_train_step(cfg, our_batch(bc), total_steps)
        self.state, self.batch = built.state, built.batch
        ema = cfg.train.ema_decay > 0
        self.params = trainable_count(self.state.params)
        t0 = time.perf_counter()
        self.step = built.step.lower(self.state, self.batch).compile()
        self.compile_s = time.perf_counter() - t0
        self.flops = compiled_flops(self.step)
        t0 = time.perf_counter()
        self.state, m = self.step(self.state, self.batch)
        jax.block_until_ready(m)
        self.first_run_s = time.perf_counter() - t0
        self.loss = float(m["loss"])
        o, t = cfg.optimizer, cfg.train
        self.recipe = (f"AdamW lr={o.lr:g} betas=({o.b1:g}, {o.b2:g}) wd={o.weight_decay:g} "
                       f"clip={o.grad_clip:g} + {o.schedule} schedule ({o.warmup_steps} warm-up steps)"
                       + (f" + EMA(power {t.ema_power:g})" if ema else ""))

    def run(self, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            self.state, m = self.step(self.state, self.batch)
        jax.block_until_ready(m)
        self.loss = float(m["loss"])
        return time.perf_counter() - t0


class Theirs:
    """The LeRobot worker process, driven one JSON line at a time."""

    def __init__(self, bc: dict, total_steps: int, python: str, huge_pages: bool):
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        if not huge_pages:  # LeRobot as its users run it: without the allocator setting jaxrobot makes
            kept = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t and "malloc.hugetlb" not in t]
            env["GLIBC_TUNABLES"] = ":".join(kept)
            for k in [k for k in env if k == "LD_PRELOAD" or k.startswith("MIMALLOC_")]:
                del env[k]
        self.proc = subprocess.Popen(
            [python, str(pathlib.Path(__file__).with_name("peers_lerobot.py")),
             json.dumps(dict(bc, total_steps=total_steps))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.ready = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"LeRobot worker exited with code {self.proc.wait()} (see its stderr above)")
        return json.loads(line)

    def run(self, n: int) -> float:
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        out = self._read()
        self.loss = out["loss"]
        return out["seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


def bench_policy(bc: dict, rounds: int, steps: int, python: str, huge_pages: bool) -> dict:
    total = 1 + 2 * rounds * steps  # schedules are built for this many steps; both sides take them all
    # LeRobot first, then ours: each side's start-up runs alone on the cores.
    theirs = Theirs(bc, total, python, huge_pages)
    try:
        ours = Ours(bc, total)
        our_rates, their_rates = [], []
        # Warm-up round (not timed): caches, allocator, thread pools.
        ours.run(1)
        theirs.run(1)
        for r in range(rounds):
            first, second = (ours, theirs) if r % 2 == 0 else (theirs, ours)
            for side in (first, second):
                rate = bc["batch"] * steps / side.run(steps)
                (our_rates if side is ours else their_rates).append(rate)
    finally:
        theirs.close()
    o, t = statistics.median(our_rates), statistics.median(their_rates)
    return {
        "jaxrobot_samples_per_sec": round(o, 3), "lerobot_samples_per_sec": round(t, 3),
        "jaxrobot_step_gflop": round(ours.flops / 1e9, 2),
        "achieved_gflops_per_s": round(ours.flops * o / bc["batch"] / 1e9, 2),
        # the median of the per-round ratios: each round's pair ran back to back, under the same load
        "ratio": round(statistics.median(a / b for a, b in zip(our_rates, their_rates, strict=True)), 3),
        "params": {"jaxrobot": ours.params, "lerobot": theirs.ready["params"],
                   "equal": ours.params == theirs.ready["params"]},
        "first_step_s": {"jaxrobot_compile": round(ours.compile_s, 2),
                         "jaxrobot_first_run": round(ours.first_run_s, 2),
                         "lerobot": round(theirs.ready["first_step_s"], 2)},
        "rounds_samples_per_sec": {"jaxrobot": [round(x, 3) for x in our_rates],
                                   "lerobot": [round(x, 3) for x in their_rates]},
        "round_ratios": [round(a / b, 3) for a, b in zip(our_rates, their_rates, strict=True)],
        "final_loss": {"jaxrobot": round(ours.loss, 4), "lerobot": round(theirs.loss, 4)},
        "steps_per_round": steps,
        "optimizer": {"jaxrobot": ours.recipe, "lerobot": theirs.ready["optimizer"]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", default="act,diffusion")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per side (alternating)")
    ap.add_argument("--act-steps", type=int, default=2, help="steps per round, ACT")
    ap.add_argument("--dp-steps", type=int, default=1, help="steps per round, Diffusion Policy")
    ap.add_argument("--act-batch", type=int, default=8)
    ap.add_argument("--act-image", type=int, default=96, help="square camera size for ACT")
    ap.add_argument("--dp-batch", type=int, default=64)
    ap.add_argument("--dp-down-dims", type=lambda s: [int(x) for x in s.split(",")],
                    default=[512, 1024, 2048])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for LeRobot")
    ap.add_argument("--peers-python", default=str(ROOT / ".venv-peers/bin/python"))
    ap.add_argument("--lerobot-huge-pages", action="store_true",
                    help="give LeRobot's process the allocator setting jaxrobot runs with (mimalloc preloaded, "
                         "or glibc's huge-page tunable); by default LeRobot runs as its users run it")
    args = ap.parse_args()
    if not pathlib.Path(args.peers_python).exists():
        raise SystemExit(f"error: {args.peers_python} not found: `make bench-peers` builds .venv-peers")

    configs = bench_configs(args)
    load_before = os.getloadavg()[0]
    out: dict = {"bench": "peers"}
    for name in args.policies.split(","):
        steps = args.act_steps if name == "act" else args.dp_steps
        out[name] = bench_policy(configs[name], args.rounds, steps, args.peers_python, args.lerobot_huge_pages)
    peak = peak_matmul_gflops()  # after the rounds, before the load is read: same conditions as the steps
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    for name in args.policies.split(","):
        r = out[name]
        print(json.dumps({
            "policy": name, "ours_samples_per_s": r["jaxrobot_samples_per_sec"],
            "lerobot_samples_per_s": r["lerobot_samples_per_sec"], "ratio": r["ratio"],
            "achieved_gflops_per_s": r["achieved_gflops_per_s"], "peak_matmul_gflops_per_s": round(peak, 1),
            "share_of_peak": round(r["achieved_gflops_per_s"] / peak, 3), "loadavg_1min": load}))
    out["config"] = {name: {k: v for k, v in configs[name].items() if k not in ("seed", "pad")}
                     for name in args.policies.split(",")}
    out["machine"] = {"cpus": os.cpu_count(), "jax": jax.__version__, "jax_devices": jax.device_count(),
                      "allocator": {"jaxrobot": platform.allocator(),
                                    "lerobot": platform.allocator() if args.lerobot_huge_pages else "system"},
                      "glibc_tunables": {"jaxrobot": os.environ.get("GLIBC_TUNABLES", ""),
                                         "lerobot_huge_pages": args.lerobot_huge_pages},
                      "peak_matmul_gflops_per_s": round(peak, 1), "loadavg_1min": load}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
