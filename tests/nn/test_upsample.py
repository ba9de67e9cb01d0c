"""Exportable 2x upsampling (``jaxrobot.nn.upsample``) against ``jax.image.resize`` and ``np.repeat``."""

import jax
import numpy as np

from jaxrobot.nn.upsample import upsample2x, upsample2x_nearest


def test_upsample_matches_bilinear_resize():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 7, 3))
    np.testing.assert_allclose(upsample2x(x), jax.image.resize(x, (2, 10, 14, 3), "bilinear"), atol=1e-6)


def test_nearest_repeats_each_value_into_a_2x2_block():
    x = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    np.testing.assert_array_equal(upsample2x_nearest(x), x.repeat(2, axis=1).repeat(2, axis=2))
