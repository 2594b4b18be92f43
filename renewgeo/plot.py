"""Charts of a run's tables, as matplotlib figures (a deliverable, like the map).

Each chart is a plain function of the table(s) an analysis returns, so it works on a
:class:`~renewgeo.RunResult`'s ``tables`` in a notebook and on the CSVs a run wrote:
:func:`targets_ledger` (``targets``), :func:`life_circle_compliance` (``life_circles``),
:func:`release_by_year` (``release_by_year``, with ``targets``), :func:`area_by_use`
(``area_by_use_after``, and a before table when there is one) and
:func:`scorecard_by_category` (``scorecard``, ``scorecard_stages``). Every chart takes a
keyword-only ``lang`` (``"zh"``, ``"en"``, ``"zh+en"``) and leaves its tables as they were.
``renewgeo run`` writes every chart whose tables the run holds as ``figures/<name>.png``
(:data:`FIGURES`).

>>> import renewgeo as rg
>>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["scorecard"], progress=False)
>>> fig = scorecard_by_category(r.tables["scorecard"], r.tables["scorecard_stages"], lang="en")
>>> len(fig.axes[0].get_yticklabels()), fig.axes[0].get_title(loc="left")
(12, 'Green FTZ scorecard: each category at each approval stage')
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from renewgeo import styles, units

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURES", "STATUS_COLOURS", "TARGET_COLOURS", "ChartSpec", "area_by_use", "figure_png", "life_circle_compliance",
           "release_by_year", "run_figures", "scenario_delta", "scorecard_by_category", "targets_ledger"]


Lang = Literal["zh", "en", "zh+en"]

# the colours of a cell: every applicable indicator passes / at least one fails / only missing data / no threshold
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "unavailable": "#9e9e9e", "not_applicable": "#f5f5f5"}
_WORDS = {
    "title": ("绿色自贸指标：各类别在各审批阶段的结果", "Green FTZ scorecard: each category at each approval stage"),
    "pass": ("全部达标", "all pass"),
    "fail": ("有未达标", "some fail"),
    "unavailable": ("无未达标，但缺数据", "none fails, data missing"),
    "not_applicable": ("本阶段不考核", "not checked"),
    "cell": ("格内：项目整体 达标/未达标；✓/✗：该阶段（含各地块）是否通过", "cells: pass/fail, whole project; ✓/✗: the stage, every site included"),
    "targets_title": ("规划目标：实际值占目标的百分比", "The plan's targets: actual as a share of the target"),
    "pct_of_target": ("实际值占目标 (%)", "actual as % of target"),
    "target": ("目标", "target"),
    "not computed": ("未计算", "not computed"),
    "lc_title": ("生活圈达标：所需服务都在步行范围内的建筑比例", "Life circles: share of buildings with every required service in reach"),
    "lc_axis": ("达标建筑 (%)", "buildings passing (%)"),
    "release_title": ("各年可释放用地（净面积）", "Releasable land by year (net area)"),
    "release_axis": ("净释放用地 (亩)", "net release (mu)"),
    "net": ("当年净释放", "net release in the year"),
    "cumulative": ("累计净释放", "cumulative net release"),
    "use_title": ("各用途建筑面积", "Floor area by use"),
    "use_title_both": ("各用途建筑面积：改造前与改造后", "Floor area by use: before and after renewal"),
    "gfa_axis": ("建筑面积 (m²)", "GFA (m²)"),
    "before": ("改造前", "before"),
    "after": ("改造后", "after"),
    "delta_title": ("方案与现状相比的主要变化", "What each scenario changes against the baseline"),
    "delta_axis": ("变化（各行按最大变化缩放）", "change (each row scaled to its largest change)"),
}
TARGET_COLOURS = {"met": "#2e7d32", "over": "#1565c0", "short": "#c62828", "not computed": "#9e9e9e"}
"""The colour of a target's bar by its ledger status."""
# building and land uses the charts name (values without an entry read as in styles.VALUE_LABELS, or as they are)
_USE_WORDS = {
    "industrial": ("工业", "industrial"), "warehouse": ("仓储", "warehouse"), "logistics": ("物流", "logistics"),
    "office": ("办公", "office"), "tech_office": ("科技办公", "tech office"), "creative_studio": ("创意工作室", "creative studio"),
    "r_and_d": ("研发", "R&D"), "incubator": ("孵化器", "incubator"), "coworking": ("联合办公", "coworking"),
    "commercial": ("商业", "commercial"), "retail": ("零售", "retail"), "hotel": ("酒店", "hotel"),
    "exhibition": ("展览", "exhibition"), "apartment": ("公寓", "apartment"), "residential": ("居住", "residential"),
    "mixed": ("混合", "mixed use"), "public": ("公共设施", "public"), "public_service": ("公共服务", "public service"),
    "education": ("教育", "education"), "vacant": ("空置", "vacant"),
}


