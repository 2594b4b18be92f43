"""Rasters: terrain and greenness per zone and parcel, slope constraints, GeoTIFF surfaces.

Built on rasterio; zonal statistics use exactextract (coverage-weighted: a pixel that a
polygon covers by 30 % counts 0.3), which benchmarks/bench_raster.py measures against
rasterstats. Vector layers are reprojected to the raster's CRS, never the other way
round, so pixel values are never resampled for a statistic.

Rasters are read and computed in blocks (``BLOCK_SIZE`` cells a side, with one cell of
overlap for the 3 x 3 terrain window), so memory is bounded by what is kept: the
in-memory grids are refused above ``MAX_GRID_CELLS`` cells with the size and the fix,
the ``*_to_file`` functions write block by block with no limit, and the analysis reads
only the part of each raster under the project's layers.

Functions
---------
open_raster          open a file (also inside zips: ``/vsizip/...``), checking its CRS
zonal_stats          count, mean, min, max, std, percentiles, shares above/below thresholds
slope_aspect         slope (degrees, percent) and aspect, correct for DEMs in degrees
slope_to_file        the same for a DEM of any size, computed and written block by block
slope_constraints    "slope above X %" as polygons for land release
ndvi                 (NIR - red) / (NIR + red) from two files or two bands
ndvi_to_file         the same for bands of any size, block by block
write_cog            a Cloud Optimized GeoTIFF (tiled, compressed, overviews), atomically
nearest_surface      a grid of the value of the nearest point (e.g. walking distance at nodes)
density_surface      GFA (or any quantity) per hectare on a grid
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
from rasterio.windows import Window

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
    "ndvi_to_file",
    "nearest_surface",
    "open_raster",
    "read_grid",
    "slope_aspect",
    "slope_constraints",
    "slope_to_file",
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


def read_grid(src: Any, *, band: int = 1, layer: str = "raster", bounds: Sequence[float] | None = None, bounds_crs: Any = None,
              max_cells: int | None = None) -> Grid:
    """One band of a raster (path, open dataset or Grid) as a :class:`Grid`.

    Parameters
    ----------
    src : path, rasterio dataset or Grid
        The raster.
    band : int
        Band number (1-based).
    layer : str
        Name for messages.
    bounds : (minx, miny, maxx, maxy), optional
        Read only the window that covers these bounds (plus two cells all round).
    bounds_crs : CRS-like, optional
        The CRS of ``bounds``; default the raster's.
    max_cells : int, optional
        Refuse (:class:`RenewgeoError`, naming the size and the fix) to read more cells than this.
    """
    with _open_band(src, band=band, layer=layer, bounds=bounds, bounds_crs=bounds_crs) as b:
        if max_cells is not None:
            _check_cells(b, max_cells, bytes_per_cell=np.dtype(b.dtype).itemsize, what="read into memory",
                         fix="pass bounds= to read a part of it, or clip it first (gdalwarp -te ...)")
        return Grid(b.read(Window(0, 0, b.width, b.height)), b.transform, b.crs, b.nodata)


# --------------------------------------------------------------------------- windows
#: Rasters above this many cells are not made into in-memory grids (slope_aspect keeps three
#: float32 grids: 12 bytes a cell, 1.1 GiB at this limit); the ``*_to_file`` functions have no limit.
MAX_GRID_CELLS = 100_000_000
#: Rows and columns of the blocks that rasters are read and computed by.
BLOCK_SIZE = 1024
NODATA = -9999.0
#: GDAL's block cache (MB) while renewgeo reads and writes rasters by blocks.
GDAL_CACHE_MB = 128


@dataclass(frozen=True)
class _Band:
    """One band of a raster (a file, or a Grid in memory), read window by window."""

    read: Callable[[Window], np.ndarray]  # raw values of a window of the band
    height: int
    width: int
    transform: Affine
    crs: CRS
    nodata: float | None
    dtype: str
    name: str

    def floats(self, win: Window) -> np.ndarray:
        """A window as float64, NaN where nodata (or NaN, or infinite)."""
        raw = self.read(win)
        z = raw.astype("float64")
        bad = ~np.isfinite(z)
        if self.nodata is not None and not math.isnan(self.nodata):
            bad |= raw == self.nodata
        z[bad] = np.nan
        return z


def _window_of(bounds: Sequence[float], bounds_crs: Any, transform: Affine, crs: CRS, shape: tuple[int, int], *, name: str,
               pad_px: int = 2) -> Window:
    """The window of cells covering ``bounds`` (plus ``pad_px`` cells), cut to the raster."""
    b = tuple(float(v) for v in bounds)
    if bounds_crs is not None and CRS.from_user_input(bounds_crs) != crs:
        b = rasterio.warp.transform_bounds(CRS.from_user_input(bounds_crs), crs, *b, densify_pts=21)
    if not all(math.isfinite(v) for v in b):
        raise CRSError(f"{name}: the bounds {tuple(bounds)} cannot be placed on the raster (not finite in {crs.to_string()}); "
                       "is the layers' CRS right?")
    inv = ~transform
    cols, rows = zip(*(inv @ (x, y) for x in (b[0], b[2]) for y in (b[1], b[3])), strict=True)
    h, w = shape
    r0, r1 = max(math.floor(min(rows)) - pad_px, 0), min(math.ceil(max(rows)) + pad_px, h)
    c0, c1 = max(math.floor(min(cols)) - pad_px, 0), min(math.ceil(max(cols)) + pad_px, w)
    if r1 <= r0 or c1 <= c0:
        left, top = transform.c, transform.f
        right, bottom = left + transform.a * w, top + transform.e * h
        raise RenewgeoError(
            f"{name} does not cover the bounds {tuple(round(v, 6) for v in b)}: the raster spans "
            f"{tuple(round(v, 6) for v in (min(left, right), min(top, bottom), max(left, right), max(top, bottom)))} "
            f"(both in {crs.to_string()}); is the right raster or CRS used?")
    return Window(c0, r0, c1 - c0, r1 - r0)


def _window_transform(w: Window, t: Affine) -> Affine:
    """The transform of a window's top-left cell."""
    return Affine(t.a, t.b, t.c + t.a * w.col_off + t.b * w.row_off, t.d, t.e, t.f + t.d * w.col_off + t.e * w.row_off)


