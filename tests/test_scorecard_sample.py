"""The Green FTZ scorecard on the bundled samples, recomputed from their raw layers with independent engines.

Every layer-computed indicator is recomputed here from the GeoPackage itself (pyogrio), never through renewgeo's
functions: areas and lengths with pyproj.Geod, geometry with shapely, walking distances on a networkx graph the test
builds itself, rasters with rasterio and numpy. Chuangchuangyi has every layer but constraints; land release is checked
on Shibei, and, as neither sample has rasters, the raster measures on real ones in ../shared/data (Landsat red and NIR
of Raleigh, SRTM of Andorra). Values agree within 1e-6 relative (``close``); the largest relative difference of each
measure is kept in ``AGREEMENT`` (``pytest -s`` prints it).

The walking graph follows the rules renewgeo documents (network.py, walkability.py), restated and implemented here:

* lines: every feature of paths, pedestrian_axis, landscape_corridor and trails, plus the outline of each walkable
  outdoor space; all on one level (the sample has no level, bridge or tunnel column);
* endpoint snapping within 1 m changes nothing on the sample (checked: every line end is on another line or more than
  1 m from all of them), so it is not reimplemented;
* noding on a 1 mm grid: coordinates rounded to the grid, lines split where they cross (shapely.node), the crossings
  rounded to the grid too; a segment lying on a walkable polygon's outline is an ``outline``, the others ``line``;
* plazas: entries are the nodes on a walkable polygon's outline where more than two segments meet, and the line ends
  inside it; a straight chord joins two entries when it stays inside the polygon (shapely ``covers``, the simple
  visibility test, exact for the sample's rectangles; no polygon has more than 30 entries, so no star);
* a point (amenity, green-space entry, axis point, door) hangs on the network at its nearest point by a connector of
  that length. Among edges equally near (within 1e-6 m) renewgeo takes the lowest edge id, and plaza chords are
  numbered after the paths and outlines: so here paths and outlines come before chords (which join only their two ends,
  whatever they pass over). Where equally near points of the network lie apart (an amenity midway between two parallel
  streets) the lowest id is something an independent graph cannot know: such an item has one *alternative* per place,
  and renewgeo must agree with one of them, the same one in every measure;
* a building's door is the middle of the stretch of its outline nearest the network (a facade parallel to a path),
  else its nearest point; a building with two such facades (equally near two streets) has both as alternatives;
* green-space entries: points every 20 m along the outline of green spaces (space_type green/park/pocket_park)
  within 30 m of the network; parks: park or pocket_park, or green spaces of at least 1 ha (pyproj.Geod area);
  axis points every 10 m along the axis, both ends included.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import shapely.affinity
import shapely.ops
from pyproj import Geod, Transformer

import renewgeo as rg
from renewgeo.scorecard import load_library

SAMPLES = Path(__file__).resolve().parents[1] / "layers"
CCY = SAMPLES / "chuangchuangyi" / "chuangchuangyi.gpkg"
SHIBEI = SAMPLES / "shibei_relocation" / "shibei_relocation.gpkg"
CRS = 4549
REL = 1e-6
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid
TO_LL = Transformer.from_crs(CRS, 4326, always_xy=True)
PPH = 2.62  # persons per household ([conventions] of the library)
GRID = 1e-3  # the noding grid (1 mm)
TIE = 1e-6  # equally near, in metres
LINE_LAYERS = ("paths", "pedestrian_axis", "landscape_corridor", "trails")
AGREEMENT: dict[str, float] = {}


def close(measure, got, want):
    """``got`` (renewgeo) agrees with ``want`` (independent) within 1e-6 relative; the difference is recorded."""
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got), (measure, got, want)
        return
    assert got == pytest.approx(want, rel=REL, abs=1e-9), (measure, got, want)
    AGREEMENT[measure] = max(AGREEMENT.get(measure, 0.0), abs(got - want) / max(abs(want), 1e-12))


@pytest.fixture(scope="module", autouse=True)
def _print_agreement():
    yield
    print("\nlargest relative difference per measure (renewgeo vs independent):")
    for k, v in sorted(AGREEMENT.items()):
        print(f"  {k:<40} {v:.2e}")


def geod_area(geom) -> float:
    """Ellipsoidal area (m2) of a polygon in EPSG:4549, densified so that edges follow the projection."""
    if geom.is_empty:
        return 0.0
    ll = shapely.transform(shapely.segmentize(geom, 5.0), lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return abs(GEOD.geometry_area_perimeter(ll)[0])


def geod_length(geom) -> float:
    if geom.is_empty:
        return 0.0
    ll = shapely.transform(shapely.segmentize(geom, 5.0), lambda xy: np.column_stack(TO_LL.transform(xy[:, 0], xy[:, 1])))
    return GEOD.geometry_length(ll)


def read(gpkg, *layers):
    return {n: pyogrio.read_dataframe(gpkg, layer=n) for n in layers}


def values(run):
    """The scorecard's value per (indicator, scope)."""
    t = run.tables["scorecard"]
    return t.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])


def measured(measure):
    """(indicator id, params) of the library's indicators computed by ``measure``."""
    return [(i.id, i.params) for i in load_library().indicators if i.measure == measure]


# ------------------------------------------------------------------------ the runs (once per module)
@pytest.fixture(scope="module")
def ccy():
    rg.options.progress = False
    run = rg.run_analyses(rg.load_project(SAMPLES / "chuangchuangyi"), ["scorecard"])
    raw = read(CCY, *LINE_LAYERS, "buildings", "site", "outdoor_spaces", "amenities", "zones")
    return run, values(run), raw


@pytest.fixture(scope="module")
def shibei():
    rg.options.progress = False
    run = rg.run_analyses(rg.load_project(SAMPLES / "shibei_relocation"), ["scorecard"])
    return run, values(run), read(SHIBEI, "buildings", "parcels", "constraints")


