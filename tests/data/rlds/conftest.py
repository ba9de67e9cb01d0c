"""Fixtures for the RLDS format tests: the real Bridge sample and a TF-read reference of it."""

from __future__ import annotations

import pathlib
import shutil

import pytest

BRIDGE = (pathlib.Path(__file__).resolve().parents[2] / "testdata" / "bridge_dataset_octo_debug"
          / "bridge_dataset" / "1.0.0")
BRIDGE_SHARD = "bridge_dataset-train.tfrecord-00000-of-00001"


@pytest.fixture(scope="session")
def bridge_path() -> str:
    """The tests/testdata copy of Octo's 25-episode BridgeData V2 debug dataset (read-only!)."""
    assert (BRIDGE / "dataset_info.json").exists(), BRIDGE
    return str(BRIDGE)


@pytest.fixture
def bridge_copy(tmp_path) -> pathlib.Path:
    """A private, writable copy of the Bridge sample (for corrupting or renaming files)."""
    dst = tmp_path / "bridge_dataset" / "1.0.0"
    shutil.copytree(BRIDGE, dst)
    return dst


@pytest.fixture(scope="session")
def bridge_tf_episodes(bridge_path):
    """All Bridge episodes read through tfds/tf.data (the reference reader); imports TensorFlow once."""
    from jaxrobot.data.rlds.reader import RldsDataset

    return list(RldsDataset(bridge_path, backend="tf"))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Keep the readers' shard-index cache out of the user's cache folder during these tests."""
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path_factory.getbasetemp() / "jaxrobot_cache"))
