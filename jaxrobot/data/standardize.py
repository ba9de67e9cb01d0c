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

and with ``depth=True`` also ``"depth": {cam: float32 [T, H, W] | object [T] encoded | None}`` (the entry's
``depth_cameras``; PNG depth is decoded with ``decode_images=True``).

Images stay encoded (and padded views are ``None``) unless ``decode_images=True``, so the training
source decodes only the frames a batch needs. Bad data raises :class:`DataError` naming the dataset,
the episode and the problem; a missing key lists the keys that exist.

The entry's transforms run in this order: ``subsample``; gripper (``gripper_scale``, conversion to
"1 = open", binarisation) on the whole episode; ``relabel_action_from`` (drops the last step);
``drop_first_step``; ``action_quat_to_euler``. The order reproduces Octo's transforms where they combine
(Bridge binarises the gripper before relabelling; RPT resamples before relabelling).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.datasets import DatasetEntry, parse_key
from jaxrobot.data.datasets.entry import parse_constant

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
    parts: list[np.ndarray | None] = []
    for s in specs:
        parts.append(None if parse_constant(s) is not None else _get(episode, s, entry, episode_id))
    lengths = {p.shape[0] for p in parts if p is not None}
    if len(lengths) > 1:
        raise DataError(f"{_where(entry, episode_id)}: {what} keys {list(specs)} have different step counts "
                        f"{[p.shape[0] for p in parts if p is not None]}")
    if not lengths:
        raise DataError(f"{_where(entry, episode_id)}: {what} keys {list(specs)} name no dataset key")
    t = lengths.pop()
    out = []
    for s, p in zip(specs, parts, strict=True):
        if p is None:
            value, n = parse_constant(s)
            out.append(np.full((t, n), value, np.float32))
            continue
        if p.ndim != 2 or p.dtype.kind not in "fiub":
            raise DataError(f"{_where(entry, episode_id)}: {what} key {s!r} has shape {p.shape} dtype {p.dtype}; "
                            "expected numbers [T, D]")
        out.append(p.astype(np.float32))
    return np.concatenate(out, axis=-1)


def _check_finite(arr: np.ndarray, what: str, entry: DatasetEntry, episode_id: Any) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        step, d = np.argwhere(bad)[0]
        raise DataError(f"{_where(entry, episode_id)}: {int(bad.sum())} NaN/Inf values in {what} "
                        f"(first at step {step}, dim {d})")


def _language(raw: Any) -> str | None:
    """The first step's instruction: a string, or Unicode code points / UTF-8 bytes padded with zeros."""
    raw = np.asarray(raw)
    if raw.dtype.kind in "iu" and raw.ndim == 2:  # Language-Table: int32[512] per step
        row = raw[0]
        end = np.flatnonzero(row == 0)
        row = row[: end[0]] if len(end) else row
        if row.size and row.max() < 256:
            return bytes(row.astype(np.uint8)).decode("utf-8", errors="replace")
        return "".join(chr(int(c)) for c in row)
    raw = raw.reshape(-1)
    if not raw.size:
        return None
    return raw[0].decode("utf-8") if isinstance(raw[0], bytes) else str(raw[0])