@contextmanager
def _open_band(src: Any, *, band: int = 1, layer: str = "raster", bounds: Sequence[float] | None = None,
               bounds_crs: Any = None) -> Iterator[_Band]:
    """A band of a path, dataset or Grid, read by windows (only the part under ``bounds`` when given)."""
    if isinstance(src, Grid):
        v = src.values
        base = Window(0, 0, v.shape[1], v.shape[0])
        if bounds is not None:
            base = _window_of(bounds, bounds_crs, src.transform, src.crs, v.shape, name=layer)
        sub = v[base.toslices()]
        yield _Band(lambda w: sub[w.toslices()], sub.shape[0], sub.shape[1], _window_transform(base, src.transform),
                    src.crs, src.nodata, str(v.dtype), layer)
        return
    own = isinstance(src, str | os.PathLike)
    ds = open_raster(src, layer=layer) if own else src
    try:
        if not 1 <= band <= ds.count:
            raise RenewgeoError(f"{layer}: band {band} does not exist; the raster has {ds.count} band(s) (1..{ds.count})")
        crs = CRS.from_user_input(ds.crs)
        base = Window(0, 0, ds.width, ds.height)
        if bounds is not None:
            base = _window_of(bounds, bounds_crs, ds.transform, crs, (ds.height, ds.width), name=f"{layer} {ds.name}")

        def read(w: Window) -> np.ndarray:
            return np.asarray(ds.read(band, window=Window(base.col_off + w.col_off, base.row_off + w.row_off, w.width, w.height)))

        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):  # GDAL's block cache is 5 % of the RAM by default
            yield _Band(read, int(base.height), int(base.width), _window_transform(base, ds.transform), crs, ds.nodata,
                        ds.dtypes[band - 1], f"{layer} {ds.name}")
    finally:
        if own:
            ds.close()


def _check_cells(b: _Band, max_cells: int, *, bytes_per_cell: int, what: str, fix: str) -> None:
    """Refuse a raster too large to hold in memory, naming its size and the fix."""
    n = b.height * b.width
    if n > max_cells:
        raise RenewgeoError(
            f"{b.name}: {b.width:,} x {b.height:,} = {n:,} cells is too large to {what} "
            f"(about {n * bytes_per_cell / 2**30:.1f} GiB; the limit is max_cells={max_cells:,}); {fix}")


def _blocks(height: int, width: int, block_size: int) -> Iterator[Window]:
    """Windows of ``block_size`` x ``block_size`` cells (fewer at the right and bottom edges), row by row."""
    if block_size < 1:
        raise RenewgeoError(f"block_size must be at least 1 cell, got {block_size}")
    for r0 in range(0, height, block_size):
        for c0 in range(0, width, block_size):
            yield Window(c0, r0, min(block_size, width - c0), min(block_size, height - r0))


