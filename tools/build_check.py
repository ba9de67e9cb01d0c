"""Check that the root Bazel BUILD names every module, package and test (stdlib only, no Bazel needed).

Fails (exit 1), listing each problem with a ready-to-paste fix, when:
- a Python module under ``jaxrobot/`` is in the ``srcs`` of no BUILD target;
- a data file under ``jaxrobot/`` (XML scenes, JSON, licences) is in no target's ``data``;
- a package directory (a folder under ``jaxrobot/`` holding ``.py`` files) has no ``py_library`` of its own;
- a test file ``tests/**/test_*.py`` has no ``py_test``/``py_pytest`` target;
- a target names a file that does not exist, or a ``py_pytest`` target is not named after its file;
- a library or test imports a repository module that its deps do not bring into the runfiles (Bazel would
  then raise ImportError inside the test sandbox). Imports inside functions are exempt when the edge would
  close a dependency cycle (Bazel forbids cycles; such lazy imports exist precisely to break them);
- a ``py_library`` is missing from the ``jaxrobot_all`` aggregate that the CLI binary and CLI tests use.

The BUILD file is read as the Python subset Starlark shares with it (lists, strings, ``+``, ``glob()``,
top-level constants); ``glob()`` follows Bazel: ``*`` within one path segment, ``**`` across segments,
files only, never into another Bazel package (a folder with its own BUILD) or a ``.bazelignore`` path.

Usage: python tools/build_check.py [--root DIR]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

PY_RULES = {"py_library", "py_binary", "py_test", "py_pytest"}
FILE_RULES = PY_RULES | {"filegroup"}
AGGREGATE = "jaxrobot_all"
# A test that mentions these may reach any package at run time (CLI subcommands are imported by name,
# subprocesses import whatever they run, experiment files import the models they configure), so it
# must depend on the aggregate of every library.
DYNAMIC_MARKERS = ("jaxrobot.cli", "subprocess", "experiments")


@dataclass
class Target:
    rule: str
    name: str
    srcs: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    main: str | None = None

    def files(self) -> list[str]:
        return self.srcs + [d for d in self.data if not d.startswith((":", "//", "@"))]


# ---------------------------------------------------------------- files and glob()


def bazelignored(root: str) -> set[str]:
    path = os.path.join(root, ".bazelignore")
    if not os.path.isfile(path):
        return set()
    with open(path) as f:
        return {line.strip().strip("/") for line in f if line.strip() and not line.startswith("#")}


def package_files(root: str) -> list[str]:
    """Every file of the root Bazel package, as a '/'-separated path relative to ``root``."""
    ignored = bazelignored(root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel = "" if rel == "." else rel
        keep = []
        for d in dirnames:
            sub = f"{rel}/{d}" if rel else d
            full = os.path.join(dirpath, d)
            if (d.startswith(".") or d.startswith("bazel-") or d == "__pycache__" or sub in ignored
                    or os.path.isfile(os.path.join(full, "BUILD"))
                    or os.path.isfile(os.path.join(full, "BUILD.bazel"))):
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        out += [f"{rel}/{n}" if rel else n for n in sorted(filenames) if not n.endswith(".pyc")]
    return out


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Bazel glob pattern to a regex: ``*``/``?`` stay within a segment, ``**`` spans segments."""
    segments = pattern.split("/")
    parts = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            parts.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
            continue
        body = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in seg)
        parts.append(body if last else body + "/")
    return re.compile("".join(parts) + r"\Z")


def glob(files: list[str], include: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    inc = [glob_regex(p) for p in include]
    exc = [glob_regex(p) for p in exclude]
    return [f for f in files if any(r.match(f) for r in inc) and not any(r.match(f) for r in exc)]


# ---------------------------------------------------------------- BUILD parsing


class BuildError(Exception):
    pass


def _eval(node: ast.AST, env: dict[str, object], files: list[str]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, env, files) for e in node.elts]
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return {_eval(k, env, files): _eval(v, env, files) for k, v in pairs}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _eval(node.left, env, files) + _eval(node.right, env, files)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise BuildError(f"line {node.lineno}: unknown name {node.id}")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "glob":
        args = [_eval(a, env, files) for a in node.args]
        kw = {k.arg: _eval(k.value, env, files) for k in node.keywords}
        include = args[0] if args else kw.get("include", [])
        exclude = args[1] if len(args) > 1 else kw.get("exclude", [])
        return glob(files, include, exclude)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "select":
        return []  # conservatively: a select() contributes nothing this check can rely on
    raise BuildError(f"line {getattr(node, 'lineno', '?')}: cannot evaluate {ast.dump(node)[:80]}")


