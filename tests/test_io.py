"""Readers and writers: every format, atomic writes under failure, OSM PBF, PostGIS."""

from __future__ import annotations

import os
import stat
import warnings

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    # a table name is an identifier, quoted, never pasted into SQL: this is just a table that does not exist
    with pytest.raises(rg.ReadError, match="no such table"):
        rio.read_postgis(postgis_dsn, table='x"; DROP TABLE atomic; --')
    assert len(rio.read_postgis(postgis_dsn, table="atomic")) == 3


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


# ------------------------------------------------------------ spreadsheets: no cell becomes a formula
_FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A2)", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1"]


def _hostile_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "zone": [*_FORMULAS, "plain", "-2.5"],
            '=HYPERLINK("http://x.invalid","y")': [1, -2, 3, -4, 5, 6, 7, 8],
            "dh_m": [-1.5, -0.25, 0.0, 2.0, -3.0, 1e-3, -1e6, 4.5],
            "kind": pd.Categorical(["=1+1", "a", "a", "a", "a", "a", "a", "-x"]),
        }
    )


def test_workbook_stores_formula_like_text_as_text(tmp_path):
    """A zone named =cmd|' /C calc'!A0 became a live formula in tables/area.xlsx (openpyxl writes '=...' as a formula)."""
    import zipfile

    import openpyxl

    df = _hostile_table()
    path = rio.write_workbook({"area": df}, tmp_path / "area.xlsx")
    ws = openpyxl.load_workbook(path)["area"]
    rows = list(ws.iter_rows())
    header, body = rows[0], rows[1:]
    assert [c.data_type for c in header] == ["s"] * 4
    assert header[1].value == '=HYPERLINK("http://x.invalid","y")' and header[1].quotePrefix
    # the text itself, unchanged (but for XML turning a CR into LF)
    assert [c.value for c in (r[0] for r in body)] == [v.replace("\r", "\n") for v in df["zone"]]
    assert [r[0].data_type for r in body] == ["s"] * 8
    assert [r[0].quotePrefix for r in body] == [True] * 6 + [False, False]
    assert [r[1].value for r in body] == [1, -2, 3, -4, 5, 6, 7, 8] and {r[1].data_type for r in body} == {"n"}
    assert [r[2].value for r in body] == df["dh_m"].tolist() and {r[2].data_type for r in body} == {"n"}
    assert (body[0][3].value, body[0][3].data_type, body[7][3].quotePrefix) == ("=1+1", "s", True)
    with zipfile.ZipFile(path) as z:  # independent of openpyxl's reading: no formula element in any sheet
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)


def test_csv_puts_a_quote_before_formula_like_text_and_leaves_numbers(tmp_path):
    """OWASP CSV injection: text starting with = + - @ tab CR gets a leading ' ; numbers, negative ones too, stay numbers."""
    import csv

    path = rio.write_table(_hostile_table(), tmp_path / "area.csv")
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["zone", "'=HYPERLINK(\"http://x.invalid\",\"y\")", "dh_m", "kind"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in _FORMULAS] + ["plain", "-2.5"]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "3", "-4", "5", "6", "7", "8"]
    assert [float(r[2]) for r in rows[1:]] == [-1.5, -0.25, 0.0, 2.0, -3.0, 1e-3, -1e6, 4.5]
    assert [r[3] for r in rows[1:]] == ["'=1+1", *["a"] * 6, "'-x"]
    assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for r in rows for cell in r)


def test_sheet_names_are_legal_distinct_and_keep_their_data(tmp_path):
    import openpyxl

    long = "zone_table_with_a_very_long_name_"  # 33 characters: the first 31 are the same for both
    tables = {
        "a/b:c*d?[e]\\f": pd.DataFrame({"v": [1]}),
        long + "one": pd.DataFrame({"v": [2]}),
        long + "two": pd.DataFrame({"v": [3]}),
        "'quoted'": pd.DataFrame({"v": [4]}),
        "A/B:C*D?[E]\\F": pd.DataFrame({"v": [5]}),  # the same as the first, but for case
    }
    wb = openpyxl.load_workbook(rio.write_workbook(tables, tmp_path / "t.xlsx"))
    names = wb.sheetnames
    assert len(names) == 5 and len({n.casefold() for n in names}) == 5
    assert all(0 < len(n) <= 31 and not set(n) & set("[]:*?/\\") and n[0] != "'" and n[-1] != "'" for n in names)
    assert [wb[n]["A2"].value for n in names] == [1, 2, 3, 4, 5]  # each table in its own sheet


