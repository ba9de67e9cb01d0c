"""The chunk policies' shared batch helpers (``jaxrobot.models.policy_batch``)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.models.policy_batch import camera_keys, check_action_shape, masked_action_mean, model_inputs


def test_model_inputs_and_camera_keys():
    batch = {"observation/state": 1, "observation/pad_mask": 2, "observation/image_wrist": 3,
             "observation/image_top": 4, "action": 5, "action_pad_mask": 6}
    obs = model_inputs(batch)
    assert sorted(obs) == ["observation/image_top", "observation/image_wrist", "observation/state"]
    assert camera_keys(obs) == ["observation/image_top", "observation/image_wrist"]


def test_check_action_shape_names_both_fields():
    batch = {"action": np.zeros((2, 8, 4))}
    check_action_shape(batch, "horizon", 8, 4)
    with pytest.raises(ConfigError, match=r"'model.chunk_size'/'model.action_dim'.*\(10, 4\).*\(8, 4\)"):
        check_action_shape(batch, "chunk_size", 10, 4)


def test_masked_action_mean_counts_valid_elements_only():
    err = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    mask = jnp.array([[True, True, False], [True, False, False]])
    want = (0 + 1 + 2 + 3 + 6 + 7) / 6
    assert float(masked_action_mean(err, mask)) == pytest.approx(want)
    assert float(masked_action_mean(err, jnp.zeros((2, 3), bool))) == 0.0  # nothing valid: 0, not NaN