@functools.cache
def _chart_type() -> type[Figure]:
    """The figure class of every chart: a plain matplotlib Figure that also shows itself as a PNG in Jupyter (no pyplot)."""
    from matplotlib.figure import Figure

    class Chart(Figure):
        """A matplotlib figure that Jupyter displays as a PNG."""

        def _repr_png_(self) -> bytes:
            return figure_png(self)

    return Chart


def _language(lang: Lang) -> tuple[Lang, dict[str, Any]]:
    """The language a chart can be drawn in here, and the font settings for it (:func:`renewgeo.styles.chart_language`)."""
    return styles.chart_language(lang)


def _cell_status(group: pd.DataFrame) -> str:
    """Red when one fails; grey when none fails but one lacks data; green only when every checked indicator passes."""
    st = set(group["status"])
    for status in ("fail", "unavailable", "pass"):
        if status in st:
            return status
    return "not_applicable"


def _stage_label(r: Mapping[Any, Any], lang: Lang) -> str:
    """A stage's name on two or three short lines, then a tick or a cross for the stage's result."""
    en = textwrap.fill(str(r["name_en"]), 14)
    name = {"zh": str(r["name_zh"]), "en": en, "zh+en": f"{r['name_zh']}\n{en}"}[lang]
    return name + ("\n✓" if r["stage_passes"] else "\n✗")


