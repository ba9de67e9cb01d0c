"""Summaries of a LeRobot dataset for ``jaxrobot data inspect`` and ``jaxrobot data stats``, in the same JSON
layout as the RLDS ones (:mod:`jaxrobot.data.rlds.inspect`): one split, ``train``, holding every episode."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxrobot.data import normalize as norm
from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.keys import to_rlds_key
from jaxrobot.data.lerobot.meta import BOOKKEEPING, CAMERA_DTYPES, camera_hw
from jaxrobot.data.lerobot.reader import LeRobotDataset

SPLIT = "train"
_MAX_INSTRUCTIONS = 8


def _check_split(path: str, split: str | None) -> None:
    if split not in (None, SPLIT):
        raise DataError(f"{path}: a LeRobot dataset has one split, {SPLIT!r} (asked for {split!r})")


def inspect(path: str, split: str | None = None) -> dict[str, Any]:
    """``{"format": "lerobot", "name", "version", "path", "splits": {"train": {"episodes", "steps"}},
    "episodes", "steps", "fps", "robot_type", "features": {key: {"shape", "dtype", "encoding"}},
    "missing_features": {}, "instruction_key": "task", "instructions", "tasks", "cameras"}``.

    Features keep their LeRobot names (per-step shapes lead with ``None``, cameras are ``uint8 [None, H, W,
    3]`` with encoding ``video`` or ``image``); ``rlds_key`` says what ``jaxrobot data convert lerobot`` calls
    each. Only metadata is read (no parquet row, no frame).
    """
    _check_split(path, split)
    ds = LeRobotDataset(path)
    features = {}
    for key, f in ds.features.items():
        if key in BOOKKEEPING:
            continue
        if f["dtype"] in CAMERA_DTYPES:
            entry = {"shape": [None, *camera_hw(key, f), 3], "dtype": "uint8", "encoding": f["dtype"]}
            codec = (f.get("info") or f.get("video_info") or {}).get("video.codec")
            if codec:
                entry["codec"] = codec
        else:
            shape = [int(d) for d in f["shape"]]
            entry = {"shape": [None] + ([] if shape == [1] else shape), "dtype": f["dtype"],
                     "encoding": "scalar" if shape == [1] else "tensor"}
        entry["rlds_key"] = to_rlds_key(key, f)
        features[key] = entry
    steps = ds.total_frames
    return {"format": "lerobot", "name": ds.name, "version": ds.version, "path": str(ds.root),
            "splits": {SPLIT: {"episodes": len(ds), "steps": steps}}, "episodes": len(ds), "steps": steps,
            "fps": ds.fps, "robot_type": ds.info.get("robot_type"), "features": features, "missing_features": {},
            "instruction_key": "task", "instructions": list(ds.tasks[:_MAX_INSTRUCTIONS]), "tasks": list(ds.tasks),
            "cameras": ds.camera_keys}


def stats(path: str, split: str | None = None, *, use_cache: bool = True,
          state_key: str = "observation.state", action_key: str = "action") -> dict[str, Any]:
    """Statistics of the stored ``action`` and ``observation.state`` (as they are: no standardisation), in
    the layout of the RLDS ``jaxrobot data stats``: ``{"action": {"mean", "std", "min", "max", "q01",
    "q99", ...}, "state": {...}, "episodes", "steps", "skipped", "dataset"}``; cached per data files."""
    _check_split(path, split)
    ds = LeRobotDataset(path)
    for key, required in ((action_key, True), (state_key, False)):
        if key not in ds.value_keys and required:
            raise DataError(f"{path}: no {key!r} feature; number features: {ds.value_keys}")

    def compute():
        acts, states = norm.StatsAccumulator(), norm.StatsAccumulator()
        for i in range(len(ds)):
            cols = ds.columns(i)
            acts.add(cols[action_key].reshape(len(cols[action_key]), -1))
            if state_key in ds.value_keys:
                states.add(cols[state_key].reshape(len(cols[state_key]), -1))
        return {"action": acts.result(), "state": states.result(), "episodes": len(ds), "steps": ds.total_frames,
                "skipped": 0, "dataset": ds.name, "format": "lerobot"}

    key = {"lerobot": os.path.abspath(path), "state": state_key, "action": action_key}
    return norm.cached_stats(ds.fingerprint(), key, compute, name=f"lerobot-{ds.name}", use_cache=use_cache)


def contact_sheet(path: str, out_png: str, episodes: int = 4, frames: int = 6, *, tile: int = 96) -> str:
    """A PNG grid: one row per episode (spread over the dataset) with its task, for each camera ``frames``
    frames spread over the episode. Returns ``out_png``."""
    from PIL import Image, ImageDraw

    ds = LeRobotDataset(path)
    cams = ds.camera_keys
    if not cams:
        raise DataError(f"{path}: no camera features to draw")
    picks = sorted({int(round(x)) for x in np.linspace(0, len(ds) - 1, min(episodes, len(ds)))})
    pad, caption, header = 4, 16, 16
    block = frames * (tile + pad) + pad
    sheet = Image.new("RGB", (pad + len(cams) * block, header + len(picks) * (caption + tile + pad) + pad),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, cam in enumerate(cams):
        draw.text((pad + c * block, 2), cam, fill=(0, 0, 0))
    for r, i in enumerate(picks):
        y = header + r * (caption + tile + pad)
        draw.text((pad, y + 2), f"episode {i}: {ds.task_strings(i)[0]}"[:200], fill=(0, 0, 0))
        steps = np.unique(np.linspace(0, ds.lengths[i] - 1, frames).round().astype(int))
        for c, cam in enumerate(cams):
            for j, img in enumerate(ds.frames(i, cam, steps)):
                h, w = img.shape[:2]
                scale = tile / max(h, w)
                pil = Image.fromarray(img).resize((max(1, round(w * scale)), max(1, round(h * scale))))
                sheet.paste(pil, (pad + c * block + j * (tile + pad), y + caption))
    if os.path.dirname(out_png):
        os.makedirs(os.path.dirname(out_png), exist_ok=True)
    sheet.save(out_png, format="PNG")
    return out_png
