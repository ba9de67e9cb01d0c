"""``jaxrobot record`` / ``jaxrobot replay`` end to end: the fixed interface, appending, kill -9, replay drift."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxrobot.data.rlds import RldsDataset

JAXROBOT = [sys.executable, "-m", "jaxrobot.cli"]
RECORD = ["record", "--task", "panda_pick_cube", "--leader", "sim", "--realtime-factor", "20", "--no-progress"]
DATASET = ("jaxrobot_sim_panda_pick_cube", "1.0.0")


def _env():
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(JAXROBOT + list(args), capture_output=True, text=True, env=_env(), timeout=timeout)


def _tfds_episodes(path: str) -> list[dict]:
    import tensorflow_datasets as tfds

    return list(tfds.as_numpy(tfds.builder_from_directory(path).as_dataset(split="train")))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two sessions into one --out: 2 episodes with seed 0 (with media), then 1 more with seed 7."""
    out = tmp_path_factory.mktemp("rec")
    first = _run(*RECORD, "--episodes", "2", "--out", str(out), "--json")
    assert first.returncode == 0, first.stderr
    second = _run(*RECORD, "--episodes", "1", "--out", str(out), "--seed", "7", "--no-media")
    assert second.returncode == 0, second.stderr
    return out, first, second


def test_record_prints_the_dataset_path_last_and_tfds_reads_it(recorded):
    out, first, _ = recorded
    path = first.stdout.strip().splitlines()[-1]
    assert pathlib.Path(path) == out.joinpath(*DATASET)
    eps = _tfds_episodes(path)
    assert len(eps) >= 2
    stats = json.loads(first.stderr.strip().splitlines()[-1])
    assert stats["accepted"] == 2 and stats["timing"]["rate_hz"] == pytest.approx(1000.0)  # 50 Hz x 20


def test_a_second_run_appends_and_prints_the_same_path(recorded):
    out, first, second = recorded
    assert second.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
    ds = RldsDataset(str(out.joinpath(*DATASET)))
    assert len(ds) == 3
    seeds = [int(ds[i]["episode_metadata/seed"]) for i in range(3)]
    assert seeds == [0, 0, 7]
    sessions = ds.metadata["jaxrobot_record"]["sessions"]
    assert [(s["seed"], s["accepted"]) for s in sessions] == [(0, 2), (7, 1)]
    assert ds.metadata["jaxrobot_sim"]["task"] == "panda_pick_cube"  # what training and eval rebuild


def test_recorded_episodes_have_the_scripted_demo_layout_and_recording_metadata(recorded):
    from jaxrobot.record.recorder import recording_features
    from jaxrobot.sim import registry

    out, _, _ = recorded
    ds = RldsDataset(str(out.joinpath(*DATASET)))
    env = registry.load("panda_pick_cube")
    assert set(ds.feature_spec()) == set(recording_features(env))
    ep = ds[0]
    t = len(ep["steps/action"])
    assert ep["steps/observation/state"].shape == (t, env.state_dim)
    assert ep["episode_metadata/success"] and ep["steps/is_terminal"][-1] and not ep["steps/is_terminal"][:-1].any()
    assert ep["steps/is_first"][0] and ep["steps/is_last"][-1]
    lo, hi = env.action_low, env.action_high
    assert np.all(ep["steps/action"] >= lo - 1e-6) and np.all(ep["steps/action"] <= hi + 1e-6)
    assert float(ep["episode_metadata/rate_hz"]) == pytest.approx(50.0)
    assert ep["episode_metadata/leader"] in (b"sim", "sim")
    assert float(ep["episode_metadata/duration_s"]) > 0
    # A human-paced operator: slower than the scripted expert's ~70 steps on this task.
    assert t > 75


def test_each_accepted_episode_gets_a_video_and_a_contact_sheet(recorded):
    out, _, _ = recorded
    media = out / "recording_media" / DATASET[0]
    names = sorted(p.name for p in media.iterdir())
    assert [n for n in names if n.endswith(".png")] == ["episode_00000.png", "episode_00001.png"]
    videos = [n for n in names if n.endswith((".mp4", ".gif"))]
    assert len(videos) == 2 and all((media / v).stat().st_size > 1000 for v in videos)


def test_replay_in_c_reproduces_the_recording_and_mjx_drift_is_reported(recorded):
    out, _, _ = recorded
    path = str(out.joinpath(*DATASET))
    c = _run("replay", path, "--episode", "1", "--task", "panda_pick_cube", "--engine", "c", "--json")
    assert c.returncode == 0, c.stderr
    res = json.loads(c.stdout.strip().splitlines()[-1])
    assert res["replay_success"] and res["recorded_success"]
    assert res["tcp_mm_max"] < 1e-3 and res["object_mm_max"] < 1e-3  # same engine, same start: the same states
    m = _run("replay", path, "--episode", "1", "--task", "panda_pick_cube", "--json")
    assert m.returncode == 0, m.stderr
    res = json.loads(m.stdout.strip().splitlines()[-1])
    assert res["engine"] == "mjx" and res["start_error_mm"] < 0.01 and np.isfinite(res["tcp_mm_max"])


def test_recording_other_features_into_the_dataset_is_a_clear_error(recorded):
    out, _, _ = recorded
    res = _run(*RECORD, "--episodes", "1", "--out", str(out), "--set", "action_space=joint_pos")
    text = res.stdout + res.stderr
    assert res.returncode == 2, text
    assert "other features" in text and "Traceback" not in text


def test_kill_9_keeps_every_accepted_episode_and_the_same_command_appends(tmp_path):
    cmd = JAXROBOT + RECORD + ["--episodes", "100", "--out", str(tmp_path), "--no-media"]
    info = tmp_path.joinpath(*DATASET, "dataset_info.json")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if info.exists() and sum(int(n) for n in json.loads(info.read_text())["splits"][0]["shardLengths"]) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.3)  # land somewhere inside the next take (or its commit)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    path = str(tmp_path.joinpath(*DATASET))
    kept = len(_tfds_episodes(path))
    assert kept >= 2
    again = _run(*RECORD[:-1], "--episodes", "1", "--out", str(tmp_path), "--no-media", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == path
    assert len(_tfds_episodes(path)) == kept + 1
