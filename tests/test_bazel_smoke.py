"""Smoke test for the Bazel build: the package imports from the tree under test and configs override.

Under ``bazel test`` it also checks that ``jaxrobot`` comes from the test's runfiles (the source tree
Bazel staged) rather than from the venv's editable install, so Bazel really tests what it built.
"""

from __future__ import annotations

import dataclasses
import os
from typing import ClassVar

import pytest

import jaxrobot
import jaxrobot.config as jconfig


@dataclasses.dataclass(frozen=True)
class _Inner(jconfig.Config):
    kind: ClassVar[str] = "test_bazel_smoke.inner"
    lr: float = 1e-3
    name: str = "adamw"


@dataclasses.dataclass(frozen=True)
class _Outer(jconfig.Config):
    kind: ClassVar[str] = "test_bazel_smoke.outer"
    steps: int = 10
    inner: _Inner = _Inner()

    def check(self) -> None:
        jconfig.require(self.steps > 0, "steps", "must be positive")


def test_override_parses_values_by_field_type():
    cfg = jconfig.override(_Outer(), "inner.lr=3e-4")
    cfg = jconfig.override(cfg, "steps=25")
    assert cfg == _Outer(steps=25, inner=_Inner(lr=3e-4))
    assert isinstance(cfg.steps, int) and isinstance(cfg.inner.lr, float)
    assert jconfig.from_json(jconfig.to_json(cfg)) == cfg


def test_override_errors_name_the_field():
    with pytest.raises(jconfig.ConfigError, match="inner.nope"):
        jconfig.override(_Outer(), "inner.nope=1")
    with pytest.raises(jconfig.ConfigError, match="steps"):
        jconfig.validate(jconfig.override(_Outer(), "steps=0"))


@pytest.mark.skipif("TEST_SRCDIR" not in os.environ, reason="only meaningful under bazel test")
def test_bazel_imports_the_staged_tree():
    runfiles = os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"])
    here = os.path.abspath(jaxrobot.__file__)
    assert here.startswith(os.path.abspath(runfiles) + os.sep), here


# ---------------------------------------------------------------- tools/build_check.py on a toy repository


def _build_check():
    """tools/build_check.py as a module (tools/ is not a package); under bazel, the runfiles copy."""
    import importlib.util
    import sys

    if "build_check" not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools", "build_check.py")
        spec = importlib.util.spec_from_file_location("build_check", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_check"] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules["build_check"]


_TOY_BUILD = """
load("//tools/bazel:pytest.bzl", "py_pytest")
PYCACHE = ["**/__pycache__/**"]
py_library(name = "jaxrobot", srcs = glob(["jaxrobot/*.py"]))
py_library(
    name = "jaxrobot/data",
    srcs = glob(["jaxrobot/data/*.py"]),
    data = glob(["jaxrobot/data/**"], exclude = ["jaxrobot/data/**/*.py"] + PYCACHE),
    deps = [":jaxrobot"],
)
py_library(name = "jaxrobot_all", deps = [":jaxrobot", ":jaxrobot/data"])
filegroup(name = "test_support", srcs = glob(["tests/**"], exclude = ["tests/**/test_*.py"]))
py_pytest(name = "tests/data/test_a", deps = [":jaxrobot/data"])
"""


def _toy_repo(tmp_path, build=_TOY_BUILD):
    files = {
        "BUILD": build,
        "jaxrobot/__init__.py": "",
        "jaxrobot/config.py": "import os\n",
        "jaxrobot/data/__init__.py": "",
        "jaxrobot/data/a.py": "from jaxrobot.config import os\n",
        "jaxrobot/data/scene.xml": "<mujoco/>",
        "tests/conftest.py": "",
        "tests/data/test_a.py": "import jaxrobot.data.a\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_build_check_accepts_a_complete_build(tmp_path):
    problems, summary = _build_check().check(str(_toy_repo(tmp_path)))
    assert problems == []
    assert "4 modules in 2 packages and 1 test files" in summary


def test_build_check_names_what_is_missing(tmp_path):
    bc = _build_check()
    root = _toy_repo(tmp_path)
    (root / "jaxrobot/models").mkdir()
    (root / "jaxrobot/models/__init__.py").write_text("")
    (root / "jaxrobot/data/b.py").write_text("import jaxrobot.models\n")  # new module: globbed, new import
    (root / "tests/data/test_b.py").write_text("")
    problems, _ = bc.check(str(root))
    text = "\n".join(problems)
    assert "module jaxrobot/models/__init__.py is in the srcs of no BUILD target" in text
    assert "package jaxrobot/models/ has no py_library" in text
    assert "test tests/data/test_b.py has no py_test target" in text
    assert 'name = "tests/data/test_b"' in text  # the stanza to paste
    assert "jaxrobot/data/b.py" not in text.split("imports code")[0]  # b.py itself is covered by the glob
    assert bc.main(["--root", str(root)]) == 1


def test_build_check_requires_deps_and_allows_cycle_breaking_lazy_imports(tmp_path):
    bc = _build_check()
    root = _toy_repo(tmp_path, _TOY_BUILD.replace('    deps = [":jaxrobot"],\n', ""))
    problems, _ = bc.check(str(root))
    assert len(problems) == 2, problems  # the library, and the test that reaches it through the library
    assert problems[0].startswith("//:jaxrobot/data (jaxrobot/data/")
    assert problems[1].startswith("//:tests/data/test_a (tests/data/test_a.py)")
    assert all(p.endswith("imports code of //:jaxrobot but does not depend on it") for p in problems)
    # A function-level import from the root package back into data closes a cycle: allowed.
    root = _toy_repo(tmp_path)
    (root / "jaxrobot/cli.py").write_text("def main():\n    from jaxrobot.data import a\n")
    assert bc.check(str(root))[0] == []


def test_glob_follows_bazel_semantics():
    bc = _build_check()
    files = ["a/x.py", "a/b/y.py", "a/b/c/z.xml", "a/__pycache__/x.pyc"]
    assert bc.glob(files, ["a/*.py"]) == ["a/x.py"]
    assert bc.glob(files, ["a/**/*.py"]) == ["a/x.py", "a/b/y.py"]
    assert bc.glob(files, ["a/**"], ["a/**/*.py", "**/__pycache__/**"]) == ["a/b/c/z.xml"]
