"""The renewgeo command line, run as a user runs it (a subprocess of the installed entry point)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("renewgeo")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "renewgeo", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_demo_end_to_end(tmp_path):
    r = run("demo", "--out", str(tmp_path / "out"), "--maps-dir", str(tmp_path / "maps"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet: no progress bar, no warnings
    results = tmp_path / "out" / "results.gpkg"
    layers = set(gpd.list_layers(results)["name"])
    assert {"buildings", "paths", "amenities", "site"} <= layers
    assert len(gpd.read_file(results, layer="buildings")) == 26
    summary = pd.read_csv(tmp_path / "out" / "tables" / "layers.csv", encoding="utf-8-sig")
    assert summary.set_index("layer").loc["buildings", "features"] == 26
    html = (tmp_path / "maps" / "chuangchuangyi.html").read_text(encoding="utf-8")
    assert "Chuang 06" in html and "Buildings (26)" in html

    assert "results.gpkg" in r.stdout


def test_run_shows_progress_unless_quiet(tmp_path, sample_path):
    r = run("run", str(sample_path), "--out", str(tmp_path))
    assert r.returncode == 0
    assert "renewgeo chuangchuangyi" in r.stderr and "100%" in r.stderr


def test_validate_ok_and_invalid(tmp_path, sample_path):
    r = run("validate", str(sample_path))
    assert r.returncode == 0 and r.stdout.startswith("0 error(s), 0 warning(s)")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "chuangchuangyi.gpkg").symlink_to(sample_path / "chuangchuangyi.gpkg")
    toml = (sample_path / "project.toml").read_text(encoding="utf-8")
    toml = toml.replace('floors = "LAYERS"', 'floors = "LAYER"').replace('measure = "sum(capacity)"', 'measure = "sum(capacty)"')
    (bad / "project.toml").write_text(toml, encoding="utf-8")
    r = run("validate", str(bad))
    assert r.returncode == 2
    assert "2 error(s)" in r.stdout
    assert "did you mean 'LAYERS'" in r.stdout and "did you mean 'capacity'" in r.stdout
    r = run("run", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "the project has errors" in r.stderr
    assert not (tmp_path / "o").exists()


def test_info(sample_path):
    r = run("info", str(sample_path / "chuangchuangyi.gpkg"))
    assert r.returncode == 0
    assert "layer buildings: Polygon, 26 features, CRS EPSG:4549" in r.stdout


def test_info_and_run_bad_paths(tmp_path):
    r = run("info", str(tmp_path / "nothing.gpkg"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run("run", str(tmp_path))
    assert r.returncode == 2 and "no project.toml" in r.stderr


@pytest.mark.realdata
def test_info_pbf(shared_data):
    r = run("info", str(shared_data / "osm" / "porto_downtown.osm.pbf"))
    assert r.returncode == 0
    assert "layer multipolygons: MultiPolygon" in r.stdout and "CRS EPSG:4326" in r.stdout


def test_names_from_a_project_cannot_drive_the_terminal(tmp_path, sample_path):
    """name = "x\\u001b]0;PWNED\\u0007..." was printed raw: an escape sequence retitled (or recoloured) the user's terminal."""
    import json

    proj = tmp_path / "p"
    shutil.copytree(sample_path, proj)
    evil = "x\u001b]0;PWNED\u0007\u001b[2J\u009b31m\r\u202eevil"
    toml = (proj / "project.toml").read_text(encoding="utf-8").replace('name = "chuangchuangyi"', f"name = {json.dumps(evil)}")
    toml += f'\n[layers.{json.dumps("gone" + evil)}]\nkind = "trails"\nfile = {json.dumps("missing" + evil + ".gpkg")}\n'
    (proj / "project.toml").write_text(toml, encoding="utf-8")
    r = run("validate", str(proj))
    assert r.returncode == 2 and "gone" in r.stdout
    # the report, the error and the file list show the characters as escapes, never as themselves
    (proj / "project.toml").write_text(toml.split("\n[layers.\"gone")[0], encoding="utf-8")
    done = run("run", str(proj), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-1000:]
    for out in (r.stdout + r.stderr, done.stdout + done.stderr):
        assert not any(c in out for c in "\x1b\x07\x9b\u202e"), repr(out[-300:])  # (text mode reads a CR as a newline)
    assert "x\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\x0d\\u202eevil done" in done.stdout
    assert "\\x1b]0;PWNED" in r.stdout


def test_every_print_of_the_command_line_goes_through_one_helper():
    """A new print() that bypasses the helper would print names raw again."""
    import ast

    import renewgeo.cli as cli_module

    tree = ast.parse(Path(cli_module.__file__).read_text(encoding="utf-8"))
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert len(prints) == 1  # the one inside _echo


def test_a_target_matching_nothing_is_said_once(tmp_path, sample_path):
    """The validation report says it when the project loads; the ledger notes it without saying it again."""
    folder = tmp_path / "p"
    folder.mkdir()
    for f in ("chuangchuangyi.gpkg", "indicator_inputs.csv"):
        (folder / f).symlink_to(sample_path / f)
    toml = (sample_path / "project.toml").read_text(encoding="utf-8")
    toml += ('\n[[targets]]\nid = "nothing_here"\nlayer = "buildings"\nwhere = { use_after = "spaceport" }\nmeasure = "count"\n'
             'value = 1\nunit = "count"\n')
    (folder / "project.toml").write_text(toml, encoding="utf-8")
    r = run("area", str(folder), "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    said = [line for line in (r.stdout + r.stderr).splitlines() if "nothing_here" in line and "WARNING" in line]
    assert len(said) == 1, said
