"""Typed settings: every section checked on load, every problem named with its fix."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import renewgeo as rg
from renewgeo.settings import SECTIONS, Settings, describe, legacy_keys, parse_record

SAMPLE = rg.datasets.get_path("chuangchuangyi")


def project_with(tmp_path: Path, extra: str, *, replace: dict[str, str] | None = None) -> Path:
    """The Chuangchuangyi sample with ``extra`` TOML appended (and texts replaced)."""
    toml = (SAMPLE / "project.toml").read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in toml, old
        toml = toml.replace(old, new)
    folder = tmp_path / "p"
    folder.mkdir(exist_ok=True)
    for name in ("chuangchuangyi.gpkg", "indicator_inputs.csv"):  # copies: a link out of the folder is listed as outside it
        if not (folder / name).exists():
            shutil.copyfile(SAMPLE / name, folder / name)
    (folder / "project.toml").write_text(toml + textwrap.dedent(extra), encoding="utf-8")
    return folder


def problems(path: Path) -> list[rg.Problem]:
    return rg.validate_project(path).errors


# ----------------------------------------------------------------- the declarations
def test_every_section_default_passes_its_own_checks():
    for name, cls in SECTIONS.items():
        obj, probs = parse_record(cls, cls().to_dict(), where=f"[{name}]", file=None)
        assert probs == [] and obj == cls(), name


def test_every_setting_is_documented_and_every_legacy_key_maps():
    d = describe()
    assert set(d["section"]) == {"area", "walk", "release", "raster", "map", "scorecard", "compute"}
    assert (d["doc"].str.len() > 10).all(), d.loc[d["doc"].str.len() <= 10, ["section", "key"]]
    old = {"floor_height_m", "floor_height_m_by_use", "target_tolerance_pct", "walk_speed_m_s", "walk_distances_m", "max_snap_m",
           "network_snap_m", "daily_categories", "green_m", "park_m", "axis_distances_m", "isochrone_minutes", "road_width_m",
           "river_setback_m", "protection_buffer_m", "retained_buffer_m", "min_fragment_m2", "min_width_m", "constraint_priority",
           "far_by_land_use", "max_slope_pct", "ndvi_green", "surface_resolution_m"}
    assert old == set(legacy_keys())  # the 23 keys read by string before, each with one new home


def test_settings_are_immutable_and_overrides_are_checked():
    s = Settings.defaults()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.walk.speed_m_s = 2.0  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        s.walk = None
    s2 = s.override({"walk.speed_m_s": 1.25, "release.far_by_land_use": {"mixed": 2.5}})
    assert s2.walk.speed_m_s == 1.25 and s2.release.far_by_land_use == {"mixed": 2.5} and s.walk.speed_m_s == 1.0
    assert s2.sha256() != s.sha256() and Settings.defaults().sha256() == s.sha256()
    with pytest.raises(rg.ProjectFileError) as ei:
        s.override({"walk.speed_m_s": "fast", "walk.sped_m_s": 1, "wlak.x": 1})
    text = str(ei.value)
    assert "speed_m_s must be a number, got the text 'fast'" in text
    assert "has no setting 'sped_m_s'" in text and "did you mean 'speed_m_s'" in text
    assert "'wlak.x' names no setting" in text and "did you mean section 'walk'" in text


# ----------------------------------------------------------------- the defects
def test_thresholds_typos_and_bad_types_are_errors_with_fixes(tmp_path):
    """`max_snap_m = "far"` and a typo `walk_sped_m_s` used to pass validate with 0 errors."""
    path = project_with(tmp_path, '[thresholds]\nwalk_sped_m_s = 1.0\nmax_snap_m = "far"\n')
    with pytest.warns(FutureWarning, match="max_snap_m is deprecated; write it as \\[walk\\] max_snap_m"):
        errs = problems(path)
    text = "\n".join(p.format() for p in errs)
    assert "[thresholds] has no setting 'walk_sped_m_s'" in text and "did you mean 'walk_speed_m_s'?" in text
    assert "[walk] max_snap_m must be a number, got the text 'far'" in text and "Fix: write max_snap_m = 100" in text
    assert {p.code for p in errs} == {"unknown_setting", "bad_setting"}


def test_sections_report_every_problem_at_once(tmp_path):
    path = project_with(tmp_path, """
        [release]
        min_width_m = -5
        road_widht_m = 12
        constraint_priority = ["road", "rivr"]
        [map]
        lang = "fr"
        """)
    errs = problems(path)
    text = "\n".join(p.format() for p in errs)
    assert "[release] min_width_m must be >= 0, got -5" in text
    assert "[release] has no setting 'road_widht_m'" in text and "did you mean 'road_width_m'?" in text
    assert "constraint_priority names ['rivr'], which are not constraint types" in text
    assert "[map] lang must be one of ['zh', 'en', 'zh+en'], got 'fr'" in text
    assert len(errs) == 4


def test_typed_tables_never_crash_validate(tmp_path):
    """`year = "soon"`, `tolerance_pct = "1%"`, raster `band = "one"`, `where` as text crashed validate."""
    path = project_with(tmp_path, """
        [[targets]]
        id = "t1"
        layer = "buildings"
        measure = "count"
        value = 1
        unit = "count"
        year = "soon"
        tolerance_pct = "1%"
        where = "status = idle"
        [rasters.dem]
        file = "chuangchuangyi.gpkg"
        band = "one"
        """)
    errs = problems(path)
    text = "\n".join(p.format() for p in errs)
    assert "target 't1': year must be a whole number, got the text 'soon'" in text
    assert "target 't1': tolerance_pct must be a number, got the text '1%'" in text
    assert "target 't1': where must be a table such as { treatment = [\"full_renovation\"] }, got the text 'status = idle'" in text
    assert "[rasters.dem] band must be a whole number, got the text 'one'" in text
    assert all(p.fix for p in errs)


def test_repair_as_text_is_refused(tmp_path):
    """`repair = "false"` (a string) used to be taken as true."""
    path = project_with(tmp_path, "", replace={"illustrative = true": 'illustrative = true\nrepair = "false"'})
    errs = problems(path)
    assert len(errs) == 1 and "[project] repair must be true or false (without quotes), got the text 'false'" in errs[0].message
    assert "write repair = false" in errs[0].fix


def test_validate_cli_exits_2_naming_each_problem(tmp_path):
    from tests.test_cli import run

    path = project_with(tmp_path, "", replace={"illustrative = true": 'illustrative = true\nrepair = "false"',
                                               "speed_m_s = 1.0": 'speed_m_s = "fast"\ndistances_m = [300, -500]',
                                               "[area]\n": "[area]\nflor_height_m = 3.0\n"})
    r = run("validate", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    for text in ("speed_m_s must be a number, got the text 'fast'", "distances_m item 2 (-500) must be > 0, got -500",
                 "[area] has no setting 'flor_height_m'", "did you mean 'floor_height_m'?", "repair must be true or false"):
        assert text in r.stdout, text
    assert r.stdout.startswith("4 error(s)")
    r = run("run", str(path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and not (tmp_path / "o").exists()


def test_set_overrides_on_the_command_line(tmp_path):
    from tests.test_cli import run

    r = run("validate", str(SAMPLE), "--set", "walk.speed_m_s=fast", "--set", "area.floor_height_m=0")
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert "speed_m_s must be a number, got the text 'fast'" in r.stdout and "floor_height_m must be > 0, got 0" in r.stdout
    r = run("settings", str(SAMPLE), "--set", "walk.speed_m_s=1.2")
    assert r.returncode == 0 and "* speed_m_s = 1.2" in r.stdout and "(default 1)" in r.stdout


def test_tolerance_setting_is_used_and_the_flag_overrides_it(tmp_path):
    """`renewgeo area --tolerance-pct` (default 1.0) used to override [area] target_tolerance_pct silently."""
    from tests.test_cli import run

    # both 80,000 m2 targets (tech office, outdoor renewed) raised to 81,000: 1.2 % short, so short at 1 % and met at 2 %
    path = project_with(tmp_path, "", replace={"value = 80000\n": "value = 81000\n", "[area]\n": "[area]\ntarget_tolerance_pct = 2.0\n"})
    p = rg.load_project(path)
    assert p.settings.area.target_tolerance_pct == 2.0 and p.targets[2].value == 81000
    r = run("targets", str(path), "--out", str(tmp_path / "o1"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "11 of 11 targets met" in r.stdout  # the setting is used: no command default overrides it
    r = run("targets", str(path), "--out", str(tmp_path / "o2"), "--quiet", "--tolerance-pct", "1")
    assert r.returncode == 0, r.stderr
    assert "9 of 11 targets met" in r.stdout  # the flag sets the same setting


# ----------------------------------------------------------------- legacy [thresholds]
def test_thresholds_still_work_with_a_future_warning(tmp_path):
    path = project_with(tmp_path, "[thresholds]\nmax_snap_m = 50\nfar_by_land_use = { mixed = 2.0 }\n")
    with pytest.warns(FutureWarning) as rec:
        p = rg.load_project(path)
    msgs = sorted(str(w.message) for w in rec)
    assert any("[thresholds] max_snap_m is deprecated; write it as [walk] max_snap_m" in m for m in msgs)
    assert any("[thresholds] far_by_land_use is deprecated; write it as [release] far_by_land_use" in m for m in msgs)
    assert p.settings.walk.max_snap_m == 50 and p.settings.release.far_by_land_use == {"mixed": 2.0}
    assert {w.code for w in p.report.warnings} == {"deprecated_setting"}


def test_thresholds_and_section_may_not_both_set_a_key(tmp_path):
    path = project_with(tmp_path, "[thresholds]\nwalk_speed_m_s = 1.3\n")
    with pytest.warns(FutureWarning):
        errs = problems(path)
    assert len(errs) == 1 and "[thresholds] walk_speed_m_s and [walk] speed_m_s both set the same thing" in errs[0].message


def test_from_layers_takes_settings_and_legacy_thresholds(sample):
    p = rg.Project.from_layers({"buildings": sample["buildings"]}, settings={"area": {"floor_height_m": 4.0}})
    assert p.settings.area.floor_height_m == 4.0
    with pytest.warns(FutureWarning, match="floor_height_m is deprecated"):
        q = rg.Project.from_layers({"buildings": sample["buildings"]}, thresholds={"floor_height_m": 3.5})
    assert q.settings.area.floor_height_m == 3.5
    with pytest.raises(rg.ValidationError, match="floor_height_m must be > 0"):
        rg.Project.from_layers({"buildings": sample["buildings"]}, settings={"area": {"floor_height_m": -1}})


# ----------------------------------------------------------------- cross checks
def test_isochrone_origins_must_name_a_layer(tmp_path):
    errs = problems(project_with(tmp_path, "", replace={"[walk]\n": '[walk]\nisochrone_origins = "amenites"\n'}))
    text = "\n".join(p.format() for p in errs)
    assert "isochrone_origins = 'amenites' is not a layer of the project" in text


def test_life_circles_are_checked(tmp_path):
    errs = problems(project_with(tmp_path, """
        [[life_circles]]
        name = "5min"
        required = [["kindergarten"], 3]
        [[life_circles]]
        name = "x"
        required = [["clinic"]]
        [[life_circles]]
        name = "y"
        minutes = 10
        required = ["clinic", ["school", "primary_school"]]
        """))
    text = "\n".join(p.format() for p in errs)
    assert "life circle '5min': required item 2 (3)" in text
    assert "life circle 'x': gives neither distance_m nor minutes: give distance_m = 300 (or minutes = 5)" in text
    assert len(errs) == 2


# ----------------------------------------------------------------- invariants
@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.text(max_size=8), st.booleans(),
                 st.none(), st.lists(st.integers(), max_size=3)))
def test_a_number_setting_takes_exactly_the_numbers_in_range(value):
    """[walk] max_snap_m (> 0, <= 10,000): accepted iff a real number in range; else one problem naming the key."""
    obj, probs = parse_record(SECTIONS["walk"], {"max_snap_m": value}, where="[walk]", file=None)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value and 0 < value <= 10000
    if ok:
        assert probs == [] and obj is not None and obj.max_snap_m == float(value)
    else:
        assert obj is None and len(probs) == 1 and "max_snap_m" in probs[0].message and probs[0].fix.startswith("write max_snap_m =")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["speed_m_s", "green_m", "park_m", "max_snap_m", "bogus", "speed_m"]),
                       st.one_of(st.floats(0.01, 50), st.text(max_size=3)), max_size=4))
def test_every_bad_key_or_value_is_one_problem(table):
    obj, probs = parse_record(SECTIONS["walk"], table, where="[walk]", file=None)
    bad_keys = [k for k in table if k in ("bogus", "speed_m")]
    limits = {"speed_m_s": 3, "max_snap_m": 10000, "green_m": 100000, "park_m": 100000}
    bad_values = [k for k, v in table.items() if k in limits and (isinstance(v, str) or v > limits[k])]
    assert len(probs) == len(bad_keys) + len(bad_values)
    assert (obj is None) == bool(probs)
    if obj is not None:
        assert all(getattr(obj, k) == v for k, v in table.items())


# ----------------------------------------------------------------- fixes say what was meant
@pytest.mark.parametrize(("extra", "replace", "expect"), [
    ("", {"floor_height_m = 3.0 ": 'floor_height_m = "4m" '}, "write floor_height_m = 4"),
    ("", {"illustrative = true": 'illustrative = true\nrepair = "yes"'}, "write repair = true"),
    ("[[targets]]\nid='t'\nlayer='buildings'\nmeasure='count'\nvalue=1\nunit='count'\nyear='2025年'\n", {}, "write year = 2025"),
    ("[[targets]]\nid='t'\nlayer='buildings'\nmeasure='count'\nvalue=1\nunit='count'\nwhere='use_after = office'\n", {},
     'write where = { use_after = "office" }'),
    ("[[targets]]\nid='t'\nlayer='trails'\nmeasure='length'\nvalue=1\nunit='公里'\n", {}, 'write unit = "km"'),
    ("", {"[area]\n": "[area]\nisochrone_minutes = [5, 10]\n"}, "isochrone_minutes belongs in [walk]: move it there"),
])
def test_fixes_follow_what_was_written(tmp_path, extra, replace, expect):
    errs = problems(project_with(tmp_path, extra, replace=replace))
    assert any(expect in p.fix for p in errs), [p.format() for p in errs]


def test_set_takes_lists_and_unsets_and_says_how_to_fix(tmp_path):
    from tests.test_cli import run

    r = run("settings", str(SAMPLE), "--set", "walk.distances_m=300,600", "--set", "release.max_slope_pct=none")
    assert r.returncode == 0, r.stderr
    assert "* distances_m = [300, 600]" in r.stdout and "max_slope_pct = (unset)" in r.stdout
    r = run("validate", str(SAMPLE), "--set", "walk.speed=1.2", "--set", "walk.green_m=far")
    assert r.returncode == 2 and r.stdout.startswith("2 error(s)")
    assert "ERROR [command line]: [walk] has no setting 'speed'. Fix: did you mean 'speed_m_s'?" in r.stdout
    assert "Fix: --set walk.green_m=300" in r.stdout and r.stdout.count("ERROR [command line]: ERROR") == 0


def test_empty_lists_and_list_kinds_are_refused(tmp_path):
    errs = problems(project_with(tmp_path, '[layers.x]\nkind = ["sites"]\nfile = "chuangchuangyi.gpkg"\nlayer = "site"\n',
                                 replace={"speed_m_s = 1.0": "speed_m_s = 1.0\ndistances_m = []"}))
    text = "\n".join(p.format() for p in errs)
    assert "distances_m must hold at least 1 item(s), got 0" in text
    assert "unknown layer kind ['sites']" in text


def test_overrides_get_the_sections_own_checks(sample):
    with pytest.raises(rg.ProjectFileError, match="isochrone_origins = 'metro' is not a layer of the project"):
        rg.run_analyses(sample, ["walk"], overrides={"walk.isochrone_origins": "metro"})


def test_from_layers_names_an_unknown_section(sample):
    with pytest.raises(rg.ValidationError, match="no settings section 'wlak'.*did you mean 'walk'"):
        rg.Project.from_layers({"buildings": sample["buildings"]}, settings={"wlak": {"speed_m_s": 1.2}})
