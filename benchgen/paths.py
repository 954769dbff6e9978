"""Where benchgen keeps things. One documented root, ``$BENCHGEN_HOME`` or ``./.benchgen``:

* ``results.sqlite`` — the result store (``--results PATH`` overrides);
* ``cache/`` — content-addressed caches, keyed by fingerprints of what made them (:data:`CACHE_KINDS`):
  ``datasets/`` (preprocessed cohorts), ``checkpoints/`` (fitted generators), ``samples/``,
  ``features/`` (real-set features), ``file-hashes/`` (sha256 of input files by path, size and mtime),
  ``scratch/`` (sets of ``benchgen evaluate`` converted to cohorts on disk; left only by a killed evaluation);
  ``benchgen cache list|clear`` manages it (:func:`cache_usage`, :func:`clear_cache`);
* ``runs/`` — montages, loss curves and sample NIfTI files of each run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchgen.errors import ConfigError

CACHE_KINDS = ("datasets", "checkpoints", "samples", "features", "file-hashes", "scratch")


def home() -> Path:
    return Path(os.environ.get("BENCHGEN_HOME", ".benchgen")).expanduser()


def cache_dir(kind: str | None = None) -> Path:
    root = Path(os.environ["BENCHGEN_CACHE"]).expanduser() if "BENCHGEN_CACHE" in os.environ else home() / "cache"
    return root / kind if kind else root


def default_results() -> Path:
    return home() / "results.sqlite"


def runs_dir() -> Path:
    return home() / "runs"


def _creatable(folder: Path) -> bool:
    """Whether `folder` is (or can be made) a writable folder: its nearest existing ancestor must be a
    writable folder, not a file."""
    probe = folder if folder != Path("") else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def check_writable(path: Path, option: str = "--results") -> None:
    """An unwritable file location is one clear error before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file path like {path / 'results.sqlite'}")
    if not _creatable(path.parent) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {path}: location is not writable", f"choose a writable path with {option}")


def check_home() -> None:
    """``BENCHGEN_HOME`` (caches, runs/ and the default store) — and ``BENCHGEN_CACHE`` when set — must be
    writable folders: one clear error before any work, not a run that dies later."""
    places = [("BENCHGEN_HOME", home())]
    if "BENCHGEN_CACHE" in os.environ:
        places.append(("BENCHGEN_CACHE", cache_dir()))
    for var, folder in places:
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{var} {folder}: is a file, not a folder", f"set {var} to a writable folder")
        if not _creatable(folder):
            raise ConfigError(f"{var} {folder}: not writable (a run writes its caches and runs/ there)",
                              f"set {var} to a writable folder")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def cache_usage() -> list[tuple[str, int, int]]:
    """(kind, entries, bytes) of every cache; entries being written (``.tmp-*``) are not counted."""
    rows = []
    for kind in CACHE_KINDS:
        folder = cache_dir(kind)
        entries = [p for p in folder.iterdir() if not p.name.startswith(".tmp-")] if folder.is_dir() else []
        rows.append((kind, len(entries), sum(_size(p) for p in entries)))
    return rows


def cache_kinds(kind: str = "all") -> list[str]:
    """The cache kinds `kind` names: all of them, or one (checked)."""
    if kind != "all" and kind not in CACHE_KINDS:
        raise ConfigError(f"unknown cache '{kind}'; choose all or one of {', '.join(CACHE_KINDS)}")
    return list(CACHE_KINDS) if kind == "all" else [kind]


def clear_cache(kind: str = "all") -> list[str]:
    """Delete one cache or all of them (stored results are kept); returns the kinds cleared."""
    kinds = cache_kinds(kind)
    for k in kinds:
        shutil.rmtree(cache_dir(k), ignore_errors=True)
    return kinds


def suite_run_dir(value: str) -> Path:
    """A suite file's ``[executor] run_dir``, relative to BENCHGEN_HOME and inside it: a suite someone else wrote
    cannot choose where run.json, jobs.json and job pickles go (``--run-dir`` on the command line may)."""
    root = home().resolve()
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if path != root and root not in path.parents:
        raise ConfigError(f"executor.run_dir: {value!r} is outside BENCHGEN_HOME ({root})",
                          "a suite file's run folder stays under BENCHGEN_HOME (give a path relative to it); "
                          "pass --run-dir on the command line to choose a folder elsewhere")
    return path
