"""The project model: a folder with ``project.toml`` and its validated layers.

A project names its layer files, the kind of each layer, the analysis CRS, the plan's
targets and the settings of each analysis. :func:`load_project` reads and checks
everything at once and returns a :class:`Project` whose layers are GeoDataFrames in one
metric CRS. :meth:`Project.from_layers` builds the same object from GeoDataFrames in a
notebook.

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

    [layers.parcels]
    kind = "sites"
    dsn_env = "PLANNING_DB"   # PostGIS: SQLAlchemy URL taken from this variable
    table = "public.parcels"

    [area]                  # one table of settings per analysis: see renewgeo.settings.describe()
    floor_height_m = 3.0

    [[targets]]
    id = "renovated_gfa"
    label = "Renovated floor area"
    layer = "buildings"
    where = { treatment = ["facade_upgrade", "full_renovation"] }
    measure = "sum(gfa_m2)"
    value = 180000
    unit = "m2"

Every problem of every table (unknown keys, wrong types, values out of range, layers or
columns a target names that do not exist) is reported at once, with its fix.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fnmatch
import hashlib
import html
import logging
import os
import re
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from renewgeo import crs as rcrs
from renewgeo import io as rio
from renewgeo import patches as rpatch
from renewgeo._errors import CRSError, ProjectFileError, RenewgeoError, ValidationError
from renewgeo._validate import Problem, ValidationReport, absurd_coordinates, closest, validate_layer
from renewgeo.schemas import KINDS, RESULT_LAYERS, derived_columns
from renewgeo.settings import SECTIONS, Settings, parse_record, setting
from renewgeo.settings import load as load_settings

__all__ = ["LayerSpec", "LifeCircle", "Project", "RasterSpec", "Target", "load_project", "validate_project"]

log = logging.getLogger(__name__)

TARGET_UNITS = ("m2", "ha", "mu", "km2", "m", "km", "count", "spaces", "places", "pct")
UNIT_ALIASES = {"平方米": "m2", "平米": "m2", "㎡": "m2", "sqm": "m2", "公顷": "ha", "亩": "mu", "平方公里": "km2", "米": "m", "公里": "km",
                "千米": "km", "个": "count", "栋": "count", "处": "count", "户": "count", "车位": "spaces", "个车位": "spaces",
                "位": "places", "%": "pct", "percent": "pct"}
_KEY_CODES = ("bad_project", "bad_project", "bad_project")
_OUTSIDE_FIX = "fine for a shared data folder; copy the file into the project folder to hand the project on whole"
_Value = str | int | float | bool  # a value a target's filter compares a column with
_TARGET_CODES = ("bad_target", "bad_target", "bad_target")
_MEASURE = re.compile(r"^(count|area|length|gfa|sum\((?P<col>[A-Za-z_][A-Za-z0-9_]*)\))$")
RASTER_ROLES = ("dem", "red", "nir", "other")
_TABLES = ("project", "layers", "targets", "vocabulary", "life_circles", "rasters", "thresholds", "scenarios")


# ------------------------------------------------------------------------ records
@dataclass(frozen=True)
class ProjectMeta:
    """The ``[project]`` table."""

    name: str = setting("", "short name; output files are named after it")
    title: str | None = setting(None, "display title")
    title_zh: str | None = setting(None, "Chinese display title")
    crs: str | int = setting("auto", 'metric analysis CRS: "auto" (CGCS2000 GK zone in China, UTM elsewhere) or an EPSG code',
                             example='"EPSG:4549"')
    repair: bool = setting(False, "repair invalid geometries (shapely.make_valid) instead of refusing them")
    description: str = setting("", "free text")
    illustrative: bool = setting(False, "the data is invented (a sample), not surveyed: maps say so")
    allow_network: bool = setting(False, "let layers and rasters read from the network (/vsicurl/, http://, s3:// ...)")


@dataclass(frozen=True)
class LayerSpec:
    """Where one layer comes from and how to read it (one ``[layers.NAME]`` table)."""

    name: str
    kind: str
    file: str | None = setting(None, "the layer file, relative to the project folder", example='"data.gpkg"')
    layer: str | None = setting(None, "layer inside a multi-layer file")
    osm: str | None = setting(None, "what to take from an OSM .pbf", choices=rio.OSM_WHAT)
    table: str | None = setting(None, "PostGIS table (schema.table)")
    sql: str | None = setting(None, "PostGIS query (read-only)")
    dsn: str | None = setting(None, "PostGIS SQLAlchemy URL")
    dsn_env: str | None = setting(None, "environment variable holding the PostGIS URL")
    geom_col: str | None = setting(None, "PostGIS geometry column")
    where: str | None = setting(None, "attribute filter: OGR SQL for GDAL formats, also applied to OSM extracts (.pbf, .osm) and GeoParquet")
    coords: str = setting("wgs84", "coordinates from AMap/Gaode/Tencent are gcj02", choices=("wgs84", "gcj02"))
    crs: str | int | None = setting(None, "CRS of a file that does not say", example='"EPSG:4549"')
    repair: bool | None = setting(None, "repair this layer's invalid geometries (overrides [project] repair)")
    columns: dict[str, str] = setting({}, "your column names: canonical = yours", example='{ floors = "LAYERS" }')

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

    id: str = setting(doc="a short unique id", example='"renovated_gfa"')
    layer: str = setting(doc="the layer (or result layer) measured", example='"buildings"')
    measure: str = setting(doc="count, area, length, gfa or sum(COLUMN)", example='"sum(gfa_m2)"')
    value: float = setting(doc="the target value", example="180000")
    unit: str = setting(doc="unit of the value", choices=TARGET_UNITS, example='"m2"', aliases=UNIT_ALIASES)
    label: str = setting("", "label in English")
    label_zh: str = setting("", "label in Chinese")
    where: dict[str, _Value | tuple[_Value, ...]] = setting({}, "filter: column = value or list of values",
                                                      example='{ treatment = ["full_renovation"] }')
    year: int | None = setting(None, "the year the target is for", example="2024")
    tolerance_pct: float | None = setting(None, "met within this percentage (default [area] target_tolerance_pct)", ge=0, le=100,
                                          example="1")
    source: str = setting("", "where the target comes from (plan, report)")


@dataclass(frozen=True)
class RasterSpec:
    """One ``[rasters.NAME]`` table: a raster file and its role."""

    file: str = setting(doc="the raster file (or a GDAL /vsi path)", example='"dem.tif"')
    band: int = setting(1, "band number", ge=1)
    role: str = setting("other", "dem, red, nir or other", choices=RASTER_ROLES)
    path: str = ""  # resolved against the project folder by the loader


@dataclass(frozen=True)
class LifeCircle:
    """One ``[[life_circles]]`` requirement table (GB 50180-2018 form)."""

    name: str = setting(doc="circle name", example='"5min"')
    required: tuple[tuple[str, ...] | str, ...] = setting(doc="lists of alternative amenity categories",
                                                          example='[["kindergarten", "childcare"], ["bus_stop"]]')
    distance_m: float | None = setting(None, "walking distance of the circle in metres", gt=0)
    minutes: float | None = setting(None, "walking time in minutes (at [walk] speed_m_s) when distance_m is not given", gt=0)

    def __post_init__(self) -> None:
        if self.distance_m is None and self.minutes is None:
            raise ValueError("gives neither distance_m nor minutes: give distance_m = 300 (or minutes = 5)")


@dataclass(frozen=True)
class ScenarioMeta:
    """One ``[[scenarios]]`` table: a plan as patch layers on the baseline (:mod:`renewgeo.patches`)."""

    id: str = setting(doc="short id: letters, digits, _ and -", example='"renewal"')
    label: str = setting("", "label in English")
    label_zh: str = setting("", "label in Chinese")
    description: str = setting("", "free text")
    patches: dict[str, Any] = setting({}, "one patch layer per layer it changes: [scenarios.patches.NAME] with file = ... "
                                      "(and layer, crs, columns as under [layers.NAME])", example='{ buildings = { file = "plan.gpkg" } }')


@dataclass(frozen=True)
class Vocabulary:
    """The ``[vocabulary]`` table: values a project adds to the open vocabularies."""

    amenity_categories: tuple[str, ...] = setting((), "amenity categories besides renewgeo's")
    space_types: tuple[str, ...] = setting((), "outdoor space types besides renewgeo's")
    constraint_types: tuple[str, ...] = setting((), "constraint types besides renewgeo's")


class Project:
    """A planning project: validated layers in one metric CRS, targets and settings.

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
    settings : Settings
        The checked settings of every analysis (``settings.walk.speed_m_s`` ...).
    rasters : dict of str to RasterSpec
    life_circles : list of dict, optional
        ``[[life_circles]]`` when the project gives its own.
    overrides : dict
        The ``{"section.key": value}`` overrides applied on top of project.toml.
    toml_sha256 : str or None
        The sha256 of the project.toml file's bytes.
    allow_network : bool
        ``[project] allow_network``: layers and rasters may read from the network; when
        false, runs keep GDAL's network fence up (:func:`network_fence`).
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
        settings: Settings | None = None,
        vocabulary: Mapping[str, Sequence[str]] | None = None,
        sources: Mapping[str, str] | None = None,
        report: ValidationReport | None = None,
        illustrative: bool = False,
        life_circles: Sequence[Mapping[str, Any]] | None = None,
        rasters: Mapping[str, RasterSpec] | None = None,
        toml_sha256: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        allow_network: bool = False,
        scenarios: Sequence[rpatch.Scenario] = (),
    ) -> None:
        self.name = name
        self.crs = crs
        self.layers = dict(layers)
        self.kinds = dict(kinds)
        self.title = title or name
        self.title_zh = title_zh
        self.root = root
        self.targets = list(targets)
        self.settings = settings or Settings.defaults()
        self.vocabulary = {k: list(v) for k, v in (vocabulary or {}).items()}
        self.sources = dict(sources or {})
        self.report = report or ValidationReport()
        self.illustrative = illustrative
        self.life_circles = [dict(c) for c in life_circles] if life_circles else None
        self.rasters: dict[str, RasterSpec] = dict(rasters or {})
        self.toml_sha256 = toml_sha256
        self.overrides = dict(overrides or {})
        self.allow_network = allow_network
        self.scenarios: dict[str, rpatch.Scenario] = {s.id: s for s in scenarios}
        self.scenario_id: str | None = None

    # ------------------------------------------------------------------ scenarios
    def scenario(self, scenario_id: str) -> Project:
        """The project as scenario ``scenario_id`` would make it: the baseline with the scenario's patches.

        Layers the scenario does not patch are the baseline's own objects; the baseline
        is not modified.

        Raises
        ------
        KeyError
            For an unknown scenario id (the message lists the project's scenarios).

        Examples
        --------
        >>> import renewgeo as rg
        >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
        >>> b = p["buildings"]
        >>> plan = p.with_scenario("plan", {"buildings": b.iloc[:2][["id"]].assign(action="demolish")})
        >>> s = plan.scenario("plan")
        >>> s.scenario_id, list(s["buildings"].status.iloc[:2]), s.layers["paths"] is p.layers["paths"]
        ('plan', ['demolished', 'demolished'], True)
        """
        if scenario_id not in self.scenarios:
            sugg = closest(str(scenario_id), self.scenarios)
            raise KeyError(f"project {self.name!r} has no scenario {scenario_id!r}; scenarios: {sorted(self.scenarios) or 'none'}"
                           + (f" (did you mean {sugg!r}?)" if sugg else "")
                           + ("" if self.scenarios else "; declare one as [[scenarios]] in project.toml, or use Project.with_scenario"))
        sc = self.scenarios[scenario_id]
        out = copy.copy(self)
        out.layers = {n: rpatch.apply_patch(g, sc.patches[n]) if n in sc.patches else g for n, g in self.layers.items()}
        out.scenarios = {}
        out.scenario_id = scenario_id
        return out

    def with_scenario(self, scenario_id: str, patches: Mapping[str, gpd.GeoDataFrame | pd.DataFrame], *, label: str = "",
                      label_zh: str = "", description: str = "") -> Project:
        """The project with one more scenario, from patch layers in memory (see :mod:`renewgeo.patches`).

        Parameters
        ----------
        scenario_id : str
            Letters, digits, ``_`` and ``-``.
        patches : mapping of str to GeoDataFrame or DataFrame
            By the name of the layer each changes: rows with ``id``, ``action`` and the
            columns that change (a DataFrame without geometry changes attributes only).
        label, label_zh, description : str
            As in ``[[scenarios]]``.

        Raises
        ------
        ValidationError
            With every problem of every patch.
        """
        report = ValidationReport()
        if not rpatch.SCENARIO_ID.match(str(scenario_id)):
            report.extend([_err("scenarios", f"scenario id {scenario_id!r} is not letters, digits, _ and - (at most 40)",
                                'use a short id such as "plan_a"', None, "bad_scenario")])
        built: dict[str, rpatch.Patch] = {}
        for lname, frame in patches.items():
            if lname not in self.layers:
                sugg = closest(str(lname), self.layers)
                report.extend([_err("scenarios", f"scenario {scenario_id!r} patches layer {lname!r}, which the project does not have",
                                    f"use one of {sorted(self.layers)}" + (f" (did you mean {sugg!r}?)" if sugg else ""), None,
                                    "bad_scenario")])
                continue
            kind = self.kinds[lname]

            def check(f: gpd.GeoDataFrame, kind: str = kind, lname: str = lname) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
                if f.crs is None:
                    return None, [_err(f"scenarios.{scenario_id}.patches.{lname}", "the patch layer has no CRS",
                                       "set it (gdf.set_crs(...)); renewgeo never guesses a CRS", None, "missing_crs")]
                return validate_layer(f.to_crs(self.crs), KINDS[kind], layer=f"scenarios.{scenario_id}.patches.{lname}",
                                      extra_values=self._extra_values())

            patch, probs = rpatch.check_patch(frame, self.layers[lname], kind=kind, layer=lname, scenario=str(scenario_id),
                                              validate=check)
            report.extend(probs)
            if patch is not None:
                built[lname] = patch
        if str(scenario_id) in self.scenarios:
            report.extend([_err("scenarios", f"scenario {scenario_id!r} exists already", "give the new scenario another id", None,
                                "bad_scenario")])
        if report.errors:
            raise ValidationError(report)
        out = copy.copy(self)
        out.scenarios = {**self.scenarios, str(scenario_id): rpatch.Scenario(str(scenario_id), label, label_zh, description, built)}
        return out

    def _extra_values(self) -> dict[str, list[str]]:
        v = self.vocabulary
        return {"category": list(v.get("amenity_categories", [])), "space_type": list(v.get("space_types", [])),
                "constraint_type": list(v.get("constraint_types", []))}

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
        settings: Mapping[str, Mapping[str, Any]] | None = None,
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
        settings : mapping, optional
            Settings by section, as in ``project.toml``: ``{"walk": {"speed_m_s": 1.2}}``.
        thresholds : mapping, optional
            Deprecated: the old ``[thresholds]`` keys (a FutureWarning names the new ones).
        vocabulary : mapping, optional
            As ``[vocabulary]`` in project.toml.
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
        >>> p = rg.Project.from_layers({"buildings": b}, name="toy", settings={"area": {"floor_height_m": 3.5}})
        >>> p.crs.to_epsg(), float(p["buildings"].area.iloc[0]), p.settings.area.floor_height_m
        (4549, 200.0, 3.5)
        """
        report = ValidationReport()
        specs = []
        raw: dict[str, gpd.GeoDataFrame | None] = {}
        for lname, gdf in layers.items():
            spec = LayerSpec(name=lname, kind=(kinds or {}).get(lname, lname), columns=dict((column_maps or {}).get(lname, {})),
                             coords=(coords or {}).get(lname, "wgs84"), repair=repair)
            if spec.kind not in KINDS:
                s = closest(spec.kind, KINDS)
                report.extend([Problem("error", lname, f"unknown layer kind {spec.kind!r}", f"kinds= one of {sorted(KINDS)}"
                                       + (f" (did you mean {s!r}?)" if s else ""), code="unknown_kind")])
                continue
            if not isinstance(gdf, gpd.GeoDataFrame):
                report.extend([Problem("error", lname, f"expected a GeoDataFrame, got {type(gdf).__name__}",
                                       "pass geopandas.GeoDataFrame objects", code="bad_input")])
                raw[lname] = None
            else:
                raw[lname] = gdf
            specs.append(spec)
        for sec in settings or {}:
            if sec not in SECTIONS:
                s_ = closest(str(sec), SECTIONS)
                report.extend([Problem("error", "settings", f"no settings section {sec!r}", f"use one of {sorted(SECTIONS)}"
                                       + (f" (did you mean {s_!r}?)" if s_ else ""), code="unknown_setting")])
        doc = {**{k: v for k, v in (settings or {}).items() if k in SECTIONS}, "targets": list(targets),
               "vocabulary": dict(vocabulary or {})}
        if thresholds is not None:
            doc["thresholds"] = dict(thresholds)
        tables = _Tables.parse(doc, report, None)
        meta = ProjectMeta(name=name, title=title, title_zh=title_zh, crs=crs if isinstance(crs, str | int) else "auto", repair=repair)
        return _assemble(meta, specs=specs, raw=raw, crs_spec=crs, tables=tables, report=report, root=None)


# ---------------------------------------------------------------------- loading
def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """The document and the sha256 of the file's bytes."""
    if path.is_dir():
        path = path / "project.toml"
    if not path.exists():
        raise ProjectFileError(
            f"{path}: no project.toml here. A project is a folder with a project.toml; "
            "renewgeo demo runs the bundled example, whose project.toml shows the form."
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectFileError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Notepad) is fine
    except UnicodeDecodeError:
        try:
            data.decode("gb18030")
            enc = " (it reads as GBK/GB18030, as Windows in China saves text)"
        except UnicodeDecodeError:
            enc = ""
        raise ProjectFileError(f"{path}: is not UTF-8 text{enc}; save it as UTF-8 (in Notepad: Save as, Encoding UTF-8).") from None
    try:
        return tomllib.loads(text), hashlib.sha256(data).hexdigest()
    except tomllib.TOMLDecodeError as exc:
        hint = (' Names with Chinese characters, spaces or dots must be quoted: [layers."用地"].'
                if "Invalid initial character for a key" in str(exc) or "Expected ']'" in str(exc) else "")
        raise ProjectFileError(f"{path}: not valid TOML ({exc}); fix the line named.{hint}") from None


