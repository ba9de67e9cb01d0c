"""Demo generation: RLDS written through the data layer reads back through tfds; CLI stdout contract."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.sim.batch import episode_keys, episode_keys_at
from jaxrobot.sim.demos import CHUNK, choose_batch_size, collect, generate, rollout_expert, split_episodes
from tests.helpers.sim import BATCH, SEED

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


def _loop_rollout(benv, seed, n, steps):
    """Reference: the expert and the env step called once per control step from Python."""
    k_reset, k_policy, _ = episode_keys(seed, 0, n)
    state = benv.reset(benv.env.mjx_model, k_reset)
    rec = {"obs/state": [], "label": [], "executed": [], "reward": [], "success": [], "done": []}
    for _ in range(steps):
        label, executed = benv.expert(state, k_policy)
        rec["obs/state"].append(state.obs["state"])
        rec["label"].append(label)
        rec["executed"].append(executed)
        state = benv.step(benv.env.mjx_model, state, executed)
        for k in ("reward", "success", "done"):
            rec[k].append(getattr(state, k))
    return {k: np.stack(jax.device_get(v), axis=1) for k, v in rec.items()}


def test_fused_chunks_record_what_a_step_loop_records(benv, expert_rollout):
    """expert_steps (expert + step fused in a scan) = the Python loop: the observation *before* each
    action, reward/success/done after it. Different compiled programs, so float32 rounding may differ:
    positions agree to 10 um over the first 30 steps (through the grasp), flags exactly there."""
    t = 30
    ref = _loop_rollout(benv, SEED, BATCH, t)
    for key in ("obs/state", "label", "executed", "reward"):
        np.testing.assert_allclose(expert_rollout[key][:, :t], ref[key], atol=1e-5, err_msg=key)
    for key in ("success", "done"):
        np.testing.assert_array_equal(expert_rollout[key][:, :t], ref[key], err_msg=key)


def test_rollout_stops_at_the_first_step_reaching_stop_fraction(benv, expert_rollout):
    """Chunks past the stopping step are dropped: the result is the prefix of the full rollout."""
    frac = expert_rollout["done"].mean(axis=0)
    # A fraction whose stopping step falls inside a chunk (not on a chunk boundary).
    fraction, stop = next((f, int(np.flatnonzero(frac >= f)[0]) + 1) for f in np.unique(frac)[::-1]
                          if f > 0 and (np.flatnonzero(frac >= f)[0] + 1) % CHUNK)
    cut = rollout_expert(benv, SEED, 0, BATCH, stop_fraction=float(fraction))
    assert int(cut["ctrl_steps"]) == stop and cut["done"].shape == (BATCH, stop)
    for key in ("obs/state", "label", "executed", "reward", "success", "done"):
        np.testing.assert_array_equal(cut[key], expert_rollout[key][:, :stop], err_msg=key)


def test_episode_keys_at_matches_contiguous_keys():
    idx = np.array([5, 0, 33, 7])
    for got, want in zip(episode_keys_at(4, idx), episode_keys(4, 0, 40), strict=True):
        np.testing.assert_array_equal(jax.random.key_data(got), jax.random.key_data(want)[idx])


def test_continuous_batching_keeps_the_first_successes_in_index_order(env, benv, expert_rollout):
    """40 demos from 32 slots: episodes 32.. run in recycled slots (restarted mid-run) and must equal the
    same episodes run from the start of a batch; kept = the first 40 successful indices."""
    n = 40
    kept, stats = collect(env, n, seed=SEED, batch_size=BATCH, progress=False)
    ref = split_episodes(expert_rollout, env, SEED, 0) + split_episodes(
        rollout_expert(benv, SEED, BATCH, BATCH), env, SEED, BATCH)
    want = [ep for ok, ep in ref if ok][:n]
    assert len(want) == n and len(kept) == n
    assert stats["episodes"] == n and stats["batch_size"] == BATCH and stats["attempts"] >= n
    assert 0.95 <= stats["expert_success_rate"] <= 1.0
    for got, exp in zip(kept, want, strict=True):
        assert got["episode_metadata/episode_index"] == exp["episode_metadata/episode_index"]
        assert got["episode_metadata/success"] and got["steps/is_terminal"][-1]
        assert len(got["steps/action"]) == len(exp["steps/action"])
        for key in ("steps/observation/state", "steps/action", "steps/reward"):
            np.testing.assert_allclose(got[key], exp[key], atol=1e-4, err_msg=key)
        for key in ("steps/is_first", "steps/is_last", "steps/is_terminal", "steps/discount"):
            np.testing.assert_array_equal(got[key], exp[key], err_msg=key)


def test_excluded_contacts_never_come_close(env, expert_rollout):
    """gripper_cube.xml computes only cube-table, cube-pad and pad-table contacts. Replaying the expert's
    executed actions in MuJoCo C, the pairs it leaves out stay apart: palm vs cube/table by > 2 cm, the
    floor vs anything by > 25 cm (the palm, fingers and floor geoms do not collide at all)."""
    import mujoco

    m = env.mj_model
    d = mujoco.MjData(m)
    gid = {n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n)
           for n in ("floor", "table", "cube", "palm", "left_pad", "right_pad")}
    pairs = {("palm", "cube"): 0.02, ("palm", "table"): 0.02, ("floor", "cube"): 0.25,
             ("floor", "palm"): 0.25, ("floor", "left_pad"): 0.25, ("floor", "right_pad"): 0.25}
    offset = np.asarray(env._ctrl_offset)
    closest = dict.fromkeys(pairs, np.inf)
    for b in range(BATCH):
        mujoco.mj_resetData(m, d)
        d.qpos[:] = expert_rollout["qpos0"][b]
        for action in expert_rollout["executed"][b]:
            d.ctrl[:] = np.clip(action, env.action_low, env.action_high) - offset
            for _ in range(env.n_substeps):
                mujoco.mj_step(m, d)
                for a, c in pairs:
                    dist = mujoco.mj_geomDistance(m, d, gid[a], gid[c], 1.0, None)
                    closest[a, c] = min(closest[a, c], dist)
    for pair, margin in pairs.items():
        assert closest[pair] > margin, (pair, closest[pair])


def test_collect_gives_up_after_max_attempts(env, benv):
    with pytest.raises(DataError, match="after 10 attempts"):
        collect(env, 20, seed=SEED, batch_size=BATCH, max_attempts=10, progress=False)


@pytest.mark.slow
def test_cli_subprocess_stdout_is_clean(tmp_path):
    """A fresh process: mjx's "Failed to import warp" prints never reach stdout; last line is the path."""
    cmd = [sys.executable, "-m", "jaxrobot.cli", "sim", "gen-demos", "--task", "pick_cube", "--episodes",
           "5", "--out", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=800)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert lines == [lines[-1]] and "warp" not in res.stdout
    _check_episodes(_read_tfds(lines[-1])[1], 5)
