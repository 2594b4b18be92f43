"""Network building and topology repair, on hand-drawn cases."""

from __future__ import annotations

import copy
import pickle

import geopandas as gpd
import numpy as np
import pytest
import shapely

import renewgeo as rg
from renewgeo.network import attach, build_network, network_from_arrays

CRS = 32651


def lines(*coords, **cols):
    return gpd.GeoDataFrame(cols, geometry=[shapely.LineString(c) for c in coords], crs=CRS)


def test_crossing_lines_are_split():
    net = build_network(lines([(0, 0), (100, 0)], [(50, -50), (50, 50)]))
    assert (net.report.nodes, net.report.edges) == (5, 4)
    assert net.edges["length_m"].sum() == pytest.approx(200.0)
    centre = net.nodes[net.nodes["degree"] == 4]
    assert len(centre) == 1 and centre.geometry.iloc[0].equals(shapely.Point(50, 0))


def test_endpoint_snapping_and_t_junction():
    # a gap of 0.5 m between two ends, and a line stopping 0.6 m short of another
    net = build_network(lines([(0, 0), (100, 0)], [(100.3, 0.4), (200, 0)], [(150, 50), (150, 0.6)]))
    assert net.report.components == 1
    assert net.report.endpoints_snapped == 1 and net.report.endpoints_moved_onto_lines == 1
    far = build_network(lines([(0, 0), (100, 0)], [(103, 0), (200, 0)]))  # 3 m: not snapped
    assert far.report.components == 2 and far.report.endpoints_snapped == 0
    off = build_network(lines([(0, 0), (100, 0)], [(100.3, 0.4), (200, 0)]), snap_m=0)
    assert off.report.components == 2


def test_levels_bridge_crosses_without_joining():
    g = lines([(0, 0), (100, 0)], [(50, -50), (50, 50)], bridge=[False, True])
    net = build_network(g)
    assert net.report.components == 2 and net.report.nodes == 4
    g2 = lines([(0, 0), (100, 0)], [(50, -50), (50, 50)], level=[0, 0])
    assert build_network(g2).report.components == 1
    # a bridge joins the street at its own end
    g3 = lines([(0, 0), (100, 0)], [(100, 0), (200, 0)], [(150, -50), (150, 50)], bridge=[False, True, False])
    net3 = build_network(g3)
    assert net3.report.components == 2  # the cross street passes under the bridge
    assert net3.nodes["degree"].max() == 2


def test_duplicates_zero_length_dangles():
    g = lines([(0, 0), (100, 0)], [(0, 0), (100, 0)], [(100, 0), (100, 0)], [(100, 0), (100, 80)], id=["a", "b", "z", "c"])
    net = build_network(g)
    assert net.report.zero_length_dropped == ["z"]
    assert net.report.duplicate_length_removed_m == pytest.approx(100.0)
    assert net.report.edges == 2 and net.report.dangling_ends == 2
    assert net.nodes["dangling"].sum() == 2


def test_walkable_plaza_is_crossable():
    plaza = gpd.GeoDataFrame({"walkable": [True]}, geometry=[shapely.box(100, -50, 200, 50)], crs=CRS)
    g = lines([(0, 0), (100, 0)], [(200, 50), (300, 50)])
    net = build_network(g, walkable_polygons=plaza)
    assert net.report.components == 1 and net.report.chords_added >= 1
    chord = net.edges[net.edges["kind"] == "chord"]
    assert chord["length_m"].min() == pytest.approx(np.hypot(100, 50))  # straight across
    closed = plaza.assign(walkable=False)
    assert build_network(g, walkable_polygons=closed).report.components == 2


def test_degrees_and_empty_refused():
    with pytest.raises(rg.CRSError, match="degrees"):
        build_network(lines([(0, 0), (1, 0)]).set_crs(4326, allow_override=True))
    with pytest.raises(rg.RenewgeoError, match="no line with a length"):
        build_network(lines([(0, 0), (0, 0)]))


def test_attach_inserts_points_on_edges():
    net = build_network(lines([(0, 0), (100, 0)]))
    pts = gpd.GeoSeries([shapely.Point(30, 10), shapely.Point(30, -5), shapely.Point(0, 0), shapely.Point(50, 500)], crs=CRS)
    att = attach(net, {"p": pts}, max_snap_m=100)
    assert att.max_snap_m == 100
    nodes = att.item_node["p"]
    assert nodes[3] == -1 and np.isnan(att.connector_m["p"][3])
    assert att.connector_m["p"][:3].tolist() == pytest.approx([10.0, 5.0, 0.0])
    # the two points at x=30 share one on-edge node: edges 0-30, 30-100 and three connectors
    assert sorted(np.round(att.edge_w, 6).tolist()) == [0.0, 5.0, 10.0, 30.0, 70.0]


def test_an_attachment_knows_its_network():
    """Networks of equal node counts are told apart: attach records the network's token, copies keep it."""
    a = build_network(lines([(0, 0), (100, 0)]))
    b = build_network(lines([(0, 0), (0, 250)]))
    assert len(a.nodes) == len(b.nodes) and a.token != b.token
    att = attach(a, {"p": gpd.GeoSeries([shapely.Point(30, 10)], crs=CRS)})
    assert att.network_token == a.token != b.token
    assert copy.deepcopy(a).token == a.token and pickle.loads(pickle.dumps(a)).token == a.token
    assert "token" not in repr(a)


def test_network_from_arrays_without_repair():
    # a 100 m square and, apart, one 50 m edge
    xy = np.array([(0, 0), (100, 0), (100, 100), (0, 100), (500, 0), (550, 0)], dtype=float)
    net = network_from_arrays(xy, np.array([0, 1, 2, 3, 4]), np.array([1, 2, 3, 0, 5]), crs=CRS)
    r = net.report
    assert (r.nodes, r.edges, r.components, r.tiny_components, r.dangling_ends) == (6, 5, 2, 1, 2)
    assert r.length_m == pytest.approx(450.0) and r.largest_component_share == pytest.approx(400 / 450)
    assert net.nodes["degree"].tolist() == [2, 2, 2, 2, 1, 1]
    assert set(net.edges["kind"]) == {"line"} and set(net.edges["level"]) == {0}
    with pytest.raises(rg.CRSError, match="degrees"):
        network_from_arrays(xy, np.array([0]), np.array([1]), crs=4326)
