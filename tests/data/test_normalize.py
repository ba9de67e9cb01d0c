"""Statistics against numpy references; normalise/unnormalise round trips and guards; the cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from jaxrobot.data import normalize as norm


def _blocks(rng, n_blocks=40, dims=3):
    return [rng.normal([0.0, 5.0, -2.0][:dims], [1.0, 0.001, 3.0][:dims], size=(rng.integers(1, 60), dims))
            for _ in range(n_blocks)]


def test_exact_stats_match_numpy():
    blocks = _blocks(np.random.default_rng(0))
    acc = norm.StatsAccumulator()
    for b in blocks:
        acc.add(b)
    got, x = acc.result(), np.concatenate(blocks)
    np.testing.assert_allclose(got["mean"], x.mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["std_raw"], x.std(0), rtol=1e-9)
    np.testing.assert_allclose(got["std"], np.maximum(x.std(0), 1e-2))  # ACT floor hits dim 1
    assert got["std"][1] == 1e-2
    np.testing.assert_array_equal(got["min"], x.min(0))
    np.testing.assert_array_equal(got["max"], x.max(0))
    np.testing.assert_allclose(got["q01"], np.quantile(x, 0.01, axis=0))
    np.testing.assert_allclose(got["q99"], np.quantile(x, 0.99, axis=0))
    assert got["q_error"] == [0.0, 0.0, 0.0] and got["count"] == len(x)


def test_histogram_quantiles_within_stated_bound():
    rng = np.random.default_rng(1)
    # a growing range forces several histogram doublings in both directions
    blocks = [rng.normal(0, 1 + i, size=(500, 2)) * [1, 10] + [0, i] for i in range(30)]
    acc = norm.StatsAccumulator(exact_limit=1000, bins=2048)
    for b in blocks:
        acc.add(b)
    got, x = acc.result(), np.concatenate(blocks)
    assert all(e > 0 for e in got["q_error"])
    for q, key in ((0.01, "q01"), (0.99, "q99")):
        exact = np.quantile(x, q, axis=0)
        assert np.all(np.abs(np.array(got[key]) - exact) <= np.array(got["q_error"])), (key, got[key], exact)
    np.testing.assert_allclose(got["mean"], x.mean(0), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", ["mean_std", "min_max"])
def test_round_trip_and_guards(mode):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    x[:, 2] = 4.0  # constant dim: min == max, std == 0
    acc = norm.StatsAccumulator()
    acc.add(x)
    s = acc.result()
    y = norm.normalize(x, s, mode)
    assert np.all(np.isfinite(y))
    if mode == "min_max":
        assert y[:, :2].min() >= -1 - 1e-6 and y[:, :2].max() <= 1 + 1e-6
        np.testing.assert_allclose(y[:, :2].min(0), -1, atol=1e-6)
        assert np.all(y[:, 2] == 0)
    else:
        np.testing.assert_allclose(y[:, :2].mean(0), 0, atol=1e-5)
        assert np.all(y[:, 2] == 0)
    np.testing.assert_allclose(norm.unnormalize(y, s, mode), x, atol=1e-5)


def test_maps_work_on_jax_arrays():
    import jax
    import jax.numpy as jnp

    s = {"mean": [1.0, 2.0], "std": [2.0, 0.0], "min": [0.0, 3.0], "max": [2.0, 3.0]}
    x = np.array([[1.5, 3.0]], np.float32)
    for mode in ("mean_std", "min_max"):
        f = jax.jit(lambda a, m=mode: norm.unnormalize(norm.normalize(a, s, m), s, m))
        np.testing.assert_allclose(np.asarray(f(jnp.asarray(x))), x, atol=1e-6)
        np.testing.assert_allclose(np.asarray(norm.normalize(jnp.asarray(x), s, mode)), norm.normalize(x, s, mode))


def test_cache_keyed_by_fingerprint_and_config(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    fp = [["a-00000", 10, 123]]
    assert norm.cached_stats(fp, {"x": 1}, compute) == {"n": 1}
    assert norm.cached_stats(fp, {"x": 1}, compute) == {"n": 1}  # hit
    assert norm.cached_stats([["a-00000", 10, 124]], {"x": 1}, compute) == {"n": 2}  # mtime changed
    assert norm.cached_stats(fp, {"x": 2}, compute) == {"n": 3}  # config changed
    assert norm.cached_stats(fp, {"x": 1}, compute, use_cache=False) == {"n": 4}
    files = os.listdir(tmp_path / "stats")
    assert len(files) == 3 and all(f.endswith(".json") for f in files)
    json.loads((tmp_path / "stats" / files[0]).read_text())
