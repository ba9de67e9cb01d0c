"""TFRecord framing: offsets, round trips, and corrupt/truncated shards named by file and record."""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import fs, tfrecord
from jaxrobot.data.rlds.reader import RldsDataset

SHARD = "bridge_dataset-train.tfrecord-00000-of-00001"


def test_index_matches_sequential_read(bridge_path):
    path = os.path.join(bridge_path, SHARD)
    idx = tfrecord.index_shard(path)
    records = list(tfrecord.iter_records(path))
    assert len(idx) == len(records) == 25
    assert [off for off, _ in records] == idx.offsets.tolist()
    assert [len(r) for _, r in records] == idx.lengths.tolist()
    # the framing accounts for every byte of the file
    assert idx.offsets[-1] + 16 + idx.lengths[-1] == os.path.getsize(path)
    with fs.RandomAccessFile(path) as f:
        for i in (0, 7, 24):
            assert tfrecord.read_record(f, int(idx.offsets[i]), length=int(idx.lengths[i])) == records[i][1]
            assert tfrecord.read_record(f, int(idx.offsets[i])) == records[i][1]


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    recs = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 1, 100, 70_000)]
    path = str(tmp_path / "x.tfrecord")
    offsets = tfrecord.write_records(path, recs)
    assert [(o, r) for o, r in tfrecord.iter_records(path)] == list(zip(offsets, recs, strict=True))
    assert tfrecord.index_shard(path).offsets.tolist() == offsets


def _flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x10]))


def test_flipped_data_byte_names_file_and_record(bridge_copy):
    path = str(bridge_copy / SHARD)
    idx = tfrecord.index_shard(path)
    _flip(path, int(idx.offsets[3]) + 12 + 5000)  # inside record 3's data
    with pytest.raises(DataError, match=rf"{SHARD}: record 3 at byte {idx.offsets[3]}: data CRC mismatch"):
        list(tfrecord.iter_records(path))
    ds = RldsDataset(str(bridge_copy), index_cache=False)
    ds.episode(2)  # other records are fine
    with pytest.raises(DataError, match=rf"{SHARD}: record 3 .*data CRC mismatch"):
        ds.episode(3)
    with pytest.raises(DataError, match=rf"{SHARD}: record 3 .*data CRC mismatch"):
        list(ds)


def test_flipped_length_byte_is_caught_by_the_length_crc(bridge_copy):
    path = str(bridge_copy / SHARD)
    idx = tfrecord.index_shard(path)
    _flip(path, int(idx.offsets[5]) + 1)
    with pytest.raises(DataError, match=rf"{SHARD}: record 5 at byte {idx.offsets[5]}: length CRC mismatch"):
        tfrecord.index_shard(path)
    with pytest.raises(DataError, match=rf"{SHARD}: record 5 .*length CRC"):
        RldsDataset(str(bridge_copy), index_cache=False).episode(5)


@pytest.mark.parametrize("cut", [7, 12 + 100])  # inside the last header / inside the last record's data
def test_truncated_shard_names_file_and_record(bridge_copy, cut):
    path = str(bridge_copy / SHARD)
    idx = tfrecord.index_shard(path)
    os.truncate(path, int(idx.offsets[24]) + cut)
    with pytest.raises(DataError, match=rf"{SHARD}: record 24 at byte {idx.offsets[24]}: truncated"):
        tfrecord.index_shard(path)
    with pytest.raises(DataError, match=rf"{SHARD}: record 24 .*truncated"):
        list(tfrecord.iter_records(path))
    ds = RldsDataset(str(bridge_copy), index_cache=False)
    with pytest.raises(DataError, match=rf"{SHARD}: record 24 .*truncated"):
        ds.episode(0)  # indexing the shard finds it before anything is trained on


def test_check_crc_off_reads_corrupt_data_silently(bridge_copy):
    path = str(bridge_copy / SHARD)
    idx = tfrecord.index_shard(path)
    _flip(path, int(idx.offsets[0]) + 12 + 10)
    assert len(list(tfrecord.iter_records(path, check_crc=False))) == 25
