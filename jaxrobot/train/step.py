"""The pure train step and its two compiled forms: sharded ``jit`` (primary) and ``shard_map``.

``train_step`` is a plain function of (state, batch) so tests call it directly. Metrics stay on device;
the loop fetches them every ``log_every`` steps (the only host sync).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrobot.models.base import Model
from jaxrobot.train.config import TrainConfig
from jaxrobot.train.mesh import BATCH_AXES, batch_sharding
from jaxrobot.train.state import TrainState


def _cast_floats(tree, dtype):
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def ema_decay_at(cfg: TrainConfig, step: jax.Array) -> jax.Array:
    """EMA decay for the update after ``step`` previous ones.

    With ``ema_power`` it warms up as diffusion_policy's ``EMAModel.get_decay`` (inv_gamma 1,
    update_after_step 0): ``s = step - 1``; decay 0 while ``s <= 0`` (the first two updates), then
    ``1 - (1 + s)^-power``, capped at ``ema_decay``.
    """
    if cfg.ema_power > 0:
        s = jnp.maximum(step.astype(jnp.float32) - 1.0, 0.0)
        warm = jnp.where(s <= 0, 0.0, 1.0 - (1.0 + s) ** (-cfg.ema_power))
        return jnp.clip(warm, 0.0, cfg.ema_decay)
    return jnp.asarray(cfg.ema_decay, jnp.float32)


def _loss_fn(model: Model, cfg: TrainConfig, mean_over=None):
    compute = jnp.bfloat16 if cfg.compute_dtype == "bfloat16" else None

    def fn(params, batch, rng):
        if compute is not None:  # bf16 compute, fp32 master weights: the cast is differentiated through
            params, batch = _cast_floats(params, compute), _cast_floats(batch, compute)
        loss, metrics = model.loss(params, batch, rng)
        loss = loss.astype(jnp.float32)
        if mean_over is not None:
            # Inside shard_map: average the *loss* before differentiating. jax.grad of a per-device loss
            # already sums over devices for replicated params, so "grad then pmean" would be n x too large.
            loss = lax.pmean(loss, mean_over)
        return loss, metrics

    return fn


def _grads(model, cfg, state: TrainState, batch, rng, mean_over=None):
    """Loss, metrics and gradients, averaged over ``grad_accum`` micro-batches."""
    loss_fn = jax.value_and_grad(_loss_fn(model, cfg, mean_over), has_aux=True)
    if cfg.grad_accum == 1:
        (loss, metrics), grads = loss_fn(state.params, batch, rng)
        return loss, metrics, grads
    k = cfg.grad_accum
    # [B, ...] -> [k, B/k, ...] taking every k-th example, so each device's slice stays local.
    micro = jax.tree.map(lambda x: jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1), batch)

    def body(carry, mb_and_i):
        mb, i = mb_and_i
        (loss, metrics), grads = loss_fn(state.params, mb, jax.random.fold_in(rng, i))
        acc = jax.tree.map(jnp.add, carry, (loss, metrics, grads))
        return acc, None

    zero = jax.eval_shape(lambda: loss_fn(state.params, jax.tree.map(lambda x: x[0], micro), rng))
    zero = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), ((zero[0][0], zero[0][1], zero[1])))
    (loss, metrics, grads), _ = lax.scan(body, zero, (micro, jnp.arange(k)))
    return jax.tree.map(lambda x: x / k, (loss, metrics, grads))


def _apply(state: TrainState, grads, tx, cfg: TrainConfig, schedule, loss, metrics) -> tuple[TrainState, dict]:
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema = state.ema_params
    if ema is not None:
        d = ema_decay_at(cfg, state.step)
        ema = jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, ema, params)
    metrics = dict(metrics)
    metrics.update(loss=loss, grad_norm=optax.tree.norm(grads), lr=schedule(state.step))
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema,
                              rng=jax.random.fold_in(state.rng, 1))
    return new_state, metrics


def train_step(state: TrainState, batch, *, model: Model, tx, cfg: TrainConfig, schedule):
    """One optimiser update on the global batch; pure."""
    rng = jax.random.fold_in(state.rng, 0)
    loss, metrics, grads = _grads(model, cfg, state, batch, rng)
    return _apply(state, grads, tx, cfg, schedule, loss, metrics)


def compiler_options(cfg: TrainConfig, mesh: Mesh) -> dict[str, bool] | None:
    """XLA options for the train step's executable alone (the process's defaults stay as they are)."""
    if cfg.cpu_fusion_emitters and mesh.devices.flat[0].platform == "cpu":
        return {"xla_cpu_use_fusion_emitters": True}
    return None


def make_jit_step(model: Model, tx, cfg: TrainConfig, schedule, mesh: Mesh, state_shardings):
    """``jit`` with explicit in/out shardings; the state is donated (updated in place on device)."""
    step = functools.partial(train_step, model=model, tx=tx, cfg=cfg, schedule=schedule)
    metric_sharding = NamedSharding(mesh, P())
    return jax.jit(step, in_shardings=(state_shardings, batch_sharding(mesh)),
                   out_shardings=(state_shardings, metric_sharding), donate_argnums=(0,),
                   compiler_options=compiler_options(cfg, mesh))


def make_shard_map_step(model: Model, tx, cfg: TrainConfig, schedule, mesh: Mesh):
    """Explicit data parallelism with ``jax.shard_map``: replicated state, batch split over all devices.

    Gives the same update as the jit path (tested). Needs a replicated state (mesh.fsdp == 1). A model
    whose loss is a masked mean is normalised per device here (devices weigh equally), in the jit path
    over the global batch: the two agree exactly when no example is padded.
    """

    def per_device(state: TrainState, local_batch):
        # Every device derives the same key: the update is replicated, like the jit path's.
        rng = jax.random.fold_in(state.rng, 0)
        loss, metrics, grads = _grads(model, cfg, state, local_batch, rng, mean_over=BATCH_AXES)
        metrics = lax.pmean(metrics, BATCH_AXES)
        return _apply(state, grads, tx, cfg, schedule, loss, metrics)

    mapped = jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(BATCH_AXES)), out_specs=(P(), P()))
    return jax.jit(mapped, donate_argnums=(0,), compiler_options=compiler_options(cfg, mesh))
