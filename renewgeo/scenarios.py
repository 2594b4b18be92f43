"""Scenarios compared: every analysis on the baseline and on each scenario, indicator by indicator.

A scenario is a plan written as patches on the layers that exist (:mod:`renewgeo.patches`,
``[[scenarios]]`` in project.toml). :func:`run_scenarios` runs the baseline once and each
scenario after it, reusing what a scenario leaves alone: an analysis whose inputs did not
change takes the baseline's result (``Analysis.reads``), and the walking network is built
once while the paths stay the same (:meth:`renewgeo.analysis.Context.cached`).

:func:`write_scenarios` writes one output folder as a unit::

    OUT/tables/scenario_indicators.csv  scenario, indicator_id, group, name_en, name_zh, value, unit
    OUT/tables/scenario_delta.csv       each scenario minus the baseline (and the change in percent)
    OUT/tables/scenarios.xlsx           both, and each scenario's targets ledger
    OUT/results.gpkg                    building_changes and site_changes (one row per feature and
                                        scenario: before, after, difference), styled for QGIS
    OUT/figures/scenario_delta.png      the key differences as bars
    OUT/maps/<project>_scenarios.html   one offline map with a scenario switch
    OUT/manifest.json
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Element, Figure

from renewgeo import io as rio
from renewgeo import outputs, plot, qgis, styles, webmap
from renewgeo._errors import RenewgeoError, WriteError
from renewgeo._version import __version__
from renewgeo.analysis import RunResult
from renewgeo.pipeline import run_analyses, safe_name
from renewgeo.project import Project
from renewgeo.styles import Presentation, Style

__all__ = ["ScenarioRun", "indicators", "run_scenarios", "scenario_map", "write_scenarios"]

log = logging.getLogger(__name__)

BASELINE = "baseline"
_RENEWED = ("facade_upgrade", "full_renovation")
_GREEN = ("green", "park", "pocket_park")
_CHANGE = {"demolish": "demolished", "new_build": "new", "add": "new", "remove": "removed", "facade_upgrade": "renovated",
           "full_renovation": "renovated", "retain": "retained", "update": "updated"}
CHANGE_COLOURS = {"demolished": "#d7301f", "removed": "#7f0000", "new": "#1a9850", "renovated": "#4575b4", "retained": "#abd9e9",
                  "updated": "#fdae61", "unchanged": "#d9d9d9"}
# difference in walking distance (m): shorter is better (blue), longer worse (red); one scale for every scenario
DELTA_BREAKS = ((-200.0, "#2166ac"), (-50.0, "#67a9cf"), (-5.0, "#d1e5f0"), (5.0, "#f7f7f7"), (50.0, "#fddbc7"), (200.0, "#ef8a62"),
                (float("inf"), "#b2182b"))

styles.add_field_labels({
    "scenario": ("方案", "Scenario"), "change": ("变化", "Change"), "gfa_before_m2": ("现状建筑面积 (m²)", "GFA before (m²)"),
    "gfa_after_m2": ("方案建筑面积 (m²)", "GFA after (m²)"), "gfa_delta_m2": ("建筑面积变化 (m²)", "GFA change (m²)"),
    "households_before": ("现状户数", "Households before"), "households_after": ("方案户数", "Households after"),
    "lifts_added": ("加装电梯", "Lifts added"), "daily_dist_before_m": ("现状日常设施距离 (m)", "Daily services before (m)"),
    "daily_dist_after_m": ("方案日常设施距离 (m)", "Daily services after (m)"),
    "daily_dist_delta_m": ("日常设施距离变化 (m)", "Change in distance to daily services (m)"),
    "green_dist_before_m": ("现状绿地距离 (m)", "Green space before (m)"), "green_dist_after_m": ("方案绿地距离 (m)", "Green space after (m)"),
    "green_dist_delta_m": ("绿地距离变化 (m)", "Change in distance to green space (m)"),
})
for _k, _pair in {"demolished": ("拆除", "demolished"), "removed": ("移除", "removed"), "new": ("新建", "new"),
                  "renovated": ("改造", "renovated"), "retained": ("保留", "retained"), "updated": ("调整", "updated"),
                  "unchanged": ("不变", "unchanged")}.items():
    styles.VALUE_LABELS.setdefault(_k, _pair)


# ------------------------------------------------------------------------- indicators
@dataclass(frozen=True)
class _Ind:
    id: str
    group: str
    name_en: str
    name_zh: str
    unit: str
    value: float


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _col_sum(g: pd.DataFrame, col: str) -> float:
    return float(pd.to_numeric(g[col], errors="coerce").fillna(0).sum()) if col in g.columns else float("nan")


def _area_indicators(run: RunResult) -> list[_Ind]:
    if not run.project.has("buildings"):
        return []
    b = run.layer("buildings")
    status = b["status"] if "status" in b.columns else pd.Series(pd.NA, index=b.index)
    treat = b["treatment"] if "treatment" in b.columns else pd.Series(pd.NA, index=b.index)
    gone = status.isin(["demolished"]).to_numpy()
    live = b[~gone]
    gfa = pd.to_numeric(b["gfa_m2"], errors="coerce") if "gfa_m2" in b.columns else pd.Series(np.nan, index=b.index)
    out = [
        _Ind("buildings_standing", "area", "Buildings standing", "现存建筑", "count", float(len(live))),
        _Ind("gfa_standing_m2", "area", "Floor area standing", "现存建筑面积", "m2", float(gfa[live.index].sum())),
        _Ind("gfa_demolished_m2", "area", "Floor area demolished", "拆除建筑面积", "m2", float(gfa[gone].sum())),
        _Ind("gfa_new_m2", "area", "Floor area newly built", "新建建筑面积", "m2", float(gfa[(status.isin(["new"]) | treat.isin(["new_build"])).to_numpy()].sum())),
        _Ind("gfa_renewed_m2", "area", "Floor area renewed", "改造建筑面积", "m2", float(gfa[treat.isin(_RENEWED).to_numpy()].sum())),
        _Ind("buildings_renewed", "programme", "Buildings renewed", "改造建筑", "count", float(treat.isin(_RENEWED).sum())),
    ]
    for col, en, zh, unit in (("households", "Households", "户数", "count"), ("lifts_added", "Lifts added", "加装电梯", "count"),
                              ("parking_spaces", "Parking spaces of buildings", "建筑配建车位", "spaces"),
                              ("parking_shared", "Parking spaces shared", "共享车位", "spaces")):
        if col in live.columns:
            out.append(_Ind(col, "programme", en, zh, unit, _col_sum(live, col)))
    if run.project.has("amenities"):
        a = run.layer("amenities")
        park = a[a["category"].isin(["parking"]).to_numpy()]
        out.append(_Ind("parking_capacity", "programme", "Spaces in car parks", "停车场车位", "spaces", _col_sum(park, "capacity")))
    if run.project.has("outdoor_spaces"):
        o = run.layer("outdoor_spaces")
        types = o["space_type"] if "space_type" in o.columns else pd.Series(pd.NA, index=o.index)
        green = o[types.isin(_GREEN).to_numpy()]
        out.append(_Ind("green_space_m2", "programme", "Green space (green, parks, pocket parks)", "绿地面积", "m2",
                        float(green.geometry.union_all().area) if len(green) else 0.0))
        out.append(_Ind("pocket_parks", "programme", "Pocket parks", "口袋公园", "count", float(types.isin(["pocket_park"]).sum())))
    return out


def _walk_indicators(run: RunResult) -> list[_Ind]:
    t = run.tables
    out = []
    lc = t.get("life_circles")
    if lc is not None:
        for circle, row in lc.iterrows():
            out.append(_Ind(f"life_circle_{circle}_buildings_pct", "walk", f"Buildings meeting the {circle} life circle",
                            f"满足{circle}生活圈的建筑", "pct", _num(row.get("buildings_pass_pct"))))
    ga = t.get("green_access")
    if ga is not None and len(ga):
        out.append(_Ind("green_300m_buildings_pct", "walk", "Buildings within 300 m of green space", "300米见绿的建筑", "pct",
                        _num(ga["green_ok_pct"].iloc[0])))
        out.append(_Ind("park_500m_buildings_pct", "walk", "Buildings within 500 m of a park", "500米见园的建筑", "pct",
                        _num(ga["park_ok_pct"].iloc[0])))
    if run.project.has("buildings") and "daily_dist_m" in run.layer("buildings").columns:
        b = run.layer("buildings")
        live = b[~b["status"].isin(["demolished"]).to_numpy()] if "status" in b.columns else b
        out.append(_Ind("daily_dist_median_m", "walk", "Median walk to daily services", "到日常设施步行距离中位数", "m",
                        float(pd.to_numeric(live["daily_dist_m"], errors="coerce").median())))
    return out


def _release_indicators(run: RunResult) -> list[_Ind]:
    by_year = run.tables.get("release_by_year")
    if by_year is None:
        return []
    return [_Ind("release_net_m2", "release", "Land released (net)", "净释放用地", "m2", float(by_year["net_area_m2"].sum())),
            _Ind("release_net_mu", "release", "Land released (net)", "净释放用地", "mu", float(by_year["net_area_mu"].sum()))]


def _ledger_indicators(run: RunResult) -> list[_Ind]:
    t = run.tables.get("targets")
    if t is None:
        return []
    return [_Ind(f"target.{r.id}", "targets", str(r.label or r.id), str(r.label_zh or r.label or r.id), str(r.unit), _num(r.actual))
            for r in t.itertuples()]


def _scorecard_indicators(run: RunResult) -> list[_Ind]:
    t = run.tables.get("scorecard")
    if t is None:
        return []
    proj = t[t["scope"] == "project"].drop_duplicates("indicator_id")
    out = [_Ind(f"scorecard.{r.indicator_id}", "scorecard", str(r.name_en), str(r.name_zh), str(r.unit), _num(r.value))
           for r in proj.itertuples()]
    st = run.tables.get("scorecard_stages")
    if st is not None:
        out.append(_Ind("scorecard.stages_passing", "scorecard", "Approval stages passed", "通过的审批阶段", "count",
                        float(st["stage_passes"].astype(bool).sum())))
    return out


def indicators(run: RunResult, scenario: str = BASELINE) -> pd.DataFrame:
    """The figures a scenario is compared by, from one run: one row per indicator.

    Floor area and the renewal programme (buildings, households, lifts, parking, green
    space), walking access (life circles, green access, the median walk to daily
    services), released land, every target of the ledger (``target.<id>``) and every
    scorecard indicator (``scorecard.<id>``, the whole project) that the run computed.

    Returns
    -------
    DataFrame
        ``scenario, indicator_id, group, name_en, name_zh, value, unit``.
    """
    rows = [*_area_indicators(run), *_walk_indicators(run), *_release_indicators(run), *_ledger_indicators(run),
            *_scorecard_indicators(run)]
    df = pd.DataFrame([(scenario, i.id, i.group, i.name_en, i.name_zh, i.value, i.unit) for i in rows],
                      columns=["scenario", "indicator_id", "group", "name_en", "name_zh", "value", "unit"])
    return df.drop_duplicates("indicator_id", keep="first").reset_index(drop=True)


def _delta(table: pd.DataFrame) -> pd.DataFrame:
    base = table[table["scenario"] == BASELINE].set_index("indicator_id")
    rows = []
    for sid, t in table[table["scenario"] != BASELINE].groupby("scenario", sort=False):
        t = t.set_index("indicator_id")
        ids = [i for i in base.index if i in t.index] + [i for i in t.index if i not in base.index]
        before = base["value"].reindex(ids)
        after = t["value"].reindex(ids)
        meta = t[["group", "name_en", "name_zh", "unit"]].reindex(ids).fillna(base[["group", "name_en", "name_zh", "unit"]].reindex(ids))
        d = after - before
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = np.where(before.to_numpy() != 0, 100 * d.to_numpy() / np.abs(before.to_numpy()), np.nan)
        rows.append(pd.DataFrame({"scenario": sid, "indicator_id": ids, **{c: meta[c].to_numpy() for c in meta.columns},
                                  "baseline": before.to_numpy(), "value": after.to_numpy(), "delta": d.to_numpy(), "delta_pct": pct}))
    cols = ["scenario", "indicator_id", "group", "name_en", "name_zh", "unit", "baseline", "value", "delta", "delta_pct"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


# ------------------------------------------------------------------------- difference layers
def _by_id(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return g.set_index(g["id"].astype(str), drop=False)


def _building_changes(project: Project, base: RunResult, runs: Mapping[str, RunResult]) -> gpd.GeoDataFrame:
    if not project.has("buildings"):
        return gpd.GeoDataFrame({"scenario": [], "id": []}, geometry=[], crs=project.crs)
    before = _by_id(base.layer("buildings"))
    parts = []
    for sid, run in runs.items():
        after = _by_id(run.layer("buildings"))
        ids = list(dict.fromkeys([*before.index, *after.index]))
        patch = project.scenarios[sid].patches.get(project.name_of("buildings"))
        action = dict(zip(patch.frame["id"], patch.actions, strict=True)) if patch is not None else {}
        geom = after.geometry.reindex(ids).fillna(before.geometry.reindex(ids))
        df = pd.DataFrame({"scenario": sid, "id": ids}, index=ids)
        name = after["name"].reindex(ids) if "name" in after.columns else None
        if name is not None:
            df["name"] = name.fillna(before["name"].reindex(ids)) if "name" in before.columns else name
        df["change"] = [_CHANGE.get(action.get(i, ""), "unchanged") for i in ids]
        for col, stem in (("gfa_m2", "gfa"), ("households", "households"), ("daily_dist_m", "daily_dist"), ("green_dist_m", "green_dist")):
            if col not in before.columns and col not in after.columns:
                continue
            suffix = "_m2" if stem == "gfa" else "_m" if stem.endswith("dist") else ""
            b = pd.to_numeric(before[col], errors="coerce").reindex(ids) if col in before.columns else pd.Series(np.nan, index=ids)
            a = pd.to_numeric(after[col], errors="coerce").reindex(ids) if col in after.columns else pd.Series(np.nan, index=ids)
            if "status" in after.columns and stem in ("gfa", "households"):  # what is demolished holds nothing after
                gone = after["status"].reindex(ids).isin(["demolished"]).to_numpy() | ~pd.Index(ids).isin(after.index)
                a = a.where(~gone, 0.0)
            df[f"{stem}_before{suffix}"] = b.to_numpy()
            df[f"{stem}_after{suffix}"] = a.to_numpy()
            if stem != "households":
                df[f"{stem}_delta{suffix}"] = (a.fillna(0) - b.fillna(0)).to_numpy() if stem == "gfa" else (a - b).to_numpy()
        if "lifts_added" in after.columns:
            df["lifts_added"] = pd.to_numeric(after["lifts_added"], errors="coerce").reindex(ids).to_numpy()
        parts.append(gpd.GeoDataFrame(df.reset_index(drop=True), geometry=geom.to_numpy(), crs=project.crs))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=project.crs) if parts else \
        gpd.GeoDataFrame({"scenario": [], "id": []}, geometry=[], crs=project.crs)


_SITE_FIGURES = (("density_by_site", "gfa_m2", "gfa", "_m2"), ("density_by_site", "far", "far", ""),
                 ("density_by_site", "coverage_pct", "coverage", "_pct"), ("density_by_site", "green_ratio_pct", "green_ratio", "_pct"),
                 ("release_by_parcel", "net_area_m2", "net_release", "_m2"))


def _site_changes(project: Project, base: RunResult, runs: Mapping[str, RunResult]) -> gpd.GeoDataFrame | None:
    if not project.has("sites"):
        return None
    parts = []
    for sid, run in runs.items():
        sites = _by_id(run.layer("sites"))
        df = pd.DataFrame({"scenario": sid, "id": sites.index}, index=sites.index)
        if "name" in sites.columns:
            df["name"] = sites["name"]
        for table, col, stem, suffix in _SITE_FIGURES:
            tb, ta = base.tables.get(table), run.tables.get(table)
            if tb is None or ta is None or col not in tb.columns:
                continue
            b = _site_values(tb, col).reindex(sites.index)
            a = _site_values(ta, col).reindex(sites.index)
            df[f"{stem}_before{suffix}"], df[f"{stem}_after{suffix}"], df[f"{stem}_delta{suffix}"] = b, a, a - b
        parts.append(gpd.GeoDataFrame(df.reset_index(drop=True), geometry=sites.geometry.to_numpy(), crs=project.crs))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=project.crs) if parts else None


def _site_values(t: pd.DataFrame, col: str) -> pd.Series:
    keyed = t.set_index(t["id"].astype(str)) if "id" in t.columns else t.set_axis(t.index.astype(str))
    return pd.to_numeric(keyed[col], errors="coerce")


# ------------------------------------------------------------------------- the run
@dataclass
class ScenarioRun:
    """The baseline and each scenario, run and compared.

    Attributes
    ----------
    project : Project
        The baseline project (with its scenarios).
    baseline : RunResult
    runs : dict of str to RunResult
        By scenario id.
    indicators : DataFrame
        ``scenario, indicator_id, group, name_en, name_zh, value, unit`` for the baseline
        and every scenario.
    delta : DataFrame
        Each scenario minus the baseline: ``baseline, value, delta, delta_pct``.
    building_changes, site_changes : GeoDataFrame
        One row per feature and scenario: what changed, before, after, difference.
    """

    project: Project
    baseline: RunResult
    runs: dict[str, RunResult]
    indicators: pd.DataFrame
    delta: pd.DataFrame
    building_changes: gpd.GeoDataFrame
    site_changes: gpd.GeoDataFrame | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The difference layers by name."""
        out = {"building_changes": self.building_changes}
        if self.site_changes is not None:
            out["site_changes"] = self.site_changes
        return out

    def wide(self) -> pd.DataFrame:
        """The indicators with one column per scenario (baseline first)."""
        t = self.indicators.pivot_table(index=["indicator_id", "name_en", "unit"], columns="scenario", values="value", sort=False,
                                        dropna=False)
        return t[[BASELINE, *self.runs]]

    def __repr__(self) -> str:
        return f"<ScenarioRun {self.project.name!r}: baseline + {list(self.runs)}; {len(self.indicators)} indicator values>"

    def _repr_html_(self) -> str:
        key = self.delta[self.delta["group"].isin(["area", "programme", "walk", "release"])]
        rows = "".join(f"<tr><td style='text-align:left'>{html.escape(str(r.scenario))}</td>"
                       f"<td style='text-align:left'>{html.escape(str(r.name_en))}</td><td>{_fmt(r.baseline)}</td>"
                       f"<td>{_fmt(r.value)}</td><td>{_fmt(r.delta, sign=True)}</td><td>{html.escape(str(r.unit))}</td></tr>"
                       for r in key.itertuples())
        return (f"<div><b>renewgeo scenarios: {html.escape(self.project.title)}</b> "
                f"<small>(baseline + {html.escape(', '.join(self.runs))})</small><table><thead><tr><th>scenario</th><th>indicator</th>"
                f"<th>baseline</th><th>scenario</th><th>change</th><th>unit</th></tr></thead><tbody>{rows}</tbody></table>"
                "<small>.indicators, .delta, .wide(), .building_changes, .runs[id]</small></div>")


