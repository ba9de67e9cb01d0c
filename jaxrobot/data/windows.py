"""Fixed-shape windows inside one episode: an observation history and a future action chunk.

For step ``t`` of an episode of ``T`` steps:

- observations at ``t - n_obs_steps + 1 .. t``; indices before 0 repeat frame 0 and are masked False;
- actions at ``t .. t + horizon - 1``; indices past ``T - 1`` repeat the last action and are masked False.

The episode end is the number of steps in the record, never ``is_last`` (episodes may be cut, as in the
Bridge sample). Same convention as Diffusion Policy's ``SequenceSampler`` padding (repeat the edge
frame) with explicit masks as in Octo's ``pad_mask``.
"""

from __future__ import annotations

import numpy as np


def window_indices(length, t, n_obs_steps: int, horizon: int):
    """Indices and masks for steps ``t`` (int or int array ``[B]``) of episodes of ``length`` steps (one
    length, or one per step).

    Returns ``(obs_idx [.., n_obs_steps], obs_mask, act_idx [.., horizon], act_mask)``.
    """
    t, length = np.asarray(t), np.asarray(length)
    if np.any(t < 0) or np.any(t >= length):
        raise IndexError(f"step {t} outside episode of length {length}")
    last = length[..., None] - 1
    obs = t[..., None] + np.arange(-n_obs_steps + 1, 1)
    act = t[..., None] + np.arange(horizon)
    return np.clip(obs, 0, last), obs >= 0, np.minimum(act, last), act <= last


def window(episode: dict, t: int, n_obs_steps: int, horizon: int) -> dict[str, np.ndarray]:
    """State/action window of a standardised episode at step ``t`` (images are handled by the source)."""
    oi, om, ai, am = window_indices(episode["length"], t, n_obs_steps, horizon)
    return {"observation/state": episode["state"][oi], "observation/pad_mask": om,
            "action": episode["action"][ai], "action_pad_mask": am, "obs_idx": oi}
