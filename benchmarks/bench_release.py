"""Land release on 100,000 parcels x 200,000 constraints vs geopandas.overlay(difference).

Synthetic, built from the Shibei sample: its 60 parcels and 34 constraints (roads, river,
protected halls) are tiled 1,667 times, and each tile gets 86 small extra constraints
(old structures to keep, 4-12 m buffers) to reach 200,000 constraint features. Both
engines get the same constraint polygons (red lines already buffered); renewgeo also
attributes the removed land to each constraint type and drops unusable fragments.
"""

from __future__ import annotations

import gc
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _common import bench, peak_rss_gb

import renewgeo as rg
from renewgeo import land_release as lr

TILES = 1667
EXTRA = 86


def build() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    p = rg.load_project(rg.datasets.get_path("shibei_relocation"))
    parcels = p["parcels"][["id", "release_year", "land_use", "geometry"]]
    cons = lr.constraint_geometries(p["constraints"])
    minx, miny, maxx, maxy = parcels.total_bounds
    w, h = maxx - minx + 400, maxy - miny + 400
    side = int(np.ceil(np.sqrt(TILES)))
    rng = np.random.default_rng(1)
    pg, cg, ct, pid = [], [], [], []
    for t in range(TILES):
        off = np.array([(t % side) * w, (t // side) * h])
        pg.append(shapely.transform(parcels.geometry.values, lambda c, off=off: c + off))
        pid.append(parcels["id"].to_numpy() + f"-{t}")
        cg.append(shapely.transform(cons.geometry.values, lambda c, off=off: c + off))
        ct.append(cons["constraint_type"].to_numpy())
        pts = shapely.points(rng.uniform([minx, miny], [maxx, maxy], (EXTRA, 2)) + off)
        cg.append(shapely.buffer(pts, rng.uniform(4, 12, EXTRA)))
        ct.append(np.full(EXTRA, "retained_building"))
    big_p = gpd.GeoDataFrame({"id": np.concatenate(pid), "release_year": np.tile(parcels["release_year"].to_numpy(), TILES)},
                             geometry=np.concatenate(pg), crs=parcels.crs)
    big_c = gpd.GeoDataFrame({"constraint_type": np.concatenate(ct)}, geometry=np.concatenate(cg), crs=parcels.crs)
    big_c["source_id"] = np.arange(len(big_c)).astype(str)
    big_c["buffer_m"] = 0.0
    return big_p, big_c


def main() -> None:
    rg.options.progress = False
    t = time.perf_counter()
    parcels, cons = build()
    print(f"{len(parcels):,} parcels x {len(cons):,} constraints built in {time.perf_counter() - t:.1f} s")
    gc.collect()
    t = time.perf_counter()
    net = lr.release(parcels, cons, prepared=True)
    t_rg = time.perf_counter() - t
    rss_rg = peak_rss_gb()
    gc.collect()
    t = time.perf_counter()
    peer = gpd.overlay(parcels, cons[["geometry"]], how="difference", keep_geom_type=True)
    t_peer = time.perf_counter() - t
    # the same land before fragments are dropped: renewgeo's net + unusable vs overlay's area
    ours = (net["net_area_m2"] + net["unusable_m2"]).sum()
    theirs = peer.area.sum()
    print(f"renewgeo release: {t_rg:.1f} s; geopandas.overlay(difference): {t_peer:.1f} s; "
          f"net + fragments {ours / 1e6:.3f} km2 vs overlay {theirs / 1e6:.3f} km2 (rel diff {abs(ours - theirs) / theirs:.2e})")
    print(f"net releasable after dropping fragments: {net['net_area_mu'].sum():,.0f} mu of {net['gross_area_m2'].sum() / (10000 / 15):,.0f} mu gross")
    bench("release_100k_seconds", t_rg, "s")
    bench("release_speedup_vs_overlay", t_peer / t_rg, "x")
    bench("release_peak_rss_gb", rss_rg, "GB")


if __name__ == "__main__":
    pd.set_option("display.width", 160)
    main()
