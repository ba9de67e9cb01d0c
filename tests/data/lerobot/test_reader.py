"""The LeRobot reader on datasets LeRobot 0.4.4 wrote (v3.0 and v2.1): values against the parquet rows read
with pyarrow, tasks, stored statistics against numpy, frames by timestamp against the frames LeRobot encoded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxrobot.data.lerobot.meta import camera_hw, camera_name, is_lerobot_root
from jaxrobot.data.lerobot.reader import LeRobotDataset
from tests.data.lerobot.fixtures import CAMERA, TASKS, V21, V30, parquet_rows, psnr, source_frames


def test_metadata_of_both_versions(fixture_root):
    ds = LeRobotDataset(fixture_root)
    assert ds.version == ("v3.0" if fixture_root == V30 else "v2.1")
    assert is_lerobot_root(fixture_root) and not is_lerobot_root(fixture_root / "meta")
    assert len(ds) == 3 and list(ds.lengths) == [7, 5, 9] and ds.total_frames == 21 and ds.fps == 10
    assert ds.tasks == TASKS
    assert ds.camera_keys == [CAMERA] and ds.value_keys == ["observation.state", "action"]
    assert camera_hw(CAMERA, ds.features[CAMERA]) == (48, 64) and camera_name(CAMERA) == "front"
    assert [e.tasks for e in ds.meta.episodes][:2] == [(TASKS[0],), (TASKS[1],)]
    assert set(ds.meta.episodes[2].tasks) == set(TASKS)


def test_values_match_the_parquet_rows(fixture_root):
    ds = LeRobotDataset(fixture_root)
    rows = parquet_rows(fixture_root)
    assert sorted(rows) == [0, 1, 2]
    for i in range(len(ds)):
        ep, ref = ds.episode(i, cameras=False), rows[i]
        for key in ("observation.state", "action"):
            assert ep[key].dtype == np.float32
            np.testing.assert_array_equal(ep[key], ref[key].astype(np.float32), err_msg=key)
        for key in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
            np.testing.assert_array_equal(ep[key][:, 0], ref[key], err_msg=key)
        assert list(ep["task"]) == [TASKS[j] for j in ref["task_index"]]
    # episode 2 switches task halfway: per-frame tasks, not one per episode
    assert list(ds.task_strings(2)) == [TASKS[0]] * 4 + [TASKS[1]] * 5


def test_both_versions_hold_the_same_episodes():
    a, b = LeRobotDataset(V30), LeRobotDataset(V21)
    for i in range(3):
        ea, eb = a.episode(i), b.episode(i)
        assert ea.keys() == eb.keys()
        for k in ea:
            np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)  # frames too: the same AV1 bitstreams


def test_frames_are_the_encoded_ones_at_their_timestamps(fixture_root):
    """Each decoded frame is nearest to its own source frame (not a neighbour): the timestamp lookup inside
    the concatenated v3.0 MP4 (episodes 1 and 2 start at 0.7 s and 1.2 s) is right; the AV1 error is bounded."""
    ds = LeRobotDataset(fixture_root)
    errors = []
    for i in range(len(ds)):
        got, want = ds.frames(i, CAMERA), source_frames(i)
        assert got.shape == want.shape == (ds.lengths[i], 48, 64, 3) and got.dtype == np.uint8
        for t in range(len(got)):
            dist = [np.abs(got[t].astype(int) - w.astype(int)).mean() for w in want]
            assert int(np.argmin(dist)) == t, (i, t, dist)
        errors.append(np.abs(got.astype(int) - want.astype(int)))
        assert psnr(got, want) > 27, (i, psnr(got, want))
    err = np.concatenate([e.reshape(-1) for e in errors])
    assert err.mean() < 4.0  # measured 2.8 (PSNR 31.8 dB): LeRobot's CRF 30 with 4:2:0 chroma
    sub = ds.frames(2, CAMERA, [8, 0, 8])
    np.testing.assert_array_equal(sub, ds.frames(2, CAMERA)[[8, 0, 8]])


def test_stored_stats_match_numpy(fixture_root):
    """v3.0's meta/stats.json and v2.1's aggregated episodes_stats.jsonl agree with the parquet values."""
    ds = LeRobotDataset(fixture_root)
    rows = parquet_rows(fixture_root)
    for key in ("observation.state", "action"):
        x = np.concatenate([rows[i][key] for i in range(3)]).astype(np.float64)
        s = ds.stored_stats[key]
        np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-5)
        np.testing.assert_allclose(s["min"], x.min(0))
        np.testing.assert_allclose(s["max"], x.max(0))
        assert int(np.asarray(s["count"]).reshape(-1)[0]) == 21
    if fixture_root == V30:
        stored = json.loads((V30 / "meta" / "stats.json").read_text())
        assert ds.stored_stats == stored


def test_image_features_in_the_parquet(v30_copy):
    """``image`` features (PNG bytes in a ``{bytes, path}`` struct column, as HF datasets stores them), read
    through row groups that do not line up with episodes."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    frames = np.concatenate([source_frames(i) for i in range(3)])
    pngs = []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, format="PNG")
        pngs.append({"bytes": buf.getvalue(), "path": None})
    data = v30_copy / "data" / "chunk-000" / "file-000.parquet"
    table = pq.read_table(data)
    column = pa.array(pngs, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(table.append_column("observation.images.wrist", column), data, row_group_size=5)
    info_path = v30_copy / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"]["observation.images.wrist"] = {"dtype": "image", "shape": [48, 64, 3],
                                                    "names": ["height", "width", "channel"]}
    info_path.write_text(json.dumps(info))
    ds = LeRobotDataset(v30_copy)
    assert ds.camera_keys == [CAMERA, "observation.images.wrist"]
    for i in range(3):
        np.testing.assert_array_equal(ds.frames(i, "observation.images.wrist"), source_frames(i))  # lossless
    np.testing.assert_array_equal(ds.frames(2, "observation.images.wrist", [3, 1]), source_frames(2)[[3, 1]])


def test_video_timestamp_tolerance(v21_copy):
    """A frame wanted between two video frames is found only within ``tolerance_s`` (LeRobot's 1e-4 s)."""
    from jaxrobot.data.base import DataError
    from jaxrobot.data.lerobot.video import decode_at

    path = v21_copy / "videos" / "chunk-000" / CAMERA / "episode_000000.mp4"
    np.testing.assert_array_equal(decode_at(str(path), [0.1 + 5e-5]), decode_at(str(path), [0.1]))
    with pytest.raises(DataError, match=r"episode_000000\.mp4: no frame within 0\.0001 s of timestamp\(s\) \[0\.15\]"):
        decode_at(str(path), [0.15])
    assert decode_at(str(path), [0.15], tolerance_s=0.051).shape == (1, 48, 64, 3)
