"""The results GeoPackage opened in real QGIS (Debian python3-qgis, headless)."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

import renewgeo as rg
from renewgeo import qgis
from renewgeo.pipeline import run_project
from renewgeo.styles import KIND_PRESENTATIONS, STATUS_COLOURS, Presentation, Style, colours, distance_style
from tests.test_webmap import walk_run

CHECK = Path(__file__).with_name("qgis_check.py")
SYSTEM_PY = "/usr/bin/python3"


def has_pyqgis() -> bool:
    if not os.path.exists(SYSTEM_PY):
        return False
    return subprocess.run([SYSTEM_PY, "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def pyqgis():
    if not has_pyqgis():
        from tests.conftest import _missing

        _missing("Debian python3-qgis is not installed (make test installs qgis python3-qgis)")


def open_in_qgis(gpkg: Path, png: Path, points=(), *, order=(), probe: str | None = None) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(png.parent)}
    extra = [f"--order={','.join(order)}"] + ([f"--probe={probe}"] if probe else [])
    r = subprocess.run([SYSTEM_PY, str(CHECK), str(gpkg), str(png), *extra, *[f"{x},{y}" for x, y in points]],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def top_first(presentations) -> list[str]:
    """Layer names as the map stacks them, top first (QGIS's layer order)."""
    return sorted(presentations, key=lambda n: -presentations[n][0][1].order)


def over_white(colour: str, alpha: float) -> tuple[int, ...]:
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(alpha * c + (1 - alpha) * 255) for c in rgb)


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def park(tmp_path_factory, sample_path):
    out = tmp_path_factory.mktemp("park")
    project = rg.load_project(sample_path)
    result = run_project(project, out, progress=False)
    return project, result, result.files["results"]


def test_every_layer_valid_and_styled_in_qgis(pyqgis, park, tmp_path):
    project, result, gpkg = park
    b = project["buildings"]
    # points inside buildings (12 m north of the centre: clear of amenity symbols and labels)
    probes = [(r.geometry.centroid.x, r.geometry.centroid.y + 12) for r in b.itertuples()]

    pres = result.presentations()
    info = open_in_qgis(gpkg, tmp_path / "qgis.png", probes, order=top_first(pres), probe="buildings")
    written = {n: pyogrio.read_info(gpkg, layer=n) for n in pyogrio.list_layers(gpkg)[:, 0] if n != "layer_styles"}
    assert set(info["layers"]) == set(written)
    for name, meta in written.items():
        lyr = info["layers"][name]
        assert lyr["valid"], name
        assert lyr["crs"] == "EPSG:4549", name
        assert lyr["features"] == meta["features"], name
        assert [f for f, _ in lyr["fields"] if f != "fid"] == list(meta["fields"]), name
        assert lyr["style_loaded"], (name, lyr["style_message"])
        assert [s["name"] for s in lyr["styles"]] == [s for s, _ in pres[name]], name
    bl = info["layers"]["buildings"]
    assert bl["renderer"] == "categorizedSymbol" and bl["attr"] == "status" and bl["labels"]
    assert {v: c for v, c, _ in bl["categories"]} == {s: STATUS_COLOURS[s] for s in ("operating", "renovated", "under_renovation")}
    assert [lbl for _, _, lbl in bl["categories"]] == ["在营 operating", "已改造 renovated", "改造中 under renovation"]
    assert info["layers"]["pedestrian_axis"]["colour"] == "#d7301f"
    assert info["layers"]["landscape_corridor"]["colour"] == "#1a9850"
    assert info["layers"]["landscape_corridor"]["symbol"]["use_custom_dash"] == "1"
    assert info["layers"]["zones"]["symbol"]["style"] == "no" and info["layers"]["zones"]["labels"]  # outlines, labelled
    amen = info["layers"]["amenities"]
    assert amen["renderer"] == "categorizedSymbol" and len(amen["categories"]) == project["amenities"]["category"].nunique()
    # QGIS's own renderer paints each building in its status colour (at the presentation's fill opacity, on white)
    alpha = KIND_PRESENTATIONS["buildings"].style.fill_opacity
    expected = [over_white(STATUS_COLOURS[s], alpha) for s in b["status"]]
    assert all(max(abs(a - e) for a, e in zip(rgb(px), want, strict=True)) <= 2
               for px, want in zip(info["pixels"], expected, strict=True)), (info["pixels"], expected)
    assert (tmp_path / "qgis.png").stat().st_size > 20_000


