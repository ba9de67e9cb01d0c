"""``jaxrobot rl finetune``: the PPO loop with the supervised trainer's guarantees.

- Checkpoints are the trainer's (:class:`jaxrobot.train.checkpoint.Checkpointer`: orbax, sealed with an integrity
  record, verified before use). The run state (:class:`jaxrobot.rl.ppo.RunState`: networks, Adam, observation
  statistics, RNG, iteration and episode counters) is all there is between iterations (every iteration starts
  fresh episodes), so a resume after ``kill -9`` continues bit for bit from the newest verified checkpoint.
- The base policy is referenced by its checkpoint (workdir, step) and the sha256 digest of its params; a resume
  or an evaluation with a changed base is refused.
- SIGTERM / Ctrl-C save and exit; the workdir is locked against a second writer; ``metrics.jsonl``, TensorBoard,
  a progress bar (env steps/s, success), a periodic closed-loop evaluation on held-out seeds (iteration 0 scores
  the base policy alone: the residual starts at zero) and ``learning_curve.png`` (env steps -> success rate).
"""

from __future__ import annotations

import json
import math
import pathlib
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.config import ConfigError
from jaxrobot.policies.evaluation import task_env
from jaxrobot.rl import brax_parts, ppo
from jaxrobot.rl.base_policy import BasePolicy, load_base_policy
from jaxrobot.rl.config import RLConfig
from jaxrobot.rl.finetuned import make_runner
from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.loop import TrainingDiverged
from jaxrobot.train.mesh import make_mesh, replicated
from jaxrobot.train.metrics import MetricsWriter, Progress
from jaxrobot.train.preemption import Preemption
from jaxrobot.train.workdir_lock import WorkdirLock

CURVE_FILE = "learning_curve.png"


def iterations_for(cfg: RLConfig, episode_steps: int) -> int:
    """Iterations that cover ``cfg.env_steps`` (one iteration = ``n_envs x episode_steps`` env steps)."""
    return max(1, math.ceil(cfg.env_steps / (cfg.ppo.n_envs * episode_steps)))


