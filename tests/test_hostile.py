"""Project folders from anyone: coordinates that lie, names that attack, paths that wander, files in odd encodings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import renewgeo as rg
from tests.test_cli import run as cli
from tests.test_webmap import browser_ok  # noqa: F401  (a fixture, used by name)

SAMPLE = rg.datasets.get_path("chuangchuangyi")


def sample_copy(tmp_path: Path, change: dict[str, object] | None = None) -> Path:
    """The Chuangchuangyi sample as files of our own, layers changed by ``change`` (name -> function of the GeoDataFrame)."""
    d = tmp_path / "p"
    d.mkdir()
    shutil.copy(SAMPLE / "project.toml", d)
    for f in SAMPLE.iterdir():  # files project.toml names besides the layers (indicator inputs ...)
        if f.is_file() and f.suffix.lower() in (".csv", ".toml") and not (d / f.name).exists():
            shutil.copy(f, d)
    for name in gpd.list_layers(SAMPLE / "chuangchuangyi.gpkg")["name"]:
        g = gpd.read_file(SAMPLE / "chuangchuangyi.gpkg", layer=name)
        if change and name in change:
            g = change[name](g)  # type: ignore[operator]
        g.to_file(d / "chuangchuangyi.gpkg", layer=name)
    return d


# ------------------------------------------------------------ coordinates that are not what they claim
def test_metric_coordinates_labelled_degrees_are_an_error_naming_the_crs(tmp_path):
    """Metric coordinates labelled EPSG:4326 used to pass validate and crash run with 'cannot convert float NaN'."""
    path = sample_copy(tmp_path, {"amenities": lambda g: g.set_crs(4326, allow_override=True)})
    report = rg.validate_project(path)
    err = [p for p in report.errors if p.code == "wrong_crs"]
    assert len(err) == 1 and err[0].layer == "amenities"
    assert "are not longitudes and latitudes" in err[0].message and "EPSG:4549" in err[0].fix
    r = cli("run", str(path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "EPSG:4549" in r.stderr


def test_projected_coordinates_far_from_their_crs_are_an_error(tmp_path):
    """Web Mercator metres labelled as the Qingdao GK zone: an error that names EPSG:3857, found from the other layers."""
    path = sample_copy(tmp_path, {"trails": lambda g: g.to_crs(3857).set_crs(4549, allow_override=True)})
    err = [p for p in rg.validate_project(path).errors if p.code == "wrong_crs"]
    assert [p.layer for p in err] == ["trails"] and "EPSG:3857" in err[0].fix


def test_gcj02_data_declared_wgs84_is_flagged_and_the_sample_is_not(tmp_path):
    """GCJ-02 data declared as WGS 84 used to give silently wrong results (buildings 459 m off)."""
    shifted = sample_copy(tmp_path, {"buildings": lambda g: rg.crs.wgs84_to_gcj02_gdf(g)})
    w = [p for p in rg.validate_project(shifted).warnings if p.code == "gcj02_suspect"]
    assert [p.layer for p in w] == ["buildings"] and 'coords = "gcj02"' in w[0].fix
    assert [p for p in rg.validate_project(SAMPLE).problems if p.code == "gcj02_suspect"] == []
    toml = (shifted / "project.toml").read_text(encoding="utf-8").replace('[layers.buildings]\n', '[layers.buildings]\ncoords = "gcj02"\n')
    (shifted / "project.toml").write_text(toml, encoding="utf-8")
    fixed = rg.load_project(shifted)
    assert [p for p in fixed.report.problems if p.code == "gcj02_suspect"] == []
    assert fixed["buildings"].geometry.centroid.distance(rg.load_project(SAMPLE)["buildings"].geometry.centroid).max() < 0.5


# ------------------------------------------------------------ names that become file names
@pytest.mark.parametrize("name", ["../../../x", "/tmp/renewgeo-escape/index", "", "..", "CON", "闯创驿·科创园"])
def test_a_project_name_never_writes_outside_the_output_folder(tmp_path, name):
    path = sample_copy(tmp_path)
    toml = (path / "project.toml").read_text(encoding="utf-8").replace('name = "chuangchuangyi"', f"name = {json.dumps(name)}")
    (path / "project.toml").write_text(toml, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([sys.executable, "-m", "renewgeo", "run", str(path), "--quiet"], cwd=work, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    written = [p for p in work.rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(work / "renewgeo-output") for p in written)
    maps = list((work / "renewgeo-output").glob("*/maps/*.html"))
    assert len(maps) == 1 and not maps[0].name.startswith(".") and "/" not in maps[0].stem
    assert not Path("/tmp/renewgeo-escape").exists()
    if name == "闯创驿·科创园":
        assert maps[0].name == "闯创驿_科创园.html"


# ------------------------------------------------------------ paths that reach the network or the disk
def test_network_sources_are_refused_unless_allowed(tmp_path):
    path = sample_copy(tmp_path)
    toml = (path / "project.toml").read_text(encoding="utf-8") + textwrap.dedent("""
        [layers.remote]
        kind = "amenities"
        file = "/vsicurl/https://example.invalid/pois.geojson"
        """)
    (path / "project.toml").write_text(toml, encoding="utf-8")
    report = rg.validate_project(path)
    assert [p.layer for p in report.errors] == ["remote"] and "from the network" in report.errors[0].message
    assert "allow_network = true" in report.errors[0].message


def test_paths_outside_the_project_are_listed_and_vsizip_is_relative(tmp_path, shared_data):
    path = sample_copy(tmp_path)
    shutil.copy(shared_data / "raster" / "srtm3_N42E001_andorra.hgt.zip", path / "dem.zip")
    toml = (path / "project.toml").read_text(encoding="utf-8") + textwrap.dedent(f"""
        [rasters.dem]
        file = "/vsizip/dem.zip/N42E001.hgt"
        [layers.far_trails]
        kind = "trails"
        file = "{(tmp_path / 'elsewhere.gpkg').as_posix()}"
        """)
    (path / "project.toml").write_text(toml, encoding="utf-8")
    rg.load_project(SAMPLE)["trails"].to_file(tmp_path / "elsewhere.gpkg")
    p = rg.load_project(path)
    assert p.rasters["dem"].path == f"/vsizip/{path / 'dem.zip'}/N42E001.hgt"  # from the project folder, not the working one
    outside = [w for w in p.report.warnings if w.code == "outside_project"]
    assert [w.layer for w in outside] == ["far_trails"] and "elsewhere.gpkg" in outside[0].message


# ------------------------------------------------------------ files in odd encodings, errors that snowball
def test_project_toml_with_a_bom_loads_and_gbk_is_named(tmp_path):
    path = sample_copy(tmp_path)
    text = (path / "project.toml").read_text(encoding="utf-8")
    (path / "project.toml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert rg.load_project(path).name == "chuangchuangyi"
    (path / "project.toml").write_bytes(text.encode("gb18030"))
    with pytest.raises(rg.ProjectFileError, match="not UTF-8 text .it reads as GBK/GB18030.*save it as UTF-8"):
        rg.load_project(path)


def test_an_unreadable_layer_gives_one_error_not_one_per_target(tmp_path):
    path = sample_copy(tmp_path)
    toml = (path / "project.toml").read_text(encoding="utf-8").replace('[layers.buildings]\nfile = "chuangchuangyi.gpkg"',
                                                                         '[layers.buildings]\nfile = "missing.gpkg"')
    (path / "project.toml").write_text(toml, encoding="utf-8")
    report = rg.validate_project(path)
    assert [p.code for p in report.errors] == ["unreadable"] and report.errors[0].layer == "buildings"


def _one_layer_project(d: Path, file: str) -> Path:
    (d / "project.toml").write_text(f'[project]\nname = "x"\n[layers.buildings]\nfile = "{file}"\n', encoding="utf-8")
    return d


def test_a_shapefile_without_its_dbf_is_named_not_a_missing_column(tmp_path):
    """It used to say "add a column 'id'"."""
    gpd.read_file(SAMPLE / "chuangchuangyi.gpkg", layer="buildings")[["id", "geometry"]].to_file(tmp_path / "b.shp")
    (tmp_path / "b.dbf").unlink()
    report = rg.validate_project(_one_layer_project(tmp_path, "b.shp"))
    assert [p.code for p in report.errors] == ["unreadable"]
    assert "b.shp: the shapefile has no b.dbf beside it" in report.errors[0].message
    assert "missing_column" not in {p.code for p in report.problems}


def test_a_symlink_loop_is_called_a_loop(tmp_path):
    """It used to say "no such file" while the listing next to it showed the file."""
    (tmp_path / "a.gpkg").symlink_to("b.gpkg")
    (tmp_path / "b.gpkg").symlink_to("a.gpkg")
    (tmp_path / "c.gpkg").symlink_to("gone.gpkg")
    report = rg.validate_project(_one_layer_project(tmp_path, "a.gpkg"))
    assert "a symbolic link that is part of a loop of links" in report.errors[0].message
    report = rg.validate_project(_one_layer_project(tmp_path, "c.gpkg"))
    assert "a symbolic link that points to 'gone.gpkg', which does not exist" in report.errors[0].message


def test_absurd_coordinates_name_the_feature_not_the_crs(tmp_path):
    """1e30 coordinates used to say 'Too few points' in run; the CRS check then blamed the whole layer's CRS."""
    def huge(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        g = g.copy()
        g.loc[g.index[0], "geometry"] = shapely.box(1e30, 1e30, 1e30 + 1e20, 1e30 + 1e20)
        return g
    path = sample_copy(tmp_path, {"buildings": huge})
    report = rg.validate_project(path)
    first = gpd.read_file(SAMPLE / "chuangchuangyi.gpkg", layer="buildings")["id"].iloc[0]
    assert [(p.code, p.rows) for p in report.errors] == [("absurd_coordinates", (first,))]
    r = cli("run", str(path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no CRS can hold" in r.stderr


def test_chinese_status_values_are_read_as_their_codes(tmp_path):
    """在营 was refused without saying it means 'operating'."""
    zh = {"operating": "在营", "idle": "闲置", "renovated": "已改造"}
    path = sample_copy(tmp_path, {"buildings": lambda g: g.assign(status=g["status"].map(lambda v: zh.get(v, v)))})
    orig = gpd.read_file(SAMPLE / "chuangchuangyi.gpkg", layer="buildings")
    p = rg.load_project(path)
    assert list(p["buildings"]["status"]) == list(orig["status"])
    w = [x for x in p.report.warnings if x.code == "value_translated"]
    assert len(w) == 1 and w[0].column == "status" and "'在营' -> 'operating'" in w[0].message
    (tmp_path / "bad").mkdir()
    bad = sample_copy(tmp_path / "bad", {"buildings": lambda g: g.assign(status="营业")})  # not a label: still an error
    assert [x.code for x in rg.validate_project(bad).errors] == ["value_not_allowed"]


# ------------------------------------------------------------ hostile names end to end
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)
_PAYLOADS = st.sampled_from(['</script><script>window.pw=1</script>', '"<img src=x onerror=window.pw=1>', "'; window.pw=1; '",
                             "\\", "\u2028", "${window.pw=1}", "{{7*7}}", "=cmd|' /C calc'!A0"])
_NAME = st.one_of(_PAYLOADS, _TEXT)


def _run_and_open(root: Path, layer: str, column: str, category: str, project: str) -> int:
    """Make a project with these names, run it, open its map; the run's exit code (0 or 2)."""
    from tests.browser import open_page

    s = rg.load_project(SAMPLE)
    b = s["buildings"][["id", "status", "floors", "geometry"]].assign(**{column: "x"}) if column not in ("id", "status", "floors",
                                                                                                       "geometry") else s["buildings"]
    a = s["amenities"][["id", "category", "geometry"]].assign(category=category)
    b.to_file(root / "d.gpkg", layer="b")
    a.to_file(root / "d.gpkg", layer="a")
    s["paths"][["id", "geometry"]].to_file(root / "d.gpkg", layer="p")
    toml = (f"[project]\nname = {json.dumps(project)}\ncrs = \"EPSG:4549\"\n"
            f"[layers.{json.dumps(layer)}]\nkind = \"buildings\"\nfile = \"d.gpkg\"\nlayer = \"b\"\n"
            f"[layers.amenities]\nfile = \"d.gpkg\"\nlayer = \"a\"\n[vocabulary]\namenity_categories = [{json.dumps(category)}]\n"
            f"[layers.paths]\nfile = \"d.gpkg\"\nlayer = \"p\"\n")
    (root / "project.toml").write_text(toml, encoding="utf-8")
    out = root / "out"
    r = cli("run", str(root), "--out", str(out), "--quiet")
    assert r.returncode in (0, 2), r.stderr
    assert "Traceback" not in r.stderr and "bug" not in r.stderr
    if r.returncode == 2:  # refused with a reason (e.g. a layer name that is a result layer's)
        assert not out.exists()
        return 2
    outside = [p for p in root.rglob("*") if p.is_file() and not p.resolve().is_relative_to(out) and p.name not in
               ("d.gpkg", "project.toml", ".out.lock")]
    assert outside == []
    html = next((out / "maps").glob("*.html"))
    with open_page(html, wait_js="() => window.renewgeo && window.renewgeo.ready") as page:
        assert page.errors == [] and page.page.evaluate("() => typeof window.pw") == "undefined"
        counts = page.page.evaluate("() => Object.fromEntries(Object.entries(window.renewgeo.layers).map("
                                    "([k, g]) => [k, g.getLayers().length]))")
        assert len(counts) >= 3 and all(v > 0 for v in counts.values())
    return 0


def test_known_payloads_as_every_name_reach_the_browser(browser_ok, tmp_path):  # noqa: F811
    code = _run_and_open(tmp_path, '</script><script>window.pw=1</script>', '"<img src=x onerror=window.pw=1>',
                         "'; window.pw=1; '\\", '=cmd|\' /C calc\'!A0 <b>${window.pw=1}</b>')
    assert code == 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(layer=_NAME, column=_NAME, category=_NAME, project=_NAME)
def test_random_names_through_run_open_in_the_browser(browser_ok, tmp_path_factory, layer, column, category, project):  # noqa: F811
    """Random Unicode (and known payloads) as layer, column, category and project names: the map opens, no script runs."""
    _run_and_open(tmp_path_factory.mktemp("fuzz"), layer, column, category, project)


# ------------------------------------------------------------ issue 13 audit: GDAL files that reach the network, links that lead out
@pytest.fixture
def listener():
    """A local HTTP server that answers 404 and records every request line (a request is a network fetch)."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    hits: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(3)
            try:
                hits.append(c.recv(300).split(b"\r\n")[0])
                c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1], hits
    srv.close()


def _raster_vrt(source: str) -> str:
    return (f'<VRTDataset rasterXSize="10" rasterYSize="10"><SRS>EPSG:4549</SRS><GeoTransform>518000, 10, 0, 3985000, 0, -10'
            f'</GeoTransform><VRTRasterBand dataType="Float32" band="1"><SimpleSource><SourceFilename relativeToVRT="1">{source}'
            '</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')


def test_a_vrt_that_reaches_the_network_is_refused_before_gdal_opens_it(tmp_path, listener):
    """A dem.vrt whose SourceFilename was /vsicurl/http://... made `renewgeo run` fetch the URL."""
    import zipfile

    port, hits = listener
    path = sample_copy(tmp_path)
    url = f"/vsicurl/http://127.0.0.1:{port}/exfil?who=planner"
    (path / "dem.vrt").write_text(_raster_vrt(url), encoding="utf-8")
    (path / "outer.vrt").write_text(_raster_vrt("dem.vrt"), encoding="utf-8")  # one VRT naming another
    (path / "looks_like.tif").write_text(_raster_vrt(url), encoding="utf-8")  # GDAL knows a VRT by its content, not its name
    (path / "pts.vrt").write_text('<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>PG:host=db.example.com dbname=x'
                                  '</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>', encoding="utf-8")
    (path / "wms.xml").write_text(f"<GDAL_WMS><Service name='WMS'><ServerUrl>http://127.0.0.1:{port}/wms</ServerUrl></Service>"
                                  "</GDAL_WMS>", encoding="utf-8")
    with zipfile.ZipFile(path / "bundle.zip", "w") as zf:
        zf.writestr("inner/dem.vrt", _raster_vrt(url))
    rasters = {"a": "dem.vrt", "b": "outer.vrt", "c": "looks_like.tif", "d": "wms.xml", "e": "/vsizip/bundle.zip/inner/dem.vrt",
               "f": "/vsistdin/"}
    toml = (path / "project.toml").read_text(encoding="utf-8") + "".join(
        f'\n[rasters.r{k}]\nfile = "{v}"\nrole = "other"\n' for k, v in rasters.items())
    toml += '\n[layers.pts]\nkind = "amenities"\nfile = "pts.vrt"\n'
    (path / "project.toml").write_text(toml, encoding="utf-8")
    report = rg.validate_project(path)
    refused = {p.layer: p.message for p in report.errors}
    assert set(refused) == {"ra", "rb", "rc", "rd", "re", "rf", "pts"}, refused
    assert all("allow_network = true" in m for k, m in refused.items() if k != "rf"), refused
    assert "'/vsicurl'" in refused["ra"] and "'PG:'" in refused["pts"] and "web-service" in refused["rd"]
    assert "standard input" in refused["rf"]
    r = cli("run", str(path), "--out", str(tmp_path / "out"), "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert hits == []  # nothing was fetched, by validate or by run
    # a project that allows the network may read them (the check is not run)
    from renewgeo.project import resolve_source

    assert resolve_source("dem.vrt", path, allow_network=True, what="[rasters.a]") == (str(path / "dem.vrt"), False)
    # a VRT of local files is fine
    (path / "ok.vrt").write_text(_raster_vrt("local.tif"), encoding="utf-8")
    assert resolve_source("ok.vrt", path, allow_network=False, what="[rasters.a]") == (str(path / "ok.vrt"), False)


def test_gdal_network_fence_stops_vsicurl_wherever_it_comes_from(listener):
    """The second fence: while a project that does not allow the network runs, GDAL's /vsicurl/ makes no request."""
    import pyogrio

    from renewgeo.project import network_fence

    port, hits = listener
    with network_fence(False), pytest.raises(Exception, match="does not exist|not recognized"):
        pyogrio.read_info(f"/vsicurl/http://127.0.0.1:{port}/a.geojson")
    assert hits == []
    assert "CPL_VSIL_CURL_ALLOWED_EXTENSIONS" not in __import__("os").environ  # restored afterwards


def test_a_link_inside_the_project_that_points_out_is_listed_as_outside(tmp_path):
    """The outside check took the path as written: a symlink in the folder to a file elsewhere passed as inside."""
    path = sample_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(path / "chuangchuangyi.gpkg", elsewhere / "secret.gpkg")
    (path / "linked.gpkg").symlink_to(elsewhere / "secret.gpkg")
    (path / "far.vrt").write_text(_raster_vrt(str(elsewhere / "dem.tif")), encoding="utf-8")
    (elsewhere / "dem.tif").write_bytes(b"II*\x00")
    toml = (path / "project.toml").read_text(encoding="utf-8") + textwrap.dedent("""
        [layers.linked]
        kind = "trails"
        file = "linked.gpkg"
        layer = "trails"
        """)
    (path / "project.toml").write_text(toml, encoding="utf-8")
    p = rg.load_project(path)
    outside = [w for w in p.report.warnings if w.code == "outside_project"]
    assert [w.layer for w in outside] == ["linked"] and str(elsewhere / "secret.gpkg") in outside[0].message
    from renewgeo.project import resolve_source

    assert resolve_source("far.vrt", path, allow_network=False, what="[rasters.x]")[1] is True  # a VRT naming a file elsewhere


# ------------------------------------------------------------ issue 13 audit: names that make the same file, or none
def test_raster_names_that_make_one_file_name_all_get_files(tmp_path):
    """Rasters "a b" and "a_b" both wrote tables/a_b_by_zone.csv (the manifest listed files that did not exist); 100-character
    names lost _by_zone so two tables became one file; a project name of 100 Chinese characters (300 bytes) failed to write."""
    import numpy as np
    import rasterio
    from affine import Affine

    path = sample_copy(tmp_path)
    w, s, e, n = gpd.read_file(path / "chuangchuangyi.gpkg", layer="site").total_bounds
    transform = Affine((e - w + 100) / 20, 0, w - 50, 0, -(n - s + 100) / 20, n + 50)
    with rasterio.open(path / "r.tif", "w", driver="GTiff", width=20, height=20, count=1, dtype="float32", crs="EPSG:4549",
                       transform=transform) as ds:
        ds.write(np.ones((20, 20), "float32"), 1)
    names = ["a b", "a_b", "A_B", "r" * 120, "r" * 119 + "s"]
    toml = (path / "project.toml").read_text(encoding="utf-8").replace('name = "chuangchuangyi"', f'name = "{"中" * 100}"')
    toml += "".join(f'\n[rasters.{json.dumps(nm)}]\nfile = "r.tif"\nrole = "other"\n' for nm in names)
    (path / "project.toml").write_text(toml, encoding="utf-8")
    out = tmp_path / "out"
    r = cli("run", str(path), "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert all((out / f).is_file() for f in manifest["files"])
    assert all(len(Path(f).name.encode()) <= 200 for f in manifest["files"])
    per_raster = [f for f in manifest["files"] if f.startswith("tables/") and f.endswith(".csv") and
                  any(f[len("tables/"):].lower().startswith(x) for x in ("a_b", "rrr"))]
    assert len(per_raster) == 2 * len(names)  # every table its own file, _by_zone / _by_site kept
    assert sum("_by_zone" in f for f in per_raster) == len(names)
    assert len(manifest["renamed_files"]) == 4  # a_b and A_B for zones and sites
    assert "table 'a b_by_zone' and table 'a_b_by_zone' both make the file name tables/a_b_by_zone.csv" in r.stderr
    maps = list((out / "maps").iterdir())
    assert len(maps) == 1 and maps[0].name.startswith("中" * 50) and maps[0].suffix == ".html"


def test_a_raster_named_like_another_analysis_table_is_a_clear_error(tmp_path):
    """[rasters.area] made a table area_by_zone that the area analysis writes too: "unexpected error (TypeError). This is a bug"."""
    path = sample_copy(tmp_path)
    toml = (path / "project.toml").read_text(encoding="utf-8") + '\n[rasters.area]\nfile = "r.tif"\nrole = "other"\n'
    (path / "project.toml").write_text(toml, encoding="utf-8")
    (path / "r.tif").write_bytes(b"")
    report = rg.validate_project(path)
    assert [(p.layer, p.code) for p in report.errors] == [("area", "reserved_name")]
    assert "rename [rasters.area]" in report.errors[0].fix
    r = cli("validate", str(path))
    assert r.returncode == 2 and "This is a bug" not in r.stdout + r.stderr


def test_safe_name_limits_bytes_keeps_the_suffix_and_stays_apart():
    from renewgeo.pipeline import safe_name, unique_file_names

    a, b = safe_name("x" * 300, suffix="_by_zone.csv"), safe_name("x" * 299 + "y", suffix="_by_zone.csv")
    assert a != b and a.endswith("_by_zone.csv") and len(a.encode()) <= 200
    cjk = safe_name("中" * 100, suffix=".html")
    assert len(cjk.encode()) <= 200 and cjk.encode().decode() == cjk and cjk == safe_name("中" * 100, suffix=".html")
    names, notes = unique_file_names({"a b": "a_b.csv", "a_b": "a_b.csv", "A_B": "A_B.csv", "c": "c.csv"})
    assert len({v.casefold() for v in names.values()}) == 4 and names["a b"] == "a_b.csv" and names["c"] == "c.csv"
    assert len(notes) == 2 and "'a b' and 'a_b'" in notes[0]
    assert unique_file_names({"a b": "a_b.csv", "a_b": "a_b.csv"}) == unique_file_names({"a b": "a_b.csv", "a_b": "a_b.csv"})
