"""The result store: one SQLite database (WAL), one row per finished (suite, generator, seed, metric) cell.

Each cell is written in its own transaction as soon as it is done, so an interrupted run keeps what it
finished and a re-run skips it. Several processes may write one database at once (WAL + busy timeout +
an upsert on the cell key that never lets an error record replace an ok or skipped one).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import sqlite3
import sys
import urllib.parse
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, TextIO

from benchgen.errors import BenchgenError, ConfigError, DataError, WriteError

SCHEMA_VERSION = 2  # 2: the `protocol` column (stores of version 1 gain it on first write)
APPLICATION = "benchgen"  # the meta row that marks a SQLite file as a benchgen store
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class Record:
    """Everything that can change a score, stored with it. See docs/results.md for each field."""

    cell_key: str
    suite: str
    suite_version: str
    profile: str
    primary_metric: str
    generator: str  # the suite's label
    generator_plugin: str
    generator_version: str
    generator_config_hash: str
    generator_config: dict[str, Any]
    sampler: dict[str, Any]
    metric: str  # label, or label.sub for metrics with several numbers
    metric_plugin: str
    metric_version: str
    metric_params: dict[str, Any]
    higher_is_better: bool | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    reference: float | None
    status: str  # ok | skipped | error
    message: str | None
    details: dict[str, Any]
    n_real: int
    n_synthetic: int
    seed: int
    duration_s: float
    data_fingerprint: str
    benchgen_version: str
    git_sha: str | None
    torch_version: str
    monai_version: str
    device: str
    created_at: str
    run_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    protocol: str = ""  # the benchgen.suite.protocols preset the metric came from; "" = the suite's own metrics


# Columns added after version 1, with the value their older records read as.
ADDED_COLUMNS: dict[str, Any] = {"protocol": ""}


def draw_of(record: dict[str, Any]) -> int | None:
    """The draw of the training set a record was scored on (``extra.draw``); None for a suite that draws once."""
    return (record.get("extra") or {}).get("draw")


_JSON_FIELDS = {f.name for f in fields(Record) if f.type in ("dict[str, Any]",)}
_COLUMNS = [f.name for f in fields(Record)]


def _sql_type(name: str) -> str:
    if name in ("value", "ci_low", "ci_high", "reference", "duration_s"):
        return "REAL"
    if name in ("n_real", "n_synthetic", "seed", "higher_is_better"):
        return "INTEGER"
    return "TEXT"


class CellStore(Protocol):
    """What the runner needs of a store: a :class:`ResultStore`, or a cluster worker's shard
    (:class:`benchgen.cluster.shards.ShardStore`), which workers write instead of the central file."""

    def done_keys(self, keys: Iterable[str]) -> set[str]: ...

    def put(self, record: Record) -> None: ...

    def close(self) -> None: ...


class ResultStore:
    """The store at `path`: created when missing (writers), or opened read-only (``readonly=True``, for
    `leaderboard` and `export`: nothing is ever written, no -wal/-shm files appear, read-only media work).
    Either way a SQLite file that is not a benchgen store is refused before anything touches it."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            self.conn = _connect_readonly(self.path)
            try:
                self._check_ours(allow_empty=False)
            except ConfigError:
                self.conn.close()
                raise
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=60000")
            # recognise (or create) the schema in one transaction, before anything is written: another
            # program's database gets no tables and no WAL switch, and concurrent creators see all or nothing
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._check_ours(allow_empty=True)
                cols = ", ".join(f"{c} {_sql_type(c)}" + (" PRIMARY KEY" if c == "cell_key" else "")
                                 for c in _COLUMNS)
                self.conn.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
                self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('application', ?)", (APPLICATION,))
                self._migrate()
                self.conn.execute("COMMIT")
            except BaseException:
                _rollback(self.conn)
                self.conn.close()
                raise
            self.conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{self.path}: cannot open the result store ({exc})",
                              "choose a writable location with --results PATH") from None

    def _check_ours(self, allow_empty: bool) -> None:
        """ConfigError unless this database is a benchgen store: the ``meta`` row ``application =
        benchgen``, or (stores written before the marker) ``meta.schema_version`` and a ``results`` table
        with a ``cell_key`` column. An empty database is one only for a writer, which creates the schema."""
        why = _not_ours(self.conn)
        if why is None or (allow_empty and why == "empty"):
            return
        raise ConfigError(f"{self.path}: not a benchgen result store ({'an empty database' if why == 'empty' else why}"
                          "); left untouched", "pass --results PATH of a store written by `benchgen run`")

    def _migrate(self) -> None:
        """Add the columns an older store lacks (its records read their ADDED_COLUMNS value); inside the
        schema transaction of ``__init__``."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(results)")}
        for name, default in ADDED_COLUMNS.items():
            if name not in have:
                literal = "'" + str(default).replace("'", "''") + "'"  # a constant of this module
                self.conn.execute(f"ALTER TABLE results ADD COLUMN {name} {_sql_type(name)} DEFAULT {literal}")
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
                          (str(SCHEMA_VERSION), SCHEMA_VERSION))

    def close(self) -> None:
        self.conn.close()

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """Cells already finished (ok or skipped); errors are retried on the next run."""
        with reading(self.path):
            return self._done_keys(list(keys))

    def _done_keys(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT cell_key FROM results WHERE status != 'error' AND cell_key IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.conn.execute(q, chunk))
        return found

    def put(self, record: Record) -> None:
        # Two runs of one suite on one home compute the same cells: a late error (e.g. one run interrupted)
        # must never replace the other's finished record, while a retry's result replaces a stored error.
        sql = _upsert("results.status = 'error' OR excluded.status != 'error'")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(sql, _values(record))
                self.conn.execute("COMMIT")
            except BaseException:
                _rollback(self.conn)  # the first error is the cause; SQLite may have rolled back already
                raise
        except sqlite3.Error as exc:  # "database or disk is full", "readonly database": name the store
            raise store_error(self.path, exc) from None

    def merge(self, record: Record) -> bool:
        """Insert a record from a worker's shard unless its cell is already finished here: a retried or
        duplicated unit never replaces (or duplicates) a record; a stored error gives way to a finished
        record, or to a later error. Whether the store changed."""
        sql = _upsert("results.status = 'error' AND (excluded.status != 'error' "
                      "OR excluded.created_at > results.created_at)")
        try:
            return self.conn.execute(sql, _values(record)).rowcount > 0  # autocommit: one statement, one transaction
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None

    def records(self, suite: str | None = None, profile: str | None = None) -> list[dict[str, Any]]:
        with reading(self.path):
            return self._records(suite, profile)

    def _records(self, suite: str | None, profile: str | None) -> list[dict[str, Any]]:
        q, args = "SELECT * FROM results WHERE 1=1", []
        if suite:
            q += " AND suite = ?"
            args.append(suite)
        if profile:
            q += " AND profile = ?"
            args.append(profile)
        cur = self.conn.execute(q + " ORDER BY rowid", args)  # insertion order = suite order
        names = [d[0] for d in cur.description]
        out = []
        for row in cur:
            rec = {**ADDED_COLUMNS, **dict(zip(names, row))}  # a read-only older store lacks new columns
            for c in _JSON_FIELDS:
                if rec.get(c) is not None:
                    rec[c] = json.loads(rec[c])
            if rec.get("higher_is_better") is not None:
                rec["higher_is_better"] = bool(rec["higher_is_better"])
            out.append(rec)
        return out

    def suites(self) -> list[str]:
        with reading(self.path):
            return [r[0] for r in self.conn.execute("SELECT DISTINCT suite FROM results ORDER BY suite")]


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: after "database or disk is full" SQLite may have rolled it
    back itself, and a second error ("cannot rollback - no transaction is active") must not hide the first."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def store_error(path: Path, exc: sqlite3.Error) -> BenchgenError:
    """A SQLite error as one line naming the store: a full disk is a WriteError (errno 28), a damaged file
    ("database disk image is malformed", "file is not a database") says how to recover."""
    text = str(exc)
    if "malformed" in text or "not a database" in text:
        return DataError(f"{path}: the result store is damaged ({text})",
                         "restore it from a copy, or recover what is readable with the sqlite3 shell's .recover "
                         "into a new file")
    return WriteError(path, errno.ENOSPC if "full" in text else None, f"result store: {text}")


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Reads of the store: a damaged file is one line naming it, not a bare DatabaseError."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise store_error(path, exc) from None


def _values(record: Record) -> list[Any]:
    row = asdict(record)
    return [json.dumps(row[c], sort_keys=True) if c in _JSON_FIELDS else row[c] for c in _COLUMNS]


def _upsert(when: str) -> str:
    """Insert a record; on a cell key already stored, replace it only `when` (SQL over results/excluded)."""
    return (f"INSERT INTO results ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
            f"ON CONFLICT(cell_key) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])} "
            f"WHERE {when}")


def open_existing(path: str | Path) -> ResultStore:
    """For read-only commands: a missing database is an error, not a new empty file; the store is opened
    read-only and must be a benchgen store."""
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no result store here", "run `benchgen run SUITE` first, or pass --results PATH")
    return ResultStore(path, readonly=True)


def _not_ours(conn: sqlite3.Connection) -> str | None:
    """None for a benchgen store, else why not ('empty' for a database without tables)."""
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return "empty"
        if "results" not in tables or "meta" not in tables:
            return f"its tables are {', '.join(sorted(tables)[:5])}"
        if "cell_key" not in {r[1] for r in conn.execute("PRAGMA table_info(results)")}:
            return "its results table has no cell_key column"
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except (sqlite3.Error, ValueError, TypeError) as exc:
        return f"unreadable schema: {exc}"
    if meta.get("application") == APPLICATION or ("application" not in meta and "schema_version" in meta):
        return None
    return f"meta says application = {meta.get('application')!r}" if "application" in meta else "no schema marker"


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection (``mode=ro`` URI) that creates no file. A WAL database that no process has open
    (no -wal file beside it: every writer has finished) is opened ``immutable``, since a read-only open of it
    would otherwise create -wal/-shm files, or fail on read-only media."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the result store ({exc.strerror})") from None
    if not header.startswith(_SQLITE_MAGIC):
        raise ConfigError(f"{path}: not a benchgen result store ({'an empty file' if not header else 'not SQLite'}); "
                          "left untouched", "pass --results PATH of a store written by `benchgen run`")
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    wal = len(header) > 19 and header[18] == 2
    tries = [uri + "&immutable=1"] if wal and not Path(f"{path}-wal").exists() else [uri, uri + "&immutable=1"]
    for i, target in enumerate(tries):
        conn = None
        try:
            conn = sqlite3.connect(target, uri=True, timeout=60, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            unread = wal_commits(Path(f"{path}-wal")) if target.endswith("immutable=1") else 0
            if unread:  # e.g. a home copied to read-only media after a kill: say so, never a silent partial read
                from benchgen import notices

                notices.warn(f"{path}-wal: {unread} commits in the store's write-ahead log cannot be read here (no "
                              "-shm index beside it, and none can be made): showing the store without them; copy "
                              "the store with its -wal to a writable folder to read every record")
            return conn
        except sqlite3.Error as exc:  # e.g. a stale -wal on read-only media: read the main file as it is
            if conn is not None:
                conn.close()
            if i == len(tries) - 1:
                raise ConfigError(f"{path}: cannot read the result store ({exc})") from None
    raise AssertionError("unreachable")


def wal_commits(wal: Path) -> int:
    """Commits in a SQLite write-ahead log (https://sqlite.org/fileformat2.html#walformat): frames that carry
    the log header's salts, counting those that end a transaction (a non-zero database size). Whether a
    checkpoint already copied them into the main file is kept in the -shm index only, so this is what a
    reader without it may miss. 0 for a missing, empty or unrecognised log."""
    try:
        with open(wal, "rb") as f:
            header = f.read(32)
            if len(header) < 32 or int.from_bytes(header[:4], "big") not in (0x377F0682, 0x377F0683):
                return 0
            page_size, salts = int.from_bytes(header[8:12], "big"), header[16:24]
            commits = 0
            while len(frame := f.read(24)) == 24 and frame[8:16] == salts:
                commits += int.from_bytes(frame[4:8], "big") != 0
                f.seek(page_size, 1)
            return commits
    except OSError:
        return 0


def export(records: list[dict[str, Any]], fmt: str, stream: TextIO = sys.stdout) -> None:
    """Write records as csv or jsonl (every field; JSON fields as JSON text in CSV)."""
    if fmt == "jsonl":
        for rec in records:
            stream.write(json.dumps(rec, sort_keys=True) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in rec.items()})
    else:
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose csv or jsonl")


def read_export(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``benchgen export --format jsonl`` file, as :meth:`ResultStore.records` returned them
    (JSON keeps every float exactly, so a board rendered from the file equals the board of the store)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the records ({exc.strerror})",
                          "pass a file written by `benchgen export --format jsonl`") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a JSON-lines file (not UTF-8 text)",
                          "pass a file written by `benchgen export --format jsonl`") from None
    records = []
    needed = {"suite", "suite_version", "profile", "generator", "metric", "status", "seed", "n_real", "n_synthetic"}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not a JSON record ({exc.msg})",
                              "pass a file written by `benchgen export --format jsonl`") from None
        missing = sorted(needed - set(rec)) if isinstance(rec, dict) else ["(not an object)"]
        if missing:
            raise ConfigError(f"{path}:{number}: not a benchgen record (missing {', '.join(missing)})",
                              "pass a file written by `benchgen export --format jsonl`")
        records.append({**ADDED_COLUMNS, **rec})
    if not records:
        raise ConfigError(f"{path}: no records", "export some with `benchgen export --format jsonl -o FILE`")
    return records
