"""Pedestrian networks from planners' line layers or OSM, with topology repair.

:func:`build_network` turns any set of line layers (streets, footpaths, the axis, the
corridor, trails) into a routable graph:

* endpoints closer than ``snap_m`` (default 1 m) are merged, and an endpoint that
  stops short of (or overshoots) another line by less than ``snap_m`` is moved onto it;
* lines are split where they cross, but only lines on the same vertical ``level``
  (OSM ``layer``; bridges default to 1, tunnels to -1): a bridge meets the streets it
  passes over only at its own ends;
* duplicate and zero-length segments are dropped (and counted);
* walkable open polygons (plazas) become crossable: their outline is walkable and
  every pair of entry points is joined by a straight chord that stays inside.

The report lists dangling ends, components, tiny components and the largest
component's share of length. :func:`attach` inserts points (buildings, amenities,
isochrone origins) into the graph at their projection on the nearest edge, so every
distance is an exact graph distance.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from renewgeo._errors import RenewgeoError
from renewgeo.crs import require_metric

__all__ = ["Attached", "Network", "NetworkReport", "attach", "build_network", "network_from_arrays"]


log = logging.getLogger(__name__)

GRID_M = 1e-3  # snap-rounding grid of the noding: 1 mm
MAX_SNAP_M = 100.0  # default: points farther than this from every edge are not attached
SNAP_M = 1.0  # default: line ends closer than this are joined
MAX_CHORD_ENTRIES = 30


@dataclass
class NetworkReport:
    """What topology repair found and did."""

    input_lines: int = 0
    zero_length_dropped: list[str] = field(default_factory=list)
    endpoints_snapped: int = 0
    endpoints_moved_onto_lines: int = 0
    duplicate_length_removed_m: float = 0.0
    levels: list[int] = field(default_factory=list)
    polygons_crossable: int = 0
    chords_added: int = 0
    nodes: int = 0
    edges: int = 0
    length_m: float = 0.0
    components: int = 0
    largest_component_share: float = 0.0
    tiny_components: int = 0
    dangling_ends: int = 0

    def format(self) -> str:
        """A short human-readable summary."""
        return (
            f"{self.nodes:,} nodes, {self.edges:,} edges, {self.length_m / 1000:,.2f} km in {self.components} component(s); "
            f"largest holds {self.largest_component_share:.1%} of the length; {self.tiny_components} tiny component(s); "
            f"{self.dangling_ends} dangling end(s); {self.endpoints_snapped} endpoint(s) snapped together, "
            f"{self.endpoints_moved_onto_lines} moved onto a line; {len(self.zero_length_dropped)} zero-length line(s) dropped; "
            f"{self.duplicate_length_removed_m:,.1f} m of duplicate lines removed"
        )


@dataclass
class Network:
    """A routable undirected pedestrian graph in a metric CRS.

    Attributes
    ----------
    nodes : GeoDataFrame
        ``node`` (id), ``degree``, ``component``, ``dangling`` and point geometry.
    edges : GeoDataFrame
        ``u``, ``v``, ``length_m``, ``level``, ``kind`` (``line``, ``outline`` or
        ``chord``) and line geometry.
    report : NetworkReport
    token : str
        Identifies this network (set when it is made, kept by copies and pickles):
        :func:`attach` records it, so an attachment is never used on another network.
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    report: NetworkReport
    token: str = field(init=False, repr=False, compare=False, default_factory=lambda: uuid.uuid4().hex)

    @property
    def crs(self) -> Any:
        """The network's CRS."""
        return self.edges.crs

    def __repr__(self) -> str:
        return f"<Network: {self.report.format()}>"

    def _repr_html_(self) -> str:
        return f"<div><b>Pedestrian network</b>: {html.escape(self.report.format())}</div>"