def _err(layer: str, message: str, fix: str, file: str | None, code: str = "bad_project", column: str | None = None) -> Problem:
    return Problem("error", layer, message, fix, column=column, file=file, code=code)


@dataclass
class _Tables:
    """Everything of project.toml but the layers, checked."""

    settings: Settings
    targets_raw: list[Any]
    vocabulary: Vocabulary
    life_circles: list[dict[str, Any]] | None
    rasters_raw: Any

    @classmethod
    def parse(cls, doc: Mapping[str, Any], report: ValidationReport, file: str | None) -> _Tables:
        settings, probs, deprecations = load_settings(doc, doc.get("thresholds"), file)
        report.extend(probs)
        for msg in deprecations:
            warnings.warn(f"{file or 'project settings'}: {msg}", FutureWarning, stacklevel=4)
            report.extend([Problem("warning", "project.toml", msg, "move the key as the message says; "
                                   "renewgeo settings lists every setting", file=file, code="deprecated_setting")])
        vocab, vprobs = parse_record(Vocabulary, doc.get("vocabulary", {}), where="[vocabulary]", file=file, codes=_KEY_CODES,
                                     noun="key")
        report.extend(vprobs)
        targets = doc.get("targets", [])
        if not isinstance(targets, list):
            report.extend([_err("targets", "targets must be [[targets]] tables", "write each target as a [[targets]] table", file,
                                "bad_target")])
            targets = []
        return cls(settings, targets, vocab or Vocabulary(), _parse_life_circles(doc.get("life_circles"), report, file),
                   doc.get("rasters", {}))


