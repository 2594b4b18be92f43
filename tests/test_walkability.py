"""Walkability: hand-computable measures, exact against networkx on real Porto streets."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import renewgeo as rg
from renewgeo import walkability as W
from renewgeo.network import build_network
from renewgeo.project import LifeCircle

CRS = 32651


def grid(n=5, step=100.0):
    """An n x n street grid of `step` metres."""
    ls = []
    for i in range(n):
        ls.append(shapely.LineString([(0, i * step), ((n - 1) * step, i * step)]))
        ls.append(shapely.LineString([(i * step, 0), (i * step, (n - 1) * step)]))
    return gpd.GeoDataFrame(geometry=ls, crs=CRS)


def pts(xy, **cols):
    return gpd.GeoDataFrame(cols, geometry=[shapely.Point(p) for p in xy], crs=CRS)


# ------------------------------------------------------------------------ hand-computable
def test_distances_counts_and_decay_on_a_line():
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=CRS))
    o = pts([(100, 10)])
    a = pts([(300, -5), (700, 0), (150, 20)], category=["cafe", "cafe", "clinic"])
    r = W.accessibility(net, o, a, distances_m=[300, 1000]).table
    # 10 (connector) + 200 (along) + 5 (connector) = 215; second cafe 10 + 600 = 610
    assert r.loc[0, "cafe_nearest_m"] == pytest.approx(215.0)
    assert r.loc[0, "clinic_nearest_m"] == pytest.approx(10 + 50 + 20)
    assert r.loc[0, "cafe_count_300m"] == 1 and r.loc[0, "cafe_count_1000m"] == 2
    assert r.loc[0, "cafe_gravity_300m"] == pytest.approx(np.exp(-4 / 300 * 215))
    assert r.loc[0, "cafe_gravity_1000m"] == pytest.approx(np.exp(-4 / 1000 * 215) + np.exp(-4 / 1000 * 610))
    assert r.loc[0, "cafe_linear_1000m"] == pytest.approx((1 - 215 / 1000) + (1 - 610 / 1000))
    assert r.loc[0, "snap_m"] == pytest.approx(10.0) and r.loc[0, "note"] == ""


def test_minutes_and_speed():
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (2000, 0)])], crs=CRS))
    r = W.accessibility(net, pts([(0, 0)]), pts([(550, 0), (1100, 0)], category=["shop", "shop"]), minutes=[5, 10], speed_m_s=1.0).table
    assert r.loc[0, "shop_count_5min"] == 0 and r.loc[0, "shop_count_10min"] == 1
    r = W.accessibility(net, pts([(0, 0)]), pts([(550, 0), (1100, 0)], category=["shop", "shop"]), minutes=[5, 10], speed_m_s=2.0).table
    assert r.loc[0, "shop_count_5min"] == 1 and r.loc[0, "shop_count_10min"] == 2
    with pytest.raises(rg.RenewgeoError, match="speed_m_s"):
        W.thresholds_m(minutes=[5], speed_m_s=0)


def test_grid_distances_are_manhattan():
    net = build_network(grid())
    o = pts([(0, 0), (400, 400), (250, 100)])
    a = pts([(400, 400)], category=["park"])
    r = W.accessibility(net, o, a, distances_m=[800, 1000]).table
    assert r["park_nearest_m"].tolist() == pytest.approx([800.0, 0.0, 150 + 300])
    assert r["park_count_800m"].tolist() == [1, 1, 1]


def test_bad_input_reported_not_silent():
    g = grid()
    island = gpd.GeoDataFrame(geometry=[shapely.LineString([(2000, 0), (2100, 0)])], crs=CRS)
    net = build_network([g, island])
    assert net.report.components == 2 and net.report.tiny_components == 1
    o = pts([(0, 0), (2050, 5), (5000, 5000)], id=["home", "islander", "far"])
    a = pts([(100, 0), (300, 0), (400, 0)], id=["a1", "a2", "a3"], category=["cafe", None, "cafe"])
    res = W.accessibility(net, o.set_index("id"), a)
    r = res.table
    assert r.loc["home", "cafe_nearest_m"] == pytest.approx(100.0)
    assert np.isnan(r.loc["islander", "cafe_nearest_m"]) and "none within 5000 m: cafe" in r.loc["islander", "note"]
    assert np.isnan(r.loc["far", "cafe_nearest_m"]) and "not attached" in r.loc["far", "note"]
    assert pd.isna(r.loc["far", "cafe_count_300m"])
    assert res.uncategorised_amenities == ["a2"]
    many = W.accessibility(net, o.set_index("id"), a, categories=["cafe", "pharmacy", "supermarket", "convenience_store"]).table
    assert many.loc["home", "note"] == "none within 5000 m: pharmacy, supermarket, convenience_store"


def test_life_circles_hand_fixture():
    net = build_network(grid())
    homes = pts([(0, 0), (400, 400)], id=["h1", "h2"], gfa_m2=[1000.0, 3000.0], households=[10, 30])
    amen = pts([(100, 0), (0, 200), (400, 300)], category=["kindergarten", "clinic", "clinic"])
    circles = [{"name": "5min", "distance_m": 300, "required": [["kindergarten", "childcare"], ["clinic"]]},
               {"name": "15min", "distance_m": 1000, "required": [["clinic"], ["school"]]}]
    lc = W.life_circles(net, homes, amen, circles=circles)
    out = lc.buildings
    assert out["lc_5min_pass"].tolist() == [True, False]
    assert out["lc_5min_missing"].tolist() == ["", "kindergarten|childcare"]
    assert out["lc_15min_missing"].tolist() == ["school", "school"]
    s = lc.summary
    assert s.loc["5min", "buildings_pass_pct"] == 50.0
    assert s.loc["5min", "gfa_pass_pct"] == 25.0 and s.loc["5min", "households_pass_pct"] == 25.0
    assert len(W.default_life_circles()) == 3


def test_life_circles_reuse_accessibility(monkeypatch):
    net = build_network(grid())
    homes = pts([(0, 0), (400, 400)], id=["h1", "h2"], gfa_m2=[1000.0, 3000.0], households=[10, 30])
    amen = pts([(100, 0), (0, 200), (400, 300)], category=["kindergarten", "clinic", "clinic"])
    circles = [{"name": "5min", "distance_m": 300, "required": [["kindergarten", "childcare"], ["clinic"]]},
               {"name": "15min", "distance_m": 1000, "required": [["clinic"], ["school"]]}]
    acc = W.accessibility(net, homes, amen, distances_m=[300, 1000])

    def no_search(*args, **kwargs):
        raise AssertionError("life_circles searched again although the accessibility result holds every distance")

    monkeypatch.setattr(W, "attach", no_search)
    monkeypatch.setattr(W.K, "multi_source_nearest", no_search)
    monkeypatch.setattr(W.K, "accumulate", no_search)
    lc = W.life_circles(net, homes, amen, circles=circles, access=acc)
    assert lc.buildings["lc_5min_pass"].tolist() == [True, False]
    assert lc.buildings["lc_5min_missing"].tolist() == ["", "kindergarten|childcare"]
    assert lc.buildings["lc_15min_missing"].tolist() == ["school", "school"]
    assert lc.summary.loc["5min", "gfa_pass_pct"] == 25.0
    assert lc.buildings["lc_note"].tolist() == ["none within 5000 m: childcare, school"] * 2


def test_life_circle_minutes_use_walking_speed():
    # 5 minutes at 1.2 m/s are 360 m: the clinic at 350 m is within, the cafe at 370 m is not
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=CRS))
    homes = pts([(0, 0)])
    amen = pts([(350, 0), (370, 0)], category=["clinic", "cafe"])
    circles = [{"name": "clinic", "minutes": 5, "required": [["clinic"]]},
               {"name": "cafe", "minutes": 5, "required": [["cafe"]]}]
    lc = W.life_circles(net, homes, amen, circles=circles, speed_m_s=1.2)
    assert lc.summary["distance_m"].tolist() == pytest.approx([360.0, 360.0])
    assert lc.buildings["lc_clinic_pass"].tolist() == [True]
    assert lc.buildings["lc_cafe_pass"].tolist() == [False] and lc.buildings["lc_cafe_missing"].tolist() == ["cafe"]
    slow = W.life_circles(net, homes, amen, circles=circles)  # 1.0 m/s: 300 m
    assert slow.buildings["lc_clinic_pass"].tolist() == [False]
    # distance_m, when given, wins over minutes
    fixed = W.life_circles(net, homes, amen, circles=[{**circles[1], "distance_m": 400}], speed_m_s=1.2)
    assert fixed.buildings["lc_cafe_pass"].tolist() == [True]


def test_life_circles_with_none_distance_use_minutes():
    """The project loader hands circles over with ``distance_m: None`` (and ``minutes: None``): None means not given."""
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=CRS))
    homes = pts([(0, 0)])
    amen = pts([(350, 0), (370, 0)], category=["clinic", "cafe"])
    circles = [{"name": "clinic", "distance_m": None, "minutes": 5, "required": [["clinic"]]},
               {"name": "cafe", "distance_m": 400, "minutes": None, "required": [["cafe"]]}]
    lc = W.life_circles(net, homes, amen, circles=circles, speed_m_s=1.2)
    assert lc.summary["distance_m"].tolist() == pytest.approx([360.0, 400.0])
    assert lc.buildings["lc_clinic_pass"].tolist() == [True] and lc.buildings["lc_cafe_pass"].tolist() == [True]
    with pytest.raises(rg.SchemaError, match="give distance_m"):
        W.life_circles(net, homes, amen, circles=[{"name": "x", "distance_m": None, "minutes": None, "required": [["cafe"]]}])
    # the typed record itself, as dataclasses.asdict gives it (tuples, None)
    record = dataclasses.asdict(LifeCircle(name="clinic", required=(("clinic",),), minutes=5))
    assert W.life_circles(net, homes, amen, circles=[record], speed_m_s=1.2).summary["distance_m"].tolist() == [360.0]


def _project_folder(tmp_path, sample_path, extra: str, *, speed_m_s: float = 1.0):
    """A copy of the sample's project.toml (its gpkg linked) with ``extra`` appended and ``[walk] speed_m_s`` set."""
    text = (sample_path / "project.toml").read_text(encoding="utf-8")
    assert "speed_m_s = 1.0" in text
    text = text.replace("speed_m_s = 1.0", f"speed_m_s = {speed_m_s}", 1)
    (tmp_path / "project.toml").write_text(text + "\n" + extra, encoding="utf-8")
    (tmp_path / "chuangchuangyi.gpkg").symlink_to(sample_path / "chuangchuangyi.gpkg")
    (tmp_path / "indicator_inputs.csv").write_bytes((sample_path / "indicator_inputs.csv").read_bytes())  # [scorecard] names it
    return tmp_path


