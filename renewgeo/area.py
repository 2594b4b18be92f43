"""Area accounting: floor area by use, zone and status, and the plan's targets ledger.

Every area here is a true (ellipsoidal) area in m2 computed in the project's metric CRS
(:func:`renewgeo.units.true_area_m2`), offered in m2, ha and mu with the unit in the
column name. Rows left out of a total (a building with neither GFA, floors nor height;
a target row with no value) are reported in the result, never dropped silently.

Functions
---------
building_gfa      footprint and gross floor area per building, with the GFA's source
summarize         count, footprint, GFA and GFA share by any grouping columns
progress          percent complete weighted by GFA
line_lengths      lengths of line layers in m and km
polygon_areas     areas of polygon layers in m2, ha and mu
amenity_summary   counts and summed capacities of amenities by category
density           FAR, coverage, green ratio, GFA per ha and per capita per zone or site
targets_ledger    each target of project.toml against its measured value
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renewgeo import _kernels as K
from renewgeo import raster
from renewgeo._errors import RenewgeoError, SchemaError
from renewgeo._validate import closest
from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.crs import require_metric
from renewgeo.project import Project, Target
from renewgeo.schemas import RESULT_LAYERS
from renewgeo.settings import Section, section, setting
from renewgeo.styles import add_field_labels
from renewgeo.units import area_columns, convert, true_area_m2, true_length_m, unit_family

__all__ = [
    "DEFAULT_RENOVATED",
    "GREEN_SPACE_TYPES",
    "AreaSettings",
    "Ledger",
    "amenity_summary",
    "building_gfa",
    "density",
    "format_ledger",
    "line_lengths",
    "polygon_areas",
    "progress",
    "summarize",
    "targets_ledger",
]

log = logging.getLogger(__name__)

DEFAULT_RENOVATED = ("facade_upgrade", "full_renovation")
GREEN_SPACE_TYPES = ("green", "park", "pocket_park")
GFA_SOURCES = ("gfa_m2", "footprint_x_floors", "footprint_x_height", "missing")
GFA_COLUMNS = ("footprint_m2", "gfa_m2", "gfa_source", "floors_used")
_NONE = "(none)"
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3  # a shallow copy is a safe copy (pandas 3 copies on write)


@section
@dataclass(frozen=True)
class AreaSettings(Section):
    """``[area]``: floor area, density and the targets ledger."""

    name: ClassVar[str] = "area"
    title: ClassVar[str] = "floor area, density and the targets ledger"

    floor_height_m: float = setting(3.0, "storey height (m) that turns a building's height_m into storeys", gt=0, le=20,
                                    legacy="floor_height_m")
    floor_height_m_by_use: dict[str, float] = setting({}, "storey height (m) per use_before value, e.g. industrial halls", gt=0, le=20,
                                                      legacy="floor_height_m_by_use", example="{ industrial = 4.5 }")
    renovated_treatments: tuple[str, ...] = setting(DEFAULT_RENOVATED, "treatments whose floor area counts as renovated",
                                                    example='["facade_upgrade", "full_renovation"]')
    target_tolerance_pct: float = setting(1.0, "a target within this percentage of its value is met", ge=0, le=100,
                                          legacy="target_tolerance_pct")
    gfa_surface_m: float = setting(50.0, "cell size (m) of the floor-area-per-hectare raster", gt=0, le=10000)

    def gfa_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`building_gfa` these settings give."""
        return {"floor_height_m": self.floor_height_m, "floor_height_by_use": dict(self.floor_height_m_by_use)}


def _need_columns(gdf: pd.DataFrame, cols: Sequence[str], *, layer: str, what: str) -> None:
    for c in cols:
        if c not in gdf.columns:
            s = closest(c, [x for x in gdf.columns if x != getattr(gdf, "geometry", pd.Series()).name])
            raise SchemaError(
                f"{what}: layer {layer!r} has no column {c!r}"
                + (f" (did you mean {s!r}?)" if s else f"; its columns: {sorted(map(str, gdf.columns))}")
            )


