"""Rasters: terrain and greenness per zone and parcel, slope constraints, GeoTIFF surfaces.

Built on rasterio; zonal statistics use exactextract (coverage-weighted: a pixel that a
polygon covers by 30 % counts 0.3), which benchmarks/bench_raster.py measures against
rasterstats. Vector layers are reprojected to the raster's CRS, never the other way
round, so pixel values are never resampled for a statistic.

Functions
---------
open_raster          open a file (also inside zips: ``/vsizip/...``), checking its CRS
zonal_stats          count, mean, min, max, std, percentiles, shares above/below thresholds
slope_aspect         slope (degrees, percent) and aspect, correct for DEMs in degrees
slope_constraints    "slope above X %" as polygons for land release
ndvi                 (NIR - red) / (NIR + red) from two files or two bands
write_cog            a Cloud Optimized GeoTIFF (tiled, compressed, overviews), atomically
nearest_surface      a grid of the value of the nearest point (e.g. walking distance at nodes)
density_surface      GFA (or any quantity) per hectare on a grid
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import rasterio.shutil
import rasterio.warp
import shapely
from affine import Affine
from pyproj import CRS, Geod
from rasterio.io import MemoryFile

from renewgeo._errors import CRSError, DependencyError, ReadError, RenewgeoError, WriteError
from renewgeo._grid import Grid
from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.crs import require_crs, require_metric
from renewgeo.io import atomic_path
from renewgeo.project import Project
from renewgeo.settings import Section, section, setting
from renewgeo.styles import Presentation, Style

__all__ = [
    "Grid",
    "RasterSettings",
    "compute",
    "density_surface",
    "ndvi",
    "nearest_surface",
    "open_raster",
    "slope_aspect",
    "slope_constraints",
    "steep_land",
    "write_cog",
    "zonal_stats",
]

log = logging.getLogger(__name__)


def open_raster(path: str | os.PathLike[str], *, layer: str = "raster") -> rasterio.io.DatasetReader:
    """Open a raster (GeoTIFF, HGT, anything GDAL reads; ``/vsizip/`` paths too).

    Raises
    ------
    ReadError
        The file cannot be read.
    CRSError
        The raster has no CRS (renewgeo never guesses one).
    """
    p = str(path)
    if not p.startswith("/vsi") and not Path(p).exists():
        raise ReadError(f"{layer}: {p}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # refused below, with a fix
            ds = rasterio.open(p)
    except Exception as exc:
        raise ReadError(f"{layer}: {p} cannot be read as a raster ({exc})") from None
    if ds.crs is None:
        ds.close()
        raise CRSError(f"{layer}: {p} has no CRS; set it (e.g. gdal_edit.py -a_srs EPSG:4549 FILE) before using it")
    return ds


def read_grid(src: Any, *, band: int = 1, layer: str = "raster") -> Grid:
    """One band of a raster (path or open dataset) as a :class:`Grid`."""
    ds = open_raster(src, layer=layer) if isinstance(src, str | os.PathLike) else src
    if not 1 <= band <= ds.count:
        raise RenewgeoError(f"{layer}: band {band} does not exist; the raster has {ds.count} band(s) (1..{ds.count})")
    return Grid(ds.read(band), ds.transform, CRS.from_user_input(ds.crs), ds.nodata)


def _memfile(grid: Grid) -> MemoryFile:
    mf = MemoryFile()
    with mf.open(driver="GTiff", height=grid.values.shape[0], width=grid.values.shape[1], count=1,
                 dtype=grid.values.dtype, crs=grid.crs, transform=grid.transform, nodata=grid.nodata) as dst:
        dst.write(grid.values, 1)
    return mf


# --------------------------------------------------------------------------- zonal
def _numpy_source(grid: Grid) -> Any:
    """The grid as an exactextract raster source (no file, no per-window reads)."""
    from exactextract.raster import NumPyRasterSource

    v = grid.values
    nodata = grid.nodata
    if np.issubdtype(v.dtype, np.floating) and np.isnan(v).any():  # NaN cells become the nodata value
        if nodata is None or math.isnan(nodata):
            nodata = float(np.finfo(v.dtype).min)
        v = np.where(np.isnan(v), nodata, v)

    xmin, ymin, xmax, ymax = grid.bounds
    kw: dict[str, Any] = {"srs_wkt": grid.crs.to_wkt()}
    if nodata is not None:
        kw["nodata"] = int(nodata) if np.issubdtype(v.dtype, np.integer) else float(nodata)
    if grid.transform.e > 0:  # south-up grids: exactextract wants north-up rows
        v = v[::-1]
    return NumPyRasterSource(np.ascontiguousarray(v), float(xmin), float(ymin), float(xmax), float(ymax), **kw)


def _wkb_source(geoms: Any, crs: CRS) -> Any:
    """Polygons as an exactextract feature source of WKB (no per-feature GeoJSON round trip)."""
    from exactextract.feature import Feature, FeatureSource

    class _Feature(Feature):
        def __init__(self, i: int, wkb: bytes) -> None:
            Feature.__init__(self)
            self.i, self.wkb = i, wkb

        def geometry(self) -> bytes:
            return self.wkb

        def get(self, name: str) -> int:
            return self.i

        def set(self, name: str, value: Any) -> None:  # results are read from the output frame
            pass

        def fields(self) -> list[str]:
            return ["id"]

    class _Source(FeatureSource):
        def __init__(self) -> None:
            FeatureSource.__init__(self)
            self.wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))

        def count(self) -> int:
            return len(self.wkb)

        def __iter__(self) -> Any:
            for i, w in enumerate(self.wkb):
                yield _Feature(i, w)

        def srs_wkt(self) -> str:
            return str(crs.to_wkt())

    return _Source()



_OPS = {"count": "count", "mean": "mean", "min": "min", "max": "max", "std": "stdev", "sum": "sum", "median": "median"}


def zonal_stats(
    raster: Any,
    zones: gpd.GeoDataFrame,
    *,
    band: int = 1,
    stats: Sequence[str] = ("count", "mean", "min", "max", "std"),
    percentiles: Sequence[float] = (),
    above: float | None = None,
    below: float | None = None,
    prefix: str = "",
    layer: str = "zones",
) -> pd.DataFrame:
    """Statistics of a raster band over each polygon, coverage-weighted.

    Pixels partly covered by a polygon count by the covered fraction (exactextract);
    nodata pixels are left out. The polygons are reprojected to the raster's CRS.

    Parameters
    ----------
    raster : path, rasterio dataset or Grid
        The raster (``/vsizip/`` paths work).
    zones : GeoDataFrame
        Polygons (zones, parcels, buildings, isochrones) with a CRS.
    band : int
        Band number (1-based).
    stats : sequence of str
        Any of count, mean, min, max, std, sum, median. ``count`` is the covered pixel
        count (fractions added up).
    percentiles : sequence of float
        Percentiles 0-100, as ``p10`` ... columns.
    above, below : float, optional
        Also the share (0-1) of the covered valid area whose value is above / below.
    prefix : str
        Prefix for the output column names.
    layer : str
        Name for messages.

    Returns
    -------
    DataFrame indexed like ``zones``, plus ``{prefix}note``: why a row has no values
    (no valid pixels: all nodata, or outside the raster).

    Raises
    ------
    RenewgeoError
        When the raster and the polygons do not overlap (both bounds named), or the
        band does not exist.
    """
    try:
        from exactextract import exact_extract
    except ImportError:
        raise DependencyError("zonal statistics need exactextract: pip install exactextract") from None
    grid = raster if isinstance(raster, Grid) else read_grid(raster, band=band, layer="raster")
    require_crs(zones, layer=layer)
    z = zones.to_crs(grid.crs) if CRS.from_user_input(zones.crs) != grid.crs else zones
    zb = z.total_bounds
    rb = grid.bounds
    if len(z) and (zb[0] > rb[2] or zb[2] < rb[0] or zb[1] > rb[3] or zb[3] < rb[1]):
        raise RenewgeoError(
            f"{layer} and the raster do not overlap: {layer} bounds {tuple(round(float(v), 6) for v in zb)} vs raster bounds "
            f"{tuple(round(float(v), 6) for v in rb)} (both in {grid.crs.to_string()}); is the right raster or CRS used?"
        )
    for s in stats:
        if s not in _OPS:
            raise RenewgeoError(f"zonal_stats: unknown statistic {s!r}; use {sorted(_OPS)}")
    ops = [_OPS[s] for s in stats] + [f"quantile(q={p / 100:g})" for p in percentiles]
    names = [f"{prefix}{s}" for s in stats] + [f"{prefix}p{p:g}" for p in percentiles]
    out = pd.DataFrame(index=zones.index)
    if len(z) == 0:
        for nm in names:
            out[nm] = pd.Series(dtype="float64")
        out[f"{prefix}note"] = pd.Series(dtype="string")
        return out
    feats = _wkb_source(z.geometry.values, grid.crs)
    res = exact_extract(_numpy_source(grid), feats, ops, output="pandas")
    for nm, col in zip(names, res.columns[-len(ops):], strict=True):
        out[nm] = res[col].to_numpy(dtype="float64")
    valid = grid.masked()
    for thr, key, cmp in ((above, "above", np.greater), (below, "below", np.less)):
        if thr is None:
            continue
        ind = np.where(valid.mask, np.float32(-1), cmp(valid.filled(0), thr).astype(np.float32))
        ind_grid = Grid(ind.astype(np.float32), grid.transform, grid.crs, -1.0)
        share = exact_extract(_numpy_source(ind_grid), _wkb_source(z.geometry.values, grid.crs), ["mean"], output="pandas")
        out[f"{prefix}share_{key}_{thr:g}"] = share.iloc[:, -1].to_numpy(dtype="float64")
    # covered valid area in m2: pixel count x the pixel's area in metres where the zone is
    cnt = out[f"{prefix}count"] if f"{prefix}count" in out.columns else None
    if cnt is not None:
        cy = shapely.get_coordinates(shapely.centroid(z.geometry.values))[:, 1] if len(z) else np.zeros(0)
        out[f"{prefix}valid_area_m2"] = cnt.to_numpy() * _pixel_area_m2(grid, cy)
    count_col = f"{prefix}count"
    if count_col in out.columns:
        empty = ~(out[count_col] > 0)
    else:
        empty = out[names[0]].isna()
    out.loc[empty, [c for c in out.columns if c != count_col]] = np.nan
    out[f"{prefix}note"] = np.where(empty, "no valid pixels: all nodata or outside the raster", "")
    return out


# --------------------------------------------------------------------------- terrain
def _pixel_metres(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Pixel width and height in metres per row (geographic rasters: they vary with latitude)."""
    h, _w = grid.values.shape
    a, e = grid.transform.a, grid.transform.e
    if grid.crs.is_geographic:
        geod = Geod(ellps="WGS84")
        rows = np.arange(h)
        lat = grid.transform.f + (rows + 0.5) * e
        lon0 = grid.transform.c
        _, _, dx = geod.inv(np.full(h, lon0), lat, np.full(h, lon0 + a), lat)
        _, _, dy = geod.inv(np.full(h, lon0), lat - e / 2, np.full(h, lon0), lat + e / 2)
        return np.asarray(dx), np.asarray(dy)
    unit = grid.crs.axis_info[0].unit_conversion_factor if grid.crs.axis_info else 1.0
    return np.full(h, abs(a) * unit), np.full(h, abs(e) * unit)


