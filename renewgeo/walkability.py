"""Walkability: network distances to daily services, life circles, isochrones, green access.

Every distance is measured on the pedestrian network (:mod:`renewgeo.network`), never
as the crow flies. Origins (buildings) and destinations (amenities, green-space
entries, points of the axis) are inserted into the graph at their projection on the
nearest edge, so distances are exact graph distances including the walk to and from
the network. Searches run in compiled code (:mod:`renewgeo._kernels`).

Distances are given in metres, or in minutes at a walking speed (default 1.0 m/s, the
GB 50180-2018 convention of 5/10/15 minutes ~ 300/500/1,000 m).

Functions
---------
network_from_project   the project's walkable network (paths, axis, corridor, trails, plazas)
accessibility          nearest distance, counts and decay-weighted sums per amenity category
life_circles           5/10/15-minute life-circle compliance per building
green_access           distance to green space and to parks
axis_catchment         GFA within N m of the pedestrian axis; gaps in the axis
isochrones             5/10/15-minute walking areas from chosen points
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from renewgeo import _kernels as K
from renewgeo._errors import RenewgeoError, SchemaError
from renewgeo.network import Attached, Network, attach, build_network
from renewgeo.project import Project
from renewgeo.units import true_area_m2

__all__ = [
    "DAILY_CATEGORIES",
    "DEFAULT_DISTANCES_M",
    "WalkResult",
    "accessibility",
    "analyse",
    "axis_catchment",
    "default_life_circles",
    "green_access",
    "isochrones",
    "life_circles",
    "network_from_project",
    "node_accessibility",

    "thresholds_m",
]

log = logging.getLogger(__name__)

DEFAULT_DISTANCES_M = (300.0, 500.0, 800.0, 1000.0)
NETWORK_KINDS = ("paths", "pedestrian_axis", "landscape_corridor", "trails")
GREEN_TYPES = ("green", "park", "pocket_park")
PARK_TYPES = ("park", "pocket_park")


def thresholds_m(
    *, distances_m: Sequence[float] | None = None, minutes: Sequence[float] | None = None, speed_m_s: float = 1.0
) -> tuple[np.ndarray, list[str]]:
    """Thresholds in metres and their column suffixes (``300m`` or ``5min``).

    >>> thresholds_m(minutes=[5, 10], speed_m_s=1.0)
    (array([300., 600.]), ['5min', '10min'])
    """
    if speed_m_s <= 0:
        raise RenewgeoError(f"speed_m_s must be > 0 m/s, got {speed_m_s}")
    if minutes is not None and distances_m is not None:
        raise RenewgeoError("give distances_m or minutes, not both")
    if minutes is not None:
        vals = np.asarray(minutes, dtype=float)
        if (vals <= 0).any():
            raise RenewgeoError(f"minutes must be > 0, got {list(minutes)}")
        return vals * 60.0 * speed_m_s, [f"{m:g}min" for m in vals]
    vals = np.asarray(distances_m if distances_m is not None else DEFAULT_DISTANCES_M, dtype=float)
    if len(vals) == 0 or (vals <= 0).any():
        raise RenewgeoError(f"distances_m must be positive metres, got {list(vals)}")
    return vals, [f"{d:g}m" for d in vals]


def network_from_project(project: Project, *, snap_m: float | None = None) -> Network:
    """The project's walkable network: paths, axis, corridor and trails, plus walkable plazas.

    ``snap_m`` defaults to ``[thresholds] network_snap_m`` or 1 m.
    """
    layers = [project.layers[n] for n, k in project.kinds.items() if k in NETWORK_KINDS]
    if not layers:
        raise SchemaError(
            f"project {project.name!r} has no line layer to walk on; add a [layers.paths] layer (streets and footpaths)"
        )
    polys = None
    if project.has("outdoor_spaces"):
        o = project.layer("outdoor_spaces")
        if "walkable" in o.columns:
            polys = o
    snap = float(project.thresholds.get("network_snap_m", 1.0)) if snap_m is None else snap_m
    return build_network(layers, snap_m=snap, walkable_polygons=polys)


def _ids(gdf: pd.DataFrame) -> np.ndarray:
    return (gdf["id"] if "id" in gdf.columns else pd.Series(gdf.index, index=gdf.index)).astype(str).to_numpy()


def _category_codes(amenities: gpd.GeoDataFrame, categories: Sequence[str] | None, column: str) -> tuple[list[str], np.ndarray, list[str]]:
    if column not in amenities.columns:
        raise SchemaError(f"amenities have no column {column!r}; it names each amenity's category (cafe, clinic ...)")
    cat = amenities[column].astype("object")
    missing = cat.isna().to_numpy()
    unknown_ids = list(_ids(amenities)[missing])
    if categories is None:
        cats = sorted({str(c) for c in cat[~missing]})
    else:
        cats = list(dict.fromkeys(categories))
    lookup = {c: i for i, c in enumerate(cats)}
    codes = np.array([lookup.get(str(c), -1) if not m else -1 for c, m in zip(cat, missing, strict=True)], dtype=np.int64)
    return cats, codes, unknown_ids


def accessibility(
    network: Network,
    origins: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    distances_m: Sequence[float] | None = None,
    minutes: Sequence[float] | None = None,
    speed_m_s: float = 1.0,
    max_snap_m: float = 100.0,
    nearest_max_m: float = 5000.0,
    category_column: str = "category",
    nodes: bool = False,
) -> pd.DataFrame:
    """Network accessibility of every origin to every amenity category.

    Parameters
    ----------
    network : Network
        From :func:`renewgeo.network.build_network` or :func:`network_from_project`.
    origins : GeoDataFrame
        Buildings (polygons: measured from their point nearest the network) or points.
    amenities : GeoDataFrame
        Destinations with a category column.
    categories : sequence of str, optional
        Categories to measure (default: all present). Amenities of other categories
        are ignored.
    distances_m, minutes : sequence of float, optional
        Thresholds in metres, or in minutes at ``speed_m_s`` (default 300, 500, 800,
        1,000 m).
    speed_m_s : float
        Walking speed for ``minutes``.
    max_snap_m : float
        Items farther than this from every edge are not attached and are reported.
    nearest_max_m : float
        Search radius for the nearest-amenity distance.
    category_column : str
        Column of ``amenities`` holding the category.
    nodes : bool
        Also return the same measures for every network node (``.attrs["nodes"]``).

    Returns
    -------
    DataFrame indexed like ``origins`` with, per category ``c`` and threshold ``t``:
    ``{c}_nearest_m`` (NaN when none within ``nearest_max_m``), ``{c}_count_{t}``,
    ``{c}_gravity_{t}`` (sum of exp(-beta d), beta = 4 / t, as cityseer) and
    ``{c}_linear_{t}`` (sum of 1 - d / t); ``snap_m`` (origin to network) and
    ``note`` (why a row has no values). ``.attrs`` holds ``unattached_amenities``
    and ``uncategorised_amenities`` (ids).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.network import build_network
    >>> net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=32651))
    >>> o = gpd.GeoDataFrame(geometry=[shapely.Point(100, 10)], crs=32651)
    >>> a = gpd.GeoDataFrame({"category": ["cafe", "cafe"]}, geometry=[shapely.Point(300, -5), shapely.Point(700, 0)], crs=32651)
    >>> r = accessibility(net, o, a, distances_m=[300, 1000])
    >>> float(r.loc[0, "cafe_nearest_m"]), int(r.loc[0, "cafe_count_300m"]), int(r.loc[0, "cafe_count_1000m"])
    (215.0, 1, 2)
    """
    th, names = thresholds_m(distances_m=distances_m, minutes=minutes, speed_m_s=speed_m_s)
    cats, codes, uncategorised = _category_codes(amenities, categories, category_column)
    att = attach(network, {"origins": origins, "amenities": amenities}, max_snap_m=max_snap_m)
    o_node = att.item_node["origins"]
    a_node = att.item_node["amenities"]
    use = (codes >= 0) & (a_node >= 0)
    unattached_a = list(_ids(amenities)[a_node < 0])
    if unattached_a:
        log.warning("%d amenit(y/ies) farther than %g m from the network were not attached: %s", len(unattached_a), max_snap_m, ", ".join(unattached_a[:20]))
    if uncategorised:
        log.warning("%d amenit(y/ies) have no category and were left out: %s", len(uncategorised), ", ".join(uncategorised[:20]))
    src, grp = a_node[use], codes[use]
    betas = 4.0 / th
    count, gravity, linear = K.accumulate(att.indptr, att.indices, att.weights, src, grp, len(cats), th, betas)
    nearest = K.multi_source_nearest(att.indptr, att.indices, att.weights, src, grp, len(cats), float(max(nearest_max_m, th.max())))
    out = _frame(origins.index, o_node, cats, names, count, gravity, linear, nearest)
    conn = att.connector_m["origins"]
    out["snap_m"] = conn
    notes = np.where(o_node < 0, f"not attached: farther than {max_snap_m:g} m from the network", "")
    none_found = np.zeros(len(origins), dtype=bool)
    for c in cats:
        none_found |= (o_node >= 0) & out[f"{c}_nearest_m"].isna().to_numpy()
    if none_found.any():
        near = {c: out[f"{c}_nearest_m"].to_numpy(dtype="float64") for c in cats}
        for i in np.flatnonzero(none_found):
            miss = [c for c in cats if np.isnan(near[c][i])]
            notes[i] = f"none within {nearest_max_m:g} m: {', '.join(miss)}"
    out["note"] = notes
    out.attrs["unattached_amenities"] = unattached_a
    out.attrs["uncategorised_amenities"] = uncategorised
    out.attrs["categories"] = cats
    out.attrs["thresholds_m"] = list(th)
    out.attrs["suffixes"] = names
    if nodes:
        base = np.arange(att.n_base)
        out.attrs["nodes"] = _frame(pd.RangeIndex(att.n_base), base, cats, names, count, gravity, linear, nearest)
    return out


def _frame(index: pd.Index, node: np.ndarray, cats: list[str], names: list[str], count: np.ndarray, gravity: np.ndarray,
           linear: np.ndarray, nearest: np.ndarray) -> pd.DataFrame:
    ok = node >= 0
    safe = np.where(ok, node, 0)
    cols: dict[str, Any] = {}
    for gi, c in enumerate(cats):
        d = nearest[gi][safe]
        cols[f"{c}_nearest_m"] = np.where(ok & np.isfinite(d), d, np.nan)
        for ti, t in enumerate(names):
            cnt = pd.array(np.where(ok, count[gi, ti][safe], 0), dtype="Int64")
            cnt[~ok] = pd.NA
            cols[f"{c}_count_{t}"] = cnt
            cols[f"{c}_gravity_{t}"] = np.where(ok, gravity[gi, ti][safe].astype(np.float64), np.nan)
            cols[f"{c}_linear_{t}"] = np.where(ok, linear[gi, ti][safe].astype(np.float64), np.nan)
    return pd.DataFrame(cols, index=index)


# ------------------------------------------------------------------------ life circles
def default_life_circles() -> list[dict[str, Any]]:
    """The default requirement table (GB 50180-2018), from ``renewgeo/data/life_circles.toml``."""
    with resources.files("renewgeo.data").joinpath("life_circles.toml").open("rb") as f:
        return list(tomllib.load(f)["life_circles"])


def _check_circles(circles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(circles):
        name = str(c.get("name", f"#{i + 1}"))
        if "distance_m" not in c and "minutes" not in c:
            raise SchemaError(f"life circle {name!r}: give distance_m (or minutes)")
        req = c.get("required")
        if not isinstance(req, list) or not all(isinstance(r, list | str) for r in req):
            raise SchemaError(f"life circle {name!r}: required must be a list of category lists, e.g. [[\"clinic\", \"hospital\"], [\"school\"]]")
        out.append({"name": name, "distance_m": float(c.get("distance_m", float(c.get("minutes", 0)) * 60)),
                    "required": [[r] if isinstance(r, str) else list(r) for r in req]})
    return out


def life_circles(
    network: Network,
    buildings: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    *,
    circles: Sequence[Mapping[str, Any]] | None = None,
    max_snap_m: float = 100.0,
    category_column: str = "category",
) -> gpd.GeoDataFrame:
    """Which life-circle requirements each building meets on foot.

    Parameters
    ----------
    network, buildings, amenities
        As for :func:`accessibility`.
    circles : sequence of mapping, optional
        ``[{"name": "5min", "distance_m": 300, "required": [["kindergarten", "childcare"], ...]}]``;
        default :func:`default_life_circles` (GB 50180-2018).
    max_snap_m : float
        As for :func:`accessibility`.
    category_column : str
        Category column of ``amenities``.

    Returns
    -------
    GeoDataFrame
        The buildings with, per circle ``c``: ``lc_{c}_pass`` (bool) and
        ``lc_{c}_missing`` (the requirements not met, ``a|b; c``); ``lc_note``.
        ``.attrs["summary"]`` has, per circle, the share of buildings, of GFA and of
        households that pass.
    """
    spec = _check_circles(circles if circles is not None else default_life_circles())
    cats = sorted({c for circle in spec for req in circle["required"] for c in req})
    acc = accessibility(network, buildings, amenities, categories=cats, distances_m=sorted({c["distance_m"] for c in spec}),
                        max_snap_m=max_snap_m, category_column=category_column)
    out = buildings.copy()
    summary = []
    gfa = pd.to_numeric(out["gfa_m2"], errors="coerce").astype("float64") if "gfa_m2" in out else None
    hh = pd.to_numeric(out["households"], errors="coerce").astype("float64") if "households" in out else None
    attached = acc["note"].str.startswith("not attached").to_numpy() == False  # noqa: E712
    for circle in spec:
        d = circle["distance_m"]
        met = []
        for req in circle["required"]:
            ok = np.zeros(len(out), dtype=bool)
            for c in req:
                ok |= (acc[f"{c}_nearest_m"].to_numpy() <= d + 1e-9)
            met.append(ok)
        allok = np.logical_and.reduce(met) & attached if met else attached
        missing = [
            "; ".join("|".join(req) for req, ok in zip(circle["required"], [m[i] for m in met], strict=True) if not ok)
            if attached[i] else "not attached to the network"
            for i in range(len(out))
        ]
        out[f"lc_{circle['name']}_pass"] = allok
        out[f"lc_{circle['name']}_missing"] = missing
        row = {"circle": circle["name"], "distance_m": d, "buildings": len(out), "buildings_pass": int(allok.sum()),
               "buildings_pass_pct": 100 * allok.mean() if len(out) else np.nan}
        if gfa is not None:
            tot = gfa.sum()
            row["gfa_pass_pct"] = 100 * gfa[allok].sum() / tot if tot > 0 else np.nan
        if hh is not None:
            tot = hh.sum()
            row["households_pass_pct"] = 100 * hh[allok].sum() / tot if tot > 0 else np.nan
        summary.append(row)
    out["lc_note"] = acc["note"].to_numpy()
    out.attrs["summary"] = pd.DataFrame(summary).set_index("circle")
    out.attrs["accessibility"] = acc
    return out


# ------------------------------------------------------------------------ green access
def _entries(polys: gpd.GeoDataFrame, network: Network, *, spacing_m: float, touch_m: float) -> gpd.GeoDataFrame:
    """Points every ``spacing_m`` along polygon outlines, kept where they touch the network."""
    rings = shapely.boundary(polys.geometry.values)
    parts, owner = shapely.get_parts(rings, return_index=True)
    pts: list[Any] = []
    idx: list[int] = []
    for ring, o in zip(parts, owner, strict=True):
        n = max(int(np.ceil(ring.length / spacing_m)), 1)
        pts.extend(shapely.line_interpolate_point(ring, np.linspace(0, ring.length, n, endpoint=False)))
        idx.extend([o] * n)
    g = gpd.GeoDataFrame({"owner": np.asarray(idx, dtype=np.int64)}, geometry=pts, crs=polys.crs)
    if len(g) == 0:
        return g
    near = shapely.STRtree(network.edges.geometry.values).query(g.geometry.values, predicate="dwithin", distance=touch_m)[0]
    keep = np.zeros(len(g), dtype=bool)
    keep[near] = True
    return g[keep].reset_index(drop=True)


def green_access(
    network: Network,
    buildings: gpd.GeoDataFrame,
    outdoor_spaces: gpd.GeoDataFrame,
    *,
    green_m: float = 300.0,
    park_m: float = 500.0,
    green_types: Sequence[str] = GREEN_TYPES,
    park_types: Sequence[str] = PARK_TYPES,
    park_min_area_m2: float = 10000.0,
    entry_spacing_m: float = 20.0,
    entry_touch_m: float = 30.0,
    max_snap_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Network distance from each building to green space and to a park.

    Green spaces are outdoor spaces whose ``space_type`` is in ``green_types``; parks
    are those in ``park_types`` or green spaces of at least ``park_min_area_m2``.
    Their entries are points every ``entry_spacing_m`` along the outline within
    ``entry_touch_m`` of a network edge.

    Returns
    -------
    GeoDataFrame
        The buildings with ``green_dist_m``, ``green_ok`` (within ``green_m``),
        ``park_dist_m``, ``park_ok`` (within ``park_m``) and ``green_note``.
    """
    if "space_type" not in outdoor_spaces.columns:
        raise SchemaError("green_access: outdoor_spaces need a space_type column (green, park, plaza ...)")
    st = outdoor_spaces["space_type"].astype("object")
    green = outdoor_spaces[st.isin(list(green_types)).to_numpy()]
    big = true_area_m2(green, layer="outdoor_spaces") >= park_min_area_m2 if len(green) else pd.Series(dtype=bool)
    parks = outdoor_spaces[st.isin(list(park_types)).to_numpy() | outdoor_spaces.index.isin(green.index[big.to_numpy()])] if len(green) else outdoor_spaces[st.isin(list(park_types)).to_numpy()]
    out = buildings.copy()
    notes = [""] * len(out)
    for label, polys, limit in (("green", green, green_m), ("park", parks, park_m)):
        if len(polys) == 0:
            out[f"{label}_dist_m"] = np.nan
            out[f"{label}_ok"] = False
            notes = [f"{n}; no {label} space in the project".strip("; ") for n in notes]
            continue
        ent = _entries(polys, network, spacing_m=entry_spacing_m, touch_m=entry_touch_m)
        ent["category"] = label
        acc = accessibility(network, buildings, ent, categories=[label], distances_m=[limit], max_snap_m=max_snap_m)
        out[f"{label}_dist_m"] = acc[f"{label}_nearest_m"].to_numpy()
        out[f"{label}_ok"] = (acc[f"{label}_nearest_m"] <= limit).fillna(False).to_numpy(dtype=bool)
        notes = [n or a for n, a in zip(notes, acc["note"], strict=True)]
    out["green_note"] = notes
    return out


