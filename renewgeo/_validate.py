"""Validation of layers against their kind's schema: every problem at once.

:func:`validate_layer` returns a cleaned copy of the layer (columns mapped to their
canonical names and converted to their types; geometries repaired when asked) and the
list of :class:`Problem` it found. Nothing is dropped silently: a row with a bad value
is named in a problem, and the project loader refuses to go on while errors remain.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renewgeo.schemas import Column, LayerKind
from renewgeo.styles import VALUE_LABELS

__all__ = ["Problem", "ValidationReport", "validate_layer", "visible_text"]

# C0 and C1 control characters but tab and newline, and the bidirectional controls that reorder what a terminal shows
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_text(text: object) -> str:
    r"""``text`` safe to print on a terminal: control characters shown as ``\xNN`` / ``\uNNNN`` escapes.

    Names, notes, reports and file lists come from project folders that anyone may
    have made; an escape sequence in them (``\x1b]0;...``) would otherwise retitle,
    recolour or rewrite the user's terminal.

    Examples
    --------
    >>> visible_text("x\x1b]0;PWNED\x07 ok\n\tnext")
    'x\\x1b]0;PWNED\\x07 ok\n\tnext'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", str(text))


Severity = Literal["error", "warning"]

_GEOM_FAMILIES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "line": {"LineString", "MultiLineString"},
    "point": {"Point", "MultiPoint"},
}
_TRUE = {"true", "t", "yes", "y", "1", "1.0", "是"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", "否"}
MAX_IDS_SHOWN = 10


@dataclass(frozen=True)
class Problem:
    """One problem found in a layer.

    Attributes
    ----------
    severity : {"error", "warning"}
    layer : str
        Layer name in the project.
    message : str
        What is wrong.
    fix : str
        What to do about it.
    column : str or None
        The column concerned, if any.
    rows : tuple of str
        Ids (or row numbers when there is no usable id) of the rows concerned.
    file : str or None
        The source file (and layer inside it).
    code : str
        A stable short code (``missing_column``, ``invalid_geometry`` ...), for tests
        and filters.
    """

    severity: Severity
    layer: str
    message: str
    fix: str
    column: str | None = None
    rows: tuple[str, ...] = ()
    file: str | None = None
    code: str = "other"

    def format(self) -> str:
        """One-line human-readable form."""
        where = f"[{self.layer}]"
        if self.file:
            where += f" ({self.file})"
        if self.column:
            where += f" column {self.column!r}"
        rows = ""
        if self.rows:
            shown = ", ".join(self.rows[:MAX_IDS_SHOWN])
            more = f" ... ({len(self.rows)} in all)" if len(self.rows) > MAX_IDS_SHOWN else ""
            rows = f" Rows: {shown}{more}."
        return f"{self.severity.upper()} {where}: {self.message.rstrip('.')}.{rows} Fix: {self.fix}"


@dataclass
class ValidationReport:
    """Every problem found while loading a project or a layer."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def extend(self, problems: Iterable[Problem]) -> None:
        """Add problems."""
        self.problems.extend(problems)

    def codes(self) -> list[str]:
        """The codes of all problems, in order."""
        return [p.code for p in self.problems]

    def format(self, severity: Severity | None = None) -> str:
        """All problems (or those of one severity), one per line, with a summary line."""
        probs = [p for p in self.problems if severity is None or p.severity == severity]
        head = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        return "\n".join([head, *(p.format() for p in probs)])

    def __str__(self) -> str:
        return self.format()

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table (one row per problem)."""
        return pd.DataFrame(
            [
                {
                    "severity": p.severity,
                    "layer": p.layer,
                    "file": p.file,
                    "column": p.column,
                    "code": p.code,
                    "message": p.message,
                    "rows": ", ".join(p.rows),
                    "fix": p.fix,
                }
                for p in self.problems
            ],
            columns=["severity", "layer", "file", "column", "code", "message", "rows", "fix"],
        )

    def _repr_html_(self) -> str:
        colour = "#b00020" if self.errors else "#2e7d32"
        head = f"<b style='color:{colour}'>{len(self.errors)} error(s)</b>, {len(self.warnings)} warning(s)"
        if not self.problems:
            return f"<div>{head}: all layers valid.</div>"
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (p.severity, p.layer, p.column or "", p.message, ", ".join(p.rows[:MAX_IDS_SHOWN]), p.fix)
            )
            + "</tr>"
            for p in self.problems
        )
        return (
            f"<div>{head}<table><thead><tr><th>severity</th><th>layer</th><th>column</th>"
            f"<th>problem</th><th>rows</th><th>fix</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``name`` (case-insensitive), or None."""
    cands = list(candidates)
    lowered = {c.lower(): c for c in cands}
    hit = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[hit[0]] if hit else None


def _row_ids(gdf: pd.DataFrame, mask: Any) -> tuple[str, ...]:
    mask = np.asarray(mask, dtype=bool)
    if "id" in gdf.columns and gdf["id"].notna().all():
        ids = gdf["id"].astype(str).to_numpy()[mask]
    else:
        ids = np.array([f"row {i}" for i in range(len(gdf))])[mask]
    return tuple(str(i) for i in ids)


def _with_values(gdf: pd.DataFrame, mask: Any, values: pd.Series) -> tuple[str, ...]:
    ids = _row_ids(gdf, mask)
    vals = values.to_numpy()[np.asarray(mask, dtype=bool)]
    plain = [v.item() if isinstance(v, np.generic) else v for v in vals]
    return tuple(f"{i}={v!r}" for i, v in zip(ids, plain, strict=True))


def _to_bool(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    def conv(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        if isinstance(v, bool | np.bool_):
            return bool(v)
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        return "__bad__"

    conv_vals = series.astype("object").map(conv)  # object first: a nullable boolean column maps NA to NA
    bad = np.fromiter((isinstance(v, str) for v in conv_vals), dtype=bool, count=len(conv_vals))
    out = conv_vals.where(~bad, pd.NA).astype("boolean")
    return out, bad


def _convert(series: pd.Series, col: Column) -> tuple[pd.Series, np.ndarray]:
    """Convert ``series`` to the column's dtype; return it and a mask of failed rows."""
    notnull = series.notna().to_numpy()
    if col.dtype == "str":
        out = series.map(
            lambda v: v if v is None or v is pd.NA else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        )
        out = out.where(series.notna(), None).astype("string")
        return out, np.zeros(len(series), dtype=bool)
    if col.dtype == "bool":
        return _to_bool(series)
    num = pd.to_numeric(series, errors="coerce")
    bad = notnull & num.isna().to_numpy()
    if col.dtype == "int":
        v = num.fillna(0).to_numpy(dtype=float)
        whole = np.zeros(len(v), dtype=bool)
        ok = np.isfinite(v) & (np.abs(v) < 2.0**53)  # a whole number an Int64 column can hold
        whole[ok] = np.mod(v[ok], 1) == 0
        frac = num.notna().to_numpy() & ~whole
        bad = bad | frac
        num = num.where(~frac)
        return num.round().astype("Int64"), bad
    return num.astype("float64"), bad


class _Add(Protocol):
    """Record one problem of the layer being checked (made by :func:`validate_layer`)."""

    def __call__(
        self, severity: Severity, code: str, message: str, fix: str, *, column: str | None = None, rows: tuple[str, ...] = ()
    ) -> None: ...


def validate_layer(
    gdf: gpd.GeoDataFrame,
    kind: LayerKind,
    *,
    layer: str,
    file: str | None = None,
    column_map: Mapping[str, str] | None = None,
    repair: bool = False,
    extra_values: Mapping[str, Sequence[str]] | None = None,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check a layer against its kind and return a cleaned copy and the problems found.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer as read. It is not modified.
    kind : LayerKind
        Its schema.
    layer : str
        Its name in the project (for messages).
    file : str, optional
        Where it came from (for messages).
    column_map : mapping, optional
        ``{canonical_name: source_name}``, e.g. ``{"floors": "LAYERS"}``.
    repair : bool
        Repair invalid geometries with :func:`shapely.make_valid` (listed as warnings)
        instead of reporting them as errors.
    extra_values : mapping, optional
        Extra allowed values per column for open vocabularies.

    Returns
    -------
    (GeoDataFrame, list of Problem)

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.schemas import KINDS
    >>> g = gpd.GeoDataFrame({"id": ["a"], "stauts": ["idle"]},
    ...                      geometry=[shapely.box(0, 0, 10, 10)], crs=4549)
    >>> _, probs = validate_layer(g, KINDS["buildings"], layer="buildings")
    >>> probs[0].message
    "unknown column 'stauts' looks like a misspelling of 'status'"
    """
    problems: list[Problem] = []

    def add(
        severity: Severity, code: str, message: str, fix: str, *, column: str | None = None, rows: tuple[str, ...] = ()
    ) -> None:
        problems.append(Problem(severity, layer, message, fix, column, rows, file, code))

    # The steps below work on our own copy: they rename, convert and repair it in place.
    out = _unique_columns(gdf, add)
    out = out.rename(columns=_mapped_columns(out, kind, column_map or {}, add))
    _check_columns(out, kind, layer, add)
    out = _check_geometries(out, kind, layer, repair, add)
    _check_ids(out, add)
    for col in kind.columns:
        if col.name in out.columns:
            conv = _translated(out, _converted(out, col, add), col, add)
            out[col.name] = conv
            _check_allowed(out, conv, col, (extra_values or {}).get(col.name, ()), add)
            _check_range(out, conv, col, add)
    return out, problems


def _unique_columns(gdf: gpd.GeoDataFrame, add: _Add) -> gpd.GeoDataFrame:
    """A copy with one column per name: a repeated name is reported and its later copies left out."""
    dup = gdf.columns.duplicated()
    if dup.any():
        names = sorted({str(c) for c in gdf.columns[dup]})
        add("error", "duplicate_column", f"the layer has several columns named {names}",
            "give every column its own name in the source data (only the first of each is read)", column=names[0])
        return gpd.GeoDataFrame(gdf.loc[:, ~dup].copy(), geometry=gdf.geometry.name, crs=gdf.crs)
    return gdf.copy()


def _mapped_columns(gdf: gpd.GeoDataFrame, kind: LayerKind, column_map: Mapping[str, str], add: _Add) -> dict[str, str]:
    """The ``{source: canonical}`` renames of a valid column mapping; bad entries are reported."""
    known = {c.name for c in kind.columns}
    others = [c for c in gdf.columns if c != gdf.geometry.name]
    rename: dict[str, str] = {}
    sources: dict[str, list[str]] = {}
    for canon, src in column_map.items():
        sources.setdefault(src, []).append(canon)
    for src, canons in sources.items():
        if len(canons) > 1:
            add("error", "mapping_conflict", f"column {src!r} is mapped to several columns: {canons}",
                f"map {src!r} to one of them only, under [layers.NAME.columns]", column=src)
    for canon, src in column_map.items():
        if len(sources[src]) > 1:
            continue
        if src == gdf.geometry.name:
            add("error", "mapping_conflict", f"column mapping `{canon} = \"{src}\"` names the layer's geometry",
                f"map {canon!r} to an attribute column: {sorted(others)}", column=canon)
        elif canon not in known:
            sugg = closest(canon, known)
            add(
                "error",
                "unknown_mapping",
                f"column mapping names {canon!r}, which is not a column of kind {kind.name!r}",
                f"use one of {sorted(known)}" + (f" (did you mean {sugg!r}?)" if sugg else ""),
                column=canon,
            )
        elif src not in gdf.columns:
            sugg = closest(src, others)
            add(
                "error",
                "missing_column",
                f"mapped source column {src!r} (for {canon!r}) is not in the layer",
                f'fix the mapping `{canon} = "{src}"`'
                + (f": did you mean {sugg!r}?" if sugg else f"; the layer has {sorted(others)}"),
                column=src,
            )
        elif canon in gdf.columns and canon != src:
            add(
                "error",
                "mapping_conflict",
                f"column {src!r} is mapped to {canon!r}, but the layer already has a column {canon!r}",
                f"drop one of them or remove the mapping for {canon!r}",
                column=canon,
            )
        else:
            rename[src] = canon
    return rename


def _check_columns(gdf: gpd.GeoDataFrame, kind: LayerKind, layer: str, add: _Add) -> None:
    """Required columns that are missing, and unknown columns that look like misspelled known ones."""
    known = {c.name for c in kind.columns}
    unknown = [c for c in gdf.columns if c != gdf.geometry.name and c not in known]
    for col in kind.columns:
        if col.required and col.name not in gdf.columns:
            sugg = closest(col.name, unknown)
            fix = (
                f'rename {sugg!r} to {col.name!r}, or map it in project.toml: `{col.name} = "{sugg}"` under [layers.{layer}.columns]'
                if sugg
                else f"add a column {col.name!r} ({col.description}), or map your own column to it under [layers.{layer}.columns]"
            )
            add(
                "error",
                "missing_column",
                f"required column {col.name!r} is missing" + (f" (found {sugg!r})" if sugg else ""),
                fix,
                column=col.name,
            )
    for c in unknown:
        sugg = closest(c, [k for k in known if k not in gdf.columns], cutoff=0.75)
        if sugg:
            add(
                "warning",
                "misspelled_column",
                f"unknown column {c!r} looks like a misspelling of {sugg!r}",
                f'rename it to {sugg!r} or map it under [layers.{layer}.columns]: `{sugg} = "{c}"`',
                column=c,
            )


ABSURD_COORDINATE = 1e8
"""No CRS on Earth has a coordinate this large (Web Mercator's reach 2.0e7 m)."""


def absurd_coordinates(geoms: np.ndarray) -> np.ndarray:
    """Mask of geometries with a coordinate that is not finite or beyond :data:`ABSURD_COORDINATE`.

    Examples
    --------
    >>> import shapely
    >>> absurd_coordinates(np.array([shapely.Point(1, 2), shapely.Point(1e30, 0), None])).tolist()
    [False, True, False]
    """
    b = shapely.bounds(geoms)
    present = ~np.isnan(b).all(axis=1)  # missing and empty geometries have no bounds
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(b).all(axis=1) | (np.abs(b) > ABSURD_COORDINATE).any(axis=1)
    return np.asarray(present & bad, dtype=bool)


def _check_geometries(gdf: gpd.GeoDataFrame, kind: LayerKind, layer: str, repair: bool, add: _Add) -> gpd.GeoDataFrame:
    """Null, empty, invalid (repaired in place when ``repair``) and wrong-type geometries.

    Returns the layer without the features that repair reduced to nothing of the layer's
    geometry family (listed in a warning).
    """
    geoms = gdf.geometry
    null = geoms.isna().to_numpy()
    empty = (~null) & geoms.is_empty.to_numpy()
    for mask, code, what in ((null, "null_geometry", "no geometry"), (empty, "empty_geometry", "an empty geometry")):
        if mask.any():
            add(
                "error",
                code,
                f"{int(mask.sum())} feature(s) have {what}",
                "delete these features or draw their geometry",
                rows=_row_ids(gdf, mask),
            )
    ok = ~(null | empty)
    absurd = ok & absurd_coordinates(geoms.values)
    if absurd.any():
        add(
            "error",
            "absurd_coordinates",
            f"{int(absurd.sum())} feature(s) have coordinates no CRS can hold (not finite, or beyond {ABSURD_COORDINATE:.0e})",
            "a broken export: redraw or delete these features at the source (the rest of the layer is checked as usual)",
            rows=_row_ids(gdf, absurd),
        )
        ok &= ~absurd
    invalid = ok & ~shapely.is_valid(geoms.values).astype(bool)
    if invalid.any():
        gone = _invalid_geometries(gdf, invalid, kind, layer, repair, add)
        if gone.any():
            gdf, ok = gdf.loc[~gone], ok[~gone]
    if kind.geometry in _GEOM_FAMILIES:
        types = gdf.geometry.geom_type
        wrong = ok & ~types.isin(list(_GEOM_FAMILIES[kind.geometry])).to_numpy()
        if wrong.any():
            add(
                "error",
                "wrong_geometry_type",
                f"{int(wrong.sum())} feature(s) are {sorted(set(types[wrong]))}, but {kind.name} must be {kind.geometry}s",
                f"check that this file really holds {kind.name}, or give the layer another kind in project.toml",
                rows=_row_ids(gdf, wrong),
            )
    return gdf


def _invalid_geometries(gdf: gpd.GeoDataFrame, invalid: np.ndarray, kind: LayerKind, layer: str, repair: bool,
                        add: _Add) -> np.ndarray:
    """Report the invalid geometries, with shapely's reason; repair them in place when ``repair``.

    Returns a mask of the features repair reduced to nothing usable (an empty result, or no
    area left for polygons, no length for lines), which the caller leaves out.
    """
    geoms = gdf.geometry.values
    reasons = [shapely.is_valid_reason(g) for g in geoms[invalid]]
    rows = tuple(f"{i} ({r})" for i, r in zip(_row_ids(gdf, invalid), reasons, strict=True))
    n = int(invalid.sum())
    if not repair:
        add(
            "error",
            "invalid_geometry",
            f"{n} invalid geometr(y/ies)",
            f"fix them in your GIS, or set `repair = true` under [layers.{layer}] (or [project]) to repair them with shapely.make_valid",
            rows=rows,
        )
        return np.zeros(len(gdf), dtype=bool)
    fixed = shapely.make_valid(geoms[invalid])
    if kind.geometry in _GEOM_FAMILIES:
        fixed = _keep_family(fixed, kind.geometry)
    vals = geoms.copy()
    vals[invalid] = fixed
    gdf[gdf.geometry.name] = vals
    useless = shapely.is_empty(fixed)
    if kind.geometry == "polygon":
        useless |= shapely.area(fixed) <= 0
    elif kind.geometry == "line":
        useless |= shapely.length(fixed) <= 0
    gone = np.zeros(len(gdf), dtype=bool)
    gone[np.flatnonzero(invalid)[useless]] = True
    kept = tuple(r for r, u in zip(rows, useless, strict=True) if not u)
    if kept:
        add("warning", "invalid_geometry", f"{len(kept)} invalid geometr(y/ies) repaired with shapely.make_valid",
            "check the repaired shapes; fix them at the source to silence this", rows=kept)
    if gone.any():
        add("warning", "dropped_by_repair",
            f"{int(gone.sum())} invalid feature(s) left out: repair leaves no {kind.geometry} of them "
            "(a ring that collapses to a line or a point)",
            "redraw them at the source; the rest of the layer is used",
            rows=tuple(r for r, u in zip(rows, useless, strict=True) if u))
    return gone


def _check_ids(gdf: pd.DataFrame, add: _Add) -> None:
    """Missing and duplicated ids (rows without an id are named by row number)."""
    if "id" not in gdf.columns:
        return
    ids = gdf["id"]
    nulls = ids.isna().to_numpy()
    if nulls.any():
        add(
            "error",
            "null_id",
            f"{int(nulls.sum())} feature(s) have no id",
            "give every feature a unique id",
            column="id",
            rows=tuple(f"row {i}" for i in np.flatnonzero(nulls)),
        )
    sid = ids.astype("string")
    dup = sid.duplicated(keep=False).to_numpy() & ~nulls
    if dup.any():
        dups = sorted(set(sid[dup].astype(str)))
        add(
            "error",
            "duplicate_id",
            f"{len(dups)} id value(s) are used more than once",
            "make ids unique",
            column="id",
            rows=tuple(dups),
        )


def _converted(gdf: pd.DataFrame, col: Column, add: _Add) -> pd.Series:
    """The column converted to its type; values that cannot be read are reported (and become NA)."""
    raw = gdf[col.name]
    conv, bad = _convert(raw, col)
    if bad.any():
        add(
            "error",
            "bad_type",
            f"{int(bad.sum())} value(s) cannot be read as {col.dtype}",
            f"correct these values ({col.description}); leave a cell empty if unknown",
            column=col.name,
            rows=_with_values(gdf, bad, raw),
        )
    return conv


def _translated(gdf: pd.DataFrame, conv: pd.Series, col: Column, add: _Add) -> pd.Series:
    """Allowed values written by their Chinese or English label (``在营``, ``under renovation``) read as their codes.

    Only labels of the column's own allowed values are read; each translation is listed
    in one warning, so a planner sees what was read as what.
    """
    if col.allowed is None:
        return conv
    labels: dict[str, str] = {}
    for code in col.allowed:
        for label in VALUE_LABELS.get(code, ()):
            if label not in col.allowed:
                labels.setdefault(label.strip().lower(), code)
    if not labels:
        return conv
    vals = conv.astype("string")
    key = vals.str.strip().str.lower()
    hit = (vals.notna() & ~vals.isin(list(col.allowed)) & key.isin(list(labels))).to_numpy(dtype=bool)
    if not hit.any():
        return conv
    out = conv.copy()
    out[hit] = key[hit].map(labels).to_numpy()
    pairs = sorted({f"{v!r} -> {labels[k]!r}" for v, k in zip(vals[hit], key[hit], strict=True)})
    add("warning", "value_translated", f"{int(hit.sum())} value(s) given by their label were read as codes: {'; '.join(pairs)}",
        f"nothing to do if that is what they mean; write the codes {sorted(col.allowed)} at the source to silence this",
        column=col.name, rows=_with_values(gdf, hit, vals))
    return out


def _check_allowed(gdf: pd.DataFrame, conv: pd.Series, col: Column, extra: Sequence[str], add: _Add) -> None:
    """Values outside the column's allowed set (warnings for open vocabularies)."""
    if col.allowed is None:
        return
    allowed = set(col.allowed) | set(extra)
    vals = conv.astype("string")
    outside = (vals.notna() & ~vals.isin(list(allowed))).to_numpy(dtype=bool)
    if not outside.any():
        return
    hints = "; ".join(_with_suggestion(v, allowed) for v in sorted(set(vals[outside].astype(str)))[:MAX_IDS_SHOWN])
    add(
        "warning" if col.open_vocabulary else "error",
        "value_not_allowed",
        f"{int(outside.sum())} value(s) outside the allowed set",
        f"use one of {sorted(allowed)} ({hints})"
        + (", or add the value under [vocabulary] in project.toml" if col.open_vocabulary else ""),
        column=col.name,
        rows=_with_values(gdf, outside, vals),
    )


def _with_suggestion(value: str, allowed: Iterable[str]) -> str:
    sugg = closest(value, allowed)
    return f"{value!r}" + (f" -> {sugg!r}?" if sugg else "")


def _check_range(gdf: pd.DataFrame, conv: pd.Series, col: Column, add: _Add) -> None:
    """Numbers outside the column's plausible range."""
    if col.min is None and col.max is None:
        return
    num = pd.to_numeric(conv, errors="coerce").astype("float64").to_numpy()
    rng = np.zeros(len(num), dtype=bool)
    bounds = []
    if col.min is not None:
        rng |= num <= col.min if col.min_exclusive else num < col.min
        bounds.append(f"{'>' if col.min_exclusive else '>='} {col.min:g}")
    if col.max is not None:
        rng |= num > col.max
        bounds.append(f"<= {col.max:g}")
    if rng.any():
        add(
            "error",
            "out_of_range",
            f"{int(rng.sum())} value(s) outside the plausible range ({' and '.join(bounds)})",
            f"correct these values ({col.description}); leave a cell empty if unknown",
            column=col.name,
            rows=_with_values(gdf, rng, conv),
        )


def _keep_family(geoms: np.ndarray, family: str) -> np.ndarray:
    """From make_valid output keep only the parts of the layer's geometry family."""
    wanted = _GEOM_FAMILIES[family]
    res = []
    for g in geoms:
        if g is None or g.geom_type in wanted:
            res.append(g)
            continue
        parts = [p for p in getattr(g, "geoms", [g]) if p.geom_type in wanted]
        res.append(shapely.union_all(parts) if parts else shapely.from_wkt("GEOMETRYCOLLECTION EMPTY"))
    return np.array(res, dtype=object)
