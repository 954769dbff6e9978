"""Files that declare more than they hold: a NIfTI header claiming gigabytes in a 100-byte file, and a gzip bomb
(a real volume of zeros far above the voxel cap), are one line naming the file — under a memory limit far below
what they claim, so the check happens before any voxel is allocated."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.data.badfiles import brain_like, save

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1536 * 2**20  # address space of the child: benchgen + torch import in ~0.7 GB; the bombs claim 2.5–4 GB


def header_bomb(path: Path, shape=(1200, 1200, 440), dtype=np.float32) -> Path:
    """A .nii.gz of a header alone (~100 bytes) that declares `shape` `dtype`."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(dtype)
    hdr["vox_offset"] = 352
    path.write_bytes(gzip.compress(hdr.binaryblock + b"\x00" * 4))
    return path


def gzip_bomb(path: Path, side: int = 700) -> Path:
    """A real side³ uint8 volume of zeros, gzip-compressed to well under a megabyte (one gzip member per slice:
    gzip readers read concatenated members as one stream)."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((side,) * 3)
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 352
    page = gzip.compress(bytes(side * side), 9)
    path.write_bytes(gzip.compress(hdr.binaryblock + b"\x00" * 4) + page * side)
    return path


def run_limited(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    cli = [sys.executable, "-c", "from benchgen.cli import main; main()"]
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=120, preexec_fn=limit,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)


def error_lines(out: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("error")]


@pytest.fixture
def sets(tmp_path):
    real = tmp_path / "real"
    for i in range(3):
        save(real / f"r{i}.nii.gz", np.clip(brain_like(shape=(8, 12, 8), seed=i), 0, 1))
    return real, tmp_path


@pytest.mark.parametrize("bomb", [header_bomb, gzip_bomb], ids=["header", "gzip"])
def test_evaluate_names_a_bomb_under_a_memory_limit(sets, bomb):
    real, tmp = sets
    syn = tmp / "syn"
    syn.mkdir()
    bad = bomb(syn / "bomb.nii.gz")
    assert bad.stat().st_size < 2**20
    out = run_limited(["evaluate", str(real), str(syn), "--metric", "mmd"], {"BENCHGEN_HOME": str(tmp / "home")})
    assert out.returncode == 2, out.stdout + out.stderr
    lines = error_lines(out)
    assert len(lines) == 1 and str(bad) in lines[0] and "declares" in lines[0], out.stdout + out.stderr
    assert "MemoryError" not in out.stdout + out.stderr


@pytest.mark.parametrize("bomb", [header_bomb, gzip_bomb], ids=["header", "gzip"])
def test_preprocess_names_a_bomb_under_a_memory_limit(sets, bomb):
    real, tmp = sets
    bad = bomb(real / "bomb.nii.gz")
    out = run_limited(["preprocess", str(real), str(tmp / "out"), "--chain", "scale-01", "--shape", "8,12,8"],
                      {"BENCHGEN_HOME": str(tmp / "home")})
    text = out.stdout + out.stderr
    assert "MemoryError" not in text
    assert str(bad.name) in text and "declares" in text, text  # that scan fails alone, named; the others go on
    assert (tmp / "out" / "r0.nii.gz").is_file()


def test_a_file_shorter_than_its_header_declares_is_named(tmp_path):
    from benchgen.volumes import read_nifti

    good = save(tmp_path / "v.nii", brain_like(shape=(8, 12, 8)))
    data = good.read_bytes()
    good.write_bytes(data[: len(data) - 100])
    with pytest.raises(Exception) as info:
        read_nifti(good)
    assert str(good) in str(info.value) and "declares" in str(info.value)


def test_the_voxel_cap_can_be_raised(tmp_path, monkeypatch):
    from benchgen.errors import DataError
    from benchgen.volumes import read_nifti

    f = save(tmp_path / "v.nii.gz", brain_like(shape=(8, 12, 8)))
    monkeypatch.setenv("BENCHGEN_MAX_VOXELS", "100")
    with pytest.raises(DataError, match="more than the 100 voxels"):
        read_nifti(f)
    monkeypatch.setenv("BENCHGEN_MAX_VOXELS", str(8 * 12 * 8))
    assert read_nifti(f).array.shape == (8, 12, 8)


def test_a_later_file_of_another_shape_is_refused_from_its_header(tmp_path, monkeypatch):
    """The set's shape is known after its first file: a later header that declares another is refused before
    its voxels are read."""
    from benchgen.errors import DataError
    from benchgen.score import evaluate as evaluation

    save(tmp_path / "a.nii.gz", brain_like(shape=(8, 12, 8)).clip(0, 1))
    save(tmp_path / "b.nii.gz", brain_like(shape=(8, 12, 9)).clip(0, 1))
    seen: list[Path] = []
    real_read = evaluation.read_nifti
    monkeypatch.setattr(evaluation, "read_nifti", lambda f, *a, **k: seen.append(Path(f)) or real_read(f, *a, **k))
    with pytest.raises(DataError, match="differs from"):
        list(evaluation.checked_volumes(evaluation.collect_files(tmp_path), "real"))
    assert [p.name for p in seen] == ["a.nii.gz"]
