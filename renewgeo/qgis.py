"""Hand-off to QGIS: one GeoPackage with every layer and its styles inside.

:func:`write_gpkg` writes the layers (GeoPackage 1.3, spatial index, the project's metric
CRS kept, datetimes in UTC, layer and field names QGIS stores without trouble) and a
``layer_styles`` table in the schema QGIS itself creates. Each layer gets a QML style per
:class:`~renewgeo.styles.Presentation` it has: the default one (``useAsDefault=1``, what
QGIS applies when the layer is opened) and the views analyses add (``useAsDefault=0``,
e.g. the buildings coloured by walking distance), which a QGIS user picks by name under
Layer Properties > Style > Load Style > From database. The QML is generated from the
:class:`~renewgeo.styles.Style` through :func:`renewgeo.styles.classes`, the same classes
the meeting map draws. QGIS applies a style from that table when ``f_table_name`` is
the exact layer name and ``f_geometry_column`` the real geometry column, which is what
is written here.

Writing needs no QGIS; the tests open the result in real QGIS (Debian ``python3-qgis``).
"""

from __future__ import annotations

import html
import logging
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import geopandas as gpd
import pandas as pd

from renewgeo import io as rio
from renewgeo._errors import RenewgeoError, WriteError
from renewgeo.styles import (
    KIND_PRESENTATIONS,
    MISSING,
    Lang,
    Presentation,
    Style,
    StyleClass,
    assign,
    class_label,
    classes,
    fallback,
    geometry_of,
    label_columns,
    marker_shape,
    text,
)

__all__ = ["graduated_expression", "label_expression", "qgis_number", "qgis_texts", "safe_names", "style_qml", "write_gpkg"]

log = logging.getLogger(__name__)

Presentations = Mapping[str, Sequence[tuple[str, Presentation]]]

_RESERVED = {"fid", "geom"}  # fields: the GeoPackage's key and the geometry column GDAL writes
_RESERVED_LAYERS = {"layer_styles"}  # the styles table written beside the layers
_RESERVED_PREFIXES = ("gpkg_", "sqlite_")  # table names the GeoPackage and SQLite keep for themselves
MM_PER_PX = 0.26  # a screen pixel (96 dpi) in QGIS millimetres
OPEN_END = 1e9  # the upper bound QGIS gets for a graduated class without one (inf)
NO_VALUE = -OPEN_END  # what a graduated style's expression gives a feature without a value, drawn in the grey "no value" class
_SYMBOL = {"polygon": ("fill", "SimpleFill"), "line": ("line", "SimpleLine"), "point": ("marker", "SimpleMarker")}


def _rgba(hex_colour: str, alpha: float = 1.0) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{round(255 * min(max(alpha, 0.0), 1.0))}"


_XML_WHITESPACE = {ord("\t"): "&#9;", ord("\n"): "&#10;", ord("\r"): "&#13;"}  # kept as they are, not read back as spaces


def _x(value: object) -> str:
    r"""Text for an XML attribute: every name and value from the data goes through here.

    Markup characters are escaped, characters XML 1.0 cannot hold (control characters,
    lone surrogates, U+FFFE/U+FFFF) become U+FFFD, and tab, LF and CR character references.

    Examples
    --------
    >>> _x('a<"b">\x01\n') == "a&lt;&quot;b&quot;&gt;\ufffd&#10;"
    True
    """
    return html.escape(rio.xml_safe(str(value)), quote=True).translate(_XML_WHITESPACE)


def _props(**kv: Any) -> str:
    return "".join(f'<Option type="QString" name="{k}" value="{_x(v)}"/>' for k, v in kv.items())


def _mm(px: float) -> str:
    return f"{px * MM_PER_PX:.3g}"


def _layer_props(st: Style, colour: str, shape: str) -> str:
    """The simple symbol layer of one class: fill, line or marker as the style says."""
    outline = st.outline or colour
    if st.geometry == "polygon":
        return _props(color=_rgba(colour, st.fill_opacity), style="solid" if st.fill_opacity > 0 else "no",
                      outline_color=_rgba(outline, st.opacity), outline_width=_mm(st.width), outline_width_unit="MM",
                      outline_style="dash" if st.dash else "solid", joinstyle="round")
    if st.geometry == "line":
        dash = ";".join(_mm(float(v)) for v in (st.dash or "").split())
        return _props(line_color=_rgba(colour, st.opacity), line_width=_mm(st.width), line_width_unit="MM", line_style="solid",
                      use_custom_dash="1" if dash else "0", customdash=dash or "5;2", customdash_unit="MM",
                      capstyle="round" if not dash else "flat", joinstyle="round")
    return _props(color=_rgba(colour, st.fill_opacity or 1.0), outline_color=_rgba(outline, st.opacity),
                  outline_width=_mm(min(st.width, 1.0)), outline_width_unit="MM", size=_mm(2 * st.size), size_unit="MM",
                  name=shape)


