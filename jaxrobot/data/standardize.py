"""Turn one raw RLDS episode (a flat dict of numpy arrays) into jaxrobot's standard layout.

``standardize(episode, entry)`` returns::

    {"state":  float32 [T, S],          # entry.state_keys concatenated (S = 0 without proprioception)
     "action": float32 [T, A],          # entry.action_keys concatenated, every step kept by default
     "images": {cam: uint8 [T, H, W, 3] RGB | object [T] encoded bytes | None (padded view)},
     "language": str | None,            # instruction of the first step
     "language_embedding": float32 [T, D] | None,
     "is_first": bool [T],
     "length": T,
     "bgr": bool}                       # encoded frames hold BGR pixels (decode with bgr=True)

Images stay encoded (and padded views are ``None``) unless ``decode_images=True``, so the training
source decodes only the frames a batch needs. Bad data raises :class:`DataError` naming the dataset,
the episode and the problem; a missing key lists the keys that exist.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.datasets import DatasetEntry, parse_key

Episode = dict[str, Any]


def _where(entry: DatasetEntry, episode_id: Any) -> str:
    return f"dataset {entry.name!r} episode {episode_id}"


def _get(episode: Episode, spec: str, entry: DatasetEntry, episode_id: Any) -> np.ndarray:
    key, sl = parse_key(spec)
    if key not in episode:
        steps = sorted(k for k in episode if k.startswith("steps/"))
        raise DataError(f"{_where(entry, episode_id)}: missing key {key!r}; keys that exist: {steps}")
    value = np.asarray(episode[key])
    if value.dtype.kind in "fiub" and value.ndim == 1:
        value = value[:, None]  # scalar per step -> one dim
    return value[..., sl] if sl != slice(None) else value


def camera_keys(entry: DatasetEntry, keys) -> list[tuple[str, str | None]]:
    """The entry's (camera name, flat key or None) list, discovering cameras when it has none."""
    if entry.cameras:
        if entry.optional_cameras:
            keys = set(keys)
            return [(c, k if k in keys else None) for c, k in entry.cameras]
        return list(entry.cameras)
    found = sorted(k for k in keys if k.startswith(entry.camera_prefix))
    return [(k[len(entry.camera_prefix):], k) for k in found]


def _vector(episode: Episode, specs, entry, episode_id, what: str) -> np.ndarray:
    parts = [_get(episode, s, entry, episode_id) for s in specs]
    lengths = {p.shape[0] for p in parts}
    if len(lengths) > 1:
        raise DataError(f"{_where(entry, episode_id)}: {what} keys {list(specs)} have different step counts "
                        f"{[p.shape[0] for p in parts]}")
    for s, p in zip(specs, parts, strict=True):
        if p.ndim != 2 or p.dtype.kind not in "fiub":
            raise DataError(f"{_where(entry, episode_id)}: {what} key {s!r} has shape {p.shape} dtype {p.dtype}; "
                            "expected numbers [T, D]")
    return np.concatenate([p.astype(np.float32) for p in parts], axis=-1)


