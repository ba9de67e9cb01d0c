"""RLDS training source (kind ``"rlds"``): one RLDS / Open X-Embodiment dataset as a stream of batches.

Pipeline per batch (all numpy; the trainer does device placement):

1. :class:`~jaxrobot.data.sampler.IndexSampler` gives this host's flat step numbers: a global shuffle over
   every (episode, step) with no shuffle buffer; order = f(seed, epoch, position), state = a few ints.
2. :class:`~jaxrobot.data.sampler.StepIndex` maps a step number to (episode, step); the episode comes from a
   byte-bounded LRU cache (:mod:`~jaxrobot.data.sources.cache`) of *standardised* episodes whose frames are
   still JPEG bytes (a random-access read of one record on a miss, through :mod:`jaxrobot.data.rlds`).
3. :func:`~jaxrobot.data.windows.window_indices` picks the observation history and action chunk with
   padding masks; state and action are normalised with the dataset statistics (:func:`scan`, cached).
4. Only the frames in the window are decoded (simplejpeg, scaled in the DCT domain towards the training
   size) by ``workers`` threads, through a second byte-bounded LRU of decoded frames; then random crop
   and colour jitter drawn from ``rng([seed, global example position])``.

Batches are built ``prefetch`` ahead on a background thread (:mod:`~jaxrobot.data.sources.prefetch`);
``get_state()`` describes the next batch the caller will receive, so resume is exact. The two caches share
``memory_mb``. :class:`DatasetReader` (steps 2-4 for one dataset) also serves the weighted mixtures of
:mod:`~jaxrobot.data.sources.mixture`.
"""

from __future__ import annotations

import concurrent.futures as futures
import dataclasses
import math
import os
import sys
from typing import Any, ClassVar, Literal

import numpy as np

from jaxrobot.config import Config, ConfigError, require, to_dict
from jaxrobot.data import normalize as norm
from jaxrobot.data.base import DataError, DataSource, allocate
from jaxrobot.data.datasets import MIXTURES, DatasetEntry, get_entry
from jaxrobot.data.rlds import fs
from jaxrobot.data.rlds.reader import RldsDataset
from jaxrobot.data.sampler import IndexSampler, StepIndex
from jaxrobot.data.sources.cache import ByteLRU, episode_nbytes
from jaxrobot.data.sources.prefetch import PrefetchingSource
from jaxrobot.data.standardize import camera_keys, standardize
from jaxrobot.data.transforms import center_crop, color_jitter, decode_image, random_crop, resize
from jaxrobot.data.windows import window_indices

