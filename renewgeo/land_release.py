"""Land release: parcels minus constraints = releasable land, capacity and phasing.

Constraint rules (buffers in metres, in the project's metric CRS):

======================  ===============================================================
``road``                red line: the centre line buffered by half its ``width_m``
                        (default ``road_width_m``); polygons are taken as drawn
``river``,              blue/green corridor: buffered by ``buffer_m`` (default
``green_corridor``      ``river_setback_m``)
``protected_building``  footprint plus ``buffer_m`` (default ``protection_buffer_m``)
``retained_building``   footprint plus ``buffer_m`` (default 0)
``slope``, ``setback``, as drawn plus ``buffer_m`` (default 0)
``other``
======================  ===============================================================

Per parcel, the area each constraint type removes is counted once, in a stated priority
order (default :data:`PRIORITY`): a piece of land under both a road and a river setback
counts as road. So ``gross = net + unusable + sum(removed)`` holds on every parcel.
Leftover fragments smaller than ``min_area_m2`` or narrower than ``min_width_m`` (a
negative-buffer test) are not releasable and are reported as ``unusable``.

Areas are true (ellipsoidal) m2, the one definition of area of renewgeo
(:func:`renewgeo.units.true_area_m2`, as in :mod:`renewgeo.area`). Each parcel's planar
pieces (constraints, fragments, net land) are scaled by that parcel's own ratio of true to
planar area, so the identity above stays exact to floating precision and the gross area
is the parcel's true area. Buffer distances are metres in the project CRS.

Overlapping parcels (``[release] parcel_overlap``): land drawn in two parcels is counted
once. ``"first"`` (the default) gives it to the parcel that comes first in the layer: the
later parcel's ``gross_area_m2`` is what it holds, its ``drawn_area_m2`` what was drawn,
and ``overlap_m2`` the difference; where three overlap, the first of all keeps the land.
``"refuse"`` stops with the list of overlaps. :func:`overlaps` (the ``parcel_overlaps``
table) lists every pair with ``parcel_a``, ``parcel_b``, ``overlap_m2`` and
``assigned_to``. So the sums of ``gross_area_m2`` and ``net_area_m2`` over the parcels
are the area of their union, and the releasable geometries never overlap.

Inputs are checked: missing, empty, non-polygon or invalid parcels, and missing or invalid
constraints, are a :class:`~renewgeo.SchemaError` naming the ids and the fix (repair with
``make_valid``, or ``repair = true`` in the project). Line and point constraints that take
no land (no width or buffer; a building footprint repair reduced to a line) are refused by
:func:`constraint_geometries`; the ``release`` analysis leaves them out, lists them in its
notes and the ``constraints_left_out`` table, and goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renewgeo import area, raster
from renewgeo._errors import RenewgeoError, SchemaError
from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.area import AreaSettings
from renewgeo.crs import require_metric
from renewgeo.project import Project
from renewgeo.raster import RasterSettings
from renewgeo.schemas import KINDS
from renewgeo.settings import Section, section, setting
from renewgeo.styles import YEAR_PALETTE, Presentation, Style, add_field_labels
from renewgeo.units import M2_PER_MU, area_columns, true_area_m2

__all__ = ["PARCEL_OVERLAP", "PRIORITY", "ReleaseSettings", "compute", "constraint_geometries", "no_land", "overlaps", "release",
           "release_by_year", "screen_inefficient"]

log = logging.getLogger(__name__)

PRIORITY = ("road", "river", "green_corridor", "protected_building", "retained_building", "slope", "setback", "other")
PARCEL_OVERLAP = ("first", "refuse")
_RULES = ("road_width_m", "river_setback_m", "protection_buffer_m", "retained_buffer_m")


@section
@dataclass(frozen=True)
class ReleaseSettings(Section):
    """``[release]``: constraint rules, fragments, capacity and steep land."""

    name: ClassVar[str] = "release"
    title: ClassVar[str] = "releasable land: parcels minus constraints"

    road_width_m: float = setting(20.0, "red-line width (m) of a road line without width_m", gt=0, le=500, legacy="road_width_m")
    river_setback_m: float = setting(30.0, "setback (m) either side of a river or green corridor without buffer_m", ge=0, le=1000,
                                     legacy="river_setback_m")
    protection_buffer_m: float = setting(10.0, "buffer (m) around a protected building without buffer_m", ge=0, le=1000,
                                         legacy="protection_buffer_m")
    retained_buffer_m: float = setting(0.0, "buffer (m) around a retained building without buffer_m", ge=0, le=1000,
                                       legacy="retained_buffer_m")
    min_fragment_m2: float = setting(1000.0, "leftover pieces smaller than this (m2) are not releasable", ge=0, legacy="min_fragment_m2")
    min_width_m: float = setting(20.0, "leftover pieces narrower than this (m) are not releasable", ge=0, le=1000, legacy="min_width_m")
    constraint_priority: tuple[str, ...] = setting(PRIORITY, "order in which overlapping constraints claim land",
                                                   legacy="constraint_priority", example='["road", "river", "protected_building"]')
    far_by_land_use: dict[str, float] = setting({}, "planned floor-area ratio per land_use where a parcel has no far_planned", ge=0,
                                                le=50, legacy="far_by_land_use", example="{ residential = 2.8 }")
    parcel_overlap: str = setting("first", "land drawn in two parcels: \"first\" gives it to the parcel that comes first in "
                                  "the layer (the later one's overlap_m2), \"refuse\" stops with the list of overlaps; either "
                                  "way no square metre is counted twice", choices=PARCEL_OVERLAP, example='"refuse"')
    max_slope_pct: float | None = setting(None, "land steeper than this (percent, from the project's DEM) is taken out; "
                                          "unset: slope is no constraint", gt=0, le=1000, legacy="max_slope_pct", example="25")

    def check(self, layers: Mapping[str, str], vocabulary: Mapping[str, Any]) -> list[str]:
        """Constraint types in the priority list must be known ones."""
        known = set(KINDS["constraints"].column("constraint_type").allowed or ()) | set(vocabulary.get("constraint_types", ()))
        bad = [t for t in self.constraint_priority if t not in known]
        return [f"constraint_priority names {bad}, which are not constraint types; known: {sorted(known)} "
                "(add your own under [vocabulary] constraint_types)"] if bad else []

    def rules(self) -> dict[str, float]:
        """The buffer rules :func:`constraint_geometries` takes."""
        return {k: float(getattr(self, k)) for k in _RULES}


def _num(gdf: pd.DataFrame, col: str) -> np.ndarray:
    if col not in gdf.columns:
        return np.full(len(gdf), np.nan)
    return pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


_BUILDINGS = ("protected_building", "retained_building")


def _ids(gdf: pd.DataFrame, id_column: str = "id") -> np.ndarray:
    """The id of every row as text (the row number where there is no id column)."""
    if id_column in gdf.columns:
        return gdf[id_column].astype("object").where(gdf[id_column].notna(), "").astype(str).to_numpy()
    return np.arange(len(gdf)).astype(str)


def _ids_at(gdf: pd.DataFrame, id_column: str, mask: np.ndarray) -> np.ndarray:
    """:func:`_ids` of the rows where ``mask`` is true only (the rest are never turned into text)."""
    rows = np.flatnonzero(mask)
    return _ids(gdf.iloc[rows], id_column) if id_column in gdf.columns else rows.astype(str)


def _listed(items: Sequence[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


_REPAIR_FIX = ("repair them first (gdf.geometry = gdf.geometry.make_valid()), or load the layers through a project with "
               "`repair = true`, which repairs them with shapely.make_valid and leaves out what repair reduces to nothing")


def _check_geometries(gdf: gpd.GeoDataFrame, *, layer: str, id_column: str, polygons: bool) -> None:
    """Refuse missing, empty (parcels), non-polygon (parcels) and invalid geometries, naming the ids and the fix."""
    g = np.asarray(gdf.geometry.values, dtype=object)
    null = shapely.is_missing(g)
    problems = []
    if null.any():
        problems.append(f"{int(null.sum())} feature(s) without geometry: {_listed(list(_ids_at(gdf, id_column, null)))}; drop them or draw their geometry")
    ok = ~null
    if polygons:
        empty = ok & shapely.is_empty(g)
        wrong = ok & ~empty & ~np.isin(shapely.get_type_id(g), [3, 6])
        if empty.any():
            problems.append(f"{int(empty.sum())} parcel(s) with an empty geometry: {_listed(list(_ids_at(gdf, id_column, empty)))}; drop them")
        if wrong.any():
            problems.append(f"{int(wrong.sum())} parcel(s) that are not polygons: "
                            f"{_listed([f'{i} ({x.geom_type})' for i, x in zip(_ids_at(gdf, id_column, wrong), g[wrong], strict=True)])}; "
                            "parcels must be Polygon or MultiPolygon")
        ok &= ~empty & ~wrong
    invalid = np.zeros(len(g), dtype=bool)
    invalid[ok] = ~shapely.is_valid(g[ok])
    if invalid.any():
        why = [f"{i} ({shapely.is_valid_reason(x)})" for i, x in zip(_ids_at(gdf, id_column, invalid), g[invalid], strict=True)]
        problems.append(f"{int(invalid.sum())} invalid geometr(y/ies): {_listed(why)}; {_REPAIR_FIX}")
    if problems:
        raise SchemaError(f"{layer!r}: " + "; ".join(problems))


def _distances(constraints: gpd.GeoDataFrame, r: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Type, buffer distance (m) and "has area" of every constraint feature."""
    ctype = constraints["constraint_type"].astype("object").fillna("other").astype(str).to_numpy()
    width = _num(constraints, "width_m")
    buf = _num(constraints, "buffer_m")
    dist = np.zeros(len(constraints))
    is_road = ctype == "road"
    geoms = np.asarray(constraints.geometry.values, dtype=object)
    # "has area", not "is a polygon": make_valid may return a collection of a polygon and a line
    poly = shapely.area(geoms) > 0
    dist[is_road] = np.where(np.isnan(width[is_road]), r["road_width_m"], width[is_road]) / 2.0
    dist[is_road & poly] = np.nan_to_num(buf[is_road & poly])
    for t, key in (("river", "river_setback_m"), ("green_corridor", "river_setback_m"),
                   ("protected_building", "protection_buffer_m"), ("retained_building", "retained_buffer_m")):
        m = ctype == t
        dist[m] = np.where(np.isnan(buf[m]), r[key], buf[m])
    other = ~np.isin(ctype, ["road", "river", "green_corridor", "protected_building", "retained_building"])
    dist[other] = np.nan_to_num(buf[other])
    return ctype, dist, poly


