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


_TASKS_PER_THREAD = 4  # enough tasks that unequal groups still share the threads evenly


def accumulate(indptr, indices, weights, sources, source_group, n_groups, thresholds, betas):  # type: ignore[no-untyped-def]
    """Amenity-centred bounded searches: counts and decay-weighted sums at every node.

    For every source (an amenity node) a Dijkstra bounded by the largest threshold
    adds, at each node it reaches within threshold ``t``: 1 to ``count[g, t]``,
    ``exp(-beta_t * d)`` to ``gravity[g, t]`` and ``1 - d / t`` to ``linear[g, t]``.
    These are sums over sources, so parts of the sources can be searched apart and
    their results added. The work is cut into tasks of about equal numbers of sources
    (a group's sources in as many tasks as its share of all sources asks for, at least
    one; about four tasks per numba thread) that run in one parallel section; the first
    task of a group adds straight into the result, the others into their own arrays,
    summed after. Returns ``(n_groups, thresholds, n)`` arrays: count int32, gravity and
    linear float32.
    """
    sources = np.asarray(sources, dtype=np.int64)
    source_group = np.asarray(source_group, dtype=np.int64)
    order = np.argsort(source_group, kind="stable")
    seeds, grp = sources[order], source_group[order]
    sizes = np.bincount(grp, minlength=n_groups)[:n_groups] if len(grp) else np.zeros(n_groups, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(sizes)])
    want = _TASKS_PER_THREAD * get_num_threads()
    k = np.where(sizes > 0, np.minimum(sizes, np.maximum(1, np.ceil(want * sizes / max(len(seeds), 1)).astype(np.int64))), 0)
    t_group = np.repeat(np.arange(n_groups), k)
    t_part = np.concatenate([np.arange(x) for x in k]) if k.sum() else np.zeros(0, dtype=np.int64)
    t_lo = start[t_group] + t_part * sizes[t_group] // k[t_group]
    t_hi = start[t_group] + (t_part + 1) * sizes[t_group] // k[t_group]
    t_slot = np.where(t_part == 0, -1, np.cumsum(t_part > 0) - 1)
    slot_group = t_group[t_part > 0]
    return _accumulate(indptr, indices, weights, seeds, t_group, t_lo, t_hi, t_slot, slot_group, n_groups, thresholds, betas)


@njit(cache=True, parallel=True)
def _accumulate(indptr, indices, weights, seeds, t_group, t_lo, t_hi, t_slot, slot_group, n_groups, thresholds, betas):  # type: ignore[no-untyped-def]
    """:func:`accumulate`'s tasks in one parallel section, then the extra arrays added into their groups."""
    n = indptr.shape[0] - 1
    nt_ = thresholds.shape[0]
    n_extra = slot_group.shape[0]
    count = np.zeros((n_groups, nt_, n), dtype=np.int32)
    gravity = np.zeros((n_groups, nt_, n), dtype=np.float32)
    linear = np.zeros((n_groups, nt_, n), dtype=np.float32)
    extra_c = np.zeros((n_extra, nt_, n), dtype=np.int32)
    extra_g = np.zeros((n_extra, nt_, n), dtype=np.float32)
    extra_l = np.zeros((n_extra, nt_, n), dtype=np.float32)
    for i in prange(t_group.shape[0]):
        g, s = t_group[i], t_slot[i]
        part = seeds[t_lo[i]:t_hi[i]]
        if s < 0:
            _accumulate_into(indptr, indices, weights, part, thresholds, betas, count[g], gravity[g], linear[g])
        else:
            _accumulate_into(indptr, indices, weights, part, thresholds, betas, extra_c[s], extra_g[s], extra_l[s])
    for v in prange(n):
        for s in range(n_extra):
            g = slot_group[s]
            for t in range(nt_):
                count[g, t, v] += extra_c[s, t, v]
                gravity[g, t, v] += extra_g[s, t, v]
                linear[g, t, v] += extra_l[s, t, v]
    return count, gravity, linear
