"""Meeting maps, opened in Debian's headless Chromium with the network cut off."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

import renewgeo as rg
from renewgeo import crs as rcrs
from renewgeo import styles, webmap
from renewgeo.analysis import REGISTRY, Analysis, Result, RunResult
from renewgeo.pipeline import run_analyses, run_project
from renewgeo.styles import Presentation, Style, View, distance_style
from tests.browser import chromium_path, open_page, wait_for

READY = "window.renewgeo && window.renewgeo.ready"
COUNT_JS = """() => Object.fromEntries(Object.entries(window.renewgeo.layers).map(([k, fg]) => {
  let n = 0; fg.eachLayer(g => { n += g.getLayers ? g.getLayers().length : 1; }); return [k, n]; }))"""
SHOWN_JS = """() => Object.fromEntries(Object.entries(window.renewgeo.layers).map(([k, fg]) => [k, window.renewgeo.map.hasLayer(fg)]))"""
FILL_JS = """(key) => { const out = []; window.renewgeo.layers[key].eachLayer(g => g.eachLayer(f => out.push(
  [window.renewgeo.properties(key, f).id, f.options.fillColor]))); return out; }"""
SCREENSHOTS = Path(__file__).resolve().parents[1] / "maps"
SCREEN = (1280, 720)

# the walking distance classes, by hand: (upper bound, colour) of styles.DISTANCE_BREAKS
DIST_COLOUR = {100.0: "#1a9850", 400.0: "#91cf60", 600.0: "#fee08b", 900.0: "#fc8d59", 1500.0: "#d73027"}
MISSING = "#bdbdbd"


@pytest.fixture(scope="module")
def browser_ok():
    pytest.importorskip("playwright")
    if chromium_path() is None:
        from tests.conftest import _missing

        _missing("Debian chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, sample_path):
    out = tmp_path_factory.mktemp("run")
    project = rg.load_project(sample_path)
    result = run_project(project, out, progress=False)
    return project, result, result.files["map"]


def _sources(page_html: str) -> dict[str, dict]:
    """The geometry and tooltip texts written into a page, by source id (``renewgeoSource(id, JSON.parse("..."))``)."""
    found = re.findall(r'renewgeoSource\("(\w+)", JSON\.parse\(("(?:[^"\\]|\\.)*")\)\);$', page_html, flags=re.M)
    return {sid: json.loads(json.loads(text)) for sid, text in found}


def _decode(src: dict) -> list[shapely.Geometry]:
    """A source's features as shapely geometries, decoded here as the format is documented (webmap._encode), not with its code."""
    k, (ox, oy) = src["k"], src["o"]

    def run(a):
        xy = np.cumsum(np.array(a, dtype=np.int64).reshape(-1, 2), axis=0) + np.array([ox, oy])
        return xy / k

    out = []
    for i, g in enumerate(src["g"]):
        kind = src["f"] if isinstance(src["f"], int) else src["f"][i]
        if kind == 0:
            pts = run(g)
            out.append(shapely.Point(pts[0]) if len(pts) == 1 else shapely.MultiPoint(pts))
        elif kind == 1:
            lines = [shapely.LineString(run(p)) for p in g]
            out.append(lines[0] if len(lines) == 1 else shapely.MultiLineString(lines))
        else:
            polys = [shapely.Polygon(run(p[0]), [run(h) for h in p[1:]]) for p in g]
            out.append(polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys))
    return out


def _blocks(page_html: str) -> list[dict]:
    """Every layer drawn on a page: its spec, its source and the source's geometries decoded."""
    sources = _sources(page_html)
    specs = re.findall(r"renewgeoLayer\(feature_group_[0-9a-f]+, (\{.*?\}), \w+\);$", page_html, flags=re.M)
    out = []
    for text in specs:
        spec = json.loads(text)
        src = sources[spec["src"]]
        out.append({"spec": spec, "source": src, "geoms": _decode(src)})
    return out


# ------------------------------------------------------------------ a hand-made walking run
# A walking result made by hand stands in for the real one: cases the sample lacks (2,000
# nodes, a gap in the axis, no isochrones), declared here the way the walk analysis declares
# its layers, so that the map and QGIS are also tested on presentations they have never seen.
WALK = Analysis(
    name="walk_fixture", help="walking layers made by hand for the map tests", compute=lambda ctx: Result(),
    layers={
        "network_nodes": Presentation(("步行网络节点", "Network nodes"), distance_style("point", "daily_dist_m", size=2.0, width=0.5),
                                      tooltip=(), show=False, order=44),
        "network_edges": Presentation(("步行网络", "Walking network"), Style("line", colour="#9e9e9e", width=1.0), tooltip=(),
                                      show=False, order=39),
        "isochrones": Presentation(("步行等时圈", "Walking isochrones"),
                                   Style("polygon", column="minutes", categories={"5": "#54278f", "10": "#807dba", "15": "#bcbddc"},
                                         outline=None, width=2.0, fill_opacity=0.12, unit="min"),
                                   tooltip=("minutes", "area_ha"), show=False, order=20),
        "axis_gaps": Presentation(("步行轴断点", "Gaps in the axis"), Style("line", colour="#e31a1c", width=5.0, dash="4 6"),
                                  tooltip=("gap_m",), order=45),
    },
    views={"walk_distance": View("buildings", Presentation(
        ("到日常服务的步行距离", "Walk to daily services"),
        distance_style("polygon", "daily_dist_m", width=0.6, fill_opacity=0.9),
        tooltip=("id", "name", "daily_dist_m"), order=61))},
)


