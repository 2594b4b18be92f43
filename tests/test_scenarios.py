"""Scenarios: patches on a baseline, runs that reuse what did not change, the comparison and its outputs.

Independent checks: the patched layers are rebuilt by hand in the test (pandas and
shapely, no renewgeo patch code) and run as a project of their own; floor areas and
counts are summed from the raw GeoPackage with pyogrio and pandas.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import renewgeo as rg
from renewgeo.patches import apply_patch, check_patch

CRS = 4549
SAMPLE = Path(__file__).resolve().parents[1] / "layers"


def _base() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["B1", "B2", "B3"], "status": ["operating", "idle", "operating"], "treatment": [None, None, None],
                             "gfa_m2": [100.0, 200.0, 300.0], "households": pd.array([1, 2, 3], dtype="Int64")},
                            geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)], crs=CRS)


def _check(patch, base=None, kind="buildings"):
    base = _base() if base is None else base
    return check_patch(patch, base, kind=kind, layer=kind, scenario="s")


# ------------------------------------------------------------------------ patch semantics, by hand
def test_each_building_action_does_what_it_says():
    base = _base()
    before = base.copy()
    patch = gpd.GeoDataFrame({"id": ["B1", "B2", "B3", "N1"], "action": ["demolish", "full_renovation", "update", "new_build"],
                              "gfa_m2": [None, 250.0, None, 80.0], "households": pd.array([None, None, 5, 1], dtype="Int64"),
                              "status": [None, "under_renovation", None, None]},
                             geometry=[None, None, shapely.box(40, 0, 60, 10), shapely.box(70, 0, 80, 10)], crs=CRS)
    p, probs = _check(patch, base)
    assert p is not None and not [x for x in probs if x.severity == "error"]
    out = apply_patch(base, p).set_index("id")
    assert list(out.index) == ["B1", "B2", "B3", "N1"]
    assert (out.loc["B1", "status"], out.loc["B1", "treatment"], out.loc["B1", "gfa_m2"]) == ("demolished", "demolish", 100.0)
    # a status the row gives wins over the action's
    assert (out.loc["B2", "status"], out.loc["B2", "treatment"], out.loc["B2", "gfa_m2"]) == ("under_renovation", "full_renovation", 250.0)
    assert out.loc["B3", "households"] == 5 and out.loc["B3", "geometry"].area == 200.0 and out.loc["B3", "status"] == "operating"
    assert (out.loc["N1", "status"], out.loc["N1", "treatment"], out.loc["N1", "gfa_m2"]) == ("new", "new_build", 80.0)
    assert str(out["households"].dtype) == "Int64"
    pd.testing.assert_frame_equal(base, before)  # the baseline is never modified


def test_remove_and_add_on_any_kind():
    base = gpd.GeoDataFrame({"id": ["A1", "A2"], "category": ["cafe", "parking"], "capacity": pd.array([None, 10], dtype="Int64")},
                            geometry=[shapely.Point(0, 0), shapely.Point(5, 5)], crs=CRS)
    patch = gpd.GeoDataFrame({"id": ["A1", "P9"], "action": ["remove", "add"], "category": [None, "parking"],
                              "capacity": pd.array([None, 120], dtype="Int64")}, geometry=[None, shapely.Point(9, 9)], crs=CRS)
    p, _ = _check(patch, base, kind="amenities")
    out = apply_patch(base, p)
    assert list(out["id"]) == ["A2", "P9"] and int(out["capacity"].sum()) == 130


def test_a_table_without_geometry_patches_attributes():
    patch = pd.DataFrame({"id": ["B2"], "action": ["update"], "households": [7]})
    p, _ = _check(patch)
    out = apply_patch(_base(), p).set_index("id")
    assert out.loc["B2", "households"] == 7 and out.loc["B2", "geometry"].equals(_base().geometry.iloc[1])


@pytest.mark.parametrize(("patch", "words", "column"), [
    (pd.DataFrame({"id": ["B1"], "households": [3]}), "no 'action' column", "action"),
    (pd.DataFrame({"id": ["B1"], "action": ["demolsh"]}), "did you mean 'demolish'", "action"),
    (pd.DataFrame({"id": ["B1", "B1"], "action": ["update", "demolish"]}), "patched twice", "id"),
    (pd.DataFrame({"id": ["B7"], "action": ["update"]}), "baseline does not have", "id"),
    (gpd.GeoDataFrame({"id": ["B1"], "action": ["add"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS), "already has", "id"),
    (pd.DataFrame({"id": ["N1"], "action": ["new_build"]}), "without a geometry", "id"),
    (pd.DataFrame({"id": ["B1"], "action": ["update"], "status": ["flattened"]}), "flattened", "status"),
])
def test_bad_patches_are_refused_with_the_column_and_the_fix(patch, words, column):
    p, probs = _check(patch)
    errors = [x for x in probs if x.severity == "error"]
    assert p is None and errors
    assert any(words in x.message + x.fix and x.column == column for x in errors), [x.format() for x in errors]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["keep", "update", "remove", "demolish"]), min_size=3, max_size=3), st.integers(0, 3))
def test_patches_touch_only_what_they_name(actions, n_new):
    base = _base()
    rows = [(f"B{i + 1}", a) for i, a in enumerate(actions) if a != "keep"] + [(f"N{k}", "add") for k in range(n_new)]
    patch = gpd.GeoDataFrame({"id": [r[0] for r in rows], "action": [r[1] for r in rows],
                              "households": pd.array([9] * len(rows), dtype="Int64")},
                             geometry=[shapely.box(100 + k, 0, 101 + k, 1) if a == "add" else None for k, (_, a) in enumerate(rows)],
                             crs=CRS)
    p, probs = _check(patch, base)
    assert p is not None, [x.format() for x in probs]
    out = apply_patch(base, p).set_index("id")
    removed = {f"B{i + 1}" for i, a in enumerate(actions) if a == "remove"}
    assert set(out.index) == (set(base["id"]) - removed) | {f"N{k}" for k in range(n_new)}
    for i, a in enumerate(actions):  # untouched rows are the baseline's, value for value
        bid = f"B{i + 1}"
        if a == "keep":
            assert out.loc[bid, "households"] == base.set_index("id").loc[bid, "households"]
            assert out.loc[bid, "geometry"].equals(base.set_index("id").loc[bid, "geometry"])
        elif a != "remove":
            assert out.loc[bid, "households"] == 9
    assert float(out.geometry.area.sum()) == pytest.approx(
        sum(g.area for i, g in enumerate(base.geometry) if actions[i] != "remove") + n_new)


# ------------------------------------------------------------------------ the Chuangchuangyi sample
@pytest.fixture(scope="module")
def plan():
    """Two buildings demolished and a park added on the sample, as a scenario and as layers rebuilt by hand."""
    p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    raw = pyogrio.read_dataframe(SAMPLE / "chuangchuangyi" / "chuangchuangyi.gpkg", layer="buildings")
    gone = ["B05", "B12"]
    x0, y0, _, _ = p["buildings"].total_bounds
    park_geom = shapely.box(x0 + 50, y0 + 50, x0 + 110, y0 + 110)
    park = gpd.GeoDataFrame({"id": ["NEWPARK"], "action": ["add"], "space_type": ["park"], "walkable": [True], "renewed": [True],
                             "name": ["New park"]}, geometry=[park_geom], crs=p.crs)
    with_plan = p.with_scenario("plan", {"buildings": pd.DataFrame({"id": gone, "action": ["demolish"] * 2}), "outdoor_spaces": park},
                                label="Plan", label_zh="方案")
    sr = rg.run_scenarios(with_plan)
    # the same plan by hand: the baseline layers edited with pandas, loaded as a project of their own
    layers = {n: g.copy() for n, g in p.layers.items()}
    b = layers["buildings"]
    b.loc[b["id"].isin(gone), ["status", "treatment"]] = ["demolished", "demolish"]
    o = layers["outdoor_spaces"]
    layers["outdoor_spaces"] = gpd.GeoDataFrame(pd.concat([o, gpd.GeoDataFrame(
        {"id": ["NEWPARK"], "space_type": ["park"], "walkable": [True], "renewed": [True], "name": ["New park"]},
        geometry=[park_geom], crs=p.crs)], ignore_index=True), geometry="geometry", crs=p.crs)
    return p, sr, raw, gone, layers


def _by_hand_run(p, layers):
    """The hand-edited layers as a project of their own, with the sample's targets and settings."""
    q = rg.project.Project(name=p.name, crs=p.crs, layers=layers, kinds=p.kinds, targets=p.targets, settings=p.settings,
                           vocabulary=p.vocabulary, root=p.root, life_circles=p.life_circles, rasters=p.rasters)
    return rg.run_analyses(q)


