"""Large projects on dask.distributed: a real 2-process LocalCluster gives the single-process answer.

The equality is checked on hand-computable cases (tiles cutting a street between an
origin and its amenities), on the bundled samples, and on a real city (downtown Porto
from ../shared/data), with the same code run once in-process and once on the cluster.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import renewgeo as rg
from renewgeo import area
from renewgeo import compute as C
from renewgeo import walkability as W
from renewgeo.network import build_network

CRS = 32651


@pytest.fixture(scope="module")
def engine():
    eng = C.start_local(2)
    info = eng.client.scheduler_info(n_workers=-1)["workers"]
    assert len(info) == 2  # two worker processes (Nannies), not threads of this one
    pids = set(eng.client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2 and __import__("os").getpid() not in pids
    yield eng
    eng.close()


def _tiled(eng: C.Engine, tiling: C.Tiling) -> C.Engine:
    from dataclasses import replace
    return replace(eng, tiling=tiling)


# ------------------------------------------------------------------------ tiles
def test_workers_run_one_numba_thread_and_this_process_keeps_its_environment(engine):
    """The workers' NUMBA_NUM_THREADS was set through dask's pre-spawn environment, i.e. in this process too: numba then
    refused every later compilation here (found by tests/test_kernels.py running after this file)."""
    import numba

    assert set(engine.client.run(lambda: __import__("os").environ.get("NUMBA_NUM_THREADS")).values()) == {"1"}

    assert numba.njit(lambda x: x * 2)(21) == 42  # a compilation after the cluster started


def test_tile_labels():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [2500.0, 0.0], [2600.0, 3000.0]])
    assert C.tile_labels(xy, C.Tiling("grid", tile_m=2000.0)).tolist() == [0, 0, 1, 2]
    zones = [shapely.box(-1, -1, 1000, 1000), shapely.box(1000, -1, 3000, 1000)]
    assert C.tile_labels(xy, C.Tiling("zones", zones=zones)).tolist() == [0, 0, 1, 1]  # the last is outside: nearest zone
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 1000, (1000, 2))
    lab = C.tile_labels(pts, C.Tiling("hilbert", count=4))
    assert np.bincount(lab).tolist() == [250] * 4
    # Hilbert runs are compact: each tile's box is much smaller than the whole
    for t in range(4):
        box = np.ptp(pts[lab == t], axis=0)
        assert box.prod() < 0.6 * 1000 * 1000


def test_tiling_from_settings():
    s = C.ComputeSettings()
    assert C.Tiling.of(s, zones=None).method == "hilbert"
    assert C.Tiling.of(s, zones=[shapely.box(0, 0, 1, 1)]).method == "hilbert"
    assert C.Tiling.of(C.ComputeSettings(tiles="zones"), zones=[shapely.box(0, 0, 1, 1)]).method == "zones"
    assert C.Tiling.of(C.ComputeSettings(tile_m=500.0)).method == "grid"
    with pytest.raises(rg.RenewgeoError, match="tile_m"):
        C.Tiling.of(C.ComputeSettings(tiles="grid"))
    with pytest.raises(rg.RenewgeoError, match="no zones"):
        C.Tiling.of(C.ComputeSettings(tiles="zones"))


def test_halo_subgraph_is_the_induced_subgraph():
    rng = np.random.default_rng(3)
    g = nx.gnm_random_graph(60, 150, seed=3)
    for u, v in g.edges:
        g.edges[u, v]["weight"] = float(rng.uniform(1, 10))
    a = nx.to_scipy_sparse_array(g, nodelist=range(60), weight="weight", format="csr")
    keep = rng.random(60) < 0.5
    ptr, ind, w, rows = C.halo_subgraph(a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data, keep)
    sub = g.subgraph(np.flatnonzero(keep))
    got = {(int(rows[i]), int(rows[j])): float(x) for i in range(len(rows)) for j, x in zip(ind[ptr[i]:ptr[i + 1]], w[ptr[i]:ptr[i + 1]],
                                                                                          strict=True)}
    want = {(u, v): d["weight"] for u, v, d in sub.edges(data=True)} | {(v, u): d["weight"] for u, v, d in sub.edges(data=True)}
    assert got == want


def test_halo_covers_every_path_within_the_limit():
    """A node within network distance d of a point lies within straight-line distance d of its anchor."""
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (300, 0), (300, 400), (900, 400)]),
                                       shapely.LineString([(300, 0), (800, 0)])], crs=CRS)
    net = build_network(lines)
    pts = gpd.GeoDataFrame(geometry=shapely.points([(50, 20), (310, 200), (700, 410), (790, -30)]), crs=CRS)
    att = W.attach_layers(net, pts)
    g = att.graph_tiling
    assert g.halo_m(500.0) < 502.0  # the noded graph stretches no edge beyond rounding
    from renewgeo import _kernels as K
    for s in att.item_node["origins"]:
        d = K.bounded_single(att.indptr, att.indices, att.weights, np.array([s]), np.zeros(1), 500.0)
        reach = np.isfinite(d)
        straight = np.hypot(*(g.anchor_xy[reach] - g.anchor_xy[s]).T)
        assert (straight <= d[reach] + 1e-6).all()


# ------------------------------------------------------------------------ hand-computable
def _street(n_amen: int = 21):
    """A 2 km street; origins every 37 m, 10 m off it; amenities every 100 m on it, alternately cafe and clinic."""
    net = build_network(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (2000, 0)])], crs=CRS))
    ox = np.arange(5.0, 2000.0, 37.0)
    origins = gpd.GeoDataFrame({"id": [f"o{i}" for i in range(len(ox))]}, geometry=shapely.points(np.c_[ox, np.full(len(ox), 10.0)]),
                               crs=CRS)
    ax = np.linspace(0, 2000, n_amen)
    amen = gpd.GeoDataFrame({"id": [f"a{i}" for i in range(len(ax))], "category": ["cafe", "clinic"] * (n_amen // 2) + ["cafe"]},
                            geometry=shapely.points(np.c_[ax, np.zeros(len(ax))]), crs=CRS)
    return net, origins, amen, ox, ax


@pytest.mark.parametrize("tiling", [C.Tiling("grid", tile_m=150.0), C.Tiling("hilbert", count=7), C.Tiling("grid", tile_m=5000.0)])
def test_street_cut_into_tiles_gives_the_hand_computed_answer(engine, tiling):
    net, origins, amen, ox, ax = _street()
    eng = _tiled(engine, tiling)
    r = W.accessibility(net, origins, amen, distances_m=[100, 300], nearest_max_m=1000, engine=eng).table
    single = W.accessibility(net, origins, amen, distances_m=[100, 300], nearest_max_m=1000).table
    cats = np.array(amen["category"])
    for c in ("cafe", "clinic"):
        a = ax[cats == c]
        d = np.abs(ox[:, None] - a[None, :]) + 10.0  # along the street, plus the 10 m to it
        assert np.allclose(r[f"{c}_nearest_m"], d.min(axis=1), atol=1e-9)
        for t in (100, 300):
            assert r[f"{c}_count_{t}m"].to_numpy(dtype=int).tolist() == (d <= t).sum(axis=1).tolist()
    _same_access(r, single)


def _same_access(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal: distances to 1e-9 m, counts exactly; gravity and linear are float32 sums, added in another order."""
    sums = [c for c in a.columns if "_gravity_" in c or "_linear_" in c]
    assert C.differences_frames(a.drop(columns=sums), b.drop(columns=sums)) == []
    assert C.differences_frames(a[sums], b[sums], rtol=1e-5, atol=1e-6) == []


