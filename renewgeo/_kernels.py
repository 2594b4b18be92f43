"""Compiled shortest-path kernels (numba, cached on disk).

The graph is an undirected CSR: ``indptr`` (n + 1), ``indices`` and ``weights`` (one
entry per direction). All kernels are plain Dijkstra with a binary heap and lazy
deletion; bounded searches touch only the nodes they reach and reset only those.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

__all__ = ["accumulate", "bounded_single", "multi_source_nearest"]


@njit(cache=True, inline="always")
def _push(hk: np.ndarray, hv: np.ndarray, size: int, key: float, val: int) -> int:
    i = size
    hk[i] = key
    hv[i] = val
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= hk[i]:
            break
        hk[p], hk[i] = hk[i], hk[p]
        hv[p], hv[i] = hv[i], hv[p]
        i = p
    return size + 1


@njit(cache=True, inline="always")
def _pop(hk: np.ndarray, hv: np.ndarray, size: int) -> int:
    size -= 1
    hk[0] = hk[size]
    hv[0] = hv[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        if left + 1 < size and hk[left + 1] < hk[left]:
            c = left + 1
        if hk[i] <= hk[c]:
            break
        hk[c], hk[i] = hk[i], hk[c]
        hv[c], hv[i] = hv[i], hv[c]
        i = c
    return size


@njit(cache=True)
def _dijkstra(indptr, indices, weights, seeds, seed_dist, limit, dist, touched, hk, hv):  # type: ignore[no-untyped-def]
    """Bounded multi-seed Dijkstra into ``dist`` (must be +inf where untouched).

    Returns the number of touched nodes written to ``touched``.
    """
    size = 0
    nt = 0
    for i in range(seeds.shape[0]):
        s = seeds[i]
        d0 = seed_dist[i]
        if d0 <= limit and d0 < dist[s]:
            if dist[s] == np.inf:
                touched[nt] = s
                nt += 1
            dist[s] = d0
            size = _push(hk, hv, size, d0, s)
    while size > 0:
        d = hk[0]
        u = hv[0]
        size = _pop(hk, hv, size)
        if d > dist[u]:
            continue
        for k in range(indptr[u], indptr[u + 1]):
            v = indices[k]
            nd = d + weights[k]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[nt] = v
                    nt += 1
                dist[v] = nd
                if size >= hk.shape[0]:  # cannot happen with capacity len(indices)+seeds; guard anyway
                    return -1
                size = _push(hk, hv, size, nd, v)
    return nt


@njit(cache=True)
def bounded_single(indptr, indices, weights, seeds, seed_dist, limit):  # type: ignore[no-untyped-def]
    """Distances from a set of seeds (one search), +inf beyond ``limit``."""
    n = indptr.shape[0] - 1
    dist = np.full(n, np.inf)
    touched = np.empty(n, dtype=np.int64)
    cap = indices.shape[0] + seeds.shape[0] + 1
    hk = np.empty(cap, dtype=np.float64)
    hv = np.empty(cap, dtype=np.int64)
    _dijkstra(indptr, indices, weights, seeds, seed_dist, limit, dist, touched, hk, hv)
    return dist


@njit(cache=True, parallel=True)
def multi_source_nearest(indptr, indices, weights, sources, source_group, n_groups, limit):  # type: ignore[no-untyped-def]
    """For each group, the distance from every node to the group's nearest source.

    One multi-source search per group (parallel over groups). Returns
    ``(n_groups, n)`` float64, +inf where no source lies within ``limit``.
    """
    n = indptr.shape[0] - 1
    out = np.full((n_groups, n), np.inf)
    for g in prange(n_groups):
        m = 0
        for i in range(sources.shape[0]):
            if source_group[i] == g:
                m += 1
        seeds = np.empty(m, dtype=np.int64)
        j = 0
        for i in range(sources.shape[0]):
            if source_group[i] == g:
                seeds[j] = sources[i]
                j += 1
        touched = np.empty(n, dtype=np.int64)
        cap = indices.shape[0] + m + 1
        hk = np.empty(cap, dtype=np.float64)
        hv = np.empty(cap, dtype=np.int64)
        row = out[g]
        _dijkstra(indptr, indices, weights, seeds, np.zeros(m), limit, row, touched, hk, hv)
    return out


@njit(cache=True)
def _accumulate_into(indptr, indices, weights, seeds, thresholds, betas, count, gravity, linear):  # type: ignore[no-untyped-def]
    """Add each seed's bounded search to ``count``, ``gravity`` and ``linear`` (thresholds x nodes)."""
    n = indptr.shape[0] - 1
    nt_ = thresholds.shape[0]
    limit = thresholds.max()
    dist = np.full(n, np.inf)
    touched = np.empty(n, dtype=np.int64)
    cap = indices.shape[0] + 2
    hk = np.empty(cap, dtype=np.float64)
    hv = np.empty(cap, dtype=np.int64)
    seed = np.empty(1, dtype=np.int64)
    zero = np.zeros(1)
    for i in range(seeds.shape[0]):
        seed[0] = seeds[i]
        m = _dijkstra(indptr, indices, weights, seed, zero, limit, dist, touched, hk, hv)
        for j in range(m):
            v = touched[j]
            d = dist[v]
            for t in range(nt_):
                if d <= thresholds[t]:
                    count[t, v] += 1
                    gravity[t, v] += np.exp(-betas[t] * d)
                    linear[t, v] += 1.0 - d / thresholds[t]
            dist[v] = np.inf


