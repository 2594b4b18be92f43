"""Reading and writing layers: files, OSM PBF extracts and PostGIS, atomically.

Readers
-------
:func:`read_layer` reads GeoPackage, GeoJSON, Shapefile, FlatGeobuf (through pyogrio),
GeoParquet and OSM ``.pbf`` (buildings, amenities or walkable paths, through GDAL's
OSM driver). :func:`read_postgis` reads a PostGIS table or query.

Writers
-------
Every write is atomic: the data goes to a temporary file in the destination folder,
which replaces the destination only once it is complete. A failed write leaves any
earlier file exactly as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from renewgeo._errors import DependencyError, ReadError, WriteError

__all__ = [
    "OSM_WHAT",
    "atomic_path",
    "info",
    "osm_categories",
    "read_layer",
    "read_osm",
    "read_postgis",
    "write_layer",
    "write_layers",
    "write_postgis",
    "write_table",
    "write_workbook",
]

log = logging.getLogger(__name__)

OSM_WHAT = ("buildings", "amenities", "paths", "landuse")
_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".fgb": "FlatGeobuf", ".shp": "ESRI Shapefile"}
_PARQUET = (".parquet", ".geoparquet")

# OSM highway values a pedestrian can use (motorways, trunk roads and their links excluded).
WALKABLE_HIGHWAYS = (
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "footway",
    "path",
    "steps",
    "track",
    "cycleway",
    "corridor",
    "road",
    "bridleway",
)
_POI_KEYS = ("amenity", "shop", "leisure", "tourism", "office", "healthcare", "public_transport", "railway", "highway")


def _kind_of_path(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".osm.pbf") or name.endswith(".pbf"):
        return "osm"
    if path.suffix.lower() in _PARQUET:
        return "parquet"
    return "ogr"


def read_layer(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    osm: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    where: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer from a file.

    Parameters
    ----------
    path : path-like
        GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet or OSM ``.pbf`` file;
        ``/vsizip/`` and other GDAL virtual paths work for the OGR formats.
    layer : str, optional
        Layer inside a multi-layer file (GeoPackage). Required when there are several.
    osm : {"buildings", "amenities", "paths", "landuse"}, optional
        What to take from an OSM PBF file (required for ``.pbf``).
    bbox : tuple, optional
        Only features intersecting this box (in the file's CRS).
    where : str, optional
        OGR SQL attribute filter.

    Returns
    -------
    geopandas.GeoDataFrame

    Examples
    --------
    >>> import renewgeo as rg
    >>> gdf = rg.io.read_layer(rg.datasets.get_path("chuangchuangyi") / "chuangchuangyi.gpkg",
    ...                        layer="buildings")
    >>> len(gdf), gdf.crs.to_epsg()
    (26, 4549)
    """
    p = Path(path)
    vsi = str(path).startswith("/vsi")
    if not vsi and not p.exists():
        near = sorted(x.name for x in p.parent.glob("*")) if p.parent.exists() else []
        raise ReadError(
            f"{p}: no such file. "
            + (f"Files in {p.parent}: {near[:20]}" if near else f"Folder {p.parent} does not exist either.")
        )
    kind = _kind_of_path(p)
    if kind == "osm":
        if osm is None:
            raise ReadError(f"{p}: an OSM extract holds several things; say which with osm= one of {OSM_WHAT}.")
        return read_osm(p, what=osm)
    try:
        if kind == "parquet":
            gdf = gpd.read_parquet(p, bbox=bbox)
        else:
            if layer is None and not vsi:
                layers = pyogrio.list_layers(p)
                if len(layers) > 1:
                    raise ReadError(f"{p} holds {len(layers)} layers {list(layers[:, 0])}; name one with layer=")
            gdf = gpd.read_file(p, layer=layer, bbox=bbox, where=where, engine="pyogrio")
    except ReadError:
        raise
    except Exception as exc:
        hint = ""
        if layer is not None:
            with contextlib.suppress(Exception):
                names = list(pyogrio.list_layers(p)[:, 0])
                if layer not in names:
                    hint = f" Layers in the file: {names}."
        raise ReadError(f"{p}{f' layer {layer!r}' if layer else ''}: cannot be read ({exc}).{hint}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        raise ReadError(f"{p}: has no geometry column; renewgeo reads spatial layers only.")
    return gdf


# ----------------------------------------------------------------------------- OSM
def _tag(other: pd.Series, key: str) -> pd.Series:
    pat = r'"' + key.replace(":", r"\:") + r'"=>"((?:[^"\\]|\\.)*)"'
    return other.fillna("").str.extract(pat, expand=False)


def _osm_frame(path: Path, layer: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise ReadError(f"{path}: the OSM layer {layer!r} cannot be read ({exc}); is it an OSM PBF extract?") from None


def _col(gdf: pd.DataFrame, key: str) -> pd.Series:
    """A tag that GDAL exposes as a column, or from ``other_tags``."""
    if key in gdf.columns:
        return gdf[key]
    return _tag(gdf.get("other_tags", pd.Series(index=gdf.index, dtype=object)), key)


def osm_categories(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The OSM tag -> planning category table (``key,value,category``; ``*`` matches any value).

    The default table ships with renewgeo (``renewgeo/data/osm_categories.csv``); give
    the path of an edited copy to use your own.
    """
    if path is None:
        with resources.files("renewgeo.data").joinpath("osm_categories.csv").open(encoding="utf-8") as f:
            return pd.read_csv(f, dtype=str)
    return pd.read_csv(path, dtype=str)


def _categorise(frame: pd.DataFrame, table: pd.DataFrame) -> pd.Series:
    """Category of each row: exact key=value rows of the table first, then ``key=*`` rows."""
    cat = pd.Series(pd.NA, index=frame.index, dtype="string")
    exact = table[table["value"] != "*"]
    star = table[table["value"] == "*"]
    for key, rows in exact.groupby("key", sort=False):
        if key in frame.columns:
            mapping = dict(zip(rows["value"], rows["category"], strict=True))
            cat = cat.fillna(frame[key].map(mapping).astype("string"))
    for row in star.itertuples():
        if row.key in frame.columns:
            cat = cat.fillna(pd.Series(row.category, index=frame.index, dtype="string").where(frame[row.key].notna()))
    return cat


def read_osm(path: str | os.PathLike[str], *, what: str, categories: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Read buildings, amenities, walkable paths or land use from an OSM PBF extract.

    Uses GDAL's OSM driver (through pyogrio). Ids are ``w<way id>``, ``r<relation id>``
    or ``n<node id>``.

    Parameters
    ----------
    path : path-like
        The ``.osm.pbf`` file.
    what : {"buildings", "amenities", "paths", "landuse"}
        * ``buildings``: polygons tagged ``building`` (not ``building=no``), with
          ``floors`` from ``building:levels`` and ``height_m`` from ``height``.
        * ``amenities``: nodes, and polygons reduced to an interior point, tagged
          ``amenity``, ``shop``, ``leisure``, ``tourism``, ``office``, ``healthcare``,
          public transport stops; ``category`` from :func:`osm_categories`. Rows the
          table maps to ``ignore`` (benches, bins, vending machines) are left out.
        * ``paths``: ways with a walkable ``highway`` value, excluding ``foot=no`` and
          ``access=private|no``; ``level`` from ``layer``, ``bridge``, ``tunnel``.
        * ``landuse``: polygons tagged ``landuse``, ``leisure=park|garden`` or
          ``natural``.
    categories : DataFrame, optional
        Tag -> category table (default :func:`osm_categories`).

    Returns
    -------
    geopandas.GeoDataFrame in EPSG:4326.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(f"{p}: no such file.")
    if what not in OSM_WHAT:
        raise ReadError(f"read_osm(what={what!r}): use one of {OSM_WHAT}.")
    if what == "buildings":
        mp = _osm_frame(p, "multipolygons")
        mp = mp[mp["building"].notna() & (mp["building"] != "no")]
        out = gpd.GeoDataFrame(
            {
                "id": _osm_ids(mp),
                "name": mp["name"],
                "building": mp["building"],
                "floors": pd.to_numeric(_col(mp, "building:levels"), errors="coerce"),
                "height_m": pd.to_numeric(_col(mp, "height").str.replace("m", "", regex=False).str.strip(), errors="coerce"),
            },
            geometry=mp.geometry.values,
            crs=mp.crs,
        )
        # OSM levels are often fractional or zero (roof levels); keep only usable ones.
        fl = out["floors"]
        out["floors"] = fl.where((fl > 0) & (fl <= 200) & (np.mod(fl.fillna(0), 1) == 0)).round().astype("Int64")
        out["height_m"] = out["height_m"].where((out["height_m"] > 0) & (out["height_m"] <= 1000))
        return out.reset_index(drop=True)
    if what == "paths":
        ln = _osm_frame(p, "lines")
        hw = ln["highway"]
        foot = _col(ln, "foot")
        access = _col(ln, "access")
        keep = (
            hw.isin(WALKABLE_HIGHWAYS)
            & ~foot.isin(["no"])
            & ~(access.isin(["private", "no"]) & ~foot.isin(["yes", "designated", "permissive"]))
        )
        ln = ln[keep]
        level = pd.to_numeric(_col(ln, "layer"), errors="coerce")
        out = gpd.GeoDataFrame(
            {
                "id": "w" + ln["osm_id"].astype(str),
                "name": ln["name"],
                "highway": ln["highway"],
                "level": level.where(np.mod(level.fillna(0), 1) == 0).astype("Int64"),
                "bridge": _col(ln, "bridge").notna() & ~_col(ln, "bridge").isin(["no"]),
                "tunnel": _col(ln, "tunnel").notna() & ~_col(ln, "tunnel").isin(["no"]),
            },
            geometry=ln.geometry.values,
            crs=ln.crs,
        )
        return out.reset_index(drop=True)
    if what == "landuse":
        mp = _osm_frame(p, "multipolygons")
        lu = mp["landuse"].astype("string")
        lu = lu.fillna(mp["leisure"].where(mp["leisure"].isin(["park", "garden", "playground", "pitch"])).astype("string"))
        lu = lu.fillna(mp["natural"].astype("string"))
        mp = mp[lu.notna()]
        return gpd.GeoDataFrame(
            {"id": _osm_ids(mp), "name": mp["name"], "landuse": lu[lu.notna()]},
            geometry=mp.geometry.values,
            crs=mp.crs,
        ).reset_index(drop=True)
    # amenities
    table = osm_categories() if categories is None else categories
    frames = []
    pts = _osm_frame(p, "points")
    mp = _osm_frame(p, "multipolygons")
    for frame, prefix in ((pts, "n"), (mp, None)):
        tags = pd.DataFrame({k: _col(frame, k) for k in _POI_KEYS}, index=frame.index)
        if prefix is None:  # polygons: buildings are not POIs unless tagged as one
            tags["highway"] = pd.NA
        tags.loc[~tags["highway"].isin(["bus_stop"]), "highway"] = pd.NA
        tags.loc[~tags["railway"].isin(["station", "subway_entrance", "tram_stop"]), "railway"] = pd.NA
        tags.loc[~tags["public_transport"].isin(["platform"]), "public_transport"] = pd.NA
        has = tags.notna().any(axis=1)
        sub, t = frame[has], tags[has]
        ids = ("n" + sub["osm_id"].astype(str)) if prefix else _osm_ids(sub)
        geom = sub.geometry.values if prefix else sub.geometry.representative_point().values
        frames.append(
            gpd.GeoDataFrame(
                {
                    "id": ids.values,
                    "name": sub["name"].values,
                    **{k: t[k].values for k in _POI_KEYS},
                    "category": _categorise(t, table).fillna("other").values,
                },
                geometry=geom,
                crs=frame.crs,
            )
        )
    out = pd.concat(frames, ignore_index=True)
    ignored = out["category"] == "ignore"
    if ignored.any():
        log.info(
            "%s: %d street-furniture features (benches, bins ...) left out, as the category table says", p, int(ignored.sum())
        )
    out = out[~ignored].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs)


def _osm_ids(mp: pd.DataFrame) -> pd.Series:
    way = mp["osm_way_id"]
    return pd.Series(
        np.where(way.notna(), "w" + way.astype(str), "r" + mp["osm_id"].astype(str)),
        index=mp.index,
    )


# --------------------------------------------------------------------------- writing
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it only on success.

    Parameters
    ----------
    path : path-like
        The final destination.
    copy_existing : bool
        Start the temporary file as a copy of the existing destination (to add a layer
        to an existing GeoPackage).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "out.txt").read_text()
    'done'
    """
    dest = Path(path)
    folder = dest.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{dest}: cannot create folder {folder} ({exc}).") from None
    if dest.exists() and not os.access(dest, os.W_OK):
        raise WriteError(f"{dest}: the file is read-only; make it writable or choose another output path. It was left as it was.")
    if not os.access(folder, os.W_OK):
        raise WriteError(f"{dest}: the folder {folder} is not writable; choose another output path.")
    fd, tmpname = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".tmp{dest.suffix}", dir=folder)
    os.close(fd)
    tmp = Path(tmpname)
    tmp.unlink()  # writers (GDAL) want to create the file themselves
    try:
        if copy_existing and dest.exists():
            shutil.copy2(dest, tmp)
        yield tmp
        if not tmp.exists():
            raise WriteError(f"{dest}: the writer produced no file.")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        for leftover in (tmp, *folder.glob(tmp.name + "-*")):  # GPKG -wal/-shm/-journal
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")


@contextlib.contextmanager
def _atomic_shapefile(path: Path) -> Iterator[Path]:
    """Like :func:`atomic_path` for a shapefile, whose data is spread over several files.

    The files are written into a temporary folder beside ``path`` and moved into place
    one by one only when all are complete; stale sidecars of an older version go.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmpdir", dir=folder))
    try:
        tmp = tmpdir / path.name
        yield tmp
        new = {f.suffix.lower(): f for f in tmpdir.iterdir()}
        if ".shp" not in new:
            raise WriteError(f"{path}: the writer produced no .shp file.")
        for suffix in _SHP_SIDECARS:
            old = path.with_suffix(suffix)
            if suffix not in new and old.exists():
                old.unlink()
        for suffix, f in new.items():
            os.replace(f, path.with_suffix(suffix))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _driver_for(path: Path, driver: str | None) -> str:
    if driver:
        return driver
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        return "Parquet"
    if suffix in _DRIVERS:
        return _DRIVERS[suffix]
    raise WriteError(f"{path}: unknown output format {suffix!r}; use .gpkg, .geojson, .parquet, .fgb or .shp (or give driver=).")


def _write_one(gdf: gpd.GeoDataFrame, path: Path, *, layer: str | None, driver: str) -> None:
    if driver == "Parquet":
        gdf.to_parquet(path)
        return
    kwargs: dict[str, Any] = {}
    if driver == "GPKG":
        kwargs["layer_options"] = {"SPATIAL_INDEX": "YES"}
        kwargs["dataset_options"] = {"VERSION": "1.3"}
    pyogrio.write_dataframe(gdf, path, layer=layer, driver=driver, **kwargs)


def write_layer(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    driver: str | None = None,
    keep_other_layers: bool = True,
) -> Path:
    """Write one layer atomically (GeoPackage by extension, GeoJSON, GeoParquet, ...).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer.
    path : path-like
        Destination; its extension picks the format unless ``driver`` is given.
    layer : str, optional
        Layer name inside a GeoPackage (default: the file stem).
    driver : str, optional
        OGR driver name, or ``"Parquet"`` for GeoParquet.
    keep_other_layers : bool
        For a GeoPackage that exists: keep its other layers and replace only ``layer``
        (GDAL overwrites a layer of the same name).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    dest = Path(path)
    drv = _driver_for(dest, driver)
    name = layer or dest.stem
    copy = drv == "GPKG" and keep_other_layers and dest.exists()
    target = _atomic_shapefile(dest) if drv == "ESRI Shapefile" else atomic_path(dest, copy_existing=copy)
    try:
        with target as tmp:
            _write_one(gdf, tmp, layer=name if drv == "GPKG" else layer, driver=drv)
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing layer {name!r} failed ({exc}); the previous file, if any, is intact.") from exc
    return dest


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | os.PathLike[str]) -> Path:
    """Write several layers into one new GeoPackage, atomically (all or nothing).

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(0, 0)], crs=4549)
    >>> out = write_layers({"one": g, "two": g}, pathlib.Path(tempfile.mkdtemp()) / "r.gpkg")
    >>> sorted(gpd.list_layers(out)["name"])
    ['one', 'two']
    """
    dest = Path(path)
    if _driver_for(dest, None) != "GPKG":
        raise WriteError(f"{dest}: several layers need a GeoPackage (.gpkg).")
    current = None
    try:
        with atomic_path(dest) as tmp:
            for current, gdf in layers.items():
                _write_one(gdf, tmp, layer=current, driver="GPKG")
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(
            f"{dest}: writing layer {current!r} failed ({exc}); nothing was written and the previous file, if any, is intact."
        ) from exc
    return dest


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as UTF-8 CSV (with BOM, so Excel shows Chinese text) atomically.

    A meaningful index (anything but the default 0..n-1) is written as the first columns.
    """
    dest = Path(path)
    flat = df if isinstance(df.index, pd.RangeIndex) else df.reset_index()
    try:
        with atomic_path(dest) as tmp:
            flat.to_csv(tmp, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL)

    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing the table failed ({exc}); the previous file, if any, is intact.") from exc
    return dest


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], *, index: bool = True) -> Path:
    """Write tables to one Excel workbook, a sheet per table, atomically.

    Headers carry units in words (``gfa_m2`` -> ``gfa (m²)``), bold on a dark band,
    frozen, with filters; numbers get thousands separators.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Sheet name -> table (sheet names are cut to Excel's 31 characters).
    path : path-like
        The ``.xlsx`` file.
    index : bool
        Write each table's index as its first columns.
    """
    try:
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter
    except ImportError as exc:  # pragma: no cover - openpyxl is a core dependency
        raise DependencyError(f"Excel output needs openpyxl ({exc}): pip install openpyxl") from None
    from renewgeo.units import header_label

    dest = Path(path)
    try:
        with atomic_path(dest) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            for name, df in tables.items():
                sheet = re.sub(r"[\\/*?:\[\]]", "_", name)[:31]
                frame = df.reset_index() if index and not isinstance(df.index, pd.RangeIndex) else df
                frame = frame.rename(columns={c: header_label(str(c)) for c in frame.columns})
                frame.to_excel(xw, sheet_name=sheet, index=False)
                ws = xw.sheets[sheet]
                for cell in ws[1]:
                    cell.font = Font(bold=True, color="FFFFFF")
                    cell.fill = PatternFill("solid", fgColor="37474F")
                    cell.alignment = Alignment(wrap_text=True, vertical="center")
                ws.freeze_panes = "A2"
                ws.auto_filter.ref = ws.dimensions
                for j, col in enumerate(frame.columns, start=1):
                    values = frame[col]
                    width = max([len(str(col))] + [len(str(v)) for v in values.head(200)]) + 2
                    ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 60)
                    if pd.api.types.is_float_dtype(values):
                        fmt = "0.0" if "(%)" in str(col) else "#,##0.00" if any(u in str(col) for u in ("(ha)", "(mu)", "(km)", "far")) else "#,##0"
                        for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                            row[0].number_format = fmt
                    elif pd.api.types.is_integer_dtype(values):
                        for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                            row[0].number_format = "#,##0"
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing the workbook failed ({exc}); the previous file, if any, is intact.") from exc
    return dest


# --------------------------------------------------------------------------- info
_NO_GEOMETRY = "table (no geometry)"  # the geometry_type info() gives a table without geometry


def info(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Describe the layers of a file: name, geometry type, CRS, feature count, bounds, columns.

    Tables without geometry (the ``layer_styles`` of a GeoPackage written by
    :func:`renewgeo.qgis.write_gpkg`, say) come after the layers, with the geometry type
    ``"table (no geometry)"``, their rows as ``features`` and ``"-"`` for CRS and bounds.

    Examples
    --------
    >>> import renewgeo as rg
    >>> t = rg.io.info(rg.datasets.get_path("chuangchuangyi") / "chuangchuangyi.gpkg")
    >>> t.loc[t.layer == "buildings", ["features", "crs"]].values.tolist()
    [[26, 'EPSG:4549']]
    """
    p = Path(path)
    if not str(path).startswith("/vsi") and not p.exists():
        raise ReadError(f"{p}: no such file.")
    rows, tables = [], []
    try:
        if _kind_of_path(p) == "parquet":
            gdf = gpd.read_parquet(p)
            rows.append(_info_row(p.stem, gdf))
        else:
            for name, _gtype in pyogrio.list_layers(p):
                meta = pyogrio.read_info(p, layer=name)
                columns = ", ".join(str(f) for f in meta.get("fields", []))
                if meta.get("geometry_type") is None:
                    tables.append({"layer": name, "geometry_type": _NO_GEOMETRY, "crs": "-", "features": int(meta.get("features", -1)),
                                   "bounds": "-", "columns": columns})
                    continue
                crs = meta.get("crs")
                count = meta.get("features", -1)
                bounds = meta.get("total_bounds")
                if _kind_of_path(p) == "osm":  # the OSM driver cannot count without reading
                    gdf = gpd.read_file(p, layer=name, engine="pyogrio")
                    count, bounds = len(gdf), (tuple(gdf.total_bounds) if len(gdf) else None)
                rows.append(
                    {
                        "layer": name,
                        "geometry_type": meta.get("geometry_type"),
                        "crs": _crs_label(crs),
                        "features": int(count),
                        "bounds": None if bounds is None else tuple(round(float(b), 6) for b in bounds),
                        "columns": columns,
                    }
                )
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"{p}: cannot be read ({exc}).") from None
    return pd.DataFrame(rows + tables, columns=["layer", "geometry_type", "crs", "features", "bounds", "columns"])


def _crs_label(crs: Any) -> str | None:
    if crs is None:
        return None
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    auth = c.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else c.name


def _info_row(name: str, gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    return {
        "layer": name,
        "geometry_type": ", ".join(sorted(set(gdf.geom_type.dropna()))),
        "crs": _crs_label(gdf.crs),
        "features": len(gdf),
        "bounds": tuple(round(float(b), 6) for b in gdf.total_bounds) if len(gdf) else None,
        "columns": ", ".join(c for c in gdf.columns if c != gdf.geometry.name),
    }


# --------------------------------------------------------------------------- PostGIS
def _engine(dsn: str) -> Any:
    try:
        import geoalchemy2  # noqa: F401  # registers the geometry type with SQLAlchemy
        import sqlalchemy
    except ImportError as exc:
        raise DependencyError(
            f"PostGIS support needs SQLAlchemy, GeoAlchemy2 and psycopg2 ({exc.name} is missing): pip install 'renewgeo[postgis]'"
        ) from None
    return sqlalchemy.create_engine(dsn)


def read_postgis(dsn: str, *, table: str | None = None, sql: str | None = None, geom_col: str | None = None) -> gpd.GeoDataFrame:
    """Read a PostGIS table (``schema.table``) or query into a GeoDataFrame.

    Parameters
    ----------
    dsn : str
        SQLAlchemy URL, e.g. ``postgresql://user@127.0.0.1:5432/planning``.
    table : str, optional
        Table (optionally ``schema.table``); exactly one of ``table`` and ``sql``.
    sql : str, optional
        A SELECT query.
    geom_col : str, optional
        Name of the geometry column. For a table it is looked up in PostGIS's
        ``geometry_columns``; for a query it defaults to ``geom``.
    """
    if (table is None) == (sql is None):
        raise ReadError("read_postgis: give exactly one of table= or sql=.")
    engine = _engine(dsn)
    query = sql
    params: dict[str, str] = {}
    if table is not None:
        parts = table.split(".")
        if len(parts) > 2 or not all(part.replace("_", "").isalnum() for part in parts):
            raise ReadError(f"read_postgis: table name {table!r} may hold only letters, digits, '_' and one '.'")
        query = "SELECT * FROM " + ".".join(f'"{part}"' for part in parts)
        params = {"schema": parts[0] if len(parts) == 2 else "public", "table": parts[-1]}
    try:
        import sqlalchemy

        with engine.connect() as con:
            if geom_col is None and table is not None:
                found = con.execute(
                    sqlalchemy.text(
                        "SELECT f_geometry_column FROM geometry_columns WHERE f_table_schema = :schema AND f_table_name = :table"
                    ),
                    params,
                ).fetchall()
                if not found:
                    raise ReadError(f"PostGIS table {table!r} at {_safe_dsn(dsn)}: no such table with a geometry column.")
                geom_col = str(found[0][0])
            return gpd.read_postgis(query, con, geom_col=geom_col or "geom")
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"PostGIS {table or 'query'} at {_safe_dsn(dsn)}: cannot be read ({exc}).") from None
    finally:
        engine.dispose()


def write_postgis(
    gdf: gpd.GeoDataFrame,
    dsn: str,
    table: str,
    *,
    schema: str | None = None,
    if_exists: Literal["fail", "replace", "append"] = "fail",
) -> None:
    """Write a layer to PostGIS inside one transaction: all rows or none.

    The geometry column is named ``geom`` in the database (the PostGIS convention).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer (its CRS becomes the column's SRID).
    dsn : str
        SQLAlchemy URL.
    table : str
        Table name.
    schema : str, optional
        Database schema.
    if_exists : {"fail", "replace", "append"}
        What to do when the table exists.
    """
    engine = _engine(dsn)
    try:
        with engine.begin() as con:
            gdf.rename_geometry("geom").to_postgis(table, con, schema=schema, if_exists=if_exists, index=False)
    except Exception as exc:
        raise WriteError(f"PostGIS table {table!r} at {_safe_dsn(dsn)}: write failed and was rolled back ({exc}).") from None
    finally:
        engine.dispose()


def _safe_dsn(dsn: str) -> str:
    """The DSN with any password masked, for messages."""
    if "@" in dsn and "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return dsn
