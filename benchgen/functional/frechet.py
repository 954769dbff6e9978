"""Fréchet distance between Gaussian fits of two sets of feature vectors (FID, FRD), and FD∞.

``d² = |μ1-μ2|² + tr(Σ1) + tr(Σ2) - 2 tr((Σ1 Σ2)^½)``, in float64.

*Stable square root.* ``tr((Σ1Σ2)^½) = tr((Σ1^½ Σ2 Σ1^½)^½)``: both roots are of symmetric PSD
matrices, computed by symmetric eigendecomposition, with eigenvalues below round-off (``n·ε·λ_max``,
the rank rule of ``numpy.linalg.matrix_rank``) set to 0. This is exact for singular (rank-deficient)
covariances, never produces the complex or NaN values ``scipy.linalg.sqrtm`` can give on singular
matrices, and equals it where the covariances are well conditioned.

*No regularization unless it is needed.* Adding ``eps·I`` to rank-deficient covariances moves the
value by O(√eps) (MONAI's test vector: 0.4444 exact, 0.4433 with eps = 1e-6), so it is **not** added by
default. It is added (and reported as ``eps_used``) only when the unregularized computation fails: a
non-finite value, a covariance or product with clearly negative eigenvalues (not PSD, i.e. not a
covariance), or a distance below ``-tol`` — the same fallback as pytorch-fid and MONAI
(``compute_frechet_distance``), which add ``eps`` only when the square root is not finite.

*Speed.* When there are more features than samples, all vectors lie in the span of the stacked samples;
the orthogonal complement contributes exactly 0 (with eps: ``eps + eps - 2·eps = 0``), so the distance is
computed exactly in that (n1+n2)-dimensional span (:func:`project_to_span`), which keeps bootstraps cheap.

*FD∞* (Chong & Forsyth, 2020, "Effectively Unbiased FID and Inception Score and where to find them",
CVPR): the plug-in estimate is biased upward by ≈ k/n. :func:`frechet_distance_inf` computes the distance
on random subsets (without replacement) of several sizes, fits ``FD_n = FD∞ + k/n`` by least squares in
``1/n`` and returns the intercept. Both sets are subsampled by the same fraction (here both sets are small;
the paper subsamples only the generated set against fixed reference statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# eigenvalues more negative than this (relative to the largest |eigenvalue|) mean "not PSD"
_NEG_TOL = 1e-8


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased (ddof=1) covariance of ``N×F`` features, float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N×F feature matrix with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _eigh_psd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Eigen-decomposition of the symmetric part of `a`, eigenvalues below round-off set to 0; also the most
    negative eigenvalue relative to the largest |eigenvalue| (0 for a PSD matrix)."""
    a = np.asarray(a, dtype=np.float64)
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    worst = float(min(w.min(), 0.0) / scale) if scale > 0 else 0.0
    w = np.where(w > scale * w.size * np.finfo(np.float64).eps, w, 0.0)
    return w, v, worst


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    w, v, _ = _eigh_psd(a)
    return (v * np.sqrt(w)) @ v.T


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> tuple[float, float]:
    """(``tr((s1 s2)^½)``, most negative relative eigenvalue met on the way)."""
    w1, v1, neg1 = _eigh_psd(s1)
    r = (v1 * np.sqrt(w1)) @ v1.T
    w, _, neg2 = _eigh_psd(r @ s2 @ r)
    _, _, neg3 = _eigh_psd(s2)
    return float(np.sum(np.sqrt(w))), min(neg1, neg2, neg3)


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr((s1 s2)^½)`` for symmetric PSD `s1`, `s2`, via ``(s1^½ s2 s1^½)^½``."""
    return _trace_sqrt_product(s1, s2)[0]


def _check_shapes(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> None:
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"feature dimensions do not match: {mu1.shape} / {s1.shape} vs {mu2.shape} / {s2.shape}")


def _fd(diff: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[float, bool]:
    """(distance, computed cleanly): not clean when non-finite, not PSD, or clearly negative."""
    tr_sqrt, worst = _trace_sqrt_product(s1, s2)
    tr1, tr2 = float(np.trace(s1)), float(np.trace(s2))
    d = float(diff @ diff + tr1 + tr2 - 2.0 * tr_sqrt)
    tol = 1e-9 * max(1.0, float(diff @ diff) + abs(tr1) + abs(tr2))
    clean = bool(np.isfinite(d) and np.isfinite(tr_sqrt) and worst >= -_NEG_TOL and d >= -tol)
    return d, clean


def frechet_distance_eps(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                         eps: float = 1e-6, always_regularize: bool = False) -> tuple[float, float]:
    """(Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), the eps actually added).

    No ``eps·I`` is added unless the exact computation fails (see the module doc) or `always_regularize`;
    the second value is 0.0 when none was added.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    _check_shapes(mu1, s1, mu2, s2)
    diff = mu1 - mu2
    if not always_regularize:
        d, clean = _fd(diff, s1, s2)
        if clean or not eps:
            return max(d, 0.0), 0.0  # rounding can give -1e-15 for identical sets
    offset = eps * np.eye(mu1.size)
    d, _ = _fd(diff, s1 + offset, s2 + offset)
    return max(d, 0.0), float(eps)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6, always_regularize: bool = False) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); ``eps·I`` only when needed."""
    return frechet_distance_eps(mu1, sigma1, mu2, sigma2, eps, always_regularize)[0]


def project_to_span(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of both sets in an orthonormal basis of their joint row span (if F > n1+n2).

    Distances, means and covariances are preserved, so the Fréchet distance is unchanged; so is every
    Fréchet distance of resampled rows, which makes bootstrapping cheap.
    """
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    n1 = x1.shape[0]
    if x1.shape[1] <= x1.shape[0] + x2.shape[0]:
        return x1, x2
    # X^T = Q R  =>  X Q = R^T: the coordinates are R^T, no need to form Q X.
    r = np.asarray(np.linalg.qr(np.concatenate([x1, x2]).T, mode="r"))  # mode "r" returns R alone
    z = r.T
    return z[:n1], z[n1:]


