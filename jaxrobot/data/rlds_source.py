"""RLDS training source (kind ``"rlds"``) and weighted mixtures (kind ``"mixture"``).

Pipeline per batch (all numpy; the trainer does device placement):

1. :class:`~jaxrobot.data.sampler.IndexSampler` (or ``MixtureSampler``) gives this host's flat step
   numbers: a global shuffle over every (episode, step) with no shuffle buffer; order = f(seed, epoch,
   position), state = a few ints.
2. :class:`StepIndex` maps a step number to (episode, step); the episode comes from a byte-bounded LRU
   cache of *standardised* episodes whose frames are still JPEG bytes (a random-access read of one
   record on a miss).
3. :func:`~jaxrobot.data.windows.window_indices` picks the observation history and action chunk with
   padding masks; state and action are normalised with the dataset statistics.
4. Only the frames in the window are decoded (simplejpeg, scaled in the DCT domain towards the training
   size) by ``workers`` threads, through a second byte-bounded LRU of decoded frames; then random crop
   and colour jitter drawn from ``rng([seed, global example position])``.

Batches are built ``prefetch`` ahead on a background thread; ``get_state()`` describes the next batch
the caller will receive, so resume is exact. The two caches share ``memory_mb``.
"""

from __future__ import annotations

import collections
import concurrent.futures as futures
import dataclasses
import json
import math
import os
import struct
import threading
from typing import Any, ClassVar, Literal

import numpy as np

from jaxrobot.config import Config, require, to_dict
from jaxrobot.data import normalize as norm
from jaxrobot.data.base import Batch, DataError
from jaxrobot.data.datasets import DatasetEntry, get_entry
from jaxrobot.data.sampler import IndexSampler, MixtureSampler, StepIndex
from jaxrobot.data.standardize import camera_keys, stack_steps, standardize
from jaxrobot.data.transforms import center_crop, color_jitter, decode_image, random_crop, resize
from jaxrobot.data.windows import window_indices

# ---------------------------------------------------------------- configs


