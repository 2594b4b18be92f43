"""Generate the illustrative Shibei relocation-area sample (layers/shibei_relocation/).

ILLUSTRATIVE, NOT SURVEYED. An invented old-enterprise relocation area placed inside
the real Shibei district of Qingdao. The district boundary (../shared/data/qingdao/
370203.geojson, GCJ-02) is used only while generating, after conversion to WGS 84, to
put the area inside the district; it is not copied. The figures follow the brief
(section 3): about 700 mu of parcels, 14 planned supporting roads, historic buildings
of about 50,000 m2 floor area to protect, a river green corridor, release phases
2024-2026 with more than 400 mu released in 2024.

Run ``python layers/shibei_relocation/make_sample.py`` (needs ../shared/data); the
output is the same on every run (seeded randomness, pinned GPKG timestamps).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely.geometry import LineString, box

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from renewgeo import crs as rcrs  # noqa: E402
from renewgeo import land_release  # noqa: E402

CRS = "EPSG:4549"
DISTRICT = Path(os.environ.get("RENEWGEO_SHIBEI_DISTRICT", ROOT.parent / "shared" / "data" / "qingdao" / "370203.geojson"))

RNG = np.random.default_rng(370203)

XS = [-450.0, -150.0, 150.0, 450.0]  # existing N-S roads
YS = [-310.0, 0.0, 310.0]  # existing E-W roads
ROAD_W = {-450.0: 30.0, -150.0: 24.0, 150.0: 24.0, 450.0: 30.0, -310.0: 30.0, 0.0: 24.0, 310.0: 30.0}
ROAD_NAMES = {-450.0: ("Dengzhou Road", "登州路"), -150.0: ("Lianyungang Road", "连云港路"), 150.0: ("Huangdao Road", "黄岛路"),
              450.0: ("Dunhua Road", "敦化路"), -310.0: ("Hangzhou Road", "杭州路"), 0.0: ("Liaoning Road", "辽宁路"),
              310.0: ("Chongqing South Road", "重庆南路")}


def origin() -> tuple[float, float]:
    if not DISTRICT.exists():
        sys.exit(f"{DISTRICT} is needed to place the sample inside Shibei district (see ../shared/data/README.md)")
    gcj = gpd.read_file(DISTRICT)
    shibei = rcrs.gcj02_to_wgs84_gdf(gcj).to_crs(CRS).geometry.iloc[0]
    p = shibei.buffer(-1200).representative_point()
    x0, y0 = round(p.x, -1), round(p.y, -1)
    site = box(x0 - 520, y0 - 380, x0 + 520, y0 + 380)
    assert shibei.contains(site), "the relocation area must lie inside Shibei district"
    return x0, y0


X0, Y0 = origin()


def L(*pts: tuple[float, float]) -> LineString:
    return LineString([(X0 + x, Y0 + y) for x, y in pts])


def B(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def blocks() -> list[tuple[float, float, float, float]]:
    out = []
    for i in range(len(XS) - 1):
        for j in range(len(YS) - 1):
            x0, x1 = XS[i] + ROAD_W[XS[i]] / 2, XS[i + 1] - ROAD_W[XS[i + 1]] / 2
            y0, y1 = YS[j] + ROAD_W[YS[j]] / 2, YS[j + 1] - ROAD_W[YS[j + 1]] / 2
            out.append((x0, y0, x1, y1))
    return out


BLOCK_YEAR = {0: 2024, 1: 2024, 2: 2024, 3: 2024, 4: 2024, 5: 2025}  # block 6: half 2025, half 2026
LAND_USE = ["industrial", "industrial", "mixed", "residential", "commercial", "public"]
FAR_BY_USE = {"industrial": 2.0, "mixed": 2.5, "residential": 2.8, "commercial": 3.0, "public": 1.5}


def make_parcels() -> gpd.GeoDataFrame:
    rows = []
    for b, (x0, y0, x1, y1) in enumerate(blocks()):
        xs = np.sort(np.r_[x0, x0 + (x1 - x0) * np.cumsum(RNG.dirichlet(np.full(5, 6.0)))[:-1], x1])
        ym = y0 + (y1 - y0) * RNG.uniform(0.42, 0.58)
        for k in range(5):
            for r, (ya, yb) in enumerate(((y0, ym), (ym, y1))):
                use = LAND_USE[(b + k + r) % len(LAND_USE)]
                year = BLOCK_YEAR[b] if b < 5 or k < 3 else 2026
                rows.append({
                    "id": f"SB{b + 1}{k * 2 + r + 1:02d}", "name": f"Parcel {b + 1}-{k * 2 + r + 1}",
                    "land_use": use, "release_year": year, "phase": f"phase {year - 2023}",
                    "coverage_max": 0.4, "height_limit_m": 60.0 if use != "industrial" else 24.0,
                    "geometry": B(xs[k], ya, xs[k + 1], yb),
                })
    return gpd.GeoDataFrame(rows, crs=CRS)


def make_constraints(historic: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = []
    for v in XS:
        n, zh = ROAD_NAMES[v]
        rows.append({"name": n, "name_zh": zh, "constraint_type": "road", "road_status": "existing", "width_m": ROAD_W[v],
                     "geometry": L((v, -380), (v, 380))})
    for v in YS:
        n, zh = ROAD_NAMES[v]
        rows.append({"name": n, "name_zh": zh, "constraint_type": "road", "road_status": "existing", "width_m": ROAD_W[v],
                     "geometry": L((-520, v), (520, v))})
    # the 14 planned supporting roads (支路): red lines through the old factory blocks
    planned = [
        ((-300, -310), (-300, 0)), ((0, -310), (0, 0)), ((300, -310), (300, 0)),
        ((-300, 0), (-300, 310)), ((0, 0), (0, 310)), ((300, 0), (300, 310)),
        ((-450, -160), (-150, -160)), ((-150, -150), (150, -150)), ((150, -170), (450, -170)),
        ((-450, 150), (-150, 150)), ((-150, 160), (150, 160)), ((150, 150), (450, 150)),
        ((-150, 60), (-60, 120)), ((60, -120), (150, -60)),
    ]
    for i, (a, b_) in enumerate(planned):
        rows.append({"name": f"Planned road {i + 1}", "name_zh": f"规划支路{i + 1}", "constraint_type": "road",
                     "road_status": "planned", "width_m": 12.0, "geometry": L(a, b_)})
    # Haibo river: a culverted creek reopened as a green corridor, 20 m setback each side
    rows.append({"name": "Haibo River", "name_zh": "海泊河", "constraint_type": "river", "road_status": None, "buffer_m": 20.0,
                 "geometry": L((-520, -300), (-250, -200), (0, -60), (250, 60), (520, 250))})
    for r in historic.itertuples():
        rows.append({"name": r.name, "name_zh": r.name_zh, "constraint_type": "protected_building", "road_status": None,
                     "buffer_m": 5.0, "geometry": r.geometry})

    g = gpd.GeoDataFrame(rows, crs=CRS)
    g.insert(0, "id", [f"C{i + 1:03d}" for i in range(len(g))])
    return g


def make_buildings(parcels: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Historic halls (protected, about 50,000 m2) and old sheds for the efficiency screen."""
    hist_spots = [(-380, -250), (-330, 60), (-250, 230), (-60, 230), (60, 240), (200, 230), (330, 240),
                  (380, 60), (250, -250), (-60, -240), (70, 80), (-230, -80)]
    gfa = [5000, 4200, 3600, 4800, 3900, 4400, 4100, 3800, 4300, 4000, 3900, 4000]  # 50,000 m2
    rows = []
    for i, ((x, y), g) in enumerate(zip(hist_spots, gfa, strict=True)):
        floors = 2 if g < 4200 else 3
        fp = g / floors
        w = np.sqrt(fp * 1.6)
        rows.append({"id": f"H{i + 1:02d}", "name": f"Historic hall {i + 1}", "name_zh": f"历史建筑{i + 1}", "status": "idle",
                     "use_before": "industrial", "floors": floors, "gfa_m2": float(g), "protected": True,
                     "geometry": B(x - w / 2, y - fp / w / 2, x + w / 2, y + fp / w / 2)})
    historic = gpd.GeoDataFrame(rows, crs=CRS)
    sheds = []
    occupied = shapely.union_all(historic.buffer(15).geometry.values)
    for p in parcels.itertuples():
        c = p.geometry.representative_point()
        shed = shapely.box(c.x - 25, c.y - 15, c.x + 25, c.y + 15)
        if shed.intersects(occupied):
            continue
        status = ["idle", "operating", "idle"][len(sheds) % 3]
        sheds.append({"id": f"S{len(sheds) + 1:03d}", "name": f"Shed {len(sheds) + 1}", "name_zh": None, "status": status,
                      "use_before": "industrial", "floors": 1, "gfa_m2": 1500.0, "protected": False, "geometry": shed})
    return historic, gpd.GeoDataFrame(pd_concat([historic, gpd.GeoDataFrame(sheds, crs=CRS)]), crs=CRS)


