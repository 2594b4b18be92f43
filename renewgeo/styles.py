"""How layers look: one description that the web map and QGIS both render.

A :class:`Presentation` gives a layer its bilingual name, tooltip fields, visibility and a
:class:`Style`: a single colour, colours by category, or colour classes by value. The
meeting map (:mod:`renewgeo.webmap`) and the GeoPackage's QML styles
(:mod:`renewgeo.qgis`) are both drawn from it through :func:`classes` and
:func:`colours`, so the two can never disagree.

Input layer kinds have their presentation here (:data:`KIND_PRESENTATIONS`). Result
layers are presented by the analysis that makes them (its registration in
:mod:`renewgeo.analysis`), never listed here by name.

>>> import pandas as pd
>>> from renewgeo.styles import KIND_PRESENTATIONS, classes
>>> st = KIND_PRESENTATIONS["buildings"].style
>>> [(c.value, c.colour) for c in classes(st, pd.Series(["idle", "renovated", None]))]
[('idle', '#9e9e9e'), ('renovated', '#33a02c'), (None, '#bdbdbd')]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "CJK_FONTS",
    "FIELD_LABELS",
    "KIND_PRESENTATIONS",
    "MARKER_SHAPES",
    "VALUE_LABELS",
    "Presentation",
    "Style",
    "StyleClass",
    "View",
    "assign",
    "class_label",
    "classes",
    "colours",
    "fallback",
    "label_columns",
    "marker_shape",
    "text",
    "value_label",
]

Geometry = Literal["polygon", "line", "point"]
Lang = Literal["zh", "en", "zh+en"]
MISSING = "#bdbdbd"

PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf", "#bcbd22", "#666666",
           "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99")
YEAR_PALETTE = ("#2166ac", "#67a9cf", "#d1e5f0", "#fddbc7", "#ef8a62", "#b2182b")
DISTANCE_BREAKS = ((300.0, "#1a9850"), (500.0, "#91cf60"), (800.0, "#fee08b"), (1000.0, "#fc8d59"), (math.inf, "#d73027"))
STATUS_COLOURS = {"operating": "#1f78b4", "idle": "#9e9e9e", "renovated": "#33a02c", "under_renovation": "#ff7f00",
                  "demolished": "#e31a1c", "new": "#6a3d9a"}
MARKER_SHAPES = ("circle", "square", "triangle", "diamond", "star", "hexagon", "pentagon", "cross_fill")
"""Point symbols of categorised point layers, by class (names QGIS's simple marker knows too)."""

AMENITY_FAMILIES: dict[str, tuple[tuple[str, str], str, tuple[str, ...]]] = {
    # family: (Chinese, English), colour, its categories (each gets the family's colour and a shape of its own)
    "daily": (("日常购物与餐饮", "Daily shopping & food"), "#d7301f",
              ("convenience_store", "supermarket", "market", "shop", "restaurant", "cafe", "bookstore", "post")),
    "education": (("教育与托育", "Education & childcare"), "#2166ac",
                  ("kindergarten", "childcare", "primary_school", "secondary_school", "school")),
    "health": (("医疗卫生", "Health"), "#00897b", ("clinic", "hospital", "pharmacy")),
    "elderly": (("养老服务", "Elderly care"), "#7b3294", ("elderly_care",)),
    "transport": (("交通", "Transport"), "#f57c00", ("bus_stop", "metro_station", "parking")),
    "green": (("绿地与体育", "Green & sports"), "#1b7837", ("park", "sports", "gym")),
    "culture": (("文化与社区服务", "Culture & community"), "#8c510a", ("community_centre", "cultural", "library", "toilet")),
    "work": (("办公", "Work"), "#4d4d4d", ("office",)),
}
"""Amenity categories grouped into planning families: one colour per family, one symbol per category."""
OTHER_FAMILY = (("其他", "Other"), "#9e9e9e")
"""The family of a category that none lists (drawn grey, with a symbol of its own)."""


def _family_maps() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    colour, shape, group = {}, {}, {}
    for label, col, cats in AMENITY_FAMILIES.values():
        for i, c in enumerate(cats):
            colour[c], shape[c], group[c] = col, MARKER_SHAPES[i % len(MARKER_SHAPES)], label
    return colour, shape, group


AMENITY_COLOURS, AMENITY_SHAPES, AMENITY_GROUPS = _family_maps()

GROUPS: dict[str, tuple[str, str]] = {
    "plan": ("规划与用地", "Plan & land"),
    "buildings": ("建筑", "Buildings"),
    "green": ("绿地与慢行", "Green & walking routes"),
    "services": ("公共服务", "Services"),
    "walk": ("步行可达性", "Walkability"),
    "land": ("土地释放", "Land release"),
    "terrain": ("地形与环境", "Terrain & environment"),
    "results": ("分析结果", "Results"),
}
"""The headings layers are grouped under in the map's layer list and legend (``Presentation.group``)."""


@dataclass(frozen=True)
class Style:
    """How the features of a layer are coloured and drawn.

    Attributes
    ----------
    geometry : {"polygon", "line", "point"}
    colour : str
        The colour of a single-colour layer.
    column : str, optional
        Classify by this column: by ``categories`` / ``palette`` (values) or ``breaks``
        (numbers). A layer without the column is drawn in ``colour``.
    categories : mapping of str to str
        Fixed colours by value (compared as text); listed in this order.
    palette : tuple of str
        Colours for the other values, in sorted order (cycled).
    breaks : tuple of (float, str)
        Graduated classes: upper bound (inclusive) and colour, ascending.
    unit : str
        Unit of graduated values, for legend labels.
    outline, width, dash, fill_opacity, opacity, size
        Outline colour of polygons and markers (None: each class's own colour),
        line/outline width (px), dash pattern (``"6 4"``, px), fill opacity (0 draws
        an outline only), stroke opacity, marker radius (px).
    label_column : str, optional
        Features labelled with this column in QGIS (the name in the data's own or
        English language).
    label_column_zh : str, optional
        The column of the Chinese name: labels follow the chosen language
        (:func:`label_columns`).
    label_max_scale : float, optional
        Labels only at this scale or closer (the scale's denominator: ``2500`` shows
        them from 1:2,500 in); None: at every scale.
    shapes : mapping of str to str
        Point symbol by value (one of :data:`MARKER_SHAPES`); other values take the
        shapes in turn.
    class_groups : mapping of str to (str, str)
        The legend heading each value is listed under (amenity families); values it
        does not list go under ``other_group``.
    """

    geometry: Geometry
    colour: str = "#666666"
    column: str | None = None
    categories: Mapping[str, str] = field(default_factory=dict)
    palette: tuple[str, ...] = ()
    breaks: tuple[tuple[float, str], ...] = ()
    unit: str = ""
    outline: str | None = "#333333"
    width: float = 1.0
    dash: str | None = None
    fill_opacity: float = 0.85
    opacity: float = 1.0
    size: float = 4.0
    label_column: str | None = None
    label_column_zh: str | None = None
    label_size: float = 8.0
    label_max_scale: float | None = None
    shapes: Mapping[str, str] = field(default_factory=dict)
    class_groups: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    other_group: tuple[str, str] | None = None


@dataclass(frozen=True)
class Presentation:
    """A layer's name, style, tooltip and place on the map.

    Attributes
    ----------
    label : (str, str)
        Chinese and English name.
    style : Style
    tooltip : tuple of str
        Fields shown on hover (those the layer has). Empty (``()``): the layer is drawn
        without tooltips and its features of one colour are merged into one
        multi-geometry, which keeps large layers (network nodes and edges) light.
    show : bool, optional
        Visible when the map opens; by default a layer is and a view is not.
    order : int
        Drawing order: lower is drawn first (underneath).
    group : str
        The heading it is listed under on the map (a key of :data:`GROUPS`).
    """

    label: tuple[str, str]
    style: Style
    tooltip: tuple[str, ...] = ("id", "name")
    show: bool | None = None
    order: int = 50
    group: str = "results"


@dataclass(frozen=True)
class View:
    """A second way to draw an input kind's layer with the columns an analysis added.

    On the map it is its own toggleable layer; in QGIS an alternative style of the layer.
    """

    kind: str
    presentation: Presentation


@dataclass(frozen=True)
class StyleClass:
    """One class of a style: the value (or upper bound), its colour and its label key."""

    value: Any
    colour: str
    label: str
    count: int = 0
    lower: float | None = None


def _key(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, np.generic):
        return _key(v.item())
    return str(v)


def classes(style: Style, values: pd.Series | None) -> list[StyleClass]:
    """The classes of ``style`` present in ``values``, in legend order.

    Categorised styles give one class per value present (fixed categories first, in
    their order, then the others sorted, then a grey class for missing values);
    graduated styles give every class of ``breaks`` with its count; a single-colour
    style gives one class.
    """
    if style.column is None or values is None:
        return [StyleClass(None, style.colour, "", 0 if values is None else len(values))]
    if style.breaks:
        return _graduated(style, values)
    keys = [_key(v) for v in values]
    counts: dict[str | None, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    fixed = [k for k in style.categories if k in counts]
    rest = sorted((k for k in counts if k is not None and k not in style.categories), key=_sort_key)
    out = [StyleClass(k, style.categories[k], k, counts[k]) for k in fixed]
    pal = style.palette or (style.colour,)
    out += [StyleClass(k, pal[i % len(pal)], k, counts[k]) for i, k in enumerate(rest)]
    if None in counts:
        out.append(StyleClass(None, MISSING, "unknown", counts[None]))
    return out


def _sort_key(k: str) -> tuple[int, float, str]:
    try:
        return (0, float(k), k)
    except ValueError:
        return (1, 0.0, k)


def _graduated(style: Style, values: pd.Series) -> list[StyleClass]:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out = []
    lo = -math.inf
    for upper, colour in style.breaks:
        n = int(((v > lo) & (v <= upper)).sum()) if lo > -math.inf else int((v <= upper).sum())
        lower = 0.0 if lo == -math.inf else lo
        label = f"{lower:g}–{upper:g} {style.unit}".strip() if upper != math.inf else f"> {lower:g} {style.unit}".strip()
        out.append(StyleClass(upper, colour, label, n, lower))
        lo = upper
    n_missing = int(np.isnan(v).sum())
    if n_missing:
        out.append(StyleClass(None, MISSING, "no value", n_missing))
    return out


def assign(style: Style, values: pd.Series | None, n: int) -> tuple[list[StyleClass], np.ndarray]:
    """The classes of ``style`` (as :func:`classes`) and the class of each of ``n`` features.

    ``values`` is the style's column (None: a single class). Graduated values above
    the last bound fall in the missing-value class, as NaN does.

    >>> import pandas as pd
    >>> st = Style("point", column="d", breaks=((300.0, "#1a9850"), (math.inf, "#d73027")))
    >>> cls, idx = assign(st, pd.Series([100.0, 900.0, None]), 3)
    >>> [c.label for c in cls], idx.tolist()
    (['0–300', '> 300', 'no value'], [0, 1, 2])
    """
    cls = classes(style, values)
    if style.column is None or values is None:
        return cls, np.zeros(n, dtype=np.int64)
    if style.breaks:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        idx = np.searchsorted(np.array([b for b, _ in style.breaks]), v, side="left")
        off = np.isnan(v) | (idx >= len(style.breaks))
        if off.any() and cls[-1].value is not None:
            cls.append(StyleClass(None, MISSING, "no value", int(off.sum())))
        return cls, np.where(off, len(cls) - 1, idx).astype(np.int64)
    lookup = {c.value: i for i, c in enumerate(cls)}
    return cls, np.array([lookup[_key(v)] for v in values], dtype=np.int64)


def colours(style: Style, values: pd.Series | None, n: int) -> np.ndarray:
    """The colour of each of ``n`` features (``values`` is the style's column, or None)."""
    cls, idx = assign(style, values, n)
    return np.array([c.colour for c in cls], dtype=object)[idx]


def class_label(c: StyleClass, style: Style, lang: Lang) -> str:
    """The legend label of a class in the map's language (a single class has none)."""
    if style.column is None:
        return ""
    label = value_label(c.label, lang)
    return f"{label} {style.unit}" if style.unit and not style.breaks and c.value is not None else label


def label_columns(style: Style, lang: Lang, columns: Collection[str]) -> list[str]:
    """The columns a layer's labels read in ``lang``, first choice first, those the layer has.

    ``zh`` reads the Chinese name and the other where it is empty; ``en`` the other way
    round; ``zh+en`` both, Chinese first. A style without a Chinese column reads its
    label column in every language.

    >>> st = Style("polygon", label_column="name", label_column_zh="name_zh")
    >>> label_columns(st, "zh", ["name", "name_zh"]), label_columns(st, "en", ["name", "name_zh"]), label_columns(st, "zh", ["name"])
    (['name_zh', 'name'], ['name', 'name_zh'], ['name'])
    """
    order = (style.label_column, style.label_column_zh) if lang == "en" else (style.label_column_zh, style.label_column)
    return [c for c in dict.fromkeys(order) if c is not None and c in columns]


def marker_shape(style: Style, i: int, value: Any = None) -> str:
    """The point symbol of class ``i`` (of category ``value``): shapes by category, circles otherwise."""
    categorised = style.column is not None and not style.breaks
    if not categorised:
        return "circle"
    return style.shapes.get(str(value), MARKER_SHAPES[i % len(MARKER_SHAPES)]) if value is not None else MARKER_SHAPES[i % len(MARKER_SHAPES)]


def class_group(style: Style, c: StyleClass) -> tuple[str, str] | None:
    """The legend heading a class is listed under (None: the style has no groups)."""
    if not style.class_groups:
        return None
    return style.class_groups.get(str(c.value), style.other_group or OTHER_FAMILY[0])


def geometry_of(geom_types: pd.Series) -> Geometry:
    """The kind of geometry most features of a layer have (``gdf.geom_type``)."""
    t = geom_types.dropna().str.replace("Multi", "", regex=False)
    top = t.mode().iloc[0] if len(t) else "Polygon"
    return "point" if top == "Point" else "line" if top in ("LineString", "LinearRing") else "polygon"


def fallback(name: str, geometry: Geometry) -> Presentation:
    """How a layer no analysis or kind presents is drawn: plainly, under its own name."""
    return Presentation((name, name), Style(geometry, colour="#666666", fill_opacity=0.3), order=50)


# ------------------------------------------------------------------------ words
VALUE_LABELS: dict[str, tuple[str, str]] = {
    "operating": ("在营", "operating"),
    "idle": ("闲置", "idle"),
    "renovated": ("已改造", "renovated"),
    "under_renovation": ("改造中", "under renovation"),
    "demolished": ("已拆除", "demolished"),
    "new": ("新建", "new"),
    "unknown": ("未知", "unknown"),
    "no value": ("无数据", "no value"),
    "road": ("道路红线", "road red lines"),
    "river": ("河道绿线", "river setback"),
    "green_corridor": ("绿廊", "green corridor"),
    "protected_building": ("保护建筑", "protected buildings"),
    "retained_building": ("保留建筑", "retained buildings"),
    "slope": ("陡坡", "steep slopes"),
    "setback": ("退线", "setbacks"),
    "other": ("其他", "other"),
    # amenity categories (schemas.AMENITY_CATEGORIES)
    "bookstore": ("书店", "bookstore"),
    "bus_stop": ("公交站", "bus stop"),
    "cafe": ("咖啡馆", "cafe"),
    "childcare": ("托育", "childcare"),
    "clinic": ("诊所", "clinic"),
    "community_centre": ("社区中心", "community centre"),
    "convenience_store": ("便利店", "convenience store"),
    "cultural": ("文化设施", "cultural"),
    "elderly_care": ("养老服务", "elderly care"),
    "gym": ("健身房", "gym"),
    "hospital": ("医院", "hospital"),
    "kindergarten": ("幼儿园", "kindergarten"),
    "library": ("图书馆", "library"),
    "market": ("菜市场", "market"),
    "metro_station": ("地铁站", "metro station"),
    "office": ("办公", "office"),
    "park": ("公园", "park"),
    "parking": ("停车场", "parking"),
    "pharmacy": ("药店", "pharmacy"),
    "post": ("邮政", "post"),
    "primary_school": ("小学", "primary school"),
    "restaurant": ("餐饮", "restaurant"),
    "school": ("学校", "school"),
    "secondary_school": ("中学", "secondary school"),
    "shop": ("商店", "shop"),
    "sports": ("体育设施", "sports"),
    "supermarket": ("超市", "supermarket"),
    "toilet": ("公厕", "toilet"),
    # life circles (GB 50180-2018)
    "5min": ("5分钟生活圈", "5-minute circle"),
    "10min": ("10分钟生活圈", "10-minute circle"),
    "15min": ("15分钟生活圈", "15-minute circle"),
    # the targets ledger
    "met": ("达标", "met"),
    "short": ("未达标", "short"),
    "over": ("超出", "over"),
    # units
    "count": ("个", "count"),
    "spaces": ("个车位", "spaces"),
    "places": ("个托位", "places"),
    "pct": ("%", "%"),
    "km": ("公里", "km"),
    "m": ("米", "m"),
    "ha": ("公顷", "ha"),
    "mu": ("亩", "mu"),
    "m2": ("平方米", "m²"),
    "km2": ("平方公里", "km²"),
    # basemaps
    "osm": ("OpenStreetMap 底图", "OpenStreetMap"),
    "cartodb": ("CARTO 浅色底图", "CARTO light"),
    "amap": ("高德地图", "AMap"),
    "tianditu": ("天地图", "Tianditu"),
    "Tianditu": ("天地图", "Tianditu"),
    "Tianditu labels": ("天地图注记", "Tianditu labels"),
}
"""Translations of category values shown in legends."""

FIELD_LABELS: dict[str, tuple[str, str]] = {
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
    "constraint_type": ("限制类型", "constraint"),
    "land_use": ("用地性质", "land use"),
    "length_m": ("长度 (m)", "length (m)"),
    "area_ha": ("面积 (公顷)", "area (ha)"),
    "area_mu": ("面积 (亩)", "area (mu)"),
}
"""Translations of field names shown in tooltips; analyses add theirs with :func:`add_field_labels`."""


def add_field_labels(labels: Mapping[str, tuple[str, str]]) -> None:
    """Register tooltip names of the fields an analysis adds (Chinese, English)."""
    for k, v in labels.items():
        FIELD_LABELS.setdefault(k, v)


def text(pair: tuple[str, str], lang: Lang) -> str:
    """One of a (Chinese, English) pair, or both."""
    zh, en = pair
    return zh if lang == "zh" else en if lang == "en" else (f"{zh} {en}" if zh != en else en)


def value_label(value: str, lang: Lang) -> str:
    """A category value in the map's language (values without a translation as they are, ``_`` as spaces)."""
    plain = value.replace("_", " ")
    return text(VALUE_LABELS.get(value, (plain, plain)), lang)


def field_label(name: str, lang: Lang) -> str:
    """A field name in the map's language."""
    zh, en = FIELD_LABELS.get(name, (name, name.replace("_", " ")))
    return zh if lang == "zh" else en if lang == "en" else f"{zh} / {en}"


# ---------------------------------------------------------------- input layer kinds
BUILDING_LABELS_MAX_SCALE = 2500.0
"""Building names are labelled in QGIS from 1:2,500 in: a whole district's names at once would bury the map."""


def _line(colour: str, width: float, dash: str | None = None) -> Style:
    return Style("line", colour=colour, width=width, dash=dash, opacity=0.9)


KIND_PRESENTATIONS: dict[str, Presentation] = {
    "zones": Presentation(("功能分区", "Zones"), Style("polygon", colour="#ffffff", outline="#4d4d4d", width=1.5, dash="6 4",
                                                    fill_opacity=0.0, label_column="name", label_column_zh="name_zh",
                                                    label_size=10),
                          tooltip=("name", "name_zh"), order=10, group="plan"),
    "sites": Presentation(("用地地块", "Land parcels"), Style("polygon", colour="#ffffff", column="release_year", palette=YEAR_PALETTE,
                                                        fill_opacity=0.55, label_column="id", label_size=7),
                          tooltip=("id", "name", "land_use", "release_year"), order=12, group="plan"),
    "constraints": Presentation(("限制要素", "Constraints"), Style("polygon", colour="#fb9a99", outline="#e31a1c", fill_opacity=0.45),
                                tooltip=("id", "constraint_type"), order=30, group="plan"),
    "outdoor_spaces": Presentation(("室外空间", "Outdoor spaces"), Style("polygon", colour="#b8e186", outline="#4daf4a", width=0.5,
                                                                    fill_opacity=0.55), tooltip=("name", "space_type"), order=32,
                                       group="green"),
    "paths": Presentation(("道路与步道", "Streets & paths"), _line("#8c8c8c", 2), tooltip=("name", "name_zh"), order=40,
                          group="green"),
    "landscape_corridor": Presentation(("景观廊道", "Landscape corridor"), _line("#1a9850", 5, "10 6"), tooltip=("name", "name_zh"),
                                       order=41, group="green"),
    "trails": Presentation(("健身步道", "Trails"), _line("#8c510a", 3, "2 6"), tooltip=("name", "name_zh"), order=42, group="green"),
    "pedestrian_axis": Presentation(("南北步行轴", "Pedestrian axis"), _line("#d7301f", 6), tooltip=("name", "name_zh"), order=43,
                                    group="green"),
    "buildings": Presentation(("建筑", "Buildings"), Style("polygon", colour=MISSING, column="status", categories=STATUS_COLOURS,
                                                       width=0.6, label_column="name", label_column_zh="name_zh", label_size=7,
                                                       label_max_scale=BUILDING_LABELS_MAX_SCALE),
                              tooltip=("id", "name", "status", "treatment", "use_after", "floors", "gfa_m2", "gfa_source"), order=60,
                              group="buildings"),
    "amenities": Presentation(("公共服务设施", "Amenities"),
                              Style("point", colour=OTHER_FAMILY[1], column="category", categories=AMENITY_COLOURS, palette=(OTHER_FAMILY[1],),
                                    size=4.0, shapes=AMENITY_SHAPES, class_groups=AMENITY_GROUPS, other_group=OTHER_FAMILY[0]),
                              tooltip=("name", "category", "capacity"), order=70, group="services"),
}
"""The default presentation of each input layer kind."""


def distance_style(geometry: Geometry, column: str, **kw: Any) -> Style:
    """A style of walking distances in ``column``: the classes of :data:`DISTANCE_BREAKS`, in metres."""
    return Style(geometry, column=column, breaks=DISTANCE_BREAKS, unit="m", **kw)


_WHOLE_UNITS = ("count", "spaces", "places")


def display_amount(v: float, target: float, unit: str) -> str:
    """An amount at the precision its target is stated to (steps of a power of ten within 0.1 % of the target), for maps and charts.

    >>> display_amount(79999.35, 80000, "m2"), display_amount(0.99999, 1.0, "km"), display_amount(25.0, 26, "count")
    ('80,000', '1.000', '25')
    """
    if unit in _WHOLE_UNITS or not target:
        return f"{v:,.0f}"
    step = 10.0 ** math.floor(math.log10(abs(float(target)) / 1000))
    decimals = max(0, -int(math.log10(step)))
    return f"{round(v / step) * step:,.{decimals}f}"


CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
             "WenQuanYi Micro Hei", "SimHei")
"""Fonts with Chinese glyphs that charts use, the first matplotlib finds."""


def chart_language(lang: Lang) -> tuple[Lang, dict[str, Any]]:
    """The language a matplotlib chart can be drawn in here, and the font settings for it.

    No font of :data:`CJK_FONTS` installed: English, with a log line (install fonts-noto-cjk).
    """
    if lang == "en":
        return lang, {}
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    font = next((f for f in CJK_FONTS if f in have), None)
    if font is None:
        logging.getLogger(__name__).warning("no font with Chinese glyphs found for the charts (install fonts-noto-cjk); "
                                            "drawing them in English")
        return "en", {}
    return lang, {"font.family": [font, "DejaVu Sans"]}
