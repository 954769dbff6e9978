"""--executor local runs the same cells as the in-process run, through submitit's local executor (real worker
processes writing shards), and gives the identical board."""

import json

from typer.testing import CliRunner

from benchgen.board.render import render_json
from benchgen.board.select import suite_boards
from benchgen.cli import load_commands
from benchgen.cluster.ledger import default_run_dir, open_run_folder
from benchgen.cluster.status import unit_states
from benchgen.cluster.submit import run_on_executor
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE

# two generators, one seed, a metric with sub-columns: four units (two fits, two sampling + scoring jobs)
TINY = SUITE.replace("seeds = [0, 1]", "seeds = [0]").replace(
    "[evaluation.metrics.meandiff]", "[evaluation.metrics.meandiff]\n[evaluation.metrics.pair]")


def board(suite, db):
    store = ResultStore(db)
    try:
        return json.loads(render_json(suite_boards(suite, store)))
    finally:
        store.close()


def in_process_then_local(suite, env, monkeypatch):
    """The suite run in this process (store a.sqlite) and on the local executor (b.sqlite), each with a home of
    its own, so nothing is cached for the second and every unit runs."""
    monkeypatch.setenv("BENCHGEN_HOME", str(env / "home-inprocess"))
    s0 = run_suite(suite, env / "a.sqlite", quiet=True)
    monkeypatch.setenv("BENCHGEN_HOME", str(env / "home-local"))
    return s0, run_on_executor(suite, env / "b.sqlite", "local", quiet=True)


def test_local_executor_gives_the_in_process_board(cluster_env, suite_file, monkeypatch):
    suite = load_suite(suite_file(TINY), profile="default")
    s0, s1 = in_process_then_local(suite, cluster_env, monkeypatch)
    assert (s0.computed, s0.errors) == (4, [])
    assert (s1.computed, s1.cached, s1.errors) == (4, 0, [])
    assert board(suite, cluster_env / "b.sqlite") == board(suite, cluster_env / "a.sqlite")
    keys = lambda db: sorted((r["cell_key"], r["value"]) for r in ResultStore(db).records())  # noqa: E731
    assert keys(cluster_env / "b.sqlite") == keys(cluster_env / "a.sqlite")
    folder = open_run_folder(default_run_dir("toy", "default"))
    states, problems = unit_states(folder)
    assert {s.unit: s.state for s in states} == {"fit-good": "done", "fit-bad": "done", "score-good-seed0": "done",
                                                   "score-bad-seed0": "done"} and problems == []
    # the command line, again: every cell is stored, no unit is submitted, the board is the in-process one
    res = CliRunner().invoke(load_commands(), ["run", str(suite.path), "-p", "default", "--results",
                                               str(cluster_env / "b.sqlite"), "--executor", "local", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert (payload["computed"], payload["cached"]) == (0, 4)
    assert payload["leaderboard"] == board(suite, cluster_env / "a.sqlite")


def test_local_executor_runs_one_fit_unit_per_fit_and_merges_them(cluster_env, suite_file, monkeypatch):
    text = SUITE.replace("seeds = [0, 1]", "seeds = [0]").replace("bootstrap = 7", "bootstrap = 7\nfits = 2")
    suite = load_suite(suite_file(text), profile="default")
    s0, s1 = in_process_then_local(suite, cluster_env, monkeypatch)
    assert (s0.computed, s0.errors) == (4, [])
    assert (s1.computed, s1.cached, s1.errors) == (4, 0, [])
    assert board(suite, cluster_env / "b.sqlite") == board(suite, cluster_env / "a.sqlite")
    states, problems = unit_states(open_run_folder(default_run_dir("toy", "default")))
    assert {s.unit: s.state for s in states} == {u: "done" for u in (
        "fit-good", "score-good-seed0", "fit-good-fit1", "score-good-fit1-seed0",
        "fit-bad", "score-bad-seed0", "fit-bad-fit1", "score-bad-fit1-seed0")} and problems == []
    fits = sorted((r["generator"], r["extra"]["fit"]) for r in ResultStore(cluster_env / "b.sqlite").records())
    assert fits == [("bad", 0), ("bad", 1), ("good", 0), ("good", 1)]
