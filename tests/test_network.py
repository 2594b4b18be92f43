"""Network building and topology repair, on hand-drawn cases."""

from __future__ import annotations

import copy
import itertools
import math
import pickle

import geopandas as gpd
import networkx as nx
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


# ------------------------------------------------------------------------ levels (issue 12)
@pytest.mark.parametrize("cols", [{"level": [0, -1]}, {"bridge": [False, True]}, {"tunnel": [False, True]}])
def test_a_line_on_another_level_joins_at_a_shared_vertex(cols):
    """In OSM a shared node is a junction whatever the levels: the tunnel ends on the street's middle vertex."""
    g = gpd.GeoDataFrame(cols, geometry=[shapely.LineString([(0, 0), (50, 0), (100, 0)]),
                                         shapely.LineString([(50, 0), (50, -60)])], crs=32632)
    net = build_network(g)
    assert net.report.components == 1 and net.report.level_junctions == 1
    assert sorted(net.edges["length_m"].round(6)) == [50.0, 50.0, 60.0]
    assert net.nodes.loc[net.nodes.geometry.geom_equals(shapely.Point(50, 0)), "degree"].tolist() == [3]


def test_levels_join_at_shared_middle_vertices_and_at_ends_on_a_line():
    # a bridge and a street sharing a middle vertex of both; a ramp ending on the street's segment (no vertex there)
    g = lines([(0, 0), (50, 0), (100, 0)], [(50, -50), (50, 0), (50, 50)], [(80, 0), (80, -30)], level=[0, 1, -1])
    net = build_network(g)
    assert net.report.components == 1 and net.report.level_junctions == 2
    assert net.report.edges == 3 + 2 + 1  # street cut at 50 and 80; bridge cut at 50; the ramp whole
    deg = dict(zip(map(tuple, shapely.get_coordinates(net.nodes.geometry.values)), net.nodes["degree"], strict=True))
    assert deg[(50.0, 0.0)] == 4 and deg[(80.0, 0.0)] == 3
    # the same geometry without a shared vertex: the bridge passes over, only its ends meet anything
    over = lines([(0, 0), (100, 0)], [(50, -50), (50, 50)], level=[0, 1])
    assert build_network(over).report.components == 2 and build_network(over).report.level_junctions == 0


def test_a_junction_across_levels_is_not_snapped_away():
    """A street ending where a bridge starts (a shared OSM node) stays joined to it, though a footway
    passes 0.3 m away (under the bridge): the end is a junction, not a near miss to snap onto the footway."""
    g = lines([(0, 0), (100, 0)], [(100, 0), (200, 0)], [(100.3, -50), (100.3, 50)], level=[0, 1, 0])
    net = build_network(g)
    assert net.report.endpoints_moved_onto_lines == 0
    assert net.report.components == 2  # street + bridge; the footway under the bridge on its own
    street_end = net.nodes[net.nodes.geometry.geom_equals(shapely.Point(100, 0))]
    assert street_end["degree"].tolist() == [2]


