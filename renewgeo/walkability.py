"""Walkability: network distances to daily services, life circles, isochrones, green access.

Every distance is measured on the pedestrian network (:mod:`renewgeo.network`), never
as the crow flies. Origins (buildings) and destinations (amenities, green-space
entries, points of the axis) are inserted into the graph at their projection on the
nearest ground-level edge (a bridge, tunnel or other level only when nothing on the
ground is within ``max_snap_m``; ``snap_level`` says which), so distances are exact
graph distances including the walk to and from the network. Searches run in compiled
code (:mod:`renewgeo._kernels`).

Distances are given in metres, or in minutes at a walking speed (default 1.0 m/s, the
GB 50180-2018 convention of 5/10/15 minutes ~ 300/500/1,000 m).

Attach once, query many: :func:`attach_layers` inserts every group of points into the
network in one go (as cityseer's data map or pandana's ``set``); each measure takes
that attachment (``attached=``) and only searches it. Given none, a measure attaches
what it needs itself. The searches run once per kind of destination and give per-node
arrays; per-origin results are lookups in them.

Functions
---------
network_from_project   the project's walkable network (paths, axis, corridor, trails, plazas)
attach_layers          insert origins, amenities, green-space entries, axis points, isochrone origins
accessibility          nearest distance, counts and decay-weighted sums per amenity category
node_accessibility     the same at every network node
life_circles           5/10/15-minute life-circle compliance per building
default_life_circles   the requirements derived from GB 50180-2018 (renewgeo/data/life_circles_gb50180.toml)
life_circle_standard   that file's levels, quotas and facility tables
green_access           distance to green space and to parks
axis_catchment         GFA within N m of the pedestrian axis; gaps in the axis
isochrones             5/10/15-minute walking areas from chosen points
compute                all of the above for a project, on one attachment (the registered analysis)
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from renewgeo import _kernels as K
from renewgeo import compute as _compute
from renewgeo import raster
from renewgeo._errors import RenewgeoError, SchemaError
from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.compute import ComputeSettings, Engine, Tiling
from renewgeo.network import MAX_SNAP_M, SNAP_M, Attached, Network, attach, build_network
from renewgeo.project import LifeCircle, Project
from renewgeo.schemas import AMENITY_CATEGORIES
from renewgeo.settings import Section, parse_record, section, setting
from renewgeo.styles import Presentation, Style, View, add_field_labels, distance_style
from renewgeo.units import true_area_m2

__all__ = [
    "DAILY_CATEGORIES",
    "DEFAULT_DISTANCES_M",
    "AccessibilityResult",
    "AxisCatchmentResult",
    "LifeCirclesResult",
    "WalkSettings",
    "accessibility",
    "attach_layers",
    "axis_catchment",
    "compute",
    "default_life_circles",
    "green_access",
    "isochrones",
    "life_circle_standard",
    "life_circles",
    "network_from_project",
    "node_accessibility",
    "thresholds_m",
]

log = logging.getLogger(__name__)

DEFAULT_DISTANCES_M = (300.0, 500.0, 800.0, 1000.0)
SPEED_M_S = 1.0  # GB 50180-2018's convention: 5/10/15 minutes ~ 300/500/1,000 m
GREEN_M, PARK_M = 300.0, 500.0  # "300 m to green space, 500 m to a park"
AXIS_DISTANCES_M = (300.0, 500.0)
NETWORK_KINDS = ("paths", "pedestrian_axis", "landscape_corridor", "trails")
GREEN_TYPES = ("green", "park", "pocket_park")
PARK_TYPES = ("park", "pocket_park")
NEAREST_MAX_M = 5000.0  # default search radius of nearest-destination distances

# the groups of points in an attachment (see attach_layers), and the argument of attach_layers that makes each
ORIGINS, AMENITIES, GREEN, PARK, AXIS, ISOCHRONE_ORIGINS = "origins", "amenities", "green", "park", "axis", "isochrone_origins"
_MADE_BY = {ORIGINS: "origins", AMENITIES: "amenities", GREEN: "outdoor_spaces", PARK: "outdoor_spaces", AXIS: "axis",
            ISOCHRONE_ORIGINS: "isochrone_origins"}


DAILY_CATEGORIES = ("convenience_store", "supermarket", "market", "pharmacy", "clinic", "cafe", "restaurant", "bus_stop")


@section
@dataclass(frozen=True)
class WalkSettings(Section):
    """``[walk]``: walking speed, distances, snapping, life circles, green access, isochrones."""

    name: ClassVar[str] = "walk"
    title: ClassVar[str] = "walking access on the pedestrian network"

    speed_m_s: float = setting(SPEED_M_S, "walking speed (m/s) that turns minutes into metres", gt=0, le=3, legacy="walk_speed_m_s")
    distances_m: tuple[float, ...] = setting(DEFAULT_DISTANCES_M, "walking distances (m) at which amenities are counted", gt=0,
                                              le=100000, legacy="walk_distances_m", min_items=1, example="[300, 500, 800, 1000]")
    max_snap_m: float = setting(MAX_SNAP_M, "buildings and amenities farther than this (m) from every path are not attached (and listed)",
                                 gt=0, le=10000, legacy="max_snap_m")
    network_snap_m: float = setting(SNAP_M, "path ends closer than this (m) are joined when the network is built", ge=0, le=50,
                                     legacy="network_snap_m")
    nearest_max_m: float = setting(NEAREST_MAX_M, "search radius (m) of nearest distances: amenities, life circles, green space, "
                                                  "the axis", gt=0, le=1000000)
    daily_categories: tuple[str, ...] = setting(DAILY_CATEGORIES, "amenity categories that are daily services (daily_dist_m)",
                                                 legacy="daily_categories", example='["supermarket", "pharmacy", "bus_stop"]')
    green_m: float = setting(GREEN_M, "a home is near green space within this walk (m)", gt=0, le=100000, legacy="green_m")
    park_m: float = setting(PARK_M, "a home is near a park within this walk (m)", gt=0, le=100000, legacy="park_m")
    park_min_area_m2: float = setting(10000.0, "green spaces at least this large (m2) count as parks", ge=0)
    axis_distances_m: tuple[float, ...] = setting(AXIS_DISTANCES_M, "walking distances (m) of the pedestrian-axis catchment", gt=0,
                                                   le=100000, legacy="axis_distances_m", min_items=1, example="[300, 500]")
    isochrone_minutes: tuple[float, ...] = setting((5.0, 10.0, 15.0), "walking times (min) of the isochrones", gt=0, le=600,
                                                    legacy="isochrone_minutes", min_items=1, example="[5, 10, 15]")
    isochrone_origins: str = setting("axis_midpoint", 'where isochrones start: "axis_midpoint", "none", or the name of a layer '
                                      "(its points, or each feature's point on surface)", example='"metro_stations"')
    distance_surface_m: float = setting(10.0, "cell size (m) of the walking-distance raster", gt=0, le=10000,
                                         legacy="surface_resolution_m")

    def check(self, layers: Mapping[str, str], vocabulary: Mapping[str, Any]) -> list[str]:
        """``isochrone_origins`` must name a layer of the project (or a keyword)."""
        o = self.isochrone_origins
        if o in ("axis_midpoint", "none") or o in layers:
            return []
        return [f"isochrone_origins = {o!r} is not a layer of the project; use \"axis_midpoint\", \"none\" or one of {sorted(layers)}"]


def thresholds_m(
    *, distances_m: Sequence[float] | None = None, minutes: Sequence[float] | None = None, speed_m_s: float = SPEED_M_S
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

    ``snap_m`` defaults to ``[walk] network_snap_m``. The edges' ``source_layer`` is the
    project's layer name and ``source_id`` the line's ``id``.
    """
    layers = {n: project.layers[n] for n, k in project.kinds.items() if k in NETWORK_KINDS}
    if not layers:
        raise SchemaError(
            f"project {project.name!r} has no line layer to walk on; add a [layers.paths] layer (streets and footpaths)"
        )
    polys = None
    if project.has("outdoor_spaces"):
        o = project.layer("outdoor_spaces")
        if "walkable" in o.columns:
            polys = o
    snap = project.settings.get(WalkSettings).network_snap_m if snap_m is None else snap_m
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


