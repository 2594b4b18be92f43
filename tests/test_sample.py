"""The Chuangchuangyi sample reproduces BRIEF section 1, checked without renewgeo's own code."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Geod

GEOD = Geod(ellps="GRS80")  # CGCS2000 uses the GRS 1980 ellipsoid


@pytest.fixture(scope="module")
def raw(sample_path):
    gpkg = sample_path / "chuangchuangyi.gpkg"
    return {name: gpd.read_file(gpkg, layer=name, engine="pyogrio") for name in gpd.list_layers(gpkg)["name"]}


def geodesic_area(gdf):
    return np.array([abs(GEOD.geometry_area_perimeter(g)[0]) for g in gdf.to_crs(4490).geometry])


def geodesic_length(gdf):
    return np.array([GEOD.geometry_length(g) for g in gdf.to_crs(4490).geometry])


def within(actual, target, rel=0.01):
    assert abs(actual - target) <= rel * target, (actual, target)


def test_crs_and_location(raw):
    for gdf in raw.values():
        assert gdf.crs.to_epsg() == 4549
    c = raw["site"].to_crs(4326).geometry.iloc[0].centroid
    assert abs(c.x - 120.2) < 0.02 and abs(c.y - 36.0) < 0.02


def test_brief_figures(raw):
    b = raw["buildings"]
    renewed = b[b["treatment"].isin(["facade_upgrade", "full_renovation"])]
    assert len(b) == 26 and len(renewed) == 26
    within(renewed["gfa_m2"].sum(), 180000)
    # footprint (geodesic, independent of the projection) x storeys agrees with gfa_m2
    within((geodesic_area(b) * b["LAYERS"]).sum(), 180000)
    within(b.loc[b.use_after == "tech_office", "gfa_m2"].sum(), 80000)
    within(b.loc[b.use_after == "commercial", "gfa_m2"].sum(), 20000)
    within(b.loc[b.use_after == "childcare", "gfa_m2"].sum(), 4000)
    assert b.loc[b.use_after == "apartment", "households"].sum() == 160
    within(float(np.average(b["progress_pct"], weights=b["gfa_m2"])), 60.0)
    o = raw["outdoor_spaces"]
    within(geodesic_area(o[o["renewed"] == 1]).sum(), 80000)
    a = raw["amenities"]
    assert a.loc[a.category == "parking", "capacity"].sum() == 600
    assert (a.category == "sports").sum() == 8
    within(geodesic_length(raw["landscape_corridor"]).sum(), 1000)
    within(geodesic_length(raw["trails"]).sum(), 1800)
    child = a[a.category == "childcare"].iloc[0]
    assert child["opening_hours_h"] == 16 and child["gfa_m2"] == 4000


def test_zones_axis_and_bookstore(raw):
    z = raw["zones"]
    assert set(z["name"]) == {"Shared social zone", "Fashion & art zone", "Technology vitality zone"}
    axis = raw["pedestrian_axis"].geometry.iloc[0]
    assert all(axis.intersects(g) for g in z.geometry)  # the axis runs through all three zones
    b = raw["buildings"].set_index("id")
    assert b.loc["B06", "name"] == "Chuang 06" and b.loc["B06", "use_before"] == "office"
    book = raw["amenities"].set_index("id").loc["A01"]
    assert book["category"] == "bookstore" and book["building_id"] == "B06"
    yuwan = raw["paths"].set_index("name").loc["Yuwan Road"].geometry
    assert b.loc["B06", "geometry"].distance(yuwan) < 80  # on Yuwan Road
    assert {"operating", "idle"} == set(b["status_before"])
    assert (b.loc[b.status_before == "operating", "treatment"] == "facade_upgrade").all()
    assert (b.loc[b.status_before == "idle", "treatment"] == "full_renovation").all()


def test_generator_is_reproducible(sample_path, tmp_path):
    """Regenerating the sample gives the same features (the script is what made the file)."""
    script = sample_path / "make_sample.py"
    if not script.exists():
        pytest.skip("installed wheel: the generator lives in the source repository")
    copy = tmp_path / "make_sample.py"
    copy.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    for name in gpd.list_layers(sample_path / "chuangchuangyi.gpkg")["name"]:
        a = gpd.read_file(sample_path / "chuangchuangyi.gpkg", layer=name, engine="pyogrio")
        b = gpd.read_file(tmp_path / "chuangchuangyi.gpkg", layer=name, engine="pyogrio")
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry")), name
        assert a.geometry.geom_equals_exact(b.geometry, 1e-9).all(), name
