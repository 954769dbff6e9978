"""kill -9 in the middle of a run, then re-run: finished cells are kept, nothing is duplicated or partial."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.core.conftest import SUITE

SCRIPT = """
import sys
from benchgen import registry
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.conftest import fake_entry_points
registry.refresh(fake_entry_points())
s = run_suite(load_suite(sys.argv[1], profile="default"), sys.argv[2], quiet=True)
print("computed", s.computed, "cached", s.cached)
"""


def _rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute("select cell_key, generator, seed, status from results").fetchall()
    except sqlite3.OperationalError:  # table not created yet
        return []
    finally:
        con.close()


def test_kill_9_then_resume(tmp_path):
    suite = tmp_path / "toy.toml"
    suite.write_text(SUITE)
    db = tmp_path / "r.sqlite"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root),
           "BENCHGEN_TEST_HANG_SEED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(suite), str(db)], env=env, cwd=root)
    deadline = time.monotonic() + 120
    while len(_rows(db)) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # it is now hanging inside the seed-1 metric of the first generator
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _rows(db)
    assert [(g, s, st) for _, g, s, st in before] == [("good", 0, "ok")]  # one finished cell, nothing partial
    del env["BENCHGEN_TEST_HANG_SEED"]
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(suite), str(db)], env=env, cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "computed 3 cached 1" in out.stdout  # the finished cell was not recomputed
    after = _rows(db)
    assert len(after) == 4 and len({k for k, *_ in after}) == 4
    assert before[0] in after
