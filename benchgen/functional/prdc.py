"""Precision, recall, density and coverage (Naeem et al., ICML 2020, "Reliable fidelity and diversity
metrics for generative models"), on feature vectors with k nearest neighbours.

Let ``r_i`` be real and ``f_j`` fake features, ``NND_k(x)`` the distance from x to its k-th nearest
neighbour in its own set (itself excluded), ``B(x, r)`` the closed-open ball ``{y: |y-x| < r}``:

* precision = 1/M Σ_j 1[∃i: f_j ∈ B(r_i, NND_k(r_i))]      (fidelity, Kynkäänniemi et al. 2019)
* recall    = 1/N Σ_i 1[∃j: r_i ∈ B(f_j, NND_k(f_j))]      (diversity)
* density   = 1/(kM) Σ_j Σ_i 1[f_j ∈ B(r_i, NND_k(r_i))]   (fidelity, can exceed 1)
* coverage  = 1/N Σ_i 1[∃j: f_j ∈ B(r_i, NND_k(r_i))]      (diversity)

All four: higher is better. :func:`prdc_indicators` returns the per-sample terms; :func:`prdc_resampled`
recomputes all four on resampled index sets from precomputed distances (neighbourhoods included), which is
what the bootstrap uses: holding the k-NN radii fixed would ignore the variance they carry.
"""

from __future__ import annotations

import numpy as np


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances in float64 (via the Gram identity, clipped at 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def kth_neighbour_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row to its k-th nearest other row."""
    d = pairwise_distances(x, x)
    np.fill_diagonal(d, np.inf)  # itself excluded
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def prdc_indicators(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, np.ndarray]:
    """Per-sample terms: ``precision``/``density`` per fake sample, ``recall``/``coverage`` per real one."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions do not match: {real.shape} vs {fake.shape}")
    if k < 1 or k >= min(len(real), len(fake)):
        raise ValueError(f"k={k} needs more than k samples in each set (got {len(real)} real, {len(fake)} fake)")
    r_real = kth_neighbour_radius(real, k)
    r_fake = kth_neighbour_radius(fake, k)
    d = pairwise_distances(real, fake)  # N×M
    inside_real = d < r_real[:, None]  # fake j inside real i's ball
    return {
        "precision": inside_real.any(axis=0).astype(np.float64),
        "recall": (d < r_fake[None, :]).any(axis=1).astype(np.float64),
        "density": inside_real.sum(axis=0) / float(k),
        "coverage": (d.min(axis=1) < r_real).astype(np.float64),
    }


def _radius(d: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """k-th neighbour radius of each resampled row among the resampled rows; copies of one original row
    are not each other's neighbours (distance 0 would shrink every duplicated ball to nothing)."""
    sub = d[np.ix_(idx, idx)].copy()
    sub[idx[:, None] == idx[None, :]] = np.inf
    return np.partition(sub, k - 1, axis=1)[:, k - 1]


def prdc_resampled(d_rr: np.ndarray, d_ff: np.ndarray, d_rf: np.ndarray, k: int, i: np.ndarray | None = None,
                   j: np.ndarray | None = None) -> dict[str, float]:
    """PRDC of the real rows `i` and fake rows `j` (all rows when None), from real-real, fake-fake and
    real-fake distance matrices. With every row once it equals :func:`prdc`."""
    i = np.arange(len(d_rr)) if i is None else np.asarray(i)
    j = np.arange(len(d_ff)) if j is None else np.asarray(j)
    r_real, r_fake = _radius(d_rr, i, k), _radius(d_ff, j, k)
    d = d_rf[np.ix_(i, j)]
    inside_real = d < r_real[:, None]
    return {"precision": float(inside_real.any(axis=0).mean()),
            "recall": float((d < r_fake[None, :]).any(axis=1).mean()),
            "density": float(inside_real.sum() / (k * len(j))),
            "coverage": float((d.min(axis=1) < r_real).mean())}


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """The four numbers of Naeem et al. (2020)."""
    return {name: float(v.mean()) for name, v in prdc_indicators(real, fake, k).items()}