def _decode_depth(data: Any) -> np.ndarray:
    """One encoded depth frame -> float32 [H, W]. A 4-channel 8-bit PNG is TFDS's float32 image (each pixel's
    four little-endian bytes as RGBA); other PNGs hold the depth value itself (uint16 for most OXE sets)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            arr = np.asarray(im)
    except Exception as e:  # noqa: BLE001 - PIL raises many types for bad data
        raise DataError(f"cannot decode depth image ({len(data)} bytes): {e}") from None
    if arr.ndim == 3 and arr.shape[-1] == 4 and arr.dtype == np.uint8:
        arr = np.ascontiguousarray(arr).view("<f4")[..., 0]
    elif arr.ndim == 3:
        arr = arr[..., 0]
    return arr.astype(np.float32)


def _depth_frames(frames: np.ndarray, decode: bool, cam: str, key: str, entry, episode_id) -> np.ndarray:
    if frames.dtype == object:
        if not decode:
            return frames
        try:
            return np.stack([_decode_depth(f) for f in frames])
        except DataError as e:
            raise DataError(f"{_where(entry, episode_id)}: depth camera {cam!r} ({key}): {e}") from e
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    if frames.ndim != 3 or frames.dtype.kind not in "fiu":
        raise DataError(f"{_where(entry, episode_id)}: depth camera {cam!r} ({key}) has shape {frames.shape} "
                        f"dtype {frames.dtype}; expected numbers [T, H, W(, 1)]")
    return frames.astype(np.float32)


def standardize(episode: Episode, entry: DatasetEntry, *, episode_id: Any = "?",
                decode_images: bool = False, depth: bool = False) -> dict[str, Any]:
    """Standardise one episode per ``entry`` (see the module docstring for the output layout)."""
    action = _vector(episode, entry.action_keys, entry, episode_id, "action")
    t = action.shape[0]
    if t == 0:
        raise DataError(f"{_where(entry, episode_id)}: empty episode (0 steps)")
    if entry.state_keys:
        state = _vector(episode, entry.state_keys, entry, episode_id, "state")
    else:
        state = np.zeros((t, 0), np.float32)
    for what, arr in (("action", action), ("state", state)):
        if arr.shape[0] != t:
            raise DataError(f"{_where(entry, episode_id)}: {what} has {arr.shape[0]} steps, action has {t}")
        _check_finite(arr, what, entry, episode_id)

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
    if entry.language_key and entry.language_key in episode and not entry.drop_language:
        language = _language(episode[entry.language_key])
    embedding = None
    if entry.language_embedding_key and entry.language_embedding_key in episode:
        embedding = np.asarray(episode[entry.language_embedding_key], np.float32).reshape(t, -1)
    is_first = np.zeros(t, bool)
    is_first[0] = True  # by construction: one record is one episode (never trust stored flags)

    out = {"state": state, "action": action, "images": images, "language": language,
           "language_embedding": embedding, "is_first": is_first, "length": t,
           "bgr": entry.channel_order == "bgr" and not decode_images}
    if depth:
        out["depth"] = {}
        for cam, key in entry.depth_cameras:
            if key is None or (entry.optional_cameras and key not in episode):
                out["depth"][cam] = None
                continue
            frames = np.asarray(episode[key]) if key in episode else _get(episode, key, entry, episode_id)
            out["depth"][cam] = _depth_frames(frames, decode_images, cam, key, entry, episode_id)
    relabel = None
    if entry.relabel_action_from is not None:
        relabel = _vector(episode, (entry.relabel_action_from,), entry, episode_id, "relabel_action_from")
    out = _apply_options(out, entry, episode_id, relabel)
    for what, dim in (("action", entry.action_dim), ("state", entry.state_dim)):
        if dim and out[what].shape[1] != dim:
            raise DataError(f"{_where(entry, episode_id)}: {what} has {out[what].shape[1]} dims, entry expects {dim}")
    return out


def _take_steps(ep: dict[str, Any], index) -> dict[str, Any]:
    """``ep`` with every per-step array indexed by ``index`` (a slice or an index array)."""
    ep["state"], ep["action"] = ep["state"][index], ep["action"][index]
    ep["images"] = {c: (None if f is None else f[index]) for c, f in ep["images"].items()}
    if "depth" in ep:
        ep["depth"] = {c: (None if f is None else f[index]) for c, f in ep["depth"].items()}
    if ep["language_embedding"] is not None:
        ep["language_embedding"] = ep["language_embedding"][index]
    ep["length"] = ep["action"].shape[0]
    ep["is_first"] = np.zeros(ep["length"], bool)
    if ep["length"]:
        ep["is_first"][0] = True
    return ep


def rel2abs_gripper(g: np.ndarray) -> np.ndarray:
    """Relative gripper commands (+1 close, -1 open, 0 keep; |g| <= 0.1 counts as keep) -> absolute state
    (1 open, 0 closed). Each command holds until the next; before the first command the gripper is in the
    opposite state (a close is assumed to start open), and an episode without any command is open throughout.
    Octo's ``rel2abs_gripper_actions`` (octo/data/utils/data_utils.py @ 241fb35) computes the same."""
    command = np.where(g < -0.1, 1.0, np.where(g > 0.1, -1.0, 0.0))  # +1 open, -1 close, 0 keep
    nonzero = np.flatnonzero(command)
    state = -command[nonzero[0]] if len(nonzero) else 1.0
    out = np.empty_like(g, dtype=np.float32)
    for i, c in enumerate(command):
        if c:
            state = c
        out[i] = state
    return out / 2 + 0.5


