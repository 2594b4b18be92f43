"""Output folders written as a unit: lock, refusals, staging, atomic swap, repair, SIGKILL at random moments."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from renewgeo import outputs
from renewgeo._errors import ReadError, WriteError
from renewgeo.outputs import OutputBusyError, copy_file_atomic, open_output, read_manifest, recover, verify

PKG_DIR = Path(outputs.__file__).parent

# Started as `python helper.py PKG_DIR hold OUT` (holds the folder until stdin closes) or
# `python helper.py PKG_DIR write OUT RUN NFILES DELAY_S`: writes NFILES files of 1-2 MB, each
# starting with "run RUN", fsync'ed, DELAY_S apart, then commits {"run": RUN}.
HELPER = r'''
import os, sys, time, types
from pathlib import Path

# renewgeo.outputs without the package __init__ (every analysis, numba): keeps each start short
pkg = types.ModuleType("renewgeo")
pkg.__path__ = [sys.argv[1]]
sys.modules["renewgeo"] = pkg
from renewgeo.outputs import open_output

mode, out = sys.argv[2], Path(sys.argv[3])
if mode == "hold":
    with open_output(out):
        print("locked", flush=True)
        sys.stdin.read()
    sys.exit(0)
run, nfiles, delay_s = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
with open_output(out, wait_s=30) as staging:
    print("writing", flush=True)
    for i in range(nfiles):
        path = staging.path / ("tables" if i % 2 else "rasters") / f"set{run % 3}-{i:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        with open(path, "wb") as f:
            f.write(f"run {run}\n".encode().ljust(32) + bytes([run % 251]) * (1_000_000 + 25_000 * i))
            f.flush()
            os.fsync(f.fileno())
        time.sleep(delay_s)
    print("commit", flush=True)
    staging.commit({"run": run})
print("done", flush=True)
'''


@pytest.fixture
def helper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("helper") / "writer.py"
    path.write_text(HELPER, encoding="utf-8")
    return path


def _commit(out: Path, files: dict[str, str | bytes], **manifest: object) -> Path:
    with open_output(out) as staging:
        for rel, data in files.items():
            p = staging.path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data.encode() if isinstance(data, str) else data)
        return staging.commit(manifest)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Everything under root (bytes of files, None for folders), lock files aside."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
        if not p.name.endswith(".lock")
    }


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith((f".{out.name}.staging-", f".{out.name}.old-")))


# ------------------------------------------------------------------ commit and replace
def test_first_commit_creates_the_folder_and_a_second_run_replaces_it_whole(tmp_path, monkeypatch):
    out = tmp_path / "deep" / "x"
    exchanged: list[bool] = []
    real = outputs._exchange
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: exchanged.append(real(a, b)) or exchanged[-1])

    final = _commit(out, {"results.gpkg": b"one", "tables/a.csv": "a,b\n1,2\n", "maps/only_first.html": "<p>1</p>"}, run=1)
    assert final == out and out.is_dir()
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == {
        "manifest.json", "results.gpkg", "tables/a.csv", "maps/only_first.html"}
    assert verify(out) == []
    assert exchanged == []  # nothing to swap with: a plain rename

    _commit(out, {"results.gpkg": b"two", "tables/a.csv": "a,b\n3,4\n"}, run=2)
    assert not (out / "maps" / "only_first.html").exists()
    assert (out / "results.gpkg").read_bytes() == b"two"
    assert read_manifest(out)["run"] == 2
    assert sorted(read_manifest(out)["files"]) == ["results.gpkg", "tables/a.csv"]
    assert verify(out) == []
    assert sorted(os.listdir(tmp_path / "deep")) == [".x.lock", "x"]  # no staging, no old run, no holder file
    if sys.platform.startswith("linux"):
        assert exchanged == [True]  # one renameat2(RENAME_EXCHANGE)


def test_the_manifest_lists_every_file_with_an_independent_sha256(tmp_path):
    data = {"results.gpkg": os.urandom(3000), "tables/面积.csv": "区,gfa_m2\n闯创,1200\n".encode(), "rasters/a/b.tif": b""}
    out = _commit(tmp_path / "x", data, renewgeo_version="0.1.0", project={"name": "闯创一"}, settings_sha256="ab" * 32)
    text = (out / "manifest.json").read_text(encoding="utf-8")
    m = json.loads(text)
    assert "闯创一" in text  # not \u-escaped: planners read this file
    assert m["producer"] == "renewgeo" and m["format"] == 1
    assert m["renewgeo_version"] == "0.1.0" and m["project"] == {"name": "闯创一"} and m["settings_sha256"] == "ab" * 32
    created = datetime.strptime(m["created_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert list(m["files"]) == sorted(data)
    assert m["files"] == {rel: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for rel, b in data.items()}


def test_commit_returns_the_absolute_folder_and_cannot_run_twice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_output("x") as staging:
        (staging.path / "a.txt").write_text("a")
        assert staging.path.parent == tmp_path and staging.path.name.startswith(".x.staging-")
        assert staging.commit({}) == tmp_path / "x"
        assert not staging.path.exists()
        with pytest.raises(WriteError, match="already committed"):
            staging.commit({})
    assert verify(tmp_path / "x") == []
    with open_output(tmp_path / "y") as late:
        (late.path / "a.txt").write_text("a")
    with pytest.raises(WriteError, match="inside the `with open_output"):  # the lock is gone
        late.commit({})
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize("name", [".results.k3j2.tmp.gpkg", "tables/.a.x1.tmp.csv", "results.gpkg-journal", "results.gpkg-wal",
                                  "results.gpkg-shm", "manifest.json"])
def test_commit_refuses_files_a_writer_left_behind(tmp_path, name):
    out = tmp_path / "x"
    _commit(out, {"a.txt": "old"}, run=1)
    before = _tree(tmp_path)
    with open_output(out) as staging:
        (staging.path / "a.txt").write_text("new")
        (staging.path / name).parent.mkdir(exist_ok=True)
        (staging.path / name).write_text("?")
        with pytest.raises(WriteError, match=name.rsplit("/", 1)[-1].replace(".", r"\.")):
            staging.commit({"run": 2})
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(("manifest", "match"), [({"files": {}}, "set by commit"), ({"producer": "me"}, "set by commit"),
                                                 ({"when": datetime.now(UTC)}, "JSON")])
def test_commit_refuses_a_manifest_it_cannot_write(tmp_path, manifest, match):
    with open_output(tmp_path / "x") as staging:
        (staging.path / "a.txt").write_text("a")
        with pytest.raises(WriteError, match=match):
            staging.commit(manifest)
    assert os.listdir(tmp_path) == [".x.lock"]


# ------------------------------------------------------------------ nothing committed
def _fail_inside(out: Path, seen: list[Path]) -> None:
    with open_output(out) as staging:
        seen.append(staging.path)
        (staging.path / "a.txt").write_text("half of a new run")
        assert staging.path.is_dir()
        raise RuntimeError("disk full")


def test_an_error_inside_the_block_leaves_the_old_run_byte_identical(tmp_path):
    out = tmp_path / "x"
    _commit(out, {"a.txt": "old", "tables/b.csv": "1"}, run=1)
    before = _tree(tmp_path)
    seen: list[Path] = []
    with pytest.raises(RuntimeError, match="disk full"):
        _fail_inside(out, seen)
    assert len(seen) == 1 and not seen[0].exists()
    assert _tree(tmp_path) == before
    with open_output(out) as staging:  # and without an error, no commit: the same
        (staging.path / "a.txt").write_text("new")
    assert _tree(tmp_path) == before
    assert verify(out) == []


# ------------------------------------------------------------------ what may be replaced
@pytest.mark.parametrize("manifest", [None, '{"name": "some npm package"}', "not json"])
def test_a_folder_renewgeo_did_not_write_is_refused_and_left_alone(tmp_path, manifest):
    out = tmp_path / "survey"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("field notes")
    (out / "sub" / "plots.shp").write_bytes(b"\x00\x00\x27\x0a")
    if manifest is not None:
        (out / "manifest.json").write_text(manifest)
    before = _tree(tmp_path)
    with pytest.raises(WriteError, match="is not a renewgeo output folder") as err:
        _commit(out, {"a.txt": "a"})
    assert str(out) in str(err.value) and "delete it yourself" in str(err.value)
    assert _tree(tmp_path) == before


def test_an_empty_folder_is_accepted(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    _commit(out, {"a.txt": "a"})
    assert verify(out) == [] and (out / "a.txt").read_text() == "a"


def test_a_file_a_symlink_and_an_unmakeable_parent_are_refused(tmp_path):
    (tmp_path / "x.txt").write_text("a file")
    with pytest.raises(WriteError, match="is a file"):
        _commit(tmp_path / "x.txt", {"a.txt": "a"})
    assert (tmp_path / "x.txt").read_text() == "a file"

    real = _commit(tmp_path / "real", {"a.txt": "real"}, run=1)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    before = _tree(real)
    with pytest.raises(WriteError, match="symbolic link"):
        _commit(tmp_path / "link", {"a.txt": "via link"})
    assert (tmp_path / "link").is_symlink() and _tree(real) == before

    with pytest.raises(WriteError, match="cannot create its parent folder"):
        _commit(tmp_path / "x.txt" / "out", {"a.txt": "a"})


# ------------------------------------------------------------------ leftovers and repair
def test_leftovers_of_killed_runs_are_removed_by_the_next_open_output(tmp_path, caplog):
    out = tmp_path / "x"
    _commit(out, {"a.txt": "committed"}, run=1)
    stale = [tmp_path / ".x.staging-0a1b2c", tmp_path / ".x.old-3d4e5f", tmp_path / ".x.staging-complete"]
    for s in stale[:2]:
        (s / "tables").mkdir(parents=True)
        (s / "tables" / "t.csv").write_text("half")
        (s / ".results.ab.tmp.gpkg").write_bytes(b"x" * 100)
    _commit(tmp_path / "y", {"a.txt": "complete, but never swapped in"}, run=2)
    os.rename(tmp_path / "y", stale[2])  # complete, but out exists: it was never committed
    others = [tmp_path / ".y.staging-0a1b2c", tmp_path / ".x.stagingfoo", tmp_path / "x.staging-1", tmp_path / ".x.lock.json.bak"]
    for o in others:
        o.mkdir()
    before = _tree(out)
    with caplog.at_level(logging.INFO, logger="renewgeo.outputs"), open_output(out):
        assert not any(s.exists() for s in stale)
    assert all(o.exists() for o in others)
    assert _tree(out) == before and read_manifest(out)["run"] == 1
    assert all(s.name in caplog.text for s in stale)  # logged, each by name


def test_a_run_moved_aside_by_an_interrupted_fallback_commit_is_restored(tmp_path):
    out = tmp_path / "x"
    _commit(out, {"a.txt": "run 1"}, run=1)
    os.rename(out, tmp_path / ".x.old-5f5f5f")  # the fallback's first rename; killed before the second
    (tmp_path / ".x.staging-9e9e9e" / "tables").mkdir(parents=True)  # a run killed while writing
    (tmp_path / ".x.staging-9e9e9e" / "tables" / "t.csv").write_text("half")
    with open_output(out) as staging:
        assert verify(out) == [] and read_manifest(out)["run"] == 1 and (out / "a.txt").read_text() == "run 1"
        assert _leftovers(out) == [staging.path.name]
        (staging.path / "b.txt").write_text("run 2")
        staging.commit({"run": 2})
    assert read_manifest(out)["run"] == 2 and verify(out) == [] and _leftovers(out) == []


def test_recover_restores_the_newest_complete_run(tmp_path):
    out = tmp_path / "x"
    _commit(out, {"a.txt": "run 1"}, run=1)
    os.rename(out, tmp_path / ".x.old-111111")
    for run in (2, 3):
        other = _commit(tmp_path / f"r{run}", {"a.txt": f"run {run}", "b.txt": "b"}, run=run)
        os.rename(other, tmp_path / f".x.staging-{run}{run}{run}")
    (tmp_path / ".x.staging-333" / "b.txt").write_text("c")  # run 3, the newest, is not complete
    assert recover(out) is True
    assert read_manifest(out)["run"] == 2 and verify(out) == []
    assert _leftovers(out) == [".x.old-111111", ".x.staging-333"]  # recover() only restores
    assert recover(out) is False
    with open_output(out):
        pass
    assert _leftovers(out) == [] and read_manifest(out)["run"] == 2
    assert recover(tmp_path / "never") is False and not (tmp_path / "never").exists()


# ------------------------------------------------------------------ verify and read_manifest
@pytest.mark.parametrize(("damage", "name", "says"), [
    (lambda out: (out / "tables" / "a.csv").write_bytes(b"a,b\n1,3\n"), "tables/a.csv", "same size but another sha256"),
    (lambda out: (out / "results.gpkg").write_bytes(b"GPKG!"), "results.gpkg", "changed"),
    (lambda out: (out / "maps" / "m.html").unlink(), "maps/m.html", "missing"),
    (lambda out: (out / "rasters").mkdir() or (out / "rasters" / "x.tif").write_bytes(b"II*"), "rasters/x.tif", "extra file"),
])
def test_verify_names_each_changed_missing_or_extra_file(tmp_path, damage, name, says):
    out = _commit(tmp_path / "x", {"results.gpkg": b"GPKG", "tables/a.csv": "a,b\n1,2\n", "maps/m.html": "<p/>"})
    assert verify(out) == []
    damage(out)
    problems = verify(out)
    assert len(problems) == 1, problems
    assert str(out / name) in problems[0] and says in problems[0]


@pytest.mark.parametrize(("text", "says"), [(None, "no such file"), ("{truncated", "cannot be read"),
                                            ('{"files": {}}', "not a renewgeo manifest")])
def test_a_missing_or_unreadable_manifest_is_one_problem_and_a_read_error(tmp_path, text, says):
    out = _commit(tmp_path / "x", {"a.txt": "a"})
    if text is None:
        (out / "manifest.json").unlink()
    else:
        (out / "manifest.json").write_text(text)
    problems = verify(out)
    assert len(problems) == 1 and "manifest.json" in problems[0] and says in problems[0]
    with pytest.raises(ReadError, match=says):
        read_manifest(out)


# ------------------------------------------------------------------ the fallback, copies
@pytest.mark.parametrize("how", ["no renameat2", "renameat2 says EINVAL"])
def test_the_two_rename_fallback_gives_the_same_result(tmp_path, monkeypatch, how):
    calls: list[tuple] = []

    def einval(*args: object) -> int:
        calls.append(args)
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(outputs, "_renameat2", (lambda: None) if how == "no renameat2" else (lambda: einval))
    renames: list[str] = []
    real_rename = os.rename
    monkeypatch.setattr(outputs.os, "rename", lambda a, b: renames.append(Path(b).name) or real_rename(a, b))
    out = tmp_path / "x"
    _commit(out, {"a.txt": "1", "only_first.txt": "1"}, run=1)
    _commit(out, {"a.txt": "2", "tables/b.csv": "2"}, run=2)
    assert renames[0] == "x" and renames[1].startswith(".x.old-") and renames[2] == "x"  # the fallback ran
    assert len(calls) == (1 if how != "no renameat2" else 0)
    assert sorted(read_manifest(out)["files"]) == ["a.txt", "tables/b.csv"] and read_manifest(out)["run"] == 2
    assert verify(out) == [] and (out / "a.txt").read_text() == "2"
    assert sorted(os.listdir(tmp_path)) == [".x.lock", "x"]


def test_copy_file_atomic_replaces_the_destination_and_leaves_no_temp_file(tmp_path):
    out = _commit(tmp_path / "x", {"maps/m.html": "<p>new</p>"})
    dest = tmp_path / "share" / "maps" / "m.html"
    dest.parent.mkdir(parents=True)
    dest.write_text("<p>old</p>")
    assert copy_file_atomic(out / "maps" / "m.html", dest) == dest
    assert dest.read_text() == "<p>new</p>" and os.listdir(dest.parent) == ["m.html"]
    assert copy_file_atomic(out / "maps" / "m.html", tmp_path / "new" / "m.html").read_text() == "<p>new</p>"
    with pytest.raises(WriteError, match="no such file"):
        copy_file_atomic(out / "maps" / "gone.html", dest)
    assert dest.read_text() == "<p>new</p>"


# ------------------------------------------------------------------ one writer at a time
def _popen(helper: Path, *args: object, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(helper), str(PKG_DIR), *map(str, args)], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _expect(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    got = proc.stdout.readline().strip()
    if got != line:
        proc.kill()
        pytest.fail(f"helper said {got!r}, not {line!r}: {proc.communicate()[1]}")


def test_a_second_writer_is_refused_while_another_process_holds_the_folder(tmp_path, helper):
    out = tmp_path / "x"
    holder = _popen(helper, "hold", out, stdin=subprocess.PIPE)
    try:
        _expect(holder, "locked")
        t0 = time.monotonic()
        with pytest.raises(OutputBusyError):
            _commit(out, {"a.txt": "a"})
        assert time.monotonic() - t0 < 0.5  # wait_s=0 (the default) does not wait
        t0 = time.monotonic()
        with pytest.raises(OutputBusyError) as err, open_output(out, wait_s=0.2):
            pass
        assert time.monotonic() - t0 >= 0.2
        message = str(err.value)
        assert str(out) in message and "another renewgeo run is writing" in message and f"pid {holder.pid}" in message
        assert "choose another --out" in message and isinstance(err.value, WriteError)
        assert not out.exists() and len(_leftovers(out)) == 1  # the holder's staging folder, untouched

        assert holder.stdin is not None
        t0 = time.monotonic()
        threading.Timer(0.3, holder.stdin.close).start()  # the holder finishes in 0.3 s; waiting long enough works
        with open_output(out, wait_s=30) as staging:
            assert time.monotonic() - t0 >= 0.3
            (staging.path / "a.txt").write_text("a")
            staging.commit({})
    finally:
        for stream in (holder.stdin, holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()  # closing stdin ends the holder
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
    assert holder.returncode == 0 and verify(out) == []
    with open_output(out) as first, pytest.raises(OutputBusyError), open_output(out):  # two in one process: the same
        pass
    assert not first.committed


# ------------------------------------------------------------------ SIGKILL at any moment
NFILES, DELAY_S = 40, 0.03


def _kill_at(proc: subprocess.Popen[str], mode: str, rng: random.Random, out: Path) -> None:
    """Let the helper run into the moment `mode` names, then SIGKILL it there."""
    if mode == "done":
        return
    if mode == "early":  # starting, importing, taking the lock, cleaning up, making the staging folder
        time.sleep(rng.uniform(0.0, 0.8))
    elif mode == "writing":
        _expect(proc, "writing")
        time.sleep(rng.uniform(0.0, NFILES * DELAY_S * 1.1))
    else:
        _expect(proc, "writing")
        _expect(proc, "commit")
        if mode == "commit":  # hashing, fsync, manifest, swap, removing the old run
            time.sleep(rng.uniform(0.0, 0.3))
        elif mode == "swap":  # right after the swap, while the old run is removed
            old = out.stat().st_ino
            while proc.poll() is None and out.stat().st_ino == old:
                time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)


def test_sigkill_at_any_moment_leaves_one_complete_run(tmp_path, helper):
    rng = random.Random(20240611)
    out = tmp_path / "x"
    middle = ["early", "early", "writing", "writing", "writing", "writing", "commit-now", "commit-now",
              "commit", "commit", "swap", "swap"]
    modes = ["done", *rng.sample(middle, len(middle))]
    current: int | None = None
    killed = left = published_although_killed = kept_although_committing = 0
    for run, mode in enumerate(modes):
        proc = _popen(helper, "write", out, run, NFILES, DELAY_S)
        try:
            _kill_at(proc, mode, rng, out)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if mode == "done":
            assert proc.returncode == 0, err
        killed += proc.returncode == -signal.SIGKILL

        assert out.is_dir(), (run, mode)  # from the first run on, never missing
        assert verify(out) == [], (run, mode, verify(out))
        now = read_manifest(out)["run"]
        assert now in {current, run}, (run, mode, now, current)
        assert len(read_manifest(out)["files"]) == NFILES
        for rel in read_manifest(out)["files"]:  # every file from that one run
            assert f"set{now % 3}-" in rel
            with open(out / rel, "rb") as f:
                assert f.read(32).strip() == f"run {now}".encode(), rel
        published_although_killed += proc.returncode != 0 and now == run
        kept_although_committing += proc.returncode != 0 and mode.startswith("commit") and now != run
        current = now

        left += bool(_leftovers(out))
        manifest = (out / "manifest.json").read_bytes()
        with open_output(out) as staging:
            assert _leftovers(out) == [staging.path.name]  # what the killed run left is gone
        assert _leftovers(out) == []
        assert (out / "manifest.json").read_bytes() == manifest and verify(out) == []

    # the moments were really hit: not a run of lucky timings
    assert killed >= len(middle) - 2  # a swap-moment kill may come after the exit
    assert left >= 6
    assert published_although_killed >= 1  # killed after the swap: the new run, complete
    assert kept_although_committing >= 1  # killed in the commit before the swap: the old run, complete
