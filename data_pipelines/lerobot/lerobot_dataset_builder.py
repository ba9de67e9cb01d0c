"""LeRobot datasets (v3.0, v2.1, v2.0) → RLDS (see README.md). Reading in ``jaxrobot.data.lerobot``, writing
with ``jaxrobot.data.rlds.write_rlds``; the feature names follow ``jaxrobot.data.lerobot.keys``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from data_pipelines.common import FLAG_FEATURES, rlds_flags
from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.keys import LANGUAGE_KEY, METADATA_KEY, to_rlds_key
from jaxrobot.data.lerobot.meta import BOOKKEEPING, CAMERA_DTYPES, camera_hw
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.rlds.writer import write_rlds

VERSION = "1.0.0"


def dataset_name(in_dir: str) -> str:
    """A TFDS dataset name from the dataset folder's name (letters, digits and ``_``, starting with a letter)."""
    name = re.sub(r"\W+", "_", Path(in_dir).resolve().name).strip("_").lower()
    return name if name[:1].isalpha() else f"lerobot_{name}"


def features(ds: LeRobotDataset, image_format: str = "jpeg") -> tuple[dict[str, dict], dict[str, str]]:
    """The flat RLDS spec (TFDS ``_info``) and the LeRobot → RLDS key map of every converted feature."""
    spec: dict[str, dict] = {LANGUAGE_KEY: {"shape": [None], "dtype": "string", "encoding": "text"},
                             "episode_metadata/episode_index": {"shape": [], "dtype": "int64", "encoding": "scalar"},
                             **FLAG_FEATURES}
    keys: dict[str, str] = {}
    for key, f in ds.features.items():
        if key in BOOKKEEPING or f["dtype"] == "string":
            continue
        rkey = to_rlds_key(key, f)
        if f["dtype"] in CAMERA_DTYPES:
            spec[rkey] = {"shape": [None, *camera_hw(key, f), 3], "dtype": "uint8", "encoding": image_format}
        else:
            shape = [int(d) for d in f["shape"]]
            if rkey in FLAG_FEATURES and shape != [1]:
                raise DataError(f"{ds.root}: feature {key!r} has shape {shape}; it maps to {rkey}, a scalar per step")
            dtype = FLAG_FEATURES[rkey]["dtype"] if rkey in FLAG_FEATURES else f["dtype"]
            spec[rkey] = {"shape": [None] + ([] if shape == [1] else shape), "dtype": dtype}
        keys[key] = rkey
    return spec, keys


def split_generators(ds: LeRobotDataset) -> dict[str, range]:
    """LeRobot datasets have one split, ``train``: every episode."""
    return {"train": range(len(ds))}


def generate_examples(ds: LeRobotDataset, episodes, spec: dict[str, dict],
                      keys: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i in episodes:
        ep = ds.episode(i)
        length = int(ds.lengths[i])
        out: dict[str, Any] = dict(rlds_flags(length))
        for key, rkey in keys.items():
            v = ep[key]
            if ds.features[key]["dtype"] not in CAMERA_DTYPES:
                v = v.reshape((length,) + tuple(spec[rkey]["shape"][1:])).astype(spec[rkey]["dtype"])
            out[rkey] = v
        lang = np.empty(length, object)
        lang[:] = [t.encode() for t in ep["task"]]
        out[LANGUAGE_KEY] = lang
        out["episode_metadata/episode_index"] = np.int64(i)
        yield f"episode_{i:06d}", out


def convert(in_dir: str, out_dir: str, *, name: str | None = None, image_format: str = "jpeg",
            overwrite: bool = False) -> str:
    """Convert the LeRobot dataset at ``in_dir`` to ``out_dir/<name>/1.0.0`` and return that folder."""
    if image_format not in ("jpeg", "png"):
        raise DataError(f"image format {image_format!r}: use jpeg or png")
    ds = LeRobotDataset(in_dir)
    spec, keys = features(ds, image_format)
    user_features = {k: {kk: vv for kk, vv in f.items() if kk != "info"} for k, f in ds.features.items()
                     if k in keys}
    record = {"codebase_version": ds.version, "fps": ds.fps, "robot_type": ds.info.get("robot_type"),
              "features": user_features, "keys": keys, "order": list(keys), "tasks": list(ds.tasks),
              "source": str(ds.root.resolve())}
    episodes = split_generators(ds)["train"]
    return write_rlds(out_dir, name or dataset_name(in_dir),
                      (ep for _, ep in generate_examples(ds, episodes, spec, keys)), features=spec, split="train",
                      version=VERSION, progress=False, overwrite=overwrite,
                      description=f"LeRobot dataset {ds.root.name} ({ds.version}, {ds.fps:g} fps), converted by "
                                  "jaxrobot", metadata={METADATA_KEY: record})
