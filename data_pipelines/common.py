"""Shared by the converters: write flat episodes as an RLDS dataset, atomically.

Episodes are flat dicts: ``steps/...`` arrays with a leading step axis and ``episode_metadata/...``
scalars. The feature spec is flat too: ``{key: {"shape": [...], "dtype": str, "encoding": ...}}`` (the
format of :mod:`jaxrobot.data.rlds.features`). Uses ``jaxrobot.data.rlds.writer.write_rlds`` (TF-free,
atomic) when the installed jaxrobot has it, else tfds's ``SequentialWriter`` into a temporary folder renamed at the end,
so a crash never leaves a folder that looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

import numpy as np


def write_episodes(out_dir: str, name: str, episodes: Iterable[dict[str, Any]], features: dict[str, dict],
                   *, split: str = "train", version: str = "1.0.0") -> str:
    """Write ``episodes`` under ``out_dir/<name>/<version>``; returns that folder."""
    write_rlds = None
    if os.environ.get("JAXROBOT_RLDS_FALLBACK") != "1":
        try:
            from jaxrobot.data.rlds.writer import write_rlds
        except ImportError:
            write_rlds = None
    if write_rlds is not None:
        return write_rlds(out_dir, name, episodes, features=features, split=split, version=version,
                          progress=False)
    return _write_with_tfds(out_dir, name, episodes, features, split, version)


def _tfds_feature(spec: dict):
    import tensorflow_datasets as tfds

    F = tfds.features
    shape = [d for d in spec["shape"]]
    item = tuple(shape[1:]) if shape and shape[0] is None else tuple(shape)
    enc, dtype = spec.get("encoding"), spec["dtype"]
    if dtype == "string" or enc == "text":
        return F.Text()
    if enc in ("jpeg", "png") or (dtype == "uint8" and len(item) == 3 and enc is None):
        return F.Image(shape=item, encoding_format=enc or "jpeg")
    if not item:
        return F.Scalar(dtype=np.dtype(dtype))
    return F.Tensor(shape=item, dtype=np.dtype(dtype))


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        d = out
        *parents, leaf = key.split("/")
        for p in parents:
            d = d.setdefault(p, {})
        d[leaf] = value
    return out


def _write_with_tfds(out_dir, name, episodes, features, split, version) -> str:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow_datasets as tfds

    steps_spec = {k[len("steps/"):]: _tfds_feature(v) for k, v in features.items() if k.startswith("steps/")}
    meta_spec = {k[len("episode_metadata/"):]: _tfds_feature(v) for k, v in features.items()
                 if k.startswith("episode_metadata/")}
    feats = {"steps": tfds.features.Dataset(_nest(steps_spec))}
    if meta_spec:
        feats["episode_metadata"] = _nest(meta_spec)
    final = os.path.join(out_dir, name, version)
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; remove it or choose another --out")
    os.makedirs(out_dir, exist_ok=True)
    tmp_root = tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir)
    tmp = os.path.join(tmp_root, version)
    os.makedirs(tmp)
    try:
        info = tfds.core.DatasetInfo(
            builder=tfds.core.DatasetIdentity(name=name, version=tfds.core.Version(version), data_dir=tmp,
                                              module_name=f"data_pipelines.{name}"),
            features=tfds.features.FeaturesDict(feats))
        writer = tfds.core.SequentialWriter(info, max_examples_per_shard=1000, file_format="tfrecord")
        writer.initialize_splits([split])
        n = 0
        for ep in episodes:
            T = len(next(v for k, v in ep.items() if k.startswith("steps/")))
            steps = [_nest({k[len("steps/"):]: v[t] for k, v in ep.items() if k.startswith("steps/")})
                     for t in range(T)]
            example = {"steps": steps}
            if meta_spec:
                example["episode_metadata"] = _nest({k[len("episode_metadata/"):]: v for k, v in ep.items()
                                                     if k.startswith("episode_metadata/")})
            writer.add_examples({split: [example]})
            n += 1
        writer.close_all()
        if n == 0:
            raise ValueError("no episodes to write")
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return final


def rlds_flags(T: int) -> dict[str, np.ndarray]:
    """Standard per-step RLDS fields for a demo of ``T`` steps (terminal at the end)."""
    last = np.arange(T) == T - 1
    return {"steps/is_first": np.arange(T) == 0, "steps/is_last": last, "steps/is_terminal": last,
            "steps/reward": last.astype(np.float32), "steps/discount": np.ones(T, np.float32)}


FLAG_FEATURES = {"steps/is_first": {"shape": [None], "dtype": "bool", "encoding": "scalar"},
                 "steps/is_last": {"shape": [None], "dtype": "bool", "encoding": "scalar"},
                 "steps/is_terminal": {"shape": [None], "dtype": "bool", "encoding": "scalar"},
                 "steps/reward": {"shape": [None], "dtype": "float32", "encoding": "scalar"},
                 "steps/discount": {"shape": [None], "dtype": "float32", "encoding": "scalar"}}
