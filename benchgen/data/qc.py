"""Quality control of volumes: input validation (reject unusable scans with a one-line reason),
per-file QC records, cohort outlier flags and a mid-slice montage.

Steps may attach numbers to a volume under ``metadata["_qc"]`` (registration similarity, mask
volume); :func:`qc_record` collects them with intensity statistics. The ``_qc`` entry is removed
before volumes leave the preprocessing driver.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from benchgen.errors import DataError
from benchgen.volumes import Volume

QC_KEY = "_qc"
MIN_VOXEL_MM, MAX_VOXEL_MM = 0.05, 20.0  # outside this a voxel size is a header error, not anatomy
MAX_FOV_MM = 2000.0
MIN_SIZE = 4  # an axis with fewer voxels than this means a 2D image (a slice stored as 3D)
# Numbers used for the outlier flag: robust z (median / MAD) beyond OUTLIER_Z on any of them.
OUTLIER_FIELDS = ("reg_ncc", "native_brain_ml", "fg_mean", "fg_sd", "fg_p99", "fg_fraction")
OUTLIER_Z = 3.5
MIN_REG_NCC = 0.5  # below this the registration failed whatever the cohort looks like


def add_qc(volume: Volume, **values: float) -> Volume:
    """Attach QC numbers to a volume (in place) and return it."""
    volume.metadata.setdefault(QC_KEY, {}).update(values)
    return volume


def pop_qc(volume: Volume) -> dict[str, Any]:
    return dict(volume.metadata.pop(QC_KEY, {}) or {})


def validate_input(volume: Volume, first_volume: bool = False) -> None:
    """Raise DataError (one line naming the file) if a loaded volume cannot be a brain scan.

    A source that read the first volume of a 4D file records ``n_volumes`` under ``metadata["_qc"]``;
    such a volume is rejected unless `first_volume` (``--first-volume``) is set.
    """
    where = volume.source or volume.subject_id
    arr = volume.array
    n_vol = int(volume.metadata.get(QC_KEY, {}).get("n_volumes", 1) or 1)
    if n_vol > 1 and not first_volume:
        raise DataError(f"{where}: 4D image with {n_vol} volumes; pass --first-volume "
                        "(or first_volume = true in [dataset]) to use the first")
    if arr.ndim != 3:
        raise DataError(f"{where}: expected a 3D image, got {arr.ndim}D with shape {tuple(arr.shape)}")
    if min(arr.shape) < MIN_SIZE:
        raise DataError(f"{where}: a 2D image (shape {tuple(arr.shape)}); a 3D volume is needed")
    affine = np.asarray(volume.affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise DataError(f"{where}: the affine is not a finite 4×4 matrix")
    det = float(np.linalg.det(affine[:3, :3]))
    if not abs(det) > 1e-9:
        raise DataError(f"{where}: the affine is singular (voxel axes collapse); fix the NIfTI header")
    sizes = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    if sizes.min() < MIN_VOXEL_MM or sizes.max() > MAX_VOXEL_MM:
        raise DataError(f"{where}: absurd voxel size {np.round(sizes, 4).tolist()} mm "
                        f"(allowed {MIN_VOXEL_MM}-{MAX_VOXEL_MM} mm); fix the NIfTI header")
    fov = sizes * np.asarray(arr.shape)
    if fov.max() > MAX_FOV_MM or np.abs(affine[:3, 3]).max() > 10 * MAX_FOV_MM:
        raise DataError(f"{where}: absurd field of view {np.round(fov).tolist()} mm or origin "
                        f"{np.round(affine[:3, 3]).tolist()} mm; fix the NIfTI header")
    if not np.isfinite(arr).all():
        n = int((~np.isfinite(arr)).sum())
        raise DataError(f"{where}: contains {n} NaN or Inf voxels")
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        raise DataError(f"{where}: all-zero image" if hi == 0 else f"{where}: constant image (every voxel = {hi:g})")


def intensity_stats(array: np.ndarray) -> dict[str, float]:
    """Statistics of the foreground (non-zero voxels)."""
    fg = array != 0
    vals = array[fg].astype(np.float64)
    if vals.size == 0:
        return {"fg_fraction": 0.0}
    p1, p50, p99 = np.percentile(vals, [1, 50, 99])
    return {"fg_fraction": float(fg.mean()), "fg_mean": float(vals.mean()), "fg_sd": float(vals.std()),
            "fg_p1": float(p1), "fg_p50": float(p50), "fg_p99": float(p99),
            "min": float(array.min()), "max": float(array.max())}


def qc_record(volume: Volume, step_qc: dict[str, Any] | None = None) -> dict[str, Any]:
    """One QC row for a finished volume: the steps' numbers plus intensity statistics."""
    rec: dict[str, Any] = dict(step_qc or {})
    rec.update(intensity_stats(volume.array))
    rec["shape"] = "x".join(str(s) for s in volume.array.shape)
    return rec


def flag_outliers(records: Sequence[dict[str, Any]], fields: Sequence[str] = OUTLIER_FIELDS,
                  z: float = OUTLIER_Z) -> list[str]:
    """For each record, '' or the reasons it is an outlier: robust z = 0.6745 (x - median) / MAD
    beyond `z` on any field (Iglewicz & Hoaglin), or a registration correlation below MIN_REG_NCC."""
    reasons: list[list[str]] = [[] for _ in records]
    for f in fields:
        vals = np.array([float(r[f]) if _num(r.get(f)) else np.nan for r in records])
        ok = np.isfinite(vals)
        if ok.sum() >= 5:
            med = np.median(vals[ok])
            mad = np.median(np.abs(vals[ok] - med))
            if mad > 0:
                rz = 0.6745 * (vals - med) / mad
                for k in np.nonzero(ok & (np.abs(rz) > z))[0]:
                    reasons[k].append(f"{f} robust z {rz[k]:+.1f}")
    for i, r in enumerate(records):
        if _num(r.get("reg_ncc")) and float(r["reg_ncc"]) < MIN_REG_NCC:
            reasons[i].append(f"reg_ncc {float(r['reg_ncc']):.2f} < {MIN_REG_NCC}")
    return ["; ".join(x) for x in reasons]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