_MAX_REDRAWS = 16  # skip_bad: draws of a replacement step for an example that needs a corrupt frame
_REDRAW_SALT = 0x5B1D  # keeps the replacement draws apart from the augmentation draws of the same position
_MAX_WARNINGS = 10  # skip_bad: corrupt frames reported one line each; later ones are only counted


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
        that exist in the data; ``None`` = no camera at all (a state-only policy: no frame is read into the
        caches or decoded, whatever cameras the dataset has). Names the dataset lacks are black frames.
      normalization: applied to action and state: ``mean_std``, ``min_max`` (to [-1, 1]) or ``none``.
      memory_mb: bound on the episode + decoded-frame caches.
      workers: decode threads; prefetch: batches built ahead.
      processes: worker processes that build the batches, each batch's rows shared among them by episode
        (windows, normalisation and decoding run in parallel, not only the decoding;
        :mod:`~jaxrobot.data.sources.workers`), each with ``memory_mb / processes`` of cache; 0 = build batches
        in this process with ``workers`` decode threads. Batches are the same either way. Worth it when the
        first pass over JPEG frames is input-bound (``bench/data_pipeline.py``); each process costs ~40 MB
        and under a second of start-up.
      skip_bad: skip (and count) episodes with NaN/Inf, wrong shapes or no steps, and frames that do not
        decode (one warning line each; the example is redrawn), instead of failing naming file and episode.
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
      mixture, data_dir, skip_missing: train on a named mixture (``jaxrobot data datasets`` lists them) instead
        of ``path``: ``--set data.mixture=oxe_magic_soup --set data.data_dir=DIR`` on any experiment reads the
        members that ``DIR`` holds (``<name>/<version>/dataset_info.json``) with this config's other settings
        (windows, image size, cameras, normalisation); see
        :class:`~jaxrobot.data.sources.mixture.MixtureDataConfig`.
    """

    kind: ClassVar[str] = "rlds"

    path: str = ""
    split: str = "train"
    dataset: str | None = None
    n_obs_steps: int = 1
    horizon: int = 1
    image_size: tuple[int, int] | None = None
    cameras: tuple[str, ...] | None = ()
    normalization: Literal["mean_std", "min_max", "none"] = "mean_std"
    memory_mb: int = 512
    workers: int = 2
    prefetch: int = 2
    processes: int = 0
    skip_bad: bool = False
    shuffle: bool = True
    language_embedding: bool = False
    random_crop: float = 1.0
    color_jitter: float = 0.0
    augment: bool = True
    stats_cache: bool = True
    state_keys: tuple[str, ...] = ()
    mixture: str = ""
    data_dir: str = ""
    skip_missing: bool = False

    def check(self) -> None:
        for key in self.state_keys:
            require(key.startswith("steps/observation/"), "state_keys",
                    f"{key!r}: state keys are flat RLDS observation keys, 'steps/observation/<name>[lo:hi]'")
        if self.mixture:
            require(self.mixture in MIXTURES, "mixture", f"unknown mixture {self.mixture!r}; known: {sorted(MIXTURES)}")
            require(bool(self.data_dir), "data_dir", f"set it to the folder holding the datasets of mixture "
                    f"{self.mixture!r} (<data_dir>/<name>/<version>/dataset_info.json)")
        else:
            require(bool(self.path), "path", "must name a dataset folder (the one holding dataset_info.json)")
            require(not self.data_dir and not self.skip_missing, "data_dir",
                    "data_dir and skip_missing go with a named mixture: set data.mixture too")
        require(self.n_obs_steps >= 1, "n_obs_steps", "must be >= 1")
        require(self.horizon >= 1, "horizon", "must be >= 1")
        require(self.image_size is None or (len(self.image_size) == 2 and min(self.image_size) > 0),
                "image_size", "must be (H, W) with positive sizes")
        require(self.memory_mb >= 1, "memory_mb", "must be >= 1")
        require(self.workers >= 1, "workers", "must be >= 1")
        require(self.prefetch >= 0, "prefetch", "must be >= 0")
        require(0 <= self.processes <= 64, "processes", "must be in [0, 64] (0 = threads in this process)")
        require(0.1 <= self.random_crop <= 1.0, "random_crop", "must be in [0.1, 1]")
        require(0.0 <= self.color_jitter < 1.0, "color_jitter", "must be in [0, 1)")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice; with ``mixture``
        set it builds the mixture's stream instead, :meth:`MixtureDataConfig.named`)."""
        if self.mixture:
            raise ConfigError(f"config field 'data.mixture' ({self.mixture!r}): build the stream with "
                              "jaxrobot.data.sources.make_source, which reads the mixture's members")
        return RldsSource(self, **kw)


def open_rlds(path: str, split: str | None = None) -> RldsDataset:
    """Open an RLDS folder with frames left encoded (decoded later, only those a batch needs).

    tfrecord shards are read by the TF-free reader, ``array_record`` shards through tfds's data sources
    (:mod:`jaxrobot.data.rlds.tf_reader`); ``JAXROBOT_RLDS_FALLBACK=1`` reads every format through tfds
    instead of jaxrobot's own record parser (a cross-check; the episodes are the same).
    """
    backend = "tf" if os.environ.get("JAXROBOT_RLDS_FALLBACK") == "1" else "auto"
    return RldsDataset(path, split, backend=backend, decode_images=False)


def resolve_entry(ds, dataset: str | None) -> DatasetEntry:
    """The registry entry named ``dataset``, else the one named like the dataset itself."""
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


def batch_spec(cfg: RldsDataConfig, batch: int, cameras, image_size, state_dim, action_dim, embedding_dim,
               extra: dict[str, Any]) -> dict[str, Any]:
    """The data spec of a batch (layout of :mod:`jaxrobot.data.base`) with the windows of ``cfg``; ``extra``
    adds source-specific entries. Its ``keys`` say the shape and dtype of every batch array."""
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


