import numpy as np
import pytest
import torch
from monai.metrics.fid import get_fid_score
from scipy import linalg

from benchgen import registry
from benchgen.functional.frechet import (
    fd_inf_sizes,
    frechet_distance,
    frechet_distance_eps,
    frechet_distance_features,
    frechet_distance_features_eps,
    frechet_distance_inf,
    gaussian_stats,
    project_to_span,
    sqrtm_psd,
)
from benchgen.interfaces import MetricContext

from .conftest import cohort
from .given_features import entry_points_with_given_features

# MONAI's own FID test vector (tests/metrics/test_compute_fid_metric.py): exactly 4/9.
MONAI_X = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
MONAI_Y = np.array([[2.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
MONAI_FID = 4.0 / 9.0


def scipy_fd(x1, x2):
    """The classic FID formula with scipy.linalg.sqrtm (pytorch-fid style), as the reference."""
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.fixture
def given_registry():
    registry.refresh(entry_points_with_given_features())
    yield
    registry.refresh()


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::RuntimeWarning",
                            "ignore::scipy.linalg.LinAlgWarning")
def test_monai_vector_is_unbiased_by_default():
    assert float(get_fid_score(torch.from_numpy(MONAI_Y), torch.from_numpy(MONAI_X))) == pytest.approx(
        MONAI_FID, abs=1e-4)
    d, eps_used = frechet_distance_features_eps(MONAI_X, MONAI_Y)
    assert d == pytest.approx(MONAI_FID, abs=1e-4) and eps_used == 0.0
    assert frechet_distance_features(MONAI_Y, MONAI_X) == pytest.approx(MONAI_FID, abs=1e-12)
    # what always adding eps·I did: O(√eps) off, outside the tolerance
    biased = frechet_distance_features(MONAI_X, MONAI_Y, eps=1e-6, always_regularize=True)
    assert abs(biased - MONAI_FID) > 1e-3 and biased == pytest.approx(0.4433, abs=1e-4)


def test_monai_vector_through_the_fid_plugin(given_registry):
    real, syn = cohort(MONAI_X.reshape(3, 1, 1, 2) / 2), cohort(MONAI_Y.reshape(3, 1, 1, 2) / 2)
    res = registry.create("metrics", "fid", {"features": "given-x2", "bootstrap": 0}).score(
        syn, real, None, MetricContext())
    assert res.value == pytest.approx(MONAI_FID, abs=1e-4) and res.details["eps_used"] == 0.0
    assert res.details["features"] == "given-x2" and res.details["features_dim"] == 2


def test_monai_vector_through_benchgen_evaluate(given_registry, tmp_path, monkeypatch):
    from benchgen.score.evaluate import evaluate
    from benchgen.volumes import write_nifti

    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))
    for name, arr in (("real", MONAI_X), ("syn", MONAI_Y)):
        (tmp_path / name).mkdir()
        for i, row in enumerate(arr):  # voxels in [0, 1]; the feature plugin multiplies them by 2
            write_nifti(tmp_path / name / f"{name}{i}.nii.gz", (row / 2).reshape(1, 1, 2).astype(np.float32),
                        np.eye(4))
    out = evaluate(tmp_path / "real", tmp_path / "syn", ["fid"],
                   params={"fid": {"features": "given-x2", "bootstrap": 0}})
    res = out["metrics"]["fid"]
    assert res["status"] == "ok", res["message"]
    assert res["value"] == pytest.approx(MONAI_FID, abs=1e-4) and res["details"]["eps_used"] == 0.0
    out = evaluate(tmp_path / "real", tmp_path / "syn", ["fid"],
                   params={"fid": {"features": "given-x2", "bootstrap": 0}})
    assert out["metrics"]["fid"]["details"]["real_features_cached"] is True


def test_equals_scipy_sqrtm_when_well_conditioned():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(200, 8))
    x2 = rng.normal(0.3, 1.4, size=(150, 8)) @ rng.normal(size=(8, 8)) * 0.5
    ref = scipy_fd(x1, x2)
    assert frechet_distance_features(x1, x2) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance_features(x1, x2, eps=0.0) == pytest.approx(ref, rel=1e-6)
    d, eps_used = frechet_distance_eps(*gaussian_stats(x1), *gaussian_stats(x2))
    assert d == pytest.approx(ref, rel=1e-6) and eps_used == 0.0


def test_identical_sets_give_zero():
    x = np.random.default_rng(1).normal(size=(50, 5))
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-9)


