"""Unbiased maximum mean discrepancy (Gretton et al., 2012, eq. 3 under Lemma 6).

With the linear kernel on flattened volumes this is exactly what ``monai.metrics.MMDMetric`` computes
(the reference study's 0.036), evaluated in float64 and for sets of different sizes (MONAI needs equal
sizes). The unbiased estimator drops the diagonal of the within-set Gram matrices, so it **can be
negative** when the two sets are closer than sampling noise: that is expected, not a bug.
"""

from __future__ import annotations

import numpy as np
import torch

from benchgen.functional.sources import Data, column_chunk, source


def gram_blocks(x: Data, y: Data, chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear-kernel Gram matrices ``(Kxx, Kyy, Kxy)`` in float64, streamed over voxel chunks.

    Only ``chunk`` columns are converted to float64 at a time, so 1,000+ large volumes fit in memory; a
    streamed set (:mod:`benchgen.functional.sources`) is read column chunk by column chunk from disk.
    """
    xs, ys = source(x), source(y)
    if xs.row_size != ys.row_size:
        raise ValueError(f"feature sizes differ: {xs.row_size} vs {ys.row_size}")
    m, n = len(xs), len(ys)
    chunk = column_chunk(chunk, m + n, x, y)
    kxx = torch.zeros(m, m, dtype=torch.float64)
    kyy = torch.zeros(n, n, dtype=torch.float64)
    kxy = torch.zeros(m, n, dtype=torch.float64)
    for start in range(0, xs.row_size, chunk):
        a = xs.columns(start, start + chunk).to(torch.float64)
        b = ys.columns(start, start + chunk).to(torch.float64)
        kxx += a @ a.T
        kyy += b @ b.T
        kxy += a @ b.T
    return kxx.numpy(), kyy.numpy(), kxy.numpy()


def _within(k: np.ndarray, idx: np.ndarray | None) -> float:
    """Mean of k over pairs of distinct samples; with resampled indices, copies of one subject are not
    a pair (else the bootstrap would count ``k(x, x)`` and inflate the within-set terms)."""
    if idx is None:
        m = k.shape[0]
        return float((k.sum() - np.trace(k)) / (m * (m - 1)))
    distinct = idx[:, None] != idx[None, :]
    if not distinct.any():
        return float("nan")
    return float(k[np.ix_(idx, idx)][distinct].mean())


def mmd_from_gram(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray,
                  ix: np.ndarray | None = None, iy: np.ndarray | None = None) -> float:
    """Unbiased MMD² from Gram matrices; `ix`/`iy` select (resampled) rows for the bootstrap, where
    pairs of copies of the same subject are left out of the within-set terms."""
    m = kxx.shape[0] if ix is None else len(ix)
    n = kyy.shape[0] if iy is None else len(iy)
    if m < 2 or n < 2:
        raise ValueError("MMD needs at least 2 samples in each set")
    cross = kxy if ix is None else kxy[ix]
    cross = cross if iy is None else cross[:, iy]
    return _within(kxx, ix) + _within(kyy, iy) - 2.0 * float(cross.mean())


def mmd_linear(x: Data, y: Data) -> float:
    """Unbiased MMD² with the linear kernel ``k(a, b) = a·b`` on flattened samples (MONAI's MMDMetric)."""
    return mmd_from_gram(*gram_blocks(x, y))


def _squared_distances(kab: np.ndarray, sq_a: np.ndarray, sq_b: np.ndarray) -> np.ndarray:
    """``|a-b|²`` from the linear Gram block and the rows' squared norms (clipped at 0 against rounding)."""
    return np.maximum(sq_a[:, None] + sq_b[None, :] - 2.0 * kab, 0.0)


def _median_distance(d2: np.ndarray) -> float:
    """Median of the distances above the diagonal of a pooled square matrix of squared distances."""
    med = float(np.sqrt(np.median(d2[np.triu_indices(d2.shape[0], k=1)])))
    return med if med > 0 else 1.0


def gaussian_gram(x: Data, y: Data, bandwidth: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Gaussian-kernel Gram blocks ``exp(-|a-b|²/(2σ²))``; σ by the median heuristic when not given.

    The squared distances come from the streamed linear Gram blocks (:func:`gram_blocks`), so voxels of
    a memory-mapped set are read in column chunks, never held whole: memory is the n×n blocks only.
    """
    lxx, lyy, lxy = gram_blocks(x, y)
    sx, sy = np.diag(lxx), np.diag(lyy)
    dxx, dyy, dxy = (_squared_distances(lxx, sx, sx), _squared_distances(lyy, sy, sy),
                     _squared_distances(lxy, sx, sy))
    sigma = float(bandwidth) if bandwidth else _median_distance(np.block([[dxx, dxy], [dxy.T, dyy]]))
    kxx, kyy, kxy = (np.exp(-d / (2.0 * sigma * sigma)) for d in (dxx, dyy, dxy))
    return kxx, kyy, kxy, sigma


def mmd_gaussian(x: Data, y: Data, bandwidth: float | None = None) -> float:
    """Unbiased MMD² with a Gaussian kernel (median-heuristic bandwidth), as 3D GAN/diffusion papers use."""
    kxx, kyy, kxy, _ = gaussian_gram(x, y, bandwidth)
    return mmd_from_gram(kxx, kyy, kxy)
