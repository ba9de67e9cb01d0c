"""``jaxrobot-runtime``: check a bundle, print the TensorRT build command, run a simulated control loop.

    jaxrobot-runtime check BUNDLE [--backend onnx,tflite] [--json]
    jaxrobot-runtime trtexec BUNDLE [--function NAME] [--max-batch N] [--int8]
    jaxrobot-runtime loop BUNDLE --hz 50 --seconds 5 [--backend onnx] [--precision fp32]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

import numpy as np

from jaxrobot_runtime.bundle import Bundle, BundleError
from jaxrobot_runtime.check import check_bundle


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_check(args) -> int:
    res = check_bundle(Bundle(args.bundle), args.backend, providers=args.providers)
    if args.json:
        print(json.dumps(res, sort_keys=True))
    else:
        for rel, r in res["artifacts"].items():
            status = "ok" if r["ok"] else "MISMATCH"
            note = "" if r["gated"] else " (reported only)"
            print(f"{rel:40s} {r['precision']:5s} max_abs_err {r['max_abs_err']:.3e}  {status}{note}")
        for rel, why in res["skipped"].items():
            print(f"{rel:40s} skipped: {why}")
        for rel in res["bad_files"]:
            print(f"{rel:40s} sha256 mismatch or missing file")
        if not res["artifacts"]:
            print("no artifact could be run", file=sys.stderr)
        print("CHECK", "OK" if res["ok"] else "FAILED")
    return 0 if res["ok"] else 1


def trtexec_commands(bundle: Bundle, function: str | None = None, max_batch: int | None = None,
                     int8: bool = False, engine_dir: str | None = None) -> list[str]:
    """``trtexec`` lines that build fp16 TensorRT engines from the bundle's ONNX graphs on the Jetson.

    Batch 1 uses the static ``<fn>.b1.onnx``; ``max_batch`` builds from the dynamic graph with an
    optimisation profile (min 1, opt 1, max ``max_batch``) over the batch dimension.
    """
    lines = []
    out_dir = engine_dir or str(bundle.path / "tensorrt")
    for name, fn in bundle.functions.items():
        if function and name != function:
            continue
        if max_batch:
            rel = bundle.artifact_for(name, "onnx", "fp32", None)
        else:
            rel = bundle.artifact_for(name, "onnx", "fp32", 1)
        engine = f"{name}.{'int8' if int8 else 'fp16'}{f'.b{max_batch}' if max_batch else ''}.engine"
        cmd = ["trtexec", f"--onnx={bundle.path / rel}", f"--saveEngine={out_dir}/{engine}", "--fp16"]
        if int8:
            cmd.append("--int8")
        if max_batch and rel.endswith(".onnx") and not rel.endswith(".b1.onnx"):
            def shapes(b, fn=fn):
                return ",".join(f"{s['name']}:{'x'.join(str(b if d is None else d) for d in s['shape'])}"
                                for s in fn["inputs"] if s["shape"] and s["shape"][0] is None)
            cmd += [f"--minShapes={shapes(1)}", f"--optShapes={shapes(1)}", f"--maxShapes={shapes(max_batch)}"]
        lines.append(" ".join(shlex.quote(c) for c in cmd))
    return lines


def cmd_trtexec(args) -> int:
    bundle = Bundle(args.bundle)
    if not any(a["format"] == "onnx" for a in bundle.artifacts.values()):
        print("error: the bundle has no ONNX graphs (export with --format onnx)", file=sys.stderr)
        return 2
    print(f"mkdir -p {shlex.quote(args.engine_dir or str(bundle.path / 'tensorrt'))}")
    for line in trtexec_commands(bundle, args.function, args.max_batch, args.int8, args.engine_dir):
        print(line)
    return 0


def _sample_observation(bundle: Bundle, names: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A plausible raw observation for one robot: state near the data mean, images from the stored examples."""
    obs = {}
    first = "policy" if "policy" in bundle.functions else "encode"
    example = bundle.example("b1", first, "in")
    for name in names:
        if name == "state":
            st = bundle.stats["state"]
            mean = np.asarray(st.get("mean", st.get("min")), np.float32)
            std = np.asarray(st.get("std", np.ones_like(mean)), np.float32)
            obs[name] = (mean + 0.1 * std * rng.standard_normal(mean.shape).astype(np.float32))[None]
        else:
            obs[name] = example[name][:, -1]
    return obs