def binarize_hysteresis(g: np.ndarray) -> np.ndarray:
    """Gripper in [0, 1] -> {0, 1}: > 0.95 open, < 0.05 closed; a value in between takes the value decided at
    the next step that is decided (the episode's last raw value if none follows), as Octo's
    ``binarize_gripper_actions`` does for Bridge."""
    out = np.empty_like(g, dtype=np.float32)
    carry = float(g[-1])
    for i in range(len(g) - 1, -1, -1):
        if g[i] > 0.95:
            carry = 1.0
        elif g[i] < 0.05:
            carry = 0.0
        out[i] = carry
    return out


def quat_to_euler(q: np.ndarray) -> np.ndarray:
    """``(x, y, z, w)`` quaternions [..., 4] -> Euler angles [..., 3] (roll about x, pitch about y, yaw about
    z, with R = Rz(yaw) Ry(pitch) Rx(roll)), the convention of tensorflow_graphics' ``euler.from_quaternion``
    that Octo applies to FurnitureBench, IAM Lab and Playing-with-Food actions."""
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    x, y, z, w = np.moveaxis(q, -1, 0)
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.stack([roll, pitch, yaw], axis=-1).astype(np.float32)


_RANGE = {"open_is_1": (0.0, 1.0), "close_is_1": (0.0, 1.0), "pm1_open_is_1": (-1.0, 1.0),
          "pm1_close_is_1": (-1.0, 1.0), "relative_pm1": (-1.0, 1.0)}


def _gripper(g: np.ndarray, entry: DatasetEntry) -> np.ndarray:
    """The gripper columns ``g`` [T, k] after the entry's scale, conversion and binarisation."""
    g = g / entry.gripper_scale if entry.gripper_scale != 1.0 else g
    conv = entry.gripper_convention
    if entry.gripper_to_open_is_1:
        lo, hi = _RANGE[conv]
        if conv == "relative_pm1" and entry.integrate_relative_gripper:
            g = np.stack([rel2abs_gripper(c) for c in g.T], axis=-1)
        else:
            g = np.clip(g, lo, hi)
            g = {"open_is_1": g, "close_is_1": 1.0 - g, "pm1_open_is_1": (1.0 + g) / 2,
                 "pm1_close_is_1": (1.0 - g) / 2, "relative_pm1": (1.0 - g) / 2}[conv]
    if entry.binarize_gripper:
        relative = conv == "relative_pm1" and not entry.gripper_to_open_is_1
        if entry.binarize_mode == "hysteresis":
            g = np.stack([binarize_hysteresis(c) for c in g.T], axis=-1)
        else:
            g = g > (0.0 if relative else 0.5)
    return np.asarray(g, np.float32)


def _apply_options(ep: dict[str, Any], entry: DatasetEntry, episode_id: Any,
                   relabel: np.ndarray | None = None) -> dict[str, Any]:
    if entry.subsample > 1:
        ep = _take_steps(ep, slice(None, None, entry.subsample))
        relabel = None if relabel is None else relabel[:: entry.subsample]
    dims = list(entry.gripper_dims)
    if entry.gripper_convention != "none" and (entry.gripper_to_open_is_1 or entry.binarize_gripper
                                               or entry.gripper_scale != 1.0):
        act = ep["action"].copy()
        act[:, dims] = _gripper(act[:, dims], entry)
        ep["action"] = act
    if relabel is not None:
        if ep["length"] < 2:
            raise DataError(f"{_where(entry, episode_id)}: relabel_action_from needs 2 steps, the episode has "
                            f"{ep['length']}")
        n = relabel.shape[1]
        act = ep["action"][:-1].copy()
        act[:, :n] = relabel[1:] - relabel[:-1]
        ep = _take_steps(ep, slice(None, -1))
        ep["action"] = act
    if entry.drop_first_step:
        if ep["length"] < 2:
            raise DataError(f"{_where(entry, episode_id)}: drop_first_step leaves an empty episode")
        ep = _take_steps(ep, slice(1, None))
    if entry.action_quat_to_euler >= 0:
        i, act = entry.action_quat_to_euler, ep["action"]
        if act.shape[1] < i + 4:
            raise DataError(f"{_where(entry, episode_id)}: action_quat_to_euler={i} but the action has "
                            f"{act.shape[1]} dims")
        ep["action"] = np.concatenate([act[:, :i], quat_to_euler(act[:, i:i + 4]), act[:, i + 4:]], axis=-1)
    return ep