def no_land(constraints: gpd.GeoDataFrame, *, rules: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Constraint features that take no land: lines and points with no width or buffer, empty geometries.

    A building footprint that repair (``repair = true``) reduced to a line or a point has
    no area; with no buffer it takes nothing. The analysis leaves such features out and
    lists them; :func:`constraint_geometries` refuses them.

    Returns
    -------
    DataFrame
        ``row`` (position in the layer), ``id``, ``constraint_type``, ``geometry_type``
        and ``reason``, one row per feature that takes no land.
    """
    r = {**ReleaseSettings().rules(), **(rules or {})}
    ctype, dist, poly = _distances(constraints, r)
    g = np.asarray(constraints.geometry.values, dtype=object)
    empty = shapely.is_missing(g) | shapely.is_empty(g)
    bad = empty | ((dist == 0) & ~poly)
    rows = np.flatnonzero(bad)
    gtype = np.array([x.geom_type if x is not None else "no geometry" for x in g[rows]], dtype=object)
    reason = np.where(empty[rows], "empty geometry (nothing left after repair)",
                      np.where(np.isin(ctype[rows], _BUILDINGS),
                               "building footprint with no area (repair of a collapsed ring leaves a line or point) and no buffer_m",
                               "line or point with no width_m or buffer_m"))
    return pd.DataFrame({"row": rows, "id": _ids(constraints)[rows], "constraint_type": ctype[rows], "geometry_type": gtype,
                         "reason": reason})


def constraint_geometries(constraints: gpd.GeoDataFrame, *, rules: Mapping[str, float] | None = None,
                          layer: str = "constraints") -> gpd.GeoDataFrame:
    """Turn constraint features into the land they take, by the rules of their type.

    Parameters
    ----------
    constraints : GeoDataFrame
        Features with ``constraint_type`` and optionally ``width_m`` (roads) and
        ``buffer_m``; lines, polygons or points; in a metric CRS; valid geometries.
    rules : mapping, optional
        Defaults: ``road_width_m`` (20), ``river_setback_m`` (30),
        ``protection_buffer_m`` (10), ``retained_buffer_m`` (0).
    layer : str
        Name for messages.

    Returns
    -------
    GeoDataFrame
        ``constraint_type``, ``source_id``, ``buffer_m`` and the polygon taken.

    Raises
    ------
    SchemaError
        No ``constraint_type`` column; missing or invalid geometries (named by id).
    RenewgeoError
        Lines or points that take no land (see :func:`no_land`).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> c = gpd.GeoDataFrame({"constraint_type": ["road"], "width_m": [20.0]},
    ...                      geometry=[shapely.LineString([(500000, 0), (500100, 0)])], crs=32651)
    >>> round(float(constraint_geometries(c).area.iloc[0]), 1)  # 100 x 20 + round ends (32-gon)
    2312.1

    """
    require_metric(constraints, layer=layer, what="land release")
    if "constraint_type" not in constraints.columns:
        raise SchemaError(f"{layer!r} needs a constraint_type column (road, river, protected_building ...)")
    _check_geometries(constraints, layer=layer, id_column="id", polygons=False)
    bad = no_land(constraints, rules=rules)
    if len(bad):
        raise RenewgeoError(f"{layer!r}: {len(bad)} line or point constraint(s) take no land (no width or buffer): "
                            f"{_listed([f'{i} ({t})' for i, t in zip(bad['id'], bad['reason'], strict=True)])}; "
                            "give width_m (roads) or buffer_m, or delete them")
    r = {**ReleaseSettings().rules(), **(rules or {})}
    ctype, dist, _poly = _distances(constraints, r)
    geoms = np.asarray(constraints.geometry.values, dtype=object)
    taken = np.where(dist > 0, shapely.buffer(geoms, dist), geoms)
    taken = shapely.make_valid(taken)
    mixed = np.flatnonzero(shapely.get_type_id(taken) == 7)  # a polygon with a line or point: keep the polygon
    taken[mixed] = [_polygonal(x) for x in taken[mixed]]
    return gpd.GeoDataFrame({"constraint_type": ctype, "source_id": _ids(constraints), "buffer_m": dist},
                            geometry=taken, crs=constraints.crs)


def _overlap_pairs(g: np.ndarray, pool: ThreadPoolExecutor | None = None, threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``a < b`` of (valid) polygons whose interiors meet, with the polygon they share.

    Candidates are the pairs whose envelopes meet; the interior test (a relate, which
    releases the GIL) runs in chunks on ``pool``'s ``threads`` when a pool is given.
    """
    a, b = shapely.STRtree(g).query(g)  # here, before the threads: the envelopes are computed once
    keep = a < b
    a, b = a[keep], b[keep]
    # interiors meet: more than a shared edge
    inner = np.concatenate(_chunked(pool, threads, lambda s: shapely.relate_pattern(g[a[s]], g[b[s]], "T********"), len(a)))
    a, b = a[inner], b[inner]
    shared = np.array([_polygonal(x) for x in shapely.intersection(g[a], g[b])], dtype=object)
    pos = shapely.area(shared) > 0
    return a[pos], b[pos], shared[pos]


def _chunked(pool: ThreadPoolExecutor | None, threads: int, func: Any, n: int, per_thread: int = 4) -> list[Any]:
    """``func(slice)`` over ``range(n)`` cut in a few slices per thread on ``pool`` (in one piece without a pool)."""
    if pool is None or threads < 2 or n < 2000:
        return [func(slice(0, n))]
    k = per_thread * threads
    edges = np.linspace(0, n, k + 1).astype(int)
    return list(pool.map(lambda j: func(slice(edges[j], edges[j + 1])), range(k)))


def _true_ratio(geoms: np.ndarray, crs: Any) -> np.ndarray:
    """True (ellipsoidal) over planar area of each polygon, from :func:`renewgeo.units.true_area_m2`."""
    planar = shapely.area(geoms)
    true = true_area_m2(gpd.GeoSeries(geoms, crs=crs), layer="parcels").to_numpy()
    return np.divide(true, planar, out=np.ones(len(geoms)), where=planar > 0)


def _overlap_table(ids: np.ndarray, a: np.ndarray, b: np.ndarray, shared: np.ndarray, ratio: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"parcel_a": ids[a], "parcel_b": ids[b], "overlap_m2": shapely.area(shared) * ratio[a],
                         "assigned_to": ids[a]})