def _parse_life_circles(raw: Any, report: ValidationReport, file: str | None) -> list[dict[str, Any]] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        report.extend([_err("life_circles", "life_circles must be [[life_circles]] tables", "write each as [[life_circles]]", file,
                            "bad_life_circle")])
        return None
    out = []
    for i, t in enumerate(raw):
        name = t.get("name", f"#{i + 1}") if isinstance(t, Mapping) else f"#{i + 1}"
        rec, probs = parse_record(LifeCircle, t, where=f"life circle {name!r}:", file=file, codes=("bad_life_circle",) * 3,
                                  noun="key", layer="life_circles")
        report.extend(probs)
        if rec is not None:
            d = {k: v for k, v in dataclasses.asdict(rec).items() if v is not None}
            out.append({**d, "required": [[r] if isinstance(r, str) else list(r) for r in rec.required]})
    return out


_ScenarioParts = list[tuple[ScenarioMeta, list[tuple[LayerSpec, "gpd.GeoDataFrame | None"]]]]


def _parse_scenario(i: int, t: Any, by_name: Mapping[str, LayerSpec], seen: set[str], report: ValidationReport,
                    tomlfile: str) -> tuple[ScenarioMeta, list[LayerSpec]] | None:
    sid = t.get("id", f"#{i + 1}") if isinstance(t, Mapping) else f"#{i + 1}"
    meta, probs = parse_record(ScenarioMeta, t, where=f"scenario {sid!r}:", file=tomlfile, codes=("bad_scenario",) * 3, noun="key",
                               layer="scenarios")
    report.extend(probs)
    if meta is None:
        return None
    bad: list[tuple[str, str]] = []
    if not rpatch.SCENARIO_ID.match(meta.id):
        bad.append((f"scenario id {meta.id!r} is not letters, digits, _ and - (at most 40)", 'use a short id such as id = "plan_a"'))
    elif meta.id in seen:
        bad.append((f"scenario id {meta.id!r} is used twice", "give every [[scenarios]] its own id"))
    if not meta.patches:
        bad.append((f"scenario {meta.id!r} changes nothing", f"add a patch layer: [scenarios.patches.{next(iter(by_name), 'buildings')}] "
                    'with file = "plan.gpkg" under this [[scenarios]]'))
    seen.add(meta.id)
    specs = []
    for lname, tbl in meta.patches.items():
        where = f"[scenarios.patches.{lname}] of scenario {meta.id!r}"
        if lname not in by_name:
            sugg = closest(str(lname), by_name)
            bad.append((f"{where}: the project has no layer {lname!r}", f"patch one of {sorted(by_name)}"
                        + (f" (did you mean {sugg!r}?)" if sugg else "")))
            continue
        if not isinstance(tbl, Mapping) or "kind" in tbl:
            bad.append((f"{where} must be a table with file = ... (its kind is the layer's)", f'write file = "plan.gpkg" under {where}'))
            continue
        base = by_name[lname]
        spec, sprobs = parse_record(LayerSpec, {**tbl, "name": str(lname), "kind": base.kind}, where=where,
                                    file=tomlfile, codes=("bad_scenario",) * 3, noun="key", layer="scenarios")
        report.extend(sprobs)
        if spec is not None:
            specs.append(spec)
    report.extend([_err("scenarios", msg, fix, tomlfile, "bad_scenario") for msg, fix in bad])
    return meta, specs


