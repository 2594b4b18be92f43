"""The project model: a folder with ``project.toml`` and its validated layers.

A project names its layer files, the kind of each layer, the analysis CRS, the plan's
targets and thresholds. :func:`load_project` reads and validates everything at once
and returns a :class:`Project` whose layers are GeoDataFrames in one metric CRS.
:meth:`Project.from_layers` builds the same object from GeoDataFrames in a notebook.

``project.toml`` in brief::

    [project]
    name = "chuangchuangyi"
    title = "Chuangchuangyi Science & Innovation Park"
    crs = "auto"            # or "EPSG:4549"
    repair = false          # repair invalid geometries with shapely.make_valid

    [layers.buildings]      # layer name; kind defaults to the name
    file = "chuangchuangyi.gpkg"
    layer = "buildings"
    [layers.buildings.columns]
    floors = "LAYERS"       # canonical name = your column

    [layers.streets]
    kind = "paths"
    file = "streets.osm.pbf"
    osm = "paths"

    [layers.parcels]
    kind = "sites"
    dsn_env = "PLANNING_DB"   # PostGIS: SQLAlchemy URL taken from this variable
    table = "public.parcels"

    [thresholds]
    floor_height_m = 3.0

    [[targets]]
    id = "renovated_gfa"
    label = "Renovated floor area"
    layer = "buildings"
    where = { treatment = ["facade_upgrade", "full_renovation"] }
    measure = "sum(gfa_m2)"
    value = 180000
    unit = "m2"
"""

from __future__ import annotations

import html
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS, Transformer

from renewgeo import crs as rcrs
from renewgeo import io as rio
from renewgeo._errors import CRSError, ProjectFileError, ReadError, RenewgeoError, ValidationError
from renewgeo._validate import Problem, ValidationReport, closest, validate_layer
from renewgeo.schemas import KINDS

__all__ = ["LayerSpec", "Project", "Target", "load_project", "validate_project"]

log = logging.getLogger(__name__)

TARGET_UNITS = ("m2", "ha", "mu", "km2", "m", "km", "count", "spaces", "places", "pct")
_MEASURE = re.compile(r"^(count|area|length|gfa|sum\((?P<col>[A-Za-z_][A-Za-z0-9_]*)\))$")
# Columns analyses derive for a layer kind; targets may use them before they exist.
DERIVED_COLUMNS = {"buildings": {"footprint_m2", "gfa_m2", "gfa_source", "floors_used"}}
# Layers that analyses produce, which targets may name: name -> (kind they derive from, their columns).
RESULT_LAYERS = {
    "net_release": ("sites", {"gross_area_m2", "removed_m2", "unusable_m2", "net_area_m2", "net_area_ha", "net_area_mu",
                              "buildable_gfa_m2", "net_share_pct"}),
}

_TOP_KEYS = ["project", "layers", "targets", "thresholds", "vocabulary", "life_circles", "rasters"]
RASTER_ROLES = ("dem", "red", "nir", "other")
_PROJECT_KEYS = {"name", "title", "title_zh", "crs", "repair", "description", "illustrative"}


@dataclass(frozen=True)
class LayerSpec:
    """Where one layer comes from and how to read it (one ``[layers.NAME]`` table)."""

    name: str
    kind: str
    file: str | None = None
    layer: str | None = None
    osm: str | None = None
    table: str | None = None
    sql: str | None = None
    dsn: str | None = None
    dsn_env: str | None = None
    geom_col: str | None = None
    where: str | None = None
    coords: str = "wgs84"
    crs: str | None = None
    repair: bool | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def source_label(self) -> str:
        """Human-readable source (file and layer, or PostGIS table)."""
        if self.file:
            return self.file + (f":{self.layer}" if self.layer else "")
        if self.table or self.sql:
            return f"postgis:{self.table or 'query'}"
        return "in memory"


@dataclass(frozen=True)
class Target:
    """One plan target declared as data: layer + filter + measure + unit.

    ``measure`` is ``count``, ``area`` (footprint / polygon area), ``length`` (lines),
    ``gfa`` (gross floor area as the area module derives it) or ``sum(COLUMN)``.
    ``where`` maps column names to a value or a list of allowed values.
    """

    id: str
    layer: str
    measure: str
    value: float
    unit: str
    label: str = ""
    label_zh: str = ""
    where: Mapping[str, Any] = field(default_factory=dict)
    year: int | None = None
    tolerance_pct: float | None = None
    source: str = ""


