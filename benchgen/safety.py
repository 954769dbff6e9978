"""Names are not paths. Suite names, labels and subject ids from other people's files become parts of file
names; they are checked where they enter, and every output path is resolved under its root by
:func:`inside`, which all writers use, so nothing a suite or a manifest says can write elsewhere. Globs given by users
(:func:`glob_files`) never follow folder links, so a link loop cannot multiply or hang a listing."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from pathlib import Path

from benchgen.errors import ConfigError, DataError

# suite names, profile names, generator and metric labels
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"
# subject ids are freer (they come from hospitals' exports) but can never hold a path
_BAD_SUBJECT = re.compile(r"[/\\\x00-\x1f]")
_MAGIC = re.compile(r"[*?[]")  # a glob pattern part


def check_name(value: str, where: str) -> str:
    """`value` if it is a safe name, else a ConfigError naming `where` and the rule."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value) or ".." in value:
        raise ConfigError(f"{where}: {value!r} is not a valid name", f"use {NAME_RULE}")
    return value


def subject_problem(subject_id: str) -> str | None:
    """Why `subject_id` cannot name files, or None when it can."""
    if not subject_id or subject_id in (".", "..") or subject_id.startswith(".") or ".." in subject_id:
        return f"subject id {subject_id!r} is empty, starts with '.' or contains '..'"
    if _BAD_SUBJECT.search(subject_id):
        return f"subject id {subject_id!r} contains a path separator or a control character"
    if len(subject_id) > 200:
        return f"subject id {subject_id[:40]!r}… is longer than 200 characters"
    return None


def inside(root: str | Path, *parts: str | Path) -> Path:
    """``root / parts…``, checked to resolve inside `root` (symbolic links followed); DataError otherwise."""
    base = Path(root).expanduser().resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise DataError(f"refusing to write {base.joinpath(*parts)}: it resolves outside {base}",
                        "names and subject ids must not contain path parts like '..' or '/'")
    return path


MISSING_FILE = "no such file"


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as an input file, or None: the one policy of every listing of input files
    (`benchgen evaluate`, `benchgen preprocess` and the file-based dataset sources). A link to a file is read,
    wherever it points (benchgen only reads it); a dangling link is "no such file"; a FIFO, a device or a
    socket is "not a regular file" (reading one could block or never end). Callers name the file with it:
    preprocessing excludes that scan and goes on, `evaluate` stops with that line."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return MISSING_FILE
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if stat.S_ISREG(st.st_mode) else "not a regular file"


def glob_files(pattern: str) -> list[Path]:
    """Files matching a glob (``**`` = any folders), sorted, each once by its resolved path; FIFOs, devices
    and dangling links are listed too, for the caller to name (:func:`file_problem`). Folder links
    are never followed inside the walk (a self-link or a link to a parent would count files again or never
    end); hidden names match only a pattern part that starts with '.', as in :mod:`glob`."""
    parts = Path(pattern).parts
    lead = next((i for i, part in enumerate(parts) if _MAGIC.search(part)), len(parts))
    base, segs = Path(*parts[:lead]) if lead else Path("."), parts[lead:]

    def match(names: tuple[str, ...], pats: tuple[str, ...], prefix: bool) -> bool:
        if not pats:
            return not names
        if not names:
            return prefix or all(s == "**" for s in pats)
        if pats[0] == "**":
            return match(names, pats[1:], prefix) or (not names[0].startswith(".") and match(names[1:], pats, prefix))
        ok = fnmatch.fnmatchcase(names[0], pats[0]) and (pats[0].startswith(".") or not names[0].startswith("."))
        return ok and match(names[1:], pats[1:], prefix)

    found: dict[Path, Path] = {}
    for folder, dirs, names in os.walk(base, followlinks=False):
        rel = Path(folder).relative_to(base).parts
        dirs[:] = sorted(d for d in dirs if match((*rel, d), segs, prefix=True))  # prune what cannot match
        for name in names:
            path = Path(folder, name)
            if match((*rel, name), segs, prefix=False) and not path.is_dir():  # specials: see file_problem
                found.setdefault(path.resolve(), path)
    return sorted(found.values())
