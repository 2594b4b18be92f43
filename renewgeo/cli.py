"""The ``renewgeo`` command line.

Commands
--------
``renewgeo demo``                 run the bundled Chuangchuangyi sample end to end
``renewgeo run PROJECT``          run every analysis and write results, tables, rasters and the map
``renewgeo <analysis> PROJECT``   one analysis and what it needs (one command per registered
                                  analysis: ``raster``, ``area``, ``release``, ``walk``, ``targets``)
``renewgeo compare P1 P2 ...``    the scorecards of several projects side by side
``renewgeo validate PROJECT``     print the validation report (exit 2 on errors)
``renewgeo settings [PROJECT]``   every setting with its value, default and meaning
``renewgeo info FILE``            layers, CRS, counts, bounds and columns of a file
``renewgeo benchmark FILE --measure COL[,COL]``  share of land and of each measure, location quotient,
                                  density and Gini per district (tables/benchmark.csv, figures/benchmark_*.png)

``--set SECTION.KEY=VALUE`` (any command that loads a project) overrides a setting of
project.toml, checked the same way. Exit codes: 0 ok, 2 invalid input (project file,
layers, CRS, settings), 1 any other failure (a folder that cannot be written, another
run writing the same folder).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from renewgeo import datasets, districts, outputs
from renewgeo import io as rio
from renewgeo._config import options
from renewgeo._errors import CRSError, ProjectFileError, ReadError, RenewgeoError, SchemaError, ValidationError, WriteError
from renewgeo._validate import visible_text as _visible
from renewgeo._version import __version__
from renewgeo.analysis import REGISTRY, Analysis
from renewgeo.pipeline import compare_projects, run_project, safe_name
from renewgeo.project import Project, load_project, validate_project
from renewgeo.scorecard import STAGE_IDS
from renewgeo.settings import SECTIONS, Settings, describe, toml_value

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


# ------------------------------------------------------------------------- printing
def _echo(*parts: object, file: Any = None, sep: str = " ") -> None:
    """``print`` for everything the command line shows: every string goes through :func:`_visible`."""
    print(_visible(sep.join(str(p) for p in parts)), file=file if file is not None else sys.stdout)


class _VisibleFormatter(logging.Formatter):
    """Log lines with control characters escaped (messages repeat names from project folders)."""

    def format(self, record: logging.LogRecord) -> str:
        return _visible(super().format(record))


# ------------------------------------------------------------------------- options
def _value(text: str) -> Any:
    """A ``--set`` value: TOML (numbers, true/false, [lists], quoted text); ``300,500`` is a list; else the text itself."""
    for candidate in (text, f"[{text}]" if "," in text else None):
        if candidate is None:
            continue
        try:
            return tomllib.loads(f"v = {candidate}")["v"]
        except tomllib.TOMLDecodeError:
            continue
    return [t.strip() for t in text.split(",")] if "," in text else text


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in getattr(args, "set", None) or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise ProjectFileError(f"--set {item!r}: write --set SECTION.KEY=VALUE, e.g. --set walk.speed_m_s=1.2")
        out[key.strip()] = _value(text.strip())
    for flag, key in _flags_of(args).items():
        v = getattr(args, flag.replace("-", "_"), None)
        if v is not None:
            out[key] = v
    return out


def _flags_of(args: argparse.Namespace) -> dict[str, str]:
    a = REGISTRY.get(getattr(args, "command", ""))
    return dict(a.cli_flags) if a else {}


def _load(args: argparse.Namespace, path: Path) -> Project:
    project = load_project(path, repair=args.repair, overrides=_overrides(args))
    if project.report.warnings and not args.quiet:
        _echo(project.report.format(severity="warning"), file=sys.stderr)
    return project


def _out(args: argparse.Namespace, project: Project) -> Path:
    return Path(args.out) if args.out else Path("renewgeo-output") / safe_name(project.name)


def _say(args: argparse.Namespace) -> Any:
    def say(message: str) -> None:
        if not args.quiet:
            _echo(f"renewgeo: {message}", file=sys.stderr)
    return say


def _maps_dir(args: argparse.Namespace) -> Path | None:
    """The --maps-dir folder, made now: a folder that cannot be made fails before the long work, not after."""
    if not getattr(args, "maps_dir", None):
        return None
    folder = Path(args.maps_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"--maps-dir {folder}: cannot create the folder ({exc}); choose another --maps-dir.") from None
    return folder


def _print_files(project_name: str, files: dict[str, Path]) -> None:
    _echo(f"renewgeo: {project_name} done")
    for key, path in files.items():
        _echo(f"  {key:<24} {path}")


def _print_notes(notes: list[str]) -> None:
    if notes:
        _echo("notes:")
        for n in notes:
            _echo(f"  - {n}")


# ------------------------------------------------------------------------- commands
def _cmd_run(args: argparse.Namespace, project_path: Path) -> int:
    project = _load(args, project_path)
    run = run_project(project, _out(args, project), maps_dir=_maps_dir(args), wait_s=args.wait, progress=not args.quiet,
                      notify=_say(args), workers=getattr(args, "workers", None), scheduler=getattr(args, "scheduler", None))
    _print_notes(run.notes)
    _print_files(project.name, run.files)
    return EXIT_OK


def _cmd_analysis(args: argparse.Namespace, analysis: Analysis) -> int:
    project = _load(args, Path(args.project))
    why = analysis.applies(project)
    if why:
        _echo(f"renewgeo: {analysis.name} does not apply to project {project.name!r}: {why}", file=sys.stderr)
        return EXIT_INVALID
    asked = [analysis.name, *analysis.includes]
    run = run_project(project, _out(args, project), analyses=asked, keep_other_analyses=True, maps_dir=_maps_dir(args),
                      wait_s=args.wait, progress=not args.quiet, notify=_say(args))
    for name in asked:
        a = REGISTRY[name]
        if name in run.results and a.report is not None:
            _echo(f"{project.title}: {name}")
            _echo(a.report(run.results[name]))
    _print_notes(run.notes)
    _print_files(project.name, run.files)
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    if len(args.projects) < 2:
        raise ProjectFileError(f"compare needs two or more project folders, got {len(args.projects)}: "
                               "renewgeo compare PROJECT1 PROJECT2 [...]")
    projects = [_load(args, Path(p)) for p in args.projects]
    out = Path(args.out) if args.out else Path("renewgeo-output") / "compare"
    _values, stages, files = compare_projects(projects, out, stage=args.stage, wait_s=args.wait, progress=not args.quiet)
    _echo("approval stages (pass / fail) by project:")
    with pd.option_context("display.width", 220, "display.max_columns", 50):
        _echo(stages.to_string(index=False))
    _print_files("compare", files)
    return EXIT_OK


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from renewgeo.scenarios import run_scenarios, write_scenarios

    project = _load(args, Path(args.project))
    sr = run_scenarios(project, args.scenario, progress=not args.quiet)
    out = Path(args.out) if args.out else Path("renewgeo-output") / safe_name(project.name, suffix="_scenarios")
    files = write_scenarios(sr, out, maps_dir=_maps_dir(args), wait_s=args.wait, notify=_say(args))
    key = sr.delta[sr.delta["group"].isin(["area", "programme", "walk", "release", "targets"]) & (sr.delta["delta"].abs() > 1e-9)]
    _echo(f"{project.title}: what each scenario changes against the baseline")
    with pd.option_context("display.width", 220, "display.max_rows", 400, "display.max_colwidth", 48):
        _echo(key[["scenario", "name_en", "unit", "baseline", "value", "delta"]].round(2).to_string(index=False) if len(key)
              else "  (no indicator changes)")
    for sid, run in sr.runs.items():
        if run.reused:
            _echo(f"  {sid}: reused the baseline's {', '.join(run.reused)} (nothing they read changed)")
    _print_files(f"{project.name} scenarios", files)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    report = validate_project(args.project, repair=args.repair, overrides=_overrides(args))
    _echo(report.format())
    return EXIT_OK if report.ok else EXIT_INVALID


def _cmd_settings(args: argparse.Namespace) -> int:
    settings = _load(args, Path(args.project)).settings if args.project else Settings.defaults()
    table = describe(settings)
    with pd.option_context("display.max_colwidth", 70, "display.width", 220, "display.max_rows", 500):
        for name, rows in table.groupby("section", sort=False):
            _echo(f"[{name}]    # {SECTIONS[str(name)].title}")
            for r in rows.to_dict("records"):
                mark = "*" if r["changed"] else " "
                was = f"; was {r['replaces']}" if r["replaces"] else ""
                default = f" (default {toml_value(r['default'])})" if r["changed"] else ""
                _echo(f" {mark} {r['key']} = {toml_value(r['value'])}    # {r['doc']}{default}{was}")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    table = rio.info(args.file)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        for row in table.to_dict("records"):
            n = int(row["features"])
            _echo(f"layer {row['layer']}: {row['geometry_type']}, {n:,} {'feature' if n == 1 else 'features'}, CRS {row['crs'] or '-'}")
            _echo(f"  bounds  {row['bounds']}")
            _echo(f"  columns {row['columns']}")
    return EXIT_OK


def _write_benchmark(result: districts.BenchmarkResult, out: Path, *, manifest: dict[str, Any], lang: Any,
                     wait_s: float) -> dict[str, Path]:
    """The benchmark's tables and charts, written into ``out`` as one unit (staged, locked, swapped in whole)."""
    from renewgeo.plot import figure_png

    with outputs.open_output(out, wait_s=wait_s) as staging:
        base = staging.path
        files = {"table:benchmark": rio.write_table(result.table, base / "tables" / "benchmark.csv"),
                 "table:benchmark_concentration": rio.write_table(result.concentration, base / "tables" / "benchmark_concentration.csv"),
                 "table:benchmark_lorenz": rio.write_table(result.lorenz, base / "tables" / "benchmark_lorenz.csv")}
        (base / "figures").mkdir()
        for name, draw in (("benchmark_lorenz", districts.lorenz_chart), ("benchmark_lq", districts.lq_chart)):
            path = base / "figures" / f"{name}.png"  # fixed names
            path.write_bytes(figure_png(draw(result, lang=lang)))
            files[f"figure:{name}"] = path
        final = staging.commit({"renewgeo_version": __version__, "benchmark": manifest})
    done = {k: final / v.relative_to(base) for k, v in files.items()}
    done["manifest"] = final / "manifest.json"
    return done


