"""A jaxrobot export bundle on disk: specs, statistics, schedule, examples and model files.

Only the standard library and numpy are used here; a model file is opened by a backend when a function is
first run. ``Bundle.runner(function, backend, precision, batch)`` picks the artifact: for ONNX the batch-1
graph when the batch is 1 (static shapes are faster and what TensorRT engines are built from), else the
dynamic-batch graph; for TFLite the file of that precision.

``load_bundle(path)`` verifies the bundle first (``verify=True``, the default): every file's sha256 and
``bundle.json`` itself against ``MANIFEST.json`` (see :mod:`jaxrobot_runtime.manifest`), raising
:class:`BundleIntegrityError` naming the file on any difference, missing file or missing manifest. Hashing
reads every file once (sha256 ran at ~0.8 GB/s on the 2-core x86 dev box; bundles are megabytes); on a
trusted robot whose bundle was checked once, ``verify=False`` skips it (``--no-verify`` on the command
line). Only the files ``bundle.json`` names are ever read.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from jaxrobot_runtime import backends, manifest
from jaxrobot_runtime.errors import BundleError, BundleIntegrityError

__all__ = ["Bundle", "BundleError", "BundleIntegrityError", "load_bundle"]

SUPPORTED_FORMAT_VERSIONS = (1,)


def _read_json(path: pathlib.Path, what: str) -> Any:
    if not path.is_file():
        raise BundleError(f"{path}: missing ({what})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{path}: not valid JSON ({what}): {e}") from None


class Bundle:
    """A bundle folder, verified against its ``MANIFEST.json`` unless ``verify=False``."""

    def __init__(self, path: str | pathlib.Path, verify: bool = True):
        self.path = pathlib.Path(path)
        if verify:
            manifest.verify(self.path)
        self.verified = bool(verify)
        meta_path = self.path / "bundle.json"
        if not meta_path.is_file():
            raise BundleError(f"{self.path} is not a jaxrobot export bundle (no bundle.json)")
        self.meta: dict[str, Any] = _read_json(meta_path, "the bundle's description")
        if not isinstance(self.meta, dict) or self.meta.get("format") != "jaxrobot-export":
            raise BundleError(f"{meta_path}: not a jaxrobot export bundle")
        if self.meta.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
            raise BundleError(f"{meta_path}: format_version {self.meta.get('format_version')} is not supported by "
                              f"this runtime (supports {SUPPORTED_FORMAT_VERSIONS}); upgrade jaxrobot-runtime")
        self.stats: dict[str, Any] = _read_json(self.path / "stats.json", "normalisation statistics")
        listed = self.meta.get("files")  # read only what bundle.json names (an added file is never read)
        sched = self.path / "schedule.json"
        has_schedule = "schedule.json" in listed if isinstance(listed, dict) else sched.is_file()
        self.schedule: dict[str, Any] | None = _read_json(sched, "DDIM schedule") if has_schedule else None
        try:
            self.runtime: dict[str, Any] = self.meta["runtime"]
            self.functions: dict[str, Any] = self.meta["functions"]
            self.artifacts: dict[str, dict[str, Any]] = self.meta["artifacts"]
        except KeyError as e:
            raise BundleError(f"{meta_path}: lacks {e.args[0]!r} (damaged or hand-edited)") from None
        self._runners: dict[tuple, Any] = {}
        self._examples: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------ files

    def verify_files(self) -> list[str]:
        """Files that fail verification against ``MANIFEST.json`` now (changed, missing, or the manifest)."""
        return list(manifest.problems(self.path))

    @property
    def examples(self) -> dict[str, np.ndarray]:
        """``{"<b1|bN>.<function>.<in|out>.<name>": array}``: real inputs and their jax.jit outputs."""
        if self._examples is None:
            path = self.path / "examples.npz"
            try:
                with np.load(path) as z:
                    self._examples = {k: z[k] for k in z.files}
            except FileNotFoundError:
                raise BundleError(f"{path}: missing (the stored examples)") from None
            except Exception as e:  # noqa: BLE001 - zipfile / pickle / format errors of a damaged file
                raise BundleError(f"{path}: cannot be read ({type(e).__name__}: {e}); damaged") from None
        return self._examples

    def example(self, tag: str, function: str, direction: str) -> dict[str, np.ndarray]:
        prefix = f"{tag}.{function}.{direction}."
        return {k[len(prefix):]: v for k, v in self.examples.items() if k.startswith(prefix)}

    # ------------------------------------------------------------ models

    def artifact_for(self, function: str, backend: str, precision: str = "fp32", batch: int | None = None) -> str:
        if backend == "onnx":
            if precision != "fp32":
                raise BundleError("ONNX artifacts are fp32 (build fp16 with TensorRT: jaxrobot-runtime trtexec)")
            b1, dyn = f"onnx/{function}.b1.onnx", f"onnx/{function}.onnx"
            choices = [b1, dyn] if batch == 1 else [dyn]
        elif backend == "tflite":
            choices = [f"tflite/{function}.{precision}.tflite"]
        else:
            raise BundleError(f"unknown backend {backend!r}; known: onnx, tflite")
        for rel in choices:
            if rel in self.artifacts:
                return rel
        have = sorted(a for a in self.artifacts if self.artifacts[a]["function"] == function)
        raise BundleError(f"the bundle has no {backend} {precision} artifact for {function!r}"
                          f"{'' if batch is None else f' at batch {batch}'} (it has: {have})")

    def runner(self, function: str, backend: str = "onnx", precision: str = "fp32", batch: int | None = None,
               providers=None, threads: int | None = None):
        rel = self.artifact_for(function, backend, precision, batch)
        return self.open(rel, providers=providers, threads=threads)

    def open(self, rel: str, providers=None, threads: int | None = None):
        key = (rel, tuple(providers or ()), threads)
        if key not in self._runners:
            path = str(self.path / rel)
            fmt = self.artifacts[rel].get("format")
            if fmt == "onnx":
                self._runners[key] = backends.OnnxRunner(path, providers=providers, threads=threads)
            else:
                self._runners[key] = backends.TFLiteRunner(path, threads=threads)
        return self._runners[key]


def load_bundle(path: str | pathlib.Path, verify: bool = True) -> Bundle:
    """Open the bundle at ``path``; with ``verify`` (the default) check every file against ``MANIFEST.json``
    first and raise :class:`BundleIntegrityError` naming the file if anything differs or is missing."""
    return Bundle(path, verify=verify)
