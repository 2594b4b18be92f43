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

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

# the analyses (area, land_release, raster, targets, walkability) register themselves on import, in dependency order
from renewgeo import area, land_release, outputs, qgis, raster, targets, walkability, webmap  # noqa: F401
from renewgeo import io as rio
from renewgeo._config import options
from renewgeo._errors import RenewgeoError, WriteError
from renewgeo._validate import closest
from renewgeo._version import __version__
from renewgeo.analysis import REGISTRY, Analysis, Context, Result, RunResult, closure
from renewgeo.project import Project
from renewgeo.settings import Settings

__all__ = ["RESERVED_TABLES", "RunResult", "run_analyses", "run_project", "safe_name", "write_run"]

log = logging.getLogger(__name__)


def run_analyses(
    project: Project,
    names: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Run analyses (all registered ones by default) and what they need, in dependency order.

    Parameters
    ----------
    project : Project
    names : sequence of str, optional
        Analyses to run (``["area"]``); the analyses they need run first.
    settings : Settings, optional
        Settings to use instead of the project's.
    overrides : mapping, optional
        ``{"section.key": value}`` on top of them, checked as in project.toml.
    progress : bool, optional
        Show a progress bar (default :data:`renewgeo.options.progress`).

    Returns
    -------
    RunResult
        Analyses that do not apply to the project (no parcels for land release, no
        rasters ...) are in ``skipped`` with the reason.

    Raises
    ------
    RenewgeoError
        An unknown analysis name; ``ProjectFileError`` for bad overrides.

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
    resolved = project.settings if settings is None else settings
    if overrides:
        resolved = resolved.override(overrides, layers=project.kinds, vocabulary=project.vocabulary)
    run = RunResult(project=project, settings=resolved, overrides={**project.overrides, **(overrides or {})})
    order = closure(wanted, project)
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
    upstream = {n: run.results[n] for n in closure([a.name], run.project) if n in run.results}
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
        if not cols.index.equals(ctx.project.layer(kind).index):
            raise TypeError(f"analysis {a.name!r}: its columns for {kind!r} are not indexed like ctx.layer({kind!r})")
    taken = {t for r in run.results.values() for t in r.tables} | set(RESERVED_TABLES)
    clash = taken & set(result.tables)
    if clash:
        raise TypeError(f"analysis {a.name!r} returned tables {sorted(clash)} that another analysis (or the run) already names")


# --------------------------------------------------------------------------- writing
RESERVED_TABLES = ("layers", "validation")  # every run writes these two: the project's layers and its validation report


_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_name(name: str, *, fallback: str = "project") -> str:
    """A file name from any name: letters (Chinese too), digits, ``.-_``; never a path, a hidden or device name.

    Examples
    --------
    >>> safe_name("../../etc/passwd"), safe_name("闯创驿 科创园"), safe_name(""), safe_name("con")
    ('etc_passwd', '闯创驿_科创园', 'project', 'con_')
    """
    out = re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._-")[:100].strip("._-")
    if not out:
        return fallback
    return f"{out}_" if out.split(".")[0].upper() in _WINDOWS_DEVICES else out


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def _manifest(run: RunResult) -> dict[str, Any]:
    p = run.project
    return {
        "renewgeo_version": __version__,
        "project": {"name": p.name, "title": p.title, "root": str(p.root) if p.root else None, "toml_sha256": p.toml_sha256,
                    "layers": {n: {"kind": p.kinds[n], "features": len(g), "source": p.sources.get(n, "")} for n, g in p.layers.items()},
                    "outside_project": [f"{w.layer}: {w.message}" for w in p.report.warnings if w.code == "outside_project"]},
        "settings": run.settings.to_dict(),
        "settings_sha256": run.settings.sha256(),
        "overrides": _jsonable(run.overrides),
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


def _write_into(run: RunResult, base: Path, show: bool) -> dict[str, Path]:
    """Every file of a run under ``base`` (a staging folder); returns them by key."""
    project = run.project
    tables = {"layers": project.summary(), "validation": project.report.to_frame(), **run.tables}
    files: dict[str, Path] = {}
    with tqdm(total=4, desc=f"writing {project.name}", disable=not show, unit="step") as bar:
        files["results"] = qgis.write_gpkg(run.output_layers(), base / "results.gpkg", kinds=run.kinds(),
                                           presentations=run.presentations())
        bar.update()
        for name, t in tables.items():  # table names can hold a project's own words ([rasters.NAME] tables)
            files[f"table:{name}"] = rio.write_table(t, base / "tables" / f"{safe_name(name, fallback='table')}.csv")
        for book, names in _workbooks(run).items():
            files[f"workbook:{book}"] = rio.write_workbook({n: tables[n] for n in names}, base / "tables" / f"{safe_name(book)}.xlsx")
        bar.update()
        for name, grid in run.grids.items():
            files[f"raster:{name}"] = raster.write_cog(grid, base / "rasters" / f"{safe_name(name, fallback='raster')}.tif")
        bar.update()
        files["map"] = webmap.save_map(webmap.meeting_map(project, run), base / "maps" / f"{safe_name(project.name)}.html")
        bar.update()
    return files


def _commit(run: RunResult, staging: outputs.Staging, maps_dir: str | Path | None, show: bool) -> dict[str, Path]:
    """Write the run into the staging folder, commit it, copy the map (all with the lock held)."""
    base = staging.path
    try:
        files = _write_into(run, base, show)
        final = staging.commit(_manifest(run))
        out = {k: final / p.relative_to(base) for k, p in files.items()}
        out["manifest"] = final / "manifest.json"
        if maps_dir is not None:
            out["map_copy"] = outputs.copy_file_atomic(out["map"], Path(maps_dir) / out["map"].name)
    except OSError as exc:  # a full disk, a folder removed under us ...
        raise WriteError(f"{staging.out_dir}: writing the run failed ({exc}); the previous run, if any, is as it was.") from None
    run.files = out
    log.info("run of %s written to %s", run.project.name, final)
    return out


def write_run(run: RunResult, out_dir: str | Path, *, maps_dir: str | Path | None = None, wait_s: float = 0.0,
              progress: bool | None = None) -> dict[str, Path]:
    """Write a run into ``out_dir`` as one unit (see the module docstring); returns the files by key.

    Raises
    ------
    WriteError
        The folder cannot be written, is not a renewgeo output folder (or holds files
        of the user's besides a run), or another run is writing it (``OutputBusyError``);
        the previous run, if any, is left intact.
    """
    show = options.progress if progress is None else progress
    with outputs.open_output(Path(out_dir), wait_s=wait_s) as staging:
        return _commit(run, staging, maps_dir, show)


def _with_previous(project: Project, names: list[str] | None, staging: outputs.Staging, keep: bool) -> tuple[list[str] | None, list[str]]:
    """The analyses to run given the run ``out_dir`` holds, and what to tell the user about it."""
    prev = staging.previous
    if prev is None:
        return names, []
    out, before = staging.out_dir, prev.get("project", {}).get("name")
    if before != project.name:
        return names, [f"{out} held a run of project {before!r}; it is replaced by this run of {project.name!r}"]
    msgs = []
    dropped = {k: v for k, v in prev.get("overrides", {}).items() if project.overrides.get(k) != v}
    if dropped:
        msgs.append(f"the earlier run in {out} used --set {', '.join(f'{k}={v}' for k, v in dropped.items())}; this run uses "
                    "project.toml and this command's options only (repeat --set to keep them)")
    if not keep or names is None:
        return names, msgs
    extra = [n for n in prev.get("analyses", {}) if n in REGISTRY and n not in closure(names, project)]
    if extra:
        msgs.append(f"{out} holds {', '.join(extra)} from an earlier run; recomputing them so that the folder stays one "
                    "consistent run (choose another --out for this analysis alone)")
    return [*names, *extra], msgs


def run_project(
    project: Project,
    out_dir: str | Path,
    *,
    analyses: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    keep_other_analyses: bool = False,
    maps_dir: str | Path | None = None,
    progress: bool | None = None,
    wait_s: float = 0.0,
    notify: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the analyses and write results, tables, rasters and the map into ``out_dir``, under one lock.

    Parameters
    ----------
    project : Project
        A loaded project.
    out_dir : path-like
        Output folder: created, or replaced whole when it holds an earlier run.
    analyses : sequence of str, optional
        Only these analyses (and what they need); default all.
    overrides : mapping, optional
        ``{"section.key": value}`` on top of the project's settings.
    keep_other_analyses : bool
        With ``analyses``: also recompute the other analyses the run in ``out_dir`` held
        (same project), so that the folder stays one consistent run (``renewgeo area``).
    maps_dir : path-like, optional
        Also copy the HTML map here.
    progress : bool, optional
        Show a progress bar (default :data:`renewgeo.options.progress`).
    wait_s : float
        How long to wait for another run writing the same folder before giving up.
    notify : callable, optional
        Receives what the user should know about the folder (default: the log).

    Returns
    -------
    RunResult
        With ``files`` filled in.

    Raises
    ------
    WriteError
        As for :func:`write_run`; raised before any computation when the folder is busy
        or cannot be written.
    """
    show = options.progress if progress is None else progress
    say = notify or log.warning
    with outputs.open_output(Path(out_dir), wait_s=wait_s) as staging:
        names, msgs = _with_previous(project, None if analyses is None else list(analyses), staging, keep_other_analyses)
        for m in msgs:
            say(m)
        run = run_analyses(project, names, overrides=overrides, progress=show)
        _commit(run, staging, maps_dir, show)
    return run
