"""LeRobot training source (kind ``"lerobot"``): a LeRobotDataset (v3.0 or v2.x) read directly, no conversion.

Same batch layout as the RLDS source (:mod:`jaxrobot.data.base`), built from the same parts:

1. :class:`~jaxrobot.data.sampler.IndexSampler` draws this host's flat frame numbers (global shuffle, state = a
   few ints) and :class:`~jaxrobot.data.sampler.StepIndex` maps them to (episode, frame);
2. :func:`~jaxrobot.data.windows.window_indices` gives the observation history (``n_obs_steps`` frames ending
   at ``t``) and the action chunk (``horizon`` frames from ``t``) by frame offsets inside the episode, edge
   frames repeated and masked False, as LeRobot's ``delta_timestamps`` with ``*_is_pad``;
3. state and action (the concatenated ``state_keys`` / ``action_keys`` features) are normalised
   (:mod:`~jaxrobot.data.normalize`) with the statistics the dataset stores (``meta/stats.json``; v2.1: its
   per-episode statistics aggregated) or, with ``stats="recompute"``, with statistics computed over the
   selected episodes (cached like the RLDS ones);
4. camera frames are decoded by timestamp from the episode's MP4 (:mod:`jaxrobot.data.lerobot.video`), only
   those a batch needs, one seek per (episode, camera) and batch, through a byte-bounded LRU of decoded
   frames; then resize, random crop and colour jitter drawn from ``rng([seed, position])``.

Tasks are the language instructions: the spec lists them (``tasks``, by ``task_index``) and ``task_index``
``int32 [B]`` (the task of frame ``t``) is in every batch when asked for. Batches are built ``prefetch``
ahead on a thread (:mod:`~jaxrobot.data.sources.prefetch`); resume is exact.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import math
from typing import Any, ClassVar, Literal

import numpy as np

from jaxrobot.config import Config, require, to_dict
from jaxrobot.data import normalize as norm
from jaxrobot.data.base import DataError, DataSource, allocate
from jaxrobot.data.datasets import parse_key
from jaxrobot.data.lerobot.meta import camera_hw, camera_name
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.lerobot.video import DEFAULT_TOLERANCE_S
from jaxrobot.data.sampler import IndexSampler, StepIndex
from jaxrobot.data.sources.cache import ByteLRU
from jaxrobot.data.sources.prefetch import PrefetchingSource
from jaxrobot.data.sources.rlds import RldsSource, batch_spec
from jaxrobot.data.transforms import center_crop, color_jitter, random_crop, resize
from jaxrobot.data.windows import window_indices


@dataclasses.dataclass(frozen=True)
class LeRobotDataConfig(Config):
    """One LeRobot dataset as a training stream.

    Fields:
      path: the dataset root (the folder holding ``meta/info.json``).
      state_keys: number features concatenated into ``observation/state``, each optionally sliced
        (``"observation.state[0:6]"``); ``()`` = no proprioception.
      action_keys: number features concatenated into ``action``.
      cameras: cameras to emit as ``observation/image_<name>``, by LeRobot key (``observation.images.front``)
        or name (``front``); ``()`` = every camera; ``None`` = none (a state-only policy decodes no frame).
      episodes: episode indices to use (e.g. a training / validation split); ``()`` = all.
      n_obs_steps, horizon: observation history and action chunk lengths, in frames.
      image_size: (H, W) of every camera in the batch; ``None`` = the first camera's stored size.
      normalization: ``mean_std``, ``min_max`` (to [-1, 1]) or ``none``, for state and action.
      stats: ``dataset`` = the statistics the dataset stores (recomputed if it stores none for a key);
        ``recompute`` = computed over the selected episodes (cached when ``stats_cache``).
      task_index: emit ``task_index`` int32 [B], the task of the window's current frame (``spec()["tasks"]``).
      memory_mb: bound on the decoded-frame cache. workers: decode threads; prefetch: batches built ahead.
      shuffle, random_crop, color_jitter, augment: as the RLDS source.
      tolerance_s: how far a video frame's timestamp may be from the wanted one (LeRobot's 1e-4 s).
    """

    kind: ClassVar[str] = "lerobot"

    path: str = ""
    state_keys: tuple[str, ...] = ("observation.state",)
    action_keys: tuple[str, ...] = ("action",)
    cameras: tuple[str, ...] | None = ()
    episodes: tuple[int, ...] = ()
    n_obs_steps: int = 1
    horizon: int = 1
    image_size: tuple[int, int] | None = None
    normalization: Literal["mean_std", "min_max", "none"] = "mean_std"
    stats: Literal["dataset", "recompute"] = "dataset"
    task_index: bool = False
    memory_mb: int = 512
    workers: int = 2
    prefetch: int = 2
    shuffle: bool = True
    random_crop: float = 1.0
    color_jitter: float = 0.0
    augment: bool = True
    stats_cache: bool = True
    tolerance_s: float = DEFAULT_TOLERANCE_S

    def check(self) -> None:
        rules = (
            (bool(self.path), "path", "must name a LeRobot dataset root (the folder holding meta/info.json)"),
            (bool(self.action_keys), "action_keys", "needs at least one feature"),
            (len(set(self.episodes)) == len(self.episodes), "episodes", "lists an episode twice"),
            (all(e >= 0 for e in self.episodes), "episodes", "indices must be >= 0"),
            *((getattr(self, f) >= 1, f, "must be >= 1") for f in ("n_obs_steps", "horizon", "memory_mb", "workers")),
            (self.image_size is None or (len(self.image_size) == 2 and min(self.image_size) > 0), "image_size",
             "must be (H, W) with positive sizes"),
            (self.prefetch >= 0, "prefetch", "must be >= 0"),
            (0.1 <= self.random_crop <= 1.0, "random_crop", "must be in [0.1, 1]"),
            (0.0 <= self.color_jitter < 1.0, "color_jitter", "must be in [0, 1)"),
            (self.tolerance_s > 0, "tolerance_s", "must be > 0"),
        )
        for ok, field, reason in rules:
            require(ok, field, reason)

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return LeRobotSource(self, **kw)


def _vector(ds: LeRobotDataset, i: int, specs: tuple[str, ...], what: str) -> np.ndarray:
    """The features ``specs`` of episode ``i`` concatenated as float32 ``[T, D]`` (checked finite)."""
    cols = ds.columns(i)
    parts = []
    for spec in specs:
        key, sl = parse_key(spec)
        if key not in cols or key not in ds.value_keys:
            raise DataError(f"{ds.root}: {what} feature {key!r} is not a number feature of the dataset; it has "
                            f"{ds.value_keys}")
        v = cols[key].reshape(len(cols[key]), -1)[:, sl]
        parts.append(v.astype(np.float32))
    out = np.concatenate(parts, axis=1) if parts else np.zeros((int(ds.lengths[i]), 0), np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        t, d = np.argwhere(bad)[0]
        raise DataError(f"{ds.root / ds.ref(i).data_file}: episode {i}: {int(bad.sum())} NaN/Inf values in "
                        f"{what} (first at frame {t}, dim {d})")
    return out


def _stored_stats(ds: LeRobotDataset, specs: tuple[str, ...]) -> dict[str, Any] | None:
    """The stored statistics of ``specs`` concatenated in jaxrobot's layout (std floored as
    :func:`~jaxrobot.data.normalize.StatsAccumulator` does), or None when the dataset lacks some."""
    stored = ds.stored_stats or {}
    fields = ("mean", "std", "min", "max", "q01", "q99")
    parts: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    count = None
    for spec in specs:
        key, sl = parse_key(spec)
        s = stored.get(key)
        if not s or any(f not in s for f in fields[:4]):
            return None
        for f in fields:
            if f in s:
                parts[f].append(np.asarray(s[f], np.float64).reshape(-1)[sl])
        count = int(np.asarray(s.get("count", [0])).reshape(-1)[0])
    if not specs:
        return {}
    out = {f: np.concatenate(v).tolist() for f, v in parts.items() if len(v) == len(specs)}
    out["std_raw"] = out["std"]
    out["std"] = np.maximum(np.asarray(out["std"]), norm.STD_FLOOR).tolist()
    out["count"] = count
    return out


class LeRobotReader:
    """Random-access windows of one LeRobot dataset, normalised: the source's worker (``example`` gives one window)."""

    def __init__(self, cfg: LeRobotDataConfig, *, seed: int = 0):
        self.cfg = cfg
        self.ds = LeRobotDataset(cfg.path, tolerance_s=cfg.tolerance_s)
        n = len(self.ds)
        self.episodes = list(cfg.episodes) or list(range(n))
        bad = [e for e in self.episodes if e >= n]
        if bad:
            raise DataError(f"{cfg.path}: episodes {bad} do not exist (the dataset has {n}: 0..{n - 1})")
        self.state = [_vector(self.ds, e, cfg.state_keys, "state") for e in self.episodes]
        self.action = [_vector(self.ds, e, cfg.action_keys, "action") for e in self.episodes]
        self.task = [self.ds.columns(e)["task_index"].reshape(-1).astype(np.int32) for e in self.episodes]
        self.index = StepIndex([len(a) for a in self.action])
        self.state_dim, self.action_dim = self.state[0].shape[1], self.action[0].shape[1]
        self._stats = self._statistics()
        self.camera_keys = self._cameras()
        self.cameras = [camera_name(k) for k in self.camera_keys]
        first = self.camera_keys[0] if self.camera_keys else None
        native = camera_hw(first, self.ds.features[first]) if first else (64, 64)
        self.image_size = tuple(cfg.image_size) if cfg.image_size else tuple(native)
        crop = cfg.random_crop
        self.load_size = self.image_size if crop >= 1 else tuple(int(math.ceil(s / crop)) for s in self.image_size)
        self.seed = seed
        self._frames = ByteLRU(cfg.memory_mb << 20)
        self.bad_frames: dict = {}  # frames are never skipped here (a video error fails naming file and episode)

    def _cameras(self) -> list[str]:
        cfg, keys = self.cfg, self.ds.camera_keys
        if cfg.cameras is None:
            return []
        if not cfg.cameras:
            return list(keys)
        by_name = {camera_name(k): k for k in keys}
        out = []
        for c in cfg.cameras:
            key = c if c in keys else by_name.get(c)
            if key is None:
                raise DataError(f"{cfg.path}: no camera {c!r}; the dataset has {keys} (names {sorted(by_name)})")
            out.append(key)
        return out

    def _statistics(self) -> dict[str, Any]:
        cfg, ds = self.cfg, self.ds
        base = {"episodes": len(self.episodes), "steps": self.index.total, "skipped": 0, "dataset": ds.name}
        if cfg.stats == "dataset":
            act, st = _stored_stats(ds, cfg.action_keys), _stored_stats(ds, cfg.state_keys)
            if act is not None and st is not None:
                return {"action": act, "state": st, **base, "stats_source": "dataset"}

        def compute():
            acts, states = norm.StatsAccumulator(), norm.StatsAccumulator()
            for a, s in zip(self.action, self.state, strict=True):
                acts.add(a)
                states.add(s)
            return {"action": acts.result(), "state": states.result(), **base, "stats_source": "recomputed"}

        key = {"cfg": {k: v for k, v in to_dict(cfg).items() if k in ("path", "state_keys", "action_keys",
                                                                          "episodes")}}
        return norm.cached_stats(ds.fingerprint(), key, compute, name=f"lerobot-{ds.name}", use_cache=cfg.stats_cache)

    @property
    def total_steps(self) -> int:
        return self.index.total

    def stats(self) -> dict[str, Any]:
        return self._stats

    def spec_keys(self, batch: int) -> dict[str, dict]:
        keys = batch_spec(self.cfg, batch, self.cameras, self.image_size, self.state_dim, self.action_dim, 0,
                          {})["keys"]
        if self.cfg.task_index:
            keys["task_index"] = {"shape": [batch], "dtype": "int32"}
        return keys

    def spec(self, batch: int) -> dict[str, Any]:
        ds = self.ds
        extra = {"dataset": ds.name, "format": f"lerobot {ds.version}", "control_hz": ds.fps,
                 "steps": self.total_steps, "episodes": len(self.episodes), "tasks": list(ds.tasks),
                 "camera_keys": dict(zip(self.cameras, self.camera_keys, strict=True)),
                 "action_keys": list(self.cfg.action_keys)}
        spec = batch_spec(self.cfg, batch, self.cameras, self.image_size, self.state_dim, self.action_dim, 0, extra)
        spec["keys"] = self.spec_keys(batch)
        return spec

    def example(self, flat_step: int, position: int = 0) -> dict[str, np.ndarray]:
        """The window at global frame number ``flat_step`` (one example, no batch axis)."""
        out = allocate(self.spec_keys(1))
        self.fill(np.array([flat_step]), np.array([position]), out, np.array([0]))
        return {k: v[0] for k, v in out.items()}

    def _decode(self, k: int, key: str, steps: list[int]) -> dict[int, np.ndarray]:
        frames = self.ds.frames(self.episodes[k], key, steps)
        out = {}
        for t, img in zip(steps, frames, strict=True):
            img = resize(img, self.load_size)
            self._frames.put((k, key, t), img, img.nbytes + 64)
            out[t] = img
        return out

    def fill(self, flat_steps: np.ndarray, positions: np.ndarray, out: dict[str, np.ndarray], rows: np.ndarray,
             *, pool: futures.Executor | None = None) -> None:
        """Write the windows at ``flat_steps`` into ``out[key][rows]``; random draws from (seed, position)."""
        cfg = self.cfg
        s_stats, a_stats = self._stats["state"], self._stats["action"]
        ks, ts = self.index.locate(np.asarray(flat_steps))
        windows = []
        for row, k, t in zip(rows, ks, ts, strict=True):
            k, t = int(k), int(t)
            oi, om, ai, am = window_indices(len(self.action[k]), t, cfg.n_obs_steps, cfg.horizon)
            if self.state_dim:
                out["observation/state"][row] = norm.normalize(self.state[k][oi], s_stats, cfg.normalization)
            out["action"][row] = norm.normalize(self.action[k][ai], a_stats, cfg.normalization)
            out["observation/pad_mask"][row] = om
            out["action_pad_mask"][row] = am
            if cfg.task_index:
                out["task_index"][row] = self.task[k][t]
            windows.append((row, k, oi))
        if not self.camera_keys:
            return
        frames: dict[tuple[int, str, int], np.ndarray] = {}
        todo: dict[tuple[int, str], set[int]] = {}
        for _, k, oi in windows:
            for key in self.camera_keys:
                for t in oi:
                    img = self._frames.get((k, key, int(t)))
                    if img is None:
                        todo.setdefault((k, key), set()).add(int(t))
                    else:
                        frames[(k, key, int(t))] = img
        run = pool.map if pool is not None else map
        groups = list(todo.items())
        for ((k, key), _), done in zip(groups, run(lambda g: self._decode(g[0][0], g[0][1], sorted(g[1])), groups),
                                       strict=True):
            frames.update({(k, key, t): img for t, img in done.items()})
        crop = self.load_size != self.image_size
        for (row, k, oi), pos in zip(windows, positions, strict=True):
            rng = np.random.default_rng([self.seed, int(pos)]) if (crop or cfg.color_jitter) else None
            for key, cam in zip(self.camera_keys, self.cameras, strict=True):
                stack = np.stack([frames[(k, key, int(t))] for t in oi])
                if crop:
                    stack = random_crop(stack, self.image_size, rng) if cfg.augment else center_crop(
                        stack, self.image_size)
                if cfg.augment and cfg.color_jitter:
                    stack = color_jitter(stack, rng, brightness=cfg.color_jitter, contrast=cfg.color_jitter,
                                         saturation=cfg.color_jitter)
                out[f"observation/image_{cam}"][row] = stack


class LeRobotSource(RldsSource):
    """DataSource over one LeRobot dataset (see the module docstring): the RLDS source's batch planning,
    assembly and exact resume over a :class:`LeRobotReader`."""

    def __init__(self, cfg: LeRobotDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.reader = LeRobotReader(cfg, seed=seed)
        self.sampler = IndexSampler(self.reader.total_steps, global_batch_size, seed=seed,
                                    process_index=process_index, process_count=process_count, shuffle=cfg.shuffle)
        PrefetchingSource.__init__(self, cfg.workers, cfg.prefetch)

    def spec(self) -> dict[str, Any]:
        return self.reader.spec(self.sampler.local_batch_size)