def test_attached_points_of_another_group_do_not_change_tiled_results(engine):
    net, origins, amen, _, _ = _street()
    extra = gpd.GeoSeries(shapely.points(np.c_[np.arange(3.0, 2000, 11.0), np.full(182, -4.0)]), crs=CRS)
    att = W.attach_layers(net, origins, amenities=amen, isochrone_origins=extra)
    eng = _tiled(engine, C.Tiling("grid", tile_m=120.0))
    a = W.accessibility(net, origins, amen, distances_m=[150], attached=att, engine=eng, nodes=True)
    b = W.accessibility(net, origins, amen, distances_m=[150])
    _same_access(a.table, b.table)


# ------------------------------------------------------------------------ the samples and a real city
def _assert_equal(single: rg.RunResult, dist: rg.RunResult) -> None:
    diffs = C.differences(single, dist)
    assert diffs == [], "\n".join(diffs[:20])


@pytest.mark.parametrize("name", ["chuangchuangyi", "shibei_relocation"])
def test_samples_on_the_cluster_equal_one_process(engine, name):
    p = rg.load_project(rg.datasets.get_path(name))
    single = rg.run_analyses(p)
    _assert_equal(single, rg.run_analyses(p, engine=engine))
    if p.has("amenities"):
        walk = rg.run_analyses(p, ["walk"])
        # tiles so small that every search crosses several; the project's zones as tiles
        _assert_equal(walk, rg.run_analyses(p, ["walk"], engine=engine, overrides={"compute.tile_m": 60.0}))
        _assert_equal(walk, rg.run_analyses(p, ["walk"], engine=engine, overrides={"compute.tiles": "zones"}))


