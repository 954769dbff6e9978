"""The board printed by `run` (and `leaderboard --suite FILE`) shows exactly the configs in the suite as it
stands: change a param, run, change it back, run — the board shows the reverted config's numbers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchgen.board.select import suite_boards
from benchgen.cli import load_commands
from benchgen.errors import ConfigError
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE


def _value(board, label: str) -> float:
    return next(cells["meandiff"].mean for gen, _, cells in board.rows if gen == label)


def test_revert_shows_the_reverted_configs_numbers(fake_registry, suite_file, home, tmp_path):
    db = tmp_path / "r.sqlite"
    original = suite_file()
    run_suite(load_suite(original, "default"), db, quiet=True)
    store = ResultStore(db)
    first = _value(suite_boards(load_suite(original, "default"), store)[0], "bad")
    changed = suite_file(SUITE.replace("params = { scale = 0.5 }", "params = { scale = 0.2 }"))
    run_suite(load_suite(changed, "default"), db, quiet=True)
    second = _value(suite_boards(load_suite(changed, "default"), store)[0], "bad")
    assert second != pytest.approx(first)
    reverted = suite_file()  # the file as it was
    summary = run_suite(load_suite(reverted, "default"), db, quiet=True)
    assert summary.computed == 0  # every cell cached...
    boards = suite_boards(load_suite(reverted, "default"), store)
    assert _value(boards[0], "bad") == pytest.approx(first)  # ...and the board shows the reverted config
    assert boards[0].ignored == 2 and "--all-configs" in boards[0].caption()
    # on request, the latest config of each label (the old behaviour)
    latest = suite_boards(load_suite(reverted, "default"), store, all_configs=True)
    assert latest[0].ignored == 2
    store.close()


def test_cli_run_and_leaderboard_suite_file(fake_registry, suite_file, home, tmp_path):
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    path = suite_file()
    args = ["run", str(path), "--profile", "default", "--results", str(db), "--json"]
    first = json.loads(runner.invoke(load_commands(), args).stdout)
    res = runner.invoke(load_commands(), [*args, "--set", "generators.bad.params.scale=0.2"])
    assert res.exit_code == 0, res.output
    changed = json.loads(res.stdout)
    assert changed["computed"] == 2  # only the changed generator's cells
    cell = {(c["generator"]): c["mean"] for c in first["leaderboard"]["cells"]}
    cell2 = {(c["generator"]): c["mean"] for c in changed["leaderboard"]["cells"]}
    assert cell2["bad"] != pytest.approx(cell["bad"]) and cell2["good"] == pytest.approx(cell["good"])
    res = runner.invoke(load_commands(), ["leaderboard", "--suite", str(path), "--profile", "default",
                                          "--results", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    cells = {c["generator"]: c["mean"] for c in json.loads(res.stdout)["cells"]}
    assert cells["bad"] == pytest.approx(cell["bad"])


@pytest.mark.parametrize("item, words", [
    ("generators.bad.params.scale", "expected TABLE.KEY=VALUE"),
    ("generators.bad.params.nope=1", "nope"),
    ("evaluation.n_samples=x", "evaluation.n_samples"),
    ("evaluation.seeds.0=1", "evaluation.seeds is a value"),
    ("generators.ghost.params.scale=1", "ghost"),
])
def test_set_is_validated_like_the_file(fake_registry, suite_file, item, words):
    with pytest.raises(ConfigError) as exc:
        load_suite(suite_file(), "default", [item])
    assert words in str(exc.value)


def test_set_changes_the_value(fake_registry, suite_file):
    suite = load_suite(suite_file(), "default", ["generators.bad.params.scale=0.25", "evaluation.n_samples=3"])
    assert suite.generators["bad"].params.scale == 0.25 and suite.n_samples == 3
