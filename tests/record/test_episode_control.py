"""Recorder episode control through the Python API: accept / discard / re-record / quit, bad leader input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jaxrobot.data.rlds import RldsDataset
from jaxrobot.record.follower import SimFollower
from jaxrobot.record.leaders.base import Leader, LeaderError, LeaderInput
from jaxrobot.record.leaders.scripted import ScriptedOperator
from jaxrobot.record.recorder import Recorder


@pytest.fixture(scope="module")
def env():
    from jaxrobot.sim import registry

    return registry.load("panda_pick_cube")


class Scripted(Leader):
    """The sim operator, plus operator events at given ticks of given takes: {(take, tick): event}."""

    name = "test"

    def __init__(self, env, events=None, bad=None):
        self.inner = ScriptedOperator(env, seed=0)
        self.events, self.bad = dict(events or {}), bad
        self.take, self.starts = -1, []

    def begin(self, state, episode):
        self.take += 1
        self.tick = 0
        self.starts.append((episode, np.asarray(state.obs["state"]).copy()))
        self.inner.begin(state, episode)

    def read(self, state):
        ev = self.events.get((self.take, self.tick))
        self.tick += 1
        if ev:
            return LeaderInput(None, frozenset({ev}))
        cmd = self.inner.read(state)
        if self.bad is not None and self.tick == 3:
            return LeaderInput(np.full_like(cmd.action, self.bad))
        return cmd


def test_rerecord_restarts_the_same_start_discard_moves_on_and_quit_stops(env, tmp_path):
    leader = Scripted(env, events={(0, 5): "rerecord", (2, 4): "discard", (4, 2): "quit"})
    with Recorder(env, "panda_pick_cube", leader, SimFollower(env, view=False), str(tmp_path), realtime_factor=50,
                  media=False, progress=False) as rec:
        res = rec.run(5)
        path = rec.path
    # take 0: re-recorded at tick 5 -> take 1 starts from the same index and state; take 1 accepted;
    # take 2 discarded at tick 4 -> take 3 starts at the next index; take 3 accepted; take 4 quit.
    idx = [e for e, _ in leader.starts]
    assert idx == [0, 0, 1, 2, 3]
    np.testing.assert_array_equal(leader.starts[0][1], leader.starts[1][1])
    assert res.accepted == 2 and res.quit and res.total_episodes == 2
    ds = RldsDataset(path)
    assert [int(ds[i]["episode_metadata/episode_index"]) for i in range(2)] == [0, 2]
    assert all(bool(ds[i]["episode_metadata/success"]) for i in range(2))
    # The next session continues after the last committed start (index 2; the quit take was never stored).
    with Recorder(env, "panda_pick_cube", Scripted(env), SimFollower(env, view=False), str(tmp_path),
                  realtime_factor=50, media=False, progress=False) as rec:
        assert rec.next_index == 3


def test_an_operator_accept_mid_take_keeps_the_partial_episode_unsuccessful(env, tmp_path):
    with Recorder(env, "panda_pick_cube", Scripted(env, events={(0, 10): "accept"}), SimFollower(env, view=False),
                  str(tmp_path), realtime_factor=50, media=False, progress=False) as rec:
        take = rec.take()
        assert take.ended_by == "accept" and take.length == 10 and not take.success
        assert rec.accept(take) == 0
        ep = RldsDataset(rec.path)[0]
    assert len(ep["steps/action"]) == 10 and not ep["episode_metadata/success"] and not ep["steps/is_terminal"].any()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_leader_action_is_a_clear_error_and_nothing_is_written(env, tmp_path, bad):
    with Recorder(env, "panda_pick_cube", Scripted(env, bad=bad), SimFollower(env, view=False), str(tmp_path),
                  realtime_factor=50, media=False, progress=False) as rec:
        with pytest.raises(LeaderError, match=r"leader 'test' gave action .* at tick 2: needs 10 finite numbers"):
            rec.run(1)
        assert rec.appender.num_episodes == 0
    assert not (tmp_path / "jaxrobot_sim_panda_pick_cube" / "1.0.0").exists()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (Debian package xvfb) for a display")
def test_the_live_view_opens_and_follows_where_a_display_exists(tmp_path):
    """On a virtual X display the follower opens MuJoCo's passive viewer and keeps it in sync."""
    code = ("from jaxrobot import platform; platform.configure()\n"
            "from jaxrobot.sim import registry\n"
            "from jaxrobot.record.follower import SimFollower\n"
            "env = registry.load('panda_pick_cube')\n"
            "f = SimFollower(env)\n"  # view=None: opens because $DISPLAY is set
            "assert f.viewer is not None and f.viewer.is_running()\n"
            "s = f.reset(0, 0)\n"
            "for _ in range(5):\n"
            "    s = f.step(env.action_for(s, *env.kin.fk_matrix(s.info['q_cmd']), s.obs['state'][21]))\n"
            "assert f.viewer.is_running()\n"
            "f.close()\n"
            "print('viewer ok')\n")
    res = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 800x600x24", sys.executable, "-c", code],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "MUJOCO_GL": "glfw"})
    assert "viewer ok" in res.stdout, res.stdout + res.stderr


def test_a_failed_start_releases_the_leader_and_the_follower(env, tmp_path):
    """A dataset held by another recorder: the error names it, and the device and viewer are closed anyway."""
    from jaxrobot.data.rlds.appender import DatasetInUse, EpisodeAppender
    from jaxrobot.record.recorder import recording_features
    from jaxrobot.sim.demos import dataset_name

    closed = []

    class Tracked(Scripted):
        def close(self):
            closed.append("leader")

    class TrackedFollower(SimFollower):
        def close(self):
            closed.append("follower")
            super().close()

    holder = EpisodeAppender(str(tmp_path), dataset_name("panda_pick_cube"), features=recording_features(env)).open()
    try:
        with pytest.raises(DatasetInUse, match=r"in use by another jaxrobot record \(PID"):
            Recorder(env, "panda_pick_cube", Tracked(env), TrackedFollower(env, view=False), str(tmp_path),
                     media=False, progress=False).open()
    finally:
        holder.close()
    assert sorted(closed) == ["follower", "leader"]


def test_a_scripted_leader_that_never_succeeds_stops_with_a_clear_error(tmp_path):
    from jaxrobot.data.base import DataError
    from jaxrobot.sim import registry

    short = registry.load("panda_pick_cube", overrides={"episode_steps": 15})  # too short to lift the cube
    with Recorder(short, "panda_pick_cube", ScriptedOperator(short), SimFollower(short, view=False), str(tmp_path),
                  realtime_factor=100, media=False, progress=False) as rec:
        with pytest.raises(DataError, match=r"only 0 of 1 takes accepted after 20 .*episode_steps=15"):
            rec.run(1)
