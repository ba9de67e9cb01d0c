"""The TF-free reader against tfds/tf.data on the real Bridge sample, its traps, options and errors."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds.reader import RldsDataset

SHARD = "bridge_dataset-train.tfrecord-00000-of-00001"


def test_numpy_reader_equals_tf_reader(bridge_path, bridge_tf_episodes):
    """Bit-identical arrays, dtypes and shapes for every key; pixels allowed to differ by <= 1."""
    mine = list(RldsDataset(bridge_path))
    assert len(mine) == len(bridge_tf_episodes) == 25
    for i, (a, b) in enumerate(zip(mine, bridge_tf_episodes, strict=True)):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, (i, k)
            if k.startswith("steps/observation/image"):
                assert np.abs(a[k].astype(np.int16) - b[k]).max() <= 1, (i, k)
            else:
                assert np.array_equal(a[k], b[k]), (i, k)
    one = RldsDataset(bridge_path, backend="tf").episode(7)  # random access through tfds split slicing
    assert all(np.array_equal(one[k], bridge_tf_episodes[7][k]) for k in one)


def test_metadata_and_layout(bridge_path):
    ds = RldsDataset(bridge_path)
    assert (ds.name, ds.version, ds.splits, len(ds)) == ("bridge_dataset", "1.0.0", {"train": 25}, 25)
    assert ds.path == bridge_path
    spec = ds.feature_spec()
    assert spec["steps/action"] == {"shape": (None, 7), "dtype": "float32", "encoding": "tensor"}
    ep = ds.episode(0)
    assert set(ep) == set(spec)
    for k, s in spec.items():
        assert ep[k].ndim == len(s["shape"]), k
        assert all(d is None or d == e for d, e in zip(s["shape"], ep[k].shape, strict=True)), k
    assert ep["steps/action"].shape == (10, 7) and ep["steps/action"].dtype == np.float32
    assert ep["steps/observation/image_0"].shape == (10, 64, 64, 3)
    assert ep["steps/language_instruction"].dtype == object
    assert isinstance(ep["steps/language_instruction"][0], bytes)
    assert ep["episode_metadata/file_path"].shape == () and isinstance(ep["episode_metadata/file_path"].item(), bytes)
    assert ds.episode_lengths().tolist() == [10] * 25
    (fp,) = ds.shard_fingerprint()
    assert fp[0] == SHARD and fp[1] == os.path.getsize(os.path.join(bridge_path, SHARD))
    assert RldsDataset(bridge_path, split="train").splits == {"train": 25}


def test_bridge_traps(bridge_path):
    """The sample's documented traps: never trust is_last or has_image_* flags."""
    for ep in RldsDataset(bridge_path):
        assert len(ep["steps/action"]) == 10
        assert not ep["steps/is_last"].any() and not ep["steps/is_terminal"].any()
        assert ep["steps/is_first"].tolist() == [True] + [False] * 9
        assert ep["steps/observation/image_3"].max() == 0
        assert ep["steps/observation/image_0"].std() > 10
        assert not any(ep[f"episode_metadata/has_image_{c}"] for c in range(4))


def test_random_access_equals_file_order(bridge_path):
    ds = RldsDataset(bridge_path, keys=["steps/action", "episode_metadata/episode_id"])
    seq = list(ds)
    for i in (24, 0, 13, -1):
        ep = ds.episode(i)
        assert np.array_equal(ep["steps/action"], seq[i]["steps/action"])
    with pytest.raises(IndexError):
        ds.episode(25)
    assert set(ds.episode(0)) == {"steps/action", "episode_metadata/episode_id"}
    assert ds.locate(7) == (SHARD, 7)


