"""Walking distances on real OSM (Porto's bridges over the Douro, Andorra's road tunnels)
against an independent walking graph: pyrosm reads the same extract, networkx routes on it.

The reference joins ways only where OSM says so (at shared nodes, whatever their levels),
hangs buildings and amenities on the nearest ground-level edge (another level only when
nothing on the ground is within 100 m), and knows nothing of renewgeo's network code.
Both sides keep the same ways (the paths reader's documented tag policy, applied here to
pyrosm's ways): what is compared is the graph, not the choice of walkable tags.
"""

from __future__ import annotations

import os

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import renewgeo as rg
from renewgeo import walkability as W

STRICT = os.environ.get("RENEWGEO_STRICT") == "1" or os.environ.get("CI") == "true"

MAX_SNAP_M = 100.0
RADIUS_M = 5000.0
SAMPLE = 500
CATEGORIES = ("cafe", "restaurant", "pharmacy", "bus_stop", "supermarket", "convenience_store")


def _levels(edges: pd.DataFrame) -> np.ndarray:
    """OSM level of each way: ``layer``, else 1 on a bridge, -1 in a tunnel, else 0 (the test's own reading)."""
    layer = pd.to_numeric(edges["layer"], errors="coerce") if "layer" in edges else pd.Series(np.nan, index=edges.index)
    bridge = edges["bridge"].notna() & (edges["bridge"] != "no") if "bridge" in edges else False
    tunnel = edges["tunnel"].notna() & (edges["tunnel"] != "no") if "tunnel" in edges else False
    layer = layer.where(layer.notna() | ~bridge, 1).where(layer.notna() | ~tunnel, -1)
    return layer.fillna(0).round().astype(int).to_numpy()


def _pyrosm_edges(path, crs) -> gpd.GeoDataFrame:
    try:
        from pyrosm import OSM
    except ImportError:
        reason = "pyrosm builds the independent walking graph: pip install -e '.[dev]'"
        if STRICT:
            pytest.fail(f"{reason} (CI must run this test)")
        pytest.skip(reason)

    _, edges = OSM(str(path)).get_network(network_type="all", nodes=True, extra_attributes=["layer", "foot", "access"])
    # the documented walking policy of the paths reader (its highway types; no foot=no; no private or closed ways
    # unless foot is allowed), applied by the test to pyrosm's ways
    foot, access = edges["foot"].astype("object"), edges["access"].astype("object")
    walkable = (edges["highway"].isin(rg.io.WALKABLE_HIGHWAYS) & ~foot.isin(["no"])
                & ~(access.isin(["private", "no"]) & ~foot.isin(["yes", "designated", "permissive"])))
    edges = edges[walkable.to_numpy(dtype=bool)]
    edges = edges.to_crs(crs).reset_index(drop=True)
    return gpd.GeoDataFrame({"u": edges["u"].to_numpy(), "v": edges["v"].to_numpy(), "level": _levels(edges)},
                            geometry=edges.geometry.values, crs=crs)


def _door_edges(geoms, edges, level):
    """Each item's edge: nearest ground-level edge within MAX_SNAP_M, else nearest edge of another level."""
    chosen = np.full(len(geoms), -1)
    for tier in (np.flatnonzero(level == 0), np.flatnonzero(level != 0)):
        todo = np.flatnonzero(chosen < 0)
        if len(tier) == 0 or len(todo) == 0:
            continue
        s, c = shapely.STRtree(edges[tier]).query_nearest(geoms[todo], max_distance=MAX_SNAP_M, all_matches=False)
        chosen[todo[s]] = tier[c]
    return chosen


def _graph_with_items(edges: gpd.GeoDataFrame, groups: dict[str, np.ndarray]) -> nx.Graph:
    """The pyrosm graph (OSM nodes) with every item a node hung on its edge, split edges chained in order."""
    geoms, level = edges.geometry.values, edges["level"].to_numpy()
    stops: dict[int, list] = {}
    for name, items in groups.items():
        chosen = _door_edges(items, geoms, level)
        for i in np.flatnonzero(chosen >= 0):
            e = int(chosen[i])
            door, on_edge = shapely.get_coordinates(shapely.shortest_line(items[i], geoms[e]))
            stops.setdefault(e, []).append((geoms[e].project(shapely.Point(on_edge)), (name, int(i)), float(np.hypot(*(door - on_edge)))))
    g = nx.Graph()

    def add(a, b, w):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
            g.add_edge(a, b, weight=float(w))

    for e, (u, v, line) in enumerate(zip(edges["u"], edges["v"], geoms, strict=True)):
        prev, prev_t = int(u), 0.0
        for k, (t, item, conn) in enumerate(sorted(stops.get(e, []), key=lambda s: s[0])):
            mid = ("on", e, k)
            add(prev, mid, t - prev_t)
            add(mid, item, conn)
            prev, prev_t = mid, t
        add(prev, int(v), line.length - prev_t)
    return g


def _agreement(shared_data, name: str) -> tuple[float, int, pd.DataFrame]:
    path = shared_data / "osm" / name
    layers = {what: rg.io.read_osm(path, what=what) for what in ("buildings", "amenities", "paths")}
    p = rg.Project.from_layers(layers, repair=True)
    b = p["buildings"].sample(n=min(SAMPLE, len(p["buildings"])), random_state=7).reset_index(drop=True)
    a = p["amenities"]
    cats = [c for c in CATEGORIES if (a["category"] == c).sum() >= 3]
    a = a[a["category"].isin(cats)].reset_index(drop=True)
    ours = W.accessibility(W.network_from_project(p), b, a, categories=cats, distances_m=[500], nearest_max_m=RADIUS_M).table
    g = _graph_with_items(_pyrosm_edges(path, p.crs), {"b": b.geometry.values, "a": a.geometry.values})
    rows = []
    for c in cats:
        sources = [("a", int(i)) for i in np.flatnonzero(a["category"] == c) if g.has_node(("a", int(i)))]
        ref = nx.multi_source_dijkstra_path_length(g, sources, cutoff=RADIUS_M)
        theirs = np.array([ref.get(("b", i), np.nan) for i in range(len(b))])
        rows.append(pd.DataFrame({"category": c, "renewgeo_m": ours[f"{c}_nearest_m"].to_numpy(), "reference_m": theirs}))
    d = pd.concat(rows, ignore_index=True)
    d = d[d["renewgeo_m"].notna() | d["reference_m"].notna()]
    close = (d["renewgeo_m"] - d["reference_m"]).abs() <= np.maximum(25.0, 0.10 * d["reference_m"])
    return float(close.mean()), len(d), d.assign(agree=close)


@pytest.mark.realdata
@pytest.mark.parametrize("extract", ["porto_downtown.osm.pbf", "andorra.osm.pbf"])
def test_nearest_amenity_agrees_with_an_independent_osm_graph(shared_data, extract):
    share, pairs, d = _agreement(shared_data, extract)
    worst = d.assign(diff=(d["renewgeo_m"] - d["reference_m"]).abs()).sort_values("diff", ascending=False).head(5)
    print(f"\n{extract}: {share:.1%} of {pairs:,} building-to-nearest-amenity distances agree with pyrosm + networkx "
          f"(within 10 % or 25 m); worst:\n{worst.to_string()}")
    assert pairs > 1000
    assert share >= 0.95