def _read_scenarios(raw: Any, specs: Sequence[LayerSpec], *, root: Path, allow_network: bool, report: ValidationReport,
                    tomlfile: str) -> _ScenarioParts:
    """The ``[[scenarios]]`` tables checked, and their patch layers read (checked against the baseline later)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        report.extend([_err("scenarios", "scenarios must be [[scenarios]] tables", "write each scenario as a [[scenarios]] table", tomlfile,
                            "bad_scenario")])
        return []
    by_name = {s.name: s for s in specs}
    seen: set[str] = set()
    out: _ScenarioParts = []
    for i, t in enumerate(raw):
        parsed = _parse_scenario(i, t, by_name, seen, report, tomlfile)
        if parsed is None:
            continue
        meta, pspecs = parsed
        parts: list[tuple[LayerSpec, gpd.GeoDataFrame | None]] = []
        for spec in pspecs:
            label = f"[scenarios.patches.{spec.name}] of scenario {meta.id!r}"
            try:
                if spec.file:
                    _, outside = resolve_source(spec.file, root, allow_network=allow_network, what=label)
                    if outside:
                        report.extend([Problem("warning", "scenarios", f"{label} reads {spec.file}, outside the project folder",
                                               _OUTSIDE_FIX, file=tomlfile, code="outside_project")])
                parts.append((spec, _read_spec(spec, root, allow_network)))
            except RenewgeoError as exc:
                report.extend([_err("scenarios", f"{label}: {exc}", f"fix the path or source under {label}", spec.source_label,
                                    "unreadable")])
        out.append((meta, parts))
    return out


def _check_scenarios(parts: _ScenarioParts, layers: Mapping[str, gpd.GeoDataFrame], analysis: CRS, repair: bool,
                     extra_values: Mapping[str, list[str]], report: ValidationReport,
                     specs: Sequence[LayerSpec] = ()) -> list[rpatch.Scenario]:
    """Each patch layer checked against the baseline layer it changes (CRS, schema, ids, actions).

    A patch maps its columns as its own table says, and else as the layer it patches does
    (for the columns it has: a patch carries only what changes).
    """
    mapped = {s.name: s.columns for s in specs}
    out = []
    for meta, patches in parts:
        built: dict[str, rpatch.Patch] = {}
        for spec, raw in patches:
            if raw is None or spec.name not in layers:  # unreadable (reported), or the baseline layer failed (reported)
                continue
            inherited = {k: v for k, v in mapped.get(spec.name, {}).items() if v in raw.columns}
            named = dataclasses.replace(spec, name=f"scenarios.{meta.id}.patches.{spec.name}", columns={**inherited, **spec.columns})

            def check(f: gpd.GeoDataFrame, named: LayerSpec = named) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
                sub = ValidationReport()
                clean = _prepare_layer(named, f, repair, extra_values, sub)
                if clean is not None and not sub.errors and CRS.from_user_input(clean.crs) != analysis:
                    clean = clean.to_crs(analysis)
                return clean, sub.problems

            patch, probs = rpatch.check_patch(raw, layers[spec.name], kind=spec.kind, layer=spec.name, scenario=meta.id,
                                              source=spec.source_label, validate=check)
            report.extend(probs)
            if patch is not None:
                built[spec.name] = patch
        out.append(rpatch.Scenario(meta.id, meta.label, meta.label_zh, meta.description, built))
    return out


def _parse_specs(layers: Any, report: ValidationReport, tomlfile: str) -> list[LayerSpec]:
    if not isinstance(layers, Mapping) or not layers:
        report.extend([_err("project.toml", "no [layers.NAME] tables", "declare at least one layer, e.g. [layers.buildings] with file = ...",
                            tomlfile, "no_layers")])
        return []
    specs = []
    for lname, tbl in layers.items():
        if not isinstance(tbl, Mapping):
            report.extend([_err(lname, f"[layers.{lname}] must be a table", "write it as [layers.NAME] with file = ...", tomlfile)])
            continue
        kind = tbl.get("kind", lname)
        if not isinstance(kind, str) or kind not in KINDS:
            s = closest(str(kind), KINDS)
            report.extend([_err(lname, f"unknown layer kind {kind!r}", f"set kind = one of {sorted(KINDS)}" + (f" (did you mean {s!r}?)" if s else ""),
                                tomlfile, "unknown_kind")])
            continue
        if lname in RESULT_LAYERS:
            report.extend([_err(lname, f"the layer name {lname!r} is the name of a result layer of the "
                                f"{RESULT_LAYERS[lname].analysis} analysis", f"rename [layers.{lname}], e.g. [layers.{lname}_input]",
                                tomlfile, "reserved_name")])
            continue
        spec, probs = parse_record(LayerSpec, {**tbl, "name": str(lname), "kind": kind}, where=f"[layers.{lname}]", file=tomlfile,
                                   codes=_KEY_CODES, noun="key", layer=str(lname))
        report.extend(probs)
        if spec is not None:
            specs.append(spec)
    return specs


_NETWORK = ("/vsicurl", "/vsis3", "/vsigs", "/vsiaz", "/vsiadls", "/vsioss", "/vsiswift", "/vsihdfs", "/vsiwebhdfs",
            "http://", "https://", "ftp://", "s3://", "gs://")
_ARCHIVES = ("/vsizip/", "/vsigzip/", "/vsitar/", "/vsi7z/", "/vsirar/")
_STDIN = ("/vsistdin",)  # GDAL would wait for input that never comes

# What a GDAL XML file (a .vrt whatever its name, or a service description) may hold that reaches the network
_VRT_NETWORK = re.compile(
    r"/vsi(?:curl|s3|gs|az|adls|oss|swift|hdfs|webhdfs|stdin)"
    r"|\b(?:https?|ftp|s3|gs|pg|postgresql|mysql|oci|mssql|odbc|wfs|wms|wmts|wcs|couchdb|mongodb|mongodbv3|elasticsearch|es"
    r"|ngw|eeda|plscenes|carto|amigocloud|csw|oapif|stacit|stacta):",
    re.IGNORECASE,
)
_VRT_ROOTS = (b"<vrtdataset", b"<ogrvrtdatasource")
# XML files that tell GDAL to fetch from a web service: refused whole
_SERVICE_ROOTS = (b"<gdal_wms", b"<gdal_wmts", b"<wcs_gdal", b"<ogrwfsdatasource", b"<ogrwfsdataset")
_VRT_DEPTH = 8
_VRT_MAX_BYTES = 64 * 2**20


@contextlib.contextmanager
def network_fence(allow_network: bool) -> Any:
    """GDAL's own fence around reads of a project that does not allow the network.

    Sets ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS`` to an extension no file has while the
    block runs: GDAL's ``/vsicurl/`` (and the cloud file systems built on it) then
    refuses every URL without a request, whatever reaches it (a ``.vrt`` nested in an
    archive, say). The variable is restored afterwards. It is a second fence: sources
    are checked before reading by :func:`resolve_source`.
    """
    key = "CPL_VSIL_CURL_ALLOWED_EXTENSIONS"
    if allow_network:
        yield
        return
    before = os.environ.get(key)
    os.environ[key] = ".renewgeo-network-refused"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _local_bytes(path: str, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a local file, or of a member of a local zip (``/vsizip/ARCHIVE/MEMBER``); None otherwise."""
    import zipfile

    if path.startswith("/vsizip/"):
        rest = path[len("/vsizip/"):]
        if rest.startswith("{") and "}" in rest:
            archive, member = rest[1:].split("}", 1)
        else:
            cut = next((i for i in range(len(rest)) if rest[i] == "/" and os.path.isfile(rest[:i])), None)
            if cut is None:
                return None
            archive, member = rest[:cut], rest[cut:]
        try:
            with zipfile.ZipFile(archive) as zf, zf.open(member.strip("/")) as fh:
                return fh.read(limit)
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
            return None
    if path.startswith("/vsi") or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _xml_values(text: str) -> list[str]:
    """Every element text and attribute value of an XML document (what GDAL could take for a file name)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return [v.strip() for v in re.findall(r">([^<>]+)<", text) if v.strip()]
    return [v.strip() for el in root.iter() for v in (el.text, *el.attrib.values()) if v and v.strip()]


def _referenced(value: str, folder: str) -> str:
    """The path ``value`` names in a VRT that lives in ``folder`` (relative names are taken from there, as GDAL does)."""
    for prefix in ("/vsizip/", ""):
        if value.startswith(prefix):
            inner = value[len(prefix):]
            if inner and not inner.startswith(("/", "{")) and not re.match(r"^\w+:", inner):
                inner = os.path.join(folder, inner)
            return prefix + inner
    return value  # pragma: no cover - the empty prefix always matches


def _check_gdal_xml(path: str, *, what: str, root: Path | None, seen: set[str], depth: int = 0) -> bool:
    """Refuse a VRT (or GDAL service file) that reaches the network, following the files it names; True when one is outside ``root``.

    Raises
    ------
    ProjectFileError
        The file, or a file it names, would make GDAL fetch from the network or read standard input.
    """
    head = _local_bytes(path, 4096)
    if head is None or path in seen:
        return False
    seen.add(path)
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith(_SERVICE_ROOTS):
        raise ProjectFileError(f"{what} reads {path}, a GDAL web-service description: it fetches from the network. A project folder "
                               "may only read files unless it says so: set allow_network = true under [project] if you trust this source")
    if not low.startswith(b"<") or not any(r in low for r in _VRT_ROOTS):
        return False
    text = (_local_bytes(path, _VRT_MAX_BYTES) or b"").decode("utf-8", "replace")
    found = _VRT_NETWORK.search(text)
    if found is not None:
        hit = found.group(0)
        raise ProjectFileError(f"{what} reads {path}, a GDAL virtual file (VRT) whose sources reach the network ({hit!r}); a project "
                               "folder may only read files unless it says so: set allow_network = true under [project] if you trust "
                               "this source, or point the VRT at local files")
    if depth >= _VRT_DEPTH:
        raise ProjectFileError(f"{what} reads {path}, a VRT nested more than {_VRT_DEPTH} deep; point it at the files themselves")
    folder = os.path.dirname(path[len("/vsizip/"):] if path.startswith("/vsizip/") else path)
    outside = False
    for value in _xml_values(text):
        ref = _referenced(value, folder)
        if _local_bytes(ref, 1) is None:
            continue
        outside |= _outside(ref, root)
        outside |= _check_gdal_xml(ref, what=what, root=root, seen=seen, depth=depth + 1)
    return outside


def _outside(path: str, root: Path | None) -> bool:
    """Whether ``path`` (plain or ``/vsizip/``) is outside ``root``, links followed (a link inside pointing out is outside)."""
    if root is None:
        return False
    local = path[len(next((a for a in _ARCHIVES if path.startswith(a)), "")):]
    if local.startswith("{") and "}" in local:
        local = local[1:].split("}", 1)[0]
    top = os.path.realpath(root)
    return not os.path.realpath(local).startswith(top.rstrip(os.sep) + os.sep)


def _where(file: str, source: str) -> str:
    """``file`` as written, with where it really is when a symbolic link leads elsewhere."""
    local = source[len(next((a for a in _ARCHIVES if source.startswith(a)), "")):]
    real = os.path.realpath(local)
    return f"{file} (a link to {real})" if not local.startswith("/vsi") and real != os.path.abspath(local) else file


def resolve_source(file: str, root: Path | None, *, allow_network: bool, what: str) -> tuple[str, bool]:
    """Where a ``file = ...`` of project.toml points, and whether that is outside the project folder.

    Relative paths (also inside ``/vsizip/`` and the other archive prefixes) are taken
    from the project folder; network sources are refused unless ``allow_network``, and
    so is a local VRT (or GDAL web-service file) that would reach the network, checked
    before GDAL opens it, with every file it names. ``/vsistdin/`` is always refused.
    A path is outside the project folder when its real location is (a symbolic link
    inside the folder that points elsewhere is outside; so is a VRT naming a file elsewhere).

    Raises
    ------
    ProjectFileError
        A network source without ``[project] allow_network = true``, or standard input.

    Examples
    --------
    >>> from pathlib import Path
    >>> resolve_source("/vsizip/dem.zip/dem.hgt", Path("/p"), allow_network=False, what="[rasters.dem]")
    ('/vsizip//p/dem.zip/dem.hgt', False)
    """
    low = file.lower()
    if any(tok in low for tok in _STDIN):
        raise ProjectFileError(f"{what} reads {file!r}, standard input, which would wait for ever; name a file instead")
    if any(tok in low for tok in _NETWORK):
        if not allow_network:
            raise ProjectFileError(f"{what} reads {file!r} from the network; a project folder may only read files unless it says so: "
                                   "set allow_network = true under [project] if you trust this source")
        return file, True
    prefix = next((a for a in _ARCHIVES if file.startswith(a)), "")
    inner = file[len(prefix):]
    path = Path(inner)
    if root is not None and not path.is_absolute() and not inner.startswith("/vsi"):
        path = root / path
    source = prefix + str(path)
    outside = _outside(source, root)
    if not allow_network and prefix in ("", "/vsizip/"):
        outside |= _check_gdal_xml(source, what=what, root=root, seen=set())
    return source, outside


def _read_spec(spec: LayerSpec, root: Path, allow_network: bool,
               dropped: list[rio.DroppedFeatures] | None = None) -> gpd.GeoDataFrame:
    if spec.table or spec.sql:
        dsn = spec.dsn or (os.environ.get(spec.dsn_env) if spec.dsn_env else None)
        if not dsn:
            raise ProjectFileError(
                f'layer {spec.name!r} reads PostGIS but has no connection: set dsn = "postgresql://..." or '
                f'dsn_env = "VAR" under [layers.{spec.name}]' + (f" (variable {spec.dsn_env} is not set)" if spec.dsn_env else "")
            )
        rio.check_dsn(dsn, what=f"[layers.{spec.name}]", variable=None if spec.dsn else spec.dsn_env, allow_network=allow_network)
        return rio.read_postgis(dsn, table=spec.table, sql=spec.sql, geom_col=spec.geom_col)
    if not spec.file:
        raise ProjectFileError(
            f'layer {spec.name!r} names no source: give file = "..." (or table = and dsn = for PostGIS) under [layers.{spec.name}]'
        )
    path, _ = resolve_source(spec.file, root, allow_network=allow_network, what=f"[layers.{spec.name}]")
    return rio.read_layer(path, layer=spec.layer, osm=spec.osm, where=spec.where, dropped=dropped)


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


# ---------------------------------------------------------------------- targets
def _parse_targets(raw: Sequence[Any], layers: Mapping[str, gpd.GeoDataFrame], kinds: Mapping[str, str], report: ValidationReport,
                   tomlfile: str | None, failed: Mapping[str, str] | None = None) -> list[Target]:
    """The targets, checked against the layers.

    ``failed`` (name -> kind) are layers that could not be read: their targets are left
    unchecked (the read error says what is wrong, without a follow-on error per target).
    """
    blind = {*(failed or {}), *(failed or {}).values()}
    out: list[Target] = []
    seen: set[str] = set()
    for i, t in enumerate(raw):
        tid = str(t.get("id", f"#{i + 1}")) if isinstance(t, Mapping) else f"#{i + 1}"
        target, probs = parse_record(Target, t, where=f"target {tid!r}:", file=tomlfile, codes=_TARGET_CODES, noun="key",
                                     layer="targets")
        report.extend(probs)
        checked = target or _partial_target(t, tid)
        if checked is None or checked.layer in blind or (checked.layer in RESULT_LAYERS and RESULT_LAYERS[checked.layer].kind in blind):
            continue
        if tid in seen:
            report.extend([_err("targets", f"target {tid!r}: id used twice", "give every target its own id", tomlfile, "bad_target")])
        seen.add(tid)
        problems = _check_target(checked, layers, kinds)
        report.extend([_err("targets", f"target {tid!r}: {msg}", fix, tomlfile, code, col) for msg, fix, code, col in problems])
        if target is not None and not problems:
            out.append(target)
    return out


def _partial_target(t: Any, tid: str) -> Target | None:
    """The parts of a target with type errors that can still be checked against the layers."""
    if not isinstance(t, Mapping) or not isinstance(t.get("layer"), str):
        return None
    raw_measure = t.get("measure")
    measure = raw_measure if isinstance(raw_measure, str) else "count"
    where = dict(t["where"]) if isinstance(t.get("where"), Mapping) else {}
    return Target(id=tid, layer=t["layer"], measure=measure, value=0.0, unit="count", where=where)


def _target_frame(lname: str, layers: Mapping[str, gpd.GeoDataFrame], kinds: Mapping[str, str]) -> tuple[pd.DataFrame | None, set[str]]:
    """The rows a target's layer stands for (None for a result layer made from no input kind) and the columns analyses add."""
    if lname in layers:
        return layers[lname], set(derived_columns(kinds.get(lname, lname)))
    if lname in RESULT_LAYERS:
        rl = RESULT_LAYERS[lname]
        names = [n for n, k in kinds.items() if k == rl.kind]
        base = layers[names[0]] if len(names) == 1 else None
        return base, set(rl.columns) | set(derived_columns(rl.kind))
    names = [n for n, k in kinds.items() if k == lname]
    if len(names) == 1:
        return layers[names[0]], set(derived_columns(lname))
    return None, set()