def _check_features(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"feature dimensions do not match: {x1.shape} vs {x2.shape}")
    return x1, x2


def frechet_distance_features_eps(x1: np.ndarray, x2: np.ndarray, eps: float = 1e-6,
                                  always_regularize: bool = False) -> tuple[float, float]:
    """(Fréchet distance between Gaussian fits of two ``N×F`` feature sets, eps used)."""
    z1, z2 = project_to_span(*_check_features(x1, x2))
    return frechet_distance_eps(*gaussian_stats(z1), *gaussian_stats(z2), eps=eps,
                                always_regularize=always_regularize)


def frechet_distance_features(x1: np.ndarray, x2: np.ndarray, eps: float = 1e-6,
                              always_regularize: bool = False) -> float:
    """Fréchet distance between Gaussian fits of two ``N×F`` feature sets."""
    return frechet_distance_features_eps(x1, x2, eps, always_regularize)[0]


# ------------------------------------------------------------------------------------------------ FD∞
@dataclass
class FDInf:
    """FD∞ and the fit behind it: ``FD_n ≈ value + slope / n`` (n = subset size of the second set)."""

    value: float
    slope: float
    sizes: list[int] = field(default_factory=list)  # subset sizes of the second set (the first: same fraction)
    fds: list[float] = field(default_factory=list)  # mean FD over `repeats` random subsets, per size
    eps_used: float = 0.0  # the largest eps any subset's distance needed


def fd_inf_sizes(n: int, points: int, min_fraction: float) -> np.ndarray:
    """`points` subset sizes spread evenly in ``[min_fraction·n, n]`` (distinct, each ≥ 2)."""
    lo = max(2, int(np.ceil(min_fraction * n)))
    return np.unique(np.linspace(lo, n, points).round().astype(np.int64))


def frechet_distance_inf(x1: np.ndarray, x2: np.ndarray, points: int = 15, min_fraction: float = 0.5,
                         repeats: int = 4, seed: int = 0, eps: float = 1e-6) -> FDInf:
    """FD∞ of Chong & Forsyth (2020): Fréchet distances on random subsets of `points` sizes, averaged over
    `repeats` subsets per size, extrapolated linearly in 1/n to 1/n = 0.

    Subsets are drawn without replacement from both sets with the same fraction ``n_i / len(x2)`` (the
    largest is the full sets); a subset's bias is then ≈ k/n_i as for an independent sample of that size.
    """
    x1, x2 = _check_features(x1, x2)
    if points < 2 or not 0.0 < min_fraction < 1.0 or repeats < 1:
        raise ValueError("FD∞ needs points >= 2, 0 < min_fraction < 1 and repeats >= 1")
    z1, z2 = project_to_span(x1, x2)
    sizes = fd_inf_sizes(len(z2), points, min_fraction)
    if len(sizes) < 2:
        raise ValueError(f"FD∞ needs at least 2 distinct subset sizes; {len(z2)} samples are too few")
    rng = np.random.default_rng(seed)
    fds: list[float] = []
    eps_used = 0.0
    for m2 in sizes:
        m1 = max(2, int(round(m2 * len(z1) / len(z2))))
        vals = []
        for _ in range(1 if m2 == len(z2) else repeats):  # the full sets: one value, no randomness
            a = z1[rng.permutation(len(z1))[:m1]]
            b = z2[rng.permutation(len(z2))[:m2]]
            d, e = frechet_distance_eps(*gaussian_stats(a), *gaussian_stats(b), eps=eps)
            vals.append(d)
            eps_used = max(eps_used, e)
        fds.append(float(np.mean(vals)))
    inv = 1.0 / sizes.astype(np.float64)
    slope, intercept = np.polyfit(inv, np.asarray(fds), 1)
    return FDInf(float(intercept), float(slope), [int(s) for s in sizes], fds, eps_used)

