"""Runs: the registered analyses in dependency order, written to one output folder as a unit.

:func:`run_analyses` computes (no files); :func:`write_run` writes a :class:`RunResult`;
:func:`run_project` does both. The output folder::

    OUT/manifest.json       every file with its sha256, the renewgeo version, the project and settings hashes
    OUT/results.gpkg        every input layer (in the project's metric CRS, with the columns analyses added)
                            and every result layer, with their QGIS styles
    OUT/tables/*.csv        tables (UTF-8 with BOM, so Excel shows Chinese text); tables/<analysis>.xlsx
    OUT/rasters/*.tif       grids (Cloud Optimized GeoTIFF)
    OUT/figures/*.png       charts (renewgeo.plot.FIGURES: targets, life circles, release by year, area by use, scorecard)
    OUT/maps/<project>.html the meeting map (a copy goes to ``maps_dir`` when given)

The folder is written beside ``OUT`` and swapped in whole (:mod:`renewgeo.outputs`): a
killed run leaves the previous complete run, never a mix; a second run into the same
folder at the same time is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.std import tqdm as _console_tqdm

# the analyses (area, land_release, raster, targets, walkability, scorecard) register themselves on import, in dependency order
from renewgeo import area, compute, land_release, outputs, plot, qgis, raster, targets, walkability, webmap  # noqa: F401
from renewgeo import io as rio
from renewgeo import scorecard as _scorecard
from renewgeo._config import options
from renewgeo._errors import ProjectFileError, RenewgeoError, WriteError
from renewgeo._validate import closest, visible_text
from renewgeo._version import __version__
from renewgeo.analysis import REGISTRY, Analysis, Context, Result, RunResult, closure
from renewgeo.project import Project, network_fence
from renewgeo.settings import Settings

if importlib.util.find_spec("ipywidgets") is not None:  # notebook progress bars need ipywidgets ...
    from tqdm.auto import tqdm
else:  # ... without them tqdm.auto warns (TqdmWarning: IProgress not found) in Jupyter, then draws these anyway
    tqdm = _console_tqdm

__all__ = ["NAME_MAX_BYTES", "RESERVED_TABLES", "RunResult", "run_analyses", "run_project", "safe_name", "scorecard", "unique_file_names",
           "write_run"]

log = logging.getLogger(__name__)


def run_analyses(
    project: Project,
    names: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    reuse: RunResult | None = None,
    cache: dict[Any, Any] | None = None,
    engine: compute.Engine | None = None,
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
    reuse : RunResult, optional
        A run of the same project with other layers (a scenario's baseline): an analysis
        that declares what it reads (``Analysis.reads``) takes that run's result when
        nothing it reads, nothing upstream of it and none of the settings changed; it is
        listed in ``reused``.
    cache : dict, optional
        Shared by the runs of a scenario comparison: analyses keep costly intermediate
        products there (:meth:`renewgeo.analysis.Context.cached`).
    engine : renewgeo.compute.Engine, optional
        Compute on this dask cluster (the same results). Default: the engine of the run in
        progress, else the one ``[compute]`` names (a scheduler, or local workers, opened
        for this call), else in-process.

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
    with network_fence(project.allow_network), \
            compute.open_engine(resolved.get(compute.ComputeSettings), engine=engine or compute.active()) as eng, compute.using(eng), \
            tqdm(total=len(order), desc=f"renewgeo {visible_text(project.name)}", disable=not show, unit="step") as bar:
        for name in order:
            bar.set_postfix_str(name)
            _run_one(REGISTRY[name], run, reuse, {} if cache is None else cache)
            bar.update()
    return run


def _bounds(project: Project) -> tuple[float, ...]:
    """The bounds of every layer together (finite ones only)."""
    b = np.array([g.total_bounds for g in project.layers.values() if len(g)], dtype="float64").reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())) if len(b) else ()


def _unchanged(a: Analysis, run: RunResult, before: RunResult) -> bool:
    """Whether ``before``'s result of ``a`` holds for ``run``: nothing ``a`` reads, nothing upstream, no setting changed."""
    if a.reads is None or a.name not in before.results or run.settings.sha256() != before.settings.sha256():
        return False
    upstream = [n for n in closure([a.name], run.project) if n != a.name and n in run.results]
    if any(n not in run.reused for n in upstream):
        return False
    now, then = run.project, before.project
    for token in a.reads:
        if token == "rasters":
            same = now.rasters == then.rasters
        elif token == "extent":
            same = all(now.layers.get(n) is g for n, g in then.layers.items()) or _bounds(now) == _bounds(then)
        else:
            names = now.names_of(token)
            same = names == then.names_of(token) and all(now.layers[n] is then.layers[n] for n in names)
        if not same:
            return False
    return True