def walk_result(project: rg.Project, *, empty_isochrones: bool = False) -> Result:
    """Nodes on a 2,000-point grid over the buildings, edges along its rows, three isochrones, one gap, distances."""
    b = project.layer("buildings")
    x0, y0, x1, y1 = b.total_bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, 50), np.linspace(y0, y1, 40))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nodes = gpd.GeoDataFrame({"node_id": np.arange(xs.size), "daily_dist_m": np.hypot(xs - cx, ys - cy).ravel() * 3},
                             geometry=shapely.points(xs.ravel(), ys.ravel()), crs=project.crs)
    edges = gpd.GeoDataFrame({"length_m": np.full(40, x1 - x0)},
                             geometry=[shapely.LineString([(x0, y), (x1, y)]) for y in ys[:, 0]], crs=project.crs)
    minutes = [] if empty_isochrones else [5.0, 10.0, 15.0]
    iso = gpd.GeoDataFrame({"minutes": minutes, "area_ha": [math.pi * (m * 60) ** 2 / 1e4 for m in minutes]},
                           geometry=[shapely.Point(cx, cy).buffer(m * 60) for m in minutes], crs=project.crs)
    gaps = gpd.GeoDataFrame({"gap_m": [12.0]}, geometry=[shapely.LineString([(cx, cy), (cx, cy + 12)])], crs=project.crs)
    dist = [list(DIST_COLOUR)[i % 5] if i % 7 != 6 else np.nan for i in range(len(b))]
    return Result(layers={"network_nodes": nodes, "network_edges": edges, "isochrones": iso, "axis_gaps": gaps},
                  columns={"buildings": pd.DataFrame({"daily_dist_m": dist}, index=b.index)})


@contextmanager
def walk_run(project: rg.Project, *, empty_isochrones: bool = False) -> Iterator[RunResult]:
    """A run of the registered analyses plus the hand-made walking result, its analysis registered meanwhile."""
    run = run_analyses(project, progress=False)
    run.results.pop("walk", None)  # the stand-in replaces the real walking result
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REGISTRY, WALK.name, WALK)
        run.results[WALK.name] = walk_result(project, empty_isochrones=empty_isochrones)
        yield run


# ------------------------------------------------------------------ the sample projects
def test_offline_map_in_chromium(browser_ok, demo_run):
    project, _result, path = demo_run
    html = path.read_text(encoding="utf-8")
    assert webmap._remote_assets(html) == []
    assert "<meta http-equiv=\"Content-Security-Policy\"" in html and "img-src data:;" in html.replace("&#x27;", "'")
    with open_page(path, viewport=SCREEN, wait_js=READY) as run:
        assert run.errors == [] and run.console_errors == []  # a Content-Security-Policy violation would be a console error
        assert run.blocked == []  # nothing requested from the web
        counts = run.page.evaluate(COUNT_JS)
        for name, gdf in project.layers.items():
            assert counts[name] == len(gdf), name
        assert run.page.locator(".leaflet-control-layers").count() == 1
        assert run.page.locator("#renewgeo-legend").count() == 1
        assert "180,000 / 180,000 m² (100%)" in run.page.locator("#renewgeo-title").inner_text()
        # hover a building: its tooltip shows name and floor area
        b = project.to_web("buildings").set_index("id").loc["B05"].geometry.centroid
        x, y = run.page.evaluate(f"() => {{ const p = window.renewgeo.map.latLngToContainerPoint([{b.y}, {b.x}]); return [p.x, p.y]; }}")
        run.page.mouse.move(x, y)
        tip = run.page.locator(".leaflet-tooltip")
        tip.wait_for(timeout=5000)
        text = tip.inner_text()
        assert "Chuang 05" in text and "4,000" in text and "GFA" in text
        run.page.mouse.move(5, SCREEN[1] - 5)
        SCREENSHOTS.mkdir(exist_ok=True)
        run.page.screenshot(path=str(SCREENSHOTS / "chuangchuangyi.png"))
    assert (SCREENSHOTS / "chuangchuangyi.png").stat().st_size > 50_000


PANELS_JS = """() => {
  const sel = ['#renewgeo-title', '#renewgeo-legend', '.leaflet-control-layers', '.leaflet-control-zoom',
               '.leaflet-control-scale', '.renewgeo-btn', '.leaflet-control-attribution'];
  const out = [];
  for (const s of sel) { document.querySelectorAll(s).forEach((el, i) => {
    const r = el.getBoundingClientRect(); out.push([s + '#' + i, r.left, r.top, r.right, r.bottom]); }); }
  return out;
}"""