def test_life_circles_in_minutes_end_to_end(tmp_path, sample_path):
    """[[life_circles]] given only in minutes, from project.toml through the walk analysis."""
    folder = _project_folder(tmp_path, sample_path, """
[[life_circles]]
name = "short"
minutes = 4
required = [["cafe", "restaurant"]]

[[life_circles]]
name = "long"
minutes = 12.5
required = [["clinic", "hospital"], ["pharmacy"]]
""", speed_m_s=1.2)
    p = rg.load_project(folder)
    r = rg.run_analyses(p, ["walk"])
    lc = r.tables["life_circles"]
    assert lc.loc["short", "distance_m"] == pytest.approx(4 * 60 * 1.2)
    assert lc.loc["long", "distance_m"] == pytest.approx(12.5 * 60 * 1.2)
    assert {"lc_short_pass", "lc_long_pass"} <= set(r.layer("buildings").columns)
    # the loader's other form: the typed record's keys all present, None where not given
    p.life_circles = [{"name": c["name"], "distance_m": None, "minutes": c["minutes"], "required": c["required"]}
                      for c in p.life_circles]
    again = rg.run_analyses(p, ["walk"]).tables["life_circles"]
    assert again["distance_m"].tolist() == pytest.approx([288.0, 900.0])


def test_green_access_and_parks():
    net = build_network(grid())
    homes = pts([(0, 0), (400, 400)])
    spaces = gpd.GeoDataFrame(
        {"space_type": ["green", "park"]},
        geometry=[shapely.box(10, 10, 90, 90), shapely.box(310, 310, 390, 390)], crs=CRS)
    g = W.green_access(net, homes, spaces, entry_spacing_m=10, entry_touch_m=15)
    # home 0 -> green entry at (10, 0)-ish: the outline runs 10 m from the streets
    assert g.loc[0, "green_dist_m"] == pytest.approx(20.0, abs=0.5)
    assert g.loc[1, "park_dist_m"] == pytest.approx(20.0, abs=0.5)
    assert bool(g.loc[0, "green_ok"]) and not bool(g.loc[0, "park_ok"])  # the park is 600+ m away