def _numbers(gdf: pd.DataFrame, col: str) -> np.ndarray | None:
    """A column as float64 (NaN where missing or not a number), or None when there is no such column."""
    if col not in gdf.columns:
        return None
    return pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _isin(s: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """``s.isin(values)`` as a numpy bool array; missing values match nothing.

    On Arrow-backed text a few equality tests are about twice as fast as a hash lookup.
    """
    vals = list(values)
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow" and 0 < len(vals) <= 3 and all(isinstance(v, str) for v in vals):
        hit = np.zeros(len(s), dtype=bool)
        for v in vals:
            hit |= (s == v).to_numpy(dtype=bool, na_value=False)
        return hit
    return s.isin(vals).to_numpy(dtype=bool, na_value=False)


def _ids(gdf: pd.DataFrame, mask: Any) -> list[str]:
    sub = gdf[np.asarray(mask, dtype=bool)]
    return [str(v) for v in (sub["id"] if "id" in sub.columns else sub.index)]


# ------------------------------------------------------------------------------ GFA
def building_gfa(
    buildings: gpd.GeoDataFrame,
    *,
    floor_height_m: float = 3.0,
    floor_height_by_use: Mapping[str, float] | None = None,
    use_column: str = "use_before",
    layer: str = "buildings",
) -> gpd.GeoDataFrame:
    """Footprint and gross floor area (GFA) of each building, with where the GFA came from.

    GFA is taken from ``gfa_m2`` when present, else footprint x ``floors``, else
    footprint x round(``height_m`` / floor height) (at least one storey). The floor
    height is ``floor_height_by_use[use]`` for the building's ``use_column`` value
    (industrial buildings are commonly 4.5 m a storey) or ``floor_height_m``.

    Parameters
    ----------
    buildings : GeoDataFrame
        Buildings in a metric CRS (a project's ``buildings`` layer). Not modified.
    floor_height_m : float
        Default storey height in metres.
    floor_height_by_use : mapping, optional
        Storey height per use, e.g. ``{"industrial": 4.5}``.
    use_column : str
        Column whose value selects the storey height (the building's built form).
    layer : str
        Name for messages.

    Returns
    -------
    GeoDataFrame
        A copy with ``footprint_m2``, ``gfa_m2`` (NaN where nothing is known),
        ``gfa_source`` (one of ``gfa_m2``, ``footprint_x_floors``,
        ``footprint_x_height``, ``missing``) and ``floors_used``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> b = gpd.GeoDataFrame({"id": ["a", "b", "c", "d"], "gfa_m2": [500.0, None, None, None],
    ...                       "floors": [None, 3, None, None], "height_m": [None, None, 13.0, None]},
    ...                      geometry=[shapely.box(518000, 3985000 + 20 * i, 518010, 3985010 + 20 * i) for i in range(4)],
    ...                      crs=4549)
    >>> out = building_gfa(b, floor_height_m=4.5)
    >>> out[["gfa_m2", "gfa_source", "floors_used"]].round(1).values.tolist()
    [[500.0, 'gfa_m2', nan], [300.0, 'footprint_x_floors', 3.0], [300.0, 'footprint_x_height', 3.0], [nan, 'missing', nan]]
    """
    require_metric(buildings, layer=layer, what="floor area")
    if not floor_height_m > 0:
        raise RenewgeoError(f"floor_height_m must be > 0 metres, got {floor_height_m!r} (set [area] floor_height_m)")
    by_use = dict(floor_height_by_use or {})
    for use, h in by_use.items():
        if not (isinstance(h, int | float) and h > 0):
            raise RenewgeoError(f"floor_height_by_use[{use!r}] must be > 0 metres, got {h!r} (see [area] floor_height_m_by_use)")
    out = buildings.copy(deep=not _COPY_ON_WRITE)
    fp = true_area_m2(out, layer=layer).to_numpy()
    n = len(out)
    given, floors, height = (_numbers(out, c) for c in ("gfa_m2", "floors", "height_m"))
    fh: float | np.ndarray = floor_height_m
    if use_column in out.columns and by_use:
        fh = out[use_column].astype("object").map(by_use).astype("float64").fillna(floor_height_m).to_numpy()
    from_height = None if height is None else np.maximum(1.0, np.round(height / fh))
    # where the GFA comes from, in order of preference: given, footprint x floors, footprint x storeys from the height
    codes = np.full(n, 3, dtype=np.int8)  # index into GFA_SOURCES
    gfa = np.full(n, np.nan)
    used = np.full(n, np.nan)
    for code, value, storeys in ((2, height, from_height), (1, floors, floors), (0, given, None)):
        if value is None:
            continue
        has = ~np.isnan(value)
        codes[has] = code
        np.copyto(gfa, value if code == 0 else fp * storeys, where=has)
        np.copyto(used, np.nan if storeys is None else storeys, where=has)
    out["footprint_m2"] = fp
    out["gfa_m2"] = gfa
    out["gfa_source"] = pd.Categorical.from_codes(codes, categories=pd.Index(GFA_SOURCES))
    out["floors_used"] = used
    missing = int((codes == 3).sum())
    if missing:
        log.warning("%s: %d of %d buildings have neither gfa_m2, floors nor height_m; their GFA is unknown: %s",
                    layer, missing, n, ", ".join(_ids(out, codes == 3)[:20]))
    return out


def _enriched(buildings: gpd.GeoDataFrame, **opts: Any) -> gpd.GeoDataFrame:
    """The output of :func:`building_gfa`, computed unless the frame already is one."""
    if {"footprint_m2", "gfa_source"} <= set(buildings.columns):
        return buildings
    return building_gfa(buildings, **opts)


def _group_keys(gdf: pd.DataFrame, by: str | Sequence[str], *, layer: str, what: str) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    _need_columns(gdf, keys, layer=layer, what=what)
    return keys


def _group_index(gdf: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.Index]:
    """The group of every row (``inverse``) and the groups' labels, sorted; missing keys form the group ``(none)``.

    Factorised keys and a dense code space rather than ``DataFrame.groupby``: one pass
    over each key column, then sums by group are ``np.bincount(inverse, weights)``.
    """
    if len(keys) == 1:  # every code factorize gives is present: no code space to compact
        c, uniq = pd.factorize(gdf[keys[0]], use_na_sentinel=True)
        names = np.array([str(u) for u in uniq] + [_NONE], dtype=object)
        na = c < 0
        if na.any():
            return np.where(na, len(uniq), c), pd.Index(names, name=keys[0])
        return c, pd.Index(names[:-1], name=keys[0])
    code = np.zeros(len(gdf), dtype=np.int64)
    labels: list[np.ndarray] = []
    for k in keys:
        c, uniq = pd.factorize(gdf[k], use_na_sentinel=True)
        names = np.array([str(u) for u in uniq] + [_NONE], dtype=object)
        c = np.where(c < 0, len(uniq), c)
        code = code * len(names) + c
        labels.append(names)
    size = int(np.prod([len(n) for n in labels]))
    if size <= 4 * len(code) + 1024:  # small code space: count straight into it
        present = np.flatnonzero(np.bincount(code, minlength=size))
        lookup = np.zeros(size, dtype=np.int64)
        lookup[present] = np.arange(len(present))
        inverse = lookup[code]
    else:
        present, inverse = np.unique(code, return_inverse=True)
    parts = []
    rest = present.copy()
    for names in reversed(labels):
        parts.append(names[rest % len(names)])
        rest = rest // len(names)
    parts.reverse()
    index = pd.Index(parts[0], name=keys[0]) if len(keys) == 1 else pd.MultiIndex.from_arrays(parts, names=keys)
    return inverse, index


def _grouped(data: pd.DataFrame, gdf: pd.DataFrame, keys: list[str], cols: list[str]) -> pd.DataFrame:
    """Sum ``cols`` of ``data`` grouped by ``gdf[keys]``; missing keys form the group ``(none)``."""
    inverse, index = _group_index(gdf, keys)
    sums = {col: np.bincount(inverse, weights=data[col].to_numpy(dtype="float64"), minlength=len(index)) for col in cols}
    return pd.DataFrame(sums, index=index).sort_index()


def _total(values: np.ndarray) -> float:
    """Sum skipping NaN, as ``Series.sum`` does (the same pairwise sum, without a copy when nothing is missing)."""
    t = values.sum()
    return float(np.where(np.isnan(values), 0.0, values).sum()) if np.isnan(t) else float(t)


def _total_index(keys: list[str]) -> pd.Index:
    if len(keys) > 1:
        return pd.MultiIndex.from_tuples([("total",) * len(keys)], names=keys)
    return pd.Index(["total"], name=keys[0] if keys else None)


def summarize(
    buildings: gpd.GeoDataFrame,
    by: str | Sequence[str],
    *,
    renovated_treatments: Sequence[str] = DEFAULT_RENOVATED,
    layer: str = "buildings",
    **gfa_options: Any,
) -> pd.DataFrame:
    """Count, footprint, GFA and GFA share of buildings by one or more columns.

    Parameters
    ----------
    buildings : GeoDataFrame
        A buildings layer, or the output of :func:`building_gfa` (then not recomputed).
    by : str or list of str
        Grouping column(s): zone, use_after, status, treatment, phase ... Missing
        values form their own group ``(none)``.
    renovated_treatments : sequence of str
        Treatments whose GFA counts as renovated.
    layer : str
        Name for messages.
    **gfa_options
        Passed to :func:`building_gfa`.

    Returns
    -------
    DataFrame
        One row per group and a ``total`` row: ``count``, ``footprint_m2``,
        ``gfa_m2``, ``gfa_ha``, ``gfa_mu``, ``gfa_share_pct``, ``renovated_gfa_m2``,
        ``gfa_missing_count``. ``.attrs["excluded_ids"]`` lists buildings whose GFA is
        unknown (counted, but not in the GFA sums).

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> t = summarize(p["buildings"], "zone")
    >>> int(t.loc["Z3", "count"]), float(t.loc["Z3", "gfa_m2"])
    (9, 92000.0)
    """
    b = _enriched(buildings, layer=layer, **gfa_options)
    keys = _group_keys(b, by, layer=layer, what="summarize")
    gfa = b["gfa_m2"].to_numpy(dtype="float64")
    footprint = b["footprint_m2"].to_numpy(dtype="float64")
    renovated = _isin(b["treatment"], renovated_treatments) if "treatment" in b.columns else np.zeros(len(b), bool)
    inverse, index = _group_index(b, keys)
    # rows, footprint, known GFA, renovated GFA and rows without GFA per group, in one pass
    sums = K.group_totals(inverse, len(index), footprint, gfa, renovated)
    g = pd.DataFrame({"count": sums[0].astype(np.int64), "footprint_m2": sums[1], "gfa_m2": sums[2], "renovated_gfa_m2": sums[3],
                      "gfa_missing_count": sums[4].astype(np.int64)}, index=index).sort_index()
    missing = np.isnan(gfa)
    total = {"count": len(b), "footprint_m2": _total(footprint), "gfa_m2": _total(gfa),
             "renovated_gfa_m2": _total(np.where(renovated, gfa, 0.0)), "gfa_missing_count": int(missing.sum())}
    g = pd.concat([g, pd.DataFrame(total, index=_total_index(keys))])
    all_gfa = total["gfa_m2"]
    g["gfa_share_pct"] = g["gfa_m2"] / all_gfa * 100 if all_gfa > 0 else np.nan
    g = g.join(area_columns(g["gfa_m2"], "gfa")[["gfa_ha", "gfa_mu"]])
    g["count"] = g["count"].astype(int)
    g["gfa_missing_count"] = g["gfa_missing_count"].astype(int)
    g = g[["count", "footprint_m2", "gfa_m2", "gfa_ha", "gfa_mu", "gfa_share_pct", "renovated_gfa_m2", "gfa_missing_count"]]
    g.attrs["excluded_ids"] = _ids(b, missing) if missing.any() else []
    return g


def progress(buildings: gpd.GeoDataFrame, *, by: str | Sequence[str] | None = None, layer: str = "buildings", **gfa_options: Any) -> pd.DataFrame:
    """Percent complete weighted by GFA, overall or by group (e.g. ``phase``).

    Buildings without ``progress_pct`` or without a known GFA are left out of the
    weighting and counted in ``excluded_count`` (ids in ``.attrs["excluded_ids"]``).

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> round(float(progress(p["buildings"]).loc["total", "progress_pct"]), 1)
    60.0
    """
    b = _enriched(buildings, layer=layer, **gfa_options)
    _need_columns(b, ["progress_pct"], layer=layer, what="progress")
    pct = pd.to_numeric(b["progress_pct"], errors="coerce").astype("float64")
    gfa = b["gfa_m2"].astype("float64")
    ok = pct.notna() & gfa.notna()
    keys = _group_keys(b, by, layer=layer, what="progress") if by is not None else []
    data = pd.DataFrame({"w": np.where(ok, gfa, 0.0), "wp": np.where(ok, gfa * pct, 0.0), "n": 1, "bad": (~ok).astype(int)}, index=b.index)
    tot = pd.DataFrame([data.sum()], index=_total_index(keys))
    g = pd.concat([_grouped(data, b, keys, ["w", "wp", "n", "bad"]), tot]) if keys else tot
    out = pd.DataFrame(
        {
            "count": g["n"].astype(int),
            "gfa_m2": g["w"],
            "progress_pct": np.where(g["w"] > 0, g["wp"] / g["w"].where(g["w"] > 0, 1.0), np.nan),
            "excluded_count": g["bad"].astype(int),
        },
        index=g.index,
    )
    out.attrs["excluded_ids"] = _ids(b, ~ok)
    return out


# ----------------------------------------------------------------------- other layers
def line_lengths(lines: gpd.GeoDataFrame, *, by: str | Sequence[str] | None = None, layer: str = "lines") -> pd.DataFrame:
    """Count and true length (m, km) of a line layer, overall or by group."""
    length = true_length_m(lines, layer=layer)
    data = pd.DataFrame({"count": 1, "length_m": length.to_numpy()}, index=lines.index)
    out = _grouped_sum(lines, data, by, layer=layer, what="line_lengths")
    out["length_km"] = convert(out["length_m"], "m", "km")
    return out


def polygon_areas(polys: gpd.GeoDataFrame, *, by: str | Sequence[str] | None = None, layer: str = "polygons") -> pd.DataFrame:
    """Count and true area (m2, ha, mu) of a polygon layer, overall or by group."""
    area = true_area_m2(polys, layer=layer)
    data = pd.DataFrame({"count": 1, "area_m2": area.to_numpy()}, index=polys.index)
    out = _grouped_sum(polys, data, by, layer=layer, what="polygon_areas")
    return out.join(area_columns(out["area_m2"], "area")[["area_ha", "area_mu"]])


def amenity_summary(amenities: gpd.GeoDataFrame, *, by: str | Sequence[str] = "category", layer: str = "amenities") -> pd.DataFrame:
    """Count and summed ``capacity`` (parking spaces, places) of amenities by category.

    ``capacity_known_count`` says how many of each group have a capacity.
    """
    cap = pd.to_numeric(amenities["capacity"], errors="coerce").astype("float64") if "capacity" in amenities else pd.Series(np.nan, index=amenities.index)
    data = pd.DataFrame({"count": 1, "capacity": cap.fillna(0.0).to_numpy(), "capacity_known_count": cap.notna().astype(int).to_numpy()}, index=amenities.index)
    return _grouped_sum(amenities, data, by, layer=layer, what="amenity_summary")


def _grouped_sum(gdf: pd.DataFrame, data: pd.DataFrame, by: str | Sequence[str] | None, *, layer: str, what: str) -> pd.DataFrame:
    if by is None:
        out = pd.DataFrame([data.sum()], index=pd.Index(["total"]))
    else:
        keys = _group_keys(gdf, by, layer=layer, what=what)
        out = pd.concat([_grouped(data, gdf, keys, list(data.columns)), pd.DataFrame([data.sum()], index=_total_index(keys))])
    for c in out.columns:
        if c == "count" or c.endswith("_count"):
            out[c] = out[c].astype(int)
    return out


# ----------------------------------------------------------------------------- density
def density(
    areas: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    outdoor_spaces: gpd.GeoDataFrame | None = None,
    green_types: Sequence[str] = GREEN_SPACE_TYPES,
    id_column: str = "id",
    layer: str = "zones",
    **gfa_options: Any,
) -> pd.DataFrame:
    """Density indicators per zone or site: FAR, coverage, green ratio, GFA per ha, per capita.

    A building that straddles two areas is split between them in proportion to its
    footprint in each (its GFA with it), so no floor area is counted twice or lost.

    Parameters
    ----------
    areas : GeoDataFrame
        Zones or sites (polygons in the same metric CRS as ``buildings``).
    buildings : GeoDataFrame
        Buildings, or the output of :func:`building_gfa`.
    outdoor_spaces : GeoDataFrame, optional
        Outdoor spaces; those whose ``space_type`` is in ``green_types`` count as green.
    green_types : sequence of str
        Outdoor space types that are green space.
    id_column : str
        Column identifying the areas.
    layer : str
        Name for messages.
    **gfa_options
        Passed to :func:`building_gfa`.

    Returns
    -------
    DataFrame indexed by ``id_column`` with ``land_m2``, ``land_ha``, ``land_mu``,
    ``footprint_m2``, ``gfa_m2``, ``far``, ``coverage_pct``, ``gfa_per_ha_m2``,
    ``green_m2``, ``green_ratio_pct`` and, where the areas carry ``population`` or
    ``households``, ``gfa_per_capita_m2``, ``green_per_capita_m2``,
    ``gfa_per_household_m2``.
    """
    crs = require_metric(areas, layer=layer, what="density")
    if buildings.crs != areas.crs:
        raise RenewgeoError(f"density: buildings are in {buildings.crs} but {layer!r} in {crs}; load both through one project")
    _need_columns(areas, [id_column], layer=layer, what="density")
    b = _enriched(buildings, **gfa_options)
    land = true_area_m2(areas, layer=layer)
    # ratio of true to planar area per area polygon: applies to the pieces inside it
    ratio = (land / areas.geometry.area.replace(0, np.nan)).to_numpy()
    bi, ai = areas.sindex.query(b.geometry.values, predicate="intersects")
    inter = shapely.intersection(b.geometry.values[bi], areas.geometry.values[ai])
    piece = shapely.area(inter) * ratio[ai]
    share = np.divide(shapely.area(inter), b.geometry.area.to_numpy()[bi], out=np.zeros(len(bi)), where=b.geometry.area.to_numpy()[bi] > 0)
    gfa_piece = np.nan_to_num(b["gfa_m2"].to_numpy(dtype="float64")[bi]) * share
    n = len(areas)
    fp = np.bincount(ai, weights=piece, minlength=n)
    gfa = np.bincount(ai, weights=gfa_piece, minlength=n)
    green: np.ndarray = np.zeros(n)
    if outdoor_spaces is not None and len(outdoor_spaces):
        og = outdoor_spaces
        if "space_type" in og.columns:
            og = og[og["space_type"].astype("object").isin(list(green_types))]
        if len(og):
            oi, ai2 = areas.sindex.query(og.geometry.values, predicate="intersects")
            gi = shapely.intersection(og.geometry.values[oi], areas.geometry.values[ai2])
            green = np.bincount(ai2, weights=shapely.area(gi) * ratio[ai2], minlength=n)
    out = pd.DataFrame(index=pd.Index(areas[id_column].astype(str).to_numpy(), name=id_column))
    out = out.join(area_columns(pd.Series(land.to_numpy(), index=out.index), "land"))
    out["footprint_m2"] = fp
    out["gfa_m2"] = gfa
    lm = out["land_m2"].replace(0, np.nan)
    out["far"] = out["gfa_m2"] / lm
    out["coverage_pct"] = out["footprint_m2"] / lm * 100
    out["gfa_per_ha_m2"] = out["gfa_m2"] / out["land_ha"].replace(0, np.nan)
    out["green_m2"] = green
    out["green_ratio_pct"] = out["green_m2"] / lm * 100
    for col, name in (("population", "capita"), ("households", "household")):
        if col in areas.columns:
            people = pd.to_numeric(areas[col], errors="coerce").astype("float64").to_numpy()
            people = np.where(people > 0, people, np.nan)
            out[f"gfa_per_{name}_m2"] = out["gfa_m2"].to_numpy() / people
            if col == "population":
                out["green_per_capita_m2"] = out["green_m2"].to_numpy() / people
    if "name" in areas.columns:
        out.insert(0, "name", areas["name"].astype("object").to_numpy())
    return out


# --------------------------------------------------------------------------- the ledger
_SUM = re.compile(r"^sum\((?P<col>[A-Za-z_][A-Za-z0-9_]*)\)$")
_SUFFIX_UNIT = (("_km2", "km2"), ("_m2", "m2"), ("_ha", "ha"), ("_mu", "mu"), ("_km", "km"), ("_m", "m"))


def _column_unit(col: str) -> str | None:
    for suffix, unit in _SUFFIX_UNIT:
        if col.endswith(suffix):
            return unit
    return None


def _filter_text(where: Mapping[str, Any]) -> str:
    parts = []
    for k, v in where.items():
        if isinstance(v, list | tuple):
            parts.append(f"{k} in [{', '.join(map(str, v))}]")
        else:
            parts.append(f"{k} = {v}")
    return "; ".join(parts) or "(all)"


def _mask(gdf: pd.DataFrame, where: Mapping[str, Any]) -> np.ndarray:
    """The rows matching every ``column: value(s)`` of a target's filter (missing values match nothing)."""
    m = np.ones(len(gdf), dtype=bool)
    for col, val in where.items():
        s = gdf[col]
        vals = list(val) if isinstance(val, list | tuple) else [val]
        if all(isinstance(v, bool) for v in vals):
            hit = s.astype("boolean").isin(vals).to_numpy(dtype=bool, na_value=False)
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals) and pd.api.types.is_numeric_dtype(s):
            hit = s.isin(vals).to_numpy(dtype=bool, na_value=False)
        elif pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            hit = _isin(s, [str(v) for v in vals])
        else:
            hit = _isin(s.astype("string"), [str(v) for v in vals])
        m &= hit
    return m


