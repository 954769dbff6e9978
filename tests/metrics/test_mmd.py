import numpy as np
import pytest
import torch
from monai.metrics import MMDMetric
from monai.metrics.mmd import compute_mmd

from benchgen.functional.mmd import gram_blocks, mmd_from_gram, mmd_gaussian, mmd_linear


def _sets(m=6, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(m, 1, 6, 7, 5, generator=g)
    x = torch.rand(n, 1, 6, 7, 5, generator=g) * 0.8 + 0.15  # a different distribution: MMD well above 0
    return y, x


def test_equals_monai_formula_in_float64():
    y, x = _sets()
    ref = float(compute_mmd(y.double(), x.double(), None))
    ours = mmd_linear(y, x)
    assert ref > 0.1
    assert ours == pytest.approx(ref, rel=1e-6)


def test_equals_monai_metric_float32():
    y, x = _sets(seed=3)
    ref = float(MMDMetric()(y, x))
    assert mmd_linear(y, x) == pytest.approx(ref, rel=1e-3)


def test_unequal_sizes_match_explicit_sums():
    y, x = _sets(m=5, n=8, seed=1)
    a, b = y.reshape(5, -1).double().numpy(), x.reshape(8, -1).double().numpy()
    t1 = sum(a[i] @ a[j] for i in range(5) for j in range(5) if i != j) / (5 * 4)
    t2 = sum(b[i] @ b[j] for i in range(8) for j in range(8) if i != j) / (8 * 7)
    t3 = sum(a[i] @ b[j] for i in range(5) for j in range(8)) * 2 / (5 * 8)
    assert mmd_linear(y, x) == pytest.approx(t1 + t2 - t3, rel=1e-9)


def test_can_be_negative_for_same_distribution():
    g = torch.Generator().manual_seed(0)
    values = [mmd_linear(torch.rand(4, 50, generator=g), torch.rand(4, 50, generator=g)) for _ in range(20)]
    assert min(values) < 0 < max(values)


def test_streaming_chunks_do_not_change_the_result():
    y, x = _sets(seed=2)
    full = mmd_from_gram(*gram_blocks(y, x))
    chunked = mmd_from_gram(*gram_blocks(y, x, chunk=7))
    assert chunked == pytest.approx(full, rel=1e-12)


def test_gaussian_kernel_matches_loops():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 4)), rng.normal(1.0, 1.0, size=(7, 4))
    sigma = 1.3
    k = lambda u, v: np.exp(-np.sum((u - v) ** 2) / (2 * sigma**2))  # noqa: E731
    ref = (sum(k(a[i], a[j]) for i in range(6) for j in range(6) if i != j) / 30
           + sum(k(b[i], b[j]) for i in range(7) for j in range(7) if i != j) / 42
           - 2 * sum(k(a[i], b[j]) for i in range(6) for j in range(7)) / 42)
    assert mmd_gaussian(a, b, bandwidth=sigma) == pytest.approx(ref, rel=1e-9)
    assert mmd_gaussian(a, b) > 0  # median heuristic, shifted distribution


def test_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2"):
        mmd_linear(torch.rand(1, 10), torch.rand(3, 10))


def test_bootstrap_resamples_leave_out_copies_of_a_subject():
    y, x = _sets(m=8, n=8, seed=4)
    blocks = gram_blocks(y, x)
    full = mmd_from_gram(*blocks)
    assert mmd_from_gram(*blocks, np.arange(8), np.arange(8)) == pytest.approx(full, rel=1e-12)
    ix = np.array([0, 0, 1, 2, 3, 4, 5, 6])  # subject 0 twice: its self-product is not a pair
    a = y.reshape(8, -1).double().numpy()[ix]
    pairs = [(i, j) for i in range(8) for j in range(8) if ix[i] != ix[j]]
    t1 = np.mean([a[i] @ a[j] for i, j in pairs])
    b = x.reshape(8, -1).double().numpy()
    t2 = np.mean([b[i] @ b[j] for i in range(8) for j in range(8) if i != j])
    t3 = np.mean([a[i] @ b[j] for i in range(8) for j in range(8)])
    assert mmd_from_gram(*blocks, ix, None) == pytest.approx(t1 + t2 - 2 * t3, rel=1e-9)


def test_plugin_ci_brackets_the_value():
    from benchgen import registry
    from benchgen.interfaces import MetricContext
    from benchgen.volumes import Cohort

    y, x = _sets(m=12, n=12, seed=5)
    res = registry.create("metrics", "mmd", {"bootstrap": 200}).score(
        Cohort(x, np.eye(4), [f"x{i}" for i in range(12)]), Cohort(y, np.eye(4), [f"y{i}" for i in range(12)]),
        None, MetricContext(seed=0))
    assert res.ci[0] < res.value < res.ci[1]