def _run_one(a: Analysis, run: RunResult, reuse: RunResult | None = None, cache: dict[Any, Any] | None = None) -> None:
    why = a.applies(run.project)
    if why:
        run.skipped[a.name] = why
        log.info("%s skipped: %s", a.name, why)
        return
    if reuse is not None and _unchanged(a, run, reuse):
        run.results[a.name] = reuse.results[a.name]
        run.reused.append(a.name)
        log.info("%s: the result of %s's run holds (nothing it reads changed)", a.name, reuse.project.name)
        return
    upstream = {n: run.results[n] for n in closure([a.name], run.project) if n in run.results}
    ctx = Context(run.project, run.settings, upstream, {} if cache is None else cache)
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
    mine = sorted(r for r in ctx.project.rasters if any(t.startswith(f"{r}_by_") for t in clash))
    if mine:  # a [rasters.NAME] of the project's own made the name
        raise ProjectFileError(f"[rasters.{mine[0]}]: its table {sorted(clash)[0]!r} has the name of a table another analysis writes; "
                               f"rename the raster, e.g. [rasters.{mine[0]}_raster]")
    if clash:
        raise TypeError(f"analysis {a.name!r} returned tables {sorted(clash)} that another analysis (or the run) already names")


# --------------------------------------------------------------------------- writing
RESERVED_TABLES = ("layers", "validation")  # every run writes these two: the project's layers and its validation report


_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


NAME_MAX_BYTES = 200  # longest file name renewgeo writes, in UTF-8 bytes with its suffix (file systems allow 255)


def _short_hash(name: str) -> str:
    """Eight hex digits that stand for ``name`` (stable from run to run)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _cut_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary."""
    return text.encode("utf-8", "surrogatepass")[:max(limit, 0)].decode("utf-8", "ignore")


def safe_name(name: str, *, fallback: str = "project", suffix: str = "", max_bytes: int = NAME_MAX_BYTES) -> str:
    """A file name from any name: letters (Chinese too), digits, ``.-_``; never a path, a hidden or device name.

    Parameters
    ----------
    name : str
        Any text (a project, table or raster name).
    fallback : str
        The name when nothing of ``name`` is left.
    suffix : str
        Appended after any cut and kept whole (``"_by_zone.csv"``).
    max_bytes : int
        The longest result in UTF-8 bytes, ``suffix`` included. A longer name is cut on
        a character boundary and gets ``-`` and eight hex digits of a hash of the whole
        name, so two long names that differ only at their ends stay two names.

    Examples
    --------
    >>> safe_name("../../etc/passwd"), safe_name("闯创驿 科创园"), safe_name(""), safe_name("con")
    ('etc_passwd', '闯创驿_科创园', 'project', 'con_')
    >>> long = safe_name("中" * 100, suffix=".html")
    >>> len(long.encode()) <= 200, long.endswith(".html"), long[-14:-5]
    (True, True, '-8cc3f6cb')
    """
    out = re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("._-")
    if not out:
        out = fallback
    elif out.split(".")[0].upper() in _WINDOWS_DEVICES:
        out = f"{out}_"
    room = max_bytes - len(suffix.encode("utf-8"))
    if len(out.encode("utf-8")) > room:
        out = f"{_cut_bytes(out, room - 9).rstrip('._-')}-{_short_hash(name)}"
    return out + suffix


def _table_file(name: str, ext: str) -> str:
    """The file name of table ``name``: its ``_by_<column>`` ending is kept when a long name is cut."""
    m = re.fullmatch(r"(.+?)(_by_[A-Za-z0-9_]{1,40})", name)
    head, tail = (m.group(1), m.group(2)) if m else (name, "")
    return safe_name(head, fallback="table", suffix=tail + ext) if tail else safe_name(name, fallback="table", suffix=ext)