def _write_blocks(b: _Band, path: str | os.PathLike[str], blocks: Iterator[tuple[Window, np.ndarray]], *, cog: bool) -> Path:
    """Write float32 blocks on ``b``'s grid into a tiled, compressed GeoTIFF (a COG when ``cog``), atomically."""
    dest = Path(path)
    profile = {"driver": "GTiff", "height": b.height, "width": b.width, "count": 1, "dtype": "float32", "crs": b.crs,
               "transform": b.transform, "nodata": NODATA, "tiled": True, "blockxsize": 256, "blockysize": 256,
               "compress": "DEFLATE", "predictor": 3, "bigtiff": "IF_SAFER"}
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), atomic_path(dest) as tmp:
            stage = tmp.with_name(tmp.name + ".blocks.tif") if cog else tmp
            try:
                with rasterio.open(stage, "w", **profile) as dst:
                    for w, v in blocks:
                        dst.write(v, 1, window=w)
                if cog:
                    rasterio.shutil.copy(stage, tmp, driver="COG", compress="DEFLATE", predictor="YES", blocksize=256,
                                         overview_resampling="average", bigtiff="IF_SAFER")
            finally:
                if cog:
                    stage.unlink(missing_ok=True)
    except RenewgeoError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing the GeoTIFF failed ({exc}); any earlier file is intact") from exc
    return dest


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