def test_encoded_frames_and_reduced_size(bridge_path):
    raw = RldsDataset(bridge_path, decode_images=False).episode(1)
    frames = raw["steps/observation/image_0"]
    assert frames.dtype == object and frames.shape == (10,) and frames[0][:2] == b"\xff\xd8"
    small = RldsDataset(bridge_path, image_size=(32, 32)).episode(1)["steps/observation/image_0"]
    full = RldsDataset(bridge_path).episode(1)["steps/observation/image_0"]
    assert small.shape == (10, 32, 32, 3) and small.dtype == np.uint8
    # DCT-domain 1/2 decode is close to averaging 2x2 blocks of the full decode
    pooled = full.reshape(10, 32, 2, 32, 2, 3).mean(axis=(2, 4))
    assert np.abs(small - pooled).mean() < 4
    odd = RldsDataset(bridge_path, image_size=(48, 40)).episode(1)["steps/observation/image_1"]
    assert odd.shape == (10, 48, 40, 3)


def test_pickles_for_worker_processes(bridge_path):
    ds = RldsDataset(bridge_path)
    ds.episode(3)
    clone = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(clone.episode(3)["steps/observation/state"], ds.episode(3)["steps/observation/state"])


def test_reading_does_not_import_tensorflow(bridge_path):
    code = (f"import sys; from jaxrobot.data.rlds import RldsDataset; ds = RldsDataset({bridge_path!r}); "
            "ds.episode(0); list(ds); ds.episode_lengths(); "
            "print(sorted(m for m in ('tensorflow', 'tensorflow_datasets', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_sequential_writer_shard_names(bridge_copy, bridge_tf_episodes):
    """A dataset whose shards are named '-00000' (tfds's SequentialWriter) reads through both backends."""
    os.rename(bridge_copy / SHARD, bridge_copy / "bridge_dataset-train.tfrecord-00000")
    info = json.loads((bridge_copy / "dataset_info.json").read_text())
    info["splits"][0]["filepathTemplate"] = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_INDEX}"
    (bridge_copy / "dataset_info.json").write_text(json.dumps(info))
    for backend in ("numpy", "tf"):
        ds = RldsDataset(str(bridge_copy), backend=backend, keys=["steps/action", "episode_metadata/file_path"])
        eps = list(ds)
        assert len(eps) == 25, backend
        for a, b in zip(eps, bridge_tf_episodes, strict=True):
            assert np.array_equal(a["steps/action"], b["steps/action"])
            assert a["episode_metadata/file_path"] == b["episode_metadata/file_path"]