def _fmt(v: Any, *, sign: bool = False) -> str:
    x = _num(v)
    if np.isnan(x):
        return "-"
    s = f"{x:+,.1f}" if sign else f"{x:,.1f}"
    return s[:-2] if s.endswith(".0") else s


def run_scenarios(project: Project, scenarios: Sequence[str] | None = None, *, analyses: Sequence[str] | None = None,
                  overrides: Mapping[str, Any] | None = None, progress: bool | None = None) -> ScenarioRun:
    """Run the baseline and each scenario, reusing what a scenario leaves alone, and compare them.

    Parameters
    ----------
    project : Project
        A project with scenarios (``[[scenarios]]`` or :meth:`Project.with_scenario`).
    scenarios : sequence of str, optional
        Scenario ids (default all, in their order).
    analyses : sequence of str, optional
        Only these analyses (and what they need); default all.
    overrides : mapping, optional
        ``{"section.key": value}`` for every run.
    progress : bool, optional
        Progress bars (default :data:`renewgeo.options.progress`).

    Raises
    ------
    RenewgeoError
        The project has no scenarios, or an id is unknown.

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> two = p["buildings"].iloc[:2][["id"]].assign(action="demolish")
    >>> sr = rg.run_scenarios(p.with_scenario("plan", {"buildings": two}), analyses=["area"])
    >>> d = sr.delta.set_index("indicator_id")
    >>> float(d.loc["gfa_demolished_m2", "delta"]) == float(p["buildings"].gfa_m2.iloc[:2].sum())
    True
    """
    ids = list(project.scenarios) if scenarios is None else list(scenarios)
    if not project.scenarios:
        raise RenewgeoError(f"project {project.name!r} has no scenarios: declare them as [[scenarios]] in project.toml "
                            "(renewgeo settings --help-scenarios) or add one with Project.with_scenario")
    for sid in ids:
        if sid not in project.scenarios:
            raise RenewgeoError(f"project {project.name!r} has no scenario {sid!r}; scenarios: {list(project.scenarios)}")
    cache: dict[Any, Any] = {}
    base = run_analyses(project, analyses, overrides=overrides, progress=progress, cache=cache)
    runs = {sid: run_analyses(project.scenario(sid), analyses, settings=base.settings, progress=progress, reuse=base, cache=cache)
            for sid in ids}
    for sid, r in runs.items():
        if r.reused:
            log.info("scenario %s reused the baseline's %s", sid, ", ".join(r.reused))
    table = pd.concat([indicators(base), *(indicators(r, sid) for sid, r in runs.items())], ignore_index=True)
    return ScenarioRun(project, base, runs, table, _delta(table), _building_changes(project, base, runs),
                       _site_changes(project, base, runs))


