"""The filesystem layer on local paths (URLs go through tf.io.gfile and are not testable here)."""

from __future__ import annotations

import os
import pickle

import pytest

from jaxrobot.data.rlds import fs


def test_local_operations(tmp_path):
    root = str(tmp_path)
    assert not fs.is_remote(root) and not fs.is_remote("file://" + root) and fs.is_remote("gs://b/x")
    assert fs.join("gs://bucket/", "a", "/b") == "gs://bucket/a/b"
    d = fs.join(root, "a", "b")
    fs.makedirs(d)
    fs.makedirs(d)  # idempotent
    f = fs.join(d, "x.bin")
    fs.write_bytes(f, bytes(range(100)))
    assert fs.exists(f) and not fs.isdir(f) and fs.isdir(d)
    assert fs.read_bytes(f, 10, 5) == bytes(range(10, 15))
    assert fs.read_bytes("file://" + f)[-1] == 99
    st = fs.stat(f)
    assert st.size == 100 and abs(st.mtime - os.path.getmtime(f)) < 1e-6
    assert fs.listdir(d) == ["x.bin"]
    with fs.RandomAccessFile(f) as raf:
        assert raf.pread(98, 10) == bytes([98, 99]) and raf.size() == 100
        clone = pickle.loads(pickle.dumps(raf))  # reopens in the new process/object
        assert clone.pread(0, 3) == bytes([0, 1, 2])
        clone.close()
    assert fs.basename(f) == "x.bin" and fs.dirname(f) == d


def test_rename_folder_over_existing(tmp_path):
    a, b = str(tmp_path / "new"), str(tmp_path / "old")
    for p, text in ((a, "new"), (b, "old")):
        fs.makedirs(p)
        fs.write_text(fs.join(p, "f.txt"), text)
    with pytest.raises(FileExistsError):
        fs.rename(a, b)
    fs.rename(a, b, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["old"]
    assert fs.read_text(fs.join(b, "f.txt")) == "new"
    fs.remove(b)
    fs.remove(b)  # missing is fine
    assert os.listdir(tmp_path) == []

