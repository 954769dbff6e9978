"""One really installed distribution: the example package in tests/fixtures/benchgen_example_plugin is
pip-installed into a temporary folder, found through its entry points, passes the shared contract
tests and runs inside a tiny suite next to a built-in generator."""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchgen import registry
from benchgen.testing import check_names
from tests.suites import tiny_suite

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "benchgen_example_plugin"
DIST = "benchgen-example-plugin"

SUITE = tiny_suite("example_plugin_suite", suite={"primary_metric": "gap"},
                   dataset={"params": {"n_subjects": 12, "voxel_mm": 6.0}},
                   # the third-party generator, by its entry-point name; a built-in for contrast: noise far
                   # brighter than any brain
                   generators={"meanvar": {"plugin": "example-meanvar"},
                               "bright-noise": {"plugin": "noise",
                                                "params": {"distribution": "gaussian", "mean": 0.95, "std": 0.02}}},
                   evaluation={"seeds": [0, 1], "bootstrap": 20},
                   metrics={"gap": {"plugin": "example-intensity-gap"}})  # the third-party metric



@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the example package (no deps, no network) into a temporary site folder on sys.path."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is needed to build the fixture plugin offline (--no-build-isolation); "
                    "install benchgen's [test] extra", pytrace=False)
    tmp = tmp_path_factory.mktemp("example-plugin")
    src, site = tmp / "src", tmp / "site"
    shutil.copytree(FIXTURE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "--quiet", "--target", str(site), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"pip install of the fixture plugin failed:\n{proc.stdout}\n{proc.stderr}"
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    registry.refresh()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        for mod in [m for m in sys.modules if m == "benchgen_example" or m.startswith("benchgen_example.")]:
            del sys.modules[mod]
        importlib.invalidate_caches()
        registry.refresh()


def test_installed_plugins_are_registered_with_their_distribution(installed):
    assert (installed / "benchgen_example_plugin-0.1.0.dist-info").is_dir()
    gen = registry.entries("generators")["example-meanvar"]
    metric = registry.entries("metrics")["example-intensity-gap"]
    for entry in (gen, metric):
        assert (entry.distribution, entry.dist_version, entry.status) == (DIST, "0.1.0", "available")
    assert "benchgen_example" not in sys.modules  # found without importing it
    statuses = {(e.kind, e.name): (e.distribution, e.status) for e in registry.check_all()}
    assert statuses[("generators", "example-meanvar")] == (DIST, "loaded")
    assert statuses[("metrics", "example-intensity-gap")] == (DIST, "loaded")
    assert statuses[("generators", "gaussian")] == ("benchgen", "loaded")  # built-ins unaffected


def test_installed_plugins_show_up_in_benchgen_list(installed):
    import json

    from typer.testing import CliRunner

    import benchgen.cli.results  # noqa: F401  (registers `list` on the app)
    from benchgen.cli.app import app

    result = CliRunner().invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    row = rows[("generators", "example-meanvar")]
    assert (row["distribution"], row["dist_version"], row["plugin_version"]) == (DIST, "0.1.0", "1")
    assert row["status"] in ("available", "loaded")  # listing imports nothing; an earlier test may have
    assert row["doc"].startswith("Voxel-wise Gaussian")  # read from the source file
    assert rows[("metrics", "example-intensity-gap")]["distribution"] == DIST


def test_installed_plugins_pass_the_shared_contract_tests(installed):
    """What a plugin author runs: the contract tests pick the new plugins up by themselves."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/contracts",
                           "-k", "example-meanvar or example-intensity-gap"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    n_checks = len(check_names("generators")) + len(check_names("metrics"))  # one test per check, none skipped
    assert f"{n_checks} passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-3000:]


def test_installed_plugins_run_inside_a_suite(installed, tmp_path, monkeypatch):
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    path = tmp_path / "example.toml"
    path.write_text(SUITE)
    suite = load_suite(path, profile="default")
    assert suite.generators["meanvar"].plugin == "example-meanvar"
    summary = run_suite(suite, tmp_path / "results.sqlite", quiet=True)
    assert summary.ok, summary.errors
    store = ResultStore(tmp_path / "results.sqlite")
    records = store.records(suite="example_plugin_suite")
    store.close()
    cells = {(r["generator"], r["seed"]): r for r in records if r["metric"] == "gap"}
    assert set(cells) == {(g, s) for g in ("meanvar", "bright-noise") for s in (0, 1)}
    for rec in cells.values():
        assert rec["status"] == "ok" and math.isfinite(rec["value"])
        assert rec["metric_plugin"] == "example-intensity-gap" and rec["higher_is_better"] in (0, False)
        assert rec["metric_params"]["bootstrap"] == 20  # the suite's evaluation.bootstrap reached the plugin
        assert rec["ci_low"] <= rec["ci_high"]
        assert (rec["n_synthetic"], rec["n_real"]) == (4, 3)
    assert cells[("meanvar", 0)]["generator_plugin"] == "example-meanvar"
    for seed in (0, 1):  # the voxel-statistics model matches brain intensity; bright noise does not
        assert cells[("meanvar", seed)]["value"] < 0.1 < 0.2 < cells[("bright-noise", seed)]["value"]
