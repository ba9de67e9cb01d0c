"""Artifact-versus-``jax.jit`` comparison on normalised model outputs, with the export's tolerances.

- fp32: every element within ``1e-4 + 1e-5 * |ref|`` (absolute plus relative, ``np.allclose`` style);
- fp16: the largest error within 5e-2 of the output's scale (``max|ref|``, floored at 1): elementwise
  relative error is meaningless near zero, and fp16 weights move every output a little;
- int8 (dynamic range or full): reported, never gated.

The runtime package has its own copy of these numbers (``jaxrobot_runtime.check``), so a bundle's
``check`` agrees with the export that wrote it; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FP32_ATOL, FP32_RTOL = 1e-4, 1e-5
FP16_REL = 5e-2


def compare(ref: np.ndarray, out: np.ndarray, precision: str) -> dict[str, Any]:
    """Error numbers of ``out`` against ``ref`` and whether they pass at ``precision``."""
    ref = np.asarray(ref, np.float64)
    out = np.asarray(out, np.float64)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": float("inf"), "reason": f"shape {out.shape} != {ref.shape}"}
    err = np.abs(out - ref)
    scale = max(float(np.abs(ref).max(initial=0.0)), 1.0)
    res: dict[str, Any] = {
        "max_abs_err": float(err.max(initial=0.0)),
        "mean_abs_err": float(err.mean()) if err.size else 0.0,
        "max_rel_err": float(err.max(initial=0.0) / scale),
        "finite": bool(np.isfinite(out).all()),
    }
    if precision == "fp32":
        res["tolerance"] = f"|err| <= {FP32_ATOL} + {FP32_RTOL} * |ref|"
        res["ok"] = bool(res["finite"] and np.all(err <= FP32_ATOL + FP32_RTOL * np.abs(ref)))
    elif precision == "fp16":
        res["tolerance"] = f"max|err| <= {FP16_REL} * max(max|ref|, 1)"
        res["ok"] = bool(res["finite"] and res["max_rel_err"] <= FP16_REL)
    else:
        res["tolerance"] = "reported only"
        res["ok"] = bool(res["finite"])
    return res


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst case over several comparisons (batches, outputs)."""
    out = {"ok": all(r["ok"] for r in results)}
    for key in ("max_abs_err", "max_rel_err"):
        out[key] = max(r[key] for r in results)
    out["mean_abs_err"] = float(np.mean([r.get("mean_abs_err", 0.0) for r in results]))
    out["tolerance"] = results[0].get("tolerance", "")
    return out
