"""Small brain-shaped cohorts from nilearn's MNI152 template, for tests, benchmarks and demos.

Each subject is the template seen through a random small affine (rotation, scale, shift) and a random
intensity change, resampled to the requested grid (stretched to the brain's bounding box, as the
study resized 181×217×181 to 84×128×84) and scaled to [0, 1] with a zero background.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial.transform import Rotation

from benchgen.volumes import Cohort


@lru_cache(maxsize=2)
def _template() -> tuple[np.ndarray, np.ndarray]:
    from nilearn.datasets import load_mni152_template

    img = load_mni152_template(resolution=2)
    arr = np.asarray(img.get_fdata(), dtype=np.float32)
    return arr / np.percentile(arr[arr > 0], 99), np.asarray(img.affine)


def mni_cohort(n: int, shape: tuple[int, int, int] = (16, 24, 16), seed: int = 0,
               jitter: float = 1.0) -> Cohort:
    """`n` jittered MNI152 brains at `shape` (values in [0, 1], background 0)."""
    arr, affine = _template()
    nz = np.argwhere(arr > 0.05)
    lo, hi = nz.min(0).astype(float), nz.max(0).astype(float) + 1
    zoom = (hi - lo) / np.asarray(shape, dtype=float)  # template voxels per output voxel
    smooth = ndimage.gaussian_filter(arr, sigma=np.maximum(zoom / 2.5, 0.5))  # anti-aliasing
    centre_out = (np.asarray(shape, dtype=float) - 1) / 2
    centre_in = (lo + hi - 1) / 2
    rng = np.random.default_rng(seed)
    vols = []
    for _ in range(n):
        rot = Rotation.from_euler("xyz", rng.normal(0, 3.0 * jitter, 3), degrees=True).as_matrix()
        scale = 1 + rng.normal(0, 0.04 * jitter, 3)
        matrix = rot @ np.diag(zoom * scale)
        shift = rng.normal(0, 1.0 * jitter, 3)
        offset = centre_in + shift - matrix @ centre_out
        vol = ndimage.affine_transform(smooth, matrix, offset=offset, output_shape=shape, order=1)
        gamma = np.exp(rng.normal(0, 0.1 * jitter))
        vol = np.clip(vol, 0, None) ** gamma * (1 + rng.normal(0, 0.05 * jitter))
        vol[vol < 0.03] = 0.0  # zero background, as after skull stripping
        vols.append(np.clip(vol, 0, 1).astype(np.float32))
    out_affine = affine.copy()
    out_affine[:3, :3] = affine[:3, :3] @ np.diag(zoom)
    out_affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    data = torch.from_numpy(np.stack(vols))[:, None]
    return Cohort(data, out_affine, [f"mni-{seed}-{i:04d}" for i in range(n)])


def brain_shape_scores(samples: np.ndarray, real: np.ndarray, threshold: float = 0.0) -> dict[str, np.ndarray]:
    """Per-sample Pearson correlation with the real mean image, the fraction of voxels > threshold in the
    real set's background (voxels that are zero in every real volume) and, as the check that a clean
    background is not bought by erasing tissue, the same fraction in its brain core (voxels > 0 in every
    real volume), the fraction of clearly-brain voxels (real mean >= 0.1) that are 0, and the fraction of
    brain-core voxels darker than 0.01 (compare with the real set's own)."""
    mean = real.mean(0)
    background, core = (real <= 0).all(0), (real > 0).all(0)
    m = (mean - mean.mean()).ravel()
    corr = np.array([np.dot((s - s.mean()).ravel(), m) / (np.linalg.norm(s - s.mean()) * np.linalg.norm(m) + 1e-12)
                     for s in samples])

    def frac(mask: Any) -> np.ndarray:
        return np.array([(s[mask] > threshold).mean() if mask.any() else 0.0 for s in samples])

    clear = core & (mean >= 0.1)  # voxels that are clearly brain, not a dark partial-volume edge
    return {"corr": corr, "background_frac": frac(background), "tissue_frac": frac(core),
            "clear_tissue_zero": 1.0 - frac(clear),
            "dark_core_frac": np.array([(s[core] < 0.01).mean() if core.any() else 0.0 for s in samples])}
