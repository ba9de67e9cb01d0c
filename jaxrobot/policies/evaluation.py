"""Build run-time policies from a checkpoint folder or a live train state, and score them in MJX."""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.models.registry import build_model
from jaxrobot.policies.runner import PolicyRunner
from jaxrobot.train import checkpoint as ckpt_lib


def runner_from_meta(meta: dict[str, Any], params: Any, seed: int = 0) -> PolicyRunner:
    """A :class:`PolicyRunner` for params of the model described by checkpoint metadata."""
    cfg = config_lib.from_dict(meta["config"])
    model = build_model(cfg.model)
    spec = meta["data_spec"]
    horizon = int(spec["horizon"])
    return PolicyRunner(
        model.predict, params, meta["stats"], n_obs_steps=int(spec["n_obs_steps"]), horizon=horizon,
        n_action_steps=int(getattr(cfg.model, "n_action_steps", horizon)),
        temporal_ensemble=getattr(cfg.model, "temporal_ensemble_coeff", None),
        state_dim=spec.get("state_dim"), seed=seed)


def load_policy(workdir: str | pathlib.Path, step: int | None = None, use_ema: bool = True,
                seed: int = 0) -> tuple[PolicyRunner, dict[str, Any]]:
    """The policy saved in ``workdir`` (EMA params when the run kept them)."""
    step, meta = ckpt_lib.read_meta(workdir, step)
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    params = state.get("ema_params") if use_ema and state.get("ema_params") is not None else state["params"]
    meta = dict(meta, step=step)
    return runner_from_meta(meta, params, seed), meta


def evaluate_checkpoint(workdir, task: str, episodes: int, *, n_envs: int = 64, seed: int = 0,
                        step: int | None = None, videos: int = 0, video_dir=None) -> dict[str, Any]:
    from jaxrobot.sim.evaluate import evaluate

    runner, meta = load_policy(workdir, step, seed=seed)
    result = evaluate(runner, task, n_envs=min(n_envs, episodes), episodes=episodes, seed=seed,
                      videos=videos, video_dir=video_dir)
    result["step"] = meta["step"]
    return result


def make_evaluator(cfg):
    """For ``train.eval_every``: a function (state, step, meta) -> scalars logged with the metrics."""
    tcfg = cfg.train

    def evaluator(state, step: int, meta: dict[str, Any]) -> dict[str, float]:
        import jax

        from jaxrobot.sim.evaluate import evaluate

        params = state.ema_params if state.ema_params is not None else state.params
        params = jax.tree.map(np.asarray, jax.device_get(params))
        runner = runner_from_meta(meta, params, seed=tcfg.seed)
        n = tcfg.eval_episodes
        res = evaluate(runner, tcfg.eval_task, n_envs=min(64, n), episodes=n, seed=tcfg.seed + step)
        return {"eval/success_rate": float(res["success_rate"]), "eval/ci95_lo": float(res["ci95"][0]),
                "eval/ci95_hi": float(res["ci95"][1])}

    return evaluator
