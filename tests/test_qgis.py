"""The results GeoPackage opened in real QGIS (Debian python3-qgis, headless)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

import renewgeo as rg
from renewgeo import qgis
from renewgeo.pipeline import run_project

CHECK = Path(__file__).with_name("qgis_check.py")
SYSTEM_PY = "/usr/bin/python3"


def has_pyqgis() -> bool:
    if not os.path.exists(SYSTEM_PY):
        return False
    return subprocess.run([SYSTEM_PY, "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def pyqgis():
    if not has_pyqgis():
        from tests.conftest import _missing

        _missing("Debian python3-qgis is not installed (make test installs qgis python3-qgis)")


def open_in_qgis(gpkg: Path, png: Path, points=()) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(png.parent)}
    r = subprocess.run([SYSTEM_PY, str(CHECK), str(gpkg), str(png), *[f"{x},{y}" for x, y in points]],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def park(tmp_path_factory, sample_path):
    out = tmp_path_factory.mktemp("park")
    project = rg.load_project(sample_path)
    result = run_project(project, out, progress=False)
    return project, result, result.files["results"]


def test_every_layer_valid_and_styled_in_qgis(pyqgis, park, tmp_path):
    project, _result, gpkg = park
    b = project["buildings"]
    # points inside buildings (12 m north of the centre: clear of amenity symbols and labels)
    probes = [(r.geometry.centroid.x, r.geometry.centroid.y + 12) for r in b.itertuples()]

    info = open_in_qgis(gpkg, tmp_path / "qgis.png", probes)
    written = {n: pyogrio.read_info(gpkg, layer=n) for n in pyogrio.list_layers(gpkg)[:, 0] if n != "layer_styles"}
    assert set(info["layers"]) == set(written)
    for name, meta in written.items():
        lyr = info["layers"][name]
        assert lyr["valid"], name
        assert lyr["crs"] == "EPSG:4549", name
        assert lyr["features"] == meta["features"], name
        assert [f for f, _ in lyr["fields"] if f != "fid"] == list(meta["fields"]), name
        assert lyr["style_loaded"], (name, lyr["style_message"])
    bl = info["layers"]["buildings"]
    assert bl["renderer"] == "categorizedSymbol" and bl["attr"] == "status"
    assert dict(bl["categories"]) == {s: qgis.STATUS_COLOURS[s] for s in ("operating", "renovated", "under_renovation")}
    nodes = info["layers"]["network_nodes"]
    assert nodes["renderer"] == "graduatedSymbol" and nodes["attr"] == "daily_dist_m"
    assert [r[:2] for r in nodes["ranges"]][:2] == [[0.0, 300.0], [300.0, 500.0]]
    assert info["layers"]["pedestrian_axis"]["colour"] == "#d7301f"
    assert info["layers"]["landscape_corridor"]["colour"] == "#1a9850"
    assert info["layers"]["amenities"]["renderer"] == "categorizedSymbol"
    # QGIS's own renderer paints each building in its status colour
    expected = [qgis.STATUS_COLOURS[s] for s in b["status"]]
    assert info["pixels"] == expected
    assert (tmp_path / "qgis.png").stat().st_size > 20_000


def test_release_layers_styled_in_qgis(pyqgis, tmp_path):
    p = rg.load_project(rg.datasets.get_path("shibei_relocation"))
    result = run_project(p, tmp_path / "out", progress=False)
    info = open_in_qgis(result.files["results"], tmp_path / "shibei.png")
    net = info["layers"]["net_release"]
    assert net["valid"] and net["style_loaded"] and net["renderer"] == "categorizedSymbol"
    assert [c[0] for c in net["categories"]] == ["2024", "2025", "2026"]
    assert info["layers"]["constraints_applied"]["renderer"] == "categorizedSymbol"


def test_gpkg_is_1_3_with_styles_table(park):
    _, _, gpkg = park
    con = sqlite3.connect(gpkg)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
        rows = con.execute("SELECT f_table_name, f_geometry_column, useAsDefault FROM layer_styles").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_geometry_columns")}
        geom = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
    finally:
        con.close()
    assert rows and all(t in tables and g == geom[t] and d == 1 for t, g, d in rows)


def test_names_qgis_cannot_store_are_renamed_with_a_warning(tmp_path):
    g = gpd.GeoDataFrame({"fid": ["a"], "Name": ["x"], "name": ["y"], "when": pd.to_datetime(["2024-05-01 08:00"])},
                         geometry=[shapely.Point(500000, 4000000)], crs=32651)
    with pytest.warns(UserWarning, match=r"renamed for QGIS: layer 'my layer' -> 'my_layer'.*'fid' -> 'fid_value'.*'name' -> 'name_2'"):
        path = qgis.write_gpkg({"my layer": g, "My_Layer": g}, tmp_path / "r.gpkg")
    names = list(pyogrio.list_layers(path)[:, 0])
    assert "my_layer" in names and "My_Layer_2" in names
    back = gpd.read_file(path, layer="my_layer")
    assert {"fid_value", "Name", "name_2"} <= set(back.columns)
    assert str(back["when"].dt.tz) == "UTC"


def test_failed_write_leaves_old_file(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(500000, 4000000)], crs=32651)
    path = qgis.write_gpkg({"a": g}, tmp_path / "r.gpkg")
    before = path.read_bytes()
    bad = g.assign(z=[1j])
    with pytest.raises(rg.WriteError, match="intact"):
        qgis.write_gpkg({"a": g, "b": bad}, path)
    assert path.read_bytes() == before
