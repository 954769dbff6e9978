"""Voxel-grid helpers shared by the phantom and the geometric steps: resize with a matching affine,
crop/pad with a matching affine, voxel sizes. Pure numpy/scikit-image, no I/O."""

from __future__ import annotations

import numpy as np


def voxel_sizes(affine: np.ndarray) -> np.ndarray:
    """Voxel edge lengths in mm (column norms of the affine's linear part)."""
    return np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))


def resize_array(array: np.ndarray, affine: np.ndarray, shape: tuple[int, int, int],
                 order: int = 1, anti_aliasing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Resize to `shape` (scikit-image, anti-aliased when shrinking) and return the matching affine.

    scikit-image maps output voxel centre ``o`` to input coordinate ``(o + 0.5) * s - 0.5`` with
    ``s = in / out`` per axis (the field of view is kept edge to edge); the affine follows that map.
    """
    from skimage.transform import resize

    array = np.asarray(array, dtype=np.float32)
    if tuple(array.shape) == tuple(shape):
        return array, np.asarray(affine, dtype=np.float64)
    scale = np.asarray(array.shape, dtype=np.float64) / np.asarray(shape, dtype=np.float64)
    shrinking = bool(np.any(scale > 1.0))
    out = resize(array, shape, order=order, mode="edge", anti_aliasing=anti_aliasing and shrinking,
                 preserve_range=True).astype(np.float32)
    m = np.eye(4)
    m[:3, :3] = np.diag(scale)
    m[:3, 3] = 0.5 * scale - 0.5
    return out, np.asarray(affine, dtype=np.float64) @ m


def crop_pad_array(array: np.ndarray, affine: np.ndarray, start: tuple[int, int, int],
                   shape: tuple[int, int, int], fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The box of `shape` voxels whose first voxel is input index `start` (may lie outside the
    array: padded with `fill`), and the affine of that box."""
    out = np.full(shape, fill, dtype=np.float32)
    src, dst = [], []
    for st, n, size in zip(start, shape, array.shape):
        lo, hi = max(st, 0), min(st + n, size)
        if hi <= lo:
            return out, _shift(affine, start)
        src.append(slice(lo, hi))
        dst.append(slice(lo - st, hi - st))
    out[tuple(dst)] = array[tuple(src)]
    return out, _shift(affine, start)


def _shift(affine: np.ndarray, start: tuple[int, int, int]) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = start
    return np.asarray(affine, dtype=np.float64) @ m


def center_start(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Start index that centres a box of `out_shape` on an array of `in_shape`."""
    return tuple(int((i - o) // 2) for i, o in zip(in_shape, out_shape))  # type: ignore[return-value]