# ------------------------------------------------------------------------- the map
_CHANGE_STYLE = Style("polygon", column="change", categories=CHANGE_COLOURS, outline="#555555", width=0.6, fill_opacity=0.8)
_DELTA_STYLE = Style("polygon", column="daily_dist_delta_m", breaks=DELTA_BREAKS, unit="m", outline="#777777", width=0.4,
                     fill_opacity=0.85)
_TIP = ("id", "name", "change", "gfa_before_m2", "gfa_after_m2", "households_before", "households_after", "lifts_added",
        "daily_dist_before_m", "daily_dist_after_m", "daily_dist_delta_m", "green_dist_delta_m")


@dataclass
class _MapSource:
    """What :func:`renewgeo.webmap.meeting_map` draws: the baseline's layers and each scenario's differences."""

    layers: dict[str, gpd.GeoDataFrame]
    pres: dict[str, list[tuple[str, Presentation]]]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def output_layers(self) -> dict[str, gpd.GeoDataFrame]:
        return self.layers

    def presentations(self) -> dict[str, list[tuple[str, Presentation]]]:
        return self.pres


def _map_source(sr: ScenarioRun) -> tuple[_MapSource, dict[str, dict[str, list[str]]]]:
    p = sr.project
    layers: dict[str, gpd.GeoDataFrame] = {}
    pres: dict[str, list[tuple[str, Presentation]]] = {}
    for name, g in p.layers.items():  # the baseline, as its kinds are drawn
        kind = p.kinds[name]
        if kind in styles.KIND_PRESENTATIONS:
            layers[name], pres[name] = g, [(kind, styles.KIND_PRESENTATIONS[kind])]
    shown = [n for n in layers if pres[n][0][1].show is not False]
    switch: dict[str, dict[str, list[str]]] = {BASELINE: {"on": shown, "off": [n for n in layers if n not in shown]}}
    bc = sr.building_changes
    for sid, run in sr.runs.items():
        sc = p.scenarios[sid]
        zh, en = sc.title("zh"), sc.title("en")
        mine = bc[bc["scenario"] == sid]
        on = [n for n in switch[BASELINE]["on"] if n not in sc.patches]
        off = [n for n in switch[BASELINE]["off"] if n not in sc.patches]
        for lname in sc.patches:  # the scenario's own version of what it patches
            key = f"{sid}:{lname}"
            kind = p.kinds[lname]
            base_p = styles.KIND_PRESENTATIONS.get(kind)
            if base_p is None:
                continue
            layers[key] = run.project.layers[lname]
            pres[key] = [(kind, Presentation((f"{styles.text(base_p.label, 'zh')} ({zh})", f"{styles.text(base_p.label, 'en')} ({en})"),
                                             base_p.style, base_p.tooltip, False, base_p.order, base_p.group))]
            (off if kind == "buildings" and len(mine) else on).append(key)  # the changes layer draws the buildings
        if len(mine):
            key = f"{sid}:changes"
            layers[key] = mine
            pres[key] = [(key, Presentation((f"建筑变化 ({zh})", f"Building changes ({en})"), _CHANGE_STYLE, _TIP, False, 40, "buildings"))]
            on.append(key)
            if "daily_dist_delta_m" in mine.columns and mine["daily_dist_delta_m"].notna().any():
                key = f"{sid}:walk_delta"
                layers[key] = mine
                pres[key] = [(key, Presentation((f"日常设施步行距离变化 ({zh})", f"Change in walk to daily services ({en})"), _DELTA_STYLE,
                                                _TIP, False, 41, "walk"))]
                off.append(key)
        switch[sid] = {"on": on, "off": off}
    return _MapSource(layers, pres), switch  # each scenario's targets ledger is in the switch, not the title


