"""Optimiser pieces against closed forms: schedule, per-module learning rates, decay mask, EMA warm-up."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.train.config import OptimizerConfig, TrainConfig
from jaxrobot.train.optimizer import lr_schedule, make_optimizer, module_labels
from jaxrobot.train.step import ema_decay_at

PARAMS = {"backbone": {"kernel": jnp.ones((3, 3)), "bias": jnp.ones(3)},
          "head": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}}


def test_warmup_cosine_matches_closed_form():
    cfg = OptimizerConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    sched = lr_schedule(cfg, cfg.lr, 110)
    for t in [0, 5, 10, 40, 60, 109, 110]:
        if t < 10:
            want = 1e-3 * t / 10
        else:
            want = 1e-4 + (1e-3 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (t - 10) / 100))
        assert float(sched(t)) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_module_learning_rates_apply_to_matching_params_only():
    cfg = OptimizerConfig(lr=1e-2, weight_decay=0.0, grad_clip=0.0, schedule="constant",
                          module_lrs=(("^backbone/", 1e-5),))
    assert module_labels(PARAMS, cfg) == {"backbone": {"kernel": "group0", "bias": "group0"},
                                          "head": {"kernel": "default", "bias": "default"}}
    tx = make_optimizer(cfg, 100)
    grads = jax.tree.map(lambda p: 0.5 * jnp.ones_like(p), PARAMS)
    updates, _ = tx.update(grads, tx.init(PARAMS), PARAMS)
    # Adam's first step moves every coordinate by lr (bias-corrected m/sqrt(v) = 1).
    np.testing.assert_allclose(updates["backbone"]["kernel"], -1e-5, rtol=1e-4)
    np.testing.assert_allclose(updates["head"]["kernel"], -1e-2, rtol=1e-4)


def test_weight_decay_skips_vectors():
    cfg = OptimizerConfig(lr=1e-2, weight_decay=0.5, grad_clip=0.0, schedule="constant")
    tx = make_optimizer(cfg, 100)
    zeros = jax.tree.map(jnp.zeros_like, PARAMS)
    updates, _ = tx.update(zeros, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(updates["head"]["kernel"], -1e-2 * 0.5, rtol=1e-5)
    np.testing.assert_allclose(updates["head"]["bias"], 0.0)


def test_clipping_bounds_the_global_norm():
    cfg = OptimizerConfig(lr=1.0, weight_decay=0.0, grad_clip=1.0, schedule="constant", b1=0.0, b2=0.0, eps=0.0)
    tx = make_optimizer(cfg, 10)
    grads = jax.tree.map(lambda p: 100.0 * jnp.ones_like(p), PARAMS)
    # With b1 = b2 = 0 Adam's update is g/|g| = sign(g): clipping must not change the direction.
    updates, _ = tx.update(grads, tx.init(PARAMS), PARAMS)
    np.testing.assert_allclose(updates["head"]["kernel"], -1.0, rtol=1e-5)


def test_ema_power_warmup_matches_diffusion_policy_formula():
    cfg = TrainConfig(ema_decay=0.9999, ema_power=0.75)
    for step in [0, 1, 2, 10, 1000, 10**7]:
        # diffusion_policy EMAModel.get_decay(optimization_step=step): s = step - 1; 0 if s <= 0.
        s = max(0, step - 1)
        want = 0.0 if s <= 0 else min(0.9999, 1 - (1 + s) ** -0.75)
        assert float(ema_decay_at(cfg, jnp.asarray(step))) == pytest.approx(want, rel=1e-6, abs=1e-7)
    assert float(ema_decay_at(TrainConfig(ema_decay=0.99), jnp.asarray(5))) == pytest.approx(0.99)