# ------------------------------------------------------------------------ people, sites and floor area of the raw layers
def site_of(buildings, sites):
    """The site holding the largest part of each building (ties: the first site); None when it touches none."""
    out = []
    for g in buildings.geometry:
        shares = [shapely.area(shapely.intersection(g, s)) for s in sites.geometry]
        best = int(np.argmax(shares)) if shares else -1
        out.append(str(sites["id"].iloc[best]) if best >= 0 and shares[best] > 0 else None)
    return pd.Series(out, index=buildings.index)


def frame(raw_buildings, sites):
    b = raw_buildings.copy()
    for col in ("use_after", "use_before", "status", "treatment"):
        if col not in b.columns:
            b[col] = None
    b["use"] = b["use_after"].where(b["use_after"].notna(), b["use_before"])
    b["residents"] = b["households"].astype(float) * PPH if "households" in b.columns else 0.0
    b["site"] = site_of(b, sites)
    b["live"] = b["status"] != "demolished"
    return b


def scopes_of(b, sites):
    return [("project", b), *((str(s), b[b["site"] == str(s)]) for s in sites["id"])]


# ------------------------------------------------------------------------ land, green, floor area, people and carbon
def test_sample_land_and_green(ccy):
    _, vals, raw = ccy
    site = raw["site"].geometry.iloc[0]
    sid = str(raw["site"]["id"].iloc[0])
    land_m2 = geod_area(site)
    b = raw["buildings"]
    fp = sum(geod_area(shapely.intersection(g, site)) for g in b.geometry)
    gfa = sum(r.gfa_m2 * shapely.intersection(r.geometry, site).area / r.geometry.area for r in b.itertuples())
    o = raw["outdoor_spaces"]
    green = sum(geod_area(shapely.intersection(g, site)) for g, t in zip(o.geometry, o.space_type, strict=True) if t in ("green", "park"))
    open_ = shapely.union_all([g for g, t, w in zip(o.geometry, o.space_type, o.walkable, strict=True)
                               if t in ("plaza", "green", "park", "pocket_park", "sports") and w is not False and w != 0])
    residents = float(b.households.fillna(0).sum()) * PPH
    for scope in ("project", sid):
        close("far", vals.loc[("far", scope), "value"], gfa / land_m2)
        close("coverage_pct", vals.loc[("building_coverage", scope), "value"], 100 * fp / land_m2)
        close("green_ratio_pct", vals.loc[("green_ratio", scope), "value"], 100 * green / land_m2)
        close("green_m2_per_resident", vals.loc[("public_green_per_person", scope), "value"], green / residents)
        close("open_space_share_pct", vals.loc[("open_public_space_share", scope), "value"],
              100 * geod_area(shapely.intersection(open_, site)) / land_m2)
        close("renewed_outdoor_share_pct", vals.loc[("outdoor_renewed_share", scope), "value"], 100.0 if o.renewed.all() else np.nan)
    close("open_space_m2_per_person", vals.loc[("shelter_space_per_person", "project"), "value"],
          geod_area(shapely.intersection(open_, site)) / (residents + 5000))
    close("line_density_km_per_km2", vals.loc[("corridor_density", "project"), "value"],
          geod_length(shapely.intersection(raw["landscape_corridor"].geometry.iloc[0], site)) / 1000 / (land_m2 / 1e6))


def test_sample_floor_area_people_and_carbon(ccy):
    _, vals, raw = ccy
    b = raw["buildings"].copy()
    lib = load_library()
    groups = lib.conventions["use_groups"]
    b["use"] = b.use_after.where(b.use_after.notna(), b.use_before)
    live = b[b.status != "demolished"]
    residents = float(b.households.fillna(0).sum()) * PPH

    def project(ind):
        return vals.loc[(ind, "project"), "value"]

    close("gfa_share_pct (innovation)", project("innovation_gfa_share"),
          100 * live[live.use.isin(groups["innovation"])].gfa_m2.sum() / live.gfa_m2.sum())
    close("works_progress_pct", project("works_complete"), (live.progress_pct * live.gfa_m2).sum() / live.gfa_m2.sum())
    close("gfa_per_1000_residents", project("public_facility_gfa_per_1000"),
          1000 * live[live.use.isin(groups["public_facility"])].gfa_m2.sum() / residents)
    grp = live.use.map(lambda u: next((g for g in ("residential", "office", "commercial", "public", "industrial", "other")
                                       if u in groups[g]), "other"))
    p = live.groupby(grp).gfa_m2.sum().to_numpy() / live.gfa_m2.sum()
    close("use_mix_entropy", project("use_mix"), float(-(p * np.log(p)).sum() / np.log(6)))
    a = raw["amenities"]
    close("amenity_capacity_per_1000", project("childcare_places_per_1000"),
          1000 * a.loc[a.category == "childcare", "capacity"].sum() / residents)
    close("parking_spaces_per_100m2", project("parking_per_100m2"), 100 * a.loc[a.category == "parking", "capacity"].sum() / live.gfa_m2.sum())
    r = 5000 / b.households.sum()
    close("jobs_housing_balance_pct", project("jobs_housing_balance"), 100 * min(r, 1 / r))
    c = lib.carbon
    eui = {}
    for row in c["eui"]:
        for u in [row["use"], *row["aliases"]]:
            eui.setdefault(u, row[c["value_column"]])
    grid = c["grid"][c["grid"]["default"]]["kgco2_per_kwh"]
    per_m2 = sum(r.gfa_m2 * eui.get(r.use, eui["default"]) * grid for r in live.itertuples()) / live.gfa_m2.sum()
    close("est_operational_carbon_kgco2_per_m2", project("operational_carbon_per_m2"), per_m2)
    close("carbon_intensity_reduction_pct", project("carbon_intensity_reduction"),
          100 * (1 - per_m2 / c["baseline"]["floor_area"]["kgco2_per_m2"]))


