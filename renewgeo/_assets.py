"""Leaflet, Leaflet.markercluster (and jQuery) from installed XStatic packages, for maps that open offline.

Nothing is downloaded and nothing is copied into the repository: the files come from
the XStatic-Leaflet, XStatic-Leaflet-MarkerCluster and XStatic-jQuery wheels (folium
0.20 uses exactly these Leaflet and jQuery versions, Leaflet 1.9.3 and jQuery 3.7.1;
its MarkerCluster plugin links Leaflet.markercluster 1.1.0 from a CDN, 1.4.1 is inlined
instead). CSS images are inlined as data URIs; source-map comments, which point at files
that are not there, are dropped.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

from renewgeo._errors import DependencyError

__all__ = ["jquery_js", "leaflet_css", "leaflet_js", "markercluster_css", "markercluster_js"]

_PACKAGES = {"leaflet": "XStatic-Leaflet", "leaflet_markercluster": "XStatic-Leaflet-MarkerCluster", "jquery": "XStatic-jQuery"}


def _base(pkg: str) -> Path:
    try:
        if pkg == "leaflet":
            import xstatic.pkg.leaflet as mod
        elif pkg == "leaflet_markercluster":
            import xstatic.pkg.leaflet_markercluster as mod
        else:
            import xstatic.pkg.jquery as mod
    except ImportError:
        raise DependencyError(
            f"offline maps need {_PACKAGES[pkg]}: pip install {' '.join(_PACKAGES.values())}"
        ) from None
    return Path(mod.BASE_DIR)


def _no_source_map(js: str) -> str:
    return re.sub(r"\n?//# sourceMappingURL=\S*\s*$", "\n", js)


@cache
def leaflet_js() -> str:
    """Leaflet 1.9.3, minified."""
    return _no_source_map((_base("leaflet") / "leaflet.js").read_text(encoding="utf-8"))


@cache
def leaflet_css() -> str:
    """Leaflet's CSS with its images inlined as data URIs."""
    base = _base("leaflet")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        data = (base / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    return re.sub(r"url\((images/[^)]+\.png)\)", inline, css)


@cache
def markercluster_js() -> str:
    """Leaflet.markercluster 1.4.1 (MIT), minified, under the copyright notice of its unminified source."""
    base = _base("leaflet_markercluster")
    head = re.match(r"\s*(/\*.*?\*/)", (base / "leaflet.markercluster-src.js").read_text(encoding="utf-8"), flags=re.S)
    notice = head.group(1).replace(" */", " * MIT license\n */") if head else "/* Leaflet.markercluster, MIT license */"
    return notice + "\n" + _no_source_map((base / "leaflet.markercluster.js").read_text(encoding="utf-8"))


@cache
def markercluster_css() -> str:
    """Leaflet.markercluster's CSS for its animations (the cluster icons are renewgeo's own)."""
    return (_base("leaflet_markercluster") / "MarkerCluster.css").read_text(encoding="utf-8")


@cache
def jquery_js() -> str:
    """The jQuery 3.7.1 script, minified (folium's own templates do not need it; kept for plugins)."""
    return (_base("jquery") / "jquery.min.js").read_text(encoding="utf-8")
