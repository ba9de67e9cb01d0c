"""LeRobot ↔ RLDS: numbers and tasks exact both ways, frames within the codecs' error (measured here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.from_rlds import rlds_to_lerobot
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.rlds import RldsDataset
from tests.data.lerobot.fixtures import CAMERA, TASKS, V21, V30, assert_same_numbers, parquet_rows, psnr, source_frames

ROOT = Path(__file__).resolve().parents[3]
SIM = ROOT / "tests/testdata/jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"


def _builder():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from data_pipelines.lerobot import lerobot_dataset_builder

    return lerobot_dataset_builder


@pytest.mark.parametrize("root", [V30, V21], ids=["v30", "v21"])
def test_lerobot_to_rlds(tmp_path, root):
    path = _builder().convert(str(root), str(tmp_path), name="tiny")
    assert Path(path) == tmp_path / "tiny" / "1.0.0"
    ds, src, rows = RldsDataset(path), LeRobotDataset(root), parquet_rows(root)
    assert ds.splits == {"train": 3}
    record = ds.metadata["lerobot"]
    assert record["fps"] == 10 and record["keys"] == {"observation.state": "steps/observation/state",
                                                      "action": "steps/action",
                                                      CAMERA: "steps/observation/image_front"}
    for i in range(3):
        ep = ds.episode(i)
        np.testing.assert_array_equal(ep["steps/observation/state"], rows[i]["observation.state"].astype(np.float32))
        np.testing.assert_array_equal(ep["steps/action"], rows[i]["action"].astype(np.float32))
        assert [t.decode() for t in ep["steps/language_instruction"]] == [TASKS[j] for j in rows[i]["task_index"]]
        assert int(ep["episode_metadata/episode_index"]) == i
        assert ep["steps/is_first"][0] and ep["steps/is_last"][-1] and ep["steps/is_last"].sum() == 1
        assert psnr(ep["steps/observation/image_front"], src.frames(i, CAMERA)) > 33  # JPEG q95 on top of AV1


def test_lerobot_to_rlds_reads_in_tfds(tmp_path):
    """The output is an RLDS dataset that ``tfds.builder_from_directory`` reads (the reference reader)."""
    import tensorflow_datasets as tfds

    path = _builder().convert(str(V30), str(tmp_path), image_format="png")
    ds = tfds.builder_from_directory(path).as_dataset(split="train")
    rows = parquet_rows(V30)
    frames = LeRobotDataset(V30)
    for i, ep in enumerate(tfds.as_numpy(ds)):
        steps = list(ep["steps"])
        np.testing.assert_array_equal(np.stack([s["action"] for s in steps]), rows[i]["action"].astype(np.float32))
        np.testing.assert_array_equal(np.stack([s["observation"]["state"] for s in steps]),
                                      rows[i]["observation.state"].astype(np.float32))
        # PNG: the frames LeRobot's video holds, exactly
        np.testing.assert_array_equal(np.stack([s["observation"]["image_front"] for s in steps]),
                                      frames.frames(i, CAMERA))
        assert steps[-1]["language_instruction"].decode() == TASKS[int(rows[i]["task_index"][-1])]


def test_lerobot_rlds_lerobot_round_trip(tmp_path):
    """lerobot → rlds → lerobot: every number, timestamp, index and task exact; frames carry JPEG + AV1 error."""
    rlds = _builder().convert(str(V30), str(tmp_path / "rlds"))
    out = rlds_to_lerobot(rlds, str(tmp_path / "back"))
    src, back = LeRobotDataset(V30), LeRobotDataset(out)
    assert back.fps == 10 and back.tasks == src.tasks and back.info["robot_type"] == "tiny_arm"
    assert list(back.features) == list(src.features)
    for k in ("observation.state", "action"):
        assert back.features[k] == src.features[k]
    errs = []
    for i in range(3):
        a, b = src.episode(i), back.episode(i)
        assert_same_numbers(a, b)
        errs.append((b[CAMERA].astype(int) - source_frames(i).astype(int)).reshape(-1))
        assert psnr(b[CAMERA], a[CAMERA]) > 30
    err = np.abs(np.concatenate(errs))
    assert err.mean() < 6  # measured 4.6 mean, PSNR 29 dB against the frames LeRobot was given


def test_rlds_to_lerobot_and_back(tmp_path):
    """jaxrobot's own demos (RLDS, JPEG) → LeRobot → RLDS: state, action and instruction exact; the frame rate
    is the ``jaxrobot_sim`` entry's control rate."""
    out = rlds_to_lerobot(str(SIM), str(tmp_path / "lr"), robot_type="gripper_cube")
    src, lr = RldsDataset(SIM), LeRobotDataset(out)
    assert lr.fps == 20 and len(lr) == len(src) == 8 and lr.info["robot_type"] == "gripper_cube"
    assert set(lr.value_keys) == {"observation.state", "action", "next.reward", "next.done"}
    assert lr.camera_keys == ["observation.images.front"]
    assert lr.info["source"]["name"] == "jaxrobot_sim_pick_cube"
    values = []
    for i in range(len(src)):
        a, b = src.episode(i), lr.episode(i)
        np.testing.assert_array_equal(b["observation.state"], a["steps/observation/state"])
        np.testing.assert_array_equal(b["action"], a["steps/action"])
        np.testing.assert_array_equal(b["next.reward"][:, 0], a["steps/reward"])
        np.testing.assert_array_equal(b["next.done"][:, 0], a["steps/is_terminal"])
        assert list(b["task"]) == [t.decode() for t in a["steps/language_instruction"]]
        values.append(psnr(b[CAMERA], a["steps/observation/image_front"]))
    assert min(values) > 30, values
    rlds = _builder().convert(out, str(tmp_path / "rlds"), name="jaxrobot_sim")
    again = RldsDataset(rlds)
    for i in range(len(src)):
        a, c = src.episode(i), again.episode(i)
        for k in ("steps/observation/state", "steps/action", "steps/reward", "steps/is_terminal",
                  "steps/language_instruction", "steps/is_first", "steps/is_last"):
            np.testing.assert_array_equal(a[k], c[k], err_msg=k)