# ------------------------------------------------------------------------ attaching once
def _green_and_parks(outdoor_spaces: gpd.GeoDataFrame, green_types: Sequence[str], park_types: Sequence[str],
                     park_min_area_m2: float) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Green spaces (``space_type`` in ``green_types``) and parks (in ``park_types``, or big green spaces)."""
    if "space_type" not in outdoor_spaces.columns:
        raise SchemaError("green_access: outdoor_spaces need a space_type column (green, park, plaza ...)")
    st = outdoor_spaces["space_type"].astype("object")
    green = outdoor_spaces[st.isin(list(green_types)).to_numpy()]
    is_park = st.isin(list(park_types)).to_numpy()
    if len(green):
        big = true_area_m2(green, layer="outdoor_spaces") >= park_min_area_m2
        is_park = is_park | outdoor_spaces.index.isin(green.index[big.to_numpy()])
    return green, outdoor_spaces[is_park]


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


def _green_groups(network: Network, green: gpd.GeoDataFrame, parks: gpd.GeoDataFrame, *, spacing_m: float,
                  touch_m: float) -> dict[str, gpd.GeoDataFrame]:
    """The entries of green spaces and of parks; a kind the project does not have gets no group."""
    return {label: _entries(polys, network, spacing_m=spacing_m, touch_m=touch_m)
            for label, polys in ((GREEN, green), (PARK, parks)) if len(polys)}


def _axis_points(axis: gpd.GeoDataFrame, sample_m: float) -> gpd.GeoDataFrame:
    """Points every ``sample_m`` (or closer) along the axis, both ends included."""
    pts: list[Any] = []
    for line in shapely.get_parts(axis.geometry.values):
        n = max(int(np.ceil(line.length / sample_m)), 1)
        pts.extend(shapely.line_interpolate_point(line, np.linspace(0, line.length, n + 1)))
    return gpd.GeoDataFrame(geometry=pts, crs=axis.crs)


def attach_layers(
    network: Network,
    origins: gpd.GeoDataFrame | None = None,
    *,
    amenities: gpd.GeoDataFrame | None = None,
    outdoor_spaces: gpd.GeoDataFrame | None = None,
    axis: gpd.GeoDataFrame | None = None,
    isochrone_origins: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    max_snap_m: float = MAX_SNAP_M,
    green_types: Sequence[str] = GREEN_TYPES,
    park_types: Sequence[str] = PARK_TYPES,
    park_min_area_m2: float = 10000.0,
    entry_spacing_m: float = 20.0,
    entry_touch_m: float = 30.0,
    axis_sample_m: float = 10.0,
    engine: Engine | None = None,
) -> Attached:
    """Insert every point the walkability measures search from or to into the network, once.

    One call of :func:`renewgeo.network.attach` with one group per layer given:
    ``"origins"`` (buildings or points measured from), ``"amenities"``, ``"green"`` and
    ``"park"`` (entries of green spaces and of parks, every ``entry_spacing_m`` along
    their outline within ``entry_touch_m`` of an edge; a kind the project lacks gets
    no group), ``"axis"`` (points every ``axis_sample_m`` along the axis) and
    ``"isochrone_origins"``. Pass the result as ``attached=`` to :func:`accessibility`,
    :func:`node_accessibility`, :func:`life_circles`, :func:`green_access`,
    :func:`axis_catchment` and :func:`isochrones`, with the same layers and options.
    Points of one group never change the distances between points of another (they
    hang off the network on their own connector).

    Parameters
    ----------
    network : Network
    origins, amenities, outdoor_spaces, axis, isochrone_origins : GeoDataFrame, optional
        The layers, in the network's CRS.
    max_snap_m : float
        Points farther than this from every edge are not attached.
    green_types, park_types, park_min_area_m2, entry_spacing_m, entry_touch_m
        As for :func:`green_access`.
    axis_sample_m : float
        As ``sample_m`` of :func:`axis_catchment`.
    engine : renewgeo.compute.Engine, optional
        Attach on a dask cluster's workers, in spatial tiles: the same attachment.

    Returns
    -------
    Attached

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.network import build_network
    >>> net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=32651))
    >>> o = gpd.GeoDataFrame(geometry=[shapely.Point(100, 10)], crs=32651)
    >>> a = gpd.GeoDataFrame({"category": ["cafe"]}, geometry=[shapely.Point(300, -5)], crs=32651)
    >>> att = attach_layers(net, o, amenities=a)
    >>> sorted(att.item_node)
    ['amenities', 'origins']
    >>> float(accessibility(net, o, a, attached=att).table.loc[0, "cafe_nearest_m"])
    215.0
    """
    groups: dict[str, gpd.GeoDataFrame | gpd.GeoSeries] = {}
    if origins is not None:
        groups[ORIGINS] = origins
    if amenities is not None:
        groups[AMENITIES] = amenities
    if outdoor_spaces is not None:
        green, parks = _green_and_parks(outdoor_spaces, green_types, park_types, park_min_area_m2)
        groups.update(_green_groups(network, green, parks, spacing_m=entry_spacing_m, touch_m=entry_touch_m))
    if axis is not None:
        groups[AXIS] = _axis_points(axis, axis_sample_m)
    if isochrone_origins is not None:
        groups[ISOCHRONE_ORIGINS] = isochrone_origins
    return attach(network, groups, max_snap_m=max_snap_m, engine=engine)


def _nodes_of(att: Attached, network: Network, group: str, items: Sized | None, func: str) -> np.ndarray:
    """The node of each point of ``group`` (-1: not attached), checking the attachment was made on ``network``."""
    if att.network_token != network.token:
        raise RenewgeoError(f"{func}: the attachment was made on another network than the one given ({len(network.nodes):,} nodes); "
                            "make it with attach_layers on this network, or pass the network it was made on")
    if group not in att.item_node:
        raise RenewgeoError(f"{func}: the attachment has no {group!r} points (it has {sorted(att.item_node)}); "
                            f"make it with attach_layers(network, ..., {_MADE_BY.get(group, group)}=...)")
    nodes = att.item_node[group]
    if items is not None and len(items) != len(nodes):
        raise RenewgeoError(f"{func}: {len(items):,} {group} given but the attachment holds {len(nodes):,}; "
                            "make the attachment from the same layers")
    return nodes


# ------------------------------------------------------------------------ per-node searches
# Each search runs once per kind of destination on the attachment and gives arrays with
# one value per node (last axis). Destinations split over partitions merge elementwise:
# nearest distances by minimum, counts and decay sums by sum. Per-origin values are
# lookups of those arrays at the origins' nodes, so origins split over partitions
# simply concatenate.
@dataclass(frozen=True, eq=False)
class _NodeMeasures:
    """Amenity measures at every node of an attachment.

    ``nearest`` is ``(groups, nodes)`` float64 (+inf beyond the search radius; merge
    partitions of the destinations by minimum); ``count``, ``gravity`` and ``linear``
    are ``(groups, thresholds, nodes)`` (merge by sum).
    """

    nearest: np.ndarray
    count: np.ndarray
    gravity: np.ndarray
    linear: np.ndarray
    block: np.ndarray | None = None  # (groups x 2 thresholds, nodes) float64: gravity and linear rows, when made for frames


def _node_nearest(att: Attached, dest_node: np.ndarray, dest_group: np.ndarray, n_groups: int, radius_m: float,
                  engine: Engine | None = None) -> np.ndarray:
    """Distance from every node to the nearest destination of each group, ``(n_groups, nodes)``.

    One multi-source search per group; +inf where none lies within ``radius_m``.
    Destinations with node or group -1 are left out. Results for parts of the
    destinations merge by elementwise minimum. With an ``engine``, the groups are shared
    out among its workers (each searches the whole network: the same numbers).
    """
    use = (dest_node >= 0) & (dest_group >= 0)
    if engine is not None:
        return _compute.nearest(engine, att.graph_tiling, dest_node[use], dest_group[use], n_groups, float(radius_m))
    return K.multi_source_nearest(att.indptr, att.indices, att.weights, dest_node[use], dest_group[use], n_groups, float(radius_m))


def _node_measures(att: Attached, dest_node: np.ndarray, dest_group: np.ndarray, n_groups: int, thresholds: np.ndarray,
                   radius_m: float, engine: Engine | None = None, need: np.ndarray | None = None) -> _NodeMeasures:
    """Nearest distance, counts and decay-weighted sums of each group's destinations at every node.

    Counts, gravity (``exp(-beta d)``, beta = 4 / t) and linear (``1 - d / t``) sums per
    group and threshold: one bounded search per destination. Results for parts of the
    destinations merge: nearest by minimum, the others by sum. With an ``engine``, the
    nodes of ``need`` (bool per node; the others get 0) are cut into spatial tiles, and
    each tile's sums come from the destinations within a halo of the largest threshold,
    searched on the network within that halo (:func:`renewgeo.compute.accumulate`).
    """
    use = (dest_node >= 0) & (dest_group >= 0)
    src, grp = dest_node[use], dest_group[use]
    if engine is not None:
        count, gravity, linear = _compute.accumulate(engine, att.graph_tiling, src, grp, n_groups, thresholds, 4.0 / thresholds,
                                                     need=need)
        nearest = _node_nearest(att, src, grp, n_groups, radius_m, engine)
        return _NodeMeasures(nearest=nearest, count=count, gravity=gravity, linear=linear)
    # in this process the sums are added straight into the columns of the frames made of them (see _frame): per group and
    # threshold a gravity row and a linear row of one float64 block (the same float32 sums), counts as int64
    n, nt = len(att.indptr) - 1, len(thresholds)
    block = np.zeros((n_groups, 2 * nt, n))
    count = np.zeros((n_groups, nt, n), dtype=np.int64)
    gravity, linear = block[:, 0::2], block[:, 1::2]
    K.accumulate(att.indptr, att.indices, att.weights, src, grp, n_groups, thresholds, 4.0 / thresholds, out=(count, gravity, linear))
    nearest = _node_nearest(att, src, grp, n_groups, radius_m, engine)
    return _NodeMeasures(nearest=nearest, count=count, gravity=gravity, linear=linear, block=block.reshape(n_groups * 2 * nt, n))


def _nearest_at(per_node: np.ndarray, item_node: np.ndarray) -> np.ndarray:
    """Per-item distances ``(groups, items)``: a lookup at each item's node; NaN where not attached or none in reach.

    Items split over partitions give their parts of the result, which concatenate.
    """
    ok = item_node >= 0
    d = per_node[:, np.where(ok, item_node, 0)]
    return np.where(ok & np.isfinite(d), d, np.nan)


def _frame(index: pd.Index, node: np.ndarray, cats: list[str], names: list[str], m: _NodeMeasures) -> pd.DataFrame:
    """The measures of each item (a lookup at its node; NA where not attached), one column per category and threshold."""
    if m.block is not None and len(node) and node[0] == 0 and np.array_equal(node, np.arange(len(node))):
        return _node_frame(index, cats, names, m, m.block)
    ok = node >= 0
    safe = np.where(ok, node, 0)
    nearest = _nearest_at(m.nearest, node)
    cols: dict[str, Any] = {}
    for gi, c in enumerate(cats):
        cols[f"{c}_nearest_m"] = nearest[gi]
        for ti, t in enumerate(names):
            cnt = pd.array(np.where(ok, m.count[gi, ti][safe], 0), dtype="Int64")
            cnt[~ok] = pd.NA
            cols[f"{c}_count_{t}"] = cnt
            cols[f"{c}_gravity_{t}"] = np.where(ok, m.gravity[gi, ti][safe].astype(np.float64), np.nan)
            cols[f"{c}_linear_{t}"] = np.where(ok, m.linear[gi, ti][safe].astype(np.float64), np.nan)
    return pd.DataFrame(cols, index=index)


def _node_frame(index: pd.Index, cats: list[str], names: list[str], m: _NodeMeasures, block: np.ndarray) -> pd.DataFrame:
    """:func:`_frame` of the first ``len(index)`` nodes, on the measures' own arrays.

    The gravity and linear columns are the rows of ``block`` (one float block, no copy),
    the counts Int64 arrays on ``m.count``; only the nearest distances are new arrays
    (+inf made NaN).
    """
    n = len(index)
    floats = [f"{c}_{k}_{t}" for c in cats for t in names for k in ("gravity", "linear")]
    out = pd.DataFrame(block[:, :n].T, index=index, columns=floats, copy=False)
    per = 1 + 3 * len(names)  # a category's columns: nearest, then count, gravity and linear per threshold
    for gi, c in enumerate(cats):
        near = m.nearest[gi, :n]
        out.insert(gi * per, f"{c}_nearest_m", np.where(np.isfinite(near), near, np.nan))
        for ti, t in enumerate(names):
            counts = pd.Series(pd.arrays.IntegerArray(m.count[gi, ti, :n], np.zeros(n, dtype=bool)), index=index, copy=False)
            out.insert(gi * per + 1 + 3 * ti, f"{c}_count_{t}", counts)
    return out


def _notes(attached: np.ndarray, nearest: np.ndarray, cats: Sequence[str], nearest_max_m: float, max_snap_m: float) -> np.ndarray:
    """Why a row has no value: not attached, or no destination of some categories within reach.

    ``nearest`` is ``(categories, items)`` with NaN where none was found.
    """
    notes = np.full(len(attached), "", dtype=object)
    notes[~attached] = f"not attached: farther than {max_snap_m:g} m from the network"
    none = (attached[None, :] & np.isnan(nearest)).T
    rows = np.flatnonzero(none.any(axis=1))
    if len(rows):
        patterns, which = np.unique(none[rows], axis=0, return_inverse=True)
        text = np.array([f"none within {nearest_max_m:g} m: " + ", ".join(c for c, miss in zip(cats, p, strict=True) if miss)
                         for p in patterns], dtype=object)
        notes[rows] = text[which.ravel()]
    return notes


def _snap_levels(att: Attached, network: Network, group: str, n: int) -> pd.arrays.IntegerArray:
    """The level of the edge each point of ``group`` hangs on (0: the ground); NA where not attached."""
    edge = att.item_edge.get(group, np.full(n, -1, dtype=np.int64))
    ok = edge >= 0
    level = network.edges["level"].to_numpy(dtype=np.int64)
    out = pd.array(np.where(ok, level[np.where(ok, edge, 0)], 0), dtype="Int64")
    out[~ok] = pd.NA
    return out


def _off_ground_notes(notes: np.ndarray, levels: pd.arrays.IntegerArray, max_snap_m: float) -> np.ndarray:
    """``notes`` with, first, where a point was attached off the ground because no ground-level path was in reach."""
    off = np.asarray(levels.fillna(0), dtype=np.int64) != 0
    out = notes.copy()
    for i in np.flatnonzero(off):
        said = f"attached at level {int(levels[i])}: no ground-level path within {max_snap_m:g} m"
        out[i] = f"{said}; {notes[i]}" if notes[i] else said
    return out


# ------------------------------------------------------------------------ accessibility
@dataclass(frozen=True, eq=False)
class AccessibilityResult:
    """What :func:`accessibility` measured.

    Attributes
    ----------
    table : DataFrame
        Indexed like the origins: per category ``c`` and threshold ``t``
        ``{c}_nearest_m``, ``{c}_count_{t}``, ``{c}_gravity_{t}``, ``{c}_linear_{t}``;
        ``snap_m``, ``snap_level`` and ``note``.
    nodes : DataFrame or None
        The same measures at every network node (indexed by node id), with ``nodes=True``.
    categories : list of str
        The categories measured, in column order.
    thresholds_m, suffixes : list
        The thresholds in metres and their column suffixes (``300m``, ``5min``).
    search_radius_m : float
        How far the nearest-amenity search reached; ``{c}_nearest_m`` is NaN beyond.
    max_snap_m : float
        Origins and amenities farther than this from the network were not attached.
    unattached_amenities, uncategorised_amenities : list of str
        Ids of the amenities left out.
    off_ground_amenities : list of str
        Ids of the amenities attached to a bridge, tunnel or other level because no
        ground-level path lies within ``max_snap_m``.
    """

    table: pd.DataFrame
    nodes: pd.DataFrame | None
    categories: list[str]
    thresholds_m: list[float]
    suffixes: list[str]
    search_radius_m: float
    max_snap_m: float
    unattached_amenities: list[str]
    uncategorised_amenities: list[str]
    off_ground_amenities: list[str] = dataclasses.field(default_factory=list)


def _amenity_search(att: Attached, network: Network, amenities: gpd.GeoDataFrame, categories: Sequence[str] | None,
                    th: np.ndarray, radius_m: float, category_column: str, func: str,
                    engine: Engine | None = None) -> tuple[list[str], _NodeMeasures, list[str], list[str]]:
    """Categories, their measures at every node, and the ids of unattached and uncategorised amenities."""
    cats, codes, uncategorised = _category_codes(amenities, categories, category_column)
    a_node = _nodes_of(att, network, AMENITIES, amenities, func)
    unattached = list(_ids(amenities)[a_node < 0])
    if unattached:
        log.warning("%d amenit(y/ies) farther than %g m from the network were not attached: %s", len(unattached), att.max_snap_m,
                    ", ".join(unattached[:20]))
    if uncategorised:
        log.warning("%d amenit(y/ies) have no category and were left out: %s", len(uncategorised), ", ".join(uncategorised[:20]))
    need = None
    if engine is not None:  # what the measures read: the network's nodes and the origins
        need = np.zeros(len(att.indptr) - 1, dtype=bool)
        need[:att.n_base] = True
        origins = att.item_node.get(ORIGINS, np.zeros(0, np.int64))
        need[origins[origins >= 0]] = True
    return cats, _node_measures(att, a_node, codes, len(cats), th, radius_m, engine, need), unattached, uncategorised


def accessibility(
    network: Network,
    origins: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    distances_m: Sequence[float] | None = None,
    minutes: Sequence[float] | None = None,
    speed_m_s: float = SPEED_M_S,
    max_snap_m: float = MAX_SNAP_M,
    nearest_max_m: float = NEAREST_MAX_M,
    category_column: str = "category",
    nodes: bool = False,
    attached: Attached | None = None,
    engine: Engine | None = None,
) -> AccessibilityResult:
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
        Items farther than this from every edge are not attached and are reported
        (with ``attached``, the attachment's own limit applies).
    nearest_max_m : float
        Search radius for the nearest-amenity distance.
    category_column : str
        Column of ``amenities`` holding the category.
    nodes : bool
        Also give the same measures for every network node (``.nodes``).
    attached : Attached, optional
        From :func:`attach_layers` with these ``origins`` and ``amenities``; attached
        here when not given.
    engine : renewgeo.compute.Engine, optional
        Search on a dask cluster's workers (see :mod:`renewgeo.compute`): the same result.

    Returns
    -------
    AccessibilityResult
        ``.table`` is indexed like ``origins`` with, per category ``c`` and threshold
        ``t``: ``{c}_nearest_m`` (NaN when none within ``nearest_max_m``),
        ``{c}_count_{t}``, ``{c}_gravity_{t}`` (sum of exp(-beta d), beta = 4 / t, as
        cityseer) and ``{c}_linear_{t}`` (sum of 1 - d / t); ``snap_m`` (origin to
        network) and ``note`` (why a row has no values). The result also lists the
        categories, thresholds, and the ids of unattached and uncategorised amenities.
        ``snap_level`` is the level of the path the origin was attached to: 0 (the
        ground) unless no ground-level path lies within ``max_snap_m``, when it hangs
        on the nearest bridge, tunnel or other level (and ``note`` says so).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.network import build_network
    >>> net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=32651))
    >>> o = gpd.GeoDataFrame(geometry=[shapely.Point(100, 10)], crs=32651)
    >>> a = gpd.GeoDataFrame({"category": ["cafe", "cafe"]}, geometry=[shapely.Point(300, -5), shapely.Point(700, 0)], crs=32651)
    >>> r = accessibility(net, o, a, distances_m=[300, 1000]).table
    >>> float(r.loc[0, "cafe_nearest_m"]), int(r.loc[0, "cafe_count_300m"]), int(r.loc[0, "cafe_count_1000m"])
    (215.0, 1, 2)
    """
    th, names = thresholds_m(distances_m=distances_m, minutes=minutes, speed_m_s=speed_m_s)
    radius = float(max(nearest_max_m, th.max()))
    att = attached if attached is not None else attach_layers(network, origins, amenities=amenities, max_snap_m=max_snap_m)
    o_node = _nodes_of(att, network, ORIGINS, origins, "accessibility")
    cats, m, unattached, uncategorised = _amenity_search(att, network, amenities, categories, th, radius, category_column,
                                                         "accessibility", engine)
    out = _frame(origins.index, o_node, cats, names, m)
    out["snap_m"] = att.connector_m[ORIGINS]
    out["snap_level"] = _snap_levels(att, network, ORIGINS, len(origins))
    notes = _notes(o_node >= 0, _nearest_at(m.nearest, o_node), cats, nearest_max_m, att.max_snap_m)
    out["note"] = _off_ground_notes(notes, out["snap_level"].array, att.max_snap_m)
    a_level = _snap_levels(att, network, AMENITIES, len(amenities)).fillna(0).to_numpy(dtype=np.int64)
    off_ground = list(_ids(amenities)[a_level != 0])
    if off_ground:
        log.info("%d amenit(y/ies) attached off the ground (no ground-level path within %g m): %s", len(off_ground),
                 att.max_snap_m, ", ".join(off_ground[:20]))
    node_table = _frame(pd.RangeIndex(att.n_base), np.arange(att.n_base), cats, names, m) if nodes else None
    return AccessibilityResult(table=out, nodes=node_table, categories=cats, thresholds_m=[float(t) for t in th], suffixes=names,
                               search_radius_m=radius, max_snap_m=att.max_snap_m, unattached_amenities=unattached,
                               uncategorised_amenities=uncategorised, off_ground_amenities=off_ground)