@dataclasses.dataclass(frozen=True)
class RldsDataConfig(Config):
    """One RLDS dataset as a training stream.

    Fields:
      path: the folder holding ``dataset_info.json`` (``<name>/<version>``); local or ``gs://``.
      split: TFDS split name.
      dataset: registry entry (:mod:`jaxrobot.data.datasets`); ``None`` = the name in dataset_info.json.
      n_obs_steps: observation history length (padded by repeating the first frame, masked False).
      horizon: action chunk length (padded by repeating the last action, masked False).
      image_size: (H, W) of every camera in the batch; ``None`` = the stored size of the first camera.
      cameras: standard camera names to emit (``observation/image_<cam>``); ``()`` = the entry's cameras
        that exist in the data. Names the dataset lacks are black frames.
      normalization: applied to action and state: ``mean_std``, ``min_max`` (to [-1, 1]) or ``none``.
      memory_mb: bound on the episode + decoded-frame caches.
      workers: decode threads; prefetch: batches built ahead.
      skip_bad: skip (and count) episodes with NaN/Inf, wrong shapes or no steps instead of failing.
      shuffle: global shuffle (else sequential order).
      language_embedding: emit ``language_embedding`` [B, D] (entry must have one).
      random_crop: side fraction kept by a random crop (Diffusion Policy uses 84/96 = 0.875); frames are
        resized to ``image_size / random_crop`` and cropped to ``image_size``. 1.0 = off.
      color_jitter: brightness/contrast/saturation strength (0 = off).
      augment: False gives centre crops and no jitter (evaluation).
      stats_cache: reuse cached statistics from ``cache_dir()/stats``.
      state_keys: replace the registry entry's state keys (flat keys, each optionally sliced), e.g.
        ``("steps/observation/state[0:5]",)`` keeps pick_cube's proprioception and drops the object pose
        for an image policy. Recorded in the data spec; run-time policies assemble ``state`` the same way.
    """

    kind: ClassVar[str] = "rlds"

    path: str = ""
    split: str = "train"
    dataset: str | None = None
    n_obs_steps: int = 1
    horizon: int = 1
    image_size: tuple[int, int] | None = None
    cameras: tuple[str, ...] = ()
    normalization: Literal["mean_std", "min_max", "none"] = "mean_std"
    memory_mb: int = 512
    workers: int = 2
    prefetch: int = 2
    skip_bad: bool = False
    shuffle: bool = True
    language_embedding: bool = False
    random_crop: float = 1.0
    color_jitter: float = 0.0
    augment: bool = True
    stats_cache: bool = True
    state_keys: tuple[str, ...] = ()

    def check(self) -> None:
        for key in self.state_keys:
            require(key.startswith("steps/observation/"), "state_keys",
                    f"{key!r}: state keys are flat RLDS observation keys, 'steps/observation/<name>[lo:hi]'")
        require(bool(self.path), "path", "must name a dataset folder (the one holding dataset_info.json)")
        require(self.n_obs_steps >= 1, "n_obs_steps", "must be >= 1")
        require(self.horizon >= 1, "horizon", "must be >= 1")
        require(self.image_size is None or (len(self.image_size) == 2 and min(self.image_size) > 0),
                "image_size", "must be (H, W) with positive sizes")
        require(self.memory_mb >= 1, "memory_mb", "must be >= 1")
        require(self.workers >= 1, "workers", "must be >= 1")
        require(self.prefetch >= 0, "prefetch", "must be >= 0")
        require(0.1 <= self.random_crop <= 1.0, "random_crop", "must be in [0.1, 1]")
        require(0.0 <= self.color_jitter < 1.0, "color_jitter", "must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class MixtureDataConfig(Config):
    """A weighted mixture of RLDS datasets; each is normalised with its own statistics.

    ``n_obs_steps``, ``horizon``, ``image_size``, ``workers`` and ``prefetch`` come from the first
    dataset and must agree; cameras are the union (missing ones are black); state and action are
    zero-padded to the largest size.
    """

    kind: ClassVar[str] = "mixture"

    datasets: tuple[RldsDataConfig, ...] = ()
    weights: tuple[float, ...] = ()

    def check(self) -> None:
        require(len(self.datasets) >= 1, "datasets", "needs at least one dataset")
        require(len(self.weights) == len(self.datasets), "weights", "needs one weight per dataset")
        require(all(w >= 0 for w in self.weights) and sum(self.weights) > 0, "weights",
                "must be >= 0 with a positive sum")
        first = self.datasets[0]
        for i, d in enumerate(self.datasets):
            for f in ("n_obs_steps", "horizon", "image_size"):
                require(getattr(d, f) == getattr(first, f), f"datasets[{i}].{f}",
                        f"must equal datasets[0].{f} ({getattr(first, f)})")


# ---------------------------------------------------------------- reader adapter


def open_rlds(path: str, split: str | None = None):
    """Open an RLDS folder with frames left encoded: the TF-free reader of :mod:`jaxrobot.data.rlds` when
    available, else a tfds-numpy stand-in with the same methods (forced by ``JAXROBOT_RLDS_FALLBACK=1``)."""
    reader = None
    if os.environ.get("JAXROBOT_RLDS_FALLBACK") != "1":
        try:
            from jaxrobot.data.rlds.reader import RldsDataset as reader  # noqa: N813
        except ImportError:
            reader = None
    if reader is None:
        return _TfdsNumpyDataset(path, split)
    return reader(path, split, backend="numpy", decode_images=False)


class _TfdsNumpyDataset:
    """Stand-in for ``RldsDataset`` built on tfds's numpy example parser (no TensorFlow import)."""

    def __init__(self, path: str, split: str | None = None):
        import tensorflow_datasets as tfds

        if not os.path.exists(os.path.join(path, "dataset_info.json")):
            raise DataError(f"{path}: no dataset_info.json (PATH must be the <name>/<version> folder)")
        self.path = path
        self._builder = tfds.builder_from_directory(path)
        self.name = self._builder.info.name
        self.splits = list(self._builder.info.splits)
        chosen = self.splits if split is None else [split]
        for s in chosen:
            if s not in self.splits:
                raise DataError(f"{path}: no split {s!r}; splits: {self.splits}")
        self._decoders, self._spec = self._walk(self._builder.info.features)
        self._records: list[tuple[str, int, int]] = []  # (file, offset, length)
        self._files = []
        for s in chosen:
            for name in self._builder.info.splits[s].filenames:
                fname = os.path.join(path, name)
                self._files.append(fname)
                self._records += self._index(fname)
        self._lengths: list[int] | None = None

    @staticmethod
    def _walk(features):
        import tensorflow_datasets as tfds
        from tensorflow_datasets.core import features as F

        spec = {}

        def walk(feat, prefix, seq):
            if isinstance(feat, F.Dataset):
                return walk(feat.feature, prefix, True)
            if isinstance(feat, F.FeaturesDict):
                return {k: walk(v, f"{prefix}{k}/", seq) for k, v in feat.items()}
            key = prefix.rstrip("/")
            shape = ([None] if seq else []) + list(feat.shape)
            is_img = isinstance(feat, F.Image)
            spec[key] = {"shape": shape, "dtype": np.dtype(feat.np_dtype).name if not isinstance(
                feat, F.Text) else "string", "encoding": "jpeg" if is_img else "none"}
            return tfds.decode.SkipDecoding() if is_img else None

        decoders = walk(features, "", False)

        def prune(d):
            if isinstance(d, dict):
                out = {k: prune(v) for k, v in d.items()}
                return {k: v for k, v in out.items() if v is not None} or None
            return d

        return prune(decoders), spec

    @staticmethod
    def _index(fname: str) -> list[tuple[str, int, int]]:
        out, size = [], os.path.getsize(fname)
        with open(fname, "rb") as f:
            off = 0
            while off < size:
                head = f.read(12)
                if len(head) < 12:
                    raise DataError(f"{fname}: truncated record header at byte {off} (record {len(out)})")
                (n,) = struct.unpack("<Q", head[:8])
                if off + 12 + n + 4 > size:
                    raise DataError(f"{fname}: record {len(out)} at byte {off} is truncated")
                out.append((fname, off + 12, n))
                off += 12 + n + 4
                f.seek(off)
        return out

    def feature_spec(self) -> dict[str, dict]:
        return dict(self._spec)

    def __len__(self) -> int:
        return len(self._records)

    def episode(self, i: int) -> dict[str, Any]:
        fname, off, n = self._records[i]
        with open(fname, "rb") as f:
            f.seek(off)
            raw = f.read(n)
        try:
            ex = self._builder.info.features.deserialize_example_np(raw, decoders=self._decoders)
        except Exception as e:
            raise DataError(f"{fname}: cannot parse record {i}: {e}") from None
        flat: dict[str, Any] = {}

        def put(d, prefix):
            for k, v in d.items():
                if isinstance(v, dict):
                    put(v, f"{prefix}{k}/")
                elif k == "steps":
                    steps = [self._flatten(s) for s in v]
                    if steps:
                        for sk, sv in stack_steps(steps).items():
                            flat[f"steps/{sk}"] = sv
                    else:
                        for sk, s in self._spec.items():
                            if sk.startswith("steps/"):
                                flat[sk] = np.zeros([0] + [x or 0 for x in s["shape"][1:]], object)
                else:
                    flat[f"{prefix}{k}"] = v
        put(ex, "")
        return flat

    @staticmethod
    def _flatten(step, prefix=""):
        out = {}
        for k, v in step.items():
            if isinstance(v, dict):
                out.update(_TfdsNumpyDataset._flatten(v, f"{prefix}{k}/"))
            else:
                out[f"{prefix}{k}"] = v
        return out

    def episode_lengths(self) -> list[int]:
        if self._lengths is None:
            self._lengths = [len(next(iter(v for k, v in self.episode(i).items() if k.startswith("steps/"))))
                             for i in range(len(self))]
        return self._lengths

    def shard_fingerprint(self) -> list:
        return [[os.path.basename(f), os.path.getsize(f), os.stat(f).st_mtime_ns] for f in self._files]


# ---------------------------------------------------------------- scanning and statistics


def resolve_entry(ds, dataset: str | None) -> DatasetEntry:
    return get_entry(dataset or ds.name)


def scan(ds, entry: DatasetEntry, *, path: str = "", use_cache: bool = True) -> dict[str, Any]:
    """One pass over every episode (frames left encoded): statistics, lengths, bad episodes; cached.

    Returns ``{"stats": {...}, "lengths": [per good episode], "good": [episode indices],
    "bad": [[episode, reason], ...]}``.
    """

    def compute():
        acts, states = norm.StatsAccumulator(), norm.StatsAccumulator()
        lengths, good, bad = [], [], []
        for i in range(len(ds)):
            try:
                ep = standardize(ds.episode(i), entry, episode_id=i)
            except DataError as e:
                if "missing key" in str(e):
                    raise
                bad.append([i, str(e)])
                continue
            acts.add(ep["action"])
            states.add(ep["state"])
            lengths.append(ep["length"])
            good.append(i)
        stats = {"action": acts.result(), "state": states.result(), "episodes": len(good),
                 "steps": int(sum(lengths)), "skipped": len(bad), "dataset": entry.name}
        return {"stats": stats, "lengths": lengths, "good": good, "bad": bad}

    key = {"entry": to_dict(entry), "path": os.path.abspath(path) if path else ""}
    return norm.cached_stats(ds.shard_fingerprint(), key, compute, name=entry.name, use_cache=use_cache)


# ---------------------------------------------------------------- caches


class ByteLRU:
    """A thread-safe LRU cache bounded by the total ``nbytes`` of its values (an item larger than the
    whole budget is returned but not kept)."""

    def __init__(self, capacity_bytes: int):
        self.capacity = int(capacity_bytes)
        self.size = 0
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            self.misses += 1
            return None

    def put(self, key, value, nbytes: int) -> None:
        with self._lock:
            if key in self._items or nbytes > self.capacity:
                return
            self._items[key] = (value, nbytes)
            self.size += nbytes
            while self.size > self.capacity:
                _, (_, n) = self._items.popitem(last=False)
                self.size -= n

    def __len__(self) -> int:
        return len(self._items)


def _episode_nbytes(ep: dict[str, Any]) -> int:
    n = ep["state"].nbytes + ep["action"].nbytes + 256
    for frames in ep["images"].values():
        if frames is None:
            continue
        n += frames.nbytes if frames.dtype != object else sum(len(f) + 40 for f in frames)
    if ep["language_embedding"] is not None:
        n += ep["language_embedding"].nbytes
    return n


# ---------------------------------------------------------------- one dataset


class DatasetReader:
    """Random-access examples ``(window of one step)`` of one standardised, normalised dataset."""

    def __init__(self, cfg: RldsDataConfig, *, cameras: list[str] | None = None, seed: int = 0,
                 memory_bytes: int | None = None):
        self.cfg = cfg
        self.ds = open_rlds(cfg.path, cfg.split)
        self.entry = resolve_entry(self.ds, cfg.dataset)
        if cfg.state_keys:
            self.entry = dataclasses.replace(self.entry, state_keys=tuple(cfg.state_keys))
        info = scan(self.ds, self.entry, path=cfg.path, use_cache=cfg.stats_cache)
        if info["bad"] and not cfg.skip_bad:
            i, why = info["bad"][0]
            raise DataError(f"{cfg.path}: {len(info['bad'])} bad episode(s), first: {why} "
                            "(set skip_bad=True to skip and count them)")
        if not info["good"]:
            raise DataError(f"{cfg.path}: no usable episodes in split {cfg.split!r}")
        self._stats = info["stats"]
        self.good = np.asarray(info["good"], np.int64)
        self.index = StepIndex(info["lengths"])
        available = [c for c, k in camera_keys(self.entry, self.ds.feature_spec().keys()) if k is not None]
        self.camera_map = dict(camera_keys(self.entry, self.ds.feature_spec().keys()))
        self.cameras = list(cameras if cameras is not None else (cfg.cameras or available))
        self.seed = seed
        budget = memory_bytes if memory_bytes is not None else cfg.memory_mb << 20
        self._episodes = ByteLRU(budget // 2)
        self._frames = ByteLRU(budget - budget // 2)
        first = self.episode(0)
        self.state_dim, self.action_dim = first["state"].shape[1], first["action"].shape[1]
        self.embedding_dim = 0
        if cfg.language_embedding:
            if first["language_embedding"] is None:
                raise DataError(f"{cfg.path}: language_embedding=True but dataset {self.entry.name!r} has none")
            self.embedding_dim = first["language_embedding"].shape[1]
        self.image_size = tuple(cfg.image_size) if cfg.image_size else self._native_size(first)
        crop = cfg.random_crop
        self.load_size = self.image_size if crop >= 1 else tuple(
            int(math.ceil(s / crop)) for s in self.image_size)

    def _native_size(self, ep) -> tuple[int, int]:
        for cam in self.cameras:
            frames = ep["images"].get(cam)
            if frames is not None and len(frames):
                f = frames[0]
                return tuple(decode_image(f, bgr=ep["bgr"]).shape[:2]) if frames.dtype == object else f.shape[:2]
        return (64, 64)

    @property
    def total_steps(self) -> int:
        return self.index.total

    def stats(self) -> dict[str, Any]:
        return self._stats

    def episode(self, k: int) -> dict[str, Any]:
        """Standardised episode number ``k`` among the good ones (frames still encoded)."""
        ep = self._episodes.get(k)
        if ep is None:
            i = int(self.good[k])
            ep = standardize(self.ds.episode(i), self.entry, episode_id=i)
            self._episodes.put(k, ep, _episode_nbytes(ep))
        return ep

    def example(self, flat_step: int, position: int, *, state_dim: int | None = None,
                action_dim: int | None = None) -> dict[str, np.ndarray]:
        """The window at global step number ``flat_step`` (one example, no batch axis)."""
        out = allocate(self.spec_keys(1, state_dim, action_dim))
        self.fill(np.array([flat_step]), np.array([position]), out, np.array([0]), state_dim=state_dim,
                  action_dim=action_dim)
        return {k: v[0] for k, v in out.items()}

    def spec_keys(self, batch: int, state_dim: int | None = None, action_dim: int | None = None) -> dict:
        return _spec(self.cfg, batch, self.cameras, self.image_size, state_dim or self.state_dim,
                     action_dim or self.action_dim, self.embedding_dim, {})["keys"]

    def fill(self, flat_steps: np.ndarray, positions: np.ndarray, out: dict[str, np.ndarray], rows: np.ndarray,
             *, pool: futures.Executor | None = None, state_dim: int | None = None,
             action_dim: int | None = None) -> None:
        """Write the windows at ``flat_steps`` into ``out[key][rows]``; random draws from (seed, position).

        Episodes missing from the cache are read, and frames missing from the frame cache decoded, in
        parallel on ``pool``; each distinct frame is decoded once per batch.
        """
        cfg = self.cfg
        run = pool.map if pool is not None else map
        ks, ts = self.index.locate(flat_steps)
        uniq = [int(k) for k in np.unique(ks)]
        eps = dict(zip(uniq, run(self.episode, uniq), strict=True))
        s_stats, a_stats = self._stats["state"], self._stats["action"]
        plan, wanted = [], {}
        for row, k, t in zip(rows, ks, ts, strict=True):
            ep = eps[int(k)]
            oi, om, ai, am = window_indices(ep["length"], int(t), cfg.n_obs_steps, cfg.horizon)
            st = ep["state"][oi]
            if st.shape[1]:
                out["observation/state"][row, :, :st.shape[1]] = norm.normalize(st, s_stats, cfg.normalization)
            act = ep["action"][ai]
            out["action"][row, :, :act.shape[1]] = norm.normalize(act, a_stats, cfg.normalization)
            out["observation/pad_mask"][row] = om
            out["action_pad_mask"][row] = am
            if self.embedding_dim:
                out["language_embedding"][row] = ep["language_embedding"][int(t)]
            plan.append((row, int(k), oi))
            for cam in self.cameras:
                if ep["images"].get(cam) is not None:
                    for j in oi:
                        wanted[(int(k), cam, int(j))] = None
        frames = {}
        missing = []
        for key in wanted:
            img = self._frames.get(key)
            if img is None:
                missing.append(key)
            else:
                frames[key] = img
        if missing:
            n_chunks = min(len(missing), 4 * (getattr(pool, "_max_workers", 1) or 1))
            chunks = [missing[i::n_chunks] for i in range(n_chunks)]

            def decode_chunk(chunk):
                return [(key, self._decode(eps[key[0]], key)) for key in chunk]

            for part in run(decode_chunk, chunks):
                frames.update(part)
        blank = np.zeros((*self.load_size, 3), np.uint8)
        crop = self.load_size != self.image_size
        for (row, k, oi), pos in zip(plan, positions, strict=True):
            rng = np.random.default_rng([self.seed, int(pos)]) if (crop or cfg.color_jitter) else None
            for cam in self.cameras:
                dst = out[f"observation/image_{cam}"]
                imgs = [frames.get((k, cam, int(j)), blank) for j in oi]
                if not crop and not (cfg.augment and cfg.color_jitter):
                    for i, img in enumerate(imgs):
                        dst[row, i] = img
                    continue
                img = np.stack(imgs)
                if crop:
                    img = random_crop(img, self.image_size, rng) if cfg.augment else center_crop(img, self.image_size)
                if cfg.augment and cfg.color_jitter:
                    img = color_jitter(img, rng, brightness=cfg.color_jitter, contrast=cfg.color_jitter,
                                       saturation=cfg.color_jitter)
                dst[row] = img

    def _decode(self, ep: dict[str, Any], key: tuple[int, str, int]) -> np.ndarray:
        _, cam, t = key
        raw = ep["images"][cam][t]
        img = decode_image(raw, self.load_size, bgr=ep["bgr"]) if ep["images"][cam].dtype == object else resize(
            raw, self.load_size)
        self._frames.put(key, img, img.nbytes + 64)
        return img

    def cache_info(self) -> dict[str, int]:
        return {"episode_bytes": self._episodes.size, "episodes": len(self._episodes),
                "frame_bytes": self._frames.size, "frames": len(self._frames),
                "frame_hits": self._frames.hits, "frame_misses": self._frames.misses}


def allocate(keys: dict[str, dict]) -> dict[str, np.ndarray]:
    """Zeroed batch arrays for a spec's ``keys`` (zeros are the padding of smaller state/action dims)."""
    return {k: np.zeros(v["shape"], v["dtype"]) for k, v in keys.items()}


# ---------------------------------------------------------------- sources


class _PrefetchingSource:
    """Builds batches ``prefetch`` ahead; ``get_state`` is the state before the next returned batch."""

    def __init__(self, workers: int, prefetch: int):
        self._pool = futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="jaxrobot-decode")
        self._assembler = futures.ThreadPoolExecutor(1, thread_name_prefix="jaxrobot-batch")
        self._prefetch = prefetch
        self._pending: collections.deque = collections.deque()
        self._state = self._sampler_state()

    # subclasses: _sampler_state(), _sampler_set(state), _plan() -> work, _assemble(work) -> Batch

    def __iter__(self):
        return self

    def __next__(self) -> Batch:
        while len(self._pending) < self._prefetch + 1:
            work = self._plan()
            self._pending.append((self._sampler_state(), self._assembler.submit(self._assemble, work)))
        state_after, fut = self._pending.popleft()
        batch = fut.result()
        self._state = state_after
        return batch

    def get_state(self) -> dict[str, int]:
        return dict(self._state)

    def set_state(self, state: dict[str, int]) -> None:
        for _, fut in self._pending:
            fut.cancel()
        for _, fut in self._pending:
            if not fut.cancelled():
                try:
                    fut.result()
                except Exception:  # a failed prefetch of a batch we no longer want
                    pass
        self._pending.clear()
        self._sampler_set(state)
        self._state = self._sampler_state()


    def close(self) -> None:
        self._assembler.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __del__(self):
        try:
            self._assembler.shutdown(wait=False, cancel_futures=True)
            self._pool.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass


def _spec(cfg: RldsDataConfig, batch: int, cameras, image_size, state_dim, action_dim, embedding_dim,
          extra: dict[str, Any]) -> dict[str, Any]:
    n, h = cfg.n_obs_steps, cfg.horizon
    keys = {"observation/state": {"shape": [batch, n, state_dim], "dtype": "float32"},
            "observation/pad_mask": {"shape": [batch, n], "dtype": "bool"},
            "action": {"shape": [batch, h, action_dim], "dtype": "float32"},
            "action_pad_mask": {"shape": [batch, h], "dtype": "bool"}}
    for cam in cameras:
        keys[f"observation/image_{cam}"] = {"shape": [batch, n, *image_size, 3], "dtype": "uint8"}
    if embedding_dim:
        keys["language_embedding"] = {"shape": [batch, embedding_dim], "dtype": "float32"}
    return {"keys": keys, "cameras": list(cameras), "image_size": list(image_size), "state_dim": state_dim,
            "action_dim": action_dim, "n_obs_steps": n, "horizon": h, "normalization": cfg.normalization,
            **({"state_keys": list(cfg.state_keys)} if cfg.state_keys else {}), **extra}


class RldsSource(_PrefetchingSource):
    """DataSource over one RLDS dataset (see the module docstring)."""

    def __init__(self, cfg: RldsDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.reader = DatasetReader(cfg, seed=seed)
        self.sampler = IndexSampler(self.reader.total_steps, global_batch_size, seed=seed,
                                    process_index=process_index, process_count=process_count,
                                    shuffle=cfg.shuffle)
        super().__init__(cfg.workers, cfg.prefetch)

    def _sampler_state(self):
        return self.sampler.get_state()

    def _sampler_set(self, state):
        self.sampler.set_state(state)

    def _plan(self):
        s = self.sampler
        first = s.position + s.local_slice().start
        return s.next_local(), first

    def _assemble(self, work) -> Batch:
        steps, first = work
        out = allocate(self.reader.spec_keys(len(steps)))
        self.reader.fill(steps, first + np.arange(len(steps)), out, np.arange(len(steps)), pool=self._pool)
        return out

    def stats(self) -> dict[str, Any]:
        return {"mode": self.cfg.normalization, **self.reader.stats()}

    def spec(self) -> dict[str, Any]:
        r = self.reader
        return _spec(self.cfg, self.sampler.local_batch_size, r.cameras, r.image_size, r.state_dim, r.action_dim,
                     r.embedding_dim, {"dataset": r.entry.name, "control_hz": r.entry.control_hz,
                                       "steps": r.total_steps, "episodes": len(r.good)})


class MixtureSource(_PrefetchingSource):
    """Weighted mixture of RLDS datasets (each normalised with its own statistics)."""

    def __init__(self, cfg: MixtureDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        first = cfg.datasets[0]
        per = (sum(d.memory_mb for d in cfg.datasets) << 20) // len(cfg.datasets)
        readers = [DatasetReader(d, seed=seed * 1009 + i, memory_bytes=per) for i, d in enumerate(cfg.datasets)]
        cams = list(dict.fromkeys(c for r in readers for c in r.cameras))
        size = readers[0].image_size
        self.readers = [DatasetReader(d, cameras=cams, seed=seed * 1009 + i, memory_bytes=per)
                        if r.cameras != cams or r.image_size != size else r
                        for i, (d, r) in enumerate(zip(cfg.datasets, readers, strict=True))]
        for r in self.readers:
            if r.image_size != size:
                r.image_size = size
                r.load_size = size if r.cfg.random_crop >= 1 else tuple(
                    int(math.ceil(s / r.cfg.random_crop)) for s in size)
        self.cameras, self.image_size = cams, size
        self.state_dim = max(r.state_dim for r in self.readers)
        self.action_dim = max(r.action_dim for r in self.readers)
        emb = {r.embedding_dim for r in self.readers}
        if len(emb) > 1:
            raise DataError(f"mixture: language embedding sizes differ across datasets: {sorted(emb)}")
        self.embedding_dim = emb.pop()
        self.sampler = MixtureSampler([r.total_steps for r in self.readers], list(cfg.weights), global_batch_size,
                                      seed=seed, process_index=process_index, process_count=process_count)
        super().__init__(first.workers, first.prefetch)

    def _sampler_state(self):
        return self.sampler.get_state()

    def _sampler_set(self, state):
        self.sampler.set_state(state)

    def _plan(self):
        s = self.sampler
        first = s.batch * s.global_batch_size + s.process_index * s.local_batch_size
        ds, idx = s.next_local()
        return ds, idx, first

    def _assemble(self, work) -> Batch:
        ds, idx, first = work
        n = len(ds)
        keys = _spec(self.cfg.datasets[0], n, self.cameras, self.image_size, self.state_dim, self.action_dim,
                     self.embedding_dim, {})["keys"]
        out = allocate(keys)
        positions = first + np.arange(n)
        for d, reader in enumerate(self.readers):
            rows = np.flatnonzero(ds == d)
            if len(rows):
                reader.fill(idx[rows], positions[rows], out, rows, pool=self._pool, state_dim=self.state_dim,
                            action_dim=self.action_dim)
        out["dataset_index"] = ds.astype(np.int32)
        return out

    def stats(self) -> dict[str, Any]:
        return {"mode": self.cfg.datasets[0].normalization, "weights": list(self.cfg.weights),
                "datasets": {r.entry.name if list(map(lambda x: x.entry.name, self.readers)).count(r.entry.name) == 1
                             else f"{r.entry.name}#{i}": r.stats() for i, r in enumerate(self.readers)}}

    def spec(self) -> dict[str, Any]:
        spec = _spec(self.cfg.datasets[0], self.sampler.local_batch_size, self.cameras, self.image_size,
                     self.state_dim, self.action_dim, self.embedding_dim,
                     {"datasets": [r.entry.name for r in self.readers], "weights": list(self.cfg.weights)})
        spec["keys"]["dataset_index"] = {"shape": [self.sampler.local_batch_size], "dtype": "int32"}
        return spec


def _build_rlds(cfg, **kw) -> RldsSource:
    return RldsSource(cfg, **kw)


def _build_mixture(cfg, **kw) -> MixtureSource:
    return MixtureSource(cfg, **kw)


def _register() -> None:
    from jaxrobot.data.sources import register_source

    register_source("rlds", _build_rlds)
    register_source("mixture", _build_mixture)


_register()
__all__ = ["RldsDataConfig", "MixtureDataConfig", "RldsSource", "MixtureSource", "DatasetReader", "open_rlds",
           "scan", "ByteLRU", "json"]