def parse_build(text: str, files: list[str]) -> dict[str, Target]:
    """Targets of the root BUILD by name (only rules that carry files: py_* and filegroup)."""
    tree = ast.parse(text, filename="BUILD")
    env: dict[str, object] = {}
    targets: dict[str, Target] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            env[stmt.targets[0].id] = _eval(stmt.value, env, files)
            continue
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)):
            continue
        rule = stmt.value.func.id
        if rule not in FILE_RULES:
            continue
        kw = {k.arg: k.value for k in stmt.value.keywords if k.arg}
        name = _eval(kw["name"], env, files)
        t = Target(rule=rule, name=name)
        for attr in ("srcs", "data", "deps"):
            if attr in kw:
                setattr(t, attr, list(_eval(kw[attr], env, files)))
        if "main" in kw:
            t.main = _eval(kw["main"], env, files)
        if rule == "py_pytest":  # the macro in tools/bazel/pytest.bzl: srcs is the file named like the target
            t.srcs = [name + ".py"] + t.srcs
        if name in targets:
            raise BuildError(f"target {name!r} defined twice")
        targets[name] = t
    return targets


def local_label(label: str) -> str | None:
    """``:x`` or ``//:x`` -> ``x``; labels of other packages/repositories -> None."""
    if label.startswith("//:"):
        return label[3:]
    if label.startswith(":"):
        return label[1:]
    return None


# ---------------------------------------------------------------- imports


