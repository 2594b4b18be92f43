"""The first project map (the meeting-map issue adds browser tests)."""

from __future__ import annotations

import json
import re

import renewgeo as rg
from renewgeo import webmap


def _geojson_blocks(html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r"geo_json_[0-9a-f]+_add\((\{.*?\})\);", html, flags=re.S)]


def test_every_layer_drawn_with_all_features(sample, tmp_path):
    path = webmap.save_map(webmap.project_map(sample), tmp_path / "m.html")
    html = path.read_text(encoding="utf-8")
    blocks = _geojson_blocks(html)
    counts = sorted(len(b["features"]) for b in blocks)
    assert counts == sorted(len(g) for g in sample.layers.values())
    for name, gdf in sample.layers.items():
        assert f"{name} ({len(gdf)})" in html
    # buildings coloured by status, GFA in the tooltip, coordinates in degrees
    b = next(b for b in blocks if len(b["features"]) == 26)
    props = b["features"][0]["properties"]
    assert {"status", "gfa_m2", "use_after"} <= set(props)
    x, y = b["features"][0]["geometry"]["coordinates"][0][0]
    assert 120 < x < 121 and 35 < y < 37
    for colour in ("#33a02c", "#ff7f00", "#1f78b4"):  # renovated, under renovation, operating
        assert colour in html


def test_html_special_characters_escaped(sample, tmp_path):
    b = sample["buildings"].copy()
    b.loc[0, "name"] = "<script>alert(1)</script> & 闯"
    p = rg.Project.from_layers({"buildings": b}, crs=sample.crs)
    html = webmap.save_map(webmap.project_map(p), tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    (block,) = _geojson_blocks(html)
    names = [f["properties"]["name"] for f in block["features"]]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 闯" in names  # shown as typed by the tooltip's innerHTML
