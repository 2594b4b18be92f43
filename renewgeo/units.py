"""Units: the one place areas and lengths are converted, and true (ellipsoidal) measures.

Areas: ``m2``, ``ha``, ``mu`` (1 mu = 10000/15 m2, about 666.67 m2) and ``km2``.
Lengths: ``m`` and ``km``.

>>> round(convert(400, "mu", "m2"), 3)
266666.667
>>> convert(180000, "m2", "ha")
18.0
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Proj, Transformer

from renewgeo._errors import RenewgeoError
from renewgeo.crs import require_metric

__all__ = [
    "AREA_UNITS",
    "COUNT_UNITS",
    "LENGTH_UNITS",
    "M2_PER_MU",
    "area_columns",
    "convert",
    "header_label",
    "true_area_m2",
    "true_length_m",
    "unit_family",
]

M2_PER_MU = 10000.0 / 15.0
AREA_UNITS = {"m2": 1.0, "ha": 10000.0, "mu": M2_PER_MU, "km2": 1e6}
LENGTH_UNITS = {"m": 1.0, "km": 1000.0}
COUNT_UNITS = ("count", "spaces", "places")
_LABELS = {"m2": "m²", "ha": "ha", "mu": "mu", "km2": "km²", "m": "m", "km": "km", "pct": "%", "m_s": "m/s", "s": "s", "min": "min"}


def unit_family(unit: str) -> str:
    """``"area"``, ``"length"``, ``"count"`` or ``"pct"`` for a unit name; raise for others."""
    if unit in AREA_UNITS:
        return "area"
    if unit in LENGTH_UNITS:
        return "length"
    if unit in COUNT_UNITS:
        return "count"
    if unit == "pct":
        return "pct"
    raise RenewgeoError(f"unknown unit {unit!r}; use one of {[*AREA_UNITS, *LENGTH_UNITS, *COUNT_UNITS, 'pct']}")


def convert(value: Any, from_unit: str, to_unit: str) -> Any:
    """Convert an area or a length (scalar, array or Series) between units.

    Raises
    ------
    RenewgeoError
        For unknown units or units of different families (m2 -> km).
    """
    fam_from, fam_to = unit_family(from_unit), unit_family(to_unit)
    if fam_from != fam_to:
        raise RenewgeoError(f"cannot convert {from_unit} ({fam_from}) to {to_unit} ({fam_to})")
    table = AREA_UNITS if fam_from == "area" else LENGTH_UNITS if fam_from == "length" else None
    if table is None:
        return value
    return value * (table[from_unit] / table[to_unit])


def area_columns(m2: pd.Series, prefix: str) -> pd.DataFrame:
    """``{prefix}_m2``, ``{prefix}_ha`` and ``{prefix}_mu`` columns from areas in m2.

    >>> area_columns(pd.Series([666.666666667 * 3]), "net_area").round(3).iloc[0].tolist()
    [2000.0, 0.2, 3.0]
    """
    return pd.DataFrame(
        {f"{prefix}_m2": m2, f"{prefix}_ha": convert(m2, "m2", "ha"), f"{prefix}_mu": convert(m2, "m2", "mu")},
        index=m2.index,
    )


def header_label(column: str) -> str:
    """A table header with the unit written out: ``gfa_m2`` -> ``gfa (m²)``.

    >>> header_label("net_area_mu"), header_label("share_pct"), header_label("count")
    ('net area (mu)', 'share (%)', 'count')
    """
    for suffix, label in sorted(_LABELS.items(), key=lambda kv: -len(kv[0])):
        if column.endswith("_" + suffix):
            return f"{column[: -len(suffix) - 1].replace('_', ' ')} ({label})"
    return column.replace("_", " ")


# ----------------------------------------------------------------------- true measures
_GRID = 17  # nodes per side of the scale-factor grid (the factor is smooth: bilinear is exact to ~1e-9)


def _scale_grid(crs: CRS, bounds: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    minx, miny, maxx, maxy = bounds
    # under 1 mm of extent one node: linspace would make nodes that differ by ~1e-10 or not at all, and _interp 0/0 (NaN areas)
    gx = np.linspace(minx, maxx, _GRID) if maxx - minx > 1e-3 else np.array([minx])
    gy = np.linspace(miny, maxy, _GRID) if maxy - miny > 1e-3 else np.array([miny])
    xx, yy = np.meshgrid(gx, gy)
    lon, lat = Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True).transform(xx.ravel(), yy.ravel())
    f = Proj(crs).get_factors(lon, lat)
    areal = np.asarray(f.areal_scale).reshape(xx.shape)
    conformal = np.asarray(f.angular_distortion).reshape(xx.shape)
    return gx, gy, areal, conformal


def _interp(gx: NDArray[np.float64], gy: NDArray[np.float64], grid: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    def locate(g: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        if len(g) == 1:
            return np.zeros(len(v), dtype=np.intp), np.zeros(len(v))
        # the nodes are even (linspace): the cell by arithmetic rather than a binary search
        i = np.clip(((v - g[0]) * ((len(g) - 1) / (g[-1] - g[0]))).astype(np.intp), 0, len(g) - 2)
        t = np.clip((v - g[i]) / (g[i + 1] - g[i]), 0.0, 1.0)
        return i, t

    ix, tx = locate(gx, x)
    iy, ty = locate(gy, y)
    flat = grid.ravel()
    k = iy * len(gx) + ix  # grid[iy, ix], one gather from the flat grid
    kx = k + (1 if len(gx) > 1 else 0)  # grid[iy, ix + 1] (ix itself on a one-node axis)
    ky = len(gx) if len(gy) > 1 else 0  # one row down
    sx, sy = 1 - tx, 1 - ty
    return flat[k] * sx * sy + flat[kx] * tx * sy + flat[k + ky] * sx * ty + flat[kx + ky] * tx * ty


def _slope(gx: NDArray[np.float64], gy: NDArray[np.float64], grid: NDArray[np.float64]) -> float:
    """The steepest relative change of the factor per metre on the grid (0 on a one-node grid)."""
    s = 0.0
    if len(gx) > 1:
        s = max(s, float(np.max(np.abs(np.diff(grid, axis=1)) / np.diff(gx)[None, :])))
    if len(gy) > 1:
        s = max(s, float(np.max(np.abs(np.diff(grid, axis=0)) / np.diff(gy)[:, None])))
    return s / float(np.min(grid))


def _factors(gdf: gpd.GeoDataFrame, *, layer: str, what: str) -> tuple[NDArray[np.float64], bool]:
    crs = require_metric(gdf, layer=layer, what=what)
    geoms = gdf.geometry.values
    if len(geoms) == 0:
        return np.ones(0), True
    b = shapely.bounds(geoms)
    ok = np.isfinite(b).all(axis=1)
    cx = np.where(ok, (b[:, 0] + b[:, 2]) / 2, np.nan)
    cy = np.where(ok, (b[:, 1] + b[:, 3]) / 2, np.nan)
    if not ok.any():
        return np.ones(len(geoms)), True
    gx, gy, areal, conformal = _scale_grid(CRS.from_user_input(crs), np.array([np.nanmin(b[:, 0]), np.nanmin(b[:, 1]), np.nanmax(b[:, 2]),
                                                                               np.nanmax(b[:, 3])]))
    # The factor varies almost linearly across a feature, so its mean over the feature is its value at the centroid. The
    # bounding box's centre is as good to within the factor's slope times the box's half-diagonal: under 5e-7 (every
    # building of a city, which keeps this fast) it is used; above (a lopsided parcel far from the central meridian was
    # 1.5e-6 off pyproj.Geod) the feature takes its centroid.
    slope = _slope(gx, gy, areal)
    far = ok & (slope * np.hypot(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2 > 5e-7)
    if far.any():
        cent = shapely.centroid(geoms[far])
        cx[far], cy[far] = shapely.get_x(cent), shapely.get_y(cent)
    scale = np.ones(len(geoms))
    scale[ok] = _interp(gx, gy, areal, cx[ok], cy[ok])
    return scale, bool(np.nanmax(conformal) < 1e-6)


def true_area_m2(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, layer: str = "layer") -> pd.Series:
    """Area of each feature on the ellipsoid, in m2, from a layer in a metric CRS.

    The planar area in the layer's projected CRS divided by that CRS's areal scale
    factor at the feature (pyproj ``get_factors``, sampled on a grid and interpolated).
    This removes the projection's own distortion: UTM shrinks areas by 0.9996**2
    (-0.08%) near its central meridian; EPSG:3857 inflates them by 1/cos(lat)**2, and
    refusing degrees keeps geographic CRSs out altogether.

    Raises
    ------
    CRSError
        When the layer is in degrees or has no CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.box(518000, 3985000, 518100, 3985100)], crs=4549)
    >>> round(float(true_area_m2(g).iloc[0]), 1)  # Qingdao, 17 km from CM 120E: ~1e-6 off planar
    9999.9
    """
    frame = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)
    scale, _ = _factors(frame, layer=layer, what="an area")
    return pd.Series(frame.geometry.area.to_numpy() / scale, index=frame.index, name="area_m2")


def true_length_m(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, layer: str = "layer") -> pd.Series:
    """Length of each feature on the ellipsoid, in m, from a layer in a metric CRS.

    For a conformal CRS (Transverse Mercator, UTM, Gauss-Kruger, Mercator) the linear
    scale is the same in every direction, so the planar length is divided by the
    square root of the areal scale. For other CRSs the planar length is returned.
    """
    frame = gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)
    scale, conformal = _factors(frame, layer=layer, what="a length")
    lengths = frame.geometry.length.to_numpy()
    if conformal:
        lengths = lengths / np.sqrt(scale)
    return pd.Series(lengths, index=frame.index, name="length_m")

