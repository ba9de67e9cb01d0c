"""``jaxrobot data datasets [--json]``: the standardisation registry and the named mixtures.

Fixed interface (scripts rely on it): ``--json`` prints ONE line
``{"datasets": [{"name", "action_encoding", "proprio_encoding", ...}, ...], "mixtures": {name: {dataset: weight}}}``;
``datasets`` is sorted by name, each with its cameras, depth cameras, state/action keys and sizes, gripper
convention and handling, language key, normalisation mask, control rate, source and notes (see
:func:`describe_entry`). Without ``--json`` a table, one dataset per line, then the mixtures.

Wired into the ``data`` group by ``jaxrobot.cli.data.register`` calling :func:`register`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub) -> None:
    """Add ``datasets`` to the ``data`` group's subparsers ``sub``."""
    p = sub.add_parser("datasets", help="list the standardisation registry (OXE catalogue) and named mixtures")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(func=cmd_datasets)


def describe_entry(entry) -> dict[str, Any]:
    """One registry entry as plain JSON values (the keys of the fixed interface)."""
    return {
        "name": entry.name,
        "action_encoding": entry.action_encoding,
        "proprio_encoding": entry.state_encoding,
        "action_dim": entry.action_dim,
        "proprio_dim": entry.state_dim,
        "cameras": {cam: key for cam, key in entry.cameras},
        "depth_cameras": {cam: key for cam, key in entry.depth_cameras},
        "state_keys": list(entry.state_keys),
        "action_keys": list(entry.action_keys),
        "gripper_convention": entry.gripper_convention,
        "gripper_dims": list(entry.gripper_dims),
        "gripper_to_open_is_1": entry.gripper_to_open_is_1,
        "gripper_binarized": entry.binarize_gripper,
        "gripper_relative_integrated": entry.integrate_relative_gripper,
        "language_key": entry.language_key,
        "language_dropped": entry.drop_language,
        "language_embedding_key": entry.language_embedding_key,
        "action_norm_mask": list(entry.action_norm_mask),
        "control_hz": entry.control_hz,
        "subsample": entry.subsample,
        "unsupported_transforms": list(entry.unsupported_transforms),
        "source": entry.source,
        "notes": entry.notes,
    }


def catalogue() -> dict[str, Any]:
    """``{"datasets": [...], "mixtures": {...}}`` as ``--json`` prints it."""
    from jaxrobot.data.datasets import MIXTURES, get_entry, list_entries, mixture_weights

    return {"datasets": [describe_entry(get_entry(n)) for n in list_entries()],
            "mixtures": {m: mixture_weights(m) for m in sorted(MIXTURES)}}


def cmd_datasets(args: argparse.Namespace) -> int:
    info = catalogue()
    if args.json:
        print(json.dumps(info, separators=(",", ":")))
        return 0
    rows = [("name", "action", "proprio", "A", "S", "gripper", "views", "Hz")]
    for d in info["datasets"]:
        views = ",".join(c for c, k in d["cameras"].items() if k) or "-"
        if any(d["depth_cameras"].values()):
            views += "+depth"
        rows.append((d["name"], d["action_encoding"], d["proprio_encoding"], str(d["action_dim"] or "?"),
                     str(d["proprio_dim"] or "?"), d["gripper_convention"], views,
                     f"{d['control_hz']:g}" if d["control_hz"] else "?"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    print()
    for name, members in info["mixtures"].items():
        print(f"mixture {name} ({len(members)} datasets): "
              + ", ".join(f"{d} {w:g}" for d, w in members.items()))
    return 0