def assert_panels_apart(page, screen: tuple[int, int]) -> None:
    """The title, legend, layer list and controls each keep their own place on the screen, and leave most of the map free."""
    boxes = page.evaluate(PANELS_JS)
    assert {b[0].rsplit("#", 1)[0] for b in boxes} >= {"#renewgeo-title", "#renewgeo-legend", ".leaflet-control-layers",
                                                     ".leaflet-control-scale"}
    for name, x0, y0, x1, y1 in boxes:
        assert x1 > x0 and y1 > y0, name
        assert x0 >= 0 and y0 >= 0 and x1 <= screen[0] and y1 <= screen[1], (name, x0, y0, x1, y1)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = min(a[3], b[3]) - max(a[1], b[1]) > 0.5 and min(a[4], b[4]) - max(a[2], b[2]) > 0.5
            assert not overlap, (a, b)
    # together they cover under 45 % of the screen
    covered = sum((x1 - x0) * (y1 - y0) for _, x0, y0, x1, y1 in boxes)
    assert covered / (screen[0] * screen[1]) < 0.45, covered


@pytest.mark.parametrize("screen", [(1280, 720), (1920, 1080), (1600, 900)])
@pytest.mark.parametrize("lang", ["zh+en", "zh", "en"])
def test_panels_never_overlap_and_fit_the_screen(browser_ok, demo_run, tmp_path, screen, lang):
    """At projector sizes the title, legend, layer list and controls each keep their own place on the screen."""
    project, result, _ = demo_run
    path = webmap.save_map(webmap.meeting_map(project, result, lang=lang), tmp_path / "m.html")
    with open_page(path, viewport=screen, wait_js=READY) as run:
        assert run.errors == []
        assert_panels_apart(run.page, screen)
        if screen == SCREEN and lang != "zh+en":  # the demo at projector size, for a person to look at (maps/ is not committed)
            run.page.mouse.move(5, screen[1] - 5)
            SCREENSHOTS.mkdir(exist_ok=True)
            run.page.screenshot(path=str(SCREENSHOTS / f"chuangchuangyi_{lang}.png"))
        # metric scale only, no flag in the attribution; every panel folds
        scale = run.page.locator(".leaflet-control-scale").inner_text()
        assert " m" in scale and "ft" not in scale and "mi" not in scale
        assert run.page.locator(".leaflet-control-attribution svg").count() == 0
        run.page.locator("#renewgeo-legend > summary").click()
        assert not run.page.locator("#renewgeo-legend .renewgeo-entry").first.is_visible()


def test_chinese_map_has_no_english_codes(browser_ok, demo_run, tmp_path):
    """With lang="zh" every visible word is Chinese: categories, statuses, units, the basemap, the life circles."""
    project, result, _ = demo_run
    path = webmap.save_map(webmap.meeting_map(project, result, lang="zh", basemap="amap"), tmp_path / "m.html")
    with open_page(path, viewport=(1920, 1080), wait_js=READY) as run:
        text = " ".join(run.page.locator(s).inner_text() for s in ("#renewgeo-title", "#renewgeo-legend"))
        text += " " + run.page.locator(".leaflet-control-layers").text_content()
        for code in ("bus_stop", "bus stop", "community_centre", "convenience", " met", "over", " count", "spaces", "amap",
                     "5min", "Legend", "Amenities", "operating"):
            assert code not in text, code
        for zh in ("公交站", "便利店", "达标", "个车位", "高德地图", "5分钟生活圈", "交通", "日常购物与餐饮"):
            assert zh in text, zh
        # tooltips too: an amenity's category reads in Chinese
        a = project.to_web("amenities").iloc[0]
        assert webmap._coded(str(a["category"]), "zh") == styles.value_label(str(a["category"]), "zh")
        assert webmap._coded("kindergarten|childcare; bus_stop", "zh") == "幼儿园 / 托育; 公交站"
        assert webmap._coded("Chuang 05", "zh") == "Chuang 05"  # names stay as typed


def test_display_numbers_are_rounded_as_a_drawing_shows_them():
    assert styles.display_amount(79999.35, 80000, "m2") == "80,000" and styles.display_amount(2499.98, 2500, "m2") == "2,500"
    assert styles.display_amount(0.9999958, 1.0, "km") == "1.000" and styles.display_amount(12.0, 26, "count") == "12"
    assert webmap._pct(7.6923) == "7.6%" and webmap._pct(99.96) == "99.9%" and webmap._pct(0.01) == "0.1%"
    assert webmap._pct(0.0) == "0%" and webmap._pct(100.0) == "100%"


