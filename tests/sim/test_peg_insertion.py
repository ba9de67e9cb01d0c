"""peg_insertion: reset distribution, success predicate, expert success rate, determinism per seed,
demos written through gen-demos read back with tfds.

One batch size (``conftest.BATCH``) and module-shared compiled functions (compiling the batched step takes
20-70 s on this loaded CPU, seconds with the persistent cache).
"""

import jax
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.sim import registry
from jaxrobot.sim.batch import episode_keys
from jaxrobot.sim.demos import rollout_expert
from jaxrobot.sim.gantry import TABLE_TOP
from jaxrobot.sim.tasks import peg_insertion as pi
from tests.helpers.sim import BATCH, SEED


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
    np.testing.assert_allclose(s[:, 7], TABLE_TOP + pi.PEG_HALF[2], atol=1e-4)  # upright on the table
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


def test_randomized_models(peg_env):
    """randomize_model: seeded, inside the configured ranges (uniform peg scaling, mass, friction)."""
    from jaxrobot.sim.randomize import randomize_models

    r = peg_env.config.randomization
    _, _, k_model = episode_keys(SEED, 0, BATCH)
    models = randomize_models(peg_env, k_model)
    again = randomize_models(peg_env, k_model)
    g, b = peg_env._peg_geom, peg_env._peg_body
    half = np.asarray(models.geom_size[:, g])
    np.testing.assert_array_equal(half, np.asarray(again.geom_size[:, g]))
    scale = half / np.asarray(pi.PEG_HALF, np.float32)
    np.testing.assert_allclose(scale, scale[:, :1].repeat(3, 1), rtol=1e-5)  # uniform scaling
    assert np.all((scale >= r.size_scale[0] - 1e-6) & (scale <= r.size_scale[1] + 1e-6))
    assert scale.std() > 0.01
    mass = np.asarray(models.body_mass[:, b]) / peg_env.mj_model.body_mass[b]
    assert np.all((mass >= r.mass_scale[0] - 1e-6) & (mass <= r.mass_scale[1] + 1e-6))
    friction = np.asarray(models.geom_friction[:, g, 0]) / peg_env.mj_model.geom_friction[g, 0]
    assert np.all((friction >= r.friction_scale[0] - 1e-6) & (friction <= r.friction_scale[1] + 1e-6))
    with pytest.raises(ConfigError, match="size_scale"):
        registry.load("peg_insertion", overrides=["randomization.size_scale=(1.0, 1.2)"])


@pytest.mark.slow
def test_randomized_expert_succeeds(peg_env):
    """Randomised pegs rest on the table with the state reporting their own size, and the expert inserts
    them (size, mass, friction randomised; compiles a second batched step)."""
    from jaxrobot.sim.batch import batched
    from jaxrobot.sim.randomize import randomize_models

    roll = rollout_expert(batched(peg_env, randomized=True), SEED, 0, BATCH)
    half = np.asarray(randomize_models(peg_env, episode_keys(SEED, 0, BATCH)[2]).geom_size[:, peg_env._peg_geom])
    s0 = roll["obs/state"][:, 0]
    np.testing.assert_allclose(s0[:, 7], TABLE_TOP + half[:, 2], atol=1e-4)
    np.testing.assert_allclose(s0[:, 14], 0.0, atol=1e-4)
    success, _ = _first_success(roll)
    assert success.mean() >= 0.9, success
