"""A synthetic district (or city) for the scale benchmarks: streets, buildings, amenities, parcels.

Not shipped in the wheel; the layout is invented, its sizes follow the Zhangcun River area
in Laoshan (28.6 km2, 12 relocated village communities planned as a whole):

* arterials on a wavy grid (about 600 m apart) cut the district into superblocks; each
  superblock has its own street grid (90-160 m blocks, turned by up to 25 degrees), with
  about one street segment in ten missing (dead ends, long blocks) and footpaths through
  some blocks; a river crosses the district with a pedestrian axis along its bank;
* buildings in rows inside the blocks (set back from the streets), about 30,000 for the
  district; their floors, use and renovation status vary by village community;
* amenities (shops, cafes, clinics, schools, bus stops along the arterials ...), about one
  per ten buildings; parks and plazas in some blocks;
* parcels (one per block of the relocation area) with land use, release year and controls;
  constraints (road red lines, the river, protected buildings); zones (12 communities);
  a DEM rising towards the mountains in the east.

Usage::

    python benchmarks/make_district.py OUT_DIR                   # the 28.6 km2 district (~30,000 buildings)
    python benchmarks/make_district.py OUT_DIR --buildings 1000000   # a city of the same pattern

The folder gets ``project.toml``, ``district.gpkg`` and ``dem.tif``; it is a renewgeo
project (``renewgeo run OUT_DIR``). The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.transform import from_origin

CRS = "EPSG:4549"  # CGCS2000 / 3-degree GK CM 120E, as the Qingdao samples
ORIGIN = (541000.0, 3998000.0)  # south-west corner, near the Zhangcun River in Laoshan
DISTRICT_KM2 = 28.6
DISTRICT_BUILDINGS = 30000
ZONES = 12  # village communities

CATEGORIES = {  # amenity category: weight
    "convenience_store": 14, "restaurant": 14, "cafe": 8, "shop": 10, "supermarket": 3, "market": 2, "pharmacy": 4,
    "clinic": 3, "kindergarten": 3, "childcare": 2, "primary_school": 1.5, "school": 1, "secondary_school": 1,
    "elderly_care": 2, "community_centre": 2, "sports": 2, "toilet": 2, "post": 1.5, "library": 0.7, "cultural": 1,
    "gym": 1.5, "bookstore": 1, "hospital": 0.2,
}
USES = ("residential", "residential", "residential", "commercial", "industrial", "mixed", "public")
LAND_USES = ("residential", "commercial", "industrial", "mixed", "public")
FAR = {"residential": 2.8, "commercial": 3.0, "industrial": 2.0, "mixed": 2.5, "public": 1.5}


def _wavy(p0: np.ndarray, p1: np.ndarray, rng: np.random.Generator, amp: float, n: int = 24) -> shapely.LineString:
    """A line from p0 to p1 with a gentle sideways wave."""
    t = np.linspace(0, 1, n)
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / np.hypot(*d)
    phase, k = rng.uniform(0, 2 * np.pi), rng.uniform(0.7, 1.6)
    off = amp * np.sin(np.pi * k * t + phase) * np.sin(np.pi * t)
    return shapely.LineString(p0 + t[:, None] * d + off[:, None] * normal)


def arterials(side: float, rng: np.random.Generator, spacing: float = 600.0) -> list[shapely.LineString]:
    """Arterial streets: two families of wavy lines across the district."""
    out = []
    n = max(round(side / spacing), 1)
    for i in range(1, n):
        c = i * side / n + rng.uniform(-0.12, 0.12) * spacing
        out.append(_wavy(np.array([c, -1.0]), np.array([c + rng.uniform(-60, 60), side + 1]), rng, 40))
        out.append(_wavy(np.array([-1.0, c]), np.array([side + 1, c + rng.uniform(-60, 60)]), rng, 40))
    return out


def _local_grid(cell: shapely.Polygon, rng: np.random.Generator) -> tuple[list, list]:
    """The street segments and blocks of one superblock: a turned grid clipped to it."""
    ang = math.radians(rng.uniform(-25, 25))
    sx, sy = rng.uniform(90, 160), rng.uniform(80, 140)
    cx, cy = shapely.get_coordinates(cell.centroid)[0]
    r = math.hypot(*(np.array(cell.bounds[2:]) - np.array(cell.bounds[:2]))) / 2 + max(sx, sy)
    xs = np.arange(-r, r + sx, sx) + rng.uniform(0, sx)
    ys = np.arange(-r, r + sy, sy) + rng.uniform(0, sy)
    ca, sa = math.cos(ang), math.sin(ang)

    def rot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([cx + x * ca - y * sa, cy + x * sa + y * ca], axis=-1)

    # cell edges of the turned grid: vertical and horizontal segments
    gx_, gy_ = np.meshgrid(xs, ys[:-1])
    vert = np.stack([rot(gx_, gy_), rot(gx_, gy_ + sy)], axis=-2).reshape(-1, 2, 2)
    gx_, gy_ = np.meshgrid(xs[:-1], ys)
    hor = np.stack([rot(gx_, gy_), rot(gx_ + sx, gy_)], axis=-2).reshape(-1, 2, 2)
    segs = shapely.linestrings(np.concatenate([vert, hor]))
    segs = segs[rng.random(len(segs)) > 0.09]  # missing segments: dead ends and long blocks
    segs = shapely.intersection(segs, cell)
    segs = shapely.get_parts(segs[~shapely.is_empty(segs)])
    segs = segs[shapely.length(segs) > 5]
    gx_, gy_ = np.meshgrid(xs[:-1], ys[:-1])
    corners = np.stack([rot(gx_, gy_), rot(gx_ + sx, gy_), rot(gx_ + sx, gy_ + sy), rot(gx_, gy_ + sy)], axis=-2).reshape(-1, 4, 2)
    blocks = shapely.intersection(shapely.polygons(corners), cell)
    blocks = shapely.get_parts(blocks[~shapely.is_empty(blocks)])
    blocks = blocks[(shapely.get_type_id(blocks) == 3) & (shapely.area(blocks) > 2000)]
    return list(segs), [(b, ang) for b in blocks]


def _buildings_in(block: shapely.Polygon, ang: float, rng: np.random.Generator, density: float) -> np.ndarray:
    """Rectangles in rows inside a block (set back 7 m from its edge), turned like the block's grid."""
    inner = block.buffer(-6.0)
    if inner.is_empty or inner.area < 300:
        return np.zeros(0, dtype=object)
    w, d = rng.uniform(10, 26), rng.uniform(9, 14)
    gx, gy = w + rng.uniform(4, 8), d + rng.uniform(5, 10)
    cx, cy = shapely.get_coordinates(inner.centroid)[0]
    r = math.hypot(*(np.array(inner.bounds[2:]) - np.array(inner.bounds[:2]))) / 2 + gx
    gx_, gy_ = np.meshgrid(np.arange(-r, r, gx), np.arange(-r, r, gy))
    gx_, gy_ = gx_.ravel(), gy_.ravel()
    keep = rng.random(len(gx_)) < density
    gx_, gy_ = gx_[keep], gy_[keep]
    ww = w * rng.uniform(0.7, 1.15, len(gx_))
    dd = d * rng.uniform(0.8, 1.1, len(gx_))
    local = np.stack([np.stack([gx_, gy_], -1), np.stack([gx_ + ww, gy_], -1), np.stack([gx_ + ww, gy_ + dd], -1), np.stack([gx_, gy_ + dd], -1)], 1)
    ca, sa = math.cos(ang), math.sin(ang)
    xy = np.stack([cx + local[..., 0] * ca - local[..., 1] * sa, cy + local[..., 0] * sa + local[..., 1] * ca], -1)
    polys = shapely.polygons(xy)
    return polys[shapely.contains_properly(inner, polys)]