def _pixel_area_m2(grid: Grid, y: np.ndarray) -> np.ndarray:
    """Area of one pixel in m2 at the given y (latitude for geographic rasters)."""
    a, e = abs(grid.transform.a), abs(grid.transform.e)
    if not grid.crs.is_geographic:
        unit = grid.crs.axis_info[0].unit_conversion_factor if grid.crs.axis_info else 1.0
        return np.full(len(y), a * e * unit * unit)
    geod = Geod(ellps="WGS84")
    _, _, dx = geod.inv(np.zeros(len(y)), y, np.full(len(y), a), y)
    _, _, dy = geod.inv(np.zeros(len(y)), y - e / 2, np.zeros(len(y)), y + e / 2)
    return np.asarray(dx) * np.asarray(dy)


def slope_aspect(
dem: Any, *, band: int = 1, z_factor: float = 1.0) -> tuple[Grid, Grid, Grid]:
    """Slope in degrees and percent, and aspect, by Horn's method (as ``gdaldem``).

    For a DEM in longitude/latitude the pixel width and height are converted to
    metres row by row on the WGS 84 ellipsoid, so slopes are right at any latitude.
    Edge pixels and pixels next to nodata are nodata.

    Returns
    -------
    (slope_deg, slope_pct, aspect_deg) : Grid, Grid, Grid
        float32 grids with nodata -9999; aspect is clockwise from north, -1 where flat.
    """
    g = dem if isinstance(dem, Grid) else read_grid(dem, band=band, layer="DEM")
    z = g.masked() * z_factor
    zf = z.filled(np.nan)
    dx, dy = _pixel_metres(g)
    p = np.pad(zf, 1, constant_values=np.nan)
    a_, b_, c_ = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d_, f_ = p[1:-1, :-2], p[1:-1, 2:]
    g_, h_, i_ = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c_ + 2 * f_ + i_) - (a_ + 2 * d_ + g_)) / (8 * dx[:, None])
    dzdy = ((g_ + 2 * h_ + i_) - (a_ + 2 * b_ + c_)) / (8 * dy[:, None])
    if g.transform.e > 0:  # rows run south to north
        dzdy = -dzdy
    grad = np.hypot(dzdx, dzdy)
    slope = np.degrees(np.arctan(grad))
    pct = grad * 100
    aspect = (np.degrees(np.arctan2(dzdy, -dzdx)) + 90.0) % 360.0  # gdaldem's convention
    aspect = np.where(grad == 0, -1.0, aspect)
    nod = -9999.0
    bad = ~np.isfinite(slope)

    def out(v: np.ndarray) -> Grid:
        return Grid(np.where(bad, nod, v).astype(np.float32), g.transform, g.crs, nod)

    return out(slope), out(pct), out(aspect)


