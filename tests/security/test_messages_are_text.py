"""Messages are text, not markup: what a user's file or path says reaches the terminal verbatim — rich
markup neither eats ``[suite]`` nor chokes on a path containing ``[/x]``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from benchgen.cli import load_commands
from tests.data.badfiles import brain_like, save
from tests.suites import tiny_suite


def nifti_suite(path: Path) -> str:
    return tiny_suite("texts", generators=["noise"], evaluation={"n_samples": 2},
                      dataset={"source": "nifti-folder", "split": {"train": 0.5, "test": 0.5},
                               "params": {"path": str(path)}})



def invoke(*args: str):
    return CliRunner().invoke(load_commands(), list(args))


def test_a_missing_table_keeps_its_brackets(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[dataset]\nsource = "phantom"\n')
    res = invoke("validate", str(suite))
    assert res.exit_code == 2
    assert "missing required table [suite]" in res.output


def test_a_path_with_closing_tag_syntax_is_printed_verbatim(tmp_path):
    odd = tmp_path / "a[" / "x]" / "[bold]b"
    odd.mkdir(parents=True)
    suite = odd / "none.toml"
    assert "[/x]" in str(suite)
    res = invoke("validate", str(suite))
    assert res.exit_code == 2, res.output  # not 1 from a MarkupError inside the printer
    assert f"{suite}: no such suite file" in res.output
    assert "MarkupError" not in res.output


def test_a_hint_is_text_too(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(nifti_suite(tmp_path / "none"))
    res = invoke("validate", str(suite), "--profile", "[bold]quick")
    assert res.exit_code == 2
    assert "unknown profile '[bold]quick'" in res.output


def test_an_excluded_4d_scan_keeps_its_table_name(tmp_path):
    four_d = np.stack([brain_like(seed=1), brain_like(seed=2)], axis=-1)
    save(tmp_path / "scans" / "only4d.nii.gz", four_d)
    suite = tmp_path / "s.toml"
    suite.write_text(nifti_suite(tmp_path / "scans"))
    res = invoke("train", str(suite), "-g", "noise", "--quiet")
    assert res.exit_code == 2, res.output
    assert "(or first_volume = true in [dataset]) to use the first" in res.output
    assert str(tmp_path / "scans" / "only4d.nii.gz") in res.output


def test_run_logs_an_excluded_scan_verbatim(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    for i in range(6):
        save(tmp_path / "scans" / f"s{i}.nii.gz", brain_like(seed=i))
    save(tmp_path / "scans" / "t4d.nii.gz", np.stack([brain_like(seed=9)] * 2, axis=-1))
    suite = tmp_path / "s.toml"
    suite.write_text(nifti_suite(tmp_path / "scans"))
    res = invoke("run", str(suite))
    assert res.exit_code == 0, res.output
    assert "first_volume = true in [dataset]" in " ".join(res.output.split())
    assert Path(tmp_path / "home" / "results.sqlite").is_file()


def test_stored_labels_render_verbatim_on_the_board(tmp_path):
    from benchgen.results.store import ResultStore
    from tests.core.test_store import make_record

    st = ResultStore(tmp_path / "r.sqlite")  # a store written by an older benchgen that did not check names
    st.put(make_record("k", generator="gen[/x]", suite="[bold]s"))
    st.close()
    res = invoke("leaderboard", "--results", str(tmp_path / "r.sqlite"))
    assert res.exit_code == 0, res.output
    assert "gen[/x]" in res.output and "[bold]s" in res.output
