"""A disk that fills mid-run: the failing write names its file and leaves no half-written file, the cells already
computed are stored first, the store keeps the disk-full cause (not SQLite's later "cannot rollback"), and a
damaged store is named."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from benchgen.errors import BenchgenError, WriteError
from benchgen.results.store import ResultStore, open_existing
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.fakes import MeanGen
from tests.core.test_store import make_record


def test_a_full_disk_while_copying_the_loss_curve_names_it_and_keeps_the_cells(fake_registry, suite_file, home,
                                                                                tmp_path, monkeypatch):
    saved = MeanGen.save

    def save_with_curve(self, folder: Path) -> None:
        saved(self, folder)
        (folder / "loss.png").write_bytes(b"\x89PNG" + bytes(4096))

    def copy_until_full(src, dst, *args, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(MeanGen, "save", save_with_curve)
    monkeypatch.setattr(shutil, "copyfile", copy_until_full)
    suite = load_suite(suite_file(), profile="default")
    db = tmp_path / "r.sqlite"
    with pytest.raises(WriteError, match=r"loss-good\.png: cannot write \(No space left on device\)"):
        run_suite(suite, db, quiet=True)
    good = [r for r in ResultStore(db).records() if r["generator"] == "good"]
    assert len(good) == 2 and {r["status"] for r in good} == {"ok"}  # stored before the copy could abort the run
    run_folder = home / "runs" / "toy" / "default"
    assert not (run_folder / "loss-good.png").exists()
    assert not list(run_folder.glob(".tmp-*"))


def test_a_full_store_reports_the_disk_full_cause(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLite's "disk is full"
    with pytest.raises(WriteError) as info:
        for i in range(100):
            store.put(make_record(f"k{i}", message="x" * 5000))
    assert "full" in str(info.value) and "rollback" not in str(info.value), str(info.value)
    assert info.value.errno == errno.ENOSPC and str(tmp_path / "r.sqlite") in str(info.value)


def test_a_damaged_store_is_named(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ResultStore(path)
    for i in range(60):
        store.put(make_record(f"k{i}", message="x" * 3000))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[4 * page:6 * page] = b"\xa5" * (2 * page)  # two pages of the results table overwritten
    path.write_bytes(bytes(data))
    for reader in (lambda: open_existing(path).records(), lambda: ResultStore(path).records()):
        with pytest.raises(BenchgenError) as info:
            reader()
        assert str(path) in str(info.value) and "malformed" in str(info.value), str(info.value)
