"""CRS policy: one metric CRS per project, web output in EPSG:4326, GCJ-02 handling.

Rules
-----
* Every layer carries a CRS; a missing one is an error, never a guess.
* Metric work (areas, lengths, buffers, network distances) runs in one projected
  CRS per project. ``"auto"`` picks it from the data's centroid: inside China the
  CGCS2000 3-degree Gauss-Kruger zone whose central meridian is nearest
  (EPSG:4534-4554, Qingdao -> EPSG:4549), elsewhere the WGS 84 UTM zone
  (Porto -> EPSG:32629, Sydney -> EPSG:32756).
* Web outputs are EPSG:4326.
* GCJ-02 ("Mars coordinates", used by AMap/Gaode and Tencent) is not a CRS that
  PROJ knows: it is an obfuscated offset of WGS 84. :func:`gcj02_to_wgs84` and
  :func:`wgs84_to_gcj02` convert coordinates; a layer declared ``coords = "gcj02"``
  in ``project.toml`` is converted on load.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from renewgeo._errors import CRSError

__all__ = [
    "WEB_CRS",
    "auto_metric_crs",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_gdf",
    "in_china",
    "is_geographic",
    "require_crs",
    "require_metric",
    "resolve_crs",
    "to_crs",
    "to_web",
    "wgs84_to_gcj02",
    "wgs84_to_gcj02_gdf",
]

log = logging.getLogger(__name__)

WEB_CRS = CRS.from_epsg(4326)

# CGCS2000 / 3-degree Gauss-Kruger CM 75E ... CM 135E (no zone prefix in the easting).
_CGCS2000_GK3 = {75 + 3 * i: 4534 + i for i in range(21)}


def resolve_crs(value: Any, *, what: str = "crs") -> CRS:
    """Turn an EPSG code, an ``"EPSG:xxxx"`` string, WKT or a CRS object into a CRS.

    Parameters
    ----------
    value : int, str or pyproj.CRS
        Anything :meth:`pyproj.CRS.from_user_input` accepts.
    what : str
        How to name the value in an error message (e.g. ``"project.toml [project] crs"``).

    Returns
    -------
    pyproj.CRS

    Examples
    --------
    >>> resolve_crs(4549).to_epsg()
    4549
    """
    if value is None:
        raise CRSError(f"{what}: no CRS given; give an EPSG code such as 'EPSG:4549'.")
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError of its own, with little context
        raise CRSError(
            f"{what}: {value!r} is not a CRS PROJ knows ({exc}); give an EPSG code such as 'EPSG:4549' or 'EPSG:32651'."
        ) from None


def is_geographic(crs: Any) -> bool:
    """Return True when ``crs`` has angular (degree) axes.

    >>> is_geographic("EPSG:4326"), is_geographic("EPSG:4549")
    (True, False)
    """
    return bool(resolve_crs(crs).is_geographic)


def in_china(lon: float, lat: float) -> bool:
    """Whether a WGS 84 point lies in the area of use of a CGCS2000 3-degree GK zone.

    The test uses the areas of use that the EPSG dataset publishes for EPSG:4534-4554
    (one bounding box per zone). These follow China's outline zone by zone, so Seoul,
    Tokyo and Hanoi are outside, but a strip along a land border can be misjudged:
    set the project CRS explicitly there.

    >>> in_china(120.2, 36.0), in_china(127.0, 37.5), in_china(-8.61, 41.15)
    (True, False, False)
    """
    for epsg in _CGCS2000_GK3.values():
        aou = CRS.from_epsg(epsg).area_of_use
        if aou is not None:
            w, s, e, n = aou.bounds
            if w <= lon <= e and s <= lat <= n:
                return True
    return False


def auto_metric_crs(lon: float, lat: float) -> CRS:
    """Choose the analysis CRS for data centred at ``lon``, ``lat`` (WGS 84 degrees).

    Inside China: the CGCS2000 3-degree Gauss-Kruger zone with the nearest central
    meridian (EPSG:4534-4554). Elsewhere: the WGS 84 UTM zone (EPSG:326xx north,
    327xx south).

    Examples
    --------
    >>> auto_metric_crs(120.2, 36.0).to_epsg()  # Qingdao
    4549
    >>> auto_metric_crs(-8.61, 41.15).to_epsg()  # Porto
    32629
    >>> auto_metric_crs(151.2, -33.87).to_epsg()  # Sydney
    32756
    """
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise CRSError(f"cannot choose a metric CRS for lon={lon}, lat={lat}: not a WGS 84 position; is the layer's CRS right?")
    if in_china(lon, lat):
        cm = min(_CGCS2000_GK3, key=lambda m: abs(m - lon))
        return CRS.from_epsg(_CGCS2000_GK3[cm])
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    # Several zones can touch a point on a zone edge; take the one whose CM is nearest.
    codes = [int(i.code) for i in infos if i.auth_name == "EPSG" and i.code.startswith(("326", "327"))]
    south = lat < 0
    codes = [c for c in codes if (c // 100 == 327) == south] or codes
    if not codes:
        raise CRSError(f"no UTM zone found for lon={lon}, lat={lat}; set the project CRS explicitly.")
    best = min(codes, key=lambda c: abs((-183 + 6 * (c % 100)) - lon))
    return CRS.from_epsg(best)


def require_crs(gdf: gpd.GeoDataFrame, *, layer: str) -> CRS:
    """Return the CRS of ``gdf`` or raise naming the layer and the fix."""
    if gdf.crs is None:
        raise CRSError(
            f"layer {layer!r} has no CRS. Set it where it is known, e.g. "
            f'`crs = "EPSG:4549"` under [layers.{layer}] in project.toml, '
            "or gdf.set_crs(...) in Python; renewgeo never guesses a CRS."
        )
    return CRS.from_user_input(gdf.crs)


def require_metric(gdf: gpd.GeoDataFrame, *, layer: str, what: str = "this measure") -> CRS:
    """Raise unless ``gdf`` is in a projected CRS whose unit is the metre.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer to check.
    layer : str
        Its name, for the message.
    what : str
        The computation that needs metres, for the message.
    """
    crs = require_crs(gdf, layer=layer)
    if crs.is_geographic:
        raise CRSError(
            f"layer {layer!r} is in {crs.to_string()} (degrees) but {what} needs metres. "
            "Load it through a project (the project's metric CRS is applied), or call "
            "renewgeo.crs.to_crs(gdf, 'auto') first."
        )
    units = {ax.unit_name for ax in crs.axis_info}
    if units - {"metre", "meter"}:
        raise CRSError(
            f"layer {layer!r} is in {crs.to_string()} with axis units {sorted(units)}; "
            f"{what} needs metres: reproject with renewgeo.crs.to_crs(gdf, 'auto')."
        )
    return crs


def _centroid_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if len(geoms) == 0:
        raise CRSError("cannot choose a metric CRS automatically: the layer has no geometry.")
    minx, miny, maxx, maxy = geoms.total_bounds
    centre = gpd.GeoSeries([shapely.box(minx, miny, maxx, maxy).centroid], crs=gdf.crs)
    pt = centre.to_crs(WEB_CRS).iloc[0]
    return float(pt.x), float(pt.y)


def to_crs(gdf: gpd.GeoDataFrame, crs: Any = "auto", *, layer: str = "layer") -> gpd.GeoDataFrame:
    """Reproject a layer to ``crs``; ``"auto"`` picks the metric CRS from its centroid.

    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame(geometry=[shapely.Point(120.2, 36.0)], crs=4326)
    >>> to_crs(g).crs.to_epsg()
    4549
    """
    src = require_crs(gdf, layer=layer)
    if isinstance(crs, str) and crs.lower() == "auto":
        target = auto_metric_crs(*_centroid_lonlat(gdf))
    else:
        target = resolve_crs(crs, what=f"target CRS for layer {layer!r}")
    if src == target:
        return gdf.copy()
    return gdf.to_crs(target)


def to_web(gdf: gpd.GeoDataFrame, *, layer: str = "layer") -> gpd.GeoDataFrame:
    """Reproject a layer to EPSG:4326 for web maps."""
    return to_crs(gdf, WEB_CRS, layer=layer)


# --------------------------------------------------------------------------------------
# GCJ-02. The offset formula is the one every public implementation uses (Krasovsky
# 1940 ellipsoid constants); here it is vectorised over numpy arrays.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Outside this box the published algorithm applies no offset.
_GCJ_BOX = (72.004, 0.8293, 137.8347, 55.8271)


def _gcj_inside(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    w, s, e, n = _GCJ_BOX
    return (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


def _gcj_delta(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * pi)
    inside = _gcj_inside(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert WGS 84 longitude/latitude (degrees) to GCJ-02.

    Points outside China's GCJ box are returned unchanged, as every published
    implementation does.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)  # Shanghai
    >>> round(float(lon), 6), round(float(lat), 6)
    (121.531542, 31.175304)
    """
    lon_a = np.asarray(lon, dtype="float64")
    lat_a = np.asarray(lat, dtype="float64")
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert GCJ-02 longitude/latitude to WGS 84 by fixed-point iteration.

    The forward offset has no closed-form inverse; the iteration converges to
    ``tol_deg`` (1e-10 degrees is about 0.01 mm) in a handful of steps, well inside
    the 0.5 m the planning use needs.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(123.0, 45.0)
    >>> round(float(lon), 6), round(float(lat), 6)
    (122.993956, 44.998041)
    """
    g_lon = np.asarray(lon, dtype="float64")
    g_lat = np.asarray(lat, dtype="float64")
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        err = np.nanmax(np.abs(np.concatenate([np.ravel(e_lon), np.ravel(e_lat)])), initial=0.0)
        if err < tol_deg:
            break
    return w_lon, w_lat


def _transform_lonlat(gdf: gpd.GeoDataFrame, func: Any, *, layer: str) -> gpd.GeoDataFrame:
    crs = require_crs(gdf, layer=layer)
    web = gdf if crs == WEB_CRS else gdf.to_crs(WEB_CRS)

    def _xy(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    out = web.copy()
    out[out.geometry.name] = shapely.transform(web.geometry.values, _xy)
    out = out.set_crs(WEB_CRS, allow_override=True)
    return out if crs == WEB_CRS else out.to_crs(crs)


def gcj02_to_wgs84_gdf(gdf: gpd.GeoDataFrame, *, layer: str = "layer") -> gpd.GeoDataFrame:
    """Convert a layer whose coordinates are GCJ-02 (while claiming EPSG:4326) to WGS 84.

    The result is in EPSG:4326; geometries move by 300-500 m around Qingdao.
    """
    require_crs(gdf, layer=layer)
    return _transform_lonlat(gdf.set_crs(WEB_CRS, allow_override=True), gcj02_to_wgs84, layer=layer)


def wgs84_to_gcj02_gdf(gdf: gpd.GeoDataFrame, *, layer: str = "layer") -> gpd.GeoDataFrame:
    """Shift a layer to GCJ-02 for display on an AMap/Gaode or Tencent basemap.

    The result is labelled EPSG:4326 (as those basemaps expect) but its coordinates
    are GCJ-02: use it only for display on such a basemap.
    """
    return _transform_lonlat(to_web(gdf, layer=layer), wgs84_to_gcj02, layer=layer)


# ------------------------------------------------------------------- plausibility
Box = tuple[float, float, float, float]
_MARGIN_DEG = 10.0  # a projected CRS is often used a little beyond its published area of use


@functools.lru_cache(maxsize=512)
def _to_wgs84(wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(wkt), WEB_CRS, always_xy=True)


def lonlat_box(bounds: Box, crs: Any) -> Box | None:
    """The WGS 84 bounding box of ``bounds`` given in ``crs``, or None when it does not transform to finite degrees."""
    c = resolve_crs(crs)
    try:
        box = _to_wgs84(c.to_wkt()).transform_bounds(*bounds)
    except Exception:  # pyproj raises for points it cannot project
        return None
    if not np.all(np.isfinite(box)) or abs(box[1]) > 90 or abs(box[3]) > 90:
        return None
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def _inside(box: Box, area: Box, margin: float) -> bool:
    return box[0] >= area[0] - margin and box[2] <= area[2] + margin and box[1] >= area[1] - margin and box[3] <= area[3] + margin


def coordinate_problem(bounds: Box, crs: Any) -> str | None:
    """Why coordinates with these ``bounds`` cannot be in ``crs``, or None when they can.

    Degrees must be longitudes and latitudes; projected coordinates must land (within
    10 degrees) in the area where the CRS is used.

    Examples
    --------
    >>> coordinate_problem((518000, 3985000, 518500, 3985400), 4326)[:40]
    'its coordinates (518,000 .. 518,500 and '
    >>> coordinate_problem((518000, 3985000, 518500, 3985400), 4549) is None
    True
    """
    x0, y0, x1, y1 = bounds
    if not np.all(np.isfinite(bounds)):
        return "its coordinates are not finite numbers"
    c = resolve_crs(crs)
    if c.is_geographic:
        if max(abs(x0), abs(x1)) > 180 or max(abs(y0), abs(y1)) > 90:
            return (f"its coordinates ({x0:,.0f} .. {x1:,.0f} and {y0:,.0f} .. {y1:,.0f}) are not longitudes and latitudes, "
                    f"although its CRS ({c.to_string()}) is in degrees")
        return None
    box = lonlat_box(bounds, c)
    aou = c.area_of_use
    if box is None:
        return f"its coordinates ({x0:,.0f} .. {x1:,.0f} and {y0:,.0f} .. {y1:,.0f}) lie nowhere on Earth in {c.to_string()}"
    if aou is not None and not _inside(box, aou.bounds, _MARGIN_DEG):
        return (f"its coordinates lie at {box[0]:.2f}..{box[2]:.2f} E, {box[1]:.2f}..{box[3]:.2f} N in {c.to_string()}, "
                f"far from where that CRS is used ({aou.name})")
    return None


def _candidate_codes() -> list[int]:
    gk_prefixed = list(range(4513, 4534))  # CGCS2000 / 3-degree GK zone 25-45 (easting with the zone number)
    utm = [*range(32601, 32661), *range(32701, 32761)]
    return [4326, *gk_prefixed, *_CGCS2000_GK3.values(), *utm, 3857]


def likely_crs(bounds: Box, *, near: Box | None = None, limit: int = 3) -> list[str]:
    """CRSs in which coordinates with these ``bounds`` would make sense, best first.

    With ``near`` (the WGS 84 box of the project's other layers), only CRSs that put the
    coordinates there are named.

    Examples
    --------
    >>> likely_crs((518000, 3985000, 518500, 3985400), near=(120.1, 35.9, 120.3, 36.1))
    ['EPSG:4549']
    """
    out = []
    for code in _candidate_codes():
        if coordinate_problem(bounds, code) is not None:
            continue
        box = lonlat_box(bounds, code)
        if box is None:
            continue
        if near is not None and not _inside(box, near, 0.05):
            continue
        aou = CRS.from_epsg(code).area_of_use
        if near is None and aou is not None and not _inside(box, aou.bounds, 0.0):
            continue
        out.append(f"EPSG:{code}")
    return out[:limit]
