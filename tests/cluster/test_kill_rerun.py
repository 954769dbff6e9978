"""Kill a worker mid-unit, then the whole submitter (and its workers) at a random point, then run again:
every cell ends up stored exactly once, and merging again adds nothing."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.cluster.ledger import open_run_folder
from benchgen.cluster.shards import RunIdentity, read_shards
from benchgen.cluster.status import unit_states
from benchgen.data.load import load_data
from benchgen.fit.fit import fit_or_load
from benchgen.suite.load import load_suite
from tests.cluster.conftest import ROOT
from tests.core.conftest import SUITE

ONE_GENERATOR = SUITE.replace('[generators.bad]\nplugin = "mean"\nparams = { scale = 0.5 }\n', "")
SCRIPT = """
import sys
from pathlib import Path
from benchgen.cluster.submit import run_on_executor
from benchgen.suite.load import load_suite
s = run_on_executor(load_suite(sys.argv[1], profile="default"), Path(sys.argv[2]), "local", quiet=True,
                    run_dir=Path(sys.argv[3]))
print("computed", s.computed, "cached", s.cached, "errors", len(s.errors))
"""


def start(args, env):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, args)], env=env, cwd=ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(cond, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute("select cell_key, generator, seed, metric, status from results").fetchall()
    finally:
        con.close()


def test_kill_workers_and_submitter_then_rerun(cluster_env, suite_file):
    suite, db, run_dir = suite_file(ONE_GENERATOR), cluster_env / "r.sqlite", cluster_env / "run"
    run = RunIdentity("toy", "1", "default")
    loaded = load_suite(suite, profile="default")  # fitted here, so the plan is two score units (one wave)
    fit_or_load(loaded.generators["good"], load_data(loaded), loaded, "cpu")
    env = {**os.environ, "BENCHGEN_TEST_HANG_SEED": "1"}  # the seed-1 unit hangs inside its metric
    proc = start([suite, db, run_dir], env)
    try:
        wait_for(lambda: "score-good-seed0" in read_shards(run_dir, run).complete_units)
        wait_for(lambda: any(s.unit == "score-good-seed1" for s in read_shards(run_dir, run).shards))
        for pid in [p for p in descendants(proc.pid) if "submitit.core._submit" in cmdline(p)]:
            os.kill(pid, signal.SIGKILL)  # the hanging worker dies mid-unit, the submitter lives on
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "errors 1" in out, err
    assert [(g, s, st) for _, g, s, _, st in rows(db)] == [("good", 0, "ok")]
    states = {s.unit: s for s in unit_states(open_run_folder(run_dir))[0]}
    assert states["score-good-seed1"].state == "failed" and states["score-good-seed1"].reason
    status = CliRunner().invoke(load_commands(), ["status", str(run_dir)])
    assert status.exit_code == 1 and "1 done · 0 running · 1 failed" in status.output
    assert "score-good-seed1  failed" in status.output and "killed" in status.output

    del env["BENCHGEN_TEST_HANG_SEED"]
    proc = start([suite, db, run_dir], env)
    time.sleep(random.uniform(0.5, 4.0))  # somewhere in planning, submitting or the unit itself
    os.killpg(proc.pid, signal.SIGKILL)  # the submitter and every worker it started
    proc.wait()

    proc = start([suite, db, run_dir], env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "errors 0" in out, err
    after = rows(db)
    assert sorted((g, s, m, st) for _, g, s, m, st in after) == [("good", 0, "meandiff", "ok"),
                                                                  ("good", 1, "meandiff", "ok")]
    assert len({k for k, *_ in after}) == len(after)
    merged = CliRunner().invoke(load_commands(), ["merge", str(run_dir)])
    assert merged.exit_code == 0 and "0 new records, 2 already there" in merged.output, merged.output
    assert len(rows(db)) == 2
    states = {s.unit: s.state for s in unit_states(open_run_folder(run_dir))[0]}
    assert states == {"score-good-seed0": "done", "score-good-seed1": "done"}  # the whole run, not the last plan