# ------------------------------------------------------------ OSM: one broken ring, where
def _osm_xml(path):
    """A hand-made OSM XML file: good features beside ways that close on themselves after 2 nodes (w101, w103)."""
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="renewgeo tests">
  <node id="1" lat="41.1400" lon="-8.6100" version="1"/>
  <node id="2" lat="41.1400" lon="-8.6098" version="1"/>
  <node id="3" lat="41.1402" lon="-8.6098" version="1"/>
  <node id="4" lat="41.1402" lon="-8.6100" version="1"/>
  <node id="5" lat="41.1410" lon="-8.6100" version="1"/>
  <node id="6" lat="41.1420" lon="-8.6100" version="1"/>
  <node id="7" lat="41.1405" lon="-8.6099" version="1"><tag k="amenity" v="cafe"/><tag k="name" v="Café A"/></node>
  <node id="8" lat="41.1406" lon="-8.6099" version="1"><tag k="amenity" v="pharmacy"/></node>
  <node id="9" lat="41.1407" lon="-8.6099" version="1"><tag k="amenity" v="cafe"/></node>
  <node id="11" lat="41.1430" lon="-8.6100" version="1"/>
  <node id="12" lat="41.1430" lon="-8.6090" version="1"/>
  <node id="13" lat="41.1440" lon="-8.6090" version="1"/>
  <way id="100" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="yes"/><tag k="building:levels" v="3"/></way>
  <way id="101" version="1"><nd ref="5"/><nd ref="5"/><tag k="building" v="yes"/><tag k="amenity" v="cafe"/></way>
  <way id="102" version="1"><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="11"/><tag k="landuse" v="grass"/></way>
  <way id="103" version="1"><nd ref="6"/><nd ref="6"/><tag k="landuse" v="residential"/></way>
