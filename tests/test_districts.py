"""District benchmarking (renewgeo.districts): hand-computed cases, invariants, the seed's Ningbo figure, Qingdao, the CLI.

Gini coefficients are checked against the textbook mean-difference formula computed here
with numpy, areas against pyproj.Geod, never against renewgeo's own earlier output.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

import renewgeo as rg
from renewgeo import districts as rd
from renewgeo import outputs

ROOT = Path(__file__).resolve().parents[1]
CORRIDORS = ROOT / "layers" / "corridors"
SAMPLE = CORRIDORS / "corridors.gpkg"
X0, Y0 = 500_000.0, 3_985_000.0  # EPSG:4549's central meridian (120E) near Qingdao: planar ~ true area (scale 1 - 4e-7)
QINGDAO_DISTRICTS = {"370202": "市南区 Shinan", "370203": "市北区 Shibei", "370211": "黄岛区 Huangdao", "370212": "崂山区 Laoshan",
                     "370213": "李沧区 Licang", "370214": "城阳区 Chengyang", "370215": "即墨区 Jimo", "370281": "胶州市 Jiaozhou",
                     "370283": "平度市 Pingdu", "370285": "莱西市 Laixi"}


def textbook_gini(x) -> float:
    """Gini = sum_i sum_j |x_i - x_j| / (2 n^2 mean): the mean-difference definition, independent of any library."""
    x = np.asarray(x, dtype=float)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean()))


def strip(widths_m, heights_m=None, **columns) -> gpd.GeoDataFrame:
    """Districts as boxes side by side from (X0, Y0), in EPSG:4549."""
    heights_m = heights_m or [1000.0] * len(widths_m)
    edges = X0 + np.concatenate([[0.0], np.cumsum(widths_m)])
    geoms = [shapely.box(edges[i], Y0, edges[i + 1], Y0 + heights_m[i]) for i in range(len(widths_m))]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=4549)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("renewgeo")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "renewgeo", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def qingdao(request) -> Path:
    """../shared/data/qingdao, found as tests/conftest.py finds it; this test FAILS (never skips) without it."""
    try:
        root = request.getfixturevalue("shared_data")
    except pytest.skip.Exception as exc:
        pytest.fail(f"the Qingdao district boundaries are needed and missing: {exc}")
    folder = root / "qingdao"
    if not all((folder / f"{code}.geojson").is_file() for code in [*QINGDAO_DISTRICTS, "370200"]):
        pytest.fail(f"{folder}: the Qingdao district files 3702xx.geojson are missing (see ../shared/data/README.md)")
    return folder


# ----------------------------------------------------------------------------- hand-computed
def test_four_districts_by_hand():
    # land: 1, 2, 0.5, 0.5 km2 -> 25, 50, 12.5, 12.5 %; platforms 10, 5, 5, 0 -> 50, 25, 25, 0 %
    d = strip([1000, 2000, 500, 500], name=["A", "B", "C", "D"], platforms=[10, 5, 5, 0])
    r = rg.districts.benchmark(d, measures=["platforms"])
    t = r.table.set_index("district")
    assert list(r.table.columns) == list(rd.TABLE_COLUMNS)
    np.testing.assert_allclose(t["land_share_pct"], [25, 50, 12.5, 12.5], rtol=1e-6)
    np.testing.assert_allclose(t["share_pct"], [50, 25, 25, 0], rtol=1e-12)
    np.testing.assert_allclose(t["lq"], [2.0, 0.5, 2.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t["area_m2"], [1e6, 2e6, 5e5, 5e5], rtol=1e-6)
    np.testing.assert_allclose(t["area_ha"], [100, 200, 50, 50], rtol=1e-6)
    np.testing.assert_allclose(t["area_mu"], [1500, 3000, 750, 750], rtol=1e-6)  # 1 mu = 10000/15 m2
    np.testing.assert_allclose(t["per_ha"], [0.1, 0.025, 0.1, 0.0], rtol=1e-6)
    np.testing.assert_allclose(t["per_mu"], [10 / 1500, 5 / 3000, 5 / 750, 0.0], rtol=1e-6)
    assert set(t["share_source"]) == {"amount"} and set(t["land_share_source"]) == {"area"}
    c = r.concentration.iloc[0]
    # by hand: sum over i, j of |x_i - x_j| for (10, 5, 5, 0) is 60; 60 / (2 * 16 * 5) = 0.375
    assert c["gini"] == pytest.approx(0.375, abs=1e-12)
    assert c["gini"] == pytest.approx(textbook_gini([10, 5, 5, 0]), abs=1e-12)
    # density as LQ (2, 0.5, 2, 0): 15 / (2 * 16 * 1.125)
    assert c["gini_density"] == pytest.approx(15 / 36, rel=1e-6)
    assert c["gini_density"] == pytest.approx(textbook_gini(t["lq"]), rel=1e-12)
    assert (c["districts"], c["total"], c["top_district"], c["top_share_pct"]) == (4, 20.0, "A", 50.0)
    assert c["max_lq_district"] in {"A", "C"} and c["max_lq"] == pytest.approx(2.0, rel=1e-6)
    lz = r.lorenz
    assert list(lz["district"]) == ["", "D", "B", "C", "A"]  # smallest share first; B and C tie (stable)
    np.testing.assert_allclose(lz["cum_districts_pct"], [0, 25, 50, 75, 100])
    np.testing.assert_allclose(lz["cum_measure_pct"], [0, 0, 25, 50, 100])
    # the Gini is twice the area between the diagonal and the Lorenz curve (trapezoids)
    x, y = lz["cum_districts_pct"].to_numpy() / 100, lz["cum_measure_pct"].to_numpy() / 100
    assert 1 - np.sum(np.diff(x) * (y[1:] + y[:-1])) == pytest.approx(c["gini"])


def test_three_districts_two_measures_and_groups():
    d = strip([1000, 1000, 2000, 1000, 3000], name=["A", "B", "C", "A", "B"], city=["x", "x", "x", "y", "y"],
              jobs=[100, 300, 0, 50, 50], firms=[1, 1, 2, 0, 4])
    r = rd.benchmark(d, measures=["jobs", "firms"], by="city")
    t = r.table.set_index(["group", "measure", "district"])
    assert t.loc[("x", "jobs", "B"), "share_pct"] == pytest.approx(75.0)
    assert t.loc[("x", "jobs", "B"), "land_share_pct"] == pytest.approx(25.0, rel=1e-6)
    assert t.loc[("x", "jobs", "B"), "lq"] == pytest.approx(3.0, rel=1e-6)
    assert t.loc[("y", "firms", "B"), "lq"] == pytest.approx(1.0 / 0.75, rel=1e-6)
    assert list(r.table["measure"].unique()) == ["jobs", "firms"]  # the order asked
    g = r.concentration.set_index(["group", "measure"])["gini"]
    assert g[("x", "jobs")] == pytest.approx(textbook_gini([100, 300, 0]))
    assert g[("y", "firms")] == pytest.approx(textbook_gini([0, 4]))
    assert g[("y", "firms")] == pytest.approx(0.5)
    assert g[("y", "jobs")] == pytest.approx(0.0)


# ----------------------------------------------------------------------------- published shares
def test_ningbo_location_quotient_from_the_published_shares():
    # seed 004: 43 % of the city's provincial-level innovation platforms on 2 % of its land
    d = strip([1000, 9000], district=["Yongjiang corridor", "rest of Ningbo"], land_share_pct=[2.0, 98.0],
              platforms_share_pct=[43.0, 57.0])
    r = rd.benchmark(d, measures=["platforms_share_pct"])
    t = r.table.set_index("district")
    assert t.loc["Yongjiang corridor", "lq"] == pytest.approx(21.5, abs=1e-12)  # 43 / 2
    assert t.loc["rest of Ningbo", "lq"] == pytest.approx(57 / 98)
    assert set(t["share_source"]) == {"published"} and set(t["land_share_source"]) == {"published"}
    assert np.isnan(t["per_ha"]).all()  # no count published: no density, never a 0
    assert r.concentration.loc[0, "gini"] == pytest.approx(textbook_gini([43, 57]))
    assert "21.5" in rd.format_benchmark(r)


def test_the_corridor_sample_reproduces_21_5_and_carries_its_sources():
    gdf = rd.read_districts(SAMPLE)
    assert not gdf.crs.is_geographic
    r = rd.benchmark(gdf, measures=["platforms", "universities", "national_key_labs"], by="city")
    t = r.table.set_index(["group", "measure", "district"])
    assert t.loc[("ningbo", "platforms", "Yongjiang corridor"), "lq"] == pytest.approx(21.5)
    assert t.loc[("ningbo", "universities", "Yongjiang corridor"), "lq"] == pytest.approx(17.5)  # 35 / 2
    assert t.loc[("hangzhou", "national_key_labs", "Chengxi corridor"), "share_pct"] == pytest.approx(89.0)
    assert t.loc[("hangzhou", "national_key_labs", "Chengxi corridor"), "amount"] == 17
    assert t.loc[("hangzhou", "national_key_labs", "Chengxi corridor"), "land_share_source"] == "area"  # illustrative polygon
    assert any("no figure for 'platforms'" in n and "hangzhou" in n for n in r.notes)
    # the illustrative Yongjiang polygon was drawn to the published 2 % of the city outline (checked with pyproj.Geod)
    wgs = gpd.read_file(SAMPLE).set_index("district")
    geod = Geod(ellps="WGS84")
    ningbo = [abs(geod.geometry_area_perimeter(wgs.geometry[n])[0]) for n in ("Yongjiang corridor", "rest of Ningbo")]
    assert ningbo[0] / sum(ningbo) == pytest.approx(0.02, abs=0.0005)
    # every published figure of figures.csv is in the layer, with its source
    figures = pd.read_csv(CORRIDORS / "figures.csv")
    for f in figures[figures["measure"] != "extent_east_west_km"].to_dict("records"):
        assert wgs.loc[f["district"], f["measure"]] == f["value"], f
        assert isinstance(f["source"], str) and f["source"]
    assert (wgs["illustrative"].str.contains("illustrative") | wgs["illustrative"].str.contains("derived")).all()


def test_shares_of_different_totals_are_refused_or_noted():
    d = strip([1000, 1000, 1000], name=["a", "b", "c"], platforms_share_pct=[43.0, 57.0, 50.0])
    with pytest.raises(rg.SchemaError, match=r"add up to 150 %.*by="):
        rd.benchmark(d, measures=["platforms"])
    d = strip([1000, 1000], name=["a", "b"], platforms_share_pct=[43.0, None])
    with pytest.raises(rg.SchemaError, match=r"'platforms_share_pct'.*published shares for 'a' but not for 'b'"):
        rd.benchmark(d, measures=["platforms"])
    d = strip([1000, 1000], name=["corridor", "other"], platforms_share_pct=[43.0, 20.0])  # part of the city only
    r = rd.benchmark(d, measures=["platforms"])
    assert any("add up to 63.0 %" in n and "different totals" in n for n in r.notes)


# ----------------------------------------------------------------------------- invariants
@st.composite
def layers(draw):
    n = draw(st.integers(2, 7))
    widths = draw(st.lists(st.floats(50, 5000), min_size=n, max_size=n))
    heights = draw(st.lists(st.floats(50, 5000), min_size=n, max_size=n))
    counts = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n).filter(lambda c: sum(c) > 0))
    groups = draw(st.lists(st.sampled_from(["p", "q"]), min_size=n, max_size=n))
    return strip(widths, heights, name=[f"d{i}" for i in range(n)], jobs=counts, city=groups)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), st.randoms(use_true_random=False))
def test_invariants(d, rnd):
    r = rd.benchmark(d, measures=["jobs"])
    t = r.table
    assert t["share_pct"].sum() == pytest.approx(100.0)
    assert t["land_share_pct"].sum() == pytest.approx(100.0)
    assert (t["land_share_pct"] / 100 * t["lq"]).sum() == pytest.approx(1.0)  # the land-weighted mean LQ is 1
    g = float(r.concentration.loc[0, "gini"])
    assert 0.0 <= g < 1.0
    assert g == pytest.approx(textbook_gini(d["jobs"]), abs=1e-12)
    order = list(range(len(d)))
    rnd.shuffle(order)
    s = rd.benchmark(d.iloc[order], measures=["jobs"])
    cols = ["share_pct", "land_share_pct", "lq", "per_ha", "per_mu"]
    a, b = t.set_index("district")[cols].sort_index(), s.table.set_index("district")[cols].sort_index()
    pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    assert float(s.concentration.loc[0, "gini"]) == pytest.approx(g, abs=1e-12)
    by = rd.benchmark(d, measures=["jobs"], by="city")
    for _, part in by.table.groupby("group"):
        assert part["land_share_pct"].sum() == pytest.approx(100.0)
        if part["amount"].sum() > 0:
            assert part["share_pct"].sum() == pytest.approx(100.0)


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_column_and_the_fix():
    d = strip([1000, 1000], name=["A", "B"], jobs=[1, 2])
    with pytest.raises(rg.SchemaError, match=r"no column 'job' \(did you mean 'jobs'\?\)"):
        rd.benchmark(d, measures=["job"])
    with pytest.raises(rg.SchemaError, match=r"'jobs' holds text.*'B'='many'.*write numbers"):
        rd.benchmark(d.assign(jobs=["1", "many"]), measures=["jobs"])
    assert rd.benchmark(d.assign(jobs=["1", "2"]), measures=["jobs"]).table["amount"].tolist() == [1.0, 2.0]
    with pytest.raises(rg.SchemaError, match=r"'jobs' holds negative values: 'A'=-3.*cannot be negative"):
        rd.benchmark(d.assign(jobs=[-3, 2]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"'jobs' holds infinite"):
        rd.benchmark(d.assign(jobs=[np.inf, 2]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"true/false"):
        rd.benchmark(d.assign(jobs=[True, False]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"no figure for 'B' while the other districts have one; fill them in \(0 where"):
        rd.benchmark(d.assign(jobs=[1, None]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"holds no districts"):
        rd.benchmark(d.iloc[:0], measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"at least one column"):
        rd.benchmark(d, measures=[])
    with pytest.raises(rg.SchemaError, match=r"share a name"):
        rd.benchmark(d.assign(name=["A", "A"]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"name the same measure"):
        rd.benchmark(d.assign(jobs_share_pct=[50, 50]), measures=["jobs", "jobs_share_pct"])
    with pytest.raises(rg.SchemaError, match=r"shares above 100 %"):
        rd.benchmark(d.assign(land_share_pct=[150, 50]), measures=["jobs"])
    with pytest.raises(rg.SchemaError, match=r"no column 'town'.*by="):
        rd.benchmark(d, measures=["jobs"], by="town")
    lines = d.copy()
    lines.geometry = [shapely.LineString([(X0, Y0), (X0 + 10, Y0)]), d.geometry.iloc[1]]
    with pytest.raises(rg.SchemaError, match=r"must be polygons.*'A'='LineString'"):
        rd.benchmark(lines, measures=["jobs"])
    bow = d.copy()
    bow.geometry = [shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)]), d.geometry.iloc[1]]
    with pytest.raises(rg.SchemaError, match=r"invalid polygons.*'A'.*make_valid"):
        rd.benchmark(bow, measures=["jobs"])
    with pytest.raises(rg.CRSError, match=r"has no CRS.*never guesses"):
        rd.benchmark(d.set_crs(None, allow_override=True), measures=["jobs"])
    with pytest.raises(rg.CRSError, match=r"degrees.*needs metres.*read_districts"):
        rd.benchmark(d.to_crs(4326), measures=["jobs"])
    assert all(issubclass(e, rg.RenewgeoError) for e in (rg.SchemaError, rg.CRSError))


def test_the_input_is_left_as_it_was_and_a_repeated_index_is_fine():
    a = strip([1000, 1000], name=["A", "B"], jobs=[1, 3])
    b = strip([2000], name=["C"], jobs=[4])
    b = b.set_geometry(b.translate(3000, 0))
    d = pd.concat([a, b])  # index 0, 1, 0
    before = d.copy()
    r = rd.benchmark(d, measures="jobs")
    pd.testing.assert_frame_equal(d, before)
    np.testing.assert_allclose(r.table["share_pct"], [12.5, 37.5, 50.0])
    np.testing.assert_allclose(r.table["land_share_pct"], [25, 25, 50], rtol=1e-6)
    unnamed = rd.benchmark(d.drop(columns="name").set_index(pd.Index(["x", "y", "z"])), measures="jobs")
    assert list(unnamed.table["district"]) == ["x", "y", "z"]  # no name column: the index names the districts


def test_a_group_without_a_measure_is_noted_not_dropped_silently():
    d = strip([1000, 1000, 1000], name=["A", "B", "C"], city=["x", "x", "y"], jobs=[1, 3, None])
    r = rd.benchmark(d, measures=["jobs"], by="city")
    assert set(r.table["group"]) == {"x"}
    assert r.notes == ("group 'y': no figure for 'jobs' in any district; left out of 'jobs'",)
    zero = rd.benchmark(d.assign(jobs=[0, 0, 0]), measures=["jobs"])
    assert zero.table["lq"].isna().all() and np.isnan(zero.concentration.loc[0, "gini"])
    assert any("is 0 in every district" in n for n in zero.notes)


def test_a_row_of_equal_districts_after_reprojection():
    """units._scale_grid divided 0/0 when the features' centres differed by ~1e-9 m in one axis: NaN areas (fixed)."""
    d = strip([1000, 1000, 1000], name=["a", "b", "c"], jobs=[1, 2, 3]).to_crs(4326).to_crs(4549)
    r = rd.benchmark(d, measures=["jobs"])
    np.testing.assert_allclose(r.table["land_share_pct"], 100 / 3, rtol=1e-6)


