"""Export a checkpoint into a self-contained bundle folder, proven equal to ``jax.jit`` on real data.

Bundle layout (``BUNDLE/``)::

    bundle.json       format version, jaxrobot and tool versions, checkpoint step and params digest,
                      the run-time spec (history, horizon, chunk queue, temporal ensembling, cameras),
                      observation/action specs, every function's inputs/outputs, every file's sha256
    config.json       the checkpoint's experiment config
    stats.json        normalisation statistics (and mode)
    schedule.json     Diffusion Policy only: DDIM timesteps and alpha-bar table
    examples.npz      real inputs at batch 1 and batch N, with the jax.jit outputs (for ``check``)
    parity.json       {"<artifact file>": {"format", "precision", "max_abs_err", ...}}
    onnx/<fn>.onnx    dynamic batch ("B"), fp32, opset 20 (or 17)
    onnx/<fn>.b1.onnx batch 1
    tflite/<fn>.<precision>.tflite
    MANIFEST.json     written last: the sha256 of bundle.json's canonical form and of every other file

The folder is written under a temporary name next to ``BUNDLE`` and renamed into place only once every
artifact passed its parity check and every file was synced to disk, so a bundle either exists whole or not
at all.

Integrity. ``MANIFEST.json`` (format in ``jaxrobot_runtime.manifest``)::

    {"format": "jaxrobot-export-manifest", "version": 1, "algorithm": "sha256",
     "bundle_json_sha256": sha256(json.dumps(bundle.json's value, sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=True)),
     "files": {"<every file but bundle.json and MANIFEST.json>": "<sha256 of its bytes>"}}

The runtime (``load_bundle``, ``Policy``, ``jaxrobot-runtime check``, ``jaxrobot eval --bundle``) verifies it
before use and refuses a bundle with a changed, missing or uncovered file (or no manifest: a bundle from
an older exporter) naming the file. ``bundle.json["files"]`` still lists the other files' sha256 too.

Leftovers of killed exporters. The temporary folder is named ``.<BUNDLE>.tmp-<random>-<pid>-<host>`` and the
old bundle being replaced is moved to ``.<BUNDLE>.old-<random>-<pid>-<host>`` for the instant of the swap.
The next export to the same ``BUNDLE`` removes such folders whose writer is gone: the pid is not alive on
this host (folders of other hosts are left alone; a reused pid only delays the cleanup). Hosts are told
apart by hostname, so containers that share a hostname and the output folder but not a pid namespace must
not export to the same ``BUNDLE`` at once. Folders in the older name form without pid
(``.<BUNDLE>.tmp-<random>``) are removed once untouched for an hour.

Disk full (or quota exceeded) while writing: the temporary folder is removed and :class:`ExportError` says
``no space left on device while writing <file>``; an existing bundle at ``BUNDLE`` is left as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError
from jaxrobot.export.exporters import EXPORTERS, ExportJob
from jaxrobot.export.functions import ExportPlan
from jaxrobot.export.sources import ExportSource, source_for

FORMAT_VERSION = 1
FORMATS = tuple(EXPORTERS)
MANIFEST = "MANIFEST.json"
MANIFEST_FORMAT = "jaxrobot-export-manifest"
LEGACY_ORPHAN_AGE_S = 3600.0  # a leftover without a pid in its name is removed once untouched this long


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _take(batch: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[idx] for k, v in batch.items()}


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("jaxrobot", "jax", "jaxlib", "flax", "jax2onnx", "onnx", "onnxruntime", "tensorflow-cpu",
                 "tensorflow", "ai-edge-litert"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def real_batches(cfg: Any, example_batch: dict[str, np.ndarray], n: int, seed: int = 0,
                 count: int = 1) -> tuple[list[dict[str, np.ndarray]], str]:
    """``count`` batches of ``n`` real training examples from the experiment's data source.

    Falls back to the checkpoint's stored example batch (2 examples) when the data cannot be opened here
    (e.g. a cluster path), and says which was used.
    """
    try:
        from jaxrobot.data.sources import make_source

        source = make_source(cfg.data, global_batch_size=n, seed=seed + 1)
        batches = []
        for _ in range(count):
            b = next(source)
            batches.append({k: np.asarray(v) for k, v in b.items()})
        return batches, f"data source {type(cfg.data).kind!r} (batch {n})"
    except Exception as e:  # noqa: BLE001 - any failure to open the data means: use the stored examples
        return [dict(example_batch)], f"checkpoint example batch ({type(e).__name__}: {str(e)[:120]})"


def _jit_outputs(plan: ExportPlan, inputs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    import jax

    outs = {}
    for f in plan.functions:
        res = jax.jit(f.fn)(*[inputs[f.name][s.name] for s in f.inputs])
        res = res if isinstance(res, (tuple, list)) else (res,)
        outs[f.name] = {name: np.asarray(r) for name, r in zip(f.outputs, res, strict=True)}
    return outs


def export_checkpoint(workdir: str | os.PathLike, out: str | os.PathLike, *, formats: Sequence[str] = ("onnx",),
                      precisions: Sequence[str] = ("fp32",), opset: int = 20, step: int | None = None,
                      use_ema: bool = True, parity_batch: int = 8, seed: int = 0, overwrite: bool = False,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """Export the checkpoint in ``workdir`` to the bundle folder ``out``; returns the parity report.

    ``workdir``: a ``jaxrobot train`` run, or a ``jaxrobot rl finetune`` run (its base policy's functions plus the
    ``residual`` network, see :mod:`jaxrobot.export.sources`); ``step`` is then the RL iteration.

    ``formats``: ``onnx`` and/or ``tflite``. ``precisions`` apply to TFLite (``fp32``, ``fp16``, ``int8``
    dynamic range, ``int8_full`` calibrated); ONNX is always fp32 (TensorRT builds fp16 from it), so a
    request without ``fp32`` still writes fp32 ONNX. Raises :class:`ExportError` when a conversion
    fails, a graph fails the TensorRT check, or an fp32/fp16 artifact misses its tolerance.
    """
    from jaxrobot.export.tflite_export import PRECISIONS

    formats = tuple(dict.fromkeys(formats))
    precisions = tuple(dict.fromkeys(precisions))
    for f in formats:
        if f not in FORMATS:
            raise ExportError(f"unknown export format {f!r}; known: {', '.join(FORMATS)}")
    for p in precisions:
        if p not in PRECISIONS:
            raise ExportError(f"unknown precision {p!r}; known: {', '.join(PRECISIONS)}")
    if parity_batch < 2:
        raise ExportError(f"parity_batch must be >= 2 (checks run at batch 1 and at a larger batch), "
                          f"got {parity_batch}")
    out = pathlib.Path(out).absolute()
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists (pass --overwrite to replace it)")

    t0 = time.perf_counter()
    src = source_for(workdir, step, use_ema)
    meta, cfg, plan, example_batch = src.meta, src.cfg, src.plan, src.example_batch
    what = (f"RL run step {src.step} over {meta['config']['model']['kind']} step {meta['step']} ({src.which})"
            if src.checkpoint.get("kind") == "rl_finetune" else
            f"{meta['config']['model']['kind']} step {src.step} ({src.which})")
    log(f"export: {what}, functions {[f.name for f in plan.functions]}, formats {list(formats)}")

    rng = np.random.default_rng(seed)
    calib_count = 4 if "int8_full" in precisions else 1
    batches, data_source = real_batches(cfg, example_batch, parity_batch, seed, count=calib_count)
    big = batches[0]
    n_big = len(next(iter(big.values())))
    inputs = {"b1": plan.sample_inputs(_take(big, slice(0, 1)), rng), "bN": plan.sample_inputs(big, rng)}
    refs = {tag: _jit_outputs(plan, inp) for tag, inp in inputs.items()}

    tmp = out.parent / f".{out.name}.tmp-{_writer_tag()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(out, log)
        tmp.mkdir()
        job = ExportJob(tmp, plan, precisions, opset, inputs, refs, batches, rng, log)
        for f in formats:
            EXPORTERS[f](job)
        report, skipped = job.report, job.skipped
        failed = {k: v for k, v in report.items() if v.get("gated") and not v["ok"]}
        if failed:
            lines = "; ".join(f"{k}: max_abs_err {v['max_abs_err']:.3g}, max_rel_err {v['max_rel_err']:.3g} "
                              f"(tolerance {v['tolerance']})" for k, v in failed.items())
            raise ExportError(f"parity check failed against jax.jit: {lines}")
        _write_metadata(tmp, src, inputs, refs, report, data_source, n_big, opset, skipped)
        write_manifest(tmp)
        _sync_tree(tmp)
        _install(tmp, out, overwrite)
    except BaseException as e:
        full = _disk_full(e)
        where = _being_written(tmp, full, out) if full is not None else None
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            if isinstance(full, OSError) and not full.filename:
                full.filename = where  # so a caller that reports the OSError (the CLI) names the file too
            raise ExportError(f"no space left on device while writing {where} (the partial bundle was removed; "
                              f"free space on that disk and export again)") from e
        raise
    log(f"export: wrote {out} in {time.perf_counter() - t0:.1f}s")
    return report


def _write_metadata(tmp, src: ExportSource, inputs, refs, report, data_source, n_big, opset, skipped):
    from jaxrobot import config as config_lib

    plan, meta, cfg = src.plan, src.meta, src.cfg

    arrays = {}
    for tag in ("b1", "bN"):
        for fname, inp in inputs[tag].items():
            for k, v in inp.items():
                arrays[f"{tag}.{fname}.in.{k}"] = np.asarray(v)
            for k, v in refs[tag][fname].items():
                arrays[f"{tag}.{fname}.out.{k}"] = np.asarray(v)
    np.savez(tmp / "examples.npz", **arrays)
    (tmp / "config.json").write_text(config_lib.to_json(cfg) + "\n")
    (tmp / "stats.json").write_text(json.dumps(meta["stats"], indent=1) + "\n")
    if plan.schedule is not None:
        (tmp / "schedule.json").write_text(json.dumps(plan.schedule, indent=1) + "\n")
    (tmp / "parity.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    for name, text in src.extra_files.items():
        (tmp / name).write_text(text)

    spec = meta.get("data_spec", {})
    features = spec.get("features", {})
    observation = {}
    for f in plan.functions:
        for s in f.inputs:
            key = f"observation/{s.name}"
            if key in features:
                observation[s.name] = {"shape_per_step": list(features[key]["shape"][1:]),
                                       "model_input_shape": list(s.shape), "dtype": s.dtype,
                                       "camera": s.name.startswith("image_")}
    artifacts = {}
    for rel, rep in report.items():
        artifacts[rel] = {k: rep[k] for k in ("format", "precision", "function", "batch") if k in rep}
        if rep.get("quantization"):
            artifacts[rel]["quantization"] = rep["quantization"]
        if "opset" in rep:
            artifacts[rel]["opset"] = rep["opset"]
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    bundle = {
        "format": "jaxrobot-export",
        "format_version": FORMAT_VERSION,
        "created_unix": time.time(),
        "versions": _versions(),
        "checkpoint": src.checkpoint,
        "model": meta.get("model", {"kind": meta["config"]["model"]["kind"]}),
        "runtime": plan.runtime,
        "observation": observation,
        "action": {"dim": spec.get("action_dim"), "horizon": spec.get("horizon"),
                   "normalization": meta["stats"].get("mode", "mean_std")},
        "functions": {f.name: f.describe() for f in plan.functions},
        **({"sim_task": spec["sim_task"]} if spec.get("sim_task") else {}),
        "artifacts": artifacts,
        "parity": {"batch_sizes": [1, n_big], "data": data_source, "opset": opset},
        "not_written": skipped,
        "files": {str(p.relative_to(tmp)): _sha256(p) for p in files},
    }
    (tmp / "bundle.json").write_text(json.dumps(bundle, indent=1) + "\n")


def canonical_json(value: Any) -> bytes:
    """The bytes ``bundle.json`` is hashed as in the manifest (the runtime computes the same)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def write_manifest(folder: pathlib.Path) -> dict[str, Any]:
    """Write ``folder/MANIFEST.json`` covering ``bundle.json`` (canonical form) and every other file."""
    folder = pathlib.Path(folder)
    meta = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in ("bundle.json", MANIFEST):
            files[rel] = _sha256(p)
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "algorithm": "sha256",
                "bundle_json_sha256": hashlib.sha256(canonical_json(meta)).hexdigest(), "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _sync_tree(folder: pathlib.Path) -> None:
    """fsync every file and folder, so the rename cannot be on disk before the contents (power loss)."""
    for p in sorted(folder.rglob("*"), reverse=True) + [folder]:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOTSUP):  # folders cannot be synced on some filesystems
                raise
        finally:
            os.close(fd)


