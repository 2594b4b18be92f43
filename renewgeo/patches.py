"""Scenarios as patches: what a plan changes in the layers that exist.

A scenario (``[[scenarios]]`` in project.toml) names one *patch layer* per project layer it
changes. A patch layer has the kind's columns plus two of its own:

``id``
    the baseline feature it changes, or a new id for a feature it adds;
``action``
    ``add``, ``remove`` or ``update``; for buildings also ``demolish`` (kept, with status
    ``demolished`` and treatment ``demolish``, so the ledger counts what goes),
    ``new_build`` (added, status ``new``, treatment ``new_build``), ``facade_upgrade`` and
    ``full_renovation`` (treatment set, status ``renovated`` unless the row gives one) and
    ``retain``.

Every other column of a row replaces the baseline's value where the row has one; an
empty cell keeps the baseline's. A row's geometry replaces the baseline's; an empty
geometry keeps it (added features must have one). The baseline is never modified:
:func:`apply_patch` returns a new layer, and layers a scenario does not patch are the
baseline's own objects (so a run of the scenario can tell, by identity, what did not
change and reuse it).

>>> import geopandas as gpd, shapely
>>> base = gpd.GeoDataFrame({"id": ["B1", "B2"], "status": ["operating", "idle"], "gfa_m2": [100.0, 200.0]},
...                         geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)], crs=4549)
>>> patch = gpd.GeoDataFrame({"id": ["B2", "B3"], "action": ["demolish", "new_build"], "gfa_m2": [None, 500.0]},
...                          geometry=[None, shapely.box(40, 0, 50, 10)], crs=4549)
>>> p = check_patch(patch, base, kind="buildings", layer="buildings", scenario="plan")[0]
>>> out = apply_patch(base, p)
>>> list(out["id"]), list(out["status"]), list(out["treatment"].fillna("-")), list(out["gfa_m2"])
(['B1', 'B2', 'B3'], ['operating', 'demolished', 'new'], ['-', 'demolish', 'new_build'], [100.0, 200.0, 500.0])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from renewgeo._validate import Problem, closest
from renewgeo.schemas import KINDS

__all__ = ["ACTIONS", "BUILDING_ACTIONS", "SCENARIO_ID", "Patch", "Scenario", "apply_patch", "check_patch"]

ACTIONS = ("add", "remove", "update")
BUILDING_ACTIONS = ("demolish", "new_build", "facade_upgrade", "full_renovation", "retain")
_ADDING = ("add", "new_build")
# what a building action sets, unless the patch row gives the column itself
_BUILDING_SETS: dict[str, dict[str, str]] = {
    "demolish": {"status": "demolished", "treatment": "demolish"},
    "new_build": {"status": "new", "treatment": "new_build"},
    "facade_upgrade": {"treatment": "facade_upgrade", "status": "renovated"},
    "full_renovation": {"treatment": "full_renovation", "status": "renovated"},
    "retain": {"treatment": "retain"},
}
SCENARIO_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
"""A scenario id: letters, digits, ``_`` and ``-`` (it names columns, sheets and files)."""


@dataclass(frozen=True)
class Patch:
    """One checked patch layer.

    Attributes
    ----------
    layer : str
        The project layer it changes.
    kind : str
        That layer's kind.
    frame : GeoDataFrame
        The validated rows in the project's CRS, without ``action``; rows that keep the
        baseline geometry carry it.
    actions : ndarray of str
        The action of each row.
    own_geometry : ndarray of bool
        Whether each row brings a geometry of its own.
    source : str
        Where it was read from (for messages).
    """

    layer: str
    kind: str
    frame: gpd.GeoDataFrame
    actions: np.ndarray
    own_geometry: np.ndarray
    source: str = "in memory"

    def counts(self) -> dict[str, int]:
        """Rows per action."""
        vals, n = np.unique(self.actions, return_counts=True)
        return {str(v): int(c) for v, c in zip(vals, n, strict=True)}


@dataclass(frozen=True)
class Scenario:
    """A named plan: patches on the baseline's layers.

    Attributes
    ----------
    id : str
    label, label_zh : str
        Display labels (English, Chinese).
    description : str
    patches : mapping of str to Patch
        By project layer name.
    """

    id: str
    label: str = ""
    label_zh: str = ""
    description: str = ""
    patches: Mapping[str, Patch] = field(default_factory=dict)

    def title(self, lang: str = "en") -> str:
        """The label in ``lang`` (``zh``, ``en`` or ``zh+en``), falling back to the other, then the id."""
        en, zh = self.label or self.label_zh or self.id, self.label_zh or self.label or self.id
        return {"zh": zh, "en": en}.get(lang, zh if zh == en else f"{zh} {en}")

    def summary(self) -> pd.DataFrame:
        """One row per patched layer and action, with the number of features."""
        rows = [(lname, a, n) for lname, p in self.patches.items() for a, n in p.counts().items()]
        return pd.DataFrame(rows, columns=["layer", "action", "features"])


def _problem(layer: str, message: str, fix: str, source: str, *, column: str | None = None, rows: tuple[str, ...] = ()) -> Problem:
    return Problem("error", layer, message, fix, column=column, rows=rows, file=source, code="bad_patch")


def _actions_of(kind: str) -> tuple[str, ...]:
    return ACTIONS + BUILDING_ACTIONS if kind == "buildings" else ACTIONS


def _check_rows(ids: pd.Series, actions: pd.Series, has_geom: np.ndarray, base_ids: set[str], kind: str, where: str,
                source: str) -> list[Problem]:
    probs: list[Problem] = []
    allowed = _actions_of(kind)
    bad = ~actions.isin(allowed)
    if bad.any():
        first = str(actions[bad].iloc[0])
        s = closest(first, allowed)
        probs.append(_problem(where, f"unknown action {first!r}" + (f" (and {int(bad.sum()) - 1} more rows)" if bad.sum() > 1 else ""),
                              f"use one of {list(allowed)}" + (f" (did you mean {s!r}?)" if s else ""), source, column="action",
                              rows=tuple(ids[bad])))
    dup = ids.duplicated(keep=False) & ids.notna()
    if dup.any():
        probs.append(_problem(where, "an id is patched twice", "give each feature one row (merge the changes into it)", source,
                              column="id", rows=tuple(sorted(set(ids[dup])))))
    adding = actions.isin(_ADDING).to_numpy()
    known = ids.isin(base_ids).to_numpy()
    for mask, msg, fix in (
        (adding & known, "adds a feature whose id the baseline already has", "give the new feature a new id, or use action = update"),
        (~adding & ~known & ~bad.to_numpy(), "changes a feature the baseline does not have",
         "check the id against the baseline layer, or use action = add for a new feature"),
        (adding & ~has_geom, "adds a feature without a geometry", "draw the new feature's geometry"),
    ):
        if mask.any():
            probs.append(_problem(where, msg, fix, source, column="id", rows=tuple(ids[mask])))
    return probs


def check_patch(
    raw: gpd.GeoDataFrame | pd.DataFrame,
    base: gpd.GeoDataFrame,
    *,
    kind: str,
    layer: str,
    scenario: str,
    source: str = "in memory",
    validate: Callable[[gpd.GeoDataFrame], tuple[gpd.GeoDataFrame | None, list[Problem]]] | None = None,
) -> tuple[Patch | None, list[Problem]]:
    """Check a patch layer against the baseline layer it changes.

    Parameters
    ----------
    raw : GeoDataFrame or DataFrame
        The patch as read (a table without geometry is a patch of attributes only).
    base : GeoDataFrame
        The baseline layer (validated, in the project's CRS).
    kind, layer, scenario : str
        The layer's kind and name, the scenario's id (for messages).
    source : str
        Where the patch comes from (for messages).
    validate : callable, optional
        ``validate(frame) -> (clean frame in the project's CRS or None, problems)``: the
        project's own layer check (CRS, GCJ-02, the kind's schema). Default: the kind's
        schema only, and the patch must be in the baseline's CRS.

    Returns
    -------
    (Patch or None, list of Problem)
        None when any problem is an error; every problem is reported at once.
    """
    where = f"scenarios.{scenario}.patches.{layer}"
    if "id" not in raw.columns or "action" not in raw.columns:
        missing = [c for c in ("id", "action") if c not in raw.columns]
        return None, [_problem(where, f"the patch layer has no {' or '.join(repr(c) for c in missing)} column",
                               "give every row the id of the feature it changes (or a new id) and an action: "
                               f"{', '.join(_actions_of(kind))}", source, column=missing[0])]
    frame = raw if isinstance(raw, gpd.GeoDataFrame) and raw.geometry.name in raw.columns else gpd.GeoDataFrame(
        pd.DataFrame(raw), geometry=gpd.GeoSeries([None] * len(raw), index=raw.index), crs=base.crs)
    ids = frame["id"].map(lambda v: None if pd.isna(v) else str(v).strip()).astype(object)
    actions = frame["action"].map(lambda v: "" if pd.isna(v) else str(v).strip().lower()).astype(str)
    has_geom = ~(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()
    if ids.isna().any():
        return None, [_problem(where, f"{int(ids.isna().sum())} row(s) have no id", "give every row the id of the feature it changes",
                               source, column="id")]
    base_ids = set(base["id"].astype(str))
    probs = _check_rows(ids, actions, has_geom, base_ids, kind, where, source)
    if probs:
        return None, probs
    # rows that keep the baseline geometry carry it through the check (in the patch's CRS)
    out = frame.drop(columns=["action"]).assign(id=ids)
    keep = ~has_geom
    if keep.any():
        src = base.set_index(base["id"].astype(str)).geometry
        fill = src.reindex(ids[keep]).to_crs(out.crs) if out.crs is not None else src.reindex(ids[keep])
        geoms = out.geometry.to_numpy(copy=True)
        geoms[keep] = fill.to_numpy()
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs if out.crs is not None else base.crs))
    if validate is not None:
        clean, vprobs = validate(out)
    else:
        from renewgeo._validate import validate_layer

        clean, vprobs = validate_layer(out.to_crs(base.crs), KINDS[kind], layer=where, file=source)
    if clean is None or any(p.severity == "error" for p in vprobs):
        return None, vprobs
    if len(clean) != len(out):  # a repair reduced a row to nothing: it was reported
        return None, [*vprobs, _problem(where, "rows were left out by the geometry check", "fix the geometries named above", source)]
    return Patch(layer, kind, clean.reset_index(drop=True), actions.to_numpy(), has_geom, source), vprobs


def _set_defaults(frame: pd.DataFrame, actions: np.ndarray) -> pd.DataFrame:
    """Building actions set status and treatment where the row does not."""
    frame = frame.copy()
    for action, sets in _BUILDING_SETS.items():
        rows = actions == action
        if not rows.any():
            continue
        for col, value in sets.items():
            if col not in frame.columns:
                frame[col] = pd.Series(pd.NA, index=frame.index, dtype=object)
            frame.loc[rows & frame[col].isna().to_numpy(), col] = value
    return frame


def _aligned(values: pd.Series, like: pd.Series) -> pd.Series:
    """``values`` in the dtype of ``like`` where they fit, else both as object."""
    try:
        return values.astype(like.dtype)
    except (TypeError, ValueError):
        return values.astype(object)


def apply_patch(base: gpd.GeoDataFrame, patch: Patch) -> gpd.GeoDataFrame:
    """The baseline layer with the patch applied (a new frame; ``base`` is not modified).

    Removed features are dropped, changed ones keep their place, added ones come last;
    the index is renumbered.
    """
    rows = _set_defaults(patch.frame, patch.actions) if patch.kind == "buildings" else patch.frame
    actions = patch.actions
    ids = base["id"].astype(str)
    out = base.copy()
    change = ~np.isin(actions, (*_ADDING, "remove"))
    if change.any():
        pos = pd.Index(ids).get_indexer(rows.loc[change, "id"])
        ch = rows.loc[change]
        for col in ch.columns:
            if col in ("id", rows.geometry.name):
                continue
            vals = ch[col]
            has = vals.notna().to_numpy()
            if not has.any():
                continue
            if col not in out.columns:
                out[col] = pd.Series(pd.NA, index=out.index, dtype=vals.dtype if vals.dtype != object else object)
            target = out[col].copy()
            new = _aligned(vals[has], target) if target.dtype != object else vals[has].astype(object)
            if new.dtype != target.dtype:
                target = target.astype(object)
            target.iloc[pos[has]] = new.to_numpy()
            out[col] = target
        geo = patch.own_geometry[change]
        if geo.any():
            g = out.geometry.to_numpy(copy=True)
            g[pos[geo]] = ch.geometry.to_numpy()[geo]
            out = out.set_geometry(gpd.GeoSeries(g, index=out.index, crs=out.crs), crs=out.crs)
    removed = rows.loc[actions == "remove", "id"]
    if len(removed):
        out = out.loc[~ids.isin(removed).to_numpy()]
    added = rows.loc[np.isin(actions, _ADDING)]
    if len(added):
        add = gpd.GeoDataFrame(added, geometry=added.geometry.name, crs=added.crs)
        if add.geometry.name != out.geometry.name:
            add = add.rename_geometry(out.geometry.name)
        add = add.to_crs(out.crs)
        for col in add.columns:
            if col in out.columns and col != out.geometry.name and add[col].dtype != out[col].dtype:
                add[col] = _aligned(add[col], out[col])
        out = gpd.GeoDataFrame(pd.concat([out, add], ignore_index=True), geometry=out.geometry.name, crs=out.crs)
    return out.reset_index(drop=True)
