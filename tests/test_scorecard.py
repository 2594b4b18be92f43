"""The Green FTZ scorecard: the library, the inputs, every layer measure against an independent engine, stages, CLI.

Independent engines: pyproj (Geod areas and lengths on the ellipsoid), shapely, numpy and
networkx; never renewgeo's own functions. Values agree within 1e-6 relative.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.ops
from pyproj import Geod, Transformer

import renewgeo as rg
from renewgeo.scorecard import MEASURES, STAGE_IDS, load_library, read_inputs, stage_summary

CRS = 4549
X0, Y0 = 518000.0, 3985000.0
REL = 1e-6
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
TO_LL = Transformer.from_crs(CRS, 4326, always_xy=True)
SAMPLE = Path(__file__).resolve().parents[1] / "layers"


# ------------------------------------------------------------------------ independent geometry
def geod_area(geom) -> float:
    """Ellipsoidal area (m2) of a polygon in EPSG:4549, densified so that edges follow the projection."""
    if geom.is_empty:
        return 0.0
    g = shapely.segmentize(geom, 5.0)
    ll = shapely.transform(g, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return abs(GEOD.geometry_area_perimeter(ll)[0])


def geod_length(geom) -> float:
    if geom.is_empty:
        return 0.0
    g = shapely.segmentize(geom, 5.0)
    ll = shapely.transform(g, lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return GEOD.geometry_length(ll)


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def line(*xy):
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def close(a, b):
    assert a == pytest.approx(b, rel=REL, abs=1e-9), (a, b)


# ------------------------------------------------------------------------ the hand-made project
SITES = {"S1": box(0, 0, 200, 200), "S2": box(200, 0, 400, 200)}
def diamond(cx, cy, h=20.0):
    """A square standing on a corner: its point nearest a path is one vertex (no tie along a parallel edge)."""
    return shapely.Polygon([(X0 + cx, Y0 + cy - h), (X0 + cx + h, Y0 + cy), (X0 + cx, Y0 + cy + h), (X0 + cx - h, Y0 + cy)])


BUILDINGS = pd.DataFrame([
    # id,  geometry,            use_after,    use_before,  status,       treatment,         gfa,  households, population, progress, protected
    ("B1", diamond(40, 70), "residential", "industrial", "operating", "facade_upgrade", 4000.0, 100, None, 100.0, False),
    ("B2", diamond(150, 65), "tech_office", "industrial", "idle", "full_renovation", 6000.0, 0, None, 50.0, True),
    ("B3", diamond(210, 135, 30), "commercial", "warehouse", "operating", "facade_upgrade", 3000.0, None, 50, 80.0, False),
    ("B4", diamond(345, 62), "apartment", None, "new", "new_build", 2000.0, None, None, 20.0, False),
    ("B5", diamond(260, 65), None, "industrial", "demolished", "demolish", 1000.0, 0, None, None, True),
    ("B6", diamond(40, 135), "childcare", "industrial", "renovated", None, 800.0, 0, None, None, False),
], columns=["id", "geometry", "use_after", "use_before", "status", "treatment", "gfa_m2", "households", "population", "progress_pct",
            "protected"])
AMENITIES = [("A1", (60, 100), "kindergarten", None), ("A2", (380, 100), "bus_stop", None), ("A3", (40, 105), "childcare", 30),
             ("A4", (150, 20), "parking", 50), ("A5", (350, 100), "parking", 20), ("A6", (250, 20), "parking", None),
             ("A7", (300, 150), "elderly_care", None)]
OUTDOOR = [("O1", box(70, 100, 95, 140), "green", True), ("O2", box(250, 100, 290, 170), "park", False),
           ("O3", box(330, 110, 370, 150), "plaza", False), ("O4", box(185, 30, 215, 60), "green", True),
           ("O5", box(320, 160, 380, 190), "parking", True)]
PATHS = [line((0, 100), (400, 100)), line((100, 0), (100, 200)), line((300, 0), (300, 200)), line((0, 20), (400, 20))]
AXIS = [line((200, 20), (200, 100))]
CORRIDOR = [line((20, 180), (380, 180))]
CONSTRAINT = box(0, 0, 50, 200)
JOBS = 600
PPH, M2PP = 2.62, 36.5


def _handmade_layers():
    b = gpd.GeoDataFrame(BUILDINGS.copy(), geometry="geometry", crs=CRS)
    b["households"] = b["households"].astype("Int64")
    b["population"] = b["population"].astype("Int64")
    b["protected"] = b["protected"].astype(bool)
    a = gpd.GeoDataFrame({"id": [r[0] for r in AMENITIES], "category": [r[2] for r in AMENITIES],
                          "capacity": pd.array([r[3] for r in AMENITIES], dtype="Int64")},
                         geometry=[pt(*r[1]) for r in AMENITIES], crs=CRS)
    o = gpd.GeoDataFrame({"id": [r[0] for r in OUTDOOR], "space_type": [r[2] for r in OUTDOOR], "renewed": [r[3] for r in OUTDOOR]},
                         geometry=[r[1] for r in OUTDOOR], crs=CRS)
    sites = gpd.GeoDataFrame({"id": list(SITES), "release_year": [2024, 2025], "land_use": ["mixed", "mixed"]},
                             geometry=list(SITES.values()), crs=CRS)
    return {
        "buildings": b, "amenities": a, "outdoor_spaces": o, "sites": sites,
        "zones": gpd.GeoDataFrame({"id": ["Z1"], "jobs": [JOBS]}, geometry=[box(0, 0, 400, 200)], crs=CRS),
        "paths": gpd.GeoDataFrame({"id": [f"P{i}" for i in range(len(PATHS))]}, geometry=PATHS, crs=CRS),
        "pedestrian_axis": gpd.GeoDataFrame({"id": ["AX"]}, geometry=AXIS, crs=CRS),
        "landscape_corridor": gpd.GeoDataFrame({"id": ["LC"]}, geometry=CORRIDOR, crs=CRS),
        "constraints": gpd.GeoDataFrame({"id": ["C1"], "constraint_type": ["other"]}, geometry=[CONSTRAINT], crs=CRS),
    }


@pytest.fixture(scope="module")
def hand():
    rg.options.progress = False
    p = rg.Project.from_layers(
        _handmade_layers(), crs=CRS, name="hand",
        targets=[{"id": "rel", "layer": "net_release", "where": {"release_year": 2024}, "measure": "sum(net_area_m2)", "value": 2.0,
                  "unit": "ha"}],
        settings={"release": {"min_fragment_m2": 100.0, "min_width_m": 5.0}},
    )
    sc = rg.scorecard(p)
    t = sc.table
    vals = t.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])
    return p, sc, vals


def value(vals, ind, scope="project"):
    return vals.loc[(ind, scope), "value"]


def measured(vals, measure):
    """(indicator id, params) of the indicators computed by ``measure``."""
    lib = load_library()
    return [(i.id, i.params) for i in lib.indicators if i.measure == measure]


def buildings_frame():
    b = BUILDINGS.copy()
    b["use"] = b["use_after"].where(b["use_after"].notna(), b["use_before"])
    resid_uses = load_library().conventions["use_groups"]["residential"]
    b["residents"] = [
        float(r.population) if pd.notna(r.population) else float(r.households) * PPH if pd.notna(r.households)
        else (r.gfa_m2 / M2PP if r.use in resid_uses else 0.0) for r in b.itertuples()]
    # largest overlap: B3 has 20 m in S1 and 40 m in S2
    b["site"] = [max(SITES, key=lambda s, g=g: shapely.area(shapely.intersection(g, SITES[s]))) for g in b.geometry]
    b["live"] = b["status"] != "demolished"
    return b


def in_scope(b, scope):
    return b if scope == "project" else b[b["site"] == scope]


def land(scope):
    return geod_area(shapely.union_all(list(SITES.values())) if scope == "project" else SITES[scope])


SCOPES = ["project", "S1", "S2"]


# ------------------------------------------------------------------------ the library
def test_library_counts_and_sources():
    lib = load_library()
    c = lib.counts()
    assert c["indicators"] >= 40 and c["categories"] == 12 and c["measure"] >= 35
    assert len(lib.categories) == 12 and [s.id for s in lib.stages] == list(STAGE_IDS)
    assert all(i.source.strip() for i in lib.indicators)
    assert all((i.measure is None) != (i.input is None) for i in lib.indicators)
    used = {i.measure for i in lib.indicators if i.measure}
    assert used <= set(MEASURES) and {m.name for m in lib.measures} == set(MEASURES)


def test_project_library_errors_are_reported_at_once(tmp_path):
    f = tmp_path / "lib.toml"
    f.write_text("""
