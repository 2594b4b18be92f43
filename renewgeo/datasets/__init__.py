"""Bundled sample projects.

>>> import renewgeo as rg
>>> rg.datasets.available()
['chuangchuangyi', 'shibei_oldblocks', 'shibei_relocation']

>>> (rg.datasets.get_path("chuangchuangyi") / "project.toml").exists()
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from renewgeo._errors import RenewgeoError

__all__ = ["available", "get_path"]

# In a wheel the samples are packaged here; in a source checkout they live in the
# repository's top-level layers/ folder.
_PACKAGED = Path(str(resources.files("renewgeo.datasets")))
_CHECKOUT = Path(__file__).resolve().parents[2] / "layers"


def _roots() -> list[Path]:
    return [r for r in (_PACKAGED, _CHECKOUT) if r.is_dir()]


def available() -> list[str]:
    """Names of the bundled sample projects."""
    names: set[str] = set()
    for root in _roots():
        names |= {p.name for p in root.iterdir() if (p / "project.toml").is_file()}
    return sorted(names)


def get_path(name: str) -> Path:
    """Folder of the bundled sample project ``name`` (pass it to :func:`renewgeo.load_project`).

    Raises
    ------
    RenewgeoError
        If there is no such sample; the message lists those that exist.
    """
    for root in _roots():
        cand = root / name
        if (cand / "project.toml").is_file():
            return cand
    raise RenewgeoError(f"no sample project {name!r}; available: {available()}")
