"""Global shuffle without a buffer: bijections, determinism, resume, host slices, mixtures."""

from __future__ import annotations

import numpy as np
import pytest

from jaxrobot.data import sampler as S


@pytest.mark.parametrize("n", [1, 2, 3, 31, 1000, 4097])
def test_feistel_is_a_bijection(n):
    p = S.feistel_permute(np.arange(n), n, seed=5, epoch=2)
    assert sorted(p.tolist()) == list(range(n))
    assert not np.array_equal(p, S.feistel_permute(np.arange(n), n, seed=5, epoch=3)) or n < 3


def test_big_n_uses_feistel_and_is_consistent(monkeypatch):
    monkeypatch.setattr(S, "ARRAY_PERMUTATION_LIMIT", 10)
    n = 1000
    whole = S.positions_to_indices(0, n, n, seed=1)
    assert sorted(whole.tolist()) == list(range(n))  # every example once per epoch
    np.testing.assert_array_equal(S.positions_to_indices(100, 50, n, seed=1), whole[100:150])


def test_every_epoch_visits_every_example_and_resume_is_exact():
    s = S.IndexSampler(23, 8, seed=3)
    seen = np.concatenate([s.next_local() for _ in range(23)])  # 8 epochs exactly
    for e in range(8):
        assert sorted(seen[e * 23:(e + 1) * 23].tolist()) == list(range(23))
    r = S.IndexSampler(23, 8, seed=3)
    r.set_state({"position": 5 * 8})
    np.testing.assert_array_equal(r.next_local(), seen[40:48])


def test_host_slices_are_disjoint_and_union_is_the_global_batch():
    ref = S.IndexSampler(100, 12, seed=0)
    hosts = [S.IndexSampler(100, 12, seed=0, process_index=i, process_count=3) for i in range(3)]
    for _ in range(10):
        parts = [h.next_local() for h in hosts]
        np.testing.assert_array_equal(np.concatenate(parts), ref.next_local())


def test_step_index():
    idx = S.StepIndex([3, 1, 2])
    ep, t = idx.locate(np.arange(6))
    assert ep.tolist() == [0, 0, 0, 1, 2, 2] and t.tolist() == [0, 1, 2, 0, 0, 1] and len(idx) == 6


def test_mixture_counts_are_unbiased():
    w = [0.2, 0.5, 0.3]
    counts = np.array([S.mixture_counts(7, w, seed=0, batch=b) for b in range(4000)])
    assert np.all(counts.sum(1) == 7)
    np.testing.assert_allclose(counts.mean(0) / 7, w, atol=0.01)
    # each batch is within one of B * w (systematic rounding)
    assert np.all(np.abs(counts - 7 * np.array(w)) < 1)


def test_mixture_sampler_weights_resume_and_hosts():
    sizes, w = [50, 7], [0.75, 0.25]
    m = S.MixtureSampler(sizes, w, 8, seed=1)
    ds = np.concatenate([m.next_local()[0] for _ in range(500)])
    assert abs(ds.mean() - 0.25) < 0.01
    m1 = S.MixtureSampler(sizes, w, 8, seed=1)
    for _ in range(3):
        m1.next_local()
    state = m1.get_state()
    nxt = m1.next_local()
    m2 = S.MixtureSampler(sizes, w, 8, seed=1)
    m2.set_state(state)
    for a, b in zip(m2.next_local(), nxt, strict=True):
        np.testing.assert_array_equal(a, b)
    hosts = [S.MixtureSampler(sizes, w, 8, seed=1, process_index=i, process_count=2) for i in range(2)]
    ref = S.MixtureSampler(sizes, w, 8, seed=1)
    for _ in range(5):
        parts = [h.next_local() for h in hosts]
        want = ref.next_local()
        for k in range(2):
            np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), want[k])


def test_sources_share_one_sampler_state():
    """Sources whose state is their sampler's take get_state/set_state from SamplerState (no copies)."""
    from jaxrobot.data.sampler import SamplerState
    from jaxrobot.data.sources.pool import PoolSource
    from jaxrobot.data.sources.synthetic import SyntheticSource

    for cls in (PoolSource, SyntheticSource):
        assert cls.get_state is SamplerState.get_state and cls.set_state is SamplerState.set_state, cls
    src = PoolSource(None, {"x": np.arange(10)}, {}, global_batch_size=4, seed=1)
    assert iter(src) is src
    first = [next(src)["x"] for _ in range(3)]
    src.set_state({"position": 4})
    assert src.get_state() == {"position": 4}
    np.testing.assert_array_equal(next(src)["x"], first[1])
