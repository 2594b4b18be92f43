"""A small validated options object (in the manner of ``geopandas.options``).

>>> import renewgeo as rg
>>> rg.options.progress
True
>>> rg.options.progress = False
>>> rg.options
Options(progress=False)
>>> rg.options.progress = True
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Options", "options"]


@dataclass
class Options:
    """Package-wide options.

    Attributes
    ----------
    progress : bool
        Show tqdm progress bars for long steps (the CLI's ``--quiet`` turns this off).
    """

    progress: bool = True

    def __setattr__(self, name: str, value: Any) -> None:
        known = {f.name: f for f in fields(self)}
        if name not in known:
            raise AttributeError(f"renewgeo.options has no option {name!r}; known options: {sorted(known)}")
        if name == "progress" and not isinstance(value, bool):
            raise TypeError(f"renewgeo.options.progress must be True or False, got {value!r}")
        super().__setattr__(name, value)


options = Options()
