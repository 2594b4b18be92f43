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
import errno
import glob
import logging
import os
import re
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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
    "STATEMENT_TIMEOUT_S",
    "atomic_path",
    "check_dsn",
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
    "xml_safe",
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


@dataclass(frozen=True)
class DroppedFeatures:
    """Features a reader left out because their geometry cannot be built.

    GDAL's OSM driver assembles areas from ways; a way that closes on itself after two
    nodes, or a broken relation, gives a ring GEOS refuses. Such a feature is left out
    (one bad ring no longer stops the whole layer), logged as a warning and listed here.

    Attributes
    ----------
    source : str
        The file and what was read from it (``city.osm.pbf (osm = buildings)``).
    ids : tuple of str
        Ids of the features left out (``w<way id>``, ``r<relation id>``, ``n<node id>``).
    reason : str
        Why, in words.
    """

    source: str
    ids: tuple[str, ...]
    reason: str


_SHAPEFILE_PARTS = (".shx", ".dbf")


def _check_file(p: Path) -> None:
    """A clear :class:`ReadError` for a file that is missing, a link that leads nowhere, or a shapefile missing a part."""
    if p.is_symlink() and not p.exists():
        try:
            p.resolve(strict=True)
            why = "leads nowhere"
        except RuntimeError:  # Python 3.11: "Symlink loop"
            why = "is part of a loop of links"
        except OSError as exc:
            why = "is part of a loop of links" if exc.errno == errno.ELOOP else f"points to {os.readlink(p)!r}, which does not exist"
        raise ReadError(f"{p}: a symbolic link that {why}. Point it at the real file, or name the file itself in project.toml.")
    if not p.exists():
        near = sorted(x.name for x in p.parent.glob("*")) if p.parent.exists() else []
        raise ReadError(
            f"{p}: no such file. "
            + (f"Files in {p.parent}: {near[:20]}" if near else f"Folder {p.parent} does not exist either.")
        )
    if p.suffix.lower() == ".shp":
        siblings = {x.name.lower() for x in p.parent.glob(glob.escape(p.stem) + ".*")}
        missing = [ext for ext in _SHAPEFILE_PARTS if (p.stem + ext).lower() not in siblings]
        if missing:
            raise ReadError(
                f"{p}: the shapefile has no {' or '.join(p.stem + e for e in missing)} beside it "
                "(a shapefile is several files: .shp geometry, .shx index, .dbf attributes, .prj CRS). "
                "Copy all of them into the folder, or send the layer as one GeoPackage."
            )


