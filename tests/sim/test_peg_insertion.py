"""peg_insertion: reset distribution, success predicate, expert success rate, determinism per seed,
demos written through gen-demos read back with tfds.

One batch size (``conftest.BATCH``) and module-shared compiled functions (compiling the batched step takes
20-70 s on this loaded CPU, seconds with the persistent cache).
"""

import jax
import numpy as np
import pytest
from conftest import BATCH, SEED

from jaxrobot.sim.batch import episode_keys
from jaxrobot.sim.demos import rollout_expert
from jaxrobot.sim.tasks import peg_insertion as pi

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def peg_env():
    from jaxrobot.sim import registry

    return registry.load("peg_insertion")


@pytest.fixture(scope="module")
def peg_benv(peg_env):
    from jaxrobot.sim.batch import batched

    return batched(peg_env)


@pytest.fixture(scope="module")
def peg_rollout(peg_benv):
    return rollout_expert(peg_benv, SEED, 0, BATCH)


def _first_success(roll):
    done = roll["done"]
    first = done.argmax(axis=1)
    return roll["success"][np.arange(BATCH), first] & done.any(axis=1), first


def test_reset_distribution(peg_env, peg_benv):
    k_reset, _, _ = episode_keys(SEED, 0, BATCH)
    state = peg_benv.reset(peg_env.mjx_model, k_reset)
    s = np.asarray(state.obs["state"])
    assert s.shape == (BATCH, 15) and s.dtype == np.float32
    cfg = peg_env.config
    np.testing.assert_allclose(s[:, 7], pi.TABLE_TOP + pi.PEG_HALF[2], atol=1e-4)  # upright on the table
    np.testing.assert_allclose(s[:, 14], 0.0, atol=1e-4)  # peg bottom on the table top
    assert np.all(np.abs(s[:, 12] - 0.55) <= cfg.hole_xy_range + 1e-6) and np.std(s[:, 12]) > 0.01
    assert np.all(np.abs(s[:, 13] - 0.10) <= cfg.hole_xy_range + 1e-6)
    assert np.all(np.abs(s[:, 5] - 0.45) <= cfg.peg_xy_range + 1e-6) and np.std(s[:, 5]) > 0.01
    assert not np.asarray(state.done).any() and not np.asarray(state.success).any()


def test_expert_success_rate(peg_rollout):
    """>= 95% of seeded episodes insert the peg with noise injection on."""
    success, _ = _first_success(peg_rollout)
    assert success.mean() >= 0.95, success
    assert np.abs(peg_rollout["executed"] - peg_rollout["label"]).max() > 0.005  # noise was injected


def test_success_means_peg_inside_the_hole(peg_env, peg_rollout):
    """At the success step (the observation after it is not recorded, so check the step before): the peg
    is above the hole within the clearance and already low; its bottom never goes below the table."""
    success, first = _first_success(peg_rollout)
    s = peg_rollout["obs/state"]
    b = np.flatnonzero(success)
    last_obs = s[b, first[b]]
    assert np.all(np.abs(last_obs[:, 5:7] - last_obs[:, 12:14]).max(axis=1) < pi.HOLE_HALF)
    assert np.all(last_obs[:, 14] < pi.WALL_HEIGHT)  # already inside the walls one step before success
    assert s[..., 14].min() > -0.002


def test_rollout_is_deterministic_per_seed(peg_benv, peg_rollout):
    again = rollout_expert(peg_benv, SEED, 0, BATCH)
    for key in ("obs/state", "label", "executed", "reward", "done"):
        np.testing.assert_array_equal(again[key], peg_rollout[key], err_msg=key)


def test_actions_inside_bounds(peg_env, peg_rollout):
    for key in ("label", "executed"):
        a = peg_rollout[key]
        assert np.all(a >= peg_env.action_low - 1e-6) and np.all(a <= peg_env.action_high + 1e-6)


def test_unbatched_api_traces(peg_env):
    state = jax.eval_shape(peg_env.reset, jax.random.key(3))
    assert state.obs["state"].shape == (15,)
    nxt = jax.eval_shape(peg_env.step, state, jax.ShapeDtypeStruct((5,), np.float32))
    assert jax.tree.structure(nxt) == jax.tree.structure(state)


def test_gen_demos_reads_back_through_tfds(peg_env, peg_benv, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from jaxrobot.sim.demos import choose_batch_size, generate

    n = 20
    assert choose_batch_size(n) == BATCH  # reuses the module's compiled step
    stats = generate(peg_env, "peg_insertion", str(tmp_path), n, seed=SEED, progress=False)
    builder = tfds.builder_from_directory(stats["path"])
    assert builder.name == "jaxrobot_sim_peg_insertion"
    episodes = list(tfds.as_numpy(builder.as_dataset(split="train")))
    assert len(episodes) == n
    for ep in episodes:
        steps = list(ep["steps"])
        t = len(steps)
        assert [s["is_first"] for s in steps] == [True] + [False] * (t - 1)
        assert [s["is_last"] for s in steps] == [False] * (t - 1) + [True]
        assert steps[-1]["is_terminal"] and bool(ep["episode_metadata"]["success"])
        assert steps[0]["observation"]["state"].shape == (15,) and steps[0]["action"].shape == (5,)
        assert steps[0]["language_instruction"] == b"insert the peg into the hole"