def test_qgis_still_draws_every_building_after_area_follows_run(pyqgis, sample_path, tmp_path):
    """`renewgeo area` after `renewgeo run` used to leave a style on a field it had dropped: QGIS drew no building."""
    from tests.test_cli import run as cli

    out = tmp_path / "out"
    for command in ("run", "area"):
        r = cli(command, str(sample_path), "--out", str(out), "--quiet")
        assert r.returncode == 0, r.stderr
    gpkg = out / "results.gpkg"
    project = rg.load_project(sample_path)
    b = project["buildings"]
    probes = [(g.centroid.x, g.centroid.y + 12) for g in b.geometry]
    run = rg.run_analyses(project, progress=False)
    info = open_in_qgis(gpkg, tmp_path / "after_area.png", probes, order=top_first(run.presentations()), probe="buildings")
    bl = info["layers"]["buildings"]
    assert bl["valid"] and bl["style_loaded"] and bl["features"] == 26
    assert [s["name"] for s in bl["styles"]] == ["buildings", "walk_distance"]
    assert "daily_dist_m" in {f for f, _ in bl["fields"]}
    alpha = KIND_PRESENTATIONS["buildings"].style.fill_opacity
    expected = [over_white(STATUS_COLOURS[s], alpha) for s in b["status"]]
    assert all(max(abs(a - e) for a, e in zip(rgb(px), want, strict=True)) <= 2
               for px, want in zip(info["pixels"], expected, strict=True)), (info["pixels"], expected)


def test_release_layers_styled_in_qgis(pyqgis, tmp_path):
    p = rg.load_project(rg.datasets.get_path("shibei_relocation"))
    result = run_project(p, tmp_path / "out", progress=False)
    info = open_in_qgis(result.files["results"], tmp_path / "shibei.png", order=top_first(result.presentations()))
    net = info["layers"]["net_release"]
    assert net["valid"] and net["style_loaded"] and net["renderer"] == "categorizedSymbol"
    assert [c[0] for c in net["categories"]] == ["2024", "2025", "2026"]
    applied = info["layers"]["constraints_applied"]
    assert applied["renderer"] == "categorizedSymbol" and applied["attr"] == "constraint_type"
    assert {c[0]: c[2] for c in applied["categories"]}["road"] == "道路红线 road red lines"
    # land release draws the parcels as outlines under the releasable land: in QGIS too
    parcels = info["layers"]["parcels"]
    assert parcels["renderer"] == "singleSymbol" and parcels["symbol"]["style"] == "no" and parcels["colour"] == "#252525"


def test_walking_layers_and_alternative_styles_in_qgis(pyqgis, sample, tmp_path):
    with walk_run(sample) as run:
        path = qgis.write_gpkg(run.output_layers(), tmp_path / "walk.gpkg", kinds=run.kinds(), presentations=run.presentations())
        order = top_first(run.presentations())
    info = open_in_qgis(path, tmp_path / "walk.png", order=order)
    nodes = info["layers"]["network_nodes"]
    assert nodes["renderer"] == "graduatedSymbol" and nodes["attr"] == 'coalesce("daily_dist_m", -1000000000)'
    assert [r[:2] for r in nodes["ranges"]][:2] == [[0.0, 300.0], [300.0, 500.0]]
    assert nodes["ranges"][-2][1] >= 1e9 and [r[2] for r in nodes["ranges"]] == [
        "#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027", "#bdbdbd"]
    assert nodes["ranges"][-1] == [qgis.NO_VALUE, qgis.NO_VALUE, "#bdbdbd", "无数据 no value"]  # features without a value: grey
    iso = info["layers"]["isochrones"]
    assert iso["renderer"] == "categorizedSymbol" and [c[:2] for c in iso["categories"]] == [
        ["5", "#54278f"], ["10", "#807dba"], ["15", "#bcbddc"]]
    assert [c[2] for c in iso["categories"]] == ["5 min", "10 min", "15 min"]
    gaps = info["layers"]["axis_gaps"]
    assert gaps["colour"] == "#e31a1c" and gaps["symbol"]["use_custom_dash"] == "1"
    assert info["layers"]["network_edges"]["colour"] == "#9e9e9e"
    # the buildings: status by default, and the walking distance as an alternative style QGIS offers by name
    bl = info["layers"]["buildings"]
    assert bl["renderer"] == "categorizedSymbol" and bl["attr"] == "status"
    styles = {s["name"]: s for s in bl["styles"]}
    assert list(styles) == ["buildings", "walk_distance"] and all(s["loaded"] for s in styles.values())
    walk = styles["walk_distance"]
    assert walk["renderer"] == "graduatedSymbol" and '"daily_dist_m"' in walk["attr"] and walk["description"].endswith("Walk to daily services")
    assert "walk_distance" in bl["style_manager"]
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT styleName, useAsDefault FROM layer_styles WHERE f_table_name = 'buildings' ORDER BY id").fetchall()
    finally:
        con.close()
    assert rows == [("buildings", 1), ("walk_distance", 0)]