def run_loop(bundle: Bundle, hz: float, seconds: float, backend: str = "onnx", precision: str = "fp32",
             providers=None, threads: int | None = None, seed: int = 0) -> dict:
    """A simulated control loop at ``hz``: one policy step per tick, sleeping to the next deadline.

    A tick whose policy call ends after its deadline (start + period) is a missed deadline; a late tick
    shifts no later deadlines (a fixed-rate schedule, as a real-time controller keeps).
    """
    from jaxrobot_runtime.policy import Policy

    policy = Policy(bundle, backend, precision, providers=providers, threads=threads, seed=seed)
    rng = np.random.default_rng(seed)
    period = 1.0 / hz
    n_ticks = max(1, int(round(seconds * hz)))
    # Warm-up outside the schedule: first calls allocate and (for TensorRT) build.
    policy(_sample_observation(bundle, policy.obs_names, rng))
    policy.reset()
    plans0 = policy.plans
    latencies, missed = [], 0
    start = time.perf_counter()
    for k in range(n_ticks):
        deadline = start + (k + 1) * period
        obs = _sample_observation(bundle, policy.obs_names, rng)
        t0 = time.perf_counter()
        action = policy(obs)
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        if not np.all(np.isfinite(action)):
            raise BundleError(f"non-finite action at tick {k}")
        if t1 > deadline:
            missed += 1
        else:
            time.sleep(max(0.0, deadline - time.perf_counter()))
    lat = np.asarray(latencies) * 1e3
    return {"hz": hz, "ticks": n_ticks, "missed_deadlines": missed, "miss_rate": missed / n_ticks,
            "plans": policy.plans - plans0, "backend": backend, "precision": precision,
            "latency_ms": {"p50": float(np.percentile(lat, 50)), "p90": float(np.percentile(lat, 90)),
                           "p99": float(np.percentile(lat, 99)), "max": float(lat.max())},
            "wall_s": time.perf_counter() - start}


def cmd_loop(args) -> int:
    res = run_loop(Bundle(args.bundle), args.hz, args.seconds, args.backend, args.precision,
                   providers=args.providers, threads=args.threads, seed=args.seed)
    print(json.dumps(res))
    if args.max_miss_rate is not None and res["miss_rate"] > args.max_miss_rate:
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrobot-runtime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    providers_help = "ONNX Runtime providers, comma list (e.g. TensorrtExecutionProvider,CPUExecutionProvider)"

    p = sub.add_parser("check", help="every artifact vs the stored jax.jit outputs; exit 1 on mismatch")
    p.add_argument("bundle")
    p.add_argument("--backend", type=_csv, default=None, help="comma list of onnx, tflite (default: all)")
    p.add_argument("--providers", type=_csv, default=None, help=providers_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("trtexec", help="print the trtexec commands that build TensorRT fp16 engines")
    p.add_argument("bundle")
    p.add_argument("--function", default=None, help="only this function (default: all)")
    p.add_argument("--max-batch", type=int, default=None, help="dynamic-batch engine up to this batch")
    p.add_argument("--int8", action="store_true", help="also allow int8 kernels (needs calibration on device)")
    p.add_argument("--engine-dir", default=None, help="where to write engines (default BUNDLE/tensorrt)")
    p.set_defaults(func=cmd_trtexec)

    p = sub.add_parser("loop", help="simulated control loop at a fixed rate, reporting missed deadlines")
    p.add_argument("bundle")
    p.add_argument("--hz", type=float, default=50.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--backend", default="onnx", choices=["onnx", "tflite"])
    p.add_argument("--precision", default="fp32")
    p.add_argument("--providers", type=_csv, default=None, help=providers_help)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-miss-rate", type=float, default=None, help="exit 1 if more deadlines are missed")
    p.set_defaults(func=cmd_loop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
