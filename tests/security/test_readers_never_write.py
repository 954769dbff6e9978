"""Readers never write: `leaderboard` and `export` open the store read-only, refuse another program's SQLite
file in one line and leave it byte-identical (no tables added, no WAL switch, no -wal/-shm files), and
render a store on read-only media."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.errors import ConfigError
from benchgen.results.store import ResultStore, open_existing
from tests.core.test_store import make_record


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_db(path: Path, wal: bool = False) -> Path:
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, patient TEXT, score REAL)")
    con.executemany("INSERT INTO results (patient, score) VALUES (?, ?)", [("p1", 0.5), ("p2", 0.75)])
    con.commit()
    con.close()
    return path


def benchgen_store(path: Path) -> Path:
    st = ResultStore(path)
    for seed in (0, 1):
        st.put(make_record(f"k{seed}", seed=seed, generator="mygen", value=0.5 + seed))
    st.close()
    return path


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("command", [["leaderboard"], ["export", "--format", "jsonl"], ["export"]])
def test_a_foreign_sqlite_file_is_refused_and_left_byte_identical(tmp_path, command, wal):
    db = foreign_db(tmp_path / "theirs.sqlite", wal)
    before, listing = sha(db), sorted(os.listdir(tmp_path))
    res = CliRunner().invoke(load_commands(), [*command, "--results", str(db)])
    assert res.exit_code == 2, res.output
    assert "not a benchgen result store" in res.output and str(db) in res.output
    assert "KeyError" not in res.output
    assert len([line for line in res.output.splitlines() if line.startswith("error:")]) == 1
    assert sha(db) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal, -shm or -journal file appeared
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["results"]
    con.close()


def test_a_writer_refuses_a_foreign_file_too(tmp_path):
    db = foreign_db(tmp_path / "theirs.sqlite")
    before = sha(db)
    with pytest.raises(ConfigError, match="not a benchgen result store"):
        ResultStore(db)
    assert sha(db) == before and sorted(os.listdir(tmp_path)) == ["theirs.sqlite"]


def test_a_non_sqlite_or_empty_file_is_refused(tmp_path):
    for name, data in (("text.sqlite", b"hello, not a database\n"), ("empty.sqlite", b"")):
        (tmp_path / name).write_bytes(data)
        res = CliRunner().invoke(load_commands(), ["leaderboard", "--results", str(tmp_path / name)])
        assert res.exit_code == 2 and "not a benchgen result store" in res.output
        assert (tmp_path / name).read_bytes() == data


def test_readers_open_read_only(tmp_path):
    db = benchgen_store(tmp_path / "results.sqlite")
    st = open_existing(db)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            st.conn.execute("CREATE TABLE intruder (a)")
        assert len(st.records()) == 2
    finally:
        st.close()
    assert sorted(os.listdir(tmp_path)) == ["results.sqlite"]


def test_a_store_on_read_only_media_renders_a_leaderboard(tmp_path):
    folder = tmp_path / "media"
    db = benchgen_store(folder / "results.sqlite")
    before = sha(db)
    os.chmod(db, 0o444)
    os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        res = CliRunner().invoke(load_commands(), ["leaderboard", "--results", str(db), "--format", "csv"])
        assert res.exit_code == 0, res.output
        assert "mygen" in res.output
        res = CliRunner().invoke(load_commands(), ["export", "--results", str(db), "--format", "jsonl"])
        assert res.exit_code == 0 and res.output.count("\n") == 2
        assert sorted(os.listdir(folder)) == ["results.sqlite"] and sha(db) == before
    finally:
        os.chmod(folder, 0o755)
        os.chmod(db, 0o644)


def test_a_store_written_before_the_marker_is_still_read(tmp_path):
    db = benchgen_store(tmp_path / "old.sqlite")
    con = sqlite3.connect(db)
    con.execute("DELETE FROM meta WHERE key = 'application'")  # what every store looked like before
    con.commit()
    con.close()
    res = CliRunner().invoke(load_commands(), ["leaderboard", "--results", str(db), "--format", "csv"])
    assert res.exit_code == 0 and "mygen" in res.output
    ResultStore(db).close()  # a writer adds the marker
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key = 'application'").fetchone() == ("benchgen",)
    con.close()
