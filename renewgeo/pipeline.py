"""``renewgeo run``: every analysis of a project, written to one output folder.

Output layout::

    OUT/results.gpkg        every input layer (in the project's metric CRS) and result layer
    OUT/tables/*.csv        tables (UTF-8 with BOM, so Excel shows Chinese text)
    MAPS/<project>.html     the web map (MAPS defaults to OUT/maps)

Each analysis module adds a step to :data:`STEPS`; a step receives the project and the
results so far and returns new layers and tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from tqdm.auto import tqdm

from renewgeo import io as rio
from renewgeo._config import options
from renewgeo.project import Project

__all__ = ["STEPS", "RunResult", "Step", "run_project"]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run produced: layers, tables and the files written."""

    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    workbooks: dict[str, list[str]] = field(default_factory=dict)
    grids: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One analysis step of a run."""

    name: str
    func: Callable[[Project, RunResult], None]


def _inputs(project: Project, result: RunResult) -> None:
    result.tables["layers"] = project.summary()
    result.tables["validation"] = project.report.to_frame()


def _area(project: Project, result: RunResult) -> None:
    from renewgeo import area

    buildings, tables = area.analyse(
        project, tolerance_pct=float(project.thresholds.get("target_tolerance_pct", 1.0)), layers=result.layers
    )
    if len(buildings):
        result.layers[project.name_of("buildings")] = buildings
    result.tables.update(tables)
    result.workbooks["area"] = list(tables)


def _walk(project: Project, result: RunResult) -> None:
    from renewgeo import walkability

    if not (project.has("buildings") and project.has("amenities") and any(project.has(k) for k in walkability.NETWORK_KINDS)):
        log.info("walkability skipped: the project needs buildings, amenities and a line layer to walk on")
        return
    name = project.name_of("buildings")
    walk = walkability.analyse(project, buildings=result.layers.get(name))
    result.layers[name] = walk.buildings
    result.layers["network_nodes"] = walk.nodes
    result.layers["network_edges"] = walk.network.edges
    if len(walk.isochrones):
        result.layers["isochrones"] = walk.isochrones
    if len(walk.axis_gaps):
        result.layers["axis_gaps"] = walk.axis_gaps
    result.tables.update(walk.tables)
    result.workbooks["walk"] = list(walk.tables)


def _release(project: Project, result: RunResult) -> None:
    from renewgeo import land_release

    if not (project.has("sites") and project.has("constraints")):
        log.info("land release skipped: the project needs sites (parcels) and constraints")
        return
    net, applied, tables = land_release.analyse(project, extra_constraints=_slope_constraints(project))
    result.layers["net_release"] = net
    result.layers["constraints_applied"] = applied
    result.tables.update(tables)
    result.workbooks["release"] = list(tables)


def _slope_constraints(project: Project) -> gpd.GeoDataFrame | None:
    dems = [s for s in project.rasters.values() if s["role"] == "dem"]
    if not dems or "max_slope_pct" not in project.thresholds:
        return None
    from renewgeo import raster

    return raster.slope_constraints(dems[0]["path"], band=dems[0]["band"], max_slope_pct=float(project.thresholds["max_slope_pct"]),
                                    crs=project.crs)


def _raster(project: Project, result: RunResult) -> None:
    from renewgeo import raster

    grids, layers, tables = raster.analyse(project, layers=result.layers)
    result.grids.update(grids)
    result.layers.update(layers)
    result.tables.update(tables)
    if tables:
        result.workbooks["raster"] = list(tables)


STEPS: list[Step] = [Step("inputs", _inputs), Step("release", _release), Step("area", _area), Step("walk", _walk),
                     Step("raster", _raster)]




def run_project(
    project: Project,
    out_dir: str | Path,
    *,
    maps_dir: str | Path | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Run every analysis step and write results, tables and the map.

    Parameters
    ----------
    project : Project
        A loaded project.
    out_dir : path-like
        Output folder (created if needed).
    maps_dir : path-like, optional
        Where the HTML map goes (default ``out_dir/maps``).
    progress : bool, optional
        Show a progress bar (default :data:`renewgeo.options.progress`).

    Returns
    -------
    RunResult
    """
    from renewgeo import webmap

    out = Path(out_dir)
    maps = Path(maps_dir) if maps_dir is not None else out / "maps"
    show = options.progress if progress is None else progress
    result = RunResult()
    bar = tqdm(total=len(STEPS) + 3, desc=f"renewgeo {project.name}", disable=not show, unit="step")
    for step in STEPS:
        bar.set_postfix_str(step.name)
        step.func(project, result)
        bar.update()
    bar.set_postfix_str("results.gpkg")
    from renewgeo import qgis

    layers = {**project.layers, **result.layers}
    result.files["results"] = qgis.write_gpkg(layers, out / "results.gpkg", kinds=project.kinds)

    bar.update()
    bar.set_postfix_str("tables")
    for name, table in result.tables.items():
        result.files[f"table:{name}"] = rio.write_table(table, out / "tables" / f"{name}.csv")
    for name, grid in result.grids.items():
        from renewgeo import raster

        result.files[f"raster:{name}"] = raster.write_cog(grid, out / "rasters" / f"{name}.tif")
    for book, names in result.workbooks.items():

        result.files[f"workbook:{book}"] = rio.write_workbook({n: result.tables[n] for n in names}, out / "tables" / f"{book}.xlsx")
    bar.update()
    bar.set_postfix_str("map")
    result.files["map"] = webmap.save_map(webmap.meeting_map(project, result), maps / f"{project.name}.html")

    bar.update()
    bar.close()
    log.info("run of %s written to %s", project.name, out)
    return result