# ------------------------------------------------------------------------ floor area and data (both samples)
def _data_and_gfa_checks(vals, b, sites, *, scopes_checked=None):
    for scope, s in scopes_of(b, sites):
        if scopes_checked is not None and scope not in scopes_checked:
            continue
        if not len(s):
            assert math.isnan(vals.loc[("data_completeness", scope), "value"])
            continue
        full = s.use.notna() & s.status.notna() & s.treatment.notna() & s.gfa_m2.notna()
        close("building_data_completeness_pct", vals.loc[("data_completeness", scope), "value"], 100 * full.sum() / len(s))
        existing = s[(s.treatment != "new_build") & (s.status != "new")]
        kept = existing[(existing.treatment != "demolish") & (existing.status != "demolished")]
        close("gfa_share_pct (kept)", vals.loc[("kept_gfa_share", scope), "value"], 100 * kept.gfa_m2.sum() / existing.gfa_m2.sum())
        live = s[s.live]
        close("gfa_share_pct (idle)", vals.loc[("idle_gfa_share", scope), "value"],
              100 * live.loc[live.status == "idle", "gfa_m2"].sum() / live.gfa_m2.sum())
        if "protected" in s.columns:
            prot = s[s.protected.fillna(False).astype(bool)]
            want = (100 * prot.loc[(prot.treatment != "demolish") & (prot.status != "demolished"), "gfa_m2"].sum() / prot.gfa_m2.sum()
                    if prot.gfa_m2.sum() > 0 else np.nan)
            close("gfa_share_pct (protected)", vals.loc[("protected_gfa_retained", scope), "value"], want)


def test_chuangchuangyi_data_completeness_and_floor_area_shares(ccy):
    """Every building is complete; nothing is new or demolished (kept 100 %); no building is idle after renewal.

    The layer has no ``protected`` column: protected_gfa_retained is unavailable (NaN, saying which column would fill it),
    not 0 and not "no protected buildings".
    """
    _, vals, raw = ccy
    b = frame(raw["buildings"], raw["site"])
    _data_and_gfa_checks(vals, b, raw["site"])
    t = vals.reset_index()
    prot = t[t.indicator_id == "protected_gfa_retained"]
    assert prot.value.isna().all() and prot.why.str.contains("protected").all()
    run = ccy[0]
    st = run.tables["scorecard"]
    st = st[(st.indicator_id == "protected_gfa_retained") & st.threshold.notna()]
    assert set(st.status) == {"unavailable"}


def test_shibei_data_completeness_and_floor_area_shares(shibei):
    """Shibei has no treatment column: completeness is 0 % and says why; kept and idle shares by status, every parcel."""
    _, vals, raw = shibei
    b = frame(raw["buildings"], raw["parcels"])
    _data_and_gfa_checks(vals, b, raw["parcels"])
    assert "no treatment column" in vals.loc[("data_completeness", "project"), "why"]
    # parcels without buildings: no denominator, not applicable (NaN), never 0
    empty = [str(p) for p in raw["parcels"]["id"] if not (b.site == str(p)).any()]
    assert empty and all(math.isnan(vals.loc[("kept_gfa_share", p), "value"]) for p in empty)


# ------------------------------------------------------------------------ land release (Shibei: the sample with constraints)
def test_shibei_land_release_against_its_target(shibei):
    """Net land released in 2024 against the 400 mu target, rebuilt with shapely and pyproj.Geod.

    Constraints take land by the documented rules of project.toml's [release] (roads: half their width_m, default 20 m;
    rivers and green corridors: buffer_m, default 20 m; protected buildings: buffer_m, default 5 m; the rest: buffer_m,
    default 0), buffered with shapely's default round buffer. Net land = parcel minus their union; a leftover piece is
    unusable when smaller than 1,000 m2 (Geod area) or narrower than 20 m, tested here with the largest inscribed circle
    (radius < 10 m) instead of renewgeo's negative buffer. The sample's pieces are far from both limits (checked).
    """
    _, vals, raw = shibei
    parcels, cons = raw["parcels"], raw["constraints"]
    defaults = {"road": None, "river": 20.0, "green_corridor": 20.0, "protected_building": 5.0, "retained_building": 0.0}
    taken = []
    for r in cons.itertuples():
        g, t = r.geometry, r.constraint_type
        if t == "road" and g.area == 0:
            d = (r.width_m if pd.notna(r.width_m) else 20.0) / 2
        elif t == "road":
            d = r.buffer_m if pd.notna(r.buffer_m) else 0.0
        else:
            d = r.buffer_m if pd.notna(r.buffer_m) else (defaults.get(t) or 0.0)
        taken.append(shapely.buffer(g, d) if d > 0 else g)
    blocked = shapely.union_all(taken)
    assert not any(shapely.overlaps(a, b) for a, b in itertools.combinations(parcels.geometry, 2))
    net_m2 = 0.0
    for p in parcels[parcels.release_year == 2024].itertuples():
        for piece in shapely.get_parts(shapely.difference(p.geometry, blocked)):
            if piece.geom_type != "Polygon":
                continue
            area = geod_area(piece)
            radius = shapely.maximum_inscribed_circle(piece, 0.01).length
            assert abs(area - 1000) > 1 and abs(radius - 10) > 0.05, (p.id, area, radius)  # no borderline piece
            if area >= 1000 and radius >= 10:
                net_m2 += area
    close("release_vs_target_pct", vals.loc[("land_release_vs_target", "project"), "value"], 100 * (net_m2 / (10000 / 15)) / 400)