[[indicators]]
id = "x1"
category = "nowhere"
name_zh = "x"
name_en = "x"
source = "s"
unit = "pct"
direction = "more"
measure = "far"
input = "y"
[indicators.thresholds]
land_suply = 3

[[indicators]]
id = "x2"
category = "mobility"
name_zh = "x"
name_en = "x"
source = "s"
unit = "pct"
direction = "at_least"
measure = "no_such_measure"

[[indicators]]
id = "x3"
category = "mobility"
name_zh = "x"
name_en = "x"
source = "s"
unit = "pct"
direction = "at_least"
measure = "far"
params = { radius = 3 }
colour = "red"
""", encoding="utf-8")
    with pytest.raises(rg.ProjectFileError) as e:
        load_library(f)
    msg = str(e.value)
    assert str(f) in msg
    # x1's bad direction used to hide its other problems until it was fixed: all of them come at once
    for part in ("'x1'", "direction", "'x2'", "no_such_measure", "'x3'", "radius", "colour", "nowhere", "both measure and input",
                 "land_suply"):
        assert part in msg, part


def test_library_problems_with_a_missing_or_mistyped_text_are_reported_with_the_rest(tmp_path):
    """A record lacking a required text, or giving a number for it, is still checked whole."""
    f = tmp_path / "lib.toml"
    f.write_text('[[indicators]]\nid = "x"\ncategory = "nowhere"\nname_zh = 3\nsource = "s"\nunit = "pct"\n'
                 'direction = "at_least"\nmeasure = "fra"\n', encoding="utf-8")
    with pytest.raises(rg.ProjectFileError) as e:
        load_library(f)
    msg = str(e.value)
    for part in ("name_zh must be a text", "lacks 'name_en'", "category 'nowhere'", "measure 'fra' is not a measure"):
        assert part in msg, part


def test_fixes_name_the_closest_valid_value(tmp_path):
    """A fix used to echo an example or the default (direction = "text", scope = "project") instead of what was meant."""
    from renewgeo.scorecard import ScorecardResult, compare

    f = tmp_path / "lib.toml"
    f.write_text('[[indicators]]\nid = "x"\ncategory = "mobilty"\nname_zh = "x"\nname_en = "x"\nsource = "s"\nunit = "pct"\n'
                 'direction = "at_lest"\nscope = "sites"\nmeasure = "far"\n', encoding="utf-8")
    with pytest.raises(rg.ProjectFileError) as e:
        load_library(f)
    msg = str(e.value)
    assert 'Fix: write direction = "at_least"' in msg and 'Fix: write scope = "site"' in msg
    assert "category 'mobilty' is not a category. Fix: did you mean 'mobility'?" in msg
    card = ScorecardResult("p", pd.DataFrame(columns=["indicator_id", "category", "name_zh", "name_en", "unit", "direction", "scope",
                                                     "value", "stage", "status"]), pd.DataFrame({"stage": [], "stage_passes": []}))
    with pytest.raises(rg.ProjectFileError, match="did you mean 'completion'"):
        compare([card], stage="completon")


def test_the_stage_setting_fix_names_the_closest_stage():
    """settings._example echoed the setting's example for a text with choices; it names the closest choice."""
    layers = _handmade_layers()
    with pytest.raises(rg.ValidationError) as e:
        rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS, settings={"scorecard": {"stage": "completon"}})
    assert 'Fix: write stage = "completion"' in e.value.report.format()


