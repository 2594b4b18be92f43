"""Meeting maps: one self-contained HTML file that opens offline, from a USB stick.

:func:`meeting_map` draws a project and its results as toggleable layers (buildings by
status, zones, the axis, the corridor, trails, amenities by category, parcels by
release year, isochrones, distance to daily services), with a title, the key figures of
the targets ledger, a legend, bilingual labels, a scale bar, a full-screen button and a
distance measure. Every script and style sheet is inlined from installed packages
(:mod:`renewgeo._assets`); the only web addresses a map may load are the tiles of an
optional basemap.

Basemaps: ``none`` (default; a light background and the site's own layers), ``osm``,
``cartodb``, ``tianditu`` (needs a token; CGCS2000 is WGS 84 to within centimetres, so
no shift) and ``amap`` (AMap/Gaode tiles are GCJ-02: every overlay is shifted to GCJ-02
so that it lands on the basemap instead of 300-500 m off).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from renewgeo import _assets
from renewgeo import crs as rcrs
from renewgeo._errors import RenewgeoError
from renewgeo.io import atomic_path
from renewgeo.project import Project

__all__ = ["BASEMAPS", "STATUS_COLOURS", "meeting_map", "project_map", "save_map"]

Lang = Literal["zh", "en", "zh+en"]
BASEMAPS = ("none", "osm", "cartodb", "tianditu", "amap")
STATUS_COLOURS = {
    "operating": "#1f78b4",
    "idle": "#9e9e9e",
    "renovated": "#33a02c",
    "under_renovation": "#ff7f00",
    "demolished": "#e31a1c",
    "new": "#6a3d9a",
}
FONT_STACK = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"
_TEXT: dict[str, tuple[str, str]] = {
    "buildings": ("建筑", "Buildings"),
    "zones": ("功能分区", "Zones"),
    "sites": ("用地地块", "Land parcels"),
    "outdoor_spaces": ("室外空间", "Outdoor spaces"),
    "paths": ("道路与步道", "Streets & paths"),
    "pedestrian_axis": ("南北步行轴", "Pedestrian axis"),
    "landscape_corridor": ("景观廊道", "Landscape corridor"),
    "trails": ("健身步道", "Trails"),
    "amenities": ("公共服务设施", "Amenities"),
    "constraints": ("限制要素", "Constraints"),
    "isochrones": ("步行等时圈", "Walking isochrones"),
    "axis_gaps": ("步行轴断点", "Gaps in the axis"),
    "distance": ("到日常服务的步行距离", "Walk to daily services"),
    "legend": ("图例", "Legend"),
    "targets": ("规划目标完成情况", "Plan targets"),
    "empty": ("无要素，未显示", "no features, not shown"),
    "minutes": ("分钟", "min"),
    "fullscreen": ("全屏", "Full screen"),
    "measure": ("测距", "Measure"),
    "illustrative": ("示意数据，非测绘成果", "illustrative data, not surveyed"),
    "operating": ("在营", "operating"),
    "idle": ("闲置", "idle"),
    "renovated": ("已改造", "renovated"),
    "under_renovation": ("改造中", "under renovation"),
    "demolished": ("已拆除", "demolished"),
    "new": ("新建", "new"),
    "unknown": ("未知", "unknown"),
    "release_year": ("释放年份", "release year"),
    "net_release": ("可释放用地", "Releasable land"),
    "slope_constraints": ("陡坡用地", "Steep land"),

    "constraints_applied": ("扣除用地（按原因）", "Land taken, by reason"),
    "road": ("道路红线", "road red lines"),
    "river": ("河道绿线", "river setback"),
    "green_corridor": ("绿廊", "green corridor"),
    "protected_building": ("保护建筑", "protected buildings"),
    "retained_building": ("保留建筑", "retained buildings"),
    "slope": ("陡坡", "steep slopes"),
    "setback": ("退线", "setbacks"),
    "other": ("其他", "other"),
}
_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("编号", "id"),
    "name": ("名称", "name"),
    "name_zh": ("中文名", "Chinese name"),
    "status": ("状态", "status"),
    "treatment": ("改造方式", "treatment"),
    "use_after": ("改造后用途", "use after"),
    "floors": ("层数", "floors"),
    "gfa_m2": ("建筑面积 (m²)", "GFA (m²)"),
    "gfa_source": ("面积来源", "GFA from"),
    "category": ("类别", "category"),
    "capacity": ("容量", "capacity"),
    "space_type": ("类型", "type"),
    "release_year": ("释放年份", "release year"),
    "net_area_mu": ("可释放面积 (亩)", "releasable (mu)"),
    "minutes": ("步行时间 (分钟)", "walk (min)"),
    "area_ha": ("面积 (公顷)", "area (ha)"),
    "buildings": ("建筑数", "buildings"),
    "daily_dist_m": ("到最近日常服务 (m)", "to nearest daily service (m)"),
    "lc_5min_missing": ("5分钟生活圈缺少", "5-min circle lacks"),
    "lc_15min_missing": ("15分钟生活圈缺少", "15-min circle lacks"),
    "gap_m": ("断开距离 (m)", "gap (m)"),
    "length_m": ("长度 (m)", "length (m)"),
    "constraint_type": ("限制类型", "constraint"),
    "gross_area_m2": ("总面积 (m²)", "gross (m²)"),
    "buildable_gfa_m2": ("可建面积 (m²)", "buildable GFA (m²)"),
    "area_mu": ("面积 (亩)", "area (mu)"),
}
_TOOLTIPS = {
    "buildings": ["id", "name", "status", "treatment", "use_after", "floors", "gfa_m2", "gfa_source"],
    "amenities": ["name", "category", "capacity"],
    "outdoor_spaces": ["name", "space_type"],
    "zones": ["name", "name_zh"],
    "sites": ["id", "name", "release_year", "net_area_mu"],
    "isochrones": ["minutes", "area_ha", "buildings", "gfa_m2"],
    "axis_gaps": ["gap_m"],
    "pedestrian_axis": ["name", "name_zh"],
    "landscape_corridor": ["name", "name_zh"],
    "trails": ["name", "name_zh"],
    "paths": ["name", "name_zh"],
    "constraints": ["id", "constraint_type"],
    "net_release": ["id", "land_use", "release_year", "gross_area_m2", "net_area_mu", "buildable_gfa_m2"],
    "constraints_applied": ["constraint_type", "area_mu"],
}
_LINE_STYLE: dict[str, dict[str, Any]] = {
    "paths": {"color": "#8c8c8c", "weight": 2, "opacity": 0.9},
    "pedestrian_axis": {"color": "#d7301f", "weight": 6, "opacity": 0.9},
    "landscape_corridor": {"color": "#1a9850", "weight": 5, "dashArray": "10 6"},
    "trails": {"color": "#8c510a", "weight": 3, "dashArray": "2 6"},
    "axis_gaps": {"color": "#e31a1c", "weight": 5, "dashArray": "4 6"},
}
_AREA_STYLE: dict[str, dict[str, Any]] = {
    "zones": {"color": "#4d4d4d", "weight": 1.5, "fillColor": "#ffffff", "fillOpacity": 0.0, "dashArray": "6 4"},
    "outdoor_spaces": {"color": "#4daf4a", "weight": 0.5, "fillColor": "#b8e186", "fillOpacity": 0.55},
    "constraints": {"color": "#e31a1c", "weight": 1, "fillColor": "#fb9a99", "fillOpacity": 0.45},
    "slope_constraints": {"color": "#8c510a", "weight": 0.5, "fillColor": "#bf812d", "fillOpacity": 0.5},
}
_ORDER = ("zones", "sites", "net_release", "constraints_applied", "isochrones",
 "constraints", "outdoor_spaces", "paths", "landscape_corridor", "trails",
          "pedestrian_axis", "axis_gaps", "distance", "buildings", "amenities")
_NOT_DRAWN = ("network_nodes", "network_edges")
_ISO_COLOURS = {5.0: "#54278f", 10.0: "#807dba", 15.0: "#bcbddc"}
_DIST_BREAKS = ((300.0, "#1a9850"), (500.0, "#91cf60"), (800.0, "#fee08b"), (1000.0, "#fc8d59"), (float("inf"), "#d73027"))
_YEAR_COLOURS = ("#2166ac", "#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b")
_SHAPES = ("circle", "square", "triangle", "diamond", "star", "hexagon")
_PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf", "#bcbd22", "#666666")
_PALETTE20 = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5",
              "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5")
MAX_SYMBOL_POINTS = 500  # beyond this, amenities are canvas circles rather than SVG symbols
_TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "&copy; OpenStreetMap contributors", None),
    "cartodb": ("https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png", "&copy; OpenStreetMap contributors &copy; CARTO", "abcd"),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}", "&copy; 高德地图 AutoNavi", "1234"),
}


def _t(key: str, lang: Lang) -> str:
    zh, en = _TEXT.get(key, (key, key.replace("_", " ")))
    return zh if lang == "zh" else en if lang == "en" else f"{zh} {en}"


def _alias(field: str, lang: Lang) -> str:
    zh, en = _FIELDS.get(field, (field, field.replace("_", " ")))
    return zh if lang == "zh" else en if lang == "en" else f"{zh} / {en}"


def _svg(shape: str, colour: str, size: int = 16) -> str:
    """A map symbol as inline SVG (no icon font, nothing to download)."""
    s, h = size, size / 2
    body = {
        "circle": f'<circle cx="{h}" cy="{h}" r="{h - 2}"/>',
        "square": f'<rect x="2" y="2" width="{s - 4}" height="{s - 4}"/>',
        "triangle": f'<polygon points="{h},1 {s - 1},{s - 2} 1,{s - 2}"/>',
        "diamond": f'<polygon points="{h},1 {s - 1},{h} {h},{s - 1} 1,{h}"/>',
        "star": '<polygon points="8,1 10,6 15,6 11,9.5 12.5,15 8,11.5 3.5,15 5,9.5 1,6 6,6"/>',
        "hexagon": f'<polygon points="{h},1 {s - 2},{s * 0.28} {s - 2},{s * 0.72} {h},{s - 1} 2,{s * 0.72} 2,{s * 0.28}"/>',
    }[shape]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}">'
            f'<g fill="{colour}" stroke="#222" stroke-width="1">{body}</g></svg>')


def _symbol(i: int) -> tuple[str, str]:
    return _SHAPES[i % len(_SHAPES)], _PALETTE[(i // len(_SHAPES) + i) % len(_PALETTE)]


def _distance_colour(d: float) -> str:
    if d != d:  # NaN
        return "#bdbdbd"
    return next(c for limit, c in _DIST_BREAKS if d <= limit)


# ------------------------------------------------------------------------- data
def _prepare(gdf: gpd.GeoDataFrame, fields: list[str], *, layer: str, simplify_m: float, shift: bool) -> gpd.GeoDataFrame:
    """Reduce a layer for the web: simplified, in EPSG:4326 (or GCJ-02), ~0.1 m precision."""
    g = gdf[[*fields, gdf.geometry.name]].copy()
    mixed = (g.geom_type == "GeometryCollection").to_numpy()
    if mixed.any():  # overlay results: keep the parts Leaflet can draw, polygons first
        vals = g.geometry.values.copy()
        for i in np.flatnonzero(mixed):
            parts = shapely.get_parts(vals[i])
            tid = shapely.get_type_id(parts)
            keep = parts[tid == 3] if (tid == 3).any() else parts[tid == 1]
            vals[i] = shapely.multipolygons(keep) if (tid == 3).any() else shapely.multilinestrings(keep)
        g[g.geometry.name] = vals
    if g.crs is None:

        raise RenewgeoError(f"map layer {layer!r} has no CRS; set it before drawing")
    if simplify_m > 0 and not rcrs.is_geographic(g.crs):
        poly_or_line = ~g.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
        vals = g.geometry.values.copy()
        vals[poly_or_line] = shapely.simplify(vals[poly_or_line], simplify_m, preserve_topology=True)
        g[g.geometry.name] = vals
    g = rcrs.wgs84_to_gcj02_gdf(g, layer=layer) if shift else rcrs.to_web(g, layer=layer)
    g[g.geometry.name] = shapely.transform(g.geometry.values, lambda c: np.round(c, 6))  # 1e-6 deg ~ 0.1 m
    for f in fields:
        col = g[f]
        if pd.api.types.is_bool_dtype(col):
            g[f] = col.map({True: "✓", False: "✗"}).astype("string").fillna("")
        elif pd.api.types.is_float_dtype(col):
            g[f] = col.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}")
        else:
            g[f] = col.astype("string").fillna("").map(html.escape)
    return g


def _geojson(g: gpd.GeoDataFrame, extra: Mapping[str, list[Any]] | None = None) -> dict[str, Any]:
    props = g.drop(columns=g.geometry.name)
    for k, v in (extra or {}).items():
        props[k] = v
    feats = []
    geoms = shapely.to_geojson(g.geometry.values)
    for geom, rec in zip(geoms, props.to_dict("records"), strict=True):
        feats.append({"type": "Feature", "geometry": json.loads(geom), "properties": rec})
    return {"type": "FeatureCollection", "features": feats}


def _tooltip(fields: list[str], lang: Lang) -> folium.GeoJsonTooltip | None:
    if not fields:
        return None
    return folium.GeoJsonTooltip(fields=fields, aliases=[_alias(f, lang) for f in fields], sticky=True)


# ------------------------------------------------------------------------- map parts
class _Registry(MacroElement):
    """``window.renewgeo``: the map and its layers, for tests and for a planner's console."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this.map_name }}.fitBounds({{ this.bounds|tojson }}, {paddingTopLeft: [340, 20], paddingBottomRight: [340, 20], animate: false});
        window.renewgeo = {map: {{ this.map_name }}, layers: {
        {%- for key, name in this.layers.items() %}"{{ key }}": {{ name }},{% endfor %}}, ready: true};
        {% endmacro %}"""
    )

    def __init__(self, map_name: str, layers: dict[str, str], bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "RenewgeoRegistry"
        self.map_name = map_name
        self.layers = layers
        self.bounds = bounds


class _Controls(MacroElement):
    """A full-screen button and a distance measure, written for this map (no plugin download)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map) {
          var Btn = L.Control.extend({options: {position: 'topleft'},
            initialize: function (label, title, fn) { this.label = label; this.title = title; this.fn = fn; },
            onAdd: function () {
              var b = L.DomUtil.create('a', 'leaflet-bar renewgeo-btn');
              b.href = '#'; b.innerHTML = this.label; b.title = this.title; b.setAttribute('role', 'button');
              L.DomEvent.on(b, 'click', L.DomEvent.stop).on(b, 'click', this.fn, this);
              return b; }});
          new Btn('&#x26F6;', {{ this.fullscreen|tojson }}, function () {
            var el = map.getContainer().closest('body') || document.documentElement;
            if (!document.fullscreenElement) { (el.requestFullscreen || function(){}).call(el); }
            else { document.exitFullscreen(); } }).addTo(map);
          var pts = [], line = null, out = null, on = false;
          function show() {
            var d = 0; for (var i = 1; i < pts.length; i++) { d += map.distance(pts[i - 1], pts[i]); }
            if (line) { map.removeLayer(line); }
            line = L.polyline(pts, {color: '#000', weight: 2, dashArray: '4 4'}).addTo(map);
            out.innerHTML = d >= 1000 ? (d / 1000).toFixed(2) + ' km' : d.toFixed(0) + ' m';
          }
          new Btn('&#x2194;', {{ this.measure|tojson }}, function (e) {
            on = !on; pts = []; if (line) { map.removeLayer(line); line = null; }
            var b = e.target; b.classList.toggle('renewgeo-on', on);
            if (!out) { out = L.DomUtil.create('div', 'renewgeo-measure', map.getContainer()); }
            out.style.display = on ? 'block' : 'none'; out.innerHTML = '0 m';
            map.getContainer().style.cursor = on ? 'crosshair' : '';
          }).addTo(map);
          map.on('click', function (e) { if (on) { pts.push(e.latlng); show(); } });
        })({{ this.map_name }});
        {% endmacro %}"""
    )

    def __init__(self, map_name: str, lang: Lang) -> None:
        super().__init__()
        self._name = "RenewgeoControls"
        self.map_name = map_name
        self.fullscreen = _t("fullscreen", lang)
        self.measure = _t("measure", lang)


def _panel_css() -> str:
    return f"""
    .leaflet-container {{ background: #f4f2ec; font-family: {FONT_STACK}; }}
    .renewgeo-panel {{ position: absolute; z-index: 1000; background: rgba(255,255,255,0.93); padding: 8px 12px;
      border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.35); font-family: {FONT_STACK}; font-size: 12px;
      line-height: 1.45; max-height: 70vh; overflow-y: auto; }}
    .renewgeo-title {{ top: 10px; left: 60px; max-width: 46vw; }}
    .renewgeo-title h1 {{ font-size: 17px; margin: 0 0 4px 0; }}
    .renewgeo-title table {{ border-collapse: collapse; }}
    .renewgeo-title td {{ padding: 1px 6px 1px 0; white-space: nowrap; }}
    .renewgeo-legend {{ bottom: 50px; left: 10px; max-width: 330px; max-height: 55vh; }}
    .renewgeo-legend .cols {{ column-count: 2; column-gap: 10px; }}
    .renewgeo-legend h2 {{ font-size: 13px; margin: 6px 0 2px 0; }}
    .renewgeo-legend .sw {{ display: inline-block; width: 14px; height: 10px; margin-right: 6px; vertical-align: middle;
      border: 1px solid #333; }}
    .renewgeo-legend .ln {{ display: inline-block; width: 22px; height: 0; margin-right: 6px; vertical-align: middle; }}
    .renewgeo-legend svg {{ vertical-align: middle; margin-right: 6px; }}
    .renewgeo-met {{ color: #2e7d32; font-weight: bold; }} .renewgeo-short {{ color: #c62828; font-weight: bold; }}
    .renewgeo-over {{ color: #1565c0; font-weight: bold; }}
    .renewgeo-btn {{ font-size: 18px; text-align: center; line-height: 30px; width: 30px; height: 30px; display: block;
      background: #fff; color: #222; text-decoration: none; }}
    .renewgeo-on {{ background: #ffe082 !important; }}
    .renewgeo-measure {{ position: absolute; z-index: 1000; top: 90px; left: 50px; background: #fff; padding: 2px 8px;
      border: 1px solid #333; border-radius: 4px; font-weight: bold; display: none; }}
    .leaflet-tooltip {{ font-family: {FONT_STACK}; }}
    """


def _title_html(project: Project, ledger: pd.DataFrame | None, lang: Lang, title: str | None) -> str:
    names = {"zh": project.title_zh or project.title, "en": project.title,
             "zh+en": f"{project.title_zh} {project.title}" if project.title_zh else project.title}
    head = html.escape(title or names[lang])
    note = f"<div><i>{html.escape(_t('illustrative', lang))}</i></div>" if project.illustrative else ""
    rows = ""
    if ledger is not None and len(ledger):
        for r in ledger.head(12).to_dict("records"):
            label = r["label_zh"] if lang == "zh" and r.get("label_zh") else r["label"]
            if lang == "zh+en" and r.get("label_zh"):
                label = f"{r['label_zh']} {r['label']}"
            unit = {"m2": "m²", "km2": "km²"}.get(str(r["unit"]), str(r["unit"]))
            whole = float(r["target"]).is_integer() and str(r["unit"]) in ("count", "spaces", "places")
            fmt = "{:,.0f}" if whole or abs(float(r["target"])) >= 100 else "{:,.2f}"
            pct = "" if pd.isna(r["pct_of_target"]) else f"({r['pct_of_target']:.0f}%)"
            rows += (f"<tr><td>{html.escape(str(label))}</td><td style='text-align:right'>{fmt.format(r['actual'])} / "
                     f"{fmt.format(r['target'])} {html.escape(unit)} {pct}</td>"
                     f"<td class='renewgeo-{html.escape(str(r['status']))}'>{html.escape(str(r['status']))}</td></tr>")
        rows = f"<div><b>{html.escape(_t('targets', lang))}</b></div><table>{rows}</table>"
    return f"<div class='renewgeo-panel renewgeo-title' id='renewgeo-title'><h1>{head}</h1>{note}{rows}</div>"


# ------------------------------------------------------------------------- the map
def meeting_map(
    project: Project,
    results: Any = None,
    *,
    lang: Lang = "zh+en",
    basemap: str = "none",
    tianditu_token: str | None = None,
    title: str | None = None,
    simplify_m: float = 0.5,
) -> folium.Map:
    """The meeting map of a project and its results, as one offline folium map.

    Parameters
    ----------
    project : Project
        The loaded project.
    results : RunResult or mapping, optional
        ``renewgeo.pipeline.RunResult`` (or ``{"layers": {...}, "tables": {...}}``):
        result layers replace or add to the project's (e.g. buildings with their
        walking distances, isochrones, parcels' net release); ``tables["targets"]``
        gives the key figures in the title panel (computed when absent).
    lang : {"zh", "en", "zh+en"}
        Language of titles, legends and tooltips.
    basemap : {"none", "osm", "cartodb", "tianditu", "amap"}
        ``none`` needs no network. ``amap`` shifts every overlay to GCJ-02.
    tianditu_token : str, optional
        Required for ``basemap="tianditu"``.
    title : str, optional
        Map title (default: the project's title).
    simplify_m : float
        Topology-preserving simplification tolerance in metres before drawing.

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`; in Jupyter it displays inline.

    Raises
    ------
    RenewgeoError
        For an unknown ``lang`` or ``basemap``, or ``tianditu`` without a token.
    """
    if lang not in ("zh", "en", "zh+en"):
        raise RenewgeoError(f"meeting_map: lang must be 'zh', 'en' or 'zh+en', got {lang!r}")
    if basemap not in BASEMAPS:
        raise RenewgeoError(f"meeting_map: basemap must be one of {BASEMAPS}, got {basemap!r}")
    if basemap == "tianditu" and not tianditu_token:
        raise RenewgeoError(
            "meeting_map: basemap='tianditu' needs tianditu_token='...' (a Tianditu key from console.tianditu.gov.cn); "
            "or use basemap='none' offline"
        )
    layers: dict[str, gpd.GeoDataFrame] = dict(project.layers)
    kinds: dict[str, str] = dict(project.kinds)
    res_layers = getattr(results, "layers", None) if results is not None else None
    if res_layers is None and isinstance(results, Mapping):
        res_layers = results.get("layers")
    res_tables = getattr(results, "tables", None) if results is not None else None
    if res_tables is None and isinstance(results, Mapping):
        res_tables = results.get("tables")
    for name, g in (res_layers or {}).items():
        if name in _NOT_DRAWN:
            continue
        layers[name] = g
        kinds.setdefault(name, name)
    ledger = (res_tables or {}).get("targets")
    if ledger is None and project.targets:
        from renewgeo import area

        try:
            ledger = area.targets_ledger(project)
        except RenewgeoError:
            ledger = None
    shift = basemap == "amap"

    ref = project.layer("sites") if project.has("sites") else next(iter(project.layers.values()))
    web_ref = rcrs.wgs84_to_gcj02_gdf(ref) if shift else rcrs.to_web(ref)
    w, s, e, n = web_ref.total_bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=15, tiles=None, prefer_canvas=True,
                   control_scale=True)
    m.default_js = []
    m.default_css = []
    root = cast(Figure, m.get_root())
    root.header.add_child(Element(
        f"<style>{_assets.leaflet_css()}</style><style>{_panel_css()}</style><script>{_assets.leaflet_js()}</script>"
    ), name="renewgeo_assets")
    if basemap in ("osm", "cartodb", "amap"):
        url, attr, subs = _TILES[basemap]
        folium.TileLayer(url, attr=attr, name=basemap, subdomains=subs or "abc", max_zoom=19).add_to(m)
    elif basemap == "tianditu":
        for layer_id, name in (("vec", "Tianditu"), ("cva", "Tianditu labels")):
            url = (f"https://t{{s}}.tianditu.gov.cn/{layer_id}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer_id}"
                   f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={tianditu_token}")
            folium.TileLayer(url, attr="&copy; 天地图 Tianditu", name=name, subdomains="01234567", max_zoom=18,
                             overlay=layer_id == "cva").add_to(m)

    registry: dict[str, str] = {}
    legend: list[str] = []
    empty: list[str] = []
    order = sorted(layers, key=lambda nm: _ORDER.index(kinds[nm]) if kinds[nm] in _ORDER else len(_ORDER))
    for name in order:
        gdf = layers[name]
        kind = kinds[name]
        label = _t(kind, lang) if name == kind or name in ("site",) else f"{_t(kind, lang)}: {name}"
        if len(gdf) == 0:
            empty.append(label)
            continue
        fields = [f for f in _TOOLTIPS.get(kind, ["id", "name"]) if f in gdf.columns]
        blank = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
        if blank.all():
            empty.append(label)
            continue
        if blank.any():  # e.g. parcels with no releasable land left: nothing to draw
            empty.append(f"{label}: {int(blank.sum())} of {len(gdf)}")
            gdf = gdf[~blank]

        web = _prepare(gdf, fields, layer=name, simplify_m=simplify_m, shift=shift)
        fg = folium.FeatureGroup(name=f"{label} ({len(gdf):,})", show=kind not in ("isochrones",))
        tip = _tooltip(fields, lang)
        if kind == "buildings":
            status = gdf["status"].astype("object").where(gdf["status"].notna(), "unknown").astype(str).to_numpy() if "status" in gdf.columns else np.full(len(gdf), "unknown")
            colours = [STATUS_COLOURS.get(s_, "#bdbdbd") for s_ in status]
            folium.GeoJson(_geojson(web, {"_c": colours}), tooltip=tip,
                           style_function=lambda f: {"color": "#333", "weight": 0.6, "fillColor": f["properties"]["_c"], "fillOpacity": 0.85},
                           ).add_to(fg)
            present = [s_ for s_ in STATUS_COLOURS if s_ in set(status)] + (["unknown"] if "unknown" in set(status) else [])
            legend.append(f"<h2>{html.escape(_t('buildings', lang))}</h2>" + "".join(
                f"<div><span class='sw' style='background:{STATUS_COLOURS.get(s_, '#bdbdbd')}'></span>{html.escape(_t(s_, lang))}</div>"
                for s_ in present))
            if "daily_dist_m" in gdf.columns:
                d = gdf["daily_dist_m"].to_numpy(dtype="float64")
                dfields = [f for f in ("id", "name", "daily_dist_m", "lc_5min_missing", "lc_15min_missing") if f in gdf.columns]
                dweb = _prepare(gdf, dfields, layer=name, simplify_m=simplify_m, shift=shift)
                dfg = folium.FeatureGroup(name=f"{_t('distance', lang)} ({len(gdf):,})", show=False)
                folium.GeoJson(_geojson(dweb, {"_c": [_distance_colour(float(x)) for x in d]}), tooltip=_tooltip(dfields, lang),
                               style_function=lambda f: {"color": "#333", "weight": 0.6, "fillColor": f["properties"]["_c"], "fillOpacity": 0.9},
                               ).add_to(dfg)
                dfg.add_to(m)
                registry["distance"] = dfg.get_name()
                lo = 0
                items = []
                for limit, c in _DIST_BREAKS:
                    txt = f"{lo:g}–{limit:g} m" if limit != float("inf") else f"> {lo:g} m"
                    items.append(f"<div><span class='sw' style='background:{c}'></span>{txt}</div>")
                    lo = int(limit) if limit != float("inf") else lo
                legend.append(f"<h2>{html.escape(_t('distance', lang))}</h2>" + "".join(items))
        elif kind == "amenities":
            cats = gdf["category"].astype("object").fillna("other").astype(str).to_numpy() if "category" in gdf.columns else np.full(len(gdf), "other")
            uniq = sorted(set(cats))
            items = []
            for i, c in enumerate(uniq):
                shape, colour = _symbol(i)
                sub = web[cats == c]
                if len(gdf) <= MAX_SYMBOL_POINTS:
                    icon = folium.DivIcon(html=_svg(shape, colour), icon_size=(16, 16), icon_anchor=(8, 8), class_name="renewgeo-symbol")
                    folium.GeoJson(_geojson(sub), tooltip=_tooltip(fields, lang), marker=folium.Marker(icon=icon)).add_to(fg)
                    items.append(f"<div>{_svg(shape, colour, 14)}{html.escape(c)}</div>")
                else:
                    colour = _PALETTE20[i % len(_PALETTE20)]
                    folium.GeoJson(_geojson(sub), tooltip=_tooltip(fields, lang),

                                   marker=folium.CircleMarker(radius=4, color="#222", weight=0.5, fill=True, fill_color=colour, fill_opacity=0.9),
                                   ).add_to(fg)
                    items.append(f"<div><span class='sw' style='background:{colour};border-radius:7px'></span>{html.escape(c)}</div>")
            legend.append(f"<h2>{html.escape(_t('amenities', lang))}</h2><div class='cols'>" + "".join(items) + "</div>")
        elif kind == "isochrones":
            cols = [_ISO_COLOURS.get(float(v), "#6a51a3") for v in gdf["minutes"]] if "minutes" in gdf.columns else ["#6a51a3"] * len(gdf)
            folium.GeoJson(_geojson(web, {"_c": cols}), tooltip=tip,
                           style_function=lambda f: {"color": f["properties"]["_c"], "weight": 2, "fillColor": f["properties"]["_c"], "fillOpacity": 0.12},
                           ).add_to(fg)
            if "minutes" in gdf.columns:
                legend.append(f"<h2>{html.escape(_t('isochrones', lang))}</h2>" + "".join(
                    f"<div><span class='sw' style='background:{c}'></span>{float(v):g} {html.escape(_t('minutes', lang))}</div>"
                    for v, c in zip(gdf["minutes"], cols, strict=True)))
        elif kind == "constraints_applied":
            ccol = {"road": "#636363", "river": "#3182bd", "green_corridor": "#31a354", "protected_building": "#e6550d",
                    "retained_building": "#fdae6b", "slope": "#8c6d31", "setback": "#bdbdbd", "other": "#9e9ac8"}
            cols = [ccol.get(str(t), "#9e9ac8") for t in gdf["constraint_type"]]
            folium.GeoJson(_geojson(web, {"_c": cols}), tooltip=tip,
                           style_function=lambda f: {"color": f["properties"]["_c"], "weight": 0.5, "fillColor": f["properties"]["_c"],
                                                     "fillOpacity": 0.6},
                           ).add_to(fg)
            legend.append(f"<h2>{html.escape(_t('constraints_applied', lang))}</h2>" + "".join(
                f"<div><span class='sw' style='background:{ccol.get(str(t), '#9e9ac8')}'></span>{html.escape(_t(str(t), lang))}</div>"
                for t in gdf["constraint_type"]))
        elif kind == "sites" and "net_release" in layers:  # parcels as outlines under their releasable land
            folium.GeoJson(_geojson(web), tooltip=tip,
                           style_function=lambda _f: {"color": "#252525", "weight": 1.2, "fillOpacity": 0.0}).add_to(fg)
        elif kind in ("sites", "net_release") and "release_year" in gdf.columns and gdf["release_year"].notna().any():


            years = gdf["release_year"].astype("Int64")
            uniq_years = sorted(int(y) for y in years.dropna().unique())
            ycol = {y: _YEAR_COLOURS[i % len(_YEAR_COLOURS)] for i, y in enumerate(uniq_years)}
            cols = [ycol.get(int(y), "#bdbdbd") if pd.notna(y) else "#bdbdbd" for y in years]
            folium.GeoJson(_geojson(web, {"_c": cols}), tooltip=tip,
                           style_function=lambda f: {"color": "#333", "weight": 1, "fillColor": f["properties"]["_c"], "fillOpacity": 0.55},
                           ).add_to(fg)
            legend.append(f"<h2>{html.escape(_t(kind, lang))}: {html.escape(_t('release_year', lang))}</h2>" + "".join(

                f"<div><span class='sw' style='background:{c}'></span>{y}</div>" for y, c in ycol.items()))
        elif kind in _LINE_STYLE:
            st = _LINE_STYLE[kind]
            folium.GeoJson(_geojson(web), tooltip=tip, style_function=lambda _f, st=st: st).add_to(fg)
            if kind != "paths":
                dash = f"border-top:{min(st['weight'], 5)}px {'dashed' if 'dashArray' in st else 'solid'} {st['color']}"
                legend.append(f"<div><span class='ln' style='{dash}'></span>{html.escape(_t(kind, lang))}</div>")
        else:
            st = _AREA_STYLE.get(kind, {"color": "#000000", "weight": 2, "fillOpacity": 0.0})
            folium.GeoJson(_geojson(web), tooltip=tip, style_function=lambda _f, st=st: st).add_to(fg)
        fg.add_to(m)
        registry[name] = fg.get_name()
    if empty:
        legend.append("<div><i>" + html.escape("; ".join(f"{e_}: {_t('empty', lang)}" for e_ in empty)) + "</i></div>")
    root.html.add_child(Element(_title_html(project, ledger, lang, title)), name="renewgeo_title")
    root.html.add_child(Element(
        f"<div class='renewgeo-panel renewgeo-legend' id='renewgeo-legend'><b>{html.escape(_t('legend', lang))}</b>{''.join(legend)}</div>"
    ), name="renewgeo_legend")
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_Controls(m.get_name(), lang))
    # fitted without animation (keeping the site clear of the title and legend on the left
    # and the layer switcher on the right), so the map is ready the moment it loads
    m.add_child(_Registry(m.get_name(), registry, [[float(s), float(w)], [float(n), float(e)]]))
    return m




def project_map(project: Project, *, layers: Mapping[str, gpd.GeoDataFrame] | None = None, **options: Any) -> folium.Map:
    """Shorthand for :func:`meeting_map` with extra result layers."""
    return meeting_map(project, {"layers": dict(layers or {})}, **options)


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Save a map as one self-contained HTML file, atomically.

    Raises
    ------
    RenewgeoError
        If the rendered page would load a script or style sheet from the web (only
        basemap tiles may be remote).
    """
    dest = Path(path)
    page = m.get_root().render()
    bad = _remote_assets(page)

    if bad:
        raise RenewgeoError(f"save_map: the map would load {bad[:3]} from the web; it must open offline")
    with atomic_path(dest) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return dest


def _remote_assets(page: str) -> list[str]:
    """Web addresses that a page would load as scripts, styles or images."""
    import re

    found = re.findall(
        r"""<(?:script|img|iframe)[^>]*\ssrc\s*=\s*["'](https?://[^"']+)|<link[^>]*\shref\s*=\s*["'](https?://[^"']+)|url\(\s*["']?(https?://[^)"']+)""",
        page,
    )
    return [a or b or c for a, b, c in found]

