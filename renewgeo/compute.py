"""Large projects on dask.distributed: the engine, spatial tiles with a halo, and ``[compute]``.

``renewgeo run PROJECT --workers N`` starts a :class:`distributed.LocalCluster` of N
worker processes; ``--scheduler ADDRESS`` (or ``[compute] scheduler``) uses a dask
cluster that is already running. With neither, everything runs in-process as before.
The analyses ask :func:`active` for the engine of the run and, when there is one, hand
their heavy steps to its workers; the answer is the same as in one process.

What is partitioned (see :mod:`renewgeo.walkability`):

* attaching buildings, amenities and the other points to the network: the points are
  cut into spatial tiles, each attached on the edges within ``max_snap_m`` of its tile
  (every edge that could be nearest is among them; edge ids stay the network's);
* the amenity-centred bounded searches of walking accessibility (counts within 300 ...
  1,000 m): the buildings and the network's nodes are cut into spatial tiles (by the
  project's zones, a grid of ``[compute] tile_m``, or the Hilbert curve of
  dask-geopandas); for each tile, the amenities within a halo of the largest distance
  searched are searched on the network clipped to the tile plus that halo (a node within
  network distance d of a point lies within straight-line distance d of it), so the
  counts at the tile's buildings and nodes are exact, and the tiles' results concatenate;
* the nearest-destination searches (up to ``[walk] nearest_max_m``, 5 km by default,
  wider than a tile): one search per category on the whole network, the categories
  shared out among the workers.

The network itself (noding, components, intersection counts) is built once, in the
process that runs the pipeline, and sent to each worker once. So are the isochrones
(one search from a few points), the life-circle, green and axis tables (lookups in the
searches' results) and the walking-distance raster.

Functions
---------
open_engine      the engine of a run: a local cluster, a scheduler's address, or none
using / active   make an engine the one the analyses see
tile_labels      the tile of each point: zones, a grid, or the Hilbert curve
halo_subgraph    the part of a graph within a box plus a halo
differences      what differs between two runs (the equality check of the tests and benchmarks)
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from renewgeo import _kernels as K
from renewgeo._errors import RenewgeoError
from renewgeo.settings import Section, section, setting

__all__ = [
    "ComputeSettings",
    "Engine",
    "GraphTiling",
    "Packed",
    "Tiling",
    "active",
    "differences",
    "differences_frames",
    "halo_subgraph",
    "map_frame",
    "open_engine",
    "tile_labels",
    "using",
]

log = logging.getLogger(__name__)

INSTALL = 'pip install "renewgeo[dask]"'
TINY_M = 1e-9  # floating-point stretch of an edge between two points computed on it (attachment splits)
TILINGS = ("auto", "zones", "grid", "hilbert")


@section
@dataclass(frozen=True)
class ComputeSettings(Section):
    """``[compute]``: where large projects run (a dask cluster) and how they are cut into tiles."""

    name: ClassVar[str] = "compute"
    title: ClassVar[str] = "large projects on dask.distributed"

    scheduler: str | None = setting(None, "address of a running dask scheduler to compute on (tcp://host:8786); unset: in-process "
                                          "unless workers is set", example='"tcp://10.0.0.5:8786"')
    workers: int = setting(0, "start a local dask cluster of this many worker processes (0: compute in-process)", ge=0, le=1024)
    tiles: str = setting("auto", "how work is cut into tiles: zones (the project's zones layer), grid (squares of tile_m), "
                                 "hilbert (tiles_per_worker runs of equal counts along dask-geopandas' Hilbert curve), auto "
                                 "(grid when tile_m is set, else hilbert)", choices=TILINGS)
    tile_m: float | None = setting(None, "side (m) of the square tiles of tiles = grid (auto uses a grid when this is set)", gt=0,
                                    example="2000")
    tiles_per_worker: int = setting(2, "Hilbert tiles per worker (more: better balance, more halo)", ge=1, le=1000)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise RenewgeoError(f"computing on dask needs the dask extra: {INSTALL}") from None
    return distributed


# ------------------------------------------------------------------------- tiles
@dataclass(frozen=True)
class Tiling:
    """How points are cut into tiles: ``method`` (zones, grid, hilbert), ``tile_m`` for grids, ``zones`` polygons, ``count`` for Hilbert."""

    method: str = "hilbert"
    tile_m: float | None = None
    zones: Any = None
    count: int = 8

    @classmethod
    def of(cls, settings: ComputeSettings, *, zones: Any = None, workers: int = 2) -> Tiling:
        """The tiling ``[compute]`` asks for; ``zones`` (a GeoSeries or array of polygons) serve ``tiles = zones``."""
        method = settings.tiles
        if method == "auto":  # few compact tiles: the halo around each is searched again by its neighbours
            method = "grid" if settings.tile_m is not None else "hilbert"
        if method == "grid" and settings.tile_m is None:
            raise RenewgeoError('[compute] tiles = "grid" needs tile_m (the side of a tile in metres), e.g. tile_m = 2000')
        if method == "zones" and (zones is None or not len(zones)):
            raise RenewgeoError('[compute] tiles = "zones" but the project has no zones layer; use tiles = "hilbert" or "grid"')
        return cls(method=method, tile_m=settings.tile_m, zones=zones, count=max(settings.tiles_per_worker * max(workers, 1), 1))


def _hilbert_order(xy: np.ndarray) -> np.ndarray:
    """The points' distances along the Hilbert curve of their extent (dask-geopandas' own function)."""
    try:
        import dask_geopandas
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise RenewgeoError(f"Hilbert tiles need the dask extra: {INSTALL}") from None
    import geopandas as gpd

    pts = gpd.GeoSeries.from_xy(xy[:, 0], xy[:, 1])
    lo = xy.min(axis=0)
    side = max(float(np.ptp(xy, axis=0).max()), 1.0)  # a square: the curve's cells are squares, and a line of points has an extent
    lazy = dask_geopandas.from_geopandas(pts, npartitions=1).hilbert_distance(total_bounds=(*lo, *(lo + side)), level=16)
    return np.asarray(lazy.compute(scheduler="sync"), dtype=np.int64)


def tile_labels(xy: np.ndarray, tiling: Tiling) -> np.ndarray:
    """The tile of each point ``(n, 2)``: a label per point, 0 .. tiles - 1 (labels of empty tiles are not used).

    * ``zones``: the zone that holds the point (the nearest zone for a point outside every zone);
    * ``grid``: the square of side ``tile_m`` it falls in;
    * ``hilbert``: ``count`` runs of equal size along the Hilbert curve, as
      ``dask_geopandas.GeoDataFrame.spatial_shuffle(by="hilbert")`` cuts partitions.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [2500.0, 0.0], [2600.0, 3000.0]])
    >>> tile_labels(xy, Tiling("grid", tile_m=2000.0)).tolist()
    [0, 0, 1, 2]
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    if tiling.method == "grid":
        assert tiling.tile_m is not None
        cell = np.floor((xy - xy.min(axis=0)) / tiling.tile_m).astype(np.int64)
        _, labels = np.unique(cell, axis=0, return_inverse=True)
        return labels.ravel().astype(np.int64)
    if tiling.method == "zones":
        import shapely

        zones = np.asarray(getattr(tiling.zones, "values", tiling.zones), dtype=object)
        pts = np.asarray(shapely.points(xy), dtype=object)
        tree = shapely.STRtree(zones)
        labels = np.full(len(xy), -1, dtype=np.int64)
        p, z = tree.query(pts, predicate="intersects")
        first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, bool)
        labels[p[first]] = z[first]
        out = np.flatnonzero(labels < 0)
        if len(out):
            labels[out] = tree.query_nearest(pts[out], all_matches=False)[1]
        return labels
    if tiling.method == "hilbert":
        count = max(1, min(tiling.count, len(xy)))
        order = np.argsort(_hilbert_order(xy), kind="stable")
        labels = np.empty(len(xy), dtype=np.int64)
        labels[order] = np.arange(len(xy)) * count // len(xy)
        return labels
    raise RenewgeoError(f"unknown tiling {tiling.method!r}; use one of {TILINGS[1:]}")


