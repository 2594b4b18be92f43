"""Readers and writers: every format, atomic writes under failure, OSM PBF, PostGIS."""

from __future__ import annotations

import os
import stat

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

import renewgeo as rg
from renewgeo import io as rio


@pytest.fixture
def layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["B1", "B2", "B3"],
            "name_zh": ["闯创06", "书店 <b>&", None],
            "floors": [3, 5, 2],
            "gfa_m2": [1200.5, 3000.0, 800.0],
        },
        geometry=[shapely.box(0, 0, 20, 10), shapely.box(30, 0, 50, 20), shapely.box(60, 0, 70, 40)],
        crs=4549,
    ).set_geometry(
        gpd.GeoSeries([shapely.box(518000 + i * 40, 3985000, 518020 + i * 40, 3985010 + i * 10) for i in range(3)], crs=4549)
    )


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet", ".fgb", ".shp"])
def test_write_then_read_every_format(tmp_path, layer, suffix):
    path = rio.write_layer(layer, tmp_path / f"out{suffix}")
    # FlatGeobuf's spatial index stores features in Hilbert order: compare by id
    back = rio.read_layer(path).sort_values("id").reset_index(drop=True)
    assert back.crs.to_epsg() == 4549
    assert back["id"].tolist() == ["B1", "B2", "B3"]
    assert back["name_zh"].tolist()[:2] == ["闯创06", "书店 <b>&"]
    assert back["gfa_m2"].tolist() == [1200.5, 3000.0, 800.0]
    # shapefiles store rings clockwise: compare shapes, not vertex order
    assert all(a.equals(b) for a, b in zip(back.geometry, layer.geometry, strict=True))
    assert back.area.tolist() == pytest.approx(layer.area.tolist(), rel=1e-12)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left
    rio.write_layer(layer.iloc[:1], path)  # overwrite in place
    assert len(rio.read_layer(path)) == 1


def test_write_layer_keeps_other_gpkg_layers_and_replaces_same_name(tmp_path, layer):
    path = tmp_path / "r.gpkg"
    rio.write_layer(layer, path, layer="a")
    rio.write_layer(layer.iloc[:1], path, layer="b")
    rio.write_layer(layer.iloc[:2], path, layer="a")
    names = dict(pyogrio.list_layers(path)[:, :2].tolist())
    assert set(names) == {"a", "b"}
    assert len(rio.read_layer(path, layer="a")) == 2
    assert len(rio.read_layer(path, layer="b")) == 1


def test_gpkg_is_version_1_3_with_spatial_index(tmp_path, layer):
    import sqlite3

    path = rio.write_layers({"buildings": layer}, tmp_path / "r.gpkg")
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "rtree_buildings_geom" in tables
    finally:
        con.close()


