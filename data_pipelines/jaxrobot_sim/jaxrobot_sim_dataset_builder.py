"""jaxrobot simulation demos → RLDS (layout in ``jaxrobot/data/datasets/jaxrobot_sim.py``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from data_pipelines.common import FLAG_FEATURES, rlds_flags, write_episodes
from jaxrobot.data.base import DataError

VERSION = "1.0.0"


def features(example: dict[str, Any]) -> dict[str, dict]:
    """Flat feature spec from one demo dict (``state``, ``action``, ``image_<cam>``...)."""
    spec = {"steps/observation/state": {"shape": [None, np.shape(example["state"])[1]], "dtype": "float32"},
            "steps/action": {"shape": [None, np.shape(example["action"])[1]], "dtype": "float32"},
            "steps/language_instruction": {"shape": [None], "dtype": "string", "encoding": "text"},
            "episode_metadata/success": {"shape": [], "dtype": "bool", "encoding": "scalar"},
            "episode_metadata/env": {"shape": [], "dtype": "string", "encoding": "text"},
            "episode_metadata/seed": {"shape": [], "dtype": "int64", "encoding": "scalar"},
            **FLAG_FEATURES}
    for k, v in example.items():
        if k.startswith("image_"):
            spec[f"steps/observation/{k}"] = {"shape": [None, *np.shape(v)[1:]], "dtype": "uint8", "encoding": "jpeg"}
    return spec


def to_rlds_episode(demo: dict[str, Any]) -> dict[str, Any]:
    for k in ("state", "action"):
        if k not in demo:
            raise DataError(f"sim demo: missing {k!r}; keys: {sorted(demo)}")
    T = len(demo["action"])
    lang = np.empty(T, object)
    lang[:] = [str(demo.get("language", "")).encode()] * T
    out = {"steps/observation/state": np.asarray(demo["state"], np.float32),
           "steps/action": np.asarray(demo["action"], np.float32), "steps/language_instruction": lang,
           "episode_metadata/success": bool(demo.get("success", False)),
           "episode_metadata/env": str(demo.get("env", "")).encode(),
           "episode_metadata/seed": np.int64(demo.get("seed", 0)), **rlds_flags(T)}
    for k, v in demo.items():
        if k.startswith("image_"):
            out[f"steps/observation/{k}"] = np.asarray(v, np.uint8)
    return out


def split_generators(in_dir: str) -> dict[str, list[str]]:
    files = sorted(glob.glob(os.path.join(in_dir, "*.npz")))
    if not files:
        raise DataError(f"{in_dir}: no *.npz demo files")
    return {"train": files}


def generate_examples(files: list[str]) -> Iterator[tuple[str, dict]]:
    for path in files:
        with np.load(path, allow_pickle=False) as z:
            demo = {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}
        yield os.path.basename(path), demo


def write_demos(demos: Iterable[dict[str, Any]], out_dir: str, *, split: str = "train") -> str:
    """What the simulation package calls: demo dicts in memory → ``out_dir/jaxrobot_sim/1.0.0``."""
    it = iter(demos)
    first = next(it, None)
    if first is None:
        raise DataError("no demos to write")
    spec = features(first)

    def all_eps():
        yield to_rlds_episode(first)
        for d in it:
            yield to_rlds_episode(d)

    return write_episodes(out_dir, "jaxrobot_sim", all_eps(), spec, split=split, version=VERSION)


def convert(in_dir: str, out_dir: str, *, split: str = "train") -> str:
    files = split_generators(in_dir)["train"]
    return write_demos((d for _, d in generate_examples(files)), out_dir, split=split)
