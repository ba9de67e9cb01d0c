"""``check``: run every artifact of a bundle on its stored real inputs and compare with the stored
``jax.jit`` outputs, with the export's tolerances (normalised outputs):

- fp32: every element within ``1e-4 + 1e-5 * |ref|``;
- fp16: the largest error within 5e-2 of the output scale ``max(max|ref|, 1)``;
- int8: reported only (must be finite).

Before any model runs, the bundle is verified against its ``MANIFEST.json`` (unless ``verify=False``); a
bundle that fails verification is reported (``bad_files``, ``problems``) and none of its models are run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxrobot_runtime import backends, manifest
from jaxrobot_runtime.bundle import Bundle
from jaxrobot_runtime.errors import BundleIntegrityError

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


def _failed(problems: dict[str, str], error: str) -> dict[str, Any]:
    return {"ok": False, "verified": True, "artifacts": {}, "bad_files": list(problems), "problems": problems,
            "skipped": {}, "error": error}


def check_bundle(bundle: Bundle | str, backends_wanted: list[str] | None = None,
                 providers=None, verify: bool = True) -> dict[str, Any]:
    """``{"ok": bool, "verified": bool, "artifacts": {file: {...}}, "bad_files": [...],
    "problems": {file: what is wrong}, "skipped": {file: reason}}`` (plus ``"error"`` when verification
    failed). ``verify=False`` skips the hashes (``verified`` is then False) and only compares outputs."""
    if not isinstance(bundle, Bundle):
        try:
            bundle = Bundle(bundle, verify=verify)
        except BundleIntegrityError as e:
            return _failed(e.problems, str(e))
    elif verify:
        found = manifest.problems(bundle.path)
        if found:
            return _failed(found, str(BundleIntegrityError(str(bundle.path), found)))
    have = set(backends.available())
    wanted = set(backends_wanted) if backends_wanted else {"onnx", "tflite"}
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
    ok = bool(results) and all(r["ok"] for r in results.values())
    return {"ok": ok, "verified": bool(verify), "artifacts": results, "bad_files": [], "problems": {},
            "skipped": skipped}