_SWITCH_JS = """
(function (R, groups, labels, figures, heading) {
  var map = R.map, box = L.DomUtil.create('div', 'leaflet-bar renewgeo-switch');
  var html = '<div class="renewgeo-switch-head">' + heading + '</div>';
  Object.keys(groups).forEach(function (k, i) {
    html += '<label><input type="radio" name="renewgeo-scenario" value="' + i + '"' + (i === 0 ? ' checked' : '') + '> ' + labels[k] + '</label>';
  });
  box.innerHTML = html + '<div class="renewgeo-switch-figures"></div>';
  var keys = Object.keys(groups), all = {};
  keys.forEach(function (k) { groups[k].on.concat(groups[k].off).forEach(function (n) { all[n] = true; }); });
  function show(k) {  // the scenario's layers on; its optional ones as they are; every other scenario's off
    Object.keys(all).forEach(function (n) {
      var l = R.layers[n]; if (!l) { return; }
      if (groups[k].on.indexOf(n) >= 0) { if (!map.hasLayer(l)) { map.addLayer(l); } }
      else if (groups[k].off.indexOf(n) < 0 && map.hasLayer(l)) { map.removeLayer(l); }
    });
    box.querySelector('.renewgeo-switch-figures').innerHTML = figures[k] || '';
    R.scenario = k;
  }
  box.addEventListener('change', function (e) { show(keys[+e.target.value]); });
  L.DomEvent.disableClickPropagation(box);
  var Ctl = L.Control.extend({options: {position: 'bottomright'}, onAdd: function () { return box; }});
  new Ctl().addTo(map);
  R.showScenario = show;
  show(keys[0]);
})(window.renewgeo, __GROUPS__, __LABELS__, __FIGURES__, __HEADING__);
"""