# ------------------------------------------------------------------------- the engine
@dataclass(eq=False)
class Engine:
    """A dask.distributed client the analyses compute on, and how they cut work into tiles.

    Attributes
    ----------
    client : distributed.Client
    tiling : Tiling
        Default tiling (an analysis may make one from the project's zones).
    owns_cluster : bool
        The engine started its cluster (a ``LocalCluster``) and closes it with itself.
    """

    client: Any
    tiling: Tiling = field(default_factory=Tiling)
    owns_cluster: bool = False
    _shared: dict[Any, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    @property
    def workers(self) -> int:
        """The number of workers the scheduler has now."""
        return max(len(self.client.scheduler_info(n_workers=-1).get("workers", {})), 1)

    def share(self, key: tuple[Any, ...], value: Any) -> Any:
        """``value`` sent once to every worker (a future); the same future for the same ``key`` and object.

        ``key[0]`` names the kind of data (``"graph"``): sharing a new one of a kind
        lets the workers drop the one before.
        """
        held = self._shared.get(key)
        if held is not None and held[0] is value:
            return held[1]
        for old in [k for k in self._shared if k[0] == key[0]]:
            del self._shared[old]
        fut = self.client.scatter(value, broadcast=True, hash=False)
        self._shared[key] = (value, fut)
        return fut

    def map(self, func: Any, items: Sequence[Any], **shared: Any) -> list[Any]:
        """``[func(item, **shared) for item in items]`` on the workers, in order (``shared`` values may be futures from :meth:`share`)."""
        if not items:
            return []
        sent = self.client.scatter(list(items), hash=False)  # data, not part of the task graph (dask warns on large tasks)
        futures = [self.client.submit(func, item, pure=False, **shared) for item in sent]
        return list(self.client.gather(futures))

    def forget(self) -> None:
        """Drop the data sent to the workers."""
        self._shared.clear()

    def close(self) -> None:
        """Close the client, and the cluster when the engine started it."""
        self.forget()
        cluster = self.client.cluster if self.owns_cluster else None
        self.client.close()
        if cluster is not None:
            cluster.close()

    def __repr__(self) -> str:
        return f"<Engine: {self.client.scheduler.address if self.client.scheduler else '?'}, {self.tiling.method} tiles>"


def start_local(workers: int, *, threads_per_worker: int = 1, memory_limit: str | float | None = "auto") -> Engine:
    """An engine on a new ``LocalCluster`` of ``workers`` processes (closed with the engine)."""
    distributed = _distributed()

    if workers < 1:
        raise RenewgeoError(f"--workers must be at least 1, got {workers}")
    # one process per core: numba's threads would compete. Given as the workers' own environment (env=), not dask's
    # pre-spawn-environ: that one is set in the nanny, which is this process, and numba then refuses every later
    # compilation here ("Cannot set NUMBA_NUM_THREADS to a different value once the threads have been launched").
    before = os.environ.get("NUMBA_NUM_THREADS")
    try:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                                           dashboard_address=None, memory_limit=memory_limit,
                                           env={"NUMBA_NUM_THREADS": str(threads_per_worker)})
    finally:
        if os.environ.get("NUMBA_NUM_THREADS") != before:
            if before is None:
                os.environ.pop("NUMBA_NUM_THREADS", None)
            else:
                os.environ["NUMBA_NUM_THREADS"] = before
    log.info("started a local dask cluster of %d worker processes at %s", workers, cluster.scheduler_address)
    return Engine(client=distributed.Client(cluster, set_as_default=False), owns_cluster=True)


