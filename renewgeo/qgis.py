"""Hand-off to QGIS: one GeoPackage with every layer and its default style inside.

:func:`write_gpkg` writes the layers (GeoPackage 1.3, spatial index, the project's metric
CRS kept, datetimes in UTC, layer and field names QGIS stores without trouble) and a
``layer_styles`` table in the schema QGIS itself creates, holding a QML style per layer:
buildings categorized by status, parcels by release year, access graduated by distance,
axis/corridor/trails as distinct lines, amenities by category, zones labelled. QGIS
applies a style from that table when ``f_table_name`` is the exact layer name and
``f_geometry_column`` the real geometry column, which is what is written here.

Writing needs no QGIS; the tests open the result in real QGIS (Debian ``python3-qgis``).
"""

from __future__ import annotations

import html
import logging
import re
import sqlite3
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from renewgeo import io as rio
from renewgeo._errors import WriteError

__all__ = ["qml_for", "safe_names", "write_gpkg"]

log = logging.getLogger(__name__)

STATUS_COLOURS = {"operating": "#1f78b4", "idle": "#9e9e9e", "renovated": "#33a02c", "under_renovation": "#ff7f00",
                  "demolished": "#e31a1c", "new": "#6a3d9a"}
DIST_CLASSES = ((0, 300, "#1a9850"), (300, 500, "#91cf60"), (500, 800, "#fee08b"), (800, 1000, "#fc8d59"), (1000, 100000, "#d73027"))
YEAR_COLOURS = ("#2166ac", "#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b")
PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf", "#bcbd22", "#666666",
           "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99")
_LINES = {"pedestrian_axis": ("#d7301f", 1.6, "solid"), "landscape_corridor": ("#1a9850", 1.2, "dash"),
          "trails": ("#8c510a", 0.8, "dot"), "paths": ("#8c8c8c", 0.5, "solid"), "axis_gaps": ("#e31a1c", 1.2, "dash"),
          "network_edges": ("#bdbdbd", 0.3, "solid")}
_RESERVED = {"fid"}


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _props(**kv: Any) -> str:
    return "".join(f'<Option type="QString" name="{k}" value="{html.escape(str(v), quote=True)}"/>' for k, v in kv.items())


def _symbol(kind: str, colour: str, name: str, *, width: float = 0.5, pen: str = "solid", size: float = 2.4,
            shape: str = "circle", outline: str = "#232323", fill_alpha: int = 255) -> str:
    if kind == "fill":
        cls, p = "SimpleFill", _props(color=_rgba(colour, fill_alpha), outline_color=_rgba(outline), outline_width="0.26",
                                      outline_style="solid", style="solid")
    elif kind == "line":
        cls, p = "SimpleLine", _props(line_color=_rgba(colour), line_width=width, line_style=pen, capstyle="round",
                                      joinstyle="round")
    else:
        cls, p = "SimpleMarker", _props(color=_rgba(colour), outline_color=_rgba(outline), outline_width="0.2", size=size,
                                        name=shape)
    return (f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0"><Option type="Map">{p}</Option></layer></symbol>')


def _qml(renderer: str, labels: str = "") -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f'<qgis version="3.22.0" styleCategories="Symbology|Labeling" labelsEnabled="{1 if labels else 0}">{renderer}{labels}</qgis>')


