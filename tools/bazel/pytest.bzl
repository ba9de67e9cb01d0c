"""``py_pytest``: one Bazel ``py_test`` that runs one pytest file through tools/bazel/pytest_runner.py."""

def py_pytest(name, deps = [], data = [], size = "medium", timeout = "long", tags = [], args = [], **kwargs):
    """A py_test named after its file: ``py_pytest(name = "tests/data/test_rlds")`` runs tests/data/test_rlds.py.

    The runner starts pytest in the runfiles tree, so ``pyproject.toml`` (markers, addopts) and every
    ``tests/**/conftest.py`` (the ``:test_support`` filegroup, always added) apply as under ``make test``.
    """
    src = name + ".py"
    native.py_test(
        name = name,
        srcs = [src, "//tools/bazel:pytest_runner.py"],
        main = "//tools/bazel:pytest_runner.py",
        args = [src] + args,
        data = ["//:test_support"] + data,
        deps = deps,
        python_version = "PY3",
        srcs_version = "PY3",
        size = size,
        timeout = timeout,
        tags = tags,
        **kwargs
    )