def _cmd_benchmark(args: argparse.Namespace) -> int:
    measures = [m.strip() for item in args.measure for m in item.split(",") if m.strip()]
    source = Path(args.file)
    label = args.layer or source.name
    gdf = districts.read_districts(source, layer=args.layer, coords=args.coords)
    try:
        result = districts.benchmark(gdf, measures=measures, name=args.name, by=args.by, layer=label)
    except SchemaError as exc:  # bad input: exit 2, like a project's validation errors
        _echo(f"renewgeo: {exc}", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else Path("renewgeo-output") / safe_name(f"{source.stem}_benchmark", fallback="benchmark")
    manifest = {"file": str(source), "layer": args.layer, "measures": list(result.measures), "by": args.by, "name": args.name,
                "coords": args.coords, "crs": gdf.crs.to_string(), "notes": list(result.notes)}
    files = _write_benchmark(result, out, manifest=manifest, lang=args.lang, wait_s=args.wait)
    _echo(f"{source.name}{f' ({args.layer})' if args.layer else ''}: {len(gdf)} districts, areas in {gdf.crs.to_string()}")
    _echo(districts.format_benchmark(result))
    _print_files("benchmark", files)
    return EXIT_OK


# ------------------------------------------------------------------------- parser
def _common(sp: argparse.ArgumentParser, *, writes: bool = True) -> None:
    sp.add_argument("--repair", action="store_true", default=None, help="repair invalid geometries (shapely.make_valid)")
    sp.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                    help="override a setting of project.toml, e.g. --set walk.speed_m_s=1.2 (repeatable)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar, no warnings")
    if writes:
        sp.add_argument("--out", help="output folder (default renewgeo-output/<project>); replaced whole by each run")
        sp.add_argument("--maps-dir", help="also copy the HTML map into this folder")
        sp.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for another run writing the same folder (default: refuse at once)")