# ------------------------------------------------------------ leftovers of killed writers, disk full

def _writer_tag() -> str:
    """``<random>-<pid>-<host>``: unique, and says who wrote a temporary folder (see :func:`remove_orphans`)."""
    return f"{uuid.uuid4().hex[:8]}-{os.getpid()}-{socket.gethostname()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def remove_orphans(out: pathlib.Path, log: Callable[[str], None] = print) -> list[pathlib.Path]:
    """Remove ``.<out>.tmp-*`` / ``.<out>.old-*`` folders next to ``out`` left by exporters that died.

    A folder named with a pid and host is removed when that host is this one and the pid is not alive; one
    in the older form without pid when untouched for :data:`LEGACY_ORPHAN_AGE_S`. Returns what was removed.
    """
    out = pathlib.Path(out)
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(tmp|old)-[0-9a-f]{{8}}(?:-(\d+)-(.+))?$")
    host = socket.gethostname()
    removed = []
    try:
        candidates = sorted(out.parent.iterdir())
    except OSError:
        return removed
    for p in candidates:
        m = pattern.match(p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        pid, where = m.group(2), m.group(3)
        if pid is not None:
            if where != host or int(pid) <= 0 or _pid_alive(int(pid)):
                continue
            why = f"its writer (pid {pid} on this host) is gone"
        else:
            try:
                age = time.time() - p.stat().st_mtime
            except OSError:
                continue
            if age < LEGACY_ORPHAN_AGE_S:
                continue
            why = f"untouched for {age / 3600:.1f} h"
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
            log(f"export: removed the leftover {p.name} ({why})")
    return removed


def _disk_full(e: BaseException | None) -> BaseException | None:
    """The ENOSPC / EDQUOT error behind ``e`` (itself, or a cause or context of it), if any."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return e
        if not isinstance(e, OSError) and "No space left on device" in str(e):
            return e
        e = e.__cause__ or e.__context__
    return None


def _being_written(tmp: pathlib.Path, err: BaseException, out: pathlib.Path) -> str:
    """Name the file a disk-full error hit: the error's file name if it has one, else the newest file."""
    name = getattr(err, "filename", None)
    if name:
        try:
            return str(out / pathlib.Path(name).absolute().relative_to(tmp))
        except ValueError:
            return str(name)
    try:
        files = [p for p in tmp.rglob("*") if p.is_file()]
        newest = max(files, key=lambda p: p.stat().st_mtime_ns) if files else None
    except OSError:
        newest = None
    return str(out / newest.relative_to(tmp)) if newest is not None else str(out)


def _install(tmp: pathlib.Path, out: pathlib.Path, overwrite: bool) -> None:
    """Rename the finished temporary folder to ``out`` (replacing an old bundle only with ``overwrite``)."""
    if out.exists():
        if not overwrite:
            raise ExportError(f"{out} appeared while exporting; not replacing it")
        old = out.parent / f".{out.name}.old-{_writer_tag()}"
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)  # put the old bundle back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)
