"""The run-time policy wrapper: temporal ensembling against its offline definition, chunk queue, history."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.policies.runner import PolicyRunner, TemporalEnsembler

STATS = {"mode": "mean_std", "state": {"mean": [1.0, 2.0], "std": [2.0, 4.0]},
         "action": {"mean": [0.5], "std": [3.0]}}


def offline_ensemble(chunks: list[np.ndarray], m: float) -> np.ndarray:
    """Action at step s: average of chunk_t[s - t] over predictions t <= s < t + H, weights exp(-m i),
    i = 0 the oldest prediction (ACT's definition)."""
    horizon = chunks[0].shape[1]
    out = []
    for s in range(len(chunks)):
        preds = [chunks[t][:, s - t] for t in range(max(0, s - horizon + 1), s + 1)]
        w = np.exp(-m * np.arange(len(preds)))
        out.append(sum(wi * p for wi, p in zip(w, preds, strict=True)) / w.sum())
    return np.stack(out)


@pytest.mark.parametrize("m", [0.0, 0.01, 0.5])
def test_temporal_ensembling_matches_offline_definition(m):
    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(3, 5, 2)) for _ in range(12)]
    ens = TemporalEnsembler(m, horizon=5)
    online = np.stack([ens.update(c) for c in chunks])
    np.testing.assert_allclose(online, offline_ensemble(chunks, m), rtol=1e-5, atol=1e-6)


def make_runner(**kw):
    def predict(params, obs, rng):
        b = obs["observation/state"].shape[0]
        # chunk k = k-th step ahead: normalised value = mean of the normalised history + k
        base = jnp.mean(obs["observation/state"], axis=(1, 2))
        steps = jnp.arange(kw.get("horizon", 4), dtype=jnp.float32)[None, :, None]
        return base[:, None, None] + steps * jnp.ones((b, 1, 1))

    args = dict(n_obs_steps=2, horizon=4, n_action_steps=2)
    args.update(kw)
    return PolicyRunner(predict, params={}, stats=STATS, **args)


def test_chunk_queue_replans_every_n_action_steps():
    runner = make_runner()
    plans = []
    original = runner._plan
    runner._plan = lambda obs: plans.append(1) or original(obs)
    state = np.array([[1.0, 2.0]], np.float32)  # normalises to zeros
    actions = [runner({"state": state})[0, 0] for _ in range(6)]
    assert len(plans) == 3
    # Unnormalised: 0.5 + 3 * k for k = 0, 1 of each plan.
    np.testing.assert_allclose(actions, [0.5, 3.5] * 3)
    runner.reset()
    assert runner.queue == [] and runner.steps == 0


def test_history_pads_with_first_frame_and_mask():
    runner = make_runner()
    obs = runner._observation({"state": np.array([[3.0, 6.0]], np.float32)})
    runner.steps += 1
    np.testing.assert_allclose(obs["observation/state"], [[[1.0, 1.0], [1.0, 1.0]]])
    assert obs["observation/pad_mask"].tolist() == [[False, True]]
    obs = runner._observation({"state": np.array([[1.0, 2.0]], np.float32)})
    np.testing.assert_allclose(obs["observation/state"], [[[1.0, 1.0], [0.0, 0.0]]])
    assert obs["observation/pad_mask"].tolist() == [[True, True]]


def test_bad_n_action_steps():
    with pytest.raises(ValueError, match="n_action_steps"):
        make_runner(n_action_steps=5)


def test_state_assembled_from_observation_slices_as_in_training():
    """``state_keys`` from the data spec (e.g. proprioception only) select the same dims at run time."""
    from jaxrobot.policies.runner import assemble_state, state_slices

    slices = state_slices(["steps/observation/state[1:3]", "steps/observation/extra"])
    assert slices == [("state", 1, 3), ("extra", None, None)]
    obs = {"state": np.arange(10.0).reshape(2, 5), "extra": np.ones((2, 1))}
    out = assemble_state(obs, slices)
    np.testing.assert_array_equal(out["state"], [[1, 2, 1], [6, 7, 1]])
    assert assemble_state(obs, None) is obs
    with pytest.raises(KeyError, match="extra"):
        assemble_state({"state": obs["state"]}, slices)

    sliced = make_runner(horizon=4, n_action_steps=4, state_keys=["steps/observation/state[0:2]"])
    plain = make_runner(horizon=4, n_action_steps=4)
    full = np.array([[3.0, 6.0, 99.0]])
    np.testing.assert_allclose(sliced({"state": full}), plain({"state": full[:, :2]}))


def test_a_policy_for_another_action_space_is_refused_before_it_runs():
    from jaxrobot.config import ConfigError
    from jaxrobot.policies.evaluation import task_env

    env = task_env("panda_pick_cube", {}, 10, "policy P")  # ee_pose: the task's default
    assert env.action_size == 10
    with pytest.raises(ConfigError, match=r"policy P predicts 8-D actions but task 'panda_pick_cube' "
                                          r"\(action_space 'ee_pose'\) takes 10-D actions"):
        task_env("panda_pick_cube", {}, 8, "policy P")
    with pytest.raises(ConfigError, match="predicts 4-D actions but task 'pick_cube' takes 5-D"):
        task_env("pick_cube", {}, 4, "policy P")