class Project:
    """A planning project: validated layers in one metric CRS, targets and thresholds.

    Use :func:`load_project` for a folder with ``project.toml`` and
    :meth:`from_layers` for GeoDataFrames in hand.

    Attributes
    ----------
    name : str
        Short name (file names of outputs use it).
    crs : pyproj.CRS
        The metric analysis CRS every layer is in.
    layers : dict of str to GeoDataFrame
        The layers by name.
    kinds : dict of str to str
        The kind of each layer.
    targets : list of Target
    thresholds : dict
    report : ValidationReport
        Warnings found while loading (errors stop the load).
    """

    def __init__(
        self,
        *,
        name: str,
        crs: CRS,
        layers: Mapping[str, gpd.GeoDataFrame],
        kinds: Mapping[str, str],
        title: str | None = None,
        title_zh: str | None = None,
        root: Path | None = None,
        targets: Sequence[Target] = (),
        thresholds: Mapping[str, Any] | None = None,
        vocabulary: Mapping[str, Sequence[str]] | None = None,
        sources: Mapping[str, str] | None = None,
        report: ValidationReport | None = None,
        illustrative: bool = False,
        life_circles: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.crs = crs
        self.layers = dict(layers)
        self.kinds = dict(kinds)
        self.title = title or name
        self.title_zh = title_zh
        self.root = root
        self.targets = list(targets)
        self.thresholds = dict(thresholds or {})
        self.vocabulary = {k: list(v) for k, v in (vocabulary or {}).items()}
        self.sources = dict(sources or {})
        self.report = report or ValidationReport()
        self.illustrative = illustrative
        self.life_circles = [dict(c) for c in life_circles] if life_circles else None
        self.rasters: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        if name in self.layers:
            return self.layers[name]
        if self.has(name):
            return self.layer(name)
        sugg = closest(name, list(self.layers) + list(KINDS))
        raise KeyError(
            f"project {self.name!r} has no layer or kind {name!r}; layers: {sorted(self.layers)}"
            + (f" (did you mean {sugg!r}?)" if sugg else "")
        )

    def __contains__(self, name: object) -> bool:
        return name in self.layers or (isinstance(name, str) and self.has(name))

    def has(self, kind: str) -> bool:
        """Whether the project has at least one layer of ``kind``."""
        return any(k == kind for k in self.kinds.values())

    def names_of(self, kind: str) -> list[str]:
        """Names of the layers of ``kind``."""
        return [n for n, k in self.kinds.items() if k == kind]

    def name_of(self, kind: str) -> str:
        """Where results of a kind are stored: the name of its only layer, else the kind itself."""
        names = self.names_of(kind)
        return names[0] if len(names) == 1 else kind

    def layer(self, kind: str) -> gpd.GeoDataFrame:
        """All layers of ``kind`` as one GeoDataFrame (a ``source_layer`` column tells them apart).

        Raises
        ------
        KeyError
            If the project has no layer of that kind.
        """
        names = self.names_of(kind)
        if not names:
            raise KeyError(
                f"project {self.name!r} has no {kind!r} layer; add one under [layers.{kind}] in project.toml "
                f"(kinds present: {sorted(set(self.kinds.values()))})"
            )
        if len(names) == 1:
            return self.layers[names[0]]
        parts = [self.layers[n].assign(source_layer=n) for n in names]
        return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry=parts[0].geometry.name, crs=self.crs)

    def map(self, results: Any = None, **options: Any) -> Any:
        """The meeting map of the project (and optional results), inline in Jupyter.

        Options are those of :func:`renewgeo.webmap.meeting_map` (``lang``, ``basemap`` ...).
        """
        from renewgeo import webmap

        return webmap.meeting_map(self, results, **options)

    explore = map

    def to_web(self, name: str) -> gpd.GeoDataFrame:
        """A layer (by name or kind) in EPSG:4326 for web maps."""
        return rcrs.to_web(self[name], layer=name)

    # ------------------------------------------------------------------ display
    def summary(self) -> pd.DataFrame:
        """One row per layer: kind, features, geometry types, and its size in metric units.

        Examples
        --------
        >>> import renewgeo as rg
        >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
        >>> int(p.summary().set_index("layer").loc["buildings", "features"])
        26
        """
        rows = []
        for name, gdf in self.layers.items():
            geom = gdf.geometry
            gtypes = sorted(set(geom.geom_type.dropna()))
            area = float(geom.area.sum()) if any("Polygon" in t for t in gtypes) else None
            length = float(geom.length.sum()) if any("Line" in t for t in gtypes) else None
            rows.append(
                {
                    "layer": name,
                    "kind": self.kinds[name],
                    "features": len(gdf),
                    "geometry": ", ".join(gtypes),
                    "area_m2": area,
                    "length_m": length,
                    "source": self.sources.get(name, ""),
                }
            )
        return pd.DataFrame(rows, columns=["layer", "kind", "features", "geometry", "area_m2", "length_m", "source"])

    def __repr__(self) -> str:
        epsg = self.crs.to_epsg()
        return (
            f"<Project {self.name!r}: {len(self.layers)} layers "
            f"({', '.join(f'{n}={len(g)}' for n, g in self.layers.items())}), "
            f"CRS {'EPSG:' + str(epsg) if epsg else self.crs.name}, {len(self.targets)} targets>"
        )

    def _repr_html_(self) -> str:
        def num(v: object) -> str:
            return "" if v is None or (isinstance(v, float) and v != v) else f"{v:,.0f}"

        body = "".join(
            "<tr>"
            + f"<td>{html.escape(str(r['layer']))}</td><td>{html.escape(str(r['kind']))}</td>"
            + f"<td style='text-align:right'>{int(r['features']):,}</td><td>{html.escape(str(r['geometry']))}</td>"
            + f"<td style='text-align:right'>{num(r['area_m2'])}</td><td style='text-align:right'>{num(r['length_m'])}</td>"
            + "</tr>"
            for r in self.summary().to_dict("records")
        )
        title = html.escape(self.title) + (f" / {html.escape(self.title_zh)}" if self.title_zh else "")
        note = " <i>(illustrative sample, not surveyed)</i>" if self.illustrative else ""
        warn = f"<br>{len(self.report.warnings)} validation warning(s): see <code>.report</code>" if self.report.warnings else ""
        return (
            f"<div><b>{title}</b>{note}<br>CRS: {html.escape(self.crs.to_string())} ({html.escape(self.crs.name)}); "
            f"{len(self.targets)} targets{warn}"
            "<table><thead><tr><th>layer</th><th>kind</th><th>features</th><th>geometry</th>"
            f"<th>area (m²)</th><th>length (m)</th></tr></thead><tbody>{body}</tbody></table></div>"
        )

    # ------------------------------------------------------------------ building
    @classmethod
    def from_layers(
        cls,
        layers: Mapping[str, gpd.GeoDataFrame],
        *,
        name: str = "project",
        kinds: Mapping[str, str] | None = None,
        crs: Any = "auto",
        column_maps: Mapping[str, Mapping[str, str]] | None = None,
        coords: Mapping[str, str] | None = None,
        repair: bool = False,
        targets: Sequence[Mapping[str, Any]] = (),
        thresholds: Mapping[str, Any] | None = None,
        vocabulary: Mapping[str, Sequence[str]] | None = None,
        title: str | None = None,
        title_zh: str | None = None,
    ) -> Project:
        """Build a validated project from GeoDataFrames (for notebooks).

        Parameters
        ----------
        layers : mapping of str to GeoDataFrame
            Layers by name. Inputs are not modified.
        name : str
            Project name.
        kinds : mapping, optional
            Kind of each layer; a layer whose name is a kind may be left out.
        crs : "auto", int, str or CRS
            The metric analysis CRS.
        column_maps : mapping, optional
            Per layer ``{canonical: your_column}``.
        coords : mapping, optional
            Per layer ``"gcj02"`` for layers whose coordinates come from Chinese web maps.
        repair : bool
            Repair invalid geometries instead of refusing them.
        targets : sequence of mapping
            Targets in the ``[[targets]]`` form of ``project.toml``.
        thresholds, vocabulary : mapping, optional
            As in ``project.toml``.
        title, title_zh : str, optional
            Display titles.

        Raises
        ------
        ValidationError
            With every problem found, when any is an error.

        Examples
        --------
        >>> import geopandas as gpd, shapely, renewgeo as rg
        >>> b = gpd.GeoDataFrame({"id": ["B1"], "floors": [3]},
        ...                      geometry=[shapely.box(518000, 3985000, 518020, 3985010)], crs=4549)
        >>> p = rg.Project.from_layers({"buildings": b}, name="toy")
        >>> p.crs.to_epsg(), float(p["buildings"].area.iloc[0])
        (4549, 200.0)
        """
        report = ValidationReport()
        specs = []
        raw: dict[str, gpd.GeoDataFrame | None] = {}
        for lname, gdf in layers.items():
            kind = (kinds or {}).get(lname, lname)
            spec = LayerSpec(
                name=lname,
                kind=kind,
                columns=dict((column_maps or {}).get(lname, {})),
                coords=(coords or {}).get(lname, "wgs84"),
                repair=repair,
            )
            if not isinstance(gdf, gpd.GeoDataFrame):
                report.extend(
                    [
                        Problem(
                            "error",
                            lname,
                            f"expected a GeoDataFrame, got {type(gdf).__name__}",
                            "pass geopandas.GeoDataFrame objects",
                            code="bad_input",
                        )
                    ]
                )
                raw[lname] = None
            else:
                raw[lname] = gdf
            specs.append(spec)
        return _assemble(
            name=name,
            title=title,
            title_zh=title_zh,
            root=None,
            specs=specs,
            raw=raw,
            crs_spec=crs,
            repair=repair,
            targets_raw=list(targets),
            thresholds=thresholds or {},
            vocabulary=vocabulary or {},
            report=report,
            illustrative=False,
        )


