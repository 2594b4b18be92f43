"""The project model: loading, validation of a whole project, CRS policy on load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

import renewgeo as rg
from renewgeo import crs as rcrs


def write_project(folder: Path, toml: str, layers: dict[str, gpd.GeoDataFrame], file: str = "data.gpkg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, gdf in layers.items():
        gdf.to_file(folder / file, layer=name, engine="pyogrio")
    (folder / "project.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    return folder


def toy_buildings(crs=4549, **cols) -> gpd.GeoDataFrame:
    x0, y0 = 518000.0, 3985000.0
    geoms = [shapely.box(x0, y0, x0 + 20, y0 + 10), shapely.box(x0 + 40, y0, x0 + 60, y0 + 30)]
    g = gpd.GeoDataFrame({"id": ["B1", "B2"], "status": ["idle", "renovated"], **cols}, geometry=geoms, crs=4549)
    return g.to_crs(crs) if crs is not None else g.set_crs(None, allow_override=True)


# ---------------------------------------------------------------------- the sample
def test_sample_loads_valid_in_metric_crs(sample):
    assert sample.crs.to_epsg() == 4549
    assert sample.report.errors == [] and sample.report.warnings == []
    assert set(sample.kinds.values()) >= {
        "buildings",
        "paths",
        "pedestrian_axis",
        "landscape_corridor",
        "trails",
        "amenities",
        "outdoor_spaces",
        "zones",
        "sites",
    }
    assert "floors" in sample["buildings"].columns and "LAYERS" not in sample["buildings"].columns
    assert len(sample.targets) == 11
    assert sample.illustrative


def test_sample_auto_crs_is_the_same_zone(sample_path, tmp_path):
    toml = (sample_path / "project.toml").read_text(encoding="utf-8").replace('crs = "EPSG:4549"', 'crs = "auto"')
    (tmp_path / "project.toml").write_text(toml, encoding="utf-8")
    (tmp_path / "chuangchuangyi.gpkg").symlink_to(sample_path / "chuangchuangyi.gpkg")
    (tmp_path / "indicator_inputs.csv").write_bytes((sample_path / "indicator_inputs.csv").read_bytes())  # [scorecard] names it
    assert rg.load_project(tmp_path).crs.to_epsg() == 4549


def test_summary_repr_and_html(sample):
    s = sample.summary().set_index("layer")
    assert s.loc["buildings", "features"] == 26
    assert s.loc["trails", "length_m"] == pytest.approx(1800.0)
    assert "EPSG:4549" in repr(sample)
    html = sample._repr_html_()
    assert "闯创驿·科创园" in html and "illustrative" in html and "<table>" in html


def test_getitem_by_kind_and_errors(sample):
    assert len(sample["sites"]) == 1  # layer "site" is of kind "sites"
    with pytest.raises(KeyError, match="did you mean 'buildings'"):
        sample["bulidings"]
    with pytest.raises(KeyError, match="no 'constraints' layer"):
        sample.layer("constraints")


def test_to_web(sample):
    web = sample.to_web("buildings")
    assert web.crs.to_epsg() == 4326
    x, y = web.geometry.iloc[0].centroid.coords[0]
    assert 120.19 < x < 120.21 and 35.99 < y < 36.02


# ---------------------------------------------------------------------- from_layers
def test_from_layers_reprojects_and_validates():
    b = toy_buildings(crs=4326)
    p = rg.Project.from_layers({"buildings": b}, name="toy")
    assert p.crs.to_epsg() == 4549  # auto: Qingdao
    assert p["buildings"].area.tolist() == pytest.approx([200.0, 600.0], rel=1e-6)
    assert b.crs.to_epsg() == 4326  # input untouched


def test_from_layers_kinds_and_several_layers_of_a_kind():
    a = toy_buildings()
    b = toy_buildings().assign(id=["B3", "B4"])
    p = rg.Project.from_layers({"old": a, "new": b}, kinds={"old": "buildings", "new": "buildings"})
    both = p.layer("buildings")
    assert len(both) == 4 and set(both["source_layer"]) == {"old", "new"}


def test_from_layers_collects_every_problem():
    bad = toy_buildings(status=None)
    bad["status"] = ["idle", "wrecked"]
    nocrs = toy_buildings(crs=None)
    with pytest.raises(rg.ValidationError) as ei:
        rg.Project.from_layers(
            {"buildings": bad, "old": nocrs, "streets": toy_buildings()}, kinds={"old": "buildings", "streets": "paths"}
        )
    codes = ei.value.report.codes()
    assert "value_not_allowed" in codes and "missing_crs" in codes and "wrong_geometry_type" in codes
    msg = str(ei.value)
    assert "'wrecked'" in msg and "[old]" in msg and 'crs = "EPSG:4549"' in msg


def test_geographic_analysis_crs_is_refused():
    with pytest.raises(rg.ValidationError, match="needs metres|need metres") as ei:
        rg.Project.from_layers({"buildings": toy_buildings()}, crs="EPSG:4326")
    assert ei.value.report.codes() == ["crs_degrees"]


def test_gcj02_layer_converted_on_load():
    wgs = toy_buildings(crs=4326)
    gcj = rcrs.wgs84_to_gcj02_gdf(wgs)  # as it would come from AMap
    p = rg.Project.from_layers({"buildings": gcj}, coords={"buildings": "gcj02"}, crs=4549)
    ref = toy_buildings()
    d = p["buildings"].geometry.centroid.distance(ref.geometry.centroid)
    assert d.max() < 0.01
    naive = rg.Project.from_layers({"buildings": gcj}, crs=4549)
    off = naive["buildings"].geometry.centroid.distance(ref.geometry.centroid)
    assert 300 < off.min() < 700


# ---------------------------------------------------------------------- project.toml
BASE = """
[project]
name = "toy"
crs = "auto"

