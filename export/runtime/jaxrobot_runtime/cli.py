"""``jaxrobot-runtime``: check a bundle, print the TensorRT build command, run a simulated control loop.

    jaxrobot-runtime check BUNDLE [--backend onnx,tflite] [--json]
    jaxrobot-runtime trtexec BUNDLE [--function NAME] [--max-batch N] [--int8]
    jaxrobot-runtime loop BUNDLE --hz 50 --seconds 5 [--backend onnx] [--precision fp32]

Every command verifies the bundle against its MANIFEST.json first (--no-verify skips it on a trusted robot).
Exit status: 0 ok; 1 ``check`` failed (a file failed verification or an artifact missed its tolerance) or
``loop`` missed too many deadlines; 2 any other error, printed as one ``error: ...`` line (the Python
traceback only with --debug, anywhere on the line, or JAXROBOT_DEBUG=1); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

import numpy as np

from jaxrobot_runtime.bundle import Bundle, BundleError
from jaxrobot_runtime.check import check_bundle

MAX_PROBLEM_LINES = 10  # at most this many failing files are listed (the whole output stays short)


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_check(args) -> int:
    res = check_bundle(args.bundle, args.backend, providers=args.providers, verify=not args.no_verify)
    if res.get("error"):  # failed verification: no model was run
        if args.json:
            print(json.dumps(res, sort_keys=True))
        else:
            problems = list(res["problems"].items())
            for rel, why in problems[:MAX_PROBLEM_LINES]:
                print(f"{rel:40s} {why}")
            if len(problems) > MAX_PROBLEM_LINES:
                print(f"... and {len(problems) - MAX_PROBLEM_LINES} more")
            print("CHECK FAILED")
        print(f"error: {res['error']}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(res, sort_keys=True))
    else:
        if not res["verified"]:
            print("file hashes not verified (--no-verify)")
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
    bundle = Bundle(args.bundle, verify=not args.no_verify)
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
    residual = bundle.runtime.get("residual")
    if residual is not None and obs.get("state", np.zeros((1, 0))).shape[-1] != residual["state_dim"]:
        # the RL residual reads the task's full state; take it from the stored residual inputs
        obs["state"] = bundle.example("b1", "residual", "in")["residual_obs"][:, :residual["state_dim"]]
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
    res = run_loop(Bundle(args.bundle, verify=not args.no_verify), args.hz, args.seconds, args.backend, args.precision,
                   providers=args.providers, threads=args.threads, seed=args.seed)
    print(json.dumps(res))
    if args.max_miss_rate is not None and res["miss_rate"] > args.max_miss_rate:
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrobot-runtime", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of errors (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    bundle_args = argparse.ArgumentParser(add_help=False)
    bundle_args.add_argument("bundle")
    bundle_args.add_argument("--no-verify", action="store_true",
                             help="skip checking the files against MANIFEST.json (a trusted, already checked bundle)")
    providers_help = "ONNX Runtime providers, comma list (e.g. TensorrtExecutionProvider,CPUExecutionProvider)"

    p = sub.add_parser("check", parents=[bundle_args],
                       help="verify the files, then every artifact vs the stored jax.jit outputs; exit 1 on failure")
    p.add_argument("--backend", type=_csv, default=None, help="comma list of onnx, tflite (default: all)")
    p.add_argument("--providers", type=_csv, default=None, help=providers_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("trtexec", parents=[bundle_args],
                       help="print the trtexec commands that build TensorRT fp16 engines")
    p.add_argument("--function", default=None, help="only this function (default: all)")
    p.add_argument("--max-batch", type=int, default=None, help="dynamic-batch engine up to this batch")
    p.add_argument("--int8", action="store_true", help="also allow int8 kernels (needs calibration on device)")
    p.add_argument("--engine-dir", default=None, help="where to write engines (default BUNDLE/tensorrt)")
    p.set_defaults(func=cmd_trtexec)

    p = sub.add_parser("loop", parents=[bundle_args],
                       help="simulated control loop at a fixed rate, reporting missed deadlines")
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


def _one_line(e: BaseException, limit: int = 1000) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit] + "..."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("JAXROBOT_DEBUG", "") not in ("", "0")
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - every failure is one short message unless --debug
        if debug:
            raise
        if isinstance(e, (BundleError, OSError)):  # a damaged or incomplete bundle, a file that cannot be read
            print(f"error: {_one_line(e)}", file=sys.stderr)
        else:
            print(f"error: unexpected {type(e).__name__}: {_one_line(e)}\n"
                  f"(run with --debug or JAXROBOT_DEBUG=1 for the Python traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