def test_project_library_overrides_by_id(tmp_path):
    f = tmp_path / "lib.toml"
    f.write_text("""
[[indicators]]
id = "far"
category = "land_economy"
name_zh = "容积率"
name_en = "FAR (project rule)"
source = "planning conditions of the plot"
unit = "ratio"
direction = "at_most"
scope = "project"
measure = "far"
[indicators.thresholds]
land_supply = 0.1

[[indicators]]
id = "firms"
category = "innovation"
name_zh = "企业数"
name_en = "Firms"
source = "local"
unit = "count"
direction = "at_least"
input = "firms"
[indicators.thresholds]
operation = 10
""", encoding="utf-8")
    lib = load_library(f)
    base = load_library()
    assert len(lib.indicators) == len(base.indicators) + 1
    assert lib.indicator("far").direction == "at_most" and lib.indicator("firms").input == "firms"


# ------------------------------------------------------------------------ inputs
def test_inputs_errors_name_file_row_and_column(tmp_path):
    f = tmp_path / "in.csv"
    f.write_text("scope,source,jobs,co2_t_per_year\nproject,x,12a,3\nS9,x,1,2\nproject,,4,\n", encoding="utf-8")
    with pytest.raises(rg.ProjectFileError) as e:
        read_inputs(f, scopes=["project", "S1"])
    msg = str(e.value)
    assert f"{f} line 2, column 'jobs'" in msg and "'12a' is not a number" in msg
    assert "line 3, column 'scope'" in msg and "'S9'" in msg
    assert "line 4, column 'scope'" in msg and "given again" in msg
    assert "line 4, column 'source'" in msg
    f.write_text("scope,jobs\nproject,3\n", encoding="utf-8")
    with pytest.raises(rg.ProjectFileError, match="no column 'source'"):
        read_inputs(f, scopes=["project"])
    f.write_text("\ufeffscope,source,jobs,co2_t_per_year\nproject,survey,\"5,000\",\n", encoding="utf-8")
    t = read_inputs(f, scopes=["project"])
    assert t.loc["project", "jobs"] == 5000.0 and math.isnan(t.loc["project", "co2_t_per_year"])


def test_inputs_fill_indicators_and_empty_is_unavailable(tmp_path):
    f = tmp_path / "in.csv"
    f.write_text("scope,source,tech_firm_share_pct,co2_t_per_year,value_added_10k_cny,prefab_gfa_pct\n"
                 "project,illustrative,22.5,500,1000,\n", encoding="utf-8")
    layers = _handmade_layers()
    p = rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS, settings={"scorecard": {"inputs_file": str(f)}})
    t = rg.scorecard(p).table
    v = t.drop_duplicates("indicator_id").set_index("indicator_id")
    assert v.loc["tech_firm_share", "value"] == 22.5
    assert math.isnan(v.loc["prefab_share", "value"])
    assert set(t.loc[(t.indicator_id == "prefab_share") & t.threshold.notna(), "status"]) == {"unavailable"}
    lib = load_library()
    close(v.loc["carbon_intensity_reduction", "value"], 100 * (1 - (500 / 1000) / lib.carbon["baseline"]["gdp"]["tco2_per_10k_cny"]))
    assert "method gdp" in v.loc["carbon_intensity_reduction", "why"]


def test_inputs_file_refuses_network_paths():
    layers = _handmade_layers()
    with pytest.raises(rg.ValidationError) as e:  # refused when the project loads, before anything is read
        rg.Project.from_layers({"buildings": layers["buildings"]}, crs=CRS,
                               settings={"scorecard": {"inputs_file": "/vsicurl/https://example.invalid/in.csv"}})
    assert "network" in e.value.report.format()


# ------------------------------------------------------------------------ hand-made: land and floor area
def test_far_coverage_and_density_by_site(hand):
    _, _, vals = hand
    b = buildings_frame()
    for scope in SCOPES:
        gfa, fp = 0.0, 0.0
        for r in b.itertuples():  # straddling buildings split by footprint share
            for s, g in SITES.items():
                if scope not in ("project", s):
                    continue
                part = shapely.intersection(r.geometry, g)
                gfa += r.gfa_m2 * part.area / r.geometry.area
                fp += geod_area(part)
        close(value(vals, "far", scope), gfa / land(scope))
        close(value(vals, "building_coverage", scope), 100 * fp / land(scope))


def test_gfa_shares_and_mix(hand):
    _, _, vals = hand
    lib = load_library()
    groups = lib.conventions["use_groups"]
    b = buildings_frame()
    for scope in SCOPES:
        s = in_scope(b, scope)
        live = s[s.live]
        close(value(vals, "innovation_gfa_share", scope), 100 * live[live.use.isin(groups["innovation"])].gfa_m2.sum() / live.gfa_m2.sum())
        existing = s[(s.treatment != "new_build") & (s.status != "new")]
        kept = existing[(existing.treatment != "demolish") & (existing.status != "demolished")]
        close(value(vals, "kept_gfa_share", scope), 100 * kept.gfa_m2.sum() / existing.gfa_m2.sum())
        prot = s[s.protected]
        if prot.empty:
            assert math.isnan(value(vals, "protected_gfa_retained", scope))
        else:
            ok = prot[(prot.treatment != "demolish") & (prot.status != "demolished")]
            close(value(vals, "protected_gfa_retained", scope), 100 * ok.gfa_m2.sum() / prot.gfa_m2.sum())
        close(value(vals, "idle_gfa_share", scope), 100 * live[live.status == "idle"].gfa_m2.sum() / live.gfa_m2.sum())
        grp = live.use.map(lambda u: next((g for g in ("residential", "office", "commercial", "public", "industrial", "other")
                                           if u in groups[g]), "other"))
        p = live.groupby(grp).gfa_m2.sum().to_numpy() / live.gfa_m2.sum()
        close(value(vals, "use_mix", scope), float(-(p * np.log(p)).sum() / np.log(6)))
        full = s.use.notna() & s.status.notna() & s.treatment.notna() & s.gfa_m2.notna()
        close(value(vals, "data_completeness", scope), 100 * full.sum() / len(s))
        w = live[live.progress_pct.notna()]
        close(value(vals, "works_complete", scope), (w.progress_pct * w.gfa_m2).sum() / w.gfa_m2.sum())
    live = b[b.live]
    public = live[live.use.isin(groups["public_facility"])].gfa_m2.sum()
    close(value(vals, "public_facility_gfa_per_1000", "project"), 1000 * public / b.residents.sum())


