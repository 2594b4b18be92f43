"""rg.plot: each chart draws exactly its table (recomputed here with pandas), in the chosen language; runs write them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import renewgeo as rg
from renewgeo import area
from renewgeo.plot import TARGET_COLOURS

M2_PER_MU = 10000 / 15


@pytest.fixture(scope="module")
def park():
    return rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["targets", "walk"], progress=False)


@pytest.fixture(scope="module")
def shibei():
    return rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")), ["release", "targets"], progress=False)


def _ticks(labels):
    return [t.get_text() for t in labels]


def _unchanged(draw, *tables, **kw):
    """Draw on copies and check the copies are left exactly as they were."""
    copies = [t.copy(deep=True) if t is not None else None for t in tables]
    fig = draw(*copies, **kw)
    for before, after in zip(tables, copies, strict=True):
        if before is not None:
            pd.testing.assert_frame_equal(before, after)
    return fig


def test_rg_plot_is_exposed():
    assert rg.plot.targets_ledger is not None and "plot" in rg.__all__


def test_targets_ledger_bars_are_actual_over_target(park, shibei):
    for run in (park, shibei):
        t = run.tables["targets"]
        fig = _unchanged(rg.plot.targets_ledger, t, lang="en")
        ax = fig.axes[0]
        widths = [p.get_width() for p in ax.patches]
        np.testing.assert_allclose(widths, (t["actual"] / t["target"] * 100).to_numpy(), rtol=1e-12)
        assert [to_hex(p.get_facecolor()) for p in ax.patches] == [TARGET_COLOURS[s] for s in t["status"]]
        assert _ticks(ax.get_yticklabels()) == t["label"].tolist()
        texts = [x.get_text() for x in ax.texts]
        assert all(f"· {s}" in x for x, s in zip(texts, t["status"], strict=True))
        counts = t["status"].value_counts()
        assert ax.get_title(loc="right") == " · ".join(f"{counts[s]} {s}" for s in TARGET_COLOURS if s in counts)
        assert any(line.get_xdata()[0] == 100 for line in ax.lines)  # the target line
    over = next(x.get_text() for x in rg.plot.targets_ledger(shibei.tables["targets"], lang="en").axes[0].texts)
    assert over == "419.3 / 400.0 mu · over"  # at the target's precision, as the map shows it (styles.display_amount)


def test_targets_ledger_labels_follow_lang(park):
    t = park.tables["targets"]
    zh = rg.plot.targets_ledger(t, lang="zh").axes[0]
    assert _ticks(zh.get_yticklabels()) == t["label_zh"].tolist()
    assert zh.get_title(loc="left").startswith("规划目标") and "达标" in zh.get_title(loc="right")
    assert "平方米" in zh.texts[0].get_text() and "met" not in zh.texts[0].get_text()
    both = rg.plot.targets_ledger(t, lang="zh+en").axes[0]
    assert _ticks(both.get_yticklabels()) == [f"{z} {e}" for z, e in zip(t["label_zh"], t["label"], strict=True)]


def test_targets_ledger_says_when_a_target_was_not_computed():
    t = pd.DataFrame({"id": ["a", "b"], "label": ["A", "B"], "label_zh": ["甲", None], "unit": ["m2", "mu"],
                      "target": [100.0, 10.0], "actual": [50.0, np.nan], "status": ["short", "not computed"]})
    ax = rg.plot.targets_ledger(t, lang="en").axes[0]
    assert [p.get_width() for p in ax.patches] == [50.0, 0.0]
    assert [x.get_text() for x in ax.texts] == ["50.0 / 100.0 m² · short", "not computed"]  # the target's precision
    assert _ticks(rg.plot.targets_ledger(t, lang="zh").axes[0].get_yticklabels()) == ["甲", "B"]  # no Chinese label: English


def test_life_circle_compliance_bars_are_share_of_buildings_passing(park):
    t = park.tables["life_circles"]
    fig = _unchanged(rg.plot.life_circle_compliance, t, lang="en")
    ax = fig.axes[0]
    want = (t["buildings_pass"] / t["buildings"] * 100).to_numpy()
    np.testing.assert_allclose([p.get_height() for p in ax.patches], want, rtol=1e-12)
    ticks = _ticks(ax.get_xticklabels())
    assert [x.splitlines()[0] for x in ticks] == ["5-minute circle", "10-minute circle", "15-minute circle"]
    assert [x.splitlines()[1] for x in ticks] == [f"≤ {d:,.0f} m" for d in t["distance_m"]]
    zh = _ticks(rg.plot.life_circle_compliance(t, lang="zh").axes[0].get_xticklabels())
    assert [x.splitlines()[0] for x in zh] == ["5分钟生活圈", "10分钟生活圈", "15分钟生活圈"]


def test_life_circle_compliance_rounds_shares_to_a_tenth():
    t = pd.DataFrame({"distance_m": [300.0, 500.0], "buildings": [26, 26], "buildings_pass": [2, 0]},
                     index=pd.Index(["5min", "10min"], name="circle"))
    ax = rg.plot.life_circle_compliance(t, lang="en").axes[0]
    assert [x.get_text() for x in ax.texts] == ["7.7 %\n2 / 26", "0 %\n0 / 26"]


def test_release_by_year_bars_cumulative_and_target(shibei):
    t, targets = shibei.tables["release_by_year"], shibei.tables["targets"]
    fig = _unchanged(rg.plot.release_by_year, t, targets, lang="en")
    ax = fig.axes[0]
    net_mu = t["net_area_m2"] / M2_PER_MU
    np.testing.assert_allclose([p.get_height() for p in ax.patches], net_mu.to_numpy(), rtol=1e-9)
    cumulative, *goals = ax.lines
    np.testing.assert_allclose(cumulative.get_ydata(), net_mu.cumsum().to_numpy(), rtol=1e-9)
    release = targets[targets["measure"].str.contains("net_area")]
    assert [g.get_ydata()[0] for g in goals] == release["target"].tolist() == [400.0]  # in mu already
    assert _ticks(ax.get_xticklabels()) == [str(y) for y in t.index]
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    assert labels == ["net release in the year", "cumulative net release", "target 400 mu: Land released in 2024"]
    zh = rg.plot.release_by_year(t, targets, lang="zh").axes[0]
    assert [x.get_text() for x in zh.get_legend().get_texts()] == ["当年净释放", "累计净释放", "目标 400 亩: 2024年释放土地"]
    assert len(rg.plot.release_by_year(t, lang="en").axes[0].lines) == 1  # no targets: no target line


def test_release_by_year_converts_a_target_in_hectares():
    t = pd.DataFrame({"net_area_mu": [30.0, 15.0]}, index=pd.Index([2030, 2031], name="year"))
    targets = pd.DataFrame({"id": ["r"], "label": ["R"], "label_zh": ["释放"], "measure": ["sum(net_area_m2)"], "unit": ["ha"],
                            "target": [2.0], "actual": [3.0], "status": ["over"]})
    ax = rg.plot.release_by_year(t, targets, lang="en").axes[0]
    assert ax.lines[1].get_ydata()[0] == pytest.approx(30.0)  # 2 ha = 30 mu


def test_area_by_use_after_and_before(park):
    after = park.tables["area_by_use_after"]
    before = area.summarize(park.layer("buildings"), "use_before")
    fig = _unchanged(rg.plot.area_by_use, after, before, lang="en")
    ax = fig.axes[0]
    b_bars, a_bars = ax.containers
    assert (b_bars.get_label(), a_bars.get_label()) == ("before", "after")
    a = after["gfa_m2"].drop(index="total").sort_values(ascending=False, kind="stable")
    b = before["gfa_m2"].drop(index="total")
    uses = [*a.index, *b.drop(index=[u for u in b.index if u in a.index]).sort_values(ascending=False).index]
    np.testing.assert_allclose([p.get_width() for p in a_bars], a.reindex(uses).fillna(0).to_numpy())
    np.testing.assert_allclose([p.get_width() for p in b_bars], b.reindex(uses).fillna(0).to_numpy())
    assert sum(p.get_width() for p in a_bars) == sum(p.get_width() for p in b_bars) == after.loc["total", "gfa_m2"]
    assert _ticks(ax.get_yticklabels())[0] == "tech office" and "industrial" in _ticks(ax.get_yticklabels())
    zh = rg.plot.area_by_use(after, lang="zh").axes[0]
    assert len(zh.containers) == 1 and _ticks(zh.get_yticklabels())[:2] == ["科技办公", "创意工作室"]
    assert zh.get_title(loc="left") == "各用途建筑面积" and zh.get_xlabel() == "建筑面积 (m²)"


@pytest.mark.parametrize(("sample", "analyses", "names"), [
    ("chuangchuangyi", ["targets", "walk"], {"targets", "life_circles", "area_by_use"}),
    ("shibei_relocation", ["release", "targets"], {"targets", "release_by_year"}),
])
def test_a_run_writes_every_chart_it_has_tables_for(tmp_path, sample, analyses, names):
    out = tmp_path / sample
    rg.run_project(rg.load_project(rg.datasets.get_path(sample)), out, analyses=analyses, progress=False)
    pngs = {p.stem: p for p in (out / "figures").glob("*.png")}
    assert set(pngs) == names
    for p in pngs.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_figures_skips_charts_without_their_tables(shibei):
    figs = rg.plot.run_figures({"release_by_year": shibei.tables["release_by_year"]}, lang="en")
    assert set(figs) == {"release_by_year"}  # drawn without the optional targets
    assert rg.plot.run_figures({"targets": shibei.tables["targets"].iloc[:0]}) == {}  # an empty table draws nothing


def test_charts_are_matplotlib_figures_that_show_as_png_in_jupyter(shibei):
    from matplotlib.figure import Figure

    fig = rg.plot.targets_ledger(shibei.tables["targets"], lang="en")
    assert isinstance(fig, Figure) and fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_target_amounts_read_at_the_targets_precision():
    """79,999.35 of an 80,000 m2 target reads 80,000 on the chart, as on the map (styles.display_amount)."""
    from renewgeo.plot import targets_ledger

    t = pd.DataFrame({"id": ["outdoor"], "label": ["Outdoor renewed"], "label_zh": ["室外环境更新"], "unit": ["m2"],
                      "target": [80000.0], "actual": [79999.35], "status": ["met"]})
    texts = [x.get_text() for x in targets_ledger(t, lang="en").axes[0].texts]
    assert any(x.startswith("80,000 / 80,000") for x in texts), texts


def test_a_failing_life_circle_says_what_is_most_often_missing():
    from renewgeo.plot import life_circle_compliance

    t = pd.DataFrame({"distance_m": [300.0, 1000.0], "buildings": [26, 26], "buildings_pass": [0, 26],
                      "most_missing": ["社区服务站 Community service station", "邮政营业场所 Post office"]},
                     index=pd.Index(["5min", "15min"], name="circle"))
    zh = [x.get_text() for x in life_circle_compliance(t, lang="zh").axes[0].get_xticklabels()]
    en = [x.get_text() for x in life_circle_compliance(t, lang="en").axes[0].get_xticklabels()]
    assert zh[0].endswith("主要缺少: 社区服务站") and en[0].endswith("mostly lacking: Community service station")
    assert "lacking" not in en[1] and "缺少" not in zh[1]  # every building passes the 15-minute circle: no why