def scorecard_by_category(table: pd.DataFrame, stages: pd.DataFrame, *, lang: Lang = "zh+en") -> Figure:
    """The scorecard at a glance: a category x approval stage grid, coloured by result.

    A cell is green when every indicator of the category checked at that stage passes,
    red when at least one fails, grey when none fails but at least one lacks data, and
    pale when none is checked; it reads ``pass/fail`` counts of the whole-project values
    (per-site rows are in the table). The tick or cross under a stage is the stage's
    result over every scope, sites included (``stage_passes``).

    Parameters
    ----------
    table : DataFrame
        The ``scorecard`` table (``category``, ``category_zh``, ``category_en``,
        ``scope``, ``stage``, ``status``).
    stages : DataFrame
        The ``scorecard_stages`` table (``stage``, ``name_zh``, ``name_en``,
        ``stage_passes``), in stage order.
    lang : {"zh", "en", "zh+en"}
        Language of the labels (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    lang, rc = _language(lang)
    t = table[table["scope"] == "project"]
    cats = list(dict.fromkeys(t["category"]))
    names = t.drop_duplicates("category").set_index("category")
    stage_ids = list(stages["stage"])
    colours = np.empty((len(cats), len(stage_ids)), dtype=object)
    texts = np.empty_like(colours)
    for (cat, stage), g in t.groupby(["category", "stage"], sort=False):
        i, j = cats.index(cat), stage_ids.index(stage)
        colours[i, j] = STATUS_COLOURS[_cell_status(g)]
        n_pass, n_fail = int((g["status"] == "pass").sum()), int((g["status"] == "fail").sum())
        texts[i, j] = f"{n_pass}/{n_fail}" if n_pass + n_fail else ""
    import matplotlib

    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(4.5 + 0.95 * len(stage_ids), 7.5), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        for i in range(len(cats)):
            for j in range(len(stage_ids)):
                ax.add_patch(matplotlib.patches.Rectangle((j, i), 1, 1, facecolor=colours[i, j] or STATUS_COLOURS["not_applicable"],
                                                          edgecolor="white", linewidth=2))
                if texts[i, j]:
                    dark = colours[i, j] in (STATUS_COLOURS["pass"], STATUS_COLOURS["fail"], STATUS_COLOURS["unavailable"])
                    ax.text(j + 0.5, i + 0.5, texts[i, j], ha="center", va="center", fontsize=9, color="white" if dark else "#333")
        ax.set_xlim(0, len(stage_ids))
        ax.set_ylim(len(cats), 0)
        ax.set_xticks(np.arange(len(stage_ids)) + 0.5)
        ax.set_xticklabels([_stage_label(r, lang) for r in stages.to_dict("records")], fontsize=8)
        ax.set_yticks(np.arange(len(cats)) + 0.5)
        ax.set_yticklabels([styles.text((str(names.loc[c, "category_zh"]), str(names.loc[c, "category_en"])), lang) for c in cats],
                           fontsize=8)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(styles.text(_WORDS["title"], lang), fontsize=12, loc="left")
        handles = [Patch(facecolor=STATUS_COLOURS[k], edgecolor="#bbb", label=styles.text(_WORDS[k], lang)) for k in STATUS_COLOURS]
        fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8, frameon=False,
                   title=styles.text(_WORDS["cell"], lang), title_fontsize=8)
    return fig


def _say(key: str, lang: Lang, sep: str = " ") -> str:
    """A phrase of :data:`_WORDS` in ``lang`` (``sep`` between Chinese and English in ``zh+en``)."""
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en if lang == "en" else f"{zh}{sep}{en}"


def _pair(pair: tuple[str, str], lang: Lang, sep: str = " ") -> str:
    zh, en = pair
    return zh if lang == "zh" else en if lang == "en" else (f"{zh}{sep}{en}" if zh != en else en)


def _value_pair(value: Any) -> tuple[str, str]:
    """A category value's (Chinese, English) names: uses, then the map's vocabulary, then the value itself."""
    v = str(value)
    plain = v.replace("_", " ")
    return _USE_WORDS.get(v) or styles.VALUE_LABELS.get(v, (plain, plain))


def _num(v: float) -> str:
    """A number as a drawing shows it: whole units from 100 up, else at most two decimals."""
    if not np.isfinite(v):
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _luminance(colour: str) -> float:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return 0.299 * r + 0.587 * g + 0.114 * b


def _blank(ax: Any, *sides: str) -> None:
    for side in sides:
        ax.spines[side].set_visible(False)


def _status_word(status: str, lang: Lang) -> str:
    return _say(status, lang) if status in _WORDS else styles.text(_value_pair(status), lang)


def _target_name(r: Mapping[Any, Any], lang: Lang) -> str:
    en = str(r.get("label") or r.get("id"))
    zh = r.get("label_zh")
    return _pair((str(zh) if isinstance(zh, str) and zh else en, en), lang)


def _target_text(r: Mapping[Any, Any], lang: Lang) -> str:
    unit = styles.text(_value_pair(r["unit"]), lang)
    u, target = str(r["unit"]), float(r["target"])
    return (f"{styles.display_amount(float(r['actual']), target, u)} / {styles.display_amount(target, target, u)} {unit} · "
            f"{_status_word(str(r['status']), lang)}")


def targets_ledger(table: pd.DataFrame, *, lang: Lang = "zh+en") -> Figure:
    """The plan's targets: each target's actual value as a share of the target, coloured met/over/short.

    One bar per target, in the ledger's order, reaching ``actual / target x 100`` %; a
    line marks 100 %. Each bar reads ``actual / target unit · status``, rounded as a
    drawing shows it; a target no analysis computed has no bar and says so.

    Parameters
    ----------
    table : DataFrame
        The ``targets`` table (``id``, ``label``, ``label_zh``, ``unit``, ``target``,
        ``actual``, ``status``), as :func:`renewgeo.area.targets_ledger` returns it.
    lang : {"zh", "en", "zh+en"}
        Language of the labels (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["targets"], progress=False)
    >>> fig = targets_ledger(r.tables["targets"], lang="en")
    >>> fig.axes[0].get_title(loc="right")
    '11 met'
    """
    import matplotlib
    from matplotlib.patches import Patch

    lang, rc = _language(lang)
    rows = table.to_dict("records")
    pct = (table["actual"] / table["target"].where(table["target"] != 0) * 100).to_numpy(dtype=float)
    status = [str(s) for s in table["status"]]
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(10, 1.6 + 0.42 * len(rows)), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(len(rows))
        ax.barh(y, np.nan_to_num(pct), height=0.62, color=[TARGET_COLOURS.get(s, styles.MISSING) for s in status],
                label=_say("pct_of_target", lang))
        ax.axvline(100, color="#333", linewidth=1, linestyle="--")
        for yi, p, r in zip(y, pct, rows, strict=True):
            text = _target_text(r, lang) if np.isfinite(p) else _say("not computed", lang)
            ax.text((p if np.isfinite(p) else 0) + 1.5, float(yi), text, va="center", fontsize=8, color="#222")
        ax.set_yticks(y, [_target_name(r, lang) for r in rows], fontsize=9)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        top = float(np.nanmax(pct)) if np.isfinite(pct).any() else 100.0
        ax.set_xlim(0, max(top, 100.0) * 1.6)
        ax.set_xticks([0, 25, 50, 75, 100] + ([round(top)] if top > 110 else []))
        ax.set_xlabel(_say("pct_of_target", lang), fontsize=9)
        _blank(ax, "top", "right")
        ax.set_title(_say("targets_title", lang, "\n"), fontsize=12, loc="left")
        counts = " · ".join(f"{status.count(s)} {_status_word(s, lang)}" for s in TARGET_COLOURS if s in status)
        ax.set_title(counts, fontsize=10, loc="right")
        shown = [s for s in TARGET_COLOURS if s in status]
        fig.legend(handles=[Patch(facecolor=TARGET_COLOURS[s], label=_status_word(s, lang))
                            for s in shown], loc="outside lower center", ncols=max(len(shown), 1), fontsize=8, frameon=False)
    return fig


def _lacking_line(what: Any, pct: float, lang: Lang) -> str:
    """Under a circle that not every building passes: the facility most often missing (the table's ``"中文 English"``)."""
    if pct >= 100 or not isinstance(what, str) or not what.strip():
        return ""
    zh, _, en = what.strip().partition(" ")
    name = {"zh": zh, "en": en or zh, "zh+en": what.strip()}[lang]
    return f"\n{styles.text(('主要缺少', 'mostly lacking'), lang)}: {name}"


def life_circle_compliance(table: pd.DataFrame, *, lang: Lang = "zh+en") -> Figure:
    """The life circles: the share of buildings with every service each circle requires within its walk.

    One bar per circle (GB 50180-2018's 5-, 10- and 15-minute circles, or the project's
    ``[[life_circles]]``), reaching ``buildings_pass / buildings x 100`` %, labelled with
    the count of buildings that pass.

    Parameters
    ----------
    table : DataFrame
        The ``life_circles`` table of the walk analysis, indexed by circle
        (``distance_m``, ``buildings``, ``buildings_pass``).
    lang : {"zh", "en", "zh+en"}
        Language of the labels (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["walk"], progress=False)
    >>> fig = life_circle_compliance(r.tables["life_circles"], lang="en")
    >>> [t.get_text().splitlines()[0] for t in fig.axes[0].get_xticklabels()]
    ['5-minute circle', '10-minute circle', '15-minute circle']
    """
    import matplotlib

    lang, rc = _language(lang)
    n = table["buildings"].where(table["buildings"] > 0)
    pct = (table["buildings_pass"] / n * 100).fillna(0).to_numpy(dtype=float)
    dist = table["distance_m"] if "distance_m" in table.columns else pd.Series(np.nan, index=table.index)
    lacking = table["most_missing"] if "most_missing" in table.columns else pd.Series(None, index=table.index, dtype="object")
    ticks = [_pair(_value_pair(c), lang, "\n") + (f"\n≤ {d:,.0f} m" if np.isfinite(d) else "") + _lacking_line(w, p, lang)
             for c, d, w, p in zip(table.index, dist.to_numpy(dtype=float), lacking, pct, strict=True)]
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(7.5, 4.8), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(table))
        bars = ax.bar(x, pct, width=0.55, color="#1a9850", label=_say("lc_axis", lang))
        ax.bar_label(bars, labels=[f"{p:.1f}".removesuffix(".0") + f" %\n{int(k)} / {int(m)}" for p, k, m in zip(pct, table["buildings_pass"],
                                                                                       table["buildings"], strict=True)],
                     padding=3, fontsize=9)
        ax.axhline(100, color="#999", linewidth=0.8, linestyle=":")
        ax.set_xticks(x, ticks, fontsize=9)
        ax.set_ylim(0, 118)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_ylabel(_say("lc_axis", lang), fontsize=9)
        _blank(ax, "top", "right")
        ax.set_title(_say("lc_title", lang, "\n"), fontsize=11, loc="left")
    return fig