def test_axis_catchment_and_gaps():
    net = build_network(grid())
    axis = gpd.GeoDataFrame(geometry=[shapely.LineString([(200, 0), (200, 180)]), shapely.LineString([(200, 220), (200, 400)])], crs=CRS)
    b = pts([(0, 0), (200, 200), (400, 400)], gfa_m2=[100.0, 100.0, 200.0])
    r = W.axis_catchment(net, b, axis, distances_m=[100, 300])
    out, summary, gaps = r.buildings, r.summary, r.gaps
    # (200, 200) sits in the gap: 20 m to the axis's nearest end
    assert out["axis_dist_m"].tolist() == pytest.approx([200.0, 20.0, 200.0])

    assert summary.loc[100.0, "gfa_pct"] == 25.0 and summary.loc[300.0, "gfa_pct"] == 100.0
    assert not r.continuous and r.pieces == 2
    assert len(gaps) == 1 and gaps["gap_m"].iloc[0] == pytest.approx(40.0)
    assert gaps.geometry.iloc[0].centroid.equals(shapely.Point(200, 200))


def test_isochrones_grow_and_cut_last_edge():
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (2000, 0)])], crs=CRS))
    b = pts([(100, 5), (700, 5)], gfa_m2=[10.0, 20.0])
    iso = W.isochrones(net, gpd.GeoSeries([shapely.Point(1000, 0)], crs=CRS), minutes=[5, 10], buffer_m=10, buildings=b)
    assert iso["reachable_length_m"].tolist() == pytest.approx([600.0, 1200.0])  # 300 m each way, cut mid-edge
    assert iso["area_m2"].is_monotonic_increasing
    # planar: a 600 m stretch buffered by 10 m (area_m2 is the true area: UTM scale ~1.006 here, 500 km off its CM)
    assert iso.geometry.area.iloc[0] == pytest.approx(600 * 20 + np.pi * 100, rel=1e-3)
    assert iso.loc[0, "area_m2"] == pytest.approx(iso.geometry.area.iloc[0], rel=1e-2)

    # the building at x=700 is 300 m along + 5 m off the street: outside 5 min, inside 10
    assert iso["buildings"].tolist() == [0, 1] and iso["gfa_m2"].tolist() == [0.0, 20.0]



