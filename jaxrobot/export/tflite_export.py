"""TFLite through ``jax2tf`` (StableHLO) and TensorFlow 2.21's ``TFLiteConverter``, builtin ops only.

Precisions:
- ``fp32``: no optimisation;
- ``fp16``: fp16 weights (``optimizations=[DEFAULT]``, ``supported_types=[float16]``), fp32 compute on CPU;
- ``int8``: dynamic-range quantisation (int8 weights, activations quantised on the fly);
- ``int8_full``: full-integer quantisation calibrated on a representative dataset drawn from the training
  data (opt-in; its error is reported, never gated). Inputs and outputs stay float so the runtime's call
  is unchanged.

One model per function with a dynamic batch dimension (``polymorphic_shapes``); the LiteRT interpreter
resizes its inputs on the fly. Run with ``ai_edge_litert``'s interpreter, as on the robot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError
from jaxrobot.export.functions import ExportFunction
from jaxrobot.export.provenance import explain_failure
from jaxrobot.export.workarounds import for_jax2tf

PRECISIONS = ("fp32", "fp16", "int8", "int8_full")


def _polymorphic(fn: ExportFunction) -> list[str]:
    shapes = []
    for s in fn.inputs:
        dims = ["b" if d is None else "_" for d in s.shape]
        shapes.append(f"({', '.join(dims)}{',' if len(dims) == 1 else ''})")
    return shapes


def to_tflite(fn: ExportFunction, precision: str = "fp32",
              representative: Iterable[dict[str, np.ndarray]] | None = None, batch: int | None = None) -> bytes:
    """The ``.tflite`` flatbuffer of ``fn`` at ``precision`` (signature ``serving_default``).

    ``batch=None`` gives a dynamic batch dimension; an int fixes it (the fallback for graphs whose
    dynamic-batch StableHLO TFLite cannot lower, e.g. ``dynamic_gather`` from ``x[:, -1]``).
    """
    if precision not in PRECISIONS:
        raise ExportError(f"unknown TFLite precision {precision!r}; known: {PRECISIONS}")
    from jax.experimental import jax2tf

    from jaxrobot.platform import import_tensorflow

    tf = import_tensorflow()  # GPUs hidden from TF: JAX owns the accelerator

    names = list(fn.outputs)

    def wrapped(*args):
        out = fn.fn(*args)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return dict(zip(names, out, strict=True))

    # for_jax2tf: static indexing (x[:, -1]) traced as slices, not gathers TFLite cannot convert at a
    # dynamic batch (workarounds.py).
    converted = jax2tf.convert(for_jax2tf(wrapped), with_gradient=False,
                               polymorphic_shapes=_polymorphic(fn) if batch is None else None)
    signature = [tf.TensorSpec([batch if d is None else d for d in s.shape], tf.as_dtype(s.dtype), name=s.name)
                 for s in fn.inputs]
    module = tf.Module()
    module.f = tf.function(converted, autograph=False, input_signature=signature)
    try:
        concrete = module.f.get_concrete_function()
    except Exception as e:  # noqa: BLE001
        raise ExportError(explain_failure(e, fn.fn, _example(fn), f"jax2tf (function {fn.name!r})")) from e
    if precision == "int8_full":
        if representative is None:
            raise ExportError("full int8 needs a representative dataset")
        return _full_int8_isolated(fn, module, concrete, list(representative))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        return converter.convert()
    except Exception as e:  # noqa: BLE001
        raise ExportError(explain_failure(e, fn.fn, _example(fn), f"TFLiteConverter ({precision}, function "
                                                                   f"{fn.name!r})")) from e


_CALIBRATE = """
import sys, numpy as np, tensorflow as tf
d = sys.argv[1]
z = np.load(d + "/representative.npz")
n = 1 + max(int(k.split(".", 1)[0]) for k in z.files)
samples = [{k.split(".", 1)[1]: z[k] for k in z.files if k.startswith(f"{i}.")} for i in range(n)]
conv = tf.lite.TFLiteConverter.from_saved_model(d + "/saved_model")
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = lambda: iter(samples)
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
open(d + "/model.tflite", "wb").write(conv.convert())
"""


def _full_int8_isolated(fn: ExportFunction, module, concrete, samples: list[dict[str, np.ndarray]]) -> bytes:
    """Full-integer calibration in a child process: TF's calibrator can abort the whole process (seen here
    on a GroupNorm ResNet encoder), which must fail this one opt-in artifact, not the export."""
    import os
    import subprocess
    import sys
    import tempfile

    from jaxrobot.platform import import_tensorflow

    tf = import_tensorflow()

    with tempfile.TemporaryDirectory(prefix="jaxrobot-int8-") as d:
        tf.saved_model.save(module, os.path.join(d, "saved_model"), signatures={"serving_default": concrete})
        np.savez(os.path.join(d, "representative.npz"),
                 **{f"{i}.{k}": v for i, sample in enumerate(samples) for k, v in sample.items()})
        proc = subprocess.run([sys.executable, "-c", _CALIBRATE, d], capture_output=True, text=True, timeout=1800)
        out = os.path.join(d, "model.tflite")
        if proc.returncode != 0 or not os.path.exists(out):
            tail = " ".join(line for line in proc.stderr.splitlines()[-5:] if line.strip())[-400:]
            raise ExportError(f"full-int8 calibration of {fn.name!r} failed (TFLiteConverter exit {proc.returncode}): "
                              f"{tail}")
        with open(out, "rb") as f:
            return f.read()


_RUN = """
import sys, numpy as np
from ai_edge_litert.interpreter import Interpreter
d = sys.argv[1]
runner = Interpreter(model_path=d + "/model.tflite").get_signature_runner("serving_default")
z = np.load(d + "/inputs.npz")
tags = sorted({k.split(".", 1)[0] for k in z.files})
out = {}
for tag in tags:
    res = runner(**{k.split(".", 1)[1]: z[k] for k in z.files if k.startswith(tag + ".")})
    out.update({f"{tag}.{k}": np.asarray(v) for k, v in res.items()})
np.savez(d + "/outputs.npz", **out)
"""


def run_isolated(model_bytes: bytes, inputs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Run a TFLite model on ``{tag: {input: array}}`` in a child process (LiteRT aborts the process on some
    full-int8 graphs, seen here on a GroupNorm ResNet encoder); raise :class:`ExportError` if it dies."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jaxrobot-tflite-") as d:
        with open(os.path.join(d, "model.tflite"), "wb") as f:
            f.write(model_bytes)
        np.savez(os.path.join(d, "inputs.npz"),
                 **{f"{tag}.{k}": v for tag, inp in inputs.items() for k, v in inp.items()})
        proc = subprocess.run([sys.executable, "-c", _RUN, d], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            tail = " ".join(line for line in proc.stderr.splitlines()[-3:] if line.strip())[-300:]
            raise ExportError(f"the LiteRT interpreter fails running this model (exit {proc.returncode}): {tail}")
        out: dict[str, dict[str, np.ndarray]] = {}
        with np.load(os.path.join(d, "outputs.npz")) as z:
            for k in z.files:
                tag, name = k.split(".", 1)
                out.setdefault(tag, {})[name] = z[k]
        return out


def _example(fn: ExportFunction) -> list[Any]:
    return [np.zeros(tuple(2 if d is None else d for d in s.shape), s.dtype) for s in fn.inputs]


class TFLiteRunner:
    """A LiteRT interpreter on the ``serving_default`` signature: ``runner({name: array}) -> {name: array}``."""

    def __init__(self, model_bytes: bytes, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=model_bytes, num_threads=threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.runner(**inputs).items()}
