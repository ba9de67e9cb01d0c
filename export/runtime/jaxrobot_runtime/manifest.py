"""``MANIFEST.json``: the sha256 of every file of a bundle, ``bundle.json`` included, checked before use.

Written last by the exporter (``jaxrobot.export.bundle``), inside the temporary folder, before the folder is
renamed into place::

    {"format": "jaxrobot-export-manifest", "version": 1, "algorithm": "sha256",
     "bundle_json_sha256": "<sha256 of bundle.json's canonical bytes>",
     "files": {"<path inside the bundle>": "<sha256 of the file's bytes>", ...}}

``files`` lists every file of the bundle except ``bundle.json`` and ``MANIFEST.json``. ``bundle.json`` is
hashed in canonical form, ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``
encoded as ASCII, so re-indenting it keeps it valid while any change of a value (an input shape,
``state_dim``, ``n_action_steps``...) fails. Every other file is hashed byte for byte.

Verification (:func:`problems`) reports, per file: missing, sha256 mismatch, ``bundle.json`` not JSON or
changed, a file that ``bundle.json`` names (its ``files`` and ``artifacts``, and ``stats.json``) but the
manifest does not cover, and a missing or damaged manifest (a bundle from an exporter older than the
manifest, or a damaged one: re-export it). Files the manifest does not list are allowed and never read by
the runtime (e.g. TensorRT engines ``jaxrobot-runtime trtexec`` writes into ``BUNDLE/tensorrt/``).

This guards against damage and accidental edits, not against an adversary: whoever can rewrite a file can
rewrite the manifest too.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any, Dict  # noqa: UP035 (runs on Python 3.8, JetPack 5)

from jaxrobot_runtime.errors import BundleError, BundleIntegrityError

MANIFEST = "MANIFEST.json"
FORMAT = "jaxrobot-export-manifest"
VERSION = 1
OLDER_EXPORTER = ("missing: the bundle was written by an exporter older than the integrity manifest, or was "
                  "damaged; re-export it (or skip verification on a trusted robot: verify=False / --no-verify)")


def canonical_json(value: Any) -> bytes:
    """The bytes ``bundle.json`` is hashed as: sorted keys, no whitespace, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _inside(rel: str) -> bool:
    p = pathlib.PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel


def _read_manifest(root: pathlib.Path) -> Dict[str, Any] | str:  # noqa: UP006
    """The manifest, or why it cannot be used."""
    path = root / MANIFEST
    if not path.is_file():
        return OLDER_EXPORTER
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "not valid JSON: the manifest is damaged; re-export the bundle"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"not a jaxrobot manifest (format is not {FORMAT!r}): damaged; re-export the bundle"
    if manifest.get("version") != VERSION or manifest.get("algorithm") != "sha256":
        return (f"manifest version {manifest.get('version')!r} / algorithm {manifest.get('algorithm')!r} is not "
                f"supported by this runtime (supports version {VERSION}, sha256); upgrade jaxrobot-runtime")
    files = manifest.get("files")
    if (not isinstance(files, dict) or not isinstance(manifest.get("bundle_json_sha256"), str)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())):
        return "damaged: 'files' or 'bundle_json_sha256' is missing or malformed; re-export the bundle"
    return manifest


def problems(path: str | pathlib.Path) -> Dict[str, str]:  # noqa: UP006
    """``{file: what is wrong}`` for the bundle at ``path`` (empty when it verifies), most fundamental first:
    the manifest, then ``bundle.json``, then the other files in sorted order."""
    root = pathlib.Path(path)
    if not root.is_dir():
        raise BundleError(f"{root} is not a jaxrobot export bundle (not a folder)")
    manifest = _read_manifest(root)
    if isinstance(manifest, str):
        if not (root / "bundle.json").is_file() and not (root / MANIFEST).is_file():
            raise BundleError(f"{root} is not a jaxrobot export bundle (no bundle.json, no {MANIFEST})")
        return {MANIFEST: manifest}
    out: Dict[str, str] = {}  # noqa: UP006
    meta = None
    meta_path = root / "bundle.json"
    if not meta_path.is_file():
        out["bundle.json"] = f"missing (covered by {MANIFEST})"
    else:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            out["bundle.json"] = "not valid JSON: edited or damaged after export"
        else:
            if hashlib.sha256(canonical_json(meta)).hexdigest() != manifest["bundle_json_sha256"]:
                out["bundle.json"] = f"content differs from {MANIFEST}: edited or damaged after export"
                meta = None
    files = manifest["files"]
    named = set()
    if isinstance(meta, dict):  # what the runtime reads must be covered
        named = {"stats.json"} | set(meta.get("files") or {}) | set(meta.get("artifacts") or {})
        named -= {"bundle.json", MANIFEST}
    for rel in sorted(set(files) | named):
        p = root / rel
        if rel not in files:
            out[rel] = f"named by bundle.json but not covered by {MANIFEST}"
        elif not _inside(rel) or rel in ("bundle.json", MANIFEST):
            out[rel] = f"invalid entry in {MANIFEST} (a path outside the bundle or a reserved name)"
        elif not p.is_file():
            out[rel] = f"missing (listed in {MANIFEST})"
        elif sha256_file(p) != files[rel]:
            out[rel] = f"sha256 differs from {MANIFEST}: the file was changed or damaged after export"
    return out


def verify(path: str | pathlib.Path) -> None:
    """Raise :class:`BundleIntegrityError` (naming the file) unless the bundle at ``path`` verifies."""
    found = problems(path)
    if found:
        raise BundleIntegrityError(str(path), found)