def _release_goals(targets: pd.DataFrame | None, lang: Lang) -> list[tuple[str, float]]:
    """Targets on released net area, as (legend label, value in mu)."""
    if targets is None or not {"measure", "unit", "target"} <= set(targets.columns):
        return []
    out = []
    for r in targets.to_dict("records"):
        if "net_area" not in str(r["measure"]) or r["unit"] not in units.AREA_UNITS:
            continue
        mu = float(units.convert(float(r["target"]), str(r["unit"]), "mu"))
        out.append((f"{_say('target', lang)} {_num(mu)} {styles.text(_value_pair('mu'), lang)}: {_target_name(r, lang)}", mu))
    return out


def release_by_year(table: pd.DataFrame, targets: pd.DataFrame | None = None, *, lang: Lang = "zh+en") -> Figure:
    """Land released each year (net mu, bars in the map's release-year colours), the cumulative line and the targets.

    Parameters
    ----------
    table : DataFrame
        The ``release_by_year`` table of the release analysis, indexed by year
        (``net_area_mu``).
    targets : DataFrame, optional
        The ``targets`` table; every target measured on net released area
        (``sum(net_area_m2)`` in an area unit) is drawn as a dashed line, in mu.
    lang : {"zh", "en", "zh+en"}
        Language of the labels (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")), ["targets"], progress=False)
    >>> fig = release_by_year(r.tables["release_by_year"], r.tables["targets"], lang="en")
    >>> [round(b.get_height()) for b in fig.axes[0].patches], [line.get_ydata()[0] for line in fig.axes[0].lines[1:]]
    ([419, 40, 33], [400.0])
    """
    import matplotlib

    lang, rc = _language(lang)
    net = table["net_area_mu"].to_numpy(dtype=float)
    cumulative = np.cumsum(net)
    goals = _release_goals(targets, lang)
    years = [str(int(y)) if isinstance(y, int | float | np.integer | np.floating) and float(y).is_integer() else str(y)
             for y in table.index]
    mu = styles.text(_value_pair("mu"), lang)
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(7.5, 4.8), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(years))
        ax.bar(x, net, width=0.6, color=[styles.YEAR_PALETTE[i % len(styles.YEAR_PALETTE)] for i in x],
               edgecolor="#333", linewidth=0.8, label=_say("net", lang))
        top = max([float(cumulative.max()) if len(cumulative) else 0.0] + [g[1] for g in goals])
        for xi, v in zip(x, net, strict=True):  # inside a tall bar (the cumulative line starts on its top), above a short one
            inside = v > top * 0.12
            white = inside and _luminance(styles.YEAR_PALETTE[xi % len(styles.YEAR_PALETTE)]) < 0.5
            ax.text(float(xi), v / 2 if inside else v + top * 0.01, f"{v:,.1f} {mu}", ha="center", va="center" if inside else "bottom",
                    fontsize=8, color="white" if white else "#222")
        ax.plot(x, cumulative, color="#333", marker="o", linewidth=1.5, label=_say("cumulative", lang))
        if len(x):
            ax.annotate(f"{_num(float(cumulative[-1]))} {mu}", (x[-1], cumulative[-1]), xytext=(0, 8),
                        textcoords="offset points", ha="center", fontsize=8)
        for i, (label, value) in enumerate(goals):
            ax.axhline(value, color=("#c62828", "#ef6c00", "#6a1b9a")[i % 3], linestyle="--", linewidth=1.4, label=label)
        ax.set_xticks(x, years)
        ax.set_ylim(0, top * 1.18 if top > 0 else 1)
        ax.set_ylabel(_say("release_axis", lang), fontsize=9)
        _blank(ax, "top", "right")
        ax.set_title(_say("release_title", lang, "\n"), fontsize=11, loc="left")
        handles, labels = ax.get_legend_handles_labels()
        order = [labels.index(_say("net", lang))] + [i for i, lb in enumerate(labels) if lb != _say("net", lang)]
        ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left", fontsize=8, frameon=False)
    return fig


