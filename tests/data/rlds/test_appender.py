"""EpisodeAppender: each commit readable by tfds, appends, crash leftovers cleaned, one appender per dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import RldsDataset, write_rlds
from jaxrobot.data.rlds.appender import DatasetInUse, EpisodeAppender

FEATURES = {
    "steps/observation/image": {"shape": (None, 8, 8, 3), "dtype": "uint8", "encoding": "png"},
    "steps/observation/state": {"shape": (None, 4), "dtype": "float32"},
    "steps/action": {"shape": (None, 2), "dtype": "float32"},
    "steps/is_first": {"shape": (None,), "dtype": "bool"},
    "steps/is_last": {"shape": (None,), "dtype": "bool"},
    "episode_metadata/operator": {"shape": (), "dtype": "string"},
}


def _episode(i: int) -> dict:
    rng = np.random.default_rng(i)
    t = 3 + i % 4
    return {"steps/observation/image": rng.integers(0, 255, (t, 8, 8, 3), dtype=np.uint8),
            "steps/observation/state": rng.normal(size=(t, 4)).astype(np.float32),
            "steps/action": rng.normal(size=(t, 2)).astype(np.float32),
            "steps/is_first": np.arange(t) == 0, "steps/is_last": np.arange(t) == t - 1,
            "episode_metadata/operator": f"op{i}"}


def _tfds_read(path: str) -> list[dict]:
    import tensorflow_datasets as tfds

    builder = tfds.builder_from_directory(path)
    return [tfds.as_numpy(ep) | {"steps": list(tfds.as_numpy(ep["steps"]))}
            for ep in builder.as_dataset(split="train")]


def test_every_commit_is_a_complete_dataset_for_tfds_and_appending_continues(tmp_path):
    path = None
    for i in range(3):
        with EpisodeAppender(str(tmp_path), "rec", features=FEATURES, metadata={"n": i}) as app:
            assert app.num_episodes == i
            assert app.existing_metadata() == ({"n": i - 1} if i else {})
            app.update_metadata({"n": i})
            assert app.append(_episode(i)) == i
            path = app.path
        eps = _tfds_read(path)  # a reader in another library sees exactly the committed episodes
        assert len(eps) == i + 1
    ds = RldsDataset(path)
    assert len(ds) == 3
    for i in range(3):
        want = _episode(i)
        np.testing.assert_array_equal(ds[i]["steps/observation/image"], want["steps/observation/image"])
        np.testing.assert_array_equal(ds[i]["steps/action"], want["steps/action"])
        assert ds[i]["episode_metadata/operator"] in (b"op%d" % i, f"op{i}")
    assert ds.metadata == {"n": 2}
    assert sorted(f for f in os.listdir(path) if f.startswith("rec-")) == [
        f"rec-train.tfrecord-{i:05d}" for i in range(3)]


def test_a_shard_renamed_in_but_never_listed_is_removed_at_the_next_open(tmp_path):
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        app.append(_episode(0))
        path = app.path
    # What a writer killed between the shard rename and the dataset_info.json replace leaves behind.
    orphan = os.path.join(path, "rec-train.tfrecord-00001")
    with open(orphan, "wb") as f:
        f.write(b"half")
    tmp = os.path.join(path, ".dataset_info.json.tmp-host-1")
    with open(tmp, "w") as f:
        f.write("{")
    assert len(_tfds_read(path)) == 1  # readers never see it
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        assert sorted(app.removed) == sorted([orphan, tmp])
        assert app.append(_episode(1)) == 1
    assert len(_tfds_read(path)) == 2


def test_other_features_or_a_one_piece_dataset_are_refused(tmp_path):
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        app.append(_episode(0))
    other = dict(FEATURES, **{"steps/action": {"shape": (None, 3), "dtype": "float32"}})
    with pytest.raises(DataError, match=r"other features .*steps/action"):
        EpisodeAppender(str(tmp_path), "rec", features=other).open()
    write_rlds(str(tmp_path), "whole", [_episode(0), _episode(1)], features=FEATURES, progress=False)
    with pytest.raises(DataError, match="written in one piece"):
        EpisodeAppender(str(tmp_path), "whole", features=FEATURES).open()


def test_one_appender_per_dataset_and_the_lock_dies_with_its_process(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time, json; from jaxrobot.data.rlds.appender import EpisodeAppender; "
        f"a = EpisodeAppender({str(tmp_path)!r}, 'rec', features=json.loads({json.dumps(json.dumps(FEATURES))})); "
        "a.open(); print('held', flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DatasetInUse, match=f"PID {holder.pid}"):
            EpisodeAppender(str(tmp_path), "rec", features=FEATURES).open()
        with pytest.raises(DataError):  # the CLI reports it as bad input
            EpisodeAppender(str(tmp_path), "rec", features=FEATURES).open()
    finally:
        holder.kill()
        holder.wait()
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        app.append(_episode(0))


def test_a_failed_first_commit_leaves_no_dataset(tmp_path):
    bad = dict(_episode(0), **{"steps/action": np.zeros((3, 5), np.float32)})
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        with pytest.raises(DataError):
            app.append(bad)
        assert app.num_episodes == 0
    assert not os.path.exists(os.path.join(tmp_path, "rec", "1.0.0"))
    assert [n for n in os.listdir(os.path.join(tmp_path, "rec")) if "incomplete" in n] == []


def test_a_recording_stops_before_the_shard_names_would_widen(tmp_path, monkeypatch):
    from jaxrobot.data.rlds import appender

    monkeypatch.setattr(appender, "MAX_EPISODES", 3)
    with EpisodeAppender(str(tmp_path), "rec", features=FEATURES) as app:
        app.append(_episode(0))
        app.append(_episode(1))
        with pytest.raises(DataError, match="at most 2"):
            app.append(_episode(2))
    assert len(_tfds_read(app.path)) == 2
