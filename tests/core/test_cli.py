import json

import pytest
from typer.testing import CliRunner

from benchgen.cli import COMMAND_MODULES, app
from tests.core.conftest import SUITE

for _m in COMMAND_MODULES:
    __import__(f"benchgen.cli.{_m}")

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("text,expect", [
    (SUITE.replace("n_samples = 4", "n_samples = 1"), "n_samples: must be at least 2"),
    (SUITE.replace('plugin = "mean"', 'plugin = "meen"', 1), "unknown generator plugin 'meen'"),
    (SUITE.replace("[suite]", "[suite\n"), "TOML syntax error"),
    (SUITE.replace("test = 0.25 }", "test = 0.5 }"), "fractions must sum to 1"),
])
def test_bad_suite_is_one_line_and_writes_nothing(fake_registry, home, suite_file, tmp_path, text, expect):
    db = tmp_path / "r.sqlite"
    res = invoke("run", suite_file(text), "--results", db, "--profile", "default")
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert lines[0].startswith("error:") and expect in lines[0] and "Traceback" not in res.output
    assert not db.exists()


def test_missing_suite_and_unwritable_results(fake_registry, home, suite_file, tmp_path):
    res = invoke("run", tmp_path / "missing.toml")
    assert res.exit_code == 2 and "no such suite file" in res.output
    blocker = tmp_path / "f"
    blocker.write_text("")
    res = invoke("run", suite_file(), "--results", blocker / "sub" / "r.sqlite", "--profile", "default")
    assert res.exit_code == 2 and "--results" in res.output


def test_run_json_leaderboard_export_and_validate(fake_registry, home, suite_file, tmp_path):
    db = tmp_path / "r.sqlite"
    res = invoke("run", suite_file(), "--results", db, "--profile", "default", "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["computed"] == 4 and payload["errors"] == []
    ranks = [c["generator"] for c in payload["leaderboard"]["cells"] if c["metric"] == "meandiff"]
    assert ranks == ["good", "bad"]
    res = invoke("leaderboard", "--results", db, "--format", "markdown")
    assert res.exit_code == 0 and "| 1 | good |" in res.stdout and "meandiff ↓" in res.stdout
    res = invoke("leaderboard", "--results", db, "--format", "yaml")
    assert res.exit_code == 2 and "choose one of table, markdown" in res.output
    res = invoke("export", "--results", db, "--format", "jsonl")
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 4
    res = invoke("validate", suite_file(), "--profile", "quick")
    assert res.exit_code == 0 and "ok" in res.stdout


def test_list_json_and_version(fake_registry):
    res = invoke("list", "--format", "json")
    rows = json.loads(res.stdout)
    assert {"kind": "generators", "name": "mean"}.items() <= next(r for r in rows if r["name"] == "mean").items()
    assert invoke("--version").stdout.startswith("benchgen ")
