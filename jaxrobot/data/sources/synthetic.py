"""A small synthetic behaviour-cloning dataset, so the trainer runs end to end without real data.

Episodes follow a fixed, seeded linear-feedback expert: ``a_t = tanh(K s_t)`` and
``s_{t+1} = s_t + dt * B a_t``, so the action is a learnable function of the state (a BC model can
drive the loss well below that of predicting the mean). Optional images show the first two state
dimensions as a bright square, so an image policy has something to see.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataSource
from jaxrobot.data.sampler import IndexSampler, SamplerState


@dataclasses.dataclass(frozen=True)
class SyntheticDataConfig(Config):
    """Fields: episode count and length, state/action sizes, window sizes, optional image size (0 = none)."""

    kind: ClassVar[str] = "synthetic"
    num_episodes: int = 64
    episode_length: int = 50
    state_dim: int = 8
    action_dim: int = 4
    n_obs_steps: int = 1
    horizon: int = 4
    image_size: int = 0
    data_seed: int = 0

    def check(self) -> None:
        for name in ("num_episodes", "episode_length", "state_dim", "action_dim", "n_obs_steps", "horizon"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.image_size == 0 or self.image_size >= 8, "image_size", "must be 0 or >= 8")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return SyntheticSource(self, **kw)


def _episodes(cfg: SyntheticDataConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.data_seed)
    k = rng.normal(size=(cfg.action_dim, cfg.state_dim)) / np.sqrt(cfg.state_dim)
    b = rng.normal(size=(cfg.state_dim, cfg.action_dim)) / np.sqrt(cfg.action_dim)
    states = np.empty((cfg.num_episodes, cfg.episode_length, cfg.state_dim), np.float32)
    actions = np.empty((cfg.num_episodes, cfg.episode_length, cfg.action_dim), np.float32)
    s = rng.uniform(-1, 1, size=(cfg.num_episodes, cfg.state_dim))
    for t in range(cfg.episode_length):
        a = np.tanh(s @ k.T)
        states[:, t], actions[:, t] = s, a
        s = np.clip(s + 0.1 * a @ b.T, -2, 2)
    return states, actions


def _render(states: np.ndarray, size: int) -> np.ndarray:
    """uint8 [..., size, size, 3] images with a square at the position of state dims 0, 1."""
    lead = states.shape[:-1]
    flat = states.reshape(-1, states.shape[-1])
    img = np.zeros((flat.shape[0], size, size, 3), np.uint8)
    pos = np.clip(((flat[:, :2] + 2) / 4 * (size - 3)).astype(int), 0, size - 3)
    for i, (x, y) in enumerate(pos):
        img[i, y:y + 3, x:x + 3] = 255
    return img.reshape(*lead, size, size, 3)


class SyntheticSource(SamplerState):
    """DataSource over the synthetic episodes; normalises with MEAN_STD statistics of the data."""

    def __init__(self, cfg: SyntheticDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.states, self.actions = _episodes(cfg)
        self._stats = {
            key: {"mean": x.reshape(-1, x.shape[-1]).mean(0).tolist(),
                  "std": np.maximum(x.reshape(-1, x.shape[-1]).std(0), 1e-2).tolist(),
                  "min": x.reshape(-1, x.shape[-1]).min(0).tolist(),
                  "max": x.reshape(-1, x.shape[-1]).max(0).tolist()}
            for key, x in (("state", self.states), ("action", self.actions))
        }
        self._stats["mode"] = "mean_std"
        self.sampler = IndexSampler(cfg.num_episodes * cfg.episode_length, global_batch_size, seed=seed,
                                    process_index=process_index, process_count=process_count)

    def __next__(self) -> dict[str, np.ndarray]:
        return self.batch_for(self.sampler.next_local())

    def batch_for(self, flat_indices: np.ndarray) -> dict[str, np.ndarray]:
        cfg = self.cfg
        ep, t = np.divmod(flat_indices, cfg.episode_length)
        obs_t = t[:, None] + np.arange(1 - cfg.n_obs_steps, 1)[None]
        act_t = t[:, None] + np.arange(cfg.horizon)[None]
        obs_mask = obs_t >= 0
        act_mask = act_t < cfg.episode_length
        obs_t = np.clip(obs_t, 0, cfg.episode_length - 1)
        act_t = np.clip(act_t, 0, cfg.episode_length - 1)
        states = self.states[ep[:, None], obs_t]
        actions = self.actions[ep[:, None], act_t]
        st, ac = self._stats["state"], self._stats["action"]
        batch = {
            "observation/state": ((states - np.float32(st["mean"])) / np.float32(st["std"])).astype(np.float32),
            "observation/pad_mask": obs_mask,
            "action": ((actions - np.float32(ac["mean"])) / np.float32(ac["std"])).astype(np.float32),
            "action_pad_mask": act_mask,
        }
        if cfg.image_size:
            batch["observation/image_main"] = _render(states, cfg.image_size)
        return batch

    def stats(self) -> dict[str, Any]:
        return self._stats

    def spec(self) -> dict[str, Any]:
        example = self.batch_for(np.zeros(1, np.int64))
        return {"dataset": "synthetic", "cameras": ["main"] if self.cfg.image_size else [],
                "n_obs_steps": self.cfg.n_obs_steps, "horizon": self.cfg.horizon,
                "state_dim": self.cfg.state_dim, "action_dim": self.cfg.action_dim, "normalization": "mean_std",
                "features": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype)} for k, v in example.items()}}
