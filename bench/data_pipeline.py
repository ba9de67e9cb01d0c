"""Disk -> device-batch throughput of jaxrobot's RLDS source vs an Octo-style tf.data pipeline.

    python bench/data_pipeline.py [--episodes 60] [--steps 40] [--size 128] [--batch 64] [--batches 30]

Both pipelines do the same work on the same RLDS dataset (two 128x128 JPEG cameras, built from the real
Bridge sample's frames, upscaled): parse the record, window (n_obs_steps=2 history, horizon=4 chunk with
padding masks), decode the JPEGs of the window, normalise the action, batch, and ``jax.device_put``.
tf.data follows Octo/dlimp: frame decode after windowing, a shuffle buffer of encoded frames,
``AUTOTUNE`` parallelism. Prints ONE JSON line: frames/s and steps/s for each (jaxrobot cold = first
epoch, every frame decoded; warm = decoded-frame cache hits), with a 64x64 training size where
jaxrobot scales in the DCT domain, and at stored size with batches built in ``--processes`` worker
processes (``jaxrobot_processes``, ``ratio_cold_processes``; their RSS is ``worker_processes_rss_mb``),
RSS growth, the ratios, and whether training at the given sample rates would be input-bound.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from jaxrobot import platform

platform.reexec_with_fast_allocator()  # as `jaxrobot train` runs (see platform.py)
platform.configure()

import jax  # noqa: E402

CAMS = ("image_0", "image_1")
BRIDGE = os.path.join(os.path.dirname(__file__), "..", "tests", "testdata", "bridge_dataset_octo_debug",
                      "bridge_dataset", "1.0.0")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_dataset(out: str, episodes: int, steps: int, size: int) -> str:
    """Write the benchmark dataset (runs in a subprocess: the fallback writer imports TensorFlow)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from data_pipelines.common import FLAG_FEATURES, rlds_flags, write_episodes
    from jaxrobot.data.sources.rlds import open_rlds
    from jaxrobot.data.transforms import decode_image, resize

    src = open_rlds(BRIDGE, "train")
    rng = np.random.default_rng(0)
    frames = []
    for i in range(len(src)):
        ep = src.episode(i)
        for cam in ("steps/observation/image_0", "steps/observation/image_1"):
            frames += [resize(decode_image(b), (size, size)) for b in ep[cam]]

    def episodes_iter():
        for e in range(episodes):
            out_ep = {"steps/action": rng.normal(size=(steps, 7)).astype(np.float32),
                      "steps/observation/state": rng.normal(size=(steps, 7)).astype(np.float32),
                      **rlds_flags(steps)}
            for c, cam in enumerate(CAMS):
                idx = (e * 7 + c * 3 + np.arange(steps)) % len(frames)
                out_ep[f"steps/observation/{cam}"] = np.stack([frames[j] for j in idx])
            lang = np.empty(steps, object)
            lang[:] = [b"bench"] * steps
            out_ep["steps/language_instruction"] = lang
            yield out_ep

    spec = {"steps/action": {"shape": [None, 7], "dtype": "float32"},
            "steps/observation/state": {"shape": [None, 7], "dtype": "float32"},
            "steps/language_instruction": {"shape": [None], "dtype": "string", "encoding": "text"},
            **FLAG_FEATURES,
            **{f"steps/observation/{c}": {"shape": [None, size, size, 3], "dtype": "uint8", "encoding": "jpeg"}
               for c in CAMS}}
    return write_episodes(out, "bridge_dataset", episodes_iter(), spec)