# ----------------------------------------------------------------------------- real data: Qingdao
def _qingdao_layer(folder: Path) -> gpd.GeoDataFrame:
    frames = []
    for code, name in QINGDAO_DISTRICTS.items():
        g = gpd.read_file(folder / f"{code}.geojson")
        frames.append(g.assign(code=code, name=name))
    layer = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    # a synthetic count per district (illustrative innovation platforms: more in the old urban districts)
    layer["platforms"] = [41, 33, 58, 47, 12, 20, 9, 6, 3, 2]
    return layer


@pytest.mark.realdata
def test_qingdao_districts_against_geod(qingdao, tmp_path):
    raw = _qingdao_layer(qingdao)
    path = tmp_path / "qingdao.gpkg"
    raw.to_file(path, layer="districts")
    gdf = rd.read_districts(path, coords="gcj02")  # AMap's GCJ-02 -> WGS 84 -> CGCS2000 GK (auto)
    assert gdf.crs.to_epsg() == 4549
    r = rd.benchmark(gdf, measures=["platforms"], layer="qingdao")
    t = r.table.set_index("district")
    # independent: areas on the CGCS2000 ellipsoid by pyproj.Geod from the WGS 84 coordinates
    wgs = rg.crs.gcj02_to_wgs84_gdf(raw)
    geod = Geod(ellps="GRS80")
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in wgs.geometry])
    np.testing.assert_allclose(t.loc[raw["name"], "area_m2"], area, rtol=2e-4)
    land = area / area.sum()
    np.testing.assert_allclose(t.loc[raw["name"], "land_share_pct"], 100 * land, rtol=2e-4)
    share = raw["platforms"].to_numpy() / raw["platforms"].sum()
    np.testing.assert_allclose(t.loc[raw["name"], "lq"], share / land, rtol=2e-4)
    # the ten districts tile the city (370200): their areas add up to it
    city = rg.crs.gcj02_to_wgs84_gdf(gpd.read_file(qingdao / "370200.geojson"))
    assert area.sum() == pytest.approx(sum(abs(geod.geometry_area_perimeter(g)[0]) for g in city.geometry), rel=0.01)
    gini = float(r.concentration.loc[0, "gini"])
    assert gini == pytest.approx(textbook_gini(raw["platforms"]), abs=1e-12)
    assert gini == pytest.approx(0.4619, abs=1e-4)  # the synthetic counts: sum |xi - xj| / (2 n^2 mean), by numpy above
    assert float(r.concentration.loc[0, "gini_density"]) == pytest.approx(textbook_gini(share / land), rel=1e-3)
    # Shinan, the old centre, is small and dense: the highest LQ
    assert r.concentration.loc[0, "max_lq_district"] == "市南区 Shinan"
    res = run("benchmark", str(path), "--measure", "platforms", "--coords", "gcj02", "--out", str(tmp_path / "out"), "--lang", "en")
    assert res.returncode == 0, res.stderr
    assert "市南区 Shinan" in res.stdout and f"Gini {gini:.2f}".rstrip("0") in res.stdout
    csv_lq = pd.read_csv(tmp_path / "out" / "tables" / "benchmark.csv", encoding="utf-8-sig").set_index("district")["lq"]
    np.testing.assert_allclose(csv_lq.loc[raw["name"]], share / land, rtol=2e-4)


