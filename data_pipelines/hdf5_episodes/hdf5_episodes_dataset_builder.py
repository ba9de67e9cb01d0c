"""ALOHA/ACT-style HDF5 episodes → RLDS (see README.md). Thin: reading here, writing in the library."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from data_pipelines.common import FLAG_FEATURES, rlds_flags, write_episodes
from jaxrobot.data.base import DataError

VERSION = "1.0.0"


def episode_files(in_dir: str) -> list[str]:
    files = sorted(glob.glob(os.path.join(in_dir, "*.hdf5")) + glob.glob(os.path.join(in_dir, "*.h5")))
    if not files:
        raise DataError(f"{in_dir}: no *.hdf5 / *.h5 episode files")
    return files


def read_episode(path: str) -> dict[str, np.ndarray]:
    """One HDF5 file as ``{"qpos", "qvel"?, "action", "images/<cam>"}`` arrays (checked)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 file ({e})") from None
    with f:
        out: dict[str, np.ndarray] = {}
        for key, src in (("qpos", "observations/qpos"), ("action", "action")):
            if src not in f:
                raise DataError(f"{path}: missing /{src}; top-level keys: {sorted(f.keys())}")
            out[key] = np.asarray(f[src], np.float32)
        if "observations/qvel" in f:
            out["qvel"] = np.asarray(f["observations/qvel"], np.float32)
        if "observations/images" in f:
            for cam in sorted(f["observations/images"].keys()):
                img = np.asarray(f[f"observations/images/{cam}"])
                if img.dtype != np.uint8 or img.ndim != 4 or img.shape[-1] != 3:
                    raise DataError(f"{path}: /observations/images/{cam} has shape {img.shape} dtype {img.dtype}; "
                                    "expected uint8 [T, H, W, 3] (decompress JPEG-compressed recordings first)")
                out[f"images/{cam}"] = img
    T = len(out["action"])
    for k, v in out.items():
        if len(v) != T:
            raise DataError(f"{path}: {k} has {len(v)} steps but /action has {T}")
    if T == 0:
        raise DataError(f"{path}: empty episode")
    return out


def features(in_dir: str) -> dict[str, dict]:
    """Flat feature spec from the first file (TFDS ``_info``): every file must match it."""
    ep = read_episode(episode_files(in_dir)[0])
    spec = {"steps/observation/qpos": {"shape": [None, ep["qpos"].shape[1]], "dtype": "float32"},
            "steps/action": {"shape": [None, ep["action"].shape[1]], "dtype": "float32"},
            "steps/language_instruction": {"shape": [None], "dtype": "string", "encoding": "text"},
            "episode_metadata/file_path": {"shape": [], "dtype": "string", "encoding": "text"},
            **FLAG_FEATURES}
    if "qvel" in ep:
        spec["steps/observation/qvel"] = {"shape": [None, ep["qvel"].shape[1]], "dtype": "float32"}
    for k, v in ep.items():
        if k.startswith("images/"):
            spec[f"steps/observation/{k}"] = {"shape": [None, *v.shape[1:]], "dtype": "uint8", "encoding": "jpeg"}
    return spec


def split_generators(in_dir: str) -> dict[str, list[str]]:
    return {"train": episode_files(in_dir)}


def generate_examples(files: list[str], spec: dict[str, dict], instruction: str = "") -> Iterator[tuple[str, dict]]:
    for path in files:
        ep = read_episode(path)
        T = len(ep["action"])
        out: dict[str, Any] = {f"steps/observation/{k}" if k != "action" else "steps/action": v
                               for k, v in ep.items()}
        missing = sorted(set(k for k in spec if k.startswith("steps/observation/")) - set(out))
        extra = sorted(set(out) - set(spec))
        if missing or extra:
            raise DataError(f"{path}: keys differ from the first episode (missing {missing}, extra {extra})")
        lang = np.empty(T, object)
        lang[:] = [instruction.encode()] * T
        out.update(rlds_flags(T))
        out["steps/language_instruction"] = lang
        out["episode_metadata/file_path"] = os.path.abspath(path).encode()
        yield os.path.basename(path), out


def convert(in_dir: str, out_dir: str, *, name: str = "aloha", split: str = "train", instruction: str = "") -> str:
    spec = features(in_dir)
    files = split_generators(in_dir)["train"]
    return write_episodes(out_dir, name, (ep for _, ep in generate_examples(files, spec, instruction)), spec,
                          split=split, version=VERSION)
