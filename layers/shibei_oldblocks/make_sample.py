"""Generate the illustrative Shibei old-residential-block sample (layers/shibei_oldblocks/).

ILLUSTRATIVE, NOT SURVEYED. An invented grid of old walk-up blocks, of the kind renewed
around Taidong (台东), placed inside the real Shibei district of Qingdao. The district
boundary (../shared/data/qingdao/370203.geojson, GCJ-02) is used only while generating,
after conversion to WGS 84, to check that the area lies inside the district; it is not
copied. Street names are borrowed from real Shibei streets; their layout, the buildings,
the communities and every attribute are made up.

The figures follow the programmes in the brief (sections 3 and 4), scaled to the sample:

* Shibei renews 804 old residential buildings with 45,000 households; the sample is 2/5
  of that: 322 buildings renewed, 18,000 households in them (about 56 per building, as in
  the programme). Shibei's 10 pocket parks and its 11 new + 23 opened car parks with more
  than 6,000 spaces scale to 4 pocket parks, 4 new + 9 opened car parks, 2,400 spaces.
* Shinan adds 215 lifts for 13,000 households: 298 lifts for the sample's 18,000. Its
  3,400 new to 9,100 shared parking spaces split the sample's 2,400 into 650 spaces in new
  car parks and 1,750 spaces shared by 9 buildings (off-peak sharing).
* Childcare: 4 places per 1,000 residents (Shibei).

Baseline layers go to ``shibei_oldblocks.gpkg``; the two plan scenarios, as patch layers
on that baseline (id + action + changed columns), to ``scenarios.gpkg``:
``renewal`` (更新方案: renovation, lifts, parking, pocket parks, sheds removed, a childcare
centre) and ``minimal`` (基本方案: facade upgrades and lifts only).

Run ``python layers/shibei_oldblocks/make_sample.py`` (needs ../shared/data); the output
is the same on every run (seeded randomness, pinned GPKG timestamps).
"""

from __future__ import annotations

import math
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from renewgeo import crs as rcrs  # noqa: E402

CRS = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
DISTRICT = Path(os.environ.get("RENEWGEO_SHIBEI_DISTRICT", ROOT.parent / "shared" / "data" / "qingdao" / "370203.geojson"))
PLACE_WGS84 = (120.352, 36.081)  # near Taidong, the old-block heart of Shibei

RNG = np.random.default_rng(37020315)

# ----------------------------------------------------------------------------- programme figures and the scale
SCALE = 0.4  # the sample is 2/5 of the Shibei programme
SHIBEI = {"buildings": 804, "households": 45000, "pocket_parks": 10, "new_car_parks": 11, "opened_car_parks": 23, "spaces": 6000}
SHINAN = {"households": 13000, "lifts": 215, "parking_new": 3400, "parking_shared": 9100}
RENEWED = round(SHIBEI["buildings"] * SCALE)  # 322
HOUSEHOLDS = round(SHIBEI["households"] * SCALE)  # 18,000
LIFTS = round(SHINAN["lifts"] * HOUSEHOLDS / SHINAN["households"])  # 298
SPACES = round(SHIBEI["spaces"] * SCALE)  # 2,400
SPACES_NEW = round(SPACES * SHINAN["parking_new"] / (SHINAN["parking_new"] + SHINAN["parking_shared"]) / 50) * 50  # 650
SPACES_SHARED = SPACES - SPACES_NEW  # 1,750
POCKET_PARKS = round(SHIBEI["pocket_parks"] * SCALE)  # 4
NEW_CAR_PARKS = round(SHIBEI["new_car_parks"] * SCALE)  # 4
OPENED_CAR_PARKS = round(SHIBEI["opened_car_parks"] * SCALE)  # 9
CHILDCARE_PER_1000 = 4
CHILDCARE_BASELINE = 30  # places in the one nursery the area has

# ----------------------------------------------------------------------------- street grid (local metres)
XS = [-720.0, -480.0, -240.0, 0.0, 240.0, 480.0, 720.0]  # N-S streets
YS = [-380.0, -190.0, 0.0, 190.0, 380.0]  # E-W streets
STREETS = {  # (axis, coordinate): id, name, name_zh, highway, width_m
    ("x", -720.0): ("S01", "Yan'an 3rd Road", "延安三路", "secondary", 30.0),
    ("x", -480.0): ("S02", "Taidong 1st Road", "台东一路", "tertiary", 16.0),
    ("x", -240.0): ("S03", "Taidong 3rd Road pedestrian street", "台东三路步行街", "pedestrian", 20.0),
    ("x", 0.0): ("S04", "Taidong 6th Road", "台东六路", "tertiary", 16.0),
    ("x", 240.0): ("S05", "Taidong 8th Road", "台东八路", "tertiary", 16.0),
    ("x", 480.0): ("S06", "Changxing Road", "长兴路", "tertiary", 16.0),
    ("x", 720.0): ("S07", "Shunxing Road", "顺兴路", "secondary", 24.0),
    ("y", -380.0): ("S08", "Lijin Road", "利津路", "tertiary", 16.0),
    ("y", -190.0): ("S09", "Huayang Road", "华阳路", "tertiary", 16.0),
    ("y", 0.0): ("S10", "Weihai Road", "威海路", "secondary", 24.0),
    ("y", 190.0): ("S11", "Shanghe Road", "商河路", "tertiary", 16.0),
    ("y", 380.0): ("S12", "Changle Road", "昌乐路", "tertiary", 20.0),
}
WX = {c: v[4] for (a, c), v in STREETS.items() if a == "x"}
WY = {c: v[4] for (a, c), v in STREETS.items() if a == "y"}
ZH_NUM = "一二三四五六七八九十"

ROWS = 5  # rows of slabs per block, south to north
ROW_BAND = 12.5  # depth of a row band (slabs 10.5-12.5 m deep)
SETBACK = 5.0  # from the street edge
ALLEY_W = 6.0
ALLEY_CLEAR = 4.0  # from the alley edge to the buildings

# communities (社区): split at Taidong 6th Road (x = 0) and Weihai Road (y = 0)
COMMUNITIES = [  # id, name, name_zh, x0, y0, x1, y1
    ("SQ1", "Huayang Community", "华阳社区", -720.0, -380.0, 0.0, 0.0),
    ("SQ2", "Shunxing Community", "顺兴社区", 0.0, -380.0, 720.0, 0.0),
    ("SQ3", "Shanghe Community", "商河社区", -720.0, 0.0, 0.0, 380.0),
    ("SQ4", "Changle Community", "昌乐社区", 0.0, 0.0, 720.0, 380.0),
]