</osm>
""",
        encoding="utf-8",
    )
    return path


def test_one_broken_ring_leaves_the_rest_of_the_layer(tmp_path, caplog):
    """A single 2-node closed way stopped landuse, buildings and amenities from loading ('is it an OSM PBF extract?')."""
    from pyproj import Geod

    path = _osm_xml(tmp_path / "porto_bit.osm")
    dropped: list[rio.DroppedFeatures] = []
    with caplog.at_level("WARNING", logger="renewgeo.io"):
        b = rio.read_layer(path, osm="buildings", dropped=dropped)
        lu = rio.read_layer(path, osm="landuse", dropped=dropped)
        a = rio.read_layer(path, osm="amenities", dropped=dropped)
    assert b["id"].tolist() == ["w100"] and b["floors"].tolist() == [3]
    # the building is the 4-node box: its area by pyproj.Geod (geodesic), against GDAL + renewgeo's reprojection
    lons, lats = [-8.6100, -8.6098, -8.6098, -8.6100], [41.1400, 41.1400, 41.1402, 41.1402]
    laea = "+proj=laea +lat_0=41.1401 +lon_0=-8.6099 +ellps=WGS84"  # equal-area, so comparable with the geodesic area
    assert abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) == pytest.approx(b.to_crs(laea).area[0], rel=1e-6)
    assert lu["id"].tolist() == ["w102"] and lu["landuse"].tolist() == ["grass"]
    assert sorted(a["id"]) == ["n7", "n8", "n9"]
    assert [(d.source.endswith(f"(osm = {w})"), d.ids) for d, w in zip(dropped, ["buildings", "landuse", "amenities"], strict=True)] == [
        (True, ("w101",)), (True, ("w103",)), (True, ("w101",))]
    assert "2 nodes" in dropped[0].reason
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 3 and "w101" in warned[0] and "w103" in warned[1] and "porto_bit.osm (osm = buildings)" in warned[0]


def test_where_is_applied_to_osm_layers_and_a_bad_one_is_refused(tmp_path):
    """osm = "amenities" with where = "amenity = 'cafe'" returned every row without a word."""
    path = _osm_xml(tmp_path / "x.osm")
    cafes = rio.read_layer(path, osm="amenities", where="amenity = 'cafe'")
    assert sorted(cafes["id"]) == ["n7", "n9"] and set(cafes["amenity"]) == {"cafe"}
    assert rio.read_layer(path, osm="amenities", where="amenity = 'cafe' AND name IS NOT NULL")["name"].tolist() == ["Café A"]
    assert rio.read_layer(path, osm="buildings", where="floors >= 4").empty
    assert rio.read_osm(path, what="buildings", where="floors = 3")["id"].tolist() == ["w100"]
    with pytest.raises(rg.ReadError, match=r"x.osm \(osm = amenities\): where = \"amenty = 'cafe'\" is not an OGR SQL filter.*'amenity'"):
        rio.read_layer(path, osm="amenities", where="amenty = 'cafe'")


def test_where_is_applied_to_geoparquet(tmp_path, layer):
    path = rio.write_layer(layer, tmp_path / "b.parquet")
    assert rio.read_layer(path, where="floors >= 3")["id"].tolist() == ["B1", "B2"]
    assert rio.read_layer(path, where="name_zh IS NULL")["id"].tolist() == ["B3"]
    with pytest.raises(rg.ReadError, match="not an OGR SQL filter"):
        rio.read_layer(path, where="storeys >= 3")


@pytest.mark.realdata
def test_where_on_the_porto_extract_matches_a_pandas_filter(shared_data):
    path = shared_data / "osm" / "porto_downtown.osm.pbf"
    landuse = rio.read_layer(path, osm="landuse")
    parks = rio.read_layer(path, osm="landuse", where="landuse IN ('park', 'garden')")
    expected = landuse[landuse["landuse"].isin(["park", "garden"])]
    assert len(parks) > 0 and parks["id"].tolist() == expected["id"].tolist()


# ------------------------------------------------------------ PostGIS: read-only queries, quoted names, DSNs
def _exec(dsn: str, *statements: str) -> None:
    """Run statements as the test's own database user (independent of renewgeo's reader)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(dsn)
    try:
        with engine.begin() as con:
            for s in statements:
                con.exec_driver_sql(s)
    finally:
        engine.dispose()


def _count(dsn: str, table: str) -> int | None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(dsn)
    try:
        with engine.connect() as con:
            if con.exec_driver_sql(f"SELECT to_regclass('{table}')").scalar() is None:
                return None
            return int(con.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)
    finally:
        engine.dispose()