@pytest.mark.parametrize(("sample_name", "expect_layers", "expect_control", "expect_legend"), [
    ("shibei_relocation", {"net_release", "constraints_applied"}, ["可释放用地 Releasable land (53)", "用地地块 Land parcels (60)"],
     ["道路红线 road red lines", "2026"]),
    ("chuangchuangyi", {"network_nodes", "network_edges", "isochrones"}, ["步行等时圈 Walking isochrones (3)", "建筑 Buildings (26)"],
     ["在营 operating", "交通 Transport", "公交站 bus stop"]),
])
def test_every_layer_of_a_run_is_drawn_and_styled(browser_ok, tmp_path, sample_name, expect_layers, expect_control, expect_legend):
    """Every layer every registered analysis returns has a map layer (with all its features) and a QGIS style."""
    project = rg.load_project(rg.datasets.get_path(sample_name))
    run = run_project(project, tmp_path / "out", progress=False)
    layers = run.output_layers()
    assert expect_layers <= set(layers)
    views = {v for a in run.results for v in REGISTRY[a].views}
    with open_page(run.files["map"], viewport=SCREEN, wait_js=READY) as page:
        assert page.errors == [] and page.console_errors == [] and page.blocked == []
        counts = page.page.evaluate(COUNT_JS)
        for name, gdf in layers.items():
            drawable = int((~(gdf.geometry.isna() | gdf.geometry.is_empty)).sum())
            tooltipless = not run.presentations()[name][0][1].tooltip
            assert counts.get(name) == drawable or (tooltipless and 0 < counts.get(name, 0) <= drawable), name  # merged by colour
        assert views <= set(counts)
        control = page.page.locator(".leaflet-control-layers").text_content()
        assert all(t in control for t in expect_control), control
        legend = page.page.locator("#renewgeo-legend").inner_text()
        assert all(t in legend for t in expect_legend), legend
        page.page.screenshot(path=str(SCREENSHOTS / f"{sample_name}_run.png"))
    con = sqlite3.connect(run.files["results"])
    try:
        styles_rows = con.execute("SELECT f_table_name, styleName, useAsDefault FROM layer_styles").fetchall()
    finally:
        con.close()
    assert set(layers) <= {t for t, _, d in styles_rows if d == 1}
    assert views <= {s for _, s, d in styles_rows if d == 0}


def test_languages(browser_ok, sample, tmp_path):
    zh = webmap.save_map(webmap.meeting_map(sample, lang="zh"), tmp_path / "zh.html").read_text(encoding="utf-8")
    en = webmap.save_map(webmap.meeting_map(sample, lang="en"), tmp_path / "en.html").read_text(encoding="utf-8")
    assert "Buildings (26)" not in zh and "Buildings (26)" in en
    with open_page(tmp_path / "zh.html", wait_js=READY) as run:
        assert run.errors == []
        legend = run.page.locator("#renewgeo-legend").inner_text()
        assert "图例" in legend and "已改造" in legend and "Legend" not in legend
        assert "建筑 (26)" in run.page.locator(".leaflet-control-layers").text_content()
        run.page.screenshot(path=str(tmp_path / "zh.png"))
    with open_page(tmp_path / "en.html", wait_js=READY) as run:
        legend = run.page.locator("#renewgeo-legend").inner_text()
        assert "Legend" in legend and "renovated" in legend and "图例" not in legend


def test_defaults_come_from_the_map_settings(sample_path, monkeypatch):
    p = rg.load_project(sample_path, overrides={"map.lang": "en", "map.basemap": "osm", "map.simplify_m": 0})
    html = webmap.meeting_map(p).get_root().render()
    assert "Buildings (26)" in html and "tile.openstreetmap.org/{z}" in html
    assert "img-src data: https://tile.openstreetmap.org;" in html.replace("&#x27;", "'")
    monkeypatch.setenv("TIANDITU_TOKEN", "from-env")
    html = webmap.meeting_map(p, basemap="tianditu").get_root().render()
    assert "tk=from-env" in html and "https://*.tianditu.gov.cn" in html


def test_amap_shifts_every_overlay_to_gcj02(browser_ok, sample, tmp_path):
    html = webmap.save_map(webmap.meeting_map(sample, basemap="amap"), tmp_path / "amap.html").read_text(encoding="utf-8")
    plain = webmap.save_map(webmap.meeting_map(sample), tmp_path / "plain.html").read_text(encoding="utf-8")
    shifted = shapely.get_coordinates(next(b for b in _blocks(html) if len(b["geoms"]) == 26)["geoms"][0])[0]
    wgs = shapely.get_coordinates(next(b for b in _blocks(plain) if len(b["geoms"]) == 26)["geoms"][0])[0]
    # the checked pair: the published forward transform of the WGS 84 vertex
    lon, lat = rcrs.wgs84_to_gcj02(wgs[0], wgs[1])
    assert abs(shifted[0] - float(lon)) < 2e-6 and abs(shifted[1] - float(lat)) < 2e-6
    _, _, d = Geod(ellps="WGS84").inv(wgs[0], wgs[1], shifted[0], shifted[1])
    assert 300 < d < 700
    with open_page(tmp_path / "amap.html", wait_js=READY) as run:
        assert run.errors == []
        assert run.blocked and all("autonavi.com" in u for u in run.blocked)  # only the optional tiles, which the CSP allows


def test_basemap_options(sample, monkeypatch):
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(rg.RenewgeoError, match="tianditu_token.*TIANDITU_TOKEN|TIANDITU_TOKEN.*tianditu_token"):
        webmap.meeting_map(sample, basemap="tianditu")
    with pytest.raises(rg.RenewgeoError, match="basemap must be one of"):
        webmap.meeting_map(sample, basemap="google")
    with pytest.raises(rg.RenewgeoError, match="lang must be") as bad_lang:
        webmap.meeting_map(sample, lang="fr")
    assert all(repr(v) in str(bad_lang.value) for v in ("zh", "en", "zh+en"))  # the allowed values, named
    html = webmap.meeting_map(sample, basemap="tianditu", tianditu_token="abc").get_root().render()
    assert "tianditu.gov.cn/vec_w" in html and "tk=abc" in html


