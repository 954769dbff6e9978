"""The MNI152 2009a template, GM/WM maps and brain mask from nilearn's wheel, at any resolution.

Offline: nilearn ships these files inside its package. The 1 mm images are downsampled with
anti-aliasing (scikit-image) rather than nilearn's own ``resolution=`` resampling, which
interpolates without a low-pass filter and aliases at 3-4 mm. Results are cached per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from benchgen_data.geometry import resize_array

# The MNI box AssemblyNet and the paper use: 181×217×181 voxels at 1 mm, corner at (-90, -126, -72) mm.
MNI_BOX_MM = (181.0, 217.0, 181.0)
MNI_BOX_ORIGIN_MM = (-90.0, -126.0, -72.0)


@dataclass(frozen=True)
class Template:
    """Template images on one grid (RAS, world mm through `affine`)."""

    t1: np.ndarray  # skull-stripped T1, 0..1
    gm: np.ndarray  # grey-matter probability
    wm: np.ndarray  # white-matter probability
    mask: np.ndarray  # brain mask, bool
    affine: np.ndarray
    voxel_mm: float


@functools.lru_cache(maxsize=1)
def _load_1mm() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from nilearn import datasets

    t1 = datasets.load_mni152_template(resolution=1)
    gm = datasets.load_mni152_gm_template(resolution=1)
    wm = datasets.load_mni152_wm_template(resolution=1)
    mask = datasets.load_mni152_brain_mask(resolution=1)
    arrays = [np.asarray(img.dataobj, dtype=np.float32) for img in (t1, gm, wm, mask)]
    return (*arrays, np.asarray(t1.affine, dtype=np.float64))  # type: ignore[return-value]


@functools.lru_cache(maxsize=4)
def load_template(voxel_mm: float = 1.0) -> Template:
    """The template images resampled to isotropic `voxel_mm` (same field of view as the 1 mm files)."""
    t1, gm, wm, mask, affine = _load_1mm()
    if abs(voxel_mm - 1.0) < 1e-6:
        return Template(t1, gm, wm, mask > 0.5, affine, 1.0)
    d, h, w = (max(8, int(round(s / voxel_mm))) for s in t1.shape)
    shape = (d, h, w)
    out = []
    new_affine = affine
    for arr in (t1, gm, wm, mask):
        res, new_affine = resize_array(arr, affine, shape)
        out.append(res)
    t1r, gmr, wmr, maskr = out
    maskb = maskr > 0.5
    return Template(np.clip(t1r, 0, None) * maskb, np.clip(gmr, 0, 1) * maskb,
                    np.clip(wmr, 0, 1) * maskb, maskb, new_affine, float(voxel_mm))


def voxel_world_coords(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """World (mm) coordinates of every voxel centre, shape ``(*shape, 3)``, float32."""
    idx = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"), axis=-1)
    return (idx @ affine[:3, :3].T + affine[:3, 3]).astype(np.float32)
