"""The functional train state and its sharded creation.

Everything that changes during training lives here (params, optimiser state, EMA params, step, RNG),
so a checkpoint of this one pytree plus the data iterator's integers resumes bit-identically.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jaxrobot.models.base import Model
from jaxrobot.train.config import MeshConfig
from jaxrobot.train.mesh import param_specs, shardings_of


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: Any
    opt_state: Any
    ema_params: Any  # same structure as params; None when EMA is off (decay 0)
    rng: jax.Array  # raw uint32[2] key: plain arrays checkpoint everywhere


def init_state(model: Model, tx: optax.GradientTransformation, rng: jax.Array, batch, ema: bool) -> TrainState:
    init_rng, state_rng = jax.random.split(rng)
    params = model.init(init_rng, batch)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                      ema_params=jax.tree.map(jnp.copy, params) if ema else None, rng=state_rng)


def state_shardings(model: Model, tx, batch, mesh: Mesh, mesh_cfg: MeshConfig, ema: bool):
    """Shardings for every leaf of the train state, from the mesh rules applied to its full path.

    Optimiser moments have paths that contain the param path, so a rule written for params applies to
    their moments too.
    """
    abstract = jax.eval_shape(lambda r, b: init_state(model, tx, r, b, ema), jax.random.PRNGKey(0), batch)
    return shardings_of(param_specs(abstract, mesh_cfg, mesh), mesh), abstract


def create_train_state(model: Model, tx, rng: jax.Array, batch, mesh: Mesh, mesh_cfg: MeshConfig, ema: bool):
    """Params are created already sharded: eval_shape first, then jit(init, out_shardings=...)."""
    shardings, _ = state_shardings(model, tx, batch, mesh, mesh_cfg, ema)
    with mesh:
        state = jax.jit(lambda r, b: init_state(model, tx, r, b, ema), out_shardings=shardings)(rng, batch)
    return state, shardings