def test_rank_deficient_needs_no_eps_and_projection_is_exact():
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=(20, 64)), rng.normal(0.2, 1.0, size=(15, 64))  # 35 samples < 64 features
    direct, eps_used = frechet_distance_eps(*gaussian_stats(x1), *gaussian_stats(x2))
    projected = frechet_distance_features(x1, x2)
    assert np.isfinite(direct) and direct > 0 and eps_used == 0.0
    assert projected == pytest.approx(direct, rel=1e-8)
    assert frechet_distance_features(x1, x2, always_regularize=True) == pytest.approx(
        frechet_distance(*gaussian_stats(x1), *gaussian_stats(x2), always_regularize=True), rel=1e-8)
    z1, z2 = project_to_span(x1, x2)
    assert z1.shape == (20, 35)
    d_orig = np.linalg.norm(x1[:, None] - x2[None], axis=2)
    d_proj = np.linalg.norm(z1[:, None] - z2[None], axis=2)
    np.testing.assert_allclose(d_proj, d_orig, rtol=1e-10)


def test_eps_only_when_the_exact_computation_fails():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 4))
    s = a @ a.T
    w, v = np.linalg.eigh(s)
    w[0] = -1e-3 * w.max()  # not a covariance: clearly negative eigenvalue
    bad = (v * w) @ v.T
    d, eps_used = frechet_distance_eps(np.zeros(4), bad, np.ones(4), s, eps=1e-2)
    assert eps_used == 1e-2 and np.isfinite(d)
    assert frechet_distance_eps(np.zeros(4), s, np.ones(4), s, eps=1e-2)[1] == 0.0


def test_sqrtm_psd_squares_back():
    a = np.random.default_rng(3).normal(size=(6, 3))
    s = a @ a.T  # rank 3 PSD
    r = sqrtm_psd(s)
    np.testing.assert_allclose(r @ r, s, atol=1e-10)


def test_feature_dimension_mismatch():
    with pytest.raises(ValueError, match="feature dimensions"):
        frechet_distance_features(np.zeros((5, 3)), np.zeros((5, 4)))


def _gaussians(d=8):
    rng = np.random.default_rng(123)
    a, b = rng.normal(size=(d, d)) / np.sqrt(d), rng.normal(size=(d, d)) / np.sqrt(d)
    s1, s2 = a @ a.T + 0.5 * np.eye(d), b @ b.T + 0.3 * np.eye(d)
    mu1, mu2 = np.zeros(d), np.full(d, 0.3)
    # analytic FD of the two true Gaussians, with scipy's sqrtm (full rank: well defined)
    true = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))
    return mu1, s1, mu2, s2, true


@pytest.mark.parametrize("n", [30, 60])
def test_fd_inf_is_closer_to_the_truth_than_the_plain_estimate(n):
    mu1, s1, mu2, s2, true = _gaussians()
    plain, inf = [], []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        x1, x2 = rng.multivariate_normal(mu1, s1, n), rng.multivariate_normal(mu2, s2, n)
        plain.append(frechet_distance_features(x1, x2) - true)
        inf.append(frechet_distance_inf(x1, x2, seed=seed).value - true)
    plain, inf = np.array(plain), np.array(inf)
    assert np.mean(plain) > 0.5  # the plug-in estimate is biased upward at small n
    assert np.mean(np.abs(inf)) < 0.75 * np.mean(np.abs(plain))
    assert abs(np.mean(inf)) < 0.5 * np.mean(plain)


def test_fd_inf_fit_and_sizes():
    assert list(fd_inf_sizes(48, 15, 0.5)) == sorted(set(np.linspace(24, 48, 15).round().astype(int)))
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(40, 5)), rng.normal(0.5, 1.0, size=(30, 5))
    fit = frechet_distance_inf(x1, x2, points=6, min_fraction=0.5, repeats=3, seed=1)
    assert fit.sizes[-1] == 30 and fit.sizes[0] == 15 and len(fit.sizes) == len(fit.fds) == 6
    assert fit.fds[-1] == pytest.approx(frechet_distance_features(x1, x2), rel=1e-12)  # full sets
    slope, intercept = np.polyfit(1.0 / np.array(fit.sizes), fit.fds, 1)
    assert fit.value == pytest.approx(intercept, rel=1e-12) and fit.slope == pytest.approx(slope, rel=1e-12)
    assert frechet_distance_inf(x1, x2, seed=1).value == frechet_distance_inf(x1, x2, seed=1).value
    with pytest.raises(ValueError, match="points >= 2"):
        frechet_distance_inf(x1, x2, points=1)


def test_fid_plugin_fd_inf_option():
    from .conftest import make_brains

    real, syn = cohort(make_brains(14, seed=1)), cohort(make_brains(12, seed=2))
    none = registry.create("metrics", "frd", {"bootstrap": 0}).score(syn, real, None, MetricContext())
    inf = registry.create("metrics", "frd", {"bootstrap": 5, "bias_correction": "fd-inf", "fd_inf_points": 4}
                          ).score(syn, real, None, MetricContext())
    assert none.details["bias_correction"] == "none" and none.details["eps_used"] == 0.0
    assert inf.details["fd_plain"] == pytest.approx(none.value, rel=1e-12)
    assert inf.value < inf.details["fd_plain"] and inf.value != none.value
    assert inf.details["fd_inf_sizes"][-1] == 12 and inf.ci is not None
