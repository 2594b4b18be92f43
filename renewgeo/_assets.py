"""Leaflet (and jQuery) from installed XStatic packages, for maps that open offline.

Nothing is downloaded and nothing is copied into the repository: the files come from
the XStatic-Leaflet and XStatic-jQuery wheels (folium 0.20 uses exactly these versions,
Leaflet 1.9.3 and jQuery 3.7.1). CSS images are inlined as data URIs.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

from renewgeo._errors import DependencyError

__all__ = ["jquery_js", "leaflet_css", "leaflet_js"]


def _base(pkg: str) -> Path:
    try:
        if pkg == "leaflet":
            import xstatic.pkg.leaflet as mod
        else:
            import xstatic.pkg.jquery as mod
    except ImportError:
        raise DependencyError(
            f"offline maps need XStatic-{pkg.capitalize()}: pip install XStatic-Leaflet XStatic-jQuery"
        ) from None
    return Path(mod.BASE_DIR)


@cache
def leaflet_js() -> str:
    """Leaflet 1.9.3, minified."""
    return (_base("leaflet") / "leaflet.js").read_text(encoding="utf-8")


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
def jquery_js() -> str:
    """The jQuery 3.7.1 script, minified (folium's own templates do not need it; kept for plugins)."""
    return (_base("jquery") / "jquery.min.js").read_text(encoding="utf-8")
