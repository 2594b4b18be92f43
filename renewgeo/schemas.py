"""Layer kinds and their schemas.

A project layer has a *kind* (``buildings``, ``paths``, ``sites`` ...). The kind fixes
its geometry family and its columns: which are required, their types, allowed values
and plausible ranges. Planners' own column names are mapped onto these in
``project.toml`` (``[layers.buildings.columns] floors = "LAYERS"``).

>>> from renewgeo.schemas import KINDS
>>> sorted(KINDS)[:3]
['amenities', 'buildings', 'constraints']
>>> KINDS["buildings"].column("status").allowed[:3]
('operating', 'idle', 'renovated')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AMENITY_CATEGORIES",
    "BUILDING_STATUS",
    "BUILDING_TREATMENT",
    "DERIVED_COLUMNS",
    "KINDS",
    "RESULT_LAYERS",
    "Column",
    "LayerKind",
    "ResultLayer",
    "derived_columns",
]

DType = Literal["str", "int", "float", "bool"]
GeomFamily = Literal["polygon", "line", "point", "any"]

BUILDING_STATUS = ("operating", "idle", "renovated", "under_renovation", "demolished", "new")
BUILDING_TREATMENT = ("facade_upgrade", "full_renovation", "new_build", "retain", "demolish")

# Planning categories of daily services. Walkability maps OSM tags onto these; a project
# may add its own under [vocabulary] amenity_categories in project.toml.
AMENITY_CATEGORIES = (
    "bookstore",
    "bus_stop",
    "cafe",
    "childcare",
    "clinic",
    "community_centre",
    "convenience_store",
    "cultural",
    "elderly_care",
    "gym",
    "hospital",
    "kindergarten",
    "library",
    "market",
    "metro_station",
    "office",
    "park",
    "parking",
    "pharmacy",
    "post",
    "primary_school",
    "restaurant",
    "school",
    "secondary_school",
    "shop",
    "sports",
    "supermarket",
    "toilet",
    "other",
)


@dataclass(frozen=True)
class Column:
    """One column of a layer kind.

    Parameters
    ----------
    name : str
        Canonical name, with the unit in it where a number could be misread.
    dtype : {"str", "int", "float", "bool"}
        Type values are converted to on load.
    required : bool
        Whether a layer of this kind must have it.
    allowed : tuple of str, optional
        The closed set of allowed values (strings).
    min, max : float, optional
        Plausible range, inclusive unless ``min_exclusive``.
    min_exclusive : bool
        Whether ``min`` itself is out of range (floors > 0).
    description : str
        What the column means, for docs and error messages.
    open_vocabulary : bool
        Values outside ``allowed`` are warnings, not errors (extendable vocabularies).
    """

    name: str
    dtype: DType
    required: bool = False
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    description: str = ""
    open_vocabulary: bool = False


@dataclass(frozen=True)
class LayerKind:
    """The schema of one layer kind."""

    name: str
    geometry: GeomFamily
    columns: tuple[Column, ...]
    description: str = ""
    id_column: str = "id"
    metric_attrs: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """Return the column called ``name``; raise KeyError listing the known ones."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"kind {self.name!r} has no column {name!r}; columns: {self.column_names}")

    @property
    def column_names(self) -> list[str]:
        """Names of all columns of the kind, required first."""
        return [c.name for c in sorted(self.columns, key=lambda c: not c.required)]


_ID = Column("id", "str", required=True, description="unique feature id")
_NAME = Column("name", "str", description="name (English or local)")
_NAME_ZH = Column("name_zh", "str", description="Chinese name")
_LINE_COMMON = (
    _ID,
    _NAME,
    _NAME_ZH,
    Column("width_m", "float", min=0, max=200, min_exclusive=True, description="width in metres"),
    Column("level", "int", min=-10, max=20, description="vertical level (OSM layer); lines on different levels join only at a shared vertex or an end on the other, never at a bare crossing"),
    Column("bridge", "bool", description="on a bridge"),
    Column("tunnel", "bool", description="in a tunnel"),
    Column("walkable", "bool", description="usable on foot (default true)"),
    Column("surface", "str", description="surface material"),
)