def test_write_layers_failure_halfway_keeps_old_file(tmp_path, layer):
    path = tmp_path / "results.gpkg"
    rio.write_layers({"good": layer}, path)
    before = path.read_bytes()
    broken = layer.copy()
    broken["bad"] = [1 + 2j, 0j, 1j]  # complex numbers cannot be stored: fails on the 2nd layer
    with pytest.raises(rg.WriteError, match=r"writing layer 'second' failed.*intact"):
        rio.write_layers({"first": layer, "second": broken}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.gpkg"]


def test_write_layer_failure_inside_driver_keeps_old_file(tmp_path, layer, monkeypatch):
    path = tmp_path / "b.geojson"
    rio.write_layer(layer, path)
    before = path.read_bytes()
    real = pyogrio.write_dataframe

    def half_then_fail(df, target, **kw):
        real(df.iloc[:1], target, **kw)  # something is on disk ...
        raise OSError("disk full")  # ... then the write dies

    monkeypatch.setattr(pyogrio, "write_dataframe", half_then_fail)
    with pytest.raises(rg.WriteError, match="disk full"):
        rio.write_layer(layer.iloc[:2], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.geojson"]


def test_shapefile_failure_keeps_all_old_sidecars(tmp_path, layer, monkeypatch):
    path = rio.write_layer(layer, tmp_path / "b.shp")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert {".shp", ".shx", ".dbf", ".prj"} <= {p.suffix for p in tmp_path.iterdir()}
    real = pyogrio.write_dataframe

    def half_then_fail(df, target, **kw):
        real(df, target, **kw)
        raise OSError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", half_then_fail)
    with pytest.raises(rg.WriteError, match="disk full"):
        rio.write_layer(layer.iloc[:1], path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_destination(tmp_path, layer):
    path = rio.write_layer(layer, tmp_path / "r.gpkg")
    path.chmod(stat.S_IRUSR)
    with pytest.raises(rg.WriteError, match="read-only"):
        rio.write_layer(layer, path)


def test_read_only_destination_checked_by_access(tmp_path, layer, monkeypatch):
    path = rio.write_layer(layer, tmp_path / "r.gpkg")
    before = path.read_bytes()
    monkeypatch.setattr(os, "access", lambda p, mode: not (str(p) == str(path) and mode == os.W_OK))
    with pytest.raises(rg.WriteError, match="read-only.*left as it was"):
        rio.write_layer(layer, path)
    assert path.read_bytes() == before


def test_unknown_format_and_missing_file(tmp_path, layer):
    with pytest.raises(rg.WriteError, match="unknown output format '.xyz'"):
        rio.write_layer(layer, tmp_path / "x.xyz")
    with pytest.raises(rg.ReadError, match="no such file"):
        rio.read_layer(tmp_path / "nothing.gpkg")
    (tmp_path / "junk.gpkg").write_text("not a geopackage")
    with pytest.raises(rg.ReadError, match="cannot be read"):
        rio.read_layer(tmp_path / "junk.gpkg")


def test_multilayer_file_needs_a_layer_name(tmp_path, layer):
    path = rio.write_layers({"a": layer, "b": layer}, tmp_path / "m.gpkg")
    with pytest.raises(rg.ReadError, match=r"holds 2 layers \['a', 'b'\]"):
        rio.read_layer(path)


def test_write_table_utf8_bom(tmp_path):
    path = rio.write_table(pd.DataFrame({"名称": ["闯创06"], "gfa_m2": [1.5]}), tmp_path / "t" / "x.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(path, encoding="utf-8-sig")["名称"].tolist() == ["闯创06"]


def test_info_gpkg(sample_path):
    t = rio.info(sample_path / "chuangchuangyi.gpkg").set_index("layer")
    assert t.loc["buildings", "features"] == 26
    assert t.loc["buildings", "crs"] == "EPSG:4549"
    assert "LAYERS" in t.loc["buildings", "columns"]
    assert len(t.loc["buildings", "bounds"]) == 4


def test_info_lists_the_styles_table_as_a_table(tmp_path, layer):
    """`renewgeo info results.gpkg` showed layer_styles as a layer of geometry nan and CRS nan."""
    from renewgeo import qgis
    from tests.test_cli import run

    path = qgis.write_gpkg({"buildings": layer}, tmp_path / "results.gpkg", kinds={"buildings": "buildings"})
    t = rio.info(path)
    assert t["layer"].tolist() == ["buildings", "layer_styles"]
    b, styles = t.set_index("layer").loc["buildings"], t.set_index("layer").loc["layer_styles"]
    assert (b["geometry_type"], b["crs"], b["features"], len(b["bounds"])) == ("Polygon", "EPSG:4549", 3, 4)
    assert (styles["geometry_type"], styles["crs"], styles["features"], styles["bounds"]) == ("table (no geometry)", "-", 1, "-")
    assert "styleQML" in styles["columns"]
    r = run("info", str(path))
    assert r.returncode == 0, r.stderr
    assert "layer layer_styles: table (no geometry), 1 feature, CRS -\n  bounds  -\n" in r.stdout
    assert "nan" not in r.stdout.lower() and "None" not in r.stdout


def test_info_parquet(tmp_path, layer):
    t = rio.info(rio.write_layer(layer, tmp_path / "x.parquet"))
    assert t.iloc[0]["features"] == 3 and t.iloc[0]["crs"] == "EPSG:4549"


# ------------------------------------------------------------------------- OSM PBF
@pytest.mark.realdata
def test_read_osm_porto_buildings(shared_data):
    b = rio.read_osm(shared_data / "osm" / "porto_downtown.osm.pbf", what="buildings")
    # The data README counts 11,384 buildings (pyrosm); GDAL's OSM driver yields 11,393:
    # it also assembles a few multipolygon relations. Within 0.1%.
    assert abs(len(b) - 11384) / 11384 < 1e-3
    assert b["id"].is_unique and b["id"].str.match(r"^[wr]\d+$").all()
    assert b.crs.to_epsg() == 4326
    assert (b["floors"].dropna() > 0).all()


@pytest.mark.realdata
def test_read_osm_porto_amenities(shared_data):
    path = shared_data / "osm" / "porto_downtown.osm.pbf"
    table = rio.osm_categories()
    raw = rio.read_osm(path, what="amenities", categories=table[table["category"] != "ignore"])
    ast = raw["amenity"].notna() | raw["shop"].notna() | raw["tourism"].notna()
    # README: 4,297 POIs (amenity / shop / tourism, nodes and ways); within 0.5%
    assert abs(int(ast.sum()) - 4297) / 4297 < 5e-3
    a = rio.read_osm(path, what="amenities")
    assert len(a) < len(raw)  # street furniture left out ...
    assert not (a["category"] == "ignore").any()
    dropped = raw[~raw["id"].isin(a["id"])]
    ignore = table[table["category"] == "ignore"]
    is_furniture = pd.Series(False, index=dropped.index)
    for key, rows in ignore.groupby("key"):
        is_furniture |= dropped[key].isin(rows["value"])
    assert len(dropped) == len(raw) - len(a) and is_furniture.all()  # ... and only that
    assert (a.geom_type == "Point").all()
    counts = a["category"].value_counts()
    assert counts["cafe"] > 100 and counts["restaurant"] > 300 and counts["bus_stop"] > 100


@pytest.mark.realdata
def test_read_osm_porto_paths_and_project(shared_data, tmp_path):
    path = shared_data / "osm" / "porto_downtown.osm.pbf"
    p = rio.read_osm(path, what="paths")
    assert len(p) > 3000 and not p["highway"].isin(["motorway", "trunk"]).any()
    assert p["bridge"].dtype == bool
    toml = f"""
[project]
name = "porto"
repair = true
[layers.buildings]
file = "{path}"
osm = "buildings"
[layers.amenities]
file = "{path}"
osm = "amenities"
[layers.paths]
file = "{path}"
osm = "paths"
"""
    (tmp_path / "project.toml").write_text(toml)
    proj = rg.load_project(tmp_path)
    assert proj.crs.to_epsg() == 32629  # Porto -> UTM 29N
    assert len(proj["buildings"]) == 11393
    assert all(g.is_valid for g in proj["buildings"].geometry)
    invalid = [w for w in proj.report.warnings if w.code == "invalid_geometry"]
    assert invalid and invalid[0].rows  # repairs are listed by id


def test_pbf_needs_osm_what(tmp_path):
    f = tmp_path / "x.osm.pbf"
    f.write_bytes(b"")
    with pytest.raises(rg.ReadError, match="say which with osm="):
        rio.read_layer(f)


# ------------------------------------------------------------------------- PostGIS
@pytest.mark.postgis
def test_postgis_round_trip(postgis_dsn, layer):
    rio.write_postgis(layer, postgis_dsn, "buildings", if_exists="replace")
    back = rio.read_postgis(postgis_dsn, table="public.buildings")
    assert back.crs.to_epsg() == 4549
    assert back["name_zh"].tolist()[:2] == ["闯创06", "书店 <b>&"]
    assert all(a.equals_exact(b, 1e-9) for a, b in zip(back.geometry, layer.geometry, strict=True))
    # PostGIS computes areas independently
    q = rio.read_postgis(postgis_dsn, sql="SELECT id, ST_Area(geom) AS area, geom FROM buildings ORDER BY id")
    assert q.geometry.name == "geom"
    assert q["area"].tolist() == pytest.approx(layer.area.tolist(), rel=1e-12)


@pytest.mark.postgis
def test_postgis_write_is_all_or_nothing(postgis_dsn, layer):
    rio.write_postgis(layer, postgis_dsn, "atomic", if_exists="replace")
    with pytest.raises(rg.WriteError, match="rolled back"):
        rio.write_postgis(layer, postgis_dsn, "atomic", if_exists="fail")
    assert len(rio.read_postgis(postgis_dsn, table="atomic")) == 3
    with pytest.raises(rg.ReadError, match="no such table"):
        rio.read_postgis(postgis_dsn, table="no_such_table")
    with pytest.raises(rg.ReadError, match="cannot be read"):
        rio.read_postgis(postgis_dsn, sql="SELECT * FROM nowhere")
    with pytest.raises(rg.ReadError, match="may hold only"):
        rio.read_postgis(postgis_dsn, table="x; DROP TABLE atomic")


@pytest.mark.postgis
def test_project_layer_from_postgis(postgis_dsn, tmp_path, layer, monkeypatch):
    rio.write_postgis(layer.assign(status="idle"), postgis_dsn, "pg_buildings", if_exists="replace")
    monkeypatch.setenv("RENEWGEO_TEST_PG", postgis_dsn)
    (tmp_path / "project.toml").write_text(
        '[project]\nname="pg"\n[layers.buildings]\ntable = "public.pg_buildings"\ndsn_env = "RENEWGEO_TEST_PG"\n'
    )
    p = rg.load_project(tmp_path)
    assert len(p["buildings"]) == 3 and p.sources["buildings"] == "postgis:public.pg_buildings"
    monkeypatch.delenv("RENEWGEO_TEST_PG")
    report = rg.validate_project(tmp_path)
    assert "variable RENEWGEO_TEST_PG is not set" in report.errors[0].message