def _symbol(st: Style, colour: str, name: str, shape: str = "circle") -> str:
    kind, cls = _SYMBOL[st.geometry]
    return (f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0"><Option type="Map">{_layer_props(st, colour, shape)}</Option>'
            "</layer></symbol>")


def qgis_number(x: float) -> str:
    """A Real value as QGIS writes it as text (Qt's ``QVariant::toString``), which is what a category is compared with.

    The shortest digits that read back as the same number (as Python's ``repr``), in
    decimal form unless the exponent form is shorter, the exponent of at least two
    digits: ``5.0`` is ``5``, ``1e6`` is ``1e+06``, ``1e-5`` is ``1e-05``.

    Examples
    --------
    >>> [qgis_number(v) for v in (5.0, 7.5, 2024.0, 100000.0, 1e6, 0.0001, 1e-5, -0.0, 0.1 + 0.2)]
    ['5', '7.5', '2024', '100000', '1e+06', '0.0001', '1e-05', '0', '0.30000000000000004']
    """
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else "inf" if x > 0 else "-inf"
    sign = "-" if x < 0 else ""
    t = Decimal(repr(abs(float(x)))).as_tuple()  # the shortest digits that read back as x (no leading zeros)
    decpt = len(t.digits) + int(t.exponent)  # x is 0.DIGITS times 10**decpt
    digits = "".join(map(str, t.digits)).rstrip("0")
    n = len(digits)
    cutoff = 6  # Qt: exponent form when it is shorter (the count of its characters, as qlocale.cpp makes it)
    if decpt > 0:
        cutoff = n + 4 + (1 if decpt <= 10 else 2 if decpt > 100 else 1) + (1 if n > decpt else 0)
    if decpt != n and (decpt <= -4 or decpt > cutoff):
        exp = decpt - 1
        mantissa = digits[0] + (f".{digits[1:]}" if n > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    if decpt >= n:
        return f"{sign}{digits}{'0' * (decpt - n)}"
    return f"{sign}{digits[:decpt]}.{digits[decpt:]}"


def qgis_texts(values: pd.Series) -> list[str | None]:
    """Each value as QGIS reads it from the GeoPackage and compares it with a category's value (None: NULL).

    The GeoPackage keeps the column's type: a float column is Real (:func:`qgis_number`),
    an integer column Integer64 (``2024``), a boolean column Boolean (``true``/``false``);
    any other column is text, each value written as ``str(value)``.

    Examples
    --------
    >>> import pandas as pd
    >>> qgis_texts(pd.Series([5.0, 1e6, None])), qgis_texts(pd.Series([True, False])), qgis_texts(pd.Series([5.0, "a"], dtype=object))
    (['5', '1e+06', None], ['true', 'false'], ['5.0', 'a'])
    """
    dt = values.dtype
    if isinstance(dt, pd.CategoricalDtype) or not (pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt)):
        return [None if _null(v) else str(v) for v in values]
    if pd.api.types.is_bool_dtype(dt):
        return [None if _null(v) else ("true" if v else "false") for v in values]
    if pd.api.types.is_integer_dtype(dt):
        return [None if _null(v) else str(int(v)) for v in values]
    return [None if _null(v) else qgis_number(float(v)) for v in values]


def _null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _category(i: int, values: list[str], label: str) -> str:
    """One category: its value (``""``: QGIS's category for NULL and every value no other takes), or the values it merges."""
    if len(values) == 1:
        return f'<category render="true" symbol="{i}" value="{_x(values[0])}" label="{_x(label)}"/>'
    vals = "".join(f'<val value="{_x(v)}"/>' for v in values)
    return f'<category render="true" symbol="{i}" label="{_x(label)}">{vals}</category>'


