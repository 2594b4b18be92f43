"""Land release: hand-computable parcels, attribution identity, real parcels against PostGIS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import renewgeo as rg
from renewgeo import land_release as lr

X = 500000.0  # on the central meridian of EPSG:32651
CRS = 32651
MU = 10000 / 15


def parcels(*boxes, **cols):
    return gpd.GeoDataFrame({"id": [f"P{i + 1}" for i in range(len(boxes))], **cols},
                            geometry=[shapely.box(X + a, b, X + c, d) for a, b, c, d in boxes], crs=CRS)


def cons(rows):
    return gpd.GeoDataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                            geometry=[r["geometry"] for r in rows], crs=CRS)


def line(*pts):
    return shapely.LineString([(X + x, y) for x, y in pts])


def sq(x0, y0, x1, y1):
    return shapely.box(X + x0, y0, X + x1, y1)


def test_square_parcel_with_road_strip_and_buffered_building():
    p = parcels((0, 0, 100, 100), far_planned=[2.0])
    c = cons([
        {"id": "R", "constraint_type": "road", "width_m": 20.0, "geometry": line((-10, 50), (110, 50))},
        {"id": "H", "constraint_type": "protected_building", "buffer_m": 5.0, "geometry": sq(70, 70, 80, 80)},
    ])
    r = lr.release(p, c, min_area_m2=0, min_width_m=0).iloc[0]
    assert r["gross_area_m2"] == pytest.approx(10000.0)
    assert r["removed_road_m2"] == pytest.approx(2000.0)  # 100 m x 20 m, clipped to the parcel
    ring = 400 - (4 - np.pi) * 25  # 20 x 20 with rounded corners of radius 5
    assert r["removed_protected_building_m2"] == pytest.approx(ring, rel=2e-3)
    assert r["net_area_m2"] == pytest.approx(10000 - 2000 - ring, rel=1e-3)
    assert r["net_area_mu"] == pytest.approx(r["net_area_m2"] / MU)
    assert r["buildable_gfa_m2"] == pytest.approx(2 * r["net_area_m2"]) and r["gfa_limited_by"] == "FAR"


def test_overlaps_attributed_once_in_priority_order():
    p = parcels((0, 0, 100, 100))
    c = cons([
        {"constraint_type": "river", "buffer_m": 0.0, "geometry": sq(0, 0, 100, 40)},  # drawn as polygons
        {"constraint_type": "road", "geometry": sq(0, 30, 100, 50)},
    ])
    r = lr.release(p, c, min_area_m2=0, min_width_m=0).iloc[0]
    assert r["removed_road_m2"] == pytest.approx(2000.0)  # road first: all of its strip
    assert r["removed_river_m2"] == pytest.approx(3000.0)  # the river only where the road is not
    assert r["net_area_m2"] == pytest.approx(5000.0)
    r2 = lr.release(p, c, priority=["river", "road"], min_area_m2=0, min_width_m=0).iloc[0]
    assert r2["removed_river_m2"] == pytest.approx(4000.0) and r2["removed_road_m2"] == pytest.approx(1000.0)


def test_fragments_small_or_narrow_are_unusable():
    p = parcels((0, 0, 200, 100))
    c = cons([
        {"constraint_type": "road", "width_m": 10.0, "geometry": line((15, -20), (15, 120))},  # leaves a 10 m strip at x 0..10
        {"constraint_type": "road", "width_m": 10.0, "geometry": line((150, -20), (150, 120))},  # splits off x 155..200
    ])
    r = lr.release(p, c, min_area_m2=5000, min_width_m=20).iloc[0]
    # pieces: 0-10 (10 m wide: narrow), 20-145 (kept), 155-200 (4,500 m2: small)
    assert r["fragments_dropped"] == 2
    assert r["net_area_m2"] == pytest.approx(125 * 100, rel=1e-6)
    assert r["unusable_m2"] == pytest.approx(10 * 100 + 45 * 100, rel=1e-3)


def test_identity_and_capacity_limits():
    rng = np.random.default_rng(5)
    boxes = [(i * 120, j * 120, i * 120 + 100, j * 120 + 100) for i in range(5) for j in range(5)]
    p = parcels(*boxes, far_planned=rng.uniform(1, 3, 25), coverage_max=[0.3] * 25, height_limit_m=[9.0] * 25)
    rows = [{"constraint_type": t, "buffer_m": float(rng.uniform(3, 15)),
             "geometry": shapely.Point(X + rng.uniform(0, 600), rng.uniform(0, 600))}
            for t in ("protected_building", "river", "other") for _ in range(15)]
    rows += [{"constraint_type": "road", "width_m": 12.0, "geometry": line((0, y), (600, y + 40))} for y in (50, 300, 520)]
    out = lr.release(p, cons(rows))
    removed = out.filter(regex=r"^removed_.+_m2$").sum(axis=1)
    total = out["net_area_m2"] + out["unusable_m2"] + removed
    assert np.allclose(total / out["gross_area_m2"], 1.0, atol=1e-6)  # gross = net + unusable + removed, every parcel
    assert np.allclose(out.geometry.area, out["net_area_m2"])
    form = out["net_area_m2"] * 0.3 * 3  # coverage 30% x 3 storeys of 3 m
    assert np.allclose(out["buildable_gfa_m2"], np.minimum(form, out["net_area_m2"] * out["far_used"]))
    assert (out["gfa_limited_by"] == "coverage x height").all()  # 0.9 < FAR 1..3


def test_release_by_year_and_overlaps():
    p = parcels((0, 0, 100, 100), (100, 0, 200, 100), (150, 50, 250, 150), release_year=[2024, 2025, None])
    out = lr.release(p, cons([{"constraint_type": "other", "geometry": sq(900, 900, 901, 901)}]))
    by = lr.release_by_year(out)
    assert by.loc[2024, "net_area_mu"] == pytest.approx(10000 / MU)
    assert by.loc[2025, "cumulative_net_mu"] == pytest.approx(20000 / MU)
    assert by.attrs["parcels_without_year"] == 1
    ov = lr.overlaps(p)
    assert ov.to_dict("records") == [{"parcel_a": "P2", "parcel_b": "P3", "overlap_m2": pytest.approx(2500.0)}]


def test_bad_constraints():
    p = parcels((0, 0, 100, 100))
    with pytest.raises(rg.RenewgeoError, match="take no land.*buffer_m"):
        lr.release(p, cons([{"id": "x", "constraint_type": "other", "geometry": line((0, 0), (10, 10))}]))
    with pytest.raises(rg.SchemaError, match="constraint_type"):
        lr.constraint_geometries(gpd.GeoDataFrame(geometry=[sq(0, 0, 1, 1)], crs=CRS))
    with pytest.raises(rg.CRSError):
        lr.release(p.to_crs(4326), cons([{"constraint_type": "road", "geometry": line((0, 0), (1, 1))}]).to_crs(4326))
    # a buffer attribute with text in it is caught on load, naming the rows
    c = gpd.GeoDataFrame({"id": ["a"], "constraint_type": ["river"], "buffer_m": ["thirty"]}, geometry=[line((0, 0), (1, 1))], crs=CRS)
    with pytest.raises(rg.ValidationError, match=r"buffer_m.*a='thirty'"):
        rg.Project.from_layers({"sites": p, "constraints": c}, crs=CRS)


def test_screen_inefficient_land():
    p = parcels((0, 0, 100, 100), (200, 0, 300, 100))
    b = gpd.GeoDataFrame({"id": ["a", "b", "c"], "gfa_m2": [1000.0, 6000.0, 2000.0], "status": ["idle", "operating", "operating"],
                          "use_after": ["industrial", "industrial", "office"]},
                         geometry=[sq(10, 10, 30, 30), sq(210, 10, 270, 70), sq(280, 80, 295, 95)], crs=CRS)
    s = lr.screen_inefficient(p, b).set_index(p["id"])
    # (true areas: UTM's scale of 0.9996 at its central meridian shifts these by 0.08 %)
    assert s.loc["P1", "far"] == pytest.approx(0.1, rel=1e-3) and s.loc["P1", "flag_low_far"] and s.loc["P1", "flag_vacant"]
    assert s.loc["P1", "coverage_pct"] == pytest.approx(4.0, rel=1e-3) and s.loc["P1", "flag_low_coverage"]
    assert s.loc["P2", "coverage_pct"] == pytest.approx(36 + 2.25, rel=1e-3) and not s.loc["P2", "flag_low_coverage"]
    assert s.loc["P2", "admin_share_pct"] == pytest.approx(25.0) and s.loc["P2", "flag_admin_share"]
    assert "low_far" in s.loc["P1", "reasons"]


def test_shibei_sample_releases_over_400_mu():
    p = rg.load_project(rg.datasets.get_path("shibei_relocation"))
    run = rg.run_analyses(p, ["release"])
    net, applied, tables = run.layers["net_release"], run.layers["constraints_applied"], run.tables
    assert 40 <= len(net) <= 80
    gross_mu = net["gross_area_m2"].sum() / MU
    assert 550 <= gross_mu <= 700
    by = tables["release_by_year"]
    assert list(by.index) == [2024, 2025, 2026] and by.loc[2024, "net_area_mu"] > 400
    removed = net.filter(regex=r"^removed_.+_m2$").sum(axis=1)
    assert np.allclose((net["net_area_m2"] + net["unusable_m2"] + removed) / net["gross_area_m2"], 1.0, atol=1e-6)
    assert set(applied["constraint_type"]) == {"road", "river", "protected_building"}
    from renewgeo import area

    led = area.targets_ledger(p, layers={"net_release": net}).set_index("id")
    assert led.loc["release_2024", "actual"] == pytest.approx(by.loc[2024, "net_area_mu"])
    assert led.loc["release_2024", "status"] in ("met", "over")
    assert led.loc["planned_roads", "actual"] == 14 and led.loc["historic_gfa", "actual"] == 50000
    without = area.targets_ledger(p).set_index("id")
    assert without.loc["release_2024", "status"] == "not computed"


def test_release_cli(tmp_path):
    from tests.test_cli import run

    r = run("release", str(rg.datasets.get_path("shibei_relocation")), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "Land released in 2024" in r.stdout
    t = pd.read_csv(tmp_path / "tables" / "release_by_year.csv", encoding="utf-8-sig")
    assert t["net_area_mu"].iloc[0] > 400
    layers = set(gpd.list_layers(tmp_path / "results.gpkg")["name"])
    assert {"net_release", "constraints_applied"} <= layers


@pytest.mark.realdata
@pytest.mark.postgis
def test_prague_parcels_against_postgis(shared_data, postgis_dsn):
    path = shared_data / "parcels" / "prague_bubenec.gpkg"
    plots = gpd.read_file(path, layer="plots")
    streets = gpd.read_file(path, layer="streets")
    blds = gpd.read_file(path, layer="buildings")
    assert plots.crs.to_epsg() == 3857 and len(plots) == 407
    plots["id"] = [f"P{i}" for i in range(len(plots))]
    c = pd.concat([
        gpd.GeoDataFrame(geometry=streets.geometry.values, crs=streets.crs).assign(constraint_type="road", width_m=12.0),
        gpd.GeoDataFrame(geometry=blds.geometry.values, crs=blds.crs).assign(constraint_type="protected_building", buffer_m=2.0),

    ], ignore_index=True)
    c["id"] = [f"C{i}" for i in range(len(c))]
    proj = rg.Project.from_layers({"sites": plots, "constraints": c}, repair=True)
    assert proj.crs.to_epsg() == 32633  # a true metric CRS, not web mercator
    ours = lr.release(proj["sites"], proj["constraints"], min_area_m2=0, min_width_m=0)
    # independent: PostGIS buffers and differences the same input in the same CRS
    rg.io.write_postgis(proj["sites"][["id", "geometry"]], postgis_dsn, "plots", if_exists="replace")
    rg.io.write_postgis(proj["constraints"][["id", "constraint_type", "geometry"]].assign(
        d=np.where(proj["constraints"]["constraint_type"] == "road", 6.0, 2.0)), postgis_dsn, "cons", if_exists="replace")
    ref = rg.io.read_postgis(postgis_dsn, sql="""
        WITH c AS (SELECT ST_Buffer(geom, d) AS geom FROM cons)
        SELECT p.id, ST_Area(p.geom) AS gross,
               ST_Area(ST_Difference(p.geom, COALESCE((SELECT ST_Union(c.geom) FROM c WHERE ST_Intersects(c.geom, p.geom)),
                                                        ST_SetSRID('POLYGON EMPTY'::geometry, 32633)))) AS net,
               p.geom
        FROM plots p ORDER BY p.id""").set_index("id")
    mine = ours.set_index("id").loc[ref.index]
    assert np.allclose(mine["gross_area_m2"], ref["gross"], rtol=1e-9)
    big = ref["gross"] > 1.0
    rel = np.abs(mine["net_area_m2"][big] - ref["net"][big]) / ref["gross"][big]
    assert rel.max() < 1e-4  # within 0.01 % of the parcel
    assert (ref["net"] < ref["gross"] - 1).sum() > 100  # the constraints really bite


@pytest.mark.realdata
def test_shibei_generator_is_reproducible_and_inside_the_district(shared_data, tmp_path):
    import os
    import subprocess
    import sys


    src = rg.datasets.get_path("shibei_relocation")
    script = src / "make_sample.py"
    if not script.exists():
        pytest.skip("installed wheel: the generator lives in the source repository")
    work = tmp_path / "layers" / "shibei_relocation"
    work.mkdir(parents=True)
    (work / "make_sample.py").write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "RENEWGEO_SHIBEI_DISTRICT": str(shared_data / "qingdao" / "370203.geojson")}
    subprocess.run([sys.executable, str(work / "make_sample.py")], check=True, capture_output=True, cwd=tmp_path, env=env)
    for name in ("parcels", "constraints", "buildings"):
        a = gpd.read_file(src / "shibei_relocation.gpkg", layer=name)
        b = gpd.read_file(work / "shibei_relocation.gpkg", layer=name)
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry")), name
        assert a.geometry.geom_equals_exact(b.geometry, 1e-9).all(), name
    from renewgeo import crs as rcrs

    district = rcrs.gcj02_to_wgs84_gdf(gpd.read_file(shared_data / "qingdao" / "370203.geojson")).to_crs(4549).geometry.iloc[0]
    parcels = gpd.read_file(src / "shibei_relocation.gpkg", layer="parcels")
    assert district.contains(shapely.union_all(parcels.geometry.values))
