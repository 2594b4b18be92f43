"""District benchmarking: share of land, share of a measure, location quotient, density and concentration.

"Ningbo's Yongjiang corridor holds 43 % of the city's provincial-level innovation
platforms on 2 % of its land": a location quotient (LQ) of 43 / 2 = 21.5. The same
indicators for any polygon layer of districts with count or amount columns (platforms,
jobs, firms, floor area):

* **share of land**: each district's true (ellipsoidal) area over the districts' total
  (:func:`renewgeo.units.true_area_m2`; a layer in degrees is refused, see
  :func:`read_districts`), or a published share in the column ``land_share_pct``;
* **share of the measure**: the district's amount over the districts' total, or a
  published share in the column ``<measure>_share_pct`` (percent of the city's total);
* **location quotient**: share of the measure / share of land (1: as dense as the whole;
  21.5: 21.5 times as dense);
* **density**: the amount per hectare and per mu (1 mu = 10000/15 m2) of district land;
* **concentration** across the districts: the Gini coefficient of their shares (0: every
  district holds the same, (n-1)/n: one holds everything) and its Lorenz curve, from
  PySAL's ``inequality`` package; and the Gini of their location quotients (of density).

``by=`` names a column (a city) whose values split the layer into groups that are
benchmarked apart, side by side: shares, LQs and Gini coefficients are within a group.
In one group a share is either published for every district or computed for every
district, never a mix of the two (their totals differ).

>>> import geopandas as gpd, shapely
>>> d = gpd.GeoDataFrame({"name": ["A", "B", "C"], "firms": [30, 10, 0]}, crs=4549, geometry=[
...     shapely.box(500000, 3985000, 501000, 3986000), shapely.box(501000, 3985000, 503000, 3986000),
...     shapely.box(503000, 3985000, 504000, 3986000)])
>>> r = benchmark(d, measures=["firms"])
>>> r.table[["district", "share_pct", "land_share_pct", "lq"]].round(2)
  district  share_pct  land_share_pct   lq
0        A       75.0            25.0  3.0
1        B       25.0            50.0  0.5
2        C        0.0            25.0  0.0
>>> round(float(r.concentration.loc[0, "gini"]), 4)  # sum |xi - xj| / (2 n^2 mean) of (75, 25, 0)
0.5
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from renewgeo import io as rio
from renewgeo._errors import CRSError, RenewgeoError, SchemaError
from renewgeo._validate import closest, visible_text
from renewgeo.crs import gcj02_to_wgs84_gdf, require_crs, to_crs
from renewgeo.styles import Lang, chart_language, text
from renewgeo.units import M2_PER_MU, true_area_m2

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CONCENTRATION_COLUMNS",
    "LAND_SHARE",
    "LORENZ_COLUMNS",
    "SHARE_SUFFIX",
    "TABLE_COLUMNS",
    "BenchmarkResult",
    "benchmark",
    "format_benchmark",
    "lorenz_chart",
    "lq_chart",
    "read_districts",
]

log = logging.getLogger(__name__)

SHARE_SUFFIX = "_share_pct"
"""A column ``<measure>_share_pct`` holds a published share of the measure, in percent of the city's total."""
LAND_SHARE = "land_share_pct"
"""A column ``land_share_pct`` holds a published share of the city's land, in percent."""
ALL = "all"
"""The group of every district when no ``by`` column is given."""

TABLE_COLUMNS = ("group", "district", "measure", "amount", "share_pct", "land_share_pct", "lq", "area_m2", "area_ha",
                 "area_mu", "per_ha", "per_mu", "share_source", "land_share_source")
CONCENTRATION_COLUMNS = ("group", "measure", "districts", "total", "gini", "gini_density", "top_district", "top_share_pct",
                         "max_lq_district", "max_lq", "share_source", "land_share_source")
LORENZ_COLUMNS = ("group", "measure", "rank", "district", "cum_districts_pct", "cum_measure_pct")