def test_one_attachment_for_every_measure():
    """Measures on one shared attachment (with every group) give the hand-computed values of each alone."""
    net = build_network(grid())
    homes = pts([(0, 0), (200, 200), (400, 400)], gfa_m2=[100.0, 100.0, 200.0])
    amen = pts([(400, 400), (100, 30), (50, 370)], category=["park", "cafe", "cafe"])  # the last 30 m off the street
    spaces = gpd.GeoDataFrame({"space_type": ["green", "park"]},
                              geometry=[shapely.box(10, 10, 90, 90), shapely.box(310, 310, 390, 390)], crs=CRS)
    axis = gpd.GeoDataFrame(geometry=[shapely.LineString([(200, 0), (200, 180)]), shapely.LineString([(200, 220), (200, 400)])], crs=CRS)
    start = gpd.GeoSeries([shapely.Point(0, 400)], crs=CRS)
    att = W.attach_layers(net, homes, amenities=amen, outdoor_spaces=spaces, axis=axis, isochrone_origins=start,
                          entry_spacing_m=10, entry_touch_m=15)
    assert set(att.item_node) == {"origins", "amenities", "green", "park", "axis", "isochrone_origins"}
    acc = W.accessibility(net, homes, amen, distances_m=[800, 1000], attached=att, nodes=True)
    assert acc.table["park_nearest_m"].tolist() == pytest.approx([800.0, 400.0, 0.0])
    assert acc.table["cafe_nearest_m"].tolist() == pytest.approx([130.0, 270.0, 380.0])
    assert acc.nodes is not None and len(acc.nodes) == len(net.nodes)
    assert acc.nodes["park_nearest_m"].min() == pytest.approx(0.0)  # the node at (400, 400)
    g = W.green_access(net, homes, spaces, entry_spacing_m=10, entry_touch_m=15, attached=att)
    assert g.loc[0, "green_dist_m"] == pytest.approx(20.0, abs=0.5) and g.loc[2, "park_dist_m"] == pytest.approx(20.0, abs=0.5)
    ax = W.axis_catchment(net, homes, axis, distances_m=[100, 300], attached=att)
    assert ax.buildings["axis_dist_m"].tolist() == pytest.approx([200.0, 20.0, 200.0])
    assert not ax.continuous and ax.pieces == 2
    iso = W.isochrones(net, start, minutes=[5], buffer_m=10, buildings=homes, attached=att)
    # the streets within 300 m of the corner (0, 400); the connectors of the other points are not
    # part of the walk (the cafe 30 m off the street at (50, 400) would add ~560 m2)
    streets = shapely.MultiLineString([[(0, 400), (300, 400)], [(0, 300), (200, 300)], [(0, 200), (100, 200)],
                                       [(0, 100), (0, 400)], [(100, 200), (100, 400)], [(200, 300), (200, 400)]])
    assert iso["reachable_length_m"].tolist() == pytest.approx([streets.length])
    assert iso.geometry.area.iloc[0] == pytest.approx(streets.buffer(10).area, rel=1e-3)
    assert iso["buildings"].tolist() == [0]
    with pytest.raises(rg.RenewgeoError, match="no 'axis' points"):
        W.axis_catchment(net, homes, axis, attached=W.attach_layers(net, homes))
    with pytest.raises(rg.RenewgeoError, match="2 origins given but the attachment holds 3"):
        W.accessibility(net, homes.iloc[:2], amen, attached=att)
    with pytest.raises(rg.RenewgeoError, match="another network"):
        W.accessibility(net, homes, amen, attached=W.attach_layers(build_network(grid(3)), homes, amenities=amen))


def test_node_accessibility_on_a_line():
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=CRS))
    a = pts([(300, -5), (700, 0)], category=["cafe", "cafe"])
    r = W.node_accessibility(net, a, distances_m=[500, 1000])
    assert r["cafe_nearest_m"].tolist() == pytest.approx([305.0, 300.0])
    assert r["cafe_count_500m"].tolist() == [1, 1] and r["cafe_count_1000m"].tolist() == [2, 2]


def test_the_walk_analysis_attaches_once(sample, monkeypatch):
    """One walk run used to insert the buildings into the network 6 times (twice with identical inputs)."""
    calls = []
    real = W.attach

    def counting(network, points, **kwargs):
        calls.append(sorted(points))
        return real(network, points, **kwargs)

    monkeypatch.setattr(W, "attach", counting)
    r = rg.run_analyses(sample, ["walk"])
    assert len(calls) == 1
    assert set(calls[0]) >= {"origins", "amenities", "green", "axis", "isochrone_origins"}
    assert len(r.layers["isochrones"]) == 3 and r.layer("buildings")["green_dist_m"].notna().all()


def test_nearest_max_m_reaches_every_measure(sample, monkeypatch):
    """[walk] nearest_max_m sets the search radius of every measure: one attachment, one search per kind of destination."""
    attaches, radii = [], []
    real_attach, real_nearest = W.attach, W.K.multi_source_nearest

    def counting_attach(network, points, **kwargs):
        attaches.append(sorted(points))
        return real_attach(network, points, **kwargs)

    def counting_nearest(*args, **kwargs):
        radii.append(args[-1])
        return real_nearest(*args, **kwargs)

    monkeypatch.setattr(W, "attach", counting_attach)
    monkeypatch.setattr(W.K, "multi_source_nearest", counting_nearest)
    r = rg.run_analyses(sample, ["walk"], overrides={"walk.nearest_max_m": 800})
    assert len(attaches) == 1
    # amenities (800 m, widened to the largest counting distance, 1,000 m), green space and parks together, the axis;
    # the life circles (at most 1,000 m) reuse the amenity search
    assert sorted(radii) == [800.0, 800.0, 1000.0]
    b = r.layer("buildings")
    notes = [n for n in pd.concat([b["walk_note"], b["lc_note"]]) if "none within" in n]
    assert notes and all("none within 800 m" in n for n in notes)
    assert not [n for n in pd.concat([b["walk_note"], b["lc_note"]]) if "5000" in n]


