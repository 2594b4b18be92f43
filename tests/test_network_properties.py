"""Invariants of network distances, on random planar street graphs with random levels.

A jittered lattice of streets, drawn as runs of several blocks (so junctions fall on
middle vertices of lines), each run on a random level. In OSM terms every lattice point
is a node the ways share, hence a junction whatever the levels. Random points are hung
on the nearest ground-level street within 100 m (another level only when no ground-level
street is in reach). networkx on the test's own graph is the reference.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renewgeo import walkability as W
from renewgeo.network import build_network

CRS = 32631
STEP_M = 100.0
MAX_SNAP_M = 100.0
TIE_M = 1e-6
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _street_graph(seed: int, n: int, keep: float, max_run: int):
    """Lattice points, the blocks kept (pairs of point ids, each with the level of its run), and the runs as lines."""
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    xy = np.column_stack([ii.ravel(), jj.ravel()]) * STEP_M + rng.uniform(-25, 25, (n * n, 2)) + [500000.0, 4500000.0]
    xy = np.round(xy, 3)  # on the 1 mm grid the network is noded on, so that noding moves nothing
    pid = np.arange(n * n).reshape(n, n)
    blocks, lines, levels = [], [], []
    for rows in (pid, pid.T):  # horizontal runs, then vertical runs
        for row in rows:
            k = 0
            while k < n - 1:
                run = int(rng.integers(1, max_run + 1))
                stops = row[k: min(k + run, n - 1) + 1]
                k += len(stops) - 1
                if rng.random() > keep:
                    continue
                level = int(rng.choice([-1, 0, 0, 1]))
                lines.append(shapely.LineString(xy[stops]))
                levels.append(level)
                blocks += [(int(a), int(b), level) for a, b in itertools.pairwise(stops)]
    return xy, blocks, lines, levels


def _hang(points, xy, blocks):
    """The test's own attachment: (block, distance along it, connector) per point, or None.

    Nearest ground-level block within MAX_SNAP_M, else nearest block of another level.
    A point equally near two blocks at different places is ambiguous and left out (None).
    """
    segs = shapely.linestrings([[xy[a], xy[b]] for a, b, _ in blocks])
    level = np.array([lv for _, _, lv in blocks])
    out = []
    for p in points:
        d = shapely.distance(p, segs)
        chosen = None
        for tier in (level == 0, level != 0):
            cand = np.flatnonzero(tier & (d <= MAX_SNAP_M))
            if len(cand):
                best = cand[d[cand] <= d[cand].min() + TIE_M]
                feet = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(p, segs[best]), -1))
                if np.ptp(feet, axis=0).max() > 1e-6:
                    return None  # a tie between two places: no single right answer for this point
                e = int(best[0])
                chosen = (e, float(segs[e].project(shapely.Point(feet[0]))), float(d[e]))
                break
        out.append(chosen)
    return out


def _reference(xy, blocks, groups):
    g = nx.Graph()
    stops: dict[int, list] = {}
    for name, hung in groups.items():
        for i, h in enumerate(hung):
            if h is not None:
                stops.setdefault(h[0], []).append((h[1], (name, i), h[2]))
    for e, (a, b, _) in enumerate(blocks):
        length = float(np.hypot(*(xy[b] - xy[a])))
        prev, prev_t = a, 0.0
        for k, (t, item, conn) in enumerate(sorted(stops.get(e, []), key=lambda s: s[0])):
            g.add_edge(prev, ("on", e, k), weight=max(t - prev_t, 0.0))
            g.add_edge(("on", e, k), item, weight=conn)
            prev, prev_t = ("on", e, k), t
        g.add_edge(prev, b, weight=max(length - prev_t, 0.0))
    return g


def _case(data):
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    n = data.draw(st.integers(3, 6), label="n")
    xy, blocks, lines, levels = _street_graph(seed, n, data.draw(st.floats(0.5, 1.0), label="keep"),
                                              data.draw(st.integers(1, 4), label="max_run"))
    if not lines:
        return None
    lo, hi = xy.min(axis=0) - 150, xy.max(axis=0) + 150
    rng = np.random.default_rng(seed + 1)
    k = data.draw(st.integers(2, 8), label="points")
    pts = shapely.points(rng.uniform(lo, hi, (k, 2)))
    hung = _hang(pts, xy, blocks)
    segs = shapely.linestrings([[xy[a], xy[b]] for a, b, _ in blocks])
    ambiguous = np.array([h is None and bool((shapely.distance(p, segs) <= MAX_SNAP_M).any()) for p, h in zip(pts, hung, strict=True)])
    pts = pts[~ambiguous]
    hung = [h for h, amb in zip(hung, ambiguous, strict=True) if not amb]
    net = build_network(gpd.GeoDataFrame({"level": levels}, geometry=lines, crs=CRS))
    return xy, blocks, net, pts, hung


def _pairwise(net, pts):
    """renewgeo's distance from each point (origin) to each point (amenity, its own category), NaN beyond reach."""
    origins = gpd.GeoDataFrame(geometry=pts, crs=CRS)
    amen = origins.assign(category=[f"p{i}" for i in range(len(pts))])
    t = W.accessibility(net, origins, amen, categories=list(amen["category"]), distances_m=[100], max_snap_m=MAX_SNAP_M,
                        nearest_max_m=1e6).table
    return np.column_stack([t[f"p{j}_nearest_m"].to_numpy(dtype=float) for j in range(len(pts))])


def test_the_street_generator_is_planar_and_joined_on_middle_vertices():
    _, blocks, lines, levels = _street_graph(0, 5, 1.0, 4)
    net = build_network(gpd.GeoDataFrame({"level": levels}, geometry=lines, crs=CRS))
    assert len(set(levels)) == 3 and any(len(line.coords) > 2 for line in lines)
    assert net.report.components == 1 and net.report.edges == len(blocks) == 2 * 5 * 4


@SETTINGS
@given(st.data())
def test_distances_equal_networkx(data):
    case = _case(data)
    if case is None:
        return
    xy, blocks, net, pts, hung = case
    if len(pts) < 2:
        return
    ours = _pairwise(net, pts)
    g = _reference(xy, blocks, {"o": hung, "a": hung})
    for j in range(len(pts)):
        ref = nx.single_source_dijkstra_path_length(g, ("a", j)) if ("a", j) in g else {}
        theirs = np.array([ref.get(("o", i), np.nan) for i in range(len(pts))])
        assert np.array_equal(np.isnan(ours[:, j]), np.isnan(theirs)), (j, ours[:, j], theirs)
        ok = ~np.isnan(theirs)
        assert np.allclose(ours[ok, j], theirs[ok], rtol=0, atol=1e-6), (j, ours[:, j], theirs)


@SETTINGS
@given(st.data())
def test_distances_are_symmetric_and_obey_the_triangle_inequality(data):
    case = _case(data)
    if case is None:
        return
    _, _, net, pts, _ = case
    if len(pts) < 2:
        return
    d = _pairwise(net, pts)
    both = ~np.isnan(d) & ~np.isnan(d.T)
    assert np.array_equal(np.isnan(d), np.isnan(d.T))
    assert np.allclose(d[both], d.T[both], rtol=0, atol=1e-6)
    # origin i -> amenity k never beats going by j: d(i,k) <= d(i,j) + d(j,k) (j's connector walked twice on the right)
    n = len(pts)
    for i in range(n):
        for j in range(n):
            for k in range(n):
                if not np.isnan(d[i, j]) and not np.isnan(d[j, k]):
                    assert d[i, k] <= d[i, j] + d[j, k] + 1e-6
