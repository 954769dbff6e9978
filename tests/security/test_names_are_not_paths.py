"""Names are not paths: hostile labels, suite names and manifest subject ids never write outside the folders
benchgen owns (a listing of the whole temporary tree before and after proves it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.data.preprocessing import preprocess_folder
from benchgen.data.preprocessing.export import export_dataset
from benchgen.errors import ConfigError
from benchgen.safety import inside
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE
from tests.data.badfiles import brain_like, save


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("old, new", [
    ("[generators.good]", '[generators."/tmp/x"]'),
    ("[generators.good]", '[generators."../../../../escaped"]'),
    ('name = "toy"', 'name = "../../../../escaped_suite"'),
    ("[evaluation.metrics.meandiff]", '[evaluation.metrics."../m"]\nplugin = "meandiff"'),
    ("[profiles.quick]", '[profiles."../q"]'),
])
def test_hostile_names_are_refused_before_any_work(fake_registry, suite_file, home, tmp_path, old, new):
    path = suite_file(SUITE.replace(old, new, 1))
    before = tree(tmp_path)
    with pytest.raises(ConfigError, match="is not a valid name"):
        load_suite(path, "default")
    res = CliRunner().invoke(load_commands(), ["run", str(path), "--profile", "default",
                                               "--results", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 2 and "not a valid name" in res.output
    assert tree(tmp_path) == before  # nothing written anywhere (no store, no home)


def _manifest(tmp_path: Path, subject: str) -> Path:
    save(tmp_path / "in" / "a.nii.gz", brain_like(seed=1))
    save(tmp_path / "in" / "b.nii.gz", brain_like(seed=2))
    m = tmp_path / "in" / "m.csv"
    m.write_text(f"path,subject\na.nii.gz,{subject}\nb.nii.gz,good\n")
    return m


@pytest.mark.parametrize("subject", ["sub-x/../../../../ESCAPE", "../../ESCAPE", "a\\..\\b", "..", ".hidden"])
def test_hostile_subject_ids_fail_alone_in_export_and_preprocess(tmp_path, monkeypatch, subject):
    from benchgen import registry

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "out" / "home"))  # the owned roots are all under out/
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    m = _manifest(tmp_path, subject)
    outside = tree(tmp_path)
    src = registry.create("datasets", "manifest", {"path": str(m)})
    report = export_dataset(src, tmp_path / "out" / "flat", layout="flat")
    assert [f.subject_id for f in report.failures] == [subject]
    assert [p.name for p in report.written] == ["sub-good_T1w.nii.gz"]
    rep = preprocess_folder(m, tmp_path / "out" / "prep", chain="scale-01", target_shape=(24, 28, 22))
    assert [f.subject_id for f in rep.failures] == [subject] and len(rep.processed) == 1
    written = tree(tmp_path) - outside
    assert written and all(w == "out" or w.startswith("out" + os.sep) for w in written), sorted(written)


def test_inside_refuses_paths_that_resolve_elsewhere(tmp_path):
    assert inside(tmp_path, "a", "b.nii.gz") == (tmp_path / "a" / "b.nii.gz").resolve()
    for parts in (("..", "x"), ("/etc/passwd",), ("a/../../x",)):
        with pytest.raises(Exception, match="resolves outside"):
            inside(tmp_path, *parts)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(Exception, match="resolves outside"):
        inside(tmp_path, "link", "x")