def _check_target(t: Target, layers: Mapping[str, gpd.GeoDataFrame], kinds: Mapping[str, str]) -> list[tuple[str, str, str, str | None]]:
    """Problems of one parsed target against the project's layers: (message, fix, code, column)."""
    gdf, derived = _target_frame(t.layer, layers, kinds)
    if gdf is None and t.layer in RESULT_LAYERS and RESULT_LAYERS[t.layer].kind in KINDS:
        kind = RESULT_LAYERS[t.layer].kind
        return [(f"names the result layer {t.layer!r}, which needs exactly one {kind!r} layer",
                 f"add one [layers.NAME] of kind {kind!r}", "unknown_layer", None)]
    if gdf is None and t.layer not in RESULT_LAYERS:
        s = closest(t.layer, [*layers, *kinds.values(), *RESULT_LAYERS])
        return [(f"names layer {t.layer!r}, which the project does not have",
                 f"use one of {sorted(layers)} or a result layer {sorted(RESULT_LAYERS)}" + (f" (did you mean {s!r}?)" if s else ""),
                 "unknown_layer", None)]
    out: list[tuple[str, str, str, str | None]] = []
    m = _MEASURE.match(t.measure)
    if not m:
        out.append((f"measure {t.measure!r} is not understood", "use count, area, length, gfa or sum(COLUMN)", "bad_target", None))
    needed = list(t.where) + ([m.group("col")] if m and m.group("col") else [])
    own = [c for c in gdf.columns if c != getattr(gdf, "geometry", pd.Series()).name] if gdf is not None else []
    for c in needed:
        if c in own or any(fnmatch.fnmatchcase(c, pat) for pat in derived):
            continue
        s = closest(c, [*own, *(d for d in derived if "*" not in d)])
        out.append((f"uses column {c!r}, which layer {t.layer!r} does not have",
                    "use a column of the layer" + (f" (did you mean {s!r}?)" if s else f": {sorted(own) or sorted(derived)}"),
                    "unknown_column", c))
    return out


