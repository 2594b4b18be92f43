"""The ``renewgeo`` command line.

Commands
--------
``renewgeo demo``              run the bundled Chuangchuangyi sample end to end
``renewgeo run PROJECT``       run every analysis and write results, tables and map
``renewgeo area PROJECT``      the targets ledger and floor-area tables
``renewgeo walk PROJECT``      walking distances, life circles, green access, isochrones
``renewgeo release PROJECT``   releasable land by parcel and year against targets
``renewgeo raster PROJECT``    slope and greenness per zone and parcel; GeoTIFF surfaces


``renewgeo validate PROJECT``  print the validation report (exit 2 on errors)

``renewgeo info FILE``         layers, CRS, counts, bounds and columns of a file

Exit codes: 0 ok, 2 invalid input (project, layers, CRS), 1 any other failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from renewgeo import __version__, datasets
from renewgeo import io as rio
from renewgeo._config import options
from renewgeo._errors import CRSError, ProjectFileError, ReadError, RenewgeoError, ValidationError
from renewgeo.project import load_project, validate_project

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_INVALID = 0, 1, 2


def _print_run(project_name: str, files: dict[str, Path]) -> None:
    print(f"renewgeo: {project_name} done")
    for key, path in files.items():
        print(f"  {key:<24} {path}")


def _cmd_run(args: argparse.Namespace, project_path: Path) -> int:
    from renewgeo.pipeline import run_project

    project = load_project(project_path, repair=args.repair)
    if project.report.warnings and not args.quiet:
        print(project.report.format(severity="warning"), file=sys.stderr)
    out = Path(args.out) if args.out else Path("renewgeo-output") / project.name
    result = run_project(project, out, maps_dir=args.maps_dir, progress=not args.quiet)
    _print_run(project.name, result.files)
    return EXIT_OK


def _cmd_area(args: argparse.Namespace) -> int:
    from renewgeo import area

    project = load_project(args.project, repair=args.repair)
    buildings, tables = area.analyse(project, tolerance_pct=args.tolerance_pct)
    print(f"{project.title}: targets ledger")
    print(area.format_ledger(tables["targets"]))
    out = Path(args.out) if args.out else Path("renewgeo-output") / project.name
    written = []
    for name, table in tables.items():
        written.append(rio.write_table(table, out / "tables" / f"{name}.csv"))
    written.append(rio.write_workbook(tables, out / "tables" / "area.xlsx"))
    if len(buildings):
        written.append(rio.write_layer(buildings, out / "results.gpkg", layer="buildings"))
    print(f"wrote {len(written)} files under {out}")
    return EXIT_OK


def _cmd_walk(args: argparse.Namespace) -> int:
    from renewgeo import area, walkability

    project = load_project(args.project, repair=args.repair)
    buildings = area.building_gfa(project.layer("buildings")) if project.has("buildings") else None
    walk = walkability.analyse(project, buildings=buildings)
    print(f"{project.title}: walkability")
    print(f"network: {walk.network.report.format()}")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 1):
        print(walk.tables["life_circles"])
        if "axis_catchment" in walk.tables:
            print(walk.tables["axis_catchment"])
    out = Path(args.out) if args.out else Path("renewgeo-output") / project.name
    written = [rio.write_table(t, out / "tables" / f"{n}.csv")
               for n, t in walk.tables.items()]
    written.append(rio.write_workbook(walk.tables, out / "tables" / "walk.xlsx"))
    layers = {"buildings": walk.buildings, "network_nodes": walk.nodes, "network_edges": walk.network.edges}
    if len(walk.isochrones):
        layers["isochrones"] = walk.isochrones
    if len(walk.axis_gaps):
        layers["axis_gaps"] = walk.axis_gaps
    for name, layer in layers.items():
        written.append(rio.write_layer(layer, out / "results.gpkg", layer=name))
    print(f"wrote {len(written)} outputs under {out}")
    return EXIT_OK


def _cmd_release(args: argparse.Namespace) -> int:
    from renewgeo import area, land_release

    project = load_project(args.project, repair=args.repair)
    net, applied, tables = land_release.analyse(project)
    _, area_tables = area.analyse(project, layers={"net_release": net})
    tables["targets"] = area_tables["targets"]
    print(f"{project.title}: land release")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 1):
        if "release_by_year" in tables:
            print(tables["release_by_year"])
        print(tables["constraints_applied"])
    print(area.format_ledger(tables["targets"]))
    out = Path(args.out) if args.out else Path("renewgeo-output") / project.name
    written = [rio.write_table(t, out / "tables" / f"{n}.csv")
               for n, t in tables.items()]
    written.append(rio.write_workbook(tables, out / "tables" / "release.xlsx"))
    written.append(rio.write_layer(net, out / "results.gpkg", layer="net_release"))
    written.append(rio.write_layer(applied, out / "results.gpkg", layer="constraints_applied"))
    print(f"wrote {len(written)} outputs under {out}")
    return EXIT_OK


def _cmd_raster(args: argparse.Namespace) -> int:
    from renewgeo import raster

    project = load_project(args.project, repair=args.repair)
    if not project.rasters:
        print(f"renewgeo: project {project.name!r} declares no [rasters.NAME] in project.toml", file=sys.stderr)
        return EXIT_INVALID
    grids, layers, tables = raster.analyse(project)
    out = Path(args.out) if args.out else Path("renewgeo-output") / project.name
    written = [raster.write_cog(g, out / "rasters" / f"{n}.tif") for n, g in grids.items()]
    written += [rio.write_table(t, out / "tables" / f"{n}.csv")
                for n, t in tables.items()]
    if tables:
        written.append(rio.write_workbook(tables, out / "tables" / "raster.xlsx"))
    for name, layer in layers.items():
        written.append(rio.write_layer(layer, out / "results.gpkg", layer=name))
    with pd.option_context("display.width", 160, "display.max_columns", 10, "display.precision", 2):
        for n, t in tables.items():
            print(n)
            print(t.head(10))
    print(f"wrote {len(written)} outputs under {out}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    report = validate_project(args.project, repair=args.repair)
    print(report.format())
    return EXIT_OK if report.ok else EXIT_INVALID


def _cmd_info(args: argparse.Namespace) -> int:
    table = rio.info(args.file)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        for row in table.itertuples():
            print(f"layer {row.layer}: {row.geometry_type}, {row.features} features, CRS {row.crs}")
            print(f"  bounds  {row.bounds}")
            print(f"  columns {row.columns}")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="renewgeo", description="GIS answers for urban-renewal planning.")
    p.add_argument("--version", action="version", version=f"renewgeo {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    def run_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--out", help="output folder (default renewgeo-output/<project>)")
        sp.add_argument("--maps-dir", help="folder for the HTML map (default OUT/maps)")
        sp.add_argument("--quiet", action="store_true", help="no progress bar")
        sp.add_argument("--repair", action="store_true", default=None, help="repair invalid geometries (shapely.make_valid)")

    d = sub.add_parser("demo", help="run the bundled Chuangchuangyi sample end to end")
    run_opts(d)
    r = sub.add_parser("run", help="run every analysis of a project")
    r.add_argument("project", help="project folder (with project.toml)")
    run_opts(r)
    def analysis(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("project")
        sp.add_argument("--out", help="output folder (default renewgeo-output/<project>)")
        sp.add_argument("--repair", action="store_true", default=None, help="repair invalid geometries first")
        return sp

    a = analysis("area", "floor area by use, zone and status; the targets ledger")
    a.add_argument("--tolerance-pct", type=float, default=1.0, help="a target within this %% of its value is met (default 1)")
    analysis("release", "releasable land: parcels minus constraints, by year, against targets")
    analysis("raster", "terrain and greenness per zone and parcel; GeoTIFF surfaces")
    analysis("walk", "walking access to services, life circles, green access, isochrones")

    v = sub.add_parser("validate", help="validate a project; exit 2 on errors")
    v.add_argument("project")
    v.add_argument("--repair", action="store_true", default=None, help="repair invalid geometries first")
    i = sub.add_parser("info", help="describe the layers of a file")
    i.add_argument("file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``renewgeo`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "quiet", False):
        options.progress = False
    try:
        if args.command == "demo":
            return _cmd_run(args, datasets.get_path("chuangchuangyi"))
        if args.command == "run":
            return _cmd_run(args, Path(args.project))
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "area":
            return _cmd_area(args)
        if args.command == "walk":
            return _cmd_walk(args)
        if args.command == "release":
            return _cmd_release(args)
        if args.command == "raster":
            return _cmd_raster(args)
        return _cmd_info(args)
    except ValidationError as exc:
        print(f"renewgeo: the project has errors\n{exc.report.format()}", file=sys.stderr)
        return EXIT_INVALID
    except (ProjectFileError, ReadError, CRSError) as exc:
        print(f"renewgeo: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except RenewgeoError as exc:
        print(f"renewgeo: {exc}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
