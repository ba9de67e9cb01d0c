"""pick_cube: reset distribution, expert success rate, determinism per seed, episode cutting."""

import jax
import numpy as np

from jaxrobot.sim.batch import episode_keys
from jaxrobot.sim.demos import rollout_expert, split_episodes
from jaxrobot.sim.gantry import TABLE_TOP
from tests.helpers.sim import BATCH, SEED


def test_reset_distribution(env, benv):
    k_reset, _, _ = episode_keys(SEED, 0, BATCH)
    state = benv.reset(env.mjx_model, k_reset)
    s = np.asarray(state.obs["state"])
    assert s.shape == (BATCH, 12) and s.dtype == np.float32
    cube = s[:, 5:8]
    r = env.config.cube_xy_range
    assert np.all(np.abs(cube[:, 0] - 0.5) <= r + 1e-6) and np.all(np.abs(cube[:, 1]) <= r + 1e-6)
    np.testing.assert_allclose(cube[:, 2], TABLE_TOP + 0.02, atol=1e-4)  # resting on the table
    assert np.std(cube[:, 0]) > r / 4  # actually randomised
    np.testing.assert_allclose(s[:, 4], 0.04)  # gripper open
    assert not np.asarray(state.done).any()


def test_expert_success_rate(expert_rollout):
    """>= 95% of seeded episodes succeed with noise injection on (at most 1 failure in 32)."""
    done = expert_rollout["done"]
    first = done.argmax(axis=1)
    success = expert_rollout["success"][np.arange(BATCH), first] & done.any(axis=1)
    assert success.mean() >= 0.95, success
    # Noise was actually injected: executed actions differ from the labels somewhere.
    assert np.abs(expert_rollout["executed"] - expert_rollout["label"]).max() > 0.005


def test_rollout_is_deterministic_per_seed(benv, expert_rollout):
    again = rollout_expert(benv, SEED, 0, BATCH)
    for key in ("obs/state", "label", "executed", "reward", "success", "done"):
        np.testing.assert_array_equal(again[key], expert_rollout[key], err_msg=key)
    other = rollout_expert(benv, SEED + 1, 0, BATCH)
    assert not np.allclose(other["obs/state"][:, 0], expert_rollout["obs/state"][:, 0])


def test_split_episodes_flags(env, expert_rollout):
    episodes = split_episodes(expert_rollout, env, SEED, 0)
    assert len(episodes) == BATCH
    for success, ep in episodes:
        n = len(ep["steps/action"])
        assert ep["steps/observation/state"].shape == (n, 12) and ep["steps/action"].shape == (n, 5)
        assert ep["steps/is_first"].tolist() == [True] + [False] * (n - 1)
        assert ep["steps/is_last"].tolist() == [False] * (n - 1) + [True]
        assert ep["steps/is_terminal"][-1] == success and not ep["steps/is_terminal"][:-1].any()
        assert ep["episode_metadata/success"] == success
        assert ep["steps/language_instruction"][0] == b"pick up the cube"
        if success:
            assert ep["steps/reward"][-1] > 2.0  # success bonus on the last step


def test_actions_inside_bounds(env, expert_rollout):
    for key in ("label", "executed"):
        a = expert_rollout[key]
        assert np.all(a >= env.action_low - 1e-6) and np.all(a <= env.action_high + 1e-6)


def test_unbatched_api_traces(env):
    """The unbatched API is pure and traceable (shapes only: compiling it again would cost ~20 s)."""
    state = jax.eval_shape(env.reset, jax.random.key(3))
    assert state.obs["state"].shape == (12,) and state.done.shape == ()
    nxt = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct((5,), np.float32))
    assert jax.tree.structure(nxt) == jax.tree.structure(state)