def test_demolishing_two_buildings_changes_the_ledger_by_their_floor_area(plan):
    _, sr, raw, gone, _ = plan
    d = sr.delta[sr.delta.scenario == "plan"].set_index("indicator_id")
    gfa = float(raw.loc[raw["id"].isin(gone), "gfa_m2"].sum())
    renewed = raw["treatment"].isin(["facade_upgrade", "full_renovation"])
    assert gfa > 0
    assert d.loc["gfa_demolished_m2", "delta"] == gfa
    assert d.loc["gfa_standing_m2", "delta"] == -gfa
    assert d.loc["buildings_standing", "delta"] == -2
    assert d.loc["target.renovated_gfa", "delta"] == -float(raw.loc[raw["id"].isin(gone) & renewed, "gfa_m2"].sum())
    assert d.loc["target.buildings_renewed", "delta"] == -int((raw["id"].isin(gone) & renewed).sum())
    assert d.loc["green_space_m2", "delta"] == pytest.approx(3600.0, rel=1e-9)
    # what the plan does not touch does not move
    assert d.loc["target.tech_office_gfa", "delta"] == 0 or not raw.loc[raw["id"].isin(gone), "use_after"].eq("tech_office").any()


def test_every_indicator_equals_a_run_of_the_plan_built_by_hand(plan):
    p, sr, _, _, layers = plan
    by_hand = rg.scenarios.indicators(_by_hand_run(p, layers), "plan").set_index("indicator_id")["value"]
    got = sr.indicators[sr.indicators.scenario == "plan"].set_index("indicator_id")["value"]
    assert list(got.index) == list(by_hand.index)
    np.testing.assert_allclose(got.to_numpy(float), by_hand.to_numpy(float), rtol=1e-12, equal_nan=True)
    # green access and the scorecard moved, and by exactly the by-hand run's amounts
    d = sr.delta[sr.delta.scenario == "plan"].set_index("indicator_id")
    assert d.loc["park_500m_buildings_pct", "delta"] > 0
    assert d.loc["scorecard.green_ratio", "delta"] > 0
    # the green-access columns of every building equal the by-hand run's
    bc = sr.building_changes.set_index("id")
    hand = _by_hand_run(p, layers).layer("buildings").set_index("id")
    np.testing.assert_allclose(bc["green_dist_after_m"].to_numpy(float), hand.loc[bc.index, "green_dist_m"].to_numpy(float), rtol=1e-12)


