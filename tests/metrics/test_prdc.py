import numpy as np
import pytest

from benchgen.functional.prdc import prdc


def reference_prdc(real, fake, k):
    """Naeem et al. (2020), eqs. 1-4, written out with explicit loops."""
    def dist(a, b):
        return float(np.sqrt(np.sum((a - b) ** 2)))

    def radius(x, i):
        ds = sorted(dist(x[i], x[j]) for j in range(len(x)) if j != i)
        return ds[k - 1]

    rr = [radius(real, i) for i in range(len(real))]
    rf = [radius(fake, j) for j in range(len(fake))]
    n, m = len(real), len(fake)
    precision = sum(any(dist(real[i], fake[j]) < rr[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(dist(fake[j], real[i]) < rf[j] for j in range(m)) for i in range(n)) / n
    density = sum(dist(real[i], fake[j]) < rr[i] for i in range(n) for j in range(m)) / (k * m)
    coverage = sum(min(dist(real[i], fake[j]) for j in range(m)) < rr[i] for i in range(n)) / n
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_paper_formulas(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(30, 4))
    fake = rng.normal(0.4, 1.3, size=(25, 4))
    ours = prdc(real, fake, k)
    ref = reference_prdc(real, fake, k)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


def test_collapse_lowers_recall_and_coverage():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 3))
    good = rng.normal(size=(40, 3))
    collapsed = np.repeat(rng.normal(size=(1, 3)), 40, axis=0) + 1e-3 * rng.normal(size=(40, 3))
    a, b = prdc(real, good, 5), prdc(real, collapsed, 5)
    assert b["recall"] < a["recall"] and b["coverage"] < a["coverage"]


def test_k_too_large():
    with pytest.raises(ValueError, match="k=5"):
        prdc(np.zeros((5, 2)), np.zeros((9, 2)), 5)


def test_resampled_prdc_recomputes_neighbourhoods_and_ignores_copies():
    from benchgen.functional.prdc import pairwise_distances, prdc_resampled

    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(30, 4)), rng.normal(0.3, 1.1, size=(25, 4))
    d = (pairwise_distances(real, real), pairwise_distances(fake, fake), pairwise_distances(real, fake))
    assert prdc_resampled(*d, 3) == pytest.approx(reference_prdc(real, fake, 3), abs=1e-12)
    i, j = rng.integers(0, 30, 30), rng.integers(0, 25, 25)
    # a resample equals the paper's formulas on the resampled sets, where a copy is not its own neighbour:
    # the k-th neighbour among distinct subjects (duplicates of a row are skipped when finding radii)
    got = prdc_resampled(*d, 3, i, j)
    ref = reference_prdc(real[i] + 1e-9 * rng.normal(size=(30, 4)), fake[j] + 1e-9 * rng.normal(size=(25, 4)), 3)
    assert got != ref  # with copies as neighbours the radii would shrink: the two differ
    assert 0.0 <= got["precision"] <= 1.0 and 0.0 <= got["coverage"] <= 1.0