def test_map_arguments_are_checked_as_map_settings(sample):
    """lang, basemap and simplify_m are checked as [map] declares them (one place), not by hand beside it."""
    with pytest.raises(rg.ProjectFileError, match="lang must be one of.*'fr'"):
        webmap.meeting_map(sample, lang="fr")
    with pytest.raises(rg.ProjectFileError, match="simplify_m must be <= 100"):
        webmap.meeting_map(sample, simplify_m=500)
    with pytest.raises(rg.ProjectFileError, match="basemap must be one of") as both:
        webmap.meeting_map(sample, lang="de", basemap="google")
    assert "lang must be one of" in str(both.value)  # every bad argument at once
    assert "Buildings (26)" in webmap.meeting_map(sample, lang="en", simplify_m=0).get_root().render()


def test_walking_distances_have_one_style():
    """styles.distance_style is the one way to draw walking distances; the DISTANCE_STYLE keywords are gone."""
    assert not hasattr(styles, "DISTANCE_STYLE")
    nodes = WALK.layers["network_nodes"].style
    assert (nodes.column, nodes.breaks, nodes.unit, nodes.size) == ("daily_dist_m", styles.DISTANCE_BREAKS, "m", 2.0)


def test_the_escaping_helpers():
    assert "</" not in webmap._js("</script><!--") and json.loads(webmap._js("</script>\u2028")) == "</script>\u2028"
    assert webmap._h('"<img src=x>"') == "&quot;&lt;img src=x&gt;&quot;"


# ------------------------------------------------------------------ presentations the map has never seen
def test_walking_layers_and_view_drawn_from_their_presentations(browser_ok, sample, tmp_path):
    with walk_run(sample) as run:
        path = webmap.save_map(webmap.meeting_map(sample, run, lang="en"), tmp_path / "walk.html")
        nodes = run.output_layers()["network_nodes"]
    html = path.read_text(encoding="utf-8")
    # thousands of tooltip-less nodes: one multi-point per colour, no attributes
    block = next(b for b in _blocks(html) if b["geoms"] and b["geoms"][0].geom_type == "MultiPoint")
    assert block["source"]["c"] == {} and block["spec"]["fields"] == []
    assert sum(len(g.geoms) for g in block["geoms"]) == len(nodes) == 2000
    with open_page(path, viewport=SCREEN, wait_js=READY) as page:
        assert page.errors == [] and page.console_errors == [] and page.blocked == []
        counts = page.page.evaluate(COUNT_JS)
        shown = page.page.evaluate(SHOWN_JS)
        assert counts["isochrones"] == 3 and counts["axis_gaps"] == 1 and counts["walk_distance"] == 26
        assert counts["network_edges"] == 1  # 40 lines of one colour: one feature
        classes = {next(c for b, c in [(300, 1), (500, 2), (800, 3), (1000, 4), (math.inf, 5)] if d <= b) for d in nodes["daily_dist_m"]}
        assert counts["network_nodes"] == len(classes)
        assert page.page.evaluate("() => { let n = 0; window.renewgeo.layers.network_nodes.eachLayer(g => g.eachLayer("
                                  "f => { n += f.getLayers().length; })); return n; }") == len(nodes) == 2000
        # views and layers declared hidden are off at first, the others on
        assert shown == {**{k: True for k in counts}, "walk_distance": False, "isochrones": False, "network_nodes": False,
                         "network_edges": False}
        # the view colours each building by its distance, with the declared classes
        fills = dict(page.page.evaluate(FILL_JS, "walk_distance"))
        dist = run.layer("buildings").set_index("id")["daily_dist_m"]
        assert fills == {i: DIST_COLOUR.get(d, MISSING) for i, d in dist.items()}
        control = page.page.locator(".leaflet-control-layers").text_content()
        assert "Walk to daily services (26)" in control and "Network nodes (2,000)" in control
        legend = page.page.locator("#renewgeo-legend")
        entry = legend.locator(".renewgeo-entry", has_text="Walk to daily services")
        assert entry.count() == 1 and not entry.is_visible()  # a hidden layer has no legend entry on show
        assert "0–300 m" in legend.inner_html()
        assert "5 min" in legend.inner_html() and "Gaps in the axis" in legend.inner_text()
        if page.page.locator(".renewgeo-folded").count():  # folded at projector height: unfold the layer list
            page.page.locator(".renewgeo-fold").click()
        page.page.locator(".leaflet-control-layers label", has_text="Walk to daily services").click()
        page.page.locator(".leaflet-control-layers label", has_text="Walking isochrones").click()
        page.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        assert entry.is_visible() and "0–300 m" in entry.inner_text()  # switched on: its legend shows
        # switched on after the buildings, the isochrones still lie under them: hovering a building finds the building
        c = sample.to_web("buildings").set_index("id").loc["B05"].geometry.centroid
        x, y = page.page.evaluate(f"() => {{ const q = window.renewgeo.map.latLngToContainerPoint([{c.y}, {c.x}]); return [q.x, q.y]; }}")
        page.page.mouse.move(x, y)
        tip = page.page.locator(".leaflet-tooltip")
        tip.wait_for(timeout=5000)
        assert "Chuang 05" in tip.inner_text() and f"{dist['B05']:,.0f}" in tip.inner_text() and "minutes" not in tip.inner_text()
        page.page.screenshot(path=str(tmp_path / "walk.png"))
    assert (tmp_path / "walk.png").stat().st_size > 20_000


