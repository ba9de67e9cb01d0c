"""DataSource ``grasp_rlds``: dense grasp-map training batches from a physics-labelled grasp dataset.

Reads the RLDS dataset written by :mod:`jaxrobot.skills.grasping.label` (one episode per scene: a depth/RGB image
and K executed planar grasps with success labels) with the data layer's TF-free reader, and turns every
scene into GG-CNN targets once, at start-up:

- ``grasp/cos2``, ``grasp/sin2``, ``grasp/width``: :func:`~jaxrobot.vision.grasp_repr.encode_grasp_maps` of
  the *successful* grasps (GG-CNN paints positive rectangles only; Morrison et al. 2018).
- ``grasp/quality``: where executed grasps cover a pixel (centre third along the closing axis, ``jaw_px``
  across), the fraction of them that succeeded; 0 elsewhere. So failed grasps (the negatives) lower the
  quality where they overlap positives instead of being ignored (``quality="positive"`` restores GG-CNN's
  binary map of positives).

Batches (``observation/depth`` [B, H, W, 1], ``observation/rgb`` [B, H, W, 3] when ``use_rgb``, ``grasp/*``
[B, H, W]) are drawn by the data layer's resumable global shuffle (``jaxrobot.data.sampler.IndexSampler``),
with an optional dihedral augmentation (flips and quarter turns, angle maps transformed accordingly)
chosen by a hash of (seed, global position): resume is exact from ``get_state()``.

Where the data comes from (:class:`GraspRldsConfig`): ``path`` (a dataset folder) if set; otherwise the
labelled dataset cached under ``cache_dir`` (``<cache_dir>/jaxrobot_grasp_labels/1.0.0``), made there by
labelling fresh MJX grasps with ``label`` when missing.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, ClassVar, Literal

import numpy as np

from jaxrobot.config import Config, require
from jaxrobot.data.base import DataError, DataSource
from jaxrobot.data.sampler import IndexSampler, SamplerState, _mix64
from jaxrobot.skills.grasping.label import GraspLabelConfig

DATASET_NAME = "jaxrobot_grasp_labels"
VERSION = "1.0.0"


@dataclasses.dataclass(frozen=True)
class GraspRldsConfig(Config):
    """Fields:
    path: a labelled dataset folder (``.../jaxrobot_grasp_labels/1.0.0``); empty: use ``cache_dir``.
    cache_dir: folder holding (or receiving) the labelled dataset; empty: ``$JAXROBOT_CACHE/grasp_labels``
      (``~/.cache/jaxrobot/grasp_labels``) plus a hash of ``label``.
    split: dataset split to read.
    label: how to label fresh grasps when no dataset exists (``jaxrobot.skills.grasping.label``).
    max_width: width in pixels that the width map's 1.0 stands for (= the model's ``max_width``).
    jaw_px: painted extent across the closing axis (the finger width seen in the image).
    quality: ``success_rate`` (negatives lower the map) or ``positive`` (GG-CNN's binary positives).
    augment: random flips / quarter turns.
    use_rgb: also yield ``observation/rgb``.
    crop: train on random ``crop`` x ``crop`` windows (0: whole images). The network is fully
      convolutional, so it still predicts on whole images; crops cut the training cost on this CPU.
    """

    kind: ClassVar[str] = "grasp_rlds"
    path: str = ""
    cache_dir: str = ""
    split: str = "train"
    label: GraspLabelConfig = GraspLabelConfig()
    max_width: float = 40.0
    jaw_px: float = 6.0
    quality: Literal["success_rate", "positive"] = "success_rate"
    augment: bool = True
    use_rgb: bool = False
    crop: int = 0

    def check(self) -> None:
        require(
            self.crop == 0 or (self.crop >= 16 and self.crop % 4 == 0),
            "crop",
            f"must be 0 or a multiple of 4 >= 16, got {self.crop}",
        )
        require(self.max_width > 0, "max_width", "must be > 0")
        require(self.jaw_px > 0, "jaw_px", "must be > 0")

    def build_source(self, **kw) -> DataSource:
        """This config's stream (``make_source`` passes the batch size and the host's slice)."""
        return GraspRldsSource(self, **kw)


def default_cache_dir(cfg: GraspRldsConfig) -> str:
    import hashlib

    from jaxrobot.config import to_json

    root = os.environ.get("JAXROBOT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jaxrobot")
    tag = hashlib.sha256(to_json(cfg.label).encode()).hexdigest()[:12]
    return os.path.join(root, "grasp_labels", tag)


def resolve_dataset(cfg: GraspRldsConfig, log=None) -> str:
    """The dataset folder for ``cfg``; labels and writes it first when it is not in the cache yet."""
    if cfg.path:
        return cfg.path
    cache = cfg.cache_dir or default_cache_dir(cfg)
    path = os.path.join(cache, DATASET_NAME, VERSION)
    if os.path.exists(os.path.join(path, "dataset_info.json")):
        return path
    from jaxrobot.skills.grasping import label as grasp_label

    log = log or (lambda m: print(m, file=sys.stderr))
    lcfg = cfg.label.replace(split=cfg.split)
    log(
        f"grasp_rlds: no labelled dataset in {cache}; labelling {lcfg.scenes} scenes x {lcfg.candidates} "
        "grasps in MJX"
    )
    labels = grasp_label.label_grasps(lcfg, progress=True, log=log)
    log(f"grasp_rlds: {labels['stats']}")
    return grasp_label.write_dataset(labels, cache, progress=False)


def load_scenes(path: str, split: str = "train") -> dict[str, np.ndarray]:
    """All scenes of a labelled dataset as stacked arrays (depth [N, H, W], grasps [N, K], metadata)."""
    from jaxrobot.data.rlds.reader import RldsDataset

    ds = RldsDataset(path, split)
    cols: dict[str, list] = {}
    for ep in ds:
        for key, v in ep.items():
            if key.startswith("steps/"):
                v = v[0]
            cols.setdefault(key, []).append(v)
    if not cols:
        raise DataError(f"{path}: split {split!r} holds no scenes")
    out = {
        k.split("/", 1)[1] if k.startswith("steps/") else k: np.stack(v)
        for k, v in cols.items()
        if not isinstance(v[0], bytes | str) and np.asarray(v[0]).dtype != object
    }
    out["observation/depth"] = out["observation/depth"][..., 0]
    cats = [np.asarray(c, dtype=object).item() for c in cols["episode_metadata/category"]]
    out["category"] = np.array([c.decode() if isinstance(c, bytes) else str(c) for c in cats])
    return out


def grasp_targets(
    scenes: dict[str, np.ndarray], max_width: float, jaw_px: float, quality: str, chunk: int = 64
) -> dict[str, np.ndarray]:
    """Per-scene target maps [N, H, W] (quality, cos2, sin2, width) from the executed grasps."""
    import jax
    import jax.numpy as jnp

    from jaxrobot.vision.grasp_repr import encode_grasp_maps, make_grasps, paint_mask

    h, w = scenes["observation/depth"].shape[1:3]

    @jax.jit
    @jax.vmap
    def one(center, angle, width, success):
        g = make_grasps(center, angle, width, jaw=jnp.full_like(width, jaw_px), valid=success)
        maps = encode_grasp_maps(g, h, w, max_width)
        if quality == "success_rate":
            inside = paint_mask(g.replace(valid=jnp.ones_like(success)), h, w)
            tot = inside.sum(0)
            pos = (inside & success[:, None, None]).sum(0)
            maps["quality"] = jnp.where(tot > 0, pos / jnp.maximum(tot, 1), 0.0)
        return maps

    parts = []
    n = scenes["grasp/center"].shape[0]
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        args = [np.asarray(scenes[f"grasp/{k}"][sl]) for k in ("center", "angle", "width", "success")]
        pad = chunk - args[0].shape[0]
        args = [np.concatenate([a, np.repeat(a[:1], pad, 0)]) if pad else a for a in args]
        out = one(*args)
        parts.append({k: np.asarray(v)[: chunk - pad] for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]).astype(np.float32) for k in parts[0]}


def dihedral(arr: np.ndarray, code: int) -> np.ndarray:
    """Apply dihedral transform ``code`` (bit 2: flip columns; bits 0-1: quarter turns) to [H, W, ...]."""
    if code & 4:
        arr = arr[:, ::-1]
    return np.rot90(arr, code & 3, axes=(0, 1))


def dihedral_angle_maps(cos2: np.ndarray, sin2: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    """cos 2θ, sin 2θ values after :func:`dihedral` ``code`` (flip: θ → -θ; quarter turn: θ → θ - π/2)."""
    if code & 4:
        sin2 = -sin2
    if (code & 3) % 2:
        cos2, sin2 = -cos2, -sin2
    return cos2, sin2


class GraspRldsSource(SamplerState):
    """DataSource over a labelled grasp dataset (see the module docstring)."""

    def __init__(
        self,
        cfg: GraspRldsConfig,
        *,
        global_batch_size: int,
        process_index: int = 0,
        process_count: int = 1,
        seed: int = 0,
    ):
        self.cfg = cfg
        self.path = resolve_dataset(cfg)
        self.scenes = load_scenes(self.path, cfg.split)
        self.targets = grasp_targets(self.scenes, cfg.max_width, cfg.jaw_px, cfg.quality)
        self.seed = seed
        n = self.scenes["observation/depth"].shape[0]
        self.sampler = IndexSampler(
            n, global_batch_size, seed=seed, process_index=process_index, process_count=process_count
        )

    def __len__(self) -> int:
        return int(self.scenes["observation/depth"].shape[0])

    def _hashes(self, position: int, count: int) -> np.ndarray:
        x = np.uint64(self.seed * 0x9E3779B97F4A7C15 % (1 << 64)) + np.arange(
            position, position + count, dtype=np.uint64
        )
        return _mix64(x)

    def __next__(self) -> dict[str, np.ndarray]:
        position = self.sampler.position
        idx = self.sampler.next_local()
        sl = self.sampler.local_slice()
        hashes = self._hashes(position, self.sampler.global_batch_size)[sl]
        return self.batch_for(idx, hashes)

    def batch_for(self, idx: np.ndarray, hashes: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Batch of scenes ``idx``; ``hashes`` (uint64 per example) pick the augmentation and crop."""
        hashes = np.zeros(len(idx), np.uint64) if hashes is None else hashes
        h, w = self.scenes["observation/depth"].shape[1:3]
        crop = self.cfg.crop or min(h, w)
        depth, rgb, maps = [], [], {k: [] for k in ("quality", "cos2", "sin2", "width")}
        for i, hsh in zip(idx, hashes, strict=True):
            hsh = int(hsh)
            c = hsh % 8 if self.cfg.augment else 0
            r0 = (hsh >> 3) % (h - crop + 1)
            c0 = (hsh >> 20) % (w - crop + 1)
            win = (slice(r0, r0 + crop), slice(c0, c0 + crop))
            i = (i,) + win
            depth.append(dihedral(self.scenes["observation/depth"][i], c))
            if self.cfg.use_rgb:
                rgb.append(dihedral(self.scenes["observation/rgb"][i], c))
            cos2, sin2 = dihedral_angle_maps(
                dihedral(self.targets["cos2"][i], c), dihedral(self.targets["sin2"][i], c), c
            )
            maps["cos2"].append(cos2)
            maps["sin2"].append(sin2)
            maps["quality"].append(dihedral(self.targets["quality"][i], c))
            maps["width"].append(dihedral(self.targets["width"][i], c))
        batch = {"observation/depth": np.stack(depth)[..., None].astype(np.float32)}
        if self.cfg.use_rgb:
            batch["observation/rgb"] = np.stack(rgb).astype(np.uint8)
        for k, v in maps.items():
            batch[f"grasp/{k}"] = np.ascontiguousarray(np.stack(v), dtype=np.float32)
        return batch

    def stats(self) -> dict[str, Any]:
        s = self.scenes
        return {
            "scenes": len(self),
            "grasps": int(s["grasp/success"].size),
            "success_rate": float(s["grasp/success"].mean()),
            "categories": sorted(set(self.scenes["category"].tolist())),
        }

    def spec(self) -> dict[str, Any]:
        example = self.batch_for(np.zeros(1, np.int64))
        return {
            "dataset": self.path,
            "split": self.cfg.split,
            "max_width": self.cfg.max_width,
            "camera_intrinsics": np.asarray(self.scenes["episode_metadata/camera_intrinsics"][0]).tolist(),
            "camera_pose": np.asarray(self.scenes["episode_metadata/camera_pose"][0]).tolist(),
            "image_size": list(self.scenes["observation/depth"].shape[1:3]),
            "features": {k: {"shape": list(v.shape[1:]), "dtype": str(v.dtype)} for k, v in example.items()},
        }
