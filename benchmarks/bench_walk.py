"""Walking accessibility: renewgeo vs networkx, pandana and cityseer on the same task.

Task (issue 4): at every network node, for 5 categories of 2,000 amenities (400 each,
placed on random edges), the nearest amenity, the count within 300/500/800/1,000 m and
decay-weighted sums.

Networks: a 100,000-node street grid (316 x 316, 50 m blocks; all four engines), the
Porto metro street network from ../shared/data/osm/porto_metro_streets.osm.pbf
(renewgeo vs networkx), and a 1,000,000-node grid (renewgeo alone, in a fresh process
so that its peak memory is its own).

renewgeo's time is the accessibility computation on a built network (attaching the
amenities, the searches, the result table); networkx's is the same computation with its
Dijkstra; pandana's and cityseer's are end to end (their network preprocessing included).

``--no-peers`` leaves out pandana and cityseer (pandana alone takes minutes) and
``--no-1m`` the 1,000,000-node grid; their BENCH lines are then not printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict

import geopandas as gpd
import numba
import numpy as np
import shapely
from _common import bench, need_shared, peak_rss_gb

import renewgeo as rg
from renewgeo import walkability as W
from renewgeo.network import build_network, network_from_arrays

CRS = 32629
DIST = [300, 500, 800, 1000]
CATS = ["a", "b", "c", "d", "e"]
PEER_LIMIT_S = 180  # pandana's contraction hierarchies alone take longer than this here



def grid(n: int, step: float = 50.0):
    ii, jj = np.meshgrid(np.arange(n), np.arange(n))
    xy = np.column_stack([ii.ravel() * step, jj.ravel() * step]) + np.array([500000.0, 4500000.0])
    idx = np.arange(n * n).reshape(n, n)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return network_from_arrays(xy, u, v, crs=CRS)


def amenities(net, n: int = 2000, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    e = rng.integers(0, len(net.edges), n)
    p = shapely.line_interpolate_point(net.edges.geometry.values[e], rng.uniform(0.05, 0.95, n), normalized=True)
    return gpd.GeoDataFrame({"category": np.repeat(CATS, n // len(CATS))}, geometry=p, crs=net.crs)


def run_renewgeo(net, am):
    return W.node_accessibility(net, am, distances_m=DIST)


def run_networkx(net, am):
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(zip(net.edges["u"].tolist(), net.edges["v"].tolist(), net.edges["length_m"].tolist(), strict=True))
    # amenities on their edges, as real nodes (the same graph renewgeo searches)
    tree = shapely.STRtree(net.edges.geometry.values)
    _, eidx = tree.query_nearest(am.geometry.values, all_matches=False)
    for k, e in enumerate(eidx):
        line = net.edges.geometry.values[e]
        t = line.project(am.geometry.values[k])
        a, b, w = int(net.edges["u"].iat[e]), int(net.edges["v"].iat[e]), float(net.edges["length_m"].iat[e])
        g.add_edge(("a", k), a, weight=t)
        g.add_edge(("a", k), b, weight=w - t)
    th = np.array(DIST, dtype=float)
    out = {}
    for c in CATS:
        srcs = [("a", k) for k in np.flatnonzero(am["category"] == c)]
        nearest = nx.multi_source_dijkstra_path_length(g, srcs, cutoff=5000)
        count = defaultdict(lambda: np.zeros(len(th)))
        grav = defaultdict(lambda: np.zeros(len(th)))
        for s in srcs:
            for node, d in nx.single_source_dijkstra_path_length(g, s, cutoff=th.max()).items():
                within = d <= th
                count[node] += within
                grav[node] += within * np.exp(-4.0 / th * d)
        out[c] = (nearest, count, grav)
    return out


def run_pandana(net, am):
    import pandana

    xy = np.asarray(shapely.get_coordinates(net.nodes.geometry.values))
    import pandas as pd

    nodes = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    edges = pd.DataFrame({"from": net.edges["u"].to_numpy(), "to": net.edges["v"].to_numpy(), "w": net.edges["length_m"].to_numpy()})
    pn = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["w"]], twoway=True)
    pn.precompute(max(DIST))
    axy = shapely.get_coordinates(am.geometry.values)
    for c in CATS:
        sel = (am["category"] == c).to_numpy()
        pn.set_pois(category=c, maxdist=5000, maxitems=1, x_col=pd.Series(axy[sel, 0]), y_col=pd.Series(axy[sel, 1]))
        pn.nearest_pois(5000, c, num_pois=1)
        ids = pn.get_node_ids(pd.Series(axy[sel, 0]), pd.Series(axy[sel, 1]))
        pn.set(ids, variable=pd.Series(np.ones(len(ids)), index=ids.index), name=c)
        for d in DIST:
            pn.aggregate(d, type="sum", decay="flat", name=c)
            pn.aggregate(d, type="sum", decay="exp", name=c)
            pn.aggregate(d, type="sum", decay="linear", name=c)


def run_cityseer(net, am):
    from cityseer.metrics import layers
    from cityseer.tools import io

    g = io.nx_from_generic_geopandas(net.edges[["geometry"]])
    nodes_gdf, _edges_gdf, ns = io.network_structure_from_nx(g)
    layers.compute_accessibilities(am, "category", CATS, nodes_gdf, ns, distances=DIST)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def one_million() -> None:
    """Run in a fresh process: the 1,000,000-node grid, time and peak memory."""
    t0 = time.perf_counter()
    net = grid(1000)
    am = amenities(net)
    t_build = time.perf_counter() - t0
    cpu = time.process_time()
    t, r = timed(run_renewgeo, net, am)
    cpu = time.process_time() - cpu
    print(json.dumps({"nodes": len(net.nodes), "build_s": t_build, "seconds": t, "cpu_seconds": cpu, "threads": numba.get_num_threads(),
                      "peak_rss_gb": peak_rss_gb(), "cols": r.shape[1]}))


def main(*, peers: bool = True, one_m: bool = True) -> None:
    rg.options.progress = False
    # warm the JIT cache (compilation is a one-off, cached on disk)
    small = grid(20)
    t_jit, _ = timed(run_renewgeo, small, amenities(small, 100))
    print(f"numba kernels ready in {t_jit:.1f} s (first run compiles and caches them)")

    net = grid(316)
    am = amenities(net)
    print(f"grid: {len(net.nodes):,} nodes, {len(net.edges):,} edges; {len(am):,} amenities in {len(CATS)} categories")
    t_rg = min(timed(run_renewgeo, net, am)[0] for _ in range(3))
    t_nx, _ = timed(run_networkx, net, am)
    print(f"renewgeo {t_rg:.2f} s | networkx {t_nx:.2f} s")
    bench_lines = [("walk_speedup_vs_networkx", t_nx / t_rg, "x")]
    for name in ("pandana", "cityseer") if peers else ():
        try:
            res = subprocess.run([sys.executable, __file__, "--peer", name], capture_output=True, text=True, timeout=PEER_LIMIT_S)
        except subprocess.TimeoutExpired:
            print(f"{name} did not finish within {PEER_LIMIT_S} s end to end; its speedup below is a lower bound")
            bench_lines.append((f"walk_speedup_vs_{name}", PEER_LIMIT_S / t_rg, "x"))
            continue
        if res.returncode != 0:
            print(f"{name} could not run here ({res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}); no figure")
            continue
        t_peer = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
        print(f"{name} end to end {t_peer:.2f} s")
        bench_lines.append((f"walk_speedup_vs_{name}", t_peer / t_rg, "x"))

    pbf = need_shared() / "osm" / "porto_metro_streets.osm.pbf"
    t0 = time.perf_counter()
    streets = rg.io.read_osm(pbf, what="paths")
    proj = rg.Project.from_layers({"paths": streets}, repair=True)
    pnet = build_network(proj["paths"])
    t_pbuild = time.perf_counter() - t0
    pam = amenities(pnet)
    print(f"Porto metro: {len(streets):,} ways -> {pnet.report.nodes:,} nodes, {pnet.report.edges:,} edges "
          f"(read, validate, repair and build: {t_pbuild:.1f} s)")
    t_prg = min(timed(run_renewgeo, pnet, pam)[0] for _ in range(3))
    t_pnx, _ = timed(run_networkx, pnet, pam)
    print(f"Porto metro: renewgeo {t_prg:.2f} s | networkx {t_pnx:.2f} s")
    bench_lines.append(("walk_porto_speedup_vs_networkx", t_pnx / t_prg, "x"))
    bench_lines.append(("walk_porto_seconds", t_prg, "s"))

    if one_m:
        res = subprocess.run([sys.executable, __file__, "--one-million"], capture_output=True, text=True, check=True)
        big = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"1M grid: {big['nodes']:,} nodes built in {big['build_s']:.1f} s; accessibility {big['seconds']:.2f} s "
              f"({big['cpu_seconds']:.2f} s of CPU on {big['threads']} threads: more than the wall time only if the threads "
              f"found free cores), {big['cols']} columns; peak RSS of that process {big['peak_rss_gb']:.2f} GB")
        bench_lines += [("walk_1m_seconds", big["seconds"], "s"), ("walk_1m_peak_rss_gb", big["peak_rss_gb"], "GB")]
    for name, value, unit in bench_lines:
        bench(name, value, unit)


def peer(name: str) -> None:
    """Run in a fresh process: one peer end to end on the 100k grid."""
    net = grid(316)
    am = amenities(net)
    fn = {"pandana": run_pandana, "cityseer": run_cityseer}[name]
    t, _ = timed(fn, net, am)
    print(json.dumps({"seconds": t}))


if __name__ == "__main__":
    if "--peer" in sys.argv:
        peer(sys.argv[sys.argv.index("--peer") + 1])
    elif "--one-million" in sys.argv:
        rg.options.progress = False
        one_million()
    else:
        main(peers="--no-peers" not in sys.argv, one_m="--no-1m" not in sys.argv)