def test_empty_layer_escaping_and_projected_input(browser_ok, sample, tmp_path):
    b = sample["buildings"].copy()
    b.loc[b["id"] == "B05", "name"] = "<script>alert(1)</script> & 闯"
    p = rg.Project.from_layers({"buildings": b, "zones": sample["zones"]}, crs=sample.crs)
    with walk_run(p, empty_isochrones=True) as run:
        path = webmap.save_map(webmap.meeting_map(p, run, lang="en"), tmp_path / "m.html")
    html = path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    with open_page(path, wait_js=READY) as page:
        assert page.errors == []
        assert "Walking isochrones: no features, not shown" in page.page.locator("#renewgeo-legend").inner_text()
        counts = page.page.evaluate(COUNT_JS)
        assert counts["axis_gaps"] == 1 and "isochrones" not in counts
        c = p.to_web("buildings").set_index("id").loc["B05"].geometry.centroid
        x, y = page.page.evaluate(f"() => {{ const q = window.renewgeo.map.latLngToContainerPoint([{c.y}, {c.x}]); return [q.x, q.y]; }}")
        page.page.mouse.move(x, y)
        tip = page.page.locator(".leaflet-tooltip")
        tip.wait_for(timeout=5000)
        assert "<script>alert(1)</script> & 闯" in tip.inner_text()  # shown as typed, not run


def test_hostile_names_and_values_are_shown_as_text(browser_ok, sample, tmp_path):
    n1, n2 = "</script><script>window.pw=1</script>", '"<img src=x onerror=window.pw2=1>"'
    odd = 'say "hi" \\ back'
    a = sample["amenities"].copy()
    a.loc[a.index[0], "category"] = odd
    p = rg.Project.from_layers({n1: sample["buildings"], n2: sample["buildings"].iloc[:5], "amenities": a},
                               kinds={n1: "buildings", n2: "buildings"}, crs=sample.crs, title=n2,
                               vocabulary={"amenity_categories": [odd]})
    path = webmap.save_map(webmap.meeting_map(p, lang="en"), tmp_path / "hostile.html")
    with open_page(path, wait_js=READY) as page:
        assert page.errors == [] and page.console_errors == []
        assert page.page.evaluate("() => [typeof window.pw, typeof window.pw2]") == ["undefined", "undefined"]
        assert page.page.locator(".leaflet-control-layers img").count() == 0
        control = page.page.locator(".leaflet-control-layers").text_content()
        assert f"Buildings: {n1} (26)" in control and f"Buildings: {n2} (5)" in control
        assert set(page.page.evaluate("() => Object.keys(window.renewgeo.layers)")) == {n1, n2, "amenities"}
        assert odd in page.page.locator("#renewgeo-legend").inner_text()
        assert page.page.locator("#renewgeo-title h1").inner_text() == n2
        assert page.page.locator("#renewgeo-legend img, #renewgeo-title img").count() == 0


@pytest.mark.realdata
def test_porto_buildings_map_size_and_render(browser_ok, shared_data, tmp_path):
    b = rg.io.read_osm(shared_data / "osm" / "porto_downtown.osm.pbf", what="buildings")
    p = rg.Project.from_layers({"buildings": b}, repair=True)
    path = webmap.save_map(webmap.meeting_map(p, lang="en"), tmp_path / "porto.html")
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 2  # 0.99 MB: one geometry per layer, delta-encoded micro-degrees (was 3.2 MB of GeoJSON)
    with open_page(path, wait_js=READY) as run:
        assert run.errors == [] and run.blocked == []
        assert run.render_s < 3.0
        assert run.page.evaluate(COUNT_JS)["buildings"] == len(b) == 11393
        run.page.screenshot(path=str(tmp_path / "porto.png"))
    # coordinates kept to ~0.1 m (1e-6 degree) after the 0.5 m simplification: every drawn building within 0.6 m of its own
    drawn = _blocks(path.read_text(encoding="utf-8"))[0]["geoms"]
    web = p.to_web("buildings").geometry.values
    assert len(drawn) == len(web)
    gap = shapely.hausdorff_distance(np.array(drawn, dtype=object), web)
    assert float(np.max(gap)) < 0.6 / 111_000 * 1.5


# ------------------------------------------------------------------ every geometry once, exactly as the data has it
LATLNGS_JS = """(key) => { const out = []; window.renewgeo.layers[key].eachLayer(g => g.eachLayer(f => out.push(
  [window.renewgeo.properties(key, f).id, f.getLatLngs()[0].map(p => [p.lng, p.lat])]))); return out; }"""


