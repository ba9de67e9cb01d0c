"""LeRobot 0.4.4 itself loads what ``rlds-to-lerobot`` writes and returns what jaxrobot returns (slow; needs the
peers venv of ``make .venv-peers/.installed``, skipped without it).

``tests/data/lerobot/peer_load.py`` runs in ``.venv-peers``: ``LeRobotDataset(repo_id, root=...)`` with
``delta_timestamps`` for a 2-frame observation history and a 4-frame action chunk, every item dumped. Compared
here with jaxrobot's reader and source on the same folder: frame and episode indices, state and action
windows with LeRobot's ``*_is_pad`` against our padding masks, the camera windows, the task strings, and the
statistics LeRobot loads from ``meta/stats.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from jaxrobot.data.lerobot.from_rlds import rlds_to_lerobot
from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.rlds import RldsDataset
from jaxrobot.data.sources.lerobot import LeRobotDataConfig, LeRobotReader
from tests.data.lerobot.fixtures import V30

ROOT = Path(__file__).resolve().parents[3]
PEERS = ROOT / ".venv-peers"
SIM = ROOT / "tests/testdata/jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"
OBS, HORIZON = 2, 4

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (PEERS / ".installed").exists(),
                                 reason="needs the LeRobot 0.4.4 venv: make .venv-peers/.installed")]


def _lerobot_items(root, tmp_path) -> dict[str, np.ndarray]:
    out = tmp_path / "peer.npz"
    r = subprocess.run([str(PEERS / "bin" / "python"), str(Path(__file__).with_name("peer_load.py")), str(root),
                        str(out), "--obs", str(OBS), "--horizon", str(HORIZON)], capture_output=True, text=True,
                       timeout=1200, env={**os.environ, "PYTHONWARNINGS": "ignore", "SVT_LOG": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def _agree(root, tmp_path) -> tuple[dict, dict[str, np.ndarray]]:
    """LeRobot's items for every frame of ``root`` against jaxrobot's windows; returns LeRobot's metadata and
    items."""
    peer = _lerobot_items(root, tmp_path)
    meta = json.loads(str(peer["meta_json"]))
    ds = LeRobotDataset(root)
    reader = LeRobotReader(LeRobotDataConfig(path=str(root), n_obs_steps=OBS, horizon=HORIZON, normalization="none",
                                             task_index=True))
    assert len(peer["index"]) == ds.total_frames == reader.total_steps
    assert meta["total_episodes"] == len(ds) and meta["tasks"] == ds.tasks
    cams = meta["cameras"]
    assert cams == ds.camera_keys
    flat = 0
    for e in range(len(ds)):
        cols = ds.columns(e)
        for t in range(int(ds.lengths[e])):
            assert peer["episode_index"][flat] == e and peer["frame_index"][flat] == t
            assert peer["index"][flat] == cols["index"][t, 0]
            assert peer["timestamp"][flat] == cols["timestamp"][t, 0]
            x = reader.example(flat)
            np.testing.assert_array_equal(peer["observation.state"][flat], x["observation/state"])
            np.testing.assert_array_equal(peer["observation.state_is_pad"][flat], ~x["observation/pad_mask"])
            np.testing.assert_array_equal(peer["action"][flat], x["action"])
            np.testing.assert_array_equal(peer["action_is_pad"][flat], ~x["action_pad_mask"])
            for key, cam in zip(reader.camera_keys, reader.cameras, strict=True):
                np.testing.assert_array_equal(peer[key][flat], x[f"observation/image_{cam}"])
            assert peer["task"][flat] == ds.tasks[int(x["task_index"])]
            flat += 1
    return meta, peer


def test_lerobot_loads_what_rlds_to_lerobot_writes(tmp_path):
    out = rlds_to_lerobot(str(SIM), str(tmp_path / "lr"), max_episodes_per_file=3)  # 8 episodes in 3 files
    assert len({e.data_file for e in LeRobotDataset(out).meta.episodes}) == 3
    meta, peer = _agree(out, tmp_path)
    src = RldsDataset(SIM)
    acts = np.concatenate([src.episode(i)["steps/action"] for i in range(len(src))]).astype(np.float64)
    np.testing.assert_allclose(meta["stats"]["action"]["mean"], acts.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(meta["stats"]["action"]["max"], acts.max(0))
    assert meta["info"]["codebase_version"] == "v3.0" and meta["info"]["fps"] == 20
    # LeRobot's frame t of an episode is the RLDS step t, exactly
    lengths = src.episode_lengths()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for i in (0, 5, 7):
        np.testing.assert_array_equal(peer["action"][starts[i]:starts[i] + lengths[i], 0],
                                      src.episode(i)["steps/action"])


def test_lerobot_and_jaxrobot_agree_on_lerobots_own_dataset(tmp_path):
    _agree(V30, tmp_path)
