"""Output folders written as a unit: one writer, a staging folder, one atomic swap.

A run writes into a fresh staging folder beside ``OUT``; :meth:`Staging.commit` lists
every file with its sha256 in ``manifest.json`` and swaps the staging folder in place of
``OUT`` in one step (``renameat2(RENAME_EXCHANGE)`` on Linux, two renames elsewhere).
A run killed at any moment leaves the previous complete run, never a mix; what it left
beside ``OUT`` is removed by the next :func:`open_output`. A lock file beside ``OUT``
(``.OUT.lock``) keeps a second run from writing the same folder at the same time.

Writing the manifest is the commit point: a staging folder whose files match its
manifest is a complete run, and is restored as ``OUT`` when a kill between the two
renames of the fallback left ``OUT`` missing (:func:`recover`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from renewgeo._errors import ReadError, WriteError
from renewgeo.io import atomic_path

__all__ = ["OutputBusyError", "Staging", "copy_file_atomic", "open_output", "read_manifest", "recover", "verify"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PRODUCER = "renewgeo"
_RESERVED = frozenset({"producer", "format", "created_utc", "files"})
_TEMP_NAMES = (".*.tmp*", "*-journal", "*-wal", "*-shm")  # what an interrupted atomic (hidden .NAME.XXXX.tmp) or SQLite write leaves
_OPEN_BY_OTHERS = ("*-journal", "*-wal", "*-shm", "~$*", ".~lock.*#")  # SQLite and office programs holding a file of the run open
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


class OutputBusyError(WriteError):
    """Another renewgeo run holds the output folder."""


class Staging:
    """The folder a run writes into; :meth:`commit` makes it the output folder.

    Attributes
    ----------
    path : pathlib.Path
        Write the run's files under this folder (any sub-folders).
    out_dir : pathlib.Path
        The output folder it will replace.
    previous : dict or None
        The manifest of the run ``out_dir`` holds now (read with the lock held), if any.
    """

    def __init__(self, path: Path, out_dir: Path, previous: dict[str, Any] | None = None) -> None:
        self.path = path
        self.out_dir = out_dir
        self.previous = previous
        self.committed = False
        self.closed = False  # set when the with-block ends: the lock is gone

    def __repr__(self) -> str:
        return f"Staging({str(self.path)!r} -> {str(self.out_dir)!r}, committed={self.committed})"

    def commit(self, manifest: Mapping[str, Any]) -> Path:
        """Write ``manifest.json`` and swap the staging folder in as the output folder.

        Parameters
        ----------
        manifest : mapping
            What the run records (version, project, settings hash ...); ``producer``,
            ``format``, ``created_utc`` and ``files`` are added here and may not be given.

        Returns
        -------
        pathlib.Path
            The output folder.
        """
        if self.committed:
            raise WriteError(f"{self.out_dir}: this run was already committed; open_output() again for another run.")
        if self.closed:
            raise WriteError(f"{self.out_dir}: commit() must be called inside the `with open_output(...)` block.")
        clash = sorted(_RESERVED & set(manifest))
        if clash:
            raise WriteError(f"{self.out_dir}: the manifest keys {clash} are set by commit(); leave them out.")
        try:
            files = _entries(self.path)
        except OSError as exc:
            raise WriteError(f"{self.out_dir}: cannot read the files of the run ({exc}); nothing was changed.") from None
        doc = {**manifest, "producer": PRODUCER, "format": 1, "created_utc": _now(), "files": files}
        try:
            text = json.dumps(doc, ensure_ascii=False, indent=2)
        except (TypeError, ValueError) as exc:
            raise WriteError(f"{self.out_dir}: the manifest cannot be written as JSON ({exc}); nothing was changed.") from None
        try:
            with open(self.path / MANIFEST, "x", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            for folder, _, _ in os.walk(self.path, topdown=False):
                _fsync_dir(Path(folder))
            _check_target(self.out_dir)
            _publish(self.path, self.out_dir)
        except OSError as exc:
            raise WriteError(f"{self.out_dir}: commit failed ({exc}); the previous run, if any, is intact.") from None
        self.committed = True
        return self.out_dir


@contextlib.contextmanager
def open_output(out_dir: str | os.PathLike[str], *, wait_s: float = 0.0) -> Iterator[Staging]:
    r"""Write an output folder as a unit: yield a :class:`Staging` folder to fill and commit.

    Inside the block the lock beside ``out_dir`` is held, an interrupted earlier commit
    has been repaired and what interrupted runs left beside ``out_dir`` is removed.
    Without a commit (an exception, or none called) the staging folder is removed and
    ``out_dir`` is left exactly as it was.

    Parameters
    ----------
    out_dir : path-like
        The output folder: new, empty, or holding an earlier renewgeo run (which the
        commit replaces whole). Anything else is refused.
    wait_s : float
        How long to wait for another run writing ``out_dir`` (``math.inf``: as long as it takes).

    Yields
    ------
    Staging
        Write under ``staging.path``, then call ``staging.commit(manifest)``.

    Raises
    ------
    OutputBusyError
        Another run held ``out_dir`` for longer than ``wait_s``.
    WriteError
        ``out_dir`` is a file, a symbolic link or a folder renewgeo did not write, or
        its parent cannot be created.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with open_output(out) as staging:
    ...     (staging.path / "tables").mkdir()
    ...     _ = (staging.path / "tables" / "area.csv").write_text("zone,gfa_m2\nA,1200\n")
    ...     final = staging.commit({"project": {"name": "demo"}})
    >>> sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file())
    ['manifest.json', 'tables/area.csv']
    >>> verify(out), read_manifest(out)["files"]["tables/area.csv"]["bytes"]
    ([], 19)
    >>> shutil.rmtree(out.parent)
    """
    out = _absolute(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{out}: cannot create its parent folder {out.parent} ({exc}); choose another --out.") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise WriteError(f"{out}: the folder {out.parent} is not writable; choose another --out.")
    with _locked(out, wait_s):
        _restore(out)
        previous = _check_target(out)
        _remove_leftovers(out)
        path = out.parent / f".{out.name}.staging-{secrets.token_hex(6)}"
        try:
            path.mkdir()
        except OSError as exc:
            raise WriteError(f"{out}: cannot create the staging folder {path} ({exc}).") from None
        staging = Staging(path, out, previous)
        try:
            yield staging
        finally:
            staging.closed = True
            if not staging.committed:
                log.info("%s: run not committed; the previous run, if any, is left as it was", out)
            shutil.rmtree(path, ignore_errors=True)


def recover(out_dir: str | os.PathLike[str], *, wait_s: float = 0.0) -> bool:
    """Restore ``out_dir`` when an interrupted commit left it missing (for readers).

    The newest complete run (files matching its manifest) among the staging and old
    folders beside ``out_dir`` becomes ``out_dir``. Nothing is done when ``out_dir`` exists.
    :func:`open_output` does this itself.

    Parameters
    ----------
    out_dir : path-like
        The output folder.
    wait_s : float
        How long to wait for a run writing ``out_dir`` (then :class:`OutputBusyError`).

    Returns
    -------
    bool
        True if a run was restored.
    """
    out = _absolute(out_dir)
    if os.path.lexists(out) or not out.parent.is_dir():
        return False
    with _locked(out, wait_s):
        return _restore(out)


def verify(out_dir: str | os.PathLike[str]) -> list[str]:
    """Problems with ``out_dir``: empty when it holds exactly the files its manifest lists.

    Parameters
    ----------
    out_dir : path-like
        An output folder.

    Returns
    -------
    list of str
        One line per problem, naming the file: missing or unreadable manifest, a missing
        file, a changed file (size or sha256), an extra file the manifest does not list.
    """
    out = Path(out_dir)
    try:
        listed = read_manifest(out).get("files")
    except ReadError as exc:
        return [str(exc)]
    if not isinstance(listed, dict):
        return [f"{out / MANIFEST}: has no 'files' table; the run that wrote it did not finish."]
    present = set(_files(out)) - {MANIFEST}
    problems = []
    for rel, entry in sorted(listed.items()):
        want = entry if isinstance(entry, dict) else {}
        if rel not in present:
            problems.append(f"{out / rel}: missing (the manifest lists it)")
            continue
        try:
            digest, size = _hash(out / rel)
        except OSError as exc:
            problems.append(f"{out / rel}: cannot be read ({exc})")
            continue
        if (digest, size) != (want.get("sha256"), want.get("bytes")):
            problems.append(f"{out / rel}: changed since the run wrote it ({size} bytes; the manifest says {want.get('bytes')} bytes"
                            f"{', same size but another sha256' if size == want.get('bytes') else ''})")
    problems += [f"{out / rel}: extra file, not in the manifest" for rel in sorted(present - set(listed))]
    return problems


def read_manifest(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a renewgeo output folder.

    Raises
    ------
    ReadError
        ``manifest.json`` is missing, unreadable, or was not written by renewgeo.
    """
    path = Path(out_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file; {out_dir} is not a complete renewgeo output folder (run again).") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"{path}: cannot be read ({exc}); run again to rewrite the folder.") from None
    if not isinstance(data, dict) or data.get("producer") != PRODUCER:
        raise ReadError(f"{path}: not a renewgeo manifest (no \"producer\": \"renewgeo\").")
    return data


def copy_file_atomic(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy one file to ``dest`` (outside any output folder) atomically; returns ``dest``."""
    source, target = Path(src), Path(dest)
    if not source.is_file():
        raise WriteError(f"{source}: no such file to copy to {target}.")
    try:
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    except OSError as exc:
        raise WriteError(f"{target}: copying {source} failed ({exc}); the previous file, if any, is intact.") from None
    return target


# --------------------------------------------------------------------------- helpers
def _absolute(out_dir: str | os.PathLike[str]) -> Path:
    out = Path(os.path.abspath(os.fspath(out_dir)))
    if not out.name:
        raise WriteError(f"{out}: the root folder cannot be an output folder; choose a folder for --out.")
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextlib.contextmanager
def _locked(out: Path, wait_s: float) -> Iterator[None]:
    """Hold the lock beside ``out``; a side file names the holder for others' messages."""
    lock = filelock.FileLock(out.parent / f".{out.name}.lock")
    holder = out.parent / f".{out.name}.lock.json"
    try:
        lock.acquire(timeout=wait_s)
    except filelock.Timeout:
        if not os.access(out.parent, os.W_OK) or not Path(lock.lock_file).exists():  # no other holder: it cannot be created
            raise WriteError(f"{out}: cannot create the lock file {lock.lock_file} beside it (the folder {out.parent} "
                             "cannot be written); choose another --out.") from None
        try:
            who = json.loads(holder.read_text(encoding="utf-8"))
            by = f"pid {who['pid']} on {who['host']}, started {who['started_utc']}; "
        except (OSError, ValueError, TypeError, KeyError):
            by = ""
        raise OutputBusyError(
            f"{out}: another renewgeo run is writing this folder ({by}waited {wait_s:g} s); "
            "wait for it to finish (--wait SECONDS) or choose another --out."
        ) from None
    except OSError as exc:
        raise WriteError(f"{out}: cannot create the lock file {lock.lock_file} ({exc}); choose another --out.") from None
    try:
        with contextlib.suppress(OSError):
            holder.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_utc": _now()}))
        yield
    finally:
        with contextlib.suppress(OSError):
            holder.unlink()
        lock.release()


def _check_target(out: Path) -> dict[str, Any] | None:
    """Refuse to replace anything but a missing or empty folder or an earlier renewgeo run; its manifest, if any."""
    if out.is_symlink():
        raise WriteError(
            f"{out} is a symbolic link; renewgeo replaces the output folder whole, which would replace the link, not the "
            f"folder it points to. Give the real folder ({os.path.realpath(out)}) or another --out."
        )
    if not out.exists():
        return None
    if not out.is_dir():
        raise WriteError(f"{out} is a file, not a folder; choose a new or empty folder for --out.")
    if next(out.iterdir(), None) is None:
        return None
    try:
        manifest = read_manifest(out)
    except ReadError:
        raise WriteError(
            f"{out} exists and is not a renewgeo output folder (no manifest.json written by renewgeo); "
            "choose a new or empty folder for --out, or delete it yourself."
        ) from None
    listed = set(manifest.get("files", {})) | {MANIFEST}
    theirs = [r for r in _files(out) if r not in listed and not any(fnmatch.fnmatch(r.rsplit("/", 1)[-1], p) for p in _OPEN_BY_OTHERS)]
    if theirs:
        raise WriteError(
            f"{out} holds files that are not part of its renewgeo run: {theirs[:10]}{' ...' if len(theirs) > 10 else ''}; "
            "a new run replaces the folder whole, so move them out first (or choose another --out)."
        )
    return manifest


def _siblings(out: Path, kind: str) -> list[Path]:
    """The ``.OUT.staging-*`` or ``.OUT.old-*`` entries beside ``out``."""
    prefix = f".{out.name}.{kind}-"
    return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix))


