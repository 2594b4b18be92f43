"""Rasters: hand-made grids, real DEMs against gdaldem, NDVI against numpy, COGs read by GDAL."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.warp import Resampling, reproject

import renewgeo as rg
from renewgeo import raster as R

X0, Y0 = 500000.0, 4000000.0


def grid(values, res=10.0, nodata=None, crs=32651):
    v = np.asarray(values)
    return R.Grid(v, Affine(res, 0, X0, 0, -res, Y0 + v.shape[0] * res), CRS.from_user_input(crs), nodata)


def zones(*boxes, crs=32651):
    return gpd.GeoDataFrame({"id": [f"Z{i}" for i in range(len(boxes))]},
                            geometry=[shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in boxes], crs=crs)


def test_zonal_stats_hand_computed():
    v = np.arange(16, dtype=np.float32).reshape(4, 4)  # rows from the top: 0..3, 4..7, ...
    v[0, 0] = -1
    g = grid(v, nodata=-1)
    z = zones((0, 20, 20, 40), (0, 0, 40, 40), (20, 0, 30, 10))  # top-left 2x2, all, one pixel (row 3, col 2)
    s = R.zonal_stats(g, z, stats=("count", "mean", "min", "max", "std", "sum"), percentiles=(50,), above=10)
    assert s.loc[0, "count"] == 3 and s.loc[0, "mean"] == pytest.approx((1 + 4 + 5) / 3)  # the nodata pixel is left out
    assert s.loc[1, "count"] == 15 and s.loc[1, "min"] == 1 and s.loc[1, "max"] == 15
    assert s.loc[1, "sum"] == pytest.approx(sum(range(1, 16)))
    assert s.loc[1, "std"] == pytest.approx(np.std(np.arange(1, 16)))
    assert s.loc[2, "mean"] == 14
    assert s.loc[1, "share_above_10"] == pytest.approx(5 / 15)
    assert s.loc[1, "valid_area_m2"] == pytest.approx(1500.0)
    assert (s["note"] == "").all()


def test_partial_pixels_are_coverage_weighted():
    g = grid(np.array([[0.0, 10.0]], dtype=np.float32))
    s = R.zonal_stats(g, zones((5, 0, 20, 10)))  # half of pixel 0, all of pixel 1
    assert s.loc[0, "count"] == pytest.approx(1.5)
    assert s.loc[0, "mean"] == pytest.approx((0 * 0.5 + 10 * 1) / 1.5)


def test_bad_input():
    g = grid(np.ones((3, 3), dtype=np.float32), nodata=1.0)
    s = R.zonal_stats(g, zones((0, 0, 30, 30)))
    assert np.isnan(s.loc[0, "mean"]) and "no valid pixels" in s.loc[0, "note"]  # all nodata: NaN with a reason
    with pytest.raises(rg.RenewgeoError, match=r"do not overlap: zones bounds .* vs raster bounds"):
        R.zonal_stats(g, zones((1000, 1000, 1100, 1100)))
    with pytest.raises(rg.RenewgeoError, match="band 2 does not exist; the raster has 1"):
        R.read_grid(_tif(g), band=2)


def _tif(g, path=None):
    import tempfile
    from pathlib import Path

    path = path or Path(tempfile.mkdtemp()) / "g.tif"
    with rasterio.open(path, "w", driver="GTiff", height=g.values.shape[0], width=g.values.shape[1], count=1,
                       dtype=g.values.dtype, crs=g.crs, transform=g.transform, nodata=g.nodata) as dst:
        dst.write(g.values, 1)
    return path


def test_raster_without_crs_refused(tmp_path):
    path = tmp_path / "nocrs.tif"
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning), \
            rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="uint8") as dst:
        dst.write(np.zeros((2, 2), dtype=np.uint8), 1)

    with pytest.raises(rg.CRSError, match="has no CRS"):
        R.open_raster(path)


def test_slope_of_a_plane():
    x = np.arange(20) * 10.0
    z = np.tile(x * 0.1, (20, 1)).astype(np.float32)  # rises 0.1 m per m eastwards
    s, pct, asp = R.slope_aspect(grid(z))
    inner = s.values[1:-1, 1:-1]
    assert np.allclose(inner, np.degrees(np.arctan(0.1)), atol=1e-4)
    assert np.allclose(pct.values[1:-1, 1:-1], 10.0, atol=1e-3)
    assert np.allclose(asp.values[1:-1, 1:-1], 270.0, atol=1e-3)  # faces west (downhill)
    assert (s.values[0] == -9999).all()  # edges are nodata


def test_slope_constraint_polygons():
    z = np.zeros((20, 20), dtype=np.float32)
    z[:, 10:] = np.arange(10) * 5.0  # 50 % slope on the east half
    c = R.slope_constraints(grid(z), max_slope_pct=25)
    assert len(c) >= 1 and (c["constraint_type"] == "slope").all()
    assert c.total_bounds[0] >= X0 + 90  # only the east half


def _horn_numpy(z, dx, dy):
    """An independent, whole-array Horn (gdaldem's formulas, written out cell by cell): slope % and aspect."""
    h, w = z.shape
    pct = np.full((h, w), np.nan)
    asp = np.full((h, w), np.nan)
    for r in range(1, h - 1):
        for c in range(1, w - 1):
            win = z[r - 1:r + 2, c - 1:c + 2]
            if np.isnan(win).any():
                continue
            (a, b, cc), (d, _, f), (g, hh, i) = win
            ex = ((cc + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)  # rise to the east
            sy = ((g + 2 * hh + i) - (a + 2 * b + cc)) / (8 * dy)  # rise to the south
            pct[r, c] = 100 * np.hypot(ex, sy)
            # downhill: east component -ex, north component +sy; bearing clockwise from north
            asp[r, c] = np.degrees(np.arctan2(-ex, sy)) % 360 if (ex or sy) else -1
    return pct, asp


@pytest.mark.parametrize(("falls_to", "east_per_m", "north_per_m", "expected"), [
    ("north", 0.0, -0.1, 0.0), ("east", -0.1, 0.0, 90.0), ("south", 0.0, 0.1, 180.0), ("west", 0.1, 0.0, 270.0),
    ("south-east", -0.1, 0.1, 135.0), ("north-west", 0.05, -0.05, 315.0),
])
def test_aspect_faces_downhill_every_way(falls_to, east_per_m, north_per_m, expected):
    """Aspect is the compass direction a plane falls to (renewgeo used to mirror it north-south)."""
    y, x = np.mgrid[0:9, 0:9] * 10.0  # rows run south: y grows southwards
    z = east_per_m * x - north_per_m * y
    _, pct, asp = R.slope_aspect(grid(z))
    assert asp.values[4, 4] == pytest.approx(expected, abs=1e-4), falls_to
    assert pct.values[4, 4] == pytest.approx(100 * np.hypot(east_per_m, north_per_m), abs=1e-4)
    # the same plane stored south-up (rows run north) faces the same way
    up = R.Grid(z[::-1].copy(), Affine(10, 0, X0, 0, 10, Y0), CRS.from_epsg(32651), None)
    assert R.slope_aspect(up)[2].values[4, 4] == pytest.approx(expected, abs=1e-4)


def test_aspect_on_non_square_pixels():
    """10 m x 25 m pixels: a plane falling 1 m per 10 m east and 1 m per 10 m south faces 135 degrees."""
    y, x = np.mgrid[0:7, 0:7].astype(float)
    z = -0.1 * (x * 10) - 0.1 * (y * 25)  # metres: falls east and south equally
    g = R.Grid(z, Affine(10, 0, X0, 0, -25, Y0), CRS.from_epsg(32651), None)
    _, pct, asp = R.slope_aspect(g)
    ref_pct, ref_asp = _horn_numpy(z, 10.0, 25.0)
    assert asp.values[3, 3] == pytest.approx(135.0, abs=1e-4) and ref_asp[3, 3] == pytest.approx(135.0)
    assert pct.values[3, 3] == pytest.approx(ref_pct[3, 3], rel=1e-6)


def test_void_cells_and_their_window_are_nodata(tmp_path):
    """An SRTM void inside valid cells gets no slope, nor do the cells whose 3x3 window holds it (as gdaldem)."""
    z = np.full((7, 7), 100, dtype=np.int16)
    z[:, 4:] = 120  # a step, so the cells next to the void would have a slope
    z[3, 3] = -32768
    g = grid(z, nodata=-32768)
    slope, pct, asp = R.slope_aspect(g)
    expected = np.ones((7, 7), dtype=bool)
    expected[1:-1, 1:-1] = False
    expected[2:5, 2:5] = True  # the void and its 8 neighbours
    for out in (slope, pct, asp):
        assert np.array_equal(out.values == -9999, expected)
    assert slope.values[3, 3] == -9999  # was 45.0 with Horn's window, which skips the centre
    if shutil.which("gdaldem"):
        src, ref = _tif(g, tmp_path / "void.tif"), tmp_path / "gslope.tif"
        subprocess.run(["gdaldem", "slope", "-q", "-p", str(src), str(ref)], check=True)
        with rasterio.open(ref) as r:
            gd = r.read(1)
            assert np.array_equal(gd == r.nodata, expected)
            assert np.allclose(gd[~expected], pct.values[~expected], atol=1e-3)


def _bumpy_dem(h=23, w=31, seed=1):
    rng = np.random.default_rng(seed)
    z = (rng.uniform(0, 50, (h, w)) + np.add.outer(np.arange(h) * 3.0, np.arange(w) * 2.0)).astype(np.int16)
    z[rng.integers(0, h, 8), rng.integers(0, w, 8)] = -32768  # voids, some on block borders
    return z


@pytest.mark.parametrize("crs", [32651, 4326])
def test_blocks_give_the_whole_array_result_exactly(crs, tmp_path):
    """Slope and NDVI computed in 5 x 7 ... blocks (1-cell overlap) equal the one-block result, bit for bit."""
    z = _bumpy_dem()
    res = 10.0 if crs == 32651 else 0.000833
    g = R.Grid(z, Affine(res, 0, 1.5 if crs == 4326 else X0, 0, -res, 42.6 if crs == 4326 else Y0), CRS.from_epsg(crs), -32768)
    whole = R.slope_aspect(g, block_size=10_000)
    for bs in (5, 7, 16):
        for a, b in zip(whole, R.slope_aspect(g, block_size=bs), strict=True):
            assert np.array_equal(a.values, b.values), bs
    # an independent whole-array Horn in numpy, on a projected grid
    if crs == 32651:
        ref_pct, ref_asp = _horn_numpy(np.where(z == -32768, np.nan, z.astype(float)), 10.0, 10.0)
        assert np.array_equal(np.isnan(ref_pct), whole[1].values == -9999)
        ok = ~np.isnan(ref_pct)
        assert np.allclose(whole[1].values[ok], ref_pct[ok], rtol=1e-6)
        d = np.abs(whole[2].values[ok] - ref_asp[ok]) % 360
        assert np.minimum(d, 360 - d).max() < 1e-3
    # written block by block from a file: the same values
    src = _tif(g, tmp_path / "dem.tif")
    for what, k in (("slope_deg", 0), ("slope_pct", 1), ("aspect_deg", 2)):
        out = R.slope_to_file(src, tmp_path / f"{what}.tif", what=what, block_size=6, cog=what == "slope_pct")
        with rasterio.open(out) as f:
            assert f.nodata == -9999 and f.transform.almost_equals(g.transform) and f.profile["tiled"]
            assert np.array_equal(f.read(1), whole[k].values)
    # NDVI by blocks
    red = R.Grid((z % 97 + 1).astype(np.int16), g.transform, g.crs, None)
    nir = R.Grid((z % 89).astype(np.int16), g.transform, g.crs, 0)
    one = R.ndvi(red, nir, block_size=10_000)
    assert np.array_equal(one.values, R.ndvi(red, nir, block_size=4).values)
    rv, nv = red.values.astype(float), nir.values.astype(float)
    ok = (nv != 0) & (rv + nv != 0)
    assert np.allclose(one.values[ok], ((nv - rv) / (nv + rv))[ok]) and (one.values[~ok] == -9999).all()
    nf = R.ndvi_to_file(_tif(red, tmp_path / "red.tif"), _tif(nir, tmp_path / "nir.tif"), tmp_path / "ndvi.tif", block_size=5)
    with rasterio.open(nf) as f:
        assert np.array_equal(f.read(1), one.values)


def test_large_rasters_refused_with_size_and_fix_or_done_by_blocks(tmp_path):
    """Too large for memory: a RenewgeoError naming the size and the fix; slope_to_file keeps memory bounded."""
    import tracemalloc

    h = w = 1500
    z = np.add.outer(np.arange(h, dtype=np.int16), np.arange(w, dtype=np.int16) // 2).astype(np.int16)
    g = grid(z, nodata=-32768)
    path = _tif(g, tmp_path / "big.tif")
    with pytest.raises(rg.RenewgeoError, match=r"1,500 x 1,500 = 2,250,000 cells is too large .*max_cells=1,000,000.*slope_to_file"):
        R.slope_aspect(path, max_cells=1_000_000)
    with pytest.raises(rg.RenewgeoError, match=r"2,250,000 cells .*ndvi_to_file"):
        R.ndvi(path, path, max_cells=1_000_000)
    tracemalloc.start()
    try:
        R.slope_to_file(path, tmp_path / "slope.tif", block_size=128, cog=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # one float64 copy of the DEM alone would be 18 MB
    with rasterio.open(tmp_path / "slope.tif") as f:
        got = f.read(1, window=rasterio.windows.Window(10, 10, 5, 5))
    # rises 1 m per 10 m south and 0.5 m per 10 m east (in whole metres): 5 .. 11.2 %
    assert ((got > 4) & (got < 12)).all()


def test_bounds_read_only_the_part_needed(tmp_path):
    z = _bumpy_dem(40, 50)
    g = grid(z, nodata=-32768)
    path = _tif(g, tmp_path / "dem.tif")
    whole = R.slope_aspect(path)[1]
    part = R.slope_aspect(path, bounds=(X0 + 100, Y0 + 150, X0 + 200, Y0 + 250))
    pv = part[1].values
    assert pv.shape == (14, 14)  # 10 x 10 cells plus 2 all round
    c0, r0 = (round(v) for v in ~whole.transform @ (part[1].transform.c, part[1].transform.f))
    assert (r0, c0) == (13, 8)
    assert np.array_equal(pv[1:-1, 1:-1], whole.values[r0 + 1:r0 + 13, c0 + 1:c0 + 13])
    # the same in another CRS (geographic bounds)
    wgs = gpd.GeoSeries([shapely.box(X0 + 100, Y0 + 150, X0 + 200, Y0 + 250)], crs=32651).to_crs(4326).total_bounds
    assert R.slope_aspect(path, bounds=wgs, bounds_crs=4326)[1].values.shape[0] >= 14
    with pytest.raises(rg.RenewgeoError, match="does not cover the bounds"):
        R.slope_aspect(path, bounds=(0, 0, 10, 10))
    # zonal statistics of a file read only the window under the zones; the same figures as the whole grid
    z_ = zones((100, 150, 200, 250), (5, 5, 95, 35))
    assert R.zonal_stats(path, z_, stats=("mean", "max")).equals(R.zonal_stats(R.read_grid(path), z_, stats=("mean", "max")))
    R.zonal_stats(path, zones((100, 150, 120, 170)), max_cells=100)  # a 6 x 6 window
    with pytest.raises(rg.RenewgeoError, match="too large"):
        R.zonal_stats(path, z_, max_cells=100)


DEM = "/vsizip/{}/N42E001.hgt"


@pytest.mark.realdata
def test_andorra_slope_against_gdaldem(shared_data, tmp_path):
    if shutil.which("gdaldem") is None or shutil.which("gdalwarp") is None:
        from tests.conftest import _missing

        _missing("GDAL command-line tools (gdal-bin) are not installed")
    dem = DEM.format(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip")
    warped, gslope = tmp_path / "warp.tif", tmp_path / "gslope.tif"
    # warp to UTM 31N at the DEM's own spacing (0.000833 deg ~ 68.4 m x 92.6 m at 42.5 N)
    subprocess.run(["gdalwarp", "-q", "-t_srs", "EPSG:32631", "-tr", "68.4", "92.6", "-r", "bilinear",
                    "-dstnodata", "-32768", dem, str(warped)], check=True)
    subprocess.run(["gdaldem", "slope", "-q", str(warped), str(gslope)], check=True)
    with rasterio.open(gslope) as g:
        ref, ref_nod, tf, crs = g.read(1), g.nodata, g.transform, g.crs
    # the same metric grid: the same algorithm, to the last bit
    same, _, _ = R.slope_aspect(warped)
    ok = (ref != ref_nod) & (same.values != -9999)
    assert np.abs(ref[ok] - same.values[ok]).max() < 1e-3
    # straight on the geographic DEM (pixel size in metres row by row), compared on the metric grid
    geo, _, _ = R.slope_aspect(dem)
    onto = np.full(ref.shape, -9999.0, dtype=np.float32)
    reproject(geo.values, onto, src_transform=geo.transform, src_crs=geo.crs, src_nodata=-9999, dst_transform=tf, dst_crs=crs,
              dst_nodata=-9999, resampling=Resampling.bilinear)
    ok = (ref != ref_nod) & (onto != -9999)
    assert ok.sum() > 1_000_000
    assert np.abs(ref[ok] - onto[ok]).mean() < 0.5


def _circular_diff_deg(a, b):
    d = np.abs(a - b) % 360
    return np.minimum(d, 360 - d)


@pytest.mark.realdata
def test_andorra_aspect_against_gdaldem(shared_data, tmp_path):
    """Aspect equals gdaldem's on the same metric grid; on the geographic DEM it agrees up to resampling."""
    if shutil.which("gdaldem") is None or shutil.which("gdalwarp") is None:
        from tests.conftest import _missing

        _missing("GDAL command-line tools (gdal-bin) are not installed")
    dem = DEM.format(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip")
    warped, gasp, gslope = tmp_path / "warp.tif", tmp_path / "gasp.tif", tmp_path / "gslope.tif"
    # square 75 m pixels: gdaldem (3.6) computes aspect from raw cell differences, right only for square pixels
    subprocess.run(["gdalwarp", "-q", "-t_srs", "EPSG:32631", "-tr", "75", "75", "-r", "bilinear", "-dstnodata", "-32768",
                    dem, str(warped)], check=True)
    subprocess.run(["gdaldem", "aspect", "-q", str(warped), str(gasp)], check=True)
    subprocess.run(["gdaldem", "slope", "-q", str(warped), str(gslope)], check=True)
    with rasterio.open(gasp) as g, rasterio.open(gslope) as s:
        ref, ref_nod, tf, crs, gs = g.read(1), g.nodata, g.transform, g.crs, s.read(1)
    _, _, same = R.slope_aspect(warped)
    ok = (ref != ref_nod) & (same.values >= 0)
    assert ok.sum() > 1_500_000
    d = _circular_diff_deg(ref[ok], same.values[ok])
    assert d.max() < 1e-3  # measured: max 3e-5, mean 3e-6 degrees
    # gdaldem's nodata is renewgeo's nodata plus the flat cells (gdaldem: nodata; renewgeo: -1)
    assert np.array_equal(ref == ref_nod, (same.values == -9999) | (same.values == -1))
    assert (np.abs((180 - ref[ok]) % 360 - same.values[ok]) > 1).mean() > 0.9  # the old, mirrored aspect would fail
    # the geographic DEM (true north), its sin and cos resampled onto the metric grid, on slopes above 15 degrees
    _, _, geo = R.slope_aspect(dem)
    sc = []
    for f in (np.sin, np.cos):
        v = np.where(geo.values >= 0, f(np.radians(geo.values)), np.nan).astype(np.float32)
        o = np.full(ref.shape, np.nan, dtype=np.float32)
        reproject(v, o, src_transform=geo.transform, src_crs=geo.crs, src_nodata=np.nan, dst_transform=tf, dst_crs=crs,
                  dst_nodata=np.nan, resampling=Resampling.bilinear)
        sc.append(o)
    onto = np.degrees(np.arctan2(*sc)) % 360
    ok = (ref != ref_nod) & np.isfinite(onto) & (gs > 15)
    d = _circular_diff_deg(ref[ok], onto[ok])
    assert ok.sum() > 900_000 and np.median(d) < 2 and d.mean() < 3  # measured: median 1.3, mean 1.8 (grid north is ~1 degree off true north here)


@pytest.mark.realdata
def test_andorra_slope_per_parcel(shared_data):
    dem = DEM.format(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip")
    b = rg.io.read_osm(shared_data / "osm" / "andorra.osm.pbf", what="buildings")
    p = rg.Project.from_layers({"buildings": b}, repair=True)
    x0, y0, x1, y1 = p["buildings"].total_bounds
    cells = [shapely.box(x, y, x + 500, y + 500) for x in np.arange(x0, x1, 500) for y in np.arange(y0, y1, 500)]
    parcels = gpd.GeoDataFrame({"id": [f"G{i}" for i in range(len(cells))]}, geometry=cells, crs=p.crs)
    _, pct, _ = R.slope_aspect(dem)
    s = R.zonal_stats(pct, parcels, stats=("count", "mean", "max"), above=30)
    assert (s["count"] > 0).all()
    assert 5 < s["mean"].median() < 80  # the Pyrenees
    assert ((s["share_above_30"] >= 0) & (s["share_above_30"] <= 1)).all()
    # a 500 m cell holds about 250,000 m2 of pixels
    assert s["valid_area_m2"].median() == pytest.approx(250000, rel=0.02)


@pytest.mark.realdata
def test_raleigh_ndvi_against_numpy(shared_data):
    red = shared_data / "raster" / "landsat7_2000_b3_red_raleigh.tif"
    nir = shared_data / "raster" / "landsat7_2000_b4_nir_raleigh.tif"
    v = R.ndvi(red, nir)
    assert v.crs.is_projected  # NC State Plane in metres (the file's WKT is not tagged EPSG:32119)
    # grid cells of 10 x 10 pixels, on pixel edges
    h, w = v.values.shape
    tf = v.transform
    cells = [shapely.box(tf.c + c * tf.a, tf.f + (r + 10) * tf.e, tf.c + (c + 10) * tf.a, tf.f + r * tf.e)
             for r in range(0, h - 10, 10) for c in range(0, w - 10, 10)]
    z = gpd.GeoDataFrame({"id": range(len(cells))}, geometry=cells, crs=v.crs)
    s = R.zonal_stats(v, z, stats=("count", "mean"), above=0.3)
    with rasterio.open(red) as r_, rasterio.open(nir) as n_:
        rv, nv = r_.read(1).astype("float64"), n_.read(1).astype("float64")
        nod = r_.nodata
    for i, cell in enumerate(cells[:: max(1, len(cells) // 60)]):
        k = cells.index(cell)
        m = rasterio.features.geometry_mask([cell], out_shape=(h, w), transform=tf, invert=True)
        valid = m & (rv + nv != 0) & ((rv != nod) & (nv != nod) if nod is not None else True)
        ref = ((nv - rv) / (nv + rv))[valid]
        if len(ref) == 0:
            assert np.isnan(s.loc[k, "mean"])
            continue
        assert abs(s.loc[k, "mean"] - ref.astype(np.float32).astype("float64").mean()) < 1e-6, i
        assert abs(s.loc[k, "share_above_0.3"] - (ref > 0.3).mean()) < 1e-6
    assert s["share_above_0.3"].dropna().between(0, 1).all()
    assert (s.loc[s["mean"].isna(), "note"] != "").all()  # outside the scene: NaN with a reason



@pytest.mark.realdata
def test_helsinki_geographic_dem_with_population_grid(shared_data):
    dem = shared_data / "raster" / "helsinki_lapinlahti_dem_1m.tif"
    with rasterio.open(dem) as src:
        assert CRS.from_user_input(src.crs).is_geographic
        b = src.bounds
    pop = gpd.read_file(shared_data / "grid" / "helsinki_population_grid_250m.gpkg").to_crs(4326)
    tile = shapely.box(b.left, b.bottom, b.right, b.top)
    cells = pop[pop.geometry.intersects(tile)].copy()
    assert len(cells) >= 1
    s = R.zonal_stats(dem, cells, stats=("count", "mean", "min", "max"))
    # the covered area in metres equals the geodesic area of cell x tile (pixels ~1 m, in degrees)
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    ref = np.array([abs(geod.geometry_area_perimeter(shapely.orient_polygons(g.intersection(tile)))[0]) for g in cells.geometry])
    has = s["count"] > 0
    assert has.any()
    assert s.loc[has, "valid_area_m2"].to_numpy() == pytest.approx(ref[has.to_numpy()], rel=0.02)
    assert s.loc[has, "mean"].between(-5, 60).all()



def test_cog_written_and_read_by_gdal(tmp_path):
    g = grid(np.random.default_rng(0).uniform(0, 100, (600, 700)).astype(np.float32), nodata=-9999.0)
    g.values[:5, :5] = -9999.0
    path = R.write_cog(g, tmp_path / "surface.tif")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32651 and src.nodata == -9999.0
        assert src.transform.almost_equals(g.transform)
        assert src.profile["tiled"] and src.compression.name.upper() == "DEFLATE"
        assert len(src.overviews(1)) >= 1
        assert np.array_equal(src.read(1), g.values)
    if shutil.which("gdalinfo"):
        info = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True).stdout
        assert "LAYOUT=COG" in info and "Overviews" in info


def test_surfaces():
    pts = gpd.GeoDataFrame({"d": [100.0, 500.0]}, geometry=[shapely.Point(X0 + 5, Y0 + 5), shapely.Point(X0 + 95, Y0 + 5)], crs=32651)
    s = R.nearest_surface(pts, "d", resolution_m=10, max_distance_m=40, bounds=(X0, Y0, X0 + 100, Y0 + 10))
    assert s.values.shape == (1, 10)
    assert s.values[0, 0] == 100 and s.values[0, 9] == 500 and s.values[0, 5] == -9999
    b = gpd.GeoDataFrame({"gfa_m2": [2000.0, 3000.0]}, geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10), shapely.box(X0 + 20, Y0, X0 + 30, Y0 + 10)], crs=32651)
    d = R.density_surface(b, "gfa_m2", resolution_m=100, bounds=(X0, Y0, X0 + 100, Y0 + 100))
    assert d.values.sum() == pytest.approx(5000.0)  # 5,000 m2 in one hectare


@pytest.mark.realdata
def test_project_with_dem_run_and_cli(shared_data, tmp_path):
    """A project declaring a DEM: slope per parcel, steep land taken out of the release, COGs."""
    from renewgeo.pipeline import run_project
    from tests.test_cli import run

    dem = DEM.format(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip")
    cells = [shapely.box(x, y, x + 0.01, y + 0.01) for x in np.arange(1.50, 1.56, 0.01) for y in np.arange(42.50, 42.54, 0.01)]
    parcels = gpd.GeoDataFrame({"id": [f"A{i}" for i in range(len(cells))], "release_year": 2025}, geometry=cells, crs=4326)
    roads = gpd.GeoDataFrame({"id": ["R1"], "constraint_type": ["road"], "width_m": [15.0]},
                             geometry=[shapely.LineString([(1.50, 42.52), (1.56, 42.52)])], crs=4326)
    parcels.to_file(tmp_path / "andorra.gpkg", layer="parcels")
    roads.to_file(tmp_path / "andorra.gpkg", layer="constraints")
    (tmp_path / "project.toml").write_text(f"""
[project]
name = "andorra"
[layers.parcels]
kind = "sites"
file = "andorra.gpkg"
layer = "parcels"
[layers.constraints]
file = "andorra.gpkg"
layer = "constraints"
[rasters.dem]
file = "{dem}"
[release]
max_slope_pct = 40
[raster]
steep_slope_pct = 40
""")
    p = rg.load_project(tmp_path)
    assert p.crs.to_epsg() == 32631 and p.rasters["dem"].role == "dem"
    result = run_project(p, tmp_path / "out", progress=False)
    net = result.layers["net_release"]
    assert net["removed_slope_m2"].sum() > 0  # steep land is not releasable
    slope = result.tables["slope_by_site"]
    assert len(slope) == len(parcels) and slope["slope_pct_mean"].between(1, 150).all()
    assert (tmp_path / "out" / "rasters" / "slope_pct.tif").exists()
    # only the part of the 1201 x 1201 DEM under the project's layers (plus 2 cells) is read and written
    with rasterio.open(tmp_path / "out" / "rasters" / "slope_pct.tif") as f:
        assert f.width < 100 and f.height < 100
        x0, y0, x1, y1 = gpd.GeoSeries([shapely.box(*f.bounds)], crs=f.crs).to_crs(4326).total_bounds
        assert x0 < 1.50 and y0 < 42.50 and x1 > 1.56 and y1 > 42.54
    r = run("raster", str(tmp_path), "--out", str(tmp_path / "cli"))
    assert r.returncode == 0, r.stderr
    assert "slope_by_site" in r.stdout and (tmp_path / "cli" / "rasters" / "slope_pct.tif").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "project.toml").write_text((tmp_path / "project.toml").read_text().replace("[rasters.dem]", "[rasters.dem]\nrole = \"dme\"")
                                      .replace('file = "andorra.gpkg"', f'file = "{tmp_path / "andorra.gpkg"}"'))
    with pytest.raises(rg.ValidationError, match=r"\[rasters.dem\] role must be one of .* got 'dme' \(did you mean 'dem'\?\)"):
        rg.load_project(bad)
    # the old [thresholds] key still works, with a FutureWarning naming both new keys
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "project.toml").write_text((bad / "project.toml").read_text().replace('role = "dme"', "")
                                         .replace("[release]\nmax_slope_pct = 40\n[raster]\nsteep_slope_pct = 40", "[thresholds]\nmax_slope_pct = 40"))
    with pytest.warns(FutureWarning, match=r"\[thresholds\] max_slope_pct is deprecated; write it as \[raster\] steep_slope_pct and \[release\] max_slope_pct"):
        old = rg.load_project(legacy)
    assert old.settings.release.max_slope_pct == 40 and old.settings.raster.steep_slope_pct == 40
    codes = [w.code for w in old.report.warnings]
    assert codes.count("deprecated_setting") == 1 and set(codes) == {"deprecated_setting", "outside_project"}
    # each file the project reads from outside its folder is named once, and nothing else is called outside
    outside = {w.layer: w.message for w in old.report.warnings if w.code == "outside_project"}
    assert set(outside) == {"dem", "parcels", "constraints"}
    assert str(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip") in outside["dem"]
    assert all(str(tmp_path / "andorra.gpkg") in outside[k] for k in ("parcels", "constraints"))
    assert all("outside the project folder" in m for m in outside.values())
