"""Pedestrian networks from planners' line layers or OSM, with topology repair.

:func:`build_network` turns any set of line layers (streets, footpaths, the axis, the
corridor, trails) into a routable graph:

* endpoints closer than ``snap_m`` (default 1 m) are merged, and an endpoint that
  stops short of (or overshoots) another line by less than ``snap_m`` is moved onto it;
* lines are split where they cross, but only lines on the same vertical ``level``
  (OSM ``layer``; bridges default to 1, tunnels to -1). Lines on different levels join
  where they share a vertex (in OSM a shared node is a junction whatever the levels)
  or where one ends on the other (a ramp ending on a street); a bridge that passes over
  a street without a shared vertex stays apart from it;
* duplicate and zero-length segments are dropped (and counted);
* walkable open polygons (plazas) become crossable: their outline is walkable and
  every pair of entry points is joined by a straight chord that stays inside.

The report lists dangling ends, components, tiny components and the largest
component's share of length. Every edge keeps the layer and the id of the line it was
cut from (``source_layer``, ``source_id``), so an odd route can be traced to the data.
:func:`attach` inserts points (buildings, amenities, isochrone origins) into the graph
at their projection on the nearest ground-level edge (doors are on the ground; a
bridge, tunnel or other level only when no ground-level edge is within reach), so every
distance is an exact graph distance.
"""

from __future__ import annotations

import functools
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

from renewgeo import _kernels as K
from renewgeo._errors import RenewgeoError
from renewgeo.compute import Engine, GraphTiling, Packed, graph_tiling, tile_labels
from renewgeo.crs import require_metric

__all__ = ["Attached", "Network", "NetworkReport", "attach", "build_network", "network_from_arrays"]


log = logging.getLogger(__name__)

