"""Compiled kernels (numba, cached on disk): shortest paths on the walking graph, the graph itself, sums by group.

The graph is an undirected CSR: ``indptr`` (n + 1), ``indices`` and ``weights`` (one
entry per direction, lengths >= 0). Every search is Dijkstra with lazy deletion on a
radix heap (Ahuja, Mehlhorn, Orlin and Tarjan 1990): Dijkstra pops distances in
increasing order, so a distance is filed in the bucket of the highest bit in which it
differs from the last one popped, and a pop takes any item of bucket 0, refilling it
from the first non-empty bucket. Non-negative float64 distances compare as their bit
patterns do, so this gives the distances of a binary heap (a node's distance is the
minimum over the same relaxations whatever order ties come in) in about a third of the
time. Bounded searches touch only the nodes they reach and reset only those. The
searches of one call (one per group of destinations, or parts of them) are compiled
functions that release the GIL, run on a pool of numba's number of threads.

Kernels compile once per machine (numba's cache, beside this file or in the user's
cache folder); where neither can be written they compile in every new process rather
than stopping the import. A first call that takes more than a second is compiling:
it says so, once.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from numba import get_num_threads, njit

from renewgeo._config import options

__all__ = ["accumulate", "bounded_single", "csr", "group_totals", "multi_source_nearest"]

log = logging.getLogger(__name__)

_CACHED = True  # False when numba found no folder it may write its cache to


def _jit(**jit_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit`` with the on-disk cache, or without it where no cache folder can be written.

    numba refuses ``cache=True`` (``RuntimeError: cannot cache function ...: no locator
    available``) when neither the package's ``__pycache__`` nor the user's cache folder
    is writable (a read-only install under a read-only home): the kernels then compile
    in each process instead of stopping the import.
    """

    def wrap(func: Callable[..., Any]) -> Any:
        global _CACHED
        try:
            return njit(cache=True, **jit_options)(func)
        except RuntimeError:
            _CACHED = False
            return njit(**jit_options)(func)

    return wrap


# ------------------------------------------------------------------ first-call notice
_NOTICE_AFTER_S = 1.0  # a cached kernel loads well within this; compiling them takes several seconds
_first_calls: set[str] = set()
_said = False


def _say_compiling() -> None:
    global _said
    if _said:
        return
    _said = True
    msg = ("compiling the shortest-path kernels (a few seconds, once: later runs load them from numba's cache)…" if _CACHED else
           "compiling the shortest-path kernels (a few seconds; numba cannot write its cache here, so every new process "
           "compiles them again: set NUMBA_CACHE_DIR to a writable folder)…")
    log.info(msg)
    if options.progress:
        from tqdm import tqdm

        tqdm.write(f"renewgeo: {msg}", file=sys.stderr)


@contextmanager
def _first_call(name: str) -> Iterator[None]:
    """Around the first call of a kernel in this process: if it takes long, it is compiling; say so once."""
    if name in _first_calls or _said:
        yield
        return
    timer = threading.Timer(_NOTICE_AFTER_S, _say_compiling)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        _first_calls.add(name)


# ------------------------------------------------------------------------ the searches
@_jit(inline="always")
def _bucket(x):  # type: ignore[no-untyped-def]
    """Bit length of a uint64 (0 for 0): the radix-heap bucket of a key differing from the last pop by ``x``."""
    hi = x >> np.uint64(32)
    if hi:
        return 32 + math.frexp(float(hi))[1]  # exact: a 32-bit integer is exact in a float64
    if x:
        return math.frexp(float(x))[1]
    return 0


@_jit(inline="always")
def _file(hkey, hnode, hnext, head, e, key, node, last):  # type: ignore[no-untyped-def]
    """Put heap item ``e`` (distance bits ``key``, ``node``) in its bucket."""
    hkey[e] = key
    hnode[e] = node
    b = _bucket(key ^ last)
    hnext[e] = head[b]
    head[b] = e


@_jit(inline="always")
def _refill(hkey, hnode, hnext, head):  # type: ignore[no-untyped-def]
    """Bucket 0 is empty: file the items of the first non-empty bucket again around its smallest key, which is returned."""
    b = 1
    while head[b] < 0:
        b += 1
    e = head[b]
    m = hkey[e]
    while e >= 0:
        if hkey[e] < m:
            m = hkey[e]
        e = hnext[e]
    e = head[b]
    head[b] = -1
    while e >= 0:
        nx = hnext[e]
        _file(hkey, hnode, hnext, head, e, hkey[e], hnode[e], m)
        e = nx
    return m


