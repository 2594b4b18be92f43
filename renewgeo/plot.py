"""Charts of a run's tables, as matplotlib figures (a deliverable, like the map).

Each chart is a plain function of the table(s) an analysis returns, so it works on a
:class:`~renewgeo.RunResult`'s ``tables`` in a notebook and on the CSVs a run wrote.
``renewgeo run`` writes every chart whose tables the run holds as ``figures/<name>.png``
(:data:`FIGURES`).

>>> import renewgeo as rg
>>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["scorecard"], progress=False)
>>> fig = scorecard_by_category(r.tables["scorecard"], r.tables["scorecard_stages"], lang="en")
>>> len(fig.axes[0].get_yticklabels()), fig.axes[0].get_title(loc="left")
(12, 'Green FTZ scorecard: each category at each approval stage')
"""

from __future__ import annotations

import io
import logging
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from renewgeo import styles

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURES", "STATUS_COLOURS", "ChartSpec", "figure_png", "run_figures", "scorecard_by_category"]

log = logging.getLogger(__name__)

Lang = Literal["zh", "en", "zh+en"]

# the colours of a cell: every applicable indicator passes / at least one fails / only missing data / no threshold
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "unavailable": "#9e9e9e", "not_applicable": "#f5f5f5"}
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
              "WenQuanYi Micro Hei", "SimHei")
_WORDS = {
    "title": ("绿色自贸指标：各类别在各审批阶段的结果", "Green FTZ scorecard: each category at each approval stage"),
    "pass": ("全部达标", "all pass"),
    "fail": ("有未达标", "some fail"),
    "unavailable": ("缺数据", "data missing"),
    "not_applicable": ("本阶段不考核", "not checked"),
    "cell": ("格内：达标/未达标（项目整体）", "cells: pass/fail (whole project)"),
}


def _cjk_font() -> str | None:
    """A font with Chinese glyphs that matplotlib can find, or None."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in _CJK_FONTS if f in have), None)


def _language(lang: Lang) -> tuple[Lang, dict[str, Any]]:
    """The language a chart can be drawn in here, and the font settings for it (no CJK font: English, with a log line)."""
    if lang == "en":
        return lang, {}
    font = _cjk_font()
    if font is None:
        log.warning("no font with Chinese glyphs found for the charts (install fonts-noto-cjk); drawing them in English")
        return "en", {}
    return lang, {"font.family": [font, "DejaVu Sans"]}


def _cell_status(group: pd.DataFrame) -> str:
    st = set(group["status"])
    if "fail" in st:
        return "fail"
    if "pass" in st:
        return "pass"
    return "unavailable" if "unavailable" in st else "not_applicable"


def _stage_label(r: Mapping[Any, Any], lang: Lang) -> str:
    """A stage's name on two or three short lines, then a tick or a cross for the stage's result."""
    en = textwrap.fill(str(r["name_en"]), 14)
    name = {"zh": str(r["name_zh"]), "en": en, "zh+en": f"{r['name_zh']}\n{en}"}[lang]
    return name + ("\n✓" if r["stage_passes"] else "\n✗")


def scorecard_by_category(table: pd.DataFrame, stages: pd.DataFrame, *, lang: Lang = "zh+en") -> Figure:
    """The scorecard at a glance: a category x approval stage grid, coloured by result.

    A cell is green when every indicator of the category checked at that stage passes,
    red when at least one fails, grey when the only checked ones lack data, and pale when
    none is checked; it reads ``pass/fail`` counts. Whole-project values only (per-site
    rows are in the table).

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
    from matplotlib.figure import Figure
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
        fig = Figure(figsize=(11, 7.5), dpi=110, layout="constrained")
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


@dataclass(frozen=True)
class ChartSpec:
    """A chart a run writes when it holds the tables the chart is drawn from."""

    tables: tuple[str, ...]
    draw: Callable[..., Figure]


FIGURES: dict[str, ChartSpec] = {
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
    out = {}
    for name, spec in FIGURES.items():
        if all(t in tables and len(tables[t]) for t in spec.tables):
            out[name] = figure_png(spec.draw(*(tables[t] for t in spec.tables), lang=chosen))
    return out