def _restore(out: Path) -> bool:
    """With the lock held: if ``out`` is missing, make the newest complete run beside it ``out``."""
    if os.path.lexists(out):
        return False
    complete = []
    for p in _siblings(out, "old") + _siblings(out, "staging"):
        if p.is_dir() and not p.is_symlink() and not verify(p):
            complete.append((str(read_manifest(p).get("created_utc", "")), p))
    if not complete:
        return False
    created, best = max(complete)
    try:
        os.rename(best, out)
        _fsync_dir(out.parent)
    except OSError as exc:
        raise WriteError(f"{out}: cannot restore the complete run in {best} ({exc}); rename it to {out.name} yourself.") from None
    log.warning("%s was missing after an interrupted commit; restored the run of %s from %s", out, created, best.name)
    return True


def _remove_leftovers(out: Path) -> None:
    """With the lock held: remove what interrupted runs left beside ``out``."""
    for p in _siblings(out, "staging") + _siblings(out, "old"):
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError as exc:
            log.warning("%s: could not remove %s, left by an interrupted run (%s)", out, p, exc)
        else:
            log.info("%s: removed %s, left by an interrupted run", out, p.name)


def _files(root: Path) -> list[str]:
    """Every file under ``root``, as sorted relative POSIX paths."""
    found = []
    for folder, _, names in os.walk(root):
        found += [(Path(folder) / n).relative_to(root).as_posix() for n in names]
    return sorted(found)