def imports_of(path: str) -> list[tuple[str, bool]]:
    """(module, at_top_level) for every absolute import in a file; ``from a import b`` yields a and a.b."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                out.append((child.module, top))
                out.extend((f"{child.module}.{a.name}", top) for a in child.names if a.name != "*")
            visit(child, inner)

    visit(tree, True)
    return out


def module_files(module: str, known: set[str]) -> list[str]:
    """Repository files that importing ``module`` executes: each enclosing ``__init__``, then the module."""
    parts = module.split(".")
    out = []
    for i in range(1, len(parts) + 1):
        base = "/".join(parts[:i])
        if f"{base}/__init__.py" in known:
            out.append(f"{base}/__init__.py")
        elif f"{base}.py" in known and i == len(parts):
            out.append(f"{base}.py")
        elif i < len(parts) and f"{base}.py" in known:
            out.append(f"{base}.py")  # `from a.mod import name`: name is an attribute, not a module
            break
        else:
            break
    return out


# ---------------------------------------------------------------- the check


def check(root: str) -> tuple[list[str], str]:
    files = package_files(root)
    known = set(files)
    build_path = os.path.join(root, "BUILD")
    if not os.path.isfile(build_path):
        return ["no BUILD file at the repository root"], ""
    with open(build_path, encoding="utf-8") as f:
        targets = parse_build(f.read(), files)
    problems: list[str] = []

    owners: dict[str, list[str]] = {}
    for t in targets.values():
        for src in t.files():
            owners.setdefault(src, []).append(t.name)
        for src in t.srcs:
            if src not in known and not src.startswith(("//", "@", ":")):
                problems.append(f"target //:{t.name} names {src}, which does not exist")

    libraries = {n: t for n, t in targets.items() if t.rule == "py_library"}
    py_owned = {src for t in targets.values() if t.rule in PY_RULES for src in t.srcs}

    # 1. Modules and packages under jaxrobot/.
    modules = [f for f in files if f.startswith("jaxrobot/") and f.endswith(".py")]
    for m in modules:
        if m not in py_owned:
            problems.append(f"module {m} is in the srcs of no BUILD target")
    for f in files:
        if f.startswith("jaxrobot/") and not f.endswith(".py") and f not in owners:
            problems.append(f"data file {f} is in no BUILD target (add it to its package's py_library data)")
    package_dirs = sorted({_dir(m) for m in modules})
    for d in package_dirs:
        # Its own library, or (when parent and child import each other) the library of an ancestor.
        own = [n for n, t in libraries.items()
               if (n == d or d.startswith(n + "/"))
               and all(m in t.srcs for m in modules if _dir(m) == d and m != CATALOG)]
        if not own:
            problems.append(f"package {d}/ has no py_library of its own; add:\n"
                            + suggest_library(d, root, known, libraries))

    # 2. Test files.
    tests = [f for f in files if f.startswith("tests/") and os.path.basename(f).startswith("test_")
             and f.endswith(".py")]
    test_targets = {n: t for n, t in targets.items() if t.rule in ("py_test", "py_pytest")}
    tested = {src for t in test_targets.values() for src in t.srcs}
    closure = _closures(targets)
    for tf in tests:
        if tf not in tested:
            stanza = suggest_test(tf, root, known, libraries, owners, closure)
            problems.append(f"test {tf} has no py_test target; add:\n{stanza}")
    for n, t in test_targets.items():
        if t.rule == "py_pytest" and n + ".py" not in known:
            problems.append(f"py_pytest //:{n} has no file {n}.py (targets are named after their file)")

    # 3. The aggregate knows every library.
    if AGGREGATE in libraries:
        listed = {local_label(d) for d in libraries[AGGREGATE].deps}
        for n in libraries:
            if n != AGGREGATE and n not in listed:
                problems.append(f"py_library //:{n} is missing from the deps of //:{AGGREGATE}")
    else:
        problems.append(f"no py_library //:{AGGREGATE} (the aggregate of every library)")

    # 4. Imports are covered by deps (so the runfiles hold them).
    for n, t in targets.items():
        if t.rule not in PY_RULES:
            continue
        is_test = t.rule in ("py_test", "py_pytest")
        reported: set[frozenset[str]] = set()
        for src in _scanned_sources(t, known):
            for need, top in _needed_targets(root, src, known, owners, transitive=is_test):
                if n in need or need & closure[n] or frozenset(need) in reported:
                    continue
                if t.rule == "py_pytest" and need == {"test_support"}:
                    continue  # the py_pytest macro adds :test_support (helpers, conftests) to every test
                cyclic = any(n in closure.get(o, set()) for o in need)
                if not top and cyclic:
                    continue  # lazy import that breaks a cycle
                reported.add(frozenset(need))
                providers = " or ".join("//:" + o for o in sorted(need))
                problems.append(f"//:{n} ({src}) imports code of {providers} but does not depend on it")
        if t.rule in ("py_test", "py_pytest") and AGGREGATE not in closure[n]:
            for src in t.srcs:
                if src in known and src.startswith("tests/") and _mentions_dynamic(os.path.join(root, src)):
                    problems.append(f"//:{n} uses the CLI, subprocesses or experiment files; "
                                    f"add \":{AGGREGATE}\" to its deps")
    summary = (f"build-check: ok: {len(modules)} modules in {len(package_dirs)} packages and "
               f"{len(tests)} test files are named by {len(libraries)} py_library and "
               f"{len(test_targets)} py_test targets")
    return problems, summary


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _scanned_sources(t: Target, known: set[str]) -> list[str]:
    """Python files whose imports a target needs: its srcs, plus for tests every conftest.py pytest loads."""
    srcs = [s for s in t.srcs if s in known and s.endswith(".py")]
    extra: list[str] = []
    if t.rule in ("py_test", "py_pytest"):
        for src in srcs:
            parts = src.split("/")[:-1]
            extra += [f"{'/'.join(parts[:i])}/conftest.py" for i in range(1, len(parts) + 1)
                      if f"{'/'.join(parts[:i])}/conftest.py" in known]
    return list(dict.fromkeys(srcs + extra))


def _closures(targets: dict[str, Target]) -> dict[str, set[str]]:
    """Targets reachable from each target through deps and data (excluding itself unless on a cycle)."""
    edges = {n: {local_label(x) for x in t.deps + t.data} - {None} for n, t in targets.items()}
    out: dict[str, set[str]] = {}
    for n in targets:
        seen: set[str] = set()
        stack = list(edges[n])
        while stack:
            x = stack.pop()
            if x in seen or x not in edges:
                continue
            seen.add(x)
            stack.extend(edges[x])
        out[n] = seen
    return out


def _needed_targets(root: str, src: str, known: set[str], owners: dict[str, list[str]],
                    transitive: bool) -> list[tuple[set[str], bool]]:
    """For each repository file an import in ``src`` executes: the set of targets that provide it, and
    whether the import is at module top level. With ``transitive`` (tests), the imports of imported
    repository modules are followed too, lazy ones included, since a test may run any of them."""
    # Importing a module first runs the __init__.py of every enclosing package.
    own_module = src[:-3].replace("/", ".")
    out = [(set(owners[f]), True) for f in module_files(own_module, known) if f in owners and f != src]
    seen = {src}
    stack = [(src, True)]
    while stack:
        path, top_chain = stack.pop()
        for module, top in imports_of(os.path.join(root, path)):
            for f in module_files(module, known):
                if f in owners:
                    out.append((set(owners[f]), top and top_chain))
                if transitive and f not in seen:
                    seen.add(f)
                    stack.append((f, top and top_chain))
        if not transitive:
            break
    return out


def _mentions_dynamic(path: str) -> bool:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return any(m in text for m in DYNAMIC_MARKERS)


def _library_name(directory: str) -> str:
    """Libraries are named after their package directory: //:jaxrobot/data/rlds."""
    return directory