def test_tf_backend_names_the_corrupt_record(bridge_copy):
    from jaxrobot.data.rlds import tfrecord

    idx = tfrecord.index_shard(str(bridge_copy / SHARD))
    with open(bridge_copy / SHARD, "r+b") as f:
        f.seek(int(idx.offsets[2]) + 12 + 100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(DataError, match=rf"{SHARD}: record 2 .*CRC"):
        list(RldsDataset(str(bridge_copy), backend="tf", keys=["steps/action"]))


# ------------------------------------------------------------------------------------------------ errors


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder.*dataset_info.json"):
        RldsDataset(str(tmp_path / "nope"))


def test_parent_folder_explains_data_dir(bridge_path):
    """Passing the TFDS data_dir (the parent of <name>/<version>) says which folder to pass instead."""
    data_dir = os.path.dirname(os.path.dirname(bridge_path))
    with pytest.raises(DataError, match=r"data_dir.*pass the dataset folder itself: .*bridge_dataset/1\.0\.0"):
        RldsDataset(data_dir)
    with pytest.raises(DataError, match=r"bridge_dataset/1\.0\.0"):
        RldsDataset(os.path.dirname(bridge_path))


def test_not_a_dataset(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="not a TFDS dataset folder"):
        RldsDataset(str(tmp_path))
    with pytest.raises(DataError, match="is a file"):
        RldsDataset(str(tmp_path / "x.txt"))


def test_unknown_split_and_key(bridge_path):
    with pytest.raises(DataError, match=r"no split 'val'.*\['train'\]"):
        RldsDataset(bridge_path, split="val")
    with pytest.raises(DataError, match=r"no feature\(s\) \['steps/nope'\].*steps/action"):
        RldsDataset(bridge_path, keys=["steps/nope"])


def test_missing_shard_and_count_mismatch(bridge_copy):
    info = json.loads((bridge_copy / "dataset_info.json").read_text())
    info["splits"][0]["shardLengths"] = ["26"]
    (bridge_copy / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match=rf"{SHARD}: holds 25 records but dataset_info.json says 26"):
        RldsDataset(str(bridge_copy), index_cache=False).episode(0)
    os.remove(bridge_copy / SHARD)
    with pytest.raises(DataError, match=rf"missing: \['{SHARD}'\]"):
        RldsDataset(str(bridge_copy))


def test_index_cache_is_reused_and_checked(bridge_copy):
    from jaxrobot.data.rlds import reader, tfrecord

    first = RldsDataset(str(bridge_copy))
    lengths = first.episode_lengths()
    want = first.episode(4)["steps/action"]

    def no_scan(*a, **k):
        raise AssertionError("the shard was re-indexed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tfrecord, "index_shard", no_scan)
        mp.setattr(reader, "parse_example", no_scan)  # episode lengths come from the cache too
        again = RldsDataset(str(bridge_copy))
        assert again.episode_lengths().tolist() == lengths.tolist()
    assert np.array_equal(again.episode(4)["steps/action"], want)


def _write_with_tfds(root, file_format: str = "tfrecord"):
    """Three episodes (2, 3, 4 steps) written by tfds.core.SequentialWriter, two per shard; the dataset folder."""
    import tensorflow_datasets as tfds

    feats = tfds.features.FeaturesDict({
        "steps": tfds.features.Dataset({
            "observation": {"image": tfds.features.Image(shape=(16, 16, 3), encoding_format="jpeg"),
                            "state": tfds.features.Tensor(shape=(3,), dtype=np.float32)},
            "action": tfds.features.Tensor(shape=(2,), dtype=np.float32),
            "is_first": tfds.features.Scalar(dtype=np.bool_),
            "language_instruction": tfds.features.Text(),
        }),
        "episode_metadata": {"file_path": tfds.features.Text(), "episode_id": tfds.features.Scalar(dtype=np.int32)},
    })
    out = root / "toy" / "1.0.0"
    out.mkdir(parents=True)
    info = tfds.core.DatasetInfo(builder=tfds.core.DatasetIdentity(name="toy", version="1.0.0", data_dir=str(out),
                                                                   module_name=""), features=feats)
    writer = tfds.core.SequentialWriter(info, max_examples_per_shard=2, file_format=file_format)
    writer.initialize_splits(["train"])
    rng = np.random.default_rng(0)
    for i in range(3):
        t = i + 2
        writer.add_examples({"train": [{
            "steps": [{"observation": {"image": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8),
                                       "state": rng.normal(size=3).astype(np.float32)},
                       "action": rng.normal(size=2).astype(np.float32), "is_first": s == 0,
                       "language_instruction": f"task {i}"} for s in range(t)],
            "episode_metadata": {"file_path": f"f{i}", "episode_id": i}}]})
    writer.close_all()
    return out


def test_reads_what_tfds_sequential_writer_wrote(tmp_path, bridge_tf_episodes):
    """tfds.core.SequentialWriter (shards named '-00000') output reads identically through both backends."""
    out = _write_with_tfds(tmp_path)
    assert sorted(p.name for p in out.iterdir() if "tfrecord" in p.name) == ["toy-train.tfrecord-00000",
                                                                            "toy-train.tfrecord-00001"]
    mine, theirs = list(RldsDataset(str(out))), list(RldsDataset(str(out), backend="tf"))
    assert [len(e["steps/action"]) for e in mine] == [2, 3, 4]
    for a, b in zip(mine, theirs, strict=True):
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def test_array_record_reads_through_tfds_data_sources(tmp_path):
    """array_record shards, which the numpy backend cannot frame, read through tfds's random-access data
    sources (backend 'auto' picks 'tf'): the episodes of the same data written as tfrecord."""
    ref = _write_with_tfds(tmp_path / "tfrecord")
    out = _write_with_tfds(tmp_path / "array_record", "array_record")
    assert sorted(p.name for p in out.iterdir() if "array_record" in p.name) == ["toy-train.array_record-00000",
                                                                                "toy-train.array_record-00001"]
    with pytest.raises(DataError, match="backend='tf'"):
        RldsDataset(str(out), backend="numpy")
    for decode in (False, True):
        ds, want = RldsDataset(str(out), decode_images=decode), RldsDataset(str(ref), decode_images=decode)
        assert ds.backend == "tf" and want.backend == "numpy"
        assert ds.episode_lengths().tolist() == [2, 3, 4]
        for a, b in zip([*ds, ds.episode(1), ds.episode(-1)], [*want, want.episode(1), want.episode(2)],
                        strict=True):
            assert a.keys() == b.keys()
            for k in a:
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
                if decode and k == "steps/observation/image":  # tfds decodes with OpenCV or PIL, we with simplejpeg
                    assert np.abs(a[k].astype(np.int16) - b[k]).max() <= 8
                elif a[k].dtype == object:
                    assert a[k].tolist() == b[k].tolist(), k
                else:
                    assert np.array_equal(a[k], b[k]), k


@pytest.mark.parametrize("name", ["dataset_info.json", "features.json"])
@pytest.mark.parametrize("content, reason", [
    (bytes(range(256)) * 4, "not UTF-8"),  # random bytes: was a raw UnicodeDecodeError
    (b"", "empty file"),
    (b'{"name": "bridge_dataset", ', "invalid JSON"),
    (b'{"name": "x", "splits": [1], "featuresDict": {"features": {"a": 3}}}', "malformed TFDS"),
])
def test_damaged_metadata_names_the_file(bridge_copy, name, content, reason):
    """Every metadata file the reader parses fails as a DataError naming the file, whatever the damage."""
    (bridge_copy / name).write_bytes(content)
    with pytest.raises(DataError, match=rf"{re.escape(str(bridge_copy / name))}: .*{reason}"):
        RldsDataset(str(bridge_copy))


def test_declared_features_that_records_lack_are_reported(tmp_path):
    """features.json declares steps/action but the shard's records do not hold it: missing_features() says
    so (it is counted in the pass that counts steps), and reading an episode fails naming the record."""
    from jaxrobot.data.rlds import write_rlds

    full = {"steps/observation/state": {"shape": (None, 3), "dtype": "float32"},
            "steps/action": {"shape": (None, 2), "dtype": "float32"}}
    part = {"steps/observation/state": full["steps/observation/state"]}
    eps = [{"steps/observation/state": np.zeros((t, 3), np.float32), "steps/action": np.zeros((t, 2), np.float32)}
           for t in (2, 3)]
    path = write_rlds(str(tmp_path / "a"), "toy", eps, features=full, progress=False)
    ok = RldsDataset(path)
    assert ok.missing_features() == {}
    other = write_rlds(str(tmp_path / "b"), "toy", [{k: e[k] for k in part} for e in eps], features=part,
                       progress=False)
    shard = "toy-train.tfrecord-00000-of-00001"
    shutil.copy(os.path.join(other, shard), os.path.join(path, shard))
    for _ in range(2):  # computed, then from the index cache
        ds = RldsDataset(path)
        assert ds.missing_features() == {"steps/action": {"records": 2, "of": 2, "shards": [shard]}}
        assert ds.episode_lengths().tolist() == [2, 3]
    with pytest.raises(DataError, match=rf"{shard}: record 0 .*'steps/action' is missing"):
        ds.episode(0)


def test_corrupt_jpeg_names_record_feature_and_step(tmp_path):
    from jaxrobot.data.rlds import write_rlds

    feats = {"steps/image": {"shape": (None, 8, 8, 3), "dtype": "uint8", "encoding": "jpeg"},
             "steps/action": {"shape": (None, 1), "dtype": "float32"}}
    frames = [np.zeros((8, 8, 3), np.uint8), b"\xff\xd8" + bytes(50), np.zeros((8, 8, 3), np.uint8)]
    path = write_rlds(str(tmp_path), "toy", [{"steps/image": frames, "steps/action": np.zeros((3, 1), np.float32)}],
                      features=feats, progress=False)
    with pytest.raises(DataError, match=r"toy-train.tfrecord-00000-of-00001: record 0 \(episode 0\): cannot decode "
                                        r"image 'steps/image': step 1: "):
        RldsDataset(path).episode(0)
    assert RldsDataset(path, decode_images=False).episode(0)["steps/image"][1] == frames[1]