def _empty_filters(targets: Sequence[Target], layers: Mapping[str, gpd.GeoDataFrame], tomlfile: str | None) -> list[Problem]:
    """Warnings for targets whose filter matches no feature of an input layer (the ledger would show 0)."""
    out = []
    for t in targets:
        g = layers.get(t.layer)
        if g is None or not t.where or any(c not in g.columns for c in t.where):
            continue
        hit = pd.Series(True, index=g.index)
        for col, val in t.where.items():
            vals = [str(v) for v in (val if isinstance(val, list | tuple) else [val])]
            hit &= g[col].astype("string").isin(vals).fillna(False).astype(bool)
        if not hit.any():
            out.append(Problem("warning", "targets", f"target {t.id!r}: its filter matches no feature of layer {t.layer!r}",
                               f"check the values in where = {dict(t.where)} against the layer's values", file=tomlfile,
                               code="empty_filter"))
    return out


# ---------------------------------------------------------------------- rasters
# An "other" raster NAME makes the tables NAME_by_zone and NAME_by_site; these names would take another analysis' tables
_RASTER_TABLE_STEMS = {"area": "area", "density": "area", "slope": "raster (slope of the dem)", "greenness": "raster (NDVI)"}
def _parse_rasters(tables: Any, root: Path | None, tomlfile: str | None, report: ValidationReport,
                   allow_network: bool = False) -> dict[str, RasterSpec]:
    """``[rasters.NAME]`` tables: file, band (1), role (dem, red, nir, other; default by name)."""
    out: dict[str, RasterSpec] = {}
    if not isinstance(tables, Mapping):
        report.extend([_err("rasters", "[rasters] must hold [rasters.NAME] tables", 'e.g. [rasters.dem] file = "dem.tif"', tomlfile)])
        return out
    for name, t in tables.items():
        table = {"role": name if name in RASTER_ROLES else "other", **t} if isinstance(t, Mapping) else t
        spec, probs = parse_record(RasterSpec, table, where=f"[rasters.{name}]", file=tomlfile, codes=_KEY_CODES, noun="key",
                                   layer=str(name))
        report.extend(probs)
        if spec is None:
            continue
        if spec.role == "other" and str(name) in _RASTER_TABLE_STEMS:
            report.extend([_err(name, f"an 'other' raster named {name!r} makes the tables {name}_by_zone and {name}_by_site, names "
                                f"the {_RASTER_TABLE_STEMS[str(name)]} analysis uses for its own tables",
                                f"rename [rasters.{name}], e.g. [rasters.{name}_raster]", tomlfile, "reserved_name")])
            continue
        try:
            path, outside = resolve_source(spec.file, root, allow_network=allow_network, what=f"[rasters.{name}]")
        except ProjectFileError as exc:
            report.extend([_err(name, str(exc), "read a file instead, or allow the network", tomlfile, "network_source")])
            continue
        if outside:
            report.extend([Problem("warning", name, f"reads {_where(spec.file, path)}, outside the project folder", _OUTSIDE_FIX, file=tomlfile,
                                   code="outside_project")])
        if not path.startswith("/vsi") and not Path(path).exists():
            report.extend([_err(name, f"raster file {path} does not exist", f"fix file = under [rasters.{name}]", tomlfile, "unreadable")])
            continue
        out[name] = dataclasses.replace(spec, path=path)
    return out