def connect(address: str, *, timeout_s: float = 30.0) -> Engine:
    """An engine on the running dask scheduler at ``address``."""
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except OSError as exc:
        raise RenewgeoError(f"cannot reach the dask scheduler at {address} ({exc}); start it (dask scheduler) or give another "
                            "--scheduler / [compute] scheduler, or run with --workers N for a local cluster") from None
    log.info("connected to the dask scheduler at %s", address)
    return Engine(client=client)


@contextlib.contextmanager
def open_engine(settings: ComputeSettings | None = None, *, workers: int | None = None, scheduler: str | None = None,
                engine: Engine | None = None) -> Iterator[Engine | None]:
    """The engine of a run, closed after it when opened here.

    ``engine`` (given) is used as it is; else ``scheduler`` (or ``[compute] scheduler``)
    connects to a running cluster; else ``workers`` (or ``[compute] workers``) > 0 starts a
    local cluster; else there is none (in-process, as without dask).
    """
    s = settings if settings is not None else ComputeSettings()
    if engine is not None:
        yield engine
        return
    address = scheduler if scheduler is not None else s.scheduler
    n = workers if workers is not None else s.workers
    if not address and not n:
        yield None
        return
    eng = connect(address) if address else start_local(int(n))
    try:
        yield eng
    finally:
        eng.close()


