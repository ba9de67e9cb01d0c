"""RLDS → LeRobotDataset v3.0 (``jaxrobot data convert rlds-to-lerobot``).

Every per-step number feature and every camera of the RLDS dataset becomes a LeRobot feature (names by
:mod:`jaxrobot.data.lerobot.keys`, or exactly as they were when the RLDS dataset was converted from LeRobot,
whose record in ``metadata.json`` also gives fps, robot type and the LeRobot feature table); the per-step
language instruction becomes the frame's task. Numbers are copied unchanged (float32 stays bit-exact);
frames are decoded from JPEG/PNG and encoded to MP4 (SVT-AV1 by default), so they carry the codec's error.
RLDS-only bookkeeping (``is_first``, ``is_last``, ``discount``) and ``episode_metadata`` are not kept:
LeRobot has no place for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.keys import LANGUAGE_KEY, METADATA_KEY, to_lerobot_key
from jaxrobot.data.lerobot.writer import write_lerobot
from jaxrobot.data.rlds.features import IMAGE_ENCODINGS
from jaxrobot.data.rlds.reader import RldsDataset


def _fps(ds: RldsDataset, record: dict, fps: float | None) -> float:
    if fps:
        return float(fps)
    if record.get("fps"):
        return float(record["fps"])
    made = ds.metadata.get("jaxrobot_sim") or {}  # demos record their env config: one control step = ctrl_dt
    dt = (made.get("config") or {}).get("ctrl_dt") if isinstance(made.get("config"), dict) else None
    if dt:
        hz = 1.0 / float(dt)
        return float(round(hz)) if abs(hz - round(hz)) < 1e-6 else hz
    from jaxrobot.data.datasets import get_entry

    try:
        return float(get_entry(ds.name).control_hz)
    except Exception:  # unknown dataset name: no registry entry to take the control rate from
        raise DataError(f"{ds.path}: cannot tell the frame rate of {ds.name!r}; pass --fps") from None


def plan(ds: RldsDataset, record: dict) -> tuple[dict[str, dict], dict[str, str], str | None]:
    """``(LeRobot features, {RLDS key: LeRobot key}, language key or None)`` for an RLDS dataset."""
    spec = ds.feature_spec()
    lang = LANGUAGE_KEY if LANGUAGE_KEY in spec else next(
        (k for k, v in spec.items() if v["encoding"] == "text" and k.startswith("steps/") and "instruction" in k),
        None)
    if record.get("keys"):
        order = record.get("order") or list(record["keys"])  # metadata.json sorts its keys: keep LeRobot's order
        back = {record["keys"][key]: key for key in order}
        missing = sorted(k for k in back if k not in spec)
        if missing:
            raise DataError(f"{ds.path}: metadata.json maps LeRobot features to {missing}, which the dataset lacks")
        feats = {key: {k: v for k, v in record["features"][key].items()} for key in back.values()}
        return feats, back, lang
    feats, back = {}, {}
    for rkey, f in spec.items():
        if not rkey.startswith("steps/") or f["encoding"] == "text":
            continue
        image = f["encoding"] in IMAGE_ENCODINGS
        key = to_lerobot_key(rkey, image=image)
        if key is None:
            continue
        item = [d for d in f["shape"][1:]]
        if image:
            if f["dtype"] != "uint8" or len(item) != 3 or item[2] != 3:
                continue  # depth maps and grey images are not LeRobot video features
            feats[key] = {"dtype": "video", "shape": item, "names": ["height", "width", "channels"]}
        else:
            if f["dtype"] == "string" or len(item) > 1:
                continue
            feats[key] = {"dtype": f["dtype"], "shape": item or [1], "names": None}
        if key in back.values():
            raise DataError(f"{ds.path}: RLDS keys {[k for k, v in back.items() if v == key] + [rkey]} both map "
                            f"to the LeRobot feature {key!r}")
        back[rkey] = key
    if not back:
        raise DataError(f"{ds.path}: no per-step number or camera features to convert")
    return feats, back, lang


def rlds_to_lerobot(rlds_path: str, out_dir: str, *, split: str | None = None, fps: float | None = None,
                    robot_type: str | None = None, codec: str = "libsvtav1", crf: int = 30, gop: int = 2,
                    overwrite: bool = False, max_episodes_per_file: int | None = None) -> str:
    """Convert the RLDS dataset folder ``rlds_path`` (all splits by default) to the LeRobot dataset ``out_dir``.

    ``fps`` defaults to the one recorded when the data came from LeRobot, else the control rate of jaxrobot's
    simulation demos (``1 / ctrl_dt`` of the env config they record) or of the dataset's registry entry;
    otherwise it must be given.
    """
    ds = RldsDataset(rlds_path, split)
    record = ds.metadata.get(METADATA_KEY) or {}
    feats, back, lang = plan(ds, record)
    rate = _fps(ds, record, fps)
    for key, f in feats.items():
        if f["dtype"] == "video" and None in f["shape"]:
            raise DataError(f"{rlds_path}: camera {key!r} has no fixed size in features.json ({f['shape']})")
    reader = RldsDataset(rlds_path, split, keys=list(back) + ([lang] if lang else []))

    def episodes():
        for i in range(len(reader)):
            ep = reader.episode(i)
            out: dict[str, Any] = {}
            length = None
            for rkey, key in back.items():
                v = np.asarray(ep[rkey])
                if feats[key]["dtype"] != "video":
                    v = v.reshape((len(v), *feats[key]["shape"]))
                out[key] = v
                length = len(v)
            if lang:
                out["task"] = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in ep[lang]]
            else:
                out["task"] = [""] * (length or 0)
            yield out

    info = {"source": {"format": "rlds", "path": str(Path(ds.path).resolve()), "name": ds.name,
                       "version": ds.version}}
    return write_lerobot(out_dir, episodes(), features=feats, fps=rate,
                         robot_type=robot_type or record.get("robot_type"), codec=codec, crf=crf, gop=gop,
                         overwrite=overwrite, max_episodes_per_file=max_episodes_per_file, extra_info=info)
