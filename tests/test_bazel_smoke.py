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
    assert os.path.abspath(jaxrobot.__file__).startswith(os.path.abspath(runfiles) + os.sep), jaxrobot.__file__