# what sits where instead of housing: (block i, block j) -> [(key, half, first row, last row)]
RESERVED: dict[tuple[int, int], list[tuple[str, str, int, int]]] = {
    (0, 0): [("green_yanan", "w", 0, 1)],
    (5, 3): [("green_changle", "e", 3, 4)],
    (3, 2): [("primary_school", "w", 0, 4)],
    (0, 1): [("primary_school_west", "w", 0, 4), ("car_park_1", "e", 2, 3)],
    (5, 1): [("primary_school_east", "e", 0, 4), ("car_park_3", "w", 2, 3)],
    (3, 0): [("secondary_school", "w", 0, 4), ("pocket_park_3", "e", 2, 3)],
    (1, 1): [("kindergarten", "e", 1, 2)],
    (2, 1): [("shopping_centre", "w", 3, 4), ("clinic", "e", 4, 4), ("pocket_park_2", "e", 2, 3)],
    (2, 2): [("market", "w", 0, 1), ("community_centre", "e", 1, 2)],
    (1, 2): [("hotel", "e", 0, 1), ("pocket_park_1", "w", 2, 3)],
    (4, 1): [("office_1", "w", 3, 4)],
    (4, 2): [("office_2", "w", 0, 1)],
    (0, 2): [("subdistrict_office", "e", 0, 1)],
    (4, 3): [("elderly_home", "w", 3, 4), ("pocket_park_4", "e", 2, 3)],
    (5, 2): [("warehouse", "w", 2, 3)],
    (3, 3): [("car_park_4", "e", 2, 3)],
}

# non-residential buildings: key (reservation), id, name, name_zh, use, floors, year_built, width, depth, fx, fy (centre
# within the reservation, 0..1), lifts, parking_spaces, parking_shared in the renewal plan
NONRES = [
    ("primary_school", "N01", "Shanghe Road Primary School", "商河路小学", "primary_school", 4, 1986, 62.0, 15.0, 0.5, 0.9, 1, 160, 150),
    ("primary_school", "N02", "Shanghe Road Primary School gymnasium", "商河路小学体育馆", "primary_school", 2, 1995, 36.0, 20.0, 0.3, 0.62, 0, 0, 0),
    ("primary_school_west", "N16", "Yan'an 3rd Road Primary School", "延安三路小学", "primary_school", 4, 1978, 56.0, 15.0, 0.5, 0.9, 0, 0, 0),
    ("primary_school_east", "N17", "Shunxing Road Primary School", "顺兴路小学", "primary_school", 4, 1989, 56.0, 15.0, 0.5, 0.9, 1, 0, 0),
    ("secondary_school", "N03", "Taidong Middle School", "台东中学", "secondary_school", 5, 1984, 70.0, 15.0, 0.5, 0.9, 1, 260, 240),
    ("secondary_school", "N04", "Taidong Middle School teaching block", "台东中学教学楼", "secondary_school", 4, 1992, 50.0, 14.0, 0.4, 0.64, 0, 0, 0),
    ("kindergarten", "N05", "Huayang Kindergarten", "华阳幼儿园", "kindergarten", 3, 1983, 38.0, 16.0, 0.5, 0.5, 0, 0, 0),
    ("shopping_centre", "N06", "Taidong Shopping Centre", "台东购物中心", "retail", 5, 1998, 80.0, 44.0, 0.5, 0.5, 6, 700, 600),
    ("clinic", "N07", "Taidong Community Health Service Centre", "台东社区卫生服务中心", "clinic", 4, 1988, 42.0, 12.0, 0.5, 0.5, 1, 60, 40),
    ("market", "N08", "Taidong Farmers' Market", "台东农贸市场", "market", 2, 1992, 64.0, 32.0, 0.5, 0.5, 0, 200, 180),
    ("community_centre", "N09", "Taidong Community Service Centre", "台东社区综合服务中心", "community_centre", 3, 1979, 44.0, 18.0, 0.5, 0.5, 1, 0, 0),
    ("hotel", "N10", "Weihai Road Hotel", "威海路宾馆", "hotel", 9, 1996, 46.0, 16.0, 0.5, 0.3, 3, 150, 90),
    ("office_1", "N11", "Changxing Building", "长兴大厦", "office", 8, 1994, 42.0, 18.0, 0.5, 0.7, 3, 200, 190),
    ("office_2", "N12", "Weihai Building", "威海大厦", "office", 7, 1997, 40.0, 16.0, 0.5, 0.3, 2, 180, 170),
    ("subdistrict_office", "N13", "Taidong Subdistrict Office", "台东街道办事处", "government", 5, 1987, 42.0, 16.0, 0.5, 0.3, 1, 100, 90),
    ("elderly_home", "N14", "Changle Elderly Care Home", "昌乐养老院", "elderly_care", 4, 1990, 40.0, 15.0, 0.5, 0.5, 1, 0, 0),
    ("warehouse", "N15", "Former No. 3 Supply Depot", "原第三供销仓库", "warehouse", 2, 1962, 40.0, 18.0, 0.5, 0.2, 0, 0, 0),
]
SPORTS_GROUNDS = {  # key: name, name_zh, width, depth, fx, fy
    "primary_school": ("Shanghe Road Primary School sports ground", "商河路小学操场", 80.0, 55.0, 0.5, 0.2),
    "primary_school_west": ("Yan'an 3rd Road Primary School sports ground", "延安三路小学操场", 70.0, 50.0, 0.5, 0.2),
    "primary_school_east": ("Shunxing Road Primary School sports ground", "顺兴路小学操场", 70.0, 50.0, 0.5, 0.2),
    "secondary_school": ("Taidong Middle School sports ground", "台东中学操场", 85.0, 60.0, 0.5, 0.2),
}
GREENS = {  # key: id, name, name_zh
    "green_yanan": ("G1", "Yan'an 3rd Road Garden", "延安三路游园"),
    "green_changle": ("G2", "Changle Road Garden", "昌乐路游园"),
}
POCKET = {  # key: id, name, name_zh, width
    "pocket_park_1": ("PP1", "Shanghe Road pocket park", "商河路口袋公园", 62.0),
    "pocket_park_2": ("PP2", "Huayang Road pocket park", "华阳路口袋公园", 58.0),
    "pocket_park_3": ("PP3", "Lijin Road pocket park", "利津路口袋公园", 60.0),
    "pocket_park_4": ("PP4", "Changle Road pocket park", "昌乐路口袋公园", 56.0),
}
# new car parks of the renewal plan: key, id, name, name_zh, capacity (the first is a new building)
CAR_PARKS = [
    ("car_park_1", "NP1", "Yan'an 3rd Road multi-storey car park", "延安三路立体停车楼", 300),
    ("pocket_park_2", "NP2", "Huayang Road underground car park (under the pocket park)", "华阳路口袋公园地下停车场", 150),
    ("car_park_3", "NP3", "Shunxing Road car park (cleared yard)", "顺兴路停车场", 80),
    ("car_park_4", "NP4", "Shanghe Road mechanical car park", "商河路机械式停车库", 120),
]
SHOP_TYPES = [("Grocery", "杂货店"), ("Clothing", "服装店"), ("Bakery", "面包房"), ("Fruit shop", "水果店"), ("Hardware", "五金店"),
              ("Tea shop", "茶叶店"), ("Stationery", "文具店"), ("Shoe shop", "鞋店"), ("Electronics", "电器行"), ("Tailor", "裁缝铺"),
              ("Optician", "眼镜店"), ("Florist", "花店")]