def bench_jaxrobot(path: str, size: int, batch: int, batches: int, workers: int, processes: int = 0) -> dict:
    from jaxrobot.data.sources.rlds import RldsDataConfig, RldsSource

    cfg = RldsDataConfig(path=path, n_obs_steps=2, horizon=4, image_size=(size, size), workers=workers,
                         prefetch=2, memory_mb=1024, processes=processes)
    base = _rss_mb()
    src = RldsSource(cfg, global_batch_size=batch, seed=0)
    total = src.reader.total_steps
    jax.device_put(next(src))
    peak, n, t0 = base, 0, time.perf_counter()
    cold_batches = max(1, total // batch - 1)  # first epoch: every frame decoded once
    for _ in range(cold_batches):
        jax.block_until_ready(jax.device_put(next(src)))
        n += batch
        peak = max(peak, _rss_mb())
    workers_peak = src.worker_rss_mb()  # their caches only grow: sampled after each pass
    cold = n / (time.perf_counter() - t0)
    for _ in range(2):
        next(src)
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        jax.block_until_ready(jax.device_put(next(src)))
        n += batch
        peak = max(peak, _rss_mb())
    warm = n / (time.perf_counter() - t0)
    workers_peak = max(workers_peak, src.worker_rss_mb())
    info = src.reader.cache_info()
    src.close()
    return {"steps_per_s_cold": cold, "steps_per_s_warm": warm, "frames_per_s_cold": cold * 2 * len(CAMS),
            "frames_per_s_warm": warm * 2 * len(CAMS), "rss_growth_mb": peak - base,
            "worker_processes_rss_mb": workers_peak,
            "cache_mb": (info["episode_bytes"] + info["frame_bytes"]) / 2**20}


def make_tfdata(path: str, size: int, stored: int, batch: int, stats: dict):
    tf = platform.import_tensorflow()
    base = _rss_mb()
    n_obs, horizon = 2, 4
    mean = tf.constant(stats["action"]["mean"], tf.float32)
    std = tf.constant(stats["action"]["std"], tf.float32)
    files = sorted(os.path.join(path, f) for f in os.listdir(path) if ".tfrecord" in f)
    feats = {"steps/action": tf.io.VarLenFeature(tf.float32),
             "steps/observation/state": tf.io.VarLenFeature(tf.float32),
             **{f"steps/observation/{c}": tf.io.VarLenFeature(tf.string) for c in CAMS}}

    def to_windows(record):
        ex = tf.io.parse_single_example(record, feats)
        act = tf.reshape(tf.sparse.to_dense(ex["steps/action"]), [-1, 7])
        state = tf.reshape(tf.sparse.to_dense(ex["steps/observation/state"]), [-1, 7])
        T = tf.shape(act)[0]
        t = tf.range(T)[:, None]
        oi = t + tf.range(-n_obs + 1, 1)[None]
        ai = t + tf.range(horizon)[None]
        out = {"observation/state": tf.gather(state, tf.clip_by_value(oi, 0, T - 1)),
               "observation/pad_mask": oi >= 0,
               "action": (tf.gather(act, tf.clip_by_value(ai, 0, T - 1)) - mean) / std,
               "action_pad_mask": ai < T}
        for c in CAMS:
            out[c] = tf.gather(tf.sparse.to_dense(ex[f"steps/observation/{c}"]), tf.clip_by_value(oi, 0, T - 1))
        return tf.data.Dataset.from_tensor_slices(out)

    def decode(x):
        x = dict(x)
        for c in CAMS:
            imgs = tf.map_fn(lambda b: tf.io.decode_jpeg(b, channels=3), x.pop(c),
                             fn_output_signature=tf.TensorSpec([stored, stored, 3], tf.uint8))
            if size != stored:
                imgs = tf.cast(tf.image.resize(imgs, [size, size], antialias=True), tf.uint8)
            x[f"observation/{c}"] = imgs
        return x

    ds = (tf.data.TFRecordDataset(files).repeat().flat_map(to_windows).shuffle(1000, seed=0)
          .map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(batch, drop_remainder=True)
          .prefetch(tf.data.AUTOTUNE))
    it = ds.as_numpy_iterator()
    for _ in range(3):
        jax.device_put(next(it))
    return it, base


def measure_tfdata(it, base: float, batch: int, batches: int) -> dict:
    peak, n, t0 = base, 0, time.perf_counter()
    for _ in range(batches):
        jax.block_until_ready(jax.device_put(next(it)))
        n += batch
        peak = max(peak, _rss_mb())
    rate = n / (time.perf_counter() - t0)
    return {"steps_per_s": rate, "frames_per_s": rate * 2 * len(CAMS), "rss_growth_mb": peak - base}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--size", type=int, default=128, help="stored JPEG size")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--processes", type=int, default=2,
                    help="worker processes of the 'jaxrobot_processes' runs (data.processes); 0 skips them")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds (medians reported)")
    ap.add_argument("--bc-samples-per-s", type=float, default=2000.0,
                    help="trainer consumption rate of the BC baseline (samples/s) for the input-bound verdict")
    ap.add_argument("--policy-samples-per-s", type=float, default=300.0,
                    help="consumption rate of an image policy (samples/s)")
    ap.add_argument("--make-data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_data:
        print(make_dataset(args.make_data, args.episodes, args.steps, args.size))
        return

    root = platform.cache_dir() / "bench" / f"rlds_{args.episodes}x{args.steps}_{args.size}"
    path = root / "bridge_dataset" / "1.0.0"
    if not (path / "dataset_info.json").exists():
        subprocess.run([sys.executable, __file__, "--make-data", str(root), "--episodes", str(args.episodes),
                        "--steps", str(args.steps), "--size", str(args.size)], check=True, stdout=subprocess.DEVNULL)
    path = str(path)

    from jaxrobot.cli.data import dataset_stats

    stats = dataset_stats(path)
    out = {"dataset": {"episodes": args.episodes, "steps": args.episodes * args.steps, "cameras": len(CAMS),
                       "stored_size": args.size, "batch": args.batch, "n_obs_steps": 2, "horizon": 4},
           "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()[0], "rounds": args.rounds}
    small = args.size // 2
    sizes = {"": args.size, f"_{small}px": small}
    # Round 0: jaxrobot alone (its RSS before TensorFlow is imported); then interleaved rounds, so that a
    # shared machine's changing load hits both pipelines alike. Reported numbers are per-round medians.
    runs: dict[str, list[dict]] = {f"jaxrobot{k}": [] for k in sizes} | {f"tfdata{k}": [] for k in sizes}
    if args.processes:
        runs["jaxrobot_processes"] = []
    for k, sz in sizes.items():
        runs[f"jaxrobot{k}"].append(bench_jaxrobot(path, sz, args.batch, args.batches, args.workers))
    out["rss_peak_mb_before_tf"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(args.rounds):
        for k, sz in sizes.items():
            # a fresh iterator each round, deleted after, so tf.data's background threads never run while
            # jaxrobot is measured
            it, base = make_tfdata(path, sz, args.size, args.batch, stats)
            runs[f"tfdata{k}"].append(measure_tfdata(it, base, args.batch, args.batches))
            del it
            gc.collect()
            runs[f"jaxrobot{k}"].append(bench_jaxrobot(path, sz, args.batch, args.batches, args.workers))
        if args.processes:  # at stored size, where the first pass is decode- and Python-bound
            runs["jaxrobot_processes"].append(bench_jaxrobot(path, args.size, args.batch, args.batches, args.workers,
                                                             args.processes))
    for name, rs in runs.items():
        out[name] = {m: float(np.median([r[m] for r in rs])) for m in rs[0]}
        out[name]["runs"] = len(rs)
    out["rss_peak_mb_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_average_end"] = os.getloadavg()[0]
    for k in sizes:
        j, t = out[f"jaxrobot{k}"], out[f"tfdata{k}"]
        out[f"ratio_cold{k}"] = j["steps_per_s_cold"] / t["steps_per_s"]
        out[f"ratio_warm{k}"] = j["steps_per_s_warm"] / t["steps_per_s"]
    if args.processes:
        p, t = out["jaxrobot_processes"], out["tfdata"]
        out["ratio_cold_processes"] = p["steps_per_s_cold"] / t["steps_per_s"]
        out["ratio_warm_processes"] = p["steps_per_s_warm"] / t["steps_per_s"]
        out["processes"] = args.processes
    j = out["jaxrobot"]
    out["input_bound"] = {"bc": j["steps_per_s_cold"] < args.bc_samples_per_s,
                          "policy": j["steps_per_s_cold"] < args.policy_samples_per_s,
                          "bc_samples_per_s": args.bc_samples_per_s, "policy_samples_per_s": args.policy_samples_per_s}
    print(json.dumps(out, default=lambda x: round(float(x), 2)))


if __name__ == "__main__":
    main()