def overlaps(parcels: gpd.GeoDataFrame, *, id_column: str = "id", min_area_m2: float = 0.0) -> pd.DataFrame:
    """Pairs of parcels that overlap, with the overlap's true area (m2) and who keeps it.

    Parameters
    ----------
    parcels : GeoDataFrame
        Valid polygons in a metric CRS.
    id_column : str
        Parcel id column (row numbers without one).
    min_area_m2 : float
        Leave out overlaps smaller than this (every overlap of positive area by default).

    Returns
    -------
    DataFrame
        ``parcel_a`` (the earlier of the two in the layer), ``parcel_b``, ``overlap_m2``
        and ``assigned_to``: the parcel :func:`release` gives the pair's shared land to
        with ``parcel_overlap="first"`` (``parcel_a``). Rows are pairs: where three
        parcels overlap, the part all three share appears in three rows and goes to the
        first of all, so sum ``overlap_m2`` of :func:`release` (per parcel), not of this
        table, for the land taken from later parcels.
    """
    require_metric(parcels, layer="parcels", what="parcel overlaps")
    _check_geometries(parcels, layer="parcels", id_column=id_column, polygons=True)
    g = np.asarray(parcels.geometry.values, dtype=object)
    a, b, shared = _overlap_pairs(g)
    t = _overlap_table(_ids(parcels, id_column), a, b, shared, _true_ratio(g, parcels.crs))
    return t[t["overlap_m2"] >= min_area_m2].reset_index(drop=True)