def _deps_for(py_files: list[str], root: str, known: set[str], self_dir: str | None,
              libraries: dict[str, Target]) -> list[str]:
    """Libraries providing what ``py_files`` import: the existing owner, else one named after the folder."""
    names: set[str] = set()
    for src in py_files:
        for module, _top in imports_of(os.path.join(root, src)):
            for f in module_files(module, known):
                d = f.rsplit("/", 1)[0]
                if d == self_dir or not f.startswith("jaxrobot/"):
                    continue
                owner = [n for n, t in libraries.items() if f in t.srcs and n != AGGREGATE]
                names.add(owner[0] if owner else _library_name(d))
    return sorted(f'":{n}"' for n in names)


def suggest_library(directory: str, root: str, known: set[str], libraries: dict[str, Target]) -> str:
    srcs = [f for f in known if f.startswith(directory + "/") and "/" not in f[len(directory) + 1:]
            and f.endswith(".py")]
    deps = _deps_for(sorted(srcs), root, known, directory, libraries)
    parent = directory.rsplit("/", 1)[0]
    if "/" in directory and f'":{_library_name(parent)}"' not in deps:
        deps.insert(0, f'":{_library_name(parent)}"')
    return (f'    py_library(\n        name = "{_library_name(directory)}",\n'
            f'        srcs = glob(["{directory}/*.py"]),\n'
            f'        data = glob(["{directory}/**"], exclude = ["{directory}/**/*.py"] + PYCACHE),\n'
            f'        deps = [{", ".join(deps)}],\n    )\n'
            f'    and add ":{_library_name(directory)}" to the deps of ":{AGGREGATE}"')


def suggest_test(test_file: str, root: str, known: set[str], libraries: dict[str, Target],
                 owners: dict[str, list[str]], closure: dict[str, set[str]]) -> str:
    """A py_pytest stanza whose deps cover every library the test reaches, lazy imports included."""
    needed = set()
    conftests = _scanned_sources(Target("py_pytest", test_file[:-3], srcs=[test_file]), known)
    for need, _top in [x for src in conftests for x in _needed_targets(root, src, known, owners, transitive=True)]:
        libs = sorted(n for n in need if n in libraries and n != AGGREGATE)
        if libs:
            needed.add(libs[0])
    minimal = {n for n in needed if not any(n in closure[m] for m in needed if m != n)}
    deps = sorted(f'":{n}"' for n in minimal) or _deps_for([test_file], root, known, None, libraries)
    if _mentions_dynamic(os.path.join(root, test_file)):
        deps = [f'":{AGGREGATE}"']
    name = test_file[:-3]
    return f'    py_pytest(\n        name = "{name}",\n        deps = [{", ".join(deps)}],\n    )'


