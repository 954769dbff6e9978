"""Globs and links: `benchgen evaluate` with ``**`` never follows folder links — a self-link does not count
files again and a link to a parent does not hang — and every file is counted once by its resolved path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.score.evaluate import collect_files
from tests.data.badfiles import brain_like, save

ROOT = Path(__file__).resolve().parents[2]


def tree_with_links(root: Path, n: int = 3, parent_link: bool = True) -> Path:
    for i in range(n):
        volume = np.clip(brain_like(shape=(8, 12, 8), seed=i), 0, 1)  # metrics expect [0, 1]
        save(root / ("sub" if i % 2 else "") / f"v{i}.nii.gz", volume)
    (root / "sub" / "self").symlink_to(root / "sub")  # a folder that contains itself
    (root / "sub" / "deep").mkdir()
    if parent_link:  # in-process only where a hang cannot stall the test session (see count_in_subprocess)
        (root / "sub" / "deep" / "up").symlink_to(root)  # a link to a parent: an endless tree when followed
    (root / "again.nii.gz").symlink_to(root / "v0.nii.gz")  # the same file under a second name
    return root


def count_in_subprocess(pattern: str, timeout: float = 60) -> tuple[int, float]:
    code = "import sys; from benchgen.score.evaluate import collect_files; print(len(collect_files(sys.argv[1])))"
    start = time.monotonic()
    try:
        out = subprocess.run([sys.executable, "-c", code, pattern], capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"collect_files({pattern!r}) did not finish in {timeout} s")
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip()), time.monotonic() - start


def test_a_self_link_and_a_parent_link_count_each_file_once(tmp_path):
    root = tree_with_links(tmp_path / "real")
    n, seconds = count_in_subprocess(f"{root}/**/*.nii.gz")
    assert n == 3 and seconds < 60
    files = collect_files(f"{root}/**/*.nii.gz")
    assert [f.relative_to(root).as_posix() for f in files] == ["sub/v1.nii.gz", "v0.nii.gz", "v2.nii.gz"]
    assert len({f.resolve() for f in files}) == len(files)


def test_glob_semantics_are_kept(tmp_path):
    root = tree_with_links(tmp_path / "real", parent_link=False)
    save(root / ".hidden" / "h.nii.gz", brain_like(shape=(8, 12, 8)))
    save(root / ".tmp-partial.nii.gz", brain_like(shape=(8, 12, 8)))
    rel = lambda files: [f.relative_to(root).as_posix() for f in files]  # noqa: E731
    assert rel(collect_files(f"{root}/*.nii.gz")) == ["v0.nii.gz", "v2.nii.gz"]  # one level; the alias is v0
    assert rel(collect_files(f"{root}/sub/*.nii.gz")) == ["sub/v1.nii.gz"]
    assert rel(collect_files(f"{root}/s?b/**")) == ["sub/v1.nii.gz"]
    assert rel(collect_files(f"{root}/.hidden/*.nii.gz")) == [".hidden/h.nii.gz"]  # named explicitly
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert [str(f) for f in collect_files("**/v*.nii.gz")] == ["sub/v1.nii.gz", "v0.nii.gz", "v2.nii.gz"]
    finally:
        os.chdir(cwd)


def test_evaluate_with_double_star_counts_each_volume_once(tmp_path):
    real = tree_with_links(tmp_path / "real", parent_link=False)
    syn = tree_with_links(tmp_path / "syn", parent_link=False)
    res = CliRunner().invoke(load_commands(), ["evaluate", f"{real}/**/*.nii.gz", f"{syn}/**/*.nii.gz",
                                               "--metric", "mmd", "--format", "json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["n_real"] == 3 and payload["n_synthetic"] == 3


@pytest.mark.parametrize("as_glob", [True, False], ids=["glob", "folder"])
def test_the_nifti_folder_source_lists_each_file_once(tmp_path, as_glob):
    from benchgen import registry

    root = tree_with_links(tmp_path / "scans")
    source = registry.create("datasets", "nifti-folder", {"path": f"{root}/**/*.nii.gz" if as_glob else str(root)})
    start = time.monotonic()
    names = sorted(Path(f).name for f in source.files())
    assert time.monotonic() - start < 10
    # a folder is listed by pathlib, whose ** follows no links either; the alias is then a duplicate-content item
    assert names == (["v0.nii.gz", "v1.nii.gz", "v2.nii.gz"] if as_glob else
                     ["again.nii.gz", "v0.nii.gz", "v1.nii.gz", "v2.nii.gz"])



SPECIAL = {"dangling.nii.gz": "no such file", "dev.nii.gz": "not a regular file", "fifo.nii.gz": "not a regular file"}


def with_special_entries(root: Path) -> Path:
    """A good scan, then a FIFO (reading it would block for ever), a link to a device (reading it would never
    end) and a dangling link, each with a NIfTI name (see SPECIAL)."""
    save(root / "ok.nii.gz", np.clip(brain_like(shape=(8, 12, 8)), 0, 1))
    os.mkfifo(root / "fifo.nii.gz")
    (root / "dev.nii.gz").symlink_to("/dev/zero")
    (root / "dangling.nii.gz").symlink_to(root / "gone.nii.gz")
    return root


@pytest.mark.parametrize("as_glob", [False, True], ids=["folder", "glob"])
def test_evaluate_names_special_files_and_dangling_links(tmp_path, as_glob):
    """`evaluate` lists input files like `preprocess` (`benchgen.safety.file_problem`): a FIFO, a device or a
    dangling link is named in one line, never skipped without a word."""
    real = tree_with_links(tmp_path / "real", n=2, parent_link=False)
    syn = with_special_entries(tmp_path / "syn")
    spec = f"{syn}/*.nii.gz" if as_glob else str(syn)
    res = CliRunner().invoke(load_commands(), ["evaluate", str(real), spec, "--metric", "mmd"])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and f"{syn / 'dangling.nii.gz'}: no such file" in lines[0], res.output


def test_preprocess_names_the_same_entries_for_the_same_reasons(tmp_path):
    from benchgen.data.preprocessing import preprocess_folder
    from benchgen.safety import file_problem

    syn = with_special_entries(tmp_path / "syn")
    report = preprocess_folder(syn, tmp_path / "out", chain="scale-01", target_shape=(8, 12, 8))
    named = {Path(f.path).name: f.reason for f in report.failures}
    assert sorted(named) == sorted(SPECIAL)
    for name, reason in SPECIAL.items():
        assert reason in named[name] and file_problem(syn / name) == reason
    assert file_problem(syn / "ok.nii.gz") is None
