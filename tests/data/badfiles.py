"""Real NIfTI files written by nibabel, some deliberately broken, for the bad-file tests."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np


def brain_like(shape=(24, 28, 22), seed=0) -> np.ndarray:
    """A smooth blob with noise: non-constant, finite, zero background."""
    rng = np.random.default_rng(seed)
    idx = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    r2 = (idx ** 2).sum(0)
    img = np.where(r2 < 0.8, 1.0 + 0.3 * np.cos(4 * idx[0]) + 0.05 * rng.standard_normal(shape), 0.0)
    return img.astype(np.float32)


def save(path: Path, array: np.ndarray, affine: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    aff = np.diag([4.0, 4.0, 4.0, 1.0]) if affine is None else affine
    aff = aff.copy()
    if affine is None:
        aff[:3, 3] = [-48.0, -56.0, -44.0]
    nib.save(nib.Nifti1Image(array, aff), str(path))
    return path


def make_mixed_folder(root: Path, n_good: int = 3) -> dict[str, Path]:
    """Good scans plus one file per failure kind; returns {kind: path}."""
    files: dict[str, Path] = {}
    for i in range(n_good):
        files[f"good{i}"] = save(root / f"good{i}.nii.gz", brain_like(seed=i))
    # truncated .nii.gz: a valid file cut in half
    t = save(root / "truncated.nii.gz", brain_like(seed=10))
    data = t.read_bytes()
    t.write_bytes(data[: len(data) // 2])
    files["truncated"] = t
    # corrupted bytes inside a gzip stream (CRC / inflate error)
    c = save(root / "corrupt.nii.gz", brain_like(seed=11))
    raw = bytearray(c.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 64] = bytes((b ^ 0xFF) for b in raw[mid:mid + 64])
    c.write_bytes(bytes(raw))
    files["corrupt"] = c
    # not a NIfTI at all (gzip of text, and plain text)
    n = root / "notnifti.nii.gz"
    with gzip.open(n, "wb") as f:
        f.write(b"this is not an image\n" * 50)
    files["notnifti"] = n
    p = root / "plaintext.nii"
    p.write_text("hello\n")
    files["plaintext"] = p
    files["2d"] = save(root / "twod.nii.gz", brain_like((24, 28, 1))[:, :, 0] + 1.0)
    files["slice"] = save(root / "slice.nii.gz", brain_like((24, 28, 1)) + 1.0)
    vol4 = np.stack([brain_like(seed=20), brain_like(seed=21)], axis=-1)
    files["4d"] = save(root / "fourd.nii.gz", vol4)
    nan = brain_like(seed=30)
    nan[5, 5, 5] = np.nan
    nan[6, 6, 6] = np.inf
    files["nan"] = save(root / "nan.nii.gz", nan)
    files["zero"] = save(root / "zero.nii.gz", np.zeros((24, 28, 22), np.float32))
    files["constant"] = save(root / "constant.nii.gz", np.full((24, 28, 22), 7.0, np.float32))
    files["voxel"] = save(root / "hugevoxel.nii.gz", brain_like(seed=40), np.diag([500.0, 500.0, 500.0, 1.0]))
    sing = np.diag([4.0, 4.0, 4.0, 1.0])
    sing[:3, 2] = sing[:3, 0]  # two voxel axes point the same way: singular
    files["singular"] = save(root / "singular.nii.gz", brain_like(seed=41), sing)
    d = root / "folder.nii.gz"  # a folder with a NIfTI name: unreadable as a file
    d.mkdir()
    files["unreadable"] = d
    dup = root / "dupcopy.nii.gz"  # the same bytes as good0
    shutil.copyfile(files["good0"], dup)
    files["duplicate"] = dup
    return files


# substring expected in each failure reason
EXPECTED = {
    "truncated": "not a readable NIfTI",
    "corrupt": "not a readable NIfTI",
    "notnifti": "not a readable NIfTI",
    "plaintext": "not a readable NIfTI",
    "2d": "2D",
    "slice": "2D image",
    "4d": "4D image with 2 volumes",
    "nan": "NaN or Inf",
    "zero": "all-zero",
    "constant": "constant image",
    "voxel": "absurd voxel size",
    "singular": "singular",
    "unreadable": "unreadable",
    "duplicate": "duplicate",
}