def slope_constraints(dem: Any, *, max_slope_pct: float, crs: Any = None, min_area_m2: float = 0.0, band: int = 1) -> gpd.GeoDataFrame:
    """Land steeper than ``max_slope_pct`` as polygons of ``constraint_type = "slope"``.

    Parameters
    ----------
    dem : path, dataset or Grid
        The DEM.
    max_slope_pct : float
        Slopes above this percentage are a constraint.
    crs : CRS-like, optional
        Output CRS (the project's metric CRS); default the DEM's.
    min_area_m2 : float
        Drop polygons smaller than this (needs a metric ``crs``).
    band : int
        DEM band.
    """
    if max_slope_pct <= 0:
        raise RenewgeoError(f"max_slope_pct must be > 0, got {max_slope_pct}")
    _, pct, _ = slope_aspect(dem, band=band)
    g = steep_land(pct, max_slope_pct, crs if crs is not None else pct.crs)
    if min_area_m2 > 0:
        require_metric(g, layer="slope constraints", what="min_area_m2")
        g = g[g.area >= min_area_m2].reset_index(drop=True)
        g["id"] = [f"SLOPE{i + 1}" for i in range(len(g))]
    return g


def ndvi(red: Any, nir: Any, *, red_band: int = 1, nir_band: int = 1) -> Grid:
    """NDVI = (NIR - red) / (NIR + red), float32, nodata -9999, from two files or two bands.

    The two bands must share one grid (same CRS, transform and size).
    """
    r = red if isinstance(red, Grid) else read_grid(red, band=red_band, layer="red band")
    n = nir if isinstance(nir, Grid) else read_grid(nir, band=nir_band, layer="NIR band")
    if r.values.shape != n.values.shape or r.crs != n.crs or not r.transform.almost_equals(n.transform):
        raise RenewgeoError("ndvi: the red and NIR bands are on different grids; warp one onto the other first")
    rm, nm = r.masked(), n.masked()
    den = nm + rm
    v = np.ma.where(den == 0, np.ma.masked, (nm - rm) / np.ma.where(den == 0, 1, den))
    return Grid(np.ma.filled(v.astype(np.float32), -9999.0), r.transform, r.crs, -9999.0)


