"""Every class of validation problem, with a real message naming layer, column, rows and fix."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import renewgeo as rg
from renewgeo._validate import validate_layer
from renewgeo.schemas import BUILDING_STATUS, KINDS

BOWTIE = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])


def buildings(**cols):
    n = len(next(iter(cols.values()))) if cols else 2
    geoms = cols.pop("geometry", [shapely.box(i * 20, 0, i * 20 + 10, 10) for i in range(n)])
    data = {"id": [f"B{i + 1}" for i in range(n)], **cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4549)


def check(gdf, **kw):
    return validate_layer(gdf, KINDS["buildings"], layer="buildings", file="park.gpkg:buildings", **kw)


def only(problems, code):
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, [p.format() for p in problems]
    return found[0]


def test_clean_layer_has_no_problems():
    out, probs = check(buildings(status=["idle", "renovated"], floors=[3, 5], gfa_m2=[100.0, 200.0]))
    assert probs == []
    assert str(out["floors"].dtype) == "Int64"
    assert out["gfa_m2"].tolist() == [100.0, 200.0]


def test_missing_required_column_suggests_closest():
    g = buildings().rename(columns={"id": "ID_"})
    _, probs = check(g)
    p = only(probs, "missing_column")
    assert p.severity == "error" and p.column == "id"
    assert "'ID_'" in p.fix and "[layers.buildings.columns]" in p.fix
    assert "park.gpkg:buildings" in p.format()


def test_misspelled_optional_column_warns_with_suggestion():
    _, probs = check(buildings(stauts=["idle", "idle"]))
    p = only(probs, "misspelled_column")
    assert p.severity == "warning"
    assert "'stauts'" in p.message and "'status'" in p.message


def test_column_mapping_renames_and_reports_bad_mapping():
    out, probs = check(buildings(LAYERS=[2, 4]), column_map={"floors": "LAYERS"})
    assert probs == [] and out["floors"].tolist() == [2, 4]
    _, probs = check(buildings(LAYERS=[2, 4]), column_map={"floors": "LAYER"})
    p = only(probs, "missing_column")
    assert "'LAYER'" in p.message and "did you mean 'LAYERS'" in p.fix
    _, probs = check(buildings(LAYERS=[2, 4]), column_map={"flors": "LAYERS"})
    assert "did you mean 'floors'" in only(probs, "unknown_mapping").fix


def test_values_outside_allowed_set_name_rows_and_closest_value():
    _, probs = check(buildings(status=["idle", "renovatd"], treatment=["retain", "teardown"]))
    bad = [p for p in probs if p.code == "value_not_allowed"]
    assert {p.column for p in bad} == {"status", "treatment"}
    st = next(p for p in bad if p.column == "status")
    assert st.severity == "error"
    assert st.rows == ("B2='renovatd'",)
    assert "'renovatd' -> 'renovated'?" in st.fix


def test_open_vocabulary_is_a_warning():
    g = gpd.GeoDataFrame({"id": ["a"], "category": ["karaoke"]}, geometry=[shapely.Point(0, 0)], crs=4549)
    _, probs = validate_layer(g, KINDS["amenities"], layer="amenities")
    p = only(probs, "value_not_allowed")
    assert p.severity == "warning" and "[vocabulary]" in p.fix
    _, probs = validate_layer(g, KINDS["amenities"], layer="amenities", extra_values={"category": ["karaoke"]})
    assert probs == []


@pytest.mark.parametrize(
    ("col", "values", "bad"),
    [
        ("floors", [0, 3], "B1=0"),
        ("floors", [3, 250], "B2=250"),
        ("gfa_m2", [-5.0, 100.0], "B1=-5.0"),
        ("height_m", [0.0, 10.0], "B1=0.0"),
        ("progress_pct", [50.0, 120.0], "B2=120.0"),
    ],
)
def test_absurd_numbers(col, values, bad):
    _, probs = check(buildings(**{col: values}))
    p = only(probs, "out_of_range")
    assert p.column == col and p.rows == (bad,)


def test_values_of_wrong_type():
    _, probs = check(buildings(floors=["three", 2], gfa_m2=["1,000", "200"]))
    bad = {p.column: p for p in probs if p.code == "bad_type"}
    assert bad["floors"].rows == ("B1='three'",)
    assert bad["gfa_m2"].rows == ("B1='1,000'",)
    _, probs = check(buildings(floors=[2.5, 3]))
    assert only(probs, "bad_type").rows == ("B1=2.5",)


def test_bool_values():
    g = buildings(protected=["yes", "nope"])
    out, probs = check(g)
    assert only(probs, "bad_type").rows == ("B2='nope'",)
    assert bool(out["protected"].iloc[0]) is True


def test_duplicate_and_null_ids():
    g = buildings(floors=[1, 2, 3])
    g["id"] = ["B1", "B1", None]
    _, probs = check(g)
    assert only(probs, "duplicate_id").rows == ("B1",)
    assert only(probs, "null_id").rows == ("row 2",)


def test_null_and_empty_geometries_listed_by_id():
    g = buildings(geometry=[shapely.box(0, 0, 1, 1), None, shapely.Polygon()])
    _, probs = check(g)
    assert only(probs, "null_geometry").rows == ("B2",)
    assert only(probs, "empty_geometry").rows == ("B3",)


def test_invalid_geometry_error_or_repair():
    g = buildings(geometry=[shapely.box(0, 0, 1, 1), BOWTIE])
    _, probs = check(g)
    p = only(probs, "invalid_geometry")
    assert p.severity == "error" and p.rows[0].startswith("B2 (Self-intersection")
    assert "repair = true" in p.fix
    out, probs = check(g, repair=True)
    p = only(probs, "invalid_geometry")
    assert p.severity == "warning"
    fixed = out.geometry.iloc[1]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert fixed.area == pytest.approx(50.0)  # two triangles of 25 m2
    assert g.geometry.iloc[1].equals(BOWTIE)  # input untouched


def test_repair_leaves_out_features_reduced_to_nothing():
    """A ring that is a line back and forth (as OSM ways closing after 2 nodes give) has no polygon in it."""
    flat = shapely.Polygon([(0, 0), (10, 0), (20, 0), (0, 0)])
    g = buildings(geometry=[shapely.box(0, 0, 1, 1), flat, BOWTIE])
    assert not flat.is_valid and shapely.make_valid(flat).area == 0
    out, probs = check(g, repair=True)
    assert list(out["id"]) == ["B1", "B3"]
    gone = only(probs, "dropped_by_repair")
    assert gone.severity == "warning" and len(gone.rows) == 1 and gone.rows[0].startswith("B2 (")
    assert only(probs, "invalid_geometry").rows[0].startswith("B3 (Self-intersection")
    assert not [p for p in probs if p.code == "wrong_geometry_type"]
    _, probs = check(g)  # without repair, both stay errors
    assert len(only(probs, "invalid_geometry").rows) == 2


def test_wrong_geometry_type():
    g = buildings(geometry=[shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])])
    p = only(check(g)[1], "wrong_geometry_type")
    assert p.rows == ("B2",) and "LineString" in p.message


def test_report_formats_every_problem_at_once():
    g = buildings(status=["idle", "bogus"], floors=[0, 2], geometry=[BOWTIE, None])
    _, probs = check(g)
    report = rg.ValidationReport(probs)
    text = report.format()
    assert text.startswith("4 error(s), 0 warning(s)")
    for code in ("value_not_allowed", "out_of_range", "invalid_geometry", "null_geometry"):
        assert code in report.codes()
    assert "Fix:" in text and "[buildings] (park.gpkg:buildings) column 'status'" in text
    html = report._repr_html_()
    assert "<table>" in html and "4 error(s)" in html
    assert list(report.to_frame().columns)[:3] == ["severity", "layer", "file"]


# ------------------------------------------------------------------ property: rows named = rows bad
FLOORS = st.one_of(
    st.none(),
    st.integers(-5, 250),
    st.integers(-10, 500).map(lambda h: h / 2),  # 2.5 (not an int), 3.0 (fine), -1.0 ...
    st.integers(-5, 250).map(str),  # "3" reads as 3, "-2" as -2
    st.sampled_from(["three", "", "3a", "2,5"]),
)
STATUS = st.one_of(
    st.none(), st.sampled_from(BUILDING_STATUS), st.sampled_from(["Idle", "renovatd", "", "ruin"]), st.integers(0, 3)
)


def floors_bad(v):
    """Independent oracle: floors must read as a whole number in (0, 200]; empty is fine."""
    if v is None:
        return False
    if isinstance(v, str):
        try:
            v = int(v)
        except ValueError:
            return True
    if isinstance(v, float) and not v.is_integer():
        return True
    return not 0 < v <= 200


def status_bad(v):
    return v is not None and v not in BUILDING_STATUS


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(FLOORS, STATUS), min_size=1, max_size=8))
def test_errors_name_exactly_the_bad_rows(rows):
    floors, status = (list(c) for c in zip(*rows, strict=True))
    g = buildings(floors=floors, status=status)
    out, probs = check(g)
    named = {col: set() for col in ("floors", "status")}
    for p in probs:
        assert p.severity == "error" and p.code in {"bad_type", "out_of_range", "value_not_allowed"}, p.format()
        named[p.column] |= {r.split("=", 1)[0] for r in p.rows}
    ids = g["id"].tolist()
    assert named["floors"] == {i for i, v in zip(ids, floors, strict=True) if floors_bad(v)}
    assert named["status"] == {i for i, v in zip(ids, status, strict=True) if status_bad(v)}
    # nothing dropped: same rows, same ids; good values kept, empty cells stay empty
    assert len(out) == len(g) and out.index.equals(g.index) and out["id"].tolist() == ids
    for v, got in zip(floors, out["floors"], strict=True):
        if v is None:
            assert got is pd.NA
        elif not floors_bad(v):
            assert got == int(float(v))


# ---------------------------------------------------------------- inputs that used to crash
def _two_boxes(**cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["a", "b"], **cols}, geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)], crs=4549)


def test_nullable_boolean_with_a_missing_value():
    out, probs = validate_layer(_two_boxes(protected=pd.array([True, None], dtype="boolean")), KINDS["buildings"], layer="b")
    assert probs == [] and out["protected"].tolist()[0] is True and out["protected"].isna().tolist() == [False, True]


def test_mapping_the_geometry_or_one_column_twice_is_reported():
    _, probs = validate_layer(_two_boxes(), KINDS["buildings"], layer="b", column_map={"height_m": "geometry"})
    assert [p.code for p in probs] == ["mapping_conflict"] and "names the layer's geometry" in probs[0].message
    _, probs = validate_layer(_two_boxes(X=[1, 2]), KINDS["buildings"], layer="b", column_map={"floors": "X", "height_m": "X"})
    assert [p.code for p in probs] == ["mapping_conflict"] and "['floors', 'height_m']" in probs[0].message


def test_duplicate_column_names_are_reported():
    frame = pd.DataFrame([["a", 1], ["b", 2]], columns=["id", "id"])
    g = gpd.GeoDataFrame(frame, geometry=[shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)], crs=4549)
    out, probs = validate_layer(g, KINDS["buildings"], layer="b")
    assert [p.code for p in probs] == ["duplicate_column"] and list(out.columns) == ["id", "geometry"]


_ANY_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True), st.text(max_size=5))


@settings(max_examples=150, deadline=None)
@given(cols=st.dictionaries(st.sampled_from(["floors", "status", "protected", "height_m", "gfa_m2", "name", "LAYERS", "x"]),
                            st.lists(_ANY_VALUE, min_size=3, max_size=3), max_size=5),
       cmap=st.dictionaries(st.sampled_from(["floors", "height_m", "status", "nonsense"]),
                            st.sampled_from(["LAYERS", "x", "geometry", "floors", "missing"]), max_size=3))
def test_validate_never_raises(cols, cmap):
    """Whatever the columns hold and however they are mapped: problems, never an exception; no row dropped."""
    frame = {k: pd.Series(v, dtype="object") for k, v in cols.items()}
    g = gpd.GeoDataFrame({"id": ["a", "b", "c"], **frame}, geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)], crs=4549)
    out, probs = validate_layer(g, KINDS["buildings"], layer="b", column_map=cmap)
    assert len(out) == 3 and all(p.fix for p in probs)
