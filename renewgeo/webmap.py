"""Web maps of a project (folium).

This first version draws every layer of a project as a toggleable folium layer, with
buildings coloured by renovation status and tooltips of the key attributes. The
meeting-map issue builds on it (offline assets, legends, bilingual labels, basemaps).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from renewgeo import crs as rcrs
from renewgeo.io import atomic_path
from renewgeo.project import Project

__all__ = ["STATUS_COLOURS", "project_map", "save_map"]

STATUS_COLOURS = {
    "operating": "#1f78b4",
    "idle": "#9e9e9e",
    "renovated": "#33a02c",
    "under_renovation": "#ff7f00",
    "demolished": "#e31a1c",
    "new": "#6a3d9a",
}
_KIND_STYLE: dict[str, dict[str, Any]] = {
    "zones": {"color": "#555555", "weight": 1, "fillColor": "#ffffff", "fillOpacity": 0.0, "dashArray": "4 4"},
    "sites": {"color": "#000000", "weight": 2, "fillOpacity": 0.0},
    "outdoor_spaces": {"color": "#4daf4a", "weight": 0.5, "fillColor": "#b8e186", "fillOpacity": 0.6},
    "paths": {"color": "#777777", "weight": 2},
    "pedestrian_axis": {"color": "#d7301f", "weight": 5},
    "landscape_corridor": {"color": "#1a9850", "weight": 4, "dashArray": "8 4"},
    "trails": {"color": "#8c510a", "weight": 3, "dashArray": "2 4"},
    "constraints": {"color": "#e31a1c", "weight": 1, "fillColor": "#fb9a99", "fillOpacity": 0.5},
    "axis_gaps": {"color": "#e31a1c", "weight": 4, "dashArray": "4 6"},
}

_ORDER = (
    "zones",
    "sites",
    "isochrones",
    "constraints",
    "outdoor_spaces",
    "paths",
    "landscape_corridor",
    "trails",
    "pedestrian_axis",
    "axis_gaps",
    "buildings",
    "amenities",
)
_NOT_DRAWN = ("network_nodes", "network_edges")
_ISO_COLOURS = {5.0: "#54278f", 10.0: "#807dba", 15.0: "#bcbddc"}
_DIST_BREAKS = ((300, "#1a9850"), (500, "#91cf60"), (800, "#fee08b"), (1000, "#fc8d59"), (float("inf"), "#d73027"))
_TOOLTIP_FIELDS = {
    "buildings": ["id", "name", "status", "treatment", "use_after", "floors", "gfa_m2", "gfa_source"],
    "amenities": ["id", "name", "category", "capacity"],
    "outdoor_spaces": ["id", "name", "space_type"],
    "zones": ["id", "name", "name_zh"],
    "sites": ["id", "name", "release_year"],
    "isochrones": ["origin", "minutes", "distance_m", "area_ha", "buildings", "gfa_m2"],
    "axis_gaps": ["gap_m"],
}

_ALIASES = {"gfa_m2": "GFA (m²)", "floors": "floors", "capacity": "capacity"}


def _fields(gdf: gpd.GeoDataFrame, kind: str) -> list[str]:
    wanted = _TOOLTIP_FIELDS.get(kind, ["id", "name"])
    return [f for f in wanted if f in gdf.columns]


def _web_frame(gdf: gpd.GeoDataFrame, fields: list[str]) -> gpd.GeoDataFrame:
    web = rcrs.to_web(gdf[[*fields, gdf.geometry.name]])
    for f in fields:
        col = web[f]
        if pd.api.types.is_float_dtype(col):
            web[f] = col.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        else:
            web[f] = col.astype("string").fillna("").map(html.escape)
    return web


def project_map(project: Project, *, layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> folium.Map:
    """A folium map of every layer of ``project`` (plus any extra result ``layers``).

    Parameters
    ----------
    project : Project
        The loaded project.
    layers : mapping, optional
        Extra layers to draw (name -> GeoDataFrame in any CRS).

    Returns
    -------
    folium.Map
    """
    all_layers = dict(project.layers)
    kinds = dict(project.kinds)
    for name, g in (layers or {}).items():
        if name in _NOT_DRAWN:
            continue
        all_layers[name] = g
        kinds.setdefault(name, name)
    bounds = rcrs.to_web(project.layer("sites") if project.has("sites") else next(iter(project.layers.values()))).total_bounds
    m = folium.Map(
        location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
        zoom_start=15,
        tiles="OpenStreetMap",
        control_scale=True,
    )
    order = sorted(all_layers, key=lambda n: _ORDER.index(kinds[n]) if kinds[n] in _ORDER else len(_ORDER))
    for name in order:
        gdf = all_layers[name]
        if len(gdf) == 0:
            continue
        kind = kinds[name]
        fields = _fields(gdf, kind)
        web = _web_frame(gdf, fields)
        fg = folium.FeatureGroup(name=f"{name} ({len(gdf)})")
        tooltip = folium.GeoJsonTooltip(fields=fields, aliases=[_ALIASES.get(f, f) for f in fields]) if fields else None
        if kind == "buildings":

            def style(feat: dict[str, Any]) -> dict[str, Any]:
                colour = STATUS_COLOURS.get(feat["properties"].get("status", ""), "#bdbdbd")
                return {"color": "#333333", "weight": 0.5, "fillColor": colour, "fillOpacity": 0.8}

            folium.GeoJson(web, style_function=style, tooltip=tooltip, name=name).add_to(fg)
            if "daily_dist_m" in gdf.columns:
                _distance_layer(gdf).add_to(m)
        elif kind == "isochrones":
            web["_colour"] = [_ISO_COLOURS.get(float(v), "#6a51a3") for v in gdf["minutes"]]
            folium.GeoJson(
                web,
                style_function=lambda f: {"color": f["properties"]["_colour"], "weight": 1.5,
                                          "fillColor": f["properties"]["_colour"], "fillOpacity": 0.12},
                tooltip=tooltip,
                name=name,
            ).add_to(fg)
        elif kind == "amenities":

            folium.GeoJson(
                web,
                tooltip=tooltip,
                name=name,
                marker=folium.CircleMarker(
                    radius=4, color="#333333", weight=1, fill=True, fill_color="#fdae61", fill_opacity=0.9
                ),
            ).add_to(fg)
        else:
            st = _KIND_STYLE.get(kind, {"color": "#3388ff", "weight": 2})
            folium.GeoJson(web, style_function=lambda _f, st=st: st, tooltip=tooltip, name=name).add_to(fg)
        fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Save a folium map as one HTML file, atomically."""
    dest = Path(path)
    with atomic_path(dest) as tmp:
        m.save(str(tmp))
    return dest


def _distance_colour(d: float | None) -> str:
    if d is None or d != d:
        return "#bdbdbd"
    return next(c for limit, c in _DIST_BREAKS if d <= limit)


def _distance_layer(buildings: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Buildings coloured by walking distance to the nearest daily service."""
    fields = [f for f in ("id", "name", "daily_dist_m", "lc_5min_missing", "lc_15min_missing") if f in buildings.columns]
    web = _web_frame(buildings, fields)
    raw = buildings["daily_dist_m"].to_numpy(dtype="float64")
    web["_colour"] = [_distance_colour(float(d)) for d in raw]
    fg = folium.FeatureGroup(name=f"distance to daily services ({len(buildings)})", show=False)
    aliases = {"daily_dist_m": "walk to nearest daily service (m)", "lc_5min_missing": "5-min circle lacks",
               "lc_15min_missing": "15-min circle lacks"}
    folium.GeoJson(
        web,
        style_function=lambda f: {"color": "#333333", "weight": 0.5, "fillColor": f["properties"]["_colour"], "fillOpacity": 0.85},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[aliases.get(f, f) for f in fields]),
    ).add_to(fg)
    return fg