def pd_concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)


def main() -> None:
    parcels = make_parcels()
    historic, buildings = make_buildings(parcels)
    constraints = make_constraints(historic)
    gross_mu = parcels.area.sum() / (10000 / 15)
    assert 40 <= len(parcels) <= 80 and 550 <= gross_mu <= 700, (len(parcels), gross_mu)
    assert abs(historic["gfa_m2"].sum() - 50000) < 1e-6
    assert (constraints["road_status"] == "planned").sum() == 14
    net = land_release.release(parcels, constraints, far_by_land_use=FAR_BY_USE)
    by_year = land_release.release_by_year(net)
    assert by_year.loc[2024, "net_area_mu"] > 400, by_year
    out = HERE / "shibei_relocation.gpkg"
    tmp = out.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    os.environ["OGR_CURRENT_DATE"] = "2024-06-01T00:00:00Z"
    for name, gdf in (("parcels", parcels), ("constraints", constraints), ("buildings", buildings)):
        pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", dataset_options={"VERSION": "1.3"})
    tmp.replace(out)
    print(f"wrote {out}: {len(parcels)} parcels ({gross_mu:.0f} mu gross), {len(constraints)} constraints, "
          f"{len(buildings)} buildings; net release by year (mu): {by_year['net_area_mu'].round(1).to_dict()}")


if __name__ == "__main__":
    main()