def test_what_the_samples_cannot_give_is_unavailable_and_says_what_would_fill_it(ccy, shibei):
    """Neither sample has rasters, Chuangchuangyi has no constraints: NaN with the data that would fill them, never 0.

    (The raster measures are checked on real rasters below, and land release on Shibei above.)
    """
    for run, vals, _ in (ccy, shibei):
        t = vals.reset_index()
        for ind, role in (("steep_land_share", "dem"), ("impervious_share", "nir"), ("green_cover", "red")):
            rows = t[t.indicator_id == ind]
            assert rows.value.isna().all() and rows.why.str.contains(f'role = "{role}"').all(), ind
        st = run.tables["scorecard"]
        assert st.loc[st.status == "unavailable", "value"].isna().all() and not st.loc[st.status == "unavailable", "why"].eq("").any()
    rel = ccy[1].loc[("land_release_vs_target", "project")]
    assert math.isnan(rel.value) and "constraints" in rel.why and "net_release" in rel.why


# ------------------------------------------------------------------------ the walking graph of Chuangchuangyi (networkx)
def _on_grid(xy):
    return np.round(np.asarray(xy, dtype=float) / GRID) * GRID


def _key(xy):
    return (round(float(xy[0]) / GRID), round(float(xy[1]) / GRID))


class Walk:
    """The sample's walking network as a networkx graph, its points attached, and network distances.

    ``segs``: every two-point segment as ``(a, b, kind, geometry)`` with ``a``, ``b`` grid keys and kind ``line``,
    ``outline`` or ``chord``; ``g``: the graph of the segments, weighted by length; ``pos``: key -> coordinates.
    """

    def __init__(self, raw):
        lines = [g for n in LINE_LAYERS for g in shapely.get_parts(raw[n].geometry.values)]
        o = raw["outdoor_spaces"]
        self.plazas = [g for g, w in zip(o.geometry, o.walkable, strict=True) if w is True or w == 1]
        rings = [r for p in self.plazas for r in shapely.get_parts(shapely.boundary(p))]
        for n in LINE_LAYERS:
            assert not {"level", "bridge", "tunnel", "walkable"} & set(raw[n].columns), n  # one level, every line walkable
        self._check_no_snapping([*lines, *rings])
        self.ends = {_key(_on_grid(shapely.get_coordinates(g)[i])) for g in [*lines, *rings] for i in (0, -1)}
        noded = shapely.node(shapely.MultiLineString([shapely.transform(g, _on_grid) for g in [*lines, *rings]]))
        on_ring = shapely.union_all([shapely.buffer(r, 2 * GRID) for r in rings])
        self.pos, seen, self.segs = {}, set(), []
        for part in shapely.get_parts(noded):
            for a, b in itertools.pairwise(_on_grid(shapely.get_coordinates(part))):
                ka, kb = _key(a), _key(b)
                if ka == kb or frozenset((ka, kb)) in seen:
                    continue  # a point, or a piece two lines share
                seen.add(frozenset((ka, kb)))
                s = shapely.LineString([a, b])
                self.pos[ka], self.pos[kb] = tuple(a), tuple(b)
                self.segs.append((ka, kb, "outline" if shapely.covers(on_ring, s) else "line", s))
        degree = nx.MultiGraph([(a, b) for a, b, _, _ in self.segs]).degree
        for poly in self.plazas:
            ring = shapely.boundary(poly)
            entries = [k for k, xy in self.pos.items() if
                       (shapely.distance(ring, shapely.Point(xy)) <= 2 * GRID and degree[k] > 2)
                       or (shapely.distance(ring, shapely.Point(xy)) > 2 * GRID and poly.contains(shapely.Point(xy)) and degree[k] == 1)]
            assert 2 <= len(entries) <= 30  # no star through the centre
            inside = shapely.buffer(poly, GRID)
            for a, b in itertools.combinations(entries, 2):
                chord = shapely.LineString([self.pos[a], self.pos[b]])
                if shapely.covers(inside, chord):
                    self.segs.append((a, b, "chord", chord))
        self.g = nx.MultiGraph()
        for a, b, kind, s in self.segs:
            self.g.add_edge(a, b, weight=s.length, kind=kind)
        self.geoms = np.array([s for *_, s in self.segs], dtype=object)
        self.kinds = np.array([k for _, _, k, _ in self.segs])
        self.points: dict = {}  # item -> list of (segment, position along it, connector)

    @staticmethod
    def _check_no_snapping(lines):
        """Renewgeo joins line ends closer than 1 m to a line; on the sample every end is on a line or farther than 1 m."""
        for i, g in enumerate(lines):
            for end in (shapely.get_point(g, 0), shapely.get_point(g, -1)):
                d = shapely.distance(end, np.array([h for j, h in enumerate(lines) if j != i], dtype=object))
                assert not ((d > GRID / 2) & (d <= 1.0)).any()

    # ---- attaching
    def place(self, p):
        """Where a point hangs on the network: one (segment, position, connector) per equally near place."""
        d = shapely.distance(p, self.geoms)
        near = np.flatnonzero(d <= d.min() + TIE)
        paths = [i for i in near if self.kinds[i] != "chord"]
        if paths:  # chords come after paths and outlines; one place per distinct point of the network
            by_place = {}
            for i in paths:
                at = shapely.get_coordinates(shapely.ops.nearest_points(p, self.geoms[i])[1])[0]
                by_place.setdefault((round(at[0] / TIE), round(at[1] / TIE)), i)
            near = list(by_place.values())
        return [(int(i), float(self.geoms[i].project(p)), float(d[i])) for i in near]

    def attach(self, item, points):
        """Attach ``item`` by one or more alternative points (door candidates); each place is one alternative."""
        self.points[item] = [pl for p in points for pl in self.place(p)]

    def doors(self, poly):
        """Door candidates of a building (see the module's docstring)."""
        net = shapely.MultiLineString([list(s.coords) for s in self.geoms])
        dmin = shapely.distance(poly, net)
        assert not list(poly.interiors)
        ring = np.asarray(poly.exterior.coords)
        along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(ring, axis=0).T))]
        total = along[-1]
        near = [i for i in range(len(self.geoms)) if shapely.distance(self.geoms[i], poly) <= dmin + TIE]
        pieces = []  # (start, end) along the ring, at dmin from a segment parallel to the side
        for k in range(len(ring) - 1):
            p0, side = ring[k], along[k + 1] - along[k]
            u = (ring[k + 1] - p0) / side
            normal = np.array([-u[1], u[0]])
            for i in near:
                q0, q1 = (np.asarray(c) for c in self.geoms[i].coords)
                if abs(np.dot(q1 - q0, normal)) > 1e-9 * np.hypot(*(q1 - q0)) or abs(abs(np.dot(q0 - p0, normal)) - dmin) > TIE:
                    continue
                t0, t1 = sorted((np.dot(q0 - p0, u), np.dot(q1 - p0, u)))
                if min(t1, side) - max(t0, 0.0) > 1e-9:
                    pieces.append((along[k] + max(t0, 0.0), along[k] + min(t1, side), k))

        def straight(k, m):  # two sides of the ring in one straight line (a ring may start in the middle of a facade)
            v, w = ring[k + 1] - ring[k], ring[m + 1] - ring[m]
            return abs(v[0] * w[1] - v[1] * w[0]) <= 1e-9 * np.hypot(*v) * np.hypot(*w) and np.dot(v, w) > 0

        stretches = []  # pieces on one straight side, joined
        for a, b, k in sorted(pieces):
            if stretches and a <= stretches[-1][1] + 1e-9 and straight(stretches[-1][2], k):
                stretches[-1][1] = max(stretches[-1][1], b)
            else:
                stretches.append([a, b, k])
        wraps = len(stretches) > 1 and stretches[0][0] <= 1e-9 and stretches[-1][1] >= total - 1e-9
        if wraps and straight(stretches[0][2], stretches[-1][2]):
            first = stretches.pop(0)  # a facade through the ring's start
            stretches[-1][1] = total + first[1]
        ring_line = shapely.LineString(ring)
        doors = [ring_line.interpolate(((a + b) / 2) % total) for a, b, _ in stretches]
        # a facade must face one edge, without a node in front of it (renewgeo takes the middle of the part of the facade
        # facing the edge it attaches to): true on the sample
        for door, (a, b, _) in zip(doors, stretches, strict=True):
            for node, xy in self.pos.items():
                t = ring_line.project(shapely.Point(xy))
                in_front = any(a + 1e-6 < x < b - 1e-6 for x in (t, t + total)) and shapely.distance(poly, shapely.Point(xy)) <= dmin + TIE
                assert not (in_front and (self.g.degree(node) != 2 or node in self.ends)), f"a node in front of the facade at {door}"
        corners = [shapely.Point(c) for c in ring[:-1] if shapely.distance(shapely.Point(c), net) <= dmin + TIE]
        corners += [ring_line.interpolate(ring_line.project(shapely.Point(c))) for i in near for c in self.geoms[i].coords
                    if shapely.distance(shapely.Point(c), poly) <= dmin + TIE]
        for c in corners:  # nearest points outside any facade
            t = ring_line.project(c)
            on_facade = any(a - 1e-6 <= x <= b + 1e-6 for a, b, _ in stretches for x in (t, t + total))
            if not on_facade and all(c.distance(x) > TIE for x in doors):
                doors.append(c)
        return doors

    def graph(self):
        """The graph with every attached alternative as a leaf ``(item, j)``."""
        h = self.g.copy()
        by_seg: dict = {}
        for item, alts in self.points.items():
            for j, (i, t, conn) in enumerate(alts):
                by_seg.setdefault(i, []).append((t, (item, j), conn))
        for i, items in by_seg.items():
            a, b, kind, s = self.segs[i]
            h.remove_edges_from([(a, b, k) for k, d in h.get_edge_data(a, b).items() if abs(d["weight"] - s.length) < 1e-12][:1])
            start, end = (a, b) if _key(s.coords[0]) == a else (b, a)
            chain = [(0.0, start)]
            for t, leaf, conn in sorted(items, key=lambda x: x[0]):
                on = ("on", i, round(t, 9))
                chain.append((t, on))
                h.add_edge(leaf, on, weight=conn, kind="connector")
            chain.append((s.length, end))
            for (t0, n0), (t1, n1) in itertools.pairwise(chain):
                if n0 != n1:
                    h.add_edge(n0, n1, weight=t1 - t0, kind=kind)
        return h


