"""The package's shape (the layout issue): no import cycles, tables of objects, the command line on top.

Counting as the issue does: every import statement, lazy ones inside functions included, except those under
``if TYPE_CHECKING:``; ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a/b/__init__``.
``make lint`` checks the layer order between packages (import-linter contracts in pyproject.toml); this
checks modules, which import-linter's contracts do not.
"""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "jaxrobot"


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_pkg: bool, known: set[str]):
        self.module, self.is_pkg, self.known, self.found = module, is_pkg, known, set()

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for n in node.orelse:
                self.visit(n)
            return
        self.generic_visit(node)

    def _add(self, name: str) -> None:
        if name in self.known and name != self.module:
            self.found.add(name)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            self._add(a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            base = base if self.is_pkg else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        for a in node.names:
            sub = f"{mod}.{a.name}"
            self._add(sub if sub in self.known else mod)


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        v = _Imports(name, path.name == "__init__.py", set(mods))
        v.visit(ast.parse(path.read_text()))
        graph[name] = v.found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            comp.append(v)
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_between_top_level_packages():
    graph = import_graph()
    top = {}
    for a, bs in graph.items():
        for b in bs:
            pa, pb = a.split(".")[1:2], b.split(".")[1:2]
            if pa and pb and pa != pb:
                top.setdefault(pa[0], set()).add(pb[0])
    assert cycles(top) == []


def test_no_library_module_imports_the_command_line():
    graph = import_graph()
    offenders = sorted(a for a, bs in graph.items()
                       if not a.startswith("jaxrobot.cli") and any(b.startswith("jaxrobot.cli") for b in bs))
    assert offenders == []


def test_modules_are_imported_by_name_only_in_the_command_line():
    pattern = re.compile(r"\bimport_module\(|\b__import__\(")
    offenders = [str(p.relative_to(ROOT)) for p in PKG.rglob("*.py")
                 if pattern.search(p.read_text()) and "cli" not in p.relative_to(PKG).parts[:1]]
    assert offenders == []


def test_tables_hold_objects():
    from jaxrobot.data import datasets
    from jaxrobot.export.exporters import EXPORTERS
    from jaxrobot.models.registry import CONFIGS, MODELS
    from jaxrobot.sim import registry

    assert all(isinstance(cls, type) for cls in MODELS.values()) and set(MODELS) == set(CONFIGS)
    assert all(CONFIGS[k].kind == k for k in CONFIGS)
    assert all(isinstance(registry._TASKS[t][0], type) for t in registry.tasks())
    assert set(EXPORTERS) == {"onnx", "tflite"} and all(callable(f) for f in EXPORTERS.values())
    assert "bridge_dataset" in datasets.list_entries()
