"""Windows against a per-step loop reference; padding and masks at both episode ends."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrobot.data.windows import window, window_indices


def _reference(T, t, n_obs, horizon):
    obs = [max(t - n_obs + 1 + i, 0) for i in range(n_obs)]
    om = [t - n_obs + 1 + i >= 0 for i in range(n_obs)]
    act = [min(t + i, T - 1) for i in range(horizon)]
    am = [t + i < T for i in range(horizon)]
    return obs, om, act, am


@pytest.mark.parametrize("T,n_obs,horizon", [(1, 1, 1), (1, 3, 4), (5, 2, 8), (10, 3, 4)])
def test_matches_reference(T, n_obs, horizon):
    for t in range(T):
        got = [a.tolist() for a in window_indices(T, t, n_obs, horizon)]
        assert got == [list(r) for r in _reference(T, t, n_obs, horizon)]
    oi, om, ai, am = window_indices(T, np.arange(T), n_obs, horizon)  # vectorised == per step
    assert oi.shape == (T, n_obs) and ai.shape == (T, horizon)
    assert om[0].sum() == 1 and am[-1].sum() == 1


def test_one_length_per_step_matches_the_reference():
    """Steps of different episodes in one call (how a batch is built): each row as its own episode."""
    lengths, steps = np.array([1, 5, 5, 10, 3]), np.array([0, 0, 4, 7, 1])
    got = window_indices(lengths, steps, 3, 4)
    for row, (T, t) in enumerate(zip(lengths, steps, strict=True)):
        assert [a[row].tolist() for a in got] == [list(r) for r in _reference(int(T), int(t), 3, 4)]
    with pytest.raises(IndexError):
        window_indices(np.array([3, 2]), np.array([2, 2]), 1, 1)  # step 2 of a 2-step episode


def test_window_pads_by_repeating_edges():
    ep = {"length": 3, "state": np.arange(3.0)[:, None], "action": 10 + np.arange(3.0)[:, None]}
    w = window(ep, 0, 2, 4)
    assert w["observation/state"][:, 0].tolist() == [0, 0] and w["observation/pad_mask"].tolist() == [False, True]
    assert w["action"][:, 0].tolist() == [10, 11, 12, 12] and w["action_pad_mask"].tolist() == [True] * 3 + [False]
    with pytest.raises(IndexError):
        window_indices(3, 3, 1, 1)
