"""Demo generation: RLDS written through the data layer reads back through tfds; CLI stdout contract."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SEED

from jaxrobot.sim.demos import choose_batch_size, generate

pytestmark = pytest.mark.timeout(400)

N = 20  # choose_batch_size(20) == 32 == conftest.BATCH: reuses the session's compiled step


def _read_tfds(path):
    tfds = pytest.importorskip("tensorflow_datasets")
    builder = tfds.builder_from_directory(path)
    ds = builder.as_dataset(split="train")
    episodes = []
    for ep in tfds.as_numpy(ds):
        steps = list(ep["steps"])  # the nested steps dataset -> one dict per step
        ep["steps"] = {
            "observation": {k: np.stack([s["observation"][k] for s in steps]) for k in steps[0]["observation"]},
            **{k: np.stack([s[k] for s in steps]) for k in steps[0] if k != "observation"},
        }
        episodes.append(ep)
    return builder, episodes


def _check_episodes(episodes, n):
    assert len(episodes) == n
    for ep in episodes:
        steps = ep["steps"]
        first, last = steps["is_first"], steps["is_last"]
        t = len(first)
        assert first.tolist() == [True] + [False] * (t - 1)
        assert last.tolist() == [False] * (t - 1) + [True]
        assert steps["is_terminal"][-1] and not steps["is_terminal"][:-1].any()
        assert bool(ep["episode_metadata"]["success"])
        assert steps["observation"]["state"].shape == (t, 12)
        assert steps["action"].shape == (t, 5) and steps["action"].dtype == np.float32
        assert steps["language_instruction"][0] == b"pick up the cube"


def test_generate_reads_back_through_tfds(env, benv, tmp_path):
    assert choose_batch_size(N) == 32
    stats = generate(env, "pick_cube", str(tmp_path), N, seed=SEED, progress=False)
    assert stats["episodes"] == N and stats["demos_per_hour"] > 0
    builder, episodes = _read_tfds(stats["path"])
    assert builder.name == "jaxrobot_sim_pick_cube"
    _check_episodes(episodes, N)
    # Episode indices are the successful ones in order; metadata seeds replay them.
    idx = [int(ep["episode_metadata"]["episode_index"]) for ep in episodes]
    assert idx == sorted(idx) and all(int(ep["episode_metadata"]["seed"]) == SEED for ep in episodes)


def test_cli_gen_demos_last_stdout_line_is_the_path(env, benv, tmp_path, capsys):
    from jaxrobot.cli import main

    assert main(["sim", "gen-demos", "--task", "pick_cube", "--episodes", str(N), "--out", str(tmp_path),
                 "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    path = out.strip().splitlines()[-1]
    assert os.path.isdir(path) and path.startswith(str(tmp_path))
    _check_episodes(_read_tfds(path)[1], N)
    # Writing to the same place again is a one-line user error.
    assert main(["sim", "gen-demos", "--task", "pick_cube", "--episodes", str(N), "--out", str(tmp_path),
                 "--seed", "3", "--no-progress"]) == 2


def test_cli_tasks(capsys):
    from jaxrobot.cli import main

    assert main(["sim", "tasks"]) == 0
    assert "pick_cube" in capsys.readouterr().out.split()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cli_subprocess_stdout_is_clean(tmp_path):
    """A fresh process: mjx's "Failed to import warp" prints never reach stdout; last line is the path."""
    cmd = [sys.executable, "-m", "jaxrobot.cli", "sim", "gen-demos", "--task", "pick_cube", "--episodes",
           "5", "--out", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=800)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert lines == [lines[-1]] and "warp" not in res.stdout
    _check_episodes(_read_tfds(lines[-1])[1], 5)
