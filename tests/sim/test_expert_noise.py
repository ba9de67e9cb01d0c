"""The shared expert-noise config check and draw (jaxrobot.sim.expert_noise) in every task that injects noise."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrobot.config import ConfigError, override, to_dict
from jaxrobot.sim import registry
from jaxrobot.sim.expert_noise import noise_segment

NOISY = ("pick_cube", "peg_insertion", "push_t")


@pytest.mark.parametrize("task", NOISY)
@pytest.mark.parametrize("field,value", [("expert_noise", -0.1), ("expert_noise_prob", 1.5),
                                         ("expert_noise_hold", 0)])
def test_bad_noise_fields_name_the_field(task, field, value):
    with pytest.raises(ConfigError, match=f"config field '{field}'"):
        registry.load(task, overrides={field: value})


@pytest.mark.parametrize("task", NOISY)
def test_noise_fields_stay_flat(task):
    """Saved configs and ``--set`` keep the flat field names."""
    cfg = registry.get_default_config(task)
    assert {"expert_noise", "expert_noise_prob", "expert_noise_hold"} <= set(to_dict(cfg))
    assert override(cfg, "expert_noise_hold=7").expert_noise_hold == 7


def test_noise_segment_is_held_and_scaled():
    cfg = registry.get_default_config("pick_cube").replace(expert_noise=0.5, expert_noise_prob=1.0,
                                                            expert_noise_hold=3)
    rng = jax.random.PRNGKey(0)
    draws = [noise_segment(cfg, jax.numpy.int32(t), rng, (4,)) for t in range(6)]
    assert all(bool(on) for on, _ in draws)  # prob 1
    for a, b in ((0, 1), (1, 2), (3, 4), (4, 5)):
        np.testing.assert_array_equal(draws[a][1], draws[b][1])  # held within a segment
    assert not np.array_equal(draws[2][1], draws[3][1])  # a new draw for the next one
    unit = jax.random.normal(jax.random.split(jax.random.fold_in(rng, 0))[1], (4,))
    np.testing.assert_allclose(draws[0][1], 0.5 * np.asarray(unit), rtol=1e-6)
    off = cfg.replace(expert_noise_prob=0.0)
    assert not any(bool(noise_segment(off, jax.numpy.int32(t), rng, (2,))[0]) for t in range(6))
