"""``jaxrobot data inspect | stats | convert | datasets``.

PATH is an RLDS folder (holding ``dataset_info.json``) or the root of a LeRobot dataset (holding
``meta/info.json``; v3.0, v2.1 or v2.0), which has one split, ``train``.

Fixed interface (scripts rely on it):

- ``jaxrobot data inspect PATH [--split S] --json`` prints ONE line
  ``{"splits": {S: {"episodes": int, "steps": int}}, "features": {key: {"shape": [...], "dtype": str}}, ...}``;
  ``features`` holds what the records hold; declared features that records lack are under
  ``missing_features`` (``{key: {"records", "of", "shards", "shape", "dtype"}}``) and flagged in the text output.
- ``jaxrobot data stats PATH [--split S] [--dataset NAME] [--no-cache] --json`` prints ONE line
  ``{"action": {"mean","std","min","max","q01","q99"}, "state": {...}, "episodes": int, "steps": int}``
  over the standardised action and state; for a LeRobot dataset, over its stored ``action`` and
  ``observation.state`` as they are (no standardisation).
- ``jaxrobot data convert lerobot --in DIR --out DIR`` (to RLDS) and ``convert rlds-to-lerobot --in RLDS_DIR
  --out DIR`` (to a LeRobot v3.0 dataset) print the folder they wrote.
- Corrupt input exits 2 with one line ``error: ...`` naming the file (DataError, printed by jaxrobot.cli).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
from typing import Any

from jaxrobot.cli import data_catalogue
from jaxrobot.data.base import DataError


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="inspect, summarise and convert RLDS and LeRobot datasets")
    sub = p.add_subparsers(dest="data_command", required=True)
    for add in (_register_inspect, _register_stats, _register_convert, data_catalogue.register):
        add(sub)


def _register_inspect(sub) -> None:
    ins = sub.add_parser("inspect", help="episodes, steps, features, instructions (and a contact sheet)")
    ins.add_argument("path", help="folder holding dataset_info.json (<name>/<version>), or a LeRobot dataset root "
                                  "(holding meta/info.json)")
    ins.add_argument("--split", default=None, help="one split (default: all)")
    ins.add_argument("--json", action="store_true", help="print one JSON line")
    ins.add_argument("--sheet", default=None, metavar="FILE.png", help="write a contact sheet of frames")
    ins.set_defaults(func=cmd_inspect)


def _register_stats(sub) -> None:
    st = sub.add_parser("stats", help="normalisation statistics of the standardised action and state (cached)")
    st.add_argument("path", help="RLDS folder (holding dataset_info.json) or LeRobot dataset root (meta/info.json); "
                                 "a LeRobot dataset's stored action and observation.state are summarised as they are")
    st.add_argument("--split", default=None, help="one split (default: all)")
    st.add_argument("--dataset", default=None, help="registry entry (default: the name in dataset_info.json)")
    st.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    st.add_argument("--skip-bad", action="store_true", help="skip and count bad episodes instead of failing")
    st.add_argument("--json", action="store_true", help="print one JSON line")
    st.set_defaults(func=cmd_stats)


def _register_convert(sub) -> None:
    cv = sub.add_parser("convert", help="run a converter from data_pipelines/ (or RLDS -> LeRobot)")
    cvs = cv.add_subparsers(dest="converter", required=True)
    h5 = cvs.add_parser("hdf5", help="ALOHA/ACT-style HDF5 episodes -> RLDS")
    h5.add_argument("--in", dest="in_dir", required=True)
    h5.add_argument("--out", dest="out_dir", required=True)
    h5.add_argument("--name", default="aloha", help="dataset name (registry entry 'aloha' by default)")
    h5.add_argument("--split", default="train")
    h5.add_argument("--instruction", default="", help="language instruction stored on every step")
    h5.set_defaults(func=cmd_convert)
    sim = cvs.add_parser("sim", help="jaxrobot simulation demos (*.npz) -> RLDS")
    sim.add_argument("--in", dest="in_dir", required=True)
    sim.add_argument("--out", dest="out_dir", required=True)
    sim.add_argument("--split", default="train")
    sim.set_defaults(func=cmd_convert)
    lr = cvs.add_parser("lerobot", help="LeRobot dataset (v3.0, v2.1, v2.0) -> RLDS")
    lr.add_argument("--in", dest="in_dir", required=True, help="LeRobot dataset root (holding meta/info.json)")
    lr.add_argument("--out", dest="out_dir", required=True, help="TFDS data dir: writes OUT/<name>/1.0.0")
    lr.add_argument("--name", default=None, help="dataset name (default: the input folder's name)")
    lr.add_argument("--image-format", default="jpeg", choices=("jpeg", "png"),
                    help="how frames are stored (png: lossless, larger)")
    lr.add_argument("--overwrite", action="store_true", help="replace an existing OUT/<name>/1.0.0")
    lr.set_defaults(func=cmd_convert)
    rl = cvs.add_parser("rlds-to-lerobot", help="RLDS dataset -> LeRobot dataset v3.0 (loads in LeRobot 0.4)")
    rl.add_argument("--in", dest="in_dir", required=True, help="RLDS folder holding dataset_info.json")
    rl.add_argument("--out", dest="out_dir", required=True, help="LeRobot dataset root to create")
    rl.add_argument("--split", default=None, help="split(s) to convert, joined by '+' (default: all)")
    rl.add_argument("--fps", type=float, default=None,
                    help="frame rate (default: recorded by `convert lerobot`, else the sim demos' or registry "
                         "entry's control rate)")
    rl.add_argument("--codec", default="libsvtav1", choices=("libsvtav1", "libx264", "libx265"),
                    help="video codec (LeRobot's default: libsvtav1, i.e. AV1)")
    rl.add_argument("--crf", type=int, default=30, help="video quality (lower is better; LeRobot uses 30)")
    rl.add_argument("--robot-type", default=None, help="info.json robot_type")
    rl.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    rl.set_defaults(func=cmd_convert)


# ---------------------------------------------------------------- inspect


def _is_lerobot(path: str) -> bool:
    """A LeRobot dataset root (``meta/info.json``), or a folder with ``meta/`` and no ``dataset_info.json`` (a
    LeRobot dataset missing its info.json: its reader says so)."""
    from jaxrobot.data.lerobot.meta import is_lerobot_root

    p = pathlib.Path(path)
    return is_lerobot_root(path) or ("://" not in path and (p / "meta").is_dir()
                                     and not (p / "dataset_info.json").exists())


def inspect_dataset(path: str, split: str | None = None, n_instructions: int = 5) -> dict[str, Any]:
    """Summary dict: splits (episodes, steps), features (shape, dtype), name, instruction samples."""
    if _is_lerobot(path):
        from jaxrobot.data.lerobot.inspect import inspect as lerobot_inspect

        return lerobot_inspect(path, split)
    try:
        from jaxrobot.data.rlds.inspect import inspect as rlds_inspect  # type: ignore[import-not-found]
    except ImportError:
        rlds_inspect = None
    if rlds_inspect is not None:
        return rlds_inspect(path, split)
    from jaxrobot.data.sources.rlds import open_rlds

    _check_folder(path)
    out: dict[str, Any] = {"path": path, "splits": {}, "features": {}, "instructions": []}
    ds_all = open_rlds(path, split)
    out["name"] = ds_all.name
    out["features"] = {k: {"shape": list(v["shape"]), "dtype": v["dtype"]} for k, v in ds_all.feature_spec().items()}
    lang_keys = [k for k, v in ds_all.feature_spec().items() if v["dtype"] == "string" and "instruction" in k]
    for s in ([split] if split else ds_all.splits):
        ds = open_rlds(path, s)
        lengths = ds.episode_lengths()
        out["splits"][s] = {"episodes": len(lengths), "steps": int(sum(lengths))}
    for i in range(min(n_instructions, len(ds_all))):
        ep = ds_all.episode(i)
        for k in lang_keys:
            if len(ep[k]):
                v = ep[k][0]
                out["instructions"].append(v.decode() if isinstance(v, bytes) else str(v))
    return out


def _check_folder(path: str) -> None:
    p = pathlib.Path(path)
    if "://" not in path and not (p / "dataset_info.json").is_file():
        raise DataError(f"{path}: no dataset_info.json here (PATH is the <name>/<version> folder)")


def contact_sheet(path: str, out_png: str, split: str | None = None, n_episodes: int = 4,
                  frames: int = 4) -> str:
    """A PNG grid: one row per (episode, camera), ``frames`` frames spread over the episode."""
    if _is_lerobot(path):
        from jaxrobot.data.lerobot.inspect import contact_sheet as lerobot_sheet

        return lerobot_sheet(path, out_png, n_episodes)
    try:
        from jaxrobot.data.rlds.inspect import contact_sheet as rlds_sheet  # type: ignore[import-not-found]
    except ImportError:
        rlds_sheet = None
    if rlds_sheet is not None:
        rlds_sheet(path, out_png)
        return out_png
    import numpy as np
    from PIL import Image

    from jaxrobot.data.sources.rlds import open_rlds
    from jaxrobot.data.transforms import decode_image

    ds = open_rlds(path, split)
    cams = sorted(k for k, v in ds.feature_spec().items() if v.get("encoding") in ("jpeg", "png"))
    rows = []
    for i in range(min(n_episodes, len(ds))):
        ep = ds.episode(i)
        for cam in cams:
            seq = ep[cam]
            pick = np.linspace(0, len(seq) - 1, frames).round().astype(int)
            imgs = [decode_image(seq[j], (96, 96)) if seq.dtype == object else seq[j] for j in pick]
            rows.append(np.concatenate(imgs, axis=1))
    if not rows:
        raise DataError(f"{path}: no image features for a contact sheet")
    Image.fromarray(np.concatenate(rows, axis=0)).save(out_png)
    return out_png


def cmd_inspect(args: argparse.Namespace) -> int:
    info = inspect_dataset(args.path, args.split)
    if args.sheet:
        info["sheet"] = contact_sheet(args.path, args.sheet, args.split)
    if args.json:
        print(json.dumps(info, separators=(",", ":"), default=str))
        return 0
    print(f"{info.get('name', '?')}  ({args.path})")
    for s, v in info["splits"].items():
        print(f"  split {s}: {v['episodes']} episodes, {v['steps']} steps")
    print("  features:")
    for k, v in info["features"].items():
        print(f"    {k:48s} {str(v['shape']):22s} {v['dtype']}")
    for k, v in info.get("missing_features", {}).items():
        print(f"    {k:48s} {str(v['shape']):22s} {v['dtype']}  MISSING from {v['records']} of {v['of']} "
              f"records (declared in features.json; shards: {', '.join(v['shards'][:3])}"
              f"{' ...' if len(v['shards']) > 3 else ''})")
    for t in info.get("instructions", [])[:5]:
        print(f"  instruction: {t!r}")
    if args.sheet:
        print(f"  contact sheet: {args.sheet}")
    return 0


# ---------------------------------------------------------------- stats


def dataset_stats(path: str, split: str | None = None, dataset: str | None = None, *, use_cache: bool = True,
                  skip_bad: bool = False) -> dict[str, Any]:
    if _is_lerobot(path):
        from jaxrobot.data.lerobot.inspect import stats as lerobot_stats

        if dataset is not None:
            raise DataError(f"{path}: --dataset names a registry entry for RLDS data; a LeRobot dataset's stored "
                            "action and state are summarised as they are")
        return lerobot_stats(path, split, use_cache=use_cache)
    from jaxrobot.data.sources.rlds import open_rlds, resolve_entry, scan

    _check_folder(path)
    ds = open_rlds(path, split)
    info = scan(ds, resolve_entry(ds, dataset), path=path, use_cache=use_cache)
    if info["bad"] and not skip_bad:
        raise DataError(f"{path}: {len(info['bad'])} bad episode(s), first: {info['bad'][0][1]} "
                        "(--skip-bad skips and counts them)")
    return info["stats"]


def cmd_stats(args: argparse.Namespace) -> int:
    stats = dataset_stats(args.path, args.split, args.dataset, use_cache=not args.no_cache, skip_bad=args.skip_bad)
    if args.json:
        print(json.dumps(stats, separators=(",", ":")))
        return 0
    print(f"{stats['dataset']}: {stats['episodes']} episodes, {stats['steps']} steps, {stats['skipped']} skipped")
    for part in ("action", "state"):
        s = stats[part]
        if not s:
            print(f"  {part}: (none)")
            continue
        print(f"  {part}:")
        for k in ("mean", "std", "min", "max", "q01", "q99"):
            print(f"    {k:5s} " + " ".join(f"{x:+.4f}" for x in s[k]))
    return 0


# ---------------------------------------------------------------- convert


def _pipeline(name: str):
    import jaxrobot

    root = pathlib.Path(jaxrobot.__file__).resolve().parents[1]
    if not (root / "data_pipelines").is_dir():
        raise DataError(f"data_pipelines/ not found next to the jaxrobot package ({root})")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"data_pipelines.{name}.{name}_dataset_builder")


def cmd_convert(args: argparse.Namespace) -> int:
    if args.converter == "hdf5":
        out = _pipeline("hdf5_episodes").convert(args.in_dir, args.out_dir, name=args.name, split=args.split,
                                                  instruction=args.instruction)
    elif args.converter == "lerobot":
        out = _pipeline("lerobot").convert(args.in_dir, args.out_dir, name=args.name,
                                            image_format=args.image_format, overwrite=args.overwrite)
    elif args.converter == "rlds-to-lerobot":
        from jaxrobot.data.lerobot.from_rlds import rlds_to_lerobot

        out = rlds_to_lerobot(args.in_dir, args.out_dir, split=args.split, fps=args.fps, codec=args.codec,
                              crf=args.crf, robot_type=args.robot_type, overwrite=args.overwrite)
    else:
        out = _pipeline("jaxrobot_sim").convert(args.in_dir, args.out_dir, split=args.split)
    print(out)
    return 0
