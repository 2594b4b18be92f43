"""The targets analysis: the plan's ``[[targets]]`` against what the layers and results hold.

The ledger itself (:func:`renewgeo.area.targets_ledger`) measures any input layer, with
the columns analyses add, and any result layer (``net_release``); this module registers
it as the analysis ``targets``, which runs after the analyses its targets name.
"""

from __future__ import annotations

import fnmatch
import re

import geopandas as gpd
import pandas as pd

from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.area import format_ledger, targets_ledger
from renewgeo.project import Project
from renewgeo.schemas import RESULT_LAYERS, derived_columns

__all__ = ["compute"]


def compute(ctx: Context) -> Result:
    """The targets ledger of the project, measured on the inputs and the upstream results.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")), ["targets"])
    >>> r.tables["targets"].set_index("id").loc["release_2024", "status"]
    'over'
    """
    layers: dict[str, gpd.GeoDataFrame] = {}
    for r in ctx.upstream.values():
        layers.update(r.layers)
        for kind in r.columns:
            layers[ctx.project.name_of(kind)] = ctx.layer(kind)
    led = targets_ledger(ctx.project, layers=layers)
    res = Result(tables={"targets": pd.DataFrame(led)})
    off = led[led["status"] != "met"]
    res.notes += [f"target {r['id']}: {r['status']}" + (f" ({r['note']})" if r["note"] else "") for r in off.to_dict("records")]
    return res


def wants(project: Project) -> tuple[str, ...]:
    """The analyses whose layers or columns the project's targets name (their values come from those analyses).

    Examples
    --------
    >>> import renewgeo as rg
    >>> wants(rg.load_project(rg.datasets.get_path("shibei_relocation")))
    ('area', 'release')
    """
    need = {"area"}  # the gfa measure and floor-area columns
    for t in project.targets:
        kind = project.kinds.get(t.layer, t.layer)
        if t.layer in RESULT_LAYERS:
            need.add(RESULT_LAYERS[t.layer].analysis)
            kind = RESULT_LAYERS[t.layer].kind
        col = re.match(r"sum\((\w+)\)", t.measure)
        for c in [*t.where, *([col.group(1)] if col else [])]:
            need.update(a for pat, a in derived_columns(kind).items() if fnmatch.fnmatchcase(c, pat))
    return tuple(sorted(need))


def _report(result: Result) -> str:
    return format_ledger(result.tables["targets"])


register(Analysis(
    name="targets", help="the plan's [[targets]] against what the layers and results hold (the targets ledger)",
    compute=compute, requires=("area",), wants=wants,
    applies=lambda p: None if p.targets else "the project declares no [[targets]] in project.toml", workbook="area", report=_report,
    cli_flags={"tolerance-pct": "area.target_tolerance_pct"},
))
