"""KID against an independent numpy implementation of the polynomial-kernel unbiased MMD² (explicit sums)."""

import numpy as np
import pytest

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.functional.kid import kernel_inception_distance, subset_indices, subset_size_used
from benchgen.interfaces import MetricContext

from .conftest import cohort, make_brains


def reference_kid(x, y, degree=3, gamma=None, coef0=1.0):
    """Unbiased MMD² (Gretton et al. 2012, eq. 3) with k(a, b) = (γ a·b + c)^degree, γ = 1/d: explicit loops."""
    x, y = np.asarray(x, np.float64).reshape(len(x), -1), np.asarray(y, np.float64).reshape(len(y), -1)
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k = lambda a, b: (g * float(np.dot(a, b)) + coef0) ** degree  # noqa: E731
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2.0 * kxy


def _features(seed=0, m=14, n=11, d=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.normal(0.4, 1.3, size=(n, d))


@pytest.mark.parametrize("seed", [0, 1])
def test_full_set_equals_reference(seed):
    x, y = _features(seed)
    ref = reference_kid(x, y)
    assert ref > 0.05  # different distributions: well above 0, so a relative tolerance means something
    res = kernel_inception_distance(x, y, subsets=1, subset_size=0)
    assert res.mean == pytest.approx(ref, rel=1e-9) and res.std == 0.0 and res.subset_size is None
    other = kernel_inception_distance(x, y, subsets=1, subset_size=0, degree=2, gamma=0.3, coef0=0.5)
    assert other.mean == pytest.approx(reference_kid(x, y, 2, 0.3, 0.5), rel=1e-9)


def test_subsets_are_the_reference_on_each_subset():
    x, y = _features(2, m=20, n=16)
    res = kernel_inception_distance(x, y, subsets=7, subset_size=9, seed=3)
    subs = subset_indices(20, 16, 7, 9, seed=3)
    per = [reference_kid(x[i], y[j]) for i, j in subs]
    np.testing.assert_allclose(res.values, per, rtol=1e-9)
    assert res.mean == pytest.approx(np.mean(per), rel=1e-9) and res.std == pytest.approx(np.std(per), rel=1e-9)
    assert all(len(i) == len(j) == 9 and len(set(i)) == 9 for i, j in subs)
    assert subset_size_used(60, 48, 1000) == 48 and subset_size_used(60, 48, 0) is None
    assert kernel_inception_distance(x, y, subsets=7, subset_size=9, seed=3).mean == res.mean
    assert kernel_inception_distance(x, y, subsets=7, subset_size=9, seed=4).mean != res.mean


def test_same_distribution_is_near_zero_and_can_be_negative():
    rng = np.random.default_rng(0)
    vals = [kernel_inception_distance(rng.normal(size=(15, 4)), rng.normal(size=(15, 4)), subsets=1,
                                      subset_size=0).mean for _ in range(20)]
    assert min(vals) < 0 < max(vals)


@pytest.fixture(scope="module")
def sets():
    return cohort(make_brains(12, seed=30), "real"), cohort(make_brains(9, seed=31), "syn")


def test_plugin_on_voxels_equals_reference(sets):
    real, syn = sets
    res = registry.create("metrics", "kid", {"features": "voxels", "subsets": 1, "subset_size": 0,
                                             "bootstrap": 30}).score(syn, real, None, MetricContext())
    ref = reference_kid(real.numpy(), syn.numpy())
    assert res.value == pytest.approx(ref, rel=1e-9)
    assert res.details["subset_size_used"] is None and res.details["kid_std"] == 0.0
    assert res.details["gamma"] == pytest.approx(1.0 / (16 * 24 * 16)) and res.ci[0] <= res.ci[1]


def test_plugin_on_radiomics_equals_reference_and_caches(sets, tmp_path):
    real, syn = sets
    ctx = MetricContext(seed=0, cache_dir=tmp_path, real_fingerprint="kid-real")
    res = registry.create("metrics", "kid", {"subsets": 1, "subset_size": 0, "bootstrap": 0}).score(
        syn, real, None, ctx)
    ext = registry.create("features", "radiomics", {})
    fr, fs = ext.extract(real.data), ext.extract(syn.data)
    mu, sd = fr.mean(0), fr.std(0, ddof=1)
    sd[sd < 1e-12] = 1
    ref = reference_kid((fr - mu) / sd, (fs - mu) / sd)
    assert res.value == pytest.approx(ref, rel=1e-9) and res.details["zscore"] is True
    assert res.details["features"] == "radiomics" and res.details["features_dim"] == fr.shape[1]
    again = registry.create("metrics", "kid", {"subsets": 1, "subset_size": 0, "bootstrap": 0}).score(
        syn, real, None, ctx)
    assert again.details["real_features_cached"] is True and again.value == pytest.approx(res.value, rel=1e-12)


def test_plugin_defaults_subsets_and_ci(sets):
    real, syn = sets
    m = registry.create("metrics", "kid", {"bootstrap": 50})
    res = m.score(syn, real, None, MetricContext(seed=1))
    assert res.details["subsets"] == 100 and res.details["subset_size_used"] == 9  # capped at the smaller set
    assert res.details["kid_std"] > 0 and res.ci[0] <= res.value <= res.ci[1]
    assert m.score(syn, real, None, MetricContext(seed=1)).ci == res.ci


def test_param_checks():
    with pytest.raises(ConfigError, match="subsets must be >= 1"):
        registry.create("metrics", "kid", {"subsets": 0})
    with pytest.raises(ConfigError, match="subset_size must be >= 2"):
        registry.create("metrics", "kid", {"subset_size": 1})