class Ledger(pd.DataFrame):
    """The targets ledger: a DataFrame with a compact, coloured HTML view for Jupyter."""

    _metadata: ClassVar[list[str]] = ["project_name"]
    project_name: str

    @property
    def _constructor(self) -> type[Ledger]:
        return Ledger

    def _repr_html_(self) -> str:
        colours = {"met": "#2e7d32", "short": "#c62828", "over": "#1565c0"}
        rows = []
        for r in self.to_dict("records"):
            pct = "" if pd.isna(r["pct_of_target"]) else f"{r['pct_of_target']:,.1f}%"
            esc = {k: html.escape(str(v)) for k, v in r.items()}
            label = esc["label"] + (f"<br><small>{esc['label_zh']}</small>" if r["label_zh"] else "")
            note = f"<br><small>{esc['note']}</small>" if r["note"] else ""
            rows.append(
                f"<tr><td>{label}</td><td style='text-align:right'>{r['actual']:,.2f}</td>"
                f"<td style='text-align:right'>{r['target']:,.2f}</td><td>{esc['unit']}</td>"
                f"<td style='text-align:right'>{pct}</td>"
                f"<td style='color:{colours.get(str(r['status']), '#000')};font-weight:bold'>{esc['status']}</td>"
                f"<td><small>{esc['layer']}: {esc['filter']}</small>{note}</td></tr>"
            )
        met = int((self["status"] == "met").sum()) if len(self) else 0
        return (
            f"<div><b>Targets ledger</b>: {met} of {len(self)} met"
            "<table><thead><tr><th>target</th><th>actual</th><th>target</th><th>unit</th><th>% of target</th>"
            f"<th>status</th><th>measured on</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def _measure(
    target: Target, gdf: gpd.GeoDataFrame, sel: np.ndarray, *, layer: str
) -> tuple[float, list[str], str]:
    """Measured value in the target's unit, ids of rows left out, and a note."""
    fam = unit_family(target.unit)
    m = target.measure
    if m == "count":
        if fam != "count":
            raise SchemaError(f"target {target.id!r}: measure count gives a number of features; its unit must be one of count, spaces, places, not {target.unit!r}")
        return float(sel.sum()), [], ""
    if m in ("area", "gfa"):
        if fam != "area":
            raise SchemaError(f"target {target.id!r}: measure {m} gives an area; use unit m2, ha, mu or km2, not {target.unit!r}")
        if m == "area":
            if "footprint_m2" in gdf.columns:
                total = float(gdf["footprint_m2"].to_numpy()[sel].sum())
            else:
                total = float(true_area_m2(gdf[sel], layer=layer).sum())
            return float(convert(total, "m2", target.unit)), [], ""
        if "gfa_source" not in gdf.columns:
            raise SchemaError(f"target {target.id!r}: measure gfa needs a buildings layer, {layer!r} is not one")
        gfa = gdf["gfa_m2"].to_numpy(dtype="float64")[sel]
        missing = np.isnan(gfa)
        return float(convert(gfa[~missing].sum(), "m2", target.unit)), _ids(gdf[sel], missing) if missing.any() else [], ""
    if m == "length":
        if fam != "length":
            raise SchemaError(f"target {target.id!r}: measure length gives a length; use unit m or km, not {target.unit!r}")
        return float(convert(true_length_m(gdf[sel], layer=layer).sum(), "m", target.unit)), [], ""
    hit = _SUM.match(m)
    if not hit:
        raise SchemaError(f"target {target.id!r}: measure {m!r} is not understood; use count, area, length, gfa or sum(COLUMN)")
    col = hit.group("col")
    values = pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[sel]
    nan = np.isnan(values)
    excluded = _ids(gdf[sel], nan) if nan.any() else []
    total = float(values[~nan].sum())
    cu = _column_unit(col)
    if cu is not None:
        if unit_family(cu) != fam:
            raise SchemaError(f"target {target.id!r}: column {col!r} holds {cu} but the target's unit is {target.unit!r}")
        total = float(convert(total, cu, target.unit))
    elif fam in ("area", "length"):
        raise SchemaError(
            f"target {target.id!r}: the unit of column {col!r} cannot be told from its name, so it cannot be converted to "
            f"{target.unit!r}; name the column with its unit (e.g. {col}_m2) or use a count unit"
        )
    return total, excluded, ""