_SWITCH_CSS = """<style>
.renewgeo-switch { background: #fff; padding: 8px 10px; font-size: 14px; max-width: 360px; line-height: 1.5;
                   max-height: calc(100vh - 120px); overflow-y: auto; }
.renewgeo-switch summary { cursor: pointer; font-weight: bold; margin-top: 4px; }
.renewgeo-switch-head { font-weight: bold; margin-bottom: 2px; }
.renewgeo-switch label { display: block; cursor: pointer; }
.renewgeo-switch-figures table { border-collapse: collapse; margin-top: 4px; font-size: 12px; }
.renewgeo-switch-figures td { padding: 0 4px; } .renewgeo-switch-figures td.n { text-align: right; }
</style>"""

_KEY_FIGURES = ("gfa_standing_m2", "gfa_demolished_m2", "buildings_renewed", "households", "lifts_added", "parking_capacity",
                "parking_shared", "green_space_m2", "green_300m_buildings_pct", "park_500m_buildings_pct",
                "life_circle_15min_buildings_pct", "daily_dist_median_m", "release_net_mu", "scorecard.stages_passing")


def _figures_html(sr: ScenarioRun, lang: str) -> dict[str, str]:
    """For the baseline and each scenario: its targets ledger (as the meeting map shows one) and its key differences."""
    def ledger_html(run: RunResult) -> str:
        return webmap._targets_html(run.tables.get("targets"), cast(Any, lang))

    out = {BASELINE: ledger_html(sr.baseline)}
    d = sr.delta.set_index(["scenario", "indicator_id"])
    for sid in sr.runs:
        rows = []
        for iid in _KEY_FIGURES:
            if (sid, iid) not in d.index:
                continue
            r = cast(pd.Series, d.loc[(sid, iid)])
            if np.isnan(_num(r["delta"])) or _num(r["delta"]) == 0:
                continue
            name = r["name_zh"] if lang == "zh" else r["name_en"] if lang == "en" else f"{r['name_zh']} {r['name_en']}"
            rows.append(f"<tr><td>{html.escape(str(name))}</td><td class='n'>{_fmt(r['delta'], sign=True)}</td>"
                        f"<td>{html.escape(styles.value_label(str(r['unit']), cast(Any, lang)))}</td></tr>")
        words = {"zh": "与现状相比", "en": "Against the baseline"}.get(lang, "与现状相比 Against the baseline")
        diff = f"<details open><summary>{html.escape(words)}</summary><table>{''.join(rows)}</table></details>" if rows else ""
        out[sid] = ledger_html(sr.runs[sid]) + diff
    return out