def test_a_layer_and_its_views_share_one_geometry_drawn_as_the_data_has_it(browser_ok, sample, tmp_path):
    """Issue 17: the walking view wrote every building's geometry a second time. Now one source serves both; Chromium
    draws each building at the data's own vertices (to 1e-6 degree), decoded from the page's integers."""
    with walk_run(sample) as run:
        path = webmap.save_map(webmap.meeting_map(sample, run, lang="en", simplify_m=0), tmp_path / "walk.html")
    html = path.read_text(encoding="utf-8")
    blocks = _blocks(html)
    of_buildings = [b for b in blocks if len(b["geoms"]) == 26]
    assert len(of_buildings) == 2 and of_buildings[0]["spec"]["src"] == of_buildings[1]["spec"]["src"]  # the layer and its view
    assert sum(len(src["g"]) == 26 for src in _sources(html).values()) == 1  # written once
    web = sample.to_web("buildings").set_index("id").geometry
    with open_page(path, viewport=SCREEN, wait_js=READY) as page:
        assert page.errors == [] and page.console_errors == []
        for key in ("buildings", "walk_distance"):
            drawn = dict(page.page.evaluate(LATLNGS_JS, key))
            assert set(drawn) == set(web.index), key
            for bid, ring in drawn.items():
                want = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_parts(web[bid])[0]))[:-1]  # Leaflet closes rings
                assert np.abs(np.array(ring) - want).max() <= 0.5e-6 + 1e-12, (key, bid)
        # the view's polygons are the buildings' own vertices (one decoding, shared), not a copy
        assert page.page.evaluate("""() => { const a = [], b = [];
          window.renewgeo.layers.buildings.eachLayer(g => g.eachLayer(f => a.push(f.getLatLngs()[0][0])));
          window.renewgeo.layers.walk_distance.eachLayer(g => g.eachLayer(f => b.push(f.getLatLngs()[0][0])));
          return a.length === 26 && a.every((p, i) => p === b[i]); }""")


def test_the_encoding_keeps_holes_parts_and_kinds():
    """Points, multi-points, lines, multi-lines, polygons with holes and multi-polygons come back as they went in."""
    geoms = np.array([shapely.Point(-8.6, 41.1), shapely.MultiPoint([(-8.6, 41.1), (-8.5999, 41.1001)]),
                      shapely.LineString([(-8.6, 41.1), (-8.59, 41.12), (-8.58, 41.121)]),
                      shapely.MultiLineString([[(-8.6, 41.1), (-8.59, 41.12)], [(-8.58, 41.1), (-8.57, 41.12)]]),
                      shapely.box(-8.6, 41.1, -8.59, 41.11).difference(shapely.box(-8.598, 41.102, -8.597, 41.103)),
                      shapely.MultiPolygon([shapely.box(-8.6, 41.1, -8.59, 41.11), shapely.box(-8.58, 41.1, -8.57, 41.11)])],
                     dtype=object)
    src = json.loads(webmap._js(webmap._encode(geoms)))
    back = _decode(src)
    assert [g.geom_type for g in back] == [g.geom_type for g in geoms]
    assert all(shapely.equals_exact(a, b, tolerance=1e-9, normalize=True) for a, b in zip(back, geoms, strict=True))
    one = json.loads(webmap._js(webmap._encode(geoms[4:5])))
    assert one["f"] == 2 and len(one["g"][0][0]) == 2 and len(one["g"][0][0][0]) == 8  # a hole; rings without closing vertex
    assert webmap._column(["a", "a", "b", "a"]) == {"u": ["a", "b"], "i": [0, 0, 1, 0]} and webmap._column(["a", "b"]) == ["a", "b"]


def test_bilingual_facility_names_read_in_the_map_language():
    text = "社区服务站 Community service station; 养老院、老年养护院 Care home for the elderly"
    assert webmap._coded(text, "en") == "Community service station; Care home for the elderly"
    assert webmap._coded(text, "zh") == "社区服务站; 养老院、老年养护院" and webmap._coded(text, "zh+en") == text
    assert webmap._coded("园区 A", "en") == "园区 A" and webmap._coded("<b>旧 Old</b>", "en") == "&lt;b&gt;旧 Old&lt;/b&gt;"


# ------------------------------------------------------------------ clustered amenities
HOSTILE_CATEGORY = '<img src=x onerror=window.pw=1>'


def many_amenities(project: rg.Project) -> rg.Project:
    """The sample with 641 amenities: four large categories (one with a hostile name), two small ones."""
    rng = np.random.default_rng(17)
    x0, y0, x1, y1 = project.layer("buildings").total_bounds
    small = webmap.CLUSTER_MIN_POINTS  # not more than CLUSTER_MIN_POINTS: not clustered; one more: clustered
    cats = (["shop"] * 400 + ["restaurant"] * 150 + [HOSTILE_CATEGORY] * 40 + ["hospital"] * 10 + ["kindergarten"] * (small + 1)
            + ["elderly_care"] * small)
    pts = shapely.points(rng.uniform(x0, x1, len(cats)), rng.uniform(y0, y1, len(cats)))
    a = gpd.GeoDataFrame({"id": [f"a{i}" for i in range(len(cats))], "name": [f"place {i}" for i in range(len(cats))],
                          "category": cats}, geometry=pts, crs=project.crs)
    return rg.Project.from_layers({"buildings": project["buildings"], "amenities": a}, crs=project.crs,
                                  vocabulary={"amenity_categories": [HOSTILE_CATEGORY]})


CLUSTER_JS = """() => { const out = {clustered: {}, plain: {}};
  window.renewgeo.layers.amenities.eachLayer(g => {
    const side = g.getAllChildMarkers || g.refreshClusters ? out.clustered : out.plain;
    g.eachLayer(m => { const c = window.renewgeo.properties('amenities', m).category; side[c] = (side[c] || 0) + 1; }); });
  return out; }"""


