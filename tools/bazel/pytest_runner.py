"""Run one pytest file as a Bazel ``py_test`` (the ``main`` of every test target in the root BUILD).

Bazel starts this script inside the test's runfiles tree, whose root mirrors the repository (the
source files the target depends on, ``pyproject.toml``, ``tests/conftest.py``...). Running pytest
from there keeps markers, ``addopts`` and conftest fixtures exactly as ``make test`` sees them, and
makes ``import jaxrobot`` resolve to the runfiles copy of the source tree rather than whatever the
venv has installed.

Arguments are the test file(s) followed by any ``--test_arg`` values. ``--all`` (e.g.
``bazel test //... --test_arg=--all``) also runs tests marked ``slow``. Bazel's ``--test_filter``
becomes ``pytest -k``; results go to Bazel's JUnit XML file so ``bazel-testlogs`` has per-test detail.
"""

from __future__ import annotations

import os
import sys

# Pytest's exit code when every test was deselected (e.g. a file holding only slow tests).
_NO_TESTS_COLLECTED = 5


def _workspace_root() -> str:
    """The runfiles directory of this workspace: ``<runfiles>/<workspace>/``, without following symlinks."""
    srcdir, workspace = os.environ.get("TEST_SRCDIR"), os.environ.get("TEST_WORKSPACE")
    if srcdir and workspace:
        return os.path.join(srcdir, workspace)
    # Not under `bazel test` (e.g. `bazel run`): this file sits at <root>/tools/bazel/.
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_args(argv: list[str], env: dict[str, str]) -> list[str]:
    """Command line for pytest from the target's args and Bazel's test environment."""
    args = [a for a in argv if a != "--all"]
    if len(args) != len(argv):
        args += ["-m", "slow or not slow"]
    # Runfiles are a read-only tree of symlinks: keep pytest's cache out of it.
    args = ["-p", "no:cacheprovider", *args]
    if env.get("XML_OUTPUT_FILE"):
        args.append(f"--junitxml={env['XML_OUTPUT_FILE']}")
    if env.get("TEST_TMPDIR"):
        args.append(f"--basetemp={os.path.join(env['TEST_TMPDIR'], 'pytest')}")
    if env.get("TESTBRIDGE_TEST_ONLY"):
        args += ["-k", env["TESTBRIDGE_TEST_ONLY"]]
    return args


def main(argv: list[str]) -> int:
    root = _workspace_root()
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    # Child processes (the CLI, multi-process tests) must import the same source tree.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)

    import pytest

    code = pytest.main(pytest_args(argv, dict(os.environ)))
    if code == _NO_TESTS_COLLECTED:
        print("pytest_runner: every test in this file was deselected (e.g. marked slow); counting as pass")
        return 0
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