# ------------------------------------------------------------------------ the axis
def axis_catchment(
    network: Network,
    buildings: gpd.GeoDataFrame,
    axis: gpd.GeoDataFrame,
    *,
    distances_m: Sequence[float] = (300.0, 500.0),
    sample_m: float = 10.0,
    snap_m: float = 1.0,
    max_snap_m: float = 100.0,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """GFA within walking distance of the pedestrian axis, and whether the axis is continuous.

    Returns
    -------
    (buildings, summary, gaps)
        Buildings with ``axis_dist_m``; a table of the share of buildings and GFA within
        each distance; and the gaps of the axis (LineStrings joining the nearest ends
        of its disconnected pieces, with ``gap_m``), empty when it is one walkable path.
    """
    lines = shapely.get_parts(axis.geometry.values)
    pts: list[Any] = []
    for line in lines:
        n = max(int(np.ceil(line.length / sample_m)), 1)
        pts.extend(shapely.line_interpolate_point(line, np.linspace(0, line.length, n + 1)))
    ent = gpd.GeoDataFrame({"category": ["axis"] * len(pts)}, geometry=pts, crs=axis.crs)

    acc = accessibility(network, buildings, ent, categories=["axis"], distances_m=list(distances_m), max_snap_m=max_snap_m)
    out = buildings.copy()
    out["axis_dist_m"] = acc["axis_nearest_m"].to_numpy()
    gfa = pd.to_numeric(out["gfa_m2"], errors="coerce").fillna(0).astype("float64") if "gfa_m2" in out else pd.Series(0.0, index=out.index)
    rows = []
    for d in distances_m:
        ok = (out["axis_dist_m"] <= d).fillna(False).to_numpy(dtype=bool)
        rows.append({"distance_m": d, "buildings": int(ok.sum()), "buildings_pct": 100 * ok.mean() if len(ok) else np.nan,
                     "gfa_m2": float(gfa[ok].sum()), "gfa_pct": 100 * gfa[ok].sum() / gfa.sum() if gfa.sum() > 0 else np.nan})
    summary = pd.DataFrame(rows).set_index("distance_m")
    # continuity: the axis on its own
    own = build_network(axis, snap_m=snap_m)
    comp = own.nodes["component"].to_numpy()
    gaps: list[dict[str, Any]] = []
    if own.report.components > 1:
        ends = own.nodes[own.nodes["degree"] <= 1]
        ends = ends if len(ends) else own.nodes
        comps = sorted(set(comp))
        for i, ci in enumerate(comps):
            for cj in comps[i + 1:]:
                a = ends[ends["component"] == ci]
                b = ends[ends["component"] == cj]
                if len(a) == 0 or len(b) == 0:
                    a, b = own.nodes[comp == ci], own.nodes[comp == cj]
                ai, bi = shapely.STRtree(b.geometry.values).query_nearest(a.geometry.values, return_distance=False, all_matches=False)
                dd = shapely.distance(a.geometry.values[ai], b.geometry.values[bi])
                k = int(np.argmin(dd))
                gaps.append({"from_piece": int(ci), "to_piece": int(cj), "gap_m": float(dd[k]),
                             "geometry": shapely.linestrings([shapely.get_coordinates(a.geometry.values[ai[k]])[0],
                                                              shapely.get_coordinates(b.geometry.values[bi[k]])[0]])})
        # keep, per piece, only the shortest link to the rest (a spanning set of gaps)
        gaps = _spanning(gaps, len(comps))
    gap_frame = gpd.GeoDataFrame(gaps, geometry="geometry", crs=axis.crs) if gaps else gpd.GeoDataFrame(
        {"from_piece": [], "to_piece": [], "gap_m": []}, geometry=[], crs=axis.crs)
    summary.attrs["continuous"] = own.report.components == 1
    summary.attrs["pieces"] = own.report.components
    return out, summary, gap_frame


def _spanning(gaps: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    keep = []
    for g in sorted(gaps, key=lambda g: g["gap_m"]):
        a, b = find(g["from_piece"]), find(g["to_piece"])
        if a != b:
            parent[a] = b
            keep.append(g)
    return keep


# ------------------------------------------------------------------------ isochrones
def isochrones(
    network: Network,
    origins: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    minutes: Sequence[float] = (5.0, 10.0, 15.0),
    speed_m_s: float = 1.0,
    buffer_m: float = 25.0,
    buildings: gpd.GeoDataFrame | None = None,
    max_snap_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Walking-time polygons from one or more points (all points together).

    Each polygon is the reachable network (edges walked in full, the last edge cut at
    the remaining distance) buffered by ``buffer_m``. With ``buildings``, the buildings
    whose own network distance is within the time are counted with their GFA.

    Returns
    -------
    GeoDataFrame
        One row per time: ``minutes``, ``distance_m``, ``area_m2``, ``area_ha``,
        ``reachable_length_m`` and, with buildings, ``buildings`` and ``gfa_m2``.
    """
    th, _ = thresholds_m(minutes=minutes, speed_m_s=speed_m_s)
    pts = origins if isinstance(origins, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=origins)
    groups: dict[str, gpd.GeoDataFrame] = {"origins": pts}
    if buildings is not None:
        groups["buildings"] = buildings
    att = attach(network, groups, max_snap_m=max_snap_m)
    seeds = att.item_node["origins"]
    if (seeds < 0).all():
        raise RenewgeoError(f"isochrones: no origin lies within {max_snap_m:g} m of the network")
    seeds = seeds[seeds >= 0]
    dist = K.bounded_single(att.indptr, att.indices, att.weights, seeds.astype(np.int64), np.zeros(len(seeds)), float(th.max()))
    base_geoms = network.edges.geometry.values
    rows = []
    chord = np.r_[network.edges["kind"].to_numpy() == "chord", False]  # index -1 (connectors): not a chord
    for m, d_max in zip(minutes, th, strict=True):
        pieces, piece_edge = _reachable(att, dist, d_max, base_geoms)
        network_piece = (piece_edge >= 0) & ~chord[piece_edge]  # not connectors, not plaza chords
        length = float(shapely.length(pieces)[network_piece].sum()) if len(pieces) else 0.0
        reach = shapely.union_all(shapely.buffer(pieces, buffer_m)) if len(pieces) else shapely.Polygon()
        row: dict[str, Any] = {"minutes": float(m), "distance_m": float(d_max), "reachable_length_m": length, "geometry": reach}
        if buildings is not None:
            bn = att.item_node["buildings"]
            ok = (bn >= 0) & (dist[np.maximum(bn, 0)] <= d_max)
            row["buildings"] = int(ok.sum())
            gfa = pd.to_numeric(buildings["gfa_m2"], errors="coerce").fillna(0) if "gfa_m2" in buildings else pd.Series(0.0, index=buildings.index)
            row["gfa_m2"] = float(gfa.to_numpy()[ok].sum())
        rows.append(row)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=network.crs)
    out["area_m2"] = true_area_m2(out, layer="isochrones").to_numpy()
    out["area_ha"] = out["area_m2"] / 10000.0
    return out


def _reachable(att: Attached, dist: np.ndarray, d_max: float, base_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parts of every augmented edge within ``d_max``, and the base edge of each (-1: connector)."""
    du, dv, w = dist[att.edge_u], dist[att.edge_v], att.edge_w
    full = (du + w <= d_max) | (dv + w <= d_max)
    from_u = ~full & (du < d_max)
    from_v = ~full & (dv < d_max)
    pieces: list[Any] = []
    owner: list[int] = []
    for mask, kind in ((full, "full"), (from_u, "u"), (from_v, "v")):
        for e in np.flatnonzero(mask):
            t0, t1 = att.edge_t0[e], att.edge_t1[e]
            if kind == "u":
                a, b = t0, t0 + (d_max - du[e])
            elif kind == "v":
                a, b = t1 - (d_max - dv[e]), t1
            else:
                a, b = t0, t1
            base = att.edge_base[e]
            if base < 0:  # a connector: straight from the item to the network
                p, q = att.node_xy[att.edge_u[e]], att.node_xy[att.edge_v[e]]
                length = float(np.hypot(*(q - p)))
                if length <= 0:
                    continue
                s0, s1 = (a - t0) / (t1 - t0) if t1 > t0 else 0.0, (b - t0) / (t1 - t0) if t1 > t0 else 1.0
                pieces.append(shapely.linestrings([p + (q - p) * s0, p + (q - p) * s1]))
            else:
                pieces.append(shapely.ops.substring(base_geoms[base], a, b))
            owner.append(int(base))
    return np.asarray(pieces, dtype=object), np.asarray(owner, dtype=np.int64)



# ------------------------------------------------------------------------ the analysis
DAILY_CATEGORIES = ("convenience_store", "supermarket", "market", "pharmacy", "clinic", "cafe", "restaurant", "bus_stop")


@dataclass
class WalkResult:
    """What :func:`analyse` produced."""

    network: Network
    buildings: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame
    axis_gaps: gpd.GeoDataFrame
    tables: dict[str, pd.DataFrame]


def analyse(project: Project, *, buildings: gpd.GeoDataFrame | None = None) -> WalkResult:
    """Every walkability measure of a project, as ``renewgeo walk`` and ``run`` write them.

    Thresholds (``[thresholds]`` in project.toml): ``walk_speed_m_s`` (1.0),
    ``walk_distances_m`` ([300, 500, 800, 1000]), ``max_snap_m`` (100),
    ``daily_categories`` (see :data:`DAILY_CATEGORIES`), ``green_m`` (300), ``park_m``
    (500), ``axis_distances_m`` ([300, 500]), ``isochrone_minutes`` ([5, 10, 15]).
    Life-circle requirements come from ``[[life_circles]]`` or the GB 50180-2018 default.
    """
    th = project.thresholds
    speed = float(th.get("walk_speed_m_s", 1.0))
    dists = [float(d) for d in th.get("walk_distances_m", DEFAULT_DISTANCES_M)]
    snap = float(th.get("max_snap_m", 100.0))
    if not project.has("buildings"):
        raise SchemaError(f"project {project.name!r} has no buildings layer: walkability measures buildings' access")
    if not project.has("amenities"):
        raise SchemaError(f"project {project.name!r} has no amenities layer: there is nothing to walk to")
    b = buildings if buildings is not None else project.layer("buildings")
    amen = project.layer("amenities")
    net = network_from_project(project)
    acc = accessibility(net, b, amen, distances_m=dists, max_snap_m=snap, nodes=True)
    daily = [c for c in th.get("daily_categories", DAILY_CATEGORIES) if c in acc.attrs["categories"]]
    keep = [c for c in acc.columns if c.endswith("_nearest_m")] + [c for c in acc.columns if "_count_" in c]
    new: dict[str, Any] = {f"walk_{c}": acc[c].to_numpy() for c in keep}
    new["daily_dist_m"] = acc[[f"{c}_nearest_m" for c in daily]].min(axis=1, skipna=True).to_numpy() if daily else np.nan
    new["walk_snap_m"] = acc["snap_m"].to_numpy()
    new["walk_note"] = acc["note"].to_numpy()
    lc = life_circles(net, b, amen, circles=project.life_circles, max_snap_m=snap)
    new.update({c: lc[c].to_numpy() for c in lc.columns if c.startswith("lc_")})
    out = gpd.GeoDataFrame(pd.concat([b, pd.DataFrame(new, index=b.index)], axis=1), geometry=b.geometry.name, crs=b.crs)

    tables: dict[str, pd.DataFrame] = {"life_circles": lc.attrs["summary"]}
    if project.has("outdoor_spaces"):
        g = green_access(net, b, project.layer("outdoor_spaces"), green_m=float(th.get("green_m", 300.0)),
                         park_m=float(th.get("park_m", 500.0)), max_snap_m=snap)
        for c in ("green_dist_m", "green_ok", "park_dist_m", "park_ok"):
            out[c] = g[c].to_numpy()
        tables["green_access"] = pd.DataFrame({
            "buildings": [len(g)], "green_ok_pct": [100 * g["green_ok"].mean()], "park_ok_pct": [100 * g["park_ok"].mean()],
        })
    gaps = gpd.GeoDataFrame({"from_piece": [], "to_piece": [], "gap_m": []}, geometry=[], crs=project.crs)
    iso = gpd.GeoDataFrame({"minutes": []}, geometry=[], crs=project.crs)
    if project.has("pedestrian_axis"):
        axis = project.layer("pedestrian_axis")
        ab, summ, gaps = axis_catchment(net, b, axis, distances_m=[float(d) for d in th.get("axis_distances_m", (300, 500))], max_snap_m=snap)
        out["axis_dist_m"] = ab["axis_dist_m"].to_numpy()
        tables["axis_catchment"] = summ.assign(continuous=summ.attrs["continuous"], pieces=summ.attrs["pieces"])
        merged = shapely.line_merge(shapely.union_all(axis.geometry.values))
        line = max(shapely.get_parts(merged), key=lambda g: g.length)
        mid = gpd.GeoSeries([line.interpolate(0.5, normalized=True)], crs=project.crs)
        iso = isochrones(net, mid, minutes=[float(m) for m in th.get("isochrone_minutes", (5, 10, 15))], speed_m_s=speed,
                         buildings=b, max_snap_m=snap)
        iso.insert(0, "origin", "axis midpoint")
    nodes = net.nodes.copy()
    node_acc = acc.attrs["nodes"]
    nodes["daily_dist_m"] = node_acc[[f"{c}_nearest_m" for c in daily]].min(axis=1, skipna=True).to_numpy() if daily else np.nan
    for c in node_acc.columns:
        if c.endswith("_nearest_m"):
            nodes[f"walk_{c}"] = node_acc[c].to_numpy()
    cats = acc.attrs["categories"]
    rows = []
    for c in cats:
        d = acc[f"{c}_nearest_m"]
        rows.append({"category": c, "amenities": int((amen["category"] == c).sum()), "buildings": len(d),
                     "median_nearest_m": float(d.median()) if d.notna().any() else np.nan,
                     **{f"within_{t}_pct": 100 * float((d <= th_m).mean()) for t, th_m in zip(acc.attrs["suffixes"], acc.attrs["thresholds_m"], strict=True)}})
    tables["walk_by_category"] = pd.DataFrame(rows).set_index("category")
    r = net.report
    tables["network"] = pd.DataFrame([{
        "nodes": r.nodes, "edges": r.edges, "length_m": r.length_m, "components": r.components,
        "largest_component_share_pct": 100 * r.largest_component_share, "tiny_components": r.tiny_components,
        "dangling_ends": r.dangling_ends, "endpoints_snapped": r.endpoints_snapped,
        "endpoints_moved_onto_lines": r.endpoints_moved_onto_lines, "zero_length_dropped": len(r.zero_length_dropped),
        "crossable_polygons": r.polygons_crossable, "chords": r.chords_added,
        "unattached_amenities": ", ".join(acc.attrs["unattached_amenities"]),
    }])
    return WalkResult(network=net, buildings=out, nodes=nodes, isochrones=iso, axis_gaps=gaps, tables=tables)


def node_accessibility(
    network: Network,
    amenities: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    distances_m: Sequence[float] | None = None,
    minutes: Sequence[float] | None = None,
    speed_m_s: float = 1.0,
    max_snap_m: float = 100.0,
    nearest_max_m: float = 5000.0,
    category_column: str = "category",
) -> pd.DataFrame:
    """The measures of :func:`accessibility` at every node of the network (indexed by node id)."""
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=network.crs))
    r = accessibility(network, empty, amenities, categories=categories, distances_m=distances_m, minutes=minutes,
                      speed_m_s=speed_m_s, max_snap_m=max_snap_m, nearest_max_m=nearest_max_m,
                      category_column=category_column, nodes=True)
    out: pd.DataFrame = r.attrs["nodes"]
    out.attrs.update({k: v for k, v in r.attrs.items() if k != "nodes"})
    return out
