"""Meeting maps: one self-contained HTML file that opens offline, from a USB stick.

:func:`meeting_map` draws every layer of a run as a toggleable layer, each as its
:class:`~renewgeo.styles.Presentation` says (the same presentation the GeoPackage's QGIS
styles come from), with a title, the key figures of the targets ledger, a legend,
bilingual labels, a scale bar, a full-screen button and a distance measure. It knows no
layer by name: input kinds are presented in :data:`renewgeo.styles.KIND_PRESENTATIONS`,
result layers and views by the analysis that makes them.

Every script and style sheet is inlined from installed packages (:mod:`renewgeo._assets`:
Leaflet, and Leaflet.markercluster for the clusters of large amenity categories) and the
page carries a Content-Security-Policy that lets it load nothing but the tiles of an
optional basemap. Text from the data or the project reaches the page only through
:func:`_h` (HTML) and :func:`_js` (JavaScript).

Large layers stay light: each layer's geometry is written once, however many map layers
draw it (a layer and its views), as delta-encoded whole micro-degrees (:func:`_encode`),
and its tooltip texts once per distinct value (:func:`_column`); layers hidden at first
are built when the browser is idle.

Basemaps: ``none`` (default; a light background and the site's own layers), ``osm``,
``cartodb``, ``tianditu`` (needs a key; CGCS2000 is WGS 84 to within centimetres, so
no shift) and ``amap`` (AMap/Gaode tiles are GCJ-02: every overlay is shifted to GCJ-02
so that it lands on the basemap instead of 300-500 m off).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast, get_args

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.plugins import MarkerCluster
from jinja2 import Template

from renewgeo import _assets, styles
from renewgeo import crs as rcrs
from renewgeo._errors import RenewgeoError
from renewgeo.io import atomic_path
from renewgeo.project import Project
from renewgeo.settings import Section, section, setting
from renewgeo.styles import Presentation, StyleClass

if TYPE_CHECKING:
    from renewgeo.analysis import RunResult

__all__ = ["BASEMAPS", "MapSettings", "meeting_map", "project_map", "save_map"]

Lang = Literal["zh", "en", "zh+en"]
BASEMAPS = ("none", "osm", "cartodb", "tianditu", "amap")


@section
@dataclass(frozen=True)
class MapSettings(Section):
    """``[map]``: the meeting map's language, basemap and simplification."""

    name: ClassVar[str] = "map"
    title: ClassVar[str] = "the meeting map"

    lang: str = setting("zh+en", "language of titles, legends and tooltips", choices=get_args(Lang))
    basemap: str = setting("none", "background tiles: none works offline; amap shifts overlays to GCJ-02", choices=BASEMAPS)
    tianditu_token_env: str = setting("TIANDITU_TOKEN", "environment variable holding the Tianditu key (basemap = tianditu)")
    simplify_m: float = setting(0.5, "topology-preserving simplification (m) before drawing", ge=0, le=100)


FONT_STACK = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"
MAX_SYMBOL_POINTS = 500  # beyond this, points are clustered (with tooltips) or canvas circles (without)
CLUSTER_MIN_POINTS = 20  # in a large point layer, classes of more points than this are clustered
CLUSTER_RADIUS_PX = 60  # markers closer than this on the screen make one cluster
MAX_ZOOM = 19  # the closest zoom (the clusters need one; the basemaps' tiles end at 18-19)
_UI: dict[str, tuple[str, str]] = {  # the map's own words (no layer names: those come from presentations)
    "legend": ("图例", "Legend"),
    "targets": ("规划目标完成情况", "Plan targets"),
    "empty": ("无要素，未显示", "no features, not shown"),
    "fullscreen": ("全屏", "Full screen"),
    "measure": ("测距", "Measure"),
    "illustrative": ("示意数据，非测绘成果", "illustrative data, not surveyed"),
    "layers": ("图层", "Layers"),
    "basemap": ("底图", "Basemap"),
    "life_circles": ("生活圈达标情况", "Life circles"),
    "buildings_pass": ("建筑达标", "buildings pass"),
    "why": ("主要缺少", "mostly lacking"),
    "of_met": ("项达标", "met"),
    "scorecard": ("绿色自贸指标", "Green FTZ scorecard"),
    "stages_pass": ("个审批阶段通过", "approval stages pass"),
    "stage_pass": ("通过", "pass"),
    "stage_fail": ("未通过", "fail"),
    "blocked_by": ("未达标指标", "blocked by"),
    "counts": ("达标/未达标/缺数据", "pass/fail/no data"),
    "clustered": ("圆环内数字为该处设施数量，颜色为其类别；放大可见各点", "a ring counts the amenities there, coloured by family; zoom in to see each"),
}
# url, attribution, subdomains, the host the Content-Security-Policy lets images come from
_TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "&copy; OpenStreetMap contributors", "abc",
            "https://tile.openstreetmap.org"),
    "cartodb": ("https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png", "&copy; OpenStreetMap contributors &copy; CARTO",
                "abcd", "https://*.basemaps.cartocdn.com"),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
             "&copy; 高德地图 AutoNavi", "1234", "https://*.is.autonavi.com"),
    "tianditu": ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
                 "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={token}",
                 "&copy; 天地图 Tianditu", "01234567", "https://*.tianditu.gov.cn"),
}


# ------------------------------------------------------------------------- escaping
def _h(value: object) -> str:
    """Text for HTML (element content or a quoted attribute): every data or project string goes through here."""
    return html.escape(str(value), quote=True)


_JS_UNSAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _js(value: Any) -> str:
    """A value as a JavaScript literal (JSON) that cannot end its ``<script>`` element."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).translate(_JS_UNSAFE)


def _t(key: str, lang: Lang) -> str:
    return styles.text(_UI[key], lang)


# ------------------------------------------------------------------------- what to draw
@dataclass(frozen=True)
class _Item:
    """One map layer: a layer (or a view of it) with the presentation it is drawn with."""

    key: str  # its key in window.renewgeo.layers: the layer's name, or the view's
    layer: str
    presentation: Presentation
    gdf: gpd.GeoDataFrame
    show: bool


@dataclass(frozen=True)
class _Options:
    lang: Lang
    basemap: str
    token: str | None
    simplify_m: float

    @property
    def shift(self) -> bool:
        return self.basemap == "amap"


def _options(project: Project, lang: str | None, basemap: str | None, token: str | None, simplify_m: float | None) -> _Options:
    """The map's options: the arguments given, checked as ``[map]`` settings, over the project's ``[map]``."""
    given = {"map.lang": lang, "map.basemap": basemap, "map.simplify_m": simplify_m}
    changes = {key: value for key, value in given.items() if value is not None}
    settings = project.settings.override(changes) if changes else project.settings
    ms = settings.get(MapSettings)
    token = token or os.environ.get(ms.tianditu_token_env) or None
    if ms.basemap == "tianditu" and not token:
        raise RenewgeoError(
            f"meeting_map: basemap='tianditu' needs a Tianditu key (console.tianditu.gov.cn): set the environment variable "
            f"{ms.tianditu_token_env} (map.tianditu_token_env) or pass tianditu_token='...'; or use basemap='none' offline"
        )
    return _Options(cast(Lang, ms.lang), ms.basemap, token, ms.simplify_m)


def _sources(project: Project, results: Any) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, list[tuple[str, Presentation]]]]:
    """The layers to draw and their presentations (default first, then views)."""
    if results is not None and hasattr(results, "presentations") and hasattr(results, "output_layers"):
        return dict(results.output_layers()), dict(results.presentations())
    if results is None:
        layers = dict(project.layers)
    elif isinstance(results, Mapping):
        layers = {**project.layers, **dict(results.get("layers") or {})}
    else:
        raise RenewgeoError(f"meeting_map: results must be a RunResult (renewgeo.run_analyses), got {type(results).__name__}")
    pres = {}
    for name in layers:
        kind = project.kinds.get(name, name)
        if kind in styles.KIND_PRESENTATIONS:
            pres[name] = [(kind, styles.KIND_PRESENTATIONS[kind])]
    return layers, pres


def _table(results: Any, name: str) -> pd.DataFrame | None:
    tables = getattr(results, "tables", None)
    if tables is None and isinstance(results, Mapping):
        tables = results.get("tables")
    return (tables or {}).get(name)


def _layers_to_draw(project: Project, results: Any) -> list[_Item]:
    """Every layer and view, in drawing order (``Presentation.order``, lowest first)."""
    layers, pres = _sources(project, results)
    items = []
    for name, gdf in layers.items():
        ways = pres.get(name) or [(name, styles.fallback(name, styles.geometry_of(gdf.geom_type)))]
        for i, (style_name, p) in enumerate(ways):
            items.append(_Item(name if i == 0 else style_name, name, p, gdf, (i == 0) if p.show is None else p.show))
    labels = [it.presentation.label for it in items]
    for i, it in enumerate(items):  # two layers of one kind: tell them apart by name
        if labels.count(it.presentation.label) > 1:
            zh, en = it.presentation.label
            items[i] = replace(it, presentation=replace(it.presentation, label=(f"{zh}: {it.key}", f"{en}: {it.key}")))
    return sorted(items, key=lambda it: it.presentation.order)


# ------------------------------------------------------------------------- data for the web
def _drawable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Overlay results may hold GeometryCollections: keep the parts Leaflet can draw, polygons first."""
    mixed = (gdf.geom_type == "GeometryCollection").to_numpy()
    if not mixed.any():
        return gdf
    vals = gdf.geometry.values.copy()
    for i in np.flatnonzero(mixed):
        parts = shapely.get_parts(vals[i])
        tid = shapely.get_type_id(parts)
        polys = (tid == 3) | (tid == 6)
        vals[i] = shapely.multipolygons(parts[polys]) if polys.any() else shapely.multilinestrings(parts[(tid == 1) | (tid == 5)])
    out = gdf.copy()
    out[out.geometry.name] = vals
    return out


