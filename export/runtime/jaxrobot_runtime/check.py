"""``check``: run every artifact of a bundle on its stored real inputs and compare with the stored
``jax.jit`` outputs, with the export's tolerances (normalised outputs):

- fp32: every element within ``1e-4 + 1e-5 * |ref|``;
- fp16: the largest error within 5e-2 of the output scale ``max(max|ref|, 1)``;
- int8: reported only (must be finite).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxrobot_runtime import backends
from jaxrobot_runtime.bundle import Bundle

FP32_ATOL, FP32_RTOL = 1e-4, 1e-5
FP16_REL = 5e-2


def compare(ref: np.ndarray, out: np.ndarray, precision: str) -> dict[str, Any]:
    ref, out = np.asarray(ref, np.float64), np.asarray(out, np.float64)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": float("inf"), "max_rel_err": float("inf"),
                "reason": f"shape {out.shape} != {ref.shape}"}
    err = np.abs(out - ref)
    scale = max(float(np.abs(ref).max(initial=0.0)), 1.0)
    finite = bool(np.isfinite(out).all())
    res = {"max_abs_err": float(err.max(initial=0.0)), "max_rel_err": float(err.max(initial=0.0) / scale)}
    if precision == "fp32":
        res["ok"] = finite and bool(np.all(err <= FP32_ATOL + FP32_RTOL * np.abs(ref)))
    elif precision == "fp16":
        res["ok"] = finite and res["max_rel_err"] <= FP16_REL
    else:
        res["ok"] = finite
    return res


def check_bundle(bundle: Bundle | str, backends_wanted: list[str] | None = None,
                 providers=None) -> dict[str, Any]:
    """``{"ok": bool, "artifacts": {file: {...}}, "bad_files": [...], "skipped": {file: reason}}``."""
    bundle = bundle if isinstance(bundle, Bundle) else Bundle(bundle)
    have = set(backends.available())
    wanted = set(backends_wanted) if backends_wanted else {"onnx", "tflite"}
    bad_files = bundle.verify_files()
    results, skipped = {}, {}
    for rel, art in sorted(bundle.artifacts.items()):
        fmt = art["format"]
        if fmt not in wanted:
            continue
        if fmt not in have:
            skipped[rel] = f"no {fmt} backend installed (pip install 'jaxrobot-runtime[{fmt}]')"
            continue
        runner = bundle.open(rel, providers=providers if fmt == "onnx" else None)
        tags = ["b1"] if art.get("batch") == 1 else ["b1", "bN"]
        per = []
        for tag in tags:
            inputs = bundle.example(tag, art["function"], "in")
            refs = bundle.example(tag, art["function"], "out")
            got = runner(inputs)
            for name, ref in refs.items():
                per.append(compare(ref, got[name], art["precision"]))
        results[rel] = {"format": fmt, "precision": art["precision"], "function": art["function"],
                        "ok": all(r["ok"] for r in per), "gated": art["precision"] in ("fp32", "fp16"),
                        "max_abs_err": max(r["max_abs_err"] for r in per),
                        "max_rel_err": max(r["max_rel_err"] for r in per)}
    ok = not bad_files and bool(results) and all(r["ok"] for r in results.values())
    return {"ok": ok, "artifacts": results, "bad_files": bad_files, "skipped": skipped}
