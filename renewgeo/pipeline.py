"""Runs: the registered analyses in dependency order, written to one output folder as a unit.

:func:`run_analyses` computes (no files); :func:`write_run` writes a :class:`RunResult`;
:func:`run_project` does both. The output folder::

    OUT/manifest.json       every file with its sha256, the renewgeo version, the project and settings hashes
    OUT/results.gpkg        every input layer (in the project's metric CRS, with the columns analyses added)
                            and every result layer, with their QGIS styles
    OUT/tables/*.csv        tables (UTF-8 with BOM, so Excel shows Chinese text); tables/<analysis>.xlsx
    OUT/rasters/*.tif       grids (Cloud Optimized GeoTIFF)
    OUT/maps/<project>.html the meeting map (a copy goes to ``maps_dir`` when given)

The folder is written beside ``OUT`` and swapped in whole (:mod:`renewgeo.outputs`): a
killed run leaves the previous complete run, never a mix; a second run into the same
folder at the same time is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

# the analyses (area, land_release, raster, targets, walkability) register themselves on import, in dependency order
from renewgeo import area, land_release, outputs, qgis, raster, targets, walkability, webmap  # noqa: F401
from renewgeo import io as rio
from renewgeo._config import options
from renewgeo._errors import RenewgeoError
from renewgeo._validate import closest
from renewgeo._version import __version__
from renewgeo.analysis import REGISTRY, Analysis, Context, Result, RunResult, closure
from renewgeo.project import Project
from renewgeo.settings import Settings

__all__ = ["RunResult", "run_analyses", "run_project", "write_run"]

log = logging.getLogger(__name__)


def run_analyses(
    project: Project,
    names: Sequence[str] | None = None,
    *,
    settings: Settings | Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Run analyses (all registered ones by default) and what they need, in dependency order.

    Parameters
    ----------
    project : Project
    names : sequence of str, optional
        Analyses to run (``["area"]``); the analyses they require run first.
    settings : Settings or mapping, optional
        Settings to use instead of the project's, or ``{"section.key": value}``
        overrides on top of them.
    progress : bool, optional
        Show a progress bar (default :data:`renewgeo.options.progress`).

    Returns
    -------
    RunResult
        Analyses that do not apply to the project (no parcels for land release, no
        rasters ...) are in ``skipped`` with the reason.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["area"])
    >>> list(r.results), r.skipped
    (['area'], {})
    """
    wanted = list(REGISTRY) if names is None else list(names)
    for n in wanted:
        if n not in REGISTRY:
            s = closest(n, REGISTRY)
            raise RenewgeoError(f"no analysis {n!r}" + (f" (did you mean {s!r}?)" if s else "") + f"; analyses: {list(REGISTRY)}")
    overrides: dict[str, Any] = {}
    if settings is None:
        resolved = project.settings
    elif isinstance(settings, Settings):
        resolved = settings
    else:
        overrides = dict(settings)
        resolved = project.settings.override(overrides)
    run = RunResult(project=project, settings=resolved, overrides=overrides)
    order = closure(wanted)
    show = options.progress if progress is None else progress
    with tqdm(total=len(order), desc=f"renewgeo {project.name}", disable=not show, unit="step") as bar:
        for name in order:
            bar.set_postfix_str(name)
            _run_one(REGISTRY[name], run)
            bar.update()
    return run


def _run_one(a: Analysis, run: RunResult) -> None:
    why = a.applies(run.project)
    if why:
        run.skipped[a.name] = why
        log.info("%s skipped: %s", a.name, why)
        return
    upstream = {n: run.results[n] for n in closure([a.name]) if n in run.results}
    ctx = Context(run.project, run.settings, upstream)
    result = a.compute(ctx)
    _check(a, result, ctx, run)
    run.results[a.name] = result


def _check(a: Analysis, result: Result, ctx: Context, run: RunResult) -> None:
    """An analysis keeps its declaration: a programming error otherwise, not a user's."""
    undeclared = [n for n in result.layers if n not in a.layers]
    if undeclared:
        raise TypeError(f"analysis {a.name!r} returned layers {undeclared} it does not declare")
    for kind, cols in result.columns.items():
        if not cols.index.equals(ctx.layer(kind).index):
            raise TypeError(f"analysis {a.name!r}: its columns for {kind!r} are not indexed like ctx.layer({kind!r})")
    taken = {t for r in run.results.values() for t in r.tables}
    clash = taken & set(result.tables)
    if clash:
        raise TypeError(f"analysis {a.name!r} returned tables {sorted(clash)} that another analysis already returned")


# --------------------------------------------------------------------------- writing
def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._") or "project"


