"""The kit as a plugin author uses it: benchgen.testing ships in benchgen's wheel; a third-party plugin
installed from its wheel passes `benchgen check` and its own pytest suite built on benchgen.testing; broken
generators installed the same way fail `benchgen check` naming the broken check."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from typer.testing import CliRunner

from benchgen import registry
from benchgen.cli import COMMAND_MODULES, app
from benchgen.testing import check_names

from .conftest import IGNORE, REPO, build_wheel

for _m in COMMAND_MODULES:
    __import__(f"benchgen.cli.{_m}")

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_benchgen_wheel_ships_the_kit(tmp_path):
    src = tmp_path / "benchgen"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("benchgen", "plugins"):
        shutil.copytree(REPO / name, src / name, ignore=IGNORE)
    files = set(zipfile.ZipFile(build_wheel(src, tmp_path / "dist")).namelist())
    checks = ("__init__", "shared", "every_kind", "generators", "metrics", "preprocessors", "datasets", "features",
              "config")
    kit = ("__init__", "core", "data", *(f"checks/{m}" for m in checks))
    assert {f"benchgen/testing/{m}.py" for m in kit} <= files
    assert "benchgen/cli/check.py" in files
    assert not any(f.startswith("tests/") for f in files)


def test_benchgen_check_passes_the_example_generator(run_benchgen):
    proc = run_benchgen("check", "example-meanvar")
    assert proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    for name in check_names("generators"):
        assert any(re.match(rf"PASS\s+{name}(\s|$)", line) for line in lines), f"no PASS {name}:\n{proc.stdout}"
    assert f"{len(check_names('generators'))} checks: {len(check_names('generators'))} passed, 0 failed" in proc.stdout
    assert "checking generator example-meanvar from benchgen-example-plugin 0.1.0" in proc.stdout


def test_the_plugins_own_contract_tests_pass(kit, tmp_path):
    """The pytest file shipped with the example package, run as its author would, against the installed wheel."""
    tests = kit["src"]["benchgen_example_plugin"] / "tests" / "test_contract.py"
    work = tmp_path / "elsewhere"  # not the source folder: the plugin is imported from the installed wheel
    work.mkdir()
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(kit["site"]), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(tests)], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{len(check_names('generators')) + 2} passed" in proc.stdout, proc.stdout[-2000:]


def test_check_json_for_the_example_metric_with_a_param(installed):
    res = invoke("check", "example-intensity-gap", "--format", "json", "--param", "threshold=0.1")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert (payload["plugin"], payload["kind"], payload["distribution"]) == (
        "example-intensity-gap", "metrics", "benchgen-example-plugin")
    n = len(check_names("metrics"))
    assert payload["passed"] is True and payload["counts"] == {"pass": n, "fail": 0, "skip": 0}
    assert [c["name"] for c in payload["checks"]] == check_names("metrics")
    assert payload["params"] == {"threshold": 0.1, "bootstrap": 20}  # tiny_params, updated by --param


@pytest.mark.parametrize("name,failed", [
    ("broken-unseeded", ["deterministic_for_seed"]),  # global RNG: no two calls agree (the round trip is skipped)
    ("broken-shape", ["sample_shape"]),
    ("broken-fit", ["fit"]),
    ("broken-pickle", ["checkpoint_no_pickles"]),
])
def test_benchgen_check_names_the_broken_check(installed, name, failed):
    assert registry.entries("generators")[name].distribution == "benchgen-broken-plugin"
    res = invoke("check", name)
    assert res.exit_code == 1, res.output
    for check in failed:
        assert re.search(rf"^FAIL\s+{check}\s", res.output, flags=re.M), res.output
    assert len(re.findall(r"^FAIL", res.output, flags=re.M)) == len(failed), res.output
    assert f"error: generator '{name}' failed {len(failed)} check(s): {', '.join(failed)}" in res.output
    assert "Traceback" not in res.output  # tracebacks only with --debug


def test_a_fit_that_raises_fails_check_fit_and_debug_shows_the_plugins_traceback(run_benchgen):
    proc = run_benchgen("check", "broken-fit")
    assert proc.returncode == 1, proc.stdout
    fit_line = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL"))
    assert re.match(r"FAIL\s+fit\s+fit\(\) raised RuntimeError: deliberately broken fit: the optimiser diverged "
                    r"\(benchgen_broken/generators\.py:\d+ in fit\)", fit_line), fit_line
    assert "Traceback" not in proc.stdout and "re-run with --debug" in proc.stdout
    assert re.search(r"^SKIP\s+sample\s+not run: needs 'fit', which failed", proc.stdout, flags=re.M)

    proc = run_benchgen("--debug", "check", "broken-fit")
    assert proc.returncode == 1, proc.stdout
    assert "Traceback (most recent call last)" in proc.stdout
    frame = re.search(r'File "([^"]+)", line (\d+), in fit\n\s+raise RuntimeError\("deliberately broken fit',
                      proc.stdout)
    assert frame, proc.stdout
    # the frame is in the copy of the plugin installed from its wheel
    assert frame.group(1).endswith(os.path.join("site", "benchgen_broken", "generators.py"))
    assert "error: generator 'broken-fit' failed 1 check(s): fit" in proc.stdout


def test_a_name_of_several_kinds_needs_kind(monkeypatch):
    eps = [md.EntryPoint("twin", "benchgen_baselines.generators:Noise", "benchgen.generators"),
           md.EntryPoint("twin", "benchgen_metrics.mmd:MMD", "benchgen.metrics")]
    registry.refresh(eps)
    try:
        res = invoke("check", "twin")
        assert res.exit_code == 2
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert lines == ["error: 'twin' names plugins of several kinds (generators, metrics); choose one with --kind"]
        res = invoke("check", "twin", "--kind", "metrics")
        assert res.exit_code == 0, res.output
        assert f"{len(check_names('metrics'))} checks: {len(check_names('metrics'))} passed" in res.output
        res = invoke("check", "twin", "--kind", "preprocessor")
        assert res.exit_code == 2 and "unknown preprocessor plugin 'twin'" in res.output
    finally:
        registry.refresh()


def test_unknown_names_kinds_formats_and_params_are_one_line_errors():
    res = invoke("check", "gausian")
    assert res.exit_code == 2 and "no installed plugin named 'gausian'" in res.output and "'gaussian'" in res.output
    res = invoke("check", "gaussian", "--kind", "solvers")
    assert res.exit_code == 2 and "unknown plugin kind 'solvers'" in res.output
    res = invoke("check", "gaussian", "--format", "yaml")
    assert res.exit_code == 2 and "choose one of table, json" in res.output
    res = invoke("check", "gaussian", "--param", "rank")
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output
    res = invoke("check", "gaussian", "--param", "rank=0")  # rejected by the plugin's Params: check 'build' fails
    assert res.exit_code == 1 and re.search(r"^FAIL\s+build\s+params .*rank must be ≥ 1", res.output, flags=re.M)


def test_a_plugin_that_fails_to_import_fails_check_import_with_its_traceback(tmp_path, monkeypatch):
    (tmp_path / "bg_kit_badimport.py").write_text('raise ImportError("needs libfoo, which is not installed")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh([md.EntryPoint("badimport", "bg_kit_badimport:Gen", "benchgen.generators")])
    try:
        res = invoke("check", "badimport")
        assert res.exit_code == 1, res.output
        assert re.search(r"^FAIL\s+import\s+cannot be loaded: generator plugin 'badimport' from \? is broken: "
                         r"ImportError: needs libfoo", res.output, flags=re.M), res.output
        assert re.search(r"^SKIP\s+build\s+not run: needs 'import', which failed", res.output, flags=re.M)
        assert "error: generator 'badimport' failed 1 check(s): import" in res.output
        res = invoke("check", "badimport", "--format", "json")
        tb = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "import")["traceback"]
        assert 'bg_kit_badimport.py", line 1' in tb
        assert tb.rstrip().endswith("ImportError: needs libfoo, which is not installed")
    finally:
        monkeypatch.delitem(sys.modules, "bg_kit_badimport", raising=False)
        registry.refresh()