_PCT_SLACK = 0.5  # published shares of one total may add up to 100.5 % (each rounded)
_SHOWN = 10  # districts named in an error message
_NAME_COLUMNS = ("name", "district", "name_zh")


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class BenchmarkResult:
    """The benchmark of a layer of districts.

    Attributes
    ----------
    table : DataFrame
        One row per district x measure (:data:`TABLE_COLUMNS`): the amount, its share
        and the district's share of land (percent), the location quotient, the area
        (m2, ha, mu), the amount per ha and per mu, and whether each share was
        ``published`` or computed (``amount`` / ``area``).
    concentration : DataFrame
        One row per group x measure (:data:`CONCENTRATION_COLUMNS`): the number of
        districts, the total amount, the Gini coefficient of the districts' shares and of
        their location quotients, the district with the largest share and with the
        largest location quotient.
    lorenz : DataFrame
        The Lorenz curve of each group x measure (:data:`LORENZ_COLUMNS`): districts
        from the smallest share to the largest, cumulative share of districts and of the
        measure (percent), from (0, 0) to (100, 100).
    notes : tuple of str
        What a reader should know: groups without a measure, shares of different totals.
    measures : tuple of str
        The measures, in the order asked.
    """

    table: pd.DataFrame
    concentration: pd.DataFrame
    lorenz: pd.DataFrame
    notes: tuple[str, ...] = ()
    measures: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        return format_benchmark(self)

    def _repr_html_(self) -> str:
        cols = ("group", "district", "measure", "share_pct", "land_share_pct", "lq", "per_ha", "per_mu")
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r[c]))}</td>" for c in cols) + "</tr>"
                       for r in self.table.to_dict("records"))
        conc = "".join(f"<li>{html.escape(str(r['group']))} · {html.escape(str(r['measure']))}: Gini {html.escape(_cell(r['gini']))}</li>"
                       for r in self.concentration.to_dict("records"))
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<div><b>District benchmark</b><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                f"<ul>{conc}</ul>{f'<ul>{notes}</ul>' if notes else ''}</div>")