KINDS: dict[str, LayerKind] = {
    k.name: k
    for k in (
        LayerKind(
            "buildings",
            "polygon",
            (
                _ID,
                _NAME,
                _NAME_ZH,
                Column("status", "str", allowed=BUILDING_STATUS, description="current renovation status"),
                Column(
                    "status_before",
                    "str",
                    allowed=BUILDING_STATUS,
                    description="status before renewal (operating buildings get a facade upgrade, idle ones a full renovation)",
                ),
                Column("treatment", "str", allowed=BUILDING_TREATMENT, description="renewal treatment"),
                Column("zone", "str", description="planning zone the building belongs to"),
                Column("use_before", "str", description="use before renewal"),
                Column("use_after", "str", description="use after renewal"),
                Column("floors", "int", min=0, max=200, min_exclusive=True, description="storeys above ground"),
                Column("height_m", "float", min=0, max=1000, min_exclusive=True, description="height in metres"),
                Column("gfa_m2", "float", min=0, max=5e6, description="gross floor area in m2"),
                Column("phase", "str", description="delivery phase"),
                Column("progress_pct", "float", min=0, max=100, description="works complete, percent"),
                Column("year_built", "int", min=1000, max=2100, description="year of construction"),
                Column("households", "int", min=0, max=1e5, description="households living in it"),
                Column("population", "int", min=0, max=1e6, description="residents"),
                Column("protected", "bool", description="historic / protected building"),
                Column("lifts", "int", min=0, max=500, description="lifts (elevators) in the building, added ones included"),
                Column("lifts_added", "int", min=0, max=500, description="lifts added by the renewal"),
                Column("parking_spaces", "int", min=0, max=1e5, description="parking spaces of the building (on its plot or under it)"),
                Column("parking_shared", "int", min=0, max=1e5, description="of those, spaces shared with the public (off-peak sharing)"),
            ),
            "building footprints with renovation status, floor area and use",
        ),
        LayerKind("pedestrian_axis", "line", _LINE_COMMON, "the main pedestrian axis"),
        LayerKind("landscape_corridor", "line", _LINE_COMMON, "landscape (green) corridor centre line"),
        LayerKind(
            "trails",
            "line",
            (*_LINE_COMMON, Column("trail_type", "str", description="e.g. fitness, cycling, heritage")),
            "fitness / walking trails",
        ),
        LayerKind(
            "paths",
            "line",
            (*_LINE_COMMON, Column("highway", "str", description="street or path class (OSM highway)")),
            "the walkable network: streets and footpaths",
        ),
        LayerKind(
            "amenities",
            "any",
            (
                _ID,
                _NAME,
                _NAME_ZH,
                Column(
                    "category",
                    "str",
                    required=True,
                    allowed=AMENITY_CATEGORIES,
                    open_vocabulary=True,
                    description="planning category of the service",
                ),
                Column(
                    "capacity", "int", min=0, max=1e6, description="spaces, seats or places (parking spaces, childcare places)"
                ),
                Column("opening_hours_h", "float", min=0, max=24, description="hours open per day"),
                Column("gfa_m2", "float", min=0, max=1e6, description="floor area of the facility in m2"),
                Column("building_id", "str", description="id of the building it is in"),
            ),
            "daily services and facilities (points, or polygons reduced to points)",
        ),
        LayerKind(
            "outdoor_spaces",
            "polygon",
            (
                _ID,
                _NAME,
                _NAME_ZH,
                Column(
                    "space_type",
                    "str",
                    allowed=("plaza", "green", "park", "pocket_park", "sports", "parking", "water", "other"),
                    open_vocabulary=True,
                    description="kind of outdoor space",
                ),
                Column("walkable", "bool", description="open and crossable on foot"),
                Column("renewed", "bool", description="renewed by the project"),
            ),
            "plazas, green spaces, parks, courts",
        ),
        LayerKind(
            "zones",
            "polygon",
            (
                _ID,
                _NAME,
                _NAME_ZH,
                Column("population", "int", min=0, max=1e8, description="residents"),
                Column("households", "int", min=0, max=1e7, description="households"),
                Column("jobs", "int", min=0, max=1e8, description="jobs"),
            ),
            "planning zones or districts",
        ),
        LayerKind(
            "sites",
            "polygon",
            (
                _ID,
                _NAME,
                _NAME_ZH,
                Column("land_use", "str", description="current or planned land use"),
                Column("release_year", "int", min=1990, max=2100, description="year the land is to be released"),
                Column("phase", "str", description="release phase"),
                Column("far_planned", "float", min=0, max=30, description="planned floor area ratio"),
                Column("height_limit_m", "float", min=0, max=1000, min_exclusive=True, description="height limit in metres"),
                Column("coverage_max", "float", min=0, max=1, description="maximum building coverage (0-1)"),
                Column("population", "int", min=0, max=1e7, description="residents"),
                Column("households", "int", min=0, max=1e6, description="households"),
            ),
            "land sites / parcels",
        ),
        LayerKind(
            "constraints",
            "any",
            (
                _ID,
                _NAME,
                Column(
                    "constraint_type",
                    "str",
                    required=True,
                    allowed=(
                        "road",
                        "protected_building",
                        "green_corridor",
                        "river",
                        "slope",
                        "retained_building",
                        "setback",
                        "other",
                    ),
                    open_vocabulary=True,
                    description="what the constraint protects",
                ),
                Column("buffer_m", "float", min=0, max=1000, description="buffer distance in metres"),
                Column("width_m", "float", min=0, max=500, min_exclusive=True, description="road red-line width in metres"),
            ),
            "land that cannot be released: road red lines, protected buildings, corridors",
        ),
    )
}


# ------------------------------------------------------------ what analyses derive
@dataclass(frozen=True)
class ResultLayer:
    """A layer an analysis produces, as targets in project.toml may name it.

    ``kind`` is the input kind it derives from (its rows are that kind's rows, with
    ``columns`` added; fnmatch patterns allowed).
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    analysis: str


RESULT_LAYERS: dict[str, ResultLayer] = {}
"""Result layers by name, registered by the analyses (:func:`renewgeo.analysis.register`)."""

DERIVED_COLUMNS: dict[str, dict[str, str]] = {}
"""Per input kind, the columns (or fnmatch patterns) analyses add, and which analysis adds each."""


def derived_columns(kind: str) -> dict[str, str]:
    """The columns analyses add to layers of ``kind`` (pattern -> analysis)."""
    return dict(DERIVED_COLUMNS.get(kind, {}))