def test_people_amenities_parking_and_jobs(hand):
    _, _, vals = hand
    b = buildings_frame()
    cap = {"S1": {"childcare": 30, "parking": 50}, "S2": {"parking": 20}}  # A6 has no capacity: left out
    close(value(vals, "childcare_places_per_1000"), 1000 * 30 / b.residents.sum())
    for scope in SCOPES:
        s = in_scope(b, scope)
        spaces = sum(c.get("parking", 0) for k, c in cap.items() if scope in ("project", k))
        close(value(vals, "parking_per_100m2", scope), 100 * spaces / s[s.live].gfa_m2.sum())
    r = JOBS / b.households.sum()
    close(value(vals, "jobs_housing_balance"), 100 * min(r, 1 / r))


def test_green_and_open_space(hand):
    _, _, vals = hand
    b = buildings_frame()
    green = [g for _, g, t, _ in OUTDOOR if t in ("green", "park", "pocket_park")]
    open_ = shapely.union_all([g for _, g, t, _ in OUTDOOR if t in ("plaza", "green", "park", "pocket_park", "sports")])
    for scope in SCOPES:
        poly = shapely.union_all(list(SITES.values())) if scope == "project" else SITES[scope]
        g_m2 = sum(geod_area(shapely.intersection(g, poly)) for g in green)
        close(value(vals, "green_ratio", scope), 100 * g_m2 / land(scope))
        close(value(vals, "public_green_per_person", scope), g_m2 / in_scope(b, scope).residents.sum())
        close(value(vals, "open_public_space_share", scope), 100 * geod_area(shapely.intersection(open_, poly)) / land(scope))
        ren = sum(geod_area(shapely.intersection(g, poly)) for _, g, _, r in OUTDOOR if r)
        alls = sum(geod_area(shapely.intersection(g, poly)) for _, g, _, _ in OUTDOOR)
        close(value(vals, "outdoor_renewed_share", scope), 100 * ren / alls)
    close(value(vals, "shelter_space_per_person"), geod_area(open_) / (b.residents.sum() + JOBS))


def test_carbon_estimate(hand):
    _, _, vals = hand
    lib = load_library()
    c = lib.carbon
    col = c["value_column"]
    eui = {}
    for row in c["eui"]:
        for u in [row["use"], *row["aliases"]]:
            eui.setdefault(u, row[col])
    default = next(r[col] for r in c["eui"] if r["use"] == "default")
    grid = c["grid"][c["grid"]["default"]]["kgco2_per_kwh"]
    live = buildings_frame().query("live")
    kg = sum(r.gfa_m2 * eui.get(r.use, default) * grid for r in live.itertuples())
    per_m2 = kg / live.gfa_m2.sum()
    close(value(vals, "operational_carbon_per_m2"), per_m2)
    close(value(vals, "carbon_intensity_reduction"), 100 * (1 - per_m2 / c["baseline"]["floor_area"]["kgco2_per_m2"]))


def test_release_against_target(hand):
    _, _, vals = hand
    net = geod_area(shapely.difference(SITES["S1"], CONSTRAINT))  # S1 is released in 2024, minus the constraint
    close(value(vals, "land_release_vs_target"), 100 * net / 20000.0)


def test_corridor_density(hand):
    _, _, vals = hand
    close(value(vals, "corridor_density"), geod_length(CORRIDOR[0]) / 1000 / (land("project") / 1e6))


# ------------------------------------------------------------------------ hand-made: the walking network (networkx)
def _graph():
    """The lines noded where they cross, as a networkx graph of segments weighted by length."""
    noded = shapely.node(shapely.MultiLineString([*PATHS, *AXIS, *CORRIDOR]))
    g = nx.Graph()
    for seg in shapely.get_parts(noded):
        cs = list(seg.coords)
        for a, b in itertools.pairwise(cs):
            g.add_edge(a, b, weight=math.dist(a, b), geom=shapely.LineString([a, b]))
    return g


def _dist_fn(g, points):
    """The graph with each point inserted at its projection on the nearest segment (several on one segment chained in order)."""
    segs = [(u, v, d["geom"]) for u, v, d in g.edges(data=True)]
    tree = shapely.STRtree([s for _, _, s in segs])
    on: dict[int, list] = {}
    snaps = {}
    for key, p in points.items():
        i = int(tree.nearest(p))
        s = segs[i][2]
        on.setdefault(i, []).append((s.project(p), ("q", key)))
        snaps[key] = (("q", key), p.distance(s))
    h = g.copy()
    for i, items in on.items():
        u, v, s = segs[i]
        h.remove_edge(u, v)
        chain = [(0.0, u), *sorted(items), (s.length, v)]
        if shapely.Point(u).distance(s.interpolate(0.0)) > 1e-9:
            chain = [(0.0, v), *sorted(items), (s.length, u)]
        for (t0, n0), (t1, n1) in itertools.pairwise(chain):
            h.add_edge(n0, n1, weight=t1 - t0)
    return h, snaps