@_jit()
def _dijkstra(indptr, indices, weights, seeds, seed_dist, limit, dist, touched, hkey, hnode, hnext, head):  # type: ignore[no-untyped-def]
    """Bounded multi-seed Dijkstra into ``dist`` (must be +inf where untouched).

    ``hkey``, ``hnode``, ``hnext`` (capacity: seeds + relaxations, e.g.
    ``len(indices) + len(seeds) + 1``) and ``head`` (65, all -1) are the radix heap's
    scratch; ``head`` is all -1 again on return. Returns the number of touched nodes
    written to ``touched`` (-1 if the heap ran out of room, which the capacity above
    rules out).
    """
    fbuf = np.empty(1, dtype=np.float64)
    ubuf = fbuf.view(np.uint64)  # a distance's bit pattern: ordered as the distance (>= 0)
    cap = hkey.shape[0]
    last = np.uint64(0)
    size = 0
    top = 0  # items ever used; freed ones are kept in a list from ``free``
    free = -1
    nt = 0
    for i in range(seeds.shape[0]):
        s = seeds[i]
        d0 = seed_dist[i] + 0.0  # -0.0 -> +0.0: the bit order needs the sign bit clear
        if d0 <= limit and d0 < dist[s]:
            if dist[s] == np.inf:
                touched[nt] = s
                nt += 1
            dist[s] = d0
            if top >= cap:
                return -1
            fbuf[0] = d0
            _file(hkey, hnode, hnext, head, top, ubuf[0], s, last)
            top += 1
            size += 1
    while size > 0:
        if head[0] < 0:
            last = _refill(hkey, hnode, hnext, head)
        e = head[0]  # every item of bucket 0 is at the distance ``last``
        head[0] = hnext[e]
        u = hnode[e]
        hnext[e] = free
        free = e
        size -= 1
        ubuf[0] = last
        d = fbuf[0]
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
                if free >= 0:
                    e = free
                    free = hnext[e]
                elif top < cap:
                    e = top
                    top += 1
                else:
                    return -1
                fbuf[0] = nd
                _file(hkey, hnode, hnext, head, e, ubuf[0], v, last)
                size += 1
    return nt


def _scratch(n_edges: int, n_seeds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The radix heap's arrays for searches on a graph of ``n_edges`` (directed) entries (pages used only as filled)."""
    cap = n_edges + n_seeds + 1
    return np.empty(cap, dtype=np.uint64), np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), np.full(65, -1, dtype=np.int64)


def _threads(n_tasks: int) -> int:
    """Threads for ``n_tasks`` independent searches: numba's thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``)."""
    return max(1, min(get_num_threads(), n_tasks))


def _run(tasks: list[Callable[[], Any]], threads: int) -> list[Any]:
    """Run the tasks (compiled searches that release the GIL) on ``threads`` threads, in the order given, as threads free up."""
    if threads <= 1 or len(tasks) <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda t: t(), tasks))


@_jit(nogil=True)
def _search(indptr, indices, weights, seeds, seed_dist, limit, dist, touched, hkey, hnode, hnext, head):  # type: ignore[no-untyped-def]
    """:func:`_dijkstra` as a call that releases the GIL."""
    return _dijkstra(indptr, indices, weights, seeds, seed_dist, limit, dist, touched, hkey, hnode, hnext, head)


