"""What a workdir exports: a supervised checkpoint's model, or an RL run's base policy plus its residual.

:func:`source_for` reads a ``jaxrobot train`` checkpoint (:func:`checkpoint_source`) or a ``jaxrobot rl
finetune`` run (:func:`finetuned_source`) into one :class:`ExportSource`, so the bundle writer
(:mod:`jaxrobot.export.bundle`) does not care which it was given.

An RL run exports the functions of its frozen base policy (the same graphs as exporting the base alone) plus
``residual(residual_obs) -> (mean, std)``: the residual network with its running observation statistics inside
the graph, ``residual_obs`` being the raw environment state followed by the base's action (what the residual saw
in training, :func:`jaxrobot.rl.ppo.policy_observation`). ``bundle.json["runtime"]["residual"]`` says how the
robot composes the action: ``clip(base + clip(u, -1, 1) * scale, low, high)`` with ``u = mean`` or, when
``sample`` is true (the run's ``sample_actions``, what its success rate was measured with), ``u = mean + std *
eps`` from the runtime's seeded generator (:func:`jaxrobot.rl.ppo.compose_action` on the JAX side).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError
from jaxrobot.export.functions import ExportFunction, ExportPlan, TensorSpec, export_plan


@dataclasses.dataclass
class ExportSource:
    """Everything the bundle writer needs from a workdir.

    ``step``: the exported checkpoint's step (an RL run's iteration); ``meta``/``cfg``/``example_batch``: of the
    supervised checkpoint whose data the parity batches come from (the
    base policy for an RL run); ``checkpoint``: the provenance written to ``bundle.json``; ``extra_files``:
    more files for the bundle (name -> text).
    """

    step: int
    meta: dict[str, Any]
    cfg: Any
    params: Any
    which: str
    example_batch: dict[str, np.ndarray]
    plan: ExportPlan
    checkpoint: dict[str, Any]
    extra_files: dict[str, str] = dataclasses.field(default_factory=dict)


def checkpoint_source(workdir: str | os.PathLike, step: int | None, use_ema: bool) -> ExportSource:
    """A ``jaxrobot train`` checkpoint (the model's own export plan)."""
    from jaxrobot.models.registry import build_model
    from jaxrobot.train import checkpoint as ckpt_lib

    step, meta = ckpt_lib.read_meta(workdir, step)
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    _, example_batch = ckpt_lib.restore_arrays(workdir, step, item="example_batch")
    which = ckpt_lib.params_key(state, use_ema)
    params = state[which]
    cfg = ckpt_lib.config_from_meta(meta)
    meta = dict(meta, step=step)
    plan = export_plan(build_model(cfg.model), params, meta, example_batch)
    checkpoint = {"workdir": str(pathlib.Path(workdir).absolute()), "step": int(step), "params": which,
                  "params_sha256": ckpt_lib.digest(params)}
    return ExportSource(step, meta, cfg, params, which, example_batch, plan, checkpoint)


def finetuned_source(workdir: str | os.PathLike, step: int | None, use_ema: bool) -> ExportSource:
    """An RL run: its base policy's plan plus the ``residual`` function and the runtime's composition rule."""
    from jaxrobot import config as config_lib
    from jaxrobot.rl.finetuned import load_run
    from jaxrobot.train import checkpoint as ckpt_lib

    run = load_run(workdir, step)
    if run.cfg.mode != "residual":
        raise ExportError(f"{workdir} is a PPO-from-scratch run (mode={run.cfg.mode!r}), the baseline of RL "
                          f"fine-tuning; only residual runs (base policy + residual) export")
    if not use_ema:
        raise ExportError(f"{workdir} is an RL run: its residual was trained over the base policy's EMA "
                          f"parameters (when the base kept them), so --no-ema does not apply")
    base_ref = run.meta["base"]
    src = checkpoint_source(base_ref["workdir"], base_ref["step"], use_ema=True)
    if src.checkpoint["params_sha256"] != run.base.digest:
        raise ExportError(f"{workdir}: the base policy's exported parameters ({src.which}) are not the ones the "
                          f"residual was trained over (digest {src.checkpoint['params_sha256'][:12]}... vs "
                          f"{run.base.digest[:12]}...)")
    policy, normalizer = run.host_policy()
    nets, sp = run.nets, run.sp

    def residual(obs):
        return nets.policy_network.apply(normalizer, policy, obs)

    mean = np.asarray(normalizer.mean, np.float32)
    std = np.asarray(normalizer.std, np.float32)
    spec = TensorSpec("residual_obs", (None, sp.obs_size), "float32")
    fn = ExportFunction("residual", residual, (spec,), ("mean", "std"), full_int8=False, fp32_only=(
        f"the residual's observation normaliser subtracts running means (up to {np.abs(mean).max():.3g}) and "
        f"divides by running standard deviations (down to {std.min():.2g}); fp16 or int8 constants cannot hold "
        f"them, and the small MLP costs little in fp32"))
    base_sample = src.plan.sample_inputs

    def sample(batch, rng):
        # Residual inputs drawn from the run's own running statistics of what the residual saw in training.
        n = len(next(iter(batch.values())))
        obs = (mean + std * rng.standard_normal((n, sp.obs_size))).astype(np.float32)
        return {**base_sample(batch, rng), "residual": {"residual_obs": obs}}

    plan = ExportPlan(functions=[*src.plan.functions, fn], sample_inputs=sample, schedule=src.plan.schedule,
                      runtime={**src.plan.runtime, "residual": {
                          "observation": ["state", "base_action"], "state_dim": int(run.env.state_dim),
                          "scale": sp.scale.tolist(), "low": sp.low.tolist(), "high": sp.high.tolist(),
                          "sample": bool(run.cfg.sample_actions), "task": run.cfg.task}})
    checkpoint = {"workdir": str(pathlib.Path(workdir).absolute()), "step": int(run.step), "params": "rl",
                  "params_sha256": ckpt_lib.digest(policy), "kind": "rl_finetune", "base": src.checkpoint}
    return dataclasses.replace(src, step=int(run.step), plan=plan, checkpoint=checkpoint,
                               extra_files={"rl_config.json": config_lib.to_json(run.cfg) + "\n"})


def source_for(workdir: str | os.PathLike, step: int | None, use_ema: bool) -> ExportSource:
    from jaxrobot.rl.finetuned import is_rl_run

    if is_rl_run(workdir):
        return finetuned_source(workdir, step, use_ema)
    return checkpoint_source(workdir, step, use_ema)


__all__ = ["ExportSource", "checkpoint_source", "finetuned_source", "source_for"]