def standardize(episode: Episode, entry: DatasetEntry, *, episode_id: Any = "?",
                decode_images: bool = False) -> dict[str, Any]:
    """Standardise one episode per ``entry`` (see the module docstring for the output layout)."""
    action = _vector(episode, entry.action_keys, entry, episode_id, "action")
    t = action.shape[0]
    if t == 0:
        raise DataError(f"{_where(entry, episode_id)}: empty episode (0 steps)")
    if entry.state_keys:
        state = _vector(episode, entry.state_keys, entry, episode_id, "state")
    else:
        state = np.zeros((t, 0), np.float32)
    for what, arr, dim in (("action", action, entry.action_dim), ("state", state, entry.state_dim)):
        if arr.shape[0] != t:
            raise DataError(f"{_where(entry, episode_id)}: {what} has {arr.shape[0]} steps, action has {t}")
        if dim and arr.shape[1] != dim:
            raise DataError(f"{_where(entry, episode_id)}: {what} has {arr.shape[1]} dims, entry expects {dim}")
        bad = ~np.isfinite(arr)
        if bad.any():
            step, d = np.argwhere(bad)[0]
            raise DataError(f"{_where(entry, episode_id)}: {int(bad.sum())} NaN/Inf values in {what} "
                            f"(first at step {step}, dim {d})")

    images: dict[str, Any] = {}
    shape = None
    for cam, key in camera_keys(entry, episode.keys()):
        if key is None:
            images[cam] = None
            continue
        frames = _get(episode, key, entry, episode_id)
        if frames.shape[0] != t:
            raise DataError(f"{_where(entry, episode_id)}: camera {cam!r} ({key}) has {frames.shape[0]} frames, "
                            f"action has {t} steps")
        if frames.dtype == object:
            if decode_images:
                from jaxrobot.data.transforms import decode_image

                decoded = []
                for step, f in enumerate(frames):
                    try:
                        decoded.append(decode_image(f, bgr=entry.channel_order == "bgr"))
                    except DataError as e:
                        raise DataError(f"{_where(entry, episode_id)}: camera {cam!r} ({key}) step {step}: {e}") from e
                frames = np.stack(decoded)
        elif frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DataError(f"{_where(entry, episode_id)}: camera {cam!r} ({key}) has shape {frames.shape} "
                            f"dtype {frames.dtype}; expected uint8 [T, H, W, 3] or encoded frames")
        elif entry.channel_order == "bgr":
            frames = frames[..., ::-1]
        if frames.dtype == np.uint8:
            shape = frames.shape
        images[cam] = frames
    if decode_images:
        for cam, frames in images.items():
            if frames is None:
                images[cam] = np.zeros(shape if shape is not None else (t, 64, 64, 3), np.uint8)

    language = None
    if entry.language_key and entry.language_key in episode:
        raw = np.asarray(episode[entry.language_key]).reshape(-1)
        if raw.size:
            language = raw[0].decode("utf-8") if isinstance(raw[0], bytes) else str(raw[0])
    embedding = None
    if entry.language_embedding_key and entry.language_embedding_key in episode:
        embedding = np.asarray(episode[entry.language_embedding_key], np.float32).reshape(t, -1)
    is_first = np.zeros(t, bool)
    is_first[0] = True  # by construction: one record is one episode (never trust stored flags)

    out = {"state": state, "action": action, "images": images, "language": language,
           "language_embedding": embedding, "is_first": is_first, "length": t,
           "bgr": entry.channel_order == "bgr" and not decode_images}
    return _apply_options(out, entry, episode_id)


def _apply_options(ep: dict[str, Any], entry: DatasetEntry, episode_id: Any) -> dict[str, Any]:
    if entry.drop_first_step:
        if ep["length"] < 2:
            raise DataError(f"{_where(entry, episode_id)}: drop_first_step leaves an empty episode")
        ep["state"], ep["action"] = ep["state"][1:], ep["action"][1:]
        ep["images"] = {c: (None if f is None else f[1:]) for c, f in ep["images"].items()}
        if ep["language_embedding"] is not None:
            ep["language_embedding"] = ep["language_embedding"][1:]
        ep["length"] -= 1
        ep["is_first"] = ep["is_first"][1:].copy()
        ep["is_first"][0] = True
    dims = list(entry.gripper_dims)
    if entry.gripper_convention != "none" and (entry.gripper_to_open_is_1 or entry.binarize_gripper):
        act = ep["action"].copy()
        g = act[:, dims]
        if entry.gripper_to_open_is_1:
            if entry.gripper_convention == "close_is_1":
                g = 1.0 - g
            elif entry.gripper_convention == "relative_pm1":
                g = (1.0 - np.clip(g, -1, 1)) / 2.0
        if entry.binarize_gripper:
            relative = entry.gripper_convention == "relative_pm1" and not entry.gripper_to_open_is_1
            g = (g > (0.0 if relative else 0.5)).astype(np.float32)
        act[:, dims] = g
        ep["action"] = act
    return ep
