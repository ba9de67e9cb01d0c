"""Domain randomisation: seeded, per-environment model fields inside the configured ranges."""

import jax
import numpy as np
import pytest

from jaxrobot.sim.batch import batched, episode_keys
from jaxrobot.sim.gantry import TABLE_TOP
from jaxrobot.sim.randomize import model_axes, randomize_models
from tests.helpers.sim import BATCH


def test_models_seeded_and_in_range(env):
    keys = jax.random.split(jax.random.key(0), 8)
    a = randomize_models(env, keys)
    b = randomize_models(env, keys)
    g, body = env._cube_geom, env._cube_body
    r = env.config.randomization
    size = np.asarray(a.geom_size[:, g, 0])
    np.testing.assert_array_equal(size, np.asarray(b.geom_size[:, g, 0]))
    assert np.all((size >= 0.02 * r.size_scale[0] - 1e-7) & (size <= 0.02 * r.size_scale[1] + 1e-7))
    assert np.unique(size).size == 8
    mass = np.asarray(a.body_mass[:, body])
    base = env.mj_model.body_mass[body]
    assert np.all((mass >= base * r.mass_scale[0] - 1e-7) & (mass <= base * r.mass_scale[1] + 1e-7))
    # Only the listed fields carry a batch axis; the table's size is shared and unchanged.
    assert a.geom_size.shape[0] == 8 and a.opt.timestep.shape == ()
    np.testing.assert_allclose(np.asarray(a.geom_size[:, env._table_geom]),
                               np.broadcast_to(env.mj_model.geom_size[env._table_geom], (8, 3)))
    axes = model_axes(env)
    assert axes.geom_friction == 0 and axes.body_pos is None  # numpy fields (geom_type) are static


@pytest.mark.slow
def test_randomized_expert_succeeds(env):
    """Expert success with randomised friction, mass, size and colours (compiles a second step: slow)."""
    from jaxrobot.sim.demos import rollout_expert

    benv = batched(env, randomized=True)
    _, _, k_model = episode_keys(0, 0, BATCH)
    models = benv.models(k_model)
    roll = rollout_expert(benv, 0, 0, BATCH)
    half = np.asarray(models.geom_size[:, env._cube_geom, 0])
    np.testing.assert_allclose(roll["obs/state"][:, 0, 7], TABLE_TOP + half, atol=2e-4)
    first = roll["done"].argmax(axis=1)
    success = roll["success"][np.arange(BATCH), first]
    assert success.mean() >= 0.9
