"""The exporter table: a format name → the function that writes that format's artifacts into a bundle.

Each exporter converts every function of the model's :class:`~jaxrobot.models.export_plan.ExportPlan`,
writes the files under ``<bundle>/<format>/``, and checks each artifact against ``jax.jit`` on real inputs
(parity), recording the result in ``job.report``. Adding a format: one function here (or in its own module)
and one entry in :data:`EXPORTERS`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxrobot.export import parity as parity_lib
from jaxrobot.export.errors import ExportError
from jaxrobot.models.export_plan import ExportPlan


@dataclasses.dataclass
class ExportJob:
    """What every exporter needs: where to write, the plan, the parity inputs and references, the options,
    and the report it fills (artifact path → parity and format facts; ``skipped``: opt-in artifacts not made)."""

    tmp: pathlib.Path
    plan: ExportPlan
    precisions: tuple[str, ...]
    opset: int
    inputs: dict[str, dict[str, dict[str, np.ndarray]]]
    refs: dict[str, dict[str, dict[str, np.ndarray]]]
    batches: list[dict[str, np.ndarray]]
    rng: np.random.Generator
    log: Callable[[str], None]
    report: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)


def _take(batch: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[idx] for k, v in batch.items()}


def _compare_outputs(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], precision: str) -> dict[str, Any]:
    return parity_lib.merge([parity_lib.compare(ref[k], got[k], precision) for k in ref])


def write_onnx(job: ExportJob) -> None:
    """fp32 ONNX of every function, dynamic batch and batch 1, each checked for TensorRT's op set and parity."""
    from jaxrobot.export import onnx_export, tensorrt

    (job.tmp / "onnx").mkdir()
    for f in job.plan.functions:
        for batch, suffix in ((None, ""), (1, ".b1")):
            t = time.perf_counter()
            model = onnx_export.to_onnx(f, opset=job.opset, batch=batch)
            rel = f"onnx/{f.name}{suffix}.onnx"
            profile = tensorrt.require_supported(model, rel)
            data = model.SerializeToString()
            (job.tmp / rel).write_bytes(data)
            runner = onnx_export.OnnxRunner(data)
            tags = ("b1", "bN") if batch is None else ("b1",)
            res = parity_lib.merge([_compare_outputs(job.refs[tag][f.name], runner(job.inputs[tag][f.name]), "fp32")
                                    for tag in tags])
            job.report[rel] = dict(format="onnx", precision="fp32", function=f.name,
                                   batch="dynamic" if batch is None else batch, opset=job.opset,
                                   tensorrt_profile=profile, op_types=onnx_export.op_types(model), gated=True, **res)
            job.log(f"  {rel}: max_abs_err {res['max_abs_err']:.2e} ({'ok' if res['ok'] else 'FAIL'}, "
                f"{time.perf_counter() - t:.1f}s)")


def write_tflite(job: ExportJob) -> None:
    """TFLite of every function at each precision (dynamic batch, batch 1 where that fails); fp32/fp16 gated."""
    from jaxrobot.export import tflite_export

    (job.tmp / "tflite").mkdir()
    for f in job.plan.functions:
        static_reason = None  # set once the dynamic-batch conversion of f has failed
        precisions = job.precisions
        if f.fp32_only:  # written in fp32 whatever was asked (the runtime runs it at every precision)
            for precision in (p for p in precisions if p != "fp32"):
                job.skipped[f"tflite/{f.name}.{precision}.tflite"] = f.fp32_only
                job.log(f"  tflite/{f.name}.{precision}.tflite: skipped (fp32 only: {f.fp32_only[:120]})")
            precisions = ("fp32",)
        for precision in precisions:
            if precision == "int8_full" and not f.full_int8:
                job.skipped[f"tflite/{f.name}.int8_full.tflite"] = f"full int8 is not offered for {f.name}"
                job.log(f"  tflite/{f.name}.int8_full.tflite: skipped (full int8 is not offered for {f.name})")
                continue
            t = time.perf_counter()
            rep = _representative(job, f) if precision == "int8_full" else None
            rel = f"tflite/{f.name}.{precision}.tflite"
            try:
                if static_reason is None:
                    try:
                        data = tflite_export.to_tflite(f, precision, rep)
                    except ExportError as e:
                        static_reason = str(e)
                        job.log(f"  tflite/{f.name}: dynamic batch does not convert ({static_reason[:160]}); "
                            f"exporting batch 1")
                if static_reason is not None:
                    data = tflite_export.to_tflite(f, precision, rep, batch=1)
                tags = ("b1",) if static_reason else ("b1", "bN")
                if precision == "int8_full":
                    outs = tflite_export.run_isolated(data, {tag: job.inputs[tag][f.name] for tag in tags})
                else:
                    runner = tflite_export.TFLiteRunner(data)
                    outs = {tag: runner(job.inputs[tag][f.name]) for tag in tags}
            except ExportError as e:
                if precision != "int8_full":
                    raise
                job.skipped[rel] = str(e)  # opt-in and never gated: report and go on
                job.log(f"  {rel}: not written: {str(e)[:200]}")
                continue
            (job.tmp / rel).write_bytes(data)
            res = parity_lib.merge([_compare_outputs(job.refs[tag][f.name], outs[tag], precision) for tag in tags])
            job.report[rel] = dict(format="tflite", precision="int8" if precision.startswith("int8") else precision,
                               quantization={"int8": "dynamic_range", "int8_full": "full_integer"}.get(precision),
                               function=f.name, batch=1 if static_reason else "dynamic",
                               gated=precision in ("fp32", "fp16"), **res)
            if static_reason:
                job.report[rel]["dynamic_batch_error"] = static_reason[:500]
            job.log(f"  {rel}: max_abs_err {res['max_abs_err']:.2e} "
                f"({'ok' if res['ok'] else 'FAIL'}{'' if job.report[rel]['gated'] else ', reported only'}, "
                f"{time.perf_counter() - t:.1f}s)")


def _representative(job: ExportJob, f) -> list[dict[str, np.ndarray]]:
    """Batch-1 calibration samples for full int8, drawn from real training batches."""
    samples = []
    for batch in job.batches:
        n = len(next(iter(batch.values())))
        for i in range(n):
            inp = job.plan.sample_inputs(_take(batch, slice(i, i + 1)), job.rng)[f.name]
            samples.append({k: np.asarray(v) for k, v in inp.items()})
    return samples[:64]


#: format -> exporter, in the order a bundle is written
EXPORTERS: dict[str, Callable[[ExportJob], None]] = {"onnx": write_onnx, "tflite": write_tflite}
