"""renewgeo: GIS answers for urban-renewal planning.

Load a project (a folder with ``project.toml``), then ask it questions; README.md
describes the command line and DESIGN.md how data flows.

Examples
--------
>>> import renewgeo as rg
>>> p = rg.load_project(rg.datasets.get_path("chuangchuangyi"))
>>> p.crs.to_epsg(), len(p["buildings"])
(4549, 26)
"""

from __future__ import annotations

from renewgeo import crs, datasets, districts, io, plot, qgis, schemas, settings, webmap
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
from renewgeo._version import __version__
from renewgeo.analysis import REGISTRY as ANALYSES
from renewgeo.analysis import Result, RunResult
from renewgeo.districts import BenchmarkResult, benchmark
from renewgeo.patches import Scenario
from renewgeo.pipeline import run_analyses, run_project, scorecard, write_run
from renewgeo.project import Project, Target, load_project, validate_project
from renewgeo.scenarios import ScenarioRun, run_scenarios, scenario_map, write_scenarios
from renewgeo.scorecard import ScorecardResult
from renewgeo.settings import Settings
from renewgeo.webmap import meeting_map

__all__ = [
    "ANALYSES",
    "BenchmarkResult",
    "CRSError",
    "DependencyError",
    "Problem",
    "Project",
    "ProjectFileError",
    "ReadError",
    "RenewgeoError",
    "Result",
    "RunResult",
    "Scenario",
    "ScenarioRun",
    "SchemaError",
    "ScorecardResult",
    "Settings",
    "Target",
    "ValidationError",
    "ValidationReport",
    "WriteError",
    "__version__",
    "benchmark",
    "crs",
    "datasets",
    "districts",
    "io",
    "load_project",
    "meeting_map",
    "options",
    "plot",
    "qgis",
    "run_analyses",
    "run_project",
    "run_scenarios",
    "scenario_map",
    "schemas",
    "scorecard",
    "settings",
    "validate_project",
    "webmap",
    "write_run",
    "write_scenarios",
]