def _flag_help(key: str) -> tuple[Any, str]:
    sec, _, name = key.partition(".")
    f = next(f for f in fields(SECTIONS[sec]) if f.name == name)
    spec = f.metadata.get("renewgeo")
    return (float if f.type in ("float", float) else str), f"sets [{sec}] {name}: {getattr(spec, 'doc', '')}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="renewgeo", description="GIS answers for urban-renewal planning.")
    p.add_argument("--version", action="version", version=f"renewgeo {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)
    _common(sub.add_parser("demo", help="run the bundled Chuangchuangyi sample end to end"))
    r = sub.add_parser("run", help="run every analysis of a project")
    r.add_argument("project", help="project folder (with project.toml)")
    _common(r)
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="compute on a local dask cluster of N worker processes (pip install \"renewgeo[dask]\"); "
                        "default [compute] workers, else in-process")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="compute on the running dask cluster at ADDRESS (tcp://host:8786); default [compute] scheduler")
    for a in REGISTRY.values():
        sp = sub.add_parser(a.name, help=a.help)
        sp.add_argument("project", help="project folder (with project.toml)")
        _common(sp)
        for flag, key in a.cli_flags.items():
            tp, help_ = _flag_help(key)
            sp.add_argument(f"--{flag}", type=tp, default=None, help=help_)
    c = sub.add_parser("compare", help="the scorecards of several projects side by side (tables/compare.csv)")
    c.add_argument("projects", nargs="+", metavar="PROJECT", help="two or more project folders")
    c.add_argument("--stage", choices=STAGE_IDS, default=None, help="also compare each indicator's status at this approval stage")
    _common(c, writes=False)
    c.add_argument("--out", help="output folder (default renewgeo-output/compare); replaced whole by each comparison")
    c.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another run writing the same folder (default: refuse at once)")
    sc = sub.add_parser("scenarios", help="the baseline and each [[scenarios]] plan of a project, compared "
                                          "(tables/scenario_delta.csv, difference layers, a map with a scenario switch)")
    sc.add_argument("project", help="project folder (with project.toml and [[scenarios]])")
    sc.add_argument("--scenario", action="append", default=None, metavar="ID", help="only this scenario (repeat for several)")
    _common(sc)
    v = sub.add_parser("validate", help="validate a project; exit 2 on errors")
    v.add_argument("project")
    _common(v, writes=False)
    s = sub.add_parser("settings", help="every setting with its value, default and meaning")
    s.add_argument("project", nargs="?", help="a project folder: show its values (default: the defaults)")
    _common(s, writes=False)
    i = sub.add_parser("info", help="describe the layers of a file")
    i.add_argument("file")
    b = sub.add_parser("benchmark", help="share of land, share of each measure, location quotient, density and Gini per district")
    b.add_argument("file", help="a layer of district polygons (GeoPackage, GeoJSON, Shapefile ...)")
    b.add_argument("--measure", action="append", required=True, metavar="COL[,COL]",
                   help="columns of counts or amounts (or COL_share_pct: published shares in percent); repeatable")
    b.add_argument("--layer", help="the layer, in a file that holds several")
    b.add_argument("--by", metavar="COL", help="a column (the city) that splits the districts into groups benchmarked apart")
    b.add_argument("--name", metavar="COL", help="the column that names each district (default: name, district or name_zh)")
    b.add_argument("--coords", choices=("wgs84", "gcj02"), default="wgs84",
                   help="gcj02: the coordinates are GCJ-02 (AMap/Gaode, Tencent), converted to WGS 84 first")
    b.add_argument("--lang", choices=("zh", "en", "zh+en"), default="zh+en", help="language of the charts")
    b.add_argument("--quiet", action="store_true", help="no warnings")
    b.add_argument("--out", help="output folder (default renewgeo-output/<file>_benchmark); replaced whole by each run")
    b.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another run writing the same folder (default: refuse at once)")
    return p


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _cmd_run(args, datasets.get_path("chuangchuangyi"))
    if args.command == "run":
        return _cmd_run(args, Path(args.project))
    if args.command in REGISTRY:
        return _cmd_analysis(args, REGISTRY[args.command])
    if args.command == "compare":
        return _cmd_compare(args)
    if args.command == "scenarios":
        return _cmd_scenarios(args)
    if args.command == "validate":
        return _cmd_validate(args)
    if args.command == "settings":
        return _cmd_settings(args)
    if args.command == "benchmark":
        return _cmd_benchmark(args)
    return _cmd_info(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``renewgeo`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    quiet = getattr(args, "quiet", False)
    level = logging.INFO if args.verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler()
    handler.setFormatter(_VisibleFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    if not args.verbose:  # the commands print the validation report themselves
        logging.getLogger("renewgeo.project").setLevel(logging.ERROR)
    if quiet:
        options.progress = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecations are in the validation report the command prints
            return _dispatch(args)
    except ValidationError as exc:
        _echo(f"renewgeo: the project has errors\n{exc.report.format()}", file=sys.stderr)
        return EXIT_INVALID
    except (ProjectFileError, ReadError, CRSError) as exc:
        _echo(f"renewgeo: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except RenewgeoError as exc:
        _echo(f"renewgeo: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except BrokenPipeError:  # output piped into head or less, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        _echo("renewgeo: interrupted; the output folder was left as it was before this run.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # the machine, not renewgeo: a full disk, a file another program holds ...
        _echo(f"renewgeo: {exc}; nothing was changed in the output folder.", file=sys.stderr)
        return EXIT_FAIL
    except Exception as exc:  # a bug: say so plainly, the traceback only on request
        if args.verbose:
            raise
        _echo(f"renewgeo: unexpected error ({type(exc).__name__}: {exc}). This is a bug in renewgeo, not in your data; "
              "run the same command with -v to see where it happened and please report it.", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