class DatasetReader:
    """Random-access examples ``(window of one step)`` of one standardised, normalised dataset."""

    def __init__(self, cfg: RldsDataConfig, *, cameras: list[str] | None = None, seed: int = 0,
                 memory_bytes: int | None = None, scanned: dict[str, Any] | None = None):
        self.cfg = cfg
        self.ds = open_rlds(cfg.path, cfg.split)
        self.entry = resolve_entry(self.ds, cfg.dataset)
        if cfg.state_keys:
            self.entry = dataclasses.replace(self.entry, state_keys=tuple(cfg.state_keys))
        info = scanned if scanned is not None else scan(self.ds, self.entry, path=cfg.path, use_cache=cfg.stats_cache)
        self._scanned = info
        self._camera_arg = cameras
        if info["bad"] and not cfg.skip_bad:
            i, why = info["bad"][0]
            raise DataError(f"{cfg.path}: {len(info['bad'])} bad episode(s), first: {why} "
                            "(set skip_bad=True to skip and count them)")
        if not info["good"]:
            raise DataError(f"{cfg.path}: no usable episodes in split {cfg.split!r}")
        # Dims the entry leaves unnormalised (Octo's action_normalization_mask) get identity statistics.
        self._stats = dict(info["stats"], action=norm.exempt_dims(info["stats"]["action"], self.entry.action_norm_mask))
        self.good = np.asarray(info["good"], np.int64)
        self.index = StepIndex(info["lengths"])
        available = [c for c, k in camera_keys(self.entry, self.ds.feature_spec().keys()) if k is not None]
        self.camera_map = dict(camera_keys(self.entry, self.ds.feature_spec().keys()))
        if cameras is not None:
            self.cameras = list(cameras)
        else:
            self.cameras = [] if cfg.cameras is None else list(cfg.cameras or available)
        self.seed = seed
        self.bad_frames: dict[tuple[int, str, int], str] = {}  # (episode k, camera, step) -> why (skip_bad)
        budget = memory_bytes if memory_bytes is not None else cfg.memory_mb << 20
        self.memory_bytes = budget
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

    def recipe(self, processes: int) -> ReaderRecipe:
        """What rebuilds this reader in one of ``processes`` worker processes (same episodes, statistics,
        cameras and sizes; its own caches, 1/``processes`` of this one's budget), without a second scan."""
        return ReaderRecipe(self.cfg, self._camera_arg, self.seed, self.memory_bytes // processes, self._scanned,
                            tuple(self.image_size), tuple(self.load_size))

    def sim_task(self) -> dict[str, Any]:
        """``{"sim_task": {"task", "config"}}`` when jaxrobot's demo generator recorded the sim task config that
        made this dataset (evaluation rebuilds that env: action space, control rate), else ``{}``."""
        made = self.ds.metadata.get("jaxrobot_sim") or {}
        if not (made.get("task") and made.get("config")):
            return {}
        return {"sim_task": {"task": made["task"], "config": made["config"]}}

    def _native_size(self, ep) -> tuple[int, int]:
        """The stored size of the first camera's frames in the first good episode (its first decodable frame
        with ``skip_bad``)."""
        for cam in self.cameras:
            frames = ep["images"].get(cam)
            if frames is None or not len(frames):
                continue
            if frames.dtype != object:
                return frames.shape[1:3]
            first_error = None
            for t, f in enumerate(frames):
                try:
                    return tuple(decode_image(f, bgr=ep["bgr"]).shape[:2])
                except DataError as e:
                    e = DataError(f"{self.frame_location(0, cam, t)}: {e}")
                    if not self.cfg.skip_bad:
                        raise e from None
                    first_error = first_error or e
            raise DataError(f"no frame of camera {cam!r} in the first episode decodes; first: {first_error}")
        return (64, 64)

    def frame_location(self, k: int, cam: str, t: int) -> str:
        """Where frame ``t`` of camera ``cam`` of good episode ``k`` is stored: shard file, record, episode,
        feature and step (in the record, before ``drop_first_step``)."""
        i = int(self.good[k])
        shard, record = self.ds.locate(i)
        step = t + (1 if self.entry.drop_first_step else 0)
        return (f"{fs.join(self.ds.path, shard)}: record {record} (episode {i}), "
                f"feature {self.camera_map.get(cam, cam)!r} step {step}")

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
            if not self.cameras:  # a state-only reader never looks at a frame: do not keep them
                ep["images"] = {}
            self._episodes.put(k, ep, episode_nbytes(ep))
        return ep

    def example(self, flat_step: int, position: int, *, state_dim: int | None = None,
                action_dim: int | None = None) -> dict[str, np.ndarray]:
        """The window at global step number ``flat_step`` (one example, no batch axis)."""
        out = allocate(self.spec_keys(1, state_dim, action_dim))
        self.fill(np.array([flat_step]), np.array([position]), out, np.array([0]), state_dim=state_dim,
                  action_dim=action_dim)
        return {k: v[0] for k, v in out.items()}

    def spec_keys(self, batch: int, state_dim: int | None = None, action_dim: int | None = None) -> dict:
        return batch_spec(self.cfg, batch, self.cameras, self.image_size, state_dim or self.state_dim,
                     action_dim or self.action_dim, self.embedding_dim, {})["keys"]

    def fill(self, flat_steps: np.ndarray, positions: np.ndarray, out: dict[str, np.ndarray], rows: np.ndarray,
             *, pool: futures.Executor | None = None, state_dim: int | None = None,
             action_dim: int | None = None) -> None:
        """Write the windows at ``flat_steps`` into ``out[key][rows]``; random draws from (seed, position).

        Episodes missing from the cache are read, and frames missing from the frame cache decoded, in
        parallel on ``pool``; each distinct frame is decoded once per batch.

        A frame that does not decode raises a :class:`DataError` naming its shard file, record, episode,
        feature and step. With ``skip_bad`` it is recorded in :attr:`bad_frames` instead (a one-line warning
        on stderr for each of the first few) and every example whose window needs it is replaced by another
        step drawn from ``(seed, position)``, so batches stay a pure function of their position.
        """
        rows, positions, flat_steps = np.asarray(rows), np.asarray(positions), np.asarray(flat_steps)
        for attempt in range(_MAX_REDRAWS + 1):
            bad_rows = self._fill(flat_steps, positions, out, rows, pool)
            if not bad_rows:
                return
            sel = np.isin(rows, sorted(bad_rows))
            rows, positions = rows[sel], positions[sel]
            flat_steps = np.array([np.random.default_rng([self.seed, int(p), _REDRAW_SALT, attempt])
                                   .integers(self.index.total) for p in positions], np.int64)
        raise DataError(f"{self.cfg.path}: {len(self.bad_frames)} corrupt frame(s) skipped, and still no "
                        f"decodable window after {_MAX_REDRAWS} draws; first: "
                        f"{self.frame_location(*next(iter(self.bad_frames)))}")

    def _fill(self, flat_steps: np.ndarray, positions: np.ndarray, out: dict[str, np.ndarray], rows: np.ndarray,
              pool: futures.Executor | None) -> set[int]:
        """One pass of :meth:`fill`; returns the rows left unfilled because a frame is corrupt (skip_bad)."""
        cfg = self.cfg
        run = pool.map if pool is not None else map
        ks, ts = self.index.locate(flat_steps)
        uniq = [int(k) for k in np.unique(ks)]
        eps = dict(zip(uniq, run(self.episode, uniq), strict=True))
        # Windows, state and action for all rows at once (per-row numpy calls cost more than the arithmetic).
        lengths = np.array([eps[int(k)]["length"] for k in ks], np.int64)
        ois, oms, ais, ams = window_indices(lengths, ts, cfg.n_obs_steps, cfg.horizon)
        st = np.stack([eps[int(k)]["state"][oi] for k, oi in zip(ks, ois, strict=True)])
        if st.shape[2]:
            out["observation/state"][rows, :, :st.shape[2]] = norm.normalize(st, self._stats["state"],
                                                                              cfg.normalization)
        act = np.stack([eps[int(k)]["action"][ai] for k, ai in zip(ks, ais, strict=True)])
        out["action"][rows, :, :act.shape[2]] = norm.normalize(act, self._stats["action"], cfg.normalization)
        out["observation/pad_mask"][rows] = oms
        out["action_pad_mask"][rows] = ams
        if self.embedding_dim:
            out["language_embedding"][rows] = np.stack([eps[int(k)]["language_embedding"][int(t)]
                                                        for k, t in zip(ks, ts, strict=True)])
        plan, wanted = [], {}
        for row, k, oi in zip(rows, ks, ois, strict=True):
            ep = eps[int(k)]
            plan.append((row, int(k), oi))
            for cam in self.cameras:
                if ep["images"].get(cam) is not None:
                    for j in oi:
                        wanted[(int(k), cam, int(j))] = None
        frames = {}
        missing = []
        failed = {}
        for key in wanted:
            if key in self.bad_frames:
                failed[key] = self.bad_frames[key]
                continue
            img = self._frames.get(key)
            if img is None:
                missing.append(key)
            else:
                frames[key] = img
        if missing:
            n_chunks = min(len(missing), 4 * (getattr(pool, "_max_workers", 1) or 1))
            chunks = [missing[i::n_chunks] for i in range(n_chunks)]

            def decode_chunk(chunk):
                done = []
                for key in chunk:
                    try:
                        done.append((key, self._decode(eps[key[0]], key), None))
                    except DataError as e:
                        done.append((key, None, str(e)))
                return done

            new_failures = []
            for part in run(decode_chunk, chunks):
                for key, img, why in part:
                    if why is None:
                        frames[key] = img
                    else:
                        new_failures.append((key, why))
            if new_failures and not cfg.skip_bad:
                key, why = min(new_failures)
                raise DataError(f"{self.frame_location(*key)}: {why} (set data.skip_bad=true to skip corrupt "
                                "frames)")
            for key, why in sorted(new_failures):
                self._record_bad_frame(key, why)
                failed[key] = why
        bad_rows = {int(row) for row, k, oi in plan
                    if failed and any((k, cam, int(j)) in failed for cam in self.cameras for j in oi)}
        blank = np.zeros((*self.load_size, 3), np.uint8)
        crop = self.load_size != self.image_size
        for (row, k, oi), pos in zip(plan, positions, strict=True):
            if int(row) in bad_rows:
                continue
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
        return bad_rows

    def _record_bad_frame(self, key: tuple[int, str, int], why: str) -> None:
        self.bad_frames[key] = why
        n = len(self.bad_frames)
        if n <= _MAX_WARNINGS:
            more = " (further corrupt frames are skipped and counted silently)" if n == _MAX_WARNINGS else ""
            print(f"warning: skip_bad: skipping corrupt frame #{n}: {self.frame_location(*key)}: {why}{more}",
                  file=sys.stderr, flush=True)

    def _decode(self, ep: dict[str, Any], key: tuple[int, str, int]) -> np.ndarray:
        _, cam, t = key
        raw = ep["images"][cam][t]
        img = decode_image(raw, self.load_size, bgr=ep["bgr"]) if ep["images"][cam].dtype == object else resize(
            raw, self.load_size)
        self._frames.put(key, img, img.nbytes + 64)
        return img

    def cache_info(self) -> dict[str, int]:
        """Cache sizes and hit counts, and ``bad_frames``: corrupt frames skipped so far (``skip_bad``)."""
        return {"bad_frames": len(self.bad_frames), "episode_bytes": self._episodes.size,
                "episodes": len(self._episodes), "frame_bytes": self._frames.size, "frames": len(self._frames),
                "frame_hits": self._frames.hits, "frame_misses": self._frames.misses}


