"""A home copied to read-only media after a kill: the store's write-ahead log is there but no -shm index, and none
can be made. Readers open the main file as it is, and say how many commits of the log they cannot read instead of
showing fewer records without a word."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.results.store import ResultStore
from tests.core.test_store import make_record


def killed_store(src, dst):
    """15 records: 3 checkpointed into the main file, 12 only in the -wal (as after a kill -9), copied without
    -shm."""
    src.mkdir()
    store = ResultStore(src / "r.sqlite")
    store.conn.execute("PRAGMA wal_autocheckpoint = 0")
    for i in range(3):
        store.put(make_record(f"a{i}"))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(12):
        store.put(make_record(f"b{i}"))
    dst.mkdir()
    shutil.copy(src / "r.sqlite", dst / "r.sqlite")
    shutil.copy(src / "r.sqlite-wal", dst / "r.sqlite-wal")
    store.close()
    return dst / "r.sqlite"


@pytest.fixture
def read_only_media(monkeypatch):
    """What SQLite does on media where no -shm can be created (as root every folder is writable, so this is
    simulated): a read-only open of a WAL database without its -shm fails; an immutable one reads the main
    file alone."""
    connect = sqlite3.connect

    def without_shm(target, *args, **kwargs):
        if kwargs.get("uri") and "mode=ro" in str(target) and "immutable=1" not in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return connect(target, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", without_shm)


def test_readers_say_how_many_commits_they_cannot_read(tmp_path, read_only_media):
    db = killed_store(tmp_path / "home", tmp_path / "media")
    for command in (["leaderboard", "--results", str(db)], ["export", "--results", str(db), "--format", "jsonl"]):
        res = CliRunner().invoke(load_commands(), command)
        assert res.exit_code == 0, res.output
        warnings = [line for line in res.output.splitlines() if line.startswith("warning")]
        assert len(warnings) == 1 and "12 commits" in warnings[0] and "r.sqlite-wal" in warnings[0], res.output


def test_a_store_without_a_log_says_nothing(tmp_path, read_only_media):
    src = tmp_path / "home"
    src.mkdir()
    store = ResultStore(src / "r.sqlite")
    store.put(make_record("a"))
    store.close()
    assert not (src / "r.sqlite-wal").exists()
    res = CliRunner().invoke(load_commands(), ["export", "--results", str(src / "r.sqlite"), "--format", "jsonl"])
    assert res.exit_code == 0 and "warning" not in res.output, res.output
