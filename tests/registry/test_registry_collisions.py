"""Name collisions: the built-in keeps the plain name, the other entry is shadowed and reachable as
`dist:name`; two third-party distributions sharing a name need qualified names (see also
test_registry_entry_points.py). Driven by constructed entry points and by a really pip-installed
distribution (`other-dist`, see conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen import registry
from benchgen.errors import PluginError
from benchgen.registry import ShadowedPluginWarning

REPO = Path(__file__).resolve().parents[2]
HEALTHY = REPO / "benchmarks" / "healthy_t1.toml"
WARNING = ("warning: generator 'ddpm' is also registered by other-dist 1.0; the built-in is used, "
           "the other is 'other-dist:ddpm'")
BUILTIN = "bg_fake_good:ConstGenerator"
OTHER = "bg_fake_good:OtherConstGenerator"


def cli():
    import benchgen.cli

    for name in benchgen.cli.COMMAND_MODULES:
        __import__(f"benchgen.cli.{name}")
    return benchgen.cli.app


def test_builtin_keeps_the_plain_name_the_other_is_shadowed(inject, dist_eps, tmp_path):
    # the third party first on sys.path: the order must not matter
    eps = dist_eps(tmp_path / "b", "Other_Dist", "1.0", {"generators": {"ddpm": OTHER}})
    eps += dist_eps(tmp_path / "a", "benchgen", "0.1.0", {"generators": {"ddpm": BUILTIN}})
    inject(eps)
    assert registry.names("generators") == ["ddpm", "other-dist:ddpm"]
    ours, theirs = registry.entries("generators")["ddpm"], registry.entries("generators")["other-dist:ddpm"]
    assert (ours.distribution, ours.status, ours.shadowed_by) == ("benchgen", "available", None)
    assert (theirs.distribution, theirs.status, theirs.shadowed_by) == ("Other_Dist", "shadowed", "benchgen 0.1.0")
    assert theirs.note == "the built-in 'ddpm' (benchgen 0.1.0) keeps the plain name; this one is 'other-dist:ddpm'"
    assert not {"bg_fake_good"} & set(sys.modules)

    message = ("generator 'ddpm' is also registered by Other_Dist 1.0; the built-in is used, "
               "the other is 'other-dist:ddpm'")
    with pytest.warns(ShadowedPluginWarning) as caught:
        assert registry.load_class("generators", "ddpm").__name__ == "ConstGenerator"
    assert [str(w.message) for w in caught] == [message]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: using the name again is silent
        assert registry.create("generators", "ddpm").name == "ddpm"
        for spelling in ("other-dist:ddpm", "Other_Dist:ddpm", "other.dist:ddpm", "OTHER-DIST:ddpm"):
            assert registry.load_class("generators", spelling).__name__ == "OtherConstGenerator"
            assert registry.resolve("generators", spelling) == "other-dist:ddpm"
            gen = registry.create("generators", spelling, {"level": 0.2})
            assert (type(gen).__name__, gen.name, gen.params.level) == ("OtherConstGenerator", "other-dist:ddpm", 0.2)
        builtin = registry.create("generators", "benchgen:ddpm")  # the built-in's qualified name works too
        assert (type(builtin).__name__, builtin.name) == ("ConstGenerator", "benchgen:ddpm")
    assert registry.warnings() == [message]


def test_qualified_names_that_match_nothing_say_what_exists(inject, dist_eps, tmp_path):
    eps = dist_eps(tmp_path / "a", "benchgen", "0.1.0", {"generators": {"ddpm": BUILTIN}})
    eps += dist_eps(tmp_path / "b", "other-dist", "1.0", {"generators": {"ddpm": OTHER}})
    inject(eps)
    with pytest.raises(PluginError) as exc:
        registry.load_class("generators", "nobody:ddpm")
    assert exc.value.message == "unknown generator plugin 'nobody:ddpm': no distribution 'nobody' registers 'ddpm'"
    assert exc.value.hint == "'ddpm' is registered by benchgen as 'ddpm', other-dist as 'other-dist:ddpm'"
    with pytest.raises(PluginError) as exc:
        registry.load_class("generators", "other-dist:dpm")
    assert exc.value.hint == "did you mean 'other-dist:ddpm'?"
    with pytest.raises(PluginError, match="unknown metric plugin 'other-dist:ddpm'"):
        registry.load_class("metrics", "other-dist:ddpm")


@pytest.mark.filterwarnings("ignore::benchgen.registry.ShadowedPluginWarning")  # asserted below
def test_a_suite_can_name_the_shadowed_plugin_and_records_keep_the_qualified_name(
        inject, dist_eps, tmp_path, monkeypatch):
    from benchgen.fit.saving import load_checkpoint
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite
    from tests.core import fakes
    from tests.core.conftest import SUITE

    monkeypatch.setitem(sys.modules, "benchgen_testfakes", fakes)
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    spec = {"datasets": {"blobs": "Blobs"}, "preprocessors": {"identity": "Identity"},
            "generators": {"mean": "MeanGen"}, "metrics": {"meandiff": "MeanDiff"}}
    eps = dist_eps(tmp_path / "a", "benchgen", "0.1.0",
                   {kind: {n: f"benchgen_testfakes:{c}" for n, c in t.items()} for kind, t in spec.items()})
    eps += dist_eps(tmp_path / "b", "other-dist", "1.0", {"generators": {"mean": "benchgen_testfakes:MeanGen"}})
    inject(eps)
    text = SUITE.replace('[generators.bad]\nplugin = "mean"', '[generators.bad]\nplugin = "Other_Dist:mean"')
    assert text != SUITE
    path = tmp_path / "toy.toml"
    path.write_text(text)
    suite = load_suite(path, profile="default")
    assert suite.generators["good"].plugin == "mean"
    assert suite.generators["bad"].plugin == "other-dist:mean"  # recorded in its normalised spelling
    assert suite.generators["bad"].config()["plugin"] == "other-dist:mean"
    summary = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert summary.ok, summary.errors
    store = ResultStore(tmp_path / "r.sqlite")
    records = store.records(suite="toy")
    store.close()
    assert {(r["generator"], r["generator_plugin"]) for r in records} == {("good", "mean"), ("bad", "other-dist:mean")}
    [ckpt] = [p for p in (tmp_path / "home").rglob("generator.json") if "other-dist:mean" in str(p)]
    gen, meta = load_checkpoint(ckpt.parent)
    assert gen.name == meta["plugin"] == "other-dist:mean"
    assert registry.warnings() == ["generator 'mean' is also registered by other-dist 1.0; the built-in is used, "
                                   "the other is 'other-dist:mean'"]


def test_validate_the_main_benchmark_with_an_injected_shadowing_ddpm(inject, dist_eps, tmp_path):
    inject(registry.installed_entry_points()
           + dist_eps(tmp_path, "other-dist", "1.0", {"generators": {"ddpm": OTHER}}))
    res = CliRunner().invoke(cli(), ["validate", str(HEALTHY)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"{HEALTHY}: ok · healthy_t1")
    assert res.stderr.splitlines() == [WARNING]  # one line, once
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(cli(), ["list", "--format", "json"]).stdout)}
    assert (rows["ddpm"]["distribution"], rows["other-dist:ddpm"]["status"]) == ("benchgen", "shadowed")
    assert rows["other-dist:ddpm"]["error"].endswith("this one is 'other-dist:ddpm'")


def run_cli(args: list[str], site: Path, home: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`benchgen ARGS` in a fresh interpreter that sees the distributions installed in `site`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "BENCHGEN_HOME": str(home), "NO_COLOR": "1"}
    env.pop("BENCHGEN_CACHE", None)
    return subprocess.run([sys.executable, "-c", "from benchgen.cli import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_validate_the_main_benchmark_with_a_really_installed_shadowing_ddpm(other_ddpm_site, tmp_path):
    proc = run_cli(["validate", "benchmarks/healthy_t1.toml"], other_ddpm_site, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("benchmarks/healthy_t1.toml: ok · healthy_t1")
    assert proc.stderr.splitlines() == [WARNING]



@pytest.mark.filterwarnings("ignore::benchgen.registry.ShadowedPluginWarning")  # asserted below
def test_a_really_installed_shadowed_plugin_is_used_by_its_qualified_name(other_ddpm_site, monkeypatch, tmp_path,
                                                                         fresh_warnings):
    from benchgen.suite.load import load_suite

    monkeypatch.syspath_prepend(str(other_ddpm_site))
    registry.refresh()
    try:
        path = tmp_path / "theirs.toml"  # the main benchmark plus the other lab's generator, by its qualified name
        theirs = '[generators.theirs]\nplugin = "other-dist:ddpm"\n\n[evaluation]\n'
        path.write_text(HEALTHY.read_text().replace("[evaluation]\n", theirs, 1))
        suite = load_suite(path, profile="quick")
        assert {label: spec.plugin for label, spec in suite.generators.items()}["theirs"] == "other-dist:ddpm"
        assert suite.generators["ddpm"].plugin == "ddpm"
        assert type(suite.generators["theirs"].build()).__name__ == "OtherDDPM"
        assert registry.warnings() == [WARNING.removeprefix("warning: ")]
        entry = registry.entries("generators")["other-dist:ddpm"]
        assert (entry.distribution, entry.dist_version, entry.status) == ("other-dist", "1.0", "shadowed")
        assert entry.source().doc == 'Another lab\'s "DDPM": the training mean, every time.'
        gen = registry.create("generators", "other-dist:ddpm")
        assert (type(gen).__name__, gen.name, gen.version) == ("OtherDDPM", "other-dist:ddpm", "7")
        assert registry.entries("generators")["ddpm"].distribution == "benchgen"
    finally:
        monkeypatch.undo()
        for mod in [m for m in sys.modules if m == "other_ddpm" or m.startswith("other_ddpm.")]:
            del sys.modules[mod]
        registry.refresh()