def _hash(path: Path, *, sync: bool = False) -> tuple[str, int]:
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        if sync:
            os.fsync(f.fileno())
        return digest, os.fstat(f.fileno()).st_size


def _entries(staging: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file (each fsync'ed); refuses a manifest or temp files left by a writer."""
    rels = _files(staging)
    if MANIFEST in rels:
        raise WriteError(f"{staging / MANIFEST}: a writer put a manifest.json in the run; commit() writes it. Nothing was changed.")
    temps = [r for r in rels if any(fnmatch.fnmatch(r.rsplit("/", 1)[-1], pat) for pat in _TEMP_NAMES)]
    if temps:
        raise WriteError(f"{staging}: temporary files {temps} left by a writer that did not clean up; nothing was changed.")
    entries = {}
    for rel in rels:
        digest, size = _hash(staging / rel, sync=True)
        entries[rel] = {"sha256": digest, "bytes": size}
    return entries


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # pragma: no cover - Windows cannot open a folder to fsync it
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's ``renameat2`` (glibc 2.28+), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step; False where the OS or filesystem cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publish(staging: Path, out: Path) -> None:
    """Make the complete ``staging`` folder ``out``, then remove the run it replaced."""
    if not os.path.lexists(out):
        os.rename(staging, out)
        _fsync_dir(out.parent)
        return
    if _exchange(staging, out):
        old = staging  # the previous run now sits at the staging path
        _fsync_dir(out.parent)
    else:  # two renames: a kill between them leaves out missing, which _restore repairs
        old = out.parent / f".{out.name}.old-{secrets.token_hex(6)}"
        os.rename(out, old)
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(old, out)
            raise
        _fsync_dir(out.parent)
    try:
        shutil.rmtree(old)
    except OSError as exc:
        log.warning("%s: committed, but the previous run in %s could not be removed (%s)", out, old, exc)