def test_nearest_max_m_of_each_measure():
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (2000, 0)])], crs=CRS))
    homes = pts([(0, 0)])
    spaces = gpd.GeoDataFrame({"space_type": ["park"]}, geometry=[shapely.box(1500, 5, 1600, 50)], crs=CRS)
    g = W.green_access(net, homes, spaces, nearest_max_m=1000)
    assert np.isnan(g.loc[0, "park_dist_m"]) and np.isnan(g.loc[0, "green_dist_m"])  # a park is green space too
    assert g.loc[0, "green_note"] == "none within 1000 m: green"
    assert W.green_access(net, homes, spaces).loc[0, "park_dist_m"] == pytest.approx(1505.0, abs=10)  # an entry every 20 m of the outline
    axis = gpd.GeoDataFrame(geometry=[shapely.LineString([(1200, 0), (1800, 0)])], crs=CRS)
    assert np.isnan(W.axis_catchment(net, homes, axis, nearest_max_m=1000).buildings.loc[0, "axis_dist_m"])
    assert W.axis_catchment(net, homes, axis).buildings.loc[0, "axis_dist_m"] == pytest.approx(1200.0)
    amen = pts([(1500, 0)], category=["clinic"])
    circles = [{"name": "c", "distance_m": 300, "required": [["clinic"]]}]
    assert W.life_circles(net, homes, amen, circles=circles, nearest_max_m=1000).buildings.loc[0, "lc_note"] == \
        "none within 1000 m: clinic"
    assert W.life_circles(net, homes, amen, circles=circles).buildings.loc[0, "lc_note"] == ""


def test_an_attachment_of_another_network_is_refused():
    """Two networks of the same node count: the attachment of one must not pass for the other's."""
    a = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=CRS))
    b = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (0, 400)])], crs=CRS))
    assert len(a.nodes) == len(b.nodes)
    homes = pts([(100, 10)])
    amen = pts([(300, -5)], category=["cafe"])
    att = W.attach_layers(a, homes, amenities=amen)
    assert W.accessibility(a, homes, amen, attached=att).table.loc[0, "cafe_nearest_m"] == pytest.approx(215.0)
    with pytest.raises(rg.RenewgeoError, match="another network.*attach_layers on this network"):
        W.accessibility(b, homes, amen, attached=att)
    with pytest.raises(rg.RenewgeoError, match="another network"):
        W.life_circles(b, homes, amen, circles=[{"name": "c", "distance_m": 300, "required": [["cafe"]]}], attached=att)


def test_skip_reason_reads_well(sample):
    p = rg.Project.from_layers({"buildings": sample["buildings"]}, crs=sample.crs)
    assert W._applies(p) == ("the project has no amenities layer and no line layer to walk on "
                             "(paths, pedestrian_axis, landscape_corridor or trails)")
    assert rg.run_analyses(p, ["walk"]).skipped["walk"] == W._applies(p)
    paths = rg.Project.from_layers({"paths": sample["paths"]}, crs=sample.crs)
    assert W._applies(paths) == "the project has no buildings layer and no amenities layer"
    only = rg.Project.from_layers({"zones": sample["zones"]}, crs=sample.crs)
    assert W._applies(only) == ("the project has no buildings layer, no amenities layer and no line layer to walk on "
                                "(paths, pedestrian_axis, landscape_corridor or trails)")


def test_unknown_floor_area_is_noted(sample):
    b = sample["buildings"].copy()
    unknown = b.index[::5]  # 6 of 26 buildings: nothing to compute their floor area from
    b.loc[unknown, ["floors", "height_m", "gfa_m2"]] = np.nan
    layers = {k: sample[k] for k in ("paths", "pedestrian_axis", "amenities", "outdoor_spaces")}
    p = rg.Project.from_layers({"buildings": b, **layers}, crs=sample.crs)
    r = rg.run_analyses(p, ["walk"])
    notes = [n for n in r.results["walk"].notes if "floor area" in n]
    assert notes == [f"the floor area (gfa_m2) of {len(unknown)} of {len(b)} buildings is unknown (no gfa_m2, floors or height_m): "
                     "GFA shares and sums (life_circles gfa_pass_pct, axis_catchment gfa_pct, isochrones gfa_m2) count only "
                     f"the other {len(b) - len(unknown)}"]
    # and so they do: the share of the known floor area
    out = r.layer("buildings")
    gfa, ok = out["gfa_m2"], out["lc_15min_pass"].astype(bool)
    assert gfa.isna().sum() == len(unknown)
    assert r.tables["life_circles"].loc["15min", "gfa_pass_pct"] == pytest.approx(100 * gfa[ok].sum() / gfa.sum())
    assert not [n for n in rg.run_analyses(sample, ["walk"]).results["walk"].notes if "floor area" in n]


def test_report_prints_the_network_as_a_sentence(sample):
    res = rg.run_analyses(sample, ["walk"]).results["walk"]
    row = res.tables["network"].iloc[0]
    first = W._report(res).splitlines()[0]
    assert first == (f"network: {row['nodes']} nodes, {row['edges']} edges, {row['length_m'] / 1000:.1f} km in 1 component; "
                     f"{row['dangling_ends']} dangling ends")
    one = pd.DataFrame([{"nodes": 2, "edges": 1, "length_m": 1234.0, "components": 2, "dangling_ends": 1}])
    assert W._network_line(one.iloc[0]) == "network: 2 nodes, 1 edge, 1.2 km in 2 components; 1 dangling end"


