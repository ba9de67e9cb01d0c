"""ONNX through jax2onnx 0.17.1, and running it with ONNX Runtime.

Opset 20 by default: TensorRT 10.x accepts opsets 9-20 at JetPack 6.1 (TensorRT 10.3), and jax2onnx's own
default (23) is beyond it; opset 17 for JetPack 5 (TensorRT 8.5/8.6). Graphs stay fp32: jax2onnx's fp16
export of Linen convs gives mixed-type Conv nodes ONNX Runtime rejects, so fp16 is TensorRT's job
(``trtexec --fp16``). Each function gets a dynamic-batch graph (batch dim ``"B"``) and a batch-1 graph.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError
from jaxrobot.export.functions import ExportFunction
from jaxrobot.export.provenance import explain_failure
from jaxrobot.export.workarounds import for_jax2onnx

DEFAULT_OPSET = 20
SUPPORTED_OPSETS = (17, 18, 19, 20)


@functools.cache
def _load_plugins() -> None:
    """Register only jax2onnx's ``jax`` and ``flax`` plugin trees.

    ``to_onnx`` otherwise imports every plugin module on first use, including the Equinox examples that
    build and jit models at import time: 13-30 s here versus ~2 s for these two trees. If the private
    layout ever changes, fall back to jax2onnx's own full import.
    """
    try:
        from pathlib import Path

        from jax2onnx.plugins import plugin_system as ps

        root = Path(ps.__file__).parent
        if not hasattr(ps, "_import_tree") or not hasattr(ps, "_already_imported_plugins"):
            return
        for sub in ("jax", "flax"):
            ps._import_tree(root / sub, f"jax2onnx.plugins.{sub}")
        ps._already_imported_plugins = True
    except Exception:  # noqa: BLE001 - an optimisation only; to_onnx imports everything itself
        return


def _abstract_inputs(fn: ExportFunction, batch: int | None):
    import jax

    dim = jax.export.symbolic_shape("B")[0] if batch is None else batch
    return [jax.ShapeDtypeStruct(tuple(dim if d is None else d for d in s.shape), s.dtype) for s in fn.inputs]


def to_onnx(fn: ExportFunction, *, opset: int = DEFAULT_OPSET, batch: int | None = None):
    """The ONNX ``ModelProto`` of ``fn``: dynamic batch (``batch=None``, dim ``"B"``) or a fixed batch."""
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"opset {opset} is not offered: use 20 (TensorRT 10, JetPack 6) or 17 (TensorRT 8.5/8.6, "
                          f"JetPack 5)")
    _load_plugins()
    from jax2onnx import to_onnx as j2o

    specs = _abstract_inputs(fn, batch)
    try:
        model = j2o(for_jax2onnx(fn.fn), specs, opset=opset, model_name=fn.name, normalization_mode="prefer_native",
                    input_names=[s.name for s in fn.inputs], output_names=list(fn.outputs))
    except Exception as e:  # noqa: BLE001 - every converter failure is reported with its op and origin
        concrete = _abstract_inputs(fn, 2 if batch is None else batch)
        raise ExportError(explain_failure(e, fn.fn, concrete, f"jax2onnx (opset {opset}, function {fn.name!r})")) from e
    import onnx

    try:
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"jax2onnx produced an invalid ONNX graph for {fn.name!r} at opset {opset}: {e}") from e
    return model


class OnnxRunner:
    """An ONNX Runtime CPU session with named inputs/outputs (the same call shape as the TFLite runner)."""

    def __init__(self, model_bytes: bytes, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.outputs, self.session.run(self.outputs, inputs), strict=True))


def op_types(model) -> dict[str, int]:
    """Histogram of op types, sub-graphs (Loop/If bodies) included."""
    counts: dict[str, int] = {}

    def walk(graph: Any) -> None:
        for node in graph.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attr in node.attribute:
                if attr.g is not None and attr.g.node:
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return dict(sorted(counts.items()))
