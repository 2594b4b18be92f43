"""The Green FTZ (绿色自贸) scorecard: indicators as data, computed from the layers, checked at seven stages.

The indicator library (``renewgeo/data/indicators/green_ftz.toml``) is renewgeo's
reconstruction of the unpublished Qingdao FTZ green-development indicator system: 12
categories, each indicator with its source clause, unit, direction, the approval stages it
applies to with a threshold per stage, and how it is computed, either a named *measure*
over the project's layers and analysis results or a column of a tabular *input* CSV.

The analysis ``scorecard`` (``renewgeo scorecard PROJECT [--stage S]``) runs after the
analyses its measures read (area, walk, release, raster: those the project allows) and
returns the table ``scorecard`` (one row per indicator x scope x stage, status ``pass``,
``fail``, ``unavailable`` or ``not_applicable``) and ``scorecard_stages`` (per stage: the
counts, whether it passes, the indicators that block it). :func:`scorecard` does the same
from Python and returns a :class:`ScorecardResult`.

``[scorecard]`` in project.toml::

    [scorecard]
    stage = "scheme_review"               # one stage; unset = all seven
    library = "my_indicators.toml"        # [[indicators]] that add to or replace the built-in ones by id
    inputs_file = "indicator_inputs.csv"  # scope, source, then one column per input
    thresholds = { far = { land_supply = 1.2 } }   # per indicator, stage = threshold (replaces the library's)

A missing need (layer, column, raster, analysis that did not run, input column) makes an
indicator ``unavailable`` with a ``why`` saying what data would fill it, never 0; an empty
denominator (no residents, no protected buildings in the scope) makes it ``not_applicable``.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renewgeo import raster
from renewgeo._errors import ProjectFileError, RenewgeoError
from renewgeo._validate import Problem, closest
from renewgeo.analysis import REGISTRY, Analysis, Context, Result, register
from renewgeo.area import density, targets_ledger
from renewgeo.network import WALKABLE_POLYGONS
from renewgeo.project import Project, resolve_source
from renewgeo.settings import FileProblem, Section, parse_record, section, setting
from renewgeo.units import true_area_m2

__all__ = [
    "DIRECTIONS",
    "MEASURES",
    "STAGE_IDS",
    "STATUSES",
    "Category",
    "Indicator",
    "Library",
    "Measure",
    "ScorecardResult",
    "ScorecardSettings",
    "Stage",
    "compare",
    "compute",
    "evaluate_measure",
    "load_library",
    "read_inputs",
]

log = logging.getLogger(__name__)

STAGE_IDS = ("investment", "land_supply", "scheme_review", "drawing_review", "tendering", "completion", "operation")
"""The seven approval stages, in order."""
DIRECTIONS = ("at_least", "at_most")
STATUSES = ("pass", "fail", "unavailable", "not_applicable")
SCOPES = ("project", "site")
UPSTREAM = ("area", "walk", "release", "raster")
"""The analyses whose results the measures read (those the project allows run first)."""

_LIB_CODES = ("bad_indicator_library",) * 3


# ------------------------------------------------------------------------------ settings
@section
@dataclass(frozen=True)
class ScorecardSettings(Section):
    """``[scorecard]``: the stage to check, a project indicator library, the tabular inputs, stage thresholds."""

    name: ClassVar[str] = "scorecard"
    title: ClassVar[str] = "Green FTZ indicator scorecard"

    stage: str | None = setting(None, "the approval stage to check (unset: all seven)", choices=STAGE_IDS, example='"scheme_review"')
    library: str | None = setting(None, "a TOML file (relative to the project folder) whose [[indicators]] add to or replace the "
                                        "built-in ones by id", example='"indicators.toml"')
    inputs_file: str | None = setting(None, "a CSV of tabular inputs (relative to the project folder): scope, source, one column "
                                            "per input", example='"indicator_inputs.csv"')
    thresholds: dict[str, dict[str, float]] = setting({}, "stage thresholds per indicator id, replacing the library's: "
                                                          "{ far = { land_supply = 1.2 } }", example="{ far = { land_supply = 1.2 } }")

    def check(self, layers: Mapping[str, str], vocabulary: Mapping[str, Any]) -> list[str]:
        """Stage names in ``thresholds`` must be stage ids, and (without a project ``library``) indicator ids of the built-in one."""
        out = []
        known = {i.id for i in load_library().indicators} if self.thresholds and self.library is None else None
        for ind in self.thresholds:
            if known is not None and ind not in known:
                s = closest(ind, sorted(known))
                out.append(f"thresholds names no indicator {ind!r}" + (f" (did you mean {s!r}?)" if s else
                                                                          "; the ids are in renewgeo/data/indicators/green_ftz.toml"))
        for ind, stages in self.thresholds.items():
            for st in stages:
                if st not in STAGE_IDS:
                    s = closest(st, STAGE_IDS)
                    out.append(f"thresholds.{ind} names no stage {st!r}" + (f" (did you mean {s!r}?)" if s else f"; stages: {list(STAGE_IDS)}"))
        return out


    def check_files(self, root: Path | None, *, allow_network: bool) -> list[FileProblem]:
        """The ``library`` and ``inputs_file``: found, inside the project (else a warning), and well formed."""
        out: list[FileProblem] = []
        lib = None
        paths = {}
        for key in ("library", "inputs_file"):
            file = getattr(self, key)
            if file is None:
                continue
            try:
                path, outside = resolve_source(file, root, allow_network=False, what=f"[scorecard] {key}")
            except ProjectFileError as exc:
                out.append(FileProblem(str(exc), f"name a file in the project folder under [scorecard] {key}"))
                continue
            if outside:
                out.append(FileProblem(f"{key} reads {file}, outside the project folder", "copy it into the project folder if it "
                                       "belongs to the project", severity="warning", code="outside_project"))
            if not Path(path).is_file():
                out.append(FileProblem(f"{key} = {file!r}: no such file ({path})", f"fix [scorecard] {key}, or remove it"))
                continue
            paths[key] = path
        try:
            lib = load_library(paths.get("library")) if "library" in paths or "inputs_file" in paths else None
        except ProjectFileError as exc:
            out.append(FileProblem(str(exc), "fix the indicator library file named by [scorecard] library"))
        if "inputs_file" in paths and lib is not None:
            try:
                read_inputs(paths["inputs_file"], scopes=None, numeric=_input_names(lib))
            except ProjectFileError as exc:
                out.append(FileProblem(str(exc), "fix the CSV named by [scorecard] inputs_file"))
        return out


# ------------------------------------------------------------------------------ the library
@dataclass(frozen=True)
class Stage:
    """One approval stage (``[[stages]]``)."""

    id: str = setting(doc="stage id", choices=STAGE_IDS)
    name_zh: str = setting(doc="Chinese name")
    name_en: str = setting(doc="English name")


@dataclass(frozen=True)
class Category:
    """One of the twelve categories (``[[categories]]``)."""

    id: str = setting(doc="category id")
    name_zh: str = setting(doc="Chinese name")
    name_en: str = setting(doc="English name")
    iso37101: str = setting("", "the ISO 37101:2016 issue it follows")
    standards: tuple[str, ...] = setting((), "the Chinese and international standards that govern it")


@dataclass(frozen=True)
class Measure:
    """A named measure (``[[measures]]``): what it needs, its parameters, its formula."""

    name: str = setting(doc="measure name (a function in renewgeo.scorecard.MEASURES)")
    needs: tuple[str, ...] = setting((), "layer:KIND, column:KIND.COL, analysis:NAME, raster:ROLE, input:COL, targets:LAYER")
    params: tuple[str, ...] = setting((), "parameter names an indicator may give")
    unit: str = setting("", "unit of the value")
    formula: str = setting("", "the exact formula")


@dataclass(frozen=True)
class Indicator:
    """One indicator (``[[indicators]]``): computed by ``measure`` or read from the ``input`` column."""

    id: str = setting(doc="indicator id")
    category: str = setting(doc="category id")
    name_zh: str = setting(doc="Chinese name")
    name_en: str = setting(doc="English name")
    source: str = setting(doc="the source clause (standard, plan, report)")
    unit: str = setting(doc="unit of the value")
    direction: str = setting(doc="at_least or at_most", choices=DIRECTIONS)
    scope: str = setting("project", "project, or site (one value per site and one for the project)", choices=SCOPES)
    measure: str | None = setting(None, "the measure that computes it")
    input: str | None = setting(None, "the column of the indicator inputs CSV that gives it")
    params: dict[str, Any] = setting({}, "arguments of the measure")
    thresholds: dict[str, float] = setting({}, "threshold per applicable stage")
    new: bool = setting(False, "one of the indicators new to the FTZ system")
    formula: str = setting("", "how the value is computed")
    threshold_note: str = setting("", "where the thresholds come from")
    source_verified: bool = setting(True, "false: the clause was reconstructed, not checked against the text")


@dataclass(frozen=True)
class Library:
    """A checked indicator library: stages, categories, measures, indicators, conventions, factors.

    Attributes
    ----------
    stages, categories, measures, indicators : tuple
        In file order; a project library's indicators replace those with the same id in place
        and add the others at the end.
    conventions : dict
        The ``[conventions]`` table (people, use groups, green space types ...).
    carbon : dict
        ``carbon_factors.toml``.
    files : tuple of str
        The files it was read from.
    """

    stages: tuple[Stage, ...]
    categories: tuple[Category, ...]
    measures: tuple[Measure, ...]
    indicators: tuple[Indicator, ...]
    conventions: dict[str, Any]
    carbon: dict[str, Any]
    files: tuple[str, ...] = ()

    def indicator(self, ind_id: str) -> Indicator:
        """The indicator with this id."""
        for i in self.indicators:
            if i.id == ind_id:
                return i
        s = closest(ind_id, [i.id for i in self.indicators])
        raise KeyError(f"no indicator {ind_id!r}" + (f" (did you mean {s!r}?)" if s else ""))

    def measure(self, name: str) -> Measure:
        """The measure with this name."""
        return next(m for m in self.measures if m.name == name)

    def counts(self) -> dict[str, int]:
        """Indicators in all, computed from layers (measure), from the inputs CSV (input), categories."""
        return {"indicators": len(self.indicators), "measure": sum(i.measure is not None for i in self.indicators),
                "input": sum(i.input is not None for i in self.indicators), "categories": len({i.category for i in self.indicators})}


def _read(path: str | Path | None, name: str) -> tuple[dict[str, Any], str]:
    try:
        if path is None:
            ref = resources.files("renewgeo.data").joinpath("indicators").joinpath(name)
            with ref.open("rb") as f:
                return tomllib.load(f), f"renewgeo/data/indicators/{name}"
        with open(path, "rb") as f:
            return tomllib.load(f), str(path)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectFileError(f"{path or name}: cannot read the indicator library ({exc}); fix the file or [scorecard] library") from None


def _records(cls: type[Any], raw: Any, key: str, file: str, probs: list[Problem]) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        probs.append(Problem("error", "indicators", f"{key} must be [[{key}]] tables", f"write each as [[{key}]]", file=file,
                             code=_LIB_CODES[0]))
        return []
    out = []
    for i, t in enumerate(raw):
        label = t.get("id", t.get("name", f"#{i + 1}")) if isinstance(t, Mapping) else f"#{i + 1}"
        where = f"[[{key}]] {label!r}:"
        table, p = _checked_choices(cls, t, where, file) if isinstance(t, Mapping) else (t, [])
        rec, more = parse_record(cls, table, where=where, file=file, codes=_LIB_CODES, noun="key", layer="indicators", partial=True)
        probs.extend(p + more)
        if rec is None and isinstance(t, Mapping) and (p or more):
            rec = _salvaged(cls, table, where, file, str(label))
        if rec is not None:
            out.append(rec)
    return out


def _choices(cls: type[Any]) -> dict[str, tuple[str, ...]]:
    """The keys of a library record that take one of a few texts, and those texts."""
    by_class: dict[type[Any], dict[str, tuple[str, ...]]] = {Stage: {"id": STAGE_IDS}, Indicator: {"direction": DIRECTIONS, "scope": SCOPES}}
    return by_class.get(cls, {})


def _checked_choices(cls: type[Any], t: Mapping[str, Any], where: str, file: str) -> tuple[dict[str, Any], list[Problem]]:
    """Keys that must be one of a few texts, checked here so that the fix names the closest valid text.

    (Not an example value, as a generic fix would.) Each bad one is replaced by that text, or the first allowed, so that
    the rest of the record is still checked.
    """
    table, probs = dict(t), []
    for name, allowed in _choices(cls).items():
        v = t.get(name)
        if not isinstance(v, str) or v in allowed:
            continue  # absent, or not a text: parse_record says so
        s = closest(v, allowed)
        probs.append(_problem(file, where, f"{name} must be one of {list(allowed)}, got {v!r}",
                              f'write {name} = "{s}"' if s else f"use one of {list(allowed)}"))
        table[name] = s or allowed[0]
    return table, probs


def _salvaged(cls: type[Any], t: Mapping[str, Any], where: str, file: str, label: str) -> Any:
    """The record with a stand-in for each required text that is missing or not a text.

    Their problems are reported already; the record lets the checks that need it whole (category, measure, params,
    stages) report theirs at once too, instead of after the first ones are fixed.
    """
    stand_in = {f.name: label if f.name in ("id", "name") else "?" for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and not isinstance(t.get(f.name), str)}
    rec, _ = parse_record(cls, {**t, **stand_in}, where=where, file=file, codes=_LIB_CODES, noun="key", layer="indicators",
                          partial=True)
    return rec


def _problem(file: str, where: str, message: str, fix: str) -> Problem:
    return Problem("error", "indicators", f"{where} {message}", fix, file=file, code=_LIB_CODES[0])


def _check_indicator(ind: Indicator, lib: Library, file: str) -> list[Problem]:
    where = f"[[indicators]] {ind.id!r}:"
    probs = []
    cats = [c.id for c in lib.categories]
    if ind.category not in cats:
        s = closest(ind.category, cats)
        probs.append(_problem(file, where, f"category {ind.category!r} is not a category", f"did you mean {s!r}?" if s else f"use one of {cats}"))
    if (ind.measure is None) == (ind.input is None):
        probs.append(_problem(file, where, "gives both measure and input" if ind.measure else "gives neither measure nor input",
                              "give exactly one: measure = NAME (computed from the layers) or input = COLUMN (from the inputs CSV)"))
    if ind.measure is not None:
        names = [m.name for m in lib.measures]
        if ind.measure not in names or ind.measure not in MEASURES:
            s = closest(ind.measure, names)
            probs.append(_problem(file, where, f"measure {ind.measure!r} is not a measure", f"did you mean {s!r}?" if s else f"use one of {names}"))
        else:
            allowed = lib.measure(ind.measure).params
            probs.extend(_problem(file, where, f"params has {k!r}, which measure {ind.measure!r} does not take", f"use {list(allowed)}")
                         for k in ind.params if k not in allowed)
    if ind.input is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ind.input):
        probs.append(_problem(file, where, f"input {ind.input!r} is not a column name", "use letters, digits and _"))
    for st in ind.thresholds:
        if st not in STAGE_IDS:
            s = closest(st, STAGE_IDS)
            probs.append(_problem(file, where, f"thresholds name no stage {st!r}", f"did you mean {s!r}?" if s else f"use {list(STAGE_IDS)}"))
    return probs


def _project_indicators(path: str | Path, probs: list[Problem]) -> list[Indicator]:
    doc, file = _read(path, "")
    unknown = [k for k in doc if k != "indicators"]
    probs.extend(_problem(file, f"[{k}]", "is not read from a project library", "a project library holds [[indicators]] tables only")
                 for k in unknown)
    return _records(Indicator, doc.get("indicators"), "indicators", file, probs)


def load_library(extra: str | Path | None = None) -> Library:
    """The built-in indicator library, with a project's ``[[indicators]]`` added or replacing by id.

    Parameters
    ----------
    extra : path, optional
        A TOML file of ``[[indicators]]`` tables (``[scorecard] library``).

    Returns
    -------
    Library

    Raises
    ------
    ProjectFileError
        Every problem at once, each with the file and the key: unknown keys, wrong types,
        an unknown category, measure, parameter or stage, a bad direction, an indicator
        with both or neither of measure and input, an id given twice.

    Examples
    --------
    >>> lib = load_library()
    >>> lib.counts()["categories"], lib.indicator("far").thresholds["land_supply"]
    (12, 1.0)
    """
    doc, file = _read(None, "green_ftz.toml")
    carbon, _ = _read(None, "carbon_factors.toml")
    probs: list[Problem] = []
    stages = _records(Stage, doc.get("stages"), "stages", file, probs)
    cats = _records(Category, doc.get("categories"), "categories", file, probs)
    measures = _records(Measure, doc.get("measures"), "measures", file, probs)
    inds = _records(Indicator, doc.get("indicators"), "indicators", file, probs)
    if [s.id for s in stages] != list(STAGE_IDS):
        probs.append(_problem(file, "[[stages]]", f"are {[s.id for s in stages]}", f"list the seven stages in order: {list(STAGE_IDS)}"))
    probs.extend(_problem(file, f"[[measures]] {m.name!r}:", "has no function in renewgeo.scorecard.MEASURES", "add one or remove it")
                 for m in measures if m.name not in MEASURES)
    files = [file]
    origin = {i.id: file for i in inds}
    for dup in sorted({i.id for i in inds if sum(j.id == i.id for j in inds) > 1}):
        probs.append(_problem(file, f"[[indicators]] {dup!r}:", "is given twice", "give each id once"))
    if extra is not None:
        more = _project_indicators(extra, probs)
        files.append(str(extra))
        by_id = {i.id: i for i in inds}
        for i in more:
            if sum(j.id == i.id for j in more) > 1:
                probs.append(_problem(str(extra), f"[[indicators]] {i.id!r}:", "is given twice", "give each id once"))
            by_id[i.id] = i
            origin[i.id] = str(extra)
        inds = list(by_id.values())
    lib = Library(tuple(stages), tuple(cats), tuple(measures), tuple(inds), dict(doc.get("conventions", {})), carbon, tuple(files))
    for ind in inds:
        probs.extend(_check_indicator(ind, lib, origin[ind.id]))
    if probs:
        raise ProjectFileError("the indicator library has errors:\n" + "\n".join(dict.fromkeys(p.format() for p in probs)))
    return lib


# ------------------------------------------------------------------------------ tabular inputs
_REQUIRED_INPUT = ("scope", "source")
_TEXT_INPUT = ("source", "illustrative", "note")


def read_inputs(path: str | Path, *, scopes: Sequence[str] | None, numeric: Collection[str] | None = None) -> pd.DataFrame:
    r"""Read and check the tabular indicator inputs (``[scorecard] inputs_file``).

    The CSV (UTF-8, a BOM allowed) has a ``scope`` column (``project`` or a site id), a
    ``source`` column (where the figures come from) and one column per input; ``year``,
    ``illustrative`` and ``note`` are optional. An empty cell is unavailable, never 0.

    Parameters
    ----------
    path : path
        The CSV file.
    scopes : sequence of str or None
        The valid scopes: ``"project"`` and the project's site ids (None: not checked,
        as ``validate`` does before the layers are read).
    numeric : collection of str, optional
        The columns that must hold numbers (the inputs the indicators read); other
        columns (a planner's remarks, 备注) are kept as text. Default: every column but
        ``scope``, ``source``, ``illustrative`` and ``note``.

    Returns
    -------
    DataFrame
        Indexed by scope: ``source`` (text) and one float column per input (NaN = empty).

    Raises
    ------
    ProjectFileError
        Every problem at once, naming the file, the row (line number) and the column:
        a missing required column, an unknown or repeated scope, a value that is not a number
        in a numeric column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = f.write_text("scope,source,jobs\nproject,illustrative,5000\n", encoding="utf-8")
    >>> float(read_inputs(f, scopes=["project"]).loc["project", "jobs"])
    5000.0
    """
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ProjectFileError(f"{path}: cannot read the indicator inputs ({exc}); write a UTF-8 CSV with columns scope, source, ...") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    probs = [f"{path}: no column {c!r}; add it (scope: project or a site id; source: where the figures come from)"
             for c in _REQUIRED_INPUT if c not in raw.columns]
    if probs:
        raise ProjectFileError("the indicator inputs have errors:\n" + "\n".join(probs))
    out: dict[str, list[Any]] = {c: [] for c in raw.columns}
    seen: dict[str, int] = {}
    for i, row in enumerate(raw.to_dict("records")):
        line = i + 2  # the header is line 1
        sc = str(row["scope"]).strip()
        if scopes is not None and sc not in scopes:
            s = closest(sc, scopes)
            probs.append(f"{path} line {line}, column 'scope': {sc!r} is not 'project' or a site id"
                         + (f" (did you mean {s!r}?)" if s else f"; site ids: {[x for x in scopes if x != 'project'][:10]}"))
        elif sc in seen:
            probs.append(f"{path} line {line}, column 'scope': {sc!r} is given again (first on line {seen[sc]}); one row per scope")
        seen.setdefault(sc, line)
        if not str(row["source"]).strip():
            probs.append(f"{path} line {line}, column 'source': empty; say where the figures come from (or 'illustrative')")
        for c, v in row.items():
            as_text = numeric is not None and str(c) not in numeric  # a column no indicator reads: a planner's remark
            out[str(c)].append(str(v).strip() if as_text and pd.notna(v) else _input_value(str(c), v, f"{path} line {line}, column {c!r}", probs))
    if probs:
        raise ProjectFileError("the indicator inputs have errors:\n" + "\n".join(probs))
    frame = pd.DataFrame(out)
    frame["scope"] = frame["scope"].astype(str).str.strip()
    return frame.set_index("scope")


def _input_names(lib: Library) -> set[str]:
    """The input columns the library reads: indicators' ``input`` and the measures' ``input:NAME`` needs."""
    names = {i.input for i in lib.indicators if i.input}
    for m in lib.measures:
        names.update(re.findall(r"input:(\w+)", " ".join(m.needs)))
    return names


def _input_value(col: str, v: Any, where: str, probs: list[str]) -> Any:
    if col in ("scope", *_TEXT_INPUT):
        return str(v).strip()
    text = str(v).strip().replace(",", "")
    if not text:
        return np.nan
    try:
        x = float(text)
    except ValueError:
        probs.append(f"{where}: {v!r} is not a number; write the value in the indicator's unit (empty = unavailable)")
        return np.nan
    if not math.isfinite(x):
        probs.append(f"{where}: {v!r} is not a finite number")
        return np.nan
    return x


# ------------------------------------------------------------------------------ values
@dataclass(frozen=True)
class Value:
    """A measure's outcome for one scope: a value, or why there is none.

    ``value`` None with ``applicable`` True is unavailable (data missing); with
    ``applicable`` False the indicator does not apply (empty denominator).
    """

    value: float | None
    why: str = ""
    applicable: bool = True


def _ok(v: float, why: str = "") -> Value:
    return Value(float(v), why)


def _na(why: str) -> Value:
    return Value(None, why, applicable=False)


def _missing(why: str) -> Value:
    return Value(None, why)


def _share(num: float, den: float, empty: str, *, scale: float = 100.0) -> Value:
    return _na(empty) if not den > 0 else _ok(scale * num / den)


# ------------------------------------------------------------------------------ the data of a run
@dataclass
class _Data:
    """What the measures read: layers with the upstream columns, scopes, conventions, inputs."""

    project: Project
    lib: Library
    upstream: Mapping[str, Result]
    skipped: dict[str, str]
    walk_settings: Any
    raster_settings: Any
    buildings: gpd.GeoDataFrame | None = None
    amenities: gpd.GeoDataFrame | None = None
    outdoor: gpd.GeoDataFrame | None = None
    sites: gpd.GeoDataFrame | None = None
    zones: gpd.GeoDataFrame | None = None
    inputs: pd.DataFrame | None = None
    polygons: dict[str, Any] = field(default_factory=dict)
    land_m2: dict[str, float] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def site_ids(self) -> list[str]:
        return [] if self.sites is None else [str(s) for s in self.sites["id"]]

    def result_layer(self, name: str) -> gpd.GeoDataFrame | None:
        return next((r.layers[name] for r in self.upstream.values() if name in r.layers), None)

    def grid(self, name: str) -> Any:
        return next((r.grids[name] for r in self.upstream.values() if name in r.grids), None)

    def in_scope(self, frame: pd.DataFrame, scope: str) -> pd.Series:
        """Rows of a layer with a ``_site`` column that belong to the scope."""
        if scope == "project":
            return pd.Series(True, index=frame.index)
        return frame["_site"] == scope

    def residents(self, scope: str) -> float:
        """People living in the scope after renewal: demolished buildings house no one."""
        b = self.buildings
        return 0.0 if b is None else float(b.loc[self.in_scope(b, scope) & ~b["_demolished"], "_residents"].sum())

    def jobs(self) -> tuple[float | None, str]:
        z = self.zones
        if z is not None and "jobs" in z.columns and pd.to_numeric(z["jobs"], errors="coerce").notna().any():
            return float(np.nansum(pd.to_numeric(z["jobs"], errors="coerce").to_numpy(dtype=float))), "zones.jobs"
        v = self.input_value("jobs", "project")
        return (v, "input jobs") if v is not None else (None, "")

    def input_value(self, col: str, scope: str) -> float | None:
        t = self.inputs
        if t is None or col not in t.columns or scope not in t.index:
            return None
        v: Any = t.loc[scope, col]
        return None if pd.isna(v) else float(v)


def _use_groups(conv: Mapping[str, Any]) -> dict[str, list[str]]:
    return {k: [str(u).lower() for u in v] for k, v in conv.get("use_groups", {}).items()}


_MAIN_GROUPS = ("residential", "office", "commercial", "public", "industrial", "other")


def _prepare_buildings(b: gpd.GeoDataFrame, d: _Data) -> gpd.GeoDataFrame:
    conv = d.lib.conventions
    groups = _use_groups(conv)
    out = b.copy()
    use = pd.Series(pd.NA, index=out.index, dtype="object")
    for col in ("use_before", "use_after"):  # use_after wins where given
        if col in out.columns:
            v = out[col].astype("object")
            use = use.where(v.isna(), v)
    out["_use"] = use.map(lambda u: str(u).lower() if pd.notna(u) else None)
    out["_group"] = out["_use"].map(lambda u: next((g for g in _MAIN_GROUPS if u in groups.get(g, [])), "other"))
    gfa = pd.to_numeric(out["gfa_m2"], errors="coerce").astype("float64") if "gfa_m2" in out.columns else pd.Series(np.nan, index=out.index)
    if "gfa_source" in out.columns:
        gfa = gfa.where(out["gfa_source"].astype("object") != "missing")
    out["_gfa"] = gfa
    status = out["status"].astype("object") if "status" in out.columns else pd.Series(None, index=out.index, dtype="object")
    out["_demolished"] = (status == "demolished").fillna(False).astype(bool)
    out["_residents"] = _residents(out, conv, groups)
    out["_site"] = _assign_sites(out, d.sites)
    return out


def _residents(b: pd.DataFrame, conv: Mapping[str, Any], groups: Mapping[str, list[str]]) -> pd.Series:
    pph = float(conv.get("persons_per_household", 2.62))
    m2pp = float(conv.get("m2_per_person", 36.5))
    nan = pd.Series(np.nan, index=b.index)
    pop = pd.to_numeric(b["population"], errors="coerce").astype("float64") if "population" in b.columns else nan
    hh = pd.to_numeric(b["households"], errors="coerce").astype("float64") if "households" in b.columns else nan
    resid = b["_use"].isin(groups.get("residential", []))
    by_gfa = np.where(resid, b["_gfa"].fillna(0.0) / m2pp, 0.0)
    return pd.Series(np.where(pop.notna(), pop, np.where(hh.notna(), hh * pph, by_gfa)), index=b.index, dtype="float64")


def _assign_sites(g: gpd.GeoDataFrame, sites: gpd.GeoDataFrame | None) -> pd.Series:
    """The site holding the largest part of each feature (ties: the first site); points by intersection."""
    out = pd.Series(None, index=g.index, dtype="object")
    if sites is None or not len(g):
        return out
    gi, si = sites.sindex.query(g.geometry.values, predicate="intersects")
    if not len(gi):
        return out
    geoms = g.geometry.values[gi]
    inter = shapely.intersection(geoms, sites.geometry.values[si])
    size = np.where(shapely.area(geoms) > 0, shapely.area(inter), np.where(shapely.length(geoms) > 0, shapely.length(inter), 1.0))
    order = np.lexsort((si, -size, gi))  # per feature: largest first, then the first site
    first = np.unique(gi[order], return_index=True)[1]
    ids = sites["id"].astype(str).to_numpy()
    out.iloc[gi[order][first]] = ids[si[order][first]]
    return out


def _build_data(ctx: Context, lib: Library, inputs: pd.DataFrame | None) -> _Data:
    p = ctx.project
    d = _Data(project=p, lib=lib, upstream=ctx.upstream, skipped={n: REGISTRY[n].applies(p) or "" for n in UPSTREAM if n in REGISTRY},
              walk_settings=ctx.settings.sections().get("walk"), raster_settings=ctx.settings.sections().get("raster"), inputs=inputs)
    if p.has("sites"):
        s = ctx.layer("sites")
        d.sites = s.assign(id=s["id"].astype(str)) if "id" in s.columns else s.assign(id=[f"site{i + 1}" for i in range(len(s))])
    d.zones = ctx.layer("zones") if p.has("zones") else None
    if p.has("buildings"):
        d.buildings = _prepare_buildings(ctx.layer("buildings"), d)
    if p.has("amenities"):
        a = ctx.layer("amenities")
        d.amenities = a.assign(_site=_assign_sites(a.set_geometry(shapely.point_on_surface(a.geometry.values)), d.sites))
    d.outdoor = ctx.layer("outdoor_spaces") if p.has("outdoor_spaces") else None
    _scope_polygons(d)
    return d


def _scope_polygons(d: _Data) -> None:
    areas = d.sites if d.sites is not None else d.zones
    if areas is None or not len(areas):
        return
    crs = areas.crs
    union = shapely.union_all(areas.geometry.values)
    items = [("project", union)]
    if d.sites is not None:
        items += list(zip(d.site_ids, d.sites.geometry.values, strict=True))
    true = true_area_m2(gpd.GeoSeries([g for _, g in items], crs=crs)).to_numpy(dtype=float)  # one call for all scopes
    for (scope, geom), land in zip(items, true, strict=True):
        planar = float(shapely.area(geom))
        d.polygons[scope], d.land_m2[scope], d.ratio[scope] = geom, float(land), (float(land) / planar if planar > 0 else 1.0)


# ------------------------------------------------------------------------------ needs
def _need_alternatives(need: str) -> list[str]:
    """``layer:sites|zones`` -> [``layer:sites``, ``layer:zones``]; ``column:zones.jobs|input:jobs`` keeps both prefixes."""
    out, prefix = [], ""
    for part in need.split("|"):
        if ":" in part:
            prefix = part.split(":", 1)[0]
            out.append(part)
        else:
            out.append(f"{prefix}:{part}")
    return out


def _need_met(d: _Data, need: str) -> bool:
    kind, _, what = need.partition(":")
    p = d.project
    if kind == "layer":
        return p.has(what)
    if kind == "column":
        k, _, col = what.partition(".")
        if not p.has(k):
            return False
        g = p.layer(k)
        return col in g.columns and bool(g[col].notna().any())
    if kind == "analysis":
        return what in d.upstream
    if kind == "raster":
        roles = {s.role for s in p.rasters.values()}
        return all(r in roles for r in what.split("+"))
    if kind == "input":
        return d.inputs is not None and what in d.inputs.columns and bool(d.inputs[what].notna().any())
    if kind == "targets":
        return any(t.layer == what for t in p.targets)
    return False


def _fill_text(d: _Data, need: str) -> str:
    kind, _, what = need.partition(":")
    if kind == "layer":
        return f"a layer of kind {what} ([layers.NAME] with kind = \"{what}\")"
    if kind == "column":
        k, _, col = what.partition(".")
        return f"the column {col} in the {k} layer"
    if kind == "analysis":
        why = d.skipped.get(what) or "not asked for"
        return f"the {what} analysis, which did not run ({why})"
    if kind == "raster":
        return " and ".join(f'a [rasters.NAME] with role = "{r}"' for r in what.split("+"))
    if kind == "input":
        return f"the column {what} in the indicator inputs CSV ([scorecard] inputs_file)"
    if kind == "targets":
        return f"a [[targets]] row on the {what} layer"
    return need


def missing_needs(d: _Data, needs: Sequence[str]) -> str:
    """What data would fill the unmet needs of a measure ('' when every need is met)."""
    gaps = []
    for need in needs:
        if "(optional)" in need:
            continue
        alts = _need_alternatives(need.strip())
        if not any(_need_met(d, a) for a in alts):
            gaps.append(" or ".join(_fill_text(d, a) for a in alts))
    return ("needs " + "; ".join(gaps)) if gaps else ""


# ------------------------------------------------------------------------------ the measures
MeasureFn = Callable[[_Data, Mapping[str, Any], str], Value]
MEASURES: dict[str, MeasureFn] = {}
"""One function per measure name of the library: ``fn(data, params, scope) -> Value``."""


def _measure(name: str) -> Callable[[MeasureFn], MeasureFn]:
    def deco(fn: MeasureFn) -> MeasureFn:
        MEASURES[name] = fn
        return fn
    return deco


def _bld(d: _Data, scope: str, *, live: bool = True) -> pd.DataFrame:
    """Buildings of the scope (not demolished when ``live``), their columns without the geometry (no measure reads it).

    Made once per scope: a project of many sites asks for them once per indicator and site.
    """
    key = ("buildings", scope, live)
    if key not in d.cache:
        if "buildings" not in d.cache:
            b = d.buildings
            assert b is not None
            d.cache["buildings"] = pd.DataFrame(b.drop(columns=b.geometry.name))
        t = d.cache["buildings"]
        m = d.in_scope(t, scope)
        if live:
            m &= ~t["_demolished"]
        d.cache[key] = t[m]
    out: pd.DataFrame = d.cache[key]
    return out


def _no_residents(scope: str) -> Value:
    return _na(f"no residents in {scope} (buildings' population, households or residential floor area)")


@_measure("building_data_completeness_pct")
def _m_completeness(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope, live=False)
    ok = b["_use"].notna()
    for col in ("status", "treatment"):
        ok &= b[col].notna() if col in b.columns else False
    ok &= b["_gfa"].notna()
    absent = [c for c in ("status", "treatment") if c not in b.columns]
    v = _share(float(ok.sum()), float(len(b)), f"no buildings in {scope}")
    return replace(v, why=f"the buildings layer has no {' and no '.join(absent)} column") if absent and v.applicable else v


@_measure("works_progress_pct")
def _m_progress(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope)
    prog = pd.to_numeric(b["progress_pct"], errors="coerce")
    ok = prog.notna() & b["_gfa"].notna()
    return _share(float((prog[ok] * b.loc[ok, "_gfa"]).sum()), float(b.loc[ok, "_gfa"].sum()), f"no buildings with progress and floor area in {scope}",
                  scale=1.0)


def _served(b: pd.DataFrame, rules: Sequence[Mapping[str, Any]]) -> pd.Series:
    served = pd.Series(False, index=b.index)
    for r in rules:
        cols = [f"walk_{c}_nearest_m" for c in r.get("categories", []) if f"walk_{c}_nearest_m" in b.columns]
        if cols:
            served |= (b[cols].min(axis=1, skipna=True) <= float(r["distance_m"])).fillna(False)
    return served


@_measure("residents_served_pct")
def _m_residents_served(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope)  # residents after renewal: not in demolished buildings
    ok = _served(b, params.get("rules", []))
    return _share(float(b.loc[ok, "_residents"].sum()), float(b["_residents"].sum()), _no_residents(scope).why)


@_measure("amenity_capacity_per_1000")
def _m_capacity(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    a = d.amenities
    assert a is not None
    a = a[d.in_scope(a, scope) & a["category"].astype("object").isin(list(params.get("categories", [])))]
    cap = pd.to_numeric(a["capacity"], errors="coerce") if "capacity" in a.columns else pd.Series(np.nan, index=a.index)
    if len(a) and cap.isna().all():
        return _missing(f"the {len(a)} amenities of categories {list(params.get('categories', []))} in {scope} have no capacity; "
                        "give the capacity column")
    why = f"capacity unknown (left out): {', '.join(map(str, a.loc[cap.isna(), 'id']))}" if cap.isna().any() and "id" in a.columns else ""
    res = d.residents(scope)
    if not res > 0:
        return _no_residents(scope)
    return _ok(1000.0 * float(cap.sum()) / res, why)


def _matches(b: pd.DataFrame, filt: Mapping[str, Any], groups: Mapping[str, list[str]]) -> pd.Series:
    """Rows matching every key of ``filt`` (the [[targets]] ``where`` form; ``use_group`` tests the use's group)."""
    m = pd.Series(True, index=b.index)
    for key, val in filt.items():
        vals = list(val) if isinstance(val, list | tuple) else [val]
        if key == "use_group":
            uses = {u for v in vals for u in groups.get(str(v), [])}
            m &= b["_use"].isin(uses)
        elif key not in b.columns:
            m &= False
        elif all(isinstance(v, bool) for v in vals):
            col = b[key].astype("object")
            m &= col.notna() & col.where(col.notna(), False).map(bool).isin(vals)
        else:
            col = b[key].astype("object")
            m &= col.notna() & col.map(str).isin([str(v) for v in vals])
    return m


def _any_match(b: pd.DataFrame, filt: Mapping[str, Any], groups: Mapping[str, list[str]]) -> pd.Series:
    m = pd.Series(False, index=b.index)
    for key, val in filt.items():
        m |= _matches(b, {key: val}, groups)
    return m


@_measure("gfa_share_pct")
def _m_gfa_share(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    groups = _use_groups(d.lib.conventions)
    b = _bld(d, scope, live=False)
    b = b[b["_gfa"].notna()]
    for name in ("of", "of_not", "where", "where_not"):  # a filter none of whose columns the layer has cannot pick anything
        keys = [str(k) for k in params.get(name, {})]
        if keys and "use_group" not in keys and not any(k in b.columns for k in keys):
            return _missing(f"needs the column {' or '.join(keys)} in the buildings layer ({name} = {dict(params[name])}): "
                            "without it, which buildings count is unknown")
    of, of_not = params.get("of", {}), params.get("of_not", {})
    if not of and not of_not:
        of_not = {"status": ["demolished"]}
    den = b[_matches(b, of, groups) & ~_any_match(b, of_not, groups)]
    num = den[_matches(den, params.get("where", {}), groups) & ~_any_match(den, params.get("where_not", {}), groups)]
    return _share(float(num["_gfa"].sum()), float(den["_gfa"].sum()), f"no buildings with floor area in {scope} match {dict(of) or 'the scope'}")


@_measure("gfa_per_1000_residents")
def _m_gfa_per_1000(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope)
    gfa = float(b.loc[_matches(b, params.get("where", {}), _use_groups(d.lib.conventions)), "_gfa"].sum())
    res = d.residents(scope)
    return _no_residents(scope) if not res > 0 else _ok(1000.0 * gfa / res)


@_measure("life_circle_pass_pct")
def _m_life_circle(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    col = f"lc_{params.get('circle')}_pass"
    b = _bld(d, scope)  # residents after renewal: not in demolished buildings
    if col not in b.columns:
        return _missing(f"needs the life circle {params.get('circle')!r}: the walk analysis checks the project's [[life_circles]] when "
                        "given, else the 5min/10min/15min circles derived from GB 50180-2018 (renewgeo/data/life_circles_gb50180.toml)")
    ok = b[col].astype("boolean").fillna(False).astype(bool)
    return _share(float(b.loc[ok, "_residents"].sum()), float(b["_residents"].sum()), _no_residents(scope).why)


def _density(d: _Data) -> pd.DataFrame:
    if "density" not in d.cache:
        areas = d.sites if d.sites is not None else d.zones
        d.cache["density"] = density(areas, d.buildings, layer="sites" if d.sites is not None else "zones")
    return d.cache["density"]


def _land(d: _Data, scope: str) -> Value | None:
    if scope not in d.land_m2:
        return _missing(f"needs the polygon of {scope}")
    return _na(f"{scope} has no land area") if not d.land_m2[scope] > 0 else None


def _per_land(d: _Data, scope: str, column: str, scale: float) -> Value:
    """``scale`` x a column of the density table (summed for the project) over the scope's land."""
    bad = _land(d, scope)
    if bad:
        return bad
    t = _density(d)
    amount = float(t[column].sum()) if scope == "project" else float(t[column].to_dict()[scope])
    return _ok(scale * amount / d.land_m2[scope])


@_measure("far")
def _m_far(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    return _per_land(d, scope, "gfa_m2", 1.0)


@_measure("coverage_pct")
def _m_coverage(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    return _per_land(d, scope, "footprint_m2", 100.0)


@_measure("release_vs_target_pct")
def _m_release(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    net = d.result_layer("net_release")
    if net is None:
        return _missing("needs the net_release layer of the release analysis")
    led = targets_ledger(d.project, layers={"net_release": net})
    rows = led[(led["layer"] == "net_release") & (led["measure"] == "sum(net_area_m2)")]
    rows = rows[rows["pct_of_target"].notna()]
    if not len(rows):
        return _missing("needs a [[targets]] row on net_release with measure sum(net_area_m2)")
    best = min(rows.to_dict("records"), key=lambda r: float(r["pct_of_target"]))
    return _ok(float(best["pct_of_target"]), f"target {best['id']}")


@_measure("use_mix_entropy")
def _m_use_mix(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope)
    b = b[b["_gfa"].notna()]
    total = float(b["_gfa"].sum())
    if not total > 0:
        return _na(f"no floor area in {scope}")
    p = b.groupby("_group")["_gfa"].sum().to_numpy(dtype=float) / total
    p = p[p > 0]
    return _ok(abs(float(-(p * np.log(p)).sum() / math.log(len(_MAIN_GROUPS)))))  # one use: 0, never -0


@_measure("jobs_housing_balance_pct")
def _m_jobs_housing(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    jobs, src = d.jobs()
    if jobs is None:
        return _missing("needs jobs: a jobs column in the zones layer or the input jobs (scope project)")
    b = d.buildings
    hh = pd.to_numeric(b["households"], errors="coerce") if b is not None and "households" in b.columns else pd.Series(dtype=float)
    if not hh.notna().any():
        return _missing("needs dwellings: the households column of the buildings layer")
    dw = float(hh.sum())
    if not (jobs > 0 and dw > 0):
        return _na(f"no balance to measure: jobs {jobs:g} ({src}), dwellings {dw:g}")
    r = jobs / dw
    return _ok(100.0 * min(r, 1 / r), f"jobs {jobs:g} ({src}), dwellings {dw:g}")


def _typed(d: _Data, key: str) -> gpd.GeoDataFrame:
    o = d.outdoor
    assert o is not None
    types = list(d.lib.conventions.get("green", {}).get(key, []))
    return o[o["space_type"].astype("object").isin(types)] if "space_type" in o.columns else o.iloc[:0]


def _clipped_m2(d: _Data, geoms: Any, scope: str, *, union: bool = False) -> float:
    """True area (m2) of ``geoms`` inside the scope polygon: planar pieces x the scope's true/planar ratio."""
    g = np.asarray(geoms)
    if not len(g):
        return 0.0
    if union:
        g = np.array([shapely.union_all(g)])
    return float(shapely.area(shapely.intersection(g, d.polygons[scope])).sum()) * d.ratio[scope]


@_measure("green_ratio_pct")
def _m_green_ratio(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    return bad or _ok(100.0 * _clipped_m2(d, _typed(d, "green_space_types").geometry.values, scope, union=True) / d.land_m2[scope])


@_measure("green_m2_per_resident")
def _m_green_per_resident(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    if bad:
        return bad
    res = d.residents(scope)
    return _no_residents(scope) if not res > 0 else _ok(_clipped_m2(d, _typed(d, "green_space_types").geometry.values, scope, union=True) / res)


@_measure("residents_green_access_pct")
def _m_green_access(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    col = f"{params.get('target', 'green')}_dist_m"
    b = _bld(d, scope)  # residents after renewal: not in demolished buildings
    if col not in b.columns:
        return _missing(f"needs {col} from the walk analysis (outdoor spaces of a green type)")
    ok = (pd.to_numeric(b[col], errors="coerce") <= float(params.get("distance_m", 300))).fillna(False)
    return _share(float(b.loc[ok, "_residents"].sum()), float(b["_residents"].sum()), _no_residents(scope).why)


def _open_spaces(d: _Data) -> np.ndarray:
    o = _typed(d, "open_public_space_types")
    if "walkable" in o.columns:
        o = o[o["walkable"].astype("boolean").fillna(True).to_numpy(dtype=bool)]  # a bool column of the kind (是/否 read on load); unset: walkable
    return np.asarray(o.geometry.values)


@_measure("open_space_share_pct")
def _m_open_space(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    return bad or _ok(100.0 * _clipped_m2(d, _open_spaces(d), scope, union=True) / d.land_m2[scope])


@_measure("renewed_outdoor_share_pct")
def _m_renewed_outdoor(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    if bad:
        return bad
    o = d.outdoor
    assert o is not None
    ren = o["renewed"].astype("boolean").fillna(False)  # a bool column of the kind: 是/否, yes/no read as booleans on load
    return _share(_clipped_m2(d, o.geometry.values[ren.to_numpy(dtype=bool)], scope, union=True), _clipped_m2(d, o.geometry.values, scope, union=True),
                  f"no outdoor space in {scope}")


@_measure("open_space_m2_per_person")
def _m_open_per_person(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    if bad:
        return bad
    jobs, src = d.jobs()
    people = d.residents(scope) + (jobs or 0.0)
    return _na(f"no residents or jobs in {scope}") if not people > 0 else _ok(_clipped_m2(d, _open_spaces(d), scope, union=True) / people,
                                                                              f"people = residents + jobs ({src})")


def _zonal_share(d: _Data, grid_name: str, scope: str, *, low: float, high: float = math.inf, with_low: bool = False) -> Value:
    """100 x the share of the scope's valid pixels (coverage-weighted) with ``low < value < high`` (``low <=`` ``with_low``).

    One zonal statistic of that 0/1 grid over all scopes at once, made when the first scope asks and kept for the others.
    """
    grid = d.grid(grid_name)
    if grid is None:
        return _missing(f"needs the {grid_name} grid of the raster analysis")
    if scope not in d.polygons:
        return _missing(f"needs the polygon of {scope}")
    key = ("zonal", grid_name, low, high, with_low)
    if key not in d.cache:
        v = grid.masked()
        inside = ((v.data >= low) if with_low else (v.data > low)) & (v.data < high)
        flag = raster.Grid(np.where(v.mask, -1.0, inside.astype(np.float32)).astype(np.float32), grid.transform, grid.crs, -1.0)
        scopes = list(d.polygons)
        z = gpd.GeoDataFrame(geometry=[d.polygons[k] for k in scopes], index=pd.Index(scopes), crs=d.project.crs)
        d.cache[key] = raster.zonal_stats(flag, z, stats=("count",), above=0.5, layer="scorecard scopes")["share_above_0.5"]
    v = d.cache[key][scope]
    return _missing(f"{grid_name}: no valid pixels in {scope}") if pd.isna(v) else _ok(100.0 * float(v))


@_measure("steep_land_share_pct")
def _m_steep(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    return _zonal_share(d, "slope_pct", scope, low=float(d.raster_settings.steep_slope_pct))


@_measure("impervious_share_pct")
def _m_impervious(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    """0 <= NDVI < [raster] ndvi_green: neither vegetation nor water (NDVI below 0), one zonal statistic for every scope."""
    return _zonal_share(d, "ndvi", scope, low=0.0, high=float(d.raster_settings.ndvi_green), with_low=True)


@_measure("green_cover_share_pct")
def _m_green_cover(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    return _zonal_share(d, "ndvi", scope, low=float(d.raster_settings.ndvi_green))


def _eui(lib: Library) -> tuple[dict[str, float], float]:
    col = str(lib.carbon.get("value_column", "constraint"))
    table: dict[str, float] = {}
    default = 65.0
    for row in lib.carbon.get("eui", []):
        v = float(row[col])
        if row["use"] == "default":
            default = v
        for u in [row["use"], *row.get("aliases", [])]:
            table.setdefault(str(u).lower(), v)
    return table, default


def _grid_factor(lib: Library) -> float:
    g = lib.carbon["grid"]
    return float(g[g["default"]]["kgco2_per_kwh"])


def _operational(d: _Data, scope: str) -> tuple[float, float, list[str]]:
    """(kgCO2 per year, GFA m2, buildings with no EUI row) of the scope's live buildings with known floor area."""
    b = _bld(d, scope)
    b = b[b["_gfa"].notna()]
    table, default = _eui(d.lib)
    eui = b["_use"].map(lambda u: table.get(str(u), np.nan))
    unknown = [str(i) for i in (b.loc[eui.isna(), "id"] if "id" in b.columns else b.index[eui.isna()])]
    grid = _grid_factor(d.lib)
    kg = float((b["_gfa"] * eui.fillna(default)).sum()) * grid
    heat = d.lib.carbon.get("heating", {})
    if heat.get("include"):
        kg += float(b["_gfa"].sum()) * float(heat["kgce_per_m2"]) * float(heat["kgco2_per_kgce"])
    kg -= (d.input_value("renewable_kwh_per_year", scope) or 0.0) * grid
    return kg, float(b["_gfa"].sum()), unknown


@_measure("est_operational_carbon_kgco2_per_m2")
def _m_carbon_per_m2(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    kg, gfa, unknown = _operational(d, scope)
    if not gfa > 0:
        return _na(f"no floor area in {scope}")
    why = "estimate: GFA by use x EUI x grid factor (carbon_factors.toml)" + (
        f"; no EUI row for {', '.join(unknown[:10])}: the default row used" if unknown else "")
    return _ok(kg / gfa, why)


@_measure("carbon_intensity_reduction_pct")
def _m_carbon_reduction(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    co2, va = d.input_value("co2_t_per_year", scope), d.input_value("value_added_10k_cny", scope)
    base = d.lib.carbon["baseline"]
    if co2 is not None and va is not None and va > 0:
        intensity = co2 / va
        ref = float(base["gdp"]["tco2_per_10k_cny"])
        return _ok(100.0 * (1 - intensity / ref), f"method gdp (inputs): {intensity:.4g} t CO2 per 10,000 CNY against the national {ref:g}")
    est = _m_carbon_per_m2(d, params, scope)
    if est.value is None:
        return est
    ref = float(base["floor_area"]["kgco2_per_m2"])
    return _ok(100.0 * (1 - est.value / ref), f"method floor_area (estimated; give the inputs co2_t_per_year and value_added_10k_cny "
                                              f"for the gdp method): {est.value:.4g} kgCO2/m2 against the national {ref:g}")


def _edges(d: _Data, kinds: Sequence[str]) -> gpd.GeoDataFrame:
    """The walk analysis' network edges of these kinds (``line``: paths; ``outline``: plaza outlines; ``chord``: across plazas).

    An edge cut from a walkable polygon's outline (``source_layer`` walkable_polygons) is an outline whatever its ``kind``:
    the network marks outline edges by comparing the segments, rounded to its 1 mm noding grid, with the unrounded outline,
    so an outline off that grid came out as ``line`` (the sample's axis promenade: 12 of its edges, and 12 nodes where a
    lane crosses it counted as street intersections).
    """
    e = d.result_layer("network_edges")
    if e is None:
        raise RenewgeoError("the walk analysis made no network_edges layer")
    kind = e["kind"].astype("object")
    if "source_layer" in e.columns:
        kind = kind.mask((kind == "line") & (e["source_layer"].astype("object") == WALKABLE_POLYGONS), "outline")
    return e[kind.isin(list(kinds)).to_numpy()]


@_measure("intersection_density_per_km2")
def _m_intersections(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    if bad:
        return bad
    e = _edges(d, ["line"])
    deg = pd.concat([e["u"], e["v"]]).value_counts()
    nodes = d.result_layer("network_nodes")
    assert nodes is not None
    inside = shapely.intersects(nodes.geometry.values, d.polygons[scope])
    n = int((nodes.loc[inside, "node"].map(deg).fillna(0) >= 3).sum())
    return _ok(n / (d.land_m2[scope] / 1e6))


def _length_in_m(d: _Data, geoms: Any, scope: str) -> float:
    g = np.asarray(geoms)
    if not len(g):
        return 0.0
    pieces = shapely.intersection(g, d.polygons[scope])
    return float(shapely.length(pieces).sum()) * math.sqrt(d.ratio[scope])  # linear scale = sqrt(areal scale) in a conformal CRS


@_measure("network_density_km_per_km2")
def _m_network_density(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    return bad or _ok(_length_in_m(d, _edges(d, ["line", "outline"]).geometry.values, scope) / 1000 / (d.land_m2[scope] / 1e6))


@_measure("line_density_km_per_km2")
def _m_line_density(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    bad = _land(d, scope)
    if bad:
        return bad
    kinds = list(params.get("kinds", []))
    absent = [k for k in kinds if not d.project.has(k)]
    if absent:
        return _missing(f"needs a layer of kind {' and one of kind '.join(absent)}")
    geoms = np.concatenate([np.asarray(d.project.layer(k).geometry.values) for k in kinds]) if kinds else np.array([])
    return _ok(_length_in_m(d, geoms, scope) / 1000 / (d.land_m2[scope] / 1e6))


@_measure("parking_spaces_per_100m2")
def _m_parking(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    a = d.amenities
    assert a is not None
    a = a[d.in_scope(a, scope) & (a["category"].astype("object") == "parking")]
    cap = pd.to_numeric(a["capacity"], errors="coerce") if "capacity" in a.columns else pd.Series(np.nan, index=a.index)
    if len(a) and cap.isna().all():
        return _missing(f"the {len(a)} parking amenities in {scope} have no capacity; give the capacity column")
    b = _bld(d, scope)
    return _share(float(cap.sum()), float(b["_gfa"].sum()), f"no floor area in {scope}")


@_measure("axis_catchment_gfa_pct")
def _m_axis_catchment(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    b = _bld(d, scope)
    b = b[b["_gfa"].notna()]
    if "axis_dist_m" not in b.columns:
        return _missing("needs axis_dist_m from the walk analysis (a pedestrian_axis layer)")
    near = (pd.to_numeric(b["axis_dist_m"], errors="coerce") <= float(params.get("distance_m", 300))).fillna(False)
    return _share(float(b.loc[near, "_gfa"].sum()), float(b["_gfa"].sum()), f"no floor area in {scope}")


@_measure("axis_gap_m")
def _m_axis_gap(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    gaps = d.result_layer("axis_gaps")
    return _ok(0.0 if gaps is None else float(gaps["gap_m"].sum()))


@_measure("network_largest_component_pct")
def _m_largest_component(d: _Data, params: Mapping[str, Any], scope: str) -> Value:
    t = d.upstream["walk"].tables.get("network")
    if t is None or not len(t):
        return _missing("needs the walk analysis' network table")
    return _ok(float(t["largest_component_share_pct"].iloc[0]))


def evaluate_measure(d: _Data, ind: Indicator, scope: str) -> Value:
    """One indicator's value for one scope: its measure or input, after checking what the measure needs."""
    if ind.input is not None:
        if d.inputs is None:
            return _missing(f"needs the input {ind.input}: give [scorecard] inputs_file (a CSV with scope, source, {ind.input})")
        v = d.input_value(ind.input, scope)
        if v is None:
            return _missing(f"needs the input {ind.input} for scope {scope} in the indicator inputs CSV (its cell is empty or absent)")
        return _ok(v, f"input ({d.inputs['source'].to_dict().get(scope, '')!s})")
    assert ind.measure is not None
    gap = missing_needs(d, d.lib.measure(ind.measure).needs)
    if gap:
        return _missing(gap)
    try:
        return MEASURES[ind.measure](d, ind.params, scope)
    except RenewgeoError as exc:  # the data cannot give the measure: say so, the rest of the scorecard stands
        return _missing(f"cannot be computed: {exc}")


# ------------------------------------------------------------------------------ the scorecard
TABLE_COLUMNS = ("indicator_id", "category", "name_zh", "name_en", "source", "unit", "scope", "value", "stage", "threshold",
                 "direction", "status", "why", "computed_from", "new", "category_zh", "category_en")


def _status(v: Value, ind: Indicator, threshold: float | None) -> tuple[str, str]:
    if threshold is None:
        return "not_applicable", "no threshold at this stage" + (f"; {v.why}" if v.why else "")
    if v.value is None:
        return ("unavailable" if v.applicable else "not_applicable"), v.why
    ok = v.value >= threshold if ind.direction == "at_least" else v.value <= threshold
    return ("pass" if ok else "fail"), v.why


def _rows(d: _Data, lib: Library, stages: Sequence[str], thresholds: Mapping[str, Mapping[str, float]]) -> list[dict[str, Any]]:
    cats = {c.id: c for c in lib.categories}
    rows = []
    for ind in lib.indicators:
        scopes = ["project", *d.site_ids] if ind.scope == "site" else ["project"]
        th = {**ind.thresholds, **thresholds.get(ind.id, {})}
        for scope in scopes:
            v = evaluate_measure(d, ind, scope)
            for st in stages:
                status, why = _status(v, ind, th.get(st))
                rows.append({
                    "indicator_id": ind.id, "category": cats[ind.category].id, "name_zh": ind.name_zh, "name_en": ind.name_en,
                    "source": ind.source, "unit": ind.unit, "scope": scope, "value": np.nan if v.value is None else v.value,
                    "stage": st, "threshold": th.get(st, np.nan), "direction": ind.direction, "status": status, "why": why,
                    "computed_from": f"measure:{ind.measure}" if ind.measure else f"input:{ind.input}", "new": ind.new,
                })
    return rows


def stage_summary(table: pd.DataFrame, lib: Library | None = None) -> pd.DataFrame:
    """Per stage: pass / fail / unavailable / not_applicable counts, whether it passes, the indicators that block it.

    A stage passes when no applicable indicator (in any scope) fails.

    Examples
    --------
    >>> t = pd.DataFrame({"indicator_id": ["a", "b", "a"], "stage": ["land_supply", "land_supply", "completion"],
    ...                   "status": ["pass", "fail", "unavailable"]})
    >>> stage_summary(t)[["stage", "pass", "fail", "stage_passes", "blocking"]].values.tolist()
    [['land_supply', 1, 1, False, 'b'], ['completion', 0, 0, True, '']]
    """
    names = {s.id: s for s in (lib.stages if lib else ())}
    rows = []
    for st in [s for s in STAGE_IDS if s in set(table["stage"])]:
        t = table[table["stage"] == st]
        counts = {k: int((t["status"] == k).sum()) for k in STATUSES}
        blocking = list(dict.fromkeys(t.loc[t["status"] == "fail", "indicator_id"]))
        rows.append({"stage": st, "name_zh": names[st].name_zh if st in names else "", "name_en": names[st].name_en if st in names else "",
                     **counts, "stage_passes": counts["fail"] == 0, "blocking": "; ".join(blocking)})
    return pd.DataFrame(rows, columns=["stage", "name_zh", "name_en", *STATUSES, "stage_passes", "blocking"])


def _resolve(project: Project, file: str, what: str, notes: list[str]) -> Path:
    path, outside = resolve_source(file, project.root, allow_network=False, what=what)
    if outside:
        notes.append(f"{what} reads {file}, outside the project folder")
        log.warning("%s reads %s, outside the project folder", what, file)
    return Path(path)


def compute(ctx: Context) -> Result:
    """The scorecard analysis: every indicator per scope and stage, and the per-stage summary.

    Tables ``scorecard`` (indicator x scope x stage) and ``scorecard_stages``.

    Examples
    --------
    >>> import renewgeo as rg
    >>> r = rg.run_analyses(rg.load_project(rg.datasets.get_path("chuangchuangyi")), ["scorecard"])
    >>> t = r.tables["scorecard"]
    >>> t.set_index(["indicator_id", "scope", "stage"]).loc[("far", "project", "land_supply"), "status"]
    'pass'
    """
    s = ctx.section(ScorecardSettings)
    notes: list[str] = []
    extra = _resolve(ctx.project, s.library, "[scorecard] library", notes) if s.library else None
    lib = load_library(extra)
    unknown = [i for i in s.thresholds if i not in {x.id for x in lib.indicators}]
    if unknown:
        ids = [x.id for x in lib.indicators]
        raise ProjectFileError("[scorecard] thresholds: " + "; ".join(
            f"{i!r} is not an indicator" + (f" (did you mean {closest(i, ids)!r}?)" if closest(i, ids) else "") for i in unknown))
    d = _build_data(ctx, lib, None)
    if s.inputs_file:
        d.inputs = read_inputs(_resolve(ctx.project, s.inputs_file, "[scorecard] inputs_file", notes), scopes=["project", *d.site_ids],
                               numeric=_input_names(lib))
    stages = [s.stage] if s.stage else list(STAGE_IDS)
    table = pd.DataFrame(_rows(d, lib, stages, s.thresholds), columns=list(TABLE_COLUMNS[:-2]))
    cats = {c.id: c for c in lib.categories}
    table["category_zh"] = table["category"].map(lambda c: cats[c].name_zh)
    table["category_en"] = table["category"].map(lambda c: cats[c].name_en)
    summary = stage_summary(table, lib)
    c = lib.counts()
    notes.append(f"{c['indicators']} indicators in {c['categories']} categories: {c['measure']} computed from the layers, "
                 f"{c['input']} from the inputs CSV (renewgeo's reconstruction of the unpublished Green FTZ list)")
    notes += [f"stage {r['stage']}: blocked by {r['blocking']}" for r in summary.to_dict("records") if not r["stage_passes"]]
    return Result(tables={"scorecard": table, "scorecard_stages": summary}, notes=notes)


def format_stages(stages: pd.DataFrame) -> str:
    """The stage summary as plain text for the terminal."""
    lines = [f"{'stage':<16} {'pass':>5} {'fail':>5} {'unavail':>8} {'n/a':>5}  result   blocking"]
    for r in stages.to_dict("records"):
        lines.append(f"{r['stage']:<16} {r['pass']:>5} {r['fail']:>5} {r['unavailable']:>8} {r['not_applicable']:>5}  "
                     f"{'PASS' if r['stage_passes'] else 'FAIL':<7}  {r['blocking']}")
    passing = [r["stage"] for r in stages.to_dict("records") if r["stage_passes"]]
    lines.append(f"{len(passing)} of {len(stages)} stages pass" + (f": {', '.join(passing)}" if passing else ""))
    return "\n".join(lines)


def _column_names(names: Sequence[str], reserved: Sequence[str] = ()) -> list[str]:
    """Project names as column names, unique and apart from ``reserved`` (a second ``park``, or a project called ``stage``, gets `` (2)``)."""
    out: list[str] = []
    for n in names:
        name, k = n, 2
        while name in out or name in reserved or f"status:{name}" in reserved:
            name, k = f"{n} ({k})", k + 1
        out.append(name)
    return out


def compare(cards: Sequence[ScorecardResult], *, stage: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scorecards side by side: the whole-project value of every indicator, and each stage's result, one column per project.

    Parameters
    ----------
    cards : sequence of ScorecardResult
        One per project (:func:`renewgeo.scorecard`), computed with the same library
        (indicators missing from one project's library are empty in its column).
    stage : str, optional
        Also give each project's status at this stage (``status:<project>`` columns).

    Returns
    -------
    (values, stages) : DataFrame, DataFrame
        ``values``: ``indicator_id, category, name_zh, name_en, unit, direction`` and one
        column per project with its value (empty where unavailable, never 0); ``stages``:
        ``stage`` and one column per project, ``pass`` or ``fail``.

    Examples
    --------
    >>> a = ScorecardResult("a", pd.DataFrame({"indicator_id": ["far"], "category": ["land_economy"], "name_zh": ["容积率"],
    ...     "name_en": ["FAR"], "unit": ["ratio"], "direction": ["at_least"], "scope": ["project"], "value": [1.2],
    ...     "stage": ["land_supply"], "status": ["pass"]}), pd.DataFrame({"stage": ["land_supply"], "stage_passes": [True]}))
    >>> values, stages = compare([a, a])
    >>> list(values.columns[-2:]), float(values.iloc[0, -1]), stages.iloc[0].tolist()
    (['a', 'a (2)'], 1.2, ['land_supply', 'pass', 'pass'])
    """
    if stage is not None and stage not in STAGE_IDS:
        s = closest(stage, STAGE_IDS)
        raise ProjectFileError(f"stage {stage!r} is not an approval stage; " + (f"did you mean {s!r}?" if s else f"use one of {list(STAGE_IDS)}"))
    keys = ["indicator_id", "category", "name_zh", "name_en", "unit", "direction"]
    cols = _column_names([c.project for c in cards], reserved=[*keys, "stage"])
    metas, cols_of = [], []
    for col, card in zip(cols, cards, strict=True):
        t = card.table[card.table["scope"] == "project"]
        one = t.drop_duplicates("indicator_id").set_index("indicator_id")
        metas.append(one[keys[1:]])
        part = pd.DataFrame({col: pd.to_numeric(one["value"], errors="coerce")}, index=one.index)
        if stage is not None:
            part[f"status:{col}"] = t[t["stage"] == stage].set_index("indicator_id")["status"].reindex(one.index)
        cols_of.append(part)
    meta = pd.concat(metas)
    meta = meta[~meta.index.duplicated()]
    values = meta.join(pd.concat(cols_of, axis=1)).rename_axis("indicator_id").reset_index()
    stages = pd.DataFrame({"stage": [st for st in STAGE_IDS if any(st in set(c.stages["stage"]) for c in cards)]})
    for col, card in zip(cols, cards, strict=True):
        passed = card.stages.set_index("stage")["stage_passes"].astype(bool)
        stages[col] = stages["stage"].map(lambda st, p=passed: ("pass" if p[st] else "fail") if st in p.index else "")
    return values, stages


def _report(result: Result) -> str:
    return format_stages(result.tables["scorecard_stages"])


def wants(project: Project) -> tuple[str, ...]:
    """The analyses whose results the indicators read and that the project allows.

    Examples
    --------
    >>> import renewgeo as rg
    >>> wants(rg.load_project(rg.datasets.get_path("shibei_relocation")))
    ('area', 'release')
    """
    return tuple(n for n in UPSTREAM if n in REGISTRY and REGISTRY[n].applies(project) is None)


def _applies(project: Project) -> str | None:
    return None if project.has("buildings") or project.has("sites") else "the project has no buildings or sites layer"


# ------------------------------------------------------------------------------ from Python
@dataclass
class ScorecardResult:
    """A project's scorecard.

    Attributes
    ----------
    project : str
        The project's name.
    table : DataFrame
        One row per indicator x scope x stage (:data:`TABLE_COLUMNS`).
    stages : DataFrame
        Per stage: the status counts, ``stage_passes``, ``blocking``.
    notes : list of str
    """

    project: str
    table: pd.DataFrame
    stages: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<ScorecardResult {self.project!r}: {len(self.table)} rows>\n{format_stages(self.stages)}"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r['stage']))}</td><td>{html.escape(str(r['name_zh']))}</td><td>{r['pass']}</td><td>{r['fail']}</td>"
            f"<td>{r['unavailable']}</td><td>{r['not_applicable']}</td><td><b>{'pass' if r['stage_passes'] else 'fail'}</b></td>"
            f"<td>{html.escape(str(r['blocking']))}</td></tr>" for r in self.stages.to_dict("records"))
        return (f"<div><b>Green FTZ scorecard: {html.escape(self.project)}</b><table><thead><tr><th>stage</th><th></th><th>pass</th>"
                "<th>fail</th><th>unavailable</th><th>n/a</th><th>result</th><th>blocking</th></tr></thead>"
                f"<tbody>{rows}</tbody></table></div>")


register(Analysis(
    name="scorecard", help="the Green FTZ indicator scorecard: every indicator per site and approval stage", compute=compute,
    settings=ScorecardSettings, wants=wants, applies=_applies, workbook="scorecard", report=_report,
    cli_flags={"stage": "scorecard.stage"},
))