def test_gpkg_is_1_3_with_styles_table(park):
    _, _, gpkg = park
    con = sqlite3.connect(gpkg)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault FROM layer_styles").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_geometry_columns")}
        geom = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
    finally:
        con.close()
    assert rows and all(t in tables and g == geom[t] for t, g, _ in rows)
    defaults = pd.Series([t for t, _, d in rows if d == 1])
    assert set(defaults) == tables and defaults.is_unique  # one default style per layer


def test_style_qml_from_a_style():
    g = gpd.GeoDataFrame({"kind": ["a", None], "who": ["x", "y"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4549)
    cat = qgis.style_qml(Style("polygon", column="kind", categories={"a": "#ff0000"}, fill_opacity=0.5, label_column="who"), g)
    assert 'attr="kind"' in cat and 'value="a"' in cat and 'value=""' in cat and 'label="未知 unknown"' in cat
    assert 'value="255,0,0,128"' in cat and 'fieldName="who"' in cat and 'labelsEnabled="1"' in cat
    # a column the layer lacks: one colour; fill opacity 0: an outline only
    single = qgis.style_qml(Style("polygon", colour="#00ff00", column="nope", fill_opacity=0, dash="6 4"), g)
    assert 'type="singleSymbol"' in single and 'name="style" value="no"' in single and 'value="dash"' in single
    # names from the data are XML-escaped
    odd = g.rename(columns={"kind": 'k"<&'})
    assert 'attr="k&quot;&lt;&amp;"' in qgis.style_qml(Style("polygon", column='k"<&'), odd)


def _renames_logged(caplog, call):
    """The rename messages ``call()`` logs; it must warn in no other way (one message, no source line, in the CLI)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING, logger="renewgeo.qgis"):
            out = call()
    return out, [r.getMessage() for r in caplog.records if r.name == "renewgeo.qgis"]


def test_names_qgis_cannot_store_are_renamed_with_a_warning(tmp_path, caplog):
    g = gpd.GeoDataFrame({"fid": ["a"], "Name": ["x"], "name": ["y"], "when": pd.to_datetime(["2024-05-01 08:00"])},
                         geometry=[shapely.Point(500000, 4000000)], crs=32651)
    pres = {"my layer": [("plain", Presentation(("点", "points"), Style("point", colour="#123456")))]}
    path, logged = _renames_logged(caplog, lambda: qgis.write_gpkg({"my layer": g, "My_Layer": g}, tmp_path / "r.gpkg",
                                                                    presentations=pres))
    assert len(logged) == 1
    assert re.search(r"renamed for QGIS: layer 'my layer' -> 'my_layer'.*'fid' -> 'fid_value'.*'name' -> 'name_2'", logged[0])
    names = list(pyogrio.list_layers(path)[:, 0])
    assert "my_layer" in names and "My_Layer_2" in names
    back = gpd.read_file(path, layer="my_layer")
    assert {"fid_value", "Name", "name_2"} <= set(back.columns)
    assert str(back["when"].dt.tz) == "UTC"
    con = sqlite3.connect(path)
    try:
        styles = dict(con.execute("SELECT f_table_name, styleName FROM layer_styles").fetchall())
    finally:
        con.close()
    assert styles == {"my_layer": "plain", "My_Layer_2": "My_Layer"}  # a layer no one presents: a plain style of its own


def test_chinese_layer_names_kept_and_styled_in_qgis(pyqgis, tmp_path, caplog):
    """用地 used to become 'layer' (only ASCII was kept): QGIS users saw no name of theirs."""
    use = gpd.GeoDataFrame({"fid": [7, 8], "用途": ["居住", "商业"]},
                           geometry=[shapely.box(500000, 4000000, 500100, 4000100), shapely.box(500100, 4000000, 500200, 4000100)],
                           crs=4549)
    zone = gpd.GeoDataFrame({"名称": ["北区"]}, geometry=[shapely.box(499900, 3999900, 500300, 4000200)], crs=4549)
    pts = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(500050, 4000050)], crs=4549)
    colours = {"居住": "#ffd92f", "商业": "#e7298a"}
    pres = {"用地": [("用途", Presentation(("用地", "Land use"), Style("polygon", column="用途", categories=colours)))]}
    path, logged = _renames_logged(caplog, lambda: qgis.write_gpkg({"用地": use, "分区 A": zone, "a.b": pts}, tmp_path / "中文.gpkg",
                                                                    presentations=pres))
    assert list(pyogrio.list_layers(path)[:, 0]) == ["用地", "分区_A", "a_b", "layer_styles"]
    assert len(logged) == 1 and "'分区 A' -> '分区_A'" in logged[0] and "'a.b' -> 'a_b'" in logged[0]
    assert "用地.'fid' -> 'fid_value'" in logged[0] and "'用地' ->" not in logged[0]
    # QGIS opens the Chinese-named layer with its Chinese-named field and applies its default style from layer_styles
    probes = [(500050, 4000080), (500150, 4000080)]
    info = open_in_qgis(path, tmp_path / "zh.png", probes, order=["a_b", "用地", "分区_A"], probe="用地")
    assert set(info["layers"]) == {"用地", "分区_A", "a_b"}
    lyr = info["layers"]["用地"]
    assert lyr["valid"] and lyr["crs"] == "EPSG:4549" and lyr["features"] == 2
    assert {"fid_value", "用途"} <= {f for f, _ in lyr["fields"]}
    assert lyr["style_loaded"], lyr["style_message"]
    assert lyr["renderer"] == "categorizedSymbol" and lyr["attr"] == "用途"
    assert {v: c for v, c, _ in lyr["categories"]} == colours
    assert [s["name"] for s in lyr["styles"]] == ["用途"] and lyr["styles"][0]["loaded"]
    alpha = Style("polygon").fill_opacity
    expected = [over_white(colours[v], alpha) for v in ("居住", "商业")]  # QGIS paints each parcel in its category's colour
    assert all(max(abs(a - e) for a, e in zip(rgb(px), want, strict=True)) <= 2
               for px, want in zip(info["pixels"], expected, strict=True)), (info["pixels"], expected)
    for name in ("分区_A", "a_b"):
        assert info["layers"][name]["valid"] and info["layers"][name]["style_loaded"], name


def test_names_the_geopackage_keeps_for_itself_are_renamed(tmp_path, caplog):
    """A layer called layer_styles, gpkg_... or sqlite_..., or a field called geom, failed the whole write."""
    g = gpd.GeoDataFrame({"geom": [1], "GEOM_value": [2]}, geometry=[shapely.Point(500000, 4000000)], crs=32651)
    path, logged = _renames_logged(caplog, lambda: qgis.write_gpkg({"layer_styles": g, "gpkg_x": g, "SQLite x": g},
                                                                    tmp_path / "r.gpkg"))
    assert list(pyogrio.list_layers(path)[:, 0]) == ["layer_styles_2", "layer_gpkg_x", "layer_SQLite_x", "layer_styles"]
    back = gpd.read_file(path, layer="layer_styles_2")
    assert back[["geom_value", "GEOM_value_2"]].values.tolist() == [[1, 2]]
    assert len(logged) == 1 and "'layer_styles' -> 'layer_styles_2'" in logged[0]
    con = sqlite3.connect(path)
    try:
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles")}
    finally:
        con.close()
    assert styled == {"layer_styles_2", "layer_gpkg_x", "layer_SQLite_x"}


def test_failed_write_leaves_old_file(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(500000, 4000000)], crs=32651)
    path = qgis.write_gpkg({"a": g}, tmp_path / "r.gpkg")
    before = path.read_bytes()
    bad = g.assign(z=[1j])
    with pytest.raises(rg.WriteError, match="intact"):
        qgis.write_gpkg({"a": g, "b": bad}, path)
    assert path.read_bytes() == before


def test_every_style_is_well_formed_xml_whatever_the_category(tmp_path, sample):
    """A category "ctl\\x01\\x0b\\x1f\\ufffe end" made an amenities style that no XML parser (so no QGIS) reads."""
    import xml.etree.ElementTree as ET

    cat = "ctl\x01\x0b\x1f\ufffe\uffff end\ttab"
    amen = sample["amenities"].copy()
    amen.loc[amen.index[:2], "category"] = cat
    b = sample["buildings"].copy()
    b["name"] = "n\x02\x08m"
    path = qgis.write_gpkg({"amenities": amen, "buildings": b}, tmp_path / "ctl.gpkg", kinds={"amenities": "amenities",
                                                                                            "buildings": "buildings"})
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT f_table_name, styleName, styleQML FROM layer_styles").fetchall()
    finally:
        con.close()
    assert {r[0] for r in rows} == {"amenities", "buildings"}
    for _, _, qml in rows:
        ET.fromstring(qml)  # raises on a character XML 1.0 cannot hold
    amen_qml = "".join(q for t, _, q in rows if t == "amenities")
    assert "ctl\ufffd\ufffd\ufffd\ufffd\ufffd end&#9;tab" in amen_qml  # shown as U+FFFD, the tab kept as a reference
    # a lone surrogate (a Python string can hold one; no file can) goes the same way, in the one helper every value passes
    odd = qgis._x("a\ud800b<")
    assert ET.fromstring(f'<c value="{odd}"/>'.encode()).get("value") == "a\ufffdb<"


# ------------------------------------------------------------ every layer drawn, in QGIS's own renderer
RENDER = Path(__file__).with_name("qgis_render.py")


def render_in_qgis(gpkg: Path, png: Path | None = None, *, order=(), scale: float = 0) -> dict:
    """Every layer of ``gpkg`` drawn by QGIS with its default style (tests/qgis_render.py); the PNG at 1:``scale`` if given."""
    runtime = gpkg.parent / "xdg"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    extra = [f"--png={png}", f"--order={','.join(order)}", f"--scale={scale}"] if png else []
    r = subprocess.run([SYSTEM_PY, str(RENDER), str(gpkg), *extra], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def expected_colours(g: gpd.GeoDataFrame, style: Style) -> list[str]:
    """The colour renewgeo (and the meeting map) gives each feature of a layer, in row order (the fid order of the file)."""
    values = g[style.column] if style.column is not None and style.column in g.columns else None
    return [c.lower() for c in colours(style, values, len(g))]


def assert_every_feature_drawn(layers, drawn: dict, ways: dict[str, Style]) -> None:
    """Each non-empty layer paints pixels; QGIS gives every feature a symbol of the colour renewgeo gives it."""
    assert set(drawn) - {"_png"} == set(ways)
    for name, lyr in drawn.items():
        if name == "_png":
            continue
        assert lyr["valid"] and lyr["style_loaded"], (name, lyr.get("style_message"))
        if lyr["with_geometry"]:
            assert lyr["painted_px"] > 0, f"QGIS draws no feature of {name}"
        got = [lyr["symbols"][str(fid)] for fid in sorted(map(int, lyr["symbols"]))]
        assert got == expected_colours(layers[name], ways[name]), name


def default_styles(run, layers) -> dict[str, Style]:
    return {n: qgis._ways(n, g, run.kinds().get(n, n), run.presentations())[0][1].style for n, g in layers.items()}


@pytest.mark.parametrize("sample_name", ["chuangchuangyi", "shibei_relocation"])
def test_every_layer_of_a_run_draws_every_feature_in_qgis(pyqgis, tmp_path, sample_name):
    """Issue 17: the isochrones' style drew 0 of 3 features and no test looked. Now every layer of both samples is drawn."""
    project = rg.load_project(rg.datasets.get_path(sample_name))
    result = run_project(project, tmp_path / "out", progress=False)
    gpkg = result.files["results"]
    png = tmp_path / f"{sample_name}.png"
    drawn = render_in_qgis(gpkg, png, order=top_first(result.presentations()))
    layers = result.output_layers()
    assert_every_feature_drawn(layers, drawn, default_styles(result, layers))
    assert drawn["_png"]["width"] == 1280 and drawn["_png"]["height"] == 720 and drawn["_png"]["painted_px"] > 20_000
    if sample_name == "chuangchuangyi":
        assert drawn["isochrones"]["painted_px"] > 0 and drawn["isochrones"]["features"] == 3


def test_categories_match_every_value_as_qgis_reads_it(pyqgis, tmp_path):
    """Categories were compared as renewgeo writes a value ('1000000', 'True'); QGIS compares '1e+06', 'true': nothing drawn."""
    boxes = [shapely.box(500000 + 20 * i, 4000000, 500010 + 20 * i, 4000010) for i in range(6)]
    cols = {
        "real": [5.0, 10.0, 7.5, 1e6, 0.1 + 0.2, 2.5e-7],
        "flag": [True, False, True, True, False, False],
        "mixed": pd.Series([5.0, "5", 5, "a", 1e6, 5.0], dtype=object),  # text in the file: "5.0", "5", "5", "a", "1000000.0"
        "year": [2024, 2025, 2024, 2026, 2025, 2024],
        "real32": pd.Series([0.1, 1e6, 0.1, 2.5, 3.0, 0.1], dtype="float32"),
    }
    layers = {c: gpd.GeoDataFrame({c: v}, geometry=boxes, crs=4549) for c, v in cols.items()}
    pal = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")
    ways = {c: Style("polygon", column=c, categories={"5": "#000000"}, palette=pal, fill_opacity=1.0) for c in cols}
    pres = {c: [(c, Presentation((c, c), st))] for c, st in ways.items()}
    path = qgis.write_gpkg(layers, tmp_path / "types.gpkg", presentations=pres)
    drawn = render_in_qgis(path)
    assert_every_feature_drawn(layers, drawn, ways)
    assert all(c is not None for lyr in drawn.values() for c in lyr["symbols"].values())


def test_qgis_number_is_what_qgis_writes():
    assert [qgis.qgis_number(v) for v in (5.0, 1e15, 99999999999999.9, 123456789.0, 1e-5, -2.5e-7, 1e300)] == [
        "5", "1e+15", "99999999999999.9", "123456789", "1e-05", "-2.5e-07", "1e+300"]


ZONES = gpd.GeoDataFrame({"name": ["North", None, "South", "Same"], "name_zh": ["北区", "中区", None, "Same"]},
                         geometry=[shapely.box(500000, 4000000 + 200 * i, 500150, 4000150 + 200 * i) for i in range(4)], crs=4549)


@pytest.mark.parametrize(("lang", "want"), [
    ("zh", ["北区", "中区", "South", "Same"]),
    ("en", ["North", "中区", "South", "Same"]),
    ("zh+en", ["北区\nNorth", "中区", "South", "Same"]),
])
def test_zone_labels_follow_the_language_in_qgis(pyqgis, tmp_path, lang, want):
    """Issue 17: zones were labelled in English although name_zh exists; each name now stands in for the other when missing."""
    path = qgis.write_gpkg({"zones": ZONES}, tmp_path / "zones.gpkg", kinds={"zones": "zones"}, lang=lang)
    lyr = render_in_qgis(path)["zones"]
    assert [lyr["labels"][str(fid)] for fid in sorted(map(int, lyr["labels"]))] == want


def test_labels_and_class_names_in_the_chosen_language():
    b = gpd.GeoDataFrame({"status": ["idle"], "name": ["B1"], "name_zh": ["一号楼"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4549)
    zh = qgis.style_qml(KIND_PRESENTATIONS["buildings"].style, b, lang="zh")
    assert 'label="闲置"' in zh and "isExpression=\"1\"" in zh and zh.index("name_zh") < zh.index("&quot;name&quot;")
    en = qgis.style_qml(KIND_PRESENTATIONS["buildings"].style, b, lang="en")
    assert 'label="idle"' in en and en.index("&quot;name&quot;") < en.index("name_zh")
    with pytest.raises(rg.RenewgeoError, match="lang"):
        qgis.write_gpkg({"b": b}, Path("/nonexistent/x.gpkg"), lang="fr")


def test_a_run_labels_zones_in_its_map_language(pyqgis, sample_path, tmp_path):
    """`[map] lang = "zh"` reaches results.gpkg: the zones read their Chinese names in QGIS."""
    project = rg.load_project(sample_path, overrides={"map.lang": "zh"})
    result = run_project(project, tmp_path / "out", analyses=["area"], progress=False)
    lyr = render_in_qgis(result.files["results"])["zones"]
    assert [lyr["labels"][str(f)] for f in sorted(map(int, lyr["labels"]))] == list(project["zones"]["name_zh"])


def test_graduated_styles_draw_features_without_a_value(pyqgis, tmp_path):
    """Issue 17: a graduated style had no class for NULL, so QGIS drew no building that no walk reaches. Now they are grey,
    as on the map; values above a last bound that is not open go grey too (as renewgeo classes them)."""
    boxes = [shapely.box(500000 + 20 * i, 4000000, 500010 + 20 * i, 4000010) for i in range(6)]
    layers = {
        "dist": gpd.GeoDataFrame({"daily_dist_m": [100.0, 400.0, None, 900.0, None, 2000.0]}, geometry=boxes, crs=4549),
        "none_at_all": gpd.GeoDataFrame({"daily_dist_m": pd.Series([None] * 3, dtype="float64")}, geometry=boxes[:3], crs=4549),
        "closed": gpd.GeoDataFrame({"d": [50.0, 150.0, None, 250.0]}, geometry=boxes[:4], crs=4549),
    }
    ways = {"dist": distance_style("polygon", "daily_dist_m", fill_opacity=1.0),
            "none_at_all": distance_style("polygon", "daily_dist_m", fill_opacity=1.0),
            "closed": Style("polygon", column="d", breaks=((100.0, "#1a9850"), (200.0, "#d73027")), fill_opacity=1.0)}
    pres = {n: [(n, Presentation((n, n), st))] for n, st in ways.items()}
    path = qgis.write_gpkg(layers, tmp_path / "nulls.gpkg", presentations=pres)
    drawn = render_in_qgis(path, tmp_path / "nulls.png")
    assert_every_feature_drawn(layers, drawn, ways)  # NULL features: the grey of the "no value" class, as renewgeo colours them
    assert [drawn["dist"]["symbols"][str(f)] for f in (3, 5)] == ["#bdbdbd", "#bdbdbd"]
    assert drawn["none_at_all"]["painted_px"] > 0 and set(drawn["none_at_all"]["symbols"].values()) == {"#bdbdbd"}
    assert [drawn["closed"]["symbols"][str(f)] for f in (1, 2, 3, 4)] == ["#1a9850", "#d73027", "#bdbdbd", "#bdbdbd"]


def test_building_labels_only_when_zoomed_in_in_qgis(pyqgis, park, tmp_path):
    """Issue 17: building names buried the map at full extent. QGIS labels them from 1:2,500 in; zones at every scale."""
    _, result, gpkg = park
    order = top_first(result.presentations())
    far = render_in_qgis(gpkg, tmp_path / "far.png", order=order, scale=10_000)["_png"]
    near = render_in_qgis(gpkg, tmp_path / "near.png", order=order, scale=1_000)["_png"]
    assert round(far["scale"]) == 10_000 and round(near["scale"]) == 1_000
    assert far["labels"].get("buildings", 0) == 0 and far["labels"].get("zones", 0) > 0
    assert near["labels"].get("buildings", 0) > 0
    con = sqlite3.connect(gpkg)
    try:
        qml = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'buildings' AND useAsDefault = 1").fetchone()[0]
    finally:
        con.close()
    assert 'scaleVisibility="1" scaleMin="0" scaleMax="2500"' in qml