def test_edges_carry_their_source():
    street = lines([(0, 0), (100, 0)], [(50, -50), (50, 50)], id=["w1", "w2"])
    trail = gpd.GeoDataFrame(geometry=[shapely.LineString([(100, 0), (200, 0)])], index=[7], crs=CRS)
    plaza = gpd.GeoDataFrame({"id": ["p9"], "walkable": [True]}, geometry=[shapely.box(200, -20, 240, 20)], crs=CRS)
    net = build_network({"streets": street, "trails": trail}, walkable_polygons=plaza)
    e = net.edges
    # each edge lies on the line it names (shapely, not renewgeo, says so)
    src = {("streets", "w1"): street.geometry[0], ("streets", "w2"): street.geometry[1], ("trails", "7"): trail.geometry[7]}
    for geom, layer, sid, kind in zip(e.geometry, e["source_layer"], e["source_id"], e["kind"], strict=True):
        if layer == "walkable_polygons":
            assert sid == "p9" and kind in ("outline", "chord") and plaza.geometry[0].buffer(1e-6).covers(geom)
        else:
            assert src[(layer, sid)].buffer(1e-6).covers(geom)
    assert (e["source_id"] == "w1").sum() == 2 and (e["source_id"] == "w2").sum() == 2
    assert set(build_network([street, trail]).edges["source_layer"]) == {"lines[0]", "lines[1]"}
    assert set(build_network(trail).edges["source_id"]) == {"7"}
    xy = np.array([(0, 0), (100, 0), (100, 100)], dtype=float)
    arr = network_from_arrays(xy, np.array([0, 1]), np.array([1, 2]), crs=CRS, source_id=["a", "b"])
    assert arr.edges["source_id"].tolist() == ["a", "b"] and set(arr.edges["source_layer"]) == {"arrays"}
    assert network_from_arrays(xy, np.array([0, 1]), np.array([1, 2]), crs=CRS).edges["source_id"].tolist() == ["0", "1"]
    with pytest.raises(rg.RenewgeoError, match="source ids"):
        network_from_arrays(xy, np.array([0, 1]), np.array([1, 2]), crs=CRS, source_id=["a"])


def _tunnel_case():
    """Street (0,40)-(300,40) on the ground, a tunnel (0,0)-(300,0) under it, ramps at both ends."""
    return lines([(0, 40), (300, 40)], [(0, 0), (300, 0)], [(0, 0), (0, 40)], [(300, 0), (300, 40)], level=[0, -1, 0, 0])


def test_attach_prefers_the_ground():
    net = build_network(_tunnel_case())
    assert net.report.components == 1
    items = gpd.GeoSeries([shapely.box(140, -5, 160, 30), shapely.Point(150, 45), shapely.Point(150, -80),
                           shapely.Point(150, 500)], crs=CRS)
    att = attach(net, {"p": items}, max_snap_m=100)
    level = net.edges["level"].to_numpy()
    edge = att.item_edge["p"]
    # the building over the tunnel hangs on the street 10 m away; the cafe on the street; a point
    # 80 m off the tunnel has no ground within 100 m (120 m to the street) and hangs on the tunnel; the last on nothing
    assert level[edge[:3]].tolist() == [0, 0, -1] and edge[3] == -1
    assert att.connector_m["p"][:3] == pytest.approx([10.0, 5.0, 80.0])
    # its door is the middle of the facade facing the street, not a corner
    assert att.node_xy[att.edge_v[att.edge_base == -1][0]].tolist() == pytest.approx([150.0, 40.0])


def test_ties_go_to_the_ground_then_the_lowest_edge_id():
    # a bridge crossing a street without a shared node; a point on the crossing is 0 m from both
    g = lines([(0, 0), (100, 0)], [(50, -50), (50, 50)], level=[1, 0])
    net = build_network(g)
    att = attach(net, {"p": gpd.GeoSeries([shapely.Point(50, 0)], crs=CRS)})
    assert net.edges["level"].iloc[att.item_edge["p"][0]] == 0
    # a point midway between two parallel streets: the lower edge id, whatever the order of the points
    par = build_network(lines([(0, 0), (100, 0)], [(0, 20), (100, 20)], [(0, 0), (0, 20)]))
    mid = gpd.GeoSeries([shapely.Point(30, 10), shapely.Point(60, 10), shapely.Point(0, 10)], crs=CRS)
    streets = np.flatnonzero(par.edges.geometry.length.round(6) == 100)
    for pts in (mid, mid.iloc[::-1]):
        e = attach(par, {"p": pts}).item_edge["p"]
        at_0 = pts.index.get_indexer([0, 1])
        assert e[at_0].tolist() == [streets.min()] * 2