def unique_file_names(wanted: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """File names for one folder, all different also where case is not (Windows, macOS, USB sticks).

    Parameters
    ----------
    wanted : mapping of str to str
        Name (of a table, a grid ...) -> the file name it would get, in writing order.

    Returns
    -------
    names : dict of str to str
        Name -> the file name it gets: a later name whose file name is taken gets
        ``-`` and eight hex digits of a hash of the name itself before the extension
        (the same on every run).
    notes : list of str
        One per renamed file, naming both names.

    Examples
    --------
    >>> unique_file_names({"a b": "a_b.csv", "a_b": "a_b.csv"})
    ({'a b': 'a_b.csv', 'a_b': 'a_b-648fa9b3.csv'}, ["'a b' and 'a_b' both make the file name a_b.csv; 'a_b' is written to a_b-648fa9b3.csv"])
    """
    taken: dict[str, str] = {}  # casefolded file name -> the name that has it
    out: dict[str, str] = {}
    notes: list[str] = []
    for name, file in wanted.items():
        final = file
        if final.casefold() in taken:
            stem, dot, ext = file.rpartition(".") if "." in file else (file, "", "")
            stem = _cut_bytes(stem, NAME_MAX_BYTES - len(dot + ext) - 9)
            final = f"{stem}-{_short_hash(name)}{dot}{ext}"
            n = 2
            while final.casefold() in taken:  # two names with one hash: not seen in practice
                final, n = f"{stem}-{_short_hash(name)}-{n}{dot}{ext}", n + 1
            notes.append(f"{taken[file.casefold()]!r} and {name!r} both make the file name {file}; {name!r} is written to {final}")
        taken[final.casefold()] = name
        out[name] = final
    return out, notes


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


def _file_names(run: RunResult, tables: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """The file name of every table, workbook and grid (keys as in ``files``), unique per folder, and notes on renamed ones."""
    folders: dict[str, dict[str, str]] = {"tables": {}, "rasters": {}}
    for name in tables:  # table names can hold a project's own words ([rasters.NAME] tables)
        folders["tables"][f"table:{name}"] = _table_file(name, ".csv")
    for book in _workbooks(run):
        folders["tables"][f"workbook:{book}"] = safe_name(book, suffix=".xlsx")
    for name in run.grids:
        folders["rasters"][f"raster:{name}"] = safe_name(name, fallback="raster", suffix=".tif")
    names: dict[str, str] = {}
    notes: list[str] = []
    for folder, wanted in folders.items():
        got, msgs = unique_file_names(wanted)
        names.update({k: f"{folder}/{v}" for k, v in got.items()})
        notes.extend(re.sub(r"'(table|workbook|raster):", r"\1 '", m).replace("file name ", f"file name {folder}/")
                     .replace("written to ", f"written to {folder}/") for m in msgs)
    return names, notes


def _write_into(run: RunResult, base: Path, show: bool, say: Callable[[str], None] = log.warning) -> tuple[dict[str, Path], list[str]]:
    """Every file of a run under ``base`` (a staging folder); returns them by key, and a note per file renamed to stay apart."""
    project = run.project
    tables = {"layers": project.summary(), "validation": project.report.to_frame(), **run.tables}
    names, notes = _file_names(run, tables)
    for n in notes:
        say(n)
    files: dict[str, Path] = {}
    with tqdm(total=4, desc=f"writing {visible_text(project.name)}", disable=not show, unit="step") as bar:
        files["results"] = qgis.write_gpkg(run.output_layers(), base / "results.gpkg", kinds=run.kinds(),
                                           presentations=run.presentations(), lang=run.settings.get(webmap.MapSettings).lang)
        bar.update()
        for name, t in tables.items():
            files[f"table:{name}"] = rio.write_table(t, base / names[f"table:{name}"])
        for book, tnames in _workbooks(run).items():
            files[f"workbook:{book}"] = rio.write_workbook({n: tables[n] for n in tnames}, base / names[f"workbook:{book}"])
        bar.update()
        for name, grid in run.grids.items():
            files[f"raster:{name}"] = raster.write_cog(grid, base / names[f"raster:{name}"])
        for name, png in plot.run_figures(run.tables, lang=run.settings.get(webmap.MapSettings).lang).items():
            path = base / "figures" / f"{name}.png"  # names from plot.FIGURES: fixed, safe
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(png)
            files[f"figure:{name}"] = path
        bar.update()
        files["map"] = webmap.save_map(webmap.meeting_map(project, run), base / "maps" / safe_name(project.name, suffix=".html"))
        bar.update()
    return files, notes


def _commit(run: RunResult, staging: outputs.Staging, maps_dir: str | Path | None, show: bool,
            say: Callable[[str], None] = log.warning) -> dict[str, Path]:
    """Write the run into the staging folder, commit it, copy the map (all with the lock held)."""
    base = staging.path
    try:
        files, renamed = _write_into(run, base, show, say)
        final = staging.commit({**_manifest(run), "renamed_files": renamed})
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
    workers: int | None = None,
    scheduler: str | None = None,
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
    workers : int, optional
        Compute on a local dask cluster of this many worker processes (``--workers``).
    scheduler : str, optional
        Compute on the running dask cluster at this address (``--scheduler``). Without
        either, ``[compute]`` decides; by default everything runs in this process.

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
        with compute.open_engine(workers=workers, scheduler=scheduler) as eng:
            run = run_analyses(project, names, overrides=overrides, progress=show, engine=eng)
        _commit(run, staging, maps_dir, show, say)
    return run


def scorecard(project: Project, stage: str | None = None) -> _scorecard.ScorecardResult:
    """Compute a project's Green FTZ scorecard (the ``scorecard`` analysis and what it needs).

    Parameters
    ----------
    project : Project
    stage : str, optional
        One of :data:`renewgeo.scorecard.STAGE_IDS`; default ``[scorecard] stage`` (unset: all seven).

    Returns
    -------
    renewgeo.scorecard.ScorecardResult

    Examples
    --------
    >>> import renewgeo as rg
    >>> sc = rg.scorecard(rg.load_project(rg.datasets.get_path("chuangchuangyi")), stage="completion")
    >>> list(sc.stages["stage"]), set(sc.table["status"]) <= {"pass", "fail", "unavailable", "not_applicable"}
    (['completion'], True)
    """
    run = run_analyses(project, ["scorecard"], overrides={"scorecard.stage": stage} if stage is not None else None)
    if "scorecard" not in run.results:
        raise RenewgeoError(f"no scorecard for project {project.name!r}: {run.skipped.get('scorecard', 'not run')}")
    r = run.results["scorecard"]
    return _scorecard.ScorecardResult(project.name, r.tables["scorecard"], r.tables["scorecard_stages"], list(run.notes))


def compare_projects(projects: Sequence[Project], out_dir: str | Path, *, stage: str | None = None, wait_s: float = 0.0,
                     progress: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Path]]:
    """The scorecards of several projects side by side, written into ``out_dir`` as one unit.

    Writes ``tables/compare.csv`` (one row per indicator, one column per project with its
    whole-project value; with ``stage``, also each project's status there),
    ``tables/compare_stages.csv`` (each stage's result per project), ``tables/compare.xlsx``
    and ``manifest.json``, like a run (staged, locked, swapped in whole).

    Returns
    -------
    (values, stages, files)
        The two tables (:func:`renewgeo.scorecard.compare`) and the files written.

    Raises
    ------
    RenewgeoError
        Fewer than two projects, or a project the scorecard does not apply to.
    """
    if len(projects) < 2:
        raise RenewgeoError(f"compare needs at least two projects, got {len(projects)}")
    show = options.progress if progress is None else progress
    cards = []
    for p in projects:
        run = run_analyses(p, ["scorecard"], overrides={"scorecard.stage": stage} if stage else None, progress=show)
        if "scorecard" not in run.results:
            raise RenewgeoError(f"project {p.name!r} ({p.root}): no scorecard: {run.skipped.get('scorecard', 'not run')}")
        r = run.results["scorecard"]
        cards.append(_scorecard.ScorecardResult(p.name, r.tables["scorecard"], r.tables["scorecard_stages"], list(run.notes)))
    values, stages = _scorecard.compare(cards, stage=stage)
    with outputs.open_output(Path(out_dir), wait_s=wait_s) as staging:
        base = staging.path
        files = {"table:compare": rio.write_table(values, base / "tables" / "compare.csv"),
                 "table:compare_stages": rio.write_table(stages, base / "tables" / "compare_stages.csv"),
                 "workbook:compare": rio.write_workbook({"compare": values, "compare_stages": stages}, base / "tables" / "compare.xlsx")}
        manifest = {"renewgeo_version": __version__, "compare": {
            "stage": stage,
            "projects": [{"name": p.name, "title": p.title, "root": str(p.root) if p.root else None, "toml_sha256": p.toml_sha256,
                          "settings_sha256": p.settings.sha256()} for p in projects]}}
        final = staging.commit(manifest)
    out = {k: final / v.relative_to(base) for k, v in files.items()}
    out["manifest"] = final / "manifest.json"
    return values, stages, out