def _categorized(attr: str, kind: str, items: list[tuple[Any, str, str]], **sym: Any) -> str:
    cats = "".join(f'<category render="true" symbol="{i}" value="{html.escape(str(v), quote=True)}" label="{html.escape(lbl, quote=True)}"/>'
                   for i, (v, lbl, _c) in enumerate(items))
    syms = "".join(_symbol(kind, c, str(i), **sym) for i, (_v, _l, c) in enumerate(items))
    return (f'<renderer-v2 type="categorizedSymbol" attr="{attr}" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<categories>{cats}</categories><symbols>{syms}</symbols></renderer-v2>")


def _graduated(attr: str, kind: str, ranges: tuple[tuple[float, float, str], ...], unit: str) -> str:
    rs = "".join(f'<range render="true" symbol="{i}" lower="{lo:.6f}" upper="{hi:.6f}" label="{lo:g} - {hi:g} {unit}"/>'
                 for i, (lo, hi, _c) in enumerate(ranges))
    syms = "".join(_symbol(kind, c, str(i)) for i, (_lo, _hi, c) in enumerate(ranges))
    return (f'<renderer-v2 type="graduatedSymbol" attr="{attr}" graduatedMethod="GraduatedColor" symbollevels="0" '
            f'enableorderby="0" forceraster="0"><ranges>{rs}</ranges><symbols>{syms}</symbols></renderer-v2>')


def _single(kind: str, colour: str, **sym: Any) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f'<symbols>{_symbol(kind, colour, "0", **sym)}</symbols></renderer-v2>')


def _labels(field: str, size: float = 9.0) -> str:
    return (f'<labeling type="simple"><settings calloutType="simple"><text-style fieldName="{field}" fontSize="{size}" '
            'fontFamily="Noto Sans CJK SC" textColor="40,40,40,255" isExpression="0"/>'
            '<text-buffer bufferDraw="1" bufferSize="0.8" bufferColor="255,255,255,255"/>'
            '<placement placement="1"/></settings></labeling>')


def qml_for(name: str, kind: str, gdf: gpd.GeoDataFrame) -> str | None:
    """The default QML style of a layer, or None where the default QGIS style will do."""
    geom = {"Polygon": "fill", "MultiPolygon": "fill", "LineString": "line", "MultiLineString": "line"}.get(
        str(gdf.geom_type.dropna().iloc[0]) if len(gdf) and gdf.geom_type.notna().any() else "", "marker")
    if kind == "buildings" and "status" in gdf.columns:
        present = [s for s in STATUS_COLOURS if s in set(gdf["status"].dropna().astype(str))]
        return _qml(_categorized("status", geom, [(s, s.replace("_", " "), STATUS_COLOURS[s]) for s in present]), _labels("name", 7))
    if name == "distance" or (kind == "buildings" and "daily_dist_m" in gdf.columns):
        return _qml(_graduated("daily_dist_m", geom, DIST_CLASSES, "m"))
    if kind in ("sites", "net_release") and "release_year" in gdf.columns and gdf["release_year"].notna().any():
        years = sorted(int(y) for y in pd.to_numeric(gdf["release_year"], errors="coerce").dropna().unique())
        return _qml(_categorized("release_year", geom, [(y, str(y), YEAR_COLOURS[i % len(YEAR_COLOURS)]) for i, y in enumerate(years)]),
                    _labels("id", 7))
    if kind == "sites":
        return _qml(_single("fill", "#000000", fill_alpha=0))

    if kind in _LINES:

        colour, width, pen = _LINES[kind]
        return _qml(_single("line", colour, width=width, pen=pen))
    if kind == "amenities" and "category" in gdf.columns:
        cats = sorted(set(gdf["category"].dropna().astype(str)))
        return _qml(_categorized("category", "marker", [(c, c, PALETTE[i % len(PALETTE)]) for i, c in enumerate(cats)]))
    if kind == "network_nodes" and "daily_dist_m" in gdf.columns:
        return _qml(_graduated("daily_dist_m", "marker", DIST_CLASSES, "m"))
    if kind == "zones":
        return _qml(_single("fill", "#ffffff", fill_alpha=0), _labels("name", 10))
    if kind == "outdoor_spaces":
        return _qml(_single("fill", "#b8e186"))
    if kind in ("constraints_applied", "constraints", "slope_constraints") and "constraint_type" in gdf.columns and geom == "fill":
        cats = sorted(set(gdf["constraint_type"].dropna().astype(str)))
        return _qml(_categorized("constraint_type", "fill", [(c, c, PALETTE[i % len(PALETTE)]) for i, c in enumerate(cats)]))
    if kind == "isochrones" and "minutes" in gdf.columns:
        mins = sorted(float(m) for m in gdf["minutes"].dropna().unique())
        cols = ("#54278f", "#807dba", "#bcbddc", "#dadaeb")
        return _qml(_categorized("minutes", "fill", [(m, f"{m:g} min", cols[i % len(cols)]) for i, m in enumerate(mins)], fill_alpha=90))
    return None


