"""The run folder's two small files, written atomically by the submitter alone: ``run.json`` (which suite,
which store, the units of the latest plan) and ``jobs.json`` (each unit's job and how it ended). ``benchgen
merge`` and ``benchgen status`` read them; workers never do."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchgen.atomic import write_text
from benchgen.cluster.plan import Unit
from benchgen.cluster.shards import RunIdentity
from benchgen.descriptions import read_description
from benchgen.errors import ConfigError

RUN_FILE, JOBS_FILE = "run.json", "jobs.json"
RUN_KEYS = ("suite", "suite_version", "profile", "results", "executor", "units")


@dataclass
class RunFolder:
    path: Path
    identity: RunIdentity
    results: Path
    executor: str
    units: list[Unit] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # unit id -> job_id, state, reason

    def save_plan(self) -> None:
        doc = {"suite": self.identity.suite, "suite_version": self.identity.version, "profile": self.identity.profile,
               "results": str(self.results), "executor": self.executor, "units": [u.to_json() for u in self.units]}
        write_text(self.path / RUN_FILE, json.dumps(doc, indent=1))

    def note(self, unit: str, **fields: Any) -> None:
        """Record a unit's job event (submitted, done, failed with its reason)."""
        self.jobs[unit] = {**self.jobs.get(unit, {}), **fields}
        write_text(self.path / JOBS_FILE, json.dumps(self.jobs, indent=1))


def open_run_folder(path: Path) -> RunFolder:
    """The run folder written by ``benchgen run --executor ...`` (ConfigError when it is not one)."""
    rewrite = "run the suite again with --executor to rewrite it"
    doc = read_description(path / RUN_FILE, RUN_KEYS, what="run description", hint=rewrite, folder_kind="run folder",
                           missing_hint="pass the folder `benchgen run --executor local|slurm` printed")
    jobs = (read_description(path / JOBS_FILE, what="job ledger", hint=rewrite)
            if (path / JOBS_FILE).is_file() else {})
    identity = RunIdentity(doc["suite"], doc["suite_version"], doc["profile"])
    try:
        units = [Unit.from_json(u) for u in doc["units"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path / RUN_FILE}: not a valid run description (units: {type(exc).__name__}: {exc})",
                          rewrite) from None
    return RunFolder(path, identity, Path(doc["results"]), doc["executor"], units, jobs)


def default_run_dir(suite_name: str, profile: str) -> Path:
    from benchgen import paths

    return (paths.runs_dir() / suite_name / profile / "cluster").resolve()


def check_run_folder(path: Path) -> Path:
    """`path` if a run can write there: missing, empty, or a run folder of an earlier run (its run.json); any
    other folder (or a file) is refused before anything is written into it."""
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / RUN_FILE).is_file())):
        raise ConfigError(f"{path}: not empty and not a benchgen run folder (no {RUN_FILE}); nothing written there",
                          "choose a new or empty folder for the run, or the run folder of an earlier run")
    return path


def pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True
