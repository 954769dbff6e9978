"""Where a cluster run writes: a suite file's `[executor] run_dir` stays inside BENCHGEN_HOME (the command line's
--run-dir may point anywhere, explicitly), and a non-empty folder that is not a benchgen run folder is refused
before anything is written into it."""

from __future__ import annotations

from typer.testing import CliRunner

from benchgen.cli import load_commands
from tests.core.conftest import SUITE


def invoke(*args):
    return CliRunner().invoke(load_commands(), [str(a) for a in args])


def test_a_suite_file_cannot_send_a_run_outside_the_home(cluster_env, suite_file):
    outside = cluster_env / "elsewhere"
    path = suite_file(SUITE + f'\n[executor]\nrun_dir = "{outside}"\n')
    for args in (["validate", path], ["run", path, "-p", "default", "--executor", "local", "--dry-run"]):
        res = invoke(*args)
        assert res.exit_code == 2 and "executor.run_dir" in res.output and "BENCHGEN_HOME" in res.output, res.output
    assert not outside.exists()
    inside = suite_file(SUITE + '\n[executor]\nrun_dir = "runs/mine"\n', name="inside.toml")
    res = invoke("run", inside, "-p", "default", "--executor", "local", "--dry-run")
    assert res.exit_code == 0, res.output
    assert str(cluster_env / "home" / "runs" / "mine") in res.output


def test_the_command_line_may_point_anywhere(cluster_env, suite_file):
    res = invoke("run", suite_file(), "-p", "default", "--executor", "local", "--dry-run",
                 "--run-dir", cluster_env / "elsewhere")
    assert res.exit_code == 0, res.output


def test_a_folder_that_is_not_a_run_folder_is_refused(cluster_env, suite_file):
    folder = cluster_env / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"jpeg")
    res = invoke("run", suite_file(), "-p", "default", "--executor", "local", "--run-dir", folder)
    assert res.exit_code == 2 and str(folder) in res.output and "not a benchgen run folder" in res.output, res.output
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
