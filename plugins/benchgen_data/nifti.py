"""Reading NIfTI scans for the file-based sources: the first volume of a 4D file is read and its
volume count recorded, so the driver can reject it unless ``--first-volume`` is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchgen.data.qc import add_qc
from benchgen.errors import DataError
from benchgen.volumes import Volume

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_name(name: str) -> bool:
    low = name.lower()
    return not name.startswith(".") and low.endswith(NIFTI_SUFFIXES)


def strip_nifti_suffix(name: str) -> str:
    low = name.lower()
    for suffix in (".nii.gz", ".nii"):
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _image_from_file(path: Path):
    """The nibabel image of a .nii or .nii.gz file: its header's declared size checked against the voxel cap
    and the file before any voxel is read, a gzip stream decompressed to its end in bounded chunks so its CRC
    is checked (nibabel alone stops at the last data byte and would accept corrupted data whose bytes still
    decode); see :mod:`benchgen.bounds`."""
    from benchgen.bounds import read_nifti_image

    return read_nifti_image(path)


def load_nifti(path: str | Path) -> Volume:
    """A 3D float32 volume (the first volume of a 4D file, marked with its count) or a one-line
    DataError naming the file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: unreadable (a folder, not a file)")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    img = _image_from_file(path)
    shape = tuple(int(s) for s in img.shape)
    try:
        if len(shape) == 4:
            array = np.asarray(img.dataobj[..., 0], dtype=np.float32)
        else:
            array = np.asarray(img.dataobj, dtype=np.float32)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:  # data shorter than the header says, bad datatype, ...
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise DataError(f"{path}: not a readable NIfTI file ({reason})") from None
    if len(shape) > 4 or array.ndim < 3:
        raise DataError(f"{path}: expected a 3D image, got {len(shape)}D with shape {shape}")
    volume = Volume(array, affine, subject_id=strip_nifti_suffix(path.name), source=str(path))
    if len(shape) == 4 and shape[3] > 1:
        add_qc(volume, n_volumes=shape[3])
    return volume