def test_the_baseline_is_untouched_and_the_network_is_built_once(plan, monkeypatch):
    p, sr, _, _, _ = plan
    base_run = rg.run_analyses(p)
    for t in ("targets", "life_circles", "green_access"):
        pd.testing.assert_frame_equal(sr.baseline.tables[t], base_run.tables[t])
    from renewgeo import walkability

    built = []
    real = walkability.network_from_project

    def counting(project, **kw):
        built.append(project.scenario_id)
        return real(project, **kw)

    monkeypatch.setattr(walkability, "network_from_project", counting)
    only_buildings = p.with_scenario("demolish", {"buildings": pd.DataFrame({"id": ["B01"], "action": ["demolish"]})})
    sr2 = rg.run_scenarios(only_buildings, analyses=["walk"])
    assert built == [None]  # the scenario's paths and outdoor spaces are the baseline's: one network for both
    assert sr2.runs["demolish"].results["walk"] is not sr2.baseline.results["walk"]


def test_an_analysis_whose_inputs_did_not_change_is_reused(tmp_path):
    import rasterio
    from affine import Affine

    dem = tmp_path / "dem.tif"
    z = np.add.outer(np.arange(40.0), np.arange(40.0)) * 2.0
    with rasterio.open(dem, "w", driver="GTiff", width=40, height=40, count=1, dtype="float64", crs="EPSG:4549",
                       transform=Affine(10, 0, 518000 - 50, 0, -10, 3985000 + 350)) as f:
        f.write(z, 1)
    b = gpd.GeoDataFrame({"id": ["B1"], "floors": [3]}, geometry=[shapely.box(518000, 3985000, 518020, 3985010)], crs=CRS)
    a = gpd.GeoDataFrame({"id": ["A1"], "category": ["cafe"]}, geometry=[shapely.Point(518100, 3985100)], crs=CRS)
    s = gpd.GeoDataFrame({"id": ["S1"]}, geometry=[shapely.box(517990, 3984990, 518200, 3985200)], crs=CRS)
    p = rg.Project.from_layers({"buildings": b, "amenities": a, "sites": s}, crs=CRS)
    p.rasters = {"dem": rg.project.RasterSpec(file=str(dem), role="dem", path=str(dem))}
    plan = p.with_scenario("cafe", {"amenities": gpd.GeoDataFrame({"id": ["A2"], "action": ["add"], "category": ["cafe"]},
                                                                   geometry=[shapely.Point(518150, 3985150)], crs=CRS)})
    sr = rg.run_scenarios(plan, analyses=["raster", "area"])
    assert "raster" in sr.runs["cafe"].reused and "area" not in sr.runs["cafe"].reused
    assert sr.runs["cafe"].results["raster"] is sr.baseline.results["raster"]
    moved = plan.with_scenario("bigger", {"sites": gpd.GeoDataFrame({"id": ["S1"], "action": ["update"]},
                                                                    geometry=[shapely.box(517990, 3984990, 518300, 3985300)], crs=CRS)})
    sr2 = rg.run_scenarios(moved, ["bigger"], analyses=["raster"])
    assert "raster" not in sr2.runs["bigger"].reused  # the sites it sums over changed