def _agree(x, y):
    return (math.isinf(x) and pd.isna(y)) or (not pd.isna(y) and abs(x - y) <= REL * max(abs(y), 1.0))


def _distances(h, w, targets, origins):
    """Network distance from every door alternative ``(o, j)`` to the nearest of ``targets``, once per choice of place of
    the targets that have several (renewgeo took one of them)."""
    multi = [t for t in targets if len(w.points[t]) > 1]
    out = []
    for choice in itertools.product(*[range(len(w.points[t])) for t in multi]):
        pick = dict(zip(multi, choice, strict=True))
        d = nx.multi_source_dijkstra_path_length(h, [(t, pick.get(t, 0)) for t in targets], weight="weight") if targets else {}
        out.append({(o, j): d.get((("b", o), j), math.inf) for o in origins for j in range(len(w.points[("b", o)]))})
    return out


def gb_circles():
    """The default life circles, derived here from the GB 50180-2018 rows of the standard's file (tomllib, not renewgeo):
    per level with a distance, one requirement per required facility's categories that renewgeo knows."""
    from renewgeo.schemas import AMENITY_CATEGORIES

    doc = tomllib.loads((Path(rg.__file__).parent / "data" / "life_circles_gb50180.toml").read_text(encoding="utf-8"))
    circles = {}
    for lv in doc["levels"]:
        if "distance_m" in lv:
            reqs = {frozenset(c for c in f["categories"] if c in AMENITY_CATEGORIES) for f in doc["facilities"]
                    if f["level"] == lv["id"] and f["provision"] == "required" and f.get("standard", "GB 50180-2018") == "GB 50180-2018"}
            circles[lv["id"]] = (max(lv["distance_m"]), [sorted(r) for r in reqs if r])
    return circles