def safe_names(layers: Mapping[str, gpd.GeoDataFrame]) -> tuple[dict[str, gpd.GeoDataFrame], list[str]]:
    """Layer and field names QGIS stores without trouble; the renames made, for a warning.

    Layer names: letters, digits and ``_`` (spaces and dots become ``_``), unique
    regardless of case. Fields: not ``fid`` (the GeoPackage key), unique regardless of
    case. Datetimes become UTC-aware.
    """
    out: dict[str, gpd.GeoDataFrame] = {}
    renames: list[str] = []
    taken: set[str] = set()
    for name, gdf in layers.items():
        safe = _unique(re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "layer", taken)
        if safe != name:
            renames.append(f"layer {name!r} -> {safe!r}")
        g = gdf.copy()
        seen: set[str] = set()
        cols = {}
        for c in g.columns:
            if c == g.geometry.name:
                continue
            new = str(c)
            new = _unique(f"{new}_value" if new.lower() in _RESERVED else new, seen)
            if new != c:
                cols[c] = new
                renames.append(f"{safe}.{c!r} -> {new!r}")
        g = g.rename(columns=cols)
        for c in g.columns:
            if pd.api.types.is_datetime64_any_dtype(g[c]):
                g[c] = g[c].dt.tz_localize("UTC") if g[c].dt.tz is None else g[c].dt.tz_convert("UTC")
        out[safe] = g
    return out, renames


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3`` ... : the first not in ``taken`` (case-blind); taken is updated."""
    new, k = name, 1
    while new.lower() in taken:
        k += 1
        new = f"{name}_{k}"
    taken.add(new.lower())
    return new


_STYLES_DDL = """

CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),
  f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT,
  owner TEXT(30), ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))
"""


def write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path, *, kinds: Mapping[str, str] | None = None,
               styles: bool = True) -> Path:
    """Write layers and their default QGIS styles into one GeoPackage, atomically.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name (in the project's metric CRS; kept as they are).
    path : path-like
        The ``.gpkg`` file; an earlier one is replaced only when all is written.
    kinds : mapping, optional
        Layer kind by name (buildings, sites ...), to pick the style; default the name.
    styles : bool
        Write the ``layer_styles`` table.

    Returns
    -------
    pathlib.Path
    """
    safe, renames = safe_names(layers)
    if renames:
        msg = "renamed for QGIS: " + "; ".join(renames)
        warnings.warn(msg, UserWarning, stacklevel=2)
        log.warning(msg)
    kind_of = {}
    for (orig, _g), new in zip(layers.items(), safe, strict=True):
        kind_of[new] = (kinds or {}).get(orig, orig)
    dest = Path(path)
    current = None
    try:
        with rio.atomic_path(dest) as tmp:
            for current, gdf in safe.items():
                rio._write_one(gdf, tmp, layer=current, driver="GPKG")
            if styles:
                con = sqlite3.connect(tmp)
                try:
                    con.execute(_STYLES_DDL)
                    con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                                "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS default styles', "
                                "strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
                    for name, gdf in safe.items():
                        qml = qml_for(name, kind_of[name], gdf)
                        if qml is None:
                            continue
                        geom_col = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)).fetchone()
                        con.execute(
                            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                            "styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
                            (name, geom_col[0] if geom_col else "geom", name, qml, f"renewgeo default style for {name}"),
                        )
                    con.commit()
                finally:
                    con.close()
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing layer {current!r} failed ({exc}); the previous file, if any, is intact") from exc
    return dest
