"""renewgeo: GIS answers for urban-renewal planning.

Load a project (a folder with ``project.toml``), then ask it questions::

    import renewgeo as rg
    p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
    p.summary()

See README.md for the CLI and DESIGN.md for how data flows.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from renewgeo import crs, datasets, io, qgis, schemas, webmap
from renewgeo._config import options
from renewgeo._errors import (
    CRSError,
    DependencyError,
    ProjectFileError,
    ReadError,
    RenewgeoError,
    SchemaError,
    ValidationError,
    WriteError,
)
from renewgeo._validate import Problem, ValidationReport
from renewgeo.pipeline import RunResult, run_project
from renewgeo.project import Project, Target, load_project, validate_project

try:
    __version__ = version("renewgeo")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0+unknown"

__all__ = [
    "CRSError",
    "DependencyError",
    "Problem",
    "Project",
    "ProjectFileError",
    "ReadError",
    "RenewgeoError",
    "RunResult",
    "SchemaError",
    "Target",
    "ValidationError",
    "ValidationReport",
    "WriteError",
    "__version__",
    "crs",
    "datasets",
    "io",
    "load_project",
    "options",
    "qgis",
    "run_project",
    "schemas",
    "validate_project",
    "webmap",
]