def _targets(w, raw):
    """Attach the amenities, green-space and park entries and axis points; the items each of renewgeo's columns searches."""
    a, o = raw["amenities"], raw["outdoor_spaces"]
    for r in a.itertuples():
        w.attach(("a", r.id), [r.geometry])
    targets = {f"walk_{c}_nearest_m": [("a", i) for i in a.loc[a.category == c, "id"]] for c in sorted(set(a.category))}
    green = o[o.space_type.isin(["green", "park", "pocket_park"])]
    parks = green[green.space_type.isin(["park", "pocket_park"]) | (green.geometry.map(geod_area) >= 10000)]
    for col, polys in (("green_dist_m", green), ("park_dist_m", parks)):
        targets[col] = []
        for ring in shapely.get_parts(shapely.boundary(polys.geometry.values)):  # every 20 m, where within 30 m of the network
            for t in np.linspace(0, ring.length, max(math.ceil(ring.length / 20), 1), endpoint=False):
                p = ring.interpolate(t)
                if shapely.distance(p, w.geoms).min() <= 30:
                    targets[col].append((col, len(targets[col])))
                    w.attach(targets[col][-1], [p])
    targets["axis_dist_m"] = []
    for line in shapely.get_parts(raw["pedestrian_axis"].geometry.values):  # every 10 m along the axis, both ends
        for t in np.linspace(0, line.length, max(math.ceil(line.length / 10), 1) + 1):
            targets["axis_dist_m"].append(("axis", len(targets["axis_dist_m"])))
            w.attach(targets["axis_dist_m"][-1], [line.interpolate(t)])
    return targets


def _resolved(found, theirs, options):
    """Per column, the choice of place of the tied targets most of renewgeo's values agree with; per building, the doors
    that agree in every column so far (narrowed in place)."""
    best = {}
    for col, per_choice in found.items():
        best[col] = max(per_choice, key=lambda dd, c=col: sum(any(_agree(dd[(i, j)], theirs.loc[i, c]) for j in js)
                                                              for i, js in options.items()))
        for i, js in options.items():
            options[i] = {j for j in js if _agree(best[col][(i, j)], theirs.loc[i, col])} or js
    return best


@pytest.fixture(scope="module")
def walked(ccy):
    """The independent distances of every building of the sample, and where they differ from renewgeo's columns.

    Returns ``(w, dist, mismatches)``: ``dist[column][building]`` for renewgeo's columns ``walk_<category>_nearest_m``,
    ``green_dist_m``, ``park_dist_m``, ``axis_dist_m`` and ``walk_snap_m`` (inf: none in reach), ``lc_<circle>_pass``.
    A building or amenity with alternatives takes the one renewgeo's values agree with, the same in every column.
    """
    run, _, raw = ccy
    w = Walk(raw)
    ids = list(raw["buildings"].id)
    for r in raw["buildings"].itertuples():
        w.attach(("b", r.id), w.doors(r.geometry))
    targets = _targets(w, raw)
    assert all(c <= 100.0 for alts in w.points.values() for _, _, c in alts)  # every item within [walk] max_snap_m
    h = w.graph()
    theirs = run.layer("buildings").set_index("id")
    options = {i: set(range(len(w.points[("b", i)]))) for i in ids}
    best = _resolved({col: _distances(h, w, tg, ids) for col, tg in targets.items()}, theirs, options)
    door = {i: min(options[i]) for i in ids}
    dist = {col: {i: dd[(i, door[i])] for i in ids} for col, dd in best.items()}
    dist["walk_snap_m"] = {i: w.points[("b", i)][door[i]][2] for i in ids}
    for name, (distance_m, required) in gb_circles().items():
        dist[f"lc_{name}_pass"] = {i: all(min(dist.get(f"walk_{c}_nearest_m", {}).get(i, math.inf) for c in req) <= distance_m + 1e-9
                                          for req in required) for i in ids}
    mismatches = []
    for col, dd in dist.items():
        for i, v in dd.items():
            y, circle = theirs.loc[i, col], col.startswith("lc_")
            if not (v == bool(y) if circle else _agree(v, y)):
                mismatches.append((col, i, v, y))
            elif not circle and math.isfinite(v):
                AGREEMENT[f"per building: {col}"] = max(AGREEMENT.get(f"per building: {col}", 0.0), abs(v - y) / max(abs(v), 1e-12))
    return w, dist, mismatches


# renewgeo.network._choose_edges keeps only the edges GEOS finds exactly as near as the nearest (query_nearest with
# all_matches), so floating noise, not the lowest edge id, picks among edges equally near: B13's door, facing the corridor
# green's outline at x = 518318, hangs on a plaza chord lying over that outline from y = 3985260 to 3985710, which skips
# the junctions at 3985410 and 3985560 (150 m more to the clinic, 80 m more to green space). Proposed fix in the issue 14
# report; no scorecard value changes (B13 houses no one and stays beyond 300 m of the axis).
CHORD_TIE_BUG = {"B13"}


def test_sample_walk_distances_per_building(walked):
    """Every building's distance to each amenity category, green space, park and the axis, its connector and its life
    circles, against networkx on the test's own graph of the raw layers."""
    _, dist, mismatches = walked
    assert len(dist["walk_snap_m"]) == 26 and len(dist) >= 20
    wrong = {i for _, i, _, _ in mismatches}
    assert wrong <= CHORD_TIE_BUG, mismatches
    if wrong:
        pytest.xfail(f"{len(mismatches)} distances of {sorted(wrong)} differ: renewgeo.network._choose_edges ties (see CHORD_TIE_BUG)")


