"""Meeting map of the 11,393 Porto buildings vs a default GeoDataFrame.explore() map.

Both are opened in Debian's headless Chromium with the network cut off. The explore()
map needs its CDN scripts: they are served to it from the same local Leaflet/jQuery
files (the rest, Bootstrap and the icon fonts, as empty files) so that it can render at
all. Render time: from navigation to two animation frames after every feature is drawn.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import bench, need_shared

import renewgeo as rg
from renewgeo import _assets, webmap
from tests.browser import open_page


def main() -> None:
    rg.options.progress = False
    b = rg.io.read_osm(need_shared() / "osm" / "porto_downtown.osm.pbf", what="buildings")
    p = rg.Project.from_layers({"buildings": b}, repair=True)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        ours = webmap.save_map(webmap.meeting_map(p, lang="en"), Path(d) / "porto.html")
        t_make = time.perf_counter() - t
        t = time.perf_counter()
        explore = Path(d) / "explore.html"
        p["buildings"].explore().save(str(explore))
        t_make_explore = time.perf_counter() - t
        with open_page(ours, wait_js="window.renewgeo && window.renewgeo.ready") as run:
            t_ours = run.render_s
            assert not run.errors and not run.blocked, (run.errors, run.blocked)
        fulfil = {
            "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": _assets.leaflet_js().encode(),
            "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": _assets.leaflet_css().encode(),
            "https://code.jquery.com/jquery-3.7.1.min.js": _assets.jquery_js().encode(),
            "https://": b"",  # bootstrap, fonts, awesome-markers: empty
        }
        with open_page(explore, fulfil=fulfil, wait_js="document.querySelectorAll('.leaflet-interactive, canvas').length > 0") as run:
            t_explore = run.render_s
        mb_ours = ours.stat().st_size / 1e6
        mb_explore = explore.stat().st_size / 1e6
    print(f"renewgeo meeting map: {mb_ours:.2f} MB, written in {t_make:.1f} s, first render {t_ours:.2f} s (canvas, offline)")
    print(f"GeoDataFrame.explore(): {mb_explore:.2f} MB, written in {t_make_explore:.1f} s, first render {t_explore:.2f} s "
          "(SVG, CDN assets served locally)")
    bench("map_porto_html_mb", mb_ours, "MB")
    bench("map_porto_render_seconds", t_ours, "s")
    bench("map_explore_html_mb", mb_explore, "MB")
    bench("map_explore_render_seconds", t_explore, "s")


if __name__ == "__main__":
    main()
