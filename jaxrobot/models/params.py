"""Parameter counting from shapes only (``jax.eval_shape``): no memory, no data needed."""

from __future__ import annotations

import jax
import numpy as np

from jaxrobot.data.sources import make_source
from jaxrobot.models.registry import build_model


def trainable_count(variables) -> int:
    """Elements of the trainable ``params`` collection (frozen collections, e.g. ACT's BatchNorm, excluded)."""
    trainable = variables.get("params", variables) if isinstance(variables, dict) else variables
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(trainable)))


def count_params(cfg) -> int:
    """Trainable parameters of ``cfg.model`` on batches shaped like ``cfg.data``'s."""
    model = build_model(cfg.model)
    source = make_source(cfg.data, global_batch_size=1, seed=0)
    batch = {k: v for k, v in next(source).items() if isinstance(v, np.ndarray) and v.dtype != object}
    return trainable_count(jax.eval_shape(model.init, jax.random.PRNGKey(0), batch))