def test_declared_layer_columns_cover_the_sample_run(sample):
    """Targets may name result layers' columns: every column a walk run returns is declared."""
    from fnmatch import fnmatchcase

    from renewgeo.analysis import REGISTRY
    from renewgeo.schemas import RESULT_LAYERS

    walk = REGISTRY["walk"]
    assert set(walk.layer_columns) == set(walk.layers)
    assert all(RESULT_LAYERS[name].columns == walk.layer_columns[name] for name in walk.layers)
    r = rg.run_analyses(sample, ["walk"]).results["walk"]
    assert set(r.layers) >= {"network_nodes", "network_edges", "isochrones"}
    net = build_network(grid())
    axis = gpd.GeoDataFrame(geometry=[shapely.LineString([(200, 0), (200, 180)]), shapely.LineString([(200, 220), (200, 400)])], crs=CRS)
    gaps = W.axis_catchment(net, pts([(0, 0)]), axis).gaps  # the sample's axis is continuous
    for name, layer in {**r.layers, "axis_gaps": gaps}.items():
        cols = [c for c in layer.columns if c != layer.geometry.name]
        undeclared = [c for c in cols if not any(fnmatchcase(c, pat) for pat in walk.layer_columns[name])]
        assert not undeclared, (name, undeclared)


def test_sample_project_walkability(sample):
    r = rg.run_analyses(sample, ["walk"])
    b = r.layer("buildings")
    assert r.tables["network"].loc[0, "components"] == 1
    assert r.tables["axis_catchment"]["continuous"].all()
    assert b["daily_dist_m"].notna().all()
    assert b["daily_dist_m"].max() < 600
    iso = r.layers["isochrones"]
    assert iso["area_m2"].is_monotonic_increasing and iso["gfa_m2"].is_monotonic_increasing
    lc = r.tables["life_circles"]
    # GB 50180-2018's 15-minute circle needs a post office (邮政营业场所, category post) within 1,000 m: the sample has
    # no amenity of category post at all (checked on the raw layer), so no building passes (the old simplified table
    # passed B24 and B25, 100 % of households) and the post office is named as what is most often missing
    assert not (sample["amenities"]["category"].astype("object") == "post").any()
    assert lc.loc["15min", "buildings_pass"] == 0 and lc.loc["15min", "households_pass_pct"] == 0.0
    assert lc.loc["15min", "most_missing"] == "邮政营业场所 Post office" and lc.loc["15min", "most_missing_buildings"] == len(b)
    assert b["lc_15min_missing"].str.contains("邮政营业场所 Post office").all()
    assert set(r.tables) >= {"life_circles", "green_access", "axis_catchment", "walk_by_category", "network"}


def test_doors_are_on_the_ground_not_over_a_tunnel():
    """Issue 12: a building over a tunnel walks to the street 10 m away, not into the tunnel under it."""
    streets = gpd.GeoDataFrame({"level": [0, -1, 0, 0]}, geometry=[
        shapely.LineString([(0, 40), (300, 40)]), shapely.LineString([(0, 0), (300, 0)]),
        shapely.LineString([(0, 0), (0, 40)]), shapely.LineString([(300, 0), (300, 40)])], crs=32632)
    net = build_network(streets)
    b = gpd.GeoDataFrame({"id": ["over_tunnel", "far_below"]}, geometry=[shapely.box(140, -5, 160, 30),
                                                                         shapely.box(140, -90, 160, -80)], crs=32632)
    a = gpd.GeoDataFrame({"id": ["cafe"], "category": ["cafe"]}, geometry=[shapely.Point(150, 45)], crs=32632)
    res = W.accessibility(net, b.set_index("id"), a, distances_m=[300])
    r = res.table
    # facade middle (150, 30) -> street (150, 40): 10 m; along 0 m; cafe 5 m off the street
    assert r.loc["over_tunnel", "cafe_nearest_m"] == pytest.approx(15.0)
    assert r.loc["over_tunnel", "snap_m"] == pytest.approx(10.0) and r.loc["over_tunnel", "snap_level"] == 0
    assert r.loc["over_tunnel", "note"] == ""
    # 80 m below the tunnel, 120 m from the street: no ground within 100 m, so the tunnel, and the result says so
    assert r.loc["far_below", "snap_level"] == -1 and r.loc["far_below", "snap_m"] == pytest.approx(80.0)
    assert r.loc["far_below", "note"] == "attached at level -1: no ground-level path within 100 m"
    assert r.loc["far_below", "cafe_nearest_m"] == pytest.approx(80 + 150 + 40 + 150 + 5)
    assert res.off_ground_amenities == []
    under = gpd.GeoDataFrame({"id": ["kiosk"], "category": ["cafe"]}, geometry=[shapely.Point(200, -70)], crs=32632)
    assert W.accessibility(net, b, under).off_ground_amenities == ["kiosk"]


def test_long_notes_are_whole():
    """Issue 12: a note is never cut to a fixed width, also when a short note comes first."""
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (100, 0)])], crs=CRS))
    o = pts([(0, 5000), (0, 0)])
    a = pts([(50, 0)], category=["bus_stop"])
    cats = ["bus_stop", "pharmacy", "restaurant", "supermarket", "convenience_store"]
    note = W.accessibility(net, o, a, categories=cats).table["note"].tolist()
    assert note == ["not attached: farther than 100 m from the network",
                    "none within 5000 m: pharmacy, restaurant, supermarket, convenience_store"]


