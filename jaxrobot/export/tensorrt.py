"""Will TensorRT take this ONNX graph? An op and opset check run on every ONNX export.

The supported-op table is data (``tensorrt_ops.json``, transcribed from onnx-tensorrt's
``docs/operators.md``; see its ``_source``). Two profiles: ``tensorrt-10`` (JetPack 6.1, TensorRT 10.3:
opsets 9-20) for opset 18-20 exports and ``tensorrt-8.5`` (JetPack 5: opsets up to 17, no ellipsis or
diagonal Einsum) for opset 17 exports. Only the ONNX default domain is accepted (custom domains such as
``com.microsoft`` need plugins).
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

from jaxrobot.export.errors import ExportError

TABLE_PATH = pathlib.Path(__file__).with_name("tensorrt_ops.json")


@functools.cache
def table() -> dict[str, Any]:
    return json.loads(TABLE_PATH.read_text())


def profile_for_opset(opset: int) -> str:
    return "tensorrt-8.5" if opset <= 17 else "tensorrt-10"


def _nodes(graph: Any, path: str = ""):
    for node in graph.node:
        yield node, path
        for attr in node.attribute:
            subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
            for g in subs:
                yield from _nodes(g, f"{path}{node.op_type}({node.name}).{attr.name}/")


def _einsum_equation(node) -> str:
    for attr in node.attribute:
        if attr.name == "equation":
            return attr.s.decode()
    return ""


def check(model, profile: str | None = None) -> list[dict[str, str]]:
    """Problems TensorRT would hit, as ``[{"op", "node", "reason"}]`` (empty when the graph is fine)."""
    opsets = {o.domain or "": o.version for o in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx", 0))
    prof_name = profile or profile_for_opset(opset)
    prof = table()["profiles"][prof_name]
    supported = set(prof["supported"]) - set(prof.get("newer_than_target", []))
    problems = []
    if not prof["min_opset"] <= opset <= prof["max_opset"]:
        problems.append({"op": "<opset>", "node": "",
                         "reason": f"opset {opset} is outside {prof['min_opset']}-{prof['max_opset']} ({prof_name})"})
    seen = set()
    for node, path in _nodes(model.graph):
        name = f"{path}{node.name}"
        if node.domain not in ("", "ai.onnx"):
            reason = f"custom domain {node.domain!r} (needs a TensorRT plugin)"
        elif node.op_type not in supported:
            reason = f"not supported by {prof['description']}"
        elif prof_name == "tensorrt-8.5" and node.op_type == "Einsum" and "..." in _einsum_equation(node):
            reason = f"Einsum with an ellipsis ({_einsum_equation(node)!r}) is rejected by TensorRT 8.x"
        else:
            continue
        if (node.op_type, reason) in seen:
            continue
        seen.add((node.op_type, reason))
        problems.append({"op": node.op_type, "node": name, "reason": reason})
    return problems


def require_supported(model, what: str, profile: str | None = None) -> str:
    """Raise :class:`ExportError` naming each offending op; return the profile checked."""
    problems = check(model, profile)
    opsets = {o.domain or "": o.version for o in model.opset_import}
    prof = profile or profile_for_opset(opsets.get("", 0))
    if problems:
        lines = "; ".join(f"{p['op']} (node {p['node']!r}): {p['reason']}" for p in problems)
        raise ExportError(f"{what}: TensorRT check ({prof}) failed: {lines}")
    return prof