_ACTIVE: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("renewgeo_engine", default=None)


@contextlib.contextmanager
def using(engine: Engine | None) -> Iterator[Engine | None]:
    """Make ``engine`` the one :func:`active` returns inside the block (None: in-process)."""
    token = _ACTIVE.set(engine)
    try:
        yield engine
    finally:
        _ACTIVE.reset(token)


def active() -> Engine | None:
    """The engine of the run in progress (set by the pipeline), or None: compute in-process."""
    return _ACTIVE.get()


# ------------------------------------------------------------------------- geometries to workers
class Packed:
    """Geometries that travel to the workers as coordinate arrays (shapely's ragged arrays), not object by object.

    Pickling an array of shapely geometries writes each one apart (0.6 s for 30,000
    buildings); its coordinate arrays take a tenth of that and load fifty times faster.
    Geometries of each type are packed together (WKB for collections); ``geoms`` is the
    array in its order. Missing geometries are not allowed.

    Examples
    --------
    >>> import pickle, shapely
    >>> g = [shapely.Point(0, 1), shapely.box(0, 0, 2, 2), shapely.Point(3, 4)]
    >>> back = pickle.loads(pickle.dumps(Packed(g))).geoms
    >>> bool(shapely.equals_exact(back, np.array(g, dtype=object), 0).all())
    True
    """

    def __init__(self, geoms: Any) -> None:
        self.geoms = np.asarray(geoms, dtype=object)

    def __len__(self) -> int:
        return len(self.geoms)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        import shapely

        types = shapely.get_type_id(self.geoms)
        parts = []
        for t in np.unique(types):
            at = np.flatnonzero(types == t)
            packed = ("ragged", shapely.to_ragged_array(self.geoms[at])) if t in (0, 1, 3, 4, 5, 6) else \
                ("wkb", shapely.to_wkb(self.geoms[at]))
            parts.append((at, packed))
        return (_unpack, (len(self.geoms), parts))


def _unpack(n: int, parts: list[tuple[np.ndarray, tuple[str, Any]]]) -> Packed:
    import shapely

    out = np.empty(n, dtype=object)
    for at, (kind, data) in parts:
        out[at] = shapely.from_ragged_array(*data) if kind == "ragged" else shapely.from_wkb(data)
    return Packed(out)


# ------------------------------------------------------------------------- graphs in tiles
def halo_subgraph(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """The CSR graph induced by the nodes ``keep`` (bool), and the global id of each of its nodes.

    Neighbours keep their order, so a search on it relaxes edges in the same order as on
    the whole graph.
    """
    rows = np.flatnonzero(keep)
    local = np.full(len(keep), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    counts = indptr[rows + 1] - indptr[rows]
    starts = np.repeat(indptr[rows], counts)
    ent = starts + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
    tgt = indices[ent]
    ok = keep[tgt]
    row_of = np.repeat(np.arange(len(rows)), counts)[ok]
    new_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(rows)), out=new_ptr[1:])
    return new_ptr, local[tgt[ok]], weights[ent[ok]], rows