# ------------------------------------------------------------------------- building
def _lines_with_levels(layers: Sequence[gpd.GeoDataFrame], report: NetworkReport) -> tuple[np.ndarray, np.ndarray]:
    geoms, levels = [], []
    for gdf in layers:
        if len(gdf) == 0:
            continue
        g = gdf
        if "walkable" in g.columns:
            g = g[g["walkable"].astype("boolean").fillna(True).to_numpy(dtype=bool)]
        lvl = pd.to_numeric(g["level"], errors="coerce") if "level" in g.columns else pd.Series(np.nan, index=g.index)
        if "bridge" in g.columns:
            lvl = lvl.where(lvl.notna() | ~g["bridge"].astype("boolean").fillna(False), 1)
        if "tunnel" in g.columns:
            lvl = lvl.where(lvl.notna() | ~g["tunnel"].astype("boolean").fillna(False), -1)
        lvl = lvl.fillna(0).astype(int).to_numpy()
        parts, idx = shapely.get_parts(g.geometry.values, return_index=True)
        keep = shapely.get_type_id(parts) == 1  # LineString (MultiLineStrings were split by get_parts)
        ids = (g["id"].astype(str).to_numpy() if "id" in g.columns else np.arange(len(g)).astype(str))[idx]
        zero = keep & (shapely.length(parts) <= GRID_M)
        report.zero_length_dropped += list(ids[zero])
        keep &= ~zero
        report.input_lines += int(keep.sum())
        geoms.append(parts[keep])
        levels.append(lvl[idx][keep])
    if not geoms:
        return np.array([], dtype=object), np.array([], dtype=int)
    return np.concatenate(geoms), np.concatenate(levels)


def _set_endpoints(lines: np.ndarray, old_xy: NDArray[np.float64], new_xy: NDArray[np.float64]) -> np.ndarray:
    """Lines with their start (first half of the arrays) and end points replaced."""
    out = lines.copy()
    n = len(lines)
    for k in np.flatnonzero(np.any(new_xy != old_xy, axis=1)):
        i = k if k < n else k - n
        coords = shapely.get_coordinates(out[i])
        coords[0 if k < n else -1] = new_xy[k]
        out[i] = shapely.linestrings(coords)
    return out


def _endpoints(lines: np.ndarray) -> NDArray[np.float64]:
    return np.concatenate([shapely.get_coordinates(shapely.get_point(lines, 0)), shapely.get_coordinates(shapely.get_point(lines, -1))])


def _snap_endpoints(lines: np.ndarray, levels: np.ndarray, snap_m: float, report: NetworkReport) -> np.ndarray:
    """Merge endpoints within ``snap_m``, then move near-miss endpoints onto lines."""
    if snap_m <= 0 or len(lines) == 0:
        return lines
    n_lines = len(lines)
    xy = _endpoints(lines)
    n = len(xy)
    pts = np.asarray(shapely.points(xy), dtype=object)
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=snap_m)
    sel = (a < b) & np.any(xy[a] != xy[b], axis=1)
    a, b = a[sel], b[sel]
    if len(a):
        _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
        # each cluster moves to its first member: deterministic, and exact joins stay put
        first = np.full(label.max() + 1, -1)
        first[label[::-1]] = np.arange(n)[::-1]
        new_xy = xy[first[label]]
        report.endpoints_snapped += int(np.any(new_xy != xy, axis=1).sum())
        lines = _set_endpoints(lines, xy, new_xy)
        xy = new_xy
    # endpoints that stop short of (or just overshoot) another line on the same level
    own = np.concatenate([np.arange(n_lines), np.arange(n_lines)])
    pi, li = shapely.STRtree(lines).query(shapely.points(xy), predicate="dwithin", distance=snap_m)
    mask = (own[pi] != li) & (levels[own[pi]] == levels[li])
    if not mask.any():
        return lines
    pi, li = pi[mask], li[mask]
    d = shapely.distance(shapely.points(xy[pi]), lines[li])
    order = np.lexsort((d, pi))
    pi, li, d = pi[order], li[order], d[order]
    first_of = np.r_[True, pi[1:] != pi[:-1]]
    pi, li, d = pi[first_of], li[first_of], d[first_of]
    todo = d > GRID_M / 2  # endpoints already on a line (junctions) stay
    if not todo.any():
        return lines
    target = lines[li[todo]]
    proj = shapely.line_interpolate_point(target, shapely.line_locate_point(target, shapely.points(xy[pi[todo]])))
    new_xy = xy.copy()
    new_xy[pi[todo]] = shapely.get_coordinates(proj)
    report.endpoints_moved_onto_lines += int(todo.sum())
    return _set_endpoints(lines, xy, new_xy)


