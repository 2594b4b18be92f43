"""The targets analysis: the plan's ``[[targets]]`` against what the layers and results hold.

The ledger itself (:func:`renewgeo.area.targets_ledger`) measures any input layer, the
columns the area analysis adds (floor area) and the layers land release produces
(``net_release``); this module registers it as the analysis ``targets``.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from renewgeo.analysis import Analysis, Context, Result, register
from renewgeo.area import format_ledger, targets_ledger

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


def _report(result: Result) -> str:
    return format_ledger(result.tables["targets"])


register(Analysis(
    name="targets", help="the plan's [[targets]] against what the layers and results hold (the targets ledger)",
    compute=compute, requires=("area", "release"),
    applies=lambda p: None if p.targets else "the project declares no [[targets]] in project.toml", workbook="area", report=_report,
    cli_flags={"tolerance-pct": "area.target_tolerance_pct"},
))