def _kind_of_path(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".pbf", ".osm")):
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
    dropped: list[DroppedFeatures] | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer from a file.

    Parameters
    ----------
    path : path-like
        GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet or OSM file (``.pbf``,
        or ``.osm`` XML); ``/vsizip/`` and other GDAL virtual paths work for the OGR formats.
    layer : str, optional
        Layer inside a multi-layer file (GeoPackage). Required when there are several.
    osm : {"buildings", "amenities", "paths", "landuse"}, optional
        What to take from an OSM file (required for ``.pbf`` and ``.osm``).
    bbox : tuple, optional
        Only features intersecting this box (in the file's CRS; EPSG:4326 for OSM).
    where : str, optional
        OGR SQL attribute filter (``"status = 'idle' AND floors >= 3"``). For OSM files
        and GeoParquet it applies to the columns renewgeo returns (for OSM those of
        :func:`read_osm`: ``amenity = 'cafe'``, ``category = 'school'`` ...).
    dropped : list, optional
        A list to which the reader appends a :class:`DroppedFeatures` for features it
        left out because their geometry cannot be built (OSM files); each is also
        logged as a warning.

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    ReadError
        The file is missing or unreadable, ``layer`` is missing or needed, or ``where``
        does not fit the layer's columns (the message lists them).

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
    if not vsi:
        _check_file(p)
    kind = _kind_of_path(p)
    if kind == "osm":
        if osm is None:
            raise ReadError(f"{p}: an OSM extract holds several things; say which with osm= one of {OSM_WHAT}.")
        return read_osm(p, what=osm, bbox=bbox, where=where, dropped=dropped)
    try:
        if kind == "parquet":
            gdf = gpd.read_parquet(p, bbox=bbox)
            if where is not None:
                gdf = _apply_where(gdf, where, source=str(p))
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


def _osm_frame(path: Path, layer: str, bbox: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    """One layer of GDAL's OSM driver; a geometry GEOS cannot build comes back as None (see :func:`_drop_unbuilt`)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = gpd.read_file(path, layer=layer, bbox=bbox, engine="pyogrio", on_invalid="ignore")
    except Exception as exc:
        raise ReadError(
            f"{path}: the OSM layer {layer!r} cannot be read ({exc}); is it an OSM extract (.osm.pbf or .osm XML)? "
            "Download it again or cut it anew (osmium extract)."
        ) from None
    for w in caught:
        if issubclass(w.category, RuntimeWarning):  # GDAL on the rings it could not assemble: _drop_unbuilt names those
            log.debug("%s, layer %s: GDAL: %s", path, layer, w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return gdf


def _drop_unbuilt(frame: gpd.GeoDataFrame, ids: pd.Series, *, source: str, dropped: list[DroppedFeatures] | None) -> gpd.GeoDataFrame:
    """``frame`` without the features whose geometry could not be built, logged and listed in ``dropped``."""
    bad = frame.geometry.isna().to_numpy()
    if not bad.any():
        return frame
    bad_ids = tuple(str(i) for i in ids[bad])
    reason = "their geometry cannot be built (a ring of fewer than 4 points, such as a way closing on itself after 2 nodes, or a broken relation)"
    log.warning("%s: %d feature(s) left out, %s; fix them in OSM or cut the extract anew: %s", source, len(bad_ids), reason,
                ", ".join(bad_ids[:20]) + (" ..." if len(bad_ids) > 20 else ""))
    if dropped is not None:
        dropped.append(DroppedFeatures(source=source, ids=bad_ids, reason=reason))
    return frame[~bad]


def _apply_where(gdf: gpd.GeoDataFrame, where: str, *, source: str) -> gpd.GeoDataFrame:
    """The rows of ``gdf`` that the OGR SQL filter ``where`` keeps, evaluated by GDAL on the frame's own columns."""
    if len(gdf) == 0:
        return gdf
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for c in attrs.columns:
        if isinstance(attrs[c].dtype, pd.CategoricalDtype):
            attrs[c] = attrs[c].astype(object)
    row = "_renewgeo_row"
    attrs[row] = np.arange(len(attrs), dtype=np.int64)
    tmp = f"/vsimem/renewgeo_where_{uuid.uuid4().hex}.geojson"
    try:
        try:
            pyogrio.write_dataframe(attrs, tmp, driver="GeoJSON")
        except Exception as exc:
            raise ReadError(f"{source}: where = {where!r} cannot be applied, a column cannot be handed to GDAL ({exc}); "
                            "filter the layer in Python instead") from None
        keep = pyogrio.read_dataframe(tmp, where=where, columns=[row], read_geometry=False)[row].to_numpy()
    except ReadError:
        raise
    except Exception:
        cols = [str(c) for c in gdf.columns if c != gdf.geometry.name]
        raise ReadError(
            f"{source}: where = {where!r} is not an OGR SQL filter on this layer's columns {cols}; "
            "write it like \"amenity = 'cafe'\" or \"floors >= 3 AND name IS NOT NULL\" with those names"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            pyogrio.vsi_unlink(tmp)
    return gdf.iloc[np.sort(keep)]


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


def read_osm(
    path: str | os.PathLike[str],
    *,
    what: str,
    categories: pd.DataFrame | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    where: str | None = None,
    dropped: list[DroppedFeatures] | None = None,
) -> gpd.GeoDataFrame:
    """Read buildings, amenities, walkable paths or land use from an OSM extract.

    Uses GDAL's OSM driver (through pyogrio), which reads PBF and OSM XML. Ids are
    ``w<way id>``, ``r<relation id>`` or ``n<node id>``. A feature whose geometry cannot
    be built (a way closing on itself after two nodes, a broken multipolygon) is left
    out, logged as a warning with its id and listed in ``dropped``; the others load.

    Parameters
    ----------
    path : path-like
        The ``.osm.pbf`` (or ``.osm``) file.
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
    bbox : tuple, optional
        Only features intersecting this box (west, south, east, north in degrees).
    where : str, optional
        OGR SQL filter on the returned columns (``"amenity = 'cafe'"``,
        ``"category = 'school'"``, ``"floors >= 3"``).
    dropped : list, optional
        A list to which a :class:`DroppedFeatures` is appended when features are left out.

    Returns
    -------
    geopandas.GeoDataFrame in EPSG:4326.

    Raises
    ------
    ReadError
        The file is missing or not an OSM extract, ``what`` is unknown, or ``where``
        does not fit the returned columns.
    """
    p = Path(path)
    _check_file(p)
    if what not in OSM_WHAT:
        raise ReadError(f"read_osm(what={what!r}): use one of {OSM_WHAT}.")
    source = f"{p} (osm = {what})"
    out = _read_osm(p, what=what, categories=categories, bbox=bbox, source=source, dropped=dropped)
    if where is not None:
        out = _apply_where(out, where, source=source).reset_index(drop=True)
    return out


def _read_osm(p: Path, *, what: str, categories: pd.DataFrame | None, bbox: tuple[float, float, float, float] | None,
              source: str, dropped: list[DroppedFeatures] | None) -> gpd.GeoDataFrame:
    if what == "buildings":
        mp = _osm_frame(p, "multipolygons", bbox)
        mp = mp[mp["building"].notna() & (mp["building"] != "no")]
        mp = _drop_unbuilt(mp, _osm_ids(mp), source=source, dropped=dropped)
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
        ln = _osm_frame(p, "lines", bbox)
        hw = ln["highway"]
        foot = _col(ln, "foot")
        access = _col(ln, "access")
        keep = (
            hw.isin(WALKABLE_HIGHWAYS)
            & ~foot.isin(["no"])
            & ~(access.isin(["private", "no"]) & ~foot.isin(["yes", "designated", "permissive"]))
        )
        ln = ln[keep]
        ln = _drop_unbuilt(ln, "w" + ln["osm_id"].astype(str), source=source, dropped=dropped)
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
        mp = _osm_frame(p, "multipolygons", bbox)
        lu = mp["landuse"].astype("string")
        lu = lu.fillna(mp["leisure"].where(mp["leisure"].isin(["park", "garden", "playground", "pitch"])).astype("string"))
        lu = lu.fillna(mp["natural"].astype("string"))
        mp = _drop_unbuilt(mp[lu.notna()], _osm_ids(mp[lu.notna()]), source=source, dropped=dropped)
        return gpd.GeoDataFrame(
            {"id": _osm_ids(mp), "name": mp["name"], "landuse": lu[mp.index]},
            geometry=mp.geometry.values,
            crs=mp.crs,
        ).reset_index(drop=True)
    # amenities
    table = osm_categories() if categories is None else categories
    frames = []
    pts = _osm_frame(p, "points", bbox)
    mp = _osm_frame(p, "multipolygons", bbox)
    for frame, prefix in ((pts, "n"), (mp, None)):
        tags = pd.DataFrame({k: _col(frame, k) for k in _POI_KEYS}, index=frame.index)
        if prefix is None:  # polygons: buildings are not POIs unless tagged as one
            tags["highway"] = pd.NA
        tags.loc[~tags["highway"].isin(["bus_stop"]), "highway"] = pd.NA
        tags.loc[~tags["railway"].isin(["station", "subway_entrance", "tram_stop"]), "railway"] = pd.NA
        tags.loc[~tags["public_transport"].isin(["platform"]), "public_transport"] = pd.NA
        has = tags.notna().any(axis=1)
        sub = frame[has]
        sub = _drop_unbuilt(sub, ("n" + sub["osm_id"].astype(str)) if prefix else _osm_ids(sub), source=source, dropped=dropped)
        t = tags.loc[sub.index]
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
            "%s: %d street-furniture features (benches, bins ...) left out, as the category table says", source, int(ignored.sum())
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


# Cells that a spreadsheet would read as the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SHEET_FORBIDDEN = re.compile(r"[\\/*?:\[\]]")


def _starts_formula(value: object) -> bool:
    """A text that Excel or LibreOffice would evaluate (``=1+1``, ``@SUM``, ``-2+3``), not a plain number like ``-2.5``."""
    return isinstance(value, str) and value.startswith(_FORMULA_START) and _PLAIN_NUMBER.fullmatch(value) is None


def _csv_text(value: object) -> object:
    """``value`` with a single quote in front when it is a text that would start a formula (numbers are left alone)."""
    return "'" + value if isinstance(value, str) and _starts_formula(value) else value


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula in a spreadsheet."""
    out = frame.copy()
    out.columns = [_csv_text(c) if isinstance(c, str) else c for c in out.columns]
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        out.isetitem(j, col.map(_csv_text, na_action="ignore").to_numpy(dtype=object))
    return out


_SHEET_DROP = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")  # control characters, lone surrogates, non-characters


def _cut_utf16(text: str, units: int) -> str:
    """``text`` cut to ``units`` UTF-16 code units (Excel counts a sheet name's length in them), whole characters only."""
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            break
        out.append(ch)
    return "".join(out)


def _sheet_name(name: str, limit: int = 31) -> str:
    r"""One legal sheet name: no control character or ``[]:*?/\``, no ``'`` at either end, at most ``limit`` long."""
    clean = _SHEET_FORBIDDEN.sub("_", _SHEET_DROP.sub("_", str(name))).strip("'")
    return _cut_utf16(clean, limit).strip("'") or "Sheet"


def _sheet_names(names: Sequence[str]) -> list[str]:
    r"""Excel sheet names for ``names``: no control characters or ``[]:*?/\``, no ``'`` at either end, 31 characters, all different.

    Examples
    --------
    >>> _sheet_names(["a" * 30 + "'xyz", "dem\x01x", "DEM_x", "History"])
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'dem_x', 'DEM_x~2', 'History~2']
    """
    out: list[str] = []
    seen = {"history"}  # Excel reserves History and compares names without case
    for name in names:
        base = _sheet_name(name)
        sheet, n = base, 1
        while sheet.casefold() in seen:
            n += 1
            sheet = f"{_sheet_name(base, 31 - len(str(n)) - 1)}~{n}"
        seen.add(sheet.casefold())
        out.append(sheet)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as UTF-8 CSV (with BOM, so Excel shows Chinese text) atomically.

    A meaningful index (anything but the default 0..n-1) is written as the first columns.
    A text cell or column name that a spreadsheet would take for a formula (it starts
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, OWASP's list) gets a
    single quote in front (``'=cmd|...``), so Excel and LibreOffice show it as text;
    numbers, negative ones too, and texts that are plain numbers (``-2.5``) are written
    as they are.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_table(pd.DataFrame({"zone": ["=1+1", "A"], "dh_m": [-2.5, 1.0]}), pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> p.read_text(encoding="utf-8-sig").splitlines()
    ['zone,dh_m', "'=1+1,-2.5", 'A,1.0']
    """
    dest = Path(path)
    flat = df if isinstance(df.index, pd.RangeIndex) else df.reset_index()
    try:
        with atomic_path(dest) as tmp:
            # CRLF line ends (RFC 4180, Excel's own): a text holding a CR or LF is then quoted, not split into two rows
            _csv_safe(flat).to_csv(tmp, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    except WriteError:
        raise
    except Exception as exc:
        raise WriteError(f"{dest}: writing the table failed ({exc}); the previous file, if any, is intact.") from exc
    return dest


# What XML 1.0 (so xlsx and QGIS styles) cannot hold: control characters but tab, LF, CR; lone surrogates; U+FFFE, U+FFFF
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    r"""``text`` with every character XML 1.0 cannot hold shown as U+FFFD (the rest kept).

    Examples
    --------
    >>> xml_safe("ctl\x01\x0b\x1f\ufffe end\t") == "ctl" + "\ufffd" * 4 + " end\t"
    True
    """
    return _XML_ILLEGAL.sub("\ufffd", text)


def _xlsx_clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and column names with the characters xlsx cannot hold shown as U+FFFD (the rest kept)."""
    def clean(v: object) -> object:
        return xml_safe(v) if isinstance(v, str) else v

    out = frame.copy()
    out.columns = [clean(c) for c in out.columns]
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if col.dtype == object or pd.api.types.is_string_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
            out.isetitem(j, col.astype(object).map(clean, na_action="ignore").to_numpy(dtype=object))
    return out


def _cells_as_text(ws: Any) -> None:
    """Store every cell of the openpyxl sheet ``ws`` that holds text as text, never as a formula."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":  # openpyxl took a text starting with "=" for a formula
                cell.data_type = "s"
            if cell.data_type == "s" and _starts_formula(cell.value):
                cell.quotePrefix = True  # Excel keeps it text when the cell is edited


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str], *, index: bool = True) -> Path:
    r"""Write tables to one Excel workbook, a sheet per table, atomically.

    Headers carry units in words (``gfa_m2`` -> ``gfa (m²)``), bold on a dark band,
    frozen, with filters; numbers get thousands separators.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Sheet name -> table. Sheet names lose the characters Excel refuses (``[]:*?/\``,
        a leading or trailing ``'``), are cut to 31 characters and made different from
        each other (``~2``), as Excel compares them without case.
    path : path-like
        The ``.xlsx`` file.
    index : bool
        Write each table's index as its first columns.

    Notes
    -----
    Every text cell, column names included, is stored as text, never as a formula,
    whatever it starts with (openpyxl alone stores a text starting with ``=`` as a
    formula); a text that would start a formula is also marked "quote prefix", so
    Excel keeps it text when someone edits the cell.
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
            for sheet, df in zip(_sheet_names(list(tables)), tables.values(), strict=True):
                frame = df.reset_index() if index and not isinstance(df.index, pd.RangeIndex) else df
                frame = _xlsx_clean(frame.rename(columns={c: header_label(str(c)) for c in frame.columns}))
                frame.to_excel(xw, sheet_name=sheet, index=False)
                ws = xw.sheets[sheet]
                _cells_as_text(ws)
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
    if not str(path).startswith("/vsi"):
        _check_file(p)
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
                    gdf = _osm_frame(p, name, None)  # a ring GEOS refuses no longer fails the count
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
# SQLAlchemy driver name -> the module it needs. A plain postgresql:// URL gets the first one installed.
_PG_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "psycopg2cffi": "psycopg2cffi"}
_DSN_FORM = "postgresql://user:password@host:5432/database"
STATEMENT_TIMEOUT_S = 60.0  # the longest a PostGIS read may run before the server cancels it


def _pg_url(dsn: str, error: type[ReadError] | type[WriteError], *, label: str | None = None) -> Any:
    """The SQLAlchemy URL of ``dsn``, with a PostgreSQL driver that is installed.

    ``postgresql://`` (and ``postgres://``) name no driver; SQLAlchemy 2.1 would pick
    psycopg 3 even where only psycopg2 is installed. The first installed of
    :data:`_PG_DRIVERS` is used instead. ``label`` names the connection in messages
    instead of the (password-masked) URL: a DSN read from an environment variable is
    named by the variable, as its value may be any secret (a token set for another program).
    """
    import importlib.util

    from sqlalchemy.engine import make_url

    label = label or repr(_safe_dsn(dsn))
    try:
        url = make_url(dsn.strip())
    except Exception:  # the parser's message repeats the URL, password and all
        raise error(f"PostGIS connection {label} is not a database URL; write it as {_DSN_FORM}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        shown = "" if label.startswith("in variable") else f" (it starts with {backend}://)"
        raise error(f"PostGIS connection {label} is not a PostgreSQL URL{shown}; write it as {_DSN_FORM}")
    if not url.database:
        raise error(f"PostGIS connection {label} names no database; write it as {_DSN_FORM}")
    if not driver:
        driver = next((d for d, mod in _PG_DRIVERS.items() if importlib.util.find_spec(mod) is not None), "")
        if not driver:
            raise DependencyError("PostGIS support needs a PostgreSQL driver (psycopg2): pip install 'renewgeo[postgis]'")
    elif driver in _PG_DRIVERS and importlib.util.find_spec(_PG_DRIVERS[driver]) is None:
        raise DependencyError(f"PostGIS connection {label} asks for the driver {driver}, which is not installed: "
                              f"pip install {_PG_DRIVERS[driver]}, or write postgresql:// to use the installed one")
    return url.set(drivername=f"postgresql+{driver}")


# URL query keys that hand libpq another connection string or a service entry: the machine they reach cannot be told
_PG_REDIRECT_KEYS = ("dsn", "service")


def _host_only(host: str) -> str:
    """``host`` without a ``:port`` (``[::1]:5432`` -> ``::1``; a bare IPv6 address is kept whole)."""
    h = host.strip()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def _is_local_host(host: str) -> bool:
    """Whether ``host`` is this machine: empty (libpq's default socket), a Unix socket folder, localhost, 127.0.0.0/8 or ::1.

    Examples
    --------
    >>> [_is_local_host(h) for h in ("", "/run/postgresql", "localhost", "127.0.0.2", "::1", "db.example.com", "10.0.0.5")]
    [True, True, True, True, True, False, False]
    """
    import ipaddress

    h = _host_only(host).lower()
    if not h or h.startswith(("/", "@")) or h in ("localhost", "localhost."):  # "@name": Linux abstract socket
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _pg_hosts(url: Any) -> list[str]:
    """Every host the SQLAlchemy ``url`` can make libpq connect to (its host, ``?host=``, ``?hostaddr=``; lists split)."""
    found = [url.host or ""]
    for key in ("host", "hostaddr"):
        val = url.query.get(key)
        for v in (val if isinstance(val, tuple) else (val,) if val is not None else ()):
            found.extend(str(v).split(","))
    return found


def check_dsn(dsn: str, *, what: str, variable: str | None = None, allow_network: bool = False) -> None:
    """Refuse a PostGIS connection a project folder may not use, before anything connects.

    The DSN must be a PostgreSQL URL naming a database, and, unless ``allow_network``,
    every host it names must be this machine (``localhost``, 127.0.0.0/8, ``::1``, a
    Unix socket folder or no host at all): libpq would hand any other server the user's
    ``PGPASSWORD`` and ``~/.pgpass`` entries. A DSN read from an environment variable is
    named by the variable in every message, never by its value.

    Parameters
    ----------
    dsn : str
        The connection URL.
    what : str
        Where it comes from, for messages (``[layers.parcels]``).
    variable : str, optional
        The environment variable that held it (``dsn_env``).
    allow_network : bool
        ``[project] allow_network``: any host is allowed.

    Raises
    ------
    ReadError
        A value that is not a PostgreSQL URL, or a server on another machine.

    Examples
    --------
    >>> check_dsn("postgresql://planner@127.0.0.1:5432/planning", what="[layers.parcels]")
    >>> try:
    ...     check_dsn("postgresql://planner@db.example.com/planning", what="[layers.parcels]")
    ... except ReadError as exc:
    ...     print(str(exc)[:80])
    [layers.parcels] connects to the PostgreSQL server 'db.example.com', on another
    """
    label = f"in variable {variable}" if variable else None
    url = _pg_url(dsn, ReadError, label=f"{label} ({what}; named by dsn_env)" if label else None)
    if allow_network:
        return
    redirect = [k for k in _PG_REDIRECT_KEYS if k in url.query]
    remote = [h for h in _pg_hosts(url) if not _is_local_host(h)]
    if not remote and not redirect:
        return
    server = (f"the PostgreSQL server named in variable {variable}" if variable
              else f"the PostgreSQL server {_host_only(remote[0])!r}" if remote else f"a server chosen by ?{redirect[0]}=")
    raise ReadError(f"{what} connects to {server}, on another machine; a project folder may only read from this machine "
                    "unless it says so (libpq would send that server your PGPASSWORD): set allow_network = true under "
                    "[project] if you trust this server, or copy the layer into a file or a local database")


def _engine(dsn: str, error: type[ReadError] | type[WriteError] = ReadError) -> Any:
    try:
        import geoalchemy2  # noqa: F401  # registers the geometry type with SQLAlchemy
        import sqlalchemy
    except ImportError as exc:
        raise DependencyError(
            f"PostGIS support needs SQLAlchemy, GeoAlchemy2 and psycopg2 ({exc.name} is missing): pip install 'renewgeo[postgis]'"
        ) from None
    url = _pg_url(dsn, error)
    try:
        return sqlalchemy.create_engine(url)
    except Exception as exc:
        raise error(f"PostGIS connection {_safe_dsn(dsn)!r} cannot be used ({_scrub(str(exc), dsn)}); write it as {_DSN_FORM}") from None


def _one_query(sql: str) -> str:
    """The text of ``sql`` as one query, or a ReadError.

    A ``;`` would let the text hold several statements, and a ``COMMIT`` among them would
    end the read-only transaction the query runs in; the one allowed is a trailing one.
    """
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise ReadError('PostGIS sql = "": give one SELECT query (sql = "SELECT id, geom FROM parcels WHERE ...").')
    if ";" in text:
        raise ReadError(
            f"PostGIS sql = {sql[:200]!r}: holds a ';', so it could run several statements; renewgeo reads with one SELECT "
            "query only. Remove the other statements (a ';' inside a text value can be written chr(59))."
        )
    return text


def _table_name(table: str) -> tuple[str | None, str]:
    """``(schema, table)`` of ``schema.table`` or ``table``, as written (they are quoted, never pasted into SQL)."""
    parts = table.split(".")
    if len(parts) > 2 or not all(parts) or "\x00" in table:
        raise ReadError(f"read_postgis: table = {table!r} is not a table name; write table or schema.table "
                        "(exactly as the database lists them, with at most one '.')")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def read_postgis(dsn: str, *, table: str | None = None, sql: str | None = None, geom_col: str | None = None) -> gpd.GeoDataFrame:
    """Read a PostGIS table (``schema.table``) or query into a GeoDataFrame, read-only.

    Everything runs in one read-only transaction (``SET TRANSACTION READ ONLY``):
    a query cannot change the database's tables; it still runs with the rights of the
    connecting role (a read-only function such as ``pg_terminate_backend`` works if the
    role may call it), so a read-only database role is the real protection. Each
    statement is cancelled by the server after :data:`STATEMENT_TIMEOUT_S` seconds
    (``SET LOCAL statement_timeout``), so ``pg_sleep`` or a lock cannot hang a run. ``sql`` must be one query (a ``;`` is refused, so
    no ``COMMIT`` can end that transaction) and is run as ``SELECT * FROM (sql)``. A
    ``table`` name is quoted as an identifier by SQLAlchemy, never pasted into SQL.

    Parameters
    ----------
    dsn : str
        Database URL, e.g. ``postgresql://user:password@127.0.0.1:5432/planning``
        (``postgresql://`` uses the installed driver, psycopg2 or psycopg; SQLAlchemy's
        ``postgresql+psycopg2://`` works too). Messages never show its password.
    table : str, optional
        Table, optionally ``schema.table``, with the case the database lists them in;
        exactly one of ``table`` and ``sql``.
    sql : str, optional
        One SELECT query.
    geom_col : str, optional
        Name of the geometry column. For a table it is looked up in PostGIS's
        ``geometry_columns``; for a query it defaults to ``geom``.

    Raises
    ------
    ReadError
        A malformed URL, several statements in ``sql``, a missing table, or a query the
        database refuses (a write, say: "cannot execute ... in a read-only transaction").
    DependencyError
        SQLAlchemy, GeoAlchemy2 or a PostgreSQL driver is missing.
    """
    if (table is None) == (sql is None):
        raise ReadError("read_postgis: give exactly one of table= or sql=.")
    import sqlalchemy

    what = f"PostGIS table {table!r}" if table is not None else "PostGIS query"
    query: Any
    if table is not None:
        schema, name = _table_name(table)
        query = sqlalchemy.select(sqlalchemy.literal_column("*")).select_from(sqlalchemy.table(name, schema=schema))
    else:
        query = f"SELECT * FROM ({_one_query(str(sql))}\n) AS renewgeo_query"
    engine = _engine(dsn)
    try:
        with engine.connect() as con:
            con.exec_driver_sql("SET TRANSACTION READ ONLY")  # the first statement of the transaction
            # a read-only query can still wait forever (pg_sleep, a lock): it is cancelled instead
            con.exec_driver_sql(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_S * 1000)}")
            if geom_col is None and table is not None:
                found = con.execute(
                    sqlalchemy.text(
                        "SELECT f_geometry_column FROM geometry_columns "
                        "WHERE f_table_schema = COALESCE(:schema, current_schema()) AND f_table_name = :table"
                    ),
                    {"schema": schema, "table": name},
                ).fetchall()
                if not found:
                    raise ReadError(f"{what} at {_safe_dsn(dsn)}: no such table with a geometry column; check the name "
                                    "(and its case) with \\dt in psql, or give geom_col")
                geom_col = str(found[0][0])
            gdf = gpd.read_postgis(query, con, geom_col=geom_col or "geom")
            con.rollback()
            return gdf
    except ReadError:
        raise
    except Exception as exc:
        msg = _scrub(str(getattr(exc, "orig", None) or exc), dsn).strip().splitlines()
        raise ReadError(f"{what} at {_safe_dsn(dsn)}: cannot be read ({' '.join(msg)[:500]}).") from None
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
    engine = _engine(dsn, WriteError)
    try:
        with engine.begin() as con:
            gdf.rename_geometry("geom").to_postgis(table, con, schema=schema, if_exists=if_exists, index=False)
    except Exception as exc:
        msg = " ".join(_scrub(str(getattr(exc, "orig", None) or exc), dsn).strip().splitlines())[:500]
        raise WriteError(f"PostGIS table {table!r} at {_safe_dsn(dsn)}: write failed and was rolled back ({msg}).") from None
    finally:
        engine.dispose()


def _safe_dsn(dsn: str) -> str:
    """The DSN with any password masked, for messages.

    Examples
    --------
    >>> _safe_dsn("postgresql://planner:p@ss:w0rd@db.example:5432/planning?password=x&sslmode=require")
    'postgresql://planner:***@db.example:5432/planning?password=***&sslmode=require'
    """
    out = dsn
    if "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        if "@" in rest:
            cred, host = rest.rsplit("@", 1)
            user = cred.split(":", 1)[0]
            out = f"{scheme}://{user}:***@{host}" if ":" in cred else f"{scheme}://{cred}@{host}"
    return re.sub(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", r"\1***", out)


def _passwords(dsn: str) -> list[str]:
    """Every form in which ``dsn`` holds a password (as written and URL-decoded)."""
    from urllib.parse import unquote

    found = [m.group(2).strip("'") for m in re.finditer(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", dsn)]
    if "://" in dsn and "@" in dsn.split("://", 1)[1]:
        cred = dsn.split("://", 1)[1].rsplit("@", 1)[0]
        if ":" in cred:
            found.append(cred.split(":", 1)[1])
    return [v for p in found for v in {p, unquote(p)} if len(v) >= 3]


def _scrub(message: str, dsn: str) -> str:
    """``message`` with any password of ``dsn`` masked (driver messages can repeat the URL)."""
    for pw in sorted(_passwords(dsn), key=len, reverse=True):
        message = message.replace(pw, "***")
    return message