# ------------------------------------------------------------------------ project.toml and the command line
def _scenario_project(tmp_path: Path, scenario_toml: str, patch: gpd.GeoDataFrame | None = None) -> Path:
    dst = tmp_path / "proj"
    shutil.copytree(SAMPLE / "chuangchuangyi", dst, ignore=shutil.ignore_patterns("make_sample.py", "README.md"))
    if patch is not None:
        pyogrio.write_dataframe(patch, dst / "plan.gpkg", layer="plan_buildings")
    (dst / "project.toml").write_text((dst / "project.toml").read_text(encoding="utf-8") + scenario_toml, encoding="utf-8")
    return dst


_TOML = """
[[scenarios]]
id = "plan"
label = "Plan"
label_zh = "方案"
[scenarios.patches.buildings]
file = "plan.gpkg"
layer = "plan_buildings"
"""


def test_scenarios_in_project_toml_and_their_errors(tmp_path):
    patch = gpd.GeoDataFrame({"id": ["B01", "B02"], "action": ["demolish", "update"], "households": [None, 40]},
                             geometry=[None, None], crs=CRS)
    folder = _scenario_project(tmp_path / "ok", _TOML, patch)
    p = rg.load_project(folder)
    assert list(p.scenarios) == ["plan"] and p.scenarios["plan"].patches["buildings"].counts() == {"demolish": 1, "update": 1}
    s = p.scenario("plan")
    assert s["buildings"].set_index("id").loc["B02", "households"] == 40
    assert p["buildings"].set_index("id").loc["B01", "status"] != "demolished"
    # errors: unknown layer, bad id, missing file, unknown action: each named, all at once
    bad = _TOML.replace('id = "plan"', 'id = "plan a"').replace("[scenarios.patches.buildings]", "[scenarios.patches.biuldings]")
    rep = rg.validate_project(_scenario_project(tmp_path / "bad", bad, patch))
    text = rep.format()
    assert not rep.ok and "'plan a'" in text and "did you mean 'buildings'" in text
    missing = rg.validate_project(_scenario_project(tmp_path / "missing", _TOML))
    assert not missing.ok and "plan.gpkg" in missing.format()
    wrong = patch.assign(action=["demolish", "updte"])
    rep = rg.validate_project(_scenario_project(tmp_path / "wrong", _TOML, wrong))
    assert not rep.ok and "did you mean 'update'" in rep.format() and "plan.gpkg" in rep.format()