def node_accessibility(
    network: Network,
    amenities: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    distances_m: Sequence[float] | None = None,
    minutes: Sequence[float] | None = None,
    speed_m_s: float = SPEED_M_S,
    max_snap_m: float = MAX_SNAP_M,
    nearest_max_m: float = NEAREST_MAX_M,
    category_column: str = "category",
    attached: Attached | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The measures of :func:`accessibility` at every node of the network (indexed by node id).

    ``attached`` (from :func:`attach_layers` with these ``amenities``) is made here
    when not given; ``engine`` searches on a dask cluster (:mod:`renewgeo.compute`). Unattached and uncategorised amenities are logged; for their ids
    use ``accessibility(..., nodes=True)``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.network import build_network
    >>> net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=32651))
    >>> a = gpd.GeoDataFrame({"category": ["cafe"]}, geometry=[shapely.Point(300, -5)], crs=32651)
    >>> node_accessibility(net, a, distances_m=[500])["cafe_nearest_m"].tolist()
    [305.0, 705.0]
    """
    th, names = thresholds_m(distances_m=distances_m, minutes=minutes, speed_m_s=speed_m_s)
    att = attached if attached is not None else attach_layers(network, amenities=amenities, max_snap_m=max_snap_m)
    cats, m, _, _ = _amenity_search(att, network, amenities, categories, th, float(max(nearest_max_m, th.max())), category_column,
                                    "node_accessibility", engine)
    return _frame(pd.RangeIndex(att.n_base), np.arange(att.n_base), cats, names, m)


# ------------------------------------------------------------------------ life circles
STANDARD_FILE = "life_circles_gb50180.toml"  # GB 50180-2018 and TD/T 1062-2021 facility tables (renewgeo/data)
GB_50180 = "GB 50180-2018"
TDT_1062 = "TD/T 1062-2021"


@functools.cache
def _standard_doc() -> dict[str, Any]:
    with resources.files("renewgeo.data").joinpath(STANDARD_FILE).open("rb") as f:
        return tomllib.load(f)


def life_circle_standard() -> dict[str, Any]:
    """The life-circle standard as data: ``renewgeo/data/life_circles_gb50180.toml``, read.

    Returns
    -------
    dict
        ``levels`` (the 15/10/5-minute circles and the residential block: minutes,
        distance_m, residents), ``quotas`` (per-1,000-resident controls) and
        ``facilities`` (one row per facility and level: ``name_zh``, ``name_en``,
        ``provision`` required/optional, ``radius_m``, renewgeo ``categories``,
        ``osm_tags``, ``clause``, ``verified``; ``standard`` is TD/T 1062-2021 for
        the guide's additions, GB 50180-2018 otherwise). A copy: changing it changes
        nothing else.

    Examples
    --------
    >>> std = life_circle_standard()
    >>> k = next(f for f in std["facilities"] if f["id"] == "kindergarten")
    >>> k["name_zh"], k["level"], k["categories"]
    ('幼儿园', '5min', ['kindergarten'])
    """
    return copy.deepcopy(_standard_doc())


def _short(name: str) -> str:
    """A facility name without its parenthesised detail: 小型多功能运动（球类）场地 -> 小型多功能运动场地."""
    return re.sub(r"\s*\([^)]*\)", "", re.sub(r"（[^）]*）", "", name)).strip()


def _requirement(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The label of one requirement: the facilities (one, or several with the same categories) it stands for."""
    def uniq(key: str, f: Any = str) -> list[str]:
        return list(dict.fromkeys(f(r.get(key, GB_50180 if key == "standard" else "")) for r in rows))
    zh, en = "、".join(uniq("name_zh", _short)), " / ".join(uniq("name_en", _short))
    return {"facility": "+".join(uniq("id")), "name_zh": "、".join(uniq("name_zh")), "name_en": " / ".join(uniq("name_en")),
            "label": f"{zh} {en}", "clause": "; ".join(uniq("clause")), "standard": "; ".join(uniq("standard")),
            "verified": all(bool(r.get("verified", False)) for r in rows)}


def default_life_circles(*, standards: Sequence[str] = (GB_50180,), categories: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The default life circles, derived from the facility tables of GB 50180-2018.

    Per level with a walking distance (5min 300 m, 10min 500 m, 15min 1,000 m: the upper
    end of the level's ``distance_m``), one requirement per facility the standard marks
    ``required`` (应配建) whose categories renewgeo knows; facilities of one level with the
    same categories are one requirement. The residential block (no walking distance)
    and facilities without a renewgeo category (banks, utilities, offices ...) are left
    out. A primary or middle school is met by an amenity of category ``school`` too
    (OSM's ``amenity=school`` does not say which).

    Parameters
    ----------
    standards : sequence of str
        Whose rows count: ``"GB 50180-2018"`` (default) and/or ``"TD/T 1062-2021"`` (the
        guide's additions: infant care, pocket parks, pharmacies, parcel stations ...).
    categories : sequence of str, optional
        The amenity categories known (default ``renewgeo.schemas.AMENITY_CATEGORIES``);
        categories of a facility outside them are dropped.

    Returns
    -------
    list of dict
        ``name``, ``minutes``, ``distance_m``, ``required`` (lists of alternative
        categories) and ``facilities`` (per requirement: ``facility`` ids, ``name_zh``,
        ``name_en``, ``label`` (short 中文 English), ``clause``, ``standard``,
        ``verified``), nearest circle first: what :func:`life_circles` takes.

    Examples
    --------
    >>> c = default_life_circles()
    >>> [(x["name"], x["distance_m"]) for x in c]
    [('5min', 300.0), ('10min', 500.0), ('15min', 1000.0)]
    >>> k = c[0]["required"].index(["kindergarten"])
    >>> c[0]["facilities"][k]["label"]
    '幼儿园 Kindergarten'
    """
    unknown = sorted(set(standards) - {GB_50180, TDT_1062})
    if unknown or not standards:
        raise RenewgeoError(f"default_life_circles: standards must be among {[GB_50180, TDT_1062]}, got {list(standards)}")
    doc = _standard_doc()
    known = set(AMENITY_CATEGORIES if categories is None else categories)
    out = []
    for level in doc["levels"]:
        if "distance_m" not in level:  # the residential block
            continue
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for f in doc["facilities"]:
            if f["level"] != level["id"] or f["provision"] != "required" or f.get("standard", GB_50180) not in standards:
                continue
            cats = [c for c in f["categories"] if c in known]
            if cats:
                groups.setdefault(frozenset(cats), []).append(f)
        if groups:
            out.append({"name": level["id"], "minutes": level["minutes"], "distance_m": float(max(level["distance_m"])),
                        "required": [[c for c in rows[0]["categories"] if c in known] for rows in groups.values()],
                        "facilities": [_requirement(rows) for rows in groups.values()]})
    return sorted(out, key=lambda c: c["distance_m"])


def _labels(c: Mapping[str, Any], required: list[list[str]], name: str) -> list[dict[str, Any]]:
    """Each requirement's label: the circle's ``facilities`` where given, else its categories (``a|b``)."""
    given = c.get("facilities")
    if given is None:
        return [{"facility": "", "name_zh": "", "name_en": "", "label": "|".join(r), "clause": "", "standard": "", "verified": False}
                for r in required]
    if not isinstance(given, Sequence) or len(given) != len(required) or not all(isinstance(g, Mapping) for g in given):
        raise SchemaError(f"life circle {name!r}: facilities must be one table per requirement ({len(required)}), "
                          "like default_life_circles() gives; leave it out to name requirements by their categories")
    return [{"facility": str(g.get("facility", "")), "name_zh": str(g.get("name_zh", "")), "name_en": str(g.get("name_en", "")),
             "label": str(g.get("label") or "|".join(r)), "clause": str(g.get("clause", "")), "standard": str(g.get("standard", "")),
             "verified": bool(g.get("verified", False))} for g, r in zip(given, required, strict=True)]


def _check_circles(circles: Sequence[Mapping[str, Any]], *, speed_m_s: float = SPEED_M_S) -> list[dict[str, Any]]:
    """Circles with their distance in metres: ``distance_m``, or ``minutes`` at ``speed_m_s``.

    Each circle is checked as the project loader checks ``[[life_circles]]`` (one record,
    :class:`renewgeo.project.LifeCircle`); a missing key and None both mean "not given".
    An optional ``facilities`` list (as :func:`default_life_circles` gives) names each
    requirement; without it a requirement is named by its categories.
    """
    if speed_m_s <= 0:
        raise RenewgeoError(f"speed_m_s must be > 0 m/s, got {speed_m_s}")
    if not circles:
        raise SchemaError("life_circles: no circle given; give at least one, e.g. {\"name\": \"5min\", \"minutes\": 5, "
                          "\"required\": [[\"clinic\"]]}")
    out = []
    for i, c in enumerate(circles):
        name = str(c.get("name", f"#{i + 1}")) if isinstance(c, Mapping) else f"#{i + 1}"
        table = {k: v for k, v in c.items() if v is not None and k != "facilities"} if isinstance(c, Mapping) else c
        rec, probs = parse_record(LifeCircle, table, where=f"life circle {name!r}:", file=None, codes=("bad_life_circle",) * 3,
                                  noun="key", layer="life_circles")
        if rec is None:
            raise SchemaError("; ".join(f"{p.message} (fix: {p.fix})" for p in probs))
        d = rec.distance_m if rec.distance_m is not None else float(rec.minutes or 0) * 60.0 * speed_m_s
        required = [[r] if isinstance(r, str) else list(r) for r in rec.required]
        out.append({"name": rec.name, "distance_m": d, "required": required, "labels": _labels(c, required, rec.name)})
    return out


@dataclass(frozen=True, eq=False)
class LifeCirclesResult:
    """What :func:`life_circles` found.

    Attributes
    ----------
    buildings : GeoDataFrame
        The buildings with, per circle ``c``: ``lc_{c}_pass`` (bool) and
        ``lc_{c}_missing`` (the facilities not within reach, ``幼儿园 Kindergarten;
        公共厕所 Public toilet``, or the categories ``a|b; c`` of a requirement given
        without names); ``lc_note``.
    summary : DataFrame
        Per circle (index ``circle``): ``distance_m``, ``buildings``,
        ``buildings_pass``, ``buildings_pass_pct``, where the buildings have
        ``gfa_m2`` / ``households``, ``gfa_pass_pct`` / ``households_pass_pct``, and
        the requirement most often unmet: ``most_missing`` (its name),
        ``most_missing_buildings``, ``most_missing_clause``.
    requirements : DataFrame
        One row per circle and requirement: ``circle``, ``distance_m``, ``facility``,
        ``name_zh``, ``name_en``, ``categories``, ``clause``, ``standard``,
        ``verified``, ``buildings_met``, ``buildings_met_pct``.
    """

    buildings: gpd.GeoDataFrame
    summary: pd.DataFrame
    requirements: pd.DataFrame


def _circle_distances(network: Network, buildings: gpd.GeoDataFrame, amenities: gpd.GeoDataFrame, cats: list[str],
                      radius_m: float, *, category_column: str, max_snap_m: float, attached: Attached | None,
                      access: AccessibilityResult | None, engine: Engine | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Distance ``(categories, buildings)`` to each category (NaN beyond ``radius_m``), attached or not, and the snap limit.

    Categories that ``access`` measured at least as far are looked up there; the rest
    (unless no amenity has them) are searched on the attachment.
    """
    _, codes, _ = _category_codes(amenities, cats, category_column)
    near = np.full((len(cats), len(buildings)), np.nan)
    todo = list(range(len(cats)))
    if access is not None:
        if len(access.table) != len(buildings):
            raise RenewgeoError(f"life_circles: access measures {len(access.table):,} origins but {len(buildings):,} buildings "
                                "were given; pass the accessibility result of these buildings")
        covered = set(access.categories) if access.search_radius_m >= radius_m else set()
        for i, c in enumerate(cats):
            if c in covered:
                d = access.table[f"{c}_nearest_m"].to_numpy(dtype="float64")
                near[i] = np.where(d <= radius_m, d, np.nan)
        present = set(codes[codes >= 0].tolist())
        todo = [i for i in todo if cats[i] not in covered and i in present]
        if not todo:
            return near, access.table["snap_m"].notna().to_numpy(), access.max_snap_m
    att = attached if attached is not None else attach_layers(network, buildings, amenities=amenities, max_snap_m=max_snap_m)
    o_node = _nodes_of(att, network, ORIGINS, buildings, "life_circles")
    a_node = _nodes_of(att, network, AMENITIES, amenities, "life_circles")
    remap = np.full(len(cats) + 1, -1, dtype=np.int64)  # code -1 (other categories) stays -1
    remap[todo] = np.arange(len(todo))
    near[todo] = _nearest_at(_node_nearest(att, a_node, remap[codes], len(todo), radius_m, engine), o_node)
    return near, o_node >= 0, att.max_snap_m


def _circle_summary(circle: Mapping[str, Any], allok: np.ndarray, met: list[np.ndarray], attached_ok: np.ndarray,
                    gfa: pd.Series | None, hh: pd.Series | None) -> dict[str, Any]:
    n = len(allok)
    row = {"circle": circle["name"], "distance_m": circle["distance_m"], "buildings": n, "buildings_pass": int(allok.sum()),
           "buildings_pass_pct": 100 * allok.mean() if n else np.nan}
    if gfa is not None:
        tot = gfa.sum()
        row["gfa_pass_pct"] = 100 * gfa[allok].sum() / tot if tot > 0 else np.nan
    if hh is not None:
        tot = hh.sum()
        row["households_pass_pct"] = 100 * hh[allok].sum() / tot if tot > 0 else np.nan
    unmet = [int((~m & attached_ok).sum()) for m in met]
    worst = int(np.argmax(unmet)) if unmet and max(unmet) > 0 else -1  # the first of the most often unmet
    label = circle["labels"][worst] if worst >= 0 else {"label": "", "clause": ""}
    row.update(most_missing=label["label"], most_missing_buildings=unmet[worst] if worst >= 0 else 0, most_missing_clause=label["clause"])
    return row


def _requirement_rows(circle: Mapping[str, Any], met: list[np.ndarray], attached_ok: np.ndarray) -> list[dict[str, Any]]:
    n = int(attached_ok.size)
    return [{"circle": circle["name"], "distance_m": circle["distance_m"], "facility": lab["facility"], "name_zh": lab["name_zh"],
             "name_en": lab["name_en"], "categories": "|".join(req), "clause": lab["clause"], "standard": lab["standard"],
             "verified": lab["verified"], "buildings_met": int((m & attached_ok).sum()),
             "buildings_met_pct": 100 * float((m & attached_ok).sum()) / n if n else np.nan}
            for req, lab, m in zip(circle["required"], circle["labels"], met, strict=True)]


def _missing_text(circle: Mapping[str, Any], met: list[np.ndarray], attached_ok: np.ndarray) -> list[str]:
    """Per building, the names of the requirements it does not meet (``; ``-separated)."""
    labels = [lab["label"] for lab in circle["labels"]]
    return ["; ".join(lab for lab, m in zip(labels, met, strict=True) if not m[i]) if attached_ok[i] else "not attached to the network"
            for i in range(attached_ok.size)]


def life_circles(
    network: Network,
    buildings: gpd.GeoDataFrame,
    amenities: gpd.GeoDataFrame,
    *,
    circles: Sequence[Mapping[str, Any]] | None = None,
    speed_m_s: float = SPEED_M_S,
    max_snap_m: float = MAX_SNAP_M,
    nearest_max_m: float = NEAREST_MAX_M,
    category_column: str = "category",
    attached: Attached | None = None,
    access: AccessibilityResult | None = None,
    engine: Engine | None = None,
) -> LifeCirclesResult:
    """Which life-circle requirements each building meets on foot.

    Parameters
    ----------
    network, buildings, amenities
        As for :func:`accessibility`.
    circles : sequence of mapping, optional
        ``[{"name": "5min", "distance_m": 300, "required": [["kindergarten", "childcare"], ...]}]``;
        a circle given only in ``minutes`` (``distance_m`` missing or None) reaches
        ``minutes * 60 * speed_m_s`` metres; an optional ``facilities`` list names each
        requirement (else its categories name it). Default :func:`default_life_circles`
        (derived from the GB 50180-2018 facility tables).
    speed_m_s : float
        Walking speed (m/s) for circles given in minutes.
    max_snap_m : float
        As for :func:`accessibility`.
    nearest_max_m : float
        Search radius (m) of the distances to each category (at least the largest
        circle); ``lc_note`` names the categories none of which lies within it.
    category_column : str
        Category column of ``amenities``.
    attached : Attached, optional
        From :func:`attach_layers` with these buildings (as ``origins``) and amenities.
    access : AccessibilityResult, optional
        :func:`accessibility` of these buildings and amenities: its nearest distances
        are reused instead of searching again (categories it did not measure, or not
        far enough, are searched).
    engine : renewgeo.compute.Engine, optional
        Search on a dask cluster's workers (:mod:`renewgeo.compute`): the same result.

    Returns
    -------
    LifeCirclesResult
        ``.buildings``: the buildings with, per circle ``c``, ``lc_{c}_pass`` and
        ``lc_{c}_missing``, and ``lc_note``; ``.summary``: per circle, the share of
        buildings, of GFA and of households that pass and the facility most often
        missing; ``.requirements``: per requirement, its facility, clause and the
        buildings that meet it.
    """
    spec = _check_circles(circles if circles is not None else default_life_circles(), speed_m_s=speed_m_s)
    cats = sorted({c for circle in spec for req in circle["required"] for c in req})
    radius = max(float(nearest_max_m), max(c["distance_m"] for c in spec))
    near, attached_ok, snap = _circle_distances(network, buildings, amenities, cats, radius, category_column=category_column,
                                                max_snap_m=max_snap_m, attached=attached, access=access, engine=engine)
    row_of = {c: i for i, c in enumerate(cats)}
    out = buildings.copy()
    gfa = pd.to_numeric(out["gfa_m2"], errors="coerce").astype("float64") if "gfa_m2" in out else None
    hh = pd.to_numeric(out["households"], errors="coerce").astype("float64") if "households" in out else None
    summary, reqs = [], []
    for circle in spec:
        d = circle["distance_m"]
        met = [np.any(near[[row_of[c] for c in req]] <= d + 1e-9, axis=0) for req in circle["required"]]
        allok = np.logical_and.reduce(met) & attached_ok if met else attached_ok
        out[f"lc_{circle['name']}_pass"] = allok
        out[f"lc_{circle['name']}_missing"] = _missing_text(circle, met, attached_ok)
        summary.append(_circle_summary(circle, allok, met, attached_ok, gfa, hh))
        reqs.extend(_requirement_rows(circle, met, attached_ok))
    out["lc_note"] = _notes(attached_ok, near, cats, nearest_max_m, snap)
    return LifeCirclesResult(buildings=out, summary=pd.DataFrame(summary).set_index("circle"),
                             requirements=pd.DataFrame(reqs, columns=_REQUIREMENT_COLUMNS))


_REQUIREMENT_COLUMNS = ("circle", "distance_m", "facility", "name_zh", "name_en", "categories", "clause", "standard", "verified",
                        "buildings_met", "buildings_met_pct")


# ------------------------------------------------------------------------ green access
def green_access(
    network: Network,
    buildings: gpd.GeoDataFrame,
    outdoor_spaces: gpd.GeoDataFrame,
    *,
    green_m: float = GREEN_M,
    park_m: float = PARK_M,
    green_types: Sequence[str] = GREEN_TYPES,
    park_types: Sequence[str] = PARK_TYPES,
    park_min_area_m2: float = 10000.0,
    entry_spacing_m: float = 20.0,
    entry_touch_m: float = 30.0,
    max_snap_m: float = MAX_SNAP_M,
    nearest_max_m: float = NEAREST_MAX_M,
    attached: Attached | None = None,
    engine: Engine | None = None,
) -> gpd.GeoDataFrame:
    """Network distance from each building to green space and to a park.

    Green spaces are outdoor spaces whose ``space_type`` is in ``green_types``; parks
    are those in ``park_types`` or green spaces of at least ``park_min_area_m2``.
    Their entries are points every ``entry_spacing_m`` along the outline within
    ``entry_touch_m`` of a network edge. Distances are searched up to
    ``nearest_max_m`` (or ``green_m`` / ``park_m`` when larger); NaN beyond.
    ``attached`` (from :func:`attach_layers` with these buildings as ``origins``,
    these ``outdoor_spaces`` and the same options) is made here when not given;
    ``engine`` searches on a dask cluster (:mod:`renewgeo.compute`).

    Returns
    -------
    GeoDataFrame
        The buildings with ``green_dist_m``, ``green_ok`` (within ``green_m``),
        ``park_dist_m``, ``park_ok`` (within ``park_m``) and ``green_note``.
    """
    green, parks = _green_and_parks(outdoor_spaces, green_types, park_types, park_min_area_m2)
    if attached is None:
        groups = {ORIGINS: buildings, **_green_groups(network, green, parks, spacing_m=entry_spacing_m, touch_m=entry_touch_m)}
        attached = attach(network, groups, max_snap_m=max_snap_m)
    o_node = _nodes_of(attached, network, ORIGINS, buildings, "green_access")
    kinds = ((GREEN, green, green_m), (PARK, parks, park_m))
    present = [(label, limit) for label, polys, limit in kinds if len(polys)]
    # one search for both kinds (a group each), looked up at the buildings
    dest = [_nodes_of(attached, network, label, None, "green_access") for label, _ in present]
    dest_group = np.repeat(np.arange(len(dest), dtype=np.int64), [len(d) for d in dest])
    radius = max([float(nearest_max_m)] + [limit for _, limit in present])
    near = _nearest_at(_node_nearest(attached, np.concatenate([np.zeros(0, np.int64), *dest]), dest_group, len(dest), radius, engine),
                       o_node)
    out = buildings.copy()
    notes = np.full(len(out), "", dtype=object)
    row = 0
    for label, polys, limit in kinds:
        if len(polys) == 0:
            out[f"{label}_dist_m"] = np.nan
            out[f"{label}_ok"] = False
            notes = np.array([f"{n}; no {label} space in the project".strip("; ") for n in notes], dtype=object)
            continue
        d = np.where(near[row] <= max(nearest_max_m, limit), near[row], np.nan)
        row += 1
        out[f"{label}_dist_m"] = d
        out[f"{label}_ok"] = d <= limit
        mine = _notes(o_node >= 0, d[None, :], [label], nearest_max_m, attached.max_snap_m)
        notes = np.where(notes == "", mine, notes)
    out["green_note"] = notes
    return out


# ------------------------------------------------------------------------ the axis
@dataclass(frozen=True, eq=False)
class AxisCatchmentResult:
    """What :func:`axis_catchment` found.

    Attributes
    ----------
    buildings : GeoDataFrame
        The buildings with ``axis_dist_m``.
    summary : DataFrame
        Per distance (index ``distance_m``): ``buildings``, ``buildings_pct``,
        ``gfa_m2``, ``gfa_pct`` within it.
    gaps : GeoDataFrame
        LineStrings joining the nearest ends of the axis's disconnected pieces
        (``from_piece``, ``to_piece``, ``gap_m``); empty when it is one walkable path.
    continuous : bool
        The axis is one connected path.
    pieces : int
        Its number of connected pieces.
    """

    buildings: gpd.GeoDataFrame
    summary: pd.DataFrame
    gaps: gpd.GeoDataFrame
    continuous: bool
    pieces: int


def _axis_gaps(axis: gpd.GeoDataFrame, snap_m: float) -> tuple[list[dict[str, Any]], int]:
    """The shortest links between the axis's own pieces (a spanning set), and the number of pieces."""
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
    return gaps, own.report.components


def axis_catchment(
    network: Network,
    buildings: gpd.GeoDataFrame,
    axis: gpd.GeoDataFrame,
    *,
    distances_m: Sequence[float] = AXIS_DISTANCES_M,
    sample_m: float = 10.0,
    snap_m: float = SNAP_M,
    max_snap_m: float = MAX_SNAP_M,
    nearest_max_m: float = NEAREST_MAX_M,
    attached: Attached | None = None,
    engine: Engine | None = None,
) -> AxisCatchmentResult:
    """GFA within walking distance of the pedestrian axis, and whether the axis is continuous.

    The axis is reached at points every ``sample_m`` along it; ``axis_dist_m`` is
    searched up to ``nearest_max_m`` (or the largest of ``distances_m``), NaN beyond.
    ``attached`` (from :func:`attach_layers` with these buildings as ``origins`` and
    this ``axis``, same ``axis_sample_m``) is made here when not given; ``engine``
    searches on a dask cluster (:mod:`renewgeo.compute`).

    Returns
    -------
    AxisCatchmentResult
        Buildings with ``axis_dist_m``; a table of the share of buildings and GFA within
        each distance; the gaps of the axis; whether it is continuous, in how many pieces.
    """
    th, _ = thresholds_m(distances_m=distances_m)
    att = attached if attached is not None else attach(network, {ORIGINS: buildings, AXIS: _axis_points(axis, sample_m)},
                                                       max_snap_m=max_snap_m)
    o_node = _nodes_of(att, network, ORIGINS, buildings, "axis_catchment")
    a_node = _nodes_of(att, network, AXIS, None, "axis_catchment")
    radius = float(max(nearest_max_m, th.max()))
    out = buildings.copy()
    out["axis_dist_m"] = _nearest_at(_node_nearest(att, a_node, np.zeros(len(a_node), np.int64), 1, radius, engine), o_node)[0]
    gfa = pd.to_numeric(out["gfa_m2"], errors="coerce").fillna(0).astype("float64") if "gfa_m2" in out else pd.Series(0.0, index=out.index)
    rows = []
    for d in distances_m:
        ok = (out["axis_dist_m"] <= d).fillna(False).to_numpy(dtype=bool)
        rows.append({"distance_m": d, "buildings": int(ok.sum()), "buildings_pct": 100 * ok.mean() if len(ok) else np.nan,
                     "gfa_m2": float(gfa[ok].sum()), "gfa_pct": 100 * gfa[ok].sum() / gfa.sum() if gfa.sum() > 0 else np.nan})
    summary = pd.DataFrame(rows).set_index("distance_m")
    gaps, pieces = _axis_gaps(axis, snap_m)
    gap_frame = gpd.GeoDataFrame(gaps, geometry="geometry", crs=axis.crs) if gaps else gpd.GeoDataFrame(
        {"from_piece": [], "to_piece": [], "gap_m": []}, geometry=[], crs=axis.crs)
    return AxisCatchmentResult(buildings=out, summary=summary, gaps=gap_frame, continuous=pieces == 1, pieces=pieces)


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
    speed_m_s: float = SPEED_M_S,
    buffer_m: float = 25.0,
    buildings: gpd.GeoDataFrame | None = None,
    max_snap_m: float = MAX_SNAP_M,
    attached: Attached | None = None,
) -> gpd.GeoDataFrame:
    """Walking-time polygons from one or more points (all points together).

    Each polygon is the reachable network (edges walked in full, the last edge cut at
    the remaining distance) buffered by ``buffer_m``. With ``buildings``, the buildings
    whose own network distance is within the time are counted with their GFA.
    ``attached`` (from :func:`attach_layers` with these points as
    ``isochrone_origins`` and the buildings as ``origins``) is made here when not
    given; connectors of its other points are not part of the polygons.

    Returns
    -------
    GeoDataFrame
        One row per time: ``minutes``, ``distance_m``, ``area_m2``, ``area_ha``,
        ``reachable_length_m`` and, with buildings, ``buildings`` and ``gfa_m2``.
    """
    th, _ = thresholds_m(minutes=minutes, speed_m_s=speed_m_s)
    if attached is None:
        attached = attach_layers(network, buildings, isochrone_origins=origins, max_snap_m=max_snap_m)
    att = attached
    start = _nodes_of(att, network, ISOCHRONE_ORIGINS, origins, "isochrones")
    bn = _nodes_of(att, network, ORIGINS, buildings, "isochrones") if buildings is not None else np.zeros(0, np.int64)
    if (start < 0).all():
        raise RenewgeoError(f"isochrones: no origin lies within {att.max_snap_m:g} m of the network")
    seeds = start[start >= 0]
    dist = K.bounded_single(att.indptr, att.indices, att.weights, seeds.astype(np.int64), np.zeros(len(seeds)), float(th.max()))
    # the walk uses the network and the connectors of its own points only
    own = np.zeros(len(att.indptr) - 1, dtype=bool)
    own[np.concatenate([seeds, bn[bn >= 0]])] = True
    walked = (att.edge_base >= 0) | own[att.edge_u] | own[att.edge_v]
    base_geoms = network.edges.geometry.values
    gfa = None
    if buildings is not None:
        gfa = (pd.to_numeric(buildings["gfa_m2"], errors="coerce").fillna(0) if "gfa_m2" in buildings
               else pd.Series(0.0, index=buildings.index)).to_numpy()
    rows = []
    chord = np.r_[network.edges["kind"].to_numpy() == "chord", False]  # index -1 (connectors): not a chord
    for m, d_max in zip(minutes, th, strict=True):
        pieces, piece_edge = _reachable(att, dist, d_max, base_geoms, walked)
        network_piece = (piece_edge >= 0) & ~chord[piece_edge]  # not connectors, not plaza chords
        length = float(shapely.length(pieces)[network_piece].sum()) if len(pieces) else 0.0
        reach = shapely.union_all(shapely.buffer(pieces, buffer_m)) if len(pieces) else shapely.Polygon()
        row: dict[str, Any] = {"minutes": float(m), "distance_m": float(d_max), "reachable_length_m": length, "geometry": reach}
        if gfa is not None:
            ok = (bn >= 0) & (dist[np.maximum(bn, 0)] <= d_max)
            row["buildings"] = int(ok.sum())
            row["gfa_m2"] = float(gfa[ok].sum())
        rows.append(row)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=network.crs)
    out["area_m2"] = true_area_m2(out, layer="isochrones").to_numpy()
    out["area_ha"] = out["area_m2"] / 10000.0
    return out


def _reachable(att: Attached, dist: np.ndarray, d_max: float, base_geoms: np.ndarray,
               walked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parts of every walked augmented edge within ``d_max``, and the base edge of each (-1: connector)."""
    du, dv, w = dist[att.edge_u], dist[att.edge_v], att.edge_w
    full = walked & ((du + w <= d_max) | (dv + w <= d_max))
    from_u = walked & ~full & (du < d_max)
    from_v = walked & ~full & (dv < d_max)
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
def _axis_midpoint(axis: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The middle of the axis's longest merged line."""
    merged = shapely.line_merge(shapely.union_all(axis.geometry.values))
    line = max(shapely.get_parts(merged), key=lambda g: g.length)
    return gpd.GeoSeries([line.interpolate(0.5, normalized=True)], crs=axis.crs)


def _by_category(acc: AccessibilityResult, amen: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per category: amenities, and the buildings' median nearest distance and share within each threshold."""
    rows = []
    for c in acc.categories:
        d = acc.table[f"{c}_nearest_m"]
        rows.append({"category": c, "amenities": int((amen["category"] == c).sum()), "buildings": len(d),
                     "median_nearest_m": float(d.median()) if d.notna().any() else np.nan,
                     **{f"within_{t}_pct": 100 * float((d <= th_m).mean()) for t, th_m in zip(acc.suffixes, acc.thresholds_m, strict=True)}})
    return pd.DataFrame(rows).set_index("category")


def _network_table(net: Network, acc: AccessibilityResult) -> pd.DataFrame:
    r = net.report
    return pd.DataFrame([{
        "nodes": r.nodes, "edges": r.edges, "length_m": r.length_m, "components": r.components,
        "largest_component_share_pct": 100 * r.largest_component_share, "tiny_components": r.tiny_components,
        "dangling_ends": r.dangling_ends, "endpoints_snapped": r.endpoints_snapped,
        "endpoints_moved_onto_lines": r.endpoints_moved_onto_lines, "zero_length_dropped": len(r.zero_length_dropped),
        "crossable_polygons": r.polygons_crossable, "chords": r.chords_added, "level_junctions": r.level_junctions,
        "unattached_amenities": ", ".join(acc.unattached_amenities),
    }])


def _node_table(net: Network, acc: AccessibilityResult, daily: list[str]) -> gpd.GeoDataFrame:
    """The network's nodes with ``daily_dist_m`` and ``walk_{c}_nearest_m``."""
    nodes = net.nodes.copy()
    node_acc = acc.nodes if acc.nodes is not None else pd.DataFrame(index=nodes.index)
    nodes["daily_dist_m"] = node_acc[[f"{c}_nearest_m" for c in daily]].min(axis=1, skipna=True).to_numpy() if daily else np.nan
    for c in node_acc.columns:
        if c.endswith("_nearest_m"):
            nodes[f"walk_{c}"] = node_acc[c].to_numpy()
    return nodes


def _isochrone_origins(ctx: Context, s: WalkSettings) -> tuple[gpd.GeoSeries | None, str]:
    """Where isochrones start (``[walk] isochrone_origins``) and how to say so."""
    o = s.isochrone_origins
    if o == "none":
        return None, ""
    if o == "axis_midpoint":
        if not ctx.has("pedestrian_axis"):
            return None, ('no isochrones: the project has no pedestrian axis to start from; set [walk] isochrone_origins '
                          'to a layer name (e.g. "amenities") or "none"')
        return _axis_midpoint(ctx.layer("pedestrian_axis")), "axis midpoint"
    g = ctx.project.layers[o]
    geoms = g.geometry[~(g.geometry.isna() | g.geometry.is_empty)]
    pts = gpd.GeoSeries(shapely.point_on_surface(geoms.values), crs=g.crs)
    return pts, f"layer {o} ({len(pts)} points)"


def _building_columns(acc: AccessibilityResult, daily: list[str]) -> dict[str, Any]:
    t = acc.table
    keep = [c for c in t.columns if c.endswith("_nearest_m")] + [c for c in t.columns if "_count_" in c]
    new: dict[str, Any] = {f"walk_{c}": t[c].to_numpy() for c in keep}
    new["daily_dist_m"] = t[[f"{c}_nearest_m" for c in daily]].min(axis=1, skipna=True).to_numpy() if daily else np.nan
    new["walk_snap_m"] = t["snap_m"].to_numpy()
    new["walk_snap_level"] = t["snap_level"].array
    new["walk_note"] = t["note"].to_numpy()
    return new


def _green(res: Result, new: dict[str, Any], net: Network, b: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, s: WalkSettings,
           att: Attached, engine: Engine | None) -> None:
    g = green_access(net, b, spaces, green_m=s.green_m, park_m=s.park_m, park_min_area_m2=s.park_min_area_m2,
                     nearest_max_m=s.nearest_max_m, attached=att, engine=engine)
    for c in ("green_dist_m", "green_ok", "park_dist_m", "park_ok"):
        new[c] = g[c].to_numpy()
    res.tables["green_access"] = pd.DataFrame({
        "buildings": [len(g)], "green_ok_pct": [100 * g["green_ok"].mean()], "park_ok_pct": [100 * g["park_ok"].mean()],
    })


def _axis(res: Result, new: dict[str, Any], net: Network, b: gpd.GeoDataFrame, axis: gpd.GeoDataFrame, s: WalkSettings,
          att: Attached, engine: Engine | None) -> None:
    ax = axis_catchment(net, b, axis, distances_m=s.axis_distances_m, nearest_max_m=s.nearest_max_m, attached=att, engine=engine)
    new["axis_dist_m"] = ax.buildings["axis_dist_m"].to_numpy()
    res.tables["axis_catchment"] = ax.summary.assign(continuous=ax.continuous, pieces=ax.pieces)
    if len(ax.gaps):
        res.layers["axis_gaps"] = ax.gaps
        res.notes.append(f"the pedestrian axis is in {ax.pieces} pieces: {len(ax.gaps)} gap(s), "
                         f"{ax.gaps['gap_m'].sum():,.0f} m in all (layer axis_gaps)")


def _isochrone_layer(res: Result, net: Network, b: gpd.GeoDataFrame, origins: gpd.GeoSeries | None, label: str, s: WalkSettings,
                     att: Attached) -> None:
    if origins is None:
        if label:
            res.notes.append(label)
        return
    iso = isochrones(net, origins, minutes=s.isochrone_minutes, speed_m_s=s.speed_m_s, buildings=b, attached=att)
    iso.insert(0, "origin", label)
    res.layers["isochrones"] = iso


def _network_key(project: Project, snap_m: float) -> tuple[object, ...]:
    """What the walking network is built from: its layers, by identity, and the snapping distance.

    The line layers and the outdoor spaces: a scenario that leaves them alone shares the
    baseline's objects, and so its network.
    """
    kinds = (*NETWORK_KINDS, "outdoor_spaces")
    return ("walk.network", snap_m, *((n, id(g)) for n, g in project.layers.items() if project.kinds[n] in kinds))


def _engine_for(ctx: Context) -> Engine | None:
    """The run's dask engine (:func:`renewgeo.compute.active`), tiled as ``[compute]`` says for this project; None: in-process."""
    engine = _compute.active()
    if engine is None:
        return None
    zones = ctx.layer("zones").geometry.values if ctx.has("zones") else None
    return dataclasses.replace(engine, tiling=Tiling.of(ctx.section(ComputeSettings), zones=zones, workers=engine.workers))


def compute(ctx: Context) -> Result:
    """The walking analysis: every measure of a project on one attachment of everything to the network.

    Buildings get ``walk_<category>_nearest_m`` and ``walk_<category>_count_<d>m``,
    ``daily_dist_m`` (nearest of ``[walk] daily_categories``), ``walk_snap_m``,
    ``walk_note``, the life circles ``lc_<circle>_pass`` / ``_missing``, green and park
    access, ``axis_dist_m``. Layers ``network_nodes`` (with ``daily_dist_m``),
    ``network_edges``, ``isochrones`` and ``axis_gaps``; tables ``life_circles``,
    ``green_access``, ``axis_catchment``, ``walk_by_category``, ``network``; the grid
    ``daily_distance_m``. Settings: ``[walk]``; life-circle requirements from
    ``[[life_circles]]`` or the default derived from GB 50180-2018's facility tables
    (:func:`default_life_circles`); table ``life_circle_requirements`` names each
    requirement's facility and clause. On a dask cluster (:func:`renewgeo.compute.active`)
    the searches run on its workers, in tiles (``[compute]``), with the same results.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["walk"])
    >>> int(r.tables["life_circles"].loc["15min", "buildings"]), bool(r.layer("buildings")["daily_dist_m"].notna().all())
    (26, True)
    """
    s = ctx.section(WalkSettings)
    b = ctx.layer("buildings")
    amen = ctx.layer("amenities")
    spaces = ctx.layer("outdoor_spaces") if ctx.has("outdoor_spaces") else None
    axis = ctx.layer("pedestrian_axis") if ctx.has("pedestrian_axis") else None
    origins, label = _isochrone_origins(ctx, s)
    net = ctx.cached(_network_key(ctx.project, s.network_snap_m), lambda: network_from_project(ctx.project, snap_m=s.network_snap_m))
    engine = _engine_for(ctx)
    att = attach_layers(net, b, amenities=amen, outdoor_spaces=spaces, axis=axis, isochrone_origins=origins, max_snap_m=s.max_snap_m,
                        park_min_area_m2=s.park_min_area_m2, engine=engine)
    acc = accessibility(net, b, amen, distances_m=s.distances_m, nearest_max_m=s.nearest_max_m, nodes=True, attached=att,
                        engine=engine)
    daily = [c for c in s.daily_categories if c in acc.categories]
    new = _building_columns(acc, daily)
    lc = life_circles(net, b, amen, circles=ctx.project.life_circles, speed_m_s=s.speed_m_s, nearest_max_m=s.nearest_max_m,
                      attached=att, access=acc, engine=engine)
    new.update({c: lc.buildings[c].to_numpy() for c in lc.buildings.columns if c.startswith("lc_")})
    nodes = _node_table(net, acc, daily)
    res = Result(layers={"network_nodes": nodes, "network_edges": net.edges},
                 tables={"life_circles": lc.summary, "life_circle_requirements": lc.requirements})
    if spaces is not None:
        _green(res, new, net, b, spaces, s, att, engine)
    if axis is not None:
        _axis(res, new, net, b, axis, s, att, engine)
    _isochrone_layer(res, net, b, origins, label, s, att)
    res.tables["walk_by_category"] = _by_category(acc, amen)
    res.tables["network"] = _network_table(net, acc)
    res.columns["buildings"] = pd.DataFrame(new, index=b.index)
    if len(nodes) and nodes["daily_dist_m"].notna().any():
        res.grids["daily_distance_m"] = raster.nearest_surface(nodes, "daily_dist_m", resolution_m=s.distance_surface_m)
    _walk_notes(res, acc, new, b, s)
    return res


def _walk_notes(res: Result, acc: AccessibilityResult, new: Mapping[str, Any], b: gpd.GeoDataFrame, s: WalkSettings) -> None:
    n = len(b)
    unattached = int(np.isnan(np.asarray(new["walk_snap_m"], dtype=float)).sum())
    if unattached:
        res.notes.append(f"{unattached} of {n} buildings are farther than {s.max_snap_m:g} m from every path: no walking results "
                         "(see walk_note)")
    unknown = int(pd.to_numeric(b["gfa_m2"], errors="coerce").isna().sum()) if "gfa_m2" in b.columns else 0  # none: no GFA shares
    if unknown:
        res.notes.append(f"the floor area (gfa_m2) of {unknown} of {n} buildings is unknown (no gfa_m2, floors or height_m): "
                         f"GFA shares and sums (life_circles gfa_pass_pct, axis_catchment gfa_pct, isochrones gfa_m2) "
                         f"count only the other {n - unknown}")
    if acc.unattached_amenities:
        res.notes.append(f"{len(acc.unattached_amenities)} amenities are farther than {s.max_snap_m:g} m from every path and were "
                         f"left out: {', '.join(acc.unattached_amenities[:10])}")
    off = int((np.asarray(pd.array(new["walk_snap_level"], dtype="Int64").fillna(0), dtype=np.int64) != 0).sum())
    if off or acc.off_ground_amenities:
        res.notes.append(f"{off} of {n} buildings and {len(acc.off_ground_amenities)} amenities have no ground-level path within "
                         f"{s.max_snap_m:g} m and were attached to a bridge, tunnel or other level (walk_snap_level, walk_note)")
    if not [c for c in s.daily_categories if c in acc.categories]:
        res.notes.append("no amenity is in [walk] daily_categories: daily_dist_m is empty")


def _applies(project: Project) -> str | None:
    missing = [f"{k} layer" for k in ("buildings", "amenities") if not project.has(k)]
    if not any(project.has(k) for k in NETWORK_KINDS):
        missing.append("line layer to walk on (paths, pedestrian_axis, landscape_corridor or trails)")
    if not missing:
        return None
    listed = [f"no {m}" for m in missing]
    return "the project has " + (", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0])


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _network_line(row: pd.Series) -> str:
    """The ``network`` table's row as a sentence."""
    return (f"network: {_plural(int(row['nodes']), 'node')}, {_plural(int(row['edges']), 'edge')}, "
            f"{float(row['length_m']) / 1000:,.1f} km in {_plural(int(row['components']), 'component')}; "
            f"{_plural(int(row['dangling_ends']), 'dangling end')}")


def _report(result: Result) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 1):
        parts = [_network_line(result.tables["network"].iloc[0]), str(result.tables["life_circles"])]
        if "axis_catchment" in result.tables:
            parts.append(str(result.tables["axis_catchment"]))
    return "\n".join(parts)


# ------------------------------------------------------------------------ registration
add_field_labels({
    "daily_dist_m": ("到最近日常服务 (m)", "to nearest daily service (m)"),
    "lc_5min_missing": ("5分钟生活圈缺少", "5-min circle lacks"),
    "lc_10min_missing": ("10分钟生活圈缺少", "10-min circle lacks"),
    "lc_15min_missing": ("15分钟生活圈缺少", "15-min circle lacks"),
    "gap_m": ("断开距离 (m)", "gap (m)"),
    "minutes": ("步行时间 (分钟)", "walk (min)"),
    "buildings": ("建筑数", "buildings"),
    "origin": ("起点", "from"),
})

register(Analysis(
    name="walk", help="walking access to services, life circles, green access, the axis, isochrones", compute=compute,
    settings=WalkSettings, requires=("area",), applies=_applies, workbook="walk", report=_report,
    columns={"buildings": ("walk_*", "daily_dist_m", "lc_*", "green_dist_m", "green_ok", "park_dist_m", "park_ok", "axis_dist_m")},
    layer_columns={
        "isochrones": ("origin", "minutes", "distance_m", "reachable_length_m", "area_m2", "area_ha", "buildings", "gfa_m2"),
        "network_nodes": ("node", "degree", "component", "dangling", "daily_dist_m", "walk_*"),
        "network_edges": ("u", "v", "length_m", "level", "kind", "source_layer", "source_id"),
        "axis_gaps": ("from_piece", "to_piece", "gap_m"),
    },
    layers={
        "network_nodes": Presentation(("步行网络节点：到日常服务的距离", "Network nodes: walk to daily services"),
                                      distance_style("point", "daily_dist_m", size=2.0, width=0.5),
                                      tooltip=(), show=False, order=44),
        "network_edges": Presentation(("步行网络", "Walking network"), Style("line", colour="#9e9e9e", width=1.0), tooltip=(),
                                      show=False, order=39),
        "isochrones": Presentation(("步行等时圈", "Walking isochrones"),
                                   Style("polygon", column="minutes", categories={"5": "#54278f", "10": "#807dba", "15": "#bcbddc"},
                                         palette=("#6a51a3", "#9e9ac8", "#dadaeb"), outline=None, width=2.0, fill_opacity=0.12,
                                         unit="min"),
                                   tooltip=("origin", "minutes", "area_ha", "buildings", "gfa_m2"), show=False, order=20),
        "axis_gaps": Presentation(("步行轴断点", "Gaps in the axis"), Style("line", colour="#e31a1c", width=5.0, dash="4 6"),
                                  tooltip=("gap_m",), order=45),
    },
    views={"walk_distance": View("buildings", Presentation(
        ("到日常服务的步行距离", "Walk to daily services"),
        distance_style("polygon", "daily_dist_m", width=0.6, fill_opacity=0.9),
        tooltip=("id", "name", "daily_dist_m", "lc_5min_missing", "lc_15min_missing"), order=61))},
))
