"""`[evaluation] fits = N` in a run: every row is trained N times (fit seeds derived from its seed), records
say which fit, the board shows one row per label; kill -9 in the middle of a fit and a re-run computes only
what is missing; a suite fitted once keeps every cell key it had before fits existed; cluster units split by fit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchgen.fit.replicates import Replicate, fit_seed
from tests.core.conftest import SUITE
from tests.core.test_kill_resume import _rows

THREE = SUITE.replace("bootstrap = 7", "bootstrap = 7\nfits = 3")
SCRIPT = """
import sys
from benchgen import registry
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.conftest import fake_entry_points
registry.refresh(fake_entry_points())
s = run_suite(load_suite(sys.argv[1]), sys.argv[2], quiet=True)
print("computed", s.computed, "cached", s.cached)
"""
# The quick profile's cell keys of the toy suite, as the code before fits existed computed them: a suite
# fitted once must keep them (its stored results reopen with nothing recomputed).
KEYS_BEFORE_FITS = ["1eb3a4ee8ef21d0c2bf96533", "65e1e33229c0e502dee0b654"]


class _Empty:
    def done_keys(self, keys):
        return set()


def test_a_one_fit_suite_keeps_its_cell_keys(suite_file, fake_registry, home):
    from benchgen.data.load import list_dataset
    from benchgen.results.cells import plan_cells
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_file())
    plans = plan_cells(suite, list(suite.generators), _Empty(), list_dataset(suite).fingerprint)
    assert sorted(k for p in plans for k in p.keys.values()) == KEYS_BEFORE_FITS
    three = load_suite(suite_file(THREE))
    plans3 = plan_cells(three, list(three.generators), _Empty(), list_dataset(three).fingerprint)
    keys3 = [k for p in plans3 for k in p.keys.values()]
    assert len(keys3) == 6 and len(set(keys3)) == 6
    assert set(KEYS_BEFORE_FITS) <= set(keys3)  # fit 0 is the run a one-fit suite makes: nothing recomputed


def test_fit_seeds_are_derived_and_distinct():
    assert fit_seed(5, 0) == 5
    seeds = {fit_seed(5, k) for k in range(20)} | {fit_seed(6, k) for k in range(20)}
    assert len(seeds) == 40
    assert Replicate(0).key_part() == {} and Replicate(2).key_part() == {"fit": 2} and Replicate(2).suffix() == "-fit2"


def test_three_fits_give_one_row_per_label_with_three_distinct_fits(suite_file, fake_registry, home, tmp_path):
    from benchgen.board.select import suite_boards
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_file(THREE))
    s = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert s.computed == 6 and not s.errors
    store = ResultStore(tmp_path / "r.sqlite")
    recs = store.records()
    for label in ("good", "bad"):
        mine = [r for r in recs if r["generator"] == label]
        assert sorted(r["extra"]["fit"] for r in mine) == [0, 1, 2]
        assert len({r["extra"]["fit_seed"] for r in mine}) == 3 and mine[0]["extra"]["fit_seed"] in (0,)
    board = suite_boards(suite, store)[0]
    store.close()
    assert sorted(g for g, _, _ in board.rows) == ["bad", "good"]
    assert all(info["fits"] == [0, 1, 2] for _, info, _ in board.rows)
    assert "trained once" not in board.caption()
    again = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert again.computed == 0 and again.cached == 6


def test_kill_9_mid_fit_then_rerun_computes_only_what_is_missing(tmp_path):
    suite = tmp_path / "toy.toml"
    suite.write_text(THREE)
    db = tmp_path / "r.sqlite"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(root),
           "BENCHGEN_TEST_HANG_FIT_SEED": str(fit_seed(0, 1))}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(suite), str(db)], env=env, cwd=root)
    deadline = time.monotonic() + 120
    while len(_rows(db)) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # fit 0 of "good" is stored; the run now hangs inside the fit of fit 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _rows(db)
    assert [(g, st) for _, g, _, st in before] == [("good", "ok")]
    del env["BENCHGEN_TEST_HANG_FIT_SEED"]
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(suite), str(db)], env=env, cwd=root,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "computed 5 cached 1" in out.stdout
    after = _rows(db)
    assert len(after) == 6 and len({k for k, *_ in after}) == 6 and before[0] in after


def test_cluster_units_are_one_fit_unit_per_fit(suite_file, fake_registry, home):
    from benchgen.cluster.plan import Unit, plan_units
    from benchgen.cluster.resources import executor_config
    from benchgen.data.load import list_dataset
    from benchgen.results.cells import plan_cells
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_file(THREE))
    fp = list_dataset(suite).fingerprint
    plan = plan_units(suite, plan_cells(suite, list(suite.generators), _Empty(), fp),
                      executor_config(suite), fp)
    ids = [u.id for u in plan.units]
    assert ids == ["fit-good", "score-good-seed0", "fit-good-fit1", "score-good-fit1-seed0", "fit-good-fit2",
                   "score-good-fit2-seed0", "fit-bad", "score-bad-seed0", "fit-bad-fit1", "score-bad-fit1-seed0",
                   "fit-bad-fit2", "score-bad-fit2-seed0"]
    unit = plan.by_id()["score-bad-fit2-seed0"]
    assert unit.fit == 2 and unit.depends == ("fit-bad-fit2",) and not unit.save_samples
    assert Unit.from_json({k: v for k, v in unit.to_json().items() if k != "fit"}).fit == 0  # old ledgers read


def test_compare_and_report_of_a_three_fit_suite(suite_file, fake_registry, home, tmp_path):
    from typer.testing import CliRunner

    from benchgen.board.report import write_report
    from benchgen.cli import COMMAND_MODULES, app
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    for m in COMMAND_MODULES:  # the commands register themselves on import
        __import__(f"benchgen.cli.{m}")
    path = suite_file(THREE.replace("bootstrap = 7", 'bootstrap = 7\nbaseline = "good"'))
    suite = load_suite(path)
    run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    res = CliRunner().invoke(app, ["compare", str(path), "bad", "good", "--results", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 0, res.output
    assert "bad vs good · meandiff" in res.output and "Holm over" in res.output
    bad = CliRunner().invoke(app, ["compare", str(path), "bad", "nope", "--results", str(tmp_path / "r.sqlite")])
    assert bad.exit_code != 0 and "no row 'nope'" in bad.output
    store = ResultStore(tmp_path / "r.sqlite")
    page = write_report(suite, store, tmp_path / "report").read_text()
    store.close()
    assert "each row against good" in page and "<th>fits</th>" in page