@dataclasses.dataclass(frozen=True)
class ReaderRecipe:
    """Picklable arguments that rebuild a :class:`DatasetReader` (see :meth:`DatasetReader.recipe`)."""

    cfg: RldsDataConfig
    cameras: list[str] | None
    seed: int
    memory_bytes: int
    scanned: dict[str, Any]
    image_size: tuple[int, int]
    load_size: tuple[int, int]

    def build(self) -> DatasetReader:
        r = DatasetReader(self.cfg, cameras=self.cameras, seed=self.seed, memory_bytes=self.memory_bytes,
                          scanned=self.scanned)
        r.image_size, r.load_size = self.image_size, self.load_size
        return r


class BatchFiller:
    """Writes (rows of) one batch from one or several readers; the same code in this process and in a worker.

    ``work`` is ``(dataset per row or None, step number per row, global position per row, batch row per
    row)``; returns the corrupt frames first met while filling (``[(reader, key, why)]``, ``skip_bad``).
    """

    def __init__(self, readers: list, state_dim: int | None = None, action_dim: int | None = None):
        self.readers = readers
        self.state_dim, self.action_dim = state_dim, action_dim

    def __call__(self, work, out: dict[str, np.ndarray], pool: futures.Executor | None = None) -> list:
        ds, idx, positions, rows = work
        marks = [len(r.bad_frames) for r in self.readers]
        if ds is None:
            if len(rows):
                self.readers[0].fill(idx, positions, out, rows, pool=pool)
        else:
            for d, reader in enumerate(self.readers):
                sel = np.flatnonzero(ds == d)
                if len(sel):
                    reader.fill(idx[sel], positions[sel], out, rows[sel], pool=pool, state_dim=self.state_dim,
                                action_dim=self.action_dim)
            out["dataset_index"][rows] = ds
        return [(d, key, why) for d, (r, m) in enumerate(zip(self.readers, marks, strict=True))
                for key, why in list(r.bad_frames.items())[m:]]