RESTAURANTS = [("Dumpling house", "饺子馆"), ("Noodle shop", "面馆"), ("Seafood restaurant", "海鲜酒家"), ("Barbecue", "烧烤店"),
               ("Porridge shop", "粥铺"), ("Hot pot", "火锅店"), ("Bun shop", "包子铺"), ("Home cooking", "家常菜馆"),
               ("Beer house", "啤酒屋"), ("Wonton shop", "馄饨店")]


def origin() -> tuple[float, float]:
    if not DISTRICT.exists():
        sys.exit(f"{DISTRICT} is needed to place the sample inside Shibei district (see ../shared/data/README.md)")
    gcj = gpd.read_file(DISTRICT)
    shibei = rcrs.gcj02_to_wgs84_gdf(gcj).to_crs(CRS).geometry.iloc[0]
    x, y = Transformer.from_crs(4326, CRS, always_xy=True).transform(*PLACE_WGS84)
    x0, y0 = round(x, -1), round(y, -1)
    area = box(x0 + XS[0] - 50, y0 + YS[0] - 50, x0 + XS[-1] + 50, y0 + YS[-1] + 50)
    assert shibei.buffer(-200).contains(area), "the old blocks must lie inside Shibei district"
    return x0, y0


X0, Y0 = origin()


def P(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def L(*pts: tuple[float, float]) -> LineString:
    return LineString([(X0 + x, Y0 + y) for x, y in pts])


def B(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def r05(v: float) -> float:
    return round(v * 2) / 2


# ----------------------------------------------------------------------------- blocks
@dataclass
class Block:
    i: int
    j: int
    n: int
    x0: float
    y0: float
    x1: float
    y1: float
    xm: float  # the N-S alley
    rows: list[tuple[float, float]] = field(default_factory=list)
    lane_y: float = 0.0  # the E-W footway between rows 2 and 3
    halves: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"K{self.n:02d}"

    def rect(self, half: str, r0: int, r1: int) -> tuple[float, float, float, float]:
        xa, xb = self.halves[half]
        return xa, self.rows[r0][0], xb, self.rows[r1][1]


def make_blocks() -> list[Block]:
    out = []
    for j in range(len(YS) - 1):
        for i in range(len(XS) - 1):
            x0, x1 = XS[i] + WX[XS[i]] / 2, XS[i + 1] - WX[XS[i + 1]] / 2
            y0, y1 = YS[j] + WY[YS[j]] / 2, YS[j + 1] - WY[YS[j + 1]] / 2
            b = Block(i, j, len(out) + 1, x0, y0, x1, y1, (XS[i] + XS[i + 1]) / 2)
            ya, yb = y0 + SETBACK, y1 - SETBACK
            gap = (yb - ya - ROWS * ROW_BAND) / (ROWS - 1)
            b.rows = [(ya + k * (ROW_BAND + gap), ya + k * (ROW_BAND + gap) + ROW_BAND) for k in range(ROWS)]
            b.lane_y = (b.rows[2][1] + b.rows[3][0]) / 2
            clear = ALLEY_W / 2 + ALLEY_CLEAR
            b.halves = {"w": (x0 + SETBACK, b.xm - clear), "e": (b.xm + clear, x1 - SETBACK)}
            out.append(b)
    return out


def split_row(width: float) -> list[tuple[float, float]]:
    """Slabs along a half-row: (start offset, length), at least 24 m long, 8-14 m apart."""
    u = RNG.random()
    n = 1 if u < 0.12 else 2 if u < 0.82 else 3
    gaps = [r05(RNG.uniform(8, 14)) for _ in range(n - 1)]
    spare = r05(RNG.uniform(0, 6))
    usable = width - sum(gaps) - spare
    if usable < 24 * n:  # no room for three: two
        return split_row(width)
    extra = (usable - 24 * n) * RNG.dirichlet(np.full(n, 6.0))
    lengths = [r05(24 + e) for e in extra[:-1]]
    lengths.append(r05(usable - sum(lengths)))
    start = r05(RNG.uniform(0, spare))
    out = []
    for k, length in enumerate(lengths):
        out.append((start, length))
        start += length + (gaps[k] if k < len(gaps) else 0)
    assert start <= width + 1e-9 and min(length for _, length in out) >= 23.5, (width, out)
    return out


def community_of(x: float, y: float) -> str:
    for cid, _, _, x0, y0, x1, y1 in COMMUNITIES:
        if x0 <= x < x1 and y0 <= y < y1:
            return cid
    raise AssertionError((x, y))


def make_residential(blocks: list[Block]) -> tuple[list[dict], list[dict]]:
    """Residential slabs and the shop strips on the Weihai Road frontage."""
    homes, shops = [], []
    for b in blocks:
        reserved = {(h, r) for _, h, r0, r1 in RESERVED.get((b.i, b.j), []) for r in range(r0, r1 + 1)}
        era = RNG.uniform(1956, 1994)
        for r, (ya, yb) in enumerate(b.rows):
            frontage = (b.j == 1 and r == ROWS - 1) or (b.j == 2 and r == 0)
            for h, (xa, xb) in b.halves.items():
                if (h, r) in reserved:
                    continue
                for off, length in split_row(xb - xa):
                    depth = r05(RNG.uniform(10.5, 12.5)) if not frontage else 12.0
                    cy = (ya + yb) / 2
                    g = (xa + off, cy - depth / 2, xa + off + length, cy + depth / 2)
                    rec = {"block": b, "row": r, "half": h, "rect": g, "length": length}
                    if frontage:
                        rec["floors"] = int(RNG.choice([2, 3], p=[0.6, 0.4]))
                        rec["year_built"] = int(RNG.integers(1984, 2000))
                        shops.append(rec)
                        continue
                    year = int(np.clip(round(era + RNG.normal(0, 4)), 1950, 1999))
                    if year < 1966:
                        floors = int(RNG.choice([4, 5], p=[0.6, 0.4]))
                    elif year < 1980:
                        floors = int(RNG.choice([5, 6], p=[0.5, 0.5]))
                    elif year < 1990:
                        floors = int(RNG.choice([5, 6, 7], p=[0.2, 0.6, 0.2]))
                    else:
                        floors = int(RNG.choice([6, 7], p=[0.5, 0.5]))
                    rec.update(floors=floors, year_built=year)
                    homes.append(rec)
    return homes, shops


def make_buildings(blocks: list[Block]) -> tuple[gpd.GeoDataFrame, dict]:
    """Baseline buildings, and the facts the scenarios need (which are renewed, lifts, sheds ...)."""
    homes, shops = make_residential(blocks)
    res = pd.DataFrame(homes)
    res["footprint"] = [(g[2] - g[0]) * (g[3] - g[1]) for g in res["rect"]]
    res["gfa_m2"] = (res["footprint"] * res["floors"]).round(1)
    res["units"] = np.maximum(2, np.round(res["length"] / 14)).astype(int)
    # the youngest buildings (1990s estates) are not in the programme; the rest are renewed
    order = res.sort_values(["year_built"], ascending=False, kind="stable").index
    res["renewed"] = True
    res.loc[order[: len(res) - RENEWED], "renewed"] = False
    # households: the gross floor area per household that puts exactly HOUSEHOLDS in the renewed buildings
    jitter = RNG.uniform(0.9, 1.1, len(res))
    per = res["gfa_m2"] / jitter
    m2_per_household = per[res["renewed"]].sum() / HOUSEHOLDS
    assert 40 <= m2_per_household <= 70, m2_per_household
    res["households"] = np.round(per / m2_per_household).astype(int)
    diff = HOUSEHOLDS - int(res.loc[res["renewed"], "households"].sum())
    fix = RNG.choice(res.index[res["renewed"]], size=abs(diff), replace=False)
    res.loc[fix, "households"] += int(np.sign(diff))
    res["population"] = np.round(res["households"] * RNG.uniform(2.35, 2.75, len(res))).astype(int)
    res["lifts"] = np.where((res["year_built"] >= 1993) & (res["floors"] == 7), res["units"], 0)
    res = res.reset_index(drop=True)

    rows = []
    count = {c[0]: 0 for c in COMMUNITIES}
    zh_of = {c[0]: c[2] for c in COMMUNITIES}
    en_of = {c[0]: c[1] for c in COMMUNITIES}
    for k, r in res.iterrows():
        x0, y0, x1, y1 = r["rect"]
        zone = community_of((x0 + x1) / 2, (y0 + y1) / 2)
        count[zone] += 1
        rows.append({
            "id": f"R{k + 1:03d}", "name": f"{en_of[zone]} No. {count[zone]}", "name_zh": f"{zh_of[zone]}{count[zone]}号楼",
            "zone": zone, "block": r["block"].id, "status": "operating", "treatment": None,
            "use_before": "residential", "use_after": "residential", "floors": int(r["floors"]),
            "height_m": round(int(r["floors"]) * 2.9, 1), "gfa_m2": float(r["gfa_m2"]), "year_built": int(r["year_built"]),
            "households": int(r["households"]), "population": int(r["population"]), "lifts": int(r["lifts"]), "lifts_added": 0,
            "parking_spaces": 0, "parking_shared": 0, "geometry": B(*r["rect"]),
        })
    facts: dict = {"units": dict(zip([f"R{k + 1:03d}" for k in res.index], res["units"], strict=True)),
                   "renewed": [f"R{k + 1:03d}" for k in res.index[res["renewed"]]], "m2_per_household": m2_per_household}
    for k, s in enumerate(shops):
        x0, y0, x1, y1 = s["rect"]
        zone = community_of((x0 + x1) / 2, (y0 + y1) / 2)
        fl = int(s["floors"])
        rows.append({
            "id": f"C{k + 1:02d}", "name": f"Weihai Road shops {k + 1}", "name_zh": f"威海路沿街商铺{k + 1}", "zone": zone,
            "block": s["block"].id, "status": "operating", "treatment": None, "use_before": "retail", "use_after": "retail",
            "floors": fl, "height_m": round(fl * 3.6, 1), "gfa_m2": round((x1 - x0) * (y1 - y0) * fl, 1),
            "year_built": int(s["year_built"]), "households": 0, "population": 0, "lifts": 0, "lifts_added": 0,
            "parking_spaces": 0, "parking_shared": 0, "geometry": B(*s["rect"]),
        })
    by_key = {(key): (b, h, r0, r1) for b in blocks for key, h, r0, r1 in RESERVED.get((b.i, b.j), [])}
    facts["reserved"] = {key: b.rect(h, r0, r1) for key, (b, h, r0, r1) in by_key.items()}
    facts["reserved_block"] = {key: b for key, (b, *_rest) in by_key.items()}
    facts["shared"] = {}
    for key, bid, name, zh, use, fl, year, w, d, fx, fy, lifts, spaces, shared in NONRES:
        xa, ya, xb, yb = facts["reserved"][key]
        cx = xa + w / 2 + (xb - xa - w) * fx
        cy = ya + d / 2 + (yb - ya - d) * fy
        if key == "warehouse":  # south of the footway that crosses its yard
            cy = ya + d / 2 + 1
        g = (r05(cx - w / 2), r05(cy - d / 2), r05(cx - w / 2) + w, r05(cy - d / 2) + d)
        rows.append({
            "id": bid, "name": name, "name_zh": zh, "zone": community_of(cx, cy), "block": facts["reserved_block"][key].id,
            "status": "idle" if use == "warehouse" else "operating", "treatment": None, "use_before": use, "use_after": use,
            "floors": fl, "height_m": round(fl * 3.6, 1), "gfa_m2": round(w * d * fl, 1), "year_built": year, "households": 0,
            "population": 0, "lifts": lifts, "lifts_added": 0, "parking_spaces": spaces, "parking_shared": 0, "geometry": B(*g),
        })
        if shared:
            facts["shared"][bid] = shared
    facts["nonres_rect"] = {r["id"]: r["geometry"] for r in rows if r["id"].startswith("N")}
    rows += make_sheds(blocks, facts)
    g = gpd.GeoDataFrame(rows, crs=CRS)
    g = g.astype({"treatment": "string"})
    for c in ("floors", "year_built", "households", "population", "lifts", "lifts_added", "parking_spaces", "parking_shared"):
        g[c] = g[c].astype("Int64")
    return g, facts


def make_sheds(blocks: list[Block], facts: dict) -> list[dict]:
    """Illegal sheds (违建): in the yards the plan clears for pocket parks and car parks, and a few in row gaps."""
    keys = [k for k in facts["reserved"] if k.startswith(("pocket_park", "car_park"))]
    rects = []
    for key in sorted(keys):
        xa, ya, xb, yb = facts["reserved"][key]
        b = facts["reserved_block"][key]
        placed = 0
        tries = 0
        while placed < 3 and tries < 200:
            tries += 1
            w, d = r05(RNG.uniform(4, 10)), r05(RNG.uniform(4, 7))
            x, y = r05(RNG.uniform(xa + 2, xb - 2 - w)), r05(RNG.uniform(ya + 1, yb - 1 - d))
            if key == "car_park_1":
                y = r05(RNG.uniform(ya + 1, b.lane_y - 4 - d))  # the new car park goes north of the footway
            if y < b.lane_y + 3 and y + d > b.lane_y - 3:
                continue
            cand = shapely.box(x, y, x + w, y + d)
            if any(cand.distance(o) < 3 for o in rects):
                continue
            rects.append(cand)
            placed += 1
    extra = 0
    while extra < 4:
        b = blocks[int(RNG.integers(len(blocks)))]
        if (b.i, b.j) in RESERVED:
            continue
        h = "w" if RNG.random() < 0.5 else "e"
        xa, xb = b.halves[h]
        w, d = r05(RNG.uniform(5, 9)), 4.0
        ymid = (b.rows[0][1] + b.rows[1][0]) / 2
        x = r05(RNG.uniform(xa + 2, xb - 2 - w))
        cand = shapely.box(x, ymid - d / 2, x + w, ymid + d / 2)
        if any(cand.distance(o) < 3 for o in rects):
            continue
        rects.append(cand)
        extra += 1
    out = []
    for k, r in enumerate(rects):
        x0, y0, x1, y1 = r.bounds
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        blk = next(b for b in blocks if b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1)
        out.append({
            "id": f"W{k + 1:02d}", "name": f"Illegal shed {k + 1}", "name_zh": f"违建棚屋{k + 1}", "zone": community_of(cx, cy),
            "block": blk.id, "status": "operating", "treatment": None, "use_before": "shed", "use_after": "shed", "floors": 1,
            "height_m": 2.8, "gfa_m2": round(r.area, 1), "year_built": None, "households": 0, "population": 0, "lifts": 0,
            "lifts_added": 0, "parking_spaces": 0, "parking_shared": 0, "geometry": B(x0, y0, x1, y1),
        })
    return out


# ----------------------------------------------------------------------------- streets, alleys, footways
def make_paths(blocks: list[Block], facts: dict) -> gpd.GeoDataFrame:
    rows = []
    alley_xs = sorted({b.xm for b in blocks})
    for (axis, c), (sid, name, zh, hw, w) in STREETS.items():
        if axis == "y":  # a vertex wherever an alley or a street meets it
            geom = L(*[(x, c) for x in sorted({*XS, *alley_xs})])
        else:
            geom = L(*[(c, y) for y in sorted({*YS, *(b.lane_y for b in blocks if c in (XS[b.i], XS[b.i + 1]))})])
        rows.append({"id": sid, "name": name, "name_zh": zh, "highway": hw, "width_m": w, "geometry": geom})
    for b in blocks:
        south = STREETS[("y", YS[b.j])]
        rows.append({
            "id": f"A{b.n:02d}", "name": f"{south[1]} Alley {b.i + 1}", "name_zh": f"{south[2]}{ZH_NUM[b.i]}巷",
            "highway": "service", "width_m": ALLEY_W, "geometry": L((b.xm, YS[b.j]), (b.xm, b.lane_y), (b.xm, YS[b.j + 1])),
        })
        school = {h for key, h, *_ in RESERVED.get((b.i, b.j), []) if key.endswith("school")}  # walled: no way through
        pts = [(XS[b.i], b.lane_y)] * ("w" not in school) + [(b.xm, b.lane_y)] + [(XS[b.i + 1], b.lane_y)] * ("e" not in school)
        rows.append({
            "id": f"F{b.n:02d}", "name": f"Block {b.n} footway", "name_zh": f"{b.n}号街坊宅间路", "highway": "footway",
            "width_m": 4.0, "geometry": L(*pts),
        })
    for key, (gid, name, zh) in GREENS.items():
        xa, ya, _, yb = facts["reserved"][key]
        b = facts["reserved_block"][key]
        y = (ya + yb) / 2
        x_street = XS[b.i] if xa < b.xm else XS[b.i + 1]
        rows.append({"id": f"GP{gid[1:]}", "name": f"{name} path", "name_zh": f"{zh}步道", "highway": "footway", "width_m": 3.0,
                     "geometry": L(*sorted([(x_street, y), (b.xm, y)]))})
    return gpd.GeoDataFrame(rows, crs=CRS)


# ----------------------------------------------------------------------------- open spaces
def make_outdoor(facts: dict) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Baseline open spaces (two small gardens, the school grounds) and the plan's pocket parks."""
    rows = []
    for key, (gid, name, zh) in GREENS.items():
        xa, ya, xb, yb = facts["reserved"][key]
        rows.append({"id": gid, "name": name, "name_zh": zh, "space_type": "green", "walkable": True, "renewed": False,
                     "geometry": B(xa + 2, ya + 2, xb - 2, yb - 2)})
    for k, (key, (name, zh, w, d, fx, fy)) in enumerate(SPORTS_GROUNDS.items()):
        xa, ya, xb, yb = facts["reserved"][key]
        cx, cy = xa + w / 2 + (xb - xa - w) * fx, ya + d / 2 + (yb - ya - d) * fy
        rows.append({"id": f"SG{k + 1}", "name": name, "name_zh": zh, "space_type": "sports", "walkable": False,
                     "renewed": False, "geometry": B(r05(cx - w / 2), r05(cy - d / 2), r05(cx - w / 2) + w, r05(cy - d / 2) + d)})
    base = gpd.GeoDataFrame(rows, crs=CRS)
    parks = []
    for key, (pid, name, zh, w) in POCKET.items():
        xa, ya, xb, yb = facts["reserved"][key]
        b = facts["reserved_block"][key]
        x0 = xa + 1 if xa > b.xm else xb - 1 - w  # against the alley
        parks.append({"id": pid, "name": name, "name_zh": zh, "space_type": "pocket_park", "walkable": True, "renewed": True,
                      "geometry": B(x0, ya + 1, x0 + w, yb - 1)})
    return base, gpd.GeoDataFrame(parks, crs=CRS)


# ----------------------------------------------------------------------------- amenities
class Amenities:
    """The amenity rows being built: in a building (its centroid, building_id) or at a point."""

    def __init__(self, buildings: gpd.GeoDataFrame) -> None:
        self.rows: list[tuple] = []
        self.cen = {r.id: r.geometry.centroid for r in buildings.itertuples()}
        self.homes = buildings[buildings["use_before"] == "residential"]
        c = self.homes.geometry.centroid
        self.home_xy = np.column_stack([c.x - X0, c.y - Y0])
        self.used: set[str] = set()
        self.shops = [i for i in buildings["id"] if i.startswith("C")]

    def home_near(self, x: float, y: float) -> str:
        """The residential building nearest (x, y) that holds no amenity yet (a ground-floor shop or station)."""
        for k in np.argsort(np.hypot(self.home_xy[:, 0] - x, self.home_xy[:, 1] - y)):
            bid = str(self.homes["id"].iloc[k])
            if bid not in self.used:
                self.used.add(bid)
                return bid
        raise AssertionError("no building left")

    def add(self, prefix: str, name: str, zh: str, cat: str, bid: str | None = None, at: tuple[float, float] | None = None,
            capacity: int | None = None, hours: float | None = None) -> None:
        k = sum(1 for r in self.rows if r[0].startswith(prefix)) + 1
        g = self.cen[bid] if bid is not None else P(*at)  # type: ignore[misc]
        self.rows.append((f"{prefix}{k:02d}", name, zh, cat, capacity, hours, bid, g))

    def frame(self) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame([{"id": i, "name": n, "name_zh": zh, "category": c, "capacity": cap, "opening_hours_h": hrs,
                                  "building_id": bid, "geometry": g} for i, n, zh, c, cap, hrs, bid, g in self.rows],
                                crs=CRS).astype({"capacity": "Int64"})


def add_public_services(am: Amenities) -> None:
    """Community stations, schools, childcare, elderly care, health."""
    am.add("CC", "Taidong Community Service Centre", "台东社区综合服务中心", "community_centre", "N09", hours=10)
    for name, zh, x, y in (("Huayang", "华阳", -380, -260), ("Shunxing", "顺兴", 360, -240), ("Changle", "昌乐", 360, 250)):
        am.add("CC", f"{name} community service station", f"{zh}社区服务站", "community_centre", am.home_near(x, y), hours=9)
    am.add("LB", "Taidong community library", "台东社区图书室", "library", "N09", hours=9)
    am.add("SC", "Shanghe Road Primary School", "商河路小学", "primary_school", "N01", capacity=1080)
    am.add("SC", "Yan'an 3rd Road Primary School", "延安三路小学", "primary_school", "N16", capacity=810)
    am.add("SC", "Shunxing Road Primary School", "顺兴路小学", "primary_school", "N17", capacity=810)
    am.add("SC", "Taidong Middle School", "台东中学", "secondary_school", "N03", capacity=1350)
    am.add("KG", "Huayang Kindergarten", "华阳幼儿园", "kindergarten", "N05", capacity=270)
    am.add("KG", "Little Tree Kindergarten", "小树幼儿园", "kindergarten", am.home_near(420, 150), capacity=90)
    am.add("CH", "Shanghe Road nursery", "商河路托育点", "childcare", am.home_near(-520, 280), capacity=CHILDCARE_BASELINE, hours=10)
    am.add("EC", "Changle Elderly Care Home", "昌乐养老院", "elderly_care", "N14", capacity=80, hours=24)
    for name, zh, x, y in (("Huayang", "华阳", -140, -280), ("Shunxing", "顺兴", 380, -120), ("Shanghe", "商河", -560, 120)):
        am.add("EC", f"{name} elderly day-care station", f"{zh}社区老年人日间照料站", "elderly_care", am.home_near(x, y),
               capacity=25, hours=10)
    am.add("HC", "Taidong Community Health Service Centre", "台东社区卫生服务中心", "clinic", "N07", hours=12)
    am.add("HC", "Changxing Road clinic", "长兴路诊所", "clinic", am.home_near(560, 240), hours=10)


def add_shops_and_food(am: Amenities) -> None:
    """Market, supermarkets, pharmacies, shops, restaurants, cafes, convenience stores, post."""
    shops = am.shops
    am.add("MK", "Taidong Farmers' Market", "台东农贸市场", "market", "N08", hours=12)
    am.add("SM", "Taidong Shopping Centre supermarket", "台东购物中心超市", "supermarket", "N06", hours=14)
    am.add("SM", "Weihai Road East supermarket", "威海路东超市", "supermarket", shops[-2], hours=14)
    am.add("PH", "Weihai Road pharmacy", "威海路药店", "pharmacy", shops[3], hours=14)
    am.add("PH", "Shanghe Road pharmacy", "商河路药店", "pharmacy", am.home_near(-600, 250), hours=12)
    am.add("PH", "Huayang Road pharmacy", "华阳路药店", "pharmacy", am.home_near(560, -200), hours=12)
    step = max(1, len(shops) // len(SHOP_TYPES))
    for k, (n, zh) in enumerate(SHOP_TYPES):
        am.add("SH", f"{n} (Weihai Road)", f"威海路{zh}", "shop", shops[(k * step + 1) % len(shops)])
    for k, (n, zh) in enumerate(RESTAURANTS):
        if k % 2 == 0:
            am.add("RS", n, zh, "restaurant", shops[(k * step) % len(shops)])
        else:
            am.add("RS", n, zh, "restaurant", am.home_near(-600 + 240 * (k // 2), -120 if k % 4 == 1 else 120))
    for x, y in ((-260, -60), (-220, 60), (-250, 300)):  # on the pedestrian street
        am.add("CF", "Taidong cafe", "台东咖啡", "cafe", am.home_near(x, y))
    for x in (-600, -200, 200, 600):
        for y in (-300, 300):
            am.add("CS", "Convenience store", "便利店", "convenience_store", am.home_near(x, y), hours=24)
    am.add("PO", "Taidong post office", "台东邮政所", "post", shops[len(shops) // 3], hours=9)
    am.add("PO", "Changxing Road post office", "长兴路邮政所", "post", am.home_near(450, 120), hours=9)


def add_street_amenities(am: Amenities, blocks: list[Block], facts: dict) -> None:
    """Bus stops, public toilets, fitness corners, surface parking lots."""
    stops = [("Weihai Road West", "威海路西", -600, -14), ("Taidong 3rd Road", "台东三路", -150, -14),
             ("Weihai Road East", "威海路东", 360, -14), ("Yan'an 3rd Road South", "延安三路南", -703, -250),
             ("Yan'an 3rd Road North", "延安三路北", -703, 250), ("Shunxing Road South", "顺兴路南", 708, -250),
             ("Shunxing Road North", "顺兴路北", 708, 250), ("Changle Road West", "昌乐路西", -360, 368),
             ("Changle Road East", "昌乐路东", 300, 368), ("Lijin Road", "利津路", 120, -368)]
    for n, zh, x, y in stops:
        am.add("BS", f"{n} bus stop", f"{zh}公交站", "bus_stop", at=(x, y))
    for bi, dx in ((2, 4), (7, -4), (16, 4), (21, -4)):  # public toilets beside alleys
        b = blocks[bi]
        am.add("WC", f"Public toilet {b.id}", f"{b.n}号街坊公厕", "toilet", at=(b.xm + dx, (b.rows[0][1] + b.rows[1][0]) / 2))
    for key in GREENS:
        xa, ya, xb, yb = facts["reserved"][key]
        am.add("SP", "Fitness corner", "健身角", "sports", at=((xa + xb) / 2, (ya + yb) / 2))
    b = blocks[1]
    am.add("SP", "Fitness corner", "健身角", "sports", at=(b.xm + 20, b.lane_y))
    for bi, h, cap in ((7, "w", 40), (4, "e", 55), (13, "w", 65)):  # surface lots in row gaps
        b = blocks[bi]
        xa, xb = b.halves[h]
        am.add("PK", f"Block {b.n} parking lot", f"{b.n}号街坊停车场", "parking",
               at=((xa + xb) / 2, (b.rows[0][1] + b.rows[1][0]) / 2), capacity=cap)


def make_amenities(buildings: gpd.GeoDataFrame, blocks: list[Block], facts: dict) -> gpd.GeoDataFrame:
    am = Amenities(buildings)
    add_public_services(am)
    add_shops_and_food(am)
    add_street_amenities(am, blocks, facts)
    return am.frame()


# ----------------------------------------------------------------------------- zones and blocks (sites)
def make_zones(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = []
    for cid, name, zh, x0, y0, x1, y1 in COMMUNITIES:
        sel = buildings[buildings["zone"] == cid]
        rows.append({"id": cid, "name": name, "name_zh": zh, "population": int(sel["population"].sum()),
                     "households": int(sel["households"].sum()), "geometry": B(x0, y0, x1, y1)})
    return gpd.GeoDataFrame(rows, crs=CRS).astype({"population": "Int64", "households": "Int64"})


def make_sites(blocks: list[Block], buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = []
    for b in blocks:
        sel = buildings[buildings["block"] == b.id]
        res = sel["use_before"] == "residential"
        nonres_share = sel.loc[~res & (sel["use_before"] != "shed"), "gfa_m2"].sum() / sel["gfa_m2"].sum()
        rows.append({"id": b.id, "name": f"Block {b.n}", "name_zh": f"{b.n}号街坊",
                     "land_use": "mixed" if nonres_share > 0.3 else "residential",
                     "households": int(sel["households"].sum()), "population": int(sel["population"].sum()),
                     "geometry": B(b.x0, b.y0, b.x1, b.y1)})
    return gpd.GeoDataFrame(rows, crs=CRS).astype({"population": "Int64", "households": "Int64"})


# ----------------------------------------------------------------------------- the scenarios (patch layers)
PATCH_INT = ("floors", "year_built", "households", "population", "lifts", "lifts_added", "parking_spaces", "parking_shared")


def _patch(rows: list[dict], geometry_type: str) -> gpd.GeoDataFrame:
    """A patch layer: id, action, then the changed columns (null = keep the baseline's value)."""
    g = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    g = g[["id", "action", *[c for c in g.columns if c not in ("id", "action", "geometry")], "geometry"]]
    for c in g.columns:
        if c in PATCH_INT or c == "capacity":
            g[c] = g[c].astype("Int64")
        elif c in ("walkable", "renewed"):
            g[c] = g[c].astype("boolean")
        elif c != "geometry" and g[c].dtype == object:
            g[c] = g[c].astype("string")
    g.attrs["geometry_type"] = geometry_type
    return g


def lift_plan(buildings: gpd.GeoDataFrame, facts: dict) -> dict[str, int]:
    """Lifts added, one per stairwell, to LIFTS in all: renewed 5-7 storey buildings without one."""
    b = buildings.set_index("id")
    cand = [i for i in facts["renewed"] if b.at[i, "floors"] >= 5 and b.at[i, "lifts"] == 0]
    # taller buildings first, in random order within a height
    key = {i: (-int(b.at[i, "floors"]), RNG.random()) for i in cand}
    cand.sort(key=lambda i: key[i])
    left, out = LIFTS, {}
    for i in cand:
        u = int(facts["units"][i])
        if u <= left:
            out[i] = u
            left -= u
        if left == 0:
            break
    assert left == 0, left
    return out


def make_scenarios(buildings: gpd.GeoDataFrame, outdoor: gpd.GeoDataFrame, pocket: gpd.GeoDataFrame, facts: dict,
                   population: int) -> tuple[dict[str, gpd.GeoDataFrame], dict]:
    b = buildings.set_index("id")
    lifts = lift_plan(buildings, facts)
    # the oldest fifth (the 1950s-60s blocks) get a full renovation, the rest a facade upgrade
    oldest = sorted(facts["renewed"], key=lambda i: (int(b.at[i, "year_built"]), i))
    full = set(oldest[: round(0.2 * len(oldest))])
    renewal_b, minimal_b = [], []
    for i in facts["renewed"]:
        row = {"id": i, "lifts_added": lifts.get(i), "lifts": (int(b.at[i, "lifts"]) + lifts[i]) if i in lifts else None}
        renewal_b.append({"action": "full_renovation" if i in full else "facade_upgrade", **row})
        minimal_b.append({"action": "facade_upgrade", **row})
    for i, shared in facts["shared"].items():
        renewal_b.append({"id": i, "action": "update", "parking_shared": shared})
    renewal_b.append({"id": "N15", "action": "full_renovation", "use_after": "childcare", "name": "Taidong Childcare Centre",
                      "name_zh": "台东托育中心"})
    for i in buildings.loc[buildings["use_before"] == "shed", "id"]:
        renewal_b.append({"id": i, "action": "demolish"})
    xa, ya, xb, yb = facts["reserved"]["car_park_1"]
    blk = facts["reserved_block"]["car_park_1"]
    w, d, fl = 36.0, 18.0, 5
    x0, y0 = r05((xa + xb - w) / 2), r05(blk.lane_y + 5)
    assert y0 + d <= yb + 6
    renewal_b.append({"id": "NB1", "action": "new_build", "name": "Yan'an 3rd Road multi-storey car park", "name_zh": "延安三路立体停车楼",
                      "zone": community_of(x0, y0), "use_after": "parking", "floors": fl, "height_m": 15.0, "gfa_m2": w * d * fl,
                      "year_built": 2025, "households": 0, "population": 0, "lifts": 1, "lifts_added": 0, "parking_spaces": 300,
                      "parking_shared": 0, "geometry": B(x0, y0, x0 + w, y0 + d)})
    for r in renewal_b + minimal_b:
        r.setdefault("geometry", None)
    # outdoor spaces: pocket parks opened, the two gardens renewed
    renewal_o = [{"action": "add", **r} for r in pocket.to_dict("records")]
    renewal_o += [{"id": gid, "action": "update", "renewed": True, "geometry": None} for gid, *_ in GREENS.values()]
    # amenities: new car parks, the childcare centre, fitness corners in the pocket parks
    need = math.ceil(CHILDCARE_PER_1000 * population / 1000)
    centre = need - CHILDCARE_BASELINE
    renewal_a = []
    pk = pocket.set_index("id")
    for key, aid, name, zh, cap in CAR_PARKS:
        if key == "car_park_1":
            g = shapely.box(X0 + x0, Y0 + y0, X0 + x0 + w, Y0 + y0 + d).centroid
            bid = "NB1"
        elif key in POCKET:
            g = pk.at[POCKET[key][0], "geometry"].centroid
            bid = None
        else:
            xa, ya, xb, yb = facts["reserved"][key]
            g, bid = P((xa + xb) / 2, (ya + yb) / 2), None
        renewal_a.append({"id": aid, "action": "add", "name": name, "name_zh": zh, "category": "parking", "capacity": cap,
                          "opening_hours_h": 24.0, "building_id": bid, "geometry": g})
    renewal_a.append({"id": "NCH1", "action": "add", "name": "Taidong Childcare Centre", "name_zh": "台东托育中心", "category": "childcare",
                      "capacity": centre, "opening_hours_h": 12.0, "building_id": "N15", "geometry": b.at["N15", "geometry"].centroid})
    for pid, *_ in POCKET.values():
        c = pk.at[pid, "geometry"].centroid
        renewal_a.append({"id": f"NSP{pid[2:]}", "action": "add", "name": "Fitness corner", "name_zh": "健身角", "category": "sports",
                          "capacity": None, "opening_hours_h": None, "building_id": None, "geometry": Point(c.x + 12, c.y + 8)})
    patches = {
        "renewal_buildings": _patch(renewal_b, "Polygon"),
        "renewal_outdoor_spaces": _patch(renewal_o, "Polygon"),
        "renewal_amenities": _patch(renewal_a, "Point"),
        "minimal_buildings": _patch(minimal_b, "Polygon"),
    }
    return patches, {"lifts": lifts, "full": full, "childcare_need": need, "childcare_new": centre}


# ----------------------------------------------------------------------------- checks and writing
def check(layers: dict[str, gpd.GeoDataFrame], patches: dict[str, gpd.GeoDataFrame], plan: dict, facts: dict) -> None:
    b = layers["buildings"]
    assert b["id"].is_unique
    res = b[b["use_before"] == "residential"]
    assert 330 <= len(res) <= 400, len(res)
    assert res["floors"].between(4, 7).all() and res["year_built"].between(1950, 1999).all()
    assert ((b.area * b["floors"].astype(float)) - b["gfa_m2"]).abs().max() < 0.06, "footprint x floors must equal GFA"
    tree = shapely.STRtree(b.geometry.values)
    pairs = tree.query(b.geometry.values, predicate="intersects")
    assert (pairs[0] == pairs[1]).all(), "buildings overlap"
    streets = layers["paths"]
    edges = shapely.union_all([g.buffer(w / 2, cap_style="flat") for g, w in zip(streets.geometry, streets["width_m"], strict=True)])
    assert not b.geometry.intersects(edges).any(), ("a building stands on a street, alley or footway", list(b.loc[b.geometry.intersects(edges), "id"]))
    o = pd.concat([layers["outdoor_spaces"], patches["renewal_outdoor_spaces"]], ignore_index=True)
    nonshed = b[b["use_before"] != "shed"]
    assert not nonshed.geometry.intersects(shapely.union_all(o.geometry.values)).any(), "a building on an open space"
    rb = patches["renewal_buildings"]
    ren = rb[rb["action"].isin(["facade_upgrade", "full_renovation"]) & rb["id"].str.startswith("R")]
    assert len(ren) == RENEWED
    assert b.set_index("id").loc[ren["id"], "households"].sum() == HOUSEHOLDS
    assert rb["lifts_added"].sum() == LIFTS
    assert rb["parking_shared"].sum() == SPACES_SHARED and len(facts["shared"]) == OPENED_CAR_PARKS
    ra = patches["renewal_amenities"]
    assert ra.loc[ra["category"] == "parking", "capacity"].sum() == SPACES_NEW and (ra["category"] == "parking").sum() == NEW_CAR_PARKS
    assert (patches["renewal_outdoor_spaces"]["space_type"] == "pocket_park").sum() == POCKET_PARKS
    am = pd.concat([layers["amenities"], patches["renewal_amenities"]], ignore_index=True)
    free = am[am["building_id"].isna()]
    assert not free.geometry.intersects(shapely.union_all(b.geometry.values)).any(), "an amenity without building_id inside a building"
    assert am["id"].is_unique
    new = rb[rb["action"] == "new_build"].geometry.iloc[0]
    assert not b[b["use_before"] != "shed"].geometry.intersects(new).any() and not new.intersects(edges)
    assert len(plan["full"]) == round(0.2 * RENEWED)


def check_project(figures: dict[str, float]) -> None:
    """The targets in project.toml hold the figures this script builds the plan to."""
    with open(HERE / "project.toml", "rb") as f:
        targets = {t["id"]: t["value"] for t in tomllib.load(f)["targets"]}
    wrong = {k: (targets.get(k), v) for k, v in figures.items() if targets.get(k) != v}
    assert not wrong, f"project.toml targets differ from the sample (toml, sample): {wrong}"


def write(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    os.environ["OGR_CURRENT_DATE"] = "2024-06-01T00:00:00Z"
    for name, gdf in layers.items():
        gtype = gdf.attrs.get("geometry_type")
        pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", dataset_options={"VERSION": "1.3"},
                                **({"geometry_type": gtype} if gtype else {}))
    tmp.replace(path)


def main() -> None:
    blocks = make_blocks()
    buildings, facts = make_buildings(blocks)
    paths = make_paths(blocks, facts)
    outdoor, pocket = make_outdoor(facts)
    amenities = make_amenities(buildings, blocks, facts)
    zones = make_zones(buildings)
    sites = make_sites(blocks, buildings)
    population = int(zones["population"].sum())
    patches, plan = make_scenarios(buildings, outdoor, pocket, facts, population)
    base = {"buildings": buildings.drop(columns=["block"]), "paths": paths, "amenities": amenities, "outdoor_spaces": outdoor,
            "zones": zones, "sites": sites}
    check({**base, "buildings": buildings}, patches, plan, facts)
    baseline_lots = int(amenities.loc[amenities["category"] == "parking", "capacity"].sum())
    check_project({"buildings_renewed": RENEWED, "households_renewed": HOUSEHOLDS, "lifts_added": LIFTS,
                   "parking_shared": SPACES_SHARED, "car_park_spaces": baseline_lots + SPACES_NEW, "pocket_parks": POCKET_PARKS,
                   "childcare_places": plan["childcare_need"]})
    write(HERE / "shibei_oldblocks.gpkg", base)
    write(HERE / "scenarios.gpkg", patches)
    res = buildings[buildings["use_before"] == "residential"]
    am = amenities
    print(f"wrote {HERE / 'shibei_oldblocks.gpkg'}: {len(buildings)} buildings ({len(res)} residential, "
          f"{res['households'].sum():,} households, {population:,} residents; {(buildings['use_before'] == 'shed').sum()} sheds), "
          f"{len(paths)} paths, {len(am)} amenities, {len(outdoor)} open spaces, {len(zones)} communities, {len(sites)} blocks; "
          f"{facts['m2_per_household']:.1f} m2 of floor per household")
    print(f"wrote {HERE / 'scenarios.gpkg'}: renewal renews {RENEWED} buildings ({len(plan['full'])} full renovations, "
          f"{HOUSEHOLDS:,} households), {LIFTS} lifts in {len(plan['lifts'])} buildings, {SPACES_NEW} spaces in {NEW_CAR_PARKS} "
          f"new car parks (baseline lots: {am.loc[am['category'] == 'parking', 'capacity'].sum()}), {SPACES_SHARED} shared, "
          f"{POCKET_PARKS} pocket parks, childcare {CHILDCARE_BASELINE} + {plan['childcare_new']} places "
          f"(need {plan['childcare_need']} at {CHILDCARE_PER_1000} per 1,000)")


if __name__ == "__main__":
    main()