def _release_geometry(
    pool: ThreadPoolExecutor, threads: int, parcels: gpd.GeoDataFrame, constraints: gpd.GeoDataFrame, *, prepared: bool,
    rules: Mapping[str, float] | None, priority: Sequence[str], min_area_m2: float, min_width_m: float, id_column: str,
    parcel_overlap: str,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The geometry work of :func:`release` on ``pool``'s ``threads``.

    Returns the land each type removes, unusable land, fragments dropped, net area and
    net geometry per parcel, the parcels' true/planar ratio, their planar gross area and
    their drawn geometries.
    """
    checks = [pool.submit(_check_geometries, parcels, layer="parcels", id_column=id_column, polygons=True)]
    if prepared:
        checks.append(pool.submit(_check_geometries, constraints, layer="constraints", id_column="source_id", polygons=False))
    for check in checks:  # the parcels' problems first, as they are named
        check.result()
    cons = constraints if prepared else constraint_geometries(constraints, rules=rules)
    present = set(pd.unique(cons["constraint_type"].to_numpy()))
    types = list(dict.fromkeys([t for t in priority if t in present] + sorted(present - set(priority))))
    drawn = np.asarray(parcels.geometry.values, dtype=object)
    n = len(parcels)
    a, b, shared = _overlap_pairs(drawn, pool, threads)
    ratio = _true_ratio(drawn, parcels.crs)
    if len(a) and parcel_overlap == "refuse":
        t = _overlap_table(_ids(parcels, id_column), a, b, shared, ratio)
        raise SchemaError(f"'parcels': {len(t)} pair(s) of parcels overlap, {t['overlap_m2'].sum():,.1f} m2 in all: "
                          f"{_listed([f'{p}/{q} ({m:,.1f} m2)' for p, q, m in t[['parcel_a', 'parcel_b', 'overlap_m2']].to_numpy()])}; "
                          "fix the cadastre, or set [release] parcel_overlap = \"first\" to give shared land to the parcel "
                          "that comes first in the layer")
    pg = drawn.copy()
    if len(a):
        later, earlier = _grouped_union(b, drawn[a])
        pg[later] = [_polygonal(x) for x in shapely.difference(drawn[later], earlier)]
    gross_planar = shapely.area(pg)
    cg = np.asarray(cons.geometry.values, dtype=object)
    ci, pi = shapely.STRtree(pg).query(cg)  # envelopes meet; each chunk keeps the pairs that intersect
    ctype_all = cons["constraint_type"].to_numpy()
    # chunks of parcels
    n_chunks = max(1, min(4 * threads, n // 2000 + 1))
    bounds = np.linspace(0, n, n_chunks + 1).astype(int)
    order = np.argsort(pi, kind="stable")
    pi_s, ci_s = pi[order], ci[order]
    cut = np.searchsorted(pi_s, bounds)

    def work(j: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = bounds[j], bounds[j + 1]
        sl = slice(cut[j], cut[j + 1])
        mine, theirs = pg[lo:hi], cg[ci_s[sl]]
        meet = shapely.intersects(mine[pi_s[sl] - lo], theirs)  # prepared parcels
        removed_j, unus, drop, net_a, net_g = _release_chunk(
            mine, ratio[lo:hi], pi_s[sl][meet] - lo, theirs[meet], ctype_all[ci_s[sl]][meet], types, min_area_m2, min_width_m)
        return removed_j, unus, drop, net_a, net_g, np.arange(lo, hi)

    removed = {t: np.zeros(n) for t in types}
    unusable = np.zeros(n)
    dropped = np.zeros(n, dtype=int)
    net_area = np.zeros(n)
    net_final = np.empty(n, dtype=object)
    fresh = ~shapely.is_prepared(pg)
    shapely.prepare(pg[fresh])  # here, not in the threads: a geometry may be in two rows
    try:
        for removed_j, unus, drop, net_a, net_g, rows in pool.map(work, range(n_chunks)):
            for t in types:
                removed[t][rows] = removed_j[t]
            unusable[rows], dropped[rows], net_area[rows], net_final[rows] = unus, drop, net_a, net_g
    finally:
        shapely.destroy_prepared(pg[fresh])  # the parcels' geometries are the caller's
    return removed, unusable, dropped, net_area, net_final, ratio, gross_planar, drawn


def release(
    parcels: gpd.GeoDataFrame,
    constraints: gpd.GeoDataFrame,
    *,
    priority: Sequence[str] = PRIORITY,
    min_area_m2: float = 1000.0,
    min_width_m: float = 20.0,
    far_by_land_use: Mapping[str, float] | None = None,
    floor_height_m: float = 3.0,
    id_column: str = "id",
    prepared: bool = False,
    rules: Mapping[str, float] | None = None,
    parcel_overlap: str = "first",
) -> gpd.GeoDataFrame:
    """Releasable land of every parcel: gross minus constraints, fragments dropped.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels (``sites``) in a metric CRS, valid polygons; optional ``far_planned``,
        ``land_use``, ``coverage_max``, ``height_limit_m``, ``release_year``, ``phase``.
    constraints : GeoDataFrame
        Raw constraint features (see :func:`constraint_geometries`) or, with
        ``prepared=True``, its output.
    priority : sequence of str
        Order in which overlapping constraints claim land; types not listed come after.
    min_area_m2, min_width_m : float
        Leftover pieces smaller (true m2) or narrower (m) than these are unusable.
    far_by_land_use : mapping, optional
        Planned FAR per ``land_use`` where a parcel has no ``far_planned``.
    floor_height_m : float
        Storey height used with ``height_limit_m``.
    id_column : str
        Parcel id column.
    prepared : bool
        ``constraints`` are already the output of :func:`constraint_geometries`.
    rules : mapping, optional
        Passed to :func:`constraint_geometries`.
    parcel_overlap : {"first", "refuse"}
        Land drawn in two parcels goes to the one that comes first in the layer
        (``"first"``: the later one's ``overlap_m2``), or overlapping parcels are an
        error (``"refuse"``). Either way no square metre is counted twice.

    Returns
    -------
    GeoDataFrame
        One row per parcel, geometry = the releasable land: ``drawn_area_m2`` (as
        drawn), ``overlap_m2`` (drawn land an earlier parcel holds), ``gross_area_m2``
        (the land the parcel holds), ``removed_<type>_m2`` per type, ``unusable_m2``
        (fragments), ``net_area_m2`` / ``_ha`` / ``_mu``, ``fragments_dropped``,
        ``far_used``, ``buildable_gfa_m2`` and ``gfa_limited_by``, with the parcel's own
        columns. Areas are true (ellipsoidal) m2; ``gross = net + unusable + removed``
        on every parcel.

    Raises
    ------
    SchemaError
        Missing, empty, non-polygon or invalid parcels (or invalid constraints), named by
        id; overlapping parcels with ``parcel_overlap="refuse"``.
    """
    require_metric(parcels, layer="parcels", what="land release")
    if parcels.crs != constraints.crs:
        raise RenewgeoError(f"release: parcels are in {parcels.crs} but constraints in {constraints.crs}; load both through one project")
    if min_area_m2 < 0 or min_width_m < 0:
        raise RenewgeoError("min_area_m2 and min_width_m must be >= 0")
    if parcel_overlap not in PARCEL_OVERLAP:
        raise RenewgeoError(f"parcel_overlap={parcel_overlap!r}: use one of {list(PARCEL_OVERLAP)}")
    threads = os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=threads) as pool:  # shapely's vectorised GEOS calls release the GIL
        removed, unusable, dropped, net_area, net_final, ratio, gross_planar, drawn = _release_geometry(
            pool, threads, parcels, constraints, prepared=prepared, rules=rules, priority=priority, min_area_m2=min_area_m2,
            min_width_m=min_width_m, id_column=id_column, parcel_overlap=parcel_overlap)
    types = list(removed)
    n = len(parcels)
    prev_area = np.sum([removed[t] for t in types], axis=0) if types else np.zeros(n)
    gross = gross_planar * ratio
    out = parcels.drop(columns=parcels.geometry.name).copy()
    out["drawn_area_m2"] = shapely.area(drawn) * ratio
    out["overlap_m2"] = out["drawn_area_m2"].to_numpy() - gross
    out["gross_area_m2"] = gross
    for t in types:
        out[f"removed_{t}_m2"] = removed[t]
    out["removed_m2"] = prev_area
    out["unusable_m2"] = unusable
    out["fragments_dropped"] = dropped
    out = out.join(area_columns(pd.Series(net_area, index=out.index), "net_area"))
    out["net_share_pct"] = np.divide(net_area, gross, out=np.zeros(n), where=gross > 0) * 100
    # capacity
    far = _num(parcels, "far_planned")
    if far_by_land_use and "land_use" in parcels.columns:
        table = parcels["land_use"].astype("object").map(dict(far_by_land_use)).to_numpy(dtype="float64", na_value=np.nan)
        far = np.where(np.isnan(far), table, far)
    cover = _num(parcels, "coverage_max")
    height = _num(parcels, "height_limit_m")
    by_far = net_area * far
    by_form = net_area * cover * np.floor(height / floor_height_m)
    gfa = np.where(np.isnan(by_form), by_far, np.where(np.isnan(by_far), by_form, np.minimum(by_far, by_form)))
    limited = np.where(np.isnan(gfa), "no FAR or form limits", np.where(~np.isnan(by_form) & (np.isnan(by_far) | (by_form < by_far)),
                                                                      "coverage x height", "FAR"))
    out["far_used"] = far
    out["buildable_gfa_m2"] = gfa
    out["gfa_limited_by"] = limited
    return gpd.GeoDataFrame(out, geometry=net_final, crs=parcels.crs)


def release_by_year(net: gpd.GeoDataFrame, *, year_column: str = "release_year") -> pd.DataFrame:
    """Net release per year and cumulative, in m2, ha and mu."""
    if year_column not in net.columns:
        raise SchemaError(f"release_by_year: parcels need a {year_column!r} column (the year each is released)")
    y = net[year_column]
    g = pd.DataFrame({"year": y.astype("Int64"), "parcels": 1, "gross_area_m2": net["gross_area_m2"], "net_area_m2": net["net_area_m2"],
                      "buildable_gfa_m2": net["buildable_gfa_m2"].fillna(0.0)})
    missing = int(g["year"].isna().sum())
    if missing:
        log.warning("%d parcel(s) have no %s and are not in the yearly release", missing, year_column)
    t = g.dropna(subset=["year"]).groupby("year")[["parcels", "gross_area_m2", "net_area_m2", "buildable_gfa_m2"]].sum()
    t["net_area_ha"] = t["net_area_m2"] / 1e4
    t["net_area_mu"] = t["net_area_m2"] / M2_PER_MU
    t["cumulative_net_mu"] = t["net_area_mu"].cumsum()
    t.attrs["parcels_without_year"] = missing
    return t


def screen_inefficient(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    outdoor_spaces: gpd.GeoDataFrame | None = None,
    far_min: float = 1.0,
    coverage_min_pct: float = 30.0,
    vacancy_max_pct: float = 30.0,
    admin_share_max_pct: float = 7.0,
    green_ratio_max_pct: float = 20.0,
    admin_uses: Sequence[str] = ("office", "apartment", "residential", "public_service"),
    id_column: str = "id",
) -> pd.DataFrame:
    """Flags of inefficient industrial land with the measured values.

    Indicators (national industrial-land guidance): building coverage >= 30%,
    administrative and living floor area <= 7% of the total, green ratio <= 20%; plus
    FAR below ``far_min`` and the share of floor area standing idle.
    """
    d = area.density(parcels, buildings, outdoor_spaces=outdoor_spaces, id_column=id_column, layer="parcels")
    b = area._enriched(buildings)
    gfa = b["gfa_m2"].fillna(0.0).to_numpy()
    bi, pi = parcels.sindex.query(b.geometry.representative_point().values, predicate="within")
    n = len(parcels)
    idle = b["status"].astype("object").isin(["idle"]).to_numpy() if "status" in b.columns else np.zeros(len(b), bool)
    use = b["use_after"] if "use_after" in b.columns else b.get("use_before", pd.Series(None, index=b.index))
    admin = use.astype("object").isin(list(admin_uses)).to_numpy()
    tot = np.bincount(pi, weights=gfa[bi], minlength=n)
    vac = np.bincount(pi, weights=gfa[bi] * idle[bi], minlength=n)
    adm = np.bincount(pi, weights=gfa[bi] * admin[bi], minlength=n)
    out = d[["land_m2", "land_mu", "gfa_m2", "far", "coverage_pct", "green_ratio_pct"]].copy()
    out["vacancy_pct"] = np.divide(vac, tot, out=np.full(n, np.nan), where=tot > 0) * 100
    out["admin_share_pct"] = np.divide(adm, tot, out=np.full(n, np.nan), where=tot > 0) * 100
    out["flag_low_far"] = out["far"] < far_min
    out["flag_low_coverage"] = out["coverage_pct"] < coverage_min_pct
    out["flag_vacant"] = out["vacancy_pct"] > vacancy_max_pct
    out["flag_admin_share"] = out["admin_share_pct"] > admin_share_max_pct
    out["flag_green_ratio"] = out["green_ratio_pct"] > green_ratio_max_pct
    flags = out[[c for c in out.columns if c.startswith("flag_")]]
    out["inefficient"] = flags.any(axis=1)
    out["reasons"] = flags.apply(lambda r: ", ".join(c[5:] for c, v in r.items() if v), axis=1)
    return out


def _constraints(ctx: Context, s: ReleaseSettings) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Constraint features of the project, plus steep land from the DEM's slope when asked."""
    notes = []
    crs = ctx.project.crs
    raw = ctx.layer("constraints") if ctx.has("constraints") else gpd.GeoDataFrame(
        {"constraint_type": pd.Series(dtype=str)}, geometry=[], crs=crs)
    if s.max_slope_pct is not None:
        slope = ctx.grid("slope_pct")
        if slope is None:
            notes.append("[release] max_slope_pct is set but the project has no [rasters] dem: slope is not a constraint")
        else:
            # the raster analysis drew the steep land already when its limit is the same
            reuse = ctx.result_layer("steep_land") if ctx.section(RasterSettings).steep_slope_pct == s.max_slope_pct else None
            steep = reuse if reuse is not None else raster.steep_land(slope, s.max_slope_pct, crs)
            notes.append(f"{len(steep)} polygon(s) of land steeper than {s.max_slope_pct:g} % taken out as slope constraints")
            raw = gpd.GeoDataFrame(pd.concat([raw, steep], ignore_index=True), crs=crs)
    return raw, notes


def _applied(parcels: gpd.GeoDataFrame, cons: gpd.GeoDataFrame, priority: Sequence[str], net: pd.DataFrame) -> gpd.GeoDataFrame:
    """The land each constraint type takes within the parcels, once (priority order).

    ``area_m2`` is the sum of the parcels' ``removed_<type>_m2`` in ``net`` (true areas,
    each parcel's land counted once), so this table and the parcels' agree exactly.
    """
    clip = shapely.union_all(parcels.geometry.values)
    applied = []
    taken = shapely.Polygon()
    for t in list(dict.fromkeys([*priority, *sorted(set(cons["constraint_type"]))])):
        sub = cons[cons["constraint_type"] == t]
        if not len(sub):
            continue
        geom = _polygonal(shapely.difference(shapely.intersection(shapely.union_all(sub.geometry.values), clip), taken))
        taken = shapely.union(taken, geom)
        col = f"removed_{t}_m2"
        area_m2 = float(net[col].sum()) if col in net.columns else 0.0
        applied.append({"constraint_type": t, "features": len(sub), "area_m2": area_m2, "geometry": geom})
    out = gpd.GeoDataFrame(applied, geometry="geometry", crs=parcels.crs) if applied else gpd.GeoDataFrame(
        {"constraint_type": [], "features": [], "area_m2": []}, geometry=[], crs=parcels.crs)
    out["area_mu"] = out["area_m2"] / M2_PER_MU
    return out


def compute(ctx: Context) -> Result:
    """The land-release analysis: net release per parcel, the land each constraint takes, by year.

    Layers ``net_release`` (the parcels' releasable land, with their columns and the
    measures of :func:`release`) and ``constraints_applied``; tables
    ``release_by_parcel``, ``release_by_year``, ``constraints_applied``,
    ``parcel_overlaps`` (when parcels overlap: who keeps the shared land, by
    ``[release] parcel_overlap``), ``constraints_left_out`` (features that take no
    land, such as building footprints repair reduced to lines) and
    ``inefficient_land`` (with buildings). Settings: ``[release]``; storey height from
    ``[area]``.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")), ["release"])
    >>> round(float(r.tables["release_by_year"].loc[2024, "net_area_mu"]), 1)
    419.3
    """
    s = ctx.section(ReleaseSettings)
    parcels = ctx.layer("sites")
    raw, notes = _constraints(ctx, s)
    left_out = no_land(raw, rules=s.rules()) if len(raw) else pd.DataFrame()
    if len(left_out):
        raw = raw.iloc[np.setdiff1d(np.arange(len(raw)), left_out["row"].to_numpy())]
        for reason, grp in left_out.groupby("reason", sort=False):
            notes.append(f"{len(grp)} constraint feature(s) left out, they take no land ({reason}): "
                         f"{_listed(list(grp['id']))} (tables/constraints_left_out.csv)")
    cons = constraint_geometries(raw, rules=s.rules()) if len(raw) else gpd.GeoDataFrame(
        {"constraint_type": [], "source_id": [], "buffer_m": []}, geometry=[], crs=ctx.project.crs)
    net = release(parcels, cons, prepared=True, priority=s.constraint_priority, min_area_m2=s.min_fragment_m2,
                  min_width_m=s.min_width_m, far_by_land_use=s.far_by_land_use,
                  floor_height_m=ctx.section(AreaSettings).floor_height_m, parcel_overlap=s.parcel_overlap)
    applied = _applied(parcels, cons, s.constraint_priority, net)
    res = Result(layers={"net_release": net, "constraints_applied": applied}, notes=notes)
    if len(left_out):
        res.tables["constraints_left_out"] = left_out.drop(columns="row").reset_index(drop=True)
    res.tables["release_by_parcel"] = pd.DataFrame(net.drop(columns=net.geometry.name))
    if "release_year" in net.columns:
        res.tables["release_by_year"] = release_by_year(net)
        missing = int(net["release_year"].isna().sum())
        if missing:
            res.notes.append(f"{missing} parcel(s) have no release_year and are not in the yearly release")
    ov = overlaps(parcels)
    if len(ov):
        res.tables["parcel_overlaps"] = ov
        res.notes.append(f"{len(ov)} pair(s) of parcels overlap, {ov['overlap_m2'].sum():,.0f} m2 in all (tables/parcel_overlaps.csv): "
                         "the shared land is counted once, for the parcel that comes first in the layer (see overlap_m2 in "
                         "release_by_parcel); fix the cadastre, or set [release] parcel_overlap = \"refuse\" to stop on overlaps")
    res.tables["constraints_applied"] = pd.DataFrame(applied.drop(columns="geometry"))
    if ctx.has("buildings"):
        res.tables["inefficient_land"] = screen_inefficient(
            parcels, ctx.layer("buildings"), outdoor_spaces=ctx.layer("outdoor_spaces") if ctx.has("outdoor_spaces") else None)
    return res


def _applies(project: Project) -> str | None:
    if not project.has("sites"):
        return "the project has no sites (parcels) layer"
    if not project.has("constraints") and project.settings.get(ReleaseSettings).max_slope_pct is None:
        return "the project has no constraints layer (nor [release] max_slope_pct with a DEM)"
    return None


def _report(result: Result) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 1):
        parts = [str(result.tables["release_by_year"])] if "release_by_year" in result.tables else []
        parts.append(str(result.tables["constraints_applied"]))
    return "\n".join(parts)


def _polygonal(geom: Any) -> Any:
    """The polygon parts of an overlay result (slivers of lines and points dropped)."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), [3])]
    if len(polys) == 0:
        return shapely.MultiPolygon()
    return polys[0] if len(polys) == 1 else shapely.multipolygons(polys)



def _per_key(keys: np.ndarray, geoms: np.ndarray, combine: Any) -> tuple[np.ndarray, np.ndarray]:
    """``combine`` the geometries of each key; single-member groups pass through untouched."""
    if len(keys) == 0:
        return keys, geoms
    order = np.argsort(keys, kind="stable")
    k, g = keys[order], geoms[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(k)]
    out = g[starts].copy()
    for j in np.flatnonzero(ends - starts > 1):
        out[j] = combine(g[starts[j]:ends[j]])
    return k[starts], out


_DEEP = 1.02  # a point this many half widths in from the edges proves a piece wide (see _narrow)
_ROW_UNION_MAX = 16  # groups up to this size are united in one GEOS call, a padded row each


def _grouped_union(keys: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of ``geoms`` per key; single-member groups pass through untouched.

    The union of each group is ``shapely.union_all`` of its members, as one call for all
    groups of up to :data:`_ROW_UNION_MAX` members (one row per group, padded with None,
    which ``union_all`` leaves out) rather than one Python call per group.
    """
    if len(keys) == 0:
        return keys, geoms
    order = np.argsort(keys, kind="stable")
    k, g = keys[order], geoms[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    out = g[starts].copy()
    rows = np.flatnonzero((sizes > 1) & (sizes <= _ROW_UNION_MAX))
    if len(rows):
        width = int(sizes[rows].max())
        table = np.full((len(rows), width), None, dtype=object)
        member = np.repeat(np.arange(len(rows)), sizes[rows])
        rank = np.arange(len(member)) - np.repeat(np.cumsum(sizes[rows]) - sizes[rows], sizes[rows])
        table[member, rank] = g[np.repeat(starts[rows], sizes[rows]) + rank]
        out[rows] = shapely.union_all(table, axis=1)
    for j in np.flatnonzero(sizes > _ROW_UNION_MAX):
        out[j] = shapely.union_all(g[starts[j]:starts[j] + sizes[j]])
    return k[starts], out


def _release_chunk(
    pg: np.ndarray, ratio: np.ndarray, pi: np.ndarray, cg: np.ndarray, ctype: np.ndarray, types: list[str], min_area_m2: float,
    min_width_m: float
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The geometry work of :func:`release` for one chunk of parcels (``pi`` indexes ``pg``).

    Planar areas are made true by the parcel's own ``ratio`` (true / planar area), the
    same factor for every piece of a parcel, so the pieces still add up to the parcel.
    """
    n = len(pg)
    # take each type's constraints off what is left of each parcel, in priority order: the land a type
    # removes is the area it takes off, so land under two constraints counts once, for the first
    rest = pg.copy()
    rest_area = shapely.area(pg)
    removed: dict[str, np.ndarray] = {}
    for t in types:
        removed[t] = np.zeros(n)
        sel = np.flatnonzero(ctype == t)
        if not len(sel):
            continue
        idx, cover = _grouped_union(pi[sel], cg[sel])
        left = shapely.difference(rest[idx], cover)
        left_area = shapely.area(left)
        removed[t][idx] = np.maximum((rest_area[idx] - left_area) * ratio[idx], 0.0)
        rest[idx] = left
        rest_area[idx] = left_area
    net_geom = rest
    # fragments: too small or too narrow (only pieces big enough need the width test)
    parts, owner = shapely.get_parts(net_geom, return_index=True)
    polys = shapely.get_type_id(parts) == 3
    part_area = shapely.area(parts) * ratio[owner]
    small = part_area < min_area_m2
    narrow = np.zeros(len(parts), dtype=bool)
    if min_width_m > 0:
        test = np.flatnonzero(~small & polys)
        # a true width w is w / sqrt(ratio) in the plane of a conformal CRS
        narrow[test] = _narrow(parts[test], min_width_m / 2.0 / np.sqrt(ratio[owner[test]]))
    usable = polys & ~small & ~narrow
    unusable = np.bincount(owner, weights=np.where(usable, 0.0, part_area), minlength=n)
    dropped = np.bincount(owner, weights=(~usable).astype(float), minlength=n).astype(int)
    net_area = np.bincount(owner, weights=np.where(usable, part_area, 0.0), minlength=n)
    net_final = np.full(n, shapely.Polygon(), dtype=object)
    idx, geoms = _grouped_parts(owner[usable], parts[usable])
    net_final[idx] = geoms
    return removed, unusable, dropped, net_area, net_final


def _narrow(polys: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Whether each polygon is narrower than twice ``half``: its negative buffer by ``half`` is empty.

    A point of the polygon farther than ``half`` (with 2 % to spare) from its edges
    proves it wide enough without the buffer: GEOS' negative buffer keeps every such
    point (it draws arcs as chords, at most 0.5 % of the distance off, and simplifies its
    input by at most 1 % of it). So the buffer runs only where the polygon's point on
    surface is nearer its edges; the answer is the buffer's everywhere.
    """
    with np.errstate(all="ignore"):  # GEOS' floating-point flags on degenerate pieces (denormal coordinates): no proof, buffer
        deep = shapely.distance(shapely.point_on_surface(polys), shapely.boundary(polys)) > half * _DEEP + 1e-6
    narrow = np.zeros(len(polys), dtype=bool)
    narrow[~deep] = shapely.is_empty(shapely.buffer(polys[~deep], -half[~deep]))
    return narrow


def _grouped_parts(keys: np.ndarray, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygons per key, gathered into one (Multi)Polygon each."""
    return _per_key(keys, parts, shapely.multipolygons)



_CONSTRAINT_COLOURS = {"road": "#636363", "river": "#3182bd", "green_corridor": "#31a354", "protected_building": "#e6550d",
                       "retained_building": "#fdae6b", "slope": "#8c6d31", "setback": "#bdbdbd", "other": "#9e9ac8"}
add_field_labels({"net_area_mu": ("可释放面积 (亩)", "releasable (mu)"), "gross_area_m2": ("总面积 (m²)", "gross (m²)"),
                  "buildable_gfa_m2": ("可建面积 (m²)", "buildable GFA (m²)")})

register(Analysis(
    name="release", help="releasable land: parcels minus constraints, capacity, by year", compute=compute,
    settings=ReleaseSettings, requires=("raster", "area"), applies=_applies,
    layers={
        "net_release": Presentation(("可释放用地", "Releasable land"),
                                    Style("polygon", colour="#bdbdbd", column="release_year", palette=YEAR_PALETTE, fill_opacity=0.55,
                                          label_column="id", label_size=7),
                                    tooltip=("id", "land_use", "release_year", "gross_area_m2", "net_area_mu", "buildable_gfa_m2"),
                                    order=14),
        "constraints_applied": Presentation(("扣除用地（按原因）", "Land taken, by reason"),
                                            Style("polygon", column="constraint_type", categories=_CONSTRAINT_COLOURS, colour="#9e9ac8",
                                                  palette=("#9e9ac8",), width=0.5, fill_opacity=0.6),
                                            tooltip=("constraint_type", "area_mu"), order=16),
    },
    layer_kinds={"net_release": "sites"},
    layer_columns={"net_release": ("drawn_area_m2", "overlap_m2", "gross_area_m2", "removed_*_m2", "removed_m2", "unusable_m2", "fragments_dropped", "net_area_m2",
                                   "net_area_ha", "net_area_mu", "net_share_pct", "far_used", "buildable_gfa_m2", "gfa_limited_by")},
    input_styles={"sites": Presentation(("用地地块", "Land parcels"), Style("polygon", colour="#252525", outline="#252525", width=1.2,
                                                                         fill_opacity=0.0), tooltip=("id", "name", "land_use"), order=12)},
    workbook="release", report=_report, includes=("targets",),
))
