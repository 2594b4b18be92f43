"""The analysis contract: what an analysis declares, receives and returns.

An analysis is a module with a settings section (:mod:`renewgeo.settings`) and one
function ``compute(ctx) -> Result``, registered once with :func:`register`::

    register(Analysis(
        name="walk", help="walking access to services", compute=compute,
        settings=WalkSettings, requires=("area",),
        columns={"buildings": ("walk_*", "daily_dist_m", ...)},    # what it adds to input layers
        layers={"isochrones": Presentation(...), ...},              # every result layer, with its style
    ))

Everything else follows from the registration: ``renewgeo run`` runs the registered
analyses in dependency order (:mod:`renewgeo.pipeline`), ``renewgeo <name>`` runs one
and what it needs, the meeting map and the QGIS styles draw each result layer with its
declared :class:`~renewgeo.styles.Presentation`, and targets in ``project.toml`` may
name the declared result layers and columns.

A :class:`Result` holds new layers, new columns for input layers (indexed like
``ctx.layer(kind)``), tables, grids and notes; nothing travels in ``.attrs``.
"""

from __future__ import annotations

import graphlib
import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import geopandas as gpd
import pandas as pd

from renewgeo._grid import Grid
from renewgeo.project import Project
from renewgeo.schemas import DERIVED_COLUMNS, KINDS, RESULT_LAYERS, ResultLayer
from renewgeo.settings import Section, Settings
from renewgeo.styles import KIND_PRESENTATIONS, Presentation, View

__all__ = ["REGISTRY", "Analysis", "Context", "Result", "RunResult", "register"]

log = logging.getLogger(__name__)

S = TypeVar("S", bound=Section)
T = TypeVar("T")


@dataclass
class Result:
    """What one analysis returns.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        New layers, each declared in the analysis' ``layers``.
    columns : dict of str to DataFrame
        New columns for an input kind (``"buildings"``), indexed like ``ctx.layer(kind)``.
    tables : dict of str to DataFrame
        Tables (written as ``tables/<name>.csv`` and a sheet of the analysis' workbook).
    grids : dict of str to Grid
        Rasters (written as ``rasters/<name>.tif``).
    notes : list of str
        What a planner should know: skipped parts, left-out rows, assumptions.
    """

    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    columns: dict[str, pd.DataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _always(_project: Project) -> str | None:
    return None


@dataclass(frozen=True)
class Analysis:
    """The registration of one analysis.

    Attributes
    ----------
    name : str
        Its name: the CLI command, the key of its results.
    help : str
        One line for ``renewgeo --help``.
    compute : callable
        ``compute(ctx: Context) -> Result``.
    settings : Section subclass, optional
        Its settings section (``[name]`` in project.toml).
    requires : tuple of str
        Analyses that must run first; their results are in ``ctx.upstream`` (those
        that do not apply to the project are skipped, and missing from it).
    wants : callable, optional
        ``wants(project) -> names``: further analyses this one needs for this project
        (the targets ledger needs those whose layers and columns the targets name).
    applies : callable
        ``applies(project) -> None`` when the analysis can run, else the reason it cannot.
    layers : mapping of str to Presentation
        Every layer it may return, with how it is drawn.
    layer_kinds : mapping of str to str
        For result layers whose rows are an input kind's rows: that kind (targets may
        filter them on that kind's columns).
    layer_columns : mapping of str to tuple of str
        Columns (fnmatch patterns) of each result layer, for targets.
    columns : mapping of str to tuple of str
        Columns (fnmatch patterns) it adds to each input kind.
    views : mapping of str to View
        Further ways to draw an input kind with the columns it adds.
    input_styles : mapping of str to Presentation
        Replaces an input kind's presentation in outputs where this analysis ran.
    workbook : str, optional
        Its tables also go to ``tables/<workbook>.xlsx``.
    report : callable, optional
        ``report(result) -> str``: what ``renewgeo <name>`` prints.
    cli_flags : mapping of str to str
        Extra command-line flags (``"tolerance-pct"``) and the setting each sets
        (``"area.target_tolerance_pct"``): the flag has no default of its own.
    includes : tuple of str
        Analyses the CLI command runs along (``area`` prints the targets ledger too);
        they may be registered later.
    reads : tuple of str, optional
        Everything its result depends on besides its settings and its upstream results:
        input kinds, ``"rasters"`` (the project's rasters) and ``"extent"`` (the bounds of
        all layers). A scenario run reuses the baseline's result when none of these
        changed (:func:`renewgeo.pipeline.run_analyses` ``reuse=``); None (the default)
        means unknown, and the analysis always runs.
    """

    name: str
    help: str
    compute: Callable[[Context], Result]
    settings: type[Section] | None = None
    requires: tuple[str, ...] = ()
    wants: Callable[[Project], tuple[str, ...]] | None = None
    applies: Callable[[Project], str | None] = _always
    layers: Mapping[str, Presentation] = field(default_factory=dict)
    layer_kinds: Mapping[str, str] = field(default_factory=dict)
    layer_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    views: Mapping[str, View] = field(default_factory=dict)
    input_styles: Mapping[str, Presentation] = field(default_factory=dict)
    workbook: str | None = None
    report: Callable[[Result], str] | None = None
    cli_flags: Mapping[str, str] = field(default_factory=dict)
    includes: tuple[str, ...] = ()
    reads: tuple[str, ...] | None = None


REGISTRY: dict[str, Analysis] = {}
"""Every registered analysis, in registration order."""


def register(analysis: Analysis) -> Analysis:
    """Register an analysis (once, at the bottom of its module).

    Raises
    ------
    TypeError
        For a name used twice, an unknown dependency, a layer name clash (nothing is
        registered then).
    """
    if analysis.name in REGISTRY:
        raise TypeError(f"analysis {analysis.name!r} is registered twice")
    unknown = [r for r in analysis.requires if r not in REGISTRY]
    if unknown:
        raise TypeError(f"analysis {analysis.name!r} requires {unknown}, which are not registered (register them first)")
    if analysis.settings is not None and analysis.settings.name != analysis.name:
        raise TypeError(f"analysis {analysis.name!r}: its settings section is [{analysis.settings.name}], expected [{analysis.name}]")
    for name in analysis.layers:
        owner = next((a.name for a in REGISTRY.values() if name in a.layers), None)
        if owner or name in KINDS:
            raise TypeError(f"analysis {analysis.name!r}: layer name {name!r} is taken by {owner or 'an input kind'}")
    for name in analysis.layers:
        kind = analysis.layer_kinds.get(name, name)
        RESULT_LAYERS[name] = ResultLayer(name, kind, tuple(analysis.layer_columns.get(name, ())), analysis.name)
    for kind, cols in analysis.columns.items():
        for c in cols:
            DERIVED_COLUMNS.setdefault(kind, {})[c] = analysis.name
    REGISTRY[analysis.name] = analysis
    return analysis


def closure(names: list[str] | tuple[str, ...], project: Project | None = None) -> list[str]:
    """The analyses ``names`` need (for ``project``), themselves included, in an order that runs each after what it needs."""
    graph: dict[str, set[str]] = {}
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in graph:
            continue
        a = REGISTRY[n]
        deps = set(a.requires) | (set(a.wants(project)) if a.wants is not None and project is not None else set())
        graph[n] = deps
        todo.extend(deps)
    rank = {n: i for i, n in enumerate(REGISTRY)}
    sorter = graphlib.TopologicalSorter(graph)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)  # registration order among equals: a stable run order
        order.extend(ready)
        sorter.done(*ready)
    return order