# ---------------------------------------------------------------- regeneration (--write)

_HEADER = """# Bazel build of jaxrobot: one py_library per Python package, one py_test per test file.
#
#   PATH=$PWD/.venv/bin:$PATH bazel test //...     (or: make bazel-test)
#   python tools/build_check.py                    (or: make build-check; CI runs it)
#   python tools/build_check.py --write            (rewrites this file from the tree and its imports)
#
# Third-party packages (jax, flax, TensorFlow...) come from the venv on PATH, not from Bazel.
# Library srcs are globs per package directory, so a new module is picked up by itself; library deps mirror
# the imports (packages import each other without cycles, checked by `make lint`), test deps cover every
# library a test reaches. build_check.py fails when a target is missing or an import is not covered;
# `--write` regenerates the whole file. jaxrobot/catalog.py (imports every package) has a target of its own.

load("//tools/bazel:pytest.bzl", "py_pytest")

package(default_visibility = ["//visibility:public"])

PYCACHE = ["**/__pycache__/**"]

# ---------------------------------------------------------------- libraries
"""

_FOOTER_LIBS = """
# bazel run //:cli -- --help
py_binary(
    name = "cli",
    srcs = ["//tools/bazel:jaxrobot_main.py"],
    main = "//tools/bazel:jaxrobot_main.py",
    python_version = "PY3",
    deps = [":jaxrobot_all"],
)

# ---------------------------------------------------------------- tests

# What every test sees besides its own file: pytest configuration (pyproject.toml), conftest.py files,
# helpers, test data, and the experiment/pipeline/runtime folders tests load by path.
filegroup(
    name = "test_support",
    srcs = glob(
        [
            "pyproject.toml",
            "tests/**",
            "experiments/**",
            "data_pipelines/**",
            "export/**",
            "bench/**",
        ],
        exclude = ["tests/**/test_*.py"] + PYCACHE,
    ),
)

# One target per test file, named after its path: bazel test //:tests/data/test_sampler
"""

CATALOG = "jaxrobot/catalog.py"


def _module_target(f: str) -> str:
    """The library that owns repository module ``f`` in the generated BUILD."""
    if f == CATALOG:
        return CATALOG[:-3]
    return _dir(f)


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _stanza_list(items: list[str]) -> str:
    if not items:
        return "[]"
    if len(items) == 1:
        return f"[{items[0]}]"
    return "[\n" + "".join(f"        {x},\n" for x in items) + "    ]"


