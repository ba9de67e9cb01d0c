"""The LeRobot DataSource on datasets LeRobot 0.4.4 wrote: batch layout, windows and padding masks against the
parquet rows, normalisation with stored and recomputed statistics, tasks, determinism, exact resume, host slices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxrobot.config import ConfigError, from_json, to_json, validate
from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.sources import make_source
from jaxrobot.data.sources.lerobot import LeRobotDataConfig, LeRobotReader, LeRobotSource
from tests.data.lerobot.fixtures import CAMERA, TASKS, V21, V30, assert_same_batches, parquet_rows

EPISODE_START = [0, 7, 12]  # flat frame numbers of the fixture's episodes (lengths 7, 5, 9)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path / "cache"))


def test_batch_follows_base_layout():
    cfg = from_json(to_json(validate(LeRobotDataConfig(path=str(V30), n_obs_steps=2, horizon=4, task_index=True))))
    src = make_source(cfg, global_batch_size=8, seed=0)
    b = next(src)
    want = {"observation/state": ((8, 2, 4), np.float32), "observation/pad_mask": ((8, 2), np.bool_),
            "action": ((8, 4, 3), np.float32), "action_pad_mask": ((8, 4), np.bool_),
            "observation/image_front": ((8, 2, 48, 64, 3), np.uint8), "task_index": ((8,), np.int32)}
    assert {k: (v.shape, v.dtype.type) for k, v in b.items()} == want
    spec = src.spec()
    assert {k: tuple(v["shape"]) for k, v in spec["keys"].items()} == {k: s for k, (s, _) in want.items()}
    assert spec["cameras"] == ["front"] and spec["camera_keys"] == {"front": CAMERA}
    assert spec["tasks"] == TASKS and spec["control_hz"] == 10 and spec["steps"] == 21 and spec["episodes"] == 3
    assert spec["format"] == "lerobot v3.0" and spec["state_keys"] == ["observation.state"]
    st = src.stats()
    json.dumps(st)
    assert st["stats_source"] == "dataset" and st["mode"] == "mean_std" and len(st["action"]["mean"]) == 3
    assert b["observation/image_front"].any()
    src.close()


@pytest.mark.parametrize("root", [V30, V21], ids=["v30", "v21"])
def test_windows_and_masks_match_the_parquet_rows(root):
    """Every frame's window, by frame offsets inside its episode: edge frames repeated and masked False."""
    reader = LeRobotReader(validate(LeRobotDataConfig(path=str(root), n_obs_steps=3, horizon=5,
                                                       normalization="none", task_index=True)))
    rows, frames = parquet_rows(root), LeRobotDataset(root)
    for e, start in enumerate(EPISODE_START):
        state, action, tasks = rows[e]["observation.state"], rows[e]["action"], rows[e]["task_index"]
        video = frames.frames(e, CAMERA)
        n = len(action)
        for t in range(n):
            x = reader.example(start + t)
            obs = [t - 2, t - 1, t]
            act = [t + k for k in range(5)]
            np.testing.assert_array_equal(x["observation/state"], state[np.clip(obs, 0, n - 1)].astype(np.float32))
            np.testing.assert_array_equal(x["observation/pad_mask"], [i >= 0 for i in obs])
            np.testing.assert_array_equal(x["action"], action[np.clip(act, 0, n - 1)].astype(np.float32))
            np.testing.assert_array_equal(x["action_pad_mask"], [i < n for i in act])
            np.testing.assert_array_equal(x["observation/image_front"], video[np.clip(obs, 0, n - 1)])
            assert x["task_index"] == tasks[t]


