"""Tiny, deterministic inputs for plugin checks: brain-like volumes and cohorts, a raw scanner-like
volume, small NIfTI / BIDS / manifest folders, and a pickle detector for checkpoints.

Everything here is seeded and fast (8×12×8 voxels by default), so a plugin's own test suite can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from benchgen.volumes import Cohort, Volume, write_nifti

SHAPE: tuple[int, int, int] = (8, 12, 8)  # D×H×W of the tiny cohorts the checks fit and score on

RAW_SHAPE: tuple[int, int, int] = (31, 37, 31)  # 6 mm voxels covering the MNI box (181×217×181 mm)
MNI_6MM = np.array([[6.0, 0, 0, -90], [0, 6.0, 0, -126], [0, 0, 6.0, -72], [0, 0, 0, 1]])
FILE_AFFINE = np.diag([6.0, 6.0, 6.0, 1.0])  # the affine of the tiny NIfTI files written below


def brain_like(n: int, seed: int, shape: tuple[int, int, int] = SHAPE) -> torch.Tensor:
    """``n×1×D×H×W`` float32 in [0, 1]: a bright ellipsoid 'brain' with a darker core and a little noise,
    its size, position and contrast varying per volume, zero background (like skull-stripped scans)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    out = np.zeros((n, 1, *shape), np.float32)
    for i in range(n):
        centre = rng.normal(0, 0.05, 3)[:, None, None, None]
        radii = rng.uniform(0.7, 0.9, 3)[:, None, None, None]
        r = np.sqrt((((grid - centre) / radii) ** 2).sum(0))
        brain = r < 1
        vol = np.where(r < rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.5), rng.uniform(0.6, 0.9))
        vol = vol + rng.normal(0, 0.03, shape)
        out[i, 0] = np.clip(np.where(brain, vol, 0.0), 0, 1)
    return torch.from_numpy(out)


# The condition labels of the cohorts a conditional generator is checked on (in turn, scan by scan).
CONDITIONS: tuple[str, ...] = ("healthy", "ftd-like")


def tiny_cohort(n: int, seed: int, prefix: str, shape: tuple[int, int, int] = SHAPE,
                conditions: Sequence[str] = ()) -> Cohort:
    """A :class:`Cohort` of `n` brain-like volumes with subject ids ``<prefix>-00``… and age/sex metadata (and a
    ``condition``, cycling through `conditions`, when given)."""
    meta: list[dict[str, Any]] = [{"age": 40.0 + i, "sex": "F" if i % 2 else "M"} for i in range(n)]
    if conditions:
        meta = [{**m, "condition": conditions[i % len(conditions)]} for i, m in enumerate(meta)]
    return Cohort(brain_like(n, seed, shape), np.diag([4.0, 4.0, 4.0, 1.0]), [f"{prefix}-{i:02d}" for i in range(n)],
                  meta)


def tiny_cohorts(shape: tuple[int, int, int] = SHAPE, conditions: Sequence[str] = ()) -> dict[str, Cohort]:
    """Disjoint tiny splits: train 10, val 6, test 8 (the scoring reference) and a 'synthetic' set of 6."""
    sizes = {"train": (10, 1, "train"), "val": (6, 2, "val"), "test": (8, 3, "test"), "synthetic": (6, 4, "synth")}
    return {split: tiny_cohort(n, seed, prefix, shape, conditions) for split, (n, seed, prefix) in sizes.items()}


def raw_volume() -> Volume:
    """A scanner-like input for preprocessing steps: a brain-shaped blob in raw intensity units (0..~900)
    on a 6 mm MNI-space grid, subject ``sub-contract`` with metadata ``{"age": 50.0}``. A new object
    (and array) on every call, always with the same values."""
    array = brain_like(1, 7, RAW_SHAPE)[0, 0].numpy() * 900.0 + 5.0
    return Volume(array.astype(np.float32), MNI_6MM.copy(), "sub-contract", {"age": 50.0}, source="contract")


def no_pickles(folder: str | Path) -> list[str]:
    """Files under `folder` that are pickles or torch.save zips (a checkpoint must not execute code)."""
    bad = []
    for f in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        head = f.read_bytes()[:4]
        if head[:1] == b"\x80" or head == b"PK\x03\x04":
            bad.append(f.name)
    return bad


# ------------------------------------------------------------------- tiny inputs for dataset sources
def _scans(n: int = 3) -> list[np.ndarray]:
    return [v[0].numpy() * 500.0 for v in brain_like(n, 21, (10, 12, 10))]


def nifti_folder(root: str | Path) -> Path:
    """``root/nifti/subj00.nii.gz``…: three small brain-like scans; returns the folder."""
    folder = Path(root) / "nifti"
    for i, arr in enumerate(_scans()):
        write_nifti(folder / f"subj{i:02d}.nii.gz", arr, FILE_AFFINE)
    return folder


def bids_tree(root: str | Path) -> Path:
    """``root/bids``: a minimal BIDS dataset (three subjects' T1w, participants.tsv with age and sex)."""
    folder = Path(root) / "bids"
    folder.mkdir(parents=True)
    (folder / "dataset_description.json").write_text('{"Name": "contract", "BIDSVersion": "1.8.0"}')
    rows = ["participant_id\tage\tsex"]
    for i, arr in enumerate(_scans()):
        sub = f"sub-{i + 1:02d}"
        write_nifti(folder / sub / "anat" / f"{sub}_T1w.nii.gz", arr, FILE_AFFINE)
        rows.append(f"{sub}\t{40 + i}\t{'F' if i % 2 else 'M'}")
    (folder / "participants.tsv").write_text("\n".join(rows) + "\n")
    return folder


def manifest_csv(root: str | Path) -> Path:
    """``root/manifest.csv`` (subject, path, age, sex) listing the scans of :func:`nifti_folder`."""
    folder = nifti_folder(root)
    lines = ["subject,path,age,sex"]
    lines += [f"s{i},{p},{40 + i},{'F' if i % 2 else 'M'}" for i, p in enumerate(sorted(folder.glob("*.nii.gz")))]
    path = Path(root) / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


# Dataset sources that read files: which tiny input to make for them (by plugin name). A third party can
# add its own: ``FILE_INPUTS["my-source"] = my_maker`` (``maker(root) -> path``), or pass the path param.
FILE_INPUTS: dict[str, Callable[[Path], Path]] = {
    "nifti-folder": nifti_folder, "bids": bids_tree, "manifest": manifest_csv}
# The parameter a file-reading source takes its input from: the first of these its Params has.
PATH_PARAMS: tuple[str, ...] = ("root", "path", "folder", "directory", "dir", "manifest", "file", "csv")
