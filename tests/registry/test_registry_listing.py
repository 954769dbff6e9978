"""`benchgen list` reads every plugin's description from its source file and imports none of them;
`--check` imports each one; `benchgen list NAME` shows one plugin in detail, with its params."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from benchgen import registry

REPO = Path(__file__).resolve().parents[2]

LIST_AND_REPORT = """
import json, sys
out = sys.argv[1]
from benchgen.cli import main
sys.argv = ["benchgen", "list", "--format", "json"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
from benchgen import registry
tops = sorted({e.value.partition(":")[0].strip().split(".")[0] for e in registry.all_entries()})
imported = sorted(m for m in sys.modules if m.split(".")[0] in tops)
with open(out, "w") as f:
    json.dump({"tops": tops, "imported": imported, "torch": "torch" in sys.modules}, f)
"""


def cli():
    import benchgen.cli

    for name in benchgen.cli.COMMAND_MODULES:
        __import__(f"benchgen.cli.{name}")
    return benchgen.cli.app


def invoke(*args: str):
    return CliRunner().invoke(cli(), list(args))


def test_listing_imports_no_plugin_module(other_ddpm_site, tmp_path):
    """In a fresh interpreter, with the built-ins and a really installed third-party package."""
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(other_ddpm_site), os.environ.get("PYTHONPATH", "")]),
           "BENCHGEN_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", LIST_AND_REPORT, str(report)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(report.read_text())
    plugin_packages = {"benchgen_ddpm", "benchgen_metrics", "benchgen_data", "benchgen_baselines", "other_ddpm"}
    assert plugin_packages <= set(seen["tops"])
    assert seen["imported"] == [], "benchgen list imported plugin modules"
    assert not seen["torch"], "benchgen list imported torch: some module on the listing path imports it at top level"
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert all(r["status"] == "available" for r in rows.values() if r["name"] != "other-dist:ddpm")
    assert all(r["doc"] for r in rows.values() if r["distribution"] == "benchgen"), "a built-in without a docstring"
    assert rows["ddpm"]["doc"].startswith("3D denoising diffusion model")
    assert rows["crop-pad"]["doc"].startswith("Crop and zero-pad")  # re-exported by benchgen_data/steps/__init__.py
    theirs = rows["other-dist:ddpm"]
    assert (theirs["status"], theirs["distribution"], theirs["plugin_version"]) == ("shadowed", "other-dist", "7")
    assert theirs["doc"] == 'Another lab\'s "DDPM": the training mean, every time.'


def test_source_docstrings_and_versions_match_the_imported_classes():
    registry.refresh()
    for e in registry.all_entries():
        info = e.source()
        cls = registry.load_entry(e)
        assert info.doc == inspect.cleandoc(cls.__doc__ or ""), f"{e.kind} {e.ref}: docstring read from source differs"
        assert info.version in (None, cls.version), f"{e.kind} {e.ref}: version read from source differs"


def test_list_reads_sources_and_check_imports_every_plugin(inject, ep, dist_eps, tmp_path):
    eps = dist_eps(tmp_path, "acme-braingen", "0.3.1", {"generators": {"acme": "bg_fake_broken:Gen"}})
    eps += [ep("const", "bg_fake_good:ConstGenerator"), ep("gap", "bg_fake_good:MeanGap", "metrics")]
    inject(eps)
    res = invoke("list", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert [r["name"] for r in json.loads(res.stdout)] == ["acme", "const", "gap"]  # kind order, then name
    assert {n: r["status"] for n, r in rows.items()} == {"acme": "available", "const": "available", "gap": "available"}
    assert rows["const"]["doc"] == "Every voxel equals `level`." and rows["acme"]["doc"] == ""
    assert not [m for m in sys.modules if m.startswith("bg_fake_")], "listing imported a plugin"

    res = invoke("list", "--check", "--format", "json")
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {n: r["status"] for n, r in rows.items()} == {"acme": "broken", "const": "loaded", "gap": "loaded"}
    assert rows["acme"]["error"] == "ImportError: needs libfoo.so, which is not installed"
    res = invoke("list", "--check", "--kind", "generators")
    assert res.exit_code == 0 and "needs libfoo.so" in res.stdout and "gap" not in res.stdout


def test_list_name_shows_one_plugin_with_its_params(inject, ep, dist_eps, tmp_path):
    eps = dist_eps(tmp_path / "a", "acme-braingen", "0.3.1", {"generators": {"acme": "bg_fake_broken:Gen"}})
    eps += dist_eps(tmp_path / "b", "brainlab-gen", "1.0", {"generators": {"twin": "bg_fake_good:ConstGenerator"}})
    eps += dist_eps(tmp_path / "c", "otherlab-gen", "2.0", {"generators": {"twin": "bg_fake_good:OtherConstGenerator"}})
    eps += [ep("const", "bg_fake_good:ConstGenerator")]
    inject(eps)
    res = invoke("list", "const")
    assert res.exit_code == 0, res.output
    lines = [line.strip() for line in res.stdout.splitlines()]
    assert lines[0] == "generator const"
    assert "entry point   bg_fake_good:ConstGenerator" in lines and "status        loaded" in lines
    assert "Every voxel equals `level`." in lines
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in res.stdout.splitlines() if "│" in line]
    assert cells == [["level", "float", "0.5"], ["smooth", "bool", "False"]], res.stdout
    [detail] = json.loads(invoke("list", "const", "--format", "json").stdout)
    assert (detail["kind"], detail["name"], detail["distribution"], detail["status"]) == \
        ("generators", "const", "?", "loaded")
    assert detail["params"] == [{"name": "level", "type": "float", "default": 0.5},
                                {"name": "smooth", "type": "bool", "default": False}]

    [broken] = json.loads(invoke("list", "acme", "--format", "json").stdout)
    assert broken["status"] == "broken" and "needs libfoo.so" in broken["error"] and broken["params"] is None
    assert 'bg_fake_broken.py", line 3' in broken["details"]

    twins = json.loads(invoke("list", "twin", "--format", "json").stdout)  # ambiguous: both are shown
    assert [(d["name"], d["status"]) for d in twins] == [("brainlab-gen:twin", "conflict"),
                                                         ("otherlab-gen:twin", "conflict")]
    assert twins[0]["also"] == ["otherlab-gen 2.0 as 'otherlab-gen:twin'"]

    res = invoke("list", "cosnt")
    assert res.exit_code == 2 and "error: no plugin named 'cosnt'" in res.output
    assert "did you mean 'const'" in res.output
    res = invoke("list", "const", "--kind", "metrics")
    assert res.exit_code == 2 and "unknown metric plugin 'const'" in res.output
