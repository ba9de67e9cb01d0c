"""optax optimiser from the config: AdamW, warm-up + cosine, clipping, per-module learning rates."""

from __future__ import annotations

import re

import jax
import optax

from jaxrobot.train.config import OptimizerConfig
from jaxrobot.train.mesh import path_str


def lr_schedule(cfg: OptimizerConfig, peak: float, total_steps: int) -> optax.Schedule:
    if cfg.schedule == "constant":
        if cfg.warmup_steps == 0:
            return optax.constant_schedule(peak)
        return optax.join_schedules(
            [optax.linear_schedule(0.0, peak, cfg.warmup_steps), optax.constant_schedule(peak)],
            [cfg.warmup_steps])
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=peak, warmup_steps=cfg.warmup_steps,
        decay_steps=max(total_steps, cfg.warmup_steps + 1), end_value=peak * cfg.min_lr_ratio)


def _decay_mask(params):
    # No weight decay on biases and normalisation scales (vectors), as in AdamW practice.
    return jax.tree.map(lambda p: p.ndim > 1, params)


def _adamw(cfg: OptimizerConfig, peak: float, total_steps: int) -> optax.GradientTransformation:
    return optax.adamw(lr_schedule(cfg, peak, total_steps), b1=cfg.b1, b2=cfg.b2, eps=cfg.eps,
                       weight_decay=cfg.weight_decay, mask=_decay_mask)


def module_labels(params, cfg: OptimizerConfig):
    """Label each param with the index of the first ``module_lrs`` regex matching its path ("default")."""
    patterns = [re.compile(p) for p, _ in cfg.module_lrs]

    def label(path, _):
        name = path_str(path)
        for i, pat in enumerate(patterns):
            if pat.search(name):
                return f"group{i}"
        return "default"

    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(cfg: OptimizerConfig, total_steps: int) -> optax.GradientTransformation:
    parts = []
    if cfg.grad_clip > 0:
        parts.append(optax.clip_by_global_norm(cfg.grad_clip))
    if cfg.module_lrs:
        transforms = {"default": _adamw(cfg, cfg.lr, total_steps)}
        for i, (_, lr) in enumerate(cfg.module_lrs):
            transforms[f"group{i}"] = _adamw(cfg, lr, total_steps)
        parts.append(optax.multi_transform(transforms, lambda p: module_labels(p, cfg)))
    else:
        parts.append(_adamw(cfg, cfg.lr, total_steps))
    return optax.chain(*parts)