def test_area_partitioned_equals_one_process(engine):
    p = rg.load_project(rg.datasets.get_path("shibei_relocation"))
    b = p["buildings"]
    one = area.building_gfa(b, floor_height_m=3.0)
    parts = C.map_frame(engine, area.building_gfa, b, npartitions=5, floor_height_m=3.0)
    assert C.differences_frames(one, parts) == []


@pytest.fixture(scope="module")
def porto(shared_data):
    path = shared_data / "osm" / "porto_downtown.osm.pbf"
    layers = {k: rg.io.read_osm(path, what=w) for k, w in (("buildings", "buildings"), ("amenities", "amenities"), ("paths", "paths"))}
    return rg.Project.from_layers(layers, repair=True)


@pytest.mark.realdata
def test_porto_walk_on_the_cluster_equals_one_process(engine, porto):
    single = rg.run_analyses(porto, ["walk"])
    assert len(single.layer("buildings")) == 11393
    dist = rg.run_analyses(porto, ["walk"], engine=engine)
    _assert_equal(single, dist)
    b = dist.layer("buildings")
    assert b["walk_cafe_count_300m"].sum() > 50000  # downtown: cafes everywhere, so the counts are no trivial zeros


# ------------------------------------------------------------------------ engines
def test_scheduler_address_from_settings_or_argument(engine):
    p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    address = engine.client.scheduler.address
    seen = []
    real = C.nearest

    def spy(eng, *a, **k):
        seen.append(eng.client.scheduler.address)
        return real(eng, *a, **k)

    C.nearest = spy
    try:
        single = rg.run_analyses(p, ["walk"])
        _assert_equal(single, rg.run_analyses(p, ["walk"], overrides={"compute.scheduler": address}))
        with C.open_engine(scheduler=address) as eng:
            _assert_equal(single, rg.run_analyses(p, ["walk"], engine=eng))
    finally:
        C.nearest = real
    assert seen and set(seen) == {address}
    with C.open_engine() as none:
        assert none is None  # neither: in-process


def test_unreachable_scheduler_is_an_error_naming_the_fix():
    with pytest.raises(rg.RenewgeoError, match="--workers N"):
        C.connect("tcp://127.0.0.1:9", timeout_s=2)


def test_run_with_workers_from_the_command_line(tmp_path: Path, sample_path: Path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "renewgeo", "run", str(sample_path), "--workers", "2", "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(out / "tables" / "walk_by_category.csv", encoding="utf-8-sig", index_col=0)
    want = rg.run_analyses(rg.load_project(sample_path), ["walk"]).tables["walk_by_category"]
    assert np.allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), equal_nan=True)