[layers.buildings]
file = "data.gpkg"
layer = "buildings"
"""


def test_load_project_with_column_mapping(tmp_path):
    b = toy_buildings().rename(columns={"status": "STATE"}).assign(LAYERS=[2, 3])
    write_project(tmp_path, BASE + '[layers.buildings.columns]\nstatus = "STATE"\nfloors = "LAYERS"\n', {"buildings": b})
    p = rg.load_project(tmp_path)
    assert p["buildings"]["floors"].tolist() == [2, 3]
    assert p["buildings"]["status"].tolist() == ["idle", "renovated"]
    assert p.sources["buildings"] == "data.gpkg:buildings"


def test_layer_crs_declared_in_toml(tmp_path):
    b = toy_buildings(crs=None)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        b.to_file(tmp_path / "nocrs.shp", engine="pyogrio")  # a shapefile without .prj has no CRS
    toml = '[project]\nname="t"\n[layers.buildings]\nfile = "nocrs.shp"\n'
    (tmp_path / "project.toml").write_text(toml)
    report = rg.validate_project(tmp_path)
    assert report.codes() == ["missing_crs"]
    assert 'crs = "EPSG:4549"' in report.errors[0].fix
    (tmp_path / "project.toml").write_text(toml + 'crs = "EPSG:4549"\n')
    assert rg.load_project(tmp_path)["buildings"].crs.to_epsg() == 4549


def test_toml_typos_are_named(tmp_path):
    toml = BASE.replace("layer = ", "layr = ").replace('crs = "auto"', 'crs = "auto"\nnmae = "x"') + "[thresholds]\n[targts]\n"
    write_project(tmp_path, toml, {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    text = report.format()
    assert "[layers.buildings] has no key 'layr'" in text and "did you mean 'layer'" in text
    assert "[project] has no key 'nmae'" in text and "did you mean 'name'" in text
    assert "[targts]" in text and "did you mean [targets]" in text


def test_unknown_kind_and_unreadable_file(tmp_path):
    toml = (
        BASE + '[layers.roads]\nkind = "path"\nfile = "data.gpkg"\n[layers.parks]\nkind = "outdoor_spaces"\nfile = "parks.gpkg"\n'
    )
    write_project(tmp_path, toml, {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    kinds = {p.code: p for p in report.errors}
    assert "did you mean 'paths'" in kinds["unknown_kind"].fix
    assert "parks.gpkg: no such file" in kinds["unreadable"].message
    assert "data.gpkg" in kinds["unreadable"].message  # lists what is there


def test_layer_missing_from_gpkg_lists_layers(tmp_path):
    write_project(tmp_path, BASE.replace('layer = "buildings"', 'layer = "bldgs"'), {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    assert "Layers in the file: ['buildings']" in report.errors[0].message


def test_no_project_toml(tmp_path):
    with pytest.raises(rg.ProjectFileError, match="no project.toml"):
        rg.load_project(tmp_path)
    (tmp_path / "project.toml").write_text("[project\nname=")
    with pytest.raises(rg.ProjectFileError, match="not valid TOML"):
        rg.load_project(tmp_path)


def test_targets_are_checked_against_layers(tmp_path):
    targets = """
[[targets]]
id = "gfa"
layer = "buildings"
where = { use_afer = "office" }
measure = "sum(gfa)"
value = 100
unit = "m2"

