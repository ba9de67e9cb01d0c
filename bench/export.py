"""Export benchmark: batch-1 latency of jax.jit vs ONNX Runtime vs TFLite, plus parity, one JSON line per model.

    .venv/bin/jaxrobot train --config experiments/act_synthetic.py:small --workdir /tmp/act_small
    .venv/bin/python bench/export.py --workdir /tmp/act_small [/tmp/dp_small ...] [--runs 200]

For each checkpoint: export a bundle (ONNX fp32; TFLite fp32, fp16, int8 dynamic range) into a temporary
folder, then time one *plan* at batch 1 (the model call a robot makes when it re-plans: for Diffusion
Policy the encoder plus the whole DDIM loop) as the median of ``--runs`` calls after ``--warmup`` calls:
``jax.jit(model.predict)`` against the runtime package (``jaxrobot_runtime.Policy.plan``) on each backend
and precision. Parity numbers come from the export's ``parity.json``. Run it alone on the machine.

Stateless vision models (grasp maps, the grasp candidate scorer, the visual servo net; bundles whose
runtime kind is not a policy) are timed per exported function at batch 1 instead: ``jax.jit`` of the
function the export traced against ``Bundle.runner`` on each backend and precision::

    .venv/bin/jaxrobot train --config experiments/grasp_synthetic.py:maps --workdir /tmp/grasp_maps_synthetic
    .venv/bin/python bench/export.py --workdir /tmp/grasp_maps_synthetic
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "export" / "runtime"))


def _median_ms(fn, runs: int, warmup: int) -> float:
    import numpy as np

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


# Model kinds timed as a closed-loop policy plan; every other kind is timed per exported function.
POLICY_MODELS = ("bc", "act", "diffusion")
BACKENDS = (("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8"))


def _checkpoint_kind(workdir: str) -> str:
    from jaxrobot.train import checkpoint as ckpt_lib

    _, meta = ckpt_lib.read_meta(workdir)
    return meta["config"]["model"]["kind"]


def bench_functions(workdir: str, runs: int, warmup: int, threads: int | None) -> dict:
    """A stateless (vision) model: every exported function at batch 1, jax.jit against the runtime."""
    import jax
    from jaxrobot_runtime import load_bundle

    import jaxrobot.skills.grasping.synthetic  # noqa: F401 - registers the synthetic vision data configs
    from jaxrobot import config as config_lib
    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.export.functions import export_plan
    from jaxrobot.models.registry import build_model
    from jaxrobot.train import checkpoint as ckpt_lib

    step, meta = ckpt_lib.read_meta(workdir)
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    _, example_batch = ckpt_lib.restore_arrays(workdir, step, item="example_batch")
    params = state["ema_params"] if state.get("ema_params") is not None else state["params"]
    model = build_model(config_lib.from_dict(meta["config"]).model)
    plan = export_plan(model, params, dict(meta, step=step), example_batch)
    with tempfile.TemporaryDirectory(prefix="jaxrobot-bench-") as tmp:
        out = pathlib.Path(tmp) / "bundle"
        report = export_checkpoint(workdir, out, formats=("onnx", "tflite"), precisions=("fp32", "fp16", "int8"),
                                   log=lambda s: None)
        bundle = load_bundle(out)
        lat = {}
        for f in plan.functions:
            inputs = bundle.example("b1", f.name, "in")
            args = [inputs[s.name] for s in f.inputs]
            jitted = jax.jit(f.fn)
            times = {"jax_jit": _median_ms(lambda j=jitted, a=args: jax.block_until_ready(j(*a)), runs, warmup)}
            for backend, precision in BACKENDS:
                try:
                    runner = bundle.runner(f.name, backend, precision, batch=1, threads=threads)
                except Exception as e:  # noqa: BLE001 - a missing artifact is reported, not fatal
                    times[f"{backend}_{precision}"] = f"unavailable: {e}"
                    continue
                times[f"{backend}_{precision}"] = _median_ms(lambda r=runner, i=inputs: r(i), runs, warmup)
            lat[f.name] = times
        parity = {rel: {"max_abs_err": r["max_abs_err"], "ok": r["ok"]} for rel, r in report.items()}
        kind = bundle.runtime["kind"]
    return {"model": meta["config"]["model"]["kind"], "experiment": meta["config"].get("name"),
            "runtime_kind": kind, "param_count": meta.get("model", {}).get("param_count"),
            "workdir": str(workdir), "batch": 1, "latency_ms_median": lat if len(lat) > 1 else next(iter(lat.values())),
            "runs": runs, "parity": parity}


def bench_one(workdir: str, runs: int, warmup: int, threads: int | None) -> dict:
    import jax
    import numpy as np
    from jaxrobot_runtime import Policy, load_bundle

    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.policies.evaluation import load_policy

    if _checkpoint_kind(workdir) not in POLICY_MODELS:
        return bench_functions(workdir, runs, warmup, threads)
    runner, meta = load_policy(workdir)
    with tempfile.TemporaryDirectory(prefix="jaxrobot-bench-") as tmp:
        out = pathlib.Path(tmp) / "bundle"
        report = export_checkpoint(workdir, out, formats=("onnx", "tflite"), precisions=("fp32", "fp16", "int8"),
                                   log=lambda s: None)
        bundle = load_bundle(out)
        first = "policy" if "policy" in bundle.functions else "encode"
        inputs = bundle.example("b1", first, "in")
        obs = {f"observation/{k}": v for k, v in inputs.items()}
        predict = jax.jit(runner.predict)
        key = jax.random.PRNGKey(0)
        lat = {"jax_jit": _median_ms(lambda: np.asarray(predict(runner.params, obs, key)), runs, warmup)}
        for backend, precision in (("onnx", "fp32"), ("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "int8")):
            try:
                policy = Policy(bundle, backend, precision, threads=threads)
            except Exception as e:  # noqa: BLE001 - a missing artifact is reported, not fatal
                lat[f"{backend}_{precision}"] = f"unavailable: {e}"
                continue
            lat[f"{backend}_{precision}"] = _median_ms(lambda p=policy: p.plan(inputs), runs, warmup)
        parity = {rel: {"max_abs_err": r["max_abs_err"], "ok": r["ok"]} for rel, r in report.items()}
    return {"model": meta["config"]["model"]["kind"], "experiment": meta["config"].get("name"),
            "param_count": meta.get("model", {}).get("param_count"), "workdir": str(workdir), "batch": 1,
            "latency_ms_median": lat, "runs": runs, "parity": parity}


def main(argv=None) -> int:
    from jaxrobot import platform

    platform.configure()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", nargs="+", required=True, help="training run folders with checkpoints")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="runtime intra-op threads (default: library's)")
    args = parser.parse_args(argv)
    for wd in args.workdir:
        print(json.dumps(bench_one(wd, args.runs, args.warmup, args.threads)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
