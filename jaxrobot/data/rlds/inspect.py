"""Summaries of an RLDS dataset for people: counts, keys, instruction samples, and a contact sheet of frames.

Backs ``jaxrobot data inspect PATH [--split S] [--json] [--sheet FILE.png]`` (CLI wiring lives in
``jaxrobot/cli/data.py``). Reads without TensorFlow.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxrobot.data.rlds import fs
from jaxrobot.data.rlds.features import IMAGE_ENCODINGS
from jaxrobot.data.rlds.reader import RldsDataset

_MAX_INSTRUCTIONS = 8


def _instruction_keys(ds: RldsDataset) -> list[str]:
    """Text features that hold language instructions (``steps/language_instruction``, fractal's
    ``steps/observation/natural_language_instruction``, ...)."""
    return [k for k, f in ds.features().items() if f.encoding == "text" and "instruction" in k.split("/")[-1]]


def _decode_text(b: Any) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def inspect(path: str, split: str | None = None, *, instruction_episodes: int = 50) -> dict[str, Any]:
    """JSON-able summary of a dataset folder (the folder holding dataset_info.json).

    Returns ``{"name", "version", "path", "splits": {S: {"episodes", "steps"}}, "episodes", "steps",
    "features": {key: {"shape": [...], "dtype", "encoding"}}, "missing_features": {key: {"records", "of",
    "shards", "shape", "dtype"}}, "instructions": [...], "instruction_key"}``, where per-step shapes lead with
    ``None`` (the episode length) and ``instructions`` are up to 8 distinct instructions from the first
    ``instruction_episodes`` episodes. ``features`` lists what the records hold; a feature that
    ``features.json`` declares but some records lack is in ``missing_features`` instead (with how many of
    the records lack it and in which shards), since reading those episodes fails. Counting steps parses
    every episode once (no image decoding); the result is cached per shard in the user cache folder.
    """
    ds = RldsDataset(path, split)
    splits = {}
    missing: dict[str, dict[str, Any]] = {}
    for s in ds._splits:
        part = RldsDataset(path, s)
        lengths = part.episode_lengths()
        splits[s] = {"episodes": int(len(lengths)), "steps": int(lengths.sum())}
        for key, m in part.missing_features().items():
            entry = missing.setdefault(key, {"records": 0, "of": 0, "shards": []})
            entry["records"] += m["records"]
            entry["shards"] += m["shards"]
    for m in missing.values():
        m["of"] = sum(v["episodes"] for v in splits.values())
    keys = [k for k in _instruction_keys(ds) if k not in missing]
    instructions: list[str] = []
    if keys:
        texts = RldsDataset(path, split, keys=keys[:1])
        for i in range(min(len(texts), instruction_episodes)):
            for b in texts.episode(i)[keys[0]].reshape(-1)[:1]:
                t = _decode_text(b)
                if t and t not in instructions:
                    instructions.append(t)
            if len(instructions) >= _MAX_INSTRUCTIONS:
                break
    return {
        "name": ds.name,
        "version": ds.version,
        "path": ds.path,
        "splits": splits,
        "episodes": sum(s["episodes"] for s in splits.values()),
        "steps": sum(s["steps"] for s in splits.values()),
        "features": {k: {"shape": list(v["shape"]), "dtype": v["dtype"], "encoding": v["encoding"]}
                     for k, v in ds.feature_spec().items() if k not in missing},
        "missing_features": {k: {**m, "shape": list(ds.feature_spec()[k]["shape"]),
                                 "dtype": ds.feature_spec()[k]["dtype"]} for k, m in sorted(missing.items())},
        "instruction_key": keys[0] if keys else None,
        "instructions": instructions,
    }


def contact_sheet(path: str, out_png: str, episodes: int = 4, frames: int = 6, *, split: str | None = None,
                  tile: int = 96) -> str:
    """Write a PNG grid: one row per episode (spread over the dataset), for each camera ``frames`` frames
    spread over the episode. Each row is captioned with the episode number and its instruction.

    All cameras are shown, padding ones too (a black column is how you spot a camera that is not there).
    Returns ``out_png``.
    """
    from PIL import Image, ImageDraw

    ds = RldsDataset(path, split)
    cams = sorted(k for k, f in ds.features().items() if f.encoding in IMAGE_ENCODINGS and f.sequence)
    if not cams:
        from jaxrobot.data.base import DataError

        raise DataError(f"{path}: no camera features (per-step images) to draw")
    ikeys = _instruction_keys(ds)
    reader = RldsDataset(path, split, keys=cams + ikeys[:1])
    n = len(reader)
    picks = sorted({int(round(x)) for x in np.linspace(0, n - 1, min(episodes, n))}) if n else []
    pad, caption = 4, 16
    header = 16
    width = pad + len(cams) * (frames * (tile + pad) + pad)
    height = header + len(picks) * (caption + tile + pad) + pad
    sheet = Image.new("RGB", (width, max(height, header + pad)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for c, cam in enumerate(cams):
        draw.text((pad + c * (frames * (tile + pad) + pad), 2), cam.split("/")[-1], fill=(0, 0, 0))
    for r, i in enumerate(picks):
        ep = reader.episode(i)
        y = header + r * (caption + tile + pad)
        text = f"episode {i}"
        if ikeys and len(ep[ikeys[0]]):
            text += ": " + _decode_text(ep[ikeys[0]].reshape(-1)[0])
        draw.text((pad, y + 2), text[:200], fill=(0, 0, 0))
        for c, cam in enumerate(cams):
            video = ep[cam]
            t_len = len(video)
            ts = np.linspace(0, t_len - 1, min(frames, t_len)).round().astype(int) if t_len else []
            for j, t in enumerate(ts):
                img = video[t]
                if img.shape[-1] == 1:
                    img = np.repeat(img, 3, axis=-1)
                if img.dtype != np.uint8:  # e.g. 16-bit depth: scale to 8 bits for viewing
                    hi = max(float(img.max()), 1.0)
                    img = (img.astype(np.float32) * (255.0 / hi)).astype(np.uint8)
                h, w = img.shape[:2]
                scale = tile / max(h, w)
                pil = Image.fromarray(img).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                  Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BILINEAR)
                x = pad + c * (frames * (tile + pad) + pad) + j * (tile + pad)
                sheet.paste(pil, (x, y + caption))
    out_dir = os.path.dirname(os.fspath(out_png))
    if out_dir:
        fs.makedirs(out_dir)
    with fs.open_write(out_png) as f:
        sheet.save(f, format="PNG")
    return out_png