def generate(root: str) -> str:
    """The whole BUILD file for the tree at ``root``."""
    files = package_files(root)
    known = set(files)
    modules = sorted(f for f in files if f.startswith("jaxrobot/") and f.endswith(".py"))
    dirs = sorted({_dir(m) for m in modules})
    # Package-level graph; a package and a sub-package that import each other (sim/registry imports the
    # tasks, the tasks import sim/env) form one target, named after the outermost one (Bazel forbids cycles).
    units = dirs + [CATALOG[:-3]]
    edges: dict[str, set[str]] = {u: set() for u in units}
    for m in modules:
        for module, _top in imports_of(os.path.join(root, m)):
            for f in module_files(module, known):
                if f.startswith("jaxrobot/") and _module_target(f) != _module_target(m):
                    edges[_module_target(m)].add(_module_target(f))
    for d in dirs:
        if "/" in d and _dir(d) in edges:
            edges[d].add(_dir(d))  # importing a module runs its parent package's __init__
    merged = {u: u for u in units}
    for comp in _strongly_connected(edges):
        head = min(comp, key=lambda x: (x.count("/"), x))
        for u in comp:
            merged[u] = head
    libs: dict[str, tuple[list[str], list[str]]] = {}  # name -> (member packages, deps)
    for u in units:
        members, deps = libs.setdefault(merged[u], ([], []))
        members.append(u)
        deps.extend(merged[e] for e in edges[u] if merged[e] != merged[u])
    libs = {n: (members, sorted(set(deps))) for n, (members, deps) in libs.items()}
    out = [_HEADER]
    for d, (members, deps) in libs.items():
        if d == CATALOG[:-3]:
            srcs = f'["{CATALOG}"]'
            data = None
        elif d == "jaxrobot":
            srcs = f'glob(["jaxrobot/*.py"], exclude = ["{CATALOG}"])'
            data = 'glob(["jaxrobot/*"], exclude = ["jaxrobot/*.py"])'
        else:
            srcs = "glob([" + ", ".join(f'"{m}/*.py"' for m in members) + "])"
            data = "glob([" + ", ".join(f'"{m}/**"' for m in members) + "], exclude = [" + ", ".join(
                f'"{m}/**/*.py"' for m in members) + "] + PYCACHE)"
        body = f'py_library(\n    name = "{d}",\n    srcs = {srcs},\n'
        if data:
            body += f"    data = {data},\n"
        if deps:
            body += f"    deps = {_stanza_list([chr(34) + ':' + x + chr(34) for x in deps])},\n"
        out.append(body + ")\n")
    out.append("# Every library: what the CLI binary and the tests that run the CLI or spawn subprocesses depend on.\n"
               f'py_library(\n    name = "{AGGREGATE}",\n    deps = '
               f"{_stanza_list([chr(34) + ':' + x + chr(34) for x in libs])},\n)\n")
    text = "\n".join(out) + _FOOTER_LIBS
    targets = parse_build(text, files)
    libraries = {n: t for n, t in targets.items() if t.rule == "py_library"}
    owners: dict[str, list[str]] = {}
    for t in targets.values():
        for src in t.files():
            owners.setdefault(src, []).append(t.name)
    closure = _closures(targets)
    tests = sorted(f for f in files if f.startswith("tests/") and os.path.basename(f).startswith("test_")
                   and f.endswith(".py"))
    stanzas = []
    for tf in tests:
        stanza = textwrap.dedent(suggest_test(tf, root, known, libraries, owners, closure))
        if tf == "tests/test_bazel_smoke.py":  # it reads the checker itself
            stanza = stanza.replace("    deps =", '    data = ["tools/build_check.py"],\n    deps =', 1)
        stanzas.append(stanza + "\n")
    return text + "\n".join(stanzas)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="repository root (default: the one holding this script)")
    parser.add_argument("--add-tests", nargs="*", metavar="PATH", default=None,
                        help="append the suggested py_pytest targets for test files under these paths "
                             "(all missing test files when no path is given) to BUILD, then check again")
    parser.add_argument("--write", action="store_true", help="regenerate BUILD from the tree, then check it")
    args = parser.parse_args(argv)
    if args.write:
        with open(os.path.join(args.root, "BUILD"), "w") as f:
            f.write(generate(args.root))
    if args.add_tests is not None:
        try:
            problems, _ = check(args.root)
        except (BuildError, SyntaxError) as e:
            print(f"build-check: cannot read BUILD: {e}", file=sys.stderr)
            return 2
        added = []
        for p in problems:
            if not (p.startswith("test ") and " has no py_test target; add:\n" in p):
                continue
            test_file = p.split()[1]
            if args.add_tests and not any(test_file.startswith(prefix) for prefix in args.add_tests):
                continue
            added.append(textwrap.dedent(p.split("add:\n", 1)[1]))
        if added:
            with open(os.path.join(args.root, "BUILD"), "a") as f:
                f.write("\n" + "\n\n".join(added) + "\n")
        print(f"build-check: added {len(added)} test target(s) to BUILD")
    try:
        problems, summary = check(args.root)
    except (BuildError, SyntaxError) as e:
        print(f"build-check: cannot read BUILD: {e}", file=sys.stderr)
        return 2
    if problems:
        print(f"build-check: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"- {p}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
