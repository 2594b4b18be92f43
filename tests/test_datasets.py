"""Sample data access, and the sample ships in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import renewgeo as rg

ROOT = Path(__file__).resolve().parents[1]


def test_get_path_and_available():
    assert rg.datasets.available() == ["chuangchuangyi", "shibei_oldblocks", "shibei_relocation"]
    assert (rg.datasets.get_path("chuangchuangyi") / "chuangchuangyi.gpkg").exists()


def test_unknown_name_lists_available():
    with pytest.raises(rg.RenewgeoError, match=r"no sample project 'chuangchuangyii'; available: \['chuangchuangyi', 'shibei_oldblocks', 'shibei_relocation'\]"):
        rg.datasets.get_path("chuangchuangyii")


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs the source tree")
def test_wheel_contains_sample_and_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("renewgeo-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in (
        "renewgeo/datasets/chuangchuangyi/project.toml",
        "renewgeo/datasets/chuangchuangyi/chuangchuangyi.gpkg",
        "renewgeo/datasets/shibei_oldblocks/scenarios.gpkg",
        "renewgeo/data/osm_categories.csv",
        "renewgeo/data/life_circles.toml",
        "renewgeo/datasets/shibei_relocation/shibei_relocation.gpkg",

        "renewgeo/__init__.py",
    ):
        assert f in names, f
    assert not any(n.startswith("tests/") for n in names)