def _categorized(st: Style, column: str, values: pd.Series, lang: Lang) -> str:
    """A categorised renderer whose category values are the texts QGIS compares: every feature finds its class."""
    classes_, idx = assign(st, values, len(values))
    texts: list[dict[str, None]] = [{} for _ in classes_]  # a class's texts, in order (5 and 5.0 in an object column: "5", "5.0")
    for i, t in zip(idx.tolist(), qgis_texts(values), strict=True):
        if t is not None:
            texts[i][t] = None
    cats, syms = [], []
    for i, c in enumerate(classes_):
        cats.append(_category(i, [""] if c.value is None else list(texts[i]) or [str(c.value)], class_label(c, st, lang)))
        syms.append(_symbol(st, c.colour, str(i), marker_shape(st, i, c.value)))
    return (f'<renderer-v2 type="categorizedSymbol" attr="{_x(column)}" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<categories>{''.join(cats)}</categories><symbols>{''.join(syms)}</symbols></renderer-v2>")


def graduated_expression(column: str, last_upper: float) -> str:
    """The value a graduated style classifies: the column, or :data:`NO_VALUE` where it is NULL (or above the last class).

    QGIS draws a feature whose value falls in no range not at all, so features without a
    value (a building no walk reaches) vanished; renewgeo draws them grey, and so does this.

    Examples
    --------
    >>> graduated_expression("daily_dist_m", math.inf)
    'coalesce("daily_dist_m", -1000000000)'
    >>> graduated_expression("d", 900.0)
    'if("d" IS NULL OR "d" > 900.0, -1000000000, "d")'
    """
    col = _quoted(column)
    if math.isinf(last_upper):
        return f"coalesce({col}, {NO_VALUE:.0f})"
    return f"if({col} IS NULL OR {col} > {float(last_upper)!r}, {NO_VALUE:.0f}, {col})"


def _graduated(st: Style, column: str, classes_: list[StyleClass], lang: Lang) -> str:
    """A graduated renderer, its last range the grey "no value" class that NULL values fall in (:func:`graduated_expression`)."""
    ranges, syms = [], []
    bounded = [k for k in classes_ if k.value is not None]
    missing = StyleClass(None, MISSING, "no value")
    for i, c in enumerate([*bounded, missing]):
        if c.value is None:
            lower = upper = NO_VALUE
        else:
            lower, upper = c.lower or 0.0, OPEN_END if math.isinf(c.value) else float(c.value)
        ranges.append(f'<range render="true" symbol="{i}" lower="{lower:.6f}" upper="{upper:.6f}" '
                      f'label="{_x(class_label(c, st, lang))}"/>')
        syms.append(_symbol(st, c.colour, str(i)))
    attr = graduated_expression(column, float(bounded[-1].value) if bounded else math.inf)
    return (f'<renderer-v2 type="graduatedSymbol" attr="{_x(attr)}" graduatedMethod="GraduatedColor" symbollevels="0" '
            f'enableorderby="0" forceraster="0"><ranges>{"".join(ranges)}</ranges><symbols>{"".join(syms)}</symbols></renderer-v2>')


def _single(st: Style) -> str:
    return (f'<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<symbols>{_symbol(st, st.colour, '0')}</symbols></renderer-v2>")


def _quoted(name: str) -> str:
    """A field name in a QGIS expression (``QgsExpression.quotedColumnRef``)."""
    return '"' + name.replace('"', '""') + '"'


def label_expression(columns: Sequence[str]) -> str:
    """The QGIS expression of a label read from ``columns``, first choice first; each empty one gives way to the next.

    Two columns whose both are wanted (``zh+en``) are joined on two lines, or shown once
    when they say the same.

    Examples
    --------
    >>> print(label_expression(["name_zh", "name"]))
    coalesce(nullif(trim("name_zh"), ''), nullif(trim("name"), ''))
    """
    return "coalesce(" + ", ".join(f"nullif(trim({_quoted(c)}), '')" for c in columns) + ")"


def _both_expression(zh: str, en: str) -> str:
    z, e = label_expression([zh, en]), label_expression([en, zh])
    return f"CASE WHEN {z} = {e} THEN {z} ELSE {z} || '\\n' || {e} END"


def _label_scales(st: Style) -> str:
    """Labels shown only from ``label_max_scale`` in (QGIS 3 reads ``scaleMax`` as the most zoomed-out scale shown)."""
    if st.label_max_scale is None:
        return ""
    return f' scaleVisibility="1" scaleMin="0" scaleMax="{st.label_max_scale:g}"'


def _labels(st: Style, columns: Sequence[str], lang: Lang) -> str:
    """The labels of a layer, in ``lang`` (:func:`renewgeo.styles.label_columns`); "" when it has none."""
    cols = label_columns(st, lang, columns)
    if not cols:
        return ""
    if len(cols) == 1:
        field, is_expr = cols[0], 0
    elif lang == "zh+en":
        field, is_expr = _both_expression(cols[0], cols[1]), 1
    else:
        field, is_expr = label_expression(cols), 1
    return (f'<labeling type="simple"><settings calloutType="simple"><text-style fieldName="{_x(field)}" fontSize="{st.label_size:g}" '
            f'fontFamily="Noto Sans CJK SC" textColor="40,40,40,255" isExpression="{is_expr}"/>'
            '<text-buffer bufferDraw="1" bufferSize="0.8" bufferColor="255,255,255,255"/>'
            f'<placement placement="1" priority="{min(10, round(st.label_size))}"/>'  # larger labels (zones) win a crowded spot
            f'<rendering obstacle="1" obstacleType="1" obstacleFactor="1"{_label_scales(st)}/></settings></labeling>')  # obstacle: boundaries


def style_qml(style: Style, gdf: gpd.GeoDataFrame, *, lang: Lang = "zh+en") -> str:
    """A QGIS style (QML) drawing ``gdf`` as ``style`` says, with the classes :func:`renewgeo.styles.classes` gives.

    The geometry drawn is the layer's own (a style for polygons on a point layer draws
    markers). A style whose column the layer lacks draws one colour. Categories hold the
    values as QGIS reads them from the GeoPackage (:func:`qgis_texts`), so every feature
    finds its class whatever the column's type. Class names and labels are in ``lang``
    (``"zh"``, ``"en"`` or ``"zh+en"``); labels read the Chinese or the other name as
    :func:`renewgeo.styles.label_columns` says, each standing in for the other when empty.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from renewgeo.styles import KIND_PRESENTATIONS
    >>> b = gpd.GeoDataFrame({"status": ["idle", "new"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4549)
    >>> qml = style_qml(KIND_PRESENTATIONS["buildings"].style, b)
    >>> 'type="categorizedSymbol" attr="status"' in qml, qml.count("<category ")
    (True, 2)
    """
    st = style if not len(gdf) else replace(style, geometry=geometry_of(gdf.geom_type))
    column = st.column if st.column is not None and st.column in gdf.columns else None
    if column is None:
        renderer = _single(replace(st, column=None))
    elif st.breaks:
        renderer = _graduated(st, column, classes(st, gdf[column]), lang)
    else:
        renderer = _categorized(st, column, gdf[column], lang)
    labels = _labels(st, [str(c) for c in gdf.columns], lang)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f'<qgis version="3.22.0" styleCategories="Symbology|Labeling" labelsEnabled="{1 if labels else 0}">{renderer}{labels}</qgis>')


def safe_names(layers: Mapping[str, gpd.GeoDataFrame]) -> tuple[dict[str, gpd.GeoDataFrame], list[str]]:
    """Layer and field names QGIS stores without trouble; the renames made, for the log.

    Layer names: letters and digits of any script (``用地`` stays ``用地``) and ``_``; a run
    of anything else (spaces, dots, dashes ...) becomes one ``_``. Names are unique
    regardless of case and never those the GeoPackage keeps for itself
    (``layer_styles``, ``gpkg_...``, ``sqlite_...``). Fields: not ``fid`` or ``geom``
    (the GeoPackage's key and geometry columns), unique regardless of case. Nothing is
    refused. Datetimes become UTC-aware.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"fid": [1]}, geometry=[shapely.Point(0, 0)], crs=4549)
    >>> safe, renames = safe_names({"用地": g, "分区 A": g, "a.b": g, "A_B": g})
    >>> list(safe)
    ['用地', '分区_A', 'a_b', 'A_B_2']
    >>> renames[:3]
    ["用地.'fid' -> 'fid_value'", "layer '分区 A' -> '分区_A'", "分区_A.'fid' -> 'fid_value'"]
    """
    out: dict[str, gpd.GeoDataFrame] = {}
    renames: list[str] = []
    taken: set[str] = set(_RESERVED_LAYERS)
    for name, gdf in layers.items():
        base = re.sub(r"\W+", "_", str(name)).strip("_") or "layer"
        if base.lower().startswith(_RESERVED_PREFIXES):
            base = f"layer_{base}"
        safe = _unique(base, taken)
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


def _ways(name: str, gdf: gpd.GeoDataFrame, kind: str, presentations: Presentations | None) -> list[tuple[str, Presentation]]:
    """A layer's presentations, default first: given, else its kind's, else a plain one."""
    given = list((presentations or {}).get(name, ()))
    if given:
        return given
    if kind in KIND_PRESENTATIONS:
        return [(kind, KIND_PRESENTATIONS[kind])]
    return [(name, fallback(name, geometry_of(gdf.geom_type)))]


def _write_styles(gpkg: Path, layers: Mapping[str, gpd.GeoDataFrame], ways: Mapping[str, list[tuple[str, Presentation]]],
                  lang: Lang) -> None:
    """The ``layer_styles`` table: every presentation of every layer, the first as the default."""
    con = sqlite3.connect(gpkg)
    try:
        con.execute(_STYLES_DDL)
        con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                    "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        rows = [
            (name, geom_cols.get(name, "geom"), style_name, style_qml(p.style, gdf, lang=lang), int(i == 0), text(p.label, lang))
            for name, gdf in layers.items() for i, (style_name, p) in enumerate(ways[name])
        ]
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
            "styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES ('', '', ?, ?, ?, ?, '', ?, ?, '', '')", rows)
        con.commit()
    finally:
        con.close()


