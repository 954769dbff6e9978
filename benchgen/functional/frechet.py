"""Fréchet distance between Gaussian fits of two sets of feature vectors (FID, FRD).

``d² = |μ1-μ2|² + tr(Σ1) + tr(Σ2) - 2 tr((Σ1 Σ2)^½)``, in float64.

*Stable square root.* ``tr((Σ1Σ2)^½) = tr((Σ1^½ Σ2 Σ1^½)^½)``: both roots are of symmetric PSD
matrices, computed by symmetric eigendecomposition with tiny negative eigenvalues clipped to 0. This
never produces the complex or NaN values ``scipy.linalg.sqrtm`` can give on singular matrices, and
equals it where the covariances are well conditioned.

*Regularization.* With fewer samples than features (86 volumes vs 512/2048 MedicalNet features) the
covariances are rank-deficient; ``eps·I`` is added to both (default ``1e-6``, recorded with the score).

*Speed.* When there are more features than samples, all vectors lie in the span of the stacked samples;
the orthogonal complement contributes exactly ``eps + eps - 2·eps = 0``, so the distance is computed
exactly in that (n1+n2)-dimensional span (:func:`project_to_span`), which keeps bootstraps cheap.
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased (ddof=1) covariance of ``N×F`` features, float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an N×F feature matrix with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def sqrtm_psd(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    a = (np.asarray(a, dtype=np.float64) + np.asarray(a, dtype=np.float64).T) / 2.0
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr((s1 s2)^½)`` for symmetric PSD `s1`, `s2`, via ``(s1^½ s2 s1^½)^½``."""
    r = sqrtm_psd(s1)
    m = r @ s2 @ r
    w = np.linalg.eigvalsh((m + m.T) / 2.0)
    return float(np.sum(np.sqrt(np.clip(w, 0.0, None))))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), with ``eps·I`` added to both covariances."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"feature dimensions do not match: {mu1.shape} / {s1.shape} vs {mu2.shape} / {s2.shape}")
    if eps:
        s1 = s1 + eps * np.eye(mu1.size)
        s2 = s2 + eps * np.eye(mu1.size)
    diff = mu1 - mu2
    d = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))
    return max(d, 0.0)  # rounding can give -1e-15 for identical sets


def project_to_span(x1: np.ndarray, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of both sets in an orthonormal basis of their joint row span (if F > n1+n2).

    Distances, means and covariances are preserved, so the Fréchet distance (with the same eps) is
    unchanged; so is every Fréchet distance of resampled rows, which makes bootstrapping cheap.
    """
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    n1 = x1.shape[0]
    if x1.shape[1] <= x1.shape[0] + x2.shape[0]:
        return x1, x2
    # X^T = Q R  =>  X Q = R^T: the coordinates are R^T, no need to form Q X.
    r = np.linalg.qr(np.concatenate([x1, x2]).T, mode="r")
    z = r.T
    return z[:n1], z[n1:]


def frechet_distance_features(x1: np.ndarray, x2: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussian fits of two ``N×F`` feature sets."""
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"feature dimensions do not match: {x1.shape} vs {x2.shape}")
    z1, z2 = project_to_span(x1, x2)
    return frechet_distance(*gaussian_stats(z1), *gaussian_stats(z2), eps=eps)
