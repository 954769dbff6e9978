"""The records passed between stages, and NIfTI input/output.

* :class:`Volume` — one 3D image with its affine, subject id and metadata (sources and preprocessing).
* :class:`Cohort` — a set of volumes at one shape: an ``N×1×D×H×W`` float32 tensor in [0, 1]
  (RAS orientation, the suite's shape), one shared affine, subject ids and per-subject metadata.
  This is what generators are fitted on and return, and what metrics score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from benchgen.atomic import atomic_path
from benchgen.errors import DataError


@dataclass
class Volume:
    """One 3D image in world space."""

    array: np.ndarray  # (D, H, W) float32
    affine: np.ndarray  # 4×4 voxel -> world (mm)
    subject_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # file path or generator description, for error messages

    def replace(self, array: np.ndarray, affine: np.ndarray | None = None) -> "Volume":
        """Same subject and metadata, new voxels (and optionally a new affine)."""
        return Volume(np.asarray(array, dtype=np.float32), self.affine if affine is None else affine,
                      self.subject_id, dict(self.metadata), self.source)


@dataclass
class Cohort:
    """Volumes of one shape stacked as ``N×1×D×H×W`` float32, values in [0, 1]. Metrics read them through
    ``rows``/``columns`` (:mod:`benchgen.functional.sources`), which a memory-mapped cohort
    (:class:`benchgen.data.mapped.MappedCohort`) serves from disk."""

    streamed: ClassVar[bool] = False  # in memory: metrics may use `data` whole
    data: torch.Tensor
    affine: np.ndarray
    subject_ids: list[str]
    metadata: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.data.ndim != 5 or self.data.shape[1] != 1:
            raise DataError(f"a cohort must be N×1×D×H×W, got shape {tuple(self.data.shape)}")
        if len(self.subject_ids) != self.data.shape[0]:
            raise DataError(f"{len(self.subject_ids)} subject ids for {self.data.shape[0]} volumes")
        if not self.metadata:
            self.metadata = [{} for _ in self.subject_ids]

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.data.shape[2:])  # type: ignore[return-value]

    @property
    def row_size(self) -> int:
        return int(np.prod(self.shape))

    def rows(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Volumes `indices` as ``k×1×D×H×W``."""
        return self.data[torch.as_tensor(np.asarray(indices, dtype=np.int64))]

    def columns(self, start: int, stop: int) -> torch.Tensor:
        """Flattened voxels ``start:stop`` of every volume, ``N×(stop−start)``."""
        return self.data.reshape(len(self), -1)[:, start:stop]

    def subset(self, indices: Sequence[int]) -> "Cohort":
        idx = list(indices)
        return Cohort(self.data[idx], self.affine, [self.subject_ids[i] for i in idx],
                      [self.metadata[i] for i in idx])

    def numpy(self) -> np.ndarray:
        """``N×D×H×W`` float32 view, for metrics that work in numpy."""
        return self.data[:, 0].detach().cpu().numpy()

    @classmethod
    def from_volumes(cls, volumes: Sequence[Volume]) -> "Cohort":
        if not volumes:
            raise DataError("no volumes to stack into a cohort")
        shapes = {v.array.shape for v in volumes}
        if len(shapes) != 1:
            raise DataError(f"volumes have different shapes {sorted(shapes)}; add a 'resize' preprocessing step")
        data = torch.from_numpy(np.stack([v.array for v in volumes]).astype(np.float32, copy=False))[:, None]
        return cls(data, volumes[0].affine, [v.subject_id for v in volumes], [dict(v.metadata) for v in volumes])

    def volumes(self) -> list[Volume]:
        arr = self.numpy()
        pairs = enumerate(zip(self.subject_ids, self.metadata))
        return [Volume(arr[i], self.affine, s, dict(m)) for i, (s, m) in pairs]


def check_finite(array: np.ndarray, where: str) -> None:
    if not np.isfinite(array).all():
        raise DataError(f"{where}: contains NaN or Inf voxels")


def read_nifti(path: str | Path, first_volume: bool = False) -> Volume:
    """Read a 3D NIfTI file into a float32 Volume; any problem is a one-line DataError naming the file."""
    from benchgen.bounds import read_nifti_image

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    # the header's declared size is checked against the voxel cap and the file before any voxel is read
    img: Any = read_nifti_image(path)  # a spatial image (dataobj, affine); nibabel types it as FileBasedImage
    try:
        array = np.asarray(img.dataobj, dtype=np.float32)
        affine = np.asarray(img.affine, dtype=np.float64)
    except Exception as exc:  # nibabel raises many types for corrupt files; all mean "unreadable"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable NIfTI file ({reason})") from None
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim == 4:
        if not first_volume:
            raise DataError(f"{path}: 4D image with {array.shape[3]} volumes; pass --first-volume to use the first")
        array = array[..., 0]
    if array.ndim != 3:
        raise DataError(f"{path}: expected a 3D image, got {array.ndim}D with shape {array.shape}")
    check_finite(array, str(path))
    return Volume(array, affine, subject_id=subject_from_filename(path), source=str(path))


def subject_from_filename(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def write_nifti(path: str | Path, array: np.ndarray, affine: np.ndarray) -> Path:
    """Write a float32 NIfTI atomically: a temporary file in the same folder, then a rename."""
    import nibabel as nib

    path = Path(path)
    img = nib.Nifti1Image(np.asarray(array, dtype=np.float32), np.asarray(affine, dtype=np.float64))
    img.header.set_xyzt_units("mm")
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else ".nii"
    with atomic_path(path, suffix) as tmp:
        nib.save(img, tmp)
    return path


def write_cohort(cohort: Cohort, folder: str | Path, prefix: str = "") -> list[Path]:
    """One NIfTI per volume, named by subject id (checked to stay inside `folder`)."""
    from benchgen.safety import inside

    arr = cohort.numpy()
    return [write_nifti(inside(folder, f"{prefix}{sid}.nii.gz"), arr[i], cohort.affine)
            for i, sid in enumerate(cohort.subject_ids)]