def test_sample_residents_served_life_circles_green_and_axis(ccy, walked):
    """Each walk-based indicator of the scorecard, per scope, from the independent distances.

    Only B24 (160 households, 419.2 residents) houses anyone on the sample, so each residents' share is 0 or 100 %;
    the distances behind them are checked building by building above.
    """
    _, vals, raw = ccy
    _, dist, _ = walked
    b = frame(raw["buildings"], raw["site"])
    b = b[b.live]
    assert b.residents.sum() == pytest.approx(160 * PPH)

    def share(ok, scope_b, weight="residents"):
        den = scope_b[weight].sum()
        return 100 * scope_b.loc[scope_b.id.map(ok), weight].sum() / den if den > 0 else np.nan

    def nearest(i, cats):
        return min(dist.get(f"walk_{c}_nearest_m", {}).get(i, math.inf) for c in cats)

    for scope, s in scopes_of(b, raw["site"]):
        for ind, params in measured("residents_served_pct"):
            ok = {i: any(nearest(i, r["categories"]) <= r["distance_m"] for r in params["rules"]) for i in b.id}
            close("residents_served_pct", vals.loc[(ind, scope), "value"], share(ok, s))
        for ind, params in measured("life_circle_pass_pct"):
            close("life_circle_pass_pct", vals.loc[(ind, scope), "value"], share(dist[f"lc_{params['circle']}_pass"], s))
        for ind, params in measured("residents_green_access_pct"):
            d = dist[f"{params['target']}_dist_m"]
            close("residents_green_access_pct", vals.loc[(ind, scope), "value"], share({i: d[i] <= params["distance_m"] for i in b.id}, s))
    (ind, params), = measured("axis_catchment_gfa_pct")
    close("axis_catchment_gfa_pct", vals.loc[(ind, "project"), "value"],
          share({i: dist["axis_dist_m"][i] <= params["distance_m"] for i in b.id}, b, "gfa_m2"))


def test_sample_intersections_network_density_connectivity_and_axis(ccy, walked):
    """Street intersections (three or more path segments, plaza outlines and chords left out), path and outline length
    per km2 (pyproj.Geod, clipped to the site), the largest component's share of the length, the axis in one piece."""
    _, vals, raw = ccy
    w, _, _ = walked
    site = raw["site"].geometry.iloc[0]
    land_km2 = geod_area(site) / 1e6
    lines = nx.MultiGraph([(a, b) for a, b, kind, _ in w.segs if kind == "line"])
    crossings = [k for k, n in lines.degree if n >= 3 and shapely.intersects(shapely.Point(w.pos[k]), site)]
    # renewgeo counted 12 more on the site before the fix in scorecard._edges: the promenade's outline came out as paths
    walked_km = sum(geod_length(shapely.intersection(s, site)) for _, _, kind, s in w.segs if kind != "chord") / 1000
    for scope in ("project", str(raw["site"]["id"].iloc[0])):
        close("intersection_density_per_km2", vals.loc[("intersection_density", scope), "value"], len(crossings) / land_km2)
        close("network_density_km_per_km2", vals.loc[("walk_network_density", scope), "value"], walked_km / land_km2)
    comps = [sum(d["weight"] for *_, d in w.g.subgraph(c).edges(data=True)) for c in nx.connected_components(w.g)]
    close("network_largest_component_pct", vals.loc[("network_connectivity", "project"), "value"], 100 * max(comps) / sum(comps))
    axis = shapely.node(shapely.MultiLineString(list(shapely.get_parts(raw["pedestrian_axis"].geometry.values))))
    pieces = nx.number_connected_components(nx.Graph([(c[i], c[i + 1]) for part in shapely.get_parts(axis)
                                                     for c in [list(map(tuple, shapely.get_coordinates(part)))] for i in range(len(c) - 1)]))
    assert pieces == 1
    close("axis_gap_m", vals.loc[("axis_continuity", "project"), "value"], 0.0)


# ------------------------------------------------------------------------ rasters on real data (neither sample has any)
@pytest.mark.realdata
def test_green_cover_and_impervious_share_on_landsat(shared_data):
    """NDVI shares over two rotated sites in Raleigh (Landsat 7, EPSG:32119), coverage-weighted with shapely.

    Each pixel counts by the share of it inside the site (shapely intersection areas); NDVI is (NIR - red) / (NIR + red)
    kept as float32 (renewgeo's NDVI grid), nodata where a band is nodata or both are 0. Green: NDVI > 0.3; impervious:
    0 <= NDVI < 0.3.
    """
    import rasterio
    import rasterio.windows

    from renewgeo.project import RasterSpec

    folder = shared_data / "raster"
    files = {"red": folder / "landsat7_2000_b3_red_raleigh.tif", "nir": folder / "landsat7_2000_b4_nir_raleigh.tif"}
    base = shapely.affinity.rotate(shapely.box(637000, 221500, 637900, 222100), 17, origin=(637000, 221500))
    sites = {"R1": base, "R2": shapely.affinity.translate(base, 850, -300)}
    p = rg.Project.from_layers({"sites": gpd.GeoDataFrame({"id": list(sites)}, geometry=list(sites.values()), crs=32119)},
                               crs=32119, name="raleigh")
    p.rasters = {n: RasterSpec(file=str(f), role=n, path=str(f)) for n, f in files.items()}
    t = rg.scorecard(p).table.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])
    with rasterio.open(files["red"]) as r, rasterio.open(files["nir"]) as n:
        area = shapely.union_all(list(sites.values())).buffer(100).bounds
        win = rasterio.windows.from_bounds(*area, transform=r.transform).round_offsets().round_lengths()
        red, nir = (x.read(1, window=win).astype("float64") for x in (r, n))
        red[red == r.nodata], nir[nir == n.nodata] = np.nan, np.nan
        t0 = r.transform
    assert t0.b == t0.d == 0  # north up
    a, e = t0.a, t0.e
    c, f = t0.c + win.col_off * a, t0.f + win.row_off * e  # the window's corner (affine's * operator is deprecated)
    den = nir + red
    valid = np.isfinite(den) & (den != 0)
    ndvi = np.where(valid, (nir - red) / np.where(valid, den, 1.0), np.nan).astype(np.float32).astype("float64")
    rows, cols = np.indices(ndvi.shape)
    x0, y0 = c + a * cols.ravel(), f + e * rows.ravel()
    pixels = shapely.box(x0, np.minimum(y0, y0 + e), x0 + a, np.maximum(y0, y0 + e))
    for scope, poly in [("project", shapely.union_all(list(sites.values()))), *sites.items()]:
        frac = (shapely.area(shapely.intersection(pixels, poly)) / shapely.area(pixels)).reshape(ndvi.shape) * valid
        assert frac.sum() > 500
        close("green_cover_share_pct", t.loc[("green_cover", scope), "value"], 100 * (frac * (ndvi > 0.3)).sum() / frac.sum())
        close("impervious_share_pct", t.loc[("impervious_share", scope), "value"],
              100 * (frac * ((ndvi >= 0) & (ndvi < 0.3))).sum() / frac.sum())