def test_intersections_network_and_connectivity(hand):
    _, _, vals = hand
    g = _graph()
    for scope in SCOPES:
        poly = shapely.union_all(list(SITES.values())) if scope == "project" else SITES[scope]
        n = sum(1 for node, deg in g.degree() if deg >= 3 and shapely.intersects(shapely.Point(node), poly))
        close(value(vals, "intersection_density", scope), n / (land(scope) / 1e6))
        length = sum(geod_length(shapely.intersection(d["geom"], poly)) for _, _, d in g.edges(data=True))
        close(value(vals, "walk_network_density", scope), length / 1000 / (land(scope) / 1e6))
    comps = [sum(g.edges[e]["geom"].length for e in g.subgraph(c).edges) for c in nx.connected_components(g)]
    close(value(vals, "network_connectivity"), 100 * max(comps) / sum(comps))
    assert value(vals, "axis_continuity") == 0.0


def _walk_distances(targets):
    """Network distance from each building (its point nearest the network) to the nearest of ``targets`` (points)."""
    g = _graph()
    lines = shapely.union_all([d["geom"] for _, _, d in g.edges(data=True)])
    pts = {}
    for r in BUILDINGS.itertuples():
        near = shapely.ops.nearest_points(r.geometry, lines)[0]
        pts[("b", r.id)] = near
    for i, p in enumerate(targets):
        pts[("t", i)] = p
    h, snaps = _dist_fn(g, pts)
    out = {}
    for r in BUILDINGS.itertuples():
        src, s0 = snaps[("b", r.id)]
        d = nx.single_source_dijkstra_path_length(h, src, weight="weight")
        out[r.id] = min((s0 + d.get(snaps[("t", i)][0], np.inf) + snaps[("t", i)][1] for i in range(len(targets))), default=np.inf)
    return out


def _share_served(served, scope):
    b = in_scope(buildings_frame(), scope)
    return 100 * b[b.id.map(served)].residents.sum() / b.residents.sum()


def _gb_circles():
    """The default circles, derived here from the GB 50180-2018 rows of the standard's file (tomllib, not renewgeo):
    per level with a distance, one requirement per required facility's categories that renewgeo knows."""
    import tomllib

    from renewgeo.schemas import AMENITY_CATEGORIES
    doc = tomllib.loads((Path(rg.__file__).parent / "data" / "life_circles_gb50180.toml").read_text(encoding="utf-8"))
    circles = {}
    for lv in doc["levels"]:
        if "distance_m" not in lv:
            continue
        reqs = {frozenset(c for c in f["categories"] if c in AMENITY_CATEGORIES) for f in doc["facilities"]
                if f["level"] == lv["id"] and f["provision"] == "required" and f.get("standard", "GB 50180-2018") == "GB 50180-2018"}
        circles[lv["id"]] = (max(lv["distance_m"]), [sorted(r) for r in reqs if r])
    return circles


def test_residents_served_life_circle_green_and_axis(hand):
    _, _, vals = hand
    lib = load_library()
    by_cat = {}
    for _aid, xy, cat, _ in AMENITIES:
        by_cat.setdefault(cat, []).append(pt(*xy))
    for ind_id, params in measured(vals, "residents_served_pct"):
        served = {bid: False for bid in BUILDINGS.id}
        for rule in params["rules"]:
            targets = [p for c in rule["categories"] for p in by_cat.get(c, [])]
            if targets:
                d = _walk_distances(targets)
                served = {k: served[k] or d[k] <= rule["distance_m"] for k in served}
        for scope in SCOPES:
            close(value(vals, ind_id, scope), _share_served(served, scope))
    # green: the network points within 30 m of a green space's outline (its entries)
    lines = [d["geom"] for _, _, d in _graph().edges(data=True)]
    for ind_id, target, dist in (("green_300m", ("green", "park", "pocket_park"), 300), ("park_500m", ("park", "pocket_park"), 500)):
        polys = [g for _, g, t, _ in OUTDOOR if t in target]
        entries = [shapely.ops.nearest_points(ln, poly.exterior)[0] for poly in polys for ln in lines
                   if ln.distance(poly.exterior) <= 30]
        d = _walk_distances(entries)
        for scope in SCOPES:
            close(value(vals, ind_id, scope), _share_served({k: v <= dist for k, v in d.items()}, scope))
    # axis: floor area of live buildings within 300 m of the axis
    d = _walk_distances([shapely.Point(c) for c in shapely.segmentize(AXIS[0], 1.0).coords])
    live = buildings_frame().query("live")
    near = live.id.map(lambda k: d[k] <= 300)
    close(value(vals, "axis_catchment"), 100 * live[near].gfa_m2.sum() / live.gfa_m2.sum())
    # life circles: every requirement of the GB 50180-2018 circle met within its distance
    circles = _gb_circles()
    for ind_id, params in measured(vals, "life_circle_pass_pct"):
        distance_m, required = circles[params["circle"]]
        ok = {bid: True for bid in BUILDINGS.id}
        for req in required:
            targets = [p for cat in req for p in by_cat.get(cat, [])]
            d = _walk_distances(targets) if targets else {k: np.inf for k in ok}
            ok = {k: ok[k] and d[k] <= distance_m for k in ok}
        for scope in SCOPES:
            close(value(vals, ind_id, scope), _share_served(ok, scope))
    assert lib.indicator("life_circle_5min").measure == "life_circle_pass_pct"


def test_every_layer_measure_is_checked_on_the_hand_made_case(hand):
    """Every measure but the raster ones has a value on the hand-made project, checked by a test above."""
    _, _, vals = hand
    lib = load_library()
    raster_measures = {"steep_land_share_pct", "impervious_share_pct", "green_cover_share_pct"}
    for i in lib.indicators:
        if i.measure and i.measure not in raster_measures and i.id != "protected_gfa_retained":
            assert not math.isnan(value(vals, i.id)), i.id


