"""The base policy inside the RL rollout equals the host-side PolicyRunner, step by step, through restarts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.policies.runner import PolicyRunner, state_slices
from jaxrobot.rl.base_policy import BasePolicy

STATS = {"mode": "mean_std", "state": {"mean": [1.0, 2.0, 0.5], "std": [2.0, 4.0, 1.0]},
         "action": {"mean": [0.5, -1.0], "std": [3.0, 0.5]}}


class HistoryModel:
    """A deterministic test model whose chunk depends on every history frame, the pad mask and the step ahead,
    so a wrong history, mask, ensemble weight or queue index changes the actions."""

    def __init__(self, horizon: int):
        self.horizon = horizon

    def predict(self, params, obs, rng=None):
        hist = obs["observation/state"]  # [B, T, S]
        mask = obs["observation/pad_mask"].astype(jnp.float32)  # [B, T]
        w = jnp.arange(1, hist.shape[1] + 1, dtype=jnp.float32)
        feat = jnp.sum(jnp.sum(hist * jnp.array([1.0, -0.5, 0.25]), -1) * w * (1 + mask), -1)  # [B]
        k = jnp.arange(self.horizon, dtype=jnp.float32)
        chunk = jnp.sin(feat[:, None] + 0.3 * k[None, :]) * params["gain"]
        return jnp.stack([chunk, jnp.cos(chunk + k)], axis=-1)


def make_pair(*, n_obs_steps, horizon, n_action_steps, te, action_offset=0, state_keys=None):
    model = HistoryModel(horizon)
    params = {"gain": jnp.float32(1.7)}
    meta = {"data_spec": {"action_dim": 2}, "step": 0}
    base = BasePolicy(model=model, params=params, meta=meta, workdir="", digest="", n_obs_steps=n_obs_steps,
                      horizon=horizon, n_action_steps=n_action_steps, action_offset=action_offset,
                      temporal_ensemble=te, state_dim=None, slices=state_slices(state_keys), stats=STATS,
                      mode="mean_std")
    runner = PolicyRunner(model.predict, params, STATS, n_obs_steps=n_obs_steps, horizon=horizon,
                          n_action_steps=n_action_steps, temporal_ensemble=te, state_keys=state_keys,
                          action_offset=action_offset)
    return base, runner


@pytest.mark.parametrize("te,n_obs,n_act,offset", [(0.01, 1, 1, 0), (0.5, 2, 1, 0), (None, 2, 3, 1),
                                                   (None, 1, 5, 0)])
def test_matches_policy_runner_through_restarts(te, n_obs, n_act, offset):
    horizon = 6
    base, runner = make_pair(n_obs_steps=n_obs, horizon=horizon, n_action_steps=n_act, te=te, action_offset=offset)
    rng = np.random.default_rng(0)
    b = 3
    obs_seq = [rng.normal(size=(b, 3)).astype(np.float32) for _ in range(14)]
    act = jax.jit(base.act)
    carry = base.init({"state": jnp.asarray(obs_seq[0])}, jax.random.PRNGKey(0))
    # environment 1 restarts at step 7; the host runner models it with a second runner started there
    restart_at = 7
    runner_b = None
    for t, obs in enumerate(obs_seq):
        if t == restart_at:
            carry = base.restart(carry, jnp.array([False, True, False]))
            _, runner_b = make_pair(n_obs_steps=n_obs, horizon=horizon, n_action_steps=n_act, te=te,
                                    action_offset=offset)
        carry, a = act(base.params, carry, {"state": jnp.asarray(obs)})
        expected = runner({"state": obs})
        if runner_b is not None:
            expected[1] = runner_b({"state": obs[1:2]})[0]
        np.testing.assert_allclose(np.asarray(a), expected, rtol=1e-5, atol=1e-5, err_msg=f"step {t}")


def test_state_assembled_from_state_keys():
    keys = ("steps/observation/state[0:2]", "steps/observation/extra")
    base, runner = make_pair(n_obs_steps=1, horizon=4, n_action_steps=1, te=0.01, state_keys=keys)
    rng = np.random.default_rng(1)
    obs = {"state": rng.normal(size=(2, 5)).astype(np.float32), "extra": rng.normal(size=(2, 1)).astype(np.float32)}
    carry = base.init({k: jnp.asarray(v) for k, v in obs.items()}, jax.random.PRNGKey(0))
    _, a = base.act(base.params, carry, {k: jnp.asarray(v) for k, v in obs.items()})
    np.testing.assert_allclose(np.asarray(a), runner(obs), rtol=1e-5, atol=1e-5)


def test_queue_mode_runs_the_model_only_when_a_chunk_runs_out():
    calls = []
    base, _ = make_pair(n_obs_steps=1, horizon=6, n_action_steps=3, te=None)
    original = base.model.predict

    def counted(*a):
        jax.debug.callback(lambda: calls.append(1))  # fires only when the planning branch executes
        return original(*a)

    base.model.predict = counted
    act = jax.jit(base.act)
    carry = base.init({"state": jnp.zeros((2, 3))}, jax.random.PRNGKey(0))
    for _ in range(7):
        carry, a = act(base.params, carry, {"state": jnp.zeros((2, 3))})
    jax.block_until_ready(a)
    assert len(calls) == 3  # steps 0, 3, 6