@dataclass(frozen=True, eq=False)
class GraphTiling:
    """A graph cut for searches in tiles: its CSR, each node's anchor and the bound of the halo.

    ``anchor_xy`` is where a node is for the halo: its own point, but for a point
    attached to the network (a leaf), the point on the network it hangs from. An edge
    is never shorter than the straight line between its ends' anchors but by rounding:
    nodes sit on the 1 mm noding grid, so an edge may *stretch* (its ends lie up to about
    a millimetre farther apart than its length). ``slack_m`` is the most an edge
    stretches, ``stretch_min_m`` the shortest stretching edge, ``stretch_zero`` the
    number of stretching edges of length 0; :meth:`halo_m` adds the stretch up over the
    most stretching edges a path may hold.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    anchor_xy: np.ndarray
    slack_m: float
    stretch_min_m: float
    stretch_zero: int

    def halo_m(self, limit_m: float) -> float:
        """How far beyond a tile the graph must reach for searches up to ``limit_m`` to be exact there.

        Every node on a path no longer than ``limit_m`` lies within ``limit_m`` of its
        start in a straight line, plus the stretch of the path's edges (at most
        ``limit_m / stretch_min_m + stretch_zero`` stretching edges, each by at most
        ``slack_m``; the others by at most ``TINY_M`` each, in floating point).
        """
        tiny = TINY_M * len(self.weights)
        if self.slack_m <= TINY_M:
            return float(limit_m) + 1.0 + tiny
        edges = math.ceil(limit_m / self.stretch_min_m) + self.stretch_zero + 2 if self.stretch_min_m > 0 else len(self.weights)
        return float(limit_m) + 1.0 + tiny + self.slack_m * min(edges, len(self.weights))


def graph_tiling(indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, node_xy: np.ndarray, leaf: np.ndarray,
                 leaf_anchor: np.ndarray) -> GraphTiling:
    """A :class:`GraphTiling`: ``leaf`` nodes are anchored at ``leaf_anchor`` (their attachment node)."""
    anchor = np.asarray(node_xy, dtype=np.float64).copy()
    anchor[leaf] = anchor[leaf_anchor]
    is_leaf = np.zeros(len(anchor), dtype=bool)
    is_leaf[leaf] = True
    src = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    inner = ~is_leaf[src] & ~is_leaf[indices]  # a leaf's connector is measured from the item, not from the leaf's point
    gap = np.hypot(*(anchor[src[inner]] - anchor[indices[inner]]).T) - weights[inner] if inner.any() else np.zeros(0)
    slack = float(max(gap.max(initial=0.0), 0.0))
    stretch = gap > TINY_M
    w = weights[inner][stretch]
    zero = int((w <= 0).sum()) // 2  # each edge is in the CSR twice
    return GraphTiling(indptr, indices, weights, anchor, slack, float(w[w > 0].min()) if (w > 0).any() else 0.0, zero)


def _inside(xy: np.ndarray, box: np.ndarray, pad: float) -> np.ndarray:
    return (xy[:, 0] >= box[0] - pad) & (xy[:, 0] <= box[2] + pad) & (xy[:, 1] >= box[1] - pad) & (xy[:, 1] <= box[3] + pad)


def _accumulate_tile(task: tuple[np.ndarray, np.ndarray], *, graph: GraphTiling, sources: np.ndarray, source_group: np.ndarray,
                     n_groups: int, thresholds: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tile of :func:`accumulate`: the sums at its nodes, from the sources within its box plus the halo.

    The sources whose anchor lies within the halo of the tile's box are searched on the
    graph within the same halo; the sums at the tile's own nodes are returned (in the
    order of ``targets``).
    """
    box, targets = task
    halo = graph.halo_m(float(thresholds.max()))
    keep = _inside(graph.anchor_xy, box, halo)
    ptr, ind, w, rows = halo_subgraph(graph.indptr, graph.indices, graph.weights, keep)
    local = np.full(len(keep), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    near = keep[sources]
    count, gravity, linear = K.accumulate(ptr, ind, w, local[sources[near]], source_group[near], n_groups, thresholds, betas)
    at = local[targets]
    return count[:, :, at], gravity[:, :, at], linear[:, :, at]


def accumulate(engine: Engine, graph: GraphTiling, sources: np.ndarray, source_group: np.ndarray, n_groups: int,
               thresholds: np.ndarray, betas: np.ndarray, *, need: np.ndarray | None = None,
               tiling: Tiling | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`renewgeo._kernels.accumulate` on the engine's workers, the nodes cut into spatial tiles.

    The nodes where the sums are wanted (``need``, bool per node; all by default; the
    others stay 0) are cut into tiles. For each tile, the sources within the halo of the
    largest threshold around it (:meth:`GraphTiling.halo_m`) are searched on the graph
    within the same halo: a path no longer than the threshold from a source to a node of
    the tile lies inside it, so the sums at the tile's nodes are those of the whole
    graph (counts exactly; gravity and linear are float32 sums, equal up to the order of
    addition, as between numbers of threads). A source near a tile's edge is searched
    once for each tile whose halo holds it.
    """
    n = len(graph.indptr) - 1
    sources = np.asarray(sources, dtype=np.int64)
    source_group = np.asarray(source_group, dtype=np.int64)
    nt = len(thresholds)
    count = np.zeros((n_groups, nt, n), dtype=np.int32)
    gravity = np.zeros((n_groups, nt, n), dtype=np.float32)
    linear = np.zeros((n_groups, nt, n), dtype=np.float32)
    if len(sources) == 0:
        return count, gravity, linear
    targets = np.flatnonzero(need) if need is not None else np.arange(n)
    xy = graph.anchor_xy[targets]
    labels = tile_labels(xy, tiling or engine.tiling)
    order = np.argsort(labels, kind="stable")
    parts = np.split(targets[order], np.flatnonzero(np.diff(labels[order])) + 1)
    boxes = [np.r_[graph.anchor_xy[p].min(axis=0), graph.anchor_xy[p].max(axis=0)] for p in parts]
    shared = engine.share(("graph", id(graph)), graph)
    for part, (c, g, li) in zip(parts, engine.map(_accumulate_tile, list(zip(boxes, parts, strict=True)), graph=shared,
                                                  sources=sources, source_group=source_group, n_groups=n_groups,
                                                  thresholds=np.asarray(thresholds), betas=np.asarray(betas)), strict=True):
        count[:, :, part] = c
        gravity[:, :, part] = g
        linear[:, :, part] = li
    return count, gravity, linear


def _nearest_groups(task: tuple[np.ndarray, np.ndarray, int], *, graph: GraphTiling, limit: float) -> np.ndarray:
    sources, groups, n_groups = task
    return np.asarray(K.multi_source_nearest(graph.indptr, graph.indices, graph.weights, sources, groups, n_groups, limit))


def nearest(engine: Engine, graph: GraphTiling, sources: np.ndarray, source_group: np.ndarray, n_groups: int,
            limit_m: float) -> np.ndarray:
    """:func:`renewgeo._kernels.multi_source_nearest` on the engine's workers, the groups shared out among them.

    One search per group on the whole graph (a nearest distance searched up to 5 km
    reaches beyond any tile), so the distances are those of one process, bit for bit.
    """
    n = len(graph.indptr) - 1
    out = np.full((n_groups, n), np.inf)
    if n_groups == 0:
        return out
    sources = np.asarray(sources, dtype=np.int64)
    source_group = np.asarray(source_group, dtype=np.int64)
    parts = np.array_split(np.arange(n_groups), min(n_groups, engine.workers))
    tasks = []
    for part in parts:
        remap = np.full(n_groups, -1, dtype=np.int64)
        remap[part] = np.arange(len(part))
        mine = remap[source_group] >= 0
        tasks.append((sources[mine], remap[source_group[mine]], len(part)))
    shared = engine.share(("graph", id(graph)), graph)
    for part, rows in zip(parts, engine.map(_nearest_groups, tasks, graph=shared, limit=float(limit_m)), strict=True):
        out[part] = rows
    return out


# ------------------------------------------------------------------------- checking runs
def _frame_differences(name: str, a: pd.DataFrame, b: pd.DataFrame, rtol: float, atol: float) -> list[str]:
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns differ: {sorted(set(a.columns) ^ set(b.columns)) or 'order'}"]
    if not a.index.equals(b.index):
        return [f"{name}: rows differ ({len(a):,} and {len(b):,})"]
    out = []
    for c in a.columns:
        x, y = a[c], b[c]
        if hasattr(x, "geom_equals_exact"):
            same = x.geom_equals_exact(y, tolerance=atol) | (x.isna() & y.isna())
            if not bool(same.all()):
                out.append(f"{name}.{c}: {int((~same).sum())} geometries differ")
            continue
        xn, yn = pd.to_numeric(x, errors="coerce"), pd.to_numeric(y, errors="coerce")
        numeric = pd.api.types.is_numeric_dtype(x.dtype) or pd.api.types.is_bool_dtype(x.dtype)
        if numeric:
            xa, ya = xn.to_numpy(dtype=float, na_value=np.nan), yn.to_numpy(dtype=float, na_value=np.nan)
            ok = np.isclose(xa, ya, rtol=rtol, atol=atol, equal_nan=True)
            if not ok.all():
                k = int(np.flatnonzero(~ok)[0])
                out.append(f"{name}.{c}: {int((~ok).sum())} values differ (row {a.index[k]!r}: {xa[k]!r} and {ya[k]!r})")
        elif not x.astype(object).where(x.notna(), None).equals(y.astype(object).where(y.notna(), None)):
            out.append(f"{name}.{c}: values differ")
    return out


def differences_frames(a: pd.DataFrame, b: pd.DataFrame, *, rtol: float = 1e-9, atol: float = 1e-9) -> list[str]:
    """What differs between two frames (same rows, columns, text; numbers and geometries within the tolerances)."""
    return _frame_differences("frame", a, b, rtol, atol)


def differences(a: Any, b: Any, *, rtol: float = 1e-9, atol: float = 1e-9) -> list[str]:
    """What differs between two runs (:class:`~renewgeo.analysis.RunResult`): empty when they are equal.

    Every analysis' layers, input-layer columns, tables and grids are compared: the
    same rows (index, ids), columns and text; numbers within ``rtol`` relative or
    ``atol`` (metres, for distances) absolute; geometries equal within ``atol``.
    """
    out: list[str] = []
    if list(a.results) != list(b.results) or dict(a.skipped) != dict(b.skipped):
        return [f"analyses differ: {list(a.results)} and {list(b.results)}"]
    for name, ra in a.results.items():
        rb = b.results[name]
        for part in ("layers", "columns", "tables"):
            da: Mapping[str, pd.DataFrame] = getattr(ra, part)
            db: Mapping[str, pd.DataFrame] = getattr(rb, part)
            if set(da) != set(db):
                out.append(f"{name} {part}: {sorted(set(da) ^ set(db))} in one run only")
                continue
            for k in da:
                out += _frame_differences(f"{name} {part} {k}", da[k], db[k], rtol, atol)
        if set(ra.grids) != set(rb.grids):
            out.append(f"{name} grids: {sorted(set(ra.grids) ^ set(rb.grids))} in one run only")
        for k in set(ra.grids) & set(rb.grids):
            ga, gb = np.asarray(ra.grids[k].values, dtype=float), np.asarray(rb.grids[k].values, dtype=float)
            if ra.grids[k].transform != rb.grids[k].transform or ga.shape != gb.shape or not np.allclose(ga, gb, rtol=rtol, atol=atol, equal_nan=True):
                out.append(f"{name} grid {k}: values differ")
        if ra.notes != rb.notes:
            out.append(f"{name} notes differ")
    return out


# ------------------------------------------------------------------------- frames
def map_frame(engine: Engine, func: Any, gdf: Any, *, npartitions: int | None = None, **kwargs: Any) -> Any:
    """``func(gdf, **kwargs)`` for a row-wise ``func`` (one output row per input row), partition by partition on the workers.

    The frame is cut into partitions in its row order (``dask_geopandas.from_geopandas``,
    not sorted) and the results are put back together in that order, so the result is
    ``func(gdf)``'s: what is summed over rows merges by adding the partitions' sums.
    """
    try:
        import dask_geopandas
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise RenewgeoError(f"partitioned frames need the dask extra: {INSTALL}") from None
    parts = max(1, min(npartitions or 2 * engine.workers, len(gdf)))
    lazy = dask_geopandas.from_geopandas(gdf, npartitions=parts, sort=False)
    meta = func(gdf.iloc[:0], **kwargs)
    return engine.client.compute(lazy.map_partitions(func, meta=meta, **kwargs)).result()