def test_large_categories_are_clustered_with_the_library_inlined(browser_ok, sample, tmp_path):
    """Issue 17: 4,410 markers hid Porto's buildings. Categories of more than CLUSTER_MIN_POINTS points in a layer of more
    than MAX_SYMBOL_POINTS are clustered by Leaflet.markercluster, inlined (no CDN); the small ones stay on show."""
    p = many_amenities(sample)
    path = webmap.save_map(webmap.meeting_map(p, lang="en"), tmp_path / "clusters.html")
    html = path.read_text(encoding="utf-8")
    assert webmap._remote_assets(html) == []
    assert not re.search(r"cdnjs|jsdelivr|unpkg|cloudflare", html)  # folium's plugin links a CDN; its links are dropped
    assert "L.MarkerClusterGroup=" in html and "Dave Leaver" in html and "MIT license" in html  # inlined, with its notice
    with open_page(path, viewport=SCREEN, wait_js=READY) as page:
        assert page.errors == [] and page.console_errors == [] and page.blocked == []
        assert page.page.evaluate("() => typeof window.pw") == "undefined"
        assert page.page.evaluate(COUNT_JS)["amenities"] == 641
        side = page.page.evaluate(CLUSTER_JS)
        assert side["clustered"] == {"shop": 400, "restaurant": 150, webmap._h(HOSTILE_CATEGORY): 40, "kindergarten": 21}
        assert side["plain"] == {"hospital": 10, "elderly care": 20}
        icons = page.page.locator(".renewgeo-cluster")
        assert 0 < icons.count() < 100  # 590 clustered markers read as a few dozen rings
        assert "a ring counts the amenities there" in page.page.locator("#renewgeo-legend").inner_text()
        # hovering the largest cluster tells what it holds, the hostile name as text
        boxes = [icons.nth(i).bounding_box() for i in range(icons.count())]
        big = max(boxes, key=lambda b: b["width"])
        page.page.mouse.move(big["x"] + big["width"] / 2, big["y"] + big["height"] / 2)
        tip = page.page.locator(".leaflet-tooltip")
        tip.wait_for(timeout=5000)
        assert "shop" in tip.inner_text()
        assert page.page.evaluate("() => typeof window.pw") == "undefined"
        page.page.screenshot(path=str(tmp_path / "clusters.png"))
        # at the closest zooms every marker stands alone
        page.page.evaluate("() => window.renewgeo.map.setZoom(18, {animate: false})")
        page.page.evaluate("() => new Promise(r => setTimeout(r, 300))")
        assert page.page.locator(".renewgeo-cluster").count() == 0
    # a small layer keeps plain symbols
    small = webmap.meeting_map(sample, lang="en").get_root().render()
    assert '"cluster":null' in small.replace(" ", "")


# ------------------------------------------------------------------ Porto's full meeting map
def write_porto_project(folder: Path, pbf: Path) -> Path:
    """A project of downtown Porto from OSM: buildings, amenities and paths (what `renewgeo run` makes a full map of)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "project.toml").write_text(f"""[project]
name = "porto"
title = "Porto downtown"
repair = true
[layers.buildings]
file = {json.dumps(str(pbf))}
osm = "buildings"
[layers.amenities]
file = {json.dumps(str(pbf))}
osm = "amenities"
[layers.paths]
file = {json.dumps(str(pbf))}
osm = "paths"
""", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def porto_run(shared_data, tmp_path_factory):
    folder = write_porto_project(tmp_path_factory.mktemp("porto"), shared_data / "osm" / "porto_downtown.osm.pbf")
    project = rg.load_project(folder)
    return project, run_analyses(project, progress=False)


@pytest.mark.realdata
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_porto_full_map_size_render_and_panels(browser_ok, porto_run, tmp_path, lang):
    """Issue 17: Porto's full meeting map was 10.3 MB and took 3.5 s. Every layer `run` draws, each geometry once, under 4 MB."""
    project, run = porto_run
    path = webmap.save_map(webmap.meeting_map(project, run, lang=lang), tmp_path / "porto.html")
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size / 1e6 < 4.0
    assert sum(len(src["g"]) == 11393 for src in _sources(html).values()) == 1  # the buildings and their walking view: one geometry
    layers = run.output_layers()
    with open_page(path, viewport=SCREEN, wait_js="window.renewgeo && window.renewgeo.drawn") as page:
        assert page.errors == [] and page.console_errors == [] and page.blocked == []
        assert page.render_s < 3.0  # the first render (benchmarks/bench_map.py records it: under 1.5 s on a quiet machine)
        page.page.mouse.move(5, SCREEN[1] - 5)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(SCREENSHOTS / f"porto_full_{lang}.png"))
        assert_panels_apart(page.page, SCREEN)
        wait_for(page.page, READY, 60000)
        counts = page.page.evaluate(COUNT_JS)
        for name, gdf in layers.items():
            tooltipless = not run.presentations()[name][0][1].tooltip
            assert counts[name] == len(gdf) or (tooltipless and 0 < counts[name] <= len(gdf)), name
        assert counts["walk_distance"] == len(layers["buildings"]) == 11393
        assert page.page.locator(".renewgeo-cluster").count() > 0