def scenario_map(sr: ScenarioRun, *, lang: str | None = None, basemap: str | None = None) -> folium.Map:
    """One offline map of the baseline and every scenario, with a switch between them.

    The switch (bottom right) shows the baseline's layers or a scenario's: its own
    version of each layer it patches, its building changes (demolished, new, renovated
    ...) and the change in the walk to daily services on one colour scale for every
    scenario (:data:`DELTA_BREAKS`), with the key differences beside it.
    """
    source, switch = _map_source(sr)
    m = webmap.meeting_map(sr.project, cast(Any, source), lang=cast(Any, lang), basemap=basemap,
                           title=f"{sr.project.title_zh or sr.project.title}: 方案比较" if (lang or "zh") != "en"
                           else f"{sr.project.title}: scenarios")
    use = lang or sr.project.settings.get(webmap.MapSettings).lang
    labels = {BASELINE: html.escape({"zh": "现状", "en": "Baseline"}.get(use, "现状 Baseline"))}
    labels.update({sid: html.escape(sr.project.scenarios[sid].title(use)) for sid in sr.runs})
    heading = html.escape({"zh": "方案", "en": "Scenario"}.get(use, "方案 Scenario"))
    js = (_SWITCH_JS.replace("__GROUPS__", webmap._js(switch)).replace("__LABELS__", webmap._js(labels))
          .replace("__FIGURES__", webmap._js(_figures_html(sr, use))).replace("__HEADING__", webmap._js(heading)))
    root = cast(Figure, m.get_root())
    root.header.add_child(Element(_SWITCH_CSS), name="renewgeo_switch_css")
    m.add_child(webmap._Script(js))
    return m