def _gfa_by_use(table: pd.DataFrame) -> pd.Series:
    """GFA by use from an ``area_by_<use column>`` table, without its total row."""
    return table["gfa_m2"].drop(index="total", errors="ignore").astype(float)


def area_by_use(after: pd.DataFrame, before: pd.DataFrame | None = None, *, lang: Lang = "zh+en") -> Figure:
    """Floor area by use: after renewal, and before beside it when a before table is given.

    Uses are sorted by their GFA after renewal (uses only found before come last); each
    bar reads its GFA in m².

    Parameters
    ----------
    after : DataFrame
        The ``area_by_use_after`` table of the area analysis (a ``gfa_m2`` column
        indexed by use, with a ``total`` row that is left out).
    before : DataFrame, optional
        The same by the use before renewal, e.g. ``area.summarize(buildings,
        "use_before")``.
    lang : {"zh", "en", "zh+en"}
        Language of the labels (English when no Chinese font is installed).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import renewgeo as rg
    >>> from renewgeo import area
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["area"], progress=False)
    >>> fig = area_by_use(r.tables["area_by_use_after"], area.summarize(r.layer("buildings"), "use_before"), lang="en")
    >>> [c.get_label() for c in fig.axes[0].containers], fig.axes[0].get_yticklabels()[0].get_text()
    (['before', 'after'], 'tech office')
    """
    import matplotlib

    lang, rc = _language(lang)
    a = _gfa_by_use(after)
    b = _gfa_by_use(before) if before is not None else None
    uses = list(a.sort_values(ascending=False, kind="stable").index)
    if b is not None:
        uses += [u for u in b.sort_values(ascending=False, kind="stable").index if u not in a.index]
    series = [("before", b.reindex(uses).fillna(0.0).to_numpy(), "#bdbdbd")] if b is not None else []
    series.append(("after", a.reindex(uses).fillna(0.0).to_numpy(), "#1f78b4"))
    height = 0.8 / len(series)
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(9, 1.6 + 0.36 * len(uses) * len(series) ** 0.5), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(len(uses))
        for k, (key, values, colour) in enumerate(series):
            offset = (k - (len(series) - 1) / 2) * height
            bars = ax.barh(y + offset, values, height=height * 0.92, color=colour, label=_say(key, lang))
            ax.bar_label(bars, labels=[f"{v:,.0f}" if v else "" for v in values], padding=2, fontsize=7.5)
        ax.set_yticks(y, [_pair(_value_pair(u), lang) for u in uses], fontsize=9)
        ax.set_ylim(len(uses) - 0.5, -0.5)
        ax.set_xlim(0, max(float(np.max(v)) if len(v) else 0.0 for _, v, _ in series) * 1.15 or 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.set_xlabel(_say("gfa_axis", lang), fontsize=9)
        _blank(ax, "top", "right")
        ax.set_title(_say("use_title_both" if b is not None else "use_title", lang, "\n"), fontsize=11, loc="left")
        if b is not None:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


SCENARIO_COLOURS = ("#1f78b4", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#e31a1c")


def scenario_delta(delta: pd.DataFrame, *, lang: Lang = "zh+en", groups: tuple[str, ...] = ("area", "programme", "walk", "release"),
                   max_rows: int = 16) -> Figure | None:
    """What each scenario changes: one row per indicator, a bar per scenario, each labelled with its change and unit.

    Indicators differ in unit, so each row is scaled to its largest change (the bar of
    the scenario that changes it most is full length); the label gives the amount.
    Rows with no change in any scenario are left out.

    Parameters
    ----------
    delta : DataFrame
        :attr:`renewgeo.scenarios.ScenarioRun.delta`.
    lang : {"zh", "en", "zh+en"}
    groups : tuple of str
        Indicator groups shown (the scorecard and the ledger have their own charts).
    max_rows : int
        At most this many indicators, in the table's order.

    Returns
    -------
    Figure or None
        None when no scenario changes any indicator shown.
    """
    import matplotlib

    lang, rc = _language(lang)
    d = delta[delta["group"].isin(groups) & delta["delta"].notna()]
    moved = d.groupby("indicator_id", sort=False)["delta"].apply(lambda v: bool((v.abs() > 1e-9).any()))
    ids = list(moved[moved].index)[:max_rows]
    if not ids:
        return None
    scen = list(dict.fromkeys(d["scenario"]))
    d = d.set_index(["indicator_id", "scenario"])
    height = 0.8 / len(scen)
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = _chart_type()(figsize=(9.5, 1.4 + 0.42 * len(ids) * max(1.0, len(scen) ** 0.5)), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(len(ids))
        names = []
        for i in ids:
            first = d.loc[i].iloc[0]
            names.append(_pair((str(first["name_zh"]), str(first["name_en"])), lang))
        for k, sid in enumerate(scen):
            vals = np.array([float(d.loc[(i, sid), "delta"]) if (i, sid) in d.index else np.nan for i in ids])
            top = np.array([float(d.loc[i, "delta"].abs().max()) for i in ids])
            scaled = np.where(top > 0, vals / np.where(top > 0, top, 1), 0.0)
            offset = (k - (len(scen) - 1) / 2) * height
            bars = ax.barh(y + offset, np.nan_to_num(scaled), height=height * 0.9, color=SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)],
                           label=sid)
            units_ = [str(d.loc[(i, sid), "unit"]) if (i, sid) in d.index else "" for i in ids]
            ax.bar_label(bars, labels=["" if np.isnan(v) or v == 0 else f"{v:+,.1f}".removesuffix(".0") + " "
                                       + styles.value_label(u, lang) for v, u in zip(vals, units_, strict=True)],
                         padding=3, fontsize=7.5)
        ax.axvline(0, color="#333", linewidth=0.8)
        ax.set_yticks(y, names, fontsize=8.5)
        ax.set_ylim(len(ids) - 0.5, -0.5)
        ax.set_xlim(-1.6, 1.6)
        ax.set_xticks([])
        ax.set_xlabel(_say("delta_axis", lang), fontsize=8.5)
        _blank(ax, "top", "right", "left")
        ax.set_title(_say("delta_title", lang, "\n"), fontsize=11, loc="left")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


@dataclass(frozen=True)
class ChartSpec:
    """A chart a run writes when it holds the tables the chart is drawn from."""

    tables: tuple[str, ...]
    draw: Callable[..., Figure]
    optional: tuple[str, ...] = ()
    """Tables passed after ``tables`` when the run holds them, else None."""


FIGURES: dict[str, ChartSpec] = {
    "targets": ChartSpec(("targets",), targets_ledger),
    "life_circles": ChartSpec(("life_circles",), life_circle_compliance),
    "release_by_year": ChartSpec(("release_by_year",), release_by_year, optional=("targets",)),
    "area_by_use": ChartSpec(("area_by_use_after",), area_by_use, optional=("area_by_use_before",)),
    "scorecard": ChartSpec(("scorecard", "scorecard_stages"), scorecard_by_category),
}
"""Charts by file name (``figures/<name>.png``)."""


def figure_png(fig: Figure) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def run_figures(tables: Mapping[str, pd.DataFrame], *, lang: str = "zh+en") -> dict[str, bytes]:
    """Every chart of :data:`FIGURES` whose tables are in ``tables``, as PNG bytes by name."""
    chosen: Lang = lang if lang in ("zh", "en") else "zh+en"  # type: ignore[assignment]

    def held(name: str) -> bool:
        return name in tables and len(tables[name]) > 0

    out = {}
    for name, spec in FIGURES.items():
        if all(held(t) for t in spec.tables):
            args = [tables[t] for t in spec.tables] + [tables[t] if held(t) else None for t in spec.optional]
            out[name] = figure_png(spec.draw(*args, lang=chosen))
    return out
