"""Worker shards: each attempt of a unit writes its records to its own JSON-lines file under the run folder,
never to the central SQLite store (which must not live on a network filesystem). The file is replaced
atomically after every record, so a killed worker leaves the records it finished and nothing half-written.
The submitter (or ``benchgen merge``) merges shards into the store by cell key: nothing is merged twice."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from benchgen.atomic import write_text
from benchgen.results.store import Record, ResultStore

FORMAT = "benchgen-shard/1"
_RECORD_FIELDS = {f.name for f in fields(Record)}


def shard_dir(run_dir: Path) -> Path:
    return run_dir / "shards"


@dataclass(frozen=True)
class RunIdentity:
    """What a shard must belong to: the run folder's suite, version and profile."""

    suite: str
    version: str
    profile: str

    def describe(self) -> str:
        return f"{self.suite} v{self.version} ({self.profile})"


class ShardStore:
    """A worker's store: the cells of its unit (`todo`) are computed, every other cell reads as done."""

    def __init__(self, path: Path, header: dict[str, Any], todo: Iterable[str]):
        self.path, self.header, self.todo = path, {"format": FORMAT, **header, "complete": False}, set(todo)
        self.records: list[Record] = []
        self._write()

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        finished = {r.cell_key for r in self.records if r.status != "error"}
        return {k for k in keys if k not in self.todo or k in finished}

    def put(self, record: Record) -> None:
        self.records.append(record)
        self._write()

    def close(self) -> None:
        pass  # every put is already on disk

    def finish(self, summary: dict[str, Any]) -> None:
        """Mark the unit finished: merging this shard completes it."""
        self.header = {**self.header, "complete": True, "summary": summary}
        self._write()

    def _write(self) -> None:
        rows = [json.dumps(asdict(r), sort_keys=True) for r in self.records]
        lines = [json.dumps(self.header, sort_keys=True), *rows]
        write_text(self.path, "\n".join(lines) + "\n")


@dataclass
class Shard:
    path: Path
    unit: str
    complete: bool
    records: list[Record]
    summary: dict[str, Any] = field(default_factory=dict)


def read_shard(path: Path, run: RunIdentity) -> Shard | str:
    """The shard at `path`, or why it cannot be merged (one line)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0]) if lines else {}
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return f"{path}: not a benchgen shard; ignored"
        theirs = RunIdentity(str(header.get("suite")), str(header.get("suite_version")), str(header.get("profile")))
        if theirs != run:
            return f"{path}: a shard of {theirs.describe()}, not of this run's {run.describe()}; ignored"
        rows = [json.loads(line) for line in lines[1:] if line.strip()]
        records = [Record(**{k: v for k, v in row.items() if k in _RECORD_FIELDS}) for row in rows]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:  # ValueError: bad JSON
        return f"{path}: unreadable shard ({type(exc).__name__}: {exc}); ignored, its unit runs again"
    if any((r.suite, r.suite_version, r.profile) != (run.suite, run.version, run.profile) for r in records):
        return f"{path}: holds records of another suite; ignored"
    return Shard(path, str(header.get("unit")), bool(header.get("complete")), records,
                 header.get("summary") or {})


@dataclass
class MergeReport:
    added: int = 0  # records new to the store (or replacing a stored error)
    already: int = 0  # records the store had: a retried or duplicated unit's
    shards: list[Shard] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per shard that was not merged

    @property
    def complete_units(self) -> set[str]:
        return {s.unit for s in self.shards if s.complete}


def read_shards(run_dir: Path, run: RunIdentity) -> MergeReport:
    """Every shard of the run folder, read (nothing merged); writers' temporary files are skipped."""
    report = MergeReport()
    for path in sorted(shard_dir(run_dir).glob("*.jsonl")):
        got = read_shard(path, run)
        if isinstance(got, str):
            report.problems.append(got)
        else:
            report.shards.append(got)
    return report


def merge_shards(run_dir: Path, store: ResultStore, run: RunIdentity) -> MergeReport:
    """Merge every readable shard of `run` into `store` (idempotent: run it as often as you like)."""
    report = read_shards(run_dir, run)
    for shard in report.shards:
        for record in shard.records:
            if store.merge(record):
                report.added += 1
            else:
                report.already += 1
    return report
