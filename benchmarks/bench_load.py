"""Loading a project: OSM read + validation + reprojection vs a bare pyogrio read.

Peer: ``pyogrio.read_dataframe`` of the same OSM layer (no filtering, no validation,
no reprojection), the floor renewgeo builds on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyogrio
from _common import bench, best_of, need_shared, peak_rss_gb

import renewgeo as rg


def main() -> None:
    pbf = need_shared() / "osm" / "porto_downtown.osm.pbf"
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "project.toml").write_text(
            f'[project]\nname = "porto"\nrepair = true\n[layers.buildings]\nfile = "{pbf}"\nosm = "buildings"\n'
        )
        t_rg, proj = best_of(3, lambda: rg.load_project(d))
    t_peer, raw = best_of(3, lambda: pyogrio.read_dataframe(pbf, layer="multipolygons"))
    n = len(proj["buildings"])
    print(f"renewgeo load_project: {n} buildings validated and projected to EPSG:{proj.crs.to_epsg()} in {t_rg:.2f} s")
    print(f"pyogrio.read_dataframe (bare read of {len(raw)} multipolygons): {t_peer:.2f} s")
    bench("load_porto_seconds", t_rg, "s")
    bench("load_ratio_vs_pyogrio", t_rg / t_peer, "x")
    bench("load_porto_peak_rss_gb", peak_rss_gb(), "GB")


if __name__ == "__main__":
    rg.options.progress = False
    main()
