"""Model runners: ONNX Runtime (CPU, or CUDA / TensorRT providers from onnxruntime-gpu) and LiteRT.

Every runner is called the same way, ``runner({input name: array}) -> {output name: array}``, so the
policy does not care which one it drives. The inference libraries are imported only when used.

A model file that cannot be opened (missing, truncated, not a model) or run raises :class:`BundleError`
naming the file, with the library's own first line, instead of the library's traceback.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import numpy as np

from jaxrobot_runtime.errors import BundleError


def _first_line(e: BaseException, limit: int = 300) -> str:
    text = str(e).strip().splitlines()
    line = text[0] if text else type(e).__name__
    return line if len(line) <= limit else line[:limit] + "..."


def _require_file(path: str) -> None:
    if not os.path.isfile(path):
        raise BundleError(f"{path}: model file is missing")


def available() -> list[str]:
    """Backends importable here (``onnx`` needs onnxruntime; ``tflite`` ai_edge_litert or tflite_runtime)."""
    out = []
    if importlib.util.find_spec("onnxruntime") is not None:
        out.append("onnx")
    if importlib.util.find_spec("ai_edge_litert") is not None or importlib.util.find_spec("tflite_runtime"):
        out.append("tflite")
    return out


class OnnxRunner:
    def __init__(self, path: str, providers: Sequence[str] | None = None, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BundleError(f"cannot run {path}: ONNX Runtime is not installed "
                              f"(pip install 'jaxrobot-runtime[onnx]')") from e
        _require_file(path)
        self.path = path
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        providers = list(providers or ["CPUExecutionProvider"])
        try:
            self.session = ort.InferenceSession(path, opts, providers=providers)
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types for damaged files
            raise BundleError(f"{path}: ONNX Runtime cannot load this model ({_first_line(e)}); the file is "
                              f"damaged or not an ONNX model (providers {providers})") from e
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: v for k, v in inputs.items() if k in self.inputs}
        try:
            out = self.session.run(self.outputs, feed)
        except Exception as e:  # noqa: BLE001
            raise BundleError(f"{self.path}: ONNX Runtime failed running the model: {_first_line(e)}") from e
        return dict(zip(self.outputs, out))  # noqa: B905 (Python 3.8)


class TFLiteRunner:
    def __init__(self, path: str, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # the older standalone wheel, common on Jetson
            try:
                from tflite_runtime.interpreter import Interpreter
            except ImportError as e:
                raise BundleError(f"cannot run {path}: LiteRT is not installed "
                                  f"(pip install 'jaxrobot-runtime[tflite]')") from e
        _require_file(path)
        self.path = path
        try:
            self.interpreter = Interpreter(model_path=path, num_threads=threads)
            self.runner = self.interpreter.get_signature_runner("serving_default")
            self.inputs = set(self.interpreter.get_signature_list()["serving_default"]["inputs"])
            details = self.runner.get_input_details()
        except Exception as e:  # noqa: BLE001 - LiteRT raises ValueError / RuntimeError for damaged files
            raise BundleError(f"{path}: LiteRT cannot load this model ({_first_line(e)}); the file is damaged "
                              f"or not a TFLite model with a 'serving_default' signature") from e
        # Inputs whose batch dimension is fixed at 1 (models exported at batch 1 because their dynamic-batch
        # form does not lower to TFLite): a larger batch is run one element at a time.
        self.batch1 = {name for name, d in details.items()
                       if len(d["shape_signature"]) > 0 and int(d["shape_signature"][0]) == 1}

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return self._run(inputs)
        except BundleError:
            raise
        except Exception as e:  # noqa: BLE001
            raise BundleError(f"{self.path}: LiteRT failed running the model: {_first_line(e)}") from e

    def _run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.asarray(v) for k, v in inputs.items() if k in self.inputs}
        batched = [k for k in self.batch1 if k in feed and feed[k].shape[0] > 1]
        if not batched:
            return {k: np.asarray(v) for k, v in self.runner(**feed).items()}
        n = feed[batched[0]].shape[0]
        parts = [self.runner(**{k: (v[i:i + 1] if k in self.batch1 else v) for k, v in feed.items()})
                 for i in range(n)]
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
