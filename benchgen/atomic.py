"""Write files so that an interrupted run never leaves a half-written one behind, and a failed write (a full
disk: ``OSError: [Errno 28]`` with no file name) is a :class:`~benchgen.errors.WriteError` naming the file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from benchgen.errors import WriteError


def write_error(path: str | Path, exc: BaseException) -> WriteError | None:
    """`exc` as a WriteError naming `path` when it is a write failure: an OSError, or a library's own error
    that wraps one (safetensors reports a full disk as "... (os error 28)"); None otherwise."""
    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, OSError):
        return WriteError(path, exc.errno, exc.strerror or str(exc))
    if "os error 28" in str(exc) or "No space left on device" in str(exc):
        return WriteError(path, errno.ENOSPC, os.strerror(errno.ENOSPC))
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[str]:
    """Yield a temporary file name beside `path`; on success it is renamed onto `path`, on failure removed.
    `suffix` keeps writers that choose a format by extension (nibabel, numpy) happy. Any failure to write
    (creating the folder or the temporary file, the writer's own, the rename) is a WriteError naming `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc.errno, exc.strerror) from exc
    try:
        try:
            yield tmp
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give them the user's usual permissions
            os.replace(tmp, path)
        except Exception as exc:
            named = write_error(path, exc)
            if named is None or named is exc:
                raise
            raise named from exc
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Atomically replace `path` with `text` (UTF-8)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def copy_file(src: str | Path, dst: str | Path) -> Path:
    """Atomically replace `dst` with a copy of `src` (a full disk is a WriteError naming `dst`, and leaves no
    partial copy)."""
    import shutil

    with atomic_path(dst, Path(dst).suffix) as tmp:
        shutil.copyfile(src, tmp)
    return Path(dst)