def make(out: Path, *, buildings: int = DISTRICT_BUILDINGS, seed: int = 16) -> dict[str, int]:
    """Write the project into ``out``; returns the number of features per layer."""
    rng = np.random.default_rng(seed)
    km2 = DISTRICT_KM2 * buildings / DISTRICT_BUILDINGS
    side = math.sqrt(km2) * 1000.0
    ox, oy = ORIGIN
    boundary = shapely.box(0, 0, side, side)
    art = arterials(side, rng)
    cells = shapely.get_parts(shapely.polygonize([shapely.union_all([*art, boundary.boundary])]))
    cells = cells[shapely.area(cells) > 5000]
    streets, blocks = [], []
    for cell in cells:
        s, b = _local_grid(cell.buffer(-12.0), rng)  # local streets stop at the arterials' red lines ...
        streets += s
        blocks += b
    # ... and are joined to them by a short stub at every end near an arterial
    ends = shapely.get_coordinates(shapely.boundary(np.array(streets, dtype=object)))
    art_u = shapely.union_all(art)
    near = shapely.distance(shapely.points(ends), art_u) < 20
    stubs = shapely.shortest_line(shapely.points(ends[near]), art_u)
    river = _wavy(np.array([0.15 * side, -1.0]), np.array([0.55 * side, side + 1]), rng, 0.08 * side, n=60)
    axis = shapely.offset_curve(river, 35.0)
    # blocks on the river become the riverside green; a few others parks and plazas
    riverside = river.buffer(60.0)
    on_river = np.array([riverside.intersects(b) for b, _ in blocks])
    kind = np.where(on_river, "green", np.where(rng.random(len(blocks)) < 0.03, "park", np.where(rng.random(len(blocks)) < 0.02,
                                                                                                  "plaza", "built")))
    zones_xy = rng.uniform(0.1, 0.9, (ZONES, 2)) * side
    zones = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(zones_xy), extend_to=boundary))
    zones = shapely.intersection(zones, boundary)
    # buildings: as many rows as the blocks hold, then thinned to `buildings`
    built = [(b, a) for (b, a), k in zip(blocks, kind, strict=True) if k == "built"]
    polys = np.concatenate([_buildings_in(b, a, rng, 1.0) for b, a in built])
    if len(polys) > buildings:
        polys = polys[np.sort(rng.choice(len(polys), buildings, replace=False))]
    n = len(polys)
    cent = shapely.centroid(polys)
    zone_of = shapely.STRtree(zones).query(cent, predicate="within")
    zone_idx = np.zeros(n, dtype=int)
    zone_idx[zone_of[0]] = zone_of[1]
    floors = np.clip(rng.poisson(np.where(zone_idx % 3 == 0, 12, 4)), 1, 40)
    status = rng.choice(["operating", "idle", "renovated", "under_renovation"], n, p=[0.55, 0.15, 0.2, 0.1])
    treatment = np.where(status == "renovated", rng.choice(["facade_upgrade", "full_renovation"], n), "retain")
    use_before = rng.choice(USES, n)
    hh = np.where(use_before == "residential", (shapely.area(polys) * floors / 90).astype(int), 0)
    b = gpd.GeoDataFrame({
        "id": [f"B{i:07d}" for i in range(n)], "zone": [f"Z{z + 1:02d}" for z in zone_idx], "status": status,
        "treatment": treatment, "use_before": use_before, "use_after": np.where(rng.random(n) < 0.2, rng.choice(USES, n), use_before),
        "floors": floors, "phase": rng.choice(["1", "2", "3"], n), "progress_pct": np.round(rng.uniform(0, 100, n), 1),
        "households": hh, "protected": rng.random(n) < 0.004,
    }, geometry=polys, crs=CRS)
    # gfa_m2 given for a third (surveyed), else footprint x floors
    b["gfa_m2"] = np.where(rng.random(n) < 0.33, np.round(shapely.area(polys) * floors * rng.uniform(0.9, 1.05, n), 1), np.nan)
    # amenities: in or beside buildings, and bus stops along the arterials
    n_am = max(n // 10, 50)
    cats = list(CATEGORIES)
    p = np.array(list(CATEGORIES.values()))
    host = rng.choice(n, n_am, replace=False)
    am_pts = shapely.points(shapely.get_coordinates(cent[host]) + rng.normal(0, 3, (n_am, 2)))
    am_cat = rng.choice(cats, n_am, p=p / p.sum())
    stops = [shapely.line_interpolate_point(a, np.arange(150, a.length, 350)) for a in art]
    stop_pts = np.concatenate(stops) if stops else np.zeros(0, dtype=object)
    amen = gpd.GeoDataFrame({
        "id": [f"A{i:06d}" for i in range(n_am + len(stop_pts))],
        "category": np.concatenate([am_cat, np.full(len(stop_pts), "bus_stop")]),
        "building_id": np.concatenate([b["id"].to_numpy()[host], np.full(len(stop_pts), None)]),
    }, geometry=np.concatenate([am_pts, stop_pts]), crs=CRS)
    # paths: arterials, local streets, stubs, footpaths through a third of the built blocks
    foot = [shapely.LineString([bb.exterior.interpolate(0.1, normalized=True), bb.exterior.interpolate(0.6, normalized=True)])
            for (bb, _), k in zip(blocks, kind, strict=True) if k == "built" and rng.random() < 0.15]
    lines = [*art, *streets, *stubs, *foot]
    hw = ["primary"] * len(art) + ["residential"] * len(streets) + ["service"] * len(stubs) + ["footway"] * len(foot)
    width = [40.0] * len(art) + [16.0] * len(streets) + [8.0] * len(stubs) + [4.0] * len(foot)
    paths = gpd.GeoDataFrame({"id": [f"S{i:06d}" for i in range(len(lines))], "highway": hw, "width_m": width},
                             geometry=lines, crs=CRS)
    spaces_geom = [bb.buffer(-5) for (bb, _), k in zip(blocks, kind, strict=True) if k != "built"]
    spaces_kind = [k for k in kind if k != "built"]
    spaces = gpd.GeoDataFrame({"id": [f"O{i:05d}" for i in range(len(spaces_geom))], "space_type": spaces_kind,
                               "walkable": [k == "plaza" for k in spaces_kind], "renewed": rng.random(len(spaces_geom)) < 0.5},
                              geometry=spaces_geom, crs=CRS)
    spaces = spaces[~spaces.geometry.is_empty].reset_index(drop=True)
    # parcels: the blocks of the relocation area (the western half), to the streets' centre lines
    reloc = [bb for (bb, _), k in zip(blocks, kind, strict=True) if k == "built" and shapely.get_coordinates(bb.centroid)[0, 0] < 0.5 * side]
    parcels_geom = np.array(reloc, dtype=object)
    m = len(parcels_geom)
    lu = rng.choice(LAND_USES, m)
    parcels = gpd.GeoDataFrame({
        "id": [f"P{i:05d}" for i in range(m)], "land_use": lu, "release_year": rng.choice(np.arange(2024, 2031), m),
        "phase": rng.choice(["phase 1", "phase 2", "phase 3"], m), "coverage_max": rng.choice([0.3, 0.35, 0.4], m),
        "height_limit_m": rng.choice([24.0, 54.0, 100.0], m),
    }, geometry=parcels_geom, crs=CRS)
    # constraints: red lines of arterials and local streets, the river, protected buildings
    cons_geom = [*art, *streets[: len(streets) // 2], river, *b.geometry[b["protected"]].tolist()]
    cons_type = (["road"] * len(art) + ["road"] * (len(streets) // 2) + ["river"] + ["protected_building"] * int(b["protected"].sum()))
    cons_w = [40.0] * len(art) + [16.0] * (len(streets) // 2) + [30.0] + [np.nan] * int(b["protected"].sum())
    constraints = gpd.GeoDataFrame({"id": [f"C{i:06d}" for i in range(len(cons_geom))], "constraint_type": cons_type,
                                    "road_status": ["existing"] * (len(cons_geom)), "width_m": cons_w},
                                   geometry=cons_geom, crs=CRS)
    zone_frame = gpd.GeoDataFrame({"id": [f"Z{i + 1:02d}" for i in range(len(zones))],
                                   "name": [f"Village community {i + 1}" for i in range(len(zones))]}, geometry=zones, crs=CRS)
    layers = {"buildings": b, "amenities": amen, "paths": paths, "outdoor_spaces": spaces, "parcels": parcels,
              "constraints": constraints, "zones": zone_frame,
              "pedestrian_axis": gpd.GeoDataFrame({"id": ["AX1"], "name": ["Riverside axis"]}, geometry=[axis], crs=CRS)}
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "district.gpkg"
    gpkg.unlink(missing_ok=True)
    for name, g in layers.items():
        g = g.set_geometry(shapely.transform(g.geometry.values, lambda xy: xy + np.array([ox, oy])), crs=CRS)
        g.to_file(gpkg, layer=name, driver="GPKG")
    _dem(out / "dem.tif", side, ox, oy, rng)
    (out / "project.toml").write_text(_toml(buildings, km2), encoding="utf-8")
    return {k: len(v) for k, v in layers.items()}


def _dem(path: Path, side: float, ox: float, oy: float, rng: np.random.Generator, cell: float = 10.0) -> None:
    """A DEM rising towards the mountains in the east, with hills."""
    n = math.ceil(side / cell)
    x = (np.arange(n) + 0.5) / n
    gx_, gy_ = np.meshgrid(x, x[::-1])
    z = 20 + 260 * np.clip(gx_ - 0.55, 0, None) ** 1.5 * 3
    for _ in range(8):
        cx, cy, r, h = *rng.uniform(0, 1, 2), rng.uniform(0.03, 0.12), rng.uniform(10, 60)
        z = z + h * np.exp(-((gx_ - cx) ** 2 + (gy_ - cy) ** 2) / (2 * r * r))
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs=CRS, nodata=-9999.0,
                       transform=from_origin(ox, oy + n * cell, cell, cell), tiled=True, compress="deflate") as dst:
        dst.write(z.astype("float32"), 1)


def _toml(buildings: int, km2: float) -> str:
    name = "district_scale" if buildings <= 100000 else "city_scale"
    return f'''# SYNTHETIC {"district" if name == "district_scale" else "city"} for the scale benchmarks (benchmarks/make_district.py):
# {km2:.1f} km2, about {buildings:,} buildings, 12 village communities. Not real data.

[project]
name = "{name}"
title = "Synthetic {"district" if name == "district_scale" else "city"} ({km2:.1f} km2)"
crs = "{CRS}"
illustrative = true

[layers.buildings]
file = "district.gpkg"
layer = "buildings"

[layers.amenities]
file = "district.gpkg"
layer = "amenities"

[layers.paths]
file = "district.gpkg"
layer = "paths"

[layers.pedestrian_axis]
file = "district.gpkg"
layer = "pedestrian_axis"

[layers.outdoor_spaces]
file = "district.gpkg"
layer = "outdoor_spaces"

[layers.zones]
file = "district.gpkg"
layer = "zones"

[layers.parcels]
kind = "sites"
file = "district.gpkg"
layer = "parcels"

[layers.constraints]
file = "district.gpkg"
layer = "constraints"

[rasters.dem]
file = "dem.tif"
role = "dem"

[release]
far_by_land_use = {{ industrial = 2.0, mixed = 2.5, residential = 2.8, commercial = 3.0, public = 1.5 }}

[[targets]]
id = "renovated_gfa"
label = "Renovated floor area"
layer = "buildings"
where = {{ status = "renovated" }}
measure = "sum(gfa_m2)"
value = {int(buildings * 260):d}
unit = "m2"

[[targets]]
id = "release_2024"
label = "Land released in 2024"
layer = "net_release"
where = {{ release_year = 2024 }}
measure = "sum(net_area_m2)"
value = {max(int(buildings / 60), 10):d}
unit = "mu"
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="folder to write the project into")
    ap.add_argument("--buildings", type=int, default=DISTRICT_BUILDINGS, help="about this many buildings (default 30,000: the district)")
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    t = time.perf_counter()
    counts = make(a.out, buildings=a.buildings, seed=a.seed)
    print(f"{a.out}: {counts} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