def _web_geometry(gdf: gpd.GeoDataFrame, layer: str, opts: _Options) -> np.ndarray:
    """Geometries simplified, in EPSG:4326 (or GCJ-02)."""
    if gdf.crs is None:
        raise RenewgeoError(f"map layer {layer!r} has no CRS; set it before drawing")
    g = gpd.GeoDataFrame(geometry=_drawable(gdf).geometry.values, crs=gdf.crs)
    if opts.simplify_m > 0 and not rcrs.is_geographic(g.crs):
        vals = g.geometry.values.copy()
        lines = ~g.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
        vals[lines] = shapely.simplify(vals[lines], opts.simplify_m, preserve_topology=True)
        g = gpd.GeoDataFrame(geometry=vals, crs=g.crs)
    g = rcrs.wgs84_to_gcj02_gdf(g, layer=layer) if opts.shift else rcrs.to_web(g, layer=layer)
    return np.asarray(g.geometry.values, dtype=object)


def _cell(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool | np.bool_):
        return "✓" if v else "✗"
    if isinstance(v, float | np.floating):
        return f"{v:,.0f}" if abs(float(v)) >= 100 or float(v).is_integer() else f"{v:,.2f}"
    return _h(v)


_NAMES = frozenset({"id", "name", "name_zh", "note"})  # fields whose text is shown as it is, never translated


_BILINGUAL = re.compile(r"([^\x00-\x7f]+) ([A-Za-z][\x20-\x7e]{2,})")  # "社区服务站 Community service station"


def _one_language(v: str, lang: Lang) -> str:
    """A ``; ``-separated text whose every item reads "中文 English" (facility names of the life circles), in ``lang`` only."""
    if lang == "zh+en":
        return v
    items = [_BILINGUAL.fullmatch(item) for item in v.split("; ")]
    if not all(items):
        return v
    return "; ".join(m.group(1 if lang == "zh" else 2) for m in items if m)


def _coded(v: Any, lang: Lang) -> str:
    """A coded text value in the map's language: ``kindergarten|childcare; bus_stop`` reads 幼儿园/托育; 公交站.

    A text of bilingual items (``社区服务站 Community service station``) reads in the map's language.
    """
    if not isinstance(v, str) or not v:
        return _cell(v)
    if v in styles.VALUE_LABELS:
        return _h(styles.value_label(v, lang))
    if not re.fullmatch(r"[a-z0-9_]+(\s*[|;]\s*[a-z0-9_]+)*", v):
        return _h(_one_language(v, lang))
    groups = [[styles.value_label(alt.strip(), lang) for alt in g.split("|")] for g in v.split(";")]
    return _h("; ".join(" / ".join(g) for g in groups))


def _tooltip_texts(values: pd.Series, field: str, lang: Lang) -> list[str]:
    """A tooltip field's values as HTML text (numbers formatted, coded values translated, text escaped).

    Lengths and areas in metres (``*_m``, ``*_m2``) read in whole metres, as a drawing gives them.
    """
    if field.endswith(("_m", "_m2")):
        values = values.round(0) if pd.api.types.is_float_dtype(values) else values
    fmt = _cell if field in _NAMES else (lambda v: _coded(v, lang))
    memo: dict[Any, str] = {}
    out = []
    for v in values.astype("object").to_numpy():
        try:
            out.append(memo[v] if v in memo else memo.setdefault(v, fmt(v)))
        except TypeError:  # an unhashable value
            out.append(fmt(v))
    return out


def _column(texts: list[str]) -> list[str] | dict[str, list[Any]]:
    """A column for the page: as it is, or as its distinct values and an index each when that is shorter."""
    distinct = dict.fromkeys(texts)
    if 2 * len(distinct) > len(texts):
        return texts
    index = {t: i for i, t in enumerate(distinct)}
    return {"u": list(distinct), "i": [index[t] for t in texts]}


_FAMILY = np.array([0, 1, 1, 2, 0, 1, 2, 0])  # shapely type id -> point, line, polygon (collections are resolved before)
_MULTI = (shapely.multipoints, shapely.multilinestrings, shapely.multipolygons)
COORD_SCALE = 1_000_000
"""Coordinates are written as whole micro-degrees (1e-6 degree, about 0.1 m)."""