def finetune(cfg: RLConfig, base_workdir: str | pathlib.Path, workdir: str | pathlib.Path, *,
             progress: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train ``cfg`` in ``workdir`` over the policy of ``base_workdir``; resume when ``workdir`` has a checkpoint.

    Returns the summary also logged as ``RL_SUMMARY {json}``.
    """
    cfg = config_lib.validate(cfg)
    workdir = pathlib.Path(workdir).absolute()
    base = load_base_policy(pathlib.Path(base_workdir).absolute())
    env = task_env(cfg.task, base.meta["data_spec"], base.action_dim, f"the base policy in {base_workdir}")
    mesh = make_mesh(cfg.mesh)
    n_dev = mesh.devices.size
    if cfg.ppo.n_envs % n_dev:
        raise ConfigError(f"config field 'ppo.n_envs': {cfg.ppo.n_envs} must be divisible by the {n_dev} devices "
                          f"of the mesh")
    rollout_base = base if cfg.mode == "residual" else None
    sp = ppo.spaces(cfg, env, rollout_base)
    nets = brax_parts.make_networks(cfg.ppo, sp.obs_size, sp.action_size)
    tx = ppo.make_optimizer(cfg)
    is_main = jax.process_index() == 0
    lock = None
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
        lock = WorkdirLock(workdir).acquire()
    try:
        return _finetune_locked(cfg, base, rollout_base, env, mesh, sp, nets, tx, workdir, progress and is_main,
                                log)
    finally:
        if lock is not None:
            lock.release()


def _resume_point(cfg: RLConfig, base: BasePolicy, workdir: pathlib.Path, log) -> int | None:
    step = ckpt_lib.latest_verified_step(workdir, log=log)
    if step is None:
        return None
    _, meta = ckpt_lib.read_meta(workdir, step, verify=False)
    if not meta.get("rl"):
        raise ConfigError(f"{workdir} holds checkpoints of a supervised run; use a new --workdir for fine-tuning")
    ref = meta["base"]
    if ref["digest"] != base.digest:
        raise ConfigError(f"--base {base.workdir} (step {base.step}) is not the base policy {workdir} was trained "
                          f"on ({ref['workdir']} step {ref['step']}, params sha256 {ref['digest'][:12]}...); use "
                          f"that base or a new --workdir")
    saved, new = meta["config"], config_lib.to_dict(cfg)
    for key in ("mode", "task", "residual_scale", "seed"):
        if saved.get(key) != new.get(key):
            raise ConfigError(f"config field '{key}': {saved.get(key)!r} in the checkpoint at step {step}, "
                              f"{new.get(key)!r} now; use a new --workdir to change it")
    if saved["ppo"]["hidden"] != new["ppo"]["hidden"]:
        raise ConfigError("config field 'ppo.hidden': the networks differ from the checkpoint's; use a new --workdir")
    for line in config_lib.config_changes(saved, new):
        log(f"resume: config changed since iteration {step}: {line}")
    return step


def _finetune_locked(cfg, base, rollout_base, env, mesh, sp, nets, tx, workdir, progress, log):
    t_episode = env.config.episode_steps
    per_iteration = cfg.ppo.n_envs * t_episode
    total = iterations_for(cfg, t_episode)
    resumed_from = _resume_point(cfg, base, workdir, log)
    is_main = jax.process_index() == 0
    if is_main:
        (workdir / "config.json").write_text(config_lib.to_json(cfg))
    ckpt = ckpt_lib.Checkpointer(workdir, keep=cfg.keep_checkpoints)
    rep = replicated(mesh)
    abstract = jax.eval_shape(lambda: ppo.init_run_state(cfg, sp, nets, tx))
    if resumed_from is not None:
        shardings = jax.tree.map(lambda _: rep, abstract)
        run, _, _ = ckpt.restore(resumed_from, ckpt_lib.abstract_with_shardings(abstract, shardings))
        log(f"resumed from {ckpt.directory / str(resumed_from)}")
    else:
        run = jax.device_put(ppo.init_run_state(cfg, sp, nets, tx), rep)
    env_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(("data", "fsdp")))
    iteration_fn = jax.jit(ppo.make_iteration(cfg, env, rollout_base, sp, nets, tx, env_sharding),
                           donate_argnums=0, out_shardings=(rep, rep))
    base_params = jax.device_put(base.params, rep) if rollout_base is not None else None
    meta = {
        "rl": True,
        "config": config_lib.to_dict(cfg),
        "base": {"workdir": base.workdir, "step": base.step, "digest": base.digest,
                 "kind": base.meta["model"]["kind"]},
        "task": cfg.task,
        "spaces": {"obs_size": sp.obs_size, "action_size": sp.action_size, "scale": sp.scale.tolist()},
        "episode_steps": t_episode,
        "env_steps_per_iteration": per_iteration,
        "mesh": {k: int(v) for k, v in mesh.shape.items()},
    }
    example_batch = {"observation": np.zeros((2, sp.obs_size), np.float32)}

    it = int(jax.device_get(run.iteration))
    # A fresh start drops what a killed earlier attempt logged; a resume drops what came after its checkpoint.
    writer = MetricsWriter(workdir, enabled=is_main, resume_step=it if resumed_from is not None else -1)
    bar = Progress(total, it, per_iteration, enabled=progress)
    preempt = Preemption(log)
    saved = resumed_from
    preempted = False
    last: dict[str, float] = {}
    best_eval: dict[str, Any] = {}
    t0 = time.perf_counter()

    def save(i: int) -> None:
        nonlocal saved
        if saved == i:
            return
        ckpt.save(i, run, {"iteration": i, "env_steps": i * per_iteration}, meta, example_batch)
        saved = i

    def evaluate(i: int) -> None:
        from jaxrobot.sim.evaluate import eval_scalars
        from jaxrobot.sim.evaluate import evaluate as run_eval

        runner = make_runner(cfg, base, run, sp, nets, seed=cfg.eval_seed)
        n = cfg.eval_episodes
        res = run_eval(runner, env, n_envs=min(100, n), episodes=n, seed=cfg.eval_seed)
        scores = {**eval_scalars(res), "env_steps": i * per_iteration}
        writer.write(i, scores)
        best_eval.update(scores)
        log(f"iteration {i} ({i * per_iteration:,} env steps): eval success {scores['eval/success_rate']:.1%} "
            f"({scores['eval/ci95_lo']:.1%}-{scores['eval/ci95_hi']:.1%}) over {n} held-out episodes")
        if is_main:
            _plot(workdir, cfg)

    try:
        if cfg.eval_every and it == 0 and resumed_from is None:
            evaluate(0)
        while it < total:
            with mesh:
                run, metrics = iteration_fn(run, base_params)
            it += 1
            if it % cfg.log_every == 0 or it == total:
                host = {k: float(v) for k, v in jax.device_get(metrics).items()}
                bad = [k for k, v in host.items() if not np.isfinite(v)]
                if bad:
                    last_good = f"iteration {saved}" if saved else "none yet"
                    raise TrainingDiverged(f"non-finite {bad[0]}={host[bad[0]]} at iteration {it}; stopped. The last "
                                           f"good checkpoint is intact ({last_good})")
                sps, _ = bar.rates(it)
                last = dict(host, env_steps=it * per_iteration, env_steps_per_sec=sps * per_iteration,
                            wall_s=time.perf_counter() - t0)
                writer.write(it, last)
                bar.update(it, None)
                if bar.bar is not None:
                    bar.bar.set_postfix({"env steps/s": f"{sps * per_iteration:,.0f}",
                                         "success": f"{host['train/success_rate']:.0%}"}, refresh=True)
            if cfg.eval_every and it % cfg.eval_every == 0:
                evaluate(it)
            if it % cfg.checkpoint_every == 0 or it == total:
                save(it)
            if preempt.reached(it):
                save(it)
                preempted = True
                ckpt.wait()
                log(f"preempted: saved checkpoint at iteration {it} ({preempt.reason}); run the same command to "
                    f"resume")
                break
        if saved != it:
            save(it)
    finally:
        bar.close()
        preempt.close()
        ckpt.close()
        writer.close()
    wall = time.perf_counter() - t0
    summary = {"iteration": it, "iterations": total, "env_steps": it * per_iteration,
               "train_success_rate": last.get("train/success_rate"),
               "eval_success_rate": best_eval.get("eval/success_rate"),
               "env_steps_per_sec": round(last.get("env_steps_per_sec", 0.0), 1), "wall_s": round(wall, 1),
               "preempted": preempted, "workdir": str(workdir)}
    log("RL_SUMMARY " + json.dumps(summary))
    return summary


def _plot(workdir: pathlib.Path, cfg: RLConfig) -> None:
    """``learning_curve.png``: evaluation success (95% band) and the training episodes' success vs env steps."""
    from jaxrobot.plots import Series, save_line_plot

    rows = [json.loads(ln) for ln in (workdir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    ev = [r for r in rows if "eval/success_rate" in r]
    tr = [r for r in rows if "train/success_rate" in r]
    series = []
    if ev:
        series.append(Series("held-out evaluation", [r["env_steps"] for r in ev], [r["eval/success_rate"] for r in ev],
                             [r["eval/ci95_lo"] for r in ev], [r["eval/ci95_hi"] for r in ev]))
    if tr:
        series.append(Series("training episodes (exploring)", [r["env_steps"] for r in tr],
                             [r["train/success_rate"] for r in tr]))
    if series:
        save_line_plot(workdir / CURVE_FILE, series, xlabel="environment steps", ylabel="success rate",
                       title=f"{cfg.mode} PPO on {cfg.task}", ylim=(0.0, 1.0))