def test_ties_are_broken_the_same_way_as_brute_force():
    """On a grid with points on nodes, on edges and halfway between them, the chosen edge is the lowest id
    among the edges at the least distance (computed by shapely for every edge)."""
    g = lines(*[[(0, y), (40, y)] for y in (0, 10, 20, 30, 40)], *[[(x, 0), (x, 40)] for x in (0, 10, 20, 30, 40)])
    net = build_network(g)
    xs = np.arange(0, 40.1, 2.5)
    pts = gpd.GeoSeries(shapely.points(np.array(np.meshgrid(xs, xs)).reshape(2, -1).T), crs=CRS)
    e = attach(net, {"p": pts}).item_edge["p"]
    d = shapely.distance(np.asarray(pts.values, dtype=object)[:, None], np.asarray(net.edges.geometry.values, dtype=object)[None, :])
    expected = [int(np.flatnonzero(row <= row.min() + 1e-9).min()) for row in d]
    assert e.tolist() == expected


def test_every_entry_of_a_plaza_off_the_noding_grid_gets_its_chords():
    """Nodes are rounded to the 1 mm grid, the plaza outline is not: entries were missed (the sample's axis
    promenade, long sides at x = ...017.98387, got 1 chord of 66; the whole sample 41 instead of 106)."""
    x0, y0 = 17.98387, 3.141592  # off the 1 mm grid
    plaza = shapely.box(x0, y0, x0 + 100.0, y0 + 60.0)
    # four streets, each ending on the middle of a side of the plaza (on the outline, off the grid)
    mids = [(x0 + 50, y0), (x0 + 100, y0 + 30), (x0 + 50, y0 + 60), (x0, y0 + 30)]
    outs = [(x0 + 50, y0 - 80), (x0 + 180, y0 + 30), (x0 + 50, y0 + 140), (x0 - 80, y0 + 30)]
    g = gpd.GeoDataFrame(geometry=[shapely.LineString([a, b]) for a, b in zip(outs, mids, strict=True)], crs=CRS)
    net = build_network(g, walkable_polygons=gpd.GeoDataFrame({"walkable": [True]}, geometry=[plaza], crs=CRS))
    assert net.report.chords_added == 6  # every pair of the 4 entries: the plaza is convex
    # independent check: networkx on the streets plus straight chords between the four entries
    G = nx.Graph()
    for a, b in zip(outs, mids, strict=True):
        G.add_edge(a, b, w=math.dist(a, b))
    for a, b in itertools.combinations(mids, 2):
        G.add_edge(a, b, w=math.dist(a, b))
    want = nx.shortest_path_length(G, outs[0], outs[2], weight="w")  # straight across: 80 + 60 + 80
    e = net.edges
    H = nx.Graph()
    for u, v, w in zip(e["u"], e["v"], e["length_m"], strict=True):
        H.add_edge(int(u), int(v), w=min(w, H[u][v]["w"]) if H.has_edge(u, v) else w)
    xy = shapely.get_coordinates(net.nodes.geometry.values)
    a, b = (int(np.argmin(np.hypot(*(xy - p).T))) for p in (outs[0], outs[2]))
    assert nx.shortest_path_length(H, a, b, weight="w") == pytest.approx(want, abs=0.01)


@pytest.mark.parametrize("ring", [
    [(80, 50), (80, 20), (120, 20), (120, 50)],  # the ring starts off the facade
    [(120, 20), (120, 50), (80, 50), (80, 20)],  # the ring starts at a corner of the facade: the door was put at that corner
])
def test_door_is_the_middle_of_the_facade_whatever_the_rings_start(ring):
    """The sample's B01: its door sat at the corner where its ring starts, 22 m off the facade's middle (459 m to the
    bookstore instead of the 437 m an independent graph gives)."""
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (200, 0)])], crs=CRS))
    att = attach(net, {"b": gpd.GeoDataFrame(geometry=[shapely.Polygon(ring)], crs=CRS)})
    on_edge = att.edge_v[att.edge_u == att.item_node["b"][0]][0]
    assert att.node_xy[on_edge][0] == pytest.approx(100.0)
    assert att.connector_m["b"][0] == pytest.approx(20.0)
