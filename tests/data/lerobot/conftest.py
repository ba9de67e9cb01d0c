"""pytest fixtures of the LeRobot tests (data and helpers in :mod:`tests.data.lerobot.fixtures`)."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.data.lerobot.fixtures import V21, V30


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(params=["v30", "v21"])
def fixture_root(request) -> pathlib.Path:
    """Each of the two fixtures (read-only!)."""
    return {"v30": V30, "v21": V21}[request.param]


@pytest.fixture
def v30_copy(tmp_path) -> pathlib.Path:
    """A private, writable copy of the v3.0 fixture (for breaking it)."""
    return pathlib.Path(shutil.copytree(V30, tmp_path / "lerobot_tiny_v30"))


@pytest.fixture
def v21_copy(tmp_path) -> pathlib.Path:
    """A private, writable copy of the v2.1 fixture."""
    return pathlib.Path(shutil.copytree(V21, tmp_path / "lerobot_tiny_v21"))