def _merge(geoms: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of one class merged into one multi-geometry (per kind of geometry)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    key = cls[owner] * 3 + _FAMILY[shapely.get_type_id(parts)]
    out_g, out_c = [], []
    for k in np.unique(key):
        out_g.append(_MULTI[k % 3](parts[key == k]))
        out_c.append(k // 3)
    return np.array(out_g, dtype=object), np.array(out_c, dtype=np.int64)


def _runs(q: np.ndarray, offsets: np.ndarray, *, closed: bool) -> list[list[int]]:
    """Runs of whole micro-degrees (rings, lines, a feature's points) as flat ``[x0, y0, dx1, dy1, ...]`` lists.

    The first vertex of a run is relative to the layer's origin, each next one to the one
    before (small numbers, few digits). A closed ring loses its closing vertex: Leaflet
    closes polygons itself.
    """
    if closed and len(offsets) > 1:
        keep = np.ones(len(q), dtype=bool)
        keep[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = False
        q = q[keep]
        offsets = offsets - np.concatenate([[0], np.cumsum(offsets[1:] > offsets[:-1])])
    d = q.copy()
    d[1:] -= q[:-1]
    starts = offsets[:-1][offsets[:-1] < offsets[1:]]
    d[starts] = q[starts]
    flat = d.ravel().tolist()
    return [flat[2 * s:2 * e] for s, e in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def _encode(geoms: np.ndarray) -> dict[str, Any]:
    """Geometries in EPSG:4326 as compact nested lists of integers, for ``renewgeoSource``.

    ``o``: the origin (whole micro-degrees of the south-west corner); ``f``: each
    feature's kind (0 points, 1 lines, 2 polygons), or one for all; ``g``: per feature,
    points as one run, lines as a list of runs, polygons as a list of polygons, each a
    list of rings (:func:`_runs`).
    """
    n = len(geoms)
    family = _FAMILY[shapely.get_type_id(geoms)] if n else np.zeros(0, dtype=np.int64)
    coords = shapely.get_coordinates(geoms)
    origin = np.floor(coords.min(axis=0) * COORD_SCALE).astype(np.int64) if len(coords) else np.zeros(2, dtype=np.int64)
    out: list[Any] = [[] for _ in range(n)]
    for fam in (0, 1, 2):
        sel = np.flatnonzero((family == fam) & ~shapely.is_empty(geoms))
        if not len(sel):
            continue
        _, xy, offs = shapely.to_ragged_array(geoms[sel])
        q = np.rint(xy[:, :2] * COORD_SCALE).astype(np.int64) - origin
        if fam == 0:  # points, or multi-points: one run per feature
            feat = offs[0] if len(offs) else np.arange(len(q) + 1)
            for i, run in zip(sel.tolist(), _runs(q, feat, closed=False), strict=True):
                out[i] = run
        elif fam == 1:  # (multi-)lines: coordinates per line, lines per feature
            lines = _runs(q, offs[0], closed=False)
            per = (offs[1] if len(offs) > 1 else np.arange(len(sel) + 1)).tolist()
            for j, i in enumerate(sel.tolist()):
                out[i] = lines[per[j]:per[j + 1]]
        else:  # (multi-)polygons: coordinates per ring, rings per polygon, polygons per feature
            rings = _runs(q, offs[0], closed=True)
            per_poly = offs[1].tolist()
            per_feat = (offs[2] if len(offs) > 2 else np.arange(len(sel) + 1)).tolist()
            for j, i in enumerate(sel.tolist()):
                out[i] = [rings[per_poly[p]:per_poly[p + 1]] for p in range(per_feat[j], per_feat[j + 1])]
    kinds = family.tolist()
    return {"o": origin.tolist(), "k": COORD_SCALE, "f": kinds[0] if n and len(set(kinds)) == 1 else kinds, "g": out}


# ------------------------------------------------------------------------- symbols
def _svg(shape: str, fill: str, stroke: str, size: int = 16) -> str:
    """A point symbol as inline SVG (no icon font, nothing to download)."""
    s, h = size, size / 2
    body = {
        "circle": f'<circle cx="{h}" cy="{h}" r="{h - 2}"/>',
        "square": f'<rect x="2" y="2" width="{s - 4}" height="{s - 4}"/>',
        "triangle": f'<polygon points="{h},1 {s - 1},{s - 2} 1,{s - 2}"/>',
        "diamond": f'<polygon points="{h},1 {s - 1},{h} {h},{s - 1} 1,{h}"/>',
        "star": (f'<polygon points="{h},1 {s * 0.62},{s * 0.38} {s - 1},{s * 0.38} {s * 0.69},{s * 0.6} {s * 0.8},{s - 1} '
                 f'{h},{s * 0.72} {s * 0.2},{s - 1} {s * 0.31},{s * 0.6} 1,{s * 0.38} {s * 0.38},{s * 0.38}"/>'),
        "hexagon": f'<polygon points="{h},1 {s - 2},{s * 0.28} {s - 2},{s * 0.72} {h},{s - 1} 2,{s * 0.72} 2,{s * 0.28}"/>',
        "pentagon": f'<polygon points="{h},1 {s - 1},{s * 0.4} {s * 0.8},{s - 1} {s * 0.2},{s - 1} 1,{s * 0.4}"/>',
        "cross_fill": (f'<polygon points="{s * 0.35},1 {s * 0.65},1 {s * 0.65},{s * 0.35} {s - 1},{s * 0.35} {s - 1},{s * 0.65} '
                       f'{s * 0.65},{s * 0.65} {s * 0.65},{s - 1} {s * 0.35},{s - 1} {s * 0.35},{s * 0.65} 1,{s * 0.65} 1,{s * 0.35} '
                       f'{s * 0.35},{s * 0.35}"/>'),
    }[shape]
    body = re.sub(r"(\d\.\d\d)\d+", r"\1", body)  # 11.200000000000001 -> 11.20: a hundredth of a pixel is enough
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}">'
            f'<g fill="{_h(fill)}" stroke="{_h(stroke)}" stroke-width="1">{body}</g></svg>')


def _symbols(item: _Item, cls: list[StyleClass], clustered: bool = False) -> list[str] | None:
    """SVG symbols by class for a point layer with few features or clusters; None: canvas circles."""
    st = item.presentation.style
    if st.geometry != "point" or not item.presentation.tooltip or (len(item.gdf) > MAX_SYMBOL_POINTS and not clustered):
        return None
    px = max(10, round(4 * st.size))
    return [_svg(styles.marker_shape(st, i, c.value), c.colour, st.outline or "#222222", px) for i, c in enumerate(cls)]


def _swatch(item: _Item, c: StyleClass, i: int, symbols: list[str] | None) -> str:
    st = item.presentation.style
    if symbols is not None:
        return _svg(styles.marker_shape(st, i, c.value), c.colour, st.outline or "#222222", 14)
    border = "dashed" if st.dash else "solid"
    if st.geometry == "line":
        return f"<span class='ln' style='border-top:{min(max(st.width, 2), 6):g}px {border} {_h(c.colour)}'></span>"
    fill = "transparent" if st.fill_opacity == 0 else _h(c.colour)
    radius = "border-radius:7px;" if st.geometry == "point" else ""
    return (f"<span class='sw' style='{radius}background:{fill};opacity:{max(st.fill_opacity, 0.5):g};"
            f"border:{max(min(st.width, 3), 1):g}px {border} {_h(st.outline or c.colour)}'></span>")


# ------------------------------------------------------------------------- one layer
class _LayerData(MacroElement):
    """A layer's classes, colours and tooltip fields, drawn into its feature group by ``renewgeoLayer``."""

    _template = Template("""{% macro script(this, kwargs) %}
        renewgeoLayer({{ this.group }}, {{ this.spec }}, {{ this.cluster }});
        {% endmacro %}""")

    def __init__(self, group: str, spec: str, cluster: str | None = None) -> None:
        super().__init__()
        self._name = "RenewgeoLayer"
        self.group = group
        self.spec = spec
        self.cluster = cluster or "null"


_SOURCE_JS = """
window.renewgeoSources = {};
window.renewgeoSource = function (id, s) { window.renewgeoSources[id] = s; };
window.renewgeoDecode = function (s) {
  // whole micro-degrees, each run's first vertex from the origin, the next ones from the one before (webmap._encode)
  if (s.ll) { return s.ll; }
  var k = s.k, ox = s.o[0], oy = s.o[1];
  function run(a) {
    var out = new Array(a.length >> 1), x = ox, y = oy;
    for (var i = 0, j = 0; i < a.length; i += 2, j++) { x += a[i]; y += a[i + 1]; out[j] = L.latLng(y / k, x / k); }
    return out;
  }
  s.ll = s.g.map(function (g, i) {
    var f = typeof s.f === 'number' ? s.f : s.f[i];
    return f === 0 ? run(g) : f === 1 ? g.map(run) : g.map(function (p) { return p.map(run); });
  });
  return s.ll;
};
window.renewgeoValue = function (s, field, i) {
  var c = s.c[field];
  return c === undefined ? '' : (c.u ? c.u[c.i[i]] : c[i]);
};
"""

_LAYER_JS = """
window.renewgeoPending = [];
window.renewgeoLayer = function (group, d, cluster) {
  // a layer on show is built at once; a hidden one when it is switched on, or once the map is drawn (window.renewgeo.ready)
  var done = false;
  function build() { if (!done) { done = true; window.renewgeoBuild(group, d, cluster); } }
  if (d.show) { build(); } else { group.once('add', build); window.renewgeoPending.push(build); }
};
window.renewgeoBuild = function (group, d, cluster) {
  var s = window.renewgeoSources[d.src], st = d.style, ll = window.renewgeoDecode(s);
  function paint(c) {
    var col = d.colours[c];
    if (st.geometry === 'line') { return {color: col, weight: st.width, opacity: st.opacity, dashArray: st.dash, fill: false}; }
    return {color: st.outline || col, weight: st.width, opacity: st.opacity, dashArray: st.dash, fillColor: col, fillOpacity: st.fill};
  }
  var paints = d.colours.map(function (_, c) { return paint(c); });
  var icons = d.symbols && d.symbols.map(function (svg) {
    return L.divIcon({html: svg, className: 'renewgeo-symbol', iconSize: [d.px, d.px], iconAnchor: [d.px / 2, d.px / 2]});
  });
  var safe = d.colours.map(function (c) { return /^#[0-9a-fA-F]{3,8}$/.test(c) ? c : '#999999'; });
  function point(p, c, i) {
    var m = icons ? L.marker(p, {icon: icons[c]}) : L.circleMarker(p, L.extend({radius: st.size}, paints[c]));
    m._rgi = i; m._rgColour = safe[c]; m._rgClass = c;
    return m;
  }
  var plain = L.featureGroup(), clustered = [];
  for (var i = 0; i < ll.length; i++) {
    var c = typeof d.cls === 'number' ? d.cls : d.cls[i], f = typeof s.f === 'number' ? s.f : s.f[i], g = ll[i], lyr;
    if (!g.length) { continue; }
    if (f === 0) {
      lyr = g.length === 1 ? point(g[0], c, i) : L.featureGroup(g.map(function (p) { return point(p, c, i); }));
    } else if (f === 1) {
      lyr = L.polyline(g.length === 1 ? g[0] : g, paints[c]);
    } else {
      lyr = L.polygon(g.length === 1 ? g[0] : g, paints[c]);
    }
    lyr._rgi = i;
    if (cluster && d.cluster[c] && f === 0) { clustered.push(lyr); } else { plain.addLayer(lyr); }
  }
  function tip(l) {
    var rows = '';
    if (l.getAllChildMarkers) {  // a cluster: what it holds, largest classes first
      var n = {}, ms = l.getAllChildMarkers();
      for (var j = 0; j < ms.length; j++) { n[ms[j]._rgClass] = (n[ms[j]._rgClass] || 0) + 1; }
      var top = Object.keys(n).sort(function (a, b) { return n[b] - n[a]; });
      for (var t = 0; t < Math.min(top.length, 6); t++) {
        rows += '<tr><th>' + d.labels[top[t]] + '</th><td>' + n[top[t]] + '</td></tr>';
      }
      return '<table class="renewgeo-tip">' + rows + '</table>';
    }
    if (l._rgi === undefined) { return ''; }
    for (var k = 0; k < d.fields.length; k++) {
      var v = window.renewgeoValue(s, d.fields[k], l._rgi);
      if (v !== '') { rows += '<tr><th>' + d.aliases[k] + '</th><td>' + v + '</td></tr>'; }
    }
    return '<table class="renewgeo-tip">' + rows + '</table>';
  }
  if (d.fields.length) {
    plain.bindTooltip(tip, {sticky: true});
    if (cluster) { cluster.bindTooltip(tip, {sticky: true}); }
  }
  if (cluster) {
    // markercluster fires a cluster's events as 'cluster' + type
    cluster.on('clustermouseover', function (e) { e.layer.bindTooltip(tip(e.layer), {direction: 'right', offset: [14, 0]}).openTooltip(); });
    cluster.on('clustermouseout', function (e) { e.layer.unbindTooltip(); });
    // markers bulk-added once it is on the map: before, markercluster checks each against all the others (quadratic)
    if (cluster._map) { cluster.addLayers(clustered); } else { cluster.once('add', function () { cluster.addLayers(clustered); }); }
  }
  group.addLayer(plain);
  group.renewgeo = {source: s, fields: d.fields};
};
window.renewgeoClusterIcon = function (cluster) {
  // a ring split by the colours of the markers it holds (amenity families), the count inside
  var ms = cluster.getAllChildMarkers(), n = ms.length, by = {}, order = [];
  for (var i = 0; i < n; i++) { var c = ms[i]._rgColour; if (!by[c]) { by[c] = 0; order.push(c); } by[c]++; }
  var size = n < 10 ? 30 : n < 100 ? 36 : n < 1000 ? 44 : 52, h = size / 2, r = h - 4, circ = 2 * Math.PI * r, off = 0;
  var rings = '';
  order.sort(function (a, b) { return by[b] - by[a]; });
  for (var j = 0; j < order.length; j++) {
    var len = circ * by[order[j]] / n;
    rings += '<circle r="' + r + '" cx="' + h + '" cy="' + h + '" fill="none" stroke="' + order[j] + '" stroke-width="6" ' +
      'stroke-dasharray="' + len + ' ' + (circ - len) + '" stroke-dashoffset="' + (-off) + '"/>';
    off += len;
  }
  var html = '<svg xmlns="http://www.w3.org/2000/svg" width="' + size + '" height="' + size + '">' +
    '<circle r="' + (r + 3) + '" cx="' + h + '" cy="' + h + '" fill="#fff" fill-opacity="0.95" stroke="#555" stroke-width="0.5"/>' +
    '<g transform="rotate(-90 ' + h + ' ' + h + ')">' + rings + '</g>' +
    '<text x="' + h + '" y="' + h + '" text-anchor="middle" dominant-baseline="central" font-size="' + (n < 1000 ? 12 : 11) +
    '" font-weight="bold" fill="#222">' + n + '</text></svg>';
  return L.divIcon({html: html, className: 'renewgeo-cluster', iconSize: L.point(size, size)});
};
"""


_CONTROL_JS = """
window.renewgeoControl = function (map, base, overlays, headings, title, legend) {
  // Leaflet's layer list with a heading per group and a fold; the legend shows a layer's entry only while it is on
  var Grouped = L.Control.Layers.extend({
    _update: function () {
      L.Control.Layers.prototype._update.call(this);
      var labels = this._overlaysList.children, last = null;
      for (var i = labels.length - 1; i >= 0; i--) {
        if (headings[i] !== (i > 0 ? headings[i - 1] : null)) {
          var h = document.createElement('div'); h.className = 'renewgeo-group'; h.innerHTML = headings[i];
          this._overlaysList.insertBefore(h, labels[i]);
        }
      }
      return this;
    }
  });
  var ctl = new Grouped(base, overlays, {collapsed: false, position: 'topright'}).addTo(map);
  var box = ctl.getContainer(), head = document.createElement('div');
  head.className = 'renewgeo-fold'; head.innerHTML = title; head.setAttribute('role', 'button');
  box.insertBefore(head, box.firstChild);
  L.DomEvent.on(head, 'click', function () { box.classList.toggle('renewgeo-folded'); });
  function sync() {
    for (var i = 0; i < legend.length; i++) {
      var el = document.getElementById(legend[i][1]);
      if (el) { el.style.display = map.hasLayer(legend[i][0]) ? '' : 'none'; }
    }
  }
  map.on('overlayadd overlayremove', sync); sync();
  L.control.scale({imperial: false, metric: true, position: 'bottomleft'}).addTo(map);
  map.attributionControl.setPrefix('Leaflet');
  if (window.innerHeight < 800) {  // a projector: fold what would crowd the site
    box.classList.add('renewgeo-folded');
  }
  return ctl;
};
"""


@dataclass(frozen=True)
class _Drawn:
    """A layer on the map: its feature group, its name in the layer control, its legend entry, what was left out."""

    key: str
    group: folium.FeatureGroup | None
    name: str = ""
    legend: str = ""
    note: str = ""
    heading: str = "results"


class _Sources:
    """The geometry and tooltip texts of each layer, written into the page once however many map layers draw it.

    A layer and its views (the buildings, and the buildings by walking distance) share one
    source; a layer drawn without tooltips is merged by class into a source of its own,
    unless another map layer already writes its features one by one.
    """

    def __init__(self, items: list[_Item], opts: _Options) -> None:
        self.opts = opts
        self.fields: dict[str, list[str]] = {}  # layer -> the tooltip fields any of its map layers shows
        for it in items:
            if it.presentation.tooltip:
                have = self.fields.setdefault(it.layer, [])
                have += [f for f in it.presentation.tooltip if f in it.gdf.columns and f not in have]
        self.data: dict[str, dict[str, Any]] = {}
        self._ids: dict[str, str] = {}
        self._geoms: dict[str, np.ndarray] = {}

    def geometry(self, item: _Item, gdf: gpd.GeoDataFrame) -> np.ndarray:
        if item.layer not in self._geoms:
            self._geoms[item.layer] = _web_geometry(gdf, item.layer, self.opts)
        return self._geoms[item.layer]

    def source(self, item: _Item, gdf: gpd.GeoDataFrame, idx: np.ndarray) -> tuple[str, np.ndarray]:
        """The id of the source an item draws, and the class of each of its features in that source."""
        if item.layer in self.fields:
            if item.layer not in self._ids:
                sid = self._ids[item.layer] = f"s{len(self._ids)}"
                cols = {f: _column(_tooltip_texts(gdf[f], f, self.opts.lang)) for f in self.fields[item.layer]}
                self.data[sid] = {**_encode(self.geometry(item, gdf)), "c": cols}
            return self._ids[item.layer], idx
        merged, cls = _merge(self.geometry(item, gdf), idx)  # one multi-geometry per class: large layers stay light
        sid = f"m{len(self.data)}"
        self.data[sid] = {**_encode(merged), "c": {}}
        return sid, cls

    def scripts(self) -> list[_Script]:
        """One script per source; its data a JSON text (a string literal made by :func:`_js`), which parses faster than code."""
        return [_Script(f"renewgeoSource({_js(sid)}, JSON.parse({_js(_js(data))}));") for sid, data in self.data.items()]


def _clustered(item: _Item, cls: list[StyleClass]) -> list[bool] | None:
    """Which classes of a large point layer are clustered (None: none is).

    A point layer with tooltips and more than :data:`MAX_SYMBOL_POINTS` features clusters
    its classes of more than :data:`CLUSTER_MIN_POINTS` (all of them when the rest would
    still be too many); the small classes (a hospital, the kindergartens) stay on show.
    """
    st = item.presentation.style
    if st.geometry != "point" or st.breaks or not item.presentation.tooltip or len(item.gdf) <= MAX_SYMBOL_POINTS:
        return None
    big = [c.count > CLUSTER_MIN_POINTS for c in cls]
    if sum(c.count for c, b in zip(cls, big, strict=True) if not b) > MAX_SYMBOL_POINTS:
        big = [True] * len(cls)
    return big


def _layer_spec(item: _Item, gdf: gpd.GeoDataFrame, sources: _Sources, lang: Lang
                ) -> tuple[dict[str, Any], list[StyleClass], list[str] | None, list[bool] | None]:
    """What the browser needs to draw one layer (its source written apart), with its classes, point symbols and clusters."""
    p, st = item.presentation, item.presentation.style
    values = gdf[st.column] if st.column is not None and st.column in gdf.columns else None
    cls, idx = styles.assign(st, values, len(gdf))
    fields = [f for f in p.tooltip if f in gdf.columns]
    sid, idx = sources.source(item, gdf, idx)
    clustered = _clustered(item, cls)
    symbols = _symbols(item, cls, clustered is not None)
    spec = {
        "src": sid,
        "cls": int(idx[0]) if len(cls) == 1 and len(idx) else idx.tolist(),
        "colours": [c.colour for c in cls],
        "style": {"geometry": st.geometry, "width": st.width, "opacity": st.opacity, "dash": st.dash, "fill": st.fill_opacity,
                  "outline": st.outline, "size": st.size},
        "fields": fields,
        "aliases": [_h(styles.field_label(f, lang)) for f in fields],
        "symbols": symbols,
        "px": max(10, round(4 * st.size)),
        "cluster": clustered,
        "labels": [_h(styles.class_label(c, st, lang) or styles.text(p.label, lang)) for c in cls],
        "show": item.show,
    }
    return spec, cls, symbols, clustered


def _cluster_group() -> MarkerCluster:
    """The marker cluster of folium's plugin, its library inlined by :func:`_new_map` rather than linked from a CDN."""
    mc = MarkerCluster(control=False, show=True, icon_create_function="window.renewgeoClusterIcon",
                       options={"maxClusterRadius": CLUSTER_RADIUS_PX, "showCoverageOnHover": False, "spiderfyOnMaxZoom": True,
                                "disableClusteringAtZoom": 18, "removeOutsideVisibleBounds": True})
    mc.default_js = []
    mc.default_css = []
    return mc


def _layer_to_folium(item: _Item, opts: _Options, sources: _Sources) -> _Drawn:
    """One layer as a feature group with its legend entry (no group when it has nothing to draw)."""
    label = styles.text(item.presentation.label, opts.lang)
    blank = (item.gdf.geometry.isna() | item.gdf.geometry.is_empty).to_numpy()
    if blank.all():
        return _Drawn(item.key, None, note=f"{label}: {_t('empty', opts.lang)}")
    gdf = item.gdf[~blank] if blank.any() else item.gdf
    spec, cls, symbols, clustered = _layer_spec(item, gdf, sources, opts.lang)
    group = folium.FeatureGroup(show=item.show, control=False)
    mc = None
    if clustered is not None and any(clustered):
        mc = _cluster_group()
        group.add_child(mc)
    group.add_child(_LayerData(group.get_name(), _js(spec), mc.get_name() if mc is not None else None))
    of = {"zh": "{n} / {total} 个", "en": "{n} of {total}", "zh+en": "{n} / {total} 个 ({n} of {total})"}[opts.lang]
    note = f"{label}: {of.format(n=int(blank.sum()), total=len(blank))}: {_t('empty', opts.lang)}" if blank.any() else ""
    legend = _legend_entry(item, label, cls, symbols, opts.lang, clustered if mc is not None else None)
    return _Drawn(item.key, group, f"{label} ({len(gdf):,})", legend, note, item.presentation.group)


# ------------------------------------------------------------------------- legend and panels
def _cluster_swatch(colours: list[str]) -> str:
    """A cluster as the map draws it (``renewgeoClusterIcon``), for the legend: a ring of colours around a count."""
    ring = "".join(f'<circle r="7" cx="11" cy="11" fill="none" stroke="{_h(c)}" stroke-width="4" pathLength="{len(colours)}" '
                   f'stroke-dasharray="1 {len(colours) - 1}" stroke-dashoffset="{-i}"/>' for i, c in enumerate(colours))
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="22" height="22"><circle r="10" cx="11" cy="11" fill="#fff" stroke="#555" '
            f'stroke-width="0.5"/><g transform="rotate(-90 11 11)">{ring}</g><text x="11" y="11" text-anchor="middle" '
            'dominant-baseline="central" font-size="8" font-weight="bold" fill="#222">n</text></svg>')


def _legend_entry(item: _Item, label: str, cls: list[StyleClass], symbols: list[str] | None, lang: Lang,
                  clustered: list[bool] | None = None) -> str:
    """A layer's legend: a single colour is one row; classes a heading and a row each (under their family's heading).

    A layer whose large classes are clustered says how to read a cluster.
    """
    how = ""
    if clustered is not None:
        colours = list(dict.fromkeys(c.colour for c, b in zip(cls, clustered, strict=True) if b))[:6]
        how = f"<div class='renewgeo-how'>{_cluster_swatch(colours)}<small>{_h(_t('clustered', lang))}</small></div>"
    if len(cls) == 1 and cls[0].label == "":
        return f"<h2>{_swatch(item, cls[0], 0, symbols)}{_h(label)}</h2>{how}"
    st = item.presentation.style
    order = sorted(range(len(cls)), key=lambda i: _family_rank(st, cls[i]))  # families together, in their order
    rows, last = "", None
    for i in order:
        c = cls[i]
        family = styles.class_group(st, c)
        if family is not None and family != last:
            rows += f"<h3>{_h(styles.text(family, lang))}</h3>"
            last = family
        rows += f"<div>{_swatch(item, c, i, symbols)}{_h(styles.class_label(c, st, lang))} <small>{c.count:,}</small></div>"
    body = f"<div class='cols'>{rows}</div>" if len(cls) > 6 else rows
    return f"<h2>{_h(label)}</h2>{how}{body}"


def _family_rank(st: styles.Style, c: StyleClass) -> int:
    if not st.class_groups:
        return 0
    families = list(dict.fromkeys(st.class_groups.values()))
    family = styles.class_group(st, c)
    return families.index(family) if family in families else len(families)


def _legend_html(drawn: list[_Drawn], lang: Lang) -> str:
    """The legend panel, folding: layers from the top of the map down (each shown only while its layer is), then what could not be drawn."""
    body = "".join(f"<div class='renewgeo-entry' id='renewgeo-lg-{i}'>{d.legend}</div>"
                   for i, d in reversed(list(enumerate(drawn))) if d.group is not None)
    notes = [d.note for d in drawn if d.note]
    if notes:
        body += "<div><i>" + _h("; ".join(notes)) + "</i></div>"
    return (f"<details open class='renewgeo-panel renewgeo-legend' id='renewgeo-legend'><summary>{_h(_t('legend', lang))}</summary>"
            f"{body}</details>")


def _title_html(project: Project, ledger: pd.DataFrame | None, circles: pd.DataFrame | None, lang: Lang, title: str | None,
                stages: pd.DataFrame | None = None, scorecard: pd.DataFrame | None = None) -> str:
    """The title panel: the project's title and the key figures of the targets ledger of the run."""
    names = {"zh": project.title_zh or project.title, "en": project.title,
             "zh+en": f"{project.title_zh} {project.title}" if project.title_zh else project.title}
    note = f"<div><i>{_h(_t('illustrative', lang))}</i></div>" if project.illustrative else ""
    rows = _targets_html(ledger, lang) + _life_circles_html(circles, lang) + _scorecard_html(stages, lang, names=_indicator_names(scorecard))
    return f"<div class='renewgeo-panel renewgeo-title' id='renewgeo-title'><h1>{_h(title or names[lang])}</h1>{note}{rows}</div>"


def _pct(v: float) -> str:
    """A share as a drawing shows it: 0.1 % steps, never rounded up to 100 % (nor down to 0 %) when it is not."""
    tenths = math.floor(v * 10 + 1e-9) / 10 if v < 100 else round(v, 1)
    if v > 0 and tenths == 0:
        tenths = 0.1
    return f"{tenths:.0f}%" if float(tenths).is_integer() else f"{tenths:.1f}%"


def _targets_html(ledger: pd.DataFrame | None, lang: Lang) -> str:
    """The targets ledger, folding; amounts at the target's precision, shares in 0.1 % steps, words in the map's language."""
    if ledger is None or not len(ledger):
        return ""
    rows = ""
    for r in ledger.head(12).to_dict("records"):
        label = r["label_zh"] if lang == "zh" and r.get("label_zh") else r["label"]
        if lang == "zh+en" and r.get("label_zh"):
            label = f"{r['label_zh']} {r['label']}"
        unit = {"m2": "m²", "km2": "km²"}.get(str(r["unit"]), styles.value_label(str(r["unit"]), lang))
        pct = "" if pd.isna(r["pct_of_target"]) else f"({float(r['pct_of_target']):.1f}%)".replace(".0%", "%")
        u = str(r["unit"])
        rows += (f"<tr><td>{_h(label)}</td><td style='text-align:right'>{styles.display_amount(float(r['actual']), float(r['target']), u)} / "
                 f"{styles.display_amount(float(r['target']), float(r['target']), u)} {_h(unit)} {pct}</td>"
                 f"<td class='renewgeo-{_h(r['status'])}'>{_h(styles.value_label(str(r['status']), lang))}</td></tr>")
    met = int((ledger["status"] != "short").sum())
    return (f"<details open><summary>{_h(_t('targets', lang))}: {met} / {len(ledger)} {_h(_t('of_met', lang))}</summary>"
            f"<table>{rows}</table></details>")


def _life_circles_html(circles: pd.DataFrame | None, lang: Lang) -> str:
    """The life circles: the share of buildings that pass each, and what they most often lack."""
    if circles is None or not len(circles) or "buildings_pass_pct" not in circles.columns:
        return ""
    if "circle" not in circles.columns:
        circles = circles.rename_axis("circle").reset_index()
    rows = ""
    for r in circles.to_dict("records"):
        why = r.get("most_missing")
        why_html = "" if not isinstance(why, str) or not why or float(r["buildings_pass_pct"]) >= 100 else \
            (f"<tr><td colspan='2' class='renewgeo-why'><small>{_h(_t('why', lang))}: {_coded(why, lang)}</small></td></tr>")
        rows += (f"<tr><td>{_h(styles.value_label(str(r['circle']), lang))}</td>"
                 f"<td style='text-align:right'>{_pct(float(r['buildings_pass_pct']))} {_h(_t('buildings_pass', lang))}</td></tr>"
                 f"{why_html}")
    return f"<details open><summary>{_h(_t('life_circles', lang))}</summary><table>{rows}</table></details>"


def _indicator_names(scorecard: pd.DataFrame | None) -> dict[str, tuple[str, str]]:
    """Each indicator id's (Chinese, English) name, from the scorecard table."""
    if scorecard is None or not {"indicator_id", "name_zh", "name_en"} <= set(scorecard.columns):
        return {}
    one = scorecard.drop_duplicates("indicator_id")
    return {str(i): (str(z), str(e)) for i, z, e in zip(one["indicator_id"], one["name_zh"], one["name_en"], strict=True)}


def _scorecard_html(stages: pd.DataFrame | None, lang: Lang, *, blocking_shown: int = 3,
                    names: Mapping[str, tuple[str, str]] | None = None) -> str:
    """The scorecard's approval stages, folded: pass or fail, the counts, and the first indicators that block each."""
    if stages is None or not len(stages) or "stage_passes" not in stages.columns:
        return ""
    rows = ""
    for r in stages.to_dict("records"):
        name = styles.text((str(r.get("name_zh") or r["stage"]), str(r.get("name_en") or r["stage"])), lang)
        ok = bool(r["stage_passes"])
        block = [styles.text((names or {}).get(b, (b, b)), "zh" if lang == "zh+en" else lang)
                 for b in str(r.get("blocking") or "").split("; ") if b and b != "nan"]
        more = f" +{len(block) - blocking_shown}" if len(block) > blocking_shown else ""
        why = (f"<tr><td colspan='3' style='white-space:normal;overflow-wrap:anywhere;padding-left:1em'><small>"
               f"{_h(_t('blocked_by', lang))}: {_h(', '.join(block[:blocking_shown]))}{more}</small></td></tr>") if block else ""
        rows += (f"<tr><td>{_h(name)}</td><td style='text-align:right'>{int(r['pass'])}/{int(r['fail'])}/{int(r['unavailable'])}</td>"
                 f"<td class='renewgeo-{'met' if ok else 'short'}'>{_h(_t('stage_pass' if ok else 'stage_fail', lang))}</td></tr>{why}")
    n_ok = int(stages["stage_passes"].astype(bool).sum())
    head = f"<tr><td></td><td style='text-align:right'><small>{_h(_t('counts', lang))}</small></td><td></td></tr>"
    return (f"<details><summary>{_h(_t('scorecard', lang))}: {n_ok} / {len(stages)} {_h(_t('stages_pass', lang))}</summary>"
            f"<table>{head}{rows}</table></details>")


def _panel_css() -> str:
    return f"""
    .leaflet-container {{ background: #f4f2ec; font-family: {FONT_STACK}; }}
    .renewgeo-side {{ position: absolute; z-index: 1000; top: 10px; bottom: 40px; left: 54px; display: flex;
      flex-direction: column; gap: 8px; pointer-events: none; width: 360px; }}
    .renewgeo-panel {{ background: rgba(255,255,255,0.93); padding: 8px 12px; pointer-events: auto;
      border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,0.35); font-family: {FONT_STACK}; font-size: 12px;
      line-height: 1.45; overflow-y: auto; min-height: 0; }}
    .renewgeo-title {{ flex: 0 1 auto; max-height: 55%; }}
    .renewgeo-panel summary {{ font-weight: bold; cursor: pointer; }}
    .renewgeo-panel details {{ margin-top: 2px; }}
    .renewgeo-title h1 {{ font-size: 17px; margin: 0 0 4px 0; }}
    .renewgeo-title table {{ border-collapse: collapse; }}
    .renewgeo-title td {{ padding: 1px 6px 1px 0; vertical-align: top; }}
    .renewgeo-title table {{ font-size: 11px; }}
    .renewgeo-title td:nth-child(2), .renewgeo-title td:nth-child(3) {{ white-space: nowrap; }}
    .renewgeo-title td.renewgeo-why {{ white-space: normal; padding-left: 1em; color: #555; }}
    .renewgeo-legend {{ flex: 0 1 auto; margin-top: auto; }}
    .renewgeo-legend h3 {{ font-size: 11px; margin: 4px 0 1px 0; color: #555; column-span: none; break-after: avoid; }}
    .renewgeo-legend small {{ color: #777; }}
    .leaflet-control-layers {{ font-family: {FONT_STACK}; font-size: 12px; max-width: 290px;
      max-height: calc(100vh - 70px); overflow-y: auto; }}
    .renewgeo-fold {{ font-weight: bold; cursor: pointer; padding: 2px 0; }}
    .renewgeo-fold::after {{ content: " \\25BE"; }}
    .renewgeo-folded .renewgeo-fold::after {{ content: " \\25B8"; }}
    .renewgeo-folded .leaflet-control-layers-list {{ display: none; }}
    .renewgeo-group {{ font-weight: bold; color: #555; margin: 5px 0 1px 0; font-size: 11px; }}
    .renewgeo-legend .cols {{ column-count: 2; column-gap: 10px; }}
    .renewgeo-legend h2 {{ font-size: 13px; margin: 6px 0 2px 0; }}
    .renewgeo-legend summary {{ font-weight: bold; cursor: pointer; margin-top: 4px; }}
    .renewgeo-legend .sw {{ display: inline-block; width: 14px; height: 10px; margin-right: 6px; vertical-align: middle;
      box-sizing: border-box; }}
    .renewgeo-legend .ln {{ display: inline-block; width: 22px; height: 0; margin-right: 6px; vertical-align: middle; }}
    .renewgeo-legend svg {{ vertical-align: middle; margin-right: 6px; }}
    .renewgeo-met {{ color: #2e7d32; font-weight: bold; }} .renewgeo-short {{ color: #c62828; font-weight: bold; }}
    .renewgeo-over {{ color: #1565c0; font-weight: bold; }}
    .renewgeo-btn {{ font-size: 18px; text-align: center; line-height: 30px; width: 30px; height: 30px; display: block;
      background: #fff; color: #222; text-decoration: none; }}
    .renewgeo-on {{ background: #ffe082 !important; }}
    .renewgeo-measure {{ position: absolute; z-index: 1000; top: 90px; left: 50px; background: #fff; padding: 2px 8px;
      border: 1px solid #333; border-radius: 4px; font-weight: bold; display: none; }}
    .leaflet-tooltip {{ font-family: {FONT_STACK}; font-size: 12px; width: max-content; max-width: 340px; white-space: normal; }}
    .renewgeo-tip th {{ text-align: left; padding-right: 8px; font-weight: normal; color: #555; white-space: nowrap;
      vertical-align: top; }}
    .renewgeo-symbol {{ background: none; border: none; }}
    .renewgeo-cluster {{ background: none; border: none; z-index: 100000 !important; }}  /* counts stay legible over single symbols */
    .renewgeo-how {{ display: flex; align-items: center; gap: 6px; color: #555; margin: 2px 0 4px 0; }}
    .renewgeo-how svg {{ flex: none; margin-right: 0; }}
    """


def _csp(basemap: str) -> str:
    """A Content-Security-Policy: inline scripts and styles only; images from data: and the basemap's tile host."""
    tiles = f" {_TILES[basemap][3]}" if basemap in _TILES else ""
    policy = (f"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:{tiles}; "
              "font-src data:; base-uri 'none'; form-action 'none'")
    return f'<meta http-equiv="Content-Security-Policy" content="{_h(policy)}">'


# ------------------------------------------------------------------------- map parts
class _Script(MacroElement):
    """A script written here, with every value from the data already made safe by :func:`_js`."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "RenewgeoScript"
        self.code = code


def _fit_js(map_name: str, bounds: list[list[float]]) -> str:
    """The view fitted to the site before any layer is added, so that each is projected and drawn once.

    Without animation, keeping the site clear of the title and legend on the left and the
    layer switcher on the right.
    """
    return f"{map_name}.fitBounds({_js(bounds)}, {{paddingTopLeft: [400, 20], paddingBottomRight: [310, 20], animate: false}});"


def _registry_js(map_name: str, drawn: list[_Drawn], tiles: list[tuple[str, folium.TileLayer]], lang: Lang) -> str:
    """The layer control, the fit to the site, the stacking order and ``window.renewgeo``.

    The control lists the top layer first, as the legend does; a layer switched on again
    goes back to its place in the stack (not on top); ``window.renewgeo`` holds the map
    and its layers by name, for tests and a planner's console: ``drawn`` once the layers
    on show are drawn (the first render), ``ready`` once the hidden ones are built too
    (when the browser is next idle, or as each is switched on), and
    ``properties(name, feature)``, a feature's tooltip texts by field.
    """
    base = ", ".join(f"{_js(_h(styles.value_label(n, lang)))}: {t.get_name()}" for n, t in tiles if not t.overlay)
    overlays = [f"{_js(_h(styles.value_label(n, lang)))}: {t.get_name()}" for n, t in tiles if t.overlay]
    shown = [(i, d, d.group.get_name()) for i, d in enumerate(drawn) if d.group is not None]
    # the layer list reads top layer first, grouped under headings in the order the groups first appear
    rank = {g: n for n, g in enumerate(dict.fromkeys(d.heading for _, d, _ in reversed(shown)))}
    listed = sorted(reversed(shown), key=lambda t: rank[t[1].heading])
    overlays += [f"{_js(_h(d.name))}: {var}" for _, d, var in listed]
    headings = [_h(_t("basemap", lang))] * sum(1 for _, t in tiles if t.overlay)
    headings += [_h(styles.text(styles.GROUPS.get(d.heading, styles.GROUPS["results"]), lang)) for _, d, _ in listed]
    legend = ", ".join(f"[{var}, {_js(f'renewgeo-lg-{i}')}]" for i, _, var in shown)
    layers = ", ".join(f"{_js(d.key)}: {var}" for _, d, var in shown)
    stack = ", ".join(var for _, _, var in shown)
    return (f"renewgeoControl({map_name}, {{{base}}}, {{{', '.join(overlays)}}}, {_js(headings)}, "
            f"{_js(_h(_t('layers', lang)))}, [{legend}]);\n"
            f"(function (map, stack) {{ map.on('overlayadd', function (e) {{\n"
            "  for (var i = stack.indexOf(e.layer) + 1; i > 0 && i < stack.length; i++) {\n"
            "    if (map.hasLayer(stack[i])) { stack[i].bringToFront(); } } }); })"
            f"({map_name}, [{stack}]);\n"
            f"window.renewgeo = {{map: {map_name}, layers: {{{layers}}}, drawn: true, ready: false,\n"
            "  properties: function (key, l) {  // a drawn feature's tooltip texts (HTML), by field\n"
            "    var g = this.layers[key].renewgeo, out = {};\n"
            "    if (g) { g.fields.forEach(function (f) { out[f] = window.renewgeoValue(g.source, f, l._rgi); }); }\n"
            "    return out; }};\n"
            "(window.requestIdleCallback || function (f) { setTimeout(f, 50); })(function () {  // then the hidden layers\n"
            "  window.renewgeoPending.forEach(function (build) { build(); }); window.renewgeo.ready = true; }, {timeout: 1000});")


def _controls_js(map_name: str, lang: Lang) -> str:
    """A full-screen button and a distance measure, written for this map (no plugin download)."""
    return ("""(function (map) {
  var Btn = L.Control.extend({options: {position: 'topleft'},
    initialize: function (label, title, fn) { this.label = label; this.title = title; this.fn = fn; },
    onAdd: function () {
      var b = L.DomUtil.create('a', 'leaflet-bar renewgeo-btn');
      b.href = '#'; b.innerHTML = this.label; b.title = this.title; b.setAttribute('role', 'button');
      L.DomEvent.on(b, 'click', L.DomEvent.stop).on(b, 'click', this.fn, this);
      return b; }});
  new Btn('&#x26F6;', __FULLSCREEN__, function () {
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
  new Btn('&#x2194;', __MEASURE__, function (e) {
    on = !on; pts = []; if (line) { map.removeLayer(line); line = null; }
    var b = e.target; b.classList.toggle('renewgeo-on', on);
    if (!out) { out = L.DomUtil.create('div', 'renewgeo-measure', map.getContainer()); }
    out.style.display = on ? 'block' : 'none'; out.innerHTML = '0 m';
    map.getContainer().style.cursor = on ? 'crosshair' : '';
  }).addTo(map);
  map.on('click', function (e) { if (on) { pts.push(e.latlng); show(); } });
})(__MAP__);""".replace("__FULLSCREEN__", _js(_t("fullscreen", lang))).replace("__MEASURE__", _js(_t("measure", lang)))
            .replace("__MAP__", map_name))


def _basemap(m: folium.Map, opts: _Options) -> list[tuple[str, folium.TileLayer]]:
    """The basemap's tile layers (none for ``basemap="none"``)."""
    if opts.basemap not in _TILES:
        return []
    url, attr, subs, _host = _TILES[opts.basemap]
    if opts.basemap != "tianditu":
        out = [(opts.basemap, folium.TileLayer(url, attr=attr, name=opts.basemap, subdomains=subs, max_zoom=19, control=False))]
    else:
        token = urllib.parse.quote(opts.token or "", safe="")
        out = [(name, folium.TileLayer(url.format(layer=layer_id, token=token), attr=attr, name=name, subdomains=subs, max_zoom=18,
                                       overlay=layer_id == "cva", control=False))
               for layer_id, name in (("vec", "Tianditu"), ("cva", "Tianditu labels"))]
    for _name, tile in out:
        m.add_child(tile)
    return out


def _new_map(project: Project, opts: _Options) -> tuple[folium.Map, list[list[float]]]:
    """An empty map over the site, with Leaflet, the panel styles and the drawing function inlined."""
    ref = project.layer("sites") if project.has("sites") else next(iter(project.layers.values()))
    web_ref = rcrs.wgs84_to_gcj02_gdf(ref) if opts.shift else rcrs.to_web(ref)
    w, s, e, n = (float(v) for v in web_ref.total_bounds)
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=15, tiles=None, prefer_canvas=True, control_scale=False)
    m.options["maxZoom"] = MAX_ZOOM  # folium passes its max_zoom to the tiles only; the clusters need the map's
    m.default_js = []
    m.default_css = []
    root = cast(Figure, m.get_root())
    root.header.add_child(Element(_csp(opts.basemap)), name="renewgeo_csp", index=0)
    root.header.add_child(Element(
        f"<style>{_assets.leaflet_css()}{_assets.markercluster_css()}</style><style>{_panel_css()}</style>"
        f"<script>{_assets.leaflet_js()}</script><script>{_assets.markercluster_js()}</script>"
        f"<script>{_SOURCE_JS}{_LAYER_JS}{_CONTROL_JS}</script>"
    ), name="renewgeo_assets")
    return m, [[s, w], [n, e]]


# ------------------------------------------------------------------------- the map
def meeting_map(
    project: Project,
    results: RunResult | Mapping[str, Any] | None = None,
    *,
    lang: Lang | None = None,
    basemap: str | None = None,
    tianditu_token: str | None = None,
    title: str | None = None,
    simplify_m: float | None = None,
) -> folium.Map:
    """The meeting map of a project and its results, as one offline folium map.

    Parameters
    ----------
    project : Project
        The loaded project.
    results : RunResult, optional
        A run (:func:`renewgeo.run_analyses`): its output layers are drawn with their
        presentations (the input layers as their kind or an analysis that ran says,
        the views analyses add as extra layers, hidden at first, and every result
        layer), and ``tables["targets"]`` gives the key figures in the title panel.
        Without it, the project's layers as their kinds are presented. A mapping
        ``{"layers": {...}, "tables": {...}}`` adds layers to the project's; those of
        no known kind are drawn plainly under their name.
    lang : {"zh", "en", "zh+en"}, optional
        Language of titles, legends and tooltips (default ``[map] lang``).
    basemap : {"none", "osm", "cartodb", "tianditu", "amap"}, optional
        ``none`` needs no network; ``amap`` shifts every overlay to GCJ-02 (default
        ``[map] basemap``).
    tianditu_token : str, optional
        The Tianditu key for ``basemap="tianditu"``; default: the environment variable
        named by ``[map] tianditu_token_env`` (``TIANDITU_TOKEN``).
    title : str, optional
        Map title (default: the project's title).
    simplify_m : float, optional
        Topology-preserving simplification tolerance in metres before drawing
        (default ``[map] simplify_m``).

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`; in Jupyter it displays inline.

    Raises
    ------
    ProjectFileError
        For a ``lang``, ``basemap`` or ``simplify_m`` that ``[map]`` would refuse (the
        message names it and the allowed values).
    RenewgeoError
        For ``basemap="tianditu"`` without a key.

    Examples
    --------
    >>> import renewgeo as rg
    >>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    >>> m = meeting_map(p, rg.run_analyses(p), lang="en")
    >>> "Buildings (26)" in m.get_root().render()
    True
    """
    opts = _options(project, lang, basemap, tianditu_token, simplify_m)
    m, bounds = _new_map(project, opts)
    tiles = _basemap(m, opts)
    m.add_child(_Script(_fit_js(m.get_name(), bounds)))
    items = _layers_to_draw(project, results)
    sources = _Sources(items, opts)
    drawn = [_layer_to_folium(item, opts, sources) for item in items]
    for script in sources.scripts():  # every geometry once, before the layers that draw it
        m.add_child(script)
    for d in drawn:
        if d.group is not None:
            d.group.add_to(m)
    root = cast(Figure, m.get_root())
    head = _title_html(project, _table(results, "targets"), _table(results, "life_circles"), opts.lang, title,
                       _table(results, "scorecard_stages"), _table(results, "scorecard"))
    root.html.add_child(Element(f"<div class='renewgeo-side'>{head}"
                                f"{_legend_html(drawn, opts.lang)}</div>"), name="renewgeo_panels")
    m.add_child(_Script(_controls_js(m.get_name(), opts.lang)))
    m.add_child(_Script(_registry_js(m.get_name(), drawn, tiles, opts.lang)))
    return m


def project_map(project: Project, *, layers: Mapping[str, gpd.GeoDataFrame] | None = None, **options: Any) -> folium.Map:
    """Deprecated: use ``meeting_map(project, run)`` with a run of :func:`renewgeo.run_analyses`."""
    import warnings

    warnings.warn("project_map is deprecated; use renewgeo.webmap.meeting_map(project, renewgeo.run_analyses(project))",
                  FutureWarning, stacklevel=2)
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
    found = re.findall(
        r"""<(?:script|img|iframe)[^>]*\ssrc\s*=\s*["'](https?://[^"']+)|<link[^>]*\shref\s*=\s*["'](https?://[^"']+)|url\(\s*["']?(https?://[^)"']+)""",
        page,
    )
    return [a or b or c for a, b, c in found]
