"""Temporary files of interrupted runs. Every file is written to a ``.tmp-*`` name beside its target and renamed
into place (:mod:`benchgen.atomic`), and a checkpoint is saved into ``cache/checkpoints/.tmp-<key>-<id>/`` before
its rename: a kill -9 leaves them behind. The next run sweeps them (and ``benchgen cache clear``); ``benchgen
cache list`` shows them.

Another live run's temporaries are left alone: a checkpoint's while its key's file lock is held (its fit holds it
while saving; a killed fit's lock is free), any other while it was written to in the last :data:`GRACE_S`
seconds (a writer touches its file as it writes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from benchgen import paths

PREFIX = ".tmp-"
GRACE_S = 600.0  # a temporary written to in the last 10 minutes may belong to a live run: kept


def roots() -> list[Path]:
    """Where benchgen writes temporaries: the caches and the run folders."""
    return [paths.cache_dir(), paths.runs_dir()]


def temporaries(where: list[Path] | None = None) -> list[Path]:
    """``.tmp-*`` files and folders under `where` (default :func:`roots`), links not followed, a temporary
    folder counted once (not what it holds)."""
    found: list[Path] = []
    for root in where or roots():
        if not root.is_dir():
            continue
        for folder, dirs, names in os.walk(root, followlinks=False):
            found += [Path(folder, d) for d in dirs if d.startswith(PREFIX)]
            dirs[:] = [d for d in dirs if not d.startswith(PREFIX)]
            found += [Path(folder, n) for n in names if n.startswith(PREFIX)]
    return sorted(found)


def size(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file())
        return path.lstat().st_size
    except OSError:
        return 0


def _last_write(path: Path) -> float:
    """The latest mtime of `path` and, for a folder, of what it holds."""
    try:
        latest = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            latest = max([latest, *(f.lstat().st_mtime for f in path.rglob("*"))])
        return latest
    except OSError:
        return time.time()


def _is_checkpoint(path: Path) -> bool:
    return path.parent == paths.cache_dir("checkpoints") and path.is_dir() and not path.is_symlink()


@contextlib.contextmanager
def _unlocked(path: Path):
    """Yields whether `path` may go: for a checkpoint being saved (``.tmp-<key>-<id>`` in the checkpoint cache),
    only while its key's lock is free (taken for the removal)."""
    from filelock import FileLock, Timeout

    if not _is_checkpoint(path):
        yield True
        return
    key = path.name[len(PREFIX):].rsplit("-", 1)[0]
    lock = FileLock(str(path.parent / f".{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def sweep(older_than: float | None = None, where: list[Path] | None = None) -> list[Path]:
    """Remove the temporaries last written before `older_than` (default: :data:`GRACE_S` ago) whose checkpoint
    key is not locked; the ones removed."""
    cutoff = time.time() - GRACE_S if older_than is None else older_than
    removed = []
    for path in temporaries(where):
        if not _is_checkpoint(path) and _last_write(path) >= cutoff:  # a checkpoint's lock says it all
            continue
        with _unlocked(path) as free:
            if not free:
                continue
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed
