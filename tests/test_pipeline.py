"""Runs: the registry drives run and the commands; output folders are written as a unit."""

from __future__ import annotations

import html
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import renewgeo as rg
from renewgeo.outputs import verify
from tests.test_cli import run as cli

SHIBEI = rg.datasets.get_path("shibei_relocation")


def renewgeo_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "renewgeo", *args]


def styled_columns(gpkg: Path) -> dict[str, set[str]]:
    """For each layer, the attributes its stored QGIS styles classify by."""
    import re

    con = sqlite3.connect(gpkg)
    try:
        rows = con.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for table, qml in rows:
        for attr in re.findall(r'renderer-v2 [^>]*attr="([^"]+)"', qml):
            expr = html.unescape(attr)  # a field, or an expression naming fields in double quotes (coalesce("d", -1e9))
            out.setdefault(table, set()).update(re.findall(r'"([^"]+)"', expr) or [expr])
    return out


# ------------------------------------------------------------------------ a run
def test_run_writes_one_folder_that_matches_its_manifest(tmp_path, sample):
    out = tmp_path / "out"
    run = rg.run_project(sample, out, progress=False)
    assert verify(out) == []
    m = json.loads((out / "manifest.json").read_text())
    assert m["producer"] == "renewgeo" and m["renewgeo_version"] == rg.__version__
    assert m["settings_sha256"] == sample.settings.sha256() and len(m["project"]["toml_sha256"]) == 64
    assert set(m["analyses"]) == set(run.results) and set(m["skipped"]) == set(run.skipped)
    listed = set(m["files"])
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert listed == on_disk
    assert {"results.gpkg", "tables/targets.csv", "tables/area.xlsx", "maps/chuangchuangyi.html"} <= listed
    # every style stored in the GeoPackage classifies by a column its layer has
    for layer, cols in styled_columns(out / "results.gpkg").items():
        have = set(gpd.read_file(out / "results.gpkg", layer=layer, rows=1).columns)
        assert cols <= have, (layer, cols - have)


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path, sample):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    r = cli("run", str(rg.datasets.get_path("chuangchuangyi")), "--out", str(out), "--quiet")
    assert r.returncode == 1 and "not a renewgeo output folder" in r.stderr and "Traceback" not in r.stderr
    assert [p.name for p in out.iterdir()] == ["thesis.docx"] and (out / "thesis.docx").read_bytes() == b"precious"