def test_the_walk_analysis_traces_edges_and_levels(sample):
    r = rg.run_analyses(sample, ["walk"])
    edges = r.results["walk"].layers["network_edges"]
    paths = {k: sample.layers[k] for k, kind in sample.kinds.items() if kind in W.NETWORK_KINDS}
    assert set(edges["source_layer"]) <= set(paths) | {"walkable_polygons"}
    for layer, ids in edges.groupby("source_layer")["source_id"]:
        if layer != "walkable_polygons":
            assert set(ids) <= set(paths[layer]["id"].astype(str))
    b = r.layer("buildings")
    assert (b["walk_snap_level"] == 0).all()
    assert r.tables["network"].loc[0, "level_junctions"] >= 0


# ------------------------------------------------------------------------ against networkx
def _add(g, a, b, w):
    """Add an edge, keeping the shorter of parallel edges (nx.Graph holds one per pair)."""
    if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
        g.add_edge(a, b, weight=float(w))


def _ground_first(points, edges, level, max_m=100.0):
    """The edge each point hangs on, by the test's own rule: the nearest ground-level edge
    within max_m, else the nearest edge of another level; ties by level, then lowest id."""
    chosen = np.full(len(points), -1)
    for tier in (np.flatnonzero(level == 0), np.flatnonzero(level != 0)):
        todo = np.flatnonzero(chosen < 0)
        if len(tier) == 0 or len(todo) == 0:
            continue
        (s, c), _ = shapely.STRtree(edges[tier]).query_nearest(points[todo], max_distance=max_m, all_matches=True,
                                                               return_distance=True)
        for i in np.unique(s):
            cands = tier[c[s == i]]
            chosen[todo[i]] = min(cands, key=lambda e: (abs(level[e]), e))
    return chosen


def _nx_graph_with_points(net, groups):
    """networkx graph of the network with every point inserted as a real node on its
    nearest ground-level edge (the test's own implementation: split edges chained in order)."""
    edges = net.edges.geometry.values
    level = net.edges["level"].to_numpy()
    on_edge = {}
    names = {}
    for prefix, points in groups.items():
        chosen = _ground_first(points, edges, level)
        src, eidx = np.flatnonzero(chosen >= 0), chosen[chosen >= 0]
        names[prefix] = {}
        for i, e in zip(src, eidx, strict=True):
            near = shapely.get_point(shapely.shortest_line(points[i], edges[e]), -1)
            t = edges[e].project(near)
            item = (prefix, int(i))
            names[prefix][int(i)] = item
            on_edge.setdefault(int(e), []).append((t, item, float(points[i].distance(near))))
    g = nx.Graph()
    for e, (u, v, length) in enumerate(zip(net.edges["u"], net.edges["v"], net.edges["length_m"], strict=True)):
        stops = sorted(on_edge.get(e, []), key=lambda s: s[0])
        prev, prev_t = int(u), 0.0
        for k, (t, item, conn) in enumerate(stops):
            mid = ("on", e, k)
            _add(g, prev, mid, t - prev_t)
            _add(g, mid, item, conn)
            prev, prev_t = mid, t
        _add(g, prev, int(v), float(length) - prev_t)
    return g, names



@pytest.fixture(scope="module")
def porto(shared_data):
    p = rg.io.read_osm(shared_data / "osm" / "porto_downtown.osm.pbf", what="paths")
    proj = rg.Project.from_layers({"paths": p}, repair=True)
    return build_network(proj["paths"])


@pytest.mark.realdata
def test_porto_distances_equal_networkx(porto):
    net = porto
    assert net.report.nodes > 3000
    rng = np.random.default_rng(42)
    _minx, _miny, _maxx, _maxy = net.edges.total_bounds
    # 1,000 origins and 200 amenities snapped onto edges (random points near streets)
    edges = net.edges.geometry.values
    pick = rng.integers(0, len(edges), 1200)
    base = shapely.line_interpolate_point(edges[pick], rng.uniform(0, 1, 1200), normalized=True)
    xy = shapely.get_coordinates(base) + rng.normal(0, 8, (1200, 2))
    origins = gpd.GeoDataFrame(geometry=shapely.points(xy[:1000]), crs=net.crs)
    amen = gpd.GeoDataFrame({"category": ["cafe"] * 120 + ["clinic"] * 80}, geometry=shapely.points(xy[1000:]), crs=net.crs)
    r = W.accessibility(net, origins, amen, distances_m=[300, 500, 1000], nearest_max_m=100000).table
    # the same on an attachment shared with 300 more points (as analyse() shares one): they split
    # more edges but must not change a distance
    extra = gpd.GeoSeries(shapely.points(shapely.get_coordinates(base[:300]) + rng.normal(0, 8, (300, 2))), crs=net.crs)
    shared = W.accessibility(net, origins, amen, distances_m=[300, 500, 1000], nearest_max_m=100000,
                             attached=W.attach_layers(net, origins, amenities=amen, isochrone_origins=extra)).table
    g, names = _nx_graph_with_points(net, {"o": origins.geometry.values, "a": amen.geometry.values})
    o_names, a_names = names["o"], names["a"]
    assert len(o_names) == 1000
    for cat in ("cafe", "clinic"):
        sources = [a_names[i] for i in np.flatnonzero(amen["category"] == cat)]
        ref = nx.multi_source_dijkstra_path_length(g, sources)
        theirs = np.array([ref.get(o_names[i], np.inf) for i in range(1000)])
        reach = np.isfinite(theirs)
        for table in (r, shared):
            ours = table[f"{cat}_nearest_m"].to_numpy()
            assert np.array_equal(np.isfinite(ours), reach)
            assert np.abs(ours[reach] - theirs[reach]).max() < 1e-6
    # counts equal a brute-force count over per-amenity Dijkstra
    cafes = [a_names[i] for i in np.flatnonzero(amen["category"] == "cafe")]
    counts = np.zeros((1000, 3), dtype=int)
    lookup = {o_names[i]: i for i in range(1000)}
    for s in cafes:
        for node, d in nx.single_source_dijkstra_path_length(g, s, cutoff=1000).items():
            if node in lookup:
                counts[lookup[node]] += np.array([d <= 300, d <= 500, d <= 1000])
    for j, t in enumerate(("300m", "500m", "1000m")):
        assert np.array_equal(r[f"cafe_count_{t}"].to_numpy(dtype=int), counts[:, j])
        assert np.array_equal(shared[f"cafe_count_{t}"].to_numpy(dtype=int), counts[:, j])


