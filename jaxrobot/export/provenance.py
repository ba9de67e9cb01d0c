"""Where an op comes from: map a primitive named in a converter's error back to the model code.

Converters fail naming a JAX primitive (jax2onnx: "No plugins registered for primitive 'x'") or an MLIR
op; the jaxpr of the exported function knows, for every equation, the Flax module path (its name stack,
e.g. ``ACTNet/encoder/layers_0/attn``) and the source line. This module walks the jaxpr, sub-jaxprs
included, and answers "which equations use primitive p, and where".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any


def _eqns(jaxpr) -> Iterator[Any]:
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _eqns(inner)


def primitive_sites(fn: Callable, args: list[Any]) -> dict[str, list[str]]:
    """``{primitive: ["<module path> at <file:line (function)>", ...]}`` for ``fn(*args)``."""
    import jax
    from jax._src import source_info_util

    closed = jax.make_jaxpr(fn)(*args)
    sites: dict[str, list[str]] = {}
    for eqn in _eqns(closed.jaxpr):
        where = str(eqn.source_info.name_stack) or "<top level>"
        site = f"{where} at {source_info_util.summarize(eqn.source_info)}"
        lst = sites.setdefault(eqn.primitive.name, [])
        if site not in lst:
            lst.append(site)
    return sites


_QUOTED = re.compile(r"""['"`]([A-Za-z_][\w.]*)['"`]""")
# MLIR (jax2tf / TFLiteConverter): "error: 'vhlo.dynamic_gather_v1' op is not part of the vhlo support yet"
_MLIR_OP = re.compile(r"error: '([\w.]+)' op ([^\n]*)")
# ... loc(callsite("jit(wrapped)/ACTNet/gather"(callsite("ACTNet.__call__"("/path/act.py":275:16) ...
_FILE_LINE_OP = re.compile(r"(/[^\s:\"]+\.py)\"?:(\d+):\d+: error: '([\w.]+)' op")
_MLIR_LOC = re.compile(r'"jit\([^)]*\)/([^"]*)"\(callsite\("([^"]+)"\("([^"]+)":(\d+):\d+\)')


def explain_failure(error: BaseException, fn: Callable, args: list[Any], converter: str) -> str:
    """A one-paragraph message: the converter's complaint, the op it names, and where that op comes from."""
    text = f"{type(error).__name__}: {error}".strip()
    first = text.splitlines()[0][:300] if text else type(error).__name__
    mlir = _MLIR_OP.search(text)
    if mlir:
        op, why = mlir.groups()
        loc = _MLIR_LOC.search(text)
        where = ""
        if loc:
            stack, func, path, line = loc.groups()
            module_path, _, prim = stack.rpartition("/")
            where = f" (primitive {prim!r} in {module_path or '<top level>'}, {func} at {path}:{line})"
        else:
            fl = _FILE_LINE_OP.search(text)
            if fl:
                path, line = fl.group(1), fl.group(2)
                where = f" (at {path}:{line})"
                try:
                    sites = primitive_sites(fn, args)
                except Exception:  # noqa: BLE001
                    sites = {}
                hits = [f"{p!r} in {site}" for p, lst in sites.items() for site in lst if f"{path}:{line}:" in site]
                if hits:
                    where = f" (primitive {'; '.join(hits[:2])})"
        return f"{converter} cannot convert op {op!r}{where}: {op} op {why.strip()}"
    try:
        sites = primitive_sites(fn, args)
    except Exception:  # the function itself does not trace: report the converter's words only
        sites = {}
    named = [n for n in dict.fromkeys(_QUOTED.findall(text)) if n in sites]
    if not named:
        return f"{converter} cannot convert the model: {first}"
    parts = []
    for p in named[:3]:
        where = "; ".join(sites[p][:3]) + (f" (+{len(sites[p]) - 3} more)" if len(sites[p]) > 3 else "")
        parts.append(f"op {p!r} from {where}")
    return f"{converter} cannot convert {', '.join(parts)}: {first}"
