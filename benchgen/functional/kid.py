"""Kernel Inception Distance (Bińkowski et al., 2018, "Demystifying MMD GANs", ICLR): the unbiased MMD²
with the cubic polynomial kernel ``k(x, y) = (γ x·y + c)^3``, ``γ = 1/d``, ``c = 1``, averaged over
random subsets — the definition of torch-fidelity (``kid_subsets``, ``kid_subset_size``) and dgm-eval.

Per subset, ``m = min(subset_size, n_x, n_y)`` samples of each set are drawn without replacement and
``MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(x_i,x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i,y_j) − 2/m² Σ_{i,j} k(x_i,y_j)``
(Gretton et al., 2012, eq. 3). ``subset_size = 0`` uses every sample of both sets (sizes may differ:
the same estimator with ``1/(n(n-1))`` and ``1/(nm)``), so ``subsets = 1, subset_size = 0`` is the full-set
unbiased estimate. The value is the mean over subsets; torch-fidelity also reports their std.
Gram matrices are computed once (float64, streamed over feature chunks) and every subset indexes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchgen.functional.mmd import gram_blocks
from benchgen.functional.sources import Data, source


def polynomial_gram(x: Data, y: Data, degree: int = 3,
                    gamma: float | None = None, coef0: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``(Kxx, Kyy, Kxy, γ)`` for ``k(a, b) = (γ a·b + coef0)^degree`` on flattened rows; γ = 1/d if None."""
    kxx, kyy, kxy = gram_blocks(x, y)
    d = source(x).row_size
    g = 1.0 / d if gamma is None else float(gamma)
    return tuple((g * k + coef0) ** degree for k in (kxx, kyy, kxy)) + (g,)  # type: ignore[return-value]


def subset_size_used(n_x: int, n_y: int, subset_size: int) -> int | None:
    """The subset size per set: ``min(subset_size, n_x, n_y)``; None for ``subset_size = 0`` (all samples)."""
    if subset_size < 0:
        raise ValueError(f"subset_size must be >= 0 (0 = all samples), got {subset_size}")
    return None if subset_size == 0 else min(subset_size, n_x, n_y)


def subset_indices(n_x: int, n_y: int, subsets: int, subset_size: int, seed: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (x rows, y rows) of every subset, drawn without replacement by one seeded generator."""
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    m = subset_size_used(n_x, n_y, subset_size)
    if m is None:
        return [(np.arange(n_x), np.arange(n_y))] * subsets
    if m < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples (subset_size {subset_size}, sets {n_x}, {n_y})")
    rng = np.random.default_rng(seed)
    return [(np.sort(rng.choice(n_x, m, replace=False)), np.sort(rng.choice(n_y, m, replace=False)))
            for _ in range(subsets)]


@dataclass
class KID:
    mean: float  # the KID value: mean MMD² over subsets
    std: float  # std over subsets (what torch-fidelity reports as kernel_inception_distance_std)
    values: np.ndarray  # MMD² per subset
    subset_size: int | None  # per set; None = all samples
    gamma: float


def kid_from_gram(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray,
                  subsets: list[tuple[np.ndarray, np.ndarray]],
                  ix: np.ndarray | None = None, iy: np.ndarray | None = None) -> np.ndarray:
    """MMD² per subset; `ix`/`iy` are (bootstrap-resampled) rows that the subset positions index into.
    Subsets of one size are computed together (a bootstrap calls this B times: 100 subsets × 200 replicates),
    in chunks of at most ~4 M Gram entries; pairs of copies of one subject are left out as in
    :func:`~benchgen.functional.mmd.mmd_from_gram`."""
    px = np.stack([p for p, _ in subsets])
    py = np.stack([q for _, q in subsets])
    rx = px if ix is None else np.asarray(ix)[px]
    ry = py if iy is None else np.asarray(iy)[py]
    if rx.shape[1] < 2 or ry.shape[1] < 2:
        raise ValueError("MMD needs at least 2 samples in each set")
    step = max(1, 4_000_000 // (rx.shape[1] * ry.shape[1] + rx.shape[1] ** 2 + ry.shape[1] ** 2))
    out = np.empty(len(subsets))
    for s in range(0, len(subsets), step):
        a, b = rx[s:s + step], ry[s:s + step]
        out[s:s + step] = (_within_batch(kxx, a) + _within_batch(kyy, b)
                           - 2.0 * kxy[a[:, :, None], b[:, None, :]].mean(axis=(1, 2)))
    return out


def _within_batch(k: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row of `rows` (subsets × m): mean of k over pairs of distinct subjects."""
    distinct = rows[:, :, None] != rows[:, None, :]
    counts = distinct.sum(axis=(1, 2))
    sums = np.where(distinct, k[rows[:, :, None], rows[:, None, :]], 0.0).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def kernel_inception_distance(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0, degree: int = 3, gamma: float | None = None,
                              coef0: float = 1.0) -> KID:
    """KID between the rows of `x` and `y` (``N×F`` features or ``N×…`` volumes, flattened)."""
    kxx, kyy, kxy, g = polynomial_gram(x, y, degree, gamma, coef0)
    subs = subset_indices(len(kxx), len(kyy), subsets, subset_size, seed)
    vals = kid_from_gram(kxx, kyy, kxy, subs)
    return KID(float(vals.mean()), float(vals.std()), vals, subset_size_used(len(kxx), len(kyy), subset_size), g)