def merge_bad_frames(readers: list, info: list) -> None:
    """Record in ``readers`` the corrupt frames a :class:`BatchFiller` reported (from a worker process, where
    the readers are copies; in this process it is the same record)."""
    for d, key, why in info:
        readers[d].bad_frames.setdefault(key, why)


def split_by_episode(readers: list, work, parts: int) -> list[tuple[np.ndarray, Any]]:
    """Share a batch's rows among ``parts`` worker processes by episode (all rows of one episode go to the
    same worker, so its frames are read and decoded by one process only)."""
    ds, idx, positions, rows = work
    owner = np.empty(len(idx), np.int64)
    for d, reader in enumerate(readers):  # one reader when ds is None
        sel = np.ones(len(idx), bool) if ds is None else ds == d
        ks, _ = reader.index.locate(idx[sel])
        owner[sel] = (ks * len(readers) + d) % parts
    out = []
    for p in range(parts):
        sel = owner == p
        out.append((rows[sel], (None if ds is None else ds[sel], idx[sel], positions[sel], rows[sel])))
    return out


@dataclasses.dataclass(frozen=True)
class FillerRecipe:
    """Builds a :class:`BatchFiller` in a worker process (the picklable recipe of
    :class:`~jaxrobot.data.sources.workers.ProcessAssembler`)."""

    readers: tuple[ReaderRecipe, ...]
    state_dim: int | None = None
    action_dim: int | None = None

    def __call__(self) -> BatchFiller:
        return BatchFiller([r.build() for r in self.readers], self.state_dim, self.action_dim)


