"""The seam between models and trainer.

The trainer knows only this protocol: ``init`` creates parameters from an example batch, ``loss`` is a
pure function of (params, batch, rng), ``predict`` maps a normalised observation dict to a normalised
action chunk. Params are a plain pytree (Flax ``variables``), kept apart from the module.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax

from jaxrobot.config import Config

Params = Any
Metrics = dict[str, jax.Array]


class Model(Protocol):
    config: Config

    def init(self, rng: jax.Array, batch: dict[str, jax.Array]) -> Params: ...

    def loss(self, params: Params, batch: dict[str, jax.Array], rng: jax.Array) -> tuple[jax.Array, Metrics]:
        """Scalar training loss (mean over the batch) and on-device metrics."""

    def predict(self, params: Params, observation: dict[str, jax.Array], rng: jax.Array) -> jax.Array:
        """The model's output for a batch of normalised observations: for policies a normalised action
        chunk [B, horizon, A]; for vision models their own output (grasp maps, logits, a twist)."""

    # Optional hooks, looked up with getattr:
    #   check_data(spec: dict) -> None: the trainer calls it with the data source's spec before anything
    #     compiles, so a model/data mismatch fails naming the field (e.g. pose: classes vs known objects).
    #   export_plan(params, meta, example_batch) -> jaxrobot.models.export_plan.ExportPlan: the pure
    #     inference functions the exporters convert (each model owns its plan).