# ----------------------------------------------------------------------------- command line
def test_cli_on_the_corridor_sample(tmp_path):
    out = tmp_path / "out"
    r = run("benchmark", str(SAMPLE), "--measure", "platforms,universities", "--measure", "national_key_labs", "--by", "city",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Yongjiang corridor" in r.stdout and " 21.5 " in r.stdout and "17.5" in r.stdout
    assert "Gini" in r.stdout and "Chengxi corridor" in r.stdout
    assert outputs.verify(out) == []
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["figures/benchmark_lorenz.png", "figures/benchmark_lq.png", "manifest.json", "tables/benchmark.csv",
                     "tables/benchmark_concentration.csv", "tables/benchmark_lorenz.csv"]
    t = pd.read_csv(out / "tables" / "benchmark.csv", encoding="utf-8-sig")
    row = t[(t["district"] == "Yongjiang corridor") & (t["measure"] == "platforms")].iloc[0]
    assert row["lq"] == pytest.approx(21.5) and row["share_pct"] == 43 and row["land_share_pct"] == 2
    conc = pd.read_csv(out / "tables" / "benchmark_concentration.csv", encoding="utf-8-sig")
    assert set(conc["measure"]) == {"platforms", "universities", "national_key_labs"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["benchmark"]["measures"] == ["platforms", "universities", "national_key_labs"]
    assert (out / "figures" / "benchmark_lorenz.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = run("benchmark", str(SAMPLE), "--measure", "platforms", "--by", "city", "--out", str(out))
    assert again.returncode == 0 and outputs.verify(out) == []  # an earlier benchmark is replaced whole


def test_cli_bad_input_exit_2(tmp_path):
    r = run("benchmark", str(SAMPLE), "--measure", "platfroms", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no column 'platfroms'" in r.stderr and "did you mean" in r.stderr
    assert not (tmp_path / "o").exists()
    r = run("benchmark", str(SAMPLE), "--measure", "platforms", "--out", str(tmp_path / "o"))  # two cities, no --by
    assert r.returncode == 2 and "--by" in r.stderr
    r = run("benchmark", str(tmp_path / "none.gpkg"), "--measure", "x")
    assert r.returncode == 2 and "no such file" in r.stderr
    nocrs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        strip([1000, 1000], name=["A", "B"], jobs=[1, 2]).set_crs(None, allow_override=True).to_file(nocrs)
    r = run("benchmark", str(nocrs), "--measure", "jobs", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "has no CRS" in r.stderr


def test_hostile_names_and_columns(tmp_path):
    names = ['=HYPERLINK("http://evil.example/x","click")', "<script>alert(1)</script>", "$\\notacommand{x$ \x1b]0;PWNED\x07",
             "+1-1", "@SUM(A1)"]
    d = strip([1000, 1200, 800, 500, 900], [900, 1000, 1100, 1200, 1300], name=names, **{"=cmd()": [5, 1, 0, 2, 7]}).to_crs(4326)
    src = tmp_path / "a b $(rm -rf) ~.geojson"
    d.to_file(src, driver="GeoJSON")
    r = run("benchmark", str(src), "--measure", "=cmd()", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\\x1b]0;PWNED\\x07" in r.stdout  # escape sequences shown, not obeyed
    assert "Warning" not in r.stderr, r.stderr  # no missing glyph, no mathtext error in the charts
    made = [p for p in (tmp_path / "renewgeo-output").iterdir() if not p.name.startswith(".")]  # not the lock  # the default folder: a safe name made from the file's
    assert len(made) == 1 and made[0].name.startswith("a_b_rm_-rf") and not set(made[0].name) & set(" $()~;/")
    out = made[0]
    assert outputs.verify(out) == []
    text = (out / "tables" / "benchmark.csv").read_text(encoding="utf-8-sig")
    cells = [c for row in csv.reader(text.splitlines()) for c in row]
    assert "'=cmd()" in cells and "'=HYPERLINK(\"http://evil.example/x\",\"click\")" in cells
    assert "'+1-1" in cells and "'@SUM(A1)" in cells and "<script>alert(1)</script>" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    for f in ("benchmark_concentration.csv", "benchmark_lorenz.csv"):
        cells = [c for row in csv.reader((out / "tables" / f).read_text(encoding="utf-8-sig").splitlines()) for c in row]
        assert not any(c.startswith(("=", "+", "@")) for c in cells), f
    # the charts draw the names as text: '$' does not start mathtext (which would fail on \\notacommand)
    res = rd.benchmark(rd.read_districts(src), measures=["=cmd()"])
    fig = rd.lq_chart(res, lang="en")
    assert fig.axes[0].get_title() == "=cmd()"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][2] == "\\$\\notacommand{x\\$ \\x1b]0;PWNED\\x07"
    assert rg.plot.figure_png(fig)[:4] == rg.plot.figure_png(rd.lorenz_chart(res, lang="en"))[:4] == b"\x89PNG"
    html = res._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