# ------------------------------------------------------------------------ statuses and stages
def test_unavailable_is_never_zero_and_statuses_follow_thresholds(hand):
    _, sc, _ = hand
    t = sc.table
    assert list(t.columns[:13]) == ["indicator_id", "category", "name_zh", "name_en", "source", "unit", "scope", "value", "stage",
                                    "threshold", "direction", "status", "why"]
    assert set(t.status) <= {"pass", "fail", "unavailable", "not_applicable"}
    un = t[t.status == "unavailable"]
    assert len(un) and un.value.isna().all() and (un.why.str.len() > 0).all()
    assert t.loc[t.indicator_id == "steep_land_share", "why"].str.contains("dem").all()
    judged = t[t.status.isin(["pass", "fail"])]
    ok = np.where(judged.direction == "at_least", judged.value >= judged.threshold, judged.value <= judged.threshold)
    assert ((judged.status == "pass") == ok).all()
    assert (t.loc[t.threshold.isna(), "status"] == "not_applicable").all()


def test_stage_pass_logic_and_overrides():
    t = pd.DataFrame({"indicator_id": ["a", "b", "c", "a", "b"], "stage": ["land_supply"] * 3 + ["completion"] * 2,
                      "status": ["pass", "unavailable", "not_applicable", "fail", "fail"]})
    s = stage_summary(t).set_index("stage")
    assert bool(s.loc["land_supply", "stage_passes"]) and s.loc["land_supply", "blocking"] == ""
    assert not s.loc["completion", "stage_passes"] and s.loc["completion", "blocking"] == "a; b"
    assert s.loc["completion", "fail"] == 2 and s.loc["land_supply", "unavailable"] == 1


def test_stage_setting_and_threshold_override():
    layers = _handmade_layers()
    p = rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS,
                               settings={"scorecard": {"thresholds": {"far": {"land_supply": 0.0001, "tendering": 99.0}}}})
    sc = rg.scorecard(p, stage="tendering")
    assert list(sc.stages.stage) == ["tendering"]
    far = sc.table[(sc.table.indicator_id == "far")]
    assert set(far.status) == {"fail"} and not sc.stages.stage_passes.iloc[0] and "far" in sc.stages.blocking.iloc[0]
    assert "<table>" in sc._repr_html_()
    with pytest.raises(rg.RenewgeoError, match="land_suply"):
        rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS,
                               settings={"scorecard": {"thresholds": {"far": {"land_suply": 1}}}})


# ------------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """`renewgeo scorecard` on each sample, once for the module: (exit code, what it printed, the output folder)."""
    import contextlib
    import io

    from renewgeo.cli import main

    root = tmp_path_factory.mktemp("scorecards")
    runs = {}
    for name in ("chuangchuangyi", "shibei_relocation"):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["scorecard", str(SAMPLE / name), "--out", str(root / name), "--quiet"])
        runs[name] = (code, printed.getvalue(), root / name)
    return runs


@pytest.mark.parametrize("name", ["chuangchuangyi", "shibei_relocation"])
def test_cli_prints_the_stage_summary(name, cli_runs, tmp_path, capsys):
    from renewgeo.cli import main

    code, out, folder = cli_runs[name]
    assert code == 0, out
    assert "stages pass" in out and "scheme_review" in out and "blocking" in out
    t = pd.read_csv(folder / "tables" / "scorecard.csv", encoding="utf-8-sig")
    for c in ("indicator_id", "category", "name_zh", "name_en", "source", "unit", "scope", "value", "stage", "threshold", "direction",
              "status", "why"):
        assert c in t.columns
    assert {"pass", "fail", "unavailable", "not_applicable"} <= set(t.status)
    assert t.loc[t.status == "unavailable", "value"].isna().all()
    assert (folder / "tables" / "scorecard.xlsx").exists()
    st = pd.read_csv(folder / "tables" / "scorecard_stages.csv", encoding="utf-8-sig")
    assert list(st.stage) == list(STAGE_IDS)
    if name == "chuangchuangyi":  # --stage: one stage only
        code = main(["scorecard", str(SAMPLE / name), "--out", str(tmp_path / "out2"), "--quiet", "--stage", "completion"])
        out = capsys.readouterr().out
        assert code == 0 and "completion" in out and "land_supply" not in out


# ------------------------------------------------------------------------ hand-made rasters (numpy)
def test_raster_measures_steep_land_and_ndvi(tmp_path, monkeypatch):
    """Horn's slope and NDVI shares with numpy; each raster measure takes one zonal statistic for every scope at once
    (impervious share used to take two per scope: below the green limit, minus below 0)."""
    import rasterio
    from affine import Affine

    from renewgeo.project import RasterSpec

    cell = 10.0
    x = np.arange(-50, 450, cell) + cell / 2  # pixel centres, 50 m beyond the sites on each side
    y = np.arange(250, -50, -cell) - cell / 2
    xx, yy = np.meshgrid(x, y)
    dem = np.where(xx < 200, 0.5 * xx, 100 + 0.02 * (xx - 200)) + 0.1 * yy  # a kink at x = 200
    ndvi_cols = np.select([xx < 100, xx < 250, xx < 330], [0.6, 0.1, -0.2], 0.45)
    nir = np.full(dem.shape, 0.5)
    red = nir * (1 - ndvi_cols) / (1 + ndvi_cols)  # NDVI = (nir - red) / (nir + red)
    t = Affine(cell, 0, X0 - 50, 0, -cell, Y0 + 250)
    files = {}
    for name, arr in (("dem", dem), ("red", red), ("nir", nir)):
        files[name] = tmp_path / f"{name}.tif"
        with rasterio.open(files[name], "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype="float64",
                           crs="EPSG:4549", transform=t, nodata=-9999.0) as dst:
            dst.write(arr, 1)
    layers = _handmade_layers()
    p = rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS, name="rasters")
    p.rasters = {n: RasterSpec(file=str(f), role=n, path=str(f)) for n, f in files.items()}
    import renewgeo.raster

    calls = []
    zonal = renewgeo.raster.zonal_stats

    def counted(*args, **kwargs):
        if kwargs.get("layer") not in ("zones", "sites"):  # the raster analysis' own tables
            calls.append(kwargs.get("layer"))
        return zonal(*args, **kwargs)

    monkeypatch.setattr(renewgeo.raster, "zonal_stats", counted)
    vals = rg.scorecard(p).table.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])
    assert len(calls) == 3, calls  # steep land, impervious, green cover: all three scopes in each
    # Horn's slope with numpy (the sites are pixel-aligned and far from the raster's edge)
    z = np.pad(dem, 1, mode="edge")
    dzdx = ((z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2])) / (8 * cell)
    dzdy = ((z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:])) / (8 * cell)
    slope = 100 * np.hypot(dzdx, dzdy)
    ndvi = (nir - red) / (nir + red)
    for scope in SCOPES:
        x0, x1 = {"project": (0, 400), "S1": (0, 200), "S2": (200, 400)}[scope]
        inside = (xx > x0) & (xx < x1) & (yy > 0) & (yy < 200)
        close(value(vals, "steep_land_share", scope), 100 * (slope[inside] > 25).mean())
        close(value(vals, "green_cover", scope), 100 * (ndvi[inside] > 0.3).mean())
        close(value(vals, "impervious_share", scope), 100 * ((ndvi[inside] < 0.3) & (ndvi[inside] >= 0)).mean())