def write_gpkg(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path, *, kinds: Mapping[str, str] | None = None,
               presentations: Presentations | None = None, styles: bool = True, lang: str = "zh+en") -> Path:
    """Write layers and their QGIS styles into one GeoPackage, atomically.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Layers by name (in the project's metric CRS; kept as they are).
    path : path-like
        The ``.gpkg`` file; an earlier one is replaced only when all is written.
    kinds : mapping, optional
        Layer kind by name (buildings, sites ...): a layer without presentations is
        styled as its kind (:data:`renewgeo.styles.KIND_PRESENTATIONS`); default the name.
    presentations : mapping, optional
        ``{layer: [(style name, Presentation), ...]}``, default first, as
        :meth:`renewgeo.analysis.RunResult.presentations` gives: the first becomes the
        layer's default style, the others alternative styles under their names. A
        layer of neither known presentation nor kind is drawn in one plain colour.
    styles : bool
        Write the ``layer_styles`` table.
    lang : {"zh+en", "zh", "en"}
        The language of class names, style descriptions and labels (``[map] lang``):
        ``zh`` labels zones with ``name_zh`` where present, ``en`` with ``name``,
        ``zh+en`` with both.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import renewgeo as rg, tempfile, pathlib
    >>> run = rg.run_analyses(rg.load_project(rg.datasets.get_path("shibei_relocation")))
    >>> path = write_gpkg(run.output_layers(), pathlib.Path(tempfile.mkdtemp()) / "r.gpkg", kinds=run.kinds(),
    ...                   presentations=run.presentations())
    >>> import sqlite3
    >>> sqlite3.connect(path).execute("SELECT styleName FROM layer_styles WHERE f_table_name = 'parcels'").fetchall()
    [('sites',)]
    """
    if lang not in get_args(Lang):
        raise RenewgeoError(f"lang = {lang!r} is not a language of the styles; use one of {list(get_args(Lang))}")
    chosen: Lang = lang  # type: ignore[assignment]
    safe, renames = safe_names(layers)
    if renames:
        log.warning("renamed for QGIS: %s", "; ".join(renames))
    ways = {new: _ways(orig, gdf, (kinds or {}).get(orig, orig), presentations)
            for (orig, gdf), new in zip(layers.items(), safe, strict=True)}
    dest = Path(path)
    current = None
    try:
        with rio.atomic_path(dest) as tmp:
            for current, gdf in safe.items():
                rio._write_one(gdf, tmp, layer=current, driver="GPKG")
            current = "layer_styles"
            if styles:
                _write_styles(tmp, safe, ways, chosen)
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing layer {current!r} failed ({exc}); the previous file, if any, is intact") from exc
    return dest