def _cell(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "-" if not np.isfinite(v) else f"{float(v):.4g}"
    return str(v)


# ----------------------------------------------------------------------------- reading
def read_districts(
    path: Any,
    *,
    layer: str | None = None,
    coords: Literal["wgs84", "gcj02"] = "wgs84",
    crs: Any = "auto",
) -> gpd.GeoDataFrame:
    """Read a layer of districts and bring it to a metric CRS, ready for :func:`benchmark`.

    Parameters
    ----------
    path : path-like
        Any file :func:`renewgeo.io.read_layer` reads (GeoPackage, GeoJSON, Shapefile ...).
    layer : str, optional
        The layer, in a file that holds several.
    coords : {"wgs84", "gcj02"}
        ``"gcj02"``: the coordinates are GCJ-02 (AMap/Gaode, Tencent; files that claim
        EPSG:4326 but sit 300-500 m off), converted to WGS 84 first.
    crs : "auto" or CRS
        The metric CRS for a layer in degrees (``"auto"``: CGCS2000 Gauss-Kruger in China,
        UTM elsewhere); any other value reprojects the layer to it whatever its CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        In a metric CRS.

    Raises
    ------
    ReadError
        The file cannot be read.
    CRSError
        The layer has no CRS (renewgeo never guesses one).
    """
    label = layer or str(path)
    gdf = rio.read_layer(path, layer=layer)
    require_crs(gdf, layer=label)
    if coords not in ("wgs84", "gcj02"):
        raise RenewgeoError(f"coords={coords!r}: use 'wgs84' or 'gcj02'")
    if coords == "gcj02":
        gdf = gcj02_to_wgs84_gdf(gdf, layer=label)
    here = CRS.from_user_input(gdf.crs)
    metric = not here.is_geographic and {ax.unit_name for ax in here.axis_info} <= {"metre", "meter"}
    explicit = not (isinstance(crs, str) and crs.lower() == "auto")
    if explicit or not metric:
        gdf = to_crs(gdf, crs, layer=label)
        log.info("%s: reprojected from %s to %s for true areas", label, here.to_string(), CRS.from_user_input(gdf.crs).to_string())
    return gdf


# ----------------------------------------------------------------------------- checks
def _listed(names: pd.Series, values: pd.Series | None = None) -> str:
    """``A='x', B='y' ... (12 in all)``: the districts (and their values) an error is about."""
    items = [repr(n) if values is None else f"{n!r}={_plain(v)!r}" for n, v in
             zip(names.tolist(), (values.tolist() if values is not None else names.tolist()), strict=True)]
    more = f" ... ({len(items)} in all)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _names(districts: gpd.GeoDataFrame, name: str | None, layer: str) -> pd.Series:
    if name is None:
        name = next((c for c in _NAME_COLUMNS if c in districts.columns), None)
        if name is None:
            return pd.Series([str(i) for i in districts.index], index=districts.index, name="district")
    elif name not in districts.columns:
        raise SchemaError(_no_column(districts, name, layer, "name=", "the column that names each district"))
    names = districts[name]
    if names.isna().any():
        raise SchemaError(f"layer {layer!r}, column {name!r}: districts at rows {_listed(pd.Series(np.flatnonzero(names.isna())))} "
                          "have no name; name every district (or choose another column with name=).")
    return names.astype(str).rename("district")


def _no_column(districts: pd.DataFrame, col: str, layer: str, option: str, what: str) -> str:
    cols = [str(c) for c in districts.columns if c != districts.geometry.name]
    bases = {c.removesuffix(SHARE_SUFFIX): c for c in cols}  # "platfroms" is near "platforms" (of platforms_share_pct)
    near = closest(col.removesuffix(SHARE_SUFFIX), bases)
    hint = bases[near] if near is not None else closest(col, cols)
    return (f"layer {layer!r} has no column {col!r}" + (f" (did you mean {hint!r}?)" if hint else "") +
            f"; {option} names {what}. Its columns: {cols}")


def _numbers(districts: pd.DataFrame, col: str, names: pd.Series, layer: str, *, pct: bool) -> pd.Series:
    """A column as floats, refused with the districts and values at fault when it holds text, infinities or negatives."""
    raw = districts[col]
    what = "a published share in percent (0-100)" if pct else "a count or an amount"
    fix = "write numbers, and leave a cell empty where the figure is unknown"
    if pd.api.types.is_bool_dtype(raw):
        raise SchemaError(f"layer {layer!r}, column {col!r} holds true/false values, but a measure is {what}; {fix}.")
    num = raw.astype(float) if pd.api.types.is_numeric_dtype(raw) else pd.to_numeric(raw, errors="coerce").astype(float)
    bad = raw.notna() & num.isna()
    if bad.any():
        raise SchemaError(f"layer {layer!r}, column {col!r} holds text where {what} belongs: {_listed(names[bad], raw[bad])}; {fix}.")
    bad = num.notna() & ~np.isfinite(num)
    if bad.any():
        raise SchemaError(f"layer {layer!r}, column {col!r} holds infinite values: {_listed(names[bad], raw[bad])}; {fix}.")
    bad = num < 0
    if bad.any():
        raise SchemaError(f"layer {layer!r}, column {col!r} holds negative values: {_listed(names[bad], raw[bad])}; "
                          f"{what} cannot be negative: correct them at the source.")
    if pct:
        bad = num > 100
        if bad.any():
            raise SchemaError(f"layer {layer!r}, column {col!r} holds shares above 100 %: {_listed(names[bad], raw[bad])}; "
                              "write shares in percent of the city's total (43 for 43 %).")
    return num


def _geometry(districts: gpd.GeoDataFrame, names: pd.Series, layer: str) -> None:
    geoms = districts.geometry.values
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise SchemaError(f"layer {layer!r}: districts without a geometry: {_listed(names[missing])}; "
                          "draw them, or remove them from the layer.")
    types = shapely.get_type_id(geoms)
    bad = ~np.isin(types, (3, 6))  # Polygon, MultiPolygon
    if bad.any():
        kinds = pd.Series(shapely.get_type_id(geoms)[bad]).map({0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint",
                                                               5: "MultiLineString", 7: "GeometryCollection"})
        raise SchemaError(f"layer {layer!r}: districts must be polygons, but {_listed(names[bad], kinds.set_axis(names[bad].index))} "
                          "are not; give the district boundaries (polygons or multipolygons).")
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        raise SchemaError(f"layer {layer!r}: invalid polygons (self-intersecting rings ...) at {_listed(names[bad])}, so their areas "
                          "are wrong; repair them first (gdf.geometry = gdf.geometry.make_valid(), or QGIS Fix geometries).")


# ----------------------------------------------------------------------------- benchmark
@dataclass
class _Measure:
    name: str
    amount: pd.Series | None
    share: pd.Series | None  # published, percent
    amount_col: str | None
    share_col: str | None


def _measure(districts: pd.DataFrame, m: str, names: pd.Series, layer: str) -> _Measure:
    if not isinstance(m, str) or not m:
        raise SchemaError(f"measures: {m!r} is not a column name; name the columns of counts or amounts, e.g. measures=['jobs'].")
    base = m[: -len(SHARE_SUFFIX)] if m.endswith(SHARE_SUFFIX) else m
    amount_col = base if base in districts.columns else None
    share_col = base + SHARE_SUFFIX if base + SHARE_SUFFIX in districts.columns else None
    if amount_col is None and share_col is None:
        raise SchemaError(_no_column(districts, m, layer, "a measure", f"a column of counts or amounts (or {base + SHARE_SUFFIX!r}: "
                                     "a published share in percent)"))
    return _Measure(
        name=base,
        amount=None if amount_col is None else _numbers(districts, amount_col, names, layer, pct=False),
        share=None if share_col is None else _numbers(districts, share_col, names, layer, pct=True),
        amount_col=amount_col, share_col=share_col,
    )


def _published(values: pd.Series | None, names: pd.Series, col: str | None, group: str, layer: str) -> pd.Series | None:
    """A group's published shares (fractions), or None when it has none; refuses a partial or an over-full set."""
    if values is None or col is None or values.isna().all():
        return None
    if values.isna().any():
        given, lacking = names[values.notna()], names[values.isna()]
        raise SchemaError(
            f"layer {layer!r}, column {col!r}: group {group!r} has published shares for {_listed(given)} but not for "
            f"{_listed(lacking)}; the shares of one group are all published or all computed (their totals differ). Fill in "
            "every district of the group, or put the districts of different cities in different groups (by= / --by)."
        )
    total = float(values.sum())
    if total > 100 + _PCT_SLACK:
        raise SchemaError(
            f"layer {layer!r}, column {col!r}: the published shares of group {group!r} add up to {total:g} %, more than the "
            "whole; they cannot be shares of one total. Put the districts of different cities in different groups "
            "(by= / --by), or correct the figures."
        )
    return values / 100.0


def _gini(values: np.ndarray) -> float:
    """The Gini coefficient of ``values`` (PySAL ``inequality``); NaN for fewer than two districts or nothing to share."""
    from inequality.gini import Gini  # PySAL; imported here: importing it costs ~2 s

    if len(values) < 2 or not np.isfinite(values).all() or float(values.sum()) <= 0:
        return float("nan")
    return float(Gini(np.asarray(values, dtype=float)).g)


def _lorenz(group: str, measure: str, names: pd.Series, shares: np.ndarray) -> list[dict[str, Any]]:
    from inequality.wolfson import lorenz_curve  # PySAL

    if len(shares) < 1 or not np.isfinite(shares).all() or float(shares.sum()) <= 0:
        return []
    order = np.argsort(shares, kind="stable")
    population, cumulative = lorenz_curve(np.asarray(shares, dtype=float))
    labels = ["", *names.to_numpy()[order].tolist()]
    return [{"group": group, "measure": measure, "rank": k, "district": labels[k], "cum_districts_pct": 100 * float(population[k]),
             "cum_measure_pct": 100 * float(cumulative[k])} for k in range(len(labels))]


def _group_of(districts: pd.DataFrame, by: str | None, names: pd.Series, layer: str) -> pd.Series:
    if by is None:
        return pd.Series(ALL, index=districts.index)
    if by not in districts.columns:
        raise SchemaError(_no_column(districts, by, layer, "by=", "the column that groups districts (a city)"))
    g = districts[by]
    if g.isna().any():
        raise SchemaError(f"layer {layer!r}, column {by!r}: districts without a group: {_listed(names[g.isna()])}; "
                          "fill in the group (the city) of every district.")
    return g.astype(str)


def _check_names(names: pd.Series, groups: pd.Series, layer: str) -> None:
    dup = pd.DataFrame({"g": groups, "n": names}).duplicated(keep=False)
    if dup.any():
        raise SchemaError(f"layer {layer!r}: districts share a name in one group: {_listed(names[dup])}; give each district its "
                          "own name (or another column with name=).")


def benchmark(
    districts: gpd.GeoDataFrame,
    *,
    measures: str | Sequence[str],
    name: str | None = None,
    by: str | None = None,
    layer: str = "districts",
) -> BenchmarkResult:
    """Share of land, share of each measure, location quotient, density and concentration per district.

    Parameters
    ----------
    districts : geopandas.GeoDataFrame
        District polygons in a metric CRS (:func:`read_districts` reads and reprojects a
        file), with one column per measure: a count or an amount per district (platforms,
        jobs, floor area), and/or ``<measure>_share_pct``, its published share in percent
        of the city's total. A column ``land_share_pct`` gives published shares of land;
        without it each district's share is its true area over the districts' total.
    measures : str or sequence of str
        The measures (column names; ``platforms`` and ``platforms_share_pct`` name the
        same measure).
    name : str, optional
        The column that names each district (default: ``name``, ``district`` or
        ``name_zh``, whichever comes first, else the index).
    by : str, optional
        A column (a city) that splits the districts into groups benchmarked apart.
    layer : str
        The layer's name in messages.

    Returns
    -------
    BenchmarkResult
        ``table`` (district x measure), ``concentration`` (group x measure), ``lorenz``
        and ``notes``. A group where a measure has no figure at all is left out of that
        measure's rows and named in the notes.

    Raises
    ------
    CRSError
        The layer has no CRS, or is in degrees (reproject it: :func:`read_districts`,
        or ``renewgeo.crs.to_crs(gdf, "auto")``).
    SchemaError
        The layer is empty; a measure's column is missing, holds text, infinities or
        negative numbers, shares above 100 %; a district has no figure where the others
        of its group do; a group's published shares add up to more than 100 %; a
        district is not a valid polygon. The message names the column, the districts
        and the fix.

    Examples
    --------
    The Ningbo Yongjiang corridor (seed 004): 43 % of the platforms on 2 % of the land.

    >>> import geopandas as gpd, shapely
    >>> d = gpd.GeoDataFrame({"district": ["Yongjiang corridor", "rest of Ningbo"], "land_share_pct": [2.0, 98.0],
    ...                       "platforms_share_pct": [43.0, 57.0]},
    ...                      geometry=[shapely.box(620000, 3300000, 630000, 3310000),
    ...                                shapely.box(630000, 3300000, 700000, 3380000)], crs=4549)
    >>> r = benchmark(d, measures=["platforms"])
    >>> r.table.set_index("district").loc["Yongjiang corridor", "lq"].round(2)
    np.float64(21.5)
    """
    if not isinstance(districts, gpd.GeoDataFrame):
        raise SchemaError(f"layer {layer!r}: benchmark() takes a GeoDataFrame of district polygons, got {type(districts).__name__}.")
    wanted = [measures] if isinstance(measures, str) else list(measures)
    if not wanted:
        raise SchemaError("measures: name at least one column of counts or amounts, e.g. measures=['platforms'].")
    if len(districts) == 0:
        raise SchemaError(f"layer {layer!r} holds no districts; give a layer with at least one district polygon.")
    require_crs(districts, layer=layer)
    names = _names(districts, name, layer).reset_index(drop=True)
    districts = districts.reset_index(drop=True)  # positions from here on: an index may repeat (layers concatenated)
    groups = _group_of(districts, by, names, layer)
    _check_names(names, groups, layer)
    specs = [_measure(districts, m, names, layer) for m in wanted]
    seen: dict[str, str] = {}
    for s, m in zip(specs, wanted, strict=True):
        if s.name in seen:
            raise SchemaError(f"measures: {m!r} and {seen[s.name]!r} name the same measure {s.name!r}; name it once.")
        seen[s.name] = m
    land_pub = _numbers(districts, LAND_SHARE, names, layer, pct=True) if LAND_SHARE in districts.columns else None
    _geometry(districts, names, layer)
    try:
        area_m2 = true_area_m2(districts, layer=layer)
    except CRSError as exc:
        raise CRSError(f"{exc} (renewgeo.districts.read_districts reads a file and does this.)") from None
    bad = ~np.isfinite(area_m2.to_numpy()) | (area_m2.to_numpy() <= 0)
    if bad.any():  # never a NaN share of land passed on as a number
        raise RenewgeoError(f"layer {layer!r}: no true area could be computed for {_listed(names[bad])}; this is a bug in "
                            "renewgeo.units.true_area_m2, please report it with the layer.")
    rows: list[dict[str, Any]] = []
    conc: list[dict[str, Any]] = []
    lorenz: list[dict[str, Any]] = []
    notes: list[str] = []
    for g in pd.unique(groups):
        idx = groups.index[groups.to_numpy() == g]
        _one_group(str(g), idx, names, area_m2, land_pub, specs, layer, rows, conc, lorenz, notes)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    order = {s.name: i for i, s in enumerate(specs)}
    table = table.sort_values("measure", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    concentration = pd.DataFrame(conc, columns=list(CONCENTRATION_COLUMNS))
    concentration = concentration.sort_values("measure", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    curve = pd.DataFrame(lorenz, columns=list(LORENZ_COLUMNS))
    curve = curve.sort_values("measure", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    for n in notes:
        log.info("%s", n)
    return BenchmarkResult(table=table, concentration=concentration, lorenz=curve, notes=tuple(notes),
                           measures=tuple(s.name for s in specs))


def _one_group(group: str, idx: pd.Index, names: pd.Series, area_m2: pd.Series, land_pub: pd.Series | None,
               specs: list[_Measure], layer: str, rows: list[dict[str, Any]], conc: list[dict[str, Any]],
               lorenz: list[dict[str, Any]], notes: list[str]) -> None:
    """The rows, concentration and Lorenz curve of one group, every measure."""
    gnames = names.loc[idx]
    area = area_m2.loc[idx]
    pub_land = _published(None if land_pub is None else land_pub.loc[idx], gnames, LAND_SHARE, group, layer)
    land = pub_land if pub_land is not None else area / float(area.sum())
    land_source = "published" if pub_land is not None else "area"
    where = "" if group == ALL else f"group {group!r}: "
    for s in specs:
        amount = None if s.amount is None else s.amount.loc[idx]
        share_pub = _published(None if s.share is None else s.share.loc[idx], gnames, s.share_col, group, layer)
        if share_pub is None and (amount is None or amount.isna().all()):
            notes.append(f"{where}no figure for {s.name!r} in any district; left out of {s.name!r}")
            continue
        if share_pub is not None:
            share, source = share_pub, "published"
            if amount is not None and amount.notna().all() and float(amount.sum()) > 0:
                gap = float((amount / float(amount.sum()) - share).abs().max())
                if gap > 0.01:
                    notes.append(f"{where}the published shares of {s.name!r} differ from the shares of its amounts by up to "
                                 f"{100 * gap:.1f} points (the layer may not hold the whole city); the published ones are used")
        else:
            assert amount is not None
            if amount.isna().any():
                raise SchemaError(
                    f"layer {layer!r}, column {s.amount_col!r}: {where}no figure for {_listed(gnames[amount.isna()])} while the "
                    f"other districts have one; fill them in (0 where there are none), or remove those districts."
                )
            total = float(amount.sum())
            if total <= 0:
                notes.append(f"{where}{s.name!r} is 0 in every district: no shares, location quotients or Gini")
                share = pd.Series(np.nan, index=idx)
            else:
                share = amount / total
            source = "amount"
        if source != land_source:
            summed = float((share if source == "published" else land).sum())
            if summed < 1 - _PCT_SLACK / 100:
                which = f"{s.name!r} shares" if source == "published" else "land shares"
                other = "land shares are computed from the districts' areas" if source == "published" else \
                    f"{s.name!r} shares are computed from its amounts"
                notes.append(f"{where}the published {which} add up to {100 * summed:.1f} % (the layer holds part of the city) "
                             f"but the {other}, which add up to 100 %: the location quotients compare different totals; "
                             f"publish both or neither")
        with np.errstate(divide="ignore", invalid="ignore"):
            lq = (share / land).where(land > 0)
        area_ha, area_mu = area / 10_000.0, area / M2_PER_MU
        amt = amount if amount is not None else pd.Series(np.nan, index=idx)
        for i in idx:
            rows.append({"group": group, "district": gnames[i], "measure": s.name, "amount": float(amt[i]),
                         "share_pct": 100 * float(share[i]), "land_share_pct": 100 * float(land[i]), "lq": float(lq[i]),
                         "area_m2": float(area[i]), "area_ha": float(area_ha[i]), "area_mu": float(area_mu[i]),
                         "per_ha": float(amt[i] / area_ha[i]), "per_mu": float(amt[i] / area_mu[i]),
                         "share_source": source, "land_share_source": land_source})
        shares = share.to_numpy(dtype=float)
        gini = _gini(shares)
        if len(idx) < 2:
            notes.append(f"{where}one district only: no Gini coefficient for {s.name!r}")
        known = np.isfinite(shares)
        top = int(np.nanargmax(shares)) if known.any() else None
        lqs = lq.to_numpy(dtype=float)
        top_lq = int(np.nanargmax(lqs)) if np.isfinite(lqs).any() else None
        conc.append({"group": group, "measure": s.name, "districts": len(idx),
                     "total": float(amount.sum()) if amount is not None and amount.notna().all() else float("nan"),
                     "gini": gini, "gini_density": _gini(lqs),
                     "top_district": gnames.iloc[top] if top is not None else None,
                     "top_share_pct": 100 * float(shares[top]) if top is not None else float("nan"),
                     "max_lq_district": gnames.iloc[top_lq] if top_lq is not None else None,
                     "max_lq": float(lqs[top_lq]) if top_lq is not None else float("nan"),
                     "share_source": source, "land_share_source": land_source})
        lorenz.extend(_lorenz(group, s.name, gnames, shares))


# ----------------------------------------------------------------------------- printing
def _num(v: Any, digits: int = 2) -> str:
    """A number as the table shows it: thousands whole, else at most ``digits`` decimals; ``-`` for none."""
    if v is None or not np.isfinite(float(v)):
        return "-"
    x = float(v)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    s = f"{x:.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _density(v: Any) -> str:
    """A density: as :func:`_num` from 1 up, three significant digits below (0.231, 0.00231, 2.31e-06)."""
    if v is None or not np.isfinite(float(v)) or abs(float(v)) >= 1 or float(v) == 0:
        return _num(v)
    x = float(v)
    return f"{x:.3g}" if abs(x) < 1e-3 else np.format_float_positional(x, precision=3, unique=False, fractional=False, trim="-")


def format_benchmark(result: BenchmarkResult) -> str:
    """The benchmark as text: per group and measure, each district's shares, LQ and density, then the Gini.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> d = gpd.GeoDataFrame({"district": ["A", "B"], "jobs": [300, 100]},
    ...                      geometry=[shapely.box(500000, 3985000, 501000, 3986000),
    ...                                shapely.box(501000, 3985000, 502000, 3986000)], crs=4549)
    >>> print(format_benchmark(benchmark(d, measures="jobs")))  # doctest: +NORMALIZE_WHITESPACE
    jobs · Gini 0.25 (Gini of density 0.25)
     district  amount  share (%)  land share (%)  LQ  per ha  per mu
            A     300         75              50 1.5       3     0.2
            B     100         25              50 0.5       1    0.07
    """
    out: list[str] = []
    t = result.table
    for r in result.concentration.to_dict("records"):
        part = t[(t["group"] == r["group"]) & (t["measure"] == r["measure"])]
        head = r["measure"] if r["group"] == ALL else f"{r['group']} · {r['measure']}"
        sources = []
        if r["share_source"] == "published":
            sources.append("shares published")
        if r["land_share_source"] == "published":
            sources.append("land shares published")
        out.append(f"{head} · Gini {_num(r['gini'])} (Gini of density {_num(r['gini_density'])})"
                   + (f" · {', '.join(sources)}" if sources else ""))
        shown = pd.DataFrame({
            "district": part["district"].to_numpy(),
            "amount": [_num(v) for v in part["amount"]],
            "share (%)": [_num(v, 1) for v in part["share_pct"]],
            "land share (%)": [_num(v, 1) for v in part["land_share_pct"]],
            "LQ": [_num(v) for v in part["lq"]],
            "per ha": [_density(v) for v in part["per_ha"]],
            "per mu": [_density(v) for v in part["per_mu"]],
        })
        with pd.option_context("display.width", 220, "display.max_colwidth", 40, "display.max_rows", 500):
            out.append(shown.to_string(index=False))
        out.append("")
    if result.notes:
        out.append("notes:")
        out.extend(f"  - {n}" for n in result.notes)
    return "\n".join(out).rstrip()


# ----------------------------------------------------------------------------- charts
_WORDS = {
    "lorenz": ("各区集中度：洛伦兹曲线", "Concentration across districts: Lorenz curves"),
    "lq": ("区位商：指标份额 / 用地份额", "Location quotient: share of the measure / share of land"),
    "x": ("区的累计份额 (%)", "cumulative share of districts (%)"),
    "y": ("指标的累计份额 (%)", "cumulative share of the measure (%)"),
    "equal": ("完全均匀", "perfect equality"),
    "lq_axis": ("区位商 (1 = 与整体同密度)", "location quotient (1 = as dense as the whole)"),
}


def _label(value: Any) -> str:
    r"""A name from the data, drawn as it is: no mathtext from ``$`` (it can fail on hostile names), control characters as ``\x1b``."""
    return visible_text(value).replace("$", r"\$")  # matplotlib: no unescaped "$", no mathtext; "\$" is drawn as "$"


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 3)
    return (n + cols - 1) // cols, cols


def lorenz_chart(result: BenchmarkResult, *, lang: Lang = "zh+en") -> Figure:
    """The Lorenz curve of each measure (one panel each), a line per group with its Gini coefficient.

    Parameters
    ----------
    result : BenchmarkResult
    lang : {"zh", "en", "zh+en"}
        Language of the titles (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.figure import Figure

    lang, rc = chart_language(lang)
    measures = [m for m in result.measures if (result.lorenz["measure"] == m).any()] or list(result.measures[:1])
    nrows, ncols = _grid(max(len(measures), 1))
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(4.2 * ncols, 4.0 * nrows + 0.6), dpi=110, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.ravel()):
            if k >= len(measures):
                ax.set_visible(False)
                continue
            m = measures[k]
            ax.plot([0, 100], [0, 100], color="#999", linewidth=1, linestyle="--", label=text(_WORDS["equal"], lang))
            curve = result.lorenz[result.lorenz["measure"] == m]
            conc = result.concentration[result.concentration["measure"] == m]
            ginis = dict(zip(conc["group"], conc["gini"], strict=True))
            for g, part in curve.groupby("group", sort=False):
                gini = ginis.get(g, float("nan"))
                who = "" if g == ALL else f"{_label(g)} "
                ax.plot(part["cum_districts_pct"], part["cum_measure_pct"], marker="o", markersize=3, linewidth=1.6,
                        label=f"{who}Gini {_num(gini)}")
            ax.set_xlim(0, 100)
            ax.set_ylim(0, 100)
            ax.set_aspect("equal")
            ax.set_title(_label(m), fontsize=10)
            ax.set_xlabel(text(_WORDS["x"], lang), fontsize=8)
            ax.set_ylabel(text(_WORDS["y"], lang), fontsize=8)
            ax.tick_params(labelsize=8)
            ax.legend(fontsize=7, frameon=False, loc="upper left")
        fig.suptitle(text(_WORDS["lorenz"], lang), fontsize=12)
    return fig


def lq_chart(result: BenchmarkResult, *, lang: Lang = "zh+en") -> Figure:
    """Location quotients side by side: a bar per district (and group) for each measure, a line at 1.

    Parameters
    ----------
    result : BenchmarkResult
    lang : {"zh", "en", "zh+en"}
        Language of the titles (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.figure import Figure

    lang, rc = chart_language(lang)
    t = result.table
    measures = [m for m in result.measures if (t["measure"] == m).any()] or list(result.measures[:1])
    tallest = max((int((t["measure"] == m).sum()) for m in measures), default=1)
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(5.5 * len(measures), 1.4 + 0.32 * max(tallest, 2)), dpi=110, layout="constrained")
        axes = fig.subplots(1, len(measures), squeeze=False)[0]
        for ax, m in zip(axes, measures, strict=True):
            part = t[t["measure"] == m]
            labels = [_label(d) if g == ALL else f"{_label(g)} · {_label(d)}" for g, d in zip(part["group"], part["district"], strict=True)]
            lq = part["lq"].to_numpy(dtype=float)
            y = np.arange(len(part))
            ax.barh(y, np.nan_to_num(lq), color=["#c62828" if v > 1 else "#1565c0" for v in np.nan_to_num(lq)], height=0.6)
            ax.axvline(1, color="#333", linewidth=1, linestyle="--")
            top = float(np.nanmax(lq)) if np.isfinite(lq).any() else 1.0
            for yi, v in zip(y, lq, strict=True):
                ax.text((v if np.isfinite(v) else 0) + top * 0.02, float(yi), _num(v), va="center", fontsize=8)
            ax.set_yticks(y, labels, fontsize=8)
            ax.set_ylim(len(part) - 0.5, -0.5)
            ax.set_xlim(0, max(top, 1.0) * 1.18)
            ax.set_title(_label(m), fontsize=10)
            ax.set_xlabel(text(_WORDS["lq_axis"], lang), fontsize=8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        fig.suptitle(text(_WORDS["lq"], lang), fontsize=12)
    return fig
