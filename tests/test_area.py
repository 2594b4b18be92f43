"""Area accounting: hand-computable cases, real footprints against pyproj.Geod, the ledger."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import renewgeo as rg
from renewgeo import area, units

X0, Y0 = 500000.0, 3985000.0  # on CM 120E of EPSG:4549: scale factor 1.0000000
MU = 10000 / 15


def sq(x, y, w, h=None):
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (h if h is not None else w))


def gdf(geoms, crs=4549, **cols):
    return gpd.GeoDataFrame({"id": [f"B{i + 1}" for i in range(len(geoms))], **cols}, geometry=geoms, crs=crs)


L_SHAPE = shapely.Polygon([(X0, Y0), (X0 + 30, Y0), (X0 + 30, Y0 + 10), (X0 + 10, Y0 + 10), (X0 + 10, Y0 + 30), (X0, Y0 + 30)])  # 500 m2
HOLED = shapely.Polygon(sq(100, 0, 40).exterior.coords, [sq(110, 10, 20).exterior.coords])  # 1600 - 400 = 1200 m2
MULTI = shapely.MultiPolygon([sq(200, 0, 10), sq(220, 0, 20)])  # 100 + 400 = 500 m2


# ------------------------------------------------------------------------ units
def test_units_conversions():
    assert units.convert(400, "mu", "m2") == pytest.approx(266666.6667)
    assert units.convert(1, "ha", "mu") == pytest.approx(15.0)
    assert units.convert(1800, "m", "km") == 1.8
    with pytest.raises(rg.RenewgeoError, match="cannot convert m2"):
        units.convert(1, "m2", "km")
    with pytest.raises(rg.RenewgeoError, match="unknown unit 'acre'"):
        units.convert(1, "acre", "m2")
    assert units.header_label("gfa_m2") == "gfa (m²)"


# ------------------------------------------------------------------------ footprints and GFA
def test_footprints_hand_computable():
    b = gdf([sq(0, 100, 20, 10), L_SHAPE, HOLED, MULTI])
    fp = units.true_area_m2(b)
    assert fp.tolist() == pytest.approx([200.0, 500.0, 1200.0, 500.0], rel=1e-8)


def test_gfa_sources_and_floor_heights():
    b = gdf(
        [sq(0, 100, 20, 10), L_SHAPE, HOLED, MULTI, sq(300, 0, 10)],
        gfa_m2=[1000.0, None, None, None, None],
        floors=pd.array([None, 2, None, None, None], dtype="Int64"),
        height_m=[None, 99.0, 13.0, 10.0, None],
        use_before=["office", "office", "industrial", "office", "office"],
    )
    out = area.building_gfa(b, floor_height_m=3.0, floor_height_by_use={"industrial": 4.5})
    assert out["gfa_source"].astype(str).tolist() == ["gfa_m2", "footprint_x_floors", "footprint_x_height", "footprint_x_height", "missing"]
    # given; 500 x 2 (floors beat height); 1200 x round(13/4.5)=3; 500 x round(10/3)=3; unknown
    assert out["gfa_m2"].tolist()[:4] == pytest.approx([1000.0, 1000.0, 3600.0, 1500.0])
    assert np.isnan(out["gfa_m2"].iloc[4])
    assert out["floors_used"].tolist()[1:4] == [2.0, 3.0, 3.0]
    assert "footprint_m2" not in b.columns  # input untouched


def test_low_height_is_at_least_one_storey():
    out = area.building_gfa(gdf([sq(0, 0, 10)], height_m=[1.0]))
    assert out["gfa_m2"].iloc[0] == pytest.approx(100.0)


def test_gfa_bad_options():
    b = gdf([sq(0, 0, 10)], floors=[1])
    with pytest.raises(rg.RenewgeoError, match="floor_height_m must be > 0"):
        area.building_gfa(b, floor_height_m=0)
    with pytest.raises(rg.RenewgeoError, match=r"floor_height_by_use\['industrial'\]"):
        area.building_gfa(b, floor_height_by_use={"industrial": "4.5m"})
    with pytest.raises(rg.CRSError, match="degrees"):
        area.building_gfa(b.to_crs(4326))


def test_missing_gfa_reported_not_dropped(caplog):
    b = gdf([sq(0, 0, 10), sq(20, 0, 10)], floors=pd.array([2, None], dtype="Int64"), zone=["A", "A"])
    with caplog.at_level("WARNING"):
        t = area.summarize(b, "zone")
    assert "B2" in caplog.text
    assert t.loc["A", "count"] == 2 and t.loc["A", "gfa_missing_count"] == 1
    assert t.loc["A", "gfa_m2"] == pytest.approx(200.0)
    assert t.attrs["excluded_ids"] == ["B2"]


# ------------------------------------------------------------------------ summaries
def test_summarize_by_one_and_two_columns():
    b = gdf(
        [sq(0, 0, 10), sq(20, 0, 10), sq(40, 0, 20), sq(70, 0, 10)],
        floors=[1, 2, 1, 3], zone=["A", "A", "B", None],
        treatment=["facade_upgrade", "retain", "full_renovation", "new_build"], use_after=["office"] * 3 + ["shop"],
    )
    t = area.summarize(b, "zone")
    assert t.index.tolist() == ["(none)", "A", "B", "total"]
    assert t["gfa_m2"].tolist() == pytest.approx([300.0, 300.0, 400.0, 1000.0])
    assert t["gfa_share_pct"].tolist() == pytest.approx([30.0, 30.0, 40.0, 100.0])
    assert t["renovated_gfa_m2"].tolist() == pytest.approx([0.0, 100.0, 400.0, 500.0])
    assert t.loc["total", "gfa_mu"] == pytest.approx(1000 / MU)
    assert t.loc["total", "gfa_ha"] == pytest.approx(0.1)
    t2 = area.summarize(b, ["zone", "use_after"], renovated_treatments=["retain"])
    assert t2.loc[("A", "office"), "count"] == 2
    assert t2.loc[("total", "total"), "renovated_gfa_m2"] == pytest.approx(200.0)
    with pytest.raises(rg.SchemaError, match="no column 'zoen'.*did you mean 'zone'"):
        area.summarize(b, "zoen")


def _random_buildings(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    w, h = rng.uniform(5, 40, n), rng.uniform(5, 40, n)
    geoms = [sq(a, b, c, d) for a, b, c, d in zip(x, y, w, h, strict=True)]
    zone = rng.choice(["Z1", "Z2", "Z3", None], n)
    status = rng.choice(["idle", "operating", "renovated"], n)
    treatment = rng.choice(["facade_upgrade", "full_renovation", "retain", None], n)
    floors = pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(1, 12, n)), dtype="Int64")  # some unknown: GFA NaN
    return gdf(geoms, zone=zone, status=status, treatment=treatment, floors=floors)


def _expected(b: pd.DataFrame, keys: list[str], renovated: list[str]) -> pd.DataFrame:
    """The same table by pandas groupby (missing keys as their own group), no renewgeo code."""
    gfa = b["gfa_m2"].astype("float64")
    d = pd.DataFrame({k: b[k].astype("object").where(b[k].notna(), "(none)").astype(str) for k in keys})
    d["count"] = 1
    d["footprint_m2"] = b["footprint_m2"]
    d["gfa_m2"] = gfa.fillna(0.0)
    d["renovated_gfa_m2"] = gfa.where(b["treatment"].isin(renovated), 0.0).fillna(0.0)
    d["gfa_missing_count"] = gfa.isna().astype(int)
    return d.groupby(keys).sum()


@pytest.mark.parametrize("dtype", ["str", "object", "category", "string[python]"])
def test_summarize_against_pandas_groupby(dtype):
    """Every key dtype (Arrow text, object, categorical, Python text), missing keys, unknown GFA."""
    b = area.building_gfa(_random_buildings())
    for k in ("zone", "status", "treatment"):
        b[k] = b[k].astype(dtype)
    renovated = ["facade_upgrade", "full_renovation"]
    for keys in (["zone"], ["zone", "status"], ["treatment"]):
        t = area.summarize(b, keys if len(keys) > 1 else keys[0], renovated_treatments=renovated)
        e = _expected(b, keys, renovated)
        got = t.drop(index=t.index[-1])  # the total row
        assert got.index.tolist() == e.index.tolist()
        for col in ("count", "footprint_m2", "gfa_m2", "renovated_gfa_m2", "gfa_missing_count"):
            assert np.allclose(got[col].to_numpy(dtype=float), e[col].to_numpy(dtype=float), rtol=1e-12), (keys, col)
        total = t.iloc[-1]
        assert total["count"] == len(b) and total["gfa_missing_count"] == int(b["gfa_m2"].isna().sum())
        assert total["footprint_m2"] == pytest.approx(b["footprint_m2"].sum(), rel=1e-12)
        assert total["gfa_m2"] == pytest.approx(b["gfa_m2"].sum(), rel=1e-12)
        assert total["renovated_gfa_m2"] == pytest.approx(e["renovated_gfa_m2"].sum(), rel=1e-12)
    assert t.attrs["excluded_ids"] == b.loc[b["gfa_m2"].isna(), "id"].tolist()


def test_group_totals_are_bincount_sums():
    """The one-pass kernel adds in row order, as np.bincount does: the same numbers, bit for bit."""
    from renewgeo import _kernels as K

    rng = np.random.default_rng(2)
    n, m = 100_000, 37
    inverse = rng.integers(0, m, n)
    fp, gfa = rng.uniform(0, 500, n), rng.uniform(0, 5000, n)
    fp[::101] = np.nan
    gfa[::7] = np.nan
    ren = rng.random(n) < 0.4
    out = K.group_totals(inverse, m, fp, gfa, ren)
    known = np.where(np.isnan(gfa), 0.0, gfa)
    assert np.array_equal(out[0], np.bincount(inverse, minlength=m).astype(float))
    assert np.array_equal(out[1], np.bincount(inverse, weights=fp, minlength=m), equal_nan=True)
    assert np.array_equal(out[2], np.bincount(inverse, weights=known, minlength=m))
    assert np.array_equal(out[3], np.bincount(inverse, weights=np.where(ren, known, 0.0), minlength=m))
    assert np.array_equal(out[4], np.bincount(inverse, weights=np.isnan(gfa).astype(float), minlength=m))


@pytest.mark.parametrize("dtype", ["str", "object", "category", "string[python]", "string[pyarrow]"])
def test_ledger_filters_every_text_dtype(dtype):
    b = _random_buildings(2000, seed=4)
    b["treatment"] = b["treatment"].astype(dtype)
    b["zone"] = b["zone"].astype(dtype)
    t = [{"id": "r", "layer": "buildings", "where": {"treatment": ["full_renovation", "facade_upgrade"]}, "measure": "count",
          "value": 1, "unit": "count"},
         {"id": "z", "layer": "buildings", "where": {"zone": "Z2", "treatment": ["retain", "x", "y", "z"]}, "measure": "count",
          "value": 1, "unit": "count"}]
    led = area.targets_ledger(rg.Project.from_layers({"buildings": b}, crs=4549, targets=t)).set_index("id")
    tr, zn = b["treatment"].astype("object"), b["zone"].astype("object")
    assert led.loc["r", "actual"] == tr.isin(["full_renovation", "facade_upgrade"]).sum()
    assert led.loc["z", "actual"] == ((zn == "Z2") & (tr == "retain")).sum()


def test_building_gfa_leaves_its_input_alone():
    b = gdf([sq(0, 0, 10), sq(20, 0, 10)], floors=[1, 2], zone=["A", "B"])
    before = b.copy()
    out = area.building_gfa(b)
    out.loc[0, "zone"] = "changed"
    out.loc[1, "floors"] = 9
    pd.testing.assert_frame_equal(b, before)


def test_progress_weighted_by_gfa():
    b = gdf([sq(0, 0, 10), sq(20, 0, 10), sq(40, 0, 10)], gfa_m2=[100.0, 300.0, 50.0],
            progress_pct=[100.0, 20.0, None], phase=["1", "2", "2"])
    p = area.progress(b, by="phase")
    assert p.loc["1", "progress_pct"] == pytest.approx(100.0)
    assert p.loc["2", "progress_pct"] == pytest.approx(20.0)
    assert p.loc["total", "progress_pct"] == pytest.approx((100 * 100 + 300 * 20) / 400)
    assert p.loc["total", "excluded_count"] == 1 and p.attrs["excluded_ids"] == ["B3"]


def test_lengths_areas_amenities():
    lines = gdf([shapely.LineString([(X0, Y0), (X0 + 300, Y0), (X0 + 300, Y0 + 400)]), shapely.LineString([(X0, Y0), (X0, Y0 + 100)])],
                kind=["a", "b"])
    t = area.line_lengths(lines, by="kind")
    assert t["length_m"].tolist() == pytest.approx([700.0, 100.0, 800.0])
    assert t.loc["total", "length_km"] == pytest.approx(0.8)
    polys = gdf([HOLED, MULTI], space_type=["green", "plaza"])
    a = area.polygon_areas(polys, by="space_type")
    assert a.loc["total", "area_m2"] == pytest.approx(1700.0)
    assert a.loc["green", "area_mu"] == pytest.approx(1200 / MU)
    pts = gdf([shapely.Point(X0, Y0)] * 3, category=["parking", "parking", "cafe"], capacity=[100, None, 20])
    s = area.amenity_summary(pts)
    assert s.loc["parking", "capacity"] == 100 and s.loc["parking", "capacity_known_count"] == 1
    assert s.loc["total", "count"] == 3


def test_density_splits_straddling_buildings():
    zones = gpd.GeoDataFrame({"id": ["W", "E"], "population": [10, 0]}, geometry=[sq(0, 0, 100), sq(100, 0, 100)], crs=4549)
    b = gdf([sq(90, 40, 20, 10), sq(10, 10, 10)], floors=[2, 5])  # first straddles 50/50
    green = gpd.GeoDataFrame({"id": ["G"], "space_type": ["green"]}, geometry=[sq(150, 0, 50, 20)], crs=4549)
    d = area.density(zones, b, outdoor_spaces=green)
    assert d.loc["W", "land_m2"] == pytest.approx(10000.0)
    assert d.loc["W", "footprint_m2"] == pytest.approx(100 + 100)
    assert d.loc["E", "footprint_m2"] == pytest.approx(100)
    assert d.loc["W", "gfa_m2"] == pytest.approx(200 + 500)
    assert d.loc["E", "gfa_m2"] == pytest.approx(200)
    assert d["gfa_m2"].sum() == pytest.approx(900)  # nothing counted twice or lost
    assert d.loc["W", "far"] == pytest.approx(0.07)
    assert d.loc["W", "coverage_pct"] == pytest.approx(2.0)
    assert d.loc["E", "green_ratio_pct"] == pytest.approx(10.0)
    assert d.loc["W", "gfa_per_capita_m2"] == pytest.approx(70.0)
    assert np.isnan(d.loc["E", "gfa_per_capita_m2"])  # no residents: no per-capita figure
    assert d.loc["W", "gfa_per_ha_m2"] == pytest.approx(700.0)


# ------------------------------------------------------------------------ the ledger
def _project(targets, **layers):
    b = gdf([sq(0, 0, 20, 10), sq(40, 0, 30, 20)], floors=[3, 2], use_after=["office", "shop"],
            treatment=["full_renovation", "retain"], status=["renovated", "operating"])
    sites = gpd.GeoDataFrame({"id": ["S1", "S2"], "release_year": [2024, 2025]},
                             geometry=[sq(0, 100, 200, 200), sq(300, 100, 100, 100)], crs=4549)
    return rg.Project.from_layers({"buildings": b, "sites": sites, **layers}, crs=4549, targets=targets)


def test_ledger_statuses_units_and_filters():
    t = [
        {"id": "gfa", "layer": "buildings", "measure": "gfa", "value": 1800, "unit": "m2"},
        {"id": "office", "layer": "buildings", "where": {"use_after": "office"}, "measure": "sum(gfa_m2)", "value": 0.1, "unit": "ha"},
        {"id": "renov", "layer": "buildings", "where": {"treatment": ["full_renovation", "facade_upgrade"]}, "measure": "count", "value": 2, "unit": "count"},
        {"id": "release", "layer": "sites", "where": {"release_year": 2024}, "measure": "area", "value": 60, "unit": "mu", "year": 2024},
        {"id": "nothing", "layer": "buildings", "where": {"use_after": "hotel"}, "measure": "count", "value": 1, "unit": "count"},
        {"id": "close", "layer": "buildings", "measure": "area", "value": 790, "unit": "m2", "tolerance_pct": 2},
    ]
    led = area.targets_ledger(_project(t)).set_index("id")
    assert led.loc["gfa", "actual"] == pytest.approx(200 * 3 + 600 * 2)
    assert led.loc["gfa", "status"] == "met"
    assert led.loc["office", "actual"] == pytest.approx(0.06) and led.loc["office", "status"] == "short"
    assert led.loc["office", "pct_of_target"] == pytest.approx(60.0)
    assert led.loc["renov", "actual"] == 1 and led.loc["renov", "filter"] == "treatment in [full_renovation, facade_upgrade]"
    assert led.loc["release", "actual"] == pytest.approx(40000 / MU)  # 60 mu target: 40000 m2 = 60 mu exactly
    assert led.loc["release", "status"] == "met" and led.loc["release", "year"] == 2024
    assert led.loc["nothing", "features"] == 0 and "matched no feature" in led.loc["nothing", "note"]
    assert led.loc["close", "actual"] == pytest.approx(800.0) and led.loc["close", "status"] == "met"  # 1.3% off, within its own 2%
    html = area.targets_ledger(_project(t))._repr_html_()
    assert "Targets ledger" in html and "met" in html


def test_ledger_tolerance_option():
    t = [{"id": "a", "layer": "buildings", "measure": "area", "value": 790, "unit": "m2"}]
    assert area.targets_ledger(_project(t)).iloc[0]["status"] == "over"
    assert area.targets_ledger(_project(t), tolerance_pct=2).iloc[0]["status"] == "met"


def test_ledger_reports_excluded_rows():
    t = [{"id": "cap", "layer": "amenities", "measure": "sum(capacity)", "value": 600, "unit": "spaces"}]
    am = gdf([shapely.Point(X0, Y0)] * 3, category=["parking"] * 3, capacity=[400, None, 150])
    row = area.targets_ledger(_project(t, amenities=am)).iloc[0]
    assert row["actual"] == 550 and row["status"] == "short"
    assert row["excluded_count"] == 1 and row["excluded_ids"] == "B2"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"measure": "area", "unit": "count"}, "gives an area; use unit m2"),
        ({"measure": "length", "unit": "m2"}, "gives a length"),
        ({"measure": "count", "unit": "km"}, "number of features"),
        ({"measure": "sum(floors)", "unit": "m2"}, "cannot be told from its name"),
    ],
)
def test_ledger_unit_errors_name_the_target(target, message):
    t = [{"id": "bad", "layer": "buildings", "value": 1, **target}]
    with pytest.raises(rg.SchemaError, match=f"target 'bad'.*{message}"):
        area.targets_ledger(_project(t))


def test_sample_ledger_reproduces_the_brief(sample):
    led = area.targets_ledger(sample).set_index("id")
    assert (led["status"] == "met").all()
    assert led.loc["renovated_gfa", "actual"] == 180000
    assert led.loc["outdoor_renewed", "actual"] == pytest.approx(80000, rel=1e-3)
    assert led.loc["landscape_corridor_length", "actual"] == pytest.approx(1.0, rel=1e-3)
    assert led.loc["parking_spaces", "actual"] == 600


def test_shibei_style_targets_need_no_code_change():
    """Targets of another project (mu of land, spaces, pocket parks) are data only."""
    t = [
        {"id": "release_400mu", "layer": "sites", "measure": "area", "value": 400, "unit": "mu"},
        {"id": "pocket_parks", "layer": "outdoor_spaces", "where": {"space_type": "pocket_park"}, "measure": "count", "value": 10, "unit": "count"},
    ]
    parks = gpd.GeoDataFrame({"id": [f"P{i}" for i in range(10)], "space_type": ["pocket_park"] * 10},
                             geometry=[sq(1000 + 50 * i, 0, 30) for i in range(10)], crs=4549)
    led = area.targets_ledger(_project(t, outdoor_spaces=parks)).set_index("id")
    assert led.loc["release_400mu", "actual"] == pytest.approx(50000 / MU)
    assert led.loc["release_400mu", "status"] == "short"
    assert led.loc["pocket_parks", "status"] == "met"


# ------------------------------------------------------------------------ real data
def _geodesic(geoms_4326):
    geod = Geod(ellps="WGS84")
    og = shapely.orient_polygons(np.asarray(geoms_4326), exterior_cw=False)
    return np.array([geod.geometry_area_perimeter(g)[0] for g in og])


@pytest.mark.realdata
def test_porto_footprints_against_geod(shared_data):
    b = rg.io.read_osm(shared_data / "osm" / "porto_downtown.osm.pbf", what="buildings")
    p = rg.Project.from_layers({"buildings": b}, repair=True)
    assert p.crs.to_epsg() == 32629
    ours = area.building_gfa(p["buildings"])["footprint_m2"].to_numpy()
    ref = _geodesic(p.to_web("buildings").geometry.values)
    rel = np.abs(ours - ref) / ref
    assert len(rel) == 11393
    assert np.median(rel) < 5e-4 and rel.max() < 5e-3
    naive = np.abs(p["buildings"].area.to_numpy() - ref) / ref
    assert np.median(naive) > 7e-4  # UTM's own scale (0.9996^2) is what the correction removes


@pytest.mark.realdata
def test_prague_epsg3857_not_fooled(shared_data):
    plots = gpd.read_file(shared_data / "parcels" / "prague_bubenec.gpkg", layer="plots")
    assert plots.crs.to_epsg() == 3857
    plots["id"] = [f"P{i}" for i in range(len(plots))]
    ref = _geodesic(plots.to_crs(4326).geometry.values)
    naive_ratio = np.median(plots.area.to_numpy() / ref)
    assert 2.3 < naive_ratio < 2.7  # planar area in web mercator: ~2.5x at 50 N
    p = rg.Project.from_layers({"plots": plots}, kinds={"plots": "sites"}, repair=True)
    assert p.crs.to_epsg() == 32633
    ours = area.polygon_areas(p["plots"], by="id").drop(index="total").loc[plots["id"], "area_m2"].to_numpy()
    rel = np.abs(ours - ref) / ref
    assert np.median(rel) < 5e-4 and rel.max() < 5e-3
    with pytest.raises(rg.CRSError):
        units.true_area_m2(plots.to_crs(4326))


# ------------------------------------------------------------------------ outputs
def test_area_cli_outputs(tmp_path, sample_path):
    from tests.test_cli import run

    r = run("area", str(sample_path), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Renovated floor area" in r.stdout and "11 of 11 targets met" in r.stdout
    t = pd.read_csv(tmp_path / "tables" / "targets.csv", encoding="utf-8-sig").set_index("id")
    assert t.loc["renovated_gfa", "actual"] == 180000
    z = pd.read_csv(tmp_path / "tables" / "area_by_zone.csv", encoding="utf-8-sig").set_index("zone")
    assert z.loc["Z3", "gfa_m2"] == 92000
    wb = openpyxl.load_workbook(tmp_path / "tables" / "area.xlsx")
    assert {"targets", "area_by_zone", "area_by_use_after", "area_by_status"} <= set(wb.sheetnames)
    headers = [c.value for c in wb["area_by_zone"][1]]
    assert "gfa (m²)" in headers and "gfa (mu)" in headers and "gfa share (%)" in headers
    assert wb["area_by_zone"]["A1"].font.bold
    b = gpd.read_file(tmp_path / "results.gpkg", layer="buildings")
    assert {"footprint_m2", "gfa_m2", "gfa_source"} <= set(b.columns)
    assert (b["gfa_source"] == "gfa_m2").all()
