"""Validation of layers against their kind's schema: every problem at once.

:func:`validate_layer` returns a cleaned copy of the layer (columns mapped to their
canonical names and converted to their types; geometries repaired when asked) and the
list of :class:`Problem` it found. Nothing is dropped silently: a row with a bad value
is named in a problem, and the project loader refuses to go on while errors remain.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from renewgeo.schemas import Column, LayerKind

__all__ = ["Problem", "ValidationReport", "validate_layer"]

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

    conv_vals = series.map(conv)
    bad = (conv_vals == "__bad__").to_numpy(dtype=bool)
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
        frac = num.notna().to_numpy() & (np.mod(num.fillna(0).to_numpy(dtype=float), 1) != 0)
        bad = bad | frac
        num = num.where(~frac)
        return num.round().astype("Int64"), bad
    return num.astype("float64"), bad


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

    out = gdf.copy()
    geom_name = out.geometry.name
    known = {c.name for c in kind.columns}

    # 1. column mapping ------------------------------------------------------------
    rename: dict[str, str] = {}
    for canon, src in (column_map or {}).items():
        if canon not in known:
            sugg = closest(canon, known)
            add(
                "error",
                "unknown_mapping",
                f"column mapping names {canon!r}, which is not a column of kind {kind.name!r}",
                f"use one of {sorted(known)}" + (f" (did you mean {sugg!r}?)" if sugg else ""),
                column=canon,
            )
            continue
        if src not in out.columns:
            sugg = closest(src, [c for c in out.columns if c != geom_name])
            add(
                "error",
                "missing_column",
                f"mapped source column {src!r} (for {canon!r}) is not in the layer",
                f'fix the mapping `{canon} = "{src}"`'
                + (
                    f": did you mean {sugg!r}?" if sugg else f"; the layer has {sorted(c for c in out.columns if c != geom_name)}"
                ),
                column=src,
            )
            continue
        if canon in out.columns and canon != src:
            add(
                "error",
                "mapping_conflict",
                f"column {src!r} is mapped to {canon!r}, but the layer already has a column {canon!r}",
                f"drop one of them or remove the mapping for {canon!r}",
                column=canon,
            )
            continue
        rename[src] = canon
    out = out.rename(columns=rename)
    present = [c for c in out.columns if c != geom_name]

    # 2. missing required and misspelled columns -----------------------------------
    unknown = [c for c in present if c not in known]
    for col in kind.columns:
        if col.required and col.name not in out.columns:
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
        sugg = closest(c, [k for k in known if k not in out.columns], cutoff=0.75)
        if sugg:
            add(
                "warning",
                "misspelled_column",
                f"unknown column {c!r} looks like a misspelling of {sugg!r}",
                f'rename it to {sugg!r} or map it under [layers.{layer}.columns]: `{sugg} = "{c}"`',
                column=c,
            )

    # 3. geometry ------------------------------------------------------------------
    geoms = out.geometry
    null = geoms.isna().to_numpy()
    empty = (~null) & geoms.is_empty.to_numpy()
    if null.any():
        add(
            "error",
            "null_geometry",
            f"{int(null.sum())} feature(s) have no geometry",
            "delete these features or draw their geometry",
            rows=_row_ids(out, null),
        )
    if empty.any():
        add(
            "error",
            "empty_geometry",
            f"{int(empty.sum())} feature(s) have an empty geometry",
            "delete these features or draw their geometry",
            rows=_row_ids(out, empty),
        )
    ok = ~(null | empty)
    invalid = ok & ~shapely.is_valid(geoms.values).astype(bool)
    if invalid.any():
        reasons = [shapely.is_valid_reason(g) for g in geoms.values[invalid]]
        rows = tuple(f"{i} ({r})" for i, r in zip(_row_ids(out, invalid), reasons, strict=True))
        if repair:
            fixed = shapely.make_valid(geoms.values[invalid])
            if kind.geometry in _GEOM_FAMILIES:
                fixed = _keep_family(fixed, kind.geometry)
            vals = out.geometry.values.copy()
            vals[invalid] = fixed
            out[geom_name] = vals
            add(
                "warning",
                "invalid_geometry",
                f"{int(invalid.sum())} invalid geometr(y/ies) repaired with shapely.make_valid",
                "check the repaired shapes; fix them at the source to silence this",
                rows=rows,
            )
        else:
            add(
                "error",
                "invalid_geometry",
                f"{int(invalid.sum())} invalid geometr(y/ies)",
                f"fix them in your GIS, or set `repair = true` under [layers.{layer}] (or [project]) to repair them with shapely.make_valid",
                rows=rows,
            )
    if kind.geometry in _GEOM_FAMILIES:
        types = out.geometry.geom_type
        wrong = ok & ~types.isin(list(_GEOM_FAMILIES[kind.geometry])).to_numpy()
        if wrong.any():
            found = sorted(set(types[wrong]))
            add(
                "error",
                "wrong_geometry_type",
                f"{int(wrong.sum())} feature(s) are {found}, but {kind.name} must be {kind.geometry}s",
                f"check that this file really holds {kind.name}, or give the layer another kind in project.toml",
                rows=_row_ids(out, wrong),
            )

    # 4. ids -----------------------------------------------------------------------
    if "id" in out.columns:
        ids = out["id"]
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

    # 5. types, allowed values, ranges ---------------------------------------------
    for col in kind.columns:
        if col.name not in out.columns:
            continue
        raw = out[col.name]
        conv, bad = _convert(raw, col)
        if bad.any():
            add(
                "error",
                "bad_type",
                f"{int(bad.sum())} value(s) cannot be read as {col.dtype}",
                f"correct these values ({col.description}); leave a cell empty if unknown",
                column=col.name,
                rows=_with_values(out, bad, raw),
            )
        out[col.name] = conv
        if col.allowed is not None:
            allowed = set(col.allowed) | set((extra_values or {}).get(col.name, ()))
            vals = conv.astype("string")
            outside = (vals.notna() & ~vals.isin(list(allowed))).to_numpy(dtype=bool)
            if outside.any():
                bad_vals = sorted(set(vals[outside].astype(str)))
                hints = []
                for v in bad_vals[:MAX_IDS_SHOWN]:
                    s = closest(v, allowed)
                    hints.append(f"{v!r}" + (f" -> {s!r}?" if s else ""))
                sev: Severity = "warning" if col.open_vocabulary else "error"
                fix = f"use one of {sorted(allowed)} ({'; '.join(hints)})" + (
                    ", or add the value under [vocabulary] in project.toml" if col.open_vocabulary else ""
                )
                add(
                    sev,
                    "value_not_allowed",
                    f"{int(outside.sum())} value(s) outside the allowed set",
                    fix,
                    column=col.name,
                    rows=_with_values(out, outside, vals),
                )
        if col.min is not None or col.max is not None:
            num = pd.to_numeric(conv, errors="coerce").astype("float64")
            lo_bad = np.zeros(len(num), dtype=bool)
            if col.min is not None:
                lo_bad = (num <= col.min if col.min_exclusive else num < col.min).fillna(False).to_numpy(dtype=bool)
            hi_bad = (num > col.max).fillna(False).to_numpy(dtype=bool) if col.max is not None else np.zeros(len(num), bool)
            rng = lo_bad | hi_bad
            if rng.any():
                lo_txt = f"{'>' if col.min_exclusive else '>='} {col.min:g}" if col.min is not None else ""
                hi_txt = f"<= {col.max:g}" if col.max is not None else ""
                add(
                    "error",
                    "out_of_range",
                    f"{int(rng.sum())} value(s) outside the plausible range ({' and '.join(t for t in (lo_txt, hi_txt) if t)})",
                    f"correct these values ({col.description}); leave a cell empty if unknown",
                    column=col.name,
                    rows=_with_values(out, rng, conv),
                )
    return out, problems


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
