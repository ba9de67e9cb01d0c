"""The seam between data and trainer: a host-local, resumable stream of fixed-shape batches.

A batch is a flat dict of numpy arrays with static shapes, already normalised:

- ``observation/state``        float32 [B, n_obs_steps, S]
- ``observation/image_<cam>``  uint8   [B, n_obs_steps, H, W, 3]   (one key per camera)
- ``observation/pad_mask``     bool    [B, n_obs_steps]            (False where the history is padding)
- ``action``                   float32 [B, horizon, A]
- ``action_pad_mask``          bool    [B, horizon]                (False past the episode end)
- ``language_embedding``       float32 [B, D]                      (optional)

``B`` is the *host-local* batch (global batch / process count). The trainer turns it into a global
``jax.Array`` sharded over the mesh's data axes. Sources never do device work themselves.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

Batch = dict[str, np.ndarray]


def allocate(keys: dict[str, dict]) -> Batch:
    """Zeroed batch arrays for a spec's ``keys`` (zeros are the padding of smaller state/action dims)."""
    return {k: np.zeros(v["shape"], v["dtype"]) for k, v in keys.items()}


class DataSource(Protocol):
    """What the trainer needs from any dataset (synthetic, RLDS, mixtures)."""

    def __next__(self) -> Batch:
        """The next host-local batch; deterministic given the state."""

    def __iter__(self) -> DataSource: ...

    def get_state(self) -> dict[str, int]:
        """A few JSON-able integers from which :meth:`set_state` resumes exactly."""

    def set_state(self, state: dict[str, int]) -> None: ...

    def stats(self) -> dict[str, Any]:
        """Normalisation statistics (JSON-able), saved with every checkpoint and export."""

    def spec(self) -> dict[str, Any]:
        """Observation/action spec (JSON-able): keys, shapes, dtypes, cameras."""


class DataError(ValueError):
    """Bad input data; the message names the file, episode or record and what is wrong."""