def test_single_analysis_after_run_keeps_the_folder_consistent(tmp_path, sample_path):
    """`renewgeo area` after `renewgeo run` used to cut the buildings to 10 fields and break the styles and the map."""
    out = tmp_path / "out"
    r = cli("run", str(sample_path), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    before = gpd.read_file(out / "results.gpkg", layer="buildings")
    walk_cols = [c for c in before.columns if c.startswith(("walk_", "lc_")) or c == "daily_dist_m"]
    assert len(walk_cols) > 20
    r = cli("area", str(sample_path), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "11 of 11 targets met" in r.stdout and "holds walk, scorecard from an earlier run; recomputing them" in r.stderr
    after = gpd.read_file(out / "results.gpkg", layer="buildings")
    assert list(after.columns) == list(before.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(after.drop(columns="geometry")), pd.DataFrame(before.drop(columns="geometry")))
    assert verify(out) == []
    m = json.loads((out / "manifest.json").read_text())
    assert {"area", "targets", "walk"} <= set(m["analyses"])
    html = (out / "maps" / "chuangchuangyi.html").read_text(encoding="utf-8")
    assert "walk_distance" in html and "network_nodes" in html  # the map still shows the walking results
    for layer, cols in styled_columns(out / "results.gpkg").items():
        have = set(gpd.read_file(out / "results.gpkg", layer=layer, rows=1).columns)
        assert cols <= have, (layer, cols - have)


def test_walk_uses_the_projects_storey_heights(tmp_path):
    """`renewgeo walk` used to compute floor area without [area] floor_height_m_by_use: 1,200 m2 instead of 800."""
    x0, y0 = 518000.0, 3985000.0
    b = gpd.GeoDataFrame({"id": ["B1"], "use_before": ["industrial"], "height_m": [18.0]},
                         geometry=[shapely.box(x0, y0 + 10, x0 + 20, y0 + 20)], crs=4549)  # 200 m2, 18 m: 4 storeys of 4.5 m
    paths = gpd.GeoDataFrame({"id": ["P1"]}, geometry=[shapely.LineString([(x0 - 50, y0), (x0 + 300, y0)])], crs=4549)
    amen = gpd.GeoDataFrame({"id": ["A1"], "category": ["cafe"]}, geometry=[shapely.Point(x0 + 200, y0 + 5)], crs=4549)
    gpkg = tmp_path / "p" / "d.gpkg"
    gpkg.parent.mkdir()
    for name, g in {"buildings": b, "paths": paths, "amenities": amen}.items():
        g.to_file(gpkg, layer=name)
    toml = "[project]\nname='t'\n" + "".join(f"[layers.{n}]\nfile='d.gpkg'\nlayer='{n}'\n" for n in ("buildings", "paths", "amenities"))
    (gpkg.parent / "project.toml").write_text(toml + "[area]\nfloor_height_m_by_use = { industrial = 4.5 }\n[walk]\nisochrone_origins = 'none'\n")
    r = cli("walk", str(gpkg.parent), "--out", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 0, r.stderr
    got = gpd.read_file(tmp_path / "o" / "results.gpkg", layer="buildings")
    assert got.loc[0, "gfa_m2"] == pytest.approx(800.0, rel=1e-4) and got.loc[0, "floors_used"] == 4  # true area: 199.998 m2 x 4


def test_a_command_for_an_analysis_that_does_not_apply_says_why(tmp_path, sample_path):
    r = cli("raster", str(sample_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "raster does not apply" in r.stderr and "[rasters.NAME]" in r.stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ kills
def _staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.staging-*"))


def _wait_for(proc: subprocess.Popen, test, timeout_s: float = 60.0) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            return False
        if test():
            return True
        time.sleep(0.002)
    return False


def _check_complete(out: Path, run_ids: set[float]) -> float:
    """The folder holds one complete run: its files match its manifest, which names one of the runs started."""
    assert verify(out) == [], verify(out)
    m = json.loads((out / "manifest.json").read_text())
    assert m["overrides"]["map.simplify_m"] in run_ids
    return float(m["overrides"]["map.simplify_m"])


def _kill_at(proc: subprocess.Popen, out: Path, moment: str, delay_s: float) -> bool:
    """SIGKILL ``proc`` at ``moment`` (a stage of writing, or ``delay_s`` after the staging folder appears); True if it was still running."""
    tests = {"gpkg": lambda: any(s.glob("*.gpkg*") for s in _staging(out)),
             "map": lambda: any(s.glob("maps/*") for s in _staging(out)),
             "manifest": lambda: any((s / "manifest.json").exists() for s in _staging(out)),
             "staging": lambda: bool(_staging(out))}
    hit = _wait_for(proc, tests[moment])
    if hit and delay_s:
        time.sleep(delay_s)
        hit = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return hit


def test_killed_runs_always_leave_one_complete_run(tmp_path):
    """SIGKILL at random moments and in the GeoPackage and map writes: the folder always matches its manifest."""
    project = SHIBEI
    out = tmp_path / "out"
    # each run gets its own (harmless) setting value, which the manifest records: files can be told apart by run
    first = subprocess.run(renewgeo_cmd("run", str(project), "--out", str(out), "--quiet", "--set", "map.simplify_m=0.5"),
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    ids = {0.5}
    rng = random.Random(20261122)
    plan = ["gpkg", "map", "manifest", "gpkg", "map"]
    landed: list[str] = []
    for i in range(40):  # until 12 kills landed while the run was still going (a busy machine lets some finish first)
        if len(landed) >= 12:
            break
        moment = plan[i] if i < len(plan) else "staging"
        value = 0.601 + i / 1000
        ids.add(value)
        proc = subprocess.Popen(renewgeo_cmd("run", str(project), "--out", str(out), "--quiet", "--set", f"map.simplify_m={value}"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _kill_at(proc, out, moment, rng.uniform(0.0, 1.5) if moment == "staging" else 0.0):
            landed.append(moment)
        _check_complete(out, ids)
    assert len(landed) >= 12 and {"gpkg", "map"} <= set(landed), landed
    # the next run cleans up what the killed ones left beside the folder
    last = subprocess.run(renewgeo_cmd("run", str(project), "--out", str(out), "--quiet", "--set", "map.simplify_m=0.99"),
                          capture_output=True, text=True, timeout=300)
    assert last.returncode == 0, last.stderr
    assert _check_complete(out, ids | {0.99}) == 0.99
    assert _staging(out) == [] and not list(out.parent.glob(f".{out.name}.old-*"))
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name.endswith(("-journal", "-wal", "-shm"))]


def test_two_runs_into_one_folder_never_interleave(tmp_path):
    out = tmp_path / "out"
    procs = [subprocess.Popen(renewgeo_cmd("run", str(SHIBEI), "--out", str(out), "--quiet", "--set", f"map.simplify_m={v}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for v in ("0.5", "0.7")]
    outs = [p.communicate(timeout=300) for p in procs]
    results = [(p.returncode, err) for p, (_, err) in zip(procs, outs, strict=True)]
    codes = sorted(c for c, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    if codes == [0, 1]:
        err = next(e for c, e in results if c == 1)
        assert "another renewgeo run is writing" in err and str(out) in err and "Traceback" not in err
    assert verify(out) == []


# ------------------------------------------------------------------------ results
def test_registered_results_equal_an_independent_computation(tmp_path):
    """Net release on Shibei: per parcel, gross = net + unusable + removed = the true area (pyproj.Geod), sums by year match pandas."""
    from tests.test_land_release import geodesic_m2

    p = rg.load_project(SHIBEI)
    run = rg.run_analyses(p, ["release"], progress=False)
    net = run.layers["net_release"]
    removed = net.filter(regex=r"^removed_.+_m2$").sum(axis=1)
    assert np.allclose(net["net_area_m2"] + net["unusable_m2"] + removed, net["gross_area_m2"], rtol=1e-12)
    assert (net["overlap_m2"] == 0).all()  # the sample's parcels do not overlap: gross is the drawn parcel
    assert np.allclose(net["gross_area_m2"], geodesic_m2(p["parcels"].geometry.values, p.crs), rtol=1e-6)
    by = net.groupby("release_year")["net_area_m2"].sum() / (10000 / 15)
    assert np.allclose(run.tables["release_by_year"]["net_area_mu"].to_numpy(), by.to_numpy(), rtol=1e-12)
    assert set(run.skipped) == {"raster"}



# ------------------------------------------------------------------------ the folder and the user
def test_a_run_folder_with_the_users_own_files_is_refused(tmp_path):
    out = tmp_path / "out"
    assert cli("run", str(SHIBEI), "--out", str(out), "--quiet").returncode == 0
    (out / "notes.txt").write_text("my notes", encoding="utf-8")
    r = cli("run", str(SHIBEI), "--out", str(out), "--quiet")
    assert r.returncode == 1 and "holds files that are not part of its renewgeo run: ['notes.txt']" in r.stderr
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes"
    (out / "notes.txt").unlink()
    (out / "results.gpkg-shm").write_bytes(b"")  # QGIS has the GeoPackage open: not the user's file, and not a reason to refuse
    r = cli("release", str(SHIBEI), "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert {"release", "area", "targets"} <= set(json.loads((out / "manifest.json").read_text())["analyses"])


def test_overrides_are_recorded_as_given_and_not_carried_over(tmp_path, sample_path):
    """An earlier `--set walk.distances_m=[200, 400]` used to be stored as text and break every later command."""
    out = tmp_path / "out"
    r = cli("run", str(sample_path), "--out", str(out), "--quiet", "--set", "walk.distances_m=200,400")
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["overrides"] == {"walk.distances_m": [200, 400]} and m["settings"]["walk"]["distances_m"] == [200.0, 400.0]
    assert "within_200m_pct" in pd.read_csv(out / "tables" / "walk_by_category.csv", encoding="utf-8-sig").columns
    r = cli("area", str(sample_path), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "used --set walk.distances_m=[200, 400]; this run uses project.toml and this command's options only" in r.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["overrides"] == {} and m["settings"]["walk"]["distances_m"] == [300.0, 500.0, 800.0, 1000.0]
    assert "within_300m_pct" in pd.read_csv(out / "tables" / "walk_by_category.csv", encoding="utf-8-sig").columns


def test_replacing_another_projects_run_says_so(tmp_path, sample_path):
    out = tmp_path / "out"
    assert cli("run", str(sample_path), "--out", str(out), "--quiet").returncode == 0
    r = cli("release", str(SHIBEI), "--out", str(out))
    assert r.returncode == 0 and "held a run of project 'chuangchuangyi'; it is replaced by this run of 'shibei_relocation'" in r.stderr


def test_a_busy_folder_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from renewgeo.outputs import open_output\n"
        f"with open_output({str(out)!r}) as s:\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        r = cli("run", str(rg.datasets.get_path("chuangchuangyi")), "--out", str(out), "--quiet")
        took = time.monotonic() - t0
    finally:
        holder.kill()
        holder.communicate()
    assert r.returncode == 1 and "another renewgeo run is writing this folder (pid" in r.stderr
    assert took < 6  # refused at once, not after computing every analysis (which takes longer than loading)


def test_an_unwritable_place_is_not_called_busy(tmp_path):
    r = cli("run", str(SHIBEI), "--out", "/proc/renewgeo-test-out", "--quiet")
    assert r.returncode == 1 and "another renewgeo run" not in r.stderr and "Traceback" not in r.stderr
    assert "/proc" in r.stderr


def test_interrupted_run_leaves_the_folder_and_says_so(tmp_path):
    out = tmp_path / "out"
    assert cli("run", str(SHIBEI), "--out", str(out), "--quiet").returncode == 0
    before = (out / "manifest.json").read_bytes()
    proc = subprocess.Popen(renewgeo_cmd("run", str(SHIBEI), "--out", str(out), "--quiet"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert _wait_for(proc, lambda: bool(_staging(out)))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert (out / "manifest.json").read_bytes() == before and verify(out) == [] and _staging(out) == []


def test_a_full_disk_is_not_called_a_bug(tmp_path, monkeypatch, capsys):
    import errno

    from renewgeo import cli as rcli
    from renewgeo import io as rio

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rio, "write_table", full)
    code = rcli.main(["run", str(SHIBEI), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err and "bug" not in err and not (tmp_path / "out").exists()


def test_targets_bring_the_analyses_they_name(tmp_path, sample_path):
    """A target on a walking column used to validate and then fail in run: targets now run after what they name."""
    from tests.test_settings import project_with

    path = project_with(tmp_path, """
        [[targets]]
        id = "homes_15min"
        layer = "buildings"
        where = { lc_15min_pass = true }
        measure = "sum(households)"
        value = 160
        unit = "count"
        [[targets]]
        id = "iso_area"
        layer = "isochrones"
        where = { minutes = 15 }
        measure = "sum(area_ha)"
        value = 10
        unit = "ha"
        """)
    p = rg.load_project(path)
    run = rg.run_analyses(p, ["targets"], progress=False)
    assert {"walk", "area", "targets"} <= set(run.results)
    led = run.tables["targets"].set_index("id")
    b = run.layer("buildings")
    assert led.loc["homes_15min", "actual"] == b.loc[b["lc_15min_pass"], "households"].sum()
    iso = run.layers["isochrones"]
    assert led.loc["iso_area", "actual"] == pytest.approx(iso.loc[iso["minutes"] == 15, "area_ha"].sum())
