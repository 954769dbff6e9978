"""Temporary files of a killed run (``.tmp-*`` beside their targets, a checkpoint's ``.tmp-<key>-<id>/`` folder)
are shown by `cache list`, swept by the next run — never another live run's — and by `cache clear`."""

from __future__ import annotations

import os
import time

from filelock import FileLock
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite


def leftovers(home):
    """What kill -9 leaves: old temporaries of a dead run, and two of a live one (recently written; locked)."""
    old = time.time() - 3600
    dead = [home / "runs" / "toy" / "default" / ".tmp-k2j4.png",
            home / "runs" / "toy" / "default" / "samples" / "good" / ".tmp-a1.nii.gz",
            home / "cache" / "samples" / ".tmp-x9.safetensors",
            home / "cache" / "checkpoints" / ".tmp-mean-0123abcd-1a2b3c4d"]
    for path in dead[:3]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(1000))
    dead[3].mkdir(parents=True)
    (dead[3] / "weights.safetensors").write_bytes(bytes(5000))
    for path in [*dead, dead[3] / "weights.safetensors"]:
        os.utime(path, (old, old))
    fresh = home / "runs" / "toy" / "default" / ".tmp-live.png"
    fresh.write_bytes(b"being written")
    locked = home / "cache" / "checkpoints" / ".tmp-mean-feedbeef-00000000"
    locked.mkdir()
    os.utime(locked, (old, old))
    return dead, fresh, locked


def test_cache_list_shows_leftovers_and_the_next_run_sweeps_only_dead_ones(fake_registry, suite_file, home,
                                                                           tmp_path):
    dead, fresh, locked = leftovers(home)
    res = CliRunner().invoke(load_commands(), ["cache", "list"])
    assert res.exit_code == 0, res.output
    line = next((x for x in res.output.splitlines() if "leftovers" in x), "")
    assert " 6 " in f" {line} " and "interrupted" in line, res.output
    lock = FileLock(str(locked.parent / ".mean-feedbeef.lock"))
    with lock:  # another run is saving that checkpoint right now
        run_suite(load_suite(suite_file(), profile="default"), tmp_path / "r.sqlite", quiet=True)
    assert not any(p.exists() for p in dead)
    assert fresh.exists() and locked.exists()


def test_cache_clear_removes_leftovers(fake_registry, home):
    dead, fresh, locked = leftovers(home)
    res = CliRunner().invoke(load_commands(), ["cache", "clear", "--yes"])
    assert res.exit_code == 0, res.output
    assert not any(p.exists() for p in [*dead, fresh, locked])