@pytest.mark.postgis
def test_postgis_sql_cannot_change_the_database(postgis_dsn, layer, tmp_path, monkeypatch):
    """sql = "COMMIT; DROP TABLE victim; ..." dropped the table during renewgeo validate, which then exited 0."""
    rio.write_postgis(layer, postgis_dsn, "buildings", if_exists="replace")
    rio.write_postgis(layer, postgis_dsn, "victim", if_exists="replace")
    _exec(postgis_dsn, "CREATE OR REPLACE FUNCTION evil() RETURNS int AS 'DELETE FROM victim; SELECT 1' LANGUAGE sql")
    attack = "COMMIT; DROP TABLE victim; COMMIT; SELECT * FROM buildings"
    with pytest.raises(rg.ReadError, match="holds a ';'.*one SELECT query only"):
        rio.read_postgis(postgis_dsn, sql=attack)
    # one statement that writes (through a function) meets the read-only transaction, on the server
    with pytest.raises(rg.ReadError, match="read-only transaction"):
        rio.read_postgis(postgis_dsn, sql="SELECT *, evil() AS e FROM victim")
    with pytest.raises(rg.ReadError, match="cannot be read"):
        rio.read_postgis(postgis_dsn, sql="DELETE FROM victim RETURNING *")
    with pytest.raises(rg.ReadError, match="holds a ';'"):  # breaking out of the sub-query needs a ';' too
        rio.read_postgis(postgis_dsn, sql="SELECT * FROM buildings) AS q; DROP TABLE victim; SELECT * FROM (SELECT 1")
    assert _count(postgis_dsn, "victim") == 3
    assert len(rio.read_postgis(postgis_dsn, sql="SELECT * FROM buildings ORDER BY id;\n")) == 3  # a trailing ';' is fine
    # the same through project.toml and `renewgeo validate`
    from tests.test_cli import run

    monkeypatch.setenv("RENEWGEO_TEST_PG", postgis_dsn)
    (tmp_path / "project.toml").write_text(
        f'[project]\nname="pg"\n[layers.buildings]\nsql = "{attack}"\ndsn_env = "RENEWGEO_TEST_PG"\n', encoding="utf-8"
    )
    report = rg.validate_project(tmp_path)
    assert [p.code for p in report.errors] == ["unreadable"] and "holds a ';'" in report.errors[0].message
    r = run("validate", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert _count(postgis_dsn, "victim") == 3


@pytest.mark.postgis
def test_postgis_table_names_are_quoted_identifiers(postgis_dsn, layer):
    rio.write_postgis(layer.iloc[:2], postgis_dsn, 'Odd "name"', if_exists="replace")
    rio.write_postgis(layer.iloc[:1], postgis_dsn, "Parcels", if_exists="replace")
    assert len(rio.read_postgis(postgis_dsn, table='public.Odd "name"')) == 2
    assert len(rio.read_postgis(postgis_dsn, table="Parcels")) == 1
    with pytest.raises(rg.ReadError, match="no such table"):
        rio.read_postgis(postgis_dsn, table="parcels")  # names are taken as the database lists them
    with pytest.raises(rg.ReadError, match="is not a table name"):
        rio.read_postgis(postgis_dsn, table="a.b.c")
    assert _count(postgis_dsn, "\"Parcels\"") == 1


@pytest.mark.postgis
def test_postgis_plain_postgresql_url_and_passwords_never_shown(postgis_dsn, layer, tmp_path, monkeypatch):
    """PLANNING_DB=postgresql://... (the README's form) gave ModuleNotFoundError: psycopg and a traceback."""
    import importlib.util

    rio.write_postgis(layer, postgis_dsn, "plain", if_exists="replace")
    rest = postgis_dsn.split("://", 1)[1]  # renewgeo@127.0.0.1:PORT/planning
    assert len(rio.read_postgis("postgresql://" + rest, table="plain")) == 3
    assert len(rio.read_postgis("postgres://" + rest, table="plain")) == 3
    rio.write_postgis(layer, "postgresql://" + rest, "plain", if_exists="replace")
    secret = "s3cr3t-Pw%40x"  # the server trusts the user: any password connects, and none may be shown
    with_pw = "postgresql://" + rest.replace("renewgeo@", f"renewgeo:{secret}@")
    with pytest.raises(rg.ReadError, match=r"renewgeo:\*\*\*@127.0.0.1") as e:
        rio.read_postgis(with_pw, table="no_such_table")
    bad = {
        "postgresql://renewgeo:s3cr3t-Pw@127.0.0.1:notaport/planning": "is not a database URL",
        "host=127.0.0.1 dbname=planning password=s3cr3t-Pw": "is not a database URL",
        "mysql://renewgeo:s3cr3t-Pw@127.0.0.1/planning": "is not a PostgreSQL URL",
        "postgresql://renewgeo:s3cr3t-Pw@127.0.0.1:1/": "names no database",
        "postgresql://renewgeo@127.0.0.1:1/planning?password=s3cr3t-Pw": "cannot be read",  # nothing listens on port 1
    }
    messages = [str(e.value)]
    for dsn, why in bad.items():
        with pytest.raises(rg.RenewgeoError, match=why) as e:
            rio.read_postgis(dsn, table="plain")
        messages.append(str(e.value))
    with pytest.raises(rg.WriteError, match="is not a database URL") as e:
        rio.write_postgis(layer, "postgresql://renewgeo:s3cr3t-Pw@h:port/x", "t")
    messages.append(str(e.value))
    if importlib.util.find_spec("psycopg") is None:
        with pytest.raises(rg.DependencyError, match="driver psycopg, which is not installed.*postgresql://") as e:
            rio.read_postgis("postgresql+psycopg://renewgeo:s3cr3t-Pw@127.0.0.1/planning", table="plain")
        messages.append(str(e.value))
    assert all("s3cr3t" not in m for m in messages), messages
    # the command line, with the URL in the variable the README names
    from tests.test_cli import run

    monkeypatch.setenv("PLANNING_DB", with_pw)
    (tmp_path / "project.toml").write_text('[project]\nname="pg"\n[layers.sites]\ntable = "public.nothing"\ndsn_env = "PLANNING_DB"\n')
    r = run("validate", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such table" in r.stdout + r.stderr
    assert "s3cr3t" not in r.stdout + r.stderr
    monkeypatch.setenv("PLANNING_DB", "postgresql://" + rest)
    (tmp_path / "project.toml").write_text('[project]\nname="pg"\n[layers.buildings]\ntable = "public.plain"\ndsn_env = "PLANNING_DB"\n')
    assert len(rg.load_project(tmp_path)["buildings"]) == 3


@pytest.mark.realdata
def test_helsinki_extract_with_broken_rings_loads(shared_data, caplog, tmp_path):
    """Helsinki's extract holds ways GEOS cannot make a ring of: buildings, landuse and amenities failed as a whole."""
    import json
    import shutil
    import subprocess

    path = shared_data / "osm" / "helsinki_centre.osm.pbf"
    dropped: list[rio.DroppedFeatures] = []
    with caplog.at_level("WARNING", logger="renewgeo.io"):
        b = rio.read_layer(path, osm="buildings", dropped=dropped)
        lu = rio.read_layer(path, osm="landuse", dropped=dropped)
        a = rio.read_layer(path, osm="amenities", dropped=dropped)
    # the data README: 486 buildings and 1,711 POIs (pyrosm); GDAL also assembles a few relations. Within 1% / 3%.
    assert abs(len(b) - 486) / 486 < 0.01 and abs(len(a) - 1711) / 1711 < 0.03 and len(lu) > 300
    assert b.geometry.notna().all() and lu.geometry.notna().all() and a.geometry.notna().all()
    bad = {d.source.rsplit("= ", 1)[1].rstrip(")"): d.ids for d in dropped}
    assert bad["buildings"] == ("w22499189", "w76315833", "w86943008", "w123533053", "w242553463")
    assert set(bad) == {"buildings", "landuse", "amenities"} and not set(bad["buildings"]) & set(b["id"])
    assert all(any(i in r.getMessage() for r in caplog.records) for i in bad["buildings"])
    # `renewgeo info` failed on the same rings; its count is that of the attributes read without geometry
    counts = rio.info(path).set_index("layer")["features"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL: "Non closed ring detected"
        attrs = pyogrio.read_dataframe(path, layer="multipolygons", read_geometry=False)
    assert counts["multipolygons"] == len(attrs) > 1000
    if shutil.which("ogr2ogr") is None:
        return
    # independently (GDAL's command line, no GEOS): each dropped building has a ring of fewer than 4 positions
    ways = ", ".join(f"'{i[1:]}'" for i in bad["buildings"])
    out = tmp_path / "bad.geojson"
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), str(path), "multipolygons", "-where", f"osm_way_id IN ({ways})"],
                   check=True, capture_output=True)
    feats = json.loads(out.read_text())["features"]
    assert sorted("w" + f["properties"]["osm_way_id"] for f in feats) == sorted(bad["buildings"])
    assert all(min(len(ring) for poly in f["geometry"]["coordinates"] for ring in poly) < 4 for f in feats)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "-1", "+2e3"]),
                                st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\t\r\n"),
                                        max_size=8)).map("".join).filter(bool), min_size=1, max_size=5),
       numbers=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=5))
