"""Model runners: ONNX Runtime (CPU, or CUDA / TensorRT providers from onnxruntime-gpu) and LiteRT.

Every runner is called the same way, ``runner({input name: array}) -> {output name: array}``, so the
policy does not care which one it drives. The inference libraries are imported only when used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import numpy as np


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
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(path, opts, providers=list(providers or ["CPUExecutionProvider"]))
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: v for k, v in inputs.items() if k in self.inputs}
        return dict(zip(self.outputs, self.session.run(self.outputs, feed)))  # noqa: B905 (Python 3.8)


class TFLiteRunner:
    def __init__(self, path: str, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # the older standalone wheel, common on Jetson
            from tflite_runtime.interpreter import Interpreter
        self.interpreter = Interpreter(model_path=path, num_threads=threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        self.inputs = set(self.interpreter.get_signature_list()["serving_default"]["inputs"])
        details = self.runner.get_input_details()
        # Inputs whose batch dimension is fixed at 1 (models exported at batch 1 because their dynamic-batch
        # form does not lower to TFLite): a larger batch is run one element at a time.
        self.batch1 = {name for name, d in details.items()
                       if len(d["shape_signature"]) > 0 and int(d["shape_signature"][0]) == 1}

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {k: np.asarray(v) for k, v in inputs.items() if k in self.inputs}
        batched = [k for k in self.batch1 if k in feed and feed[k].shape[0] > 1]
        if not batched:
            return {k: np.asarray(v) for k, v in self.runner(**feed).items()}
        n = feed[batched[0]].shape[0]
        parts = [self.runner(**{k: (v[i:i + 1] if k in self.batch1 else v) for k, v in feed.items()})
                 for i in range(n)]
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