# --------------------------------------------------------------------------- writing
def write_cog(grid: Grid, path: str | os.PathLike[str], *, compress: str = "DEFLATE", blocksize: int = 256) -> Path:
    """Write a grid as a Cloud Optimized GeoTIFF (tiled, compressed, with overviews), atomically."""
    dest = Path(path)
    try:
        with atomic_path(dest) as tmp, _memfile(grid) as mf, mf.open() as src:
            profile = {"driver": "COG", "compress": compress, "blocksize": blocksize, "overview_resampling": "average"}
            rasterio.shutil.copy(src, tmp, **profile)
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing the GeoTIFF failed ({exc}); any earlier file is intact") from exc
    return dest


def _grid_over(bounds: Sequence[float], resolution_m: float, crs: Any) -> tuple[Affine, int, int]:
    minx, miny, maxx, maxy = bounds
    w = max(math.ceil((maxx - minx) / resolution_m), 1)
    h = max(math.ceil((maxy - miny) / resolution_m), 1)
    return Affine(resolution_m, 0, minx, 0, -resolution_m, maxy), w, h


def nearest_surface(points: gpd.GeoDataFrame, column: str, *, resolution_m: float = 10.0, max_distance_m: float = 100.0,
                    bounds: Sequence[float] | None = None) -> Grid:
    """Each cell takes the value of the nearest point within ``max_distance_m`` (else nodata).

    Use it to map network results (e.g. walking distance to the nearest daily service
    at every node) as a continuous surface.
    """
    from scipy.spatial import cKDTree

    require_metric(points, layer="points", what="a surface in metres")
    vals = pd.to_numeric(points[column], errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(vals)
    xy = shapely.get_coordinates(points.geometry.values[ok])
    b = bounds if bounds is not None else points.total_bounds
    tf, w, h = _grid_over(b, resolution_m, points.crs)
    cx = tf.c + (np.arange(w) + 0.5) * resolution_m
    cy = tf.f - (np.arange(h) + 0.5) * resolution_m
    gx, gy = np.meshgrid(cx, cy)
    d, i = cKDTree(xy).query(np.column_stack([gx.ravel(), gy.ravel()]), distance_upper_bound=max_distance_m)
    out = np.full(gx.size, -9999.0, dtype=np.float32)
    hit = np.isfinite(d)
    out[hit] = vals[ok][i[hit]]
    return Grid(out.reshape(h, w), tf, CRS.from_user_input(points.crs), -9999.0)


def density_surface(features: gpd.GeoDataFrame, column: str, *, resolution_m: float = 50.0,
                    bounds: Sequence[float] | None = None) -> Grid:
    """A quantity per hectare on a grid (e.g. GFA per ha), from each feature's point on surface."""
    require_metric(features, layer="features", what="a density surface")
    vals = pd.to_numeric(features[column], errors="coerce").fillna(0).to_numpy(dtype="float64")
    b = bounds if bounds is not None else features.total_bounds
    tf, w, h = _grid_over(b, resolution_m, features.crs)
    xy = shapely.get_coordinates(features.geometry.representative_point().values)
    col = np.clip(((xy[:, 0] - tf.c) / resolution_m).astype(int), 0, w - 1)
    row = np.clip(((tf.f - xy[:, 1]) / resolution_m).astype(int), 0, h - 1)
    total = np.zeros((h, w))
    np.add.at(total, (row, col), vals)
    per_ha = total / (resolution_m * resolution_m / 10000.0)
    return Grid(per_ha.astype(np.float32), tf, CRS.from_user_input(features.crs), None)


@section
@dataclass(frozen=True)
class RasterSettings(Section):
    """``[raster]``: terrain and greenness per zone and parcel."""

    name: ClassVar[str] = "raster"
    title: ClassVar[str] = "terrain and greenness from the project's [rasters]"

    steep_slope_pct: float = setting(25.0, "slope (percent) above which land counts as steep in the tables and the steep-land layer",
                                     gt=0, le=1000, legacy="max_slope_pct")
    ndvi_green: float = setting(0.3, "NDVI above which a pixel counts as green", ge=-1, le=1, legacy="ndvi_green")


def compute(ctx: Context) -> Result:
    """The raster analysis: slope, steep land, greenness and other rasters per zone and site.

    * a ``dem``: the slope grid ``slope_pct``, slope per zone and site (mean, max,
      share above ``[raster] steep_slope_pct``) and the ``steep_land`` layer;
    * ``red`` and ``nir``: the ``ndvi`` grid and the green share (NDVI above
      ``[raster] ndvi_green``) per zone and site;
    * ``other`` rasters: count, mean, min, max per zone and site.
    """
    project = ctx.project
    s = ctx.section(RasterSettings)
    res = Result()
    areas = {k: ctx.layer(k) for k in ("zones", "sites") if ctx.has(k)}
    roles = {spec.role: spec for spec in project.rasters.values()}
    if "dem" in roles:
        dem = roles["dem"]
        _, pct, _ = slope_aspect(dem.path, band=dem.band)
        res.grids["slope_pct"] = pct
        res.layers["steep_land"] = steep_land(pct, s.steep_slope_pct, project.crs)
        for k, g in areas.items():
            res.tables[f"slope_by_{k[:-1]}"] = _with_ids(g, zonal_stats(pct, g, stats=("count", "mean", "max"), above=s.steep_slope_pct,
                                                                       prefix="slope_pct_", layer=k))
    if "red" in roles and "nir" in roles:
        r, n = roles["red"], roles["nir"]
        v = ndvi(r.path, n.path, red_band=r.band, nir_band=n.band)
        res.grids["ndvi"] = v
        for k, g in areas.items():
            res.tables[f"greenness_by_{k[:-1]}"] = _with_ids(g, zonal_stats(v, g, stats=("count", "mean"), above=s.ndvi_green,
                                                                           prefix="ndvi_", layer=k))
    elif "red" in roles or "nir" in roles:
        res.notes.append("NDVI needs both a red and a nir raster; only one is given")
    for name, spec in project.rasters.items():
        if spec.role == "other":
            for k, g in areas.items():
                res.tables[f"{name}_by_{k[:-1]}"] = _with_ids(g, zonal_stats(spec.path, g, band=spec.band,
                                                                             stats=("count", "mean", "min", "max"), prefix=f"{name}_", layer=k))
    if not areas:
        res.notes.append("no zones or sites: the rasters are written, but no per-area statistics")
    return res


def steep_land(slope_pct: Grid, limit_pct: float, crs: Any) -> gpd.GeoDataFrame:
    """Polygons of the cells steeper than ``limit_pct``, in ``crs``, as ``slope`` constraints.

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> from pyproj import CRS
    >>> g = Grid(np.array([[10.0, 30.0], [30.0, -9999.0]], dtype=np.float32), Affine(10, 0, 500000, 0, -10, 4000000),
    ...          CRS.from_epsg(32651), -9999.0)
    >>> s = steep_land(g, 25, 32651)  # two cells touching at a corner: two polygons
    >>> len(s), float(s.area.sum()), s["constraint_type"].iloc[0]
    (2, 200.0, 'slope')
    """
    pct = slope_pct
    steep = (pct.values > limit_pct) & (pct.values != pct.nodata)
    shapes = [shapely.geometry.shape(geom) for geom, val in rasterio.features.shapes(
        steep.astype(np.uint8), mask=steep, transform=pct.transform) if val == 1]
    g = gpd.GeoDataFrame({"constraint_type": ["slope"] * len(shapes)}, geometry=shapes, crs=pct.crs).to_crs(crs)
    g.insert(0, "id", [f"SLOPE{i + 1}" for i in range(len(g))])
    g["slope_above_pct"] = limit_pct
    return g


def _with_ids(g: gpd.GeoDataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    out = stats.copy()
    if "id" in g.columns:
        out.insert(0, "id", g["id"].astype(str).to_numpy())
    if "name" in g.columns:
        out.insert(1, "name", g["name"].astype("object").to_numpy())
    return out


def _report(result: Result) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 10, "display.precision", 2):
        return "\n".join(f"{n}\n{t.head(10)}" for n, t in result.tables.items()) or "no per-area statistics (no zones or sites)"


def _applies(project: Project) -> str | None:
    return None if project.rasters else "the project declares no [rasters.NAME] in project.toml"


register(Analysis(
    name="raster", help="terrain and greenness per zone and parcel from [rasters]; GeoTIFFs", compute=compute,
    settings=RasterSettings, applies=_applies, workbook="raster", report=_report,
    layers={"steep_land": Presentation(("陡坡用地", "Steep land"), Style("polygon", colour="#bf812d", outline="#8c510a", width=0.5,
                                                                      fill_opacity=0.5), tooltip=("id", "slope_above_pct"), order=18,
                                      show=False)},
    layer_kinds={"steep_land": "constraints"},
))