@pytest.mark.realdata
def test_porto_downtown_buildings_and_pois(shared_data):
    path = shared_data / "osm" / "porto_downtown.osm.pbf"
    b = rg.io.read_osm(path, what="buildings")
    a = rg.io.read_osm(path, what="amenities")
    s = rg.io.read_osm(path, what="paths")
    p = rg.Project.from_layers({"buildings": b, "amenities": a, "paths": s}, repair=True)
    net = W.network_from_project(p)
    r = W.accessibility(net, p["buildings"], p["amenities"], categories=["cafe", "pharmacy", "bus_stop"]).table
    attached = r["note"] != r["note"].where(r["note"].str.startswith("not attached"), "")
    assert len(r) == 11393
    share = r["cafe_nearest_m"].notna().mean()
    assert share > 0.95
    assert r["cafe_nearest_m"].median() < 300  # downtown Porto: cafes everywhere
    assert attached.sum() + r["cafe_nearest_m"].notna().sum() >= len(r) * 0.95


def test_default_life_circles_come_from_the_gb50180_table():
    """The default circles are the GB 50180-2018 rows, derived independently here with tomllib; requirements keep names."""
    import tomllib
    from importlib import resources

    from renewgeo.schemas import AMENITY_CATEGORIES
    doc = tomllib.loads(resources.files("renewgeo.data").joinpath("life_circles_gb50180.toml").read_text(encoding="utf-8"))
    assert "life_circles" not in doc  # one source: the facility rows
    circles = W.default_life_circles()
    assert [(c["name"], c["distance_m"]) for c in circles] == [("5min", 300.0), ("10min", 500.0), ("15min", 1000.0)]
    for c in circles:
        rows = [f for f in doc["facilities"] if f["level"] == c["name"] and f["provision"] == "required" and "standard" not in f
                and any(k in AMENITY_CATEGORIES for k in f["categories"])]
        assert {tuple(sorted(r)) for r in c["required"]} == {tuple(sorted(f["categories"])) for f in rows}
        assert len(c["required"]) == len(c["facilities"])
        ids = {i for lab in c["facilities"] for i in lab["facility"].split("+")}
        assert ids == {f["id"] for f in rows}
    five = circles[0]
    k = five["required"].index(["kindergarten"])
    assert five["facilities"][k]["label"] == "幼儿园 Kindergarten" and "B.0.1" in five["facilities"][k]["clause"]
    ten = circles[1]
    assert ["primary_school", "school"] in ten["required"]  # OSM's amenity=school counts for the primary school
    assert len(W.default_life_circles(standards=["GB 50180-2018", "TD/T 1062-2021"])[0]["required"]) > len(five["required"])
    with pytest.raises(rg.RenewgeoError, match="standards"):
        W.default_life_circles(standards=["GB 99999"])


def test_life_circle_osm_tags_map_to_their_categories_or_say_why():
    """Each required facility's OSM tags reach one of its categories through osm_categories.csv, or its note says why."""
    import csv
    from importlib import resources

    with resources.files("renewgeo.data").joinpath("osm_categories.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cat = {(r["key"], r["value"]): r["category"] for r in rows}
    for f in W.life_circle_standard()["facilities"]:
        if f["provision"] != "required" or not f["categories"]:
            continue
        for tag in f["osm_tags"]:
            k, v = tag.split("+")[0].strip().split("=")
            mapped = cat.get((k, v), cat.get((k, "*")))
            assert mapped in f["categories"] or tag.split(" +")[0] in f.get("note", ""), (f["id"], tag, mapped)


def test_life_circles_name_the_missing_facility():
    net = build_network(grid())
    homes = pts([(0, 0)], id=["h1"], gfa_m2=[1000.0], households=[10])
    amen = pts([(100, 0)], category=["clinic"])
    circles = [c for c in W.default_life_circles() if c["name"] == "5min"]
    lc = W.life_circles(net, homes, amen, circles=circles)
    missing = lc.buildings.loc[0, "lc_5min_missing"]
    assert "幼儿园 Kindergarten" in missing and "公共厕所 Public toilet" in missing and "|" not in missing
    s = lc.summary.loc["5min"]
    assert s["most_missing"] == "社区服务站 Community service station" and s["most_missing_buildings"] == 1
    assert "B.0.1" in s["most_missing_clause"]
    r = lc.requirements
    assert len(r) == len(circles[0]["required"]) and r.loc[r.facility == "kindergarten", "buildings_met"].tolist() == [0]
