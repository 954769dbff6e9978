"""Regions that know nothing of how a cohort was made: a data-driven parcellation of the MNI152 template and
a coarse grid, for regional tissue volumes (``anatomy``, ``utility``).

* ``parcels``: k-means (scikit-learn, fixed seed) of the world coordinates (mm) of the template's brain-mask
  voxels at :data:`TEMPLATE_MM`, :data:`N_PARCELS` clusters; a point belongs to its nearest centroid
  (Voronoi cells clipped by each scan's own brain mask). Compact, roughly equal-volume supervoxels that follow
  the template's outline, not anatomy or any simulated effect. Computed once per process (the template ships
  in nilearn's wheel: no download) and identified by :func:`checksum`.
* ``grid``: cubes of :data:`GRID_MM` on MNI coordinates, offset by :data:`GRID_OFFSET_MM` from the origin;
  grey-matter volume per cube is a voxel-based (VBM-like) feature at a coarse scale.

Why not an atlas: nilearn's wheel ships the template, its GM/WM maps and brain mask, and no volumetric atlas
(its atlas fetchers download at run time); a fixed-seed k-means of the template is reproducible offline.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Callable

import numpy as np
import scipy.sparse as sp

N_PARCELS = 48
PARCEL_SEED = 0
TEMPLATE_MM = 6.0  # k-means of ~8,900 points: seconds, once per process
GRID_MM = 20.0
GRID_OFFSET_MM = 7.0  # cube faces at 7 + 20 k mm: off the round coordinates rules of thumb use
GRID_BOX_MM = ((-90.0, 90.0), (-126.0, 90.0), (-72.0, 108.0))  # the MNI152 field of view
Labeller = Callable[[np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=1)
def centroids() -> np.ndarray:
    """``N_PARCELS × 3`` parcel centres (mm, MNI), ordered by (x, y, z) so the order is a property of the
    parcellation, not of k-means' label numbering."""
    from benchgen_data.templates import load_template, voxel_world_coords
    from sklearn.cluster import KMeans

    tpl = load_template(TEMPLATE_MM)
    xyz = voxel_world_coords(tpl.mask.shape, tpl.affine)[tpl.mask].astype(np.float64)
    km = KMeans(n_clusters=N_PARCELS, random_state=PARCEL_SEED, n_init=1).fit(xyz)
    centres = np.round(km.cluster_centers_, 3)
    return centres[np.lexsort(centres.T[::-1])]


def checksum() -> str:
    """sha256 (first 16 hex digits) of the parcel centres: recorded with every score that uses them."""
    return hashlib.sha256(np.ascontiguousarray(centroids(), dtype=np.float64).tobytes()).hexdigest()[:16]


def parcel_index(xyz: np.ndarray) -> np.ndarray:
    """Index of the nearest parcel centre of each world point ``(..., 3)``."""
    from scipy.spatial import cKDTree

    return cKDTree(centroids()).query(np.asarray(xyz, dtype=np.float64).reshape(-1, 3))[1].reshape(xyz.shape[:-1])


def grid_shape() -> tuple[int, int, int]:
    return tuple(int(np.ceil((hi - lo) / GRID_MM)) + 1 for lo, hi in GRID_BOX_MM)  # type: ignore[return-value]


def grid_index(xyz: np.ndarray) -> np.ndarray:
    """Index of the grid cube of each world point ``(..., 3)`` (points outside the field of view are clipped
    into the border cubes)."""
    shape = np.array(grid_shape())
    lo = np.array([b[0] for b in GRID_BOX_MM]) - (GRID_MM - GRID_OFFSET_MM)
    cell = np.clip(np.floor((np.asarray(xyz, dtype=np.float64) - lo) / GRID_MM).astype(np.int64), 0, shape - 1)
    return np.ravel_multi_index((cell[..., 0], cell[..., 1], cell[..., 2]), tuple(shape))


def n_grid() -> int:
    return int(np.prod(grid_shape()))


def label_weights(shape: tuple[int, int, int], affine: np.ndarray, labeller: Labeller, n_labels: int
                  ) -> sp.csc_matrix:
    """``L × N`` sparse share of each voxel (flattened) in each label, from 2×2×2 sub-voxel points through
    `affine` (a voxel on a border is shared)."""
    idx = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    rows, cols = [], []
    for o in np.ndindex(2, 2, 2):
        xyz = (idx + (np.array(o) - 0.5) * 0.5) @ affine[:3, :3].T + affine[:3, 3]
        rows.append(labeller(xyz))
        cols.append(np.arange(idx.shape[0]))
    data = np.full(8 * idx.shape[0], 1.0 / 8.0, dtype=np.float32)
    return sp.csc_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(n_labels, idx.shape[0]))


@functools.lru_cache(maxsize=4)
def _weights(kind: str, shape: tuple[int, int, int], affine_bytes: bytes) -> sp.csc_matrix:
    affine = np.frombuffer(affine_bytes, dtype=np.float64).reshape(4, 4)
    if kind == "parcels":
        return label_weights(shape, affine, parcel_index, N_PARCELS)
    if kind == "grid":
        return label_weights(shape, affine, grid_index, n_grid())
    raise ValueError(f"unknown region scheme '{kind}' (parcels or grid)")


def weights(kind: str, shape: tuple[int, int, int], affine: np.ndarray) -> sp.csc_matrix:
    """The cached ``L × N`` region shares of `kind` (``parcels`` or ``grid``) for a grid and affine."""
    return _weights(kind, tuple(shape), np.ascontiguousarray(affine, dtype=np.float64).tobytes())


def describe() -> dict[str, object]:
    """What to record with a score that uses these regions."""
    return {"parcels": {"method": "sklearn KMeans of the MNI152 brain-mask voxel coordinates (nearest centre)",
                        "n": N_PARCELS, "seed": PARCEL_SEED, "template_mm": TEMPLATE_MM, "sha256_16": checksum()},
            "grid": {"cube_mm": GRID_MM, "offset_mm": GRID_OFFSET_MM}}
