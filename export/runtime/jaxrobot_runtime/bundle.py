"""A jaxrobot export bundle on disk: specs, statistics, schedule, examples and model files.

Only the standard library and numpy are used here; a model file is opened by a backend when a function is
first run. ``Bundle.runner(function, backend, precision, batch)`` picks the artifact: for ONNX the batch-1
graph when the batch is 1 (static shapes are faster and what TensorRT engines are built from), else the
dynamic-batch graph; for TFLite the file of that precision.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import numpy as np

from jaxrobot_runtime import backends

SUPPORTED_FORMAT_VERSIONS = (1,)


class BundleError(ValueError):
    """The bundle is incomplete, damaged, or lacks what was asked for."""


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Bundle:
    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        meta_path = self.path / "bundle.json"
        if not meta_path.is_file():
            raise BundleError(f"{self.path} is not a jaxrobot export bundle (no bundle.json)")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        if self.meta.get("format") != "jaxrobot-export":
            raise BundleError(f"{meta_path}: not a jaxrobot export bundle")
        if self.meta.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
            raise BundleError(f"{meta_path}: format_version {self.meta.get('format_version')} is not supported by "
                              f"this runtime (supports {SUPPORTED_FORMAT_VERSIONS}); upgrade jaxrobot-runtime")
        self.stats: dict[str, Any] = json.loads((self.path / "stats.json").read_text())
        sched = self.path / "schedule.json"
        self.schedule: dict[str, Any] | None = json.loads(sched.read_text()) if sched.is_file() else None
        self.runtime: dict[str, Any] = self.meta["runtime"]
        self.functions: dict[str, Any] = self.meta["functions"]
        self.artifacts: dict[str, dict[str, Any]] = self.meta["artifacts"]
        self._runners: dict[tuple, Any] = {}
        self._examples: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------ files

    def verify_files(self) -> list[str]:
        """Files whose sha256 differs from bundle.json (or that are missing)."""
        bad = []
        for rel, digest in self.meta.get("files", {}).items():
            p = self.path / rel
            if rel == "bundle.json":
                continue
            if not p.is_file() or _sha256(p) != digest:
                bad.append(rel)
        return bad

    @property
    def examples(self) -> dict[str, np.ndarray]:
        """``{"<b1|bN>.<function>.<in|out>.<name>": array}``: real inputs and their jax.jit outputs."""
        if self._examples is None:
            with np.load(self.path / "examples.npz") as z:
                self._examples = {k: z[k] for k in z.files}
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
            fmt = self.artifacts[rel]["format"]
            if fmt == "onnx":
                self._runners[key] = backends.OnnxRunner(path, providers=providers, threads=threads)
            else:
                self._runners[key] = backends.TFLiteRunner(path, threads=threads)
        return self._runners[key]


def load_bundle(path: str | pathlib.Path) -> Bundle:
    return Bundle(path)