def test_converted_dataset_trains_through_the_rlds_source(tmp_path):
    """The converted folder reads like jaxrobot's own demos (the ``jaxrobot_sim`` entry)."""
    from jaxrobot.config import validate
    from jaxrobot.data.sources import make_source
    from jaxrobot.data.sources.rlds import RldsDataConfig

    path = _builder().convert(str(V30), str(tmp_path))
    src = make_source(validate(RldsDataConfig(path=path, dataset="jaxrobot_sim", horizon=2, prefetch=0)),
                      global_batch_size=4)
    b = next(src)
    assert b["observation/state"].shape == (4, 1, 4) and b["observation/image_front"].shape == (4, 1, 48, 64, 3)
    src.close()


def test_rlds_input_errors(tmp_path):
    from jaxrobot.data.rlds import write_rlds

    path = write_rlds(str(tmp_path), "textonly", [{"steps/language_instruction": ["a", "b"]}],
                      features={"steps/language_instruction": {"shape": [None], "dtype": "string"}}, progress=False)
    with pytest.raises(DataError, match="no per-step number or camera features to convert"):
        rlds_to_lerobot(path, str(tmp_path / "lr"), fps=10)
    path = write_rlds(str(tmp_path), "mystery", [{"steps/action": np.zeros((3, 2), np.float32)}],
                      features={"steps/action": {"shape": [None, 2], "dtype": "float32"}}, progress=False)
    with pytest.raises(DataError, match=r"cannot tell the frame rate of 'mystery'; pass --fps"):
        rlds_to_lerobot(path, str(tmp_path / "lr"))
    assert not (tmp_path / "lr").exists()
    ds = LeRobotDataset(rlds_to_lerobot(path, str(tmp_path / "lr"), fps=15))
    assert ds.fps == 15 and ds.tasks == [""] and ds.camera_keys == [] and ds.info["video_path"] is None
    path = write_rlds(str(tmp_path), "demos", [{"steps/action": np.zeros((3, 2), np.float32)}],
                      features={"steps/action": {"shape": [None, 2], "dtype": "float32"}}, progress=False,
                      metadata={"jaxrobot_sim": {"task": "pick_cube", "config": {"ctrl_dt": 0.04}}})
    assert LeRobotDataset(rlds_to_lerobot(path, str(tmp_path / "demos_lr"))).fps == 25  # 1 / ctrl_dt


def test_metadata_record_is_json(tmp_path):
    path = _builder().convert(str(V21), str(tmp_path))
    record = json.loads((Path(path) / "metadata.json").read_text())["lerobot"]
    assert record["codebase_version"] == "v2.1" and record["tasks"] == TASKS
    assert record["order"] == ["observation.state", "action", CAMERA]