def test_no_text_becomes_a_formula_property(tmp_path_factory, texts, numbers):
    """Any text: the CSV cell is the text, or ' + the text when it would start a formula; xlsx holds no formula; numbers stay."""
    import csv
    import zipfile

    n = min(len(texts), len(numbers))
    df = pd.DataFrame({"t": texts[:n], "x": numbers[:n]})
    d = tmp_path_factory.mktemp("prop")
    with open(rio.write_table(df, d / "t.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    for (cell, num), text, x in zip(rows, df["t"], df["x"], strict=True):
        dangerous = text[:1] in ("=", "+", "-", "@", "\t", "\r") and not rio._PLAIN_NUMBER.fullmatch(text)
        assert cell == ("'" + text if dangerous else text)
        assert float(num) == x
    with zipfile.ZipFile(rio.write_workbook({"s": df}, d / "t.xlsx")) as z:
        assert not any(b"<f>" in z.read(m) or b"<f " in z.read(m) for m in z.namelist() if m.startswith("xl/worksheets/"))


def test_control_characters_reach_a_workbook_as_a_visible_mark(tmp_path):
    """A category '\\x1f' (found by the fuzz through `renewgeo run`) failed the whole workbook: xlsx (XML) cannot hold it."""
    import openpyxl

    df = pd.DataFrame({"zone\x1f": ["a\x1fb", "\x00", None, "ok"], "n": [1, 2, 3, 4]})
    path = rio.write_workbook({"t": df}, tmp_path / "t.xlsx", index=False)
    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws["A"]] == ["zone\ufffd", "a\ufffdb", "\ufffd", None, "ok"]
    assert [c.value for c in ws["B"]][1:] == [1, 2, 3, 4]


# ------------------------------------------------------------ issue 13 audit: sheet names, PostGIS hosts, secrets, timeouts
def test_sheet_names_never_hold_control_characters_or_end_in_a_quote(tmp_path):
    """A raster named "dem\\x01x" made a workbook Excel and openpyxl refuse; "a"*30 + "'xyz" made a name ending in "'"."""
    import openpyxl

    names = ["dem\x01x", "a" * 30 + "'xyz", "b" * 29 + "'''c", "tab\there\n", "\x1b[31mred", "DEM_x", "'", "x\x85\u2028y", "😀" * 20]
    wb = openpyxl.load_workbook(rio.write_workbook({n: pd.DataFrame({"v": [i]}) for i, n in enumerate(names)}, tmp_path / "c.xlsx"))
    got = wb.sheetnames
    assert len(got) == len(names) and len({n.casefold() for n in got}) == len(names)
    for n in got:
        assert 0 < len(n.encode("utf-16-le")) // 2 <= 31 and n[0] != "'" and n[-1] != "'"
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in n), repr(n)
    assert got[0] == "dem_x" and got[5] == "DEM_x~2"  # Excel compares without case
    assert [wb[n]["A2"].value for n in got] == list(range(len(names)))