# ------------------------------------------------------------------------ compare, the chart, the map panel
def test_compare_two_samples_side_by_side(cli_runs, tmp_path, capsys):
    """`renewgeo compare`: one column per project, each equal to that project's own scorecard value (read from its CSV)."""
    from renewgeo.cli import main

    assert all(code == 0 for code, _, _ in cli_runs.values())
    code = main(["compare", str(SAMPLE / "chuangchuangyi"), str(SAMPLE / "shibei_relocation"), "--out", str(tmp_path / "cmp"),
                 "--quiet", "--stage", "scheme_review"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scheme_review" in out and "chuangchuangyi" in out and "shibei_relocation" in out
    cmp = pd.read_csv(tmp_path / "cmp" / "tables" / "compare.csv", encoding="utf-8-sig").set_index("indicator_id")
    lib = load_library()
    assert set(cmp.index) == {i.id for i in lib.indicators}
    for name in ("chuangchuangyi", "shibei_relocation"):
        own = pd.read_csv(cli_runs[name][2] / "tables" / "scorecard.csv", encoding="utf-8-sig")
        own = own[own.scope == "project"]
        vals = own.drop_duplicates("indicator_id").set_index("indicator_id")["value"]
        np.testing.assert_array_equal(cmp[name].reindex(vals.index).to_numpy(), vals.to_numpy())  # NaN where unavailable
        at = own[own.stage == "scheme_review"].set_index("indicator_id")["status"]
        assert (cmp[f"status:{name}"].reindex(at.index) == at).all()
    stages = pd.read_csv(tmp_path / "cmp" / "tables" / "compare_stages.csv", encoding="utf-8-sig")
    assert stages.columns.tolist() == ["stage", "chuangchuangyi", "shibei_relocation"] and stages.stage.tolist() == ["scheme_review"]
    assert (tmp_path / "cmp" / "manifest.json").exists() and (tmp_path / "cmp" / "tables" / "compare.xlsx").exists()
    assert main(["compare", str(SAMPLE / "chuangchuangyi"), "--out", str(tmp_path / "one"), "--quiet"]) == 2  # one project: refused
    assert "two or more project folders" in capsys.readouterr().err


def test_compare_names_projects_apart_and_keeps_unavailable_empty():
    from renewgeo.scorecard import ScorecardResult, compare

    def card(name, value, status):
        t = pd.DataFrame({"indicator_id": ["a", "a"], "category": ["c", "c"], "name_zh": ["甲", "甲"], "name_en": ["A", "A"],
                          "unit": ["pct", "pct"], "direction": ["at_least"] * 2, "scope": ["project", "S1"], "value": [value, 99.0],
                          "stage": ["completion"] * 2, "status": [status, "pass"]})
        return ScorecardResult(name, t, pd.DataFrame({"stage": ["completion"], "stage_passes": [status != "fail"]}))

    v2, s2 = compare([card("stage", 1.0, "pass"), card("unit", 2.0, "fail")])  # project names that are column names
    assert v2.columns.tolist()[-2:] == ["stage (2)", "unit (2)"] and v2["unit"].tolist() == ["pct"]
    assert s2.values.tolist() == [["completion", "pass", "fail"]]
    values, stages = compare([card("p", 40.0, "fail"), card("p", None, "unavailable")], stage="completion")
    assert values.columns.tolist()[-4:] == ["p", "status:p", "p (2)", "status:p (2)"]
    assert values["p"].tolist() == [40.0] and values["p (2)"].isna().all()  # the site's 99 is not the project's value
    assert stages.values.tolist() == [["completion", "fail", "pass"]]
    with pytest.raises(rg.ProjectFileError, match="not an approval stage"):
        compare([card("p", 1.0, "pass")], stage="approval")


def test_the_chart_colours_each_category_and_stage_as_the_table_says(tmp_path):
    """figures/scorecard.png: a 12 x 7 grid; each cell's colour recomputed from the CSV with pandas."""
    from matplotlib.colors import to_hex

    from renewgeo.plot import STATUS_COLOURS, scorecard_by_category

    out = tmp_path / "out"
    rg.run_project(rg.load_project(SAMPLE / "chuangchuangyi"), out, analyses=["scorecard"], progress=False)
    png = out / "figures" / "scorecard.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    t = pd.read_csv(out / "tables" / "scorecard.csv", encoding="utf-8-sig")
    st = pd.read_csv(out / "tables" / "scorecard_stages.csv", encoding="utf-8-sig")
    fig = scorecard_by_category(t, st, lang="en")
    ax = fig.axes[0]
    cats = list(dict.fromkeys(t.category))
    assert len(cats) == 12 and len(ax.patches) == 12 * 7
    proj = t[t.scope == "project"]
    for patch in ax.patches:
        j, i = int(patch.get_x()), int(patch.get_y())
        s = set(proj[(proj.category == cats[i]) & (proj.stage == st.stage[j])].status)
        want = "fail" if "fail" in s else "unavailable" if "unavailable" in s else "pass" if "pass" in s else "not_applicable"
        assert to_hex(patch.get_facecolor()) == STATUS_COLOURS[want], (cats[i], st.stage[j])


@pytest.fixture(scope="module")
def ccy_run():
    """The Chuangchuangyi sample's scorecard run, once for the map tests."""
    return rg.run_analyses(rg.load_project(SAMPLE / "chuangchuangyi"), ["scorecard"], progress=False)


def test_the_meeting_map_has_a_folded_scorecard_panel_with_escaped_names(ccy_run):
    import renewgeo.webmap as wm

    r = ccy_run
    p = r.project
    st = r.tables["scorecard_stages"]
    html = wm._scorecard_html(st, "en")
    assert html.startswith("<details><summary>Green FTZ scorecard: ")
    n_ok = int(st.stage_passes.sum())
    assert f"{n_ok} / 7 approval stages pass" in html
    for name in st.name_en:
        assert name in html
    hostile = st.assign(name_en="<img src=x onerror=alert(1)>", blocking="a<b>; c")
    out = wm._scorecard_html(hostile, "en")
    assert "<img" not in out and "&lt;img" in out and "a&lt;b&gt;" in out
    page = wm.meeting_map(p, r, lang="zh").get_root().render()
    assert "绿色自贸指标" in page and "审批阶段通过" in page



# ------------------------------------------------------------------------ after review
def test_overlapping_green_is_counted_once_and_yes_no_words_are_read():
    """A lawn drawn inside a park: green ratio and renewed share take the union (pyproj.Geod), not the sum."""
    layers = _handmade_layers()
    park, lawn = box(250, 100, 290, 170), box(260, 110, 280, 150)  # the lawn lies inside the park
    o = gpd.GeoDataFrame({"id": ["P", "L"], "space_type": ["park", "green"], "renewed": ["是", "否"]}, geometry=[park, lawn], crs=CRS)
    p = rg.Project.from_layers({"buildings": layers["buildings"], "sites": layers["sites"], "outdoor_spaces": o}, crs=CRS)
    v = rg.scorecard(p).table.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])["value"]
    close(v.loc[("green_ratio", "project")], 100 * geod_area(park) / land("project"))
    close(v.loc[("outdoor_renewed_share", "project")], 100.0)  # 是 renewed (the park), 否 not; the lawn adds no area