def _manifest(run: RunResult) -> dict[str, Any]:
    p = run.project
    return {
        "renewgeo_version": __version__,
        "project": {"name": p.name, "title": p.title, "root": str(p.root) if p.root else None,
                    "toml_sha256": hashlib.sha256(p.toml_text.encode()).hexdigest() if p.toml_text else None,
                    "layers": {n: {"kind": p.kinds[n], "features": len(g), "source": p.sources.get(n, "")} for n, g in p.layers.items()}},
        "settings": run.settings.to_dict(),
        "settings_sha256": run.settings.sha256(),
        "overrides": {k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in run.overrides.items()},
        "analyses": {name: {"layers": list(r.layers), "tables": list(r.tables), "grids": list(r.grids),
                            "columns": {k: list(map(str, c.columns)) for k, c in r.columns.items()}, "notes": r.notes}
                     for name, r in run.results.items()},
        "skipped": dict(run.skipped),
    }


def _workbooks(run: RunResult) -> dict[str, list[str]]:
    books: dict[str, list[str]] = {}
    for name, r in run.results.items():
        book = REGISTRY[name].workbook
        if book and r.tables:
            books.setdefault(book, []).extend(r.tables)
    return books


def write_run(run: RunResult, out_dir: str | Path, *, maps_dir: str | Path | None = None, wait_s: float = 0.0,
              progress: bool | None = None) -> dict[str, Path]:
    """Write a run into ``out_dir`` as one unit (see the module docstring); returns the files by key.

    Raises
    ------
    WriteError
        The folder cannot be written, is not a renewgeo output folder, or another run
        is writing it (``OutputBusyError``); the previous run, if any, is left intact.
    """
    project = run.project
    tables = {"layers": project.summary(), "validation": project.report.to_frame(), **run.tables}
    show = options.progress if progress is None else progress
    with outputs.open_output(Path(out_dir), wait_s=wait_s) as staging, \
            tqdm(total=4, desc=f"writing {project.name}", disable=not show, unit="step") as bar:
        base = staging.path
        files: dict[str, Path] = {}
        files["results"] = qgis.write_gpkg(run.output_layers(), base / "results.gpkg", kinds=run.kinds(),
                                           presentations=run.presentations())
        bar.update()
        for name, t in tables.items():
            files[f"table:{name}"] = rio.write_table(t, base / "tables" / f"{name}.csv")
        for book, names in _workbooks(run).items():
            files[f"workbook:{book}"] = rio.write_workbook({n: tables[n] for n in names}, base / "tables" / f"{book}.xlsx")
        bar.update()
        for name, grid in run.grids.items():
            files[f"raster:{name}"] = raster.write_cog(grid, base / "rasters" / f"{name}.tif")
        bar.update()
        files["map"] = webmap.save_map(webmap.meeting_map(project, run), base / "maps" / f"{_safe_name(project.name)}.html")
        bar.update()
        final = staging.commit(_manifest(run))
    out = {k: final / p.relative_to(base) for k, p in files.items()}
    out["manifest"] = final / "manifest.json"
    if maps_dir is not None:
        out["map_copy"] = outputs.copy_file_atomic(out["map"], Path(maps_dir) / out["map"].name)
    run.files = out
    log.info("run of %s written to %s", project.name, final)
    return out


def run_project(
    project: Project,
    out_dir: str | Path,
    *,
    analyses: Sequence[str] | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    maps_dir: str | Path | None = None,
    progress: bool | None = None,
    wait_s: float = 0.0,
) -> RunResult:
    """Run the analyses and write results, tables, rasters and the map into ``out_dir``.

    Parameters
    ----------
    project : Project
        A loaded project.
    out_dir : path-like
        Output folder: created, or replaced whole when it holds an earlier run.
    analyses : sequence of str, optional
        Only these analyses (and what they need); default all.
    settings : Settings or mapping, optional
        As for :func:`run_analyses`.
    maps_dir : path-like, optional
        Also copy the HTML map here.
    progress : bool, optional
        Show a progress bar (default :data:`renewgeo.options.progress`).
    wait_s : float
        How long to wait for another run writing the same folder before giving up.

    Returns
    -------
    RunResult
        With ``files`` filled in.
    """
    run = run_analyses(project, analyses, settings=settings, progress=progress)
    write_run(run, out_dir, maps_dir=maps_dir, wait_s=wait_s, progress=progress)
    return run


def previous_run(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of the complete run in ``out_dir``, or None (no folder, not complete, not ours)."""
    out = Path(out_dir)
    if not (out / "manifest.json").is_file() or outputs.verify(out):
        return None
    try:
        return outputs.read_manifest(out)
    except RenewgeoError:
        return None