def accumulate(indptr, indices, weights, sources, source_group, n_groups, thresholds, betas):  # type: ignore[no-untyped-def]
    """Amenity-centred bounded searches: counts and decay-weighted sums at every node.

    For every source (an amenity node) a Dijkstra bounded by the largest threshold
    adds, at each node it reaches within threshold ``t``: 1 to ``count[g, t]``,
    ``exp(-beta_t * d)`` to ``gravity[g, t]`` and ``1 - d / t`` to ``linear[g, t]``.
    These are sums over sources, so parts of the sources can be searched apart and
    their results added: each group's sources are split into one part per numba thread
    (parallel however unequal the groups are). Returns ``(n_groups, thresholds, n)``
    arrays: count int32, gravity and linear float32.
    """
    return _accumulate(indptr, indices, weights, sources, source_group, n_groups, thresholds, betas, get_num_threads())


@njit(cache=True, parallel=True)
def _accumulate(indptr, indices, weights, sources, source_group, n_groups, thresholds, betas, parts):  # type: ignore[no-untyped-def]
    """:func:`accumulate` with each group's sources in ``parts`` parts: the first adds straight into the result, the others into their own arrays, summed after."""
    n = indptr.shape[0] - 1
    nt_ = thresholds.shape[0]
    count = np.zeros((n_groups, nt_, n), dtype=np.int32)
    gravity = np.zeros((n_groups, nt_, n), dtype=np.float32)
    linear = np.zeros((n_groups, nt_, n), dtype=np.float32)
    for g in range(n_groups):
        seeds = sources[source_group == g]
        m = seeds.shape[0]
        k = min(parts, m)
        if k == 0:
            continue
        extra_c = np.zeros((k - 1, nt_, n), dtype=np.int32)
        extra_g = np.zeros((k - 1, nt_, n), dtype=np.float32)
        extra_l = np.zeros((k - 1, nt_, n), dtype=np.float32)
        for c in prange(k):
            part = seeds[c * m // k: (c + 1) * m // k]
            if c == 0:
                _accumulate_into(indptr, indices, weights, part, thresholds, betas, count[g], gravity[g], linear[g])
            else:
                _accumulate_into(indptr, indices, weights, part, thresholds, betas, extra_c[c - 1], extra_g[c - 1], extra_l[c - 1])
        for v in prange(n):
            for c in range(k - 1):
                for t in range(nt_):
                    count[g, t, v] += extra_c[c, t, v]
                    gravity[g, t, v] += extra_g[c, t, v]
                    linear[g, t, v] += extra_l[c, t, v]
    return count, gravity, linear
