"""The one exception hierarchy of renewgeo.

Every error a user can trigger derives from :class:`RenewgeoError`, itself a
:class:`ValueError`, so ``except ValueError`` keeps working in callers that do not
know renewgeo. Each message says what was wrong, where (file, layer, column, row
ids) and how to fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from renewgeo._validate import ValidationReport

__all__ = [
    "CRSError",
    "DependencyError",
    "ProjectFileError",
    "ReadError",
    "RenewgeoError",
    "SchemaError",
    "ValidationError",
    "WriteError",
]


class RenewgeoError(ValueError):
    """Base class of every error renewgeo raises on purpose."""


class ProjectFileError(RenewgeoError):
    """``project.toml`` is missing, unreadable or does not follow the documented form."""


class ReadError(RenewgeoError):
    """A layer file or database table could not be read."""


class WriteError(RenewgeoError):
    """An output could not be written; any earlier output at that path is left intact."""


class CRSError(RenewgeoError):
    """A coordinate reference system is missing, unsuitable (degrees for metres) or unknown."""


class SchemaError(RenewgeoError):
    """A layer does not follow the schema of its kind (columns, values, geometry type)."""


class DependencyError(RenewgeoError, ImportError):
    """An optional dependency is missing; the message gives the exact install command."""


class ValidationError(SchemaError):
    """Validation found one or more errors; ``.report`` lists every problem found.

    Parameters
    ----------
    report : ValidationReport
        The full report, errors and warnings, of the layers that were checked.
    """

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.format(severity="error"))
