"""The metric sanity suite's expected directions, on controlled degradations of held-out scans.

More noise or blur -> worse MMD and Fréchet (FRD) scores; an intensity shift -> worse; mode collapse ->
higher MS-SSIM and lower recall / coverage; copies of training scans -> memorization flags them.
"""

import numpy as np
import pytest
from benchgen_baselines.degraded import Degraded, degrade, degrade_set

from benchgen import registry
from benchgen.interfaces import FitContext, MetricContext

from .conftest import cohort, make_brains

N = 24


@pytest.fixture(scope="module")
def data():
    return {"train": make_brains(30, seed=100), "val": make_brains(N, seed=101), "test": make_brains(N, seed=102)}


@pytest.fixture(scope="module")
def scores(data, tmp_path_factory):
    ctx = MetricContext(seed=0, cache_dir=tmp_path_factory.mktemp("features"), real_fingerprint="test-set")
    real, train = cohort(data["test"], "test"), cohort(data["train"], "train")
    metrics = {"mmd": registry.create("metrics", "mmd", {"bootstrap": 0}),
               "frd": registry.create("metrics", "fid", {"bootstrap": 0}),
               "ms-ssim": registry.create("metrics", "ms-ssim", {"kernel_size": 3, "scales": 3, "bootstrap": 0}),
               "prdc": registry.create("metrics", "prdc", {"k": 5, "bootstrap": 0}),
               "memorization": registry.create("metrics", "memorization", {"bootstrap": 0})}
    variants = {"none": ("none", 0.0), "noise-low": ("noise", 0.02), "noise-mid": ("noise", 0.05),
                "noise-high": ("noise", 0.1), "blur-low": ("blur", 0.5), "blur-mid": ("blur", 1.0),
                "blur-high": ("blur", 2.0), "shift": ("shift", 0.1), "collapse": ("collapse", 0.0),
                "copies": ("copies", 0.0)}
    out = {}
    for label, (kind, level) in variants.items():
        src = data["train"] if kind == "copies" else data["val"]
        syn = cohort(degrade_set(src, kind, level, N, seed=0), label)
        row = {}
        for name, m in metrics.items():
            res = m.score(syn, real, train, ctx)
            if isinstance(res, dict):
                row.update({f"{name}.{k}": r.value for k, r in res.items()})
            else:
                row[name] = res.value
        out[label] = row
    return out


@pytest.mark.parametrize("metric", ["mmd", "frd"])
@pytest.mark.parametrize("family", ["noise", "blur"])
def test_more_degradation_is_worse(scores, metric, family):
    seq = [scores[k][metric] for k in ("none", f"{family}-low", f"{family}-mid", f"{family}-high")]
    assert all(a < b for a, b in zip(seq, seq[1:])), seq


def test_shift_is_worse(scores):
    assert scores["shift"]["mmd"] > scores["none"]["mmd"] + 1.0
    assert scores["shift"]["frd"] > 2 * scores["none"]["frd"]


def test_collapse_raises_msssim_and_lowers_recall_and_coverage(scores):
    assert scores["collapse"]["ms-ssim"] > scores["none"]["ms-ssim"] + 0.2
    assert scores["collapse"]["prdc.recall"] < scores["none"]["prdc.recall"]
    assert scores["collapse"]["prdc.coverage"] < scores["none"]["prdc.coverage"]


def test_copies_are_flagged_and_holdout_is_not(scores):
    assert scores["copies"]["memorization"] == 1.0
    assert scores["none"]["memorization"] <= 0.15


def test_degrade_functions():
    rng = np.random.default_rng(0)
    v = make_brains(1, seed=0)[0]
    assert np.array_equal(degrade(v, "none", 0.3, rng), v)
    noisy = degrade(v, "noise", 0.1, rng)
    assert noisy.min() >= 0 and noisy.max() <= 1 and 0.03 < np.abs(noisy - v).mean() < 0.1
    blurred = degrade(v, "blur", 1.0, rng)
    assert np.abs(np.diff(blurred, axis=0)).mean() < np.abs(np.diff(v, axis=0)).mean()
    shifted = degrade(v, "shift", 0.1, rng)
    assert np.array_equal(shifted[v == 0], v[v == 0]) and shifted[v > 0].mean() > v[v > 0].mean() + 0.05
    coll = degrade_set(make_brains(5), "collapse", 0.0, 4, seed=1)
    assert all(np.array_equal(coll[0], c) for c in coll)
    a, b = degrade_set(make_brains(5), "noise", 0.1, 7, 3), degrade_set(make_brains(5), "noise", 0.1, 7, 3)
    assert np.array_equal(a, b) and a.shape == (7, 16, 24, 16)


def test_generator_fit_sample_save_load(tmp_path):
    train, val = cohort(make_brains(6, seed=1)), cohort(make_brains(4, seed=2))
    g = registry.create("generators", "degraded", {"kind": "copies", "level": 0.0})
    g.fit(train, FitContext(workdir=tmp_path, val=val))
    s = g.sample(3, seed=0)
    assert s.shape == (3, 1, 16, 24, 16) and any(np.array_equal(s[0, 0].numpy(), t) for t in train.numpy())
    g.save(tmp_path / "ckpt")
    h = Degraded(Degraded.Params(kind="copies"))
    h.load(tmp_path / "ckpt")
    assert np.array_equal(h.sample(3, seed=0).numpy(), s.numpy())
    v = registry.create("generators", "degraded", {"kind": "blur", "level": 1.0})
    v.fit(train, FitContext(workdir=tmp_path, val=val))
    assert not any(np.array_equal(v.sample(2, 0)[0, 0].numpy(), t) for t in train.numpy())