# ------------------------------------------------------------------------- writing
def _presentations(sr: ScenarioRun) -> dict[str, list[tuple[str, Presentation]]]:
    out = {"building_changes": [("change", Presentation(("建筑变化", "Building changes"), _CHANGE_STYLE, _TIP, order=40)),
                                ("walk_delta", Presentation(("日常设施步行距离变化", "Change in walk to daily services"), _DELTA_STYLE,
                                                            _TIP, order=41))]}
    if sr.site_changes is not None:
        out["site_changes"] = [("site_changes", Presentation(("地块变化", "Parcel changes"),
                                                             Style("polygon", column="gfa_delta_m2", breaks=(
                                                                 (-1.0, "#d7301f"), (1.0, "#f7f7f7"), (float("inf"), "#1a9850")),
                                                                 unit="m²", fill_opacity=0.5), ("id", "name", "gfa_delta_m2",
                                                                                                 "net_release_delta_m2"), order=10))]
    return out


def _write(sr: ScenarioRun, base: Path, lang: str, say: Callable[[str], None]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    ledgers = {f"targets_{sid}": r.tables["targets"] for sid, r in {BASELINE: sr.baseline, **sr.runs}.items() if "targets" in r.tables}
    files["table:scenario_indicators"] = rio.write_table(sr.indicators, base / "tables" / "scenario_indicators.csv")
    files["table:scenario_delta"] = rio.write_table(sr.delta, base / "tables" / "scenario_delta.csv")
    files["workbook:scenarios"] = rio.write_workbook({"scenario_indicators": sr.indicators, "scenario_delta": sr.delta, **ledgers},
                                                     base / "tables" / "scenarios.xlsx")
    layers = sr.layers()
    files["results"] = qgis.write_gpkg(layers, base / "results.gpkg", kinds={n: n for n in layers}, presentations=_presentations(sr),
                                       lang=lang)
    png = plot.scenario_delta(sr.delta, lang=cast(Any, lang))
    if png is not None:
        path = base / "figures" / "scenario_delta.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(plot.figure_png(png))
        files["figure:scenario_delta"] = path
    files["map"] = webmap.save_map(scenario_map(sr, lang=lang), base / "maps" / safe_name(sr.project.name, suffix="_scenarios.html"))
    return files


def write_scenarios(sr: ScenarioRun, out_dir: str | Path, *, maps_dir: str | Path | None = None, wait_s: float = 0.0,
                    notify: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Write a scenario comparison into ``out_dir`` as one unit (see the module docstring); returns the files by key.

    Raises
    ------
    WriteError
        As for :func:`renewgeo.write_run`; the previous contents, if any, are left intact.
    """
    say = notify or log.warning
    lang = sr.project.settings.get(webmap.MapSettings).lang
    with outputs.open_output(Path(out_dir), wait_s=wait_s) as staging:
        base = staging.path
        try:
            files = _write(sr, base, lang, say)
            manifest = {"renewgeo_version": __version__, "scenarios": {
                "project": {"name": sr.project.name, "title": sr.project.title, "root": str(sr.project.root) if sr.project.root else None,
                            "toml_sha256": sr.project.toml_sha256},
                "settings_sha256": sr.baseline.settings.sha256(),
                "scenarios": {sid: {"label": sc.label, "label_zh": sc.label_zh, "patches": {n: {"source": pt.source, **pt.counts()}
                                                                                            for n, pt in sc.patches.items()},
                                    "reused": sr.runs[sid].reused}
                              for sid, sc in sr.project.scenarios.items() if sid in sr.runs},
                "analyses": list(sr.baseline.results), "skipped": dict(sr.baseline.skipped)}}
            final = staging.commit(manifest)
        except OSError as exc:
            raise WriteError(f"{staging.out_dir}: writing the scenarios failed ({exc}); the previous contents, if any, are as they were.") \
                from None
    out = {k: final / v.relative_to(base) for k, v in files.items()}
    out["manifest"] = final / "manifest.json"
    if maps_dir is not None:
        out["map_copy"] = outputs.copy_file_atomic(out["map"], Path(maps_dir) / out["map"].name)
    sr.files = out
    return out