class RldsSource(PrefetchingSource):
    """DataSource over one RLDS dataset (see the module docstring)."""

    def __init__(self, cfg: RldsDataConfig, *, global_batch_size: int, process_index: int = 0,
                 process_count: int = 1, seed: int = 0):
        self.cfg = cfg
        self.reader = DatasetReader(cfg, seed=seed)
        self.sampler = IndexSampler(self.reader.total_steps, global_batch_size, seed=seed,
                                    process_index=process_index, process_count=process_count,
                                    shuffle=cfg.shuffle)
        super().__init__(cfg.workers, cfg.prefetch, cfg.processes)

    def _plan(self):
        s = self.sampler
        first = s.position + s.local_slice().start
        steps = s.next_local()
        return None, steps, first + np.arange(len(steps)), np.arange(len(steps))

    def _keys(self) -> dict[str, dict]:
        return self.reader.spec_keys(self.sampler.local_batch_size)

    def _fill(self, work, out: dict[str, np.ndarray]) -> list:
        return BatchFiller([self.reader])(work, out, pool=self._pool)

    def _recipe(self) -> FillerRecipe:
        return FillerRecipe((self.reader.recipe(self.cfg.processes),))

    def _split(self, work, parts: int) -> list:
        return split_by_episode([self.reader], work, parts)

    def _merge(self, info: list) -> None:
        merge_bad_frames([self.reader], info)

    def stats(self) -> dict[str, Any]:
        return {"mode": self.cfg.normalization, **self.reader.stats()}

    @property
    def skipped_frames(self) -> int:
        """Corrupt frames skipped so far (``skip_bad``); not part of :meth:`stats`, which checkpoints keep."""
        return len(self.reader.bad_frames)

    def spec(self) -> dict[str, Any]:
        r = self.reader
        return batch_spec(self.cfg, self.sampler.local_batch_size, r.cameras, r.image_size, r.state_dim,
                          r.action_dim, r.embedding_dim, {"dataset": r.entry.name, "control_hz": r.entry.control_hz,
                                                          "steps": r.total_steps, "episodes": len(r.good),
                                                          **r.sim_task()})
