"""The trainer end to end on the real Bridge sample through the RLDS source (no TensorFlow)."""

import json
import pathlib

import numpy as np

from jaxrobot import config as C
from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.loop import train

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_bc_trains_on_bridge_and_checkpoint_describes_itself(tmp_path):
    cfg = C.load_experiment(ROOT / "experiments" / "bc_bridge.py",
                            ["train.steps=80", "train.log_every=1", "train.batch_size=16"])
    res = train(cfg, tmp_path, progress=False, log=lambda s: None)
    losses = [json.loads(x)["loss"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 80
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert res.step == 80
    step, meta = ckpt_lib.read_meta(tmp_path)
    assert step == 80
    stats = meta["stats"]
    assert stats["mode"] == "mean_std" and len(stats["action"]["mean"]) == 7
    assert meta["data_spec"]["n_obs_steps"] == 1 and meta["data_spec"]["horizon"] == 4
    _, example = ckpt_lib.restore_arrays(tmp_path, item="example_batch")
    assert example["observation/image_primary"].shape == (2, 1, 64, 64, 3)
    assert example["action"].shape == (2, 4, 7) and np.isfinite(example["action"]).all()


def test_mixture_of_bridge_and_sim_demos_trains(tmp_path):
    cfg = C.load_experiment(ROOT / "experiments" / "bc_bridge.py:mixture",
                            ["train.steps=20", "train.log_every=10", "train.batch_size=32"])
    res = train(cfg, tmp_path, progress=False, log=lambda s: None)
    assert res.step == 20 and np.isfinite(res.metrics["loss"])
    _, example = ckpt_lib.restore_arrays(tmp_path, item="example_batch")
    # Union of cameras (Bridge: primary, secondary; sim: front) and padding to the larger action (7-D).
    assert {"observation/image_primary", "observation/image_front"} <= set(example)
    assert example["action"].shape == (2, 4, 7)
    _, meta = ckpt_lib.read_meta(tmp_path)
    assert set(meta["stats"]["datasets"]) == {"bridge_dataset", "jaxrobot_sim"}
