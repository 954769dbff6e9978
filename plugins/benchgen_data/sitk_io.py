"""numpy (RAS, nibabel affine) <-> SimpleITK (LPS world, origin/spacing/direction).

A nibabel voxel (i, j, k) is array[i, j, k]; SimpleITK's GetArrayFromImage is (k, j, i), and its
world is LPS: the x and y world axes flip sign.
"""

from __future__ import annotations

import numpy as np

_LPS = np.diag([-1.0, -1.0, 1.0])


def to_sitk(array: np.ndarray, affine: np.ndarray):  # -> SimpleITK.Image
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))
    lin = _LPS @ np.asarray(affine, dtype=np.float64)[:3, :3]
    spacing = np.sqrt((lin ** 2).sum(axis=0))
    img.SetSpacing([float(s) for s in spacing])
    img.SetDirection([float(v) for v in (lin / spacing).ravel()])
    img.SetOrigin([float(v) for v in _LPS @ np.asarray(affine, dtype=np.float64)[:3, 3]])
    return img


def from_sitk(image) -> np.ndarray:
    import SimpleITK as sitk

    return np.ascontiguousarray(np.transpose(sitk.GetArrayFromImage(image), (2, 1, 0)))
