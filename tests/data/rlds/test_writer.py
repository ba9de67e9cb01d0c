"""write_rlds: round trips through tfds and the numpy reader, shard naming, atomicity, bad episodes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import RldsDataset, write_rlds

# A fractal20220817_data-like layout: the action is a dict of tensors; plus depth as PNG and a BGR camera.
FEATURES = {
    "steps/observation/image": {"shape": (None, 24, 32, 3), "dtype": "uint8", "encoding": "jpeg"},
    "steps/observation/depth": {"shape": (None, 24, 32, 1), "dtype": "uint16", "encoding": "png"},
    "steps/observation/state": {"shape": (None, 5), "dtype": "float32", "encoding": "tensor"},
    "steps/action/world_vector": {"shape": (None, 3), "dtype": "float32", "encoding": "tensor"},
    "steps/action/rotation_delta": {"shape": (None, 3), "dtype": "float32", "encoding": "tensor"},
    "steps/action/gripper_closedness_action": {"shape": (None, 1), "dtype": "float32", "encoding": "tensor"},
    "steps/action/terminate_episode": {"shape": (None, 3), "dtype": "int32", "encoding": "tensor"},
    "steps/reward": {"shape": (None,), "dtype": "float64", "encoding": "scalar"},
    "steps/is_first": {"shape": (None,), "dtype": "bool", "encoding": "scalar"},
    "steps/is_last": {"shape": (None,), "dtype": "bool", "encoding": "scalar"},
    "steps/language_instruction": {"shape": (None,), "dtype": "string", "encoding": "text"},
    "episode_metadata/file_path": {"shape": (), "dtype": "string", "encoding": "text"},
    "episode_metadata/episode_id": {"shape": (), "dtype": "int64", "encoding": "scalar"},
    "episode_metadata/success": {"shape": (), "dtype": "bool", "encoding": "scalar"},
}


def _episodes(n=5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = int(rng.integers(1, 7))
        # smooth gradients, so JPEG stays within a few levels
        s, y, x, c = np.meshgrid(np.arange(t), np.arange(24), np.arange(32), np.arange(3), indexing="ij")
        img = (40 + 3 * x + 2 * y + 20 * c + 5 * s + i).astype(np.uint8)
        out.append({
            "steps/observation/image": img,
            "steps/observation/depth": rng.integers(0, 65535, (t, 24, 32, 1), dtype=np.uint16),
            "steps/observation/state": rng.normal(size=(t, 5)).astype(np.float32),
            "steps/action/world_vector": rng.normal(size=(t, 3)).astype(np.float32),
            "steps/action/rotation_delta": rng.normal(size=(t, 3)).astype(np.float32),
            "steps/action/gripper_closedness_action": rng.uniform(-1, 1, (t, 1)).astype(np.float32),
            "steps/action/terminate_episode": np.tile(np.array([0, 1, 0], np.int32), (t, 1)),
            "steps/reward": np.linspace(0, 1, t),  # float64: stored as float32, as tfds does
            "steps/is_first": np.arange(t) == 0,
            "steps/is_last": np.arange(t) == t - 1,
            "steps/language_instruction": [f"pick the {i} block \u00e9"] * t,
            "episode_metadata/file_path": f"/data/ep_{i}.h5",
            "episode_metadata/episode_id": np.int64(1_000_000_000_000 + i),
            "episode_metadata/success": bool(i % 2),
        })
    return out


def _check_against_input(got, want):
    for k, v in want.items():
        if k == "steps/observation/image":
            assert got[k].shape == v.shape and np.abs(got[k].astype(int) - v).mean() < 3, k
        elif k == "steps/language_instruction":
            assert got[k].tolist() == [s.encode() for s in v]
        elif k == "episode_metadata/file_path":
            assert got[k].item() == v.encode()
        elif k == "steps/reward":
            assert got[k].dtype == np.float64 and np.array_equal(got[k], v.astype(np.float32).astype(np.float64))
        else:
            assert np.array_equal(got[k], np.asarray(v)), k
            assert got[k].dtype == np.dtype(FEATURES[k]["dtype"]), k


def test_round_trip_through_tfds_and_numpy_reader(tmp_path):
    eps = _episodes(5)
    path = write_rlds(str(tmp_path), "my_robot", eps, features=FEATURES, split="train",
                      description="test data", citation="@misc{x}", max_episodes_per_shard=2, progress=False)
    assert path == os.path.join(str(tmp_path), "my_robot", "1.0.0")
    assert sorted(os.listdir(path)) == ["dataset_info.json", "features.json"] + [
        f"my_robot-train.tfrecord-0000{i}-of-00003" for i in range(3)]
    mine = list(RldsDataset(path))
    theirs = list(RldsDataset(path, backend="tf"))
    assert len(mine) == len(theirs) == 5
    for a, b, want in zip(mine, theirs, eps, strict=True):
        assert a.keys() == b.keys() == want.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        _check_against_input(a, want)
    ds = RldsDataset(path)
    assert ds.episode_lengths().tolist() == [len(e["steps/is_first"]) for e in eps]
    spec = ds.feature_spec()
    assert spec == {k: {"shape": v["shape"], "dtype": v["dtype"], "encoding": v["encoding"]}
                    for k, v in FEATURES.items()}
    # tfds sees the metadata too
    import tensorflow_datasets as tfds

    info = tfds.builder_from_directory(path).info
    assert info.splits["train"].num_examples == 5 and info.description == "test data"


def test_copy_of_bridge_is_identical(tmp_path, bridge_path):
    """Re-writing the real sample (encoded frames passed through) reads back identical."""
    src = RldsDataset(bridge_path, decode_images=False)
    path = write_rlds(str(tmp_path), "bridge_copy", src, features=src.feature_spec(), progress=False)
    for a, b in zip(RldsDataset(path, decode_images=False), src, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k], b[k]), k


def test_index_shard_names_and_several_splits(tmp_path):
    eps = _episodes(4)
    path = write_rlds(str(tmp_path), "toy", {"train": eps[:3], "val": eps[3:]}, features=FEATURES,
                      shard_names="index", progress=False)
    assert "toy-train.tfrecord-00000" in os.listdir(path)
    assert RldsDataset(path).splits == {"train": 3, "val": 1}
    val = RldsDataset(path, split="val")
    _check_against_input(val.episode(0), eps[3])
    both = list(RldsDataset(path, split="train+val", keys=["episode_metadata/episode_id"]))
    assert [int(e["episode_metadata/episode_id"]) for e in both] == [1_000_000_000_000 + i for i in range(4)]


def test_crash_mid_write_leaves_no_dataset(tmp_path):
    def gen():
        yield from _episodes(3)
        raise RuntimeError("simulator died")

    with pytest.raises(RuntimeError, match="simulator died"):
        write_rlds(str(tmp_path), "crashy", gen(), features=FEATURES, max_episodes_per_shard=1, progress=False)
    assert os.listdir(tmp_path) == []


def test_bad_episode_is_named_and_leaves_nothing(tmp_path):
    eps = _episodes(3)
    eps[2]["steps/observation/state"] = eps[2]["steps/observation/state"][:, :4]
    with pytest.raises(DataError, match=r"episode 2: feature 'steps/observation/state' has shape"):
        write_rlds(str(tmp_path), "bad", eps, features=FEATURES, progress=False)
    eps = _episodes(2)
    del eps[1]["steps/is_last"]
    with pytest.raises(DataError, match=r"episode 1: missing keys \['steps/is_last'\]"):
        write_rlds(str(tmp_path), "bad", eps, features=FEATURES, progress=False)
    eps = _episodes(2)
    eps[0]["steps/is_last"] = eps[0]["steps/is_last"][:-1]
    with pytest.raises(DataError, match="episode 0: per-step features disagree"):
        write_rlds(str(tmp_path), "bad", eps, features=FEATURES, progress=False)
    assert os.listdir(tmp_path) == []


def test_existing_target_needs_overwrite(tmp_path):
    write_rlds(str(tmp_path), "toy", _episodes(1), features=FEATURES, progress=False)
    with pytest.raises(DataError, match="already exists"):
        write_rlds(str(tmp_path), "toy", _episodes(2), features=FEATURES, progress=False)
    path = write_rlds(str(tmp_path), "toy", _episodes(2), features=FEATURES, progress=False, overwrite=True)
    assert len(RldsDataset(path)) == 2
    assert sorted(os.listdir(tmp_path / "toy")) == ["1.0.0"]


def test_per_step_shapes_without_leading_none(tmp_path):
    feats = {"steps/observation/image": {"shape": (8, 8, 3), "dtype": "uint8"},
             "steps/action": {"shape": (2,), "dtype": "float32"}}
    ep = {"steps/observation/image": np.zeros((4, 8, 8, 3), np.uint8),
          "steps/action": np.ones((4, 2), np.float32)}
    path = write_rlds(str(tmp_path), "mini", [ep], features=feats, progress=False)
    ds = RldsDataset(path)
    assert ds.feature_spec()["steps/observation/image"] == {"shape": (None, 8, 8, 3), "dtype": "uint8",
                                                            "encoding": "jpeg"}
    assert ds.episode(0)["steps/action"].shape == (4, 2)


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_orphans_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    """A writer killed outright leaves ``.<version>.incomplete-<host>-<pid>-<id>``; the next write to the same
    dataset removes those whose PID is dead on this host, and keeps live writers', other hosts', other
    versions' and old-style (no PID) folders."""
    import subprocess

    from jaxrobot.data.rlds import fs

    host = fs.process_tag().rsplit("-", 1)[0]
    toy = tmp_path / "toy"
    dead = [toy / f".1.0.0.incomplete-{host}-{_dead_pid()}-0123abcd",
            toy / f".1.0.0.old-{host}-{_dead_pid()}-89abcdef"]
    live = subprocess.Popen(["sleep", "60"])
    try:
        keep = [toy / f".1.0.0.incomplete-{host}-{live.pid}-00000000",
                toy / f".1.0.0.incomplete-{host}-{os.getpid()}-11111111",
                toy / f".1.0.0.incomplete-another-host-{_dead_pid()}-22222222",
                toy / f".2.0.0.incomplete-{host}-{_dead_pid()}-33333333",
                toy / ".1.0.0.incomplete-44444444"]
        for d in dead + keep:
            d.mkdir(parents=True)
            (d / ".train.shard00000.tmp").write_bytes(b"half a shard")
        path = write_rlds(str(tmp_path), "toy", _episodes(1), features=FEATURES, progress=False)
        assert len(RldsDataset(path)) == 1
        assert not any(d.exists() for d in dead)
        assert all(d.exists() for d in keep)
        assert sorted(os.listdir(toy)) == sorted(["1.0.0"] + [d.name for d in keep])
    finally:
        live.kill()
        live.wait()


def test_temporary_folder_names_its_writer(tmp_path, monkeypatch):
    """While a write runs, its temporary folder carries this host and PID (what the clean-up relies on)."""
    from jaxrobot.data.rlds import fs

    seen = []

    def eps():
        seen.extend(os.listdir(tmp_path / "toy"))
        yield from _episodes(1)

    write_rlds(str(tmp_path), "toy", eps(), features=FEATURES, progress=False)
    (name,) = seen
    assert name.startswith(f".1.0.0.incomplete-{fs.process_tag()}-")