# ---------------------------------------------------------------------- assembly
def _prepare_layer(spec: LayerSpec, gdf: gpd.GeoDataFrame, repair: bool, extra_values: Mapping[str, list[str]],
                   report: ValidationReport) -> gpd.GeoDataFrame | None:
    """One raw layer: CRS declared or refused, GCJ-02 converted, validated against its kind."""
    label = spec.source_label
    if gdf.crs is None:
        if not spec.crs:
            report.extend([_err(spec.name, "the layer has no CRS",
                                f'set it at the source, or declare it: crs = "EPSG:4549" under [layers.{spec.name}] '
                                "(or gdf.set_crs(...) in Python); renewgeo never guesses a CRS", label, "missing_crs")])
            return None
        try:
            gdf = gdf.set_crs(rcrs.resolve_crs(spec.crs, what=f"[layers.{spec.name}] crs"))
        except CRSError as exc:
            report.extend([_err(spec.name, str(exc), "fix the crs value", label, "bad_crs")])
            return None
    if spec.coords == "gcj02":
        if not CRS.from_user_input(gdf.crs).is_geographic:
            report.extend([_err(spec.name, f'coords = "gcj02" but the layer is in {gdf.crs.to_string()}, not longitude/latitude',
                                "GCJ-02 applies to lon/lat data from AMap/Gaode/Tencent; remove coords or check the file", label,
                                "bad_crs")])
            return None
        gdf = rcrs.gcj02_to_wgs84_gdf(gdf, layer=spec.name)
        log.info("layer %s: %d features converted from GCJ-02 to WGS 84", spec.name, len(gdf))
    clean, probs = validate_layer(gdf, KINDS[spec.kind], layer=spec.name, file=label, column_map=spec.columns,
                                  repair=repair if spec.repair is None else spec.repair, extra_values=extra_values)
    report.extend(probs)
    return clean


