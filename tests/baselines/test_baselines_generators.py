"""Value tests for the baseline generators: what they return, checked against the data they were given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchgen_baselines.generators import GaussianPCA, Holdout, Memorizer, Noise, draw_indices
from scipy import stats

from benchgen import registry
from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import FitContext
from benchgen.volumes import Cohort

SHAPE = (8, 12, 8)


def cohort(n: int, seed: int, prefix: str) -> Cohort:
    """Distinct random scans in [0, 1] (each scan is unique, so equality identifies it)."""
    data = torch.from_numpy(np.random.default_rng(seed).random((n, 1, *SHAPE), dtype=np.float32))
    return Cohort(data, np.eye(4), [f"{prefix}-{i:02d}" for i in range(n)])


@pytest.fixture()
def splits() -> tuple[Cohort, Cohort, Cohort]:
    return cohort(10, 1, "train"), cohort(6, 2, "val"), cohort(5, 3, "test")


def match(samples: torch.Tensor, pool: Cohort) -> list[int | None]:
    """Index in `pool` of each sample that equals a pool scan exactly, else None."""
    flat = pool.data.reshape(len(pool), -1)
    out: list[int | None] = []
    for s in samples.reshape(samples.shape[0], -1):
        hits = torch.nonzero((flat == s).all(1)).flatten().tolist()
        out.append(hits[0] if hits else None)
    return out


# ------------------------------------------------------------------------------------ holdout
def test_holdout_returns_exact_val_scans_never_train_or_test(splits, tmp_path):
    train, val, test = splits
    gen = Holdout()
    gen.fit(train, FitContext(tmp_path, seed=0, val=val))
    x = gen.sample(4, seed=7)
    assert x.shape == (4, 1, *SHAPE) and x.dtype == torch.float32
    idx = match(x, val)
    assert None not in idx and len(set(idx)) == 4  # without replacement while n <= len(val)
    assert match(x, train) == [None] * 4 and match(x, test) == [None] * 4
    assert gen.last_subject_ids() == [val.subject_ids[i] for i in idx]
    assert gen.sampler_info()["with_replacement"] is False


def test_holdout_more_than_pool_uses_every_scan_then_replacement(splits, tmp_path):
    train, val, _ = splits
    gen = Holdout()
    gen.fit(train, FitContext(tmp_path, val=val))
    x = gen.sample(15, seed=3)
    idx = match(x, val)
    assert None not in idx
    assert sorted(idx[:6]) == list(range(6))  # every val scan once first
    assert gen.sampler_info()["with_replacement"] is True
    assert gen.sampler_info()["pool_size"] == 6


def test_holdout_seeded(splits, tmp_path):
    train, val, _ = splits
    gen = Holdout()
    gen.fit(train, FitContext(tmp_path, val=val))
    assert torch.equal(gen.sample(5, 11), gen.sample(5, 11))
    assert match(gen.sample(5, 11), val) != match(gen.sample(5, 12), val)
    out = gen.sample(6, 0)
    out.zero_()  # the caller owns its samples: changing them leaves the pool (and val) alone
    assert match(gen.sample(6, 0), val) == match(gen.sample(6, 0), val) and None not in match(gen.sample(6, 0), val)


def test_holdout_without_val_is_a_clear_error(splits, tmp_path):
    with pytest.raises(DataError, match="validation split"):
        Holdout().fit(splits[0], FitContext(tmp_path, val=None))


def test_holdout_save_load_samples_from_the_saved_scans(splits, tmp_path):
    train, val, _ = splits
    gen = Holdout()
    gen.fit(train, FitContext(tmp_path, val=val))
    gen.save(tmp_path / "ckpt")
    assert not list((tmp_path / "ckpt").glob("*.pkl")) and not list((tmp_path / "ckpt").glob("*.pt"))
    fresh = Holdout()
    fresh.load(tmp_path / "ckpt")
    assert torch.equal(fresh.sample(6, 5), gen.sample(6, 5))
    assert fresh.last_subject_ids() == gen.last_subject_ids()


def test_draw_indices_policy():
    assert sorted(draw_indices(5, 5, 0).tolist()) == [0, 1, 2, 3, 4]
    many = draw_indices(3, 300, 0)
    assert sorted(many[:3].tolist()) == [0, 1, 2]
    assert set(many.tolist()) == {0, 1, 2} and len(many) == 300
    assert len(draw_indices(3, 0, 0)) == 0
    with pytest.raises(DataError):
        draw_indices(0, 2, 0)


# ------------------------------------------------------------------------------------ memorizer
def test_memorizer_returns_exact_training_scans(splits, tmp_path):
    train, val, test = splits
    gen = Memorizer()
    gen.fit(train, FitContext(tmp_path, val=val))
    x = gen.sample(8, seed=0)
    idx = match(x, train)
    assert None not in idx and len(set(idx)) == 8
    assert match(x, val) == [None] * 8 and match(x, test) == [None] * 8
    assert torch.equal(x, gen.sample(8, seed=0))
    assert not torch.equal(x, gen.sample(8, seed=1))


def test_memorizer_max_pool_keeps_a_seeded_subset(splits, tmp_path):
    train, _, _ = splits
    a = registry.create("generators", "memorizer", {"max_pool": 3})
    a.fit(train, FitContext(tmp_path, seed=4))
    x = a.sample(12, seed=0)
    idx = match(x, train)
    assert None not in idx and len(set(idx)) == 3
    b = Memorizer(a.params)
    b.fit(train, FitContext(tmp_path, seed=4))
    assert torch.equal(b.sample(12, seed=0), x)
    a.save(tmp_path / "m")
    c = Memorizer(a.params)
    c.load(tmp_path / "m")
    assert torch.equal(c.sample(12, seed=0), x)


def test_memorizer_rejects_bad_max_pool():
    with pytest.raises(ConfigError, match="max_pool"):
        registry.create("generators", "memorizer", {"max_pool": 0})


# ------------------------------------------------------------------------------------ gaussian
def low_rank_cohort(n: int, k: int, seed: int) -> tuple[Cohort, np.ndarray]:
    """Scans = mean + k orthogonal modes with well separated variances (+ tiny isotropic noise),
    kept well inside (0, 1) so clipping does not act. Returns the cohort and its rows (N×V, float64)."""
    rng = np.random.default_rng(seed)
    v = int(np.prod(SHAPE))
    mean = 0.5 + 0.05 * rng.standard_normal(v)
    basis, _ = np.linalg.qr(rng.standard_normal((v, k)))
    sds = np.linspace(1.0, 0.4, k)  # along unit-norm directions: per-voxel sd ~ sd / sqrt(V)
    z = rng.standard_normal((n, k)) * sds
    rows = mean + z @ basis.T + 1e-4 * rng.standard_normal((n, v))
    data = torch.from_numpy(rows.astype(np.float32)).reshape(n, 1, *SHAPE)
    return Cohort(data, np.eye(4), [f"s{i}" for i in range(n)]), data.reshape(n, -1).double().numpy()


@pytest.mark.parametrize("exact", [False, True])
def test_gaussian_fit_matches_numpy_pca(exact, tmp_path):
    k = 4
    train, rows = low_rank_cohort(300, k, seed=0)  # N > 64: randomized path unless exact
    gen = registry.create("generators", "gaussian", {"rank": k, "exact": exact})
    gen.fit(train, FitContext(tmp_path, seed=0))
    # reference: numpy's full SVD of the centred data
    mean = rows.mean(0)
    _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
    np.testing.assert_allclose(gen._mean.numpy(), mean, atol=1e-5)
    np.testing.assert_allclose(gen._std.numpy(), s[:k] / np.sqrt(len(rows) - 1), rtol=1e-3)
    # same subspace, component by component (up to sign, fixed by the plugin)
    cos = np.abs(np.sum(gen._comps.double().numpy() * vt[:k], axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-3)


def test_gaussian_samples_reproduce_mean_and_covariance(tmp_path):
    k = 4
    train, rows = low_rank_cohort(200, k, seed=1)
    gen = GaussianPCA(GaussianPCA.Params(rank=k))
    gen.fit(train, FitContext(tmp_path, seed=0))
    x = gen.sample(4000, seed=3)
    assert x.shape == (4000, 1, *SHAPE) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    xs = x.reshape(4000, -1).double().numpy()
    mean = rows.mean(0)
    _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
    # sample mean: sd of the estimate per voxel is tiny (per-voxel sd ~ 0.05 / sqrt(4000))
    assert np.abs(xs.mean(0) - mean).max() < 5e-3
    # variance along each training component matches within sampling error (~sqrt(2/4000) = 2%)
    proj = (xs - xs.mean(0)) @ vt[:k].T
    np.testing.assert_allclose(proj.var(0, ddof=1), s[:k] ** 2 / (len(rows) - 1), rtol=0.08)
    # the components are uncorrelated, and there is no variance outside the top-k subspace
    c = np.corrcoef(proj.T)
    assert np.abs(c - np.eye(k)).max() < 0.06
    resid = (xs - xs.mean(0)) - proj @ vt[:k]
    assert resid.var() < 1e-4 * xs.var(0).mean()  # float32 rounding only


def test_gaussian_rank_capped_clipping_and_save_load(tmp_path):
    rng = np.random.default_rng(0)
    data = torch.from_numpy((rng.random((5, 1, *SHAPE)) > 0.5).astype(np.float32))  # 0/1 voxels: clipping acts
    train = Cohort(data, np.eye(4), [str(i) for i in range(5)])
    gen = GaussianPCA(GaussianPCA.Params(rank=16, temperature=2.0))
    gen.fit(train, FitContext(tmp_path))
    assert gen.sampler_info()["rank"] == 4  # n - 1
    x = gen.sample(50, seed=0)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    gen.save(tmp_path / "g")
    fresh = GaussianPCA(gen.params)
    fresh.load(tmp_path / "g")
    assert torch.equal(fresh.sample(7, 9), gen.sample(7, 9))
    assert not torch.equal(gen.sample(7, 9), gen.sample(7, 10))


def test_gaussian_single_scan_gives_its_mean(tmp_path):
    train = cohort(1, 0, "one")
    gen = GaussianPCA()
    gen.fit(train, FitContext(tmp_path))
    assert torch.equal(gen.sample(2, 0), train.data.expand(2, -1, -1, -1, -1))


@pytest.mark.parametrize("params, key", [({"rank": 0}, "rank"), ({"temperature": -1.0}, "temperature")])
def test_gaussian_bad_params(params, key):
    with pytest.raises(ConfigError, match=key):
        registry.create("generators", "gaussian", params)


# ------------------------------------------------------------------------------------ noise
def test_noise_uniform_is_uniform_on_01(splits, tmp_path):
    gen = registry.create("generators", "noise")
    gen.fit(splits[0], FitContext(tmp_path))
    x = gen.sample(20, seed=0)
    assert x.shape == (20, 1, *SHAPE) and x.dtype == torch.float32
    v = x.flatten().double().numpy()
    assert stats.kstest(v[:5000], "uniform").pvalue > 1e-3
    assert abs(v.mean() - 0.5) < 0.01 and abs(v.var() - 1 / 12) < 0.005
    assert torch.equal(x, gen.sample(20, seed=0)) and not torch.equal(x, gen.sample(20, seed=1))


def test_noise_gaussian_clipped(splits, tmp_path):
    gen = registry.create("generators", "noise", {"distribution": "gaussian", "mean": 0.3, "std": 0.1})
    gen.fit(splits[0], FitContext(tmp_path))
    v = gen.sample(20, seed=0).flatten().double().numpy()
    assert v.min() >= 0.0 and v.max() <= 1.0
    assert abs(v.mean() - 0.3) < 0.01 and abs(v.std() - 0.1) < 0.01
    gen.save(tmp_path / "n")
    fresh = Noise(gen.params)
    fresh.load(tmp_path / "n")
    assert torch.equal(fresh.sample(3, 4), gen.sample(3, 4))


def test_noise_bad_distribution_names_choices():
    with pytest.raises(ConfigError, match="uniform"):
        registry.create("generators", "noise", {"distribution": "laplace"})


def test_sampling_before_fit_is_a_clear_error():
    for cls in (Holdout, Memorizer, GaussianPCA, Noise):
        with pytest.raises(DataError, match="not fitted"):
            cls().sample(2, 0)


def test_load_from_empty_folder_is_a_clear_error(tmp_path):
    for cls in (Holdout, Memorizer, GaussianPCA, Noise):
        with pytest.raises(DataError, match=str(tmp_path)):
            cls().load(tmp_path)