@pytest.mark.realdata
def test_steep_land_share_on_srtm(shared_data):
    """Steep land (slope > 25 %) over two rotated sites in Andorra (SRTM 3", EPSG:4326; the project in UTM 31N).

    Horn's slope with numpy, the pixel size in metres per row from pyproj.Geod on WGS 84 (width along the row's centre
    latitude, height along the meridian), kept as float32 (renewgeo's slope grid); a void, and a pixel whose 3 x 3 window
    holds one, has no slope. The sites are taken to the DEM's CRS vertex by vertex, and each pixel counts by the share of it inside
    (shapely). 25 % is [raster] steep_slope_pct's default.
    """
    import rasterio
    import rasterio.windows

    from renewgeo.project import RasterSpec

    dem = f"/vsizip/{shared_data / 'raster' / 'srtm3_N42E001_andorra.hgt.zip'}/N42E001.hgt"
    base = shapely.affinity.rotate(shapely.box(377000, 4706000, 378200, 4706900), 23, origin=(377000, 4706000))
    sites = {"A1": base, "A2": shapely.affinity.translate(base, 1100, 400)}
    p = rg.Project.from_layers({"sites": gpd.GeoDataFrame({"id": list(sites)}, geometry=list(sites.values()), crs=25831)},
                               crs=25831, name="andorra")
    p.rasters = {"dem": RasterSpec(file=dem, role="dem", path=dem)}
    t = rg.scorecard(p).table.drop_duplicates(["indicator_id", "scope"]).set_index(["indicator_id", "scope"])
    to_ll = Transformer.from_crs(25831, 4326, always_xy=True)
    scopes = {"project": shapely.union_all(list(sites.values())), **sites}  # the project: the union in the project's CRS
    ll = {k: shapely.transform(g, lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1]))) for k, g in scopes.items()}
    with rasterio.open(dem) as r:
        t0 = r.transform
        win = rasterio.windows.from_bounds(*ll["project"].buffer(5 * t0.a).bounds, transform=t0)
        win = win.round_offsets().round_lengths()
        z = r.read(1, window=win).astype("float64")
        z[z == r.nodata] = np.nan
    a, e = t0.a, t0.e
    c, f = t0.c + win.col_off * a, t0.f + win.row_off * e
    lat = f + (np.arange(z.shape[0]) + 0.5) * e
    wgs84 = Geod(ellps="WGS84")
    dx = wgs84.inv(np.full(len(lat), c), lat, np.full(len(lat), c + a), lat)[2]
    dy = wgs84.inv(np.full(len(lat), c), lat - e / 2, np.full(len(lat), c), lat + e / 2)[2]
    zp = np.pad(z, 1, constant_values=np.nan)
    dzdx = ((zp[:-2, 2:] + 2 * zp[1:-1, 2:] + zp[2:, 2:]) - (zp[:-2, :-2] + 2 * zp[1:-1, :-2] + zp[2:, :-2])) / (8 * dx[:, None])
    dzdy = ((zp[2:, :-2] + 2 * zp[2:, 1:-1] + zp[2:, 2:]) - (zp[:-2, :-2] + 2 * zp[:-2, 1:-1] + zp[:-2, 2:])) / (8 * dy[:, None])
    pct = (100 * np.hypot(dzdx, dzdy)).astype(np.float32).astype("float64")
    valid = np.isfinite(pct) & np.isfinite(z)  # Horn's window leaves out its centre: a void there is no slope either
    rows, cols = np.indices(z.shape)
    x0, y0 = c + a * cols.ravel(), f + e * rows.ravel()
    pixels = shapely.box(x0, np.minimum(y0, y0 + e), x0 + a, np.maximum(y0, y0 + e))
    for scope, poly in ll.items():
        frac = (shapely.area(shapely.intersection(pixels, poly)) / shapely.area(pixels)).reshape(z.shape) * valid
        assert frac.sum() > 100  # pixels of about 70 x 90 m
        steep = np.where(valid, pct, 0.0) > 25
        assert 5 < 100 * (frac * steep).sum() / frac.sum() < 95  # a mix of steep and gentle land
        close("steep_land_share_pct", t.loc[("steep_land_share", scope), "value"], 100 * (frac * steep).sum() / frac.sum())
