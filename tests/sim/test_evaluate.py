"""evaluate(): Wilson interval against closed forms, a do-nothing policy scores 0, stateful policies."""

import math

import numpy as np
import pytest

from jaxrobot.sim.evaluate import evaluate, expert_policy, wilson_interval
from tests.helpers.sim import BATCH


def test_wilson_interval_closed_forms():
    # k = 0: upper bound z^2 / (n + z^2).
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and math.isclose(hi, 1.96**2 / (20 + 1.96**2), rel_tol=1e-12)
    # k = n mirrors k = 0.
    lo2, hi2 = wilson_interval(20, 20)
    assert math.isclose(lo2, 1 - hi, rel_tol=1e-12) and hi2 == 1.0
    # Definition (Wilson 1927): the bounds are the roots p of (k/n - p)^2 = z^2 p (1 - p) / n.
    for k, n in ((8, 10), (31, 32), (3, 100)):
        for p in wilson_interval(k, n):
            assert math.isclose((k / n - p) ** 2, 1.96**2 * p * (1 - p) / n, rel_tol=1e-9, abs_tol=1e-15)
    assert wilson_interval(0, 0) == (0.0, 1.0)


class HoldStill:
    """A host-side stateful policy: keeps the gripper where it started, counts its calls."""

    def __init__(self):
        self.calls = 0
        self.resets = 0

    def reset(self, n):
        self.resets += 1
        self.start = None

    def __call__(self, obs, rng):
        self.calls += 1
        s = np.asarray(obs["state"])
        if self.start is None:
            self.start = s[:, 0:5].copy()
        return self.start


def test_do_nothing_policy_never_succeeds(env):
    policy = HoldStill()
    out = evaluate(policy, env, n_envs=BATCH, episodes=BATCH + 4, seed=5)
    assert out["episodes"] == BATCH + 4 and out["successes"] == 0
    assert out["ci95"] == wilson_interval(0, BATCH + 4)
    assert out["episode_lengths"] == [env.config.episode_steps] * (BATCH + 4)
    assert out["episode_success"] == [False] * (BATCH + 4)
    assert policy.resets == 2 and policy.calls == 2 * env.config.episode_steps
    assert out["metrics"]["cube_height"] < 1e-3


def test_expert_policy_succeeds(env):
    out = evaluate(expert_policy(env), env, n_envs=BATCH, episodes=BATCH, seed=7)
    assert out["success_rate"] >= 0.9, out
    assert max(out["episode_lengths"]) < env.config.episode_steps
    assert sum(out["episode_success"]) == out["successes"] and len(out["episode_success"]) == BATCH
    lo, hi = out["ci95"]
    assert lo <= out["success_rate"] <= hi


@pytest.mark.slow
def test_videos(env, tmp_path):
    out = evaluate(expert_policy(env), env, n_envs=BATCH, episodes=2, seed=7, videos=2, video_dir=tmp_path,
                   video_size=(48, 64), video_format="gif")
    assert len(out["videos"]) == 2
    from PIL import Image

    with Image.open(out["videos"][0]) as im:
        assert im.size == (64, 48) and im.n_frames == out["episode_lengths"][0] + 1