def _node(lines: np.ndarray, levels: np.ndarray, report: NetworkReport) -> tuple[np.ndarray, np.ndarray]:
    """Split lines at crossings, level by level (snap-rounded to a 1 mm grid)."""
    segs, segl = [], []
    before = float(shapely.length(lines).sum())
    for lv in np.unique(levels):
        merged = shapely.union_all(lines[levels == lv], grid_size=GRID_M)
        parts = shapely.get_parts(merged)
        parts = parts[shapely.get_type_id(parts) == 1]
        segs.append(parts)
        segl.append(np.full(len(parts), lv))
        report.levels.append(int(lv))
    if not segs:
        return np.array([], dtype=object), np.array([], dtype=int)
    s = np.concatenate(segs)
    after = float(shapely.length(s).sum())
    report.duplicate_length_removed_m = max(0.0, before - after)
    return s, np.concatenate(segl)


def _key(xy: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.round(xy / GRID_M).astype(np.int64)


def _graph(segs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node coordinates and edge endpoints (u, v) from noded segments."""
    a = shapely.get_coordinates(shapely.get_point(segs, 0))
    b = shapely.get_coordinates(shapely.get_point(segs, -1))
    keys = np.concatenate([_key(a), _key(b)])
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    xy = np.concatenate([a, b])
    node_xy = np.zeros((len(uniq), 2))
    node_xy[inv] = xy
    m = len(segs)
    return node_xy, inv[:m], inv[m:]


def _chords(polys: np.ndarray, node_xy: NDArray[np.float64], deg: NDArray[np.int64], report: NetworkReport) -> tuple[list[Any], list[int], list[int]]:
    """Straight chords between the entry nodes of each walkable polygon."""
    geoms: list[Any] = []
    us: list[int] = []
    vs: list[int] = []
    pts = np.asarray(shapely.points(node_xy), dtype=object)
    tree = shapely.STRtree(pts)
    for poly in polys:
        idx = tree.query(poly, predicate="intersects")
        # entries: where other lines meet the outline (degree > 2 on it) or end inside
        on_ring = shapely.intersects(poly.boundary, pts[idx]) if len(idx) else np.zeros(0, bool)
        inside = ~on_ring
        entry = idx[(on_ring & (deg[idx] > 2)) | (inside & (deg[idx] == 1))]
        if len(entry) < 2:
            continue
        if len(entry) > MAX_CHORD_ENTRIES:  # a star through the centre keeps the edge count linear
            hub = shapely.get_coordinates(poly.representative_point())[0]
            cand = [(i, -1) for i in entry]
        else:
            hub = None
            cand = [(entry[i], entry[j]) for i in range(len(entry)) for j in range(i + 1, len(entry))]
        lines = shapely.linestrings([[node_xy[i], node_xy[j] if j >= 0 else hub] for i, j in cand])
        ok = shapely.covers(shapely.buffer(poly, GRID_M), lines)
        for (i, j), line, good in zip(cand, lines, ok, strict=True):
            if good:
                geoms.append(line)
                us.append(int(i))
                vs.append(int(j))
    report.chords_added += len(geoms)
    return geoms, us, vs


def _common_crs(layers: Sequence[gpd.GeoDataFrame]) -> Any:
    """The one metric CRS of all line layers (refuses degrees and mixed CRSs)."""
    crs = None
    for i, g in enumerate(layers):
        c = require_metric(g, layer=f"network layer {i}", what="a walking network")
        if crs is None:
            crs = c
        elif c != crs:
            raise RenewgeoError(f"build_network: layers are in different CRSs ({crs.to_string()} and {c.to_string()}); reproject them to one")
    return crs


def _walkable_polygons(walkable_polygons: gpd.GeoDataFrame | None, report: NetworkReport) -> np.ndarray:
    """The crossable polygons: rows not marked ``walkable == False``, split into single polygons."""
    if walkable_polygons is None or len(walkable_polygons) == 0:
        return np.array([], dtype=object)
    require_metric(walkable_polygons, layer="walkable polygons", what="a walking network")
    wp = walkable_polygons
    if "walkable" in wp.columns:
        wp = wp[wp["walkable"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    polys = shapely.get_parts(wp.geometry.values)
    polys = polys[shapely.get_type_id(polys) == 3]
    report.polygons_crossable = len(polys)
    return polys


def _add_chords(polys: np.ndarray, segs: np.ndarray, seg_levels: np.ndarray, u: np.ndarray, v: np.ndarray,
                node_xy: NDArray[np.float64], report: NetworkReport) -> tuple[np.ndarray, ...]:
    """Mark the polygons' outline edges and add their chords (with a hub node per star).

    Returns ``(segs, seg_levels, u, v, kind, node_xy)`` with the chords appended.
    """
    kind = np.full(len(segs), "line", dtype=object)
    if len(polys) == 0:
        return segs, seg_levels, u, v, kind, node_xy
    on_outline = shapely.STRtree(shapely.get_parts(shapely.boundary(polys)))
    hit = np.unique(on_outline.query(segs, predicate="covered_by")[0])
    kind[hit] = "outline"
    deg = np.bincount(np.concatenate([u, v]), minlength=len(node_xy))
    cg, cu, cv = _chords(polys, node_xy, deg, report)
    if not cg:
        return segs, seg_levels, u, v, kind, node_xy
    hub_needed = [i for i, j in enumerate(cv) if j < 0]
    if hub_needed:
        # star chords end at a hub node per polygon: create those nodes
        hubs = shapely.get_coordinates(shapely.get_point(np.array(cg, dtype=object)[hub_needed], -1))
        keys = {tuple(k): None for k in map(tuple, _key(hubs))}
        base = len(node_xy)
        idx = {k: base + i for i, k in enumerate(keys)}
        node_xy = np.vstack([node_xy, np.array(list(keys)) * GRID_M])
        for i, k in zip(hub_needed, map(tuple, _key(hubs)), strict=True):
            cv[i] = idx[k]
    return (np.concatenate([segs, np.array(cg, dtype=object)]), np.concatenate([seg_levels, np.zeros(len(cg), dtype=int)]),
            np.concatenate([u, np.array(cu, dtype=np.int64)]), np.concatenate([v, np.array(cv, dtype=np.int64)]),
            np.concatenate([kind, np.full(len(cg), "chord", dtype=object)]), node_xy)


def _assemble(node_xy: NDArray[np.float64], u: np.ndarray, v: np.ndarray, segs: np.ndarray, seg_levels: np.ndarray,
              kind: np.ndarray, *, crs: Any, report: NetworkReport, tiny_component_m: float) -> Network:
    """The :class:`Network` of a noded graph: degrees, components and the report's figures."""
    length = shapely.length(segs)
    n = len(node_xy)
    deg = np.bincount(np.concatenate([u, v]), minlength=n)
    ncomp, comp = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    comp_len = np.bincount(comp[u], weights=length, minlength=ncomp)
    report.nodes, report.edges, report.length_m = n, len(segs), float(length.sum())
    report.components = int(ncomp)
    report.largest_component_share = float(comp_len.max() / comp_len.sum()) if comp_len.sum() > 0 else 0.0
    report.tiny_components = int((comp_len < tiny_component_m).sum())
    report.dangling_ends = int((deg == 1).sum())
    nodes = gpd.GeoDataFrame(
        {"node": np.arange(n), "degree": deg, "component": comp, "dangling": deg == 1},
        geometry=shapely.points(node_xy), crs=crs,
    )
    edges = gpd.GeoDataFrame(
        {"u": u.astype(np.int64), "v": v.astype(np.int64), "length_m": length, "level": seg_levels, "kind": kind},
        geometry=segs, crs=crs,
    )
    return Network(nodes=nodes, edges=edges, report=report)


def build_network(
    lines: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame],
    *,
    snap_m: float = SNAP_M,
    walkable_polygons: gpd.GeoDataFrame | None = None,
    tiny_component_m: float = 200.0,
) -> Network:
    """Build a routable pedestrian network from line layers, repairing their topology.

    Parameters
    ----------
    lines : GeoDataFrame or sequence of GeoDataFrame
        Line layers in one metric CRS. Optional columns: ``level`` (int), ``bridge``,
        ``tunnel``, ``walkable`` (rows with ``walkable == False`` are left out).
    snap_m : float
        Endpoint snapping tolerance in metres (0 turns snapping off).
    walkable_polygons : GeoDataFrame, optional
        Open spaces that can be crossed on foot (plazas); their outline becomes
        walkable and their entry points are joined by straight chords inside them.
    tiny_component_m : float
        Components shorter than this (total edge length, m) are counted as tiny.

    Returns
    -------
    Network

    Raises
    ------
    CRSError
        When a layer is in degrees.
    RenewgeoError
        When there are no usable lines, or layers are in different CRSs.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0)]),
    ...                                shapely.LineString([(50, -50), (50, 50)]),
    ...                                shapely.LineString([(100.4, 0.3), (200, 0)])], crs=32651)
    >>> net = build_network(g)
    >>> net.report.nodes, net.report.edges, net.report.components, net.report.endpoints_snapped
    (6, 5, 1, 1)
    """
    layers = [lines] if isinstance(lines, gpd.GeoDataFrame) else list(lines)
    if not layers:
        raise RenewgeoError("build_network: no line layers given")
    crs = _common_crs(layers)
    if snap_m < 0:
        raise RenewgeoError(f"snap_m must be >= 0 metres, got {snap_m}")
    report = NetworkReport()
    geoms, levels = _lines_with_levels(layers, report)
    polys = _walkable_polygons(walkable_polygons, report)
    if len(polys):
        rings = shapely.get_parts(shapely.boundary(polys))
        geoms = np.concatenate([geoms, rings])
        levels = np.concatenate([levels, np.zeros(len(rings), dtype=int)])
    if len(geoms) == 0:
        raise RenewgeoError("build_network: the layers hold no line with a length; a walking network needs lines")
    if report.zero_length_dropped:
        log.warning("network: %d zero-length line(s) dropped: %s", len(report.zero_length_dropped), ", ".join(report.zero_length_dropped[:20]))
    geoms = _snap_endpoints(geoms, levels, snap_m, report)
    segs, seg_levels = _node(geoms, levels, report)
    node_xy, u, v = _graph(segs)
    segs, seg_levels, u, v, kind, node_xy = _add_chords(polys, segs, seg_levels, u, v, node_xy, report)
    net = _assemble(node_xy, u, v, segs, seg_levels, kind, crs=crs, report=report, tiny_component_m=tiny_component_m)
    if report.components > 1:
        log.info("network: %s", report.format())
    return net


# ------------------------------------------------------------------------- attaching
@dataclass
class Attached:
    """A network with points inserted as nodes, and where each point went.

    Attributes
    ----------
    indptr, indices, weights : ndarray
        The augmented undirected graph in CSR form.
    n_base : int
        Nodes ``0 .. n_base-1`` are the network's own nodes.
    item_node : dict of str to ndarray
        For each group of points, the node of each point (-1 where not attached).
    connector_m : dict of str to ndarray
        Distance from each point to the network (NaN where not attached).
    edge_base, edge_t0, edge_t1 : ndarray
        For each augmented undirected edge: the base edge it is part of (-1 for a
        connector) and the stretch of it (metres from the base edge's start).
    edge_u, edge_v, edge_w : ndarray
        The augmented undirected edges.
    node_xy : ndarray
        Coordinates of every node.
    max_snap_m : float
        The largest connector length the points were attached with.
    network_token : str
        The :attr:`Network.token` of the network the points were attached to.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    n_base: int
    item_node: dict[str, np.ndarray]
    connector_m: dict[str, np.ndarray]
    edge_base: np.ndarray
    edge_t0: np.ndarray
    edge_t1: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_w: np.ndarray
    node_xy: np.ndarray
    max_snap_m: float
    network_token: str


def _csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    ww = np.concatenate([w, w])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order].astype(np.int64), ww[order].astype(np.float64)


def _nearest_points(tree: shapely.STRtree, edges: np.ndarray, geoms: np.ndarray,
                    max_snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest edge, position along it, connector length and the point on the item."""
    src, eidx = tree.query_nearest(geoms, max_distance=max_snap_m, all_matches=False)
    edge = np.full(len(geoms), -1, dtype=np.int64)
    edge[src] = eidx
    pos = np.full(len(geoms), np.nan)
    conn = np.full(len(geoms), np.nan)
    if len(src):
        sl = shapely.shortest_line(geoms[src], edges[eidx])
        on_edge = shapely.get_point(sl, -1)
        pos[src] = shapely.line_locate_point(edges[eidx], on_edge)
        conn[src] = shapely.length(sl)
    return edge, pos, conn, src


def attach(network: Network, points: Mapping[str, gpd.GeoDataFrame | gpd.GeoSeries], *, max_snap_m: float = MAX_SNAP_M) -> Attached:
    """Insert points into the network at their projection on the nearest edge.

    Each point (for polygons: the point of the polygon nearest to the network, its
    likeliest door) becomes a leaf node joined by a connector edge to a new node on
    the nearest edge, which is split there. Points farther than ``max_snap_m`` from
    every edge are not attached (their node is -1).

    Parameters
    ----------
    network : Network
    points : mapping of str to GeoDataFrame or GeoSeries
        Groups of features in the network's CRS.
    max_snap_m : float
        Largest connector length in metres.

    Returns
    -------
    Attached
    """
    base = network.edges
    n_base = len(network.nodes)
    node_xy = shapely.get_coordinates(network.nodes.geometry.values)
    e_len = base["length_m"].to_numpy()
    e_u = base["u"].to_numpy()
    e_v = base["v"].to_numpy()
    groups = []
    edges = base.geometry.values
    tree = shapely.STRtree(edges)  # one index for every group
    for name, gdf in points.items():
        geoms = gdf.geometry.values if isinstance(gdf, gpd.GeoDataFrame) else gdf.values
        if gdf.crs != network.crs:
            raise RenewgeoError(f"attach: {name!r} is in {gdf.crs} but the network in {network.crs}; reproject first")
        bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        edge, pos, conn, _ = _nearest_points(tree, edges, np.asarray(np.where(bad, None, geoms), dtype=object), max_snap_m)
        edge[bad] = -1
        groups.append((name, edge, pos, conn))
    # split positions per edge
    all_edge = np.concatenate([g[1] for g in groups]) if groups else np.zeros(0, np.int64)
    all_pos = np.concatenate([g[2] for g in groups]) if groups else np.zeros(0)
    ok = all_edge >= 0
    tol = 1e-9
    # a point at an edge's end uses the end node; others get one node per distinct position
    at_start = ok & (all_pos <= tol)
    at_end = ok & (all_pos >= e_len[np.maximum(all_edge, 0)] - tol)
    mid = ok & ~at_start & ~at_end
    mid_idx = np.flatnonzero(mid)
    order = np.lexsort((all_pos[mid_idx], all_edge[mid_idx]))
    mid_idx = mid_idx[order]
    me, mp = all_edge[mid_idx], all_pos[mid_idx]
    new_node = np.r_[True, (me[1:] != me[:-1]) | (np.abs(mp[1:] - mp[:-1]) > tol)] if len(mid_idx) else np.zeros(0, bool)
    node_of_mid = n_base + np.cumsum(new_node) - 1
    n_attach = int(new_node.sum())
    attach_node = np.full(len(all_edge), -1, dtype=np.int64)
    attach_node[at_start] = e_u[all_edge[at_start]]
    attach_node[at_end & ~at_start] = e_v[all_edge[at_end & ~at_start]]
    attach_node[mid_idx] = node_of_mid
    # coordinates of the new on-edge nodes
    if n_attach:
        pts = shapely.line_interpolate_point(base.geometry.values[me[new_node]], mp[new_node])
        node_xy = np.vstack([node_xy, shapely.get_coordinates(pts)])
    # rebuild the split edges: untouched edges keep their ids
    split_edges = np.unique(me) if len(me) else np.zeros(0, np.int64)
    keep = np.ones(len(base), dtype=bool)
    keep[split_edges] = False
    eu, ev, ew = [e_u[keep]], [e_v[keep]], [e_len[keep]]
    eb, t0, t1 = [np.flatnonzero(keep)], [np.zeros(int(keep.sum()))], [e_len[keep]]
    if len(split_edges):
        ue = me[new_node]
        up = mp[new_node]
        un = node_of_mid[new_node]
        starts = np.r_[True, ue[1:] != ue[:-1]]
        ends = np.r_[ue[1:] != ue[:-1], True]
        # first piece: u -> first new node; inner pieces; last piece: last new node -> v
        eu.append(e_u[ue[starts]])
        ev.append(un[starts])
        ew.append(up[starts])
        eb.append(ue[starts])
        t0.append(np.zeros(int(starts.sum())))
        t1.append(up[starts])
        inner = ~starts
        eu.append(un[np.flatnonzero(inner) - 1])
        ev.append(un[inner])
        ew.append(up[inner] - up[np.flatnonzero(inner) - 1])
        eb.append(ue[inner])
        t0.append(up[np.flatnonzero(inner) - 1])
        t1.append(up[inner])
        eu.append(un[ends])
        ev.append(e_v[ue[ends]])
        ew.append(e_len[ue[ends]] - up[ends])
        eb.append(ue[ends])
        t0.append(up[ends])
        t1.append(e_len[ue[ends]])
    # leaf nodes for the items, with connector edges
    item_node: dict[str, np.ndarray] = {}
    connector: dict[str, np.ndarray] = {}
    offset = 0
    next_node = n_base + n_attach
    leaf_xy = []
    for name, edge, _pos, conn in groups:
        k = len(edge)
        an = attach_node[offset: offset + k]
        offset += k
        okk = an >= 0
        nodes = np.full(k, -1, dtype=np.int64)
        nodes[okk] = next_node + np.arange(int(okk.sum()))
        next_node += int(okk.sum())
        gdf = points[name]
        geoms = gdf.geometry.values if isinstance(gdf, gpd.GeoDataFrame) else gdf.values
        if okk.any():
            leaf_xy.append(shapely.get_coordinates(shapely.point_on_surface(geoms[okk])))
        eu.append(nodes[okk])
        ev.append(an[okk])
        ew.append(conn[okk])
        eb.append(np.full(int(okk.sum()), -1))
        t0.append(np.zeros(int(okk.sum())))
        t1.append(conn[okk])
        item_node[name] = nodes
        connector[name] = np.where(okk, conn, np.nan)
    if leaf_xy:
        node_xy = np.vstack([node_xy, *leaf_xy])
    all_u, all_v, all_w = (np.concatenate(x).astype(t) for x, t in ((eu, np.int64), (ev, np.int64), (ew, np.float64)))
    indptr, indices, weights = _csr(all_u, all_v, all_w, next_node)
    return Attached(
        indptr=indptr, indices=indices, weights=weights, n_base=n_base, item_node=item_node, connector_m=connector,
        edge_base=np.concatenate(eb).astype(np.int64), edge_t0=np.concatenate(t0), edge_t1=np.concatenate(t1),
        edge_u=all_u, edge_v=all_v, edge_w=all_w, node_xy=node_xy, max_snap_m=float(max_snap_m),
        network_token=network.token,
    )


def network_from_arrays(node_xy: NDArray[np.float64], u: NDArray[np.int64], v: NDArray[np.int64], *, crs: Any,
                        geometry: Sequence[Any] | None = None, tiny_component_m: float = 200.0) -> Network:
    """A :class:`Network` from an already noded graph (e.g. from osmnx or a model), without repair.

    Parameters
    ----------
    node_xy : (n, 2) array
        Node coordinates in a metric CRS.
    u, v : arrays of int
        Edge end nodes.
    crs : CRS-like
        The metric CRS of the coordinates.
    geometry : sequence of LineString, optional
        Edge geometries (straight lines between the nodes by default).
    tiny_component_m : float
        As for :func:`build_network`.
    """
    node_xy = np.asarray(node_xy, dtype="float64")
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    if geometry is None:
        geoms = np.asarray(shapely.linestrings(np.stack([node_xy[u], node_xy[v]], axis=1)), dtype=object)
    else:
        geoms = np.asarray(geometry, dtype=object)
    probe = gpd.GeoSeries(geoms[:1], crs=crs)
    require_metric(gpd.GeoDataFrame(geometry=probe), layer="network", what="a walking network")
    return _assemble(node_xy, u, v, geoms, np.zeros(len(u), dtype=int), np.full(len(u), "line", dtype=object), crs=crs,
                     report=NetworkReport(input_lines=len(u)), tiny_component_m=tiny_component_m)