[[targets]]
id = "parks"
layer = "parks"
measure = "count"
value = "ten"
unit = "pcs"

[[targets]]
id = "ok"
layer = "buildings"
measure = "area"
value = 20
unit = "mu"
"""
    write_project(tmp_path, BASE + targets, {"buildings": toy_buildings(use_after=["office", "shop"], gfa_m2=[1.0, 2.0])})
    report = rg.validate_project(tmp_path)
    text = report.format()
    assert "target 'gfa': uses column 'use_afer'" in text and "did you mean 'use_after'" in text
    assert "target 'gfa': uses column 'gfa'" in text and "did you mean 'gfa_m2'" in text
    assert "target 'parks': names layer 'parks'" in text
    assert "unit must be one of" in text and "got 'pcs' (did you mean 'places'?)" in text
    assert "value must be a number, got the text 'ten'" in text
    assert all(p.layer == "targets" for p in report.errors)
    assert len(report.errors) == 5


def test_geodesic_area_of_toy_buildings_agrees():
    """The metric CRS gives areas within 0.05% of the ellipsoidal (geodesic) area."""
    p = rg.Project.from_layers({"buildings": toy_buildings(crs=4326)}, crs="auto")
    geod = Geod(ellps="WGS84")
    web = p.to_web("buildings")
    for planar, g in zip(p["buildings"].area, web.geometry, strict=True):
        geodesic = abs(geod.geometry_area_perimeter(g)[0])
        assert planar == pytest.approx(geodesic, rel=5e-4)


def test_a_layer_may_not_take_a_result_layers_name(tmp_path):
    write_project(tmp_path, BASE + '[layers.isochrones]\nkind = "zones"\nfile = "data.gpkg"\nlayer = "buildings"\n',
                  {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    assert report.codes() == ["reserved_name"] and "result layer of the walk analysis" in report.errors[0].message


def test_a_filter_that_matches_nothing_warns_on_load(tmp_path):
    targets = '[[targets]]\nid = "x"\nlayer = "buildings"\nwhere = { status = "demolished" }\nmeasure = "count"\nvalue = 1\nunit = "count"\n'
    write_project(tmp_path, BASE + targets, {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    assert report.ok and report.codes() == ["empty_filter"] and "matches no feature of layer 'buildings'" in report.warnings[0].message


def test_unquoted_chinese_layer_name_gets_a_hint(tmp_path):
    (tmp_path / "project.toml").write_text('[project]\nname = "t"\n[layers.用地]\nfile = "x.gpkg"\n', encoding="utf-8")
    with pytest.raises(rg.ProjectFileError, match=r'must be quoted: \[layers."用地"\]'):
        rg.load_project(tmp_path)


def test_the_project_toml_hash_is_of_the_files_bytes(tmp_path):
    import hashlib

    write_project(tmp_path, BASE, {"buildings": toy_buildings()})
    path = tmp_path / "project.toml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # saved on Windows
    assert rg.load_project(tmp_path).toml_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_filter_value_must_be_a_value_or_a_list(tmp_path):
    targets = '[[targets]]\nid = "x"\nlayer = "buildings"\nwhere = { status = { a = 1 } }\nmeasure = "count"\nvalue = 1\nunit = "count"\n'
    write_project(tmp_path, BASE + targets, {"buildings": toy_buildings()})
    report = rg.validate_project(tmp_path)
    assert report.codes() == ["bad_target"] and "where entry 'status'" in report.errors[0].message


@pytest.mark.realdata
def test_osm_features_left_out_on_reading_are_listed_in_the_report(shared_data, tmp_path):
    """A project on Helsinki's extract loads; the 5 buildings GDAL cannot make a ring of are named in a warning."""
    pbf = shared_data / "osm" / "helsinki_centre.osm.pbf"
    (tmp_path / "project.toml").write_text(textwrap.dedent(f"""
        [project]
        name = "helsinki"
        repair = true
        [layers.buildings]
        file = "{pbf.as_posix()}"
        osm = "buildings"
        """))
    report = rg.validate_project(tmp_path)
    dropped = [p for p in report.problems if p.code == "dropped_on_read"]
    assert len(dropped) == 1 and dropped[0].layer == "buildings" and dropped[0].severity == "warning"
    assert dropped[0].rows == ("w22499189", "w76315833", "w86943008", "w123533053", "w242553463")
    assert "5 feature(s) left out" in dropped[0].message and "helsinki_centre.osm.pbf" in (dropped[0].file or "")
    assert not [p for p in report.problems if p.severity == "error"]  # 18 self-intersecting rings are repaired, listed apart
