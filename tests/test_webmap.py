"""Meeting maps, opened in Debian's headless Chromium with the network cut off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

import renewgeo as rg
from renewgeo import crs as rcrs
from renewgeo import webmap
from renewgeo.pipeline import run_project
from tests.browser import chromium_path, open_page

READY = "window.renewgeo && window.renewgeo.ready"
COUNT_JS = """() => Object.fromEntries(Object.entries(window.renewgeo.layers).map(([k, fg]) => {
  let n = 0; fg.eachLayer(g => { n += g.getLayers ? g.getLayers().length : 1; }); return [k, n]; }))"""
SCREENSHOTS = Path(__file__).resolve().parents[1] / "maps"


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


def _blocks(page_html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"geo_json_[0-9a-f]+_add\((\{.*?\})\);", page_html, flags=re.S)]


def test_offline_map_in_chromium(browser_ok, demo_run):
    project, result, path = demo_run
    html = path.read_text(encoding="utf-8")
    assert webmap._remote_assets(html) == []
    with open_page(path, wait_js=READY) as run:
        assert run.errors == [] and run.console_errors == []
        assert run.blocked == []  # nothing requested from the web
        counts = run.page.evaluate(COUNT_JS)
        for name, gdf in project.layers.items():
            assert counts[name] == len(gdf), name
        assert counts["isochrones"] == len(result.layers["isochrones"]) == 3
        assert counts["distance"] == 26
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
        SCREENSHOTS.mkdir(exist_ok=True)
        run.page.screenshot(path=str(SCREENSHOTS / "chuangchuangyi.png"))
    assert (SCREENSHOTS / "chuangchuangyi.png").stat().st_size > 50_000


def test_languages(browser_ok, sample, tmp_path):
    zh = webmap.save_map(webmap.meeting_map(sample, lang="zh"), tmp_path / "zh.html").read_text(encoding="utf-8")
    en = webmap.save_map(webmap.meeting_map(sample, lang="en"), tmp_path / "en.html").read_text(encoding="utf-8")
    assert "Buildings (26)" not in zh and "Buildings (26)" in en
    with open_page(tmp_path / "zh.html", wait_js=READY) as run:
        assert run.errors == []
        legend = run.page.locator("#renewgeo-legend").inner_text()
        assert "图例" in legend and "已改造" in legend and "Legend" not in legend
        assert "建筑 (26)" in run.page.locator(".leaflet-control-layers").inner_text()
        run.page.screenshot(path=str(tmp_path / "zh.png"))
    with open_page(tmp_path / "en.html", wait_js=READY) as run:
        legend = run.page.locator("#renewgeo-legend").inner_text()
        assert "Legend" in legend and "renovated" in legend and "图例" not in legend



def test_amap_shifts_every_overlay_to_gcj02(browser_ok, sample, tmp_path):
    html = webmap.save_map(webmap.meeting_map(sample, basemap="amap"), tmp_path / "amap.html").read_text(encoding="utf-8")
    plain = webmap.save_map(webmap.meeting_map(sample), tmp_path / "plain.html").read_text(encoding="utf-8")
    shifted = next(b for b in _blocks(html) if len(b["features"]) == 26)["features"][0]["geometry"]["coordinates"][0][0]
    wgs = next(b for b in _blocks(plain) if len(b["features"]) == 26)["features"][0]["geometry"]["coordinates"][0][0]
    # the checked pair: the published forward transform of the WGS 84 vertex
    lon, lat = rcrs.wgs84_to_gcj02(wgs[0], wgs[1])
    assert abs(shifted[0] - float(lon)) < 2e-6 and abs(shifted[1] - float(lat)) < 2e-6
    _, _, d = Geod(ellps="WGS84").inv(wgs[0], wgs[1], shifted[0], shifted[1])
    assert 300 < d < 700
    with open_page(tmp_path / "amap.html", wait_js=READY) as run:
        assert run.errors == []
        assert run.blocked and all("autonavi.com" in u for u in run.blocked)  # only the optional tiles


def test_basemap_options(sample):
    with pytest.raises(rg.RenewgeoError, match="tianditu_token"):
        webmap.meeting_map(sample, basemap="tianditu")
    with pytest.raises(rg.RenewgeoError, match="basemap must be one of"):
        webmap.meeting_map(sample, basemap="google")
    with pytest.raises(rg.RenewgeoError, match="lang must be"):
        webmap.meeting_map(sample, lang="fr")
    html = webmap.meeting_map(sample, basemap="tianditu", tianditu_token="abc").get_root().render()
    assert "tianditu.gov.cn/vec_w" in html and "tk=abc" in html


def test_empty_layer_escaping_and_projected_input(browser_ok, sample, tmp_path):
    b = sample["buildings"].copy()
    b.loc[b["id"] == "B05", "name"] = "<script>alert(1)</script> & 闯"
    p = rg.Project.from_layers({"buildings": b, "zones": sample["zones"]}, crs=sample.crs)
    extra = {"isochrones": gpd.GeoDataFrame({"minutes": []}, geometry=[], crs=sample.crs),
             "axis_gaps": gpd.GeoDataFrame({"gap_m": [12.0]}, geometry=[shapely.LineString([(518030, 3985400), (518030, 3985412)])], crs=4549)}
    path = webmap.save_map(webmap.meeting_map(p, {"layers": extra}, lang="en"), tmp_path / "m.html")
    html = path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    with open_page(path, wait_js=READY) as run:
        assert run.errors == []
        assert "Walking isochrones: no features, not shown" in run.page.locator("#renewgeo-legend").inner_text()
        counts = run.page.evaluate(COUNT_JS)
        assert counts["axis_gaps"] == 1 and "isochrones" not in counts
        c = p.to_web("buildings").set_index("id").loc["B05"].geometry.centroid
        x, y = run.page.evaluate(f"() => {{ const q = window.renewgeo.map.latLngToContainerPoint([{c.y}, {c.x}]); return [q.x, q.y]; }}")
        run.page.mouse.move(x, y)
        tip = run.page.locator(".leaflet-tooltip")
        tip.wait_for(timeout=5000)
        assert "<script>alert(1)</script> & 闯" in tip.inner_text()  # shown as typed, not run


@pytest.mark.realdata
def test_porto_buildings_map_size_and_render(browser_ok, shared_data, tmp_path):
    b = rg.io.read_osm(shared_data / "osm" / "porto_downtown.osm.pbf", what="buildings")
    p = rg.Project.from_layers({"buildings": b}, repair=True)
    path = webmap.save_map(webmap.meeting_map(p, lang="en"), tmp_path / "porto.html")
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 8
    with open_page(path, wait_js=READY) as run:
        assert run.errors == [] and run.blocked == []
        assert run.render_s < 3.0
        assert run.page.evaluate(COUNT_JS)["buildings"] == len(b) == 11393
        run.page.screenshot(path=str(tmp_path / "porto.png"))
    # coordinates kept to ~0.1 m: 6 decimals
    coords = np.array(_blocks(path.read_text(encoding="utf-8"))[0]["features"][0]["geometry"]["coordinates"][0][0])
    assert np.allclose(coords, np.round(coords, 6))