def test_demolished_buildings_house_no_one():
    layers = _handmade_layers()
    b = layers["buildings"].copy()
    b["population"] = pd.array([100] * len(b), dtype="Int64")
    b.loc[b.index[0], "status"] = "demolished"
    p = rg.Project.from_layers({"buildings": b, "sites": layers["sites"]}, crs=CRS)
    t = rg.scorecard(p).table
    v = t.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])["value"]
    live = b[b.status != "demolished"]
    use = live.use_after.fillna(live.use_before)
    public = live[use.isin(load_library().conventions["use_groups"]["public_facility"])].gfa_m2.sum()
    close(v.loc[("public_facility_gfa_per_1000", "project")], 1000 * public / (100 * len(live)))


def test_inputs_keep_remarks_and_thresholds_name_known_indicators(tmp_path):
    f = tmp_path / "in.csv"
    f.write_text("scope,source,jobs,备注\nproject,illustrative,5000,来自2024年统计\n", encoding="utf-8")
    layers = _handmade_layers()
    p = rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS, settings={"scorecard": {"inputs_file": str(f)}})
    rg.scorecard(p)  # a text column no indicator reads is a remark, not an error
    with pytest.raises(rg.ValidationError) as e:
        rg.Project.from_layers({k: layers[k] for k in ("buildings", "sites")}, crs=CRS,
                               settings={"scorecard": {"thresholds": {"fra": {"land_supply": 1.0}}}})
    assert "thresholds names no indicator 'fra' (did you mean 'far'?)" in e.value.report.format()


def test_the_map_panel_names_blocking_indicators_in_the_maps_language(ccy_run):
    import renewgeo.webmap as wm

    r = ccy_run
    names = wm._indicator_names(r.tables["scorecard"])
    st = r.tables["scorecard_stages"]
    first = next(b for b in st.blocking if b).split("; ")[0]
    assert names[first][0] in wm._scorecard_html(st, "zh", names=names)
    assert names[first][1] in wm._scorecard_html(st, "en", names=names) and first not in wm._scorecard_html(st, "en", names=names)


def test_validate_reads_the_scorecard_files(tmp_path):
    """`renewgeo validate` used to say 0 errors for a missing inputs file, a bad CSV value or a broken library."""
    import shutil

    def project(toml_extra="", inputs=None):
        d = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        shutil.copytree(SAMPLE / "chuangchuangyi", d)
        if inputs is not None:
            (d / "indicator_inputs.csv").write_text(inputs, encoding="utf-8")
        if toml_extra:
            t = (d / "project.toml").read_text(encoding="utf-8")
            (d / "project.toml").write_text(t.replace('inputs_file = "indicator_inputs.csv"', toml_extra), encoding="utf-8")
        return d

    assert rg.validate_project(project()).ok
    r = rg.validate_project(project('inputs_file = "missing.csv"'))
    assert not r.ok and "inputs_file = 'missing.csv': no such file" in r.format()
    r = rg.validate_project(project(inputs="scope,source,jobs\nproject,illustrative,5k\n"))
    assert not r.ok and "line 2, column 'jobs': '5k' is not a number" in r.format()
    bad = project('inputs_file = "indicator_inputs.csv"\nlibrary = "mine.toml"')
    (bad / "mine.toml").write_text('[[indicators]]\nid = "x"\ncategory = "nowhere"\n', encoding="utf-8")
    r = rg.validate_project(bad)
    assert not r.ok and "mine.toml" in r.format()