def bounded_single(indptr, indices, weights, seeds, seed_dist, limit):  # type: ignore[no-untyped-def]
    """Distances from a set of seeds (one search), +inf beyond ``limit``.

    ``seed_dist`` (>= 0) is each seed's starting distance.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    seed_dist = np.asarray(seed_dist, dtype=np.float64)
    if len(seed_dist) and not seed_dist.min() >= 0:
        raise ValueError("bounded_single: seed distances must be >= 0")
    n = len(indptr) - 1
    dist = np.full(n, np.inf)
    with _first_call("bounded_single"):
        done = _search(indptr, indices, weights, seeds, seed_dist, float(limit), dist, np.empty(n, dtype=np.int64),
                       *_scratch(len(indices), len(seeds)))
    if done < 0:
        raise RuntimeError("shortest-path heap overflow")
    return dist


def multi_source_nearest(indptr, indices, weights, sources, source_group, n_groups, limit, *, out=None):  # type: ignore[no-untyped-def]
    """For each group, the distance from every node to the group's nearest source.

    One multi-source search per group, the groups on numba's number of threads.
    Returns ``(n_groups, n)`` float64, +inf where no source lies within ``limit``:
    ``out`` if given (any float64 array of that shape whose rows are contiguous, such as
    rows of a larger block), a new array otherwise.
    """
    sources = np.asarray(sources, dtype=np.int64)
    source_group = np.asarray(source_group, dtype=np.int64)
    n = len(indptr) - 1
    if out is None:
        out = np.full((int(n_groups), n), np.inf)
    else:
        _check_out("multi_source_nearest", out, (int(n_groups), n), (np.float64,))
        out[...] = np.inf
    order = np.argsort(source_group, kind="stable")
    seeds, grp = sources[order], source_group[order]
    start = np.searchsorted(grp, np.arange(int(n_groups) + 1))

    def one(g: int) -> Callable[[], int]:
        part = seeds[start[g]:start[g + 1]]
        return lambda: _search(indptr, indices, weights, part, np.zeros(len(part)), float(limit), out[g], np.empty(n, dtype=np.int64),
                               *_scratch(len(indices), len(part)))

    tasks = [one(g) for g in range(int(n_groups)) if start[g + 1] > start[g]]
    with _first_call("multi_source_nearest"):
        _run(tasks, _threads(len(tasks)))
    return out


def _check_out(func: str, a: np.ndarray, shape: tuple[int, ...], dtypes: tuple[type, ...]) -> None:
    if a.shape != shape or a.dtype not in dtypes:
        raise ValueError(f"{func}: out must be of shape {shape} and type {' or '.join(np.dtype(d).name for d in dtypes)}, "
                         f"not {a.shape} {a.dtype}")


# ------------------------------------------------------------------- counts and decay sums
@_jit(nogil=True)
def _accumulate_into(indptr, indices, weights, seeds, thresholds, betas, count, gravity, linear,  # type: ignore[no-untyped-def]
                     dist, touched, hkey, hnode, hnext, head):
    """Add each seed's bounded search to ``count``, ``gravity`` and ``linear`` (thresholds x nodes), in seed order.

    ``dist`` is +inf everywhere (and is again on return). Gravity and linear are float32
    sums, also in float64 arrays: a float64 sum rounded to float32 is the float32 sum.
    """
    nt_ = thresholds.shape[0]
    limit = thresholds.max()
    seed = np.empty(1, dtype=np.int64)
    zero = np.zeros(1)
    for i in range(seeds.shape[0]):
        seed[0] = seeds[i]
        m = _dijkstra(indptr, indices, weights, seed, zero, limit, dist, touched, hkey, hnode, hnext, head)
        if m < 0:
            return False
        for j in range(m):
            v = touched[j]
            d = dist[v]
            for t in range(nt_):
                if d <= thresholds[t]:
                    count[t, v] += 1
                    gravity[t, v] = np.float32(gravity[t, v] + np.exp(-betas[t] * d))
                    linear[t, v] = np.float32(linear[t, v] + (1.0 - d / thresholds[t]))
            dist[v] = np.inf
    return True


@_jit(nogil=True)
def _add_into(count, gravity, linear, c, g, li):  # type: ignore[no-untyped-def]
    """A part's sums added into its group's (float32 sums, as in :func:`_accumulate_into`)."""
    for t in range(count.shape[0]):
        for v in range(count.shape[1]):
            count[t, v] += c[t, v]
            gravity[t, v] = np.float32(gravity[t, v] + g[t, v])
            linear[t, v] = np.float32(linear[t, v] + li[t, v])


def accumulate(indptr, indices, weights, sources, source_group, n_groups, thresholds, betas, *, out=None):  # type: ignore[no-untyped-def]
    """Amenity-centred bounded searches: counts and decay-weighted sums at every node.

    For every source (an amenity node) a Dijkstra bounded by the largest threshold
    adds, at each node it reaches within threshold ``t``: 1 to ``count[g, t]``,
    ``exp(-beta_t * d)`` to ``gravity[g, t]`` and ``1 - d / t`` to ``linear[g, t]``.
    These are sums over sources, so parts of the sources can be searched apart and
    their results added. A group is one task, searched in the order of its sources,
    unless it holds more than a thread's share of all sources: then it is cut into
    parts of at most that share, the first adding straight into the result and the
    others into arrays of their own, added after. The tasks run longest first on
    numba's number of threads. A group within a thread's share (categories of similar
    sizes) is never cut: it needs no extra arrays, and its sums are those of one
    thread. Returns ``(n_groups, thresholds, n)`` arrays: count int32, gravity and
    linear float32 sums; or ``out``, three such arrays of zeros the sums are added to:
    count int32 or int64, gravity and linear float32 or float64 (holding the same float32
    sums), any strides (the columns of a frame's block, filled without a copy).
    """
    sources = np.asarray(sources, dtype=np.int64)
    source_group = np.asarray(source_group, dtype=np.int64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64)
    n = len(indptr) - 1
    shape = (int(n_groups), len(thresholds), n)
    if out is None:
        count, gravity, linear = np.zeros(shape, dtype=np.int32), np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32)
    else:
        count, gravity, linear = out
        _check_out("accumulate", count, shape, (np.int32, np.int64))
        for a in (gravity, linear):
            _check_out("accumulate", a, shape, (np.float32, np.float64))
    order = np.argsort(source_group, kind="stable")
    seeds, grp = sources[order], source_group[order]
    start = np.searchsorted(grp, np.arange(int(n_groups) + 1))
    sizes = np.diff(start)
    threads = _threads(len(seeds))
    share = max(1, -(-len(seeds) // threads))
    parts = []  # (group, first seed, end, first part of its group)
    for g in np.flatnonzero(sizes):
        k = -(-int(sizes[g]) // share)
        cuts = start[g] + np.arange(k + 1) * int(sizes[g]) // k
        parts += [(int(g), int(cuts[i]), int(cuts[i + 1]), i == 0) for i in range(k)]
    extra: list[tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []

    def task(g: int, lo: int, hi: int, first: bool) -> Callable[[], bool]:
        if first:
            into = (count[g], gravity[g], linear[g])
        else:
            into = (np.zeros(shape[1:], dtype=count.dtype), np.zeros(shape[1:], dtype=gravity.dtype), np.zeros(shape[1:], dtype=linear.dtype))
            extra.append((g, into))
        return lambda: bool(_accumulate_into(indptr, indices, weights, seeds[lo:hi], thresholds, betas, *into, np.full(n, np.inf),
                                             np.empty(n, dtype=np.int64), *_scratch(len(indices), 1)))

    parts.sort(key=lambda p: p[1] - p[2])  # longest first, so the threads end together
    tasks = [task(*p) for p in parts]
    with _first_call("accumulate"):
        ok = _run(tasks, threads)
        for gi, (c, gr, li) in extra:
            _add_into(count[gi], gravity[gi], linear[gi], c, gr, li)
    if not all(ok):
        raise RuntimeError("shortest-path heap overflow")
    return count, gravity, linear


# ------------------------------------------------------------------------------ the graph
@_jit()
def _csr(u, v, w, n):  # type: ignore[no-untyped-def]
    m = u.shape[0]
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(m):
        indptr[u[i] + 1] += 1
        indptr[v[i] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    indices = np.empty(2 * m, dtype=np.int64)
    weights = np.empty(2 * m, dtype=np.float64)
    for i in range(m):  # every u -> v first, then every v -> u: the order of a stable sort of (u, v) by source
        a = fill[u[i]]
        indices[a] = v[i]
        weights[a] = w[i]
        fill[u[i]] = a + 1
    for i in range(m):
        a = fill[v[i]]
        indices[a] = u[i]
        weights[a] = w[i]
        fill[v[i]] = a + 1
    return indptr, indices, weights


def csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The undirected graph of edges ``u``-``v`` (lengths ``w``) on ``n`` nodes in CSR form, each edge in both directions.

    Neighbours of a node are listed as a stable sort of ``[u, v] -> [v, u]`` by source
    lists them (a counting sort: two passes instead of a sort). Returns ``indptr``
    (int64, n + 1), ``indices`` (int64) and ``weights`` (float64).
    """
    return _csr(np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64), np.asarray(w, dtype=np.float64), int(n))


# ------------------------------------------------------------------------ sums by group
@_jit()
def _group_totals(inverse, n_groups, footprint, gfa, renovated):  # type: ignore[no-untyped-def]
    out = np.zeros((5, n_groups))
    for i in range(inverse.shape[0]):
        g = inverse[i]
        out[0, g] += 1.0
        out[1, g] += footprint[i]
        x = gfa[i]
        if np.isnan(x):
            out[4, g] += 1.0
        else:
            out[2, g] += x
            if renovated[i]:
                out[3, g] += x
    return out


def group_totals(inverse: np.ndarray, n_groups: int, footprint: np.ndarray, gfa: np.ndarray, renovated: np.ndarray) -> np.ndarray:
    """In one pass over the rows, per group: rows, footprint, known GFA, renovated GFA, rows without GFA.

    Sums are added in row order, as ``np.bincount(inverse, weights)`` adds them, so
    they are the same numbers. Returns ``(5, n_groups)`` float64.
    """
    return _group_totals(np.asarray(inverse, dtype=np.int64), int(n_groups), np.asarray(footprint, dtype=np.float64),
                         np.asarray(gfa, dtype=np.float64), np.asarray(renovated, dtype=np.bool_))
