"""The LeRobot v3.0 writer: exact numbers, files rolled over, LeRobot's metadata layout, atomic writes."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.meta import BOOKKEEPING
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.lerobot.writer import write_lerobot
from tests.data.lerobot.fixtures import CAMERA, V30, assert_same_numbers, psnr


def _episodes(src: LeRobotDataset):
    features = {k: v for k, v in src.features.items() if k not in BOOKKEEPING}
    eps = []
    for i in range(len(src)):
        ep = src.episode(i)
        eps.append({**{k: ep[k] for k in features}, "task": ep["task"]})
    return features, eps


@pytest.fixture(scope="module")
def source():
    return _episodes(LeRobotDataset(V30))


@pytest.mark.parametrize("per_file", [None, 2])
def test_round_trip_is_exact_for_numbers(tmp_path, source, per_file):
    features, eps = source
    out = write_lerobot(tmp_path / "ds", eps, features=features, fps=10, robot_type="tiny_arm",
                        max_episodes_per_file=per_file)
    src, ds = LeRobotDataset(V30), LeRobotDataset(out)
    assert ds.version == "v3.0" and ds.tasks == src.tasks and ds.info["robot_type"] == "tiny_arm"
    files = sorted({e.data_file for e in ds.meta.episodes})
    videos = sorted({e.video_files[CAMERA] for e in ds.meta.episodes})
    assert len(files) == len(videos) == (1 if per_file is None else 2)
    assert [e.video_offsets[CAMERA] for e in ds.meta.episodes] == ([0.0, 0.7, 1.2] if per_file is None
                                                                   else [0.0, 0.7, 0.0])
    for i in range(3):
        a, b = src.episode(i), ds.episode(i)
        assert_same_numbers(a, b)
        assert psnr(b[CAMERA], a[CAMERA]) > 30  # a second AV1 pass over decoded frames


def test_metadata_is_lerobots_layout(tmp_path, source):
    features, eps = source
    out = tmp_path / "ds"
    write_lerobot(out, eps, features=features, fps=10)
    mine, theirs = json.loads((out / "meta/info.json").read_text()), json.loads((V30 / "meta/info.json").read_text())
    assert mine.keys() == theirs.keys()
    for k in ("codebase_version", "total_episodes", "total_frames", "total_tasks", "chunks_size", "fps", "splits",
              "data_path", "video_path"):
        assert mine[k] == theirs[k], k
    assert mine["features"] == theirs["features"]  # video info (codec av1, yuv420p, 10 fps...) included
    ep_mine = pq.read_table(next((out / "meta/episodes").rglob("*.parquet")))
    ep_theirs = pq.read_table(next((V30 / "meta/episodes").rglob("*.parquet")))
    assert set(ep_mine.column_names) == set(ep_theirs.column_names)
    for col in ("episode_index", "length", "data/chunk_index", "dataset_from_index", "dataset_to_index",
                f"videos/{CAMERA}/from_timestamp", f"videos/{CAMERA}/to_timestamp"):
        assert ep_mine.column(col).to_pylist() == pytest.approx(ep_theirs.column(col).to_pylist()), col
    data_mine = pq.read_table(out / "data/chunk-000/file-000.parquet")
    data_theirs = pq.read_table(V30 / "data/chunk-000/file-000.parquet")
    assert [(f.name, f.type) for f in data_mine.schema] == [(f.name, f.type) for f in data_theirs.schema]
    tasks = pq.read_table(out / "meta/tasks.parquet")
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["__index_level_0__"]
    stats, stored = json.loads((out / "meta/stats.json").read_text()), LeRobotDataset(V30).stored_stats
    for k in ("observation.state", "action"):
        for s in ("mean", "std", "min", "max"):
            np.testing.assert_allclose(stats[k][s], stored[k][s], rtol=1e-6, atol=1e-7, err_msg=f"{k} {s}")
        assert stats[k]["count"] == [21]
    assert np.asarray(stats[CAMERA]["mean"]).shape == (3, 1, 1)


def test_failure_leaves_nothing_that_looks_complete(tmp_path, source):
    features, eps = source
    bad = dict(eps[2], action=eps[2]["action"][:, :2])

    def stream():
        yield eps[0]
        yield eps[1]
        yield bad

    with pytest.raises(DataError, match=r"episode 2: 'action' has shape \(9, 2\), features say \[T, 3\]"):
        write_lerobot(tmp_path / "ds", stream(), features=features, fps=10)
    assert os.listdir(tmp_path) == []  # neither the target nor the hidden temporary folder


def test_refuses_to_overwrite_unless_asked(tmp_path, source):
    features, eps = source
    out = write_lerobot(tmp_path / "ds", eps[:1], features=features, fps=10)
    with pytest.raises(DataError, match="already exists"):
        write_lerobot(out, eps, features=features, fps=10)
    write_lerobot(out, eps, features=features, fps=10, overwrite=True)
    assert len(LeRobotDataset(out)) == 3 and sorted(os.listdir(tmp_path)) == ["ds"]


def test_bad_input(tmp_path, source):
    features, eps = source
    cases = [
        ({"observation/state": {"dtype": "float32", "shape": [4]}}, eps, "contain no '/'"),
        ({**features, "index": {"dtype": "int64", "shape": [1]}}, eps, "written by the writer itself"),
        ({**features, "extra": {"dtype": "text", "shape": [1]}}, eps, "'text' is not a number type"),
        (features, [{k: v for k, v in eps[0].items() if k != "task"}], r"missing \['task'\]"),
        (features, [dict(eps[0], task=["a"] * 3)], "'task' has 3 entries for 7 steps"),
        (features, [dict(eps[0], **{CAMERA: eps[0][CAMERA].astype(np.float32)})], "expected uint8 RGB"),
        (features, [], "no episodes to write"),
    ]
    for feats, episodes, match in cases:
        with pytest.raises(DataError, match=match):
            write_lerobot(tmp_path / "x", episodes, features=feats, fps=10)
        assert not (tmp_path / "x").exists()
    with pytest.raises(DataError, match="video codec 'vp9'"):
        write_lerobot(tmp_path / "x", eps, features=features, fps=10, codec="vp9")


def test_h264_and_scalar_features(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:16, 0:16]
    frames = np.stack([np.stack([xx * 16, yy * 16, np.full_like(xx, 40 * t)], -1) for t in range(4)]).astype(np.uint8)
    ep = {"next.reward": np.arange(4, dtype=np.float32), "next.done": np.array([0, 0, 0, 1], bool),
          "observation.images.top": frames, "action": rng.normal(size=(4, 2)).astype(np.float64), "task": "t"}
    feats = {"next.reward": {"dtype": "float32", "shape": [1]}, "next.done": {"dtype": "bool", "shape": [1]},
             "observation.images.top": {"dtype": "video", "shape": [16, 16, 3]},
             "action": {"dtype": "float64", "shape": [2], "names": ["a", "b"]}}
    ds = LeRobotDataset(write_lerobot(tmp_path / "ds", [ep], features=feats, fps=30, codec="h264", crf=0))
    got = ds.episode(0)
    np.testing.assert_array_equal(got["next.reward"][:, 0], ep["next.reward"])
    np.testing.assert_array_equal(got["next.done"][:, 0], ep["next.done"])
    np.testing.assert_array_equal(got["action"], ep["action"])
    assert ds.features["observation.images.top"]["info"]["video.codec"] == "h264"
    assert psnr(got["observation.images.top"], frames) > 30  # CRF 0: what is left is mostly the 4:2:0 chroma loss