def targets_ledger(
    project: Project,
    *,
    tolerance_pct: float | None = None,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> Ledger:
    """Compare every target of the project with the value measured on its layers.

    Parameters
    ----------
    project : Project
        The project; its ``targets`` come from ``[[targets]]`` in project.toml.
    tolerance_pct : float, optional
        A target is ``met`` when the actual value is within this percentage of it
        (a target's own ``tolerance_pct`` overrides it); otherwise ``short`` or ``over``.
        Default ``[area] target_tolerance_pct``.
    layers : mapping, optional
        Layers by name that replace or add to the project's: result layers targets may
        name (``net_release``) and input layers with the columns analyses added.
        Buildings without floor-area columns get them from :func:`building_gfa` with
        the project's ``[area]`` settings.

    Returns
    -------
    Ledger

        A DataFrame, one row per target: ``id``, ``label``, ``label_zh``, ``layer``,
        ``filter``, ``measure``, ``unit``, ``target``, ``actual``, ``pct_of_target``,
        ``status``, ``features`` (rows matching the filter), ``excluded_count`` and
        ``excluded_ids`` (rows matching but without a value), ``note``, ``year``.

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> led = targets_ledger(p)
    >>> row = led.set_index("id").loc["renovated_gfa"]
    >>> float(row["actual"]), row["status"]
    (180000.0, 'met')
    """
    settings = project.settings.get(AreaSettings)
    tol_default = settings.target_tolerance_pct if tolerance_pct is None else tolerance_pct
    if tol_default < 0:
        raise RenewgeoError(f"tolerance_pct must be >= 0, got {tol_default}")
    cache: dict[str, gpd.GeoDataFrame] = {}

    def frame(name: str) -> gpd.GeoDataFrame:
        if name not in cache:
            g = layers[name] if layers is not None and name in layers else project[name]
            if project.kinds.get(name, name) == "buildings":
                g = _enriched(g, layer=name, **settings.gfa_options())
            cache[name] = g
        return cache[name]

    rows = []
    for t in project.targets:
        try:
            g = frame(t.layer)
        except KeyError as exc:
            if t.layer in RESULT_LAYERS:  # a result layer not computed in this call
                rows.append(_not_computed(t))
                continue
            raise SchemaError(f"target {t.id!r}: {exc.args[0]}") from None
        rows.append(_ledger_row(t, g, tol_default, said=t.layer in project.layers))
    led = Ledger(pd.DataFrame(rows, columns=_LEDGER_COLUMNS))
    led.project_name = project.name
    return led


_LEDGER_COLUMNS = ["id", "label", "label_zh", "layer", "filter", "measure", "unit", "target", "actual", "pct_of_target",
                   "status", "features", "excluded_count", "excluded_ids", "note", "year"]


def _not_computed(t: Target) -> dict[str, Any]:
    return {"id": t.id, "label": t.label or t.id, "label_zh": t.label_zh, "layer": t.layer, "filter": _filter_text(t.where),
            "measure": t.measure, "unit": t.unit, "target": t.value, "actual": np.nan, "pct_of_target": np.nan,
            "status": "not computed", "features": 0, "excluded_count": 0, "excluded_ids": "",
            "note": f"{t.layer!r} comes from an analysis that did not run (see the run's notes)", "year": t.year}


def _ledger_row(t: Target, g: gpd.GeoDataFrame, tolerance_pct: float, *, said: bool = False) -> dict[str, Any]:
    """One target's row. ``said``: an empty filter on this input layer was reported when the project loaded (log it once)."""
    for col in t.where:
        _need_columns(g, [col], layer=t.layer, what=f"target {t.id!r}")
    mask = _mask(g, t.where)
    actual, excluded, note = _measure(t, g, mask, layer=t.layer)
    n = int(mask.sum())
    if n == 0:
        note = f"the filter ({_filter_text(t.where)}) matched no feature of {t.layer!r}"
        (log.info if said else log.warning)("target %s: %s", t.id, note)
    elif excluded:
        note = f"{len(excluded)} matching feature(s) have no value and are left out"
    tol = t.tolerance_pct if t.tolerance_pct is not None else tolerance_pct
    pct = actual / t.value * 100 if t.value else np.nan
    if abs(actual - t.value) <= abs(t.value) * tol / 100:
        status = "met"
    else:
        status = "short" if actual < t.value else "over"
    return {
        "id": t.id, "label": t.label or t.id, "label_zh": t.label_zh, "layer": t.layer, "filter": _filter_text(t.where),
        "measure": t.measure, "unit": t.unit, "target": t.value, "actual": actual, "pct_of_target": pct,
        "status": status, "features": n, "excluded_count": len(excluded), "excluded_ids": ", ".join(excluded[:50]),
        "note": note, "year": t.year,
    }


# ------------------------------------------------------------------------ the analyses
AREA_GROUPS = ("zone", "use_after", "status", "treatment", "phase")


def _building_tables(b: gpd.GeoDataFrame, ctx: Context, s: AreaSettings) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for col in AREA_GROUPS:
        if col in b.columns:
            tables[f"area_by_{col}"] = summarize(b, col, renovated_treatments=s.renovated_treatments)
    if "progress_pct" in b.columns:
        by = "phase" if "phase" in b.columns else None
        tables["progress_by_phase" if by else "progress"] = progress(b, by=by)
    outdoor = ctx.layer("outdoor_spaces") if ctx.has("outdoor_spaces") else None
    for kind in ("zones", "sites"):
        if ctx.has(kind):
            tables[f"density_by_{kind[:-1]}"] = density(ctx.layer(kind), b, outdoor_spaces=outdoor, layer=kind)
    return tables


def _other_tables(ctx: Context) -> dict[str, pd.DataFrame]:
    project = ctx.project
    tables: dict[str, pd.DataFrame] = {}
    if ctx.has("amenities"):
        tables["amenities_by_category"] = amenity_summary(ctx.layer("amenities"))
    line_rows = []
    for name, kind in project.kinds.items():
        if kind in ("pedestrian_axis", "landscape_corridor", "trails", "paths"):
            t = line_lengths(project.layers[name], layer=name).to_dict("index")["total"]
            line_rows.append({"layer": name, "kind": kind, "count": int(t["count"]), "length_m": t["length_m"], "length_km": t["length_km"]})
    if line_rows:
        tables["line_lengths"] = pd.DataFrame(line_rows).set_index("layer")
    if ctx.has("outdoor_spaces"):
        o = ctx.layer("outdoor_spaces")
        tables["outdoor_by_type"] = polygon_areas(o, by="space_type" if "space_type" in o.columns else None, layer="outdoor_spaces")
    return tables


def compute_area(ctx: Context) -> Result:
    """The area analysis: floor area per building, summaries, progress, density, other layers' sizes.

    Buildings get ``footprint_m2``, ``gfa_m2``, ``gfa_source`` and ``floors_used``
    (:func:`building_gfa` with the ``[area]`` storey heights); tables
    ``area_by_<column>`` for each of zone, use_after, status, treatment, phase,
    ``progress_by_phase``, ``density_by_zone`` / ``density_by_site``,
    ``amenities_by_category``, ``line_lengths``, ``outdoor_by_type``; the grid
    ``gfa_per_ha``.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["area"])
    >>> float(r.tables["area_by_zone"].loc["total", "gfa_m2"])
    180000.0
    """
    s = ctx.section(AreaSettings)
    res = Result(tables=_other_tables(ctx))
    if ctx.has("buildings"):
        b = building_gfa(ctx.layer("buildings"), **s.gfa_options())
        res.columns["buildings"] = pd.DataFrame(b[list(GFA_COLUMNS)])
        res.tables = {**_building_tables(b, ctx, s), **res.tables}
        missing = int((b["gfa_source"] == "missing").sum())
        if missing:
            res.notes.append(f"{missing} of {len(b)} buildings have neither gfa_m2, floors nor height_m: their floor area is unknown "
                             f"and left out of the sums ({', '.join(_ids(b, b['gfa_source'] == 'missing')[:10])})")
        if len(b):
            res.grids["gfa_per_ha"] = raster.density_surface(b, "gfa_m2", resolution_m=s.gfa_surface_m)
    return res


def format_ledger(ledger: pd.DataFrame) -> str:
    """The ledger as a plain-text table for the terminal."""
    lines = [f"{'target':<34} {'actual':>14} {'target':>14} {'unit':<7} {'%':>7}  status"]
    for r in ledger.to_dict("records"):
        pct = "" if pd.isna(r["pct_of_target"]) else f"{r['pct_of_target']:.1f}"
        lines.append(f"{str(r['label'])[:34]:<34} {r['actual']:>14,.2f} {r['target']:>14,.2f} {r['unit']!s:<7} {pct:>7}  {r['status']}"
                     + (f"  ({r['note']})" if r["note"] else ""))
    met = int((ledger["status"] == "met").sum())
    lines.append(f"{met} of {len(ledger)} targets met")
    return "\n".join(lines)


add_field_labels({"footprint_m2": ("占地面积 (m²)", "footprint (m²)"), "floors_used": ("计算层数", "storeys used")})

register(Analysis(
    name="area", help="floor area by use, zone and status; density; sizes of the other layers", compute=compute_area,
    settings=AreaSettings, columns={"buildings": GFA_COLUMNS}, workbook="area",
    cli_flags={"tolerance-pct": "area.target_tolerance_pct"}, includes=("targets",),
))
