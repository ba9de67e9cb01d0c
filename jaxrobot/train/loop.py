"""The training loop: ties data, model, optimiser, mesh, checkpoints and logging together.

Everything here runs on the host between compiled steps; the step itself is in ``step.py``. The loop
fetches metrics from device only every ``log_every`` steps and before each checkpoint, checks them for
NaN/Inf (naming the step and the metric), and never saves a state it has not checked.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.data.sources import make_source
from jaxrobot.models.params import trainable_count
from jaxrobot.models.registry import build_model
from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.config import ExperimentConfig
from jaxrobot.train.mesh import batch_sharding, make_mesh, replicated
from jaxrobot.train.metrics import MetricsWriter, Progress
from jaxrobot.train.optimizer import lr_schedule, make_optimizer
from jaxrobot.train.preemption import Preemption
from jaxrobot.train.state import create_train_state, state_shardings
from jaxrobot.train.step import make_jit_step, make_shard_map_step
from jaxrobot.train.workdir_lock import WorkdirLock


class TrainingDiverged(RuntimeError):
    """NaN/Inf in a training metric; the message names the step and the metric."""


@dataclasses.dataclass
class TrainResult:
    step: int
    metrics: dict[str, float]
    workdir: str
    wall_seconds: float
    steps_per_second: float
    samples_per_second: float
    preempted: bool = False
    resumed_from: int | None = None


class _Prefetcher:
    """Produces batches in a background thread, each with the data state *after* producing it.

    ``to_device`` runs in that thread too, so batches arrive already sharded over the mesh and the host
    → device copy of step n+1 overlaps step n.
    """

    def __init__(self, source, to_device: Callable[[dict], dict], depth: int = 2):
        self.source, self.to_device, self.q = source, to_device, queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                batch = next(self.source)
                self._put((self.to_device(batch), dict(self.source.get_state())))
        except BaseException as e:  # surfaced in the main thread (unless it has stopped reading)
            self._put(e)

    def _put(self, item) -> None:
        """Queue ``item``, giving up once closed (the reader may have stopped reading)."""
        while not self._stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self):
        item = self.q.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self._stop.set()
        self.thread.join(timeout=30)  # it finishes the batch it is building; then the source can be closed


def _to_global(local: dict[str, np.ndarray], sharding) -> dict[str, jax.Array]:
    arrays = {k: v for k, v in local.items() if isinstance(v, np.ndarray) and v.dtype != object}
    if jax.process_count() == 1:
        return jax.device_put(arrays, sharding)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in arrays.items()}


def _check_finite(records: list[tuple[int, dict[str, Any]]], latest_ckpt: int | None) -> None:
    for step, metrics in records:
        for name, value in metrics.items():
            if not np.all(np.isfinite(value)):
                where = f"checkpoint step {latest_ckpt}" if latest_ckpt is not None else "no checkpoint yet"
                raise TrainingDiverged(
                    f"non-finite {name}={float(np.asarray(value).ravel()[0])} at step {step}; training stopped. "
                    f"The last good checkpoint is intact ({where}).")


def train(cfg: ExperimentConfig, workdir: str | pathlib.Path, *, steps: int | None = None,
          checkpoint_every: int | None = None, progress: bool = True, log: Callable[[str], None] = print,
          evaluator: Callable[[Any, int, dict], dict[str, float]] | None = None, async_checkpoints: bool = True
          ) -> TrainResult:
    """Train ``cfg`` in ``workdir``; resume from its latest complete checkpoint if there is one."""
    if steps is not None:
        cfg = config_lib.validate(cfg.replace(train=cfg.train.replace(steps=steps)))
    if checkpoint_every is not None:
        cfg = config_lib.validate(cfg.replace(train=cfg.train.replace(checkpoint_every=checkpoint_every)))
    tcfg = cfg.train
    workdir = pathlib.Path(workdir).absolute()
    is_main = jax.process_index() == 0

    # Everything that can refuse the run (config, mesh, data, model vs data) runs before anything is written
    # to the workdir; then the workdir lock; then the resume checks; only then config.json and checkpoints.
    mesh = make_mesh(cfg.mesh)
    if tcfg.parallelism == "shard_map" and mesh.shape["fsdp"] != 1:
        raise config_lib.ConfigError("config field 'train.parallelism': shard_map needs mesh.fsdp=1 "
                                     "(it keeps the state replicated)")
    n_dev = mesh.devices.size
    if tcfg.batch_size % n_dev or (tcfg.batch_size // tcfg.grad_accum) % n_dev:
        raise config_lib.ConfigError(
            f"config field 'train.batch_size': {tcfg.batch_size} (micro-batch "
            f"{tcfg.batch_size // tcfg.grad_accum}) must be divisible by the {n_dev} devices of the mesh")

    model = build_model(cfg.model)
    tx = make_optimizer(cfg.optimizer, tcfg.steps)
    schedule = lr_schedule(cfg.optimizer, cfg.optimizer.lr, tcfg.steps)
    source = make_source(cfg.data, global_batch_size=tcfg.batch_size, process_index=jax.process_index(),
                         process_count=jax.process_count(), seed=tcfg.seed)
    check_data = getattr(model, "check_data", None)
    if callable(check_data):
        check_data(source.spec())
    bsharding = batch_sharding(mesh)

    # One real batch gives the shapes for init; rewind the source so training starts at position 0.
    start_state = dict(source.get_state())
    example_global = _to_global(next(source), bsharding)
    source.set_state(start_state)
    ema = tcfg.ema_decay > 0
    shardings, abstract = state_shardings(model, tx, example_global, mesh, cfg.mesh, ema)

    lock = None
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
        lock = WorkdirLock(workdir).acquire()
    try:
        return _train_locked(cfg, workdir, model, tx, schedule, source, mesh, bsharding, example_global,
                             shardings, abstract, progress=progress, log=log, evaluator=evaluator,
                             async_checkpoints=async_checkpoints)
    finally:
        if lock is not None:
            lock.release()
        close = getattr(source, "close", None)
        if callable(close):  # data worker processes and threads end with the run
            close()


def _resume_point(cfg: ExperimentConfig, workdir: pathlib.Path, log: Callable[[str], None]) -> int | None:
    """The newest checkpoint that verifies (damaged newer ones are moved aside, saying so), after checking the
    run may continue from it: a changed model is refused; every other changed field is logged by name."""
    skipped: list[str] = []
    if jax.process_index() == 0:  # find it first; damaged steps are moved aside only once the run is accepted
        step = ckpt_lib.latest_verified_step(workdir, log=skipped.append, quarantine=False)
    else:
        step = None
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        found = int(multihost_utils.broadcast_one_to_all(np.int32(-1 if step is None else step)))
        step = None if found < 0 else found
    if step is None:
        return None
    _, meta = ckpt_lib.read_meta(workdir, step, verify=False)  # verified just now
    saved, new = meta["config"], config_lib.to_dict(cfg)
    if saved["model"] != new["model"]:
        changed = ", ".join(config_lib.config_changes(saved["model"], new["model"], "model")) or "model kind"
        raise config_lib.ConfigError(
            f"config field 'model': differs from the checkpoint in {workdir} (step {step}): {changed}; "
            f"use a new --workdir or the same model config")
    if skipped:  # accepted: move the damaged newer steps out of orbax's way (verification is cached: no rehash)
        ckpt_lib.latest_verified_step(workdir, log=log, quarantine=True)
    for line in config_lib.config_changes(saved, new):
        log(f"resume: config changed since step {step}: {line}")
    return step


def _train_locked(cfg, workdir, model, tx, schedule, source, mesh, bsharding, example_global, shardings, abstract,
                  *, progress, log, evaluator, async_checkpoints) -> TrainResult:
    tcfg = cfg.train
    is_main = jax.process_index() == 0
    ema = tcfg.ema_decay > 0
    resumed_from = _resume_point(cfg, workdir, log)
    if is_main:
        (workdir / "config.json").write_text(config_lib.to_json(cfg))
    ckpt = ckpt_lib.Checkpointer(workdir, keep=tcfg.keep_checkpoints, async_save=async_checkpoints)
    if resumed_from is not None:
        state, data_state, _ = ckpt.restore(resumed_from, ckpt_lib.abstract_with_shardings(abstract, shardings))
        source.set_state(data_state)
        log(f"resumed from {ckpt.directory / str(resumed_from)}")
    else:
        state, _ = create_train_state(model, tx, jax.random.PRNGKey(tcfg.seed), example_global, mesh, cfg.mesh, ema)

    with mesh:
        example_batch = jax.jit(lambda b: jax.tree.map(lambda x: x[:2], b),
                                out_shardings=replicated(mesh))(example_global)
    meta = {
        "config": config_lib.to_dict(cfg),
        "model": {"kind": type(cfg.model).kind, "param_count": trainable_count(abstract.params)},
        "data_spec": source.spec(),
        "stats": source.stats(),
        "mesh": {k: int(v) for k, v in mesh.shape.items()},
        "process_count": jax.process_count(),
    }

    if tcfg.parallelism == "shard_map":
        step_fn = make_shard_map_step(model, tx, tcfg, schedule, mesh)
    else:
        step_fn = make_jit_step(model, tx, tcfg, schedule, mesh, shardings)

    step = int(jax.device_get(state.step))
    writer = MetricsWriter(workdir, enabled=is_main, resume_step=step)
    bar = Progress(tcfg.steps, step, tcfg.batch_size, enabled=progress and is_main)
    preempt = Preemption(log)
    data_states: dict[int, dict] = {}
    pending: list[tuple[int, Any]] = []
    last_metrics: dict[str, float] = {}
    saved_step = resumed_from
    preempted = False
    t_start = time.perf_counter()
    # On accelerators the host → device copy runs in the prefetch thread (overlapping the step). XLA:CPU
    # with several (fake) devices deadlocks its all-reduce rendezvous when another thread transfers
    # while a step runs (seen here: "only 6 of 8 threads arrived"), so on CPU the copy stays in this thread.
    on_cpu = mesh.devices.flat[0].platform == "cpu"
    # XLA:CPU runs every (fake) device's part of a step on a shared thread pool; with several steps in
    # flight, parts of step n+1 can hold pool threads while step n's all-reduce waits for its last
    # participants, and the rendezvous aborts after 40 s (seen here on 8 fake devices under load). On a
    # multi-device CPU mesh the loop therefore waits for each step before dispatching the next.
    sync_each_step = on_cpu and mesh.devices.size > 1
    to_device = (lambda b: b) if on_cpu else (lambda b: _to_global(b, bsharding))
    prefetch = _Prefetcher(source, to_device) if step < tcfg.steps else None

    def flush() -> None:
        nonlocal last_metrics
        if not pending:
            return
        host = jax.device_get([m for _, m in pending])
        records = list(zip([s for s, _ in pending], host, strict=True))
        pending.clear()
        _check_finite(records, saved_step)
        s, m = records[-1]
        sps, xps = bar.rates(s)
        last_metrics = {k: float(np.asarray(v)) for k, v in m.items()}
        writer.write(s, {**last_metrics, "steps_per_sec": sps, "samples_per_sec": xps})
        bar.update(s, last_metrics.get("loss"))

    def save(s: int) -> None:
        nonlocal saved_step
        flush()
        if saved_step == s:
            return
        ckpt.save(s, state, data_states[s], meta, example_batch)
        saved_step = s
        for k in [k for k in data_states if k < s]:
            del data_states[k]

    try:
        while step < tcfg.steps:
            batch, data_state = prefetch.next()
            if on_cpu:
                batch = _to_global(batch, bsharding)
            # big_vision's guard: the step must not move data between host and device implicitly.
            with jax.transfer_guard("disallow"):
                state, metrics = step_fn(state, batch)
            if sync_each_step:
                jax.block_until_ready(metrics)
            step += 1
            data_states[step] = data_state
            pending.append((step, metrics))
            if step % tcfg.log_every == 0:
                flush()
            if evaluator is not None and tcfg.eval_every and step % tcfg.eval_every == 0:
                flush()
                scores = evaluator(state, step, meta)
                writer.write(step, scores)
                log(f"step {step}: " + ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
            if step % tcfg.checkpoint_every == 0 or step == tcfg.steps:
                save(step)
            if preempt.reached(step):
                save(step)
                preempted = True
                ckpt.wait()
                log(f"preempted: saved checkpoint at step {step} ({preempt.reason}); run the same command "
                    f"to resume")
                break
        flush()
        if saved_step != step:
            save(step)
    finally:
        if prefetch is not None:
            prefetch.close()
        bar.close()
        preempt.close()
        ckpt.close()
        writer.close()
    wall = time.perf_counter() - t_start
    sps, xps = bar.rates(step)
    result = TrainResult(step=step, metrics=last_metrics, workdir=str(workdir), wall_seconds=wall,
                         steps_per_second=sps, samples_per_second=xps, preempted=preempted,
                         resumed_from=resumed_from)
    if is_main:
        summary = {"step": step, "loss": last_metrics.get("loss"), "steps_per_sec": round(sps, 2),
                   "samples_per_sec": round(xps, 1), "wall_s": round(wall, 1), "preempted": preempted,
                   "workdir": str(workdir)}
        if getattr(source, "skipped_frames", 0):  # data.skip_bad: corrupt frames replaced, counted
            summary["skipped_frames"] = int(source.skipped_frames)
        log("TRAIN_SUMMARY " + json.dumps(summary))
    return result
