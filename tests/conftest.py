"""Shared fixtures: the real data in ../shared/data, the sample project, a PostGIS server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import renewgeo as rg

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
STRICT = os.environ.get("RENEWGEO_STRICT") == "1" or os.environ.get("CI") == "true"


def _missing(reason: str) -> None:
    """Skip on a user's machine; fail in CI, where everything must run."""
    if STRICT:
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        _missing(f"real data folder {SHARED_DATA} is missing (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return rg.datasets.get_path("chuangchuangyi")


@pytest.fixture(scope="session")
def sample(sample_path: Path) -> rg.Project:
    return rg.load_project(sample_path)


@pytest.fixture(autouse=True)
def _no_progress(doctest_namespace: dict) -> Iterator[None]:
    rg.options.progress = False
    yield
    rg.options.progress = True


# ------------------------------------------------------------------------ PostGIS
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    base = Path("/usr/lib/postgresql")
    if not base.is_dir():
        return None
    for v in sorted(base.iterdir(), key=lambda p: p.name, reverse=True):
        if (v / "bin" / "initdb").exists():
            return v / "bin"
    return None


@pytest.fixture(scope="session")
def postgis_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a throwaway PostgreSQL + PostGIS on 127.0.0.1 and yield its SQLAlchemy URL."""
    pgbin = _pg_bin()
    if pgbin is None:
        _missing("PostgreSQL server binaries not installed (make test installs them: scripts/install_system_deps.sh)")
    ext = list(Path("/usr/share/postgresql").glob("*/extension/postgis.control"))
    if not ext:
        _missing("PostGIS extension not installed (apt-get install postgresql-15-postgis-3)")
    assert pgbin is not None
    # pytest's own temp folders are private to root; the server runs as postgres
    top = Path(tempfile.mkdtemp(prefix="renewgeo-pg-"))
    data, sock = top / "data", top / "sock"
    data.mkdir()
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            _missing("running as root without runuser; cannot start PostgreSQL as the postgres user")
        as_user = ["runuser", "-u", "postgres", "--"]
        for d in (top, data, sock):
            shutil.chown(d, "postgres")
            os.chmod(d, 0o700)
    port = _free_port()
    init = subprocess.run(
        [*as_user, str(pgbin / "initdb"), "-D", str(data), "-A", "trust", "-U", "renewgeo", "--no-sync"],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(top, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr}")
    log = data / "server.log"
    subprocess.run(
        [
            *as_user,
            str(pgbin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        for _ in range(50):
            r = subprocess.run([str(pgbin / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        psql = [
            str(pgbin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "renewgeo",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
        ]
        subprocess.run([*psql, "-c", "CREATE DATABASE planning"], check=True, capture_output=True)
        subprocess.run(
            [*psql[:-3], "-d", "planning", "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE EXTENSION postgis"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://renewgeo@127.0.0.1:{port}/planning"
    finally:
        subprocess.run([*as_user, str(pgbin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
