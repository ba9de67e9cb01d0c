"""Bad LeRobot datasets fail with a DataError (exit 2 at the command line) that names the file and the problem."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.meta import LeRobotFormatError
from jaxrobot.data.lerobot.reader import LeRobotDataset
from tests.data.lerobot.fixtures import CAMERA

EP0 = "data/chunk-000/episode_000000.parquet"


def _edit_json(path, change):
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def _edit_jsonl(path, change):
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = change(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _set_column(path, name, values):
    table = pq.read_table(path)
    i = table.column_names.index(name)
    table = table.set_column(i, name, pa.array(values, table.schema.field(name).type))
    pq.write_table(table, path)


def _fails(root, match):
    with pytest.raises(DataError, match=match) as info:
        ds = LeRobotDataset(root)
        for i in range(len(ds)):
            ds.episode(i)
    return str(info.value)


def test_not_a_dataset(tmp_path, v30_copy):
    assert issubclass(LeRobotFormatError, DataError)
    _fails(tmp_path / "nowhere", "no such folder")
    (v30_copy / "meta" / "info.json").unlink()
    _fails(v30_copy, r"not a LeRobot dataset: no meta/info\.json")


def test_bad_info_json(v30_copy):
    info = v30_copy / "meta" / "info.json"
    info.write_text("{not json")
    _fails(v30_copy, r"info\.json: not valid JSON")
    info.write_text(json.dumps({"codebase_version": "v1.6", "features": {}}))
    _fails(v30_copy, r"codebase_version 'v1\.6' is not supported \(jaxrobot reads v2\.0, v2\.1, v3\.0")


def test_unknown_version_keeps_the_fixture_features(v21_copy):
    _edit_json(v21_copy / "meta" / "info.json", lambda c: c.update(codebase_version="v4.0"))
    _fails(v21_copy, "codebase_version 'v4.0' is not supported")


def test_missing_video_and_data_files(v30_copy, v21_copy):
    mp4 = v30_copy / "videos" / CAMERA / "chunk-000" / "file-000.mp4"
    mp4.unlink()
    msg = _fails(v30_copy, r"file-000\.mp4: missing video file \(episode 0, feature 'observation\.images\.front'\)")
    assert str(mp4) in msg
    (v21_copy / "videos" / "chunk-000" / CAMERA / "episode_000002.mp4").unlink()
    _fails(v21_copy, r"episode_000002\.mp4: missing video file \(episode 2")
    (v21_copy / "data" / "chunk-000" / "episode_000001.parquet").unlink()
    _fails(v21_copy, r"episode_000001\.parquet: missing data file \(episode 1\)")


def test_episode_index_gaps_and_counts(v21_copy, v30_copy):
    episodes = v21_copy / "meta" / "episodes.jsonl"
    _edit_jsonl(episodes, lambda rows: [r for r in rows if r["episode_index"] != 1])
    _fails(v21_copy, r"episodes\.jsonl: episode indices are not 0\.\.1; missing \[1\]")
    _edit_jsonl(episodes, lambda rows: rows + [dict(rows[0])])
    _fails(v21_copy, r"repeated \[0\]")
    meta = next((v30_copy / "meta" / "episodes").rglob("*.parquet"))
    _set_column(meta, "episode_index", [0, 1, 3])
    _fails(v30_copy, r"meta/episodes: episode indices are not 0\.\.2; missing \[2\]")


def test_total_episodes_disagrees(v21_copy):
    _edit_json(v21_copy / "meta" / "info.json", lambda c: c.update(total_episodes=4))
    _fails(v21_copy, r"info\.json: total_episodes is 4 but .*episodes\.jsonl lists 3 episodes")


def test_rows_disagree_with_the_episode_table(v21_copy, v30_copy):
    _edit_jsonl(v21_copy / "meta" / "episodes.jsonl",
                lambda rows: [dict(r, length=8) if r["episode_index"] == 0 else r for r in rows])
    _fails(v21_copy, r"episode_000000\.parquet: episode 0 has 7 rows but the episode table says length 8")
    meta = next((v30_copy / "meta" / "episodes").rglob("*.parquet"))
    _set_column(meta, "dataset_to_index", [7, 12, 22])
    _fails(v30_copy, r"episode 2: dataset_from_index\.\.dataset_to_index \(12\.\.22\) disagrees with length 9")


def test_frame_index_gap(v21_copy):
    _set_column(v21_copy / EP0, "frame_index", [0, 1, 2, 4, 5, 6, 7])
    _fails(v21_copy, r"episode_000000\.parquet: episode 0: frame_index is not 0\.\.6 \(row 3 of the episode has 4\)")


def test_missing_column(v21_copy):
    table = pq.read_table(v21_copy / EP0)
    pq.write_table(table.drop_columns(["action"]), v21_copy / EP0)
    _fails(v21_copy, r"episode_000000\.parquet: missing columns \['action'\]")


def test_unknown_task(v21_copy):
    _edit_jsonl(v21_copy / "meta" / "episodes.jsonl",
                lambda rows: [dict(r, tasks=["fly"]) if r["episode_index"] == 1 else r for r in rows])
    _fails(v21_copy, r"episode 1 names tasks \['fly'\] that are not in the task table")
    _edit_jsonl(v21_copy / "meta" / "tasks.jsonl", lambda rows: [dict(r, task_index=5) for r in rows[:1]])
    _fails(v21_copy, r"tasks\.jsonl: task indices \[5\] are not 0\.\.0")


def test_frames_missing_from_a_video(v21_copy):
    """Timestamps that no video frame matches (data recorded out of sync with the MP4)."""
    _set_column(v21_copy / EP0, "timestamp", (np.arange(7) / 10 + 0.05).astype(np.float32))
    ds = LeRobotDataset(v21_copy)
    ds.episode(0, cameras=False)  # the numbers are fine
    with pytest.raises(DataError, match=r"episode 0 feature 'observation\.images\.front': .*episode_000000\.mp4: "
                                        r"no frame within 0\.0001 s of timestamp\(s\) \[0\.05, 0\.15"):
        ds.frames(0, CAMERA)


def test_corrupt_video(v21_copy):
    mp4 = v21_copy / "videos" / "chunk-000" / CAMERA / "episode_000001.mp4"
    data = mp4.read_bytes()
    mp4.write_bytes(data[: len(data) // 3])
    ds = LeRobotDataset(v21_copy)
    with pytest.raises(DataError, match=r"episode_000001\.mp4"):
        ds.frames(1, CAMERA)
    np.testing.assert_array_equal(ds.frames(0, CAMERA), LeRobotDataset(v21_copy).frames(0, CAMERA))