def test_cli_writes_tables_layers_and_a_map_with_a_switch(tmp_path, capsys):
    from renewgeo.cli import main

    from .browser import open_page

    patch = gpd.GeoDataFrame({"id": ["B01", "B02"], "action": ["demolish", "demolish"]}, geometry=[None, None], crs=CRS)
    folder = _scenario_project(tmp_path, _TOML.replace('label = "Plan"', 'label = "<b>Plan</b> =1+1"'), patch)
    out = tmp_path / "out"
    assert main(["scenarios", str(folder), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Floor area demolished" in printed and "scenario_delta" in printed
    ind = pd.read_csv(out / "tables" / "scenario_indicators.csv", encoding="utf-8-sig")
    assert list(ind.columns) == ["scenario", "indicator_id", "group", "name_en", "name_zh", "value", "unit"]
    assert set(ind.scenario) == {"baseline", "plan"}
    delta = pd.read_csv(out / "tables" / "scenario_delta.csv", encoding="utf-8-sig").set_index("indicator_id")
    assert delta.loc["buildings_standing", "delta"] == -2
    layers = dict(pyogrio.list_layers(out / "results.gpkg"))
    assert {"building_changes", "site_changes"} <= set(layers)
    bc = pyogrio.read_dataframe(out / "results.gpkg", layer="building_changes")
    assert sorted(bc.loc[bc.change == "demolished", "id"]) == ["B01", "B02"] and (bc.change == "unchanged").sum() == 24
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenarios"]["scenarios"]["plan"]["patches"]["buildings"]["demolish"] == 2
    html_file = next((out / "maps").glob("*.html"))
    page = html_file.read_text(encoding="utf-8")
    assert "<b>Plan</b>" not in page  # the label is escaped
    with open_page(html_file, viewport=(1280, 720)) as run:
        assert not run.errors and not run.blocked
        pg = run.page
        assert pg.evaluate("window.renewgeo.scenario") == "baseline"
        n_before = pg.evaluate("Object.keys(window.renewgeo.layers).filter(k => window.renewgeo.map.hasLayer(window.renewgeo.layers[k])).length")
        pg.check(".renewgeo-switch input[value='1']")
        on = pg.evaluate("Object.keys(window.renewgeo.layers).filter(k => window.renewgeo.map.hasLayer(window.renewgeo.layers[k]))")
        assert pg.evaluate("window.renewgeo.scenario") == "plan" and "plan:changes" in on and "buildings" not in on and n_before
        assert "Plan" in pg.inner_text(".renewgeo-switch")


def test_the_old_block_sample_programme_in_two_scenarios(tmp_path, capsys):
    """The old-block sample: the programme's figures from the raw patch layers (pyogrio and pandas) equal the comparison's."""
    from renewgeo.cli import main

    from .browser import open_page

    folder = SAMPLE / "shibei_oldblocks"
    out = tmp_path / "out"
    assert main(["scenarios", str(folder), "--out", str(out), "--quiet"]) == 0
    assert "Lifts added" in capsys.readouterr().out
    delta = pd.read_csv(out / "tables" / "scenario_delta.csv", encoding="utf-8-sig").set_index(["scenario", "indicator_id"])
    raw = pyogrio.read_dataframe(folder / "scenarios.gpkg", layer="renewal_buildings")
    base = pyogrio.read_dataframe(folder / "shibei_oldblocks.gpkg", layer="buildings")
    amen = pyogrio.read_dataframe(folder / "scenarios.gpkg", layer="renewal_amenities")
    assert delta.loc[("renewal", "lifts_added"), "delta"] == raw["lifts_added"].fillna(0).sum() > 0
    assert delta.loc[("renewal", "buildings_renewed"), "value"] == raw["action"].isin(["facade_upgrade", "full_renovation"]).sum()
    demolished = base.set_index("id").loc[raw.loc[raw.action == "demolish", "id"], "gfa_m2"].sum()
    assert delta.loc[("renewal", "gfa_demolished_m2"), "delta"] == pytest.approx(demolished, rel=1e-12)
    new_spaces = amen.loc[(amen.action == "add") & (amen.category == "parking"), "capacity"].sum()
    assert delta.loc[("renewal", "parking_capacity"), "delta"] == new_spaces > 0
    assert delta.loc[("renewal", "pocket_parks"), "value"] > 0
    assert delta.loc[("minimal", "pocket_parks"), "delta"] == 0
    html_file = out / "maps" / "shibei_oldblocks_scenarios.html"
    with open_page(html_file, viewport=(1280, 720)) as run:  # offline: every web request is blocked and listed
        assert not run.errors and not run.blocked
        assert run.page.locator(".renewgeo-switch input").count() == 3
        run.page.check(".renewgeo-switch input[value='1']")
        assert "/" in run.page.inner_text(".renewgeo-switch-figures")