def test_normalisation_with_stored_and_recomputed_statistics():
    stored = LeRobotDataset(V30).stored_stats
    rows = parquet_rows(V30)
    for mode in ("mean_std", "min_max"):
        reader = LeRobotReader(validate(LeRobotDataConfig(path=str(V30), horizon=2, normalization=mode)))
        x = reader.example(EPISODE_START[1] + 4)  # last frame of episode 1: the second action is padding
        act = rows[1]["action"][[4, 4]].astype(np.float64)
        s = stored["action"]
        if mode == "mean_std":
            want = (act - np.array(s["mean"])) / np.maximum(np.array(s["std"]), 1e-2)
        else:
            want = 2 * (act - np.array(s["min"])) / (np.array(s["max"]) - np.array(s["min"])) - 1
        np.testing.assert_allclose(x["action"], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(x["action_pad_mask"], [True, False])
    sub = LeRobotReader(validate(LeRobotDataConfig(path=str(V21), stats="recompute", episodes=(2, 0))))
    st = sub.stats()
    acts = np.concatenate([rows[2]["action"], rows[0]["action"]]).astype(np.float64)
    assert st["stats_source"] == "recomputed" and st["episodes"] == 2 and st["steps"] == 16
    np.testing.assert_allclose(st["action"]["mean"], acts.mean(0), rtol=1e-6)
    np.testing.assert_allclose(st["action"]["std_raw"], acts.std(0), rtol=1e-6)
    np.testing.assert_allclose(st["action"]["q99"], np.quantile(acts, 0.99, axis=0), rtol=1e-6)
    assert sub.total_steps == 16  # episode 2 (9 frames) first, then episode 0 (7)
    want = (rows[2]["action"][0] - np.array(st["action"]["mean"])) / np.array(st["action"]["std"])
    np.testing.assert_allclose(sub.example(0)["action"][0], want, rtol=1e-5, atol=1e-6)
    want = (rows[0]["action"][0] - np.array(st["action"]["mean"])) / np.array(st["action"]["std"])
    np.testing.assert_allclose(sub.example(9)["action"][0], want, rtol=1e-5, atol=1e-6)


def test_v21_and_v30_give_the_same_batches():
    def batches(root):
        cfg = LeRobotDataConfig(path=str(root), n_obs_steps=2, horizon=3, random_crop=0.875, color_jitter=0.2,
                                image_size=(32, 40), task_index=True)
        src = LeRobotSource(cfg, global_batch_size=6, seed=3)
        out = [next(src) for _ in range(4)]
        src.close()
        return out

    assert_same_batches(batches(V30), batches(V21))


def test_deterministic_and_exact_resume():
    cfg = LeRobotDataConfig(path=str(V30), n_obs_steps=2, horizon=3, random_crop=0.9, color_jitter=0.1, prefetch=3)
    a = LeRobotSource(cfg, global_batch_size=4, seed=7)
    first = [next(a) for _ in range(3)]
    state = a.get_state()
    rest = [next(a) for _ in range(6)]  # 21 frames / 4 per batch: crosses an epoch
    b = LeRobotSource(cfg, global_batch_size=4, seed=7)
    assert_same_batches(first, [next(b) for _ in range(3)])
    c = LeRobotSource(cfg, global_batch_size=4, seed=7)
    c.set_state(state)
    assert_same_batches(rest, [next(c) for _ in range(6)])
    for s in (a, b, c):
        s.close()


def test_host_slices_union_to_the_global_batch():
    cfg = LeRobotDataConfig(path=str(V30), n_obs_steps=2, horizon=2, random_crop=0.9)
    whole = LeRobotSource(cfg, global_batch_size=6, seed=1)
    hosts = [LeRobotSource(cfg, global_batch_size=6, seed=1, process_index=i, process_count=2) for i in range(2)]
    for _ in range(3):
        want = next(whole)
        parts = [next(h) for h in hosts]
        assert_same_batches([{k: np.concatenate([p[k] for p in parts]) for k in want}], [want])


def test_cameras_state_and_sizes():
    state_only = LeRobotSource(LeRobotDataConfig(path=str(V30), cameras=None, state_keys=("observation.state[1:3]",)),
                               global_batch_size=2)
    b = next(state_only)
    assert "observation/image_front" not in b and b["observation/state"].shape == (2, 1, 2)
    assert state_only.stats()["state"]["mean"] == pytest.approx(
        LeRobotDataset(V30).stored_stats["observation.state"]["mean"][1:3])
    no_state = LeRobotReader(LeRobotDataConfig(path=str(V30), state_keys=(), cameras=("front",), image_size=(24, 32)))
    x = no_state.example(3)
    assert x["observation/state"].shape == (1, 0) and x["observation/image_front"].shape == (1, 24, 32, 3)
    by_key = LeRobotReader(LeRobotDataConfig(path=str(V30), cameras=(CAMERA,), random_crop=0.75, augment=False))
    assert by_key.example(3)["observation/image_front"].shape == (1, 48, 64, 3) and by_key.load_size == (64, 86)
    state_only.close()


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="'path'"):
        validate(LeRobotDataConfig())
    with pytest.raises(ConfigError, match="'episodes'"):
        validate(LeRobotDataConfig(path=str(V30), episodes=(1, 1)))
    with pytest.raises(DataError, match=r"no camera 'wrist'; the dataset has \['observation\.images\.front'\]"):
        LeRobotReader(LeRobotDataConfig(path=str(V30), cameras=("wrist",)))
    with pytest.raises(DataError, match=r"state feature 'observation\.velocity' is not a number feature"):
        LeRobotReader(LeRobotDataConfig(path=str(V30), state_keys=("observation.velocity",)))
    with pytest.raises(DataError, match=r"episodes \[5\] do not exist \(the dataset has 3: 0\.\.2\)"):
        LeRobotReader(LeRobotDataConfig(path=str(V30), episodes=(0, 5)))
    with pytest.raises(DataError, match="not a LeRobot dataset"):
        LeRobotReader(LeRobotDataConfig(path=str(V30 / "meta")))