def _zones_on_raster(raster: Any, zones: gpd.GeoDataFrame, *, band: int, layer: str, max_cells: int) -> tuple[Grid, gpd.GeoDataFrame]:
    """The raster (only the window under the zones, for a file) and the zones in its CRS; refused when they do not overlap."""
    own = isinstance(raster, str | os.PathLike)
    src = open_raster(raster, layer="raster") if own else raster
    try:
        crs = src.crs if isinstance(src, Grid) else CRS.from_user_input(src.crs)
        z = zones.to_crs(crs) if CRS.from_user_input(zones.crs) != crs else zones
        zb = z.total_bounds
        rb = tuple(src.bounds)
        if zb[0] > rb[2] or zb[2] < rb[0] or zb[1] > rb[3] or zb[3] < rb[1]:
            raise RenewgeoError(
                f"{layer} and the raster do not overlap: {layer} bounds {tuple(round(float(v), 6) for v in zb)} vs raster bounds "
                f"{tuple(round(float(v), 6) for v in rb)} (both in {crs.to_string()}); is the right raster or CRS used?"
            )
        grid = src if isinstance(src, Grid) else read_grid(src, band=band, layer="raster", bounds=zb, max_cells=max_cells)
    finally:
        if own:
            src.close()
    return grid, z


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
    max_cells: int = MAX_GRID_CELLS,
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
    max_cells : int
        Only the window of a raster file under the zones is read; a window of more
        cells is refused with a RenewgeoError naming its size.

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
    require_crs(zones, layer=layer)
    for s in stats:
        if s not in _OPS:
            raise RenewgeoError(f"zonal_stats: unknown statistic {s!r}; use {sorted(_OPS)}")
    ops = [_OPS[s] for s in stats] + [f"quantile(q={p / 100:g})" for p in percentiles]
    names = [f"{prefix}{s}" for s in stats] + [f"{prefix}p{p:g}" for p in percentiles]
    out = pd.DataFrame(index=zones.index)
    if len(zones) == 0:
        for nm in names:
            out[nm] = pd.Series(dtype="float64")
        out[f"{prefix}note"] = pd.Series(dtype="string")
        return out
    grid, z = _zones_on_raster(raster, zones, band=band, layer=layer, max_cells=max_cells)
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
def _pixel_metres(transform: Affine, crs: CRS, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel width and height in metres per row (geographic rasters: they vary with latitude)."""
    a, e = transform.a, transform.e
    if crs.is_geographic:
        geod = Geod(ellps="WGS84")
        rows = np.arange(height)
        lat = transform.f + (rows + 0.5) * e
        lon0 = transform.c
        _, _, dx = geod.inv(np.full(height, lon0), lat, np.full(height, lon0 + a), lat)
        _, _, dy = geod.inv(np.full(height, lon0), lat - e / 2, np.full(height, lon0), lat + e / 2)
        return np.asarray(dx), np.asarray(dy)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return np.full(height, abs(a) * unit), np.full(height, abs(e) * unit)


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


def _horn(p: np.ndarray, dx: np.ndarray, dy: np.ndarray, *, south_up: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope (degrees, percent) and aspect of the inner cells of ``p``, by Horn's method as ``gdaldem``.

    ``p`` holds one cell more on each side than the result (NaN for nodata and beyond the
    raster's edges); ``dx`` and ``dy`` are the pixel size in metres of each result row.
    A cell that is nodata, or whose 3 x 3 window holds nodata, is nodata (gdaldem without
    ``-compute_edges``). Aspect is the direction the slope faces, clockwise from north.
    """
    a_, b_, c_ = p[:-2, :-2], p[:-2, 1:-1], p[:-2, 2:]
    d_, e_, f_ = p[1:-1, :-2], p[1:-1, 1:-1], p[1:-1, 2:]
    g_, h_, i_ = p[2:, :-2], p[2:, 1:-1], p[2:, 2:]
    dzdx = ((c_ + 2 * f_ + i_) - (a_ + 2 * d_ + g_)) / (8 * dx[:, None])  # > 0: higher to the east
    dzdy = ((g_ + 2 * h_ + i_) - (a_ + 2 * b_ + c_)) / (8 * dy[:, None])  # > 0: higher to the south (rows run south)
    if south_up:  # rows run north
        dzdy = -dzdy
    grad = np.hypot(dzdx, dzdy)
    slope = np.degrees(np.arctan(grad))
    pct = grad * 100
    # the downhill direction (-dzdx, -dzdy) in (east, south), clockwise from north: gdaldem's 90 - atan2(dy, -dx)
    aspect = (90.0 - np.degrees(np.arctan2(dzdy, -dzdx))) % 360.0
    aspect = np.where(grad == 0, -1.0, aspect)
    bad = ~np.isfinite(grad) | np.isnan(e_)  # Horn's window skips the centre: a void centre is checked on its own
    s, g, a = (np.where(bad, NODATA, v).astype(np.float32) for v in (slope, pct, aspect))
    return s, g, a


def _padded(b: _Band, w: Window, z_factor: float) -> np.ndarray:
    """The window's heights with one cell more on each side (NaN beyond the band's edges)."""
    r0, c0 = w.row_off - 1, w.col_off - 1
    r1, c1 = w.row_off + w.height + 1, w.col_off + w.width + 1
    rr0, cc0, rr1, cc1 = max(r0, 0), max(c0, 0), min(r1, b.height), min(c1, b.width)
    z = b.floats(Window(cc0, rr0, cc1 - cc0, rr1 - rr0)) * z_factor
    return np.pad(z, ((rr0 - r0, r1 - rr1), (cc0 - c0, c1 - cc1)), constant_values=np.nan)


def _slope_blocks(b: _Band, *, z_factor: float, block_size: int) -> Iterator[tuple[Window, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Slope (degrees, percent) and aspect block by block; each block reads one cell of overlap all round."""
    dx, dy = _pixel_metres(b.transform, b.crs, b.height)
    for w in _blocks(b.height, b.width, block_size):
        rows = slice(w.row_off, w.row_off + w.height)
        yield w, _horn(_padded(b, w, z_factor), dx[rows], dy[rows], south_up=b.transform.e > 0)


def slope_aspect(dem: Any, *, band: int = 1, z_factor: float = 1.0, bounds: Sequence[float] | None = None, bounds_crs: Any = None,
                 block_size: int = BLOCK_SIZE, max_cells: int = MAX_GRID_CELLS) -> tuple[Grid, Grid, Grid]:
    """Slope in degrees and percent, and aspect, by Horn's method (as ``gdaldem``).

    For a DEM in longitude/latitude the pixel width and height are converted to
    metres row by row on the WGS 84 ellipsoid, so slopes are right at any latitude.
    Edge pixels, nodata pixels and pixels whose 3 x 3 window holds nodata are nodata
    (as ``gdaldem`` without ``-compute_edges``). The DEM is read and computed block by
    block; only the three result grids are held whole.

    Parameters
    ----------
    dem : path, rasterio dataset or Grid
        The DEM (``/vsizip/`` paths work).
    band : int
        DEM band.
    z_factor : float
        Multiplies the heights (e.g. 0.3048 for heights in feet on a metric grid).
    bounds : (minx, miny, maxx, maxy), optional
        Only the part of the DEM under these bounds (plus two cells all round).
    bounds_crs : CRS-like, optional
        The CRS of ``bounds``; default the DEM's.
    block_size : int
        Rows and columns of the blocks the DEM is read and computed by.
    max_cells : int
        A DEM (or part under ``bounds``) of more cells is refused with a RenewgeoError
        naming its size; :func:`slope_to_file` has no limit.

    Returns
    -------
    (slope_deg, slope_pct, aspect_deg) : Grid, Grid, Grid
        float32 grids with nodata -9999; aspect is the direction the slope faces,
        clockwise from north (a plane falling to the south: 180), -1 where flat.

    Examples
    --------
    >>> from affine import Affine
    >>> from pyproj import CRS
    >>> z = np.repeat(np.arange(5.0, 0.0, -1.0)[:, None], 5, axis=1)  # 1 m lower each 10 m row to the south
    >>> _, pct, aspect = slope_aspect(Grid(z, Affine(10, 0, 500000, 0, -10, 4000050), CRS.from_epsg(32651)))
    >>> float(pct.values[2, 2]), float(aspect.values[2, 2]), float(aspect.values[0, 0])
    (10.0, 180.0, -9999.0)
    """
    with _open_band(dem, band=band, layer="DEM", bounds=bounds, bounds_crs=bounds_crs) as b:
        _check_cells(b, max_cells, bytes_per_cell=12, what="hold its slope and aspect grids in memory",
                     fix="write them block by block with raster.slope_to_file(dem, 'slope_pct.tif'), pass bounds= for the part "
                         "you need, or clip or resample the DEM first (gdalwarp -te ... / -tr ...)")
        out = [np.empty((b.height, b.width), dtype=np.float32) for _ in range(3)]
        for w, vals in _slope_blocks(b, z_factor=z_factor, block_size=block_size):
            for o, v in zip(out, vals, strict=True):
                o[w.toslices()] = v
    slope, pct, aspect = (Grid(o, b.transform, b.crs, NODATA) for o in out)
    return slope, pct, aspect


_SLOPE_OUTPUTS = ("slope_deg", "slope_pct", "aspect_deg")


def slope_to_file(dem: Any, path: str | os.PathLike[str], *, what: str = "slope_pct", band: int = 1, z_factor: float = 1.0,
                  bounds: Sequence[float] | None = None, bounds_crs: Any = None, block_size: int = BLOCK_SIZE,
                  cog: bool = True) -> Path:
    """Slope or aspect of a DEM of any size, computed and written block by block.

    Memory stays bounded by the block size, whatever the DEM's size: use it for DEMs
    too large for :func:`slope_aspect` (the same values, cell for cell).

    Parameters
    ----------
    dem : path, rasterio dataset or Grid
        The DEM.
    path : path-like
        The GeoTIFF to write (float32, nodata -9999), atomically.
    what : {"slope_pct", "slope_deg", "aspect_deg"}
        Which grid to write.
    band, z_factor, bounds, bounds_crs, block_size
        As in :func:`slope_aspect`.
    cog : bool
        Write a Cloud Optimized GeoTIFF (with overviews); else a tiled, compressed GeoTIFF.

    Returns
    -------
    Path
        The file written.
    """
    if what not in _SLOPE_OUTPUTS:
        raise RenewgeoError(f"slope_to_file: what must be one of {list(_SLOPE_OUTPUTS)}, got {what!r}")
    k = _SLOPE_OUTPUTS.index(what)
    with _open_band(dem, band=band, layer="DEM", bounds=bounds, bounds_crs=bounds_crs) as b:
        blocks = ((w, vals[k]) for w, vals in _slope_blocks(b, z_factor=z_factor, block_size=block_size))
        return _write_blocks(b, path, blocks, cog=cog)


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


def _ndvi_blocks(r: _Band, n: _Band, *, block_size: int) -> Iterator[tuple[Window, np.ndarray]]:
    """NDVI block by block: float32, -9999 where either band is nodata or NIR + red is 0."""
    if (r.height, r.width) != (n.height, n.width) or r.crs != n.crs or not r.transform.almost_equals(n.transform):
        raise RenewgeoError("ndvi: the red and NIR bands are on different grids; warp one onto the other first")
    for w in _blocks(r.height, r.width, block_size):
        rv, nv = r.floats(w), n.floats(w)
        den = nv + rv
        bad = np.isnan(den) | (den == 0)
        v = (nv - rv) / np.where(bad, 1.0, den)
        yield w, np.where(bad, NODATA, v).astype(np.float32)


def ndvi(red: Any, nir: Any, *, red_band: int = 1, nir_band: int = 1, bounds: Sequence[float] | None = None, bounds_crs: Any = None,
         block_size: int = BLOCK_SIZE, max_cells: int = MAX_GRID_CELLS) -> Grid:
    """NDVI = (NIR - red) / (NIR + red), float32, nodata -9999, from two files or two bands.

    The two bands must share one grid (same CRS, transform and size). They are read
    block by block; only the result is held whole.

    Parameters
    ----------
    red, nir : path, rasterio dataset or Grid
        The bands.
    red_band, nir_band : int
        Band numbers (1-based).
    bounds : (minx, miny, maxx, maxy), optional
        Only the part under these bounds (plus two cells all round).
    bounds_crs : CRS-like, optional
        The CRS of ``bounds``; default the bands'.
    block_size : int
        Rows and columns of the blocks read at a time.
    max_cells : int
        Bands (or parts under ``bounds``) of more cells are refused with a RenewgeoError
        naming the size; :func:`ndvi_to_file` has no limit.
    """
    with _open_band(red, band=red_band, layer="red band", bounds=bounds, bounds_crs=bounds_crs) as r, \
            _open_band(nir, band=nir_band, layer="NIR band", bounds=bounds, bounds_crs=bounds_crs) as n:
        _check_cells(r, max_cells, bytes_per_cell=4, what="hold its NDVI grid in memory",
                     fix="write it block by block with raster.ndvi_to_file(red, nir, 'ndvi.tif'), pass bounds= for the part you "
                         "need, or clip the bands first (gdalwarp -te ...)")
        out = np.empty((r.height, r.width), dtype=np.float32)
        for w, v in _ndvi_blocks(r, n, block_size=block_size):
            out[w.toslices()] = v
    return Grid(out, r.transform, r.crs, NODATA)


def ndvi_to_file(red: Any, nir: Any, path: str | os.PathLike[str], *, red_band: int = 1, nir_band: int = 1,
                 bounds: Sequence[float] | None = None, bounds_crs: Any = None, block_size: int = BLOCK_SIZE,
                 cog: bool = True) -> Path:
    """NDVI of bands of any size, computed and written block by block (bounded memory).

    Parameters are those of :func:`ndvi`, plus ``path`` (the GeoTIFF, written atomically)
    and ``cog`` (a Cloud Optimized GeoTIFF with overviews; else a tiled GeoTIFF).
    """
    with _open_band(red, band=red_band, layer="red band", bounds=bounds, bounds_crs=bounds_crs) as r, \
            _open_band(nir, band=nir_band, layer="NIR band", bounds=bounds, bounds_crs=bounds_crs) as n:
        return _write_blocks(r, path, _ndvi_blocks(r, n, block_size=block_size), cog=cog)


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

    Only the part of each raster under the project's layers (their bounds, plus two
    cells) is read and written, so a regional DEM costs what the project covers.
    """
    project = ctx.project
    s = ctx.section(RasterSettings)
    res = Result()
    areas = {k: ctx.layer(k) for k in ("zones", "sites") if ctx.has(k)}
    roles = {spec.role: spec for spec in project.rasters.values()}
    extent = _project_bounds(project)
    if "dem" in roles:
        dem = roles["dem"]
        _, pct, _ = slope_aspect(dem.path, band=dem.band, bounds=extent, bounds_crs=project.crs)
        res.grids["slope_pct"] = pct
        res.layers["steep_land"] = steep_land(pct, s.steep_slope_pct, project.crs)
        for k, g in areas.items():
            res.tables[f"slope_by_{k[:-1]}"] = _with_ids(g, zonal_stats(pct, g, stats=("count", "mean", "max"), above=s.steep_slope_pct,
                                                                       prefix="slope_pct_", layer=k))
    if "red" in roles and "nir" in roles:
        r, n = roles["red"], roles["nir"]
        v = ndvi(r.path, n.path, red_band=r.band, nir_band=n.band, bounds=extent, bounds_crs=project.crs)
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


def _project_bounds(project: Project) -> tuple[float, float, float, float] | None:
    """The bounds of every layer of the project together (in its CRS), or None when no layer has a geometry."""
    b = np.array([g.total_bounds for g in project.layers.values() if len(g)], dtype="float64").reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    if len(b) == 0:
        return None
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


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
    reads=("zones", "sites", "rasters", "extent"),
))
