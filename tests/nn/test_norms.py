"""Normalisation layers (``jaxrobot.nn.norms``): frozen BatchNorm, the exportable GroupNorm, group counts."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.nn.norms import FrozenBatchNorm, GroupNorm, group_count, make_norm, stop_gradient_frozen


def test_frozen_batchnorm_formula_and_zero_gradient():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 3, 3, 4)), jnp.float32)
    m = FrozenBatchNorm()
    v = m.init(jax.random.PRNGKey(0), x)
    assert set(v) == {"frozen"}
    stats = {k: jnp.asarray(rng.uniform(0.5, 2.0, 4), jnp.float32) for k in ("scale", "bias", "mean", "var")}
    v = {"frozen": stats}
    want = (x - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-5) * stats["scale"] + stats["bias"]
    np.testing.assert_allclose(m.apply(v, x), want, rtol=1e-5, atol=1e-6)
    g = jax.grad(lambda v: jnp.sum(m.apply(stop_gradient_frozen(v), x) ** 2))(v)
    assert all(float(jnp.abs(leaf).max()) == 0.0 for leaf in jax.tree.leaves(g))


def test_group_count_is_c_over_16_for_resnet_channels():
    assert [group_count(c) for c in (64, 128, 256, 512)] == [4, 8, 16, 32]
    assert group_count(88) == 4 and 88 % group_count(88) == 0  # MobileNet's odd widths still divide
    assert group_count(8) == 1


def test_exportable_group_norm_equals_flax_group_norm():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(1.0, 2.0, size=(3, 5, 4, 12)), jnp.float32)
    params = {"params": {"scale": jnp.asarray(rng.normal(size=12), jnp.float32),
                         "bias": jnp.asarray(rng.normal(size=12), jnp.float32)}}
    want = nn.GroupNorm(num_groups=4, epsilon=1e-5).apply(params, x)
    np.testing.assert_allclose(GroupNorm(4).apply(params, x), want, rtol=1e-5, atol=1e-5)


def test_make_norm_picks_by_name():
    x = jnp.ones((1, 2, 2, 32))

    class Wrap(nn.Module):
        norm: str

        @nn.compact
        def __call__(self, x):
            return make_norm(self.norm)(32, name="n")(x)

    assert set(jax.eval_shape(Wrap("frozen_bn").init, jax.random.PRNGKey(0), x)) == {"frozen"}
    gn = jax.eval_shape(Wrap("group_norm").init, jax.random.PRNGKey(0), x)
    assert set(gn["params"]["n"]) == {"scale", "bias"}