# ---------------------------------------------------------------------- loading
def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / "project.toml"
    if not path.exists():
        raise ProjectFileError(
            f"{path}: no project.toml here. A project is a folder with a project.toml; "
            "see renewgeo.datasets.get_path('chuangchuangyi') for an example."
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectFileError(f"{path}: not valid TOML ({exc}); fix the line named.") from None


_SPEC_KEYS = {f.name for f in fields(LayerSpec)} - {"name"}


def _parse_specs(doc: Mapping[str, Any], report: ValidationReport, tomlfile: str) -> list[LayerSpec]:
    layers = doc.get("layers")
    if not isinstance(layers, Mapping) or not layers:
        report.extend(
            [
                Problem(
                    "error",
                    "project.toml",
                    "no [layers.NAME] tables",
                    "declare at least one layer, e.g. [layers.buildings] with file = ...",
                    file=tomlfile,
                    code="no_layers",
                )
            ]
        )
        return []
    specs = []
    for lname, tbl in layers.items():
        if not isinstance(tbl, Mapping):
            report.extend(
                [
                    Problem(
                        "error",
                        lname,
                        f"[layers.{lname}] must be a table",
                        "write it as [layers.NAME] with file = ...",
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
            continue
        bad = [k for k in tbl if k not in _SPEC_KEYS]
        for k in bad:
            s = closest(k, _SPEC_KEYS)
            report.extend(
                [
                    Problem(
                        "error",
                        lname,
                        f"unknown key {k!r} in [layers.{lname}]",
                        f"use one of {sorted(_SPEC_KEYS)}" + (f" (did you mean {s!r}?)" if s else ""),
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
        kind = str(tbl.get("kind", lname))
        if kind not in KINDS:
            s = closest(kind, KINDS)
            report.extend(
                [
                    Problem(
                        "error",
                        lname,
                        f"unknown layer kind {kind!r}",
                        f"set kind = one of {sorted(KINDS)}" + (f" (did you mean {s!r}?)" if s else ""),
                        file=tomlfile,
                        code="unknown_kind",
                    )
                ]
            )
            continue
        coords = str(tbl.get("coords", "wgs84")).lower()
        if coords not in ("wgs84", "gcj02"):
            report.extend(
                [
                    Problem(
                        "error",
                        lname,
                        f"coords = {coords!r} is not understood",
                        'use coords = "gcj02" for AMap/Gaode/Tencent coordinates, or leave it out',
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
        cols = tbl.get("columns", {})
        if not isinstance(cols, Mapping) or not all(isinstance(v, str) for v in cols.values()):
            report.extend(
                [
                    Problem(
                        "error",
                        lname,
                        f"[layers.{lname}.columns] must map canonical names to your column names",
                        'e.g. floors = "LAYERS"',
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
            cols = {}
        kwargs = {k: tbl[k] for k in _SPEC_KEYS & set(tbl) if k not in ("columns", "kind", "coords")}
        specs.append(LayerSpec(name=lname, kind=kind, coords=coords, columns=dict(cols), **kwargs))
    return specs


def _read_spec(spec: LayerSpec, root: Path) -> gpd.GeoDataFrame:
    if spec.table or spec.sql:
        dsn = spec.dsn or (os.environ.get(spec.dsn_env) if spec.dsn_env else None)
        if not dsn:
            raise ReadError(
                f'layer {spec.name!r} reads PostGIS but has no connection: set dsn = "postgresql://..." or '
                f'dsn_env = "VAR" under [layers.{spec.name}]' + (f" (variable {spec.dsn_env} is not set)" if spec.dsn_env else "")
            )
        return rio.read_postgis(dsn, table=spec.table, sql=spec.sql, geom_col=spec.geom_col)
    if not spec.file:
        raise ReadError(
            f'layer {spec.name!r} names no source: give file = "..." (or table = and dsn = for PostGIS) under [layers.{spec.name}]'
        )
    path = Path(spec.file)
    if not path.is_absolute() and not spec.file.startswith("/vsi"):
        path = root / path
    return rio.read_layer(path, layer=spec.layer, osm=spec.osm, where=spec.where)


def _auto_crs(layers: Mapping[str, gpd.GeoDataFrame]) -> CRS:
    boxes = []
    for g in layers.values():
        geoms = g.geometry[~(g.geometry.isna() | g.geometry.is_empty)]
        if len(geoms) == 0 or g.crs is None:
            continue
        tf = Transformer.from_crs(g.crs, 4326, always_xy=True)
        boxes.append(tf.transform_bounds(*geoms.total_bounds))
    if not boxes:
        raise CRSError('crs = "auto" needs at least one layer with a CRS and geometry; set the project CRS explicitly.')
    w = min(b[0] for b in boxes)
    s = min(b[1] for b in boxes)
    e = max(b[2] for b in boxes)
    n = max(b[3] for b in boxes)
    return rcrs.auto_metric_crs((w + e) / 2, (s + n) / 2)


def _parse_targets(
    raw: Sequence[Any],
    layers: Mapping[str, gpd.GeoDataFrame],
    kinds: Mapping[str, str],
    report: ValidationReport,
    tomlfile: str | None,
) -> list[Target]:
    out: list[Target] = []
    known_keys = {f.name for f in fields(Target)}
    seen: set[str] = set()
    for i, t in enumerate(raw):
        tid = str(t.get("id", f"#{i + 1}")) if isinstance(t, Mapping) else f"#{i + 1}"
        where = f"target {tid!r}"

        def err(msg: str, fix: str, column: str | None = None, code: str = "bad_target") -> None:
            report.extend([Problem("error", "targets", f"{where}: {msg}", fix, column=column, file=tomlfile, code=code)])  # noqa: B023

        if not isinstance(t, Mapping):
            err("is not a table", "write each target as a [[targets]] table")
            continue
        for k in t:
            if k not in known_keys:
                s = closest(k, known_keys)
                err(f"unknown key {k!r}", f"use one of {sorted(known_keys)}" + (f" (did you mean {s!r}?)" if s else ""))
        missing = [k for k in ("id", "layer", "measure", "value", "unit") if k not in t]
        if missing:
            err(f"lacks {missing}", "every target needs id, layer, measure, value and unit")
            continue
        if tid in seen:
            err("id used twice", "give every target its own id")
        seen.add(tid)
        lname = str(t["layer"])
        gdf = layers.get(lname)
        result_cols: set[str] = set()
        if gdf is None and lname in RESULT_LAYERS:
            base_kind, result_cols = RESULT_LAYERS[lname]
            names = [n for n, k in kinds.items() if k == base_kind]
            if len(names) != 1:
                err(f"names the result layer {lname!r}, which needs exactly one {base_kind!r} layer", f"add one [layers.NAME] of kind {base_kind!r}",
                    code="unknown_layer")
                continue
            gdf = layers[names[0]]
        if gdf is None:
            names = [n for n, k in kinds.items() if k == lname]
            gdf = layers.get(names[0]) if len(names) == 1 else None
        if gdf is None and lname not in layers:
            s = closest(lname, list(layers) + list(kinds.values()))
            err(
                f"names layer {lname!r}, which the project does not have",
                f"use one of {sorted(layers)}" + (f" (did you mean {s!r}?)" if s else ""),
                code="unknown_layer",
            )
        m = _MEASURE.match(str(t["measure"]))
        if not m:
            err(f"measure {t['measure']!r} is not understood", "use count, area, length, gfa or sum(COLUMN)")
        cols_needed = list((t.get("where") or {}).keys())
        if m and m.group("col"):
            cols_needed.append(m.group("col"))
        if gdf is not None:
            kind = kinds.get(lname, lname)
            for c in cols_needed:
                if c not in gdf.columns and c not in DERIVED_COLUMNS.get(kind, set()) and c not in result_cols:

                    s = closest(c, [x for x in gdf.columns if x != gdf.geometry.name])
                    err(
                        f"uses column {c!r}, which layer {lname!r} does not have",
                        "use a column of the layer"
                        + (f" (did you mean {s!r}?)" if s else f": {sorted(x for x in gdf.columns if x != gdf.geometry.name)}"),
                        column=c,
                        code="unknown_column",
                    )
        unit = str(t["unit"])
        if unit not in TARGET_UNITS:
            s = closest(unit, TARGET_UNITS)
            err(f"unit {unit!r} is not known", f"use one of {list(TARGET_UNITS)}" + (f" (did you mean {s!r}?)" if s else ""))
        try:
            value = float(t["value"])
        except (TypeError, ValueError):
            err(f"value {t['value']!r} is not a number", "write the target value as a number, e.g. 180000")
            continue
        if not isinstance(t.get("where", {}), Mapping):
            err("where must be a table", 'e.g. where = { treatment = ["facade_upgrade", "full_renovation"] }')
            continue
        out.append(
            Target(
                id=tid,
                layer=lname,
                measure=str(t["measure"]),
                value=value,
                unit=unit,
                label=str(t.get("label", tid)),
                label_zh=str(t.get("label_zh", "")),
                where=dict(t.get("where", {})),
                year=int(t["year"]) if t.get("year") is not None else None,
                tolerance_pct=float(t["tolerance_pct"]) if t.get("tolerance_pct") is not None else None,
                source=str(t.get("source", "")),
            )
        )
    return out


def _assemble(
    *,
    name: str,
    title: str | None,
    title_zh: str | None,
    root: Path | None,
    specs: Sequence[LayerSpec],
    raw: Mapping[str, gpd.GeoDataFrame | None],
    crs_spec: Any,
    repair: bool,
    targets_raw: Sequence[Any],
    thresholds: Mapping[str, Any],
    vocabulary: Mapping[str, Any],
    report: ValidationReport,
    illustrative: bool,
    tomlfile: str | None = None,
    life_circles: Sequence[Mapping[str, Any]] | None = None,
    rasters: tuple[dict[str, dict[str, Any]], list[Problem]] | None = None,
) -> Project:
    """Shared by load_project and Project.from_layers: CRS, GCJ-02, validation, reprojection."""
    if rasters is not None:
        report.extend(rasters[1])
    extra_values = {
        "category": list(vocabulary.get("amenity_categories", [])),
        "space_type": list(vocabulary.get("space_types", [])),
        "constraint_type": list(vocabulary.get("constraint_types", [])),
    }
    checked: dict[str, gpd.GeoDataFrame] = {}
    kinds: dict[str, str] = {}
    for spec in specs:
        gdf = raw.get(spec.name)
        if gdf is None:
            continue
        label = spec.source_label
        if gdf.crs is None:
            if spec.crs:
                try:
                    gdf = gdf.set_crs(rcrs.resolve_crs(spec.crs, what=f"[layers.{spec.name}] crs"))
                except CRSError as exc:
                    report.extend([Problem("error", spec.name, str(exc), "fix the crs value", file=label, code="bad_crs")])
                    continue
            else:
                report.extend(
                    [
                        Problem(
                            "error",
                            spec.name,
                            "the layer has no CRS",
                            f'set it at the source, or declare it: crs = "EPSG:4549" under [layers.{spec.name}] '
                            "(or gdf.set_crs(...) in Python); renewgeo never guesses a CRS",
                            file=label,
                            code="missing_crs",
                        )
                    ]
                )
                continue
        if spec.coords == "gcj02":
            if not CRS.from_user_input(gdf.crs).is_geographic:
                report.extend(
                    [
                        Problem(
                            "error",
                            spec.name,
                            f'coords = "gcj02" but the layer is in {gdf.crs.to_string()}, not longitude/latitude',
                            "GCJ-02 applies to lon/lat data from AMap/Gaode/Tencent; remove coords or check the file",
                            file=label,
                            code="bad_crs",
                        )
                    ]
                )
                continue
            n_before = len(gdf)
            gdf = rcrs.gcj02_to_wgs84_gdf(gdf, layer=spec.name)
            log.info("layer %s: %d features converted from GCJ-02 to WGS 84", spec.name, n_before)
        layer_repair = repair if spec.repair is None else bool(spec.repair)
        clean, probs = validate_layer(
            gdf,
            KINDS[spec.kind],
            layer=spec.name,
            file=label,
            column_map=spec.columns,
            repair=layer_repair,
            extra_values=extra_values,
        )
        report.extend(probs)
        checked[spec.name] = clean
        kinds[spec.name] = spec.kind

    # analysis CRS ------------------------------------------------------------------
    analysis: CRS | None = None
    try:
        if isinstance(crs_spec, str) and crs_spec.lower() == "auto":
            analysis = _auto_crs(checked) if checked else None
        else:
            analysis = rcrs.resolve_crs(crs_spec, what="project crs")
    except CRSError as exc:
        report.extend(
            [
                Problem(
                    "error",
                    "project",
                    str(exc),
                    'set [project] crs = "EPSG:xxxx" (a projected CRS in metres)',
                    file=tomlfile,
                    code="bad_crs",
                )
            ]
        )
    if analysis is not None and (
        analysis.is_geographic or any(ax.unit_name not in ("metre", "meter") for ax in analysis.axis_info)
    ):
        report.extend(
            [
                Problem(
                    "error",
                    "project",
                    f"the analysis CRS {analysis.to_string()} is in {analysis.axis_info[0].unit_name}s, but areas, lengths and walking distances need metres",
                    'set [project] crs = "auto" (CGCS2000 GK zone in China, UTM elsewhere) or a projected EPSG code such as "EPSG:4549"',
                    file=tomlfile,
                    code="crs_degrees",
                )
            ]
        )
        analysis = None

    out_layers: dict[str, gpd.GeoDataFrame] = {}
    if analysis is not None:
        for lname, g in checked.items():
            if CRS.from_user_input(g.crs) != analysis:
                log.info("layer %s reprojected from %s to %s", lname, g.crs.to_string(), analysis.to_string())
                g = g.to_crs(analysis)
            out_layers[lname] = g

    targets = _parse_targets(targets_raw, out_layers or checked, kinds, report, tomlfile)
    if report.errors or analysis is None:
        raise ValidationError(report)
    for w in report.warnings:
        log.warning("%s", w.format())
    project = Project(
        name=name,
        title=title,
        title_zh=title_zh,
        root=root,
        crs=analysis,
        layers=out_layers,
        kinds=kinds,
        targets=targets,
        thresholds=thresholds,
        vocabulary=vocabulary,
        sources={s.name: s.source_label for s in specs},
        report=report,
        illustrative=illustrative,
        life_circles=life_circles,
    )
    if rasters is not None:
        project.rasters = rasters[0]
    return project



def _load(path: str | os.PathLike[str], *, repair: bool | None) -> Project:
    p = Path(path)
    tomlpath = p / "project.toml" if p.is_dir() else p
    root = tomlpath.parent
    doc = _read_toml(tomlpath)
    tomlfile = str(tomlpath)
    report = ValidationReport()
    meta = doc.get("project", {})
    for k in meta:
        if k not in _PROJECT_KEYS:
            s = closest(k, _PROJECT_KEYS)
            report.extend(
                [
                    Problem(
                        "error",
                        "project",
                        f"unknown key {k!r} in [project]",
                        f"use one of {sorted(_PROJECT_KEYS)}" + (f" (did you mean {s!r}?)" if s else ""),
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
    for k in doc:
        if k not in _TOP_KEYS:
            s = closest(k, _TOP_KEYS)
            report.extend(
                [
                    Problem(
                        "error",
                        "project",
                        f"unknown table [{k}] in project.toml",
                        "use [project], [layers.NAME], [[targets]], [thresholds], [vocabulary]"
                        + (f" (did you mean [{s}]?)" if s else ""),
                        file=tomlfile,
                        code="bad_project",
                    )
                ]
            )
    specs = _parse_specs(doc, report, tomlfile)
    raw: dict[str, gpd.GeoDataFrame | None] = {}
    for spec in specs:
        try:
            raw[spec.name] = _read_spec(spec, root)
        except RenewgeoError as exc:
            report.extend(
                [
                    Problem(
                        "error",
                        spec.name,
                        str(exc),
                        f"fix the path or source under [layers.{spec.name}]",
                        file=spec.source_label,
                        code="unreadable",
                    )
                ]
            )
            raw[spec.name] = None
    proj_repair = bool(meta.get("repair", False)) if repair is None else repair
    return _assemble(
        name=str(meta.get("name", root.name)),
        title=meta.get("title"),
        title_zh=meta.get("title_zh"),
        root=root,
        specs=specs,
        raw=raw,
        crs_spec=meta.get("crs", "auto"),
        repair=proj_repair,
        targets_raw=doc.get("targets", []),
        thresholds=doc.get("thresholds", {}),
        vocabulary=doc.get("vocabulary", {}),
        report=report,
        illustrative=bool(meta.get("illustrative", False)),
        tomlfile=tomlfile,
        life_circles=doc.get("life_circles"),
        rasters=_parse_rasters(doc.get("rasters", {}), root, tomlfile),
    )



def load_project(path: str | os.PathLike[str], *, repair: bool | None = None) -> Project:
    """Load and validate a project folder (or its ``project.toml``).

    Parameters
    ----------
    path : path-like
        The project folder, or the ``project.toml`` itself.
    repair : bool, optional
        Override ``[project] repair``: repair invalid geometries with
        :func:`shapely.make_valid` (each repair is listed as a warning).

    Returns
    -------
    Project

    Raises
    ------
    ProjectFileError
        ``project.toml`` is missing or not TOML.
    ValidationError
        With every problem found in every layer, when any is an error.

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> p.crs.to_epsg(), len(p["buildings"])
    (4549, 26)
    """
    return _load(path, repair=repair)


def validate_project(path: str | os.PathLike[str], *, repair: bool | None = None) -> ValidationReport:
    """Validate a project and return the full report instead of raising.

    Examples
    --------
    >>> import renewgeo as rg
    >>> rg.validate_project(rg.datasets.get_path("chuangchuangyi")).ok
    True
    """
    try:
        return _load(path, repair=repair).report
    except ValidationError as exc:
        return exc.report


def _parse_rasters(tables: Any, root: Path, tomlfile: str) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """``[rasters.NAME]`` tables: file, band (1), role (dem, red, nir, other)."""
    out: dict[str, dict[str, Any]] = {}
    probs: list[Problem] = []
    if not isinstance(tables, Mapping):
        return out, [Problem("error", "rasters", "[rasters] must hold [rasters.NAME] tables", "e.g. [rasters.dem] file = \"dem.tif\"",
                             file=tomlfile, code="bad_project")]
    for name, t in tables.items():
        if not isinstance(t, Mapping) or "file" not in t:
            probs.append(Problem("error", name, f"[rasters.{name}] needs file = \"...\"", "give the raster's path (relative to the project)",
                                 file=tomlfile, code="bad_project"))
            continue
        role = str(t.get("role", name if name in RASTER_ROLES else "other"))
        if role not in RASTER_ROLES:
            s = closest(role, RASTER_ROLES)
            probs.append(Problem("error", name, f"raster role {role!r} is not known",
                                 f"use one of {list(RASTER_ROLES)}" + (f" (did you mean {s!r}?)" if s else ""), file=tomlfile, code="bad_project"))
            continue
        f = str(t["file"])
        path = f if f.startswith("/vsi") or Path(f).is_absolute() else str(root / f)
        if not f.startswith("/vsi") and not Path(path).exists():
            probs.append(Problem("error", name, f"raster file {path} does not exist", f"fix file = under [rasters.{name}]",
                                 file=tomlfile, code="unreadable"))
            continue
        out[name] = {"path": path, "band": int(t.get("band", 1)), "role": role}
    return out, probs