# ------------------------------------------------------------------------- context
@dataclass(frozen=True)
class Context:
    """What an analysis computes from: the project, the resolved settings, upstream results."""

    project: Project
    settings: Settings
    upstream: Mapping[str, Result]
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def cached(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """``make()``, or what it returned for ``key`` earlier in the runs that share this cache.

        The runs of one scenario comparison share a cache: an analysis keys what is costly
        to build (the walking network) by everything it is built from, so that scenarios
        that leave those inputs alone reuse it. Outside such runs the cache is empty and
        ``make()`` is simply called.
        """
        if key not in self.cache:
            self.cache[key] = make()
        return cast(T, self.cache[key])

    def section(self, cls: type[S]) -> S:
        """The analysis' settings section, typed."""
        return self.settings.get(cls)

    def has(self, kind: str) -> bool:
        """Whether the project has a layer of ``kind``."""
        return self.project.has(kind)

    def layer(self, kind: str) -> gpd.GeoDataFrame:
        """The layer(s) of ``kind`` with every column upstream analyses added."""
        return enriched(self.project, kind, self.upstream.values())

    def result_layer(self, name: str) -> gpd.GeoDataFrame | None:
        """A layer an upstream analysis produced, or None."""
        return next((r.layers[name] for r in self.upstream.values() if name in r.layers), None)

    def grid(self, name: str) -> Grid | None:
        """A grid an upstream analysis produced, or None."""
        return next((r.grids[name] for r in self.upstream.values() if name in r.grids), None)


def enriched(project: Project, kind: str, results: Any) -> gpd.GeoDataFrame:
    """``project.layer(kind)`` with the columns ``results`` added to that kind, in order."""
    base = project.layer(kind)
    extra = [r.columns[kind] for r in results if kind in r.columns]
    if not extra:
        return base
    cols = pd.concat(extra, axis=1)
    cols = cols.loc[:, ~cols.columns.duplicated(keep="last")].reindex(base.index)
    out = base.copy()
    for c in [c for c in cols.columns if c in base.columns]:  # a recomputed column keeps its place
        out[c] = cols[c]
    out = pd.concat([out, cols[[c for c in cols.columns if c not in base.columns]]], axis=1)
    return gpd.GeoDataFrame(out, geometry=base.geometry.name, crs=base.crs)


# ------------------------------------------------------------------------- a run
@dataclass
class RunResult:
    """The results of the analyses of one run, and what they were computed from.

    Attributes
    ----------
    project : Project
    settings : Settings
        The resolved settings (project.toml plus any overrides).
    results : dict of str to Result
        By analysis, in run order.
    skipped : dict of str to str
        Analyses that did not apply, with the reason.
    overrides : dict
        The ``"section.key": value`` overrides given on top of project.toml.
    files : dict of str to Path
        What was written, once written.
    reused : list of str
        Analyses whose result was taken from another run (a scenario's baseline) because
        nothing they read had changed.
    """

    project: Project
    settings: Settings
    results: dict[str, Result] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    _cache: dict[tuple[str, tuple[str, ...]], gpd.GeoDataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Result layers, and the input layers analyses added columns to (enriched)."""
        out = {self.project.name_of(k): self.layer(k) for k in self._enriched_kinds()}
        for r in self.results.values():
            out.update(r.layers)
        return out

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of every analysis."""
        return {k: v for r in self.results.values() for k, v in r.tables.items()}

    @property
    def grids(self) -> dict[str, Grid]:
        """Every grid of every analysis."""
        return {k: v for r in self.results.values() for k, v in r.grids.items()}

    @property
    def notes(self) -> list[str]:
        """Notes of every analysis, and why skipped ones did not run."""
        out = [f"{name}: {n}" for name, r in self.results.items() for n in r.notes]
        return out + [f"{name}: not run: {why}" for name, why in self.skipped.items()]

    def _enriched_kinds(self) -> list[str]:
        return list(dict.fromkeys(k for r in self.results.values() for k in r.columns))

    def layer(self, kind: str) -> gpd.GeoDataFrame:
        """The input layer(s) of ``kind`` with every column the analyses added (built once per set of results)."""
        key = (kind, tuple(self.results))
        if key not in self._cache:
            self._cache[key] = enriched(self.project, kind, self.results.values())
        return self._cache[key]

    def output_layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Every layer a run writes: the inputs (enriched where analyses added columns) and the results."""
        return {**self.project.layers, **self.layers}

    def kinds(self) -> dict[str, str]:
        """The kind of every output layer (a result layer's kind is its own name)."""
        out = dict(self.project.kinds)
        for k in self._enriched_kinds():
            out.setdefault(self.project.name_of(k), k)
        for r in self.results.values():
            out.update({n: n for n in r.layers})
        return out

    def presentations(self) -> dict[str, list[tuple[str, Presentation]]]:
        """How each output layer is drawn: ``[(style name, Presentation), ...]``, default first.

        Input layers take their kind's presentation (or the one an analysis that ran
        puts in its place) followed by the views analyses add; result layers the
        presentation their analysis declared.
        """
        kind_pres = dict(KIND_PRESENTATIONS)
        ran = [REGISTRY[n] for n in self.results if n in REGISTRY]
        for a in ran:
            kind_pres.update(a.input_styles)
        out: dict[str, list[tuple[str, Presentation]]] = {}
        for name, kind in self.kinds().items():
            if kind in kind_pres:
                out[name] = [(kind, kind_pres[kind])]
        for a in ran:
            res = self.results[a.name]
            for lname in res.layers:
                out[lname] = [(lname, a.layers[lname])]
            for vname, view in a.views.items():
                target = self.project.name_of(view.kind)
                if view.kind in res.columns and target in out:
                    out[target].append((vname, view.presentation))
        return out

    def __repr__(self) -> str:
        n_layers = sum(len(r.layers) for r in self.results.values())
        return (f"<RunResult {self.project.name!r}: ran {list(self.results)}"
                + (f", skipped {list(self.skipped)}" if self.skipped else "")
                + f"; {n_layers} result layers, {len(self.tables)} tables, {len(self.grids)} grids>")

    def _repr_html_(self) -> str:
        """What ran and what it made: layers with their feature counts, tables with their shapes, then the notes."""
        def sized(items: Mapping[str, Any], shape: Callable[[Any], str]) -> str:
            return "<br>".join(f"{html.escape(n)} <small>({shape(v)})</small>" for n, v in items.items()) or "-"

        rows = "".join(
            f"<tr><td style='text-align:left'><b>{html.escape(name)}</b></td>"
            f"<td style='text-align:left'>{sized(r.layers, lambda g: f'{len(g):,} features')}</td>"
            f"<td style='text-align:left'>{sized(r.tables, lambda t: f'{t.shape[0]:,} × {t.shape[1]:,}')}</td>"
            f"<td>{len(r.notes)}</td></tr>"
            for name, r in self.results.items()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<div><b>renewgeo run: {html.escape(self.project.title)}</b>"
                "<table><thead><tr><th>analysis</th><th>layers</th><th>tables (rows × columns)</th><th>notes</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>"
                + (f"<details><summary>Notes ({len(self.notes)})</summary><ul>{notes}</ul></details>" if notes else "")
                + "<small>r.tables[name], r.layers[name], r.layer(kind), r.notes</small></div>")