def _bounds(g: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    geoms = g.geometry[~(g.geometry.isna() | g.geometry.is_empty)]
    geoms = geoms[~absurd_coordinates(geoms.values)]  # reported on their own; they must not decide the layer's CRS
    return tuple(float(v) for v in geoms.total_bounds) if len(geoms) else None  # type: ignore[return-value]


def _implausible(checked: dict[str, gpd.GeoDataFrame], specs: Sequence[LayerSpec], report: ValidationReport) -> None:
    """Layers whose coordinates cannot be in their CRS: an error naming the likely CRS (the layer is left out)."""
    boxes = {n: (b, rcrs.coordinate_problem(b, g.crs)) for n, g in checked.items() if (b := _bounds(g)) is not None}
    good = [rcrs.lonlat_box(b, checked[n].crs) for n, (b, why) in boxes.items() if why is None]
    good_boxes = [x for x in good if x is not None]
    near = (min(x[0] for x in good_boxes), min(x[1] for x in good_boxes), max(x[2] for x in good_boxes),
            max(x[3] for x in good_boxes)) if good_boxes else None
    label = {s.name: s.source_label for s in specs}
    for name, (b, why) in boxes.items():
        if why is None:
            continue
        cands = rcrs.likely_crs(b, near=near)
        hint = (f"its coordinates fit {', '.join(cands)}" + (" (where the other layers are)" if near else "") + "; "
                if cands else "")
        report.extend([_err(name, f"{why}: the CRS the file declares is wrong", f"{hint}declare the right one with crs = \"EPSG:xxxx\" "
                            f"under [layers.{name}] (it overrides the file's), or fix the file", label.get(name), "wrong_crs")])
        del checked[name]


def _gcj02_suspects(layers: Mapping[str, gpd.GeoDataFrame], specs: Sequence[LayerSpec], crs: CRS,
                    report: ValidationReport) -> None:
    """Warn about a layer in China that sits where GCJ-02 coordinates would put it, off the project's other layers."""
    declared = {s.name for s in specs if s.coords == "gcj02"}
    for name, g in layers.items():
        others = [o for n, o in layers.items() if n != name and len(o)]
        if name in declared or len(g) < 3 or not others:
            continue
        shift = _gcj02_fit(g, others, crs)
        if shift is not None:
            d_before, d_after = shift
            report.extend([Problem(
                "warning", name, f"the layer sits {d_before:,.0f} m (median) from the project's other layers, and "
                f"{d_after:,.0f} m once read as GCJ-02 coordinates (AMap/Gaode/Tencent)",
                f'if the data comes from a Chinese web map, set coords = "gcj02" under [layers.{name}]', code="gcj02_suspect")])


def _gcj02_fit(g: gpd.GeoDataFrame, others: Sequence[gpd.GeoDataFrame], crs: CRS) -> tuple[float, float] | None:
    """Median distance of the layer's points to the other layers, as they are and moved from GCJ-02; None unless moving fits far better.

    Data in WGS 84 only gets farther from layers in WGS 84 when moved, so a layer that
    moves onto the others (at least 25 m off, then at most half as far) was in GCJ-02.
    """
    geoms = g.geometry[~(g.geometry.isna() | g.geometry.is_empty)]
    pts = geoms[~absurd_coordinates(geoms.values)].representative_point()
    if not len(pts):
        return None
    pts = pts.sample(min(len(pts), 500), random_state=0) if len(pts) > 500 else pts
    web = gpd.GeoSeries(pts.values, crs=crs).to_crs(4326)
    lon, lat = web.x.to_numpy(), web.y.to_numpy()
    if not rcrs.in_china(float(np.median(lon)), float(np.median(lat))):
        return None
    ref = np.concatenate([o.geometry.values[~(o.geometry.isna() | o.geometry.is_empty).to_numpy()][:20000] for o in others])
    ref = ref[~absurd_coordinates(ref)]
    tree = shapely.STRtree(ref)
    moved = gpd.GeoSeries(shapely.points(*rcrs.gcj02_to_wgs84(lon, lat)), crs=4326).to_crs(crs).values

    def median_distance(p: Any) -> float:
        _, d = tree.query_nearest(p, return_distance=True, all_matches=False)
        return float(np.median(d))

    before, after = median_distance(pts.values), median_distance(moved)
    return (before, after) if before > 25 and after < 0.5 * before else None


def _analysis_crs(crs_spec: Any, checked: Mapping[str, gpd.GeoDataFrame], report: ValidationReport, tomlfile: str | None) -> CRS | None:
    try:
        if isinstance(crs_spec, str) and crs_spec.lower() == "auto":
            analysis = _auto_crs(checked) if checked else None
        else:
            analysis = rcrs.resolve_crs(crs_spec, what="project crs")
    except CRSError as exc:
        report.extend([_err("project", str(exc), 'set [project] crs = "EPSG:xxxx" (a projected CRS in metres)', tomlfile, "bad_crs")])
        return None
    if analysis is not None and (analysis.is_geographic or any(ax.unit_name not in ("metre", "meter") for ax in analysis.axis_info)):
        report.extend([_err("project", f"the analysis CRS {analysis.to_string()} is in {analysis.axis_info[0].unit_name}s, "
                            "but areas, lengths and walking distances need metres",
                            'set [project] crs = "auto" (CGCS2000 GK zone in China, UTM elsewhere) or a projected EPSG code such as "EPSG:4549"',
                            tomlfile, "crs_degrees")])
        return None
    return analysis


def _check_sections(settings: Settings, kinds: Mapping[str, str], vocabulary: Vocabulary, report: ValidationReport,
                    tomlfile: str | None) -> None:
    vocab = dataclasses.asdict(vocabulary)
    for name, sec in settings.sections().items():
        for msg in sec.check(kinds, vocab):
            report.extend([_err("project.toml", f"[{name}] {msg}", "see renewgeo.settings.describe() for the setting", tomlfile,
                                "bad_setting")])


def _check_setting_files(settings: Settings, root: Path | None, allow_network: bool, report: ValidationReport,
                         tomlfile: str | None) -> None:
    """The files settings sections name (the scorecard's library and inputs): read now, so `validate` finds their problems."""
    for name, sec in settings.sections().items():
        for fp in sec.check_files(root, allow_network=allow_network):
            report.extend([Problem(fp.severity, "project.toml", f"[{name}] {fp.message}", fp.fix, file=tomlfile, code=fp.code)])


def _assemble(
    meta: ProjectMeta,
    *,
    specs: Sequence[LayerSpec],
    raw: Mapping[str, gpd.GeoDataFrame | None],
    crs_spec: Any,
    tables: _Tables,
    report: ValidationReport,
    root: Path | None,
    tomlfile: str | None = None,
    toml_sha256: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    scenarios: _ScenarioParts = (),  # type: ignore[assignment]
) -> Project:
    """Shared by load_project and Project.from_layers: CRS, GCJ-02, validation, reprojection, targets, scenarios."""
    rasters = _parse_rasters(tables.rasters_raw, root, tomlfile, report, meta.allow_network)
    vocab = tables.vocabulary
    extra_values = {"category": list(vocab.amenity_categories), "space_type": list(vocab.space_types),
                    "constraint_type": list(vocab.constraint_types)}
    checked: dict[str, gpd.GeoDataFrame] = {}
    for spec in specs:
        gdf = raw.get(spec.name)
        clean = _prepare_layer(spec, gdf, meta.repair, extra_values, report) if gdf is not None else None
        if clean is not None:
            checked[spec.name] = clean
    _implausible(checked, specs, report)
    kinds = {s.name: s.kind for s in specs if s.name in checked}
    analysis = _analysis_crs(crs_spec, checked, report, tomlfile)
    out_layers: dict[str, gpd.GeoDataFrame] = {}
    if analysis is not None:
        for lname, g in checked.items():
            if CRS.from_user_input(g.crs) != analysis:
                log.info("layer %s reprojected from %s to %s", lname, g.crs.to_string(), analysis.to_string())
                g = g.to_crs(analysis)
            out_layers[lname] = g
        _gcj02_suspects(out_layers, specs, analysis, report)
    failed = {s.name: s.kind for s in specs if s.name not in checked}
    targets = _parse_targets(tables.targets_raw, out_layers or checked, kinds, report, tomlfile, failed)
    report.extend(_empty_filters(targets, out_layers or checked, tomlfile))
    layer_kinds = {s.name: s.kind for s in specs}
    _check_sections(tables.settings, layer_kinds, vocab, report, tomlfile)
    if overrides:
        tables.settings, probs = tables.settings.checked_override(overrides, layers=layer_kinds, vocabulary=dataclasses.asdict(vocab),
                                                                  source="command line")
        report.extend(probs)
    if not report.errors:
        _check_setting_files(tables.settings, root, meta.allow_network, report, tomlfile)
    built = _check_scenarios(scenarios, out_layers, analysis, meta.repair, extra_values, report, specs) if analysis is not None else []
    if report.errors or analysis is None:
        raise ValidationError(report)
    for w in report.warnings:
        log.warning("%s", w.format())
    return Project(
        name=meta.name, title=meta.title, title_zh=meta.title_zh, root=root, crs=analysis, layers=out_layers, kinds=kinds,
        targets=targets, settings=tables.settings, vocabulary={k: list(v) for k, v in dataclasses.asdict(vocab).items() if v},
        sources={s.name: s.source_label for s in specs}, report=report, illustrative=meta.illustrative,
        life_circles=tables.life_circles, rasters=rasters, toml_sha256=toml_sha256, overrides=overrides,
        allow_network=meta.allow_network, scenarios=built,
    )


def _check_top(doc: Mapping[str, Any], report: ValidationReport, tomlfile: str) -> ProjectMeta:
    known = [*_TABLES, *SECTIONS]
    for k in doc:
        if k not in known:
            s = closest(k, known)
            report.extend([_err("project", f"unknown table [{k}] in project.toml",
                                f"use [project], [layers.NAME], [[targets]], {', '.join(f'[{n}]' for n in SECTIONS)}, [vocabulary], "
                                "[[life_circles]], [rasters.NAME], [[scenarios]]" + (f" (did you mean [{s}]?)" if s else ""), tomlfile)])
    meta, probs = parse_record(ProjectMeta, doc.get("project", {}), where="[project]", file=tomlfile, codes=_KEY_CODES, noun="key",
                               layer="project")
    report.extend(probs)
    return meta or ProjectMeta()


def _load(path: str | os.PathLike[str], *, repair: bool | None, overrides: Mapping[str, Any] | None = None) -> Project:
    p = Path(path)
    tomlpath = p / "project.toml" if p.is_dir() else p
    root = tomlpath.parent
    doc, sha = _read_toml(tomlpath)
    tomlfile = str(tomlpath)
    report = ValidationReport()
    meta = _check_top(doc, report, tomlfile)
    if repair is not None:
        meta = dataclasses.replace(meta, repair=repair)
    if not meta.name:
        meta = dataclasses.replace(meta, name=root.name)
    specs = _parse_specs(doc.get("layers"), report, tomlfile)
    with network_fence(meta.allow_network):
        return _load_layers(meta, specs, root=root, tomlfile=tomlfile, report=report, doc=doc, sha=sha, overrides=overrides)


def _load_layers(meta: ProjectMeta, specs: Sequence[LayerSpec], *, root: Path, tomlfile: str, report: ValidationReport,
                 doc: Mapping[str, Any], sha: str | None, overrides: Mapping[str, Any] | None) -> Project:
    """Read every layer of ``specs`` and assemble the project (inside the network fence)."""
    raw: dict[str, gpd.GeoDataFrame | None] = {}
    for spec in specs:
        if spec.file:
            with contextlib.suppress(ProjectFileError):  # a refused network source is reported by the read below
                source, outside = resolve_source(spec.file, root, allow_network=meta.allow_network, what=f"[layers.{spec.name}]")
                if outside:
                    report.extend([Problem("warning", spec.name, f"reads {_where(spec.file, source)}, outside the project folder", _OUTSIDE_FIX,
                                           file=tomlfile, code="outside_project")])
        dropped: list[rio.DroppedFeatures] = []
        try:
            raw[spec.name] = _read_spec(spec, root, meta.allow_network, dropped)
        except RenewgeoError as exc:
            report.extend([_err(spec.name, str(exc), f"fix the path or source under [layers.{spec.name}]", spec.source_label, "unreadable")])
            raw[spec.name] = None
        report.extend([Problem("warning", spec.name, f"{len(d.ids)} feature(s) left out on reading: {d.reason}",
                               "fix them in OSM (iD, JOSM) or cut the extract anew; the rest of the layer loaded",
                               rows=d.ids, file=spec.source_label, code="dropped_on_read") for d in dropped])
    tables = _Tables.parse(doc, report, tomlfile)
    scenarios = _read_scenarios(doc.get("scenarios"), specs, root=root, allow_network=meta.allow_network, report=report, tomlfile=tomlfile)
    return _assemble(meta, specs=specs, raw=raw, crs_spec=meta.crs, tables=tables, report=report, root=root, tomlfile=tomlfile,
                     toml_sha256=sha, overrides=overrides, scenarios=scenarios)


def load_project(path: str | os.PathLike[str], *, repair: bool | None = None, overrides: Mapping[str, Any] | None = None) -> Project:
    """Load and validate a project folder (or its ``project.toml``).

    Parameters
    ----------
    path : path-like
        The project folder, or the ``project.toml`` itself.
    repair : bool, optional
        Override ``[project] repair``: repair invalid geometries with
        :func:`shapely.make_valid` (each repair is listed as a warning).
    overrides : mapping, optional
        ``{"section.key": value}`` on top of project.toml, checked the same way
        (what ``renewgeo run --set walk.speed_m_s=1.2`` passes).

    Returns
    -------
    Project

    Raises
    ------
    ProjectFileError
        ``project.toml`` is missing or not TOML.
    ValidationError
        With every problem found in every table and layer, when any is an error.

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> p.crs.to_epsg(), len(p["buildings"]), p.settings.area.floor_height_m_by_use["industrial"]
    (4549, 26, 4.5)
    """
    return _load(path, repair=repair, overrides=overrides)


def validate_project(path: str | os.PathLike[str], *, repair: bool | None = None,
                     overrides: Mapping[str, Any] | None = None) -> ValidationReport:
    """Validate a project and return the full report instead of raising.

    Examples
    --------
    >>> import renewgeo as rg
    >>> rg.validate_project(rg.datasets.get_path("chuangchuangyi")).ok
    True
    """
    try:
        return _load(path, repair=repair, overrides=overrides).report
    except ValidationError as exc:
        return exc.report