def _no_connection(*args, **kwargs):
    raise AssertionError("renewgeo tried to connect")


def _pg_project(tmp_path, layer_toml: str, *, allow: bool = False) -> object:
    (tmp_path / "project.toml").write_text(f'[project]\nname="pg"\nallow_network = {str(allow).lower()}\n' + layer_toml, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("dsn", [
    "postgresql://planner@db.example.com/planning",
    "postgresql://planner@192.0.2.10:5432/planning",
    "postgresql://planner@[2001:db8::1]:5432/planning",
    "postgresql://planner@localhost/planning?host=db.example.com",
    "postgresql://planner@/planning?hostaddr=192.0.2.10",
    "postgresql://planner@localhost/planning?service=prod",
])
def test_a_postgis_server_on_another_machine_is_refused_before_connecting(tmp_path, monkeypatch, dsn):
    """validate connected to any server a project named, and libpq handed it the user's PGPASSWORD."""
    monkeypatch.setattr(rio, "_engine", _no_connection)
    monkeypatch.setenv("PGPASSWORD", "pg-secret-from-env")
    path = _pg_project(tmp_path, f'[layers.parcels]\nkind = "sites"\ntable = "public.parcels"\ndsn = "{dsn}"\n')
    report = rg.validate_project(path)
    assert [p.layer for p in report.errors] == ["parcels"]
    msg = report.errors[0].message
    assert "on another machine" in msg and "allow_network = true under [project]" in msg and "[layers.parcels]" in msg
    # the same URL from a variable: the variable is named, not the server
    monkeypatch.setenv("RENEWGEO_TEST_REMOTE", dsn)
    path = _pg_project(tmp_path, '[layers.parcels]\nkind = "sites"\ntable = "public.parcels"\ndsn_env = "RENEWGEO_TEST_REMOTE"\n')
    msg = rg.validate_project(path).errors[0].message
    assert "named in variable RENEWGEO_TEST_REMOTE" in msg and "example.com" not in msg and "192.0.2" not in msg


def test_allow_network_lets_a_project_reach_another_server(tmp_path, monkeypatch):
    tried = []

    def engine(dsn, error=rg.ReadError):
        tried.append(dsn)
        raise rg.ReadError("no server here (test)")

    monkeypatch.setattr(rio, "_engine", engine)
    path = _pg_project(tmp_path, '[layers.parcels]\nkind = "sites"\ntable = "p"\ndsn = "postgresql://u@db.example.com/x"\n', allow=True)
    assert "no server here" in rg.validate_project(path).errors[0].message and tried == ["postgresql://u@db.example.com/x"]
    for local in ("postgresql://u@localhost/x", "postgresql://u@127.0.0.2:5/x", "postgresql://u@[::1]/x", "postgresql:///x",
                  "postgresql://u@/x?host=/run/postgresql"):
        rio.check_dsn(local, what="[layers.parcels]")  # this machine: allowed without allow_network


@pytest.mark.parametrize("value", ["ghp_S3cr3tT0kenValue", "abc://user:ghp_S3cr3tT0kenValue@host/db", "postgresql://h:1/"])
def test_a_dsn_env_value_that_is_no_database_url_is_never_shown(tmp_path, monkeypatch, value):
    """dsn_env = "SECRET_TOKEN" printed the token in the "is not a database URL" message."""
    monkeypatch.setattr(rio, "_engine", _no_connection)
    monkeypatch.setenv("SECRET_TOKEN", value)
    path = _pg_project(tmp_path, '[layers.leak]\nkind = "zones"\ntable = "x"\ndsn_env = "SECRET_TOKEN"\n')
    msg = rg.validate_project(path).errors[0].message
    assert "variable SECRET_TOKEN" in msg and "postgresql://user:password@host:5432/database" in msg
    assert "S3cr3t" not in msg and value not in msg


@pytest.mark.postgis
def test_postgis_on_this_machine_loads_and_a_hanging_query_is_cancelled(postgis_dsn, layer, tmp_path, monkeypatch):
    """pg_sleep in sql hung validate; the statement timeout cancels it on the server."""
    import time

    rio.write_postgis(layer, postgis_dsn, "local_pg", if_exists="replace")
    as_localhost = postgis_dsn.replace("@127.0.0.1:", "@localhost:")
    monkeypatch.setenv("RENEWGEO_TEST_PG", as_localhost)
    path = _pg_project(tmp_path, '[layers.buildings]\ntable = "public.local_pg"\ndsn_env = "RENEWGEO_TEST_PG"\n')
    assert len(rg.load_project(path)["buildings"]) == 3  # localhost and 127.0.0.1 need no allow_network
    monkeypatch.setattr(rio, "STATEMENT_TIMEOUT_S", 0.5)
    start = time.monotonic()
    with pytest.raises(rg.ReadError, match="statement timeout"):
        rio.read_postgis(postgis_dsn, sql="SELECT pg_sleep(30) AS s, NULL::geometry AS geom")
    assert time.monotonic() - start < 10
    assert rio.STATEMENT_TIMEOUT_S == 0.5 and rio.read_postgis.__doc__ and "statement_timeout" in rio.read_postgis.__doc__
