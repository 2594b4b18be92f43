"""Generate the illustrative Chuangchuangyi sample project (layers/chuangchuangyi/).

ILLUSTRATIVE, NOT SURVEYED. The layout is invented; only its figures follow the
reports digested in ../shared/BRIEF.md section 1 (26 renewed buildings, 180,000 m2
renovated floor area, 80,000 m2 tech office, 20,000 m2 commercial, a 4,000 m2
16-hour childcare centre, 80,000 m2 of renewed outdoor space, 600 parking spaces,
a 1.0 km landscape corridor, a 1.8 km fitness trail, 8 sports facilities).

Run ``python layers/chuangchuangyi/make_sample.py`` to rebuild ``chuangchuangyi.gpkg``;
the output is the same on every run (no randomness; GPKG timestamps pinned).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

HERE = Path(__file__).resolve().parent
CRS = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E

# Local frame: metres east/north of a point near 120.2 E, 36.0 N (Huangdao, Qingdao FTZ).
_x, _y = Transformer.from_crs(4326, CRS, always_xy=True).transform(120.2, 36.0)
X0, Y0 = round(_x, -1), round(_y, -1)


def at(x: float, y: float) -> tuple[float, float]:
    return (X0 + x, Y0 + y)


def rect(cx: float, cy: float, w: float, d: float) -> shapely.Polygon:
    return box(X0 + cx - w / 2, Y0 + cy - d / 2, X0 + cx + w / 2, Y0 + cy + d / 2)


def line(*pts: tuple[float, float]) -> LineString:
    return LineString([at(*p) for p in pts])


# ----------------------------------------------------------------------------- layout
SITE = (-320.0, -465.0, 320.0, 465.0)
ZONES = [
    ("Z1", "Shared social zone", "共享社交区", -465.0, -150.0),
    ("Z2", "Fashion & art zone", "时尚艺术区", -150.0, 150.0),
    ("Z3", "Technology vitality zone", "科技活力区", 150.0, 465.0),
]
COLS = {0: (-250.0, 80.0), 1: (-85.0, 120.0), 2: (85.0, 120.0), 3: (235.0, 90.0)}  # centre, max width
ROWS = {0: -380.0, 1: -225.0, 2: -75.0, 3: 75.0, 4: 225.0, 5: 380.0}
MAX_DEPTH = 100.0

# id, name, zone, col, row, slot (None | "w" | "e"), use_before, use_after, gfa_m2, floors,
# status_before, status, progress_pct, phase
B = [
    ("B01", "Chuang 01", "Z1", 1, 1, None, "industrial", "commercial", 5000, 2, "idle", "renovated", 100, "1"),
    ("B02", "Chuang 02", "Z1", 2, 1, None, "industrial", "childcare", 4000, 2, "idle", "renovated", 100, "1"),
    ("B03", "Chuang 03", "Z1", 3, 1, None, "warehouse", "public_service", 6000, 3, "operating", "operating", 100, "1"),
    ("B04", "Chuang 04", "Z1", 1, 0, None, "industrial", "sports", 4000, 1, "idle", "renovated", 100, "1"),
    ("B05", "Chuang 05", "Z1", 2, 0, None, "industrial", "exhibition", 4000, 2, "operating", "operating", 60, "2"),
    ("B06", "Chuang 06", "Z1", 0, 1, None, "office", "cultural", 3000, 3, "idle", "renovated", 100, "1"),
    ("B07", "Chuang 07", "Z1", 0, 0, None, "warehouse", "parking", 8000, 4, "idle", "under_renovation", 40, "2"),
    ("B08", "Chuang 08", "Z2", 0, 2, None, "industrial", "commercial", 8000, 4, "idle", "renovated", 100, "1"),
    ("B09", "Chuang 09", "Z2", 0, 3, None, "industrial", "commercial", 7000, 4, "operating", "operating", 100, "1"),
    ("B10", "Chuang 10", "Z2", 1, 3, "w", "industrial", "creative_studio", 5000, 3, "idle", "renovated", 100, "1"),
    ("B11", "Chuang 11", "Z2", 1, 3, "e", "industrial", "creative_studio", 5000, 3, "idle", "under_renovation", 50, "2"),
    ("B12", "Chuang 12", "Z2", 2, 3, None, "industrial", "creative_studio", 5000, 3, "operating", "operating", 40, "2"),
    ("B13", "Chuang 13", "Z2", 3, 3, None, "industrial", "exhibition", 4500, 2, "idle", "under_renovation", 30, "2"),
    ("B14", "Chuang 14", "Z2", 1, 2, None, "industrial", "creative_studio", 5000, 3, "idle", "under_renovation", 20, "3"),
    ("B15", "Chuang 15", "Z2", 2, 2, "w", "industrial", "creative_studio", 5000, 3, "operating", "operating", 30, "2"),
    ("B16", "Chuang 16", "Z2", 2, 2, "e", "industrial", "exhibition", 4500, 2, "idle", "under_renovation", 10, "3"),
    ("B17", "Chuang 17", "Z2", 3, 2, None, "industrial", "public_service", 5000, 2, "idle", "under_renovation", 20, "3"),
    ("B18", "Chuang 18", "Z3", 0, 4, None, "industrial", "tech_office", 10000, 5, "operating", "operating", 100, "1"),
    ("B19", "Chuang 19", "Z3", 1, 4, None, "industrial", "tech_office", 10000, 5, "idle", "renovated", 100, "1"),
    ("B20", "Chuang 20", "Z3", 2, 4, None, "industrial", "tech_office", 10000, 5, "operating", "operating", 50, "2"),
    ("B21", "Chuang 21", "Z3", 3, 4, None, "industrial", "tech_office", 10000, 5, "idle", "under_renovation", 30, "2"),
    ("B22", "Chuang 22", "Z3", 0, 5, None, "industrial", "tech_office", 10000, 5, "operating", "operating", 40, "2"),
    ("B23", "Chuang 23", "Z3", 1, 5, "w", "industrial", "tech_office", 10000, 5, "idle", "under_renovation", 34, "3"),
    ("B24", "Chuang 24", "Z3", 1, 5, "e", "warehouse", "apartment", 12000, 8, "operating", "operating", 10, "3"),
    ("B25", "Chuang 25", "Z3", 2, 5, None, "industrial", "tech_office", 10000, 5, "idle", "under_renovation", 40, "3"),
    ("B26", "Chuang 26", "Z3", 3, 5, None, "industrial", "tech_office", 10000, 5, "idle", "renovated", 100, "1"),
]
ZH_USE = {
    "tech_office": "科技办公",
    "commercial": "商业服务",
    "childcare": "托育",
    "apartment": "人才公寓",
    "creative_studio": "创意工作室",
    "exhibition": "展览",
    "cultural": "文化",
    "sports": "体育",
    "public_service": "公共服务",
    "parking": "停车",
}


def building_shape(col: int, row: int, slot: str | None, footprint: float) -> shapely.Polygon:
    cx, wmax = COLS[col]
    if slot:
        wmax = wmax / 2 - 5
        cx = cx - wmax / 2 - 5 if slot == "w" else cx + wmax / 2 + 5
    # depth first (up to 100 m), width what remains; both rounded to 0.5 m footprints
    d = min(MAX_DEPTH, max(30.0, math.sqrt(footprint * 1.25)))
    w = footprint / d
    if w > wmax:
        w = wmax
        d = footprint / w
    assert w <= wmax + 1e-9 and d <= MAX_DEPTH + 1e-9, (col, row, slot, footprint, w, d)
    return rect(cx, ROWS[row], w, d)


def make_buildings() -> gpd.GeoDataFrame:
    rows = []
    for bid, name, zone, col, row, slot, ub, ua, gfa, floors, sb, st, prog, phase in B:
        geom = building_shape(col, row, slot, gfa / floors)
        fh = 4.5 if ub in ("industrial", "warehouse") else 3.6
        rows.append(
            {
                "id": bid,
                "name": name,
                "name_zh": name.replace("Chuang ", "闯创") + ("（原市政办公楼，鱼湾路）" if bid == "B06" else ""),
                "zone": zone,
                "use_before": ub,
                "use_after": ua,
                "use_after_zh": ZH_USE[ua],
                "status_before": sb,
                "status": st,
                "treatment": "facade_upgrade" if sb == "operating" else "full_renovation",
                "LAYERS": floors,  # the planner's own column name, mapped to `floors` in project.toml
                "height_m": round(floors * fh, 1),
                "gfa_m2": float(gfa),
                "phase": phase,
                "progress_pct": float(prog),
                "households": 160 if ua == "apartment" else 0,
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, crs=CRS)


STREETS = [  # id, name, name_zh, highway, width_m, points
    (
        "S01",
        "Yuwan Road",
        "鱼湾路",
        "secondary",
        30.0,
        [(-340, -780), (-340, -480), (-340, -300), (-340, 0), (-340, 300), (-340, 480), (-340, 780)],
    ),
    (
        "S02",
        "Park East Road",
        "园区东路",
        "tertiary",
        24.0,
        [(340, -780), (340, -480), (340, -300), (340, 0), (340, 300), (340, 480), (340, 780)],
    ),
    (
        "S03",
        "Park North Road",
        "园区北路",
        "tertiary",
        24.0,
        [(-640, 480), (-340, 480), (-170, 480), (0, 480), (170, 480), (340, 480), (640, 480)],
    ),
    (
        "S04",
        "Park South Road",
        "园区南路",
        "tertiary",
        24.0,
        [(-640, -480), (-340, -480), (-170, -480), (0, -480), (170, -480), (340, -480), (640, -480)],
    ),
    ("S05", "West Avenue", "西大街", "secondary", 30.0, [(-640, -780), (-640, -480), (-640, 480), (-640, 780)]),
    ("S06", "East Avenue", "东大街", "secondary", 30.0, [(640, -780), (640, -480), (640, 480), (640, 780)]),
    ("S07", "North Street", "北街", "residential", 16.0, [(-640, 780), (-340, 780), (340, 780), (640, 780)]),
    ("S08", "South Street", "南街", "residential", 16.0, [(-640, -780), (-340, -780), (340, -780), (640, -780)]),
]
INTERNAL = [  # id, name, highway, width_m, points
    ("P01", "South lane", "footway", 6.0, [(-340, -300), (-170, -300), (0, -300), (170, -300), (340, -300)]),
    ("P02", "Central lane", "footway", 6.0, [(-340, 0), (-170, 0), (0, 0), (170, 0), (340, 0)]),
    ("P03", "North lane", "footway", 6.0, [(-340, 300), (-170, 300), (0, 300), (170, 300), (340, 300)]),
    ("P04", "West walk", "footway", 4.0, [(-170, -480), (-170, -300), (-170, 0), (-170, 300), (-170, 480)]),
    ("P05", "East walk", "footway", 4.0, [(170, -480), (170, -300), (170, 0), (170, 300), (170, 480)]),
]
AXIS = [(0, -480), (0, -300), (0, 0), (0, 300), (0, 480)]
CORRIDOR = [(300, -450), (300, 450), (200, 450)]  # 900 m + 100 m = 1.0 km
TRAIL = [(-305, -150), (295, -150), (295, 150), (-305, 150), (-305, -150)]  # 600 x 300 m loop = 1.8 km


def make_lines() -> dict[str, gpd.GeoDataFrame]:
    paths = [
        {"id": i, "name": n, "name_zh": zh, "highway": hw, "width_m": w, "geometry": line(*pts)}
        for i, n, zh, hw, w, pts in STREETS
    ]
    paths += [
        {"id": i, "name": n, "name_zh": None, "highway": hw, "width_m": w, "geometry": line(*pts)}
        for i, n, hw, w, pts in INTERNAL
    ]
    return {
        "paths": gpd.GeoDataFrame(paths, crs=CRS),
        "pedestrian_axis": gpd.GeoDataFrame(
            [
                {
                    "id": "AX1",
                    "name": "North-south pedestrian axis",
                    "name_zh": "南北步行轴",
                    "width_m": 30.0,
                    "geometry": line(*AXIS),
                }
            ],
            crs=CRS,
        ),
        "landscape_corridor": gpd.GeoDataFrame(
            [{"id": "LC1", "name": "Landscape corridor", "name_zh": "景观廊道", "width_m": 24.0, "geometry": line(*CORRIDOR)}],
            crs=CRS,
        ),
        "trails": gpd.GeoDataFrame(
            [
                {
                    "id": "TR1",
                    "name": "Fitness walking trail",
                    "name_zh": "健身步道",
                    "trail_type": "fitness",
                    "width_m": 3.0,
                    "geometry": line(*TRAIL),
                }
            ],
            crs=CRS,
        ),
    }


def make_outdoor(corridor: LineString) -> gpd.GeoDataFrame:
    spaces = [
        ("O02", "Corridor green", "廊道绿带", "green", corridor.buffer(12, cap_style="flat", join_style="mitre")),
        ("O03", "Sports ground", "运动场", "sports", rect(237.5, -385, 95, 110)),
        ("O04", "Fashion & art plaza (east)", "时尚艺术广场（东）", "plaza", rect(87.5, 0, 145, 40)),
        ("O05", "Fashion & art plaza (west)", "时尚艺术广场（西）", "plaza", rect(-87.5, 0, 145, 40)),
        ("O06", "Tech lawn", "科创草坪", "green", rect(-87.5, 300, 145, 40)),
        ("O07", "Shared social garden", "共享社交花园", "green", rect(87.5, -300, 145, 40)),
    ]
    # The promenade along the axis takes the width that closes the total to the
    # reported 80,000 m2 of renewed outdoor space (about 24 m).
    width = (80000.0 - sum(g.area for *_, g in spaces)) / 930.0
    assert 15 < width < 30, width
    spaces.insert(0, ("O01", "Axis promenade", "轴线步行广场", "plaza", rect(0, 0, width, 930)))
    return gpd.GeoDataFrame(
        [
            {"id": i, "name": n, "name_zh": zh, "space_type": t, "walkable": t != "sports", "renewed": True, "geometry": g}
            for i, n, zh, t, g in spaces
        ],
        crs=CRS,
    )


def make_amenities(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    cen = {r.id: r.geometry.centroid for r in buildings.itertuples()}

    def near(bid: str, dx: float = 0.0, dy: float = 0.0) -> Point:
        c = cen[bid]
        return Point(c.x + dx, c.y + dy)

    a = [
        ("A01", "Chuang 06 Bookstore", "闯06书店", "bookstore", None, 12.0, 1500.0, "B06", near("B06")),
        ("A02", "Axis Cafe", "轴线咖啡", "cafe", 60, 12.0, None, "B09", near("B09", 15)),
        ("A03", "Studio Cafe", "工作室咖啡", "cafe", 40, 10.0, None, "B10", near("B10")),
        ("A04", "Tech Cafe", "科创咖啡", "cafe", 50, 12.0, None, "B19", near("B19")),
        ("A05", "Social Kitchen", "共享食堂", "restaurant", 200, 14.0, None, "B01", near("B01", -15)),
        ("A06", "Harbour Noodles", "港湾面馆", "restaurant", 80, 12.0, None, "B01", near("B01", 15)),
        ("A07", "Art Bistro", "艺术餐厅", "restaurant", 90, 12.0, None, "B08", near("B08")),
        ("A08", "Makers Grill", "创客烧烤", "restaurant", 120, 10.0, None, "B09", near("B09", -15)),
        ("A09", "Chuang Gym", "闯创健身房", "gym", 150, 16.0, None, "B04", near("B04")),
        ("A10", "16-hour Childcare Centre", "16小时托育中心", "childcare", 200, 16.0, 4000.0, "B02", near("B02")),
        ("A11", "Convenience Store", "便利店", "convenience_store", None, 24.0, None, "B03", near("B03")),
        ("A12", "Park Clinic", "园区诊所", "clinic", None, 10.0, None, "B17", near("B17")),
    ]
    sports = [
        ("basketball court", "篮球场", 215, -360),
        ("badminton courts", "羽毛球场", 260, -360),
        ("tennis court", "网球场", 215, -410),
        ("five-a-side pitch", "五人制足球场", 260, -410),
        ("table tennis", "乒乓球台", 237, -385),
        ("fitness station north", "健身站（北）", 0, 150),
        ("fitness station west", "健身站（西）", -305, 0),
        ("climbing wall", "攀岩墙", 295, -75),
    ]
    for i, (n, zh, x, y) in enumerate(sports):
        a.append((f"SP{i + 1}", n.capitalize(), zh, "sports", None, 16.0, None, None, Point(*at(x, y))))
    parks = [
        ("Garage (Chuang 07)", "闯创07停车楼", 250, near("B07")),
        ("North car park", "北停车场", 120, Point(*at(-100, 455))),
        ("South car park", "南停车场", 100, Point(*at(-100, -455))),
        ("East car park", "东停车场", 80, Point(*at(315, 200))),
        ("West car park", "西停车场", 50, Point(*at(-315, -150))),
    ]
    for i, (n, zh, cap, g) in enumerate(parks):
        a.append((f"PK{i + 1}", n, zh, "parking", cap, 24.0, None, "B07" if i == 0 else None, g))
    stops = [
        ("Yuwan Road South", "鱼湾路南", -352, -200),
        ("Yuwan Road North", "鱼湾路北", -352, 200),
        ("Park North Road", "园区北路", 0, 492),
        ("Park East Road", "园区东路", 352, 0),
    ]
    for i, (n, zh, x, y) in enumerate(stops):
        a.append((f"BS{i + 1}", f"{n} bus stop", f"{zh}公交站", "bus_stop", None, 18.0, None, None, Point(*at(x, y))))
    context = [
        # context services in the surrounding blocks, each beside a street
        ("Neighbourhood supermarket", "社区超市", "supermarket", -500, 495),
        ("Pharmacy", "药店", "pharmacy", 500, -495),
        ("Community health station", "社区卫生服务站", "clinic", -500, -765),
        ("Kindergarten", "幼儿园", "kindergarten", 500, 765),
        ("Primary school", "小学", "primary_school", -500, 765),
        ("Community centre", "社区服务中心", "community_centre", 655, -620),
        ("Middle school", "初级中学", "secondary_school", -655, 300),
        ("Elderly day-care centre", "老年人日间照料中心", "elderly_care", 655, 300),
        ("Community library", "社区图书馆", "library", 150, 495),
        ("North pharmacy", "北药店", "pharmacy", -200, 495),
    ]


    for i, (n, zh, cat, x, y) in enumerate(context):
        a.append((f"C{i + 1:02d}", n, zh, cat, None, None, None, None, Point(*at(x, y))))
    return gpd.GeoDataFrame(
        [
            {
                "id": i,
                "name": n,
                "name_zh": zh,
                "category": c,
                "capacity": cap,
                "opening_hours_h": hrs,
                "gfa_m2": gfa,
                "building_id": b,
                "geometry": g,
            }
            for i, n, zh, c, cap, hrs, gfa, b, g in a
        ],
        crs=CRS,
    )


def make_zones_site() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    x0, _, x1, _ = SITE
    zones = gpd.GeoDataFrame(
        [{"id": i, "name": n, "name_zh": zh, "geometry": box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)} for i, n, zh, y0, y1 in ZONES],
        crs=CRS,
    )
    site = gpd.GeoDataFrame(
        [
            {
                "id": "SITE",
                "name": "Chuangchuangyi Science & Innovation Park",
                "name_zh": "闯创驿·科创园",
                "land_use": "industrial_renewal",
                "geometry": box(*(X0 + SITE[0], Y0 + SITE[1], X0 + SITE[2], Y0 + SITE[3])),
            }
        ],
        crs=CRS,
    )
    return zones, site


def check(layers: dict[str, gpd.GeoDataFrame]) -> None:
    b = layers["buildings"]
    assert len(b) == 26
    assert abs(b["gfa_m2"].sum() - 180000) < 1e-6
    assert abs((b.area * b["LAYERS"]).sum() - 180000) < 1e-3, "footprint x floors must equal GFA"
    for i, gi in enumerate(b.geometry):
        for gj in b.geometry.iloc[i + 1 :]:
            assert not gi.intersects(gj), "buildings overlap"
    o = layers["outdoor_spaces"]
    assert abs(o.area.sum() - 80000) < 1e-3
    assert shapely.union_all(o.geometry.values).area > o.area.sum() - 1e-3, "outdoor spaces overlap"
    assert not b.geometry.intersects(shapely.union_all(o.geometry.values)).any(), "building on an outdoor space"
    net = shapely.union_all([*layers["paths"].geometry, *layers["pedestrian_axis"].geometry])
    assert not b.geometry.intersects(net).any(), "a path crosses a building"
    assert abs(layers["landscape_corridor"].length.sum() - 1000) < 1e-6
    assert abs(layers["trails"].length.sum() - 1800) < 1e-6
    am = layers["amenities"]
    assert am.loc[am.category == "parking", "capacity"].sum() == 600
    assert (am.category == "sports").sum() == 8


def main() -> None:
    buildings = make_buildings()
    lines = make_lines()
    outdoor = make_outdoor(lines["landscape_corridor"].geometry.iloc[0])
    zones, site = make_zones_site()
    layers = {
        "buildings": buildings,
        **lines,
        "amenities": make_amenities(buildings),
        "outdoor_spaces": outdoor,
        "zones": zones,
        "site": site,
    }
    check(layers)
    out = HERE / "chuangchuangyi.gpkg"
    tmp = out.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    os.environ["OGR_CURRENT_DATE"] = "2024-06-01T00:00:00Z"  # reproducible GPKG timestamps
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", dataset_options={"VERSION": "1.3"})
    tmp.replace(out)
    print(f"wrote {out} ({', '.join(f'{k}={len(v)}' for k, v in layers.items())})")


if __name__ == "__main__":
    main()