GRID_M = 1e-3  # snap-rounding grid of the noding: 1 mm
MAX_SNAP_M = 100.0  # default: points farther than this from every edge are not attached
SNAP_M = 1.0  # default: line ends closer than this are joined
MAX_CHORD_ENTRIES = 30
WALKABLE_POLYGONS = "walkable_polygons"  # source_layer of plaza outlines and chords
TIE_M = 1e-6  # attach: parts of an item nearer than its least distance + this are equally near (a facade)


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
    level_junctions: int = 0

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
def _named_layers(lines: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame] | Mapping[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The line layers by the name their edges' ``source_layer`` will carry."""
    if isinstance(lines, gpd.GeoDataFrame):
        return {"lines": lines}
    if isinstance(lines, Mapping):
        return {str(k): v for k, v in lines.items()}
    return {f"lines[{i}]": g for i, g in enumerate(lines)}


def _levels_of(g: gpd.GeoDataFrame) -> np.ndarray:
    """Each row's level: ``level``, else 1 on a bridge, -1 in a tunnel, else 0."""
    lvl = pd.to_numeric(g["level"], errors="coerce") if "level" in g.columns else pd.Series(np.nan, index=g.index)
    if "bridge" in g.columns:
        lvl = lvl.where(lvl.notna() | ~g["bridge"].astype("boolean").fillna(False), 1)
    if "tunnel" in g.columns:
        lvl = lvl.where(lvl.notna() | ~g["tunnel"].astype("boolean").fillna(False), -1)
    return np.asarray(lvl.fillna(0).astype(int).to_numpy())


def _lines_with_levels(layers: Mapping[str, gpd.GeoDataFrame], report: NetworkReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Single LineStrings, their levels and their sources ``(n, 2)``: layer name and id (``id`` column, else row label)."""
    geoms, levels, sources = [], [], []
    for name, gdf in layers.items():
        if len(gdf) == 0:
            continue
        g = gdf
        if "walkable" in g.columns:
            g = g[g["walkable"].astype("boolean").fillna(True).to_numpy(dtype=bool)]
        lvl = _levels_of(g)
        parts, idx = shapely.get_parts(g.geometry.values, return_index=True)
        keep = shapely.get_type_id(parts) == 1  # LineString (MultiLineStrings were split by get_parts)
        ids = (g["id"] if "id" in g.columns else pd.Series(g.index, index=g.index)).astype(str).to_numpy()[idx]
        zero = keep & (shapely.length(parts) <= GRID_M)
        report.zero_length_dropped += list(ids[zero])
        keep &= ~zero
        report.input_lines += int(keep.sum())
        geoms.append(parts[keep])
        levels.append(lvl[idx][keep])
        sources.append(np.column_stack([np.full(int(keep.sum()), name, dtype=object), ids[keep].astype(object)]))
    if not geoms:
        return np.array([], dtype=object), np.array([], dtype=int), np.empty((0, 2), dtype=object)
    return np.concatenate(geoms), np.concatenate(levels), np.concatenate(sources)


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
    other = own[pi] != li
    pi, li = pi[other], li[other]
    d = shapely.distance(shapely.points(xy[pi]), lines[li])
    joined = np.zeros(len(xy), dtype=bool)  # endpoints already on another line, whatever its level, are junctions and stay
    joined[pi[d <= GRID_M / 2]] = True
    mask = (levels[own[pi]] == levels[li]) & ~joined[pi]
    if not mask.any():
        return lines
    pi, li, d = pi[mask], li[mask], d[mask]
    order = np.lexsort((li, d, pi))
    pi, li, d = pi[order], li[order], d[order]
    first_of = np.r_[True, pi[1:] != pi[:-1]]
    pi, li, d = pi[first_of], li[first_of], d[first_of]
    todo = d > GRID_M / 2
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


def _cut(line: Any, ts: NDArray[np.float64], pts: NDArray[np.float64]) -> list[Any]:
    """``line`` cut at the distances ``ts`` along it (sorted, strictly inside), each cut point placed exactly at ``pts``."""
    c = shapely.get_coordinates(line)
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(c, axis=0).T))]
    pieces: list[Any] = []
    cur = [c[0]]
    j = 1
    for t, q in zip(ts, pts, strict=True):
        while j < len(c) - 1 and along[j] < t - GRID_M / 2:
            cur.append(c[j])
            j += 1
        while j < len(c) - 1 and along[j] <= t + GRID_M / 2:  # the vertex at the cut is the cut point
            j += 1
        cur.append(q)
        pieces.append(shapely.LineString(cur))
        cur = [q]
    cur.extend(c[j:])
    pieces.append(shapely.LineString(cur))
    return pieces


def _level_junctions(segs: np.ndarray, seg_levels: np.ndarray, lines: np.ndarray,
                     levels: np.ndarray) -> tuple[NDArray[np.int64], NDArray[np.float64], int]:
    """Where lines on different levels meet: the segment to cut, the point, and the number of junctions.

    A junction is a vertex that segments of two levels share (an OSM node two ways
    share is a junction whatever their levels), or a line's end lying on a segment of
    another level (a ramp ending on a street). Crossings without either stay apart.
    """
    xy, owner = shapely.get_coordinates(segs, return_index=True)
    uk, inv = np.unique(_key(xy), axis=0, return_inverse=True)
    inv = inv.ravel()
    pairs = np.unique(np.column_stack([inv, seg_levels[owner]]), axis=0)
    shared = np.bincount(pairs[:, 0], minlength=len(uk))[inv] > 1
    inner = np.r_[False, owner[1:] == owner[:-1]] & np.r_[owner[1:] == owner[:-1], False]  # not a segment's end
    ends = np.round(_endpoints(lines) / GRID_M) * GRID_M
    pi, si = shapely.STRtree(segs).query(shapely.points(ends), predicate="dwithin", distance=GRID_M)
    other = seg_levels[si] != np.concatenate([levels, levels])[pi]
    pi, si = pi[other], si[other]
    n_junctions = len(np.unique(np.concatenate([uk[np.unique(inv[shared])], _key(ends[pi])]), axis=0))
    cut_seg = np.concatenate([owner[shared & inner], si])
    cut_xy = np.concatenate([xy[shared & inner], ends[pi]])
    return cut_seg, cut_xy, n_junctions


def _join_levels(segs: np.ndarray, seg_levels: np.ndarray, lines: np.ndarray, levels: np.ndarray,
                 report: NetworkReport) -> tuple[np.ndarray, np.ndarray]:
    """Cut the noded segments where lines on different levels meet (see :func:`_level_junctions`)."""
    if len(np.unique(seg_levels)) < 2:
        return segs, seg_levels
    cut_seg, cut_xy, report.level_junctions = _level_junctions(segs, seg_levels, lines, levels)
    t = shapely.line_locate_point(segs[cut_seg], shapely.points(cut_xy)) if len(cut_seg) else np.zeros(0)
    inside = (t > GRID_M) & (t < shapely.length(segs[cut_seg]) - GRID_M) if len(cut_seg) else np.zeros(0, bool)
    cut_seg, cut_xy, t = cut_seg[inside], cut_xy[inside], t[inside]
    if not len(cut_seg):
        return segs, seg_levels
    order = np.lexsort((t, cut_seg))
    cut_seg, cut_xy, t = cut_seg[order], cut_xy[order], t[order]
    keep = np.r_[True, (cut_seg[1:] != cut_seg[:-1]) | (t[1:] - t[:-1] > GRID_M)]
    cut_seg, cut_xy, t = cut_seg[keep], cut_xy[keep], t[keep]
    starts = np.flatnonzero(np.r_[True, cut_seg[1:] != cut_seg[:-1]])
    stops = np.r_[starts[1:], len(cut_seg)]
    new_geoms: list[Any] = []
    new_levels: list[int] = []
    for a, b in zip(starts, stops, strict=True):
        pieces = _cut(segs[cut_seg[a]], t[a:b], cut_xy[a:b])
        new_geoms += pieces
        new_levels += [int(seg_levels[cut_seg[a]])] * len(pieces)
    untouched = np.ones(len(segs), dtype=bool)
    untouched[cut_seg] = False
    return (np.concatenate([segs[untouched], np.array(new_geoms, dtype=object)]),
            np.concatenate([seg_levels[untouched], np.array(new_levels, dtype=seg_levels.dtype)]))


def _sources(segs: np.ndarray, seg_levels: np.ndarray, lines: np.ndarray, levels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """The source (layer, id) of each noded segment: the nearest input line of its level to its midpoint.

    Overlapping lines (duplicates merged by the noding) give the first of them.
    """
    out = np.empty((len(segs), 2), dtype=object)
    mid = shapely.line_interpolate_point(segs, 0.5, normalized=True)
    for lv in np.unique(seg_levels):
        li, si = np.flatnonzero(levels == lv), np.flatnonzero(seg_levels == lv)
        s, c = shapely.STRtree(lines[li]).query_nearest(mid[si], all_matches=True)
        order = np.lexsort((c, s))
        s, c = s[order], c[order]
        first = np.r_[True, s[1:] != s[:-1]]
        out[si[s[first]]] = sources[li[c[first]]]
    return out


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


def _chords(polys: np.ndarray, node_xy: NDArray[np.float64], deg: NDArray[np.int64],
            report: NetworkReport) -> tuple[list[Any], list[int], list[int], list[int]]:
    """Straight chords between the entry nodes of each walkable polygon: geometry, end nodes, polygon."""
    geoms: list[Any] = []
    us: list[int] = []
    vs: list[int] = []
    owner: list[int] = []
    pts = np.asarray(shapely.points(node_xy), dtype=object)
    tree = shapely.STRtree(pts)
    for k, poly in enumerate(polys):
        # nodes are on the 1 mm noding grid, the outline is not: "on" the outline means within that grid's reach
        idx = tree.query(poly, predicate="dwithin", distance=2 * GRID_M)
        # entries: where other lines meet the outline (degree > 2 on it) or end inside
        on_ring = shapely.dwithin(poly.boundary, pts[idx], 2 * GRID_M) if len(idx) else np.zeros(0, bool)
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
                owner.append(k)
    report.chords_added += len(geoms)
    return geoms, us, vs, owner


def _common_crs(layers: Mapping[str, gpd.GeoDataFrame]) -> Any:
    """The one metric CRS of all line layers (refuses degrees and mixed CRSs)."""
    crs = None
    for name, g in layers.items():
        c = require_metric(g, layer=f"network layer {name}", what="a walking network")
        if crs is None:
            crs = c
        elif c != crs:
            raise RenewgeoError(f"build_network: layers are in different CRSs ({crs.to_string()} and {c.to_string()}); reproject them to one")
    return crs


def _walkable_polygons(walkable_polygons: gpd.GeoDataFrame | None, report: NetworkReport) -> tuple[np.ndarray, np.ndarray]:
    """The crossable polygons (rows not marked ``walkable == False``, split into single polygons) and their sources."""
    if walkable_polygons is None or len(walkable_polygons) == 0:
        return np.array([], dtype=object), np.empty((0, 2), dtype=object)
    require_metric(walkable_polygons, layer="walkable polygons", what="a walking network")
    wp = walkable_polygons
    if "walkable" in wp.columns:
        wp = wp[wp["walkable"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    polys, idx = shapely.get_parts(wp.geometry.values, return_index=True)
    ids = (wp["id"] if "id" in wp.columns else pd.Series(wp.index, index=wp.index)).astype(str).to_numpy(dtype=object)[idx]
    keep = shapely.get_type_id(polys) == 3
    report.polygons_crossable = int(keep.sum())
    return polys[keep], np.column_stack([np.full(int(keep.sum()), WALKABLE_POLYGONS, dtype=object), ids[keep]])


def _add_chords(polys: np.ndarray, poly_src: np.ndarray, segs: np.ndarray, seg_levels: np.ndarray, seg_src: np.ndarray,
                u: np.ndarray, v: np.ndarray, node_xy: NDArray[np.float64], report: NetworkReport) -> tuple[np.ndarray, ...]:
    """Mark the polygons' outline edges and add their chords (with a hub node per star).

    Returns ``(segs, seg_levels, seg_src, u, v, kind, node_xy)`` with the chords appended.
    """
    kind = np.full(len(segs), "line", dtype=object)
    if len(polys) == 0:
        return segs, seg_levels, seg_src, u, v, kind, node_xy
    on_outline = shapely.STRtree(shapely.get_parts(shapely.boundary(polys)))
    hit = np.unique(on_outline.query(segs, predicate="covered_by")[0])
    kind[hit] = "outline"
    deg = np.bincount(np.concatenate([u, v]), minlength=len(node_xy))
    cg, cu, cv, owner = _chords(polys, node_xy, deg, report)
    if not cg:
        return segs, seg_levels, seg_src, u, v, kind, node_xy
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
            np.concatenate([seg_src, poly_src[np.asarray(owner, dtype=np.int64)]]),
            np.concatenate([u, np.array(cu, dtype=np.int64)]), np.concatenate([v, np.array(cv, dtype=np.int64)]),
            np.concatenate([kind, np.full(len(cg), "chord", dtype=object)]), node_xy)


def _assemble(node_xy: NDArray[np.float64], u: np.ndarray, v: np.ndarray, segs: np.ndarray, seg_levels: np.ndarray,
              kind: np.ndarray, source: np.ndarray, *, crs: Any, report: NetworkReport, tiny_component_m: float) -> Network:
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
        {"u": u.astype(np.int64), "v": v.astype(np.int64), "length_m": length, "level": seg_levels, "kind": kind,
         "source_layer": source[:, 0].astype(object), "source_id": source[:, 1].astype(object)},
        geometry=segs, crs=crs,
    )
    return Network(nodes=nodes, edges=edges, report=report)


def build_network(
    lines: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame] | Mapping[str, gpd.GeoDataFrame],
    *,
    snap_m: float = SNAP_M,
    walkable_polygons: gpd.GeoDataFrame | None = None,
    tiny_component_m: float = 200.0,
) -> Network:
    """Build a routable pedestrian network from line layers, repairing their topology.

    Lines on one ``level`` are split wherever they cross. Lines on different levels
    (a bridge and the street under it) join only where they share a vertex, as OSM
    ways sharing a node, or where one ends on the other (a ramp); elsewhere they cross
    without meeting.

    Parameters
    ----------
    lines : GeoDataFrame, sequence of GeoDataFrame or mapping of str to GeoDataFrame
        Line layers in one metric CRS (a mapping names them for the edges'
        ``source_layer``). Optional columns: ``id``, ``level`` (int), ``bridge``
        (level 1 when ``level`` is missing), ``tunnel`` (level -1), ``walkable``
        (rows with ``walkable == False`` are left out).
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
        Its edges carry ``source_layer`` (the mapping's key; ``lines`` for one frame,
        ``lines[i]`` in a sequence, ``walkable_polygons`` for plaza outlines and
        chords) and ``source_id`` (the line's ``id``, else its row label).

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
    >>> sorted(set(net.edges["source_id"]))
    ['0', '1', '2']
    """
    layers = _named_layers(lines)
    if not layers:
        raise RenewgeoError("build_network: no line layers given")
    crs = _common_crs(layers)
    if snap_m < 0:
        raise RenewgeoError(f"snap_m must be >= 0 metres, got {snap_m}")
    report = NetworkReport()
    geoms, levels, sources = _lines_with_levels(layers, report)
    polys, poly_src = _walkable_polygons(walkable_polygons, report)
    if len(polys):
        rings, owner = shapely.get_parts(shapely.boundary(polys), return_index=True)
        geoms = np.concatenate([geoms, rings])
        levels = np.concatenate([levels, np.zeros(len(rings), dtype=int)])
        sources = np.concatenate([sources, poly_src[owner]])
    if len(geoms) == 0:
        raise RenewgeoError("build_network: the layers hold no line with a length; a walking network needs lines")
    if report.zero_length_dropped:
        log.warning("network: %d zero-length line(s) dropped: %s", len(report.zero_length_dropped), ", ".join(report.zero_length_dropped[:20]))
    geoms = _snap_endpoints(geoms, levels, snap_m, report)
    segs, seg_levels = _node(geoms, levels, report)
    segs, seg_levels = _join_levels(segs, seg_levels, geoms, levels, report)
    seg_src = _sources(segs, seg_levels, geoms, levels, sources)
    node_xy, u, v = _graph(segs)
    segs, seg_levels, seg_src, u, v, kind, node_xy = _add_chords(polys, poly_src, segs, seg_levels, seg_src, u, v, node_xy, report)
    net = _assemble(node_xy, u, v, segs, seg_levels, kind, seg_src, crs=crs, report=report, tiny_component_m=tiny_component_m)
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
    item_edge : dict of str to ndarray
        For each group of points, the network edge (row of ``Network.edges``) each
        point hangs on (-1 where not attached); its ``level`` says whether the point
        was attached on the ground (0) or, with nothing on the ground in reach, to a
        bridge, tunnel or other level.
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
    item_edge: dict[str, np.ndarray] = field(default_factory=dict)

    @functools.cached_property
    def graph_tiling(self) -> GraphTiling:
        """The augmented graph for searches in spatial tiles (:mod:`renewgeo.compute`), made once.

        An attached point (a leaf) is anchored at the node it hangs from on the network:
        its connector is measured from the item, not from the leaf's own point.
        """
        conn = self.edge_base < 0
        return graph_tiling(self.indptr, self.indices, self.weights, self.node_xy, self.edge_u[conn], self.edge_v[conn])


def _csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return K.csr(u, v, w, n)  # a counting sort: what a stable argsort of [u, v] by source gives


def _edge_levels(edges: gpd.GeoDataFrame) -> np.ndarray:
    return edges["level"].to_numpy(dtype=np.int64) if "level" in edges.columns else np.zeros(len(edges), dtype=np.int64)


def _edge_tiers(edges: gpd.GeoDataFrame) -> tuple[np.ndarray, list[tuple[np.ndarray, shapely.STRtree]]]:
    """Each edge's level, and the edges points may attach to in order of preference with an index of each.

    Ground-level edges (level 0) first, then every other level.
    """
    level = _edge_levels(edges)
    geoms = edges.geometry.values
    tiers = [np.flatnonzero(level == 0), np.flatnonzero(level != 0)]
    return level, [(t, shapely.STRtree(geoms[t])) for t in tiers if len(t)]


def _choose_edges(tiers: list[tuple[np.ndarray, shapely.STRtree]], level: np.ndarray, geoms: np.ndarray,
                  max_snap_m: float) -> np.ndarray:
    """The edge each item attaches to (-1: none within ``max_snap_m``).

    The nearest edge of the first tier with one in reach (the ground first: doors are
    on the ground); among edges equally near, the one whose level is nearest the
    ground, then the lowest edge id. Never the spatial index's order.
    """
    edge = np.full(len(geoms), -1, dtype=np.int64)
    todo = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    for idx, tree in tiers:
        q = np.flatnonzero(todo)
        if not len(q):
            break
        s, c = tree.query_nearest(geoms[q], max_distance=max_snap_m, all_matches=True)  # every edge as near as the nearest
        e = idx[c]
        order = np.lexsort((e, np.abs(level[e]), s))
        s, e = s[order], e[order]
        first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, bool)
        edge[q[s[first]]] = e[first]
        todo[q[s]] = False
    return edge


def _doors(geoms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The point of each item nearest to its edge (its likeliest door).

    A polygon or line whose nearest part is a stretch (a facade parallel to the street)
    gets the middle of that stretch, not whichever of its corners comes first.
    """
    sl = shapely.shortest_line(geoms, edges)
    door = np.asarray(shapely.get_point(sl, 0), dtype=object)
    wide = np.flatnonzero(shapely.get_type_id(geoms) != 0)
    if len(wide):  # a stretch ends at the door found: look closer only where a vertex next to it is as near
        xy, owner = shapely.get_coordinates(geoms[wide], return_index=True)
        at = np.flatnonzero(np.all(xy == shapely.get_coordinates(door[wide])[owner], axis=1))
        nb = np.concatenate([at - 1, at + 1])
        nb = nb[(nb >= 0) & (nb < len(xy))]
        nb = nb[~np.all(xy[nb] == shapely.get_coordinates(door[wide])[owner[nb]], axis=1)]
        as_near = shapely.distance(shapely.points(xy[nb]), edges[wide][owner[nb]]) <= shapely.length(sl[wide])[owner[nb]] + TIE_M
        wide = wide[np.unique(owner[nb[as_near]])]
    if len(wide):
        reach = shapely.buffer(edges[wide], shapely.length(sl[wide]) + TIE_M, quad_segs=2)
        # merged: a facade through the ring's start vertex comes out of the intersection in two pieces
        near = shapely.line_merge(shapely.intersection(shapely.boundary(geoms[wide]), reach))
        stretch = (shapely.get_type_id(near) == 1) & (shapely.length(near) > 2 * TIE_M)
        door[wide[stretch]] = shapely.line_interpolate_point(near[stretch], 0.5, normalized=True)
    return door


def _nearest_points(tiers: list[tuple[np.ndarray, shapely.STRtree]], edges: np.ndarray, level: np.ndarray, geoms: np.ndarray,
                    max_snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edge each item attaches to (see :func:`_choose_edges`), the position of its door along it and the connector length."""
    edge = _choose_edges(tiers, level, geoms, max_snap_m)
    src = np.flatnonzero(edge >= 0)
    pos = np.full(len(geoms), np.nan)
    conn = np.full(len(geoms), np.nan)
    if len(src):
        on = edges[edge[src]]
        door = _doors(geoms[src], on)
        pos[src] = shapely.line_locate_point(on, door)
        conn[src] = shapely.distance(door, on)
    return edge, pos, conn


def _attach_tile(task: tuple[np.ndarray, Packed], *, edges: tuple[Packed, np.ndarray, np.ndarray],
                 max_snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_nearest_points` of one tile's items, on the edges within ``max_snap_m`` of the tile's box (global edge ids)."""
    box, items = task
    geoms = items.geoms
    packed, level, bounds = edges
    geo = packed.geoms
    near = np.flatnonzero((bounds[:, 0] <= box[2] + max_snap_m) & (bounds[:, 2] >= box[0] - max_snap_m)
                          & (bounds[:, 1] <= box[3] + max_snap_m) & (bounds[:, 3] >= box[1] - max_snap_m))
    tiers = [(t, shapely.STRtree(geo[t])) for t in (near[level[near] == 0], near[level[near] != 0]) if len(t)]
    return _nearest_points(tiers, geo, level, geoms, max_snap_m)


def _nearest_points_tiled(engine: Engine, edges: np.ndarray, level: np.ndarray, geoms: np.ndarray,
                          max_snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_nearest_points` on the engine's workers, the items cut into spatial tiles.

    Each tile's items are attached on the edges whose box comes within ``max_snap_m`` of
    the tile's: every edge within reach of an item is among them, edge ids stay the
    network's, so the choice (nearest, then level, then id) and the door are the same.
    """
    edge = np.full(len(geoms), -1, dtype=np.int64)
    pos = np.full(len(geoms), np.nan)
    conn = np.full(len(geoms), np.nan)
    ok = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if not len(ok):
        return edge, pos, conn
    b = shapely.bounds(geoms[ok])
    labels = tile_labels((b[:, :2] + b[:, 2:]) / 2, engine.tiling)
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    parts = [ok[i] for i in np.split(order, cuts)]
    tasks = [(np.r_[b[np.searchsorted(ok, i)][:, :2].min(axis=0), b[np.searchsorted(ok, i)][:, 2:].max(axis=0)], Packed(geoms[i]))
             for i in parts]
    shared = engine.share(("edges", id(edges)), (Packed(edges), level, shapely.bounds(edges)))
    for i, (e, p, c) in zip(parts, engine.map(_attach_tile, tasks, edges=shared, max_snap_m=float(max_snap_m)), strict=True):
        edge[i], pos[i], conn[i] = e, p, c
    return edge, pos, conn


def attach(network: Network, points: Mapping[str, gpd.GeoDataFrame | gpd.GeoSeries], *, max_snap_m: float = MAX_SNAP_M,
           engine: Engine | None = None) -> Attached:
    """Insert points into the network at their projection on the nearest ground-level edge.

    Each point (for polygons: the point of the polygon nearest to the network, its
    likeliest door) becomes a leaf node joined by a connector edge to a new node on
    the nearest edge, which is split there. Doors are on the ground: a point attaches
    to the nearest edge of level 0, and to a bridge, tunnel or other level only when
    no ground-level edge lies within ``max_snap_m`` (``Attached.item_edge`` names the
    edge, whose ``level`` says so). Edges equally near are told apart by their level
    (nearest the ground first), then by their id (the lowest), never by chance.
    Points farther than ``max_snap_m`` from every edge are not attached (their node
    is -1).

    Parameters
    ----------
    network : Network
    points : mapping of str to GeoDataFrame or GeoSeries
        Groups of features in the network's CRS.
    max_snap_m : float
        Largest connector length in metres.
    engine : renewgeo.compute.Engine, optional
        Find each point's edge and door on a dask cluster's workers, in spatial tiles
        (:mod:`renewgeo.compute`): the same attachment.

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
    edges = np.asarray(base.geometry.values, dtype=object)
    level, tiers = _edge_tiers(base) if engine is None else (_edge_levels(base), [])  # one index per tier for every group
    items = []
    for name, gdf in points.items():
        geoms = gdf.geometry.values if isinstance(gdf, gpd.GeoDataFrame) else gdf.values
        if gdf.crs != network.crs:
            raise RenewgeoError(f"attach: {name!r} is in {gdf.crs} but the network in {network.crs}; reproject first")
        items.append((name, np.asarray(geoms, dtype=object)))
    if engine is not None and items:  # all groups in one pass over the workers
        every = np.concatenate([g for _, g in items])
        found = _nearest_points_tiled(engine, edges, level, every, max_snap_m)
        at = np.cumsum([0, *(len(g) for _, g in items)])
        groups = [(name, found[0][at[k]:at[k + 1]], found[1][at[k]:at[k + 1]], found[2][at[k]:at[k + 1]])
                  for k, (name, _) in enumerate(items)]
    else:
        for name, geoms in items:
            edge, pos, conn = _nearest_points(tiers, edges, level, geoms, max_snap_m)
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
    item_edge: dict[str, np.ndarray] = {}
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
        item_edge[name] = np.where(okk, edge, -1)
        connector[name] = np.where(okk, conn, np.nan)
    if leaf_xy:
        node_xy = np.vstack([node_xy, *leaf_xy])
    all_u, all_v, all_w = (np.concatenate(x).astype(t) for x, t in ((eu, np.int64), (ev, np.int64), (ew, np.float64)))
    indptr, indices, weights = _csr(all_u, all_v, all_w, next_node)
    return Attached(
        indptr=indptr, indices=indices, weights=weights, n_base=n_base, item_node=item_node, connector_m=connector,
        edge_base=np.concatenate(eb).astype(np.int64), edge_t0=np.concatenate(t0), edge_t1=np.concatenate(t1),
        edge_u=all_u, edge_v=all_v, edge_w=all_w, node_xy=node_xy, max_snap_m=float(max_snap_m),
        network_token=network.token, item_edge=item_edge,
    )


def network_from_arrays(node_xy: NDArray[np.float64], u: NDArray[np.int64], v: NDArray[np.int64], *, crs: Any,
                        geometry: Sequence[Any] | None = None, source_id: Sequence[Any] | None = None,
                        tiny_component_m: float = 200.0) -> Network:
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
    source_id : sequence, optional
        Each edge's id in the caller's data (the edges' ``source_id``, as text; by
        default the edge's position). ``source_layer`` is ``arrays``.
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
    ids = np.arange(len(u)) if source_id is None else np.asarray(source_id, dtype=object)
    if len(ids) != len(u):
        raise RenewgeoError(f"network_from_arrays: {len(ids):,} source ids for {len(u):,} edges; give one per edge")
    source = np.column_stack([np.full(len(u), "arrays", dtype=object), np.asarray(ids).astype(str).astype(object)])
    return _assemble(node_xy, u, v, geoms, np.zeros(len(u), dtype=int), np.full(len(u), "line", dtype=object), source, crs=crs,
                     report=NetworkReport(input_lines=len(u)), tiny_component_m=tiny_component_m)
