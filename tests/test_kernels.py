"""The compiled kernels against an independent engine (scipy's Dijkstra), on graphs chosen to break a heap."""

from __future__ import annotations

import logging
import time

import numba
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from renewgeo import _kernels as K


def _graph(n=3000, m=9000, seed=0, zeros=True):
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    u, v = u[keep], v[keep]
    w = rng.uniform(0.5, 80.0, len(u))
    w[::17] = np.round(w[::17])  # ties
    if zeros:
        w[::97] = 0.0  # points at the same place
    indptr, indices, weights = K.csr(u, v, w, n)
    # scipy's matrix would add up parallel edges: give it the shortest of each (a path takes that one)
    best = {}
    for x, y, z in zip(np.r_[u, v], np.r_[v, u], np.r_[w, w], strict=True):
        if (x, y) not in best or z < best[(x, y)]:
            best[(x, y)] = z
    keys = np.array(list(best))
    ref = coo_matrix((np.array(list(best.values())) + 1e-300, (keys[:, 0], keys[:, 1])), shape=(n, n)).tocsr()  # 0 stays an edge
    return indptr, indices, weights, ref


def test_csr_is_a_stable_sort_by_source():
    rng = np.random.default_rng(1)
    u, v, w = rng.integers(0, 500, 4000), rng.integers(0, 500, 4000), rng.random(4000)
    src, dst, ww = np.r_[u, v], np.r_[v, u], np.r_[w, w]
    order = np.argsort(src, kind="stable")
    indptr, indices, weights = K.csr(u, v, w, 600)
    assert np.array_equal(indptr, np.r_[0, np.cumsum(np.bincount(src, minlength=600))])
    assert np.array_equal(indices, dst[order]) and np.array_equal(weights, ww[order])


@pytest.mark.parametrize("limit", [np.inf, 150.0])
def test_nearest_and_bounded_match_scipy(limit):
    indptr, indices, weights, ref = _graph()
    rng = np.random.default_rng(2)
    sources = rng.integers(0, 3000, 40)
    groups = rng.integers(0, 4, 40)
    got = K.multi_source_nearest(indptr, indices, weights, sources, groups, 4, limit)
    for g in range(4):
        d = dijkstra(ref, indices=sources[groups == g], min_only=True, limit=limit)
        d[d > limit] = np.inf
        assert np.allclose(got[g], d, rtol=1e-12, atol=1e-9, equal_nan=False) and np.array_equal(np.isinf(got[g]), np.isinf(d))
    one = K.bounded_single(indptr, indices, weights, sources[:3], np.zeros(3), limit)
    d = dijkstra(ref, indices=sources[:3], min_only=True, limit=limit)
    d[d > limit] = np.inf
    assert np.allclose(one, d, rtol=1e-12, atol=1e-9) and np.array_equal(np.isinf(one), np.isinf(d))
    out = np.zeros((4, 2, len(indptr) - 1))[:, 1]  # rows of a larger block
    assert K.multi_source_nearest(indptr, indices, weights, sources, groups, 4, limit, out=out) is out
    assert np.array_equal(out, got)


def test_accumulate_matches_scipy_and_any_thread_count():
    indptr, indices, weights, ref = _graph(2000, 6000, seed=3, zeros=False)
    rng = np.random.default_rng(4)
    sources, groups = rng.integers(0, 2000, 90), np.repeat([0, 1, 2], 30)
    th = np.array([60.0, 120.0, 200.0])
    count, gravity, linear = K.accumulate(indptr, indices, weights, sources, groups, 3, th, 4 / th)
    d = dijkstra(ref, indices=sources)  # (sources, nodes)
    for g in range(3):
        dg = d[groups == g]
        for t, lim in enumerate(th):
            within = dg <= lim
            assert np.array_equal(count[g, t], within.sum(axis=0))
            assert np.allclose(gravity[g, t], np.where(within, np.exp(-4 / lim * dg), 0).sum(axis=0), rtol=1e-5, atol=1e-6)
            assert np.allclose(linear[g, t], np.where(within, 1 - dg / lim, 0).sum(axis=0), rtol=1e-5, atol=1e-6)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = K.accumulate(indptr, indices, weights, sources, groups, 3, th, 4 / th)
    finally:
        numba.set_num_threads(before)
    assert all(np.array_equal(a, b) for a, b in zip(one, (count, gravity, linear), strict=True))  # equal groups: never cut
    block = np.zeros((3, 6, len(indptr) - 1))
    wide = (np.zeros((3, 3, len(indptr) - 1), dtype=np.int64), block[:, 0::2], block[:, 1::2])
    K.accumulate(indptr, indices, weights, sources, groups, 3, th, 4 / th, out=wide)
    assert all(np.array_equal(a, b) for a, b in zip(wide, (count, gravity, linear), strict=True))  # the same float32 sums
    with pytest.raises(ValueError, match="out must be of shape"):
        K.accumulate(indptr, indices, weights, sources, groups, 3, th, 4 / th, out=(wide[0][:2], wide[1], wide[2]))


def test_a_big_group_is_cut_and_added_back():
    indptr, indices, weights, ref = _graph(2000, 6000, seed=5, zeros=False)
    rng = np.random.default_rng(6)
    sources, groups = rng.integers(0, 2000, 100), np.r_[np.zeros(90, int), np.ones(10, int)]
    th = np.array([100.0])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        count, gravity, _ = K.accumulate(indptr, indices, weights, sources, groups, 2, th, 4 / th)
    finally:
        numba.set_num_threads(before)
    d = dijkstra(ref, indices=sources[:90])
    assert np.array_equal(count[0, 0], (d <= 100).sum(axis=0))
    assert np.allclose(gravity[0, 0], np.where(d <= 100, np.exp(-0.04 * d), 0).sum(axis=0), rtol=1e-5, atol=1e-6)


def test_negative_seed_distance_refused():
    indptr, indices, weights = K.csr(np.array([0]), np.array([1]), np.array([1.0]), 2)
    with pytest.raises(ValueError, match=">= 0"):
        K.bounded_single(indptr, indices, weights, np.array([0]), np.array([-1.0]), 5.0)


def test_a_slow_first_call_says_it_is_compiling_once(monkeypatch, caplog):
    monkeypatch.setattr(K, "_NOTICE_AFTER_S", 0.05)
    monkeypatch.setattr(K, "_first_calls", set())
    monkeypatch.setattr(K, "_said", False)
    with caplog.at_level(logging.INFO, logger="renewgeo._kernels"):
        with K._first_call("a"):
            time.sleep(0.3)
        with K._first_call("b"):
            time.sleep(0.3)
        with K._first_call("c"):
            pass
    said = [r for r in caplog.records if "compiling the shortest-path kernels" in r.getMessage()]
    assert len(said) == 1


def test_no_cache_folder_is_no_error(monkeypatch):
    real = K.njit

    def refusing(*args, **kwargs):
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return real(*args, **kwargs)

    monkeypatch.setattr(K, "njit", refusing)
    monkeypatch.setattr(K, "_CACHED", True)
    f = K._jit()(lambda x: x + 1)
    assert f(1) == 2 and K._CACHED is False
