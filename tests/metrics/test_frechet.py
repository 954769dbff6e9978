import numpy as np
import pytest
from scipy import linalg

from benchgen.functional.frechet import (
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
    project_to_span,
    sqrtm_psd,
)


def scipy_fd(x1, x2):
    """The classic FID formula with scipy.linalg.sqrtm (pytorch-fid style), as the reference."""
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_equals_scipy_sqrtm_when_well_conditioned():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(200, 8))
    x2 = rng.normal(0.3, 1.4, size=(150, 8)) @ rng.normal(size=(8, 8)) * 0.5
    ref = scipy_fd(x1, x2)
    assert frechet_distance_features(x1, x2, eps=0.0) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(*gaussian_stats(x1), *gaussian_stats(x2), eps=0.0) == pytest.approx(ref, rel=1e-6)


def test_identical_sets_give_zero():
    x = np.random.default_rng(1).normal(size=(50, 5))
    assert frechet_distance_features(x, x, eps=0.0) == pytest.approx(0.0, abs=1e-9)


def test_rank_deficient_is_finite_and_projection_is_exact():
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(20, 64)), rng.normal(0.2, 1.0, size=(15, 64))  # 35 samples < 64 features
    direct = frechet_distance(*gaussian_stats(x1), *gaussian_stats(x2), eps=1e-6)
    projected = frechet_distance_features(x1, x2, eps=1e-6)
    assert np.isfinite(direct) and direct > 0
    assert projected == pytest.approx(direct, rel=1e-8)
    z1, z2 = project_to_span(x1, x2)
    assert z1.shape == (20, 35)
    d_orig = np.linalg.norm(x1[:, None] - x2[None], axis=2)
    d_proj = np.linalg.norm(z1[:, None] - z2[None], axis=2)
    np.testing.assert_allclose(d_proj, d_orig, rtol=1e-10)


def test_sqrtm_psd_squares_back():
    a = np.random.default_rng(3).normal(size=(6, 3))
    s = a @ a.T  # rank 3 PSD
    r = sqrtm_psd(s)
    np.testing.assert_allclose(r @ r, s, atol=1e-10)


def test_feature_dimension_mismatch():
    with pytest.raises(ValueError, match="feature dimensions"):
        frechet_distance_features(np.zeros((5, 3)), np.zeros((5, 4)))
