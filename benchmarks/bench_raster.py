"""Rasters: zonal statistics against rasterstats, and slope of a DEM too large for memory.

Zonal mean and max over 10,000 polygons on the Andorra SRTM DEM: renewgeo uses
exactextract (coverage-weighted); rasterstats rasterises each polygon (pixel centres).
Same polygons, same raster, same run.

The large case: a synthetic 30,000 x 30,000 int16 DEM (tiled, DEFLATE, with voids; made in
a temporary folder, block by block) gets its slope written as a Cloud Optimized GeoTIFF
with ``raster.slope_to_file`` in a fresh process, whose peak RSS is its own. The
in-memory ``slope_aspect`` refuses it with the size and the fix.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from _common import bench, need_shared, peak_rss_gb
from affine import Affine
from rasterio.windows import Window

import renewgeo as rg
from renewgeo import raster as R

N = 10_000
LARGE_PX = 30_000


def zonal() -> list[tuple[str, float, str]]:
    dem = f"/vsizip/{need_shared() / 'raster' / 'srtm3_N42E001_andorra.hgt.zip'}/N42E001.hgt"
    rng = np.random.default_rng(0)
    c = rng.uniform([1.05, 42.05], [1.95, 42.95], (N, 2))
    r = rng.uniform(0.002, 0.006, N)  # ~200-600 m across
    polys = gpd.GeoDataFrame({"id": np.arange(N)}, geometry=shapely.buffer(shapely.points(c), r, quad_segs=4), crs=4326)
    grid = R.read_grid(dem)
    t = time.perf_counter()
    ours = R.zonal_stats(grid, polys, stats=("mean", "max"))
    t_rg = time.perf_counter() - t
    from rasterstats import zonal_stats

    t = time.perf_counter()
    theirs = zonal_stats(polys.geometry.values, grid.values, affine=grid.transform, nodata=grid.nodata, stats=["mean", "max"])
    t_rs = time.perf_counter() - t
    rs_mean = np.array([s["mean"] if s["mean"] is not None else np.nan for s in theirs])
    diff = np.nanmedian(np.abs(ours["mean"].to_numpy() - rs_mean))
    print(f"renewgeo (exactextract, coverage-weighted): {t_rg:.2f} s; rasterstats (pixel centres): {t_rs:.2f} s; "
          f"median |mean difference| {diff:.2f} m (partial pixels weighted vs centre rule)")
    return [("zonal_speedup_vs_rasterstats", t_rs / t_rg, "x"), ("zonal_10k_seconds", t_rg, "s")]


def make_dem(path: Path, size: int, *, block: int = 2048) -> None:
    """A smooth synthetic terrain, 10 m cells in UTM 50N, 0.1 % voids, written block by block."""
    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "int16", "nodata": -32768,
               "crs": "EPSG:32650", "transform": Affine(10, 0, 300000, 0, -10, 4100000), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "DEFLATE", "bigtiff": "YES"}
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, block):
            for c0 in range(0, size, block):
                h, w = min(block, size - r0), min(block, size - c0)
                y, x = np.mgrid[r0:r0 + h, c0:c0 + w].astype("float32")
                z = 800 + 300 * np.sin(x / 900) * np.cos(y / 1300) + 0.02 * x
                z = z.astype(np.int16)
                z[rng.random((h, w)) < 0.001] = -32768
                dst.write(z, 1, window=Window(c0, r0, w, h))


def large_child(dem: str, out: str) -> None:
    """Run in a fresh process: the slope of the large DEM, written block by block."""
    rg.options.progress = False
    t = time.perf_counter()
    R.slope_to_file(dem, out)
    print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_gb": peak_rss_gb()}))


def large(size: int = LARGE_PX) -> list[tuple[str, float, str]]:
    with tempfile.TemporaryDirectory(prefix="renewgeo-bench-") as tmp:
        dem = Path(tmp) / "dem.tif"
        t = time.perf_counter()
        make_dem(dem, size)
        print(f"synthetic DEM {size:,} x {size:,} int16 ({size * size / 1e6:,.0f} M cells): "
              f"{dem.stat().st_size / 2**20:.1f} MB on disk, made in {time.perf_counter() - t:.0f} s")
        try:
            R.slope_aspect(dem)
        except rg.RenewgeoError as exc:
            print(f"slope_aspect (in memory) refuses it: {exc}")
        res = subprocess.run([sys.executable, __file__, "--large-child", str(dem), str(Path(tmp) / "slope.tif")],
                             capture_output=True, text=True, check=True)
        got = json.loads(res.stdout.strip().splitlines()[-1])
        children_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        with rasterio.open(Path(tmp) / "slope.tif") as f:
            print(f"slope_to_file: {got['seconds']:.0f} s, peak RSS of that process {got['peak_rss_gb']:.2f} GB "
                  f"(RUSAGE_CHILDREN {children_gb:.2f} GB); wrote a {f.width:,} x {f.height:,} COG, "
                  f"{(Path(tmp) / 'slope.tif').stat().st_size / 2**20:.0f} MB, {len(f.overviews(1))} overviews")
    return [("raster_large_peak_rss_gb", got["peak_rss_gb"], "GB"), ("raster_large_seconds", got["seconds"], "s")]


def main() -> None:
    rg.options.progress = False
    lines = [] if "--no-zonal" in sys.argv else zonal()
    if "--no-large" not in sys.argv:
        size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else LARGE_PX
        lines += large(size)
    for name, value, unit in lines:
        bench(name, value, unit)


if __name__ == "__main__":
    if "--large-child" in sys.argv:
        i = sys.argv.index("--large-child")
        large_child(sys.argv[i + 1], sys.argv[i + 2])
    else:
        main()
